"""Tests of process lifecycle and output handlers (ProcessLifecycleHandler,
ProcessOutputHandler, fds / file objects / filenames as output handlers),
written from the API spec, with real processes."""

import locale
import os
import sys
import tempfile
import threading
import time

import pytest
from helpers import finish

from execo.process import STDERR, STDOUT, Process, ProcessLifecycleHandler, ProcessOutputHandler

PY = sys.executable
ENC = locale.getpreferredencoding(False)


class ReadRecorder(ProcessOutputHandler):
    def __init__(self):
        super().__init__()
        self.calls = []
        self.lock = threading.Lock()

    def read(self, process, stream, string, eof, error):
        with self.lock:
            self.calls.append((process, stream, string, eof, error))

    def data(self, process=None, stream=None):
        return "".join(
            c[2] for c in self.calls if (process is None or c[0] is process) and (stream is None or c[1] == stream)
        )


class LineRecorder(ProcessOutputHandler):
    def __init__(self):
        super().__init__()
        self.calls = []
        self.lock = threading.Lock()

    def read_line(self, process, stream, string, eof, error):
        with self.lock:
            self.calls.append((process, stream, string, eof, error))

    def lines(self, process=None, stream=None):
        return [c[2] for c in self.calls if (process is None or c[0] is process) and (stream is None or c[1] == stream)]


class LifecycleRecorder(ProcessLifecycleHandler):
    def __init__(self):
        self.calls = []

    def start(self, process):
        self.calls.append(("start", process, process.started))

    def end(self, process):
        self.calls.append(("end", process, process.ended))

    def reset(self, process):
        self.calls.append(("reset", process))


# ------------------------------------------------------------- base classes


def test_base_handlers_are_noops():
    lh = ProcessLifecycleHandler()
    p = Process("true")
    assert lh.start(p) is None and lh.end(p) is None and lh.reset(p) is None
    oh = ProcessOutputHandler()
    oh.read_line(p, STDOUT, "x\n", False, False)
    oh.read(p, STDOUT, "x\n", False, False)


def test_stream_constants():
    assert STDOUT == 1 and STDERR == 2


# ----------------------------------------------------------- read() override


def test_read_override_gets_all_data_and_eof():
    h = ReadRecorder()
    script = (
        "import sys, time\n"
        "for i in range(5):\n"
        "    sys.stdout.write('chunk%d ' % i); sys.stdout.flush(); time.sleep(0.05)\n"
    )
    p = finish(Process((PY, "-c", script), stdout_handlers=[h]).run(20))
    assert p.finished_ok
    assert h.data() == "chunk0 chunk1 chunk2 chunk3 chunk4 "
    assert all(c[0] is p for c in h.calls)
    assert all(c[1] == STDOUT for c in h.calls)
    assert h.calls[-1][3] is True  # eof at the end
    assert [c[3] for c in h.calls[:-1]] == [False] * (len(h.calls) - 1)
    assert all(not c[4] for c in h.calls)
    # the default handler still collects stdout
    assert p.stdout == h.data()


def test_read_override_on_stderr():
    h = ReadRecorder()
    p = finish(Process(("sh", "-c", "echo out; echo err >&2"), stderr_handlers=[h]).run(10))
    assert h.data() == "err\n"
    assert all(c[1] == STDERR for c in h.calls)
    assert h.calls[-1][3] is True
    assert p.stderr == "err\n"


def test_same_handler_on_both_streams():
    h = ReadRecorder()
    finish(Process(("sh", "-c", "echo out; echo err >&2"), stdout_handlers=[h], stderr_handlers=[h]).run(10))
    assert h.data(stream=STDOUT) == "out\n"
    assert h.data(stream=STDERR) == "err\n"
    assert sum(1 for c in h.calls if c[3]) == 2  # one eof per stream


def test_read_override_with_default_handler_off():
    h = ReadRecorder()
    p = finish(Process(("sh", "-c", "echo out"), default_stdout_handler=False, stdout_handlers=[h]).run(10))
    assert h.data() == "out\n"
    assert not p.stdout


def test_read_override_empty_output_gets_eof():
    h = ReadRecorder()
    finish(Process("true", stdout_handlers=[h]).run(10))
    assert h.data() == ""
    assert h.calls and h.calls[-1][3] is True


def test_read_override_large_output():
    h = ReadRecorder()
    n = 5_000_000
    finish(
        Process((PY, "-c", "import sys; sys.stdout.write('abcdefghi\\n' * %d)" % (n // 10)), stdout_handlers=[h]).run(
            30
        )
    )
    d = h.data()
    assert len(d) == n and d == "abcdefghi\n" * (n // 10)


# ------------------------------------------------------ read_line() override


def test_read_line_override():
    h = LineRecorder()
    script = (
        "import sys, time\n"
        "o = sys.stdout\n"
        "o.write('line1\\nli'); o.flush(); time.sleep(0.2)\n"
        "o.write('ne2\\n\\nline4\\nlast'); o.flush()\n"
    )
    p = finish(Process((PY, "-c", script), stdout_handlers=[h]).run(10))
    assert p.finished_ok
    assert h.lines() == ["line1\n", "line2\n", "\n", "line4\n", "last"]
    assert all(c[0] is p and c[1] == STDOUT for c in h.calls)
    # complete lines are delivered with eof False; the last line without
    # newline is delivered at eof, with eof=True
    assert [c[3] for c in h.calls[:-1]] == [False] * 4
    assert h.calls[-1][3] is True
    assert all(not c[4] for c in h.calls)


def test_read_line_override_lines_before_end():
    """Lines are delivered as they come, not only at the end."""
    h = LineRecorder()
    p = Process(("sh", "-c", "echo first; exec sleep 30"), stdout_handlers=[h]).start()
    try:
        deadline = time.monotonic() + 10
        while not h.lines() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert h.lines() == ["first\n"]
    finally:
        p.kill()
        finish(p)


def test_read_line_override_non_utf8_and_multibyte():
    h = LineRecorder()
    data = b"caf\xc3\xa9\n\xff\xferaw\n\xe2\x82\xacend"
    script = "import sys, time; o = sys.stdout.buffer; d = %r\nfor b in d:\n    o.write(bytes([b])); o.flush()\n" % (
        data,
    )
    finish(Process((PY, "-c", script), stdout_handlers=[h]).run(20))
    lines = h.lines()
    assert "".join(lines).encode(ENC, "surrogateescape") == data
    assert lines[0] == "café\n"
    assert lines[2] == "€end"


def test_read_line_handler_shared_by_many_processes():
    h = LineRecorder()
    ps = []
    for i in range(20):
        script = "printf 'p%da'; sleep 0.1; printf 'b\\np%dc'; sleep 0.1; printf 'd\\n'" % (i, i)
        ps.append(Process(("sh", "-c", script), stdout_handlers=[h]))
    for p in ps:
        p.start()
    for p in ps:
        finish(p)
    for i, p in enumerate(ps):
        assert h.lines(process=p) == ["p%dab\n" % i, "p%dcd\n" % i]


class OneAtATime(object):
    """Counts calls that overlap another call to the same object. A call
    lingers longer than handler_threads.STALL_SECONDS, so that while it
    runs another handler thread starts for the other process's waiting
    calls: without the handler's lock they would meet here."""

    def __init__(self):
        self.inside = 0
        self.overlaps = 0
        self.calls = 0
        self.guard = threading.Lock()

    def enter(self, linger=0.0):
        with self.guard:
            self.inside += 1
            self.calls += 1
            if self.inside > 1:
                self.overlaps += 1
        time.sleep(linger)
        with self.guard:
            self.inside -= 1


class StatefulLines(ProcessOutputHandler):
    """execo_g5k's kadeploy parser pattern: one 2.8.2-style handler for
    several processes keeping state from one line to the next."""

    def __init__(self):
        super().__init__()
        self.seen = OneAtATime()
        self.section = {}
        self.mismatched = []

    def read_line(self, process, stream, line):
        self.seen.enter(0.15 if line.startswith("begin") else 0.0)
        if line.startswith("begin "):
            self.current = (process, line[6:])
        elif line == "end":
            owner, name = self.current
            if owner is not process:
                self.mismatched.append(name)
            self.section.setdefault(process, []).append(name)


def test_handler_shared_by_processes_is_called_one_at_a_time():
    # parallel strands of two processes meet in one stateful handler: its
    # calls come one at a time, each batch of lines of a chunk together
    h = StatefulLines()
    script = 'for i in 1 2 3 4; do printf "begin %s$i\\nend\\n"; sleep 0.01; done'
    ps = [Process(("sh", "-c", script % name), stdout_handlers=[h]) for name in "ab"]
    for p in ps:
        p.start()
    for p in ps:
        finish(p)
    assert h.seen.calls == 16
    assert h.seen.overlaps == 0
    assert h.mismatched == []
    assert h.section[ps[0]] == ["a1", "a2", "a3", "a4"]
    assert h.section[ps[1]] == ["b1", "b2", "b3", "b4"]


def test_lifecycle_handler_shared_by_processes_is_called_one_at_a_time():
    seen = OneAtATime()

    class Ends(ProcessLifecycleHandler):
        def end(self, process):
            seen.enter(0.15)

    h = Ends()
    ps = [Process("true", lifecycle_handlers=[h]) for _ in range(4)]
    for p in ps:
        p.start()
    for p in ps:
        finish(p)
    assert seen.calls == 4
    assert seen.overlaps == 0


class PermissiveLines(StatefulLines):
    """A handler answering any attribute (a proxy, a mock-like object):
    execo's own markers and its lock must not be taken from it."""

    def __getattr__(self, name):
        return "anything"


class SlottedEnds(object):
    """A lifecycle handler without ``__dict__``."""

    __slots__ = ("seen",)

    def __init__(self, seen):
        self.seen = seen

    def start(self, process):
        pass

    def end(self, process):
        self.seen.enter(0.15)

    def reset(self, process):
        pass


def test_shared_handlers_with_their_own_getattr_or_slots_are_serialized():
    h = PermissiveLines()
    script = 'for i in 1 2 3; do printf "begin %s$i\\nend\\n"; sleep 0.01; done'
    seen = OneAtATime()
    ends = SlottedEnds(seen)
    ps = [Process(("sh", "-c", script % name), stdout_handlers=[h], lifecycle_handlers=[ends]) for name in "ab"]
    for p in ps:
        p.start()
    for p in ps:
        finish(p)
    assert all(p.ok for p in ps)
    assert h.seen.calls == 12 and h.seen.overlaps == 0 and h.mismatched == []
    assert h.section[ps[0]] == ["a1", "a2", "a3"] and h.section[ps[1]] == ["b1", "b2", "b3"]
    assert seen.calls == 2 and seen.overlaps == 0


def test_read_and_read_line_handlers_together():
    r = ReadRecorder()
    lh = LineRecorder()
    finish(Process(("sh", "-c", "echo a; echo b"), stdout_handlers=[r, lh]).run(10))
    assert r.data() == "a\nb\n"
    assert lh.lines() == ["a\n", "b\n"]


def test_base_read_splits_into_lines():
    """A handler overriding read and calling the base class read still gets
    read_line calls (the base read is the line splitter)."""

    class Both(ProcessOutputHandler):
        def __init__(self):
            super().__init__()
            self.reads = []
            self.lines = []

        def read(self, process, stream, string, eof, error):
            self.reads.append(string)
            super().read(process, stream, string, eof, error)

        def read_line(self, process, stream, string, eof, error):
            self.lines.append((string, eof))

    h = Both()
    finish(Process(("sh", "-c", "printf 'x\\ny\\nz'"), stdout_handlers=[h]).run(10))
    assert "".join(h.reads) == "x\ny\nz"
    assert h.lines == [("x\n", False), ("y\n", False), ("z", True)]


# ------------------------------------- handlers written for execo 2.8.2 (issue 16)
# 2.8.2 called read_line(process, stream, line): its handlers take three
# arguments; the spec's five-argument form is accepted as well.


class Lines282(ProcessOutputHandler):
    def __init__(self):
        super().__init__()
        self.lines = []

    def read_line(self, process, stream, line):
        self.lines.append((process, stream, line))


class Reads282(ProcessOutputHandler):
    def __init__(self):
        super().__init__()
        self.chunks = []

    def read(self, process, stream, string):
        self.chunks.append((process, stream, string))


def _no_handler_error(execo_log):
    assert "raised an exception" not in execo_log.text(), execo_log.text()


SCRIPT_BOTH_STREAMS = "printf 'o1\\no2\\nlast'; printf 'e1\\ne2\\n' >&2"


def test_282_read_line_handler_on_stdout_and_stderr(execo_log):
    out, err = Lines282(), Lines282()
    p = finish(Process(("sh", "-c", SCRIPT_BOTH_STREAMS), stdout_handlers=[out], stderr_handlers=[err]).run(10))
    assert p.finished_ok
    # lines without their ending, as 2.8.2 gave them
    assert out.lines == [(p, STDOUT, "o1"), (p, STDOUT, "o2"), (p, STDOUT, "last")]
    assert err.lines == [(p, STDERR, "e1"), (p, STDERR, "e2")]
    _no_handler_error(execo_log)


def test_282_and_spec_handlers_side_by_side(execo_log):
    old, new = Lines282(), LineRecorder()
    finish(Process(("sh", "-c", SCRIPT_BOTH_STREAMS), stdout_handlers=[old, new], stderr_handlers=[new, old]).run(10))
    assert [c[2] for c in old.lines if c[1] == STDOUT] == ["o1", "o2", "last"]
    assert [c[2] for c in old.lines if c[1] == STDERR] == ["e1", "e2"]
    assert new.lines(stream=STDOUT) == ["o1\n", "o2\n", "last"]
    assert new.lines(stream=STDERR) == ["e1\n", "e2\n"]
    assert [c[3] for c in new.calls if c[1] == STDOUT] == [False, False, True]
    _no_handler_error(execo_log)


def test_282_read_handler_gets_all_output_without_empty_eof_call(execo_log):
    h = Reads282()
    p = finish(Process(("sh", "-c", SCRIPT_BOTH_STREAMS), stdout_handlers=[h], stderr_handlers=[h]).run(10))
    assert "".join(c[2] for c in h.chunks if c[1] == STDOUT) == "o1\no2\nlast"
    assert "".join(c[2] for c in h.chunks if c[1] == STDERR) == "e1\ne2\n"
    assert all(c[0] is p and c[2] for c in h.chunks)
    _no_handler_error(execo_log)


def test_282_form_is_found_per_function_and_forgotten_with_it(execo_log):
    """The form of a handler's method is remembered per function, weakly:
    handler classes made at run time do not pile up in the memory."""
    import gc
    import weakref

    from execo.handlers import _SHORT_BOUND

    def make():
        class Made(ProcessOutputHandler):
            def __init__(self):
                super().__init__()
                self.lines = []

            def read_line(self, process, stream, line):
                self.lines.append(line)

        return Made()

    for _ in range(3):
        h = make()
        finish(Process("echo x; echo y", shell=True, stdout_handlers=[h]).run(10))
        assert h.lines == ["x", "y"]
        gone = weakref.ref(type(h).read_line)
        del h
        gc.collect()
        assert gone() is None
    assert all(ref() is not None for ref in list(_SHORT_BOUND))
    _no_handler_error(execo_log)


def test_282_read_line_handler_behind_an_overridden_read(execo_log):
    """A read override that calls the base read (the line splitter) with a
    2.8.2 read_line."""

    class Both(Lines282):
        def read(self, process, stream, string, eof, error):
            super().read(process, stream, string, eof, error)

    h = Both()
    finish(Process(("sh", "-c", "printf 'x\\ny\\nz'"), stdout_handlers=[h]).run(10))
    assert [c[2] for c in h.lines] == ["x", "y", "z"]
    _no_handler_error(execo_log)


def test_star_args_and_defaulted_handlers_get_the_spec_form(execo_log):
    class Star(ProcessOutputHandler):
        def __init__(self):
            super().__init__()
            self.calls = []

        def read_line(self, *args):
            self.calls.append(args)

    class Defaults(ProcessOutputHandler):
        def __init__(self):
            super().__init__()
            self.calls = []

        def read_line(self, process, stream, line, eof=None, error=None):
            self.calls.append((line, eof, error))

    star, defaults = Star(), Defaults()
    p = finish(Process(("sh", "-c", "printf 'a\\nb'"), stdout_handlers=[star, defaults]).run(10))
    assert star.calls == [(p, STDOUT, "a\n", False, False), (p, STDOUT, "b", True, False)]
    assert defaults.calls == [("a\n", False, False), ("b", True, False)]
    _no_handler_error(execo_log)


class _Opaque(object):
    """A callable whose signature cannot be read (as some C extension
    callables): it gets the spec's five arguments."""

    def __init__(self):
        self.calls = []

    @property
    def __signature__(self):
        raise ValueError("no signature")

    def __call__(self, *args):
        self.calls.append(args)


def test_handler_whose_signature_cannot_be_read_still_works(execo_log):
    class Opaque(ProcessOutputHandler):
        def __init__(self):
            super().__init__()
            self.read_line = _Opaque()

    h = Opaque()
    p = finish(Process(("sh", "-c", "echo a >&2; echo b >&2"), stderr_handlers=[h]).run(10))
    assert h.read_line.calls == [(p, STDERR, "a\n", False, False), (p, STDERR, "b\n", False, False)]
    _no_handler_error(execo_log)


def test_282_handler_with_a_remote_process(sshd, execo_log):
    from execo.ssh_process import SshProcess

    out, err = Lines282(), Lines282()
    p = finish(
        SshProcess(
            SCRIPT_BOTH_STREAMS,
            sshd.hosts[2],
            connection_params=sshd.connection_params_without_tty(),
            stdout_handlers=[out],
            stderr_handlers=[err],
        ).run(60)
    )
    assert p.finished_ok, p.dump()
    assert [c[2] for c in out.lines] == ["o1", "o2", "last"]
    assert [c[2] for c in err.lines] == ["e1", "e2"]
    _no_handler_error(execo_log)


def test_282_read_line_gets_pty_lines_without_cr(sshd, execo_log):
    """Over ssh -tt (execo's default) lines end in \\r\\n: a 2.8.2 handler
    gets them without it, and no empty line in between."""
    from execo.ssh_process import SshProcess

    out = Lines282()
    p = finish(
        SshProcess(
            "printf 'a\\nb\\n'", sshd.hosts[2], connection_params=sshd.connection_params, stdout_handlers=[out]
        ).run(60)
    )
    assert p.finished_ok, p.dump()
    assert [c[2] for c in out.lines] == ["a", "b"]
    _no_handler_error(execo_log)


# ---------------------------------------------------------------- fd targets


def test_int_fd_pipe():
    rfd, wfd = os.pipe()
    try:
        p = finish(
            Process(("sh", "-c", "echo hello; echo err >&2"), stdout_handlers=[wfd], stderr_handlers=[wfd]).run(10)
        )
        assert p.finished_ok
        os.set_blocking(rfd, False)
        got = b""
        try:
            while True:
                b = os.read(rfd, 65536)
                if not b:
                    break
                got += b
        except BlockingIOError:
            pass
        assert sorted(got.split(b"\n")) == sorted(b"hello\nerr\n".split(b"\n"))
        assert p.stdout == "hello\n"
        # execo does not close an fd it did not open
        os.fstat(wfd)
    finally:
        os.close(rfd)
        os.close(wfd)


def test_int_fd_tempfile_binary_exact(tmp_path):
    data = bytes(range(256)) * 4000  # ~1 MB, with non-utf-8 bytes
    path = tmp_path / "src.bin"
    path.write_bytes(data)
    fd, name = tempfile.mkstemp(dir=tmp_path)
    try:
        p = finish(Process(("cat", str(path)), stdout_handlers=[fd]).run(20))
        assert p.finished_ok
        os.fstat(fd)  # still open
    finally:
        os.close(fd)
    with open(name, "rb") as f:
        assert f.read() == data


# ---------------------------------------------------------- file object targets


def test_file_object_text(tmp_path):
    path = tmp_path / "out.txt"
    with open(path, "w", encoding="utf-8") as f:
        p = finish(Process(("sh", "-c", "echo 'héllo'; echo world"), stdout_handlers=[f]).run(10))
        assert not f.closed  # not opened by execo, not closed by it
        f.flush()
        assert path.read_text(encoding="utf-8") == "héllo\nworld\n"
    assert p.stdout == "héllo\nworld\n"


def test_file_object_binary(tmp_path):
    path = tmp_path / "out.bin"
    data = b"\x00\x01\xff\xfe binary \xc3\x28\n"
    with open(path, "wb") as f:
        finish(Process((PY, "-c", "import sys; sys.stdout.buffer.write(%r)" % (data,)), stdout_handlers=[f]).run(10))
        assert not f.closed
        f.flush()
        assert path.read_bytes() == data


def test_file_object_stderr(tmp_path):
    path = tmp_path / "err.txt"
    with open(path, "w") as f:
        finish(Process(("sh", "-c", "echo out; echo oops >&2"), stderr_handlers=[f]).run(10))
        f.flush()
        assert path.read_text() == "oops\n"


def test_named_temporary_file_text_mode():
    """A text-mode file object from tempfile (a file-object wrapper) gets str."""
    with tempfile.NamedTemporaryFile("w", encoding="utf-8") as f:
        p = finish(Process(("sh", "-c", "echo 'tmp héllo'"), stdout_handlers=[f]).run(10))
        f.flush()
        with open(f.name, encoding="utf-8") as g:
            assert g.read() == "tmp héllo\n"
    assert p.finished_ok


def test_named_temporary_file_binary_mode():
    with tempfile.NamedTemporaryFile("wb") as f:
        finish(Process(("sh", "-c", "printf 'bin\\377'"), stdout_handlers=[f]).run(10))
        f.flush()
        with open(f.name, "rb") as g:
            assert g.read() == b"bin\xff"


def test_chunks_decode_as_one_incremental_decoder_at_every_cut():
    """What read() handlers get, chunk by chunk: the text an incremental
    decoder of the locale's encoding gives for the same chunks (a
    character cut between two reads decoded whole, in the later chunk;
    bad bytes escaped), whether or not execo decodes a chunk without it
    (it may when the chunk ends with an ASCII byte and nothing is carried
    over)."""
    import codecs

    from execo.output_stream import ENCODING, OutputStream

    data = "é€😀 ab\n".encode() + b"\xff\xc3(\n\xe2\x82" + "z€".encode() + b"\xf0\x9f"
    for i in range(len(data) + 1):
        for j in range(i, len(data) + 1):
            out = OutputStream(STDOUT)
            out.reset(True)
            ref = codecs.getincrementaldecoder(ENCODING)("surrogateescape")
            chunks = (data[:i], data[i:j], data[j:])
            for k, chunk in enumerate(chunks):
                final = k == len(chunks) - 1
                assert out.decode(chunk, final) == ref.decode(chunk, final), (i, j, k)


def test_text_file_object_gets_trailing_incomplete_bytes():
    """Output ending with an incomplete utf-8 sequence: every byte reaches a
    text file object (surrogateescape), as it does p.stdout."""
    import io

    data = b"abc\xe2\x82"
    buf = io.StringIO()
    p = finish(Process((PY, "-c", "import sys; sys.stdout.buffer.write(%r)" % (data,)), stdout_handlers=[buf]).run(10))
    assert p.stdout.encode(ENC, "surrogateescape") == data
    assert buf.getvalue().encode(ENC, "surrogateescape") == data


def test_file_like_object_with_write():
    import io

    buf = io.StringIO()
    finish(Process("echo into stringio", stdout_handlers=[buf]).run(10))
    assert buf.getvalue() == "into stringio\n"
    bbuf = io.BytesIO()
    finish(Process("echo into bytesio", stdout_handlers=[bbuf]).run(10))
    assert bbuf.getvalue() == b"into bytesio\n"


# ------------------------------------------------------------- filename targets


def _fds_pointing_to(path):
    path = os.path.realpath(str(path))
    res = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            if os.readlink("/proc/self/fd/%s" % fd) == path:
                res.append(fd)
        except OSError:
            pass
    return res


def test_filename_target_written_and_closed(tmp_path):
    out = tmp_path / "stdout.log"
    err = tmp_path / "stderr.log"
    out.write_text("previous content that is much longer than the new output\n" * 10)
    p = Process(("sh", "-c", "echo to-out; echo to-err >&2"), stdout_handlers=[str(out)], stderr_handlers=[str(err)])
    finish(p.run(10))
    assert p.finished_ok
    assert out.read_text() == "to-out\n"  # opened in write mode: truncated
    assert err.read_text() == "to-err\n"
    assert _fds_pointing_to(out) == [] and _fds_pointing_to(err) == []


def test_filename_target_large_binary(tmp_path):
    out = tmp_path / "big.bin"
    data = bytes(range(256)) * 20000  # 5 MB
    src = tmp_path / "src.bin"
    src.write_bytes(data)
    finish(Process(("cat", str(src)), stdout_handlers=[str(out)]).run(20))
    assert out.read_bytes() == data
    assert _fds_pointing_to(out) == []


def test_filename_target_closed_after_kill(tmp_path):
    out = tmp_path / "killed.log"
    p = Process(("sh", "-c", "echo before; exec sleep 30"), stdout_handlers=[str(out)]).start()
    deadline = time.monotonic() + 10
    while p.stdout != "before\n" and time.monotonic() < deadline:
        time.sleep(0.02)
    p.kill()
    finish(p)
    assert out.read_text() == "before\n"
    assert _fds_pointing_to(out) == []


def test_all_target_kinds_together(tmp_path):
    rec = ReadRecorder()
    lines = LineRecorder()
    fname = tmp_path / "f.txt"
    fd, tname = tempfile.mkstemp(dir=tmp_path)
    fobj = open(tmp_path / "o.txt", "w")
    try:
        p = finish(
            Process(("sh", "-c", "echo one; echo two"), stdout_handlers=[rec, lines, str(fname), fd, fobj]).run(10)
        )
        fobj.flush()
    finally:
        os.close(fd)
        fobj.close()
    expected = "one\ntwo\n"
    assert p.stdout == expected
    assert rec.data() == expected
    assert lines.lines() == ["one\n", "two\n"]
    assert fname.read_text() == expected
    assert open(tname).read() == expected
    assert (tmp_path / "o.txt").read_text() == expected


# ---------------------------------------------------------- lifecycle handlers


def test_lifecycle_handlers_called_once_each():
    lh = LifecycleRecorder()
    p = Process("echo x", lifecycle_handlers=[lh])
    finish(p.run(10))
    assert [c[0] for c in lh.calls] == ["start", "end"]
    assert all(c[1] is p for c in lh.calls)
    assert lh.calls[0][2] is True  # started when start is notified
    assert lh.calls[1][2] is True  # ended when end is notified
    p.reset()
    assert [c[0] for c in lh.calls] == ["start", "end", "reset"]
    assert lh.calls[2][1] is p
    finish(p.run(10))
    assert [c[0] for c in lh.calls] == ["start", "end", "reset", "start", "end"]


def test_lifecycle_end_sees_final_state():
    seen = {}

    class H(ProcessLifecycleHandler):
        def end(self, process):
            seen["exit_code"] = process.exit_code
            seen["stdout"] = process.stdout
            seen["ended"] = process.ended

    finish(Process(("sh", "-c", "echo final; exit 4"), nolog_exit_code=True, lifecycle_handlers=[H()]).run(10))
    assert seen == {"exit_code": 4, "stdout": "final\n", "ended": True}


def test_lifecycle_handlers_on_error_process():
    lh = LifecycleRecorder()
    p = finish(Process("/nonexistent/cmd", nolog_error=True, lifecycle_handlers=[lh]).run(10))
    assert p.error
    assert [c[0] for c in lh.calls] == ["start", "end"]
    assert all(c[1] is p for c in lh.calls)


def test_lifecycle_handlers_on_kill_and_reset_running():
    lh = LifecycleRecorder()
    p = Process("sleep 30", lifecycle_handlers=[lh]).start()
    p.reset()  # kills, waits, then resets
    assert [c[0] for c in lh.calls] == ["start", "end", "reset"]


def test_several_lifecycle_handlers_and_shared_handler():
    a, b = LifecycleRecorder(), LifecycleRecorder()
    p1 = Process("true", lifecycle_handlers=[a, b])
    p2 = Process("true", lifecycle_handlers=[a])
    p1.start()
    p2.start()
    finish(p1)
    finish(p2)
    assert sorted((c[0], id(c[1])) for c in a.calls) == sorted(
        [("start", id(p1)), ("end", id(p1)), ("start", id(p2)), ("end", id(p2))]
    )
    assert [c[0] for c in b.calls] == ["start", "end"]


def test_lifecycle_handler_added_after_construction():
    lh = LifecycleRecorder()
    p = Process("true")
    p.lifecycle_handlers.append(lh)
    finish(p.run(10))
    assert [c[0] for c in lh.calls] == ["start", "end"]


def test_output_handler_added_after_construction():
    h = ReadRecorder()
    p = Process("echo late")
    p.stdout_handlers.append(h)
    finish(p.run(10))
    assert h.data() == "late\n"


# ---------------------------------------------------- exceptions in handlers


class Boom(Exception):
    pass


def test_exception_in_output_handler_is_logged_and_others_go_on(execo_log):
    class Bad(ProcessOutputHandler):
        def read(self, process, stream, string, eof, error):
            raise Boom("bad output handler")

    class BadLine(ProcessOutputHandler):
        def read_line(self, process, stream, string, eof, error):
            raise Boom("bad line handler")

    good = ReadRecorder()
    goodlines = LineRecorder()
    p = Process(("sh", "-c", "echo a; echo b"), stdout_handlers=[Bad(), BadLine(), good, goodlines])
    other = Process("echo other")
    p.start()
    other.start()
    finish(p)
    finish(other)
    assert p.finished_ok
    assert p.stdout == "a\nb\n"
    assert good.data() == "a\nb\n"
    assert goodlines.lines() == ["a\n", "b\n"]
    assert other.finished_ok and other.stdout == "other\n"
    text = execo_log.text()
    assert "bad output handler" in text
    assert "bad line handler" in text
    # the reactor still works afterwards
    assert finish(Process("echo still").run(10)).stdout == "still\n"


def test_exception_in_lifecycle_handler_is_logged_and_others_go_on(execo_log):
    class BadLC(ProcessLifecycleHandler):
        def start(self, process):
            raise Boom("bad start handler")

        def end(self, process):
            raise Boom("bad end handler")

        def reset(self, process):
            raise Boom("bad reset handler")

    good = LifecycleRecorder()
    p = Process("echo x", lifecycle_handlers=[BadLC(), good])
    finish(p.run(10))
    assert p.finished_ok and p.stdout == "x\n"
    assert [c[0] for c in good.calls] == ["start", "end"]
    p.reset()
    assert [c[0] for c in good.calls] == ["start", "end", "reset"]
    text = execo_log.text()
    assert "bad start handler" in text and "bad end handler" in text
    assert finish(Process("echo still").run(10)).finished_ok


def test_slow_handler_does_not_lose_data():
    class Slow(ProcessOutputHandler):
        def __init__(self):
            super().__init__()
            self.parts = []

        def read(self, process, stream, string, eof, error):
            time.sleep(0.01)
            self.parts.append(string)

    h = Slow()
    p = finish(Process((PY, "-c", "import sys\nfor i in range(20000): print(i)"), stdout_handlers=[h]).run(30))
    expected = "".join("%d\n" % i for i in range(20000))
    assert "".join(h.parts) == expected
    assert p.stdout == expected


def test_handlers_with_pty():
    h = LineRecorder()
    e = ReadRecorder()
    finish(
        Process(("sh", "-c", "echo on-tty; echo on-err >&2"), pty=True, stdout_handlers=[h], stderr_handlers=[e]).run(
            10
        )
    )
    assert [l.rstrip("\r\n") for l in h.lines()] == ["on-tty"]
    assert e.data() == "on-err\n"


def test_unwritable_filename_handler_raises_at_start(tmp_path):
    p = Process("echo hi", shell=True, stdout_handlers=[str(tmp_path / "missing-dir" / "out")])
    with pytest.raises(OSError):
        p.start()
    assert not p.started


def test_handler_added_to_running_process_gets_later_output():
    """Output is collected in C while no handler listens; adding one to the
    running process's list turns delivery on for what comes next."""
    got = []

    class Lines(ProcessOutputHandler):
        def read_line(self, process, stream, string, eof, error):
            got.append(string)

    p = Process(("sh", "-c", "echo early; read x; echo late"))
    p.start()
    deadline = time.time() + 10
    while "early" not in p.stdout and time.time() < deadline:  # no expect(): no handler yet
        time.sleep(0.01)
    assert p.stdout == "early\n"
    p.stdout_handlers.append(Lines())
    p.write("go\n")
    p.wait(10)
    assert p.ended and p.ok
    assert got == ["late\n"]
    assert p.stdout == "early\nlate\n"


def test_the_call_lock_of_a_thread_safe_handler_takes_nothing_and_lets_errors_through():
    from execo.handlers import _call_lock

    class Safe(ProcessOutputHandler):
        _execo_thread_safe = True

    lock = _call_lock(Safe())
    with lock:
        with lock:  # (no lock held: nested use is fine)
            pass
    with pytest.raises(KeyError):
        with lock:
            raise KeyError("raised inside")
