#!/usr/bin/env python3
"""execo benchmarks: each workload on this project's execo and, in the same
run, its limit, its peers (subprocess, asyncio) and execo 2.8.2.

    python bench/run.py [--quick] [--only NAME ...] [--runs K] [--no-ref]
                        [--json out.json]

Every measurement runs in a fresh interpreter (bench/worker.py, shared by this
project's execo and execo 2.8.2). Each value is the median of --runs runs
(default 3); the runs of a row are interleaved (execo, limit, peers, execo,
...) so that machine noise hits them alike. See bench/README.md.
"""

import argparse
import datetime
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

import worker as W_  # bench/worker.py: the stub ssh, its argv layout, host names

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
WORKER = os.path.join(HERE, "worker.py")
VENV = os.path.join(HERE, ".venv-execo282")
VENV_PY = os.path.join(VENV, "bin", "python")
REF_VERSION = "2.8.2"
CLUSH_VENV = os.path.join(HERE, ".venv-clush")
CLUSH_VENV_BIN = os.path.join(CLUSH_VENV, "bin", "clush")
PSSH_VENV = os.path.join(HERE, ".venv-pssh")
PSSH_VENV_PY = os.path.join(PSSH_VENV, "bin", "python")

# The connection_params items that turn execo's opt-in ssh connection
# sharing (ControlMaster/ControlPersist, execo.ssh_sharing) on, for the
# remote64_shared row: the remote64 Remote run twice in one interpreter.
SHARED_CONNECTION_PARAMS = {"ssh_connection_sharing": 60}

MB = 1000 * 1000

# What execo's ssh_fast_handshake adds (execo.config.FAST_HANDSHAKE_KEX_OPTIONS),
# for the ssh loop of the remote64_first row.
FAST_KEX_OPTIONS = ("-o", "KexAlgorithms=^curve25519-sha256,curve25519-sha256@libssh.org")

# name -> what it is, for --only and the README
WORKLOAD_NAMES = [
    "spawn_all",
    "spawn_seq",
    "stdout_bytes",
    "stdout_lines",
    "line_handler",
    "line_handler8",
    "expect_after",
    "expect_roundtrip",
    "expect_roundtrip_hog",
    "procs",
    "kill2000",
    "kill_shell200",
    "fanout_stub",
    "fanout_overlap",
    "remote64",
    "remote64_first",
    "samehost",
    "remote64_shared",
    "taktuk64",
    "put16",
]
ALIASES = {
    "idle": "procs",
    "memory": "procs",
    "kill_wait": "procs",
    # the names issue 18's brief gave the kill rows
    "kill_wait2000": "kill2000",
    "kill_shell": "kill_shell200",
    "spawn": None,
    "stdout": None,
    "expect": None,
    "remote": None,
    "taktuk": None,
    "kill": None,
    "latency": None,
}
GROUPS = {
    "spawn": ["spawn_all", "spawn_seq"],
    "stdout": ["stdout_bytes", "stdout_lines", "line_handler8"],
    "expect": ["expect_after", "expect_roundtrip", "expect_roundtrip_hog"],
    "kill": ["kill2000", "kill_shell200"],
    # issue 18's rows: each against its limit in the same run
    "latency": [
        "expect_roundtrip",
        "expect_roundtrip_hog",
        "spawn_seq",
        "kill2000",
        "kill_shell200",
        "fanout_stub",
        "expect_after",
        "line_handler8",
    ],
    "remote": ["fanout_stub", "fanout_overlap", "remote64", "remote64_first", "samehost", "remote64_shared"],
    "taktuk": ["taktuk64", "put16"],
}
REMOTE_HOSTS = 64  # loopback sshd hosts of the remote64 rows (4 daemons of 16)
PUT_SIZE = 50 * 1000 * 1000  # put16: the random file broadcast to PUT_HOSTS hosts


def log(msg):
    sys.stderr.write(msg + "\n")
    sys.stderr.flush()


# ------------------------------------------------------------ sizes


def params(quick):
    """Workload parameters: (project and peers, execo 2.8.2). 2.8.2 is much
    slower (quadratic output collection, ~5 ms per spawn): it runs at smaller
    sizes, shown in its column, so that it stays under the cap."""
    big = 100 * MB if quick else 1000 * MB
    ref_mb = 16 * MB if quick else 32 * MB
    return {
        "spawn_all": ({"n": 2000}, {"n": 500 if quick else 2000}),
        "spawn_seq": ({"n": 500}, {"n": 100 if quick else 500}),
        "stdout_bytes": ({"size": big}, {"size": ref_mb}),
        "stdout_lines": ({"size": big}, {"size": ref_mb}),
        "line_handler": ({"size": big}, {"size": ref_mb}),
        "line_handler8": ({"size": 32 * MB, "line_len": 8}, {"size": ref_mb, "line_len": 8}),
        "expect_after": ({"size": 100 * MB}, {"size": ref_mb}),
        "expect_roundtrip": ({"n": 1000}, {"n": 1000}),
        "expect_roundtrip_hog": ({"n": 1000, "hog": True}, {"n": 1000, "hog": True}),
        "kill2000": ({"n": 2000, "shell": False}, {"n": 500 if quick else 2000, "shell": False}),
        "kill_shell200": ({"n": 200, "shell": True}, {"n": 200, "shell": True}),
        "procs": ({"n": 4000, "idle_s": 5}, {"n": 500 if quick else 2000, "idle_s": 5}),
        "fanout_stub": ({"n": 2000}, {"n": 500 if quick else 2000}),
        "fanout_overlap": ({"n": 3000 if quick else 12000}, {}),  # no 2.8.2 run
        "remote64": ({"n_hosts": REMOTE_HOSTS}, {"n_hosts": REMOTE_HOSTS}),
        "remote64_first": ({"n_hosts": REMOTE_HOSTS}, {"n_hosts": REMOTE_HOSTS}),
        "samehost": ({"n": W_.SAMEHOST_PROCS}, {"n": W_.SAMEHOST_PROCS}),
        "remote64_shared": ({"n_hosts": REMOTE_HOSTS}, {"n_hosts": REMOTE_HOSTS}),
        "taktuk64": ({"n_hosts": REMOTE_HOSTS}, {"n_hosts": REMOTE_HOSTS}),
        "put16": ({"n_hosts": W_.PUT_HOSTS, "size": PUT_SIZE}, {"n_hosts": W_.PUT_HOSTS, "size": PUT_SIZE}),
    }


# ------------------------------------------------------------ running


class Runner(object):
    def __init__(self, runs, timeout, ref_cap, tmpdir, baseline=None):
        self.runs = runs
        self.baseline = baseline  # another execo source tree measured beside (--baseline)
        self.timeout = timeout
        self.ref_cap = ref_cap
        self.tmpdir = tmpdir
        self.problems = []
        self._stub = None
        self._sshd = None  # (helper Popen, info dict) or (None, error text)
        self._clush = None  # (path, version) or (None, error text)
        self._pssh = None  # (python, version) or (None, error text)
        self._put_src = None  # (path, sha256) of put16's random file

    # -- shared fixtures of the remote rows, made on first use

    def stub_ssh(self):
        """Path of the stub "ssh" script (worker.STUB_SSH) in tmpdir."""
        if self._stub is None:
            path = os.path.join(self.tmpdir, "stub-ssh")
            with open(path, "w") as f:
                f.write(W_.STUB_SSH)
            os.chmod(path, 0o755)
            self._stub = path
        return self._stub

    def sshd(self):
        """The loopback sshd daemons of tests/fixtures/sshd.py on
        127.0.0.1..REMOTE_HOSTS, started once per bench run by a
        `worker.py --sshd N` helper that keeps them until its stdin is
        closed (stop_sshd). Returns (info dict, None) or (None, reason)."""
        if self._sshd is None:
            env = dict(os.environ)
            env.pop("PYTHONPATH", None)
            env["BENCH_EXECO_SRC"] = ROOT
            errpath = os.path.join(self.tmpdir, "sshd-helper.err")
            log("starting %d loopback sshd hosts (tests/fixtures/sshd.py)..." % REMOTE_HOSTS)
            with open(errpath, "w") as errf:
                p = subprocess.Popen(
                    [sys.executable, WORKER, "--sshd", str(REMOTE_HOSTS)],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=errf,
                    env=env,
                    cwd=self.tmpdir,
                    start_new_session=True,
                    text=True,
                )
            import select

            line = ""
            if select.select([p.stdout], [], [], 120)[0]:
                line = p.stdout.readline()
            if line.startswith("SSHD "):
                self._sshd = (p, json.loads(line[5:]))
            else:
                try:
                    p.kill()
                except OSError:
                    pass
                p.wait()
                with open(errpath) as f:
                    err = f.read().strip()
                self._sshd = (None, "sshd helper failed: rc=%s %s" % (p.returncode, err[-800:]))
        p, info = self._sshd
        return (info, None) if p is not None else (None, info)

    def stop_sshd(self):
        if not self._sshd or self._sshd[0] is None:
            return
        p, info = self._sshd
        self._sshd = None
        try:
            p.stdin.close()  # the helper stops its daemons and exits
            p.wait(30)
        except (OSError, subprocess.TimeoutExpired):
            p.kill()
            p.wait()
            for pid in info.get("daemon_pids", []):  # the daemons it could not stop
                try:
                    os.kill(pid, signal.SIGTERM)
                except OSError:
                    pass

    def clush(self):
        """(path of clush, version) or (None, reason): ClusterShell in
        bench/.venv-clush (pip, on first use), else a system clush (apt
        package clustershell, installed when root and pip failed)."""
        if self._clush is None:
            self._clush = ensure_clush()
        return self._clush

    def pssh(self):
        """(python of bench/.venv-pssh, parallel-ssh version) or (None,
        reason): parallel-ssh from PyPI, installed on first use."""
        if self._pssh is None:
            self._pssh = ensure_pssh()
        return self._pssh

    def put_source(self, size):
        """put16's source: size random bytes in tmpdir (made once per run),
        and the directory under which each measurement makes its
        destinations: world-writable, since the copies are written by the
        test user (tmpdir itself becomes traversable, not readable)."""
        if self._put_src is None:
            import hashlib

            path = os.path.join(self.tmpdir, W_.PUT_BASENAME)
            data = os.urandom(size)
            with open(path, "wb") as f:
                f.write(data)
            os.chmod(path, 0o644)
            dest_root = os.path.join(self.tmpdir, "put")
            os.mkdir(dest_root)
            os.chmod(dest_root, 0o777)
            os.chmod(self.tmpdir, 0o711)
            self._put_src = (path, hashlib.sha256(data).hexdigest(), dest_root)
        return self._put_src

    def clush_conf(self):
        """A private clush.conf: no system/user config, no colors, our timeouts."""
        path = os.path.join(self.tmpdir, "clush.conf")
        if not os.path.exists(path):
            with open(path, "w") as f:
                f.write(
                    "[Main]\nfanout: 64\nconnect_timeout: 20\ncommand_timeout: 0\n"
                    "color: never\nfd_max: 16384\nhistory_size: 0\nmaxrc: no\n"
                    "node_count: yes\nverbosity: 1\n"
                )
        return path

    def _exec(self, argv, env, timeout):
        """Run argv in its own session, killed (TERM, then KILL) at timeout.
        Returns (stdout, stderr, rc, timed_out)."""
        p = subprocess.Popen(
            argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            cwd=self.tmpdir,
            start_new_session=True,
            text=True,
        )
        try:
            out, err = p.communicate(timeout=timeout)
            return out, err, p.returncode, False
        except subprocess.TimeoutExpired:
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except OSError:
                pass
            try:
                out, err = p.communicate(timeout=15)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except OSError:
                    pass
                out, err = p.communicate()
            return out, err, p.returncode, True

    def worker(self, spec, ref=False, python=None, src=ROOT):
        """One measurement by bench/worker.py (by the interpreter python, if
        given: a peer's virtualenv; execo imported from the source tree src).
        Returns a dict, with 'timeout': True or 'error': text when it did
        not complete."""
        env = dict(os.environ)
        env.pop("PYTHONPATH", None)
        if python:
            py, timeout = python, self.timeout
            env.pop("BENCH_EXECO_SRC", None)
        elif ref:
            py, timeout = VENV_PY, self.ref_cap
            env.pop("BENCH_EXECO_SRC", None)
        else:
            py, timeout = sys.executable, self.timeout
            env["BENCH_EXECO_SRC"] = src
        out, err, rc, timed_out = self._exec([py, WORKER, json.dumps(spec)], env, timeout)
        if timed_out:
            return {"timeout": True, "cap": timeout}
        for line in out.splitlines():
            if line.startswith("RESULT "):
                res = json.loads(line[7:])
                if err.strip():
                    res["stderr"] = err.strip()[-2000:]
                return res
        return {"error": "rc=%s: %s" % (rc, (err.strip() or out.strip())[-1500:])}

    def c_loop(self, binary, mode, n, pipes, second="start_seconds"):
        """spawnloop MODE N PIPES: its seconds, and its second number, if
        any, under the key ``second``."""
        out, err, rc, timed_out = self._exec([binary, mode, str(n), str(pipes)], None, self.timeout)
        if timed_out or rc != 0:
            return {"error": "C loop %s %s: rc=%s %s" % (mode, n, rc, err.strip())}
        nums = [float(x) for x in out.split()]
        res = {"seconds": nums[0], "rate": n / nums[0], "check": "ok"}
        if len(nums) > 1:
            res[second] = nums[1]
        return res

    def c_fanout(self, binary, n, stub):
        """The C loop spawning the same stub-ssh argvs as a Remote
        (worker.stub_argv), 3 pipes + pgroup each, reading each stdout."""
        argv = [binary, "fanout", str(n), "1", W_.FANOUT_HOSTFMT, W_.FANOUT_CMDFMT, stub] + list(W_.DEFAULT_SSH_OPTIONS)
        out, err, rc, timed_out = self._exec(argv, None, self.timeout)
        if timed_out or rc != 0:
            return {"error": "C fanout %s: rc=%s %s" % (n, rc, err.strip())}
        secs, bad = out.split()
        secs, bad = float(secs), int(bad)
        return {
            "seconds": secs,
            "rate": n / secs,
            "check": "ok" if bad == 0 else "%d/%d failed or wrong output" % (bad, n),
        }

    def c_fanout_window(self, binary, n, window, stub):
        """The C loop over the fanout_overlap argvs, at most window alive."""
        argv = [binary, "fanoutw", str(n), str(window), W_.FANOUT_HOSTFMT, W_.OVERLAP_CMDFMT, stub] + list(
            W_.DEFAULT_SSH_OPTIONS
        )
        out, err, rc, timed_out = self._exec(argv, None, self.timeout)
        if timed_out or rc != 0:
            return {"error": "C fanoutw %s: rc=%s %s" % (n, rc, err.strip())}
        secs, bad = out.split()
        secs, bad = float(secs), int(bad)
        return {
            "seconds": secs,
            "rate": n / secs,
            "check": "ok" if bad == 0 else "%d/%d failed or wrong output" % (bad, n),
        }

    def c_memmem(self, binary, size, cmd, marker):
        """Spawn `sh -c cmd`, read its stdout and memmem the marker."""
        out, err, rc, timed_out = self._exec([binary, "memmem", str(size), "0", cmd, marker], None, self.timeout)
        if timed_out or rc != 0:
            return {"error": "C memmem %s: rc=%s %s" % (size, rc, err.strip())}
        secs = float(out.split()[0])
        return {"seconds": secs, "rate": size / secs / 1e6, "check": "ok"}

    def c_memwrite(self, binary, size):
        """mmap + memset of size bytes in a fresh process."""
        out, err, rc, timed_out = self._exec([binary, "memwrite", str(size), "0"], None, self.timeout)
        if timed_out or rc != 0:
            return {"error": "C memwrite %s: rc=%s %s" % (size, rc, err.strip())}
        secs = float(out.split()[0])
        return {"seconds": secs, "rate": size / secs / 1e6, "check": "ok"}

    def series(self, label, jobs):
        """jobs: {impl_name: callable() -> result dict}. Runs them `runs`
        times, interleaved; returns {impl_name: summary}. With --baseline,
        each job of this project's execo runs on the baseline tree too
        (key ``baseline:NAME``), interleaved with the others."""
        if self.baseline:
            for k, job in list(jobs.items()):
                if isinstance(job, ExecoJob) and k.startswith("execo"):
                    jobs["baseline:" + k] = job.on(self.baseline)
        results = {k: [] for k in jobs}
        dead = set()
        for i in range(self.runs):
            for k, job in jobs.items():
                if k in dead:
                    continue
                t0 = time.time()
                r = job()
                results[k].append(r)
                status = (
                    "TIMEOUT"
                    if r.get("timeout")
                    else "ERROR"
                    if r.get("error")
                    else "fails: " + r["fails"]
                    if r.get("fails")
                    else "not available"
                    if r.get("na")
                    else r.get("check", "?")
                )
                log("  %-14s %-22s run %d/%d %6.1fs  %s" % (label, k, i + 1, self.runs, time.time() - t0, status[:100]))
                if r.get("timeout") or r.get("error") or r.get("fails") or r.get("na"):
                    dead.add(k)  # capped, broken or absent: no point in repeating
        return {k: summarize(v) for k, v in results.items()}


class ExecoJob(object):
    """A worker measurement of this project's execo (or, with on(), of the
    execo of another source tree: --baseline)."""

    def __init__(self, runner, spec, src=ROOT):
        self.runner, self.spec, self.src = runner, spec, src

    def __call__(self):
        return self.runner.worker(self.spec, src=self.src)

    def on(self, src):
        return ExecoJob(self.runner, self.spec, src)


# what the baseline table compares of a workload whose runs time no
# single "seconds" (procs: one run measures idle CPU, memory and kill+wait)
BASELINE_METRICS = {
    "procs": [
        ("kill_wait_seconds", lambda v: fmt_secs(v)),
        ("start_seconds", lambda v: fmt_secs(v)),
        ("rss_per_proc_kib", lambda v: "%.1f KiB" % v),
        ("idle_cpu_pct", lambda v: "%.4f%% of a core" % v),
    ],
}


def baseline_table(raw):
    """Markdown: each execo measurement of this tree beside the same one on
    the --baseline tree (medians of the same interleaved runs)."""
    lines = ["| workload | measurement | this tree | baseline | this/baseline |", "|---|---|---|---|---|"]
    for name, w in raw.items():
        res = w["results"]
        for k in res:
            if not k.startswith("baseline:"):
                continue
            key = k[len("baseline:") :]
            for metric, fmt in BASELINE_METRICS.get(name, [("seconds", fmt_secs)]):
                a, b = med(res.get(key), metric), med(res[k], metric)
                lines.append(
                    "| %s | %s | %s | %s | %s |"
                    % (
                        name,
                        key if metric == "seconds" else "%s %s" % (key, metric),
                        fmt(a) if a is not None else failed_text(res.get(key)),
                        fmt(b) if b is not None else failed_text(res[k]),
                        "%.2fx" % (a / b) if a and b else "-",
                    )
                )
    return "\n".join(lines)


def summarize(runs):
    s = {"runs": runs}
    failed = lambda r: r.get("timeout") or r.get("error") or r.get("fails") or r.get("na")
    good = [r for r in runs if not failed(r)]
    bad = [r for r in runs if failed(r)]
    if bad:
        b = bad[0]
        if b.get("timeout"):
            s["timeout"] = True
            s["cap"] = b["cap"]
        elif b.get("fails"):
            s["fails"] = b["fails"]  # the implementation raised (e.g. 2.8.2 on Python 3)
        elif b.get("na"):
            s["na"] = b["na"]  # the implementation is not there
        else:
            s["error"] = b["error"]
        return s
    med = {}
    for key in good[0]:
        vals = [r[key] for r in good if isinstance(r.get(key), (int, float)) and not isinstance(r.get(key), bool)]
        if len(vals) == len(good):
            med[key] = statistics.median(vals)
    s["median"] = med
    checks = [r.get("check", "ok") for r in good]
    s["check"] = "ok" if all(c == "ok" for c in checks) else next(c for c in checks if c != "ok")
    for key in ("execo_version", "execo_file"):
        if key in good[0]:
            s[key] = good[0][key]
    errs = [r["stderr"] for r in good if r.get("stderr")]
    if errs:
        s["stderr"] = errs[0]
    return s


# ------------------------------------------------------------ helpers


def exo_spawn_method(summary):
    """How spawnloop's seqexo spawned (its second number: 1 clone3)."""
    flag = med(summary, "clone3")
    if flag is None:
        return "?"
    return "clone3" if flag == 1 else "posix_spawn"


def compile_c(tmpdir):
    src = os.path.join(HERE, "spawnloop.c")
    exe = os.path.join(tmpdir, "spawnloop")
    cc = shutil.which("gcc") or shutil.which("cc")
    if not cc:
        return None, "no C compiler"
    src_c = os.path.join(os.path.dirname(HERE), "src_c")
    r = subprocess.run(
        [cc, "-O2", "-D_GNU_SOURCE", "-I", src_c, "-o", exe, src, os.path.join(src_c, "exo_spawn.c")],
        capture_output=True,
        text=True,
    )
    if r.returncode != 0:
        return None, "compile failed: " + r.stderr[-500:]
    return exe, None


def ensure_ref_venv():
    """Create bench/.venv-execo282 with execo 2.8.2 from PyPI on first use.
    Returns None when usable, else the reason."""

    def ok():
        if not os.path.exists(VENV_PY):
            return False
        r = subprocess.run(
            [VENV_PY, "-c", "from importlib.metadata import version; print(version('execo'))"],
            capture_output=True,
            text=True,
            cwd=tempfile.gettempdir(),
        )
        return r.returncode == 0 and r.stdout.strip() == REF_VERSION

    if ok():
        return None
    log("creating %s with execo %s (first use)..." % (VENV, REF_VERSION))
    if not os.path.exists(VENV_PY):
        r = subprocess.run([sys.executable, "-m", "venv", VENV], capture_output=True, text=True)
        if r.returncode != 0:
            return "venv creation failed: " + r.stderr[-500:]
    r = subprocess.run(
        [VENV_PY, "-m", "pip", "install", "-q", "execo==%s" % REF_VERSION], capture_output=True, text=True
    )
    if r.returncode != 0 or not ok():
        return "pip install execo==%s failed: %s" % (REF_VERSION, r.stderr[-500:])
    return None


def ensure_clush():
    """ClusterShell's clush for the remote64 row: bench/.venv-clush (created
    with python -m venv + pip install ClusterShell on first use; git-ignored),
    else a system clush (apt-get install clustershell when root).
    Returns (path, version) or (None, reason)."""

    def version(path):
        r = subprocess.run([path, "--version"], capture_output=True, text=True)
        return r.stdout.strip() if r.returncode == 0 else None

    if os.path.exists(CLUSH_VENV_BIN) and version(CLUSH_VENV_BIN):
        return CLUSH_VENV_BIN, version(CLUSH_VENV_BIN)
    log("creating %s with ClusterShell (first use)..." % CLUSH_VENV)
    why = ""
    r = subprocess.run([sys.executable, "-m", "venv", CLUSH_VENV], capture_output=True, text=True)
    if r.returncode == 0:
        r = subprocess.run(
            [os.path.join(CLUSH_VENV, "bin", "python"), "-m", "pip", "install", "-q", "ClusterShell"],
            capture_output=True,
            text=True,
        )
    if r.returncode == 0 and version(CLUSH_VENV_BIN):
        return CLUSH_VENV_BIN, version(CLUSH_VENV_BIN)
    why = "pip install ClusterShell failed: " + r.stderr.strip()[-300:]
    system = shutil.which("clush")
    if not system and os.geteuid() == 0 and shutil.which("apt-get"):
        log("pip failed; apt-get install clustershell...")
        subprocess.run(
            ["apt-get", "install", "-y", "-q", "clustershell"],
            capture_output=True,
            env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"),
        )
        system = shutil.which("clush")
    if system and version(system):
        return system, version(system)
    return None, why + "; no system clush"


def ensure_pssh():
    """parallel-ssh (libssh2 in-process) for the remote64_first row, in
    bench/.venv-pssh (python -m venv + pip install parallel-ssh on first
    use; git-ignored). Returns (python, version) or (None, reason)."""

    def version():
        if not os.path.exists(PSSH_VENV_PY):
            return None
        r = subprocess.run(
            [
                PSSH_VENV_PY,
                "-c",
                "from importlib.metadata import version; import pssh.clients; print(version('parallel-ssh'))",
            ],
            capture_output=True,
            text=True,
            cwd=tempfile.gettempdir(),
        )
        return r.stdout.strip() if r.returncode == 0 else None

    v = version()
    if v:
        return PSSH_VENV_PY, v
    log("creating %s with parallel-ssh (first use)..." % PSSH_VENV)
    r = subprocess.run([sys.executable, "-m", "venv", PSSH_VENV], capture_output=True, text=True)
    if r.returncode == 0:
        r = subprocess.run([PSSH_VENV_PY, "-m", "pip", "install", "-q", "parallel-ssh"], capture_output=True, text=True)
    v = version()
    if v:
        return PSSH_VENV_PY, v
    return None, "pip install parallel-ssh failed: " + r.stderr.strip()[-300:]


def machine_info():
    info = {
        "nproc": os.cpu_count(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    info["cpu"] = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        import resource

        info["rlimit_nofile"] = resource.getrlimit(resource.RLIMIT_NOFILE)
    except Exception:
        pass
    try:
        with open("/proc/meminfo") as f:
            info["mem_total"] = f.readline().split(":", 1)[1].strip()
    except OSError:
        pass
    return info


def fmt_secs(s):
    if s is None:
        return "-"
    if s < 0.01:
        return "%.2f ms" % (s * 1000)
    if s < 10:
        return "%.3g s" % s
    return "%.1f s" % s


def fmt_size(size):
    if size >= 1000 * MB:
        return "%g GB" % (size / 1000.0 / MB)
    return "%g MB" % (size / float(MB))


def med(summary, key="seconds"):
    if not summary or "median" not in summary:
        return None
    return summary["median"].get(key)


def failed_text(summary):
    if summary is None:
        return "-"
    if summary.get("timeout"):
        return "> cap (%ds)" % summary["cap"]
    if summary.get("error"):
        return "ERROR"
    if summary.get("fails"):
        return "fails: " + summary["fails"][:120]
    if summary.get("na"):
        return "not available"
    return None


def val(summary, fmt):
    """Formatted median, or why there is none; '(!)' marks a failed check."""
    ft = failed_text(summary)
    if ft:
        return ft
    s = fmt(summary["median"])
    if summary.get("check") != "ok":
        s += " (!check)"
    return s


def ratio_x(a, b):
    """a / b as "1.23x" (times: lower is better)."""
    if a is None or b is None or b == 0:
        return "-"
    return "%.2fx" % (a / b)


def pct(a, b):
    if a is None or b is None or b == 0:
        return "-"
    return "%.0f%%" % (100.0 * a / b)


# ------------------------------------------------------------ workloads


def run_workload(name, runner, p, pref, cexe, ref_ok, with_ref):
    """Returns a list of table rows (dicts) and the raw summaries."""
    W = lambda **spec: ExecoJob(runner, spec)
    R = lambda **spec: lambda: runner.worker(spec, ref=True)
    raw = {}
    rows = []
    if name in ("spawn_all", "spawn_seq"):
        n = p["n"]
        mode = "all" if name == "spawn_all" else "seq"
        jobs = {"execo": W(workload=name, impl="execo", **p)}
        if cexe:
            jobs["c"] = lambda: runner.c_loop(cexe, mode, n, 0)
            jobs["c_pipes"] = lambda: runner.c_loop(cexe, mode, n, 1)
            if mode == "seq":
                jobs["c_exo"] = lambda: runner.c_loop(cexe, "seqexo", n, 1, second="clone3")
        jobs["subprocess"] = W(workload=name, impl="subprocess", **p)
        jobs["asyncio"] = W(workload=name, impl="asyncio", **p)
        if mode == "seq":
            jobs["pyspawn"] = W(workload=name, impl="pyspawn", **p)
        if with_ref and ref_ok:
            jobs["ref"] = R(workload=name, impl="execo", **pref)
        raw = runner.series(name, jobs)
        r = lambda m: "%s (%.0f/s)" % (fmt_secs(m["seconds"]), m["rate"])
        e, c, cp = med(raw["execo"], "rate"), med(raw.get("c"), "rate"), med(raw.get("c_pipes"), "rate")
        what = (
            "%d x `true`: start all, then wait all" % n if mode == "all" else "%d x `true`: run() one after another" % n
        )
        rows.append(
            {
                "workload": name,
                "what": what,
                "execo": val(raw["execo"], r),
                "limit": "C posix_spawn %s; with 3 pipes+pgroup %s" % (val(raw.get("c"), r), val(raw.get("c_pipes"), r))
                + (
                    "; C through execo's exo_spawn (%s) %s (%s C+pipes)"
                    % (
                        exo_spawn_method(raw.get("c_exo")),
                        val(raw.get("c_exo"), r),
                        ratio_x(med(raw.get("c_exo")), med(raw.get("c_pipes"))),
                    )
                    if mode == "seq"
                    else ""
                ),
                "ratio": "%s of C; %s of C+pipes" % (pct(e, c), pct(e, cp))
                + ("; %s C+pipes" % ratio_x(med(raw["execo"]), med(raw.get("c_pipes"))) if mode == "seq" else ""),
                "target": ">= 80% of C" if mode == "all" else "<= 1.2x C (issue 18)",
                "peers": "subprocess %s; asyncio %s" % (val(raw["subprocess"], r), val(raw["asyncio"], r))
                + (
                    "; Python os.posix_spawnp+pipes+waitpid %s (%s C+pipes)"
                    % (val(raw["pyspawn"], r), ratio_x(med(raw["pyspawn"]), med(raw.get("c_pipes"))))
                    if mode == "seq"
                    else ""
                ),
                "ref": ref_text(raw.get("ref"), r, pref["n"] != n and "N=%d" % pref["n"], with_ref, ref_ok),
            }
        )
    elif name in ("stdout_bytes", "stdout_lines"):
        size = p["size"]
        jobs = {
            "execo": W(workload=name, impl="execo", **p),
            "cat": W(workload=name, impl="cat", **p),
            "pyraw": W(workload=name, impl="pyraw", **p),
            "subprocess": W(workload=name, impl="subprocess", **p),
            "asyncio": W(workload=name, impl="asyncio", **p),
        }
        if cexe:
            # the floor of any collector keeping the output in memory
            jobs["memwrite"] = lambda: runner.c_memwrite(cexe, size)
        if with_ref and ref_ok:
            jobs["ref"] = R(workload=name, impl="execo", **pref)
        raw = runner.series(name, jobs)
        r = lambda m: "%s (%.0f MB/s)" % (fmt_secs(m["seconds"]), m["rate"])
        e = med(raw["execo"], "rate")
        what = (
            "%s of zeros, no newline" % fmt_size(size)
            if name == "stdout_bytes"
            else "%s of 64-byte lines" % fmt_size(size)
        )
        rows.append(
            {
                "workload": name,
                "what": what + ", collected in Process.stdout",
                "execo": val(raw["execo"], r),
                "limit": "cat > /dev/null %s; os.read loop %s; fresh memory write %s"
                % (val(raw["cat"], r), val(raw["pyraw"], r), val(raw.get("memwrite"), r)),
                "ratio": "%s of cat; %s of os.read; %s of mem write"
                % (
                    pct(e, med(raw["cat"], "rate")),
                    pct(e, med(raw["pyraw"], "rate")),
                    pct(e, med(raw.get("memwrite"), "rate")),
                ),
                "target": ">= 50% of cat",
                "peers": "subprocess.run %s; asyncio %s" % (val(raw["subprocess"], r), val(raw["asyncio"], r)),
                "ref": ref_text(
                    raw.get("ref"), r, pref["size"] != size and "@" + fmt_size(pref["size"]), with_ref, ref_ok
                ),
            }
        )
    elif name in ("line_handler", "line_handler8"):
        size, line_len = p["size"], p.get("line_len", 64)
        jobs = {
            "execo": W(workload=name, impl="execo", **p),
            "pyraw": W(workload=name, impl="pyraw", **p),
            "subprocess": W(workload=name, impl="subprocess", **p),
            "asyncio": W(workload=name, impl="asyncio", **p),
        }
        if with_ref and ref_ok:
            jobs["ref"] = R(workload=name, impl="execo", **pref)
        raw = runner.series(name, jobs)
        r = lambda m: "%s (%.2f M lines/s)" % (fmt_secs(m["seconds"]), m["rate"])
        e = med(raw["execo"], "rate")
        rows.append(
            {
                "workload": name,
                "what": "read_line handler counting %s of %d-byte lines (%.3g M lines)"
                % (fmt_size(size), line_len, size / line_len / 1e6),
                "execo": val(raw["execo"], r),
                "limit": "os.read+split+call/line %s" % val(raw["pyraw"], r),
                # issue 18's line_handler8: a time ratio, as its other rows
                "ratio": pct(e, med(raw["pyraw"], "rate"))
                if line_len == 64
                else "%s (%s of its rate)"
                % (ratio_x(med(raw["execo"]), med(raw["pyraw"])), pct(e, med(raw["pyraw"], "rate"))),
                "target": ">= 1.5 M lines/s" if line_len == 64 else "<= 1.5x os.read+split+call (issue 18)",
                "peers": "subprocess text iter %s; asyncio readline %s"
                % (val(raw["subprocess"], r), val(raw["asyncio"], r)),
                "ref": ref_text(
                    raw.get("ref"), r, pref["size"] != size and "@" + fmt_size(pref["size"]), with_ref, ref_ok
                ),
            }
        )
    elif name == "expect_after":
        size = p["size"]
        jobs = {
            "execo": W(workload=name, impl="execo", **p),
            "execo_collect": W(workload=name, impl="execo_collect", **p),
            "pyraw": W(workload=name, impl="pyraw", **p),
        }
        if cexe:
            jobs["c_memmem"] = lambda: runner.c_memmem(cexe, size, W_.expect_cmd(size), W_.MARKER)
        if with_ref and ref_ok:
            jobs["ref"] = R(workload=name, impl="execo", **pref)
            jobs["ref_collect"] = R(workload=name, impl="execo_collect", **pref)
        raw = runner.series(name, jobs)
        r = lambda m: fmt_secs(m["seconds"])
        e, c = med(raw["execo"]), med(raw["execo_collect"])
        reft = ref_text(raw.get("ref"), r, pref["size"] != size and "@" + fmt_size(pref["size"]), with_ref, ref_ok)
        if raw.get("ref") and raw.get("ref_collect") and med(raw["ref"]) and med(raw["ref_collect"]):
            reft += " (collect %s: %.2gx)" % (
                fmt_secs(med(raw["ref_collect"])),
                med(raw["ref"]) / med(raw["ref_collect"]),
            )
        rows.append(
            {
                "workload": name,
                "what": "expect() of a marker after %s of 64-byte lines" % fmt_size(size),
                "execo": val(raw["execo"], r),
                "limit": "execo collecting the same output %s; C memmem %s"
                % (val(raw["execo_collect"], r), val(raw.get("c_memmem"), r)),
                "ratio": "%s collect; %s C memmem" % (ratio_x(e, c), ratio_x(e, med(raw.get("c_memmem")))),
                "target": "<= 1.5x collect; <= 1.3x C (issue 18)",
                "peers": "os.read+find %s" % val(raw["pyraw"], r),
                "ref": reft,
            }
        )
    elif name in ("expect_roundtrip", "expect_roundtrip_hog"):
        n, hog = p["n"], p.get("hog", False)
        jobs = {
            "execo": W(workload=name, impl="execo", **p),
            "pyraw": W(workload=name, impl="pyraw", **p),
            "asyncio": W(workload=name, impl="asyncio", **p),
        }
        if with_ref and ref_ok:
            jobs["ref"] = R(workload=name, impl="execo", **pref)
        raw = runner.series(name, jobs)
        r = lambda m: "%s (%.0f/s)" % (fmt_secs(m["seconds"]), m["rate"])
        rows.append(
            {
                "workload": name,
                "what": "%d sequential write()/expect() round trips with cat%s"
                % (n, ", a busy loop on every core" if hog else ""),
                "execo": val(raw["execo"], r),
                "limit": "os.write/os.read %s" % val(raw["pyraw"], r),
                "ratio": "%s (%s of its rate)"
                % (
                    ratio_x(med(raw["execo"]), med(raw["pyraw"])),
                    pct(med(raw["execo"], "rate"), med(raw["pyraw"], "rate")),
                ),
                "target": "<= 2x os.write/os.read (issue 18)" if hog else "< 1 s; <= 1.5x os.write/os.read (issue 18)",
                "peers": "asyncio write/readline %s" % val(raw["asyncio"], r),
                "ref": ref_text(raw.get("ref"), r, False, with_ref, ref_ok),
            }
        )
    elif name in ("kill2000", "kill_shell200"):
        n, shell = p["n"], p["shell"]
        jobs = {"execo": W(workload=name, impl="execo", **p), "subprocess": W(workload=name, impl="subprocess", **p)}
        # execo's reactor alone, each end one short Python call: how much of
        # the gap to C is the mechanism (two threads, pidfds, epoll), how
        # much the Python of a process's kill and end (not a --baseline job)
        floor_spec = dict(workload=name, impl="floor", **p)
        jobs["floor"] = lambda: runner.worker(floor_spec)
        if cexe:
            jobs["c"] = lambda: runner.c_loop(cexe, "killsh" if shell else "kill", n, 1)
            if not shell:
                # the same through execo's mechanism (pidfds, epoll, the eofs
                # read): what of the gap is the mechanism, what Python's
                jobs["c_fd"] = lambda: runner.c_loop(cexe, "killfd", n, 1)
        if with_ref and ref_ok:
            jobs["ref"] = R(workload=name, impl="execo", **pref)
        raw = runner.series(name, jobs)
        r = lambda m: fmt_secs(m["seconds"])
        limit = "C %s+waitpid %s" % ("killpg" if shell else "kill", val(raw.get("c"), r))
        ratio = "%s C" % ratio_x(med(raw["execo"]), med(raw.get("c")))
        if "c_fd" in raw:
            limit += "; C through pidfds+epoll %s (%s C)" % (
                val(raw["c_fd"], r),
                ratio_x(med(raw["c_fd"]), med(raw.get("c"))),
            )
            ratio += "; %s C through pidfds+epoll" % ratio_x(med(raw["execo"]), med(raw["c_fd"]))
        limit += "; execo's reactor alone %s (%s C)" % (
            val(raw["floor"], r),
            ratio_x(med(raw["floor"]), med(raw.get("c"))),
        )
        ratio += "; %s the reactor alone" % ratio_x(med(raw["execo"]), med(raw["floor"]))
        rows.append(
            {
                "workload": name,
                "what": "kill() of %d running `%s`, then wait() of all"
                % (n, "sh -c 'sleep 1000'` (shell=True" if shell else "sleep 1000"),
                "execo": val(raw["execo"], r),
                "limit": limit,
                "ratio": ratio,
                "target": "<= %sx C (issue 18)" % ("1.5" if shell else "1.3"),
                "peers": "subprocess %s %s" % ("killpg+wait" if shell else "terminate+wait", val(raw["subprocess"], r)),
                "ref": ref_text(raw.get("ref"), r, pref["n"] != n and "N=%d" % pref["n"], with_ref, ref_ok),
            }
        )
    elif name == "procs":
        n = p["n"]
        jobs = {"execo": W(workload=name, impl="execo", **p), "subprocess": W(workload=name, impl="subprocess", **p)}
        if cexe:
            jobs["c_kill"] = lambda: runner.c_loop(cexe, "kill", n, 1)
        if with_ref and ref_ok:
            jobs["ref"] = R(workload=name, impl="execo", **pref)
        raw = runner.series(name, jobs)
        nref = pref["n"] != n and "N=%d" % pref["n"]
        ex, sp, rf = raw["execo"], raw["subprocess"], raw.get("ref")
        idle = lambda m: "%.3f%% of a core" % m["idle_cpu_pct"]
        kw = lambda m: fmt_secs(m["kill_wait_seconds"])
        mem = lambda m: "%.1f KiB, %.1f fds" % (m["rss_per_proc_kib"], m["fds_per_proc"])
        start = lambda m: "started in %s" % fmt_secs(m["start_seconds"])
        rows.append(
            {
                "workload": "idle",
                "what": "parent CPU over %gs with %d running `sleep 1000`" % (p["idle_s"], n),
                "execo": val(ex, idle),
                "limit": "0",
                "ratio": "-",
                "target": "< 0.5% of a core",
                "peers": "subprocess.Popen %s" % val(sp, idle),
                "ref": ref_text(rf, idle, nref, with_ref, ref_ok),
            }
        )
        rows.append(
            {
                "workload": "kill_wait",
                "what": "kill() then wait() of the %d `sleep 1000`" % n,
                "execo": val(ex, kw),
                "limit": "C kill+waitpid %s" % val(raw.get("c_kill"), lambda m: fmt_secs(m["seconds"])),
                "ratio": pct(med(raw.get("c_kill")), med(ex, "kill_wait_seconds")),
                "target": "< 2 s",
                "peers": "subprocess terminate+wait %s" % val(sp, kw),
                "ref": ref_text(rf, kw, nref, with_ref, ref_ok),
            }
        )
        rows.append(
            {
                "workload": "memory",
                "what": "RSS growth and fds per running Process, N=%d" % n,
                "execo": val(ex, mem) + "; " + val(ex, start),
                "limit": "C posix_spawn+3 pipes %s" % val(raw.get("c_kill"), start),
                "ratio": "start: %s of C" % pct(med(raw.get("c_kill"), "start_seconds"), med(ex, "start_seconds")),
                "target": "< 20 KiB (below Popen)",
                "peers": "subprocess.Popen (3 pipes) %s; %s" % (val(sp, mem), val(sp, start)),
                "ref": ref_text(rf, lambda m: mem(m) + "; " + start(m), nref, with_ref, ref_ok),
            }
        )
    elif name == "fanout_stub":
        n = p["n"]
        stub = runner.stub_ssh()
        jobs = {"execo": W(workload=name, impl="execo", stub=stub, **p)}
        if cexe:
            jobs["c"] = lambda: runner.c_fanout(cexe, n, stub)
        jobs["subprocess"] = W(workload=name, impl="subprocess", stub=stub, **p)
        if with_ref and ref_ok:
            jobs["ref"] = R(workload=name, impl="execo", stub=stub, **pref)
        raw = runner.series(name, jobs)
        r = lambda m: "%s (%.0f/s)" % (fmt_secs(m["seconds"]), m["rate"])
        rb = lambda m: r(m) + "; build %s" % fmt_secs(m.get("build_seconds"))
        rows.append(
            {
                "workload": name,
                "what": "Remote(%r) to %d host names through a stub ssh, start to all ended" % (W_.FANOUT_CMD, n),
                "execo": val(raw["execo"], rb),
                "limit": "C posix_spawn of the same stub argvs (3 pipes+pgroup, read stdout) %s" % val(raw.get("c"), r),
                "ratio": "%s of C (%s)"
                % (
                    pct(med(raw["execo"], "rate"), med(raw.get("c"), "rate")),
                    ratio_x(med(raw["execo"]), med(raw.get("c"))),
                ),
                "target": "all ok; <= 1.15x C (issue 18)",
                "peers": "subprocess.Popen (3 pipes) + communicate %s" % val(raw["subprocess"], r),
                "ref": ref_text(raw.get("ref"), rb, pref["n"] != n and "N=%d" % pref["n"], with_ref, ref_ok),
            }
        )
    elif name == "fanout_overlap":
        import resource

        n = p["n"]
        stub = runner.stub_ssh()
        soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
        # execo's fd budget (execo.start_queue) at 4 fds a child: the
        # concurrency execo is sure to reach, given to the C loop too
        window = (soft - max(64, soft // 20)) // 4
        jobs = {"execo": W(workload=name, impl="execo", stub=stub, **p)}
        if cexe:
            jobs["c"] = lambda: runner.c_fanout_window(cexe, n, window, stub)
        raw = runner.series(name, jobs)
        r = lambda m: "%s (%.0f/s)" % (fmt_secs(m["seconds"]), m["rate"])
        rp = lambda m: r(m) + "; peak %d running" % m.get("peak", 0)
        rows.append(
            {
                "workload": name,
                "what": "Remote(%r) to %d host names through a stub ssh under a %d-fd limit, "
                "start to all ended" % (W_.OVERLAP_CMD, n, soft),
                "execo": val(raw["execo"], rp),
                "limit": "C posix_spawn of the same argvs, at most %d alive (execo's budget at "
                "4 fds a child) %s" % (window, val(raw.get("c"), r)),
                "ratio": "%s of C" % pct(med(raw["execo"], "rate"), med(raw.get("c"), "rate")),
                "target": "all ok (no EMFILE)",
                "peers": "",
                "ref": "not run (2.8.2 fails the hosts beyond the fd limit with EMFILE)",
            }
        )
    elif name == "remote64":
        info, why = runner.sshd()
        clush, cver = runner.clush()
        if info is None:
            rows.append(skipped_row(name, "sshd unavailable", why))
            runner.problems.append("%s: %s" % (name, why))
            return rows, raw
        sp = remote_spec(info, p["n_hosts"])
        jobs = {"execo": W(workload=name, impl="execo", **sp), "sshloop": W(workload=name, impl="sshloop", **sp)}
        if clush:
            jobs["clush"] = W(workload=name, impl="clush", clush=clush, clush_conf=runner.clush_conf(), **sp)
        else:
            runner.problems.append("%s: clush unavailable: %s" % (name, cver))
        if with_ref and ref_ok:
            jobs["ref"] = R(workload=name, impl="execo", **remote_spec(info, pref["n_hosts"]))
        raw = runner.series(name, jobs)
        r = lambda m: fmt_secs(m["seconds"])
        rc = lambda m: "%s (incl. start-up %s)" % (fmt_secs(m["seconds"]), fmt_secs(m.get("startup_seconds")))
        nh = p["n_hosts"]
        rows.append(
            {
                "workload": name,
                "what": "Remote(%r) to %d loopback sshd hosts (ssh -tt, ed25519 key), all at once"
                % (W_.REMOTE_CMD, nh),
                "execo": val(raw["execo"], r),
                "limit": "bash `ssh ... $h & done; wait` (same argv) %s" % val(raw["sshloop"], r),
                "ratio": "%s of ssh loop" % pct(med(raw["sshloop"]), med(raw["execo"])),
                "target": "",
                "peers": "clush -f %d %s" % (nh, val(raw.get("clush"), rc) if clush else "unavailable"),
                "ref": ref_text(raw.get("ref"), r, False, with_ref, ref_ok),
            }
        )
        if clush and "clush" in raw:
            raw["clush"]["clush_version"] = cver
    elif name == "remote64_first":
        info, why = runner.sshd()
        if info is None:
            rows.append(skipped_row(name, "sshd unavailable", why))
            runner.problems.append("%s: %s" % (name, why))
            return rows, raw
        clush, cver = runner.clush()
        pssh, pver = runner.pssh()
        sp = remote_spec(info, p["n_hosts"])
        fast = list(FAST_KEX_OPTIONS)
        jobs = {
            "execo": W(workload="remote64", impl="execo", **sp),
            "execo_fast": W(workload="remote64", impl="execo", extra_params={"ssh_fast_handshake": True}, **sp),
            "execo_fast_notty": W(
                workload="remote64", impl="execo", no_tty=True, extra_params={"ssh_fast_handshake": True}, **sp
            ),
            "sshloop": W(workload="remote64", impl="sshloop", **sp),
            "sshloop_fast": W(workload="remote64", impl="sshloop", extra_ssh_options=fast, **sp),
        }
        if pssh:
            jobs["pssh"] = lambda: runner.worker(dict(workload="remote64", impl="pssh", **sp), python=pssh)
        else:
            runner.problems.append("%s: parallel-ssh unavailable: %s" % (name, pver))
        if clush:
            jobs["clush"] = W(workload="remote64", impl="clush", clush=clush, clush_conf=runner.clush_conf(), **sp)
        else:
            runner.problems.append("%s: clush unavailable: %s" % (name, cver))
        if with_ref and ref_ok:
            jobs["ref"] = R(workload="remote64", impl="execo", **remote_spec(info, pref["n_hosts"]))
        raw = runner.series(name, jobs)
        r = lambda m: fmt_secs(m["seconds"])
        rc = lambda m: "%s (incl. start-up %s)" % (fmt_secs(m["seconds"]), fmt_secs(m.get("startup_seconds")))
        nh = p["n_hosts"]
        rows.append(
            {
                "workload": name,
                "what": "first contact: Remote(%r) to %d loopback sshd hosts, a new ssh connection "
                "(key exchange + authentication) each, all at once" % (W_.REMOTE_CMD, nh),
                "execo": "default %s; ssh_fast_handshake %s; fast without -tt (as parallel-ssh: "
                "no remote pty) %s"
                % (val(raw["execo"], r), val(raw["execo_fast"], r), val(raw["execo_fast_notty"], r)),
                "limit": "bash `ssh ... $h & done; wait` %s; with the fast kex %s"
                % (val(raw["sshloop"], r), val(raw["sshloop_fast"], r)),
                "ratio": "default %s of ssh loop; fast %s of fast ssh loop"
                % (pct(med(raw["sshloop"]), med(raw["execo"])), pct(med(raw["sshloop_fast"]), med(raw["execo_fast"]))),
                "target": "fast <= parallel-ssh (%s)"
                % (
                    "met"
                    if med(raw["execo_fast"]) is not None
                    and med(raw.get("pssh")) is not None
                    and med(raw["execo_fast"]) <= med(raw.get("pssh"))
                    else "NOT met"
                ),
                "peers": "parallel-ssh %s %s; clush -f %d %s"
                % (
                    pver if pssh else "",
                    val(raw.get("pssh"), r) if pssh else "unavailable",
                    nh,
                    val(raw.get("clush"), rc) if clush else "unavailable",
                ),
                "ref": ref_text(raw.get("ref"), r, False, with_ref, ref_ok),
            }
        )
    elif name == "samehost":
        info, why = runner.sshd()
        if info is not None and info.get("stock", {}).get("error"):
            info, why = None, info["stock"]["error"]
        if info is None:
            rows.append(skipped_row(name, "stock sshd unavailable", why))
            runner.problems.append("%s: %s" % (name, why))
            return rows, raw
        n = p["n"]
        sp = dict(remote_spec(info["stock"], 1), n=n)
        jobs = {
            "execo": W(workload=name, impl="execo", **sp),
            "execo_noretry": W(workload=name, impl="execo", extra_params={"ssh_connect_retries": 0}, **sp),
            "sshloop": W(workload=name, impl="sshloop", **sp),
        }
        if with_ref and ref_ok:
            jobs["ref"] = R(workload=name, impl="execo", **dict(sp, n=pref["n"]))
        raw = runner.series(name, jobs)
        raw["execo_noretry"].pop("stderr", None)  # the failure log of its refused processes
        r = lambda m: "%d/%d ok, %s" % (m["ok_count"], n, fmt_secs(m["seconds"]))
        rows.append(
            {
                "workload": name,
                "what": "Remote('echo {{range(%d)}}', [host] * %d) onto one sshd with OpenSSH's "
                "default MaxStartups 10:30:100 (median ok count, time)" % (n, n),
                "execo": "%s; ssh_connect_retries=0: %s" % (val(raw["execo"], r), val(raw["execo_noretry"], r)),
                "limit": "bash `ssh ... host \"echo $i\" & done; wait` %s" % val(raw["sshloop"], r),
                "ratio": "-",
                "target": "%d/%d ok" % (n, n),
                "peers": "-",
                "ref": ref_text(raw.get("ref"), r, False, with_ref, ref_ok),
            }
        )
        if med(raw["execo"], "ok_count") != n:
            runner.problems.append("%s: execo %s/%d ok" % (name, med(raw["execo"], "ok_count"), n))
    elif name == "remote64_shared":
        info, why = runner.sshd()
        if info is None:
            rows.append(skipped_row(name, "sshd unavailable", why))
            runner.problems.append("%s: %s" % (name, why))
            return rows, raw
        sp = remote_spec(info, p["n_hosts"])
        jobs = {
            "execo": W(workload=name, impl="execo", share_params=SHARED_CONNECTION_PARAMS, **sp),
            "execo_unshared": W(workload="remote64", impl="execo", **sp),
        }
        raw = runner.series(name, jobs)
        first, second = med(raw["execo"]), med(raw["execo"], "second_seconds")
        rows.append(
            {
                "workload": name,
                "what": "the remote64 Remote twice with ssh connection sharing on",
                "execo": val(
                    raw["execo"],
                    lambda m: "first %s; second %s" % (fmt_secs(m["seconds"]), fmt_secs(m["second_seconds"])),
                ),
                "limit": "execo without sharing %s" % val(raw["execo_unshared"], lambda m: fmt_secs(m["seconds"])),
                "ratio": "second/first %.2fx" % (second / first) if first and second else "-",
                "target": "",
                "peers": "-",
                "ref": "n/a (no sharing in %s)" % REF_VERSION,
            }
        )
    elif name == "taktuk64":
        info, why = runner.sshd()
        if info is None:
            rows.append(skipped_row(name, "sshd unavailable", why))
            runner.problems.append("%s: %s" % (name, why))
            return rows, raw
        sp = remote_spec(info, p["n_hosts"])
        jobs = {
            "execo": W(workload=name, impl="execo", **sp),
            "taktuk": W(workload=name, impl="taktuk", **sp),
            "execo_remote": W(workload=name, impl="execo_remote", **sp),
        }
        if with_ref and ref_ok:
            jobs["ref"] = R(workload=name, impl="execo", **remote_spec(info, pref["n_hosts"]))
        raw = runner.series(name, jobs)
        r = lambda m: fmt_secs(m["seconds"])
        nh = p["n_hosts"]
        rows.append(
            {
                "workload": name,
                "what": "TaktukRemote(%r) to %d loopback sshd hosts (one taktuk, ssh tree)" % (W_.TAKTUK_CMD, nh),
                "execo": "TaktukRemote %s" % val(raw["execo"], r),
                "limit": "plain `taktuk -s ... broadcast exec [ %s ]` %s" % (W_.TAKTUK_CMD, val(raw["taktuk"], r)),
                "ratio": "%s of taktuk" % pct(med(raw["taktuk"]), med(raw["execo"])),
                "target": "",
                "peers": "execo Remote (one ssh -tt per host) %s" % val(raw["execo_remote"], r),
                "ref": ref_text(
                    raw.get("ref"), lambda m: "TaktukRemote " + r(m), False, with_ref, ref_ok, "TaktukRemote "
                ),
            }
        )
    elif name == "put16":
        info, why = runner.sshd()
        if info is None:
            rows.append(skipped_row(name, "sshd unavailable", why))
            runner.problems.append("%s: %s" % (name, why))
            return rows, raw
        src, sha, dest_root = runner.put_source(p["size"])
        sp = dict(remote_spec(info, p["n_hosts"]), src=src, sha256=sha, dest_root=dest_root)
        impls = [
            ("put", "execo_put"),
            ("scploop", "scploop"),
            ("taktukput", "execo_taktukput"),
            ("taktuk", "taktuk"),
            ("chainput", "execo_chainput"),
        ]
        jobs = {}
        for impl, key in impls:
            jobs[key] = W(workload=name, impl=impl, **sp)
        if with_ref and ref_ok:
            spr = dict(sp, **remote_spec(info, pref["n_hosts"]))
            for impl in ("put", "taktukput", "chainput"):
                jobs["ref_" + impl] = R(workload=name, impl=impl, **spr)
        raw = runner.series(name, jobs)
        r = lambda m: "%s (%.0f MB/s)" % (fmt_secs(m["seconds"]), m["rate"])
        nh = p["n_hosts"]
        ref = ref_text(raw.get("ref_put"), lambda m: "Put " + r(m), False, with_ref, ref_ok, "Put ")
        if with_ref and ref_ok is True:
            ref += "; TaktukPut %s; ChainPut %s" % (val(raw.get("ref_taktukput"), r), val(raw.get("ref_chainput"), r))
        rows.append(
            {
                "workload": name,
                "what": "copy a %s random file to %d loopback sshd hosts, start to all ended "
                "(MB/s: all copies)" % (fmt_size(p["size"]), nh),
                "execo": "Put (scp) %s; TaktukPut %s; ChainPut %s"
                % (val(raw["execo_put"], r), val(raw["execo_taktukput"], r), val(raw["execo_chainput"], r)),
                "limit": "scp loop (Put's argvs) %s; plain `taktuk -s ... broadcast put` %s"
                % (val(raw["scploop"], r), val(raw["taktuk"], r)),
                "ratio": "Put %s of scp loop; TaktukPut %s of taktuk"
                % (
                    pct(med(raw["scploop"]), med(raw["execo_put"])),
                    pct(med(raw["taktuk"]), med(raw["execo_taktukput"])),
                ),
                "target": "",
                "peers": "-",
                "ref": ref,
            }
        )
    else:
        raise ValueError(name)
    for k, s in raw.items():
        who = "execo %s" % REF_VERSION if k.startswith("ref") else ("execo" if k.startswith("execo") else k)
        if s.get("timeout") and not k.startswith("ref"):
            runner.problems.append("%s/%s: TIMEOUT after %ss (hung?)" % (name, k, s["cap"]))
        elif s.get("error"):
            runner.problems.append("%s/%s (%s): %s" % (name, k, who, s["error"]))
        elif s.get("fails") and not k.startswith("ref"):
            runner.problems.append("%s/%s (%s) fails: %s" % (name, k, who, s["fails"]))
        elif s.get("na") and not k.startswith("ref"):
            runner.problems.append("%s/%s (%s) not available: %s" % (name, k, who, s["na"]))
        elif s.get("check") not in (None, "ok"):
            runner.problems.append("%s/%s (%s): check failed: %s" % (name, k, who, s["check"]))
        if s.get("stderr") and k.startswith("execo"):
            runner.problems.append("%s/%s wrote to stderr: %s" % (name, k, s["stderr"][:300]))
    return rows, raw


def remote_spec(info, n_hosts):
    """The worker spec items of the remote64 rows: the first n_hosts daemons'
    addresses and how to log in (tests/fixtures/sshd.py's connection_params)."""
    return {
        "hosts": info["hosts"][:n_hosts],
        "port": info["port"],
        "user": info["user"],
        "keyfile": info["keyfile"],
        "ssh_options": info["ssh_options"],
        "scp_options": info.get("scp_options"),
    }


def skipped_row(name, text, why):
    return {
        "workload": name,
        "what": text,
        "execo": "skipped: " + text,
        "limit": "-",
        "ratio": "-",
        "target": "",
        "peers": "-",
        "ref": "-",
        **({"why": why} if why else {}),
    }


def ref_text(summary, fmt, scaled, with_ref, ref_ok, prefix=""):
    """The execo 2.8.2 cell; prefix names what ran when the cell would
    otherwise only say that it failed."""
    if not with_ref:
        return "not run"
    if ref_ok is not True:
        return "unavailable"
    t = val(summary, fmt)
    if failed_text(summary):
        t = prefix + t
    if scaled:
        t += " [%s]" % scaled
    return t


# ------------------------------------------------------------ table


COLS = [
    ("workload", "workload"),
    ("execo", "execo"),
    ("limit", "limit"),
    ("ratio", "ratio to limit"),
    ("target", "target"),
    ("peers", "peers"),
    ("ref", "execo %s" % REF_VERSION),
]


def markdown_table(rows):
    lines = ["| " + " | ".join(h for _, h in COLS) + " |", "|" + "|".join("---" for _ in COLS) + "|"]
    for r in rows:
        lines.append("| " + " | ".join(str(r.get(k, "")).replace("|", "\\|") for k, _ in COLS) + " |")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="100 MB instead of 1 GB, smaller execo 2.8.2 sizes")
    ap.add_argument(
        "--only",
        nargs="+",
        metavar="NAME",
        help="workloads to run: %s (or idle/memory/kill_wait = procs, "
        "kill_wait2000 = kill2000, kill_shell = kill_shell200; "
        "groups %s)" % (", ".join(WORKLOAD_NAMES), ", ".join(GROUPS)),
    )
    ap.add_argument("--runs", type=int, default=3, help="runs per measurement (median; >= 3)")
    ap.add_argument("--no-ref", action="store_true", help="skip execo %s" % REF_VERSION)
    ap.add_argument(
        "--ref-cap", type=float, default=120.0, help="timeout of one execo %s run, s (default 120)" % REF_VERSION
    )
    ap.add_argument(
        "--timeout", type=float, default=300.0, help="timeout of one other run, s (default 300): reported as a hang"
    )
    ap.add_argument(
        "--baseline",
        metavar="TREE",
        help="also measure the execo of another source tree (built in place, "
        "e.g. a git worktree of an older commit), interleaved: a regression "
        "check",
    )
    ap.add_argument(
        "--json",
        default=os.path.join(HERE, "results", "latest.json"),
        help="where to write the results (default bench/results/latest.json)",
    )
    args = ap.parse_args()

    names = WORKLOAD_NAMES
    if args.only:
        names = []
        for n in args.only:
            if n in GROUPS:
                names += GROUPS[n]
            elif n in ALIASES and ALIASES[n]:
                names.append(ALIASES[n])
            elif n in WORKLOAD_NAMES:
                names.append(n)
            else:
                ap.error("unknown workload %r" % n)
        names = [n for n in WORKLOAD_NAMES if n in names]

    t_start = time.time()
    tmpdir = tempfile.mkdtemp(prefix="execo-bench-")
    runner = None
    try:
        cexe, cerr = compile_c(tmpdir)
        if cerr:
            log("C loop unavailable: " + cerr)
        ref_ok = True
        if not args.no_ref:
            reason = ensure_ref_venv()
            if reason:
                log("execo %s unavailable: %s" % (REF_VERSION, reason))
                ref_ok = reason
        baseline = os.path.abspath(args.baseline) if args.baseline else None
        if baseline and not os.path.isdir(os.path.join(baseline, "execo")):
            ap.error("--baseline %s: no execo package there" % args.baseline)
        runner = Runner(args.runs, args.timeout, args.ref_cap, tmpdir, baseline)
        allp = params(args.quick)
        rows, raw = [], {}
        for name in names:
            log("== %s" % name)
            p, pref = allp.get(name, ({}, {}))
            rws, r = run_workload(name, runner, p, pref, cexe, ref_ok, not args.no_ref)
            rows += rws
            raw[name] = {"params": p, "ref_params": pref, "results": r}
    finally:
        if runner is not None:
            runner.stop_sshd()
        shutil.rmtree(tmpdir, ignore_errors=True)

    elapsed = time.time() - t_start
    info = machine_info()
    date = datetime.datetime.now().astimezone().isoformat(timespec="seconds")
    table = markdown_table(rows)
    print()
    print("execo benchmarks, %s mode, median of %d runs, %s" % ("quick" if args.quick else "full", args.runs, date))
    print(
        "machine: %s x %s, Linux %s, Python %s"
        % (info.get("nproc"), info.get("cpu", "?"), info.get("kernel"), info.get("python"))
    )
    print()
    print(table)
    print()
    if baseline:
        btable = baseline_table(raw)
        print("this tree (%s) beside --baseline %s:" % (ROOT, baseline))
        print()
        print(btable)
        print()
    if runner.problems:
        print("problems:")
        for pb in runner.problems:
            print("  - " + pb)
    print("total %.0f s" % elapsed)

    out = {
        "date": date,
        "mode": "quick" if args.quick else "full",
        "runs": args.runs,
        "machine": info,
        "elapsed_seconds": elapsed,
        "rows": rows,
        "workloads": raw,
        "problems": runner.problems,
        "table_markdown": table,
        "baseline": baseline,
        "ref": {"version": REF_VERSION, "available": ref_ok is True, "reason": None if ref_ok is True else ref_ok},
    }
    d = os.path.dirname(os.path.abspath(args.json))
    os.makedirs(d, exist_ok=True)
    with open(args.json, "w") as f:
        json.dump(out, f, indent=1)
    log("wrote %s" % args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
