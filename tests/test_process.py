"""Tests of execo.process.ProcessBase / Process / get_process, written from
the API spec (docs/execo-api), with real processes (no mocks)."""

import errno
import gc
import hashlib
import locale
import logging
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
import weakref

import pytest
from helpers import finish, nfds, wait_until, zombies

import execo
from execo.config import configuration
from execo.handlers import ProcessLifecycleHandler, ProcessOutputHandler
from execo.process import Process, ProcessBase, get_process
from execo.report import Report

PY = sys.executable
ENC = locale.getpreferredencoding(False)
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

FLAGS = (
    "ignore_exit_code",
    "nolog_exit_code",
    "ignore_timeout",
    "nolog_timeout",
    "ignore_error",
    "nolog_error",
    "ignore_expect_fail",
    "nolog_expect_fail",
    "ignore_write_error",
    "nolog_write_error",
)


# ------------------------------------------------------------------ helpers


def pid_state(pid):
    """'gone', or the one-letter state of pid in /proc."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            data = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return "gone"
    return data[data.rindex(")") + 2]


def pid_dead(pid):
    return pid_state(pid) in ("gone", "Z", "X")


# ----------------------------------------------------- construction, attributes


def test_processbase_defaults():
    p = ProcessBase("echo hi")
    assert p.cmd == "echo hi"
    assert p.timeout is None
    for flag in FLAGS:
        assert getattr(p, flag) is False, flag
    assert p.default_expect_timeout is None
    assert p.default_stdout_handler is True
    assert p.default_stderr_handler is True
    assert list(p.lifecycle_handlers) == []
    assert list(p.stdout_handlers) == []
    assert list(p.stderr_handlers) == []
    assert isinstance(p.name, str) and p.name
    assert p.host is None
    assert p.started is False and p.ended is False
    assert p.start_date is None and p.end_date is None
    assert p.error is False and p.error_reason is None
    assert p.exit_code is None
    assert p.timeout_date is None
    assert not p.timeouted
    assert p.killed is False and p.forced_kill is False
    assert p.expect_fail is False and p.write_error is False
    assert not p.stdout and not p.stderr
    assert p.ok is True
    assert p.finished_ok is False
    assert p.running is False
    assert isinstance(p.started_event, threading.Event) and not p.started_event.is_set()
    assert isinstance(p.ended_event, threading.Event) and not p.ended_event.is_set()
    assert hasattr(p.started_condition, "wait") and hasattr(p.started_condition, "notify_all")
    assert hasattr(p.ended_condition, "wait") and hasattr(p.ended_condition, "notify_all")


def test_process_defaults():
    p = Process("echo hi")
    assert isinstance(p, ProcessBase)
    assert p.shell is False
    assert p.pty is False
    assert p.kill_subprocesses is None
    assert p.pid is None
    assert p.stdin_fd is None and p.stdout_fd is None and p.stderr_fd is None
    assert p.host is None
    assert p.timeout is None
    assert p.started is False and p.ended is False
    assert p.ok is True and p.finished_ok is False and p.running is False


def test_constructor_parameters_stored():
    lh = execo.ProcessLifecycleHandler()
    oh = execo.ProcessOutputHandler()
    eh = execo.ProcessOutputHandler()
    kw = dict((flag, True) for flag in FLAGS)
    p = Process(
        ("echo", "x"),
        shell=True,
        pty=True,
        kill_subprocesses=False,
        timeout=7,
        default_expect_timeout=3,
        default_stdout_handler=False,
        default_stderr_handler=False,
        lifecycle_handlers=[lh],
        stdout_handlers=[oh],
        stderr_handlers=[eh],
        name="myname",
        **kw,
    )
    assert p.cmd == ("echo", "x")
    assert p.shell is True and p.pty is True and p.kill_subprocesses is False
    assert p.timeout == 7
    assert p.default_expect_timeout == 3
    assert p.default_stdout_handler is False and p.default_stderr_handler is False
    assert list(p.lifecycle_handlers) == [lh]
    assert list(p.stdout_handlers) == [oh]
    assert list(p.stderr_handlers) == [eh]
    assert p.name == "myname"
    for flag in FLAGS:
        assert getattr(p, flag) is True, flag


def test_repr():
    assert repr(Process("iperf -s")) == "Process('iperf -s')"
    p = Process("sleep 30")
    assert repr(p.start()) == "Process('sleep 30')"
    assert repr(p.kill()) == "Process('sleep 30')"
    assert repr(finish(p)) == "Process('sleep 30')"
    assert repr(Process("ls", shell=True)).startswith("Process('ls'")
    assert "shell=True" in repr(Process("ls", shell=True))


def test_name_default_and_settable():
    p = Process("echo hello")
    assert isinstance(p.name, str) and p.name
    p.name = "other"
    assert p.name == "other"
    q = Process("echo hello", name="given")
    assert q.name == "given"
    q.run(5)
    assert q.name == "given"


def test_get_process():
    p = get_process("echo hi")
    assert type(p) is Process
    assert p.cmd == "echo hi"
    p = get_process("echo hi", shell=True, timeout=5)
    assert type(p) is Process and p.shell is True and p.timeout == 5
    finish(p.run())
    assert p.stdout == "hi\n"


def test_example_from_spec():
    server = Process("sleep 30")
    server.ignore_exit_code = server.nolog_exit_code = True
    assert server.start() is server
    client = Process("sleep 0.3").start()
    assert client.started is True
    assert client.ended is False
    assert client.wait(10) is client
    assert client.ended is True
    assert server.ended is False
    assert server.kill() is server
    assert server.wait(10) is server
    assert server.ended is True


# ------------------------------------------------------------ lifecycle API


def test_methods_return_self():
    p = Process("true")
    assert p.start() is p
    assert p.wait(10) is p
    assert p.ended
    assert p.reset() is p
    assert p.run(10) is p
    assert p.ended
    q = Process("sleep 30").start()
    assert q.kill() is q
    finish(q)


def test_attributes_lifecycle():
    p = Process("sleep 0.5")
    t0 = time.time()
    p.start()
    try:
        assert p.started is True
        assert p.ended is False
        assert p.running is True
        assert p.ok is True
        assert p.finished_ok is False
        assert isinstance(p.pid, int) and p.pid > 0
        assert p.start_date is not None and t0 - 1 <= p.start_date <= time.time() + 1
        assert p.end_date is None
        assert p.exit_code is None
        assert p.timeouted is None  # still running, no timeout reached
        assert p.started_event.is_set()
        assert not p.ended_event.is_set()
        assert p.stdin_fd is not None and p.stdout_fd is not None and p.stderr_fd is not None
    finally:
        finish(p)
    assert p.ended is True
    assert p.running is False
    assert p.end_date is not None and p.end_date >= p.start_date
    assert p.end_date - p.start_date >= 0.4
    assert p.exit_code == 0
    assert p.timeouted is False
    assert p.killed is False and p.forced_kill is False
    assert p.error is False and p.error_reason is None
    assert p.ok is True and p.finished_ok is True
    assert p.ended_event.is_set()


def test_start_twice_raises():
    p = Process("true").start()
    with pytest.raises(ValueError):
        p.start()
    finish(p)
    with pytest.raises(ValueError):
        p.start()


def test_wait_before_start_raises():
    p = Process("true")
    with pytest.raises(ValueError):
        p.wait()


def test_reset_and_restart():
    p = Process("echo again", ignore_exit_code=False)
    finish(p.run(10))
    assert p.stdout == "again\n"
    first_pid = p.pid
    p.reset()
    assert p.started is False and p.ended is False
    assert p.start_date is None and p.end_date is None
    assert p.exit_code is None
    assert p.pid is None
    assert not p.stdout and not p.stderr
    assert not p.started_event.is_set() and not p.ended_event.is_set()
    assert p.ok is True and p.finished_ok is False
    finish(p.run(10))
    assert p.finished_ok
    assert p.stdout == "again\n"
    assert p.pid != first_pid or p.pid is not None


def test_reset_running_kills_first():
    p = Process("sleep 30").start()
    pid = p.pid
    t0 = time.monotonic()
    p.reset()
    assert time.monotonic() - t0 < 10
    assert p.started is False and p.ended is False
    assert wait_until(lambda: pid_dead(pid))
    p.start()  # restartable
    assert p.running and p.pid is not None
    p.kill()
    finish(p)


# ---------------------------------------------------------------- ok semantics


def test_ok_exit_code():
    p = finish(Process("false").run(10))
    assert p.exit_code == 1
    assert p.ok is False and p.finished_ok is False
    p = finish(Process("sh -c 'exit 3'", ignore_exit_code=True).run(10))
    assert p.exit_code == 3
    assert p.ok is True and p.finished_ok is True


def test_exit_code_values():
    for code in (0, 1, 42, 255):
        p = finish(Process(("sh", "-c", "exit %d" % code), nolog_exit_code=True).run(10))
        assert p.exit_code == code


def test_ok_before_start_and_while_running():
    p = Process("false")
    assert p.ok is True and p.finished_ok is False
    p = Process("sh -c 'sleep 0.3; exit 1'").start()
    assert p.ok is True and p.finished_ok is False and p.running is True
    finish(p)
    assert p.ok is False and p.running is False


@pytest.mark.parametrize("cmd", ["/nonexistent/dir/no_such_cmd", "no_such_command_execo_xyz"])
def test_error_missing_executable(cmd):
    p = Process(cmd, nolog_error=True)
    p.start()  # no exception
    finish(p)
    assert p.error is True
    assert p.error_reason == errno.ENOENT
    assert p.ok is False
    assert p.finished_ok is False
    assert p.exit_code is None
    assert p.ended is True
    assert p.ended_event.is_set()


def test_error_missing_executable_run_and_ignore_error():
    p = Process("/nonexistent/dir/no_such_cmd", ignore_error=True, nolog_error=True)
    assert p.run(10) is p
    assert p.error is True and p.error_reason == errno.ENOENT
    assert p.ok is True
    assert p.finished_ok is True


def test_error_logged_unless_nolog(execo_log):
    finish(Process("/nonexistent/dir/no_such_cmd").run(5))
    n = len(execo_log.records)
    assert n >= 1 and any(r.levelno >= logging.WARNING for r in execo_log.records)
    execo_log.records.clear()
    finish(Process("/nonexistent/dir/no_such_cmd", nolog_error=True).run(5))
    assert not [r for r in execo_log.records if r.levelno >= logging.WARNING]


def test_exit_code_logged_unless_nolog(execo_log):
    finish(Process("false").run(5))
    assert any(r.levelno >= logging.WARNING for r in execo_log.records)
    execo_log.records.clear()
    finish(Process("false", nolog_exit_code=True).run(5))
    assert not [r for r in execo_log.records if r.levelno >= logging.WARNING]


# ------------------------------------------------------------------- cmd forms


def test_str_cmd_split_like_shlex():
    p = finish(Process("echo 'a  b'   \"c d\" $HOME").run(10))
    assert p.stdout == "a  b c d $HOME\n"


def test_tuple_cmd():
    p = finish(Process(("echo", "a  b", "$HOME", "'q'")).run(10))
    assert p.stdout == "a  b $HOME 'q'\n"


def test_shell_true():
    p = finish(Process("echo $((1+2)) | tr 3 X; echo out2 >&2", shell=True).run(10))
    assert p.stdout == "X\n"
    assert p.stderr == "out2\n"
    assert p.finished_ok
    q = finish(Process("echo $((1+2))").run(10))
    assert q.stdout == "$((1+2))\n"


def test_shell_true_exit_code():
    p = finish(Process("exit 7", shell=True, nolog_exit_code=True).run(10))
    assert p.exit_code == 7 and not p.ok


# --------------------------------------------------------------------- timeout


def test_timeout():
    p = Process("sleep 100", timeout=1, nolog_timeout=True)
    t0 = time.monotonic()
    p.start()
    assert p.timeout_date is not None
    assert abs(p.timeout_date - (p.start_date + 1)) < 0.01
    finish(p, 10)
    elapsed = time.monotonic() - t0
    assert 0.9 <= elapsed < 2.0
    assert p.timeouted is True
    assert p.ok is False and p.finished_ok is False
    assert p.ended


def test_timeout_ignored():
    p = Process("sleep 100", timeout=1, ignore_timeout=True, nolog_timeout=True)
    t0 = time.monotonic()
    finish(p.run(), 10)
    assert time.monotonic() - t0 < 2.0
    assert p.timeouted is True
    assert p.ok is True and p.finished_ok is True


def test_timeout_not_reached():
    p = finish(Process("true", timeout=10).run())
    assert p.timeouted is False
    assert p.finished_ok


def test_timeout_shell_kills_tree():
    t0 = time.monotonic()
    p = finish(Process("sleep 100; echo never", shell=True, timeout=1, nolog_timeout=True).run(), 10)
    assert time.monotonic() - t0 < 2.0
    assert p.timeouted is True and "never" not in p.stdout


def test_timeout_logged_unless_nolog(execo_log):
    finish(Process("sleep 100", timeout=0.3).run(), 10)
    assert any(r.levelno >= logging.WARNING for r in execo_log.records)
    execo_log.records.clear()
    finish(Process("sleep 100", timeout=0.3, nolog_timeout=True).run(), 10)
    assert not [r for r in execo_log.records if r.levelno >= logging.WARNING]


def test_run_with_wait_timeout_returns_early():
    p = Process("sleep 30")
    t0 = time.monotonic()
    assert p.run(timeout=0.5) is p
    assert time.monotonic() - t0 < 3
    assert p.running and not p.ended
    p.kill()
    finish(p)


# ------------------------------------------------------------------------ kill

TERM_REPORTER = textwrap.dedent("""
    import signal, sys, time
    def h(sig, frame):
        print("got", sig, flush=True)
        sys.exit(3)
    signal.signal(signal.SIGTERM, h)
    signal.signal(signal.SIGUSR1, h)
    print("ready", flush=True)
    time.sleep(30)
""")

IGNORE_TERM = textwrap.dedent("""
    import signal, time
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    print("ready", flush=True)
    time.sleep(30)
""")


def test_kill_default_sigterm():
    p = Process((PY, "-c", TERM_REPORTER)).start()
    assert p.expect("ready", timeout=10)[0] == 0
    p.kill()
    finish(p, 10)
    assert "got %d" % signal.SIGTERM in p.stdout
    assert p.exit_code == 3
    assert p.killed is True
    assert p.ok is True  # signals sent by kill ignore the exit code
    assert p.finished_ok is True
    assert p.forced_kill is False


def test_kill_other_signal():
    p = Process((PY, "-c", TERM_REPORTER)).start()
    assert p.expect("ready", timeout=10)[0] == 0
    p.kill(signal.SIGUSR1)
    finish(p, 10)
    assert "got %d" % signal.SIGUSR1 in p.stdout
    assert p.killed is True and p.ok is True


def test_kill_sleep_exit_code():
    p = Process("sleep 30").start()
    p.kill()
    finish(p, 10)
    assert p.killed is True
    assert p.exit_code == -signal.SIGTERM
    assert p.ok is True and p.timeouted is False


def test_kill_no_log_of_exit_code(execo_log):
    p = Process("sleep 30").start()
    p.kill()
    finish(p, 10)
    assert not [r for r in execo_log.records if r.levelno >= logging.WARNING]


def test_forced_kill_after_auto_force_kill_timeout():
    p = Process((PY, "-c", IGNORE_TERM)).start()
    assert p.expect("ready", timeout=10)[0] == 0
    t0 = time.monotonic()
    p.kill(auto_force_kill_timeout=1)
    p.wait(10)
    elapsed = time.monotonic() - t0
    assert p.ended
    assert 0.9 <= elapsed < 2.5
    assert p.killed is True
    assert p.forced_kill is True
    assert p.exit_code == -signal.SIGKILL
    assert p.ok is True


IGNORE_INT = textwrap.dedent("""
    import signal, time
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    print("ready", flush=True)
    time.sleep(30)
""")


def test_forced_kill_after_sigint():
    p = Process((PY, "-c", IGNORE_INT)).start()
    assert p.expect("ready", timeout=10)[0] == 0
    t0 = time.monotonic()
    p.kill(signal.SIGINT, auto_force_kill_timeout=1)
    p.wait(10)
    assert p.ended and 0.9 <= time.monotonic() - t0 < 2.5
    assert p.forced_kill is True and p.killed is True and p.ok is True


def test_no_forced_kill_when_disabled():
    p = Process((PY, "-c", IGNORE_TERM)).start()
    try:
        assert p.expect("ready", timeout=10)[0] == 0
        p.kill(auto_force_kill_timeout=False)
        p.wait(1.2)
        assert not p.ended
        assert p.forced_kill is False
    finally:
        p.kill(signal.SIGKILL)
        finish(p)
    assert p.exit_code == -signal.SIGKILL


def test_forced_kill_config_kill_timeout(saved_config):
    configuration["kill_timeout"] = 1
    p = Process((PY, "-c", IGNORE_TERM)).start()
    assert p.expect("ready", timeout=10)[0] == 0
    t0 = time.monotonic()
    p.kill()
    p.wait(10)
    assert p.ended and time.monotonic() - t0 < 2.5
    assert p.forced_kill is True


def test_timeout_then_forced_kill(saved_config):
    configuration["kill_timeout"] = 1
    p = Process((PY, "-c", IGNORE_TERM), timeout=1, nolog_timeout=True).start()
    t0 = time.monotonic()
    p.wait(10)
    assert p.ended and time.monotonic() - t0 < 3.5
    assert p.timeouted is True and p.forced_kill is True
    assert p.ok is False


def _pidfile_process(tmp_path, **kw):
    pidfile = tmp_path / "gc.pid"
    p = Process("sleep 60 >/dev/null 2>&1 & echo $! > %s; wait" % pidfile, shell=True, **kw).start()
    assert wait_until(lambda: pidfile.exists() and pidfile.read_text().strip(), 10)
    return p, int(pidfile.read_text().strip())


def test_kill_shell_kills_grandchildren(tmp_path):
    p, gc = _pidfile_process(tmp_path)
    assert not pid_dead(gc)
    p.kill()
    finish(p, 10)
    assert wait_until(lambda: pid_dead(gc), 5), "grandchild %d still alive" % gc


def test_kill_subprocesses_true_without_shell(tmp_path):
    pidfile = tmp_path / "gc.pid"
    p = Process(("sh", "-c", "sleep 60 & echo $! > %s; wait" % pidfile), kill_subprocesses=True).start()
    assert wait_until(lambda: pidfile.exists() and pidfile.read_text().strip(), 10)
    gc = int(pidfile.read_text().strip())
    p.kill()
    finish(p, 10)
    assert wait_until(lambda: pid_dead(gc), 5)


def test_kill_subprocesses_false_with_shell(tmp_path):
    p, gc = _pidfile_process(tmp_path, kill_subprocesses=False)
    try:
        p.kill()
        finish(p, 10)
        # only the shell got the signal: its child survives
        assert not pid_dead(gc)
    finally:
        try:
            os.kill(gc, signal.SIGKILL)
        except ProcessLookupError:
            pass


def test_context_manager_kills():
    with Process("sleep 30").start() as p:
        assert p.running
        pid = p.pid
    p.wait(10)
    assert p.ended and p.killed
    assert wait_until(lambda: pid_dead(pid))


def test_context_manager_kills_on_exception():
    with pytest.raises(RuntimeError):
        with Process("sleep 30").start() as p:
            raise RuntimeError("boom")
    finish(p, 10)
    assert p.killed


def test_kill_ended_process_is_harmless():
    p = finish(Process("true").run(10))
    assert p.kill() is p
    assert p.ok and p.exit_code == 0


# --------------------------------------------------------------------- pty


def test_pty_child_sees_tty():
    p = finish(Process(("sh", "-c", "test -t 0 && test -t 1 && ! test -t 2 && tty"), pty=True).run(10))
    assert p.exit_code == 0, (p.stdout, p.stderr)
    assert "/dev/" in p.stdout


def test_no_pty_child_sees_pipes():
    p = finish(Process(("sh", "-c", "test -t 0 || test -t 1 || test -t 2 || echo notty"), nolog_exit_code=True).run(10))
    assert p.stdout == "notty\n"


def test_pty_stderr_is_separate_pipe():
    p = finish(Process(("sh", "-c", "echo out; echo err >&2"), pty=True).run(10))
    assert "err" not in p.stdout
    assert p.stderr == "err\n"
    assert "out" in p.stdout


def test_pty_session_leader():
    p = finish(Process((PY, "-c", "import os; print(os.getsid(0) == os.getpid())"), pty=True).run(10))
    assert p.stdout.strip() == "True"


def test_pty_kill():
    p = Process("sleep 30", pty=True).start()
    p.kill()
    finish(p, 10)
    assert p.killed and p.ok


# --------------------------------------------------------------------- stdin


def test_write_to_cat_echoes():
    p = Process("cat").start()
    try:
        p.write("hello world\n")
        idx, mo = p.expect("hello (w\\w+)", timeout=10)
        assert idx == 0 and mo.group(1) == "world"
    finally:
        p.kill()
        finish(p)


def test_print_to_process():
    p = Process("cat").start()
    try:
        print("printed line", file=p)
        if hasattr(p, "flush"):
            p.flush()
        assert p.expect("printed line\n", timeout=10)[0] == 0
    finally:
        p.kill()
        finish(p)


def test_close_stdin():
    if not hasattr(Process, "close_stdin"):
        pytest.skip("Process has no close_stdin")
    p = Process("cat").start()
    p.write("abc\n")
    p.write("def")
    p.close_stdin()
    finish(p, 10)
    assert p.stdout == "abc\ndef"
    assert p.finished_ok


def test_write_large_input():
    data = "".join("line %06d\n" % i for i in range(100000))  # ~1.2 MB, > pipe buffer
    p = Process("cat").start()
    p.write(data)
    p.close_stdin() if hasattr(p, "close_stdin") else None
    if not hasattr(p, "close_stdin"):
        p.expect("line 099999\n", timeout=20)
        p.kill()
    finish(p, 20)
    assert p.stdout == data


def test_write_to_ended_process_sets_write_error():
    p = finish(Process("true", nolog_write_error=True).run(10))
    assert p.ok
    p.write("data\n")
    assert wait_until(lambda: p.write_error, 5)
    assert p.write_error is True
    assert p.ok is False
    assert p.finished_ok is False


def test_write_error_ignored():
    p = finish(Process("true", ignore_write_error=True, nolog_write_error=True).run(10))
    p.write("data\n")
    assert wait_until(lambda: p.write_error, 5)
    assert p.ok is True and p.finished_ok is True


def test_write_to_process_not_reading_stdin_that_exits():
    # process closes its stdin then exits: the write fails with EPIPE
    p = Process(("sh", "-c", "exec 0<&-; sleep 0.3"), nolog_write_error=True).start()
    time.sleep(0.1)
    p.write("x" * 200000)
    finish(p, 10)
    assert wait_until(lambda: p.write_error, 5)
    assert p.ok is False


# -------------------------------------------------------------------- output


def test_stdout_stderr_separate():
    p = finish(Process(("sh", "-c", "echo out1; echo err1 >&2; echo out2; echo err2 >&2")).run(10))
    assert p.stdout == "out1\nout2\n"
    assert p.stderr == "err1\nerr2\n"


def test_default_stdout_handler_false():
    p = finish(Process(("sh", "-c", "echo out; echo err >&2"), default_stdout_handler=False).run(10))
    assert not p.stdout
    assert p.stderr == "err\n"
    q = finish(Process(("sh", "-c", "echo out; echo err >&2"), default_stderr_handler=False).run(10))
    assert q.stdout == "out\n"
    assert not q.stderr


def test_output_100mb_byte_exact():
    n = 100_000_000
    script = textwrap.dedent(
        """
        import hashlib, sys
        n = %d
        h = hashlib.sha256()
        block = bytes(range(256)) * 4096
        out = sys.stdout.buffer
        i = 0
        sent = 0
        while sent < n:
            b = (b"%%d:" %% i) + block
            b = b[:n - sent]
            h.update(b)
            out.write(b)
            sent += len(b)
            i += 1
        out.flush()
        sys.stderr.write(h.hexdigest())
    """
        % n
    )
    p = Process((PY, "-c", script)).start()
    finish(p, 60)
    assert p.finished_ok, p.stderr[:500]
    raw = p.stdout.encode(ENC, "surrogateescape")
    assert len(raw) == n
    assert hashlib.sha256(raw).hexdigest() == p.stderr


def test_non_utf8_bytes_round_trip():
    data = bytes(range(256)) + b"\xff\xfe\xc3\x28\xa0\xa1\xe2\x28\xa1\xf0\x90\x28\xbc" + "é€😀".encode()
    p = finish(
        Process(
            (PY, "-c", "import sys; sys.stdout.buffer.write(%r); sys.stderr.buffer.write(%r)" % (data, data[::-1]))
        ).run(10)
    )
    assert p.stdout.encode(ENC, "surrogateescape") == data
    assert p.stderr.encode(ENC, "surrogateescape") == data[::-1]


def test_multibyte_char_split_across_reads():
    # a utf-8 char cut between two writes separated by a sleep
    script = (
        "import sys, time; o = sys.stdout.buffer; e = 'é€'.encode();"
        "o.write(e[:1]); o.flush(); time.sleep(0.3); o.write(e[1:3]); o.flush();"
        "time.sleep(0.3); o.write(e[3:]); o.flush()"
    )
    p = finish(Process((PY, "-c", script)).run(10))
    assert p.stdout == "é€"


def test_large_ascii_stdout_then_non_ascii_tail():
    # ASCII for megabytes, then one non-ASCII byte at the very end: the
    # text must still be decoded, not taken as ASCII
    script = (
        "import sys; o = sys.stdout.buffer; o.write(b'a' * 3000000); o.flush();o.write('\u00e9'.encode() + b'\\xff')"
    )
    p = finish(Process((PY, "-c", script)).run(30))
    assert len(p.stdout) == 3000002
    assert p.stdout.endswith("a\u00e9\udcff") and p.stdout.count("a") == 3000000


def test_stdout_read_during_and_after_output_is_whole():
    p = Process(("sh", "-c", "echo first; sleep 0.5; head -c 2000000 /dev/zero | tr '\\0' z; echo")).start()
    assert wait_until(lambda: p.stdout == "first\n", 10)
    finish(p)
    assert p.stdout == "first\n" + "z" * 2000000 + "\n"
    assert p.stdout is p.stdout  # decoded once, cached


def test_stdout_set_by_user_then_more_output_appended():
    p = Process(("sh", "-c", "echo one; sleep 0.5; echo two")).start()
    assert wait_until(lambda: p.stdout == "one\n", 10)
    p.stdout = "replaced\n"
    finish(p)
    assert p.stdout == "replaced\ntwo\n"


def test_stdout_readable_while_running():
    p = Process(("sh", "-c", "echo first; exec sleep 30")).start()
    try:
        assert wait_until(lambda: p.stdout == "first\n", 10)
    finally:
        p.kill()
        finish(p)


# --------------------------------------------------------------- stats, events


def test_stats_keys_and_counts():
    keys = set(Report.empty_stats())
    okp = finish(Process("true").run(10))
    s = okp.stats()
    assert set(s) == keys
    assert s["num_processes"] == 1 and s["num_started"] == 1 and s["num_ended"] == 1
    assert s["num_ok"] == 1 and s["num_finished_ok"] == 1
    assert s["num_errors"] == 0 and s["num_timeouts"] == 0 and s["num_forced_kills"] == 0
    assert s["num_non_zero_exit_codes"] == 0
    assert s["num_expect_fail"] == 0 and s["num_write_error"] == 0
    assert s["start_date"] == okp.start_date and s["end_date"] == okp.end_date
    # as in execo 2.8.2: the process's name, no sub-entries
    assert s["name"] == okp.name == "true" and s["sub_stats"] == []

    errp = finish(Process("/nonexistent/no_such_cmd", nolog_error=True).run(10))
    s = errp.stats()
    assert set(s) == keys
    assert s["num_errors"] == 1 and s["num_ok"] == 0 and s["num_finished_ok"] == 0
    assert s["num_timeouts"] == 0
    assert s["num_non_zero_exit_codes"] == 0

    top = finish(Process("sleep 100", timeout=0.3, nolog_timeout=True).run(), 10)
    s = top.stats()
    assert set(s) == keys
    assert s["num_timeouts"] == 1 and s["num_ok"] == 0 and s["num_finished_ok"] == 0
    assert s["num_errors"] == 0 and s["num_ended"] == 1

    nz = finish(Process("false", nolog_exit_code=True).run(10))
    s = nz.stats()
    assert s["num_non_zero_exit_codes"] == 1 and s["num_ok"] == 0 and s["num_finished_ok"] == 0

    fresh = Process("true").stats()
    assert set(fresh) == keys
    assert fresh["num_processes"] == 1 and fresh["num_started"] == 0 and fresh["num_ended"] == 0
    assert fresh["num_ok"] == 1 and fresh["num_finished_ok"] == 0
    assert fresh["start_date"] is None and fresh["end_date"] is None


def test_stats_in_report():
    ps = [finish(Process("true").run(10)), finish(Process("false", nolog_exit_code=True).run(10))]
    r = Report(ps)
    s = r.stats()
    assert s["num_processes"] == 2 and s["num_ok"] == 1 and s["num_non_zero_exit_codes"] == 1


def test_events_and_conditions():
    p = Process("sleep 0.5")
    seen = []

    def waiter():
        with p.ended_condition:
            seen.append(p.ended_condition.wait_for(lambda: p.ended, timeout=10))

    t = threading.Thread(target=waiter)
    t.start()
    p.start()
    assert p.started_event.wait(5)
    assert p.ended_event.wait(10)
    t.join(10)
    assert seen == [True]
    assert p.ended


def test_started_condition_notified():
    p = Process("true")
    seen = []

    def waiter():
        with p.started_condition:
            seen.append(p.started_condition.wait_for(lambda: p.started, timeout=10))

    t = threading.Thread(target=waiter)
    t.start()
    time.sleep(0.1)
    p.start()
    t.join(10)
    finish(p)
    assert seen == [True]


def test_conditions_made_on_first_use_are_shared_and_notified():
    """started_condition and ended_condition are made when first used (most
    processes never use them): every thread gets the same one, waiters are
    woken by the end (not by their timeout), and one first used after the
    end sees it at once."""
    p = Process("sleep 0.2")
    conds, woken = [], []
    ready = threading.Barrier(9)

    def waiter():
        ready.wait(10)
        c = p.ended_condition
        conds.append(c)
        with c:
            woken.append(c.wait_for(lambda: p.ended, timeout=120))

    threads = [threading.Thread(target=waiter, daemon=True) for _ in range(8)]
    for t in threads:
        t.start()
    ready.wait(10)
    p.start()
    deadline = time.monotonic() + 60  # (their own timeout is 120 s)
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    assert not any(t.is_alive() for t in threads), "a waiter of ended_condition was not notified"
    assert woken == [True] * 8 and len({id(c) for c in conds}) == 1
    assert p.ended_condition is conds[0] and p.started_condition is p.started_condition
    late = Process("true").run()
    with late.started_condition:
        assert late.started_condition.wait_for(lambda: late.started, timeout=0)
    mine = threading.Condition()
    late.ended_condition = mine  # assignable, as the attribute it was
    assert late.ended_condition is mine


def test_events_made_on_first_use_follow_the_process():
    """started_event and ended_event are made when first used: one made
    after the start or the end is already set, one made before is set by
    them, reset() clears both, and they stay assignable."""
    p = Process("true").run()
    assert p.started_event.is_set() and p.ended_event.is_set()  # made after the end
    q = Process("sleep 0.2")
    before = q.ended_event
    assert not before.is_set() and not q.started_event.is_set()
    q.start()
    assert q.started_event.is_set() and not q.ended
    assert before.wait(60) and q.ended and q.ended_event is before
    q.reset()
    assert not q.started_event.is_set() and not q.ended_event.is_set() and q.ended_event is before
    q.run()
    assert before.is_set()
    mine = threading.Event()
    q.started_event = mine
    assert q.started_event is mine


def _bounded_thread(fn, timeout=1.5):
    res = []

    def target():
        res.append(fn())

    t = threading.Thread(target=target, daemon=True)
    t.start()
    t.join(timeout)
    assert not t.is_alive(), "deadlock: call did not return within %ss" % timeout
    return res[0]


def test_started_condition_held_while_starting():
    """The usual condition pattern: hold the condition, start, wait on it."""
    p = Process("true")

    def use():
        with p.started_condition:
            p.start()
            p.started_condition.wait_for(lambda: p.started, 5)
        return p.started

    assert _bounded_thread(use) is True
    finish(p)


def test_ended_condition_held_while_starting():
    p = Process("sleep 0.2")

    def use():
        with p.ended_condition:
            p.start()
            return p.ended_condition.wait_for(lambda: p.ended, 10)

    assert _bounded_thread(use, 15) is True


def test_ended_condition_held_while_starting_error_process():
    p = Process("/nonexistent/no_such_cmd", nolog_error=True)

    def use():
        with p.ended_condition:
            p.start()
            return p.ended_condition.wait_for(lambda: p.ended, 5)

    assert _bounded_thread(use) is True
    assert p.error


# --------------------------------------------------------- scale, fds, zombies


def test_2000_true_at_once():
    ps = [Process("true") for _ in range(2000)]
    for p in ps:
        p.start()
    for p in ps:
        p.wait(60)
    assert all(p.ended for p in ps)
    bad = [p for p in ps if not p.finished_ok]
    assert not bad, str(bad[0]) if bad else ""


def test_no_fd_leak_no_zombie():
    # warm up (lazy init of anything)
    finish(Process("true").run(10))
    before = nfds()
    ps = [Process(("sh", "-c", "echo o; echo e >&2")) for _ in range(1000)]
    for p in ps:
        p.start()
    for p in ps:
        p.wait(60)
    assert all(p.finished_ok for p in ps)
    assert all(p.stdout == "o\n" and p.stderr == "e\n" for p in ps)
    assert wait_until(lambda: nfds() <= before + 3, 5), (before, nfds())
    assert wait_until(lambda: not zombies(), 5), zombies()


def test_no_fd_leak_with_errors_kills_timeouts_pty():
    finish(Process("true", pty=True).run(10))
    before = nfds()
    ps = []
    for _i in range(20):
        ps.append(Process("/nonexistent/x", nolog_error=True))
        ps.append(Process("sleep 30"))
        ps.append(Process("sleep 30", timeout=0.2, nolog_timeout=True))
        ps.append(Process("echo pty", pty=True))
        ps.append(Process("sleep 0.2 & echo x", shell=True))
    for p in ps:
        p.start()
    for p in ps:
        if p.cmd == "sleep 30" and not p.timeout:
            p.kill()
    for p in ps:
        finish(p, 20)
    assert wait_until(lambda: nfds() <= before + 3, 5), (before, nfds())
    assert wait_until(lambda: not zombies(), 5), zombies()


def test_near_the_fd_limit_children_cost_three_fds():
    # with a 2000-fd table, 4 fds per child would allow < 500 children;
    # past 3/4 of the table, children are reaped through SIGCHLD (no
    # pidfd), so more fit; the one that does not fit within the fd budget
    # (execo.start_queue) is queued, not failed; all the others are
    # reaped normally, and the queued one, killed, is never spawned
    script = textwrap.dedent("""
        import resource
        resource.setrlimit(resource.RLIMIT_NOFILE, (2000, 2000))
        import errno, execo
        ps = []
        while True:
            p = execo.Process("sleep 60").start()
            assert not p.error, p.error_reason
            if p.queued:
                break
            ps.append(p)
        p.kill()
        p.wait(60)
        assert p.ended and p.killed and p.pid is None and not p.queued, p
        for q in ps:
            q.kill()
        for q in ps:
            q.wait(60)
        assert all(q.ended and q.killed and q.exit_code == -15 for q in ps)
        print(len(ps))
    """)
    r = subprocess.run(
        [PY, "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)),
    )
    assert r.returncode == 0, r.stderr[-2000:]
    n = int(r.stdout.split()[-1])
    assert n > 2000 // 4, n


def test_end_with_background_grandchild_holding_pipes():
    # the shell exits while its background child keeps stdout open: the
    # process must still end (bounded), with what was output
    t0 = time.monotonic()
    p = finish(Process("sleep 20 & echo done", shell=True).run(), 15)
    assert p.stdout.startswith("done")
    assert p.exit_code == 0
    assert time.monotonic() - t0 < 10


def _count_end_checks(p):
    """The results of p's end checks (ProcessBase._maybe_ended), as they run."""
    checks = []
    check = p._maybe_ended

    def counted():
        checks.append(check())
        return checks[-1]

    p._maybe_ended = counted
    return checks


@pytest.mark.parametrize("wait_in", ["reactor", "caller"])
def test_end_waits_for_the_exit_after_the_eofs(wait_in):
    # the output closes long before the exit: the eofs post no end check
    # of their own (Process._eof_may_end), the exit's check ends it, once,
    # whether the reactor or the waiting thread (run) serves the child
    ends = []

    class End(ProcessLifecycleHandler):
        def end(self, process):
            ends.append((process.exit_code, process.stdout, process.stderr))

    p = Process("echo out; echo err >&2; exec >&- 2>&-; sleep 0.3; exit 3", shell=True)
    p.lifecycle_handlers.append(End())
    p.ignore_exit_code = p.nolog_exit_code = True
    checks = _count_end_checks(p)
    if wait_in == "reactor":
        p.start()
        assert wait_until(lambda: p._streams[execo.process.STDOUT].eof_read, 10)
        assert not p.ended and p.exit_code is None
        finish(p, 10)
    else:
        finish(p.run(), 10)
    assert p.ended and p.exit_code == 3
    assert ends == [(3, "out\n", "err\n")]
    assert checks == [True]


@pytest.mark.parametrize("wait_in", ["reactor", "caller"])
def test_end_waits_for_the_eofs_after_the_exit(wait_in):
    # the reverse order: the shell exits, its background child writes and
    # closes the pipes 0.3 s later (within EOF_GRACE_AFTER_EXIT): the last
    # eof, with the exit status known, ends it
    ends = []

    class End(ProcessLifecycleHandler):
        def end(self, process):
            ends.append((process.exit_code, process.stdout))

    p = Process("(sleep 0.3; echo late) & exit 3", shell=True)
    p.lifecycle_handlers.append(End())
    p.ignore_exit_code = p.nolog_exit_code = True
    checks = _count_end_checks(p)
    if wait_in == "reactor":
        p.start()
        assert wait_until(lambda: p._exit_status is not None, 10)
        assert not p.ended
        finish(p, 10)
    else:
        finish(p.run(), 10)
    assert p.ended and p.exit_code == 3
    assert ends == [(3, "late\n")]
    # neither the exit (streams open) nor the first of the two eofs (the
    # other stream open) posts a check: only the last eof
    assert checks == [True]


# ------------------------------------------------------------ SIGINT and fork

SIGINT_SCRIPT = textwrap.dedent("""
    import sys
    import execo
    p = execo.Process("sleep 30").start()
    print(p.pid, flush=True)
    p.wait()
    print("wait returned", flush=True)
""")


def test_sigint_interrupts_wait_in_main_thread():
    env = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""))
    child = subprocess.Popen(
        [PY, "-c", SIGINT_SCRIPT], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True
    )
    try:
        line = child.stdout.readline()
        sleep_pid = int(line.strip())
        time.sleep(1)
        t0 = time.monotonic()
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=10)
        elapsed = time.monotonic() - t0
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert elapsed < 4
    assert "KeyboardInterrupt" in err
    assert "wait returned" not in out
    assert child.returncode != 0
    assert wait_until(lambda: pid_dead(sleep_pid), 5), "sleep %d left behind" % sleep_pid


def test_kill_childs_at_end_on_normal_exit():
    env = dict(os.environ, PYTHONPATH=REPO)
    script = "import execo; p = execo.Process('sleep 30').start(); print(p.pid, flush=True)"
    r = subprocess.run([PY, "-c", script], capture_output=True, text=True, env=env, timeout=20)
    pid = int(r.stdout.strip())
    assert wait_until(lambda: pid_dead(pid), 5)


def test_forked_child_can_run_processes():
    rfd, wfd = os.pipe()
    parent_p = Process("sh -c 'sleep 0.5; echo parent'").start()
    pid = os.fork()
    if pid == 0:  # child
        code = 1
        try:
            os.close(rfd)
            p = Process("echo hi").run(10)
            q = Process(("sh", "-c", "echo two; exit 2"), nolog_exit_code=True).run(10)
            msg = "%r|%r|%r|%r" % (p.stdout, p.exit_code, q.stdout, q.exit_code)
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
        chunks = []
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            b = os.read(rfd, 4096)
            if not b:
                break
            chunks.append(b)
        _, status = os.waitpid(pid, 0)
    finally:
        os.close(rfd)
    msg = b"".join(chunks).decode()
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, msg
    assert msg == "%r|%r|%r|%r" % ("hi\n", 0, "two\n", 2)
    # the parent still works
    finish(parent_p, 10)
    assert parent_p.stdout == "parent\n" and parent_p.finished_ok
    assert finish(Process("echo after").run(10)).stdout == "after\n"


SIGINT_EXPECT_SCRIPT = textwrap.dedent("""
    import execo
    p = execo.Process("sleep 30").start()
    print(p.pid, flush=True)
    p.expect("never", timeout=None)
    print("expect returned", flush=True)
""")


def test_sigint_interrupts_expect_in_main_thread():
    env = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""))
    child = subprocess.Popen(
        [PY, "-c", SIGINT_EXPECT_SCRIPT], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True
    )
    try:
        sleep_pid = int(child.stdout.readline().strip())
        time.sleep(0.5)
        t0 = time.monotonic()
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=10)
        elapsed = time.monotonic() - t0
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert elapsed < 4
    assert "KeyboardInterrupt" in err
    assert "expect returned" not in out
    assert wait_until(lambda: pid_dead(sleep_pid), 5)


FORK_EXIT_SCRIPT = textwrap.dedent("""
    import os, sys, time
    import execo
    parent_p = execo.Process("sleep 30").start()
    pid = os.fork()
    if pid == 0:
        p = execo.Process("echo from-child").run(10)
        sys.stdout.write("child:" + p.stdout)
        sys.stdout.flush()
        sys.exit(0)   # normal exit: atexit hooks run in the child
    _, status = os.waitpid(pid, 0)
    time.sleep(0.3)
    print("child-status", os.WEXITSTATUS(status))
    print("parent-running", parent_p.running)
    parent_p.kill()
    parent_p.wait(10)
    print("parent-killed", parent_p.ended, parent_p.killed)
""")


def test_fork_child_exit_does_not_kill_parent_processes():
    env = dict(os.environ, PYTHONPATH=REPO)
    r = subprocess.run([PY, "-c", FORK_EXIT_SCRIPT], capture_output=True, text=True, env=env, timeout=30)
    assert "child:from-child" in r.stdout, r.stderr
    assert "child-status 0" in r.stdout
    assert "parent-running True" in r.stdout, r.stdout + r.stderr
    assert "parent-killed True True" in r.stdout


# ------------------------------------------------------------------- more


def test_eacces_non_executable(tmp_path):
    f = tmp_path / "notexec.sh"
    f.write_text("#!/bin/sh\necho hi\n")
    os.chmod(f, 0o644)
    p = finish(Process(str(f), nolog_error=True).run(10))
    assert p.error is True
    assert p.error_reason == errno.EACCES
    assert p.ok is False and p.exit_code is None


def test_expect_on_error_process_returns_none():
    p = Process("/nonexistent/cmd", nolog_error=True, nolog_expect_fail=True).start()
    res = []
    t = threading.Thread(target=lambda: res.append(p.expect("x", timeout=None)), daemon=True)
    t.start()
    t.join(5)
    assert res == [(None, None)]


def test_attributes_settable_after_construction():
    p = Process("sleep 100", nolog_timeout=True)
    p.timeout = 0.5
    t0 = time.monotonic()
    finish(p.run(), 10)
    assert time.monotonic() - t0 < 1.5
    assert p.timeouted is True and not p.ok
    p.ignore_timeout = True
    assert p.ok is True and p.finished_ok is True
    q = finish(Process("false", nolog_exit_code=True).run(10))
    assert not q.ok
    q.ignore_exit_code = True
    assert q.ok and q.finished_ok


def test_write_error_logged_unless_nolog(execo_log):
    p = finish(Process("true").run(10))
    p.write("x\n")
    assert wait_until(lambda: p.write_error, 5)
    assert any(r.levelno >= logging.WARNING for r in execo_log.records)
    execo_log.records.clear()
    q = finish(Process("true", nolog_write_error=True).run(10))
    q.write("x\n")
    assert wait_until(lambda: q.write_error, 5)
    assert not [r for r in execo_log.records if r.levelno >= logging.WARNING]


def test_many_concurrent_outputs_exact():
    n = 100
    size = 200_000
    ps = [Process("yes %d- | head -c %d; echo e%d >&2" % (i, size, i), shell=True) for i in range(n)]
    for p in ps:
        p.start()
    for p in ps:
        finish(p, 60)
    for i, p in enumerate(ps):
        assert p.stdout == ("%d-\n" % i * size)[:size]
        assert p.stderr == "e%d\n" % i


def test_end_handler_can_start_another_process():
    chained = []

    class Chain(execo.ProcessLifecycleHandler):
        def end(self, process):
            chained.append(Process("echo chained").start())

    p = finish(Process("true", lifecycle_handlers=[Chain()]).run(10))
    assert p.finished_ok
    assert wait_until(lambda: chained, 5)
    q = finish(chained[0], 10)
    assert q.stdout == "chained\n" and q.finished_ok


def test_output_handler_can_kill_and_read_process():
    seen = []

    class KillOnReady(execo.ProcessOutputHandler):
        def read(self, process, stream, string, eof, error):
            seen.append(process.stdout)  # reading stdout from a handler must not deadlock
            if "ready" in string:
                process.kill()

    p = finish(Process(("sh", "-c", "echo ready; exec sleep 30"), stdout_handlers=[KillOnReady()]).start(), 10)
    assert p.killed and p.ok
    assert p.stdout == "ready\n"


KILL_AT_END_SCRIPT = textwrap.dedent("""
    import sys, time
    import execo
    %s
    p = execo.Process("sleep 60 & echo $!; wait", shell=True).start()
    q = execo.Process("sleep 60").start()
    p.expect(r"\\d+", timeout=10)
    print(p.stdout.strip(), q.pid, flush=True)
""")


def _run_kill_at_end_script(tmp_path, pre=""):
    env = dict(os.environ, PYTHONPATH=REPO, HOME=str(tmp_path))
    r = subprocess.run([PY, "-c", KILL_AT_END_SCRIPT % pre], capture_output=True, text=True, env=env, timeout=30)
    gc, direct = [int(x) for x in r.stdout.split()]
    return gc, direct


def test_kill_childs_at_end_kills_grandchildren_in_group(tmp_path):
    gc, direct = _run_kill_at_end_script(tmp_path)
    assert wait_until(lambda: pid_dead(direct) and pid_dead(gc), 5), (pid_state(direct), pid_state(gc))


def test_kill_childs_at_end_change_after_import_ignored(tmp_path):
    gc, direct = _run_kill_at_end_script(tmp_path, "execo.configuration['kill_childs_at_end'] = False")
    assert wait_until(lambda: pid_dead(direct) and pid_dead(gc), 5)


def test_kill_childs_at_end_disabled_in_conf_file(tmp_path):
    (tmp_path / ".execo.conf.py").write_text("configuration = {'kill_childs_at_end': False}\n")
    gc, direct = _run_kill_at_end_script(tmp_path)
    try:
        time.sleep(0.5)
        assert not pid_dead(direct) and not pid_dead(gc)
    finally:
        for pid in (direct, gc):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


# ========================= wait() serves the process's fds itself (issue 18)
# The waiting thread reads the output, the eofs and the exit status itself
# (epoll backend, pidfd watcher): the end needs no hop through the reactor
# thread. These tests hold on every backend.


def test_wait_serves_output_and_end_in_the_calling_thread():
    ends = []

    class End(ProcessLifecycleHandler):
        _execo_inline = True  # (as execo's own handlers: runs where the end is found)

        def end(self, process):
            ends.append(threading.get_ident())

    p = Process("echo out; echo err >&2; exit 3", shell=True, ignore_exit_code=True, lifecycle_handlers=[End()])
    p.start().wait()
    assert p.ended and p.exit_code == 3 and p.stdout == "out\n" and p.stderr == "err\n"
    assert len(ends) == 1
    if configuration.get("poller", "epoll") != "poll" and configuration.get("child_watcher", "pidfd") != "sigchld":
        assert ends == [threading.get_ident()]


def test_wait_woken_at_once_when_a_handler_thread_ends_it():
    # a user lifecycle handler makes the end run in a handler thread: the
    # waiting thread's poll must be woken then (intr_period > the bound)
    class Slow(ProcessLifecycleHandler):
        def end(self, process):
            time.sleep(0.2)

    old = configuration["intr_period"]
    configuration["intr_period"] = 60
    try:
        for _ in range(5):
            p = Process("echo x", shell=True, lifecycle_handlers=[Slow()]).start()
            t = threading.Thread(target=p.wait)
            t0 = time.monotonic()
            t.start()
            t.join(10)
            assert not t.is_alive() and p.ended and p.ok
            assert time.monotonic() - t0 < 10
    finally:
        configuration["intr_period"] = old


def test_wait_from_several_threads_and_a_kill():
    p = Process("sleep 30", ignore_exit_code=True, nolog_exit_code=True).start()
    waiters = [threading.Thread(target=p.wait) for _ in range(4)]
    for t in waiters:
        t.start()
    time.sleep(0.2)
    p.kill()
    for t in waiters:
        t.join(10)
        assert not t.is_alive()
    assert p.ended and p.killed and p.exit_code == -signal.SIGTERM


def _eventfds():
    n = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            n += os.readlink("/proc/self/fd/" + fd) == "anon_inode:[eventfd]"
        except OSError:
            pass  # (the fd of the listing itself)
    return n


def test_waits_reuse_a_few_wakers_however_many_threads_waited():
    from execo import waiting

    Process("sleep 0.05").run()
    kept = list(waiting._spare_wakers)
    assert kept  # the waker of that wait, kept for the next one
    Process("sleep 0.05").run()
    assert waiting._spare_wakers == kept
    before = _eventfds()
    ps = [Process("sleep 0.3").start() for _ in range(12)]
    threads = [threading.Thread(target=p.wait) for p in ps]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
        assert not t.is_alive()
    assert all(p.ended and p.ok for p in ps)
    assert len(waiting._spare_wakers) <= waiting._SPARE_WAKERS
    # 12 wakers in use at once (the threads above overlap only where they
    # serve: not on the poll backend): a few are kept, the others closed
    wakers = [waiting._take_waker() for _ in range(12)]
    for w in wakers:
        waiting._put_back_waker(w)
    assert len(waiting._spare_wakers) == waiting._SPARE_WAKERS
    assert sum(w.fd >= 0 for w in wakers) == waiting._SPARE_WAKERS
    assert _eventfds() <= before + waiting._SPARE_WAKERS - len(kept)


def test_a_stale_wake_in_a_kept_waker_does_not_end_a_wait():
    from execo import waiting

    w = waiting._take_waker()
    w.wake()  # as a thread that saw the last wait still polling would
    waiting._put_back_waker(w)
    for _ in range(3):
        p = Process("sleep 0.2").start()
        p.wait()
        assert p.ended and p.ok


def test_a_forked_child_keeps_no_waker_of_its_parent():
    from execo import waiting

    Process("sleep 0.05").run()
    assert waiting._spare_wakers
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.write(w, str(len(waiting._spare_wakers)).encode())
        finally:
            os._exit(0)
    os.close(w)
    with os.fdopen(r) as f:
        assert f.read() == "0"
    os.waitpid(pid, 0)


def test_run_one_after_another_all_collected():
    for i in range(200):
        p = Process("echo %d; echo e%d >&2" % (i, i), shell=True).run()
        assert p.ok and p.stdout == "%d\n" % i and p.stderr == "e%d\n" % i


def _freed(make):
    """Whether the Process that ``make()`` returns (done with) is freed
    once its last reference is dropped, the garbage collector off: no
    reference cycle keeps it (or its buffers) until a collection, and no
    timer of the reactor either (the eof grace held it 2 s)."""
    ref = weakref.ref(make())
    # (the thread that ended it, the reactor's or a handler thread, may
    # still be returning from its last call a moment after wait())
    return wait_until(lambda: ref() is None, timeout=1.0, step=0.01)


def test_a_finished_process_is_freed_by_its_last_reference():
    class Lines(ProcessOutputHandler):
        def read_line(self, process, stream, line, eof, error):
            pass

    def killed():
        p = Process("sleep 10").start()
        return p.kill().wait()

    def handled():
        return Process("seq 3; echo e >&2", shell=True, stdout_handlers=[Lines()], stderr_handlers=[Lines()]).run()

    def restarted():
        p = Process("echo again").run()
        p.reset()
        return p.run()

    def handled_by_lifecycle():
        return Process("true", lifecycle_handlers=[ProcessLifecycleHandler()]).run()

    gc.collect()
    enabled = gc.isenabled()
    gc.disable()
    try:
        assert _freed(lambda: Process("echo out; echo err >&2", shell=True).run())
        # its exit comes before the eofs: the grace timer armed then is
        # cancelled at the end
        assert _freed(lambda: Process("(sleep 0.3; echo late) & echo now", shell=True).run())
        assert _freed(killed)
        assert _freed(handled)
        assert _freed(handled_by_lifecycle)
        assert _freed(restarted)
        # nor a cycle left behind among its parts (its streams)
        assert gc.collect() == 0
    finally:
        if enabled:
            gc.enable()


# ------------------------------------- run(): the child parked at its spawn
# run()'s wait() serves the child from its first moment: its fds never enter
# the reactor's poll set (Reactor.spawn's park). Whatever keeps that wait
# from taking them over hands them to the reactor instead.


def _run_in_thread(p):
    errors = []

    def go():
        try:
            p.run()
        except BaseException as e:  # (returned to the test, which checks it)
            errors.append(e)

    t = threading.Thread(target=go, daemon=True)
    t.start()
    t.join(30)
    assert not t.is_alive(), "run() hung"
    return errors


def test_run_serves_its_child_output_and_exit():
    for i in range(20):
        p = Process("echo out %d; echo err >&2; exit %d" % (i, i % 3), shell=True, ignore_exit_code=True)
        p.run()
        assert p.ended and p.exit_code == i % 3
        assert p.stdout == "out %d\n" % i and p.stderr == "err\n"


def test_run_without_a_fd_for_its_waker_leaves_the_child_to_the_reactor(monkeypatch):
    from execo import waiting

    def no_fd():
        raise OSError(errno.EMFILE, "Too many open files")

    monkeypatch.setattr(waiting, "_spare_wakers", [])
    monkeypatch.setattr(waiting, "_take_waker", no_fd)
    p = Process("echo hi")
    assert _run_in_thread(p) == []
    assert p.ended and p.ok and p.stdout == "hi\n"


def test_run_whose_wait_raises_leaves_the_child_to_the_reactor(monkeypatch):
    class Interrupted(Exception):
        pass

    def interrupted(self, timeout=None):
        raise Interrupted()

    p = Process("echo hi")
    monkeypatch.setattr(p, "wait", interrupted.__get__(p))
    errors = _run_in_thread(p)
    assert len(errors) == 1 and isinstance(errors[0], Interrupted)
    # nobody waits for it: the reactor reads and reaps it
    assert p.ended_event.wait(10)
    assert p.ok and p.stdout == "hi\n"
