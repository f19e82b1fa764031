"""Property-based comparison of every public function with its reference twin.

For each function in ``xentfast._registry.FUNCTIONS`` hypothesis draws every
argument: shapes (0-d, empty, one element, small, and above the threading
threshold of 8192 elements of work), layouts (C, Fortran, strided, reversed,
byte-swapped, read-only, unaligned), dtypes (float32, float64, ints, bools),
values (±inf, nan, ±1e308, subnormals, -0.0 and ordinary numbers) and every
option (axis, base, weight, pos_weight, class_weight, label_smoothing,
ignore_index, reduction, return_grad, out=), valid or not.  Then:

- xentfast raises exactly where the reference raises, an exception of the same type;
- otherwise both return the same type, dtype and shape, nan in the same places,
  the same infinities, and finite values within the tolerances stated in
  ``util`` (for logistic_loss_and_grad: below);
- no input is modified; ``out=`` is filled and returned.

logistic_loss_and_grad gets finite X only (its non-finite behaviour is being
reworked separately).  How many examples run is set by the hypothesis profile
(``ci`` by default, ``deep`` by hand: see conftest.py).
"""
import math

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given, strategies as st  # noqa: E402
from hypothesis.extra import numpy as hnp  # noqa: E402

from xentfast._registry import get_functions  # noqa: E402
from util import (assert_outputs_close, assert_unchanged, axis_tolerance,  # noqa: E402
                  binary_loss_tolerances, by_kind, byte_swapped, distribution_tolerance, eps,
                  elementwise_tolerance, read_only, snapshot, softmax_loss_tolerances, strided,
                  tiny, unaligned)

INF, NAN = math.inf, math.nan

# ---------------------------------------------------------------------------
# Values.  Small arrays are drawn element by element from these; large ones
# are ordinary random numbers with a drawn share of these sprinkled in.

REAL_SPECIALS = [0.0, -0.0, 1.0, -1.0, 0.5, -2.5, 5e-324, -5e-324, 1e-310, -1e-310,
                 2.2250738585072014e-308, 1e-300, -1e-300, 1e-30, 1e308, -1e308,
                 1.7976931348623157e308, -1.7976931348623157e308, 1e300, -1e300, 1e4, -1e4,
                 800.0, -800.0, 709.78, -745.13, 36.7, -36.7, 18.0, 33.3, 88.7, -103.9, 16.6,
                 -16.6, 1e-45, 3.4e38, -3.4e38, INF, -INF, NAN]
PROBABILITY_SPECIALS = [0.0, -0.0, 1.0, 0.5, 0.25, 5e-324, 1e-310, 1e-300, 1e-45, 1e-30, 1e-8,
                        1 - 2.0**-53, 1 - 2.0**-24, 1 - 1e-8, NAN]
WEIGHT_SPECIALS = [0.0, 1.0, 2.5, 0.125, 5e-324, 1e-310, 1e-300, 1e300, 1e308,
                   1.7976931348623157e308, 3.4e38]
# One of these replaces an entry now and then: both implementations must refuse it.
INVALID = {
    "probability": [-5e-324, -1e-300, -0.5, 1 + 2.0**-52, 1.5, INF, -INF],
    "target": [-5e-324, -0.5, 1 + 2.0**-52, 2.0, INF, NAN],
    "weight": [-5e-324, -1.0, INF, NAN],
}

ELEMENTS = {
    "real": st.one_of(st.sampled_from(REAL_SPECIALS), st.floats(-60, 60),
                      st.floats(allow_nan=True, allow_infinity=True)),
    "finite": st.one_of(st.sampled_from([0.0, -0.0, 1.0, -1.0, 5e-324, 1e-310, 1e-300, 1e3,
                                         -1e3]),
                        st.floats(-30, 30)),
    "probability": st.one_of(st.sampled_from(PROBABILITY_SPECIALS), st.floats(0, 1)),
    "target": st.one_of(st.sampled_from([0.0, 1.0, 0.5, 5e-324, 1e-310, 1 - 2.0**-53]),
                        st.floats(0, 1)),
    "weight": st.one_of(st.sampled_from(WEIGHT_SPECIALS), st.floats(0, 10)),
}
SPECIALS = {"real": REAL_SPECIALS, "probability": PROBABILITY_SPECIALS,
            "target": [0.0, 1.0, 0.5, 5e-324, 1e-310, 1 - 2.0**-53],
            "weight": WEIGHT_SPECIALS, "finite": [0.0, -0.0, 5e-324, 1e-310, 1e3, -1e3]}


def _ordinary(kind, rng, shape):
    if kind == "real":
        return rng.normal(0, 8, shape)
    if kind == "finite":
        return rng.normal(0, 2, shape)
    if kind == "weight":
        return rng.uniform(0, 3, shape)
    return rng.uniform(0, 1, shape)


SMALL = 64  # arrays up to this size are drawn element by element


@st.composite
def values(draw, shape, kind, invalid=False):
    """A float64 array of ``shape`` holding values of ``kind`` (and, with ``invalid``,
    now and then one entry both implementations must refuse)."""
    size = math.prod(shape)
    if size <= SMALL:
        arr = draw(hnp.arrays(np.float64, shape, elements=ELEMENTS[kind]))
    else:
        rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
        arr = _ordinary(kind, rng, shape)
        special = rng.random(shape) < draw(st.sampled_from([0.0, 0.001, 0.3]))
        arr[special] = rng.choice(SPECIALS[kind], np.count_nonzero(special))
    if invalid and size > 0 and draw(st.integers(0, 9)) == 0:
        arr.reshape(-1)[draw(st.integers(0, size - 1))] = draw(st.sampled_from(INVALID[kind]))
    return arr


FLOAT_DTYPES = (np.float64, np.float32)
ALL_DTYPES = (np.float64, np.float32, np.float64, np.float32, np.int64, np.int32, np.uint8,
              np.bool_)


def convert(arr, dtype):
    """``arr`` (float64) in ``dtype``: floats rounded (beyond float32's range: ±inf),
    integers rounded and clipped (nan and inf: 0), bools nonzero."""
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        with np.errstate(over="ignore"):
            return arr.astype(dtype)
    if dtype.kind == "b":
        return arr != 0
    info = np.iinfo(dtype)
    finite = np.where(np.isfinite(arr), arr, 0.0)
    # float(info.max) of int64 rounds up to 2^63, out of range: clip within
    return np.clip(np.round(finite), info.min, min(info.max, 2**62)).astype(dtype)


LAYOUTS = ("C", "C", "fortran", "strided", "reversed", "byteswapped", "readonly", "unaligned")


def apply_layout(arr, layout):
    """The same values in another memory layout."""
    if layout == "fortran":
        return np.asfortranarray(arr)
    if layout == "strided":
        return strided(arr)
    if layout == "reversed":  # negative strides along the first axis
        return arr if arr.ndim == 0 else np.ascontiguousarray(arr[::-1])[::-1]
    if layout == "byteswapped":
        return byte_swapped(arr)
    if layout == "readonly":
        return read_only(arr)
    if layout == "unaligned":
        return unaligned(arr)
    return arr


@st.composite
def arrays(draw, shape, kind, dtypes=ALL_DTYPES, invalid=False):
    arr = convert(draw(values(shape, kind, invalid)), draw(st.sampled_from(dtypes)))
    return apply_layout(arr, draw(st.sampled_from(LAYOUTS)))


# Shapes above the threading threshold (8192 elements of work), and some with
# rows longer than a kernel chunk (1024) or than softmax's stack buffer (256).
LARGE_SHAPES = [(8200,), (9000,), (100, 90), (3, 3000), (1500, 7), (2, 5, 1000), (10, 1030),
                (40, 300)]


def shapes(min_dims=0, max_dims=3, min_side=0):
    small = hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side,
                             max_side=5)
    large = st.sampled_from([s for s in LARGE_SHAPES if min_dims <= len(s) <= max_dims])
    return st.one_of(small, small, small, large)


def axes(ndim):
    """None or an axis, sometimes out of range."""
    return st.one_of(st.none(), st.integers(-max(ndim, 1) - 1, max(ndim, 1)))


BASES = st.sampled_from([None, None, 2, 10, math.e, 0.5, 1, 0, -2, NAN, INF, "two"])
REDUCTIONS = st.sampled_from(["mean", "mean", "sum", "none", "avg"])


def out_array(kind, shape, dtype):
    """An out= array of ``kind`` ("C", "fortran", "strided", "unaligned", or a bad
    one: "wrong-dtype", "wrong-shape", "readonly"), filled with 7."""
    if kind == "wrong-dtype":
        dtype = np.float32 if dtype == np.float64 else np.float64
    if kind == "wrong-shape":
        shape = shape + (1,)
    out = apply_layout(np.full(shape, 7.0, dtype),
                       {"wrong-dtype": "C", "wrong-shape": "C"}.get(kind, kind))
    if kind == "readonly":
        out = read_only(out)
    return out


OUT_KINDS = st.sampled_from([None, None, None, "C", "fortran", "strided", "unaligned",
                             "wrong-dtype", "wrong-shape", "readonly"])


def float_dtype_of(arr):
    """The dtype the API computes in for input ``arr``."""
    dtype = np.asarray(arr).dtype
    if dtype in (np.float32, np.float64):
        return dtype
    if dtype.kind == "f" and dtype.newbyteorder("=") in (np.float32, np.float64):
        return dtype.newbyteorder("=")
    return np.dtype(np.float64)


# ---------------------------------------------------------------------------
# The comparison


def compare(func, args, kwargs, tolerances, out_kind=None, out_shape=None, out_dtype=None):
    """Call the reference and xentfast with the same arguments; ``tolerances(expected)``
    gives one (rtol, atol) per output.  With ``out_kind``, each gets its own out= array."""
    saved = snapshot(*args, *kwargs.values())
    fast_kwargs, reference_kwargs = kwargs, kwargs
    if out_kind is not None:
        fast_out = out_array(out_kind, out_shape, out_dtype)
        reference_out = out_array(out_kind, out_shape, out_dtype)
        fast_kwargs = dict(kwargs, out=fast_out)
        reference_kwargs = dict(kwargs, out=reference_out)
    try:
        expected = func.reference(*args, **reference_kwargs)
    except Exception as error:
        with pytest.raises(Exception) as raised:
            func.fast(*args, **fast_kwargs)
        assert type(raised.value) is type(error), (
            f"the reference raised {error!r}, xentfast {raised.value!r}")
        assert_unchanged(saved)
        return
    actual = func.fast(*args, **fast_kwargs)
    assert_unchanged(saved)
    if out_kind is not None:
        assert actual is fast_kwargs["out"], "out= was not returned"
        assert expected is reference_kwargs["out"]
    assert_outputs_close(func.name, actual, expected, tolerances(expected))


def test_every_kind_is_covered():
    covered = {"elementwise", "elementwise_probability", "axis", "distribution",
               "distribution_pair", "binary_loss", "softmax_loss", "linear_model"}
    assert {f.kind for f in get_functions()} <= covered


def _dtype_of(expected):
    first = expected[0] if isinstance(expected, tuple) else expected
    return np.asarray(first).dtype


# ---------------------------------------------------------------------------
# Elementwise maps and functions along an axis


@by_kind("elementwise")
@given(data=st.data())
def test_elementwise(func, data):
    x = data.draw(arrays(data.draw(shapes()), "real"), label="x")
    out_kind = data.draw(OUT_KINDS, label="out")
    compare(func, (x,), {}, lambda e: [elementwise_tolerance(_dtype_of(e))],
            out_kind, np.shape(x), float_dtype_of(x))


@by_kind("elementwise_probability")
@given(data=st.data())
def test_elementwise_probability(func, data):
    p = data.draw(arrays(data.draw(shapes()), "probability", invalid=True), label="p")
    base = data.draw(BASES, label="base")
    compare(func, (p,), {"base": base}, lambda e: [elementwise_tolerance(_dtype_of(e))])


@by_kind("axis")
@given(data=st.data())
def test_axis(func, data):
    x = data.draw(arrays(data.draw(shapes()), "real"), label="x")
    axis = data.draw(axes(x.ndim), label="axis")
    out_kind = data.draw(OUT_KINDS, label="out") if "out=" in func.signature else None
    compare(func, (x,), {"axis": axis}, lambda e: [axis_tolerance(func.name, x, axis, e)],
            out_kind, np.shape(x), float_dtype_of(x))


# ---------------------------------------------------------------------------
# Information measures


@by_kind("distribution")
@given(data=st.data())
def test_distribution(func, data):
    p = data.draw(arrays(data.draw(shapes()), "probability", invalid=True), label="p")
    axis, base = data.draw(axes(p.ndim), label="axis"), data.draw(BASES, label="base")
    compare(func, (p,), {"axis": axis, "base": base},
            lambda e: [distribution_tolerance(func.name, p, p, axis, base, e)])


@st.composite
def broadcast_partner(draw, shape):
    """A shape that broadcasts with ``shape`` (some axes 1 or dropped), or now and then one that does not."""
    choice = draw(st.integers(0, 9))
    if choice == 0:
        return draw(hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=5))
    if choice <= 5 or not shape:
        return shape
    partner = [1 if draw(st.booleans()) else side for side in shape]
    return tuple(partner[draw(st.integers(0, len(partner))):])


@by_kind("distribution_pair")
@given(data=st.data())
def test_distribution_pair(func, data):
    shape = data.draw(shapes(), label="shape")
    p = data.draw(arrays(shape, "probability", invalid=True), label="p")
    q = data.draw(arrays(data.draw(broadcast_partner(shape)), "probability", invalid=True),
                  label="q")
    axis, base = data.draw(axes(max(p.ndim, q.ndim)), label="axis"), data.draw(BASES,
                                                                                label="base")
    compare(func, (p, q), {"axis": axis, "base": base},
            lambda e: [distribution_tolerance(func.name, p, q, axis, base, e)])


# ---------------------------------------------------------------------------
# Losses


@st.composite
def binary_weight(draw, shape):
    """None, a scalar, an array of the values' shape, one along the last axis, or a
    shape that does not broadcast."""
    choice = draw(st.sampled_from(["none", "none", "scalar", "full", "last-axis", "bad-shape"]))
    if choice == "none":
        return None
    if choice == "scalar":
        return draw(st.sampled_from(WEIGHT_SPECIALS + INVALID["weight"]))
    if choice == "full":
        weight_shape = shape
    elif choice == "last-axis":
        weight_shape = shape[-1:]
    else:
        weight_shape = (max(shape[-1:] or (1,)) + 1,)
    return data_weight(draw, weight_shape)


def data_weight(draw, shape):
    return draw(arrays(shape, "weight", dtypes=(np.float64, np.float32, np.int64),
                       invalid=True))


@by_kind("binary_loss")
@given(data=st.data())
def test_binary_loss(func, data):
    logits = func.name == "binary_cross_entropy_with_logits"
    shape = data.draw(shapes(), label="shape")
    values_name = "logits" if logits else "probs"
    values = data.draw(arrays(shape, "real" if logits else "probability", invalid=not logits),
                       label=values_name)
    target_shape = shape if data.draw(st.integers(0, 19)) else shape + (2,)
    targets = data.draw(arrays(target_shape, "target", invalid=True), label="targets")
    kwargs = {"weight": data.draw(binary_weight(shape), label="weight"),
              "reduction": data.draw(REDUCTIONS, label="reduction")}
    if logits:
        kwargs["pos_weight"] = data.draw(binary_weight(shape), label="pos_weight")
        kwargs["return_grad"] = data.draw(st.booleans(), label="return_grad")

    def tolerances(expected):
        options = {k: v for k, v in kwargs.items() if k != "return_grad"}
        both = binary_loss_tolerances(values_name, values, targets, **options)
        return both if kwargs.get("return_grad") else both[:1]

    compare(func, (values, targets), kwargs, tolerances)


INDEX_DTYPES = (np.int64, np.int64, np.int32, np.uint8, np.int8, np.uint64)


@st.composite
def index_targets(draw, batch_shape, k, ignore_index):
    """Class indices in [0, k), some ignore_index, and now and then a bad one."""
    size = math.prod(batch_shape)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    index = rng.integers(0, k, batch_shape)
    if ignore_index is not None and size:
        index = np.where(rng.random(batch_shape) < 0.3, ignore_index, index)
    if size and draw(st.integers(0, 9)) == 0:
        index.reshape(-1)[draw(st.integers(0, size - 1))] = draw(st.sampled_from([k, -1, -7]))
    dtype = np.dtype(draw(st.sampled_from(INDEX_DTYPES)))
    if not np.can_cast(np.min(index, initial=0), dtype) or not np.can_cast(
            np.max(index, initial=0), dtype):
        dtype = np.dtype(np.int64)  # the drawn ignore_index does not fit
    return apply_layout(index.astype(dtype), draw(st.sampled_from(LAYOUTS)))


@given(data=st.data())
def test_softmax_loss(data):
    func, = get_functions("softmax_loss")
    shape = data.draw(st.one_of(shapes(min_dims=1), shapes(min_dims=1),
                                st.sampled_from([(), (3, 0), (0,)])), label="shape")
    logits = data.draw(arrays(shape, "real"), label="logits")
    k, batch = (shape[-1], shape[:-1]) if shape else (1, ())
    ignore_index = data.draw(st.sampled_from([None, None, -100, 0, 2**70]), label="ignore_index")
    if data.draw(st.booleans(), label="index targets"):
        targets = data.draw(index_targets(batch, max(k, 1), ignore_index
                                          if ignore_index != 2**70 else None), label="targets")
    else:
        targets = data.draw(arrays(shape if data.draw(st.integers(0, 19)) else batch,
                                   "probability", dtypes=FLOAT_DTYPES, invalid=True),
                            label="targets")
    kwargs = {
        "weight": data.draw(st.one_of(st.none(), st.sampled_from(WEIGHT_SPECIALS[:3] + [-1.0]),
                                      arrays(batch, "weight", dtypes=FLOAT_DTYPES, invalid=True)),
                            label="weight"),
        "class_weight": data.draw(st.one_of(st.none(), arrays((k,), "weight",
                                                              dtypes=FLOAT_DTYPES, invalid=True),
                                            arrays((k + 1,), "weight")), label="class_weight"),
        "label_smoothing": data.draw(st.sampled_from([0.0, 0.0, 0.1, 1.0, 1e-300, 0.5, -0.1, 1.5,
                                                      NAN]), label="label_smoothing"),
        "ignore_index": ignore_index,
        "reduction": data.draw(REDUCTIONS, label="reduction"),
        "return_grad": data.draw(st.booleans(), label="return_grad"),
    }

    def tolerances(expected):
        options = {key: value for key, value in kwargs.items() if key != "return_grad"}
        both = softmax_loss_tolerances(logits, targets, **options)
        return both if kwargs["return_grad"] else both[:1]

    compare(func, (logits, targets), kwargs, tolerances)


# ---------------------------------------------------------------------------
# Logistic and softmax regression (finite X)


def linear_tolerances(w, X, y, sample_weight, alpha, fit_intercept):
    """[(rtol, atol) of the loss, of the gradient].  The logits z = X w + b differ by
    the order of summation, eps Σ|x||w| each; the loss by that over the mean, the
    gradient by that times |x| (and eps times each term of Σ s r x / Σ s)."""
    X = np.asarray(X, np.float64)
    w = np.asarray(w, np.float64)
    params = w.reshape(-1, w.shape[-1])
    coef = params[:, :X.shape[1]]
    intercept = np.abs(params[:, -1]) if fit_intercept else 0.0
    s = np.ones(len(X)) if sample_weight is None else np.broadcast_to(
        np.asarray(sample_weight, np.float64), (len(X),))
    share = s / s.sum()
    z_error = np.abs(X) @ np.abs(coef).T + intercept + 1.0           # (n, k)
    loss_atol = 16 * eps(np.float64) * (share @ z_error.max(axis=1)
                                        + alpha * np.sum(coef * coef))
    features = np.column_stack([np.abs(X), np.ones(len(X))]) if fit_intercept else np.abs(X)
    grad_magnitude = (share[:, None] * z_error).T @ features + alpha * np.abs(
        params[:, :features.shape[1]])
    grad_atol = 16 * eps(np.float64) * grad_magnitude.reshape(np.shape(w))
    return [(1e-12, loss_atol + tiny(np.float64)), (1e-12, grad_atol + tiny(np.float64))]


@given(data=st.data())
def test_linear_model(data):
    func, = get_functions("linear_model")
    n = data.draw(st.one_of(st.integers(1, 12), st.sampled_from([1500])), label="n")
    d = data.draw(st.integers(1, 6), label="d")
    X = data.draw(arrays((n, d), "finite", dtypes=FLOAT_DTYPES + (np.int64,)), label="X")
    n_classes = data.draw(st.sampled_from([1, 1, 3]), label="n_classes")
    fit_intercept = data.draw(st.booleans(), label="fit_intercept")
    width = d + fit_intercept
    w_shape = (width,) if n_classes == 1 else (n_classes, width)
    if data.draw(st.integers(0, 19)) == 0:
        w_shape = (width + 1,)  # a bad shape
    w = data.draw(hnp.arrays(np.float64, w_shape, elements=st.floats(-8, 8)), label="w")
    if n_classes == 1:
        y = data.draw(arrays((n,), "target", dtypes=FLOAT_DTYPES, invalid=True), label="y")
    else:
        y = data.draw(index_targets((n,), n_classes, None), label="y")
    sample_weight = data.draw(st.one_of(
        st.none(), st.sampled_from([1.0, 0.0, -1.0]),
        arrays((n,), "weight", dtypes=FLOAT_DTYPES, invalid=True)), label="sample_weight")
    alpha = data.draw(st.sampled_from([0.0, 0.0, 0.5, 1e-3, -1.0, NAN]), label="alpha")
    kwargs = {"sample_weight": sample_weight, "alpha": alpha, "fit_intercept": fit_intercept}
    compare(func, (w, X, y), kwargs,
            lambda e: linear_tolerances(w, X, y, sample_weight, alpha, fit_intercept))
