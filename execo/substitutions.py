"""Substitutions in the command lines of :class:`execo.action.Remote`,
:class:`execo.action.TaktukRemote` and in the paths of
:class:`execo.action.Put` and :class:`execo.action.Get`.

- ``{{{host}}}`` is replaced by the address of the host the string
  applies to;
- ``{{<expression>}}`` is replaced by
  ``<expression>[index % len(<expression>)]``, the expression being
  evaluated in the context (globals, locals) where the action was created
  (see :func:`get_caller_context`).

Only the strings given by the caller are evaluated, in the caller's own
context: this is the same trust as the caller's code. Host addresses are
data: ``{{{host}}}`` and the expressions are replaced in one pass over
the caller's string, so a replacement (a host address, an expression's
value) is never scanned again and never evaluated. Code that builds
action strings from data it did not write (the ``execo`` command, a
tool reading names from a file) creates its actions inside
:func:`no_expressions`: ``{{{host}}}`` is still replaced, every other
``{{...}}`` is kept as written (so ``docker inspect -f '{{.State.Running}}'``
stays as it is).
"""

from __future__ import annotations

import contextlib
import re
import sys
import threading
from types import CodeType
from typing import Any, Callable, Dict, Iterable, Iterator, Mapping, Match, Optional, Set, Tuple, TypeVar

_F = TypeVar("_F", bound=Callable[..., Any])

__all__ = [
    "remote_substitute",
    "get_caller_context",
    "frame_transparent",
    "SubstitutionError",
    "no_expressions",
    "NO_EXPRESSIONS",
    "NO_SUBSTITUTIONS",
]

_HOST_TAG = "{{{host}}}"
# one pass over the string: the host tag, or an expression (everything
# between {{ and the next }}); re.sub never rescans what it put in
_SUBST_RE = re.compile(r"(\{\{\{host\}\}\})|\{\{((?:(?!\}\}).)+)\}\}", re.DOTALL)


# tuple[...], not typing.Tuple[...]: that one would add typing.Generic to the bases
class _NoExpressions(tuple[Dict[str, Any], Dict[str, Any]]):
    """The type of :data:`NO_EXPRESSIONS` and :data:`NO_SUBSTITUTIONS`."""

    host: bool

    def __new__(cls, host: bool) -> "_NoExpressions":
        self = super().__new__(cls, ({}, {}))
        self.host = host  # whether {{{host}}} is still replaced
        return self

    def __repr__(self) -> str:
        return "NO_EXPRESSIONS" if self.host else "NO_SUBSTITUTIONS"


#: A ``frame_context`` for :func:`remote_substitute` meaning "evaluate
#: nothing": ``{{{host}}}`` is replaced, ``{{...}}`` is kept as written.
#: :func:`get_caller_context` returns it inside :func:`no_expressions`.
NO_EXPRESSIONS: Tuple[Dict[str, Any], Dict[str, Any]] = _NoExpressions(True)
#: A ``frame_context`` meaning "substitute nothing": the string is kept as
#: it is, ``{{{host}}}`` included. Returned inside
#: ``no_expressions(host=False)``.
NO_SUBSTITUTIONS: Tuple[Dict[str, Any], Dict[str, Any]] = _NoExpressions(False)

_policy = threading.local()


@contextlib.contextmanager
def no_expressions(host: bool = True) -> Iterator[None]:
    """Context manager: actions created inside it (in this thread) never
    evaluate ``{{<expression>}}``; only ``{{{host}}}`` is replaced, and
    with ``host=False`` not even that: every string is taken literally.

    For strings that come from data rather than from the program's own
    source (a command line typed to the ``execo`` command, file names
    from a directory listing, an inventory)::

        with no_expressions():
            action = Remote(command_from_user, hosts)
        with no_expressions(host=False):     # a file may be named {{{host}}}
            action = Put(hosts, os.listdir("results"), "/tmp")
    """
    previous = getattr(_policy, "context", None)
    _policy.context = NO_EXPRESSIONS if host else NO_SUBSTITUTIONS
    try:
        yield
    finally:
        _policy.context = previous


class SubstitutionError(ValueError):
    """An expression of a ``{{<expression>}}`` substitution could not be
    evaluated, or did not give a sequence.  The message names the
    expression; the original exception is chained (``__cause__``)."""

    def __init__(self, message: str, expression: Optional[str] = None) -> None:
        super(SubstitutionError, self).__init__(message)
        #: the expression (text between ``{{`` and ``}}``)
        self.expression = expression


def _host_address(host: object) -> str:
    address = getattr(host, "address", None)
    return str(host) if address is None else str(address)


def remote_substitute(
    string: str,
    all_hosts: Iterable[object],
    index: int,
    frame_context: Optional[Tuple[Optional[Dict[str, Any]], Optional[Mapping[str, Any]]]],
) -> str:
    """Perform some tag substitutions in a specific context.

    :param string: the string onto which to perfom the substitution.
    :param all_hosts: an iterable of :class:`execo.host.Host` which is the
      context into which the substitution will be made. all_hosts[index]
      is the :class:`execo.host.Host` to which this string applies.
      (Plain address strings are accepted too.)
    :param index: the index in all_hosts of the :class:`execo.host.Host`
      to which this string applies.
    :param frame_context: a tuple of mappings (globals, locals) in the
      context of which the expressions (if any) will be evaluated.

    - Replaces all occurences of the literal string ``{{{host}}}`` by the
      :class:`execo.host.Host` address itself (in the same pass as the
      expressions: an address is never scanned for expressions).
    - Replaces all occurences of ``{{<expression>}}`` in the following
      way: ``<expression>`` must be a python expression, which will be
      evaluated in the context of frame_context (globals and locals), and
      which must return a sequence. ``{{<expression>}}`` will be replaced
      by ``<expression>[index % len(<expression>)]``.

    Raises :class:`SubstitutionError` (a ValueError) naming the
    expression when it cannot be evaluated or does not give a sequence.
    With ``frame_context`` :data:`NO_EXPRESSIONS`, nothing is evaluated:
    ``{{<expression>}}`` is kept as written; with
    :data:`NO_SUBSTITUTIONS`, the string is returned as it is.
    """
    if not isinstance(string, str):
        raise TypeError("remote_substitute needs a str, not %r" % (type(string).__name__,))
    if "{{" not in string:
        return string
    evaluate = not isinstance(frame_context, _NoExpressions)
    if not evaluate and not frame_context.host:  # type: ignore[union-attr]
        return string
    host_address: Optional[str] = None
    glob: Optional[Dict[str, Any]] = None
    loc: Optional[Mapping[str, Any]] = None
    if evaluate:
        if frame_context is None:
            frame_context = ({}, {})
        glob, loc = frame_context
        if glob is None:
            glob = {}
        if loc is not None and loc is not glob and len(loc):
            # one namespace (locals over globals) as the globals of eval: a
            # comprehension or lambda in the expression then sees the
            # caller's locals too (with separate locals, it would not
            # before Python 3.12)
            namespace = dict(glob)
            namespace.update(loc)
            glob, loc = namespace, None

    def subst(mo: Match[str]) -> str:
        nonlocal host_address, all_hosts
        if mo.group(1) is not None:
            if host_address is None:
                if not isinstance(all_hosts, (list, tuple)):
                    all_hosts = list(all_hosts)
                host_address = _host_address(all_hosts[index])
            return host_address
        expression = mo.group(2)
        if not evaluate:
            return mo.group(0)
        try:
            sequence = eval(expression, glob) if loc is None else eval(expression, glob, loc)
        except Exception as e:
            raise SubstitutionError(
                "substitution of {{%s}}: evaluating %r raised %s: %s" % (expression, expression, type(e).__name__, e),
                expression,
            ) from e
        try:
            n = len(sequence)
            value = sequence[index % n]
        except ZeroDivisionError as e:
            raise SubstitutionError(
                "substitution of {{%s}}: %r is an empty sequence" % (expression, expression), expression
            ) from e
        except Exception as e:
            raise SubstitutionError(
                "substitution of {{%s}}: %r must evaluate to a sequence, not %r"
                % (expression, expression, type(sequence).__name__),
                expression,
            ) from e
        return str(value)

    return _SUBST_RE.sub(subst, string)


_transparent_codes: Set[CodeType] = set()


def frame_transparent(func: _F) -> _F:
    """Decorator: frames of ``func`` are skipped by
    :func:`get_caller_context` (for factories such as
    ``ActionFactory.get_remote`` which create actions on behalf of their
    caller)."""
    code = getattr(func, "__code__", None)
    if code is not None:
        _transparent_codes.add(code)
    return func


def get_caller_context(obj: object = None, depth: int = 0) -> Tuple[Dict[str, Any], Dict[str, Any]]:
    """Return a tuple (globals, locals) of the calling context.

    Call it from an action constructor: it returns the context of the code
    which created the action, going up from the caller of this function:

    - ``depth`` more frames;
    - then every frame whose local ``self`` is ``obj`` (the constructors of
      ``obj``'s class and of its base classes: ``Put.__init__`` calling
      ``Remote.__init__``...);
    - then every frame of a function marked with
      :func:`frame_transparent` (action factories).

    So a Remote created inside a user function sees that function's
    locals, and a Remote created by execo itself (inside ChainPut, ...)
    sees the locals of the execo function which created it.

    Inside :func:`no_expressions`, returns :data:`NO_EXPRESSIONS` (or
    :data:`NO_SUBSTITUTIONS`).
    """
    context: Optional[Tuple[Dict[str, Any], Dict[str, Any]]] = getattr(_policy, "context", None)
    if context is not None:
        return context
    frame = sys._getframe(1 + depth)
    while frame.f_back is not None:
        code = frame.f_code
        if code in _transparent_codes:
            frame = frame.f_back
            continue
        if obj is not None and "self" in code.co_varnames and frame.f_locals.get("self") is obj:
            frame = frame.f_back  # type: ignore[assignment]  # not None: loop condition
            continue
        break
    return (frame.f_globals, frame.f_locals)
