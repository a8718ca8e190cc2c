"""Issue 14, taktuk: names are data.

- host and user names never reach taktuk's connector line as code;
- commands too long for one argument of a command line are refused at
  construction;
- a normal interpreter exit (or a kill during the deployment) ends the
  remote commands of running TaktukRemotes.

Real taktuk over the loopback sshd daemons of the ``sshd`` fixture, no
mocks; every name that would run as shell code creates MARK."""

import json
import os
import pwd
import signal
import subprocess
import sys
import uuid

import pytest

import execo.host
import execo.ssh_utils
from execo.action import TaktukPut, TaktukRemote
from execo.host import Host
from execo.taktuk import MAX_ARG_STRLEN, MAX_COMMAND_BYTES

from fixtures.sshd import CLIENT_OPTIONS
from helpers import finish, wait_until

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

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


# ------------------------------------------------------------ exit

EXIT_SCRIPT = r"""
import json, subprocess, sys, time
from execo import Host
from execo.action import TaktukRemote

conf = json.loads(sys.argv[1])
hosts = [Host(a, user=conf['user'], keyfile=conf['keyfile'], port=conf['port']) for a in conf['addresses']]
r = TaktukRemote('sleep ' + conf['marker'], hosts, connection_params=conf['params']).start()

def remote_sleeps():
    out = subprocess.run(['pgrep', '-u', conf['user'], '-f', 'sleep ' + conf['marker']],
                         stdout=subprocess.PIPE).stdout
    return out.split()

if conf['wait_started']:
    deadline = time.monotonic() + 60
    while not (all(p.started for p in r.processes) and len(remote_sleeps()) >= len(hosts)):
        if time.monotonic() > deadline or r.ended:
            print('not started: %r' % (r.processes,))
            sys.exit(3)
        time.sleep(0.05)
print('started', flush=True)
# and now a normal exit, without waiting for r (maybe still deploying)
"""


def _remote_sleeps(user, marker):
    r = subprocess.run(['pgrep', '-u', user, '-f', 'sleep %s' % marker], stdout=subprocess.PIPE)
    return [int(pid) for pid in r.stdout.split()]


@pytest.mark.parametrize('wait_started', [True, False], ids=['commands-running', 'right-after-start'])
def test_normal_exit_ends_the_remote_commands_of_a_running_taktuk_remote(sshd, params, tmp_path, wait_started):
    # right after start(), taktuk is still deploying: the commands start
    # after the exit began, and must be killed as well
    marker = '1000.%s' % (uuid.uuid4().int % 10 ** 9,)
    script = tmp_path / 'exit.py'
    script.write_text(EXIT_SCRIPT)
    conf = {'wait_started': wait_started,
            'user': sshd.user, 'keyfile': sshd.keyfile, 'port': sshd.port, 'marker': marker,
            'addresses': [h.address for h in sshd.hosts[:3]],
            'params': dict(params, ssh_options=list(params['ssh_options']),
                           scp_options=list(params['scp_options']),
                           taktuk_connector_options=list(params['taktuk_connector_options']))}
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([ROOT] + sys.path))
    try:
        out = subprocess.run([sys.executable, str(script), json.dumps(conf)], env=env, timeout=300,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        assert out.returncode == 0 and b'started' in out.stdout, out.stdout.decode(errors='replace')
        assert wait_until(lambda: not _remote_sleeps(sshd.user, marker), 60), \
            'remote commands still running after a normal exit: %r' % (_remote_sleeps(sshd.user, marker),)
    finally:
        for pid in _remote_sleeps(sshd.user, marker):      # ours: the marker is unique
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def test_kill_during_deployment_ends_the_commands_started_later(sshd, params):
    # kill() right after start(): taktuk has not connected the hosts yet,
    # whose commands start after the kill was sent; they are killed too
    marker = '1000.%s' % (uuid.uuid4().int % 10 ** 9,)
    r = TaktukRemote('sleep %s' % marker, sshd.hosts[:3], connection_params=params,
                     process_args={'nolog_error': True})
    try:
        r.start()
        r.kill()
        finish(r, 60)
        assert all(p.ended and p.killed for p in r.processes), r.processes
        assert wait_until(lambda: not _remote_sleeps(sshd.user, marker), 30), _remote_sleeps(sshd.user, marker)
    finally:
        for pid in _remote_sleeps(sshd.user, marker):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
