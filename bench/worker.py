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
project; Remote(cmd, hosts, connection_params) with ``{{{host}}}``, and
connection_params keys ssh, ssh_options, user, keyfile, port; for the
taktuk rows Host(address, user=, keyfile=, port=), TaktukRemote, Put,
TaktukPut and ChainPut, with connection_params keys ssh_options,
scp_options, taktuk_connector_options). An execo that raises instead of
running (2.8.2's taktuk actions on Python 3) gives ``{"fails": reason}``;
an implementation that is not there (execo.chainput) ``{"na": reason}``.

Also run by run.py as ``worker.py --sshd N``: starts the private sshd
daemons of tests/fixtures/sshd.py on 127.0.0.1..N, prints one line
``SSHD {json}`` (addresses, port, user, keyfile, ssh options) and keeps
them running until its stdin is closed (then stops them and exits).
"""

import errno
import json
import os
import signal
import sys
import threading
import time

# 63 characters + "\n" = 64-byte lines
LINE63 = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-"
assert len(LINE63) == 63
MARKER = "THE_MARKER_4242"


def bytes_cmd(size):
    return "head -c %d /dev/zero" % size


def lines_cmd(size, line_len=64):
    """SIZE bytes of LINE_LEN-byte lines (newline included)."""
    return "yes %s | head -c %d" % (LINE63[: line_len - 1], size)


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
        execo.Process("true").run()  # warm up the reactor

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
            ps = [
                subprocess.Popen(["true"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                for _ in range(n)
            ]
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
            ps = [await asyncio.create_subprocess_exec("true", stdin=P, stdout=P, stderr=P) for _ in range(n)]
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
                p = subprocess.Popen(["true"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
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
    elif impl == "pyspawn":
        # the floor of a Python library: what execo does per child, spelled
        # out with os calls (3 pipes, own process group, read to EOF, reap)
        env = dict(os.environ)

        def go():
            rcs = []
            for _ in range(n):
                fds = [os.pipe2(os.O_CLOEXEC) for _ in range(3)]
                actions = [(os.POSIX_SPAWN_DUP2, fds[0][0], 0)]
                actions += [(os.POSIX_SPAWN_DUP2, fds[1][1], 1), (os.POSIX_SPAWN_DUP2, fds[2][1], 2)]
                pid = os.posix_spawnp("true", ["true"], env, file_actions=actions, setpgroup=0)
                for fd in (fds[0][0], fds[1][1], fds[2][1]):
                    os.close(fd)
                while os.read(fds[1][0], 65536):
                    pass
                while os.read(fds[2][0], 65536):
                    pass
                rcs.append(os.waitpid(pid, 0)[1])
                for fd in (fds[0][1], fds[1][0], fds[2][0]):
                    os.close(fd)
            return rcs

        secs, rcs = timed(go)
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

        secs, r = timed(lambda: subprocess.run(cmd, shell=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE))
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
    """line_handler (64-byte lines) and line_handler8 (8-byte lines: the
    per-line cost dominates)."""
    size, impl = spec["size"], spec["impl"]
    line_len = spec.get("line_len", 64)
    cmd = lines_cmd(size, line_len)
    expected = size // line_len
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
        secs, p = timed(
            lambda: execo.Process(cmd, shell=True, stdout_handlers=[h], default_stdout_handler=False).start().wait()
        )
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
            p = await asyncio.create_subprocess_shell(cmd, stdout=asyncio.subprocess.PIPE, limit=1 << 20)
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
                tail = b[-len(m) :]

        secs, (p, found) = timed(go)
        p.stdout.close()
        p.wait()
        check = "ok" if found else "marker not found"
    else:
        raise ValueError(impl)
    return {"seconds": secs, "rate": size / secs / 1e6, "check": check}


class _CpuHog(object):
    """One busy loop per core (separate processes) while the block runs:
    the expect_roundtrip_hog row, an experiment machine under load."""

    def __enter__(self):
        import subprocess

        self.procs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(os.cpu_count() or 1)]
        time.sleep(0.2)  # spinning before the clock starts
        return self

    def __exit__(self, *exc):
        for p in self.procs:
            p.kill()
        for p in self.procs:
            p.wait()
        return False


def expect_roundtrip(spec):
    if spec.get("hog"):
        with _CpuHog():
            return _expect_roundtrip(spec)
    return _expect_roundtrip(spec)


def _expect_roundtrip(spec):
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


# ------------------------------------------------------- kill + wait


def kill_wait(spec):
    """N running `sleep 1000` (spec["shell"]: through /bin/sh, whose
    process group execo kills), started and settled outside the timing;
    timed: kill() of all, then wait() of all (issue 18). impl "floor":
    the same children through execo's reactor alone (see below)."""
    n, impl, shell = spec["n"], spec["impl"], spec["shell"]
    if impl == "execo":
        execo = import_execo()
        execo.Process("true").run()
        kw = dict(ignore_exit_code=True, nolog_exit_code=True)
        ps = [execo.Process("sleep 1000", shell=shell, **kw).start() for _ in range(n)]
        # execo 2.8.2's start() only queues the spawn: wait until all have a pid
        deadline = time.time() + 600
        while any(p.pid is None and not p.ended for p in ps) and time.time() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)

        def go():
            for p in ps:
                p.kill()
            for p in ps:
                p.wait()

        secs, _ = timed(go)
        bad = [p for p in ps if not (p.ended and p.killed)]
        check = "ok" if not bad else "%d/%d not killed, e.g. %s" % (len(bad), n, bad[0])
    elif impl == "floor":
        # execo's mechanism without its Python policy: the children spawned,
        # signalled and reaped by the reactor (pidfds, epoll, the eofs read
        # into collectors, the pipes closed) as for Process, each child's
        # end a single short Python call; the caller waits for the last one
        execo = import_execo()
        from execo import _reactor
        from execo.conductor import get_reactor

        execo.Process("true").run()
        reactor = get_reactor()
        all_ended = threading.Event()
        left = [n]

        class Sink(object):
            __slots__ = ("child", "collectors")

            def _on_data(self, stream, data):
                pass

            def _on_eof(self, stream, err):
                self.collectors[stream - 1].shrink()  # (as a process does)

            def _on_exit(self, code):
                self.child.close_stdin()
                left[0] -= 1  # (the reactor thread only)
                if left[0] == 0:
                    all_ended.set()

        flags = _reactor.SPAWN_PATH | _reactor.SPAWN_NEW_PGROUP
        argv = [b"sh", b"-c", b"sleep 1000"] if shell else [b"sleep", b"1000"]
        children = []
        for _ in range(n):
            sink = Sink()
            sink.collectors = (_reactor.Collector(), _reactor.Collector())
            sink.child = reactor.spawn(argv, flags, sink, stdout=sink.collectors[0], stderr=sink.collectors[1])
            children.append(sink.child)
        time.sleep(0.5)

        def go():
            for c in children:
                c.signal(signal.SIGTERM, shell)
            all_ended.wait(600)

        secs, _ = timed(go)
        check = "ok" if all(c.reaped for c in children) else "%d/%d not reaped" % (left[0], n)
    elif impl == "subprocess":
        import subprocess

        P = subprocess.PIPE
        argv = "sleep 1000" if shell else ["sleep", "1000"]
        ps = [
            subprocess.Popen(argv, shell=shell, stdin=P, stdout=P, stderr=P, start_new_session=True) for _ in range(n)
        ]
        time.sleep(0.5)

        def go():
            for p in ps:
                if shell:
                    os.killpg(p.pid, signal.SIGTERM)
                else:
                    p.terminate()
            for p in ps:
                p.wait()

        secs, _ = timed(go)
        for p in ps:
            for f in (p.stdin, p.stdout, p.stderr):
                f.close()
        check = "ok" if all(p.returncode is not None and p.returncode < 0 for p in ps) else "some not killed"
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
            return [subprocess.Popen(["sleep", "1000"], stdin=PI, stdout=PI, stderr=PI) for _ in range(n)]

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
        out["check"] = (
            "ok"
            if (out["running"] == n and ended(ps))
            else "running=%d/%d, all ended=%s" % (out["running"], n, ended(ps))
        )
    finally:
        for p in ps:
            try:
                os.kill(p.pid, signal.SIGKILL)
            except (OSError, TypeError):
                pass
    return out


# ----------------------------------------------------- remote fan-out

# execo's default ssh_options (the same tuple in execo 2.8.2): a Remote with
# only connection_params={'ssh': STUB} runs STUB + these + host + command.
DEFAULT_SSH_OPTIONS = (
    '-tt',
    '-o',
    'BatchMode=yes',
    '-o',
    'PasswordAuthentication=no',
    '-o',
    'StrictHostKeyChecking=no',
    '-o',
    'UserKnownHostsFile=/dev/null',
    '-o',
    'ConnectTimeout=20',
)

# the stub "ssh": drops the options and the host (the argv layout of
# execo.ssh_utils.get_ssh_argv, and of 2.8.2's SshProcess: ssh OPTIONS...
# HOST COMMAND, COMMAND one argument) and runs the command, its last
# argument, in the stub's own shell (no second exec)
STUB_SSH = """#!/bin/sh
# stub ssh (execo bench): ignore options and host, run the last argument here
for c; do :; done
eval "$c"
"""
FANOUT_HOSTFMT = "h%04d.stub"  # 2000 distinct host names
FANOUT_CMD = "echo {{{host}}}"  # per-host command (both execos substitute it)
FANOUT_CMDFMT = "echo %s"  # the same for the C loop and Popen


def fanout_hosts(n):
    return [FANOUT_HOSTFMT % i for i in range(n)]


def stub_argv(stub, host):
    """The argv execo builds for FANOUT_CMD on host through the stub (with
    a remote tty, -tt, execo also passes ``-e none``: no escape character)."""
    return (stub,) + DEFAULT_SSH_OPTIONS + ("-e", "none", "--", host, FANOUT_CMDFMT % host)


def fanout_stub(spec):
    """Remote of `echo {{{host}}}` to n distinct host names through the stub
    ssh spec["stub"]: seconds from start() to all ended (building the Remote
    and its n processes is build_seconds, reported apart); check: all ok,
    each stdout is its host name, and execo's argv is the one the C and
    Popen loops spawn."""
    n, impl, stub = spec["n"], spec["impl"], spec["stub"]
    hosts = fanout_hosts(n)
    out = {}
    if impl == "execo":
        execo = import_execo()
        execo.Process("true").run()
        t0 = time.perf_counter()
        r = execo.Remote(FANOUT_CMD, hosts, connection_params={"ssh": stub})
        t1 = time.perf_counter()
        r.start()
        r.wait()
        t2 = time.perf_counter()
        out["build_seconds"], secs = t1 - t0, t2 - t1
        outs = [(p.ok, p.stdout) for p in r.processes]
        argv0 = tuple(r.processes[0].cmd)
        problems = []
        expected = stub_argv(stub, hosts[0])
        if str(getattr(execo, "__version__", "")).startswith("2."):
            # execo 2.8.2 passes no "-e none" and no "--" before the host
            # (three arguments less than the limit's argv)
            expected = tuple(a for a in expected if a not in ("-e", "none", "--"))
        if argv0 != expected:
            problems.append("argv %r, expected %r" % (argv0, expected))
        if not r.ok:
            problems.append("Remote not ok")
    elif impl == "subprocess":
        import subprocess

        argvs = [stub_argv(stub, h) for h in hosts]
        PI = subprocess.PIPE

        def go():
            ps = [subprocess.Popen(a, stdin=PI, stdout=PI, stderr=PI) for a in argvs]
            res = []
            for p in ps:
                o, e = p.communicate()
                res.append((p.returncode == 0, o.decode()))
            return res

        secs, outs = timed(go)
        problems = []
    else:
        raise ValueError(impl)
    bad = [(h, o) for h, o in zip(hosts, outs) if not (o[0] and o[1] == h + "\n")]
    if bad:
        problems.append("%d/%d not ok or wrong output, e.g. %s: %r" % (len(bad), n, bad[0][0], bad[0][1]))
    out.update({"seconds": secs, "rate": n / secs, "check": "ok" if not problems else "; ".join(problems)})
    return out


OVERLAP_SLEEP = 30
OVERLAP_CMD = "sleep %d; echo {{{host}}}" % OVERLAP_SLEEP  # overlapping commands
OVERLAP_CMDFMT = "sleep %d; echo %%s" % OVERLAP_SLEEP  # the same for the C loop


def fanout_overlap(spec):
    """Remote of `sleep 30; echo {{{host}}}` to n host names through the stub
    ssh, more than the fd limit lets run at once: seconds from start() to
    all ended; check: all ok (no EMFILE: the starts wait for a slot), each
    stdout its host name; peak: most children of execo running at once
    (sampled)."""
    n, impl, stub = spec["n"], spec["impl"], spec["stub"]
    if impl != "execo":
        raise ValueError(impl)
    hosts = fanout_hosts(n)
    execo = import_execo()
    execo.Process("true").run()
    r = execo.Remote(OVERLAP_CMD, hosts, connection_params={"ssh": stub})
    peak = [0]
    done = threading.Event()
    try:
        from execo import start_queue
    except ImportError:  # execo 2.8.2: no start queue
        start_queue = None

    def sample():
        while not done.wait(0.2):
            if start_queue is not None:
                peak[0] = max(peak[0], start_queue.running_count())

    th = threading.Thread(target=sample, daemon=True)
    th.start()
    t1 = time.perf_counter()
    r.start()
    r.wait()
    secs = time.perf_counter() - t1
    done.set()
    th.join()
    bad = [p for p in r.processes if not (p.ok and p.stdout == p.host.address + "\n")]
    emfile = sum(1 for p in r.processes if p.error and p.error_reason == errno.EMFILE)
    check = "ok" if not bad else "%d/%d not ok (%d EMFILE)" % (len(bad), n, emfile)
    return {"seconds": secs, "rate": n / secs, "check": check, "peak": peak[0]}


# ----------------------------------------------------- real loopback sshd

REMOTE_CMD = "echo ok"
SSHD_PORT = 2400  # first port tried for the bench's daemons
STOCK_ADDRESS = "127.0.0.210"  # samehost's daemon with OpenSSH's default limits
SAMEHOST_PROCS = 100  # samehost: processes onto that one daemon


def _remote_params(spec):
    """connection_params for the daemons (ssh_options as a tuple: 2.8.2
    concatenates it to a tuple)."""
    return {
        "user": spec["user"],
        "keyfile": spec["keyfile"],
        "port": spec["port"],
        "ssh_options": tuple(spec["ssh_options"]),
    }


def ssh_prefix(spec):
    """ssh argv before the host, as this project's execo builds it."""
    return ["ssh"] + list(spec["ssh_options"]) + ["-l", spec["user"], "-i", spec["keyfile"], "-p", str(spec["port"])]


def _count_ok_lines(text, hosts):
    """clush output: "HOST: ok" lines; plain loop: "ok" lines."""
    lines = [l.strip() for l in text.replace("\r", "").splitlines() if l.strip()]
    if hosts:
        got = set(l.split(":", 1)[0] for l in lines if l.endswith(": ok"))
        return len(got & set(hosts))
    return sum(1 for l in lines if l == "ok")


def remote64(spec):
    """`echo ok` on the len(spec["hosts"]) loopback sshd hosts, all at once:
    execo Remote, a plain bash `ssh ... &` loop (same argv), or clush
    -f N (same ssh options). seconds: from start to all ended (execo:
    Remote built before the clock; clush: includes its interpreter start-up,
    measured apart as startup_seconds by `clush --version`)."""
    hosts, impl = spec["hosts"], spec["impl"]
    n = len(hosts)
    out = {}
    import subprocess

    if impl == "execo":
        execo = import_execo()
        execo.Process("true").run()
        params = _remote_params(spec)
        params.update(spec.get("extra_params", {}))
        if spec.get("no_tty"):  # as parallel-ssh: no remote pty
            params["ssh_options"] = tuple(o for o in params["ssh_options"] if o != "-tt")
        r = execo.Remote(REMOTE_CMD, hosts, connection_params=params)

        def go():
            r.start()
            r.wait()

        secs, _ = timed(go)
        bad = [p for p in r.processes if not (p.ok and p.stdout.strip() == "ok")]
        if bad:
            check = "%d/%d not ok, e.g. %s stdout=%r stderr=%r" % (
                len(bad),
                n,
                bad[0].host,
                bad[0].stdout[-200:],
                bad[0].stderr[-300:],
            )
        else:
            check = "ok" if r.ok else "Remote not ok"
    elif impl == "sshloop":
        import shlex

        pre = " ".join(shlex.quote(a) for a in ssh_prefix(spec) + list(spec.get("extra_ssh_options", ())))
        script = "for h in %s; do %s \"$h\" %s & done; wait" % (" ".join(hosts), pre, shlex.quote(REMOTE_CMD))
        secs, res = timed(
            lambda: subprocess.run(
                ["bash", "-c", script], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE
            )
        )
        good = _count_ok_lines(res.stdout.decode(), None)
        check = "ok" if good == n else "%d/%d ok lines; stderr: %s" % (good, n, res.stderr.decode()[-300:])
    elif impl == "clush":
        import shlex

        clush = spec["clush"]
        opts = " ".join(
            shlex.quote(a) for a in list(spec["ssh_options"]) + ["-i", spec["keyfile"], "-p", str(spec["port"])]
        )
        argv = [
            clush,
            "--conf",
            spec["clush_conf"],
            "-n",
            "-S",
            "-f",
            str(n),
            "-l",
            spec["user"],
            "-o",
            opts,
            "-w",
            ",".join(hosts),
            REMOTE_CMD,
        ]
        t0 = time.perf_counter()
        subprocess.run([clush, "--version"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        out["startup_seconds"] = time.perf_counter() - t0
        secs, res = timed(
            lambda: subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        )
        good = _count_ok_lines(res.stdout.decode(), hosts)
        check = (
            "ok"
            if (good == n and res.returncode == 0)
            else "rc=%d, %d/%d ok; %s" % (res.returncode, good, n, (res.stderr.decode() or res.stdout.decode())[-300:])
        )
    elif impl == "pssh":
        secs, check = _pssh_run(spec, hosts)
    else:
        raise ValueError(impl)
    out.update({"seconds": secs, "rate": n / secs, "check": check})
    return out


def _pssh_run(spec, hosts):
    """parallel-ssh (libssh2 in-process, run by the interpreter of
    bench/.venv-pssh): `echo ok` on every host at once (pool_size = number
    of hosts), no pty, the fixture's user, key and port; from run_command
    to every output read. Returns (seconds, check)."""
    try:
        from pssh.clients import ParallelSSHClient
    except ImportError as e:
        return 0.0, "parallel-ssh unavailable: %s" % e
    client = ParallelSSHClient(
        hosts,
        user=spec["user"],
        pkey=spec["keyfile"],
        port=spec["port"],
        pool_size=len(hosts),
        timeout=20,
        num_retries=1,
    )

    def go():
        output = client.run_command(REMOTE_CMD, stop_on_errors=False)
        client.join(output)
        return [(o.host, o.exception, list(o.stdout or ()), o.exit_code) for o in output]

    secs, res = timed(go)
    bad = [r for r in res if r[1] is not None or r[2] != ["ok"] or r[3] != 0]
    if bad:
        return secs, "%d/%d not ok, e.g. %r" % (len(bad), len(hosts), bad[0])
    return secs, "ok"


def samehost(spec):
    """SAMEHOST_PROCS processes at once onto one sshd that keeps OpenSSH's
    default MaxStartups 10:30:100 (sshd refuses some connections before
    authentication while more than 10 are in their handshake):
    ``Remote("echo {{range(N)}}", [host] * N)``, or the same argvs by a bash
    ``ssh ... &`` loop. Counts the processes that ran with the right
    output (``ok_count``); ``seconds``: start to all ended. A short count is
    a finding, not a failed measurement: check is "ok" when the run
    completed."""
    n, impl = spec["n"], spec["impl"]
    host = spec["hosts"][0]
    import subprocess

    if impl == "execo":
        execo = import_execo()
        execo.Process("true").run()
        params = _remote_params(spec)
        params.update(spec.get("extra_params", {}))
        r = execo.Remote("echo {{range(%d)}}" % n, [host] * n, connection_params=params)
        secs, _ = timed(lambda: r.run())
        procs = list(r.processes)
        good = sum(1 for i, p in enumerate(procs) if p.ok and p.stdout.replace("\r", "").strip() == str(i))
        res = {"seconds": secs, "ok_count": good, "check": "ok"}
        if good < n:
            bad = next(p for i, p in enumerate(procs) if not (p.ok and p.stdout.replace("\r", "").strip() == str(i)))
            res["first_error"] = bad.stderr[-200:]
        return res
    elif impl == "sshloop":
        import shlex

        pre = " ".join(shlex.quote(a) for a in ssh_prefix(spec))
        script = "for i in $(seq 0 %d); do %s %s \"echo $i\" & done; wait" % (n - 1, pre, shlex.quote(host))
        secs, res = timed(
            lambda: subprocess.run(
                ["bash", "-c", script], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE
            )
        )
        got = set(l.strip() for l in res.stdout.decode().replace("\r", "").splitlines())
        good = len(got & set(str(i) for i in range(n)))
        return {"seconds": secs, "ok_count": good, "check": "ok"}
    raise ValueError(impl)


def remote64_shared(spec):
    """First vs second Remote to the same hosts with execo's opt-in ssh
    connection sharing (spec["share_params"], e.g. ssh_connection_sharing):
    the first run sets up one master connection per host, the second runs
    in them. seconds = first run, second_seconds = second run; the masters
    are closed afterwards, outside the timing."""
    hosts = spec["hosts"]
    execo = import_execo()
    from execo import ssh_sharing

    execo.Process("true").run()
    params = _remote_params(spec)
    params.update(spec["share_params"])
    try:
        secs, r1 = timed(lambda: execo.Remote(REMOTE_CMD, hosts, connection_params=params).run())
        secs2, r2 = timed(lambda: execo.Remote(REMOTE_CMD, hosts, connection_params=params).run())
        masters = len(os.listdir(ssh_sharing.control_dir()))
    finally:
        ssh_sharing.close_shared_connections()
    bad = [p for r in (r1, r2) for p in r.processes if not (p.ok and p.stdout.strip() == "ok")]
    if bad:
        check = "%d not ok, e.g. %s stderr=%r" % (len(bad), bad[0].host, bad[0].stderr[-300:])
    elif masters != len(hosts):
        check = "%d shared masters for %d hosts" % (masters, len(hosts))
    else:
        check = "ok"
    return {"seconds": secs, "second_seconds": secs2, "rate": len(hosts) / secs, "check": check}


def _key_for_inner_nodes(h):
    """taktuk's inner nodes run as the test user on the "remote" hosts and
    connect further (work stealing) with the same connector, hence the
    same -i KEY: the test user must be able to read the key, else those
    hosts fail with 'Load key ...: Permission denied'. The fixture chowns
    its key to the test user when run as root (newer fixtures do it
    themselves); root's ssh still reads it."""
    import pwd

    if os.geteuid() != 0:
        return
    try:
        pw = pwd.getpwnam(h.user)
    except KeyError:
        return
    if pw.pw_uid != 0 and os.stat(h.keyfile).st_uid != pw.pw_uid:
        os.chown(h.keyfile, pw.pw_uid, pw.pw_gid)


def sshd_helper(n):
    """Start the test sshd daemons on 127.0.0.1..n, print their parameters,
    keep them until stdin is closed."""
    root = os.environ.get("BENCH_EXECO_SRC") or os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    sys.path.insert(0, root)
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "bench_sshd_fixture", os.path.join(root, "tests", "fixtures", "sshd.py")
    )
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    # A port of our own (not the tests' 2222-2298), so that a test session
    # starting its daemons at the same time cannot pick the same port: sshd
    # only logs a failed bind of one ListenAddress, and the fixture's
    # readiness check would then accept the other session's daemon.
    h, why = None, []
    for port in range(SSHD_PORT, SSHD_PORT + 20):
        try:
            h = mod.start_sshd(num_addresses=n, port=port)
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as e:  # busy port: pytest.fail (OutcomeException) or RuntimeError
            why.append("port %d: %s" % (port, e))
            continue
        bind_errors = []
        for name in sorted(os.listdir(h.workdir)):
            if name.endswith(".log"):
                with open(os.path.join(h.workdir, name), errors="replace") as f:
                    bind_errors += [l.strip() for l in f if "Bind to port" in l]
        if not bind_errors:
            break
        why.append("port %d: %s" % (port, bind_errors[0]))
        h.stop()
        h = None
    if h is None:
        raise SystemExit("could not start sshd: " + "; ".join(why)[-1500:])
    stock = None
    try:
        _key_for_inner_nodes(h)
        # samehost's daemon: OpenSSH's default MaxStartups/MaxSessions
        # (the tests' sshd_stock fixture), on an address of its own
        try:
            stock = mod.start_sshd(
                addresses=[STOCK_ADDRESS], stock_limits=True, port_candidates=range(SSHD_PORT + 20, SSHD_PORT + 60)
            )
            stock_info = {
                "hosts": list(stock.addresses),
                "port": stock.port,
                "user": stock.user,
                "keyfile": stock.keyfile,
                "ssh_options": list(stock.connection_params["ssh_options"]),
                "daemon_pids": [p.pid for p, _ in stock.daemons],
            }
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as e:
            stock_info = {"error": "stock sshd: %s" % (e,)}
        params = h.connection_params
        sys.stdout.write(
            "SSHD "
            + json.dumps(
                {
                    "hosts": list(h.addresses),
                    "port": h.port,
                    "user": h.user,
                    "keyfile": h.keyfile,
                    "ssh_options": list(params["ssh_options"]),
                    "scp_options": list(params["scp_options"]),
                    "daemon_pids": [p.pid for p, _ in h.daemons] + stock_info.get("daemon_pids", []),
                    "stock": stock_info,
                }
            )
            + "\n"
        )
        sys.stdout.flush()
        sys.stdin.read()  # until run.py closes our stdin (or dies)
    finally:
        h.stop()
        if stock is not None:
            stock.stop()


# ------------------------------------------------ taktuk, file broadcast

TAKTUK_CMD = "echo ok"  # taktuk64: the same command as remote64
PUT_HOSTS = 16  # put16: hosts of the file broadcast
PUT_BASENAME = "payload.bin"  # put16: name of the random file


def _hosts(execo, spec):
    """execo Hosts with user, keyfile and port (both execos have them)."""
    return [execo.Host(a, user=spec["user"], keyfile=spec["keyfile"], port=spec["port"]) for a in spec["hosts"]]


def connector_options(spec):
    """taktuk_connector_options: the remote64 ssh options without -tt (a
    connector must not get a tty: taktuk talks its protocol through it).
    Port and keyfile are not in them: TaktukRemote appends -p/-i from the
    hosts (one port and one keyfile for all)."""
    return tuple(o for o in spec["ssh_options"] if o != "-tt")


def taktuk_connector(spec):
    """The connector string the raw taktuk gets with -c (what execo's
    TaktukRemote builds: ssh + options + -p PORT -i KEY)."""
    import shlex

    return " ".join(
        shlex.quote(a)
        for a in ["ssh"] + list(connector_options(spec)) + ["-p", str(spec["port"]), "-i", spec["keyfile"]]
    )


def _raw_taktuk_argv(spec, commands, extra=()):
    argv = ["taktuk", "-s", "-c", taktuk_connector(spec)] + list(extra) + ["-l", spec["user"]]
    for h in spec["hosts"]:
        argv += ["-m", h]
    return argv + list(commands)


def _fails(e):
    """{"fails": "Type: message (file:line function)"} for an exception
    raised by execo (the innermost frame says where)."""
    import traceback

    text = "%s: %s" % (type(e).__name__, e)
    tb = traceback.extract_tb(e.__traceback__)
    if tb:
        f = tb[-1]
        text += " (%s:%d %s)" % (os.path.basename(f.filename), f.lineno, f.name)
    return {"fails": text.strip()[:300]}


def taktuk64(spec):
    """`echo ok` on the len(spec["hosts"]) loopback sshd hosts: execo
    TaktukRemote (one taktuk, a tree of ssh connections), execo Remote
    (one ssh per host, the remote64 argv) or the plain `taktuk -s ...
    broadcast exec [ echo ok ]`. seconds: start to all ended (execo:
    action built before the clock). Check: every host ok with stdout `ok`.
    An exception from execo (2.8.2's TaktukRemote on Python 3) is reported
    as {"fails": reason}."""
    import subprocess

    hosts, impl = spec["hosts"], spec["impl"]
    n = len(hosts)
    out = {}
    if impl in ("execo", "execo_remote"):
        execo = import_execo()
        execo.Process("true").run()
        try:
            if impl == "execo":
                r = execo.TaktukRemote(
                    TAKTUK_CMD,
                    _hosts(execo, spec),
                    connection_params={"taktuk_connector_options": connector_options(spec)},
                )
            else:
                r = execo.Remote(
                    TAKTUK_CMD, _hosts(execo, spec), connection_params={"ssh_options": tuple(spec["ssh_options"])}
                )

            def go():
                r.start()
                r.wait()

            secs, _ = timed(go)
        except Exception as e:
            return _fails(e)
        procs = list(r.processes)
        bad = [p for p in procs if not (p.ok and p.stdout.strip() == "ok")]
        if len(procs) != n:
            check = "%d processes for %d hosts" % (len(procs), n)
        elif bad:
            check = "%d/%d not ok, e.g. %s error=%s stdout=%r stderr=%r" % (
                len(bad),
                n,
                _addr(bad[0]),
                getattr(bad[0], "error_reason", None),
                bad[0].stdout[-200:],
                bad[0].stderr[-300:],
            )
        else:
            check = "ok" if r.ok else "action not ok"
    elif impl == "taktuk":
        import re

        argv = _raw_taktuk_argv(spec, ["broadcast", "exec", "[", TAKTUK_CMD, "]"])
        secs, res = timed(
            lambda: subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        )
        # default output template: "HOST-RANK: echo ok (PID): output > ok"
        got = set()
        for line in res.stdout.decode(errors="replace").splitlines():
            m = re.match(r"^(\S+)-\d+: .* output > ok$", line)
            if m:
                got.add(m.group(1))
        good = len(got & set(hosts))
        check = (
            "ok"
            if (good == n and res.returncode == 0)
            else "rc=%d, %d/%d hosts said ok; %s"
            % (
                res.returncode,
                good,
                n,
                (res.stderr.decode(errors="replace") or res.stdout.decode(errors="replace"))[-300:],
            )
        )
    else:
        raise ValueError(impl)
    out.update({"seconds": secs, "rate": n / secs, "check": check})
    return out


def _sha256(path):
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            b = f.read(1 << 20)
            if not b:
                break
            h.update(b)
    return h.hexdigest()


def _check_copies(paths, sha):
    """ "ok" when every path exists with the expected sha256."""
    missing = [p for p in paths if not os.path.isfile(p)]
    if missing:
        return "%d/%d copies missing, e.g. %s" % (len(missing), len(paths), missing[0])
    wrong = [p for p in paths if _sha256(p) != sha]
    if wrong:
        return "%d/%d copies differ (sha256), e.g. %s" % (len(wrong), len(paths), wrong[0])
    return "ok"


def _bad_procs(procs, n):
    bad = [p for p in procs if not p.ok]
    if len(procs) != n:
        return "%d processes for %d hosts" % (len(procs), n)
    if bad:
        return "%d/%d not ok, e.g. %s error=%s exit=%s stderr=%r" % (
            len(bad),
            n,
            _addr(bad[0]),
            getattr(bad[0], "error_reason", None),
            bad[0].exit_code,
            bad[0].stderr[-300:],
        )
    return None


def _addr(p):
    h = getattr(p, "host", None)
    return getattr(h, "address", h)


def _run_action(action):
    def go():
        action.start()
        action.wait()

    return timed(go)[0]


def put16(spec):
    """Copy spec["src"] (random bytes, sha256 spec["sha256"]) to the
    len(spec["hosts"]) loopback hosts, which share one filesystem: every
    implementation gets its own fresh destination directory under
    spec["dest_root"] (world-writable: the copies are written by the test
    user), removed afterwards (outside the timing).

    - put: execo Put (scp), remote_location DEST/{{{host}}}: one directory
      per host, every copy checked.
    - scploop: the Put's own scp argvs in a bash `& ... wait` loop.
    - taktukput: execo TaktukPut to DEST/all. taktuk expands $host/$rank/
      $position in a put's destination with the values of the *sending*
      node, the same for every receiver: all hosts write DEST/all/FILE, so
      the file is checked once, and every host's process must be ok (each
      receiving node reported its reception terminated).
    - taktuk: plain `taktuk -s ... broadcast put [ SRC ] [ DEST/all ]`;
      check rc 0, one "reception terminated" state per host, the file.
    - chainput: execo.chainput.ChainPut if importable (else {"na": ...}),
      to DEST/{{{host}}} when its remote_location is substituted per host
      (checked), else to DEST/all.
    """
    import shutil
    import subprocess
    import uuid

    hosts, impl, src, sha = spec["hosts"], spec["impl"], spec["src"], spec["sha256"]
    n = len(hosts)
    base = os.path.basename(src)
    dest = os.path.join(spec["dest_root"], "%s-%s" % (impl, uuid.uuid4().hex[:8]))

    def mkdir(path):
        os.makedirs(path)
        os.chmod(path, 0o777)

    mkdir(dest)
    per_host = [os.path.join(dest, h) for h in hosts]
    for d in per_host:
        mkdir(d)
    shared = os.path.join(dest, "all")
    mkdir(shared)
    out = {}
    try:
        if impl in ("put", "scploop", "taktukput", "chainput"):
            execo = import_execo()
            execo.Process("true").run()
        if impl in ("put", "scploop"):
            try:
                put = execo.Put(
                    _hosts(execo, spec),
                    [src],
                    os.path.join(dest, "{{{host}}}"),
                    connection_params={"scp_options": tuple(spec["scp_options"])},
                )
            except Exception as e:
                return _fails(e)
            if impl == "put":
                try:
                    secs = _run_action(put)
                except Exception as e:
                    return _fails(e)
                check = _bad_procs(list(put.processes), n) or _check_copies(
                    [os.path.join(d, base) for d in per_host], sha
                )
            else:
                import shlex

                cmds = [" ".join(shlex.quote(str(a)) for a in p.cmd) for p in put.processes]
                script = "".join("%s & " % c for c in cmds) + "wait"
                secs, res = timed(
                    lambda: subprocess.run(
                        ["bash", "-c", script], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE
                    )
                )
                check = _check_copies([os.path.join(d, base) for d in per_host], sha)
                if check == "ok" and res.stderr.strip():
                    check = "stderr: %s" % res.stderr.decode(errors="replace")[-300:]
        elif impl == "taktukput":
            try:
                tp = execo.TaktukPut(
                    _hosts(execo, spec),
                    [src],
                    shared,
                    connection_params={"taktuk_connector_options": connector_options(spec)},
                )
                secs = _run_action(tp)
            except Exception as e:
                return _fails(e)
            check = _bad_procs(list(tp.processes), n) or _check_copies([os.path.join(shared, base)], sha)
        elif impl == "chainput":
            try:
                from execo.chainput import ChainPut
            except ImportError as e:
                if os.environ.get("BENCH_EXECO_SRC") or not hasattr(execo, "ChainPut"):
                    return {"na": "execo.chainput not importable: %s" % e}
                ChainPut = execo.ChainPut  # execo 2.8.2's (execo.action)
            try:
                cp = ChainPut(
                    _hosts(execo, spec),
                    [src],
                    os.path.join(dest, "{{{host}}}"),
                    connection_params={
                        "ssh_options": tuple(spec["ssh_options"]),
                        "scp_options": tuple(spec["scp_options"]),
                        "taktuk_connector_options": connector_options(spec),
                    },
                )
                secs = _run_action(cp)
            except Exception as e:
                return _fails(e)
            receivers = getattr(cp, "receivers", None)
            if receivers is not None:  # this project's: one receiver per host
                check = _bad_procs(list(receivers), n) or (None if cp.ok else "ChainPut not ok")
            else:
                check = None if cp.ok else "ChainPut not ok"
            if check is None:
                copies = [os.path.join(d, base) for d in per_host]
                if not any(os.path.exists(c) for c in copies):  # not substituted per host
                    copies = [os.path.join(dest, "{{{host}}}", base)]
                out["copies_checked"] = len(copies)
                check = _check_copies(copies, sha)
        elif impl == "taktuk":
            # one state line per host whose reception terminated (state 15)
            tmpl = 'state=($line == 15)?"RECEIVED $host\\n":undef'
            argv = _raw_taktuk_argv(spec, ["broadcast", "put", "[", src, "]", "[", shared, "]"], extra=["-o", tmpl])
            secs, res = timed(
                lambda: subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            )
            text = res.stdout.decode(errors="replace")
            got = set(l.split(" ", 1)[1].strip() for l in text.splitlines() if l.startswith("RECEIVED "))
            good = len(got & set(hosts))
            check = _check_copies([os.path.join(shared, base)], sha)
            if check == "ok" and (good != n or res.returncode != 0):
                check = "rc=%d, %d/%d hosts received; %s" % (
                    res.returncode,
                    good,
                    n,
                    (res.stderr.decode(errors="replace") or text)[-300:],
                )
        else:
            raise ValueError(impl)
    finally:
        shutil.rmtree(dest, ignore_errors=True)
    size = os.path.getsize(src)
    out.update({"seconds": secs, "rate": n * size / secs / 1e6, "check": check})
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
    "expect_roundtrip_hog": expect_roundtrip,
    "line_handler8": line_handler,
    "kill2000": kill_wait,
    "kill_shell200": kill_wait,
    "procs": procs,
    "fanout_stub": fanout_stub,
    "fanout_overlap": fanout_overlap,
    "remote64": remote64,
    "remote64_first": remote64,
    "samehost": samehost,
    "remote64_shared": remote64_shared,
    "taktuk64": taktuk64,
    "put16": put16,
}


def _on_term(signum, frame):
    # run.py's timeout: exit through atexit so execo kills its children
    raise SystemExit(124)


def main():
    signal.signal(signal.SIGTERM, _on_term)
    if sys.argv[1] == "--sshd":
        return sshd_helper(int(sys.argv[2]))
    spec = json.loads(sys.argv[1])
    res = WORKLOADS[spec["workload"]](spec)
    res.update(INFO)
    sys.stdout.write("RESULT " + json.dumps(res) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
