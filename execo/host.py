"""Hosts to connect to, and helpers to build lists and sets of them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterable, List, Literal, Set, Tuple, Union

__all__ = ['Host', 'get_hosts_list', 'get_hosts_set']

if TYPE_CHECKING:
    #: one host or several, as accepted by :func:`get_hosts_list`
    HostsLike = Union[str, "Host", Iterable[Union[str, "Host"]]]

_FIELDS = ('user', 'keyfile', 'port')


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

    def __init__(self, address: Union[str, Host], user: Union[str, None, Literal[False]] = False,
                 keyfile: Union[str, None, Literal[False]] = False,
                 port: Union[int, None, Literal[False]] = False) -> None:
        """
        :param address: (string or :class:`Host`) the host address or
          another :class:`Host` instance which will be copied into this new
          instance (then ``user``, ``keyfile``, ``port``, when not False,
          override the copied values).
        :param user: (string) optional user whith which to connect. If
          False (default value), means use the default user. If None,
          means don't use any user.
        :param keyfile: (string) optional keyfile whith which to
          connect. If False (default value), means use the default
          keyfile. If None, means don't use any keyfile.
        :param port: (integer) optional port to which to connect. If
          False (default value), means use the default port. If None,
          means don't use any port.
        """
        if isinstance(address, Host):
            self.address = address.address
            self.user = address.user
            self.keyfile = address.keyfile
            self.port = address.port
        elif isinstance(address, str):
            if not address:
                raise ValueError("Host address must be a non-empty string")
            self.address = address
            self.user = self.keyfile = self.port = False
        else:
            raise TypeError("Host address must be a str or a Host, not %s (%r)"
                            % (type(address).__name__, address))
        if user is not False:
            self.user = user
        if keyfile is not False:
            self.keyfile = keyfile
        if port is not False:
            self.port = port

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
