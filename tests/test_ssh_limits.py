"""sshd's connection limits: connections refused before authentication
are retried (the ``ssh_connect_retries`` connection param), and nothing
else is.

The ``sshd_stock`` daemons keep OpenSSH's default ``MaxStartups
10:30:100`` / ``MaxSessions 10``, like users' hosts: 100 connections at
once to one of them are refused by the dozen without retries.
"""

import os
import shutil
import socket
import tempfile
import threading
import time

import pytest

from execo import Remote, SshProcess, ssh_retry
from execo.config import FAST_HANDSHAKE_CONNECTION_PARAMS
from execo.process import ProcessLifecycleHandler, ProcessOutputHandler
from execo.ssh_retry import backoff_delay, connect_retries, is_preauth_refusal

BANNER_CLOSED = "kex_exchange_identification: Connection closed by remote host"
BANNER_RESET = "kex_exchange_identification: read: Connection reset by peer"


def _params(sshd, **extra):
    params = dict(sshd.connection_params)
    params.update(extra)
    return params


# ------------------------------------------------------------ the rules


@pytest.mark.parametrize(
    "stderr",
    [
        BANNER_CLOSED + "\r\n",
        BANNER_RESET + "\n",
        "ssh_exchange_identification: Connection closed by remote host\n",
        "Connection reset by 10.0.0.1 port 22\r\n",
        "Connection closed by 10.0.0.1 port 22\n",
        "Pseudo-terminal will not be allocated because stdin is not a terminal.\n" + BANNER_CLOSED,
        # the 11th session of a shared master, then its own connection refused
        "mux_client_request_session: session request failed: Session open refused by peer\r\n" + BANNER_RESET + "\r\n",
    ],
)
def test_refusals(stderr):
    assert is_preauth_refusal(255, False, stderr)


@pytest.mark.parametrize(
    "exit_code, stdout_seen, stderr",
    [
        (1, False, BANNER_CLOSED),  # not ssh's exit code
        (255, True, BANNER_CLOSED),  # output came: the command ran
        (255, False, ""),  # a silent command's own exit 255
        (255, False, "ssh: connect to host 10.0.0.1 port 22: Connection refused"),
        (255, False, "execotest@10.0.0.1: Permission denied (publickey)."),
        (255, False, "ssh: Could not resolve hostname nowhere: Name or service not known"),
        (255, False, "some error of the command\n" + BANNER_CLOSED),
        # after the host key was accepted: maybe during the command
        (
            255,
            False,
            "Warning: Permanently added '10.0.0.1' (ED25519) to the list of known hosts.\r\n"
            "Connection reset by 10.0.0.1 port 22\r\n",
        ),
    ],
)
def test_not_refusals(exit_code, stdout_seen, stderr):
    assert not is_preauth_refusal(exit_code, stdout_seen, stderr)


def test_connect_retries_param():
    assert connect_retries({}) == 5
    assert connect_retries({"ssh_connect_retries": None}) == 5
    assert connect_retries({"ssh_connect_retries": 0}) == 0
    for bad in (-1, 1.5, True, "3"):
        with pytest.raises(ValueError):
            connect_retries({"ssh_connect_retries": bad})


def test_backoff_grows_bounded_with_jitter():
    delays = [backoff_delay(n, base=1.0, cap=8.0) for n in range(1, 8) for _ in range(20)]
    assert all(0.5 <= d <= 8.0 for d in delays)
    assert all(4.0 <= backoff_delay(7, base=1.0, cap=8.0) <= 8.0 for _ in range(20))
    assert len(set(backoff_delay(3, base=1.0, cap=8.0) for _ in range(20))) > 1


# ------------------------------------------------ a stock sshd's limits


def test_stock_sshd_100_processes_all_ok(sshd_stock):
    host = sshd_stock.hosts[0]
    r = Remote("echo {{range(100)}}", [host] * 100, connection_params=sshd_stock.connection_params).run()
    assert r.ok, [p.stderr for p in r.processes if not p.ok][:3]
    assert [p.stdout.strip() for p in r.processes] == [str(i) for i in range(100)]
    # the output of the refused attempts is gone
    assert not any("exchange_identification" in p.stderr for p in r.processes)
    assert r.stats()["num_ok"] == 100


def test_stock_sshd_without_retries_loses_processes(sshd_stock):
    # proves the daemon keeps the stock limits (and that retries are what
    # saves the test above)
    host = sshd_stock.hosts[0]
    r = Remote("echo {{range(100)}}", [host] * 100, connection_params=_params(sshd_stock, ssh_connect_retries=0))
    for p in r.processes:
        p.nolog_exit_code = True
    r.run()
    failed = [p for p in r.processes if not p.ok]
    assert failed
    assert all(p.exit_code == 255 and "exchange_identification" in p.stderr for p in failed)
    assert all(p.connect_retries == 0 for p in r.processes)


def test_stock_sshd_100_processes_shared_connection(sshd_stock):
    # one master carries at most MaxSessions (10) sessions: the 11th is
    # refused by the master, ssh then connects on its own, and that
    # connection may be refused by MaxStartups: retried like any other
    host = sshd_stock.hosts[1]
    params = _params(sshd_stock, ssh_connection_sharing=True)
    r = Remote("echo {{range(100)}}; sleep 1", [host] * 100, connection_params=params).run()
    assert r.ok, [p.stderr for p in r.processes if not p.ok][:3]
    assert [p.stdout.strip() for p in r.processes] == [str(i) for i in range(100)]


@pytest.mark.reliability
def test_three_stock_sshd_100_processes_each(sshd_stock):
    hosts = sshd_stock.hosts[:3]
    assert len(set(h.address for h in hosts)) == 3
    # 300 handshakes at once on a small shared machine outlast the
    # default 5 retries now and then (the refused come back while the
    # accepted still hold MaxStartups): more retries, like a user who
    # expects such storms would set
    r = Remote(
        "echo {{{host}}} {{range(300)}}", hosts * 100, connection_params=_params(sshd_stock, ssh_connect_retries=10)
    ).run()
    assert r.ok, [p.stderr for p in r.processes if not p.ok][:3]
    assert [p.stdout.strip() for p in r.processes] == ["%s %d" % (hosts[i % 3].address, i) for i in range(300)]


# ------------------------------------------------ what is never retried


def test_command_exit_255_not_retried(sshd):
    workdir = tempfile.mkdtemp(prefix="execo-retry-")
    try:
        os.chmod(workdir, 0o777)
        counter = os.path.join(workdir, "runs")
        p = SshProcess(
            "echo run >> %s; exit 255" % (counter,),
            sshd.hosts[0],
            connection_params=sshd.connection_params,
            nolog_exit_code=True,
        ).run()
        assert p.exit_code == 255
        assert p.connect_retries == 0
        with open(counter) as f:
            assert f.read() == "run\n"
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _closed_port(address):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind((address, 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_closed_port_fails_once(sshd):
    port = _closed_port("127.0.0.1")
    params = _params(sshd, port=port)
    r = Remote("true", ["127.0.0.1"] * 5, connection_params=params)
    for p in r.processes:
        p.nolog_exit_code = True
    r.run()
    for p in r.processes:
        assert p.exit_code == 255
        assert "Connection refused" in p.stderr
        assert p.connect_retries == 0


class _Refuser(object):
    """A listening socket that closes every connection at once, like an
    sshd past MaxStartups; counts the connections."""

    def __init__(self, address="127.0.0.1"):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind((address, 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            conn.close()

    def close(self):
        self.sock.close()


@pytest.fixture
def refuser():
    r = _Refuser()
    try:
        yield r
    finally:
        r.close()


class _Counter(ProcessLifecycleHandler):
    def __init__(self):
        self.starts = self.ends = 0

    def start(self, process):
        self.starts += 1

    def end(self, process):
        self.ends += 1


class _Lines(ProcessOutputHandler):
    def __init__(self):
        super(_Lines, self).__init__()
        self.lines = []

    def read_line(self, process, stream, line, eof, error):
        if line:
            self.lines.append(line)


def test_refusing_host_fails_after_the_retries(sshd, refuser, monkeypatch, tmp_path):
    monkeypatch.setattr(ssh_retry, "RETRY_BASE_DELAY", 0.05)
    counter = _Counter()
    lines = _Lines()
    stderr_file = tmp_path / "stderr"
    p = SshProcess(
        "echo never",
        "127.0.0.1",
        connection_params=_params(sshd, port=refuser.port, ssh_connect_retries=2),
        lifecycle_handlers=[counter],
        nolog_exit_code=True,
        stderr_handlers=[lines, str(stderr_file)],
    )
    first_start = None
    p.start()
    first_start = p.start_date
    p.wait()
    assert p.exit_code == 255 and not p.ok
    assert p.connect_retries == 2
    assert refuser.connections == 3
    assert p.start_date == first_start
    # only the final attempt's output
    assert p.stderr.count("exchange_identification") == 1
    # the handlers too, a file handler included (opened once, closed once)
    assert len(lines.lines) == 1 and "exchange_identification" in lines.lines[0]
    assert stderr_file.read_bytes().decode() == p.stderr
    assert (counter.starts, counter.ends) == (1, 1)
    assert "connect_retries=2" in str(p)


def test_kill_during_backoff(sshd, refuser, monkeypatch):
    # a backoff of 30-60 s: the kill surely comes during it
    monkeypatch.setattr(ssh_retry, "RETRY_BASE_DELAY", 60.0)
    counter = _Counter()
    p = SshProcess(
        "echo never",
        "127.0.0.1",
        connection_params=_params(sshd, port=refuser.port),
        lifecycle_handlers=[counter],
        nolog_exit_code=True,
    ).start()
    while p.connect_retries == 0 and not p.ended:
        time.sleep(0.01)
    assert not p.ended
    p.kill()
    p.wait()
    assert p.ended and p.killed
    assert p.connect_retries == 1
    assert refuser.connections == 1
    assert (counter.starts, counter.ends) == (1, 1)


def test_timeout_counts_from_first_start(sshd, refuser, monkeypatch):
    monkeypatch.setattr(ssh_retry, "RETRY_BASE_DELAY", 60.0)
    p = SshProcess(
        "echo never",
        "127.0.0.1",
        connection_params=_params(sshd, port=refuser.port),
        timeout=1,
        nolog_timeout=True,
        nolog_exit_code=True,
    ).run()
    # ended by its timeout during the first backoff, not 30-60 s later
    # after another attempt
    assert p.timeouted and p.killed
    assert p.connect_retries == 1
    assert refuser.connections == 1


# ------------------------------------------------ the fast handshake option


@pytest.mark.parametrize("fast, kex", [(True, "curve25519-sha256"), (False, "sntrup761x25519-sha512")])
def test_fast_handshake_negotiates_curve25519(sshd, fast, kex):
    # ssh -v says which key exchange was negotiated with a real daemon
    params = sshd.connection_params_without_tty()
    params["ssh_options"] = tuple(params["ssh_options"]) + ("-v",)
    if fast:
        params.update(FAST_HANDSHAKE_CONNECTION_PARAMS)
    p = SshProcess("echo ok", sshd.hosts[0], connection_params=params).run()
    assert p.ok and p.stdout.strip() == "ok"
    negotiated = [line for line in p.stderr.splitlines() if "kex: algorithm:" in line]
    assert negotiated and negotiated[0].split("kex: algorithm:")[1].strip().startswith(kex)
