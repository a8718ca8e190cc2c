"""execo 2.8.2's sister packages, execo_engine and execo_g5k, on top of
this execo.

They are fetched from the package index at test time (``pip download
--no-deps execo==2.8.2``, nothing vendored); only their two directories
are extracted, and each scenario runs in a subprocess whose ``sys.path``
holds them and this checkout, so that 2.8.2's own ``execo`` package is
never imported. The test is skipped only when the index cannot be
reached.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import textwrap
import zipfile

import pytest
from helpers import wait_until

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGES = ("execo_engine", "execo_g5k")

# what pip says when the index cannot be reached (no network, no DNS, proxy down)
UNREACHABLE = (
    "Network is unreachable",
    "Temporary failure in name resolution",
    "Name or service not known",
    "Failed to establish a new connection",
    "Max retries exceeded",
    "ProxyError",
    "Connection refused",
    "No route to host",
    "timed out",
    "NewConnectionError",
    "Could not fetch URL",
    "connection error",
)


def _extract(archive, dest):
    """Extract the .py files of execo_engine/ and execo_g5k/ from an sdist
    or a wheel into dest (member names are data: no absolute path, no ..)."""
    if archive.endswith(".whl") or archive.endswith(".zip"):
        with zipfile.ZipFile(archive) as z:
            members = [(n, (lambda n=n: z.read(n))) for n in z.namelist()]
    else:
        t = tarfile.open(archive)
        members = [(m.name, (lambda m=m: t.extractfile(m).read())) for m in t.getmembers() if m.isfile()]
    found = set()
    for name, read in members:
        parts = name.split("/")
        for i, part in enumerate(parts[:-1]):
            if part in PACKAGES:
                rel = parts[i:]
                break
        else:
            continue
        if not rel[-1].endswith(".py") or any(p in ("", ".", "..") for p in rel):
            continue
        path = os.path.join(dest, *rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(read())
        found.add(rel[0])
    return found


@pytest.fixture(scope="session")
def sister_site(tmp_path_factory):
    """A directory holding execo 2.8.2's execo_engine/ and execo_g5k/ only."""
    base = tmp_path_factory.mktemp("execo282")
    download = base / "download"
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--disable-pip-version-check",
            "-d",
            str(download),
            "execo==2.8.2",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    archives = sorted(os.listdir(download)) if download.exists() else []
    if r.returncode != 0 or not archives:
        out = r.stdout + r.stderr
        if any(marker.lower() in out.lower() for marker in UNREACHABLE):
            pytest.skip(
                "the package index cannot be reached (network unreachable), so execo 2.8.2's "
                "execo_engine and execo_g5k cannot be fetched:\n" + out[-2000:]
            )
        pytest.fail("pip download execo==2.8.2 failed:\n" + out)
    site = base / "site"
    site.mkdir()
    found = _extract(str(download / archives[0]), str(site))
    assert found == set(PACKAGES), (archives, found)
    assert not (site / "execo").exists()
    return str(site)


PRELUDE = """\
import os, sys
sys.path[:0] = [os.environ["SISTER_SITE"], os.environ["EXECO_ROOT"]]
import execo
assert os.path.dirname(execo.__file__) == os.path.join(os.environ["EXECO_ROOT"], "execo"), execo.__file__
"""


def _env(sister_site, **extra):
    env = dict(os.environ, SISTER_SITE=sister_site, EXECO_ROOT=ROOT, PYTHONDONTWRITEBYTECODE="1")
    env.pop("PYTHONPATH", None)
    env.update(extra)
    return env


def _run_script(tmp_path, sister_site, body, *args, timeout=300, **env):
    script = tmp_path / "script.py"
    script.write_text(PRELUDE + textwrap.dedent(body))
    r = subprocess.run(
        [sys.executable, str(script)] + list(args),
        cwd=str(tmp_path),
        env=_env(sister_site, **env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert r.returncode == 0, "script failed (%s):\nstdout:\n%s\nstderr:\n%s" % (r.returncode, r.stdout, r.stderr)
    return r


def test_both_packages_import_on_this_execo(tmp_path, sister_site):
    r = _run_script(
        tmp_path,
        sister_site,
        """
        import execo_engine, execo_g5k, json
        import execo_engine.engine, execo_engine.sweep, execo_engine.utils, execo_engine.log
        import execo_g5k.oar, execo_g5k.kadeploy, execo_g5k.api_utils, execo_g5k.planning
        import execo_g5k.charter, execo_g5k.utils, execo_g5k.config
        for m in (execo_engine, execo_g5k):
            assert m.__file__.startswith(os.environ["SISTER_SITE"]), m.__file__
        # execo_engine's logger: a child of execo's, of execo 2.8.2's logger class
        assert isinstance(execo_engine.logger, execo.log.Logger)
        assert execo_engine.logger.name == "execo.engine"
        assert execo_engine.logger.parent is execo.logger
        # the compatibility names are no new API of the execo package
        for name in ("Logger", "MAXFD", "comma_join", "make_connection_params",
                     "ActionNotificationProcessLH", "handle_process_output"):
            assert name not in execo.__all__
        print(json.dumps(sorted(n for n in sys.modules if n == "execo" or n.startswith("execo."))))
    """,
    )
    assert "execo" in json.loads(r.stdout.splitlines()[-1])


ENGINE = """
import json, time
from execo import Host, Remote
from execo_engine import Engine, ParamSweeper, sweep, slugify, logger


def key(combo):
    return "%s-%s" % (combo["n"], combo["word"])


class SweepEngine(Engine):

    def __init__(self):
        super(SweepEngine, self).__init__()
        self.args_parser.add_argument("--hosts", required=True)
        self.args_parser.add_argument("--user")
        self.args_parser.add_argument("--keyfile")
        self.args_parser.add_argument("--port", type=int)
        self.args_parser.add_argument("--skip", default=None)
        self.args_parser.add_argument("--block-at", default=None)
        self.args_parser.add_argument("--db-password", default=None)

    def init(self):
        self.hosts = [Host(a, user=self.args.user, keyfile=self.args.keyfile, port=self.args.port)
                      for a in self.args.hosts.split(",")]

    def journal(self, event, **kw):
        kw.update(event=event, pid=os.getpid())
        with open(os.path.join(self.result_dir, "journal"), "a") as f:
            f.write(json.dumps(kw) + "\\n")

    def run(self):
        sweeper = ParamSweeper(os.path.join(self.result_dir, "sweeps"),
                               sweep({"n": [1, 2, 3], "word": ["a", "b"]}))
        sweeps, remaining, skipped, inprogress, done = sweeper.stats()
        self.journal("start", total=len(sweeps), done=sorted(key(c) for c in done),
                     inprogress=sorted(key(c) for c in inprogress))
        if self.args.use_dir:
            # a restart: what the killed run had in progress is to do again
            sweeper.reset(reset_inprogress=True)
            sweeper.full_update()
        in_order = lambda remaining: sorted(remaining, key=lambda c: (c["n"], c["word"]))
        while True:
            combo = sweeper.get_next(in_order)
            if combo is None:
                break
            k = key(combo)
            if k == self.args.skip:
                sweeper.skip(combo)
                self.journal("skip", combo=k)
                continue
            if k == self.args.block_at:
                self.journal("blocked", combo=k)
                time.sleep(3600)
            r = Remote("echo %s {{{host}}}" % (k,), self.hosts).run()
            assert r.ok, r
            with open(os.path.join(self.result_dir, slugify(combo)), "w") as f:
                for p in r.processes:
                    f.write(p.stdout.strip() + "\\n")
            sweeper.done(combo)
            logger.info("done %s", k)
            print("processed %s" % (k,))
            self.journal("done", combo=k)
        sweeps, remaining, skipped, inprogress, done = sweeper.stats()
        self.journal("end", done=sorted(key(c) for c in done), skipped=sorted(key(c) for c in skipped),
                     remaining=len(remaining), inprogress=len(inprogress))


if __name__ == "__main__":
    SweepEngine().start()
"""


def _journal(result_dir):
    with open(os.path.join(result_dir, "journal")) as f:
        return [json.loads(line) for line in f]


def test_engine_sweeps_skips_and_resumes_after_a_kill(tmp_path, sister_site, sshd):
    script = tmp_path / "sweep_engine.py"
    script.write_text(PRELUDE + ENGINE)
    hosts = sshd.addresses[:2]
    common = [
        sys.executable,
        str(script),
        "-L",
        "--hosts",
        ",".join(hosts),
        "--user",
        sshd.user,
        "--keyfile",
        sshd.keyfile,
        "--port",
        str(sshd.port),
    ]
    ssh_env = _env(sister_site)
    # the fixture's hermetic ssh options, through the user's configuration
    home = tmp_path / "home"
    home.mkdir()
    (home / ".execo.conf.py").write_text("default_connection_params = {'ssh_options': %r}\n" % (sshd.ssh_options,))
    ssh_env["HOME"] = str(home)

    # first run: skip 2-a, get killed while 2-b is in progress
    with open(tmp_path / "run1.out", "w") as out:
        first = subprocess.Popen(
            common + ["--skip", "2-a", "--block-at", "2-b", "--db-password=hunter2"],
            cwd=str(tmp_path),
            env=ssh_env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:

        def blocked():
            dirs = [d for d in os.listdir(tmp_path) if d.startswith("SweepEngine_")]
            if len(dirs) != 1 or not os.path.exists(tmp_path / dirs[0] / "journal"):
                return False
            return any(e["event"] == "blocked" for e in _journal(tmp_path / dirs[0]))

        assert wait_until(lambda: blocked() or first.poll() is not None, timeout=180), (
            tmp_path / "run1.out"
        ).read_text()
        assert first.poll() is None, (tmp_path / "run1.out").read_text()
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    result_dir = str(tmp_path / [d for d in os.listdir(tmp_path) if d.startswith("SweepEngine_")][0])
    events = _journal(result_dir)
    assert [(e["event"], e.get("combo")) for e in events] == [
        ("start", None),
        ("done", "1-a"),
        ("done", "1-b"),
        ("skip", "2-a"),
        ("blocked", "2-b"),
    ]
    assert events[0]["total"] == 6 and events[0]["done"] == [] and events[0]["inprogress"] == []

    # restart in the same directory: done stays done, in progress and skipped are retried
    r = subprocess.run(
        common + ["-c", result_dir], cwd=str(tmp_path), env=ssh_env, capture_output=True, text=True, timeout=300
    )
    assert r.returncode == 0, r.stdout + r.stderr
    events = _journal(result_dir)[5:]
    assert events[0]["event"] == "start"
    assert events[0]["done"] == ["1-a", "1-b"]  # persisted by the killed run
    assert events[0]["inprogress"] == ["2-b"]
    assert [(e["event"], e.get("combo")) for e in events[1:-1]] == [
        ("done", "2-a"),
        ("done", "2-b"),
        ("done", "3-a"),
        ("done", "3-b"),
    ]
    end = events[-1]
    assert end["event"] == "end"
    assert end["done"] == ["1-a", "1-b", "2-a", "2-b", "3-a", "3-b"]
    assert end["skipped"] == [] and end["remaining"] == 0 and end["inprogress"] == 0
    assert len({e["pid"] for e in _journal(result_dir)}) == 2

    # each combination ran remotely on each loopback host
    for k in ("1-a", "1-b", "2-a", "2-b", "3-a", "3-b"):
        n, word = k.split("-")
        with open(os.path.join(result_dir, "n-%s-word-%s" % (n, word))) as f:
            assert f.read().split("\n")[:-1] == ["%s %s" % (k, h) for h in hosts]

    # the engine's log files (-L): execo_engine's logs, through execo's
    # handler and formatter, secrets masked; print()s in stdout
    with open(os.path.join(result_dir, "stderr")) as f:
        log = f.read()
    assert log.count("INFO: run in directory %s" % (result_dir,)) == 2
    assert "INFO: done 1-a" in log and "INFO: done 3-b" in log
    assert "--db-password=***" in log and "hunter2" not in log
    with open(os.path.join(result_dir, "stdout")) as f:
        printed = f.read().split("\n")
    assert [line for line in printed if line.startswith("processed")] == [
        "processed %s" % k for k in ("1-a", "1-b", "2-a", "2-b", "3-a", "3-b")
    ]


G5K = """
import calendar, json
from execo import Host, ProcessOutputHandler
import execo_g5k
from execo_g5k import (OarSubmission, oarsub, oardel, Deployment, Kadeployer, deploy,
                       get_host_cluster, get_host_site, canonical_host_name, get_host_shortname,
                       get_host_longname, get_host_interface, group_hosts, get_kavlan_host_name)
from execo_g5k.config import g5k_configuration
from execo_g5k.utils import hosts_list, get_ipv4_range, get_frontend_host
from execo_g5k.oar import (get_oarsub_commandline, format_oar_date, format_oar_duration,
                           oar_date_to_unixts, oar_duration_to_seconds)

# host, cluster and site name helpers (no API needed for fully qualified names)
assert get_host_cluster("paravance-12.rennes.grid5000.fr") == "paravance"
assert get_host_cluster(Host("graphene-3-eth1.nancy.grid5000.fr")) == "graphene"
assert get_host_site("paravance-12-eth1-kavlan-4.rennes.grid5000.fr") == "rennes"
assert canonical_host_name("paravance-12-eth1-kavlan-4-ipv6.rennes.grid5000.fr") == "paravance-12.rennes.grid5000.fr"
h = canonical_host_name(Host("graphene-3-kavlan-4.nancy.grid5000.fr", user="root", port=2222))
assert isinstance(h, Host) and (h.address, h.user, h.port) == ("graphene-3.nancy.grid5000.fr", "root", 2222)
assert get_host_shortname("paravance-12-eth1.rennes.grid5000.fr") == "paravance-12"
assert get_host_longname("paravance-12.rennes") == "paravance-12.rennes.grid5000.fr"
assert get_host_interface("paravance-12-eth1.rennes.grid5000.fr") == "eth1"
assert get_host_interface("paravance-12.rennes.grid5000.fr") == "eth0"
assert get_kavlan_host_name(Host("paravance-12.rennes.grid5000.fr"), 5) == "paravance-12-kavlan-5.rennes.grid5000.fr"
assert group_hosts(["a-1.x.grid5000.fr", "b-2.y.grid5000.fr", "a-3.x.grid5000.fr"]) == {
    "x": {"a": ["a-1.x.grid5000.fr", "a-3.x.grid5000.fr"]}, "y": {"b": ["b-2.y.grid5000.fr"]}}
assert hosts_list(["b-1.x.grid5000.fr", "a-2.y.grid5000.fr"]) == "a-2 b-1"
assert hosts_list(["b-1.x.grid5000.fr"], separator=",", site=True) == "b-1.x"
assert get_ipv4_range((10, 0, 0, 0), 30) == [(10, 0, 0, 0), (10, 0, 0, 1), (10, 0, 0, 2), (10, 0, 0, 3)]

# oar dates and durations, through execo.time_utils
assert format_oar_duration(3661) == "1:1:1" and format_oar_duration("0:00:59") == "0:0:59"
assert oar_duration_to_seconds("1:01:01") == 3661
paris_noon = calendar.timegm((2024, 7, 1, 10, 0, 0))
assert format_oar_date(paris_noon) == "2024-07-01 12:00:00"
assert oar_date_to_unixts("2024-07-01 12:00:00") == paris_noon
spec = OarSubmission(resources="{cluster='paravance'}/nodes=2", walltime=3661, name="exp",
                     reservation_date=paris_noon, queue="default")
assert get_oarsub_commandline(spec) == (
    "oarsub -l \\"{cluster='paravance'}/nodes=2,walltime=1:1:1\\" -t \\"origin=execo\\" -q \\"default\\""
    " -r \\"2024-07-01 12:00:00\\" -n \\"exp\\" \\"sleep 31536000\\"")
assert repr(OarSubmission(walltime=3661, name="exp")) == "OarSubmission(walltime='1h1m1s', name='exp')"

# oarsub / oardel on the local frontend, through stubs in PATH
g5k_configuration["default_frontend"] = "here"
g5k_configuration["no_ssh_for_local_frontend"] = True
assert get_frontend_host(None) is None
jobs = oarsub([(OarSubmission(resources="nodes=2", walltime="1:00:00", name="exp"), None)])
assert jobs == [(4242, None)], jobs
oardel([(4242, None)])

# kadeploy3 on two frontends, reached with ssh on loopback hosts
sshd = json.loads(os.environ["SSHD"])
g5k_configuration["kadeploy3"] = os.environ["KADEPLOY3"]
frontends = {"rennes": sshd["addresses"][0], "nancy": sshd["addresses"][1]}
frontend_params = dict(sshd["connection_params"], host_rewrite_func=lambda site: frontends[site])
hosts = ["paravance-1.rennes.grid5000.fr", "paravance-9.rennes.grid5000.fr", "graphene-2.nancy.grid5000.fr"]
k = Kadeployer(Deployment(hosts=hosts, env_name="debian11-min", user="me"),
               frontend_connection_params=frontend_params)
assert k.name == "Kadeployer on 3 hosts / 2 frontends", k.name
k.run()
assert k.ended and k.ok, str(k)
assert "total/deployed/undeployed = 3/2/1" in str(k)
assert sorted(k.deployed_hosts) == ["graphene-2.nancy.grid5000.fr", "paravance-1.rennes.grid5000.fr"]
assert sorted(k.undeployed_hosts) == ["paravance-9.rennes.grid5000.fr"]
args = {p.frontend: sorted(p.stdout.split("ARGS: ")[1].split("\\n")[0].split()) for p in k.processes}
assert args == {
    "rennes": sorted("-k -d -e debian11-min -u me -m paravance-1.rennes.grid5000.fr"
                     " -m paravance-9.rennes.grid5000.fr".split()),
    "nancy": sorted("-k -d -e debian11-min -u me -m graphene-2.nancy.grid5000.fr".split())}, args
assert {p.host.address for p in k.processes} == {"rennes", "nancy"}
assert repr(k).count("frontend_connection_params=") == 1, repr(k)

class Collect(ProcessOutputHandler):
    def __init__(self):
        super(Collect, self).__init__()
        self.text = []
    def read(self, process, stream, string, eof, error):
        self.text.append(string)

collect = Collect()
deployed, undeployed = deploy(Deployment(hosts=hosts, env_name="debian11-min"), check_deployed_command=False,
                              num_tries=2, frontend_connection_params=frontend_params,
                              stdout_handlers=[collect])
assert sorted(deployed) == ["graphene-2.nancy.grid5000.fr", "paravance-1.rennes.grid5000.fr"]
assert sorted(undeployed) == ["paravance-9.rennes.grid5000.fr"]
# both tries through the frontends, their lines prefixed with the frontend
assert sum(t.startswith("rennes: ARGS: ") for t in collect.text) == 2, collect.text
assert sum(t.startswith("nancy: ARGS: ") for t in collect.text) == 1, collect.text
print("G5K OK")
"""

KADEPLOY3 = """#!/bin/sh
# kadeploy3 stand-in: deploys every -m host but those named *-9.*
# Its report goes out in one write, as one chunk: execo_g5k's Kadeployer
# shares one section-tracking stdout handler between its frontends'
# processes, so a report split in two reads with the other frontend's in
# between is misparsed (a race of execo_g5k, the same under 2.8.2, whose
# handlers also see output chunk by chunk as it is read).
ok=""
ko=""
args="$*"
while [ $# -gt 0 ]; do
    if [ "$1" = "-m" ]; then
        shift
        case "$1" in
            *-9.*) ko="$ko $1" ;;
            *) ok="$ok $1" ;;
        esac
    fi
    shift
done
report="ARGS: $args
The deployment is successful on nodes"
for h in $ok; do report="$report
$h"; done
report="$report
The deployment failed on nodes"
for h in $ko; do report="$report
$h (not reachable)"; done
printf '%s\\n' "$report"
"""

OAR_STUB = """#!%s
import json, os, sys
with open(%r, "a") as f:
    f.write(json.dumps([os.path.basename(sys.argv[0])] + sys.argv[1:]) + "\\n")
if os.path.basename(sys.argv[0]) == "oarsub":
    print("[ADMISSION RULE] Modify resource description with type constraints")
    print("OAR_JOB_ID=4242")
"""


def test_g5k_helpers_oar_and_kadeploy_commands(tmp_path, sister_site, sshd):
    stubs = tmp_path / "bin"
    stubs.mkdir()
    calls = tmp_path / "oar_calls"
    for name in ("oarsub", "oardel"):
        (stubs / name).write_text(OAR_STUB % (sys.executable, str(calls)))
        (stubs / name).chmod(0o755)
    # the frontends' login user runs kadeploy3: a directory it can read
    shared = tempfile.mkdtemp(prefix="execo-kadeploy3-")
    try:
        os.chmod(shared, 0o755)
        kadeploy3 = os.path.join(shared, "kadeploy3")
        with open(kadeploy3, "w") as f:
            f.write(KADEPLOY3)
        os.chmod(kadeploy3, 0o755)
        home = tmp_path / "home"
        home.mkdir()
        sshd_info = {"addresses": sshd.addresses[:2], "connection_params": sshd.connection_params}
        env = dict(
            PATH=str(stubs) + os.pathsep + os.environ.get("PATH", ""),
            HOME=str(home),
            SSHD=json.dumps(sshd_info),
            KADEPLOY3=kadeploy3,
            TZ="UTC",
        )
        r = _run_script(tmp_path, sister_site, G5K, **env)
    finally:
        shutil.rmtree(shared, ignore_errors=True)
    assert r.stdout.strip().endswith("G5K OK"), r.stdout + r.stderr
    with open(calls) as f:
        assert [json.loads(line) for line in f] == [
            ["oarsub", "-l", "nodes=2,walltime=1:0:0", "-t", "origin=execo", "-n", "exp", "sleep 31536000"],
            ["oardel", "4242"],
        ]
    # the partial deployment is reported by execo_g5k's Kadeployer, in execo's log
    assert "deploy on rennes, total/deployed/undeployed = 2/1/1" in r.stderr
