"""Processes: :class:`ProcessBase`, :class:`Process` and :func:`get_process`.

A :class:`Process` is an operating system process watched by execo's
reactor thread (see :mod:`execo.conductor`), which reads its stdout and
stderr as they come, reaps it, fires its timeout and calls its handlers.
This module is the policy: when a process is ok, what is logged, what a
kill or a timeout means.  The mechanism lives in :mod:`execo._reactor`.

Each running local process costs 4 file descriptors in the parent (stdin,
stdout and stderr pipes, and a pidfd), 3 with a pty (the pty master twice
and stderr), plus the pidfd; the pidfd is not used with the SIGCHLD child
watcher.
"""

import codecs
import errno
import io
import locale
import os
import shlex
import signal
import threading
import time

from . import _reactor
from .conductor import get_reactor
from .config import configuration
from .handlers import (STDOUT, STDERR, ExpectOutputHandler, ProcessLifecycleHandler,
                       ProcessOutputHandler, stream_name)
from .log import logger, style
from .report import Report
from .time_utils import format_unixts, get_seconds
from .utils import name_from_cmdline

__all__ = ["ProcessBase", "Process", "get_process", "STDOUT", "STDERR",
           "ProcessLifecycleHandler", "ProcessOutputHandler", "ExpectOutputHandler"]

ENCODING = locale.getpreferredencoding(False) or "utf-8"
"""Encoding of process output and input (the locale's, with surrogateescape
so that any byte round-trips)."""

EOF_GRACE_AFTER_EXIT = 2.0
"""Seconds to wait, after a process exited, for its stdout/stderr to reach
eof.  A background grandchild may keep the pipes open forever: after this
grace what is readable is drained, the pipes are closed and the process
ends."""

_PTY_CONTROL_CHARS = {signal.SIGINT: b"\x03", signal.SIGTERM: b"\x03", signal.SIGKILL: b"\x03",
                      signal.SIGQUIT: b"\x1c", signal.SIGTSTP: b"\x1a"}


def _check_bool(name, value):
    if not isinstance(value, (bool, int)) and value is not None:
        raise TypeError("%s must be a boolean, not %r" % (name, value))


def _check_cmd(cmd):
    if isinstance(cmd, str):
        return cmd
    if isinstance(cmd, (tuple, list)):
        if not cmd:
            raise ValueError("empty command")
        for a in cmd:
            if not isinstance(a, (str, bytes, os.PathLike)):
                raise TypeError("command arguments must be str, bytes or paths, not %r" % (a,))
        return tuple(cmd) if isinstance(cmd, list) else cmd
    raise TypeError("cmd must be a str or a tuple of str, not %s" % (type(cmd).__name__,))


def _wait_event(event, timeout):
    """Wait for a threading.Event with an optional timeout, waking every
    configuration['intr_period'] so that Ctrl-C is handled promptly.
    Returns True if the event is set."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        period = configuration.get("intr_period") or 1
        if deadline is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return event.is_set()
            period = min(period, remaining)
        if event.wait(period):
            return True


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
    """

    #: Process command line: string or tuple containing the command and args to run.
    cmd = None
    #: Remote host, if relevant
    host = None

    def __init__(self, cmd, timeout=None, ignore_exit_code=False, nolog_exit_code=False,
                 ignore_timeout=False, nolog_timeout=False, ignore_error=False, nolog_error=False,
                 ignore_expect_fail=False, nolog_expect_fail=False, ignore_write_error=False,
                 nolog_write_error=False, default_expect_timeout=None, default_stdout_handler=True,
                 default_stderr_handler=True, lifecycle_handlers=None, stdout_handlers=None,
                 stderr_handlers=None, name=None):
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
        for flag_name, value in (("ignore_exit_code", ignore_exit_code), ("nolog_exit_code", nolog_exit_code),
                                 ("ignore_timeout", ignore_timeout), ("nolog_timeout", nolog_timeout),
                                 ("ignore_error", ignore_error), ("nolog_error", nolog_error),
                                 ("ignore_expect_fail", ignore_expect_fail),
                                 ("nolog_expect_fail", nolog_expect_fail),
                                 ("ignore_write_error", ignore_write_error),
                                 ("nolog_write_error", nolog_write_error),
                                 ("default_stdout_handler", default_stdout_handler),
                                 ("default_stderr_handler", default_stderr_handler)):
            _check_bool(flag_name, value)
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
        self.stdout_handlers = self._handler_list("stdout_handlers", stdout_handlers)
        self.stderr_handlers = self._handler_list("stderr_handlers", stderr_handlers)
        if name is not None and not isinstance(name, str):
            raise TypeError("name must be a str, not %r" % (name,))
        self.name = name if name is not None else name_from_cmdline(self.cmd)
        self._lock = threading.RLock()
        self._io_lock = threading.Lock()
        self._tls = threading.local()
        self.started_event = threading.Event()
        self.ended_event = threading.Event()
        # reentrant, so that a thread holding a condition may start() or
        # kill() the process, then wait on it
        self._cond_lock = threading.RLock()
        self.started_condition = threading.Condition(self._cond_lock)
        self.ended_condition = threading.Condition(self._cond_lock)
        self._common_reset()

    @staticmethod
    def _handler_list(what, handlers):
        if handlers is None:
            return []
        if isinstance(handlers, (str, bytes)) or not hasattr(handlers, "__iter__"):
            raise TypeError("%s must be a list, not %r" % (what, handlers))
        return list(handlers)

    def _common_reset(self):
        """Runtime state, as in a new process (constructor and reset())."""
        self.started = False
        self.start_date = None
        self.ended = False
        self.end_date = None
        self.error = False
        self.error_reason = None
        self.exit_code = None
        self.timeout_date = None
        self.timeouted = None
        self.killed = False
        self.forced_kill = False
        self.expect_fail = False
        self.write_error = False
        self.started_event.clear()
        self.ended_event.clear()
        self._chunks = {STDOUT: [], STDERR: []}
        self._texts = {STDOUT: ("", 0, None), STDERR: ("", 0, None)}
        self._eof = {STDOUT: False, STDERR: False}
        # the thread-local expect handlers of every thread are dropped
        for stream, handler in getattr(self, "_expect_handlers", ()):
            handlers = self.stdout_handlers if stream == STDOUT else self.stderr_handlers
            if handler in handlers:
                handlers.remove(handler)
        self._expect_handlers = []
        self._tls = threading.local()

    # ------------------------------------------------------------ output

    def _collected_text(self, stream):
        """Decoded text collected so far on stream (None when the default
        handler of that stream is off).  Decoding is lazy and incremental:
        the reactor only keeps byte chunks."""
        with self._io_lock:
            return self._collected_text_locked(stream)

    def _collected_text_locked(self, stream):
        if not (self.default_stdout_handler if stream == STDOUT else self.default_stderr_handler):
            return None
        text, ndone, decoder = self._texts[stream]
        chunks = self._chunks[stream]
        eof = self._eof[stream]
        if ndone < len(chunks) or (eof and decoder is not None):
            if decoder is None:
                decoder = codecs.getincrementaldecoder(ENCODING)("surrogateescape")
            new = decoder.decode(b"".join(chunks[ndone:]), eof)
            if new:
                text = text + new if text else new
            if eof:
                decoder = None
            self._texts[stream] = (text, len(chunks), decoder)
        return text

    @property
    def stdout(self):
        """Process stdout (str, decoded with the locale encoding and
        surrogateescape)."""
        return self._collected_text(STDOUT) or ""

    @stdout.setter
    def stdout(self, value):
        self._set_text(STDOUT, value)

    @property
    def stderr(self):
        """Process stderr (str, decoded with the locale encoding and
        surrogateescape)."""
        return self._collected_text(STDERR) or ""

    @stderr.setter
    def stderr(self, value):
        self._set_text(STDERR, value)

    def _set_text(self, stream, value):
        with self._io_lock:
            data = value.encode(ENCODING, "surrogateescape") if isinstance(value, str) else bytes(value)
            self._chunks[stream] = [data] if data else []
            self._texts[stream] = ("", 0, None)

    # ---------------------------------------------------------- state

    @property
    def running(self):
        """If the process is currently running."""
        return self.started and not self.ended

    @property
    def ok(self):
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
        return bool((not self.timeouted or self.ignore_timeout)
                    and (self.exit_code == 0 or self.ignore_exit_code or self.killed))

    @property
    def finished_ok(self):
        """Check process has ran and is ok.

        A process is finished_ok if it has started and ended and it is ok.
        """
        return self.started and self.ended and self.ok

    def stats(self):
        """Return a dict summarizing the statistics of this process.

        see :meth:`execo.report.Report.stats`.
        """
        stats = Report.empty_stats()
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
        stats["num_non_zero_exit_codes"] = int(bool(
            self.started and self.ended and not self.error and self.exit_code != 0))
        stats["num_ok"] = int(self.ok)
        stats["num_finished_ok"] = int(self.finished_ok)
        return stats

    # ---------------------------------------------------------- display

    def _args(self):
        return [repr(self.cmd)] + ProcessBase._kwargs(self)

    def _kwargs(self):
        kwargs = []
        if self.timeout is not None:
            kwargs.append("timeout=%r" % (self.timeout,))
        for flag in ("ignore_exit_code", "nolog_exit_code", "ignore_timeout", "nolog_timeout",
                     "ignore_error", "nolog_error", "ignore_expect_fail", "nolog_expect_fail",
                     "ignore_write_error", "nolog_write_error"):
            if getattr(self, flag):
                kwargs.append("%s=%r" % (flag, getattr(self, flag)))
        if self.default_expect_timeout is not None:
            kwargs.append("default_expect_timeout=%r" % (self.default_expect_timeout,))
        if self.default_stdout_handler is not True:
            kwargs.append("default_stdout_handler=%r" % (self.default_stdout_handler,))
        if self.default_stderr_handler is not True:
            kwargs.append("default_stderr_handler=%r" % (self.default_stderr_handler,))
        return kwargs

    def _infos(self):
        infos = ["name=%s" % (self.name,),
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
                 "ok=%s" % (self.ok,)]
        if self.forced_kill:
            infos.append("forced_kill=%s" % (self.forced_kill,))
        return infos

    def __repr__(self):
        return "%s(%s)" % (self.__class__.__name__, ", ".join(self._args()))

    def __str__(self):
        return "<%s(%s)>" % (style.object_repr(self.__class__.__name__),
                             ", ".join(self._args() + self._infos()))

    def dump(self):
        """A multi-line description: the process, its stdout and stderr
        (only their beginning and end beyond
        ``configuration['compact_output_threshold']``)."""
        return "%s\n%s\n%s\n%s\n%s" % (str(self), style.emph("stdout:"), _compact(self.stdout),
                                       style.emph("stderr:"), _compact(self.stderr))

    # --------------------------------------------------------- lifecycle

    def __enter__(self):
        """Context manager enter function: returns self"""
        return self

    def __exit__(self, t, v, traceback):
        """Context manager leave function: kills the process"""
        self.kill()
        return False

    def kill(self, sig=signal.SIGTERM, auto_force_kill_timeout=True):
        """Send a signal to the process (implemented by subclasses)."""
        raise NotImplementedError

    def wait(self, timeout=None):
        """Wait for the process end (implemented by subclasses)."""
        raise NotImplementedError

    def reset(self):
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

    def _set_started(self):
        self.started_event.set()
        with self.started_condition:
            self.started_condition.notify_all()

    def _set_ended_event(self):
        self.ended_event.set()
        with self.ended_condition:
            self.ended_condition.notify_all()

    def _call_lifecycle(self, what):
        for handler in list(self.lifecycle_handlers):
            try:
                getattr(handler, what)(self)
            except Exception:
                logger.exception("process lifecycle handler %r %s() raised an exception for %s",
                                 handler, what, self)

    def _log_terminated(self):
        warn = ((self.error and not self.nolog_error)
                or (self.timeouted and not self.nolog_timeout)
                or (not self.error and self.exit_code != 0
                    and not (self.nolog_exit_code or self.killed)))
        if warn:
            logger.warning("%s %s", style.emph("terminated:"), self.dump())
        elif logger.isEnabledFor(10):
            logger.debug("%s %s", style.emph("terminated:"), self.dump())

    # ------------------------------------------------------------ expect

    def _expect_handler(self, stream, start_from_current):
        """This thread's ExpectOutputHandler on stream, attached on first use.

        Attaching happens under the output lock, so the handler sees every
        byte exactly once: what was collected before (unless
        start_from_current) and what arrives after."""
        handlers = getattr(self._tls, "expect_handlers", None)
        if handlers is None:
            handlers = self._tls.expect_handlers = {}
        handler = handlers.get(stream)
        if handler is None:
            handler = handlers[stream] = ExpectOutputHandler()
            with self._io_lock:
                initial = "" if start_from_current else (self._collected_text_locked(stream) or "")
                handler._attach(self, stream, initial, self._eof[stream])
                (self.stdout_handlers if stream == STDOUT else self.stderr_handlers).append(handler)
                self._expect_handlers.append((stream, handler))
        return handler

    def expect(self, regexes, timeout=False, stream=STDOUT, backtrack_size=2000, start_from_current=False):
        """searches the process output stream(s) for some regex. It
        mimics/takes ideas from Don Libes expect, or python-pexpect.

        It is an easier-to-use frontend for
        :class:`execo.process.ExpectOutputHandler`.

        It waits for a regex to match, then returns tuple (regex index,
        match object), or (None, None) if timeout reached, or if eof
        reached, or stream in error, without any match.

        It uses thread local storage such that concurrent expects in
        parallel threads do not interfere which each other.

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
        if stream not in (STDOUT, STDERR):
            raise ValueError("stream must be STDOUT or STDERR, not %r" % (stream,))
        if timeout is False:
            timeout = self.default_expect_timeout
        timeout = get_seconds(timeout)
        done = threading.Event()
        result = []

        def on_match(process, stream_, re_index, mo):
            if not result:
                result.append((re_index, mo))
            done.set()

        handler = self._expect_handler(stream, start_from_current)
        handler.expect(regexes, callback=on_match, backtrack_size=backtrack_size,
                       start_from_current=start_from_current)
        try:
            _wait_event(done, timeout)
        finally:
            if not done.is_set():
                handler._cancel()
        re_index, mo = result[0] if result else (None, None)
        if re_index is None:
            self._notify_expect_fail(regexes)
        return re_index, mo

    def _notify_expect_fail(self, regexes):
        self.expect_fail = True
        if not self.nolog_expect_fail:
            logger.warning("%s %r in %s", style.emph("expect failed for"), regexes, self)


def _errno_text(err):
    if err is None:
        return None
    return "%s (%s)" % (errno.errorcode.get(err, err), os.strerror(err)) if isinstance(err, int) else str(err)


def _compact(text):
    threshold = configuration.get("compact_output_threshold", 0)
    if not threshold or len(text) <= threshold:
        return text
    half = threshold // 2
    return text[:half] + "\n[...]\n" + text[-half:]


class Process(ProcessBase):
    """Handle an operating system process.

    In coordination with the internal reactor thread which is started when
    execo is imported, this class allows creation, start, interruption
    (kill), and waiting (for the termination) of an operating system
    process. The subprocess output streams (stdout, stderr), as well as
    various informations about the subprocess and its state can be
    accessed asynchronously.

    Example usage of the process class: run an iperf server, and connect
    to it with an iperf client::

      >>> server = Process('iperf -s')
      >>> server.ignore_exit_code = server.nolog_exit_code = True
      >>> server.start()
      Process('iperf -s')
      >>> client = Process('iperf -c localhost -t 2').start()
      >>> client.started
      True
      >>> client.ended
      False
      >>> client.wait()
      Process('iperf -c localhost -t 2')
      >>> client.ended
      True
      >>> server.ended
      False
      >>> server.kill()
      Process('iperf -s')
      >>> server.wait()
      Process('iperf -s')
      >>> server.ended
      True

    Output handlers, lifecycle end handlers and timeouts run in the
    reactor thread.
    """

    def __init__(self, cmd, shell=False, pty=False, kill_subprocesses=None, **kwargs):
        """
        :param cmd: string or tuple containing the command and args to run.
        :param shell: Whether or not to use a shell to run the cmd. See
          subprocess.Popen.
        :param pty: If True, open a pseudo tty and connect process's stdin
          and stdout to it (stderr is still connected as a pipe). Make
          process a session leader. If lacking permissions to send signals
          to the process, try to simulate sending control characters to
          its pty.
        :param kill_subprocesses: If True, signals are also sent to
          subprocesses. If None, automatically decide based on shell =
          True/False.
        """
        super(Process, self).__init__(cmd, **kwargs)
        _check_bool("shell", shell)
        _check_bool("pty", pty)
        _check_bool("kill_subprocesses", kill_subprocesses)
        self.shell = shell
        self.pty = pty
        self.kill_subprocesses = kill_subprocesses

    def _common_reset(self):
        super(Process, self)._common_reset()
        self.pid = None
        self.stdin_fd = None
        self.stdout_fd = None
        self.stderr_fd = None
        self._child = None
        self._start_notified = False
        self._end_deferred = False
        self._exit_status = None
        self._timers = []
        self._line_splitters = {}
        self._decoders = {}
        self._targets = {}

    def _kwargs(self):
        kwargs = []
        if self.shell:
            kwargs.append("shell=%r" % (self.shell,))
        if self.pty:
            kwargs.append("pty=%r" % (self.pty,))
        if self.kill_subprocesses is not None:
            kwargs.append("kill_subprocesses=%r" % (self.kill_subprocesses,))
        return kwargs

    def _args(self):
        return ProcessBase._args(self) + Process._kwargs(self)

    def _infos(self):
        return ProcessBase._infos(self) + ["pid=%s" % (self.pid,)]

    def _actual_kill_subprocesses(self):
        if self.kill_subprocesses is None:
            return bool(self.shell)
        return bool(self.kill_subprocesses)

    def _argv(self):
        """The argv to execute, as bytes."""
        cmd = self.cmd
        if self.shell:
            if isinstance(cmd, str):
                argv = ["/bin/sh", "-c", cmd]
            else:
                argv = ["/bin/sh", "-c"] + list(cmd)
        else:
            argv = shlex.split(cmd) if isinstance(cmd, str) else list(cmd)
            if not argv:
                raise ValueError("empty command: %r" % (cmd,))
        return [a if isinstance(a, bytes) else os.fsencode(a) for a in argv]

    # --------------------------------------------------------------- start

    def start(self):
        """Start the subprocess."""
        argv = self._argv()
        flags = _reactor.SPAWN_PATH | (_reactor.SPAWN_PTY if self.pty else _reactor.SPAWN_NEW_PGROUP)
        with self._lock:
            if self.started:
                raise ValueError("unable to start an already started process: %r" % (self,))
            self._open_targets()
            self.started = True
            self.start_date = time.time()
            if self.timeout is not None:
                self.timeout_date = self.start_date + self.timeout
            reactor = get_reactor()
            try:
                child = reactor.spawn(argv, flags, self)
            except OSError as e:
                self._start_failed(e)
                failed = True
            else:
                failed = False
                self._child = child
                self.pid = child.pid
                self.stdin_fd = child.stdin_fd if child.stdin_fd >= 0 else None
                self.stdout_fd = child.stdout_fd if child.stdout_fd >= 0 else None
                self.stderr_fd = child.stderr_fd if child.stderr_fd >= 0 else None
                if self.timeout is not None:
                    self._timers.append(reactor.call_later(self.timeout, self._on_timeout))
        # notifications and handlers run without the process lock held
        if not failed and logger.isEnabledFor(10):
            logger.debug("%s %s", style.emph("start:"), self)
        self._set_started()
        self._call_lifecycle("start")
        with self._lock:
            # the process may have ended meanwhile: its end notifications
            # were deferred so that handlers always see start before end
            self._start_notified = True
            end_now = failed or self._end_deferred
        if end_now:
            self._notify_end()
        return self

    def _start_failed(self, e):
        # lock held
        self.error = True
        self.error_reason = e.errno
        self.ended = True
        self.end_date = time.time()
        self.timeouted = False
        self._eof[STDOUT] = self._eof[STDERR] = True
        self._close_targets()

    def _open_targets(self):
        """Filenames among the output handlers are opened at start."""
        self._targets = {}
        for stream, handlers in ((STDOUT, self.stdout_handlers), (STDERR, self.stderr_handlers)):
            for h in handlers:
                if isinstance(h, (str, os.PathLike)) and (stream, h) not in self._targets:
                    self._targets[(stream, h)] = open(h, "wb")

    def _close_targets(self):
        for f in self._targets.values():
            try:
                f.close()
            except OSError:
                pass
        self._targets = {}

    # --------------------------------------------------- reactor callbacks

    def _on_data(self, stream, data):
        with self._io_lock:
            if self.default_stdout_handler if stream == STDOUT else self.default_stderr_handler:
                self._chunks[stream].append(data)
            handlers = self.stdout_handlers if stream == STDOUT else self.stderr_handlers
            if not handlers:
                return
            handlers = list(handlers)
        self._dispatch(stream, handlers, data, False, False)

    def _on_eof(self, stream, err):
        with self._io_lock:
            self._eof[stream] = True
            handlers = list(self.stdout_handlers if stream == STDOUT else self.stderr_handlers)
        self._dispatch(stream, handlers, b"", True, err != 0)
        self._maybe_ended()

    def _dispatch(self, stream, handlers, data, eof, error):
        """Send output to the user's handlers (reactor thread)."""
        text = None
        lines = None
        for h in handlers:
            try:
                if isinstance(h, ProcessOutputHandler):
                    if type(h).read is ProcessOutputHandler.read:
                        # line handler: lines split in C, no decoding of the chunk
                        if lines is None:
                            lines, last = self._split_lines(stream, data, eof or error)
                        for line in lines:
                            h.read_line(self, stream, line, False, False)
                        if last:
                            h.read_line(self, stream, last, eof, error)
                    else:
                        if text is None:
                            text = self._decode(stream, data, eof or error)
                        h.read(self, stream, text, eof, error)
                elif isinstance(h, int):
                    if data:
                        _write_all(h, data)
                elif isinstance(h, (str, os.PathLike)):
                    f = self._targets.get((stream, h))
                    if f is not None:
                        if data:
                            f.write(data)
                        if eof or error:
                            f.close()
                            del self._targets[(stream, h)]
                elif hasattr(h, "write"):
                    if _wants_text(h):
                        if text is None:
                            text = self._decode(stream, data, eof or error)
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
                logger.exception("%s handler %r of %s raised an exception",
                                 stream_name(stream), h, self)

    def _split_lines(self, stream, data, final):
        """Complete lines of data (split in C) and, when final, the last
        line without newline."""
        splitter = self._line_splitters.get(stream)
        if splitter is None:
            splitter = self._line_splitters[stream] = _reactor.LineSplitter(ENCODING)
        lines = splitter.feed(data) if data else []
        return lines, (splitter.flush() if final else "")

    def _decode(self, stream, data, final):
        """data decoded incrementally (a character cut between two reads
        is decoded whole)."""
        decoder = self._decoders.get(stream)
        if decoder is None:
            decoder = self._decoders[stream] = codecs.getincrementaldecoder(ENCODING)("surrogateescape")
        return decoder.decode(data, final)

    def _on_exit(self, code):
        with self._lock:
            self._exit_status = code
            for t in self._timers:
                t.cancel()
            self._timers = []
        if not self._maybe_ended():
            # a grandchild may hold the pipes open: bounded grace, then drain
            get_reactor().call_later(EOF_GRACE_AFTER_EXIT, self._end_grace_over)

    def _end_grace_over(self):
        with self._lock:
            child = self._child
        if child is not None and not self.ended:
            child.close_streams()

    def _on_write_error(self, stream, err):
        self._set_write_error(err)

    def _on_timeout(self):
        if self.ended:
            return
        self.timeouted = True
        self.kill()

    def _on_force_kill(self):
        if self.ended:
            return
        self.forced_kill = True
        self.kill(signal.SIGKILL)

    def _maybe_ended(self):
        """End the process once its exit status is known and both output
        streams reached eof (reactor thread)."""
        with self._lock:
            if self.ended or self._exit_status is None:
                return self.ended
            if (self.stdout_fd is not None and not self._eof[STDOUT]) or \
               (self.stderr_fd is not None and not self._eof[STDERR]):
                return False
            self.exit_code = self._exit_status
            self.end_date = time.time()
            if self.timeouted is None:
                self.timeouted = False
            self.ended = True
            child = self._child
            self._end_deferred = not self._start_notified
            end_now = not self._end_deferred
        if child is not None:
            child.close_stdin()
        self._close_targets()
        if end_now:
            self._notify_end()
        return True

    def _notify_end(self):
        self._log_terminated()
        self._call_lifecycle("end")
        self._set_ended_event()

    # ---------------------------------------------------------- control

    def kill(self, sig=signal.SIGTERM, auto_force_kill_timeout=True):
        """Send a signal (default: SIGTERM) to the subprocess.

        :param sig: the signal to send
        :param auto_force_kill_timeout: Sets whether or not execo will check
          that the subprocess has terminated after beeing sent
          SIGTERM/SIGINT, and automatically send SIGKILL if the subprocess
          is not yet terminated. If None/False, will not auto-send SIGKILL.
          If True, will auto-send SIGKILL after the default timeout from
          ``execo.configuration['kill_timeout']``. Otherwise, the given
          value is used as the timeout.

        Sending signals to processes automatically ignores and disable logs
        of exit code != 0.
        """
        with self._lock:
            child = self._child
            if child is None or self.ended or child.reaped:
                return self
            self.killed = True
            if sig in (signal.SIGTERM, signal.SIGINT) and auto_force_kill_timeout not in (None, False):
                if auto_force_kill_timeout is True:
                    kill_timeout = get_seconds(configuration.get("kill_timeout"))
                else:
                    kill_timeout = get_seconds(auto_force_kill_timeout)
                if kill_timeout is not None:
                    self._timers.append(get_reactor().call_later(kill_timeout, self._on_force_kill))
            err = child.signal(sig, self._actual_kill_subprocesses())
        if err == errno.EPERM and self.pty and sig in _PTY_CONTROL_CHARS:
            logger.debug("EPERM sending signal %s to %s: writing a control character to its pty", sig, self)
            child.write(_PTY_CONTROL_CHARS[sig])
        elif err not in (0, errno.ESRCH):
            logger.debug("unable to send signal %s to %s: %s", sig, self, os.strerror(err))
        return self

    def wait(self, timeout=None):
        """Wait for the subprocess end."""
        if not self.started:
            raise ValueError("trying to wait a process which has not been started: %r" % (self,))
        _wait_event(self.ended_event, get_seconds(timeout))
        return self

    def run(self, timeout=None):
        """Start subprocess then wait for its end."""
        return self.start().wait(timeout)

    def write(self, s):
        """Write on the Process standard input

        Allows process instances to behave as file-like objects. You can
        for example print to a Process.

        Unlike execo 2.x, start() is synchronous, so the standard input is
        writable as soon as start() returns.
        """
        if isinstance(s, str):
            data = s.encode(ENCODING, "surrogateescape")
        elif isinstance(s, (bytes, bytearray, memoryview)):
            data = bytes(s)
        else:
            raise TypeError("write() needs str or bytes, not %s" % (type(s).__name__,))
        if not self.started:
            raise ValueError("cannot write to a process which has not been started: %r" % (self,))
        child = self._child
        if child is None or child.stdin_fd < 0:
            err = errno.EPIPE
        else:
            err = child.write(data)
        if err:
            self._set_write_error(err)
        return len(s)

    def flush(self):
        """File-like no-op: write() hands data to the reactor at once."""

    def close_stdin(self):
        """Close the process's standard input (once queued input is written),
        so that it reads end of file."""
        child = self._child
        if child is not None:
            child.close_stdin()

    def _set_write_error(self, err):
        if self.write_error:
            return
        self.write_error = True
        if not self.nolog_write_error:
            logger.warning("%s %s: %s", style.emph("write error to stdin of"), self, os.strerror(err))


def _wants_text(f):
    """Whether the file object f takes str (else bytes)."""
    if isinstance(f, io.TextIOBase):
        return True
    if isinstance(f, (io.RawIOBase, io.BufferedIOBase)):
        return False
    mode = getattr(f, "mode", None)
    if isinstance(mode, str):
        return "b" not in mode
    return hasattr(f, "encoding")


def _write_all(fd, data):
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def get_process(*args, **kwargs):
    """Instanciates a :class:`execo.process.Process` or
    :class:`execo.process.SshProcess`, depending on the existence of host
    keyword argument"""
    if kwargs.get("host") is not None:
        try:
            from .ssh_process import SshProcess
        except ImportError:
            raise NotImplementedError("SshProcess is not available yet in this version of execo")
        return SshProcess(*args, **kwargs)
    kwargs.pop("host", None)
    return Process(*args, **kwargs)
