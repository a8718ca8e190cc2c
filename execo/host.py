"""Hosts to connect to, and helpers to build lists and sets of them."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Iterable, List, Literal, Set, Tuple, Union

__all__ = ['Host', 'get_hosts_list', 'get_hosts_set', 'check_address', 'check_user', 'check_port']

if TYPE_CHECKING:
    #: one host or several, as accepted by :func:`get_hosts_list`
    HostsLike = Union[str, "Host", Iterable[Union[str, "Host"]]]

_FIELDS = ('user', 'keyfile', 'port')

# What a host address or a user name may hold. Host names come from
# inventories, hosts files and node lists: they are data, and they end up
# as arguments of ssh, scp and taktuk (taktuk even pastes them into a
# shell line), so anything that cannot be a real name is refused here,
# once, before any tool sees it: a leading "-" (it would be read as an
# option: "-oProxyCommand=..."), whitespace, quotes and every shell
# metacharacter. Addresses: DNS names (IDN letters too), IPv4, IPv6 with
# or without brackets and a "%zone", and "user@name" (ssh splits it).
_ADDRESS_RE = re.compile(r"[\w\[:][\w.:%@\[\]-]*\Z")
_USER_RE = re.compile(r"[\w.][\w.@-]*\Z")


def check_address(address: str) -> str:
    """``address`` if it can be a host address, else ValueError.

    Allowed: letters, digits, ``_ . - : % @ [ ]``, not starting with
    ``-``. Everything else (whitespace, quotes, ``$ ; & | < > ( ) ` \\ * ?
    ! # ~ { }``, NUL...) is refused: host names read from inventories are
    data and must never become a tool option or shell code."""
    if not isinstance(address, str):
        raise TypeError("Host address must be a str, not %s (%r)" % (type(address).__name__, address))
    if not address:
        raise ValueError("Host address must be a non-empty string")
    if not _ADDRESS_RE.match(address):
        raise ValueError(
            "%r cannot be a host address: only letters, digits and _ . - : %% @ [ ] are "
            "allowed, and no leading '-'" % (address,)
        )
    return address


def check_user(user: Any) -> Any:
    """``user`` if it can be a login name (or is False/None), else
    ValueError: letters, digits, ``_ . - @``, not starting with ``-``."""
    if user is False or user is None:
        return user
    if not isinstance(user, str):
        raise TypeError("Host user must be a str, None or False, not %s (%r)" % (type(user).__name__, user))
    if not _USER_RE.match(user):
        raise ValueError(
            "%r cannot be a user name: only letters, digits and _ . - @ are allowed, and no leading '-'" % (user,)
        )
    return user


def check_port(port: Any) -> Any:
    """``port`` as an int in 1..65535 (a str of digits is converted, so
    that ``2222`` and ``"2222"`` are the same port), or False/None;
    else ValueError."""
    if port is False or port is None:
        return port
    if isinstance(port, bool):
        raise TypeError("Host port must be an int, None or False, not %r" % (port,))
    try:
        value = int(port)
    except (TypeError, ValueError):
        raise ValueError("%r cannot be a port: an integer in 1..65535 is needed" % (port,)) from None
    if (
        isinstance(port, float)
        and value != port
        or isinstance(port, str)
        and not port.strip().isdigit()
        or not 1 <= value <= 65535
    ):
        raise ValueError("%r cannot be a port: an integer in 1..65535 is needed" % (port,))
    return value


class Host:
    """A host to connect to.

    - Has an address (mandatory)
    - Can optionaly have a user, a keyfile, a port, which are used for
      remote connection and authentification (with a ssh like remote
      connection tool).

    Has an intuitive comparison and hashing behavior: two
    :class:`Host` with the same members (address, user, keyfile, port)
    will hash equally and will be seen as identical keys in a set or
    dict.

    >>> h1 = Host('localhost')
    >>> h1.user = 'root'
    >>> h1
    Host('localhost', user='root')
    >>> h2 = Host('localhost', user = 'root')
    >>> h1 == h2
    True
    >>> d = dict()
    >>> d[h1] = True
    >>> d[h2]
    True
    """

    address: str = None  # type: ignore[assignment]  # class-level default (documented); every instance sets a str
    """the host address"""
    user: Union[str, None, Literal[False]]
    keyfile: Union[str, None, Literal[False]]
    port: Union[int, None, Literal[False]]

    def __init__(
        self,
        address: Union[str, Host],
        user: Union[str, None, Literal[False]] = False,
        keyfile: Union[str, None, Literal[False]] = False,
        port: Union[int, None, Literal[False]] = False,
    ) -> None:
        """
        :param address: (string or :class:`Host`) the host address or
          another :class:`Host` instance which will be copied into this new
          instance (then ``user``, ``keyfile``, ``port``, when not False,
          override the copied values). Only letters, digits and
          ``_ . - : % @ [ ]`` are accepted, without a leading ``-``
          (ValueError otherwise, see :func:`check_address`): host names
          often come from inventories and are never options or code.
        :param user: (string) optional user whith which to connect. If
          False (default value), means use the default user. If None,
          means don't use any user. Checked like the address
          (:func:`check_user`).
        :param keyfile: (string) optional keyfile whith which to
          connect. If False (default value), means use the default
          keyfile. If None, means don't use any keyfile.
        :param port: (integer) optional port to which to connect. If
          False (default value), means use the default port. If None,
          means don't use any port. A string of digits is converted to
          an int, so ``2222`` and ``"2222"`` are the same port.
        """
        if isinstance(address, Host):
            self.address = address.address
            self.user = address.user
            self.keyfile = address.keyfile
            self.port = address.port
        elif isinstance(address, str):
            self.address = address
            self.user = self.keyfile = self.port = False
        else:
            raise TypeError("Host address must be a str or a Host, not %s (%r)" % (type(address).__name__, address))
        if user is not False:
            self.user = user
        if keyfile is not False:
            self.keyfile = keyfile
        if port is not False:
            self.port = port

    def __setattr__(self, name: str, value: Any) -> None:
        # every way of setting them is checked (constructor or h.user = ...)
        if name == "address":
            value = check_address(value)
        elif name == "user":
            value = check_user(value)
        elif name == "port":
            value = check_port(value)
        object.__setattr__(self, name, value)

    def _key(self) -> Tuple[str, Union[str, None, bool], Union[str, None, bool], Union[int, None, bool]]:
        return (self.address, self.user, self.keyfile, self.port)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Host):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        args = [repr(self.address)]
        for field in _FIELDS:
            value = getattr(self, field)
            if value is not False:
                args.append("%s=%r" % (field, value))
        return "Host(%s)" % ", ".join(args)

    def __str__(self) -> str:
        """``[user@]address[:port]``."""
        text = self.address
        if self.user:
            text = "%s@%s" % (self.user, text)
        if self.port:
            text = "%s:%s" % (text, self.port)
        return text


def _iter_hosts(hosts: HostsLike) -> Iterable[Union[str, Host]]:
    """Iterate over ``hosts``, a single Host or str being taken as one host."""
    if isinstance(hosts, (str, Host)):
        return (hosts,)
    return hosts


def get_hosts_list(hosts: HostsLike) -> List[Host]:
    """Deep copy an iterable of :class:`Host` or hostnames to a list of :class:`Host`.

    order is preserved (duplicates too). A single :class:`Host` or string
    is taken as a one element iterable.
    """
    return [Host(host) for host in _iter_hosts(hosts)]


def get_hosts_set(hosts: HostsLike) -> Set[Host]:
    """Deep copy an iterable of :class:`Host` or hostnames to a set of :class:`Host`."""
    return set(get_hosts_list(hosts))
