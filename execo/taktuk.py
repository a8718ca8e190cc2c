"""Tree-based fan-out with taktuk: :class:`TaktukRemote`, :class:`TaktukPut`,
:class:`TaktukGet`.

One ``taktuk`` process runs per action; it deploys itself through a tree
of ssh connections (``taktuk_connector``) and runs each host's command.
Its output is multiplexed: every record is framed by output templates
(``-o stream=...``) as a header line giving the stream, the host's
position on the taktuk command line, its rank, and the byte length of the
payload that follows. A length prefix, not a separator, so that any output
(separators, binary data, lines of megabytes, no final newline) goes
through unchanged. :class:`_TaktukParser` reads those records and feeds one
:class:`execo.taktuk_process.TaktukProcess` per host.

Each host's command is given to taktuk as ``sh -c "$(echo <base64> | base64
-d)"``: taktuk parses its command line (and again on the remote node for
per-host commands) and gives meaning to brackets and escape characters; a
base64 string has none of them, so any command runs exactly as with ssh.

Beyond execo 2.8.2: killing a TaktukRemote (or one of its processes, or a
timeout) kills the remote commands (``taktuk kill``), and the action works
on Python 3.
"""

from __future__ import annotations

import atexit
import base64
import getpass
import os
import re
import shlex
import threading
import time
from typing import TYPE_CHECKING, Any, Dict, Iterable, List, Optional, Set, Tuple, TypeVar, Union

from .action_base import Action
from .conductor import get_reactor
from .config import configuration
from .handlers import STDERR, STDOUT, ProcessLifecycleHandler
from .host import get_hosts_list
from .local_process import Process
from .log import logger
from .ssh_utils import (
    fast_handshake_options,
    get_rewritten_host_address,
    make_connection_params,
    resolve_connection_params,
)
from .substitutions import get_caller_context
from .taktuk_process import TaktukProcess
from .time_utils import get_seconds

if TYPE_CHECKING:
    from .host import Host, HostsLike
    from .process_base import ProcessBase
    from .time_utils import DurationLike

_TR = TypeVar("_TR", bound="TaktukRemote")

__all__ = ["TaktukRemote"]

# output templates: a header line, then (for payload records) the bytes
_TEMPLATES = (
    "-o",
    'output="O $position $rank ".length($line.$eol)."\\n$line$eol"',
    "-o",
    'error="E $position $rank ".length($line.$eol)."\\n$line$eol"',
    "-o",
    'status="S $position $rank $line\\n"',
    "-o",
    'connector="C $position $peer_position ".length($line)."\\n$line\\n"',
    "-o",
    'state="T $position $rank $peer_position $line\\n"',
    "-o",
    'info="I $position ".length($line)."\\n$line\\n"',
    "-o",
    'taktuk="K $position ".length($line)."\\n$line\\n"',
    "-o",
    'message="M $position ".length($line)."\\n$line\\n"',
    "-o",
    'default="D $position ".length($line)."\\n$line\\n"',
)

# taktuk state codes (taktuk(1), "state" stream)
CONNECTION_FAILED = 3
CONNECTION_LOST = 5
COMMAND_STARTED = 6
COMMAND_FAILED = 7
COMMAND_TERMINATED = 8
FILE_RECEPTION_STARTED = 13
FILE_RECEPTION_FAILED = 14
FILE_RECEPTION_TERMINATED = 15
FILE_SEND_FAILED = 16

TAKTUK_END_GRACE = 5.0
"""Seconds given to taktuk to quit by itself after a kill before it is
killed."""

LATE_KILL_PERIOD = 0.25
"""Seconds between the kills sent to a command that started after its
action was killed, until taktuk reports it ended."""


class _TaktukParser(object):
    """Incremental parser of taktuk's templated output (a file-like
    output handler of the taktuk process: it gets bytes)."""

    def __init__(self, action: TaktukRemote) -> None:
        self.action = action
        self.buf = bytearray()
        self.need: Optional[Tuple[List[str], int, int]] = None  # (header fields, payload length, trailing newline)

    def write(self, data: bytes) -> None:
        self.buf += data
        buf = self.buf
        pos = 0
        while True:
            if self.need is None:
                nl = buf.find(b"\n", pos)
                if nl < 0:
                    break
                header = bytes(buf[pos:nl])
                pos = nl + 1
                try:
                    self.need = self._header(header)
                except (ValueError, IndexError):
                    # not one of our records: taktuk (or perl) talking
                    self.action._taktuk_diagnostic(header)
                    continue
                if self.need is None:
                    continue
            fields, n, trailing = self.need
            if len(buf) - pos < n + trailing:
                break
            payload = bytes(buf[pos : pos + n])
            pos += n + trailing
            self.need = None
            self.action._taktuk_record(fields, payload)
        del buf[:pos]

    def flush(self) -> None:
        pass

    def _header(self, header: bytes) -> Optional[Tuple[List[str], int, int]]:
        """(fields, payload length, trailing newline length) of a payload
        record, or None once a header-only record was handled."""
        kind = header[:1]
        fields = header.decode("ascii").split(" ")
        if kind in (b"O", b"E"):
            return fields, int(fields[3]), 0
        if kind in (b"C", b"I", b"K", b"M", b"D"):
            return fields, int(fields[-1]), 1
        if kind in (b"S", b"T"):
            self.action._taktuk_record(fields, None)  # type: ignore[arg-type]  # S and T records: no payload, never read
            return None
        raise ValueError(header)


class _TaktukEndLH(ProcessLifecycleHandler):
    _execo_thread_safe = True  # (see handlers._call_lock)

    def __init__(self, action: TaktukRemote) -> None:
        super(_TaktukEndLH, self).__init__()
        self.action = action

    def end(self, process: ProcessBase) -> None:
        self.action._taktuk_ended(process)


class _HostEndLH(ProcessLifecycleHandler):
    _execo_thread_safe = True  # (see handlers._call_lock)

    def __init__(self, action: TaktukRemote) -> None:
        super(_HostEndLH, self).__init__()
        self.action = action

    def end(self, process: ProcessBase) -> None:
        self.action._host_ended(process)


class TaktukRemote(Action):
    """Launch a command remotely on several host, with taktuk.

    One taktuk instance is ran, which itself connects to hosts through an
    ssh tree.

    Behavior should be identical to :class:`execo.action.Remote`. Current
    limitation are:

    - we can provide per-host user with taktuk, but we cannot provide
      per-host port or keyfile, so a check is made that all hosts and
      connection_params have the same port / keyfile (or None). If not,
      an exception is raised during initialization.
    - writing to the remote processes' stdin is not supported.
    - a command (after substitutions) longer than 98,280 bytes
      (``execo.taktuk.MAX_COMMAND_BYTES``) is refused with ValueError at
      construction: it travels base64-encoded as one argument, and Linux
      limits one argument to 128 KiB (``MAX_ARG_STRLEN``).

    The command reaches each host unchanged, whatever its bytes (taktuk
    gets it base64-encoded and never parses it). Host names and users
    are data: :class:`execo.host.Host` and the connection params refuse
    those that cannot be real (a leading ``-``, blanks, shell
    metacharacters), and taktuk's connector line, run by ``/bin/sh``,
    gets them shell-quoted anyway. Host names that taktuk itself would
    read (``[``, ``]``, ``,``, ``/``: host ranges, lists, exclusions) are
    refused with ValueError at construction, except an IPv6 address in
    brackets, given to taktuk without them.

    Unlike execo 2.8.2, killing a TaktukRemote kills the remote commands
    (through taktuk's ``kill``), those of hosts still being deployed
    included, and so does a normal interpreter exit (with
    ``kill_childs_at_end``, the default).
    """

    #: The command to run remotely. substitions described in
    #: :func:`execo.substitutions.remote_substitute` will be performed.
    cmd: Optional[str] = None
    #: A dict similar to :data:`execo.config.default_connection_params`
    #: whose values will override those in default_connection_params for
    #: connection.
    connection_params: Optional[Dict[str, Any]] = None
    #: Dict of keyword arguments passed to instanciated processes.
    process_args: Dict[str, Any] = None  # type: ignore[assignment]  # class-level default (documented); every instance sets it

    def __init__(
        self,
        cmd: Optional[str],
        hosts: HostsLike,
        connection_params: Optional[Dict[str, Any]] = None,
        process_args: Optional[Dict[str, Any]] = None,
        **kwargs: Any,
    ) -> None:
        """
        :param cmd: the command to run remotely. substitions described in
          :func:`execo.substitutions.remote_substitute` will be performed.
        :param hosts: iterable of :class:`execo.host.Host` to which to
          connect and run the command.
        :param connection_params: a dict similar to
          :data:`execo.config.default_connection_params` whose values will
          override those in default_connection_params for connection.
        :param process_args: Dict of keyword arguments passed to
          instanciated processes.
        """
        self._caller_context = get_caller_context(self)
        self.cmd = cmd
        self.connection_params = connection_params
        self.hosts = hosts  # converted and checked by the hosts property
        self.process_args = dict(process_args) if process_args is not None else {}
        super(TaktukRemote, self).__init__(**kwargs)
        self._host_lh = _HostEndLH(self)
        self._taktuk: Optional[Process] = None
        self._taktuk_lock = threading.Lock()
        self._build()

    # what the processes and taktuk's command line are made of: reset()
    # makes them again when one of these changed
    _build_attrs: Tuple[str, ...] = ("hosts", "cmd", "connection_params", "process_args")

    def _build(self) -> None:
        port, keyfile = self._common_port_and_keyfile(self.hosts)
        # the host names given to taktuk's -m (rewritten, checked): refused
        # here, when the processes are made, rather than read by taktuk as
        # ranges or code
        peers = [_taktuk_host(get_rewritten_host_address(host.address, self.connection_params)) for host in self.hosts]
        super(TaktukRemote, self)._build()
        self._port, self._keyfile, self._peers = port, keyfile, peers
        self._taktuk = None

    def _install(self, processes: List[Any]) -> None:
        for p in self.processes:
            p.lifecycle_handlers[:] = [h for h in p.lifecycle_handlers if h is not self._host_lh]
        super(TaktukRemote, self)._install(processes)
        for p in processes:
            p.lifecycle_handlers.append(self._host_lh)

    if TYPE_CHECKING:
        # for the type checker only: the processes of a taktuk action are TaktukProcess
        @property  # type: ignore[override]
        def processes(self) -> List[TaktukProcess]: ...

        @processes.setter
        def processes(self, processes: Iterable[ProcessBase]) -> None: ...

    @property
    def hosts(self) -> List[Host]:
        """Iterable of :class:`execo.host.Host` to which to connect and run the command.

        Hosts (or addresses) assigned to it are converted and checked as
        by the constructor (:func:`execo.host.get_hosts_list`, then what
        taktuk cannot take: host names it would read as ranges, per-host
        ports or keyfiles): ``action.hosts = ['b']`` gives
        ``[Host('b')]``, else ValueError. The processes are made again for
        the new hosts at the next :meth:`~execo.action.Action.reset` (as in
        execo 2.8.2)."""
        return self._hosts

    @hosts.setter
    def hosts(self, hosts: HostsLike) -> None:
        hosts = get_hosts_list(hosts)
        for host in hosts:
            _taktuk_host(get_rewritten_host_address(host.address, self.connection_params))
        self._common_port_and_keyfile(hosts)
        self._hosts = hosts

    def _make_processes(self) -> List[TaktukProcess]:
        processes = []
        for index, host in enumerate(self.hosts):
            # self.cmd is None only for TaktukPut and TaktukGet, which override this method
            cmd = self._substitute(self.cmd, index)  # type: ignore[arg-type]
            _check_command_length(cmd, host)
            processes.append(TaktukProcess(cmd, host, **self.process_args))
        return processes

    def _default_name(self) -> str:
        return "%s %r on %i hosts" % (self.__class__.__name__, self.cmd, len(self.hosts))

    def _args(self) -> List[str]:
        args = [repr(self.cmd), repr(self.hosts)]
        if self.connection_params:
            args.append("connection_params=%r" % (self.connection_params,))
        if self.process_args:
            args.append("process_args=%r" % (self.process_args,))
        return args + Action._args(self)

    def _common_port_and_keyfile(self, hosts: List[Host]) -> Tuple[Any, Any]:
        """The port and keyfile of all ``hosts`` (ValueError if they differ)."""
        ports: Set[Any]
        keyfiles: Set[Any]
        ports, keyfiles = set(), set()
        for host in hosts:
            params = resolve_connection_params(host, self.connection_params)
            ports.add(params.get("port"))
            keyfiles.add(params.get("keyfile"))
        if len(ports) > 1:
            raise ValueError(
                "%s: taktuk cannot use per-host ports; the hosts and "
                "connection_params give %s" % (self.__class__.__name__, sorted(map(str, ports)))
            )
        if len(keyfiles) > 1:
            raise ValueError(
                "%s: taktuk cannot use per-host keyfiles; the hosts and "
                "connection_params give %s" % (self.__class__.__name__, sorted(map(str, keyfiles)))
            )
        return (ports.pop() if ports else None), (keyfiles.pop() if keyfiles else None)

    # ------------------------------------------------------ taktuk argv

    def _taktuk_argv(self) -> List[str]:
        params = make_connection_params(self.connection_params)
        argv = _split(params["taktuk"]) + list(_TEMPLATES) + list(params.get("taktuk_options") or ())
        connector = _split(params["taktuk_connector"]) + list(params.get("taktuk_connector_options") or ())
        connector += fast_handshake_options(params)
        if self._port is not None:
            connector += ["-p", str(self._port)]
        if self._keyfile is not None:
            connector += ["-i", str(self._keyfile)]
        argv += ["-c", " ".join(shlex.quote(a) for a in connector)]
        user = None
        for index, host in enumerate(self.hosts):
            host_user = resolve_connection_params(host, self.connection_params).get("user")
            if host_user is None and user is not None:
                host_user = getpass.getuser()  # taktuk's -l cannot be unset
            if host_user is not None and host_user != user:
                # taktuk pastes -l and -m into its connector line, run by
                # /bin/sh: quoted, whatever slipped past the checks is data
                argv += ["-l", shlex.quote(str(host_user))]
                user = host_user
            argv += ["-m", shlex.quote(self._peers[index])]
            argv += self._host_args(index)
        return argv + self._commands()

    def _host_args(self, index: int) -> List[str]:
        """taktuk arguments given to the taktuk instance of host index."""
        return ["-[", "exec", "[", _shell_command(self.processes[index].remote_cmd), "]", "-]"]

    def _commands(self) -> List[str]:
        """taktuk commands run by the root after deployment."""
        return []

    # ------------------------------------------------------------ control

    def _start_children(self) -> None:
        with self._taktuk_lock:
            self._positions: Dict[str, TaktukProcess] = {}  # taktuk position (str) -> process
            self._ranks: Dict[TaktukProcess, str] = {}  # process -> taktuk rank
            self._diagnostics: List[str] = []
            self._host_diagnostics: Dict[TaktukProcess, str] = {}
            self._quit_sent = False
            self._kill_sent = False
            for index, p in enumerate(self.processes):
                self._positions[str(index + 1)] = p
                p._kill_hook = self._kill_process
            if not self.processes:
                return
            self._taktuk = Process(
                self._taktuk_argv(),
                shell=False,
                default_stdout_handler=False,
                default_stderr_handler=False,
                stdout_handlers=[_TaktukParser(self)],
                stderr_handlers=[_TaktukParser(self)],
                lifecycle_handlers=[_TaktukEndLH(self)],
                ignore_exit_code=True,
                nolog_exit_code=True,
                name="taktuk of %s" % (self.name,),
            )
            # if the script dies: what kill() does (killing taktuk alone
            # leaves the remote commands running: see execo.watchdog)
            self._taktuk._watchdog_farewell = b"broadcast kill\nquit\n"
            taktuk = self._taktuk
        with _running_lock:
            _running.add(self)
        taktuk.start()
        if taktuk.error:
            logger.error("unable to start taktuk for %s: %s", self, taktuk)

    def _send(self, command: str) -> None:
        taktuk = self._taktuk
        if taktuk is not None and taktuk.started and not taktuk.ended:
            taktuk.write(command + "\n")

    def _kill_process(self, process: TaktukProcess, sig: int) -> None:
        rank = self._ranks.get(process)
        if rank is not None:
            self._send("%s kill %d" % (rank, int(sig)))

    def kill(self: _TR) -> _TR:
        """Kill all processes not yet ended, the remote commands included.

        Returns immediately, without waiting for processes to be actually
        killed.

        return self
        """
        taktuk = self._taktuk
        for p in self.processes:
            if not p.ended:
                p.killed = True
        if taktuk is not None and not taktuk.ended:
            self._kill_sent = True
            self._send("broadcast kill")
            # a host still being deployed starts its command later: it
            # gets its own kill then (see _state), so taktuk must keep
            # reading commands until every command started or ended
            if all(p.started or p.ended for p in self.processes):
                self._quit()
            get_reactor().call_later(TAKTUK_END_GRACE, self._kill_taktuk)
        return self

    def _kill_taktuk(self) -> None:
        taktuk = self._taktuk
        if taktuk is not None and not taktuk.ended:
            taktuk.kill()

    def _quit(self) -> None:
        with self._taktuk_lock:
            if self._quit_sent:
                return
            self._quit_sent = True
        self._send("quit")
        taktuk = self._taktuk
        if taktuk is not None:
            taktuk.close_stdin()

    def wait(self: _TR, timeout: Optional[DurationLike] = None) -> _TR:
        """Wait for all processes to complete (and taktuk to exit).

        return self
        """
        super(TaktukRemote, self).wait(timeout)
        taktuk = self._taktuk
        if self.ended and taktuk is not None and taktuk.started:
            taktuk.wait(get_seconds(timeout) if timeout is not None else TAKTUK_END_GRACE * 2)
        return self

    def _reset_children(self) -> None:
        super(TaktukRemote, self)._reset_children()
        self._taktuk = None

    def write(self, s: Union[str, bytes, bytearray, memoryview]) -> None:
        """Not supported with taktuk (raises NotImplementedError)."""
        raise NotImplementedError(
            "%s: writing to the remote processes' stdin is not supported" % (self.__class__.__name__,)
        )

    # ---------------------------------------------------- taktuk events

    def _host_ended(self, process: ProcessBase) -> None:
        if all(p.ended for p in self.processes):
            self._quit()

    def _taktuk_ended(self, taktuk: ProcessBase) -> None:
        """taktuk exited: whatever did not end cannot end otherwise."""
        with _running_lock:
            _running.discard(self)
        why = taktuk.error_reason
        if isinstance(why, int):  # the errno of a failed start (E2BIG, ENOENT...)
            why = os.strerror(why)
        reason = "taktuk ended (%s)" % ("exit code %s" % (taktuk.exit_code,) if not taktuk.error else why,)
        if self._diagnostics:
            reason += ": " + self._diagnostics[-1]
        for p in self.processes:
            if not p.ended:
                p._taktuk_end(reason)

    def _taktuk_diagnostic(self, text: Union[str, bytes]) -> None:
        if isinstance(text, bytes):
            text = text.decode("utf-8", "replace")
        text = text.strip()
        if text:
            self._diagnostics.append(text)
            del self._diagnostics[:-20]
            logger.debug("taktuk of %s: %s", self.name, text)

    def _reason(self, p: TaktukProcess, what: str) -> str:
        detail = self._host_diagnostics.get(p)
        return "%s: %s" % (what, detail) if detail else what

    def _process_at(self, position: str) -> Optional[TaktukProcess]:
        return self._positions.get(position)

    def _taktuk_record(self, fields: List[str], payload: bytes) -> None:
        kind = fields[0]
        if kind == "O" or kind == "E":
            p = self._process_at(fields[1])
            if p is not None:
                if not p.started:
                    p.start()
                p._on_fed_data(STDOUT if kind == "O" else STDERR, payload)
        elif kind == "T":
            self._state(fields[1], fields[2], fields[3], int(fields[4]))
        elif kind == "S":
            p = self._process_at(fields[1])
            if p is not None:
                p._taktuk_status(int(fields[3]))
        elif kind == "C":
            p = self._process_at(fields[2])
            if p is not None:
                p._on_fed_data(STDERR, payload + b"\n")
        else:
            # taktuk's own messages: not the command's output (kept apart
            # from stderr), but a host's last one explains its failure
            p = self._process_at(fields[1]) if kind == "K" else None
            if p is not None:
                self._host_diagnostics[p] = payload.decode("utf-8", "replace").strip()
            self._taktuk_diagnostic(payload)

    def _state(self, position: str, rank: str, peer_position: str, code: int) -> None:
        if code in (CONNECTION_FAILED, CONNECTION_LOST):
            p = self._process_at(peer_position)
            if p is not None and not p.ended:
                p._taktuk_end("connection failed" if code == CONNECTION_FAILED else "connection lost")
            return
        p = self._process_at(position)
        if p is None:
            return
        if rank.isdigit():  # (-1: none yet; it is put in taktuk commands: digits only)
            self._ranks[p] = rank
        if code == COMMAND_STARTED and self._kill_sent and not self._quit_sent:
            self._kill_started_late(p)  # started after the action was killed
        self._host_state(p, code, peer_position)

    def _kill_started_late(self, p: TaktukProcess) -> None:
        """Kill a command that taktuk reported started after the action was
        killed, again every :data:`LATE_KILL_PERIOD` until it is reported
        ended: a kill that reaches its node while the command is being
        set up there can miss it (seen once in ten runs: the remote
        command outlived the action), and taktuk itself is killed
        :data:`TAKTUK_END_GRACE` seconds after the action's kill."""
        if p.ended or self._quit_sent:
            return
        rank = self._ranks.get(p)
        # (its own node only: thousands of hosts connecting late must not
        # each broadcast four times a second)
        self._send("broadcast kill" if rank is None else "%s kill" % (rank,))
        get_reactor().call_later(LATE_KILL_PERIOD, self._kill_started_late, p)

    def _host_state(self, p: TaktukProcess, code: int, peer_position: str) -> None:
        if code == COMMAND_STARTED:
            if not p.started:
                p.start()
        elif code == COMMAND_FAILED:
            p._taktuk_end(self._reason(p, "command failed"))
        elif code == COMMAND_TERMINATED:
            p._taktuk_end()


# ------------------------------------------------------ interpreter exit

_running_lock = threading.Lock()
_running: Set[TaktukRemote] = set()  # actions whose taktuk was started and did not end


def _end_remote_commands_at_exit() -> None:
    """At a normal interpreter exit (with ``kill_childs_at_end``), kill
    the remote commands of the running taktuk actions as
    :meth:`TaktukRemote.kill` does (taktuk's ``broadcast kill``, then
    ``quit``), and give their taktuk up to :data:`TAKTUK_END_GRACE`
    seconds in all to exit.

    A killed script is covered by the watchdog (:mod:`execo.watchdog`),
    which writes the same words to taktuk's stdin once the script is
    gone; at a normal exit this hook does better while the script still
    runs: :meth:`TaktukRemote.kill` goes on killing the commands of hosts
    that connect after it (a single ``broadcast kill`` misses them) and
    the taktuk ends before the interpreter does. It runs before the
    conductor's exit hook: this module imports :mod:`execo.conductor`
    (which registers its hook on import) before registering this one,
    and :mod:`atexit` runs the hooks last registered first."""
    if not configuration.get("kill_childs_at_end", True):
        return
    with _running_lock:
        actions = list(_running)
    for action in actions:
        try:
            action.kill()
        except Exception:  # never let one action keep the others running
            logger.debug("killing %s at exit", action, exc_info=True)
    deadline = time.monotonic() + TAKTUK_END_GRACE
    for action in actions:
        taktuk = action._taktuk
        remaining = deadline - time.monotonic()
        if taktuk is None or not taktuk.started or remaining <= 0:
            continue
        try:
            taktuk.wait(remaining)
        except Exception:
            logger.debug("waiting for %s at exit", taktuk, exc_info=True)


atexit.register(_end_remote_commands_at_exit)


def _split(cmd: Union[str, Iterable[object]]) -> List[str]:
    if isinstance(cmd, str):
        return shlex.split(cmd)
    return [str(a) for a in cmd]


def _shell_command(cmd: str) -> str:
    """cmd as a taktuk exec argument free of anything taktuk would parse."""
    encoded = base64.b64encode(cmd.encode("utf-8", "surrogateescape")).decode("ascii")
    return 'sh -c "$(echo %s | base64 -d)"' % (encoded,)


MAX_ARG_STRLEN = 131072
"""Linux's limit on the length of one argument of a command (32 pages of
4 KiB, terminating NUL included): ``execve`` fails with E2BIG past it."""

MAX_COMMAND_BYTES = (MAX_ARG_STRLEN - 1 - len(_shell_command(""))) // 4 * 3
"""The longest command (in bytes, UTF-8) a :class:`TaktukRemote` can run
(98,280 bytes): the command travels base64-encoded (4/3 of its size) as one
argument, of taktuk's command line here and of ``/bin/sh -c`` on each
host, each bound by :data:`MAX_ARG_STRLEN`."""


def _check_command_length(cmd: str, host: Host) -> None:
    size = len(cmd.encode("utf-8", "surrogateescape"))
    if size > MAX_COMMAND_BYTES:
        raise ValueError(
            "TaktukRemote: the command for %s is %d bytes, taktuk can run at most %d: the command goes "
            "base64-encoded as one argument of taktuk's command line and of /bin/sh -c on the host, and "
            "Linux limits one argument to %d bytes (MAX_ARG_STRLEN). Copy a script to the hosts first "
            "(TaktukPut) and run it, or use Remote." % (host.address, size, MAX_COMMAND_BYTES, MAX_ARG_STRLEN)
        )


# taktuk reads these characters in a host name (-m) itself: "[a-b,c]"
# ranges and lists, "/" exclusions, "$" and "`" through a shell (it
# expands host names with `echo NAME`)
_TAKTUK_HOST_SPECIALS = re.compile(r"[\[\],/$`]")
_BRACKETED_IPV6 = re.compile(r"\A((?:[^@\[\]]*@)?)\[([0-9A-Za-z.:%_-]+)\]\Z")


def _taktuk_host(address: str) -> str:
    """address (already checked by :func:`execo.host.check_address`) as
    taktuk must get it in ``-m``: an IPv6 address loses its brackets
    (``[::1]`` is ``::1`` for ssh), any other bracket, comma, slash,
    ``$`` or backquote is refused (ValueError): taktuk would read it."""
    m = _BRACKETED_IPV6.match(address)
    if m:
        address = m.group(1) + m.group(2)
    if _TAKTUK_HOST_SPECIALS.search(address):
        raise ValueError(
            "%r cannot be a taktuk host: taktuk reads brackets, ',' and '/' in host names as host "
            "ranges, lists and exclusions (node[1-3]), and '$' or '`' through a shell" % (address,)
        )
    return address
