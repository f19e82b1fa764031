"""The shared test inputs and comparison helpers.

``real_cases()`` and ``probability_cases()`` list every kind of array the
public functions must handle: both float dtypes, ints, bools, float16, 0-d,
empty, 1- to 3-D, strided, Fortran-ordered, byte-swapped, read-only, unaligned
and memory-mapped arrays, infinities, nan, and huge, tiny and subnormal
magnitudes.  Every case has a readable id, so a failure names its input; all
values come from fixed seeds.  ``params()`` turns cases into pytest params.
"""
import atexit
import functools
import os
import shutil
import tempfile

import numpy as np
import pytest

FLOAT_DTYPES = (np.dtype(np.float64), np.dtype(np.float32))
DTYPE_TAGS = {np.dtype(np.float64): "f64", np.dtype(np.float32): "f32"}
INF, NAN = np.inf, np.nan

# Memory-mapped cases live in one small temporary directory for the whole run.
_MEMMAP_DIR = tempfile.mkdtemp(prefix="xentfast-tests-")
atexit.register(shutil.rmtree, _MEMMAP_DIR, ignore_errors=True)


def _rng(*seed):
    return np.random.default_rng(list(seed))


# ---------------------------------------------------------------------------
# Memory layouts

def read_only(arr):
    arr = np.array(arr)
    arr.flags.writeable = False
    return arr


def byte_swapped(arr):
    """The same values in the non-native byte order."""
    arr = np.asarray(arr)
    return arr.astype(arr.dtype.newbyteorder("S"))


def strided(arr):
    """The same values as a non-contiguous view, every other row of a bigger array."""
    arr = np.asarray(arr)
    if arr.ndim == 0:
        return arr
    bigger = np.empty((2 * arr.shape[0],) + arr.shape[1:], arr.dtype)
    bigger[::2] = arr
    bigger[1::2] = 99  # never read
    return bigger[::2]


def unaligned(arr):
    """The same values in a C-contiguous array at an odd byte offset of its buffer
    (as ``np.frombuffer(buffer, dtype, offset=1)`` gives): not aligned for its dtype."""
    arr = np.asarray(arr)
    buffer = np.zeros(arr.nbytes + 1, np.uint8)
    view = buffer[1:].view(arr.dtype).reshape(arr.shape)
    view[...] = arr
    assert arr.dtype.alignment == 1 or arr.size == 0 or not view.flags.aligned
    return view


def memmap(arr, name):
    """The same values in a read-only memory-mapped file."""
    arr = np.asarray(arr)
    path = os.path.join(_MEMMAP_DIR, f"{name}.dat")
    writer = np.memmap(path, dtype=arr.dtype, mode="w+", shape=arr.shape)
    writer[...] = arr
    writer.flush()
    del writer
    return np.memmap(path, dtype=arr.dtype, mode="r", shape=arr.shape)


def _layout_variants(tag, arr):
    """``arr`` (2-D or more) in each unusual layout, as (id, array)."""
    yield f"{tag}-strided-rows", strided(arr)
    yield f"{tag}-strided-columns", np.repeat(arr, 2, axis=-1)[..., ::2]
    yield f"{tag}-fortran", np.asfortranarray(arr)
    yield f"{tag}-transposed", arr.T
    yield f"{tag}-byteswapped", byte_swapped(arr)
    yield f"{tag}-readonly", read_only(arr)
    yield f"{tag}-unaligned", unaligned(arr)
    yield f"{tag}-memmap", memmap(arr, f"{tag}-memmap")


# ---------------------------------------------------------------------------
# Real-valued inputs (logits, x of sigmoid, softmax, ...)

def _extreme_values(dtype):
    """Branch points and the ends of the range, for a 1-D slice."""
    if dtype == np.float64:
        values = [0.0, -0.0, 1.0, -1.0, 1e-300, -1e-300, 5e-324, -5e-324, 1e-310, 1e4, -1e4,
                  800.0, -800.0, 1e300, -1e300, 36.7, -36.7, 18.0, 33.3, -745.2, 709.8,
                  -709.8, INF, -INF]
    else:
        info = np.finfo(np.float32)
        values = [0.0, -0.0, 1.0, -1.0, info.tiny, -info.tiny, 1e-45, -1e-45, 1e4, -1e4,
                  88.7, -88.7, -103.9, 16.6, -16.6, 8.0, 14.0, info.max, -info.max, INF, -INF]
    return np.array(values, dtype)


def _special_rows(dtype):
    """Rows that take each branch of logsumexp / softmax along the last axis."""
    rows = [
        [1.0, 2.0, 3.0, 4.0],
        [5.0, 5.0, 5.0, 5.0],          # ties at the max
        [INF, 1.0, 2.0, -INF],         # one +inf: one-hot
        [INF, INF, 1.0, 2.0],          # two +inf: no limit
        [-INF, -INF, -INF, -INF],      # all -inf
        [-INF, 0.0, -INF, 1.0],
        [NAN, 1.0, 2.0, 3.0],
        [NAN, INF, -INF, 0.0],
        [1e4, -1e4, 0.0, 1e4 - 1],
        [-1e4, -1e4 - 1, -1e4 - 30, -1e4],
        [800.0, -800.0, 799.0, 0.0],
        [30.0, -30.0, 0.0, 1e-8],
    ]
    if dtype == np.float64:
        rows.append([1e300, -1e300, 0.0, 1e300])
    else:
        info = np.finfo(np.float32)
        rows.append([float(info.max), -float(info.max), 0.0, float(info.tiny)])
    return np.array(rows, dtype)


@functools.lru_cache(maxsize=None)
def real_cases():
    """(id, array) for inputs that may take any real value (built once; do not modify)."""
    cases = []
    for dtype in FLOAT_DTYPES:
        tag = DTYPE_TAGS[dtype]
        rng = _rng(1, dtype.itemsize)
        cases += [
            (f"{tag}-1d", rng.normal(0, 3, 13).astype(dtype)),
            (f"{tag}-2d", rng.normal(0, 3, (4, 5)).astype(dtype)),
            (f"{tag}-3d", rng.normal(0, 3, (2, 3, 4)).astype(dtype)),
            (f"{tag}-1d-single", np.array([0.25], dtype)),
            (f"{tag}-0d", np.array(0.75, dtype)),
            (f"{tag}-0d-negative", np.array(-3.5, dtype)),
            (f"{tag}-0d-inf", np.array(INF, dtype)),
            (f"{tag}-0d-neginf", np.array(-INF, dtype)),
            (f"{tag}-0d-nan", np.array(NAN, dtype)),
            (f"{tag}-empty", np.zeros(0, dtype)),
            (f"{tag}-empty-0x3", np.zeros((0, 3), dtype)),
            (f"{tag}-empty-3x0", np.zeros((3, 0), dtype)),
            (f"{tag}-strided-1d", rng.normal(0, 3, 26).astype(dtype)[::2]),
            (f"{tag}-unaligned-1d", unaligned(rng.normal(0, 3, 5).astype(dtype))),
            (f"{tag}-extremes", _extreme_values(dtype)),
            (f"{tag}-special-rows", _special_rows(dtype)),
            (f"{tag}-with-nan-inf", _sprinkle(rng.normal(0, 3, (3, 7)).astype(dtype), rng)),
            (f"{tag}-large-1e4", (rng.normal(0, 1, (3, 6)) * 1e4).astype(dtype)),
            (f"{tag}-tiny-subnormal",
             (rng.normal(0, 1, 8) * np.finfo(dtype).smallest_subnormal * 8).astype(dtype)),
        ]
        cases += _layout_variants(f"{tag}-2d", rng.normal(0, 3, (4, 5)).astype(dtype))
        cases.append((f"{tag}-3d-fortran", np.asfortranarray(rng.normal(0, 3, (2, 3, 4)))
                      .astype(dtype, order="F")))
    rng = _rng(2)
    cases += [
        ("i64-1d", np.arange(-6, 7, dtype=np.int64)),
        ("i64-2d", rng.integers(-40, 40, (3, 4)).astype(np.int64)),
        ("i64-0d", np.array(2, np.int64)),
        ("u8-2d", rng.integers(0, 255, (2, 5)).astype(np.uint8)),
        ("i32-strided", np.arange(-10, 10, dtype=np.int32)[::3]),
        ("bool-1d", np.array([True, False, True, True])),
        ("f16-1d", np.array([-2.0, 0.0, 0.5, 60000.0, -np.inf], np.float16)),
    ]
    return tuple(cases)


def _sprinkle(arr, rng):
    """``arr`` with a few entries replaced by nan, +inf and -inf."""
    arr = arr.copy()
    flat = arr.reshape(-1)
    positions = rng.choice(flat.size, size=3, replace=False)
    flat[positions] = [NAN, INF, -INF]
    return arr


# ---------------------------------------------------------------------------
# Probabilities (entries in [0, 1], exact 0 and 1 included, or nan)

def probabilities_like(shape, rng, dtype=np.float64, zeros=0.15, ones=0.05):
    """Uniform probabilities of ``shape`` with some exact 0s and 1s."""
    p = np.array(rng.uniform(0, 1, shape))
    p[rng.uniform(0, 1, shape) < zeros] = 0.0
    p[rng.uniform(0, 1, shape) < ones] = 1.0
    return p.astype(dtype)


def _tiny_probabilities(dtype):
    if dtype == np.float64:
        values = [0.0, 5e-324, 1e-310, 1e-300, 1e-30, 1e-8, 0.5, 1 - 2.0**-53, 1.0 - 1e-8, 1.0]
    else:
        values = [0.0, 1e-45, float(np.finfo(np.float32).tiny), 1e-30, 1e-8, 0.5,
                  1 - 2.0**-24, 1.0 - 1e-4, 1.0]
    return np.array(values, dtype)


@functools.lru_cache(maxsize=None)
def probability_cases(include_invalid=True):
    """(id, array) for inputs that are probabilities.

    With ``include_invalid``, two cases outside [0, 1] check that both
    implementations reject the same inputs.
    """
    cases = []
    for dtype in FLOAT_DTYPES:
        tag = DTYPE_TAGS[dtype]
        rng = _rng(3, dtype.itemsize)
        with_nan = probabilities_like((3, 6), rng, dtype)
        with_nan[1, 2] = NAN
        cases += [
            (f"{tag}-1d", probabilities_like(11, rng, dtype)),
            (f"{tag}-2d", probabilities_like((4, 5), rng, dtype)),
            (f"{tag}-3d", probabilities_like((2, 3, 4), rng, dtype)),
            (f"{tag}-rows-sum-to-1", _normalised_rows((5, 4), rng, dtype)),
            (f"{tag}-one-hot-rows", np.eye(4, dtype=dtype)),
            (f"{tag}-0d", np.array(0.3, dtype)),
            (f"{tag}-0d-zero", np.array(0.0, dtype)),
            (f"{tag}-0d-one", np.array(1.0, dtype)),
            (f"{tag}-0d-nan", np.array(NAN, dtype)),
            (f"{tag}-empty", np.zeros(0, dtype)),
            (f"{tag}-empty-0x3", np.zeros((0, 3), dtype)),
            (f"{tag}-empty-3x0", np.zeros((3, 0), dtype)),
            (f"{tag}-tiny-and-near-1", _tiny_probabilities(dtype)),
            (f"{tag}-with-nan", with_nan),
            (f"{tag}-strided-1d", probabilities_like(22, rng, dtype)[::2]),
        ]
        cases += _layout_variants(f"{tag}-2d", probabilities_like((4, 5), rng, dtype))
    cases += [
        ("i64-1d", np.array([0, 1, 1, 0, 1], np.int64)),
        ("bool-2d", np.array([[True, False], [False, False]])),
        ("f16-1d", np.array([0.0, 0.25, 0.5, 1.0], np.float16)),
    ]
    if include_invalid:
        cases = cases + [
            ("invalid-negative", np.array([0.5, -0.25, 0.75])),
            ("invalid-above-1", np.array([[0.5, 1.5], [0.0, 1.0]], np.float32)),
        ]
    return tuple(cases)


def _normalised_rows(shape, rng, dtype):
    p = rng.uniform(0, 1, shape)
    p[0, 0] = 0.0
    return (p / p.sum(axis=-1, keepdims=True)).astype(dtype)


def companion_distribution(p, seed):
    """A q for ``p`` (same shape and dtype): near p, with exact 0s (some where p > 0),
    some entries equal to p, nan where p has nan."""
    p = np.asarray(p)
    dtype = p.dtype if p.dtype in FLOAT_DTYPES else np.dtype(np.float64)
    rng = _rng(4, seed)
    p64 = np.asarray(p, np.float64)
    with np.errstate(invalid="ignore"):
        q = np.clip(p64 * rng.uniform(0.6, 1.4, p.shape) + rng.uniform(0, 0.05, p.shape), 0, 1)
    choice = rng.uniform(0, 1, p.shape)
    q = np.where(choice < 0.1, 0.0, q)
    q = np.where((choice >= 0.1) & (choice < 0.25), p64, q)
    return np.asarray(q, dtype)


def distribution_pair_cases():
    """(id, p, q) for cross_entropy and kl_divergence: every probability case with a
    companion q, plus broadcasting, mixed dtypes and a shape mismatch."""
    cases = [(name, p, companion_distribution(p, i))
             for i, (name, p) in enumerate(probability_cases())]
    rng = _rng(5)
    p = probabilities_like((4, 5), rng)
    cases += [
        ("broadcast-q-row", p, probabilities_like(5, rng)),
        ("broadcast-p-column", probabilities_like((4, 1), rng), probabilities_like((4, 5), rng)),
        ("mixed-f32-f64", p.astype(np.float32), companion_distribution(p, 99)),
        ("both-f32", p.astype(np.float32), companion_distribution(p, 98).astype(np.float32)),
        ("q-byteswapped", p, byte_swapped(companion_distribution(p, 97))),
        ("q-strided", p, strided(companion_distribution(p, 96))),
        ("p-equals-q", p, p.copy()),
        ("q-zero-where-p-positive", np.array([0.5, 0.5, 0.0]), np.array([1.0, 0.0, 0.0])),
        ("shape-mismatch", p, probabilities_like(3, rng)),
    ]
    return cases


# ---------------------------------------------------------------------------
# Loss ingredients

def targets_like(shape, seed, dtype=np.float64):
    """Binary targets in [0, 1]: hard 0 and 1 and soft values."""
    rng = _rng(6, seed)
    y = rng.uniform(0, 1, shape)
    kind = rng.integers(0, 3, shape)
    y = np.where(kind == 0, 0.0, np.where(kind == 1, 1.0, y))
    return np.asarray(y, dtype)


def weights_like(shape, seed, zeros=0.1):
    """Non-negative weights in [0, 3), some exactly 0."""
    rng = _rng(7, seed)
    w = np.array(rng.uniform(0, 3, shape))
    w[rng.uniform(0, 1, shape) < zeros] = 0.0
    return w


def class_indices_like(batch_shape, k, seed, ignore_index=None):
    """Class indices in [0, k), about a third set to ``ignore_index`` when given."""
    rng = _rng(8, seed)
    index = rng.integers(0, k, batch_shape)
    if ignore_index is not None:
        index = np.where(rng.uniform(0, 1, batch_shape) < 0.35, ignore_index, index)
    return np.asarray(index, np.int64)


def soft_targets_like(shape, seed):
    """Probability targets, rows summing to 1 (some one-hot, some with exact 0s)."""
    rng = _rng(9, seed)
    t = rng.uniform(0, 1, shape)
    t[rng.uniform(0, 1, shape) < 0.2] = 0.0
    total = t.sum(axis=-1, keepdims=True)
    t = np.where(total > 0, t / np.where(total > 0, total, 1.0), 1.0 / max(shape[-1], 1))
    return np.asarray(t)


def params(cases):
    """pytest params with each case's id."""
    return [pytest.param(*case[1:], id=case[0]) for case in cases]


# ---------------------------------------------------------------------------
# Comparisons

def snapshot(*arrays):
    """Copies of the ndarray arguments, to check afterwards that nothing changed them."""
    return [(arr, np.array(arr, copy=True)) for arr in arrays if isinstance(arr, np.ndarray)]


def assert_unchanged(saved):
    for arr, copy in saved:
        assert arr.dtype == copy.dtype, "an input array changed dtype"
        np.testing.assert_array_equal(arr, copy, err_msg="an input array was modified")


def assert_same_type(actual, expected):
    """Same Python type (NumPy scalar or ndarray), dtype and shape."""
    assert isinstance(actual, np.ndarray) == isinstance(expected, np.ndarray), (
        f"got {type(actual).__name__}, expected {type(expected).__name__}")
    assert np.asarray(actual).dtype == np.asarray(expected).dtype, (
        f"dtype {np.asarray(actual).dtype}, expected {np.asarray(expected).dtype}")
    assert np.shape(actual) == np.shape(expected), (
        f"shape {np.shape(actual)}, expected {np.shape(expected)}")


def assert_close(actual, expected, rtol, atol=0.0, what="result"):
    """|actual - expected| <= atol + rtol |expected| elementwise, where ``rtol`` and
    ``atol`` may be arrays of the result's shape; nan where expected is nan and the
    same infinities exactly."""
    actual = np.asarray(actual, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    expected_nan = np.isnan(expected)
    wrong_nan = expected_nan != np.isnan(actual)
    assert not wrong_nan.any(), (
        f"{what}: nan positions differ at {_first_index(wrong_nan)}: "
        f"got {actual[wrong_nan][:5]}, expected {expected[wrong_nan][:5]}")
    expected_inf = np.isinf(expected)
    wrong_inf = expected_inf & (actual != expected)
    assert not wrong_inf.any(), (
        f"{what}: infinities differ at {_first_index(wrong_inf)}: "
        f"got {actual[wrong_inf][:5]}, expected {expected[wrong_inf][:5]}")
    finite = ~(expected_nan | expected_inf)
    with np.errstate(invalid="ignore"):  # rtol * inf at infinite entries, which are excluded
        allowed = np.broadcast_to(atol + rtol * np.abs(expected), expected.shape)
        error = np.abs(actual - expected)
        # an exact match passes even where the allowed error is nan (0 times an
        # infinite magnitude)
        too_far = finite & (error != 0) & ~(error <= allowed)
    if too_far.any():
        i = _first_index(too_far)
        worst = np.nanmax(np.where(too_far, error / np.where(allowed > 0, allowed, 1e-300), 0))
        raise AssertionError(
            f"{what}: {np.count_nonzero(too_far)} of {expected.size} entries too far; first at "
            f"{i}: got {actual[i]!r}, expected {expected[i]!r}, allowed error "
            f"{allowed[i]:.3g}; worst error is {worst:.3g} times the allowed one")


def assert_outputs_close(name, actual, expected, tolerances):
    """A function's result (or (loss, grad) tuple) against the expected one: same
    type, dtype and shape, and close within ``tolerances``, one (rtol, atol) per output."""
    if isinstance(expected, tuple):
        assert isinstance(actual, tuple) and len(actual) == len(expected), (
            f"expected a tuple of {len(expected)}, got {type(actual).__name__}")
        outputs = list(zip(("loss", "grad"), actual, expected))
    else:
        outputs = [("result", actual, expected)]
    for (what, a, e), (rtol, atol) in zip(outputs, tolerances, strict=True):
        assert_same_type(a, e)
        assert_close(a, e, rtol, atol, what=f"{name} {what}")


def by_kind(kind):
    """pytest parametrisation over the registered functions of ``kind``."""
    from xentfast._registry import get_functions
    functions = get_functions(kind)
    assert functions, f"the registry has no function of kind {kind!r}"
    return pytest.mark.parametrize("func", functions, ids=lambda f: f.name)


def _first_index(mask):
    return tuple(int(i) for i in np.argwhere(mask)[0]) if mask.ndim else ()


def eps(dtype):
    return float(np.finfo(dtype).eps)


def tiny(dtype):
    """The smallest normal number: the error allowed where a result is subnormal."""
    return float(np.finfo(dtype).tiny)


# ---------------------------------------------------------------------------
# Tolerances for comparing xentfast with the reference.
#
# rtol: float64 1e-13 for elementwise results, 1e-12 for anything that sums;
# float32 2 eps, resp. 4 eps.  atol: ATOL_FACTOR * eps * (the magnitude of the
# terms whose rounding errors reach the result: where terms cancel, a relative
# tolerance alone is not attainable), plus the smallest normal number, because
# a subnormal result has fewer significant digits.  The magnitudes below are
# estimates from the inputs (and the reference's intermediates); they only
# scale the allowed error, they are not compared.

ATOL_FACTOR = 8


def rtol_for(dtype, elementwise):
    if np.dtype(dtype) == np.float64:
        return 1e-13 if elementwise else 1e-12
    return (2 if elementwise else 4) * eps(np.float32)


def finite_abs(x):
    x = np.asarray(x, np.float64)
    return np.where(np.isfinite(x), np.abs(x), 0.0)


def slice_magnitude(x, axis, keepdims):
    """Per slice along ``axis``: max finite |x| + log(n + 1) + 1, which bounds |max x|
    and log Σ e^(x - max x)."""
    x = np.asarray(x, np.float64)
    if x.ndim == 0:
        x = x.reshape(1)
    n = x.size if axis is None else x.shape[axis]
    m = np.max(finite_abs(x), axis=axis, keepdims=keepdims, initial=0.0)
    return m + np.log(n + 1.0) + 1.0


def elementwise_tolerance(dtype):
    return rtol_for(dtype, True), tiny(dtype)


def axis_tolerance(name, x, axis, expected):
    """(rtol, atol) for logsumexp, softmax and log_softmax."""
    dtype = np.asarray(expected).dtype
    rtol, scale = rtol_for(dtype, False), ATOL_FACTOR * eps(dtype)
    if name == "logsumexp":
        magnitude = slice_magnitude(x, axis, keepdims=False)
        return rtol, scale * magnitude + tiny(dtype)
    x1 = np.asarray(x, np.float64).reshape(np.shape(x) or (1,))
    magnitude = np.broadcast_to(slice_magnitude(x1, axis, keepdims=True), x1.shape)
    with np.errstate(over="ignore", invalid="ignore"):  # magnitudes near 1e308 overflow: inf
        magnitude = (magnitude + finite_abs(x1)).reshape(np.shape(x))
        if name == "softmax":
            # e^(x - m) has the relative error of (x - m), whose rounding is eps |x - m|
            return rtol, (scale * np.abs(np.asarray(expected, np.float64)) * magnitude
                          + tiny(dtype))
    return rtol, scale * magnitude + tiny(dtype)


def distribution_tolerance(name, p, q, axis, base, expected):
    """(rtol, atol) for entropy, cross_entropy and kl_divergence."""
    dtype = np.asarray(expected).dtype
    rtol = rtol_for(dtype, False)
    if name != "kl_divergence":
        return rtol, tiny(dtype)  # all terms have one sign: no cancellation
    p, q = np.broadcast_arrays(np.asarray(p, np.float64), np.asarray(q, np.float64))
    with np.errstate(all="ignore"):
        terms = np.where(p == 0, 0.0, p * np.abs(np.log(p) - np.log(q)))
    if p.ndim == 0:
        terms = terms.reshape(1)
    magnitude = terms.sum(axis=axis)
    if base is not None:
        magnitude = magnitude / abs(np.log(base))
    return rtol, ATOL_FACTOR * eps(dtype) * magnitude + tiny(dtype)


def binary_loss_tolerances(values_name, values, targets, weight=None, pos_weight=None,
                           reduction="mean"):
    """[(rtol, atol) of the loss, (rtol, atol) of the gradient]."""
    from xentfast import _checks, reference
    inputs = _checks.prepare_binary_loss(values, values_name, targets, weight, pos_weight,
                                         reduction)
    dtype = inputs.values.dtype
    rtol = rtol_for(dtype, reduction == "none")
    z, y = np.asarray(inputs.values, np.float64), np.asarray(inputs.targets, np.float64)
    w, denominator = reference._binary_weights(inputs)  # for "mean": scaled weights
    pw = 1.0 if inputs.pos_weight is None else np.asarray(inputs.pos_weight, np.float64)
    with np.errstate(all="ignore"):
        sigmoid = 1.0 / (1.0 + np.exp(-z))  # magnitude only
        sigmoid_neg = 1.0 / (1.0 + np.exp(z))
        # the two gradient terms have opposite signs and may cancel
        magnitude = w * ((1.0 - y) * sigmoid + pw * y * sigmoid_neg)
        if reduction == "mean":
            magnitude = magnitude / denominator
    grad_atol = ATOL_FACTOR * eps(dtype) * magnitude + tiny(dtype)
    return [(rtol, tiny(dtype)), (rtol, grad_atol)]


def softmax_loss_tolerances(logits, targets, weight=None, class_weight=None,
                            label_smoothing=0.0, ignore_index=None, reduction="mean"):
    """[(rtol, atol) of the loss, (rtol, atol) of the gradient]."""
    from xentfast import _checks, reference
    inputs = _checks.prepare_softmax_loss(logits, targets, weight, class_weight,
                                          label_smoothing, ignore_index, reduction)
    dtype, shape = inputs.logits.dtype, inputs.logits.shape
    a, w, ignored, p, _, denominator = reference._softmax_loss_terms(inputs)
    z = np.asarray(inputs.logits, np.float64).reshape(a.shape)
    # log_softmax(z)_j = (z_j - m) - log Σ e^(z - m) has absolute error ~ eps (|z_j| + |m| + log k)
    magnitude = finite_abs(z) + slice_magnitude(z, -1, keepdims=True)
    with np.errstate(all="ignore"):
        # a magnitude near 1e308 overflows to inf; a 0 coefficient or probability
        # times it is 0, not nan
        p = np.nan_to_num(p)
        loss_magnitude = np.where(ignored, 0.0,
                                  w * np.where(a == 0, 0.0, a * magnitude).sum(axis=-1))
        grad_magnitude = w[:, None] * (np.where(p == 0, 0.0, a.sum(axis=-1, keepdims=True) * p
                                                * magnitude) + a)
        if reduction == "none":
            loss_magnitude = loss_magnitude.reshape(shape[:-1])
        else:
            loss_magnitude = loss_magnitude.sum()
        if reduction == "mean":
            loss_magnitude = loss_magnitude / denominator
            grad_magnitude = grad_magnitude / denominator
        # ignored rows are exactly 0, even when the denominator is 0
        grad_magnitude = np.where(ignored[:, None], 0.0, grad_magnitude)
    scale = ATOL_FACTOR * eps(dtype)
    rtol = rtol_for(dtype, reduction == "none")
    return [(rtol, scale * loss_magnitude + tiny(dtype)),
            (rtol, scale * grad_magnitude.reshape(shape) + tiny(dtype))]


def python_child(code, *args, timeout=120, env=None):
    """Run ``code`` (dedented) in a new interpreter with ``args``; return the
    CompletedProcess.  It runs in the folder that holds the xentfast this process
    imported (installed, or built in place): `python -c` puts the current folder
    first on sys.path, and from a clone's root the unbuilt source tree would
    shadow an installed xentfast."""
    import subprocess
    import sys
    import textwrap

    import xentfast
    package_parent = os.path.dirname(os.path.dirname(os.path.abspath(xentfast.__file__)))
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code), *args],
                          capture_output=True, text=True, timeout=timeout, cwd=package_parent,
                          env=dict(os.environ) if env is None else env)


def under_address_sanitizer():
    """True in a process with AddressSanitizer's runtime loaded (tools/sanitize.sh):
    its shadow memory and quarantine do not fit memory limits set for tests."""
    try:
        with open("/proc/self/maps") as f:
            return "libasan" in f.read()
    except OSError:
        return False
