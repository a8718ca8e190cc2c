"""Small helpers shared by execo modules."""

from __future__ import annotations

import functools
import os
import random
import re
import shlex
import threading
import time
from typing import Any, Callable, Dict, Hashable, Iterable, Optional, Protocol, Tuple, TypeVar, Union, cast

from .config import checktty, configuration

__all__ = [
    'memoize',
    'get_port',
    'checktty',
    'str_from_cmdline',
    'name_from_cmdline',
    'singleton_to_collection',
    'compact_output',
]


_F = TypeVar("_F", bound=Callable[..., Any])


def _cache_key(args: Tuple[Any, ...], kwargs: Dict[str, Any]) -> Hashable:
    """A dict key for a call: the arguments themselves, or their repr if unhashable."""
    key: Hashable = (args, tuple(sorted(kwargs.items())))
    try:
        hash(key)
    except TypeError:
        key = repr(key)
    return key


def memoize(obj: _F) -> _F:
    """memoizing decorator

    works on functions, methods, or classes, and exposes the cache
    publicly as the ``cache`` attribute (a dict) of the decorated object.
    Calls with equal arguments return the first result. Unhashable
    arguments are keyed by their repr.

    warning: not thread-safe, but as dict is a primitive type, worst case
    race condition would be that the underlying obj is called two times
    for the same args/kwargs, and the cache is updated serially with both
    (necessarily identical) values for the same key.
    """
    cache: Dict[Hashable, Any] = {}

    # for a class, do not copy its __dict__ (methods...) onto the wrapper
    @functools.wraps(obj, updated=() if isinstance(obj, type) else functools.WRAPPER_UPDATES)
    def memoizer(*args: Any, **kwargs: Any) -> Any:
        key = _cache_key(args, kwargs)
        if key not in cache:
            cache[key] = obj(*args, **kwargs)
        return cache[key]

    memoizer.cache = cache  # type: ignore[attr-defined]  # the documented cache attribute
    return cast(_F, memoizer)


_port_lock = threading.Lock()
_last_port: Optional[int] = None


def get_port() -> int:
    """Thread safely returns a round-robbed port in the range ``configuration['port_range']``.

    The range (start inclusive, end exclusive) is read at each call, so
    changes to the configuration apply at once. The first port is chosen
    at random in the range (so that concurrent execo programs are less
    likely to pick the same ports), then each call returns the next one,
    wrapping around at the end of the range.
    """
    global _last_port
    start, end = configuration['port_range']
    if not (isinstance(start, int) and isinstance(end, int) and start < end):
        raise ValueError(
            "configuration['port_range'] must be (start, end) integers with"
            " start < end, not %r" % (configuration['port_range'],)
        )
    with _port_lock:
        if _last_port is None or not start <= _last_port < end:
            port = random.randrange(start, end)
        else:
            port = _last_port + 1
            if port >= end:
                port = start
        _last_port = port
        return port


def str_from_cmdline(cmd: Union[str, Iterable[object]]) -> str:
    """Return a command (str, or tuple/list of args) as a single shell-like string."""
    if isinstance(cmd, str):
        return cmd
    return " ".join(shlex.quote(str(arg)) for arg in cmd)


def _split_words(cmd: str) -> Tuple[str, ...]:
    """``shlex.split(cmd)``, cached for short commands: the same few are
    split again and again (once per host, at each run() of a loop), and
    shlex costs more than the rest of a Process's construction."""
    if len(cmd) > 4096:
        return tuple(shlex.split(cmd))  # (not kept: a cache bounded in entries, not in bytes)
    return _split_words_cached(cmd)


@functools.lru_cache(maxsize=256)
def _split_words_cached(cmd: str) -> Tuple[str, ...]:
    return tuple(shlex.split(cmd))


def name_from_cmdline(cmd: Union[str, Iterable[object]], max_length: Optional[int] = 39) -> str:
    """Return a short one-line name for a command (str or tuple/list of args).

    Whitespace runs (including newlines) become one space; a result longer
    than ``max_length`` is cut and ends with ``'...'``.
    """
    name = re.sub(r'\s+', ' ', str_from_cmdline(cmd)).strip()
    if max_length is not None and len(name) > max_length:
        if max_length <= 3:
            return name[:max_length]
        name = name[: max_length - 3] + "..."
    return name


def singleton_to_collection(arg: Any) -> Iterable[Any]:
    """Return ``arg`` as a collection: None -> [], a str or a non-iterable -> [arg]."""
    if arg is None:
        return []
    if isinstance(arg, (str, bytes)):
        return [arg]
    try:
        iter(arg)
    except TypeError:
        return [arg]
    return cast("Iterable[Any]", arg)  # iter(arg) worked: an iterable


def compact_output(s: str, threshold: Optional[int] = None) -> str:
    """Shorten a long output for display, keeping its beginning and end.

    ``threshold`` defaults to ``configuration['compact_output_threshold']``;
    0 or None means no shortening.
    """
    if threshold is None:
        threshold = configuration.get('compact_output_threshold')
    if not threshold or len(s) <= threshold:
        return s
    half = threshold // 2
    return s[:half] + "\n[...]\n" + s[len(s) - (threshold - half) :]


def _intr_slice(deadline: Optional[float]) -> Optional[float]:
    """How long the next blocking wait toward ``deadline`` (a
    ``time.monotonic()``, None: none) may last: at most
    ``configuration['intr_period']``, so that Ctrl-C reaches the main
    thread promptly; None once the deadline has passed."""
    period: float = configuration.get("intr_period") or 1
    if deadline is not None:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return None
        period = min(period, remaining)
    return period


class _Awaitable(Protocol):
    """What a wait is for: a ``threading.Event``, or anything with its
    ``is_set()`` and ``wait(timeout)``."""

    def is_set(self) -> bool: ...

    def wait(self, timeout: Optional[float] = None) -> bool: ...


def _wait_event(event: _Awaitable, timeout: Optional[float]) -> bool:
    """Wait for an event (a threading.Event, or what wait() of a process
    waits on: see ``_Awaitable``) with an optional timeout, waking every
    configuration['intr_period'] so that Ctrl-C is handled promptly.
    Returns True if the event is set. (What wait() and expect() of
    processes and actions block in.)"""
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        period = _intr_slice(deadline)
        if period is None:
            return event.is_set()
        if event.wait(period):
            return True


# ---------------------------------------------------------------- compatibility
# Names that execo 2.8.2's sister packages, execo_engine and execo_g5k,
# import from execo.utils. They are kept out of __all__: not new API.

MAXFD: int = os.sysconf("SC_OPEN_MAX") if "SC_OPEN_MAX" in os.sysconf_names else 1024
"""Compatibility name (execo_engine): the highest number of open fds of a
process (``SC_OPEN_MAX``, 1024 where the system does not say)."""


def comma_join(*args: str) -> str:
    """Compatibility name (execo_g5k): the non-empty strings of ``args``
    joined by ``", "``."""
    return ", ".join(arg for arg in args if len(arg) > 0)


def checked_min(a: Any, b: Any) -> Any:
    """Compatibility name (execo_g5k): the smaller of ``a`` and ``b``,
    ignoring a None one (None if both are None)."""
    if a is None:
        return b
    if b is None:
        return a
    return min(a, b)


_do_once_results: Dict[Tuple[Any, Any], Any] = {}
_do_once_lock = threading.Lock()


def do_once(key: Hashable, func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Compatibility name (execo_g5k): call ``func(*args, **kwargs)`` the
    first time it is given with ``key``, and return that first result for
    every later call with the same ``func`` and ``key``."""
    k = (func, key)
    with _do_once_lock:
        if k in _do_once_results:
            return _do_once_results[k]
    result = func(*args, **kwargs)
    with _do_once_lock:
        return _do_once_results.setdefault(k, result)


def is_string(s: object) -> bool:
    """Compatibility name (execo_g5k): whether ``s`` is a ``str``."""
    return isinstance(s, str)
