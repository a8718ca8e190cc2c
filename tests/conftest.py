"""Shared fixtures. Daemons are started lazily: only a test that requests
one (e.g. ``sshd``) starts it, once per session, so other test files
neither slow down nor need root because of this file."""

import pytest


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
    hosts = start_sshd(addresses=STOCK_ADDRESSES, port_candidates=range(2300, 2400),
                       stock_limits=True)
    try:
        yield hosts
    finally:
        hosts.stop()
