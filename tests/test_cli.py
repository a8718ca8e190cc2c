"""The ``execo`` command (execo/cli.py), run as a real subprocess
(``python -m execo``), locally and against the loopback sshd hosts."""

import io
import json
import os
import shutil
import subprocess
import sys
import tempfile

import pytest
from helpers import ROOT, execo_command

from execo import Local, ParallelActions
from execo.cli import UsageError, expand_hosts, fold
from execo.progress import ProgressDisplay


def execo(*args, timeout=120):
    return execo_command(args, timeout=timeout)


def ssh_args(sshd):
    return [
        "-l",
        sshd.user,
        "-p",
        str(sshd.port),
        "-i",
        sshd.keyfile,
        "-o",
        "IdentitiesOnly=yes",
        "-o",
        "LogLevel=ERROR",
        "-o",
        "GlobalKnownHostsFile=/dev/null",
    ]


# ------------------------------------------------------------ local


def test_local_command_output_summary_and_report():
    r = execo("echo hello; echo oops >&2")
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "---------------- local (1 host)\nhello\n--- stderr\noops\n" in out
    assert "================ run: 1 host\nexit 0: local\n" in out
    assert "Total" in out and "finok" in out  # execo's Report
    assert r.stderr == ""


def test_local_failure_exit_status_and_no_report():
    r = execo("--no-report", "run", "exit 3")
    assert r.returncode == 1
    assert r.stdout == "================ run: 1 host\nexit 3: local\n"


def test_usage_errors_exit_2():
    for args in (
        [],
        ["-H"],
        ["-H", "h1", "put", "only-one"],
        ["put", "f", "/tmp"],
        ["-t", "soon", "true"],
        ["-H", "node[1-", "true"],
        ["-h", "/nonexistent/hosts", "true"],
    ):
        r = execo(*args)
        assert r.returncode == 2, (args, r.stdout, r.stderr)
        assert r.stderr.startswith("execo: ") or "usage" in r.stderr, (args, r.stderr)


def test_help():
    r = execo("--help")
    assert r.returncode == 0
    for option in ("-H", "--hosts-file", "-l", "-p", "-i", "-t", "--taktuk", "--json"):
        assert option in r.stdout


def test_json_local():
    r = execo("--json", "printf 'a\\nb\\n'")
    doc = json.loads(r.stdout)
    assert r.returncode == 0 and doc["ok"] is True and doc["mode"] == "run"
    assert doc["hosts"] == [
        {
            "host": "local",
            "status": "exit 0",
            "ok": True,
            "exit_code": 0,
            "error": False,
            "error_reason": None,
            "timeouted": False,
            "killed": False,
            "stdout": "a\nb\n",
            "stderr": "",
        }
    ]
    assert doc["by_status"] == {"exit 0": "local"}
    assert doc["stats"]["num_processes"] == 1 and doc["stats"]["num_ok"] == 1


def test_local_timeout():
    r = execo("--no-report", "-t", "0.5", "sleep 30")
    assert r.returncode == 1
    assert "timeout: local" in r.stdout


def test_host_ranges_and_folding():
    assert expand_hosts(["node[1-3]", "a,b", "node2"]) == ["node1", "node2", "node3", "a", "b"]
    assert expand_hosts(["127.0.0.[1-3,7]"]) == ["127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.7"]
    assert fold(["node1", "node2", "node3", "node7"]) == "node[1-3,7]"
    with pytest.raises(UsageError):
        expand_hosts(["node[3-"])


# ------------------------------------------------------------ progress


def test_progress_display_counts_and_draws():
    out = io.StringIO()
    a = ParallelActions(
        [Local("true") for _ in range(45)] + [Local("false", process_args={"nolog_exit_code": True}) for _ in range(5)]
    )
    display = ProgressDisplay(a, file=out, enabled=True, description="demo")
    a.lifecycle_handlers.append(display)
    a.run(60)
    c = display.counts
    assert (c.total, c.started, c.ended, c.failed) == (50, 50, 50, 5)
    text = out.getvalue()
    assert "demo" in text and "50/50" in text and "failed 5" in text


def test_progress_off_when_not_a_terminal():
    out = io.StringIO()  # not a tty
    a = Local("true")
    display = ProgressDisplay(a, file=out)
    a.lifecycle_handlers.append(display)
    a.run(30)
    assert not display.enabled and out.getvalue() == "" and display.counts.ended == 1
    r = execo("--progress", "--no-report", "true")  # stderr is a pipe: nothing drawn
    assert r.returncode == 0 and r.stderr == ""


# ------------------------------------------------------------ remote

WHICH = "a=$(echo $SSH_CONNECTION | cut -d' ' -f3); "


def test_ssh_32_hosts_folded(sshd):
    hosts = "127.0.0.[1-32]"
    cmd = WHICH + 'case $a in 127.0.0.1) echo first;; *) echo same;; esac; case $a in 127.0.0.[5-8]) exit 3;; esac'
    r = execo("-H", hosts, *ssh_args(sshd), cmd)
    assert r.returncode == 1, r.stdout + r.stderr
    out = r.stdout
    assert "---------------- 127.0.0.1 (1 host)\nfirst\n" in out
    assert "---------------- 127.0.0.[2-32] (31 hosts)\nsame\n" in out
    assert "================ run: 32 hosts\n" in out
    assert "exit 0: 127.0.0.[1-4,9-32]\n" in out
    assert "exit 3: 127.0.0.[5-8]\n" in out


def test_ssh_json_and_hosts_file(sshd, tmp_path):
    hosts_file = tmp_path / "hosts"
    hosts_file.write_text("# test hosts\n127.0.0.[1-3]\n\n127.0.0.9  # and one more\n")
    r = execo("-h", str(hosts_file), "--json", *ssh_args(sshd), WHICH + "echo $a")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert [h["host"] for h in doc["hosts"]] == ["127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.9"]
    assert all(h["ok"] and h["stdout"].strip() == h["host"] for h in doc["hosts"])
    assert doc["by_status"] == {"exit 0": "127.0.0.[1-3,9]"}


def test_unreachable_host_fails_alone(sshd):
    # nothing listens on port 2222 of 127.0.0.200
    r = execo("--no-report", "-H", "127.0.0.1,127.0.0.200", *ssh_args(sshd), "echo up")
    assert r.returncode == 1
    assert "exit 0: 127.0.0.1\n" in r.stdout and "exit 255: 127.0.0.200\n" in r.stdout


def test_taktuk_8_hosts(sshd):
    r = execo("--taktuk", "--no-report", "-H", "127.0.0.[1-8]", *ssh_args(sshd), "echo via taktuk")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "---------------- 127.0.0.[1-8] (8 hosts)\nvia taktuk\n" in r.stdout
    assert "exit 0: 127.0.0.[1-8]\n" in r.stdout


@pytest.mark.parametrize("taktuk", [False, True], ids=["ssh", "taktuk"])
def test_put_and_get(sshd, tmp_path, taktuk):
    remote_dir = tempfile.mkdtemp(prefix="execo-cli-")
    os.chmod(remote_dir, 0o777)
    try:
        src = tmp_path / "payload.txt"
        src.write_text("payload\n")
        os.chmod(str(tmp_path), 0o755)
        os.chmod(str(src), 0o644)
        extra = ["--taktuk"] if taktuk else []
        r = execo(*extra, "--no-report", "-H", "127.0.0.[1-4]", *ssh_args(sshd), "put", str(src), remote_dir)
        assert r.returncode == 0, r.stdout + r.stderr
        assert "exit 0: 127.0.0.[1-4]" in r.stdout
        assert open(os.path.join(remote_dir, "payload.txt")).read() == "payload\n"
        local_dir = tmp_path / "back"
        local_dir.mkdir()
        r = execo(
            *extra,
            "--no-report",
            "-H",
            "127.0.0.1",
            *ssh_args(sshd),
            "get",
            os.path.join(remote_dir, "payload.txt"),
            str(local_dir),
        )
        assert r.returncode == 0, r.stdout + r.stderr
        assert (local_dir / "payload.txt").read_text() == "payload\n"
    finally:
        shutil.rmtree(remote_dir, ignore_errors=True)


def test_ssh_options_come_before_the_defaults():
    # ssh keeps the first value of an option: -o must come first to override
    from execo.cli import connection_params, parse
    from execo.config import default_connection_params

    ns, mode, words = parse(["-o", "BatchMode=no", "-l", "u", "-p", "2200", "-i", "k", "-H", "h1", "uptime"])
    params = connection_params(ns)
    assert mode == "run" and words == ["uptime"]
    assert params["user"] == "u" and params["port"] == 2200 and params["keyfile"] == "k"
    assert params["ssh_options"] == ("-o", "BatchMode=no") + tuple(default_connection_params["ssh_options"])
    assert params["scp_options"][:2] == ("-o", "BatchMode=no")


def test_fast_handshake_option():
    from execo.cli import connection_params, parse

    ns, mode, words = parse(["--fast-handshake", "-H", "h1", "uptime"])
    assert connection_params(ns) == {"ssh_fast_handshake": True}
    ns, mode, words = parse(["-H", "h1", "uptime"])
    assert "ssh_fast_handshake" not in connection_params(ns)


def test_operands_after_the_subcommand_are_never_options():
    """What follows run/put/get is operands, whatever it looks like: a
    file named ``-oProxyCommand=...`` first in a glob, ``-l``, ``--``,
    ``-H`` stay words and change no option."""
    from execo.cli import connection_params, parse

    hostile = ["-oProxyCommand=touch x", "-l", "root", "--", "-H", "evil", "-p", "1", "--json"]
    for mode in ("run", "put", "get"):
        ns, got_mode, words = parse(["-H", "h1", mode] + hostile + ["dest"])
        assert (got_mode, words) == (mode, hostile + ["dest"]), mode
        assert ns.hosts == ["h1"] and not ns.json, mode
        params = connection_params(ns)
        assert "user" not in params and "port" not in params, (mode, params)
        assert not any("ProxyCommand" in o for o in params.get("ssh_options", ())), mode


# ------------------------------------------------------------ names are data (issue 14)


def test_braces_not_evaluated_without_eval(tmp_path):
    marker = tmp_path / "EVALUATED"
    r = execo("--no-report", "echo '{{.State.Running}}' '{{open(%r, \"w\") and \"x\"}}'" % (str(marker),))
    assert r.returncode == 0, r.stderr
    assert "{{.State.Running}} {{open(" in r.stdout
    assert not marker.exists()
    assert "Traceback" not in r.stderr


def test_eval_option_evaluates_expressions_in_the_command(sshd):
    # without --eval, {{...}} is data; {{{host}}} is replaced
    r2 = execo("--no-report", "-H", "127.0.0.1,127.0.0.2", *ssh_args(sshd), "echo {{{host}}} {{['a', 'b']}} '{{.x}}'")
    assert r2.returncode == 0, r2.stderr
    # (the remote shell removed the quotes around a and b)
    assert "127.0.0.1 {{[a, b]}} {{.x}}" in r2.stdout
    assert "127.0.0.2 {{[a, b]}} {{.x}}" in r2.stdout
    r3 = execo("--no-report", "--eval", "-H", "127.0.0.1,127.0.0.2", *ssh_args(sshd), "echo {{{host}}} {{['a', 'b']}}")
    assert r3.returncode == 0, r3.stderr
    assert "127.0.0.1 a" in r3.stdout and "127.0.0.2 b" in r3.stdout
    assert "Traceback" not in r2.stderr + r3.stderr


def test_eval_of_a_bad_expression_is_a_usage_error():
    r = execo("--eval", "-H", "127.0.0.1", "echo '{{.State.Running}}'")
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert r.stderr.startswith("execo: ") and "Traceback" not in r.stderr


def test_put_file_operands_never_evaluated(sshd, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    marker = src / "EVALUATED"  # relative to the cwd of the command
    hostile = "{{open('EVALUATED','w') and 'ok.txt'}}"
    (src / hostile).write_text("data\n")
    (src / "plain.txt").write_text("plain\n")
    (src / "{{{host}}}").write_text("a name, not a tag\n")
    dest = tempfile.mkdtemp(prefix="execo-cli-put-")
    os.chmod(dest, 0o777)
    try:
        env = dict(os.environ, PYTHONPATH=ROOT)
        r = subprocess.run(
            "%s -m execo --no-report -H 127.0.0.1 %s put * %s" % (sys.executable, " ".join(ssh_args(sshd)), dest),
            shell=True,
            cwd=str(src),
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            universal_newlines=True,
            timeout=120,
        )
        assert r.returncode == 0, (r.stdout, r.stderr)
        assert not marker.exists()
        assert sorted(os.listdir(dest)) == sorted([hostile, "plain.txt", "{{{host}}}"])
        with open(os.path.join(dest, "{{{host}}}")) as f:
            assert f.read() == "a name, not a tag\n"
    finally:
        shutil.rmtree(dest, ignore_errors=True)


def test_hostile_hosts_are_usage_errors(tmp_path):
    marker = tmp_path / "PWNED"
    hosts_file = tmp_path / "hosts"
    hosts_file.write_text("node1\n-oProxyCommand=touch %s\n" % (marker,))
    for args in (
        ["-h", str(hosts_file), "true"],
        ["--hosts=-oProxyCommand=touch %s" % (marker,), "true"],
        ["-H", "a;touch %s" % (marker,), "true"],
        ["-H", "node1", "-l", "x$(touch %s)" % (marker,), "true"],
        ["-H", "node1", "--taktuk", "--user=-oProxyCommand=x", "true"],
    ):
        r = execo(*args)
        assert r.returncode == 2, (args, r.stdout, r.stderr)
        assert r.stderr.startswith("execo: ") and "Traceback" not in r.stderr, r.stderr
    assert not marker.exists()


def test_bad_timeouts_are_usage_errors():
    for value in ("-1", "0", "-5s", "nan", "inf"):
        r = execo("-t", value, "true")
        assert r.returncode == 2, (value, r.stdout, r.stderr)
        assert "Traceback" not in r.stderr


def test_json_is_valid_unicode_with_exact_bytes_for_non_utf8():
    import base64

    r = subprocess.run(
        [sys.executable, "-m", "execo", "--json", r"printf 'a\377b\n'; printf '\200' >&2"],
        cwd=ROOT,
        env=dict(os.environ, PYTHONPATH=ROOT),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    text = r.stdout.decode("utf-8")  # strict: no lone surrogates were written
    assert "\\udc" not in text
    doc = json.loads(text)
    host = doc["hosts"][0]
    assert host["stdout"] == "a\ufffdb\n"
    assert base64.b64decode(host["stdout_base64"]) == b"a\xffb\n"
    assert base64.b64decode(host["stderr_base64"]) == b"\x80"
    r = execo("--json", "echo plain")
    doc = json.loads(r.stdout)
    assert doc["hosts"][0]["stdout"] == "plain\n" and "stdout_base64" not in doc["hosts"][0]


# ------------------------------------------------------------ fan-out (issue 15)


def test_fanout_option_builds_a_window():
    from execo.cli import build_action, parse

    ns, mode, words = parse(["-f", "5", "-H", "h[1-20]", "uptime"])
    a = build_action(ns, mode, words, expand_hosts(ns.hosts))
    assert a.fanout == 5 and len(a.processes) == 20
    ns, mode, words = parse(["--fanout", "3", "-H", "h[1-4]", "put", "f", "/tmp"])
    assert build_action(ns, mode, words, expand_hosts(ns.hosts)).fanout == 3
    ns, mode, words = parse(["-H", "h1", "uptime"])
    assert build_action(ns, mode, words, expand_hosts(ns.hosts)).fanout is None
    for bad in (["-f", "0", "-H", "h1", "true"], ["-f", "2", "--taktuk", "-H", "h1", "true"]):
        with pytest.raises(UsageError):
            ns, mode, words = parse(bad)
            build_action(ns, mode, words, expand_hosts(ns.hosts))
    r = execo("-f", "x", "-H", "h1", "true")
    assert r.returncode == 2, r.stderr


def test_fanout_option_over_ssh(sshd):
    d = tempfile.mkdtemp(prefix="execo-fanout-")  # writable by the test user
    os.chmod(d, 0o777)
    request_cleanup = shutil.rmtree
    cmd = "touch %s/$$; n=$(ls %s | wc -l); sleep 0.3; rm -f %s/$$; echo n=$n" % (d, d, d)
    r = execo("-f", "3", "--json", "-H", "127.0.0.[1-12]", *ssh_args(sshd), cmd)
    assert r.returncode == 0, r.stdout + r.stderr
    request_cleanup(d, ignore_errors=True)
    outs = [h["stdout"] for h in json.loads(r.stdout)["hosts"]]
    counts = [int(o.strip().split("=")[-1]) for o in outs]
    assert len(counts) == 12 and max(counts) <= 3, counts
