"""asyncio integration: ``await process.wait_async()``, ``await
action.wait_async()`` and ``async for line in process.lines_async()``.

Nothing here runs a thread per wait: the thread that ends a process (a
handler thread) or an action calls the registered end callbacks, which
resolve the waiting futures with ``loop.call_soon_threadsafe``. Output
lines reach the event loop in one ``call_soon_threadsafe`` per chunk read,
not per line.

``await process`` itself is not offered: making every Process awaitable
would make code that awaits "anything awaitable" (test runners, task
helpers) start waiting for processes by surprise; ``wait_async()`` says
what it does.
"""

from __future__ import annotations

import asyncio
import threading
from typing import TYPE_CHECKING, Any, AsyncIterator, Callable, List, Optional, TypeVar, cast

from . import _reactor
from .handlers import STDERR, STDOUT, ProcessOutputHandler
from .log import logger
from .time_utils import get_seconds

if TYPE_CHECKING:
    from .time_utils import DurationLike

_T = TypeVar("_T")

_lock = threading.Lock()


def when_ended(obj: Any, is_ended: Callable[[], bool], callback: Callable[[], None]) -> None:
    """Call ``callback()`` once ``obj`` has ended: at once (in this thread)
    if it has, else from the thread that ends it (see :func:`fire_end_callbacks`)."""
    with _lock:
        if not is_ended():
            obj.__dict__.setdefault("_end_callbacks", []).append(callback)
            return
    callback()


def forget(obj: Any, callback: Callable[[], None]) -> None:
    """Unregister a callback given to :func:`when_ended` (a no-op once run)."""
    with _lock:
        callbacks = obj.__dict__.get("_end_callbacks")
        if callbacks and callback in callbacks:
            callbacks.remove(callback)


def fire_end_callbacks(obj: Any) -> None:
    """Run the end callbacks of ``obj`` (called once it has ended)."""
    with _lock:
        callbacks = obj.__dict__.pop("_end_callbacks", None)
    for callback in callbacks or ():
        try:
            callback()
        except Exception:
            logger.exception("error in an end callback of %s", obj)


async def wait_async(obj: _T, is_ended: Callable[[], bool], timeout: Optional[DurationLike] = None) -> _T:
    """Wait in the running event loop until ``obj`` ends, or ``timeout``
    (seconds or any execo time format) passes; returns ``obj`` either way,
    as ``wait()`` does."""
    timeout = get_seconds(timeout)
    loop = asyncio.get_running_loop()
    future = loop.create_future()

    def resolve() -> None:
        if not future.done():
            future.set_result(None)

    def ended() -> None:
        try:
            loop.call_soon_threadsafe(resolve)
        except RuntimeError:  # the loop was closed meanwhile
            pass

    when_ended(obj, is_ended, ended)
    try:
        if timeout is None:
            await future
        else:
            await asyncio.wait_for(future, max(0.0, timeout))
    except asyncio.TimeoutError:
        pass
    finally:
        forget(obj, ended)
    return obj


class _LineFeed(ProcessOutputHandler):
    """Hands the lines of one stream to an asyncio queue, one batch per
    chunk (never blocks: it may run inline in the reactor thread).

    Lines are cut by execo's line splitter (``_reactor.LineSplitter``,
    the one of ``read_line()`` handlers): after each ``\\n`` and nowhere
    else, whatever the chunks' boundaries."""

    _execo_inline = True

    _execo_thread_safe = True  # (see handlers._call_lock)

    def __init__(self, loop: asyncio.AbstractEventLoop, queue: asyncio.Queue[List[Optional[str]]], stream: int) -> None:
        super().__init__()
        self.loop = loop
        self.queue = queue
        self.stream = stream
        self.splitter = _reactor.LineSplitter()
        self.closed = False

    def feed(self, text: str, eof: bool) -> None:
        if self.closed:
            return
        # a new list, ours: None goes in it only as the end marker
        batch = cast("List[Optional[str]]", self.splitter.feed_text(text) if text else [])
        if eof:
            last = self.splitter.flush()
            if last:
                batch.append(last)
            batch.append(None)
            self.closed = True
        if batch:
            try:
                self.loop.call_soon_threadsafe(self.queue.put_nowait, batch)
            except RuntimeError:  # the loop was closed
                self.closed = True

    def read(self, process: Any, stream: int, string: str, eof: bool, error: bool) -> None:
        if stream == self.stream:
            self.feed(string, eof or error)


async def lines_async(process: Any, stream: int = STDOUT, start_from_current: bool = False) -> AsyncIterator[str]:
    """The lines of a process's stream (each with its end of line), as
    they come, until end of file. From the beginning of the output (what
    was already collected first) unless ``start_from_current``. Exactly
    the lines a ``read_line()`` handler gets: a line ends after ``\\n``
    and only there."""
    if stream not in (STDOUT, STDERR):
        raise ValueError("stream must be STDOUT or STDERR, not %r" % (stream,))
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[List[Optional[str]]] = asyncio.Queue()
    feed = _LineFeed(loop, queue, stream)
    handlers = process.stdout_handlers if stream == STDOUT else process.stderr_handlers
    with process._io_lock:
        # the same attach as expect(): every byte exactly once
        initial: Optional[str]
        initial, at_eof = process._streams[stream].watch_locked(start_from_current)
        # fed before the handler is attached: the initial text comes first
        if initial or at_eof:
            feed.feed(initial or "", at_eof)
        if not at_eof:
            handlers.append(feed)
    try:
        while True:
            batch = await queue.get()
            for line in batch:
                if line is None:
                    return
                yield line
    finally:
        feed.closed = True
        with process._io_lock:
            if feed in handlers:
                handlers.remove(feed)
