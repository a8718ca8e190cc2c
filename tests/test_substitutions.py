"""Tests of execo.substitutions (remote_substitute and caller context
capture), written from the API spec."""

import pytest

from execo.host import Host
from execo.substitutions import SubstitutionError, frame_transparent, get_caller_context, remote_substitute

MODULE_LEVEL_LIST = ["g0", "g1"]


def ctx(**loc):
    return (globals(), loc)


def test_spec_example_six_hosts_three_hosts():
    hosts1 = [Host(x) for x in "abcdef"]
    hosts2 = [Host(x) for x in "123"]
    cmd = "iperf -c {{[host.address for host in hosts2]}}"
    context = (globals(), {"hosts2": hosts2})
    got = [remote_substitute(cmd, hosts1, i, context) for i in range(len(hosts1))]
    assert got == ["iperf -c 1", "iperf -c 2", "iperf -c 3", "iperf -c 1", "iperf -c 2", "iperf -c 3"]
    mapping = dict(zip((h.address for h in hosts1), (g.split()[-1] for g in got)))
    assert mapping == {"a": "1", "b": "2", "c": "3", "d": "1", "e": "2", "f": "3"}


def test_host_tag_host_and_str():
    hosts = [Host("node-1"), Host("node-2", user="u", port=2222)]
    assert remote_substitute("ping {{{host}}}", hosts, 0, ctx()) == "ping node-1"
    assert remote_substitute("{{{host}}}:{{{host}}}", hosts, 1, ctx()) == "node-2:node-2"
    assert remote_substitute("x{{{host}}}y", ["plain", "other"], 1, ctx()) == "xothery"


def test_host_and_expression_together():
    hosts = [Host("h%i" % i) for i in range(4)]
    files = ["f0", "f1"]
    out = [
        remote_substitute(
            "scp {{files}} {{{host}}}:/tmp/{{ranks}}", hosts, i, ctx(files=files, ranks=list(range(10, 14)))
        )
        for i in range(4)
    ]
    assert out == ["scp f0 h0:/tmp/10", "scp f1 h1:/tmp/11", "scp f0 h2:/tmp/12", "scp f1 h3:/tmp/13"]


def test_no_tags_unchanged():
    s = "echo { } {x} {{ nothing"
    assert remote_substitute(s, [Host("a")], 0, ctx()) == s


def test_str_conversion_and_globals():
    hosts = [Host("a"), Host("b"), Host("c")]
    assert [remote_substitute("n={{[1.5, None]}}", hosts, i, ctx()) for i in range(3)] == ["n=1.5", "n=None", "n=1.5"]
    assert remote_substitute("{{MODULE_LEVEL_LIST}}", hosts, 1, ctx()) == "g1"


def test_locals_override_globals():
    assert remote_substitute("{{MODULE_LEVEL_LIST}}", ["a"], 0, ctx(MODULE_LEVEL_LIST=["local"])) == "local"


def test_string_is_a_sequence():
    assert [remote_substitute("{{'xyz'}}", ["a"] * 4, i, ctx()) for i in range(4)] == ["x", "y", "z", "x"]


def test_bad_expression_names_it():
    with pytest.raises(SubstitutionError) as ei:
        remote_substitute("echo {{undefined_name_xyz}}", [Host("a")], 0, ctx())
    assert "undefined_name_xyz" in str(ei.value)
    assert isinstance(ei.value, ValueError)
    assert isinstance(ei.value.__cause__, NameError)
    assert ei.value.expression == "undefined_name_xyz"


def test_not_a_sequence_names_it():
    with pytest.raises(ValueError) as ei:
        remote_substitute("echo {{42}}", [Host("a")], 0, ctx())
    assert "42" in str(ei.value)
    with pytest.raises(ValueError) as ei:
        remote_substitute("echo {{[]}}", [Host("a")], 0, ctx())
    assert "[]" in str(ei.value)


def test_syntax_error_names_it():
    with pytest.raises(SubstitutionError) as ei:
        remote_substitute("echo {{1 +* 2}}", [Host("a")], 0, ctx())
    assert "1 +* 2" in str(ei.value)


# ----------------------------------------------------------- frame context


class FakeAction(object):
    """Mimics an action constructor chain capturing its caller context."""

    def __init__(self, cmd, hosts):
        self.cmd = cmd
        self.hosts = hosts
        self.context = get_caller_context(self)
        self.cmds = [remote_substitute(cmd, hosts, i, self.context) for i in range(len(hosts))]


class FakeSubAction(FakeAction):
    def __init__(self, cmd, hosts):
        local_in_subclass = ["WRONG"]  # noqa: F841 (must not be seen)
        super(FakeSubAction, self).__init__(cmd, hosts)


@frame_transparent
def fake_factory(cmd, hosts):
    inside_factory = ["WRONG"]  # noqa: F841
    return FakeSubAction(cmd, hosts)


def test_caller_context_sees_function_locals():
    def user_function():
        ports = [5001, 5002]  # noqa: F841 (read by the {{...}} expression)
        return FakeAction("nc {{{host}}} {{ports}}", ["a", "b", "c"])

    a = user_function()
    assert a.cmds == ["nc a 5001", "nc b 5002", "nc c 5001"]
    assert a.context[1]["ports"] == [5001, 5002]
    assert a.context[0] is globals()


def test_caller_context_skips_constructor_chain_of_subclasses():
    local_in_subclass = ["right"]  # noqa: F841
    a = FakeSubAction("{{local_in_subclass}}", ["h"])
    assert a.cmds == ["right"]


def test_caller_context_skips_transparent_factories():
    inside_factory = ["right"]  # noqa: F841
    a = fake_factory("{{inside_factory}}", ["h"])
    assert a.cmds == ["right"]


def test_caller_context_without_obj_and_depth():
    def helper():
        return get_caller_context()

    def helper_up():
        return get_caller_context(depth=1)

    marker = "here"  # noqa: F841
    g, l = helper()
    assert "marker" not in l  # helper's own frame
    g, l = helper_up()
    assert l["marker"] == "here"
    assert g is globals()


def test_closure_and_comprehension_in_expression():
    def user_function():
        base = 10  # noqa: F841 (read by the {{...}} expression)
        names = ["n%i" % i for i in range(3)]  # noqa: F841 (read by the {{...}} expression)
        return FakeAction("{{[n + str(base) for n in names]}}", ["a", "b", "c", "d"])

    assert user_function().cmds == ["n010", "n110", "n210", "n010"]


# ------------------------------------------------------------ names are data (issue 14)


def test_host_values_are_never_scanned_for_expressions(tmp_path):
    from execo.substitutions import remote_substitute

    marker = tmp_path / "EVALUATED"
    hostile = "{{[open(%r, 'w')]}}" % (str(marker),)
    # a host given as a plain string (Host refuses braces, strings reach
    # remote_substitute as they are)
    out = remote_substitute("get /tmp/result-{{{host}}}.txt", [hostile], 0, (globals(), {}))
    assert out == "get /tmp/result-%s.txt" % (hostile,)
    assert not marker.exists()


def test_expression_values_are_not_rescanned():
    from execo.substitutions import remote_substitute

    values = ["{{{host}}} {{boom}}"]
    out = remote_substitute("{{values}} {{{host}}}", ["h1"], 0, ({"values": values}, {}))
    assert out == "{{{host}}} {{boom}} h1"


def test_no_expressions_keeps_braces_and_replaces_host():
    from execo import Remote
    from execo.substitutions import NO_EXPRESSIONS, no_expressions, remote_substitute

    assert remote_substitute("{{.State}} {{x}} {{{host}}}", ["h"], 0, NO_EXPRESSIONS) == "{{.State}} {{x}} h"
    with no_expressions():
        r = Remote("echo '{{.State.Running}}' {{{host}}} {{[1, 2]}}", ["a", "b"])
    assert [p.remote_cmd for p in r.processes] == [
        "echo '{{.State.Running}}' a {{[1, 2]}}",
        "echo '{{.State.Running}}' b {{[1, 2]}}",
    ]
    # outside the block, evaluated again
    r = Remote("echo {{[1, 2]}}", ["a", "b"])
    assert [p.remote_cmd for p in r.processes] == ["echo 1", "echo 2"]


def test_no_expressions_is_per_thread():
    import threading

    from execo import Remote
    from execo.substitutions import no_expressions

    inside = threading.Event()
    release = threading.Event()
    results = []

    def holder():
        with no_expressions():
            inside.set()
            release.wait(10)

    t = threading.Thread(target=holder)
    t.start()
    try:
        assert inside.wait(10)
        results.append(Remote("echo {{[7]}}", ["a"]).processes[0].remote_cmd)
    finally:
        release.set()
        t.join()
    assert results == ["echo 7"]


def test_no_substitutions_keeps_every_string_as_it_is():
    from execo import Put
    from execo.substitutions import NO_SUBSTITUTIONS, no_expressions, remote_substitute

    assert remote_substitute("{{{host}}} {{x}}", ["h"], 0, NO_SUBSTITUTIONS) == "{{{host}}} {{x}}"
    with no_expressions(host=False):
        put = Put(["a"], ["{{{host}}}", "{{[1]}}"], "/tmp/{{{host}}}")
    assert put.processes[0].cmd[-3:] == ("./{{{host}}}", "./{{[1]}}", "a:/tmp/{{{host}}}")
    with no_expressions():
        put = Put(["a"], ["{{{host}}}"], "/tmp")
    assert put.processes[0].cmd[-2] == "./a"
