"""Hostile input that must be refused at the call (issue 14): NUL bytes in
commands (execve would cut the argument silently)."""

import os

import pytest

from execo import Process, Remote, SshProcess, TaktukRemote


@pytest.mark.parametrize(
    "make",
    [
        lambda: Process(("printf", "%s|", "a\x00b", "c")),
        lambda: Process("echo a\x00b"),
        lambda: Process("echo a\x00b", shell=True),
        lambda: Process((b"printf", b"a\x00")),
        lambda: SshProcess("echo a\x00b", "node"),
        lambda: Remote("echo a\x00b", ["node1", "node2"]),
        lambda: TaktukRemote("echo a\x00b", ["node1"]),
    ],
)
def test_nul_in_command_is_a_clear_error(make):
    with pytest.raises(ValueError, match="NUL"):
        make()


def test_nul_set_after_construction_refused_at_start():
    p = Process(("printf", "%s|", "ok"))
    p.cmd = ("printf", "%s|", "a\x00b")
    with pytest.raises(ValueError, match="NUL"):
        p.start()


def test_arguments_without_nul_pass_exactly():
    p = Process(("printf", "%s|", "a b", "$(id)", "'\"", "-x", "\u00e9")).run()
    assert p.ok and p.stdout == "a b|$(id)|'\"|-x|\u00e9|"


def test_empty_and_mixed_arguments_keep_their_place():
    # (all-str argvs are encoded in one piece and cut at the separators)
    p = Process(("printf", "[%s]", "", "x", ""))
    assert p._argv() == [b"printf", b"[%s]", b"", b"x", b""]
    assert p.run().stdout == "[][x][]"
    p = Process(("printf", b"[%s]", "\u00e9", b"\xff"))
    assert p._argv() == [b"printf", b"[%s]", "\u00e9".encode("utf-8"), b"\xff"]


HOSTILE_WORDS = [
    "-oProxyCommand=touch x",
    "a b",
    "it's",
    '"q"',
    "$(touch x)",
    "`touch x`",
    "new\nline",
    "h:o",
    "{{x}}",
    "\udcff",
]


def test_cached_split_and_argv_encoding_keep_hostile_names_as_data():
    """The command split cache and the argv encoding give the bytes shlex
    and os.fsencode give, for names that a shell would run or ssh parse."""
    import shlex

    from execo.utils import _split_words

    for w in HOSTILE_WORDS:
        cmd = "echo " + shlex.quote(w)
        assert _split_words(cmd) == tuple(shlex.split(cmd)) == ("echo", w)
        assert _split_words(cmd) == ("echo", w)  # (cached)
    p = Process(["printf", "%s|"] + HOSTILE_WORDS)
    assert p._argv() == [os.fsencode(a) for a in ["printf", "%s|"] + HOSTILE_WORDS]
    p.run()
    assert p.ok and p.stdout.encode("utf-8", "surrogateescape") == b"".join(
        os.fsencode(w) + b"|" for w in HOSTILE_WORDS
    )
