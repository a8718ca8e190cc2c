"""Exceptions raised by execo."""

from __future__ import annotations

from typing import TYPE_CHECKING, Collection, Iterable, TypeVar

if TYPE_CHECKING:
    from .action import Action
    from .process_base import ProcessBase

_T = TypeVar("_T")

__all__ = ['ProcessesFailed', 'ActionsFailed', 'DeadlockError']


def _as_collection(items: Iterable[_T]) -> Collection[_T]:
    """Keep lists, tuples and sets; turn other iterables (generators) into a list."""
    if isinstance(items, (list, tuple, set, frozenset)):
        return items
    return list(items)


def _describe(items: Collection[object], singular: str, plural: str) -> str:
    """Return a message listing failed ``items`` (one per line, via str())."""
    lines = ["%i %s failed:" % (len(items), singular if len(items) == 1 else plural)]
    lines.extend("  " + str(item) for item in items)
    return "\n".join(lines)


class ProcessesFailed(Exception):
    """Raised when one or more ``execo.process.Process`` have failed."""

    def __init__(self, processes: Iterable[ProcessBase]) -> None:
        """:param processes: iterable of failed processes"""
        processes = _as_collection(processes)
        super().__init__(processes)
        self.processes = processes
        """iterable of failed processes"""

    def __str__(self) -> str:
        return _describe(self.processes, "process", "processes")


class ActionsFailed(Exception):
    """Raised when one or more ``execo.action.Action`` have failed."""

    def __init__(self, actions: Iterable[Action]) -> None:
        """:param actions: iterable of failed actions"""
        actions = _as_collection(actions)
        super().__init__(actions)
        self.actions = actions
        """iterable of failed actions"""

    def __str__(self) -> str:
        return _describe(self.actions, "action", "actions")


class DeadlockError(RuntimeError):
    """Raised by a wait or an expect that could never end: called from a
    handler of the very process (or of a process of the action) it waits
    for.

    A process's handlers (output handlers, lifecycle handlers, expect
    callbacks) run one at a time, in order (see
    :mod:`execo.handler_threads`); the process's end, and the output an
    expect would search, are delivered in that same order, after the
    handler that is running: waiting for them inside the handler would
    block for ever (or until the timeout). Waiting from a handler of
    *another* process is fine.
    """
