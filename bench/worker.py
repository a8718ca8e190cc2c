"""One measurement of one workload, in a fresh interpreter.

Run by bench/run.py as::

    PYTHON bench/worker.py '{"workload": "spawn_all", "impl": "execo", "n": 2000}'

and prints one line ``RESULT {json}`` on stdout. The same code measures this
project's execo and execo 2.8.2 (run.py picks the interpreter: the project's,
or the one of bench/.venv-execo282); ``impl`` selects execo or a peer
(subprocess, asyncio, or a raw os.read loop: the "pyraw" limits).

Only the code between the two clock readings is measured; correctness checks
(byte counts, line counts, all ok) are done outside of it and reported in
``check`` ("ok" or what went wrong).

Written to run on both execos: only the API that both have is used
(Process(cmd, shell=...), start/wait/run/stdout/expect/write/kill, ok,
ProcessOutputHandler.read_line called with 3 args by 2.8.2 and 5 by this
project).
"""

import json
import os
import signal
import sys
import time

# 63 characters + "\n" = 64-byte lines
LINE63 = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-"
assert len(LINE63) == 63
MARKER = "THE_MARKER_4242"


def bytes_cmd(size):
    return "head -c %d /dev/zero" % size


def lines_cmd(size):
    return "yes %s | head -c %d" % (LINE63, size)


def expect_cmd(size):
    return "%s; echo %s" % (lines_cmd(size), MARKER)


def import_execo():
    """Import execo: the project's when run.py passes BENCH_EXECO_SRC, else
    whatever the interpreter has (execo 2.8.2 in its virtualenv)."""
    src = os.environ.get("BENCH_EXECO_SRC")
    if src:
        sys.path.insert(0, src)
    else:
        here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != here]
    import execo
    INFO["execo_file"] = execo.__file__
    INFO["execo_version"] = getattr(execo, "__version__", None) or _dist_version()
    return execo


def _dist_version():
    try:
        from importlib.metadata import version
        return version("execo")
    except Exception:
        return None


INFO = {}


def rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def nfds():
    return len(os.listdir("/proc/self/fd"))


def timed(fn):
    t0 = time.perf_counter()
    r = fn()
    return time.perf_counter() - t0, r


# ---------------------------------------------------------------- spawn

def spawn_all(spec):
    n, impl = spec["n"], spec["impl"]
    if impl == "execo":
        execo = import_execo()
        execo.Process("true").run()   # warm up the reactor

        def go():
            ps = [execo.Process("true").start() for _ in range(n)]
            for p in ps:
                p.wait()
            return ps
        secs, ps = timed(go)
        bad = [p for p in ps if not p.ok]
        check = "ok" if not bad else "%d/%d not ok, e.g. %s" % (len(bad), n, bad[0])
    elif impl == "subprocess":
        import subprocess

        def go():
            ps = [subprocess.Popen(["true"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE) for _ in range(n)]
            for p in ps:
                p.communicate()
            return ps
        secs, ps = timed(go)
        bad = [p for p in ps if p.returncode != 0]
        check = "ok" if not bad else "%d/%d failed" % (len(bad), n)
    elif impl == "asyncio":
        import asyncio

        async def go():
            P = asyncio.subprocess.PIPE
            ps = [await asyncio.create_subprocess_exec("true", stdin=P, stdout=P, stderr=P)
                  for _ in range(n)]
            await asyncio.gather(*(p.communicate() for p in ps))
            return ps
        secs, ps = timed(lambda: asyncio.run(go()))
        bad = [p for p in ps if p.returncode != 0]
        check = "ok" if not bad else "%d/%d failed" % (len(bad), n)
    else:
        raise ValueError(impl)
    return {"seconds": secs, "rate": n / secs, "check": check}


def spawn_seq(spec):
    n, impl = spec["n"], spec["impl"]
    if impl == "execo":
        execo = import_execo()
        execo.Process("true").run()

        def go():
            return [execo.Process("true").run() for _ in range(n)]
        secs, ps = timed(go)
        bad = [p for p in ps if not p.ok]
        check = "ok" if not bad else "%d/%d not ok, e.g. %s" % (len(bad), n, bad[0])
    elif impl == "subprocess":
        import subprocess

        def go():
            rcs = []
            for _ in range(n):
                p = subprocess.Popen(["true"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE)
                p.communicate()
                rcs.append(p.returncode)
            return rcs
        secs, rcs = timed(go)
        check = "ok" if not any(rcs) else "some failed"
    elif impl == "asyncio":
        import asyncio

        async def go():
            P = asyncio.subprocess.PIPE
            rcs = []
            for _ in range(n):
                p = await asyncio.create_subprocess_exec("true", stdin=P, stdout=P, stderr=P)
                await p.communicate()
                rcs.append(p.returncode)
            return rcs
        secs, rcs = timed(lambda: asyncio.run(go()))
        check = "ok" if not any(rcs) else "some failed"
    else:
        raise ValueError(impl)
    return {"seconds": secs, "rate": n / secs, "check": check}


# --------------------------------------------------------------- stdout

def _collect(spec, cmd):
    size, impl = spec["size"], spec["impl"]
    if impl == "execo":
        execo = import_execo()
        execo.Process("true").run()
        def go():
            p = execo.Process(cmd, shell=True).start().wait()
            return p, len(p.stdout)  # reading stdout (decoding, if lazy) is part of it
        secs, (p, n) = timed(go)
        check = "ok" if (p.ok and n == size) else "ok=%s len(stdout)=%d expected %d" % (p.ok, n, size)
    elif impl == "subprocess":
        import subprocess
        secs, r = timed(lambda: subprocess.run(cmd, shell=True, stdout=subprocess.PIPE,
                                               stderr=subprocess.PIPE))
        n = len(r.stdout)
        check = "ok" if n == size else "len=%d expected %d" % (n, size)
    elif impl == "asyncio":
        import asyncio

        async def go():
            P = asyncio.subprocess.PIPE
            p = await asyncio.create_subprocess_shell(cmd, stdout=P, stderr=P)
            out, err = await p.communicate()
            return out
        secs, out = timed(lambda: asyncio.run(go()))
        n = len(out)
        check = "ok" if n == size else "len=%d expected %d" % (n, size)
    elif impl == "pyraw":
        # the floor for collecting in Python: os.read(256 KiB) into a list, one join
        import subprocess

        def go():
            p = subprocess.Popen(cmd, shell=True, stdout=subprocess.PIPE)
            fd = p.stdout.fileno()
            chunks = []
            while True:
                b = os.read(fd, 262144)
                if not b:
                    break
                chunks.append(b)
            p.wait()
            return b"".join(chunks)
        secs, out = timed(go)
        n = len(out)
        check = "ok" if n == size else "len=%d expected %d" % (n, size)
    elif impl == "cat":
        # the floor of the pipe itself: cat drains the same producer to /dev/null
        import subprocess
        secs, r = timed(lambda: subprocess.run("%s | cat > /dev/null" % cmd, shell=True))
        check = "ok" if r.returncode == 0 else "rc=%d" % r.returncode
    else:
        raise ValueError(impl)
    return {"seconds": secs, "rate": size / secs / 1e6, "check": check}


def stdout_bytes(spec):
    return _collect(spec, bytes_cmd(spec["size"]))


def stdout_lines(spec):
    return _collect(spec, lines_cmd(spec["size"]))


# --------------------------------------------------------- line handler

def line_handler(spec):
    size, impl = spec["size"], spec["impl"]
    cmd = lines_cmd(size)
    expected = size // 64
    if impl == "execo":
        execo = import_execo()
        execo.Process("true").run()

        class Counter(execo.ProcessOutputHandler):
            def __init__(self):
                super(Counter, self).__init__()
                self.n = 0

            def read_line(self, process, stream, string, eof=False, error=False):
                if string:
                    self.n += 1
        h = Counter()
        secs, p = timed(lambda: execo.Process(cmd, shell=True, stdout_handlers=[h],
                                              default_stdout_handler=False).start().wait())
        n = h.n
        ok = p.ok
    elif impl == "subprocess":
        # text-mode file iteration (str lines, like execo's), a call per line
        import subprocess
        counter = [0]

        def read_line(line):
            counter[0] += 1

        def go():
            p = subprocess.Popen(cmd, shell=True, stdout=subprocess.PIPE, text=True)
            for line in p.stdout:
                read_line(line)
            return p.wait()
        secs, rc = timed(go)
        n, ok = counter[0], rc == 0
    elif impl == "asyncio":
        import asyncio
        counter = [0]

        def read_line(line):
            counter[0] += 1

        async def go():
            p = await asyncio.create_subprocess_shell(cmd, stdout=asyncio.subprocess.PIPE,
                                                      limit=1 << 20)
            async for line in p.stdout:
                read_line(line.decode())
            return await p.wait()
        secs, rc = timed(lambda: asyncio.run(go()))
        n, ok = counter[0], rc == 0
    elif impl == "pyraw":
        # the floor for a Python callback per line: os.read(256 KiB), decode,
        # str.split, one Python call per line
        import subprocess
        counter = [0]

        def read_line(line):
            counter[0] += 1

        def go():
            p = subprocess.Popen(cmd, shell=True, stdout=subprocess.PIPE)
            fd = p.stdout.fileno()
            rest = ""
            while True:
                b = os.read(fd, 262144)
                if not b:
                    break
                lines = (rest + b.decode()).split("\n")
                rest = lines.pop()
                for line in lines:
                    read_line(line)
            if rest:
                read_line(rest)
            return p.wait()
        secs, rc = timed(go)
        n, ok = counter[0], rc == 0
    else:
        raise ValueError(impl)
    check = "ok" if (ok and n == expected) else "ok=%s lines=%d expected %d" % (ok, n, expected)
    return {"seconds": secs, "rate": n / secs / 1e6, "check": check}


# --------------------------------------------------------------- expect

def expect_after(spec):
    size, impl = spec["size"], spec["impl"]
    cmd = expect_cmd(size)
    if impl in ("execo", "execo_collect"):
        execo = import_execo()
        execo.Process("true").run()
        if impl == "execo":
            def go():
                p = execo.Process(cmd, shell=True).start()
                r = p.expect(MARKER, timeout=spec.get("timeout", 600))
                return p, r
            # (p.stdout is not read: expect() alone is measured)
            secs, (p, r) = timed(go)
            p.wait()
            found = r is not None and r[1] is not None
            check = "ok" if (found and p.ok) else "found=%s ok=%s" % (found, p.ok)
        else:
            # the baseline of the target: just collect the same output
            def go():
                p = execo.Process(cmd, shell=True).start().wait()
                return p, len(p.stdout)
            secs, (p, n) = timed(go)
            exp = size + len(MARKER) + 1
            check = "ok" if (p.ok and n == exp) else "ok=%s len=%d expected %d" % (p.ok, n, exp)
    elif impl == "pyraw":
        # os.read(256 KiB) + bytes.find of the marker over a small overlap
        import subprocess
        m = MARKER.encode()

        def go():
            p = subprocess.Popen(cmd, shell=True, stdout=subprocess.PIPE)
            fd = p.stdout.fileno()
            tail = b""
            while True:
                b = os.read(fd, 262144)
                if not b:
                    return p, False
                if (tail + b).find(m) >= 0:
                    return p, True
                tail = b[-len(m):]
        secs, (p, found) = timed(go)
        p.stdout.close()
        p.wait()
        check = "ok" if found else "marker not found"
    else:
        raise ValueError(impl)
    return {"seconds": secs, "rate": size / secs / 1e6, "check": check}


def expect_roundtrip(spec):
    n, impl = spec["n"], spec["impl"]
    if impl == "execo":
        execo = import_execo()
        execo.Process("true").run()
        p = execo.Process("cat", ignore_exit_code=True, nolog_exit_code=True).start()
        p.write("warmup\n")
        p.expect("warmup", timeout=10)

        def go():
            for i in range(n):
                p.write("r%dx\n" % i)
                r = p.expect("r%dx" % i, timeout=10)
                if r is None or r[1] is None:
                    return "round trip %d: no match" % i
            return "ok"
        secs, check = timed(go)
        p.kill()
        p.wait()
    elif impl == "pyraw":
        import subprocess
        p = subprocess.Popen(["cat"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        fi, fo = p.stdin.fileno(), p.stdout.fileno()

        def go():
            for i in range(n):
                tok = b"r%dx" % i
                os.write(fi, tok + b"\n")
                buf = b""
                while tok not in buf:
                    b = os.read(fo, 65536)
                    if not b:
                        return "eof at %d" % i
                    buf += b
            return "ok"
        secs, check = timed(go)
        p.stdin.close()
        p.wait()
    elif impl == "asyncio":
        import asyncio

        async def go():
            P = asyncio.subprocess.PIPE
            p = await asyncio.create_subprocess_exec("cat", stdin=P, stdout=P)
            t0 = time.perf_counter()
            res = "ok"
            for i in range(n):
                tok = b"r%dx" % i
                p.stdin.write(tok + b"\n")
                await p.stdin.drain()
                line = await p.stdout.readline()
                if tok not in line:
                    res = "round trip %d: got %r" % (i, line)
                    break
            secs = time.perf_counter() - t0
            p.stdin.close()
            await p.wait()
            return secs, res
        secs, check = asyncio.run(go())
    else:
        raise ValueError(impl)
    return {"seconds": secs, "rate": n / secs, "check": check}


# ------------------------------------------ many running processes

def procs(spec):
    """N running `sleep 1000`: RSS and fds per process (before/after start,
    in this fresh interpreter), parent CPU over idle_s seconds, then the
    time to kill and wait for all of them."""
    n, impl, idle_s = spec["n"], spec["impl"], spec["idle_s"]
    out = {}
    if impl == "execo":
        execo = import_execo()
        execo.Process("true").run()
        kw = dict(ignore_exit_code=True, nolog_exit_code=True)
        execo.Process("sleep 0", **kw).start().kill()

        def start():
            ps = [execo.Process("sleep 1000", **kw).start() for _ in range(n)]
            # execo 2.8.2's start() only queues the spawn: wait until all have a pid
            deadline = time.time() + 600
            while any(p.pid is None and not p.ended for p in ps) and time.time() < deadline:
                time.sleep(0.05)
            return ps

        def running(ps):
            return sum(1 for p in ps if p.running)

        def kill(ps):
            for p in ps:
                p.kill()
            for p in ps:
                p.wait()

        def ended(ps):
            return all(p.ended for p in ps)
    elif impl == "subprocess":
        import subprocess
        PI = subprocess.PIPE
        subprocess.Popen(["true"], stdin=PI, stdout=PI, stderr=PI).communicate()

        def start():
            return [subprocess.Popen(["sleep", "1000"], stdin=PI, stdout=PI, stderr=PI)
                    for _ in range(n)]

        def running(ps):
            return sum(1 for p in ps if p.poll() is None)

        def kill(ps):
            for p in ps:
                p.terminate()
            for p in ps:
                p.wait()
                p.stdin.close()
                p.stdout.close()
                p.stderr.close()

        def ended(ps):
            return all(p.returncode is not None for p in ps)
    else:
        raise ValueError(impl)
    gc_collect()
    rss0, fd0 = rss_bytes(), nfds()
    t0 = time.perf_counter()
    ps = start()
    out["start_seconds"] = time.perf_counter() - t0
    try:
        time.sleep(1.0)  # let the reactor settle
        gc_collect()
        rss1, fd1 = rss_bytes(), nfds()
        out["rss_per_proc_kib"] = (rss1 - rss0) / n / 1024.0
        out["fds_per_proc"] = (fd1 - fd0) / float(n)
        out["running"] = running(ps)
        c0, w0 = time.process_time(), time.perf_counter()
        time.sleep(idle_s)
        c1, w1 = time.process_time(), time.perf_counter()
        out["idle_cpu_pct"] = 100.0 * (c1 - c0) / (w1 - w0)
        t0 = time.perf_counter()
        kill(ps)
        out["kill_wait_seconds"] = time.perf_counter() - t0
        out["check"] = "ok" if (out["running"] == n and ended(ps)) else \
            "running=%d/%d, all ended=%s" % (out["running"], n, ended(ps))
    finally:
        for p in ps:
            try:
                os.kill(p.pid, signal.SIGKILL)
            except (OSError, TypeError):
                pass
    return out


def gc_collect():
    import gc
    gc.collect()


WORKLOADS = {
    "spawn_all": spawn_all,
    "spawn_seq": spawn_seq,
    "stdout_bytes": stdout_bytes,
    "stdout_lines": stdout_lines,
    "line_handler": line_handler,
    "expect_after": expect_after,
    "expect_roundtrip": expect_roundtrip,
    "procs": procs,
}


def _on_term(signum, frame):
    # run.py's timeout: exit through atexit so execo kills its children
    raise SystemExit(124)


def main():
    signal.signal(signal.SIGTERM, _on_term)
    spec = json.loads(sys.argv[1])
    res = WORKLOADS[spec["workload"]](spec)
    res.update(INFO)
    sys.stdout.write("RESULT " + json.dumps(res) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
