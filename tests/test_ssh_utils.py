"""Unit tests of execo.ssh_utils: exact argv of the ssh, scp and port
forwarding builders, and the key by key resolution of connection params
(Host > connection_params argument > default_connection_params)."""

import pytest

from execo import config
from execo.host import Host
from execo.ssh_utils import (
    get_port_forward_argv,
    get_rewritten_host_address,
    get_scp_get_argv,
    get_scp_put_argv,
    get_ssh_argv,
    get_ssh_command,
    make_connection_params,
    resolve_connection_params,
)

NO_ESCAPE = ('-e', 'none')
SSH_OPTS = (
    '-tt',
    '-o',
    'BatchMode=yes',
    '-o',
    'PasswordAuthentication=no',
    '-o',
    'StrictHostKeyChecking=no',
    '-o',
    'UserKnownHostsFile=/dev/null',
    '-o',
    'ConnectTimeout=20',
)
SCP_OPTS = (
    '-o',
    'BatchMode=yes',
    '-o',
    'PasswordAuthentication=no',
    '-o',
    'StrictHostKeyChecking=no',
    '-o',
    'UserKnownHostsFile=/dev/null',
    '-o',
    'ConnectTimeout=20',
    '-rp',
)


@pytest.fixture
def defaults(monkeypatch):
    """A pristine copy of the spec's defaults, restored after the test."""
    d = dict(config.default_connection_params)
    d.update(
        {
            'user': None,
            'keyfile': None,
            'port': None,
            'ssh': 'ssh',
            'scp': 'scp',
            'ssh_options': SSH_OPTS,
            'scp_options': SCP_OPTS,
            'pty': False,
            'host_rewrite_func': None,
        }
    )
    monkeypatch.setattr(config, "default_connection_params", d)
    return d


def test_spec_default_options():
    assert config.default_connection_params['ssh_options'] == SSH_OPTS
    assert config.default_connection_params['scp_options'] == SCP_OPTS


def test_ssh_argv_defaults(defaults):
    # with the default -tt, ssh's escape character is turned off
    assert get_ssh_argv(Host('h1'), 'echo hi') == ('ssh',) + SSH_OPTS + NO_ESCAPE + ('--', 'h1', 'echo hi')
    # a plain address is accepted too
    assert get_ssh_argv('h1', 'echo hi') == ('ssh',) + SSH_OPTS + NO_ESCAPE + ('--', 'h1', 'echo hi')


def test_ssh_argv_remote_command_is_one_argument(defaults):
    argv = get_ssh_argv('h', 'echo $((6*7)); hostname', {'ssh_options': ()})
    assert argv == ('ssh', '--', 'h', 'echo $((6*7)); hostname')


def test_ssh_argv_host_user_keyfile_port(defaults):
    h = Host('h2', user='bob', keyfile='/k', port=2222)
    assert get_ssh_argv(h, 'ls', {'ssh_options': ('-q',)}) == (
        'ssh',
        '-q',
        '-l',
        'bob',
        '-i',
        '/k',
        '-p',
        '2222',
        '--',
        'h2',
        'ls',
    )


def test_ssh_command_split(defaults):
    params = {'ssh': 'ssh -q -x', 'ssh_options': ('-o', 'A=b')}
    assert get_ssh_argv('h', 'true', params) == ('ssh', '-q', '-x', '-o', 'A=b', '--', 'h', 'true')
    assert get_ssh_command('h', params) == ('ssh', '-q', '-x', '-o', 'A=b')


def test_resolution_key_by_key(defaults):
    defaults.update({'user': 'duser', 'keyfile': '/dkey', 'port': 1})
    cp = {'user': 'cuser', 'port': 2, 'ssh_options': ()}
    # Host False -> connection_params -> defaults, key by key
    assert get_ssh_argv(Host('h'), 'c', cp) == ('ssh', '-l', 'cuser', '-i', '/dkey', '-p', '2', '--', 'h', 'c')
    assert get_ssh_argv(Host('h', port=3), 'c', cp) == ('ssh', '-l', 'cuser', '-i', '/dkey', '-p', '3', '--', 'h', 'c')
    # Host None -> no option at all, whatever the other levels say
    assert get_ssh_argv(Host('h', user=None, keyfile=None, port=None), 'c', cp) == ('ssh', '--', 'h', 'c')
    # connection_params None -> none; False -> the default
    assert get_ssh_argv('h', 'c', {'ssh_options': (), 'user': None, 'keyfile': False}) == (
        'ssh',
        '-i',
        '/dkey',
        '-p',
        '1',
        '--',
        'h',
        'c',
    )


def test_resolve_connection_params(defaults):
    cp = {'user': 'cuser', 'forwarding_timeout': 3}
    p = resolve_connection_params(Host('h', keyfile='/hk'), cp)
    assert p['user'] == 'cuser' and p['keyfile'] == '/hk' and p['port'] is None
    assert p['forwarding_timeout'] == 3 and p['ssh'] == 'ssh'
    assert cp == {'user': 'cuser', 'forwarding_timeout': 3}  # not modified
    assert make_connection_params(None) == defaults and make_connection_params(None) is not defaults


def test_default_connection_params_changes_apply(defaults):
    defaults['ssh_options'] = ('-x',)
    defaults['port'] = 22
    assert get_ssh_argv('h', 'c') == ('ssh', '-x', '-p', '22', '--', 'h', 'c')


def test_host_rewrite_func(defaults):
    cp = {'ssh_options': (), 'host_rewrite_func': lambda a: a + '.example.org'}
    assert get_ssh_argv(Host('n1', user='u'), 'c', cp) == ('ssh', '-l', 'u', '--', 'n1.example.org', 'c')
    assert get_rewritten_host_address('n1', cp) == 'n1.example.org'
    assert get_rewritten_host_address('n1', None) == 'n1'
    defaults['host_rewrite_func'] = lambda a: a.upper()
    assert get_ssh_argv('n2', 'c', {'ssh_options': ()}) == ('ssh', '--', 'N2', 'c')
    cp = {'ssh_options': (), 'scp_options': (), 'user': 'u', 'host_rewrite_func': lambda a: 'r-' + a}
    assert get_scp_put_argv('n3', ['f'], '/d', cp) == ('scp', './f', 'u@r-n3:/d')
    assert get_port_forward_argv('n4', 'db', 5432, 7000, connection_params=cp)[-1] == 'r-n4'


def test_pty_adds_tt_once(defaults):
    assert get_ssh_argv('h', 'c', {'ssh_options': ('-q',), 'pty': True}) == ('ssh', '-q', '-tt') + NO_ESCAPE + (
        '--',
        'h',
        'c',
    )
    # already in the default options: not repeated
    assert get_ssh_argv('h', 'c', {'pty': True}) == ('ssh',) + SSH_OPTS + NO_ESCAPE + ('--', 'h', 'c')
    assert get_ssh_argv('h', 'c', {'ssh_options': ('-q',), 'pty': False}) == ('ssh', '-q', '--', 'h', 'c')


def test_scp_put_argv(defaults):
    h = Host('h', user='u', keyfile='/k', port=2222)
    assert get_scp_put_argv(h, ['a', 'b/c'], '/tmp/dst') == (
        ('scp',) + SCP_OPTS + ('-i', '/k', '-P', '2222', './a', './b/c', 'u@h:/tmp/dst')
    )
    assert get_scp_put_argv('h', 'one', connection_params={'scp_options': ()}) == ('scp', './one', 'h:.')
    assert get_scp_put_argv('h', ['x'], 'd', {'scp': 'scp -3 -q', 'scp_options': ('-r',)}) == (
        'scp',
        '-3',
        '-q',
        '-r',
        './x',
        'h:d',
    )


def test_scp_get_argv(defaults):
    h = Host('h', user='u', port=22)
    assert get_scp_get_argv(h, ['/r/a', '/r/b'], '/local', {'scp_options': ('-rp',)}) == (
        'scp',
        '-rp',
        '-P',
        '22',
        'u@h:/r/a',
        'u@h:/r/b',
        '/local',
    )
    assert get_scp_get_argv('h', '/etc/hostname', connection_params={'scp_options': ()}) == (
        'scp',
        'h:/etc/hostname',
        '.',
    )


def test_scp_ipv6_address(defaults):
    assert get_scp_get_argv(Host('::1', user='u'), 'f', 'd', {'scp_options': ()}) == ('scp', 'u@[::1]:f', './d')


def test_port_forward_argv(defaults):
    h = Host('gw', user='u', port=2222)
    assert get_port_forward_argv(h, 'db', 5432, 7000) == (
        ('ssh',) + SSH_OPTS + NO_ESCAPE + ('-l', 'u', '-p', '2222', '-L', '127.0.0.1:7000:db:5432', '-N', '--', 'gw')
    )
    assert get_port_forward_argv('gw', 'localhost', 80, 8080, '0.0.0.0', {'ssh_options': ()}) == (
        'ssh',
        '-L',
        '0.0.0.0:8080:localhost:80',
        '-N',
        '--',
        'gw',
    )
    assert get_port_forward_argv('gw', 'x', 1, 2, None, {'ssh_options': ()}) == (
        'ssh',
        '-L',
        '127.0.0.1:2:x:1',
        '-N',
        '--',
        'gw',
    )


def test_escape_character_off_with_a_tty():
    from execo.ssh_utils import get_ssh_argv

    argv = get_ssh_argv("h", "cat", {"ssh_options": ("-tt",)})
    assert argv[argv.index("-e") + 1] == "none"
    assert "-e" not in get_ssh_argv("h", "cat", {"ssh_options": ()})
    mine = get_ssh_argv("h", "cat", {"ssh_options": ("-tt", "-e", "^")})
    assert mine.count("-e") == 1 and "^" in mine


# ------------------------------------------------ fast handshake (issue 15)

FAST = ('-o', 'KexAlgorithms=^curve25519-sha256,curve25519-sha256@libssh.org')


def test_fast_handshake_off_by_default(defaults):
    assert 'ssh_fast_handshake' not in config.default_connection_params
    assert get_ssh_command("h") == ('ssh',) + SSH_OPTS + NO_ESCAPE
    assert not any("KexAlgorithms" in a for a in get_scp_put_argv("h", ["f"]))


def test_fast_handshake_ssh_and_scp(defaults):
    params = config.FAST_HANDSHAKE_CONNECTION_PARAMS
    assert params == {'ssh_fast_handshake': True}
    assert config.FAST_HANDSHAKE_KEX_OPTIONS == FAST
    # after the user's options: a KexAlgorithms of the user's own wins
    assert get_ssh_command("h", params) == ('ssh',) + SSH_OPTS + FAST + NO_ESCAPE
    assert get_scp_put_argv("h", ["f"], "d", params)[: 1 + len(SCP_OPTS) + 2] == ('scp',) + SCP_OPTS + FAST
    assert get_ssh_command("h", {'ssh_fast_handshake': False}) == ('ssh',) + SSH_OPTS + NO_ESCAPE


def test_fast_handshake_taktuk_connector(defaults):
    from execo.action import TaktukRemote

    r = TaktukRemote("true", ["h1", "h2"], connection_params={'ssh_fast_handshake': True})
    argv = r._taktuk_argv()
    connector = argv[argv.index("-c") + 1]
    assert "KexAlgorithms=^curve25519-sha256,curve25519-sha256@libssh.org" in connector
    r = TaktukRemote("true", ["h1", "h2"])
    argv = r._taktuk_argv()
    assert "KexAlgorithms" not in argv[argv.index("-c") + 1]
