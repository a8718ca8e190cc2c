"""Hostile input and hostile handlers (issue 14): output full of odd line
separators cut at awkward places, catastrophic regexes given to expect(),
wait() / expect() called from a process's own handlers."""

import asyncio
import re
import sys
import threading
import time

import pytest

from execo import Process, ProcessOutputHandler
from execo import _reactor

from helpers import finish


# ------------------------------------------------------------ line splitting

# characters str.splitlines() splits on but a line does not end with
ODD_SEPARATORS = "\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"


def split_on_newline(text):
    """The expected lines: after each \\n and nowhere else."""
    return re.findall(r"[^\n]*\n|[^\n]+\Z", text)


def hostile_payload():
    """Lines holding every odd separator, ending in \\r\\n (plus a few
    plain \\n and a last line without newline)."""
    lines = ["%d%sx%s\r\n" % (i, c, c) for i, c in enumerate(ODD_SEPARATORS)]
    lines += ["\r\r\n", "\n", "all:%s\r\n" % (ODD_SEPARATORS,), "plain\n", "last\r"]
    return "".join(lines)


def cut_points(data):
    """Byte offsets to cut data at: between \\r and \\n, inside each
    multi-byte character, around each separator."""
    cuts = set()
    for i in range(1, len(data)):
        if data[i - 1:i] == b"\r" and data[i:i + 1] == b"\n":
            cuts.add(i)
        if data[i] & 0xC0 == 0x80:          # a UTF-8 continuation byte
            cuts.add(i)
        if data[i:i + 1] in (b"\x0b", b"\x0c", b"\x1c", b"\x1d", b"\x1e", b"\r"):
            cuts.update((i, i + 1))
    return sorted(c for c in cuts if 0 < c < len(data))


WRITER = r"""
import sys, time
data = sys.stdin.buffer.read()
cuts = [int(c) for c in sys.argv[1].split(",")]
prev = 0
for c in cuts + [len(data)]:
    sys.stdout.buffer.write(data[prev:c])
    sys.stdout.buffer.flush()
    prev = c
    time.sleep(0.005)
"""


class LineRecorder(ProcessOutputHandler):
    def __init__(self):
        super().__init__()
        self.lines = []

    def read_line(self, process, stream, string, eof, error):
        self.lines.append(string)


class ChunkRecorder(ProcessOutputHandler):
    """Overrides read (gets decoded chunks) and calls the base read, the
    Python side of the line splitter."""
    def __init__(self):
        super().__init__()
        self.chunks = []
        self.lines = []

    def read(self, process, stream, string, eof, error):
        self.chunks.append(string)
        super().read(process, stream, string, eof, error)

    def read_line(self, process, stream, string, eof, error):
        self.lines.append(string)


def test_line_splitter_text_rule_at_every_cut():
    """LineSplitter.feed_text: the same lines whatever the cuts."""
    text = hostile_payload()
    expected = split_on_newline(text)
    assert len(expected) < len(text.splitlines())   # the rule matters here
    for cut in range(len(text) + 1):
        s = _reactor.LineSplitter()
        got = s.feed_text(text[:cut]) + s.feed_text(text[cut:])
        last = s.flush()
        assert got + ([last] if last else []) == expected, cut
    s = _reactor.LineSplitter()
    got = [line for ch in text for line in s.feed_text(ch)]
    assert got + [s.flush()] == expected


def test_lines_async_matches_read_line_on_hostile_chunks():
    """Odd separators inside lines, \\r\\n endings, writes cut between \\r
    and \\n and inside multi-byte characters: lines_async(), a read_line()
    handler and the base read() all give the lines ending at \\n."""
    text = hostile_payload()
    data = text.encode("utf-8")
    expected = split_on_newline(text)
    cuts = cut_points(data)
    assert len(cuts) > 20
    rec, chunks = LineRecorder(), ChunkRecorder()

    async def main():
        p = Process((sys.executable, "-c", WRITER, ",".join(map(str, cuts))),
                    stdout_handlers=[rec, chunks]).start()
        p.write(data)
        p.close_stdin()
        got = [line async for line in p.lines_async()]
        await p.wait_async(60)
        return p, got

    p, got = asyncio.run(main())
    finish(p)
    assert p.ok, p.dump()
    assert p.stdout == text
    assert len(chunks.chunks) > 5           # it came in pieces
    assert rec.lines == expected
    assert chunks.lines == expected
    assert got == expected


def test_lines_async_started_late_matches_read_line():
    """lines_async() attached while the output flows (replaying what was
    collected, then the rest) still cuts at the same places."""
    text = hostile_payload() * 20
    data = text.encode("utf-8")
    cuts = [c for c in cut_points(data)][::3]
    rec = LineRecorder()

    async def main():
        p = Process((sys.executable, "-c", WRITER, ",".join(map(str, cuts))),
                    stdout_handlers=[rec]).start()
        p.write(data)
        p.close_stdin()
        while len(p.stdout) < len(text) // 3:
            await asyncio.sleep(0.01)
        got = [line async for line in p.lines_async()]
        await p.wait_async(60)
        return p, got

    p, got = asyncio.run(main())
    finish(p)
    assert p.ok, p.dump()
    assert got == rec.lines == split_on_newline(text)


def test_lines_async_through_a_pty_counts_every_line():
    """seq through a pty: every line ends in \\r\\n and reads end between
    \\r and \\n; exactly one line per number (it gave 300,008-300,049)."""
    n = 300000
    rec = LineRecorder()

    async def main():
        p = Process(("seq", "1", str(n)), pty=True, stdout_handlers=[rec]).start()
        count = 0
        bad = []
        async for line in p.lines_async():
            count += 1
            if line != "%d\r\n" % count and len(bad) < 5:
                bad.append((count, line))
        await p.wait_async(120)
        return p, count, bad

    p, count, bad = asyncio.run(main())
    finish(p)
    assert p.ok, p.dump()
    assert bad == []
    assert count == n
    assert len(rec.lines) == n and rec.lines[-1] == "%d\r\n" % n
