"""Tests of execo.remote (Remote, Put, Get, ActionFactory) against real
OpenSSH daemons on loopback addresses (the ``sshd`` fixture): no mock of
ssh or scp."""

import os
import signal
import socket
import subprocess
import threading
import uuid

import pytest
from helpers import finish, wait_until

from execo.action import (
    Action,
    ActionFactory,
    Get,
    ParallelActions,
    Put,
    Remote,
    default_action_factory,
    filter_bad_hosts,
    get_fileget,
    get_fileput,
    get_remote,
)
from execo.config import CHAINPUT, SCP, SSH, TAKTUK, configuration
from execo.host import Host
from execo.process import Process
from execo.report import Report
from execo.ssh_process import SshProcess

# a loopback address outside the sshd fixture's default 127.0.0.1..32, so
# that filter_bad_hosts given addresses (str) tells it from the good hosts;
# the port is an ephemeral one, so no daemon can be there
SILENT_ADDRESS = '127.0.0.254'


def _remote_sleeps(user):
    r = subprocess.run(["pgrep", "-u", user, "-f", "sleep 60"], stdout=subprocess.PIPE)
    return r.stdout.split()


def _ssh_options_connect_timeout(options, connect_timeout):
    """``options`` without any ``-o ConnectTimeout=...`` pair, plus
    ``-o ConnectTimeout=connect_timeout`` unless that is None (ssh keeps
    the first value given for an option: appending would not override)."""
    options = list(options)
    kept = []
    i = 0
    while i < len(options):
        if options[i] == '-o' and i + 1 < len(options) and options[i + 1].lower().startswith('connecttimeout'):
            i += 2
            continue
        kept.append(options[i])
        i += 1
    if connect_timeout is not None:
        kept += ['-o', 'ConnectTimeout=%s' % (connect_timeout,)]
    return tuple(kept)


class SilentListener(object):
    """A TCP listener which accepts connections and never writes (nor
    reads): the accepted sockets stay open until :meth:`close`."""

    def __init__(self, address):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind((address, 0))
        self.sock.listen(64)
        self.sock.settimeout(0.1)
        self.address, self.port = self.sock.getsockname()
        self.accepted = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept_loop, name='silent-listener', daemon=True)
        self._thread.start()

    def _accept_loop(self):
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            self.accepted.append(conn)

    def close(self):
        self._stop.set()
        self._thread.join(5)
        self.sock.close()
        for conn in self.accepted:
            conn.close()


@pytest.fixture
def silent_listener():
    listener = SilentListener(SILENT_ADDRESS)
    try:
        yield listener
    finally:
        listener.close()


# ---------------------------------------------------------------- Remote


def test_remote_32_hosts_substitutions(sshd):
    hosts = sshd.hosts[:32]
    assert len(hosts) == 32
    other = list(reversed(hosts))
    r = Remote(
        'echo {{{host}}} {{[h.address for h in other]}} {{range(100, 132)}}',
        hosts,
        connection_params=sshd.connection_params_without_tty(),
    )
    assert r.hosts == hosts and r.hosts is not hosts
    assert r.cmd.startswith('echo {{{host}}}')
    assert r.process_args == {}
    assert len(r.processes) == 32
    assert all(isinstance(p, SshProcess) for p in r.processes)
    finish(r.run())
    assert r.finished_ok, r
    for i, (p, h) in enumerate(zip(r.processes, hosts)):
        assert p.host.address == h.address
        assert p.remote_cmd == 'echo %s %s %d' % (h.address, other[i].address, 100 + i)
        assert p.stdout == '%s %s %d\n' % (h.address, other[i].address, 100 + i), p
    assert r.stats()['num_finished_ok'] == 32


def test_remote_substitution_in_user_function_sees_locals(sshd):
    def launch():
        words = ['alpha', 'beta']  # noqa: F841 (read by the {{...}} expression)
        return Remote('echo {{words}}', sshd.hosts[:3], connection_params=sshd.connection_params_without_tty())

    r = finish(launch().run())
    assert r.finished_ok
    assert [p.stdout for p in r.processes] == ['alpha\n', 'beta\n', 'alpha\n']


def test_remote_hosts_as_addresses_and_process_args(sshd):
    r = Remote(
        'exit 3',
        ['127.0.0.2', '127.0.0.3'],
        connection_params=sshd.connection_params,
        process_args={'nolog_exit_code': True, 'ignore_exit_code': True},
    )
    assert [h.address for h in r.hosts] == ['127.0.0.2', '127.0.0.3']
    assert all(isinstance(h, Host) for h in r.hosts)
    finish(r.run())
    assert r.finished_ok
    assert [p.exit_code for p in r.processes] == [3, 3]


def test_remote_failures_are_data(sshd, tmp_path):
    key = str(tmp_path / "wrong_key")
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key], check=True)
    refused = Host(sshd.hosts[2], port=2299)  # no daemon on that port
    wrong_key = Host(sshd.hosts[3], keyfile=key)
    good = [sshd.hosts[0], sshd.hosts[1], sshd.hosts[4]]
    hosts = [good[0], refused, good[1], wrong_key, good[2]]
    r = Remote(
        'echo ok', hosts, connection_params=sshd.connection_params_without_tty(), process_args={'nolog_exit_code': True}
    )
    finish(r.run())
    assert r.ended and not r.ok and not r.finished_ok
    by_host = dict((id(h), p) for h, p in zip(hosts, r.processes))
    for h in (refused, wrong_key):
        p = by_host[id(h)]
        assert p.exit_code == 255 and not p.ok and not p.error, p
    for h in good:
        p = by_host[id(h)]
        assert p.finished_ok and p.stdout == 'ok\n', p
    assert 'refused' in by_host[id(refused)].stderr.lower()
    kept = filter_bad_hosts(r, hosts)
    assert [h.address for h in kept] == [h.address for h in good]
    assert filter_bad_hosts(r, [h.address for h in hosts]) == [h.address for h in good]
    assert r.stats()['num_non_zero_exit_codes'] == 2


def _silent_mix(sshd, silent_listener, good_slice):
    silent = Host(SILENT_ADDRESS, user=sshd.user, keyfile=sshd.keyfile, port=silent_listener.port)
    good = sshd.hosts[good_slice]
    hosts = [good[0], silent] + list(good[1:])
    return silent, good, hosts


def test_silent_host_ends_by_connect_timeout(sshd, silent_listener):
    # accepts TCP, never sends the ssh banner: ssh's ConnectTimeout also
    # bounds the banner exchange
    silent, good, hosts = _silent_mix(sshd, silent_listener, slice(20, 23))
    params = sshd.connection_params_without_tty()
    params['ssh_options'] = _ssh_options_connect_timeout(params['ssh_options'], 2)
    r = Remote('echo ok {{{host}}}', hosts, connection_params=params, process_args={'nolog_exit_code': True})
    finish(r.run())
    assert r.ended and not r.ok and not r.finished_ok
    p = r.processes[1]
    assert p.host == silent
    assert 'ConnectTimeout=2' in p.cmd
    assert p.ended and p.exit_code == 255, p
    assert not p.ok and not p.finished_ok and not p.error and not p.timeouted and not p.killed, p
    assert 'banner exchange' in p.stderr, p.stderr
    assert silent_listener.accepted, "ssh never connected to the silent listener"
    for h, q in zip(hosts, r.processes):
        if q is not p:
            assert q.host == h
            assert q.finished_ok and q.stdout == 'ok %s\n' % (h.address,), q
    assert filter_bad_hosts(r, hosts) == list(good)
    assert filter_bad_hosts(r, [h.address for h in hosts]) == [h.address for h in good]
    s = r.stats()
    assert s['num_non_zero_exit_codes'] == 1 and s['num_timeouts'] == 0
    assert s['num_finished_ok'] == len(good)


def test_silent_host_sshprocess_connect_timeout(sshd, silent_listener):
    params = sshd.connection_params_without_tty()
    params['ssh_options'] = _ssh_options_connect_timeout(params['ssh_options'], 2)
    silent = Host(SILENT_ADDRESS, port=silent_listener.port)
    p = SshProcess('echo never', silent, connection_params=params, nolog_exit_code=True)
    p.run(60)
    assert p.ended, p
    assert p.exit_code == 255 and not p.ok and not p.finished_ok and not p.timeouted, p
    assert p.stdout == ''
    assert 'banner exchange' in p.stderr, p.stderr


def test_silent_host_ends_by_action_timeout(sshd, silent_listener):
    # no ConnectTimeout at all: only the processes' timeout ends the silent one
    silent, good, hosts = _silent_mix(sshd, silent_listener, slice(23, 27))
    params = sshd.connection_params_without_tty()
    params['ssh_options'] = _ssh_options_connect_timeout(params['ssh_options'], None)
    assert not any('connecttimeout' in o.lower() for o in params['ssh_options'])
    r = Remote(
        'echo ok {{{host}}}', hosts, connection_params=params, process_args={'timeout': 5, 'nolog_timeout': True}
    )
    assert all(p.timeout == 5 for p in r.processes)
    finish(r.run())
    assert r.ended and not r.ok and not r.finished_ok
    p = r.processes[1]
    assert p.host == silent
    assert not any('connecttimeout' in str(a).lower() for a in p.cmd)
    assert p.ended and p.timeouted and p.killed and not p.error, p
    assert not p.ok and not p.finished_ok, p
    assert p.exit_code != 0, p
    assert p.stdout == ''
    assert silent_listener.accepted, "ssh never connected to the silent listener"
    for h, q in zip(hosts, r.processes):
        if q is not p:
            assert q.host == h
            assert q.finished_ok and not q.timeouted and q.stdout == 'ok %s\n' % (h.address,), q
    assert filter_bad_hosts(r, hosts) == list(good)
    assert filter_bad_hosts(r, [h.address for h in hosts]) == [h.address for h in good]
    s = r.stats()
    assert s['num_timeouts'] == 1 and s['num_finished_ok'] == len(good)


def test_expect_over_remote(sshd):
    hosts = sshd.hosts[:4]
    r = Remote(
        'echo ready {{{host}}}; read x; echo bye $x', hosts, connection_params=sshd.connection_params_without_tty()
    )
    r.start()
    try:
        res = r.expect(r'ready (\S+)', timeout=20)
        assert [p for p, _, _ in res] == r.processes
        assert [idx for _, idx, _ in res] == [0] * 4
        assert [mo.group(1) for _, _, mo in res] == [h.address for h in hosts]
        r.write('now\n')
        res = r.expect(['nomatch', r'bye (\w+)'], timeout=20)
        assert [(idx, mo.group(1)) for _, idx, mo in res] == [(1, 'now')] * 4
        finish(r)
        assert r.finished_ok
    finally:
        r.kill()


def test_write_to_all_remote_stdins(sshd):
    r = Remote('read x; echo got $x', sshd.hosts[5:13], connection_params=sshd.connection_params_without_tty())
    r.start()
    try:
        r.write('hello\n')
        finish(r)
    finally:
        r.kill()
    assert r.finished_ok, r
    assert [p.stdout for p in r.processes] == ['got hello\n'] * 8


def test_print_to_remote(sshd):
    r = Remote('read x; echo got $x', sshd.hosts[:2], connection_params=sshd.connection_params_without_tty())
    r.start()
    try:
        print('printed', file=r, flush=True)
        finish(r)
    finally:
        r.kill()
    assert [p.stdout for p in r.processes] == ['got printed\n'] * 2


def test_kill_remote_ends_remote_commands(sshd):
    assert not _remote_sleeps(sshd.user)
    r = Remote('sleep 60', sshd.hosts[13:17], process_args={'nolog_exit_code': True})
    assert all('-tt' in p.cmd for p in r.processes)
    r.start()
    try:
        assert wait_until(lambda: len(_remote_sleeps(sshd.user)) >= 4), "remote sleeps never started"
        r.kill()
        finish(r, 30)
        assert all(p.killed for p in r.processes)
        assert r.ok  # killed processes count as ok (ProcessBase.ok)
        assert wait_until(lambda: not _remote_sleeps(sshd.user)), "remote sleeps still running"
    finally:
        for p in r.processes:
            if p.started and not p.ended:
                p.kill(signal.SIGKILL)


def test_context_manager_kills(sshd):
    with Remote('sleep 60', sshd.hosts[17:19], process_args={'nolog_exit_code': True}).start() as r:
        assert wait_until(lambda: len(_remote_sleeps(sshd.user)) >= 2)
    finish(r, 30)
    assert wait_until(lambda: not _remote_sleeps(sshd.user))


def test_report_over_parallel_remotes(sshd):
    params = sshd.connection_params_without_tty()
    a = Remote('echo a', sshd.hosts[:3], connection_params=params, name='ra')
    b = Remote('exit 1', sshd.hosts[3:5], connection_params=params, name='rb', process_args={'nolog_exit_code': True})
    pa = ParallelActions([a, b])
    finish(pa.run())
    assert a.finished_ok and not b.ok and not pa.ok
    report = Report([pa])
    s = report.stats()
    assert s['num_processes'] == 5
    assert s['num_ended'] == 5
    assert s['num_finished_ok'] == 3
    assert s['num_non_zero_exit_codes'] == 2
    text = report.to_string()
    assert isinstance(text, str) and text


def test_remote_repr_and_name(sshd):
    r = Remote('uptime', [Host('h1'), Host('h2')])
    assert r.name == "Remote 'uptime' on 2 hosts"
    assert repr(r).startswith("Remote('uptime', [Host('h1'), Host('h2')]")
    assert isinstance(r, Action)
    assert 'Remote' in str(r)


# ---------------------------------------------------------------- Put / Get


def _make_tree(root):
    os.makedirs(os.path.join(root, 'sub', 'deeper'))
    with open(os.path.join(root, 'sub', 'a.bin'), 'wb') as f:
        f.write(os.urandom(50000))
    with open(os.path.join(root, 'sub', 'deeper', 'b.txt'), 'w') as f:
        f.write('hello\nworld\n')


def _same_tree(a, b):
    listing_a = sorted((os.path.relpath(d, a), sorted(ds), sorted(fs)) for d, ds, fs in os.walk(a))
    listing_b = sorted((os.path.relpath(d, b), sorted(ds), sorted(fs)) for d, ds, fs in os.walk(b))
    assert listing_a == listing_b
    for d, _, fs in os.walk(a):
        for f in fs:
            with open(os.path.join(d, f), 'rb') as fa, open(os.path.join(b, os.path.relpath(d, a), f), 'rb') as fb:
                assert fa.read() == fb.read()


def test_put_get_round_trip(sshd, tmp_path):
    hosts = sshd.hosts[:8]
    params = sshd.connection_params_without_tty()
    tag = uuid.uuid4().hex
    remote_dir = '/tmp/execo-test-%s-{{{host}}}' % (tag,)
    src = tmp_path / 'src'
    src.mkdir()
    data = os.urandom(100000)
    (src / 'file.bin').write_bytes(data)
    _make_tree(str(src / 'tree'))
    out = tmp_path / 'out'
    for h in hosts:
        (out / h.address).mkdir(parents=True)
    try:
        finish(Remote('mkdir -p ' + remote_dir, hosts, connection_params=params).run())
        put = Put(hosts, [str(src / 'file.bin'), str(src / 'tree')], remote_dir, connection_params=params)
        assert put.local_files == [str(src / 'file.bin'), str(src / 'tree')]
        assert put.remote_location == remote_dir
        assert all(isinstance(p, Process) and p.host == h for p, h in zip(put.processes, hosts))
        assert put.processes[1].cmd[-1].endswith(':/tmp/execo-test-%s-%s' % (tag, hosts[1].address))
        finish(put.run())
        assert put.finished_ok, [p.stderr for p in put.processes]
        # the copies landed in per-host remote directories
        # (the remote user cannot read pytest's tmp_path: compare sizes there)
        check = Remote(
            'wc -c < %s/file.bin && ls %s/tree/sub/deeper' % (remote_dir, remote_dir), hosts, connection_params=params
        )
        finish(check.run())
        assert check.finished_ok, [p.stdout + p.stderr for p in check.processes]
        assert all(p.stdout.split() == ['100000', 'b.txt'] for p in check.processes)
        get = Get(
            hosts, [remote_dir + '/file.bin', remote_dir + '/tree'], str(out) + '/{{{host}}}', connection_params=params
        )
        assert get.remote_files == [remote_dir + '/file.bin', remote_dir + '/tree']
        finish(get.run())
        assert get.finished_ok, [p.stderr for p in get.processes]
        for h in hosts:
            assert (out / h.address / 'file.bin').read_bytes() == data
            _same_tree(str(src / 'tree'), str(out / h.address / 'tree'))
    finally:
        finish(Remote('rm -rf ' + remote_dir, hosts, connection_params=params).run())
    assert not any(os.path.exists('/tmp/execo-test-%s-%s' % (tag, h.address)) for h in hosts)


def test_put_get_expression_substitution_and_single_path(sshd, tmp_path):
    hosts = sshd.hosts[:2]
    params = sshd.connection_params_without_tty()
    srcs = []
    for i in range(2):
        p = tmp_path / ('f%d' % i)
        p.write_text('content %d\n' % i)
        srcs.append(str(p))
    tag = uuid.uuid4().hex
    dests = ['/tmp/execo-test-%s-%d' % (tag, i) for i in range(2)]
    try:
        put = Put(hosts, '{{srcs}}', '{{dests}}', connection_params=params)
        assert put.local_files == ['{{srcs}}']
        finish(put.run())
        assert put.finished_ok, [p.stderr for p in put.processes]
        for i in range(2):
            with open(dests[i]) as f:
                assert f.read() == 'content %d\n' % i
        local = tmp_path / 'back'
        local.mkdir()
        get = Get(hosts, '{{dests}}', str(local), connection_params=params)
        finish(get.run())
        assert get.finished_ok
        assert sorted(os.listdir(str(local))) == sorted(os.path.basename(d) for d in dests)
    finally:
        for d in dests:
            if os.path.exists(d):
                os.remove(d)


def test_put_failure_filter_bad_hosts(sshd, tmp_path):
    f = tmp_path / 'x'
    f.write_text('x')
    hosts = [sshd.hosts[0], Host(sshd.hosts[1], port=2299)]
    tag = uuid.uuid4().hex
    put = Put(
        hosts,
        [str(f)],
        '/tmp/execo-test-%s-{{{host}}}' % (tag,),
        connection_params=sshd.connection_params_without_tty(),
        process_args={'nolog_exit_code': True},
    )
    try:
        finish(put.run())
        assert put.processes[0].finished_ok
        assert not put.processes[1].ok and put.processes[1].exit_code != 0
        assert filter_bad_hosts(put, hosts) == [hosts[0]]
    finally:
        for h in hosts:
            path = '/tmp/execo-test-%s-%s' % (tag, h.address)
            if os.path.exists(path):
                os.remove(path)


# ---------------------------------------------------------------- ActionFactory


def test_action_factory_choices(sshd):
    hosts = [Host('h1'), Host('h2')]
    f = ActionFactory(remote_tool=SSH, fileput_tool=SCP, fileget_tool=SCP)
    r = f.get_remote('true', hosts)
    assert type(r) is Remote
    assert type(f.get_fileput(hosts, ['a'])) is Put
    g = f.get_fileget(hosts, ['a'], local_location='/tmp')
    assert type(g) is Get and g.local_location == '/tmp'
    assert type(get_remote('true', hosts)) is Remote
    assert type(get_fileput(hosts, ['a'])) is Put
    assert type(get_fileget(hosts, ['a'])) is Get
    assert isinstance(default_action_factory, ActionFactory)


def test_action_factory_taktuk_and_chainput_choices():
    from execo.action import TaktukGet, TaktukPut, TaktukRemote

    hosts = [Host('h1'), Host('h2')]
    assert type(ActionFactory(remote_tool=TAKTUK).get_remote('true', hosts)) is TaktukRemote
    assert type(ActionFactory(fileput_tool=TAKTUK).get_fileput(hosts, ['a'])) is TaktukPut
    assert type(ActionFactory(fileget_tool=TAKTUK).get_fileget(hosts, ['a'])) is TaktukGet
    from execo.action import ChainPut

    assert type(ActionFactory(fileput_tool=CHAINPUT).get_fileput(hosts, ['/etc/hostname'])) is ChainPut


def test_action_factory_invalid_tools():
    with pytest.raises(ValueError):
        ActionFactory(remote_tool=SCP)
    with pytest.raises(ValueError):
        ActionFactory(fileget_tool=CHAINPUT)
    with pytest.raises(ValueError):
        ActionFactory(fileput_tool=SSH)


def test_action_factory_none_means_configuration_at_call_time():
    f = ActionFactory()
    old = configuration['remote_tool']
    try:
        configuration['remote_tool'] = TAKTUK
        assert type(f.get_remote('true', ['h'])).__name__ == 'TaktukRemote'
        assert type(get_remote('true', ['h'])).__name__ == 'TaktukRemote'
        configuration['remote_tool'] = SSH
        assert type(f.get_remote('true', ['h'])) is Remote
    finally:
        configuration['remote_tool'] = old


def test_factories_are_frame_transparent():
    def user_code():
        targets = ['x', 'y']  # noqa: F841 (read by the {{...}} expression)
        r1 = get_remote('echo {{targets}}', ['h1', 'h2'])
        r2 = ActionFactory().get_remote('echo {{targets}}', ['h1', 'h2'])
        tag = ['t']  # noqa: F841 (read by the {{...}} expression)
        p = get_fileput(['h1'], ['/src/{{tag}}'], '/dst/{{targets}}')
        g = get_fileget(['h1'], ['/src/{{tag}}'], '/dst/{{targets}}')
        return r1, r2, p, g

    r1, r2, p, g = user_code()
    assert [p_.remote_cmd for p_ in r1.processes] == ['echo x', 'echo y']
    assert [p_.remote_cmd for p_ in r2.processes] == ['echo x', 'echo y']
    assert '/src/t' in p.processes[0].cmd and p.processes[0].cmd[-1].endswith(':/dst/x')
    assert g.processes[0].cmd[-1] == '/dst/x' and g.processes[0].cmd[-2].endswith(':/src/t')
