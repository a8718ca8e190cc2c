#!/usr/bin/env bash
# Check the code itself, without running it: lint and format (ruff), types
# (mypy strict), the docs (warnings are errors, the guide's examples run
# as doctests, every public name of the spec documented).
# Needs: bash tests/install.sh --check
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}

step() { echo "check: $*"; }

step "ruff lint"
$PY -m ruff check execo tests bench docs setup.py
step "ruff format"
$PY -m ruff format --check --quiet execo tests bench docs setup.py
step "mypy --strict ([tool.mypy] in pyproject.toml)"
$PY -m mypy
step "sphinx html and doctest"
rm -rf docs/_build
$PY -m sphinx -q -W --keep-going -b html docs docs/_build/html
$PY -m sphinx -q -W -b doctest docs docs/_build/doctest
$PY docs/check_coverage.py docs/_build/html
echo "check: ok"
