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


# ------------------------------------------- waiting from one's own handlers

from execo import (ExpectOutputHandler, Local, ParallelActions, ProcessLifecycleHandler,  # noqa: E402
                   wait_all_actions, wait_any_actions)
from execo.action import ActionLifecycleHandler  # noqa: E402
from execo.exception import DeadlockError  # noqa: E402

# a bounded wait, so that without the check the test fails instead of hanging
HANDLER_WAIT = 20


def outcome(call):
    """What call() did: ('returned', value) or ('raised', exception)."""
    try:
        return ("returned", call())
    except Exception as e:
        return ("raised", e)


class OnFirstLine(ProcessOutputHandler):
    """Runs action(process) on the first line it gets, records the outcome."""
    def __init__(self, action):
        super().__init__()
        self.action = action
        self.outcomes = []

    def read_line(self, process, stream, string, eof, error):
        if not self.outcomes:
            self.outcomes.append(outcome(lambda: self.action(process)))


class OnLifecycle(ProcessLifecycleHandler):
    def __init__(self, what, action):
        self.what = what
        self.action = action
        self.outcomes = []

    def start(self, process):
        if self.what == "start":
            self.outcomes.append(outcome(lambda: self.action(process)))

    def end(self, process):
        if self.what == "end":
            self.outcomes.append(outcome(lambda: self.action(process)))


def assert_deadlock_error(outcomes):
    assert len(outcomes) == 1, outcomes
    kind, value = outcomes[0]
    assert kind == "raised" and isinstance(value, DeadlockError), outcomes
    assert isinstance(value, RuntimeError)
    assert "handler" in str(value)


def test_wait_from_own_output_handler_raises():
    h = OnFirstLine(lambda p: p.wait(HANDLER_WAIT))
    p = finish(Process("echo one; echo two", shell=True, stdout_handlers=[h]).start(), 60)
    assert_deadlock_error(h.outcomes)
    assert p.ok and p.stdout == "one\ntwo\n"


def test_wait_from_own_start_handler_raises():
    h = OnLifecycle("start", lambda p: p.wait(HANDLER_WAIT))
    p = finish(Process("echo x", lifecycle_handlers=[h]).start(), 60)
    assert_deadlock_error(h.outcomes)
    assert p.ok


def test_wait_from_own_end_handler_returns_at_once():
    """In the end handler the process has ended: wait() returns it (it used
    to wait for the end of the very handler that called it)."""
    h = OnLifecycle("end", lambda p: (p.wait(), p.ended, p.exit_code))
    p = Process("true", lifecycle_handlers=[h]).start()
    finish(p, 60)
    assert h.outcomes == [("returned", (p, True, 0))]


def test_wait_from_own_expect_callback_raises():
    outcomes = []
    handler = ExpectOutputHandler()
    handler.expect("ready", callback=lambda p, s, i, mo: outcomes.append(
        outcome(lambda: p.wait(HANDLER_WAIT))))
    p = finish(Process("echo ready; sleep 0.2", shell=True, stdout_handlers=[handler]).start(), 60)
    assert_deadlock_error(outcomes)
    assert p.ok


def test_expect_from_own_handler_raises():
    h = OnFirstLine(lambda p: p.expect("never", timeout=HANDLER_WAIT))
    p = finish(Process("echo one; sleep 0.2; echo two", shell=True, stdout_handlers=[h]).start(), 60)
    assert_deadlock_error(h.outcomes)
    assert p.ok and not p.expect_fail


def test_wait_and_expect_of_another_process_from_a_handler_work():
    other = Process("sleep 0.3; echo other done", shell=True).start()
    h = OnFirstLine(lambda p: (other.expect("other (done)", timeout=30)[1].group(1),
                               other.wait(30).ended))
    p = finish(Process("echo go", stdout_handlers=[h]).start(), 60)
    assert h.outcomes == [("returned", ("done", True))]
    assert p.ok and other.ok


def test_action_wait_from_a_handler_of_its_process_raises():
    h = OnFirstLine(lambda p: a.wait(HANDLER_WAIT))
    a = Local("echo one; echo two", process_args={"shell": True, "stdout_handlers": [h]})
    finish(a.start(), 60)
    assert_deadlock_error(h.outcomes)
    assert a.ok


def test_action_expect_from_a_handler_of_its_process_raises():
    h = OnFirstLine(lambda p: a.expect("never", timeout=HANDLER_WAIT))
    a = Local("echo one; sleep 0.2; echo two", process_args={"shell": True, "stdout_handlers": [h]})
    finish(a.start(), 60)
    assert_deadlock_error(h.outcomes)
    assert a.ok


def test_container_and_wait_all_from_a_handler_of_a_process_inside_raise():
    h = OnFirstLine(lambda p: (outcome(lambda: both.wait(HANDLER_WAIT)),
                               outcome(lambda: wait_all_actions([inner, other], HANDLER_WAIT)),
                               outcome(lambda: wait_any_actions([inner], HANDLER_WAIT)),
                               wait_any_actions([inner, other], 30)))
    inner = Local("echo one", process_args={"stdout_handlers": [h]})
    other = Local("sleep 0.2")
    both = ParallelActions([inner, other])
    finish(both.start(), 60)
    assert len(h.outcomes) == 1 and h.outcomes[0][0] == "returned", h.outcomes
    waited, all_, any_, any_other = h.outcomes[0][1]
    for kind, value in (waited, all_, any_):
        assert kind == "raised" and isinstance(value, DeadlockError), (kind, value)
    # another action may end: waiting for any of them is fine
    assert any_other == [other]
    assert both.ok


def test_action_wait_from_its_own_lifecycle_handlers():
    class Both(ActionLifecycleHandler):
        def __init__(self):
            self.outcomes = {}

        def start(self, action):
            self.outcomes["start"] = outcome(lambda: action.wait(HANDLER_WAIT))

        def end(self, action):
            self.outcomes["end"] = outcome(lambda: (action.wait().ended,
                                                    wait_all_actions([action]) == [action]))

    h = Both()
    a = Local("true", lifecycle_handlers=[h])
    finish(a.start(), 60)
    kind, value = h.outcomes["start"]
    assert kind == "raised" and isinstance(value, DeadlockError), h.outcomes
    assert h.outcomes["end"] == ("returned", (True, True))


def test_action_wait_from_a_handler_of_another_action_works():
    other = Local("sleep 0.3")
    h = OnFirstLine(lambda p: other.wait(30).ended)
    other.start()
    a = finish(Local("echo go", process_args={"stdout_handlers": [h]}).start(), 60)
    assert h.outcomes == [("returned", True)]
    assert a.ok and other.ok
