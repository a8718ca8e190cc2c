"""The names of the ``execo`` package: what ``from execo import *`` gives.

Scripts written for execo 2.8.2 start with ``from execo import *``: every
name 2.8.2's package exported must be there, every public name of the
spec too, and nothing else (no private helper leaks into the scripts'
namespace)."""

import importlib

import execo

#: the names execo 2.8.2's execo/__init__.py imported (its ``import *`` set,
#: submodules aside)
EXECO_282 = {
    "logger",
    "configuration",
    "default_connection_params",
    "SSH",
    "TAKTUK",
    "SCP",
    "CHAINPUT",
    "sleep",
    "Timer",
    "format_date",
    "format_duration",
    "get_seconds",
    "get_unixts",
    "Host",
    "Process",
    "SshProcess",
    "get_process",
    "ProcessLifecycleHandler",
    "ProcessOutputHandler",
    "PortForwarder",
    "Serial",
    "SerialSsh",
    "STDOUT",
    "STDERR",
    "ExpectOutputHandler",
    "Action",
    "wait_any_actions",
    "wait_all_actions",
    "Remote",
    "Put",
    "Get",
    "TaktukRemote",
    "TaktukPut",
    "TaktukGet",
    "Local",
    "ParallelActions",
    "SequentialActions",
    "default_action_factory",
    "get_remote",
    "get_fileput",
    "get_fileget",
    "ActionLifecycleHandler",
    "ChainPut",
    "filter_bad_hosts",
    "RemoteSerial",
    "Report",
    "ProcessesFailed",
    "ActionsFailed",
}

#: the public names of the spec, by module, that the package re-exports
#: (the spec's time_utils converters and execo.log._ansi_styles stay in
#: their modules, as in 2.8.2)
SPEC = {
    "execo.process": {
        "ProcessBase",
        "Process",
        "SshProcess",
        "TaktukProcess",
        "Serial",
        "SerialSsh",
        "PortForwarder",
        "ProcessLifecycleHandler",
        "ProcessOutputHandler",
        "ExpectOutputHandler",
        "get_process",
        "STDOUT",
        "STDERR",
    },
    "execo.action": {
        "Action",
        "Remote",
        "TaktukRemote",
        "RemoteSerial",
        "Put",
        "TaktukPut",
        "ChainPut",
        "Get",
        "TaktukGet",
        "Local",
        "ParallelActions",
        "SequentialActions",
        "ActionLifecycleHandler",
        "wait_any_actions",
        "wait_all_actions",
        "filter_bad_hosts",
        "ActionFactory",
        "get_remote",
        "get_fileput",
        "get_fileget",
        "default_action_factory",
    },
    "execo.substitutions": {"remote_substitute"},
    "execo.host": {"Host", "get_hosts_list", "get_hosts_set"},
    "execo.report": {"Report"},
    "execo.time_utils": {"Timer", "sleep", "get_unixts", "get_seconds", "format_date", "format_duration"},
    "execo.exception": {"ProcessesFailed", "ActionsFailed"},
    "execo.utils": {"memoize", "get_port"},
    "execo.log": {"logger"},
    "execo.config": {"configuration", "default_connection_params", "SSH", "TAKTUK", "SCP", "CHAINPUT"},
}

EXPECTED = EXECO_282.union(*SPEC.values())


def star_import():
    namespace = {}
    exec("from execo import *", namespace)
    namespace.pop("__builtins__")
    return set(namespace)


def test_star_import_gives_every_282_name():
    assert EXECO_282 - star_import() == set()


def test_actions_failed_at_top_level():
    from execo.exception import ActionsFailed

    assert execo.ActionsFailed is ActionsFailed


def test_star_import_gives_every_spec_name_as_its_module_defines_it():
    names = star_import()
    for module_name, expected in SPEC.items():
        module = importlib.import_module(module_name)
        for name in expected:
            assert name in names, (module_name, name)
            assert getattr(execo, name) is getattr(module, name), (module_name, name)


def test_star_import_gives_nothing_else():
    names = star_import()
    assert names == EXPECTED, "extra: %s, missing: %s" % (sorted(names - EXPECTED), sorted(EXPECTED - names))
    assert not [n for n in names if n.startswith("_")]


def test_all_lists_defined_names_once():
    assert len(execo.__all__) == len(set(execo.__all__))
    for name in execo.__all__:
        assert hasattr(execo, name), name
