"""execo logging and terminal colours.

:data:`logger` is the standard :mod:`logging` logger named ``"execo"``.
It logs at the level ``configuration['log_level']`` to the current
``sys.stderr`` (``execo.log.logger_handler``, in execo's format, coloured as
:data:`style` says). Its records also reach the handlers the
application gave the root logger (``logging.basicConfig(filename=...)``
...), whenever they were added, without colour codes; the root logger's
own level does not filter them, its handlers' levels do (as for any
logger that propagates). When one of those handlers writes to the
terminal, stderr or stdout, execo's own handler leaves it the records
it takes, so nothing is printed twice. ``logger.propagate`` is False
(the forwarding is execo's, to strip the colours); set it to True and
the standard propagation takes over. Every message goes through
``configuration['log_masks']`` first, so secrets on command lines
(``PGPASSWORD=...``) are logged as ``***``, in the application's
handlers too. Besides the usual methods, it has ``iodebug()``,
``fdebug()``, ``trace()`` and ``detail()`` for the custom levels
:data:`IODEBUG`, :data:`FDEBUG`, :data:`TRACE` and :data:`DETAIL`.

:data:`style` colours text with ANSI escape sequences according to
``configuration['color_styles']``, only when
``configuration['color_mode']`` is true (by default: when stdout and
stderr are terminals): ``style.emph("x")``, ``style.host("h")``,
``style.set(logging.INFO, "text")``...
"""

from __future__ import annotations

import logging
import re
import sys
from typing import TYPE_CHECKING, Any, Callable, List, TextIO, Union, cast

from .config import DETAIL, FDEBUG, IODEBUG, TRACE, configuration

__all__ = ['logger', 'style', 'set_style', 'mask_secrets', 'IODEBUG', 'FDEBUG', 'TRACE', 'DETAIL']

_ansi_styles = {
    'default': '\033[m',
    # attributes
    'bold': '\033[1m',
    'underline': '\033[4m',
    'blink': '\033[5m',
    'reverse': '\033[7m',
    'concealed': '\033[8m',
    # foreground colours
    'black': '\033[30m',
    'red': '\033[31m',
    'green': '\033[32m',
    'yellow': '\033[33m',
    'blue': '\033[34m',
    'magenta': '\033[35m',
    'cyan': '\033[36m',
    'white': '\033[37m',
    # background colours
    'on_black': '\033[40m',
    'on_red': '\033[41m',
    'on_green': '\033[42m',
    'on_yellow': '\033[43m',
    'on_blue': '\033[44m',
    'on_magenta': '\033[45m',
    'on_cyan': '\033[46m',
    'on_white': '\033[47m',
}
"""ANSI escape sequences, by attribute name, usable in ``color_styles``."""


def _style_prefix(style_id: Union[str, int]) -> str:
    """Return the ANSI sequence for a style identifier, or '' if none or colours are off."""
    if not configuration.get('color_mode'):
        return ''
    attrs = configuration.get('color_styles', {}).get(style_id) or ()
    # unknown attribute names are ignored: logging must never fail on a typo
    return ''.join(_ansi_styles.get(attr, '') for attr in attrs)


def set_style(style_id: Union[str, int], text: object) -> str:
    """Return ``text`` enclosed in the ANSI codes of style ``style_id``.

    ``style_id`` is a key of ``configuration['color_styles']`` (a name
    such as ``'emph'`` or a log level number). Returns ``str(text)``
    unchanged when colours are off or the style is unknown.
    """
    prefix = _style_prefix(style_id)
    if not prefix:
        return str(text)
    return "%s%s%s" % (prefix, text, _ansi_styles['default'])


class Styler:
    """Colour text by style name: ``style.emph(text)``, ``style.set(level, text)``.

    Any attribute name is accepted and looked up in
    ``configuration['color_styles']`` at call time, so styles added to
    the configuration are usable right away.
    """

    def set(self, style_id: Union[str, int], text: object) -> str:
        """Colour ``text`` with the style ``style_id`` (name or log level)."""
        return set_style(style_id, text)

    __call__ = set

    def emph(self, text: object) -> str:
        """Emphasized text."""
        return set_style('emph', text)

    def host(self, text: object) -> str:
        """A host name."""
        return set_style('host', text)

    def command(self, text: object) -> str:
        """A command line."""
        return set_style('command', text)

    def object_repr(self, text: object) -> str:
        """The representation of an object."""
        return set_style('object_repr', text)

    def log_header(self, text: object) -> str:
        """The header of a log line."""
        return set_style('log_header', text)

    def report_warn(self, text: object) -> str:
        """Report line or counter with ignored failures."""
        return set_style('report_warn', text)

    def report_error(self, text: object) -> str:
        """Report line or counter with failures."""
        return set_style('report_error', text)

    def user1(self, text: object) -> str:
        """User defined style 1."""
        return set_style('user1', text)

    def user2(self, text: object) -> str:
        """User defined style 2."""
        return set_style('user2', text)

    def user3(self, text: object) -> str:
        """User defined style 3."""
        return set_style('user3', text)

    def __getattr__(self, name: str) -> Callable[[object], str]:
        if name.startswith('_'):
            raise AttributeError(name)
        return lambda text: set_style(name, text)


style = Styler()
"""The :class:`Styler` used by execo modules to colour their output."""

for _level, _name in ((IODEBUG, 'IODEBUG'), (FDEBUG, 'FDEBUG'), (TRACE, 'TRACE'), (DETAIL, 'DETAIL')):
    logging.addLevelName(_level, _name)


class ExecoLogger(logging.Logger):
    """A :class:`logging.Logger` with methods for execo's custom levels."""

    def iodebug(self, msg: object, *args: Any, **kwargs: Any) -> None:
        """Log ``msg % args`` at level IODEBUG."""
        if self.isEnabledFor(IODEBUG):
            kwargs.setdefault('stacklevel', 2)
            self.log(IODEBUG, msg, *args, **kwargs)

    def fdebug(self, msg: object, *args: Any, **kwargs: Any) -> None:
        """Log ``msg % args`` at level FDEBUG."""
        if self.isEnabledFor(FDEBUG):
            kwargs.setdefault('stacklevel', 2)
            self.log(FDEBUG, msg, *args, **kwargs)

    def trace(self, msg: object, *args: Any, **kwargs: Any) -> None:
        """Log ``msg % args`` at level TRACE."""
        if self.isEnabledFor(TRACE):
            kwargs.setdefault('stacklevel', 2)
            self.log(TRACE, msg, *args, **kwargs)

    def detail(self, msg: object, *args: Any, **kwargs: Any) -> None:
        """Log ``msg % args`` at level DETAIL."""
        if self.isEnabledFor(DETAIL):
            kwargs.setdefault('stacklevel', 2)
            self.log(DETAIL, msg, *args, **kwargs)


_ANSI_CODE = re.compile(r"\033\[[0-9;]*m")


def _writes_to_console(handler: logging.Handler) -> bool:
    """Whether an application's handler prints where execo's own would be
    seen: stderr, stdout or a terminal."""
    if not isinstance(handler, logging.StreamHandler) or isinstance(handler, logging.FileHandler):
        return False
    stream = getattr(handler, "stream", None)
    if stream is None:
        return False
    if any(stream is s for s in (sys.stderr, sys.stdout, sys.__stderr__, sys.__stdout__)):
        return True
    try:
        return bool(stream.isatty())
    except Exception:
        return False


def _printed_by_application(record: logging.LogRecord) -> bool:
    """Whether a console handler of the root logger takes this record
    (forwarded or propagated to it)."""
    for handler in logging.root.handlers:
        if record.levelno >= handler.level and _writes_to_console(handler):
            return True
    return False


if TYPE_CHECKING:
    _StreamHandler = logging.StreamHandler[TextIO]
else:  # not subscriptable at run time before Python 3.11
    _StreamHandler = logging.StreamHandler


class _StderrHandler(_StreamHandler):
    """A StreamHandler writing to whatever ``sys.stderr`` is at emit time.

    So redirections of sys.stderr done after import (pytest, IDEs) work.
    It stays quiet for the records that a handler of the application
    prints on the console (see :func:`_printed_by_application`).
    """

    _execo_handler: bool

    def __init__(self) -> None:
        logging.Handler.__init__(self)

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, value: object) -> None:
        pass  # always the current sys.stderr

    def emit(self, record: logging.LogRecord) -> None:
        if logging.root.handlers and _printed_by_application(record):
            return
        super().emit(record)


class _ToApplication(logging.Handler):
    """Hands execo's records to the root logger's handlers, as
    propagation would, but as copies without ANSI colour codes in the
    message (they are for execo's terminal output, not for a log file).
    Its records are masked (``log_masks``): by the logger's filter, and
    by this handler's for the records of child loggers such as
    execo_engine's ``execo.engine``, which skip the logger's filters."""

    _execo_forwarder = True

    def handle(self, record: logging.LogRecord) -> bool:
        if logger.propagate:
            return False  # the standard propagation hands it over
        handlers = tuple(logging.root.handlers)
        if not handlers or not self.filter(record):
            return False
        plain = None
        for handler in handlers:
            if record.levelno >= handler.level:
                if plain is None:
                    plain = logging.makeLogRecord(record.__dict__)
                    plain.msg, plain.args = _ANSI_CODE.sub("", record.getMessage()), ()
                handler.handle(plain)
        return True

    def emit(self, record: logging.LogRecord) -> None:
        pass


class ExecoFormatter(logging.Formatter):
    """Formatter for execo logs: date, coloured level name and message.

    Below DEBUG level, the thread and function names are added. Colours
    follow ``configuration['color_mode']`` at the time of each record.
    """

    def format(self, record: logging.LogRecord) -> str:
        record.message = record.getMessage()
        header = self.formatTime(record, self.datefmt)
        level = set_style(record.levelno, record.levelname)
        if logger.getEffectiveLevel() < logging.DEBUG:
            level += " " + set_style('log_header', "%s - %s" % (record.threadName, record.funcName))
        text = "%s %s: %s" % (set_style('log_header', header), level, record.message)
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            text += "\n" + record.exc_text
        if record.stack_info:
            text += "\n" + self.formatStack(record.stack_info)
        return text


class SecretMask(logging.Filter):
    """Replaces the matches of ``configuration['log_masks']`` in each
    record's message by ``***`` (keeping group 1 of a pattern that has
    one), before any handler formats it. Patterns are compiled once per
    distinct configuration value; a bad pattern is reported once and
    skipped: logging never fails because of it."""

    def __init__(self) -> None:
        super().__init__("execo")
        self._source: object = None
        self._compiled: List[re.Pattern[str]] = []

    def _patterns(self) -> List[re.Pattern[str]]:
        source = configuration.get('log_masks') or ()
        if source is not self._source:
            compiled = []
            for pattern in [source] if isinstance(source, str) else source:
                try:
                    compiled.append(re.compile(pattern) if isinstance(pattern, str) else pattern)
                except re.error as e:
                    sys.stderr.write("execo: bad log_masks pattern %r: %s\n" % (pattern, e))
            self._source, self._compiled = source, compiled
        return self._compiled

    @staticmethod
    def _mask(mo: "re.Match[str]") -> str:
        if mo.re.groups and mo.group(1) is not None:
            return mo.group(1) + "***"
        return "***"

    def filter(self, record: logging.LogRecord) -> bool:
        patterns = self._patterns()
        if patterns:
            message = record.getMessage()
            masked = message
            for pattern in patterns:
                masked = pattern.sub(self._mask, masked)
            if masked != message:
                record.msg, record.args = masked, ()
        return True


def mask_secrets(text: str) -> str:
    """``text`` with the matches of ``configuration['log_masks']``
    masked, as execo's log messages are."""
    for pattern in _secret_mask._patterns():
        text = pattern.sub(SecretMask._mask, text)
    return text


_secret_mask = SecretMask()

logger: ExecoLogger = cast(ExecoLogger, logging.getLogger("execo"))
"""The execo logger."""
if not isinstance(logger, ExecoLogger):
    # add the custom level methods without changing the global logger class
    logger.__class__ = ExecoLogger
logger.propagate = False

for _h in list(logger.handlers):
    if getattr(_h, '_execo_handler', False) or getattr(_h, '_execo_forwarder', False):  # module reloaded
        logger.removeHandler(_h)
for _f in list(logger.filters):
    if isinstance(_f, logging.Filter) and type(_f).__name__ == "SecretMask":  # module reloaded
        logger.removeFilter(_f)
logger.addFilter(_secret_mask)
logger_handler = _StderrHandler()
"""The handler sending execo logs to stderr."""
logger_handler._execo_handler = True
logger_handler.setFormatter(ExecoFormatter())
# records of child loggers ("execo.engine" of execo_engine...) skip the
# filters of the "execo" logger but reach its handler: mask them there too
logger_handler.addFilter(_secret_mask)
logger.addHandler(logger_handler)
_to_application = _ToApplication()
_to_application.addFilter(_secret_mask)
logger.addHandler(_to_application)
logger.setLevel(configuration.get('log_level', logging.INFO))

Logger = ExecoLogger
"""Compatibility name (execo_engine): the logger class of execo 2.8.2,
here ``execo.log.ExecoLogger``. execo_engine makes its ``"execo.engine"``
logger with it (``logging.setLoggerClass(execo.log.Logger)``): a child of
:data:`logger`, whose records go to execo's handler."""
