"""The start queue: when a child of execo may be spawned.

Every running child costs fds in this process (3 pipes and a pidfd, see
:meth:`execo._reactor.Reactor.spawn_fd_cost`).  Over thousands of hosts
whose commands overlap in time, spawning every child at once would
exhaust the fd table and fail the last hosts with ``EMFILE``.  Like
``clush -f`` and parallel-ssh's ``pool_size``, execo makes the start of a
child a request for a slot instead; a start that cannot have one now
waits, in order, until a running child of execo ends.

A slot is granted when all of these hold:

- the process's fan-out window, if any (an action's ``fanout``: at most
  that many of the action's processes run at once), has room;
- ``configuration['fanout']``, if not None, is more than the number of
  execo's children running now;
- the fds held by execo's running children plus the new child's stay
  within the fd budget: the ``RLIMIT_NOFILE`` soft limit minus a margin
  (:func:`fd_margin`: ``max(64, 5%`` of the limit``)``) left for the
  application's own files and sockets and for the reactor's own fds.

When no child of execo runs, a start is never delayed: there is nothing
to wait for, and an fd table filled by the application itself makes the
spawn fail with ``EMFILE`` as the process's ``error_reason``.  A spawn
that fails with ``EMFILE``/``ENFILE`` while children of execo run (the
application holds more fds than the margin) waits for the next end
instead, at the head of the queue.

This module is the policy; the reactor only says what a child costs.
The state is process-wide (one fd table) and guarded by one lock; it is
reset in a forked child (:func:`os.register_at_fork`).
"""

from __future__ import annotations

import collections
import os
import resource
import threading
from typing import TYPE_CHECKING, Any, Deque, List, Optional

from .conductor import get_reactor
from .config import configuration
from .log import logger

if TYPE_CHECKING:
    from .local_process import Process

__all__ = ["Window", "fd_margin", "fd_budget", "running_count"]

# a process's place (its ``_slot_state``)
IDLE = 0  # not queued, holds nothing (not started, ended, or cancelled)
WINDOW = 1  # waits for room in its fan-out window
BUDGET = 2  # holds its window slot, waits for the fd budget / global fanout
GRANTED = 3  # holds a slot: spawning, or running until its end


class Window:
    """A fan-out window: at most ``limit`` of its processes hold a slot
    (spawned and not ended) at once; the others wait in order.  An
    action with ``fanout=N`` gives its processes one window."""

    __slots__ = ("limit", "used", "waiting")

    def __init__(self, limit: int) -> None:
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise ValueError("a fan-out window must be an int >= 1, not %r" % (limit,))
        self.limit = limit
        self.used = 0
        self.waiting: Deque[Process] = collections.deque()

    def __repr__(self) -> str:
        return "Window(limit=%d, used=%d, waiting=%d)" % (self.limit, self.used, len(self.waiting))


_lock = threading.Lock()
_waiting: Deque[Process] = collections.deque()  # state BUDGET, in order
_running = 0  # processes in state GRANTED
_fds = 0  # the fds they hold (their cost when granted)
_ends = 0  # how many slots were given back (a generation)


def fd_margin(limit: int) -> int:
    """The fds left to the application (and to the reactor itself) under
    an fd limit of ``limit``: ``max(64, limit // 20)``."""
    return max(64, limit // 20)


def fd_budget() -> Optional[int]:
    """How many fds execo's running children may hold together now (None:
    no fd limit)."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return None
    return max(0, soft - fd_margin(soft))


def running_count() -> int:
    """How many children of execo hold a slot (spawned or being spawned,
    not ended)."""
    return _running


def _cost() -> int:
    return get_reactor().spawn_fd_cost()


def _room(cost: int) -> bool:
    """``_lock`` (this module's) held: may one more child holding ``cost`` fds run now?"""
    if _running == 0:
        return True
    fanout = configuration.get("fanout")
    if fanout is not None and _running >= fanout:
        return False
    budget = fd_budget()
    return budget is None or _fds + cost <= budget


def _grant(p: Process, cost: int) -> None:
    global _running, _fds
    _running += 1
    _fds += cost
    p._slot_cost = cost
    p._slot_state = GRANTED


def request(p: Process) -> bool:
    """A start (the process's ``_lock`` held): True if ``p`` may be spawned
    now (it holds a slot), False if it was queued (it is spawned later by
    whoever frees a slot, through :func:`release`)."""
    cost = _cost()
    with _lock:
        w = p._fanout_window
        if w is not None:
            if w.used >= w.limit or _head(w.waiting):
                p._slot_state = WINDOW
                w.waiting.append(p)
                return False
            w.used += 1
            p._holds_window = True
        if (_waiting and _head(_waiting)) or not _room(cost):
            p._slot_state = BUDGET
            _waiting.append(p)
            return False
        _grant(p, cost)
        return True


def _head(queue: Deque[Process]) -> Deque[Process]:
    """``_lock`` (this module's) held: drop the cancelled processes at the head of a queue."""
    while queue and queue[0]._slot_state not in (WINDOW, BUDGET):
        queue.popleft()
    return queue


def ends() -> int:
    """The generation of slot releases (see :func:`after_emfile`)."""
    return _ends


def after_emfile(p: Process, ends_seen: int) -> str:
    """A granted spawn failed with EMFILE/ENFILE: give the slot back and
    say what to do: ``'fail'`` (no child of execo runs: the fds are the
    application's), ``'retry'`` (a slot was released since the attempt)
    or ``'queued'`` (``p`` waits at the head of the queue)."""
    global _running, _fds
    with _lock:
        if p._slot_state == GRANTED:
            _running -= 1
            _fds -= p._slot_cost
            p._slot_state = BUDGET  # keeps its window slot
        if _running == 0:
            _running += 1
            _fds += p._slot_cost
            p._slot_state = GRANTED
            return "fail"
        if _ends != ends_seen:
            _grant(p, p._slot_cost)
            return "retry"
        _waiting.appendleft(p)
        return "queued"


def release(p: Process) -> List[Process]:
    """``p`` ended (or will never be spawned): give back what it holds.
    Returns the processes that now hold a slot, to be spawned by the
    caller (outside any process lock)."""
    global _running, _fds, _ends
    with _lock:
        if p._slot_state == GRANTED:
            _running -= 1
            _fds -= p._slot_cost
            _ends += 1
        p._slot_state = IDLE
        w = p._fanout_window
        if p._holds_window and w is not None:
            p._holds_window = False
            w.used -= 1
        return _pump(w)


def cancel(p: Process) -> Optional[List[Process]]:
    """Take a queued process out of the queue (a kill before its spawn).
    Returns None if ``p`` was not queued (not started, already granted),
    else the processes that now hold a slot (as :func:`release`)."""
    with _lock:
        if p._slot_state not in (WINDOW, BUDGET):
            return None
    return release(p)  # it holds no slot; maybe a window's (BUDGET)


def _pump(w: Optional[Window]) -> List[Process]:
    """``_lock`` (this module's) held: move the heads of ``w`` into the budget queue while the
    window has room, then grant slots to the heads of the budget queue
    while the budget has room."""
    if w is not None:
        while _head(w.waiting) and w.used < w.limit:
            q = w.waiting.popleft()
            w.used += 1
            q._holds_window = True
            q._slot_state = BUDGET
            _waiting.append(q)
    ready: List[Process] = []
    if not _waiting or not _head(_waiting):
        return ready
    cost = _cost()
    while _head(_waiting) and _room(cost):
        q = _waiting.popleft()
        _grant(q, cost)
        ready.append(q)
    return ready


_tls = threading.local()


def spawn_all(ready: List[Any]) -> None:
    """Spawn the processes :func:`release` granted a slot to.  A spawn
    that fails at once releases its slot and grants the next one from
    within this loop: those are queued here instead of recursing (a long
    queue of commands that cannot be executed would exhaust the stack)."""
    if not ready:
        return  # (most ends: no queued process)
    pending = getattr(_tls, "pending", None)
    if pending is not None:
        pending.extend(ready)
        return
    _tls.pending = pending = collections.deque(ready)
    try:
        while pending:
            q = pending.popleft()
            try:
                q._spawn_granted()
            except Exception:
                logger.exception("error spawning %s", q)
    finally:
        _tls.pending = None


def _reset_after_fork() -> None:
    global _lock, _waiting, _running, _fds, _ends
    _lock = threading.Lock()
    _waiting = collections.deque()
    _running = _fds = _ends = 0
    _tls.pending = None


os.register_at_fork(after_in_child=_reset_after_fork)
