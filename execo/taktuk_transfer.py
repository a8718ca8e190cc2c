"""File copies through taktuk: :class:`TaktukPut` and :class:`TaktukGet`
(re-exported by :mod:`execo.taktuk` and :mod:`execo.action`).

One taktuk process per action, as for :class:`execo.taktuk.TaktukRemote`
(of which they are subclasses); each host's
:class:`execo.taktuk_process.TaktukProcess` ends once every file was
transferred (or failed) and taktuk exited.

File names are data. taktuk's own ``put`` and ``get`` (taktuk 3.7,
``connector::send_file`` and ``handlers::file``) hand them to shells and
to perl's two-argument ``open``:

- a name holding ``$`` or a backquote is "expanded" by running
  ```VARS echo NAME``` in ``/bin/sh``, on the node that sends (the
  source) and on the node that receives (the destination);
- a source directory is read with ``open("cd SOURCE && tar c . |")`` and
  a received directory written with ``open("| cd DEST && tar x")``: shell
  lines again;
- a source file is opened with the two-argument ``open(SOURCE)``, which
  strips blanks around the name and reads ``<``, ``>`` and ``|`` in it as
  modes (``"cmd |"`` runs ``cmd``);
- the received file is named ``DEST/basename(SOURCE)`` when ``DEST`` is a
  directory, the sender's basename being whatever the sender says.

So no name of the user's is ever given to taktuk. What taktuk sees are
aliases made only of ``[A-Za-z0-9_./-]``:

- on this host, in a private directory (:func:`tempfile.mkdtemp`), a
  symbolic link to each local source (TaktukPut) and the files received
  (TaktukGet), which are then moved to their destination by Python;
- on the remote hosts, ``.execo-taktuk-TOKEN-POSITION-INDEX`` symbolic
  links in the taktuk engine's working directory (the user's home),
  pointing to the remote file (TaktukGet) or destination (TaktukPut).
  They are made by a few lines of sh that taktuk's expansion itself
  runs (the source or destination given to taktuk holds a ``$``): the
  names travel base64-encoded in that code, so no shell ever parses them;
  a last ``exec`` of the action removes them.
"""

from __future__ import annotations

import base64
import os
import re
import secrets
import shutil
import socket
import tempfile
from typing import TYPE_CHECKING, Any, Dict, Iterable, List, Mapping, Optional, Set, TypeVar, Union

from .action_base import Action
from .handlers import STDERR
from .log import logger
from .taktuk import (
    COMMAND_FAILED,
    COMMAND_TERMINATED,
    FILE_RECEPTION_FAILED,
    FILE_RECEPTION_STARTED,
    FILE_RECEPTION_TERMINATED,
    FILE_SEND_FAILED,
    TaktukRemote,
    _shell_command,
)
from .taktuk_process import TaktukProcess

if TYPE_CHECKING:
    from .host import HostsLike
    from .process_base import ProcessBase

__all__ = ["TaktukPut", "TaktukGet"]

_FT = TypeVar("_FT", bound="_FileTransfer")

# taktuk's own substitutions, the only ones kept: $host, $rank, $position
# (or ${host}...), replaced by values that are host names or numbers
_TAKTUK_VARIABLE = re.compile(r"\$(?:\{(host|rank|position)\}|(host|rank|position)(?![A-Za-z0-9_]))")

# what taktuk may see of a local path: nothing it or a shell would read
_SAFE_PATH = re.compile(r"/[A-Za-z0-9_./-]*\Z")

# the name given to taktuk when the remote side refuses: opening it fails
_REFUSED = "/dev/null/execo-refused"


def _file_name(name: object, what: str) -> str:
    """name as a str path (bytes and path-like objects accepted): any
    character but NUL; ValueError if empty or holding a NUL."""
    if isinstance(name, (bytes, os.PathLike)):
        name = os.fsdecode(name)
    name = str(name)
    if not name:
        raise ValueError("%s: an empty file name" % (what,))
    if "\0" in name:
        raise ValueError("%s: %r holds a NUL byte, which no file name can hold" % (what, name))
    return name


def _file_names(names: Union[str, bytes, Iterable[object]], what: str) -> List[str]:
    if isinstance(names, (str, bytes, os.PathLike)):
        names = [names]
    return [_file_name(n, what) for n in names]


def _parts(name: str) -> List[Union[bytes, str]]:
    """name split into literal parts (bytes, as the file system gets
    them) and taktuk variables (str: "host", "rank" or "position")."""
    parts: List[Union[bytes, str]] = []
    pos = 0
    for m in _TAKTUK_VARIABLE.finditer(name):
        if m.start() > pos:
            parts.append(os.fsencode(name[pos : m.start()]))
        parts.append(m.group(1) or m.group(2))
        pos = m.end()
    if pos < len(name):
        parts.append(os.fsencode(name[pos:]))
    return parts


def _substitute(name: str, values: Mapping[str, str]) -> str:
    """name with taktuk's variables replaced by values (done by execo,
    no shell); every other character is kept as it is."""
    return "".join(values[p] if isinstance(p, str) else os.fsdecode(p) for p in _parts(name))


def _basename(path: str) -> str:
    """The last component of path as taktuk's (perl's) basename gives it
    (trailing slashes ignored), or "" for "/", "." and ".." (the copy
    then goes to the destination itself, not into it)."""
    name = os.path.basename(path.rstrip("/"))
    return "" if name in (".", "..") else name


def _sh_value(var: str, name: str, variables: bool = True) -> str:
    """sh code setting ``$var`` to name, byte for byte (trailing newlines
    too): literal parts decoded from base64, taktuk's variables (if
    variables) taken from those its expansion defines (``$host``,
    ``$rank``, ``$position``)."""
    pieces = []
    for part in _parts(name) if variables else [os.fsencode(name)]:
        if isinstance(part, bytes):
            pieces.append("printf %%s %s | base64 -d" % (base64.b64encode(part).decode("ascii"),))
        else:
            pieces.append('printf %%s "$%s"' % (part,))
    # $(...) drops trailing newlines: an "x" after the name keeps them
    return "%s=$(%s; echo x); %s=${%s%%x}" % (var, "; ".join(pieces), var, var)


def _remote_alias_code(token: str, index: int, body: str) -> str:
    """The source or destination given to taktuk for a remote name: sh
    code that taktuk's expansion runs on the remote node (it holds a
    ``$``); it sets ``$a`` to this node's alias for file index, runs
    body (which prints the alias, or :data:`_REFUSED`) and prints only
    that. The alias names hold the node's taktuk position: hosts sharing
    a home directory (NFS) do not collide."""
    return (
        ">/dev/null; p=$TAKTUK_POSITION; case \"$p\" in ''|*[!0-9.]*) echo %s; exit 0;; esac; "
        "a=.execo-taktuk-%s-$p-%d; %s" % (_REFUSED, token, index, body)
    )


def _link_or_refuse(target: str) -> str:
    return 'if ln -s -- "%s" "$a"; then echo "$a"; else echo %s; fi' % (target, _REFUSED)


def _cleanup_command(token: str) -> str:
    """The remote command removing this node's aliases."""
    return _shell_command('rm -f -- .execo-taktuk-%s-"$TAKTUK_POSITION"-*' % (token,))


def _private_dir() -> str:
    """A new private directory (mode 0700) whose path taktuk can be given
    as it is (no blank, quote, ``$``...): in the temporary directory, or
    /tmp if that path is not plain."""
    path = tempfile.mkdtemp(prefix="execo-taktuk-")
    if _SAFE_PATH.match(path):
        return path
    os.rmdir(path)
    return tempfile.mkdtemp(prefix="execo-taktuk-", dir="/tmp")


class _FileTransfer(TaktukRemote):
    """TaktukPut and TaktukGet: one process per host that ends when every
    file was transferred (or failed), the remote aliases removed and
    taktuk exited."""

    _files: List[str]

    def _host_args(self, index: int) -> List[str]:
        return []

    def _start_children(self) -> None:
        self._transfers: Dict[TaktukProcess, List[int]] = dict((p, [0, 0]) for p in self.processes)  # done, failed
        self._cleaned: Set[TaktukProcess] = set()  # their remote aliases were removed
        self._token = secrets.token_hex(8)
        self._local_dir: Optional[str] = _private_dir() if self.processes else None
        try:
            if self.processes:
                self._prepare()
            super(_FileTransfer, self)._start_children()
        except BaseException:
            self._remove_local_dir()
            raise

    def _prepare(self) -> None:
        """Local preparation before taktuk starts (in self._local_dir)."""

    def _commands(self) -> List[str]:
        # after the transfers (same order on every node: broadcast after
        # broadcast), each node removes its aliases
        return self._transfer_commands() + ["synchronize", "broadcast", "exec", "[", _cleanup_command(self._token), "]"]

    def _transfer_commands(self) -> List[str]:
        raise NotImplementedError

    def kill(self: _FT) -> _FT:
        """Kill all processes not yet ended: taktuk is killed (SIGTERM),
        which ends its tree and cuts the transfers under way short (what
        they received is not moved in place, and the remote hosts may
        keep their ``.execo-taktuk-*`` links).

        Returns immediately, without waiting for processes to be actually
        killed.

        return self
        """
        # taktuk's "kill" and "quit" would not do: they are read after the
        # transfers of the command line, which run to their end
        for p in self.processes:
            if not p.ended:
                p.killed = True
        taktuk = self._taktuk
        if taktuk is not None and taktuk.started and not taktuk.ended:
            taktuk.kill()
        return self

    # ---------------------------------------------------- taktuk events

    def _transfer(self, p: TaktukProcess, failed: bool) -> None:
        if p.ended:
            return
        if not p.started:
            p.start()
        self._transfers[p][1 if failed else 0] += 1
        self._maybe_quit()

    def _host_state(self, p: TaktukProcess, code: int, peer_position: str) -> None:
        # the states of the host's own command: the removal of its aliases
        if code in (COMMAND_TERMINATED, COMMAND_FAILED):
            if code == COMMAND_FAILED:
                logger.debug("%s: the removal of the aliases failed on %s", self.name, p.host)
            self._cleaned.add(p)
            self._maybe_quit()

    def _taktuk_record(self, fields: List[str], payload: bytes) -> None:
        if fields[0] == "S":
            return  # the exit status of the alias removal: not the transfers'
        super(_FileTransfer, self)._taktuk_record(fields, payload)

    def _complete(self, p: TaktukProcess) -> bool:
        done, failed = self._transfers[p]
        return done + failed >= len(self._files) and p in self._cleaned

    def _maybe_quit(self) -> None:
        if all(p.ended or self._complete(p) for p in self.processes):
            self._quit()

    def _host_ended(self, process: ProcessBase) -> None:
        self._maybe_quit()

    def _taktuk_ended(self, taktuk: ProcessBase) -> None:
        try:
            complete = [p for p in self.processes if not p.ended and self._complete(p)]
            if not taktuk.error and taktuk.exit_code is not None and taktuk.exit_code >= 0:
                # taktuk exited by itself: what it received is complete
                # (it closed its files and waited for its "tar x")
                self._deliver(complete)
            else:
                complete = []
            for p in complete:
                # like scp: a failed transfer is exit code 1 (the host was
                # reached: not an error), its reason in stderr
                failed = self._transfers[p][1]
                if failed:
                    p._on_data(
                        STDERR,
                        (
                            "%s\n" % (self._reason(p, "%d of %d file transfers failed" % (failed, len(self._files))),)
                        ).encode(),
                    )
                p._taktuk_status(256 if failed else 0)
                p._taktuk_end()
        finally:
            self._remove_local_dir()
            super(_FileTransfer, self)._taktuk_ended(taktuk)

    def _deliver(self, complete: List[TaktukProcess]) -> None:
        """Local work once taktuk exited, for the hosts done."""

    def _remove_local_dir(self) -> None:
        path, self._local_dir = getattr(self, "_local_dir", None), None
        if path is not None:
            shutil.rmtree(path, ignore_errors=True)


class TaktukPut(_FileTransfer):
    """Copy local files to several remote host, with taktuk.

    File names are data, copied literally: spaces, quotes, ``$``,
    backquotes, ``;``, newlines, brackets, a leading ``-``, bytes that
    are not UTF-8 (as :func:`os.fsdecode` gives them). Only taktuk's own
    variables are replaced (by execo, without a shell): ``$host``,
    ``$rank``, ``$position`` (or ``${host}``...), with the values of the
    sending node, this host (its host name, rank 0, position 0). Other
    ``$`` are characters like any other: no environment variable, no
    command substitution, no wildcard. Refused with ValueError at
    construction: an empty name, a name holding a NUL byte.

    As with ``cp -r``: a file or directory goes into ``remote_location``
    if that is a directory, else becomes ``remote_location``; a
    directory is merged into an existing one.

    The remote hosts need ``base64`` (coreutils) and a writable home
    directory, where taktuk's engine makes short-lived symbolic links
    (``.execo-taktuk-*``, removed at the end).

    With no files (or no hosts) it is an empty action, like
    :class:`~execo.action.Put` and :class:`~execo.action.Get`: no
    process, taktuk not run, ended ok as soon as started.
    """

    #: Iterable of string of file paths. substitions described in
    #: :func:`execo.substitutions.remote_substitute` will not be
    #: performed, but taktuk substitutions can be used: ``$host``,
    #: ``$rank``, ``$position`` (only those; any other character is
    #: literal).
    local_files: List[str] = None  # type: ignore[assignment]  # class-level default (documented); every instance sets it
    #: The directory on the remote hosts were the files will be copied.
    #: substitions described in
    #: :func:`execo.substitutions.remote_substitute` will not be
    #: performed, but taktuk substitutions can be used: ``$host``,
    #: ``$rank``, ``$position`` (only those; any other character is
    #: literal).
    remote_location: str = None  # type: ignore[assignment]  # class-level default (documented); every instance sets it

    def __init__(
        self,
        hosts: HostsLike,
        local_files: Union[str, Iterable[object]],
        remote_location: str = ".",
        connection_params: Optional[Dict[str, Any]] = None,
        **kwargs: Any,
    ) -> None:
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
        self.local_files = _file_names(local_files, "TaktukPut local_files")
        self.remote_location = _file_name(remote_location, "TaktukPut remote_location")
        self._files = self.local_files
        super(TaktukPut, self).__init__(None, hosts, connection_params=connection_params, **kwargs)

    _build_attrs = ("hosts", "local_files", "remote_location", "connection_params", "process_args")

    def _make_processes(self) -> List[TaktukProcess]:
        # (again at a reset after a change: checked as by the constructor)
        local_files = _file_names(self.local_files, "TaktukPut local_files")
        remote_location = _file_name(self.remote_location, "TaktukPut remote_location")
        self.local_files = self._files = local_files
        self.remote_location = remote_location
        if not self.local_files:
            return []  # nothing to copy: an empty action, like Put and Get
        return [
            TaktukProcess(
                "taktuk put %s to %s" % (" ".join(self.local_files), self.remote_location), host, **self.process_args
            )
            for host in self.hosts
        ]

    def _default_name(self) -> str:
        return "%s %r to %i hosts" % (self.__class__.__name__, self.local_files, len(self.hosts))

    def _args(self) -> List[str]:
        return [repr(self.hosts), repr(self.local_files), repr(self.remote_location)] + Action._args(self)

    def _prepare(self) -> None:
        # each local source behind a symbolic link of ours: taktuk reads
        # "DIR/i" (a file) or "DIR/i/." (a directory: its basename "."
        # makes the receiver extract into the destination itself)
        assert self._local_dir is not None
        values = {"host": socket.gethostname(), "rank": "0", "position": "0"}
        self._paths: List[str] = []
        self._sources: List[str] = []
        self._is_dir: List[bool] = []
        for index, name in enumerate(self.local_files):
            path = os.path.join(os.getcwd(), _substitute(name, values))
            self._paths.append(path)
            link = os.path.join(self._local_dir, str(index))
            os.symlink(path, link)
            is_dir = os.path.isdir(path)
            self._is_dir.append(is_dir)
            self._sources.append(link + "/." if is_dir else link)

    def _destination(self, index: int) -> str:
        """The destination given to taktuk for local file index: sh code
        run on each receiving node that finds the destination as ``cp
        -r`` would (``remote_location/name`` if remote_location is a
        directory, else remote_location), makes it a directory if a
        directory is sent, and prints an alias linking to it."""
        code = [_sh_value("l", self.remote_location)]
        name = _basename(self._paths[index])  # already substituted: literal
        if name:
            code.append(_sh_value("n", name, variables=False))
            code.append('if [ -d "$l" ]; then t=$l/$n; else t=$l; fi')
        else:
            code.append("t=$l")
        if self._is_dir[index]:
            # (hosts sharing a file system may race to make it: quiet
            # first, the error message if it really cannot be made)
            code.append(
                'if [ -d "$t" ] || mkdir -- "$t" 2>/dev/null || [ -d "$t" ] || mkdir -- "$t"; '
                'then %s; else echo %s; fi' % (_link_or_refuse("$t"), _REFUSED)
            )
        else:
            # a file is not written into a directory named like it
            code.append('if [ -d "$t" ]; then echo %s; else %s; fi' % (_REFUSED, _link_or_refuse("$t")))
        return _remote_alias_code(self._token, index, "; ".join(code))

    def _transfer_commands(self) -> List[str]:
        commands: List[str] = []
        for index, source in enumerate(self._sources):
            commands += ["synchronize", "broadcast", "put", "[", source, "]", "[", self._destination(index), "]", ";"]
        return commands

    def _host_state(self, p: TaktukProcess, code: int, peer_position: str) -> None:
        # the receiving node reports its receptions
        if code == FILE_RECEPTION_STARTED:
            if not p.started:
                p.start()
        elif code in (FILE_RECEPTION_TERMINATED, FILE_RECEPTION_FAILED):
            self._transfer(p, code == FILE_RECEPTION_FAILED)
        else:
            super(TaktukPut, self)._host_state(p, code, peer_position)

    def _state(self, position: str, rank: str, peer_position: str, code: int) -> None:
        if code == FILE_SEND_FAILED and position == "0":
            # the root could not send a file (missing source): every host fails it
            for p in self.processes:
                self._transfer(p, True)
            return
        super(TaktukPut, self)._state(position, rank, peer_position, code)


class TaktukGet(_FileTransfer):
    """Copy remote files from several remote host to a local directory, with taktuk.

    File names are data, copied literally: spaces, quotes, ``$``,
    backquotes, ``;``, newlines, brackets, a leading ``-``, bytes that
    are not UTF-8 (as :func:`os.fsdecode` gives them). Only taktuk's own
    variables are replaced (by execo, without a shell): ``$host``,
    ``$rank``, ``$position`` (or ``${host}``...), with the values of the
    sending node, the remote host (e.g. ``local_location="out/$host"``
    gives each host its own destination). Other ``$`` are characters like
    any other: no environment variable, no command substitution, no
    wildcard. Refused with ValueError at construction: an empty name, a
    name holding a NUL byte.

    As with ``cp -r``: a file or directory goes into ``local_location``
    if that is a directory, else becomes ``local_location``; a directory
    is merged into an existing one. Files are received in a private
    directory and moved in place once taktuk exited by itself (not those
    of transfers cut short by a kill).

    The remote hosts need ``base64`` (coreutils) and a writable home
    directory, where taktuk's engine makes short-lived symbolic links
    (``.execo-taktuk-*``, removed at the end).

    With no files (or no hosts) it is an empty action, like
    :class:`~execo.action.Put` and :class:`~execo.action.Get`: no
    process, taktuk not run, ended ok as soon as started.
    """

    #: Iterable of string of file paths. Substitions described in
    #: :func:`execo.substitutions.remote_substitute` will not be
    #: performed, but taktuk substitutions can be used: ``$host``,
    #: ``$rank``, ``$position`` (only those; any other character is
    #: literal).
    remote_files: List[str] = None  # type: ignore[assignment]  # class-level default (documented); every instance sets it
    #: The local directory were the files will be copied. Substitions
    #: described in :func:`execo.substitutions.remote_substitute` will
    #: not be performed, but taktuk substitutions can be used: ``$host``,
    #: ``$rank``, ``$position`` (only those; any other character is
    #: literal).
    local_location: str = None  # type: ignore[assignment]  # class-level default (documented); every instance sets it

    def __init__(
        self,
        hosts: HostsLike,
        remote_files: Union[str, Iterable[object]],
        local_location: str = ".",
        connection_params: Optional[Dict[str, Any]] = None,
        **kwargs: Any,
    ) -> None:
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
        self.remote_files = _file_names(remote_files, "TaktukGet remote_files")
        self.local_location = _file_name(local_location, "TaktukGet local_location")
        self._files = self.remote_files
        super(TaktukGet, self).__init__(None, hosts, connection_params=connection_params, **kwargs)

    _build_attrs = ("hosts", "remote_files", "local_location", "connection_params", "process_args")

    def _make_processes(self) -> List[TaktukProcess]:
        # (again at a reset after a change: checked as by the constructor)
        remote_files = _file_names(self.remote_files, "TaktukGet remote_files")
        local_location = _file_name(self.local_location, "TaktukGet local_location")
        self.remote_files = self._files = remote_files
        self.local_location = local_location
        if not self.remote_files:
            return []  # nothing to copy: an empty action, like Put and Get
        return [
            TaktukProcess(
                "taktuk get %s to %s" % (" ".join(self.remote_files), self.local_location), host, **self.process_args
            )
            for host in self.hosts
        ]

    def _default_name(self) -> str:
        return "%s %r from %i hosts" % (self.__class__.__name__, self.remote_files, len(self.hosts))

    def _args(self) -> List[str]:
        return [repr(self.hosts), repr(self.remote_files), repr(self.local_location)] + Action._args(self)

    def _source(self, index: int) -> str:
        """The source given to taktuk for remote file index: sh code run
        on each sending node that links an alias to the file."""
        return _remote_alias_code(
            self._token, index, "%s; %s" % (_sh_value("r", self.remote_files[index]), _link_or_refuse("$r"))
        )

    def _transfer_commands(self) -> List[str]:
        # received into the private directory, as DIR/<the sender's alias>
        assert self._local_dir is not None
        commands: List[str] = []
        for index in range(len(self.remote_files)):
            commands += [
                "synchronize",
                "broadcast",
                "get",
                "[",
                self._source(index),
                "]",
                "[",
                self._local_dir,
                "]",
                ";",
            ]
        return commands

    def _state(self, position: str, rank: str, peer_position: str, code: int) -> None:
        if code in (FILE_RECEPTION_STARTED, FILE_RECEPTION_TERMINATED, FILE_RECEPTION_FAILED) and position == "0":
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

    def _deliver(self, complete: List[TaktukProcess]) -> None:
        """Move what each host sent from the private directory to its
        destination (in host order: the last host wins, as with taktuk)."""
        assert self._local_dir is not None
        for p in complete:
            index = self.processes.index(p)
            position = str(index + 1)
            values = {"host": self._peers[index], "rank": self._ranks.get(p, "-1"), "position": position}
            location = _substitute(self.local_location, values)
            for i, remote in enumerate(self.remote_files):
                staged = os.path.join(self._local_dir, ".execo-taktuk-%s-%s-%d" % (self._token, position, i))
                if not os.path.lexists(staged):
                    continue  # its transfer failed (already counted)
                name = _basename(_substitute(remote, values))
                target = os.path.join(location, name) if name and os.path.isdir(location) else location
                try:
                    _move(staged, target)
                except OSError as e:
                    self._transfers[p][0] -= 1
                    self._transfers[p][1] += 1
                    p._on_data(
                        STDERR,
                        (
                            "cannot copy %s from %s to %s: %s\n" % (remote, p.host.address, target, e.strerror or e)
                        ).encode("utf-8", "surrogateescape"),
                    )


def _move(staged: str, target: str) -> None:
    """staged (received by taktuk) to target, as taktuk would have written
    it: a file replaces a file, a directory is merged into a directory."""
    if os.path.isdir(staged) and not os.path.islink(staged):
        if os.path.isdir(target):
            shutil.copytree(staged, target, symlinks=True, dirs_exist_ok=True)
            shutil.rmtree(staged)
            return
        if os.path.lexists(target):
            raise FileExistsError(17, "not a directory", target)
    elif os.path.isdir(target):
        raise IsADirectoryError(21, "is a directory", target)
    shutil.move(staged, target)
