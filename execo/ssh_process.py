"""Remote processes over ssh: :class:`SshProcess` and :class:`PortForwarder`.

Both are :class:`execo.process.Process` instances whose command is an
ssh argv built by :mod:`execo.ssh_utils` from the connection params,
resolved key by key: :class:`execo.host.Host` attributes, then the
``connection_params`` argument, then
:data:`execo.config.default_connection_params`.
"""

from __future__ import annotations

import socket
import threading
import time
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Tuple, TypeVar, Union

from .host import Host
from .log import logger
from .process import Process
from .process_base import ProcessBase
from .ssh_utils import get_port_forward_argv, get_ssh_argv, resolve_connection_params
from .time_utils import get_seconds
from .utils import get_port

if TYPE_CHECKING:
    from .process_base import CmdLike

_PF = TypeVar("_PF", bound="PortForwarder")

__all__ = ["SshProcess", "PortForwarder"]


class SshProcess(Process):
    """Handle a remote command execution through ssh or similar remote execution tool.

    Note: the closing of the remote process upon killing of the
    SshProcess depends on the ssh (or ssh-like) command behavior. With
    openssh, this can be obtained by passing options -tt (force tty
    creation), thus these are the default options in
    :data:`execo.config.default_connection_params`.
    """

    connection_params: Optional[Dict[str, Any]] = None
    """Remote connection params"""

    remote_cmd: Optional[CmdLike] = None
    """The command executed remotely"""

    host: Host

    def __init__(self, cmd: Optional[CmdLike], host: Union[str, Host], connection_params: Optional[Dict[str, Any]] = None,
                 **kwargs: Any) -> None:
        """
        :param cmd: string containing the command and args to run.
        :param host: :class:`execo.host.Host` (or address) to connect to
        :param connection_params: connection parameters (a dict whose
          items override those of
          :data:`execo.config.default_connection_params`)

        Other keyword arguments are those of
        :class:`execo.process.Process` (``shell`` is always False: the
        process run locally is ssh). ``pty`` defaults to the ``pty``
        connection param.
        """
        host = Host(host)
        self.remote_cmd = cmd
        self.connection_params = connection_params
        self.host = host
        params = resolve_connection_params(host, connection_params)
        kwargs.pop("shell", None)
        if kwargs.get("pty") is None:
            kwargs["pty"] = bool(params.get("pty"))
        name = kwargs.pop("name", None)
        super(SshProcess, self).__init__(self._build_cmd(host, connection_params), shell=False,
                                         name=name, **kwargs)

    def _name_source(self) -> CmdLike:
        return self.remote_cmd  # type: ignore[return-value]  # None only for a PortForwarder, always named

    def _build_cmd(self, host: Host, connection_params: Optional[Dict[str, Any]]) -> Tuple[str, ...]:
        return get_ssh_argv(host, self.remote_cmd, connection_params)  # type: ignore[arg-type]  # None only for a PortForwarder, which overrides this

    def _args(self) -> List[str]:
        args = [repr(self.remote_cmd), repr(self.host)]
        if self.connection_params:
            args.append("connection_params=%r" % (self.connection_params,))
        return args + self._process_kwargs()

    def _process_kwargs(self) -> List[str]:
        kwargs = ProcessBase._kwargs(self)
        if self.pty:
            kwargs.append("pty=%r" % (self.pty,))
        if self.kill_subprocesses is not None:
            kwargs.append("kill_subprocesses=%r" % (self.kill_subprocesses,))
        return kwargs


class PortForwarder(SshProcess):
    """Create an ssh port forwarder process (ssh -L).

    This port forwarding process opens a listening socket on localhost,
    and forwards it to the given remote host / port on the remote side of
    the ssh connection.
    """

    forwarding: threading.Event = None  # type: ignore[assignment]  # class-level default (documented); every instance sets it
    """threading.Event which can be waited upon to be notified when the forwarding port is actually open"""

    local_port: int = None  # type: ignore[assignment]  # class-level default (documented); every instance sets it
    """The local port of the tunnel"""

    POLL_PERIOD = 0.1
    """Seconds between two connection attempts to the local port."""

    def __init__(self, host: Union[str, Host], remote_host: str, remote_port: int, local_port: Optional[int] = None,
                 bind_address: Optional[str] = None, connection_params: Optional[Dict[str, Any]] = None,
                 **kwargs: Any) -> None:
        """
        :param host: remote side of the ssh connection
        :param remote_host: the remote host to connect to on the remote side
        :param remote_port: the remote port to connect to on the remote side
        :param local_port: the port to use locally for the listening
          socket. If None (the default), a port is automatically selected
          with :func:`execo.utils.get_port`
        :param bind_address: the bind address to use locally for the
          listening socket. If None (the default), it uses 127.0.0.1, so
          the socket is only available to localhost.
        :param connection_params: connection params for connecting to host

        ``remote_host`` and ``bind_address`` must look like host
        addresses (letters, digits, ``_ . - : % @ [ ]``, no leading
        ``-``: :func:`execo.host.check_address`; ``bind_address`` may
        also be ``""`` or ``"*"``, every local address, as for ssh's
        ``-L``) and the ports be integers in 1..65535: ValueError here
        otherwise, before anything runs. They end up in ssh's ``-L``
        specification, and the host after ``--`` on ssh's command line.
        """
        self.remote_host = remote_host
        self.remote_port = remote_port
        self.local_port = get_port() if local_port is None else local_port
        self.bind_address = "127.0.0.1" if bind_address is None else bind_address
        self.forwarding = threading.Event()
        self._poller: Optional[threading.Thread] = None
        kwargs.setdefault("name", "port forwarder %s:%s -> %s:%s" % (
            self.bind_address, self.local_port, remote_host, remote_port))
        super(PortForwarder, self).__init__(None, host, connection_params=connection_params, **kwargs)
        self.remote_cmd = None

    def _build_cmd(self, host: Host, connection_params: Optional[Dict[str, Any]]) -> Tuple[str, ...]:
        argv = get_port_forward_argv(host, self.remote_host, self.remote_port, self.local_port,
                                     self.bind_address, connection_params)
        # without it, ssh keeps running when it cannot listen on local_port
        # (and someone else's listener could be mistaken for the tunnel);
        # an option, so before the last "-L" (the "--" and host follow it)
        last = len(argv) - 1 - argv[::-1].index("-L")
        return argv[:last] + ("-o", "ExitOnForwardFailure=yes") + argv[last:]

    def _args(self) -> List[str]:
        args = [repr(self.host), repr(self.remote_host), repr(self.remote_port),
                "local_port=%r" % (self.local_port,)]
        if self.bind_address != "127.0.0.1":
            args.append("bind_address=%r" % (self.bind_address,))
        if self.connection_params:
            args.append("connection_params=%r" % (self.connection_params,))
        return args + self._process_kwargs()

    def _common_reset(self) -> None:
        super(PortForwarder, self)._common_reset()
        if self.forwarding is not None:
            self.forwarding.clear()

    def start(self: _PF) -> _PF:
        super(PortForwarder, self).start()
        if not self.ended:
            timeout = get_seconds(resolve_connection_params(
                self.host, self.connection_params).get("forwarding_timeout"))
            self._poller = threading.Thread(target=self._poll_forwarding, args=(timeout,),
                                            name="execo-forwarding-%s" % (self.local_port,),
                                            daemon=True)
            self._poller.start()
        return self

    def _connect_address(self) -> str:
        address = self.bind_address.strip("[]")
        if address in ("", "*", "0.0.0.0", "localhost"):
            return "127.0.0.1"
        if address == "::":
            return "::1"
        return address

    def _poll_forwarding(self, timeout: Optional[float]) -> None:
        address = self._connect_address()
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.ended:
            s = socket.socket(family, socket.SOCK_STREAM)
            s.settimeout(1.0)
            try:
                s.connect((address, self.local_port))
            except OSError:
                pass
            else:
                if not self.ended:
                    logger.debug("forwarding port %s:%s open for %s", address, self.local_port, self)
                    self.forwarding.set()
                return
            finally:
                s.close()
            if deadline is not None and time.monotonic() >= deadline:
                logger.warning("forwarding port %s:%s not open after %ss: %s",
                               address, self.local_port, timeout, self)
                return
            self.ended_event.wait(self.POLL_PERIOD)
