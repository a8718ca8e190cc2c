"""Tests of execo.host."""

import copy
import pickle

import pytest

from execo.host import Host, get_hosts_list, get_hosts_set


def test_defaults():
    h = Host('node-1')
    assert h.address == 'node-1'
    assert h.user is False and h.keyfile is False and h.port is False


def test_spec_doctest():
    h1 = Host('localhost')
    h1.user = 'root'
    assert repr(h1) == "Host('localhost', user='root')"
    h2 = Host('localhost', user='root')
    assert h1 == h2
    d = {h1: True}
    assert d[h2] is True


def test_repr_fields_in_order():
    assert repr(Host('a')) == "Host('a')"
    assert repr(Host('a', port=22, user='u')) == "Host('a', user='u', port=22)"
    assert repr(Host('a', keyfile='/k', port=None)) == "Host('a', keyfile='/k', port=None)"
    assert repr(Host('a', user=None, keyfile='/k', port=2222)) == "Host('a', user=None, keyfile='/k', port=2222)"


def test_repr_evaluates_back():
    h = Host('a', user='u', keyfile='/k', port=2222)
    assert eval(repr(h)) == h


def test_str():
    assert str(Host('a')) == 'a'
    assert str(Host('a', user='u', port=22)) == 'u@a:22'


@pytest.mark.parametrize(
    "other",
    [
        Host('a', user='v'),
        Host('b', user='u'),
        Host('a', user='u', keyfile='/k'),
        Host('a', user='u', port=22),
        Host('a', user=None),
        Host('a'),
    ],
)
def test_inequality_on_each_field(other):
    assert Host('a', user='u') != other


def test_false_and_none_differ():
    assert Host('a', user=None) != Host('a')
    assert len({Host('a', user=None), Host('a'), Host('a', user=False)}) == 2


def test_not_equal_to_other_types():
    assert Host('a') != 'a'
    assert not (Host('a') == 'a')


def test_hash_follows_equality_and_mutation():
    h = Host('a')
    s = {h, Host('a'), Host('a', port=22)}
    assert len(s) == 2
    h.port = 22
    assert hash(h) == hash(Host('a', port=22))


def test_copy_constructor():
    orig = Host('a', user='u', keyfile='/k', port=22)
    c = Host(orig)
    assert c == orig and c is not orig
    c.user = 'other'
    assert orig.user == 'u'


def test_copy_constructor_overrides_only_non_false():
    orig = Host('a', user='u', keyfile='/k', port=22)
    assert Host(orig, user='v') == Host('a', user='v', keyfile='/k', port=22)
    assert Host(orig, port=None) == Host('a', user='u', keyfile='/k', port=None)
    assert Host(orig, user=False, keyfile=False, port=False) == orig
    assert Host(orig, keyfile='/k2').keyfile == '/k2'


def test_copy_and_pickle():
    h = Host('a', user='u', port=22)
    assert copy.copy(h) == h
    assert copy.deepcopy(h) == h
    assert pickle.loads(pickle.dumps(h)) == h


@pytest.mark.parametrize("bad", [None, 42, b'host', ['a'], False])
def test_bad_address_type(bad):
    with pytest.raises(TypeError, match="address"):
        Host(bad)


def test_empty_address():
    with pytest.raises(ValueError, match="address"):
        Host('')


def test_get_hosts_list_order_and_copies():
    h = Host('b', user='u')
    hosts = ['c', h, 'a', Host('c')]
    result = get_hosts_list(hosts)
    assert result == [Host('c'), Host('b', user='u'), Host('a'), Host('c')]
    assert all(isinstance(x, Host) for x in result)
    assert result[1] is not h
    result[1].user = 'changed'
    assert h.user == 'u'


def test_get_hosts_list_from_generator_and_single():
    assert get_hosts_list(x for x in ('a', 'b')) == [Host('a'), Host('b')]
    assert get_hosts_list('abc') == [Host('abc')]
    assert get_hosts_list(Host('abc', port=1)) == [Host('abc', port=1)]
    assert get_hosts_list([]) == []


def test_get_hosts_set():
    h = Host('a')
    result = get_hosts_set([h, 'a', 'b', Host('b', port=22)])
    assert result == {Host('a'), Host('b'), Host('b', port=22)}
    assert isinstance(result, set)
    assert all(x is not h for x in result)


def test_get_hosts_list_bad_item():
    with pytest.raises(TypeError):
        get_hosts_list(['a', 3])


# ---------------------------------------------------------------- hostile names
# Host names and users come from inventories and hosts files: anything that
# could become a tool option or shell code is refused when the Host is made.


@pytest.mark.parametrize(
    "address",
    [
        "node-1",
        "node_1.example.org",
        "127.0.0.1",
        "::1",
        "[::1]",
        "fe80::1%eth0",
        "2001:db8::1",
        "root@node-1",
        "Éric.local",
        "n1",
    ],
)
def test_real_addresses_accepted(address):
    assert Host(address).address == address


@pytest.mark.parametrize(
    "address",
    [
        "-oProxyCommand=id>X",
        "-p",
        "127.0.0.33 true;id>X;#",
        "a b",
        "a\tb",
        "a\nb",
        "node-1\n",
        "x$(id)",
        "x`id`",
        "a;b",
        "a|b",
        "a&b",
        "a>b",
        "a<b",
        "'a'",
        '"a"',
        "a\\b",
        "a*",
        "a?",
        "{{[__import__('os').system('id')]}}",
        "a\x00b",
        "a/b",
        "~root",
        "a!b",
        "a#b",
        " a",
    ],
)
def test_hostile_addresses_refused(address):
    with pytest.raises(ValueError, match="cannot be a host address"):
        Host(address)
    h = Host("ok")
    with pytest.raises(ValueError):
        h.address = address
    assert h.address == "ok"


@pytest.mark.parametrize("user", ["-oProxyCommand=id", "xtest$(id>X)", "a b", "a;b", "a\nb", "`id`", "a'b"])
def test_hostile_users_refused(user):
    with pytest.raises(ValueError, match="cannot be a user name"):
        Host("node", user=user)
    h = Host("node", user="root")
    with pytest.raises(ValueError):
        h.user = user
    assert h.user == "root"


@pytest.mark.parametrize("user", ["root", "execotest", "first.last", "svc_1", "u-2", "someone@REALM"])
def test_real_users_accepted(user):
    assert Host("node", user=user).user == user


def test_port_normalised_and_checked():
    assert Host("n", port="2222") == Host("n", port=2222)
    assert Host("n", port="2222").port == 2222
    assert hash(Host("n", port="2222")) == hash(Host("n", port=2222))
    assert Host("n", port=None).port is None and Host("n").port is False
    for bad in ("22; id", "-1", 0, 70000, "abc", 22.5, True):
        with pytest.raises((ValueError, TypeError)):
            Host("n", port=bad)


def test_connection_params_values_checked():
    from execo.ssh_utils import get_scp_put_argv, get_ssh_argv

    with pytest.raises(ValueError, match="user name"):
        get_ssh_argv("node", "true", {"user": "x;id"})
    with pytest.raises(ValueError, match="port"):
        get_ssh_argv("node", "true", {"port": "22 -oProxyCommand=id"})
    with pytest.raises(ValueError, match="host address"):
        get_scp_put_argv("node", ["f"], "/tmp", {"host_rewrite_func": lambda a: "-oProxyCommand=id"})
    argv = get_ssh_argv("node", "true", {"port": "2222"})
    assert argv[argv.index("-p") + 1] == "2222"


def test_hostile_host_in_actions_refused_at_construction():
    from execo import Get, Put, Remote, TaktukRemote

    for make in (
        lambda h: Remote("true", h),
        lambda h: Put(h, ["f"], "/tmp"),
        lambda h: Get(h, ["f"], "."),
        lambda h: TaktukRemote("true", h),
    ):
        with pytest.raises(ValueError):
            make(["ok-host", "-oProxyCommand=id>X"])
