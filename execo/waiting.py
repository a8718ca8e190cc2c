"""How a caller waits for one process: by doing the reactor's work for it.

A thread blocked in :meth:`~execo.process.ProcessBase.wait` or a
one-process :meth:`~execo.process.ProcessBase.expect` takes the process's
fds out of the reactor's poll set while it waits, polls them itself and
handles what is ready exactly as the reactor would
(:meth:`execo._reactor.Child.lend`, ``serve``, ``give_back``): the
output handed to the
process, the end of file, the exit status. When nothing else needs the
process's calls to run elsewhere (no user handler), the match or the end
is then found in the waiting thread itself: no thread switch between the
child's write or exit and the caller's return, which on a loaded machine
is a time slice each (issue 18).

What the waiting thread cannot serve (the ``poll()`` backend, a stream
the reactor is reading right now or another thread serves, a paused
stream, a child reaped through SIGCHLD) it leaves to the reactor and
waits for the event as before. When the awaited event is set by another
thread (a handler thread, the reactor), :meth:`Waiter.wake` ends the
waiting thread's poll through a :class:`execo._reactor.Waker` (an eventfd
made for the wait and closed after it: no fd stays behind per thread
that ever waited; where none can be made, the fd table being full, the
thread waits for the event).
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Optional

from . import _reactor
from .config import configuration
from .utils import _wait_event

if TYPE_CHECKING:
    from .process_base import ProcessBase

__all__ = ["Waiter", "wait_serving"]


class Waiter(object):
    """One thread waiting for an event while it serves a process's fds."""

    __slots__ = ("ident", "waker", "polling")

    def __init__(self) -> None:
        self.ident = threading.get_ident()
        self.waker: Optional[_reactor.Waker] = None
        self.polling = False

    def wake(self) -> None:
        """The awaited event was set (any thread): end the waiting
        thread's poll, unless this is that thread."""
        if self.polling and threading.get_ident() != self.ident:
            assert self.waker is not None
            self.waker.wake()


def wait_serving(
    process: ProcessBase,
    streams: int,
    reap: bool,
    done: threading.Event,
    timeout: Optional[float],
    waiter: Waiter,
    park: bool = False,
) -> bool:
    """Wait for ``done`` (at most ``timeout`` seconds, None: no limit)
    while serving ``process``'s ``streams`` (1 stdout, 2 stderr, 3 both)
    and, with ``reap``, its exit, in this thread
    (``ProcessBase._lend``). Whoever sets ``done`` from another
    thread must call ``waiter.wake()`` after. Waits in slices of
    ``configuration['intr_period']`` (Ctrl-C). With ``park``, the streams
    stay out of the reactor's poll set a few milliseconds after the wait,
    for the next wait to take them over (see
    :meth:`execo._reactor.Child.give_back`). Returns whether ``done`` is
    set."""
    deadline = None if timeout is None else time.monotonic() + timeout
    try:
        waker = waiter.waker = _reactor.Waker()
    except OSError:
        return _wait_event(done, timeout)  # (EMFILE)
    waiter.polling = True
    lent: Optional[_reactor.Child] = None
    try:
        while not done.is_set():
            period = configuration.get("intr_period") or 1
            if deadline is not None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                period = min(period, remaining)
            if lent is None:
                # (again after -1: an SshProcess may have a new child)
                lent = process._lend(streams, reap, waker.fd)
                if lent is None:
                    break
            n = lent.serve(period)
            if n < 0:
                lent = None  # all served, or given back to the reactor, which asked
            elif n == 0:
                waker.clear()  # timed out, or woken (a match elsewhere, the reactor)
    finally:
        waiter.polling = False
        if lent is not None:
            lent.give_back(park)
        waker.close()
    if done.is_set():
        return True
    return _wait_event(done, None if deadline is None else max(0.0, deadline - time.monotonic()))
