"""The pure-NumPy twin of every public function: same signatures, same results.

This module is the oracle of the tests and the baseline of the benchmarks, so
it is written for clarity, not speed.  Each function checks its arguments with
the same ``_checks`` helpers as the compiled API (so both accept and reject the
same inputs), then computes in float64 with the numerically stable forms and
casts the result to the working dtype (float32 stays float32).  Conventions:

- A term whose coefficient is 0 counts 0 (0 log 0 = 0, 0 log_sigmoid(-inf) = 0);
  a weight multiplies the whole per-element or per-sample loss afterwards.
- nan propagates; ±inf give the mathematical limits where they exist.
- 0-d results are NumPy scalars, as ufuncs return; with ``out=`` the result is
  written into ``out`` and ``out`` is returned.
"""
import numpy as np

from xentfast import _checks

__all__ = [
    "sigmoid", "log_sigmoid", "softplus", "logsumexp", "softmax", "log_softmax",
    "entropy", "binary_entropy", "cross_entropy", "kl_divergence",
    "binary_cross_entropy", "binary_cross_entropy_with_logits", "softmax_cross_entropy",
]


# ---------------------------------------------------------------------------
# Helpers: float64 math on float64 arrays, and the return convention.

def _f64(arr):
    return np.asarray(arr, dtype=np.float64)


def _result(values, dtype, out=None):
    """``values`` cast to the working ``dtype``; written into ``out`` when given.

    A 0-d result becomes a NumPy scalar (``arr[()]``), as ufuncs return.
    """
    with np.errstate(over="ignore"):  # float64 beyond the float32 range rounds to inf
        values = np.asarray(values).astype(dtype)
    if out is not None:
        out[...] = values
        return out
    return values[()]


def _sigmoid64(x):
    # Evaluate on the side where e^-|x| <= 1, so exp never overflows.
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _log_sigmoid64(x):
    # log σ(x) = min(x, 0) - log(1 + e^-|x|): no overflow, no cancellation.
    return np.minimum(x, 0.0) - np.log1p(np.exp(-np.abs(x)))


def _softplus64(x):
    # log(1 + e^x) = max(x, 0) + log(1 + e^-|x|)
    return np.maximum(x, 0.0) + np.log1p(np.exp(-np.abs(x)))


def _times_log(coefficient, log_value):
    """coefficient * log_value, exactly 0 where the coefficient is 0 (even if log is ±inf/nan)."""
    return np.where(coefficient == 0, 0.0, coefficient * log_value)


def _axis_last(arr, axis):
    """``arr`` with the (already normalised) ``axis`` moved last; None flattens, 0-d -> (1,)."""
    if axis is None:
        return arr.reshape(-1)
    if arr.ndim == 0:
        return arr.reshape(1)
    return np.moveaxis(arr, axis, -1)


def _axis_back(values, shape, axis):
    """Undo ``_axis_last`` for a result with the axis kept."""
    if axis is None or len(shape) == 0:
        return values.reshape(shape)
    return np.moveaxis(values, -1, axis)


def _row_normalizer(z):
    """For float64 rows ``z`` (last axis, length >= 1): the max m and s = Σ_{j≠argmax} e^(z_j - m).

    Leaving one maximal entry out of the sum and adding it back with log1p is more
    accurate than log of the full sum (Blanchard, Higham & Higham 2021).  Rows with
    nan or infinite max get meaningless m and s; the callers overwrite them.
    """
    m = np.max(z, axis=-1, keepdims=True)
    shifted_exp = np.exp(z - m)
    np.put_along_axis(shifted_exp, np.argmax(z, axis=-1)[..., None], 0.0, axis=-1)
    return m, shifted_exp.sum(axis=-1, keepdims=True)


def _row_kinds(z):
    """Masks (keepdims) of the rows without a finite normaliser."""
    n_pos_inf = np.count_nonzero(z == np.inf, axis=-1, keepdims=True)
    no_limit = (np.isnan(z).any(axis=-1, keepdims=True) | (n_pos_inf >= 2)
                | (z == -np.inf).all(axis=-1, keepdims=True))
    one_pos_inf = (n_pos_inf == 1) & ~no_limit
    return no_limit, one_pos_inf


def _softmax_and_log_softmax(z):
    """softmax and log_softmax of float64 rows ``z`` (last axis, length >= 1)."""
    m, s = _row_normalizer(z)
    p = np.exp(z - m) / (1.0 + s)
    log_p = (z - m) - np.log1p(s)
    no_limit, one_pos_inf = _row_kinds(z)
    # exactly one +inf: the limit is one-hot at it
    p = np.where(one_pos_inf, np.where(z == np.inf, 1.0, 0.0), p)
    log_p = np.where(one_pos_inf, np.where(z == np.inf, 0.0, -np.inf), log_p)
    p = np.where(no_limit, np.nan, p)
    log_p = np.where(no_limit, np.nan, log_p)
    return p, log_p


def _reduce(losses, reduction, denominator):
    """Apply ``reduction`` to float64 per-element losses; ``denominator`` for "mean"."""
    if reduction == "none":
        return losses
    total = losses.sum()
    if reduction == "sum":
        return total
    return total / denominator  # 0 / 0 -> nan for empty input or all-zero weights


# ---------------------------------------------------------------------------
# Elementwise maps.

def sigmoid(x, out=None):
    """σ(x) = 1 / (1 + e^-x), elementwise."""
    x = _checks.prepare_elementwise(x, out)
    with np.errstate(all="ignore"):
        return _result(_sigmoid64(_f64(x)), x.dtype, out)


def log_sigmoid(x, out=None):
    """log σ(x) = min(x, 0) - log1p(e^-|x|), elementwise."""
    x = _checks.prepare_elementwise(x, out)
    with np.errstate(all="ignore"):
        return _result(_log_sigmoid64(_f64(x)), x.dtype, out)


def softplus(x, out=None):
    """log(1 + e^x) = max(x, 0) + log1p(e^-|x|), elementwise."""
    x = _checks.prepare_elementwise(x, out)
    with np.errstate(all="ignore"):
        return _result(_softplus64(_f64(x)), x.dtype, out)


# ---------------------------------------------------------------------------
# Along an axis.

def logsumexp(x, axis=-1):
    """log Σ e^x along ``axis``: nan if the slice has nan, else +inf if it has +inf,
    -inf if it is empty or all -inf, else m + log1p(Σ_{j≠argmax} e^(x_j - m))."""
    x = _checks.prepare_elementwise(x, None)
    axis = _checks.normalize_axis(axis, x.ndim)
    z = _f64(_axis_last(x, axis))
    if z.size == 0:  # an empty slice, or no slices at all
        return _result(np.full(z.shape[:-1], -np.inf), x.dtype)
    with np.errstate(all="ignore"):
        m, s = _row_normalizer(z)
        m, s = m[..., 0], s[..., 0]
        has_nan = np.isnan(z).any(axis=-1)
        values = np.select([has_nan, m == np.inf, m == -np.inf],
                           [np.nan, np.inf, -np.inf], default=m + np.log1p(s))
    return _result(values, x.dtype)


def _normalise(x, axis, out, take_log):
    x = _checks.prepare_elementwise(x, out)
    axis = _checks.normalize_axis(axis, x.ndim)
    z = _f64(_axis_last(x, axis))
    if z.size == 0:
        return _result(np.empty(x.shape), x.dtype, out)
    with np.errstate(all="ignore"):
        p, log_p = _softmax_and_log_softmax(z)
    values = log_p if take_log else p
    return _result(_axis_back(values, x.shape, axis), x.dtype, out)


def softmax(x, axis=-1, out=None):
    """e^x / Σ e^x along ``axis``; a slice with exactly one +inf is one-hot there,
    a slice with nan, two or more +inf, or only -inf is all nan."""
    return _normalise(x, axis, out, take_log=False)


def log_softmax(x, axis=-1, out=None):
    """x - logsumexp(x) along ``axis``, with the limits of ``softmax``
    (one +inf: 0 there, -inf elsewhere)."""
    return _normalise(x, axis, out, take_log=True)


# ---------------------------------------------------------------------------
# Information measures.  No renormalisation: the formulas as written.

def _sum_along(terms, axis, log_base):
    """Σ terms (float64) along the normalised ``axis``, in units of ``log_base``."""
    total = _axis_last(terms, axis).sum(axis=-1)  # an empty slice sums to 0
    return total if log_base is None else total / log_base


def entropy(p, axis=-1, base=None):
    """H(p) = -Σ p log p along ``axis``, with 0 log 0 = 0."""
    # base and axis are checked before the values, as the compiled API does
    p = _checks.prepare_probabilities(p, "p", check_values=False)
    log_base = _checks.log_of_base(base)
    axis = _checks.normalize_axis(axis, p.ndim)
    _checks.prepare_probabilities(p, "p")
    p64 = _f64(p)
    with np.errstate(all="ignore"):
        terms = -_times_log(p64, np.log(p64))
    return _result(_sum_along(terms, axis, log_base), p.dtype)


def binary_entropy(p, base=None):
    """-(p log p + (1 - p) log(1 - p)) elementwise, with 0 log 0 = 0."""
    p = _checks.prepare_probabilities(p, "p")
    log_base = _checks.log_of_base(base)
    p64 = _f64(p)
    with np.errstate(all="ignore"):
        values = -(_times_log(p64, np.log(p64)) + _times_log(1.0 - p64, np.log1p(-p64)))
    if log_base is not None:
        values = values / log_base
    return _result(values, p.dtype)


def _prepare_pair(p, q, axis, base):
    """p and q broadcast, log(base) and the axis; checked in the compiled API's order:
    dtypes and shapes, base, axis, then the values (of p and q as given, so that
    one broadcast away, against an empty array, is checked too)."""
    broadcast_p, broadcast_q = _checks.prepare_distribution_pair(p, q, check_values=False)
    log_base = _checks.log_of_base(base)
    axis = _checks.normalize_axis(axis, broadcast_p.ndim)
    _checks.prepare_distribution_pair(p, q)
    return broadcast_p, broadcast_q, log_base, axis


def cross_entropy(p, q, axis=-1, base=None):
    """H(p, q) = -Σ p log q along ``axis``: 0 where p = 0, +inf where p > 0 and q = 0."""
    p, q, log_base, axis = _prepare_pair(p, q, axis, base)
    with np.errstate(all="ignore"):
        terms = -_times_log(_f64(p), np.log(_f64(q)))
    return _result(_sum_along(terms, axis, log_base), p.dtype)


def _log_ratio(p, q):
    """log(p / q) for p, q in [0, 1], accurate when p ≈ q.

    Within a factor 2 of each other, p - q is exact (Sterbenz) and log1p keeps
    its digits; further apart, the difference of logs loses nothing relevant.
    """
    close = (0.5 * q <= p) & (p <= 2.0 * q)
    return np.where(close, np.log1p((p - q) / q), np.log(p) - np.log(q))


def kl_divergence(p, q, axis=-1, base=None):
    """D(p || q) = Σ p log(p / q) along ``axis``: 0 where p = 0, +inf where p > 0 and q = 0."""
    p, q, log_base, axis = _prepare_pair(p, q, axis, base)
    p64, q64 = _f64(p), _f64(q)
    with np.errstate(all="ignore"):
        terms = _times_log(p64, _log_ratio(p64, q64))
    return _result(_sum_along(terms, axis, log_base), p.dtype)


# ---------------------------------------------------------------------------
# Losses.

def _mean_scale(weights):
    """The power of two s by which "mean" multiplies the (float64, non-negative) weights.

    The mean is Σ w l / Σ w.  A subnormal Σ w has lost digits (and 1 / Σ w
    overflows); a Σ w that overflows gives inf / inf.  With s = 2^-e for
    Σ w = f 2^e, f in [0.5, 1) (s at most 2^1023), Σ s w lies in [0.5, 1); if
    Σ w overflows, s = 2^-e for the largest weight.  Scaling by a power of two is
    exact except where s w is subnormal, which is negligible against Σ s w.
    """
    with np.errstate(over="ignore"):
        total = weights.sum()
    if total == np.inf:
        return _scale_below_one(weights.max())
    if total == 0:
        return 1.0
    return np.ldexp(1.0, min(-int(np.frexp(total)[1]), 1023))


def _scale_below_one(largest):
    """2^-e for largest = f 2^e, f in [0.5, 1) (at most 2^1023): every value up to
    ``largest``, times it, is < 1."""
    return np.ldexp(1.0, min(-int(np.frexp(largest)[1]), 1023))


def _binary_weights(inputs):
    """(float64 weights, "mean" denominator): the broadcast weight (1.0 when absent)
    and its sum or the element count; for "mean" both scaled by _mean_scale (for
    other reductions the denominator is None)."""
    if inputs.weight is None:
        return 1.0, np.float64(inputs.values.size)
    w = _f64(inputs.weight)
    if inputs.reduction != "mean":
        return w, None
    w = w * _mean_scale(w)
    return w, w.sum()


def binary_cross_entropy(probs, targets, *, weight=None, reduction="mean"):
    """-w (y log q + (1 - y) log(1 - q)) per element, reduced; exact logs, no clipping."""
    inputs = _checks.prepare_binary_loss(probs, "probs", targets, weight, None, reduction)
    q, y = _f64(inputs.values), _f64(inputs.targets)
    w, denominator = _binary_weights(inputs)
    with np.errstate(all="ignore"):
        losses = -w * (_times_log(y, np.log(q)) + _times_log(1.0 - y, np.log1p(-q)))
        value = _reduce(losses, reduction, denominator)
    return _result(value, inputs.values.dtype)


def binary_cross_entropy_with_logits(logits, targets, *, weight=None, pos_weight=None,
                                     reduction="mean", return_grad=False):
    """-w (pw y log σ(z) + (1 - y) log σ(-z)) per element, reduced; optionally its gradient.

    The gradient per element is w ((1 - y) σ(z) - pw y σ(-z)), with σ(-z)
    evaluated directly rather than as 1 - σ(z).  pw multiplies y log σ(z), not y:
    pw y may be subnormal (or 0) where y log σ(z) is not.
    """
    inputs = _checks.prepare_binary_loss(logits, "logits", targets, weight, pos_weight,
                                         reduction)
    z, y = _f64(inputs.values), _f64(inputs.targets)
    w, denominator = _binary_weights(inputs)
    pw = 1.0 if inputs.pos_weight is None else _f64(inputs.pos_weight)
    dtype = inputs.values.dtype
    with np.errstate(all="ignore"):
        negative = 1.0 - y  # the coefficient of log σ(-z); pw y is that of log σ(z)
        positive_term = np.where(pw == 0, 0.0, pw * _times_log(y, _log_sigmoid64(z)))
        losses = -w * (positive_term + _times_log(negative, _log_sigmoid64(-z)))
        losses = np.where(np.isnan(z), np.nan, losses)  # nan logits propagate, whatever the weights
        value = _reduce(losses, reduction, denominator)
        if not return_grad:
            return _result(value, dtype)
        grad = w * (negative * _sigmoid64(z) - pw * (y * _sigmoid64(-z)))
        if reduction == "mean":
            grad = grad / denominator
    return _result(value, dtype), _result(grad, dtype)


def _softmax_loss_terms(inputs):
    """The float64 pieces of softmax_cross_entropy, rows flattened to (n, k).

    Returns (coefficients a = class_weight * smoothed target, per-sample weight
    w, ignored-sample mask, softmax p, log_softmax log_p, the "mean" denominator
    or None); for "mean" w, a and the denominator are scaled as in _mean_scaled.
    """
    k = inputs.logits.shape[-1]
    z = _f64(inputs.logits).reshape(-1, k)
    n = z.shape[0]
    if inputs.index_targets:
        index = inputs.targets.reshape(-1)
        if inputs.ignore_index is None:
            ignored = np.zeros(n, dtype=bool)
        else:
            ignored = index == inputs.ignore_index
        target = np.zeros((n, k))
        # an ignored index may lie outside [0, k): point it at class 0, the row is masked anyway
        target[np.arange(n), np.where(ignored, 0, index)] = 1.0
    else:
        ignored = np.zeros(n, dtype=bool)
        target = _f64(inputs.targets).reshape(n, k)
    eps = inputs.label_smoothing
    target = (1.0 - eps) * target + eps / k
    class_scale = _class_scale(inputs, ignored)
    class_weight = None if inputs.class_weight is None else _f64(inputs.class_weight) * class_scale
    w = np.ones(n) if inputs.weight is None else _f64(inputs.weight).reshape(-1)
    if (inputs.reduction == "mean" and eps == 0
            and _lost_digits(inputs, ignored, class_weight, w)):
        # One-hot coefficients: a sample's weight and its class weight are one
        # factor, formed exactly, whose range the two scaled factors did not fit.
        w, class_weight = _exact_factors(inputs, w, ignored), None
    a = target if class_weight is None else class_weight * target
    denominator = None
    if inputs.reduction == "mean":
        w, a, denominator = _mean_scaled(inputs, w, a, ignored, class_weight, class_scale)
    with np.errstate(all="ignore"):
        p, log_p = _softmax_and_log_softmax(z)
    return a, w, ignored, p, log_p, denominator


def _softmax_loss_gradient(a, z, p):
    """A softmax(z) - a per row (A = Σ_j a_j), the argmax entry j* rearranged
    exactly as (A' - a_j* s) / (1 + s), with A' = Σ_{j != j*} a_j and s = Σ_{j != j*}
    e^(z_j - z_j*): softmax there is 1/(1 + s), which rounds to 1 once s < 2^-53 and
    takes the digits of A p - a with it."""
    grad = a.sum(axis=-1, keepdims=True) * p - a
    if grad.size == 0:
        return grad
    rows = np.arange(z.shape[0])
    argmax = np.argmax(z, axis=-1)
    top = z[rows, argmax]
    with np.errstate(all="ignore"):
        others = np.exp(z - top[:, None])
        others[rows, argmax] = 0.0
        rest = others.sum(axis=-1)
        a_others = a.copy()
        a_others[rows, argmax] = 0.0
        # s / (1 + s) <= 1 first: a_j* s alone may overflow (s is up to k - 1)
        at_argmax = (a_others.sum(axis=-1) / (1.0 + rest)
                     - a[rows, argmax] * (rest / (1.0 + rest)))
    # rows with a nan or no limit keep their nan; a row with one +inf has rest 0
    grad[rows, argmax] = np.where(np.isnan(grad[rows, argmax]), np.nan, at_argmax)
    return grad


def _class_scale(inputs, ignored):
    """The power of two by which the class weights are multiplied: for "mean" with
    index targets, the one that brings the largest class weight that enters a loss
    (that of a target class of a sample not ignored, or of any class with label
    smoothing) into [0.5, 1), at most as far as no class weight times it overflows
    (one that no target uses has coefficient 0, and 0 * inf is nan); else 1.  The
    scale cancels in the mean, and products of class weights neither overflow nor
    lose digits as subnormals."""
    if inputs.class_weight is None or inputs.reduction != "mean" or not inputs.index_targets:
        return 1.0
    class_weight = _f64(inputs.class_weight)
    if inputs.label_smoothing > 0:
        used = class_weight
    else:
        used = class_weight[inputs.targets.reshape(-1)[~ignored]]
    largest = used.max(initial=0.0)
    if largest == 0:
        return 1.0
    return min(_scale_below_one(largest), _weight_room(class_weight))


def _weight_room(weights):
    """The largest power of two r (at most 2^1023) with max(weights) r finite: r =
    2^(1024 - e) for max(weights) = f 2^e."""
    largest = weights.max(initial=0.0)
    if largest == 0:
        return np.ldexp(1.0, 1023)
    return np.ldexp(1.0, min(1024 - int(np.frexp(largest)[1]), 1023))


def _mean_scaled(inputs, w, a, ignored, class_weight, class_scale):
    """(w, a, denominator) for "mean".  The mean's scale s (_mean_scale of what each
    sample adds to the denominator) is split as s = s_w s_a: the sample weights
    take what they can without overflow (_weight_room), the coefficients
    a = class_weight * target the rest.  s_a > 1 only with index targets and
    class weights (without them every weight is at most the denominator), and
    there s is not capped at 2^1023: s_w s_a brings a subnormal denominator into
    [0.5, 1).  s_a goes on a, not on the class weights: one that no target uses
    may overflow, and 0 * inf is nan.  The denominator is Σ (w s_w)
    class_weight[target] times s_a, or _exact_counted_sum where a scaled class
    weight or a product with one is subnormal (it lost digits)."""
    counted = _counted_weights(inputs, w, ignored, class_weight)
    weight_scale, coefficient_scale = _mean_scale(counted), 1.0
    with np.errstate(over="ignore"):
        total = counted.sum()
    finite = 0 < total < np.inf
    lost = _lost_digits(inputs, ignored, class_weight, w)
    if total != np.inf and (finite or lost):
        # e for total = f 2^e; where the total lost digits (maybe all: it underflows
        # to 0 for a sample weight 2e-320 of a class weight 2^-34), from the exact
        # products
        total_exponent = (_exact_total_exponent(inputs, w, ignored, class_scale) if lost
                          else int(np.frexp(total)[1]))
        finite = total_exponent is not None
    if finite:
        weight_scale = min(np.ldexp(1.0, min(-total_exponent, 1023)),
                           _weight_room(w[~ignored]))
        if inputs.index_targets and class_weight is not None:
            # the rest of 2^-e for total = f 2^e, not capped at 2^1023 with s_w
            exponent = -total_exponent - _power_of_two(weight_scale)
            coefficient_scale = np.ldexp(1.0, min(exponent, 1023))
    if finite and lost:
        denominator = _exact_counted_sum(inputs, w, ignored, _power_of_two(weight_scale)
                                         + _power_of_two(coefficient_scale)
                                         + _power_of_two(class_scale))
    else:
        denominator = (_counted_weights(inputs, w * weight_scale, ignored, class_weight).sum()
                       * coefficient_scale)
    return w * weight_scale, a * coefficient_scale, denominator


def _lost_digits(inputs, ignored, class_weight, w):
    """Whether a positive scaled target class weight (class_weight), or its product
    with a positive sample weight w, is subnormal or 0: it lost digits, or all."""
    if not inputs.index_targets or class_weight is None:
        return False
    used = inputs.targets.reshape(-1)[~ignored]
    raw, factor = _f64(inputs.class_weight)[used], class_weight[used]
    weights = w[~ignored]
    tiny = np.finfo(np.float64).tiny
    return bool(np.any((raw > 0) & ((factor < tiny) | ((weights > 0) & (weights * factor < tiny)))))


def _power_of_two(scale):
    """e with scale = 2^e."""
    return int(np.frexp(scale)[1]) - 1


def _exact_products(inputs, w, ignored, exponent):
    """w_s class_weight[target_s] 2^exponent for the samples not ignored (unscaled
    class weights), each product formed from the two mantissas (one rounding) and
    moved by ldexp, so that no scaled factor passes through the subnormals."""
    weight_mantissa, weight_exponent = np.frexp(w[~ignored])
    class_weight = _f64(inputs.class_weight)[inputs.targets.reshape(-1)[~ignored]]
    class_mantissa, class_exponent = np.frexp(class_weight)
    return np.ldexp(weight_mantissa * class_mantissa, weight_exponent + class_exponent + exponent)


def _exact_counted_sum(inputs, w, ignored, exponent):
    """Σ over samples not ignored of w_s class_weight[target_s] 2^exponent, exactly
    formed (_exact_products)."""
    return _exact_products(inputs, w, ignored, exponent).sum()


def _largest_product_exponent(inputs, w, ignored):
    """The largest floor(log2 w_s) + floor(log2 class_weight[target_s]) over samples
    not ignored whose product is positive (every such product times 2^-it is in
    [1, 4) or below); None if there is none."""
    used = inputs.targets.reshape(-1)[~ignored]
    weights, class_weight = w[~ignored], _f64(inputs.class_weight)[used]
    positive = (weights > 0) & (class_weight > 0)
    if not positive.any():
        return None
    return int((np.frexp(weights[positive])[1] + np.frexp(class_weight[positive])[1] - 2).max())


def _exact_total_exponent(inputs, w, ignored, class_scale):
    """e with Σ over samples not ignored of w_s class_weight[target_s] class_scale =
    f 2^e, f in [0.5, 1), from the exact products (the sum may lie far below the
    subnormals); None if every product is 0."""
    top = _largest_product_exponent(inputs, w, ignored)
    if top is None:
        return None
    unit = _exact_counted_sum(inputs, w, ignored, -top)
    return int(np.frexp(unit)[1]) + top + _power_of_two(class_scale)


def _exact_factors(inputs, w, ignored):
    """Each sample's w_s class_weight[target_s] (0 if ignored), exactly formed and
    scaled by the power of two that brings the largest below 1 (the largest
    floor(log2 w) + floor(log2 class_weight) over positive pairs, plus 2)."""
    top = _largest_product_exponent(inputs, w, ignored)
    factors = np.zeros(w.shape[0])
    if top is not None:
        factors[~ignored] = _exact_products(inputs, w, ignored, -top - 2)
    return factors


def _counted_weights(inputs, w, ignored, class_weight):
    """What each sample adds to the "mean" denominator: for index targets
    w_s class_weight[target_s] over samples not ignored; else w_s."""
    if not inputs.index_targets:
        return w
    index = inputs.targets.reshape(-1)[~ignored]
    return w[~ignored] * (1.0 if class_weight is None else class_weight[index])


def softmax_cross_entropy(logits, targets, *, weight=None, class_weight=None,
                          label_smoothing=0.0, ignore_index=None, reduction="mean",
                          return_grad=False):
    """-w Σ_k class_weight_k t_k log_softmax(z)_k per sample, reduced; optionally its gradient.

    Targets are class indices of the batch shape or probabilities of the logits'
    shape; with label smoothing ε, t = (1 - ε) target + ε / k.  Samples whose
    index is ``ignore_index`` give 0 loss and 0 gradient.  The gradient per
    sample is w (A softmax(z) - a) with a = class_weight * t and A = Σ_k a_k.
    """
    inputs = _checks.prepare_softmax_loss(logits, targets, weight, class_weight,
                                          label_smoothing, ignore_index, reduction)
    logits = inputs.logits
    a, w, ignored, p, log_p, denominator = _softmax_loss_terms(inputs)
    with np.errstate(all="ignore"):
        losses = -w * _times_log(a, log_p).sum(axis=-1)
        # A row with no limit (nan, several +inf, all -inf) has nan log_softmax: its loss
        # is nan even where every coefficient is 0.
        losses = np.where(np.isnan(log_p).any(axis=-1), np.nan, losses)
        losses = np.where(ignored, 0.0, losses)
        value = _reduce(losses.reshape(logits.shape[:-1]), reduction, denominator)
        if not return_grad:
            return _result(value, logits.dtype)
        grad = w[:, None] * _softmax_loss_gradient(
            a, _f64(logits).reshape(-1, logits.shape[-1]), p)
        if reduction == "mean":
            grad = grad / denominator
        grad = np.where(ignored[:, None], 0.0, grad)
    return _result(value, logits.dtype), _result(grad.reshape(logits.shape), logits.dtype)


# ---------------------------------------------------------------------------
# Logistic and softmax regression: the fused kernel's twin and the article's
# plain gradient-descent loop.

def _linear_problem(w, X, y, sample_weight, fit_intercept):
    """Checked inputs: (X float64, dense or scipy.sparse CSR), targets, weights,
    coef, intercept, n_classes)."""
    from xentfast import linear_model  # the compiled API's checks, shared
    X = linear_model._prepare_X(X)
    linear_model._check_X_finite(X)
    n_samples, n_features = X.shape
    n_classes, w = linear_model._parameter_shape(w, n_features, fit_intercept)
    if n_classes == 1:
        targets = linear_model._binary_targets(y, n_samples)
    else:
        targets = linear_model._class_labels(y, n_samples, n_classes)
    weights = linear_model._sample_weight(sample_weight, n_samples)
    if weights is None:
        weights = np.ones(n_samples)
    params = w.reshape(n_classes, -1)
    coef = params[:, :n_features]
    intercept = params[:, n_features] if fit_intercept else np.zeros(n_classes)
    if isinstance(X, linear_model.SparseRows):
        X = X.to_scipy().astype(np.float64)
    else:
        X = _f64(X)
    return X, targets, weights, coef, intercept, n_classes


def _linear_terms(X, targets, coef, intercept, n_classes):
    """Per-sample losses (n,), residuals d CE / d logits (n, k) and probabilities (n, k)."""
    logits = np.asarray(X @ coef.T) + intercept           # (n, k)
    if n_classes == 1:
        z = logits[:, 0]
        losses = targets * _softplus64(-z) + (1 - targets) * _softplus64(z)
        probabilities = _sigmoid64(z)[:, None]
        residuals = probabilities - targets[:, None]
    else:
        # log Σ e^(z - max) = log1p(r), r the sum over the classes but the first
        # maximum: for a confident sample (r < 2^-53) the loss is r and the label's
        # residual p - 1 = -r / (1 + r), where 1 + r rounded would give 0 for both.
        rows = np.arange(len(targets))
        top = logits.argmax(axis=1)
        shifted = logits - logits[rows, top][:, None]
        exps = np.exp(shifted)
        exps[rows, top] = 0.0
        rest = exps.sum(axis=1)
        log_probs = shifted - np.log1p(rest)[:, None]
        losses = -log_probs[rows, targets]
        probabilities = np.exp(log_probs)
        residuals = probabilities.copy()
        residuals[rows, targets] -= 1.0
        confident = targets == top
        residuals[rows[confident], targets[confident]] = (
            (0.0 - rest[confident]) / (1.0 + rest[confident]))
    return losses, residuals, probabilities


def _augmented(X, fit_intercept):
    """X with a column of ones appended (the intercept's feature), dense."""
    X = X.toarray() if hasattr(X, "toarray") else X
    return np.column_stack([X, np.ones(X.shape[0])]) if fit_intercept else X


def logistic_loss_and_grad(w, X, y, *, sample_weight=None, alpha=0.0, fit_intercept=True):
    """Σ s_i CE_i / Σ s_i + α/2 ||coef||² and its gradient, with two matrix products."""
    from xentfast import linear_model
    alpha = linear_model._check_alpha(alpha)
    X, targets, s, coef, intercept, n_classes = _linear_problem(
        w, X, y, sample_weight, fit_intercept)
    losses, residuals, _ = _linear_terms(X, targets, coef, intercept, n_classes)
    total = s.sum()
    loss = np.dot(s, losses) / total + 0.5 * alpha * np.sum(coef * coef)
    weighted = residuals * (s / total)[:, None]           # (n, k)
    grad_coef = np.asarray(X.T @ weighted).T + alpha * coef
    grad = np.column_stack([grad_coef, weighted.sum(axis=0)]) if fit_intercept else grad_coef
    return np.float64(loss), grad.reshape(np.shape(w))


def logistic_loss_grad_hess(w, X, y, *, sample_weight=None, alpha=0.0, fit_intercept=True):
    """The objective, its gradient (shaped like w) and its Hessian over the flat
    parameters (k·(d+1) square, class by class, the intercept last in each class).

    Binary: H = Xaᵀ diag(s σ(z) σ(-z)) Xa / Σs + α I on the coefficients, with Xa
    = [X, 1].  Multinomial: block (c, c') = Xaᵀ diag(s (p_c [c = c'] - p_c p_c')) Xa / Σs.
    """
    from xentfast import linear_model
    alpha = linear_model._check_alpha(alpha)
    loss, grad = logistic_loss_and_grad(w, X, y, sample_weight=sample_weight, alpha=alpha,
                                        fit_intercept=fit_intercept)
    X, targets, s, coef, intercept, n_classes = _linear_problem(
        w, X, y, sample_weight, fit_intercept)
    _, _, p = _linear_terms(X, targets, coef, intercept, n_classes)
    Xa = _augmented(X, fit_intercept)
    width = Xa.shape[1]
    s = s / s.sum()
    if n_classes == 1:
        curvature = {(0, 0): s * p[:, 0] * (1 - p[:, 0])}
    else:
        curvature = {(c, c2): s * (p[:, c] * (c == c2) - p[:, c] * p[:, c2])
                     for c in range(n_classes) for c2 in range(n_classes)}
    hess = np.zeros((n_classes * width, n_classes * width))
    for (c, c2), h in curvature.items():
        hess[c * width:(c + 1) * width, c2 * width:(c2 + 1) * width] = Xa.T @ (h[:, None] * Xa)
    coefficients = np.ones(width, dtype=bool)
    coefficients[X.shape[1]:] = False
    hess[np.diag_indices_from(hess)] += alpha * np.tile(coefficients, n_classes)
    return loss, grad, hess


def logistic_newton(w0, X, y, *, n_iter, sample_weight=None, alpha=0.0, fit_intercept=True):
    """Newton's method, plainly: w <- w + t d with H d = -∇f(w) and t the first of
    1, 1/2, 1/4, ... that decreases f by at least 1e-4 t ∇f·d.  Returns (w, losses),
    the objective before every step and after the last.

    d is the least-squares solution of smallest norm, so that the softmax's
    singular directions (one vector added to every class) are left alone."""
    options = dict(sample_weight=sample_weight, alpha=alpha, fit_intercept=fit_intercept)
    w = np.array(w0, dtype=np.float64)
    losses = []
    for _ in range(n_iter):
        loss, grad, hess = logistic_loss_grad_hess(w, X, y, **options)
        losses.append(loss)
        direction = np.linalg.lstsq(hess, -grad.reshape(-1), rcond=None)[0].reshape(w.shape)
        slope = np.sum(grad * direction)
        step = 1.0
        while (logistic_loss_and_grad(w + step * direction, X, y, **options)[0]
               > loss + 1e-4 * step * slope and step > 1e-12):
            step /= 2
        w = w + step * direction
    losses.append(logistic_loss_and_grad(w, X, y, **options)[0])
    return w, np.array(losses)


def penalised_objective(w, X, y, *, sample_weight=None, alpha=0.0, l1_ratio=0.0,
                        fit_intercept=True):
    """Σ s_i CE_i / Σ s_i + alpha (l1_ratio ||coef||₁ + (1 - l1_ratio)/2 ||coef||²): the
    objective LogisticRegression minimises (the intercept is not penalised)."""
    smooth, _ = logistic_loss_and_grad(w, X, y, sample_weight=sample_weight,
                                       alpha=alpha * (1 - l1_ratio), fit_intercept=fit_intercept)
    coef = np.reshape(w, (-1, X.shape[1] + bool(fit_intercept)))[:, :X.shape[1]]
    return smooth + alpha * l1_ratio * np.abs(coef).sum()


def logistic_proximal_gradient(w0, X, y, *, step, n_iter, sample_weight=None, alpha=0.0,
                               l1_ratio=0.0, fit_intercept=True):
    """Proximal gradient descent (ISTA), plainly: a gradient step on the smooth part,
    then the L1 term's proximal map, soft thresholding, on the coefficients:
    w <- S(w - step ∇f(w), step alpha l1_ratio).  Returns (w, objectives), the
    penalised objective before every step and after the last."""
    options = dict(sample_weight=sample_weight, fit_intercept=fit_intercept)
    l1 = alpha * l1_ratio
    w = np.array(w0, dtype=np.float64)
    coefficients = np.zeros(np.shape(w), dtype=bool)
    coefficients[..., :X.shape[1]] = True
    objectives = []
    for _ in range(n_iter):
        objectives.append(penalised_objective(w, X, y, alpha=alpha, l1_ratio=l1_ratio,
                                              **options))
        _, grad = logistic_loss_and_grad(w, X, y, alpha=alpha * (1 - l1_ratio), **options)
        w = w - step * grad
        shrunk = np.sign(w) * np.maximum(np.abs(w) - step * l1, 0.0)
        w = np.where(coefficients, shrunk, w)
    objectives.append(penalised_objective(w, X, y, alpha=alpha, l1_ratio=l1_ratio, **options))
    return w, np.array(objectives)


def logistic_gradient_descent(w0, X, y, *, step, n_iter, sample_weight=None, alpha=0.0,
                              fit_intercept=True):
    """The article's loop: w <- w - step ∇f(w), n_iter times.  Returns (w, losses)
    with the loss before every step and after the last."""
    w = np.array(w0, dtype=np.float64)
    losses = []
    for _ in range(n_iter):
        loss, grad = logistic_loss_and_grad(w, X, y, sample_weight=sample_weight, alpha=alpha,
                                            fit_intercept=fit_intercept)
        losses.append(loss)
        w = w - step * grad
    losses.append(logistic_loss_and_grad(w, X, y, sample_weight=sample_weight, alpha=alpha,
                                         fit_intercept=fit_intercept)[0])
    return w, np.array(losses)
