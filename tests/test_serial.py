"""execo.process.Serial on real pseudo-terminal pairs made by socat: our
side opens one end as the "serial device", a fake device (a thread of this
test) answers on the other end."""

import errno
import hashlib
import locale
import os
import shutil
import subprocess
import sys
import threading
import time

import pytest
from helpers import wait_until

from execo.handlers import ProcessOutputHandler
from execo.process import Serial
from execo.report import Report


@pytest.fixture
def pty_pair(tmp_path):
    """(device path for execo, device path for the fake device); the
    socat process is ``pty_pair.socat`` (killing it unplugs the device)."""
    socat = shutil.which("socat")
    assert socat, "socat is needed (tests/run.sh installs it)"
    a, b = str(tmp_path / "ttyA"), str(tmp_path / "ttyB")
    proc = subprocess.Popen(
        [socat, "pty,raw,echo=0,link=%s" % a, "pty,raw,echo=0,link=%s" % b],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        assert wait_until(lambda: os.path.exists(a) and os.path.exists(b), 10), "socat made no ptys"
        yield _Pair(a, b, proc)
    finally:
        proc.terminate()
        proc.wait(10)


class _Pair(tuple):
    def __new__(cls, a, b, socat):
        pair = tuple.__new__(cls, (a, b))
        pair.socat = socat
        return pair


class FakeDevice(threading.Thread):
    """A console on the other end: prints a login prompt, echoes each
    line as ``echo: <line>``, answers ``burst N`` with N pseudo-random
    bytes (and remembers their sha256), ``quit`` closes the device."""

    def __init__(self, path):
        super(FakeDevice, self).__init__(daemon=True)
        self.fd = os.open(path, os.O_RDWR | os.O_NOCTTY)
        self.burst_sha = None
        self.received = b""

    def send(self, data):
        view = memoryview(data)
        while view:
            n = os.write(self.fd, view)
            view = view[n:]

    def run(self):
        self.send(b"board ready\r\nlogin: ")
        buf = b""
        try:
            while True:
                chunk = os.read(self.fd, 65536)
                if not chunk:
                    return
                self.received += chunk
                buf += chunk
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    line = line.rstrip(b"\r")
                    if line.startswith(b"burst "):
                        n = int(line.split()[1])
                        block = os.urandom(65536)
                        data = (block * (n // len(block) + 1))[:n]
                        self.burst_sha = hashlib.sha256(data).hexdigest()
                        self.send(data)
                    elif line == b"quit":
                        return
                    else:
                        self.send(b"echo: " + line + b"\r\n$ ")
        except OSError:
            return
        finally:
            os.close(self.fd)  # the fake device's end of the pair


class BytesCollector(ProcessOutputHandler):
    def __init__(self):
        super(BytesCollector, self).__init__()
        self.chunks = []

    def read(self, process, stream, string, eof, error):
        self.chunks.append(string)


def test_expect_prompt_then_write_command(pty_pair):
    ours, theirs = pty_pair
    s = Serial(ours, 115200).start()  # opening flushes what the port got before
    dev = FakeDevice(theirs)
    dev.start()
    try:
        assert s.started and not s.ended and not s.error
        assert s.expect(r"login: ", timeout=10)[0] == 0
        s.write("root\n")
        index, match = s.expect(r"echo: (\w+)", timeout=10)
        assert index == 0 and match.group(1) == "root"
        assert "board ready" in s.stdout
        assert dev.received == b"root\n"
    finally:
        s.kill()
        s.wait(10)
    assert s.ended and s.killed and s.ok and s.exit_code == 0
    assert not s.error


class RawSink(object):
    """A binary file-like output handler: gets the bytes as read."""

    def __init__(self):
        self.data = bytearray()

    def write(self, data):
        self.data += data


def test_burst_of_10_mb_binary_is_byte_exact(pty_pair):
    ours, theirs = pty_pair
    sink = RawSink()
    s = Serial(ours, 4000000, stdout_handlers=[sink]).start()
    dev = FakeDevice(theirs)
    dev.start()
    try:
        s.expect("login: ", timeout=10)
        # (expect may match in the text collected before the handler
        # thread has handed the same bytes to the sink)
        assert wait_until(lambda: b"login: " in sink.data, 10)
        before = sink.data.index(b"login: ") + len(b"login: ")
        s.write(b"burst 10000000\n")
        assert wait_until(lambda: len(sink.data) >= before + 10000000, 60), len(sink.data)
        got = bytes(sink.data[before:])
        assert len(got) == 10000000
        assert hashlib.sha256(got).hexdigest() == dev.burst_sha
    finally:
        s.kill()
        s.wait(10)
    # the collected text is the same bytes (surrogateescape round trip)
    assert s.stdout.encode(locale.getpreferredencoding(False), "surrogateescape") == bytes(sink.data)


def test_device_going_away_ends_the_process(pty_pair):
    ours, theirs = pty_pair
    s = Serial(ours, 9600)
    s.start()
    dev = FakeDevice(theirs)
    dev.start()
    s.expect("login: ", timeout=10)
    pty_pair.socat.kill()  # the device is unplugged: our side reads EIO
    s.wait(20)
    assert s.ended and not s.killed and not s.error and s.ok and s.exit_code == 0
    assert "login: " in s.stdout


def test_timeout_closes_the_port(pty_pair):
    ours, theirs = pty_pair
    s = Serial(ours, 9600, timeout=1, nolog_timeout=True).start()
    dev = FakeDevice(theirs)
    dev.start()
    s.wait(20)
    assert s.ended and s.timeouted and not s.ok
    assert "login: " in s.stdout
    assert Report([s]).stats()["num_timeouts"] == 1


def test_missing_device_is_an_error_not_an_exception():
    s = Serial("/nonexistent/ttyX", 115200, nolog_error=True).start()
    assert s.ended and s.error and s.error_reason == errno.ENOENT and not s.ok
    assert s.exit_code is None
    s.wait(1)


def test_busy_device_is_an_error(pty_pair):
    ours, theirs = pty_pair
    first = Serial(ours, 9600).start()
    try:
        second = Serial(ours, 9600, nolog_error=True).start()
        assert second.ended and second.error and not second.ok
        assert second.error_reason in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EBUSY)
        assert not first.ended
    finally:
        first.kill()
        first.wait(10)


def test_permission_denied_is_an_error(pty_pair):
    ours, _ = pty_pair
    device = os.path.realpath(ours)
    os.chmod(device, 0)
    if os.geteuid() == 0:
        # root opens anything: check EACCES in a child without the
        # capabilities that bypass file permissions
        script = (
            "import errno; from execo.process import Serial;"
            "s = Serial(%r, 9600, nolog_error=True).start();"
            "print(s.error, s.error_reason == errno.EACCES)" % (device,)
        )
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
        r = subprocess.run(
            [
                "setpriv",
                "--inh-caps=-all",
                "--bounding-set=-dac_override,-dac_read_search",
                sys.executable,
                "-c",
                script,
            ],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
        assert r.stdout.split() == ["True", "True"], r.stderr[-2000:]
    else:
        s = Serial(ours, 9600, nolog_error=True).start()
        assert s.error and s.error_reason == errno.EACCES


def test_output_handlers_and_bytes(pty_pair):
    ours, theirs = pty_pair
    h = BytesCollector()
    s = Serial(ours, 115200, stdout_handlers=[h]).start()
    dev = FakeDevice(theirs)
    dev.start()
    try:
        s.expect("login: ", timeout=10)
        s.write(b"\xc3\xa9t\xc3\xa9\n")
        s.expect("echo: été", timeout=10)
    finally:
        s.kill()
        s.wait(10)
    assert "".join(h.chunks).startswith("board ready")
    assert s.stderr == ""


def test_write_before_start_and_after_end(pty_pair):
    ours, _ = pty_pair
    s = Serial(ours, 9600, nolog_write_error=True)
    with pytest.raises(ValueError):
        s.write("x")
    s.start().kill().wait(10)
    s.write("late")
    assert s.write_error and not s.ok


def test_bad_arguments_fail_at_the_call():
    with pytest.raises(ValueError):
        Serial("/dev/ttyS0", "fast")
    with pytest.raises(ValueError):
        Serial("/dev/ttyS0", 0)


def test_start_twice_raises(pty_pair):
    ours, _ = pty_pair
    s = Serial(ours, 9600).start()
    try:
        with pytest.raises(ValueError):
            s.start()
    finally:
        s.kill()
        s.wait(10)
    assert time.time() >= s.end_date
