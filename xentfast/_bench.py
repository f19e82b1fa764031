"""Benchmark cases shared by ``python -m xentfast bench`` and ``bench/``.

Each case calls one registered function on inputs of a given total size n
(elements for elementwise functions, n / 10 rows of 10 classes for the
others, and n / 32 samples of 32 features for logistic_loss_and_grad),
in xentfast and in the pure-NumPy reference.
"""
import platform
import statistics
import time
from dataclasses import dataclass, field

import numpy as np

from xentfast import _registry
from xentfast._config import get_num_threads, show_config

N_CLASSES = 10
LINEAR_FEATURES = 32
SIZES = (1_000, 100_000, 10_000_000)
QUICK_SIZES = (1_000, 100_000)
DTYPES = (np.float64, np.float32)


@dataclass(frozen=True)
class Case:
    function: _registry.PublicFunction
    kwargs: dict = field(default_factory=dict)

    @property
    def label(self):
        extra = ", ".join(f"{k}={v!r}" for k, v in self.kwargs.items())
        return f"{self.function.name}({extra})" if extra else self.function.name


def _unit_rows(rng, n_rows, dtype):
    p = rng.random((n_rows, N_CLASSES))
    return (p / p.sum(axis=1, keepdims=True)).astype(dtype)


def make_inputs(function, n, dtype, seed=0):
    """Positional arguments for ``function`` with n values in all."""
    rng = np.random.default_rng(seed)
    n_rows = max(n // N_CLASSES, 1)
    kind = function.kind
    if kind == "elementwise":
        return (rng.normal(0, 4, n).astype(dtype),)
    if kind == "elementwise_probability":
        return (rng.random(n).astype(dtype),)
    if kind == "axis":
        return (rng.normal(0, 4, (n_rows, N_CLASSES)).astype(dtype),)
    if kind == "distribution":
        return (_unit_rows(rng, n_rows, dtype),)
    if kind == "distribution_pair":
        return (_unit_rows(rng, n_rows, dtype), _unit_rows(rng, n_rows, dtype))
    if kind == "binary_loss":
        targets = (rng.random(n) < 0.5).astype(dtype)
        if function.name == "binary_cross_entropy":
            return (rng.random(n).astype(dtype), targets)
        return (rng.normal(0, 4, n).astype(dtype), targets)
    if kind == "softmax_loss":
        return (rng.normal(0, 4, (n_rows, N_CLASSES)).astype(dtype),
                rng.integers(0, N_CLASSES, n_rows))
    if kind == "linear_model":
        n_samples = max(n // LINEAR_FEATURES, 1)
        X = rng.normal(size=(n_samples, LINEAR_FEATURES)).astype(dtype)
        w = rng.normal(0, 0.3, LINEAR_FEATURES + 1)
        return (w, X, (rng.random(n_samples) < 0.5).astype(np.float64))
    raise ValueError(f"no benchmark inputs for kind {kind!r}")


def cases():
    """Every registered function once, and the losses again with their gradient."""
    result = [Case(f) for f in _registry.FUNCTIONS]
    for name in ("binary_cross_entropy_with_logits", "softmax_cross_entropy"):
        function = next(f for f in _registry.FUNCTIONS if f.name == name)
        result.append(Case(function, {"return_grad": True}))
    return result


def _seconds_per_call(call, budget):
    """Median seconds per call, timing batches sized to take ~budget / 5 each."""
    start = time.perf_counter()
    call()
    once = time.perf_counter() - start
    number = max(1, int(budget / 5 / max(once, 1e-9)))
    return number


def compare(case, n, dtype, budget=0.2):
    """(reference s/call, xentfast s/call, max relative difference), timed interleaved."""
    args = make_inputs(case.function, n, dtype)
    fast = lambda: case.function.fast(*args, **case.kwargs)  # noqa: E731
    slow = lambda: case.function.reference(*args, **case.kwargs)  # noqa: E731
    number = {impl: _seconds_per_call(impl, budget) for impl in (fast, slow)}
    times = {fast: [], slow: []}
    for _ in range(5):
        for impl in (slow, fast):
            start = time.perf_counter()
            for _ in range(number[impl]):
                impl()
            times[impl].append((time.perf_counter() - start) / number[impl])
    return (statistics.median(times[slow]), statistics.median(times[fast]),
            max_relative_difference(fast(), slow()))


def max_relative_difference(fast_result, slow_result):
    """Largest |fast - reference| / |reference| over all outputs (losses and gradients)."""
    if not isinstance(fast_result, tuple):
        fast_result, slow_result = (fast_result,), (slow_result,)
    worst = 0.0
    for a, b in zip(fast_result, slow_result):
        a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
        both_finite = np.isfinite(a) & np.isfinite(b)
        if not np.array_equal(np.isfinite(a), np.isfinite(b)):
            return np.inf
        diff = np.abs(a - b)[both_finite]
        scale = np.maximum(np.abs(b)[both_finite], np.finfo(np.float64).tiny)
        if diff.size:
            worst = max(worst, float(np.max(diff / scale)))
    return worst


def _format_time(seconds):
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds * 1e9:.3g} ns"


def header():
    config = show_config(print_out=False)
    return (f"machine: {platform.machine()}, {config['usable cores']} usable cores; "
            f"threads: {get_num_threads()}; kernel set: {config['kernel set']}; "
            f"openmp: {config['openmp']}; numpy {config['numpy']}")


def run(sizes=SIZES, dtypes=DTYPES, budget=0.2, print_fn=print):
    """Print the comparison table (Markdown) and return its rows."""
    print_fn(header())
    print_fn("")
    print_fn("| function | n | dtype | reference | xentfast | speed-up | max rel. diff |")
    print_fn("|---|---:|---|---:|---:|---:|---:|")
    rows = []
    for case in cases():
        for n in sizes:
            for dtype in dtypes:
                slow, fast, diff = compare(case, n, dtype, budget)
                row = (case.label, n, np.dtype(dtype).name, slow, fast, slow / fast, diff)
                rows.append(row)
                print_fn(f"| {row[0]} | {n:,} | {row[2]} | {_format_time(slow)} | "
                         f"{_format_time(fast)} | {slow / fast:.1f}x | {diff:.1e} |")
    return rows
