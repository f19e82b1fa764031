"""pytest-benchmark suite: xentfast against the NumPy reference, every registered
function (and the losses with their gradient) at n = 1e3, 1e5 and 1e7 in both
dtypes.  Each group holds the two implementations of one case, so
``pytest bench/ --benchmark-group-by=group`` reads as ratios.

    pytest bench/                      # everything (the 1e7 cases take minutes)
    pytest bench/ -k "1000-"           # one size
"""
import numpy as np
import pytest

from xentfast import _bench

CASES = _bench.cases()


@pytest.mark.parametrize("implementation", ["reference", "xentfast"])
@pytest.mark.parametrize("dtype", _bench.DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("n", _bench.SIZES)
@pytest.mark.parametrize("case", CASES, ids=[c.label for c in CASES])
def test_bench(benchmark, case, n, dtype, implementation):
    args = _bench.make_inputs(case.function, n, dtype)
    function = case.function.fast if implementation == "xentfast" else case.function.reference
    benchmark.group = f"{case.label} n={n:,} {np.dtype(dtype).name}"
    rounds = 5 if n >= 10_000_000 else 50
    result = benchmark.pedantic(function, args=args, kwargs=case.kwargs, rounds=rounds,
                                warmup_rounds=1)
    # The timed call must compute the same thing as the other implementation.
    other = case.function.reference if implementation == "xentfast" else case.function.fast
    assert _bench.max_relative_difference(result, other(*args, **case.kwargs)) < 1e-5
