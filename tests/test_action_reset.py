"""Action.reset() runs the action with its current attributes, as in
execo 2.8.2: a script doing ``r.hosts = alive; r.reset(); r.run()`` (or
changing ``cmd``, ``process_args``, a copy's files...) runs on the new
values. Without a change, the same process objects run again.

Real processes: local ones, and ssh / scp / taktuk / netcat against the
OpenSSH daemons of the ``sshd`` fixture on loopback addresses."""

import os
import shutil
import uuid

import pytest
from helpers import finish, lines

from execo.action import (
    Action,
    ActionLifecycleHandler,
    ActionNotificationProcessLH,
    ChainPut,
    Local,
    ParallelActions,
    Put,
    Remote,
    TaktukPut,
    TaktukRemote,
)
from execo.handlers import ProcessOutputHandler
from execo.host import Host
from execo.process import Process
from execo.report import Report
from execo.substitutions import SubstitutionError, no_expressions

SH = {"shell": True}
# a module global read by {{...}} substitutions (the context of the tests)
WORDS = ["a", "b"]


class CountingLH(ActionLifecycleHandler):
    def __init__(self):
        self.calls = []

    def start(self, action):
        self.calls.append("start")

    def end(self, action):
        self.calls.append("end")

    def reset(self, action):
        self.calls.append("reset")


class Collect(ProcessOutputHandler):
    def __init__(self):
        super(Collect, self).__init__()
        self.lines = []

    def read_line(self, process, stream, string, eof, error):
        self.lines.append(string)


@pytest.fixture
def params(sshd):
    return sshd.connection_params_without_tty()


@pytest.fixture
def shared_dir():
    """A directory the test user of the sshd hosts can write."""
    path = "/tmp/execo-reset-%s" % (uuid.uuid4().hex[:8],)
    os.makedirs(path)
    os.chmod(path, 0o777)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def outputs(action):
    return [p.stdout.strip() for p in action.processes]


# ------------------------------------------------------------ local actions


def test_local_new_cmd_after_reset():
    a = Local("echo first", process_args=SH)
    finish(a.run())
    first = a.processes[0]
    a.cmd = "echo second"
    a.reset()
    finish(a.run())
    assert outputs(a) == ["second"]
    assert a.processes[0] is not first
    assert first.stdout == "first\n"  # the old process keeps its results


def test_local_new_process_args_after_reset():
    a = Local("exit 3", process_args=dict(SH, nolog_exit_code=True))
    finish(a.run())
    assert not a.ok
    a.process_args["ignore_exit_code"] = True  # changed in place
    a.reset()
    finish(a.run())
    assert a.ok and a.processes[0].exit_code == 3


def test_reset_without_change_keeps_the_processes():
    collect = Collect()
    a = Local("echo again", process_args=SH)
    p = a.processes[0]
    p.stdout_handlers.append(collect)  # added by the user after construction
    finish(a.run())
    a.reset()
    assert a.processes == [p] and a.processes[0] is p
    finish(a.run())
    assert collect.lines == ["again\n", "again\n"]


def test_reset_of_a_running_action_kills_and_waits_then_rebuilds():
    a = Local("sleep 60", process_args=SH).start()
    old = a.processes[0]
    a.cmd = "echo after"
    a.reset()
    assert old.ended and old.killed
    assert not a.started and not a.ended
    finish(a.run())
    assert outputs(a) == ["after"] and a.ok


def test_lifecycle_handlers_and_report_after_a_rebuild():
    lh = CountingLH()
    a = Local("echo 1", process_args=SH, lifecycle_handlers=[lh])
    finish(a.run())
    a.cmd = "exit 2"
    a.process_args["nolog_exit_code"] = True
    a.reset()
    assert lh.calls == ["start", "end", "reset"]
    finish(a.run())
    assert lh.calls == ["start", "end", "reset", "start", "end"]
    stats = Report([a]).stats()
    assert stats["num_processes"] == 1 and stats["num_non_zero_exit_codes"] == 1
    assert stats["num_ok"] == 0


def test_default_name_follows_a_user_name_stays():
    a = Local("echo x", process_args=SH)
    default = a.name
    a.cmd = "echo y"
    a.reset()
    assert a.name != default and "echo y" in a.name
    b = Local("echo x", process_args=SH, name="mine")
    b.cmd = "echo y"
    b.reset()
    assert b.name == "mine"


def test_sub_action_rebuilt_in_a_parallel_actions():
    x, y = Local("echo a", process_args=SH), Local("echo b", process_args=SH)
    pa = ParallelActions([x, y])
    finish(pa.run())
    x.cmd = "echo c"
    pa.reset()
    assert pa.processes == [x.processes[0], y.processes[0]]
    finish(pa.run())
    assert [p.stdout for p in pa.processes] == ["c\n", "b\n"] and pa.ok


class _Old282(Action):
    """An action written for execo 2.8.2 (as execo_g5k's Kadeployer): its
    processes made in _init_processes(), which 2.8.2 called at every
    reset, from its current attributes."""

    def __init__(self, words):
        super(_Old282, self).__init__()
        self.words = words
        self._init_processes()

    def _init_processes(self):
        self.processes = []
        lh = ActionNotificationProcessLH(self, len(self.words))
        for w in self.words:
            p = Process("echo %s" % (w,), shell=True)
            p.lifecycle_handlers.append(lh)
            self.processes.append(p)


def test_282_subclass_init_processes_called_at_reset():
    a = _Old282(["x"])
    finish(a.run(60))
    a.words = ["y", "z"]
    a.reset()
    finish(a.run(60))
    assert outputs(a) == ["y", "z"] and a.ok


# ------------------------------------------------------------ over ssh


def test_remote_new_hosts_after_reset(sshd, params):
    r = Remote("echo {{{host}}}", sshd.hosts[:2], connection_params=params)
    finish(r.run())
    old = list(r.processes)
    r.hosts = sshd.hosts[2:5]
    r.reset()
    assert [p.host for p in r.processes] == sshd.hosts[2:5]
    finish(r.run())
    assert r.ok
    assert outputs(r) == [h.address for h in sshd.hosts[2:5]]
    assert [p.stdout.strip() for p in old] == [h.address for h in sshd.hosts[:2]]
    assert r.stats()["num_processes"] == 3 and r.stats()["num_finished_ok"] == 3
    assert "on 3 hosts" in r.name


def test_remote_hosts_changed_in_place(sshd, params):
    r = Remote("echo {{{host}}}", ["127.0.0.1"], connection_params=sshd.connection_params)
    r.hosts.append("127.0.0.2")
    r.reset()
    assert r.hosts == [Host("127.0.0.1"), Host("127.0.0.2")]
    finish(r.run())
    assert outputs(r) == ["127.0.0.1", "127.0.0.2"]


def test_remote_new_cmd_and_expect_after_reset(sshd, params):
    r = Remote("echo one", sshd.hosts[:2], connection_params=params)
    finish(r.run())
    r.cmd = "echo two-{{{host}}}; sleep 1"
    r.reset()
    r.start()
    found = r.expect(r"two-(\S+)", timeout=60)
    assert [(p, m.group(1)) for p, i, m in found] == [(p, p.host.address) for p in r.processes]
    finish(r)
    assert [lines(p.stdout) for p in r.processes] == [["two-" + h.address] for h in sshd.hosts[:2]]


def test_expressions_evaluated_again_at_reset(sshd, params):
    WORDS[:] = ["a", "b"]
    r = Remote("echo {{WORDS}}", sshd.hosts[:2], connection_params=params)
    finish(r.run())
    assert outputs(r) == ["a", "b"]
    first = r.processes
    WORDS[:] = ["c", "d"]  # no attribute changed, the expression's value did
    r.reset()
    assert r.processes != first
    finish(r.run())
    assert outputs(r) == ["c", "d"]


def test_failed_rebuild_leaves_the_action_as_it_was(sshd, params):
    WORDS[:] = ["a"]
    r = Remote("echo {{WORDS}}", sshd.hosts[:1], connection_params=params)
    finish(r.run())
    p = r.processes[0]
    WORDS[:] = []  # an empty sequence cannot be substituted
    with pytest.raises(SubstitutionError):
        r.reset()
    assert r.processes == [p] and r.ended and outputs(r) == ["a"]
    WORDS[:] = ["e"]
    r.reset()
    finish(r.run())
    assert outputs(r) == ["e"]


def test_no_expressions_kept_at_rebuild_hosts_are_data(sshd, params):
    with no_expressions():
        r = Remote("echo '{{WORDS}}' {{{host}}}", sshd.hosts[:1], connection_params=params)
    r.hosts = sshd.hosts[1:3]
    r.reset()
    finish(r.run())
    assert outputs(r) == ["{{WORDS}} " + h.address for h in sshd.hosts[1:3]]


def test_fanout_applies_to_rebuilt_processes(sshd, params, shared_dir):
    cmd = "touch %s/$$; n=$(ls %s | wc -l); sleep 0.3; rm -f %s/$$; echo $n" % (shared_dir, shared_dir, shared_dir)
    r = Remote(cmd, sshd.hosts[:1], connection_params=params, fanout=2)
    r.hosts = sshd.hosts[:6]
    r.reset()
    finish(r.run())
    assert r.ok and len(r.processes) == 6
    assert max(int(n) for n in outputs(r)) <= 2


def test_remote_without_change_keeps_the_processes(sshd, params):
    r = Remote("echo x", sshd.hosts[:2], connection_params=params)
    processes = list(r.processes)
    finish(r.run())
    r.hosts = list(sshd.hosts[:2])  # equal hosts: nothing to remake
    r.reset()
    assert all(a is b for a, b in zip(r.processes, processes)) and len(r.processes) == 2
    finish(r.run())
    assert outputs(r) == ["x", "x"]


def test_put_new_local_files_after_reset(sshd, shared_dir, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    for name in ("f1", "f2"):
        (src / name).write_text(name)
    os.chmod(str(tmp_path), 0o755)
    os.chmod(str(src), 0o755)
    put = Put(sshd.hosts[:1], [str(src / "f1")], shared_dir, connection_params=sshd.connection_params_without_tty())
    finish(put.run())
    assert put.ok and os.listdir(shared_dir) == ["f1"]
    put.local_files = [str(src / "f2")]
    put.reset()
    finish(put.run())
    assert put.ok and sorted(os.listdir(shared_dir)) == ["f1", "f2"]


# ------------------------------------------------------------ taktuk


def test_taktuk_remote_new_hosts_after_reset(sshd, params):
    r = TaktukRemote("echo {{{host}}}", sshd.hosts[:2], connection_params=params)
    finish(r.run())
    assert r.ok
    r.hosts = sshd.hosts[2:5]
    r.reset()
    finish(r.run())
    assert r.ok, [p.stderr for p in r.processes]
    assert [p.host for p in r.processes] == sshd.hosts[2:5]
    assert outputs(r) == [h.address for h in sshd.hosts[2:5]]


def test_taktuk_remote_refused_hosts_at_reset(sshd, params):
    r = TaktukRemote("true", sshd.hosts[:2], connection_params=params)
    p = r.processes
    # per-host ports cannot be given to taktuk: refused when assigned...
    with pytest.raises(ValueError):
        r.hosts = [sshd.hosts[0], Host(sshd.hosts[1], port=2299)]
    # ... or, changed in place, when the processes are made again
    r.hosts[1].port = 2299
    with pytest.raises(ValueError):
        r.reset()
    assert r.processes == p


def test_taktuk_put_new_files_after_reset(sshd, params, shared_dir, tmp_path):
    os.chmod(str(tmp_path), 0o755)
    for name in ("g1", "g2"):
        (tmp_path / name).write_text(name)
    tp = TaktukPut(sshd.hosts[:1], [str(tmp_path / "g1")], shared_dir, connection_params=params)
    finish(tp.run())
    assert tp.ok, [p.stderr for p in tp.processes]
    tp.local_files = [str(tmp_path / "g2")]
    tp.reset()
    finish(tp.run())
    assert tp.ok, [p.stderr for p in tp.processes]
    assert sorted(os.listdir(shared_dir)) == ["g1", "g2"]


# ------------------------------------------------------------ chainput


def test_chainput_new_hosts_after_reset(sshd, shared_dir, tmp_path):
    os.chmod(str(tmp_path), 0o755)
    (tmp_path / "data").write_text("payload")
    p = dict(sshd.connection_params_without_tty())
    p["nc"] = "/bin/nc.traditional -v -v"
    cp = ChainPut(sshd.hosts[:1], [str(tmp_path / "data")], shared_dir + "/{{{host}}}", connection_params=p)
    finish(cp.run())
    assert cp.ok, [(q.stdout, q.stderr) for q in cp.processes]
    cp.hosts = sshd.hosts[1:3]
    cp.reset()
    assert [q.host for q in cp.receivers] == sshd.hosts[1:3]
    finish(cp.run())
    assert cp.ok, [(q.stdout, q.stderr) for q in cp.processes]
    for h in sshd.hosts[:3]:
        with open(os.path.join(shared_dir, h.address, "data")) as f:
            assert f.read() == "payload"
    assert Report([cp]).stats()["num_processes"] == 3  # 2 receivers and the sender
