"""Issue 14, taktuk: names are data.

- host and user names never reach taktuk's connector line as code;
- commands too long for one argument of a command line are refused at
  construction.

Real taktuk over the loopback sshd daemons of the ``sshd`` fixture, no
mocks; every name that would run as shell code creates MARK."""

import os
import pwd
import uuid

import pytest

import execo.host
import execo.ssh_utils
from execo.action import TaktukPut, TaktukRemote
from execo.host import Host
from execo.taktuk import MAX_ARG_STRLEN, MAX_COMMAND_BYTES

from fixtures.sshd import CLIENT_OPTIONS
from helpers import finish

MARK = 'execo-pwned-%s' % (uuid.uuid4().hex[:10],)
"""The file any name would create if it ran as shell code."""


def marker_places(sshd, *trees):
    """Every place a MARK file could appear: the trees (recursively),
    /tmp, the current directory, the local and test user's homes."""
    places = [(t, True) for t in trees]
    places += [('/tmp', False), (os.getcwd(), False), (os.path.expanduser('~'), False),
               (pwd.getpwnam(sshd.user).pw_dir, False)]
    return places


def assert_no_marker(places):
    found = []
    for top, recursive in places:
        if recursive:
            for d, dirs, files in os.walk(top):
                found += [os.path.join(d, n) for n in dirs + files if n == MARK]
        elif os.path.lexists(os.path.join(top, MARK)):
            found.append(os.path.join(top, MARK))
    assert not found, 'a name ran as shell code: %r' % (found,)


@pytest.fixture
def params(sshd):
    return sshd.connection_params_without_tty()


# --------------------------------------------------- hosts and users

def test_hostile_hosts_and_users_are_refused_at_construction():
    with pytest.raises(ValueError):
        TaktukRemote('true', [Host('127.0.0.33 true;id>X;#')])
    with pytest.raises(ValueError):
        TaktukRemote('true', [Host('h')], connection_params={'user': 'xtest$(id>X)'})
    with pytest.raises(ValueError):
        TaktukRemote('true', [Host('h')], connection_params={'host_rewrite_func': lambda a: a + ';id>X'})
    # taktuk would read these as host ranges / lists (node1, node2, node3)
    for spec in ('node[1-3]', 'a[1]'):
        with pytest.raises(ValueError, match='taktuk'):
            TaktukRemote('true', [Host(spec)])
        with pytest.raises(ValueError, match='taktuk'):
            TaktukPut([Host('h')], ['f'], connection_params={'host_rewrite_func': lambda a, s=spec: s})
    # an IPv6 address in brackets is one host, given without them
    argv = TaktukRemote('true', [Host('[::1]'), Host('u@[fe80::1%eth0]')])._taktuk_argv()
    assert [argv[i + 1] for i, a in enumerate(argv) if a == '-m'] == ['::1', 'u@fe80::1%eth0']


def test_connector_line_gets_hosts_and_users_as_data_even_past_validation(sshd, tmp_path, monkeypatch):
    # defense in depth: with the checks of execo.host switched off, a host
    # or a user made of shell code reaches taktuk, whose connector line is
    # run by /bin/sh: it must be an (unreachable) name, never code
    monkeypatch.chdir(tmp_path)
    for module in (execo.host, execo.ssh_utils):
        monkeypatch.setattr(module, 'check_address', lambda a: a)
        monkeypatch.setattr(module, 'check_user', lambda u: u)
    bad_host = Host('127.0.0.1 true;touch %s;#' % MARK, user=sshd.user, keyfile=sshd.keyfile, port=sshd.port)
    bad_user = Host(sshd.hosts[1].address, user='%s;touch %s;#' % (sshd.user, MARK),
                    keyfile=sshd.keyfile, port=sshd.port)
    good = sshd.hosts[2]
    r = finish(TaktukRemote('echo ok', [bad_host, bad_user, good],
                            connection_params={'taktuk_connector_options': CLIENT_OPTIONS},
                            process_args={'nolog_error': True}).run())
    assert [p.ok for p in r.processes] == [False, False, True], r.processes
    assert all(p.error_reason == 'connection failed' for p in r.processes[:2])
    assert r.processes[2].stdout == 'ok\n'
    assert_no_marker(marker_places(sshd, str(tmp_path)))


# ------------------------------------------------------- long commands

def test_longest_command_runs_and_a_longer_one_is_refused(sshd, params):
    head = 'echo ok; : '
    cmd = head + 'x' * (MAX_COMMAND_BYTES - len(head))
    assert len(cmd.encode()) == MAX_COMMAND_BYTES
    r = finish(TaktukRemote(cmd, sshd.hosts[:2], connection_params=params).run())
    assert r.finished_ok, [(p.error_reason, p.stderr[-200:]) for p in r.processes]
    assert [p.stdout for p in r.processes] == ['ok\n', 'ok\n']
    with pytest.raises(ValueError, match='MAX_ARG_STRLEN') as e:
        TaktukRemote(cmd + 'x', sshd.hosts[:2], connection_params=params)
    assert str(MAX_COMMAND_BYTES) in str(e.value) and str(MAX_ARG_STRLEN) in str(e.value)
    # multi-byte characters count as their UTF-8 bytes
    with pytest.raises(ValueError, match='MAX_ARG_STRLEN'):
        TaktukRemote('\u00e9' * (MAX_COMMAND_BYTES // 2 + 1), sshd.hosts[:1])
