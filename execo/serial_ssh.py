"""Serial ports of remote hosts, through ssh: :class:`SerialSsh` (one
host) and :class:`RemoteSerial` (several hosts in parallel).

The spec names them :class:`execo.process.SerialSsh` and
:class:`execo.action.RemoteSerial`; they are re-exported there.

The serial port is the process's standard output (what the device sends)
and standard input (what is written to the process goes to the device),
byte for byte: :meth:`execo.process.ProcessBase.expect` on the device's
prompts, :meth:`execo.process.Process.write` of commands.

The remote helper
=================

Nothing is installed on the remote hosts: the ssh command line carries a
small POSIX ``sh`` script (``exec sh -c '...' execo-serial DEVICE SPEED
MODE PYTHON CODE``) which picks one of two ways to drive the port:

1. **python3 with pyserial** (when ``python3 -c 'import serial;
   serial.Serial'`` works on the host): the script execs python3 on a
   helper shipped base64-encoded on the same command line. pyserial opens
   the device (raw, the given speed, 8 data bits, no parity, 1 stop bit,
   no software or hardware flow control, CLOCAL: no wait for carrier; as
   pyserial does, input already queued on the device is discarded at
   open), then a select() loop copies device -> stdout and stdin ->
   device with non-blocking fds, 64 KiB reads, no buffering beyond what
   is in flight. It exits (status 0) when stdin reaches end of file,
   after writing what it read from stdin to the device; with status 1
   and a message on stderr when the device reaches end of file or fails;
   with status 2 and ``execo-serial: cannot open DEVICE: REASON`` when the
   device cannot be opened (missing, permission, busy...).

2. **stty + cat** otherwise: ``stty -F DEVICE SPEED raw -echo -iexten
   cs8 -parenb -cstopb -crtscts -ixon -ixoff clocal`` (GNU coreutils or
   busybox stty: Linux hosts), then, in a subshell (which is not the
   leader of the ssh session, so that the device never becomes the
   session's controlling terminal), the device opened once on fd 3,
   ``cat <&3`` (device -> stdout) in the background and ``cat >&3``
   (stdin -> device) in the foreground (GNU cat writes each read at
   once: no buffering). When stdin ends, the script signals its own
   process group (the ssh session's: sshd makes each session a new one)
   to stop the reader, and exits 0; when the device ends or fails, the
   reader does the same and the script exits 1 with a message on stderr.
   A missing or unreadable device gives the same ``execo-serial: cannot
   open DEVICE: REASON`` message and status 2. Only the speeds known to
   stty are possible, and the device is opened twice (by stty, then by
   the shell), where pyserial opens it once.

ssh itself is run with ``-e none``: with a remote terminal (``-tt``), ssh
would otherwise take ``~.`` (disconnect), ``~B`` (send a break), ``~^Z``
(suspend)... after a newline in the data written to the port.

The terminal of the ssh session: with ``-tt`` (in execo's default
``ssh_options``) the remote side of the session is a pseudo-terminal,
whose line discipline would echo input, turn CR into NL, NL into CR NL on
output, and interpret control characters (^C, ^D, ^S, ^Q...). Both
helpers put that terminal in raw mode first thing (python:
``tty.setraw`` on fds 0/1 when they are ttys; shell: ``stty raw -echo
-iexten``), before opening the device: once the device's first byte has
been seen on stdout, both directions are byte-exact. Bytes written
*before* that (the helper needs a few tens of milliseconds to start) may
still go through the cooked terminal (echoed, CR turned into NL, ^C
or ^Z acting as signals): wait
for some output from the device (``expect()``) before sending binary
data, or use connection params without ``-tt`` (then there is no remote
terminal at all, and stderr stays separate from stdout).

How the remote helper ends:

- :meth:`~execo.process.Process.kill` of the :class:`SerialSsh` (or of a
  :class:`RemoteSerial`) kills the local ssh; the ssh session then dies
  on the host: with ``-tt`` its terminal hangs up (SIGHUP to the helper),
  without ``-tt`` the helper's stdin reaches end of file. Either way the
  helper exits and closes the device.
- :meth:`~execo.process.Process.close_stdin`: without ``-tt`` the helper
  sees end of file and the process ends (exit code 0). With ``-tt``, ssh
  sends no end of file through a remote terminal (the usual ssh
  behaviour): kill the process to end it.

Which helper, and which python: :attr:`SerialSsh.helper` (``'auto'``,
``'python'`` to require python3 with pyserial, failing with status 127
otherwise, or ``'stty'`` to force the stty + cat fallback) and
:attr:`SerialSsh.remote_python` (the command starting python on the
hosts, default ``'python3'``; split on blanks by the remote shell, so
``'env PYTHONPATH=/opt/pylib python3'`` works) are class attributes,
read when a :class:`SerialSsh` is created (a :class:`RemoteSerial`
creates its processes when it is created).
"""

from __future__ import annotations

import base64
import os
import shlex
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Tuple, Union

from .ssh_process import SshProcess

if TYPE_CHECKING:
    from .host import Host

__all__ = ["SerialSsh"]

#: the helper run by python3 on the remote host (shipped base64-encoded,
#: argv: DEVICE SPEED). Kept compatible with old python3 versions.
_PYTHON_HELPER = r'''
import fcntl, os, select, sys
def _say(msg):
    try:
        os.write(2, ("execo-serial: %s\n" % (msg,)).encode("utf-8", "replace"))
    except OSError:
        pass
def _nonblock(fd):
    fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) | os.O_NONBLOCK)
def _main():
    dev, speed = sys.argv[1], int(sys.argv[2])
    try:
        import termios, tty
        ttys = []
        for fd in (0, 1):
            if os.isatty(fd):
                st = os.fstat(fd)
                if (st.st_rdev, st.st_ino) not in ttys:
                    ttys.append((st.st_rdev, st.st_ino))
                    tty.setraw(fd, termios.TCSANOW)
    except Exception as e:
        _say("cannot set the session terminal raw: %s" % (e,))
    import serial
    try:
        port = serial.Serial(dev, speed, bytesize=serial.EIGHTBITS, parity=serial.PARITY_NONE,
                             stopbits=serial.STOPBITS_ONE, xonxoff=False, rtscts=False,
                             dsrdtr=False)
    except Exception as e:
        reason = os.strerror(e.errno) if getattr(e, "errno", None) else str(e)
        _say("cannot open %s: %s" % (dev, reason))
        return 2
    dfd = port.fileno()
    for fd in (0, 1, dfd):
        _nonblock(fd)
    to_dev = b""
    to_out = b""
    stdin_open = True
    high = 1 << 20
    while True:
        if not stdin_open and not to_dev and not to_out:
            return 0
        rl = []
        wl = []
        if stdin_open and len(to_dev) < high:
            rl.append(0)
        if stdin_open and len(to_out) < high:
            rl.append(dfd)
        if to_dev:
            wl.append(dfd)
        if to_out:
            wl.append(1)
        try:
            r, w, _ = select.select(rl, wl, [])
        except InterruptedError:
            continue
        if 0 in r:
            try:
                data = os.read(0, 65536)
            except (BlockingIOError, InterruptedError):
                data = None
            except OSError:
                return 0
            if data == b"":
                stdin_open = False
            elif data:
                to_dev += data
        if dfd in r:
            try:
                data = os.read(dfd, 65536)
            except (BlockingIOError, InterruptedError):
                data = None
            except OSError as e:
                _say("%s: read error: %s" % (dev, os.strerror(e.errno)))
                return 1
            if data == b"":
                _say("%s: end of file" % (dev,))
                return 1
            elif data:
                to_out += data
        if dfd in w and to_dev:
            try:
                n = os.write(dfd, to_dev)
                to_dev = to_dev[n:]
            except (BlockingIOError, InterruptedError):
                pass
            except OSError as e:
                _say("%s: write error: %s" % (dev, os.strerror(e.errno)))
                return 1
        if 1 in w and to_out:
            try:
                n = os.write(1, to_out)
                to_out = to_out[n:]
            except (BlockingIOError, InterruptedError):
                pass
            except OSError:
                return 0
try:
    sys.exit(_main())
except KeyboardInterrupt:
    sys.exit(130)
'''

#: the script run by ``sh -c`` on the remote host; argv: DEVICE SPEED
#: MODE PYTHON CODE (see the module docstring)
_SH_HELPER = r'''d=$1; s=$2; m=$3; py=$4
if [ "$m" != stty ] && $py -c 'import serial; serial.Serial' >/dev/null 2>&1; then
  exec $py -c "import base64; exec(base64.b64decode('$5'))" "$d" "$s"
fi
if [ "$m" = python ]; then
  echo "execo-serial: $py with pyserial not found on $(hostname)" >&2; exit 127
fi
if [ -t 0 ]; then stty raw -echo -iexten; fi
fail() { echo "execo-serial: cannot open $d: $1" >&2; exit 2; }
[ -e "$d" ] || fail "No such file or directory"
{ [ -r "$d" ] && [ -w "$d" ]; } || fail "Permission denied"
stty -F "$d" "$s" raw -echo -iexten cs8 -parenb -cstopb -crtscts -ixon -ixoff clocal || fail "stty failed (speed $s)"
trap : TERM
(
  exec 3<>"$d" 4<&0 || exit 2
  exec 5>&2 2>/dev/null
  trap 'exit 1' TERM
  { cat <&3 2>&5; echo "execo-serial: $d: end of file or read error" >&5; kill -TERM 0; } &
  cat <&4 >&3
  trap 'exit 0' TERM
  kill -TERM 0
)
exit $?
'''

_HELPER_MODES = ("auto", "python", "stty")


def serial_helper_command(
    device: Union[str, os.PathLike[str]], speed: Union[int, str], helper: str = "auto", remote_python: str = "python3"
) -> str:
    """The remote command (a str for the remote login shell) opening
    ``device`` at ``speed`` on a host: see the module docstring.

    :param helper: ``'auto'`` (python3 with pyserial when present, else
      stty + cat), ``'python'`` or ``'stty'``
    :param remote_python: the command starting python on the host
    """
    if helper not in _HELPER_MODES:
        raise ValueError("helper must be one of %s, not %r" % (", ".join(_HELPER_MODES), helper))
    speed = _check_speed(speed)
    code = base64.b64encode(_PYTHON_HELPER.encode("utf-8")).decode("ascii")
    return " ".join(
        [
            "exec",
            "sh",
            "-c",
            shlex.quote(_SH_HELPER),
            "execo-serial",
            shlex.quote(str(device)),
            str(speed),
            helper,
            shlex.quote(remote_python),
            code,
        ]
    )


def _check_speed(speed: Union[int, str]) -> int:
    try:
        value = int(speed)
    except (TypeError, ValueError):
        raise ValueError("serial speed must be a positive integer, not %r" % (speed,)) from None
    if value <= 0 or str(value) != str(speed).strip():
        raise ValueError("serial speed must be a positive integer, not %r" % (speed,))
    return value


class SerialSsh(SshProcess):
    """Create a connection to a serial port through ssh.

    The port is read as the process's stdout and written through its
    stdin (:meth:`write`). The remote side is a small helper shipped on
    the ssh command line (python3 with pyserial when the host has it,
    else stty + cat): see :mod:`execo.serial_ssh`.
    """

    helper = "auto"
    """Which remote helper: ``'auto'`` (python3 with pyserial when the host
    has it, else stty + cat), ``'python'`` (python3 with pyserial, or fail
    with exit code 127), ``'stty'`` (stty + cat). Read at creation."""

    remote_python = "python3"
    """The command starting python on the remote host (a shell fragment,
    e.g. ``'env PYTHONPATH=/opt/pylib python3'``). Read at creation."""

    device: Optional[Union[str, os.PathLike[str]]] = None
    """The serial device on the remote host"""

    speed: Optional[Union[int, str]] = None
    """The serial port speed"""

    def __init__(
        self,
        host: Union[str, Host],
        device: Union[str, os.PathLike[str]],
        speed: Union[int, str],
        connection_params: Optional[Dict[str, Any]] = None,
        **kwargs: Any,
    ) -> None:
        """
        :param host: remote side of the ssh connection
        :param device: the serial device on the remote host
        :param speed: serial port speed
        :param connection_params: connection params for connecting to host

        Other keyword arguments are those of :class:`execo.process.Process`.
        """
        self.device = device
        self.speed = speed
        cmd = serial_helper_command(device, speed, self.helper, self.remote_python)
        super(SerialSsh, self).__init__(cmd, host, connection_params=connection_params, **kwargs)

    def _build_cmd(self, host: Host, connection_params: Optional[Dict[str, Any]]) -> Tuple[str, ...]:
        argv = super(SerialSsh, self)._build_cmd(host, connection_params)
        # no escape character: with -tt, "~." (disconnect), "~B" (break),
        # "~^Z" (suspend)... after a newline in the data would be taken by ssh
        # (ssh_utils adds it with a tty; this covers every case)
        # (an option: before the "--" which ends them, see get_ssh_argv)
        options_end = len(argv) - 3
        if "-e" in argv[:options_end]:
            return argv
        return argv[:options_end] + ("-e", "none") + argv[options_end:]

    def _name_source(self) -> str:
        return "serial %s@%s on %s" % (self.device, self.speed, self.host.address)

    def _args(self) -> List[str]:
        args = [repr(self.host), repr(self.device), repr(self.speed)]
        if self.connection_params:
            args.append("connection_params=%r" % (self.connection_params,))
        return args + self._process_kwargs()
