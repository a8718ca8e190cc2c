"""A run drawn as a timeline: one row per process, one bar per life.

:func:`draw_timeline` takes process records (:mod:`execo.records`: of a
job log, a report, an action, processes) and draws a Gantt chart: a bar
from the spawn to the end of each process, coloured by its outcome, the
wait for a start slot (``queued``) as a light bar before it, a cross for
a process that never spawned. Rows are in order of submission, the first
at the top; the x axis counts seconds from the first submission.

Over ``max_rows`` processes, consecutive ones share a row: its light bar
spans the group (first start to last end), its dark bar goes from the
median start to the median end, its colour is the worst outcome in the
group and a note at its right counts what did not end ok. Stragglers
show as light bars reaching far to the right of the dark ones.

It needs matplotlib (``pip install 'execo[plot]'``), imported only when
a picture is drawn. Labels are host addresses or process names: data,
never markup (no mathtext, control characters replaced, truncated).
"""

from __future__ import annotations

import math
import os
import statistics
import time
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Sequence, Tuple, Union, cast

from .records import OUTCOMES, Record, records_of

if TYPE_CHECKING:
    from matplotlib.figure import Figure

#: colour of each outcome (the Okabe-Ito palette: told apart with the
#: common colour-vision deficiencies)
COLOURS: Dict[str, str] = {
    "ok": "#009E73",
    "exit": "#E69F00",
    "killed": "#CC79A7",
    "timeout": "#0072B2",
    "error": "#D55E00",
    "running": "#999999",
    "not_started": "#000000",
}
_QUEUED_COLOUR = "#D9D9D9"
#: picture formats, by file suffix
FORMATS = (".png", ".svg", ".pdf")
_LABEL_MAX = 32
_ROW_INCHES = 0.2


def _format_of(path: Union[str, os.PathLike[str]]) -> str:
    suffix = os.path.splitext(os.fspath(path))[1].lower()
    if suffix not in FORMATS:
        raise ValueError("a timeline is drawn to a .png, .svg or .pdf file, not %r" % (os.fspath(path),))
    return suffix[1:]


def _import_matplotlib() -> Any:
    try:
        import matplotlib
        from matplotlib.figure import Figure
    except ImportError as e:
        raise ImportError("the timeline needs matplotlib: pip install 'execo[plot]'") from e
    return matplotlib, Figure


def _clean(text: Any, limit: int = _LABEL_MAX) -> str:
    """``text`` as one printable line of at most ``limit`` characters."""
    s = "".join(c if c.isprintable() else "\ufffd" for c in str(text))
    return s if len(s) <= limit else s[: limit - 1] + "\u2026"


def _label(record: Record) -> str:
    host = record.get("host")
    if isinstance(host, dict) and host.get("address") is not None:
        label = str(host["address"])
        if host.get("user"):
            label = "%s@%s" % (host["user"], label)
        return _clean(label)
    return _clean(record.get("name") or "?")


def _number(value: Any) -> Optional[float]:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


class _Life:
    """One record's times on the picture's clock (seconds from ``t0``)."""

    __slots__ = ("label", "outcome", "submitted", "start", "end")

    def __init__(self, record: Record, t0: float, now: float) -> None:
        self.label = _label(record)
        outcome = record.get("outcome")
        self.outcome = outcome if outcome in COLOURS else "error"
        start = _number(record.get("start"))
        submitted = _number(record.get("submitted"))
        end = _number(record.get("end"))
        duration = _number(record.get("duration"))
        queued = _number(record.get("queued"))
        self.start = None if start is None else start - t0
        if self.start is not None and queued is not None:
            self.submitted: Optional[float] = self.start - queued
        else:
            self.submitted = None if submitted is None else submitted - t0
        if self.start is None:
            self.end: Optional[float] = None
        elif duration is not None:
            self.end = self.start + duration
        elif end is not None:
            self.end = end - t0
        else:  # still running: up to the time of the picture
            self.end = max(self.start, now - t0)

    def order(self) -> Tuple[float, float]:
        first = self.submitted if self.submitted is not None else self.start
        return (math.inf if first is None else first, math.inf if self.start is None else self.start)


def _origin(records: Sequence[Record]) -> float:
    times = [t for r in records for t in (_number(r.get("submitted")), _number(r.get("start"))) if t is not None]
    return min(times) if times else 0.0


class _Row:
    """What one row of the picture shows: one life, or a group of them."""

    def __init__(self, lives: List[_Life]) -> None:
        self.lives = lives
        first, last = lives[0], lives[-1]
        if len(lives) == 1:
            self.label = first.label
        else:
            self.label = "%s \u2026 %s (%d)" % (first.label, last.label, len(lives))
        self.outcome = max((life.outcome for life in lives), key=OUTCOMES.index)
        spawned = [life for life in lives if life.start is not None]
        self.span: Optional[Tuple[float, float]] = None
        self.median: Optional[Tuple[float, float]] = None
        self.queued: Optional[Tuple[float, float]] = None
        if spawned:
            starts = [life.start for life in spawned if life.start is not None]
            ends = [life.end for life in spawned if life.end is not None]
            self.span = (min(starts), max(ends))
            self.median = (statistics.median(starts), statistics.median(ends))
            submits = [life.submitted for life in spawned if life.submitted is not None]
            if submits and min(submits) < min(starts):
                self.queued = (min(submits), min(starts))
        never = [life.submitted for life in lives if life.start is None]
        self.never_spawned = [0.0 if t is None else t for t in never]

    def note(self) -> str:
        """What did not end ok in a group, e.g. ``2 exit, 1 timeout``."""
        if len(self.lives) == 1:
            return ""
        counts = _count(life.outcome for life in self.lives)
        return ", ".join("%d %s" % (counts[o], o.replace("_", " ")) for o in OUTCOMES if o != "ok" and counts.get(o))


def _count(outcomes: Any) -> Dict[str, int]:
    counts: Dict[str, int] = {}
    for o in outcomes:
        counts[o] = counts.get(o, 0) + 1
    return counts


def _rows(lives: List[_Life], max_rows: int) -> List[_Row]:
    size = max(1, math.ceil(len(lives) / max_rows))
    return [_Row(lives[i : i + size]) for i in range(0, len(lives), size)]


def draw_timeline(
    source: Any,
    path: Union[str, os.PathLike[str], None] = None,
    *,
    title: Optional[str] = None,
    max_rows: int = 200,
    width: float = 10.0,
    dpi: int = 100,
) -> Figure:
    """Draw the processes of ``source`` as a timeline; return the
    matplotlib :class:`~matplotlib.figure.Figure`.

    ``source``: anything :func:`execo.records.records_of` reads (a job
    log's path, a :class:`~execo.report.Report`, an action, processes,
    records). ``path``: the file to write, a ``.png``, ``.svg`` or
    ``.pdf`` (others: :class:`ValueError`, before anything is drawn);
    None: only return the figure. ``title``: above the picture (data,
    not markup). ``max_rows``: above this many processes, consecutive
    ones share a row (see the module's text). ``width`` in inches and
    ``dpi``: the picture's size; its height grows with the rows.
    """
    fmt = None if path is None else _format_of(path)
    if not isinstance(max_rows, int) or isinstance(max_rows, bool) or max_rows < 1:
        raise ValueError("max_rows must be a positive int, not %r" % (max_rows,))
    matplotlib, figure_class = _import_matplotlib()
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    records = records_of(source)
    now = time.time()
    t0 = _origin(records)
    lives = sorted((_Life(r, t0, now) for r in records), key=_Life.order)
    rows = _rows(lives, max_rows)

    height = 1.6 + _ROW_INCHES * max(len(rows), 4)
    with matplotlib.rc_context({"text.usetex": False, "svg.fonttype": "none", "svg.hashsalt": "execo", "font.size": 8}):
        fig = figure_class(figsize=(width, height), dpi=dpi, layout="constrained")
        ax = fig.add_subplot()
        bar = 0.7
        right = max(
            [row.span[1] for row in rows if row.span is not None]
            + [t for row in rows for t in row.never_spawned]
            + [0.0]
        )
        least = (right or 1.0) / 300  # the narrowest bar drawn: a process of 0 s still shows
        queued_shown = False
        for y, row in enumerate(rows):
            colour = COLOURS[row.outcome]
            if row.queued is not None and row.queued[1] - row.queued[0] >= least:
                queued_shown = True
                ax.broken_barh(
                    [(row.queued[0], row.queued[1] - row.queued[0])], (y - bar / 2, bar), facecolors=_QUEUED_COLOUR
                )
            if row.span is not None and row.median is not None:
                span = (row.span[0], max(row.span[1] - row.span[0], least))
                if len(row.lives) > 1:
                    ax.broken_barh([span], (y - bar / 2, bar), facecolors=colour, alpha=0.35)
                    median = (row.median[0], max(row.median[1] - row.median[0], least))
                    ax.broken_barh([median], (y - bar / 4, bar / 2), facecolors=colour)
                else:
                    ax.broken_barh([span], (y - bar / 2, bar), facecolors=colour)
            if row.never_spawned:
                ax.plot(
                    row.never_spawned,
                    [y] * len(row.never_spawned),
                    linestyle="none",
                    marker="x",
                    color=COLOURS["not_started"],
                )
            note = row.note()
            if note:
                ax.annotate(
                    note,
                    (1.0, y),
                    xycoords=("axes fraction", "data"),
                    xytext=(4, 0),
                    textcoords="offset points",
                    va="center",
                    fontsize=7,
                ).set_parse_math(False)
        ax.set_yticks(range(len(rows)))
        ax.set_yticklabels([row.label for row in rows], fontsize=7 if len(rows) > 40 else 8)
        for text in ax.get_yticklabels():
            text.set_parse_math(False)
        ax.set_ylim(max(len(rows), 1) - 0.5, -0.5)
        ax.set_xlim(left=0)
        ax.grid(axis="x", linewidth=0.4, alpha=0.5)
        stamp = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(t0)) if records else "no processes"
        ax.set_xlabel("seconds from the first submission (%s)" % stamp)
        if title is not None:
            ax.set_title(_clean(title, 120)).set_parse_math(False)
        counts = _count(life.outcome for life in lives)
        handles: List[Any] = [
            Patch(facecolor=COLOURS[o], label="%s: %d" % (o.replace("_", " "), counts[o]))
            for o in OUTCOMES
            if counts.get(o) and o != "not_started"
        ]
        if counts.get("not_started") or any(life.start is None for life in lives):
            never = sum(1 for life in lives if life.start is None)
            handles.append(
                Line2D(
                    [],
                    [],
                    linestyle="none",
                    marker="x",
                    color=COLOURS["not_started"],
                    label="never spawned: %d" % never,
                )
            )
        if queued_shown:
            handles.append(Patch(facecolor=_QUEUED_COLOUR, label="waiting for a slot"))
        if len(rows) < len(lives):
            handles.append(Patch(facecolor="#777777", alpha=0.35, label="group: first start to last end"))
            handles.append(Patch(facecolor="#777777", label="group: median start to median end"))
        if handles:
            legend = fig.legend(handles=handles, loc="outside lower center", ncols=min(len(handles), 4), frameon=False)
            for text in legend.get_texts():
                text.set_parse_math(False)
        if path is not None:
            metadata = {"Date": None} if fmt == "svg" else None
            fig.savefig(os.fspath(path), format=fmt, metadata=metadata)
    return cast("Figure", fig)
