"""Tests of execo.action's local parts (Action, Local, ParallelActions,
SequentialActions, ActionLifecycleHandler, wait_any_actions,
wait_all_actions, filter_bad_hosts), written from the API spec, with real
local processes (no mocks)."""

import re
import sys
import threading
import time

import pytest

from execo.action import (
    Action,
    ActionLifecycleHandler,
    Local,
    ParallelActions,
    SequentialActions,
    filter_bad_hosts,
    wait_all_actions,
    wait_any_actions,
)
from execo.config import configuration
from execo.handlers import STDERR
from execo.host import Host
from execo.process import Process
from execo.report import Report

PY = sys.executable
SH = {"shell": True}


def sh(cmd, **kwargs):
    return Local(cmd, process_args=dict(SH, **kwargs.pop("process_args", {})), **kwargs)


def bounded(action, timeout=20):
    action.wait(timeout)
    if not action.ended:
        action.kill()
        pytest.fail("action did not end within %ss: %s" % (timeout, action))
    return action


class CountingLH(ActionLifecycleHandler):
    def __init__(self):
        self.calls = []
        self.threads = []
        self.lock = threading.Lock()

    def start(self, action):
        with self.lock:
            self.calls.append(("start", action))

    def end(self, action):
        with self.lock:
            self.calls.append(("end", action, action.ended))
            self.threads.append(threading.current_thread())

    def reset(self, action):
        with self.lock:
            self.calls.append(("reset", action))

    def count(self, what):
        return sum(1 for c in self.calls if c[0] == what)


# ------------------------------------------------------------------ Local


def test_local_run_basic_attributes():
    a = sh("echo hello; echo err >&2")
    assert isinstance(a, Action)
    assert a.started is False and a.ended is False
    assert a.cmd == "echo hello; echo err >&2"
    assert a.process_args == {"shell": True}
    assert len(a.processes) == 1 and isinstance(a.processes[0], Process)
    assert a.processes[0].shell is True
    assert a.ok is True  # not started yet: ok
    assert a.finished_ok is False
    assert a.run() is a
    assert a.started and a.ended
    assert a.ok and a.finished_ok
    p = a.processes[0]
    assert p.stdout == "hello\n" and p.stderr == "err\n"
    assert p.exit_code == 0


def test_local_default_name_and_custom_name():
    a = Local("sleep 0")
    assert isinstance(a.name, str) and "sleep" in a.name
    b = Local("sleep 0", name="my action")
    assert b.name == "my action"
    b.name = "renamed"
    assert b.name == "renamed"
    assert repr(a).startswith("Local(")
    assert "sleep 0" in str(a)


def test_local_process_args_passed():
    a = Local([PY, "-c", "import sys; sys.exit(3)"], process_args={"ignore_exit_code": True})
    a.run()
    assert a.processes[0].exit_code == 3
    assert a.processes[0].ignore_exit_code is True
    assert a.ok and a.finished_ok


def test_local_failure_not_ok():
    a = Local("false", process_args={"nolog_exit_code": True}).run()
    assert a.ended and not a.ok and not a.finished_ok
    st = a.stats()
    assert st["num_processes"] == 1 and st["num_non_zero_exit_codes"] == 1 and st["num_ok"] == 0


def test_local_exec_error_ends_action():
    a = Local("/nonexistent/command/xyz", process_args={"nolog_error": True})
    a.start()
    bounded(a, 10)
    assert a.ended and not a.ok
    assert a.processes[0].error


def test_start_twice_raises_and_wait_unstarted_raises():
    a = Local("true")
    with pytest.raises(ValueError):
        a.wait()
    a.run()
    with pytest.raises(ValueError):
        a.start()


def test_start_returns_self_and_wait_timeout():
    a = Local("sleep 5")
    assert a.start() is a
    t0 = time.monotonic()
    assert a.wait(timeout=0.3) is a
    elapsed = time.monotonic() - t0
    assert 0.25 <= elapsed < 3
    assert a.started and not a.ended
    assert a.kill() is a
    bounded(a, 10)
    assert a.ended
    assert a.processes[0].killed
    # a killed process counts as ok (killed by us)
    assert a.ok


def test_run_timeout_returns_unended():
    a = Local("sleep 5")
    t0 = time.monotonic()
    a.run(timeout=0.3)
    assert time.monotonic() - t0 < 3
    assert not a.ended
    a.kill()
    bounded(a)


def test_wait_wakes_promptly_with_long_intr_period():
    old = configuration["intr_period"]
    configuration["intr_period"] = 30
    try:
        a = Local("sleep 0.2").start()
        t0 = time.monotonic()
        a.wait(timeout=20)
        assert a.ended
        assert time.monotonic() - t0 < 5
    finally:
        configuration["intr_period"] = old


def test_expect_wakes_promptly_with_long_intr_period():
    """An expect over several processes blocks (nothing it can serve):
    the last match wakes it, it does not wait for the next slice."""
    old = configuration["intr_period"]
    configuration["intr_period"] = 30
    code = "import time; time.sleep(%s); print('tick', flush=True); time.sleep(30)"
    pa = ParallelActions([Local([PY, "-u", "-c", code % d]) for d in (0.3, 0.6)])
    try:
        with pa.start():
            t0 = time.monotonic()
            res = pa.expect("tick", timeout=20)
            assert time.monotonic() - t0 < 5
            assert [r[1] for r in res] == [0, 0]
        bounded(pa)
    finally:
        configuration["intr_period"] = old


def test_context_manager_kills():
    with Local("sleep 30").start() as a:
        assert a.started and not a.ended
    bounded(a, 10)
    assert a.ended and a.processes[0].killed


def test_reset_and_restart():
    lh = CountingLH()
    a = sh("echo run", lifecycle_handlers=[lh])
    a.run()
    first_pid = a.processes[0].pid
    assert a.reset() is a
    assert not a.started and not a.ended
    assert a.processes[0].stdout == ""
    a.run()
    assert a.ended and a.ok
    assert a.processes[0].stdout == "run\n"
    assert a.processes[0].pid != first_pid
    assert lh.count("start") == 2 and lh.count("end") == 2 and lh.count("reset") == 1


def test_reset_running_kills_then_waits():
    a = Local("sleep 30").start()
    t0 = time.monotonic()
    a.reset()
    assert time.monotonic() - t0 < 10
    assert not a.started and not a.ended
    assert not a.processes[0].started


def test_lifecycle_handlers_counts_and_end_once():
    lh = CountingLH()
    a = ParallelActions([Local("sleep 0.%i" % i) for i in range(1, 4)], lifecycle_handlers=[lh])
    assert a.lifecycle_handlers == [lh]
    a.run()
    assert lh.count("start") == 1
    assert lh.count("end") == 1
    assert lh.count("reset") == 0
    # ended is already True when end() is called
    assert [c for c in lh.calls if c[0] == "end"][0][2] is True
    assert lh.calls[0][0] == "start" and lh.calls[1][0] == "end"


def test_lifecycle_handler_added_after_construction_and_exception_is_logged():
    class Bad(ActionLifecycleHandler):
        def end(self, action):
            raise RuntimeError("boom in handler")

    lh = CountingLH()
    a = Local("true")
    a.lifecycle_handlers.append(Bad())
    a.lifecycle_handlers.append(lh)
    a.run(timeout=20)
    assert a.ended
    assert lh.count("end") == 1


def test_lifecycle_handler_base_class_noops():
    h = ActionLifecycleHandler()
    a = Local("true")
    assert h.start(a) is None and h.end(a) is None and h.reset(a) is None


def test_end_handler_called_from_ending_thread():
    lh = CountingLH()
    Local("sleep 0.1", lifecycle_handlers=[lh]).run()
    assert lh.count("end") == 1
    assert lh.threads[0] is not threading.current_thread()


def test_default_expect_timeout_and_expect_on_local():
    a = Local(
        [PY, "-u", "-c", "import time; print('ready 42', flush=True); time.sleep(30)"],
        default_expect_timeout=0.5,
        process_args={"nolog_expect_fail": True},
    )
    assert a.default_expect_timeout == 0.5
    with a.start():
        res = a.expect(r"ready (\d+)", timeout=20)
        assert len(res) == 1
        p, idx, mo = res[0]
        assert p is a.processes[0] and idx == 0 and mo.group(1) == "42"
        t0 = time.monotonic()
        res = a.expect("never printed")  # default_expect_timeout
        assert time.monotonic() - t0 < 5
        assert res == [(a.processes[0], None, None)]
        assert a.processes[0].expect_fail
        assert not a.ok
    bounded(a)


def test_expect_list_of_regexes_and_stderr():
    a = Local([PY, "-c", "import sys; sys.stderr.write('beta\\n')"])
    a.run()
    res = a.expect(["alpha", re.compile("b(e)ta")], stream=STDERR, timeout=5)
    assert res[0][1] == 1 and res[0][2].group(1) == "e"


def test_expect_eof_no_match():
    a = Local("true", process_args={"nolog_expect_fail": True}).run()
    t0 = time.monotonic()
    res = a.expect("x", timeout=None)  # eof: returns at once
    assert time.monotonic() - t0 < 5
    assert res == [(a.processes[0], None, None)]


def test_expect_over_parallel_actions_in_processes_order():
    # the last process answers first: results still in processes order
    code = "import time, sys; time.sleep(%s); print('tick %s', flush=True); time.sleep(30)"
    subs = [Local([PY, "-u", "-c", code % (d, i)]) for i, d in enumerate((0.6, 0.3, 0.0))]
    pa = ParallelActions(subs)
    with pa.start():
        res = pa.expect(r"tick (\d)", timeout=20)
        assert [r[0] for r in res] == pa.processes
        assert [r[2].group(1) for r in res] == ["0", "1", "2"]
        assert all(r[1] == 0 for r in res)
    bounded(pa)


def test_expect_partial_timeout():
    a = ParallelActions(
        [
            Local([PY, "-u", "-c", "print('yes', flush=True); import time; time.sleep(30)"]),
            Local("sleep 30", process_args={"nolog_expect_fail": True}),
        ]
    )
    with a.start():
        t0 = time.monotonic()
        res = a.expect("yes", timeout=0.5)
        assert time.monotonic() - t0 < 5
        assert res[0][1] == 0 and res[0][2].group(0) == "yes"
        assert res[1] == (a.processes[1], None, None)
        assert a.processes[1].expect_fail and not a.processes[0].expect_fail
    bounded(a)


def test_expect_bad_stream():
    with pytest.raises(ValueError):
        Local("true").expect("x", stream=7)


def test_write_to_stdin():
    a = Local("cat")
    with a.start():
        a.write("line one\n")
        print("line two", file=a)
        res = a.expect("line two", timeout=20)
        assert res[0][1] == 0
        a.processes[0].close_stdin()
        bounded(a)
    assert a.processes[0].stdout == "line one\nline two\n"


def test_write_to_all_processes_of_parallel_actions():
    pa = ParallelActions([Local("cat"), Local("cat")])
    pa.start()
    pa.write("hello all\n")
    for p in pa.processes:
        p.close_stdin()
    bounded(pa)
    assert [p.stdout for p in pa.processes] == ["hello all\n"] * 2


def test_kill_running_action():
    a = sh("sleep 30; echo not reached")
    a.start()
    time.sleep(0.2)
    t0 = time.monotonic()
    a.kill()
    bounded(a, 15)
    assert time.monotonic() - t0 < 10
    assert a.ended and a.processes[0].killed
    assert "not reached" not in a.processes[0].stdout


def test_stats_and_report():
    a = Local("true", name="the local").run()
    st = a.stats()
    for key in Report.empty_stats():
        assert key in st
    assert st["num_processes"] == 1 and st["num_ended"] == 1 and st["num_finished_ok"] == 1
    assert st["start_date"] is not None and st["end_date"] >= st["start_date"]
    text = Report(a).to_string()
    assert "the local" in text and "Total" in text
    # as in execo 2.8.2: the action's name; its processes counted, not listed
    assert st["name"] == "the local" and st["sub_stats"] == []


def test_container_stats_tree():
    """ParallelActions / SequentialActions list their sub-actions' stats in
    sub_stats (as in execo 2.8.2), not when hide_subactions."""
    import json

    inner = ParallelActions(
        [Local("true", name="leaf-a"), Local("false", name="leaf-b", process_args={"nolog_exit_code": True})],
        name="inner-par",
    )
    outer = SequentialActions([Local("true", name="first-step"), inner], name="outer-seq")
    outer.run(timeout=20)
    st = outer.stats()
    assert st["name"] == "outer-seq"
    assert [s["name"] for s in st["sub_stats"]] == ["first-step", "inner-par"]
    assert [s["name"] for s in st["sub_stats"][1]["sub_stats"]] == ["leaf-a", "leaf-b"]
    assert st["sub_stats"][1]["sub_stats"][1]["num_non_zero_exit_codes"] == 1
    assert st["num_processes"] == 3 and st["num_ok"] == 2
    report_stats = Report(outer).stats()
    assert report_stats["sub_stats"] == [st]
    assert json.loads(json.dumps(report_stats)) == report_stats
    inner.hide_subactions = True
    st = outer.stats()
    assert st["sub_stats"][1]["sub_stats"] == [] and st["sub_stats"][1]["num_processes"] == 2


# -------------------------------------------------------- ParallelActions


def test_parallel_actions_run_in_parallel():
    subs = [Local("sleep 0.5") for _ in range(4)]
    pa = ParallelActions(subs)
    assert pa.actions == subs
    assert pa.hide_subactions is False
    assert len(pa.processes) == 4
    assert pa.processes == [s.processes[0] for s in subs]
    t0 = time.monotonic()
    pa.run(timeout=20)
    elapsed = time.monotonic() - t0
    assert pa.ended and all(s.ended for s in subs)
    assert elapsed < 1.9  # sequential would be >= 2s
    starts = [s.processes[0].start_date for s in subs]
    ends = [s.processes[0].end_date for s in subs]
    assert max(starts) < min(ends)  # all were running at once
    assert pa.ok and pa.finished_ok
    st = pa.stats()
    assert st["num_processes"] == 4 and st["num_finished_ok"] == 4


def test_parallel_actions_ends_with_last_subaction():
    fast, slow = Local("true"), Local("sleep 0.6")
    pa = ParallelActions([fast, slow]).start()
    bounded(fast, 10)
    assert not pa.ended
    bounded(pa)
    assert slow.ended and pa.ended


def test_parallel_actions_ok_reflects_subactions():
    pa = ParallelActions([Local("true"), Local("false", process_args={"nolog_exit_code": True})]).run()
    assert pa.ended and not pa.ok and not pa.finished_ok


def test_parallel_actions_empty_ends_at_once():
    lh = CountingLH()
    pa = ParallelActions([], lifecycle_handlers=[lh])
    pa.start()
    assert pa.ended and pa.ok and pa.finished_ok
    assert lh.count("end") == 1
    assert pa.stats()["num_processes"] == 0


def test_parallel_actions_kill():
    pa = ParallelActions([Local("sleep 30"), Local("sleep 30")]).start()
    time.sleep(0.1)
    pa.kill()
    bounded(pa, 15)
    assert all(p.killed for p in pa.processes)


def test_parallel_actions_reset():
    lh_sub = CountingLH()
    subs = [sh("echo a", lifecycle_handlers=[lh_sub]), sh("echo b")]
    pa = ParallelActions(subs).run()
    pa.reset()
    assert not pa.started and not pa.ended
    assert not any(s.started for s in subs)
    assert lh_sub.count("reset") == 1
    pa.run(timeout=20)
    assert pa.ended and [p.stdout for p in pa.processes] == ["a\n", "b\n"]


def test_processes_of_container_not_settable():
    pa = ParallelActions([Local("true")])
    with pytest.raises(AttributeError):
        pa.processes = []


# ------------------------------------------------------ SequentialActions


def test_sequential_actions_order():
    subs = [Local("sleep 0.3"), Local("sleep 0.3"), Local("sleep 0.1")]
    sa = SequentialActions(subs)
    assert sa.hide_subactions is False
    assert sa.actions == subs
    sa.start()
    # only the first one is running at first
    assert subs[0].started and not subs[1].started and not subs[2].started
    bounded(sa)
    assert sa.ok and sa.finished_ok
    ps = [s.processes[0] for s in subs]
    starts = [p.start_date for p in ps]
    assert starts == sorted(starts)
    for prev, nxt in zip(ps, ps[1:]):
        assert nxt.start_date >= prev.end_date
    assert sa.stats()["num_finished_ok"] == 3


def test_sequential_actions_continues_after_failure():
    subs = [Local("false", process_args={"nolog_exit_code": True}), sh("echo second")]
    sa = SequentialActions(subs).run(timeout=20)
    assert sa.ended and subs[1].ended
    assert subs[1].processes[0].stdout == "second\n"
    assert not sa.ok


def test_sequential_actions_handler_counts():
    lh = CountingLH()
    sub_lhs = [CountingLH() for _ in range(3)]
    subs = [Local("true", lifecycle_handlers=[h]) for h in sub_lhs]
    sa = SequentialActions(subs, lifecycle_handlers=[lh]).run(timeout=20)
    assert sa.ended
    assert (lh.count("start"), lh.count("end")) == (1, 1)
    assert [(h.count("start"), h.count("end")) for h in sub_lhs] == [(1, 1)] * 3
    # the sequence ends after its last sub-action
    assert subs[-1].ended


def test_sequential_many_failing_subactions_no_recursion_error():
    n = 400
    subs = [Local("/nonexistent/xyz", process_args={"nolog_error": True}) for _ in range(n)]
    sa = SequentialActions(subs).run(timeout=60)
    assert sa.ended
    assert all(s.ended for s in subs)


def test_sequential_kill_stops_the_sequence():
    subs = [Local("sleep 30"), sh("echo should not run")]
    sa = SequentialActions(subs).start()
    time.sleep(0.2)
    sa.kill()
    bounded(sa, 15)
    assert subs[0].ended and subs[0].processes[0].killed
    assert not subs[1].started


def test_sequential_empty_and_reset():
    sa = SequentialActions([]).run(timeout=5)
    assert sa.ended
    subs = [sh("echo 1"), sh("echo 2")]
    sa = SequentialActions(subs).run(timeout=20)
    sa.reset()
    assert not sa.started and not any(s.started for s in subs)
    sa.run(timeout=20)
    assert sa.ended and [p.stdout for p in sa.processes] == ["1\n", "2\n"]


def test_nested_sequential_in_parallel():
    seq = SequentialActions([Local("sleep 0.2"), Local("sleep 0.2")])
    par = ParallelActions([seq, Local("sleep 0.1")])
    t0 = time.monotonic()
    par.run(timeout=20)
    assert par.ended and seq.ended
    assert time.monotonic() - t0 >= 0.35
    assert len(par.processes) == 3


# ------------------------------------------------------------- Report


def test_report_nested_actions():
    inner = ParallelActions([Local("true", name="inner-one"), Local("true", name="inner-two")], name="inner-par")
    outer = SequentialActions([Local("true", name="first-step"), inner], name="outer-seq")
    outer.run(timeout=20)
    r = Report([outer])
    text = r.to_string()
    assert "outer-seq" in text
    assert r.stats()["num_processes"] == 3
    assert r.stats()["num_finished_ok"] == 3
    # every process appears indented under the action
    assert text.count("\n  true") >= 1 or "inner-one" in text
    # wide and brief work too
    assert "outer-seq" in r.to_string(wide=True)
    assert "outer-seq" not in r.to_string(brief=True)


def test_report_shows_subactions_unless_hidden():
    """Report nests the sub-actions of a container: visible by default,
    hidden with hide_subactions."""
    inner = ParallelActions([Local("true", name="leaf-a"), Local("true", name="leaf-b")], name="inner-par")
    outer = SequentialActions([Local("true", name="first-step"), inner], name="outer-seq")
    outer.run(timeout=20)
    text = Report(outer).to_string()
    lines = text.splitlines()
    names = [l.strip().split("  ")[0] for l in lines]
    assert "inner-par" in names and "first-step" in names
    assert "leaf-a" in names and "leaf-b" in names
    indent = {l.strip().split("  ")[0]: len(l) - len(l.lstrip()) for l in lines if l.strip()}
    assert indent["outer-seq"] < indent["inner-par"] < indent["leaf-a"]
    outer.hide_subactions = True
    text = Report(outer).to_string()
    assert "inner-par" not in text and "first-step" not in text
    assert Report(outer).stats()["num_processes"] == 3
    # hiding does not change the totals
    assert outer.stats()["num_finished_ok"] == 3


# ---------------------------------------------------- wait_any / wait_all


def test_wait_any_fast_and_slow():
    fast = Local("sleep 0.1")
    slow = Local("sleep 3")
    fast.start()
    slow.start()
    try:
        t0 = time.monotonic()
        ended = wait_any_actions([slow, fast], timeout=20)
        assert time.monotonic() - t0 < 2.5
        assert ended == [fast]
        assert not slow.ended
    finally:
        slow.kill()
    bounded(slow)


def test_wait_any_timeout_returns_empty():
    a = Local("sleep 30").start()
    try:
        t0 = time.monotonic()
        assert wait_any_actions([a], timeout=0.3) == []
        assert 0.25 <= time.monotonic() - t0 < 3
    finally:
        a.kill()
    bounded(a)


def test_wait_any_already_ended():
    a = Local("true").run()
    b = Local("sleep 30").start()
    try:
        assert wait_any_actions([a, b], timeout=0) == [a]
    finally:
        b.kill()
    bounded(b)


def test_wait_all_actions():
    acts = [Local("sleep 0.%i" % i) for i in (1, 3, 2)]
    for a in acts:
        a.start()
    ended = wait_all_actions(acts, timeout=20)
    assert ended == acts
    assert all(a.ended for a in acts)


def test_wait_all_actions_timeout():
    fast = Local("true").start()
    slow = Local("sleep 30").start()
    try:
        t0 = time.monotonic()
        ended = wait_all_actions([fast, slow], timeout=0.5)
        assert 0.45 <= time.monotonic() - t0 < 3
        assert ended == [fast]
    finally:
        slow.kill()
    bounded(slow)


def test_wait_any_many_threads_no_thread_per_action():
    acts = [Local("sleep 0.%i" % (i % 5 + 1)) for i in range(30)]
    before = threading.active_count()
    for a in acts:
        a.start()
    results = []

    def waiter():
        results.append(wait_all_actions(acts, timeout=20))

    threads = [threading.Thread(target=waiter) for _ in range(3)]
    for t in threads:
        t.start()
    time.sleep(0.05)
    # only our 3 waiter threads were added
    assert threading.active_count() <= before + 3
    for t in threads:
        t.join(30)
    assert len(results) == 3 and all(r == acts for r in results)


def test_wait_any_actions_with_composite():
    seq = SequentialActions([Local("sleep 0.2"), Local("sleep 0.2")])
    loc = Local("sleep 5")
    seq.start()
    loc.start()
    try:
        assert wait_any_actions([loc, seq], timeout=20) == [seq]
    finally:
        loc.kill()
    bounded(loc)


# ---------------------------------------------------- filter_bad_hosts


class _HostProcess(Process):
    """A local process pretending to run on a host (as a Remote's)."""

    def __init__(self, cmd, host, **kwargs):
        super(_HostProcess, self).__init__(cmd, **kwargs)
        self.host = host


class _FakeRemote(Action):
    def __init__(self, cmds_by_host, **kwargs):
        super(_FakeRemote, self).__init__(**kwargs)
        self.processes = [_HostProcess(cmd, host, nolog_exit_code=True) for host, cmd in cmds_by_host]


def test_filter_bad_hosts():
    ha, hb, hc = Host("a"), Host("b"), Host("c")
    r = _FakeRemote([(ha, "true"), (hb, "false"), (hc, "true")]).run(timeout=20)
    assert r.ended and not r.ok
    assert filter_bad_hosts(r, [ha, hb, hc]) == [ha, hc]
    assert filter_bad_hosts(r, ["a", "b", "c", "d"]) == ["a", "c", "d"]
    assert filter_bad_hosts(r, (h for h in [hb])) == []
    assert isinstance(filter_bad_hosts(r, (ha,)), list)


def test_filter_bad_hosts_compares_hosts_by_all_fields():
    # same address, other port: a different host, not dropped; an
    # address string is dropped when any failed host has that address
    good, bad = Host("n1", port=22), Host("n1", port=1)
    r = _FakeRemote([(good, "true"), (bad, "false")]).run(timeout=20)
    assert filter_bad_hosts(r, [good, bad]) == [good]
    assert filter_bad_hosts(r, [Host("n1", port=22, user="u")]) == [Host("n1", port=22, user="u")]
    assert filter_bad_hosts(r, ["n1", "n2"]) == ["n2"]


def test_filter_bad_hosts_all_ok_and_local():
    r = _FakeRemote([(Host("x"), "true")]).run(timeout=20)
    assert filter_bad_hosts(r, ["x", Host("y")]) == ["x", Host("y")]
    loc = Local("false", process_args={"nolog_exit_code": True}).run()
    assert filter_bad_hosts(loc, ["x"]) == ["x"]  # local processes have no host


def test_custom_action_with_processes_setter_counts_ends():
    r = _FakeRemote([(Host("h%i" % i), "sleep 0.%i" % (i % 3)) for i in range(20)])
    lh = CountingLH()
    r.lifecycle_handlers.append(lh)
    r.run(timeout=20)
    assert r.ended and all(p.ended for p in r.processes)
    assert lh.count("end") == 1
    assert r.stats()["num_finished_ok"] == 20


def test_sequential_actions_end_when_a_sub_action_cannot_start():
    class Unstartable(Action):
        def _start_children(self):
            raise RuntimeError("boom")

    first, bad, never = Local("true"), Unstartable(), Local("true")
    s = SequentialActions([first, bad, never]).start()
    s.wait(10)
    assert s.ended
    assert first.ended and first.ok
    assert not never.started


def test_lifecycle_handler_shared_by_actions_is_called_one_at_a_time():
    # the ends of 4 actions reach their handler threads together; one
    # handler object shared by them (a table of results) is called by
    # one at a time, each end lingering past handler_threads.STALL_SECONDS
    state = {"inside": 0, "overlaps": 0, "ends": []}

    class Table(ActionLifecycleHandler):
        def end(self, action):
            state["inside"] += 1
            state["overlaps"] += state["inside"] > 1
            time.sleep(0.15)
            state["ends"].append(action)
            state["inside"] -= 1

    h = Table()
    actions = [sh("true", lifecycle_handlers=[h]) for _ in range(4)]
    for a in actions:
        a.start()
    for a in actions:
        bounded(a)
    assert sorted(map(id, state["ends"])) == sorted(map(id, actions))
    assert state["overlaps"] == 0
