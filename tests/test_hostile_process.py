"""Hostile input and hostile handlers (issue 14): output full of odd line
separators cut at awkward places, catastrophic regexes given to expect(),
wait() / expect() called from a process's own handlers."""

import asyncio
import random
import re
import sys
import threading
import time

import pytest
from helpers import finish, wait_until

from execo import (
    ExpectOutputHandler,
    Local,
    ParallelActions,
    Process,
    ProcessLifecycleHandler,
    ProcessOutputHandler,
    _reactor,
    configuration,
    regex_search,
    wait_all_actions,
    wait_any_actions,
)
from execo.action import ActionLifecycleHandler
from execo.exception import DeadlockError

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
        if data[i - 1 : i] == b"\r" and data[i : i + 1] == b"\n":
            cuts.add(i)
        if data[i] & 0xC0 == 0x80:  # a UTF-8 continuation byte
            cuts.add(i)
        if data[i : i + 1] in (b"\x0b", b"\x0c", b"\x1c", b"\x1d", b"\x1e", b"\r"):
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
    assert len(expected) < len(text.splitlines())  # the rule matters here
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
        p = Process((sys.executable, "-c", WRITER, ",".join(map(str, cuts))), stdout_handlers=[rec, chunks]).start()
        p.write(data)
        p.close_stdin()
        got = [line async for line in p.lines_async()]
        await p.wait_async(60)
        return p, got

    p, got = asyncio.run(main())
    finish(p)
    assert p.ok, p.dump()
    assert p.stdout == text
    assert len(chunks.chunks) > 5  # it came in pieces
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
        p = Process((sys.executable, "-c", WRITER, ",".join(map(str, cuts))), stdout_handlers=[rec]).start()
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
    handler.expect("ready", callback=lambda p, s, i, mo: outcomes.append(outcome(lambda: p.wait(HANDLER_WAIT))))
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
    h = OnFirstLine(lambda p: (other.expect("other (done)", timeout=30)[1].group(1), other.wait(30).ended))
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
    h = OnFirstLine(
        lambda p: (
            outcome(lambda: both.wait(HANDLER_WAIT)),
            outcome(lambda: wait_all_actions([inner, other], HANDLER_WAIT)),
            outcome(lambda: wait_any_actions([inner], HANDLER_WAIT)),
            wait_any_actions([inner, other], 30),
        )
    )
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
            self.outcomes["end"] = outcome(lambda: (action.wait().ended, wait_all_actions([action]) == [action]))

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


# ------------------------------------------------- catastrophic expect regexes


@pytest.fixture
def search_timeout():
    """Set configuration['expect_search_timeout'] for a test."""
    old = configuration.get("expect_search_timeout")

    def set_(value):
        configuration["expect_search_timeout"] = value

    yield set_
    configuration["expect_search_timeout"] = old


def printer(text):
    """A process printing text (a line) then waiting to be killed."""
    return Process(
        (sys.executable, "-c", "import sys, time; print(%r, flush=True); time.sleep(300)" % (text,)),
        ignore_exit_code=True,
        nolog_exit_code=True,
        nolog_expect_fail=True,
    ).start()


class Counter(object):
    """A thread counting while the interpreter lets it run."""

    def __init__(self):
        self.count = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self.stop.wait(0.005):
            self.count += 1


def printed(p):
    """Wait until p printed its line (without an expect, which would
    consume it)."""
    assert wait_until(lambda: p.stdout.endswith("\n"), 60), p.dump()


def timed_expect(p, regex, timeout, counter):
    """(result, seconds, counts) of p.expect, once p printed its line."""
    printed(p)
    c0, t0 = counter.count, time.monotonic()
    r = p.expect(regex, timeout=timeout)
    return r, time.monotonic() - t0, counter.count - c0


# (re would take some 30 s on each of these lines, holding the GIL: long
# enough to fail the bounds below, short enough not to hang the run)
@pytest.mark.parametrize(
    "regex,line", [(r"^(a+)+$", "a" * 29 + "b"), (r"^(a|a)+$", "a" * 28 + "b"), (r"^(a|aa)+$", "a" * 41 + "b")]
)
def test_catastrophic_expect_honours_its_timeout(regex, line):
    """The issue's example and two patterns regex cannot cut short either:
    expect() returns (None, None) at its timeout, the interpreter keeps
    running (another thread counts, another process's expect succeeds),
    measured against a harmless expect with the same timeout."""
    timeout = 1.0
    counter = Counter()
    try:
        with printer("zzz") as base:
            r0, base_secs, base_counts = timed_expect(base, r"^never$", timeout, counter)
        assert r0 == (None, None)
        other_result = []

        def other():
            with Process("sleep 0.2; echo other done", shell=True) as q:
                q.start()
                other_result.append(q.expect(r"other (\w+)", timeout=60)[1].group(1))

        with printer(line) as p:
            t = threading.Thread(target=other)
            t.start()
            r, secs, counts = timed_expect(p, regex, timeout, counter)
            other_done_in_time = bool(other_result)
            t.join(60)
            assert r == (None, None)
            assert p.expect_fail
    finally:
        counter.stop.set()
    assert secs <= base_secs + timeout, (secs, base_secs)
    assert counts >= base_counts / 4, (counts, base_counts)
    assert other_result == ["done"] and other_done_in_time


def test_catastrophic_expect_without_timeout_is_given_up(search_timeout, execo_log):
    """No expect timeout: configuration['expect_search_timeout'] bounds
    the search (give or take the regex module's CPU-time clock, hence the
    factor); the expect fails as at eof, with a warning; the process
    itself is not held up (it ends and is waited for)."""
    cap = 0.5
    search_timeout(cap)
    with printer("a" * 41 + "b") as p:
        printed(p)
        result = []
        t = threading.Thread(target=lambda: result.append(p.expect(r"^(a|aa)+$", timeout=None)))
        t.start()
        t.join(10 * cap)
        returned = not t.is_alive()
        p.kill()
        finish(p, 60)
        t.join(120)
    assert returned
    assert result == [(None, None)]
    assert p.expect_fail
    assert any("given up" in m and "(a|aa)" in m for m in execo_log.messages()), execo_log.text()


def test_catastrophic_pattern_on_an_expect_handler_callback(search_timeout):
    """ExpectOutputHandler (no timeout of its own) on a catastrophic
    pattern: the callback gets (None, None) once the search is given up,
    and the process's later handlers and end still come, within the
    bound of the search (measured against a harmless pattern)."""
    cap = 0.5
    search_timeout(cap)

    def run(regex):
        got = []
        handler = ExpectOutputHandler()
        handler.expect(regex, callback=lambda p, s, i, mo: got.append((i, mo)))
        rec = LineRecorder()
        t0 = time.monotonic()
        p = Process(
            (sys.executable, "-c", "print(%r); print('after')" % ("a" * 41 + "b",)), stdout_handlers=[handler, rec]
        )
        finish(p.start(), 120)
        return p, got, rec, time.monotonic() - t0

    _, got0, _, base = run(r"^never$")
    assert got0 == [(None, None)]
    p, got, rec, secs = run(r"^(a|aa)+$")
    assert got == [(None, None)]
    assert rec.lines == ["a" * 41 + "b\n", "after\n"]
    assert p.ok
    assert secs <= base + 10 * cap, (secs, base)


def test_other_processes_flow_during_a_long_search():
    """While one process's expect grinds through a catastrophic pattern,
    the reactor reads the others and their handlers run: as fast as
    without the search, give or take the expect's timeout."""
    timeout = 3.0

    def run_seq():
        """A process printing 50 lines over about a second, read by a
        line handler: (process, handler, seconds to its end)."""
        rec = LineRecorder()
        t0 = time.monotonic()
        q = finish(
            Process(
                (
                    sys.executable,
                    "-c",
                    "import time\nfor i in range(1, 51):\n    print(i, flush=True)\n    time.sleep(0.02)",
                ),
                stdout_handlers=[rec],
            ).start(),
            120,
        )
        return q, rec, time.monotonic() - t0

    _, _, base = run_seq()
    with printer("a" * 41 + "b") as p:
        printed(p)
        result = []
        t = threading.Thread(target=lambda: result.append(p.expect(r"^(a|aa)+$", timeout=timeout)))
        t0 = time.monotonic()
        t.start()
        q, rec, _ = run_seq()
        during = time.monotonic() - t0
        still_searching = t.is_alive()
        t.join(120)
    assert q.ok and rec.lines == ["%d\n" % i for i in range(1, 51)]
    assert during <= base + timeout, (during, base)
    assert still_searching
    assert result == [(None, None)]


def test_expect_with_repetitions_still_matches_like_re():
    """Patterns searched through regex: the same match as re, through a
    real process, with a match object that behaves like re's."""
    pattern = re.compile(r"(?P<num>\d+) (\w+\s?)+ (done|failed)", re.MULTILINE)
    line = "x 42 items were copied done"
    with printer(line) as p:
        r = p.expect([r"never", pattern], timeout=30)
    idx, mo = r
    assert idx == 1
    expected = pattern.search(mo.string)
    assert expected is not None
    assert mo.string.startswith(line)
    assert isinstance(mo, re.Match)
    assert mo.re is pattern
    for g in (0, 1, 2, 3, "num"):
        assert mo.group(g) == expected.group(g)
        assert mo[g] == expected[g]
        assert mo.span(g) == expected.span(g)
        assert (mo.start(g), mo.end(g)) == (expected.start(g), expected.end(g))
    assert mo.group(1, "num") == expected.group(1, "num")
    assert mo.groups() == expected.groups()
    assert mo.groupdict() == expected.groupdict() == {"num": "42"}
    assert (mo.lastindex, mo.lastgroup) == (expected.lastindex, expected.lastgroup)
    assert (mo.pos, mo.endpos, mo.regs) == (expected.pos, expected.endpos, expected.regs)
    assert mo.expand(r"\g<num>:\3") == expected.expand(r"\g<num>:\3") == "42:done"


def test_bounded_patterns_keep_re_and_risky_ones_go_to_regex():
    bounded = [
        r"THE_MARKER",
        r"^\$ $",
        r"login: |password:",
        r"(?i)error [0-9]{3}",
        r"a?b?c?",
        r"\d{4}-\d{2}-\d{2}",
        r"(a|b|c|d){6}",
    ]
    risky = [r"^(a+)+$", r"(\d+) bytes", r".*done", r"x{2,5}", r"(ab|cd|ef|gh){6}", "a?" * 30 + "a" * 30]
    for r in bounded:
        assert regex_search.Searcher(re.compile(r)).bounded, r
    for r in risky:
        assert not regex_search.Searcher(re.compile(r)).bounded, r


def test_literal_prefix_is_a_prefix_of_every_match():
    """expect() looks for a pattern's literal prefix (memmem) before
    running re: over random patterns, every match starts with the prefix
    it reads off, and the searcher finds exactly re's match."""
    tokens = ["a", "b", "ab", "é", "€", ".", "*", "+", "?", "*?", "{2}", "{1,2}", "{", "}", "(", ")", "|"]
    tokens += ["(?#c)", "\\d", "[ab]", "^", "$", "(?:", "(?=a)", "(?<=a)", "(?!a)", "]", "\\b", "(?i)", "(?x)"]
    tokens += [" ", "#", "(?i:a)", "\\A", "\\Z", "\\.", "\\(", "a\\"]
    rng = random.Random(18)
    with_prefix = matched = 0
    for _ in range(40000):
        text = "".join(rng.choice(tokens) for _ in range(rng.randint(1, 6)))
        try:
            pattern = re.compile(text)
        except re.error:
            continue
        prefix = regex_search.literal_prefix(pattern)
        searcher = regex_search.Searcher(pattern)
        with_prefix += bool(prefix)
        for _ in range(3):
            s = "".join(rng.choice("ab é€\n") for _ in range(rng.randint(0, 12)))
            expected, got = pattern.search(s), searcher.search(s)
            assert (expected is None) == (got is None), (text, s)
            if expected is not None:
                matched += 1
                assert got.span() == expected.span() and got.pos == expected.pos, (text, s)
                assert s.startswith(prefix, expected.start()), (text, prefix, s)
    assert with_prefix > 1000 and matched > 10000  # the draw exercised both cases
    for text, prefix in [
        ("THE_MARKER_4242", "THE_MARKER_4242"),
        ("connected with", "connected with"),
        ("abc*", "ab"),
        ("ab{2}", "a"),
        ("a(?#x)*", ""),
        ("login: |password:", ""),
        ("(?i)error", ""),
        ("^\\$ $", ""),
    ]:
        assert regex_search.literal_prefix(re.compile(text)) == prefix, text
    assert regex_search.literal_prefix(re.compile("Marker", re.IGNORECASE)) == ""
    assert regex_search.literal_prefix(re.compile("Mar ker", re.VERBOSE)) == ""


def _match_facts(mo):
    """Everything a script may read off a match (and the errors it gets)."""

    def outcome(f, *a):
        try:
            return ("value", f(*a))
        except Exception as e:
            return ("error", type(e), str(e))

    return [
        mo.group(),
        mo.group(0),
        mo[0],
        mo.group(0, 0),
        mo.span(),
        mo.start(),
        mo.end(),
        mo.groups(),
        mo.groups("d"),
        mo.groupdict(),
        mo.string,
        mo.pos,
        mo.endpos,
        mo.lastindex,
        mo.lastgroup,
        mo.regs,
        mo.re.pattern,
        mo.re.flags,
        mo.expand(r"[\g<0>]"),
        repr(mo),
        bool(mo),
        isinstance(mo, re.Match),
        outcome(mo.group, 1),
        outcome(mo.group, "name"),
        outcome(mo.group, 0, 1),
        outcome(mo.__getitem__, 1),
        outcome(mo.start, 1),
        outcome(mo.end, "x"),
        outcome(mo.span, 2),
        outcome(mo.expand, r"\1"),
        mo.group(False),
    ]


def test_plain_strings_are_literals_and_the_rest_regexes():
    """A string without re's special characters matches just itself: a
    LiteralPattern (searched uncompiled); one special character makes it a regex."""
    for text in ["THE_MARKER_4242", "connected with", "a#b", "x-y=z!<>,;:'\"/%@&~`", "tab\there", "l1\nl2", "wörld €"]:
        lit = regex_search.LiteralPattern.of(text)
        assert lit is not None and lit.pattern == text, text
        assert lit.flags == re.compile(text, re.MULTILINE).flags
        assert lit.compiled() is re.compile(text, re.MULTILINE)
    for special in ".^$*+?{}[]\\|()":
        assert regex_search.LiteralPattern.of("ab" + special + "c") is None, special
    assert regex_search.LiteralPattern.of("") is None


def test_literal_matches_are_re_matches():
    """Over random plain patterns and texts, a LiteralPattern finds what re finds,
    and its match reads like re's: values, repr, and errors."""
    rng = random.Random(20)
    alphabet = ["a", "b", "ab", " ", "\n", "é", "€", "#", "-", "\x00", "😀"]
    matched = 0
    for _ in range(3000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 3)))
        literal = regex_search.LiteralPattern.of(text)
        assert literal is not None
        compiled = re.compile(text, re.MULTILINE)
        searcher = regex_search.searchers([literal])[0]
        for _ in range(3):
            s = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 8)))
            expected, got = compiled.search(s), searcher.search(s)
            assert (expected is None) == (got is None), (text, s)
            if expected is not None:
                matched += 1
                assert _match_facts(got) == _match_facts(expected), (text, s)
    assert matched > 1000


def test_plain_string_expects_compile_nothing_until_asked(monkeypatch):
    """expect() with plain strings compiles no pattern (new markers in a
    loop: no re.compile each time); the match's re is compiled when read."""
    compiled = []
    real_compile = re.compile
    ours = {"token-1", "token-2", "tøken-3", r"d\w+"}

    def counting_compile(pattern, flags=0):
        if pattern in ours:
            compiled.append(pattern)
        return real_compile(pattern, flags)

    with printer("token-1 token-2 tøken-3 done") as p:
        monkeypatch.setattr(re, "compile", counting_compile)
        got = [p.expect(t, timeout=30) for t in ("token-1", "token-2", "tøken-3")]
        idx, mo = p.expect(["nothing", r"d\w+"], timeout=30)
        monkeypatch.undo()
    assert [(i, m.group(), type(m).__name__) for i, m in got] == [
        (0, "token-1", "LiteralMatch"),
        (0, "token-2", "LiteralMatch"),
        (0, "tøken-3", "LiteralMatch"),
    ]
    assert (idx, mo.group()) == (1, "done")
    assert compiled == [r"d\w+"]  # the regex only
    monkeypatch.setattr(re, "compile", counting_compile)
    assert got[2][1].re.pattern == "tøken-3" and got[2][1].re.flags == re.MULTILINE | re.UNICODE
    assert compiled == [r"d\w+", "tøken-3"]


# texts with the characters where re's and regex's classes differ
HOSTILE_TEXTS = [
    "",
    "a",
    "ab b",
    "aaab",
    "a\nb\n",
    "x 12 yy",
    "\x1c\x1d a\x1e",
    "é²³ ٣4\u0301x",
    "a_b-c d\x85e\u2028f",
    "Straße ǅ Σσς",
    "İıiI",
    "  \t\r\n",
    "ab" * 20 + "c",
]
PATTERNS = [
    r"\w+",
    r"\W+",
    r"\s+",
    r"\S+",
    r"\d+",
    r"\D+",
    r"\b\w+\b",
    r"\B.+",
    r"[^\W\d]+",
    r"[\w\s]+$",
    r"^(\w+)\s*(\d*)",
    r"(?P<a>\w)(?P=a)+",
    r"(a|ab)+c",
    r"(?:a+)+b",
    r"x*?y*",
    r"(?=\w{2,})\w+?",
    r"(?<=\s)\S+",
    r"(a)?(?(1)b+|\d+)",
    r".+$",
    r"(?s).+\Z",
    r"(?m)^.*$",
    r"(?i)s+",
    r"(?i)[a-z]+",
    r"\A\s*$",
    r"(\d+)\s+(\w+)",
    r"[\x1c-\x1f]+",
    r"(?a)\w+\s+",
]


def test_regex_search_finds_what_re_finds():
    """The writing of re's parse for regex, with re's classes: same
    spans and groups as re on texts with the characters where the two
    modules' \\w \\s \\d differ (\\x1c-\\x1f, ², combining accents,
    Arabic digits...). (The Turkish dotted/dotless i under IGNORECASE is
    the one documented difference: not in these patterns.)"""
    assert regex_search.regex_available()
    n = 0
    for pattern in PATTERNS:
        for flags in (0, re.MULTILINE, re.DOTALL):
            compiled = re.compile(pattern, flags)
            s = regex_search.Searcher(compiled)
            for text in HOSTILE_TEXTS:
                expected = compiled.search(text)
                got = s.search(text, 10)
                if expected is None:
                    assert got is None, (pattern, flags, text, got)
                else:
                    assert got is not None, (pattern, flags, text)
                    assert (got.span(), got.groups()) == (expected.span(), expected.groups()), (pattern, flags, text)
                if not s.bounded:
                    n += 1
    assert n > 500  # most of them went through regex


def random_pattern(rnd, depth=0):
    atoms = [
        "a",
        "b",
        ".",
        r"\w",
        r"\W",
        r"\s",
        r"\S",
        r"\d",
        r"\D",
        "[ab]",
        r"[^a\s]",
        r"[\w-]",
        r"[^\W\d]",
        r"\x1c",
        "é",
        "²",
        " ",
        r"\n",
        r"\b",
        r"\B",
        "^",
        "$",
    ]
    r = rnd.random()
    if depth > 3 or r < 0.3:
        return rnd.choice(atoms)
    if r < 0.45:
        return random_pattern(rnd, depth + 1) + random_pattern(rnd, depth + 1)
    if r < 0.55:
        return "(?:%s|%s)" % (random_pattern(rnd, depth + 1), random_pattern(rnd, depth + 1))
    if r < 0.7:
        return "(%s)" % (random_pattern(rnd, depth + 1),)
    if r < 0.9:
        return "(?:%s)%s" % (
            random_pattern(rnd, depth + 1),
            rnd.choice(["*", "+", "?", "{1,3}", "{2}", "*?", "+?", "??"]),
        )
    return rnd.choice(["(?=%s)", "(?!%s)", "(?i:%s)", "(?s:%s)"]) % (random_pattern(rnd, depth + 1),)


def test_regex_search_finds_what_re_finds_on_random_patterns():
    rnd = random.Random(14)
    alphabet = ["a", "b", "A", " ", "\n", "é", "²", "\x1c", "_", "1", "٣", "\u0301", "-"]
    compared = 0
    for _ in range(1500):
        pattern = random_pattern(rnd)
        flags = rnd.choice([0, re.M, re.I, re.S, re.A, re.I | re.M])
        compiled = re.compile(pattern, flags)
        s = regex_search.Searcher(compiled)
        if s.bounded:
            continue
        for _ in range(10):
            text = "".join(rnd.choice(alphabet) for _ in range(rnd.randint(0, 8)))
            expected = compiled.search(text)
            got = s.search(text, 10)
            assert (got and (got.span(), got.groups())) == (expected and (expected.span(), expected.groups())), (
                pattern,
                flags,
                text,
            )
            compared += 1
    assert compared > 3000


def test_without_the_regex_module_every_pattern_is_searched_by_re(monkeypatch):
    """regex missing (_regex False: its import failed): re for every
    pattern (the documented risk), and expect() works as before."""
    monkeypatch.setattr(regex_search, "_regex", False)
    regex_search._plan.cache_clear()
    try:
        assert not regex_search.regex_available()
        assert regex_search.Searcher(re.compile(r"(\d+) bytes")).bounded
        with printer("copied 1234 bytes") as p:
            idx, mo = p.expect(r"(\d+) bytes", timeout=30)
        assert idx == 0 and type(mo) is re.Match and mo.group(1) == "1234"
    finally:
        regex_search._plan.cache_clear()


def test_action_expect_with_a_risky_pattern_on_many_processes():
    a = ParallelActions([Local("echo item %d done" % i) for i in range(20)]).start()
    got = a.expect(r"item (\d+) (\w+)+", timeout=60)
    finish(a, 60)
    assert sorted(int(mo.group(1)) for _, _, mo in got) == list(range(20))
    assert a.ok


def test_literal_patterns_do_not_import_regex():
    """The regex module is imported by the first pattern that needs it
    only (its import alone slows a fresh interpreter's big collections)."""
    code = (
        "import sys, execo\n"
        "p = execo.Process('echo ready; echo copied 12 bytes', shell=True).start()\n"
        "assert p.expect('ready', timeout=30)[0] == 0\n"
        "assert p.expect(r'\\$ $|login: |copied', timeout=30)[0] == 0\n"
        "before = 'regex' in sys.modules\n"
        "assert p.expect(r'(\\d+) bytes', timeout=30)[1].group(1) == '12'\n"
        "print(before, 'regex' in sys.modules)\n"
    )
    p = Process((sys.executable, "-c", code)).run(120)
    assert p.ok, p.dump()
    assert p.stdout == "False True\n"
