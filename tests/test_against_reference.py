"""Every public function against its pure-NumPy twin in ``xentfast.reference``.

The functions come from the registry, grouped by kind; the inputs from the
shared generator in ``util``.  For each input: the reference raises
ValueError and so does xentfast, or both return the same type, dtype and
shape, nan in the same places, the same infinities, and finite values within
the tolerances of ``util`` (stated there).  No call may modify its inputs.
"""
import sys

import numpy as np
import pytest

import xentfast
from xentfast._registry import get_functions
from util import (assert_close, assert_outputs_close, assert_same_type, assert_unchanged,
                  axis_tolerance, by_kind,
                  binary_loss_tolerances, byte_swapped, class_indices_like,
                  distribution_pair_cases, distribution_tolerance, elementwise_tolerance,
                  params, probabilities_like, probability_cases, read_only, real_cases,
                  rtol_for, snapshot, soft_targets_like, softmax_loss_tolerances, strided,
                  targets_like, tiny, unaligned, weights_like)

REDUCTIONS = ("none", "sum", "mean")


def check_against_reference(func, args, kwargs, tolerances):
    """Run both implementations; ``tolerances(expected)`` gives one (rtol, atol) per output.

    Returns (actual, expected), or None when both raised ValueError.
    """
    saved = snapshot(*args, *kwargs.values())
    try:
        expected = func.reference(*args, **kwargs)
    except ValueError:
        with pytest.raises(ValueError):
            func.fast(*args, **kwargs)
        assert_unchanged(saved)
        return None
    assert_unchanged(saved)
    actual = func.fast(*args, **kwargs)
    assert_unchanged(saved)
    assert_outputs_close(func.name, actual, expected, tolerances(expected))
    return actual, expected


def _result_dtype(expected):
    first = expected[0] if isinstance(expected, tuple) else expected
    return np.asarray(first).dtype


# ---------------------------------------------------------------------------
# Elementwise maps and functions along an axis.

@by_kind("elementwise")
@pytest.mark.parametrize("x", params(real_cases()))
def test_elementwise(func, x):
    check_against_reference(func, (x,), {},
                            lambda expected: [elementwise_tolerance(_result_dtype(expected))])


@by_kind("elementwise_probability")
@pytest.mark.parametrize("base", [None, 2])
@pytest.mark.parametrize("p", params(probability_cases()))
def test_elementwise_probability(func, p, base):
    check_against_reference(func, (p,), {"base": base},
                            lambda expected: [elementwise_tolerance(_result_dtype(expected))])


@by_kind("axis")
@pytest.mark.parametrize("axis", [-1, 0, 1, None])
@pytest.mark.parametrize("x", params(real_cases()))
def test_axis(func, x, axis):
    check_against_reference(func, (x,), {"axis": axis},
                            lambda expected: [axis_tolerance(func.name, x, axis, expected)])


AXIS_AND_BASE = [(-1, None), (0, None), (None, None), (1, None), (-1, 2)]


@by_kind("distribution")
@pytest.mark.parametrize("axis, base", AXIS_AND_BASE)
@pytest.mark.parametrize("p", params(probability_cases()))
def test_distribution(func, p, axis, base):
    check_against_reference(
        func, (p,), {"axis": axis, "base": base},
        lambda expected: [distribution_tolerance(func.name, p, p, axis, base, expected)])


@by_kind("distribution_pair")
@pytest.mark.parametrize("axis, base", AXIS_AND_BASE)
@pytest.mark.parametrize("p, q", params(distribution_pair_cases()))
def test_distribution_pair(func, p, q, axis, base):
    check_against_reference(
        func, (p, q), {"axis": axis, "base": base},
        lambda expected: [distribution_tolerance(func.name, p, q, axis, base, expected)])


# ---------------------------------------------------------------------------
# Losses.

BINARY_OPTIONS = ("plain", "weight", "scalar-weight", "pos_weight", "pos_weight-with-zeros",
                  "weight-and-pos_weight")


def binary_loss_options(option, shape):
    """Keyword arguments for one option; pos_weight runs along the last axis."""
    last = tuple(shape[-1:])
    return {
        "plain": {},
        "weight": {"weight": weights_like(shape, 1)},
        "scalar-weight": {"weight": 2.5},
        "pos_weight": {"pos_weight": weights_like(last, 2, zeros=0.0) + 0.5},
        "pos_weight-with-zeros": {"pos_weight": weights_like(last, 3, zeros=0.5)},
        "weight-and-pos_weight": {"weight": weights_like(shape, 4),
                                  "pos_weight": weights_like(last, 5)},
    }[option]


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("option", BINARY_OPTIONS)
@pytest.mark.parametrize("logits", params(real_cases()))
def test_binary_cross_entropy_with_logits(logits, option, reduction):
    func, = (f for f in get_functions("binary_loss")
             if f.name == "binary_cross_entropy_with_logits")
    targets = targets_like(np.shape(logits), seed=np.size(logits))
    kwargs = dict(binary_loss_options(option, np.shape(logits)), reduction=reduction)

    def tolerances(expected):
        return binary_loss_tolerances("logits", logits, targets, **kwargs)

    check_against_reference(func, (logits, targets), dict(kwargs, return_grad=True), tolerances)
    check_against_reference(func, (logits, targets), kwargs, lambda e: tolerances(e)[:1])


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("option", ("plain", "weight", "scalar-weight"))
@pytest.mark.parametrize("probs", params(probability_cases()))
def test_binary_cross_entropy(probs, option, reduction):
    func, = (f for f in get_functions("binary_loss") if f.name == "binary_cross_entropy")
    targets = targets_like(np.shape(probs), seed=np.size(probs))
    kwargs = dict(binary_loss_options(option, np.shape(probs)), reduction=reduction)
    check_against_reference(
        func, (probs, targets), kwargs,
        lambda expected: binary_loss_tolerances("probs", probs, targets, **kwargs)[:1])


SOFTMAX_OPTIONS = ("index", "index-weighted-smoothed", "index-ignore-negative",
                   "index-ignore-in-range-weighted", "index-smoothing-1", "probs",
                   "probs-weighted-smoothed")


def softmax_loss_arguments(option, logits_shape):
    """(targets, keyword arguments) for one option and logits of ``logits_shape``."""
    batch, k = tuple(logits_shape[:-1]), (logits_shape[-1] if logits_shape else 1)
    k_for_targets = max(k, 1)  # k = 0 is rejected; the targets just need to exist
    seed = int(np.prod(logits_shape, dtype=np.int64)) + k
    index = class_indices_like(batch, k_for_targets, seed)
    weight, class_weight = weights_like(batch, seed + 1), weights_like((k,), seed + 2)
    probs = soft_targets_like(batch + (k,), seed + 3)
    return {
        "index": (index, {}),
        "index-weighted-smoothed": (index, {"weight": weight, "class_weight": class_weight,
                                            "label_smoothing": 0.1}),
        "index-ignore-negative": (class_indices_like(batch, k_for_targets, seed, -100),
                                  {"ignore_index": -100}),
        "index-ignore-in-range-weighted": (index, {"ignore_index": 0, "weight": weight,
                                                   "class_weight": class_weight}),
        "index-smoothing-1": (index, {"label_smoothing": 1.0}),
        "probs": (probs, {}),
        "probs-weighted-smoothed": (probs, {"weight": weight, "class_weight": class_weight,
                                            "label_smoothing": 0.25}),
    }[option]


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("option", SOFTMAX_OPTIONS)
@pytest.mark.parametrize("logits", params(real_cases()))
def test_softmax_cross_entropy(logits, option, reduction):
    func, = get_functions("softmax_loss")
    targets, kwargs = softmax_loss_arguments(option, np.shape(logits))
    kwargs = dict(kwargs, reduction=reduction)

    def tolerances(expected):
        return softmax_loss_tolerances(logits, targets, **kwargs)

    check_against_reference(func, (logits, targets), dict(kwargs, return_grad=True), tolerances)
    check_against_reference(func, (logits, targets), kwargs, lambda e: tolerances(e)[:1])


LAYOUTS = {
    "strided": strided,
    "fortran": np.asfortranarray,
    "byteswapped": byte_swapped,
    "readonly": read_only,
    "unaligned": unaligned,
}


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_loss_side_inputs_in_any_layout(layout, dtype):
    """Targets and weights, not just logits, may be strided, Fortran, byte-swapped,
    read-only or unaligned."""
    arrange = LAYOUTS[layout]
    rng = np.random.default_rng(11)
    logits = arrange(rng.normal(0, 4, (6, 5)).astype(dtype))
    binary, = (f for f in get_functions("binary_loss")
               if f.name == "binary_cross_entropy_with_logits")
    targets = arrange(targets_like((6, 5), 12))
    weight, pos_weight = arrange(weights_like((6, 5), 13)), weights_like((5,), 14)
    kwargs = {"weight": weight, "pos_weight": pos_weight, "reduction": "none",
              "return_grad": True}
    check_against_reference(
        binary, (logits, targets), kwargs,
        lambda e: binary_loss_tolerances("logits", logits, targets, weight, pos_weight, "none"))
    # unweighted and reduced, with targets of the logits' dtype: the short path
    same_dtype_targets = arrange(targets_like((6, 5), 12, dtype))
    for reduction in ("mean", "sum"):
        check_against_reference(
            binary, (logits, same_dtype_targets), {"reduction": reduction, "return_grad": True},
            lambda e: binary_loss_tolerances("logits", logits, same_dtype_targets,
                                             reduction=reduction))

    softmax_loss, = get_functions("softmax_loss")
    for index_dtype in (np.int8, np.uint8, np.int32, np.int64, np.uint64):
        index = arrange(class_indices_like((6,), 5, 15).astype(index_dtype))
        weight, class_weight = arrange(weights_like((6,), 16)), arrange(weights_like((5,), 17))
        kwargs = {"weight": weight, "class_weight": class_weight, "label_smoothing": 0.05,
                  "reduction": "mean", "return_grad": True}
        check_against_reference(
            softmax_loss, (logits, index), kwargs,
            lambda e: softmax_loss_tolerances(logits, index, weight, class_weight, 0.05,
                                              None, "mean"))
    probs = arrange(soft_targets_like((6, 5), 18))
    check_against_reference(
        softmax_loss, (logits, probs), {"reduction": "sum", "return_grad": True},
        lambda e: softmax_loss_tolerances(logits, probs, reduction="sum"))


def test_unaligned_logits_on_the_short_path():
    # The case: the unweighted "mean" path refused an unaligned array
    logits = np.frombuffer(bytearray(41), np.float64, 5, offset=1)
    assert not logits.flags.aligned
    for return_grad in (False, True):
        result = xentfast.binary_cross_entropy_with_logits(logits, np.zeros(5),
                                                           return_grad=return_grad)
        loss = result[0] if return_grad else result
        assert loss == np.log(2.0)


# ---------------------------------------------------------------------------
# Python scalars and lists, out=, threads, reference counts.

@pytest.mark.parametrize("func", get_functions("elementwise") + get_functions("axis"),
                         ids=lambda f: f.name)
@pytest.mark.parametrize("x", [0.5, -3, True, [1, 2, 3], [[1.0, -2.0], [0.5, 40.0]]],
                         ids=["float", "int", "bool", "list", "nested-list"])
def test_python_inputs_become_float64(func, x):
    result = check_against_reference(func, (x,), {}, lambda e: [(1e-12, tiny(np.float64))])
    assert result is not None
    assert np.asarray(result[0]).dtype == np.float64


@pytest.mark.parametrize("func", get_functions("elementwise_probability"), ids=lambda f: f.name)
@pytest.mark.parametrize("p", [0.5, 1, True, [0.25, 1.0], [[0.5], [0.0]]],
                         ids=["float", "int", "bool", "list", "nested-list"])
def test_python_probabilities_become_float64(func, p):
    # 0-d input gives a NumPy scalar, as from a ufunc (binary_entropy(0.5) gave a
    # 1-element array once)
    result = check_against_reference(func, (p,), {}, lambda e: [(1e-12, tiny(np.float64))])
    assert result is not None
    assert np.asarray(result[0]).dtype == np.float64


def _out_arrays(shape, dtype):
    """A C-contiguous, a Fortran-ordered and a strided array of ``shape``."""
    yield "contiguous", np.full(shape, 7.0, dtype)
    yield "fortran", np.full(shape, 7.0, dtype, order="F")
    yield "strided", np.full(shape + (2,), 7.0, dtype)[..., 0]
    yield "unaligned", unaligned(np.full(shape, 7.0, dtype))


OUT_CALLS = [pytest.param(f, axis, id=f"{f.name}-axis={axis}")
             for f in get_functions("elementwise") + get_functions("axis")
             if "out=" in f.signature
             for axis in ((None,) if f.kind == "elementwise" else (-1, 0))]


@pytest.mark.parametrize("func, axis", OUT_CALLS)
@pytest.mark.parametrize("x", [np.random.default_rng(20).normal(0, 3, (3, 4, 5)),
                               np.random.default_rng(21).normal(0, 3, (7, 2)).astype(np.float32),
                               np.float64(1.5), np.zeros((0, 3))],
                         ids=["f64-3d", "f32-2d", "0d", "empty"])
def test_out_is_filled_and_returned(func, x, axis):
    kwargs = {} if axis is None else {"axis": axis}
    x = np.asarray(x)
    expected = np.asarray(func.reference(x, **kwargs))
    for layout, out in _out_arrays(x.shape, x.dtype):
        saved = snapshot(x)
        returned = func.fast(x, out=out, **kwargs)
        assert_unchanged(saved)
        assert returned is out, f"{layout} out: the returned object is not out"
        assert np.shares_memory(returned, out) or out.size == 0
        assert_close(out, expected, rtol_for(x.dtype, False), axis_or_elementwise_atol(
            func, x, kwargs.get("axis"), expected), what=f"{layout} out")


def axis_or_elementwise_atol(func, x, axis, expected):
    if func.kind == "elementwise":
        return tiny(x.dtype)
    return axis_tolerance(func.name, x, axis, expected)[1]


def test_out_may_be_the_input():
    """sigmoid(x, out=x) overwrites x with σ(x), computed from the old values."""
    x = np.linspace(-5, 5, 11)
    expected = xentfast.reference.sigmoid(x)
    assert xentfast.sigmoid(x, out=x) is x
    assert_close(x, expected, rtol_for(np.float64, True), tiny(np.float64))


@pytest.mark.parametrize("func, axis", OUT_CALLS)
@pytest.mark.parametrize("shift", [-3, -1, 1, 3, 17])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_out_overlapping_the_input(func, axis, shift, dtype):
    """out a view of x's own buffer, shifted by a few entries: the result is f(x) of
    the old values (the short path writes straight into out only when its memory is
    x's own or apart from it)."""
    kwargs = {} if axis is None else {"axis": axis}
    n = 40
    buffer = np.random.default_rng(22).normal(0, 4, n + 40).astype(dtype)
    x = buffer[20:20 + n]
    out = buffer[20 + shift:20 + shift + n]
    expected = np.asarray(func.reference(x.copy(), **kwargs))
    assert func.fast(x, out=out, **kwargs) is out
    assert_close(out, expected, rtol_for(dtype, False),
                 axis_or_elementwise_atol(func, x, kwargs.get("axis"), expected),
                 what=f"out shifted by {shift}")


BIG = 300_000  # large enough for the kernels to run in parallel


def _big_calls(func):
    """(description, args, kwargs) calls large enough to run on several threads."""
    rng = np.random.default_rng(30)
    for dtype in (np.float64, np.float32):
        x = rng.normal(0, 10, BIG).astype(dtype)
        x[::1000] = np.inf
        p = probabilities_like(BIG, rng, dtype)
        q = probabilities_like(BIG, rng, dtype, zeros=0.0)
        tag = np.dtype(dtype).name
        if func.kind == "elementwise":
            yield tag, (x,), {}
        elif func.kind == "elementwise_probability":
            yield tag, (p,), {}
        elif func.kind == "axis":
            yield f"{tag}-rows", (x.reshape(1000, 300),), {"axis": -1}
            yield f"{tag}-columns", (x.reshape(300, 1000),), {"axis": 0}
            yield f"{tag}-one-slice", (x,), {"axis": None}
            # rows longer than a chunk of the short-row kernels (1024)
            yield f"{tag}-long-rows", (x.reshape(200, 1500),), {"axis": -1}
        elif func.kind == "distribution":
            yield f"{tag}-rows", (p.reshape(1000, 300),), {}
            yield f"{tag}-one-slice", (p,), {"axis": None}
        elif func.kind == "distribution_pair":
            yield f"{tag}-rows", (p.reshape(1000, 300), q.reshape(1000, 300)), {}
            yield f"{tag}-one-slice", (p, q), {"axis": None}
        elif func.kind == "binary_loss":
            values = p if func.name == "binary_cross_entropy" else x
            targets = targets_like(BIG, 31)
            extra = {} if func.name == "binary_cross_entropy" else {"return_grad": True}
            for reduction in REDUCTIONS:
                yield (f"{tag}-{reduction}", (values, targets),
                       dict(extra, weight=weights_like(BIG, 32), reduction=reduction))
                # without weights (the short path of binary_cross_entropy_with_logits)
                yield (f"{tag}-{reduction}-unweighted", (values, targets),
                       dict(extra, reduction=reduction))
        elif func.kind == "softmax_loss":
            logits = x.reshape(-1, 10)
            index = class_indices_like(logits.shape[:1], 10, 33, ignore_index=-1)
            for reduction in REDUCTIONS:
                yield (f"{tag}-{reduction}", (logits, index),
                       {"weight": weights_like(logits.shape[:1], 34), "ignore_index": -1,
                        "label_smoothing": 0.1, "reduction": reduction, "return_grad": True})
            # index targets alone take the one-hot path; long rows the one-row-at-a-time path
            yield (f"{tag}-one-hot", (logits, class_indices_like(logits.shape[:1], 10, 38)),
                   {"return_grad": True})
            long_rows = x.reshape(200, 1500)
            yield (f"{tag}-long-rows", (long_rows, class_indices_like(200, 1500, 39)),
                   {"weight": weights_like(200, 40), "reduction": "sum", "return_grad": True})
        elif func.kind == "linear_model":
            X = x.reshape(-1, 10)
            X[~np.isfinite(X)] = 0.0
            for n_classes, w in ((1, rng.normal(size=11)), (3, rng.normal(size=(3, 11)))):
                y = (targets_like(len(X), 35) if n_classes == 1
                     else class_indices_like(len(X), 3, 36))
                yield (f"{tag}-classes{n_classes}", (w, X, y),
                       {"sample_weight": weights_like(len(X), 37), "alpha": 0.1})
        else:
            raise AssertionError(f"no large inputs for kind {func.kind!r}")


@pytest.fixture
def restore_threads():
    before = xentfast.get_num_threads()
    yield
    xentfast.set_num_threads(before)


@pytest.mark.parametrize("func", get_functions(), ids=lambda f: f.name)
def test_thread_counts_agree(func, restore_threads):
    for description, args, kwargs in _big_calls(func):
        xentfast.set_num_threads(1)
        one = func.fast(*args, **kwargs)
        xentfast.set_num_threads(2)
        two = func.fast(*args, **kwargs)
        ones = one if isinstance(one, tuple) else (one,)
        twos = two if isinstance(two, tuple) else (two,)
        assert len(ones) == len(twos)
        for a, b in zip(ones, twos):
            assert_same_type(b, a)
            dtype = np.asarray(a).dtype
            if np.ndim(a) > 0 and func.kind in ("elementwise", "elementwise_probability"):
                np.testing.assert_array_equal(b, a, err_msg=description)
            else:
                # only the order of summation may differ
                rtol = 1e-12 if dtype == np.float64 else np.finfo(np.float32).eps
                assert_close(b, a, rtol, tiny(dtype), what=f"{func.name} {description}")


def _small_call_and_bad_call(func):
    """(args, kwargs) of a valid call that uses every optional argument, and of one
    that raises ValueError, sharing the same input arrays."""
    rng = np.random.default_rng(40)
    x = rng.normal(0, 3, (4, 5))
    p, q = probabilities_like((4, 5), rng), probabilities_like((4, 5), rng, zeros=0.0)
    wrong_out = np.empty((3, 3))
    if func.kind == "elementwise":
        return ((x,), {"out": np.empty_like(x)}), ((x,), {"out": wrong_out})
    if func.kind == "elementwise_probability":
        return ((p,), {"base": 2}), ((p,), {"base": -1})
    if func.kind == "axis":
        kwargs = {"out": np.empty_like(x)} if "out=" in func.signature else {}
        return ((x,), dict(kwargs, axis=0)), ((x,), {"axis": 5})
    if func.kind == "distribution":
        return ((p,), {"axis": 0, "base": 2}), ((p,), {"base": 1})
    if func.kind == "distribution_pair":
        return ((p, q), {"axis": 0, "base": 2}), ((p, q[:, :2]), {})
    if func.kind == "binary_loss":
        values = p if func.name == "binary_cross_entropy" else x
        targets, weight = targets_like((4, 5), 41), weights_like((4, 5), 42)
        kwargs = {"weight": weight, "reduction": "none"}
        if func.name != "binary_cross_entropy":
            kwargs.update(pos_weight=weights_like((5,), 43), return_grad=True)
        return ((values, targets), kwargs), ((values, targets), dict(kwargs, reduction="avg"))
    if func.kind == "softmax_loss":
        index = class_indices_like((4,), 5, 44, ignore_index=-100)
        kwargs = {"weight": weights_like((4,), 45), "class_weight": weights_like((5,), 46),
                  "ignore_index": -100, "label_smoothing": 0.1, "return_grad": True}
        return ((x, index), kwargs), ((x, index), dict(kwargs, ignore_index=None))
    if func.kind == "linear_model":
        w, y = rng.normal(size=6), targets_like((4,), 47)
        kwargs = {"sample_weight": weights_like((4,), 48), "alpha": 0.1}
        return ((w, x, y), kwargs), ((w[:5], x, y), kwargs)
    raise AssertionError(f"no inputs for kind {func.kind!r}")


@pytest.mark.parametrize("func", get_functions(), ids=lambda f: f.name)
def test_no_reference_leaks(func):
    (args, kwargs), (bad_args, bad_kwargs) = _small_call_and_bad_call(func)
    arrays = [a for a in (*args, *kwargs.values(), *bad_args, *bad_kwargs.values())
              if isinstance(a, np.ndarray)]
    func.fast(*args, **kwargs)  # warm up: first calls may cache things
    before = [sys.getrefcount(a) for a in arrays]
    for _ in range(200):
        result = func.fast(*args, **kwargs)
        del result
        try:
            func.fast(*bad_args, **bad_kwargs)
        except ValueError:
            pass
        else:
            raise AssertionError("the bad call did not raise ValueError")
    after = [sys.getrefcount(a) for a in arrays]
    assert after == before


@pytest.mark.parametrize("k", range(1, 18))
def test_information_short_rows_summed_eight_at_a_time(k):
    # Rows of 2 to 16 terms are summed eight rows at a time on the AVX-512 set
    # (masked loads, a transposing reduction), the rest of a block's rows one by
    # one: every row must match the reference, in nats and in another base, and
    # the float32 rows within 1 float32 ulp of the float64 ones.
    from xentfast import reference
    rng = np.random.default_rng(k)
    n = 8 * 70 + 5
    p = rng.random((n, k))
    p /= p.sum(axis=1, keepdims=True)
    q = rng.random((n, k))
    q /= q.sum(axis=1, keepdims=True)
    for name, args in (("entropy", (p,)), ("cross_entropy", (p, q)),
                       ("kl_divergence", (p, q))):
        for base in (None, 2.0):
            fast = getattr(xentfast, name)(*args, axis=-1, base=base)
            slow = getattr(reference, name)(*args, axis=-1, base=base)
            np.testing.assert_allclose(fast, slow, rtol=1e-13, err_msg=f"{name} base={base}")
            fast32 = getattr(xentfast, name)(*(a.astype(np.float32) for a in args), base=base)
            exact32 = getattr(xentfast, name)(*(a.astype(np.float32).astype(np.float64)
                                                for a in args), base=base)
            np.testing.assert_allclose(fast32, exact32, rtol=float(np.finfo(np.float32).eps),
                                       err_msg=f"{name} float32 base={base}")
