"""Shared fixtures. Daemons are started lazily: only a test that requests
one (e.g. ``sshd``) starts it, once per session, so other test files
neither slow down nor need root because of this file. Also the fixtures
many test files share: ``saved_config`` and ``execo_log``."""

import copy
import logging
import os
import shutil
import signal
import stat
import sys
import tempfile

import pytest


def pytest_addoption(parser):
    parser.addoption(
        "--execo-backend",
        metavar="POLLER,WATCHER",
        help="run the tests on this reactor backend, chosen through execo's configuration as a user "
        "chooses it (poller: epoll or poll; child watcher: pidfd or sigchld). Default: execo's auto choice",
    )
    parser.addoption(
        "--execo-spawn",
        metavar="METHOD",
        help="spawn children through METHOD (clone3 or posix_spawn; tests/test_spawn.py runs both). "
        "Default: execo's choice (clone3 where the kernel has it)",
    )


def _choose_backend(config):
    """--execo-backend: write the choice to a ``~/.execo.conf.py`` (the
    user's own file, if any, plus the two keys) in a temporary HOME,
    import execo with that HOME (the reactor starts at import), restore
    HOME, and check the reactor runs on the backend asked for. An
    unknown or unavailable backend is a usage error, never a silent
    fallback."""
    backend = config.getoption("--execo-backend")
    if not backend:
        return
    try:
        poller, watcher = (part.strip() for part in backend.split(","))
    except ValueError:
        raise pytest.UsageError("--execo-backend wants POLLER,WATCHER, not %r" % (backend,)) from None
    if "execo" in sys.modules:
        raise pytest.UsageError("--execo-backend: execo was imported before the option was read")
    users = os.path.expanduser("~/.execo.conf.py")
    text = open(users).read() if os.path.exists(users) else ""
    home = tempfile.mkdtemp(prefix="execo-backend-")
    with open(os.path.join(home, ".execo.conf.py"), "w") as f:
        f.write(
            text
            + "\nconfiguration = dict(globals().get('configuration', {}), poller=%r, child_watcher=%r)\n"
            % (poller, watcher)
        )
    saved_home = os.environ.get("HOME")
    os.environ["HOME"] = home
    try:
        import execo  # noqa: F401  (reads the file, starts the reactor)
        from execo.conductor import get_reactor

        reactor = get_reactor()
    except Exception as e:
        raise pytest.UsageError("--execo-backend %s: %s" % (backend, e)) from None
    finally:
        if saved_home is None:
            del os.environ["HOME"]
        else:
            os.environ["HOME"] = saved_home
        shutil.rmtree(home, ignore_errors=True)
    if (reactor.poller, reactor.child_watcher) != (poller, watcher):
        raise pytest.UsageError(
            "--execo-backend %s: the reactor runs on %s,%s" % (backend, reactor.poller, reactor.child_watcher)
        )


def _choose_spawn(config):
    """--execo-spawn: how children are spawned (a build without clone3
    asked for it is a usage error, never a silent fallback)."""
    method = config.getoption("--execo-spawn")
    if not method:
        return
    from execo import _reactor

    try:
        _reactor._set_spawn_method(method)
    except (ValueError, OSError) as e:
        raise pytest.UsageError("--execo-spawn %s: %s" % (method, e)) from None


def pytest_report_header(config):
    from execo import _reactor
    from execo.conductor import get_reactor

    reactor = get_reactor()
    return "execo reactor: poller %s, child watcher %s, spawn %s" % (
        reactor.poller,
        reactor.child_watcher,
        _reactor.spawn_method(),
    )


def _sigint_as_from_a_terminal():
    """A suite started in the background (``nohup ... &``, a shell job)
    inherits SIGINT ignored, and so do the scripts the Ctrl-C tests start:
    Python then installs no KeyboardInterrupt handler in them and the
    tests wait in vain. Give SIGINT a handler here (a handled signal is
    reset to the default at exec): every script starts as from a
    terminal."""
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def pytest_configure(config):
    """--execo-backend, --execo-spawn: the reactor backend and the way
    children are made (see _choose_backend, _choose_spawn). With
    EXECO_TESTS_EXPECT_INSTALLED=DIR (tests/check_packaging.sh, testing
    the built wheel), refuse to run against any execo but the one
    installed under DIR."""
    _choose_backend(config)
    _choose_spawn(config)
    _sigint_as_from_a_terminal()
    prefix = os.environ.get("EXECO_TESTS_EXPECT_INSTALLED")
    if prefix:
        import execo

        where = os.path.realpath(execo.__file__)
        if not where.startswith(os.path.realpath(prefix) + os.sep):
            raise pytest.UsageError("execo imported from %s, not from %s" % (where, prefix))


@pytest.fixture
def saved_config():
    """Restore ``execo.config.configuration`` and
    ``default_connection_params``, in place, after the test; yields
    ``configuration``."""
    from execo.config import configuration, default_connection_params

    saved = copy.deepcopy(configuration), copy.deepcopy(default_connection_params)
    yield configuration
    for current, before in zip((configuration, default_connection_params), saved):
        current.clear()
        current.update(before)


class LogCapture(logging.Handler):
    """The records of execo's logger, at every level."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.records = []

    def emit(self, record):
        self.records.append(record)

    def messages(self):
        return [r.getMessage() for r in self.records]

    def text(self):
        """The messages, with their exceptions, one per line."""
        out = []
        for r in self.records:
            out.append(r.getMessage())
            if r.exc_info:
                out.append(repr(r.exc_info[1]))
            if r.exc_text:
                out.append(r.exc_text)
        return "\n".join(out)


@pytest.fixture
def execo_log():
    """A :class:`LogCapture` on execo's logger during the test."""
    lg = logging.getLogger("execo")
    h = LogCapture()
    lg.addHandler(h)
    yield h
    lg.removeHandler(h)


@pytest.fixture(scope="session")
def sshd():
    """Private OpenSSH daemons on 127.0.0.1..127.0.0.N (see
    tests/fixtures/sshd.py); yields a ``SshdHosts`` (hosts, keyfile,
    connection_params, port, user)."""
    from fixtures.sshd import start_sshd

    hosts = start_sshd()
    try:
        yield hosts
    finally:
        hosts.stop()


STOCK_ADDRESSES = ("127.0.0.200", "127.0.0.201", "127.0.0.202")


@pytest.fixture(scope="session")
def sshd_stock():
    """Private OpenSSH daemons that keep OpenSSH's default connection
    limits (``MaxStartups 10:30:100``, ``MaxSessions 10``), one per
    address on 127.0.0.200..202 (MaxStartups counts per daemon), on a
    port of their own: what users' hosts do. A ``SshdHosts`` like
    ``sshd``."""
    from fixtures.sshd import start_sshd

    hosts = start_sshd(addresses=STOCK_ADDRESSES, port_candidates=range(2300, 2400), stock_limits=True)
    try:
        yield hosts
    finally:
        hosts.stop()


@pytest.fixture
def stub_ssh(tmp_path):
    """connection_params running every "remote" command locally through
    the stub ssh of test_remote_scale (it skips the options and the host)."""
    from test_remote_scale import STUB_SSH

    path = tmp_path / "stub-ssh"
    path.write_text(STUB_SSH)
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return {"ssh": str(path), "pty": False}
