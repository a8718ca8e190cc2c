"""Experiment records (issue 19): process records, the job log and its
retry, Report.to_dict/from_dict, timestamped lines. Real processes, real
sshd on loopback addresses (no mocks)."""

import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import pytest
from helpers import finish
from test_cli import execo as execo_cli

from execo import Host, Local, ParallelActions, Process, Remote, Report, SequentialActions
from execo.handlers import STDERR, ProcessOutputHandler
from execo.joblog import JobLog, failed, failed_hosts, latest, load
from execo.records import OUTCOMES, SCHEMA, outcome, process_record, records_of
from execo.timed_lines import TimestampedLines

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PY = sys.executable


# ------------------------------------------------------------ records


def test_record_of_a_local_process_has_every_key_right():
    p = Process(("sh", "-c", "printf 'abc'; printf 'de' >&2; exit 3"), nolog_exit_code=True, name="n1").run()
    r = process_record(p, "act")
    assert r["schema"] == SCHEMA == "execo.record/1"
    assert (r["action"], r["name"], r["kind"], r["host"]) == ("act", "n1", "Process", None)
    assert r["cmd"] == ["sh", "-c", "printf 'abc'; printf 'de' >&2; exit 3"]
    assert r["shell"] is False
    assert r["exit_code"] == 3 and r["outcome"] == "exit"
    assert r["ok"] is False and r["finished_ok"] is False
    assert (r["error"], r["error_reason"], r["timeouted"], r["killed"], r["forced_kill"]) == (
        False,
        None,
        False,
        False,
        False,
    )
    assert (r["stdout_bytes"], r["stderr_bytes"]) == (3, 2)
    assert r["submitted"] <= r["start"] <= r["end"]
    assert r["queued"] >= 0 and r["duration"] >= 0
    # the monotonic duration and the wall-clock dates agree (no clock step here)
    assert abs(r["duration"] - (r["end"] - r["start"])) < max(0.05, r["duration"])
    json.loads(json.dumps(r, allow_nan=False))


def test_outcomes_of_each_way_to_end():
    ps = {
        "ok": Process("true"),
        "exit": Process("false", nolog_exit_code=True),
        "timeout": Process("sleep 30", timeout=0.2, nolog_timeout=True),
        "killed": Process("sleep 30"),
        "error": Process("/nonexistent/execo-test", nolog_error=True),
        "not_started": Process("true"),
    }
    for name, p in ps.items():
        if name != "not_started":
            p.start()
    ps["killed"].kill()
    for name, p in ps.items():
        if name != "not_started":
            finish(p)
    running = Process("sleep 30").start()
    try:
        assert outcome(running) == "running"
    finally:
        finish(running.kill())
    for name, p in ps.items():
        assert outcome(p) == name, p
        assert process_record(p)["outcome"] == name
    assert set(OUTCOMES) == set(ps) | {"running"}
    err = process_record(ps["error"])
    assert err["error"] is True and err["error_reason"] is not None
    assert process_record(ps["not_started"])["submitted"] is None
    assert process_record(ps["timeout"])["timeouted"] is True


def test_byte_counts_are_counted_when_output_is_not_kept():
    p = Process("seq 100000", default_stdout_handler=False).run()
    assert process_record(p)["stdout_bytes"] == len("".join("%d\n" % i for i in range(1, 100001)))


def test_records_of_nested_actions_name_each_sub_action():
    a = Local("echo a", name="first")
    b = Local("echo b", name="second")
    c = Local("echo c", name="third")
    top = SequentialActions([ParallelActions([a, b]), c]).run()
    recs = records_of(Report([top]))
    assert [r["action"] for r in recs] == ["first", "second", "third"]
    assert records_of(top) == recs


# ------------------------------------------------------------ job log


def _sh_remote_cmd():
    # per host, substituted: one host exits 7, one sleeps past its timeout
    # (8 s: without a tty the remote sleep outlives the timeout; it must
    # end soon and not look like the "sleep 60" of tests/test_remote.py)
    return "case {{{host}}} in 127.0.0.8) exit 7;; 127.0.0.9) sleep 8;; esac; echo ok {{{host}}}"


def test_joblog_of_32_hosts_with_three_failures_and_the_retry(sshd, tmp_path):
    log_path = str(tmp_path / "run.jsonl")
    hosts = list(sshd.hosts[:32])
    assert [h.address for h in hosts[7:9]] == ["127.0.0.8", "127.0.0.9"]
    unreachable = Host(hosts[4].address, user=sshd.user, keyfile=sshd.keyfile, port=2299)  # no daemon there
    hosts[4] = unreachable
    params = sshd.connection_params_without_tty()
    with JobLog(log_path) as log:
        r = Remote(
            _sh_remote_cmd(),
            hosts,
            connection_params=params,
            process_args={"nolog_exit_code": True, "nolog_timeout": True},
            lifecycle_handlers=[log],
            name="exp",
        )
        r.processes[8].timeout = 3  # the one that sleeps
        finish(r.run())
        assert log.count == 32
    recs = load(log_path)
    assert len(recs) == 32
    by_address = {}
    for rec in recs:
        assert rec["schema"] == SCHEMA and rec["action"] == "exp" and rec["kind"] == "SshProcess"
        by_address.setdefault((rec["host"]["address"], rec["host"]["port"]), []).append(rec)
    assert all(len(v) == 1 for v in by_address.values()) and len(by_address) == 32
    for p in r.processes:
        rec = by_address[(p.host.address, p.host.port)][0]
        assert rec["host"] == {"address": p.host.address, "user": sshd.user, "port": p.host.port}
        assert rec["cmd"] == p.remote_cmd
        assert (rec["exit_code"], rec["ok"], rec["finished_ok"]) == (p.exit_code, p.ok, p.finished_ok)
        assert (rec["start"], rec["end"]) == (p.start_date, p.end_date)
        assert rec["timeouted"] == bool(p.timeouted) and rec["killed"] == p.killed
        assert rec["error"] == p.error and rec["error_reason"] == p.error_reason
        assert rec["stdout_bytes"] == len(p.stdout.encode())
        assert rec["stderr_bytes"] == len(p.stderr.encode())
        if p.host.port == 2299:
            assert rec["exit_code"] == 255 and rec["outcome"] == "exit" and "refused" in p.stderr.lower()
        elif p.host.address == "127.0.0.8":
            assert rec["exit_code"] == 7 and rec["outcome"] == "exit"
        elif p.host.address == "127.0.0.9":
            assert rec["timeouted"] and rec["outcome"] == "timeout"
        else:
            assert rec["finished_ok"] and rec["outcome"] == "ok"
            assert rec["stdout_bytes"] == len("ok %s\n" % p.host.address)
    bad = failed(log_path)
    assert sorted((b["host"]["address"], b["host"]["port"]) for b in bad) == sorted(
        [(unreachable.address, 2299), ("127.0.0.8", sshd.port), ("127.0.0.9", sshd.port)]
    )
    again = failed_hosts(log_path)
    assert [(h.address, h.port, h.user) for h in again] == [
        (unreachable.address, 2299, sshd.user),
        ("127.0.0.8", sshd.port, sshd.user),
        ("127.0.0.9", sshd.port, sshd.user),
    ]
    # the retry runs on those 3 only, appended to the same log: the
    # unreachable host has its daemon back on the usual port (a fixed
    # host), 127.0.0.8 succeeds now, 127.0.0.9 still times out
    fixed = [Host(h.address, port=sshd.port if h.port == 2299 else h.port, user=h.user) for h in again]
    with JobLog(log_path) as log:
        retry = Remote(
            "case {{{host}}} in 127.0.0.9) sleep 8;; esac; echo ok {{{host}}}",
            fixed,
            connection_params=params,
            process_args={"nolog_timeout": True, "timeout": 3},
            lifecycle_handlers=[log],
            name="retry",
        )
        finish(retry.run())
    recs = load(log_path)
    assert len(recs) == 35
    assert [r["action"] for r in recs[32:]] == ["retry"] * 3
    assert sorted(r["host"]["address"] for r in recs[32:]) == sorted([unreachable.address, "127.0.0.8", "127.0.0.9"])


def test_cli_joblog_and_retry_failed_run_only_the_failed_hosts(sshd, tmp_path):
    from test_cli import ssh_args

    log_path = str(tmp_path / "cli.jsonl")
    hosts = ",".join(h.address for h in sshd.hosts[:6])
    # 127.0.0.3 and .5 fail until the marker exists (the same file
    # system: the loopback hosts are this machine; the test user reads
    # the directory)
    shared = tempfile.mkdtemp(prefix="execo-retry-")
    os.chmod(shared, 0o755)
    marker = os.path.join(shared, "fixed")
    cmd = "case {{{host}}} in 127.0.0.3|127.0.0.5) test -e %s || exit 4;; esac; echo ran {{{host}}}" % marker
    r = execo_cli("-H", hosts, *ssh_args(sshd), "--joblog", log_path, "--no-report", cmd)
    assert r.returncode == 1, r.stderr
    recs = load(log_path)
    assert len(recs) == 6
    assert sorted(b["host"]["address"] for b in failed(recs)) == ["127.0.0.3", "127.0.0.5"]
    open(marker, "w").close()
    r = execo_cli("--retry-failed", log_path, *ssh_args(sshd), "--json")
    assert r.returncode == 0, r.stdout[-3000:]
    doc = json.loads(r.stdout)
    assert sorted(h["host"] for h in doc["hosts"]) == ["127.0.0.3", "127.0.0.5"]
    recs = load(log_path)
    assert len(recs) == 8 and failed(recs) == []
    r = execo_cli("--retry-failed", log_path)
    assert r.returncode == 0 and "nothing to retry" in r.stderr
    assert execo_cli("--retry-failed", log_path, "-H", "127.0.0.1", "true").returncode == 2
    shutil.rmtree(shared)


def test_cli_retry_rejects_a_tampered_host(tmp_path):
    log_path = tmp_path / "bad.jsonl"
    rec = {"schema": SCHEMA, "host": {"address": "-oProxyCommand=touch x", "user": None, "port": None}}
    rec.update(cmd="true", finished_ok=False)
    log_path.write_text(json.dumps(rec) + "\n")
    r = execo_cli("--retry-failed", str(log_path))
    assert r.returncode == 2 and "host" in r.stderr
    assert not os.path.exists(os.path.join(ROOT, "x"))


HOSTILE_HOST_FIELDS = [
    ("address", "-oProxyCommand=touch {marker}"),
    ("address", "node 1; touch {marker}"),
    ("address", "node'\"1"),
    ("address", "$(touch {marker})"),
    ("address", "`touch {marker}`"),
    ("address", "node\ntouch {marker}"),
    ("address", "{{{{__import__('os').system('touch {marker}')}}}}"),
    ("user", "-oProxyCommand=touch {marker}"),
    ("user", "u $(touch {marker})"),
    ("user", "u`touch {marker}`"),
    ("user", "u:x"),
    ("port", "22 -oProxyCommand=touch {marker}"),
    ("port", "$(touch {marker})"),
]


@pytest.mark.parametrize("field,value", HOSTILE_HOST_FIELDS)
def test_retry_rejects_hostile_host_names_before_running_anything(tmp_path, field, value):
    marker = tmp_path / "ran"
    host = {"address": "127.0.0.1", "user": None, "port": None}
    host[field] = value.format(marker=marker)
    rec = {"schema": SCHEMA, "host": host, "cmd": "touch %s" % marker, "finished_ok": False}
    log_path = tmp_path / "tampered.jsonl"
    log_path.write_text(json.dumps(rec) + "\n")
    with pytest.raises(ValueError):
        failed_hosts(str(log_path))
    for words in ([], ["run", "touch", str(marker)], ["put", str(log_path), "/tmp"]):
        r = execo_cli("--retry-failed", str(log_path), *words)
        assert r.returncode == 2 and "host of the job log" in r.stderr, (words, r.stderr)
    assert not marker.exists()


def test_retry_of_a_local_argv_gives_its_bytes_back_and_runs_nothing_else(tmp_path):
    """A local job's argv goes through the log (JSON) and the retry
    unchanged: the child gets the same bytes, and none of them is run."""
    marker = tmp_path / "ran"
    out = tmp_path / "out"
    hostile = "-x 'q\"uote' $(touch %s) `touch %s` a:b {{1+1}} {{{host}}}\nline2 caf\u00e9" % (marker, marker)
    argv = ["sh", "-c", 'printf "%s" "$1" > "$2"; exit 1', "sh", hostile, str(out)]
    log_path = tmp_path / "local.jsonl"
    with JobLog(str(log_path)) as log:
        Process(argv, name=hostile, nolog_exit_code=True, lifecycle_handlers=[log]).run()
    assert out.read_text() == hostile
    out.unlink()
    r = execo_cli("--retry-failed", str(log_path), "--no-report")
    assert r.returncode == 1, r.stderr  # it fails again: exit 1
    assert out.read_text(encoding="utf-8") == hostile
    assert not marker.exists()
    assert len(load(str(log_path))) == 2


def test_retry_keeps_braces_and_colons_literal_over_ssh(sshd, tmp_path):
    """A remote job's recorded command with ``{{...}}`` runs it as text
    (no evaluation); a recorded address with ':' is one name for ssh."""
    from test_cli import ssh_args

    shared = tempfile.mkdtemp(prefix="execo-retry-")
    os.chmod(shared, 0o777)
    try:
        out = os.path.join(shared, "out")
        recs = [
            {
                "schema": SCHEMA,
                "host": {"address": "127.0.0.2", "user": sshd.user, "port": sshd.port},
                "cmd": "printf '%%s' '{{7*6}} a:b' > %s" % out,
                "finished_ok": False,
            },
            {
                "schema": SCHEMA,
                "host": {"address": "127.0.0.3:22", "user": sshd.user, "port": sshd.port},
                "cmd": "touch %s.colon" % out,
                "finished_ok": False,
            },
        ]
        log_path = tmp_path / "remote.jsonl"
        log_path.write_text("".join(json.dumps(r) + "\n" for r in recs))
        r = execo_cli("--retry-failed", str(log_path), *ssh_args(sshd), "--no-report")
        assert r.returncode == 1, r.stderr  # the ':' host cannot be reached
        with open(out) as f:
            assert f.read() == "{{7*6}} a:b"
        assert not os.path.exists(out + ".colon")
        last = latest(load(str(log_path)))
        assert [x["finished_ok"] for x in last] == [True, False]
        assert last[1]["host"]["address"] == "127.0.0.3:22" and last[1]["exit_code"] == 255
    finally:
        shutil.rmtree(shared)


BARRIER_RUN = r"""
import fcntl, resource, sys
resource.setrlimit(resource.RLIMIT_NOFILE, (1024, 1024))  # the world's default
from execo import Process
from execo.joblog import JobLog
lock_path, log_path = sys.argv[1:3]
holder = open(lock_path, "w")
fcntl.flock(holder, fcntl.LOCK_EX)
log = JobLog(log_path)
ps = [
    Process(
        ("flock", "-s", lock_path, "true"),
        name='p%04d "quoted"\n{%d}' % (i, i),
        lifecycle_handlers=[log],
        default_stdout_handler=False,
        default_stderr_handler=False,
    )
    for i in range(2000)
]
try:
    for p in ps:
        p.start()
finally:
    fcntl.flock(holder, fcntl.LOCK_UN)  # every spawned child ends now
    holder.close()
for p in ps:
    p.wait(300)
log.close()
print(sum(p.finished_ok for p in ps))
"""


def test_joblog_2000_processes_ending_at_once_gives_2000_whole_lines(tmp_path):
    # the children wait on a shared flock the script holds, so that the
    # spawned ones all end together when it is released (ends from many
    # handler threads), under the usual 1024 fds: the others wait for a
    # slot (queued), then end in a rush
    log_path = str(tmp_path / "many.jsonl")
    r = subprocess.run(
        [PY, "-c", BARRIER_RUN, str(tmp_path / "barrier"), log_path],
        capture_output=True,
        text=True,
        timeout=600,
        env=dict(os.environ, PYTHONPATH=ROOT),
    )
    assert r.returncode == 0 and r.stdout.strip() == "2000", r.stderr[-3000:]
    with open(log_path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    assert lines[-1] == "" and len(lines) == 2001
    records = [json.loads(line) for line in lines[:-1]]
    assert sorted(r["name"] for r in records) == sorted('p%04d "quoted"\n{%d}' % (i, i) for i in range(2000))
    assert all(r["finished_ok"] and r["outcome"] == "ok" for r in records)
    assert any(r["queued"] > 0.01 for r in records)  # some waited for a slot


def test_joblog_lines_keep_hostile_strings_whole(tmp_path):
    log_path = str(tmp_path / "hostile.jsonl")
    names = ["a\nb", 'q"uote\\', "\u2028sep\u2029", "\x00nul", "$(rm -rf /)", "{{x}}", "caf\udce9"]
    with JobLog(log_path) as log:
        for n in names:
            Process(("printf", "%s", n.replace("\x00", "")), name=n, lifecycle_handlers=[log]).run()
    with open(log_path, "rb") as f:
        raw = f.read()
    assert raw.count(b"\n") == len(names) and all(b < 0x80 for b in raw)  # ensure_ascii: one line each
    assert [r["name"] for r in load(log_path)] == names


def test_joblog_follow_and_file_object_and_process_handler(tmp_path):
    buf = io.StringIO()
    log = JobLog(buf)
    a = Local("echo a", name="A")
    log.follow(a, [a])  # twice: logged once
    a.run()
    p = Process("echo b", lifecycle_handlers=[log]).run()
    recs = load(io.StringIO(buf.getvalue()))
    assert [(r["action"], r["name"]) for r in recs] == [("A", "echo a"), (None, "echo b")]
    log.close()
    assert not buf.closed  # not the job log's to close
    with pytest.raises(TypeError):
        JobLog(42)
    with pytest.raises(TypeError):
        log.follow("not an action")
    assert p.finished_ok


def test_joblog_line_written_before_wait_returns_and_action_ends(tmp_path):
    log_path = str(tmp_path / "order.jsonl")
    with JobLog(log_path) as log:
        for _ in range(20):
            a = Local("true", lifecycle_handlers=[log]).start()
            a.wait()
            assert a.ended
            n = log.count
            with open(log_path) as f:
                assert len(f.readlines()) == n


def test_load_skips_a_cut_last_line_and_other_schemas_but_not_garbage(tmp_path, execo_log):
    good = json.dumps({"schema": SCHEMA, "name": "x", "finished_ok": True})
    p = tmp_path / "cut.jsonl"
    p.write_text(good + "\n" + json.dumps({"schema": "other/1"}) + "\n" + good[:20])
    assert [r["name"] for r in load(str(p))] == ["x"]
    p.write_text(good + "\nnot json\n" + good + "\n")
    with pytest.raises(ValueError, match="line 2"):
        load(str(p))
    p.write_text("[1, 2]\n")
    with pytest.raises(ValueError, match="line 1"):
        load(str(p))


def test_latest_record_of_a_job_wins():
    def rec(addr, ok, action):
        return {
            "schema": SCHEMA,
            "host": {"address": addr, "user": None, "port": None},
            "cmd": "c",
            "finished_ok": ok,
            "action": action,
        }

    recs = [rec("a", False, "run"), rec("b", False, "run"), rec("a", True, "retry")]
    assert [r["host"]["address"] for r in latest(recs)] == ["a", "b"]
    assert [r["host"]["address"] for r in failed(recs)] == ["b"]
    assert [h.address for h in failed_hosts(recs, action="run")] == ["b"]
    assert failed_hosts(recs, action="retry") == []


# ------------------------------------------------------------ Report as data


def test_report_to_dict_round_trips_through_json():
    a = ParallelActions(
        [Local("echo a", name="A"), Local("exit 3", name="B", process_args={"shell": True, "nolog_exit_code": True})]
    )
    a.run()
    sub = Report([Local("true", name="C").run()])
    sub.name = "sub"
    r = Report([a, sub])
    r.name = "run 1"
    d = r.to_dict()
    assert d["schema"] == "execo.report/1" and d["name"] == "run 1"
    assert d["num_processes"] == 3 and d["num_finished_ok"] == 2
    assert [s["name"] for s in d["sub_stats"]] == [a.name, "sub"]
    assert [s["name"] for s in d["sub_stats"][0]["sub_stats"]] == ["A", "B"]
    assert "\"processes\"" not in json.dumps(d)
    full = r.to_dict(processes=True)
    assert [p["name"] for p in full["sub_stats"][0]["sub_stats"][0]["processes"]] == ["echo a"]
    assert full["sub_stats"][0]["sub_stats"][1]["processes"][0]["exit_code"] == 3
    assert full["sub_stats"][1]["sub_stats"][0]["processes"][0]["action"] == "C"
    loaded = Report.from_json(r.to_json(processes=True, indent=1))
    assert loaded.to_dict(processes=True) == full
    assert loaded.to_dict() == d
    assert loaded.stats() == r.stats()
    assert loaded.to_string() == r.to_string()
    assert loaded.records() == r.records() == records_of(r)
    assert len(loaded.records()) == 3
    # two runs side by side
    both = Report([r, loaded])
    assert both.stats()["num_processes"] == 6 and both.stats()["num_non_zero_exit_codes"] == 2
    with pytest.raises(ValueError):
        Report.from_dict({"schema": "execo.record/1"})
    with pytest.raises(ValueError):
        Report.from_dict({"name": "x"})


def test_report_to_dict_with_hidden_subactions_keeps_every_process():
    pa = ParallelActions([Local("true", name="x"), Local("true", name="y")])
    pa.hide_subactions = True
    pa.run()
    d = Report([pa]).to_dict(processes=True)
    assert d["sub_stats"][0]["sub_stats"] == []
    assert [p["action"] for p in d["sub_stats"][0]["processes"]] == ["x", "y"]


# ------------------------------------------------------------ timestamped lines


TICKS = r"""
import sys, time
for i in range(8):
    sys.stdout.write("%r\n" % time.monotonic())
    sys.stdout.flush()
    time.sleep(0.1)
sys.stdout.write("last %r" % time.monotonic())
"""


class SlowLines(ProcessOutputHandler):
    """A handler lagging behind the output: the stamps must not follow it."""

    def __init__(self):
        super().__init__()
        self.handled_at = []

    def read_line(self, process, stream, line, eof, error):
        time.sleep(0.3)
        self.handled_at.append(time.monotonic())


def test_timestamped_lines_are_the_times_the_lines_were_read():
    stamps = TimestampedLines()
    slow = SlowLines()
    p = Process((PY, "-c", TICKS), stdout_handlers=[slow, stamps]).run()
    lines = stamps.lines(p)
    assert len(lines) == 9 and lines[-1][1].startswith("last ")
    assert [line for _, line in lines[:-1]] == [line for line in p.stdout.splitlines(True)[:-1]]
    printed = [float(line.split()[-1]) for _, line in lines]
    arrived = [p._start_monotonic + t for t, _ in lines]
    # ordered, each after its printing and before the next line was printed
    # (the child's own times are the tolerance: no fixed threshold)
    assert [t for t, _ in lines] == sorted(t for t, _ in lines)
    for i in range(8):
        assert printed[i] <= arrived[i] <= printed[i + 1], (i, printed, arrived)
    gaps = [b - a for a, b in zip(arrived, arrived[1:])]
    child_gaps = [b - a for a, b in zip(printed, printed[1:])]
    assert abs(statistics.median(gaps) - statistics.median(child_gaps)) < statistics.median(child_gaps) / 2
    # the slow handler got its lines much later than they were stamped
    assert slow.handled_at[-1] > arrived[-1] + (printed[-1] - printed[0]) / 2


def test_timestamped_lines_on_stderr_and_several_processes():
    h = TimestampedLines()
    ps = [
        Process(("sh", "-c", "echo out%d; echo err%d >&2" % (i, i)), stdout_handlers=[h], stderr_handlers=[h])
        for i in range(3)
    ]
    for p in ps:
        p.start()
    for p in ps:
        finish(p)
    for i, p in enumerate(ps):
        assert [line for _, line in h.lines(p)] == ["out%d\n" % i]
        assert [line for _, line in h.lines(p, STDERR)] == ["err%d\n" % i]
    with pytest.raises(ValueError):
        h.lines()
    h.reset()
    assert h.lines() == []


def test_json_lines_readable_while_the_run_goes_on(tmp_path):
    log_path = str(tmp_path / "live.jsonl")
    with JobLog(log_path) as log:
        fast = Local("true", lifecycle_handlers=[log], name="fast")
        slow = Local("sleep 30", lifecycle_handlers=[log], name="slow")
        slow.start()
        fast.run()
        seen = load(log_path)  # a reader while "slow" still runs
        assert [r["action"] for r in seen] == ["fast"]
        slow.kill()
        finish(slow)
    assert [r["outcome"] for r in load(log_path)] == ["ok", "killed"]


def test_joblog_written_from_many_threads_at_once(tmp_path):
    log_path = str(tmp_path / "threads.jsonl")
    log = JobLog(log_path)
    p = Process("true").run()
    rec = process_record(p)

    def burst():
        for _ in range(500):
            log.write(rec)

    threads = [threading.Thread(target=burst) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    log.close()
    assert len(load(log_path)) == 4000


def test_joblog_of_a_taktuk_remote(sshd, tmp_path):
    from execo import TaktukRemote

    log_path = str(tmp_path / "taktuk.jsonl")
    unreachable = Host("127.0.0.250", user=sshd.user, keyfile=sshd.keyfile, port=sshd.port)
    hosts = list(sshd.hosts[:4]) + [unreachable]
    with JobLog(log_path) as log:
        r = TaktukRemote(
            "echo {{{host}}}",
            hosts,
            connection_params=sshd.connection_params_without_tty(),
            process_args={"nolog_error": True, "nolog_exit_code": True},
            lifecycle_handlers=[log],
        )
        finish(r.run())
    recs = load(log_path)
    assert sorted(x["host"]["address"] for x in recs) == sorted(h.address for h in hosts)
    assert all(x["kind"] == "TaktukProcess" for x in recs)
    assert [h.address for h in failed_hosts(recs)] == ["127.0.0.250"]
    ok = [x for x in recs if x["finished_ok"]]
    assert len(ok) == 4 and all(x["stdout_bytes"] == len(x["host"]["address"]) + 1 for x in ok)
