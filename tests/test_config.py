"""Tests of execo.config: constants, default values, user configuration file."""

import copy
import logging
import os
import pty
import subprocess
import sys
import textwrap

import pytest

from execo import config
from execo.config import configuration, default_connection_params

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

SPEC_COLOR_STYLES = {
    'log_header': ('yellow',),
    'object_repr': ('blue',),
    'emph': ('cyan',),
    'report_warn': ('magenta',),
    'report_error': ('red', 'bold'),
    'command': ('blue', 'bold'),
    'host': ('magenta', 'bold'),
    'user1': ('green', 'bold'),
    'user2': ('yellow', 'bold'),
    'user3': ('cyan', 'bold'),
    3: ('green', 'reverse'),
    5: ('green', 'reverse'),
    10: ('green',),
    12: ('green', 'bold'),
    15: ('magenta', 'bold'),
    20: ('magenta',),
    30: ('cyan',),
    40: ('red',),
    50: ('yellow', 'on_red'),
}

SPEC_CONNECTION_PARAMS = {
    'user': None,
    'keyfile': None,
    'port': None,
    'ssh': 'ssh',
    'scp': 'scp',
    'taktuk': 'taktuk',
    'ssh_options': (
        '-tt',
        '-o',
        'BatchMode=yes',
        '-o',
        'PasswordAuthentication=no',
        '-o',
        'StrictHostKeyChecking=no',
        '-o',
        'UserKnownHostsFile=/dev/null',
        '-o',
        'ConnectTimeout=20',
    ),
    'scp_options': (
        '-o',
        'BatchMode=yes',
        '-o',
        'PasswordAuthentication=no',
        '-o',
        'StrictHostKeyChecking=no',
        '-o',
        'UserKnownHostsFile=/dev/null',
        '-o',
        'ConnectTimeout=20',
        '-rp',
    ),
    'taktuk_options': ('-s',),
    'taktuk_connector': 'ssh',
    'taktuk_connector_options': (
        '-o',
        'BatchMode=yes',
        '-o',
        'PasswordAuthentication=no',
        '-o',
        'StrictHostKeyChecking=no',
        '-o',
        'UserKnownHostsFile=/dev/null',
        '-o',
        'ConnectTimeout=20',
    ),
    'chainput_nc_client_timeout': 5,
    'chainput_nc_server_timeout': 30,
    'nc': '/bin/nc.traditional -v -v',
    'chainput_host_retry': 5,
    'chainput_chain_retry': 10,
    'chainput_try_delay': 1,
    'forwarding_timeout': 25,
    'pty': False,
    'host_rewrite_func': None,
}


def run_python(code, env_update=None, **kwargs):
    """Run python code in a fresh interpreter, with the repository on sys.path."""
    env = dict(os.environ)
    env['PYTHONPATH'] = ROOT + os.pathsep + env.get('PYTHONPATH', '')
    env.update(env_update or {})
    return subprocess.run([sys.executable, '-c', code], env=env, cwd=ROOT, timeout=60, **kwargs)


def write(path, text):
    path.write_text(textwrap.dedent(text))
    return str(path)


def test_tool_constants():
    assert (config.SSH, config.SCP, config.TAKTUK, config.CHAINPUT) == (0, 1, 2, 3)


def test_log_level_constants():
    assert (config.IODEBUG, config.FDEBUG, config.TRACE, config.DETAIL) == (3, 5, 12, 15)


@pytest.mark.skipif(
    os.path.exists(os.path.expanduser("~/.execo.conf.py")), reason="a user configuration file changes the defaults"
)
def test_configuration_defaults():
    assert set(configuration) == {
        'log_level',
        'remote_tool',
        'fileput_tool',
        'fileget_tool',
        'compact_output_threshold',
        'kill_timeout',
        'intr_period',
        'port_range',
        'kill_childs_at_end',
        'color_mode',
        'color_styles',
        'poller',
        'child_watcher',
        'log_masks',
        'expect_search_timeout',
        'fanout',
    }
    assert configuration['log_level'] == logging.INFO
    assert configuration['remote_tool'] == config.SSH
    assert configuration['fileput_tool'] == config.SCP
    assert configuration['fileget_tool'] == config.SCP
    assert configuration['compact_output_threshold'] == 4096
    assert configuration['kill_timeout'] == 60
    assert configuration['intr_period'] == 1
    assert configuration['port_range'] == (25500, 26700)
    assert configuration['kill_childs_at_end'] is True
    assert configuration['color_styles'] == SPEC_COLOR_STYLES
    assert configuration['poller'] == 'auto'
    assert configuration['child_watcher'] == 'auto'
    assert configuration['expect_search_timeout'] == 10


@pytest.mark.skipif(
    os.path.exists(os.path.expanduser("~/.execo.conf.py")), reason="a user configuration file changes the defaults"
)
def test_default_connection_params():
    assert default_connection_params == SPEC_CONNECTION_PARAMS


def test_color_mode_false_when_not_a_tty():
    result = run_python(
        "from execo.config import configuration as c; print(c['color_mode'])", capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_color_mode_true_when_stdout_and_stderr_are_ttys(tmp_path):
    master, slave = pty.openpty()
    out = tmp_path / "out"
    try:
        result = run_python(
            "from execo.config import configuration as c\nopen(%r, 'w').write(repr(c['color_mode']))" % str(out),
            stdout=slave,
            stderr=slave,
            stdin=subprocess.DEVNULL,
        )
    finally:
        os.close(slave)
        os.close(master)
    assert result.returncode == 0
    assert out.read_text() == "True"


def test_checktty():
    class Tty:
        def isatty(self):
            return True

    class NotTty:
        def isatty(self):
            return False

    class Broken:
        def isatty(self):
            raise ValueError("I/O operation on closed file")

    assert config.checktty(Tty()) is True
    assert config.checktty(NotTty()) is False
    assert config.checktty(Broken()) is False
    assert config.checktty(object()) is False


def test_load_configuration_updates_dicts(tmp_path, saved_config):
    path = write(
        tmp_path / "conf.py",
        """
        configuration = {'kill_timeout': 5, 'remote_tool': TAKTUK,
                         'log_level': logging.DEBUG}
        default_connection_params = {'user': 'bob', 'ssh_options': ('-x',)}
        unrelated = 42
        """,
    )
    config.load_configuration(path)
    assert configuration['kill_timeout'] == 5
    assert configuration['remote_tool'] == config.TAKTUK
    assert configuration['log_level'] == logging.DEBUG
    assert configuration['intr_period'] == 1  # untouched
    assert default_connection_params['user'] == 'bob'
    assert default_connection_params['ssh_options'] == ('-x',)
    assert default_connection_params['scp'] == 'scp'  # untouched


def test_load_configuration_only_one_dict(tmp_path, saved_config):
    before = dict(configuration)
    path = write(tmp_path / "conf.py", "default_connection_params = {'port': 2222}\n")
    config.load_configuration(path)
    assert default_connection_params['port'] == 2222
    assert configuration == before


def test_load_configuration_unknown_key(tmp_path, saved_config):
    path = write(
        tmp_path / "conf.py",
        """
        configuration = {'kill_timeout': 5}
        default_connection_params = {'usr': 'bob'}
        """,
    )
    before = copy.deepcopy((configuration, default_connection_params))
    with pytest.raises(ValueError) as excinfo:
        config.load_configuration(path)
    assert "'usr'" in str(excinfo.value)
    assert path in str(excinfo.value)
    # nothing applied, not even the valid dict
    assert (configuration, default_connection_params) == before


def test_load_configuration_accepts_optional_connection_params(tmp_path, saved_config):
    assert 'ssh_connection_sharing' not in default_connection_params
    path = write(tmp_path / "conf.py", "default_connection_params = {'ssh_connection_sharing': 60}\n")
    config.load_configuration(path)
    assert default_connection_params['ssh_connection_sharing'] == 60
    from execo.ssh_utils import get_ssh_argv

    assert "ControlPersist=60" in get_ssh_argv("h", "true")


def test_load_configuration_accepts_ssh_connect_retries(tmp_path, saved_config):
    # absent by default (the spec's dict is unchanged), 5 when absent
    assert 'ssh_connect_retries' not in default_connection_params
    from execo.ssh_process import SshProcess

    assert SshProcess("true", "h")._max_connect_retries == 5
    path = write(tmp_path / "conf.py", "default_connection_params = {'ssh_connect_retries': 2}\n")
    config.load_configuration(path)
    assert default_connection_params['ssh_connect_retries'] == 2
    assert SshProcess("true", "h")._max_connect_retries == 2
    assert SshProcess("true", "h", connection_params={'ssh_connect_retries': 0})._max_connect_retries == 0


def test_load_configuration_unknown_configuration_key(tmp_path, saved_config):
    path = write(tmp_path / "conf.py", "configuration = {'kill_timeuot': 5}\n")
    with pytest.raises(ValueError, match="kill_timeuot"):
        config.load_configuration(path)


def test_load_configuration_not_a_dict(tmp_path, saved_config):
    path = write(tmp_path / "conf.py", "configuration = [('kill_timeout', 5)]\n")
    with pytest.raises(ValueError, match="dict"):
        config.load_configuration(path)


def test_load_configuration_syntax_error(tmp_path, saved_config):
    path = write(tmp_path / "conf.py", "configuration = {'kill_timeout': \n")
    with pytest.raises(ValueError) as excinfo:
        config.load_configuration(path)
    assert path in str(excinfo.value)
    assert "syntax" in str(excinfo.value).lower()


def test_load_configuration_runtime_error(tmp_path, saved_config):
    path = write(tmp_path / "conf.py", "configuration = {'kill_timeout': 1 / 0}\n")
    with pytest.raises(ValueError) as excinfo:
        config.load_configuration(path)
    assert path in str(excinfo.value)
    assert "ZeroDivisionError" in str(excinfo.value)


def test_user_configuration_file_loaded_at_import(tmp_path):
    write(
        tmp_path / ".execo.conf.py",
        """
        configuration = {'kill_timeout': 7}
        default_connection_params = {'user': 'alice'}
        """,
    )
    result = run_python(
        "from execo.config import configuration as c, default_connection_params as d\n"
        "print(c['kill_timeout'], d['user'])",
        env_update={'HOME': str(tmp_path)},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ['7', 'alice']


def test_user_configuration_file_unknown_key_fails_import(tmp_path):
    path = write(tmp_path / ".execo.conf.py", "configuration = {'no_such_key': 1}\n")
    result = run_python("import execo.config", env_update={'HOME': str(tmp_path)}, capture_output=True, text=True)
    assert result.returncode != 0
    assert "ValueError" in result.stderr
    assert "no_such_key" in result.stderr
    assert path in result.stderr


def test_no_user_configuration_file(tmp_path):
    result = run_python(
        "from execo.config import configuration as c, user_configuration_file as f\nprint(c['kill_timeout'], f)",
        env_update={'HOME': str(tmp_path)},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ['60', str(tmp_path / ".execo.conf.py")]


def test_strict_ssh_preset_checks_host_keys(tmp_path, saved_config):
    from execo.config import STRICT_SSH_CONNECTION_PARAMS
    from execo.ssh_utils import get_scp_put_argv, get_ssh_argv

    argv = get_ssh_argv("h", "true", STRICT_SSH_CONNECTION_PARAMS)
    assert "StrictHostKeyChecking=yes" in argv and "UserKnownHostsFile=/dev/null" not in argv
    assert "StrictHostKeyChecking=yes" in get_scp_put_argv("h", "f", ".", STRICT_SSH_CONNECTION_PARAMS)
    path = write(tmp_path / "conf.py", "default_connection_params = dict(STRICT_SSH_CONNECTION_PARAMS)\n")
    config.load_configuration(path)
    assert default_connection_params['ssh_options'] == STRICT_SSH_CONNECTION_PARAMS['ssh_options']
