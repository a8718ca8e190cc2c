#!/usr/bin/env bash
# Check the code itself, without running it: lint and format (ruff), types
# (mypy strict; stubtest: the reactor's .pyi matches the compiled module), the docs (warnings are errors, the guide's examples run
# as doctests, every public name of the spec documented).
# Needs: bash tests/install.sh --check
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}

step() { echo "check: $*"; }

step "ruff lint"
$PY -m ruff check execo tests bench docs examples setup.py
step "ruff format"
$PY -m ruff format --check --quiet execo tests bench docs examples setup.py
step "mypy --strict ([tool.mypy] in pyproject.toml)"
$PY -m mypy
step "stubtest: execo/_reactor.pyi against the compiled module"
$PY -m mypy.stubtest --mypy-config-file tests/stubtest-mypy.ini \
    --allowlist tests/stubtest-allowlist.txt execo._reactor
step "sphinx html and doctest"
rm -rf docs/_build
$PY -m sphinx -q -W --keep-going -b html docs docs/_build/html
$PY -m sphinx -q -W -b doctest docs docs/_build/doctest
$PY docs/check_coverage.py docs/_build/html
echo "check: ok"
