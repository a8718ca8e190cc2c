"""Small helpers shared by the test modules."""

import time


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
