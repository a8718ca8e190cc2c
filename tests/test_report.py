"""Tests of execo.report.Report with small fake stats objects (and real
local processes where the shape of real actions matters)."""

import copy
import json
import re

import pytest

from execo.config import configuration
from execo.report import Report

# the keys of the spec, then those execo 2.8.2 adds (the tree of the stats)
SPEC_KEYS = {
    'start_date', 'end_date', 'num_processes', 'num_started', 'num_ended', 'num_errors',
    'num_timeouts', 'num_forced_kills', 'num_non_zero_exit_codes', 'num_expect_fail',
    'num_write_error', 'num_ok', 'num_finished_ok'}
STATS_KEYS = SPEC_KEYS | {'name', 'sub_stats'}
ANSI = re.compile(r'\033\[[0-9;]*m')
T0 = 1_800_000_000.0


class FakeProcess:
    """Something with stats() and name, like a process."""

    def __init__(self, name, start=None, end=None, ok=True, error=False, exit_code=0,
                 timeout=False, forced_kill=False, expect_fail=False, write_error=False):
        self.name = name
        self.start, self.end, self._ok = start, end, ok
        self.error, self.exit_code, self.timeout = error, exit_code, timeout
        self.forced_kill, self.expect_fail, self.write_error = forced_kill, expect_fail, write_error

    def stats(self):
        s = Report.empty_stats()
        started, ended = self.start is not None, self.end is not None
        s.update(start_date=self.start, end_date=self.end, num_processes=1,
                 num_started=int(started), num_ended=int(ended),
                 num_errors=int(self.error), num_timeouts=int(self.timeout),
                 num_forced_kills=int(self.forced_kill),
                 num_non_zero_exit_codes=int(ended and self.exit_code not in (0, None)),
                 num_expect_fail=int(self.expect_fail), num_write_error=int(self.write_error),
                 num_ok=int(self._ok), num_finished_ok=int(started and ended and self._ok))
        return s


class FakeAction:
    """Something with stats(), name and processes, like an action."""

    def __init__(self, name, processes):
        self.name = name
        self.processes = processes

    def stats(self):
        return Report.aggregate_stats(p.stats() for p in self.processes)


@pytest.fixture
def saved_config():
    saved = copy.deepcopy(configuration)
    yield
    configuration.clear()
    configuration.update(saved)


def test_empty_stats():
    s = Report.empty_stats()
    assert set(s) == STATS_KEYS
    assert s['start_date'] is None and s['end_date'] is None
    assert all(v == 0 for k, v in s.items() if k.startswith('num_'))
    assert s['name'] is None and s['sub_stats'] == []
    s['num_ok'] = 5
    s['sub_stats'].append({})
    assert Report.empty_stats()['num_ok'] == 0  # a new dict each time
    assert Report.empty_stats()['sub_stats'] == []


def test_empty_report():
    r = Report()
    expected = dict(Report.empty_stats(), name=r.name)
    assert r.stats() == expected
    assert Report([]).stats() == expected


def test_stats_keys_exact():
    r = Report([FakeProcess('p', T0, T0 + 1)])
    assert set(r.stats()) == STATS_KEYS


def test_counters_summed():
    procs = [
        FakeProcess('ok', T0, T0 + 2),
        FakeProcess('err', T0 + 1, T0 + 1, ok=False, error=True, exit_code=None),
        FakeProcess('ret', T0 + 1, T0 + 5, ok=False, exit_code=3),
        FakeProcess('tmo', T0 + 2, T0 + 9, ok=False, timeout=True, forced_kill=True,
                    exit_code=-9),
        FakeProcess('exp', T0 + 3, T0 + 4, ok=False, expect_fail=True, write_error=True),
    ]
    s = Report(procs).stats()
    assert s['num_processes'] == 5
    assert s['num_started'] == 5
    assert s['num_ended'] == 5
    assert s['num_errors'] == 1
    assert s['num_timeouts'] == 1
    assert s['num_forced_kills'] == 1
    assert s['num_non_zero_exit_codes'] == 2
    assert s['num_expect_fail'] == 1
    assert s['num_write_error'] == 1
    assert s['num_ok'] == 1
    assert s['num_finished_ok'] == 1
    assert s['start_date'] == T0
    assert s['end_date'] == T0 + 9


def test_start_date_none_if_none_started():
    s = Report([FakeProcess('a'), FakeProcess('b')]).stats()
    assert s['start_date'] is None and s['end_date'] is None
    assert s['num_ok'] == 2 and s['num_started'] == 0


def test_start_date_earliest_of_started_ones():
    s = Report([FakeProcess('a'), FakeProcess('b', T0 + 3), FakeProcess('c', T0 + 1)]).stats()
    assert s['start_date'] == T0 + 1


def test_end_date_none_unless_all_ended():
    running = FakeProcess('run', T0)
    s = Report([FakeProcess('done', T0, T0 + 1), running]).stats()
    assert s['end_date'] is None
    running.end = T0 + 4
    s = Report([FakeProcess('done', T0, T0 + 1), running]).stats()
    assert s['end_date'] == T0 + 4


def test_report_follows_live_objects():
    p = FakeProcess('p')
    r = Report([p])
    assert r.stats()['num_started'] == 0
    p.start, p.end = T0, T0 + 1
    assert r.stats()['num_finished_ok'] == 1


def test_add_and_nested_reports():
    a = FakeAction('action', [FakeProcess('p1', T0 + 1, T0 + 2), FakeProcess('p2', T0 + 1, T0 + 3)])
    inner = Report([a])
    inner.add([FakeProcess('p3', T0, T0 + 10, ok=False, exit_code=1)])
    outer = Report([inner, FakeProcess('p4', T0 + 5, T0 + 6)])
    s = outer.stats()
    assert s['num_processes'] == 4
    assert s['num_ok'] == 3
    assert s['num_non_zero_exit_codes'] == 1
    assert (s['start_date'], s['end_date']) == (T0, T0 + 10)
    assert inner.stats()['num_processes'] == 3


def test_add_single_object_and_chaining():
    r = Report()
    assert r.add(FakeProcess('p', T0, T0 + 1)) is r
    assert r.stats()['num_processes'] == 1


def test_add_rejects_non_stats_objects():
    with pytest.raises(TypeError):
        Report([object()])
    with pytest.raises(TypeError):
        Report().add([1, 2])


def test_add_rejects_cycles():
    r1 = Report()
    r2 = Report([r1])
    with pytest.raises(ValueError):
        r1.add([r2])
    with pytest.raises(ValueError):
        r1.add([r1])


def test_extra_keys_of_sub_stats_ignored():
    class WithExtra:
        name = 'x'

        def stats(self):
            s = Report.empty_stats()
            s.update(name='x', sub_stats=[], num_processes=2, extra='y')
            return s

    s = Report([WithExtra()]).stats()
    assert set(s) == STATS_KEYS and s['num_processes'] == 2


def test_stats_tree_name_and_sub_stats():
    """As in execo 2.8.2: ``name`` and ``sub_stats``, recursively, the
    spec's keys unchanged; the whole dict goes through json.dumps."""
    a = FakeAction('my-action', [FakeProcess('p1', T0, T0 + 2), FakeProcess('p2', T0 + 1, T0 + 3)])
    inner = Report([a])
    inner.name = 'inner'
    outer = Report([inner, FakeProcess('p3', T0 + 5, T0 + 6)])
    outer.name = 'outer'
    s = outer.stats()
    assert set(s) == STATS_KEYS
    assert s['name'] == 'outer'
    assert [sub['name'] for sub in s['sub_stats']] == ['inner', 'p3']
    inner_stats = s['sub_stats'][0]
    assert set(inner_stats) == STATS_KEYS
    assert [sub['name'] for sub in inner_stats['sub_stats']] == ['my-action']
    # the fake action's stats have no name: the object's name is used
    assert inner_stats['sub_stats'][0]['sub_stats'] == []
    assert inner_stats['sub_stats'][0]['num_processes'] == 2
    assert s['sub_stats'][1]['sub_stats'] == []
    # totals still aggregate the whole tree
    assert s['num_processes'] == 3 and (s['start_date'], s['end_date']) == (T0, T0 + 6)
    assert inner_stats['num_processes'] == 2 and inner_stats['end_date'] == T0 + 3
    assert json.loads(json.dumps(s)) == s


def test_stats_tree_follows_live_objects():
    p = FakeProcess('p')
    r = Report([p])
    assert r.stats()['sub_stats'][0]['num_started'] == 0
    p.start = T0
    assert r.stats()['sub_stats'][0]['num_started'] == 1


def test_aggregate_stats_of_a_2x_stats_dict():
    """execo 2.8.2 scripts build stats as empty_stats() with sub_stats and
    call aggregate_stats(stats) on that dict."""
    subs = [FakeProcess('a', T0, T0 + 2).stats(), FakeProcess('b', T0 + 1, None).stats()]
    stats = Report.empty_stats()
    stats['name'] = 'mine'
    stats['sub_stats'] = subs
    agg = Report.aggregate_stats(stats)
    assert agg['name'] == 'mine' and agg['sub_stats'] == subs
    assert agg['num_processes'] == 2 and agg['num_ended'] == 1
    assert agg['start_date'] == T0 and agg['end_date'] is None
    subs[1]['end_date'] = T0 + 5
    assert Report.aggregate_stats(stats)['end_date'] == T0 + 5
    assert stats['num_processes'] == 0   # the dict given is not changed
    # the iterable form: totals only
    agg = Report.aggregate_stats(subs)
    assert agg['num_processes'] == 2 and agg['name'] is None and agg['sub_stats'] == []


def test_name():
    r = Report()
    assert isinstance(r.name, str) and r.name
    r.name = 'mine'
    assert r.name == 'mine'
    r.name = None
    assert r.name and r.name != 'mine'


def test_repr():
    r = Report([FakeProcess('p')])
    r.name = 'rep'
    assert 'rep' in repr(r) and 'Report' in repr(r)


def make_report():
    a = FakeAction('my-action', [FakeProcess('proc-ok', T0, T0 + 3723),
                                 FakeProcess('proc-bad', T0 + 1, T0 + 2, ok=False, exit_code=2)])
    sub = Report([FakeProcess('sub-proc', T0 + 2, T0 + 3)])
    sub.name = 'sub-report'
    r = Report([a, sub, FakeProcess('not-started')])
    r.name = 'top'
    return r


def test_to_string_default(saved_config):
    configuration['color_mode'] = False
    text = make_report().to_string()
    lines = text.splitlines()
    assert all(len(line) <= 80 for line in lines)
    for name in ('my-action', 'proc-ok', 'proc-bad', 'sub-report', 'sub-proc',
                 'not-started', 'Total'):
        assert name in text
    # nesting: processes of the action are indented under it
    assert any(line.startswith('  proc-ok') for line in lines)
    assert any(line.startswith('my-action') for line in lines)
    assert "1h2m3s" in text  # length of proc-ok
    assert lines[-2].startswith('Total')
    total_counters = lines[-1].split()
    # total startd ended error timout fkilld expfld wrterr ret!=0 ok finok
    assert total_counters == ['4', '3', '3', '0', '0', '0', '0', '0', '1', '3', '2']
    assert "\033[" not in text


def test_to_string_wide(saved_config):
    configuration['color_mode'] = False
    text = make_report().to_string(wide=True)
    lines = text.splitlines()
    assert all(len(line) <= 175 for line in lines)
    assert max(len(line) for line in lines) > 80
    total = [line for line in lines if line.startswith('Total')]
    assert len(total) == 1
    assert total[0].split()[-11:] == ['4', '3', '3', '0', '0', '0', '0', '0', '1', '3', '2']
    # one line per entry: header, rule, 6 entries, rule, total
    assert len(lines) == 10


def test_to_string_brief(saved_config):
    configuration['color_mode'] = False
    for wide in (False, True):
        text = make_report().to_string(wide=wide, brief=True)
        assert 'Total' in text
        assert 'my-action' not in text and 'proc-ok' not in text


def test_to_string_dates(saved_config):
    configuration['color_mode'] = False
    from execo.time_utils import format_date
    text = Report([FakeProcess('p', T0, T0 + 60)]).to_string()
    assert format_date(T0)[:19] in text
    assert format_date(T0 + 60)[:19] in text
    assert '1m0s' in text


def test_to_string_highlights_failures(saved_config):
    configuration['color_mode'] = True
    text = make_report().to_string()
    assert '\033[31m' in text  # report_error style
    plain = ANSI.sub('', text)
    configuration['color_mode'] = False
    assert plain == make_report().to_string()


def test_to_string_warns_ignored_failures(saved_config):
    configuration['color_mode'] = True
    # failed exit code, but the process is ok (ignore_exit_code)
    text = Report([FakeProcess('p', T0, T0 + 1, ok=True, exit_code=1)]).to_string()
    assert '\033[35m' in text and '\033[31m' not in text


def test_to_string_empty(saved_config):
    configuration['color_mode'] = False
    text = Report().to_string()
    assert text.splitlines()[-2].startswith('Total')
    assert str(Report()) == text
