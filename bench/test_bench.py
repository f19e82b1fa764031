"""pytest-benchmark suite, in two parts (not collected by ``pytest tests``):

- ``test_bench``: xentfast against the NumPy reference, every registered
  function (and the losses with their gradient) at n = 1e3, 1e5 and 1e7 in
  both dtypes.
- ``test_peers``: the cases of ``python -m xentfast bench --peers`` (xentfast,
  the reference, SciPy, scikit-learn, PyTorch) at n = 256, 1e4, 1e6 and 1e7,
  everything on one thread; a peer that is not installed is skipped.

Each group holds the implementations of one case, so
``pytest bench/ --benchmark-group-by=group`` reads as ratios.

    pytest bench/                      # everything (the 1e7 cases take minutes)
    pytest bench/ -k "1000-"           # one size
    pytest bench/ -k test_peers        # the peers only
"""
import numpy as np
import pytest

import xentfast
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


@pytest.fixture(scope="module")
def peers():
    return _bench.load_peers()  # sets torch to one thread


@pytest.fixture
def one_thread():
    previous = xentfast.get_num_threads()
    xentfast.set_num_threads(1)
    yield
    xentfast.set_num_threads(previous)


PEER_COLUMNS = ("xentfast", "reference", "scipy", "sklearn", "torch", "read")


@pytest.mark.parametrize("column", PEER_COLUMNS)
@pytest.mark.parametrize("dtype", _bench.DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("n", _bench.PEER_SIZES)
@pytest.mark.parametrize("label, build", _bench.PEER_CASES,
                         ids=[label for label, _ in _bench.PEER_CASES])
def test_peers(benchmark, peers, one_thread, label, build, n, dtype, column):
    entries = {entry.column: entry for entry in build(n, dtype, peers)}
    if column not in entries:
        pytest.skip(f"no {column} implementation of {label} (or it is not installed)")
    entry = entries[column]
    benchmark.group = f"peers: {label} n={n:,} {np.dtype(dtype).name}"
    benchmark.extra_info["calls"] = entry.what
    rounds = 5 if n >= 10_000_000 else 50
    result = benchmark.pedantic(entry.call, rounds=rounds, warmup_rounds=1)
    if entry.to_numpy is not None:
        fast = entries["xentfast"]
        tolerance = 1e-5 if np.dtype(dtype) == np.float32 else 1e-12
        if label == "softplus" and column == "torch":
            # PyTorch returns x itself above its threshold of 20, dropping log1p(e^-x)
            # (up to 2.1e-9): a documented approximation, not an error to flag here.
            tolerance = max(tolerance, 1e-8)
        assert _bench.normwise_difference(entry.to_numpy(result),
                                          fast.to_numpy(fast.call())) < tolerance
