"""Tests of execo.chainput.ChainPut against the real OpenSSH daemons on
loopback addresses (the ``sshd`` fixture) and the real netcat
(/bin/nc.traditional, installed by tests/run.sh): no mock.

On the loopback test hosts every "host" is the same machine: the same
kernel (so every receiver listens on its own port) and the same file
system (so every host of one ChainPut must write to its own directory:
16 tars extracting into one path at once would race, and one host's
checksum could read another host's half-written file). The tests thus give
a per-host ``remote_location`` through the ``{{{host}}}`` substitution
(ChainPut performs the substitutions of Put on it), relative to the test
user's home, and compare what each host wrote there with the local files.
"""

import hashlib
import os
import pwd
import shutil
import socket
import stat
import tempfile
import uuid

import pytest
from helpers import finish

from execo.action import filter_bad_hosts
from execo.chainput import ChainPut, ChainPutReceiver, ChainPutSender
from execo.host import Host
from execo.report import Report

NC = "/bin/nc.traditional"
# quick retries for the chains with unreachable hosts
FAST = {"chainput_host_retry": 2, "chainput_try_delay": 0.2, "chainput_nc_client_timeout": 2}
# 127.0.0.200 is outside the fixture's 127.0.0.1..32: no sshd there
NO_SSHD_ADDRESS = "127.0.0.200"


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def tree(root):
    """{relative path: sha256 or 'dir'} of everything under root (itself
    included when it is a file)."""
    if os.path.isfile(root):
        return {os.path.basename(root): sha256(root)}
    result = {}
    base = os.path.dirname(os.path.abspath(root))
    for d, _dirs, files in os.walk(root):
        result[os.path.relpath(d, base)] = "dir"
        for f in files:
            p = os.path.join(d, f)
            result[os.path.relpath(p, base)] = sha256(p)
    return result


def params(sshd, tty=False, **extra):
    p = dict(sshd.connection_params if tty else sshd.connection_params_without_tty())
    p["nc"] = NC + " -v -v"
    p.update(extra)
    return p


def describe(action):
    return "\n".join("%s\nstdout: %s\nstderr: %s" % (p, p.stdout, p.stderr) for p in action.processes)


@pytest.fixture
def remote_dir(sshd):
    """(name relative to the test user's home, its absolute local path):
    a fresh directory for one test, removed afterwards."""
    name = "execo-chainput-test-%s" % (uuid.uuid4().hex[:12],)
    path = os.path.join(pwd.getpwnam(sshd.user).pw_dir, name)
    yield name, path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def shared_tmp():
    """A temporary directory the test user can read (pytest's tmp_path is
    private to root)."""
    d = tempfile.mkdtemp(prefix="execo-chainput-")
    os.chmod(d, 0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def test_50mb_to_16_hosts_byte_exact(sshd, remote_dir, shared_tmp):
    name, path = remote_dir
    src = os.path.join(shared_tmp, "big.bin")
    with open(src, "wb") as f:
        for _ in range(50):
            f.write(os.urandom(1 << 20))
    expected = sha256(src)
    hosts = sshd.hosts[:16]
    # default ssh options of the fixture: with -tt, as execo's defaults
    cp = ChainPut(hosts, [src], name + "/{{{host}}}", connection_params=params(sshd, tty=True))
    finish(cp.run())
    assert cp.ok, describe(cp)
    receivers = cp.receivers
    assert [p.host for p in receivers] == hosts
    assert all(isinstance(p, ChainPutReceiver) for p in receivers)
    # one port per hop: they all share this kernel
    assert len(set(p.port for p in receivers)) == 16
    assert isinstance(cp.sender, ChainPutSender) and cp.sender.finished_ok
    assert set(cp.processes) == set(receivers) | {cp.sender}
    for p in receivers:
        assert p.finished_ok and p.exit_code == 0, describe(cp)
        assert p.remote_location == "%s/%s" % (name, p.host.address)
        got = os.path.join(path, p.host.address, "big.bin")
        assert os.path.getsize(got) == 50 << 20
        assert sha256(got) == expected, p.host
    # localhost -> host1 -> host2 ...: each host sent to the next one
    for p, nxt in zip(receivers, receivers[1:]):
        assert "sent to %s port %d" % (nxt.host.address, nxt.port) in p.stdout, describe(cp)
    assert "sent to %s port %d" % (hosts[0].address, receivers[0].port) in cp.sender.stderr


def test_several_files_and_a_directory(sshd, remote_dir, shared_tmp):
    name, path = remote_dir
    src = os.path.join(shared_tmp, "src")
    os.makedirs(os.path.join(src, "d", "sub dir", "deeper"))
    os.makedirs(os.path.join(src, "d", "empty"))
    with open(os.path.join(src, "one.txt"), "w") as f:
        f.write("one\n")
    with open(os.path.join(src, "two.bin"), "wb") as f:
        f.write(os.urandom(300000))
    with open(os.path.join(src, "d", "sub dir", "a file with spaces"), "w") as f:
        f.write("spaces\n")
    with open(os.path.join(src, "d", "sub dir", "deeper", "-dash"), "wb") as f:
        f.write(b"\x00\x01binary\xff" * 1000)
    open(os.path.join(src, "d", "empty.txt"), "w").close()
    script = os.path.join(src, "d", "run.sh")
    with open(script, "w") as f:
        f.write("#!/bin/sh\necho hi\n")
    os.chmod(script, 0o755)
    files = [os.path.join(src, "one.txt"), os.path.join(src, "two.bin"), os.path.join(src, "d")]
    hosts = sshd.hosts[:4]
    # {{expression}} substitutions are evaluated in this frame; "~/" is
    # the remote home
    locations = ["~/%s/chain-%d" % (name, i) for i in range(len(hosts))]  # noqa: F841
    cp = ChainPut(hosts, files, "{{locations}}", connection_params=params(sshd))
    finish(cp.run())
    assert cp.ok, describe(cp)
    expected = {}
    for f in files:
        expected.update(tree(f))
    assert len([v for v in expected.values() if v != "dir"]) == 6
    for i, p in enumerate(cp.receivers):
        dest = os.path.join(path, "chain-%d" % (i,))
        got = {}
        for entry in sorted(os.listdir(dest)):
            got.update(tree(os.path.join(dest, entry)))
        assert got == expected, p.host
        assert os.stat(os.path.join(dest, "d", "run.sh")).st_mode & stat.S_IXUSR
        assert "received and checked 6 file(s)" in p.stderr, describe(cp)


def test_unreachable_hosts_in_the_chain_are_skipped(sshd, remote_dir, shared_tmp):
    name, path = remote_dir
    src = os.path.join(shared_tmp, "data.bin")
    with open(src, "wb") as f:
        f.write(os.urandom(2 << 20))
    expected = sha256(src)
    good = sshd.hosts[:6]
    no_sshd = Host(NO_SSHD_ADDRESS, user=sshd.user, keyfile=sshd.keyfile, port=sshd.port)
    # an address served by the fixture, on a port where no daemon listens
    no_daemon = Host(sshd.hosts[6].address, user=sshd.user, keyfile=sshd.keyfile, port=1)
    hosts = good[:2] + [no_sshd] + good[2:4] + [no_daemon] + good[4:]
    cp = ChainPut(hosts, src, name + "/{{{host}}}-{{[h.port for h in hosts]}}", connection_params=params(sshd, **FAST))
    finish(cp.run())
    assert not cp.ok
    by_host = dict((p.host, p) for p in cp.receivers)
    for bad in (no_sshd, no_daemon):
        p = by_host[bad]
        assert p.ended and not p.ok and p.exit_code == 255, describe(cp)
        assert not os.path.exists(os.path.join(path, "%s-%s" % (bad.address, bad.port)))
    for h in good:
        p = by_host[h]
        assert p.finished_ok, describe(cp)
        assert sha256(os.path.join(path, "%s-%s" % (h.address, h.port), "data.bin")) == expected
    assert cp.sender.finished_ok
    # the hop before each unreachable host tried it, then sent to the next
    for before, bad, after in ((good[1], no_sshd, good[2]), (good[3], no_daemon, good[4])):
        out = by_host[before].stderr
        assert "could not send to %s port %d (try 2/2)" % (bad.address, by_host[bad].port) in out, out
        assert "sent to %s port %d" % (after.address, by_host[after].port) in out, out
    assert filter_bad_hosts(cp, hosts) == good

    # a Report over the ChainPut
    report = Report([cp])
    stats = report.stats()
    assert stats["num_processes"] == len(hosts) + 1  # receivers and the sender
    assert stats["num_ended"] == len(hosts) + 1
    assert stats["num_non_zero_exit_codes"] == 2
    assert stats["num_ok"] == stats["num_finished_ok"] == len(good) + 1
    text = report.to_string()
    assert cp.name[:10] in text and "Total" in text
    # one entry for the ChainPut (its inner actions hidden, as in execo
    # 2.x), none per receiver: header, rule, entry, rule, total
    wide = report.to_string(wide=True)
    assert "chainput receiver" not in wide and "ChainPut receivers" not in wide
    assert len(wide.splitlines()) == 5
    assert stats["sub_stats"][0]["name"] == cp.name and stats["sub_stats"][0]["sub_stats"] == []


def test_sender_does_not_wait_for_a_silent_host(sshd, remote_dir, shared_tmp):
    """A host which accepts TCP but never speaks ssh (and no ConnectTimeout:
    its ssh waits for ever): the sender starts without it after half of
    chainput_nc_server_timeout, the others get the files."""
    name, path = remote_dir
    silent = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    silent.bind(("127.0.0.253", 0))
    silent.listen(8)
    try:
        src = os.path.join(shared_tmp, "f")
        with open(src, "w") as f:
            f.write("silence\n")
        hosts = [Host("127.0.0.253", user=sshd.user, keyfile=sshd.keyfile, port=silent.getsockname()[1])] + sshd.hosts[
            :2
        ]
        p = params(sshd, chainput_nc_server_timeout=4, **FAST)
        options = list(p["ssh_options"])
        while "-o" in options and any(o.lower().startswith("connecttimeout") for o in options):
            i = [k for k, o in enumerate(options) if o.lower().startswith("connecttimeout")][0]
            del options[i - 1 : i + 1]
        p["ssh_options"] = tuple(options)
        cp = ChainPut(hosts, src, name + "/{{{host}}}", connection_params=p)
        cp.start()
        try:
            for proc in cp.receivers[1:] + [cp.sender]:
                proc.wait(60)
                assert proc.finished_ok, describe(cp)
            first = cp.receivers[0]
            assert not first.ended
            assert [address for address, _ in cp.sender.candidates] == [h.address for h in hosts[1:]]
            for r in cp.receivers[1:]:
                assert os.path.exists(os.path.join(path, r.host.address, "f"))
        finally:
            cp.kill()
            finish(cp)
        assert first.killed
    finally:
        silent.close()


def test_chain_retry_limits_the_hosts_tried(sshd, remote_dir, shared_tmp):
    """chainput_chain_retry=0: a hop tries only the next host, so after two
    unreachable hosts the end of the chain gets nothing (and says so)."""
    name, path = remote_dir
    src = os.path.join(shared_tmp, "f")
    with open(src, "w") as f:
        f.write("x\n")
    dead = [Host("127.0.0.%d" % (i,), user=sshd.user, keyfile=sshd.keyfile, port=1) for i in (2, 3)]
    hosts = [sshd.hosts[0]] + dead + [sshd.hosts[3]]
    cp = ChainPut(
        hosts,
        src,
        name + "/{{{host}}}",
        connection_params=params(sshd, chainput_chain_retry=0, chainput_nc_server_timeout=4, **FAST),
    )
    finish(cp.run())
    first, last = cp.receivers[0], cp.receivers[-1]
    assert first.finished_ok, describe(cp)
    assert "could not forward to any of the next hosts" in first.stderr
    assert not last.ok and last.exit_code == 3, describe(cp)
    assert "nothing received on port %d within 4s" % (last.port,) in last.stderr
    # with a ratio of the number of hosts (0.5 * 4 = 2 more hosts), it gets there
    cp2 = ChainPut(
        hosts, src, name + "/bis-{{{host}}}", connection_params=params(sshd, chainput_chain_retry=0.5, **FAST)
    )
    finish(cp2.run())
    assert cp2.receivers[-1].finished_ok, describe(cp2)
    assert os.path.exists(os.path.join(path, "bis-%s" % (hosts[-1].address,), "f"))


def test_missing_local_netcat_is_a_clear_error_at_once(sshd, shared_tmp):
    src = os.path.join(shared_tmp, "f")
    open(src, "w").close()
    with pytest.raises(FileNotFoundError) as e:
        ChainPut(sshd.hosts[:2], src, connection_params=params(sshd, nc="/nonexistent/nc -v"))
    assert "netcat" in str(e.value) and "/nonexistent/nc" in str(e.value) and "'nc'" in str(e.value)


def test_missing_remote_netcat_fails_that_host_clearly(sshd, remote_dir, shared_tmp, monkeypatch):
    """nc given as a command name found in the local PATH only: the hosts'
    (sshd's) PATH does not have it."""
    name, path = remote_dir
    bindir = os.path.join(shared_tmp, "bin")
    os.mkdir(bindir)
    os.symlink(NC, os.path.join(bindir, "execo-test-nc"))
    monkeypatch.setenv("PATH", bindir + os.pathsep + os.environ["PATH"])
    src = os.path.join(shared_tmp, "f")
    with open(src, "w") as f:
        f.write("x\n")
    hosts = sshd.hosts[:3]
    cp = ChainPut(hosts, src, name + "/{{{host}}}", connection_params=params(sshd, nc="execo-test-nc -v", **FAST))
    finish(cp.run())
    assert not cp.ok
    for p in cp.receivers:
        assert p.exit_code == 127 and not p.ok, describe(cp)
        assert (
            "netcat command (execo connection param 'nc') 'execo-test-nc' not found on %s" % (p.host.address,)
        ) in p.stderr
    # nobody listened: the sender had no one to send to
    assert not cp.sender.ok and "no receiver to send to" in cp.sender.stderr
    assert not os.path.exists(path)


def test_checksum_mismatch_fails_the_hosts_which_got_bad_bytes(sshd, remote_dir, shared_tmp):
    """A netcat which corrupts what it receives on one hop's port: that host
    and the hosts after it (fed from it) get other bytes; their processes
    fail (exit code 6, 'checksum mismatch'), the host before is ok."""
    name, path = remote_dir
    port_file = os.path.join(shared_tmp, "corrupt_port")
    wrapper = os.path.join(shared_tmp, "corrupting-nc")
    with open(wrapper, "w") as f:
        f.write(
            """#!/bin/sh
port=
prev=
for a in "$@"; do
    [ "$prev" = -p ] && port=$a
    prev=$a
done
if [ -n "$port" ] && [ "$port" = "$(cat %s 2>/dev/null)" ]; then
    %s "$@" | sed 's/precious/PRECIOUS/'
else
    exec %s "$@"
fi
"""
            % (port_file, NC, NC)
        )
    os.chmod(wrapper, 0o755)
    src = os.path.join(shared_tmp, "data.txt")
    with open(src, "w") as f:
        f.write("this is precious data\n" * 5000)
    hosts = sshd.hosts[:4]
    cp = ChainPut(hosts, src, name + "/{{{host}}}", connection_params=params(sshd, nc=wrapper))
    with open(port_file, "w") as f:
        f.write("%d\n" % (cp.receivers[1].port,))
    os.chmod(port_file, 0o644)
    finish(cp.run())
    assert not cp.ok
    first = cp.receivers[0]
    assert first.finished_ok, describe(cp)
    assert sha256(os.path.join(path, first.host.address, "data.txt")) == sha256(src)
    for p in cp.receivers[1:]:
        assert not p.ok and p.exit_code == 6, describe(cp)
        assert "checksum mismatch" in p.stderr and "data.txt: FAILED" in p.stderr
    assert cp.sender.finished_ok


def test_sender_failure_aborts_the_receivers(sshd, remote_dir, shared_tmp):
    """A missing local file: the sender fails at once, the receivers are
    killed (not left waiting for chainput_nc_server_timeout) and marked in
    error."""
    name, path = remote_dir
    hosts = sshd.hosts[:3]
    missing = os.path.join(shared_tmp, "no-such-file")
    # with -tt, the killed receivers' remote ends go at once (ssh hangup)
    cp = ChainPut(hosts, missing, name + "/{{{host}}}", connection_params=params(sshd, tty=True))
    finish(cp.run())
    assert not cp.ok
    assert cp.sender.exit_code == 7 and "no such local file: %s" % (missing,) in cp.sender.stderr
    for p in cp.receivers:
        assert p.ended and not p.ok, describe(cp)
        assert p.error and "local sender failed" in str(p.error_reason), describe(cp)
        assert "no such local file" in str(p.error_reason)


def test_kill_and_restart(sshd, remote_dir, shared_tmp):
    name, path = remote_dir
    src = os.path.join(shared_tmp, "f.bin")
    with open(src, "wb") as f:
        f.write(os.urandom(1 << 20))
    hosts = sshd.hosts[:4]
    cp = ChainPut(hosts, src, name + "/{{{host}}}", connection_params=params(sshd, tty=True))
    cp.start()
    cp.kill()
    finish(cp)
    assert cp.ended
    # reset: the same chain runs again, to the end
    cp.reset()
    finish(cp.run())
    assert cp.ok, describe(cp)
    for h in hosts:
        assert sha256(os.path.join(path, h.address, "f.bin")) == sha256(src)


def test_no_hosts_and_duplicates(shared_tmp):
    src = os.path.join(shared_tmp, "f")
    open(src, "w").close()
    cp = ChainPut([], src, connection_params={"nc": NC})
    finish(cp.run(), timeout=10)
    assert cp.ok and cp.processes == [] and cp.sender is None
    h = Host("127.0.0.1", port=1)
    cp = ChainPut([h, Host("127.0.0.1", port=1), "127.0.0.2"], [src], connection_params={"nc": NC})
    assert cp.hosts == [h, Host("127.0.0.2")] and len(cp.receivers) == 2
    assert "ChainPut" in repr(cp) and "ChainPutReceiver" in str(cp.receivers[0])
    # no files: an empty action too, like Put and Get (tests/test_empty_actions.py)
    cp = ChainPut([h], [], connection_params={"nc": NC})
    assert cp.processes == [] and cp.sender is None
    with pytest.raises(ValueError):
        ChainPut([h], src, connection_params={"nc": NC, "chainput_chain_retry": 1.5})
