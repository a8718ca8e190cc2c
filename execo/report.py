"""Summaries of the results of processes, actions and other reports."""

from __future__ import annotations

import copy
import json
import re
from typing import TYPE_CHECKING, Any, Dict, Iterable, List, Mapping, Optional, Tuple, Type, TypeVar, Union

from .log import style
from .time_utils import format_date, format_duration

if TYPE_CHECKING:
    from typing import Protocol

    class StatsObject(Protocol):
        """What a Report accepts: an object with a ``stats()`` method."""

        def stats(self) -> Dict[str, Any]: ...


_ReportT = TypeVar("_ReportT", bound="Report")

__all__ = ['Report']

#: the schema of :meth:`Report.to_dict`
REPORT_SCHEMA = "execo.report/1"

_COUNTERS = (
    'num_processes',
    'num_started',
    'num_ended',
    'num_errors',
    'num_timeouts',
    'num_forced_kills',
    'num_non_zero_exit_codes',
    'num_expect_fail',
    'num_write_error',
    'num_ok',
    'num_finished_ok',
)

# (column title, stats key) of the counters shown by Report.to_string
_COLUMNS = (
    ('total', 'num_processes'),
    ('startd', 'num_started'),
    ('ended', 'num_ended'),
    ('error', 'num_errors'),
    ('timout', 'num_timeouts'),
    ('fkilld', 'num_forced_kills'),
    ('expfld', 'num_expect_fail'),
    ('wrterr', 'num_write_error'),
    ('ret!=0', 'num_non_zero_exit_codes'),
    ('ok', 'num_ok'),
    ('finok', 'num_finished_ok'),
)
_FAILURE_KEYS = (
    'num_errors',
    'num_timeouts',
    'num_forced_kills',
    'num_expect_fail',
    'num_write_error',
    'num_non_zero_exit_codes',
)
_COUNTER_WIDTH = 7
_DATE_WIDTH = 19  # 'YYYY-MM-DD HH:MM:SS', local time
_LENGTH_WIDTH = 14
_NARROW_NAME_WIDTH = 24
_WIDE_NAME_WIDTH = 40


def _cell(text: object, width: int) -> str:
    """Left-justify ``text`` in ``width`` columns, cutting it if longer."""
    return ("%-*s" % (width, text))[:width]


def _count_cell(count: object) -> str:
    """A counter, left-justified; never cut (a wrong number is worse than
    a long line)."""
    return "%-*s" % (_COUNTER_WIDTH, count)


# control characters (a newline in a name given by a script, an escape
# sequence from a command line) would break or restyle the table
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _shorten(name: str, width: int) -> str:
    """``name`` in at most ``width`` columns: a longer one keeps its first
    word and its last words around ``...`` (the kind of a default action
    name, and its number of hosts: "Remote 'uptime' on 1000 hosts" gives
    "Remote 'upt...1000 hosts" in 24 columns)."""
    name = _CONTROL.sub("?", name)
    if len(name) <= width:
        return name
    if width < 8:
        return name[:width]
    keep = width - 3
    first_word = len(name.split(" ", 1)[0])
    tail = name[len(name) - (keep - max(min(first_word, keep - 4), keep // 2)) :]
    if " " in tail and name[len(name) - len(tail) - 1] != " ":
        tail = tail[tail.index(" ") + 1 :]  # from the start of a word
    return name[: keep - len(tail)] + "..." + tail


def _date_cell(date: Optional[float]) -> str:
    """Local date and time of a unix timestamp (no time zone), '' for None."""
    return (format_date(date) or "")[:_DATE_WIDTH]


def _length(stats: Mapping[str, Any]) -> str:
    """Formatted duration between start and end dates, '' if unknown."""
    if stats.get('start_date') is None or stats.get('end_date') is None:
        return ""
    duration: float = stats['end_date'] - stats['start_date']  # unix timestamps
    return format_duration(duration)


class Report:
    """Summary of one or more ``execo.action.Action``.

    A Report gathers the results of actions or (recursively) of other
    reports. More generally it accepts any *stats object*: an object with a
    ``stats()`` method returning a dict with the dates and counters of
    :meth:`empty_stats` (its ``name`` and ``sub_stats`` may be left out:
    the object's ``name`` attribute is then used), such as processes,
    actions and reports. The report keeps references to the objects, so
    its statistics are always the current ones.
    """

    def __init__(self, stats_objects: Optional[Union[StatsObject, Iterable[StatsObject]]] = None) -> None:
        """
        :param stats_objects: iterable of stats objects (or None).
        """
        self._stats_objects: List[StatsObject] = []
        self._name: Optional[str] = None
        if stats_objects is not None:
            self.add(stats_objects)

    @property
    def name(self) -> str:
        """Name given to this report. If None, a default name will be given."""
        return self._name if self._name is not None else self.__class__.__name__

    @name.setter
    def name(self, value: Optional[str]) -> None:
        self._name = value

    @property
    def stats_objects(self) -> List[StatsObject]:
        """List (a copy) of the stats objects registered to this report."""
        return list(self._stats_objects)

    def _reaches(self, report: Report) -> bool:
        """Whether ``report`` is this report or one of its (recursive) sub-reports."""
        if self is report:
            return True
        return any(isinstance(o, Report) and o._reaches(report) for o in self._stats_objects)

    def add(self: _ReportT, stats_objects: Union[StatsObject, Iterable[StatsObject]]) -> _ReportT:
        """Add some sub-:class:`Report` or ``execo.action.Action`` to this report.

        :param stats_objects: iterable of stats objects; a single stats
          object is accepted too.
        """
        if hasattr(stats_objects, 'stats'):
            stats_objects = [stats_objects]  # type: ignore[list-item]  # hasattr() does not narrow the Union
        new_objects = list(stats_objects)
        for obj in new_objects:
            if not callable(getattr(obj, 'stats', None)):
                raise TypeError("cannot add %r to a Report: it has no stats() method" % (obj,))
            if isinstance(obj, Report) and obj._reaches(self):
                raise ValueError("cannot add %r to %r: it would make a cycle" % (obj, self))
        self._stats_objects.extend(new_objects)
        return self

    @staticmethod
    def empty_stats() -> Dict[str, Any]:
        """Return a stats initialized to zero (dates None, counters 0,
        ``name`` None, ``sub_stats`` an empty list)."""
        stats: Dict[str, Any] = {'name': None, 'start_date': None, 'end_date': None}
        stats.update((key, 0) for key in _COUNTERS)
        stats['sub_stats'] = []
        return stats

    @staticmethod
    def aggregate_stats(stats_list: Union[Mapping[str, Any], Iterable[Mapping[str, Any]]]) -> Dict[str, Any]:
        """Return the stats aggregating an iterable of stats dicts.

        Counters are summed; start_date is the earliest one; end_date is
        the latest one, or None if any end_date is None. The result's
        ``name`` is None and its ``sub_stats`` empty (the caller sets
        them). Keys other than those of :meth:`empty_stats` are ignored.

        As in execo 2.x, a single stats dict may be given instead: the
        result is a copy of it (its ``name`` and ``sub_stats`` kept) whose
        counters and dates also take its ``sub_stats`` into account.
        """
        if isinstance(stats_list, Mapping):
            return Report._aggregate_tree(stats_list)
        total = Report.empty_stats()
        start_dates = []
        end_dates = []
        all_ended = True
        for stats in stats_list:
            for key in _COUNTERS:
                total[key] += stats.get(key, 0)
            if stats.get('start_date') is not None:
                start_dates.append(stats['start_date'])
            if stats.get('end_date') is None:
                all_ended = False
            else:
                end_dates.append(stats['end_date'])
        if start_dates:
            total['start_date'] = min(start_dates)
        if end_dates and all_ended:
            total['end_date'] = max(end_dates)
        return total

    @staticmethod
    def _aggregate_tree(stats: Mapping[str, Any]) -> Dict[str, Any]:
        """execo 2.x's aggregate_stats(stats): ``stats`` plus its sub_stats."""
        sub_stats = list(stats.get('sub_stats') or ())
        below = Report.aggregate_stats(sub_stats)
        result = dict(stats)
        result.setdefault('name', None)
        result['sub_stats'] = sub_stats
        for key in _COUNTERS:
            result[key] = stats.get(key, 0) + below[key]
        starts = [d for d in (stats.get('start_date'), below['start_date']) if d is not None]
        result['start_date'] = min(starts) if starts else None
        if sub_stats and below['end_date'] is None:
            result['end_date'] = None  # a sub-entry has not ended
        else:
            ends = [d for d in (stats.get('end_date'), below['end_date']) if d is not None]
            result['end_date'] = max(ends) if ends else None
        return result

    @staticmethod
    def _entry_stats(obj: StatsObject) -> Dict[str, Any]:
        """``obj.stats()``, with a ``name`` (the object's, if its stats
        have none) and a ``sub_stats`` list, so that every node of the
        tree has both."""
        stats = obj.stats()
        if stats.get('name') is None or not isinstance(stats.get('sub_stats'), list):
            stats = dict(stats)
            if stats.get('name') is None:
                stats['name'] = str(getattr(obj, 'name', None) or type(obj).__name__)
            if not isinstance(stats.get('sub_stats'), list):
                stats['sub_stats'] = []
        return stats

    def stats(self) -> Dict[str, Any]:
        """Return a dict summarizing the statistics of all
        ``execo.action.Action`` and sub-:class:`Report` registered to this report.

        This stats dict contains the following metrics:

        - ``start_date``: earliest start date (unix timestamp) of all
          Action or None if none have started yet.
        - ``end_date``: latest end date (unix timestamp) of all Action or
          None if not available (not all started, not all ended).
        - ``num_processes``: number of processes in all Action.
        - ``num_started``: number of processes that have started.
        - ``num_ended``: number of processes that have ended.
        - ``num_errors``: number of processes that went in error when
          started.
        - ``num_timeouts``: number of processes that had to be killed
          (SIGTERM) after reaching their timeout.
        - ``num_forced_kills``: number of processes that had to be
          forcibly killed (SIGKILL) after not responding for some time.
        - ``num_non_zero_exit_codes``: number of processes that ran
          correctly but whose return code was != 0.
        - ``num_expect_fail``: number of processes on which there was an
          expect failure, i.e. the expect search did not find a match
          before reaching the expect timeout or the stream eof/error.
        - ``num_write_error``: number of processes on which there was a
          write error.
        - ``num_ok``: number of processes which:

          - did not started
          - started and not yet ended
          - started and ended and did not went in error (or where
            launched with flag ignore_error), did not timeout (or where
            launched with flag ignore_timeout), and had an exit code == 0
            (or where launched with flag ignore_exit_code).

        - ``num_finished_ok``: number of processes which started, ended,
          and are ok.

        As in execo 2.x, it also holds the tree of the registered
        objects' stats:

        - ``name``: the name of this report.
        - ``sub_stats``: the list of the stats of each registered object,
          in the order they were added, each with its own ``name`` and
          ``sub_stats``: a sub-report's entries, a
          :class:`~execo.action.ParallelActions` or
          :class:`~execo.action.SequentialActions`'s sub-actions (none
          when ``hide_subactions``). An action's or a process's
          ``sub_stats`` is empty: processes are not listed.

        The stats of execo's objects only hold str, int, float (dates
        are unix timestamps), None, lists and dicts: ``json.dumps(stats)``
        works.
        """
        sub_stats = [Report._entry_stats(o) for o in self._stats_objects]
        stats = Report.aggregate_stats(sub_stats)
        stats['name'] = self.name
        stats['sub_stats'] = sub_stats
        return stats

    def to_dict(self, processes: bool = False) -> Dict[str, Any]:
        """(beyond the original execo) The report as data, for a file and a
        later comparison between runs (:meth:`from_dict`).

        The :meth:`stats` tree (sub-reports, actions and sub-actions, each
        with its dates and counters), with ``"schema":
        "execo.report/1"`` at the top. With ``processes``, each node of
        an action or a process also has a ``"processes"`` list: the
        record of each of its processes (:mod:`execo.records`, the lines
        of a job log). Only JSON types: ``json.dumps`` works."""
        tree = self.stats()
        if processes:
            _add_records(tree, self)
        tree['schema'] = REPORT_SCHEMA
        return tree

    def to_json(self, processes: bool = False, indent: Optional[int] = None) -> str:
        """(beyond the original execo) :meth:`to_dict` as a JSON text."""
        return json.dumps(self.to_dict(processes), indent=indent, ensure_ascii=True, default=str)

    @classmethod
    def from_dict(cls: Type[_ReportT], data: Mapping[str, Any]) -> _ReportT:
        """(beyond the original execo) A report made from :meth:`to_dict`'s
        data (of this run or an earlier one): its :meth:`stats`,
        :meth:`to_string`, :meth:`to_dict` and :meth:`records` are those
        saved. It can be added to another report, to see two runs side
        by side. Data of another schema is a ValueError."""
        schema = data.get('schema') if isinstance(data, Mapping) else None
        if not isinstance(schema, str) or schema.split('/')[0] != REPORT_SCHEMA.split('/')[0]:
            raise ValueError("not the data of a Report.to_dict() (schema %r)" % (schema,))
        sub_stats = data.get('sub_stats') or []
        if not isinstance(sub_stats, list) or not all(isinstance(s, Mapping) for s in sub_stats):
            raise ValueError("a saved report's sub_stats must be a list of dicts")
        report = cls()
        report.name = data.get('name')
        report.add([_SavedStats(s) for s in sub_stats])
        return report

    @classmethod
    def from_json(cls: Type[_ReportT], text: Union[str, bytes]) -> _ReportT:
        """(beyond the original execo) :meth:`from_dict` of a JSON text."""
        return cls.from_dict(json.loads(text))

    def records(self) -> List[Dict[str, Any]]:
        """(beyond the original execo) The record of every process of the
        report (see :mod:`execo.records`), in the order of the tree."""
        from .records import records_of

        return records_of(self)

    def to_string(self, wide: bool = False, brief: bool = False) -> str:
        """Returns a formatted string with a human-readable stats of all Action results.

        One entry per registered object (action, sub-report, process
        added to the report) and, indented under it, one per entry of its
        ``sub_stats`` (see :meth:`stats`: a sub-report's entries, the
        sub-actions of a ParallelActions or SequentialActions), then a
        Total line: an action of 1000 processes is one entry, not 1000.
        Each entry shows its name, start and end dates (local time),
        length and counters (see the header lines). A name too long for
        its column keeps its start and end around ``...``. Lines with
        failed processes are highlighted when colours are on.

        :param wide: if False (default), report format is designed for 80
          columns display (two lines per entry). If True, output a (175
          characters) wide report (one line per entry).
        :param brief: when True, only the Total stats is output, not each
          Action or Report stats. Default is False.
        """
        name_width = _WIDE_NAME_WIDTH if wide else _NARROW_NAME_WIDTH
        titles = "".join(_cell(title, _COUNTER_WIDTH) for title, _ in _COLUMNS)
        first = "%s %s %s %s" % (
            _cell("Name", name_width),
            _cell("start", _DATE_WIDTH),
            _cell("end", _DATE_WIDTH),
            _cell("length", _LENGTH_WIDTH),
        )
        if wide:
            header = [first + " " + titles]
        else:
            header = [first, "  " + titles]
        rule = "-" * max(len(line.rstrip()) for line in header)
        lines = [line.rstrip() for line in header] + [rule]

        def format_entry(name: str, indent: int, stats: Mapping[str, Any]) -> List[str]:
            failed = stats.get('num_ok', 0) < stats.get('num_processes', 0)
            counters = []
            for _, key in _COLUMNS:
                cell = _count_cell(stats.get(key, 0))
                if key in _FAILURE_KEYS and stats.get(key, 0):
                    cell = style.report_error(cell) if failed else style.report_warn(cell)
                counters.append(cell)
            name_cell = _cell(" " * indent + _shorten(name, max(name_width - indent, 0)), name_width)
            if failed:
                name_cell = style.report_error(name_cell)
            first = "%s %s %s %s" % (
                name_cell,
                _cell(_date_cell(stats.get('start_date')), _DATE_WIDTH),
                _cell(_date_cell(stats.get('end_date')), _DATE_WIDTH),
                _cell(_length(stats), _LENGTH_WIDTH),
            )
            if wide:
                return [(first + " " + "".join(counters)).rstrip()]
            return [first.rstrip(), ("  " + "".join(counters)).rstrip()]

        def format_tree(stats: Mapping[str, Any], indent: int) -> List[str]:
            result = format_entry(str(stats.get('name')), indent, stats)
            for sub in self._sorted(stats.get('sub_stats') or ()):
                result.extend(format_tree(sub, indent + 2))
            return result

        total = self.stats()
        if not brief and total['sub_stats']:
            for entry in self._sorted(total['sub_stats']):
                lines.extend(format_tree(entry, 0))
            lines.append(rule)
        lines.extend(format_entry("Total", 0, total))
        return "\n".join(lines) + "\n"

    @staticmethod
    def _sorted(stats_list: Iterable[Mapping[str, Any]]) -> List[Mapping[str, Any]]:
        """Stats by start date, not started ones last, else in insertion order."""

        def key(stats: Mapping[str, Any]) -> Tuple[bool, float]:
            start = stats.get('start_date')
            return (start is None, start or 0)

        return sorted(stats_list, key=key)

    def __repr__(self) -> str:
        return "<Report(name=%r, %i entries)>" % (self.name, len(self._stats_objects))

    def __str__(self) -> str:
        return self.to_string()


class _SavedStats:
    """One entry of a saved report (:meth:`Report.from_dict`): its stats
    and process records as they were saved."""

    def __init__(self, node: Mapping[str, Any]) -> None:
        self._node = copy.deepcopy(dict(node))
        self.name = self._node.get('name')

    def stats(self) -> Dict[str, Any]:
        return _without_records(self._node)

    def records(self) -> List[Dict[str, Any]]:
        found: List[Dict[str, Any]] = []
        _collect_records(self._node, found)
        return found

    def saved(self) -> Dict[str, Any]:
        return copy.deepcopy(self._node)

    def __repr__(self) -> str:
        return "<saved stats of %r>" % (self.name,)


def _without_records(node: Mapping[str, Any]) -> Dict[str, Any]:
    result = {k: copy.deepcopy(v) for k, v in node.items() if k not in ('processes', 'schema', 'sub_stats')}
    result['sub_stats'] = [_without_records(s) for s in node.get('sub_stats') or ()]
    return result


def _collect_records(node: Mapping[str, Any], found: List[Dict[str, Any]]) -> None:
    found.extend(copy.deepcopy(node.get('processes') or []))
    for sub in node.get('sub_stats') or ():
        _collect_records(sub, found)


def _add_records(node: Dict[str, Any], obj: Any) -> None:
    """Put the process records of ``obj`` (whose stats are ``node``) in
    the tree: a list per action or process node."""
    from .records import records_of

    if isinstance(obj, _SavedStats):
        node.clear()
        node.update(obj.saved())
        return
    subs = node.get('sub_stats') or []
    children = obj.stats_objects if isinstance(obj, Report) else getattr(obj, 'actions', None)
    if children is not None and (subs or isinstance(obj, Report)):
        for sub, o in zip(subs, children):
            _add_records(sub, o)
    else:  # a process, an action of processes, one hiding its sub-actions
        node['processes'] = records_of(obj)
