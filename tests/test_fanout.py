"""Fan-out at scale (issue 15): the start queue and its fan-out windows.

The start of a child is a request for a slot (execo.start_queue): when
the fd budget, ``configuration['fanout']`` or an action's ``fanout``
window is spent, the process is queued, and spawned when a running child
of execo ends.  Concurrency is counted by the children themselves: each
one registers a file in a directory when it begins, counts the files
there, and removes its own before it exits; a child's count is thus at
least the number of execo's children alive at that moment, and execo
frees a slot only after the child exited.
"""

import errno
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest
from helpers import finish, wait_until, zombies

from execo import start_queue
from execo.action import ActionLifecycleHandler, Local, Remote
from execo.handlers import ProcessLifecycleHandler
from execo.process import Process
from execo.report import Report

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PY = sys.executable


def global_fanout(config, n):
    """configuration['fanout'] leaving n slots beside the children of
    execo that other tests may have left running."""
    config["fanout"] = start_queue.running_count() + n
    return config["fanout"] - n


def counting_cmd(directory, body="sleep 0.2"):
    """A command that prints how many counting commands run beside it."""
    return "touch %s/$$; n=$(ls %s | wc -l); %s; rm -f %s/$$; echo $n" % (directory, directory, body, directory)


class Recorder(ProcessLifecycleHandler):
    def __init__(self):
        super().__init__()
        self.calls = []

    def start(self, process):
        self.calls.append(("start", process.pid, process.start_date))

    def end(self, process):
        self.calls.append(("end", process.pid))


# ------------------------------------------------------------ the window


def test_window_of_10_over_200(tmp_path, stub_ssh):
    d = tmp_path / "alive"
    d.mkdir()
    hosts = ["host-%d" % i for i in range(200)]
    r = Remote(counting_cmd(d), hosts, connection_params=stub_ssh, fanout=10)
    assert r.fanout == 10
    r.start()
    assert all(p.started for p in r.processes)  # queued or spawned: started
    finish(r, 300)
    assert r.ok and all(p.finished_ok for p in r.processes)
    counts = [int(p.stdout.split()[-1]) for p in r.processes]
    assert max(counts) <= 10, sorted(counts)[-20:]
    assert all(p.pid is not None and p.start_date is not None for p in r.processes)
    assert not any(p.queued for p in r.processes)
    assert wait_until(lambda: not zombies(), 10), zombies()


def test_window_kill_ends_the_queued_ones_unspawned(stub_ssh):
    hosts = ["host-%d" % i for i in range(200)]
    ends = []

    class ActionEnd(ActionLifecycleHandler):
        def end(self, action):
            ends.append(action)

    r = Remote("sleep 60", hosts, connection_params=stub_ssh, fanout=10, lifecycle_handlers=[ActionEnd()]).start()
    assert wait_until(lambda: sum(p.pid is not None for p in r.processes) == 10, 60)
    queued = [p for p in r.processes if p.queued]
    assert len(queued) == 190
    assert r.stats()["num_started"] == 200 and r.stats()["num_ended"] == 0
    r.kill()
    finish(r, 120)
    assert all(p.ended and p.killed for p in r.processes)
    spawned = [p for p in r.processes if p.pid is not None]
    assert len(spawned) == 10  # no queued one was spawned
    for p in queued:
        assert p.pid is None and p.start_date is None and p.exit_code is None
        assert not p.error and p.ok and not p.timeouted and p.end_date is not None
        assert p.started_event.is_set()
    assert ends == [r]
    st = r.stats()
    assert st["num_ended"] == 200 and st["num_errors"] == 0
    assert wait_until(lambda: not zombies(), 10), zombies()


def test_window_timeout_counts_from_the_real_start(tmp_path, stub_ssh):
    gate = tmp_path / "gate"
    # the first process runs until the gate file exists; the second, with
    # a 1 s timeout, waits in the window meanwhile: its timeout only runs
    # once it is spawned
    a = Local("while [ ! -e %s ]; do sleep 0.05; done" % gate, fanout=1)
    first = Process("while [ ! -e %s ]; do sleep 0.05; done" % gate, shell=True)
    second = Process("sleep 30", timeout=1)
    a.processes = [first, second]
    a.start()
    assert second.queued and second.timeout_date is None
    time.sleep(2)  # longer than its timeout: it has not begun
    assert second.queued and not second.ended and second.timeouted is None
    released = time.time()
    gate.write_text("")
    finish(a, 60)
    assert second.timeouted and second.killed and not second.ok
    assert second.start_date >= released - 1e-3
    assert second.timeout_date == second.start_date + 1
    assert second.end_date >= second.timeout_date
    assert first.finished_ok


def test_fanout_is_checked():
    with pytest.raises(ValueError):
        Local("true", fanout=0)
    with pytest.raises(ValueError):
        Local("true", fanout=True)


# -------------------------------------------- a queued process is a process


def test_queued_process_semantics(saved_config):
    global_fanout(saved_config, 1)  # one child of execo at a time
    rec = Recorder()
    first = Process("cat").start()
    assert first.pid is not None and not first.queued
    second = Process("cat", lifecycle_handlers=[rec]).start()
    third = Process("sleep 30", lifecycle_handlers=[rec]).start()
    try:
        for p in (second, third):
            assert p.started and p.queued and p.running and not p.ended
            assert p.pid is None and p.start_date is None and p.timeout_date is None
            assert not p.started_event.is_set() and p.ok and not p.finished_ok
        assert rec.calls == []  # start handlers: at the real start
        second.write("hello\n")  # kept for its stdin
        # wait() and expect() wait through the queue
        assert second.wait(timeout=0.3) is second and not second.ended
        got = []
        t = threading.Thread(target=lambda: got.append(second.expect("hel+o", timeout=60)))
        t.start()
        # the queued third is killed: never spawned, ends at once, killed
        third.kill()
        assert third.ended and third.killed and not third.queued and third.pid is None
        assert third.exit_code is None and not third.error and third.ok
        assert third.wait(timeout=5).ended and third.started_event.is_set()
        assert wait_until(lambda: ("end", None) in rec.calls, 10), rec.calls
        assert [c[0] for c in rec.calls] == ["start", "end"]  # start, then end
        assert second.queued and second.pid is None
        first.close_stdin()
        finish(first, 30)
        assert wait_until(lambda: second.pid is not None, 30)
        assert second.started_event.is_set() and not second.queued
        assert second.start_date >= first.end_date
        t.join(60)
        assert got and got[0][0] == 0, got
        second.close_stdin()
        finish(second, 30)
        assert second.finished_ok and second.stdout == "hello\n"
        assert ("start", second.pid, second.start_date) in rec.calls
    finally:
        for p in (first, second, third):
            if p.started and not p.ended:
                p.kill(signal.SIGKILL)


def test_report_counts_queued_processes_as_started(saved_config, tmp_path):
    others = global_fanout(saved_config, 2)
    gate = tmp_path / "gate"
    cmd = "while [ ! -e %s ]; do sleep 0.05; done" % gate
    a = Local(cmd)
    a.processes = [Process(cmd, shell=True) for _ in range(5)]
    a.start()
    try:
        st = Report([a]).stats()
        assert st["num_processes"] == 5 and st["num_started"] == 5
        assert st["num_ended"] == 0 and st["num_ok"] == 5
        assert sum(p.queued for p in a.processes) == 3
        assert start_queue.running_count() == others + 2
    finally:
        gate.write_text("")
    finish(a, 60)
    assert a.ok and Report([a]).stats()["num_finished_ok"] == 5


def test_configuration_fanout_over_all_children(saved_config, tmp_path):
    global_fanout(saved_config, 3)
    d = tmp_path / "alive"
    d.mkdir()
    ps = [Process(counting_cmd(d), shell=True).start() for _ in range(30)]
    for p in ps:
        finish(p, 60)
    assert all(p.finished_ok for p in ps)
    assert max(int(p.stdout.split()[-1]) for p in ps) <= 3


# ---------------------------------------------------------- the fd budget

FD_BUDGET_SCRIPT = """
    import os, resource, sys
    resource.setrlimit(resource.RLIMIT_NOFILE, (1024, 1024))
    mine = [os.open(@PATH@ + "/own-%d" % i, os.O_CREAT | os.O_RDWR, 0o600) for i in range(5)]
    for i, fd in enumerate(mine):
        os.write(fd, b"mine-%d" % i)
    idents = [(os.fstat(fd).st_ino, fd) for fd in mine]
    import fcntl
    lockfd = os.open(@LOCK@, os.O_CREAT | os.O_RDWR, 0o600)
    fcntl.flock(lockfd, fcntl.LOCK_EX)    # the children block on it: they overlap
    from execo.action import Remote
    from execo import start_queue
    r = Remote(@CMD@, ["h%d" % i for i in range(2000)],
               connection_params={"ssh": @SSH@, "pty": False}).start()
    queued = sum(p.queued for p in r.processes)
    fcntl.flock(lockfd, fcntl.LOCK_UN)
    r.wait(600)
    assert r.ended
    bad = [p for p in r.processes if not p.finished_ok]
    assert not bad, (len(bad), bad[0].error_reason, bad[0].stderr)
    for i, (ino, fd) in enumerate(idents):
        assert os.fstat(fd).st_ino == ino
        os.lseek(fd, 0, 0)
        assert os.read(fd, 100) == b"mine-%d" % i
    counts = [int(p.stdout.split()[-1]) for p in r.processes]
    print("budget", start_queue.fd_budget(), "queued", queued, "max", max(counts))
"""


def test_fd_budget_2000_overlapping_under_1024_fds(tmp_path, stub_ssh):
    d = tmp_path / "alive"
    d.mkdir()
    lock = str(tmp_path / "lock")
    script = (
        FD_BUDGET_SCRIPT.replace("@PATH@", repr(str(tmp_path)))
        .replace("@LOCK@", repr(lock))
        .replace("@CMD@", repr(counting_cmd(d, "flock -s 9 9<%s; sleep 0.1" % lock)))
        .replace("@SSH@", repr(stub_ssh["ssh"]))
    )
    r = subprocess.run(
        [PY, "-c", textwrap.dedent(script)],
        capture_output=True,
        text=True,
        timeout=900,
        env=dict(os.environ, PYTHONPATH=REPO),
    )
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
    words = r.stdout.split()
    budget, queued, most = int(words[-5]), int(words[-3]), int(words[-1])
    assert budget == 1024 - 64
    assert queued > 0  # the budget was reached
    assert most <= budget // 3, (most, budget)  # each child holds 3 fds or more


def test_emfile_when_the_application_holds_the_fds():
    # no child of execo runs: nothing to wait for, EMFILE is the error
    script = textwrap.dedent("""
        import errno, os, resource
        resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))
        from execo.process import Process
        held = []
        try:
            while True:
                held.append(os.open("/dev/null", os.O_RDONLY))
        except OSError as e:
            assert e.errno == errno.EMFILE
        p = Process("true", nolog_error=True).start()
        assert p.ended and p.error and p.error_reason == errno.EMFILE and not p.queued, p
        for fd in held:
            os.close(fd)
        assert Process("true").run(60).finished_ok
        print("ok")
    """)
    r = subprocess.run(
        [PY, "-c", script], capture_output=True, text=True, timeout=120, env=dict(os.environ, PYTHONPATH=REPO)
    )
    assert r.returncode == 0 and r.stdout.split()[-1] == "ok", r.stderr[-3000:]


def test_emfile_while_children_run_waits_for_an_end():
    # the application takes the fds the budget counted on while children
    # of execo run: the spawn's EMFILE makes the start wait for an end
    script = textwrap.dedent("""
        import errno, os, resource
        resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))
        from execo.process import Process
        running = Process("cat").start()
        held = []
        try:
            while True:
                held.append(os.open("/dev/null", os.O_RDONLY))
        except OSError as e:
            assert e.errno == errno.EMFILE
        for fd in held[:3]:
            os.close(fd)           # too few for a child (its pipes need more)
        del held[:3]
        p = Process("echo late").start()
        assert p.queued and not p.error and p.pid is None, p
        for fd in held:
            os.close(fd)
        running.close_stdin()
        assert running.wait(60).finished_ok
        assert p.wait(60).finished_ok and p.stdout == "late\\n", p
        print("ok")
    """)
    r = subprocess.run(
        [PY, "-c", script], capture_output=True, text=True, timeout=120, env=dict(os.environ, PYTHONPATH=REPO)
    )
    assert r.returncode == 0 and r.stdout.split()[-1] == "ok", r.stderr[-3000:]


def test_a_long_queue_of_failing_starts_does_not_recurse(saved_config):
    # every queued spawn fails at once (ENOENT) and frees its slot for the
    # next one: 3000 of them end in order, none lost to the stack depth
    others = global_fanout(saved_config, 1)
    first = Process("cat").start()
    ps = [Process("/nonexistent/execo-fanout-%d" % i, nolog_error=True).start() for i in range(3000)]
    assert all(p.queued for p in ps)
    first.close_stdin()
    finish(first, 30)
    for p in ps:
        finish(p, 60)
    assert all(p.error and p.error_reason == errno.ENOENT and p.pid is None for p in ps)
    assert start_queue.running_count() == others
