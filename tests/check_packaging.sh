#!/usr/bin/env bash
# Packaging check (run by tests/run.sh): build the sdist and the wheel with
# `python -m build`, install the sdist in a clean virtualenv (it compiles
# the reactor there), run a smoke test with it from outside the source
# tree, repair the wheel with auditwheel (manylinux) and run the daemon-free
# tests against it in another virtualenv, and check the wheel matrix
# cibuildwheel would build.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
work=$(mktemp -d /tmp/execo-packaging-XXXXXX)
trap 'rm -rf "$work"' EXIT

$PY -m build --sdist --wheel --outdir "$work/dist" . >"$work/build.log" 2>&1 || {
    tail -40 "$work/build.log"; echo "packaging: python -m build failed"; exit 1; }
sdist=$(ls "$work"/dist/execo-*.tar.gz)
wheel=$(ls "$work"/dist/execo-*.whl)
echo "packaging: built $(basename "$sdist") and $(basename "$wheel")"

# the sdist carries the sources and no generated file
tar tzf "$sdist" >"$work/sdist.txt"
for f in execo/_reactor.pyx execo/_reactor.pxd execo/_system.pxd execo/_reactor.pyi execo/py.typed \
         execo/chainput_hop.sh src_c/exo_spawn.c setup.py pyproject.toml README.md \
         CHANGELOG.md; do
    grep -q "/$f\$" "$work/sdist.txt" || { echo "packaging: $f missing from the sdist"; exit 1; }
done
if grep -qE '(_reactor\.c|\.so)$' "$work/sdist.txt"; then
    echo "packaging: generated files in the sdist"; exit 1
fi

$PY -m venv "$work/venv"
"$work/venv/bin/python" -m pip install -q --disable-pip-version-check "$sdist" \
    >"$work/install.log" 2>&1 || { tail -40 "$work/install.log"; echo "packaging: sdist install failed"; exit 1; }
(cd "$work" && "$work/venv/bin/python" - <<'EOF'
import os
import execo
from execo import Process, Local, Report
assert not execo.__file__.startswith(os.environ.get("EXECO_SOURCE", "/nonexistent")), execo.__file__
p = Process("echo hello from the sdist").run()
assert p.ok and p.stdout == "hello from the sdist\n", p
q = Process("echo ready; read x; echo got $x", shell=True).start()
assert q.expect("ready", timeout=10)[0] == 0
q.write("it\n")
q.wait(10)
assert q.ok and q.stdout.endswith("got it\n"), q.stdout
from execo import regex_search   # the regex dependency came with the install
assert regex_search.regex_available()
q.nolog_expect_fail = True
assert q.expect(r"(\w+) never", timeout=0.1) == (None, None)
a = Local("echo x", process_args={"name": "l"}).run()
assert a.ok and Report([a]).stats()["num_ok"] == 1
here = os.path.dirname(execo.__file__)
for f in ("py.typed", "_reactor.pyi", "chainput_hop.sh"):
    assert os.path.exists(os.path.join(here, f)), f
print("packaging: smoke test ok with", execo.__file__)
EOF
) || { echo "packaging: smoke test failed"; exit 1; }

# the console script
out=$(cd "$work" && "$work/venv/bin/execo" --no-report 'echo cli ok') || {
    echo "packaging: the execo command failed: $out"; exit 1; }
echo "$out" | grep -qx "cli ok" || { echo "packaging: unexpected execo output: $out"; exit 1; }
echo "packaging: console script ok"

# The wheel as users get it: repaired by auditwheel into a manylinux wheel
# (cibuildwheel needs a container runtime this machine lacks), installed
# in a clean virtualenv, the tests that need no daemon run against it
# (conftest.py checks that execo is imported from that virtualenv).
$PY -m auditwheel repair -w "$work/repaired" "$wheel" >"$work/repair.log" 2>&1 || {
    tail -20 "$work/repair.log"; echo "packaging: auditwheel repair failed"; exit 1; }
repaired=$(ls "$work"/repaired/execo-*manylinux*.whl)
$PY -m venv "$work/wheel-venv"
"$work/wheel-venv/bin/python" -m pip install -q --disable-pip-version-check "$repaired" pytest \
    pytest-timeout >"$work/wheel-install.log" 2>&1 || {
    tail -20 "$work/wheel-install.log"; echo "packaging: wheel install failed"; exit 1; }
src=$PWD
(cd "$work" && EXECO_TESTS_EXPECT_INSTALLED="$work/wheel-venv" "$work/wheel-venv/bin/python" -m pytest \
    -q -p no:cacheprovider --rootdir "$src" -c "$src/pyproject.toml" \
    "$src"/tests/test_reactor.py "$src"/tests/test_expect.py "$src"/tests/test_handler_threads.py \
    "$src"/tests/test_report.py "$src"/tests/test_utils.py "$src"/tests/test_time_utils.py \
    "$src"/tests/test_host.py "$src"/tests/test_substitutions.py "$src"/tests/test_public_names.py \
    "$src"/tests/test_compat_names.py "$src"/tests/test_action.py "$src"/tests/test_hostile_input.py \
    >"$work/wheel-tests.log" 2>&1) || {
    tail -40 "$work/wheel-tests.log"; echo "packaging: the tests failed against the repaired wheel"; exit 1; }
echo "packaging: $(basename "$repaired") installed, $(tail -1 "$work/wheel-tests.log" | tr -d '=')"

if command -v cibuildwheel >/dev/null 2>&1; then
    ids=$(cibuildwheel --print-build-identifiers --platform linux)
    for want in cp39-manylinux_x86_64 cp313-manylinux_aarch64 cp39-musllinux_x86_64 cp313-musllinux_aarch64; do
        echo "$ids" | grep -qx "$want" || { echo "packaging: cibuildwheel would not build $want"; exit 1; }
    done
    echo "packaging: cibuildwheel builds $(echo "$ids" | wc -l) wheels (linux x86_64/aarch64, manylinux/musllinux, cp39-cp313)"
fi
