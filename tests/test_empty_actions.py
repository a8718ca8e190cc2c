"""Actions over no hosts or no files are empty actions: no process, nothing
spawned, and start / wait / kill / expect / reset / stats / Report work, the
action ending ok at once (scripts compute their host and file lists;
execo 2.8.2's Put and Get behave so).

Every tool an empty action could spawn is a path that does not exist (and
the hosts have no sshd): had anything been started, a process would exist
and fail."""

import json

import pytest
from helpers import finish

from execo.action import (
    ChainPut,
    Get,
    ParallelActions,
    Put,
    Remote,
    RemoteSerial,
    SequentialActions,
    TaktukGet,
    TaktukPut,
    TaktukRemote,
)
from execo.host import Host
from execo.report import Report

# nothing listens there, and none of these tools exists
HOSTS = [Host("127.0.0.200", port=1), "127.0.0.201"]
MISSING = {
    "ssh": "/nonexistent/ssh",
    "scp": "/nonexistent/scp",
    "taktuk": "/nonexistent/taktuk",
    "nc": "/nonexistent/nc",
}

EMPTY = {
    "ChainPut no hosts": lambda: ChainPut([], ["/etc/hostname"], connection_params=MISSING),
    "ChainPut no files": lambda: ChainPut(HOSTS, [], connection_params=MISSING),
    "ChainPut nothing": lambda: ChainPut([], [], connection_params=MISSING),
    "Put no hosts": lambda: Put([], ["/etc/hostname"], connection_params=MISSING),
    "Put no files": lambda: Put(HOSTS, [], connection_params=MISSING),
    "Get no hosts": lambda: Get([], ["f"], connection_params=MISSING),
    "Get no files": lambda: Get(HOSTS, [], connection_params=MISSING),
    "TaktukPut no hosts": lambda: TaktukPut([], ["/etc/hostname"], connection_params=MISSING),
    "TaktukPut no files": lambda: TaktukPut(HOSTS[1:], [], connection_params=MISSING),
    "TaktukGet no hosts": lambda: TaktukGet([], ["f"], connection_params=MISSING),
    "TaktukGet no files": lambda: TaktukGet(HOSTS[1:], [], connection_params=MISSING),
    "Remote no hosts": lambda: Remote("true", [], connection_params=MISSING),
    "TaktukRemote no hosts": lambda: TaktukRemote("true", [], connection_params=MISSING),
    "RemoteSerial no hosts": lambda: RemoteSerial([], "/dev/ttyS0", 115200, connection_params=MISSING),
    "ParallelActions empty": lambda: ParallelActions([]),
    "SequentialActions empty": lambda: SequentialActions([]),
}


@pytest.fixture(params=sorted(EMPTY))
def empty(request):
    return EMPTY[request.param]()


def test_no_process(empty):
    assert empty.processes == []
    assert empty.ok and not empty.finished_ok and not empty.started


def test_runs_and_ends_ok(empty):
    finish(empty.start(), timeout=10)
    assert empty.started and empty.ended and empty.ok and empty.finished_ok
    assert empty.processes == []
    assert empty.expect("anything", timeout=1) == []
    empty.kill()
    empty.wait(timeout=1)
    assert empty.ended and empty.ok


def test_kill_before_and_after_start(empty):
    empty.kill()
    finish(empty.run(timeout=10), timeout=10)
    assert empty.finished_ok
    empty.kill()
    assert empty.finished_ok


def test_reset_and_run_again(empty):
    finish(empty.run(timeout=10), timeout=10)
    empty.reset()
    assert not empty.started and not empty.ended
    finish(empty.run(timeout=10), timeout=10)
    assert empty.finished_ok


def test_context_manager(empty):
    with empty.start() as a:
        finish(a, timeout=10)
    assert empty.finished_ok


def test_stats_and_report(empty):
    finish(empty.run(timeout=10), timeout=10)
    stats = empty.stats()
    assert stats["num_processes"] == 0 and stats["num_ok"] == 0
    assert stats["name"] == empty.name and stats["sub_stats"] == []
    report = Report([empty])
    rstats = report.stats()
    assert rstats["num_processes"] == 0 and rstats["sub_stats"][0]["name"] == empty.name
    assert json.loads(json.dumps(rstats)) == rstats
    for wide in (False, True):
        text = report.to_string(wide=wide)
        assert text.splitlines()[-1 if wide else -2].startswith("Total")


def test_empty_subactions_in_containers():
    """Empty actions inside ParallelActions / SequentialActions: the
    containers end ok too."""
    for container in (ParallelActions, SequentialActions):
        a = container(
            [EMPTY["ChainPut no files"](), EMPTY["Put no files"](), EMPTY["TaktukRemote no hosts"](), container([])]
        )
        finish(a.run(timeout=10), timeout=10)
        assert a.finished_ok and a.processes == []
        assert all(sub.finished_ok for sub in a.actions)


def test_chainput_without_files_needs_no_netcat():
    """An empty ChainPut runs nothing: a missing netcat is not an error (it
    still is when there is something to send)."""
    cp = ChainPut(HOSTS, [], connection_params=MISSING)
    assert cp.receivers == [] and cp.sender is None and cp.hosts == [Host(h) for h in HOSTS]
    with pytest.raises(FileNotFoundError):
        ChainPut(HOSTS, ["/etc/hostname"], connection_params=MISSING)


def test_chainput_empty_files_still_checked():
    with pytest.raises(ValueError):
        ChainPut(HOSTS, ["bad\0name"], connection_params=MISSING)
    with pytest.raises(ValueError):
        ChainPut([], [], connection_params=dict(MISSING, chainput_chain_retry=1.5))
