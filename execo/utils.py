"""Small helpers shared by execo modules."""

import functools
import random
import re
import shlex
import threading

from .config import configuration, checktty

__all__ = ['memoize', 'get_port', 'checktty', 'str_from_cmdline', 'name_from_cmdline',
           'singleton_to_collection', 'compact_output']


def _cache_key(args, kwargs):
    """A dict key for a call: the arguments themselves, or their repr if unhashable."""
    key = (args, tuple(sorted(kwargs.items())))
    try:
        hash(key)
    except TypeError:
        key = repr(key)
    return key


def memoize(obj):
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
    cache = {}

    # for a class, do not copy its __dict__ (methods...) onto the wrapper
    @functools.wraps(obj, updated=() if isinstance(obj, type) else functools.WRAPPER_UPDATES)
    def memoizer(*args, **kwargs):
        key = _cache_key(args, kwargs)
        if key not in cache:
            cache[key] = obj(*args, **kwargs)
        return cache[key]

    memoizer.cache = cache
    return memoizer


_port_lock = threading.Lock()
_last_port = None


def get_port():
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
        raise ValueError("configuration['port_range'] must be (start, end) integers with"
                         " start < end, not %r" % (configuration['port_range'],))
    with _port_lock:
        if _last_port is None or not start <= _last_port < end:
            port = random.randrange(start, end)
        else:
            port = _last_port + 1
            if port >= end:
                port = start
        _last_port = port
        return port


def str_from_cmdline(cmd):
    """Return a command (str, or tuple/list of args) as a single shell-like string."""
    if isinstance(cmd, str):
        return cmd
    return " ".join(shlex.quote(str(arg)) for arg in cmd)


def name_from_cmdline(cmd, max_length=39):
    """Return a short one-line name for a command (str or tuple/list of args).

    Whitespace runs (including newlines) become one space; a result longer
    than ``max_length`` is cut and ends with ``'...'``.
    """
    name = re.sub(r'\s+', ' ', str_from_cmdline(cmd)).strip()
    if max_length is not None and len(name) > max_length:
        if max_length <= 3:
            return name[:max_length]
        name = name[:max_length - 3] + "..."
    return name


def singleton_to_collection(arg):
    """Return ``arg`` as a collection: None -> [], a str or a non-iterable -> [arg]."""
    if arg is None:
        return []
    if isinstance(arg, (str, bytes)):
        return [arg]
    try:
        iter(arg)
    except TypeError:
        return [arg]
    return arg


def compact_output(s, threshold=None):
    """Shorten a long output for display, keeping its beginning and end.

    ``threshold`` defaults to ``configuration['compact_output_threshold']``;
    0 or None means no shortening.
    """
    if threshold is None:
        threshold = configuration.get('compact_output_threshold')
    if not threshold or len(s) <= threshold:
        return s
    half = threshold // 2
    return s[:half] + "\n[...]\n" + s[len(s) - (threshold - half):]
