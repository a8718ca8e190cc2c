"""Tests of execo.time_utils: conversions, formatting, sleep, Timer.

Local time zones are set with POSIX TZ strings (no tz database needed):
'XXX-3' is UTC+3, 'EST+5' is UTC-5.
"""

import datetime
import decimal
import time

import pytest

from execo import time_utils as tu

UTC = datetime.timezone.utc
# 2026-11-28 10:00:00 UTC
TS = datetime.datetime(2026, 11, 28, 10, 0, 0, tzinfo=UTC).timestamp()


@pytest.fixture
def local_tz(monkeypatch):
    """Return a function setting the local time zone for the test."""

    def set_tz(tz):
        monkeypatch.setenv('TZ', tz)
        time.tzset()

    yield set_tz
    monkeypatch.undo()
    time.tzset()


# ---------------------------------------------------------------- durations


def test_timedelta_to_seconds():
    assert tu.timedelta_to_seconds(datetime.timedelta(days=1, seconds=2, milliseconds=500)) == 86402.5
    with pytest.raises(TypeError):
        tu.timedelta_to_seconds(3)


def test_numeric_duration_to_seconds():
    assert tu.numeric_duration_to_seconds(3) == 3.0
    assert isinstance(tu.numeric_duration_to_seconds(3), float)
    assert tu.numeric_duration_to_seconds(decimal.Decimal('1.5')) == 1.5
    for bad in ('3', None, True, 1j):
        with pytest.raises(TypeError):
            tu.numeric_duration_to_seconds(bad)


@pytest.mark.parametrize(
    "text,seconds",
    [
        ('3600', 3600),
        ('1.5', 1.5),
        ('.5', 0.5),
        (' 42 ', 42),
        ('1:02:03', 3723),
        ('0:00:01.5', 1.5),
        ('100:00:00', 360000),
        ('-0:01:00', -60),
        ('2d3h4m5s', 2 * 86400 + 3 * 3600 + 4 * 60 + 5),
        ('10m', 600),
        ('1.5s', 1.5),
        ('1h 30m', 5400),
        ('2h', 7200),
        ('1d', 86400),
        ('250ms', 0.25),
        ('1m30s', 90),
        ('1.5h', 5400),
        ('-5m', -300),
        ('3m 2s 5ms', 182.005),
        ('1d2h3m4.250s', 93784.25),
    ],
)
def test_str_duration_to_seconds(text, seconds):
    assert tu.str_duration_to_seconds(text) == pytest.approx(seconds)
    assert isinstance(tu.str_duration_to_seconds(text), float)


@pytest.mark.parametrize("bad", ['', 'abc', '1:2', '1:60:00', '1:00:60', '5x', 's', 'm5', '3s2m', '1..5', '1h-2m'])
def test_str_duration_bad(bad):
    with pytest.raises(ValueError) as excinfo:
        tu.str_duration_to_seconds(bad)
    assert repr(bad) in str(excinfo.value) or "60" in str(excinfo.value)


def test_get_seconds_dispatch():
    assert tu.get_seconds(None) is None
    assert tu.get_seconds(datetime.timedelta(minutes=2)) == 120.0
    assert tu.get_seconds('2m') == 120.0
    assert tu.get_seconds(120) == 120.0
    assert tu.get_seconds(1.25) == 1.25
    with pytest.raises(TypeError):
        tu.get_seconds([1])
    with pytest.raises(ValueError):
        tu.get_seconds('soon')


@pytest.mark.parametrize(
    "seconds,text,text_ms",
    [
        (0, '0s', '0s'),
        (0.25, '0s', '0.250s'),
        (1.5, '1s', '1.500s'),
        (59, '59s', '59s'),
        (60, '1m0s', '1m0s'),
        (3723, '1h2m3s', '1h2m3s'),
        (86400, '1d0h0m0s', '1d0h0m0s'),
        (93784.25, '1d2h3m4s', '1d2h3m4.250s'),
        (-61, '-1m1s', '-1m1s'),
        (59.9996, '1m0s', '1m0s'),
        (2.9999999, '3s', '3s'),
    ],
)
def test_format_duration(seconds, text, text_ms):
    assert tu.format_duration(seconds) == text
    assert tu.format_duration(seconds, showms=True) == text_ms


def test_format_duration_round_trip():
    for seconds in (0, 1, 59, 61, 3600, 3723, 90061, 1.25, -3723.5):
        assert tu.get_seconds(tu.format_duration(seconds, showms=True)) == pytest.approx(seconds)


def test_format_duration_other_formats():
    assert tu.format_duration(None) is None
    assert tu.format_duration(datetime.timedelta(hours=1)) == '1h0m0s'
    assert tu.format_duration('1:00:05') == '1h0m5s'


# -------------------------------------------------------------------- dates


def test_numeric_date_to_unixts():
    assert tu.numeric_date_to_unixts(TS) == TS
    assert isinstance(tu.numeric_date_to_unixts(int(TS)), float)
    with pytest.raises(TypeError):
        tu.numeric_date_to_unixts('1')


def test_datetime_to_unixts(local_tz):
    local_tz('XXX-3')
    assert tu.datetime_to_unixts(datetime.datetime(2026, 11, 28, 10, tzinfo=UTC)) == TS
    # naive: local time zone, UTC+3
    assert tu.datetime_to_unixts(datetime.datetime(2026, 11, 28, 13)) == TS
    tz = datetime.timezone(datetime.timedelta(hours=-2))
    assert tu.datetime_to_unixts(datetime.datetime(2026, 11, 28, 8, tzinfo=tz)) == TS
    assert tu.datetime_to_unixts(datetime.datetime(2026, 11, 28, 13, 0, 0, 500000)) == TS + 0.5
    with pytest.raises(TypeError):
        tu.datetime_to_unixts(TS)


def test_unixts_to_datetime(local_tz):
    local_tz('EST+5')
    naive = tu.unixts_to_datetime(TS)
    assert naive.tzinfo is None and naive == datetime.datetime(2026, 11, 28, 5)
    aware = tu.unixts_to_datetime(TS, UTC)
    assert aware == datetime.datetime(2026, 11, 28, 10, tzinfo=UTC)
    assert tu.datetime_to_unixts(tu.unixts_to_datetime(TS + 0.25)) == TS + 0.25


@pytest.mark.parametrize(
    "text,expected",
    [
        ('2026-11-28 10:00:00Z', TS),
        ('2026-11-28T10:00:00z', TS),
        ('2026-11-28T10:00:00+00:00', TS),
        ('2026-11-28T11:00:00+01:00', TS),
        ('2026-11-28T11:00+01:00', TS),
        ('2026-11-28 05:30:00-04:30', TS),
        ('2026-11-28T15:30:00+0530', TS),
        ('2026-11-28t10:00:00.250Z', TS + 0.25),
        ('2026-11-28 13:00:00', TS),  # local UTC+3
        ('2026-11-28 13:00', TS),
        ('2026-11-28T13:00:00.5', TS + 0.5),
        ('2026-11-28', TS - 13 * 3600),  # local midnight
        ('  2026-11-28 13:00:00  ', TS),
        (str(TS), TS),
        ('1800000000.5', 1800000000.5),
    ],
)
def test_str_date_to_unixts(local_tz, text, expected):
    local_tz('XXX-3')
    assert tu.str_date_to_unixts(text) == pytest.approx(expected, abs=1e-6)


def test_str_date_time_only_is_today(local_tz):
    local_tz('XXX-3')
    today = datetime.date.today()
    expected = datetime.datetime(today.year, today.month, today.day, 12, 34, 56).timestamp()
    assert tu.str_date_to_unixts('12:34:56') == expected


@pytest.mark.parametrize(
    "bad",
    [
        '',
        'tomorrow',
        '2026-13-01 10:00:00',
        '2026-11-31',
        '2026-11-28 25:00:00',
        '2026-11-28 10:61',
        '28/11/2026',
        '2026-11-28 10:00:00+25:00',
        '2026-11-2810:00',
    ],
)
def test_str_date_bad(bad):
    with pytest.raises(ValueError) as excinfo:
        tu.str_date_to_unixts(bad)
    assert repr(bad) in str(excinfo.value)


def test_get_unixts_dispatch(local_tz):
    local_tz('UTC0')
    assert tu.get_unixts(None) is None
    assert tu.get_unixts(TS) == TS
    assert tu.get_unixts(int(TS)) == TS
    assert tu.get_unixts('2026-11-28 10:00:00') == TS
    assert tu.get_unixts(datetime.datetime(2026, 11, 28, 10)) == TS
    assert tu.get_unixts(datetime.date(2026, 11, 28)) == TS - 10 * 3600
    with pytest.raises(TypeError):
        tu.get_unixts(object())


@pytest.mark.parametrize(
    "tz,expected",
    [
        ('UTC0', '2026-11-28 10:00:00+00:00'),
        ('XXX-3', '2026-11-28 13:00:00+03:00'),
        ('EST+5', '2026-11-28 05:00:00-05:00'),
        ('IST-5:30', '2026-11-28 15:30:00+05:30'),
        ('NST+3:30', '2026-11-28 06:30:00-03:30'),
    ],
)
def test_format_date_time_zones(local_tz, tz, expected):
    local_tz(tz)
    assert tu.format_date(TS) == expected
    assert tu.get_unixts(expected) == TS
    # naive string without time zone: read in the same local time zone
    assert tu.get_unixts(expected[:19]) == TS


def test_format_date_dst(local_tz):
    local_tz('CET-1CEST,M3.5.0,M10.5.0/3')
    winter = datetime.datetime(2026, 1, 15, 12, tzinfo=UTC).timestamp()
    summer = datetime.datetime(2026, 7, 15, 12, tzinfo=UTC).timestamp()
    assert tu.format_date(winter) == '2026-01-15 13:00:00+01:00'
    assert tu.format_date(summer) == '2026-07-15 14:00:00+02:00'
    assert tu.get_unixts('2026-07-15 14:00:00') == summer


def test_format_date_ms(local_tz):
    local_tz('UTC0')
    assert tu.format_date(TS + 0.25) == '2026-11-28 10:00:00+00:00'
    assert tu.format_date(TS + 0.25, showms=True) == '2026-11-28 10:00:00.250+00:00'
    assert tu.format_date(TS + 0.9996, showms=True) == '2026-11-28 10:00:01+00:00'
    assert tu.format_date(TS + 0.9996) == '2026-11-28 10:00:00+00:00'
    assert tu.get_unixts(tu.format_date(TS + 0.25, showms=True)) == TS + 0.25


def test_format_date_inputs(local_tz):
    local_tz('UTC0')
    assert tu.format_date(None) is None
    assert tu.format_date('2026-11-28T11:00:00+01:00') == '2026-11-28 10:00:00+00:00'
    assert tu.format_date(datetime.datetime(2026, 11, 28, 10, tzinfo=UTC)) == '2026-11-28 10:00:00+00:00'


def test_round_trip_aware_datetimes(local_tz):
    local_tz('EST+5')
    for hours in (-11, -3.5, 0, 1, 5.75, 14):
        tz = datetime.timezone(datetime.timedelta(hours=hours))
        dt = datetime.datetime(2026, 3, 1, 23, 59, 30, tzinfo=tz)
        ts = tu.get_unixts(dt)
        assert tu.get_unixts(dt.isoformat()) == ts
        assert tu.get_unixts(tu.format_date(ts)) == ts
        assert tu.unixts_to_datetime(ts, tz) == dt


# ------------------------------------------------------------ sleep / Timer


def test_sleep_nothing():
    start = time.monotonic()
    assert tu.sleep() == 0.0
    assert tu.sleep(0) == 0.0
    assert tu.sleep(-5) == 0.0
    assert tu.sleep(until=time.time() - 10) == 0.0
    assert time.monotonic() - start < 1


def test_sleep_delay():
    start = time.monotonic()
    tu.sleep(0.2)
    assert 0.2 <= time.monotonic() - start < 5
    start = time.monotonic()
    tu.sleep('0.1s')
    assert time.monotonic() - start >= 0.1


def test_sleep_until():
    target = time.time() + 0.2
    tu.sleep(until=target)
    assert time.time() >= target
    target = time.time() + 0.1
    tu.sleep(until=datetime.datetime.fromtimestamp(target))
    assert time.time() >= target


def test_sleep_both_waits_for_the_longest():
    start, target = time.monotonic(), time.time() + 0.1
    tu.sleep(0.3, until=target)
    assert time.monotonic() - start >= 0.3
    start, target = time.monotonic(), time.time() + 0.3
    tu.sleep(0.1, until=target)
    assert time.time() >= target
    assert time.monotonic() - start < 5


def test_timer_no_timeout():
    t = tu.Timer()
    assert t.remaining() is None
    assert abs(t.start_date() - time.time()) < 5
    assert 0 <= t.elapsed() < 5
    e1 = t.elapsed()
    time.sleep(0.05)
    assert t.elapsed() > e1


def test_timer_timeout_and_wait_elapsed():
    t = tu.Timer('0.3s')
    assert t.timeout == 0.3
    assert 0 < t.remaining() <= 0.3
    assert t.wait_elapsed(0.2) is t
    assert t.elapsed() >= 0.2
    assert t.remaining() <= 0.1
    t.wait_elapsed(datetime.timedelta(seconds=0.35))
    assert t.remaining() == 0.0
    start = time.monotonic()
    t.wait_elapsed(0.1)  # already elapsed: no sleep
    t.wait_elapsed(None)
    assert time.monotonic() - start < 1
    assert 'Timer' in repr(t)
