"""Gradients returned by the losses (return_grad=True).

Each gradient is checked against 4th-order central differences of the same
implementation's loss, in float64,

    f'(x) ≈ (-f(x + 2h) + 8 f(x + h) - 8 f(x - h) + f(x - 2h)) / 12h,

and xentfast's against the reference's.  With reduction="none" the loss
differentiated is the sum of the per-element (per-sample) losses: each
element's gradient is that of its own loss, and no loss depends on another
element's logits.  Extreme logits (±40, ±800 — scikit-learn issue 28046 —,
±1e4, ±inf) must give finite gradients equal to the limits.
"""
import math

import numpy as np
import pytest

import xentfast
from xentfast import reference
from util import (assert_close, assert_same_type, binary_loss_tolerances, class_indices_like,
                  soft_targets_like, softmax_loss_tolerances, targets_like, weights_like)

REDUCTIONS = ("none", "sum", "mean")
IMPLEMENTATIONS = {"xentfast": xentfast, "reference": reference}

# A power of 2, so that z ± h is exact for the moderate z used with differences;
# truncation error ~ h^4 f^(5) / 30 ≈ 1e-13, rounding error ~ 1.5 eps |f| / h ≈ 3e-13 |f|.
H = 2.0**-10
FD_RTOL = 1e-7


def finite_difference_gradient(loss, z):
    """The gradient of the scalar function ``loss`` at ``z``, entry by entry."""
    grad = np.empty_like(z)
    for i in np.ndindex(z.shape):
        def at(step):
            shifted = z.copy()
            shifted[i] += step
            return loss(shifted)
        grad[i] = (-at(2 * H) + 8 * at(H) - 8 * at(-H) + at(-2 * H)) / (12 * H)
    return grad


def scalar_loss(loss):
    """The quantity whose gradient is returned: the loss, or the sum of per-element losses."""
    return float(np.sum(loss))


def check_against_finite_differences(function, z, args, kwargs):
    """return_grad=True agrees with differences of the same function's loss."""
    def loss_at(shifted):
        return scalar_loss(function(shifted, *args, **kwargs))

    loss, grad = function(z, *args, **kwargs, return_grad=True)
    assert np.shape(grad) == z.shape and np.asarray(grad).dtype == z.dtype
    assert np.all(np.isfinite(grad)), f"non-finite gradient: {grad}"
    expected = finite_difference_gradient(loss_at, z)
    # the differences' rounding error grows with the loss value
    atol = 1e-9 * (1.0 + abs(scalar_loss(loss)))
    assert_close(grad, expected, FD_RTOL, atol, what="gradient vs finite differences")
    return loss, grad


# ---------------------------------------------------------------------------
# binary_cross_entropy_with_logits

SHAPE = (3, 4)
BCE_OPTIONS = {
    "plain": {},
    "weight": {"weight": weights_like(SHAPE, 50)},
    "scalar-weight": {"weight": 0.5},
    "pos_weight": {"pos_weight": weights_like(SHAPE[-1:], 51)},
    "weight-and-pos_weight": {"weight": weights_like(SHAPE, 52),
                              "pos_weight": weights_like(SHAPE[-1:], 53, zeros=0.0) + 0.5},
}


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("option", BCE_OPTIONS)
def test_bce_with_logits_gradient(option, reduction, implementation):
    z = np.random.default_rng(54).normal(0, 3, SHAPE)
    targets = targets_like(SHAPE, 55)
    kwargs = dict(BCE_OPTIONS[option], reduction=reduction)
    function = IMPLEMENTATIONS[implementation].binary_cross_entropy_with_logits
    check_against_finite_differences(function, z, (targets,), kwargs)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("option", BCE_OPTIONS)
def test_bce_with_logits_gradient_matches_reference(option, reduction, dtype):
    z = np.random.default_rng(56).normal(0, 5, SHAPE).astype(dtype)
    targets = targets_like(SHAPE, 57)
    kwargs = dict(BCE_OPTIONS[option], reduction=reduction)
    loss, grad = xentfast.binary_cross_entropy_with_logits(z, targets, **kwargs, return_grad=True)
    expected_loss, expected_grad = reference.binary_cross_entropy_with_logits(
        z, targets, **kwargs, return_grad=True)
    (loss_rtol, loss_atol), (grad_rtol, grad_atol) = binary_loss_tolerances(
        "logits", z, targets, **kwargs)
    assert_same_type(grad, expected_grad)
    assert_close(loss, expected_loss, loss_rtol, loss_atol, what="loss")
    assert_close(grad, expected_grad, grad_rtol, grad_atol, what="gradient")


def _log_sigmoid(z):
    """log σ(z) for one float, on the side where exp cannot overflow."""
    if z >= 0:
        return -math.log1p(math.exp(-z))
    return z - math.log1p(math.exp(z))


def _sigmoid(z):
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


EXTREME_LOGITS = [-1e4, -800.0, -40.0, 40.0, 800.0, 1e4]


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
@pytest.mark.parametrize("y", [0.0, 0.3, 1.0])
def test_bce_with_logits_at_extreme_logits(y, implementation):
    """Finite, exact gradients far out on both sides (at z = -800 scikit-learn got nan)."""
    function = IMPLEMENTATIONS[implementation].binary_cross_entropy_with_logits
    z = np.array(EXTREME_LOGITS)
    w, pw = 1.5, 2.0
    loss, grad = function(z, np.full(z.shape, y), weight=w, pos_weight=pw, reduction="none",
                          return_grad=True)
    expected_loss = [-w * (pw * y * _log_sigmoid(v) + (1 - y) * _log_sigmoid(-v)) for v in z]
    expected_grad = [w * ((1 - y) * _sigmoid(v) - pw * y * _sigmoid(-v)) for v in z]
    assert_close(loss, expected_loss, 1e-14, 1e-300, what="loss")
    assert_close(grad, expected_grad, 1e-14, 1e-300, what="gradient")
    # and the differences agree too (the loss is nearly linear out there)
    check_against_finite_differences(function, z, (np.full(z.shape, y),),
                                     {"weight": w, "pos_weight": pw, "reduction": "sum"})


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
def test_bce_with_logits_at_infinite_logits(implementation):
    """The limits: the loss is 0 or +inf, the gradient is finite (nan only for nan)."""
    function = IMPLEMENTATIONS[implementation].binary_cross_entropy_with_logits
    w, pw = 2.0, 3.0
    table = [  # z, y, loss, gradient = w ((1 - y) σ(z) - pw y σ(-z))
        (np.inf, 1.0, 0.0, 0.0),
        (np.inf, 0.0, np.inf, w),
        (np.inf, 0.5, np.inf, 0.5 * w),
        (-np.inf, 0.0, 0.0, 0.0),
        (-np.inf, 1.0, np.inf, -w * pw),
        (-np.inf, 0.25, np.inf, -0.25 * w * pw),
        (np.nan, 0.5, np.nan, np.nan),
    ]
    z, y, expected_loss, expected_grad = (np.array(column) for column in zip(*table))
    loss, grad = function(z, y, weight=w, pos_weight=pw, reduction="none", return_grad=True)
    assert_close(loss, expected_loss, 0.0, what="loss")
    assert_close(grad, expected_grad, 0.0, what="gradient")
    for reduction in ("sum", "mean"):
        loss, grad = function(z[:-1], y[:-1], weight=w, pos_weight=pw, reduction=reduction,
                              return_grad=True)
        assert loss == np.inf
        scale = 1.0 if reduction == "sum" else 1.0 / (w * (len(z) - 1))
        assert_close(grad, expected_grad[:-1] * scale, 1e-15, what=f"{reduction} gradient")


# ---------------------------------------------------------------------------
# softmax_cross_entropy

BATCH, K = 4, 5


def _softmax_options():
    index = class_indices_like((BATCH,), K, 60)
    with_ignored = index.copy()
    with_ignored[[1, 3]] = -100
    probs = soft_targets_like((BATCH, K), 61)
    weight, class_weight = weights_like((BATCH,), 62, zeros=0.0), weights_like((K,), 63)
    return {
        "index": (index, {}),
        "index-weighted-smoothed": (index, {"weight": weight, "class_weight": class_weight,
                                            "label_smoothing": 0.2}),
        "index-ignore_index": (with_ignored, {"ignore_index": -100, "weight": weight}),
        "index-ignore-in-range": (index, {"ignore_index": int(index[0]),
                                          "class_weight": class_weight}),
        "probs": (probs, {}),
        "probs-weighted-smoothed": (probs, {"weight": weight, "class_weight": class_weight,
                                            "label_smoothing": 0.1}),
    }


SOFTMAX_OPTIONS = _softmax_options()


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("option", SOFTMAX_OPTIONS)
def test_softmax_cross_entropy_gradient(option, reduction, implementation):
    z = np.random.default_rng(64).normal(0, 3, (BATCH, K))
    targets, kwargs = SOFTMAX_OPTIONS[option]
    kwargs = dict(kwargs, reduction=reduction)
    function = IMPLEMENTATIONS[implementation].softmax_cross_entropy
    _, grad = check_against_finite_differences(function, z, (targets,), kwargs)
    ignore_index = kwargs.get("ignore_index")
    if ignore_index is not None:
        ignored = targets == ignore_index
        assert ignored.any()
        assert np.all(grad[ignored] == 0.0), "ignored samples must have exactly 0 gradient"


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("option", SOFTMAX_OPTIONS)
def test_softmax_cross_entropy_gradient_matches_reference(option, reduction, dtype):
    z = np.random.default_rng(65).normal(0, 5, (BATCH, K)).astype(dtype)
    targets, kwargs = SOFTMAX_OPTIONS[option]
    kwargs = dict(kwargs, reduction=reduction)
    loss, grad = xentfast.softmax_cross_entropy(z, targets, **kwargs, return_grad=True)
    expected_loss, expected_grad = reference.softmax_cross_entropy(z, targets, **kwargs,
                                                                   return_grad=True)
    (loss_rtol, loss_atol), (grad_rtol, grad_atol) = softmax_loss_tolerances(
        z, targets, **kwargs)
    assert_same_type(grad, expected_grad)
    assert_close(loss, expected_loss, loss_rtol, loss_atol, what="loss")
    assert_close(grad, expected_grad, grad_rtol, grad_atol, what="gradient")


EXTREME_ROWS = np.array([
    [1e4, -1e4, 0.0, 1e4 - 1.0],
    [800.0, -800.0, 0.0, 799.0],
    [-800.0, -1e4, 800.0, -40.0],
    [-1e4, -1e4, -1e4 + 2.0, -1e4 - 700.0],
])


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
@pytest.mark.parametrize("target", range(EXTREME_ROWS.shape[1]))
def test_softmax_cross_entropy_at_extreme_logits(target, implementation):
    function = IMPLEMENTATIONS[implementation].softmax_cross_entropy
    targets = np.full(len(EXTREME_ROWS), target)
    for kwargs in ({}, {"label_smoothing": 0.1, "weight": [1.0, 2.0, 0.5, 3.0]}):
        check_against_finite_differences(function, EXTREME_ROWS, (targets,),
                                         dict(kwargs, reduction="sum"))


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
def test_softmax_cross_entropy_at_infinite_logits(implementation):
    """One +inf logit: softmax is one-hot there.  The loss is 0 if all the target's
    weight is on that class, else +inf; the gradient w (A p - a) stays finite."""
    function = IMPLEMENTATIONS[implementation].softmax_cross_entropy
    inf = np.inf
    logits = np.array([
        [inf, 0.0, 1.0, -inf],
        [inf, 0.0, 1.0, -inf],
        [inf, 0.0, 1.0, -inf],
        [-inf, 0.0, 1.0, 2.0],
    ])
    targets = np.array([0, 1, 3, 1])
    loss, grad = function(logits, targets, reduction="none", return_grad=True)
    # the last row: -log_softmax([-inf, 0, 1, 2])[1] = log(1 + e + e^2)
    assert_close(loss, [0.0, inf, inf, math.log(1 + math.e + math.e**2)], 1e-14, what="loss")
    p_last = np.exp([0.0, 1.0, 2.0]) / np.exp([0.0, 1.0, 2.0]).sum()
    expected_grad = np.array([
        [0.0, 0.0, 0.0, 0.0],
        [1.0, -1.0, 0.0, 0.0],
        [1.0, 0.0, 0.0, -1.0],
        [0.0, p_last[0] - 1.0, p_last[1], p_last[2]],
    ])
    assert_close(grad, expected_grad, 1e-14, 1e-300, what="gradient")
    # no limit: two +inf, all -inf, nan
    loss, grad = function(np.array([[inf, inf, 0.0], [-inf, -inf, -inf], [np.nan, 0.0, 1.0]]),
                          np.array([0, 1, 2]), reduction="none", return_grad=True)
    assert np.all(np.isnan(loss)) and np.all(np.isnan(grad))
