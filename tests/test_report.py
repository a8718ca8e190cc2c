"""Tests of execo.report.Report with small fake stats objects (and real
local processes where the shape of real actions matters)."""

import json
import re

import pytest

from execo.config import configuration
from execo.report import Report

# the keys of the spec, then those execo 2.8.2 adds (the tree of the stats)
SPEC_KEYS = {
    'start_date',
    'end_date',
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
}
STATS_KEYS = SPEC_KEYS | {'name', 'sub_stats'}
ANSI = re.compile(r'\033\[[0-9;]*m')
T0 = 1_800_000_000.0


class FakeProcess:
    """Something with stats() and name, like a process."""

    def __init__(
        self,
        name,
        start=None,
        end=None,
        ok=True,
        error=False,
        exit_code=0,
        timeout=False,
        forced_kill=False,
        expect_fail=False,
        write_error=False,
    ):
        self.name = name
        self.start, self.end, self._ok = start, end, ok
        self.error, self.exit_code, self.timeout = error, exit_code, timeout
        self.forced_kill, self.expect_fail, self.write_error = forced_kill, expect_fail, write_error

    def stats(self):
        s = Report.empty_stats()
        started, ended = self.start is not None, self.end is not None
        s.update(
            start_date=self.start,
            end_date=self.end,
            num_processes=1,
            num_started=int(started),
            num_ended=int(ended),
            num_errors=int(self.error),
            num_timeouts=int(self.timeout),
            num_forced_kills=int(self.forced_kill),
            num_non_zero_exit_codes=int(ended and self.exit_code not in (0, None)),
            num_expect_fail=int(self.expect_fail),
            num_write_error=int(self.write_error),
            num_ok=int(self._ok),
            num_finished_ok=int(started and ended and self._ok),
        )
        return s


class FakeAction:
    """Something with stats(), name and processes, like an action."""

    def __init__(self, name, processes):
        self.name = name
        self.processes = processes

    def stats(self):
        return Report.aggregate_stats(p.stats() for p in self.processes)


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
        FakeProcess('tmo', T0 + 2, T0 + 9, ok=False, timeout=True, forced_kill=True, exit_code=-9),
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
    assert stats['num_processes'] == 0  # the dict given is not changed
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
    a = FakeAction(
        'my-action',
        [FakeProcess('proc-ok', T0, T0 + 3723), FakeProcess('proc-bad', T0 + 1, T0 + 2, ok=False, exit_code=2)],
    )
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
    for name in ('my-action', 'sub-report', 'sub-proc', 'not-started', 'Total'):
        assert name in text
    # an action is one entry: its processes are counted, not listed
    assert 'proc-ok' not in text and 'proc-bad' not in text
    # nesting: the entries of a sub-report are indented under it
    assert any(line.startswith('  sub-proc') for line in lines)
    assert any(line.startswith('sub-report') for line in lines)
    assert any(line.startswith('my-action') for line in lines)
    assert "1h2m3s" in text  # length of my-action
    # header (2 lines), rule, 4 entries of 2 lines, rule, total
    assert len(lines) == 3 + 4 * 2 + 1 + 2
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
    # one line per entry: header, rule, 4 entries, rule, total
    assert len(lines) == 8


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


def _three_actions_of_1000_processes():
    """3 real actions of 1000 cheap local processes each, run."""
    from execo.action import Local, SequentialActions
    from execo.process import Process

    actions = []
    for i in range(3):
        a = Local("true", name="step %d" % (i,))
        a.processes = [Process("true", name="proc %d.%d" % (i, j)) for j in range(1000)]
        actions.append(a)
    SequentialActions(actions).run(timeout=300)
    return actions


def test_to_string_one_entry_per_action_not_per_process(saved_config):
    """execo 2.8.2's layout: 3 actions over 1000 hosts give 3 entries and
    the total, not 3000 rows."""
    configuration['color_mode'] = False
    actions = _three_actions_of_1000_processes()
    report = Report(actions)
    for wide, width, lines_per_entry in ((False, 80, 2), (True, 175, 1)):
        lines = report.to_string(wide=wide).splitlines()
        header = 2 if not wide else 1
        # header, rule, 3 entries, rule, total
        assert len(lines) == header + 1 + 3 * lines_per_entry + 1 + lines_per_entry
        assert all(len(line) <= width for line in lines), max(len(line) for line in lines)
        assert 'proc ' not in "\n".join(lines)
        for i in range(3):
            entry = [n for n, line in enumerate(lines) if line.startswith("step %d " % (i,))]
            assert len(entry) == 1
            counters = " ".join(lines[entry[0] : entry[0] + lines_per_entry]).split()[-11:]
            # total startd ended error timout fkilld expfld wrterr ret!=0 ok finok
            assert counters == ['1000', '1000', '1000', '0', '0', '0', '0', '0', '0', '1000', '1000']
        total = " ".join(lines[-lines_per_entry:]).split()[-11:]
        assert total == ['3000', '3000', '3000', '0', '0', '0', '0', '0', '0', '3000', '3000']
    stats = report.stats()
    assert [sub['name'] for sub in stats['sub_stats']] == ['step 0', 'step 1', 'step 2']
    assert all(sub['sub_stats'] == [] for sub in stats['sub_stats'])
    assert json.loads(json.dumps(stats)) == stats


def test_to_string_long_names_keep_start_and_end(saved_config):
    configuration['color_mode'] = False
    name = "Remote 'some rather long command' on 1000 hosts"
    sub = Report([FakeProcess(name, T0, T0 + 1)])
    sub.name = 'sub'
    report = Report([FakeProcess(name, T0, T0 + 1), sub])
    for wide, width, name_width in ((False, 80, 24), (True, 175, 40)):
        lines = report.to_string(wide=wide).splitlines()
        assert all(len(line) <= width for line in lines)
        entries = [line for line in lines if line.lstrip().startswith("Remote '")]
        assert len(entries) == 2
        for line in entries:
            cell = line[:name_width].strip()
            assert cell.startswith("Remote '") and cell.endswith("1000 hosts") and "..." in cell
        assert entries[1].startswith("  Remote '")  # indented under its report
    # the kind of action (its first word) is kept
    text = Report([FakeProcess("TaktukRemote 'echo ready; sleep 1; echo done' on 6 hosts", T0, T0 + 1)]).to_string()
    assert "TaktukRemote '...6 hosts" in text


def test_to_string_control_characters_in_names(saved_config):
    configuration['color_mode'] = False
    report = Report([FakeProcess("evil\nname\x1b[31m", T0, T0 + 1)])
    text = report.to_string()
    assert "\x1b" not in text
    assert len(text.splitlines()) == 3 + 2 + 1 + 2
    assert "evil?name?[31m" in text


def test_to_string_shows_sub_stats_of_any_stats_object(saved_config):
    """A stats object of a script (as in execo 2.x) with its own sub_stats
    tree: shown nested, like a report's."""
    configuration['color_mode'] = False

    class Custom:
        name = 'custom'

        def stats(self):
            s = Report.empty_stats()
            s['name'] = 'custom'
            s['sub_stats'] = [FakeProcess('part-a', T0, T0 + 1).stats(), FakeProcess('part-b', T0, T0 + 2).stats()]
            for sub, name in zip(s['sub_stats'], ('part-a', 'part-b')):
                sub['name'] = name
            return Report.aggregate_stats(s)

    lines = Report([Custom()]).to_string(wide=True).splitlines()
    assert lines[2].startswith('custom') and lines[3].startswith('  part-a')
    assert lines[4].startswith('  part-b') and lines[-1].startswith('Total')
    assert lines[-1].split()[-11] == '2'
