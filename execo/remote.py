"""Remote actions over ssh/scp: :class:`Remote`, :class:`Put`, :class:`Get`.

:class:`Remote` runs one :class:`execo.ssh_process.SshProcess` per host;
:class:`Put` and :class:`Get` run one scp :class:`execo.process.Process`
per host (its ``host`` attribute set, so that
:func:`execo.action.filter_bad_hosts` works). Command lines and paths
go through :func:`execo.substitutions.remote_substitute`, evaluated in the
context (globals, locals) where the action was created.

These classes are re-exported by :mod:`execo.action`;
``execo.action_factory`` chooses between them and the taktuk and
chainput actions.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Dict, Iterable, List, Optional, Tuple, Union

from .action_base import Action
from .host import get_hosts_list
from .local_process import Process
from .ssh_process import SshProcess
from .ssh_utils import get_scp_get_argv, get_scp_put_argv
from .substitutions import get_caller_context

if TYPE_CHECKING:
    from .host import Host, HostsLike
    from .process_base import ProcessBase

    #: a path or several (each path may hold substitutions)
    PathsLike = Union[str, Iterable[Union[str, "os.PathLike[str]"]]]

__all__ = ["Remote", "Put", "Get"]


def _substitute_list(action: Action, strings: PathsLike, index: int) -> List[str]:
    if isinstance(strings, str):
        strings = [strings]
    return [action._substitute(str(s), index) for s in strings]


class Remote(Action):
    """Launch a command remotely on several host, with ssh or a similar
    remote connection tool.

    One ssh process is launched for each connection.
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
        :param hosts: iterable of :class:`execo.host.Host` (or addresses)
          to which to connect and run the command (order kept).
        :param connection_params: a dict similar to
          :data:`execo.config.default_connection_params` whose values will
          override those in default_connection_params for connection.
        :param process_args: Dict of keyword arguments passed to
          instanciated processes.
        """
        # the frame creating the action (skipping subclass constructors
        # and frame_transparent factories)
        self._caller_context = get_caller_context(self)
        self.cmd = cmd
        self.hosts = hosts  # converted and checked by the hosts property
        self.connection_params = connection_params
        self.process_args = dict(process_args) if process_args is not None else {}
        super(Remote, self).__init__(**kwargs)
        self._build()

    # what the processes are made of: reset() makes them again when one
    # of these changed (as execo 2.8.2, which made them again at every reset)
    _build_attrs: Tuple[str, ...] = ("hosts", "cmd", "connection_params", "process_args")

    # None until assigned: a subclass that skips Remote.__init__ (execo_g5k's
    # Kadeployer, for execo 2.8.2) is named before it sets its hosts
    _hosts: List[Host] = None  # type: ignore[assignment]

    @property
    def hosts(self) -> List[Host]:
        """Iterable of :class:`execo.host.Host` to which to connect and run the command.

        Hosts (or addresses) assigned to it are converted and checked as
        by the constructor (:func:`execo.host.get_hosts_list`):
        ``action.hosts = ['b']`` gives ``[Host('b')]``, a name that cannot
        be a host address is a ValueError. The processes are made again
        for the new hosts at the next :meth:`~execo.action.Action.reset`
        (as in execo 2.8.2): ``r.hosts = alive; r.reset(); r.run()``."""
        return self._hosts

    @hosts.setter
    def hosts(self, hosts: HostsLike) -> None:
        self._hosts = get_hosts_list(hosts)

    def _make_processes(self) -> List[ProcessBase]:
        processes: List[ProcessBase] = []
        for index, host in enumerate(self.hosts):
            # self.cmd is None only for Put and Get, which override this method
            cmd = self._substitute(self.cmd, index)  # type: ignore[arg-type]
            processes.append(SshProcess(cmd, host, connection_params=self.connection_params, **self.process_args))
        return processes

    def _default_name(self) -> str:
        # hosts is None in a subclass that does not call Remote.__init__
        # (execo_g5k's Kadeployer, for execo 2.8.2)
        return "%s %s on %i hosts" % (self.__class__.__name__, self._what(), len(self.hosts or ()))

    def _what(self) -> str:
        return repr(self.cmd)

    def _args(self) -> List[str]:
        args = [repr(self.cmd), repr(self.hosts)]
        if self.connection_params:
            args.append("connection_params=%r" % (self.connection_params,))
        if self.process_args:
            args.append("process_args=%r" % (self.process_args,))
        return args + Action._args(self)

    def write(self, s: Union[str, bytes, bytearray, memoryview]) -> None:
        """Write on the Remote processes standard inputs

        Allows Remote instances to behave as file-like objects. You can
        for example print to a Remote.
        """
        for p in list(self.processes):
            p.write(s)  # type: ignore[attr-defined]  # SshProcess.write(); TaktukRemote overrides write()


class Put(Remote):
    """Copy local files to several remote host, with scp or a similar
    connection tool.

    File names are data, never options, remote paths or shell code (see
    :mod:`execo.scp_paths` and the security notes):

    - ``local_files`` are literal local paths (no glob, no shell, as in
      execo 2.x): a name starting with ``-`` or holding a ``:``
      (``user@host:notes.txt``) is a local file (given to scp as
      ``./name``).
    - ``remote_location`` is a literal directory on the hosts, except a
      leading ``~`` or ``~user`` (the home directory): spaces, quotes,
      ``$``, ``;``, ``*``... are part of the name, in both scp protocols
      (SFTP, and the legacy one selected by ``-O`` in ``scp_options``).
    - a NUL byte in a path is refused (ValueError) at construction.

    With no local files (or no hosts) it is an empty action, as in execo
    2.x: no process, nothing run, ended ok as soon as started.
    """

    #: An iterable of string of file paths. substitions described in
    #: :func:`execo.substitutions.remote_substitute` will be performed.
    local_files: List[Union[str, os.PathLike[str]]] = None  # type: ignore[assignment]  # class-level default (documented); every instance sets it
    #: The directory on the remote hosts were the files will be copied.
    #: substitions described in
    #: :func:`execo.substitutions.remote_substitute` will be performed.
    remote_location: str = None  # type: ignore[assignment]  # class-level default (documented); every instance sets it

    def __init__(
        self,
        hosts: HostsLike,
        local_files: PathsLike,
        remote_location: str = ".",
        connection_params: Optional[Dict[str, Any]] = None,
        **kwargs: Any,
    ) -> None:
        """
        :param hosts: iterable of :class:`execo.host.Host` onto which to
          copy the files.
        :param local_files: an iterable of string of file paths (or a
          single path).
        :param remote_location: the directory on the remote hosts were the
          files will be copied.
        :param connection_params: a dict similar to
          :data:`execo.config.default_connection_params` whose values will
          override those in default_connection_params for connection.
        """
        self.local_files = [local_files] if isinstance(local_files, str) else list(local_files)
        self.remote_location = remote_location
        super(Put, self).__init__(None, hosts, connection_params=connection_params, **kwargs)

    _build_attrs = ("hosts", "local_files", "remote_location", "connection_params", "process_args")

    def _make_processes(self) -> List[ProcessBase]:
        processes: List[ProcessBase] = []
        if not self.local_files:
            return processes  # nothing to copy: an empty action, as in execo 2.x
        for index, host in enumerate(self.hosts):
            files = _substitute_list(self, self.local_files, index)
            location = self._substitute(str(self.remote_location), index)
            argv = get_scp_put_argv(host, files, location, self.connection_params)
            p = Process(argv, shell=False, **self.process_args)
            p.host = host
            processes.append(p)
        return processes

    def _what(self) -> str:
        return "%r -> %r" % (self.local_files, self.remote_location)

    def _args(self) -> List[str]:
        args = [repr(self.hosts), repr(self.local_files)]
        if self.remote_location != ".":
            args.append("remote_location=%r" % (self.remote_location,))
        if self.connection_params:
            args.append("connection_params=%r" % (self.connection_params,))
        if self.process_args:
            args.append("process_args=%r" % (self.process_args,))
        return args + Action._args(self)


class Get(Remote):
    """Copy remote files from several remote host to a local directory,
    with scp or a similar connection tool.

    File names are data, never options or shell code (see
    :mod:`execo.scp_paths` and the security notes):

    - ``remote_files`` are glob patterns expanded on the host, as with
      execo 2.x (``Get(hosts, ["/tmp/*.log"])``): ``*``, ``?`` and
      ``[...]`` match, a backslash makes the next character literal, a
      leading ``~`` or ``~user`` is the home directory. Every other
      character is literal, in both scp protocols (SFTP, and the legacy
      one selected by ``-O`` in ``scp_options``): ``$(...)``, backticks,
      ``;``, quotes, spaces never run anything on the host. To fetch a
      file whose name came from elsewhere (a listing) exactly, pass
      :func:`execo.scp_paths.glob_escape` of it.
    - ``local_location`` is a literal local path (a name starting with
      ``-`` or holding a ``:`` is a local directory).
    - a NUL byte in a path is refused (ValueError) at construction, and
      so is a newline in a remote name with ``-O`` (the legacy protocol
      cannot carry it).

    With no remote files (or no hosts) it is an empty action, as in execo
    2.x: no process, nothing run, ended ok as soon as started.
    """

    #: Iterable of string of file paths. substitions described in
    #: :func:`execo.substitutions.remote_substitute` will be performed.
    remote_files: List[Union[str, os.PathLike[str]]] = None  # type: ignore[assignment]  # class-level default (documented); every instance sets it
    #: The local directory were the files will be copied. substitions
    #: described in :func:`execo.substitutions.remote_substitute` will be
    #: performed.
    local_location: Union[str, os.PathLike[str]] = None  # type: ignore[assignment]  # class-level default (documented); every instance sets it

    def __init__(
        self,
        hosts: HostsLike,
        remote_files: PathsLike,
        local_location: Union[str, os.PathLike[str]] = ".",
        connection_params: Optional[Dict[str, Any]] = None,
        **kwargs: Any,
    ) -> None:
        """
        :param hosts: iterable of :class:`execo.host.Host` from which to
          get the files.
        :param remote_files: iterable of string of file paths (or a single
          path).
        :param local_location: the local directory were the files will be
          copied.
        :param connection_params: a dict similar to
          :data:`execo.config.default_connection_params` whose values will
          override those in default_connection_params for connection.
        """
        self.remote_files = [remote_files] if isinstance(remote_files, str) else list(remote_files)
        self.local_location = local_location
        super(Get, self).__init__(None, hosts, connection_params=connection_params, **kwargs)

    _build_attrs = ("hosts", "remote_files", "local_location", "connection_params", "process_args")

    def _make_processes(self) -> List[ProcessBase]:
        processes: List[ProcessBase] = []
        if not self.remote_files:
            return processes  # nothing to copy: an empty action, as in execo 2.x
        for index, host in enumerate(self.hosts):
            files = _substitute_list(self, self.remote_files, index)
            location = self._substitute(str(self.local_location), index)
            argv = get_scp_get_argv(host, files, location, self.connection_params)
            p = Process(argv, shell=False, **self.process_args)
            p.host = host
            processes.append(p)
        return processes

    def _what(self) -> str:
        return "%r -> %r" % (self.remote_files, self.local_location)

    def _args(self) -> List[str]:
        args = [repr(self.hosts), repr(self.remote_files)]
        if self.local_location != ".":
            args.append("local_location=%r" % (self.local_location,))
        if self.connection_params:
            args.append("connection_params=%r" % (self.connection_params,))
        if self.process_args:
            args.append("process_args=%r" % (self.process_args,))
        return args + Action._args(self)
