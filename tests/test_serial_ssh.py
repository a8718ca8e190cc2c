"""Tests of execo.serial_ssh (SerialSsh) and execo.remote_serial (RemoteSerial) on real
pseudo-terminal pairs made by socat, through the loopback OpenSSH daemons
of the ``sshd`` fixture: no mock of ssh nor of the serial port.

Each pair is ``socat pty,raw,echo=0,link=DIR/A,user=USER,perm=0600
pty,raw,echo=0,link=DIR/B``: ``A`` is the "serial device" opened on the
(loopback) remote host by the ssh test user, ``B`` its other end, where a
fake device (a thread of this process) answers: a ``login: `` prompt,
echo of the lines it receives, a burst of binary data on request, the
sha256 of binary data it is sent.

Both remote helpers are tested (``helper_path`` fixture):

- ``python``: python3 with pyserial. The hosts' ``python3`` is whatever
  ``python3`` the ssh test user gets on its PATH (Debian's
  /usr/bin/python3 here), which may lack pyserial: then the pyserial
  package of the interpreter running the tests (a test dependency) is
  copied into a world-readable temporary directory and the helper is run
  with ``SerialSsh.remote_python = 'env PYTHONPATH=DIR python3'``, as one
  would on a host without pyserial installed.
- ``stty``: the stty + cat fallback, reached the way it is in real life:
  ``helper='auto'`` with a python lacking pyserial (``python3 -S``: no
  site-packages at all).

Which helper actually runs is checked by looking at the processes of the
test user holding the device open.
"""

import hashlib
import os
import random
import re
import select
import shutil
import subprocess
import tempfile
import threading

import pytest
import serial  # pyserial: a test dependency (copied to the hosts when they lack it)
from helpers import finish, wait_until

from execo.host import Host
from execo.process_base import ENCODING
from execo.remote_serial import RemoteSerial
from execo.serial_ssh import SerialSsh, serial_helper_command
from execo.ssh_process import SshProcess

BURST_SIZE = 10 * 1024 * 1024
UPLOAD_SIZE = 2 * 1024 * 1024
BIG_TIMEOUT = 120


def out_bytes(p):
    """The stdout of p as the bytes the process wrote."""
    return p.stdout.encode(ENCODING, "surrogateescape")


def burst_data(n, seed):
    return random.Random(seed).randbytes(n)


# ------------------------------------------------------------------ fake device


class FakeDevice(threading.Thread):
    """The device at the other end of a pty pair.

    Lines end with CR or LF. Logged out: an empty line gets ``login: ``,
    a name gets ``welcome NAME`` and the ``# `` prompt. Logged in, each
    line is echoed (``LINE\\r\\n``) then:

    - ``echo TEXT``: ``TEXT\\r\\n# ``
    - ``burst N SEED``: ``BEGIN\\n`` + N bytes of :func:`burst_data` +
      ``\\nEND OF BURST\\r\\n# ``
    - ``recv N``: reads the next N bytes raw, then ``sha256 HEX N\\r\\n# ``
    - ``exit``: ``logout\\r\\n``, logged out
    """

    def __init__(self, path):
        super(FakeDevice, self).__init__(name="fake-device-%s" % (os.path.basename(path),), daemon=True)
        self.fd = os.open(path, os.O_RDWR | os.O_NOCTTY)
        self.stop_event = threading.Event()
        self.lines = []  # lines received (bytes)
        self.errors = []
        self.logged_in = False
        self.buf = b""
        self.recv_left = 0
        self.recv_hash = None
        self.recv_total = 0

    def send(self, data):
        view = memoryview(data)
        poller = select.poll()
        poller.register(self.fd, select.POLLOUT)
        while view and not self.stop_event.is_set():
            if poller.poll(200):
                n = os.write(self.fd, view[:65536])
                view = view[n:]

    def run(self):
        try:
            # poll(), not select(): this test process may have more than
            # 1024 fds open, and select() fails on fds above that
            poller = select.poll()
            poller.register(self.fd, select.POLLIN)
            while not self.stop_event.is_set():
                if not poller.poll(200):
                    continue
                try:
                    data = os.read(self.fd, 65536)
                except OSError:
                    return
                if not data:
                    return
                self.buf += data
                self.process()
        except Exception as e:  # shown by the tests through self.errors
            self.errors.append(repr(e))

    def process(self):
        while True:
            if self.recv_left:
                chunk = self.buf[: self.recv_left]
                self.buf = self.buf[len(chunk) :]
                self.recv_hash.update(chunk)
                self.recv_left -= len(chunk)
                if self.recv_left:
                    return
                self.send(b"sha256 %s %d\r\n# " % (self.recv_hash.hexdigest().encode(), self.recv_total))
                continue
            m = re.search(b"[\r\n]", self.buf)
            if m is None:
                return
            line = self.buf[: m.start()]
            self.buf = self.buf[m.end() :]
            self.line(line)

    def line(self, line):
        self.lines.append(line)
        if not self.logged_in:
            if line == b"":
                self.send(b"login: ")
            else:
                self.logged_in = True
                self.send(b"welcome " + line + b"\r\n# ")
            return
        if line == b"":
            self.send(b"# ")
            return
        self.send(line + b"\r\n")
        words = line.split()
        if words[0] == b"echo":
            self.send(line[5:] + b"\r\n# ")
        elif words[0] == b"burst":
            n, seed = int(words[1]), int(words[2])
            self.send(b"BEGIN\n" + burst_data(n, seed) + b"\nEND OF BURST\r\n# ")
        elif words[0] == b"recv":
            self.recv_left = self.recv_total = int(words[1])
            self.recv_hash = hashlib.sha256()
        elif words[0] == b"exit":
            self.logged_in = False
            self.send(b"logout\r\n")
        else:
            self.send(b"unknown command\r\n# ")

    def stop(self):
        self.stop_event.set()
        self.join(10)
        os.close(self.fd)


class PtyPair(object):
    """A socat pty pair: ``device`` (for the ssh test user) and ``end``
    (where a :class:`FakeDevice` answers)."""

    def __init__(self, directory, name, owner, perm):
        self.device = os.path.join(directory, name)
        self.end = os.path.join(directory, name + ".end")
        options = "pty,raw,echo=0,link=%s,perm=%s" % (self.device, perm)
        if owner is not None:
            options += ",user=%s" % (owner,)
        self.socat = subprocess.Popen(
            ["socat", options, "pty,raw,echo=0,link=%s" % (self.end,)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        ready = wait_until(
            lambda: (os.path.exists(self.device) and os.path.exists(self.end)) or self.socat.poll() is not None
        )
        if not ready or self.socat.poll() is not None:
            self.close()
            pytest.fail(
                "socat did not make the pty pair %s: %s"
                % (self.device, self.socat.stderr.read().decode(errors="replace"))
            )
        #: the pty slave (/dev/pts/N) the helper opens
        self.tty = os.path.realpath(self.device)
        self.fake = FakeDevice(self.end)
        self.fake.start()

    def close(self):
        fake = getattr(self, "fake", None)
        if fake is not None:
            fake.stop()
            self.fake = None
        if self.socat.poll() is None:
            self.socat.terminate()
        try:
            self.socat.wait(10)
        except subprocess.TimeoutExpired:
            self.socat.kill()
            self.socat.wait()
        self.socat.stderr.close()


@pytest.fixture
def pty_pairs(sshd):
    """Factory of socat pty pairs in a private directory (traversable by
    the test user); closed at the end of the test."""
    directory = tempfile.mkdtemp(prefix="execo-serial-")
    os.chmod(directory, 0o755)
    pairs = []
    owner = sshd.user if os.geteuid() == 0 else None

    def make(name, perm="0600"):
        pair = PtyPair(directory, name, owner, perm)
        pairs.append(pair)
        return pair

    make.directory = directory
    yield make
    for pair in pairs:
        pair.close()
    shutil.rmtree(directory, ignore_errors=True)


# ------------------------------------------------------------------ helpers on the hosts


@pytest.fixture(scope="session")
def remote_python_with_pyserial(sshd):
    """The remote_python command giving a python3 with pyserial on the
    hosts: plain ``python3`` if the hosts have it, else python3 with the
    local pyserial copied into a world-readable directory."""
    check = SshProcess(
        "python3 -c 'import serial; serial.Serial'",
        sshd.hosts[0],
        connection_params=sshd.connection_params_without_tty(),
        nolog_exit_code=True,
        ignore_exit_code=True,
    )
    finish(check.run())
    if check.exit_code == 0:
        yield "python3"
        return
    directory = tempfile.mkdtemp(prefix="execo-pyserial-")
    os.chmod(directory, 0o755)
    shutil.copytree(
        os.path.dirname(serial.__file__),
        os.path.join(directory, "serial"),
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    for root, dirs, files in os.walk(directory):
        for name in dirs:
            os.chmod(os.path.join(root, name), 0o755)
        for name in files:
            os.chmod(os.path.join(root, name), 0o644)
    yield "env PYTHONPATH=%s python3" % (directory,)
    shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(params=["python", "stty"])
def helper_path(request, monkeypatch, remote_python_with_pyserial):
    """Run the test with each remote helper, both chosen by ``'auto'``."""
    monkeypatch.setattr(SerialSsh, "helper", "auto")
    if request.param == "python":
        monkeypatch.setattr(SerialSsh, "remote_python", remote_python_with_pyserial)
    else:
        # no site-packages: no pyserial, whatever the host has installed
        monkeypatch.setattr(SerialSsh, "remote_python", "python3 -S")
    return request.param


def _proc_uid(pid):
    with open("/proc/%s/status" % (pid,)) as f:
        for line in f:
            if line.startswith("Uid:"):
                return int(line.split()[1])
    return None


def holders(tty, uid):
    """(pid, command name) of the live (non-zombie) processes of uid
    having tty open."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            if _proc_uid(pid) != uid:
                continue
            with open("/proc/%s/stat" % (pid,)) as f:
                stat = f.read()
            if stat[stat.rindex(")") + 2] in "ZX":
                continue
            fds = os.listdir("/proc/%s/fd" % (pid,))
            targets = set()
            for fd in fds:
                try:
                    targets.add(os.readlink("/proc/%s/fd/%s" % (pid, fd)))
                except OSError:
                    pass
            if tty in targets:
                with open("/proc/%s/comm" % (pid,)) as f:
                    found.append((int(pid), f.read().strip()))
        except (OSError, ValueError):
            continue
    return found


def user_uid(sshd):
    import pwd

    return pwd.getpwnam(sshd.user).pw_uid


def check_helper(pair, sshd, helper):
    """The helper holding the device open is the expected one."""
    names = {name for _, name in holders(pair.tty, user_uid(sshd))}
    if helper == "python":
        assert any(n.startswith("python") for n in names) and "cat" not in names, names
    else:
        assert "cat" in names and not any(n.startswith("python") for n in names), names


def assert_helpers_gone(pairs, sshd):
    uid = user_uid(sshd)
    assert wait_until(lambda: not any(holders(pair.tty, uid) for pair in pairs), timeout=30), [
        holders(pair.tty, uid) for pair in pairs
    ]


def login(p, name="alice"):
    """Press enter, expect the login prompt, log in, expect the shell prompt."""
    p.write("\n")
    assert p.expect("login: ", timeout=30)[0] == 0, p.stdout
    p.write(name + "\n")
    assert p.expect(r"welcome %s\r\n# " % (name,), timeout=30)[0] == 0, p.stdout


# ------------------------------------------------------------------ no network


def test_attributes_repr_and_command():
    h = Host("h", user="u")
    p = SerialSsh(h, "/dev/ttyUSB0", 115200, connection_params={"pty": False})
    assert isinstance(p, SshProcess)
    assert p.host == h and p.device == "/dev/ttyUSB0" and p.speed == 115200
    assert p.connection_params == {"pty": False}
    assert p.remote_cmd == serial_helper_command("/dev/ttyUSB0", 115200)
    assert p.cmd[-1] == p.remote_cmd and p.cmd[-2] == "h"
    assert p.cmd[p.cmd.index("-e") + 1] == "none"  # no ssh escape character in the data
    assert repr(p) == ("SerialSsh(Host('h', user='u'), '/dev/ttyUSB0', 115200, connection_params={'pty': False})")
    assert "/dev/ttyUSB0" in p.name
    for bad in ("fast", 0, -9600, 96.5, None):
        with pytest.raises(ValueError):
            SerialSsh("h", "/dev/ttyS0", bad)
    with pytest.raises(ValueError):
        serial_helper_command("/dev/ttyS0", 9600, helper="perl")
    # quoting: a device path with blanks and quotes is one argument
    cmd = serial_helper_command("/dev/my tty'1", 9600)
    assert "'/dev/my tty'\"'\"'1'" in cmd


def test_remote_serial_substitutions():
    hosts = [Host("10.0.0.%d" % i) for i in range(1, 6)]
    devices = ["/dev/ttyA", "/dev/ttyB"]
    r = RemoteSerial(
        hosts,
        "/dev/serial-{{{host}}}-{{devices}}",
        9600,
        connection_params={"user": "x"},
        process_args={"name": "console"},
    )
    assert r.hosts == hosts and r.device == "/dev/serial-{{{host}}}-{{devices}}"
    assert r.speed == 9600 and r.connection_params == {"user": "x"}
    assert r.process_args == {"name": "console"}
    assert [p.device for p in r.processes] == ["/dev/serial-10.0.0.%d-%s" % (i + 1, devices[i % 2]) for i in range(5)]
    assert all(isinstance(p, SerialSsh) and p.speed == 9600 and p.name == "console" for p in r.processes)
    assert [p.host for p in r.processes] == hosts
    r2 = RemoteSerial(hosts[:4], "/dev/ttyUSB{{range(4)}}", 115200)
    assert [p.device for p in r2.processes] == ["/dev/ttyUSB%d" % i for i in range(4)]
    with pytest.raises(ValueError):
        RemoteSerial(hosts, "/dev/ttyS0", "9600 baud")


def test_spec_module_paths():
    import execo.action
    import execo.process

    assert execo.process.SerialSsh is SerialSsh
    assert execo.action.RemoteSerial is RemoteSerial
    assert issubclass(RemoteSerial, execo.action.Remote)
    assert issubclass(SerialSsh, execo.process.SshProcess)


# ------------------------------------------------------------------ SerialSsh


def test_login_echo_and_helper(sshd, pty_pairs, helper_path):
    pair = pty_pairs("ttyS0")
    p = SerialSsh(sshd.hosts[0], pair.device, 115200, connection_params=sshd.connection_params)
    p.start()
    try:
        login(p)
        check_helper(pair, sshd, helper_path)
        p.write("echo hello serial\n")
        assert p.expect(r"echo hello serial\r\nhello serial\r\n# ", timeout=30)[0] == 0, p.stdout
        # control characters and CR go through untouched both ways
        p.write(b"echo a\x03b\x04c\x11d\x13e\x1af\x7f\r")
        assert p.expect("a\x03b\x04c\x11d\x13e\x1af\x7f\r\n# ", timeout=30)[0] == 0, repr(p.stdout)
        assert pair.fake.lines == [b"", b"alice", b"echo hello serial", b"echo a\x03b\x04c\x11d\x13e\x1af\x7f"], (
            pair.fake.lines
        )
        assert p.running and not p.ended
    finally:
        p.kill()
        finish(p)
    assert p.killed
    assert_helpers_gone([pair], sshd)
    assert not pair.fake.errors


@pytest.mark.parametrize("tty", [True, False], ids=["tt", "notty"])
def test_binary_both_ways(sshd, pty_pairs, helper_path, tty):
    pair = pty_pairs("ttyBIN")
    params = sshd.connection_params if tty else sshd.connection_params_without_tty()
    p = SerialSsh(sshd.hosts[1], pair.device, 921600, connection_params=params)
    p.start()
    try:
        login(p)
        # device -> stdout: 10 MB of random bytes (every byte value), byte-exact
        p.write("burst %d 7\n" % (BURST_SIZE,))
        assert p.expect("\nEND OF BURST\r\n# ", timeout=BIG_TIMEOUT)[0] == 0, len(p.stdout)
        out = out_bytes(p)
        start = out.index(b"burst %d 7\r\nBEGIN\n" % (BURST_SIZE,))
        start = out.index(b"BEGIN\n", start) + len(b"BEGIN\n")
        got = out[start : start + BURST_SIZE]
        assert len(got) == BURST_SIZE
        assert got == burst_data(BURST_SIZE, 7)
        assert out[start + BURST_SIZE :] == b"\nEND OF BURST\r\n# "
        # stdin -> device: random bytes, checked by the device's sha256
        # (with ssh escape sequences: ssh must not take them with -tt)
        escapes = b"\n~.\r~B\n~~\r~C\n~\x1a\n~&\n~?\n"
        payload = escapes + burst_data(UPLOAD_SIZE - len(escapes), 11)
        assert len(set(payload)) == 256
        p.write(b"recv %d\n" % (UPLOAD_SIZE,) + payload)
        idx, mo = p.expect(r"sha256 ([0-9a-f]{64}) (\d+)\r\n# ", timeout=BIG_TIMEOUT)
        assert idx == 0, out_bytes(p)[-200:]
        assert int(mo.group(2)) == UPLOAD_SIZE
        assert mo.group(1) == hashlib.sha256(payload).hexdigest()
        assert not p.write_error and p.running
    finally:
        p.kill()
        finish(p)
    assert_helpers_gone([pair], sshd)
    assert not pair.fake.errors


def test_close_stdin_ends_helper_without_tty(sshd, pty_pairs, helper_path):
    pair = pty_pairs("ttyEOF")
    p = SerialSsh(sshd.hosts[2], pair.device, 9600, connection_params=sshd.connection_params_without_tty())
    p.start()
    try:
        login(p)
        p.write("echo last words\n")
        assert p.expect(r"last words\r\n# ", timeout=30)[0] == 0
        p.write("echo after\n")
        p.close_stdin()
        finish(p)
    finally:
        if not p.ended:
            p.kill()
            finish(p)
    # ended by itself, everything written reached the device
    assert p.ok and p.exit_code == 0 and not p.killed, p
    assert wait_until(lambda: pair.fake.lines[-1:] == [b"echo after"]), pair.fake.lines
    assert_helpers_gone([pair], sshd)


@pytest.mark.parametrize("tty", [True, False], ids=["tt", "notty"])
def test_missing_device(sshd, pty_pairs, helper_path, tty):
    missing = os.path.join(pty_pairs.directory, "ttyUSB9")
    params = sshd.connection_params if tty else sshd.connection_params_without_tty()
    p = SerialSsh(sshd.hosts[3], missing, 115200, connection_params=params, nolog_exit_code=True)
    finish(p.run())
    assert not p.ok and p.exit_code == 2 and not p.error, p
    message = "execo-serial: cannot open %s: No such file or directory" % (missing,)
    # with -tt the remote stderr is the terminal, read as stdout
    assert message in (p.stdout if tty else p.stderr), (p.stdout, p.stderr)
    if not tty:
        assert p.stdout == ""


def test_permission_denied(sshd, pty_pairs, helper_path):
    pair = pty_pairs("ttyLOCKED", perm="0000")
    p = SerialSsh(
        sshd.hosts[3], pair.device, 115200, connection_params=sshd.connection_params_without_tty(), nolog_exit_code=True
    )
    finish(p.run())
    assert not p.ok and p.exit_code == 2, p
    assert "execo-serial: cannot open %s: Permission denied" % (pair.device,) in p.stderr, p.stderr


def test_device_gone_ends_process(sshd, pty_pairs, helper_path):
    pair = pty_pairs("ttyGONE")
    p = SerialSsh(
        sshd.hosts[4], pair.device, 115200, connection_params=sshd.connection_params_without_tty(), nolog_exit_code=True
    )
    p.start()
    try:
        login(p)
        # the device disappears (as an unplugged USB adapter): the pty hangs up
        pair.close()
        finish(p)
    finally:
        if not p.ended:
            p.kill()
            finish(p)
    assert not p.killed and p.exit_code == 1 and not p.ok, p
    assert "execo-serial: %s:" % (pair.device,) in p.stderr, p.stderr


def test_forced_helpers(sshd, pty_pairs, monkeypatch, remote_python_with_pyserial):
    """helper='stty' is used even when pyserial is there; helper='python'
    fails clearly when it is not."""
    pair = pty_pairs("ttyFORCE")
    monkeypatch.setattr(SerialSsh, "remote_python", remote_python_with_pyserial)
    monkeypatch.setattr(SerialSsh, "helper", "stty")
    p = SerialSsh(sshd.hosts[5], pair.device, 38400, connection_params=sshd.connection_params)
    p.start()
    try:
        login(p)
        check_helper(pair, sshd, "stty")
    finally:
        p.kill()
        finish(p)
    assert_helpers_gone([pair], sshd)
    monkeypatch.setattr(SerialSsh, "helper", "python")
    monkeypatch.setattr(SerialSsh, "remote_python", "python3 -S")
    p = SerialSsh(
        sshd.hosts[5], pair.device, 38400, connection_params=sshd.connection_params_without_tty(), nolog_exit_code=True
    )
    finish(p.run())
    assert p.exit_code == 127 and not p.ok, p
    assert "execo-serial: python3 -S with pyserial not found" in p.stderr, p.stderr


# ------------------------------------------------------------------ RemoteSerial


def test_remote_serial_four_hosts(sshd, pty_pairs, helper_path):
    hosts = sshd.hosts[:4]
    pairs = [pty_pairs("tty%s" % (h.address,)) for h in hosts]
    device = os.path.join(pty_pairs.directory, "tty{{{host}}}")
    r = RemoteSerial(hosts, device, 115200, connection_params=sshd.connection_params)
    assert [p.device for p in r.processes] == [pair.device for pair in pairs]
    r.start()
    try:
        r.write("\n")
        results = r.expect("login: ", timeout=30)
        assert [idx for _, idx, _ in results] == [0] * 4, [p.stdout for p in r.processes]
        for p, (rp, _, _) in zip(r.processes, results):
            assert rp is p
        for pair in pairs:
            check_helper(pair, sshd, helper_path)
        # one name per host through each process, then the same line to all
        for i, p in enumerate(r.processes):
            p.write("user%d\n" % (i,))
        for i, p in enumerate(r.processes):
            assert p.expect(r"welcome user%d\r\n# " % (i,), timeout=30)[0] == 0, p.stdout
        r.write("echo to all\n")
        results = r.expect(r"echo to all\r\nto all\r\n# ", timeout=30)
        assert [idx for _, idx, _ in results] == [0] * 4, [p.stdout for p in r.processes]
        for i, pair in enumerate(pairs):
            assert pair.fake.lines == [b"", b"user%d" % (i,), b"echo to all"]
        # a short binary burst on every host
        r.write("burst 100000 3\n")
        results = r.expect("\nEND OF BURST\r\n# ", timeout=BIG_TIMEOUT)
        assert [idx for _, idx, _ in results] == [0] * 4
        for p in r.processes:
            out = out_bytes(p)
            start = out.index(b"BEGIN\n") + len(b"BEGIN\n")
            assert out[start : start + 100000] == burst_data(100000, 3)
        assert not r.ended
    finally:
        r.kill()
        r.wait(60)
    assert r.ended
    assert_helpers_gone(pairs, sshd)


def test_remote_serial_missing_device_on_one_host(sshd, pty_pairs, helper_path):
    hosts = sshd.hosts[4:8]
    pairs = [pty_pairs("ttyUSB%d" % (i,)) for i in (0, 1, 3)]
    # ttyUSB2 does not exist on the third host; the expression is
    # evaluated in this function's frame
    devices = [os.path.join(pty_pairs.directory, "ttyUSB%d" % (i,)) for i in range(4)]
    r = RemoteSerial(
        hosts, "{{devices}}", 57600, connection_params=sshd.connection_params, process_args={"nolog_exit_code": True}
    )
    assert [p.device for p in r.processes] == devices
    failing = r.processes[2]
    working = [p for p in r.processes if p is not failing]
    r.start()
    try:
        finish(failing)
        assert failing.exit_code == 2 and not failing.ok, failing
        assert "execo-serial: cannot open %s: No such file or directory" % (devices[2],) in failing.stdout, (
            failing.stdout
        )
        r.write("\n")
        results = r.expect("login: ", timeout=30)
        assert [idx for _, idx, _ in results] == [0, 0, None, 0], [p.stdout for p in r.processes]
        for p in working:
            p.write("bob\n")
        for p in working:
            assert p.expect(r"welcome bob\r\n# ", timeout=30)[0] == 0, p.stdout
            assert p.running
        assert not r.ended
    finally:
        r.kill()
        r.wait(60)
    assert not r.ok
    assert [p.host for p in r.processes if not p.ok] == [hosts[2]]
    assert_helpers_gone(pairs, sshd)
