"""The conductor: execo's one reactor thread, shared by all processes.

The compiled :mod:`execo._reactor` does the mechanism (fds, children,
timers); this module owns its lifecycle:

- the reactor thread is started when execo is imported (daemon, named
  ``execo-reactor``);
- after ``os.fork()`` the child gets a fresh, unstarted reactor (the
  parent's children are not the child's to reap), started on first use;
- at interpreter exit, with ``configuration['kill_childs_at_end']``, every
  live child (its whole process group when it has one) gets SIGTERM;
- with that same key, a watchdog process (:mod:`execo.watchdog`) is
  started at the first spawn (not at import) and told of every child
  spawned and reaped: when this process dies, however it dies (SIGKILL
  included), the watchdog sends SIGTERM to the children still registered,
  then SIGKILL after ``configuration['kill_timeout']``, then exits. After
  a normal exit it finds the children already signalled and reaped, and
  exits at once. If it dies while the script runs, a new one is started
  (at most once per 5 s) and told of the live children;
- the RLIMIT_NOFILE soft limit is raised to the hard limit, since every
  running child costs file descriptors (three pipes and a pidfd; no
  pidfd once the fd table is 3/4 full: see the reactor).
"""

from __future__ import annotations

import atexit
import os
import resource
import signal
import sys
import threading
import time
from typing import Optional

from . import _reactor, watchdog
from .config import configuration
from .log import logger
from .time_utils import get_seconds

_lock = threading.Lock()
_reactor_obj: Optional[_reactor.Reactor] = None
_kill_at_end = bool(configuration.get("kill_childs_at_end", True))
_watchdog_lock = threading.Lock()
_watchdog_next_try = 0.0  # monotonic time before which no start is tried
WATCHDOG_RETRY = 5.0
"""Seconds between two attempts to start a watchdog (after a failure, or
after the previous one died)."""


def _raise_fd_limit() -> None:
    try:
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if hard == resource.RLIM_INFINITY or soft < hard:
            target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    except (ValueError, OSError):  # pragma: no cover - exotic platforms
        pass


def _log_reactor_error(exc: BaseException) -> None:
    logger.error("exception in execo's reactor thread (the loop goes on)", exc_info=(type(exc), exc, exc.__traceback__))


def _watchdog_possible() -> bool:
    # a frozen or embedded program's sys.executable is not a python that
    # can run a script
    return bool(sys.executable) and not getattr(sys, "frozen", False)


def _start_watchdog(r: _reactor.Reactor) -> None:
    """The reactor's ``watchdog_starter``: called at a spawn while no
    watchdog runs (from any thread)."""
    global _watchdog_next_try
    with _watchdog_lock:
        if r.watchdog_pid or time.monotonic() < _watchdog_next_try:
            return
        _watchdog_next_try = time.monotonic() + WATCHDOG_RETRY
        try:
            grace = get_seconds(configuration.get("kill_timeout"))
        except (TypeError, ValueError):
            grace = 60.0
        try:
            pid = r.start_watchdog(watchdog.command(os.getpid(), grace))
        except OSError as e:
            logger.warning(
                "could not start execo's watchdog (%s): the processes running now"
                " would survive a killed script; retrying in %ss",
                e,
                WATCHDOG_RETRY,
            )
            r.call_later(WATCHDOG_RETRY, _retry_watchdog, r)
            return
        logger.debug("execo's watchdog started: pid %s", pid)


def _retry_watchdog(r: _reactor.Reactor) -> None:
    if r is _reactor_obj and not r.watchdog_pid and r.live_children():
        _start_watchdog(r)


def _on_watchdog_exit(pid: int, code: int) -> None:
    """The reactor's ``watchdog_exit_handler`` (reactor thread)."""
    r = _reactor_obj
    if r is None:
        return
    logger.warning(
        "execo's watchdog (pid %s) ended with status %s while this process runs; a new one is started", pid, code
    )
    r.call_later(max(0.0, _watchdog_next_try - time.monotonic()), _retry_watchdog, r)


def _start_reactor() -> _reactor.Reactor:
    r = _reactor.Reactor(
        poller=configuration.get("poller", "auto"), child_watcher=configuration.get("child_watcher", "auto")
    )
    r.error_handler = _log_reactor_error
    if _kill_at_end and _watchdog_possible():
        r.watchdog_starter = _start_watchdog
        r.watchdog_exit_handler = _on_watchdog_exit
    t = threading.Thread(target=r.run, name="execo-reactor", daemon=True)
    t.start()
    return r


def get_reactor() -> _reactor.Reactor:
    """The process-wide :class:`execo._reactor.Reactor`, started if needed."""
    global _reactor_obj
    r = _reactor_obj
    if r is None:
        with _lock:
            if _reactor_obj is None:
                _reactor_obj = _start_reactor()
            r = _reactor_obj
    return r


def _after_fork_in_child() -> None:
    global _reactor_obj, _lock, _watchdog_lock, _watchdog_next_try
    old = _reactor_obj
    _reactor_obj = None
    _lock = threading.Lock()
    _watchdog_lock = threading.Lock()
    _watchdog_next_try = 0.0
    if old is not None:
        # closes our copy of the parent's watchdog pipe too: the child
        # gets its own watchdog at its first spawn
        old.forget_after_fork()


def _kill_children_at_exit() -> None:
    r = _reactor_obj
    if r is None or not _kill_at_end:
        return
    watched = r.watchdog_pid != 0
    for child in r.live_children():
        if watched and child.farewell is not None:
            continue  # the watchdog gives it its farewell first (taktuk)
        child.signal(signal.SIGTERM, True)
    # the children reaped since the loop's last iteration: the watchdog
    # must know them reaped before it reads end of file
    r.flush_watchdog()


_raise_fd_limit()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
atexit.register(_kill_children_at_exit)
get_reactor()
