"""Instructions per operation of a latency workload, for built trees side
by side: a count that machine noise does not move, for the small
changes a timing on a shared 2-core machine cannot tell apart::

    python bench/instructions.py WORKLOAD TREE [TREE ...]

WORKLOAD is one of

- ``rt``: ``write("r<i>x\\n")`` + ``expect("r<i>x")`` round trips on one
  ``cat`` (the expect_roundtrip row);
- ``seq``: ``Process("true").run()`` one after another (spawn_seq).

Each tree runs the workload under valgrind's callgrind twice, with N
and 3N operations, in a fresh interpreter; the difference of the two
totals over 2N is what one operation costs, start-up and imports
cancelled out. Only the user-space instructions of the Python process
count: not the kernel's (system calls, wake-ups), not the children's.
Threads are serialized under valgrind, so which thread finds the reply
may differ from a real run; compare trees with one another, not with
a wall-clock. Two runs of one tree: rt within 0.2 %, seq within about
2 % (which thread reaps the child varies): run seq a few times. Needs ``valgrind`` (``apt-get install valgrind``).
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile

CHILD = r"""
import os, sys
sys.path.insert(0, TREE)
import execo
n = int(os.environ["EXECO_BENCH_N"])
if WORKLOAD == "rt":
    p = execo.Process("cat", ignore_exit_code=True, nolog_exit_code=True).start()
    p.write("warmup\n")
    p.expect("warmup", timeout=30)
    for i in range(n):
        p.write("r%dx\n" % i)
        assert p.expect("r%dx" % i, timeout=30)[0] == 0
    p.kill()
    p.wait()
else:
    execo.Process("true").run()
    for i in range(n):
        assert execo.Process("true").run().ok
"""

N = {"rt": 1000, "seq": 100}


def collected(tree, workload, n):
    """callgrind's total instruction count for n operations."""
    code = "TREE = %r\nWORKLOAD = %r\n" % (os.path.abspath(tree), workload) + CHILD
    with tempfile.TemporaryDirectory() as tmp:
        script = os.path.join(tmp, "child.py")
        with open(script, "w") as f:
            f.write(code)
        env = dict(os.environ, EXECO_BENCH_N=str(n))
        out = subprocess.run(
            [
                "valgrind",
                "--tool=callgrind",
                "--callgrind-out-file=" + os.path.join(tmp, "cg.out"),
                sys.executable,
                script,
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            check=True,
        ).stderr
    m = re.search(r"Collected : (\d+)", out)
    if m is None:
        raise RuntimeError("no count in valgrind's output:\n" + out[-2000:])
    return int(m.group(1))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("workload", choices=sorted(N))
    ap.add_argument("trees", nargs="+")
    args = ap.parse_args()
    n = N[args.workload]
    for tree in args.trees:
        small, large = collected(tree, args.workload, n), collected(tree, args.workload, 3 * n)
        print("%s: %.0f instructions per operation (%s)" % (tree, (large - small) / (2 * n), args.workload))


if __name__ == "__main__":
    main()
