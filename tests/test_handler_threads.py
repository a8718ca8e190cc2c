"""Handler threads (execo.handler_threads): user handlers run in order,
one process at a time, outside the reactor thread, so that a handler that
blocks holds up its own process only; a lagging handler pauses the reading
of its process (bounded memory) and loses nothing.

No timing thresholds: blocked handlers wait on events the test releases
only after checking that the other processes went on."""

import os
import sys
import threading

from helpers import finish, wait_until

from execo.handler_threads import HIGH_WATER, MERGE_LIMIT, handler_pool
from execo.process import Process, ProcessLifecycleHandler, ProcessOutputHandler

PY = sys.executable


class Gate(ProcessOutputHandler):
    """Blocks in its first call until released; records everything."""

    def __init__(self):
        super().__init__()
        self.entered = threading.Event()
        self.release = threading.Event()
        self.parts = []
        self.eof = False
        self.threads = set()

    def read(self, process, stream, string, eof, error):
        self.threads.add(threading.current_thread().name)
        if not self.entered.is_set():
            self.entered.set()
            assert self.release.wait(60)
        self.parts.append(string)
        if eof:
            self.eof = True


class Lines(ProcessOutputHandler):
    def __init__(self):
        super().__init__()
        self.lines = []

    def read_line(self, process, stream, string, eof, error):
        self.lines.append(string)


class Events(ProcessLifecycleHandler):
    def __init__(self):
        self.events = []

    def start(self, process):
        self.events.append("start")

    def end(self, process):
        self.events.append("end")


def test_blocked_handler_holds_up_its_own_process_only():
    gate = Gate()
    blocked = Process((PY, "-c", "print('first'); print('second')"), stdout_handlers=[gate]).start()
    try:
        assert gate.entered.wait(30)
        # another process, with output and lifecycle handlers, runs to its
        # end while the first handler is still blocked
        lines, events = Lines(), Events()
        other = Process(
            ("sh", "-c", "for i in 1 2 3; do echo $i; done"), stdout_handlers=[lines], lifecycle_handlers=[events]
        )
        finish(other.start())
        assert other.ok and lines.lines == ["1\n", "2\n", "3\n"]
        assert events.events == ["start", "end"]
        # the blocked process's output is all read (its child is gone)
        # but it is not ended: its handler has not seen eof yet
        assert wait_until(lambda: blocked.stdout == "first\nsecond\n", 30)
        assert not blocked.ended and not gate.eof
        assert threading.current_thread().name not in gate.threads
    finally:
        gate.release.set()
    finish(blocked)
    assert blocked.ok and gate.eof
    assert "".join(gate.parts) == "first\nsecond\n"
    assert all(name.startswith("execo-handlers-") for name in gate.threads)


def test_many_blocked_handlers_grow_the_pool():
    gates = [Gate() for _ in range(6)]
    blocked = [Process("echo %d" % i, stdout_handlers=[g]).start() for i, g in enumerate(gates)]
    try:
        for g in gates:
            assert g.entered.wait(30)
        lines = Lines()
        other = finish(Process("echo still flowing", stdout_handlers=[lines]).start())
        assert other.ok and lines.lines == ["still flowing\n"]
        assert handler_pool().threads() >= len(gates) + 1
        assert not any(p.ended for p in blocked)
    finally:
        for g in gates:
            g.release.set()
    for i, p in enumerate(blocked):
        finish(p)
        assert p.ok and "".join(gates[i].parts) == "%d\n" % i


def test_blocked_end_handler_delays_its_wait_only():
    release = threading.Event()
    entered = threading.Event()

    class SlowEnd(ProcessLifecycleHandler):
        def end(self, process):
            entered.set()
            assert release.wait(60)

    slow = Process("true", lifecycle_handlers=[SlowEnd()]).start()
    try:
        assert entered.wait(30)
        # wait() returns only once the end handlers ran
        assert not slow.wait(0.2).ended_event.is_set()
        ok = [finish(Process("echo %d" % i).start()) for i in range(20)]
        assert all(p.ok for p in ok)
    finally:
        release.set()
    finish(slow)
    assert slow.ok


def test_lagging_handler_pauses_reading_and_loses_nothing():
    size = 64 << 20
    gate = Gate()
    total = [0]

    class Count(ProcessOutputHandler):
        def read(self, process, stream, string, eof, error):
            total[0] += len(string)

    p = Process("head -c %d /dev/zero" % (size,), default_stdout_handler=False, stdout_handlers=[gate, Count()]).start()
    try:
        assert gate.entered.wait(30)
        # the handlers are stuck: the reader stops after HIGH_WATER bytes,
        # the child blocks on its full pipe instead of memory filling up
        assert wait_until(lambda: p._strand._paused, 30)
        assert p._strand._backlog <= HIGH_WATER + MERGE_LIMIT
        assert p.running and not p.ended
    finally:
        gate.release.set()
    finish(p, 120)
    assert p.ok
    assert total[0] == size
    assert sum(len(s) for s in gate.parts) == size


def test_handlers_in_a_forked_child():
    pid = os.fork()
    if pid == 0:  # the child: a fresh reactor and fresh handler threads
        code = 1
        try:
            lines = Lines()
            p = Process("printf 'a\\nb\\n'", stdout_handlers=[lines]).run(30)
            q = Process("echo ready; sleep 0.2").start()
            index, _ = q.expect("ready", timeout=30)
            q.wait(30)
            if p.ok and lines.lines == ["a\n", "b\n"] and index == 0 and q.ok:
                code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


def test_order_of_calls_is_kept_per_process():
    class Recorder(ProcessOutputHandler, ProcessLifecycleHandler):
        def __init__(self):
            ProcessOutputHandler.__init__(self)
            self.calls = []

        def read(self, process, stream, string, eof, error):
            self.calls.append(("read", string, eof))

        def start(self, process):
            self.calls.append(("start",))

        def end(self, process):
            self.calls.append(("end",))

    recs = []
    ps = []
    for i in range(50):
        r = Recorder()
        recs.append(r)
        ps.append(
            Process(
                ("sh", "-c", "for j in 1 2 3 4 5; do echo %d-$j; done" % i), stdout_handlers=[r], lifecycle_handlers=[r]
            ).start()
        )
    for i, (p, r) in enumerate(zip(ps, recs)):
        finish(p)
        assert r.calls[0] == ("start",) and r.calls[-1] == ("end",)
        reads = r.calls[1:-1]
        assert reads[-1][2] is True and all(not eof for _, _, eof in reads[:-1])
        assert "".join(s for _, s, _ in reads) == "".join("%d-%d\n" % (i, j) for j in range(1, 6))


def test_strands_queued_together_behind_a_blocked_one():
    """Work queued right after a strand that blocks (before the pool saw
    it block) still runs: the pool watches for stuck threads."""
    for _ in range(5):
        gate, lines = Gate(), Lines()
        a = Process("echo a", stdout_handlers=[gate])
        b = Process("echo b", stdout_handlers=[lines])
        a.start()
        b.start()
        try:
            assert gate.entered.wait(30)
            finish(b)
            assert b.ok and lines.lines == ["b\n"]
        finally:
            gate.release.set()
        finish(a)
        assert a.ok and "".join(gate.parts) == "a\n"


def test_no_user_code_in_the_reactor_thread():
    """Process and action handlers of every kind run outside the reactor
    thread, even where execo's own counting runs inline."""
    from execo import Local, ParallelActions, SequentialActions
    from execo.action import ActionLifecycleHandler

    seen = []

    class ActionEnd(ActionLifecycleHandler):
        def end(self, action):
            seen.append(("action end", threading.current_thread().name))

    class ProcessEnd(ProcessLifecycleHandler):
        def end(self, process):
            seen.append(("process end", threading.current_thread().name))

    a = Local("true", lifecycle_handlers=[ActionEnd()])
    b = Local("true", process_args={"lifecycle_handlers": [ProcessEnd()]})
    seq = SequentialActions(
        [Local("true"), Local("true", lifecycle_handlers=[ActionEnd()])], lifecycle_handlers=[ActionEnd()]
    )
    par = ParallelActions([a, b, seq], lifecycle_handlers=[ActionEnd()])
    par.run(30)
    assert par.ok
    # a's end, b's process end, the end of seq's second action, seq's, par's
    assert sorted(kind for kind, _ in seen) == ["action end"] * 4 + ["process end"], seen
    assert all(name != "execo-reactor" for _, name in seen), seen
