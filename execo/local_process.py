"""The :class:`Process`: an operating system process run on this machine
(an ssh client is one too: :class:`execo.ssh_process.SshProcess` and the
other kinds of processes subclass it).

``execo.process`` is the public module, re-exporting it with the other
kinds of processes (see its docstring for how processes work).
"""

from __future__ import annotations

import errno
import os
import signal
import sys
import time
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Sequence, TypeVar, Union

from . import _reactor, start_queue
from .conductor import get_reactor
from .handlers import STDERR, STDOUT
from .log import logger, style
from .process_base import EOF_GRACE_AFTER_EXIT, ProcessBase, _check_bool
from .utils import _split_words

if TYPE_CHECKING:
    from typing import Protocol

    from .process_base import CmdLike

    class _HasErrno(Protocol):
        @property
        def errno(self) -> Union[int, str, None]: ...

    from .time_utils import DurationLike

_PR = TypeVar("_PR", bound="Process")
_FS_ENCODING = sys.getfilesystemencoding()
_FS_ERRORS = sys.getfilesystemencodeerrors()

__all__ = ["Process"]

_PTY_CONTROL_CHARS: Dict[int, bytes] = {
    signal.SIGINT: b"\x03",
    signal.SIGTERM: b"\x03",
    signal.SIGKILL: b"\x03",
    signal.SIGQUIT: b"\x1c",
    signal.SIGTSTP: b"\x1a",
}


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

    Timeouts fire in the reactor thread; output handlers and lifecycle
    end handlers run in execo's handler threads, one call at a time per
    process, in order.
    """

    # True in run()'s start(): the caller waits for the child at once
    _park_at_spawn: bool = False

    def __init__(
        self,
        cmd: CmdLike,
        shell: bool = False,
        pty: bool = False,
        kill_subprocesses: Optional[bool] = None,
        **kwargs: Any,
    ) -> None:
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
        if shell is not False or pty is not False or kill_subprocesses is not None:  # (no call for the defaults)
            _check_bool("shell", shell)
            _check_bool("pty", pty)
            _check_bool("kill_subprocesses", kill_subprocesses)
        self.shell = shell
        self.pty = pty
        self.kill_subprocesses = kill_subprocesses
        # bytes the watchdog writes to our stdin if the script dies while
        # we run, before any signal (execo.watchdog): a polite way to stop
        self._watchdog_farewell: Optional[bytes] = None

    def _common_reset(self) -> None:
        super(Process, self)._common_reset()
        self.pid: Optional[int] = None
        self.stdin_fd: Optional[int] = None
        self.stdout_fd: Optional[int] = None
        self.stderr_fd: Optional[int] = None
        self._child: Optional[_reactor.Child] = None
        self._spawn_argv: List[bytes] = []
        self._pending_stdin: List[Optional[bytes]] = []  # written while queued (None: close)
        self._slot_state = start_queue.IDLE
        self._slot_cost = 0
        self._holds_window = False

    def _kwargs(self) -> List[str]:
        kwargs = []
        if self.shell:
            kwargs.append("shell=%r" % (self.shell,))
        if self.pty:
            kwargs.append("pty=%r" % (self.pty,))
        if self.kill_subprocesses is not None:
            kwargs.append("kill_subprocesses=%r" % (self.kill_subprocesses,))
        return kwargs

    def _args(self) -> List[str]:
        return ProcessBase._args(self) + Process._kwargs(self)

    def _infos(self) -> List[str]:
        return ProcessBase._infos(self) + ["pid=%s" % (self.pid,)]

    def _actual_kill_subprocesses(self) -> bool:
        if self.kill_subprocesses is None:
            return bool(self.shell)
        return bool(self.kill_subprocesses)

    def _argv(self) -> List[bytes]:
        """The argv to execute, as bytes."""
        cmd = self.cmd
        argv: Sequence[Union[str, bytes, os.PathLike[str]]]
        if self.shell:
            if isinstance(cmd, str):
                argv = ["/bin/sh", "-c", cmd]
            else:
                argv = ["/bin/sh", "-c"] + list(cmd)
        else:
            argv = list(_split_words(cmd)) if isinstance(cmd, str) else list(cmd)
            if not argv:
                raise ValueError("empty command: %r" % (cmd,))
        try:
            joined = "\x00".join(argv)  # type: ignore[arg-type]  # (TypeError: not all str)
        except TypeError:
            pass
        else:
            # all str (an ssh argv has some twenty): one encode for all, cut
            # at the NULs joining them (no other character encodes to one)
            if joined.count("\x00") == len(argv) - 1:
                return joined.encode(_FS_ENCODING, _FS_ERRORS).split(b"\x00")
        # os.fsencode's encoding, without its Python-level call per argument
        encoded = [
            a.encode(_FS_ENCODING, _FS_ERRORS) if type(a) is str else a if isinstance(a, bytes) else os.fsencode(a)
            for a in argv
        ]
        for a in encoded:
            if b"\x00" in a:  # cmd was changed after construction
                raise ValueError("a command argument holds a NUL byte: %r" % (a,))
        return encoded

    # --------------------------------------------------------------- start

    def start(self: _PR) -> _PR:
        """Start the subprocess.

        The start is a request for a slot (see :mod:`execo.start_queue`):
        when the fd budget, ``configuration['fanout']`` or the fan-out
        window of the process's action is spent, the process is queued and
        spawned once a running child of execo ends. A queued process is
        ``started`` (start() was called) and ``running`` (started, not
        ended) but not yet spawned: :attr:`queued` is True, its ``pid`` and
        ``start_date`` are None, ``started_event`` is not yet set, its
        timeout has not begun to run, what is written to it is kept for its
        stdin, and kill() ends it without spawning it (``killed``, not in
        error, ``exit_code`` None). Lifecycle ``start`` handlers are called
        at the real start (or, for a process killed while queued, just
        before its end)."""
        self._spawn_argv = self._argv()  # a bad command raises here, queued or not
        with self._lock:
            self._begin_start()  # the strand is released by _notify_started
            granted = start_queue.request(self)
            if not granted:
                self.start_date = self.timeout_date = None
                if logger.isEnabledFor(10):
                    logger.debug("%s %s", style.emph("queued:"), self)
        if granted:
            self._spawn_granted()
        if self.queued:
            # spawned later by the thread that frees a slot: this thread
            # does not run the process's strand (its wait() is legitimate)
            self._strand.disown()
        return self

    @property
    def queued(self) -> bool:
        """(beyond the original execo) True while the process is started
        but waits for a slot to be spawned (see :meth:`start`)."""
        return self._slot_state in (start_queue.WINDOW, start_queue.BUDGET)

    def _spawn_granted(self) -> None:
        """Spawn the process, which holds a slot of the start queue (in
        start(), or in the thread that freed the slot)."""
        flags = _reactor.SPAWN_PATH | (_reactor.SPAWN_PTY if self.pty else _reactor.SPAWN_NEW_PGROUP)
        argv = self._spawn_argv
        with self._lock:
            if self.killed or self.ended:
                # killed while its spawn was pending: never spawned
                self._end_unspawned()
                failed = True
            else:
                reactor = get_reactor()
                out, err = self._streams[STDOUT].collector, self._streams[STDERR].collector
                out.keep = bool(self.default_stdout_handler)
                err.keep = bool(self.default_stderr_handler)
                while True:
                    ends = start_queue.ends()
                    self._set_start_date()
                    try:
                        child = reactor.spawn(
                            argv,
                            flags,
                            self,
                            stdout=out,
                            stderr=err,
                            farewell=self._watchdog_farewell,
                            park=self._park_at_spawn,
                        )
                    except OSError as e:
                        if e.errno in (errno.EMFILE, errno.ENFILE):
                            what = start_queue.after_emfile(self, ends)
                            if what == "retry":
                                continue
                            if what == "queued":
                                self.start_date = self.timeout_date = None
                                return
                        self._start_failed(e)
                        failed = True
                    else:
                        failed = False
                        self._adopt_child(child)
                        self._arm_timeout()
                        pending, self._pending_stdin = self._pending_stdin, []
                        for data in pending:
                            if data is None:
                                child.close_stdin()
                            else:
                                werr = child.write(data) if child.stdin_fd >= 0 else errno.EPIPE
                                if werr:
                                    self._set_write_error(werr)
                    break
        if failed:
            start_queue.spawn_all(start_queue.release(self))
        self._notify_started(failed)

    def _adopt_child(self, child: _reactor.Child) -> None:
        """``self._lock`` held: ``child`` (just spawned) is this process's now."""
        self._child = child
        self.pid = child.pid
        self.stdin_fd = child.stdin_fd if child.stdin_fd >= 0 else None
        self.stdout_fd = child.stdout_fd if child.stdout_fd >= 0 else None
        self.stderr_fd = child.stderr_fd if child.stderr_fd >= 0 else None

    def _end_unspawned(self) -> None:
        """``self._lock`` held: end a process that has no child (killed before its
        spawn, or its spawn failed). Apart from ProcessBase._maybe_ended on
        purpose: it runs inside start() or kill(), before any output or exit
        status exists, and the end is notified by _notify_started."""
        self.ended = True
        self.end_date = time.time()
        self.timeouted = False
        for out in (self._streams[STDOUT], self._streams[STDERR]):
            out.eof = out.eof_read = True
        self._close_targets()

    def _notify_started(self: _PR, failed: bool) -> _PR:
        """After start (``self._lock`` released): log, start handlers, and the end
        notifications of a process that could not start. The strand, held
        by _begin_start, is released last: output and end calls come
        after the start ones."""
        try:
            if not failed and logger.isEnabledFor(10):
                logger.debug("%s %s", style.emph("start:"), self)
            self._set_started()
            if self.lifecycle_handlers:
                self._call_lifecycle("start")
            if failed:
                self._notify_end()
        finally:
            self._strand.release()  # the output and end calls queued meanwhile
        return self

    def _start_failed(self, e: _HasErrno) -> None:
        # self._lock held
        self.error = True
        self.error_reason = e.errno
        self._end_unspawned()

    def _on_exit(self, code: int) -> None:
        with self._lock:
            self._exit_status = code
            self._cancel_timers()
            streams_open = self._streams_open()
            if streams_open:
                # the last eof posts the check (_eof_may_end). A grandchild
                # may hold the pipes open: bounded grace, then drain (the
                # streams of this child: an SshProcess may have started
                # another one meanwhile). Armed under the lock, so that the
                # end, which needs the status set here, cancels it (_ending)
                self._timers.append(get_reactor().call_later(EOF_GRACE_AFTER_EXIT, self._end_grace_over, self._child))
        if not streams_open:
            self._post_end_check()

    def _eof_may_end(self) -> bool:
        # Without the exit status, or with the other stream still open,
        # the end check would find nothing to do: _on_exit sets the status,
        # then posts its own check, after this eof's delivery (the status
        # is read after that was posted); the other stream's eof, read
        # later, posts one after its own flag is set (of two eofs read in
        # two threads at once, the second to set its flag sees both). Up
        # to two posts and checks less per process (profiles of 2,000
        # ends: 1.6 checks per process when the exit comes first).
        # A subclass whose _end_reached needs no exit status returns True.
        return self._exit_status is not None and not self._streams_open()

    def _streams_open(self) -> bool:
        """``self._lock`` held: whether the reader has not yet seen the eof
        of one of the child's output streams."""
        return (self.stdout_fd is not None and not self._streams[STDOUT].eof_read) or (
            self.stderr_fd is not None and not self._streams[STDERR].eof_read
        )

    def _set_reading(self, on: bool) -> None:
        with self._lock:
            child = self._child
        if child is not None:
            child.set_reading(STDOUT, on)
            child.set_reading(STDERR, on)

    def _end_grace_over(self, child: Optional[_reactor.Child]) -> None:
        if child is not None and not self.ended:
            child.close_streams()

    def _on_write_error(self, stream: int, err: int) -> None:
        self._set_write_error(err)

    def _end_reached(self) -> bool:
        """The exit status is known and both output streams reached eof
        (in the strand, after the handlers' calls)."""
        if self._exit_status is None:
            return False
        return not (
            (self.stdout_fd is not None and not self._streams[STDOUT].eof)
            or (self.stderr_fd is not None and not self._streams[STDERR].eof)
        )

    def _ending(self) -> Optional[Callable[[], None]]:
        """Once ended: close the child's stdin, give back the start-queue
        slot (and spawn the processes it lets run)."""
        self._cancel_timers()  # (the eof grace, a forced kill)
        child = self._child

        def after() -> None:
            if child is not None:
                child.close_stdin()
            start_queue.spawn_all(start_queue.release(self))

        return after

    # ---------------------------------------------------------- control

    def kill(
        self: _PR, sig: int = signal.SIGTERM, auto_force_kill_timeout: Union[bool, None, DurationLike] = True
    ) -> _PR:
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
        ready = None
        with self._lock:
            child = self._child
            if child is None:
                if not self.started or self.ended or self._slot_state == start_queue.IDLE:
                    return self
                # queued, or its spawn pending: it is never spawned
                self.killed = True
                ready = start_queue.cancel(self)
                if ready is None:
                    return self  # its spawn is pending: _spawn_granted sees killed
                self._end_unspawned()
            else:
                if self.ended or child.reaped:
                    return self
                self.killed = True
                self._arm_force_kill(sig, auto_force_kill_timeout)
                err = child.signal(sig, self._actual_kill_subprocesses())
        if ready is not None:
            self._notify_started(True)
            start_queue.spawn_all(ready)
            return self
        assert child is not None
        if err == errno.EPERM and self.pty and sig in _PTY_CONTROL_CHARS:
            logger.debug("EPERM sending signal %s to %s: writing a control character to its pty", sig, self)
            child.write(_PTY_CONTROL_CHARS[sig])
        elif err not in (0, errno.ESRCH):
            logger.debug("unable to send signal %s to %s: %s", sig, self, os.strerror(err))
        return self

    def run(self: _PR, timeout: Optional[DurationLike] = None) -> _PR:
        """Start subprocess then wait for its end."""
        # this thread's wait() serves the child from its first moment: its
        # fds never enter the reactor's poll set (Reactor.spawn's park)
        self._park_at_spawn = True
        try:
            self.start()
        finally:
            self._park_at_spawn = False
        try:
            return self.wait(timeout)
        finally:
            self._unpark()  # (if wait() raised before its lend)

    def write(self, s: Union[str, bytes, bytearray, memoryview]) -> int:
        """Write on the Process standard input

        Allows process instances to behave as file-like objects. You can
        for example print to a Process.

        Unlike execo 2.x, start() is synchronous, so the standard input is
        writable as soon as start() returns.
        """
        data = self._stdin_bytes(s)
        with self._lock:
            child = self._child
            if child is None and self.queued:
                self._pending_stdin.append(data)
                return len(s)
        if child is None or child.stdin_fd < 0:
            err = errno.EPIPE
        else:
            err = child.write(data)
        if err:
            self._set_write_error(err)
        return len(s)

    def _lend(self, streams: int, reap: bool, wake_fd: int) -> Optional[_reactor.Child]:
        child = self._child
        if child is None or child.lend(streams, reap, wake_fd) < 0:
            return None
        return child

    def _unpark(self) -> None:
        child = self._child
        if child is not None:
            child.unpark()

    def flush(self) -> None:
        """File-like no-op: write() hands data to the reactor at once."""

    def close_stdin(self) -> None:
        """Close the process's standard input (once queued input is written),
        so that it reads end of file."""
        with self._lock:
            child = self._child
            if child is None and self.queued:
                self._pending_stdin.append(None)
                return
        if child is not None:
            child.close_stdin()

    def _set_write_error(self, err: int) -> None:
        if self.write_error:
            return
        self.write_error = True
        if not self.nolog_write_error:
            logger.warning("%s %s: %s", style.emph("write error to stdin of"), self, os.strerror(err))
