"""Benchmarks shared by ``python -m xentfast bench`` and ``bench/``.

Three parts, each printing Markdown:

- ``run``: every registered function against its pure-NumPy reference.  Each
  case takes inputs of a given total size n (elements for elementwise
  functions, n / 10 rows of 10 classes for the others, and n / 32 samples of
  32 features for logistic_loss_and_grad).
- ``run_peers``: the main functions against SciPy, scikit-learn and PyTorch,
  where they are installed (imported here, lazily; xentfast never needs them).
  The peers run on one thread, xentfast on ``threads``.
- ``run_linear``: one ``logistic_loss_and_grad`` call against the NumPy
  reference and ``X.sum()``, and ``LogisticRegression.fit`` with every solver
  against scikit-learn's lbfgs, with the peak memory of each fit.

Every ratio comes from timings taken side by side in one process: the
implementations take turns, one batch each per round, and each reports the
median of its rounds (``time_interleaved``).
"""
import contextlib
import ctypes
import gc
import os
import platform
import statistics
import time
import tracemalloc
import warnings
from dataclasses import dataclass, field
from typing import Callable, Optional

import numpy as np

import xentfast
from xentfast import _kernels, _registry
from xentfast._config import get_num_threads, show_config

N_CLASSES = 10
LINEAR_FEATURES = 32
SIZES = (1_000, 100_000, 10_000_000)
QUICK_SIZES = (1_000, 100_000)
PEER_SIZES = (256, 10_000, 1_000_000, 10_000_000)
QUICK_PEER_SIZES = (256, 10_000)
DTYPES = (np.float64, np.float32)
TORCH_HINT = "pip install torch==2.13.0 (by hand; not part of the [bench] extra)"

# An untimed pause before each timed fit: BLAS and OpenMP worker threads spin for
# a while after a call, and would take a core from the next fit (the first
# xentfast fit after scikit-learn's measured ~75 ms slower on 2 cores without it).
SETTLE_SECONDS = 0.2


# --- inputs -------------------------------------------------------------------

@dataclass(frozen=True)
class Case:
    function: _registry.PublicFunction
    kwargs: dict = field(default_factory=dict)

    @property
    def label(self):
        extra = ", ".join(f"{k}={v!r}" for k, v in self.kwargs.items())
        return f"{self.function.name}({extra})" if extra else self.function.name


def _function(name):
    return next(f for f in _registry.FUNCTIONS if f.name == name)


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
        result.append(Case(_function(name), {"return_grad": True}))
    return result


# --- timing -------------------------------------------------------------------

def _calls_per_batch(call, batch_seconds):
    """How many calls fill about batch_seconds (the first call also warms up)."""
    start = time.perf_counter()
    call()
    once = time.perf_counter() - start
    if once < 0.01:  # fast enough to time again, now warm
        start = time.perf_counter()
        call()
        once = time.perf_counter() - start
    return max(1, int(batch_seconds / max(once, 1e-9)))


def time_interleaved(calls, budget=0.2, rounds=5):
    """Median seconds per call of each function in ``calls`` (name -> function).

    The functions take turns: every round runs a batch of each, sized to take
    about budget / rounds, so a slow spell of the machine hits all of them.
    """
    number = {name: _calls_per_batch(call, budget / rounds) for name, call in calls.items()}
    seconds = {name: [] for name in calls}
    for _ in range(rounds):
        for name, call in calls.items():
            start = time.perf_counter()
            for _ in range(number[name]):
                call()
            seconds[name].append((time.perf_counter() - start) / number[name])
    return {name: statistics.median(values) for name, values in seconds.items()}


def compare(case, n, dtype, budget=0.2):
    """(reference s/call, xentfast s/call, max relative difference), timed interleaved."""
    args = make_inputs(case.function, n, dtype)
    fast = lambda: case.function.fast(*args, **case.kwargs)  # noqa: E731
    slow = lambda: case.function.reference(*args, **case.kwargs)  # noqa: E731
    times = time_interleaved({"reference": slow, "xentfast": fast}, budget)
    return times["reference"], times["xentfast"], max_relative_difference(fast(), slow())


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


def normwise_difference(result, other):
    """Largest max|result - other| / max|other| over the outputs (losses and gradients).

    Normwise, so a peer that loses the tiny gradient entries to cancellation (as
    sigmoid(z) - y does for y = 1 and large z) is not reported as disagreeing."""
    if not isinstance(result, tuple):
        result, other = (result,), (other,)
    worst = 0.0
    for a, b in zip(result, other):
        a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
        if not np.array_equal(np.isfinite(a), np.isfinite(b)):
            return np.inf
        finite = np.isfinite(b)
        if finite.any():
            scale = max(float(np.max(np.abs(b[finite]))), np.finfo(np.float64).tiny)
            worst = max(worst, float(np.max(np.abs(a[finite] - b[finite]))) / scale)
    return worst


def _format_time(seconds):
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds * 1e9:.3g} ns"


def _format_n(n):
    return f"{n:,}"


# --- the machine --------------------------------------------------------------

def cpu_model():
    """The CPU's model name from /proc/cpuinfo, else platform's guess."""
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith(("model name", "Model", "Hardware")):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def blas_description():
    """NumPy's BLAS and its kernel (via threadpoolctl, when installed)."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "unknown (threadpoolctl not installed)"
    blas = [f"{i.get('internal_api')} {i.get('version')} ({i.get('architecture', '?')} kernels, "
            f"{i.get('num_threads')} threads)"
            for i in threadpool_info() if i.get("user_api") == "blas"]
    return "; ".join(blas) or "none found"


def machine_lines():
    """Markdown lines naming the machine, the build and the environment."""
    config = show_config(print_out=False)
    lines = [f"- machine: {cpu_model()}, {platform.machine()}, {config['usable cores']} usable "
             f"cores (os.cpu_count() = {os.cpu_count()})",
             f"- xentfast {config['xentfast']}: kernel set {_kernels.KERNEL_SET}, "
             f"OpenMP {config['openmp']}, compiler {config['compiler']}",
             f"- python {config['python']}, numpy {config['numpy']}, BLAS: {blas_description()}"]
    settings = [f"{name}={os.environ[name]}" for name in sorted(os.environ)
                if name.startswith(("OPENBLAS_", "OMP_", "MKL_", "XENTFAST_", "GOMP_"))]
    settings = ", ".join(settings) if settings else "no thread or BLAS variables set"
    lines.append(f"- environment: {settings}")
    return lines


class OtherLoad:
    """How busy the machine was with other processes while a benchmark ran: all CPU
    time (Linux: /proc/stat) less this process's own, as a share of one core."""

    def __init__(self):
        self.start = (_machine_busy_seconds(), _own_cpu_seconds(), time.perf_counter())

    def line(self):
        busy0, own0, wall0 = self.start
        busy1, own1, wall1 = _machine_busy_seconds(), _own_cpu_seconds(), time.perf_counter()
        if busy0 is None or busy1 is None:
            return "- other processes' CPU use during this run: unknown (no /proc/stat)"
        other = max(0.0, (busy1 - busy0) - (own1 - own0)) / (wall1 - wall0)
        warning = "" if other < 0.05 else " — the machine was not quiet: re-run for clean times"
        return (f"- other processes' CPU use during this run: {other:.0%} of one core over "
                f"{wall1 - wall0:.0f} s{warning}")


def _machine_busy_seconds():
    """CPU seconds spent busy (not idle or waiting for I/O) by all processes since boot."""
    try:
        with open("/proc/stat") as stat:
            ticks = [int(t) for t in stat.readline().split()[1:9]]
    except (OSError, ValueError):
        return None
    return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")


def _own_cpu_seconds():
    times = os.times()
    return times.user + times.system


def header():
    config = show_config(print_out=False)
    return (f"machine: {cpu_model()}, {platform.machine()}, {config['usable cores']} usable "
            f"cores; threads: {get_num_threads()}; kernel set: {config['kernel set']}; "
            f"openmp: {config['openmp']}; numpy {config['numpy']}")


# --- xentfast against its NumPy reference -------------------------------------

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


# --- peers: SciPy, scikit-learn, PyTorch --------------------------------------

@dataclass
class Peers:
    """The peer libraries that are installed, imported and set to one thread."""
    special: object = None        # scipy.special
    stats: object = None          # scipy.stats
    binomial: object = None       # sklearn._loss.loss.HalfBinomialLoss()
    torch: object = None
    F: object = None              # torch.nn.functional
    versions: dict = field(default_factory=dict)
    missing: dict = field(default_factory=dict)


def load_peers():
    """Import the peers that are installed; each missing one is recorded, not raised."""
    peers = Peers()
    try:
        import scipy
        import scipy.special
        import scipy.stats
        peers.special, peers.stats = scipy.special, scipy.stats
        peers.versions["scipy"] = scipy.__version__
    except ImportError as error:
        peers.missing["scipy"] = f"not installed ({error}); pip install scipy"
    try:
        import sklearn
        from sklearn._loss.loss import HalfBinomialLoss
        peers.binomial = HalfBinomialLoss()
        peers.versions["scikit-learn"] = sklearn.__version__
    except ImportError as error:
        peers.missing["scikit-learn"] = f"not installed ({error}); pip install scikit-learn"
    try:
        import torch
        import torch.nn.functional
        torch.set_num_threads(1)
        peers.torch, peers.F = torch, torch.nn.functional
        peers.versions["torch"] = torch.__version__
    except ImportError as error:
        peers.missing["torch"] = f"not installed ({error}); {TORCH_HINT}"
    return peers


@dataclass
class Entry:
    """One implementation in a comparison.

    ``column`` is where its time goes in the table: "xentfast", "reference",
    "scipy", "sklearn", "torch" or "read".  ``to_numpy`` turns its result into
    xentfast's form for the agreement check (None: no check).
    """
    column: str
    what: str
    call: Callable
    to_numpy: Optional[Callable] = None


def _tensors_to_numpy(result):
    """A torch result (a tensor or a tuple of them) as NumPy arrays."""
    if isinstance(result, tuple):
        return tuple(_tensors_to_numpy(r) for r in result)
    return result.detach().numpy()


def _same(result):
    return result


def _elementwise_entries(name, scipy_name, torch_name):
    """xentfast, reference, scipy.special.<scipy_name> and torch.<torch_name> on x."""
    function = _function(name)

    def build(n, dtype, peers):
        (x,) = make_inputs(function, n, dtype)
        fast, reference = function.fast, function.reference
        entries = [Entry("xentfast", f"xentfast.{name}(x)", lambda: fast(x), _same),
                   Entry("reference", f"xentfast.reference.{name}(x)", lambda: reference(x),
                         _same)]
        if peers.special is not None and hasattr(peers.special, scipy_name):
            scipy_function = getattr(peers.special, scipy_name)
            entries.append(Entry("scipy", f"scipy.special.{scipy_name}(x)",
                                 lambda: scipy_function(x), _same))
        if peers.torch is not None:
            torch_function = (getattr(peers.torch, torch_name, None)
                              or getattr(peers.F, torch_name))
            module = "torch" if hasattr(peers.torch, torch_name) else "torch.nn.functional"
            xt = peers.torch.from_numpy(x)
            entries.append(Entry("torch", f"{module}.{torch_name}(x)",
                                 lambda: torch_function(xt), _tensors_to_numpy))
        return entries
    return build


def _bce_entries(with_grad):
    """BCE with logits, mean (and its gradient), against the reference, scikit-learn's
    HalfBinomialLoss and PyTorch; the mean alone also against reading its inputs."""
    function = _function("binary_cross_entropy_with_logits")

    def build(n, dtype, peers):
        z, y = make_inputs(function, n, dtype)
        fast, reference = function.fast, function.reference
        entries = [Entry("xentfast", f"binary_cross_entropy_with_logits(z, y, "
                                     f"return_grad={with_grad})",
                         lambda: fast(z, y, return_grad=with_grad), _same),
                   Entry("reference", "the same in xentfast.reference",
                         lambda: reference(z, y, return_grad=with_grad), _same)]
        if peers.binomial is not None:
            loss = peers.binomial
            if with_grad:
                def sklearn_call():
                    values, grad = loss.loss_gradient(y, z, n_threads=1)
                    return values.mean(), grad
                entries.append(Entry(
                    "sklearn", "HalfBinomialLoss().loss_gradient(y, z, n_threads=1), then "
                    "loss.mean(); its gradient is n times xentfast's (checked after / n)",
                    sklearn_call, lambda r: (r[0], r[1] / z.size)))
            else:
                entries.append(Entry("sklearn", "HalfBinomialLoss().loss(y, z, n_threads=1)"
                                     ".mean()", lambda: loss.loss(y, z, n_threads=1).mean(),
                                     _same))
        if peers.torch is not None:
            torch, F = peers.torch, peers.F
            entries.append(_torch_loss_entry(
                F.binary_cross_entropy_with_logits, "F.binary_cross_entropy_with_logits(z, y)",
                torch.from_numpy(z), torch.from_numpy(y), with_grad))
        if not with_grad:
            entries.append(Entry("read", "z.sum(); y.sum()", lambda: (z.sum(), y.sum())))
        return entries
    return build


def _torch_loss_entry(loss_function, description, logits, targets, with_grad):
    """A PyTorch loss on tensors sharing NumPy's memory; with its autograd gradient
    when ``with_grad``."""
    if not with_grad:
        return Entry("torch", description, lambda: loss_function(logits, targets),
                     _tensors_to_numpy)

    def call():
        leaf = logits.detach().requires_grad_()
        value = loss_function(leaf, targets)
        value.backward()
        return value, leaf.grad
    return Entry("torch", f"{description} and its autograd backward()", call, _tensors_to_numpy)


def _softmax_ce_entries(with_grad):
    """Softmax cross-entropy, mean over n/10 rows of 10 classes, against PyTorch."""
    function = _function("softmax_cross_entropy")

    def build(n, dtype, peers):
        logits, targets = make_inputs(function, n, dtype)
        fast, reference = function.fast, function.reference
        entries = [Entry("xentfast", f"softmax_cross_entropy(logits, targets, "
                                     f"return_grad={with_grad})",
                         lambda: fast(logits, targets, return_grad=with_grad), _same),
                   Entry("reference", "the same in xentfast.reference",
                         lambda: reference(logits, targets, return_grad=with_grad), _same)]
        if peers.torch is not None:
            torch, F = peers.torch, peers.F
            entries.append(_torch_loss_entry(
                F.cross_entropy, "F.cross_entropy(logits, targets)",
                torch.from_numpy(logits), torch.from_numpy(targets), with_grad))
        return entries
    return build


def _entropy_entries(n, dtype, peers):
    """Entropy of n/10 rows of 10 probabilities, against scipy.stats.entropy."""
    function = _function("entropy")
    (p,) = make_inputs(function, n, dtype)
    fast, reference = function.fast, function.reference
    entries = [Entry("xentfast", "entropy(p, axis=-1)", lambda: fast(p), _same),
               Entry("reference", "xentfast.reference.entropy(p)", lambda: reference(p), _same)]
    if peers.stats is not None:
        entropy = peers.stats.entropy
        entries.append(Entry("scipy", "scipy.stats.entropy(p, axis=-1), which also "
                             "renormalises the rows", lambda: entropy(p, axis=-1), _same))
    return entries


def _kl_divergence_entries(n, dtype, peers):
    """KL divergence of n/10 row pairs of 10 probabilities, against scipy.special.rel_entr."""
    function = _function("kl_divergence")
    p, q = make_inputs(function, n, dtype)
    fast, reference = function.fast, function.reference
    entries = [Entry("xentfast", "kl_divergence(p, q, axis=-1)", lambda: fast(p, q), _same),
               Entry("reference", "xentfast.reference.kl_divergence(p, q)",
                     lambda: reference(p, q), _same)]
    if peers.special is not None:
        rel_entr = peers.special.rel_entr
        entries.append(Entry("scipy", "scipy.special.rel_entr(p, q).sum(axis=-1) (faster "
                             "than scipy.stats.entropy(p, q), which also renormalises)",
                             lambda: rel_entr(p, q).sum(axis=-1), _same))
    return entries


# (label, builder(n, dtype, peers) -> entries); n counts values, rows of 10 for the last four.
PEER_CASES = (
    ("sigmoid", _elementwise_entries("sigmoid", "expit", "sigmoid")),
    ("log_sigmoid", _elementwise_entries("log_sigmoid", "log_expit", "logsigmoid")),
    ("softplus", _elementwise_entries("softplus", "softplus", "softplus")),
    ("BCE with logits, mean", _bce_entries(with_grad=False)),
    ("BCE with logits, mean + grad", _bce_entries(with_grad=True)),
    ("softmax CE, mean", _softmax_ce_entries(with_grad=False)),
    ("softmax CE, mean + grad", _softmax_ce_entries(with_grad=True)),
    ("entropy", _entropy_entries),
    ("KL divergence", _kl_divergence_entries),
)
PEER_COLUMNS = (("reference", "NumPy reference"), ("scipy", "SciPy"),
                ("sklearn", "scikit-learn"), ("torch", "PyTorch"))
PEER_NAMES = dict(PEER_COLUMNS)


@dataclass
class PeerRow:
    label: str
    n: int
    dtype: str
    seconds: dict            # column -> median s/call
    worst_difference: float  # largest normwise difference of any implementation from xentfast


def measure_peers(label, build, n, dtype, peers, budget=0.2, rounds=5):
    """One table row: the entries of ``build`` timed side by side, and their agreement."""
    entries = build(n, dtype, peers)
    seconds = time_interleaved({e.column: e.call for e in entries}, budget, rounds)
    fast_value = entries[0].to_numpy(entries[0].call())
    worst = 0.0
    for entry in entries[1:]:
        if entry.to_numpy is not None:
            worst = max(worst, normwise_difference(entry.to_numpy(entry.call()), fast_value))
    return PeerRow(label, n, np.dtype(dtype).name, seconds, worst), entries


def _peer_cell(row, column):
    if column not in row.seconds:
        return "—"
    ratio = row.seconds[column] / row.seconds["xentfast"]
    return f"{_format_time(row.seconds[column])} ({ratio:.1f}x)"


# The other libraries (the NumPy reference is xentfast's own twin, not a peer).
PEERS = ("scipy", "sklearn", "torch")


def fastest_peer(row):
    """(column, fastest peer's time ÷ xentfast's) of a row, or None without peers."""
    times = {column: row.seconds[column] for column in PEERS if column in row.seconds}
    if not times:
        return None
    column = min(times, key=times.get)
    return column, times[column] / row.seconds["xentfast"]


def rows_lost(rows):
    """The rows where some peer is faster than xentfast."""
    return [row for row in rows if (best := fastest_peer(row)) is not None and best[1] < 1]


def _peer_line(row):
    cells = [row.label, _format_n(row.n), row.dtype, _format_time(row.seconds["xentfast"])]
    best = fastest_peer(row)
    cells.append("—" if best is None else f"{best[1]:.2f}x ({PEER_NAMES[best[0]]})")
    cells += [_peer_cell(row, column) for column, _ in PEER_COLUMNS]
    if "read" in row.seconds:
        cells += [_format_time(row.seconds["read"]),
                  f"{row.seconds['xentfast'] / row.seconds['read']:.2f}x"]
    else:
        cells += ["—", "—"]
    cells.append(f"{row.worst_difference:.1e}")
    return "| " + " | ".join(cells) + " |"


def summary_line(rows):
    """How many rows a peer wins, and which."""
    lost = rows_lost(rows)
    compared = sum(fastest_peer(row) is not None for row in rows)
    line = f"Rows where a peer is faster: {len(lost)} of {compared} with a peer"
    if lost:
        line += ": " + "; ".join(
            f"{row.label} {_format_n(row.n)} {row.dtype} "
            f"({PEER_NAMES[fastest_peer(row)[0]]} {fastest_peer(row)[1]:.2f}x)" for row in lost)
    return line + "."


def thread_scaling(n, threads, peers, budget=0.2, rounds=5):
    """{label: {"one": s/call on 1 thread, "all": on ``threads``, "read": reading the
    inputs once (BCE mean only)}} for xentfast at size n, float64, timed interleaved."""
    previous = xentfast.get_num_threads()
    result = {}
    openmp = None
    try:
        # torch.set_num_threads(1) (see load_peers) may have set OpenMP's maximum to 1
        # in the libgomp that xentfast shares with it (the same soname, loaded once),
        # and xentfast never runs more threads than that maximum: raise it here.
        openmp = _openmp_limit(threads)
        for label, build in PEER_CASES:
            entries = build(n, np.float64, peers)
            fast = entries[0].call

            def on(k, fast=fast):
                xentfast.set_num_threads(k)
                return fast()
            calls = {"one": lambda: on(1), "all": lambda: on(threads)}
            calls.update({"read": e.call for e in entries if e.column == "read"})
            if label in ELEMENTWISE_LABELS:
                # against copying the input: into a new array, and into out=
                (x,) = make_inputs(_function(label), n, np.float64)
                out = np.empty_like(x)
                function = _function(label).fast

                def into_out(x=x, out=out, function=function):
                    xentfast.set_num_threads(threads)
                    return function(x, out=out)
                calls.update({"out": into_out, "copy": x.copy,
                              "copyto": lambda x=x, out=out: np.copyto(out, x)})
            result[label] = time_interleaved(calls, budget, rounds)
    finally:
        if openmp is not None:
            openmp.restore_original_limits()
        xentfast.set_num_threads(previous)
    return result


def dtype_ratios(sizes, budget=0.2, rounds=5):
    """{(label, n): xentfast's float64 time ÷ its float32 time} for the table's sizes
    from 10^6 up, the two dtypes' calls timed interleaved in the same rounds.

    The table times a label's float64 rows before its float32 rows, seconds apart,
    and this machine's speed drifts over seconds (whole rows, peers included, came
    out 25% slower in one run): a ratio of two rows carries that drift, one timed
    side by side does not."""
    ratios = {}
    for label, build in PEER_CASES:
        for n in sizes:
            if n < 1_000_000:
                continue
            calls = {np.dtype(dtype).name: build(n, dtype, Peers())[0].call
                     for dtype in DTYPES}
            times = time_interleaved(calls, budget, rounds)
            ratios[(label, n)] = times["float64"] / times["float32"]
    return ratios


def _openmp_limit(threads):
    """threadpoolctl's limit of OpenMP to ``threads`` (its restore_original_limits
    undoes it), or None without threadpoolctl."""
    try:
        import threadpoolctl
    except ImportError:
        return None
    return threadpoolctl.threadpool_limits(limits=threads, user_api="openmp")


ELEMENTWISE_LABELS = ("sigmoid", "log_sigmoid", "softplus")


def speed_targets(rows, scaling, scaling_n, cores, ratios=None):
    """Issue 13's targets, from the table's rows, ``scaling`` (see peer_targets) and
    ``ratios`` (from dtype_ratios; without them, float32 ÷ float64 from the rows)."""
    by_key = {(r.label, r.n, r.dtype): r for r in rows}
    lines = [f"- rows where a peer is faster: {len(rows_lost(rows))} (target 0) — "
             + ("met" if not rows_lost(rows) else "MISSED")]
    for row in rows:
        if row.label in ELEMENTWISE_LABELS and row.dtype == "float32" and row.n >= 10_000 \
                and "torch" in row.seconds:
            lines.append(_target(f"{row.label} vs PyTorch, n = {row.n:,} float32",
                                 row.seconds["torch"] / row.seconds["xentfast"], 1.5))
    for row in rows:
        peers = [row.seconds[c] for c in ("scipy", "torch") if c in row.seconds]
        if row.n == 256 and peers:
            lines.append(_target(f"{row.label} vs the fastest of SciPy and PyTorch, n = 256 "
                                 f"{row.dtype}", min(peers) / row.seconds["xentfast"], 1.2))
    for label, _ in PEER_CASES:
        for n in (1_000_000, 10_000_000):
            r64, r32 = by_key.get((label, n, "float64")), by_key.get((label, n, "float32"))
            if ratios and (label, n) in ratios:
                lines.append(_target(f"{label}: float32 throughput ÷ float64, n = {n:,} "
                                     f"(timed side by side)", ratios[(label, n)], 1.6))
            elif r64 and r32:
                lines.append(_target(f"{label}: float32 throughput ÷ float64, n = {n:,}",
                                     r64.seconds["xentfast"] / r32.seconds["xentfast"], 1.6))
    bce = scaling.get("BCE with logits, mean")
    if bce:
        lines.append(_target(f"BCE mean on {cores} threads ÷ reading its inputs once, "
                             f"n = {scaling_n:,} float64", bce["all"] / bce["read"], 1.5,
                             at_least=False))
    for label in ELEMENTWISE_LABELS:
        times = scaling.get(label)
        if times and "copy" in times:
            lines.append(_target(f"{label} on {cores} threads ÷ x.copy(), n = {scaling_n:,} "
                                 f"float64", times["all"] / times["copy"], 1.5, at_least=False))
            lines.append(_target(f"{label}(x, out=out) on {cores} threads ÷ np.copyto(out, x), "
                                 f"n = {scaling_n:,} float64", times["out"] / times["copyto"],
                                 1.5, at_least=False))
    return lines


def _target(what, value, goal, at_least=True, unit="x"):
    met = value >= goal if at_least else value <= goal
    sign = "≥" if at_least else "≤"
    verdict = "met" if met else f"MISSED by {abs(value / goal - 1):.0%}"
    return f"- {what}: {value:.2f}{unit} (target {sign} {goal:g}{unit}) — {verdict}"


def peer_targets(rows, scaling, scaling_n, cores, table_threads, ratios=None):
    """Issue 3's targets, checked against the table's rows (where they were measured),
    ``scaling`` (from ``thread_scaling`` at size scaling_n on ``cores`` threads) and
    ``ratios`` (from dtype_ratios; without them, float32 ÷ float64 from the rows)."""
    by_key = {(r.label, r.n, r.dtype): r for r in rows}
    big = 10_000_000
    lines = []

    def ratio(label, column, n=big, dtype="float64"):
        row = by_key.get((label, n, dtype))
        if row is None or column not in row.seconds:
            return None
        return row.seconds[column] / row.seconds["xentfast"]

    checks = [("sigmoid", "scipy", 8), ("log_sigmoid", "scipy", 8),
              ("BCE with logits, mean", "reference", 8), ("BCE with logits, mean", "sklearn", 6),
              ("BCE with logits, mean", "torch", 6),
              ("BCE with logits, mean + grad", "reference", 8),
              ("BCE with logits, mean + grad", "sklearn", 6),
              ("BCE with logits, mean + grad", "torch", 6),
              ("softmax CE, mean", "torch", 5)]
    for label, column, goal in checks:
        value = ratio(label, column)
        if value is not None:
            lines.append(_target(f"{label} vs {column}, n = 1e7 float64", value, goal))
    for label, _ in PEER_CASES:
        r64, r32 = by_key.get((label, big, "float64")), by_key.get((label, big, "float32"))
        if ratios and (label, big) in ratios:
            lines.append(_target(f"{label}: float32 throughput ÷ float64, n = 1e7 (timed "
                                 f"side by side)", ratios[(label, big)], 1.5))
        elif r64 and r32:
            lines.append(_target(f"{label}: float32 throughput ÷ float64, n = 1e7",
                                 r64.seconds["xentfast"] / r32.seconds["xentfast"], 1.5))
    small = by_key.get(("BCE with logits, mean", 256, "float64"))
    if small:
        lines.append(_target("BCE mean latency, 256 float64", small.seconds["xentfast"] * 1e6,
                             3, at_least=False, unit=" µs"))
    for label, times in scaling.items():
        lines.append(_target(f"{label}: speed-up of {cores} threads over 1, "
                             f"n = {scaling_n:,} float64", times["one"] / times["all"], 1.7))
    bce = scaling.get("BCE with logits, mean")
    if bce:
        lines.append(_target(f"BCE mean on {cores} threads ÷ reading its inputs once "
                             f"(z.sum(); y.sum()), n = {scaling_n:,} float64",
                             bce["all"] / bce["read"], 1.5, at_least=False))
    if not lines:
        lines.append("- (the targets are at n = 1e7 and 256: not measured at these sizes)")
    if table_threads != 1:
        lines.append(f"- note: the table's xentfast ran on {table_threads} threads, so its "
                     f"ratios are not the one-core ratios the targets ask for")
    return lines


def run_peers(sizes=PEER_SIZES, dtypes=DTYPES, threads=1, budget=0.2, rounds=5,
              print_fn=print):
    """Print one Markdown table of xentfast against its peers; return its rows."""
    peers = load_peers()
    other_load = OtherLoad()
    previous = xentfast.get_num_threads()
    xentfast.set_num_threads(threads)
    try:
        print_fn("## xentfast against NumPy, SciPy, scikit-learn and PyTorch")
        print_fn("")
        for line in machine_lines():
            print_fn(line)
        peer_versions = ", ".join(f"{k} {v}" for k, v in peers.versions.items()) or "none"
        print_fn(f"- threads: xentfast {xentfast.get_num_threads()}; peers 1 "
                 f"(torch.set_num_threads(1), scikit-learn n_threads=1, SciPy is serial); "
                 f"peers: {peer_versions}")
        for name, why in peers.missing.items():
            print_fn(f"- skipped {name}: {why}")
        print_fn(f"- each time is the median of {rounds} interleaved rounds; in brackets, "
                 f"the peer's time ÷ xentfast's (> 1: xentfast is faster)")
        print_fn("")
        names = [title for _, title in PEER_COLUMNS]
        print_fn("| function | n | dtype | xentfast | fastest peer ÷ xentfast | "
                 + " | ".join(names) + " | read inputs once | xentfast ÷ read | worst diff |")
        print_fn("|---|---:|---|---:|---:|" + "---:|" * (len(names) + 3))
        rows, legend = [], {}
        for label, build in PEER_CASES:
            for dtype in dtypes:
                for n in sizes:
                    row, entries = measure_peers(label, build, n, dtype, peers, budget, rounds)
                    rows.append(row)
                    print_fn(_peer_line(row))
                    for entry in entries[1:]:
                        legend.setdefault(label, {})[entry.column] = entry.what
        print_fn("")
        print_fn(summary_line(rows))
        print_fn("")
        print_fn("n counts values: elementwise functions and BCE take n values (and n "
                 "targets); softmax CE, entropy and KL divergence take n/10 rows of 10. "
                 "Peers' inputs are made before timing (torch tensors share NumPy's memory). \"worst diff\" is "
                 "the largest normwise difference, max|peer - xentfast| / max|xentfast| "
                 "over each output (loss, gradient), of any peer from xentfast.")
        print_fn("")
        print_fn("What each column calls:")
        for label, columns in legend.items():
            print_fn(f"- {label}: " + "; ".join(f"{column}: `{what}`"
                                                for column, what in columns.items()))
        print_fn("")
        cores = show_config(print_out=False)["usable cores"]
        scaling = {}
        if cores > 1 and max(sizes) >= 1_000_000:  # smaller inputs stay on one thread
            scaling = thread_scaling(max(sizes), cores, peers, budget, rounds)
        both = {"float64", "float32"} <= {np.dtype(d).name for d in dtypes}
        ratios = dtype_ratios(sizes, budget, rounds) if both else {}
        print_fn("### Targets (issue 3)")
        print_fn("")
        for line in peer_targets(rows, scaling, max(sizes), cores, threads, ratios):
            print_fn(line)
        print_fn("")
        print_fn("### Targets (issue 13)")
        print_fn("")
        for line in speed_targets(rows, scaling, max(sizes), cores, ratios):
            print_fn(line)
        print_fn(other_load.line())
    finally:
        xentfast.set_num_threads(previous)
    return rows


# --- linear models: the fused loss-and-gradient pass and LogisticRegression ----

_controller = []  # threadpoolctl's ThreadpoolController, made on first use


def _limit_threads(n, user_api=None):
    """A context limiting NumPy's BLAS (user_api="blas") or every thread pool (None)
    to n threads, when threadpoolctl is installed; else a context that does nothing."""
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:
        return contextlib.nullcontext()
    if not _controller:  # it scans the loaded libraries: once, not per timed call
        _controller.append(ThreadpoolController())
    return _controller[0].limit(limits=n, user_api=user_api)


def _reference_on(threads, function):
    def call():
        with _limit_threads(threads, "blas"):
            return function()
    return call


def _xentfast_on(threads, function):
    def call():
        xentfast.set_num_threads(threads)
        return function()
    return call


def linear_data(n_samples, n_features, seed=0):
    """X (float64), labels 0/1 (intp) and the same as float64: the train command's data."""
    from xentfast import _datasets
    X, y, _ = _datasets.make_synthetic(n_samples, n_features, 2, np.float64, seed)
    return X, y, y.astype(np.float64)


def objective(coef, intercept, X, y01, alpha):
    """The regularised mean cross-entropy of a binary model, by xentfast's fused kernel."""
    w = np.concatenate([np.ravel(coef), np.ravel(intercept)])
    return xentfast.logistic_loss_and_grad(w, X, y01, alpha=alpha)[0]


def _vm_kib(field_name):
    """A field of /proc/self/status in KiB, or None off Linux."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(field_name + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def _reset_rss_peak():
    """Reset VmHWM to the current RSS (Linux >= 4.0); False where that is not possible."""
    try:
        with open("/proc/self/clear_refs", "w") as clear_refs:
            clear_refs.write("5")
        return True
    except OSError:
        return False


def _release_freed_memory():
    """With glibc, serve every allocation over 128 KiB by mmap (a fixed threshold:
    glibc otherwise raises it as big blocks are freed) and give the heap's free
    pages back, so that the RSS high-water mark sees each allocation afresh
    instead of pages left resident by earlier, freed arrays."""
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-3, 128 * 1024)  # M_MMAP_THRESHOLD
        libc.malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass


def fit_memory(fit):
    """(tracemalloc peak, RSS high-water rise or None) in bytes, of one call of ``fit``.

    tracemalloc sees every NumPy array (NumPy reports its data buffers to it)
    and Python object, but not malloc in compiled code; the RSS high-water rise
    (Linux: VmHWM reset through /proc/self/clear_refs) sees everything that was
    touched, including the kernels' own buffers and thread stacks.
    """
    gc.collect()
    _release_freed_memory()
    rss_before = _vm_kib("VmRSS")
    can_reset = _reset_rss_peak()
    tracemalloc.start()
    fit()
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    hwm = _vm_kib("VmHWM")
    rss_rise = (hwm - rss_before) * 1024 if can_reset and hwm and rss_before else None
    return traced_peak, rss_rise


def _loss_and_grad_table(X64, y01, alpha, thread_counts, budget, rounds, print_fn):
    """Print one logistic_loss_and_grad call against the reference and X.sum(); return
    {(dtype, threads): (xentfast s, reference s, X.sum() s)}."""
    from xentfast import reference
    n_samples, n_features = X64.shape
    w = np.random.default_rng(1).normal(0, 0.3, n_features + 1)
    print_fn(f"One `logistic_loss_and_grad(w, X, y, alpha=1/n)` call, X {n_samples:,} × "
             f"{n_features}; NumPy reference = `xentfast.reference.logistic_loss_and_grad` "
             f"with BLAS limited to the same threads; `X.sum()` is NumPy's (one thread).")
    print_fn("")
    print_fn("| dtype | threads | xentfast | NumPy reference | reference ÷ xentfast | X.sum() "
             "| xentfast ÷ X.sum() | speed-up over 1 thread | rel. diff |")
    print_fn("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    result = {}
    for dtype in (np.float64, np.float32):
        X = X64.astype(dtype)
        fast = lambda X=X: xentfast.logistic_loss_and_grad(w, X, y01, alpha=alpha)  # noqa: E731
        slow = lambda X=X: reference.logistic_loss_and_grad(w, X, y01, alpha=alpha)  # noqa: E731
        calls = {"X.sum": X.sum}
        for k in thread_counts:
            calls[("xentfast", k)] = _xentfast_on(k, fast)
            calls[("reference", k)] = _reference_on(k, slow)
        seconds = time_interleaved(calls, budget, rounds)
        diff = max_relative_difference(fast(), slow())
        for k in thread_counts:
            fast_s, slow_s = seconds[("xentfast", k)], seconds[("reference", k)]
            result[(np.dtype(dtype).name, k)] = (fast_s, slow_s, seconds["X.sum"])
            print_fn(f"| {np.dtype(dtype).name} | {k} | {_format_time(fast_s)} | "
                     f"{_format_time(slow_s)} | {slow_s / fast_s:.2f}x | "
                     f"{_format_time(seconds['X.sum'])} | {fast_s / seconds['X.sum']:.2f}x | "
                     f"{seconds[('xentfast', thread_counts[0])] / fast_s:.2f}x | {diff:.1e} |")
        del X
    return result


@dataclass
class FitRow:
    name: str
    n_iter: int
    seconds: float
    objective: float
    converged: bool
    traced_peak: Optional[int] = None
    rss_rise: Optional[int] = None


def _fits(X, y, alpha, max_iter):
    """{name: fit()} for scikit-learn's lbfgs (default tol and tol=1e-8) and every
    xentfast solver; each fit() returns (n_iter, coef, intercept)."""
    from xentfast import linear_model

    def run_fit(model):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # ConvergenceWarning: the table says it
            model.fit(X, y)
        return int(np.max(model.n_iter_)), model.coef_, model.intercept_

    XentfastLogisticRegression = xentfast.LogisticRegression  # imported now, not while timed
    fits = {}
    try:
        from sklearn.linear_model import LogisticRegression as SklearnLogisticRegression
    except ImportError:
        SklearnLogisticRegression = None
    if SklearnLogisticRegression is not None:
        for tol in (1e-4, 1e-8):
            fits[f"scikit-learn lbfgs, tol={tol:g}"] = (
                lambda tol=tol: run_fit(SklearnLogisticRegression(
                    C=1.0 / (alpha * X.shape[0]), solver="lbfgs", tol=tol, max_iter=max_iter)))
    for solver in linear_model.SOLVERS:
        fits[f"xentfast {solver}"] = (lambda solver=solver: run_fit(XentfastLogisticRegression(
            alpha=alpha, solver=solver, max_iter=max_iter, random_state=0)))
    return fits


def _fit_table(X, y, y01, alpha, fit_threads, repeats, max_iter):
    """Time every fit (interleaved, median of ``repeats``), then measure xentfast's memory."""
    fits = _fits(X, y, alpha, max_iter)
    seconds = {name: [] for name in fits}
    outcome = {}
    previous = xentfast.get_num_threads()
    xentfast.set_num_threads(fit_threads)
    try:
        _controller.clear()  # see scikit-learn's libraries too, imported by _fits
        with _limit_threads(fit_threads):
            for _ in range(repeats):
                for name, fit in fits.items():
                    time.sleep(SETTLE_SECONDS)
                    start = time.perf_counter()
                    outcome[name] = fit()
                    seconds[name].append(time.perf_counter() - start)
            memory = {name: fit_memory(fit) for name, fit in fits.items()
                      if name.startswith("xentfast")}
    finally:
        xentfast.set_num_threads(previous)
    rows = []
    for name in fits:
        n_iter, coef, intercept = outcome[name]
        traced, rss = memory.get(name, (None, None))
        rows.append(FitRow(name, n_iter, statistics.median(seconds[name]),
                           objective(coef, intercept, X, y01, alpha), n_iter < max_iter,
                           traced, rss))
    return rows


def _share(nbytes, of):
    return "—" if nbytes is None else f"{nbytes / of:.1%}"


def run_linear(n_samples=1_000_000, n_features=LINEAR_FEATURES, thread_counts=(1, 2),
               fit_threads=2, budget=0.5, rounds=5, fit_repeats=3, max_iter=100,
               print_fn=print):
    """Print the linear-model section (issue 4's speed): returns (call times, fit rows)."""
    other_load = OtherLoad()
    X, y, y01 = linear_data(n_samples, n_features)
    alpha = 1.0 / n_samples
    print_fn("## Logistic regression: the fused loss-and-gradient pass and fitting")
    print_fn("")
    for line in machine_lines():
        print_fn(line)
    print_fn(f"- data: the train command's synthetic model, X ~ N(0, 1) of {n_samples:,} × "
             f"{n_features} float64 ({X.nbytes / 2**20:.0f} MiB), labels drawn from σ(Xθ + b); "
             f"alpha = 1/n")
    print_fn("")
    calls = _loss_and_grad_table(X, y01, alpha, tuple(thread_counts), budget, rounds, print_fn)
    print_fn("")
    print_fn(f"Fitting, all on {fit_threads} threads (xentfast.set_num_threads and "
             f"threadpoolctl's limit for BLAS and OpenMP): scikit-learn's "
             f"`LogisticRegression(C=1/(alpha n), solver=\"lbfgs\", tol, max_iter={max_iter})` "
             f"and `xentfast.LogisticRegression(alpha, solver, max_iter={max_iter}, "
             f"random_state=0)` at its default tol (1e-4 on the gradient's max-norm; sgd: on "
             f"the epoch loss's relative change). Times are medians of {fit_repeats} "
             f"interleaved fits. Both objectives are computed by "
             f"`xentfast.logistic_loss_and_grad`; \"rel. to sklearn\" is (f − f_sk) / f_sk "
             f"with f_sk from scikit-learn at its default tol=1e-4, the fit the speed-up is "
             f"against.")
    print_fn("")
    rows = _fit_table(X, y, y01, alpha, fit_threads, fit_repeats, max_iter)
    baseline = next((r for r in rows if r.name == "scikit-learn lbfgs, tol=0.0001"), None)
    print_fn("| fit | iterations | converged | time | sklearn time ÷ this | objective "
             "| rel. to sklearn | within 1e-6 | tracemalloc peak ÷ X | RSS peak rise ÷ X |")
    print_fn("|---|---:|---|---:|---:|---:|---:|---|---:|---:|")
    for row in rows:
        if baseline is not None:
            relative = (row.objective - baseline.objective) / baseline.objective
            within = "yes" if relative <= 1e-6 else "no"
            speedup = f"{baseline.seconds / row.seconds:.2f}x"
            relative = f"{relative:.1e}"
        else:
            relative = within = speedup = "—"
        print_fn(f"| {row.name} | {row.n_iter} | {'yes' if row.converged else 'no'} | "
                 f"{_format_time(row.seconds)} | {speedup} | {row.objective:.12f} | {relative} | "
                 f"{within} | {_share(row.traced_peak, X.nbytes)} | "
                 f"{_share(row.rss_rise, X.nbytes)} |")
    print_fn("")
    print_fn("Memory: the peak of what each xentfast fit allocates above what exists before "
             "it, as a share of X's size (the target, at most X + 20%, means ≤ 20% here). "
             "tracemalloc counts NumPy arrays and Python objects but not malloc in compiled "
             "code; the RSS peak rise (VmHWM reset through /proc/self/clear_refs) counts "
             "every page touched, including the kernels' buffers and thread stacks.")
    print_fn("")
    print_fn("### Targets (issue 4)")
    print_fn("")
    for dtype in ("float64", "float32"):
        if (dtype, 1) in calls:
            fast, slow, read = calls[(dtype, 1)]
            print_fn(_target(f"loss_and_grad {dtype}, 1 thread: reference ÷ xentfast",
                             slow / fast, 2.5))
            print_fn(_target(f"loss_and_grad {dtype}, 1 thread: xentfast ÷ X.sum()",
                             fast / read, 1.5, at_least=False))
        if (dtype, 1) in calls and (dtype, 2) in calls:
            print_fn(_target(f"loss_and_grad {dtype}: 2 threads speed-up over 1",
                             calls[(dtype, 1)][0] / calls[(dtype, 2)][0], 1.6))
    if baseline is not None:
        good = [r for r in rows if r.name.startswith("xentfast")
                and (r.objective - baseline.objective) / baseline.objective <= 1e-6]
        if good:
            best = min(good, key=lambda r: r.seconds)
            print_fn(_target(f"fit to sklearn's objective: sklearn lbfgs time ÷ {best.name}",
                             baseline.seconds / best.seconds, 3))
        else:
            print_fn("- fit to sklearn's objective: no xentfast solver reached it — MISSED")
    else:
        print_fn("- fit to sklearn's objective: not measured (scikit-learn is not installed)")
    for row in rows:
        if row.name.startswith("xentfast") and row.rss_rise is not None:
            print_fn(_target(f"{row.name}: peak memory during fit (RSS) ÷ X's size",
                             1 + row.rss_rise / X.nbytes, 1.2, at_least=False))
    print_fn(other_load.line())
    return calls, rows
