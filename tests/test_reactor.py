"""The compiled reactor on its own, with every poller x child watcher.

Each test runs a private Reactor in its own thread (the process-wide one
is left alone), so both backends and both ways of reaping children are
exercised in one pytest run."""

import errno
import os
import random
import select
import signal
import threading
import time

import pytest
from fixtures.reactor import Sink, running_reactor

from execo import _reactor

BACKENDS = [("epoll", "pidfd"), ("epoll", "sigchld"), ("poll", "pidfd"), ("poll", "sigchld")]


@pytest.fixture(params=BACKENDS, ids=["-".join(b) for b in BACKENDS])
def reactor(request):
    with running_reactor(*request.param) as r:
        yield r


def sh(cmd):
    return [b"/bin/sh", b"-c", cmd.encode()]


def test_exit_code_output_and_stderr(reactor):
    s = Sink()
    reactor.spawn(sh("echo out; echo err >&2; exit 7"), _reactor.SPAWN_NEW_PGROUP, s)
    assert s.done.wait(10)
    assert s.exit == 7
    assert s.out(1) == b"out\n" and s.out(2) == b"err\n"
    assert s.eofs == {1: 0, 2: 0}
    assert threading.get_ident() not in s.threads


def test_killed_by_signal_is_negative(reactor):
    s = Sink()
    child = reactor.spawn([b"sleep", b"30"], _reactor.SPAWN_PATH | _reactor.SPAWN_NEW_PGROUP, s)
    assert child.signal(signal.SIGKILL, False) == 0
    assert s.done.wait(10)
    assert s.exit == -signal.SIGKILL
    assert child.reaped
    assert child.signal(signal.SIGTERM, False) == 0  # no-op once reaped


def test_exec_error_is_oserror_not_child(reactor):
    with pytest.raises(OSError) as e:
        reactor.spawn([b"/nonexistent/program"], 0, Sink())
    assert e.value.errno == errno.ENOENT
    with pytest.raises(OSError) as e:
        reactor.spawn([b"/etc/passwd"], 0, Sink())
    assert e.value.errno == errno.EACCES
    assert reactor.live_children() == []


def test_stdin_write_and_close(reactor):
    s = Sink()
    child = reactor.spawn([b"cat"], _reactor.SPAWN_PATH, s)
    payload = os.urandom(3 * 1024 * 1024)  # larger than a pipe: queued
    assert child.write(payload) == 0
    child.close_stdin()
    assert s.done.wait(20)
    assert s.out() == payload
    assert s.exit == 0


def test_write_after_reader_gone_reports_epipe(reactor):
    s = Sink()
    child = reactor.spawn(sh("exec 0<&-; sleep 0.2"), 0, s)
    assert s.done.wait(10)
    err = child.write(b"x" * 100000)
    deadline = time.time() + 5
    while err == 0 and not s.write_errors and time.time() < deadline:
        time.sleep(0.01)
    assert err == errno.EPIPE or s.write_errors == [(0, errno.EPIPE)]


def test_group_signal_reaches_grandchildren(reactor, tmp_path):
    pidfile = tmp_path / "pid"
    s = Sink()
    child = reactor.spawn(sh("sleep 30 & echo $! > %s; wait" % pidfile), _reactor.SPAWN_NEW_PGROUP, s)
    deadline = time.time() + 5
    while not (pidfile.exists() and pidfile.read_text().strip()) and time.time() < deadline:
        time.sleep(0.01)
    grandchild = int(pidfile.read_text())
    assert child.signal(signal.SIGTERM, True) == 0
    assert s.done.wait(10)
    deadline = time.time() + 5
    while time.time() < deadline:
        try:
            with open("/proc/%d/stat" % grandchild) as f:
                if f.read().split(") ")[1][0] == "Z":
                    break
        except FileNotFoundError:
            break
        time.sleep(0.01)
    else:
        pytest.fail("grandchild survived a group SIGTERM")


def test_pty_child_has_controlling_tty(reactor):
    s = Sink()
    reactor.spawn(sh("test -t 0 && test -t 1 && ! test -t 2 && tty"), _reactor.SPAWN_PTY, s)
    assert s.done.wait(10)
    assert s.exit == 0
    assert s.out().strip().startswith(b"/dev/pts/")


def test_close_streams_when_grandchild_keeps_pipe(reactor):
    s = Sink()
    child = reactor.spawn(sh("echo before; sleep 30 & exit 0"), _reactor.SPAWN_NEW_PGROUP, s)
    deadline = time.time() + 5
    while s.exit is None and time.time() < deadline:
        time.sleep(0.01)
    assert s.exit == 0 and not s.done.is_set()
    child.close_streams()
    assert s.done.wait(5)
    assert s.out() == b"before\n"
    os.killpg(child.pid, signal.SIGKILL)


class Ordered(Sink):
    """A Sink that also records the order of the eofs and the exit."""

    def __init__(self):
        super().__init__()
        self.order = []

    def _on_eof(self, stream, err):
        self.order.append(stream)
        super()._on_eof(stream, err)

    def _on_exit(self, code):
        self.order.append("exit")
        super()._on_exit(code)


def test_exit_after_the_eofs_of_the_pipes_its_child_alone_held(reactor):
    """A just-reaped child's pipes are drained before its exit is
    reported: they hold its last output and, if it alone held them, their
    eof. So the exit finds them closed (and the process ends in that one
    step), whether the loop reaps it, busy with many, or a serving thread.
    (Not when the loop reaps a child whose streams another thread serves:
    the sigchld watcher's, whose exit is never lent.)"""
    sinks = [Ordered() for _ in range(100)]
    for s in sinks:
        reactor.spawn(sh("echo out; echo err >&2"), 0, s)
    served = Ordered()
    child = reactor.spawn(sh("read x; echo out; echo err >&2"), 0, served)
    if _lent(reactor, child, 3, True):
        child.close_stdin()
        deadline = time.time() + 10
        while child.serve(1.0) >= 0:
            assert time.time() < deadline
    else:
        child.close_stdin()
    for s in sinks + [served]:
        assert s.done.wait(10)
        assert s.out() == b"out\n" and s.out(2) == b"err\n"
        if s is not served or reactor.child_watcher == "pidfd":
            assert s.order[2:] == ["exit"] and sorted(s.order[:2]) == [1, 2]


def test_many_children_all_reaped(reactor):
    sinks = [Sink() for _ in range(300)]
    for i, s in enumerate(sinks):
        reactor.spawn([b"sh", b"-c", b"exit %d" % (i % 5)], _reactor.SPAWN_PATH, s)
    for i, s in enumerate(sinks):
        assert s.done.wait(30)
        assert s.exit == i % 5
    assert reactor.live_children() == []


def _open_fds():
    return set(os.listdir("/proc/self/fd"))


def test_close_releases_every_fd():
    """close() releases the fds of reaped children whose stdin nobody
    closed, and of readers queued but never polled: no leak per child."""
    before = _open_fds()
    r = _reactor.Reactor()
    t = threading.Thread(target=r.run, daemon=True)
    t.start()
    sinks = [Sink() for _ in range(20)]
    for s in sinks:
        r.spawn([b"true"], _reactor.SPAWN_PATH, s)  # stdin left open
    assert all(s.done.wait(10) for s in sinks)
    r.stop()
    t.join(5)
    rfd, wfd = os.pipe()
    os.close(wfd)
    r.add_reader(rfd, Sink(), 1)  # queued, the loop is gone
    r.writer(os.dup(1), Sink(), 0)
    assert len(_open_fds() - before) >= 22
    r.close()
    assert _open_fds() - before == set()


def test_timers_order_and_cancel(reactor):
    fired = []
    done = threading.Event()
    reactor.call_later(0.2, fired.append, "b")
    reactor.call_later(0.05, fired.append, "a")
    cancelled = reactor.call_later(0.1, fired.append, "never")
    cancelled.cancel()
    reactor.call_later(0.3, done.set)
    assert done.wait(5)
    assert fired == ["a", "b"]


def test_call_later_from_another_thread_wakes_the_sleeping_loop(reactor):
    # the loop sleeps until its one timer, 60 s away; a sooner timer armed
    # from this thread must wake it (the heap is shared, not queued)
    reactor.call_later(60, lambda: None)
    reactor.call_soon(lambda: None)
    time.sleep(0.1)  # (the loop is back in its poll, with a 60 s timeout)
    done = threading.Event()
    reactor.call_later(0.01, done.set)
    assert done.wait(10)


def test_timers_armed_from_many_threads_fire_in_time_order(reactor):
    fired = []
    done = threading.Event()
    n_threads, per_thread = 4, 150

    handles = {}

    def arm(seed):
        rnd = random.Random(seed)
        for i in range(per_thread):
            key = (seed, i)
            handles[key] = reactor.call_later(
                rnd.uniform(0, 0.3), lambda k=key: fired.append((k, _reactor.monotonic_time()))
            )

    threads = [threading.Thread(target=arm, args=(i,)) for i in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    reactor.call_later(0.6, done.set)
    assert done.wait(10)
    assert len(fired) == n_threads * per_thread
    whens = [handles[k].when for k, _ in fired]
    assert whens == sorted(whens)  # in the order of their times
    assert all(at >= handles[k].when for k, at in fired)  # none early


def test_call_soon_runs_in_loop_thread(reactor):
    got = []
    done = threading.Event()
    reactor.call_soon(lambda: (got.append(reactor.in_loop_thread()), done.set()))
    assert done.wait(5)
    assert got == [True]
    assert not reactor.in_loop_thread()


def test_error_in_sink_is_reported_and_loop_survives(reactor):
    caught = []
    reactor.error_handler = caught.append

    class Bad(Sink):
        def _on_data(self, stream, data):
            raise RuntimeError("boom")

    s = Bad()
    reactor.spawn(sh("echo hi"), 0, s)
    assert s.done.wait(10)
    assert [type(e) for e in caught] == [RuntimeError]
    reactor.error_handler = None
    s2 = Sink()
    reactor.spawn(sh("echo again"), 0, s2)
    assert s2.done.wait(10) and s2.out() == b"again\n"
    del caught[:]


def test_add_reader_and_writer(reactor):
    r, w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    s = Sink(expected_eofs=1)
    s.expected = 1
    reactor.add_reader(r, s, 1)
    writer = reactor.writer(w, s, 0)
    assert writer.write(b"hello ") == 0
    assert writer.write(b"world") == 0
    writer.close()
    assert s.done.wait(5)
    assert s.out() == b"hello world"
    assert writer.write(b"late") == errno.EPIPE


def test_idle_writer_is_closed_by_the_closing_thread(reactor):
    """A writer with nothing queued is closed by the thread that closes it,
    not by the loop (a process ending in a waiting thread does not wake
    the loop for its stdin): the reader sees EOF while the loop is busy.
    One with bytes queued is closed by the loop once they are written."""
    busy, free = threading.Event(), threading.Event()
    reactor.call_soon(lambda: (busy.set(), free.wait(10)))
    assert busy.wait(5)
    try:
        r, w = os.pipe2(os.O_CLOEXEC)
        os.set_blocking(w, False)
        writer = reactor.writer(w, Sink(), 0)
        assert writer.write(b"direct") == 0  # (the pipe has room: written at once)
        writer.close()
        assert os.read(r, 100) == b"direct"
        assert select.select([r], [], [], 5)[0] and os.read(r, 100) == b""  # EOF, loop still busy
        os.close(r)
        r, w = os.pipe2(os.O_CLOEXEC)
        os.set_blocking(w, False)
        pipe_size = 65536
        writer = reactor.writer(w, Sink(), 0)
        assert writer.write(b"x" * (pipe_size * 2)) == 0  # more than the pipe holds: queued
        writer.close()
        assert writer.write(b"late") == errno.EPIPE
    finally:
        free.set()
    got = b""
    while True:
        chunk = os.read(r, 1 << 16)
        if not chunk:
            break
        got += chunk
    os.close(r)
    assert got == b"x" * (pipe_size * 2)


def test_reader_close_drains_then_reports_eof(reactor):
    # the writer end stays open: only Reader.close() ends the reading
    r, w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        s = Sink(expected_eofs=1)
        s.expected = 1
        reader = reactor.add_reader(r, s, 1)
        os.write(w, b"pending bytes")
        assert not reader.closed
        reader.close()
        assert s.done.wait(5)
        assert s.out() == b"pending bytes" and s.eofs == {1: 0}
        assert reader.closed
        reader.close()  # idempotent
    finally:
        os.close(w)


@pytest.mark.parametrize("encoding", ["utf-8", "latin-1"])
def test_line_splitter(encoding):
    ls = _reactor.LineSplitter(encoding)
    text = "a\u00e9b\nsecond line\n\nno newline"
    data = text.encode(encoding)
    lines = []
    for i in range(len(data)):  # worst case: one byte at a time
        lines += ls.feed(data[i : i + 1])
    assert lines == ["a\u00e9b\n", "second line\n", "\n"]
    assert ls.flush() == "no newline"
    assert ls.flush() == ""


def test_line_splitter_surrogateescape():
    ls = _reactor.LineSplitter("utf-8")
    assert ls.feed(b"\xff\xfe ok\nrest") == ["\udcff\udcfe ok\n"]
    assert ls.flush().encode("utf-8", "surrogateescape") == b"rest"


def test_bad_configuration_values():
    with pytest.raises(ValueError):
        _reactor.Reactor(poller="kqueue-on-linux")
    with pytest.raises(ValueError):
        _reactor.Reactor(child_watcher="waitpid-1")


# ----------------------------------------------------------------- Collector


def test_collector_ascii_text_is_the_buffer_itself():
    c = _reactor.Collector()
    c.add(b"x" * 200000)
    c.add(b"end\n")
    assert c.ascii_text() is None  # not shrunk yet: still growing
    c.shrink()
    text = c.ascii_text()
    assert text == "x" * 200000 + "end\n"
    assert c.ascii_text() is text  # no copy, same object
    assert len(c) == 200004


def test_collector_first_piece_is_kept_at_its_size():
    # a short output (often all there is) needs no shrink at eof: its
    # buffer is its size from the start; what follows grows it as usual
    c = _reactor.Collector()
    c.add(b"h0001.stub\n")
    assert c.ascii_text() == "h0001.stub\n"
    c.add(b"y" * 100000)
    assert c.ascii_text() is None  # growing
    c.shrink()
    assert c.ascii_text() == "h0001.stub\n" + "y" * 100000


def test_reactor_collects_a_short_first_read_then_a_flood(reactor):
    # a first piece kept at its size, then a flood read straight into the
    # collector as it grows: nothing lost or doubled
    n = 1500000
    sink = Sink()
    out, err = _reactor.Collector(), _reactor.Collector()
    cmd = "printf first; sleep 0.2; head -c %d /dev/zero | tr '\\0' 'q'" % n
    reactor.spawn(sh(cmd), _reactor.SPAWN_NEW_PGROUP, sink, stdout=out, stderr=err)
    assert sink.done.wait(30)
    assert sink.data[1] == [] and sink.data[2] == []
    out.shrink()
    err.shrink()
    assert out.ascii_text() == "first" + "q" * n
    assert err.ascii_text() == "" and len(err) == 0 and out.nread == n + 5


def test_collector_non_ascii_is_decoded_not_shared():
    c = _reactor.Collector()
    c.add(b"a" * 100000)
    c.add("é".encode() + b"\xff")
    c.shrink()
    assert c.ascii is False
    assert c.ascii_text() is None
    text, end = c.decode_utf8(0, True)
    assert text == "a" * 100000 + "é\udcff" and end == len(c)


def test_collector_append_after_sharing_leaves_shared_text_alone():
    c = _reactor.Collector()
    c.add(b"hello")
    c.shrink()
    text = c.ascii_text()
    assert text == "hello"
    c.add(b" world")
    assert text == "hello" and hash(text) == hash("hello")
    assert c.getbytes() == b"hello world"
    c.shrink()
    assert c.ascii_text() == "hello world"


def test_collector_empty_releases_its_buffer():
    c = _reactor.Collector()
    c.add(b"")
    c.shrink()
    assert len(c) == 0 and c.ascii_text() == "" and c.getbytes() == b""


def test_reactor_collects_into_collector_and_tracks_ascii(reactor):
    n = 1200000
    for tail, is_ascii in (("", True), ("\\351", False)):
        sink = Sink()
        out, err = _reactor.Collector(), _reactor.Collector()
        cmd = "head -c %d /dev/zero | tr '\\0' 'q'; printf '%s'" % (n, tail)
        reactor.spawn(sh(cmd), _reactor.SPAWN_NEW_PGROUP, sink, stdout=out, stderr=err)
        assert sink.done.wait(30)
        assert sink.data[1] == []  # read straight into the collector
        out.shrink()
        assert out.ascii is is_ascii
        if is_ascii:
            assert out.ascii_text() == "q" * n
        else:
            assert len(out) == n + 1 and out.getbytes()[-2:] == b"q\xe9"
            assert out.ascii_text() is None


@pytest.mark.parametrize("want_stdin", [True, False])
def test_spawn_fd_cost_is_what_a_child_holds(reactor, want_stdin):
    # the start queue (execo.start_queue) counts children's fds with it
    cost = reactor.spawn_fd_cost(want_stdin)
    assert cost == (3 if want_stdin else 2) + (1 if reactor.child_watcher == "pidfd" else 0)
    before = len(os.listdir("/proc/self/fd"))
    s = Sink()
    c = reactor.spawn(sh("sleep 30"), _reactor.SPAWN_PATH | _reactor.SPAWN_NEW_PGROUP, s, want_stdin=want_stdin)
    try:
        assert len(os.listdir("/proc/self/fd")) - before == cost
    finally:
        c.signal(signal.SIGKILL, True)
        assert s.done.wait(10)


# --------------------------------------- Child.lend / serve (issue 18)
# A waiting caller serves a child's fds itself: no hop through the loop thread.


def _lent(reactor, child, streams=1, reap=False, wake_fd=-1):
    """Child.lend until the child's fds are in the poll set (registered
    right after the spawn with epoll + pidfd, by the loop otherwise): True,
    or False on the poll() backend, where they never are lent."""
    if reactor.poller != "epoll":
        assert child.lend(streams, reap, wake_fd) == -1
        return False
    deadline = time.time() + 5
    while child.lend(streams, reap, wake_fd) == -1:
        assert time.time() < deadline, "never lent"
        time.sleep(0.001)
    return True


def _loop_reads(s, expected, stream=1):
    deadline = time.time() + 5
    while s.out(stream) != expected and time.time() < deadline:
        time.sleep(0.01)
    assert s.out(stream) == expected


def test_serve_reads_and_delivers_in_the_calling_thread(reactor):
    s = Sink()
    child = reactor.spawn([b"cat"], _reactor.SPAWN_PATH, s)
    try:
        if not _lent(reactor, child):
            assert child.serve(0.0) == -1  # nothing lent
            assert child.write(b"ping\n") == 0
            _loop_reads(s, b"ping\n")  # the loop reads it, as always
            return
        assert child.lend(1, False, -1) == -1  # lent already
        expected = b""
        for i in range(50):
            line = b"ping %d\n" % i
            expected += line
            assert child.write(line) == 0
            while s.out() != expected:
                assert child.serve(10.0) > 0
        assert s.threads == {threading.get_ident()}  # every chunk read and handed over here
        assert child.serve(0.05) == 0  # nothing more: timeout
        child.give_back()
        assert child.serve(0.0) == -1
        assert child.write(b"loop\n") == 0
        _loop_reads(s, expected + b"loop\n")  # given back: the loop reads it again
    finally:
        child.close_stdin()
        assert s.done.wait(10)
    assert s.exit == 0 and s.eofs == {1: 0, 2: 0}


def test_serve_handles_eof_and_exit_in_the_calling_thread(reactor):
    s = Sink()
    child = reactor.spawn(sh("read x; echo last; echo err >&2"), 0, s)
    if not _lent(reactor, child, 3, True):
        child.close_stdin()
        assert s.done.wait(10)
        return
    child.close_stdin()
    deadline = time.time() + 10
    while child.serve(1.0) >= 0:
        assert time.time() < deadline
    # everything lent was served; without a pidfd the exit is the loop's
    assert s.done.wait(10)
    assert s.out() == b"last\n" and s.out(2) == b"err\n"
    assert s.eofs == {1: 0, 2: 0} and s.exit == 0 and child.reaped
    if reactor.child_watcher == "pidfd":
        assert s.threads == {threading.get_ident()}  # data, eofs and exit: all here
    assert child.lend(3, True, -1) == -1  # nothing left to lend
    assert reactor.live_children() == []


def test_serve_woken_and_one_borrower_at_a_time(reactor):
    s = Sink()
    child = reactor.spawn([b"cat"], _reactor.SPAWN_PATH, s)
    waker = _reactor.Waker()
    try:
        if not _lent(reactor, child, 1, False, waker.fd):
            return
        results = []
        t = threading.Thread(target=lambda: results.append(child.serve(30.0)))
        t0 = time.monotonic()
        t.start()
        time.sleep(0.2)
        waker.wake()
        t.join(20)
        assert not t.is_alive() and results == [0]
        assert time.monotonic() - t0 < 25  # woken, not timed out
        waker.clear()
        child.give_back()
        assert child.write(b"after\n") == 0
        _loop_reads(s, b"after\n")
    finally:
        waker.close()
        child.close_stdin()
        assert s.done.wait(10)


def test_close_streams_waits_for_the_borrower_and_loses_nothing(reactor):
    s = Sink()
    child = reactor.spawn(sh("echo before; sleep 30 & exit 0"), _reactor.SPAWN_NEW_PGROUP, s)
    waker = _reactor.Waker()
    try:
        deadline = time.time() + 5
        while s.exit is None and time.time() < deadline:
            time.sleep(0.01)
        assert s.exit == 0
        _loop_reads(s, b"before\n")
        if not _lent(reactor, child, 3, False, waker.fd):
            child.close_streams()
            assert s.done.wait(5)
            return
        results = []
        t = threading.Thread(target=lambda: results.append((child.serve(30.0), child.serve(30.0))))
        t.start()
        time.sleep(0.2)  # t polls the pipes the grandchild keeps open
        child.close_streams()  # deferred until t gives them back; t is woken
        t.join(20)
        assert not t.is_alive() and results == [(0, -1)]  # woken, then all given back
        assert s.done.wait(5)
        assert s.out() == b"before\n" and s.eofs == {1: 0, 2: 0}
    finally:
        waker.close()
        os.killpg(child.pid, signal.SIGKILL)


def test_parked_stream_taken_over_or_taken_back(reactor):
    s = Sink()
    child = reactor.spawn([b"cat"], _reactor.SPAWN_PATH, s)
    try:
        if not _lent(reactor, child):
            child.give_back(True)  # nothing lent: a no-op
            return
        child.give_back(True)  # parked: out of the poll set, unread
        assert child.lend(1, False, -1) == 1  # taken over at once
        assert child.write(b"a\n") == 0
        assert child.serve(10.0) > 0 and s.out() == b"a\n"
        child.give_back(True)
        assert child.write(b"b\n") == 0  # nobody lends it again: the loop takes it back
        _loop_reads(s, b"a\nb\n")
        assert threading.get_ident() in s.threads and len(s.threads) == 2
    finally:
        child.close_stdin()
        assert s.done.wait(10)
    assert s.eofs == {1: 0, 2: 0}


def _parks(reactor):
    # spawn(park=True) parks with epoll and a pidfd only
    return reactor.poller == "epoll" and reactor.child_watcher == "pidfd"


def test_spawn_parked_is_served_by_the_spawning_thread(reactor):
    """spawn(park=True) (Process.run): with epoll and a pidfd, the child's
    streams and exit are out of the poll set from the start (nobody
    reads them until lent), lent at once to the thread that spawned it,
    which serves everything itself; elsewhere park changes nothing."""
    s = Sink()
    child = reactor.spawn(sh("echo out; echo err >&2"), 0, s, want_stdin=False, park=True)
    if _parks(reactor):
        time.sleep(0.3)  # the child is done; its pipes and pidfd are ready
        assert s.events == 0 and s.out() == b""  # ... and nobody polled them
        assert child.lend(3, True, -1) == 3  # the two streams and the exit
        deadline = time.time() + 10
        while child.serve(1.0) >= 0:
            assert time.time() < deadline
        assert s.threads == {threading.get_ident()}  # the loop thread never saw it
    assert s.done.wait(10)
    assert s.out() == b"out\n" and s.out(2) == b"err\n" and s.eofs == {1: 0, 2: 0} and s.exit == 0
    child.unpark()  # nothing parked any more: a no-op


def test_spawn_parked_then_unparked_is_the_reactors(reactor):
    """Child.unpark: what is parked since the spawn goes to the reactor,
    which then reads and reaps the child as any other."""
    s = Sink()
    child = reactor.spawn(sh("echo out; echo err >&2; exit 3"), 0, s, want_stdin=False, park=True)
    if _parks(reactor):
        time.sleep(0.3)
        assert s.events == 0  # parked: nobody polls it
    child.unpark()
    assert s.done.wait(10)
    assert s.out() == b"out\n" and s.out(2) == b"err\n" and s.eofs == {1: 0, 2: 0} and s.exit == 3
    assert threading.get_ident() not in s.threads
    assert child.lend(3, True, -1) == -1  # nothing left


def test_failed_lend_unparks(reactor):
    """A lend that cannot be (here: asked from the loop thread) leaves a
    parked child to the reactor at once: the caller waits for it then."""
    s = Sink()
    child = reactor.spawn([b"cat"], _reactor.SPAWN_PATH, s, park=True)
    try:
        results = []
        lent = threading.Event()
        reactor.call_soon(lambda: (results.append(child.lend(3, True, -1)), lent.set()))
        assert lent.wait(10) and results == [-1]
        assert child.write(b"hello\n") == 0
        _loop_reads(s, b"hello\n")
    finally:
        child.close_stdin()
        assert s.done.wait(10)
    assert s.exit == 0 and s.eofs == {1: 0, 2: 0}


def test_find_text_is_str_find():
    """find_text (memmem on one-byte strings, str.find otherwise) returns
    what str.find does, for ASCII, Latin-1 and wider text."""
    cases = [("abc", "b", 0), ("abc", "", 3), ("abc", "", 4), ("abc", "c", 3), ("", "", 0), ("é€x", "x", 0)]
    cases += [("aéb", "éb", 0), ("aaa", "aa", 1), ("aaa", "aa", 2), ("a€", "€", 0), ("a€", "a", 0), ("ab", "abc", 0)]
    rng = random.Random(3)
    for _ in range(20000):
        text = "".join(rng.choice("ab\n\xe9\u20ac") for _ in range(rng.randint(0, 12)))
        sub = "".join(rng.choice("ab\n\xe9") for _ in range(rng.randint(0, 3)))
        cases.append((text, sub, rng.randint(0, 14)))
    for text, sub, start in cases:
        assert _reactor.find_text(text, sub, start) == text.find(sub, start), (text, sub, start)
    assert _reactor.find_text("x" * 100000 + "THE_MARKER", "THE_MARKER") == 100000
    with pytest.raises(ValueError):
        _reactor.find_text("abc", "a", -1)
