"""Process handlers: lifecycle notifications, output handling, expect.

Handlers are called from execo's handler threads (see
:mod:`execo.handler_threads`), never from the reactor thread: the calls
of one process come one at a time and in order; a handler that blocks
holds up its own process only.  An exception raised by a handler is
logged and the process goes on.

One handler object given to several processes (a counter, a parser
filling one table) is called by one of them at a time: the processes'
calls run in parallel handler threads, so each call to a user's
:class:`ProcessOutputHandler` or :class:`ProcessLifecycleHandler` holds
a lock of that object (see :func:`_call_lock`), as execo 2.8.2, which
ran every handler in one thread, did by construction. Such a shared
handler must not wait, inside a call, for output of another process it
handles: that process's call waits for the lock.
"""

from __future__ import annotations

import inspect
import re
import threading
import time
import weakref
from typing import (
    TYPE_CHECKING,
    Any,
    Callable,
    ContextManager,
    Dict,
    Iterable,
    List,
    Match,
    NamedTuple,
    Optional,
    Pattern,
    Sequence,
    Tuple,
    Union,
)

from . import _reactor
from .config import configuration
from .log import logger
from .regex_search import LiteralPattern, LiteralSearcher, Searcher, searchers

if TYPE_CHECKING:
    from .process_base import ProcessBase

    #: a regex or several, as accepted by :meth:`ExpectOutputHandler.expect`
    RegexesLike = Union[str, Pattern[str], List[Union[str, Pattern[str]]], Tuple[Union[str, Pattern[str]], ...]]
    #: an expect callback: ``callback(process, stream, re_index, mo)``
    ExpectCallback = Callable[[ProcessBase, int, Optional[int], Optional[Match[str]]], object]
    _Notification = Tuple[
        Optional[ExpectCallback], Optional[threading.Condition], ProcessBase, int, Optional[int], Optional[Match[str]]
    ]

STDOUT = 1
"""Identifier of a process's standard output stream (see expect())."""
STDERR = 2
"""Identifier of a process's standard error stream (see expect())."""

_STREAM_NAMES = {STDOUT: "stdout", STDERR: "stderr"}


def stream_name(stream: int) -> str:
    """'stdout' or 'stderr' for STDOUT or STDERR."""
    return _STREAM_NAMES.get(stream, str(stream))


class ProcessLifecycleHandler(object):
    """Abstract handler for :class:`execo.process.ProcessBase` lifecycle."""

    def start(self, process: ProcessBase) -> None:
        """Handle :class:`execo.process.ProcessBase`'s start.

        :param process: The ProcessBase which starts.
        """
        pass

    def end(self, process: ProcessBase) -> None:
        """Handle :class:`execo.process.ProcessBase`'s end.

        :param process: The ProcessBase which ends.
        """
        pass

    def reset(self, process: ProcessBase) -> None:
        """Handle :class:`execo.process.ProcessBase`'s reset.

        :param process: The ProcessBase which is reset.
        """
        pass


# _short_form's answers, by weak reference to the function (bound
# methods: their __func__) or to the plain callable, an entry leaving with
# its function. Plain dicts: looking up a weak reference is C all the
# way, where a WeakKeyDictionary's __getitem__ is Python code, paid for
# every handler at every chunk (issue 18).
_SHORT_BOUND: Dict[Any, bool] = {}
_SHORT_PLAIN: Dict[Any, bool] = {}


def _forget_bound(ref: Any) -> None:
    _SHORT_BOUND.pop(ref, None)


def _forget_plain(ref: Any) -> None:
    _SHORT_PLAIN.pop(ref, None)


def _inspect_short_form(method: Callable[..., Any]) -> bool:
    try:
        signature = inspect.signature(method)
    except (TypeError, ValueError):
        return False  # cannot tell (some C callables): the spec's form
    try:
        signature.bind(None, None, None, None, None)
        return False
    except TypeError:
        pass
    try:
        signature.bind(None, None, None)
        return True
    except TypeError:
        return False  # neither: the spec's call, whose error is logged


def _without_ending(line: str) -> str:
    """(internal) ``line`` without its ``\\n`` or ``\\r\\n``: how execo 2.8.2
    gave lines to a three-argument ``read_line``."""
    if line.endswith("\n"):
        return line[:-2] if line.endswith("\r\n") else line[:-1]
    return line


def _short_form(method: Callable[..., Any]) -> bool:
    """(internal) Whether an output handler's ``read`` or ``read_line`` (bound
    method) takes execo 2.8.2's three arguments ``(process, stream,
    string)`` rather than the spec's five ``(process, stream, string,
    eof, error)``.

    2.8.2 documented five but called ``read_line`` with three, so the
    handlers written for it take three. Decided from the signature once
    per function (cached), not per call; a callable that takes five
    (or ``*args``), or whose signature cannot be read, gets five."""
    func = getattr(method, "__func__", None)
    cache, key, forget = (
        (_SHORT_BOUND, func, _forget_bound) if func is not None else (_SHORT_PLAIN, method, _forget_plain)
    )
    try:
        return cache[weakref.ref(key)]
    except KeyError:
        short = cache[weakref.ref(key, forget)] = _inspect_short_form(method)
        return short
    except TypeError:  # not weakly referenceable or not hashable
        return _inspect_short_form(method)


_NO_LOCK: ContextManager[Any] = _reactor.NullContext()  # (contextlib's costs two Python calls a use)
_SHARED_FALLBACK_LOCK = threading.RLock()
_MAKING_CALL_LOCK = threading.Lock()


def _call_lock(handler: Any) -> ContextManager[Any]:
    """(internal) The lock a call to ``handler`` holds, so that processes
    sharing it call it one at a time (see the module's text).

    An RLock made on first use and kept as the object's
    ``_execo_call_lock`` attribute, read and set with ``object``'s own
    attribute access, so that a class with its own ``__getattr__`` cannot
    hand back something else. Not through the object's ``__dict__``: on
    CPython, touching it turns the instance's attributes into a plain
    dict, and the handler's own ``self.x`` then costs tens of ns more on
    every line. execo's own handlers that are thread-safe by themselves,
    marked by ``_execo_thread_safe`` in their exact class, need none; an
    object that cannot take an attribute shares one lock with all such
    objects."""
    try:
        return object.__getattribute__(handler, "_execo_call_lock")  # type: ignore[no-any-return]
    except AttributeError:
        pass
    with _MAKING_CALL_LOCK:  # (first call only: one lock wins)
        try:
            return object.__getattribute__(handler, "_execo_call_lock")  # type: ignore[no-any-return]
        except AttributeError:
            pass
        made = _NO_LOCK if type(handler).__dict__.get("_execo_thread_safe") else threading.RLock()
        try:
            object.__setattr__(handler, "_execo_call_lock", made)
        except (AttributeError, TypeError):  # no __dict__ (slots, builtins)
            return _SHARED_FALLBACK_LOCK
        return made


class ProcessOutputHandler(object):
    """Abstract handler for :class:`execo.process.ProcessBase` output.

    Override :meth:`read` to get output as it arrives, or :meth:`read_line`
    to get it line by line (each line with its trailing newline; a last
    line without newline is delivered at eof, with ``eof=True``).

    Either may also be written as in execo 2.8.2's handlers, without the
    last two arguments: ``read_line(self, process, stream, string)``
    then gets each line without its ending (``\\n`` or ``\\r\\n``), as
    2.8.2 gave them, and ``read(self, process, stream, string)`` is not
    called at eof with an empty string. The form is found once from the
    method's signature; a method taking ``*args``, or whose signature
    cannot be read, gets the five arguments."""

    # (execo's own handlers that must see output as it is read set this to
    # a function: see _at_read. None here, so that looking it up on a
    # handler's class finds it: a class lacking an attribute formats an
    # AttributeError for getattr to drop, at every chunk)
    _execo_at_read: Optional[Callable[..., None]] = None

    def __init__(self) -> None:
        """ProcessOutputHandler constructor. Call it in inherited classes."""
        self._buffers: Dict[Tuple[ProcessBase, int], _reactor.LineSplitter] = {}

    def read(self, process: ProcessBase, stream: int, string: str, eof: bool, error: bool) -> None:
        """Handle string read from a :class:`execo.process.ProcessBase`'s stream.

        The default implementation splits the output in lines and calls
        :meth:`read_line` for each. A line ends after ``\\n`` and only
        there (``\\r\\n`` endings stay in the line; ``\\r``, form feeds,
        ``\\x1c``-``\\x1e``, ``\\x85``, ``\\u2028``... do not end a line,
        unlike ``str.splitlines``): the rule of
        :meth:`execo.process.ProcessBase.lines_async` too.

        :param process: the ProcessBase which outputs the string
        :param stream: the index of the process' stream which gets data
          (STDOUT / STDERR)
        :param string: the string read
        :param eof: (boolean) true if the stream is now at eof.
        :param error: (boolean) true if there was an error on the stream
        """
        buffers = self.__dict__.setdefault("_buffers", {})
        k = (process, stream)
        splitter = buffers.get(k)
        if splitter is None:
            splitter = buffers[k] = _reactor.LineSplitter()
        read_line: Callable[..., None] = self.read_line
        if _short_form(read_line):
            for line in splitter.feed_text(string):
                read_line(process, stream, _without_ending(line))
        else:
            for line in splitter.feed_text(string):
                read_line(process, stream, line, False, False)
        if eof or error:
            del buffers[k]
            rest = splitter.flush()
            if rest:
                if _short_form(read_line):
                    read_line(process, stream, _without_ending(rest))
                else:
                    read_line(process, stream, rest, eof, error)

    def read_line(self, process: ProcessBase, stream: int, string: str, eof: bool, error: bool) -> None:
        """Handle string read line by line from a :class:`execo.process.ProcessBase`'s stream.

        :param process: the ProcessBase which outputs the line
        :param stream: the index of the process' stream which gets data
          (STDOUT / STDERR)
        :param string: the line read (with its newline, except possibly
          the last one, delivered at eof)
        :param eof: (boolean) true if the stream is now at eof.
        :param error: (boolean) true if there was an error on the stream
        """
        pass


def _compile_text(text: str) -> Union[Pattern[str], LiteralPattern]:
    """A string given to expect(): itself if it is plain text, else
    compiled with re.MULTILINE."""
    literal = LiteralPattern.of(text)
    return literal if literal is not None else re.compile(text, re.MULTILINE)


def _compile_regexes(regexes: RegexesLike) -> List[Union[Pattern[str], LiteralPattern]]:
    """A list of compiled regexes from a regex or a list of them.

    Strings are compiled with re.MULTILINE, except the plain ones, which
    match just themselves and are searched as such, uncompiled
    (:class:`execo.regex_search.LiteralPattern`); a bad regex or a bad type
    raises at the call (re.error / TypeError)."""
    if type(regexes) is str and regexes:
        return [_compile_text(regexes)]  # (most calls: one marker)
    if isinstance(regexes, (str, re.Pattern)):
        regexes = [regexes]
    elif isinstance(regexes, (list, tuple)):
        regexes = list(regexes)
    else:
        raise TypeError("regexes must be a str, a compiled regex or a list of them, not %r" % (type(regexes).__name__,))
    if not regexes:
        raise ValueError("expect() needs at least one regex")
    compiled: List[Union[Pattern[str], LiteralPattern]] = []
    for r in regexes:
        if isinstance(r, re.Pattern):
            if not isinstance(r.pattern, str):
                raise TypeError("expect() regexes work on text: %r is a bytes pattern" % (r,))
            compiled.append(r)
        elif isinstance(r, str):
            compiled.append(_compile_text(r))
        else:
            raise TypeError("a regex must be a str or a compiled regex, not %r" % (type(r).__name__,))
    return compiled


class _StreamState(object):
    """Search state of one (process, stream) in an ExpectOutputHandler.

    Text received while no expect() is pending is kept as a list of parts
    and joined once, at the next search (no quadratic concatenation)."""

    __slots__ = ("buf", "parts", "pending", "eof", "job")

    def __init__(self, buf: str) -> None:
        self.buf = buf  # received text from the search position on
        self.parts: List[str] = []  # received, not yet searched
        self.pending = False  # a match is awaited by the current expect()
        self.eof = False
        self.job = False  # a search is posted to the process's strand

    def text(self) -> str:
        """buf with the unsearched parts joined in."""
        if self.parts:
            self.parts.insert(0, self.buf)
            self.buf = "".join(self.parts)
            self.parts = []
        return self.buf


class _Search(NamedTuple):
    """A search to run without the handler's lock (see ExpectOutputHandler._scan)."""

    gen: int
    process: Any
    stream: int
    state: _StreamState
    searchers: List[Union[Searcher, LiteralSearcher]]
    text: str
    deadline: Optional[float]
    callback: Optional[Any]
    condition: Optional[threading.Condition]


def _all_inline(handlers: Iterable[Any]) -> bool:
    """Whether every handler is one of execo's own marked ``_execo_inline``
    (expect()'s handlers only search a bounded window and set an event):
    then a call to them may run inline, in the thread that read the
    output (the reactor's, or one waiting for the process); one handler
    that may run user code sends the call to a handler thread."""
    if not handlers:
        return True  # (most calls: no generator made for an empty list)
    return all(getattr(h, "_execo_inline", False) for h in handlers)


def _at_read(process: Any, stream: int, data: bytes, final: bool, handlers: Sequence[Any]) -> bool:
    """In the thread that read ``data`` (``final``: the stream's end),
    before the chunk goes to the handlers: call the ``_execo_at_read``
    hook of those that have one (execo's own that must see output when it
    is read, not when a handler thread gets to it: :mod:`execo.timed_lines`).
    Returns :func:`_all_inline` of ``handlers``, found in the same pass."""
    inline = True
    for h in handlers:
        if not getattr(h, "_execo_inline", False):
            inline = False
        at_read = getattr(type(h), "_execo_at_read", None)  # (not a handler's own __getattr__)
        if at_read is not None:
            at_read(h, process, stream, data, final)
    return inline


def _may_search_here(process: Any) -> bool:
    """Whether a long search for ``process`` may run in the calling
    thread: one that runs the process's strand (so that no output of the
    process is handled meanwhile), and not the reactor thread."""
    strand = getattr(process, "_strand", None)
    if strand is None:
        return True
    if not strand.is_current():
        return False
    from .conductor import get_reactor

    return not get_reactor().in_loop_thread()


class ExpectOutputHandler(ProcessOutputHandler):
    """Handler for monitoring stdout / stderr of a Process and being
    notified when some regex matches. It mimics/takes ideas from Don
    Libes expect, or python-pexpect.

    To use this :class:`execo.process.ProcessOutputHandler`, instanciate
    one, call its expect method, and add it to the stdout_handlers /
    stderr_handlers of one or more processes. It is also possible to add it
    to a process output handler before calling expect.

    One instance of ExpectOutputHandler can handle stdout/stderr of several
    processes (in parallel: it has its own locking). It tracks each process's stream search position
    independently. When a process is monitored by this handler for the
    first time, the regex matching is started from the position in the
    stream at the time that this output hander starts receiving data or
    from the beginning of the stream, depending on param
    start_from_current. For subsequent matches, the search start position
    in the stream is the end of the previous match.

    Between two expect() calls the received text is kept (from the last
    match on), so a match arriving in between is not lost; while an
    expect() is waiting, only ``backtrack_size`` characters of already
    searched text are kept.

    Patterns that could backtrack for a long time on hostile output
    (repetitions of variable length, many alternatives) are searched with
    the :mod:`regex` module, GIL released, away from the reactor thread
    and bounded in time; the others with :mod:`re` (see
    :mod:`execo.regex_search`). A search of one window that runs longer
    than ``configuration['expect_search_timeout']`` seconds (or than what
    is left of the timeout of :meth:`ProcessBase.expect
    <execo.process.ProcessBase.expect>`) is given up: the expect fails for
    that stream as at end of file (callback with ``re_index`` and ``mo``
    None) and a warning is logged.
    """

    _execo_thread_safe = True

    def __init__(self) -> None:
        super(ExpectOutputHandler, self).__init__()
        self._lock = threading.RLock()
        self._states: Dict[Tuple[ProcessBase, int], _StreamState] = {}
        self._regexes: Optional[List[Union[Pattern[str], LiteralPattern]]] = None
        self._searchers: Optional[List[Union[Searcher, LiteralSearcher]]] = None
        self._bounded = True  # every current regex is searched by re
        self._gen = 0  # +1 at each expect() and cancel
        self._deadline: Optional[float] = None  # time.monotonic() the expect ends
        self._inline_ok = False  # execo's own (_allow_inline)
        # whether its calls may run inline, in the thread that read the
        # output: only execo's own handlers, and only while their regexes
        # are searched by re (short searches). A plain attribute, read at
        # each chunk, derived in _set_bounded.
        self._execo_inline = False
        self._callback: Optional[ExpectCallback] = None
        self._condition: Optional[threading.Condition] = None
        self.backtrack_size: Optional[int] = 2000
        self.start_from_current = False

    def _allow_inline(self) -> None:
        """Mark it as execo's own (expect()'s): its callbacks never block."""
        with self._lock:
            self._inline_ok = True
            self._set_bounded(self._bounded)

    def _set_bounded(self, bounded: bool) -> None:
        """``self._lock`` held: whether every current regex is searched by
        re, and so whether the calls may run inline (``_execo_inline``,
        kept here, the one place it is derived)."""
        self._bounded = bounded
        self._execo_inline = self._inline_ok and bounded

    def expect(
        self,
        regexes: RegexesLike,
        callback: Optional[ExpectCallback] = None,
        condition: Optional[threading.Condition] = None,
        backtrack_size: Optional[int] = 2000,
        start_from_current: bool = False,
    ) -> None:
        """
        :param regexes: a regex or list of regexes. May be given as string
          or as compiled regexes (If given as compiled regexes, do not
          forget flags, most likely re.MULTILINE. regex passed as string
          are compiled with re.MULTILINE)
        :param callback: a callback function to call when there is a
          match. The callback will take the following parameters: process
          (the process instance for which there was a match), stream (the
          stream index STDOUT / STDERR for which there was a match),
          re_index (the index in the list of regex of the regex which
          matched), mo (the match object). If no match was found and eof
          was reached, or stream is in error, re_index and mo are set to
          None.
        :param condition: a Threading.Condition wich will be notified when
          there is a match (but in this case, you don't get the process,
          stream, match object of the match)
        :param backtrack_size: Each time some data is received, this ouput
          handler needs to perform the regex search not only on the
          incoming data, but also on the previously received data, or at
          least on the last n bytes of the previously received data,
          because the regex may match on a boundary between what was
          received in a previous read and what is received in the incoming
          read. These n bytes are the backtrack_size. (for special cases:
          if backtrack_size == None, the regex search is always done on the
          whole received data, but beware, this is probably not what you
          want)
        :param start_from_current: boolean. If True: when a process is
          monitored by this handler for the first time, the regex matching
          is started from the position in the stream at the time that this
          output hander starts receiving data. If False: when a process is
          monitored by this handler for the first time, the regex matching
          is started from the beginning of the stream.
        """
        self._expect(regexes, callback, condition, backtrack_size, start_from_current, None)

    def _expect(
        self,
        regexes: RegexesLike,
        callback: Optional[ExpectCallback],
        condition: Optional[threading.Condition],
        backtrack_size: Optional[int],
        start_from_current: bool,
        deadline: Optional[float],
    ) -> None:
        """expect(), with the ``time.monotonic()`` at which the caller
        stops waiting (long searches stop there too)."""
        compiled = _compile_regexes(regexes)
        if callback is not None and not callable(callback):
            raise TypeError("callback must be callable")
        if backtrack_size is not None and (not isinstance(backtrack_size, int) or backtrack_size < 0):
            raise ValueError("backtrack_size must be None or an int >= 0, not %r" % (backtrack_size,))
        found = searchers(compiled)
        notifications: List[_Notification] = []
        later: List[_Search] = []
        with self._lock:
            self._gen += 1
            self._regexes = compiled
            self._searchers = found
            self._set_bounded(all(f.bounded for f in found))
            self._deadline = deadline
            self._callback = callback
            self._condition = condition
            self.backtrack_size = backtrack_size
            self.start_from_current = start_from_current
            for (process, stream), st in list(self._states.items()):
                st.pending = True
                self._scan(process, stream, st, notifications, later)
        self._conclude(later, notifications)

    def _cancel(self) -> None:
        """Stop the current expect (used by Process.expect on timeout).
        A search running meanwhile (outside the lock) finds the expect
        gone and drops its result."""
        with self._lock:
            self._gen += 1
            self._regexes = None
            self._searchers = None
            self._set_bounded(True)
            self._deadline = None
            self._callback = None
            self._condition = None
            for st in self._states.values():
                st.pending = False

    def _attach(self, process: ProcessBase, stream: int, initial_text: str, eof: bool = False) -> None:
        """Start monitoring (process, stream) with initial_text already
        received; searches it at once if an expect is pending."""
        notifications: List[_Notification] = []
        later: List[_Search] = []
        with self._lock:
            st = _StreamState(initial_text)
            st.eof = eof
            st.pending = self._regexes is not None
            self._states[(process, stream)] = st
            self._scan(process, stream, st, notifications, later)
        self._conclude(later, notifications)

    def read(self, process: ProcessBase, stream: int, string: str, eof: bool, error: bool) -> None:
        """When there is a match, the match position in the process stream
        becomes the new position from which subsequent searches on the
        same process / stream."""
        notifications: List[_Notification] = []
        later: List[_Search] = []
        with self._lock:
            k = (process, stream)
            st = self._states.get(k)
            if st is None:
                text: Optional[str]
                if self.start_from_current:
                    text = string
                else:
                    # from the beginning of the stream: what the process
                    # collected so far (this chunk included)
                    collected = getattr(process, "_collected_text", None)
                    text = collected(stream) if collected is not None else None
                    if text is None:
                        text = string
                st = self._states[k] = _StreamState(text)
                st.pending = self._regexes is not None
            elif string:
                st.parts.append(string)
            if eof or error:
                st.eof = True
            self._scan(process, stream, st, notifications, later)
        self._conclude(later, notifications)

    def _scan(
        self,
        process: ProcessBase,
        stream: int,
        st: _StreamState,
        notifications: List[_Notification],
        later: List[_Search],
    ) -> None:
        """Search (process, stream) if a match is awaited (``self._lock`` held).

        Bounded regexes (re) are searched here and now. Others may take
        long: they are searched without the lock (so that a timeout's
        cancel never waits for them), in a thread running the process's
        strand (so that no output of the process comes meanwhile), never
        in the reactor thread: appended to ``later`` (for the caller to
        run once it released the lock) when this thread may, else posted
        as a job to the process's strand."""
        if not (st.pending and self._searchers is not None):
            return
        if self._bounded:
            buf = st.text()
            for re_index, r in enumerate(self._searchers):
                mo = r.search(buf)
                if mo is not None:
                    self._matched(process, stream, st, buf, re_index, mo, notifications)
                    return
            self._not_matched(process, stream, st, buf, notifications)
        elif _may_search_here(process):
            later.append(
                _Search(
                    self._gen,
                    process,
                    stream,
                    st,
                    self._searchers,
                    st.text(),
                    self._deadline,
                    self._callback,
                    self._condition,
                )
            )
        elif not st.job:
            st.job = True
            process._strand.post(self._search_job, (process, stream))

    def _matched(
        self,
        process: ProcessBase,
        stream: int,
        st: _StreamState,
        buf: str,
        re_index: int,
        mo: Match[str],
        notifications: List[_Notification],
    ) -> None:
        # self._lock held
        st.buf = buf[mo.end() :]
        st.pending = False
        notifications.append((self._callback, self._condition, process, stream, re_index, mo))

    def _not_matched(
        self, process: ProcessBase, stream: int, st: _StreamState, buf: str, notifications: List[_Notification]
    ) -> None:
        # self._lock held: buf was searched in vain
        if st.eof:
            st.pending = False
            notifications.append((self._callback, self._condition, process, stream, None, None))
            return
        if self.backtrack_size is not None and len(buf) > self.backtrack_size:
            st.buf = buf[len(buf) - self.backtrack_size :] if self.backtrack_size else ""

    def _search_job(self, process: ProcessBase, stream: int) -> None:
        """A search posted by _scan, in the process's strand."""
        notifications: List[_Notification] = []
        later: List[_Search] = []
        with self._lock:
            st = self._states.get((process, stream))
            if st is None:
                return
            st.job = False
            self._scan(process, stream, st, notifications, later)
        self._conclude(later, notifications)

    def _conclude(self, later: List[_Search], notifications: List[_Notification]) -> None:
        """After a scan, ``self._lock`` released: run the searches it left
        for later, then the notifications (each only if there are some:
        most scans have neither)."""
        if later:
            self._run_searches(later, notifications)
        if notifications:
            self._notify(notifications)

    def _run_searches(self, searches: List[_Search], notifications: List[_Notification]) -> None:
        """Run the searches _scan left for later (``self._lock`` not held), each
        bounded by the expect's deadline and
        ``configuration['expect_search_timeout']``; apply their results
        unless the expect changed meanwhile."""
        for s in searches:
            outcome, re_index, mo = _search(s)
            with self._lock:
                st = s.state
                if s.gen != self._gen or self._states.get((s.process, s.stream)) is not st or not st.pending:
                    continue  # cancelled, or a new expect (which searches for itself)
                # (text cannot arrive during the search: the process's
                # strand runs reads and searches one at a time)
                st.buf = s.text
                if outcome == "match":
                    assert re_index is not None and mo is not None
                    st.buf = s.text[mo.end() :]
                    st.pending = False
                    notifications.append((s.callback, s.condition, s.process, s.stream, re_index, mo))
                elif outcome == "none":
                    self._not_matched(s.process, s.stream, st, s.text, notifications)
                elif outcome == "given up":
                    st.pending = False
                    notifications.append((s.callback, s.condition, s.process, s.stream, None, None))
                    logger.warning(
                        "expect: searching %r in the %s of %s took more than %ss: given up (a "
                        "pattern that backtracks catastrophically? see execo.regex_search)",
                        [f.pattern.pattern for f in s.searchers],
                        stream_name(s.stream),
                        getattr(s.process, "name", s.process),
                        configuration.get("expect_search_timeout"),
                    )
                # "deadline": the expect is over; its caller cancels it

    def _notify(self, notifications: List[_Notification]) -> None:
        for callback, condition, process, stream, re_index, mo in notifications:
            if callback is not None:
                try:
                    callback(process, stream, re_index, mo)
                except Exception:
                    logger.exception("expect callback %r raised an exception", callback)
            if condition is not None:
                with condition:
                    condition.notify_all()


def _search(s: _Search) -> Tuple[str, Optional[int], Optional[Match[str]]]:
    """Run one search: ("match", index, mo), ("none", None, None), or,
    when time ran out, ("deadline", ...) if the expect's deadline passed,
    else ("given up", ...)."""
    cap = configuration.get("expect_search_timeout")
    now = time.monotonic()
    ends = [t for t in (s.deadline, None if cap is None else now + cap) if t is not None]
    end = min(ends) if ends else None
    for re_index, searcher in enumerate(s.searchers):
        while True:
            if searcher.bounded or end is None:
                mo = searcher.search(s.text)
                break
            remaining = end - time.monotonic()
            if remaining <= 0:
                late = s.deadline is not None and time.monotonic() >= s.deadline
                return ("deadline" if late else "given up"), None, None
            try:
                mo = searcher.search(s.text, remaining)
                break
            except TimeoutError:
                # regex's clock is the process's CPU time: check the
                # wall clock (and retry while some time is left)
                continue
        if mo is not None:
            return "match", re_index, mo
    return "none", None, None
