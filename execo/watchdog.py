"""The watchdog: nothing execo started survives the script.

At interpreter exit, :mod:`execo.conductor` sends SIGTERM to the live
children (``configuration['kill_childs_at_end']``), but a script killed by
SIGKILL (the OOM killer, a batch scheduler at walltime) runs no exit code,
nor, usually, one killed by SIGTERM (``timeout 5 python script.py``). Its
children would be re-parented to init and go on running: local commands,
``ssh`` clients and the remote commands behind them, ``taktuk`` trees.

So each execo-using process gets one small watchdog process, started at
its first process spawn (``import execo`` starts none): this file, run as
a script by the same interpreter with ``-I -S`` (isolated, no site: it
imports nothing of execo nor of the user's environment, starts in about
30 ms and costs about 10 MB RSS, 4 MB of it private). It

- runs in its own session (``setsid``), cwd ``/``, stdout and stderr on
  ``/dev/null``, no other inherited fd: Ctrl-C or a signal to the script's
  process group does not reach it, and it holds none of the script's
  terminals, pipes or mount points;
- ignores SIGINT, SIGHUP, SIGTERM, SIGPIPE, SIGQUIT and the job control
  signals (only SIGKILL stops it); ``ps`` shows it as
  ``python -I -S .../execo/watchdog.py PARENT_PID GRACE``;
- reads its stdin, the read end of a pipe whose write end only the script
  holds (close-on-exec: no child inherits it; a child forked with
  :func:`os.fork` closes its copy and gets its own watchdog when it
  spawns). The reactor writes there a record per child spawned (its
  process group, or its pid when it has no group of its own) and per
  child reaped (see :mod:`execo._reactor` for the format). The watchdog
  reads them in batches, every 50 ms at most, so that it costs the script
  nothing visible: no wake-up per spawn, one 4-byte ``write`` per spawn
  in the script (under 1 us; 2000 spawns show no difference beyond the
  machine's noise);
- on end of file, that is when the script is gone, whatever the signal
  (SIGKILL included), or after a normal exit: sends SIGTERM (and SIGCONT,
  so a stopped group gets it too) to every process group it was told of
  and not told reaped, waits until they are gone (zombies count as gone:
  a pid 1 that does not reap orphans is common in containers), at most
  ``configuration['kill_timeout']`` seconds (as set when the watchdog
  starts; ``None``: no SIGKILL), sends SIGKILL to what remains, and exits.
  With nothing to kill it exits at once: after a normal exit, where the
  children got SIGTERM from the exit handler and were mostly reaped
  already, no process of execo remains.

Some children are better stopped by a word than by a signal: a child
spawned with a *farewell* (bytes; the process's private
``_watchdog_farewell``) has the watchdog hold a write handle on its stdin
pipe (Linux: reopened through ``/proc/PID/fd/0``, checked to be the same
pipe by its inode) until the script closes that stdin or the child is
reaped; when the script dies, the watchdog writes the farewell and closes
the handle, waits ``kill_timeout`` for the child's group to go, then
SIGTERM, ``kill_timeout`` again, SIGKILL. ``taktuk`` needs it: killed, its
remote engines see their connection close and exit *without* signalling
their commands (taktuk's ``remove_source``: "useless to do anything
cleanly now as I lost connection"), each in its own process group with no
terminal, so they would run on; its farewell is what
:meth:`execo.action.TaktukRemote.kill` sends, ``broadcast kill`` then
``quit``. The exit handler leaves such children to the watchdog.

What this means for remote processes: an ``ssh`` client that gets SIGTERM
(or SIGKILL) closes its connection; with a pty (``-tt``, in execo's
default ``ssh_options``), sshd then hangs up the remote terminal and the
remote command gets SIGHUP. Without a pty, a remote command that neither
reads its stdin nor writes goes on running (an ssh limitation). Shared
ssh masters (``ssh_connection_sharing``) are not execo's children: after
a SIGKILL they stay until their ``ControlPersist`` idle time runs out
(their sessions, and so the remote commands, end with the clients).

With ``configuration['kill_childs_at_end']`` false (read at import, as the
spec says) no watchdog is started: children are left alone when the
script ends, however it ends. A child that leaves its process group
(daemonizes) escapes, as it does the exit-time SIGTERM; so does, after a
SIGKILL, a child spawned in the last microseconds before it (between its
fork and the write of its record; or while the GIL is held elsewhere).

Why a process and not ``PR_SET_PDEATHSIG``: children are spawned by
``clone3`` or ``posix_spawn`` (nothing runs between fork and exec), and
the death signal is tied to the *thread* that forked, not to the
process: user threads call ``start()``, and a child would die with the
thread that started it.
Why Python and not a small C program: no second compiled artifact to
build, ship and find (wheels, sdist, in-place builds, noexec mounts), the
interpreter that runs the script is known to work, and the cost is paid
once per script, off the spawn path. A frozen program (``sys.frozen``)
gets no watchdog: its ``sys.executable`` is not a Python interpreter.
"""

# This file must run with the standard library only (python -I -S FILE):
# no import of execo here, nor of typing (its import costs more than the
# rest of the start: annotations are not evaluated).

from __future__ import annotations

import os
import signal
import stat
import sys
import time

ADD_GROUP = 0
"""Record op: kill the process group ``pid`` at the end."""
ADD_PID = 1
"""Record op: kill the process ``pid`` at the end (it has no group of its own)."""
REMOVE = 2
"""Record op: ``pid`` was reaped, forget it."""
RESET = 3
"""Record op: forget everything."""
FAREWELL = 4
"""Record op: before any signal, write bytes to the stdin of ``pid``; three
ints follow (the length of the bytes, the low and high halves of the inode
of the stdin pipe) then the bytes, padded to a whole int."""
RELEASE = 5
"""Record op: the script closed the stdin of ``pid``: no farewell."""
OP_BITS = 3
"""A record's head is ``pid << OP_BITS | op``."""
INT_SIZE = 4
"""Bytes per int of a record: a native C int (``memoryview.cast('i')``)."""
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Dict, Iterable, List, Optional, Tuple

READ_PERIOD = 0.05
"""Seconds between reads of the pipe: records are read in batches (not
while a farewell handle is held: the script's closing of that stdin must
reach the child without delay)."""


def command(parent_pid: int, grace: Optional[float]) -> List[bytes]:
    """The argv (bytes) that runs the watchdog of ``parent_pid`` with the
    given grace (seconds between SIGTERM and SIGKILL, None: no SIGKILL)."""
    return [
        os.fsencode(a)
        for a in (
            sys.executable,
            "-I",
            "-S",
            os.path.abspath(__file__),
            str(parent_pid),
            "none" if grace is None else repr(float(grace)),
        )
    ]


def _detach() -> None:
    for name in ("SIGINT", "SIGHUP", "SIGTERM", "SIGPIPE", "SIGQUIT", "SIGTSTP", "SIGTTIN", "SIGTTOU"):
        sig = getattr(signal, name, None)
        if sig is not None:
            try:
                signal.signal(sig, signal.SIG_IGN)
            except (OSError, ValueError):
                pass
    try:
        os.chdir("/")
    except OSError:
        pass
    fds: Iterable[int]
    try:
        fds = [int(fd) for fd in os.listdir("/proc/self/fd")]
    except OSError:
        fds = range(3, 1024)
    for fd in fds:
        if fd > 2:
            try:
                os.close(fd)
            except OSError:
                pass


def _open_stdin_of(pid: int, ino: int) -> Optional[int]:
    """A write handle on the stdin pipe of pid (Linux: reopened through
    /proc), or None. The inode check makes sure that it is still the pipe
    execo gave it: nothing else is ever written to."""
    try:
        fd = os.open("/proc/%d/fd/0" % pid, os.O_WRONLY | os.O_NONBLOCK | os.O_NOCTTY | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if stat.S_ISFIFO(st.st_mode) and st.st_ino == ino:
            return fd
    except OSError:
        pass
    os.close(fd)
    return None


class Targets(object):
    """What the watchdog knows: the children to kill, and the farewells."""

    def __init__(self) -> None:
        self.kill: Dict[int, bool] = {}  # pid -> is_group
        self.farewell: Dict[int, Tuple[int, bytes]] = {}  # pid -> (fd, bytes)

    def drop_farewell(self, pid: int) -> None:
        fw = self.farewell.pop(pid, None)
        if fw is not None:
            os.close(fw[0])

    def feed(self, data: bytes) -> int:
        """Apply the complete records at the start of data; return how
        many bytes they took."""
        ints = memoryview(data)[: len(data) - len(data) % INT_SIZE].cast("i")
        i, n = 0, len(ints)
        while i < n:
            rec = ints[i]
            pid, op = rec >> OP_BITS, rec & ((1 << OP_BITS) - 1)
            if op == FAREWELL:
                if i + 4 > n:
                    break
                size = ints[i + 1]
                ino = (ints[i + 2] & 0xFFFFFFFF) | ((ints[i + 3] & 0xFFFFFFFF) << 32)
                words = (size + INT_SIZE - 1) // INT_SIZE
                if i + 4 + words > n:
                    break
                start = (i + 4) * INT_SIZE
                self.drop_farewell(pid)
                fd = _open_stdin_of(pid, ino) if pid > 1 else None
                if fd is not None:
                    self.farewell[pid] = (fd, bytes(data[start : start + size]))
                i += 4 + words
                continue
            if op == REMOVE:
                self.kill.pop(pid, None)
                self.drop_farewell(pid)
            elif op == RELEASE:
                self.drop_farewell(pid)
            elif op == RESET:
                self.kill.clear()
                for p in list(self.farewell):
                    self.drop_farewell(p)
            elif op in (ADD_GROUP, ADD_PID) and pid > 1:
                self.kill[pid] = op == ADD_GROUP
            i += 1
        return i * INT_SIZE


def read_targets(fd: int = 0) -> Targets:
    """Read records until end of file; return the :class:`Targets`."""
    targets = Targets()
    rest = b""
    while True:
        try:
            data = os.read(fd, 1 << 16)
        except OSError:
            break
        if not data:
            break
        if rest:
            data = rest + data
        rest = data[targets.feed(data) :]
        if not targets.farewell:
            time.sleep(READ_PERIOD)
    return targets


def _signal(targets: Dict[int, bool], sig: int) -> None:
    for pid, group in targets.items():
        try:
            if group:
                os.killpg(pid, sig)
            else:
                os.kill(pid, sig)
        except OSError:
            pass


def _alive(targets: Dict[int, bool]) -> Dict[int, bool]:
    """The targets that still have a process that is not a zombie."""
    groups: set[int] = set()
    pids: set[int] = set()
    entries: Optional[List[str]]
    try:
        entries = os.listdir("/proc")
    except OSError:
        entries = None
    if entries is None or "self" not in entries:
        res: Dict[int, bool] = {}
        for pid, group in targets.items():
            try:
                os.killpg(pid, 0) if group else os.kill(pid, 0)
            except ProcessLookupError:
                continue
            except OSError:
                pass
            res[pid] = group
        return res
    for d in entries:
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d, "rb") as f:
                st = f.read()
        except OSError:
            continue
        fields = st[st.rindex(b")") + 2 :].split()
        if fields[0] in (b"Z", b"X", b"x"):
            continue
        pids.add(int(d))
        groups.add(int(fields[2]))
    return {pid: group for pid, group in targets.items() if (pid in groups if group else pid in pids)}


def _wait_gone(targets: Dict[int, bool], deadline: float) -> Dict[int, bool]:
    """Poll until no target is alive or the deadline; return those alive."""
    delay = 0.01
    while True:
        targets = _alive(targets)
        left = deadline - time.monotonic()
        if not targets or left <= 0:
            return targets
        time.sleep(min(delay, left))
        delay = min(delay * 2, 0.25)


def terminate(targets: Targets, grace: Optional[float]) -> None:
    """The end: the children with a farewell get it (their stdin is then
    closed), the others SIGTERM (and SIGCONT, for a stopped group); after
    ``grace`` seconds those still alive get SIGTERM if they had a
    farewell, SIGKILL otherwise; after another ``grace``, SIGKILL. Returns
    as soon as none is left. ``grace`` None: SIGTERM only, no waiting."""
    said: Dict[int, bool] = {}
    for pid, (fd, data) in targets.farewell.items():
        try:
            if os.write(fd, data) == len(data) and pid in targets.kill:
                said[pid] = targets.kill[pid]
        except OSError:
            pass
        os.close(fd)
    targets.farewell.clear()
    others = {pid: g for pid, g in targets.kill.items() if pid not in said}
    _signal(others, signal.SIGTERM)
    _signal(others, signal.SIGCONT)
    if grace is None:
        _signal(said, signal.SIGTERM)
        return
    left = _wait_gone(dict(targets.kill), time.monotonic() + grace)
    said = {pid: g for pid, g in left.items() if pid in said}
    others = {pid: g for pid, g in left.items() if pid not in said}
    _signal(others, signal.SIGKILL)
    if not said:
        return
    _signal(said, signal.SIGTERM)
    _signal(said, signal.SIGCONT)
    _signal(_wait_gone(said, time.monotonic() + grace), signal.SIGKILL)


def main(argv: List[str]) -> None:
    """``argv``: parent pid (informative: ps shows whose watchdog this is),
    grace in seconds or ``none``."""
    grace = None if argv[1] == "none" else max(0.0, float(argv[1]))
    _detach()
    terminate(read_targets(0), grace)


if __name__ == "__main__":
    main(sys.argv[1:])
