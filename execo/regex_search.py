"""How expect() searches output: bounded in time, without stalling the
interpreter, with the results of :mod:`re`.

CPython's :mod:`re` is a backtracking engine that holds the GIL for a
whole search and cannot be interrupted. On hostile output some patterns
take for ever: ``^(a+)+$`` on forty ``a`` then ``b`` is exponential, and
even a single repetition followed by something that fails is quadratic
(``(\\d+) bytes`` over 64 KiB of digits: 34 s here; ``(\\w+) bytes`` over
64 KiB of ordinary 64-character lines: 48 ms per read, where a literal
takes 36 us). Meanwhile no other thread runs: not the reactor, not the
handlers, not the caller of expect(), whose timeout is not honoured.

So a pattern is searched with :mod:`re`, as given, only when every match
attempt is provably short: no repetition of variable length (``*``,
``+``, ``{m,n}``, except ``?``) and at most :data:`MAX_PATHS` ways through
the pattern (alternatives, optional parts). Literal markers, prompts and
alternations of words are such patterns. Any other pattern is searched
with the `regex <https://pypi.org/project/regex/>`_ module, which
releases the GIL while it searches (the interpreter stays responsive),
accepts a ``timeout`` (expect() gives it what is left of its own), and
avoids most catastrophic backtracking by itself.

The pattern given to :mod:`regex` is not the user's text: it is written
back from :mod:`re`'s own parse of it, so that a search finds exactly
what :mod:`re` would (same spans, same groups). Where the two modules
define a class differently (re's ``\\w`` holds 895 characters regex's
does not, such as ``²``, and lacks 16,713 it has, such as combining
accents; re's ``\\s`` holds ``\\x1c``-``\\x1f``, regex's does not; ``\\d``
differs on 110 characters; ``\\B`` never matches an empty text in re),
the written pattern spells out re's classes. It does so only for texts
that hold such characters (non-ASCII text, or ``\\x1c``-``\\x1f`` for a
pattern with ``\\s``): the spelled-out classes cost some milliseconds to
compile, once per pattern. With IGNORECASE, re matches ``I``, ``i``,
``İ`` and ``ı`` in its own way (it lowercases): the written pattern
does too, except in a backreference.

Before either module runs, a text is searched for the pattern's literal
prefix (:func:`literal_prefix`: ``"THE_MARKER"`` of ``THE_MARKER \\d+``)
with libc's memmem; without it there is no match, and the (slower) search
is skipped. That is the common case of an expect() waiting for a marker
in a big output: each chunk is looked at by memmem only.

A pattern given as a string that holds none of re's special characters
(``.^$*+?{}[]\\|()``), the usual marker or prompt, matches exactly
itself: it is a :class:`LiteralPattern`, searched with memmem alone and never
compiled (compiling a new pattern costs more than a quarter of an
interactive expect() round trip whose marker changes each time). Its
match is a :class:`LiteralMatch`, with re's interface; its ``re`` is
compiled when first asked for.

Other patterns are compiled and validated by :mod:`re` (a bad regex
raises :class:`re.error` at the expect() call, compiled
:class:`re.Pattern` objects work as before); a match found through
:mod:`regex` is handed over as a :class:`RegexMatch`, which behaves like
re's match object (``re`` is the user's pattern). Without the
:mod:`regex` module installed, every pattern is searched with :mod:`re`
and the risk above remains.
"""

from __future__ import annotations

import functools
import importlib
import re
from typing import TYPE_CHECKING, Any, Dict, List, Match, Optional, Pattern, Sequence, Tuple, Union

from ._reactor import find_text
from .log import logger

# re's parser (private; the structure of its parse is stable since 3.7,
# and anything this module does not know stays with re)
try:  # Python >= 3.11
    _sc: Any = importlib.import_module("re._constants")
    _sp: Any = importlib.import_module("re._parser")
except ImportError:  # pragma: no cover (Python 3.9, 3.10)
    _sc = importlib.import_module("sre_constants")
    _sp = importlib.import_module("sre_parse")

#: the most ways through a pattern (alternatives, optional parts) that
#: still counts as bounded: searched with re (a search then costs at most
#: this many short attempts per character)
MAX_PATHS = 16

# the regex module, imported when a pattern first needs it (an import
# changes the heap of a fresh interpreter enough to slow the collection
# of big outputs by some 20%: not paid for literal patterns); None: not
# yet, False: not installed
_regex: Any = None
_MAXREPEAT = int(_sc.MAXREPEAT)
_ATOMIC_GROUP = getattr(_sc, "ATOMIC_GROUP", None)
_POSSESSIVE_REPEAT = getattr(_sc, "POSSESSIVE_REPEAT", None)
_INFINITE = MAX_PATHS + 1


def _regex_module() -> Any:
    """The regex module (imported on first use), or None."""
    global _regex
    if _regex is None:
        try:
            import regex
        except ImportError:  # pragma: no cover (a dependency; tested by forcing it off)
            _regex = False
        else:
            _regex = regex
    return _regex or None


def regex_available() -> bool:
    """Whether the :mod:`regex` module is there (else: :mod:`re` only)."""
    return _regex_module() is not None


class _Untranslatable(Exception):
    """A parse tree this module cannot write for regex (then: re)."""


# ------------------------------------------------------------ bounded?


def _paths(data: Sequence[Tuple[Any, Any]]) -> int:
    """An upper bound of the ways a match attempt can go through a
    parsed (sub)pattern, _INFINITE past MAX_PATHS or with a repetition
    of variable length."""
    total = 1
    for op, av in data:
        if op in (
            _sc.LITERAL,
            _sc.NOT_LITERAL,
            _sc.ANY,
            _sc.IN,
            _sc.AT,
            _sc.GROUPREF,
            _sc.CATEGORY,
            _sc.SUCCESS,
            _sc.FAILURE,
        ):
            n = 1
        elif op is _sc.BRANCH:
            n = sum(_paths(alt) for alt in av[1])
        elif op is _sc.SUBPATTERN:
            n = _paths(av[-1])
        elif op in (_sc.ASSERT, _sc.ASSERT_NOT):
            n = _paths(av[1])
        elif op is _ATOMIC_GROUP:
            n = _paths(av)
        elif op is _sc.GROUPREF_EXISTS:
            n = _paths(av[1]) + (_paths(av[2]) if av[2] else 1)
        elif op in (_sc.MAX_REPEAT, _sc.MIN_REPEAT, _POSSESSIVE_REPEAT):
            lo, hi, body = int(av[0]), int(av[1]), av[2]
            if hi == _MAXREPEAT or (hi > 1 and hi != lo):
                return _INFINITE  # an attempt may run over the whole text
            inner = _paths(body)
            if hi != lo:  # x?: with or without x
                n = inner + 1
            elif inner == 1:  # x{n} of a fixed x
                n = 1
            elif hi > MAX_PATHS:
                return _INFINITE
            else:
                n = inner**hi
        else:
            return _INFINITE
        total = min(_INFINITE, total * n)
        if total >= _INFINITE:
            return _INFINITE
    return total


# --------------------------------------------------- re's classes, exactly

_CLASS_CACHE: Dict[Tuple[str, bool], List[Tuple[int, int]]] = {}


def _class_ranges(category: str, ascii_only: bool) -> List[Tuple[int, int]]:
    """The code point ranges re puts in ``\\w``, ``\\s`` or ``\\d``
    (category 'w', 's', 'd'), found by re itself over every code point."""
    key = (category, ascii_only)
    ranges = _CLASS_CACHE.get(key)
    if ranges is None:
        flags: int
        if ascii_only:
            text = "".join(map(chr, range(128)))
            flags = re.ASCII
        else:
            text = "".join(map(chr, range(0x110000)))
            flags = 0
        ranges = [(m.start(), m.end() - 1) for m in re.finditer("\\%s+" % (category,), text, flags)]
        _CLASS_CACHE[key] = ranges
    return ranges


def _complement(ranges: List[Tuple[int, int]]) -> List[Tuple[int, int]]:
    out = []
    prev = 0
    for a, b in ranges:
        if a > prev:
            out.append((prev, a - 1))
        prev = b + 1
    if prev <= 0x10FFFF:
        out.append((prev, 0x10FFFF))
    return out


def _char(c: int) -> str:
    """A code point written for regex, inside or outside a set."""
    if c < 128 and chr(c).isalnum():
        return chr(c)
    return "\\u%04x" % c if c < 0x10000 else "\\U%08x" % c


def _set_items(ranges: List[Tuple[int, int]]) -> str:
    return "".join(_char(a) if a == b else "%s-%s" % (_char(a), _char(b)) for a, b in ranges)


_CATEGORIES = {
    # re's category: (letter, negated)
    "CATEGORY_DIGIT": ("d", False),
    "CATEGORY_NOT_DIGIT": ("d", True),
    "CATEGORY_SPACE": ("s", False),
    "CATEGORY_NOT_SPACE": ("s", True),
    "CATEGORY_WORD": ("w", False),
    "CATEGORY_NOT_WORD": ("w", True),
}


# ------------------------------------------------------------ writing


class _Writer(object):
    """Writes a parsed re pattern back as a regex pattern.

    ``exact``: spell out re's classes (for texts where the two modules'
    classes differ); else use regex's own ``\\w \\s \\d \\b`` (same as
    re's on ASCII text without ``\\x1c``-``\\x1f``)."""

    def __init__(self, names: Dict[int, str], exact: bool) -> None:
        self.names = names
        self.exact = exact

    def seq(self, data: Sequence[Tuple[Any, Any]], flags: int) -> str:
        return "".join(self.item(op, av, flags) for op, av in data)

    def category(self, name: str, flags: int, in_set: bool) -> str:
        letter, negated = _CATEGORIES[name]
        if not self.exact:
            return "\\" + (letter.upper() if negated else letter)
        ranges = _class_ranges(letter, bool(flags & re.ASCII))
        if in_set:
            return _set_items(_complement(ranges) if negated else ranges)
        return "[%s%s]" % ("^" if negated else "", _set_items(ranges))

    def word_boundary(self, flags: int, negated: bool) -> str:
        if not self.exact:
            return "(?!\\A\\Z)\\B" if negated else "\\b"
        w = self.category("CATEGORY_WORD", flags, False)
        if negated:
            # re: \B never matches in an empty text
            return "(?!\\A\\Z)(?:(?<=%s)(?=%s)|(?<!%s)(?!%s))" % (w, w, w, w)
        return "(?:(?<=%s)(?!%s)|(?<!%s)(?=%s))" % (w, w, w, w)

    def item(self, op: Any, av: Any, flags: int) -> str:
        if op is _sc.LITERAL:
            return _case_fixed(_char(av), flags) if chr(av) in _TURKISH_I else _char(av)
        if op is _sc.NOT_LITERAL:
            return _case_fixed("[^%s]" % (_char(av),), flags) if chr(av) in _TURKISH_I else "[^%s]" % (_char(av),)
        if op is _sc.ANY:
            return "."
        if op is _sc.IN:
            negate = ""
            parts = []
            for iop, iav in av:
                if iop is _sc.NEGATE:
                    negate = "^"
                elif iop is _sc.LITERAL:
                    parts.append(_char(iav))
                elif iop is _sc.RANGE:
                    parts.append("%s-%s" % (_char(iav[0]), _char(iav[1])))
                elif iop is _sc.CATEGORY and str(iav) in _CATEGORIES:
                    parts.append(self.category(str(iav), flags, True))
                else:
                    raise _Untranslatable(str(iop))
            return _case_fixed("[%s%s]" % (negate, "".join(parts)), flags)
        if op is _sc.AT:
            name = str(av)
            if name == "AT_BEGINNING":
                return "^"
            if name == "AT_BEGINNING_STRING":
                return "\\A"
            if name == "AT_END":
                return "$"
            if name == "AT_END_STRING":
                return "\\Z"
            if name == "AT_BOUNDARY":
                return self.word_boundary(flags, False)
            if name == "AT_NON_BOUNDARY":
                return self.word_boundary(flags, True)
            raise _Untranslatable(name)
        if op is _sc.BRANCH:
            return "(?:%s)" % ("|".join(self.seq(alt, flags) for alt in av[1]),)
        if op is _sc.SUBPATTERN:
            group, add, delete, body = av
            add = add or 0
            delete = delete or 0
            if (add | delete) & re.ASCII:
                # re's scoped (?a:...) leaves \W \D \S matching no
                # non-ASCII character (a quirk of its charsets): not
                # reproduced, such patterns stay with re
                raise _Untranslatable("scoped ASCII flag")
            inner_flags = (flags | add) & ~delete
            if group is not None:
                group_name = self.names.get(group)
                head = "(?P<%s>" % (group_name,) if group_name else "("
                return "%s%s)" % (head, self.seq(body, inner_flags))
            return "(?%s%s:%s)" % (
                _letters(add),
                "-" + _letters(delete) if _letters(delete) else "",
                self.seq(body, inner_flags),
            )
        if op in (_sc.MAX_REPEAT, _sc.MIN_REPEAT, _POSSESSIVE_REPEAT):
            lo, hi, body = av
            lo, hi = int(lo), int(hi)
            if hi == _MAXREPEAT:
                count = "{%d,}" % (lo,)
            elif lo == hi:
                count = "{%d}" % (lo,)
            else:
                count = "{%d,%d}" % (lo, hi)
            suffix = "?" if op is _sc.MIN_REPEAT else "+" if op is _POSSESSIVE_REPEAT else ""
            if op is _POSSESSIVE_REPEAT and _has_group(body):
                # re's groups inside a possessive repetition come out
                # oddly (empty, or "span of capturing group is wrong")
                raise _Untranslatable("group in a possessive repetition")
            return "(?:%s)%s%s" % (self.seq(body, flags), count, suffix)
        if op is _sc.GROUPREF:
            ref_name = self.names.get(av)
            return "(?P=%s)" % (ref_name,) if ref_name else "\\g<%d>" % (av,)
        if op is _sc.GROUPREF_EXISTS:
            group, yes, no = av
            return "(?(%d)%s%s)" % (group, self.seq(yes, flags), "|" + self.seq(no, flags) if no else "")
        if op in (_sc.ASSERT, _sc.ASSERT_NOT):
            direction, body = av
            kind = "=" if op is _sc.ASSERT else "!"
            return "(?%s%s%s)" % ("<" if direction < 0 else "", kind, self.seq(body, flags))
        if op is _ATOMIC_GROUP:
            return "(?>%s)" % (self.seq(av, flags),)
        if op is _sc.FAILURE:
            return "(?!)"
        if op is _sc.SUCCESS:
            return ""
        raise _Untranslatable(str(op))


def _subsequences(op: Any, av: Any) -> List[Any]:
    """The parsed sequences inside one item of a parse."""
    if op is _sc.BRANCH:
        return list(av[1])
    if op is _sc.SUBPATTERN:
        return [av[-1]]
    if op in (_sc.MAX_REPEAT, _sc.MIN_REPEAT, _POSSESSIVE_REPEAT):
        return [av[2]]
    if op in (_sc.ASSERT, _sc.ASSERT_NOT):
        return [av[1]]
    if op is _ATOMIC_GROUP:
        return [av]
    if op is _sc.GROUPREF_EXISTS:
        return [av[1]] + ([av[2]] if av[2] else [])
    return []


def _has_group(data: Sequence[Tuple[Any, Any]]) -> bool:
    for op, av in data:
        if op is _sc.SUBPATTERN and av[0] is not None:
            return True
        if any(_has_group(sub) for sub in _subsequences(op, av)):
            return True
    return False


# the characters re and regex case-fold differently: re lowercases (so
# that I, i and İ are one, and i and ı are one), regex uses Unicode's
# simple case folding
_TURKISH_I = "Ii\u0130\u0131"


def _case_fixed(item: str, flags: int) -> str:
    """One character's item (a literal, a set), written for regex, made to
    match the characters of _TURKISH_I as re does under IGNORECASE."""
    if not flags & re.IGNORECASE:
        return item
    re_flags = re.IGNORECASE | (flags & re.ASCII)
    ours = re.compile(item, re_flags)
    theirs = _regex.compile(item, _regex_flags(re_flags))
    add = "".join(c for c in _TURKISH_I if ours.fullmatch(c) and not theirs.fullmatch(c))
    remove = "".join(c for c in _TURKISH_I if theirs.fullmatch(c) and not ours.fullmatch(c))
    if remove:
        item = "(?:(?!(?-i:[%s]))%s)" % ("".join(_char(ord(c)) for c in remove), item)
    if add:
        item = "(?:%s|(?-i:[%s]))" % (item, "".join(_char(ord(c)) for c in add))
    return item


_FLAG_LETTERS = ((re.IGNORECASE, "i"), (re.MULTILINE, "m"), (re.DOTALL, "s"), (re.ASCII, "a"))


def _letters(flags: int) -> str:
    return "".join(letter for flag, letter in _FLAG_LETTERS if flags & flag)


def _regex_flags(flags: int) -> int:
    out: int = _regex.VERSION0
    if flags & re.IGNORECASE:
        out |= _regex.IGNORECASE
    if flags & re.MULTILINE:
        out |= _regex.MULTILINE
    if flags & re.DOTALL:
        out |= _regex.DOTALL
    if flags & re.ASCII:
        out |= _regex.ASCII
    return out


# ------------------------------------------------------------ plans

_SEPARATORS = re.compile("[\\x1c-\\x1f]")


class _Plan(object):
    """How one (pattern, flags) is searched by regex: through its two
    writings, each compiled when first needed."""

    __slots__ = ("tree", "flags", "names", "uses_space", "native", "exact")

    def __init__(self, tree: Any, flags: int, names: Dict[int, str], uses_space: bool) -> None:
        self.tree = tree
        self.flags = flags
        self.names = names
        self.uses_space = uses_space
        self.native: Any = None
        self.exact: Any = None

    def compiled(self, text: str) -> Any:
        """The regex to search ``text`` with: regex's own classes agree
        with re's on ASCII text (``str.isascii`` is O(1)), except for
        ``\\x1c``-``\\x1f`` in ``\\s``."""
        if text.isascii() and not (self.uses_space and _SEPARATORS.search(text)):
            if self.native is None:
                self.native = self._compile(False)
            return self.native
        if self.exact is None:
            self.exact = self._compile(True)
        return self.exact

    def _compile(self, exact: bool) -> Any:
        source = _Writer(self.names, exact).seq(self.tree, self.flags)
        return _regex.compile(source, _regex_flags(self.flags))


@functools.lru_cache(maxsize=512)
def _plan(pattern: str, flags: int) -> Optional[_Plan]:
    """None: search with re (bounded, or regex cannot do it)."""
    try:
        parsed = _sp.parse(pattern, flags)
    except re.error:
        return None  # (re.compile accepted it: not reached)
    if _paths(parsed.data) <= MAX_PATHS or _regex_module() is None:
        return None
    state = parsed.state
    names = {index: name for name, index in state.groupdict.items()}
    plan = _Plan(parsed.data, state.flags, names, "\\s" in pattern or "\\S" in pattern)
    try:
        # the two writings differ only in their classes: if one compiles,
        # so does the other
        plan.native = plan._compile(False)
    except Exception as e:  # _Untranslatable, or regex refusing it
        logger.debug("expect: %r is searched with re, not regex (%s: %s)", pattern, type(e).__name__, e)
        return None
    return plan


# ------------------------------------------------------------ searching


if TYPE_CHECKING:
    from typing import Protocol

    class _Match(Protocol):
        """What RegexMatch uses of a match of the regex module (which
        has no type information): re.Match's interface."""

        @property
        def string(self) -> str: ...
        @property
        def pos(self) -> int: ...
        @property
        def endpos(self) -> int: ...
        @property
        def lastindex(self) -> Optional[int]: ...
        @property
        def regs(self) -> Tuple[Tuple[int, int], ...]: ...
        def group(self, *groups: Union[int, str]) -> Any: ...
        def groups(self, default: Any = ...) -> Tuple[Any, ...]: ...
        def groupdict(self, default: Any = ...) -> Dict[str, Any]: ...
        def start(self, group: Union[int, str] = ...) -> int: ...
        def end(self, group: Union[int, str] = ...) -> int: ...
        def span(self, group: Union[int, str] = ...) -> Tuple[int, int]: ...
        def expand(self, template: str) -> str: ...


class _MatchLike(object):
    """What execo's own match objects share with :class:`re.Match`:
    ``isinstance(m, re.Match)`` is true, copies are the object itself, and
    a match is true."""

    __slots__ = ()

    @property  # type: ignore[misc]
    def __class__(self) -> type:
        # what isinstance() looks at after type(): code checking for an
        # re.Match keeps working
        return re.Match

    def __copy__(self) -> Any:
        return self

    def __deepcopy__(self, memo: Any) -> Any:
        return self

    def __bool__(self) -> bool:
        return True


class RegexMatch(_MatchLike):
    """A match found through the :mod:`regex` module, with the interface
    of :class:`re.Match`: ``group``, ``groups``, ``groupdict``,
    ``start``, ``end``, ``span``, ``expand``, ``m[g]``, ``string``,
    ``pos``, ``endpos``, ``lastindex``, ``lastgroup``, ``regs`` and ``re``
    (the user's pattern, an :class:`re.Pattern`). ``isinstance(m,
    re.Match)`` is true, as for the matches of patterns searched with
    :mod:`re` (``type(m)`` tells them apart)."""

    __slots__ = ("_m", "re")

    def __init__(self, match: Any, pattern: re.Pattern[str]) -> None:
        self._m: _Match = match
        self.re = pattern

    def group(self, *groups: Union[int, str]) -> Any:
        return self._m.group(*groups)

    def __getitem__(self, group: Union[int, str]) -> Any:
        return self._m.group(group)

    def groups(self, default: Any = None) -> Tuple[Any, ...]:
        return self._m.groups(default)

    def groupdict(self, default: Any = None) -> Dict[str, Any]:
        return self._m.groupdict(default)

    def start(self, group: Union[int, str] = 0) -> int:
        return self._m.start(group)

    def end(self, group: Union[int, str] = 0) -> int:
        return self._m.end(group)

    def span(self, group: Union[int, str] = 0) -> Tuple[int, int]:
        return self._m.span(group)

    def expand(self, template: str) -> str:
        return self._m.expand(template)

    @property
    def string(self) -> str:
        return self._m.string

    @property
    def pos(self) -> int:
        return self._m.pos

    @property
    def endpos(self) -> int:
        return self._m.endpos

    @property
    def lastindex(self) -> Optional[int]:
        return self._m.lastindex

    @property
    def lastgroup(self) -> Optional[str]:
        # re's: the name of the lastindex group (regex's differs)
        last = self._m.lastindex
        if last is None:
            return None
        for name, index in self.re.groupindex.items():
            if index == last:
                return name
        return None

    @property
    def regs(self) -> Tuple[Tuple[int, int], ...]:
        return self._m.regs

    def __repr__(self) -> str:
        return "<execo.regex_search.RegexMatch object; span=%r, match=%r>" % (self._m.span(), self._m.group())


# re's special characters (outside a VERBOSE pattern, which a string
# given to expect() never is): a text without any matches just itself
_SPECIALS = ".^$*+?{}[]\\|()"
_SPECIAL = re.compile("[%s]" % re.escape(_SPECIALS))


class LiteralPattern(object):
    """A pattern given as a string that holds none of re's special
    characters (``.^$*+?{}[]\\|()``; ``]`` and ``}`` alone would be
    literal too, but are left to re): it matches exactly itself, with
    the ``re.MULTILINE`` that expect() compiles strings with, so it is
    searched with memmem (:func:`~execo._reactor.find_text`) and never
    compiled. Compiling a new pattern costs ~13 us, a quarter of an
    expect() round trip when the marker changes each time (issue 18);
    :mod:`re`'s cache of 512 patterns does not help there.

    ``pattern`` and ``flags`` are those of the :class:`re.Pattern` it
    stands for, which :meth:`compiled` makes."""

    __slots__ = ("pattern",)

    flags = re.MULTILINE | re.UNICODE

    def __init__(self, text: str) -> None:
        self.pattern = text

    @staticmethod
    def of(text: str) -> Optional[LiteralPattern]:
        """A LiteralPattern for ``text`` if it is one, else None."""
        if text and _SPECIAL.search(text) is None:
            return LiteralPattern(text)
        return None

    def compiled(self) -> re.Pattern[str]:
        """The :class:`re.Pattern` expect() compiled strings to before
        (from :mod:`re`'s cache after the first time)."""
        return re.compile(self.pattern, re.MULTILINE)

    def __repr__(self) -> str:
        return "LiteralPattern(%r)" % (self.pattern,)


def _is_group_zero(group: Any) -> bool:
    return type(group) is int and group == 0


class LiteralMatch(_MatchLike):
    """The match of a :class:`LiteralPattern`, with the interface of
    :class:`re.Match` (the same values as the match of the compiled
    pattern, ``pos`` 0 and ``endpos`` the text's length, no groups);
    ``re`` is the :class:`re.Pattern` the string compiles to, compiled
    on first use. ``isinstance(m, re.Match)`` is true; ``type(m)`` tells
    it apart."""

    __slots__ = ("string", "_start", "_literal", "_re")

    pos = 0
    lastindex = None
    lastgroup = None

    def __init__(self, string: str, start: int, literal: LiteralPattern) -> None:
        self.string = string
        self._start = start
        self._literal = literal
        self._re: Optional[Pattern[str]] = None

    @property
    def re(self) -> Pattern[str]:
        if self._re is None:
            self._re = self._literal.compiled()
        return self._re

    def _real(self) -> Match[str]:
        # re's own match at the same place: for the rare calls whose
        # errors or conversions are re's business (group(1), expand)
        mo = self.re.match(self.string, self._start)
        assert mo is not None
        return mo

    @property
    def endpos(self) -> int:
        return len(self.string)

    @property
    def regs(self) -> Tuple[Tuple[int, int], ...]:
        return (self.span(),)

    def group(self, *groups: Union[int, str]) -> Any:
        if not groups or (len(groups) == 1 and _is_group_zero(groups[0])):
            return self._literal.pattern
        return self._real().group(*groups)

    def __getitem__(self, group: Union[int, str]) -> Any:
        if _is_group_zero(group):
            return self._literal.pattern
        return self._real()[group]

    def groups(self, default: Any = None) -> Tuple[Any, ...]:
        return ()

    def groupdict(self, default: Any = None) -> Dict[str, Any]:
        return {}

    def start(self, group: Union[int, str] = 0) -> int:
        if _is_group_zero(group):
            return self._start
        return self._real().start(group)

    def end(self, group: Union[int, str] = 0) -> int:
        if _is_group_zero(group):
            return self._start + len(self._literal.pattern)
        return self._real().end(group)

    def span(self, group: Union[int, str] = 0) -> Tuple[int, int]:
        if _is_group_zero(group):
            return (self._start, self._start + len(self._literal.pattern))
        return self._real().span(group)

    def expand(self, template: str) -> str:
        return self._real().expand(template)

    def __repr__(self) -> str:
        return "<re.Match object; span=%r, match=%r>" % (self.span(), self._literal.pattern)


# a pattern without these has no repetition and no alternative: bounded
# (checked before the cache: expect("r%dx" % i) in a loop stays cheap)
_MAY_BRANCH = re.compile("[*+?{|]")

# the characters of a pattern's text up to its first special one
_LEADING_LITERAL = re.compile("[^%s]*" % re.escape(_SPECIALS))


def literal_prefix(pattern: re.Pattern[str]) -> str:
    """Characters every match of ``pattern`` starts with ("" if none is
    sure), read off its text without parsing it: the characters before
    the first special one, but the last of them if a quantifier follows,
    and none in a pattern with an alternative, a comment, IGNORECASE or
    VERBOSE.

    Searching a text for them first (:func:`execo._reactor.find_text`,
    libc's memmem) tells in a fraction of re's time that a marker is not
    there: what most of an expect()'s searches find, chunk after chunk."""
    text = pattern.pattern
    if pattern.flags & (re.IGNORECASE | re.VERBOSE) or "|" in text or "(?#" in text:
        return ""  # (a quantifier after a comment applies to what precedes it)
    mo = _LEADING_LITERAL.match(text)
    prefix = mo.group() if mo is not None else ""
    if len(prefix) < len(text) and text[len(prefix)] in "*+?{":
        prefix = prefix[:-1]
    return prefix


class Searcher(object):
    """One user regex, searched with re or regex (see the module doc)."""

    __slots__ = ("pattern", "_plan", "_prefix")

    def __init__(self, pattern: re.Pattern[str]) -> None:
        self.pattern = pattern
        self._plan = _plan(pattern.pattern, pattern.flags) if _MAY_BRANCH.search(pattern.pattern) else None
        self._prefix = literal_prefix(pattern)

    @property
    def bounded(self) -> bool:
        """Whether searches are done by re (short, GIL held), else by
        regex (GIL released; may be long, stopped by a timeout)."""
        return self._plan is None

    def search(self, text: str, timeout: Optional[float] = None) -> Any:
        """The first match in text, or None; raises TimeoutError when a
        search by regex runs past ``timeout`` seconds (of this process's
        CPU time: the regex module's clock)."""
        prefix = self._prefix
        if prefix and find_text(text, prefix) < 0:
            return None  # (a text holding it is searched whole: same match as before)
        plan = self._plan
        if plan is None:
            return self.pattern.search(text)
        mo = plan.compiled(text).search(text, timeout=timeout)
        return None if mo is None else RegexMatch(mo, self.pattern)


class LiteralSearcher(object):
    """A :class:`LiteralPattern`, searched with memmem alone: the
    :class:`Searcher` of a pattern that is all literal text."""

    __slots__ = ("pattern",)

    #: a memmem: short, never stopped by a timeout
    bounded = True

    def __init__(self, pattern: LiteralPattern) -> None:
        self.pattern = pattern

    def search(self, text: str, timeout: Optional[float] = None) -> Any:
        """The first occurrence of the pattern in text (a
        :class:`LiteralMatch`), or None."""
        start = find_text(text, self.pattern.pattern)
        return None if start < 0 else LiteralMatch(text, start, self.pattern)


def searchers(patterns: List[Union[re.Pattern[str], LiteralPattern]]) -> List[Union[Searcher, LiteralSearcher]]:
    return [LiteralSearcher(p) if isinstance(p, LiteralPattern) else Searcher(p) for p in patterns]
