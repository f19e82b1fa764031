"""Bad input gives a ValueError whose message names the problem; empty input
gives the documented results.  Both xentfast and the reference are checked."""
import re

import numpy as np
import pytest

import xentfast
from xentfast import reference
from xentfast._registry import get_functions
from util import assert_unchanged, params, read_only, snapshot

IMPLEMENTATIONS = {"xentfast": xentfast, "reference": reference}

X = np.array([[0.5, -1.0, 2.0], [3.0, 0.0, -4.0]])
P = np.array([[0.5, 0.25, 0.25], [0.0, 1.0, 0.0]])
Q = np.array([[0.25, 0.25, 0.5], [0.5, 0.5, 0.0]])
Y = np.array([[1.0, 0.0, 0.5], [0.0, 1.0, 1.0]])
INDEX = np.array([2, 0])


def _call(name, *args, **kwargs):
    return (name, args, kwargs)


BAD_CALLS = [
    # shape mismatches name both shapes
    ("pair-shapes", *_call("cross_entropy", np.zeros((4, 5)), np.zeros(3)),
     r"p\.shape=\(4, 5\), q\.shape=\(3,\)"),
    ("kl-pair-shapes", *_call("kl_divergence", np.zeros((2, 3)), np.zeros((3, 2))),
     r"p\.shape=\(2, 3\), q\.shape=\(3, 2\)"),
    ("bce-logits-target-shapes", *_call("binary_cross_entropy_with_logits", np.zeros((3, 4)),
                                        np.zeros((4, 3))),
     r"logits\.shape=\(3, 4\) and targets\.shape=\(4, 3\)"),
    ("bce-probs-target-shapes", *_call("binary_cross_entropy", np.zeros(2), np.zeros(3)),
     r"probs\.shape=\(2,\) and targets\.shape=\(3,\)"),
    ("bce-weight-shape", *_call("binary_cross_entropy_with_logits", X, Y, weight=np.ones(2)),
     r"weight\.shape=\(2,\) and logits\.shape=\(2, 3\)"),
    ("bce-pos_weight-shape", *_call("binary_cross_entropy_with_logits", X, Y,
                                    pos_weight=np.ones(2)),
     r"pos_weight\.shape=\(2,\) and logits\.shape=\(2, 3\)"),
    ("softmax-index-target-shape", *_call("softmax_cross_entropy", X, np.array([0, 1, 2])),
     r"targets\.shape=\(3,\) for logits of batch shape \(2,\)"),
    ("softmax-prob-target-shape", *_call("softmax_cross_entropy", X, np.full((2, 4), 0.25)),
     r"targets\.shape=\(2, 4\) and logits\.shape=\(2, 3\)"),
    ("softmax-weight-shape", *_call("softmax_cross_entropy", X, INDEX, weight=np.ones(3)),
     r"weight\.shape=\(3,\) .*\(2,\)"),
    ("softmax-class_weight-shape", *_call("softmax_cross_entropy", X, INDEX,
                                          class_weight=np.ones(2)),
     r"class_weight must have shape \(3,\), got \(2,\)"),
    # class indices
    # a bad value broadcast away against an empty array is still a bad value
    ("q-broadcast-against-empty-p", *_call("cross_entropy", np.zeros(0), np.array(-5e-324)),
     r"q must lie in \[0, 1\], found -5e-324"),
    ("kl-p-broadcast-against-empty-q", *_call("kl_divergence", np.full((1, 3), 1.5),
                                              np.zeros((0, 3))),
     r"p must lie in \[0, 1\], found 1.5"),
    ("index-too-large", *_call("softmax_cross_entropy", X, np.array([0, 3])),
     r"class indices in \[0, 3\), found 3"),
    ("index-negative", *_call("softmax_cross_entropy", X, np.array([-1, 0])),
     r"class indices in \[0, 3\), found -1"),
    ("index-not-the-ignored-one", *_call("softmax_cross_entropy", X, np.array([-100, -1]),
                                         ignore_index=-100),
     r"class indices in \[0, 3\) or ignore_index=-100, found -1"),
    ("index-huge-unsigned", *_call("softmax_cross_entropy", X,
                                   np.array([0, 2**63 + 5], np.uint64)),
     r"class indices"),
    ("ignore_index-not-integer", *_call("softmax_cross_entropy", X, INDEX, ignore_index=1.5),
     r"ignore_index must be an integer or None, got 1\.5"),
    ("ignore_index-with-prob-targets", *_call("softmax_cross_entropy", X, P, ignore_index=0),
     r"ignore_index applies to class-index targets only"),
    ("softmax-0d-logits", *_call("softmax_cross_entropy", np.float64(1.0), np.int64(0)),
     r"class axis"),
    ("softmax-no-classes", *_call("softmax_cross_entropy", np.zeros((2, 0)), INDEX),
     r"at least one class"),
    ("softmax-bool-targets", *_call("softmax_cross_entropy", X, np.array([True, False])),
     r"targets must be integer class indices or floating-point probabilities, got dtype bool"),
    # binary targets outside [0, 1] or nan
    ("bce-target-above-1", *_call("binary_cross_entropy_with_logits", X,
                                  np.array([[1.0, 0.0, 1.5], [0.0, 1.0, 1.0]])),
     r"targets must lie in \[0, 1\], found 1\.5"),
    ("bce-target-negative", *_call("binary_cross_entropy_with_logits", X[0], [0.0, -0.5, 1.0]),
     r"targets must lie in \[0, 1\], found -0\.5"),
    ("bce-target-nan", *_call("binary_cross_entropy_with_logits", X[0], [0.0, np.nan, 1.0]),
     r"targets must lie in \[0, 1\], found nan"),
    ("bce-probs-target-nan", *_call("binary_cross_entropy", P[0], [np.nan, 0.0, 1.0]),
     r"targets must lie in \[0, 1\], found nan"),
    ("bce-probs-target-above-1", *_call("binary_cross_entropy", P[0], [2.0, 0.0, 1.0]),
     r"targets must lie in \[0, 1\], found 2\.0"),
    ("softmax-prob-target-above-1", *_call("softmax_cross_entropy", X,
                                           np.array([[0.5, 1.5, 0.0], [1.0, 0.0, 0.0]])),
     r"targets must lie in \[0, 1\], found 1\.5"),
    ("softmax-prob-target-nan", *_call("softmax_cross_entropy", X,
                                       np.array([[0.5, np.nan, 0.5], [1.0, 0.0, 0.0]])),
     r"targets must lie in \[0, 1\], found nan"),
    # probabilities outside [0, 1]; negative p or q
    ("entropy-above-1", *_call("entropy", [0.5, 1.5]), r"p must lie in \[0, 1\], found 1\.5"),
    ("entropy-inf", *_call("entropy", [0.5, np.inf]), r"p must lie in \[0, 1\], found inf"),
    ("binary-entropy-negative", *_call("binary_entropy", [-0.125]),
     r"p must lie in \[0, 1\], found -0\.125"),
    ("bce-probs-above-1", *_call("binary_cross_entropy", [0.5, 1.25], [1.0, 0.0]),
     r"probs must lie in \[0, 1\], found 1\.25"),
    ("bce-probs-negative", *_call("binary_cross_entropy", [-0.5, 0.25], [1.0, 0.0]),
     r"probs must lie in \[0, 1\], found -0\.5"),
    ("cross-entropy-negative-q", *_call("cross_entropy", P, -Q),
     r"q must lie in \[0, 1\], found -0\.25"),
    ("cross-entropy-negative-p", *_call("cross_entropy", -P, Q),
     r"p must lie in \[0, 1\], found -0\.5"),
    ("kl-negative-p", *_call("kl_divergence", [0.5, -0.5], [0.5, 0.5]),
     r"p must lie in \[0, 1\], found -0\.5"),
    ("kl-q-above-1", *_call("kl_divergence", [0.5, 0.5], [0.5, 3.0]),
     r"q must lie in \[0, 1\], found 3\.0"),
    # weights
    ("bce-negative-weight", *_call("binary_cross_entropy_with_logits", X, Y, weight=-1.0),
     r"weight must be finite and non-negative, found -1\.0"),
    ("bce-nan-weight", *_call("binary_cross_entropy", P, Y, weight=np.full((2, 3), np.nan)),
     r"weight must be finite and non-negative, found nan"),
    ("bce-inf-pos_weight", *_call("binary_cross_entropy_with_logits", X, Y,
                                  pos_weight=[1.0, np.inf, 1.0]),
     r"pos_weight must be finite and non-negative, found inf"),
    ("softmax-negative-weight", *_call("softmax_cross_entropy", X, INDEX, weight=[1.0, -2.0]),
     r"weight must be finite and non-negative, found -2\.0"),
    ("softmax-negative-class_weight", *_call("softmax_cross_entropy", X, INDEX,
                                             class_weight=[1.0, -0.5, 1.0]),
     r"class_weight must be finite and non-negative, found -0\.5"),
    # reductions
    ("reduction-avg", *_call("binary_cross_entropy_with_logits", X, Y, reduction="avg"),
     r"reduction must be one of \('none', 'sum', 'mean'\), got 'avg'"),
    ("reduction-capitalised", *_call("binary_cross_entropy", P, Y, reduction="Mean"),
     r"reduction must be one of .*, got 'Mean'"),
    ("reduction-none-object", *_call("softmax_cross_entropy", X, INDEX, reduction=None),
     r"reduction must be one of .*, got None"),
    # label smoothing
    ("label_smoothing-negative", *_call("softmax_cross_entropy", X, INDEX, label_smoothing=-0.1),
     r"label_smoothing must lie in \[0, 1\], got -0\.1"),
    ("label_smoothing-above-1", *_call("softmax_cross_entropy", X, INDEX, label_smoothing=1.5),
     r"label_smoothing must lie in \[0, 1\], got 1\.5"),
    ("label_smoothing-nan", *_call("softmax_cross_entropy", X, INDEX, label_smoothing=np.nan),
     r"label_smoothing must lie in \[0, 1\], got nan"),
    ("label_smoothing-string", *_call("softmax_cross_entropy", X, INDEX, label_smoothing="a lot"),
     r"label_smoothing must be a number in \[0, 1\], got 'a lot'"),
    ("label_smoothing-None", *_call("softmax_cross_entropy", X, INDEX, label_smoothing=None),
     r"label_smoothing must be a number in \[0, 1\], got None"),
    # axis
    ("axis-too-large", *_call("logsumexp", X, axis=2), r"axis 2 is out of bounds"),
    ("axis-too-negative", *_call("softmax", X, axis=-3), r"axis -3 is out of bounds"),
    ("axis-0d", *_call("log_softmax", np.float64(1.0), axis=1), r"axis 1 is out of bounds"),
    ("axis-float", *_call("entropy", P, axis=1.5), r"axis must be an integer or None, got 1\.5"),
    ("axis-string", *_call("cross_entropy", P, Q, axis="0"),
     r"axis must be an integer or None, got '0'"),
    ("axis-tuple", *_call("kl_divergence", P, Q, axis=(0, 1)),
     r"axis must be an integer or None, got \(0, 1\)"),
]

BAD_BASES = [1, 1.0, 0, -2.0, np.inf, np.nan, "two", [2]]
for _i, _base in enumerate(BAD_BASES):
    for _name, _args in (("entropy", (P,)), ("binary_entropy", (P,)),
                         ("cross_entropy", (P, Q)), ("kl_divergence", (P, Q))):
        BAD_CALLS.append((f"base-{_base!r}-{_name}", *_call(_name, *_args, base=_base),
                          r"base must be a positive number other than 1"))

for _func in get_functions("elementwise") + get_functions("axis"):
    if "out=" not in _func.signature:
        continue
    BAD_CALLS += [
        (f"out-shape-{_func.name}", *_call(_func.name, X, out=np.empty(3)),
         r"out has shape \(3,\), expected \(2, 3\)"),
        (f"out-dtype-{_func.name}", *_call(_func.name, X, out=np.empty((2, 3), np.float32)),
         r"out has dtype float32, expected float64"),
        (f"out-dtype-f32-input-{_func.name}", *_call(_func.name, X.astype(np.float32),
                                                     out=np.empty((2, 3))),
         r"out has dtype float64, expected float32"),
        (f"out-readonly-{_func.name}", *_call(_func.name, X, out=read_only(np.empty((2, 3)))),
         r"out is read-only"),
        (f"out-list-{_func.name}", *_call(_func.name, X, out=[[0.0] * 3] * 2),
         r"out must be a numpy\.ndarray, got list"),
    ]


def _non_real_arrays():
    return {
        "complex": np.array([0.5 + 1j, 0.25]),
        "object": np.array([0.5, 0.25], dtype=object),
        "string": np.array(["0.5", "0.25"]),
        "datetime": np.array(["2024-01-01", "2024-01-02"], dtype="datetime64[D]"),
        "timedelta": np.array([1, 2], dtype="timedelta64[s]"),
    }


def _valid_call(func):
    """(args, kwargs, argument names) of a valid call of ``func`` on 1-D inputs of length 2."""
    p = np.array([0.5, 0.25])
    if func.kind in ("elementwise", "axis"):
        return [p], {}, ["x"]
    if func.kind in ("elementwise_probability", "distribution"):
        return [p], {}, ["p"]
    if func.kind == "distribution_pair":
        return [p, p], {}, ["p", "q"]
    if func.kind == "binary_loss":
        first = "probs" if func.name == "binary_cross_entropy" else "logits"
        return [p, p], {"weight": p}, [first, "targets", "weight"]
    if func.kind == "softmax_loss":
        return [p, np.int64(1)], {"class_weight": p}, ["logits", None, "class_weight"]
    if func.kind == "linear_model":
        return [np.zeros(3), np.ones((2, 2)), p], {"sample_weight": p}, ["w", "X", "y",
                                                                         "sample_weight"]
    raise AssertionError(f"no valid call for kind {func.kind!r}")


for _func in get_functions():
    for _kind, _bad in _non_real_arrays().items():
        _args, _kwargs, _names = _valid_call(_func)
        for _position, _name in enumerate(_names):
            if _name is None:
                continue
            _bad_args, _bad_kwargs = list(_args), dict(_kwargs)
            if _position < len(_args):
                _bad_args[_position] = _bad
            else:
                _bad_kwargs[_name] = _bad
            BAD_CALLS.append((f"{_kind}-{_name}-{_func.name}",
                              *_call(_func.name, *_bad_args, **_bad_kwargs),
                              rf"{_name} must hold real numbers, got dtype "
                              + re.escape(str(_bad.dtype))))
    if _func.kind == "softmax_loss":
        for _kind, _bad in _non_real_arrays().items():
            if _bad.dtype.kind in "iuf":
                continue
            BAD_CALLS.append((f"{_kind}-targets-{_func.name}",
                              *_call(_func.name, np.zeros((2, 2)), _bad),
                              r"targets must be integer class indices or floating-point "
                              r"probabilities"))


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
@pytest.mark.parametrize("name, args, kwargs, match", params(BAD_CALLS))
def test_bad_input_raises_value_error(name, args, kwargs, match, implementation):
    function = getattr(IMPLEMENTATIONS[implementation], name)
    saved = snapshot(*args, *kwargs.values())
    with pytest.raises(ValueError, match=match):
        function(*args, **kwargs)
    assert_unchanged(saved)


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
def test_which_error_comes_first(implementation):
    # With several bad arguments both implementations raise the same error:
    # dtypes and shapes, then out, base and axis, then the values.
    module = IMPLEMENTATIONS[implementation]
    for name in ("softmax", "log_softmax"):
        with pytest.raises(ValueError, match="out has dtype float32") as raised:
            getattr(module, name)(X, axis=5, out=np.empty(X.shape, np.float32))
        assert type(raised.value) is ValueError
    bad_p = np.array([[0.5, 1.5], [0.0, 1.0]])
    for name, args in (("entropy", (bad_p,)), ("cross_entropy", (bad_p, P[:, :2])),
                       ("kl_divergence", (P[:, :2], bad_p))):
        with pytest.raises(np.exceptions.AxisError):
            getattr(module, name)(*args, axis=2)
        with pytest.raises(ValueError, match="base must be"):
            getattr(module, name)(*args, base=1)


def test_every_function_has_bad_input_cases():
    tested = {name for _, name, _, _, _ in BAD_CALLS}
    assert tested == {f.name for f in get_functions()}


# ---------------------------------------------------------------------------
# Empty input: documented results, not errors.

def _assert_empty(result, shape, dtype):
    assert isinstance(result, np.ndarray)
    assert result.shape == shape and result.dtype == dtype


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_empty_elementwise_gives_empty(implementation, dtype):
    module = IMPLEMENTATIONS[implementation]
    for shape in [(0,), (0, 3), (3, 0)]:
        x = np.zeros(shape, dtype)
        for func in get_functions("elementwise") + get_functions("elementwise_probability"):
            _assert_empty(getattr(module, func.name)(x), shape, dtype)
        for name in ("softmax", "log_softmax"):
            for axis in (-1, 0, None):
                _assert_empty(getattr(module, name)(x, axis=axis), shape, dtype)


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
def test_empty_logsumexp_is_minus_inf(implementation):
    logsumexp = IMPLEMENTATIONS[implementation].logsumexp
    assert logsumexp(np.zeros(0)) == -np.inf
    assert isinstance(logsumexp(np.zeros(0)), np.float64)
    assert logsumexp(np.zeros((2, 0))).tolist() == [-np.inf, -np.inf]
    assert logsumexp(np.zeros((0, 3)), axis=0).tolist() == [-np.inf] * 3
    assert logsumexp(np.zeros((0, 3)), axis=None) == -np.inf
    _assert_empty(logsumexp(np.zeros((0, 3), np.float32)), (0,), np.float32)


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
@pytest.mark.parametrize("name", ["entropy", "cross_entropy", "kl_divergence"])
def test_empty_distribution_measures_are_zero(implementation, name):
    function = getattr(IMPLEMENTATIONS[implementation], name)
    n_args = 1 if name == "entropy" else 2

    def call(p, **kwargs):
        return function(*[p] * n_args, **kwargs)

    assert call(np.zeros(0)) == 0.0
    assert isinstance(call(np.zeros(0)), np.float64)
    assert call(np.zeros((2, 0))).tolist() == [0.0, 0.0]
    assert call(np.zeros((0, 3)), axis=0).tolist() == [0.0] * 3
    assert call(np.zeros((0, 3), np.float32), axis=None) == 0.0
    assert call(np.zeros((0, 3), np.float32), axis=None).dtype == np.float32
    _assert_empty(call(np.zeros((0, 3))), (0,), np.float64)


def _empty_loss_calls(module):
    """(description, function, args, kwargs, per-sample shape) for empty batches."""
    yield ("bce-logits", module.binary_cross_entropy_with_logits, (np.zeros(0), np.zeros(0)),
           {}, (0,))
    yield ("bce-logits-2d", module.binary_cross_entropy_with_logits,
           (np.zeros((0, 3)), np.zeros((0, 3))), {"pos_weight": np.ones(3)}, (0, 3))
    yield "bce-probs", module.binary_cross_entropy, (np.zeros(0), np.zeros(0)), {}, (0,)
    yield ("softmax-index", module.softmax_cross_entropy,
           (np.zeros((0, 3)), np.zeros(0, np.int64)), {"ignore_index": -100}, (0,))
    yield ("softmax-probs", module.softmax_cross_entropy, (np.zeros((0, 3)), np.zeros((0, 3))),
           {"label_smoothing": 0.1}, (0,))


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
def test_empty_losses(implementation):
    """"none" gives an empty array, "sum" 0, "mean" nan (0 / 0); gradients are empty."""
    module = IMPLEMENTATIONS[implementation]
    for description, function, args, kwargs, loss_shape in _empty_loss_calls(module):
        _assert_empty(function(*args, **kwargs, reduction="none"), loss_shape, np.float64)
        total = function(*args, **kwargs, reduction="sum")
        assert total == 0.0 and isinstance(total, np.float64), description
        mean = function(*args, **kwargs, reduction="mean")
        assert np.isnan(mean) and isinstance(mean, np.float64), description
        if function is module.binary_cross_entropy:
            continue  # no gradient option
        for reduction in ("none", "sum", "mean"):
            _, grad = function(*args, **kwargs, reduction=reduction, return_grad=True)
            _assert_empty(grad, args[0].shape, np.float64)


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
def test_mean_with_all_weights_zero_is_nan(implementation):
    module = IMPLEMENTATIONS[implementation]
    loss, grad = module.binary_cross_entropy_with_logits(X, Y, weight=0.0, return_grad=True)
    assert np.isnan(loss)
    assert module.binary_cross_entropy(np.full((2, 3), 0.5), Y, weight=np.zeros(3),
                                       reduction="sum") == 0.0
    # every sample ignored: the loss is 0 / 0, but ignored rows keep exactly 0 gradient
    loss, grad = module.softmax_cross_entropy(X, np.array([-1, -1]), ignore_index=-1,
                                              return_grad=True)
    assert np.isnan(loss)
    assert np.all(grad == 0.0)
    loss = module.softmax_cross_entropy(X, INDEX, class_weight=np.zeros(3), reduction="sum")
    assert loss == 0.0


def _large_call(name, bad, position):
    """A call of ``name`` on 300,000 values, one of which (at ``position``) is ``bad``."""
    rng = np.random.default_rng(5)
    if name == "binary_cross_entropy_with_logits":
        y = (rng.random(300_000) < 0.5).astype(float)
        y[position] = bad
        return (rng.normal(size=300_000), y), "targets"
    p = rng.random((30_000, 10))
    p /= p.sum(axis=1, keepdims=True)
    q = p[::-1].copy()
    target = q if name == "kl_divergence" else p   # p for two of them, q for the third
    target.reshape(-1)[position] = bad
    return ((p,) if name == "entropy" else (p, q)), ("q" if name == "kl_divergence" else "p")


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("bad", [1.0 + 2**-52, -5e-324, np.nan])
@pytest.mark.parametrize("position", [0, 123_456, 299_999])
@pytest.mark.parametrize("name", ["binary_cross_entropy_with_logits", "entropy",
                                  "cross_entropy", "kl_divergence"])
def test_kernels_check_every_value(name, threads, bad, position):
    # These kernels check their inputs' range in their own pass, block by block,
    # on every thread: one bad value anywhere in a large input is found.  (nan is
    # allowed as a probability, not as a binary target.)
    args, what = _large_call(name, bad, position)
    before = xentfast.get_num_threads()
    xentfast.set_num_threads(threads)
    try:
        if bad != bad and name != "binary_cross_entropy_with_logits":
            assert np.isnan(getattr(xentfast, name)(*args)).any()
            return
        extra = [{"return_grad": False}, {"return_grad": True}] if what == "targets" else [{}]
        for kwargs in extra:
            with pytest.raises(ValueError, match=rf"{what} must lie in \[0, 1\]"):
                getattr(xentfast, name)(*args, **kwargs)
    finally:
        xentfast.set_num_threads(before)


def test_plain_bce_kernel_refuses_arrays_it_cannot_read():
    # The kernel behind the short path reads and writes through raw pointers:
    # anything but C-contiguous, aligned, native float arrays of one size is refused.
    from xentfast._kernels import _losses
    kernel = _losses.binary_cross_entropy_with_logits_plain
    z = np.zeros(8)
    bad_calls = [
        (z, np.zeros(7), None),                          # another size
        (z, np.zeros(8, np.float32), None),              # another dtype
        (z, np.zeros(16)[::2], None),                    # not contiguous
        (z, np.zeros(8, ">f8"), None),                   # byte-swapped
        (z.astype(np.int64), np.zeros(8, np.int64), None),  # not float
        (z, np.zeros(8), np.zeros(4)),                   # gradient of another size
        (z, np.zeros(8), read_only(np.zeros(8))),        # gradient not writeable
    ]
    for logits, targets, grad in bad_calls:
        with pytest.raises(ValueError, match="must be C-contiguous float32 or float64"):
            kernel(logits, targets, grad, 8.0, 1)


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("bad", [-1, 10, 2**40, -7])
@pytest.mark.parametrize("position", [0, 12_345, 29_999])
def test_softmax_kernel_checks_every_class_index(threads, bad, position):
    # The softmax kernel checks each class index before it uses it, on every
    # thread; the error names the first bad one.  (-7 is the ignore_index below.)
    rng = np.random.default_rng(6)
    logits = rng.normal(size=(30_000, 10))
    targets = rng.integers(0, 10, 30_000)
    targets[position] = bad
    before = xentfast.get_num_threads()
    xentfast.set_num_threads(threads)
    try:
        for kwargs in ({}, {"return_grad": True}, {"reduction": "none"},
                       {"ignore_index": -7}, {"label_smoothing": 0.1}):
            if bad == -7 and "ignore_index" in kwargs:
                xentfast.softmax_cross_entropy(logits, targets, **kwargs)  # ignored: fine
                continue
            with pytest.raises(ValueError, match=rf"targets must be class indices in \[0, 10\)"
                                                 rf".*found {bad}"):
                xentfast.softmax_cross_entropy(logits, targets, **kwargs)
    finally:
        xentfast.set_num_threads(before)
