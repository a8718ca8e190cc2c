"""execo demo: the execo command, then 500 local processes at once.

First runs the ``execo`` command line tool locally (no host given: the
command runs on this machine), as a user would from a shell. Then starts
500 small "workers" that announce themselves after a random delay, waits
(expect) until every one said it is ready, talks to each through its
stdin, collects their answers, then kills a deliberately stuck one and
prints the Report.  Run it with: python examples/demo.py
"""

import subprocess
import sys

from execo import STDOUT, Process, Report, Timer


def cli_demo():
    """``execo 'echo ...; uname -sr'``: the command line tool, locally."""
    command = "echo hello from the execo command; uname -sr"
    print("$ execo %r" % (command,))
    # python -m execo == the execo console script (run from / so that the
    # installed package is used, not a source tree in the current directory)
    status = subprocess.call([sys.executable, "-m", "execo", "--no-report", command], cwd="/")
    print("(exit status %d)\n" % (status,))


N = 500
WORKER = (
    'sleep 0.$(( $$ % 10 )); echo "worker {i} ready"; read question; echo "worker {i} answers: ${{#question}} chars"'
)


def main():
    cli_demo()
    t = Timer()
    workers = [Process(WORKER.format(i=i), shell=True, name="worker-%d" % i).start() for i in range(N)]
    stuck = Process("sleep 3600", name="stuck", nolog_exit_code=True).start()
    print("started %d processes in %.2fs" % (N + 1, t.elapsed()))

    ready = 0
    for w in workers:
        index, match = w.expect(r"^worker \d+ ready$", timeout=20, stream=STDOUT)
        ready += index is not None
    print("%d/%d workers ready after %.2fs" % (ready, N, t.elapsed()))

    for i, w in enumerate(workers):
        w.write("what is %s?\n" % ("x" * i))
    for w in workers:
        w.wait()
    answers = [w.stdout.splitlines()[-1] for w in workers]
    print("all answered after %.2fs, e.g. %r and %r" % (t.elapsed(), answers[0], answers[-1]))

    stuck.kill().wait()
    print("stuck process killed: killed=%s exit_code=%s ok=%s" % (stuck.killed, stuck.exit_code, stuck.ok))

    report = Report(workers + [stuck])
    report.name = "demo"
    print(report.to_string(brief=True))
    bad = [w.name for w in workers if not w.finished_ok]
    print("failed workers: %s" % (bad or "none"))
    return 0 if not bad else 1


if __name__ == "__main__":
    raise SystemExit(main())
