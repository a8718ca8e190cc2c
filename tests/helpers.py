"""Small helpers shared by the test modules."""

import os
import signal
import subprocess
import sys
import time

import pytest


def wait_until(pred, timeout=15.0, step=0.05):
    """Poll pred() until it is true (True) or timeout seconds pass (False)."""
    deadline = time.monotonic() + timeout
    while True:
        if pred():
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(step)


def lines(text):
    """Output lines, whether they end with \\n or (through ssh -tt) \\r\\n."""
    return text.replace("\r\n", "\n").splitlines()


def finish(obj, timeout=120):
    """Wait for a process or an action with a bound; if it does not end,
    SIGKILL what still runs and fail the test. Returns obj."""
    obj.wait(timeout)
    if not obj.ended:
        try:
            for p in getattr(obj, "processes", [obj]):
                if p.started and not p.ended:
                    p.kill(signal.SIGKILL)
        finally:
            pytest.fail("did not end within %ss: %r" % (timeout, obj))
    return obj


def my_children():
    """(pid, state) of the direct children of this process."""
    me = os.getpid()
    res = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                data = f.read()
        except OSError:
            continue
        rest = data[data.rindex(")") + 2 :].split()
        if int(rest[1]) == me:
            res.append((int(d), rest[0]))
    return res


def zombies():
    """pids of this process's zombie children."""
    return [pid for pid, st in my_children() if st == "Z"]


def nfds():
    """Open file descriptors of this process."""
    return len(os.listdir("/proc/self/fd"))


ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def execo_command(args, cwd=ROOT, timeout=120):
    """``python -m execo ARGS`` (argv words, no shell) with this checkout's
    execo, in ``cwd``: a CompletedProcess with text stdout and stderr."""
    return subprocess.run(
        [sys.executable, "-m", "execo"] + list(args),
        cwd=cwd,
        env=dict(os.environ, PYTHONPATH=ROOT),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        universal_newlines=True,
        timeout=timeout,
    )
