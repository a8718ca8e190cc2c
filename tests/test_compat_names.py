"""The compatibility names kept for execo 2.8.2's execo_engine and
execo_g5k, with 2.8.2's behaviour (test_sister_packages.py runs the real
packages; these run without the package index)."""

import io
import os

import pytest

import execo
from execo import config, utils
from execo.action import Action, ActionNotificationProcessLH
from execo.process import Process, get_process, handle_process_output


def test_compatibility_names_are_not_exported():
    for name in (
        "MAXFD",
        "comma_join",
        "checked_min",
        "do_once",
        "is_string",
        "Logger",
        "make_connection_params",
        "get_user_config_filename",
        "handle_process_output",
        "ActionNotificationProcessLH",
    ):
        assert name not in execo.__all__


def test_utils_helpers():
    assert utils.MAXFD == os.sysconf("SC_OPEN_MAX")
    assert utils.comma_join("", "a=1", "", "b=2") == "a=1, b=2"
    assert utils.checked_min(None, 3) == 3 and utils.checked_min(2, None) == 2
    assert utils.checked_min(None, None) is None and utils.checked_min(5, 4) == 4
    assert utils.is_string("x") and not utils.is_string(b"x")
    calls = []
    f = lambda x: calls.append(x) or len(calls)
    assert [utils.do_once("k", f, 1), utils.do_once("k", f, 2), utils.do_once("j", f, 3)] == [1, 1, 2]
    assert calls == [1, 3]


def test_connection_params_helpers(saved_config):
    assert config.get_user_config_filename() == config.user_configuration_file
    config.default_connection_params["user"] = "someone"
    builtin = config.make_default_connection_params()
    assert builtin["user"] is None and builtin["ssh"] == "ssh"
    assert config.make_connection_params()["user"] == "someone"
    params = config.make_connection_params({"port": 2222}, {"pty": True})
    assert (params["user"], params["port"], params["pty"], params["ssh"]) == (None, 2222, True, "ssh")


def test_load_configuration_dicts_form(tmp_path, saved_config):
    # a missing file is no error in this form
    mine = {"a": 1}
    config.load_configuration(str(tmp_path / "missing.py"), [(mine, "mine")])
    assert mine == {"a": 1}
    counter = tmp_path / "runs"
    path = tmp_path / "conf.py"
    path.write_text(
        "open(%r, 'a').write('x')\nconfiguration = {'kill_timeout': 7}\nmine = {'b': SSH}\n" % (str(counter),)
    )
    config.load_configuration(str(path))
    assert config.configuration["kill_timeout"] == 7
    # the file already executed, unchanged: its definitions are reused
    config.load_configuration(str(path), [(mine, "mine"), ({}, "absent")])
    assert mine == {"a": 1, "b": config.SSH}
    assert counter.read_text() == "x"
    path.write_text("mine = 3\n")
    with pytest.raises(ValueError, match="must be a dict"):
        config.load_configuration(str(path), [(mine, "mine")])


def test_get_process_local_ignores_connection_params():
    p = get_process("true", host=None, connection_params={"user": "x"})
    assert type(p) is Process
    assert p.run().ok


class _Manual(Action):
    """An action written as in execo 2.8.2: its own processes list and an
    ActionNotificationProcessLH."""

    def __init__(self, n):
        super(_Manual, self).__init__()
        self.processes = []
        lh = ActionNotificationProcessLH(self, n)
        for _i in range(n):
            p = Process("true")
            p.lifecycle_handlers.append(lh)
            self.processes.append(p)
        self.lh = lh
        self.notified = 0

    def _notify_terminated(self):
        self.notified += 1
        super(_Manual, self)._notify_terminated()


def test_action_notification_process_lh_ends_the_action():
    a = _Manual(3).run(timeout=60)
    assert a.ended and a.ok and a.notified == 1
    assert a.lh.terminated_processes == 3
    a.reset()
    assert a.lh.terminated_processes == 0
    a.run(timeout=60)
    assert a.ended and a.notified == 2


def test_handle_process_output_targets(tmp_path):
    p1, p2 = Process("true"), Process("true")
    name = str(tmp_path / "out")
    handle_process_output(p1, 1, name, "one\n", False, False)
    handle_process_output(p2, 1, name, "two\n", False, False)
    handle_process_output(p1, 1, name, "", True, False)
    handle_process_output(p2, 1, name, "three\n", True, False)
    with open(name) as f:
        assert f.read() == "one\ntwo\nthree\n"
    buf = io.StringIO()
    handle_process_output(p1, 1, buf, "text", False, False)
    assert buf.getvalue() == "text"
    r, w = os.pipe()
    handle_process_output(p1, 2, w, "é\n", False, False)
    os.close(w)
    assert os.read(r, 100) == "é\n".encode()
    os.close(r)
    got = []

    class H(execo.ProcessOutputHandler):
        def read(self, process, stream, string, eof, error):
            got.append((process, stream, string, eof, error))

    handle_process_output(p2, 2, H(), "x", True, False)
    assert got == [(p2, 2, "x", True, False)]
