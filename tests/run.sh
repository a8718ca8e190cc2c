#!/usr/bin/env bash
# Install what the tests need, build execo, run every lane. What CI runs.
# Usage: bash tests/run.sh              every lane below
#        bash tests/run.sh PYTEST-ARGS  install, build, then pytest only
# Each lane can also be run alone (after tests/install.sh [--check]):
#   bash tests/check.sh                 lint, format, mypy, stubtest, docs
#   bash tests/check_packaging.sh       sdist, wheel, auditwheel, tests on the wheel
#   bash tests/debug.sh                 reactor + process tests on a debug/sanitizer build
#   python3 -m pytest --execo-backend poll,sigchld --execo-spawn posix_spawn tests/test_process.py
#   python3 -m pytest                   the whole suite (epoll + pidfd)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
export PYTHON=$PY

if [ $# -gt 0 ]; then
    bash tests/install.sh
    exec $PY -m pytest -q -p no:cacheprovider "$@"
fi

lane() { echo; echo "=== $* ==="; }

bash tests/install.sh --check
lane "check"
bash tests/check.sh
lane "packaging"
EXECO_SOURCE=$PWD bash tests/check_packaging.sh
# the default run covers epoll + pidfd and clone3 spawning
# (test_reactor.py crosses every poller with every watcher, test_spawn.py
# both ways of spawning); the process-level tests again with the portable
# alternatives: the backend chosen as a user chooses it (configuration),
# posix_spawn as where clone3 is refused
lane "debug build (Cython checks, ASan, UBSan): reactor and process tests"
bash tests/debug.sh
lane "process tests on poll + sigchld, spawned by posix_spawn"
$PY -m pytest -q -p no:cacheprovider --execo-backend poll,sigchld --execo-spawn posix_spawn \
    tests/test_process.py tests/test_expect.py tests/test_handlers.py
lane "test suite"
exec $PY -m pytest -q -p no:cacheprovider
