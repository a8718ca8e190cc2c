"""A job log: one JSON line per process, written as each one ends.

What GNU parallel's ``--joblog`` gives, in the form of
:mod:`execo.records`: after (or during) a run, a script or ``jq`` reads
what ran where, when, for how long and how it ended, and
:func:`failed_hosts` gives the hosts to run again::

    from execo import Remote
    from execo.joblog import JobLog, failed_hosts

    with JobLog("run.jsonl") as log:
        Remote("make test", hosts, lifecycle_handlers=[log]).run()
    again = failed_hosts("run.jsonl")   # the hosts that did not finish ok

A :class:`JobLog` is a lifecycle handler of actions (it then follows
their processes, sub-actions included) and of processes. Each line is
one record (schema ``execo.record/1``, see :mod:`execo.records`),
written and flushed before the process's ``wait()`` returns and before
its action ends, in one ``write`` under a lock: thousands of ends per
second from many handler threads give whole lines, never interleaved,
and the file can be read (``tail -f``, ``jq``) while the run goes on.
Strings are escaped by :func:`json.dumps` (``ensure_ascii``): a host
name or a command holding a newline or any other character stays
inside its line.
"""

from __future__ import annotations

import io
import json
import os
import threading
from typing import IO, Any, Dict, Iterable, List, Optional, Union

from .action_base import Action, ActionLifecycleHandler
from .handlers import ProcessLifecycleHandler
from .host import Host
from .log import logger
from .process_base import ProcessBase
from .records import SCHEMA, Record, process_record

__all__ = ["JobLog", "load", "latest", "failed", "failed_hosts", "hosts_of"]


class _ActionEntry(ProcessLifecycleHandler):
    """The job log's handler on the processes of one action (it knows
    the action's name)."""

    _execo_thread_safe = True  # (JobLog.write locks)

    def __init__(self, log: JobLog, action: str) -> None:
        self.log = log
        self.action = action

    def end(self, process: ProcessBase) -> None:
        self.log.write(process_record(process, self.action))


class JobLog(ProcessLifecycleHandler, ActionLifecycleHandler):
    """Appends one JSON line per ended process to ``target``.

    :param target: a path (opened for appending, UTF-8, created if
      missing) or a file object open for text writing (flushed after each
      line, not closed by :meth:`close`).
    :param truncate: with a path, start a new file instead of appending.

    Use it as a lifecycle handler of actions (``Remote(...,
    lifecycle_handlers=[log])``: from the action's start on, its
    processes are followed) or of processes (their action is then null in
    the records), or call :meth:`follow` on actions or processes before
    starting them. A process reset and run again gives one line per run.
    """

    _execo_thread_safe = True  # (write locks)

    def __init__(self, target: Union[str, os.PathLike[str], IO[str]], truncate: bool = False) -> None:
        self._lock = threading.Lock()
        self._own = isinstance(target, (str, os.PathLike))
        self._file: Optional[IO[str]]
        if self._own:
            self._file = open(target, "w" if truncate else "a", encoding="utf-8")  # type: ignore[arg-type]
        elif hasattr(target, "write"):
            self._file = target  # type: ignore[assignment]
        else:
            raise TypeError("a JobLog writes to a path or a text file object, not %r" % (target,))
        self.path = os.fspath(target) if self._own else getattr(target, "name", None)  # type: ignore[arg-type]
        #: lines written so far
        self.count = 0

    # ------------------------------------------------ following

    def follow(self, *sources: Union[Action, ProcessBase, Iterable[Any]]) -> JobLog:
        """Log the ends of the processes of ``sources`` (actions, the
        sub-actions of :class:`~execo.action.ParallelActions` and
        :class:`~execo.action.SequentialActions` each with its own name,
        processes, or lists of them); returns the job log. Following a
        process twice logs it once."""
        for source in sources:
            if isinstance(source, Action):
                children = getattr(source, "actions", None)
                if children is not None:
                    self.follow(*children)
                else:
                    entry = _ActionEntry(self, source.name)
                    for p in source.processes:
                        self._attach(p, entry)
            elif isinstance(source, ProcessBase):
                self._attach(source, self)
            elif isinstance(source, Iterable) and not isinstance(source, (str, bytes)):
                self.follow(*source)
            else:
                raise TypeError("a JobLog follows actions and processes, not %r" % (source,))
        return self

    def _attach(self, process: ProcessBase, handler: ProcessLifecycleHandler) -> None:
        handlers = process.lifecycle_handlers
        if any(h is self or (isinstance(h, _ActionEntry) and h.log is self) for h in handlers):
            return
        # first: the line is written before the action counts the end
        handlers.insert(0, handler)

    # ------------------------------------------------ lifecycle

    def start(self, source: Any) -> None:
        """An action starts (its processes are followed from now on), or a
        process does (nothing to do)."""
        if isinstance(source, Action):
            self.follow(source)

    def end(self, source: Any) -> None:
        """A process ended: its line is written (an action's end writes
        nothing: its processes have each written theirs)."""
        if isinstance(source, ProcessBase):
            self.write(process_record(source))

    def reset(self, source: Any) -> None:
        """Nothing: a process run again after a reset gets a new line."""

    # ------------------------------------------------ writing

    def write(self, record: Record) -> None:
        """Append one record (a dict of JSON types) as a line, flushed."""
        line = json.dumps(record, ensure_ascii=True, allow_nan=False, default=str) + "\n"
        with self._lock:
            f = self._file
            if f is None:
                logger.warning("job log %s is closed: record of %r not written", self.path, record.get("name"))
                return
            f.write(line)
            f.flush()
            self.count += 1

    def close(self) -> None:
        """Stop writing (the file is closed if the job log opened it)."""
        with self._lock:
            f, self._file = self._file, None
        if f is not None and self._own:
            f.close()

    def __enter__(self) -> JobLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return "<JobLog %r, %d lines>" % (self.path, self.count)


# ------------------------------------------------------------ reading


def load(source: Union[str, os.PathLike[str], IO[str]]) -> List[Record]:
    """The records of a job log (a path or a text file object), in order.

    Lines of another schema family are skipped; a last line cut short
    (the run was killed while writing it) is skipped with a warning;
    any other line that is not a JSON object is a ValueError naming it."""
    if isinstance(source, (str, os.PathLike)):
        with open(source, encoding="utf-8", errors="surrogateescape") as f:
            return _parse(f, os.fspath(source))
    return _parse(source, getattr(source, "name", "job log"))


def _parse(f: Iterable[str], name: Any) -> List[Record]:
    records: List[Record] = []
    lines = list(f)
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            if number == len(lines) and not line.endswith("\n"):
                logger.warning("%s: last line cut short, skipped", name)
                continue
            raise ValueError("%s, line %d: not a JSON line" % (name, number)) from None
        if not isinstance(record, dict):
            raise ValueError("%s, line %d: not a JSON object" % (name, number))
        schema = record.get("schema")
        if not isinstance(schema, str) or schema.split("/")[0] != SCHEMA.split("/")[0]:
            continue
        records.append(record)
    return records


def _key(record: Record) -> Any:
    host = record.get("host") or {}
    cmd = record.get("cmd")
    return (
        host.get("address"),
        host.get("user"),
        host.get("port"),
        record.get("name") if not host else None,
        tuple(cmd) if isinstance(cmd, list) else cmd,
    )


def latest(records: Iterable[Record]) -> List[Record]:
    """The last record of each job (same host and command, whatever the
    action; for a local process, same name and command), in the order of
    the jobs' first records: after a retry appended to the same log, a
    job's outcome is that of its last run."""
    last: Dict[Any, Record] = {}
    for r in records:
        last[_key(r)] = r  # (a dict keeps the key's first place)
    return list(last.values())


def failed(source: Union[str, os.PathLike[str], IO[str], Iterable[Record]]) -> List[Record]:
    """The jobs whose last run did not finish ok (``finished_ok`` false:
    non-zero exit, timeout, connection error, killed, never started),
    from a job log or records."""
    records: List[Record]
    if isinstance(source, (str, os.PathLike, io.IOBase)):
        records = load(source)
    else:
        records = list(source)  # type: ignore[arg-type]  # (what remains: records)
    return [r for r in latest(records) if not r.get("finished_ok")]


def hosts_of(records: Iterable[Record]) -> List[Host]:
    """The hosts of ``records`` (local ones have none), each once, in
    order, made with their recorded user and port. A recorded address,
    user or port that cannot be one (a tampered log: a leading ``-``,
    spaces, quotes, ``$(...)``...) is a ValueError, as in
    :class:`~execo.host.Host`: a log's names never reach a command line
    unchecked."""
    hosts: List[Host] = []
    seen = set()
    for r in records:
        h = r.get("host")
        if not h:
            continue
        if not isinstance(h, dict):
            raise ValueError("a record's host must be an object, not %r" % (h,))
        key = (h.get("address"), h.get("user"), h.get("port"))
        if key in seen:
            continue
        seen.add(key)
        address = h.get("address")
        if not isinstance(address, str):
            raise ValueError("a record's host address must be a string, not %r" % (address,))
        hosts.append(Host(address, user=h.get("user"), port=h.get("port")))
    return hosts


def failed_hosts(
    source: Union[str, os.PathLike[str], IO[str], Iterable[Record]], action: Optional[str] = None
) -> List[Host]:
    """The hosts of the failed jobs (:func:`failed`; ``action``: only the
    jobs of the action of that name), as :func:`hosts_of` makes them."""
    return hosts_of(r for r in failed(source) if action is None or r.get("action") == action)
