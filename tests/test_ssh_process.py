"""Tests of execo.ssh_process (SshProcess, PortForwarder) and of
get_process with a host, against real OpenSSH daemons on loopback
addresses (the ``sshd`` fixture of conftest.py): no mock of ssh."""

import os
import signal
import socket
import socketserver
import subprocess
import threading
import time

import pytest
from helpers import finish, lines, wait_until

from execo.host import Host
from execo.process import Process, get_process
from execo.ssh_process import PortForwarder, SshProcess


def test_echo_and_hostname(sshd):
    p = SshProcess('echo $((6*7)); hostname', sshd.hosts[4])
    assert p.host.address == '127.0.0.5'
    finish(p.run())
    assert p.ok and p.finished_ok and p.exit_code == 0, p
    out = lines(p.stdout)
    assert out == ['42', socket.gethostname()], repr(p.stdout)


def test_host_address_with_connection_params(sshd):
    p = SshProcess('echo $((6*7))', '127.0.0.5', connection_params=sshd.connection_params)
    finish(p.run())
    assert p.ok and lines(p.stdout) == ['42'], p.dump() if hasattr(p, 'dump') else p


def test_attributes_and_repr(sshd):
    h = sshd.hosts[0]
    p = SshProcess('uptime', h, connection_params={'pty': False})
    assert p.remote_cmd == 'uptime'
    assert p.connection_params == {'pty': False}
    assert p.host == h and p.host is not h
    assert isinstance(p.cmd, tuple) and p.cmd[-2:] == ('127.0.0.1', 'uptime')
    assert p.shell is False
    assert isinstance(p, Process)
    assert repr(SshProcess('cmd', Host('h'))) == "SshProcess('cmd', Host('h'))"


def test_stderr_separate_without_tty(sshd):
    p = SshProcess('echo out; echo err >&2', sshd.hosts[1], connection_params=sshd.connection_params_without_tty())
    finish(p.run())
    assert p.ok, p
    assert p.stdout == 'out\n'
    assert p.stderr == 'err\n'


def test_big_output_after_a_first_small_read_is_kept_whole(sshd):
    # the first line ends the hold of a possible refusal: the collector
    # then holds a few bytes and goes on reading through the loop's buffer,
    # straight into itself once past 64 KiB; every byte is kept, in order
    cmd = "echo first; sleep 0.3; for i in 0 1 2; do head -c 300000 /dev/zero | tr '\\0' $i; done; echo; echo last >&2"
    p = finish(SshProcess(cmd, sshd.hosts[3], connection_params=sshd.connection_params_without_tty()).run())
    assert p.ok, p
    assert p.stdout == 'first\n' + '0' * 300000 + '1' * 300000 + '2' * 300000 + '\n', len(p.stdout)
    assert p.stderr == 'last\n'


def test_no_rc_file_noise(sshd):
    for params in (sshd.connection_params_without_tty(), sshd.connection_params):
        p = finish(SshProcess('true', sshd.hosts[2], connection_params=params).run())
        assert p.ok and p.stdout == '' and p.stderr == '', p
    p = finish(SshProcess('echo x', sshd.hosts[2], connection_params=sshd.connection_params_without_tty()).run())
    assert p.stdout == 'x\n' and p.stderr == ''


def test_exit_code_propagated(sshd):
    p = finish(SshProcess('exit 3', sshd.hosts[3], nolog_exit_code=True).run())
    assert p.exit_code == 3
    assert not p.ok and not p.error and not p.timeouted
    p = finish(SshProcess('exit 3', sshd.hosts[3], ignore_exit_code=True, nolog_exit_code=True).run())
    assert p.exit_code == 3 and p.ok


def test_unknown_user_fails_255(sshd):
    h = Host(sshd.hosts[0], user='no_such_user_execo')
    p = finish(SshProcess('true', h, nolog_exit_code=True).run())
    assert p.exit_code == 255 and not p.ok and not p.error


def test_wrong_key_fails_255(sshd, tmp_path):
    key = str(tmp_path / "wrong_key")
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key], check=True)
    p = finish(SshProcess('true', Host(sshd.hosts[0], keyfile=key), nolog_exit_code=True).run())
    assert p.exit_code == 255 and not p.ok


def test_connection_refused_255(sshd):
    # host attributes are the first level: port 2299 has no daemon
    h = Host('127.0.0.1', port=2299)
    p = SshProcess('true', h, connection_params=sshd.connection_params, nolog_exit_code=True)
    finish(p.run())
    assert p.exit_code == 255 and not p.ok and not p.error
    assert 'refused' in p.stderr.lower()


def _remote_sleeps(user):
    r = subprocess.run(["pgrep", "-u", user, "-f", "sleep 60"], stdout=subprocess.PIPE)
    return r.stdout.split()


def test_kill_ends_remote_command(sshd):
    assert not _remote_sleeps(sshd.user)
    p = SshProcess('sleep 60', sshd.hosts[6], nolog_exit_code=True)
    assert '-tt' in p.cmd
    p.start()
    try:
        assert wait_until(lambda: _remote_sleeps(sshd.user)), "remote sleep never started"
        p.kill()
        finish(p, 20)
        assert p.killed
        assert wait_until(lambda: not _remote_sleeps(sshd.user)), "remote sleep still running"
    finally:
        if not p.ended:
            p.kill(signal.SIGKILL)


def test_timeout_ends_remote_command(sshd):
    p = SshProcess('sleep 60', sshd.hosts[7], timeout=1, nolog_timeout=True, nolog_exit_code=True)
    t0 = time.monotonic()
    finish(p.run())
    assert time.monotonic() - t0 < 15
    assert p.timeouted and not p.ok
    assert wait_until(lambda: not _remote_sleeps(sshd.user))


def test_write_to_remote_stdin(sshd):
    p = SshProcess('read a; echo got $a', sshd.hosts[8], connection_params=sshd.connection_params_without_tty())
    p.start()
    p.write('hello\n')
    finish(p)
    assert p.ok and p.stdout == 'got hello\n'


def test_get_process_with_host(sshd):
    p = get_process('echo $((6*7))', host=sshd.hosts[4])
    assert isinstance(p, SshProcess)
    finish(p.run())
    assert lines(p.stdout) == ['42']
    p = get_process('echo remote', host='127.0.0.2', connection_params=sshd.connection_params)
    assert type(p) is SshProcess and p.host == Host('127.0.0.2')
    assert lines(finish(p.run()).stdout) == ['remote']
    p = get_process('echo local', host=None)
    assert type(p) is Process


def test_many_hosts_in_parallel(sshd):
    procs = [SshProcess('echo $SSH_CONNECTION', h) for h in sshd.hosts]
    for p in procs:
        p.start()
    for p in procs:
        finish(p)
    for h, p in zip(sshd.hosts, procs):
        assert p.ok, p
        assert lines(p.stdout)[0].split()[2] == h.address


class _EchoHandler(socketserver.BaseRequestHandler):
    def handle(self):
        while True:
            data = self.request.recv(65536)
            if not data:
                return
            self.request.sendall(data)


@pytest.fixture
def echo_server():
    server = socketserver.ThreadingTCPServer(('127.0.0.1', 0), _EchoHandler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def test_port_forwarder(sshd, echo_server):
    fw = PortForwarder(sshd.hosts[9], '127.0.0.1', echo_server, nolog_exit_code=True)
    assert isinstance(fw, SshProcess)
    assert isinstance(fw.local_port, int) and fw.bind_address == '127.0.0.1'
    assert not fw.forwarding.is_set()
    fw.start()
    try:
        assert fw.forwarding.wait(20), fw
        with socket.create_connection(('127.0.0.1', fw.local_port), timeout=10) as s:
            payload = os.urandom(100000)
            s.sendall(payload)
            s.shutdown(socket.SHUT_WR)
            received = b''
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                received += chunk
        assert received == payload
        assert fw.running
        fw.kill()
        finish(fw)
        assert fw.ended and fw.killed
    finally:
        if not fw.ended:
            fw.kill(signal.SIGKILL)


def test_port_forwarder_explicit_port(sshd, echo_server):
    from execo.utils import get_port

    port = get_port()
    fw = PortForwarder(
        sshd.hosts[10], '127.0.0.1', echo_server, local_port=port, bind_address='127.0.0.1', nolog_exit_code=True
    )
    assert fw.local_port == port
    fw.start()
    try:
        assert fw.forwarding.wait(20)
        with socket.create_connection(('127.0.0.1', port), timeout=10) as s:
            s.sendall(b'ping')
            assert s.recv(4) == b'ping'
    finally:
        fw.kill()
        finish(fw)


def test_port_forwarder_failure_leaves_event_unset(sshd, echo_server):
    h = Host('127.0.0.1', port=2299)  # no daemon there
    params = dict(sshd.connection_params, forwarding_timeout=2)
    fw = PortForwarder(h, '127.0.0.1', echo_server, connection_params=params, nolog_exit_code=True)
    finish(fw.run())
    assert fw.exit_code == 255 and not fw.ok
    assert not fw.forwarding.wait(0.5)


def test_sshprocess_name_is_made_from_the_remote_command():
    p = SshProcess("uptime  -p", Host("h1"))
    assert p.name == "uptime -p"
    p.name = "mine"
    assert p.name == "mine"
    assert SshProcess("true", Host("h1"), name="given").name == "given"


def test_tilde_dot_written_to_a_tty_ssh_is_data(sshd, tmp_path):
    # with -tt, ssh would take "~." at a line start as "disconnect"
    p = SshProcess("stty raw -echo; head -c 25", sshd.hosts[0], connection_params=sshd.connection_params)
    p.start()
    p.write(b"some data\n~.more data\n~~x\n")
    p.wait(20)
    assert p.ended and p.exit_code == 0, p
    assert p.stdout.replace("\r", "").endswith("some data\n~.more data\n~~x")


def test_failure_log_and_dump_show_the_real_ssh_command(sshd, capsys):
    # as in 2.8.2: str(), dump() and so the failure warning show the argv
    # really spawned (ssh, its options, --, the host, the remote command)
    from execo.log import mask_secrets

    p = SshProcess("PGPASSWORD=hunter2 exit 3", sshd.hosts[3], connection_params=sshd.connection_params_without_tty())
    finish(p.run())
    assert p.exit_code == 3 and p.cmd[0].endswith("ssh")
    assert p.cmd[-3:] == ("--", "127.0.0.4", "PGPASSWORD=hunter2 exit 3")
    real = "real cmd=%r" % (p.cmd,)
    assert real in str(p) and real in p.dump()
    err = capsys.readouterr().err
    assert "WARNING" in err and mask_secrets(real) in err
    assert "PGPASSWORD=***" in mask_secrets(real) and "hunter2" not in err


def test_port_forwarder_shows_its_real_ssh_command(sshd):
    pf = PortForwarder(sshd.hosts[0], "127.0.0.9", 80, local_port=1234)
    assert "real cmd=%r" % (pf.cmd,) in str(pf)
    assert "127.0.0.1:1234:127.0.0.9:80" in str(pf)
