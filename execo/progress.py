"""Live progress of long actions: started / ended / failed counts, rate and
ETA, drawn by tqdm (``pip install 'execo[progress]'``).

::

    from execo import Remote
    from execo.progress import ProgressDisplay

    r = Remote("make -j8", hosts)
    r.lifecycle_handlers.append(ProgressDisplay(r))
    r.run()

It is an :class:`execo.action.ActionLifecycleHandler`: it watches the
processes of the action it is given (their lifecycle handlers) and draws
on stderr only when stderr is a terminal (``enabled=None``, the default),
so scripts whose stderr is a file or a pipe see nothing. The ``execo``
command has ``--progress``.
"""

from __future__ import annotations

import sys
import threading
from typing import TYPE_CHECKING, Any, Callable, Optional, TextIO

from .action import Action, ActionLifecycleHandler
from .handlers import ProcessLifecycleHandler

if TYPE_CHECKING:
    from .process_base import ProcessBase

__all__ = ["ProgressDisplay", "ProgressCounts"]


def _tqdm() -> Any:  # the tqdm class: tqdm has no type information
    try:
        from tqdm import tqdm
    except ImportError:
        raise ImportError("the progress display needs tqdm: pip install 'execo[progress]'") from None
    return tqdm


class ProgressCounts(ProcessLifecycleHandler):
    """Counts the starts, ends and failures of processes (thread-safe);
    ``on_change(counts)`` is called after each change."""

    def __init__(self, total: int, on_change: Optional[Callable[[ProgressCounts], object]] = None) -> None:
        super().__init__()
        self.total = total
        self.started = 0
        self.ended = 0
        self.failed = 0
        self._lock = threading.Lock()
        self._on_change = on_change

    def start(self, process: ProcessBase) -> None:
        with self._lock:
            self.started += 1
        self._changed()

    def end(self, process: ProcessBase) -> None:
        with self._lock:
            self.ended += 1
            if not process.ok:
                self.failed += 1
        self._changed()

    def _changed(self) -> None:
        if self._on_change is not None:
            self._on_change(self)


class ProgressDisplay(ActionLifecycleHandler):
    """A tqdm bar for an action: ended/total with rate and ETA, started and
    failed counts alongside.

    :param action: the action to watch (its processes get a
      :class:`ProgressCounts` lifecycle handler now)
    :param file: where to draw (default: sys.stderr)
    :param enabled: True/False, or None: only when ``file`` is a terminal
    :param description: text before the bar (default: the action's name)
    """

    def __init__(
        self,
        action: Action,
        file: Optional[TextIO] = None,
        enabled: Optional[bool] = None,
        description: Optional[str] = None,
    ) -> None:
        self.file = file if file is not None else sys.stderr
        if enabled is None:
            isatty = getattr(self.file, "isatty", None)
            enabled = bool(isatty and isatty())
        self.enabled = enabled
        processes = list(action.processes)
        self.counts = ProgressCounts(len(processes), self._update)
        for p in processes:
            # first: counted before the action's own handler may end the action
            p.lifecycle_handlers.insert(0, self.counts)
        self.description = description if description is not None else action.name
        self._bar: Any = None
        self._lock = threading.Lock()
        if enabled:
            _tqdm()  # fail at the call, not in a handler thread

    def start(self, action: Action) -> None:
        if not self.enabled:
            return
        tqdm = _tqdm()
        with self._lock:
            self._bar = tqdm(
                total=self.counts.total,
                desc=self.description,
                unit="proc",
                file=self.file,
                dynamic_ncols=True,
                leave=True,
            )
        self._update(self.counts)

    def _update(self, counts: ProgressCounts) -> None:
        with self._lock:
            bar = self._bar
            if bar is None:
                return
            bar.set_postfix_str("started %d, failed %d" % (counts.started, counts.failed), refresh=False)
            bar.update(counts.ended - bar.n)

    def end(self, action: Action) -> None:
        with self._lock:
            bar, self._bar = self._bar, None
        if bar is not None:
            bar.set_postfix_str("started %d, failed %d" % (self.counts.started, self.counts.failed), refresh=False)
            bar.update(self.counts.ended - bar.n)
            bar.close()
