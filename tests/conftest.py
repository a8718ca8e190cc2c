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
