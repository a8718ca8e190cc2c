"""Network faults (issue 7, item 3) against real sshd daemons in private
network namespaces (tests/fixtures/netns.py), mixed with the loopback test
hosts (the ``sshd`` fixture) as the healthy ones.

Faults: the link of a host goes down mid-command (a black hole: nothing
comes back), sshd and its session processes are SIGKILLed mid-command, the
host is down before ssh connects (SYNs dropped: what loopback cannot show;
the accept-and-never-answer host is in tests/test_remote.py), 30% packet
loss and 500 ms delay (``tc netem``). Each faulty process must end by a
documented flag (timeouted, non-zero exit_code) within its bound, the
healthy hosts' results must be complete, and ``kill()`` of an action with
hung hosts must return at once and the action end within seconds.
"""

import os
import subprocess
import time

import pytest
from helpers import finish

from execo.remote import Remote
from execo.ssh_process import SshProcess

pytestmark = pytest.mark.reliability

SLACK = 5  # seconds allowed beyond a bound (process start, kill, reactor)


@pytest.fixture(scope="module")
def lab():
    if os.geteuid() != 0:
        pytest.skip("network namespaces need root")
    from fixtures.netns import NetnsLab

    lab = NetnsLab()
    try:
        yield lab
    finally:
        lab.cleanup()


@pytest.fixture
def netns(lab):
    """add(n): n new namespaces with sshd, destroyed at the end of the test."""
    made = []

    def add(count=1, impairable=False):
        hosts = lab.add(count, impairable=impairable)
        made.extend(hosts)
        return hosts

    try:
        yield add
    finally:
        for h in made:
            h.destroy()
        lab.hosts = [h for h in lab.hosts if h not in made]


def duration(p):
    return p.end_date - p.start_date


def assert_healthy(processes, hosts, expected):
    for p, h in zip(processes, hosts):
        assert p.host.address == h.address
        assert p.finished_ok and not p.timeouted and not p.error and p.exit_code == 0, p
        assert p.stdout == expected(h), (p, p.stdout, p.stderr)


# ------------------------------------------------------ host down mid-command


def _start_and_wait_started(r, p, timeout=20):
    r.start()
    idx, mo = p.expect(r'start', timeout=timeout)
    assert idx == 0, (p, p.stdout, p.stderr)


def test_link_down_mid_command_ends_by_timeout(lab, netns, sshd):
    (bad,) = netns(1)
    good = sshd.hosts[0:3]
    hosts = [bad.host] + good
    r = Remote(
        'echo start; sleep 3; echo end {{{host}}}',
        hosts,
        connection_params=lab.connection_params(connect_timeout=10),
        process_args={'timeout': 8, 'nolog_timeout': True, 'nolog_exit_code': True},
    )
    try:
        _start_and_wait_started(r, r.processes[0])
        bad.link_down()
        finish(r, 8 + 30)
    finally:
        r.kill()
    p = r.processes[0]
    assert p.ended and p.timeouted and p.killed and not p.ok and not p.finished_ok, p
    assert not p.error and p.exit_code != 0, p
    assert p.stdout == 'start\n', p.stdout
    assert duration(p) <= 8 + SLACK, p
    assert not r.ok and not r.finished_ok
    assert_healthy(r.processes[1:], good, lambda h: 'start\nend %s\n' % (h.address,))
    s = r.stats()
    assert s['num_timeouts'] == 1 and s['num_finished_ok'] == len(good), s


def test_link_down_mid_command_ends_by_server_alive(lab, netns, sshd):
    # with ssh keepalives the client gives up by itself: exit 255 well
    # before the process timeout
    (bad,) = netns(1)
    good = sshd.hosts[3:6]
    hosts = good[:1] + [bad.host] + good[1:]
    params = lab.connection_params(
        connect_timeout=10, extra=('-o', 'ServerAliveInterval=1', '-o', 'ServerAliveCountMax=2')
    )
    r = Remote(
        'echo start; sleep 2; echo end {{{host}}}',
        hosts,
        connection_params=params,
        process_args={'timeout': 30, 'nolog_exit_code': True},
    )
    try:
        _start_and_wait_started(r, r.processes[1])
        bad.link_down()
        t0 = time.monotonic()
        finish(r, 30 + 30)
    finally:
        r.kill()
    p = r.processes[1]
    assert p.ended and p.exit_code == 255, (p, p.stderr)
    assert not p.timeouted and not p.killed and not p.error and not p.ok, p
    assert p.stdout == 'start\n', p.stdout
    # ("Timeout, server not responding" is logged at INFO: LogLevel=ERROR hides it)
    assert time.monotonic() - t0 < 15, p
    assert_healthy([r.processes[0]] + r.processes[2:], good, lambda h: 'start\nend %s\n' % (h.address,))
    s = r.stats()
    assert s['num_non_zero_exit_codes'] == 1 and s['num_timeouts'] == 0, s


def test_sshd_and_sessions_killed_mid_command(lab, netns, sshd):
    (bad,) = netns(1)
    good = sshd.hosts[6:9]
    hosts = good + [bad.host]
    r = Remote(
        'echo start; sleep 3; echo end {{{host}}}',
        hosts,
        connection_params=lab.connection_params(connect_timeout=10),
        process_args={'timeout': 20, 'nolog_exit_code': True},
    )
    try:
        _start_and_wait_started(r, r.processes[3])
        assert len(bad.ns_pids()) >= 3  # sshd, its session, the shell/sleep
        bad.kill_all()
        t0 = time.monotonic()
        finish(r, 20 + 30)
    finally:
        r.kill()
    p = r.processes[3]
    assert p.ended and p.exit_code == 255, (p, p.stderr)
    assert not p.timeouted and not p.killed and not p.error and not p.ok, p
    assert p.stdout == 'start\n', p.stdout
    assert time.monotonic() - t0 < 10, p
    assert_healthy(r.processes[:3], good, lambda h: 'start\nend %s\n' % (h.address,))
    # the dead host refuses new connections at once (exit 255, no timeout)
    q = SshProcess('echo never', bad.host, connection_params=lab.connection_params(5), nolog_exit_code=True, timeout=20)
    q.run()
    assert q.ended and q.exit_code == 255 and not q.timeouted, (q, q.stderr)
    assert 'refused' in q.stderr.lower(), q.stderr


def test_host_down_before_connect_ends_by_connect_timeout(lab, netns, sshd):
    # a black hole (SYNs dropped, no RST, no ICMP): unlike the silent
    # listener of tests/test_remote.py, the TCP connect itself never
    # completes; ConnectTimeout bounds it
    (bad,) = netns(1)
    bad.link_down()
    good = sshd.hosts[9:12]
    hosts = [bad.host] + good
    r = Remote(
        'echo ok {{{host}}}',
        hosts,
        connection_params=lab.connection_params(connect_timeout=2),
        process_args={'timeout': 30, 'nolog_exit_code': True},
    )
    finish(r.run(), 30 + 30)
    p = r.processes[0]
    assert p.ended and p.exit_code == 255 and not p.timeouted and not p.error, (p, p.stderr)
    assert 'timed out' in p.stderr.lower(), p.stderr
    assert p.stdout == ''
    assert duration(p) <= 2 + SLACK, p
    assert_healthy(r.processes[1:], good, lambda h: 'ok %s\n' % (h.address,))


# ------------------------------------------------------- packet loss, delay


def test_packet_loss_30_percent(lab, netns, sshd):
    # 30% loss each way; every command either completes byte-exact or ends
    # by a documented flag within its timeout
    lossy = netns(2, impairable=True)
    for h in lossy:
        h.netem('loss', '30%')
    good = sshd.hosts[12:15]
    hosts = [h.host for h in lossy] + good
    timeout = 25
    r = Remote(
        'seq 1 2000; echo done {{{host}}}',
        hosts,
        connection_params=lab.connection_params(connect_timeout=10),
        process_args={'timeout': timeout, 'nolog_timeout': True, 'nolog_exit_code': True},
    )
    finish(r.run(), timeout + 30)
    expected = lambda h: ''.join('%d\n' % i for i in range(1, 2001)) + 'done %s\n' % (h.address,)
    outcomes = []
    for p, h in zip(r.processes[:2], lossy):
        assert p.ended and not p.error, p
        assert duration(p) <= timeout + SLACK, p
        if p.finished_ok:
            assert p.exit_code == 0 and p.stdout == expected(h.host), p
            outcomes.append('ok')
        elif p.timeouted:
            assert p.killed and not p.ok, p
            assert expected(h.host).startswith(p.stdout), p  # a prefix: nothing garbled
            outcomes.append('timeout')
        else:
            assert p.exit_code == 255 and not p.ok, (p, p.stderr)
            outcomes.append('exit255')
    print(
        'loss outcomes',
        outcomes,
        [round(duration(p), 1) for p in r.processes[:2]],
        [getattr(getattr(h, 'relay', None), 'stats', None) for h in lossy],
    )
    assert_healthy(r.processes[2:], good, expected)
    s = r.stats()
    assert s['num_finished_ok'] == len(good) + outcomes.count('ok'), (s, outcomes)
    assert s['num_timeouts'] == outcomes.count('timeout'), (s, outcomes)


def test_delay_500ms_completes(lab, netns, sshd):
    (slow,) = netns(1, impairable=True)
    slow.netem('delay', '500ms', sides=("host",))  # rtt 0.5 s more
    good = sshd.hosts[15:18]
    hosts = good + [slow.host]
    r = Remote(
        'echo ok {{{host}}}',
        hosts,
        connection_params=lab.connection_params(connect_timeout=10),
        process_args={'timeout': 30},
    )
    finish(r.run(), 30 + 30)
    assert r.finished_ok, r
    assert_healthy(r.processes, hosts, lambda h: 'ok %s\n' % (h.address,))
    p = r.processes[3]
    # the ssh handshake takes several round trips: the delay shows
    assert duration(p) >= 1.5, p
    assert duration(p) > max(duration(q) for q in r.processes[:3]), r
    # the same host under a too short timeout: ends by timeout, flagged
    q = SshProcess(
        'echo ok',
        slow.host,
        connection_params=lab.connection_params(10),
        timeout=1,
        nolog_timeout=True,
        nolog_exit_code=True,
    )
    q.run()
    assert q.ended and q.timeouted and q.killed and not q.ok and not q.error, q
    assert duration(q) <= 1 + SLACK, q


# --------------------------------------------------- kill() with hung hosts


def test_kill_action_with_hung_hosts_returns_promptly(lab, netns, sshd):
    down_before, down_during = netns(2)
    down_before.link_down()  # connect hangs (no ConnectTimeout below)
    good = sshd.hosts[18:20]
    hosts = [down_before.host, down_during.host] + good
    r = Remote(
        'echo start; sleep 59',
        hosts,
        connection_params=lab.connection_params(None),
        process_args={'nolog_exit_code': True, 'nolog_timeout': True},
    )
    try:
        r.start()
        for p in r.processes[1:]:
            assert p.expect(r'start', timeout=20)[0] == 0, (p, p.stderr)
        down_during.link_down()
        time.sleep(0.5)
        assert not any(p.ended for p in r.processes), r
        t0 = time.monotonic()
        r.kill()
        kill_time = time.monotonic() - t0
        r.wait(15)
        end_time = time.monotonic() - t0
    finally:
        r.kill()
        r.wait(15)
        # without a tty, the remote sleeps outlive their killed ssh clients
        subprocess.run(["pkill", "-u", sshd.user, "-f", "sleep 59"])
    assert kill_time < 1, kill_time
    assert r.ended and end_time < 5, (end_time, r)
    for p in r.processes:
        # a process killed by the user counts as ok (ProcessBase.ok), whatever its exit
        assert p.ended and p.killed and p.ok and not p.error, (p, p.exit_code)
        assert not p.timeouted and not p.forced_kill, p
        # the local ssh client is gone
        with pytest.raises(ProcessLookupError):
            os.kill(p.pid, 0)
