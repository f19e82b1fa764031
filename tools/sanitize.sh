#!/usr/bin/env bash
# Build xentfast with AddressSanitizer and UndefinedBehaviorSanitizer
# (XENTFAST_SANITIZE=1, see setup.py) in a temporary copy and virtual
# environment, then run the test suite with each kernel set under them.
#
#   tools/sanitize.sh                 # all three kernel sets, as CI runs them
#   tools/sanitize.sh avx2            # one kernel set (auto, avx2 or baseline)
#   tools/sanitize.sh auto -k losses  # further arguments go to pytest
#   SANITIZE_DIR=/tmp/san tools/sanitize.sh   # keep (and reuse) the build there
#
# Any report stops the run (UBSan halts on its first error, ASan on any memory
# error).  pytest captures only Python's sys.stderr (--capture=sys), so a report
# written by the sanitizers to the process's stderr reaches the terminal even
# when it halts the process mid-test (a child Python's report is in its test's
# failure message).  Leak detection is off (CPython keeps objects alive until
# exit).  Needs gcc (or clang) with the sanitizer runtimes, and pip access for
# the build.
set -euo pipefail
cd "$(dirname "$0")/.."
kernel_sets=("auto" "avx2" "baseline")
if [ $# -gt 0 ]; then
    kernel_sets=("$1")
    shift
fi

work="${SANITIZE_DIR:-}"
if [ -z "$work" ]; then
    work="$(mktemp -d)"
    trap 'rm -rf "$work"' EXIT
fi
if [ ! -x "$work/venv/bin/python" ]; then
    # A copy of the sources (tracked and new files, no build outputs): the
    # sanitized objects must not land in this tree's build/ folder.
    mkdir -p "$work/src"
    git ls-files -z --cached --others --exclude-standard \
        | while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done \
        | xargs -0 cp --parents -t "$work/src"
    python3 -m venv "$work/venv"
    "$work/venv/bin/python" -m pip install --quiet --upgrade pip
    XENTFAST_SANITIZE=1 "$work/venv/bin/python" -m pip install --quiet "$work/src[test]"
fi

asan="$(${CC:-gcc} -print-file-name=libasan.so)"
if [ ! -e "$asan" ]; then
    echo "sanitize.sh: no libasan.so for ${CC:-gcc}" >&2
    exit 1
fi
export LD_PRELOAD="$asan"   # the ASan runtime must load before everything else
# NumPy and CPython handle a failed malloc (MemoryError): ASan must return NULL too
export ASAN_OPTIONS="detect_leaks=0:allocator_may_return_null=1"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
cd "$work"   # import the installed (sanitized) package, not the sources
for kernels in "${kernel_sets[@]}"; do
    echo "== XENTFAST_KERNELS=$kernels"
    XENTFAST_KERNELS="$kernels" "$work/venv/bin/python" -m pytest -q -p no:cacheprovider \
        --capture=sys "$work/src/tests" "$@"
done
