"""How a caller waits for one process: by doing the reactor's work for it.

A thread blocked in :meth:`~execo.process.ProcessBase.wait` or a
one-process :meth:`~execo.process.ProcessBase.expect` takes the process's
fds out of the reactor's poll set while it waits, polls them itself and
handles what is ready exactly as the reactor would
(:meth:`execo._reactor.Child.lend`, ``serve``, ``give_back``): the
output handed to the process, the end of file, the exit status. When
nothing else needs the process's calls to run elsewhere (no user
handler), the match or the end is then found in the waiting thread
itself: no thread switch between the child's write or exit and the
caller's return, which on a loaded machine is a time slice each (issue
18).

What the waiting thread cannot serve (the ``poll()`` backend, a stream
the reactor is reading right now or another thread serves, a paused
stream, a child reaped through SIGCHLD) it leaves to the reactor and
waits for the event as before. When the awaited event is set by another
thread (a handler thread, the reactor), :meth:`Waiter.wake` ends the
waiting thread's poll through a :class:`execo._reactor.Waker` (an
eventfd). A wait takes one from a few kept between waits, or makes one,
and puts it back after: making and closing an eventfd was two system
calls per wait, a tenth of the syscalls of a short ``run()`` (issue 18).
At most ``_SPARE_WAKERS`` stay open, however many threads ever waited;
a forked child closes its copies. A kept waker may still hold a wake
that came after its last wait's last poll: the next wait's poll then
returns once for nothing, which the loop tolerates (it checks the event
again). Where no eventfd can be made, the fd table being full, the
thread waits for the event.
"""

from __future__ import annotations

import _thread
import os
import signal
import sys
import threading
import time
from types import FrameType
from typing import TYPE_CHECKING, Callable, List, Optional, Tuple

from . import _reactor
from .utils import _Awaitable, _intr_slice, _wait_event

if TYPE_CHECKING:
    from .process_base import ProcessBase

# signal.getsignal without the conversion of its result to an enum (which
# cost more than the rest of a wait's setup): the C function of CPython's
# _signal, which the signal module imports
_getsignal: Callable[[int], object] = getattr(sys.modules.get("_signal"), "getsignal", signal.getsignal)

__all__ = ["Waiter", "wait_serving"]


# the wakers kept between waits (see the module's docstring)
_SPARE_WAKERS = 4
_spare_wakers: List[_reactor.Waker] = []


def _take_waker() -> _reactor.Waker:
    """A waker for a wait: a kept one, or a new one (OSError: no fd)."""
    try:
        return _spare_wakers.pop()
    except IndexError:
        return _reactor.Waker()


def _put_back_waker(waker: _reactor.Waker) -> None:
    if len(_spare_wakers) < _SPARE_WAKERS:
        _spare_wakers.append(waker)
    else:
        waker.close()


def _close_spare_wakers_after_fork() -> None:
    # (the parent's eventfds, shared with the child: not the child's to keep)
    while _spare_wakers:
        _spare_wakers.pop().close()


os.register_at_fork(after_in_child=_close_spare_wakers_after_fork)


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


class _SigintGuard(object):
    """While the main thread serves a process, a SIGINT must not raise
    KeyboardInterrupt in the middle of execo's own bookkeeping (a chunk
    collected but not yet handed to the handlers, a process marked ended
    whose end event is not yet set: a later wait() would hang). As
    asyncio.Runner does, the default SIGINT handler is wrapped, the first
    time the main thread serves a process: outside such a wait the
    wrapper raises KeyboardInterrupt at once, as the default handler
    does; inside, it records the signal and wakes the poll, and
    KeyboardInterrupt is raised once the process's fds are given back.
    (Swapping the handler at each wait cost two sigaction calls, 20 µs a
    round trip. A handler of the program's own is left alone.)"""

    def __init__(self) -> None:
        self.waker: Optional[_reactor.Waker] = None  # set while guarding
        self.hit: Optional[Tuple[int, Optional[FrameType]]] = None

    def __call__(self, signum: int, frame: Optional[FrameType]) -> None:
        if self.waker is None:
            signal.default_int_handler(signum, frame)  # raises KeyboardInterrupt
            return
        self.hit = (signum, frame)
        self.waker.wake()

    def enter(self, waker: _reactor.Waker) -> bool:
        """Guard the calling thread's serving, if it is the main thread
        and SIGINT has the default handler (or already this guard)."""
        if self.waker is not None or _thread.get_ident() != threading.main_thread().ident:
            return False
        try:
            current = _getsignal(signal.SIGINT)
            if current is not self:
                if current is not signal.default_int_handler:
                    return False
                signal.signal(signal.SIGINT, self)
        except (ValueError, OSError):
            return False
        self.waker = waker
        return True

    def leave(self) -> None:
        """End the guard; raise the KeyboardInterrupt it held back."""
        self.waker = None
        if self.hit is not None:
            hit, self.hit = self.hit, None
            signal.default_int_handler(*hit)


_sigint_guard = _SigintGuard()


def wait_serving(
    process: ProcessBase,
    streams: int,
    reap: bool,
    done: _Awaitable,
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
        waker = waiter.waker = _take_waker()
    except OSError:
        process._unpark()  # the reactor serves it then
        return _wait_event(done, timeout)  # (EMFILE)
    waiter.polling = True
    lent: Optional[_reactor.Child] = None
    guarded = False
    try:
        while not done.is_set():
            period = _intr_slice(deadline)
            if period is None:
                return False
            if lent is None:
                # (again after -1: an SshProcess may have a new child)
                lent = process._lend(streams, reap, waker.fd)
                if lent is None:
                    break
                if not guarded:
                    guarded = _sigint_guard.enter(waker)
            n = lent.serve(period)
            if guarded and _sigint_guard.hit is not None:
                break  # raised below, once the fds are given back
            if n < 0:
                lent = None  # all served, or given back to the reactor, which asked
            elif n == 0:
                waker.clear()  # timed out, or woken (a match elsewhere, the reactor)
    finally:
        waiter.polling = False
        if lent is not None:
            lent.give_back(park)
        _put_back_waker(waker)
        if guarded:
            _sigint_guard.leave()  # may raise the KeyboardInterrupt it held back
    if done.is_set():
        return True
    return _wait_event(done, None if deadline is None else max(0.0, deadline - time.monotonic()))
