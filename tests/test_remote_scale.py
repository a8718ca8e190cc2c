"""Scale: a Remote on 2000 "hosts" through a stub ssh command.

The stub (a /bin/sh script given as ``connection_params['ssh']``) skips
the ssh options and the host argument of the argv built by
:mod:`execo.ssh_utils`, exports the host it was given as ``STUB_HOST``,
then runs the remote command locally with ``sh -c``. So every process is
a real local child of the reactor (4 fds each: stdin, stdout, stderr and
the child watcher), without any sshd.
"""

import os
import stat

import pytest
from helpers import finish

from execo.host import Host
from execo.remote import Remote
from execo.ssh_process import SshProcess

NUM_HOSTS = 2000

STUB_SSH = r"""#!/bin/sh
# stub ssh: skip the options, take the host, run the command locally
while [ $# -gt 0 ]; do
    case "$1" in
        -[BbcDEeFIiJLlmOopQRSWw]) shift 2 ;;      # option and its value
        --) shift; break ;;
        -*) shift ;;                              # flags (-tt, -T, -q...), -oX=Y, -p2222
        *) break ;;
    esac
done
if [ $# -lt 1 ]; then
    echo "stub ssh: no host in argv" >&2
    exit 255
fi
STUB_HOST=$1
export STUB_HOST
shift
exec /bin/sh -c "$*"
"""


@pytest.fixture
def stub_params(tmp_path):
    path = tmp_path / "stub-ssh"
    path.write_text(STUB_SSH)
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    # options of every kind the stub has to skip: -o X, -F file, flags,
    # and the -l user / -i keyfile / -p port that ssh_utils appends
    return {
        'ssh': str(path),
        'ssh_options': ('-F', '/dev/null', '-o', 'BatchMode=yes', '-q', '-T', '-o', 'ConnectTimeout=20'),
        'user': 'nobody',
        'keyfile': str(tmp_path / 'no-such-key'),
        'port': 2222,
        'pty': False,
    }


def _hosts():
    return [Host('stub-host-%04d.example' % (i,)) for i in range(NUM_HOSTS)]


def test_stub_ssh_argv(stub_params):
    # the argv really goes through the stub with options before the host
    cmd = 'echo "$STUB_HOST" "a  b" c  d; echo err >&2'
    p = SshProcess(cmd, Host('h1', port=2200), connection_params=stub_params)
    assert p.cmd[0] == stub_params['ssh']
    assert p.cmd[-2:] == ('h1', cmd)
    i = p.cmd.index('-p')
    assert p.cmd[i : i + 2] == ('-p', '2200')
    assert '-l' in p.cmd and '-i' in p.cmd and '-T' in p.cmd
    p.run(60)
    assert p.finished_ok, p
    assert p.stdout == 'h1 a  b c d\n'
    assert p.stderr == 'err\n'


def test_remote_2000_stub_hosts_all_ok(stub_params):
    assert os.sysconf('SC_OPEN_MAX') > 4 * NUM_HOSTS + 100, "fd limit too low for %d children" % NUM_HOSTS
    hosts = _hosts()
    r = Remote('echo {{{host}}} "$STUB_HOST" {{range(%d)}}' % (NUM_HOSTS,), hosts, connection_params=stub_params)
    assert len(r.processes) == NUM_HOSTS
    finish(r.run())
    assert r.ended and r.finished_ok, r.stats()
    for i, (p, h) in enumerate(zip(r.processes, hosts)):
        assert p.host.address == h.address
        assert p.finished_ok and p.exit_code == 0, p
        assert p.stdout == '%s %s %d\n' % (h.address, h.address, i), p
        assert p.stderr == '', p
    s = r.stats()
    assert s['num_processes'] == NUM_HOSTS
    assert s['num_started'] == NUM_HOSTS
    assert s['num_ended'] == NUM_HOSTS
    assert s['num_finished_ok'] == NUM_HOSTS
    assert s['num_non_zero_exit_codes'] == 0 and s['num_errors'] == 0 and s['num_timeouts'] == 0


def test_expect_over_remote_2000_stub_hosts(stub_params):
    hosts = _hosts()
    r = Remote('echo ready {{{host}}}; read x; echo bye "$x" "$STUB_HOST"', hosts, connection_params=stub_params)
    r.start()
    try:
        res = r.expect(r'ready (\S+)', timeout=120)
        assert len(res) == NUM_HOSTS
        assert [p for p, _, _ in res] == r.processes
        unmatched = [p for p, idx, mo in res if idx is None]
        assert not unmatched, unmatched[:3]
        assert [idx for _, idx, _ in res] == [0] * NUM_HOSTS
        assert [mo.group(1) for _, _, mo in res] == [h.address for h in hosts]
        r.write('go\n')
        res = r.expect(['nomatch', r'bye (\w+) (\S+)'], timeout=120)
        assert [p for p, _, _ in res] == r.processes
        assert [(idx, mo and mo.groups()) for _, idx, mo in res] == [(1, ('go', h.address)) for h in hosts]
        finish(r)
    finally:
        r.kill()
    assert r.finished_ok, r.stats()
    assert [p.stdout for p in r.processes] == ['ready %s\nbye go %s\n' % (h.address, h.address) for h in hosts]
