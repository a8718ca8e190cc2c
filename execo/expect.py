"""expect() on one process or several: the machinery behind
:meth:`execo.process.ProcessBase.expect` and
:meth:`execo.action.Action.expect`.

Each (process, stream, calling thread) has its own
:class:`~execo.handlers.ExpectOutputHandler`, attached to the stream on
first use (:func:`thread_expect_handler`), so that concurrent expects from
several threads do not interfere. :func:`expect_all` starts the search on
every process with one shared deadline and waits for all of them.

Below :mod:`execo.process_base` in the import layering: the processes
are only used through their methods and their
:class:`~execo.output_stream.OutputStream`.
"""

from __future__ import annotations

import threading
import time
from functools import partial
from typing import TYPE_CHECKING, List, Match, Optional, Union

from .exception import DeadlockError
from .handlers import STDERR, STDOUT, ExpectOutputHandler, _all_inline
from .time_utils import get_seconds
from .utils import _wait_event
from .waiting import Waiter, wait_serving

if TYPE_CHECKING:
    from typing import Literal, Sequence, Tuple

    from .handlers import RegexesLike
    from .process_base import ProcessBase
    from .time_utils import DurationLike

    #: the result of expect(): (regex index, match object) or (None, None)
    ExpectResult = Tuple[Optional[int], Optional[Match[str]]]

__all__ = ["expect_all", "thread_expect_handler"]


def thread_expect_handler(process: ProcessBase, stream: int, start_from_current: bool) -> ExpectOutputHandler:
    """The calling thread's ExpectOutputHandler on ``stream`` of
    ``process``, attached on first use.

    Attaching happens under the process's output lock, so the handler sees
    every byte exactly once: what was collected before (unless
    start_from_current) and what arrives after."""
    out = process._streams[stream]
    tls = out.tls
    handler: Optional[ExpectOutputHandler] = None if tls is None else getattr(tls, "expect_handler", None)
    if handler is None:
        handler = ExpectOutputHandler()
        handler._allow_inline()  # execo's own callbacks: never block
        with process._io_lock:
            if out.tls is None:
                out.tls = threading.local()
            out.tls.expect_handler = handler
            initial, eof = out.watch_locked(start_from_current)
            handler._attach(process, stream, initial or "", eof)
            out.handlers.append(handler)
            out.expect_handlers.append(handler)
    return handler


class _Results(object):
    """The results of one expect_all, and what its caller waits for
    (``is_set()``: every process has its result). A ``threading.Event``
    is made only if the caller has to block on it (nothing it can serve):
    an expect() that reads its process itself makes none."""

    __slots__ = ("results", "remaining", "lock", "event", "waiter")

    def __init__(self, n: int, waiter: Optional[Waiter]) -> None:
        self.results: List[Optional[ExpectResult]] = [None] * n
        self.remaining = n
        self.lock = threading.Lock()
        self.event: Optional[threading.Event] = None
        self.waiter = waiter

    def is_set(self) -> bool:
        return self.remaining == 0

    def wait(self, timeout: Optional[float] = None) -> bool:
        with self.lock:
            if self.remaining == 0:
                return True
            if self.event is None:
                self.event = threading.Event()
            event = self.event
        return event.wait(timeout)

    def record(
        self, i: int, process: ProcessBase, stream: int, re_index: Optional[int], mo: Optional[Match[str]]
    ) -> None:
        """The ExpectOutputHandler callback of the ``i``-th process."""
        with self.lock:
            if self.results[i] is not None:
                return
            self.results[i] = (re_index, mo)
            self.remaining -= 1
            if self.remaining != 0:
                return
            event = self.event
        if event is not None:
            event.set()
        if self.waiter is not None:
            self.waiter.wake()

    def final(self) -> List[ExpectResult]:
        with self.lock:
            return [r if r is not None else (None, None) for r in self.results]


def expect_all(
    processes: Sequence[ProcessBase],
    regexes: RegexesLike,
    timeout: Union[Literal[False], None, DurationLike],
    stream: int,
    backtrack_size: Optional[int],
    start_from_current: bool,
    default_timeout: Optional[DurationLike],
) -> List[ExpectResult]:
    """expect() on several processes at once, sharing one timeout: a list
    of (regex index, match object), or (None, None) for a process without
    a match (which gets expect_fail), in the order of processes.

    Each process uses its thread-local ExpectOutputHandler, so concurrent
    expects from several threads do not interfere."""
    if stream not in (STDOUT, STDERR):
        raise ValueError("stream must be STDOUT or STDERR, not %r" % (stream,))
    for p in processes:
        if p._in_own_handler():
            raise DeadlockError(
                "expect() called from a handler of a process it searches (%s): that "
                "process's output is handed over after the handler returns, so this expect "
                "could only time out. Expect from another thread, or use an "
                "ExpectOutputHandler with a callback." % (p.name,)
            )
    timeout = get_seconds(default_timeout if timeout is False else timeout)
    deadline = None if timeout is None else time.monotonic() + timeout
    # one process: this thread reads its stream while it waits (execo.waiting)
    reading = Waiter() if len(processes) == 1 else None
    done = _Results(len(processes), reading)

    handlers: List[ExpectOutputHandler] = []
    try:
        for i, p in enumerate(processes):
            handler = thread_expect_handler(p, stream, start_from_current)
            handlers.append(handler)
            handler._expect(regexes, partial(done.record, i), None, backtrack_size, start_from_current, deadline)
        if done.is_set():
            pass  # (found in what was already read)
        elif reading is not None:
            # parked after it unless a user handler waits for this stream's
            # output (it would get it a few milliseconds late)
            park = _all_inline(processes[0]._streams[stream].handlers)
            wait_serving(processes[0], stream, False, done, timeout, reading, park)
        else:
            _wait_event(done, timeout)
    finally:
        if not done.is_set():
            for handler in handlers:
                handler._cancel()
    final = done.final()
    for p, (re_index, _) in zip(processes, final):
        if re_index is None:
            p._notify_expect_fail(regexes)
    return final
