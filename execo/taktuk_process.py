""":class:`TaktukProcess`: the process of one host of a taktuk action.

It is not an OS process of ours: one ``taktuk`` process runs for a whole
:class:`execo.taktuk.TaktukRemote` (or TaktukPut/TaktukGet), and its
multiplexed output is parsed and fed to one TaktukProcess per host. The
action calls :meth:`TaktukProcess.start` when the remote command really
started, feeds output through ``_on_data`` (the same dispatch to handlers
and collectors as a local process), then ends it with the exit status,
or with an error (connection failed, taktuk died). Kills and timeouts go
back to taktuk through a callback set by the action (``taktuk kill`` of
that host's command).
"""

from __future__ import annotations

import signal
from typing import TYPE_CHECKING, Any, Callable, List, Optional, TypeVar, Union

from .handlers import STDERR, STDOUT
from .host import Host
from .log import logger, style
from .process_base import ProcessBase

if TYPE_CHECKING:
    from .time_utils import DurationLike

_TP = TypeVar("_TP", bound="TaktukProcess")

__all__ = ["TaktukProcess"]


def exit_code_of_wait_status(status: int) -> int:
    """A raw wait status (as taktuk reports it) as an exit code: the exit
    status, or ``-signal`` when a signal ended the command (the
    convention of :class:`execo.process.Process`)."""
    if status & 0x7F:
        return -(status & 0x7F)
    return (status >> 8) & 0xFF


class TaktukProcess(ProcessBase):
    """Dummy process similar to :class:`execo.process.SshProcess`.

    Fed by its taktuk action; it cannot run by itself.
    """

    #: The command executed remotely
    remote_cmd: str = None  # type: ignore[assignment]  # class-level default (documented); every instance sets it
    host: Host  # type: ignore[override]  # the ProcessBase property, never None here
    _host_required = True

    def __init__(self, cmd: str, host: Union[str, Host], **kwargs: Any) -> None:
        """
        :param cmd: the command run on the host.
        :param host: :class:`execo.host.Host` (or address) it runs on.

        Other keyword arguments are those of
        :class:`execo.process.ProcessBase`.
        """
        self.host = Host(host)  # checked (and copied again) by ProcessBase.host
        self.remote_cmd = cmd
        super(TaktukProcess, self).__init__(cmd, **kwargs)

    def _common_reset(self) -> None:
        super(TaktukProcess, self)._common_reset()
        self._finished = False
        self._kill_hook: Optional[Callable[[TaktukProcess, int], object]] = None  # set by the action: f(process, sig)

    def _args(self) -> List[str]:
        return [repr(self.remote_cmd), repr(self.host)]

    def _name_source(self) -> str:
        return self.remote_cmd

    # ------------------------------------------------ driven by the action

    def start(self: _TP) -> _TP:
        """Notify TaktukProcess of actual remote process start.

        This method is intended to be used by
        :class:`execo.action.TaktukRemote`.
        """
        with self._lock:
            # an output file that cannot be opened is logged: taktuk runs
            # the command anyway
            self._begin_start(lenient_targets=True)
            self._arm_timeout()
        try:
            if logger.isEnabledFor(10):
                logger.debug("%s %s", style.emph("start:"), self)
            self._set_started()
            self._call_lifecycle("start")
        finally:
            self._strand.release()
        return self

    def _taktuk_status(self, status: int) -> None:
        """The remote command's raw wait status."""
        with self._lock:
            self._exit_status = exit_code_of_wait_status(status)

    def _taktuk_end(self, error_reason: Optional[Union[int, str]] = None) -> None:
        """The remote command is over (or could not run: error_reason).
        In the taktuk process's strand, like every taktuk callback."""
        if not self.started:
            self.start()
        with self._lock:
            if self._finished:
                return
            self._finished = True
            if error_reason is not None and self._exit_status is None:
                self.error = True
                self.error_reason = error_reason
            self._cancel_timers()
        for stream in (STDOUT, STDERR):
            if not self._streams[stream].eof_read:
                self._on_eof(stream, 0)
        self._post_end_check()

    def _end_reached(self) -> bool:
        """taktuk said the command is over (_taktuk_end) and both output
        streams reached eof (in the strand, after the handlers' calls)."""
        return self._finished and self._streams[STDOUT].eof and self._streams[STDERR].eof

    # ------------------------------------------------------------ control

    def kill(
        self: _TP, sig: int = signal.SIGTERM, auto_force_kill_timeout: Union[bool, None, DurationLike] = True
    ) -> _TP:
        """Send a signal to the remote command (through taktuk).

        :param auto_force_kill_timeout: as for :meth:`execo.process.Process.kill`.
        """
        with self._lock:
            hook = self._kill_hook
            if not self.started or self.ended or hook is None:
                return self
            self.killed = True
            self._arm_force_kill(sig, auto_force_kill_timeout)
        hook(self, sig)
        return self
