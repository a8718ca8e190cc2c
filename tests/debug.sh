#!/usr/bin/env bash
# Debug build lane: build the reactor with Cython's run-time checks
# (boundscheck, wraparound, initializedcheck, nonecheck), -O0 -g and
# AddressSanitizer + UndefinedBehaviorSanitizer (EXECO_DEBUG_BUILD=1, read
# by setup.py) in a COPY of the tree, so the in-place module of this
# checkout is left alone, then run the reactor's tests against it.
#
#   bash tests/debug.sh                      # the default test files
#   bash tests/debug.sh tests/test_reactor.py -x   # other pytest arguments
#
# Any ASan or UBSan report aborts the process that hit it and fails the
# run (UBSan: -fno-sanitize-recover at build time, halt_on_error here).
# CPython is not built with ASan: its runtime must come first in the
# process, so it is preloaded (LD_PRELOAD), and inherited by every child
# the tests spawn, Python ones that import execo included; leak detection
# is off (CPython does not free everything at exit). PYTHONMALLOC=malloc
# sends Python's objects through malloc, where ASan sees them: the
# Collector reads straight into the buffer of a str object.
# EXECO_DEBUG_KEEP=1 keeps the copy (its path is printed).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
src=$PWD
work=$(mktemp -d /tmp/execo-debug-XXXXXX)
if [ "${EXECO_DEBUG_KEEP:-0}" = 1 ]; then
    echo "debug: the copy is kept in $work"
else
    trap 'rm -rf "$work"' EXIT
fi
start=$(date +%s)

# the checkout as it is (uncommitted changes included), without what the
# build generates
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    git ls-files -z --cached --others --exclude-standard | xargs -0 -r cp --parents -t "$work" 2>/dev/null || true
else
    tar -C "$src" --exclude=./build --exclude='*.so' --exclude=./execo/_reactor.c \
        --exclude='./bench/.venv*' -cf - . | tar -C "$work" -xf -
fi
rm -f "$work"/execo/_reactor.c "$work"/execo/*.so

(cd "$work" && EXECO_DEBUG_BUILD=1 "$PY" setup.py -q build_ext --inplace) >"$work/build.log" 2>&1 || {
    tail -40 "$work/build.log"; echo "debug: the debug build failed"; exit 1; }
echo "debug: built $(cd "$work" && ls execo/_reactor*.so) with ASan+UBSan ($(($(date +%s) - start)) s)"

asan=$(gcc -print-file-name=libasan.so)
[ -e "$asan" ] || { echo "debug: no libasan.so ($asan)"; exit 1; }
if [ $# -eq 0 ]; then
    set -- tests/test_reactor.py tests/test_spawn.py tests/test_process.py tests/test_expect.py tests/test_handlers.py
fi
# A sanitizer report aborts the process that hit it and is written to
# $work/asan.* or ubsan.* (printed below); EXECO_TESTS_EXPECT_INSTALLED
# makes conftest.py refuse any execo but the copy's.
cd "$work"
rc=0
LD_PRELOAD="$asan" \
ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:log_path=$work/asan:${ASAN_OPTIONS:-}" \
UBSAN_OPTIONS="halt_on_error=1:abort_on_error=1:print_stacktrace=1:log_path=$work/ubsan:${UBSAN_OPTIONS:-}" \
PYTHONMALLOC=malloc PYTHONFAULTHANDLER=1 EXECO_TESTS_EXPECT_INSTALLED="$work" \
    "$PY" -m pytest -q -p no:cacheprovider "$@" || rc=$?
reports=$(ls "$work"/asan.* "$work"/ubsan.* 2>/dev/null || true)
if [ -n "$reports" ]; then
    for f in $reports; do echo "== $f"; head -60 "$f"; done
    echo "debug: sanitizer reports (above)"
    [ "$rc" -ne 0 ] || rc=1
fi
echo "debug: $(($(date +%s) - start)) s in all"
exit $rc
