"""Losses with weights at the ends of the float range, against mpmath.

reduction="mean" divides by the total weight: a subnormal total (whose
reciprocal overflows) or one that overflows must still give the right mean and
gradient, in xentfast and in its reference.  Also pos_weight times a subnormal
target, where the order of the products decides whether digits survive.
"""
import mpmath
import numpy as np
import pytest

import xentfast
from xentfast import reference

mpmath.mp.prec = 200
IMPLEMENTATIONS = {"xentfast": xentfast, "reference": reference}
RTOL = 1e-14
TINY = float(np.finfo(np.float64).tiny)
EPS = float(np.finfo(np.float64).eps)


def mp(x):
    return mpmath.mpf(float(x))


def softplus(x):
    return mpmath.log1p(mpmath.exp(x))


def sigmoid(x):
    return 1 / (1 + mpmath.exp(-x))


def exact_bce_logits(z, y, weight, pos_weight, reduction):
    """(loss, gradient) of binary_cross_entropy_with_logits in mpmath."""
    z, y = np.asarray(z, float), np.asarray(y, float)
    w = np.broadcast_to(np.asarray(1.0 if weight is None else weight, float), z.shape)
    pw = np.broadcast_to(np.asarray(1.0 if pos_weight is None else pos_weight, float), z.shape)
    losses, grads = [], []
    for zi, yi, wi, pwi in zip(z, y, w, pw):
        zi, yi, wi, pwi = mp(zi), mp(yi), mp(wi), mp(pwi)
        losses.append(wi * (pwi * yi * softplus(-zi) + (1 - yi) * softplus(zi)))
        grads.append(wi * ((1 - yi) * sigmoid(zi) - pwi * yi * sigmoid(-zi)))
    divisor = sum(mp(v) for v in w) if reduction == "mean" else mpmath.mpf(1)
    return sum(losses) / divisor, [g / divisor for g in grads]


def exact_bce_probs(q, y, weight):
    """The "mean" binary_cross_entropy of probabilities in mpmath."""
    total = mpmath.mpf(0)
    for qi, yi, wi in zip(q, y, weight):
        qi, yi, wi = mp(qi), mp(yi), mp(wi)
        term = (yi * mpmath.log(qi) if yi else 0) + ((1 - yi) * mpmath.log1p(-qi) if yi != 1 else 0)
        total -= wi * term
    return total / sum(mp(w) for w in weight)


def exact_softmax(logits, targets, weight, class_weight, label_smoothing=0.0):
    """(loss, gradient, magnitude of the gradient's terms) of the "mean"
    softmax_cross_entropy in mpmath.  The gradient w (A p_j - a_j) / W cancels
    where A p_j is close to a_j: its error is relative to w (A p_j + a_j) / W."""
    logits = np.asarray(logits, float)
    n, k = logits.shape
    index = np.asarray(targets).dtype.kind in "iu"
    cw = [mp(c) for c in (np.ones(k) if class_weight is None else class_weight)]
    w = [mp(v) for v in (np.ones(n) if weight is None else np.broadcast_to(weight, n))]
    eps = mp(label_smoothing)
    total, divisor, grads, magnitudes = mpmath.mpf(0), mpmath.mpf(0), [], []
    for r in range(n):
        z = [mp(v) for v in logits[r]]
        top = max(z)
        log_norm = top + mpmath.log(sum(mpmath.exp(v - top) for v in z))
        t = ([mpmath.mpf(int(j == targets[r])) for j in range(k)] if index
             else [mp(v) for v in targets[r]])
        a = [c * ((1 - eps) * tj + eps / k) for c, tj in zip(cw, t)]
        total += w[r] * sum(aj * (log_norm - zj) for aj, zj in zip(a, z))
        divisor += w[r] * (cw[targets[r]] if index else 1)
        grads += [w[r] * (sum(a) * mpmath.exp(zj - log_norm) - aj) for aj, zj in zip(a, z)]
        magnitudes += [w[r] * (sum(a) * mpmath.exp(zj - log_norm) + aj) for aj, zj in zip(a, z)]
    return total / divisor, [g / divisor for g in grads], [m / divisor for m in magnitudes]


def assert_matches(actual, exact, what, magnitude=None):
    """|actual - exact| <= RTOL |exact| + 4 eps magnitude + the smallest normal number."""
    actual = np.asarray(actual, float).reshape(-1)
    exact = [mpmath.mpf(e) for e in np.asarray(exact, dtype=object).reshape(-1)]
    magnitude = [0] * len(exact) if magnitude is None else magnitude
    for i, (a, e, m) in enumerate(zip(actual, exact, magnitude, strict=True)):
        allowed = RTOL * abs(e) + 4 * EPS * m + TINY
        assert abs(mp(a) - e) <= allowed, f"{what}[{i}]: got {a!r}, exact {float(e)!r}"


BCE_LOGITS_CASES = {
    # the cases: a subnormal total weight
    "weight-1e-310": ([7.0], [1.0], 1e-310, None),
    "weight-1.5e-323": ([7.0], [1.0], 1.5e-323, None),
    "weight-smallest-subnormal": ([-3.0, 2.0], [0.25, 1.0], 5e-324, None),
    "subnormal-weights-pos_weight": ([0.5, -40.0, 3.0], [1.0, 0.5, 0.0], [1e-320, 3e-321, 2e-310],
                                     [0.5, 2.0, 1.0]),
    # totals that overflow
    "weight-1e308-twice": ([1.0, 2.0], [1.0, 0.0], [1e308, 1e308], None),
    "weight-max-and-small": ([1.0, -2.0, 30.0], [1.0, 0.0, 0.5], [1.7e308, 1.7e308, 1e-300],
                             None),
    "scalar-weight-1e308": (np.linspace(-3, 3, 7), np.linspace(0, 1, 7), 1e308, None),
}


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
@pytest.mark.parametrize("case", BCE_LOGITS_CASES)
def test_bce_with_logits_mean_of_extreme_weights(implementation, case):
    z, y, weight, pos_weight = BCE_LOGITS_CASES[case]
    loss, grad = IMPLEMENTATIONS[implementation].binary_cross_entropy_with_logits(
        np.array(z), np.array(y), weight=weight, pos_weight=pos_weight, return_grad=True)
    exact_loss, exact_grad = exact_bce_logits(z, y, weight, pos_weight, "mean")
    assert_matches(loss, exact_loss, "loss")
    assert_matches(grad, exact_grad, "grad")


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
@pytest.mark.parametrize("weight", [[1e308, 1e308, 5e307], [1e-320, 3e-320, 0.0],
                                    [5e-324, 5e-324, 5e-324]])
def test_bce_of_probabilities_mean_of_extreme_weights(implementation, weight):
    q, y = np.array([0.5, 0.2, 0.9]), np.array([1.0, 0.0, 0.25])
    loss = IMPLEMENTATIONS[implementation].binary_cross_entropy(q, y, weight=np.array(weight))
    assert_matches(loss, exact_bce_probs(q, y, weight), "loss")


SOFTMAX_CASES = {
    "weight-1e-310": ([[7.0, 0.0]], [0], [1e-310], None),
    "weight-1.5e-323": ([[7.0, 0.0]], [0], [1.5e-323], None),
    "class_weight-subnormal": ([[7.0, 0.0, 1.0], [1.0, 2.0, 3.0]], [1, 2], None,
                               [1.0, 1e-320, 3e-321]),
    "probability-targets-weight-1e-310": ([[1.0, -1.0], [0.0, 2.0]], [[0.25, 0.75], [1.0, 0.0]],
                                          [1e-310, 3e-310], None),
    "weight-1e308-twice": ([[7.0, 0.0], [1.0, 2.0]], [0, 1], [1e308, 1e308], None),
    "class_weight-1e308": ([[7.0, 0.0], [1.0, 2.0], [0.0, 0.0]], [0, 1, 1], None, [1e308, 1.5e308]),
    # class weights times losses above the float range, unless scaled first
    "class_weight-1e308-losses-above-1": ([[0.0, 5.0], [5.0, 0.0], [0.0, 30.0]], [0, 0, 1], None,
                                          [1.5e308, 1e308]),
    "weight-times-class_weight-overflows": ([[7.0, 0.0], [1.0, 2.0]], [0, 1], [1e308, 1.0],
                                            [1e308, 1.0]),
    "probability-targets-1e308": ([[1.0, -1.0], [0.0, 2.0]], [[0.25, 0.75], [1.0, 0.0]],
                                  [1e308, 1.7e308], None),
    # Used class weights further apart than the float range: scaled so that the
    # largest lies in [0.5, 1), the smallest is 0, and its sample, whose weight
    # times class weight (1) carries the mean, was dropped without a sign (0.313
    # for 1.313); one-hot losses take w class_weight[target] as one exact factor.
    "class_weights-beyond-the-range": ([[0.0, 1.0], [0.0, 1.0]], [0, 1], [1e300, 1e-300],
                                       [1e-300, 1e100]),
    "class_weights-beyond-the-range-three": ([[0.0, 1.0, 2.0], [3.0, 1.0, 0.0], [1.0, 1.0, 1.0]],
                                             [0, 1, 2], [1e300, 1e-300, 2.0],
                                             [1e-300, 1e100, 1e-5]),
    "a-product-underflows": ([[0.0, 1.0], [2.0, 0.0]], [0, 1], [1e-200, 1.0],
                             [1e-200, 1.0]),
}


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
@pytest.mark.parametrize("case", SOFTMAX_CASES)
def test_softmax_mean_of_extreme_weights(implementation, case):
    logits, targets, weight, class_weight = SOFTMAX_CASES[case]
    targets = np.array(targets)
    loss, grad = IMPLEMENTATIONS[implementation].softmax_cross_entropy(
        np.array(logits), targets, weight=weight, class_weight=class_weight, return_grad=True)
    exact_loss, exact_grad, magnitude = exact_softmax(logits, targets, weight, class_weight)
    assert_matches(loss, exact_loss, "loss")
    assert_matches(grad, exact_grad, "grad", magnitude)


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
@pytest.mark.parametrize("target", [5e-324, 1e-323, 1.5e-323, 1e-320])
@pytest.mark.parametrize("pos_weight", [0.7, 1.3])
@pytest.mark.parametrize("reduction", ["none", "mean"])
def test_pos_weight_times_subnormal_target(implementation, target, pos_weight, reduction):
    # pw y log σ(z): pw y rounded first is subnormal and loses digits (the reference
    # gave 4.48e-24 for 6.3205e-24); pw (y log σ(z)) keeps them.
    z, y = np.array([-1.16e300, 2.0]), np.array([target, 1.0])
    loss, grad = IMPLEMENTATIONS[implementation].binary_cross_entropy_with_logits(
        z, y, pos_weight=pos_weight, weight=3.0, reduction=reduction, return_grad=True)
    exact_loss, exact_grad = exact_bce_logits(z, y, 3.0, pos_weight, reduction)
    if reduction == "none":
        exact_loss = [3 * (mp(pos_weight) * mp(yi) * softplus(-mp(zi))
                           + (1 - mp(yi)) * softplus(mp(zi))) for zi, yi in zip(z, y)]
    assert_matches(loss, exact_loss, "loss")
    assert_matches(grad, exact_grad, "grad")


# A subnormal class weight on the target and label smoothing: the mean divides by
# weight x class_weight[target] (2e-310), the power of two that brings it into
# [0.5, 1) is more than the sample weight can carry, and label smoothing puts
# weight on the other class (class weight 1).  Both twins gave inf (or nan) for a
# finite mean of 3.5e304.
SMOOTHED_CASES = {
    "subnormal-target-class_weight": ([[0.0, 0.0]], [1], [2.0], [1.0, 1e-310], 1e-5),
    "weight-3": ([[0.0, 0.0]], [1], [3.0], [1.0, 1e-310], 1e-5),
    "logits-differ": ([[1.5, -2.0, 0.25]], [2], [5.0], [1.0, 0.5, 1e-310], 1e-5),
    # a normal total, but weight x scale overflows
    "weight-1e10": ([[0.0, 0.0]], [1], [1e10], [1.0, 1e-310], 1e-5),
    "two-samples": ([[0.0, 1.0], [2.0, -1.0]], [1, 1], [2.0, 7.0], [1.0, 3e-310], 1e-4),
    "no-sample-weight": ([[0.0, 1.0], [1.0, 0.0]], [1, 1], None, [4.0, 3e-310], 1e-6),
    # a class weight no target uses, times the class weights' scale, overflowed: 0 * inf
    "unused-class_weight-1e308": ([[0.0, 1.0]], [1], [2.0], [1e308, 1e-310], 0.0),
    # the scaled total w class_weight[target] 2^-34 underflowed to 0 (a class weight
    # 1e10 sets the class scale): the mean's scale came from that 0, and both twins
    # gave inf for 2.2e9 (a block of the Dask mean found it)
    "scaled-total-underflows": ([[0.5, -1.0, 2.0], [1.0, 0.0, -0.5]], [0, 1], [1e-320, 2e-320],
                                [1e-300, 1.0, 1e10], 0.1),
    "scaled-total-underflows-one-sample": ([[1.0, 0.0, -0.5]], [1], [2e-320],
                                           [1.0, 1.0, 1e10], 0.1),
}


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
@pytest.mark.parametrize("case", SMOOTHED_CASES)
def test_softmax_mean_with_a_subnormal_target_class_weight_and_smoothing(implementation, case):
    logits, targets, weight, class_weight, eps = SMOOTHED_CASES[case]
    loss, grad = IMPLEMENTATIONS[implementation].softmax_cross_entropy(
        np.array(logits), np.array(targets), weight=weight, class_weight=np.array(class_weight),
        label_smoothing=eps, return_grad=True)
    exact_loss, exact_grad, magnitude = exact_softmax(logits, targets, weight, class_weight, eps)
    assert_matches(loss, exact_loss, "loss")
    assert_matches(grad, exact_grad, "grad", magnitude)


def test_softmax_mean_of_the_smoothed_case_by_hand():
    # exact_softmax checked by hand: both logits 0, so -log_softmax = log 2 for each class
    logits, target, weight, class_weight, eps = [[0.0, 0.0]], 1, 2.0, [1.0, 1e-310], 1e-5
    smoothed = [mp(eps) / 2 + (1 - mp(eps) if j == target else 0) for j in range(2)]
    total = mp(weight) * sum(mp(c) * t * mpmath.log(2) for c, t in zip(class_weight, smoothed))
    exact = total / (mp(weight) * mp(class_weight[target]))
    assert mpmath.almosteq(exact_softmax(logits, [target], [weight], class_weight, eps)[0],
                           exact, rel_eps=mpmath.mpf(2) ** -150)
    assert 3.46e304 < exact < 3.47e304


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
def test_softmax_mean_that_overflows_is_inf(implementation):
    # smoothing 0.1: the exact mean, 3.5e308, lies above the float range
    logits, weight, class_weight, eps = [[0.0, 0.0]], [2.0], [1.0, 1e-310], 0.1
    exact_loss, exact_grad, _ = exact_softmax(logits, [1], weight, class_weight, eps)
    assert exact_loss > np.finfo(np.float64).max
    assert all(abs(g) > np.finfo(np.float64).max for g in exact_grad)
    loss, grad = IMPLEMENTATIONS[implementation].softmax_cross_entropy(
        np.array(logits), np.array([1]), weight=np.array(weight),
        class_weight=np.array(class_weight), label_smoothing=eps, return_grad=True)
    assert loss == np.inf
    assert np.array_equal(grad, [[-np.inf, np.inf]])


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
def test_softmax_mean_of_a_tiny_float32_target_class_weight(implementation):
    # float32: the same shape of input, with a float32 subnormal class weight (the
    # sums are formed in float64, where it is normal); the mean, 3.5e34, fits float32
    logits = np.zeros((1, 2), np.float32)
    weight, class_weight = np.array([2.0], np.float32), np.array([1.0, 1e-40], np.float32)
    loss, grad = IMPLEMENTATIONS[implementation].softmax_cross_entropy(
        logits, np.array([1]), weight=weight, class_weight=class_weight, label_smoothing=1e-5,
        return_grad=True)
    exact_loss, exact_grad, _ = exact_softmax(logits, [1], weight, class_weight, 1e-5)
    assert loss.dtype == grad.dtype == np.float32
    np.testing.assert_allclose(loss, float(exact_loss), rtol=1e-6)
    np.testing.assert_allclose(grad.reshape(-1), [float(g) for g in exact_grad], rtol=1e-6)


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
def test_softmax_mean_of_probability_targets_with_subnormal_weights_and_smoothing(
        implementation):
    # probability targets divide by Σ weight, which the sample weights carry alone
    logits, targets = [[1.0, -1.0], [0.0, 2.0]], [[0.25, 0.75], [1.0, 0.0]]
    weight, class_weight, eps = [1e-310, 3e-310], [1.0, 1e-310], 1e-5
    loss, grad = IMPLEMENTATIONS[implementation].softmax_cross_entropy(
        np.array(logits), np.array(targets), weight=np.array(weight),
        class_weight=np.array(class_weight), label_smoothing=eps, return_grad=True)
    exact_loss, exact_grad, magnitude = exact_softmax(logits, np.array(targets), weight,
                                                      class_weight, eps)
    assert_matches(loss, exact_loss, "loss")
    assert_matches(grad, exact_grad, "grad", magnitude)
