"""Issue 14, taktuk: names are data.

- host and user names never reach taktuk's connector line as code;
- commands too long for one argument of a command line are refused at
  construction;
- a normal interpreter exit (or a kill during the deployment) ends the
  remote commands of running TaktukRemotes;
- hostile file names and locations round-trip literally through
  TaktukPut and TaktukGet and never run anything.

Real taktuk over the loopback sshd daemons of the ``sshd`` fixture, no
mocks; every name that would run as shell code creates MARK."""

import json
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import uuid

import pytest
from fixtures.sshd import CLIENT_OPTIONS
from helpers import finish, wait_until

import execo.host
import execo.ssh_utils
from execo.action import TaktukGet, TaktukPut, TaktukRemote
from execo.host import Host
from execo.taktuk import MAX_ARG_STRLEN, MAX_COMMAND_BYTES

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

MARK = 'execo-pwned-%s' % (uuid.uuid4().hex[:10],)
"""The file any name would create if it ran as shell code."""


def marker_places(sshd, *trees):
    """Every place a MARK file could appear: the trees (recursively),
    /tmp, the current directory, the local and test user's homes."""
    places = [(t, True) for t in trees]
    places += [
        ('/tmp', False),
        (os.getcwd(), False),
        (os.path.expanduser('~'), False),
        (pwd.getpwnam(sshd.user).pw_dir, False),
    ]
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
    bad_user = Host(
        sshd.hosts[1].address, user='%s;touch %s;#' % (sshd.user, MARK), keyfile=sshd.keyfile, port=sshd.port
    )
    good = sshd.hosts[2]
    r = finish(
        TaktukRemote(
            'echo ok',
            [bad_host, bad_user, good],
            connection_params={'taktuk_connector_options': CLIENT_OPTIONS},
            process_args={'nolog_error': True},
        ).run()
    )
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
    marker = '1000.%s' % (uuid.uuid4().int % 10**9,)
    script = tmp_path / 'exit.py'
    script.write_text(EXIT_SCRIPT)
    conf = {
        'wait_started': wait_started,
        'user': sshd.user,
        'keyfile': sshd.keyfile,
        'port': sshd.port,
        'marker': marker,
        'addresses': [h.address for h in sshd.hosts[:3]],
        'params': dict(
            params,
            ssh_options=list(params['ssh_options']),
            scp_options=list(params['scp_options']),
            taktuk_connector_options=list(params['taktuk_connector_options']),
        ),
    }
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([ROOT] + sys.path))
    try:
        out = subprocess.run(
            [sys.executable, str(script), json.dumps(conf)],
            env=env,
            timeout=300,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        assert out.returncode == 0 and b'started' in out.stdout, out.stdout.decode(errors='replace')
        assert wait_until(lambda: not _remote_sleeps(sshd.user, marker), 60), (
            'remote commands still running after a normal exit: %r' % (_remote_sleeps(sshd.user, marker),)
        )
    finally:
        for pid in _remote_sleeps(sshd.user, marker):  # ours: the marker is unique
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def test_kill_during_deployment_ends_the_commands_started_later(sshd, params):
    # kill() right after start(): taktuk has not connected the hosts yet,
    # whose commands start after the kill was sent; they are killed too
    marker = '1000.%s' % (uuid.uuid4().int % 10**9,)
    r = TaktukRemote('sleep %s' % marker, sshd.hosts[:3], connection_params=params, process_args={'nolog_error': True})
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


# ------------------------------------------------------ put / get names


def hostile_names():
    """File names (one path component each) that a shell, perl's open
    or taktuk would read, each of which creates MARK if run."""
    return [
        'report $(touch %s).txt' % MARK,
        '`touch %s`' % MARK,
        'semi;touch %s;colon' % MARK,
        'and && touch %s' % MARK,
        'touch %s |' % MARK,  # perl's 2-argument open: a pipe
        '<less',
        '>greater',  # ... and modes
        ' blanks around ',  # ... stripped by it
        "quote ' \"double\" \\back",
        'new\nline',
        'trailing newline\n',
        '-leading-dash',
        '--',
        'c:olon',
        'user@host:notes.txt',  # scp's remote syntax
        "{{open('%s','w') and 'x'}}" % MARK,  # execo's substitutions
        '{{{host}}}',
        '[',
        ']',
        '] x',
        'a[1-3]b',  # taktuk's argument delimiters, ranges
        'star*',
        '?',
        '~tilde',
        '$HOME ${PATH} $1 $$',  # not taktuk variables: literal
        'tab\there',
        os.fsdecode(b'not-utf8-\xff\xfe\xe9'),
    ]


def aliases(sshd):
    home = pwd.getpwnam(sshd.user).pw_dir
    return set(n for n in os.listdir(home) if n.startswith('.execo-taktuk-'))


@pytest.fixture
def shared_dir():
    """A directory the test user can write (the loopback hosts share it)."""
    path = '/tmp/execo-taktuk-hostile-%s' % (uuid.uuid4().hex[:8],)
    os.makedirs(path)
    os.chmod(path, 0o777)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _open_tree(path):
    for d, _dirs, files in os.walk(path):
        os.chmod(d, 0o777)
        for f in files:
            os.chmod(os.path.join(d, f), 0o666)


def _content(name, salt):
    return os.fsencode(name) + b'\0' + salt.encode() + b'\n' + bytes(range(256))


def test_hostile_names_round_trip_through_put_and_get(sshd, params, shared_dir, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the local taktuk's (and relative MARKs') directory
    hosts = sshd.hosts[:3]
    names = hostile_names()
    salt = uuid.uuid4().hex
    before = aliases(sshd)

    # a local directory with a hostile name, holding hostile names
    src = tmp_path / ('src $(touch %s) `touch %s`;x' % (MARK, MARK))
    (src / ('sub $(touch %s)' % MARK)).mkdir(parents=True)
    for n in names:
        (src / n).write_bytes(_content(n, salt))
    (src / ('sub $(touch %s)' % MARK) / '-x;y').write_bytes(b'deep\n')
    _open_tree(str(src))

    # 1. the directory to a hostile location that does not exist: the
    # location is made, literally, as that directory (taktuk's "cp -r";
    # one host: on loopback the next ones would find it made, and copy
    # into it)
    location = os.path.join(shared_dir, 'dest $(touch %s) `touch %s`;[x]\n-*' % (MARK, MARK))
    put = finish(TaktukPut(hosts[:1], [str(src)], location, connection_params=params).run())
    assert put.finished_ok, [(p.host.address, p.stderr) for p in put.processes]
    assert os.path.isdir(location)
    assert sorted(os.listdir(location)) == sorted(names + ['sub $(touch %s)' % MARK])
    for n in names:
        with open(os.path.join(location, n), 'rb') as f:
            assert f.read() == _content(n, salt), n
    with open(os.path.join(location, 'sub $(touch %s)' % MARK, '-x;y'), 'rb') as f:
        assert f.read() == b'deep\n'

    # 2. each hostile file, named on the command line, into an existing
    # hostile directory whose path holds "$(touch /tmp/MARK)"
    into = os.path.join(shared_dir, '$(touch ', 'tmp', '%s)' % MARK)
    os.makedirs(into)
    _open_tree(shared_dir)
    put = finish(TaktukPut(hosts, [str(src / n) for n in names], into, connection_params=params).run())
    assert put.finished_ok, [(p.host.address, p.stderr) for p in put.processes]
    assert sorted(os.listdir(into)) == sorted(names)
    for n in names:
        with open(os.path.join(into, n), 'rb') as f:
            assert f.read() == _content(n, salt), n

    # 3. back, each host into its own existing hostile local directory
    back = tmp_path / ('back `touch %s`' % MARK)
    for i in (1, 2, 3):
        (back / ('h $(touch %s) %d' % (MARK, i))).mkdir(parents=True)
    get = finish(
        TaktukGet(
            hosts,
            [os.path.join(into, n) for n in names],
            str(back / ('h $(touch %s) $position' % MARK)),
            connection_params=params,
        ).run()
    )
    assert get.finished_ok, [(p.host.address, p.stderr) for p in get.processes]
    for i in (1, 2, 3):
        d = back / ('h $(touch %s) %d' % (MARK, i))
        assert sorted(os.listdir(str(d))) == sorted(names)
        for n in names:
            assert (d / n).read_bytes() == _content(n, salt), n

    # 4. the hostile remote directory back, to a hostile local location
    # that does not exist (made as that directory)
    got = tmp_path / ('got $(touch %s);`touch %s`' % (MARK, MARK))
    get = finish(TaktukGet(hosts[:1], [location], str(got), connection_params=params).run())
    assert get.finished_ok, [(p.host.address, p.stderr) for p in get.processes]
    assert sorted(os.listdir(str(got))) == sorted(names + ['sub $(touch %s)' % MARK])
    for n in names:
        assert (got / n).read_bytes() == _content(n, salt), n
    assert (got / ('sub $(touch %s)' % MARK) / '-x;y').read_bytes() == b'deep\n'

    assert_no_marker(marker_places(sshd, str(tmp_path), shared_dir))
    assert aliases(sshd) == before, 'remote aliases left behind'


def test_taktuk_variables_are_the_only_substitutions(sshd, params, shared_dir, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    hosts = sshd.hosts[:2]
    src = os.path.join(shared_dir, 'f $HOME')
    with open(src, 'w') as f:
        f.write('x\n')
    os.chmod(src, 0o666)
    get = finish(
        TaktukGet(
            hosts, [src], str(tmp_path / 'h-$host-${position}-$HOME-$hostx-$(echo)'), connection_params=params
        ).run()
    )
    assert get.finished_ok, [(p.host.address, p.stderr) for p in get.processes]
    assert sorted(os.listdir(str(tmp_path))) == sorted(
        'h-%s-%d-$HOME-$hostx-$(echo)' % (h.address, i + 1) for i, h in enumerate(hosts)
    )
    # remote names: the sending host's values, on the host itself
    for i in (1, 2):
        with open(os.path.join(shared_dir, 'r-%d $PATH' % i), 'w') as f:
            f.write('from %d\n' % i)
    get = finish(
        TaktukGet(
            hosts,
            [os.path.join(shared_dir, 'r-$position $PATH')],
            str(tmp_path / 'g-${position}'),
            connection_params=params,
        ).run()
    )
    assert get.finished_ok, [(p.host.address, p.stderr) for p in get.processes]
    assert [(tmp_path / ('g-%d' % i)).read_text() for i in (1, 2)] == ['from 1\n', 'from 2\n']
    # TaktukPut: the sending node is this one, rank 0, position 0
    put = finish(
        TaktukPut(
            hosts[:1], [src], os.path.join(shared_dir, 'p-$rank-$position-${HOME}'), connection_params=params
        ).run()
    )
    assert put.finished_ok, [(p.host.address, p.stderr) for p in put.processes]
    with open(os.path.join(shared_dir, 'p-0-0-${HOME}')) as f:
        assert f.read() == 'x\n'


def test_file_names_that_cannot_be_names_are_refused():
    for bad in ('', 'a\0b'):
        with pytest.raises(ValueError):
            TaktukPut([Host('h')], [bad], '.')
        with pytest.raises(ValueError):
            TaktukPut([Host('h')], ['f'], bad)
        with pytest.raises(ValueError):
            TaktukGet([Host('h')], [bad], '.')
        with pytest.raises(ValueError):
            TaktukGet([Host('h')], ['f'], bad)


def test_failed_transfers_leave_no_alias_and_run_nothing(sshd, params, shared_dir, tmp_path, monkeypatch):
    work = tmp_path / 'work'
    private = tmp_path / 'private'  # where the local aliases are made
    work.mkdir()
    private.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setattr(tempfile, 'tempdir', str(private))
    before = aliases(sshd)
    missing = os.path.join(shared_dir, 'missing $(touch %s) |' % MARK)
    get = finish(
        TaktukGet(
            sshd.hosts[:2], [missing], str(work), connection_params=params, process_args={'nolog_exit_code': True}
        ).run()
    )
    assert all(p.exit_code == 1 and not p.error and 'transfers failed' in p.stderr for p in get.processes)
    put = finish(
        TaktukPut(
            sshd.hosts[:2],
            [str(work / ('none `touch %s`' % MARK))],
            shared_dir,
            connection_params=params,
            process_args={'nolog_exit_code': True},
        ).run()
    )
    assert all(p.exit_code == 1 and not p.error for p in put.processes)
    assert os.listdir(str(work)) == [] and os.listdir(shared_dir) == []
    assert os.listdir(str(private)) == [], 'local aliases left behind'
    assert_no_marker(marker_places(sshd, str(tmp_path), shared_dir))
    assert aliases(sshd) == before


def test_killed_transfers_end_and_leave_no_local_alias(sshd, params, shared_dir, tmp_path, monkeypatch):
    private = tmp_path / 'private'
    private.mkdir()
    monkeypatch.setattr(tempfile, 'tempdir', str(private))
    src = tmp_path / 'big'
    src.write_bytes(os.urandom(8 * 1000 * 1000))
    remote = os.path.join(shared_dir, 'remote-big')
    shutil.copyfile(str(src), remote)
    os.chmod(remote, 0o644)
    before = aliases(sshd)
    try:
        for action in (
            TaktukPut(
                sshd.hosts[:3], [str(src)], shared_dir, connection_params=params, process_args={'nolog_error': True}
            ),
            TaktukGet(
                sshd.hosts[:3],
                [remote],
                str(tmp_path / 'got-$position'),
                connection_params=params,
                process_args={'nolog_error': True},
            ),
        ):
            action.start()
            action.kill()
            finish(action, 60)
            assert all(p.ended and p.killed for p in action.processes), action.processes
            assert os.listdir(str(private)) == [], 'local aliases left behind'
        assert not [n for n in os.listdir(str(tmp_path)) if n.startswith('got-')], 'a killed get was moved in place'
    finally:
        # a killed transfer may leave its remote links: remove this test's
        home = pwd.getpwnam(sshd.user).pw_dir
        for n in aliases(sshd) - before:
            os.unlink(os.path.join(home, n))
