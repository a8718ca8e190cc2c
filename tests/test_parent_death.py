"""Nothing survives the script (issue 14, item 6): execo's watchdog.

Each case runs a script in a fresh interpreter (PYTHONPATH = the repo)
that starts processes whose argv holds a unique marker (``sleep
1000.NNNNNN``), prints ``ready`` and its watchdog's pid, and then is
killed (SIGTERM, SIGKILL) or exits. The processes are then looked for in
/proc by their marker: the assertion is that they are gone, waited for
with a bounded polling loop (no timing threshold). Zombies do not count:
this machine's pid 1 does not reap orphans, and a zombie runs nothing.
"""

import json
import os
import random
import signal
import subprocess
import sys
import textwrap

import pytest
from helpers import finish, my_children, nfds, wait_until

from execo import _reactor, conductor, watchdog
from execo.process import Process

PY = sys.executable
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GONE_TIMEOUT = 60  # bound of the polling loops (a failure guard, not a measure)


# ------------------------------------------------------------------ helpers


def new_marker():
    return "1000.%06d" % random.randrange(10**6)


def stat_of(pid):
    """(state, ppid, pgid, session) of pid, or None when it is gone."""
    try:
        with open("/proc/%d/stat" % pid, "rb") as f:
            data = f.read()
    except OSError:
        return None
    fields = data[data.rindex(b")") + 2 :].split()
    return fields[0].decode(), int(fields[1]), int(fields[2]), int(fields[3])


def running(pid):
    """pid exists and is not a zombie."""
    st = stat_of(pid)
    return st is not None and st[0] not in ("Z", "X")


def sig_ignored(pid):
    """The signals pid ignores (SigIgn of /proc/PID/status)."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("SigIgn:"):
                mask = int(line.split()[1], 16)
                return {n for n in range(1, 65) if mask & (1 << (n - 1))}
    return set()


def detached(pid):
    """pid's fds are 0, 1, 2 only and its cwd is /."""
    try:
        return sorted(os.listdir("/proc/%d/fd" % pid)) == ["0", "1", "2"] and os.readlink("/proc/%d/cwd" % pid) == "/"
    except OSError:
        return False


def cmdline(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return f.read().decode(errors="replace").split("\0")[:-1]
    except OSError:
        return []


def procs_with(marker):
    """{pid: argv} of the running processes with marker in their argv."""
    res = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        argv = cmdline(int(d))
        if any(marker in a for a in argv) and running(int(d)):
            res[int(d)] = argv
    return res


def watchdogs_of(pid):
    """Running watchdogs whose parent (argv) is pid."""
    return [
        p
        for p, argv in procs_with("watchdog.py").items()
        if len(argv) >= 2 and argv[-2] == str(pid) and argv[-3].endswith("watchdog.py")
    ]


def kill_all(pids):
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


SCRIPT_HEAD = """
    import json, os, sys, time
    import execo
    from execo import conductor
    from execo.process import Process, SshProcess
    from execo.action import Remote, TaktukRemote
    from execo.host import Host
    P = json.load(open(sys.argv[1]))
    M = P["marker"]

    def ready(**more):
        info = {"pid": os.getpid(), "watchdog": conductor.get_reactor().watchdog_pid}
        info.update(more)
        print("ready " + json.dumps(info), flush=True)
"""


class Script(object):
    """A script run in a fresh interpreter; ``info`` is what it printed
    with ``ready``."""

    def __init__(self, tmp_path, body, params=None, home=None, new_session=False):
        self.marker = new_marker()
        params = dict(params or {}, marker=self.marker)
        # (file names without the marker: the script is not one of its processes)
        tag = "%d" % random.randrange(10**9)
        pfile = tmp_path / ("params-%s.json" % tag)
        pfile.write_text(json.dumps(params))
        sfile = tmp_path / ("script-%s.py" % tag)
        sfile.write_text(textwrap.dedent(SCRIPT_HEAD) + textwrap.dedent(body))
        env = dict(os.environ, PYTHONPATH=REPO)
        if home is not None:
            env["HOME"] = str(home)
        self.proc = subprocess.Popen(
            [PY, str(sfile), str(pfile)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=str(tmp_path),
            env=env,
            start_new_session=new_session,
        )
        line = self.proc.stdout.readline()
        if not line.startswith("ready "):
            self.proc.kill()
            out, err = self.proc.communicate()
            pytest.fail("script not ready: %r\n%s\n%s" % (line, out[-2000:], err[-3000:]))
        self.info = json.loads(line[len("ready ") :])

    def kill(self, sig):
        self.proc.send_signal(sig)
        return self.wait()

    def wait(self):
        out, err = self.proc.communicate(timeout=120)
        self.stdout, self.stderr = out, err
        return self.proc.returncode

    def cleanup(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        kill_all(procs_with(self.marker))


@pytest.fixture
def scripts():
    started = []
    yield started
    for s in started:
        s.cleanup()


def assert_all_gone(script):
    m = script.marker
    assert wait_until(lambda: not procs_with(m), GONE_TIMEOUT), procs_with(m)
    wd = script.info["watchdog"]
    assert wd > 0
    assert wait_until(lambda: not running(wd), GONE_TIMEOUT), (wd, stat_of(wd), cmdline(wd))


# -------------------------------------------------------- local processes

LOCAL_BODY = """
    assert conductor.get_reactor().child_watcher == P.get("watcher", conductor.get_reactor().child_watcher)
    ps = [Process("sleep " + M),                                 # shell=False
          Process("sleep %s; echo never" % M, shell=True),       # sh + grandchild sleep
          Process("sleep " + M, pty=True),                       # own session
          Process("sleep %s & sleep %s; wait" % (M, M), shell=True, kill_subprocesses=False)]
    for p in ps:
        p.start()
    ready(pids=[p.pid for p in ps])
    time.sleep(1000)
"""


def wait_local_running(script):
    # 4 children + the 2 grandchildren sleeps of the shells (the pty one
    # and the plain one are the children themselves)
    assert wait_until(
        lambda: len([a for a in procs_with(script.marker).values() if a[0] == "sleep"]) == 5, GONE_TIMEOUT
    ), procs_with(script.marker)


@pytest.mark.parametrize("watcher", ["pidfd", "sigchld"])
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_local_children_die_with_the_script(tmp_path, scripts, sig, watcher):
    (tmp_path / ".execo.conf.py").write_text("configuration = {'child_watcher': %r}\n" % watcher)
    s = Script(tmp_path, LOCAL_BODY, params={"watcher": watcher}, home=tmp_path)
    scripts.append(s)
    wait_local_running(s)
    wd = s.info["watchdog"]
    # the watchdog is alive, in its own session, holds no fd but 0, 1, 2
    assert running(wd) and watchdogs_of(s.info["pid"]) == [wd]
    assert stat_of(wd)[3] == wd != stat_of(s.info["pid"])[3]
    # and its cwd at / (once started: it closes what it inherited)
    assert wait_until(lambda: detached(wd), GONE_TIMEOUT), (
        os.listdir("/proc/%d/fd" % wd),
        os.readlink("/proc/%d/cwd" % wd),
    )
    assert s.kill(sig) == -sig
    assert_all_gone(s)


def test_signals_to_the_script_group_do_not_reach_the_watchdog(tmp_path, scripts):
    # Ctrl-C at a terminal signals the whole foreground process group: the
    # watchdog is not in it (its own session), and ignores SIGINT, SIGHUP
    # and SIGTERM sent to it directly; it reacts to the script's death only
    body = """
        import signal
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        p = Process("sleep " + M).start()
        ready(p=p.pid)
        time.sleep(1000)
    """
    s = Script(tmp_path, body, new_session=True)
    scripts.append(s)
    pid, wd = s.info["pid"], s.info["watchdog"]
    assert stat_of(pid)[2] == pid and stat_of(wd)[2] != pid
    # once started, the watchdog ignores them (signals with SIG_IGN are
    # discarded when sent: nothing racy about what follows)
    ignored = [signal.SIGINT, signal.SIGHUP, signal.SIGTERM, signal.SIGPIPE]
    assert wait_until(lambda: all(sig in sig_ignored(wd) for sig in ignored), GONE_TIMEOUT), sig_ignored(wd)
    for sig in (signal.SIGINT, signal.SIGHUP):
        os.killpg(pid, sig)
    for sig in ignored:
        os.kill(wd, sig)
    assert running(wd) and running(pid) and running(s.info["p"])
    s.kill(signal.SIGKILL)
    assert_all_gone(s)


# -------------------------------------------------------------- normal exit


def test_normal_exit_leaves_nothing_not_even_the_watchdog(tmp_path, scripts):
    # a child that ignores SIGTERM survives the exit-time SIGTERM: the
    # watchdog sends SIGKILL after kill_timeout (1 s by the config file)
    (tmp_path / ".execo.conf.py").write_text("configuration = {'kill_timeout': 1}\n")
    body = """
        assert execo.configuration["kill_timeout"] == 1
        ps = [Process("sleep " + M).start(),
              Process("trap '' TERM; sleep %s; echo never" % M, shell=True).start()]
        time.sleep(0.2)   # let the shell install its trap
        ready()
        sys.exit(0)
    """
    s = Script(tmp_path, body, home=tmp_path)
    scripts.append(s)
    assert s.wait() == 0, s.stderr[-3000:]
    assert_all_gone(s)


def test_normal_exit_does_not_kill_what_was_reaped(tmp_path, scripts):
    # a shell=True child that ended normally, leaving a background job in
    # its process group: the watchdog was told it was reaped and must not
    # kill its group, neither at a normal exit nor at a SIGKILL
    body = """
        bg = Process("sleep %s >/dev/null 2>&1 </dev/null &" % M, shell=True).run()
        assert bg.ok, bg
        Process("true").run()      # a spawn: all the queued records are written
        p = Process("sleep " + M).start()
        ready(bg=bg.pid, p=p.pid)
        time.sleep(1000)
    """
    s = Script(tmp_path, body)
    scripts.append(s)
    assert wait_until(lambda: len(procs_with(s.marker)) == 2, GONE_TIMEOUT), (procs_with(s.marker), s.info)
    bg_job = [pid for pid in procs_with(s.marker) if stat_of(pid)[2] == s.info["bg"]]
    assert len(bg_job) == 1
    s.kill(signal.SIGKILL)
    assert wait_until(lambda: not running(s.info["p"]), GONE_TIMEOUT)
    assert wait_until(lambda: not running(s.info["watchdog"]), GONE_TIMEOUT)
    assert running(bg_job[0]) and procs_with(s.marker).keys() == {bg_job[0]}


def test_kill_childs_at_end_false_leaves_children_and_starts_no_watchdog(tmp_path, scripts):
    (tmp_path / ".execo.conf.py").write_text("configuration = {'kill_childs_at_end': False}\n")
    body = """
        assert execo.configuration["kill_childs_at_end"] is False
        ps = [Process("sleep " + M).start(), Process("sleep %s; true" % M, shell=True).start()]
        ready(pids=[p.pid for p in ps], how=P["how"])
        if P["how"] == "exit":
            sys.exit(0)
        time.sleep(1000)
    """
    for how in ("exit", "kill"):
        s = Script(tmp_path, body, params={"how": how}, home=tmp_path)
        scripts.append(s)
        assert s.info["watchdog"] == 0
        assert wait_until(lambda s=s: len(procs_with(s.marker)) == 3, GONE_TIMEOUT)
        if how == "exit":
            assert s.wait() == 0, s.stderr[-3000:]
        else:
            s.kill(signal.SIGKILL)
        assert not watchdogs_of(s.info["pid"])
        # left alone: still there (then removed by the fixture)
        assert len(procs_with(s.marker)) == 3
        assert all(running(pid) for pid in s.info["pids"])
        s.cleanup()


# --------------------------------------------------------------------- fork


def test_fork_child_does_not_hold_the_parent_watchdog(tmp_path, scripts):
    # one fork child uses execo (its own watchdog) and exits, another one
    # stays alive without execo: the parent's SIGKILL still reaches the
    # parent's watchdog (no fork child holds its pipe), whose children die
    body = """
        p = Process("sleep " + M).start()
        parent_wd = conductor.get_reactor().watchdog_pid
        r, w = os.pipe()
        a = os.fork()
        if a == 0:
            q = Process("sleep %s" % M).start()
            wd = conductor.get_reactor().watchdog_pid
            os.write(w, ("%d %d\\n" % (wd, q.pid)).encode())
            q.kill().wait()
            sys.exit(0)
        child_wd, child_proc = map(int, os.read(r, 100).split())
        assert os.waitpid(a, 0)[1] == 0
        b = os.fork()
        if b == 0:
            null = os.open(os.devnull, os.O_RDWR)
            for fd in (0, 1, 2):    # not the test's pipes: it reads them to their end
                os.dup2(null, fd)
            time.sleep(1000)
            os._exit(0)
        ready(child_wd=child_wd, child_proc=child_proc, lingering=b, p=p.pid)
        time.sleep(1000)
    """
    s = Script(tmp_path, body)
    scripts.append(s)
    info = s.info
    try:
        assert info["child_wd"] not in (0, info["watchdog"])
        # the fork child's watchdog left with it (it had nothing left to kill)
        assert wait_until(lambda: not running(info["child_wd"]), GONE_TIMEOUT)
        assert not running(info["child_proc"])
        assert running(info["lingering"]) and running(info["p"])
        s.kill(signal.SIGKILL)
        assert_all_gone(s)
        assert running(info["lingering"])  # not execo's: left alone
    finally:
        kill_all([info["lingering"]])


# ------------------------------------------------------------------ remote

SSH_BODY = """
    cp = P["connection_params"]
    hosts = [Host(a) for a in P["addresses"]]
    sp = SshProcess("sleep " + M, hosts[0], connection_params=cp).start()
    r = Remote("sleep " + M, hosts[1:3], connection_params=cp).start()
    ready()
    time.sleep(1000)
"""


def remote_sleeps(marker):
    """The remote commands: ``sleep MARKER`` run by sshd (not the ssh clients)."""
    return [pid for pid, argv in procs_with(marker).items() if argv[0] == "sleep"]


def test_ssh_clients_and_remote_commands_die_with_the_script(tmp_path, scripts, sshd):
    params = {"connection_params": sshd.connection_params, "addresses": sshd.addresses[:3]}
    s = Script(tmp_path, SSH_BODY, params=params)
    scripts.append(s)
    assert wait_until(lambda: len(remote_sleeps(s.marker)) == 3, GONE_TIMEOUT), procs_with(s.marker)
    clients = [pid for pid, argv in procs_with(s.marker).items() if argv[0] == "ssh"]
    assert len(clients) == 3
    s.kill(signal.SIGKILL)
    assert_all_gone(s)


TAKTUK_BODY = """
    cp = P["connection_params"]
    hosts = [Host(a) for a in P["addresses"]]
    t = TaktukRemote("sleep " + M, hosts, connection_params=cp).start()
    ready()
    if P["how"] == "exit":
        sys.stdin.readline()    # the test's go: it saw the remote commands
        sys.exit(0)
    time.sleep(1000)
"""


def group_members(pgid):
    """Running processes of process group pgid."""
    res = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            st = stat_of(int(d))
            if st is not None and st[2] == pgid and st[0] not in ("Z", "X"):
                res.append(int(d))
    return res


@pytest.mark.parametrize("how", ["SIGKILL", "SIGTERM", "exit"])
def test_taktuk_and_remote_commands_die_with_the_script(tmp_path, scripts, sshd, how):
    # killing taktuk's process group would not be enough: the remote
    # taktuk engines exit when their connection drops, without signalling
    # their commands (each in its own process group): the watchdog first
    # writes "broadcast kill" and "quit" to taktuk's stdin, as kill() does
    params = {"connection_params": sshd.connection_params, "addresses": sshd.addresses[:3], "how": how}
    s = Script(tmp_path, TAKTUK_BODY, params=params)
    scripts.append(s)
    assert wait_until(lambda: len(remote_sleeps(s.marker)) == 3, GONE_TIMEOUT), procs_with(s.marker)
    local_taktuk = [
        pid
        for pid, _ in my_children_of(s.info["pid"])
        if any(os.path.basename(a) == "taktuk" for a in cmdline(pid)[:3])
    ]
    assert len(local_taktuk) == 1
    taktuk_members = group_members(local_taktuk[0])
    assert len(taktuk_members) >= 2  # taktuk, its interpreter, its ssh connectors
    if how == "exit":
        s.proc.stdin.write("go\n")
        s.proc.stdin.flush()
        assert s.wait() == 0, s.stderr[-3000:]
    else:
        s.kill(getattr(signal, how))
    assert_all_gone(s)
    assert wait_until(lambda: not group_members(local_taktuk[0]), GONE_TIMEOUT), [
        cmdline(p) for p in group_members(local_taktuk[0])
    ]


def my_children_of(pid):
    """(pid, state) of the children of pid."""
    res = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            st = stat_of(int(d))
            if st is not None and st[1] == pid:
                res.append((int(d), st[0]))
    return res


# ------------------------------------------------- in this very process


def test_import_starts_no_process():
    # the watchdog starts with the first spawn, not at import
    code = (
        "import os, execo; from execo import conductor\n"
        "me = os.getpid()\n"
        "kids = open('/proc/%d/task/%d/children' % (me, me)).read().split()\n"
        "print(len(kids), conductor.get_reactor().watchdog_pid)\n"
        "execo.Process('true').run()\n"
        "print(len(open('/proc/%d/task/%d/children' % (me, me)).read().split()),"
        " conductor.get_reactor().watchdog_pid > 0)\n"
    )
    out = subprocess.run(
        [PY, "-c", code], capture_output=True, text=True, cwd=REPO, env=dict(os.environ, PYTHONPATH=REPO), timeout=120
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.split("\n")[:2] == ["0 0", "1 True"], out.stdout


def test_watchdog_is_not_a_child_of_execo_and_costs_no_fd_per_process():
    Process("true").run()  # the watchdog is started by now
    r = conductor.get_reactor()
    wd = r.watchdog_pid
    assert wd > 0 and running(wd)
    assert wd in [pid for pid, st in my_children()]
    assert argv_is_watchdog(cmdline(wd))
    before = nfds()
    ps = [Process("sleep 0.%d" % (i % 3)).start() for i in range(300)]
    assert wd not in [c.pid for c in r.live_children()]
    assert wd not in [p.pid for p in ps]
    for p in ps:
        finish(p)
    assert all(p.ok for p in ps)
    assert r.watchdog_pid == wd  # the same one
    assert wait_until(lambda: nfds() <= before, 10), (before, nfds())
    assert wd not in [c.pid for c in r.live_children()]


def argv_is_watchdog(argv, parent=None):
    return (
        len(argv) == 6
        and argv[1:3] == ["-I", "-S"]
        and argv[3] == os.path.abspath(watchdog.__file__)
        and argv[4] == str(parent or os.getpid())
    )


def test_watchdog_records_match_the_reactor():
    for name in ("ADD_GROUP", "ADD_PID", "REMOVE", "RESET", "FAREWELL", "RELEASE", "OP_BITS", "INT_SIZE"):
        assert getattr(watchdog, name) == getattr(_reactor, "WATCHDOG_" + name), name


@pytest.mark.parametrize("watcher", ["pidfd", "sigchld"])
def test_a_dead_watchdog_is_reaped_and_replaced_by_one_that_knows_the_children(tmp_path, scripts, watcher):
    # the watchdog killed while the script runs: it is reaped (no zombie),
    # a new one is started and told of the children already running
    (tmp_path / ".execo.conf.py").write_text("configuration = {'child_watcher': %r}\n" % watcher)
    body = """
        import signal
        r = conductor.get_reactor()
        assert r.child_watcher == P["watcher"]
        ps = [Process("sleep " + M).start(), Process("sleep %s; true" % M, shell=True).start()]
        old = r.watchdog_pid
        os.kill(old, signal.SIGKILL)
        while r.watchdog_pid in (0, old) or os.path.exists("/proc/%d" % old):
            time.sleep(0.05)
        ready(old=old)
        time.sleep(1000)
    """
    s = Script(tmp_path, body, params={"watcher": watcher}, home=tmp_path)
    scripts.append(s)
    assert stat_of(s.info["old"]) is None  # reaped
    new = s.info["watchdog"]
    assert running(new) and argv_is_watchdog(cmdline(new), s.info["pid"])
    assert "watchdog" in s.proc.stderr.readline()  # the warning about it
    assert wait_until(lambda s=s: len(procs_with(s.marker)) == 3, GONE_TIMEOUT), procs_with(s.marker)
    s.kill(signal.SIGKILL)
    assert_all_gone(s)
