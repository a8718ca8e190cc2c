"""Global execo configuration.

execo reads two module level dicts, :data:`configuration` and
:data:`default_connection_params`. They can be changed at run time by
modifying them directly, or at import time by defining dicts with the
same names in the user file ``~/.execo.conf.py``: the keys found there
replace ours (see :func:`load_configuration`).

Besides the keys documented in the execo API, :data:`configuration`
holds two keys used by the reactor (the I/O and child-handling loop):

- ``poller``: which fd polling backend the reactor uses. One of
  ``'auto'`` (the best available: epoll on Linux), ``'epoll'`` or
  ``'poll'``. Must be set before the reactor starts (at execo import).
- ``child_watcher``: how the reactor learns that its children have
  exited. One of ``'auto'`` (pidfd when the kernel supports it, else
  SIGCHLD), ``'pidfd'`` or ``'sigchld'``. Must be set before the
  reactor starts.

This module also defines the remote tool constants (:data:`SSH`,
:data:`SCP`, :data:`TAKTUK`, :data:`CHAINPUT`), the custom log levels
(:data:`IODEBUG`, :data:`FDEBUG`, :data:`TRACE`, :data:`DETAIL`, also
exported by :mod:`execo.log`) and :func:`checktty`, because the default
configuration needs them and this module must import nothing from execo.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any, Dict, Iterable, Optional, Tuple, Union

SSH = 0
"""Remote tool: ssh."""
SCP = 1
"""File transfer tool: scp."""
TAKTUK = 2
"""Remote tool or file transfer tool: taktuk."""
CHAINPUT = 3
"""File transfer tool: a chain of netcat (see ``execo.action.ChainPut``)."""

IODEBUG = 3
"""Log level for very verbose I/O debugging (below ``FDEBUG``)."""
FDEBUG = 5
"""Log level for verbose internal debugging (below ``logging.DEBUG``)."""
TRACE = 12
"""Log level between ``logging.DEBUG`` and ``DETAIL``."""
DETAIL = 15
"""Log level between ``TRACE`` and ``logging.INFO``."""


def checktty(f: object) -> bool:
    """Return True if the file object ``f`` is connected to a terminal.

    Used to decide whether output should be coloured. Any object without
    a working ``isatty()`` (or ``fileno()``) is not a tty.
    """
    try:
        isatty = getattr(f, "isatty", None)
        if callable(isatty):
            return bool(isatty())
        fileno = getattr(f, "fileno", None)
        if callable(fileno):
            return os.isatty(fileno())
    except (OSError, ValueError):  # closed or detached stream
        pass
    return False


configuration: Dict[str, Any] = {
    'log_level': logging.INFO,
    'remote_tool': SSH,
    'fileput_tool': SCP,
    'fileget_tool': SCP,
    'compact_output_threshold': 4096,
    'kill_timeout': 60,
    'intr_period': 1,
    'port_range': (25500, 26700),
    'kill_childs_at_end': True,
    'color_mode': checktty(sys.stdout) and checktty(sys.stderr),
    'color_styles': {
        'log_header': ('yellow',),
        'object_repr': ('blue',),
        'emph': ('cyan',),
        'report_warn': ('magenta',),
        'report_error': ('red', 'bold'),
        'command': ('blue', 'bold'),
        'host': ('magenta', 'bold'),
        'user1': ('green', 'bold'),
        'user2': ('yellow', 'bold'),
        'user3': ('cyan', 'bold'),
        IODEBUG: ('green', 'reverse'),
        FDEBUG: ('green', 'reverse'),
        logging.DEBUG: ('green',),
        TRACE: ('green', 'bold'),
        DETAIL: ('magenta', 'bold'),
        logging.INFO: ('magenta',),
        logging.WARNING: ('cyan',),
        logging.ERROR: ('red',),
        logging.CRITICAL: ('yellow', 'on_red'),
    },
    'poller': 'auto',
    'fanout': None,
    'child_watcher': 'auto',
    'log_masks': (
        r'(?i)(\b[\w-]*(?:passw(?:or)?d|secret|token|api[-_]?key|credentials?)[\w-]*'
        r'(?<!authentication)=)(?:"[^"]*"|\'[^\']*\'|[^\s;&|\'"]+)',
    ),
    'expect_search_timeout': 10,
}
"""Global execo configuration parameters.

- ``log_level``: the log level (see module :mod:`logging`).
- ``remote_tool``: default tool for remote processes: :data:`SSH` or
  :data:`TAKTUK`.
- ``fileput_tool``: default tool to put files remotely: :data:`SCP`,
  :data:`TAKTUK` or :data:`CHAINPUT`.
- ``fileget_tool``: default tool to get remote files: :data:`SCP` or
  :data:`TAKTUK`.
- ``compact_output_threshold``: only beginning and end of stdout /
  stderr are displayed by ``execo.process.ProcessBase.dump`` when their
  size is greater than this threshold. 0 for no threshold.
- ``kill_timeout``: seconds to wait after a SIGTERM before killing a
  process with SIGKILL.
- ``intr_period``: seconds between periodic interrupt checks, so that
  ctrl-c is handled while waiting.
- ``port_range``: tuple (start port, end port) used by
  ``execo.utils.get_port``; start inclusive, end exclusive.
- ``kill_childs_at_end``: whether to send SIGTERM to all subprocesses
  started through execo when the script ends (read at import time);
  with it, a watchdog process kills them too if the script is killed
  (SIGKILL included): see :mod:`execo.watchdog`.
- ``color_mode``: whether to colorize output with ANSI escape sequences.
  Defaults to True when both stdout and stderr are terminals.
- ``color_styles``: mapping of style identifiers (names or log levels)
  to iterables of ANSI attribute names (see ``execo.log._ansi_styles``).
- ``poller``: reactor polling backend: ``'auto'``, ``'epoll'`` or
  ``'poll'``.
- ``child_watcher``: reactor child exit detection: ``'auto'``,
  ``'pidfd'`` or ``'sigchld'``.
- ``fanout`` (beyond the original execo): at most this many of
  execo's children run at once (None: no limit but the fd budget); the
  starts of the others wait, in order, until a child ends (see
  :mod:`execo.start_queue`; an action's own window is its ``fanout``
  parameter). Read at each start.
- ``log_masks`` (beyond the original execo): regular expressions whose
  matches are replaced by ``***`` in every message execo logs (failure
  logs show the full command line, which may hold secrets). When a
  pattern has a group, the text of group 1 is kept and only the rest of
  the match is masked. The default masks the value of ``NAME=value``
  where NAME contains password, passwd, secret, token, api_key, api-key
  or credential (any case): ``PGPASSWORD=hunter2 psql`` is logged as
  ``PGPASSWORD=*** psql``, ``--api-key=abc`` as ``--api-key=***``
  (a NAME ending in ``Authentication``, as ssh's
  ``PasswordAuthentication=no``, is a setting, not a secret: kept).
  Add patterns for other secrets (``()``
  disables masking); read at each log record.
- ``expect_search_timeout``: seconds one expect search of the output
  (one window, for a pattern searched with the ``regex`` module, see
  ``execo.regex_search``) may run before it is given up: the expect then
  fails as at end of file, with a warning. It bounds the searches of
  expects without a timeout (and of ``ExpectOutputHandler``, which has
  none); a shorter expect timeout bounds them too. None: no bound.
"""

default_connection_params: Dict[str, Any] = {
    'user': None,
    'keyfile': None,
    'port': None,
    'ssh': 'ssh',
    'scp': 'scp',
    'taktuk': 'taktuk',
    'ssh_options': (
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
    ),
    'scp_options': (
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
        '-rp',
    ),
    'taktuk_options': ('-s',),
    'taktuk_connector': 'ssh',
    'taktuk_connector_options': (
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
    ),
    'chainput_nc_client_timeout': 5,
    'chainput_nc_server_timeout': 30,
    'nc': '/bin/nc.traditional -v -v',
    'chainput_host_retry': 5,
    'chainput_chain_retry': 10,
    'chainput_try_delay': 1,
    'forwarding_timeout': 25,
    'pty': False,
    'host_rewrite_func': None,
}
"""Default connection parameters for ssh/scp/taktuk connections.

Connection parameters are taken first from the ``execo.host.Host``,
then from the ``connection_params`` given to the process or action,
then from this dict.

- ``user``, ``keyfile``, ``port``: the user, keyfile and port to
  connect with (None: the tool's default).
- ``ssh``, ``scp``, ``taktuk``: the commands to use.
- ``ssh_options``, ``scp_options``, ``taktuk_options``: tuples of
  options passed to these commands.
- ``taktuk_connector``: the ssh-like connector command for taktuk, and
  ``taktuk_connector_options`` its options.
- ``nc``: the netcat command to use (for ChainPut).
- ``chainput_nc_client_timeout``: timeout for the client connection to
  the next hop.
- ``chainput_nc_server_timeout``: timeout for the server to wait for the
  incoming connection from the previous hop.
- ``chainput_host_retry``: number of times each hop retries to connect
  to the next hop.
- ``chainput_chain_retry``: number of times each hop tries a new next
  hop if all tries to the current one fail. A float (between 0.0 and
  1.0) is a ratio of the total number of hosts in the chain.
- ``chainput_try_delay``: delay in seconds between connection attempts.
- ``forwarding_timeout``: max time to wait for a forwarded port.
- ``pty``: whether to allocate a pty for ssh/scp.
- ``host_rewrite_func``: None, or a function taking a host address and
  returning the address to connect to.
- ``ssh_connection_sharing`` (beyond the original execo, absent from
  this dict unless set, which means False): False, True, or a number of
  seconds: ssh and scp connections to the
  same destination share one OpenSSH master connection
  (ControlMaster/ControlPersist, sockets in a private directory), so that
  a second action on the same hosts skips the connection handshake; True
  keeps an idle master 300 s, a number that many seconds. See
  ``execo.ssh_sharing``.
- ``ssh_connect_retries`` (beyond the original execo, absent from this
  dict unless set, which means 5): how many times an ssh connection
  refused before authentication (the sshd past its ``MaxStartups``:
  ssh exits 255 with ``kex_exchange_identification: Connection closed by
  remote host`` or ``read: Connection reset by peer``) is started again,
  after a backoff (exponential from 0.5-1 s, with jitter, at most 16 s).
  0 disables it. Only such refusals, when nothing ran remotely: never a
  command's own exit 255, a closed port (``Connection refused``) or an
  authentication failure. See ``execo.process.SshProcess`` and
  ``execo.ssh_retry``.
- ``ssh_fast_handshake`` (beyond the original execo, absent from this
  dict unless set, which means False): when true, ssh, scp and taktuk's
  connector prefer the ``curve25519-sha256`` key exchange
  (:data:`FAST_HANDSHAKE_KEX_OPTIONS` after the other options: a
  ``KexAlgorithms`` of your own in ``ssh_options`` comes first and wins).
  First contact with a host then costs about 8 times less client CPU,
  without post-quantum protection: see :data:`FAST_HANDSHAKE_CONNECTION_PARAMS`.
"""

_builtin_connection_params: Dict[str, Any] = dict(default_connection_params)
# the defaults before ~/.execo.conf.py changes them (make_default_connection_params)

STRICT_SSH_CONNECTION_PARAMS = {
    'ssh_options': (
        '-tt',
        '-o',
        'BatchMode=yes',
        '-o',
        'PasswordAuthentication=no',
        '-o',
        'StrictHostKeyChecking=yes',
        '-o',
        'ConnectTimeout=20',
    ),
    'scp_options': (
        '-o',
        'BatchMode=yes',
        '-o',
        'PasswordAuthentication=no',
        '-o',
        'StrictHostKeyChecking=yes',
        '-o',
        'ConnectTimeout=20',
        '-rp',
    ),
    'taktuk_connector_options': (
        '-o',
        'BatchMode=yes',
        '-o',
        'PasswordAuthentication=no',
        '-o',
        'StrictHostKeyChecking=yes',
        '-o',
        'ConnectTimeout=20',
    ),
}
"""A stricter preset for :data:`default_connection_params`: host keys are
checked against the user's known_hosts (``StrictHostKeyChecking=yes``, the
default ``UserKnownHostsFile``) instead of being accepted blindly.

The defaults (like execo 2.x) trade that check for convenience on
freshly reinstalled testbed nodes whose host keys change at each
deployment: ``StrictHostKeyChecking=no`` with ``UserKnownHostsFile=/dev/null``
accepts any host key, so a man in the middle on the network path is not
detected. Use the preset on networks you do not control, e.g. in
``~/.execo.conf.py``::

    default_connection_params = dict(STRICT_SSH_CONNECTION_PARAMS)

(the name is defined in the file's namespace)

or per action: ``Remote(cmd, hosts, connection_params=STRICT_SSH_CONNECTION_PARAMS)``.
"""

FAST_HANDSHAKE_KEX_OPTIONS: Tuple[str, ...] = ('-o', 'KexAlgorithms=^curve25519-sha256,curve25519-sha256@libssh.org')
"""The ssh options of ``ssh_fast_handshake``: ``curve25519-sha256`` put
at the head of the client's default key exchange list (the ``^`` prefix,
OpenSSH 8.2 or later on the client), so that a server without it still
connects with the rest of the defaults."""

FAST_HANDSHAKE_CONNECTION_PARAMS: Dict[str, Any] = {'ssh_fast_handshake': True}
"""A preset preferring the fast ``curve25519-sha256`` key exchange for ssh,
scp and taktuk's connector (the ``ssh_fast_handshake`` connection param).

OpenSSH 9.x negotiates ``sntrup761x25519-sha512`` by default, a hybrid
with a post-quantum algorithm: about 95 ms of client CPU per connection
on a small machine, against 12 ms for ``curve25519-sha256``. On first
contact with hundreds of hosts that CPU is the bottleneck. The trade-off:
without the hybrid, recorded traffic could be decrypted later by whoever
gets a large enough quantum computer ("harvest now, decrypt later"); see
the security page. Per action::

    Remote(cmd, hosts, connection_params=FAST_HANDSHAKE_CONNECTION_PARAMS)

or for everything, in ``~/.execo.conf.py`` (the name is defined there)::

    default_connection_params = dict(FAST_HANDSHAKE_CONNECTION_PARAMS)

It composes with other presets:
``dict(STRICT_SSH_CONNECTION_PARAMS, **FAST_HANDSHAKE_CONNECTION_PARAMS)``.
The ``execo`` command has ``--fast-handshake``.
"""

user_configuration_file: str = os.path.expanduser("~/.execo.conf.py")
"""Path of the user configuration file read at import, if it exists."""


OPTIONAL_CONNECTION_PARAMS: Tuple[str, ...] = ('ssh_connection_sharing', 'ssh_connect_retries', 'ssh_fast_handshake')
"""Keys that ``default_connection_params`` and ``connection_params`` may
hold beyond the original ones (absent by default)."""


def _check_keys(name: str, user_dict: object, reference: Dict[str, Any], path: str) -> None:
    """Raise ValueError if ``user_dict`` is not a dict or has keys unknown to ``reference``."""
    if not isinstance(user_dict, dict):
        raise ValueError(
            "execo configuration file %s: %r must be a dict, not %s" % (path, name, type(user_dict).__name__)
        )
    optional = OPTIONAL_CONNECTION_PARAMS if name == 'default_connection_params' else ()
    for key in user_dict:
        if key not in reference and key not in optional:
            raise ValueError("execo configuration file %s: unknown key %r in %r" % (path, key, name))


_executed_files: Dict[str, Tuple[Tuple[int, int], Dict[str, Any]]] = {}
# real path -> ((mtime_ns, size), namespace) of the files load_configuration executed


def _execute_file(path: str) -> Dict[str, Any]:
    """Execute the configuration file ``path``; return its namespace."""
    with open(path, encoding="utf-8") as f:
        source = f.read()
        st = os.fstat(f.fileno())
    namespace: Dict[str, Any] = {
        '__file__': path,
        '__name__': '__execo_conf__',
        'logging': logging,
        'SSH': SSH,
        'SCP': SCP,
        'TAKTUK': TAKTUK,
        'CHAINPUT': CHAINPUT,
        'IODEBUG': IODEBUG,
        'FDEBUG': FDEBUG,
        'TRACE': TRACE,
        'DETAIL': DETAIL,
        'STRICT_SSH_CONNECTION_PARAMS': STRICT_SSH_CONNECTION_PARAMS,
        'FAST_HANDSHAKE_CONNECTION_PARAMS': FAST_HANDSHAKE_CONNECTION_PARAMS,
    }
    try:
        code = compile(source, path, "exec")
    except SyntaxError as e:
        raise ValueError("syntax error in execo configuration file %s, line %s: %s" % (path, e.lineno, e.msg)) from e
    try:
        exec(code, namespace)
    except Exception as e:
        raise ValueError(
            "error while executing execo configuration file %s: %s: %s" % (path, type(e).__name__, e)
        ) from e
    _executed_files[os.path.realpath(path)] = ((st.st_mtime_ns, st.st_size), namespace)
    return namespace


def _file_namespace(path: str) -> Dict[str, Any]:
    """The namespace of the file ``path``: that of its last execution by
    :func:`load_configuration` if it has not changed since, else a new one.
    So that ``~/.execo.conf.py`` runs once, when execo_g5k asks for its
    own dicts after execo has read its ones."""
    known = _executed_files.get(os.path.realpath(path))
    if known is not None:
        try:
            st = os.stat(path)
        except OSError:
            st = None
        if st is not None and known[0] == (st.st_mtime_ns, st.st_size):
            return known[1]
    return _execute_file(path)


def load_configuration(
    path: Union[str, os.PathLike[str]], dicts_confs: Optional[Iterable[Tuple[Dict[Any, Any], str]]] = None
) -> None:
    """Execute the python file ``path`` and apply the settings it defines.

    If the file defines a dict named ``configuration`` and/or
    ``default_connection_params``, their items replace those of the
    module dicts of the same names. The file is executed with ``logging``,
    ``SSH``, ``SCP``, ``TAKTUK``, ``CHAINPUT``, ``IODEBUG``, ``FDEBUG``,
    ``TRACE`` and ``DETAIL`` already defined.

    Raises ValueError (naming the file) for a syntax or execution error,
    or for a key unknown to execo; nothing is changed in that case.

    ``dicts_confs`` is the form of execo 2.8.2, kept for execo_g5k (a
    compatibility parameter): an iterable of ``(dict, name)`` couples; for
    each, if the file defines a dict named ``name``, its items are put in
    ``dict``. In this form a missing file is not an error (nothing is
    done), and a file that :func:`load_configuration` already executed and
    that has not changed since is not run again: its definitions are
    reused, so ``~/.execo.conf.py`` runs once however many packages read
    it. Errors are reported as above.
    """
    path = os.fspath(path)
    if dicts_confs is None:
        pairs = [(configuration, 'configuration'), (default_connection_params, 'default_connection_params')]
        namespace = _execute_file(path)
    else:
        pairs = list(dicts_confs)
        if not os.path.isfile(path):
            return
        namespace = _file_namespace(path)
    updates = []
    for reference, name in pairs:
        if name in namespace:
            if reference is configuration or reference is default_connection_params:
                _check_keys(name, namespace[name], reference, path)
            elif not isinstance(namespace[name], dict):
                raise ValueError(
                    "execo configuration file %s: %r must be a dict, not %s"
                    % (path, name, type(namespace[name]).__name__)
                )
            updates.append((reference, namespace[name]))
    for reference, user_dict in updates:
        reference.update(user_dict)


if os.path.isfile(user_configuration_file):
    load_configuration(user_configuration_file)


# ---------------------------------------------------------------- compatibility
# Names that execo 2.8.2's sister packages, execo_engine and execo_g5k,
# import from execo.config (SSH and SCP are above). Not new API.


def get_user_config_filename() -> str:
    """Compatibility name (execo_g5k): the path of the user configuration
    file, :data:`user_configuration_file` (``~/.execo.conf.py``)."""
    return user_configuration_file


def make_default_connection_params() -> Dict[str, Any]:
    """Compatibility name (execo_g5k): a new dict holding execo's built-in
    connection params (those of :data:`default_connection_params` before
    ``~/.execo.conf.py`` or the program changed them)."""
    return dict(_builtin_connection_params)


def make_connection_params(
    connection_params: Optional[Dict[str, Any]] = None, default_params: Optional[Dict[str, Any]] = None
) -> Dict[str, Any]:
    """Compatibility name (execo_g5k): a new dict of complete connection
    params: the built-in ones (:func:`make_default_connection_params`),
    updated with ``default_params`` (by default the current
    :data:`default_connection_params`), then with ``connection_params``."""
    params = make_default_connection_params()
    params.update(default_connection_params if default_params is None else default_params)
    if connection_params:
        params.update(connection_params)
    return params
