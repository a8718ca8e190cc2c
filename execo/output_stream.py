"""OutputStream: what a process holds for one of its output streams.

A process has two (``ProcessBase._streams[STDOUT]`` and
``[STDERR]``). Each gathers what used to be parallel per-stream
containers of the process:

- the reactor's :class:`~execo._reactor.Collector` (the bytes, in C),
  and the text decoded from it so far (``p.stdout``: lazy, incremental);
- the end-of-file flags: ``eof_read`` (the reader saw it, reactor
  thread) and ``eof`` (the handlers were given it, in the strand);
- the stream's handlers (``stdout_handlers`` / ``stderr_handlers``), the
  files opened for the file names among them, the line splitter and the
  incremental decoder that turn chunks into lines or text for them;
- the thread-local expect handlers attached by ``expect()``.

It holds state, not policy: every field is read and written under the
owning process's ``_io_lock`` (the methods named ``*_locked`` expect it
held), except ``splitter``, ``decoder`` and ``targets``, which only the
process's strand uses. A stream object lives as long as its process; a
``reset()`` of the process empties it (:meth:`reset`).
"""

from __future__ import annotations

import codecs
import locale
import os
import threading
import weakref
from typing import IO, TYPE_CHECKING, Any, Dict, Iterable, List, Optional, Tuple

from . import _reactor

if TYPE_CHECKING:
    from .handlers import ExpectOutputHandler

__all__ = ["OutputStream", "ENCODING"]

ENCODING = locale.getpreferredencoding(False) or "utf-8"
"""Encoding of process output and input (the locale's, with surrogateescape
so that any byte round-trips)."""

_UTF8 = codecs.lookup(ENCODING).name == "utf-8"


class _HandlerList(List[Any]):
    """A stream's list of output handlers.  Making it non-empty turns on
    the delivery of every read to the handlers (otherwise the reactor
    collects output in C without calling Python at all)."""

    def __init__(self, stream: OutputStream, items: Iterable[Any] = ()) -> None:
        list.__init__(self, items)
        # weak: the stream holds this list, and a cycle would leave a
        # finished process to the garbage collector
        self._stream = weakref.ref(stream)
        if len(self):
            self._changed()

    def _changed(self) -> _HandlerList:
        stream = self._stream()
        if len(self) and stream is not None:
            # the stream's current collector (a reset makes a new one)
            stream.collector.notify = True
        return self

    def append(self, item: Any) -> None:
        list.append(self, item)
        self._changed()

    def extend(self, items: Iterable[Any]) -> None:
        list.extend(self, items)
        self._changed()

    def insert(self, index: Any, item: Any) -> None:
        list.insert(self, index, item)
        self._changed()

    def __setitem__(self, index: Any, value: Any) -> None:
        list.__setitem__(self, index, value)
        self._changed()

    def __iadd__(self, items: Iterable[Any]) -> _HandlerList:  # type: ignore[misc]  # list's own __iadd__ is typed as returning Self
        list.extend(self, items)
        return self._changed()


class OutputStream(object):
    """One output stream (STDOUT or STDERR) of a process: its collector,
    decoded text cache, eof flags, handlers, output files, line splitter
    and decoder (see the module's docstring)."""

    __slots__ = (
        "stream",
        "handlers",
        "collector",
        "text",
        "text_offset",
        "text_decoder",
        "text_replaced",
        "eof",
        "eof_read",
        "splitter",
        "decoder",
        "targets",
        "expect_handlers",
        "tls",
        "__weakref__",
    )

    def __init__(self, stream: int) -> None:
        """Usable once :meth:`reset` made its runtime state (the process's
        ``_common_reset`` does, right after making its streams)."""
        #: STDOUT or STDERR: what the handlers are told
        self.stream = stream
        #: the user's handlers (``stdout_handlers`` / ``stderr_handlers``)
        self.handlers = _HandlerList(self)
        # (set here, not left for reset() to find unset: reading an unset
        # slot formats an AttributeError, two per process start)
        self.expect_handlers: List[ExpectOutputHandler] = []

    def reset(self, keep: bool) -> None:
        """As for a new process (``keep``: collect the output for
        ``p.stdout`` / ``p.stderr``); the handlers stay, except the
        thread-local ones of expect()."""
        # output bytes live in a C buffer the reactor reads into; the text
        # decoded from it is cached up to text_offset
        self.collector = _reactor.Collector(keep)
        self.text = ""
        self.text_offset = 0
        self.text_decoder: Optional[codecs.IncrementalDecoder] = None
        self.text_replaced = False  # the user set the text (p.stdout = ...)
        self.eof = False  # eof given to the handlers
        self.eof_read = False  # eof seen by the reader
        self.splitter: Optional[_reactor.LineSplitter] = None
        self.decoder: Optional[codecs.IncrementalDecoder] = None
        self.targets: Dict[Any, IO[bytes]] = {}  # file name among the handlers -> file
        # the thread-local expect handlers of every thread are dropped
        if self.expect_handlers:
            for handler in self.expect_handlers:
                if handler in self.handlers:
                    self.handlers.remove(handler)
            self.expect_handlers = []
        # .expect_handler: each thread's (execo.expect), made on the first
        # expect (a threading.local costs more than the rest of a reset)
        self.tls: Optional[threading.local] = None
        self.collector.notify = len(self.handlers) > 0

    # ------------------------------------------------ collected text

    def text_locked(self) -> Optional[str]:
        """Decoded text collected so far (None when not collected).
        Decoding is lazy and incremental: only the bytes past the cached
        offset are decoded."""
        collector = self.collector
        if not collector.keep:
            return None
        text = self.text
        offset = self.text_offset
        if offset < len(collector):
            final = self.eof_read
            whole = None
            if final and _UTF8 and not self.text_replaced:
                # all ASCII: the collector's buffer is the text (no copy)
                whole = collector.ascii_text()
            if whole is not None:
                text, offset, new = whole, len(collector), None
            elif _UTF8:
                new, offset = collector.decode_utf8(offset, final)
            else:
                decoder = self.text_decoder
                if decoder is None:
                    decoder = self.text_decoder = codecs.getincrementaldecoder(ENCODING)("surrogateescape")
                new = decoder.decode(collector.getbytes(offset), final)
                offset = len(collector)
            if new:
                text = text + new if text else new
            self.text = text
            self.text_offset = offset
        return text

    def set_text_locked(self, value: str) -> None:
        """Replace what was collected so far; later output is appended."""
        self.text = value
        self.text_offset = len(self.collector)
        self.text_decoder = None
        self.text_replaced = True

    def watch_locked(self, start_from_current: bool) -> Tuple[Optional[str], bool]:
        """Before attaching a handler that must see every byte exactly
        once (expect(), lines_async()): from now on every read reaches the
        handlers, so what was collected (returned, unless
        ``start_from_current``: None) and what comes next do not overlap.
        Also returns whether the handlers were given eof already."""
        self.collector.notify = True
        return (None if start_from_current else self.text_locked()), self.eof

    # ------------------------------------------------ for the handlers

    def split_lines(self, data: bytes, final: bool) -> Tuple[List[str], str]:
        """Complete lines of data (split in C) and, when final, the last
        line without newline."""
        splitter = self.splitter
        if splitter is None:
            splitter = self.splitter = _reactor.LineSplitter(ENCODING)
        lines = splitter.feed(data) if data else []
        return lines, (splitter.flush() if final else "")

    def decode(self, data: bytes, final: bool) -> str:
        """data decoded incrementally (a character cut between two reads
        is decoded whole).

        In UTF-8, a chunk that ends with an ASCII byte ends on a whole
        character: with nothing carried over from the previous chunk, it
        is decoded at once, without the incremental decoder (written in
        Python: one more call per chunk)."""
        decoder = self.decoder
        if _UTF8 and (decoder is None or not getattr(decoder, "buffer", b"?")) and (not data or data[-1] < 0x80):
            return data.decode("utf-8", "surrogateescape")
        if decoder is None:
            decoder = self.decoder = codecs.getincrementaldecoder(ENCODING)("surrogateescape")
        return decoder.decode(data, final)

    def open_targets(self) -> None:
        """Open the file names among the handlers (OSError: those opened
        so far stay in ``targets``, for :meth:`close_targets`)."""
        for h in self.handlers:
            if isinstance(h, (str, os.PathLike)) and h not in self.targets:
                self.targets[h] = open(h, "wb")

    def close_targets(self) -> None:
        for f in self.targets.values():
            try:
                f.close()
            except OSError:
                pass
        self.targets = {}
