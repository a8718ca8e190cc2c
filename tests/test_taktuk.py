"""TaktukRemote, TaktukPut, TaktukGet and TaktukProcess with the real
taktuk (Debian package) over the loopback sshd daemons of the ``sshd``
fixture; and the parser of taktuk's templated output on its own."""

import hashlib
import os
import shutil
import signal
import subprocess
import uuid

import pytest
from fixtures.sshd import CLIENT_OPTIONS
from helpers import finish, wait_until

from execo.action import ActionFactory, Remote, TaktukGet, TaktukPut, TaktukRemote
from execo.config import SCP, SSH, TAKTUK
from execo.host import Host
from execo.process import TaktukProcess
from execo.report import Report
from execo.taktuk import _TaktukParser

UNREACHABLE = '127.0.0.200'  # no daemon there: connection refused


@pytest.fixture
def params(sshd):
    return sshd.connection_params_without_tty()


@pytest.fixture
def shared_dir():
    """A directory the test user can write (all loopback hosts share it)."""
    path = '/tmp/execo-taktuk-%s' % (uuid.uuid4().hex[:8],)
    os.makedirs(path)
    os.chmod(path, 0o777)
    yield path
    shutil.rmtree(path, ignore_errors=True)


# ------------------------------------------------------------- the parser


class _Recorder(object):
    def __init__(self):
        self.records = []
        self.diagnostics = []

    def _taktuk_record(self, fields, payload):
        self.records.append((tuple(fields), payload))

    def _taktuk_diagnostic(self, text):
        self.diagnostics.append(text)


def _framed(kind, position, payload):
    return b"%s %s 1 %d\n%s" % (kind, position, len(payload), payload)


STREAM = (
    _framed(b"O", b"1", b"O 2 2 99\nlooks like a header\n")
    + b"T 1 1  6\n"
    + _framed(b"O", b"1", bytes(range(256)))
    + _framed(b"E", b"2", b"x" * 100000)  # a long line, no newline
    + b"S 1 1 768\n"
    + b"C 0 3 12\nssh: refused\n"
    + b"this is not a record\n"
    + b"K 2 5\nError\n"
    + b"T 1 1  8\n"
)


@pytest.mark.parametrize("chunk", [1, 2, 3, 7, 64, 4096, len(STREAM)])
def test_parser_frames_any_payload_in_any_chunking(chunk):
    rec = _Recorder()
    parser = _TaktukParser(rec)
    for i in range(0, len(STREAM), chunk):
        parser.write(STREAM[i : i + chunk])
    assert rec.records == [
        (("O", "1", "1", "29"), b"O 2 2 99\nlooks like a header\n"),
        (("T", "1", "1", "", "6"), None),
        (("O", "1", "1", "256"), bytes(range(256))),
        (("E", "2", "1", "100000"), b"x" * 100000),
        (("S", "1", "1", "768"), None),
        (("C", "0", "3", "12"), b"ssh: refused"),
        (("K", "2", "5"), b"Error"),
        (("T", "1", "1", "", "8"), None),
    ]
    assert rec.diagnostics == [b"this is not a record"]


# ------------------------------------------------------------ TaktukRemote


def test_taktuk_remote_32_hosts_substitutions_and_an_unreachable_host(sshd, params):
    hosts = list(sshd.hosts[:32])
    bad = Host(UNREACHABLE, user=sshd.user, keyfile=sshd.keyfile, port=sshd.port)
    hosts.insert(13, bad)
    r = TaktukRemote(
        'echo {{{host}}} {{range(len(hosts))}}; echo e{{{host}}} >&2; exit {{[0, 3]}}',
        hosts,
        connection_params=params,
        process_args={'nolog_exit_code': True, 'nolog_error': True},
    )
    assert all(isinstance(p, TaktukProcess) for p in r.processes)
    assert [p.host for p in r.processes] == hosts
    finish(r.run())
    assert r.ended and not r.ok
    for i, (p, h) in enumerate(zip(r.processes, hosts)):
        assert p.started and p.ended, p
        if h is bad:
            assert p.error and p.error_reason == 'connection failed' and not p.ok, p
            assert p.exit_code is None
            assert 'refused' in p.stderr, p.stderr
            continue
        assert not p.error, p
        assert p.remote_cmd == 'echo %s %d; echo e%s >&2; exit %d' % (h.address, i, h.address, i % 2 * 3)
        assert p.stdout == '%s %d\n' % (h.address, i), p
        assert p.stderr == 'e%s\n' % (h.address,), p
        assert p.exit_code == i % 2 * 3
        assert p.ok == (i % 2 == 0)
    s = r.stats()
    assert s['num_processes'] == 33 and s['num_ended'] == 33 and s['num_errors'] == 1


def test_taktuk_authentication_failure_is_recorded_on_that_host(sshd, params):
    # a user the key does not log in: taktuk's per-host -l, then ssh refuses
    hosts = list(sshd.hosts[:3])
    hosts.insert(1, Host(sshd.hosts[3].address, user='nobody', keyfile=sshd.keyfile, port=sshd.port))
    # (the fixture's connector options pin -l to the test user: not here)
    r = finish(
        TaktukRemote(
            'echo {{{host}}}',
            hosts,
            connection_params=dict(params, user=None, taktuk_connector_options=CLIENT_OPTIONS),
            process_args={'nolog_error': True},
        ).run()
    )
    assert [p.ok for p in r.processes] == [True, False, True, True]
    denied = r.processes[1]
    assert denied.error and denied.error_reason == 'connection failed'
    assert 'Permission denied' in denied.stderr, denied.stderr
    assert [p.stdout for p in r.processes if p.ok] == ['%s\n' % h.address for h in hosts if h.user != 'nobody']


def test_taktuk_output_is_passed_through_byte_exact(sshd, params):
    # taktuk's own framing must not show: separator-like text, all 256
    # byte values, a 1 MB line without newline, no final newline
    script = (
        "printf 'O 1 1 5\\nT 1 1  8\\n'; "
        "awk 'BEGIN{for(i=0;i<256;i++) printf \"%c\", i}'; "
        "head -c 1000000 /dev/zero | tr '\\0' y; printf 'end'"
    )
    r = finish(TaktukRemote(script, sshd.hosts[:3], connection_params=params).run())
    assert r.finished_ok, r
    expected = b'O 1 1 5\nT 1 1  8\n' + bytes(range(256)) + b'y' * 1000000 + b'end'
    for p in r.processes:
        got = p.stdout.encode('utf-8', 'surrogateescape')
        assert len(got) == len(expected)
        assert hashlib.sha256(got).digest() == hashlib.sha256(expected).digest()


def test_taktuk_same_results_as_ssh_through_the_factory(sshd, params):
    hosts = sshd.hosts[:8]
    cmd = 'echo {{{host}}}; echo err >&2; test {{range(8)}} -lt 5'
    results = {}
    for tool in (SSH, TAKTUK):
        r = ActionFactory(remote_tool=tool).get_remote(
            cmd, hosts, connection_params=params, process_args={'nolog_exit_code': True}
        )
        assert isinstance(r, TaktukRemote if tool == TAKTUK else Remote)
        finish(r.run())
        results[tool] = [(p.host, p.stdout, p.stderr, p.exit_code, p.ok) for p in r.processes]
    assert results[SSH] == results[TAKTUK]
    assert [ok for (_, _, _, _, ok) in results[TAKTUK]] == [True] * 5 + [False] * 3


def _remote_sleeps(user, marker):
    r = subprocess.run(["pgrep", "-u", user, "-f", "sleep %s" % marker], stdout=subprocess.PIPE)
    return r.stdout.split()


def test_kill_of_a_taktuk_remote_ends_the_remote_commands(sshd, params):
    assert not _remote_sleeps(sshd.user, 71)
    r = TaktukRemote('sleep 71', sshd.hosts[:5], connection_params=params).start()
    try:
        assert wait_until(lambda: all(p.started for p in r.processes), 30), r
        assert wait_until(lambda: len(_remote_sleeps(sshd.user, 71)) >= 5, 30)
        r.kill()
        finish(r, 30)
        assert all(p.killed and p.exit_code == -signal.SIGTERM for p in r.processes), r.processes
        assert r.ok  # killed processes count as ok
        assert wait_until(lambda: not _remote_sleeps(sshd.user, 71), 20)
    finally:
        if not r.ended:
            r.kill()


def test_timeout_of_one_taktuk_process(sshd, params):
    r = TaktukRemote(
        'sleep {{[0, 72, 0]}}',
        sshd.hosts[:3],
        connection_params=params,
        process_args={'timeout': 4, 'nolog_timeout': True},
    )
    finish(r.run())
    slow = r.processes[1]
    assert slow.timeouted and slow.killed and not slow.ok and slow.exit_code == -signal.SIGTERM
    assert all(p.finished_ok and not p.timeouted for p in (r.processes[0], r.processes[2]))
    assert wait_until(lambda: not _remote_sleeps(sshd.user, 72), 20)


def test_expect_and_report_over_a_taktuk_remote(sshd, params):
    r = TaktukRemote('echo ready {{{host}}}; sleep 1; echo done', sshd.hosts[:6], connection_params=params).start()
    found = r.expect(r'ready (\S+)', timeout=30)
    assert [(p, i) for (p, i, _) in found] == [(p, 0) for p in r.processes]
    assert [m.group(1) for (_, _, m) in found] == [p.host.address for p in r.processes]
    finish(r)
    assert r.finished_ok
    report = Report([r])
    assert report.stats()['num_processes'] == 6 and report.stats()['num_finished_ok'] == 6
    assert 'TaktukRemote' in report.to_string()


def test_taktuk_process_output_to_a_file_handler(sshd, params, tmp_path):
    target = tmp_path / 'out.txt'
    r = TaktukRemote(
        'echo to file; echo more',
        sshd.hosts[:1],
        connection_params=params,
        process_args={'stdout_handlers': [str(target)]},
    )
    finish(r.run())
    assert r.finished_ok
    assert target.read_text() == 'to file\nmore\n'
    assert r.processes[0].stdout == 'to file\nmore\n'


def test_taktuk_remote_needs_one_port_and_one_keyfile(sshd):
    with pytest.raises(ValueError, match='port'):
        TaktukRemote('true', [Host('a', port=22), Host('b', port=2222)])
    with pytest.raises(ValueError, match='keyfile'):
        TaktukRemote('true', [Host('a', keyfile='/k1'), Host('b')], connection_params={'keyfile': '/k2'})
    # same port through the connection params: fine
    TaktukRemote('true', [Host('a'), Host('b', port=2222)], connection_params={'port': 2222})


def test_per_host_users_on_the_taktuk_command_line():
    r = TaktukRemote('true', [Host('a', user='u1'), Host('b', user='u1'), Host('c', user='u2')])
    argv = r._taktuk_argv()
    i = argv.index('-m')
    assert argv[i - 2 : i] == ['-l', 'u1']
    assert argv.count('-l') == 2 and argv[argv.index('-l', i) + 1] == 'u2'
    assert argv[argv.index('-l', i) + 2 : argv.index('-l', i) + 4] == ['-m', 'c']


def test_empty_taktuk_remote_ends_at_once():
    r = TaktukRemote('true', []).run(5)
    assert r.ended and r.ok and r.processes == []


def test_missing_taktuk_ends_every_process_with_an_error(sshd, params):
    r = TaktukRemote(
        'true',
        sshd.hosts[:2],
        connection_params=dict(params, taktuk='/nonexistent/taktuk'),
        process_args={'nolog_error': True},
    )
    finish(r.run(), 30)
    assert r.ended and not r.ok
    assert all(p.ended and p.error and 'taktuk' in str(p.error_reason) for p in r.processes)


def test_write_is_not_supported():
    r = TaktukRemote('cat', [Host('a')])
    with pytest.raises(NotImplementedError):
        r.write('x')


# -------------------------------------------------------- TaktukPut / Get


def test_taktuk_put_then_get_round_trip(sshd, params, shared_dir, tmp_path):
    hosts = sshd.hosts[:6]
    src = tmp_path / 'payload.bin'
    data = os.urandom(2 * 1000 * 1000)
    src.write_bytes(data)
    tree = tmp_path / 'tree'
    (tree / 'sub').mkdir(parents=True)
    (tree / 'sub' / 'leaf.txt').write_text('leaf\n')
    for p in (tmp_path, tree, tree / 'sub'):
        os.chmod(str(p), 0o755)
    os.chmod(str(src), 0o644)
    os.chmod(str(tree / 'sub' / 'leaf.txt'), 0o644)
    dest = os.path.join(shared_dir, 'put')
    os.makedirs(dest)
    os.chmod(dest, 0o777)
    # loopback: every host writes into the same directory
    put = finish(TaktukPut(hosts, [str(src), str(tree)], dest, connection_params=params).run())
    assert put.finished_ok, put
    assert all(p.exit_code == 0 and p.started for p in put.processes)
    assert open(os.path.join(dest, 'payload.bin'), 'rb').read() == data
    assert open(os.path.join(dest, 'tree', 'sub', 'leaf.txt')).read() == 'leaf\n'
    back = os.path.join(shared_dir, 'back')
    os.makedirs(back)
    os.chmod(back, 0o777)
    # taktuk substitutes the remote node's $position in get destinations
    get = finish(
        TaktukGet(hosts, [os.path.join(dest, 'payload.bin')], back + '/copy-$position', connection_params=params).run()
    )
    assert get.finished_ok, get
    assert sorted(os.listdir(back)) == sorted('copy-%d' % i for i in range(1, 7))
    for i in range(1, 7):
        assert open(os.path.join(back, 'copy-%d' % i), 'rb').read() == data


def test_taktuk_get_of_a_missing_file_fails_like_scp(sshd, params, shared_dir):
    get = TaktukGet(
        sshd.hosts[:3],
        ['/nonexistent/file'],
        shared_dir,
        connection_params=params,
        process_args={'nolog_exit_code': True},
    )
    finish(get.run())
    assert not get.ok
    for p in get.processes:
        assert p.ended and not p.error and p.exit_code == 1 and not p.ok, p
        assert 'transfers failed' in p.stderr


def test_taktuk_put_to_an_unreachable_host(sshd, params, shared_dir, tmp_path):
    src = tmp_path / 'f'
    src.write_text('content\n')
    os.chmod(str(tmp_path), 0o755)
    os.chmod(str(src), 0o644)
    hosts = list(sshd.hosts[:3]) + [Host(UNREACHABLE, user=sshd.user, keyfile=sshd.keyfile, port=sshd.port)]
    put = finish(
        TaktukPut(hosts, [str(src)], shared_dir, connection_params=params, process_args={'nolog_error': True}).run()
    )
    assert [p.ok for p in put.processes] == [True, True, True, False]
    assert put.processes[3].error_reason == 'connection failed'
    assert open(os.path.join(shared_dir, 'f')).read() == 'content\n'


def test_factory_taktuk_file_tools(sshd, params, shared_dir, tmp_path):
    src = tmp_path / 'g'
    src.write_text('via factory\n')
    os.chmod(str(tmp_path), 0o755)
    os.chmod(str(src), 0o644)
    f = ActionFactory(fileput_tool=TAKTUK, fileget_tool=TAKTUK)
    put = finish(f.get_fileput(sshd.hosts[:2], [str(src)], shared_dir, connection_params=params).run())
    assert isinstance(put, TaktukPut) and put.finished_ok
    assert isinstance(ActionFactory(fileget_tool=SCP).get_fileget(sshd.hosts[:1], ['x']), object)
    get = f.get_fileget(
        sshd.hosts[:2], [os.path.join(shared_dir, 'g')], shared_dir + '/h-$position', connection_params=params
    )
    assert isinstance(get, TaktukGet)
    finish(get.run())
    assert get.finished_ok
    assert open(os.path.join(shared_dir, 'h-2')).read() == 'via factory\n'


# ------------------------------------------------------------ many hosts

STUB_CONNECTOR = r"""#!/bin/sh
# stub taktuk connector: skip the ssh options and the host, run the rest
# (the remote taktuk engine) locally
while [ $# -gt 0 ]; do
    case "$1" in
        -[BbcDEeFIiJLlmOopQRSWw]) shift 2 ;;
        -*) shift ;;
        *) break ;;
    esac
done
shift
# a real remote engine does not inherit the local engine's TAKTUK_* variables
for v in $(env | sed -n 's/^\(TAKTUK_[A-Za-z_]*\)=.*/\1/p'); do unset "$v"; done
exec /bin/sh -c "$*"
"""


def test_taktuk_remote_100_hosts_through_a_stub_connector(tmp_path):
    # 100 taktuk engines (a tree built by taktuk itself) whose outputs
    # interleave on one stream: each host gets exactly its own lines
    stub = tmp_path / 'connector'
    stub.write_text(STUB_CONNECTOR)
    stub.chmod(0o755)
    hosts = [Host('stub-%03d' % i) for i in range(100)]
    r = TaktukRemote(
        'for i in 1 2 3; do echo {{{host}}} $i; echo err {{{host}}} >&2; done',
        hosts,
        connection_params={'taktuk_connector': str(stub), 'taktuk_connector_options': ()},
    )
    finish(r.run(), 120)
    assert r.finished_ok, [p for p in r.processes if not p.ok][:3]
    for p in r.processes:
        a = p.host.address
        assert p.stdout == ''.join('%s %d\n' % (a, i) for i in (1, 2, 3)), p
        assert p.stderr == 'err %s\n' % (a,) * 3, p
