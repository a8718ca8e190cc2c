"""ChainPut: broadcast local files to many hosts through a chain of netcat
copies, localhost -> host1 -> host2 -> ... -> hostN, all hops at once
(idea taken from kastafior).

How it works (see also the comments of ``execo/chainput_hop.sh``, the
helper script shipped with execo, which runs on both ends):

- **receivers**: one :class:`ChainPutReceiver` (an
  :class:`execo.process.SshProcess`) per host runs the helper script
  (``sh -c SCRIPT``, the script being part of the ssh command line: nothing
  is installed on the hosts). It listens for one connection, forwards the
  stream as it arrives to the next host of the chain, and extracts it into
  ``remote_location``.
- **hop addressing**: every receiver listens on *its own TCP port* (one
  :func:`execo.utils.get_port` each, from ``configuration['port_range']``),
  on every address of its host. Receivers sharing one kernel (the loopback
  test hosts 127.0.0.1..N, or several users on one host) thus never
  collide, and nothing depends on how a host name resolves on the host
  itself. A hop connects to the next host's (rewritten) address and port.
  With more hosts than ports in ``port_range``, ports are reused in turn:
  the hosts sharing a port must then be separate machines.
- **start**: the receivers are started first; the sender (a local
  :class:`ChainPutSender` running the same script) starts once every
  receiver printed that it listens or ended (failed), or at the latest
  after half of ``chainput_nc_server_timeout``. It sends only to the
  receivers which are listening, so a host whose ssh failed at once is not
  even tried. A receiver says it listens only once its netcat does
  (netcat's ``-v`` message, or the port seen in ``/proc/net/tcp``, ``ss``
  or ``netstat``); when another program already listens on its port, it
  fails at once (exit code 8, "port P is already in use on HOST").
- **hello**: a hop sends the stream only after the receiver's netcat
  said ``execo-chainput-hello 2 TOKEN``, TOKEN being a random word of
  this transfer (new for each run); the stream's header carries it too.
  Whatever else listens on a port (another program, a receiver of another
  ChainPut) gets nothing: the hop skips that host and tries the next one.
  The token tells transfers apart, it is no authentication (it is on the
  command lines).
- **retries**: each hop (the sender too) tries its next host
  ``chainput_host_retry`` times, ``chainput_try_delay`` seconds apart, then
  the following hosts, up to ``chainput_chain_retry`` more hosts (an int,
  or a float: a ratio of the number of hosts). A netcat which could not
  connect has read nothing, so the next host gets the whole stream. A hop
  forwards only once it received a valid stream header: a receiver that
  was skipped (or got nothing) never feeds the hosts after it.
- **end-to-end check**: the stream starts with the sender's ``sha256sum``
  of every regular file sent (computed on localhost just before sending);
  after extraction each receiver checks the files it wrote against them
  (``sha256sum -c``) and exits with status 6 and a "checksum mismatch"
  message on stderr when they differ. A receiver which got nothing (its
  predecessors unreachable) fails with status 3, one whose extraction
  failed with status 5.
- **failures are data**: a host's failure (ssh failure, netcat or tar
  missing there, nothing received, bad checksum) is the result of its
  receiver process; the other hosts go on. If the local sender fails (a
  local file is missing, nobody could be reached), the receivers still
  running are killed and marked in error (``error_reason`` tells why).
  netcat missing on localhost is the only exception, raised by the
  constructor (nothing is started).

Requirements: a Bourne shell, netcat (``nc`` connection param; the options
used are netcat-traditional's: ``-l -p PORT -w T`` and ``-w T -q 0``),
tar, tee, mkfifo, find, sha256sum (or shasum), on localhost and on the
hosts; direct TCP connections from each host to the next ones. To tell
when its netcat listens, a receiver reads netcat's ``-v`` message (the
default ``nc`` has it), else uses awk with ``/proc/net/tcp``, ``ss`` or
``netstat``; with none of them, it waits 2 seconds. The transfer is
neither encrypted nor authenticated.
"""

from __future__ import annotations

import math
import os
import secrets
import shlex
import shutil
import threading
from typing import TYPE_CHECKING, Any, Dict, Iterable, List, Mapping, Optional, Set, Tuple, TypeVar, Union

from .action_base import Action, ParallelActions, SequentialActions
from .conductor import get_reactor
from .handlers import ProcessLifecycleHandler, ProcessOutputHandler
from .host import get_hosts_list
from .local_process import Process
from .log import logger, style
from .remote import Remote
from .scp_paths import check_no_nul
from .ssh_process import SshProcess
from .ssh_utils import get_rewritten_host_address, make_connection_params, resolve_connection_params
from .substitutions import get_caller_context
from .utils import get_port

if TYPE_CHECKING:
    from . import _reactor
    from .host import Host, HostsLike
    from .process_base import ProcessBase

_CPS = TypeVar("_CPS", bound="ChainPutSender")
_CPC = TypeVar("_CPC", bound="_ChainPutCopy")

__all__ = ["ChainPut", "ChainPutReceiver", "ChainPutSender"]

SCRIPT_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "chainput_hop.sh")
"""The helper script run by every hop (shipped with execo)."""

READY_MARK = "execo-chainput-ready"
"""What a receiver prints on its stdout once it listens (followed by its
port)."""

_script_cache: List[str] = []


def _script() -> str:
    """The helper script as sent on command lines: without its comment
    lines and blank lines (read once)."""
    if not _script_cache:
        with open(SCRIPT_PATH) as f:
            lines = [line.rstrip() for line in f]
        lines = [line for line in lines if line.strip() and not line.lstrip().startswith("#")]
        _script_cache.append("\n".join(lines) + "\n")
    return _script_cache[0]


def _check_local_tools(nc: Union[str, Iterable[object], None]) -> None:
    """Raise FileNotFoundError with a clear message if what the sender
    needs is missing on localhost."""
    words = shlex.split(nc) if isinstance(nc, str) else [str(w) for w in nc or ()]
    if not words:
        raise ValueError("ChainPut: empty netcat command (connection param 'nc')")
    if shutil.which(words[0]) is None:
        raise FileNotFoundError(
            "ChainPut needs netcat on localhost: command %r (connection param 'nc' = %r) not found" % (words[0], nc)
        )
    for tool in ("sh", "tar", "tee", "mkfifo", "find"):
        if shutil.which(tool) is None:
            raise FileNotFoundError("ChainPut needs %r on localhost: not found" % (tool,))
    if shutil.which("sha256sum") is None and shutil.which("shasum") is None:
        raise FileNotFoundError("ChainPut needs sha256sum (or shasum) on localhost: not found")


def _int_param(params: Mapping[str, Any], key: str, minimum: float) -> float:
    value = params.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < minimum:
        raise ValueError("connection param %r must be a number >= %s, not %r" % (key, minimum, value))
    return value


class _Settings(object):
    """The chainput_* connection params, validated, as the script takes them."""

    def __init__(self, params: Mapping[str, Any], num_hosts: int) -> None:
        nc = params.get("nc")
        if isinstance(nc, (list, tuple)):
            nc = " ".join(shlex.quote(str(w)) for w in nc)
        self.nc: str = nc  # type: ignore[assignment]  # None or empty: rejected by _check_local_tools()
        self.client_timeout = max(1, int(math.ceil(_int_param(params, "chainput_nc_client_timeout", 0))))
        server_timeout = params.get("chainput_nc_server_timeout")
        if server_timeout is None:
            self.server_timeout = 0
        else:
            self.server_timeout = int(math.ceil(_int_param(params, "chainput_nc_server_timeout", 0)))
        self.host_retry = max(1, int(_int_param(params, "chainput_host_retry", 0)))
        chain_retry = params.get("chainput_chain_retry")
        if isinstance(chain_retry, float):
            if not 0.0 <= chain_retry <= 1.0:
                raise ValueError(
                    "connection param 'chainput_chain_retry' as a float is a ratio of"
                    " the number of hosts, between 0.0 and 1.0, not %r" % (chain_retry,)
                )
            self.chain_retry = int(chain_retry * num_hosts)
        else:
            self.chain_retry = int(_int_param(params, "chainput_chain_retry", 0))
        self.try_delay = float(_int_param(params, "chainput_try_delay", 0))

    def common_args(self) -> List[str]:
        return [self.nc, str(self.client_timeout)]

    @staticmethod
    def new_token() -> str:
        """A random word telling this transfer's hops from anything else
        listening on a port (not a secret: it is on command lines)."""
        return secrets.token_hex(8)

    def retry_args(self) -> List[str]:
        delay = ("%.3f" % (self.try_delay,)).rstrip("0").rstrip(".") or "0"
        return [str(self.host_retry), delay]


def _candidates(pairs: Iterable[Tuple[str, int]]) -> str:
    """ "ADDR PORT ADDR PORT ..." for the script."""
    return " ".join("%s %d" % (address, port) for address, port in pairs)


class ChainPutReceiver(SshProcess):
    """The receiving end of a :class:`ChainPut` on one host: an ssh process
    running the chain's helper script, which listens on :attr:`port`,
    forwards the stream to the next hosts and extracts it into
    :attr:`remote_location`, then checks the files' sha256 sums.

    Its exit code tells what went wrong (its stderr says it in words): 3
    nothing received, 4 not a chainput stream, 5 extraction failed, 6
    checksum mismatch, 7 destination directory problem, 8 cannot listen
    on :attr:`port` (another program listens there: "port P is already
    in use on HOST"), 127 netcat (or another needed command) missing on
    the host, 255 ssh failure."""

    #: The TCP port this receiver listens on.
    port: Optional[int] = None
    #: The destination directory on the host (after substitutions).
    remote_location: str = None  # type: ignore[assignment]  # class-level default (documented); every instance sets it
    #: Index of the host in the chain (0: the first after localhost).
    chain_index: int = None  # type: ignore[assignment]  # class-level default (documented); every instance sets it
    chain_address: str

    def __init__(
        self,
        cmd: str,
        host: Union[str, Host],
        port: Optional[int],
        remote_location: str,
        chain_index: int,
        connection_params: Optional[Dict[str, Any]] = None,
        **kwargs: Any,
    ) -> None:
        self.port = port
        self.remote_location = remote_location
        self.chain_index = chain_index
        super(ChainPutReceiver, self).__init__(cmd, host, connection_params=connection_params, **kwargs)

    def _name_source(self) -> str:
        return "chainput receiver %s:%s" % (self.host.address, self.remote_location)

    def _args(self) -> List[str]:
        return [
            repr(self.host),
            "port=%r" % (self.port,),
            "remote_location=%r" % (self.remote_location,),
        ] + self._process_kwargs()


class ChainPutSender(Process):
    """The sending end of a :class:`ChainPut`, on localhost: runs the
    chain's helper script, which sums and tars the local files and sends
    the stream to the first reachable receiver. Its command line is made
    when it starts (the receivers which are listening at that time)."""

    #: The local files sent.
    local_files: List[str] = None  # type: ignore[assignment]  # class-level default (documented); every instance sets it
    #: (address, port) of the receivers it may send to, in chain order (set
    #: at start).
    candidates: List[Tuple[str, int]] = None  # type: ignore[assignment]  # class-level default (documented); every instance sets it
    #: The transfer's token (set at start, see :mod:`execo.chainput`).
    token: str = ""

    def __init__(self, local_files: Iterable[str], settings: _Settings, **kwargs: Any) -> None:
        self.local_files = list(local_files)
        self._settings = settings
        self.candidates = []
        self.token = ""
        kwargs.setdefault("kill_subprocesses", True)
        kwargs.setdefault("name", "chainput sender")
        super(ChainPutSender, self).__init__(self._argv_for([]), shell=False, **kwargs)

    def _argv_for(self, candidates: Iterable[Tuple[str, int]]) -> Tuple[str, ...]:
        s = self._settings
        argv = (
            ["/bin/sh", "-c", _script(), "execo-chainput", "send"]
            + s.common_args()
            + s.retry_args()
            + [self.token or "-", _candidates(candidates)]
        )
        for f in self.local_files:
            directory, base = os.path.split(os.path.abspath(f))
            argv += [directory, base]
        return tuple(argv)

    def start(self: _CPS) -> _CPS:
        self.cmd = self._argv_for(self.candidates)
        return super(ChainPutSender, self).start()

    def _args(self) -> List[str]:
        return [repr(self.local_files)] + self._kwargs()


class _ReadyHandler(ProcessOutputHandler):
    """Sees the ready line of a receiver (a handler thread)."""

    _execo_thread_safe = True  # (see handlers._call_lock)

    def __init__(self, copy: _ChainPutCopy) -> None:
        super(_ReadyHandler, self).__init__()
        self.copy = copy

    def read_line(self, process: ProcessBase, stream: int, string: str, eof: bool, error: bool) -> None:
        if READY_MARK in string:
            self.copy._receiver_ready(process)


class _ReceiverEndHandler(ProcessLifecycleHandler):
    """Runs before the action counting ends: marks the receivers killed
    because the sender failed."""

    _execo_thread_safe = True  # (see handlers._call_lock)

    def __init__(self, copy: _ChainPutCopy) -> None:
        super(_ReceiverEndHandler, self).__init__()
        self.copy = copy

    def end(self, process: ProcessBase) -> None:
        self.copy._receiver_ended(process)


class _SenderEndHandler(ProcessLifecycleHandler):
    _execo_thread_safe = True  # (see handlers._call_lock)

    def __init__(self, copy: _ChainPutCopy) -> None:
        super(_SenderEndHandler, self).__init__()
        self.copy = copy

    def end(self, process: ProcessBase) -> None:
        self.copy._sender_ended(process)


class _ChainPutReceivers(Remote):
    """The receivers of a ChainPut (one per host)."""

    #: the transfer's token (new at each port assignment)
    token: str = ""

    def __init__(self, chainput: ChainPut, copy: _ChainPutCopy) -> None:
        self._chainput = chainput
        self._copy = copy
        super(_ChainPutReceivers, self).__init__(
            None,
            chainput.hosts,
            connection_params=chainput.connection_params,
            name="ChainPut receivers on %i hosts" % (len(chainput.hosts),),
        )

    def _make_processes(self) -> List[ChainPutReceiver]:  # type: ignore[override]  # (list invariance)
        cp = self._chainput
        processes = []
        for index, host in enumerate(self.hosts):
            location = self._substitute(str(cp.remote_location), index, cp._caller_context)
            check_no_nul(location, "ChainPut remote_location")
            p = ChainPutReceiver(
                "true",
                host,
                None,
                location,
                index,
                connection_params=self.connection_params,
                lifecycle_handlers=[_ReceiverEndHandler(self._copy)],
                stdout_handlers=[_ReadyHandler(self._copy)],
            )
            p.chain_address = get_rewritten_host_address(
                host.address, resolve_connection_params(host, self.connection_params)
            )
            processes.append(p)
        self._assign_ports(processes)
        return processes

    if TYPE_CHECKING:
        # for the type checker only: the processes here are ChainPutReceiver
        @property  # type: ignore[override]
        def processes(self) -> List[ChainPutReceiver]: ...

        @processes.setter
        def processes(self, processes: Iterable[ProcessBase]) -> None: ...

    def _assign_ports(self, processes: Optional[List[ChainPutReceiver]] = None) -> None:
        """A new port for every receiver (at construction and at each
        reset: a receiver of a killed run may still hold its port), a new
        token, and the command lines which follow from them."""
        s = self._chainput._settings
        if processes is None:
            processes = self.processes
        self.token = s.new_token()
        for p in processes:
            p.port = get_port()
        for index, p in enumerate(processes):
            following = [(q.chain_address, q.port) for q in processes[index + 1 : index + 2 + s.chain_retry]]
            args = (
                ["recv"]
                + s.common_args()
                + [str(s.server_timeout)]
                + s.retry_args()
                + [self.token, p.host.address, str(p.port), _candidates(following)]  # type: ignore[arg-type]  # ports: all set above
                + [p.remote_location]
            )
            p.remote_cmd = "sh -c %s execo-chainput %s" % (
                shlex.quote(_script()),
                " ".join(shlex.quote(a) for a in args),
            )
            p.cmd = p._build_cmd(p.host, p.connection_params)

    def _what(self) -> str:
        return "%r -> %r" % (self._chainput.local_files, self._chainput.remote_location)

    def _args(self) -> List[str]:
        return [repr(self.hosts)] + Action._args(self)


class _ChainPutSend(Action):
    """The local sender of a ChainPut."""

    if TYPE_CHECKING:
        # for the type checker only: the process here is a ChainPutSender
        @property  # type: ignore[override]
        def processes(self) -> List[ChainPutSender]: ...

        @processes.setter
        def processes(self, processes: Iterable[ProcessBase]) -> None: ...

    def __init__(self, chainput: ChainPut, copy: _ChainPutCopy) -> None:
        super(_ChainPutSend, self).__init__(name="ChainPut sender")
        self.processes = [
            ChainPutSender(chainput.local_files, chainput._settings, lifecycle_handlers=[_SenderEndHandler(copy)])
        ]


class _ChainPutCopy(ParallelActions):
    """The receivers, then the sender once they listen, all running
    together."""

    def __init__(self, chainput: ChainPut) -> None:
        self._chainput = chainput
        self._state_lock = threading.Lock()
        self._timer: Optional[_reactor.TimerHandle] = None
        self.receivers = _ChainPutReceivers(chainput, self)
        self.sender = _ChainPutSend(chainput, self)
        super(_ChainPutCopy, self).__init__(
            [self.receivers, self.sender], name="ChainPut copy to %i hosts" % (len(chainput.hosts),)
        )

    def _common_reset(self) -> None:
        super(_ChainPutCopy, self)._common_reset()
        with self._state_lock:
            timer, self._timer = self._timer, None
            self._ready: Set[int] = set()
            self._receivers_started = False
            self._sender_started = False
            self._sender_skipped = False
            self._killed = False
            self._aborted: Optional[str] = None
        if timer is not None:
            timer.cancel()

    def _reset_children(self) -> None:
        super(_ChainPutCopy, self)._reset_children()
        self.receivers._assign_ports()

    def _children(self) -> List[Any]:
        if self._sender_skipped:
            return [self.receivers]
        return self.actions

    def _start_children(self) -> None:
        self.receivers.start()
        with self._state_lock:
            self._receivers_started = True
        server_timeout = self._chainput._settings.server_timeout
        delay = server_timeout / 2.0 if server_timeout else 30.0
        timer = get_reactor().call_later(delay, self._start_sender, True)
        with self._state_lock:
            if self._sender_started or self._killed:
                timer.cancel()
            else:
                self._timer = timer
        self._start_sender()

    def _receiver_ready(self, process: ProcessBase) -> None:
        with self._state_lock:
            self._ready.add(id(process))
        self._start_sender()

    def _start_sender(self, force: bool = False) -> None:
        """Start the sender once every receiver listens or ended (or when
        forced by the deadline), sending to those which listen."""
        with self._state_lock:
            if not self._receivers_started or self._sender_started or self._killed:
                return
            receivers = self.receivers.processes
            if not force and any(not p.ended and id(p) not in self._ready for p in receivers):
                return
            self._sender_started = True
            timer, self._timer = self._timer, None
            ready = [p for p in receivers if id(p) in self._ready and not p.ended]
            waiting = [p for p in receivers if id(p) not in self._ready and not p.ended]
        if timer is not None:
            timer.cancel()
        if waiting:
            logger.warning(
                "%s: %i of %i receivers not listening yet, the sender starts without them: %s",
                self._chainput.name,
                len(waiting),
                len(receivers),
                ", ".join(p.host.address for p in waiting),
            )
        sender = self.sender.processes[0]
        sender.token = self.receivers.token
        sender.candidates = [
            (p.chain_address, p.port)  # type: ignore[assignment]  # ports: set by _assign_ports()
            for p in ready
        ][: 1 + self._chainput._settings.chain_retry]
        self.sender.start()

    def _sender_ended(self, process: ProcessBase) -> None:
        """A failed sender: nothing (more) will come, the receivers still
        waiting are killed, and marked in error (a killed process is ok
        otherwise)."""
        if process.ok:
            return
        running = [p for p in self.receivers.processes if p.started and not p.ended]
        if not running:
            return
        with self._state_lock:
            if self._killed:
                return
            self._aborted = "chainput: transfer aborted: the local sender failed (exit code %s): %s" % (
                process.exit_code,
                _last_line(process.stderr) or process.error_reason,
            )
        logger.warning("%s %s: %s", style.emph("ChainPut failed:"), self._chainput.name, self._aborted)
        for p in running:
            p.kill()

    def _receiver_ended(self, process: ProcessBase) -> None:
        with self._state_lock:
            aborted = self._aborted
        if aborted is not None and process.killed and not process.error:
            process.error = True
            process.error_reason = aborted
        self._start_sender()

    def kill(self: _CPC) -> _CPC:
        with self._state_lock:
            self._killed = True
            skip = self.started and not self._sender_started
            if skip:
                self._sender_skipped = True
            timer, self._timer = self._timer, None
        if timer is not None:
            timer.cancel()
        super(_ChainPutCopy, self).kill()
        if skip:
            self._check_end()
        return self


def _last_line(text: Optional[str]) -> str:
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    return lines[-1] if lines else ""


def _checked_files(
    local_files: Union[
        str,
        bytes,
        os.PathLike[str],
        os.PathLike[bytes],
        Iterable[Union[str, bytes, os.PathLike[str], os.PathLike[bytes]]],
    ],
) -> List[str]:
    """local_files as a list of str paths (ValueError: a NUL byte, a path
    without a file name)."""
    if isinstance(local_files, (str, bytes, os.PathLike)):
        local_files = [local_files]
    files = [os.fsdecode(f) for f in local_files]
    for f in files:
        check_no_nul(f, "ChainPut local file")
    for f in files:
        if not os.path.basename(os.path.abspath(f)):
            raise ValueError("ChainPut cannot send %r (no file name)" % (f,))
    return files


def _unique_hosts(hosts: Iterable[Host]) -> List[Host]:
    seen: Set[Host] = set()
    unique = []
    for h in hosts:
        if h not in seen:
            seen.add(h)
            unique.append(h)
    return unique


class ChainPut(SequentialActions):
    """Broadcast local files to several remote host, with an unencrypted,
    unauthenticated chain of host to host copies (idea taken from
    kastafior).

    Each broadcast is performed with a chain copy (simultaneously: host0
    sending to host1, host1 sending to host2, ... hostN to hostN+1)

    ChainPut relies on:

    - running a bourne shell and netcat being available both on remote
      hosts and on localhost.

    - direct TCP connections allowed between any nodes among localhost
      and remote hosts. The exact chain of TCP connections is: localhost
      to first remote host, first remote host to second remote host, and
      so on up to the last remote host.

    On the security side, data transfers are not crypted, and ChainPut
    briefly opens a TCP server socket on each remote host, accepting any
    data without authentication (each hop's own temporary files are in a
    private ``mktemp -d`` directory). It is thus intended to be used in a
    secured network environment.

    Every host checks the sha256 sums of the files it wrote against those
    computed on localhost: its process (a :class:`ChainPutReceiver`,
    among :attr:`processes`, with its ``host``) fails otherwise. See the
    module :mod:`execo.chainput` for how the chain is built (one port per
    hop, retries, the sender starting once the receivers listen). Its
    inner actions are hidden (``hide_subactions`` is True, as in execo
    2.x): a :class:`~execo.report.Report` shows one entry for it.

    Names are data: ``local_files`` are literal local paths (any
    character but NUL; a name starting with ``-`` is a file), sent under
    their base names; ``remote_location`` is a literal directory, except
    a leading ``~`` or ``~/`` (the remote home): both reach the hosts'
    shell only as quoted arguments of the helper script, which never
    evaluates them. Host addresses are checked
    (:func:`execo.host.check_address`). A NUL byte in a path is refused
    (ValueError) at construction. A port on which another program
    listens fails that host (exit code 8) and the chain goes around it:
    no hop sends the files to a listener which does not answer with this
    transfer's hello.
    """

    #: Iterable of source files or directories (local paths, no
    #: substitution: the same stream goes to every host).
    local_files: List[str] = None  # type: ignore[assignment]  # class-level default (documented); every instance sets it
    #: Destination directory on the remote hosts (created if needed; ``~``
    #: or ``~/`` at its start is the remote home). Substitutions described
    #: in :func:`execo.substitutions.remote_substitute` are performed (a
    #: per-host directory such as ``'dir/{{{host}}}'``).
    remote_location: str = None  # type: ignore[assignment]  # class-level default (documented); every instance sets it
    #: A dict similar to :data:`execo.config.default_connection_params`
    #: whose values will override those in default_connection_params for
    #: connection.
    connection_params: Optional[Dict[str, Any]] = None

    def __init__(
        self,
        hosts: HostsLike,
        local_files: Union[
            str,
            bytes,
            os.PathLike[str],
            os.PathLike[bytes],
            Iterable[Union[str, bytes, os.PathLike[str], os.PathLike[bytes]]],
        ],
        remote_location: str = ".",
        connection_params: Optional[Dict[str, Any]] = None,
        **kwargs: Any,
    ) -> None:
        """
        :param hosts: iterable of :class:`execo.host.Host` onto which to
          copy the files.
        :param local_files: iterable of source file (local pathes), or a
          single path.
        :param remote_location: destination directory (remote path).
        :param connection_params: a dict similar to
          :data:`execo.config.default_connection_params` whose values will
          override those in default_connection_params for connection.

        Raises FileNotFoundError when netcat (the ``nc`` connection param),
        tar or sha256sum are missing on localhost. Without hosts or
        without files, it is an empty action (no process, nothing run,
        nothing needed), which ends ok as soon as started.
        """
        self._caller_context = get_caller_context(self)
        self.hosts = hosts  # converted and checked by the hosts property
        self.local_files = _checked_files(local_files)
        self.remote_location = remote_location
        self.connection_params = connection_params
        super(ChainPut, self).__init__([], **kwargs)
        # as in execo 2.x: a report shows the ChainPut, not its inner
        # receivers / sender actions
        self.hide_subactions = True
        self._build()

    # what the chain is made of: reset() makes it again when one of these
    # changed (as execo 2.8.2, which made it again at every reset)
    _build_attrs = ("hosts", "local_files", "remote_location", "connection_params")

    def _make_processes(self) -> List[Any]:
        """The chain's actions (a ChainPut is made of actions, not
        processes): one _ChainPutCopy, or none (an empty action)."""
        local_files = _checked_files(self.local_files)
        settings = _Settings(make_connection_params(self.connection_params), len(self.hosts))
        if not (self.hosts and local_files):
            # like Put and Get: an empty action, which runs nothing and
            # ends ok at once (scripts compute these lists)
            self.local_files, self._settings = local_files, settings
            return []
        _check_local_tools(settings.nc)
        previous = getattr(self, "_settings", None)
        self.local_files, self._settings = local_files, settings  # what _ChainPutCopy reads
        try:
            return [_ChainPutCopy(self)]
        except BaseException:
            if previous is not None:
                self._settings = previous
            raise

    def _install(self, actions: List[Any]) -> None:
        for a in self.actions:
            a._parents[:] = [p for p in a._parents if p is not self]
        self.actions = list(actions)
        for a in self.actions:
            a._parents.append(self)

    @property
    def hosts(self) -> List[Host]:
        """Iterable of :class:`execo.host.Host` onto which to copy the
        files (duplicates removed, order kept).

        Hosts (or addresses) assigned to it are converted and checked as
        by the constructor: ``cp.hosts = ['b']`` gives ``[Host('b')]``, a
        name that cannot be a host address is a ValueError. The chain is
        made again for the new hosts at the next
        :meth:`~execo.action.Action.reset` (as in execo 2.8.2)."""
        return self._hosts

    @hosts.setter
    def hosts(self, hosts: HostsLike) -> None:
        self._hosts = _unique_hosts(get_hosts_list(hosts))

    def _default_name(self) -> str:
        return "%s %s to %i hosts" % (
            self.__class__.__name__,
            ", ".join(os.path.basename(os.path.abspath(f)) for f in self.local_files) or "[]",
            len(self.hosts),
        )

    def _args(self) -> List[str]:
        args = [repr(self.hosts), repr(self.local_files)]
        if self.remote_location != ".":
            args.append("remote_location=%r" % (self.remote_location,))
        if self.connection_params:
            args.append("connection_params=%r" % (self.connection_params,))
        return args + Action._args(self)

    @property
    def receivers(self) -> List[ChainPutReceiver]:
        """The :class:`ChainPutReceiver` processes, one per host, in chain
        order."""
        return list(self.actions[0].receivers.processes) if self.actions else []  # type: ignore[attr-defined]  # a _ChainPutCopy

    @property
    def sender(self) -> Optional[ChainPutSender]:
        """The local :class:`ChainPutSender` process (None without hosts
        or files)."""
        return self.actions[0].sender.processes[0] if self.actions else None  # type: ignore[attr-defined]  # a _ChainPutCopy
