"""Output lines with the time they arrived.

A :class:`TimestampedLines` handler keeps every line of the streams it
handles with the time it was read, in seconds since the process was
spawned (monotonic clock), for the records of an experiment: when each
phase of a benchmark printed its banner, how far apart two hosts' replies
came.

The time is taken where the output is read: in the reactor thread (or
in the thread that waits for the process and reads its pipes itself, see
:mod:`execo.waiting`), as the chunk holding the line's end comes in, not
when a handler thread gets to it: a slow handler of the same process or
a busy machine does not shift it. A line cut between two reads gets the
time of the read that completed it; a last line without newline, the
time of the end of file. Processes without such a handler pay nothing.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Dict, List, Optional, Tuple

from . import _reactor
from .handlers import STDOUT, ProcessOutputHandler
from .output_stream import ENCODING

if TYPE_CHECKING:
    from .process_base import ProcessBase

__all__ = ["TimestampedLines"]

#: a line and when it arrived: (seconds since the process's spawn, line)
TimedLine = Tuple[float, str]


class TimestampedLines(ProcessOutputHandler):
    """An output handler keeping each line with its arrival time.

    Give one to ``stdout_handlers`` and/or ``stderr_handlers`` of one or
    more processes; read :meth:`lines` during or after the run. Lines end
    with their ``\\n`` (as :meth:`ProcessOutputHandler.read_line
    <execo.process.ProcessOutputHandler.read_line>` gets them); times are
    seconds since the process was spawned (add its ``start_date`` for a
    unix time). Everything is kept: for long, chatty processes, mind the
    memory (about 100 bytes a line)."""

    # execo's own: its work is done as output is read (_execo_at_read,
    # called by execo.handlers._at_read in the reading thread); the
    # handler-thread call is a no-op and needs no lock
    _execo_inline = True
    _execo_thread_safe = True

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._lines: Dict[Tuple[ProcessBase, int], List[TimedLine]] = {}
        self._splitters: Dict[Tuple[ProcessBase, int], _reactor.LineSplitter] = {}

    def _execo_at_read(self, process: ProcessBase, stream: int, data: bytes, final: bool) -> None:
        """(the reading thread: ``execo.handlers._at_read``) Split ``data``
        and stamp its complete lines (and, when ``final``, the rest) with
        the time now."""
        now = time.monotonic()
        start = process._start_monotonic
        t = now - start if start is not None else 0.0
        key = (process, stream)
        with self._lock:
            splitter = self._splitters.get(key)
            if splitter is None:
                splitter = self._splitters[key] = _reactor.LineSplitter(ENCODING)
            lines = splitter.feed(data) if data else []
            if final:
                rest = splitter.flush()
                if rest:
                    lines.append(rest)
                del self._splitters[key]
            if lines:
                got = self._lines.setdefault(key, [])
                got.extend((t, line) for line in lines)

    def read(self, process: ProcessBase, stream: int, string: str, eof: bool, error: bool) -> None:
        """Nothing: the lines were taken as they were read."""

    def lines(self, process: Optional[ProcessBase] = None, stream: int = STDOUT) -> List[TimedLine]:
        """The ``(seconds, line)`` of ``process``'s ``stream`` so far, in
        order (``process`` may be left out when the handler has seen only
        one)."""
        with self._lock:
            if process is None:
                processes = {p for p, _ in self._lines} | {p for p, _ in self._splitters}
                if len(processes) > 1:
                    raise ValueError("this handler saw %d processes: say which one" % (len(processes),))
                if not processes:
                    return []
                process = processes.pop()
            return list(self._lines.get((process, stream), ()))

    def reset(self) -> None:
        """Forget every line kept so far."""
        with self._lock:
            self._lines.clear()
            self._splitters.clear()
