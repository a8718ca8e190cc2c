"""The remote examples of the user guide (docs/remote_examples.py), run
against the loopback sshd hosts: each guide page's ssh/taktuk example is
also a function there, asserting what the page says it does. (The local
examples are doctests, run by ``sphinx-build -b doctest``.)"""

import importlib.util
import inspect
import os

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
EXAMPLES = os.path.join(os.path.dirname(HERE), "docs", "remote_examples.py")


def _load():
    spec = importlib.util.spec_from_file_location("remote_examples", EXAMPLES)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_module = _load()
_examples = sorted(name for name, f in vars(_module).items() if name.startswith("example_") and inspect.isfunction(f))


def test_there_are_remote_examples():
    assert len(_examples) >= 3, _examples


@pytest.mark.parametrize("name", _examples)
def test_remote_example(sshd, name):
    getattr(_module, name)(sshd.hosts[:4], sshd.connection_params)
