"""The processes of a big action are started by a few threads at once
(execo.starters): every one started when start() returns, the first
exception raised again, one thread and the list's order where order is
promised (a fanout window) or where a thread would cost more."""

import threading

import pytest
from helpers import finish

from execo import start_queue, starters
from execo.action import Remote
from execo.ssh_process import SshProcess


@pytest.fixture
def starts(monkeypatch):
    """(process, thread) of each SshProcess.start(), in call order."""
    calls = []
    real = SshProcess.start

    def start(self):
        calls.append((self, threading.get_ident()))
        return real(self)

    monkeypatch.setattr(SshProcess, "start", start)
    return calls


def test_a_big_action_is_started_by_several_threads(stub_ssh, starts):
    hosts = ["h%d" % i for i in range(120)]
    r = Remote("echo {{{host}}}", hosts, connection_params=stub_ssh).start()
    # all spawned when start() returns (no fanout, far from the fd budget)
    assert all(p.started and p.pid is not None for p in r.processes)
    assert sorted(id(p) for p, _ in starts) == sorted(id(p) for p in r.processes)
    threads = {t for _, t in starts}
    assert threading.get_ident() in threads
    if starters.STARTERS == 1:  # (one core)
        assert len(threads) == 1
    else:
        assert len(threads) > 1
    assert not [t for t in threading.enumerate() if t.name == "execo-starter"]
    finish(r, 120)
    assert r.ok and [p.stdout.strip() for p in r.processes] == hosts


@pytest.mark.parametrize("window", ["action", "configuration"])
def test_a_fanout_window_is_started_in_order_by_one_thread(stub_ssh, starts, saved_config, window):
    hosts = ["h%d" % i for i in range(starters.PARALLEL_MIN * 2)]
    if window == "action":
        r = Remote("echo {{{host}}}", hosts, connection_params=stub_ssh, fanout=5)
    else:
        saved_config["fanout"] = start_queue.running_count() + 5
        r = Remote("echo {{{host}}}", hosts, connection_params=stub_ssh)
    r.start()
    assert [p for p, _ in starts] == list(r.processes)
    assert {t for _, t in starts} == {threading.get_ident()}
    finish(r, 120)
    assert r.ok


class Startable(object):
    def __init__(self, i, log, fail=None):
        self.i, self.log, self.fail = i, log, fail

    def start(self):
        self.log.append((self.i, threading.get_ident()))
        if self.fail is not None:
            raise self.fail
        return self


def test_small_lists_and_in_order_start_in_order_in_the_caller():
    for n, in_order in ((starters.PARALLEL_MIN - 1, False), (starters.PARALLEL_MIN * 4, True)):
        log = []
        starters.start_all([Startable(i, log) for i in range(n)], in_order=in_order)
        assert log == [(i, threading.get_ident()) for i in range(n)]


@pytest.mark.parametrize("error", [ValueError("bad process"), KeyboardInterrupt()])
def test_the_first_exception_of_a_start_is_raised_and_the_rest_not_started(error):
    log = []
    n = starters.PARALLEL_MIN * 8
    ps = [Startable(i, log, fail=error if i == 10 else None) for i in range(n)]
    with pytest.raises(type(error)) as raised:
        starters.start_all(ps)
    assert raised.value is error
    started = sorted(i for i, _ in log)
    assert 10 in started and len(started) < n
    assert len(set(started)) == len(started)  # none started twice
    assert not [t for t in threading.enumerate() if t.name == "execo-starter"]
