"""File copies through taktuk: :class:`TaktukPut` and :class:`TaktukGet`
(re-exported by :mod:`execo.taktuk` and :mod:`execo.action`).

One taktuk process per action, as for :class:`execo.taktuk.TaktukRemote`
(of which they are subclasses); each host's
:class:`execo.taktuk_process.TaktukProcess` ends when every file was
transferred (or failed).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, Iterable, List, Optional, Union

from .action import Action
from .handlers import STDERR
from .taktuk import (FILE_RECEPTION_FAILED, FILE_RECEPTION_STARTED, FILE_RECEPTION_TERMINATED,
                     FILE_SEND_FAILED, TaktukRemote)
from .taktuk_process import TaktukProcess

if TYPE_CHECKING:
    from .host import HostsLike

__all__ = ["TaktukPut", "TaktukGet"]


class _FileTransfer(TaktukRemote):
    """TaktukPut and TaktukGet: one process per host that ends when every
    file was transferred (or failed)."""

    def _host_args(self, index: int) -> List[str]:
        return []

    def _start_children(self) -> None:
        self._transfers: Dict[TaktukProcess, List[int]] = dict((p, [0, 0]) for p in self.processes)   # done, failed
        super(_FileTransfer, self)._start_children()

    def _files_count(self) -> int:
        return len(self._files())  # type: ignore[attr-defined]  # abstract: defined by TaktukPut and TaktukGet

    def _transfer(self, p: TaktukProcess, failed: bool) -> None:
        if p.ended:
            return
        if not p.started:
            p.start()
        counts = self._transfers[p]
        counts[1 if failed else 0] += 1
        if counts[0] + counts[1] >= self._files_count():
            # like scp: a failed transfer is exit code 1 (the host was
            # reached: not an error), its reason in stderr
            if counts[1]:
                p._on_data(STDERR, ("%s\n" % (self._reason(p, "%d of %d file transfers failed" % (
                    counts[1], self._files_count())),)).encode())
            p._taktuk_status(256 if counts[1] else 0)
            p._taktuk_end()


class TaktukPut(_FileTransfer):
    """Copy local files to several remote host, with taktuk."""

    #: Iterable of string of file paths. substitions described in
    #: :func:`execo.substitutions.remote_substitute` will not be
    #: performed, but taktuk substitutions can be used.
    local_files: List[str] = None  # type: ignore[assignment]  # class-level default (documented); every instance sets it
    #: The directory on the remote hosts were the files will be copied.
    #: substitions described in
    #: :func:`execo.substitutions.remote_substitute` will not be
    #: performed, but taktuk substitutions can be used.
    remote_location: str = None  # type: ignore[assignment]  # class-level default (documented); every instance sets it

    def __init__(self, hosts: HostsLike, local_files: Union[str, Iterable[object]], remote_location: str = ".",
                 connection_params: Optional[Dict[str, Any]] = None, **kwargs: Any) -> None:
        """
        :param hosts: iterable of :class:`execo.host.Host` onto which to
          copy the files.
        :param local_files: an iterable of string of file paths (or one path).
        :param remote_location: the directory on the remote hosts were the
          files will be copied.
        :param connection_params: a dict similar to
          :data:`execo.config.default_connection_params` whose values will
          override those in default_connection_params for connection.
        """
        self.local_files = [local_files] if isinstance(local_files, str) else [str(f) for f in local_files]
        self.remote_location = remote_location
        super(TaktukPut, self).__init__(None, hosts, connection_params=connection_params, **kwargs)

    def _make_processes(self) -> List[TaktukProcess]:
        return [TaktukProcess("taktuk put %s to %s" % (" ".join(self.local_files), self.remote_location),
                              host, **self.process_args)
                for host in self.hosts]

    def _files(self) -> List[str]:
        return self.local_files

    def _default_name(self) -> str:
        return "%s %r to %i hosts" % (self.__class__.__name__, self.local_files, len(self.hosts))

    def _args(self) -> List[str]:
        return [repr(self.hosts), repr(self.local_files), repr(self.remote_location)] + Action._args(self)

    def _commands(self) -> List[str]:
        commands: List[str] = []
        for f in self.local_files:
            commands += ["synchronize", "broadcast", "put", "[", f, "]", "[", str(self.remote_location), "]", ";"]
        return commands

    def _host_state(self, p: TaktukProcess, code: int, peer_position: str) -> None:
        # the receiving node reports its receptions
        if code == FILE_RECEPTION_STARTED:
            if not p.started:
                p.start()
        elif code in (FILE_RECEPTION_TERMINATED, FILE_RECEPTION_FAILED):
            self._transfer(p, code == FILE_RECEPTION_FAILED)

    def _state(self, position: str, rank: str, peer_position: str, code: int) -> None:
        if code == FILE_SEND_FAILED and position == "0":
            # the root could not send a file (missing source): every host fails it
            for p in self.processes:
                self._transfer(p, True)
            return
        super(TaktukPut, self)._state(position, rank, peer_position, code)


class TaktukGet(_FileTransfer):
    """Copy remote files from several remote host to a local directory, with taktuk."""

    #: Iterable of string of file paths. Substitions described in
    #: :func:`execo.substitutions.remote_substitute` will not be
    #: performed, but taktuk substitutions can be used.
    remote_files: List[str] = None  # type: ignore[assignment]  # class-level default (documented); every instance sets it
    #: The local directory were the files will be copied. Substitions
    #: described in :func:`execo.substitutions.remote_substitute` will
    #: not be performed, but taktuk substitutions can be used.
    local_location: str = None  # type: ignore[assignment]  # class-level default (documented); every instance sets it

    def __init__(self, hosts: HostsLike, remote_files: Union[str, Iterable[object]], local_location: str = ".",
                 connection_params: Optional[Dict[str, Any]] = None, **kwargs: Any) -> None:
        """
        :param hosts: iterable of :class:`execo.host.Host` from which to
          get the files.
        :param remote_files: an iterable of string of file paths (or one path).
        :param local_location: the local directory were the files will be
          copied.
        :param connection_params: a dict similar to
          :data:`execo.config.default_connection_params` whose values will
          override those in default_connection_params for connection.
        """
        self.remote_files = [remote_files] if isinstance(remote_files, str) else [str(f) for f in remote_files]
        self.local_location = local_location
        super(TaktukGet, self).__init__(None, hosts, connection_params=connection_params, **kwargs)

    def _make_processes(self) -> List[TaktukProcess]:
        return [TaktukProcess("taktuk get %s to %s" % (" ".join(self.remote_files), self.local_location),
                              host, **self.process_args)
                for host in self.hosts]

    def _files(self) -> List[str]:
        return self.remote_files

    def _default_name(self) -> str:
        return "%s %r from %i hosts" % (self.__class__.__name__, self.remote_files, len(self.hosts))

    def _args(self) -> List[str]:
        return [repr(self.hosts), repr(self.remote_files), repr(self.local_location)] + Action._args(self)

    def _commands(self) -> List[str]:
        commands: List[str] = []
        for f in self.remote_files:
            commands += ["synchronize", "broadcast", "get", "[", f, "]", "[", str(self.local_location), "]", ";"]
        return commands

    def _state(self, position: str, rank: str, peer_position: str, code: int) -> None:
        if code in (FILE_RECEPTION_STARTED, FILE_RECEPTION_TERMINATED, FILE_RECEPTION_FAILED) \
                and position == "0":
            # the root receives from the host at peer_position
            p = self._process_at(peer_position)
            if p is not None:
                if code == FILE_RECEPTION_STARTED:
                    if not p.started:
                        p.start()
                else:
                    self._transfer(p, code == FILE_RECEPTION_FAILED)
            return
        if code == FILE_SEND_FAILED:
            p = self._process_at(position)
            if p is not None:
                self._transfer(p, True)
            return
        super(TaktukGet, self)._state(position, rank, peer_position, code)

    def _host_state(self, p: TaktukProcess, code: int, peer_position: str) -> None:
        pass
