"""When an ssh connection refused before authentication is retried.

An sshd past its ``MaxStartups`` (OpenSSH's default ``10:30:100``: past
10 connections in their handshake it drops 30% of the new ones, all
past 100) closes new connections at once, before even its banner: ssh
exits 255 with ``kex_exchange_identification: Connection closed by
remote host`` or ``kex_exchange_identification: read: Connection reset
by peer``. Nothing ran remotely, so :class:`execo.process.SshProcess`
starts ssh again after a backoff, up to the ``ssh_connect_retries``
connection param (see :data:`execo.config.default_connection_params`).

Pure functions here (no I/O): which ssh diagnostics mean such a
refusal, and the backoff delays.
"""

from __future__ import annotations

import random
import re
from typing import Any, List, Mapping, Optional

__all__ = [
    "DEFAULT_CONNECT_RETRIES",
    "RETRY_BASE_DELAY",
    "RETRY_MAX_DELAY",
    "MAX_DIAGNOSTIC_BYTES",
    "connect_retries",
    "is_ssh_diagnostic",
    "is_preauth_refusal",
    "backoff_delay",
]

DEFAULT_CONNECT_RETRIES = 5
"""``ssh_connect_retries`` when the connection params do not set it."""

RETRY_BASE_DELAY = 1.0
"""Seconds: the first retry waits between half of this and this."""

RETRY_MAX_DELAY = 16.0
"""Seconds: the bound of one backoff (before jitter)."""

MAX_DIAGNOSTIC_BYTES = 4096
"""More stderr than this before the decision is not a refusal before
authentication (ssh says it in a line or two)."""

# ssh's own messages when the server closes or resets the connection
# during the banner exchange (kex_exchange_identification since OpenSSH
# 8.3, ssh_exchange_identification before): nothing ran remotely
_BANNER_REFUSAL = re.compile(
    r"^(?:kex|ssh)_exchange_identification: "
    r"(?:read: )?Connection (?:closed by remote host|reset by peer)$"
)
# sshpkt_fatal()'s messages, printed during the key exchange and the
# authentication (and also for a connection lost later, when writing:
# see is_preauth_refusal)
_PACKET_REFUSAL = re.compile(r"^Connection (?:closed|reset) by \S+ port \d+$")
# printed after the host key was accepted, that is after the key exchange
_KEX_DONE = re.compile(r"^Warning: Permanently added .* to the list of known hosts\.?$")
# with ssh_connection_sharing, a master past the server's MaxSessions (10
# by default) refuses the 11th session: ssh says so and connects on its
# own, which may in turn be refused
_HARMLESS = re.compile(
    r"^(?:Pseudo-terminal will not be allocated because stdin is not a terminal\.?"
    r"|mux_client_request_session: session request failed: "
    r"Session open refused by peer)$"
)


def connect_retries(params: Mapping[str, Any]) -> int:
    """The ``ssh_connect_retries`` of resolved connection params (absent
    or None: :data:`DEFAULT_CONNECT_RETRIES`); ValueError unless an int
    >= 0."""
    value: object = params.get("ssh_connect_retries")
    if value is None:
        return DEFAULT_CONNECT_RETRIES
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError("ssh_connect_retries must be an int >= 0, not %r" % (value,))
    return value


def _lines(text: str) -> List[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def is_ssh_diagnostic(line: str) -> bool:
    """Whether a (complete) stderr line may be ssh's own, printed while
    it connects: a refusal, or one of the harmless lines before it."""
    line = line.strip()
    return bool(
        not line
        or _BANNER_REFUSAL.match(line)
        or _PACKET_REFUSAL.match(line)
        or _KEX_DONE.match(line)
        or _HARMLESS.match(line)
    )


def is_preauth_refusal(exit_code: int, stdout_seen: bool, stderr: str) -> bool:
    """Whether an ssh that exited with ``exit_code``, with or without
    stdout output, and this whole ``stderr``, was refused before the
    remote command could start.

    Only exit code 255 (ssh's own failure), no stdout at all, and a
    stderr made only of ssh's connection diagnostics, among which:

    - ``kex_exchange_identification:`` (or ``ssh_exchange_identification:``)
      ``Connection closed by remote host`` / ``read: Connection reset by
      peer``: the server dropped the connection before its banner;
    - ``Connection closed by HOST port N`` / ``Connection reset by HOST
      port N``, unless ssh said the host key was accepted (``Warning:
      Permanently added``, printed after the key exchange with execo's
      default options): ssh prints these for the key exchange and the
      authentication, but also when the connection is lost while a
      command runs; with ``LogLevel=ERROR`` (or above) that warning is
      not printed and a silent command whose connection is reset is
      taken for a refusal.

    A command's own exit 255 has output, or a stderr of its own; a port
    closed (``Connection refused``), a name that does not resolve and an
    authentication failure (``Permission denied``) are not refusals.
    """
    if exit_code != 255 or stdout_seen:
        return False
    lines = _lines(stderr)
    if not lines or not all(is_ssh_diagnostic(line) for line in lines):
        return False
    if any(_BANNER_REFUSAL.match(line) for line in lines):
        return True
    kex_done = any(_KEX_DONE.match(line) for line in lines)
    return not kex_done and any(_PACKET_REFUSAL.match(line) for line in lines)


def backoff_delay(retry: int, base: Optional[float] = None, cap: Optional[float] = None) -> float:
    """Seconds before retry number ``retry`` (1 for the first): exponential
    (``base * 2**(retry-1)``, at most ``cap``; default
    :data:`RETRY_BASE_DELAY` and :data:`RETRY_MAX_DELAY`, read at each
    call) with jitter (between half of it and all of it), so that the
    processes refused together do not come back together."""
    if base is None:
        base = RETRY_BASE_DELAY
    if cap is None:
        cap = RETRY_MAX_DELAY
    delay = min(cap, base * (2 ** max(0, retry - 1)))
    return random.uniform(delay / 2, delay)
