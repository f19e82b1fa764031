#!/usr/bin/env bash
# The shipping checks of CI (see the README's "Continuous integration"):
#   1. tools/build_wheel.sh: the sdist, the wheel built from that sdist, and the
#      wheel repaired by auditwheel (libgomp vendored, a manylinux_* tag);
#   2. that one wheel installed with its test and docs extras into a fresh
#      virtual environment, and the sdist's test suite run against it from a
#      folder outside any source tree (so the sdist is checked to hold
#      everything `pytest tests` needs, and the wheel to work on its own);
#   3. the documentation built from the sdist's docs/ with warnings as errors
#      (sphinx-build -W), against the installed wheel.
#
#   tools/check_dist.sh [WORK]     # WORK: a scratch folder (default: a new temporary one)
set -euo pipefail
cd "$(dirname "$0")/.."
work="${1:-$(mktemp -d)}"
python=${PYTHON:-python3}

wheel=$(PYTHON="$python" tools/build_wheel.sh "$work/dist" | tail -n 1)
sdist=$(ls "$work"/dist/xentfast-*.tar.gz)
mkdir -p "$work/sdist"
tar -xzf "$sdist" -C "$work/sdist"
source_tree=$(ls -d "$work"/sdist/xentfast-*/)

"$python" -m venv "$work/wheel-venv"
"$work/wheel-venv/bin/python" -m pip install --quiet --upgrade pip
"$work/wheel-venv/bin/python" -m pip install --quiet "$wheel[test,docs]"

cd "$work"      # outside every source tree: the installed wheel is what is imported
location=$("$work/wheel-venv/bin/python" -c "import xentfast; print(xentfast.__file__)")
case "$location" in
    "$work/wheel-venv/"*) ;;
    *) echo "check_dist.sh: xentfast was imported from $location, not from the wheel" >&2
       exit 1 ;;
esac
"$work/wheel-venv/bin/python" -m pytest "$source_tree/tests" -p no:cacheprovider -q
"$work/wheel-venv/bin/sphinx-build" -W -q -b html "$source_tree/docs" "$work/html"
echo "check_dist.sh: sdist, repaired wheel ($(basename "$wheel")), its tests and the docs: OK"
