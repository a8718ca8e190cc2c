"""Records of processes: what ran, where, when, and how it ended, as data.

One record per process: a dict of JSON types, the same in a job log
(:class:`execo.joblog.JobLog`, one JSON line per process as it ends), in
:meth:`Report.to_dict(processes=True) <execo.report.Report.to_dict>` and
as the input of the timeline (:mod:`execo.timeline`). The keys of schema
``execo.record/1`` (:data:`SCHEMA`):

================== ==========================================================
``schema``         ``"execo.record/1"``; a later schema adds keys, a new
                   number means a key changed meaning
``action``         name of the action the process belongs to, or null
``name``           the process's name
``kind``           its class: ``Process``, ``SshProcess``, ``TaktukProcess``...
``host``           ``{"address", "user", "port"}`` of a remote process, or
                   null (local)
``cmd``            the command as given (a string, or a list of arguments);
                   for a remote process, the remote command
``shell``          a local command run by ``/bin/sh -c`` (``Process(...,
                   shell=True)``); false for a remote one
``submitted``      unix time start() was called (null: never started)
``start``          unix time the child was spawned (later than ``submitted``
                   when it waited for a slot, see :mod:`execo.start_queue`;
                   null: never spawned)
``end``            unix time the process ended (null: not ended)
``queued``         seconds between ``submitted`` and ``start``
``duration``       seconds between ``start`` and ``end``
``exit_code``      exit code, ``-N`` for signal N, or null
``outcome``        one of :data:`OUTCOMES` (see :func:`outcome`)
``ok``             :attr:`ProcessBase.ok <execo.process.ProcessBase.ok>`
``finished_ok``    :attr:`ProcessBase.finished_ok
                   <execo.process.ProcessBase.finished_ok>`
``error``          a spawn or connection error
``error_reason``   its reason (a string or an errno number), or null
``timeouted``      the process reached its timeout
``killed``         kill() was called on it
``forced_kill``    it had to be killed with SIGKILL
``expect_fail``    an expect() on it failed
``write_error``    a write to its stdin failed
``stdout_bytes``   bytes read from its stdout (kept or not)
``stderr_bytes``   bytes read from its stderr (kept or not)
================== ==========================================================

``queued`` and ``duration`` come from the monotonic clock (they do not
jump with the wall clock); the three dates from the wall clock, for
putting the run in time. Every string in a record comes from the
program or from the process (its name, its host's address): readers
treat them as data.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Dict, Iterable, List, Optional, Union

if TYPE_CHECKING:
    from .action_base import Action
    from .process_base import ProcessBase

#: the record's schema name and version
SCHEMA = "execo.record/1"

#: a record: a dict of JSON types (see the module's text)
Record = Dict[str, Any]

#: the outcomes, worst last but for the unfinished ones: what a timeline
#: colours and what :func:`failed` keeps (all but ``ok``)
OUTCOMES = ("ok", "exit", "killed", "timeout", "error", "running", "not_started")

_STDOUT, _STDERR = 1, 2


def outcome(process: ProcessBase) -> str:
    """How ``process`` ended, in one word: ``not_started``, ``running``
    (not ended yet), ``error`` (it could not be started or connect),
    ``timeout``, ``killed``, ``exit`` (a non-zero exit code, even one the
    process ignores) or ``ok``."""
    if not process.started:
        return "not_started"
    if not process.ended:
        return "running"
    if process.error:
        return "error"
    if process.timeouted:
        return "timeout"
    if process.killed:
        return "killed"
    if process.exit_code != 0:
        return "exit"
    return "ok"


def _cmd(process: ProcessBase) -> Union[str, List[str], None]:
    cmd = getattr(process, "remote_cmd", None)
    if cmd is None:
        cmd = getattr(process, "cmd", None)
    if cmd is None or isinstance(cmd, str):
        return cmd
    if isinstance(cmd, bytes):
        return cmd.decode("utf-8", "surrogateescape")
    return [a.decode("utf-8", "surrogateescape") if isinstance(a, bytes) else str(a) for a in cmd]


def _error_reason(reason: Any) -> Union[str, int, None]:
    if reason is None or isinstance(reason, (str, int)):
        return reason
    return str(reason)


def _nread(process: ProcessBase, stream: int) -> int:
    streams = getattr(process, "_streams", None)
    return int(streams[stream].collector.nread) if streams else 0


def _seconds(later: Optional[float], earlier: Optional[float]) -> Optional[float]:
    if later is None or earlier is None:
        return None
    return round(later - earlier, 6)


def process_record(process: ProcessBase, action: Optional[Union[Action, str]] = None) -> Record:
    """The record of ``process`` now (see the module's text), as part of
    ``action`` (an action or its name; None: none)."""
    host = process.host
    started = process.started
    submit_mono = process._submit_monotonic if started else None
    start_mono = process._start_monotonic if process.start_date is not None else None
    end_mono = process._end_monotonic if process.ended else None
    start = process.start_date
    submitted: Optional[float]
    if start is not None and submit_mono is not None and start_mono is not None:
        submitted = start - (start_mono - submit_mono)
    elif started:
        submitted = start if start is not None else process.end_date
    else:
        submitted = None
    return {
        "schema": SCHEMA,
        "action": action if action is None or isinstance(action, str) else action.name,
        "name": process.name,
        "kind": type(process).__name__,
        "host": None if host is None else {"address": host.address, "user": host.user, "port": host.port},
        "cmd": _cmd(process),
        "shell": bool(host is None and getattr(process, "shell", False)),
        "submitted": submitted,
        "start": start,
        "end": process.end_date,
        "queued": _seconds(start_mono, submit_mono),
        "duration": _seconds(end_mono, start_mono),
        "exit_code": process.exit_code,
        "outcome": outcome(process),
        "ok": bool(process.ok),
        "finished_ok": bool(process.finished_ok),
        "error": bool(process.error),
        "error_reason": _error_reason(process.error_reason),
        "timeouted": bool(process.timeouted),
        "killed": bool(process.killed),
        "forced_kill": bool(process.forced_kill),
        "expect_fail": bool(process.expect_fail),
        "write_error": bool(process.write_error),
        "stdout_bytes": _nread(process, _STDOUT),
        "stderr_bytes": _nread(process, _STDERR),
    }


def records_of(source: Any, action: Optional[str] = None) -> List[Record]:
    """The records of every process in ``source``: a process, an action
    (a :class:`~execo.action.ParallelActions` or
    :class:`~execo.action.SequentialActions`: those of its sub-actions,
    each named after its own action), a :class:`~execo.report.Report`
    (its objects, recursively), records (dicts, kept as they are), the
    path of a job log (:func:`execo.joblog.load`), or a list of these.
    ``action``: the action name for processes given directly."""
    from .action_base import Action
    from .process_base import ProcessBase
    from .report import Report

    if isinstance(source, dict):
        return [source]
    if isinstance(source, (str, os.PathLike)):
        from .joblog import load

        return load(source)
    if isinstance(source, ProcessBase):
        return [process_record(source, action)]
    if isinstance(source, Action):
        children = getattr(source, "actions", None)
        if children is not None:
            return records_of(children)
        return [process_record(p, source.name) for p in source.processes]
    if isinstance(source, Report):
        return records_of(source.stats_objects)
    own = getattr(source, "records", None)
    if callable(own):  # a saved report's entry, or another stats object
        return list(own())
    if isinstance(source, Iterable):
        return [r for item in source for r in records_of(item, action)]
    raise TypeError("no process records in %r" % (source,))
