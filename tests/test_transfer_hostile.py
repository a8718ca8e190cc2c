"""Hostile names through ssh, scp (Put, Get), PortForwarder and ChainPut
(issue 14): file names, remote commands and addresses are data, never
options, remote host specifications or shell code.

Real OpenSSH daemons on loopback addresses (the ``sshd`` fixture), the
real scp in both of its protocols (SFTP, OpenSSH 9's default, and the
legacy one selected by ``-O``), the real netcat: no mock. Every loopback
"host" is this machine, so the "remote" files are under the test user's
home, and a marker file created by a name run as shell code would appear
there (the remote shell's working directory), in /tmp, or in the local
working directory of the test.
"""

import hashlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import threading
import uuid

import pytest
from helpers import execo_command, finish

from execo import starters
from execo.action import Get, Put, Remote
from execo.chainput import READY_MARK, ChainPut
from execo.process import PortForwarder, SshProcess
from execo.scp_paths import LEGACY, SFTP, glob_escape, scp_default_protocol
from execo.substitutions import no_expressions

NC = "/bin/nc.traditional"
# quick retries in the chains
FAST = {"chainput_host_retry": 2, "chainput_try_delay": 0.2, "chainput_nc_client_timeout": 2}
# scp's two protocols: its default (SFTP with OpenSSH >= 9) and the legacy one
MODES = [pytest.param((), id="sftp-default"), pytest.param(("-O",), id="legacy-O")]


def hostile_names(tag, user, address):
    """Local file names which used to become scp options, remote paths or
    shell code. ``tag`` is in the names of the marker files they would
    create if run."""
    return [
        "with space",
        "it's",
        'dq"x',
        "$(touch %s-subst)" % (tag,),
        "`touch %s-backtick`" % (tag,),
        "x;touch %s-semicolon" % (tag,),
        "a|touch %s-pipe" % (tag,),
        "nl\ntouch %s-newline" % (tag,),
        "-leading-dash",
        "-oProxyCommand=touch %s-proxy" % (tag,),
        "c:olon",
        "%s@%s:notes.txt" % (user, address),
        "scp:x",
        "st*r",
        "q?",
        "br[ack",
        "<lt>gt&",
        "$HOME",
        "tab\there",
        "back\\slash",
        "~tilde",
        "!bang",
        "(paren)",
        "#hash",
        "{a,b}",
        "{{open('%s-eval','w') and 'x'}}" % (tag,),  # execo's substitutions
        "{{{host}}}",
        "\u00e9t\u00e9",
    ]


def content(name):
    """Distinct bytes for each name (binary, with the name in them)."""
    return (
        hashlib.sha256(name.encode("utf-8", "surrogateescape")).digest() * 100
        + b"\x00\xff\n"
        + name.encode("utf-8", "surrogateescape")
    )


@pytest.fixture
def home(sshd):
    """The test user's home: the remote side of every loopback host."""
    return pwd.getpwnam(sshd.user).pw_dir


@pytest.fixture
def remote_dir(sshd, home):
    """(name relative to the test user's home, absolute local path): a
    fresh directory owned by the test user, removed afterwards."""
    name = "execo-hostile-%s" % (uuid.uuid4().hex[:12],)
    path = os.path.join(home, name)
    os.mkdir(path)
    chown(path, sshd.user)
    yield name, path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def local_dir(monkeypatch):
    """A fresh local directory, also the working directory of the test
    (relative local names are relative to it)."""
    d = tempfile.mkdtemp(prefix="execo-hostile-local-")
    os.chmod(d, 0o755)
    monkeypatch.chdir(d)
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def tag():
    return "execo-mark-%s" % (uuid.uuid4().hex[:12],)


def chown(path, user):
    pw = pwd.getpwnam(user)
    for d, _dirs, files in os.walk(path):
        os.chown(d, pw.pw_uid, pw.pw_gid)
        for f in files:
            os.chown(os.path.join(d, f), pw.pw_uid, pw.pw_gid)
    os.chown(path, pw.pw_uid, pw.pw_gid)


def markers(tag, *roots):
    """Every file whose name holds ``tag`` under the roots (recursively),
    /tmp and the working directory: what a name run as code would leave."""
    found = []
    for root in set(roots + ("/tmp", os.getcwd())):
        for d, dirs, files in os.walk(root):
            found += [os.path.join(d, f) for f in files + dirs if f.startswith(tag)]
            if root == "/tmp" and d != root:
                dirs[:] = []  # /tmp itself only, and the test's own directories
    return found


def params(sshd, scp_mode=(), **extra):
    p = dict(sshd.connection_params_without_tty())
    p["scp_options"] = tuple(p["scp_options"]) + tuple(scp_mode)
    p.update(extra)
    return p


def write_files(directory, names):
    for n in names:
        with open(os.path.join(directory, n), "wb") as f:
            f.write(content(n))


def read(path):
    with open(path, "rb") as f:
        return f.read()


def assert_holds(directory, names, others=()):
    """``directory`` lists exactly ``names`` (and ``others``), each file
    of ``names`` holding its own content()."""
    assert sorted(os.listdir(directory)) == sorted(list(names) + list(others)), directory
    for n in names:
        assert read(os.path.join(directory, n)) == content(n), (directory, n)


def describe(action):
    return "\n".join("%s\nstdout: %r\nstderr: %r" % (p, p.stdout, p.stderr) for p in action.processes)


# ---------------------------------------------------------------- ssh


def test_remote_command_starting_with_dash_is_not_an_ssh_option(sshd, local_dir, tag):
    """ssh reads options after the host too: a command "-oProxyCommand=..."
    ran locally. It is now the remote command (given after "--")."""
    r = Remote("-oProxyCommand=touch %s-local" % (tag,), sshd.hosts[:1], connection_params=params(sshd))
    finish(r.run())
    p = r.processes[0]
    assert markers(tag, local_dir) == []
    # the remote shell got it, and refused it as an option of its own
    assert p.exit_code not in (None, 0, 255), describe(r)
    assert "--" in p.cmd and p.cmd.index("--") == len(p.cmd) - 3


def test_nul_in_a_remote_command_is_refused_at_construction(sshd):
    """A NUL byte would cut the remote command on ssh's command line
    (the old code ran "echo a")."""
    h = sshd.hosts[0]
    for make in (
        lambda: Remote("echo a\0b", [h], connection_params=params(sshd)),
        lambda: SshProcess("echo a\0b", h, connection_params=params(sshd)),
    ):
        with pytest.raises(ValueError, match="NUL"):
            make()


# ---------------------------------------------------------------- scp


def test_put_option_like_local_name_is_a_file(sshd, remote_dir, local_dir, tag):
    """The issue's case: a local file named "-oProxyCommand=..." ran the
    command and the Put reported ok."""
    name, path = remote_dir
    files = ["-oProxyCommand=sh -c 'touch %s-proxy'" % (tag,), "results.txt"]
    write_files(local_dir, files)
    put = Put(sshd.hosts[:1], files, name, connection_params=params(sshd))
    finish(put.run())
    assert put.ok, describe(put)
    assert markers(tag, local_dir, path) == []
    for f in files:
        assert read(os.path.join(path, f)) == content(f)


@pytest.mark.parametrize("scp_mode", MODES)
def test_put_local_name_looking_remote_is_a_local_file(sshd, home, remote_dir, local_dir, scp_mode):
    """scp read "user@host:notes.txt" as the remote ~/notes.txt: the Put
    copied that file, and reported ok."""
    name, path = remote_dir
    h = sshd.hosts[0]
    decoy = "execo-decoy-%s.txt" % (uuid.uuid4().hex[:8],)
    with open(os.path.join(home, decoy), "w") as f:
        f.write("the remote decoy\n")
    chown(os.path.join(home, decoy), sshd.user)
    try:
        local = "%s@%s:%s" % (sshd.user, h.address, decoy)
        write_files(local_dir, [local])
        put = Put([h], [local], name, connection_params=params(sshd, scp_mode))
        finish(put.run())
        assert put.ok, describe(put)
        assert os.listdir(path) == [local]
        assert read(os.path.join(path, local)) == content(local)
        # and back, into a local directory whose name looks remote too
        back = "%s@%s:back" % (sshd.user, h.address)
        os.mkdir(back)
        get = Get([h], [name + "/" + glob_escape(local)], back, connection_params=params(sshd, scp_mode))
        finish(get.run())
        assert get.ok, describe(get)
        assert os.listdir(back) == [local] and read(os.path.join(back, local)) == content(local)
    finally:
        os.unlink(os.path.join(home, decoy))


@pytest.mark.parametrize("scp_mode", MODES)
def test_put_then_get_hostile_names_byte_exact(sshd, home, remote_dir, local_dir, tag, scp_mode):
    """Round trip of every hostile local name: Put to the host, Get back
    (exact names through glob_escape) into a local directory with a
    hostile name: the right bytes arrive under the right names, and
    nothing runs anywhere."""
    name, path = remote_dir
    h = sshd.hosts[0]
    names = hostile_names(tag, sshd.user, h.address)
    if scp_mode == ("-O",):
        # the legacy protocol cannot carry a newline in a name (scp itself
        # writes it as "\n" on the remote side)
        names = [n for n in names if "\n" not in n]
    write_files(local_dir, names)
    # names from a listing are data: no substitution at all
    with no_expressions(host=False):
        put = Put([h], names, name, connection_params=params(sshd, scp_mode))
    finish(put.run())
    assert put.ok, describe(put)
    assert_holds(path, names)

    out = "-back $(touch %s-out) ;x" % (tag,)
    os.mkdir(out)
    with no_expressions(host=False):
        get = Get([h], [name + "/" + glob_escape(n) for n in names], out, connection_params=params(sshd, scp_mode))
    finish(get.run())
    assert get.ok, describe(get)
    assert_holds(out, names)
    assert markers(tag, home, local_dir) == []


def test_hostile_names_through_actions_started_by_several_threads(sshd, home, remote_dir, local_dir, tag):
    """A Put, a Remote and a Get over PARALLEL_MIN hosts or more are
    started by several threads at once (execo.starters): the hostile names
    still go through ssh and scp as data, the right bytes arrive on every
    host and back, the remote listing comes back byte for byte, and
    nothing runs anywhere."""
    hosts = sshd.hosts
    assert len(hosts) >= starters.PARALLEL_MIN  # (the fixture's 32 loopback addresses)
    name, path = remote_dir
    # ({{{host}}} names each host's directory below: not a file name here)
    names = [n for n in hostile_names(tag, sshd.user, hosts[0].address) if n != "{{{host}}}"]
    write_files(local_dir, names)
    for h in hosts:
        os.mkdir(os.path.join(path, h.address))
    chown(path, sshd.user)
    # names from a listing are data: only {{{host}}} is replaced
    with no_expressions():
        put = Put(hosts, names, name + "/{{{host}}}", connection_params=params(sshd))
    finish(put.run(), 120)
    assert put.ok, describe(put)
    for h in hosts:
        assert_holds(os.path.join(path, h.address), names)

    with no_expressions():
        ls = Remote(
            "cd %s/{{{host}}} && find . -mindepth 1 -printf '%%f\\0'" % (name,), hosts, connection_params=params(sshd)
        )
    finish(ls.run(), 120)
    assert ls.ok, describe(ls)
    for p in ls.processes:
        assert sorted(p.stdout.split("\0")[:-1]) == sorted(names), p

    out = "-back $(touch %s-out) ;x" % (tag,)
    for h in hosts:
        os.makedirs(os.path.join(out, h.address))
    with no_expressions():
        get = Get(
            hosts,
            [name + "/{{{host}}}/" + glob_escape(n) for n in names],
            out + "/{{{host}}}",
            connection_params=params(sshd),
        )
    finish(get.run(), 120)
    assert get.ok, describe(get)
    for h in hosts:
        assert_holds(os.path.join(out, h.address), names)
    assert markers(tag, home, local_dir) == []


def test_hostile_names_through_the_execo_command_on_32_hosts(sshd, home, remote_dir, local_dir, tag):
    """``execo put *`` and ``execo get`` over the 32 loopback hosts (their
    processes started by several threads): the operands after put/get are
    file names, whatever they look like. In a glob's order a file named
    ``-oProxyCommand=...`` may come first, or ``-l`` then another name:
    read as options, they ran a command locally or changed the user. Here
    the right bytes arrive on the hosts and back, and nothing runs."""
    hosts = ",".join(h.address for h in sshd.hosts)
    assert len(sshd.hosts) >= starters.PARALLEL_MIN
    ssh = ["-l", sshd.user, "-p", str(sshd.port), "-i", sshd.keyfile, "-o", "IdentitiesOnly=yes"]
    ssh += ["-o", "LogLevel=ERROR", "-o", "GlobalKnownHostsFile=/dev/null"]
    name, path = remote_dir
    first = ["-oProxyCommand=touch %s-proxy" % (tag,), "-l", "x", "--", "-H"]
    names = first + [n for n in hostile_names(tag, sshd.user, sshd.hosts[0].address) if n not in first]
    write_files(local_dir, names)
    r = execo_command(["--no-report", "-H", hosts] + ssh + ["put"] + names + [name], local_dir, 300)
    assert r.returncode == 0, (r.stdout, r.stderr)  # (0: every host ok)
    assert_holds(path, names)

    out = "-back $(touch %s-out) ;x" % (tag,)
    back = [n for n in names if n != "{{{host}}}"]  # (get paths: {{{host}}} is each host's address)
    for h in sshd.hosts:
        os.makedirs(os.path.join(local_dir, out, h.address))
    operands = [name + "/" + glob_escape(n) for n in back] + [out + "/{{{host}}}"]
    r = execo_command(["--no-report", "-H", hosts] + ssh + ["get"] + operands, local_dir, 300)
    assert r.returncode == 0, (r.stdout, r.stderr)
    for h in sshd.hosts:
        assert_holds(os.path.join(local_dir, out, h.address), back)
    assert markers(tag, home, local_dir) == []


def test_get_remote_names_with_shell_syntax_never_run(sshd, home, remote_dir, local_dir, tag):
    """Remote files literally named with $(...), backticks, ; and friends
    (no glob character: no escaping needed) are fetched, in both
    protocols; with the legacy one the remote shell used to run them."""
    name, path = remote_dir
    names = [
        "$(touch %s-a)" % (tag,),
        "`touch %s-b`" % (tag,),
        "x;touch %s-c" % (tag,),
        "y&&touch %s-d" % (tag,),
        "z|touch %s-e>%s-f" % (tag, tag),
        "'q' \"dq\" $HOME",
    ]
    write_files(path, names)
    chown(path, sshd.user)
    for i, scp_mode in enumerate(((), ("-O",))):
        out = "out%d" % (i,)
        os.mkdir(out)
        get = Get(sshd.hosts[:1], [name + "/" + n for n in names], out, connection_params=params(sshd, scp_mode))
        finish(get.run())
        assert get.ok, (scp_mode, describe(get))
        for n in names:
            assert read(os.path.join(out, n)) == content(n), (scp_mode, n)
        assert markers(tag, home, local_dir) == [], scp_mode


def test_get_remote_globs_are_patterns_and_glob_escape_is_literal(sshd, home, remote_dir, local_dir, tag):
    """Documented decision: Get's remote names are glob patterns (as
    execo 2.x users wrote them: "/tmp/*.log"), in both protocols, also in
    a directory whose name has spaces and shell syntax (the legacy
    protocol's remote shell used to split or run it); glob_escape() makes
    a name exact."""
    name, path = remote_dir
    logs = "logs of $(touch %s-dir) ;'run' 1" % (tag,)
    os.mkdir(os.path.join(path, logs))
    write_files(os.path.join(path, logs), ["a.log", "b.log", "*.log", "c.txt", "[x].log"])
    chown(path, sshd.user)
    remote = name + "/" + glob_escape(logs) + "/"
    for i, scp_mode in enumerate(((), ("-O",))):
        every, exact = "all%d" % (i,), "exact%d" % (i,)
        os.mkdir(every)
        get = Get(sshd.hosts[:1], [remote + "*.log"], every, connection_params=params(sshd, scp_mode))
        finish(get.run())
        assert get.ok, (scp_mode, describe(get))
        assert sorted(os.listdir(every)) == sorted(["a.log", "b.log", "*.log", "[x].log"]), scp_mode
        os.mkdir(exact)
        get = Get(
            sshd.hosts[:1],
            [remote + glob_escape("*.log"), remote + glob_escape("[x].log")],
            exact,
            connection_params=params(sshd, scp_mode),
        )
        finish(get.run())
        assert get.ok, (scp_mode, describe(get))
        assert sorted(os.listdir(exact)) == ["*.log", "[x].log"], scp_mode
        assert read(os.path.join(exact, "*.log")) == content("*.log")
    assert markers(tag, home, local_dir) == []


def test_get_newline_name_with_legacy_protocol_is_refused(sshd):
    with pytest.raises(ValueError, match="newline"):
        Get(sshd.hosts[:1], ["dir/a\nb"], ".", connection_params=params(sshd, ("-O",)))


def test_nul_in_scp_paths_is_refused_at_construction(sshd):
    h = sshd.hosts[0]
    cp = params(sshd)
    for make in (
        lambda: Put([h], ["fi\0le"], "dir", connection_params=cp),
        lambda: Put([h], ["file"], "d\0ir", connection_params=cp),
        lambda: Get([h], ["fi\0le"], ".", connection_params=cp),
        lambda: Get([h], ["file"], "lo\0cal", connection_params=cp),
    ):
        with pytest.raises(ValueError, match="NUL"):
            make()


def test_put_hostile_remote_location_is_literal(sshd, home, remote_dir, local_dir, tag):
    """remote_location is one literal directory (a leading ~/ is the
    home), in both protocols: in legacy mode the remote shell used to read
    it."""
    name, path = remote_dir
    target = "-dir $(touch %s-loc) ;`touch %s-bq` 'q' * [a]\ttab" % (tag, tag)
    os.mkdir(os.path.join(path, target))
    os.mkdir(os.path.join(path, "-dir x"))  # what a glob or a split could land in
    chown(path, sshd.user)
    write_files(local_dir, ["payload"])
    for scp_mode in ((), ("-O",)):
        for location in (name + "/" + target, "~/" + name + "/" + target):
            put = Put(sshd.hosts[:1], ["payload"], location, connection_params=params(sshd, scp_mode))
            finish(put.run())
            assert put.ok, (scp_mode, location, describe(put))
            assert os.listdir(os.path.join(path, target)) == ["payload"]
            assert read(os.path.join(path, target, "payload")) == content("payload")
            os.unlink(os.path.join(path, target, "payload"))
    assert sorted(os.listdir(path)) == sorted([target, "-dir x"])
    assert os.listdir(os.path.join(path, "-dir x")) == []
    assert markers(tag, home, local_dir) == []


def test_scp_default_protocol_is_asked_to_the_local_scp(sshd, remote_dir, local_dir, tag):
    """Without -O or -s in scp_options, a Put's remote_location holding
    shell characters is written for the protocol the local scp uses by
    default: SFTP for OpenSSH >= 9 here; LEGACY for an scp whose default is
    the legacy protocol (a real scp, started with -O by a wrapper)."""
    version = subprocess.run(["ssh", "-V"], capture_output=True, text=True).stderr
    major = int(version.split("_", 1)[1].split(".", 1)[0])
    assert scp_default_protocol(("scp",)) == (SFTP if major >= 9 else LEGACY)
    wrapper = os.path.join(local_dir, "legacy-scp")
    with open(wrapper, "w") as f:
        f.write('#!/bin/sh\nexec scp -O "$@"\n')
    os.chmod(wrapper, 0o755)
    assert scp_default_protocol((wrapper,)) == LEGACY
    name, path = remote_dir
    target = "d $(touch %s-w) 'q'" % (tag,)
    os.mkdir(os.path.join(path, target))
    chown(path, sshd.user)
    write_files(local_dir, ["payload"])
    put = Put(sshd.hosts[:1], ["payload"], name + "/" + target, connection_params=params(sshd, scp=wrapper))
    finish(put.run())
    assert put.ok, describe(put)
    assert read(os.path.join(path, target, "payload")) == content("payload")
    assert markers(tag, path, local_dir) == []


# ------------------------------------------------------- PortForwarder


def test_port_forwarder_refuses_option_like_hosts_and_bad_ports(sshd):
    h = sshd.hosts[0]
    cp = params(sshd)
    for kwargs in (
        {"remote_host": "-oProxyCommand=touch x"},
        {"remote_host": "db;touch x"},
        {"remote_host": "a b"},
        {"remote_host": ""},
        {"bind_address": "-oProxyCommand=x"},
        {"bind_address": "127.0.0.1 -R"},
        {"remote_port": 0},
        {"remote_port": "22x"},
        {"remote_port": 70000},
        {"local_port": -1},
        {"remote_port": None},
    ):
        args = dict({"remote_host": "127.0.0.1", "remote_port": 22, "local_port": 25000}, **kwargs)
        with pytest.raises(ValueError):
            PortForwarder(h, args.pop("remote_host"), args.pop("remote_port"), connection_params=cp, **args)
    # what ssh -L accepts as addresses still is
    for bind in ("", "*", "0.0.0.0", "localhost", "::1"):
        fw = PortForwarder(h, "::1", 22, local_port=25000, bind_address=bind, connection_params=cp)
        assert fw.cmd[-2:] == ("--", h.address) and "ExitOnForwardFailure=yes" in fw.cmd


# ----------------------------------------------------------- ChainPut


class ForeignListener(object):
    """A program listening on a chain port before the receiver: records
    every byte it is sent (``banner``: what it says to each client)."""

    def __init__(self, address, port, banner=b""):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((address, port))
        self.sock.listen(8)
        self.banner = banner
        self.received = b""
        self.connections = 0
        self._stop = False
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self):
        self.sock.settimeout(0.2)
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._read, args=(conn,), daemon=True).start()

    def _read(self, conn):
        with conn:
            if self.banner:
                conn.sendall(self.banner)
            conn.settimeout(0.2)
            while not self._stop:
                try:
                    data = conn.recv(65536)
                except socket.timeout:
                    continue
                except OSError:
                    return
                if not data:
                    return
                self.received += data

    def close(self):
        self._stop = True
        self.sock.close()
        self._thread.join()


def chainput_files(local_dir, tag):
    names = [
        "big.bin",
        "-dash $(touch %s-cp) ;`x` 'q'" % (tag,),
        "nl\nname",
        "user@host:x",
        "{{open('%s-eval','w') and 'x'}} {{{host}}}" % (tag,),
    ]
    for n in names:
        with open(os.path.join(local_dir, n), "wb") as f:
            f.write(content(n) if n != "big.bin" else os.urandom(3 << 20))
    return [os.path.join(local_dir, n) for n in names]


def check_received(files, directory):
    for f in files:
        assert read(os.path.join(directory, os.path.basename(f))) == read(f), (f, directory)


def test_chainput_first_host_port_taken(sshd, remote_dir, local_dir, tag):
    """Another program listens on the first receiver's port: that receiver
    fails, naming the busy port, without ever saying it is ready; the
    sender goes to the next host; the foreign listener gets nothing."""
    name, path = remote_dir
    files = chainput_files(local_dir, tag)
    hosts = sshd.hosts[:3]
    cp = ChainPut(hosts, files, name + "/{{{host}}}", connection_params=params(sshd, nc=NC + " -v -v", **FAST))
    busy = cp.receivers[0]
    foreign = ForeignListener(hosts[0].address, busy.port)
    try:
        finish(cp.run())
    finally:
        foreign.close()
    assert not cp.ok
    assert foreign.received == b"", describe(cp)
    assert busy.exit_code == 8 and not busy.ok, describe(cp)
    assert "port %d is already in use on %s" % (busy.port, hosts[0].address) in busy.stderr
    assert READY_MARK not in busy.stdout
    assert "previous hosts of the chain unreachable" not in busy.stderr
    assert cp.sender.finished_ok and [a for a, _ in cp.sender.candidates] == [h.address for h in hosts[1:]]
    for r in cp.receivers[1:]:
        assert r.finished_ok, describe(cp)
        check_received(files, os.path.join(path, r.host.address))
    assert markers(tag, path, local_dir) == []


@pytest.mark.parametrize("nc", [NC, NC + " -v -v"], ids=["nc-quiet", "nc-verbose"])
def test_chainput_middle_hosts_ports_taken(sshd, remote_dir, local_dir, tag, nc):
    """Other programs listen on the ports of two hosts in the middle of
    the chain, one silent, one talking first (as an ssh or smtp server
    does): those receivers fail naming the busy port; the hops before
    them skip them (no hello from this transfer) and send to the next
    host; neither listener is sent a byte; the other hosts get the files.
    Without netcat's -v messages, the ports are seen in /proc/net/tcp."""
    name, path = remote_dir
    files = chainput_files(local_dir, tag)
    hosts = sshd.hosts[:5]
    cp = ChainPut(hosts, files, name + "/{{{host}}}", connection_params=params(sshd, nc=nc, **FAST))
    receivers = cp.receivers
    silent = ForeignListener(hosts[1].address, receivers[1].port)
    talking = ForeignListener(hosts[3].address, receivers[3].port, banner=b"SSH-2.0-OpenSSH_9.2\r\n")
    try:
        finish(cp.run())
    finally:
        silent.close()
        talking.close()
    assert not cp.ok
    assert silent.received == b"" and talking.received == b"", describe(cp)
    for k, before in ((1, 0), (3, 2)):
        busy = receivers[k]
        assert busy.exit_code == 8, describe(cp)
        assert "port %d is already in use on %s" % (busy.port, hosts[k].address) in busy.stderr
        assert READY_MARK not in busy.stdout
        out = receivers[before].stderr
        assert "%s port %d is not a receiver of this transfer" % (hosts[k].address, busy.port) in out, out
        assert "sent to %s port %d" % (hosts[k + 1].address, receivers[k + 1].port) in out, out
    for k in (0, 2, 4):
        assert receivers[k].finished_ok, describe(cp)
        check_received(files, os.path.join(path, hosts[k].address))
    assert markers(tag, path, local_dir) == []


def test_nul_in_chainput_paths_is_refused_at_construction(sshd):
    h = sshd.hosts[0]
    cp = params(sshd, nc=NC)
    for make in (
        lambda: ChainPut([h], ["fi\0le"], "dir", connection_params=cp),
        lambda: ChainPut([h], [__file__], "d\0ir", connection_params=cp),
    ):
        with pytest.raises(ValueError, match="NUL"):
            make()


def test_chainput_hostile_remote_location(sshd, home, local_dir, tag):
    """A remote_location starting with "-", with quotes, $(...) and
    backticks: one literal directory (the helper's cd read it as an
    option); the files with hostile names arrive byte-exact."""
    files = chainput_files(local_dir, tag)
    hosts = sshd.hosts[:2]
    # relative to the home, one per host (the loopback hosts share it)
    locations = ["-loc%d-%s $(touch %s-loc) `touch %s-bq` ;'q'" % (i, tag, tag, tag) for i in range(len(hosts))]
    try:
        cp = ChainPut(hosts, files, "{{locations}}", connection_params=params(sshd, nc=NC + " -v -v", **FAST))
        finish(cp.run())
        assert cp.ok, describe(cp)
        for location in locations:
            check_received(files, os.path.join(home, location))
        assert sorted(f for f in os.listdir(home) if tag in f) == sorted(locations)
        assert markers(tag, home, local_dir) == []
    finally:
        for location in locations:
            shutil.rmtree(os.path.join(home, location), ignore_errors=True)


# ---------------------------------------------- names assigned, then reset()


def test_hostile_names_assigned_then_reset_put_taktukput_chainput(sshd, home, remote_dir, local_dir, tag):
    """Names from a listing given *after* construction, taken by reset()
    (which makes the processes again, as in execo 2.8.2): for Put (scp),
    TaktukPut and ChainPut the right bytes arrive under the right names,
    and nothing runs, expressions in the names included (the actions were
    made inside no_expressions(host=False): so are their rebuilds)."""
    from execo.action import TaktukPut

    name, path = remote_dir
    h = sshd.hosts[0]
    names = [n for n in hostile_names(tag, sshd.user, h.address) if "\n" not in n]
    write_files(local_dir, names + ["benign"])
    p = params(sshd)
    taktuk_p = dict(p, taktuk_connector_options=tuple(p["ssh_options"]))
    with no_expressions(host=False):
        actions = [
            Put([h], ["benign"], name + "/scp", connection_params=p),
            TaktukPut([h], ["benign"], name + "/taktuk", connection_params=taktuk_p),
            ChainPut(
                [h], [os.path.join(local_dir, "benign")], name + "/chain", connection_params=params(sshd, nc=NC, **FAST)
            ),
        ]
    for sub in ("scp", "taktuk", "chain"):
        os.mkdir(os.path.join(path, sub))
    chown(path, sshd.user)
    for a in actions:
        finish(a.run())
        assert a.ok, describe(a)
    actions[0].local_files = list(names)
    actions[1].local_files = list(names)
    actions[2].local_files = [os.path.join(local_dir, n) for n in names]
    for a in actions:
        a.reset()
        finish(a.run())
        assert a.ok, describe(a)
    for sub in ("scp", "taktuk", "chain"):
        assert_holds(os.path.join(path, sub), names, ["benign"])
    assert markers(tag, home, local_dir) == []
