"""Reliability, issue 7 items 5 (bad input) and 6 (fork and threads).

Every bad input must give a clear error at the call (exception type and a
message naming the problem) or the documented flag on the process, and the
reactor must still be alive afterwards: each test ends by running a fresh
Process (``assert_alive``). Cases already covered elsewhere (bad regex on
ExpectOutputHandler / Process.expect, unknown keys in load_configuration,
write to an ended process, exceptions in handlers) are extended here, not
repeated: Action.expect, unknown keys in the user file at import, keyfile
missing over ssh, invalid UTF-8 in argv, a 100 MB line through read_line,
handlers that block, fork under load, a 32-worker thread pool."""

import concurrent.futures
import os
import re
import subprocess
import sys
import textwrap
import threading
import time

import pytest
from helpers import finish

from execo.action import Local, Remote
from execo.host import Host
from execo.process import Process, ProcessOutputHandler, SshProcess

pytestmark = pytest.mark.reliability

PY = sys.executable
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def assert_alive():
    """The reactor still starts, reads and reaps a new process."""
    p = finish(Process(("sh", "-c", "echo alive; exit 3"), nolog_exit_code=True).run(10), 10)
    assert p.stdout == "alive\n" and p.exit_code == 3 and p.ended


def run_script(script, timeout=60, env_extra=None):
    env = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""))
    if env_extra:
        env.update(env_extra)
    return subprocess.run([PY, "-c", textwrap.dedent(script)], capture_output=True, text=True, env=env, timeout=timeout)


# ================================================================ item 5
# ----------------------------------------------------------- bad regexes


@pytest.mark.parametrize("bad", ["(unclosed", "[bad", ["ok", "*oops"], "a{2,1}"])
def test_process_expect_invalid_regex_raises_at_call_process_untouched(bad):
    p = Process("cat").start()
    try:
        with pytest.raises(re.error):
            p.expect(bad, timeout=1)
        # the process is not flagged and a valid expect still works on it
        assert not p.expect_fail
        p.write("ready\n")
        idx, mo = p.expect("rea(dy)", timeout=10)
        assert idx == 0 and mo.group(1) == "dy"
    finally:
        p.close_stdin()
        finish(p)
    assert p.finished_ok
    assert_alive()


@pytest.mark.parametrize("bad", ["(unclosed", ["ok", "[bad"]])
def test_action_expect_invalid_regex_raises_at_call(bad):
    a = Local("cat").start()
    try:
        with pytest.raises(re.error):
            a.expect(bad, timeout=1)
        for p in a.processes:
            p.write("go\n")
        res = a.expect("g(o)", timeout=10)
        assert len(res) == 1 and res[0][1] == 0 and res[0][2].group(1) == "o"
    finally:
        for p in a.processes:
            p.close_stdin()
        a.wait(30)
    assert a.ended and a.ok
    # same on a Remote that was never started: the error comes before any ssh
    with pytest.raises(re.error):
        Remote("cat", [Host("127.0.0.1")]).expect(bad)
    assert_alive()


@pytest.mark.parametrize("bad", [42, None, 3.5, [b"bytes-in-list", 1]])
def test_action_expect_bad_regex_type_raises_typeerror(bad):
    a = Local("cat").start()
    try:
        with pytest.raises(TypeError):
            a.expect(bad, timeout=1)
    finally:
        a.kill()
        a.wait(30)
    assert_alive()


# ------------------------------------------------------- wrong arg types


@pytest.mark.parametrize(
    "kw,word",
    [
        ({"timeout": "x"}, "'x'"),
        ({"timeout": [1]}, None),
        ({"stdout_handlers": 42}, "stdout_handlers"),
        ({"stdout_handlers": "abc"}, "stdout_handlers"),
        ({"stderr_handlers": 1.5}, "stderr_handlers"),
        ({"lifecycle_handlers": 3}, "lifecycle_handlers"),
    ],
)
def test_process_bad_argument_types_raise_at_call(kw, word):
    with pytest.raises((TypeError, ValueError)) as ei:
        Process("echo never", **kw).run(10)
    if word:
        assert word in str(ei.value)
    assert_alive()


@pytest.mark.parametrize("cmd", [42, None, 4.2, b"echo bytes", object()])
def test_process_cmd_not_str_or_tuple_raises_typeerror(cmd):
    with pytest.raises(TypeError) as ei:
        Process(cmd)
    assert "cmd" in str(ei.value)
    assert type(cmd).__name__ in str(ei.value)
    assert_alive()


def test_expect_timeout_of_wrong_type_raises_and_process_unflagged():
    p = Process("cat").start()
    try:
        with pytest.raises(ValueError, match="'x'"):
            p.expect("a", timeout="x")
        assert not p.expect_fail
    finally:
        p.close_stdin()
        finish(p)
    assert p.finished_ok
    assert_alive()


def test_wait_timeout_of_wrong_type_raises():
    p = Process("sleep 0.2").start()
    with pytest.raises(ValueError, match="'x'"):
        p.wait(timeout="x")
    finish(p)
    assert p.finished_ok
    assert_alive()


# ------------------------------------------------------- configuration


def test_unknown_key_loaded_at_runtime_leaves_config_and_loop_intact(tmp_path):
    from execo import config

    path = tmp_path / "bad.py"
    # a typo in each dict, next to valid keys
    path.write_text(
        "configuration = {'kill_timout': 1, 'kill_timeout': 99}\n"
        "default_connection_params = {'prot': 2222, 'port': 2222}\n"
    )
    before = (dict(config.configuration), dict(config.default_connection_params))
    with pytest.raises(ValueError) as ei:
        config.load_configuration(str(path))
    msg = str(ei.value)
    assert "kill_timout" in msg or "prot" in msg
    assert str(path) in msg
    assert (config.configuration, config.default_connection_params) == before
    assert_alive()


# ------------------------------------------------------------ Host / ssh


def test_host_empty_address_raises_valueerror():
    with pytest.raises(ValueError, match="empty"):
        Host("")
    with pytest.raises(ValueError, match="empty"):
        Remote("true", [""])
    assert_alive()


def test_missing_keyfile_fails_that_ssh_only(sshd, tmp_path):
    missing = str(tmp_path / "no_such_key")
    params = sshd.connection_params_without_tty()
    bad_host = Host(sshd.hosts[0].address, user=sshd.user, keyfile=missing, port=sshd.port)
    good_host = sshd.hosts[1]
    # a lone SshProcess
    p = SshProcess("echo never", bad_host, connection_params=params, nolog_exit_code=True, timeout=60)
    finish(p.run(60), 60)
    assert p.ended and not p.timeouted
    assert p.exit_code not in (0, None)
    assert not p.ok
    assert "no_such_key" in p.stderr, p.stderr
    assert "never" not in p.stdout
    # inside a Remote, the others are fine
    r = Remote(
        "echo {{{host}}}",
        [bad_host, good_host, sshd.hosts[2]],
        connection_params=params,
        process_args={"nolog_exit_code": True},
    )
    r.run(60)
    assert r.ended and not r.ok
    bad = [q for q in r.processes if q.host.keyfile == missing]
    good = [q for q in r.processes if q.host.keyfile != missing]
    assert len(bad) == 1 and len(good) == 2
    assert bad[0].exit_code not in (0, None) and "no_such_key" in bad[0].stderr
    for q in good:
        assert q.finished_ok, (q, q.stderr)
        assert q.stdout.strip() == q.host.address
    assert_alive()


# ------------------------------------------------------------- non-UTF-8


def test_bytes_argv_with_invalid_utf8_reaches_the_child_exactly():
    raw = b"\xff\xfe\xc3(\x80abc"
    p = finish(Process(("printf", b"%s", raw)).run(10))
    assert p.finished_ok and not p.error
    # output decoded with surrogateescape: re-encoding gives the bytes back
    assert p.stdout.encode("utf-8", "surrogateescape") == raw
    h = finish(Process((PY, "-c", "import sys,os; sys.stdout.write(os.fsencode(sys.argv[1]).hex())", raw)).run(10))
    assert h.finished_ok and h.stdout == raw.hex()
    assert_alive()


def test_str_argv_with_surrogates_reaches_the_child_as_raw_bytes():
    raw = b"\xff\x80z"
    p = finish(
        Process(
            (
                PY,
                "-c",
                "import sys,os; sys.stdout.write(os.fsencode(sys.argv[1]).hex())",
                raw.decode("utf-8", "surrogateescape"),
            )
        ).run(10)
    )
    assert p.finished_ok and p.stdout == raw.hex()
    assert_alive()


def test_invalid_utf8_output_through_line_handler_and_expect():
    class Lines(ProcessOutputHandler):
        def __init__(self):
            super().__init__()
            self.lines = []

        def read_line(self, process, stream, string, eof, error):
            self.lines.append(string)

    h = Lines()
    script = r"import sys; sys.stdout.buffer.write(b'a\xff\n\xc3\n\xe2\x82 end\xfe\n')"
    p = Process((PY, "-c", script), stdout_handlers=[h]).start()
    idx, mo = p.expect(r"end(.)", timeout=10)
    finish(p)
    assert p.finished_ok
    assert idx == 0 and mo.group(1).encode("utf-8", "surrogateescape") == b"\xfe"
    joined = "".join(h.lines).encode("utf-8", "surrogateescape")
    assert joined == b"a\xff\n\xc3\n\xe2\x82 end\xfe\n"
    assert len(h.lines) == 3
    assert_alive()


# ---------------------------------------------------- 100 MB single line

HUGE_LINE_SCRIPT = """
import resource, sys, time
from execo.process import Process, ProcessOutputHandler
N = 100 * 1024 * 1024

class L(ProcessOutputHandler):
    def __init__(self):
        super().__init__()
        self.lines = []
    def read_line(self, process, stream, string, eof, error):
        self.lines.append((len(string), string[:1], string[-1:], eof))

def rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0

base = rss_mb()
h = L()
w = ("import sys\\nb = b'x' * (1024 * 1024)\\n"
     "for i in range(99): sys.stdout.buffer.write(b)\\n"
     "sys.stdout.buffer.write(b'x' * (1024 * 1024 - 1) + b'y')\\nsys.stdout.flush()\\n")
t0 = time.monotonic()
p = Process((sys.executable, "-c", w), stdout_handlers=[h], default_stdout_handler=False).run(60)
el = time.monotonic() - t0
other = Process("echo other").run(10)
print("RESULT " + repr((p.finished_ok, h.lines, round(rss_mb() - base), round(el, 1), other.stdout)))
"""


def test_100mb_line_without_newline_through_read_line_whole_and_bounded():
    r = run_script(HUGE_LINE_SCRIPT, timeout=120)
    line = [l for l in r.stdout.splitlines() if l.startswith("RESULT")]
    assert line, r.stdout + r.stderr
    ok, lines, growth, elapsed, other = eval(line[0][len("RESULT ") :])
    assert ok is True
    # one read_line call, with the whole 100 MB, at eof (no trailing newline)
    assert lines == [(100 * 1024 * 1024, "x", "y", True)]
    # peak memory: a few copies of the line at most (measured ~2x)
    assert growth < 600, "peak RSS grew by %s MB for a 100 MB line" % growth
    assert other == "other\n"
    assert elapsed < 30


# ------------------------------------------------------ raising handlers


def test_raising_handler_on_every_line_of_many_processes(caplog):
    class Boom(ProcessOutputHandler):
        def read_line(self, process, stream, string, eof, error):
            raise RuntimeError("boom on %r" % string)

    class Count(ProcessOutputHandler):
        def __init__(self):
            super().__init__()
            self.n = 0
            self.lock = threading.Lock()

        def read_line(self, process, stream, string, eof, error):
            with self.lock:
                self.n += 1

    boom, count = Boom(), Count()
    ps = [
        Process(
            ("sh", "-c", "for i in 1 2 3 4 5; do echo $i; echo e$i >&2; done"),
            stdout_handlers=[boom, count],
            stderr_handlers=[count, boom],
        )
        for _ in range(50)
    ]
    for p in ps:
        p.start()
    for p in ps:
        finish(p)
    for p in ps:
        assert p.finished_ok and p.stdout == "1\n2\n3\n4\n5\n" and p.stderr == "e1\ne2\ne3\ne4\ne5\n"
    assert count.n == 50 * 10
    assert_alive()


# ------------------------------------------------------ blocking handlers


class _Counter(ProcessOutputHandler):
    def __init__(self):
        super().__init__()
        self.n = 0

    def read_line(self, process, stream, string, eof, error):
        self.n += 1


class _Sleeper(ProcessOutputHandler):
    def __init__(self, seconds):
        super().__init__()
        self.seconds = seconds
        self.entered = threading.Event()

    def read(self, process, stream, string, eof, error):
        if string:
            self.entered.set()
            time.sleep(self.seconds)


def _ticker():
    return Process((PY, "-u", "-c", "import time\nfor i in range(60): print(i); time.sleep(0.05)"))


def test_blocking_handler_delays_but_loses_nothing():
    """A handler blocking 2 s delays its own process only; both end ok
    with their whole output."""
    c = _Counter()
    other = _ticker()
    other.stdout_handlers.append(c)
    blocker = Process("echo block", stdout_handlers=[_Sleeper(2)])
    other.start()
    blocker.start()
    finish(blocker)
    finish(other)
    assert blocker.finished_ok and blocker.stdout == "block\n"
    assert other.finished_ok and c.n == 60
    assert other.stdout == "".join("%d\n" % i for i in range(60))
    assert_alive()


def test_blocking_handler_does_not_stall_other_processes_output():
    """Handlers run in handler threads, one strand per process: while one
    handler sleeps 3 s, another process's handler keeps seeing lines."""
    c = _Counter()
    other = _ticker()
    other.stdout_handlers.append(c)
    sleeper = _Sleeper(3)
    blocker = Process(("sh", "-c", "sleep 0.3; echo block"), stdout_handlers=[sleeper])
    other.start()
    blocker.start()
    try:
        assert sleeper.entered.wait(10)
        time.sleep(0.2)
        n0 = c.n
        time.sleep(1.5)  # the ticker prints 20 lines/s
        progressed = c.n - n0
    finally:
        finish(blocker)
        finish(other)
    assert progressed >= 10, "other process' handler saw %d lines in 1.5 s" % progressed


# ------------------------------------------------------ closed stdins


def test_writes_to_closed_stdins_set_write_error_no_exception():
    # child closed its stdin while running, many writes, many processes
    ps = [Process(("sh", "-c", "exec 0<&-; sleep 0.5"), nolog_write_error=True).start() for _ in range(20)]
    time.sleep(0.2)
    for p in ps:
        for _ in range(5):
            p.write("x" * 100000)  # must not raise
    for p in ps:
        finish(p)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not all(p.write_error for p in ps):
        time.sleep(0.05)
    for p in ps:
        assert p.write_error is True and p.ok is False
        assert p.exit_code == 0 and not p.error
    # we closed it ourselves: writing after close_stdin() does not raise either
    q = Process("cat", nolog_write_error=True).start()
    q.write("one\n")
    q.close_stdin()
    q.write("two\n")
    q.close_stdin()
    finish(q)
    assert q.stdout == "one\n"
    assert q.exit_code == 0
    assert_alive()


# ================================================================ item 6
# --------------------------------------------------- fork under load


def _read_all(fd, timeout):
    chunks = []
    deadline = time.monotonic() + timeout
    import select

    poller = select.poll()  # fds are above 1024 here: no select()
    poller.register(fd, select.POLLIN | select.POLLHUP)
    while time.monotonic() < deadline:
        if poller.poll(500):
            b = os.read(fd, 65536)
            if not b:
                break
            chunks.append(b)
    return b"".join(chunks).decode()


def test_fork_while_500_processes_run():
    n = 500
    # each child waits for its stdin to close: all still run when the fork
    # happens, however loaded the machine is
    ps = [Process(("sh", "-c", "read x; echo p%d" % i)) for i in range(n)]
    for p in ps:
        p.start()
    assert all(p.running for p in ps)
    rfd, wfd = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: fresh reactor, none of the parent's processes
        code = 1
        try:
            os.close(rfd)
            a = Process("echo child-a").run(20)
            b = Process(("sh", "-c", "echo two; exit 2"), nolog_exit_code=True).run(20)
            c = Process("cat").start()
            c.write("xyz\n")
            idx, _ = c.expect("xyz", timeout=10)
            c.close_stdin()
            c.wait(20)
            msg = "%r|%r|%r|%r|%r|%r" % (a.stdout, a.exit_code, b.stdout, b.exit_code, idx, c.finished_ok)
            os.write(wfd, msg.encode())
            code = 0
        except BaseException as e:
            try:
                os.write(wfd, ("EXC %r" % (e,)).encode())
            except BaseException:
                pass
        finally:
            os._exit(code)
    os.close(wfd)
    try:
        msg = _read_all(rfd, 40)
        _, status = os.waitpid(pid, 0)
    finally:
        os.close(rfd)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, msg
    assert msg == "%r|%r|%r|%r|%r|%r" % ("child-a\n", 0, "two\n", 2, 0, True)
    assert all(p.running for p in ps)  # the fork disturbed none of them
    for p in ps:
        p.close_stdin()
    for p in ps:
        finish(p, 60)
    bad = [(i, p) for i, p in enumerate(ps) if not (p.finished_ok and p.stdout == "p%d\n" % i and not p.killed)]
    assert not bad, bad[:5]
    assert_alive()


# ------------------------------------------------- thread pool of 32


def _worker(k):
    out = []
    c = Process("cat").start()
    try:
        for j in range(3):
            c.write("w%d-%d\n" % (k, j))
            idx, mo = c.expect([r"nomatch(\d)", r"w%d-(\d)" % k], timeout=20)
            out.append((idx, mo.group(1) if mo else None))
    finally:
        c.close_stdin()
        c.wait(30)
    e = Process(("sh", "-c", "echo t%d; exit %d" % (k, k % 3)), nolog_exit_code=True).run(30)
    with pytest.raises(re.error):
        Process("true").expect("(bad")
    return k, out, c.finished_ok, e.stdout, e.exit_code


def test_thread_pool_of_32_workers_runs_processes_and_expects():
    tasks = 96
    with concurrent.futures.ThreadPoolExecutor(max_workers=32) as ex:
        results = list(ex.map(_worker, range(tasks), timeout=90))
    assert len(results) == tasks
    for k, out, cat_ok, stdout, code in results:
        assert out == [(1, "0"), (1, "1"), (1, "2")], (k, out)
        assert cat_ok, k
        assert stdout == "t%d\n" % k and code == k % 3
    assert threading.active_count() < 40
    assert_alive()


def test_thread_pool_local_actions_and_expect_timeouts():
    def job(k):
        a = Local(("sh", "-c", "echo go%d; sleep 0.3; echo done" % k)).run(30)
        p = Process("cat", nolog_expect_fail=True).start()
        r = p.expect("never", timeout=0.3)
        p.close_stdin()
        p.wait(30)
        return k, a.ok, a.processes[0].stdout, r, p.expect_fail, p.finished_ok

    with concurrent.futures.ThreadPoolExecutor(max_workers=32) as ex:
        results = list(ex.map(job, range(64), timeout=90))
    for k, ok, stdout, r, ef, fok in results:
        assert ok and stdout == "go%d\ndone\n" % k
        assert r == (None, None) and ef is True and fok is False
    assert_alive()
