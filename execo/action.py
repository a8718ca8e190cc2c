"""Actions: sets of processes run in parallel, started, waited for, killed
and reported on together.

An :class:`Action` knows it has ended when all its processes (or, for
:class:`ParallelActions` / :class:`SequentialActions`, all its sub-actions)
have ended.  Process ends are counted by a
:class:`execo.process.ProcessLifecycleHandler` that each action appends to
its processes' lifecycle handlers: no thread per action or per process,
the counting happens in execo's handler threads.  The action's own
lifecycle handlers' ``end()`` is called once, in the thread where its last
process (or sub-action) ended, usually a handler thread.

Waiting (:meth:`Action.wait`, :func:`wait_any_actions`,
:func:`wait_all_actions`) blocks on threading primitives, waking every
``configuration['intr_period']`` so that Ctrl-C is handled.
"""

from .action_base import (
    Action,
    ActionLifecycleHandler,
    ActionNotificationProcessLH,  # noqa: F401  (compatibility name, not in __all__)
    Local,
    ParallelActions,
    SequentialActions,
    filter_bad_hosts,
    wait_all_actions,
    wait_any_actions,
)
from .action_factory import ActionFactory, default_action_factory, get_fileget, get_fileput, get_remote
from .chainput import ChainPut
from .remote import Get, Put, Remote
from .remote_serial import RemoteSerial
from .taktuk import TaktukRemote
from .taktuk_transfer import TaktukGet, TaktukPut

# The public module of the actions (the spec's ``execo.action.X``): it only
# re-exports, so that the modules holding the classes import downward
# (action_base <- remote, taktuk, chainput... <- action_factory <- here).

__all__ = [
    "Action",
    "Local",
    "ParallelActions",
    "SequentialActions",
    "ActionLifecycleHandler",
    "wait_any_actions",
    "wait_all_actions",
    "filter_bad_hosts",
    "Remote",
    "Put",
    "Get",
    "ActionFactory",
    "default_action_factory",
    "get_remote",
    "get_fileput",
    "get_fileget",
    "TaktukRemote",
    "TaktukPut",
    "TaktukGet",
    "ChainPut",
    "RemoteSerial",
]
