"""Every float32 input of sigmoid, log_sigmoid and softplus, against float64.

    python tools/float32_sweep.py                 # the kernel set this CPU selects
    python tools/float32_sweep.py --kernels all   # baseline, avx2 and avx512, in turn

Runs every float32 in [-104, 89] (about 2.2e9 values; below -104 and above 89
every result is a limit: 0, 1, x or e^x below the subnormals) and the specials
(±0, ±inf, nan, the largest finite values and every subnormal near 0 is in the
range already) through the float32 kernels and prints the largest error in
float32 ulp per function, where it occurs, and mpmath's verdict there.

The oracle is the same function on the same inputs in float64: its error is at
most 2 float64 ulp (tests/test_accuracy.py checks that against mpmath), 2^-52
relative, which is 2^-28 of a float32 ulp: it moves a measured error by less
than 4e-9 ulp.  A value whose exact result is subnormal in float32 is measured
against the smallest normal number, as in tests/test_accuracy.py.  Too slow
for CI (minutes per kernel set); tests/test_float32.py sweeps a dense subset.
"""
import argparse
import math
import os
import subprocess
import sys
import time

import numpy as np

FUNCTIONS = ("sigmoid", "log_sigmoid", "softplus")
LOW, HIGH = -104.0, 89.0
CHUNK = 1 << 22


def ulp_errors(computed, exact):
    """|computed - exact| in float32 ulp of exact (tiny where exact is subnormal)."""
    computed = computed.astype(np.float64)
    tiny = float(np.finfo(np.float32).tiny)
    with np.errstate(over="ignore"):
        rounded = exact.astype(np.float32).astype(np.float64)
    _, exponent = np.frexp(rounded)
    ulp = np.ldexp(1.0, exponent - 24)
    ulp = np.where(np.abs(exact) < tiny, tiny, ulp)
    with np.errstate(invalid="ignore"):
        error = np.abs(computed - exact) / ulp
    same = (computed == exact) | (np.isnan(computed) & np.isnan(exact))
    return np.where(same, 0.0, error)   # inf == inf; nan where exactly one is nan


def bit_ranges():
    """[start, stop) bit patterns of the float32 in [LOW, HIGH], as uint32."""
    top = int(np.array(HIGH, np.float32).view(np.uint32))
    bottom = int(np.array(LOW, np.float32).view(np.uint32))
    return [(0, top + 1), (0x80000000, bottom + 1)]


def specials():
    finfo = np.finfo(np.float32)
    values = [0.0, -0.0, np.inf, -np.inf, np.nan, finfo.max, -finfo.max, 1e4, -1e4,
              104.5, -104.5, 89.5, 88.7, -88.7, -87.3, 16.6, 8.0, 14.0]
    return np.array(values, np.float32)


def sweep(function, limit=None):
    """(worst ulp, its input, number of inputs) over the whole range (or the first
    ``limit`` inputs of each half); the worst is 0.0 with no input where when every
    result is the float64 result correctly rounded (error <= 0.5 ulp)."""
    worst, where, count = 0.0, None, 0
    pieces = [specials()]
    for start, stop in bit_ranges():
        stop = stop if limit is None else min(stop, start + limit)
        for first in range(start, stop, CHUNK):
            pieces.append(np.arange(first, min(first + CHUNK, stop), dtype=np.uint32)
                          .view(np.float32))
            for x in pieces:
                computed, exact = function(x), function(x.astype(np.float64))
                # Where computed is exact rounded to float32 the error is <= 0.5 ulp;
                # only the other inputs are measured (a few percent of them).
                with np.errstate(over="ignore"):
                    differs = computed != exact.astype(np.float32)
                errors = ulp_errors(computed[differs], exact[differs])
                if np.isnan(errors).any():
                    bad = x[differs][np.isnan(errors)][0]
                    raise AssertionError(f"nan mismatch at x={bad!r}")
                if errors.size:
                    i = int(np.argmax(errors))
                    if errors[i] > worst:
                        worst, where = float(errors[i]), float(x[differs][i])
                count += x.size
            pieces = []
    return worst, where, count


def mpmath_ulp(name, x, computed):
    import mpmath
    mpmath.mp.prec = 160
    xm = mpmath.mpf(x)
    exact = {"sigmoid": lambda: 1 / (1 + mpmath.exp(-xm)),
             "log_sigmoid": lambda: -mpmath.log1p(mpmath.exp(-xm)),
             "softplus": lambda: mpmath.log1p(mpmath.exp(xm))}[name]()
    tiny = mpmath.mpf(float(np.finfo(np.float32).tiny))
    if abs(exact) < tiny:
        return float(abs(mpmath.mpf(float(computed)) - exact) / tiny)
    _, exponent = math.frexp(float(np.float32(float(exact))))
    return float(abs(mpmath.mpf(float(computed)) - exact) / mpmath.ldexp(1, exponent - 24))


def run_here(limit):
    import xentfast
    from xentfast import _kernels
    print(f"kernel set {_kernels.KERNEL_SET}:", flush=True)
    for name in FUNCTIONS:
        function = getattr(xentfast, name)
        start = time.perf_counter()
        worst, where, count = sweep(function, limit)
        seconds = time.perf_counter() - start
        if where is None:
            print(f"  {name}: every result correctly rounded (<= 0.5 ulp) over {count:,} "
                  f"inputs, {seconds:.0f} s", flush=True)
            continue
        computed = function(np.array([where], np.float32))[0]
        check = mpmath_ulp(name, where, computed)
        print(f"  {name}: max {worst:.4f} ulp at x = {where!r} (mpmath there: {check:.4f} ulp)"
              f" over {count:,} inputs, {seconds:.0f} s", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--kernels", default="auto",
                        help="auto (this CPU's), all, or one of baseline, avx2, avx512")
    parser.add_argument("--limit", type=int, default=None,
                        help="only the first LIMIT inputs of each sign (a quick check)")
    args = parser.parse_args()
    sets = ["avx512", "avx2", "baseline"] if args.kernels == "all" else [args.kernels]
    for kernels in sets:
        if kernels == "auto" and len(sets) == 1:
            run_here(args.limit)
            continue
        env = dict(os.environ, XENTFAST_KERNELS=kernels)
        command = [sys.executable, __file__, "--kernels", "auto"]
        if args.limit is not None:
            command += ["--limit", str(args.limit)]
        subprocess.run(command, env=env, check=True)


if __name__ == "__main__":
    main()
