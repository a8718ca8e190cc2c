""":class:`RemoteSerial`: serial ports of several remote hosts, one
:class:`execo.serial_ssh.SerialSsh` per host (a :class:`execo.action.Remote`).

Re-exported by :mod:`execo.action` (which imports this module at its end).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Union

from .action_base import Action
from .remote import Remote
from .serial_ssh import SerialSsh, _check_speed

if TYPE_CHECKING:
    from .host import HostsLike
    from .process_base import ProcessBase

__all__ = ["RemoteSerial"]


class RemoteSerial(Remote):
    """Open a serial port on several hosts in parallel through ssh or a
    similar remote connection tool.

    The serial port can be read (standard output) and written to
    (standard input). One :class:`SerialSsh` per host.
    """

    #: Path to the serial devices on the remote hosts. (for example:
    #: /dev/ttyUSB1). Substitions described in
    #: :func:`execo.substitutions.remote_substitute` will be performed.
    device: Union[str, os.PathLike[str]] = None  # type: ignore[assignment]  # class-level default (documented); every instance sets it
    #: The speed of the serial port (for example: 115200)
    speed: Union[int, str] = None  # type: ignore[assignment]  # class-level default (documented); every instance sets it

    def __init__(
        self,
        hosts: HostsLike,
        device: Union[str, os.PathLike[str]],
        speed: Union[int, str],
        connection_params: Optional[Dict[str, Any]] = None,
        process_args: Optional[Dict[str, Any]] = None,
        **kwargs: Any,
    ) -> None:
        """
        :param hosts: iterable of :class:`execo.host.Host` to which to
          connect and open the serial device.
        :param device: The Path to the serial device on the remote
          hosts (for example: /dev/ttyUSB1). Substitions described in
          :func:`execo.substitutions.remote_substitute` will be
          performed.
        :param speed: the speed of the serial port (for example: 115200)
        :param connection_params: a dict similar to
          :data:`execo.config.default_connection_params` whose values
          will override those in default_connection_params for
          connection.
        :param process_args: Dict of keyword arguments passed to
          instanciated processes.
        """
        _check_speed(speed)
        self.device = device
        self.speed = speed
        super(RemoteSerial, self).__init__(
            None, hosts, connection_params=connection_params, process_args=process_args, **kwargs
        )

    _build_attrs = ("hosts", "device", "speed", "connection_params", "process_args")

    def _make_processes(self) -> List[ProcessBase]:
        processes: List[ProcessBase] = []
        for index, host in enumerate(self.hosts):
            device = self._substitute(str(self.device), index)
            processes.append(
                SerialSsh(host, device, self.speed, connection_params=self.connection_params, **self.process_args)
            )
        return processes

    def _what(self) -> str:
        return "%r@%s" % (self.device, self.speed)

    def _args(self) -> List[str]:
        args = [repr(self.hosts), repr(self.device), repr(self.speed)]
        if self.connection_params:
            args.append("connection_params=%r" % (self.connection_params,))
        if self.process_args:
            args.append("process_args=%r" % (self.process_args,))
        return args + Action._args(self)
