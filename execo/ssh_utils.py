"""Builders of ssh, scp and ssh port-forwarding command lines.

Pure functions: they read :data:`execo.config.default_connection_params`
but do no I/O. Connection parameters are resolved key by key:

1. for ``user``, ``keyfile`` and ``port``: the :class:`execo.host.Host`
   attribute, where False means "use the next level" and None means
   "none" (the option is not passed at all);
2. the ``connection_params`` argument (a dict which may hold only some
   keys; a value of False also falls through to the next level);
3. :data:`execo.config.default_connection_params`.

``host_rewrite_func`` (when not None) is applied to the host address.
When ``pty`` is true, ``-tt`` is given to ssh (unless it is already in
``ssh_options``, as it is by default); with a tty, ``-e none`` turns off
ssh's escape character (unless ``-e`` is in ``ssh_options``), so that
"~." written to a process's stdin is data. When ``ssh_connection_sharing`` is
true, ssh and scp (not port forwarding) share one connection per
destination (see :mod:`execo.ssh_sharing`).

What comes from data never becomes an option or a remote host: host
addresses, users and ports are checked (:mod:`execo.host`); ssh gets
``--`` before the host (OpenSSH's ssh reads options *after* the host
too: a remote command starting with ``-`` would be one); scp operands
are written by :mod:`execo.scp_paths` (local paths as ``./name``, remote
names escaped for the remote side). A NUL byte in a command or a path is
refused (ValueError): a command line argument cannot carry it.
"""

from __future__ import annotations

import os
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Tuple, Union, overload

from . import config
from .host import Host, check_address, check_port, check_user
from .scp_paths import (
    check_no_nul,
    explicit_protocol,
    needs_protocol,
    scp_local_path,
    scp_protocol,
    scp_remote_pattern,
    scp_remote_target,
)
from .ssh_sharing import sharing_options
from .utils import _split_words

__all__ = [
    "fast_handshake_options",
    "make_connection_params",
    "resolve_connection_params",
    "get_rewritten_host_address",
    "get_ssh_command",
    "get_ssh_argv",
    "get_scp_command",
    "get_scp_put_argv",
    "get_scp_get_argv",
    "get_port_forward_argv",
    "scp_host_spec",
]

_AUTH_KEYS = ("user", "keyfile", "port")


def make_connection_params(
    connection_params: Optional[Mapping[str, Any]] = None, default_params: Optional[Mapping[str, Any]] = None
) -> Dict[str, Any]:
    """Return a new dict: ``default_params`` (default:
    :data:`execo.config.default_connection_params`) updated with the
    items of ``connection_params`` whose value is not False."""
    if default_params is None:
        default_params = config.default_connection_params
    params = dict(default_params)
    if connection_params:
        for key, value in connection_params.items():
            if value is not False:
                params[key] = value
    return params


def resolve_connection_params(
    host: Union[str, Host, None] = None, connection_params: Optional[Mapping[str, Any]] = None
) -> Dict[str, Any]:
    """The connection params for connecting to ``host``: a new dict with
    every key of :func:`make_connection_params`, ``user``, ``keyfile`` and
    ``port`` taken from ``host`` first when they are not False there."""
    params = make_connection_params(connection_params)
    if host is not None and not isinstance(host, str):
        for key in _AUTH_KEYS:
            value = getattr(host, key, False)
            if value is not False:
                params[key] = value
    # the same checks as Host's, for values coming from connection_params
    # or the configuration: they reach ssh, scp and taktuk's connector line
    params["user"] = check_user(params.get("user"))
    params["port"] = check_port(params.get("port"))
    return params


def get_rewritten_host_address(address: Union[str, Host], connection_params: Optional[Mapping[str, Any]] = None) -> str:
    """``address`` passed through the ``host_rewrite_func`` of the
    (already resolved, or to be merged with the defaults)
    ``connection_params``, when there is one. ValueError when the result
    cannot be a host address (:func:`execo.host.check_address`)."""
    if isinstance(address, Host):
        address = address.address
    func: Optional[Callable[[str], str]]
    if connection_params is None or "host_rewrite_func" not in connection_params:
        func = make_connection_params(connection_params).get("host_rewrite_func")
    else:
        func = connection_params["host_rewrite_func"]
    if func:
        address = func(address)
    # a rewritten address is checked like a Host's (see execo.host.check_address)
    return check_address(address)


def _split_command(cmd: Union[str, Iterable[object]]) -> List[str]:
    """A command (str, possibly with spaces and arguments, or a sequence)
    as a list of arguments."""
    if isinstance(cmd, str):
        return list(_split_words(cmd))
    return [str(a) for a in cmd]


@overload
def _resolved(
    host: Union[str, Host], connection_params: Optional[Mapping[str, Any]]
) -> Tuple[Host, Dict[str, Any]]: ...
@overload
def _resolved(
    host: Union[str, Host, None], connection_params: Optional[Mapping[str, Any]]
) -> Tuple[Optional[Host], Dict[str, Any]]: ...
def _resolved(
    host: Union[str, Host, None], connection_params: Optional[Mapping[str, Any]]
) -> Tuple[Optional[Host], Dict[str, Any]]:
    if isinstance(host, str):
        host = Host(host)
    return host, resolve_connection_params(host, connection_params)


def fast_handshake_options(params: Mapping[str, Any]) -> Tuple[str, ...]:
    """The options of the ``ssh_fast_handshake`` connection param (see
    :data:`execo.config.FAST_HANDSHAKE_CONNECTION_PARAMS`): empty unless
    it is true."""
    return tuple(config.FAST_HANDSHAKE_KEX_OPTIONS) if params.get("ssh_fast_handshake") else ()


def get_ssh_command(
    host: Union[str, Host, None] = None, connection_params: Optional[Mapping[str, Any]] = None
) -> Tuple[str, ...]:
    """The ssh argv (a tuple) up to, but excluding, the host address: the
    ssh command, ``ssh_options``, the fast handshake options if
    ``ssh_fast_handshake``, the connection sharing options if
    ``ssh_connection_sharing``, ``-tt`` if ``pty`` (and not already
    there), then ``-l user``, ``-i keyfile``, ``-p port`` for those which
    are not None."""
    return _ssh_command(host, connection_params, True)


def _ssh_command(
    host: Union[str, Host, None], connection_params: Optional[Mapping[str, Any]], shared: bool
) -> Tuple[str, ...]:
    host, params = _resolved(host, connection_params)
    argv = _split_command(params["ssh"])
    options = list(params.get("ssh_options") or ())
    argv += options
    argv += fast_handshake_options(params)
    if shared:
        argv += sharing_options(params.get("ssh_connection_sharing"), argv[:1])
    if params.get("pty") and "-tt" not in options:
        argv.append("-tt")
    if ("-tt" in argv or "-t" in argv) and "-e" not in options:
        # with a tty ssh interprets "~." etc. at line starts of what we
        # write to its stdin: data, not commands
        argv += ["-e", "none"]
    if params.get("user") is not None:
        argv += ["-l", str(params["user"])]
    if params.get("keyfile") is not None:
        argv += ["-i", str(params["keyfile"])]
    if params.get("port") is not None:
        argv += ["-p", str(params["port"])]
    return tuple(argv)


def get_ssh_argv(
    host: Union[str, Host],
    remote_cmd: Union[str, Iterable[object]],
    connection_params: Optional[Mapping[str, Any]] = None,
) -> Tuple[str, ...]:
    """The full ssh argv (tuple) running ``remote_cmd`` on ``host``:
    :func:`get_ssh_command`, ``--``, the (rewritten) host address, then
    the remote command as one argument (a sequence is joined with
    spaces, as ssh itself would do). The remote command is run by the
    remote login shell: it is shell code, written by the programmer.
    ``--`` keeps ssh from reading a command starting with ``-`` as an
    option (``-oProxyCommand=...`` would run locally). ValueError if the
    command holds a NUL byte."""
    host, params = _resolved(host, connection_params)
    if not isinstance(remote_cmd, str):
        remote_cmd = " ".join(str(a) for a in remote_cmd)
    check_no_nul(remote_cmd, "remote command")
    return get_ssh_command(host, connection_params) + (
        "--",
        get_rewritten_host_address(host.address, params),
        remote_cmd,
    )


def get_scp_command(
    host: Union[str, Host, None] = None, connection_params: Optional[Mapping[str, Any]] = None
) -> Tuple[str, ...]:
    """The scp argv (tuple) before the file arguments: the scp command,
    ``scp_options``, the fast handshake options if ``ssh_fast_handshake``,
    the connection sharing options, then ``-i keyfile`` and ``-P port`` when not None
    (the user goes into the remote file specifications)."""
    host, params = _resolved(host, connection_params)
    argv = _split_command(params["scp"])
    argv += list(params.get("scp_options") or ())
    argv += fast_handshake_options(params)
    argv += sharing_options(params.get("ssh_connection_sharing"), _split_command(params["ssh"])[:1])
    if params.get("keyfile") is not None:
        argv += ["-i", str(params["keyfile"])]
    if params.get("port") is not None:
        argv += ["-P", str(params["port"])]
    return tuple(argv)


def scp_host_spec(host: Union[str, Host], connection_params: Optional[Mapping[str, Any]] = None) -> str:
    """``[user@]address`` for scp remote paths (an IPv6 address is put
    between brackets)."""
    host, params = _resolved(host, connection_params)
    address = get_rewritten_host_address(host.address, params)
    if ":" in address and not address.startswith("["):
        address = "[%s]" % (address,)
    if params.get("user") is not None:
        address = "%s@%s" % (params["user"], address)
    return address


def _as_list(files: Union[str, os.PathLike[str], Iterable[Union[str, os.PathLike[str]]]]) -> List[str]:
    if isinstance(files, (str, os.PathLike)):
        return [os.fspath(files)]
    return [os.fspath(f) if isinstance(f, os.PathLike) else str(f) for f in files]


def get_scp_put_argv(
    host: Union[str, Host],
    local_files: Union[str, Iterable[Union[str, os.PathLike[str]]]],
    remote_location: str = ".",
    connection_params: Optional[Mapping[str, Any]] = None,
) -> Tuple[str, ...]:
    """scp argv (tuple) copying ``local_files`` (a path or a sequence of
    paths) to ``[user@]host:remote_location``.

    Local paths are literal (no glob, no shell): a relative one is given
    as ``./path`` (:func:`execo.scp_paths.scp_local_path`), so that a
    name starting with ``-`` or holding a ``:`` is a local file, never
    an option or a remote path. ``remote_location`` is literal too,
    except a leading ``~`` or ``~user`` (the home directory): it is
    written for the scp protocol in use
    (:func:`execo.scp_paths.scp_remote_target`; when it holds characters
    which the SFTP and legacy protocols read differently and
    ``scp_options`` do not say ``-O`` or ``-s``, the local scp's default
    protocol is found once, see
    :func:`execo.scp_paths.scp_default_protocol`). ValueError for a NUL
    byte."""
    host, params = _resolved(host, connection_params)
    remote_location = check_no_nul(os.fspath(remote_location), "remote location")
    command = get_scp_command(host, connection_params)
    protocol = explicit_protocol(command)
    if protocol is None and needs_protocol(remote_location):
        protocol = scp_protocol(command, _split_command(params["scp"]))
    return (
        command
        + tuple(scp_local_path(f) for f in _as_list(local_files))
        + ("%s:%s" % (scp_host_spec(host, connection_params), scp_remote_target(remote_location, protocol)),)
    )


def get_scp_get_argv(
    host: Union[str, Host],
    remote_files: Union[str, Iterable[Union[str, os.PathLike[str]]]],
    local_location: Union[str, os.PathLike[str]] = ".",
    connection_params: Optional[Mapping[str, Any]] = None,
) -> Tuple[str, ...]:
    """scp argv (tuple) copying ``remote_files`` (a path or a sequence of
    paths) of ``host`` to ``local_location``.

    Remote names are glob patterns expanded on the host (``*``, ``?``,
    ``[...]``; a backslash makes the next character literal, see
    :func:`execo.scp_paths.glob_escape`), with a leading ``~`` or
    ``~user`` for the home directory; every other character is literal
    and never shell code, in both scp protocols
    (:func:`execo.scp_paths.scp_remote_pattern`). ``local_location`` is a
    literal local path, given as ``./path`` when relative. ValueError for
    a NUL byte, or a newline in a remote name with ``-O`` (the legacy
    protocol cannot carry it)."""
    spec = scp_host_spec(host, connection_params)
    command = get_scp_command(host, connection_params)
    protocol = explicit_protocol(command)
    return (
        command
        + tuple("%s:%s" % (spec, scp_remote_pattern(f, protocol)) for f in _as_list(remote_files))
        + (scp_local_path(os.fspath(local_location)),)
    )


def get_port_forward_argv(
    host: Union[str, Host],
    remote_host: str,
    remote_port: int,
    local_port: int,
    bind_address: Optional[str] = "127.0.0.1",
    connection_params: Optional[Mapping[str, Any]] = None,
) -> Tuple[str, ...]:
    """ssh argv (tuple) forwarding ``bind_address:local_port`` to
    ``remote_host:remote_port`` as seen from ``host``:
    ``ssh ... -L bind:local_port:remote_host:remote_port -N -- host``.

    ``remote_host`` and ``bind_address`` are checked like host addresses
    (:func:`execo.host.check_address`; ``bind_address`` may also be
    ``""`` or ``"*"``, all addresses, as for ssh), the ports must be
    integers in 1..65535: ValueError otherwise. They come from
    inventories and configuration files, and go into ssh's ``-L``
    specification."""
    host, params = _resolved(host, connection_params)
    if bind_address is None:
        bind_address = "127.0.0.1"
    if bind_address not in ("", "*"):
        check_address(bind_address)
    if isinstance(remote_host, Host):
        remote_host = remote_host.address
    check_address(remote_host)
    ports = []
    for what, port in (("local_port", local_port), ("remote_port", remote_port)):
        if port is None or port is False:
            raise ValueError("%s of a port forwarding cannot be %r" % (what, port))
        ports.append(check_port(port))
    if ":" in bind_address and not bind_address.startswith("["):
        bind_address = "[%s]" % (bind_address,)
    if ":" in remote_host and not remote_host.startswith("["):
        remote_host = "[%s]" % (remote_host,)
    spec = "%s:%d:%s:%d" % (bind_address, ports[0], remote_host, ports[1])
    # never through a shared master: the forwarding would outlive us
    return _ssh_command(host, connection_params, False) + (
        "-L",
        spec,
        "-N",
        "--",
        get_rewritten_host_address(host.address, params),
    )
