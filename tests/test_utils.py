"""Tests of execo.utils and execo.exception."""

import os
import pickle
import pty
import sys
import threading

import pytest

from execo import utils
from execo.config import configuration
from execo.exception import ActionsFailed, ProcessesFailed

# ------------------------------------------------------------------ memoize


def test_memoize_function():
    calls = []

    @utils.memoize
    def square(x, offset=0):
        """Square doc."""
        calls.append((x, offset))
        return x * x + offset

    assert square(3) == 9
    assert square(3) == 9
    assert square(3, offset=1) == 10
    assert square(4) == 16
    assert calls == [(3, 0), (3, 1), (4, 0)]
    assert square.__name__ == 'square' and square.__doc__ == "Square doc."
    assert isinstance(square.cache, dict) and len(square.cache) == 3
    square.cache.clear()
    square(3)
    assert len(calls) == 4


def test_memoize_unhashable_args():
    calls = []

    @utils.memoize
    def total(items):
        calls.append(1)
        return sum(items)

    assert total([1, 2]) == 3
    assert total([1, 2]) == 3
    assert total([1, 3]) == 4
    assert len(calls) == 2


def test_memoize_method():
    class C:
        def __init__(self):
            self.calls = 0

        @utils.memoize
        def value(self, x):
            self.calls += 1
            return x * 2

    a, b = C(), C()
    assert a.value(2) == 4 and a.value(2) == 4
    assert b.value(2) == 4
    assert (a.calls, b.calls) == (1, 1)
    assert len(C.value.cache) == 2


def test_memoize_class():
    @utils.memoize
    class Thing:
        def __init__(self, name):
            self.name = name

    t1, t2, t3 = Thing('a'), Thing('a'), Thing('b')
    assert t1 is t2 and t1 is not t3
    assert Thing.__name__ == 'Thing'
    assert len(Thing.cache) == 2


# ------------------------------------------------------------------ get_port


def test_get_port_in_range_round_robin(saved_config):
    configuration['port_range'] = (30000, 30010)
    ports = [utils.get_port() for _ in range(25)]
    assert all(30000 <= p < 30010 for p in ports)
    for a, b in zip(ports, ports[1:]):
        assert b == (a + 1 if a < 30009 else 30000)
    assert len(set(ports[:10])) == 10


def test_get_port_follows_configuration_changes(saved_config):
    configuration['port_range'] = (30000, 30010)
    utils.get_port()
    configuration['port_range'] = (40000, 40003)
    ports = {utils.get_port() for _ in range(6)}
    assert ports == {40000, 40001, 40002}


def test_get_port_single_port_range(saved_config):
    configuration['port_range'] = (31000, 31001)
    assert [utils.get_port() for _ in range(3)] == [31000] * 3


@pytest.mark.parametrize("bad", [(100, 100), (200, 100), ('a', 'b'), (1.5, 3)])
def test_get_port_bad_range(saved_config, bad):
    configuration['port_range'] = bad
    with pytest.raises(ValueError, match="port_range"):
        utils.get_port()


def test_get_port_thread_safe(saved_config):
    configuration['port_range'] = (32000, 34000)
    n_threads, per_thread = 40, 50  # exactly the size of the range
    results = [[] for _ in range(n_threads)]
    barrier = threading.Barrier(n_threads)

    def worker(out):
        barrier.wait()
        for _ in range(per_thread):
            out.append(utils.get_port())

    threads = [threading.Thread(target=worker, args=(r,)) for r in results]
    old_interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible to expose races
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(old_interval)
    ports = [p for r in results for p in r]
    assert len(ports) == 2000
    assert len(set(ports)) == 2000
    assert all(32000 <= p < 34000 for p in ports)


# ------------------------------------------------------------------ checktty


def test_checktty():
    class Tty:
        def isatty(self):
            return True

    assert utils.checktty(Tty()) is True
    assert utils.checktty(object()) is False
    with open(os.devnull, 'w') as f:
        assert utils.checktty(f) is False
    master, slave = pty.openpty()
    try:
        with os.fdopen(slave, 'w', closefd=False) as f:
            assert utils.checktty(f) is True
    finally:
        os.close(slave)
        os.close(master)


def test_checktty_closed_file(tmp_path):
    f = open(tmp_path / "x", 'w')
    f.close()
    assert utils.checktty(f) is False


# ----------------------------------------------------------- command helpers


def test_str_from_cmdline():
    assert utils.str_from_cmdline("ls -l") == "ls -l"
    assert utils.str_from_cmdline(("echo", "a b", "c")) == "echo 'a b' c"
    assert utils.str_from_cmdline(["sleep", 1]) == "sleep 1"


def test_name_from_cmdline():
    assert utils.name_from_cmdline("ls -l") == "ls -l"
    assert utils.name_from_cmdline("  echo  a\n\tb  ") == "echo a b"
    assert utils.name_from_cmdline(("echo", "hello world")) == "echo 'hello world'"
    long_cmd = "x" * 100
    assert utils.name_from_cmdline(long_cmd) == "x" * 36 + "..."
    assert len(utils.name_from_cmdline(long_cmd)) == 39
    assert utils.name_from_cmdline(long_cmd, max_length=10) == "xxxxxxx..."
    assert utils.name_from_cmdline(long_cmd, max_length=None) == long_cmd
    assert utils.name_from_cmdline("x" * 39) == "x" * 39


def test_singleton_to_collection():
    assert utils.singleton_to_collection(None) == []
    assert utils.singleton_to_collection("ab") == ["ab"]
    assert utils.singleton_to_collection(3) == [3]
    lst = [1, 2]
    assert utils.singleton_to_collection(lst) is lst


def test_compact_output(saved_config):
    assert utils.compact_output("abc", 10) == "abc"
    out = utils.compact_output("a" * 10 + "b" * 10, 10)
    assert out.startswith("aaaaa") and out.endswith("bbbbb") and "[...]" in out
    assert len(out.replace("\n[...]\n", "")) == 10
    configuration['compact_output_threshold'] = 0
    assert utils.compact_output("x" * 10000) == "x" * 10000
    configuration['compact_output_threshold'] = 100
    assert len(utils.compact_output("x" * 10000)) < 200


# ---------------------------------------------------------------- exceptions


class FakeProcess:
    def __init__(self, name):
        self.name = name

    def __str__(self):
        return "<FakeProcess %s>" % self.name


def test_processes_failed():
    procs = [FakeProcess('a'), FakeProcess('b')]
    e = ProcessesFailed(procs)
    assert isinstance(e, Exception)
    assert e.processes is procs
    msg = str(e)
    assert "2 processes failed" in msg
    assert "<FakeProcess a>" in msg and "<FakeProcess b>" in msg
    with pytest.raises(ProcessesFailed) as excinfo:
        raise e
    assert excinfo.value.processes == procs


def test_processes_failed_generator_and_single():
    e = ProcessesFailed(FakeProcess(n) for n in 'xy')
    assert len(e.processes) == 2
    assert str(e) == str(e)  # can be formatted more than once
    assert "1 process failed" in str(ProcessesFailed([FakeProcess('z')]))


def test_processes_failed_pickle():
    e = pickle.loads(pickle.dumps(ProcessesFailed(['p1', 'p2'])))
    assert e.processes == ['p1', 'p2']


def test_actions_failed():
    e = ActionsFailed(['act'])
    assert e.actions == ['act']
    assert "1 action failed" in str(e) and "act" in str(e)
