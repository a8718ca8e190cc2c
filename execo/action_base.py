"""The action core: :class:`Action` and the actions that need no remote
tool (:class:`Local`, :class:`ParallelActions`, :class:`SequentialActions`),
their lifecycle handlers and the waits over several actions.

The remote actions (``execo.remote``, ``execo.taktuk``...) build on this
module, which imports none of them; ``execo.action`` is the public
module, re-exporting everything (see its docstring for how actions
work).
"""

from __future__ import annotations

import threading
import time
from types import TracebackType
from typing import TYPE_CHECKING, Any, Callable, Dict, Iterable, List, Match, Optional, Set, Tuple, Type, TypeVar, Union

from . import aio, start_queue, starters
from .config import configuration
from .exception import DeadlockError
from .expect import expect_all
from .handler_threads import Strand
from .handlers import STDOUT, ProcessLifecycleHandler, _call_lock
from .host import Host
from .local_process import Process
from .log import logger, style
from .report import Report
from .substitutions import remote_substitute
from .time_utils import get_seconds
from .utils import _intr_slice, _wait_event, name_from_cmdline

if TYPE_CHECKING:
    from typing import Literal

    from .handlers import RegexesLike
    from .process_base import CmdLike, ProcessBase
    from .time_utils import DurationLike

_A = TypeVar("_A", bound="Action")
_AC = TypeVar("_AC", bound="_ActionsContainer")
_SA = TypeVar("_SA", bound="SequentialActions")

__all__ = [
    "Action",
    "Local",
    "ParallelActions",
    "SequentialActions",
    "ActionLifecycleHandler",
    "wait_any_actions",
    "wait_all_actions",
    "filter_bad_hosts",
]

# notified (notify_all) whenever any action ends: wait_any_actions and
# wait_all_actions wait on it instead of using a thread per action
_actions_ended_condition = threading.Condition(threading.Lock())

# _built_inputs of an action whose processes are not made by _build() (an
# Action subclass setting its processes itself): never rebuilt by reset()
_NOT_BUILT = object()


def _snapshot(value: Any) -> Any:
    """A copy of value for telling later whether it changed: containers
    (and hosts, which can be modified) copied, anything else (handlers,
    functions) kept as it is, compared by ==."""
    if isinstance(value, dict):
        return dict((k, _snapshot(v)) for k, v in value.items())
    if isinstance(value, list):
        return [_snapshot(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_snapshot(v) for v in value)
    if isinstance(value, (set, frozenset)):
        return frozenset(value)
    if isinstance(value, Host):
        return Host(value)
    return value


class ActionLifecycleHandler(object):
    """Abstract handler for :class:`execo.action.Action` lifecycle."""

    def start(self, action: Action) -> None:
        """Handle :class:`execo.action.Action`'s start.

        :param action: The Action which starts.
        """
        pass

    def end(self, action: Action) -> None:
        """Handle :class:`execo.action.Action`'s end.

        :param action: The Action which ends.
        """
        pass

    def reset(self, action: Action) -> None:
        """Handle :class:`execo.action.Action`'s reset.

        :param action: the Action which is reset.
        """
        pass


class _ActionProcessLH(ProcessLifecycleHandler):
    """Counts the ends of an action's processes. It only counts (the
    action's own end, which may call user code, is handed to a handler
    thread): it may run inline, without a thread hop per process."""

    _execo_inline = True

    _execo_thread_safe = True  # (see handlers._call_lock)

    def __init__(self, action: Action) -> None:
        super(_ActionProcessLH, self).__init__()
        self.action = action

    def end(self, process: ProcessBase) -> None:
        self.action._child_ended(process)

    def __repr__(self) -> str:
        return "<_ActionProcessLH of %s>" % (self.action.name,)


class Action(object):
    """Abstract base class. A set of parallel processes.

    An :class:`execo.action.Action` can be started
    (:meth:`execo.action.Action.start`), killed
    (:meth:`execo.action.Action.kill`). One can wait
    (:meth:`execo.action.Action.wait`) for an Action, it means waiting for
    all processes in the Action to finish. An Action can be run
    (:meth:`execo.action.Action.run`), it means start it then wait for it
    to complete.

    An Action and its subclasses can act as a context manager object,
    allowing to write code such as::

     with Remote(...).start() as r:
       [...do something...]

    When exiting the contex manager scope, the remote is automatically
    killed.

    Subclasses made of processes set ``self.processes`` to a list of
    :class:`execo.process.ProcessBase` (the setter attaches the handler
    counting their ends); start, kill, reset, wait, expect, write and
    stats then work on them.

    Subclasses whose processes follow from attributes (Remote's ``hosts``,
    ``cmd``...) name them in ``_build_attrs`` and make the processes in
    ``_make_processes()``, called by ``_build()``: :meth:`reset` then
    makes them again when one of those attributes changed (see there).
    """

    #: attributes the processes are made of (None: processes set by hand)
    _build_attrs: Optional[Tuple[str, ...]] = None

    #: User-friendly name. A default is generated and can be changed.
    name: str = None  # type: ignore[assignment]  # class-level default (documented); every instance sets it
    #: List of instances of :class:`execo.action.ActionLifecycleHandler` for
    #: being notified of action lifecycle events.
    lifecycle_handlers: List[ActionLifecycleHandler] = None  # type: ignore[assignment]  # class-level default (documented); every instance sets it
    #: The default timeout for expect invocations when no explicit timeout
    #: is given. Defaults to None, meaning no timeout.
    default_expect_timeout: Optional[float] = None
    #: whether this Action was started (boolean)
    started: bool = None  # type: ignore[assignment]  # class-level default (documented); every instance sets it
    #: whether this Action has ended (boolean)
    ended: bool = None  # type: ignore[assignment]  # class-level default (documented); every instance sets it

    def __init__(
        self,
        lifecycle_handlers: Optional[Iterable[ActionLifecycleHandler]] = None,
        name: Optional[str] = None,
        default_expect_timeout: Optional[DurationLike] = None,
        fanout: Optional[int] = None,
    ) -> None:
        """
        :param lifecycle_handlers: List of instances of
          :class:`execo.action.ActionLifecycleHandler` for being notified
          of action lifecycle events.
        :param name: User-friendly name. A default is generated and can be
          changed.
        :param default_expect_timeout: The default timeout for expect
          invocations when no explicit timeout is given. Defaults to None,
          meaning no timeout.
        :param fanout: (beyond the original execo) at most this many of the
          action's processes run at once, like ``clush -f``; the others are
          started (``started`` is True) but queued, and are spawned in order
          as running ones end (see :meth:`execo.process.Process.start`).
          None (the default): no window but the fd budget and
          ``configuration['fanout']`` (:mod:`execo.start_queue`). Applies to
          actions made of processes (Remote, Put, Get, Local...), not to a
          taktuk action, whose single taktuk process has its own window.
        """
        if fanout is not None and (isinstance(fanout, bool) or not isinstance(fanout, int) or fanout < 1):
            raise ValueError("fanout must be None or an int >= 1, not %r" % (fanout,))
        self.fanout = fanout
        if lifecycle_handlers is None:
            self.lifecycle_handlers = []
        elif isinstance(lifecycle_handlers, (str, bytes)) or not hasattr(lifecycle_handlers, "__iter__"):
            raise TypeError("lifecycle_handlers must be a list, not %r" % (lifecycle_handlers,))
        else:
            self.lifecycle_handlers = list(lifecycle_handlers)
        if name is not None and not isinstance(name, str):
            raise TypeError("name must be a str, not %r" % (name,))
        self.name = name if name is not None else self._default_name()
        self.default_expect_timeout = get_seconds(default_expect_timeout)
        self._lock = threading.RLock()
        self._ended_event = threading.Event()
        self._parents: List[_ActionsContainer] = []  # ParallelActions / SequentialActions containing this action
        self._process_lh = _ActionProcessLH(self)
        self._processes: List[ProcessBase] = []
        self._handler_thread: Optional[int] = None  # thread running this action's start/end handlers
        self._built_inputs: Any = _NOT_BUILT  # snapshot of the _build_attrs the processes were made of
        self._built_substitutions: List[Tuple[str, int, Any, str]] = []  # (string, index, context, result)
        self._recording: Optional[List[Tuple[str, int, Any, str]]] = None
        self._built_default_name: Optional[str] = None
        self._common_reset()

    def _default_name(self) -> str:
        return self.__class__.__name__

    def _common_reset(self) -> None:
        self.started = False
        self.ended = False
        self._ended_children: Set[int] = set()
        self._ended_event.clear()

    # ------------------------------------------------------------ processes

    @property
    def processes(self) -> List[ProcessBase]:
        """Iterable of all :class:`execo.process.ProcessBase`"""
        return self._processes

    @processes.setter
    def processes(self, processes: Iterable[ProcessBase]) -> None:
        processes = list(processes)
        new_ids = set(id(p) for p in processes)
        for p in self._processes:
            if id(p) not in new_ids:
                try:
                    p.lifecycle_handlers.remove(self._process_lh)
                except ValueError:
                    pass
        for p in processes:
            if not any(h is self._process_lh for h in p.lifecycle_handlers):
                p.lifecycle_handlers.append(self._process_lh)
        self._processes = processes

    def _children(self) -> List[Any]:
        """What must end for this action to end (its processes)."""
        return self._processes

    # ------------------------------------------------------------ building

    def _build_inputs(self) -> Any:
        """Snapshot of the attributes the processes are made of."""
        return tuple(_snapshot(getattr(self, name)) for name in self._build_attrs or ())

    def _make_processes(self) -> List[Any]:
        """The processes, made from the current attributes (subclasses
        naming ``_build_attrs``)."""
        raise NotImplementedError

    def _build(self) -> None:
        """Make the processes from the current attributes, recording what
        they were made of (attributes, substitutions). If making them
        raises, the action is left as it was."""
        recorded: List[Tuple[str, int, Any, str]] = []
        self._recording = recorded
        try:
            processes = self._make_processes()
        finally:
            self._recording = None
        self._install(processes)
        self._built_substitutions = recorded
        self._built_inputs = self._build_inputs()
        # a default name follows the new attributes ("Remote 'cmd' on N
        # hosts"); a name given by the user is kept
        default = self._default_name()
        if self._built_default_name is not None and self.name == self._built_default_name:
            self.name = default
        self._built_default_name = default

    def _install(self, processes: List[Any]) -> None:
        """Make processes the action's (old ones detached)."""
        self.processes = processes

    def _substitute(self, string: str, index: int, context: Any = None) -> str:
        """:func:`execo.substitutions.remote_substitute` of string for
        ``self.hosts[index]`` in the context where the action was created
        (or context), recorded while building: reset() evaluates the
        expressions again, as execo 2.8.2 did, to tell whether the
        processes must be made again."""
        if context is None:
            context = self._caller_context  # type: ignore[attr-defined]  # actions with hosts set it
        hosts = getattr(self, "hosts")  # noqa: B009 (only actions with hosts get here)
        result = remote_substitute(string, hosts, index, context)
        # (only strings with expressions: {{{host}}} follows the hosts,
        # which are compared anyway)
        if self._recording is not None and "{{" in string.replace("{{{host}}}", ""):
            self._recording.append((string, index, context, result))
        return result

    def _build_changed(self) -> bool:
        """Whether an attribute the processes were made of changed since
        they were made, or the value of one of their ``{{expression}}``
        substitutions (evaluated again in the same context; host names
        are never evaluated, and under :func:`execo.substitutions.no_expressions`
        nothing is)."""
        try:
            if self._build_inputs() != self._built_inputs:
                return True
            hosts = getattr(self, "hosts", None) or []
            for string, index, context, result in self._built_substitutions:
                if remote_substitute(string, hosts, index, context) != result:
                    return True
        except Exception:
            return True  # _build() raises it again, with its own message
        return False

    def _rebuild(self) -> bool:
        """At reset: make the processes again if what they are made of
        changed. Returns whether they were made again."""
        if self._built_inputs is _NOT_BUILT:
            # an Action subclass written for execo 2.8.2 (execo_g5k's
            # Kadeployer) making its processes in _init_processes(),
            # which 2.8.2 called at every reset
            init_processes = getattr(self, "_init_processes", None)
            if init_processes is None:
                return False
            init_processes()
            self.processes = self._processes  # attach the end counting
            return True
        if not self._build_changed():
            return False
        if "hosts" in (self._build_attrs or ()):
            # hosts changed in place (r.hosts.append('b')): converted and
            # checked as an assignment is
            setattr(self, "hosts", getattr(self, "hosts"))  # noqa: B009, B010 (only actions with hosts)
        self._build()
        return True

    # ------------------------------------------------------------ lifecycle

    def _call_lifecycle_here(self, what: str) -> None:
        """_call_lifecycle(what), this thread recorded as the one running
        the action's handlers (a wait() from one of them is a deadlock)."""
        self._handler_thread = threading.get_ident()
        try:
            self._call_lifecycle(what)
        finally:
            self._handler_thread = None

    def _call_lifecycle(self, what: str) -> None:
        for handler in list(self.lifecycle_handlers):
            try:
                with _call_lock(handler):  # one handler on several actions: one at a time
                    getattr(handler, what)(self)
            except Exception:
                logger.exception("action lifecycle handler %r %s() raised an exception for %s", handler, what, self)

    def _child_ended(self, child: Union[ProcessBase, Action]) -> None:
        """A process (or sub-action) ended: thread-safe count; the action
        ends with the last one."""
        with self._lock:
            if self.ended:
                return
            self._ended_children.add(id(child))
            done = self.started and len(self._ended_children) >= len(self._children())
        if done:
            if self.lifecycle_handlers or self._parents:
                # user code (handlers, a SequentialActions starting the next
                # action): never in the reactor thread
                Strand().post(self._notify_end)
            else:
                self._notify_end()

    def _check_end(self) -> None:
        """After start: end at once if everything already ended (or there
        is nothing to run)."""
        with self._lock:
            done = self.started and not self.ended and len(self._ended_children) >= len(self._children())
        if done:
            self._notify_end()

    def _notify_end(self) -> None:
        with self._lock:
            if self.ended:
                return
            self.ended = True
        if logger.isEnabledFor(10):
            logger.debug("%s %s", style.emph("end:"), self)
        self._call_lifecycle_here("end")
        self._ended_event.set()
        with _actions_ended_condition:
            _actions_ended_condition.notify_all()
        aio.fire_end_callbacks(self)
        for parent in list(self._parents):
            try:
                parent._subaction_ended(self)
            except Exception:
                logger.exception("error notifying %s of the end of %s", parent, self)

    def _notify_terminated(self) -> None:
        # compatibility (execo 2.8.2, whose execo_g5k overrides and calls
        # it): the action's end, as called by ActionNotificationProcessLH
        self._notify_end()

    def start(self: _A) -> _A:
        """Start all processes.

        return self
        """
        with self._lock:
            if self.started:
                raise ValueError("Actions may be started only once: %r" % (self,))
            self.started = True
        if logger.isEnabledFor(10):
            logger.debug("%s %s", style.emph("start:"), self)
        self._call_lifecycle_here("start")
        self._start_children()
        self._check_end()
        return self

    def _start_children(self) -> None:
        window = start_queue.Window(self.fanout) if self.fanout is not None else None
        for p in self._processes:
            p._fanout_window = window
        # a few threads at once, their spawns overlapping; one, in order,
        # when a fan-out window (the action's, or configuration['fanout']
        # over all children) spawns the queued ones "in order"
        in_order = window is not None or configuration.get("fanout") is not None
        starters.start_all(list(self._processes), in_order=in_order)

    def kill(self: _A) -> _A:
        """Kill all processes not yet ended.

        Returns immediately, without waiting for processes to be actually
        killed. Queued processes (see ``fanout``) are killed first, so
        that none of them is spawned in a slot freed by the others' end:
        they end killed, never spawned.

        return self
        """
        processes = list(self._processes)
        for p in processes:
            if getattr(p, "queued", False):
                p.kill()
        for p in processes:
            if p.started and not p.ended:
                p.kill()
        return self

    def wait(self: _A, timeout: Optional[DurationLike] = None) -> _A:
        """Wait for all processes to complete.

        From a handler of one of its processes (output handler, lifecycle
        handler, expect callback) whose end the action still waits for,
        or from the action's own ``start`` lifecycle handler, the action
        cannot end while the handler runs: wait() raises
        :class:`execo.exception.DeadlockError` instead of blocking for
        ever (or until ``timeout``). In the action's own ``end`` handler
        it returns at once. Waiting from a handler of a process of
        *another* action works.

        return self
        """
        if not self.started:
            raise ValueError("Trying to wait an action which has not been started: %r" % (self,))
        if self._handler_thread == threading.get_ident() and self.ended:
            return self  # in the action's own end handlers
        why = self._deadlock_reason()
        if why is not None:
            raise DeadlockError(
                "wait() of %s called %s: the action cannot end before that "
                "handler returns, so this wait would never end. Wait from "
                "another thread." % (self.name, why)
            )
        _wait_event(self._ended_event, get_seconds(timeout))
        return self

    def _deadlock_reason(self) -> Optional[str]:
        """Why waiting for this action from the calling thread would never
        end (the caller runs a handler whose return the action's end
        needs), or None."""
        me = threading.get_ident()
        if self._handler_thread == me and not self.ended:
            return "from its own start handler"
        with self._lock:
            pending = [c for c in self._children() if id(c) not in self._ended_children]
        for c in pending:
            if isinstance(c, Action):
                if c._handler_thread == me:
                    return "from a lifecycle handler of its sub-action %s" % (c.name,)
                why = c._deadlock_reason()
                if why is not None:
                    return why
            elif c._in_own_handler():
                return "from a handler of its process %s" % (c.name,)
        return None

    async def wait_async(self: _A, timeout: Optional[DurationLike] = None) -> _A:
        """Like :meth:`wait`, in an asyncio event loop: ``await
        action.wait_async()`` (no thread per wait). Returns the action."""
        if not self.started:
            raise ValueError("Trying to wait an action which has not been started: %r" % (self,))
        return await aio.wait_async(self, self._ended_event.is_set, timeout)

    def run(self: _A, timeout: Optional[DurationLike] = None) -> _A:
        """Start all processes then wait for them to complete.

        return self
        """
        return self.start().wait(timeout)

    def reset(self: _A) -> _A:
        """Reinitialize an Action so that it can later be restarted.

        If it is running, this method will first kill it then wait for its
        termination before reseting.

        As in execo 2.8.2, the action then runs with its current
        attributes: if one of those its processes are made of was changed
        since they were made (``hosts``, ``cmd``, ``process_args``,
        ``connection_params``, the files and locations of a copy...), or
        the value of a ``{{expression}}`` substitution (evaluated again, in
        the context where the action was created), new processes are made
        and replace :attr:`processes` (the old ones, ended, keep their
        results). Otherwise the same processes are reset and run again,
        so that references to them and handlers added to them stay valid.
        If the new processes cannot be made (a
        :class:`~execo.substitutions.SubstitutionError`, a ValueError for
        hosts taktuk cannot take...), reset raises and the action is left
        as it was.
        """
        if self.started and not self.ended:
            self.kill()
            self.wait()
        rebuilt = self._rebuild()
        self._call_lifecycle("reset")
        if not rebuilt:
            self._reset_children()
        with self._lock:
            self._common_reset()
        return self

    def _reset_children(self) -> None:
        for p in self._processes:
            p.reset()

    def __enter__(self: _A) -> _A:
        """Context manager enter function: returns self"""
        return self

    def __exit__(
        self, t: Optional[Type[BaseException]], v: Optional[BaseException], traceback: Optional[TracebackType]
    ) -> Literal[False]:
        """Context manager leave function: kills the action"""
        self.kill()
        return False

    # ------------------------------------------------------------ i/o

    def write(self, s: Union[str, bytes, bytearray, memoryview]) -> None:
        """Write on the standard inputs of all processes.

        Allows actions to behave as file-like objects. You can for example
        print to an action.
        """
        for p in list(self.processes):
            p.write(s)  # type: ignore[attr-defined]  # Process.write(); TaktukRemote overrides write()

    def flush(self) -> None:
        """File-like no-op (process writes are handed to the reactor at once)."""

    def expect(
        self,
        regexes: RegexesLike,
        timeout: Union[Literal[False], None, DurationLike] = False,
        stream: int = STDOUT,
        backtrack_size: Optional[int] = 2000,
        start_from_current: bool = False,
    ) -> List[Tuple[ProcessBase, Optional[int], Optional[Match[str]]]]:
        """searches the process output stream(s) for some regex. It
        mimics/takes ideas from Don Libes expect, or python-pexpect, but in
        parallel on several processes.

        It is an easier-to-use frontend for
        :class:`execo.process.ExpectOutputHandler`.

        It waits for a regex to match on all processes. Then it returns a
        list of tuples (process, regex index, match object). For processes
        / streams for which there was no match before reaching the timeout
        or the stream is eof or error, the tuple is (process, None, None).
        The returned list has the same process sort order than
        self.processes.

        It uses thread local storage such that concurrent expects in
        parallel threads do not interfere which each other.

        Called from a handler of one of its processes, it raises
        :class:`execo.exception.DeadlockError`; patterns that could
        backtrack catastrophically are searched within the timeout (see
        :meth:`execo.process.ProcessBase.expect`).

        :param regexes: a regex or list of regexes. May be given as string
          or as compiled regexes.
        :param timeout: wait timeout after which it returns (None, None)
          if no match was found. If False (the default): use the default
          expect timeout. If None: no timeout.
        :param stream: stream to monitor for this process, STDOUT or
          STDERR.
        :param backtrack_size: see
          :meth:`execo.process.ExpectOutputHandler.expect`.
        :param start_from_current: boolean. If True: when a process is
          monitored by this handler for the first time, the regex matching
          is started from the position in the stream at the time that this
          output hander starts receiving data. If False: when a process is
          monitored by this handler for the first time, the regex matching
          is started from the beginning of the stream.
        """
        processes = list(self.processes)
        matches = expect_all(
            processes, regexes, timeout, stream, backtrack_size, start_from_current, self.default_expect_timeout
        )
        return [(p, re_index, mo) for p, (re_index, mo) in zip(processes, matches)]

    # ------------------------------------------------------------ state

    @property
    def ok(self) -> bool:
        """Returns a boolean indicating if all processes are ok.

        refer to :meth:`execo.process.ProcessBase.ok` for detailed
        semantics of being ok for a process.
        """
        return all(p.ok for p in self.processes)

    @property
    def finished_ok(self) -> bool:
        """Action has started, ended, and is not in error."""
        return bool(self.started and self.ended and self.ok)

    def stats(self) -> Dict[str, Any]:
        """Return a dict summarizing the statistics of all processes of
        this Action.

        see :meth:`execo.report.Report.stats`: its ``name`` is the
        action's, its ``sub_stats`` empty (as in execo 2.x, the processes
        are counted, not listed).
        """
        stats = Report.aggregate_stats(p.stats() for p in self.processes)
        stats['name'] = self.name
        return stats

    # ------------------------------------------------------------ display

    def _args(self) -> List[str]:
        # Action's own keyword args, not a subclass's: subclasses written
        # for execo 2.8.2 (execo_g5k's Kadeployer) add theirs after these
        return Action._kwargs(self)

    def _kwargs(self) -> List[str]:
        kwargs = []
        if self.name != self._default_name():
            kwargs.append("name=%r" % (self.name,))
        if self.default_expect_timeout is not None:
            kwargs.append("default_expect_timeout=%r" % (self.default_expect_timeout,))
        return kwargs

    def _infos(self) -> List[str]:
        return [
            "name=%s" % (self.name,),
            "started=%s" % (self.started,),
            "ended=%s" % (self.ended,),
            "num_processes=%i" % (len(self.processes),),
            "ok=%s" % (self.ok,),
        ]

    def __repr__(self) -> str:
        return "%s(%s)" % (self.__class__.__name__, ", ".join(self._args()))

    def __str__(self) -> str:
        return "<%s(%s)>" % (style.object_repr(self.__class__.__name__), ", ".join(self._args() + self._infos()))


class Local(Action):
    """Launch a command localy."""

    #: the command to run
    cmd: CmdLike = None  # type: ignore[assignment]  # class-level default (documented); every instance sets it
    #: Dict of keyword arguments passed to instanciated processes.
    process_args: Dict[str, Any] = None  # type: ignore[assignment]  # class-level default (documented); every instance sets it

    def __init__(self, cmd: CmdLike, process_args: Optional[Dict[str, Any]] = None, **kwargs: Any) -> None:
        """
        :param cmd: the command to run.
        :param process_args: Dict of keyword arguments passed to
          instanciated processes.
        """
        self.cmd = cmd
        self.process_args = dict(process_args) if process_args is not None else {}
        super(Local, self).__init__(**kwargs)
        self._build()

    _build_attrs = ("cmd", "process_args")

    def _make_processes(self) -> List[ProcessBase]:
        return [Process(self.cmd, **self.process_args)]

    def _default_name(self) -> str:
        return name_from_cmdline(self.cmd)

    def _args(self) -> List[str]:
        args = [repr(self.cmd)]
        if self.process_args:
            args.append("process_args=%r" % (self.process_args,))
        return args + Action._args(self)


class _ActionsContainer(Action):
    """Common part of ParallelActions and SequentialActions: an action
    whose children are sub-actions."""

    #: Wether to hide sub actions in stats.
    hide_subactions: bool = None  # type: ignore[assignment]  # class-level default (documented); every instance sets it

    def __init__(self, actions: Union[Action, Iterable[Action]], **kwargs: Any) -> None:
        if isinstance(actions, Action):
            actions = [actions]
        self.actions = list(actions)
        for a in self.actions:
            if not isinstance(a, Action):
                raise TypeError("%s needs Actions, not %r" % (self.__class__.__name__, a))
        super(_ActionsContainer, self).__init__(**kwargs)
        self.hide_subactions = False
        for a in self.actions:
            a._parents.append(self)

    def _default_name(self) -> str:
        return "%s %i actions" % (self.__class__.__name__, len(self.actions))

    def _args(self) -> List[str]:
        return [repr(self.actions)] + Action._args(self)

    @property
    def processes(self) -> List[ProcessBase]:
        """Iterable of all :class:`execo.process.ProcessBase` of all
        sub-actions."""
        return [p for a in self.actions for p in a.processes]

    @processes.setter
    def processes(self, processes: Iterable[ProcessBase]) -> None:
        raise AttributeError("the processes of a %s are those of its sub-actions" % (self.__class__.__name__,))

    def _children(self) -> List[Any]:
        return self.actions

    def _subaction_ended(self, action: Action) -> None:
        self._child_ended(action)

    def kill(self: _AC) -> _AC:
        for a in list(self.actions):
            a.kill()
        return self

    def _reset_children(self) -> None:
        for a in self.actions:
            a.reset()

    def stats(self) -> Dict[str, Any]:
        """Aggregated stats of the sub-actions (the same totals whether or
        not sub-actions are hidden); its ``sub_stats`` lists the stats of
        each sub-action, or nothing when :attr:`hide_subactions`."""
        sub_stats = [a.stats() for a in self.actions]
        stats = Report.aggregate_stats(sub_stats)
        stats['name'] = self.name
        if not self.hide_subactions:
            stats['sub_stats'] = sub_stats
        return stats


class ParallelActions(_ActionsContainer):
    """An :class:`execo.action.Action` running several sub-Actions in
    parallel.

    Will start, kill, wait, run every action in parallel.
    """

    def _start_children(self) -> None:
        for a in list(self.actions):
            a.start()


class SequentialActions(_ActionsContainer):
    """An :class:`execo.action.Action` running several sub-actions
    sequentially.

    Will start, kill, wait, run every Action sequentially: each sub-action
    is started when the previous one has ended (from the end notification
    of the previous one, no thread is blocked waiting).  After a kill, the
    sub-actions not yet started are not started and the sequence ends when
    the running one ends.
    """

    def _common_reset(self) -> None:
        super(SequentialActions, self)._common_reset()
        self._next = 0  # index of the next sub-action to start
        self._killed = False
        self._advance_requests = 0
        self._advancing = False

    def _start_children(self) -> None:
        self._advance()

    def _check_end(self) -> None:
        pass  # the sequence ends from _advance

    def _subaction_ended(self, action: Action) -> None:
        self._advance()

    def _advance(self) -> None:
        """Start the next sub-action, or end.  A trampoline: a sub-action
        ending while another thread (or this one, deeper in the stack)
        is starting the next ones only adds a request, so a long sequence
        of immediately failing sub-actions does not recurse."""
        with self._lock:
            self._advance_requests += 1
            if self._advancing:
                return
            self._advancing = True
        while True:
            with self._lock:
                if self._advance_requests == 0 or self.ended:
                    self._advancing = False
                    return
                self._advance_requests -= 1
                if self._killed or self._next >= len(self.actions):
                    finish = True
                else:
                    finish = False
                    action = self.actions[self._next]
                    self._next += 1
            if finish:
                self._advancing_end()
                return
            else:
                try:
                    action.start()
                except Exception:
                    # a sub-action that cannot start stops the sequence,
                    # which still ends (whichever thread was advancing it)
                    logger.exception("%s: starting %s failed: the sequence stops", self, action)
                    with self._lock:
                        self._killed = True
                    self._advancing_end()
                    return
                if self._killed:
                    action.kill()

    def _advancing_end(self) -> None:
        with self._lock:
            self._advancing = False
            self._advance_requests = 0
        self._notify_end()

    def kill(self: _SA) -> _SA:
        with self._lock:
            self._killed = self.started
        return super(SequentialActions, self).kill()


class ActionNotificationProcessLH(ProcessLifecycleHandler):
    """Compatibility name (execo_g5k): ends ``action`` when
    ``total_processes`` processes it watches have ended.

    For an action subclass written for execo 2.8.2 that adds its
    processes to ``self.processes`` itself and appends this handler to
    their ``lifecycle_handlers``: at the end of the last one, it calls
    ``action._notify_terminated()``. A process that is reset no longer
    counts as ended.
    """

    _execo_thread_safe = True  # (see handlers._call_lock)

    def __init__(self, action: Action, total_processes: int) -> None:
        super(ActionNotificationProcessLH, self).__init__()
        self.action = action
        self.total_processes = total_processes
        self._lock = threading.Lock()
        self._ended: Set[int] = set()

    @property
    def terminated_processes(self) -> int:
        """How many of the watched processes have ended."""
        return len(self._ended)

    def end(self, process: ProcessBase) -> None:
        with self._lock:
            self._ended.add(id(process))
            count = len(self._ended)
        logger.debug("%i/%i processes terminated in %s", count, self.total_processes, self.action)
        if count == self.total_processes:
            self.action._notify_terminated()

    def reset(self, process: ProcessBase) -> None:
        with self._lock:
            self._ended.discard(id(process))

    def action_reset(self) -> None:
        """Forget all ends (as in execo 2.8.2)."""
        with self._lock:
            self._ended.clear()


def _check_actions(actions: Union[Action, Iterable[Action]]) -> List[Action]:
    if isinstance(actions, Action):
        actions = [actions]
    actions = list(actions)
    for a in actions:
        if not isinstance(a, Action):
            raise TypeError("not an Action: %r" % (a,))
    return actions


def _wait_actions(
    actions: List[Action], timeout: Optional[DurationLike], enough: Callable[[List[Action]], bool]
) -> List[Action]:
    timeout = get_seconds(timeout)
    deadline = None if timeout is None else time.monotonic() + timeout
    me = threading.get_ident()
    with _actions_ended_condition:
        while True:
            # (an action whose end handlers this thread runs has ended)
            ended = [a for a in actions if a._ended_event.is_set() or (a.ended and a._handler_thread == me)]
            if enough(ended):
                return ended
            period = _intr_slice(deadline)
            if period is None:
                return ended
            _actions_ended_condition.wait(period)


def wait_any_actions(actions: Union[Action, Iterable[Action]], timeout: Optional[DurationLike] = None) -> List[Action]:
    """Wait for any of the actions given to terminate.

    :param actions: An iterable of :class:`execo.action.Action`.
    :param timeout: Optional timeout in any type supported by
      :func:`execo.time_utils.get_seconds`.

    returns: iterable of :class:`execo.action.Action` which have
    terminated (a list, in the order of ``actions``; empty if the
    timeout was reached first).

    Raises :class:`execo.exception.DeadlockError` when called from a
    handler that every one of the actions waits for (see
    :meth:`Action.wait`).
    """
    actions = _check_actions(actions)
    blocked = _blocked_actions(actions)
    if actions and len(blocked) == len(actions):
        raise DeadlockError(
            "wait_any_actions() called %s: none of the actions can end before that handler returns" % (blocked[0][1],)
        )
    return _wait_actions(actions, timeout, lambda ended: len(ended) > 0 or not actions)


def wait_all_actions(actions: Union[Action, Iterable[Action]], timeout: Optional[DurationLike] = None) -> List[Action]:
    """Wait for all of the actions given to terminate.

    :param actions: An iterable of :class:`execo.action.Action`.
    :param timeout: Optional timeout in any type supported by
      :func:`execo.time_utils.get_seconds`.

    returns: iterable of :class:`execo.action.Action` which have
    terminated (a list, in the order of ``actions``: all of them unless
    the timeout was reached first).

    Raises :class:`execo.exception.DeadlockError` when called from a
    handler that one of the actions waits for (see :meth:`Action.wait`).
    """
    actions = _check_actions(actions)
    blocked = _blocked_actions(actions)
    if blocked:
        raise DeadlockError(
            "wait_all_actions() called %s: %s cannot end before that handler "
            "returns" % (blocked[0][1], blocked[0][0].name)
        )
    return _wait_actions(actions, timeout, lambda ended: len(ended) == len(actions))


def _blocked_actions(actions: List[Action]) -> List[Tuple[Action, str]]:
    """The actions (with the reason) that cannot end while the calling
    thread runs the handler it runs (see :meth:`Action.wait`)."""
    blocked = []
    for a in actions:
        why = None if a.ended else a._deadlock_reason()
        if why is not None:
            blocked.append((a, why))
    return blocked


def filter_bad_hosts(action: Action, hosts: Iterable[Union[str, Host]]) -> List[Union[str, Host]]:
    """Returns the list of host filtered from any host where any process
    of the action has failed.

    A :class:`~execo.host.Host` is dropped when it equals (address, user,
    keyfile and port) the host of a failed process; a host address (str)
    when it is the address of the host of a failed process.

    :param action: The action from which the processes are checked
    :param hosts: The iterable of hosts or host addesses to be filtered
      and returned as a list
    """
    bad_hosts = set()
    bad_addresses = set()
    for p in action.processes:
        host = getattr(p, "host", None)
        if host is not None and not p.ok:
            if isinstance(host, Host):
                bad_hosts.add(host)
            bad_addresses.add(_address(host))
    return [h for h in hosts if (h not in bad_hosts if isinstance(h, Host) else _address(h) not in bad_addresses)]


def _address(host: object) -> str:
    if isinstance(host, Host):
        return host.address
    address = getattr(host, "address", None)
    return address if address is not None else str(host)
