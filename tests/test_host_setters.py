"""Hosts assigned after construction (``action.hosts = [...]``,
``process.host = ...``) are converted to :class:`execo.host.Host` and
checked as the constructors do (execo 2.8.2 gives ``[Host('b')]`` for
``action.hosts = ['b']``; the spec says hosts are Host). Nothing runs:
the actions are only built."""

import pytest

from execo.action import ChainPut, Get, Put, Remote, RemoteSerial, TaktukGet, TaktukPut, TaktukRemote
from execo.host import Host
from execo.process import Process, SshProcess, TaktukProcess
from execo.serial_ssh import SerialSsh
from execo.ssh_process import PortForwarder

NC = "/bin/nc.traditional"

ACTIONS = {
    "Remote": lambda: Remote("true", ["a"]),
    "Put": lambda: Put(["a"], ["f"]),
    "Get": lambda: Get(["a"], ["f"]),
    "RemoteSerial": lambda: RemoteSerial(["a"], "/dev/ttyS0", 115200),
    "TaktukRemote": lambda: TaktukRemote("true", ["a"]),
    "TaktukPut": lambda: TaktukPut(["a"], ["f"]),
    "TaktukGet": lambda: TaktukGet(["a"], ["f"]),
    "ChainPut": lambda: ChainPut(["a"], ["f"], connection_params={"nc": NC}),
}

# names that cannot be host addresses: options, whitespace, shell code
HOSTILE = ["-oProxyCommand=touch /tmp/pwned", "a b", "a;b", "$(id)", "`id`", "a\nb", ""]


@pytest.fixture(params=sorted(ACTIONS))
def action(request):
    return ACTIONS[request.param]()


def test_constructor_gives_hosts(action):
    assert action.hosts == [Host("a")] and all(type(h) is Host for h in action.hosts)


def test_assigned_addresses_become_hosts(action):
    action.hosts = ["b", Host("c", user="u")]
    assert action.hosts == [Host("b"), Host("c", user="u")]
    assert all(type(h) is Host for h in action.hosts)


def test_assigned_single_address_or_iterator(action):
    action.hosts = "b"
    assert action.hosts == [Host("b")]
    action.hosts = (name for name in ("c", "d"))
    assert action.hosts == [Host("c"), Host("d")]
    action.hosts = []
    assert action.hosts == []


def test_assigned_hosts_are_copies(action):
    h = Host("b")
    action.hosts = [h]
    h.address = "changed"
    assert action.hosts == [Host("b")]


@pytest.mark.parametrize("name", HOSTILE)
def test_assigned_hostile_names_refused(action, name):
    with pytest.raises(ValueError):
        action.hosts = ["b", name]
    assert action.hosts == [Host("a")]  # unchanged


def test_assigned_non_hosts_refused(action):
    with pytest.raises(TypeError):
        action.hosts = ["b", 42]
    assert action.hosts == [Host("a")]


@pytest.mark.parametrize("make", [ACTIONS["TaktukRemote"], ACTIONS["TaktukPut"], ACTIONS["TaktukGet"]])
def test_taktuk_assigned_hosts_checked_as_by_constructor(make):
    """What taktuk cannot take is refused on assignment as at construction:
    names it reads as host ranges, per-host ports."""
    with pytest.raises(ValueError):
        TaktukRemote("true", ["node[1-3]"])
    a = make()
    with pytest.raises(ValueError):
        a.hosts = ["node[1-3]"]
    with pytest.raises(ValueError):
        a.hosts = [Host("b", port=22), Host("c", port=2222)]
    assert a.hosts == [Host("a")]
    a.hosts = [Host("b", port=2222), Host("c", port=2222), Host("[::1]", port=2222)]
    assert a.hosts == [Host("b", port=2222), Host("c", port=2222), Host("[::1]", port=2222)]


def test_chainput_assigned_hosts_without_duplicates():
    cp = ACTIONS["ChainPut"]()
    cp.hosts = ["b", Host("c"), "b", Host("c")]
    assert cp.hosts == [Host("b"), Host("c")]


# ------------------------------------------------------------ process.host


def test_process_host_assigned():
    p = Process("true")
    assert p.host is None
    p.host = "b"
    assert p.host == Host("b") and type(p.host) is Host
    p.host = Host("c", user="u")
    assert p.host == Host("c", user="u")
    p.host = None
    assert p.host is None
    for name in HOSTILE:
        with pytest.raises(ValueError):
            p.host = name
    with pytest.raises(TypeError):
        p.host = 42


@pytest.mark.parametrize(
    "make",
    [
        lambda: SshProcess("true", "a"),
        lambda: TaktukProcess("true", "a"),
        lambda: SerialSsh("a", "/dev/ttyS0", 115200),
        lambda: PortForwarder("a", "localhost", 80),
    ],
)
def test_remote_process_host_assigned(make):
    p = make()
    assert p.host == Host("a") and type(p.host) is Host
    p.host = "b"
    assert p.host == Host("b") and type(p.host) is Host
    for name in HOSTILE:
        with pytest.raises(ValueError):
            p.host = name
    with pytest.raises(TypeError):
        p.host = None  # a remote process needs a host, as at construction
    assert p.host == Host("b")


def test_processes_of_transfers_have_hosts():
    """Put and Get processes are plain Process with their host set."""
    for a in (Put(["a", "b"], ["f"]), Get(["a", "b"], ["f"])):
        assert [p.host for p in a.processes] == [Host("a"), Host("b")]
        a.processes[0].host = "c"
        assert a.processes[0].host == Host("c")
