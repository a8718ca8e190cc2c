"""The remote examples of the documentation, as runnable functions.

The guide shows these examples in ``code-block`` directives (they need
ssh access to hosts, so the doctest builder cannot run them). Each
function here is one of them, taking ``(hosts, connection_params)``:

- ``hosts``: a list of at least 4 :class:`execo.host.Host` reachable with
  ssh (for the test suite: ``sshd.hosts`` of the ``sshd`` fixture, whose
  hosts carry user, keyfile and port);
- ``connection_params``: the connection params for them (for the test
  suite: ``sshd.connection_params``, which also sets
  ``taktuk_connector_options`` for :class:`~execo.action.TaktukRemote`).

Each function asserts the outcome the documentation states, and cleans
up what it created. :func:`example_taktuk_remote` needs ``taktuk`` on
the local host and :func:`example_chainput` needs ``nc``, ``tar`` and
``sha256sum`` on every host (local included). All hosts may share one
filesystem (loopback daemons): every remote path is per host.

Usage from a test::

    import remote_examples   # docs/ on sys.path
    @pytest.mark.parametrize("example", remote_examples.EXAMPLES)
    def test_doc_example(sshd, example):
        example(sshd.hosts[:4], sshd.connection_params)
"""

import os
import shutil
import tempfile
import uuid

from execo import ChainPut, Get, Host, Put, Remote, TaktukRemote, filter_bad_hosts


def example_remote(hosts, connection_params):
    """guide/remote.rst: run a command everywhere (Remote, {{{host}}})."""
    r = Remote("echo hello from {{{host}}}", hosts, connection_params=connection_params).run()
    assert r.ok
    for p in r.processes:
        assert p.stdout.strip() == "hello from %s" % p.host.address


def example_put_get(hosts, connection_params):
    """guide/remote.rst: Put a file to every host, Get it back."""
    local = tempfile.mkdtemp()
    base = "/tmp/execo-doc-%s" % uuid.uuid4().hex
    try:
        src = os.path.join(local, "data.txt")
        with open(src, "w") as f:
            f.write("some data\n")
        remote_dir = base + "/{{{host}}}"
        Remote("mkdir -p " + remote_dir, hosts, connection_params=connection_params).run()
        assert Put(hosts, [src], remote_dir, connection_params=connection_params).run().ok
        for h in hosts:
            os.mkdir(os.path.join(local, h.address))
        get = Get(
            hosts, [remote_dir + "/data.txt"], os.path.join(local, "{{{host}}}"), connection_params=connection_params
        ).run()
        assert get.ok
        for h in hosts:
            with open(os.path.join(local, h.address, "data.txt")) as f:
                assert f.read() == "some data\n"
    finally:
        Remote("rm -rf " + base, hosts[:1], connection_params=connection_params).run()
        shutil.rmtree(local, ignore_errors=True)


def example_filter_bad_hosts(hosts, connection_params):
    """guide/remote.rst: filter_bad_hosts drops a host whose process failed."""
    good = Host(hosts[0])
    bad = Host(hosts[0])
    bad.port = 1  # nothing listens there
    r = Remote("true", [good, bad], connection_params=connection_params).run()
    assert not r.ok
    assert filter_bad_hosts(r, [good, bad]) == [good]


def example_substitutions(hosts, connection_params):
    """guide/substitutions.rst: {{{host}}} and {{expr}} in a Remote."""
    peers = [h.address for h in hosts[:2]]
    r = Remote("echo {{{host}}} talks to {{peers}}", hosts[:4], connection_params=connection_params).run()
    assert r.ok
    for i, p in enumerate(r.processes):
        assert p.stdout.strip() == "%s talks to %s" % (hosts[i].address, peers[i % 2])


def example_taktuk_remote(hosts, connection_params):
    """guide/taktuk.rst: TaktukRemote, one process per host (needs taktuk)."""
    r = TaktukRemote("echo {{{host}}}", hosts, connection_params=connection_params).run()
    assert r.ok
    assert [p.stdout.strip() for p in r.processes] == [h.address for h in hosts]


def example_chainput(hosts, connection_params):
    """guide/chainput.rst: ChainPut a file to every host (needs nc)."""
    local = tempfile.mkdtemp()
    base = "/tmp/execo-doc-%s" % uuid.uuid4().hex
    try:
        src = os.path.join(local, "data.txt")
        with open(src, "w") as f:
            f.write("broadcast\n")
        c = ChainPut(hosts, [src], base + "/{{{host}}}", connection_params=connection_params).run()
        assert c.ok
        check = Remote("cat %s/{{{host}}}/data.txt" % base, hosts, connection_params=connection_params).run()
        assert all(p.stdout.strip() == "broadcast" for p in check.processes)
    finally:
        Remote("rm -rf " + base, hosts[:1], connection_params=connection_params).run()
        shutil.rmtree(local, ignore_errors=True)


#: every example, in the order of the guide
EXAMPLES = [
    example_remote,
    example_put_get,
    example_filter_bad_hosts,
    example_substitutions,
    example_taktuk_remote,
    example_chainput,
]


def example_recording_retry(hosts, connection_params):
    """guide/recording.rst: a job log, then run again on the failed hosts."""
    from execo.joblog import JobLog, failed_hosts, load

    local = tempfile.mkdtemp()
    try:
        log_path = os.path.join(local, "run.jsonl")
        bad = {hosts[1].address, hosts[3].address}
        cmd = "case {{{host}}} in %s) exit 3;; esac; echo done" % "|".join(sorted(bad))
        with JobLog(log_path) as log:
            Remote(cmd, hosts, connection_params=connection_params, lifecycle_handlers=[log]).run()
        assert len(load(log_path)) == len(hosts)
        again = failed_hosts(log_path)
        assert {h.address for h in again} == bad
        if again:
            with JobLog(log_path) as log:
                Remote("echo fixed", again, connection_params=connection_params, lifecycle_handlers=[log]).run()
        records = load(log_path)
        assert len(records) == len(hosts) + len(bad)
        assert all(r["finished_ok"] for r in records[len(hosts) :])
    finally:
        shutil.rmtree(local)
