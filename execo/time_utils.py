"""Dates, durations, sleeping and timers.

Inside execo all dates are unix timestamps (float seconds since the
epoch, UTC) and all durations are float seconds. The functions here
convert the formats users may give (``datetime``, strings, numbers) to
these, and back for display:

- :func:`get_unixts` converts a date; dates without time zone
  (naive ``datetime``, strings) are in the local time zone, numbers are
  unix timestamps.
- :func:`get_seconds` converts a duration.
- :func:`format_date` / :func:`format_duration` pretty-print them.
"""

from __future__ import annotations

import datetime
import decimal
import numbers
import re
import time
from typing import TYPE_CHECKING, Optional, TypeVar, Union, overload

if TYPE_CHECKING:
    #: a number of seconds or a unix timestamp, as accepted by the conversions
    Number = Union[float, decimal.Decimal]
    #: a date as accepted by :func:`get_unixts`
    DateLike = Union[datetime.datetime, datetime.date, str, Number]
    #: a duration as accepted by :func:`get_seconds`
    DurationLike = Union[datetime.timedelta, str, Number]

_TimerT = TypeVar("_TimerT", bound="Timer")

__all__ = [
    'timedelta_to_seconds',
    'datetime_to_unixts',
    'unixts_to_datetime',
    'numeric_date_to_unixts',
    'numeric_duration_to_seconds',
    'str_date_to_unixts',
    'str_duration_to_seconds',
    'get_unixts',
    'get_seconds',
    'format_unixts',
    'format_seconds',
    'format_date',
    'format_duration',
    'sleep',
    'Timer',
]


def _check_number(value: object, what: str) -> float:
    """Return ``value`` as a float, raising TypeError if it is not a real number."""
    if type(value) is float or type(value) is int:  # (bool is neither): no ABC check
        return float(value)
    if isinstance(value, bool) or not isinstance(value, (numbers.Real, decimal.Decimal)):
        raise TypeError("%s must be a number, not %s (%r)" % (what, type(value).__name__, value))
    return float(value)


def timedelta_to_seconds(td: datetime.timedelta) -> float:
    """Convert a ``datetime.timedelta`` to a number of seconds (float)."""
    if not isinstance(td, datetime.timedelta):
        raise TypeError("expected a datetime.timedelta, not %s" % type(td).__name__)
    return td.total_seconds()


def datetime_to_unixts(dt: datetime.datetime) -> float:
    """Convert a ``datetime.datetime`` to a unix timestamp (float).

    A datetime with a time zone is converted using it; a naive datetime
    is taken to be in the local time zone.
    """
    if not isinstance(dt, datetime.datetime):
        raise TypeError("expected a datetime.datetime, not %s" % type(dt).__name__)
    return dt.timestamp()


def unixts_to_datetime(ts: Number, tz: Optional[datetime.tzinfo] = None) -> datetime.datetime:
    """Convert a unix timestamp to a ``datetime.datetime``.

    Without ``tz``, the result is a naive datetime in local time;
    otherwise an aware datetime in the time zone ``tz``.
    """
    return datetime.datetime.fromtimestamp(_check_number(ts, "timestamp"), tz)


def numeric_date_to_unixts(d: Number) -> float:
    """Convert a number (a unix timestamp, so UTC) to a unix timestamp (float)."""
    return _check_number(d, "date")


def numeric_duration_to_seconds(d: Number) -> float:
    """Convert a number of seconds to a duration in seconds (float)."""
    return _check_number(d, "duration")


_num_re = re.compile(r'^\s*[+-]?(\d+(\.\d*)?|\.\d+)\s*$')

_str_date_re = re.compile(
    r"""
    ^\s*
    (?:(?P<year>\d{4})-(?P<month>\d{1,2})-(?P<day>\d{1,2}))?  # optional date
    (?:(?(year)[Tt\s]\s*)                                    # separator if date
       (?P<hour>\d{1,2}):(?P<minute>\d{2})
       (?::(?P<second>\d{2})(?P<frac>\.\d+)?)?
       \s*(?P<tz>[Zz]|(?P<tzsign>[+-])(?P<tzh>\d{2}):?(?P<tzm>\d{2})?)?
    )?
    \s*$""",
    re.VERBOSE,
)


def str_date_to_unixts(d: str) -> float:
    """Convert a date string to a unix timestamp (float).

    Accepted formats:

    - a number, e.g. ``'1700000000.5'``: a unix timestamp (see
      :func:`numeric_date_to_unixts`);
    - RFC 3339 like ``'YYYY-MM-DD[T| ]HH:MM[:SS[.frac]][Z|+HH:MM|-HH:MM]'``,
      e.g. ``'2026-11-28 10:00'``, ``'2026-11-28T10:00:00.250+01:00'``.
      The date part alone (midnight) or the time part alone (today) are
      also accepted. Without time zone, the local time zone is used.
    """
    if not isinstance(d, str):
        raise TypeError("expected a date string, not %s" % type(d).__name__)
    if _num_re.match(d):
        return numeric_date_to_unixts(float(d))
    m = _str_date_re.match(d)
    if not m or not (m.group('year') or m.group('hour')):
        raise ValueError("unsupported date format: %r" % (d,))
    if m.group('year'):
        year, month, day = int(m.group('year')), int(m.group('month')), int(m.group('day'))
    else:
        today = datetime.date.today()
        year, month, day = today.year, today.month, today.day
    tzinfo = None
    if m.group('tz'):
        if m.group('tz') in 'Zz':
            tzinfo = datetime.timezone.utc
        else:
            offset = datetime.timedelta(hours=int(m.group('tzh')), minutes=int(m.group('tzm') or 0))
            if m.group('tzsign') == '-':
                offset = -offset
            try:
                tzinfo = datetime.timezone(offset)
            except ValueError as e:
                raise ValueError("invalid time zone in date %r: %s" % (d, e)) from None
    try:
        dt = datetime.datetime(
            year,
            month,
            day,
            int(m.group('hour') or 0),
            int(m.group('minute') or 0),
            int(m.group('second') or 0),
            tzinfo=tzinfo,
        )
    except ValueError as e:
        raise ValueError("invalid date %r: %s" % (d, e)) from None
    ts = dt.timestamp()
    if m.group('frac'):
        ts += float(m.group('frac'))
    return ts


_str_hms_re = re.compile(r'^\s*(?P<sign>[+-])?(?P<h>\d+):(?P<m>\d{1,2}):(?P<s>\d{1,2}(\.\d*)?)\s*$')
_unit_num = r'(\d+(?:\.\d*)?|\.\d+)'
_str_units_re = re.compile(
    r'^\s*(?P<sign>[+-])?\s*'
    r'(?:(?P<d>%s)\s*d\s*)?'
    r'(?:(?P<h>%s)\s*h\s*)?'
    r'(?:(?P<m>%s)\s*m(?!s)\s*)?'
    r'(?:(?P<s>%s)\s*s\s*)?'
    r'(?:(?P<ms>%s)\s*ms\s*)?$' % ((_unit_num,) * 5)
)


def str_duration_to_seconds(duration: str) -> float:
    """Convert a duration string to a number of seconds (float).

    Accepted formats:

    - a number of seconds, e.g. ``'3600'``, ``'1.5'`` (see
      :func:`numeric_duration_to_seconds`);
    - ``'H:MM:SS[.frac]'``, e.g. ``'1:02:03'``, ``'0:00:01.5'``;
    - numbers with units ``d``, ``h``, ``m``, ``s``, ``ms``, in this
      order, each optional, spaces allowed: ``'2d3h4m5s'``, ``'10m'``,
      ``'1.5s'``, ``'1h 30m'``, ``'250ms'`` (also the output of
      :func:`format_duration`).

    A leading ``-`` gives a negative duration.
    """
    if not isinstance(duration, str):
        raise TypeError("expected a duration string, not %s" % type(duration).__name__)
    if _num_re.match(duration):
        return numeric_duration_to_seconds(float(duration))
    m = _str_hms_re.match(duration)
    if m:
        if int(m.group('m')) >= 60 or float(m.group('s')) >= 60:
            raise ValueError("invalid duration %r: minutes and seconds must be < 60" % (duration,))
        secs = int(m.group('h')) * 3600 + int(m.group('m')) * 60 + float(m.group('s'))
    else:
        m = _str_units_re.match(duration)
        if not m or not any(m.group(u) for u in ('d', 'h', 'm', 's', 'ms')):
            raise ValueError("unsupported duration format: %r" % (duration,))
        secs = 0.0
        for unit, factor in (('d', 86400), ('h', 3600), ('m', 60), ('s', 1), ('ms', 0.001)):
            if m.group(unit):
                secs += float(m.group(unit)) * factor
    return -secs if m.group('sign') == '-' else float(secs)


@overload
def get_unixts(d: None) -> None: ...
@overload
def get_unixts(d: DateLike) -> float: ...
@overload
def get_unixts(d: Optional[DateLike]) -> Optional[float]: ...
def get_unixts(d: Optional[DateLike]) -> Optional[float]:
    """Convert a date to a unix timestamp (float).

    :param d: a date in one of the supported types, or None (then None is
      returned). Supported types:

      - ``datetime.datetime``: see :func:`datetime_to_unixts`
      - ``datetime.date``: midnight local time of that day
      - string: see :func:`str_date_to_unixts`
      - numeric type: see :func:`numeric_date_to_unixts`
    """
    if d is None:
        return None
    if isinstance(d, datetime.datetime):
        return datetime_to_unixts(d)
    if isinstance(d, datetime.date):
        return datetime_to_unixts(datetime.datetime(d.year, d.month, d.day))
    if isinstance(d, str):
        return str_date_to_unixts(d)
    return numeric_date_to_unixts(d)


@overload
def get_seconds(duration: None) -> None: ...
@overload
def get_seconds(duration: DurationLike) -> float: ...
@overload
def get_seconds(duration: Optional[DurationLike]) -> Optional[float]: ...
def get_seconds(duration: Optional[DurationLike]) -> Optional[float]:
    """Convert a duration to a number of seconds (float).

    :param duration: a duration in one of the supported types, or None
      (then None is returned). Supported types:

      - ``datetime.timedelta``: see :func:`timedelta_to_seconds`
      - string: see :func:`str_duration_to_seconds`
      - numeric type: see :func:`numeric_duration_to_seconds`
    """
    if duration is None:
        return None
    if type(duration) is float or type(duration) is int:
        return float(duration)  # (the common case: no isinstance below)
    if isinstance(duration, datetime.timedelta):
        return timedelta_to_seconds(duration)
    if isinstance(duration, str):
        return str_duration_to_seconds(duration)
    return numeric_duration_to_seconds(duration)


@overload
def format_unixts(secs: None, showms: bool = False) -> None: ...
@overload
def format_unixts(secs: Number, showms: bool = False) -> str: ...
@overload
def format_unixts(secs: Optional[Number], showms: bool = False) -> Optional[str]: ...
def format_unixts(secs: Optional[Number], showms: bool = False) -> Optional[str]:
    """Format a unix timestamp as ``'YYYY-MM-DD HH:MM:SS[.mmm]+HH:MM'`` in local time.

    Milliseconds are shown only if ``showms`` and they are not zero.
    Returns None for None.
    """
    if secs is None:
        return None
    secs = _check_number(secs, "timestamp")
    if showms:
        whole, ms = divmod(round(secs * 1000), 1000)
    else:
        whole, ms = int(secs // 1), 0
    dt = datetime.datetime.fromtimestamp(whole).astimezone()
    text = dt.strftime("%Y-%m-%d %H:%M:%S")
    if ms:
        text += ".%03d" % ms
    # an astimezone() result always has an offset
    offset = int(dt.utcoffset().total_seconds()) // 60  # type: ignore[union-attr]
    sign = '-' if offset < 0 else '+'
    return text + "%s%02d:%02d" % (sign, abs(offset) // 60, abs(offset) % 60)


@overload
def format_seconds(secs: None, showms: bool = False) -> None: ...
@overload
def format_seconds(secs: Number, showms: bool = False) -> str: ...
@overload
def format_seconds(secs: Optional[Number], showms: bool = False) -> Optional[str]: ...
def format_seconds(secs: Optional[Number], showms: bool = False) -> Optional[str]:
    """Format a number of seconds as e.g. ``'1d2h3m4s'`` (``'1.250s'`` with showms).

    Only the needed units are shown, ``'0s'`` for zero; milliseconds only
    if ``showms`` and they are not zero. Returns None for None.
    """
    if secs is None:
        return None
    secs = _check_number(secs, "duration")
    sign = '-' if secs < 0 else ''
    msecs = round(abs(secs) * 1000)
    whole, ms = divmod(msecs, 1000)
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    text = ''
    if days:
        text += '%dd' % days
    if days or hours:
        text += '%dh' % hours
    if days or hours or minutes:
        text += '%dm' % minutes
    text += '%d' % seconds
    if showms and ms:
        text += '.%03d' % ms
    text += 's'
    if sign and text == '0s':
        sign = ''
    return sign + text


@overload
def format_date(d: None, showms: bool = False) -> None: ...
@overload
def format_date(d: DateLike, showms: bool = False) -> str: ...
@overload
def format_date(d: Optional[DateLike], showms: bool = False) -> Optional[str]: ...
def format_date(d: Optional[DateLike], showms: bool = False) -> Optional[str]:
    """Return a string with the formatted date (year, month, day, hour, min,
    sec, ms) in locale timezone and in rfc-3339 format for pretty printing.

    :param d: a date in one of the formats handled (or None) (see
      :func:`get_unixts`). None gives None.
    :param showms: whether to show ms or not. Default False.
    """
    return format_unixts(get_unixts(d), showms)


@overload
def format_duration(duration: None, showms: bool = False) -> None: ...
@overload
def format_duration(duration: DurationLike, showms: bool = False) -> str: ...
@overload
def format_duration(duration: Optional[DurationLike], showms: bool = False) -> Optional[str]: ...
def format_duration(duration: Optional[DurationLike], showms: bool = False) -> Optional[str]:
    """Return a string with a formatted duration (days, hours, mins, secs, ms) for pretty printing.

    :param duration: a duration in one of the formats handled (or None)
      (see :func:`get_seconds`). None gives None.
    :param showms: whether to show ms or not. Default False.
    """
    return format_seconds(get_seconds(duration), showms)


def sleep(delay: Optional[DurationLike] = None, until: Optional[DateLike] = None) -> float:
    """Sleep until a given delay has elapsed or until a given date.

    If both present, will sleep at least for the delay and at least
    until the date. With neither (or both already past), returns at once.

    :param delay: a duration in one of the formats handled (or None)
      (see :func:`get_seconds`).
    :param until: a date in one of the formats handled (or None) (see
      :func:`get_unixts`).
    :returns: the number of seconds it was asked to sleep (0.0 if none).
    """
    delay = get_seconds(delay)
    until = get_unixts(until)
    mono_end = time.monotonic() + (delay or 0.0)  # delays use the monotonic clock
    wall_end = until if until is not None else float('-inf')  # dates use the wall clock
    asked = max(mono_end - time.monotonic(), wall_end - time.time(), 0.0)
    while True:
        remaining = max(mono_end - time.monotonic(), wall_end - time.time())
        if remaining <= 0:
            return asked
        time.sleep(remaining)


class Timer:
    """Keep track of elapsed time."""

    def __init__(self, timeout: Optional[DurationLike] = None) -> None:
        """Create and start the Timer.

        :param timeout: optional duration (see :func:`get_seconds`) used by
          :meth:`remaining`.
        """
        self._start_date = time.time()
        self._start_mono = time.monotonic()
        self.timeout = get_seconds(timeout)

    def start_date(self) -> float:
        """Return this Timer's instance start time (unix timestamp)."""
        return self._start_date

    def elapsed(self) -> float:
        """Return this Timer's instance elapsed time since start (seconds)."""
        return time.monotonic() - self._start_mono

    def remaining(self) -> Optional[float]:
        """Returns the remaining time before the timeout.

        None if there is no timeout, 0.0 once the timeout is reached.
        """
        if self.timeout is None:
            return None
        return max(0.0, self.timeout - self.elapsed())

    def wait_elapsed(self: _TimerT, elapsed: Optional[DurationLike]) -> _TimerT:
        """Sleep until the given amount of time has elapsed since the Timer's start.

        :param elapsed: the delay to sleep in one of the formats handled (or
          None) (see :func:`get_seconds`).
        :returns: this Timer.
        """
        elapsed = get_seconds(elapsed)
        if elapsed is not None:
            sleep(elapsed - self.elapsed())
        return self

    def __repr__(self) -> str:
        return "<Timer(elapsed=%s, timeout=%r)>" % (format_seconds(self.elapsed(), True), self.timeout)
