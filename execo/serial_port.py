""":class:`Serial`: a local serial port as a process.

The device is opened with pyserial (raw, the given speed, 8N1, no flow
control, an exclusive lock so that a port already used by another execo
Serial is reported busy) and its file descriptor is handed to the reactor
like a child's pipes: what the port receives is the process's stdout (no
stderr), :meth:`Serial.write` sends to the port. No helper process
(``stty``/``cat``) is involved.

The "process" runs until it is killed (or its timeout fires), or until
the device goes away (end of file): then it ends with exit code 0 (ok; a
kill also counts as ok, as for any process). Opening errors (missing
device, permission, busy) make it end at once with ``error`` set and
``error_reason`` the errno, logged like any process error.

pyserial is an optional dependency: ``pip install 'execo[serial]'``.
"""

from __future__ import annotations

import errno
import os
import signal
from types import ModuleType
from typing import TYPE_CHECKING, Any, Callable, List, Optional, TypeVar, Union, cast

from .conductor import get_reactor
from .handlers import STDERR, STDOUT
from .local_process import Process

if TYPE_CHECKING:
    from . import _reactor
    from .time_utils import DurationLike

_S = TypeVar("_S", bound="Serial")

__all__ = ["Serial"]


def _pyserial() -> ModuleType:
    try:
        import serial
    except ImportError:
        raise ImportError(
            "execo's Serial needs pyserial: pip install 'execo[serial]' (or pip install pyserial)"
        ) from None
    return cast(ModuleType, serial)  # pyserial has no type information: Any


class Serial(Process):
    """Create a connection to a serial port."""

    #: the serial device
    device: Optional[str] = None
    #: serial port speed
    speed: Optional[int] = None

    def __init__(self, device: Union[str, os.PathLike[str]], speed: int, **kwargs: Any) -> None:
        """
        :param device: the serial device
        :param speed: serial port speed

        Other keyword arguments are those of :class:`execo.process.Process`
        (``shell`` and ``pty`` do not apply).
        """
        _pyserial()  # a missing pyserial is an error at the call
        if not isinstance(speed, int) or isinstance(speed, bool) or speed <= 0:
            raise ValueError("speed must be a positive int, not %r" % (speed,))
        self.device = os.fspath(device)
        self.speed = speed
        kwargs.pop("shell", None)
        kwargs.pop("pty", None)
        super(Serial, self).__init__("serial %s %d" % (self.device, speed), **kwargs)

    def _common_reset(self) -> None:
        super(Serial, self)._common_reset()
        self._reader: Optional[_reactor.Reader] = None
        self._writer: Optional[_reactor.Writer] = None
        self._closing = False

    def _args(self) -> List[str]:
        return [repr(self.device), repr(self.speed)]

    def _kwargs(self) -> List[str]:
        return [k for k in super(Serial, self)._kwargs() if not k.startswith(("shell=", "pty=", "kill_subprocesses="))]

    def _name_source(self) -> str:
        return "serial %s" % (self.device,)

    # ------------------------------------------------------------ control

    def start(self: _S) -> _S:
        """Open the serial port."""
        serial = _pyserial()
        with self._lock:
            self._begin_start()  # the strand is released by _notify_started
            failed = False
            try:
                port = serial.Serial(
                    self.device,
                    self.speed,
                    bytesize=serial.EIGHTBITS,
                    parity=serial.PARITY_NONE,
                    stopbits=serial.STOPBITS_ONE,
                    xonxoff=False,
                    rtscts=False,
                    dsrdtr=False,
                    timeout=0,
                    exclusive=True,
                )
            except (serial.SerialException, OSError, ValueError) as e:
                err = getattr(e, "errno", None)
                self._start_failed(_OpenError(err if err is not None else str(e)))
                failed = True
            else:
                # two fds of the port's open file (the reactor owns and
                # closes each); its exclusive lock lives as long as they do
                try:
                    rfd = os.dup(port.fileno())
                    wfd = os.dup(port.fileno())
                finally:
                    port.close()
                os.set_blocking(rfd, False)
                reactor = get_reactor()
                out = self._streams[STDOUT].collector
                out.keep = bool(self.default_stdout_handler)
                no_stderr = self._streams[STDERR]  # a serial port has none
                no_stderr.eof = no_stderr.eof_read = True
                self._reader = reactor.add_reader(rfd, self, STDOUT, out)
                self._writer = reactor.writer(wfd, self, 0)
                self.stdout_fd, self.stdin_fd = rfd, wfd
                self._arm_timeout()
        return self._notify_started(failed)

    def kill(
        self: _S, sig: int = signal.SIGTERM, auto_force_kill_timeout: Union[bool, None, DurationLike] = True
    ) -> _S:
        """Close the serial port (whatever the signal): the process ends."""
        with self._lock:
            if not self.started or self.ended or self._closing:
                return self
            self.killed = True
            self._closing = True
            reader, writer = self._reader, self._writer
        if writer is not None:
            writer.close()
        if reader is not None:
            reader.close()
        return self

    def write(self, s: Union[str, bytes, bytearray, memoryview]) -> int:
        """Write to the serial port (str is encoded with the locale's
        encoding and surrogateescape)."""
        data = self._stdin_bytes(s)
        writer = self._writer
        err = writer.write(data) if writer is not None and not self.ended else errno.EPIPE
        if err:
            self._set_write_error(err)
        return len(s)

    def close_stdin(self) -> None:
        """Stop writing to the port (it stays open for reading)."""
        writer = self._writer
        if writer is not None:
            writer.close()

    # --------------------------------------------------- reactor callbacks

    def _on_eof(self, stream: int, err: int) -> None:
        if err and not self._closing:
            with self._lock:
                self.error = True
                self.error_reason = err
        super(Serial, self)._on_eof(stream, err)

    def _set_reading(self, on: bool) -> None:
        reader = self._reader
        if reader is not None:
            reader.set_reading(on)

    def _end_reached(self) -> bool:
        """The port was closed, or the device went away: eof (in the
        strand, after the handlers' calls)."""
        return self._streams[STDOUT].eof

    def _eof_may_end(self) -> bool:
        return True  # the eof is the end: there is no exit status

    def _end_exit_code(self) -> Optional[int]:
        return None if self.error else 0

    def _ending(self) -> Optional[Callable[[], None]]:
        """Once ended: no more timeout; close the port for writing."""
        self._cancel_timers()
        writer = self._writer
        return writer.close if writer is not None else None


class _OpenError(Exception):
    """An error opening the port, with its errno (or message)."""

    def __init__(self, reason: Union[int, str]) -> None:
        super(_OpenError, self).__init__(reason)
        self.errno = reason
