"""Tests of ExpectOutputHandler and ProcessBase.expect, written from the API
spec, with real processes."""

import logging
import os
import re
import sys
import threading
import time

import pytest
from helpers import finish

from execo.process import STDERR, STDOUT, ExpectOutputHandler, Process, ProcessOutputHandler

PY = sys.executable


def bounded(fn, timeout=15):
    """Run fn() in a thread; fail if it does not return within timeout."""
    res = []

    def target():
        try:
            res.append(("ok", fn()))
        except BaseException as e:  # pragma: no cover - reported below
            res.append(("exc", e))

    t = threading.Thread(target=target, daemon=True)
    t.start()
    t.join(timeout)
    if t.is_alive():
        pytest.fail("call did not return within %ss" % timeout)
    kind, val = res[0]
    if kind == "exc":
        raise val
    return val


class Cat(object):
    """A running `cat` process, killed at the end of the with block."""

    def __init__(self, **kw):
        self.p = Process("cat", **kw)

    def __enter__(self):
        return self.p.start()

    def __exit__(self, *a):
        self.p.kill()
        finish(self.p)
        return False


class Recorder(object):
    def __init__(self):
        self.calls = []
        self.cond = threading.Condition()

    def __call__(self, process, stream, re_index, mo):
        with self.cond:
            self.calls.append((process, stream, re_index, mo))
            self.cond.notify_all()

    def wait_n(self, n, timeout=10):
        with self.cond:
            return self.cond.wait_for(lambda: len(self.calls) >= n, timeout)


# ====================================================== ExpectOutputHandler


def test_handler_is_output_handler():
    assert issubclass(ExpectOutputHandler, ProcessOutputHandler)


def test_handler_callback_args_and_regex_list_index():
    rec = Recorder()
    h = ExpectOutputHandler()
    h.expect(["nomatch", r"val=(\d+)"], callback=rec)
    p = Process(("sh", "-c", "echo val=42"), stdout_handlers=[h])
    finish(p.run(10))
    assert rec.wait_n(1)
    proc, stream, idx, mo = rec.calls[0]
    assert proc is p
    assert stream == STDOUT
    assert idx == 1
    assert mo.group(1) == "42"
    assert len(rec.calls) == 1  # one expect, one notification


def test_handler_eof_without_match_calls_back_with_none():
    rec = Recorder()
    h = ExpectOutputHandler()
    h.expect("never", callback=rec)
    p = finish(Process("echo something", stdout_handlers=[h]).run(10))
    assert rec.wait_n(1)
    assert rec.calls == [(p, STDOUT, None, None)]


def test_handler_on_stderr():
    rec = Recorder()
    h = ExpectOutputHandler()
    h.expect("on (err)", callback=rec)
    p = finish(Process(("sh", "-c", "echo on out; echo on err >&2"), stderr_handlers=[h]).run(10))
    assert rec.wait_n(1)
    assert rec.calls[0][0] is p and rec.calls[0][1] == STDERR and rec.calls[0][2] == 0
    assert rec.calls[0][3].group(1) == "err"


def test_users_handler_callback_runs_in_a_handler_thread_not_the_waiting_one():
    """A user's ExpectOutputHandler may run user code (its callback): its
    calls go to a handler thread, never inline in the thread that serves
    the process in wait() (only expect()'s own handlers run there)."""
    threads = []
    h = ExpectOutputHandler()
    h.expect("hello", callback=lambda *args: threads.append(threading.current_thread()))
    p = finish(Process("echo hello", stdout_handlers=[h]).run(10))
    assert p.ok and len(threads) == 1
    assert threads[0] is not threading.current_thread()
    # and so beside expect()'s own handler, which runs inline
    h2 = ExpectOutputHandler()
    p = Process("read x; echo got $x", shell=True, stdout_handlers=[h2]).start()
    h2.expect("got", callback=lambda *args: threads.append(threading.current_thread()))
    p.write("y\n")
    assert p.expect("got y", timeout=10)[0] == 0
    finish(p.wait(10))
    assert len(threads) == 2 and threads[1] is not threading.current_thread()


def test_expect_finds_the_reply_in_the_thread_that_waits(monkeypatch):
    """An interactive round trip (write, then expect the reply) costs no
    thread switch: the waiting thread reads the reply and searches it
    itself (issue 18), as long as no user handler watches the stream.
    expect()'s handler runs where the reply is read, never in a handler
    thread: mostly the waiting thread, the reactor's when it wins a race
    or on the poll() backend (which lends nothing)."""
    from execo import configuration

    readers = []
    real_read = ExpectOutputHandler.read

    def read(self, *args):
        readers.append(threading.current_thread())
        return real_read(self, *args)

    monkeypatch.setattr(ExpectOutputHandler, "read", read)
    p = Process("cat", ignore_exit_code=True, nolog_exit_code=True).start()
    try:
        for i in range(20):
            p.write("q%dx\n" % i)
            assert p.expect("q%dx" % i, timeout=10)[0] == 0
    finally:
        p.kill()
        finish(p.wait(10))
    me = threading.current_thread()
    assert readers
    assert all(t is me or t.name == "execo-reactor" for t in readers)
    if configuration.get("poller", "epoll") != "poll":
        assert readers.count(me) > len(readers) // 2


def test_subclassed_handler_shared_by_processes_is_called_one_at_a_time():
    """A subclass of ExpectOutputHandler is a user's handler: processes
    sharing it call it one at a time, as any handler of the user's (only
    execo's own class is thread-safe by itself), and its read() override
    sees every chunk."""
    seen, overlaps, active = [], [], [0]
    lock = threading.Lock()

    class Counting(ExpectOutputHandler):
        def read(self, process, stream, string, eof, error):
            with lock:
                active[0] += 1
                if active[0] > 1:
                    overlaps.append(process)
            time.sleep(0.002)
            seen.append(string)
            with lock:
                active[0] -= 1
            super(Counting, self).read(process, stream, string, eof, error)

    h = Counting()
    rec = Recorder()
    h.expect("line 40", callback=rec)
    script = "for i in $(seq 1 40); do echo line $i; sleep 0.001; done"
    procs = [Process(script, shell=True, stdout_handlers=[h]) for _ in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        finish(p.wait(30))
    assert overlaps == []
    assert "".join(seen).count("line 40\n") == 4
    assert rec.wait_n(1) and rec.calls[0][2] == 0


def test_handler_condition_notified():
    cond = threading.Condition()
    h = ExpectOutputHandler()
    h.expect("ping", condition=cond)
    p = Process(("sh", "-c", "sleep 0.5; echo ping; exec sleep 30"), stdout_handlers=[h])
    try:
        with cond:
            p.start()
            assert cond.wait(10), "condition not notified"
        assert "ping" in p.stdout
    finally:
        p.kill()
        finish(p)


def test_handler_callback_and_condition_together():
    cond = threading.Condition()
    rec = Recorder()
    h = ExpectOutputHandler()
    h.expect("x", callback=rec, condition=cond)
    p = Process(("sh", "-c", "sleep 0.3; echo x"), stdout_handlers=[h])
    with cond:
        p.start()
        assert cond.wait(10)
    finish(p)
    assert rec.wait_n(1) and rec.calls[0][2] == 0


def test_handler_several_processes_independent_positions():
    rec = Recorder()
    h = ExpectOutputHandler()
    h.expect(r"tok(\d)", callback=rec)
    ps = [Process(("sh", "-c", "sleep 0.%d; echo tok%d; echo tok9" % (i, i)), stdout_handlers=[h]) for i in range(4)]
    for p in ps:
        p.start()
    for p in ps:
        finish(p)
    assert rec.wait_n(4)
    by_proc = dict((c[0], c) for c in rec.calls)
    assert len(rec.calls) == 4 and set(by_proc) == set(ps)
    for i, p in enumerate(ps):
        assert by_proc[p][2] == 0 and by_proc[p][3].group(1) == str(i)
    # a second expect continues each process from the end of its own match
    rec2 = Recorder()
    h.expect(r"tok(\d)", callback=rec2)
    assert rec2.wait_n(4)
    assert len(rec2.calls) == 4
    assert set(c[0] for c in rec2.calls) == set(ps)
    assert all(c[3].group(1) == "9" for c in rec2.calls)
    # a third: nothing left, eof everywhere -> None
    rec3 = Recorder()
    h.expect(r"tok(\d)", callback=rec3)
    assert rec3.wait_n(4)
    assert all(c[2] is None and c[3] is None for c in rec3.calls)


def test_handler_added_before_expect():
    rec = Recorder()
    h = ExpectOutputHandler()
    p = Process(("sh", "-c", "echo early-data; exec sleep 30"), stdout_handlers=[h]).start()
    try:
        deadline = time.monotonic() + 10
        while "early-data" not in p.stdout and time.monotonic() < deadline:
            time.sleep(0.02)
        h.expect("early-(data)", callback=rec)
        assert rec.wait_n(1)
        assert rec.calls[0][0] is p and rec.calls[0][2] == 0
    finally:
        p.kill()
        finish(p)


def test_handler_compiled_regex():
    rec = Recorder()
    h = ExpectOutputHandler()
    h.expect(re.compile(r"^second$", re.MULTILINE), callback=rec)
    finish(Process(("sh", "-c", "echo first; echo second"), stdout_handlers=[h]).run(10))
    assert rec.wait_n(1) and rec.calls[0][2] == 0
    assert rec.calls[0][3].group(0) == "second"


def test_handler_string_regex_is_multiline():
    rec = Recorder()
    h = ExpectOutputHandler()
    h.expect(r"^b(\w)$", callback=rec)
    finish(Process(("sh", "-c", "echo a1; echo b2; echo c3"), stdout_handlers=[h]).run(10))
    assert rec.wait_n(1) and rec.calls[0][2] == 0 and rec.calls[0][3].group(1) == "2"


def test_handler_bad_regex_raises_at_call():
    h = ExpectOutputHandler()
    with pytest.raises(re.error):
        h.expect("(unclosed")
    with pytest.raises(re.error):
        h.expect(["ok", "[bad"])


@pytest.mark.parametrize("bad", [42, 3.5, object(), [1], ["ok", None]])
def test_handler_bad_type_raises_typeerror(bad):
    h = ExpectOutputHandler()
    with pytest.raises(TypeError):
        h.expect(bad)


def test_handler_match_split_across_reads():
    rec = Recorder()
    h = ExpectOutputHandler()
    h.expect("hello", callback=rec)
    with Cat(stdout_handlers=[h]) as p:
        p.write("hel")
        time.sleep(0.3)
        assert rec.calls == []
        p.write("lo")
        assert rec.wait_n(1)
        assert rec.calls[0][2] == 0 and rec.calls[0][3].group(0) == "hello"


def test_handler_backtrack_size_limits_search():
    # expect pending before data: the text searched at the second read is
    # only the last backtrack_size characters of the first read + new data
    rec = Recorder()
    h = ExpectOutputHandler()
    h.expect("hello world", callback=rec, backtrack_size=3)
    p = Process("cat", stdout_handlers=[h]).start()
    p.write("hello")
    time.sleep(0.4)
    p.write(" world")
    time.sleep(0.4)
    p.close_stdin() if hasattr(p, "close_stdin") else p.kill()
    finish(p)
    assert rec.wait_n(1)
    assert rec.calls == [(p, STDOUT, None, None)]


def test_handler_backtrack_size_large_enough_matches():
    rec = Recorder()
    h = ExpectOutputHandler()
    h.expect("hello world", callback=rec, backtrack_size=5)
    with Cat(stdout_handlers=[h]) as p:
        p.write("hello")
        time.sleep(0.4)
        p.write(" world")
        assert rec.wait_n(1)
        assert rec.calls[0][2] == 0


def test_handler_backtrack_size_none_searches_everything():
    rec = Recorder()
    h = ExpectOutputHandler()
    h.expect(r"START.*END", callback=rec, backtrack_size=None)
    with Cat(stdout_handlers=[h]) as p:
        p.write("START")
        time.sleep(0.2)
        for _ in range(3):
            p.write("x" * 5000)
            time.sleep(0.1)
        p.write("END")
        assert rec.wait_n(1)
        assert rec.calls[0][2] == 0
        assert len(rec.calls[0][3].group(0)) == 5 + 15000 + 3


def test_handler_start_from_current_false_sees_earlier_output():
    rec = Recorder()
    p = Process(("sh", "-c", "echo early; sleep 0.5; echo late; exec sleep 30")).start()
    try:
        deadline = time.monotonic() + 10
        while "early" not in p.stdout and time.monotonic() < deadline:
            time.sleep(0.02)
        h = ExpectOutputHandler()
        h.expect(["early", "late"], callback=rec, start_from_current=False)
        p.stdout_handlers.append(h)
        assert rec.wait_n(1)
        assert rec.calls[0][2] == 0  # from the beginning of the stream
    finally:
        p.kill()
        finish(p)


def test_handler_start_from_current_true_skips_earlier_output():
    rec = Recorder()
    p = Process(("sh", "-c", "echo early; sleep 0.5; echo late; exec sleep 30")).start()
    try:
        deadline = time.monotonic() + 10
        while "early" not in p.stdout and time.monotonic() < deadline:
            time.sleep(0.02)
        h = ExpectOutputHandler()
        h.expect(["early", "late"], callback=rec, start_from_current=True)
        p.stdout_handlers.append(h)
        assert rec.wait_n(1)
        assert rec.calls[0][2] == 1  # "early" was output before monitoring
    finally:
        p.kill()
        finish(p)


def test_handler_callback_exception_does_not_break_process():
    def bad_cb(*a):
        raise RuntimeError("callback boom")

    h = ExpectOutputHandler()
    h.expect("x", callback=bad_cb)
    p = finish(Process(("sh", "-c", "echo x; echo y"), stdout_handlers=[h]).run(10))
    assert p.finished_ok and p.stdout == "x\ny\n"


# ============================================================ Process.expect


def test_expect_returns_index_and_match():
    with Cat() as p:
        p.write("abc 123\n")
        idx, mo = p.expect([r"zzz", r"(\d+)"], timeout=10)
        assert idx == 1
        assert mo.group(1) == "123"
        assert isinstance(mo, re.Match)


def test_expect_single_string_index_zero():
    with Cat() as p:
        p.write("needle\n")
        assert p.expect("needle", timeout=10)[0] == 0


def test_expect_compiled_regex():
    with Cat() as p:
        p.write("Foo\n")
        idx, mo = p.expect(re.compile("foo", re.IGNORECASE), timeout=10)
        assert idx == 0 and mo.group(0) == "Foo"


def test_expect_bad_regex_and_type():
    with Cat() as p:
        with pytest.raises(re.error):
            p.expect("(bad", timeout=1)
        with pytest.raises(TypeError):
            p.expect(12, timeout=1)


def test_expect_match_split_across_writes():
    with Cat() as p:

        def writer():
            time.sleep(0.3)
            p.write("hel")
            time.sleep(0.3)
            p.write("lo")

        t = threading.Thread(target=writer)
        t.start()
        idx, mo = bounded(lambda: p.expect("hello", timeout=10))
        t.join()
        assert idx == 0 and mo.group(0) == "hello"
        assert p.expect_fail is False and p.ok


def test_expect_timeout_sets_expect_fail():
    with Cat(nolog_expect_fail=True) as p:
        t0 = time.monotonic()
        assert p.expect("never", timeout=0.5) == (None, None)
        el = time.monotonic() - t0
        assert 0.4 <= el < 1.5
        assert p.expect_fail is True
        assert p.ok is False
    assert p.ended and p.killed
    assert p.ok is False and p.finished_ok is False


def test_expect_fail_ignored():
    with Cat(ignore_expect_fail=True, nolog_expect_fail=True) as p:
        assert p.expect("never", timeout=0.3) == (None, None)
        assert p.expect_fail is True
        assert p.ok is True
    assert p.finished_ok is True


def test_expect_fail_logged_unless_nolog():
    lg = logging.getLogger("execo")
    records = []

    class H(logging.Handler):
        def emit(self, record):
            records.append(record)

    h = H(logging.DEBUG)
    lg.addHandler(h)
    try:
        with Cat() as p:
            p.expect("never", timeout=0.2)
        assert any(r.levelno >= logging.WARNING for r in records)
        records.clear()
        with Cat(nolog_expect_fail=True) as p:
            p.expect("never", timeout=0.2)
        assert not [r for r in records if r.levelno >= logging.WARNING]
    finally:
        lg.removeHandler(h)


def test_expect_default_expect_timeout():
    with Cat(default_expect_timeout=0.5, nolog_expect_fail=True) as p:
        t0 = time.monotonic()
        assert bounded(lambda: p.expect("never")) == (None, None)
        assert 0.4 <= time.monotonic() - t0 < 1.5
        assert p.expect_fail


def test_expect_explicit_timeout_overrides_default():
    with Cat(default_expect_timeout=30, nolog_expect_fail=True) as p:
        t0 = time.monotonic()
        assert bounded(lambda: p.expect("never", timeout=0.3)) == (None, None)
        assert time.monotonic() - t0 < 1.5


def test_expect_timeout_none_waits_until_match():
    with Cat(default_expect_timeout=0.2) as p:

        def writer():
            time.sleep(0.8)
            p.write("late\n")

        t = threading.Thread(target=writer)
        t.start()
        idx, mo = bounded(lambda: p.expect("late", timeout=None))
        t.join()
        assert idx == 0 and not p.expect_fail


def test_expect_eof_returns_none_quickly():
    p = Process(("sh", "-c", "sleep 0.3; echo abc"), nolog_expect_fail=True).start()
    t0 = time.monotonic()
    assert bounded(lambda: p.expect("xyz", timeout=None)) == (None, None)
    assert time.monotonic() - t0 < 5
    assert p.expect_fail
    finish(p)
    assert not p.ok


def test_expect_stderr():
    p = Process(("sh", "-c", "echo outdata; echo errdata >&2; exec sleep 30")).start()
    try:
        idx, mo = bounded(lambda: p.expect("err(data)", stream=STDERR, timeout=10))
        assert idx == 0 and mo.group(1) == "data"
        idx, mo = bounded(lambda: p.expect("out(data)", stream=STDOUT, timeout=10))
        assert idx == 0
    finally:
        p.kill()
        finish(p)


def test_expect_stderr_not_on_stdout():
    p = Process(("sh", "-c", "echo errdata >&2"), nolog_expect_fail=True).start()
    assert bounded(lambda: p.expect("errdata", timeout=5)) == (None, None)
    finish(p)


def test_successive_expects_advance():
    with Cat() as p:
        p.write("a1 a2 a3\n")
        got = [p.expect(r"a(\d)", timeout=10)[1].group(1) for _ in range(3)]
        assert got == ["1", "2", "3"]
        p.write("a4\n")
        assert p.expect(r"a(\d)", timeout=10)[1].group(1) == "4"


def test_expect_after_timeout_continues():
    with Cat(nolog_expect_fail=True) as p:
        p.write("one\n")
        assert p.expect("one", timeout=5)[0] == 0
        assert p.expect("two", timeout=0.2) == (None, None)
        p.write("two\n")
        assert p.expect("two", timeout=5)[0] == 0


def test_expect_on_ended_process_finds_earlier_output():
    p = finish(Process(("sh", "-c", "echo alpha; echo beta")).run(10))
    (idx, mo), (idx2, mo2) = bounded(lambda: (p.expect("beta", timeout=5), p.expect("alpha", timeout=5)))
    assert idx == 0 and mo.group(0) == "beta"
    assert idx2 is None and mo2 is None  # same thread: position advanced past beta
    # another thread has its own position: from the beginning of the stream
    idx3, mo3 = bounded(lambda: p.expect("alpha", timeout=5))
    assert idx3 == 0 and mo3.group(0) == "alpha"


def test_expect_start_from_current():
    p = Process(("sh", "-c", "echo early; sleep 0.6; echo late; exec sleep 30")).start()
    try:
        deadline = time.monotonic() + 10
        while "early" not in p.stdout and time.monotonic() < deadline:
            time.sleep(0.02)
        idx, _ = bounded(lambda: p.expect(["early", "late"], start_from_current=True, timeout=10))
        assert idx == 1
        # another thread, from the beginning of the stream
        idx2, _ = bounded(lambda: p.expect(["early", "late"], timeout=10))
        assert idx2 == 0
    finally:
        p.kill()
        finish(p)


def test_expect_backtrack_size():
    with Cat(nolog_expect_fail=True) as p:
        res = []

        def exp():
            res.append(p.expect("hello world", backtrack_size=3, timeout=1.2))

        t = threading.Thread(target=exp)
        t.start()
        time.sleep(0.3)
        p.write("hello")
        time.sleep(0.4)
        p.write(" world")
        t.join(10)
        assert res == [(None, None)]


def test_expect_pty():
    p = Process(("sh", "-c", "read x; echo got-$x"), pty=True).start()
    try:
        p.write("abc\n")
        idx, mo = bounded(lambda: p.expect("got-(\\w+)", timeout=10))
        assert idx == 0 and mo.group(1) == "abc"
    finally:
        p.kill()
        finish(p)


def test_expect_many_threads_many_processes():
    ps = [Process(("sh", "-c", "sleep 0.%d; echo tok%d; exec sleep 30" % (i, i))).start() for i in range(8)]
    results = {}

    def exp(i):
        results[i] = ps[i].expect(r"tok(\d)", timeout=10)

    try:
        threads = [threading.Thread(target=exp, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(15)
        assert len(results) == 8
        for i in range(8):
            idx, mo = results[i]
            assert idx == 0 and mo.group(1) == str(i)
    finally:
        for p in ps:
            p.kill()
        for p in ps:
            finish(p)


def test_expect_many_threads_same_process_thread_local():
    results = {}
    with Cat() as p:
        barrier = threading.Barrier(9)

        def exp(i):
            got = []
            barrier.wait(10)
            for _ in range(3):
                idx, mo = p.expect(r"x(\d)", timeout=10)
                got.append(mo.group(1) if mo else None)
            results[i] = got

        threads = [threading.Thread(target=exp, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        barrier.wait(10)
        for k in range(3):
            time.sleep(0.2)
            p.write("x%d\n" % k)
        for t in threads:
            t.join(15)
    assert len(results) == 8
    for i in range(8):
        assert results[i] == ["0", "1", "2"], (i, results[i])


def test_expect_same_thread_two_processes_independent():
    with Cat() as a, Cat() as b:
        a.write("A1 A2\n")
        b.write("B1\n")
        assert a.expect(r"A(\d)", timeout=5)[1].group(1) == "1"
        assert b.expect(r"B(\d)", timeout=5)[1].group(1) == "1"
        assert a.expect(r"A(\d)", timeout=5)[1].group(1) == "2"


def test_expect_does_not_consume_stdout():
    with Cat() as p:
        p.write("keep me\n")
        p.expect("keep", timeout=5)
        assert p.stdout == "keep me\n"


def test_expect_large_output_then_match():
    p = Process((PY, "-c", "import sys; sys.stdout.write('x' * 3000000 + 'MARK')")).start()
    idx, mo = bounded(lambda: p.expect("MARK", timeout=20))
    finish(p)
    assert idx == 0


def test_expect_after_reset():
    p = Process(("sh", "-c", "echo first-run"))
    finish(p.run(10))
    assert p.expect("first-run", timeout=5)[0] == 0
    assert any(isinstance(h, ExpectOutputHandler) for h in p.stdout_handlers)
    p.reset()
    # expect()'s handler goes with the run it searched
    assert not any(isinstance(h, ExpectOutputHandler) for h in p.stdout_handlers)
    p.cmd = ("sh", "-c", "echo second-run")
    finish(p.run(10))
    idx, mo = bounded(lambda: p.expect("(first|second)-run", timeout=5))
    assert idx == 0 and mo.group(1) == "second"


def test_handler_on_both_streams_independent():
    rec = Recorder()
    h = ExpectOutputHandler()
    h.expect(r"v(\d)", callback=rec)
    p = finish(Process(("sh", "-c", "echo v1; echo v2 >&2"), stdout_handlers=[h], stderr_handlers=[h]).run(10))
    assert rec.wait_n(2)
    got = sorted((c[1], c[3].group(1)) for c in rec.calls)
    assert got == [(STDOUT, "1"), (STDERR, "2")]
    assert all(c[0] is p for c in rec.calls)


def test_expect_interactive_dialogue():
    p = Process(
        ("sh", "-c", "echo 'name?'; read n; echo \"hello $n\"; echo 'age?'; read a; echo \"$n is $a\""),
    ).start()
    try:
        assert p.expect(r"name\?", timeout=10)[0] == 0
        p.write("bob\n")
        assert p.expect(r"hello bob", timeout=10)[0] == 0
        assert p.expect(r"age\?", timeout=10)[0] == 0
        p.write("42\n")
        idx, mo = p.expect(r"(\w+) is (\d+)", timeout=10)
        assert idx == 0 and mo.groups() == ("bob", "42")
    finally:
        finish(p)
    assert p.finished_ok


# ============================== the waiting thread reads for itself (issue 18)
# expect() on one process reads the stream in the calling thread while it
# waits (epoll backend): the match needs no hop through the reactor thread.
# These tests hold on every backend; on poll() the reactor reads as before.


def _record_readers(p):
    """Wrap the process's sink entry point: the threads that hand it data."""
    threads = []
    on_data = p._on_data

    def recording(stream, data):
        threads.append(threading.get_ident())
        return on_data(stream, data)

    p._on_data = recording
    return threads


def test_expect_round_trips_read_by_the_calling_thread():
    from execo import configuration

    with Cat(ignore_exit_code=True) as p:
        threads = _record_readers(p)
        for i in range(200):
            p.write("r%dx\n" % i)
            idx, mo = p.expect("r%dx" % i, timeout=10)
            assert idx == 0 and mo.group(0) == "r%dx" % i
        if configuration.get("poller", "epoll") != "poll":
            # most chunks are read here (the reactor may win a race now and then)
            assert threads.count(threading.get_ident()) > len(threads) // 2
        assert p.stdout == "".join("r%dx\n" % i for i in range(200))


def test_expect_round_trips_with_a_user_handler_and_long_intr_period():
    # a user handler makes the stream's calls run in a handler thread: the
    # match is found there, and must wake the caller's poll at once (the
    # expect times out otherwise: intr_period is longer than its timeout)
    from execo import configuration

    lines = []

    class Lines(ProcessOutputHandler):
        def read_line(self, process, stream, string, eof=False, error=False):
            if string:
                lines.append(string)

    old = configuration["intr_period"]
    configuration["intr_period"] = 60
    try:
        with Cat(stdout_handlers=[Lines()], ignore_exit_code=True) as p:
            for i in range(50):
                p.write("r%dx\n" % i)
                idx, mo = bounded(lambda i=i: p.expect("r%dx" % i, timeout=10), 5)
                assert idx == 0, "round trip %d: no match" % i
    finally:
        configuration["intr_period"] = old
    assert lines == ["r%dx\n" % i for i in range(50)]


def test_expect_two_threads_on_one_process_both_read():
    with Cat(ignore_exit_code=True) as p:
        results = {}

        def talk(tag):
            got = []
            for i in range(100):
                p.write("%s%dx\n" % (tag, i))
                idx, mo = p.expect(r"%s%dx" % (tag, i), timeout=10)
                got.append(mo.group(0) if mo else None)
            results[tag] = got

        threads = [threading.Thread(target=talk, args=(tag,)) for tag in "ab"]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        for tag in "ab":
            assert results[tag] == ["%s%dx" % (tag, i) for i in range(100)]


def test_expect_while_reading_ends_at_the_eof_grace():
    # the shell exits, a grandchild keeps stdout open: the pipes are closed
    # after EOF_GRACE_AFTER_EXIT while the caller polls them; the expect
    # then ends at eof (None, None), long before its timeout
    p = Process("echo before; sleep 30 & exit 0", shell=True, ignore_exit_code=True).start()
    try:
        assert p.expect("before", timeout=10)[0] == 0
        t0 = time.monotonic()
        assert bounded(lambda: p.expect("never", timeout=30), 40) == (None, None)
        assert time.monotonic() - t0 < 25
        assert p.wait(10).ended
    finally:
        p.kill()
        finish(p)


def test_expect_interrupted_in_the_main_thread_then_works_again():
    import signal

    with Cat(ignore_exit_code=True) as p:
        p.write("one\n")
        assert p.expect("one", timeout=5)[0] == 0
        timer = threading.Timer(0.3, lambda: os.kill(os.getpid(), signal.SIGINT))
        timer.start()
        try:
            with pytest.raises(KeyboardInterrupt):
                p.expect("never", timeout=30)
        finally:
            timer.join()
        # the stream was given back to the reactor: nothing is lost
        p.write("two\n")
        assert p.expect("two", timeout=5)[0] == 0
        assert bounded(lambda: p.stdout, 5) == "one\ntwo\n"


def test_stream_parked_after_expect_is_taken_back_by_the_reactor():
    # after an expect() the stream stays out of the reactor's poll set a
    # few milliseconds (for the next expect of a round trip): output that
    # comes later, with no expect() to read it, still reaches p.stdout
    with Cat(ignore_exit_code=True) as p:
        p.write("one\n")
        assert p.expect("one", timeout=5)[0] == 0
        p.write("two\n")
        deadline = time.monotonic() + 10
        while p.stdout != "one\ntwo\n" and time.monotonic() < deadline:
            time.sleep(0.01)
        assert p.stdout == "one\ntwo\n"
        # and a later expect() still sees what came meanwhile
        assert p.expect("two", timeout=5)[0] == 0
        p.close_stdin()
        assert bounded(lambda: p.wait(10), 15).ended


def test_ctrl_c_while_the_main_thread_serves_never_breaks_execo_state():
    # the main thread serves a process that floods a non-matching expect
    # with output: a SIGINT then lands while execo's own handling runs in
    # that thread. It must come out as KeyboardInterrupt from expect()
    # only once the fds are back (execo.waiting._SigintGuard), leaving
    # the process whole: it is killed, ends, and wait() returns.
    import signal

    for _ in range(5):
        p = Process("yes 0123456789abcdef", shell=True, ignore_exit_code=True, nolog_exit_code=True).start()
        try:
            timer = threading.Timer(0.3, lambda: os.kill(os.getpid(), signal.SIGINT))
            timer.start()
            try:
                with pytest.raises(KeyboardInterrupt) as e:
                    p.expect("never", timeout=30)
            finally:
                timer.join()
            raised_in = e.traceback[-1].path
            # at a safe point: where the main thread waits (serving, or
            # on the poll() backend sleeping on an event), not in a handler
            assert str(raised_in).endswith(("waiting.py", "expect.py", "utils.py", "threading.py")), raised_in
        finally:
            p.kill()
            assert bounded(lambda p=p: p.wait(20), 30).ended
        assert p.killed and p.ended_event.is_set()
    # outside a wait, the default behaviour: KeyboardInterrupt at once
    with pytest.raises(KeyboardInterrupt):
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(5)


def test_expect_racing_the_eof_of_a_stream_without_handlers():
    # the eof of a stream without handlers is given when it is read, under
    # the lock expect() attaches with: whichever comes first, expect()
    # finds what was written or sees the eof, and the process ends (the
    # waits' timeouts only keep a failure from hanging the suite)
    errors = []

    def run(k):
        try:
            for i in range(40):
                p = Process(("printf", "tok%d-%d" % (k, i))).start()
                q = Process(("printf", "other"), ignore_expect_fail=True, nolog_expect_fail=True).start()
                r = p.expect(r"tok(\d+)-(\d+)", timeout=60)
                assert r[1] is not None and r[1].groups() == (str(k), str(i)), (r, p)
                assert q.expect("never", timeout=60) == (None, None)
                for x in (p, q):
                    x.wait(timeout=60)
                    assert x.ended and x.ok, x
                assert q.expect_fail and q.stdout == "other"
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=run, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[0]
