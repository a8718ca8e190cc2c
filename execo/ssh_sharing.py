"""Opt-in sharing of ssh connections (OpenSSH ControlMaster).

With ``connection_params['ssh_connection_sharing']`` true, the ssh and scp
command lines built by :mod:`execo.ssh_utils` get::

    -o ControlMaster=auto -o ControlPath=<private dir>/%C -o ControlPersist=<s>

The first connection to a (user, host, port) becomes a master which stays
in the background; the next ssh or scp to the same destination runs as a
session of that master, skipping TCP connect, key exchange and
authentication. ``True`` keeps an idle master for 300 s; a number sets
that idle time in seconds. Port forwarders never use a shared master
(a forwarding set up through a master would outlive the
:class:`~execo.ssh_process.PortForwarder`).

The control sockets live in a private directory (mode 0700, created on
first use under ``$XDG_RUNTIME_DIR`` or the temporary directory), one per
Python process. At interpreter exit, the process that created it asks
every master to exit (``ssh -O exit``) and removes the directory; a
forked child never does (its parent still uses the masters).
"""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import tempfile
import threading
from typing import Iterable, List, Optional, Set, Tuple, Union

__all__ = ["sharing_options", "control_dir", "close_shared_connections"]

DEFAULT_PERSIST = 300
"""Idle seconds a shared master stays when sharing is just ``True``."""

_lock = threading.Lock()
_dir: Optional[str] = None
_dir_pid: Optional[int] = None
_ssh_commands: Set[Tuple[str, ...]] = set()  # ssh commands that may have started masters


def control_dir() -> str:
    """The private directory of the control sockets of this process
    (created on first call)."""
    global _dir, _dir_pid
    with _lock:
        if _dir is None or _dir_pid != os.getpid():
            base = os.environ.get("XDG_RUNTIME_DIR")
            if not base or not os.access(base, os.W_OK):
                base = None
            # short prefix: a unix socket path is limited to 107 bytes
            _dir = tempfile.mkdtemp(prefix="execo-ssh-", dir=base)
            os.chmod(_dir, 0o700)
            if _dir_pid is None:
                atexit.register(close_shared_connections)
            _dir_pid = os.getpid()
        return _dir


def persist_seconds(value: Union[bool, float, None]) -> Optional[int]:
    """The ControlPersist time of a ``ssh_connection_sharing`` value, or
    None when sharing is off. Raises ValueError for a bad value."""
    if value is None or value is False:
        return None
    if value is True:
        return DEFAULT_PERSIST
    if isinstance(value, (int, float)) and value > 0:
        return max(1, int(round(value)))
    raise ValueError("ssh_connection_sharing must be False, True or a number of seconds > 0, not %r" % (value,))


def sharing_options(value: Union[bool, float, None], ssh_command: Optional[Iterable[str]] = None) -> Tuple[str, ...]:
    """The ssh options (a tuple) for a ``ssh_connection_sharing`` value:
    empty when sharing is off."""
    seconds = persist_seconds(value)
    if seconds is None:
        return ()
    if ssh_command is not None:
        with _lock:
            _ssh_commands.add(tuple(ssh_command))
    return (
        "-o",
        "ControlMaster=auto",
        "-o",
        "ControlPath=%s" % (os.path.join(control_dir(), "%C"),),
        "-o",
        "ControlPersist=%d" % (seconds,),
    )


def close_shared_connections(timeout: float = 5) -> None:
    """Ask every master of this process to exit and remove the control
    directory (run at interpreter exit; may also be called explicitly:
    later connections start new masters)."""
    global _dir
    with _lock:
        directory, owner = _dir, _dir_pid
        commands = list(_ssh_commands) or [("ssh",)]
        if directory is None or owner != os.getpid():
            return
        _dir = None
    try:
        sockets = [os.path.join(directory, name) for name in os.listdir(directory)]
    except OSError:
        sockets = []
    procs: List[subprocess.Popen[bytes]] = []
    for path in sockets:
        # "-O exit" only talks to the master through its socket; the host
        # argument is required by ssh's command line but not used
        argv = list(commands[0]) + ["-o", "ControlPath=%s" % (path,), "-O", "exit", "execo-shared"]
        try:
            procs.append(
                subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            )
        except OSError:
            break
    for p in procs:
        try:
            p.wait(timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    shutil.rmtree(directory, ignore_errors=True)
