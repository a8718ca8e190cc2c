"""Tests of execo.log: logger, custom levels, handler, styles."""

import importlib
import logging
import os
import subprocess
import sys
import textwrap

import pytest

import execo.log
from execo import config, log
from execo.config import configuration


@pytest.fixture
def records():
    """Capture execo log records at every level."""
    captured = []

    class ListHandler(logging.Handler):
        def emit(self, record):
            captured.append(record)

    handler = ListHandler(level=1)
    old_level = log.logger.level
    log.logger.addHandler(handler)
    log.logger.setLevel(1)
    yield captured
    log.logger.removeHandler(handler)
    log.logger.setLevel(old_level)


def execo_handlers():
    return [h for h in logging.getLogger("execo").handlers if getattr(h, '_execo_handler', False)]


def test_logger_is_the_execo_logger():
    assert log.logger is logging.getLogger("execo")
    assert log.logger.propagate is False


def test_logger_level_from_configuration():
    assert log.logger.level == configuration['log_level']


def test_level_constants_reexported():
    assert (log.IODEBUG, log.FDEBUG, log.TRACE, log.DETAIL) == (
        config.IODEBUG,
        config.FDEBUG,
        config.TRACE,
        config.DETAIL,
    )


@pytest.mark.parametrize("level,name", [(3, 'IODEBUG'), (5, 'FDEBUG'), (12, 'TRACE'), (15, 'DETAIL')])
def test_level_names_registered(level, name):
    assert logging.getLevelName(level) == name
    assert logging.getLevelName(name) == level


def test_custom_level_methods(records):
    log.logger.iodebug("io %s", 1)
    log.logger.fdebug("fd %s", 2)
    log.logger.trace("tr %s", 3)
    log.logger.detail("de %s", 4)
    assert [(r.levelno, r.getMessage()) for r in records] == [(3, "io 1"), (5, "fd 2"), (12, "tr 3"), (15, "de 4")]
    # the caller is reported, not execo/log.py
    assert all(r.funcName == "test_custom_level_methods" for r in records)


def test_custom_level_methods_respect_level(records):
    log.logger.setLevel(logging.DEBUG)
    log.logger.iodebug("hidden")
    log.logger.fdebug("hidden")
    log.logger.trace("shown")
    assert [r.getMessage() for r in records] == ["shown"]


def test_single_handler_after_reload():
    assert len(execo_handlers()) == 1
    importlib.reload(execo.log)
    try:
        assert len(execo_handlers()) == 1
        assert execo.log.logger is logging.getLogger("execo")
    finally:
        importlib.reload(execo.log)


def test_logs_go_to_current_stderr(capsys, saved_config):
    configuration['color_mode'] = False
    log.logger.warning("something %s", "happened")
    captured = capsys.readouterr()
    assert captured.out == ""
    line = captured.err.strip()
    assert line.endswith("WARNING: something happened")
    assert "\033[" not in line


def test_logs_coloured_when_color_mode(capsys, saved_config):
    configuration['color_mode'] = True
    log.logger.error("bad")
    err = capsys.readouterr().err
    assert "\033[31mERROR\033[m" in err
    assert err.rstrip().endswith("bad")


def test_log_exception_traceback(capsys, saved_config):
    configuration['color_mode'] = False
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        log.logger.exception("failed")
    err = capsys.readouterr().err
    assert "failed" in err
    assert "Traceback" in err and "RuntimeError: boom" in err


def test_thread_and_function_shown_below_debug(capsys, saved_config):
    configuration['color_mode'] = False
    old = log.logger.level
    log.logger.setLevel(log.FDEBUG)
    try:
        log.logger.fdebug("x")
    finally:
        log.logger.setLevel(old)
    err = capsys.readouterr().err
    assert "FDEBUG MainThread - test_thread_and_function_shown_below_debug: x" in err


def test_style_plain_when_colours_off(saved_config):
    configuration['color_mode'] = False
    for f in (
        log.style.emph,
        log.style.host,
        log.style.command,
        log.style.report_error,
        log.style.report_warn,
        log.style.object_repr,
        log.style.log_header,
        log.style.user1,
        log.style.user2,
        log.style.user3,
    ):
        assert f("text") == "text"
    assert log.style.set(logging.INFO, 42) == "42"


def test_style_ansi_when_colours_on(saved_config):
    configuration['color_mode'] = True
    assert log.style.emph("x") == "\033[36mx\033[m"
    assert log.style.report_error("x") == "\033[31m\033[1mx\033[m"
    assert log.style.host("h") == "\033[35m\033[1mh\033[m"
    assert log.style.command("c") == "\033[34m\033[1mc\033[m"
    assert log.style.object_repr("o") == "\033[34mo\033[m"
    assert log.style.log_header("l") == "\033[33ml\033[m"
    assert log.style.report_warn("w") == "\033[35mw\033[m"
    assert log.style.set(logging.CRITICAL, "c") == "\033[33m\033[41mc\033[m"
    assert log.set_style('emph', "x") == log.style.emph("x")


def test_style_unknown_or_new_names(saved_config):
    configuration['color_mode'] = True
    assert log.style.no_such_style("x") == "x"
    configuration['color_styles']['mine'] = ('green', 'underline', 'not_an_attr')
    assert log.style.mine("x") == "\033[32m\033[4mx\033[m"
    with pytest.raises(AttributeError):
        _ = log.style._private


def test_ansi_styles_cover_default_color_styles():
    for attrs in configuration['color_styles'].values():
        for attr in attrs:
            assert log._ansi_styles[attr].startswith("\033[")
    for name in ('bold', 'reverse', 'red', 'green', 'yellow', 'blue', 'magenta', 'cyan', 'white', 'on_red', 'default'):
        assert name in log._ansi_styles


# ------------------------------------------------------------ secrets masked (issue 14)


def test_failure_log_masks_secrets_by_default(capsys, saved_config):
    from execo import Process

    Process("PGPASSWORD=hunter2 MY_API_KEY='x y' true --token=abc123; exit 3", shell=True).run()
    err = capsys.readouterr().err
    assert "exit_code=3" in err  # the failure was logged
    assert "PGPASSWORD=***" in err and "MY_API_KEY=***" in err and "--token=***" in err
    for secret in ("hunter2", "x y", "abc123"):
        assert secret not in err


def test_log_masks_configurable_and_off(capsys, saved_config):
    from execo import Process

    configuration["log_masks"] = (r"(-p)\S+", r"s3cr3t")
    Process("echo mysql -pPASSW s3cr3t; exit 2", shell=True).run()
    err = capsys.readouterr().err
    assert "mysql -p***" in err and "PASSW" not in err and "s3cr3t" not in err
    configuration["log_masks"] = ()
    Process("PGPASSWORD=hunter2 false", shell=True).run()
    assert "PGPASSWORD=hunter2" in capsys.readouterr().err


def test_bad_mask_pattern_never_breaks_logging(capsys, saved_config):
    configuration["log_masks"] = ("(unclosed", r"tok")
    log.logger.warning("a tok b")
    err = capsys.readouterr().err
    assert "a *** b" in err and "bad log_masks pattern" in err


def test_mask_secrets_function(saved_config):
    assert log.mask_secrets("DB_PASSWORD=x ok") == "DB_PASSWORD=*** ok"
    assert log.mask_secrets("nothing here") == "nothing here"
    # ssh's option names a password but holds none: execo's failure logs
    # show it on every ssh command line
    assert (
        log.mask_secrets("ssh -o PasswordAuthentication=no -o KbdPasswordToken=t0k h")
        == "ssh -o PasswordAuthentication=no -o KbdPasswordToken=*** h"
    )


# ------------------------------------ the application's logging set-up (issue 16)
# Each case runs in a fresh interpreter: the logging set-up is global.

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_app(tmp_path, code):
    """Run an application script in tmp_path; (stdout, stderr, run.log or None)."""
    env = dict(os.environ)
    env['PYTHONPATH'] = ROOT + os.pathsep + env.get('PYTHONPATH', '')
    env['HOME'] = str(tmp_path)  # no user ~/.execo.conf.py
    result = subprocess.run(
        [sys.executable, '-c', textwrap.dedent(code)],
        env=env,
        cwd=str(tmp_path),
        timeout=120,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    run_log = tmp_path / "run.log"
    return result.stdout, result.stderr, run_log.read_text() if run_log.exists() else None


def test_basicconfig_file_gets_execo_records_masked_without_colours(tmp_path):
    out, err, run_log = run_app(
        tmp_path,
        """
        import logging
        import execo
        from execo.config import configuration
        configuration['color_mode'] = True      # as on a terminal
        logging.basicConfig(filename="run.log", format="%(name)s %(levelname)s %(message)s")
        execo.Process("PGPASSWORD=hunter2 exit 3", shell=True).run()
        """,
    )
    assert run_log.startswith("execo WARNING ") and "terminated:" in run_log
    assert "exit_code=3" in run_log and "PGPASSWORD=***" in run_log
    assert "hunter2" not in run_log and "\033[" not in run_log
    # the terminal still shows it, as without a set-up: execo's format, colours
    assert err.count("terminated:") == 1 and "WARNING" in err and "\033[" in err
    assert "hunter2" not in err and out == ""


def test_child_logger_records_reach_the_file_masked(tmp_path):
    """Records of a child of execo's logger (execo_engine's "execo.engine")
    skip the execo logger's filters: masked all the same, on the
    terminal and in the application's file."""
    out, err, run_log = run_app(
        tmp_path,
        """
        import logging
        import execo
        logging.basicConfig(filename="run.log", format="%(name)s %(message)s")
        logging.getLogger("execo.engine").warning("db login: PGPASSWORD=hunter2 psql")
        """,
    )
    assert "execo.engine db login: PGPASSWORD=*** psql" in run_log
    assert "hunter2" not in run_log and "hunter2" not in err
    assert "PGPASSWORD=*** psql" in err


def test_basicconfig_to_stderr_prints_once_in_the_application_format(tmp_path):
    out, err, _ = run_app(
        tmp_path,
        """
        import logging
        logging.basicConfig(format="APP %(name)s %(levelname)s %(message)s")
        import execo
        execo.Process("exit 3", shell=True).run()
        execo.logger.info("an info")
        """,
    )
    assert err.count("terminated:") == 1 and err.startswith("APP execo WARNING ")
    assert err.count("an info") == 1 and "APP execo INFO an info" in err
    assert out == ""


def test_console_handler_added_after_a_first_record(tmp_path):
    out, err, _ = run_app(
        tmp_path,
        """
        import logging, sys
        import execo
        execo.logger.warning("before")
        logging.basicConfig(stream=sys.stdout, format="APP %(message)s")
        execo.logger.warning("after")
        """,
    )
    assert err.count("before") == 1 and "WARNING: before" in err and "after" not in err
    assert out == "APP after\n"


def test_no_logging_set_up_keeps_execo_stderr_output(tmp_path):
    out, err, run_log = run_app(
        tmp_path,
        """
        import execo
        execo.Process("exit 3", shell=True).run()
        """,
    )
    assert err.count("terminated:") == 1 and "WARNING: " in err
    assert "\033[" not in err  # not a terminal: no colours
    assert out == "" and run_log is None


def test_levels_with_an_application_file(tmp_path):
    # execo's records are those of configuration['log_level'] (the root
    # logger's level does not filter them); the handlers' levels do
    out, err, run_log = run_app(
        tmp_path,
        """
        import logging
        import execo
        logging.basicConfig(filename="run.log", level=logging.DEBUG, format="%(message)s")
        execo.logger.info("info-1")
        execo.logger.debug("debug-1")
        logging.root.handlers[0].setLevel(logging.WARNING)
        execo.logger.info("info-2")
        execo.logger.warning("warning-2")
        execo.logger.setLevel(logging.DEBUG)
        logging.root.handlers[0].setLevel(logging.NOTSET)
        execo.logger.debug("debug-3")
        """,
    )
    assert run_log.split() == ["info-1", "warning-2", "debug-3"]
    for message in ("info-1", "info-2", "warning-2", "debug-3"):
        assert err.count(message) == 1, message
    assert "debug-1" not in err


def test_console_handler_above_a_level_leaves_the_rest_to_execo(tmp_path):
    out, err, _ = run_app(
        tmp_path,
        """
        import logging, sys
        import execo
        handler = logging.StreamHandler(sys.stderr)
        handler.setLevel(logging.WARNING)
        handler.setFormatter(logging.Formatter("APP %(message)s"))
        logging.root.addHandler(handler)
        execo.logger.info("an info")
        execo.logger.warning("a warning")
        """,
    )
    assert err.count("an info") == 1 and "INFO: an info" in err
    assert err.count("a warning") == 1 and "APP a warning" in err


def test_propagate_set_by_the_application_gives_no_duplicates(tmp_path):
    out, err, run_log = run_app(
        tmp_path,
        """
        import logging
        import execo
        logging.basicConfig(filename="run.log", format="%(message)s")
        execo.logger.propagate = True
        execo.logger.warning("once PGPASSWORD=hunter2")
        """,
    )
    assert run_log == "once PGPASSWORD=***\n"
    assert err.count("once") == 1 and "hunter2" not in err
