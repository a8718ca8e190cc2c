"""Shared fixtures. Daemons are started lazily: only a test that requests
one (e.g. ``sshd``) starts it, once per session, so other test files
neither slow down nor need root because of this file. Also the fixtures
many test files share: ``saved_config`` and ``execo_log``."""

import copy
import logging
import os

import pytest


def pytest_configure(config):
    """With EXECO_TESTS_EXPECT_INSTALLED=DIR (tests/check_packaging.sh,
    testing the built wheel), refuse to run against any execo but the
    one installed under DIR."""
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
