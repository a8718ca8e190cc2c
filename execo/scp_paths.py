"""How file names reach scp: the operands of :class:`execo.action.Put`
and :class:`execo.action.Get` command lines.

File names are data (they come from listings, inventories, other
programs), so none of them may become an scp option, a remote host
specification, or shell code on the remote host. What scp does with an
operand, as measured with OpenSSH 9.2 in both of its protocols (SFTP, the
default since OpenSSH 9.0, and the legacy scp/rcp protocol selected by
``-O``):

- **local operands**: an operand starting with ``-`` is an option (both
  modes honour ``--``, but an operand never needs it once it does not
  start with ``-``); an operand with a ``:`` before any ``/`` is a remote
  ``host:path``. :func:`scp_local_path` turns every relative path into
  ``./path``: neither an option nor a remote path, in any scp.
- **remote file names** (``host:PATH`` of a Get): in SFTP mode scp expands
  PATH as a glob pattern on the remote host (``*``, ``?``, ``[...]``, and a
  backslash makes the next character literal); in legacy mode the remote
  login shell reads PATH (``scp -f PATH``): quotes, ``$(...)``,
  backticks, ``;``... run code there. :func:`scp_remote_pattern` writes
  every character except the glob characters and a leading ``~`` with a
  backslash before it: that form means the same file in both modes (the
  shell and scp's glob both drop the backslash), and no character is
  shell syntax any more. A newline cannot be carried by the legacy
  protocol at all (its own name check then fails the copy, nothing runs).
- **remote directory of a Put** (``host:DIR``): in SFTP mode DIR is
  literal (no glob, no backslash escape) except a leading ``~`` or
  ``~user``; in legacy mode the remote shell reads it. There is no common
  form for a name with spaces or shell characters, so
  :func:`scp_remote_target` needs to know the protocol:
  :func:`scp_protocol` reads ``-O``/``-s`` in the scp options, and else
  asks the local scp once which protocol it uses by default
  (:func:`scp_default_protocol`).

A NUL byte cannot be part of a command line argument (it would cut it):
every function here refuses it (ValueError).
"""

from __future__ import annotations

import functools
import os
import re
import shlex
import shutil
import subprocess
import tempfile
from typing import Optional, Sequence, Tuple

__all__ = [
    "SFTP",
    "LEGACY",
    "check_no_nul",
    "glob_escape",
    "scp_local_path",
    "scp_remote_pattern",
    "scp_remote_target",
    "needs_protocol",
    "explicit_protocol",
    "scp_protocol",
    "scp_default_protocol",
]

SFTP = "sftp"
"""scp's SFTP protocol (OpenSSH >= 9.0 default, ``-s``)."""
LEGACY = "legacy"
"""scp's original scp/rcp protocol (``-O``, the default before OpenSSH 9.0):
remote paths are read by the remote login shell."""

# characters which mean themselves to a POSIX shell, to csh, and to scp's
# SFTP glob; non-ASCII characters too (no shell or glob gives them a meaning)
_PLAIN = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_./-+,:@%=")
_GLOB = frozenset("*?[]")
# "~" or "~user" at the start, followed by "/" or the end: the home directory
_TILDE_RE = re.compile(r"~[A-Za-z0-9._-]*(?=/|\Z)")
# scp options taking an argument (OpenSSH 9.x getopt string
# "12346ABCTdfOpqRrstvD:F:J:M:P:S:c:i:l:o:X:")
_SCP_OPTIONS_WITH_ARGUMENT = frozenset("DFJMPSciloX")


def check_no_nul(value: str, what: str) -> str:
    """``value``, or ValueError if it holds a NUL byte (a command line
    argument cannot: it would be cut there)."""
    if "\0" in value:
        raise ValueError("%s %r holds a NUL byte, which no command line can carry" % (what, value))
    return value


def scp_local_path(path: str) -> str:
    """A local path as an scp operand: absolute paths and paths starting
    with ``./`` or ``../`` as they are, any other path with ``./`` before
    it, so that scp can neither read it as an option (``-oProxyCommand=``)
    nor as a remote path (``user@host:notes.txt``, ``scp://...``)."""
    path = check_no_nul(os.fspath(path), "local path")
    if path.startswith(("/", "./", "../")) or path in (".", ".."):
        return path
    return "./" + path


def glob_escape(name: str) -> str:
    """``name`` with a backslash before each of ``\\ * ? [ ]`` and
    before a leading ``~``: the remote file of that exact name for
    :class:`execo.action.Get` (whose remote names are glob patterns).
    Use it on names read from a listing or another program."""
    name = check_no_nul(os.fspath(name), "remote path")
    escaped = re.sub(r"([\\*?\[\]])", r"\\\1", name)
    if escaped.startswith("~"):
        escaped = "\\" + escaped
    return escaped


def _tilde_prefix(path: str) -> Tuple[str, str]:
    m = _TILDE_RE.match(path)
    if m is None:
        return "", path
    return m.group(), path[m.end() :]


def scp_remote_pattern(path: str, protocol: Optional[str] = None) -> str:
    """A remote file name (or glob pattern) of a Get, written so that
    scp's SFTP glob and the legacy protocol's remote shell read the same
    name, and no shell code.

    Kept as they are: letters, digits, ``_ . / - + , : @ % =``, non-ASCII
    characters, the glob characters ``* ? [ ]`` (and ``!`` just after
    ``[``), a leading ``~`` or ``~user``, and a backslash with the
    character it escapes (``\\*`` is a literal ``*``). Every other
    character gets a backslash before it. ``protocol`` :data:`LEGACY`
    refuses a newline (ValueError): the legacy protocol cannot transfer
    such a name."""
    path = check_no_nul(os.fspath(path), "remote path")
    if protocol == LEGACY and "\n" in path:
        raise ValueError(
            "remote path %r holds a newline: scp's legacy protocol (-O) cannot"
            " transfer such a name (its SFTP protocol can)" % (path,)
        )
    prefix, rest = _tilde_prefix(path)
    out = [prefix]
    i = 0
    previous = ""
    while i < len(rest):
        c = rest[i]
        if c == "\\":
            if i + 1 < len(rest):
                out.append("\\" + rest[i + 1])
                i += 2
            else:
                out.append("\\\\")
                i += 1
            previous = ""
            continue
        if c in _PLAIN or c in _GLOB or c >= "\x80" or (c == "!" and previous == "["):
            out.append(c)
        else:
            out.append("\\" + c)
        previous = c
        i += 1
    return "".join(out)


def scp_remote_target(path: str, protocol: Optional[str]) -> str:
    """The remote directory of a Put, written for scp's ``protocol``
    (:data:`SFTP` or :data:`LEGACY`; None when unknown) so that it is
    taken literally: no glob, no backslash escape, no shell code; only a
    leading ``~`` or ``~user`` is the home directory.

    SFTP: as it is (scp reads it literally). Legacy: the tilde prefix,
    then the rest quoted for the remote shell. Unknown: as it is when it
    has only characters which mean themselves in both cases (else the
    caller must find out the protocol: see :func:`scp_protocol`)."""
    path = check_no_nul(os.fspath(path), "remote location")
    if protocol == SFTP:
        return path
    prefix, rest = _tilde_prefix(path)
    if all(c in _PLAIN or c >= "\x80" for c in rest):
        return path
    if protocol is None:
        raise ValueError("the scp protocol is needed to write %r (SFTP or legacy)" % (path,))
    if prefix and rest.startswith("/"):
        # "~/" + quoted rest: the "/" ending a tilde prefix must be unquoted
        return prefix + "/" + (shlex.quote(rest[1:]) if rest[1:] else "")
    return prefix + shlex.quote(rest)


def needs_protocol(path: str) -> bool:
    """Whether :func:`scp_remote_target` needs to know the protocol for
    ``path``."""
    rest = _tilde_prefix(path)[1]
    return not all(c in _PLAIN or c >= "\x80" for c in rest)


def explicit_protocol(scp_argv: Sequence[str]) -> Optional[str]:
    """The protocol selected by the options of an scp argv (the command
    first): the last of ``-O`` (:data:`LEGACY`) and ``-s``
    (:data:`SFTP`), or None when neither is given. Options are read as
    OpenSSH's scp reads them, up to the first operand or ``--``."""
    protocol = None
    args = list(scp_argv[1:])
    i = 0
    while i < len(args):
        arg = args[i]
        i += 1
        if arg == "--" or not arg.startswith("-") or arg == "-":
            break
        for k, flag in enumerate(arg[1:], 1):
            if flag in _SCP_OPTIONS_WITH_ARGUMENT:
                if k == len(arg) - 1:
                    i += 1  # the argument is the next word
                break
            if flag == "O":
                protocol = LEGACY
            elif flag == "s":
                protocol = SFTP
    return protocol


_PROBE_SSH = """#!/bin/sh
printf '%s\\n' "$@" > "$0.args"
exit 1
"""


@functools.lru_cache(maxsize=16)
def scp_default_protocol(scp_command: Tuple[str, ...]) -> str:
    """The protocol the local ``scp_command`` (its words, without
    options) uses by default: :data:`SFTP` or :data:`LEGACY`.

    Found once per command (cached) by running it with a stand-in for
    ssh (``-S``, a script which records its arguments): scp asks for the
    ``sftp`` subsystem in SFTP mode, and runs ``scp -t`` in legacy mode.
    No network is involved. When this cannot be told (not OpenSSH's scp,
    scp missing), :data:`LEGACY` is returned: its quoting never lets a
    name run code, whatever the protocol really is."""
    if not scp_command or shutil.which(scp_command[0]) is None:
        return LEGACY
    tmp = tempfile.mkdtemp(prefix="execo-scp-probe-")
    try:
        fake_ssh = os.path.join(tmp, "ssh")
        with open(fake_ssh, "w") as f:
            f.write(_PROBE_SSH)
        os.chmod(fake_ssh, 0o700)
        source = os.path.join(tmp, "f")
        open(source, "w").close()
        try:
            subprocess.run(
                list(scp_command) + ["-S", fake_ssh, source, "execo-scp-probe:x"],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                timeout=20,
                check=False,
            )
            with open(fake_ssh + ".args") as f:
                args = f.read().splitlines()
        except (OSError, subprocess.SubprocessError):
            return LEGACY
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if args and args[-1] == "sftp" and "-s" in args:
        return SFTP
    return LEGACY


def scp_protocol(scp_argv: Sequence[str], scp_command: Sequence[str]) -> str:
    """The protocol an scp argv (command and options) will use:
    :func:`explicit_protocol`, else :func:`scp_default_protocol` of
    ``scp_command`` (the command's words)."""
    return explicit_protocol(scp_argv) or scp_default_protocol(tuple(scp_command))
