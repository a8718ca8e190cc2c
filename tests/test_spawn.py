"""How children are made (src_c/exo_spawn.c): through clone3 where the
kernel allows it, else posix_spawn. Each test runs both ways, and checks
that the child is the same: its fds 0-2, process group or session,
signal dispositions and mask, and the errors of a failed exec (a PATH
search included), with nothing left behind, and a child without a pidfd
when the fd limit leaves none for it."""

import errno
import os
import platform
import resource
import signal
import stat
import sys
import threading

import pytest
from fixtures.reactor import Sink, running_reactor

import execo
from execo import _reactor

METHODS = ["clone3", "posix_spawn"]


def _clone3_here():
    """clone3 with CLONE_CLEAR_SIGHAND: x86-64 Linux 5.5+."""
    if not sys.platform.startswith("linux") or platform.machine() != "x86_64":
        return False
    major, minor = (int(x) for x in platform.release().split("-")[0].split(".")[:2])
    return (major, minor) >= (5, 5)


@pytest.fixture(params=METHODS)
def method(request):
    before = _reactor.spawn_method()
    if request.param == "clone3" and not _clone3_here():
        pytest.skip("spawning through clone3 needs x86-64 Linux 5.5+")
    _reactor._set_spawn_method(request.param)
    yield request.param
    # spawned the way asked for: a refused clone3 would have fallen back
    assert _reactor.spawn_method() == request.param
    _reactor._set_spawn_method(before)


@pytest.fixture(params=["pidfd", "sigchld"])
def reactor(request):
    with running_reactor("epoll", request.param) as r:
        yield r


def _run(reactor, argv, flags=_reactor.SPAWN_PATH | _reactor.SPAWN_NEW_PGROUP, **kw):
    s = Sink()
    child = reactor.spawn([a.encode() if isinstance(a, str) else a for a in argv], flags, s, **kw)
    if child.stdin_fd >= 0:
        child.close_stdin()
    assert s.done.wait(10)
    return child, s


def _status(text):
    """The signal masks of a /proc/PID/status, as ints."""
    fields = dict(line.split(":\t", 1) for line in text.splitlines() if ":\t" in line)
    return {k: int(fields[k], 16) for k in ("SigBlk", "SigIgn")}


def _bit(sig):
    return 1 << (sig - 1)


def test_the_default_is_clone3_where_the_kernel_has_it(request):
    chosen = request.config.getoption("--execo-spawn")  # (conftest.py)
    assert _reactor.spawn_method() == (chosen or ("clone3" if _clone3_here() else "posix_spawn"))
    with pytest.raises(ValueError):
        _reactor._set_spawn_method("fork")


def test_exit_code_and_outputs(method, reactor):
    s = Sink()
    child = reactor.spawn([b"/bin/sh", b"-c", b"read x; echo out; echo err >&2; exit 3"], _reactor.SPAWN_NEW_PGROUP, s)
    # a pidfd when reaped through one (clone3 makes it with the child)
    assert (child.pidfd >= 0) == (reactor.child_watcher == "pidfd")
    child.close_stdin()
    assert s.done.wait(10)
    assert (s.exit, s.out(1), s.out(2)) == (3, b"out\n", b"err\n")


def test_signal_dispositions_and_mask(method, reactor):
    # the parent ignores SIGHUP (kept ignored through exec, as with
    # subprocess), handles SIGUSR1, ignores SIGPIPE and SIGXFSZ (Python
    # does: the child gets their default back), and the spawning thread
    # blocks SIGUSR2 (the child's mask is empty)
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGHUP, signal.SIGUSR1)}
    result = {}

    def spawn():
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR2})
        result["run"] = _run(reactor, ["cat", "/proc/self/status"])

    try:
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        signal.signal(signal.SIGUSR1, lambda *a: None)
        t = threading.Thread(target=spawn)
        t.start()
        t.join(20)
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)
    child, s = result["run"]
    assert s.exit == 0
    masks = _status(s.out(1).decode())
    assert masks["SigBlk"] == 0
    # (SigCgt is the new program's own: exec resets handled signals, and
    # an LD_PRELOADed runtime, as the debug lane's ASan, catches some)
    assert masks["SigIgn"] & _bit(signal.SIGHUP)
    assert not masks["SigIgn"] & (_bit(signal.SIGPIPE) | _bit(signal.SIGXFSZ) | _bit(signal.SIGUSR1))


def test_sigpipe_kills_a_writer_to_a_closed_pipe(method, reactor):
    # (with SIGPIPE ignored, yes would get EPIPE and say "Broken pipe")
    child, s = _run(reactor, ["sh", "-c", "yes | head -c 1 > /dev/null"])
    assert (s.exit, s.out(2)) == (0, b"")


def test_process_group_or_session(method, reactor):
    # fields 5-7 of /proc/PID/stat: pgrp, session, tty_nr
    child, s = _run(reactor, ["cat", "/proc/self/stat"])
    fields = s.out(1).decode().rsplit(")", 1)[1].split()
    assert int(fields[2]) == child.pid and int(fields[3]) == os.getsid(0)
    child, s = _run(reactor, ["cat", "/proc/self/stat"], _reactor.SPAWN_PATH | _reactor.SPAWN_PTY)
    fields = s.out(1).decode().rsplit(")", 1)[1].split()
    assert int(fields[2]) == child.pid and int(fields[3]) == child.pid and int(fields[4]) != 0
    child, s = _run(
        reactor, ["sh", "-c", "test -t 0 && test -t 1 && ! test -t 2 && tty"], _reactor.SPAWN_PATH | _reactor.SPAWN_PTY
    )
    assert s.exit == 0 and s.out(1).strip().startswith(b"/dev/pts/")


def test_stdin_pipe_dev_null_and_merged_stderr(method, reactor):
    s = Sink()
    child = reactor.spawn([b"cat"], _reactor.SPAWN_PATH | _reactor.SPAWN_NEW_PGROUP, s)
    assert child.write(b"through stdin\n") == 0
    child.close_stdin()
    assert s.done.wait(10) and s.out(1) == b"through stdin\n"
    child, s = _run(reactor, ["sh", "-c", "readlink /proc/self/fd/0; cat"], want_stdin=False)
    assert s.exit == 0 and s.out(1) == b"/dev/null\n" and child.stdin_fd == -1
    s = Sink(expected_eofs=1)  # (no stderr pipe)
    reactor.spawn(
        [b"sh", b"-c", b"echo 1; echo 2 >&2"], _reactor.SPAWN_PATH | _reactor.SPAWN_MERGE_STDERR, s, want_stdin=False
    )
    assert s.done.wait(10) and s.out(1) == b"1\n2\n" and s.out(2) == b""


def _exec_error(reactor, argv, flags=_reactor.SPAWN_PATH | _reactor.SPAWN_NEW_PGROUP):
    with pytest.raises(OSError) as e:
        reactor.spawn([a.encode() if isinstance(a, str) else a for a in argv], flags, Sink())
    return e.value.errno


def test_exec_errors(method, reactor, tmp_path):
    assert _exec_error(reactor, ["/nonexistent/program"]) == errno.ENOENT
    assert _exec_error(reactor, ["no-such-program-anywhere-%d" % os.getpid()]) == errno.ENOENT
    assert _exec_error(reactor, [""]) == errno.ENOENT
    assert _exec_error(reactor, ["x" * 300]) == errno.ENAMETOOLONG
    assert _exec_error(reactor, ["/etc/passwd"]) == errno.EACCES
    garbage = tmp_path / "garbage"
    garbage.write_bytes(b"\x00\x01\x02 not a program\n")
    garbage.chmod(0o755)
    assert _exec_error(reactor, [str(garbage)]) == errno.ENOEXEC  # no shell tried
    assert _exec_error(reactor, [str(tmp_path)]) == errno.EACCES  # a directory
    assert reactor.live_children() == []


def test_path_search(method, reactor, tmp_path, monkeypatch):
    first, second, third = (tmp_path / d for d in ("first", "second", "third"))
    for d in (first, second, third):
        d.mkdir()
    (first / "prog").write_text("#!/bin/sh\necho first\n")  # not executable: EACCES, go on
    (second / "prog").write_text("#!/bin/sh\necho second\n")
    (second / "prog").chmod(0o755)
    (third / "prog").write_text("#!/bin/sh\necho third\n")
    (third / "prog").chmod(0o755)
    (first / "only-here").write_text("x")  # not executable, and nowhere after: EACCES wins
    monkeypatch.setenv("PATH", "%s:/nonexistent:%s:%s" % (first, second, third))
    child, s = _run(reactor, ["prog"])
    assert (s.exit, s.out(1)) == (0, b"second\n")
    assert _exec_error(reactor, ["only-here"]) == errno.EACCES
    # without SPAWN_PATH, or with a slash: no search
    assert _exec_error(reactor, ["prog"], _reactor.SPAWN_NEW_PGROUP) == errno.ENOENT
    child, s = _run(reactor, [str(third / "prog")])
    assert s.out(1) == b"third\n"
    # an empty entry is the current directory
    monkeypatch.setenv("PATH", "/nonexistent::%s" % (first,))
    monkeypatch.chdir(third)
    child, s = _run(reactor, ["prog"])
    assert s.out(1) == b"third\n"
    monkeypatch.delenv("PATH")  # unset: /bin:/usr/bin
    child, s = _run(reactor, ["true"])
    assert s.exit == 0


def _zombies_of(pid):
    zombies = []
    for tid in os.listdir("/proc/%d/task" % pid):
        with open("/proc/%d/task/%s/children" % (pid, tid)) as f:
            for c in f.read().split():
                try:
                    with open("/proc/%s/stat" % c) as st:
                        if st.read().rsplit(")", 1)[1].split()[0] == "Z":
                            zombies.append(int(c))
                except FileNotFoundError:
                    pass
    return zombies


def test_a_failed_exec_leaves_no_child_and_no_fd(method, reactor):
    fds = len(os.listdir("/proc/self/fd"))
    for _ in range(20):
        assert _exec_error(reactor, ["/nonexistent/program"]) == errno.ENOENT
    assert len(os.listdir("/proc/self/fd")) == fds
    assert _zombies_of(os.getpid()) == []


def test_no_fd_left_for_the_pidfd(method):
    # the pipes fit under the fd limit, the pidfd does not: the child runs
    # without one and is reaped through SIGCHLD, as when pidfd_open fails
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    fillers = []
    with running_reactor("epoll", "pidfd") as r:
        try:
            # no free fd below the highest one: the next ones are top+1, top+2...
            top = max(int(fd) for fd in os.listdir("/proc/self/fd"))
            for fd in range(3, top):
                try:
                    os.fstat(fd)
                except OSError:
                    fillers.append(os.open("/dev/null", os.O_RDONLY | os.O_CLOEXEC))
            lowest_free = os.open("/dev/null", os.O_RDONLY)
            os.close(lowest_free)
            s = Sink()
            resource.setrlimit(resource.RLIMIT_NOFILE, (lowest_free + 6, hard))  # 3 pipes, no 7th fd
            try:
                child = r.spawn([b"/bin/sh", b"-c", b"read x; echo out"], _reactor.SPAWN_NEW_PGROUP, s)
            finally:
                resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
            assert child.pidfd == -1 and child.stdin_fd >= 0
            child.close_stdin()
            assert s.done.wait(10)
            assert (s.exit, s.out(1)) == (0, b"out\n") and child.reaped
        finally:
            for fd in fillers:
                os.close(fd)


def test_long_argv_and_environment(method, reactor, monkeypatch):
    monkeypatch.setenv("EXECO_TEST_BIG", "v" * 100000)
    args = ["a%d" % i for i in range(5000)]
    child, s = _run(reactor, ["sh", "-c", 'echo "$#" "${#EXECO_TEST_BIG}"', "sh"] + args)
    assert s.out(1) == b"5000 100000\n"


def test_threads_spawning_at_once(method):
    # (one child stack is kept between spawns: the others make their own)
    results = {}

    def runs(i):
        results[i] = [execo.Process(["echo", "%d-%d" % (i, j)]).run() for j in range(25)]

    threads = [threading.Thread(target=runs, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    for i in range(8):
        assert [p.stdout for p in results[i]] == ["%d-%d\n" % (i, j) for j in range(25)]
        assert all(p.ok for p in results[i])


def test_spawn_in_a_forked_child(method):
    execo.Process("true").run()
    pid = os.fork()
    if pid == 0:
        try:
            p = execo.Process(["sh", "-c", "echo forked"]).run()
            os._exit(0 if p.ok and p.stdout == "forked\n" else 1)
        except BaseException:
            os._exit(2)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


def test_process_errors_through_each_method(method, tmp_path):
    p = execo.Process("/nonexistent/program").run()
    assert p.error and p.error_reason == errno.ENOENT and p.pid is None
    script = tmp_path / "s"
    script.write_text("#!/bin/sh\necho ran\n")
    script.chmod(stat.S_IRUSR)
    p = execo.Process(str(script)).run()
    assert p.error and p.error_reason == errno.EACCES
    script.chmod(0o755)
    p = execo.Process(str(script)).run()
    assert p.ok and p.stdout == "ran\n"
