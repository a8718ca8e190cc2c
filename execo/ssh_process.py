"""Remote processes over ssh: :class:`SshProcess` and :class:`PortForwarder`.

Both are :class:`execo.process.Process` instances whose command is an
ssh argv built by :mod:`execo.ssh_utils` from the connection params,
resolved key by key: :class:`execo.host.Host` attributes, then the
``connection_params`` argument, then
:data:`execo.config.default_connection_params`.
"""

from __future__ import annotations

import signal
import socket
import threading
import time
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Tuple, TypeVar, Union

from . import _reactor, start_queue
from .conductor import get_reactor
from .handlers import STDERR, STDOUT, _all_inline
from .host import Host
from .local_process import Process
from .log import logger, style
from .process_base import ProcessBase
from .ssh_retry import MAX_DIAGNOSTIC_BYTES, backoff_delay, connect_retries, is_preauth_refusal, is_ssh_diagnostic
from .ssh_utils import get_port_forward_argv, get_ssh_argv, resolve_connection_params
from .time_utils import get_seconds
from .utils import get_port

if TYPE_CHECKING:
    from .process_base import CmdLike
    from .time_utils import DurationLike

_PF = TypeVar("_PF", bound="PortForwarder")
_SP = TypeVar("_SP", bound="SshProcess")

__all__ = ["SshProcess", "PortForwarder"]


class SshProcess(Process):
    """Handle a remote command execution through ssh or similar remote execution tool.

    Note: the closing of the remote process upon killing of the
    SshProcess depends on the ssh (or ssh-like) command behavior. With
    openssh, this can be obtained by passing options -tt (force tty
    creation), thus these are the default options in
    :data:`execo.config.default_connection_params`.

    A connection that the sshd refuses before authentication (past its
    ``MaxStartups``: ssh exits 255 with ``kex_exchange_identification:
    Connection closed by remote host``, see :mod:`execo.ssh_retry`) never
    ran the command: ssh is started again after a backoff (exponential,
    with jitter, at most 16 s), up to the ``ssh_connect_retries``
    connection param (default 5, 0 disables). The process stays one
    process: handlers see one start and one end, ``start_date`` is the
    first start, the timeout counts from it, ``pid`` is the current
    attempt's, ``stdout`` / ``stderr`` (and the output handlers) get only
    the final attempt's output; :attr:`connect_retries` counts the
    retries, each logged at debug level. ``kill()`` during a backoff ends
    the process as killed, without starting ssh again. What was written
    to stdin before a retry is lost (nothing ran).
    """

    connection_params: Optional[Dict[str, Any]] = None
    """Remote connection params"""

    remote_cmd: Optional[CmdLike] = None
    """The command executed remotely"""

    host: Host  # type: ignore[override]  # the ProcessBase property, never None here
    _host_required = True

    connect_retries: int = 0
    """How many times ssh was started again after a connection refused
    before authentication (0: the first attempt is the one seen)."""

    def __init__(
        self,
        cmd: Optional[CmdLike],
        host: Union[str, Host],
        connection_params: Optional[Dict[str, Any]] = None,
        **kwargs: Any,
    ) -> None:
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
        self.host = Host(host)  # checked (and copied again) by ProcessBase.host
        host = self.host
        self.remote_cmd = cmd
        self.connection_params = connection_params
        params = resolve_connection_params(host, connection_params)
        self._max_connect_retries = connect_retries(params)
        kwargs.pop("shell", None)
        if kwargs.get("pty") is None:
            kwargs["pty"] = bool(params.get("pty"))
        name = kwargs.pop("name", None)
        super(SshProcess, self).__init__(self._build_cmd(host, connection_params), shell=False, name=name, **kwargs)

    def _name_source(self) -> CmdLike:
        return self.remote_cmd  # type: ignore[return-value]  # None only for a PortForwarder, always named

    # ------------------------------------------------ connection retries
    # While an attempt may still be a refusal (no stdout yet, stderr only
    # ssh's connection diagnostics), its stderr and the eofs are held
    # back from the collectors and handlers: released as soon as that is
    # no longer possible, dropped when ssh is started again.

    def _common_reset(self) -> None:
        super(SshProcess, self)._common_reset()
        self.connect_retries = 0
        self._holding = False
        self._held: List[Tuple[str, int, Any]] = []
        self._held_size = 0
        self._held_partial = b""
        self._backoff_timer: Optional[_reactor.TimerHandle] = None
        self._no_retry = False

    def _infos(self) -> List[str]:
        infos = super(SshProcess, self)._infos()
        if self.connect_retries:
            infos.append("connect_retries=%s" % (self.connect_retries,))
        # the argv really spawned (ssh, its options, the host, the remote
        # command), as 2.8.2 showed it: what one reads to debug an ssh
        # that fails (str(), dump() and so the failure log)
        infos.append("real cmd=%r" % (self.cmd,))
        return infos

    def _hold_output(self) -> None:
        """``self._lock`` held, before a spawn: hold back stderr and the eofs while
        the attempt may be a refusal (notify: every read comes to _on_data)."""
        with self._io_lock:
            self._held = []
            self._held_size = 0
            self._held_partial = b""
            self._holding = self.connect_retries < self._max_connect_retries and not self._no_retry
            if self._holding:
                self._streams[STDOUT].collector.notify = True
                self._streams[STDERR].collector.notify = True

    def start(self: _SP) -> _SP:
        if not self.started:
            with self._lock:
                self._hold_output()
        return super(SshProcess, self).start()

    def _on_data(self, stream: int, data: bytes) -> None:
        if self._holding:
            with self._io_lock:
                if self._holding and stream == STDERR and self._may_hold(data):
                    self._held.append(("data", stream, data))
                    self._held_size += len(data)
                    return
            self._release_held()
        super(SshProcess, self)._on_data(stream, data)

    def _may_hold(self, data: bytes) -> bool:
        """``self._io_lock`` held: whether stderr, with data, may still be only ssh's
        connection diagnostics."""
        if self._held_size + len(data) > MAX_DIAGNOSTIC_BYTES:
            return False
        lines = (self._held_partial + data).split(b"\n")
        self._held_partial = lines.pop()
        return all(is_ssh_diagnostic(line.decode("utf-8", "replace")) for line in lines)

    def _on_eof(self, stream: int, err: int) -> None:
        if self._holding:
            with self._io_lock:
                if self._holding:
                    self._streams[stream].eof_read = True
                    self._held.append(("eof", stream, err))
                    held = True
                else:
                    held = False
            if held:
                # (as in ProcessBase._on_eof: no check before the exit
                # status, whose arrival posts one; two checks of the three
                # per process were for nothing)
                if self._eof_may_end():
                    self._post_end_check()
                return
        super(SshProcess, self)._on_eof(stream, err)

    def _release_held(self) -> None:
        """Give what was held back to the collectors and handlers, in order,
        and stop holding for this attempt."""
        with self._io_lock:
            if not self._holding:
                return
            self._holding = False
            held, self._held = self._held, []
            self._held_size = 0
            posts = []
            for kind, stream, payload in held:
                out = self._streams[stream]
                handlers = tuple(out.handlers)
                if kind == "data":
                    if out.collector.keep:
                        out.collector.add(payload)
                    if handlers:
                        posts.append((kind, stream, payload, handlers))
                else:
                    out.collector.shrink()
                    posts.append((kind, stream, payload, handlers))
            for out in (self._streams[STDOUT], self._streams[STDERR]):
                out.collector.notify = len(out.handlers) > 0
        eof = False
        for kind, stream, payload, handlers in posts:
            if kind == "data":
                self._strand.post_output(self._dispatch_chunks, (stream, handlers), payload, _all_inline(handlers))
            else:
                eof = True
                self._strand.post(self._deliver_eof, (stream, payload), _all_inline(handlers))
        if eof:
            self._post_end_check()

    def _maybe_ended(self) -> bool:
        """Before the common end (ProcessBase._maybe_ended): while output
        is held back, an exited ssh that was refused is started again,
        and otherwise what was held is released first (its eofs, then
        this check again)."""
        with self._lock:
            if self.ended or self._exit_status is None:
                return self.ended
            if self._holding:
                if self._streams_open():
                    return False
                if self._backoff_timer is not None:
                    return False
                stderr = b"".join(d for kind, _, d in self._held if kind == "data")
                refused = is_preauth_refusal(self._exit_status, False, stderr.decode("utf-8", "replace"))
                if refused and not self._no_retry and self.connect_retries < self._max_connect_retries:
                    self._schedule_retry(stderr)
                    return False
                if refused and self._no_retry and not self.killed:
                    self.killed = True  # kill() came between the exit and now
        if self._holding:
            self._release_held()  # posts the eofs, then this check again
            return False
        return super(SshProcess, self)._maybe_ended()

    def _schedule_retry(self, stderr: bytes) -> None:
        """``self._lock`` held: ssh was refused; start it again after a backoff (the
        timeout, cancelled at the exit, is armed again meanwhile)."""
        self.connect_retries += 1
        delay = backoff_delay(self.connect_retries)
        if logger.isEnabledFor(10):
            logger.debug(
                "%s %s (%s) in %.2fs, retry %d/%d: %s",
                style.emph("connection refused:"),
                self.host.address,
                stderr.decode("utf-8", "replace").strip(),
                delay,
                self.connect_retries,
                self._max_connect_retries,
                self,
            )
        reactor = get_reactor()
        self._backoff_timer = reactor.call_later(delay, self._respawn)
        if self.timeout_date is not None:
            self._timers.append(reactor.call_later(max(0.0, self.timeout_date - time.time()), self._on_timeout))

    def _respawn(self) -> None:
        """In the reactor thread, after a backoff: ssh again, the refused
        attempt's output dropped."""
        with self._lock:
            if self.ended or self._backoff_timer is None:
                return
            self._backoff_timer = None
            self._exit_status = None
            self._streams[STDOUT].eof_read = self._streams[STDERR].eof_read = False
            self._hold_output()
            out, err = self._streams[STDOUT].collector, self._streams[STDERR].collector
            flags = _reactor.SPAWN_PATH | (_reactor.SPAWN_PTY if self.pty else _reactor.SPAWN_NEW_PGROUP)
            try:
                child = get_reactor().spawn(
                    self._argv(), flags, self, stdout=out, stderr=err, farewell=self._watchdog_farewell
                )
            except OSError as e:
                self._holding = False
                self._cancel_timers()
                self._start_failed(e)
                failed = True
            else:
                failed = False
                self._adopt_child(child)
        if failed:
            # give back its start-queue slot, as an ended process does
            start_queue.spawn_all(start_queue.release(self))
            self._strand.post(self._notify_end, (), _all_inline(self.lifecycle_handlers))
        elif logger.isEnabledFor(10):
            logger.debug("%s %s", style.emph("restart:"), self)

    def kill(
        self: _SP, sig: int = signal.SIGTERM, auto_force_kill_timeout: Union[bool, None, DurationLike] = True
    ) -> _SP:
        """Send a signal (default: SIGTERM) to the subprocess (see
        :meth:`execo.process.Process.kill`). During the backoff before a
        connection retry, the process ends as killed at once, and ssh is
        not started again."""
        with self._lock:
            if not self.ended:
                self._no_retry = True
            timer = self._backoff_timer
            in_backoff = timer is not None and not self.ended
            if in_backoff:
                self._backoff_timer = None
                timer.cancel()  # type: ignore[union-attr]
                self.killed = True
                self._cancel_timers()
        if in_backoff:
            logger.debug("killed during the backoff before a connection retry: %s", self)
            self._release_held()
            return self
        return super(SshProcess, self).kill(sig, auto_force_kill_timeout)

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

    def __init__(
        self,
        host: Union[str, Host],
        remote_host: str,
        remote_port: int,
        local_port: Optional[int] = None,
        bind_address: Optional[str] = None,
        connection_params: Optional[Dict[str, Any]] = None,
        **kwargs: Any,
    ) -> None:
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
        kwargs.setdefault(
            "name", "port forwarder %s:%s -> %s:%s" % (self.bind_address, self.local_port, remote_host, remote_port)
        )
        super(PortForwarder, self).__init__(None, host, connection_params=connection_params, **kwargs)
        self.remote_cmd = None

    def _build_cmd(self, host: Host, connection_params: Optional[Dict[str, Any]]) -> Tuple[str, ...]:
        argv = get_port_forward_argv(
            host, self.remote_host, self.remote_port, self.local_port, self.bind_address, connection_params
        )
        # without it, ssh keeps running when it cannot listen on local_port
        # (and someone else's listener could be mistaken for the tunnel);
        # an option, so before the last "-L" (the "--" and host follow it)
        last = len(argv) - 1 - argv[::-1].index("-L")
        return argv[:last] + ("-o", "ExitOnForwardFailure=yes") + argv[last:]

    def _args(self) -> List[str]:
        args = [repr(self.host), repr(self.remote_host), repr(self.remote_port), "local_port=%r" % (self.local_port,)]
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
            timeout = get_seconds(
                resolve_connection_params(self.host, self.connection_params).get("forwarding_timeout")
            )
            self._poller = threading.Thread(
                target=self._poll_forwarding,
                args=(timeout,),
                name="execo-forwarding-%s" % (self.local_port,),
                daemon=True,
            )
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
                logger.warning("forwarding port %s:%s not open after %ss: %s", address, self.local_port, timeout, self)
                return
            self.ended_event.wait(self.POLL_PERIOD)
