"""ProcessBase: the state, output dispatch, end and reporting shared by
every kind of process (local, remote, taktuk-fed, serial).

It holds no way to start or stop a process: :class:`execo.process.Process`
and its subclasses do.  Output arrives from the reactor thread as byte
chunks; it is decoded lazily (locale encoding, surrogateescape, so any
byte round-trips).  What a process holds for one output stream is an
:class:`execo.output_stream.OutputStream`; ``expect()`` is driven by
:mod:`execo.expect`.  User handlers are called through the process's
:class:`execo.handler_threads.Strand`: in order, one at a time, in a
handler thread, never in the reactor thread.
"""

from __future__ import annotations

import _thread
import errno
import functools
import io
import os
import signal
import threading
import time
import weakref
from types import TracebackType
from typing import (
    IO,
    TYPE_CHECKING,
    Any,
    AsyncIterator,
    Callable,
    Dict,
    Generic,
    Iterable,
    List,
    Optional,
    Sequence,
    Tuple,
    Type,
    TypeVar,
    Union,
    overload,
)

from . import _reactor, aio
from .conductor import get_reactor
from .config import configuration
from .exception import DeadlockError
from .expect import expect_all
from .handler_threads import Strand
from .handlers import (
    STDERR,
    STDOUT,
    ExpectOutputHandler,
    ProcessOutputHandler,
    _all_inline,
    _at_read,
    _call_lock,
    _short_form,
    _without_ending,
    stream_name,
)
from .host import Host
from .log import logger, style
from .output_stream import ENCODING as ENCODING  # also execo.process_base.ENCODING, as before
from .output_stream import OutputStream, _HandlerList
from .report import Report
from .time_utils import format_unixts, get_seconds
from .utils import compact_output, name_from_cmdline
from .waiting import Waiter, wait_serving

if TYPE_CHECKING:
    from typing import Literal

    from .handlers import ProcessLifecycleHandler, RegexesLike
    from .time_utils import DurationLike

    #: a command: a shell command line, or a program and its arguments
    CmdLike = Union[
        str, Tuple[Union[str, bytes, "os.PathLike[str]"], ...], List[str], List[Union[str, bytes, "os.PathLike[str]"]]
    ]
    #: a command as kept in :attr:`ProcessBase.cmd` (lists become tuples)
    Cmd = Union[str, Tuple[Union[str, bytes, "os.PathLike[str]"], ...]]
    #: what stdout_handlers / stderr_handlers may hold: handlers, fds,
    #: file names or file objects
    OutputHandlerLike = Union[ProcessOutputHandler, int, str, "os.PathLike[str]", IO[Any]]
    from .expect import ExpectResult

_P = TypeVar("_P", bound="ProcessBase")

EOF_GRACE_AFTER_EXIT = 2.0
"""Seconds to wait, after a process exited, for its stdout/stderr to reach
eof.  A background grandchild may keep the pipes open forever: after this
grace what is readable is drained, the pipes are closed and the process
ends."""


_T = TypeVar("_T")


# A public attribute of a process (its events and conditions) made when
# first used, under the process's _cond_lock, into the "_" + name
# attribute that __init__ sets to None; assignable as the attribute it
# was. Most processes never use theirs (an action waits for its
# processes; wait() checks a flag first), and each costs more to make
# and notify, and to the cyclic GC, than the rest of a short process's
# end. (No docstring: autodoc would document these attributes a second
# time.)
class _MadeOnFirstUse(Generic[_T]):
    def __init__(self, make: Callable[[ProcessBase], _T]) -> None:
        self.make = make
        self.slot = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.slot = "_" + name

    @overload
    def __get__(self, process: None, owner: type) -> _MadeOnFirstUse[_T]: ...

    @overload
    def __get__(self, process: ProcessBase, owner: type) -> _T: ...

    def __get__(self, process: Optional[ProcessBase], owner: type) -> Any:
        if process is None:
            return self
        with process._cond_lock:
            value = getattr(process, self.slot)
            if value is None:
                value = self.make(process)
                setattr(process, self.slot, value)
            return value

    def __set__(self, process: ProcessBase, value: _T) -> None:
        with process._cond_lock:
            setattr(process, self.slot, value)


def _event(is_set: bool) -> threading.Event:
    event = threading.Event()
    if is_set:
        event.set()
    return event


class _EndNotified(object):
    """What wait() waits for: the end notified (``_set_ended_event``,
    which then wakes the waiters). The process's ``ended_event`` is made
    only if the waiting thread has to block on it (nothing it can serve):
    a run() that serves its child itself makes no Event."""

    __slots__ = ("process", "is_set")

    def __init__(self, process: ProcessBase) -> None:
        self.process = process
        self.is_set: Callable[[], bool] = process._end_was_notified  # (as wait_async polls it)

    def wait(self, timeout: Optional[float] = None) -> bool:
        return self.process.ended_event.wait(timeout)


# (threading.RLock is a Python function that makes one of these)
_RLock = _thread.RLock

# ProcessBase's ignore_* / nolog_* flags (a repr shows those set)
_IGNORE_NOLOG_FLAGS = (
    "ignore_exit_code",
    "nolog_exit_code",
    "ignore_timeout",
    "nolog_timeout",
    "ignore_error",
    "nolog_error",
    "ignore_expect_fail",
    "nolog_expect_fail",
    "ignore_write_error",
    "nolog_write_error",
)
# every boolean flag of ProcessBase.__init__, in the order it checks them
_FLAG_NAMES = _IGNORE_NOLOG_FLAGS + ("default_stdout_handler", "default_stderr_handler")


def _check_bool(name: str, value: object) -> None:
    if value is True or value is False or value is None:
        return  # (the common case, without the isinstance)
    if not isinstance(value, (bool, int)):
        raise TypeError("%s must be a boolean, not %r" % (name, value))


def _check_no_nul(value: Union[str, bytes, "os.PathLike[str]"], cmd: object) -> None:
    # execve's arguments are C strings: a NUL would silently cut the
    # argument (subprocess refuses it too)
    text = os.fspath(value)
    if ("\x00" in text) if isinstance(text, str) else (b"\x00" in text):
        raise ValueError(
            "a command argument holds a NUL byte, which no program can receive "
            "(it would be cut there): %r in %r" % (value, cmd)
        )


def _check_cmd(cmd: CmdLike) -> Cmd:
    if isinstance(cmd, str):
        _check_no_nul(cmd, cmd)
        return cmd
    if isinstance(cmd, (tuple, list)):
        if not cmd:
            raise ValueError("empty command")
        for a in cmd:
            if not isinstance(a, (str, bytes, os.PathLike)):
                raise TypeError("command arguments must be str, bytes or paths, not %r" % (a,))
            _check_no_nul(a, cmd)
        return tuple(cmd) if isinstance(cmd, list) else cmd
    raise TypeError("cmd must be a str or a tuple of str, not %s" % (type(cmd).__name__,))


class ProcessBase(object):
    """An almost abstract base class for all kinds of processes.

    There are no abstract methods, but a :class:`execo.process.ProcessBase`
    by itself is almost useless, it only provides accessors to data shared
    with all subclasses, but no way to start it or stop it. These methods
    have to be implemented in concrete subclasses.

    It is possible to register custom lifecycle and output handlers to the
    process, in order to provide specific actions or stdout/stderr parsing
    when needed. See :class:`execo.process.ProcessLifecycleHandler` and
    :class:`execo.process.ProcessOutputHandler`.

    A ProcessBase and its subclasses can act as a context manager object,
    allowing to write code such as::

     with Process(...).start() as p:
       [...do something...]

    When exiting the contex manager scope, the process is automatically
    killed.

    For a new kind of process (private hooks; see
    ``docs/dev/architecture.rst``): ``start()``, ``kill()`` (and
    ``write()``) are the subclass's; ``start()`` begins with
    ``_begin_start()`` under ``self._lock``. Output comes in through
    ``_on_data(stream, data)`` and ``_on_eof(stream, err)`` (stored in
    ``self._streams[stream]``, an :class:`execo.output_stream.OutputStream`);
    ``_post_end_check()`` after anything that may end the process. The
    end is ``_maybe_ended()``, the same for every kind, which asks these
    hooks (``self._lock`` held):

    - ``_end_reached()``: whether everything this kind of process waits
      for has happened (a Process: exit status known and both streams at
      eof in the strand; a Serial: its port at eof; a TaktukProcess:
      taktuk reported the end and both streams at eof);
    - ``_end_exit_code()``: the ``exit_code`` (default ``_exit_status``);
    - ``_ending()``: what stops with the process; returns what to do once
      the lock is released (close stdin, give back a start-queue slot),
      or None.

    ``_eof_may_end()`` (no lock) tells ``_on_eof`` whether an eof can be
    the last thing ``_end_reached()`` waits for (a Process: only once its
    exit status is known and its other stream read to eof, and its exit
    posts a check only with both streams read to eof: one check per
    process; a subclass that ends on eof, as Serial, says True).

    Also: ``_common_reset()`` (runtime state, extended by subclasses),
    ``_set_reading(on)`` (backpressure on a reader), ``_args()`` /
    ``_kwargs()`` / ``_infos()`` (repr and str), ``_name_source()``.
    """

    #: Process command line: string or tuple containing the command and args to run.
    cmd: Cmd = None  # type: ignore[assignment]  # class-level default (documented); every instance sets it
    # the Host behind the host property (None: a local process)
    _host: Optional[Host] = None
    # whether host may be None (SshProcess, TaktukProcess: no)
    _host_required = False

    # the fan-out window of the action starting this process, if any
    # (execo.start_queue.Window, set by the action before start())
    _fanout_window: Any = None

    def __init__(
        self,
        cmd: CmdLike,
        timeout: Optional[DurationLike] = None,
        ignore_exit_code: bool = False,
        nolog_exit_code: bool = False,
        ignore_timeout: bool = False,
        nolog_timeout: bool = False,
        ignore_error: bool = False,
        nolog_error: bool = False,
        ignore_expect_fail: bool = False,
        nolog_expect_fail: bool = False,
        ignore_write_error: bool = False,
        nolog_write_error: bool = False,
        default_expect_timeout: Optional[DurationLike] = None,
        default_stdout_handler: bool = True,
        default_stderr_handler: bool = True,
        lifecycle_handlers: Optional[Iterable[ProcessLifecycleHandler]] = None,
        stdout_handlers: Optional[Iterable[OutputHandlerLike]] = None,
        stderr_handlers: Optional[Iterable[OutputHandlerLike]] = None,
        name: Optional[str] = None,
    ) -> None:
        """
        :param cmd: string or tuple containing the command and args to run.
        :param timeout: Timeout (in seconds, or None for no timeout) after
          which the process will automatically be sent a SIGTERM.
        :param ignore_exit_code: Boolean. If True, a process with a return
          code != 0 will still be considered ok.
        :param nolog_exit_code: Boolean. If False, termination of a process
          with a return code != 0 will cause a warning in logs.
        :param ignore_timeout: Boolean. If True, a process which reaches its
          timeout will be sent a SIGTERM, but will still be considered ok
          (but it will most probably have an exit code != 0).
        :param nolog_timeout: Boolean. If False, a process which reaches its
          timeout and is sent a SIGTERM will cause a warning in logs.
        :param ignore_error: Boolean. If True, a process raising an OS level
          error will still be considered ok.
        :param nolog_error: Boolean. If False, a process raising an OS level
          error will cause a warning in logs.
        :param ignore_expect_fail: Boolean. If True, on a failure to find an
          expect match the process will still be considered ok.
        :param nolog_expect_fail: Boolean. If False, a failure to find an
          expect match will cause a warning in logs.
        :param ignore_write_error: Boolean. If True, on a write error to the
          process stdin, the process will still be considered ok.
        :param nolog_write_error: Boolean. If False, on a write error to the
          process stdin, will cause a warning in the logs.
        :param default_expect_timeout: The default timeout for expect
          invocations when no explicit timeout is given. Defaults to None,
          meaning no timeout.
        :param default_stdout_handler: If True, a default handler sends
          stdout stream output to the member string self.stdout.
        :param default_stderr_handler: if True, a default handler sends
          stderr stream output to the member string self.stderr.
        :param lifecycle_handlers: List of instances of
          :class:`execo.process.ProcessLifecycleHandler` for being notified
          of process lifecycle events.
        :param stdout_handlers: List which can contain instances of
          :class:`execo.process.ProcessOutputHandler` for handling activity
          on process stdout, or existing file descriptors (positive
          integer), or existing file objects, or filenames, to which stdout
          will be sent. If a filename is given, it will be opened in write
          mode, and closed on eof.
        :param stderr_handlers: same as stdout_handlers, for stderr.
        :param name: User-friendly name. A default is generated and can be
          changed.
        """
        self.cmd = _check_cmd(cmd)
        self.timeout = get_seconds(timeout)
        if self.timeout is not None and self.timeout < 0:
            raise ValueError("timeout must be >= 0 or None, not %r" % (timeout,))
        flags = (
            ignore_exit_code,
            nolog_exit_code,
            ignore_timeout,
            nolog_timeout,
            ignore_error,
            nolog_error,
            ignore_expect_fail,
            nolog_expect_fail,
            ignore_write_error,
            nolog_write_error,
            default_stdout_handler,
            default_stderr_handler,
        )
        for i, value in enumerate(flags):
            if value is not True and value is not False:  # (no call for the common case)
                _check_bool(_FLAG_NAMES[i], value)
        self.ignore_exit_code = ignore_exit_code
        self.nolog_exit_code = nolog_exit_code
        self.ignore_timeout = ignore_timeout
        self.nolog_timeout = nolog_timeout
        self.ignore_error = ignore_error
        self.nolog_error = nolog_error
        self.ignore_expect_fail = ignore_expect_fail
        self.nolog_expect_fail = nolog_expect_fail
        self.ignore_write_error = ignore_write_error
        self.nolog_write_error = nolog_write_error
        self.default_expect_timeout = get_seconds(default_expect_timeout)
        self.default_stdout_handler = default_stdout_handler
        self.default_stderr_handler = default_stderr_handler
        self.lifecycle_handlers = self._handler_list("lifecycle_handlers", lifecycle_handlers)
        if name is not None and not isinstance(name, str):
            raise TypeError("name must be a str, not %r" % (name,))
        self._name: Optional[str] = name  # None: made from the command when first read
        self._lock = _RLock()
        self._io_lock = threading.Lock()
        # one object per output stream, indexed by STDOUT / STDERR (their
        # collectors are made by _common_reset, below)
        self._streams: Dict[int, OutputStream] = {STDOUT: OutputStream(STDOUT), STDERR: OutputStream(STDERR)}
        # made on first use, as the conditions below (started_event,
        # ended_event): most processes are waited for through their
        # action, or not one at a time; _start_notified / _end_notified
        # (under _cond_lock) are what a late-made event starts from
        self._started_event: Optional[threading.Event] = None
        self._ended_event: Optional[threading.Event] = None
        self._start_notified = False
        self._end_notified = False
        self._waiters: List[Waiter] = []  # threads in wait(), serving its fds
        # reentrant, so that a thread holding a condition may start() or
        # kill() the process, then wait on it
        self._cond_lock = _RLock()
        # made on first use too (started_condition, ended_condition):
        # most processes never have one, and each costs more to make and
        # notify than the rest of a short process's end
        self._started_condition: Optional[threading.Condition] = None
        self._ended_condition: Optional[threading.Condition] = None
        self._common_reset()
        if stdout_handlers is not None:
            self.stdout_handlers = stdout_handlers
        if stderr_handlers is not None:
            self.stderr_handlers = stderr_handlers

    # (documented in docs/api/process.rst with the other attributes)
    started_event = _MadeOnFirstUse(lambda p: _event(p._start_notified))
    ended_event = _MadeOnFirstUse(lambda p: _event(p._end_notified))
    started_condition = _MadeOnFirstUse(lambda p: threading.Condition(p._cond_lock))
    ended_condition = _MadeOnFirstUse(lambda p: threading.Condition(p._cond_lock))

    @staticmethod
    def _handler_list(what: str, handlers: Optional[Iterable[Any]]) -> List[Any]:
        if handlers is None:
            return []
        if isinstance(handlers, (str, bytes)) or not hasattr(handlers, "__iter__"):
            raise TypeError("%s must be a list, not %r" % (what, handlers))
        return list(handlers)

    def _common_reset(self) -> None:
        """Runtime state, as in a new process (constructor and reset())."""
        self.started = False
        self.start_date: Optional[float] = None
        self.ended = False
        self.end_date: Optional[float] = None
        # time.monotonic() at start() (submitted), spawn (start) and end
        self._submit_monotonic: Optional[float] = None
        self._start_monotonic: Optional[float] = None
        self._end_monotonic: Optional[float] = None
        self.error = False
        self.error_reason: Optional[Union[int, str]] = None
        self.exit_code: Optional[int] = None
        self.timeout_date: Optional[float] = None
        self.timeouted: Optional[bool] = None
        self.killed = False
        self.forced_kill = False
        self.expect_fail = False
        self.write_error = False
        # the exit status, once known (kept apart from exit_code, which is
        # set when the process ends: see _maybe_ended)
        self._exit_status: Optional[int] = None
        with self._cond_lock:
            self._start_notified = self._end_notified = False
            for event in (self._started_event, self._ended_event):
                if event is not None:
                    event.clear()
        self._streams[STDOUT].reset(bool(self.default_stdout_handler))
        self._streams[STDERR].reset(bool(self.default_stderr_handler))
        # (the process weakly: it holds the strand, and a cycle would leave
        # a finished process to the garbage collector)
        self._strand = Strand(functools.partial(_on_backlog_of, weakref.ref(self)))
        self._timers: List[_reactor.TimerHandle] = []

    def _stdin_bytes(self, s: Union[str, bytes, bytearray, memoryview]) -> bytes:
        """What write(s) sends: str encoded (locale encoding,
        surrogateescape), bytes-like copied; TypeError for anything else,
        ValueError before start()."""
        if isinstance(s, str):
            data = s.encode(ENCODING, "surrogateescape")
        elif isinstance(s, (bytes, bytearray, memoryview)):
            data = bytes(s)
        else:
            raise TypeError("write() needs str or bytes, not %s" % (type(s).__name__,))
        if not self.started:
            raise ValueError("cannot write to a process which has not been started: %r" % (self,))
        return data

    @property
    def host(self) -> Optional[Host]:
        """Remote host, if relevant

        A :class:`execo.host.Host`, or None (a local process). A host or
        an address assigned to it is converted and checked as in the
        constructors (a copy, ``Host(value)``): ``p.host = 'b'`` gives
        ``Host('b')``, a name that cannot be a host address is a
        ValueError. The command line is the one made at construction:
        assigning does not change where the process connects."""
        return self._host

    @host.setter
    def host(self, host: Union[str, Host, None]) -> None:
        if host is None:
            if self._host_required:
                raise TypeError("the host of a %s cannot be None" % (self.__class__.__name__,))
            self._host = None
        else:
            self._host = Host(host)

    @property
    def name(self) -> str:
        """User-friendly name: given, or a short form of the command
        (computed when first read: cheap construction of thousands)."""
        if self._name is None:
            self._name = name_from_cmdline(self._name_source())
        return self._name

    @name.setter
    def name(self, value: Optional[str]) -> None:
        self._name = value

    def _name_source(self) -> Union[str, Iterable[object]]:
        """What the default name is made from."""
        return self.cmd

    # ------------------------------------------------------------ output

    def _collected_text(self, stream: int) -> Optional[str]:
        """Decoded text collected so far on stream (None when the default
        handler of that stream is off).  Decoding is lazy and incremental:
        the reactor only keeps bytes."""
        with self._io_lock:
            return self._streams[stream].text_locked()

    @property
    def stdout(self) -> str:
        """Process stdout (str, decoded with the locale encoding and
        surrogateescape)."""
        return self._collected_text(STDOUT) or ""

    @stdout.setter
    def stdout(self, value: str) -> None:
        self._set_text(STDOUT, value)

    @property
    def stderr(self) -> str:
        """Process stderr (str, decoded with the locale encoding and
        surrogateescape)."""
        return self._collected_text(STDERR) or ""

    @stderr.setter
    def stderr(self, value: str) -> None:
        self._set_text(STDERR, value)

    def _set_text(self, stream: int, value: str) -> None:
        """Replace what was collected so far; later output is appended."""
        if not isinstance(value, str):
            raise TypeError("%s must be a str" % (stream_name(stream),))
        with self._io_lock:
            self._streams[stream].set_text_locked(value)

    # ------------------------------------------------ output dispatch
    # Output arrives as byte chunks (from the reactor thread for a local
    # process, from a parser for taktuk-fed ones) through _on_data and
    # _on_eof. The collectors are fed at once; the handlers, then the end
    # (subclasses' _maybe_ended, posted with _post_end_check), are called
    # in order through the strand (execo.handler_threads).

    def _begin_start(self, lenient_targets: bool = False) -> None:
        """What every start() does first (``self._lock`` held): refuse a second
        start, open the filenames among the output handlers (an error
        raises, or is only logged with ``lenient_targets``), record the
        start and timeout dates, and hold the strand so that handlers see
        start before any output (the start() releases it once it has
        notified the start)."""
        if self.started:
            raise ValueError("unable to start an already started process: %r" % (self,))
        try:
            if self._streams[STDOUT].handlers or self._streams[STDERR].handlers:
                self._open_targets()
        except OSError:
            if not lenient_targets:
                raise
            logger.exception("cannot open an output file of %s", self)
        self._strand.hold()
        self.started = True
        self._set_start_date()
        self._submit_monotonic = self._start_monotonic

    def _set_start_date(self) -> None:
        """``self._lock`` held: the real start (a queued process gets its start and
        timeout dates when it is spawned, see :mod:`execo.start_queue`).
        The monotonic clock is read too: the records' durations
        (:mod:`execo.records`) do not jump with the wall clock."""
        self._start_monotonic = time.monotonic()
        self.start_date = time.time()
        if self.timeout is not None:
            self.timeout_date = self.start_date + self.timeout

    def _open_targets(self) -> None:
        """Filenames among the output handlers are opened at start (an
        unwritable one raises here, before anything is started)."""
        streams = (self._streams[STDOUT], self._streams[STDERR])
        for out in streams:
            out.targets = {}
        try:
            for out in streams:
                out.open_targets()
        except OSError:
            self._close_targets()
            raise

    def _close_targets(self) -> None:
        for out in self._streams.values():
            if out.targets:
                out.close_targets()

    def _on_data(self, stream: int, data: bytes) -> None:
        """Output for the handlers (the reactor collects by itself while
        there are none)."""
        out = self._streams[stream]
        with self._io_lock:
            collector = out.collector
            if collector.keep:
                collector.add(data)
            handlers: Sequence[Any] = out.handlers
            if not handlers:
                return
            handlers = tuple(handlers)
        if _at_read(self, stream, data, False, handlers) and self._strand.run_inline(
            self._dispatch, (stream, handlers, data, False, False)
        ):
            return  # (inline, as post_output would run it: one call less a chunk)
        self._strand.post_output(self._dispatch_chunks, (stream, handlers), data)

    def _on_fed_data(self, stream: int, data: bytes) -> None:
        """Output that reaches the process without the reactor reading it
        for this process (taktuk's lines, demultiplexed in Python):
        counted as read, then handled as :meth:`_on_data` does."""
        self._streams[stream].collector.nread += len(data)
        self._on_data(stream, data)

    def _on_eof(self, stream: int, err: int) -> None:
        """The stream reached end of file (err: errno of a read error, or 0)."""
        out = self._streams[stream]
        with self._io_lock:
            out.eof_read = True
            out.collector.shrink()
            handlers = tuple(out.handlers)
            if not handlers:
                # nothing to deliver it to: given at once (what the strand
                # would do when it got there; an expect() attaching later
                # sees it, and the end check below still comes after the
                # calls already queued)
                out.eof = True
        if handlers:
            self._strand.post(self._deliver_eof, (stream, err), _at_read(self, stream, b"", True, handlers))
        if self._eof_may_end():
            self._post_end_check()

    def _eof_may_end(self) -> bool:
        """Hook, read just after an eof was posted: whether that eof may
        be the last thing the end waits for (if not, the end check is
        posted later by what is still missing)."""
        return True

    def _dispatch_chunks(self, key: Tuple[int, Tuple[Any, ...]], chunks: List[bytes]) -> None:
        stream, handlers = key
        data = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        self._dispatch(stream, handlers, data, False, False)

    def _deliver_eof(self, stream: int, err: int) -> None:
        # in the strand: an expect() attaching meanwhile either is in this
        # list or sees _eof set (same lock)
        out = self._streams[stream]
        with self._io_lock:
            out.eof = True
            handlers = list(out.handlers)
        if handlers:
            self._dispatch(stream, handlers, b"", True, err != 0)

    def _post_end_check(self) -> None:
        """Run _maybe_ended after the handler calls already posted."""
        handlers = self.lifecycle_handlers
        self._strand.post(self._maybe_ended, (), not handlers or _all_inline(handlers))

    def _on_backlog(self, paused: bool) -> None:
        """The handlers lag more than HIGH_WATER bytes behind (paused), or
        caught up. Pausing happens in the reactor thread, resuming in a
        handler thread: both apply, in the reactor thread, the strand's
        state at that moment, so the last change always wins."""
        reactor = get_reactor()
        if reactor.in_loop_thread():
            self._sync_reading()
        else:
            reactor.call_soon(self._sync_reading)

    def _sync_reading(self) -> None:
        self._set_reading(not self._strand.paused)

    def _set_reading(self, on: bool) -> None:
        """Stop or resume reading the output (subclasses with a reader)."""

    def _dispatch(self, stream: int, handlers: Iterable[Any], data: bytes, eof: bool, error: bool) -> None:
        """Send output to the user's handlers (in the strand)."""
        out = self._streams[stream]
        text = None
        lines = None
        for h in handlers:
            try:
                if type(h) is ExpectOutputHandler:
                    # (execo's own class, expect()'s handler included: the
                    # general branch below without its look-ups, the class
                    # being thread-safe by itself with a five-argument read)
                    if text is None:
                        text = out.decode(data, eof or error)
                    h.read(self, stream, text, eof, error)
                elif isinstance(h, ProcessOutputHandler):
                    with _call_lock(h):  # a handler shared by processes: one at a time
                        if type(h).read is ProcessOutputHandler.read:
                            # line handler: lines split in C, no decoding of the chunk
                            if lines is None:
                                lines, last = out.split_lines(data, eof or error)
                            read_line: Callable[..., None] = h.read_line
                            if _short_form(read_line):  # a 2.8.2 handler: no line ending
                                for line in lines:
                                    read_line(self, stream, _without_ending(line))
                                if last:
                                    read_line(self, stream, _without_ending(last))
                            else:
                                for line in lines:
                                    read_line(self, stream, line, False, False)
                                if last:
                                    read_line(self, stream, last, eof, error)
                        else:
                            if text is None:
                                text = out.decode(data, eof or error)
                            read: Callable[..., None] = h.read
                            if not _short_form(read):
                                read(self, stream, text, eof, error)
                            elif text:
                                read(self, stream, text)
                elif isinstance(h, int):
                    if data:
                        _write_all(h, data)
                elif isinstance(h, (str, os.PathLike)):
                    f = out.targets.get(h)
                    if f is not None:
                        if data:
                            f.write(data)
                        if eof or error:
                            f.close()
                            del out.targets[h]
                elif hasattr(h, "write"):
                    if _wants_text(h):
                        if text is None:
                            text = out.decode(data, eof or error)
                        if text:
                            h.write(text)
                    elif data:
                        h.write(data)
                    if eof or error:
                        flush = getattr(h, "flush", None)
                        if flush is not None:
                            flush()
                else:
                    raise TypeError("invalid output handler %r" % (h,))
            except Exception:
                logger.exception("%s handler %r of %s raised an exception", stream_name(stream), h, self)

    # ------------------------------------------------------------ the end
    # Written once for every kind of process; what differs is in the
    # hooks _end_reached, _end_exit_code and _ending.

    def _maybe_ended(self) -> bool:
        """End the process if everything it waits for happened
        (:meth:`_end_reached`); returns whether it has ended.

        Runs in the strand (posted by _post_end_check after the handler
        calls already posted), so the lifecycle ``end`` handlers come
        after the last output call. Under ``self._lock``: exit_code,
        end_date, timeouted (False unless it fired) and ended are set;
        then, the lock released: what :meth:`_ending` asked for, the
        output files closed, the end notified (:meth:`_notify_end`)."""
        with self._lock:
            if self.ended or not self._end_reached():
                return self.ended
            after = self._ending()
            self.exit_code = self._end_exit_code()
            self._end_monotonic = time.monotonic()
            self.end_date = time.time()
            if self.timeouted is None:
                self.timeouted = False
            self.ended = True
        if after is not None:
            after()
        self._close_targets()
        self._notify_end()
        return True

    def _end_reached(self) -> bool:
        """Hook, ``self._lock`` held: whether everything this kind of
        process waits for before it ends has happened (a ProcessBase by
        itself never ends)."""
        return False

    def _end_exit_code(self) -> Optional[int]:
        """Hook, ``self._lock`` held, as the process ends: its exit_code."""
        return self._exit_status

    def _ending(self) -> Optional[Callable[[], None]]:
        """Hook, ``self._lock`` held, as the process ends (before its
        exit_code is set): what must stop with it (timers, for instance);
        returns what to do once the lock is released (close a stdin, give
        back a start-queue slot), or None."""
        return None

    def _notify_end(self) -> None:
        """After the end (no lock held): log it, call the lifecycle ``end``
        handlers, wake wait()."""
        self._log_terminated()
        if self.lifecycle_handlers:
            self._call_lifecycle("end")
        self._set_ended_event()

    # ------------------------------------------------ timeouts and kills
    # (the policy shared by every kind of process; how a signal reaches
    # the process is the subclass's kill())

    def _arm_timeout(self) -> None:
        """``self._lock`` held, at start: the timeout timer, if any."""
        if self.timeout is not None:
            self._timers.append(get_reactor().call_later(self.timeout, self._on_timeout))

    def _arm_force_kill(self, sig: int, auto_force_kill_timeout: Union[bool, None, DurationLike]) -> None:
        """``self._lock`` held, in kill(): SIGKILL later if SIGTERM/SIGINT is not enough
        (``auto_force_kill_timeout`` as for :meth:`execo.process.Process.kill`)."""
        if sig not in (signal.SIGTERM, signal.SIGINT) or auto_force_kill_timeout in (None, False):
            return
        if auto_force_kill_timeout is True:
            kill_timeout = get_seconds(configuration.get("kill_timeout"))
        else:
            kill_timeout = get_seconds(auto_force_kill_timeout)
        if kill_timeout is not None:
            self._timers.append(get_reactor().call_later(kill_timeout, self._on_force_kill))

    def _cancel_timers(self) -> None:
        """``self._lock`` held."""
        if self._timers:
            for t in self._timers:
                t.cancel()
            self._timers = []

    def _on_timeout(self) -> None:
        if self.ended:
            return
        self.timeouted = True
        self.kill()

    def _on_force_kill(self) -> None:
        if self.ended:
            return
        self.forced_kill = True
        self.kill(signal.SIGKILL)

    @property
    def stdout_handlers(self) -> List[OutputHandlerLike]:
        """List which can contain instances of
        :class:`execo.process.ProcessOutputHandler` for handling activity on
        process stdout, or existing file descriptors (positive integer), or
        existing file objects, or filenames, to which stdout will be sent.
        If a filename is given, it will be opened in write mode, and closed
        on eof."""
        return self._streams[STDOUT].handlers

    @stdout_handlers.setter
    def stdout_handlers(self, handlers: Optional[Iterable[OutputHandlerLike]]) -> None:
        out = self._streams[STDOUT]
        out.handlers = _HandlerList(out, self._handler_list("stdout_handlers", handlers))

    @property
    def stderr_handlers(self) -> List[OutputHandlerLike]:
        """Same as stdout_handlers, for stderr."""
        return self._streams[STDERR].handlers

    @stderr_handlers.setter
    def stderr_handlers(self, handlers: Optional[Iterable[OutputHandlerLike]]) -> None:
        out = self._streams[STDERR]
        out.handlers = _HandlerList(out, self._handler_list("stderr_handlers", handlers))

    # ---------------------------------------------------------- state

    @property
    def running(self) -> bool:
        """If the process is currently running."""
        return self.started and not self.ended

    @property
    def ok(self) -> bool:
        """Check process is ok.

        A process is ok, if:

        - did not failed on an expect invocation (or was instructed to
          ignore it)
        - has no write error (or was instructed to ignore it)
        - it is not yet started or not yet ended
        - it started and ended and:

          - has no error (or was instructed to ignore them)
          - did not timeout (or was instructed to ignore it)
          - returned 0 (or was instructed to ignore a non zero exit code)
        """
        if self.expect_fail and not self.ignore_expect_fail:
            return False
        if self.write_error and not self.ignore_write_error:
            return False
        if not self.started or not self.ended:
            return True
        if self.error:
            return bool(self.ignore_error)
        return bool(
            (not self.timeouted or self.ignore_timeout)
            and (self.exit_code == 0 or self.ignore_exit_code or self.killed)
        )

    @property
    def finished_ok(self) -> bool:
        """Check process has ran and is ok.

        A process is finished_ok if it has started and ended and it is ok.
        """
        return self.started and self.ended and self.ok

    def stats(self) -> Dict[str, Any]:
        """Return a dict summarizing the statistics of this process.

        see :meth:`execo.report.Report.stats`: its ``name`` is the
        process's, its ``sub_stats`` empty.
        """
        stats = Report.empty_stats()
        stats["name"] = self.name
        stats["start_date"] = self.start_date
        stats["end_date"] = self.end_date
        stats["num_processes"] = 1
        stats["num_started"] = int(bool(self.started))
        stats["num_ended"] = int(bool(self.ended))
        stats["num_errors"] = int(bool(self.error))
        stats["num_timeouts"] = int(bool(self.timeouted))
        stats["num_forced_kills"] = int(bool(self.forced_kill))
        stats["num_expect_fail"] = int(bool(self.expect_fail))
        stats["num_write_error"] = int(bool(self.write_error))
        stats["num_non_zero_exit_codes"] = int(
            bool(self.started and self.ended and not self.error and self.exit_code != 0)
        )
        stats["num_ok"] = int(self.ok)
        stats["num_finished_ok"] = int(self.finished_ok)
        return stats

    # ---------------------------------------------------------- display

    def _args(self) -> List[str]:
        return [repr(self.cmd)] + ProcessBase._kwargs(self)

    def _kwargs(self) -> List[str]:
        kwargs = []
        if self.timeout is not None:
            kwargs.append("timeout=%r" % (self.timeout,))
        for flag in _IGNORE_NOLOG_FLAGS:
            if getattr(self, flag):
                kwargs.append("%s=%r" % (flag, getattr(self, flag)))
        if self.default_expect_timeout is not None:
            kwargs.append("default_expect_timeout=%r" % (self.default_expect_timeout,))
        if self.default_stdout_handler is not True:
            kwargs.append("default_stdout_handler=%r" % (self.default_stdout_handler,))
        if self.default_stderr_handler is not True:
            kwargs.append("default_stderr_handler=%r" % (self.default_stderr_handler,))
        return kwargs

    def _infos(self) -> List[str]:
        infos = [
            "name=%s" % (self.name,),
            "started=%s" % (self.started,),
            "start_date=%s" % (format_unixts(self.start_date) if self.start_date else None,),
            "ended=%s" % (self.ended,),
            "end_date=%s" % (format_unixts(self.end_date) if self.end_date else None,),
            "killed=%s" % (self.killed,),
            "error=%s" % (self.error,),
            "error_reason=%s" % (_errno_text(self.error_reason),),
            "timeouted=%s" % (self.timeouted,),
            "expect_fail=%s" % (self.expect_fail,),
            "write_error=%s" % (self.write_error,),
            "exit_code=%s" % (self.exit_code,),
            "ok=%s" % (self.ok,),
        ]
        if self.forced_kill:
            infos.append("forced_kill=%s" % (self.forced_kill,))
        return infos

    def __repr__(self) -> str:
        return "%s(%s)" % (self.__class__.__name__, ", ".join(self._args()))

    def __str__(self) -> str:
        return "<%s(%s)>" % (style.object_repr(self.__class__.__name__), ", ".join(self._args() + self._infos()))

    def dump(self) -> str:
        """A multi-line description: the process, its stdout and stderr
        (only their beginning and end beyond
        ``configuration['compact_output_threshold']``)."""
        return "%s\n%s\n%s\n%s\n%s" % (
            str(self),
            style.emph("stdout:"),
            compact_output(self.stdout),
            style.emph("stderr:"),
            compact_output(self.stderr),
        )

    # --------------------------------------------------------- lifecycle

    def __enter__(self: _P) -> _P:
        """Context manager enter function: returns self"""
        return self

    def __exit__(
        self, t: Optional[Type[BaseException]], v: Optional[BaseException], traceback: Optional[TracebackType]
    ) -> Literal[False]:
        """Context manager leave function: kills the process"""
        self.kill()
        return False

    def kill(
        self: _P, sig: int = signal.SIGTERM, auto_force_kill_timeout: Union[bool, None, DurationLike] = True
    ) -> _P:
        """Send a signal to the process (implemented by subclasses)."""
        raise NotImplementedError

    def wait(self: _P, timeout: Optional[DurationLike] = None) -> _P:
        """Wait for the process end.

        From one of the process's own handlers (output handler, lifecycle
        handler, expect callback, all run in the process's strand, see
        :mod:`execo.handler_threads`) the end cannot come while the
        handler runs: wait() raises :class:`execo.exception.DeadlockError`
        instead of blocking for ever (or until ``timeout``); in the
        lifecycle ``end`` handler the process has ended and wait() returns
        at once. Waiting for a process from a handler of *another* process
        works.
        """
        if not self.started:
            raise ValueError("trying to wait a process which has not been started: %r" % (self,))
        if self._strand.is_current() and self._check_wait_from_handler():
            return self
        seconds = get_seconds(timeout)
        if self._end_notified:
            return self
        # this thread serves the process's fds while it waits (execo.waiting)
        waiter = Waiter()
        self._waiters.append(waiter)
        try:
            wait_serving(self, STDOUT | STDERR, True, _EndNotified(self), seconds, waiter)
        finally:
            self._waiters.remove(waiter)
        return self

    def _lend(self, streams: int, reap: bool, wake_fd: int) -> Optional[_reactor.Child]:
        """Lend this process's ``streams`` (and, with ``reap``, its exit)
        to the calling thread, which serves them while it waits (see
        :mod:`execo.waiting`): the child they belong to, or None (not
        possible: wait for the reactor). Here: never."""
        return None

    def _unpark(self) -> None:
        """Hand to the reactor what of this process's child is still out of
        its poll set, waiting for this thread to serve it (parked at spawn
        by run(): see ``Reactor.spawn``'s ``park``). Here: nothing."""

    def _in_own_handler(self) -> bool:
        """Whether the calling thread runs one of this process's handlers
        (output, lifecycle, expect callback), or its start()."""
        return self._strand.is_current()

    def _check_wait_from_handler(self) -> bool:
        """For wait(): True if called from one of this process's own
        handlers once it has ended (its lifecycle ``end`` handlers run:
        nothing left to wait for); raises DeadlockError if called from
        one of them before (the end comes after the handler returns);
        False otherwise."""
        if not self._in_own_handler():
            return False
        if self.ended:
            return True
        raise DeadlockError(
            "wait() called from a handler of the process it waits for (%s): the process's "
            "end is handled after that handler returns, so this wait would never end. "
            "Wait from another thread, or from a handler of another process." % (self.name,)
        )

    async def wait_async(self: _P, timeout: Optional[DurationLike] = None) -> _P:
        """Like :meth:`wait`, in an asyncio event loop: ``await
        process.wait_async()``. No thread per wait: the end of the
        process resolves the wait through ``loop.call_soon_threadsafe``.
        Returns the process (ended or not, after a timeout)."""
        if not self.started:
            raise ValueError("trying to wait a process which has not been started: %r" % (self,))
        return await aio.wait_async(self, self._end_was_notified, timeout)

    def lines_async(self, stream: int = STDOUT, start_from_current: bool = False) -> AsyncIterator[str]:
        """``async for line in process.lines_async():`` the lines of stdout
        (or ``stream=STDERR``) with their end of line, as they come, until
        end of file; from the beginning of the output unless
        ``start_from_current``.

        The lines are exactly those a
        :meth:`~execo.process.ProcessOutputHandler.read_line` handler gets:
        a line ends after ``\\n`` and only there, however the output was
        cut into reads (a ``\\r\\n`` ending, as through a pty or ``ssh
        -tt``, stays whole at the end of its line; ``\\r``, ``\\x0b``,
        ``\\x0c``, ``\\x1c``-``\\x1e``, ``\\x85``, ``\\u2028``, ``\\u2029``
        do not end a line, unlike ``str.splitlines``); a last line without
        ``\\n`` comes at end of file."""
        return aio.lines_async(self, stream, start_from_current)

    def reset(self: _P) -> _P:
        """Reinitialize a process so that it can later be restarted.

        If it is running, this method will first kill it then wait for its
        termination before reseting;
        """
        if self.started and not self.ended:
            self.kill()
            self.wait()
        self._call_lifecycle("reset")
        with self._lock:
            self._common_reset()
        return self

    def _end_was_notified(self) -> bool:
        return self._end_notified

    def _set_started(self) -> None:
        with self._cond_lock:  # (what a waiter makes an event or condition under)
            self._start_notified = True
            event, condition = self._started_event, self._started_condition
        if event is not None:
            event.set()
        if condition is not None:
            with condition:
                condition.notify_all()

    def _set_ended_event(self) -> None:
        with self._cond_lock:
            self._end_notified = True
            event, condition = self._ended_event, self._ended_condition
        if event is not None:
            event.set()
        for waiter in list(self._waiters):
            waiter.wake()
        if condition is not None:
            with condition:
                condition.notify_all()
        aio.fire_end_callbacks(self)

    def _call_lifecycle(self, what: str) -> None:
        for handler in list(self.lifecycle_handlers):
            try:
                with _call_lock(handler):
                    getattr(handler, what)(self)
            except Exception:
                logger.exception("process lifecycle handler %r %s() raised an exception for %s", handler, what, self)

    def _log_terminated(self) -> None:
        warn = (
            (self.error and not self.nolog_error)
            or (self.timeouted and not self.nolog_timeout)
            or (not self.error and self.exit_code != 0 and not (self.nolog_exit_code or self.killed))
        )
        if warn:
            logger.warning("%s %s", style.emph("terminated:"), self.dump())
        elif logger.isEnabledFor(10):
            logger.debug("%s %s", style.emph("terminated:"), self.dump())

    # ------------------------------------------------------------ expect

    def expect(
        self,
        regexes: RegexesLike,
        timeout: Union[Literal[False], None, DurationLike] = False,
        stream: int = STDOUT,
        backtrack_size: Optional[int] = 2000,
        start_from_current: bool = False,
    ) -> ExpectResult:
        """searches the process output stream(s) for some regex. It
        mimics/takes ideas from Don Libes expect, or python-pexpect.

        It is an easier-to-use frontend for
        :class:`execo.process.ExpectOutputHandler`.

        It waits for a regex to match, then returns tuple (regex index,
        match object), or (None, None) if timeout reached, or if eof
        reached, or stream in error, without any match.

        It uses thread local storage such that concurrent expects in
        parallel threads do not interfere which each other.

        Called from one of this process's own handlers, it raises
        :class:`execo.exception.DeadlockError`: the output it would search
        is handed over only after that handler returns (use an
        :class:`ExpectOutputHandler` with a callback there).

        Patterns that could backtrack catastrophically on hostile output
        (``^(a+)+$``; any repetition of variable length) are searched with
        the :mod:`regex` module, with :mod:`re`'s results, without holding
        the interpreter and within ``timeout``: expect() returns (None,
        None) at its timeout whatever the pattern. Without a timeout, a
        search longer than ``configuration['expect_search_timeout']`` is
        given up (as at end of file, with a warning). See
        :mod:`execo.regex_search`.

        :param regexes: a regex or list of regexes. May be given as string
          or as compiled regexes.
        :param timeout: wait timeout after which it returns (None, None) if
          no match was found. If False (the default): use the default
          expect timeout. If None: no timeout.
        :param stream: stream to monitor for this process, STDOUT or STDERR.
        :param backtrack_size: see :meth:`ExpectOutputHandler.expect`.
        :param start_from_current: boolean. If True: when a process is
          monitored by this handler for the first time, the regex matching
          is started from the position in the stream at the time that this
          output hander starts receiving data. If False: when a process is
          monitored by this handler for the first time, the regex matching
          is started from the beginning of the stream.
        """
        return expect_all(
            [self], regexes, timeout, stream, backtrack_size, start_from_current, self.default_expect_timeout
        )[0]

    def _notify_expect_fail(self, regexes: RegexesLike) -> None:
        self.expect_fail = True
        if not self.nolog_expect_fail:
            logger.warning("%s %r in %s", style.emph("expect failed for"), regexes, self)


def _on_backlog_of(process: "weakref.ReferenceType[ProcessBase]", paused: bool) -> None:
    """A process's strand's ``on_backlog``, holding the process weakly."""
    p = process()
    if p is not None:
        p._on_backlog(paused)


def _errno_text(err: Optional[Union[int, str]]) -> Optional[str]:
    if err is None:
        return None
    return "%s (%s)" % (errno.errorcode.get(err, err), os.strerror(err)) if isinstance(err, int) else str(err)


def _wants_text(f: object) -> bool:
    """Whether the file object f takes str (else bytes)."""
    if isinstance(f, io.TextIOBase):
        return True
    if isinstance(f, (io.RawIOBase, io.BufferedIOBase)):
        return False
    mode = getattr(f, "mode", None)
    if isinstance(mode, str):
        return "b" not in mode
    return hasattr(f, "encoding")


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]
