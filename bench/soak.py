"""Soak run: execo under mixed load for a long time, checking that nothing
leaks or hangs (issue 7's "longer bench/soak run"; the CI-sized versions of
these checks are in tests/reliability/).

Each round runs, in one interpreter:

- a wave of short processes (``--wave`` of them, exit codes and outputs
  checked), some with timeouts and kills;
- processes writing 1 MB each, byte-exact;
- threads running their own processes and expects;
- an action with a failing process (error flag, not an exception).

After every round it records fds, threads, zombies and RSS; at the end it
compares the last rounds with the first ones and exits non-zero on steady
growth, a wrong result or a hang (``--round-timeout``).

    python bench/soak.py --minutes 30          # default 10
"""

import argparse
import gc
import os
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

import execo  # noqa: E402
from execo import Local, ParallelActions, Process  # noqa: E402


def nfds():
    return len(os.listdir("/proc/self/fd"))


def nthreads():
    return len(os.listdir("/proc/self/task"))


def zombies():
    me = str(os.getpid())
    n = 0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % pid) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] == "Z" and fields[1] == me:
            n += 1
    return n


def rss_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def wave(n):
    ps = [Process(("sh", "-c", "echo %d; exit %d" % (i, i % 7)), nolog_exit_code=True) for i in range(n)]
    slow = [Process("sleep 30", timeout=0.5, nolog_timeout=True) for _ in range(n // 100)]
    killed = [Process("sleep 30") for _ in range(n // 100)]
    for p in ps + slow + killed:
        p.start()
    for p in killed:
        p.kill()
    for p in ps + slow + killed:
        p.wait(60)
    bad = [p for i, p in enumerate(ps) if not (p.ended and p.exit_code == i % 7 and p.stdout == "%d\n" % i)]
    bad += [p for p in slow if not (p.ended and p.timeouted)]
    bad += [p for p in killed if not (p.ended and p.killed)]
    return bad


def megabytes(n):
    ps = [Process(("sh", "-c", "head -c 1000000 /dev/zero | tr '\\0' '%s'" % chr(97 + i % 26))) for i in range(n)]
    for p in ps:
        p.start()
    bad = []
    for i, p in enumerate(ps):
        p.wait(120)
        if not (p.finished_ok and p.stdout == chr(97 + i % 26) * 1000000):
            bad.append(p)
    return bad


def threaded(n_threads, rounds):
    bad = []

    def work(k):
        for r in range(rounds):
            p = Process("cat").start()
            p.write("t%d-%d\n" % (k, r))
            if p.expect(r"t%d-%d" % (k, r), timeout=30)[0] != 0:
                bad.append(p)
            p.close_stdin()
            p.wait(30)
            if not p.finished_ok:
                bad.append(p)

    ts = [threading.Thread(target=work, args=(k,)) for k in range(n_threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(120)
    return bad + [t for t in ts if t.is_alive()]


def failing_action():
    a = ParallelActions([Local("true"), Local("/nonexistent/cmd", process_args={"nolog_error": True})]).run(30)
    return [] if (a.ended and not a.ok and a.actions[0].ok) else [a]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--minutes", type=float, default=10)
    ap.add_argument("--wave", type=int, default=2000)
    ap.add_argument("--megabytes", type=int, default=200)
    ap.add_argument("--threads", type=int, default=32)
    ap.add_argument("--round-timeout", type=float, default=300)
    args = ap.parse_args()
    end = time.time() + args.minutes * 60
    samples = []
    failures = 0
    rnd = 0
    print("round  seconds   fds threads zombies  rss_MB  failures")
    while time.time() < end:
        rnd += 1
        t0 = time.time()
        result = {}

        def one_round(result=result):
            result["bad"] = wave(args.wave) + megabytes(args.megabytes) + threaded(args.threads, 4) + failing_action()

        t = threading.Thread(target=one_round, daemon=True)
        t.start()
        t.join(args.round_timeout)
        if t.is_alive():
            print("round %d hung (> %ss)" % (rnd, args.round_timeout))
            return 2
        gc.collect()
        bad = result["bad"]
        failures += len(bad)
        sample = (nfds(), nthreads(), zombies(), rss_mb())
        samples.append(sample)
        print("%5d %8.1f %5d %7d %7d %7.1f %9d" % ((rnd, time.time() - t0) + sample + (len(bad),)), flush=True)
        for p in bad[:3]:
            print("  bad:", p)
    if len(samples) >= 4:
        first, last = samples[1], samples[-1]  # round 1 warms caches up
        grew = []
        if last[0] > first[0] + 5:
            grew.append("fds %d -> %d" % (first[0], last[0]))
        if last[1] > first[1] + 2:
            grew.append("threads %d -> %d" % (first[1], last[1]))
        if last[2] > 0:
            grew.append("%d zombies" % (last[2],))
        if last[3] > first[3] * 1.5 + 20:
            grew.append("RSS %.0f -> %.0f MB" % (first[3], last[3]))
        if grew:
            print("LEAK: " + ", ".join(grew))
            return 1
    print("%d rounds, %d failures, execo %s" % (rnd, failures, execo.__version__))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
