"""Where user handlers run: handler threads, one process at a time, in order.

The reactor thread only does I/O, reaping and timers. Calls into user code
(output handlers, ``expect()``'s handlers, lifecycle handlers) go through
the :class:`Strand` of their process: a FIFO run by a small pool of
handler threads (``execo-handlers-N``), so that:

- the calls of one process happen one at a time, in the order of its
  output (start, data..., eof, then end), as before;
- a handler that blocks (a slow file system, a lock, a ``sleep``) holds up
  only its own process: the reactor keeps reading every other process,
  and when a handler thread has been stuck in one call for
  :data:`STALL_SECONDS` while other processes have work waiting, another
  handler thread is started (up to :data:`MAX_THREADS`; extra threads
  retire after :data:`IDLE_SECONDS` of idleness).

Why not in the reactor thread (the original design, and this project's
first one): one blocking handler stalled the output, timeouts and reaping
of every other process, where a handler that blocks must hold up its
own process only. Why not one thread per process: 4000
processes would mean 4000 threads.

The fast path has no thread hop: a strand with nothing queued whose call
cannot reach user code (no handlers on the process) runs it inline, in
the calling thread. Memory stays bounded: a process whose strand holds
more than :data:`HIGH_WATER` bytes of undelivered output has its pipe
reads paused (the child blocks on a full pipe, as it would with a slow
reader) until the backlog falls under :data:`LOW_WATER`.
"""

from __future__ import annotations

import collections
import os
import threading
import time
from _thread import get_ident as _get_ident
from typing import Any, Callable, Deque, List, Optional, Sequence, Tuple, cast

from .log import logger

#: a handler thread stuck this long in one call lets another thread start
STALL_SECONDS = 0.1
#: the most handler threads at once
MAX_THREADS = 64
#: an extra handler thread idle this long exits (one always stays)
IDLE_SECONDS = 10.0
#: undelivered output bytes of one process above which reading pauses
HIGH_WATER = 4 << 20
#: ... and below which it resumes
LOW_WATER = 1 << 20
#: calls a thread runs for one strand before serving the others
BATCH = 256
#: the most output bytes merged into one handler call
MERGE_LIMIT = 1 << 20

# a queued call: [function, args, nbytes]; a list, not a tuple, because
# output calls are merged in place (args[1], the chunks, grows; nbytes too)
_Call = List[Any]


class _Worker(object):
    __slots__ = ("thread", "busy_since")

    def __init__(self) -> None:
        self.thread: Optional[threading.Thread] = None
        self.busy_since: Optional[float] = None  # monotonic time the current call began


class HandlerPool(object):
    """The handler threads and the queue of strands that have work."""

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._ready: Deque[Strand] = collections.deque()  # strands with queued calls
        self._workers: List[_Worker] = []
        self._idle = 0
        self._check_armed = False
        self._serial = 0

    def schedule(self, strand: Strand) -> None:
        """Queue a strand that has calls to run (any thread)."""
        with self._cond:
            self._ready.append(strand)
            if not self._workers:
                self._start_worker()
                return
            if self._idle:
                self._cond.notify()
            # more work than idle threads (the idle count lags behind the
            # wake-ups): watch for a thread stuck in a call
            arm = len(self._ready) > self._idle and not self._check_armed
            if arm:
                self._check_armed = True
        if arm:
            self._arm_check()

    def _arm_check(self) -> None:
        from .conductor import get_reactor

        get_reactor().call_later(STALL_SECONDS, self._check_stalled)

    def _check_stalled(self) -> None:
        """Reactor timer, while strands wait and no thread is idle: start
        a thread if one is stuck in a call."""
        now = time.monotonic()
        with self._cond:
            if not self._ready:
                self._check_armed = False
                return
            stuck = any(w.busy_since is not None and now - w.busy_since >= STALL_SECONDS for w in self._workers)
            if stuck and not self._idle and len(self._workers) < MAX_THREADS:
                self._start_worker()
        self._arm_check()

    def _start_worker(self) -> None:
        # self._cond held
        w = _Worker()
        self._serial += 1
        w.thread = threading.Thread(
            target=self._work, args=(w,), daemon=True, name="execo-handlers-%d" % (self._serial,)
        )
        self._workers.append(w)
        w.thread.start()

    def _work(self, me: _Worker) -> None:
        while True:
            with self._cond:
                while not self._ready:
                    self._idle += 1
                    notified = self._cond.wait(IDLE_SECONDS)
                    self._idle -= 1
                    if not notified and not self._ready and len(self._workers) > 1:
                        self._workers.remove(me)
                        return
                strand = self._ready.popleft()
            strand._run_batch(me)

    def threads(self) -> int:
        """The number of handler threads (for tests and diagnostics)."""
        with self._cond:
            return len(self._workers)


_pool = HandlerPool()


def _after_fork_in_child() -> None:
    # the parent's handler threads do not exist in the child
    global _pool
    _pool = HandlerPool()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def handler_pool() -> HandlerPool:
    """The process-wide :class:`HandlerPool`."""
    return _pool


class Strand(object):
    """The ordered calls of one process (see the module doc).

    ``on_backlog(paused)`` is called (outside the strand's lock) when the
    undelivered output crosses :data:`HIGH_WATER` (``True``: stop
    reading) and falls back under :data:`LOW_WATER` (``False``).
    """

    __slots__ = ("_lock", "_calls", "_active", "_backlog", "_paused", "_on_backlog", "_owner")

    def __init__(self, on_backlog: Optional[Callable[[bool], object]] = None) -> None:
        self._lock = threading.Lock()
        self._calls: Optional[Deque[_Call]] = None  # made on first use
        self._active = False  # running inline, or queued/running in the pool
        self._backlog = 0  # bytes of output in queued calls
        self._paused = False
        self._on_backlog = on_backlog
        self._owner: Optional[int] = None  # ident of the thread running a call or holding the strand

    def is_current(self) -> bool:
        """Whether the calling thread is running one of this strand's
        calls (or holds it, see :meth:`hold`): then nothing else of the
        strand can run before that call returns, so waiting there for a
        later call of the strand (the end of its process) would never end."""
        return self._owner == threading.get_ident()

    def post(
        self, function: Callable[..., object], args: Sequence[Any] = (), inline: bool = False, nbytes: int = 0
    ) -> None:
        """Run ``function(*args)`` after the calls already posted.

        With ``inline`` true (the call cannot reach user code: see
        ``execo.handlers._all_inline``) and nothing queued, in the
        calling thread; else in a handler thread. ``nbytes``: the output
        the call delivers (backpressure)."""
        if not (inline and self.run_inline(function, args)):
            self._post(function, args, nbytes, None)

    def post_output(
        self, function: Callable[[Any, List[bytes]], object], key: object, data: bytes, inline: bool = False
    ) -> None:
        """Run ``function(key, chunks)`` for output bytes ``data``.

        While the handlers lag behind, consecutive chunks with the same
        ``key`` are merged into one call (up to :data:`MERGE_LIMIT`
        bytes): a slow handler gets fewer, bigger pieces, as it did when
        reading waited for it, instead of one call per small write."""
        if not (inline and self.run_inline(function, (key, [data]))):
            self._post(function, None, len(data), (key, data))

    def run_inline(self, function: Callable[..., object], args: Sequence[Any]) -> bool:
        """An inline call: ``function(*args)`` in this thread if nothing of
        the strand runs or waits (then True), else nothing (False: the
        caller queues it). What :meth:`post` and :meth:`post_output` do
        with ``inline``, for a caller whose inline call differs from the
        queued one (a process's chunk: its dispatch, not the merging
        call). What was posted meanwhile goes to the pool after
        (:meth:`_release`). (_call written in: most calls of a short
        process come this way.)"""
        with self._lock:
            if self._active or self._calls:
                return False
            self._active = True
        self._owner = _get_ident()
        try:
            function(*args)
        except Exception:
            _log_internal_error(function)
        finally:
            self._owner = None
            self._release()
        return True

    def _post(
        self,
        function: Callable[..., object],
        args: Optional[Sequence[Any]],
        nbytes: int,
        chunk: Optional[Tuple[object, bytes]],
    ) -> None:
        """Queue a call (after run_inline declined it, or for a handler
        thread from the start)."""
        pause = False
        with self._lock:
            merged = False
            if chunk is not None:
                key, data = chunk
                last = self._calls[-1] if self._calls else None
                if last is not None and last[0] == function and last[1][0] == key and last[2] + nbytes <= MERGE_LIMIT:
                    last[1][1].append(data)
                    last[2] += nbytes
                    merged = True
                else:
                    args = (key, [data])
            if not merged:
                if self._calls is None:
                    self._calls = collections.deque()
                self._calls.append([function, args, nbytes])
            if nbytes:
                self._backlog += nbytes
                if not self._paused and self._backlog > HIGH_WATER and self._on_backlog is not None:
                    self._paused = pause = True
            schedule = not self._active
            self._active = True
        if pause:
            # pause is only set when there is an _on_backlog (above)
            cast("Callable[[bool], object]", self._on_backlog)(True)
        if schedule:
            _pool.schedule(self)

    @property
    def paused(self) -> bool:
        """Whether the backlog is over HIGH_WATER (and not yet back under
        LOW_WATER)."""
        return self._paused

    def hold(self) -> None:
        """Queue every call until :meth:`release` (a process holds its
        strand while start() notifies, so that handlers see start first).
        The holding thread counts as running the strand (:meth:`is_current`)."""
        with self._lock:
            self._active = True
            self._owner = threading.get_ident()

    def disown(self) -> None:
        """Keep the :meth:`hold` but let no thread count as running the
        strand: a start queued for a slot (see :mod:`execo.start_queue`)
        is released later by whichever thread spawns it, and the thread
        that called start() may wait for it meanwhile."""
        self._owner = None

    def release(self) -> None:
        """End a :meth:`hold`."""
        self._owner = None
        self._release()

    def _release(self) -> None:
        """After an inline call or a hold: hand what was queued meanwhile
        to the pool."""
        with self._lock:
            if not self._calls:
                self._active = False
                return
        _pool.schedule(self)

    def _run_batch(self, worker: _Worker) -> None:
        me = threading.get_ident()
        for _ in range(BATCH):
            resume = False
            with self._lock:
                if not self._calls:
                    self._active = False
                    return
                function, args, nbytes = self._calls.popleft()
            worker.busy_since = time.monotonic()
            self._owner = me
            try:
                _call(function, args)
            finally:
                self._owner = None
                worker.busy_since = None
            if nbytes:
                with self._lock:
                    self._backlog -= nbytes
                    if self._paused and self._backlog < LOW_WATER:
                        self._paused = False
                        resume = True
                if resume:
                    # only a strand with an _on_backlog gets paused (see _post)
                    cast("Callable[[bool], object]", self._on_backlog)(False)
        _pool.schedule(self)  # more to do: after the other strands


def _call(function: Callable[..., object], args: Sequence[Any]) -> None:
    try:
        function(*args)
    except Exception:
        _log_internal_error(function)


def _log_internal_error(function: Callable[..., object]) -> None:
    # the calls catch and log their handlers' errors themselves: this is a
    # bug of execo, logged so that the strand goes on
    logger.exception("internal error in a handler call %r", function)
