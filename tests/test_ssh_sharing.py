"""Opt-in ssh connection sharing (connection_params['ssh_connection_sharing'])
against the real sshd fixture: the second action to the same hosts runs in
the first one's TCP connections, kill still ends remote commands, scp
shares too, and the masters go away when asked (never from a fork)."""

import os
import signal
import subprocess

import pytest
from helpers import finish, wait_until

from execo import ssh_sharing
from execo.action import Get, Put, Remote
from execo.ssh_process import PortForwarder
from execo.ssh_utils import get_port_forward_argv, get_scp_put_argv, get_ssh_argv


@pytest.fixture
def shared(sshd):
    """connection params with sharing on; every master closed afterwards."""
    params = dict(sshd.connection_params_without_tty())
    params['ssh_connection_sharing'] = 30
    yield params
    ssh_sharing.close_shared_connections()


def _client_ports(action):
    # $SSH_CONNECTION is "client_ip client_port server_ip server_port": the
    # same client port means the same TCP connection
    return [p.stdout.split()[1] for p in action.processes]


def _master_alive(path):
    return (
        subprocess.run(
            ["ssh", "-o", "ControlPath=%s" % (path,), "-O", "check", "x"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        ).returncode
        == 0
    )


def test_options_only_when_asked():
    assert not any("Control" in a for a in get_ssh_argv("h", "true"))
    argv = get_ssh_argv("h", "true", {"ssh_connection_sharing": True})
    i = argv.index("ControlPath=%s" % (os.path.join(ssh_sharing.control_dir(), "%C"),))
    assert argv[i - 1] == "-o" and "ControlMaster=auto" in argv and "ControlPersist=300" in argv
    assert "ControlPersist=7" in get_scp_put_argv("h", "f", ".", {"ssh_connection_sharing": 7})
    # a forwarding through a master would outlive the PortForwarder
    assert not any(
        "Control" in a
        for a in get_port_forward_argv("h", "r", 1, 2, connection_params={"ssh_connection_sharing": True})
    )
    assert oct(os.stat(ssh_sharing.control_dir()).st_mode & 0o777) == "0o700"
    ssh_sharing.close_shared_connections()


@pytest.mark.parametrize("bad", ["yes", -1, 0, [1]])
def test_bad_sharing_value_is_an_error_at_the_call(bad):
    with pytest.raises(ValueError):
        get_ssh_argv("h", "true", {"ssh_connection_sharing": bad})


def test_second_remote_reuses_the_connections(sshd, shared):
    hosts = sshd.hosts[0:8]
    first = finish(Remote("echo $SSH_CONNECTION", hosts, connection_params=shared).run())
    assert first.finished_ok, first
    second = finish(Remote("echo $SSH_CONNECTION", hosts, connection_params=shared).run())
    assert second.finished_ok, second
    assert _client_ports(second) == _client_ports(first)
    sockets = os.listdir(ssh_sharing.control_dir())
    assert len(sockets) == len(hosts)
    assert all(_master_alive(os.path.join(ssh_sharing.control_dir(), s)) for s in sockets)


def test_without_sharing_every_remote_connects_anew(sshd):
    params = sshd.connection_params_without_tty()
    hosts = sshd.hosts[8:12]
    first = finish(Remote("echo $SSH_CONNECTION", hosts, connection_params=params).run())
    second = finish(Remote("echo $SSH_CONNECTION", hosts, connection_params=params).run())
    assert first.finished_ok and second.finished_ok
    assert all(a != b for a, b in zip(_client_ports(first), _client_ports(second)))


def test_close_shared_connections_stops_the_masters(sshd, shared):
    r = finish(Remote("true", sshd.hosts[12:15], connection_params=shared).run())
    assert r.finished_ok
    directory = ssh_sharing.control_dir()
    sockets = [os.path.join(directory, s) for s in os.listdir(directory)]
    assert len(sockets) == 3 and all(_master_alive(s) for s in sockets)
    ssh_sharing.close_shared_connections()
    assert not os.path.exists(directory)
    assert not any(_master_alive(s) for s in sockets)
    # sharing goes on with new masters in a new directory
    again = finish(Remote("true", sshd.hosts[12:15], connection_params=shared).run())
    assert again.finished_ok and ssh_sharing.control_dir() != directory


def test_forked_child_leaves_the_masters_alone(sshd, shared):
    r = finish(Remote("true", sshd.hosts[15:17], connection_params=shared).run())
    assert r.finished_ok
    directory = ssh_sharing.control_dir()
    sockets = [os.path.join(directory, s) for s in os.listdir(directory)]
    pid = os.fork()
    if pid == 0:
        try:
            ssh_sharing.close_shared_connections()  # what atexit would run
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    assert os.path.isdir(directory) and all(_master_alive(s) for s in sockets)


def test_kill_of_a_shared_remote_ends_the_remote_commands(sshd, shared):
    def sleeps():
        r = subprocess.run(["pgrep", "-u", sshd.user, "-f", "sleep 67"], stdout=subprocess.PIPE)
        return r.stdout.split()

    params = dict(shared, ssh_options=sshd.ssh_options)  # with -tt, as execo's default
    hosts = sshd.hosts[17:20]
    finish(Remote("true", hosts, connection_params=params).run())  # masters up
    r = Remote("sleep 67", hosts, connection_params=params, process_args={"nolog_exit_code": True}).start()
    try:
        assert wait_until(lambda: len(sleeps()) >= 3, 20), "remote sleeps never started"
        r.kill()
        finish(r, 30)
        assert all(p.killed for p in r.processes)
        assert wait_until(lambda: not sleeps(), 20), "remote sleeps still running"
    finally:
        for p in r.processes:
            if p.started and not p.ended:
                p.kill(signal.SIGKILL)
    # the masters survived the kill of their sessions
    assert finish(Remote("true", hosts, connection_params=params).run()).finished_ok


def test_put_and_get_through_shared_connections(sshd, shared, tmp_path):
    hosts = sshd.hosts[20:23]
    src = tmp_path / "payload.bin"
    data = os.urandom(300000)
    src.write_bytes(data)
    remote_dir = "execo-sharing-%d" % (os.getpid(),)
    assert finish(Remote("mkdir -p %s" % remote_dir, hosts, connection_params=shared).run()).finished_ok
    put = finish(Put(hosts, [str(src)], remote_dir, connection_params=shared).run())
    assert put.finished_ok, put
    assert all(any(a.startswith("ControlPath=") for a in p.cmd) for p in put.processes)
    out = tmp_path / "back"
    out.mkdir()
    get = finish(Get(hosts[:1], ["%s/payload.bin" % remote_dir], str(out), connection_params=shared).run())
    assert get.finished_ok, get
    assert (out / "payload.bin").read_bytes() == data
    finish(Remote("rm -rf %s" % remote_dir, hosts, connection_params=shared).run())
    assert len(os.listdir(ssh_sharing.control_dir())) == len(hosts)


def test_port_forwarder_with_sharing_param_uses_its_own_connection(sshd, shared):
    pf = PortForwarder(sshd.hosts[23], "127.0.0.1", 2222, connection_params=shared)
    assert not any("Control" in str(a) for a in pf.cmd)
