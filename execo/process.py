"""Processes: :class:`ProcessBase`, :class:`Process`, the other kinds of
processes, and :func:`get_process`.

A :class:`Process` is an operating system process watched by execo's
reactor thread (see :mod:`execo.conductor`), which reads its stdout and
stderr as they come, reaps it and fires its timeout; its handlers are
called in order from execo's handler threads (:mod:`execo.handler_threads`).
This module is the policy: when a process is ok, what is logged, what a
kill or a timeout means.  The mechanism lives in :mod:`execo._reactor`.

Each running local process costs 4 file descriptors in the parent: its
stdin, stdout and stderr pipes (with ``pty=True``: the pty master twice and
the stderr pipe) and a pidfd (none with the SIGCHLD child watcher).
"""

from __future__ import annotations

import os
import threading
from typing import Any, Dict, List

from .handlers import STDERR, STDOUT, ExpectOutputHandler, ProcessLifecycleHandler, ProcessOutputHandler
from .local_process import Process
from .output_stream import ENCODING
from .process_base import ProcessBase
from .serial_port import Serial
from .serial_ssh import SerialSsh
from .ssh_process import PortForwarder, SshProcess
from .taktuk_process import TaktukProcess

# The public module of the processes (the spec's ``execo.process.X``): the
# classes live in modules that import downward (process_base <-
# local_process <- ssh_process, taktuk_process, serial_port,
# serial_ssh <- here); this one re-exports them, with the functions
# that choose among them.

__all__ = [
    "ProcessBase",
    "Process",
    "get_process",
    "STDOUT",
    "STDERR",
    "ProcessLifecycleHandler",
    "ProcessOutputHandler",
    "ExpectOutputHandler",
    "SshProcess",
    "PortForwarder",
    "TaktukProcess",
    "Serial",
    "SerialSsh",
]


def get_process(*args: Any, **kwargs: Any) -> Process:
    """Instanciates a :class:`execo.process.Process` or
    :class:`execo.process.SshProcess`, depending on the existence of host
    keyword argument (without host, a ``connection_params`` keyword
    argument is ignored, as in execo 2.8.2: execo_g5k passes both, with a
    host of None for a local frontend)"""
    if kwargs.get("host") is not None:
        return SshProcess(*args, **kwargs)
    kwargs.pop("host", None)
    kwargs.pop("connection_params", None)
    return Process(*args, **kwargs)


_out_files: Dict[str, List[Any]] = {}  # file name -> [users, file] (handle_process_output)
_out_files_lock = threading.Lock()


def handle_process_output(process: ProcessBase, stream: int, handler: Any, string: str, eof: bool, error: bool) -> None:
    """Compatibility name (execo_g5k): send ``string``, output of
    ``process`` on ``stream``, to ``handler`` as execo 2.8.2 did.

    ``handler`` is a :class:`ProcessOutputHandler` (its ``read()`` gets
    all the arguments), an object with a ``write()`` method, an open file
    descriptor (an int; the string is written encoded), or a file name:
    opened in append mode the first time, shared by all the processes
    writing to it, closed once each of them reached eof.
    """
    if isinstance(handler, ProcessOutputHandler):
        handler.read(process, stream, string, eof, error)
    elif isinstance(handler, int) and not isinstance(handler, bool):
        data = string.encode(ENCODING, "surrogateescape")
        while data:
            data = data[os.write(handler, data) :]
    elif hasattr(handler, "write"):
        handler.write(string)
    elif isinstance(handler, str):
        key = (handler, stream)
        files = process.__dict__.setdefault("_compat_out_files", {})
        with _out_files_lock:
            if key not in files:
                entry = _out_files.get(handler)
                if entry is None:
                    entry = _out_files[handler] = [0, open(handler, "a", encoding=ENCODING)]
                entry[0] += 1
                files[key] = entry
            entry = files[key]
            entry[1].write(string)
            if eof:
                del files[key]
                entry[0] -= 1
                if entry[0] == 0:
                    entry[1].close()
                    del _out_files[handler]
                else:
                    entry[1].flush()
    else:
        raise TypeError("unsupported output handler %r" % (handler,))
