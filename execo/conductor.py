"""The conductor: execo's one reactor thread, shared by all processes.

The compiled :mod:`execo._reactor` does the mechanism (fds, children,
timers); this module owns its lifecycle:

- the reactor thread is started when execo is imported (daemon, named
  ``execo-reactor``);
- after ``os.fork()`` the child gets a fresh, unstarted reactor (the
  parent's children are not the child's to reap), started on first use;
- at interpreter exit, with ``configuration['kill_childs_at_end']``, every
  live child (its whole process group when it has one) gets SIGTERM;
- the RLIMIT_NOFILE soft limit is raised to the hard limit, since every
  running child costs file descriptors (three pipes and a pidfd; no
  pidfd once the fd table is 3/4 full: see the reactor).
"""

from __future__ import annotations

import atexit
import os
import resource
import signal
import threading
from typing import Optional

from . import _reactor
from .config import configuration
from .log import logger

_lock = threading.Lock()
_reactor_obj: Optional[_reactor.Reactor] = None
_kill_at_end = bool(configuration.get("kill_childs_at_end", True))


def _raise_fd_limit() -> None:
    try:
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if hard == resource.RLIM_INFINITY or soft < hard:
            target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    except (ValueError, OSError):  # pragma: no cover - exotic platforms
        pass


def _log_reactor_error(exc: BaseException) -> None:
    logger.error("exception in execo's reactor thread (the loop goes on)",
                 exc_info=(type(exc), exc, exc.__traceback__))


def _start_reactor() -> _reactor.Reactor:
    r = _reactor.Reactor(poller=configuration.get("poller", "auto"),
                         child_watcher=configuration.get("child_watcher", "auto"))
    r.error_handler = _log_reactor_error
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
    global _reactor_obj, _lock
    old = _reactor_obj
    _reactor_obj = None
    _lock = threading.Lock()
    if old is not None:
        old.forget_after_fork()


def _kill_children_at_exit() -> None:
    r = _reactor_obj
    if r is None or not _kill_at_end:
        return
    for child in r.live_children():
        child.signal(signal.SIGTERM, True)


_raise_fd_limit()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
atexit.register(_kill_children_at_exit)
get_reactor()
