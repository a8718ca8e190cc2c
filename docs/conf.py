"""Sphinx configuration for the execo documentation.

Build from the repository root (the compiled ``execo._reactor`` must be
built in place first, e.g. ``python setup.py build_ext --inplace``)::

    python -m sphinx -W --keep-going -b html docs docs/_build/html
    python -m sphinx -W -b doctest docs docs/_build/doctest
    python docs/check_coverage.py docs/_build/html
"""

import logging
import os
import sys

# import execo from the source tree, not from an installed copy
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, ROOT)

import execo  # noqa: E402  (fails early and clearly if _reactor is not built)

project = "execo"
author = "the execo authors"
copyright = "execo authors"
release = execo.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.doctest",
]

# nothing is fetched at build time (no intersphinx)
templates_path = []
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]
root_doc = "index"
language = "en"

html_theme = "furo"
html_title = "execo %s" % release
html_static_path = []

autodoc_member_order = "bysource"
autodoc_default_options = {}
autodoc_typehints = "none"
autoclass_content = "both"  # class docstring + __init__ docstring (the :param: lists)
nitpicky = False

# the doctest builder: every guide example imports what it uses, but make
# the common names available and keep logs off the doctest output
doctest_global_setup = """
import logging
import execo
from execo import *
execo.logger.setLevel(logging.CRITICAL)
"""
doctest_default_flags = (
    __import__("doctest").ELLIPSIS
    | __import__("doctest").NORMALIZE_WHITESPACE
    | __import__("doctest").DONT_ACCEPT_TRUE_FOR_1
)


# "Bases:" lines: name the bases as they are documented (execo.process.X,
# execo.action.X, which re-export classes defined in private modules) and
# skip private intermediate classes (execo.action._ActionsContainer...)
def _documented_name(cls):
    import execo.action
    import execo.process

    for module in (execo.process, execo.action):
        if getattr(module, cls.__name__, None) is cls:
            return "%s.%s" % (module.__name__, cls.__name__)
    return None


def _process_bases(app, name, obj, options, bases):
    for i, base in enumerate(bases):
        if not isinstance(base, type):
            continue
        while base.__name__.startswith("_") and base.__bases__:
            base = base.__bases__[0]
        documented = _documented_name(base)
        bases[i] = ":py:class:`%s`" % documented if documented else base


# the picture of guide/recording.rst: a real run of 40 local processes,
# drawn at each build (a generated file, not committed)
def _draw_timeline(app):
    import random
    import time

    from execo.config import configuration
    from execo.process import Process
    from execo.timeline import draw_timeline

    out = os.path.join(app.srcdir, "guide", "_generated", "timeline.svg")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    rand = random.Random(19)
    processes = []
    for i in range(1, 41):
        cmd, timeout = "sleep %.2f" % rand.uniform(0.2, 1.0), None
        if i in (7, 8):
            cmd = "sleep %.2f; exit 2" % rand.uniform(0.2, 0.6)
        elif i == 23:
            cmd, timeout = "sleep 5", 1.2
        elif i == 31:
            cmd = "sleep 5"
        processes.append(Process(cmd, shell=True, name="node-%d" % i, timeout=timeout, ignore_exit_code=True))
    saved, level = configuration["fanout"], execo.logger.level
    configuration["fanout"] = 16  # the last ones wait for a slot
    execo.logger.setLevel(logging.CRITICAL)  # the failures are the point
    try:
        for p in processes:
            p.start()
        time.sleep(0.8)
        processes[30].kill()
        for p in processes:
            p.wait()
    finally:
        configuration["fanout"] = saved
        execo.logger.setLevel(level)
    draw_timeline(processes, out, title="40 local processes, at most 16 at once")


def setup(app):
    app.connect("autodoc-process-bases", _process_bases)
    app.connect("builder-inited", _draw_timeline)
