"""Where a latency workload's CPU goes, thread by thread, for built trees
side by side (the profiles behind issue 18's notes)::

    python bench/threads.py [--runs K] WORKLOAD TREE [TREE ...]

WORKLOAD is one of

- ``seq``: 1,000 ``Process("true").run()`` one after another (bench row
  spawn_seq): wall and main-thread CPU per run;
- ``kill``: 2,000 ``sleep 1000`` started and settled, then ``kill()`` of
  all and ``wait()`` of all (kill2000): wall per process, CPU and run-queue
  wait per process of each thread, CPU of the whole process;
- ``fan``: ``Remote("echo {{{host}}}")`` over 2,000 host names through
  run.py's stub ssh (fanout_stub): the same, from ``start()`` to ``wait()``;
- ``rt``: 5,000 ``write("r<i>x\n")`` + ``expect("r<i>x")`` round trips on
  one ``cat`` (expect_roundtrip): wall and CPU per round trip;
- ``killsplit``: ``kill`` in two phases, the ``kill()`` loop and the tail
  (the ``wait()`` loop: the ends left after the signals), each with its
  wall per process, the CPU and run-queue wait of each thread per process
  and how idle the machine's CPUs were (``/proc/stat``), and how many
  processes had ended when the loop returned; beside it the C loops ``spawnloop kill`` and
  ``killfd`` (bench/run.py's, compiled here), alternated with the trees,
  split the same way (their wall only).

TREE is a source tree with the reactor built in place (``python setup.py
build_ext --inplace``), e.g. this checkout and a ``git worktree`` of an
older commit. Each run is a fresh interpreter; the runs of the trees are
alternated (a noisy machine hits them alike) and the medians printed.
Each thread's CPU and its wait on a run queue (runnable, no CPU free: on
a loaded machine, where latency goes) come from
``/proc/self/task/*/schedstat`` in nanoseconds (where the kernel keeps no
schedstat, the CPU from ``.../stat`` in clock ticks, coarse for short
runs, and no wait); the process's CPU from ``os.times()``.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
KILL_N = 2000  # kill, killsplit and their C loops

CHILD = r"""
import json, os, sys, time
sys.path.insert(0, TREE)
sys.path.insert(0, HERE)
import execo
from execo import Process

TICK = os.sysconf("SC_CLK_TCK")


def thread_times(tid):
    # (seconds on a CPU, seconds runnable but waiting for one) of a thread:
    # schedstat's nanoseconds, or stat's clock ticks and no wait (None)
    # where the kernel keeps no schedstat
    try:
        with open("/proc/self/task/%s/schedstat" % tid) as f:
            on_cpu, waiting = f.read().split()[:2]
        return int(on_cpu) / 1e9, int(waiting) / 1e9
    except (OSError, ValueError):
        with open("/proc/self/task/%s/stat" % tid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICK, None


def threads():
    out = {}
    for tid in os.listdir("/proc/self/task"):
        try:
            out[tid] = thread_times(tid)
        except OSError:  # (ended meanwhile)
            continue
    return out


def cpu():
    t = os.times()
    return t.user + t.system


def per_thread(th0, th1, n, prefix=""):
    # the main thread's and the reactor's CPU (and run-queue wait, where
    # the kernel keeps it) between two threads() snapshots, per unit
    res = {}
    main = str(os.getpid())

    def delta(tid):
        (cpu0, wait0), (cpu1, wait1) = th0.get(tid, (0.0, 0.0)), th1[tid]
        return cpu1 - cpu0, None if wait1 is None else wait1 - (wait0 or 0.0)

    # the busiest other thread is the reactor's (handler threads idle here)
    others = sorted((delta(t) for t in th1 if t != main), key=lambda d: d[0], reverse=True)
    for name, (on_cpu, waiting) in (("main", delta(main)), ("reactor", others[0] if others else (0.0, 0.0))):
        res[prefix + name + "_cpu_us"] = on_cpu / n * 1e6
        if waiting is not None:
            res[prefix + name + "_runq_us"] = waiting / n * 1e6
    return res


def measure(n, body):
    th0, c0, t0 = threads(), cpu(), time.perf_counter()
    body()
    wall, c1, th1 = time.perf_counter() - t0, cpu(), threads()
    res = {"wall_us": wall / n * 1e6, "process_cpu_us": (c1 - c0) / n * 1e6}
    res.update(per_thread(th0, th1, n))
    return res


def machine():
    # (busy, all) clock ticks of every CPU since boot
    with open("/proc/stat") as f:
        ticks = [int(x) for x in f.readline().split()[1:8]]
    return sum(ticks) - ticks[3] - ticks[4], sum(ticks)


Process("true").run()
if WORKLOAD == "seq":
    n = 1000
    t0 = time.thread_time()
    res = measure(n, lambda: [Process("true").run() for _ in range(n)])
    res["main_cpu_us"] = (time.thread_time() - t0) / n * 1e6  # (fine even without schedstat)
elif WORKLOAD in ("kill", "killsplit"):
    n = KILL_N
    ps = [Process("sleep 1000").start() for _ in range(n)]
    time.sleep(0.5)
    if WORKLOAD == "kill":

        def body():
            for p in ps:
                p.kill()
            for p in ps:
                p.wait()

        res = measure(n, body)
    else:
        marks = [(time.perf_counter(), machine(), threads())]
        for p in ps:
            p.kill()
        marks.append((time.perf_counter(), machine(), threads()))
        res = {"ended_in_loop": sum(1 for p in ps if p.ended)}
        for p in ps:
            p.wait()
        marks.append((time.perf_counter(), machine(), threads()))
        for phase, (t0, (b0, a0), th0), (t1, (b1, a1), th1) in zip(("loop", "tail"), marks, marks[1:]):
            res[phase + "_us"] = (t1 - t0) / n * 1e6
            res[phase + "_idle_pct"] = 100.0 * (1 - (b1 - b0) / max(1, a1 - a0))
            res.update(per_thread(th0, th1, n, phase + "_"))
    assert all(p.ended and p.killed for p in ps)
elif WORKLOAD == "rt":
    n = 5000
    p = Process("cat", ignore_exit_code=True, nolog_exit_code=True).start()

    def round_trips(first, count):
        for i in range(first, first + count):
            p.write("r%dx\n" % i)
            assert p.expect("r%dx" % i, timeout=30)[0] == 0

    round_trips(10**6, 1000)  # (warm)
    t0 = time.thread_time()
    res = measure(n, lambda: round_trips(0, n))
    res["main_cpu_us"] = (time.thread_time() - t0) / n * 1e6
    p.kill().wait()
else:
    import worker

    n = 2000
    r = execo.Remote(worker.FANOUT_CMD, worker.fanout_hosts(n), connection_params={"ssh": STUB})
    res = measure(n, lambda: r.start().wait())
    assert r.ok
print("RESULT " + json.dumps(res))
"""


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("workload", choices=["seq", "kill", "fan", "rt", "killsplit"])
    ap.add_argument("trees", nargs="+")
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    sys.path.insert(0, HERE)
    import worker

    with tempfile.TemporaryDirectory() as tmp:
        stub = os.path.join(tmp, "stub-ssh")
        with open(stub, "w") as f:
            f.write(worker.STUB_SSH)
        os.chmod(stub, 0o755)
        results = {t: [] for t in args.trees}
        c_loops = []
        if args.workload == "killsplit":
            import run

            exe, why = run.compile_c(tmp)
            if exe is None:
                sys.exit("spawnloop: " + why)
            c_loops = ["C kill", "C killfd"]
            results.update({c: [] for c in c_loops})
        for _ in range(args.runs):
            for c in c_loops:
                out = subprocess.run([exe, c.split()[1], str(KILL_N), "1"], capture_output=True, text=True)
                phases = [x.split()[1:] for x in out.stderr.splitlines() if x.startswith("phases: ")]
                if out.returncode or not phases:
                    sys.exit("%s failed:\n%s" % (c, out.stderr[-2000:]))
                loop, tail = (float(x) / KILL_N * 1e6 for x in phases[-1])
                results[c].append({"loop_us": loop, "tail_us": tail})
            for tree in args.trees:
                code = (
                    CHILD.replace("TREE", repr(os.path.abspath(tree)))
                    .replace("HERE", repr(HERE))
                    .replace("WORKLOAD", repr(args.workload))
                    .replace("STUB", repr(stub))
                    .replace("KILL_N", str(KILL_N))
                )
                out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp)
                lines = [x for x in out.stdout.splitlines() if x.startswith("RESULT ")]
                if out.returncode or not lines:
                    sys.exit("%s failed:\n%s" % (tree, out.stderr[-2000:]))
                results[tree].append(json.loads(lines[-1][7:]))
    for tree, runs in results.items():
        cells = ["%s %.1f" % (k, statistics.median(r[k] for r in runs)) for k in runs[0]]
        print("%s: %s" % (tree, ", ".join(cells)))


if __name__ == "__main__":
    main()
