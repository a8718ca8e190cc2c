"""Process handlers: lifecycle notifications, output handling, expect.

Handlers are called from execo's handler threads (see
:mod:`execo.handler_threads`), never from the reactor thread: the calls
of one process come one at a time and in order; a handler that blocks
holds up its own process only.  An exception raised by a handler is
logged and the process goes on.
"""

from __future__ import annotations

import re
import threading
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Match, Optional, Pattern, Tuple, Union

from . import _reactor
from .log import logger

if TYPE_CHECKING:
    from .process_base import ProcessBase

    #: a regex or several, as accepted by :meth:`ExpectOutputHandler.expect`
    RegexesLike = Union[str, Pattern[str], List[Union[str, Pattern[str]]], Tuple[Union[str, Pattern[str]], ...]]
    #: an expect callback: ``callback(process, stream, re_index, mo)``
    ExpectCallback = Callable[[ProcessBase, int, Optional[int], Optional[Match[str]]], object]
    _Notification = Tuple[Optional[ExpectCallback], Optional[threading.Condition], ProcessBase, int,
                          Optional[int], Optional[Match[str]]]

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


class ProcessOutputHandler(object):
    """Abstract handler for :class:`execo.process.ProcessBase` output.

    Override :meth:`read` to get output as it arrives, or :meth:`read_line`
    to get it line by line (each line with its trailing newline; a last
    line without newline is delivered at eof, with ``eof=True``)."""

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
        for line in splitter.feed_text(string):
            self.read_line(process, stream, line, False, False)
        if eof or error:
            del buffers[k]
            rest = splitter.flush()
            if rest:
                self.read_line(process, stream, rest, eof, error)

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


def _compile_regexes(regexes: RegexesLike) -> List[Pattern[str]]:
    """A list of compiled regexes from a regex or a list of them.

    Strings are compiled with re.MULTILINE; a bad regex or a bad type
    raises at the call (re.error / TypeError)."""
    if isinstance(regexes, (str, re.Pattern)):
        regexes = [regexes]
    elif isinstance(regexes, (list, tuple)):
        regexes = list(regexes)
    else:
        raise TypeError("regexes must be a str, a compiled regex or a list of them, not %r"
                        % (type(regexes).__name__,))
    if not regexes:
        raise ValueError("expect() needs at least one regex")
    compiled: List[Pattern[str]] = []
    for r in regexes:
        if isinstance(r, re.Pattern):
            if not isinstance(r.pattern, str):
                raise TypeError("expect() regexes work on text: %r is a bytes pattern" % (r,))
            compiled.append(r)
        elif isinstance(r, str):
            compiled.append(re.compile(r, re.MULTILINE))
        else:
            raise TypeError("a regex must be a str or a compiled regex, not %r" % (type(r).__name__,))
    return compiled


class _StreamState(object):
    """Search state of one (process, stream) in an ExpectOutputHandler.

    Text received while no expect() is pending is kept as a list of parts
    and joined once, at the next search (no quadratic concatenation)."""
    __slots__ = ("buf", "parts", "pending", "eof")

    def __init__(self, buf: str) -> None:
        self.buf = buf          # received text from the search position on
        self.parts: List[str] = []         # received, not yet searched
        self.pending = False    # a match is awaited by the current expect()
        self.eof = False

    def text(self) -> str:
        """buf with the unsearched parts joined in."""
        if self.parts:
            self.parts.insert(0, self.buf)
            self.buf = "".join(self.parts)
            self.parts = []
        return self.buf


class ExpectOutputHandler(ProcessOutputHandler):
    """Handler for monitoring stdout / stderr of a Process and being
    notified when some regex matches. It mimics/takes ideas from Don
    Libes expect, or python-pexpect.

    To use this :class:`execo.process.ProcessOutputHandler`, instanciate
    one, call its expect method, and add it to the stdout_handlers /
    stderr_handlers of one or more processes. It is also possible to add it
    to a process output handler before calling expect.

    One instance of ExpectOutputHandler can handle stdout/stderr of several
    processes. It tracks each process's stream search position
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
    """

    _execo_inline: bool

    def __init__(self) -> None:
        super(ExpectOutputHandler, self).__init__()
        self._lock = threading.RLock()
        self._states: Dict[Tuple[ProcessBase, int], _StreamState] = {}
        self._regexes: Optional[List[Pattern[str]]] = None
        self._callback: Optional[ExpectCallback] = None
        self._condition: Optional[threading.Condition] = None
        self.backtrack_size: Optional[int] = 2000
        self.start_from_current = False

    def expect(self, regexes: RegexesLike, callback: Optional[ExpectCallback] = None,
               condition: Optional[threading.Condition] = None, backtrack_size: Optional[int] = 2000,
               start_from_current: bool = False) -> None:
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
        compiled = _compile_regexes(regexes)
        if callback is not None and not callable(callback):
            raise TypeError("callback must be callable")
        if backtrack_size is not None and (not isinstance(backtrack_size, int) or backtrack_size < 0):
            raise ValueError("backtrack_size must be None or an int >= 0, not %r" % (backtrack_size,))
        notifications: List[_Notification] = []
        with self._lock:
            self._regexes = compiled
            self._callback = callback
            self._condition = condition
            self.backtrack_size = backtrack_size
            self.start_from_current = start_from_current
            for (process, stream), st in list(self._states.items()):
                st.pending = True
                self._scan(process, stream, st, notifications)
        self._notify(notifications)

    def _cancel(self) -> None:
        """Stop the current expect (used by Process.expect on timeout)."""
        with self._lock:
            self._regexes = None
            self._callback = None
            self._condition = None
            for st in self._states.values():
                st.pending = False

    def _attach(self, process: ProcessBase, stream: int, initial_text: str, eof: bool = False) -> None:
        """Start monitoring (process, stream) with initial_text already
        received; searches it at once if an expect is pending."""
        notifications: List[_Notification] = []
        with self._lock:
            st = _StreamState(initial_text)
            st.eof = eof
            st.pending = self._regexes is not None
            self._states[(process, stream)] = st
            self._scan(process, stream, st, notifications)
        self._notify(notifications)

    def read(self, process: ProcessBase, stream: int, string: str, eof: bool, error: bool) -> None:
        """When there is a match, the match position in the process stream
        becomes the new position from which subsequent searches on the
        same process / stream."""
        notifications: List[_Notification] = []
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
            self._scan(process, stream, st, notifications)
        self._notify(notifications)

    def _scan(self, process: ProcessBase, stream: int, st: _StreamState,
              notifications: List[_Notification]) -> None:
        # lock held
        if st.pending and self._regexes is not None:
            buf = st.text()
            for re_index, r in enumerate(self._regexes):
                mo = r.search(buf)
                if mo is not None:
                    st.buf = buf[mo.end():]
                    st.pending = False
                    notifications.append((self._callback, self._condition, process, stream, re_index, mo))
                    return
            if st.eof:
                st.pending = False
                notifications.append((self._callback, self._condition, process, stream, None, None))
                return
            if self.backtrack_size is not None and len(buf) > self.backtrack_size:
                st.buf = buf[len(buf) - self.backtrack_size:] if self.backtrack_size else ""

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
