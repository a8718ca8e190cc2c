"""The Process-level tests again, with the portable poll() backend and
the SIGCHLD child watcher chosen through ~/.execo.conf.py, as a user
would choose them."""

import os
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PROCESS_TESTS = ["test_process.py", "test_expect.py", "test_handlers.py"]


# The default run covers epoll + pidfd; this one covers both alternatives
# at once (test_reactor.py crosses every poller with every watcher).
@pytest.mark.parametrize("poller,watcher", [("poll", "sigchld")])
def test_process_suite_with_backend(tmp_path, poller, watcher):
    (tmp_path / ".execo.conf.py").write_text(
        "configuration = {'poller': %r, 'child_watcher': %r}\n" % (poller, watcher)
    )
    env = dict(os.environ, HOME=str(tmp_path), PYTHONPATH=ROOT)
    check = subprocess.run(
        [
            sys.executable,
            "-c",
            "from execo.conductor import get_reactor as g; r = g(); print(r.poller, r.child_watcher)",
        ],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert check.stdout.split() == [poller, watcher], check.stderr
    files = [os.path.join(HERE, f) for f in PROCESS_TESTS if os.path.exists(os.path.join(HERE, f))]
    assert files
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-x", "-rf", "-p", "no:cacheprovider"] + files,
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    failed = [line for line in run.stdout.splitlines() if line.startswith(("FAILED", "ERROR", "E "))]
    assert run.returncode == 0, "\n".join(failed[:40]) + "\n----\n" + run.stdout[-4000:] + run.stderr[-2000:]
    assert " passed" in run.stdout
