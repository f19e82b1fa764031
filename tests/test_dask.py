"""xentfast.dask: every public function on Dask arrays, lazily, against the in-memory one.

Each function is computed over several chunkings (one block, uneven blocks with
empty ones, one row per block) and compared with xentfast's in-memory
function on the same NumPy data: to 1e-12 relative in float64 (float32: the
partial sums are rounded to float32, so 1e-6).  Runs on Dask's default threaded
scheduler; tests/test_dask_distributed.py runs a LocalCluster.
"""
import inspect
import pathlib
import re

import numpy as np
import pytest

da = pytest.importorskip("dask.array")
dask = pytest.importorskip("dask")

import xentfast  # noqa: E402
import xentfast.dask as xd  # noqa: E402
from xentfast._registry import FUNCTIONS, get_functions  # noqa: E402

RTOL = {np.dtype(np.float64): 1e-12, np.dtype(np.float32): 1e-6}


def _uneven(n):
    """Uneven chunks of an axis of length n, with empty chunks among them."""
    third = n // 3
    return (0, third, 0, n - third) if n else (0, 0)


def chunkings(shape):
    """(id, chunks) for an array of ``shape``."""
    return [
        ("one-block", tuple((n,) for n in shape)),
        ("uneven-empty", tuple(_uneven(n) for n in shape)),
        ("ones-along-the-first-axis",
         tuple((1,) * n if i == 0 and n else (n,) for i, n in enumerate(shape))),
    ]


def chunked(arr, chunks):
    arr = np.asarray(arr)
    return da.from_array(arr, chunks=chunks if arr.ndim else ())


def assert_matches(actual, expected, atol=0.0):
    """A lazy Dask result equal to the in-memory one: type, dtype, shape, values."""
    assert isinstance(actual, da.Array), f"expected a Dask array, got {type(actual).__name__}"
    value = np.asarray(actual.compute())
    expected = np.asarray(expected)
    assert value.dtype == expected.dtype
    assert value.shape == expected.shape
    np.testing.assert_allclose(value, expected, rtol=RTOL[expected.dtype], atol=atol,
                               equal_nan=True)


def _rng(seed):
    return np.random.default_rng(seed)


# --- the README's examples ---------------------------------------------------------------

def test_readme_dask_examples():
    readme = (pathlib.Path(__file__).resolve().parents[1] / "README.md").read_text("utf-8")
    section = readme.split("## Beyond one machine: Dask")[1].split("\n## ")[0]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.DOTALL)
    assert len(blocks) == 2
    namespace = {}
    exec(compile("".join(blocks), "README.md", "exec"), namespace)
    z, t = namespace["z"].compute(), namespace["t"].compute()
    loss, grad = xentfast.binary_cross_entropy_with_logits(z, t, return_grad=True)
    np.testing.assert_allclose(namespace["loss"], loss, rtol=1e-12)
    np.testing.assert_allclose(namespace["grad"], grad, rtol=1e-12)
    X, y, proba = namespace["X"], namespace["y"], namespace["proba"]
    assert isinstance(proba, da.Array) and proba.chunks == ((500,) * 4, (2,))
    in_memory = xentfast.LogisticRegression().fit(X, y)
    np.testing.assert_allclose(namespace["model"].coef_, in_memory.coef_, rtol=1e-6)
    np.testing.assert_allclose(proba.compute(), in_memory.predict_proba(X), rtol=1e-6)


# --- the registry ---------------------------------------------------------------------

@pytest.mark.parametrize("func", FUNCTIONS, ids=lambda f: f.name)
def test_every_public_function_has_a_dask_twin_with_its_signature(func):
    twin = getattr(xd, func.name)
    assert inspect.signature(twin) == inspect.signature(func.fast)


# --- elementwise ----------------------------------------------------------------------

ELEMENTWISE_INPUTS = {
    "f64-2d": _rng(1).normal(0, 3, (7, 5)),
    "f32-2d": _rng(2).normal(0, 3, (7, 5)).astype(np.float32),
    "f64-extremes": np.array([0.0, -0.0, 1e4, -1e4, 800.0, -800.0, 1e-310, np.inf, -np.inf,
                              np.nan]),
    "i64-1d": np.arange(-6, 7),
    "f64-0d": np.array(0.75),
    "f64-empty": np.zeros((0, 3)),
}


@pytest.mark.parametrize("name", [f.name for f in get_functions("elementwise")])
@pytest.mark.parametrize("case", ELEMENTWISE_INPUTS)
def test_elementwise_keeps_the_chunks(name, case):
    x = ELEMENTWISE_INPUTS[case]
    expected = getattr(xentfast, name)(x)
    for _, chunks in chunkings(x.shape):
        xc = chunked(x, chunks)
        result = getattr(xd, name)(xc)
        assert result.chunks == xc.chunks
        assert_matches(result, expected)


@pytest.mark.parametrize("base", [None, 2])
def test_binary_entropy(base):
    p = _rng(3).uniform(0, 1, (6, 4))
    p[0, :2] = [0.0, 1.0]
    for _, chunks in chunkings(p.shape):
        assert_matches(xd.binary_entropy(chunked(p, chunks), base=base),
                       xentfast.binary_entropy(p, base=base))


# --- along an axis --------------------------------------------------------------------

def _special_rows():
    inf, nan = np.inf, np.nan
    return np.array([[1.0, 2.0, 3.0, 4.0], [inf, 1.0, 2.0, -inf], [inf, inf, 1.0, 2.0],
                     [-inf, -inf, -inf, -inf], [nan, 1.0, 2.0, 3.0], [1e4, -1e4, 0.0, 1e4],
                     [800.0, -800.0, 799.0, 0.0]])


AXIS_INPUTS = {
    "f64-2d": _rng(4).normal(0, 3, (7, 5)),
    "f32-2d": _rng(5).normal(0, 3, (7, 5)).astype(np.float32),
    "f64-3d": _rng(6).normal(0, 3, (3, 4, 5)),
    "special-rows": _special_rows(),
    "f64-1d": _rng(7).normal(0, 3, 9),
    "f64-0d": np.array(1.5),
    "empty-0x3": np.zeros((0, 3)),
    "empty-3x0": np.zeros((3, 0)),
}


def _axes(x):
    return (0, -1, None) if x.ndim else (0, None)


@pytest.mark.parametrize("name", [f.name for f in get_functions("axis")])
@pytest.mark.parametrize("case", AXIS_INPUTS)
def test_axis_functions_for_any_chunking_of_the_axis(name, case):
    x = AXIS_INPUTS[case]
    for axis in _axes(x):
        with np.errstate(invalid="ignore"):
            expected = getattr(xentfast, name)(x, axis=axis)
        for _, chunks in chunkings(x.shape):
            assert_matches(getattr(xd, name)(chunked(x, chunks), axis=axis), expected)


def _distribution(shape, seed, zeros=0.2):
    rng = _rng(seed)
    p = rng.uniform(0, 1, shape)
    p[rng.uniform(0, 1, shape) < zeros] = 0.0
    return p / np.maximum(p.sum(axis=-1, keepdims=True), 1e-300)


@pytest.mark.parametrize("base", [None, 2])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_entropy(base, dtype):
    p = _distribution((6, 5), 8).astype(dtype)
    for axis in (0, -1, None):
        for _, chunks in chunkings(p.shape):
            assert_matches(xd.entropy(chunked(p, chunks), axis=axis, base=base),
                           xentfast.entropy(p, axis=axis, base=base), atol=1e-13)


@pytest.mark.parametrize("name", ["cross_entropy", "kl_divergence"])
@pytest.mark.parametrize("q_shape", [(6, 5), (5,)], ids=["same-shape", "broadcast-q"])
def test_distribution_pairs(name, q_shape):
    p = _distribution((6, 5), 9)
    q = _distribution(q_shape, 10, zeros=0.0)
    for axis in (0, -1, None):
        expected = getattr(xentfast, name)(p, q, axis=axis, base=2)
        for (_, p_chunks), (_, q_chunks) in zip(chunkings(p.shape), chunkings(q.shape)[::-1]):
            result = getattr(xd, name)(chunked(p, p_chunks), chunked(q, q_chunks), axis=axis,
                                       base=2)
            assert_matches(result, expected, atol=1e-13)


def test_numpy_inputs_are_accepted():
    x = _rng(11).normal(size=(4, 3))
    assert_matches(xd.softmax(x), xentfast.softmax(x))
    assert_matches(xd.cross_entropy(xentfast.softmax(x), xentfast.softmax(x[::-1])),
                   xentfast.cross_entropy(xentfast.softmax(x), xentfast.softmax(x[::-1])))


# --- losses ----------------------------------------------------------------------------

def _binary_loss_cases():
    rng = _rng(12)
    z = rng.normal(0, 3, (9, 4))
    z[0, :3] = [800.0, -800.0, -np.inf]
    y = (rng.uniform(0, 1, z.shape) < 0.5).astype(float)
    y[0, 2] = 0.0  # z = -inf with y = 0 costs nothing
    y[1] = rng.uniform(0, 1, 4)  # soft targets
    weight = rng.uniform(0, 2, z.shape)
    weight[2] = 0.0
    return z, y, {"none": {}, "full-weight": {"weight": weight},
                  "class-weight": {"weight": rng.uniform(0, 2, 4)},
                  "pos-weight": {"weight": 0.5, "pos_weight": rng.uniform(0.5, 3, 4)}}


@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
@pytest.mark.parametrize("weights", ["none", "full-weight", "class-weight", "pos-weight"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_binary_cross_entropy_with_logits(reduction, weights, dtype):
    z, y, cases = _binary_loss_cases()
    z, y = z.astype(dtype), y.astype(dtype)
    kwargs = dict(cases[weights], reduction=reduction)
    loss, grad = xentfast.binary_cross_entropy_with_logits(z, y, return_grad=True, **kwargs)
    only_loss = xentfast.binary_cross_entropy_with_logits(z, y, **kwargs)
    for _, chunks in chunkings(z.shape):
        zc, yc = chunked(z, chunks), chunked(y, chunks)
        assert_matches(xd.binary_cross_entropy_with_logits(zc, yc, **kwargs), only_loss)
        lazy_loss, lazy_grad = xd.binary_cross_entropy_with_logits(zc, yc, return_grad=True,
                                                                   **kwargs)
        assert lazy_grad.chunks == zc.chunks
        assert_matches(lazy_loss, loss)
        assert_matches(lazy_grad, grad)


@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
def test_binary_cross_entropy(reduction):
    rng = _rng(13)
    q = rng.uniform(0, 1, (8, 3))
    q[0] = [0.0, 1.0, 0.5]
    y = (rng.uniform(0, 1, q.shape) < 0.5).astype(float)
    y[0, :2] = [0.0, 1.0]
    weight = rng.uniform(0, 1, 3)
    expected = xentfast.binary_cross_entropy(q, y, weight=weight, reduction=reduction)
    for _, chunks in chunkings(q.shape):
        assert_matches(xd.binary_cross_entropy(chunked(q, chunks), chunked(y, chunks),
                                               weight=weight, reduction=reduction), expected)


def _softmax_cases():
    rng = _rng(14)
    logits = rng.normal(0, 3, (10, 5))
    logits[0] = [np.inf, 1.0, 2.0, -np.inf, 0.0]
    labels = rng.integers(0, 5, 10)
    labels[3] = -100
    probs = _distribution((10, 5), 15, zeros=0.3)
    weight = rng.uniform(0, 2, 10)
    class_weight = rng.uniform(0.5, 2, 5)
    return logits, {
        "index": (labels.clip(0), {}),
        "index-weights": (labels.clip(0), {"weight": weight, "class_weight": class_weight}),
        "index-ignore-smoothing": (labels, {"ignore_index": -100, "label_smoothing": 0.1,
                                            "class_weight": class_weight}),
        "probabilities": (probs, {"weight": weight, "label_smoothing": 0.05}),
    }


@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
@pytest.mark.parametrize("case", ["index", "index-weights", "index-ignore-smoothing",
                                  "probabilities"])
def test_softmax_cross_entropy(reduction, case):
    logits, cases = _softmax_cases()
    targets, kwargs = cases[case]
    kwargs = dict(kwargs, reduction=reduction)
    loss, grad = xentfast.softmax_cross_entropy(logits, targets, return_grad=True, **kwargs)
    for _, chunks in chunkings(logits.shape):  # the class axis too: it is rechunked
        lc = chunked(logits, chunks)
        tc = chunked(targets, chunks if targets.ndim == 2 else chunks[:1])
        assert_matches(xd.softmax_cross_entropy(lc, tc, **kwargs),
                       xentfast.softmax_cross_entropy(logits, targets, **kwargs))
        lazy_loss, lazy_grad = xd.softmax_cross_entropy(lc, tc, return_grad=True, **kwargs)
        assert lazy_grad.chunks[0] == lc.chunks[0]
        assert_matches(lazy_loss, loss)
        assert_matches(lazy_grad, grad)


EXTREME_WEIGHTS = {
    "near-overflow": np.full(8, 1e308),
    "subnormal": np.array([1e-320, 3e-320, 1e-320, 2e-320, 5e-324, 1e-321, 4e-320, 1e-320]),
    "both": np.array([1e308, 1e308, 1e-300, 1e-300, 3e-320, 1.0, 0.0, 1e300]),
    "zero-blocks": np.array([0.0, 0.0, 0.0, 0.0, 1.0, 2.0, 0.5, 0.0]),
}


@pytest.mark.parametrize("weights", list(EXTREME_WEIGHTS))
def test_mean_with_weights_beyond_the_float_range(weights):
    # The mean divides by a sum of weights that overflows (or is subnormal): the
    # in-memory kernels scale it by a power of two, and the blocks' means are
    # weighed by their scaled divisors (a sum of the blocks' sums gave 0.0 or nan
    # here, and 6e-5 relative error with subnormal weights).
    weight = EXTREME_WEIGHTS[weights]
    rng = _rng(16)
    z = rng.normal(0, 3, 8)
    y = (rng.uniform(0, 1, 8) < 0.5).astype(float)
    q = rng.uniform(0.05, 0.95, 8)
    logits = rng.normal(0, 3, (8, 3))
    labels = rng.integers(0, 3, 8)
    class_weight = np.array([1e-300, 1.0, 1e10])
    # with label smoothing a block's own mean must stay finite (see xentfast.dask)
    smoothed_class_weight = np.array([1e-3, 1.0, 1e3])
    for chunks in ((2, 2, 2, 2), (3, 0, 5), (1,) * 8):
        zc, yc, wc = (da.from_array(a, chunks=(chunks,)) for a in (z, y, weight))
        pairs = [(xd.binary_cross_entropy_with_logits(zc, yc, weight=wc, return_grad=True),
                  xentfast.binary_cross_entropy_with_logits(z, y, weight=weight,
                                                            return_grad=True)),
                 ((xd.binary_cross_entropy(da.from_array(q, chunks=(chunks,)), yc,
                                           weight=wc),),
                  (xentfast.binary_cross_entropy(q, y, weight=weight),))]
        lc = da.from_array(logits, chunks=(chunks, (3,)))
        tc = da.from_array(labels, chunks=(chunks,))
        for kwargs in ({}, {"class_weight": class_weight},
                       {"class_weight": smoothed_class_weight, "label_smoothing": 0.1}):
            pairs.append((xd.softmax_cross_entropy(lc, tc, weight=wc, return_grad=True, **kwargs),
                          xentfast.softmax_cross_entropy(logits, labels, weight=weight,
                                                         return_grad=True, **kwargs)))
        for lazy, expected in pairs:
            for lazy_part, expected_part in zip(lazy, expected):
                # a subnormal gradient entry may differ in its last bit
                assert_matches(lazy_part, expected_part, atol=np.finfo(np.float64).tiny)


def test_mean_whose_every_divisor_is_0():
    # The mean is 0/0 = nan; the gradient too, but 0 in the rows of ignored samples,
    # as in memory (the blocks give their own mean's gradient then).
    logits = np.zeros((4, 3))
    targets = np.array([1, 0, 1, 2])
    weight = np.array([1.0, 0.0, 5.0, 0.0])
    kwargs = dict(weight=weight, ignore_index=1, return_grad=True)
    expected = xentfast.softmax_cross_entropy(logits, targets, **kwargs)
    assert np.isnan(expected[1][1]).all() and not np.isnan(expected[1][0]).any()
    for chunks in ((4,), (2, 2), (1, 1, 1, 1), (3, 0, 1)):
        lazy = xd.softmax_cross_entropy(da.from_array(logits, chunks=(chunks, (3,))),
                                        da.from_array(targets, chunks=(chunks,)),
                                        weight=da.from_array(weight, chunks=(chunks,)),
                                        ignore_index=1, return_grad=True)
        for lazy_part, expected_part in zip(lazy, expected):
            assert_matches(lazy_part, expected_part)
    z = np.array([1.0, -2.0, 0.5])
    expected = xentfast.binary_cross_entropy_with_logits(z, z * 0, weight=z * 0,
                                                         return_grad=True)
    lazy = xd.binary_cross_entropy_with_logits(da.from_array(z, chunks=2),
                                               da.from_array(z * 0, chunks=2),
                                               weight=da.from_array(z * 0, chunks=2),
                                               return_grad=True)
    for lazy_part, expected_part in zip(lazy, expected):
        assert_matches(lazy_part, expected_part)


@pytest.mark.parametrize("reduction", ["sum", "mean"])
def test_losses_of_empty_input(reduction):
    z = np.zeros((0, 3))
    expected = xentfast.binary_cross_entropy_with_logits(z, z, reduction=reduction)
    assert_matches(xd.binary_cross_entropy_with_logits(chunked(z, ((0, 0), (3,))),
                                                       chunked(z, ((0, 0), (3,))),
                                                       reduction=reduction), expected)


def unaligned(arr):
    """A copy of ``arr`` at an address that is not a multiple of its itemsize."""
    buffer = np.empty(arr.nbytes + 1, np.uint8)[1:]
    copy = buffer.view(arr.dtype).reshape(arr.shape)
    copy[...] = arr
    return copy


def _unaligned_blocks(arr, chunks):
    return chunked(arr, chunks).map_blocks(unaligned, meta=np.empty((0,) * arr.ndim, arr.dtype))


@pytest.mark.parametrize("name", ["sigmoid", "binary_entropy", "logsumexp", "entropy",
                                  "binary_cross_entropy_with_logits", "softmax_cross_entropy",
                                  "logistic_loss_and_grad"])
def test_unaligned_blocks_as_distributed_unpickles_them(name):
    # A distributed worker can receive blocks at unaligned addresses, which the
    # in-memory kernels reject (or worse): every block is aligned before they see it.
    z, y, _ = _binary_loss_cases()
    p = _distribution((9, 4), 19)
    X = _rng(20).normal(size=(9, 4))
    assert not unaligned(z).flags.aligned

    def rows(a):
        return _unaligned_blocks(a, ((4, 5),) + tuple((n,) for n in a.shape[1:]))

    arrays = {"sigmoid": (z,), "binary_entropy": (p,), "logsumexp": (z,), "entropy": (p,),
              "binary_cross_entropy_with_logits": (z, y),
              "softmax_cross_entropy": (z, np.arange(9) % 4),
              "logistic_loss_and_grad": (X, y[:, 0])}[name]
    w = (np.ones(5),) if name == "logistic_loss_and_grad" else ()
    kwargs = {"return_grad": True} if name.endswith(("logits", "softmax_cross_entropy")) else {}
    expected = getattr(xentfast, name)(*w, *arrays, **kwargs)
    blocks = [rows(a) for a in arrays]
    lazy = getattr(xd, name)(*w, *blocks, **kwargs)
    for actual, wanted in zip(lazy if isinstance(lazy, tuple) else (lazy,),
                              expected if isinstance(expected, tuple) else (expected,)):
        assert_matches(actual, np.asarray(wanted))


# --- lazy, and one pass -------------------------------------------------------------------

class CountingBlocks:
    """A Dask array whose blocks count how often they are computed."""

    def __init__(self, arr, chunks):
        self.calls = 0
        self.array = chunked(arr, chunks).map_blocks(self._count, dtype=arr.dtype,
                                                     meta=np.empty((0,) * arr.ndim, arr.dtype))

    def _count(self, block):
        self.calls += 1
        return block


def _call(func, make):
    """Call a registered function on Dask arrays from ``make(numpy array)``."""
    rng = _rng(16)
    p = _distribution((6, 4), 17)
    if func.kind in ("elementwise", "axis"):
        return func.name, getattr(xd, func.name)(make(rng.normal(size=(6, 4))))
    if func.kind in ("distribution", "elementwise_probability"):
        return func.name, getattr(xd, func.name)(make(p))
    if func.kind == "distribution_pair":
        return func.name, getattr(xd, func.name)(make(p), make(p[::-1].copy()))
    if func.kind == "binary_loss":
        return func.name, getattr(xd, func.name)(make(p), make((p > 0.2).astype(float)))
    if func.kind == "softmax_loss":
        return func.name, xd.softmax_cross_entropy(make(rng.normal(size=(6, 4))),
                                                   make(np.arange(6) % 4), return_grad=True)
    assert func.kind == "linear_model"
    return func.name, xd.logistic_loss_and_grad(np.zeros(5), make(rng.normal(size=(6, 4))),
                                                make((np.arange(6) % 2).astype(float)))


@pytest.mark.parametrize("func", FUNCTIONS, ids=lambda f: f.name)
def test_nothing_is_computed_before_compute(func):
    sources = []

    def make(arr):
        counting = CountingBlocks(np.asarray(arr), tuple((2,) * (n // 2) + (n % 2,) * (n % 2)
                                                         for n in np.shape(arr)))
        sources.append(counting)
        return counting.array

    _, result = _call(func, make)
    assert sum(s.calls for s in sources) == 0
    dask.compute(result)
    assert sum(s.calls for s in sources) > 0


@pytest.mark.parametrize("name", ["binary_cross_entropy_with_logits", "softmax_cross_entropy"])
def test_loss_and_gradient_come_from_one_pass(name, monkeypatch):
    calls = []
    in_memory = getattr(xentfast, name)

    def counting(*args, **kwargs):
        calls.append(1)
        return in_memory(*args, **kwargs)

    monkeypatch.setattr(xentfast, name, counting)
    logits = chunked(_rng(18).normal(size=(12, 3)), ((4, 4, 4), (3,)))
    targets = (chunked((np.arange(36).reshape(12, 3) % 2).astype(float), ((4, 4, 4), (3,)))
               if name.startswith("binary") else chunked(np.arange(12) % 3, ((4, 4, 4),)))
    loss, grad = getattr(xd, name)(logits, targets, return_grad=True)
    dask.compute(loss, grad)
    assert len(calls) == 3  # one call per block, for the loss and the gradient together


# --- bad input --------------------------------------------------------------------------

def test_out_is_refused():
    x = chunked(np.zeros(4), ((2, 2),))
    for name in ("sigmoid", "log_sigmoid", "softplus", "softmax", "log_softmax"):
        with pytest.raises(ValueError, match="out= is not supported"):
            getattr(xd, name)(x, out=np.empty(4))


def test_shapes_and_arguments_are_checked_when_called():
    z = chunked(np.zeros((4, 3)), ((2, 2), (3,)))
    with pytest.raises(ValueError, match="same shape"):
        xd.binary_cross_entropy_with_logits(z, np.zeros((4, 2)))
    with pytest.raises(ValueError, match="must broadcast"):
        xd.binary_cross_entropy_with_logits(z, z, weight=np.ones(2))
    with pytest.raises(ValueError, match="reduction"):
        xd.binary_cross_entropy_with_logits(z, z, reduction="max")
    with pytest.raises(ValueError, match="class-index targets"):
        xd.softmax_cross_entropy(z, np.zeros(3, int))
    with pytest.raises(ValueError, match="class axis"):
        xd.softmax_cross_entropy(chunked(np.array(1.0), ()), np.array(0))
    with pytest.raises(ValueError, match="label_smoothing"):
        xd.softmax_cross_entropy(z, np.zeros(4, int), label_smoothing=2.0)
    with pytest.raises(ValueError, match="do not broadcast"):
        xd.cross_entropy(z, np.ones((4, 2)) / 2)
    with pytest.raises(ValueError, match="real numbers"):
        xd.sigmoid(chunked(np.zeros(3, complex), ((3,),)))
    with pytest.raises(ValueError, match="base"):
        xd.entropy(z, base=1)
    with pytest.raises(np.exceptions.AxisError):
        xd.logsumexp(z, axis=2)


def test_bad_values_raise_when_computed():
    z = chunked(np.zeros((4, 3)), ((2, 2), (3,)))
    bad_probs = chunked(np.full((4, 3), 1.5), ((2, 2), (3,)))
    lazy = xd.binary_cross_entropy_with_logits(z, bad_probs)  # no error yet
    with pytest.raises(ValueError, match="targets must lie in"):
        lazy.compute()
    with pytest.raises(ValueError, match="must lie in"):
        xd.entropy(bad_probs).compute()
    with pytest.raises(ValueError, match="class indices"):
        xd.softmax_cross_entropy(z, chunked(np.array([0, 1, 2, 3]), ((2, 2),))).compute()
    with pytest.raises(ValueError, match="finite and non-negative"):
        xd.binary_cross_entropy_with_logits(z, z, weight=-np.ones(3)).compute()
