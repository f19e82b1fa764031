"""Cross-entropy losses of logistic and softmax models, with their gradients.

Layer 3: check and lay out the arguments, then call the compiled kernels in
``_losses``.  No math here.

reduction="none" gives per-element (binary) or per-sample (softmax) losses,
"sum" their sum, "mean" their sum divided by the sum of their weights (nan
when that is 0, e.g. for empty input).  For "mean" the kernels are passed the
weights' sum scaled by a power of two and that scale (see
``_losses.weight_total``), so that a subnormal sum or one that overflows keeps
the mean.
"""
import math

import numpy as np

from xentfast import _checks, _layout, _validate
from xentfast._kernels import _losses
from xentfast._config import get_num_threads


def _binary_outputs(values, reduction, want_grad):
    """(per-element loss buffer or None, gradient buffer or None)."""
    loss = np.empty(values.shape, values.dtype) if reduction == "none" else None
    grad = np.empty(values.shape, values.dtype) if want_grad else None
    return loss, grad


def _as_loss(total, loss_buffer, dtype):
    if loss_buffer is not None:
        return _layout.finish(loss_buffer, None)
    return dtype.type(total)


def binary_cross_entropy(probs, targets, *, weight=None, reduction="mean"):
    r"""The binary cross-entropy of probabilities: -w (y log q + (1 - y) log(1 - q)).

    The loss of a model that gives probability ``q`` to the outcome 1 when the
    target is ``y``.  Prefer :func:`binary_cross_entropy_with_logits` when the
    logits are at hand: it is exact where q would round to 0 or 1.

    Parameters
    ----------
    probs : array_like
        The predicted probabilities q in [0, 1].  float32 and float64 keep their
        dtype; other real input is computed in float64.
    targets : array_like
        Targets y in [0, 1] (soft targets allowed), of probs' shape.
    weight : array_like, optional
        Weights ≥ 0 broadcast to probs' shape; each loss is multiplied by its
        weight.
    reduction : {"mean", "sum", "none"}, default "mean"
        "none" gives the per-element losses; "sum" their sum; "mean" their sum
        divided by the sum of their weights (nan when that is 0, e.g. for empty
        input).

    Returns
    -------
    ndarray or NumPy scalar
        The loss in probs' working dtype: a NumPy scalar for "mean" and "sum",
        an array of probs' shape for "none".

    Raises
    ------
    ValueError
        If probs or targets lie outside [0, 1] or are nan, the shapes do not
        match (both are named), a weight is negative or not finite, or
        ``reduction`` is unknown.

    See Also
    --------
    binary_cross_entropy_with_logits

    Notes
    -----
    .. math:: \ell(q, y) = -w \left(y \log q + (1 - y) \log(1 - q)\right)

    Exact logs, no clipping: a term whose coefficient is 0 is 0 (so q = 0 with
    y = 0 costs nothing), and the loss is +inf where the observed outcome had
    probability 0.  log(1 - q) is computed from the exact split of 1 - q into
    hi + lo, so it keeps its digits for tiny q.  Sums are accumulated in
    float64 in fixed blocks whose sums are added with compensation, so results
    do not depend on the thread count.

    Examples
    --------
    >>> import numpy as np
    >>> import xentfast
    >>> xentfast.binary_cross_entropy(np.array([0.9, 0.2]), np.array([1.0, 0.0]),
    ...                               reduction="none")
    array([0.10536052, 0.22314355])
    >>> xentfast.binary_cross_entropy(np.array([1.0]), np.array([0.0]))   # a sure miss
    np.float64(inf)
    """
    inputs = _checks.prepare_binary_loss(probs, "probs", targets, weight, None, reduction)
    q = inputs.values
    weight_flat = _layout.flat_or_none(inputs.weight)
    loss_buffer, _ = _binary_outputs(q, reduction, False)
    denominator, weight_scale = _mean_weighting(reduction, weight_flat, q.size)
    total = _losses.binary_cross_entropy_kernel(
        _layout.flat(q), _layout.flat(inputs.targets), weight_flat, loss_buffer,
        denominator, weight_scale, get_num_threads())
    return _as_loss(total, loss_buffer, q.dtype)


def _mean_weighting(reduction, weight_flat, size):
    """(denominator, weight_scale) for the kernels: for "mean" the weights' sum
    scaled by weight_scale (weight_flat None or empty: size, 1); else 1, 1."""
    if reduction != "mean":
        return 1.0, 1.0
    if weight_flat is None or weight_flat.size == 0:
        return float(size), 1.0
    return _losses.weight_total(weight_flat)


def binary_cross_entropy_with_logits(logits, targets, *, weight=None, pos_weight=None,
                                     reduction="mean", return_grad=False):
    r"""The binary cross-entropy of logits, without cancellation, and its gradient.

    The loss of a logistic model with logits z = x·θ + b for targets y:
    -w (pos_weight y log σ(z) + (1 - y) log σ(-z)), finite for every finite z.

    Parameters
    ----------
    logits : array_like
        The logits z.  float32 and float64 keep their dtype; other real input
        is computed in float64.
    targets : array_like
        Targets y in [0, 1] (soft targets allowed), of the logits' shape.
    weight : array_like, optional
        Weights ≥ 0 broadcast to the logits' shape; each loss is multiplied by
        its weight.
    pos_weight : array_like, optional
        Weights ≥ 0 of the positive term, broadcast to the logits' shape (a
        (k,) vector weights the classes along the last axis).
    reduction : {"mean", "sum", "none"}, default "mean"
        "none" gives the per-element losses; "sum" their sum; "mean" their sum
        divided by the sum of their weights (nan when that is 0, e.g. for empty
        input).
    return_grad : bool, default False
        Also return the gradient of the returned loss with respect to the
        logits, computed in the same pass.

    Returns
    -------
    loss : ndarray or NumPy scalar
        The loss in the logits' working dtype: a NumPy scalar for "mean" and
        "sum", an array of the logits' shape for "none".
    grad : ndarray or NumPy scalar
        Only with ``return_grad=True``: d loss / d logits, of the logits' shape.

    Raises
    ------
    ValueError
        If a target lies outside [0, 1] or is nan, the shapes do not match or
        broadcast (both are named), a weight is negative or not finite, or
        ``reduction`` is unknown.

    See Also
    --------
    binary_cross_entropy, log_sigmoid, sigmoid

    Notes
    -----
    .. math::

       \ell(z, y) = -w \left(\mathrm{pw}\, y \log\sigma(z) + (1 - y) \log\sigma(-z)\right),
       \qquad
       \frac{\partial \ell}{\partial z}
       = w \left((1 - y)\,\sigma(z) - \mathrm{pw}\, y\,\sigma(-z)\right)

    which is w (σ(z) - y) without ``pos_weight``.  The textbook forms fail at
    large ``|z|``: log(σ(z)) is -inf once σ(z) underflows, and softplus(z) - y
    z cancels when the loss is small.  Here ``-log σ(±z) = log(1 + exp(-|z|)) ∓
    min(±z, 0)`` share one exponential ``exp(-|z|) <= 1`` (it never overflows),
    and σ(±z) are both formed from it without computing 1 - σ, so nothing
    cancels: logits of ±800 or ±1e4 give finite losses and exact gradients.  A
    term whose coefficient is 0 is 0 (z = -inf with y = 0 costs nothing).  Sums
    are accumulated in float64 in fixed blocks whose sums are added with
    compensation, so results do not depend on the thread count.

    Examples
    --------
    >>> import numpy as np
    >>> import xentfast
    >>> z = np.array([-800.0, 0.0, 3.0])
    >>> y = np.array([1.0, 1.0, 0.0])
    >>> loss, grad = xentfast.binary_cross_entropy_with_logits(z, y, reduction="sum",
    ...                                                        return_grad=True)
    >>> loss
    np.float64(803.7417345321336)
    >>> grad                                               # σ(z) - y
    array([-1.        , -0.5       ,  0.95257413])
    """
    # The kernels check that the targets lie in [0, 1] in their own pass.
    if (weight is None and pos_weight is None and reduction in ("mean", "sum")
            and _checks.is_float_pair(logits, targets)):
        # The common case, kept short for small inputs: prepare_binary_loss would
        # return both arrays unchanged, and this kernel takes them as they are.
        z = _layout.contiguous(logits)
        y = _layout.contiguous(targets)
        loss_buffer = None
        grad = np.empty(z.shape, z.dtype) if return_grad else None
        total, targets_ok = _losses.binary_cross_entropy_with_logits_plain(
            z, y, grad, float(z.size) if reduction == "mean" else 1.0, get_num_threads())
    else:
        inputs = _checks.prepare_binary_loss(logits, "logits", targets, weight, pos_weight,
                                             reduction, check_targets=False)
        z, y = inputs.values, inputs.targets
        weight_flat = _layout.flat_or_none(inputs.weight)
        loss_buffer, grad = _binary_outputs(z, reduction, return_grad)
        denominator, weight_scale = _mean_weighting(reduction, weight_flat, z.size)
        total, targets_ok = _losses.binary_cross_entropy_with_logits_kernel(
            _layout.flat(z), _layout.flat(y), weight_flat,
            _layout.flat_or_none(inputs.pos_weight), _layout.flat_or_none(loss_buffer),
            _layout.flat_or_none(grad), denominator, weight_scale, get_num_threads())
    if not targets_ok:
        _checks.check_unit_interval(y, "targets", allow_nan=False)
    loss = _as_loss(total, loss_buffer, z.dtype)
    return (loss, _layout.finish(grad, None)) if return_grad else loss


def _is_plain_index_case(logits, targets):
    """C-contiguous, aligned float32/float64 logits (..., k >= 1) and intp class
    indices (...)."""
    return (type(logits) is np.ndarray and type(targets) is np.ndarray
            and logits.dtype in _checks.FLOAT_DTYPES and targets.dtype == _checks.INTP
            and logits.ndim >= 1 and logits.shape[-1] > 0 and targets.shape == logits.shape[:-1]
            and _validate.is_c_contiguous_aligned(logits)
            and _validate.is_c_contiguous_aligned(targets))


def _power_of_two_exponent(scale):
    """n for scale = 2^n, exactly (the kernels' scales are powers of two)."""
    return math.frexp(scale)[1] - 1


def _weight_total_parts(weight_flat, size):
    """The divisor of reduction="mean" over these weights as (total, n): it is
    total · 2^n, total in float range even where the divisor is not (see
    ``_losses.weight_total``).  The Dask functions combine blocks' parts."""
    total, weight_scale = _mean_weighting("mean", weight_flat, size)
    return total, -_power_of_two_exponent(weight_scale)


def _softmax_denominator_parts(inputs):
    """The divisor of reduction="mean" for checked inputs (``_checks.prepare_softmax_loss``)
    as (total, n), the divisor being total · 2^n: Σ weight·class_weight[target] over
    samples not ignored (index targets), Σ weight (probability targets), or the
    number of samples without weights.  total is the kernels' scaled sum (see
    ``_losses.weight_total``), so it stays in float range where the divisor does not."""
    dtype = inputs.logits.dtype
    weight_flat = _layout.flat_or_none(inputs.weight)
    class_weight_flat = _layout.flat_or_none(inputs.class_weight)
    has_ignore_index = inputs.ignore_index is not None
    if inputs.index_targets and (weight_flat is not None or class_weight_flat is not None
                                 or has_ignore_index):
        total, weight_scale, class_scale, coefficient_scale, _ = (
            _losses.index_target_weight_total(
                _layout.flat(inputs.targets), _layout.flat_or_empty(weight_flat, dtype),
                _layout.flat_or_empty(class_weight_flat, dtype),
                inputs.ignore_index if has_ignore_index else -1, has_ignore_index,
                inputs.label_smoothing > 0))
        return total, -(_power_of_two_exponent(weight_scale)
                        + _power_of_two_exponent(coefficient_scale)
                        + _power_of_two_exponent(class_scale))
    return _weight_total_parts(weight_flat, inputs.logits.size // inputs.logits.shape[-1])


def softmax_cross_entropy(logits, targets, *, weight=None, class_weight=None,
                          label_smoothing=0.0, ignore_index=None, reduction="mean",
                          return_grad=False):
    r"""The cross-entropy of a softmax model with logits (..., k), and its gradient.

    Per sample: -weight Σ_j class_weight[j] t_j log softmax(z)_j, for targets
    given as class indices or as probabilities t.

    Parameters
    ----------
    logits : array_like
        Logits z of shape (..., k): classes on the last axis.  float32 and
        float64 keep their dtype; other real input is computed in float64.
    targets : array_like
        Class indices of shape (...) (an integer dtype), or probabilities of
        shape (..., k) (a float dtype) that sum to 1 along the last axis.
    weight : array_like, optional
        Per-sample weights ≥ 0 of shape (...).
    class_weight : array_like, optional
        Per-class weights ≥ 0 of shape (k,).
    label_smoothing : float, default 0.0
        ε in [0, 1]: the target becomes (1 - ε) t + ε / k.
    ignore_index : int, optional
        Samples whose class index is ``ignore_index`` give 0 loss and 0
        gradient and do not count in "mean" (index targets only).
    reduction : {"mean", "sum", "none"}, default "mean"
        "none" gives the per-sample losses, of shape (...); "sum" their sum;
        "mean" their sum divided by Σ weight · class_weight[target] over the
        samples not ignored (index targets) or by Σ weight (probability
        targets).  Without weights this is PyTorch's mean.
    return_grad : bool, default False
        Also return the gradient of the returned loss with respect to the
        logits, computed in the same pass.

    Returns
    -------
    loss : ndarray or NumPy scalar
        The loss in the logits' working dtype: a NumPy scalar for "mean" and
        "sum" (and for one sample with "none"), else an array of shape (...).
    grad : ndarray
        Only with ``return_grad=True``: d loss / d logits, of shape (..., k).

    Raises
    ------
    ValueError
        If a class index lies outside [0, k) and is not ``ignore_index``,
        probabilities lie outside [0, 1], the shapes do not match (both are
        named), a weight is negative or not finite, ``label_smoothing`` is
        outside [0, 1], ``ignore_index`` is given with probability targets, or
        ``reduction`` is unknown.

    See Also
    --------
    softmax, log_softmax, cross_entropy

    Notes
    -----
    .. math::

       \ell(z, t) = -\sum_j t_j \log\operatorname{softmax}(z)_j
                 = \operatorname{logsumexp}(z) - \sum_j t_j z_j,
       \qquad
       \frac{\partial \ell}{\partial z_j} = \operatorname{softmax}(z)_j - t_j

    (with weights: multiplied by weight · class_weight).  The log-normaliser is
    that of :func:`logsumexp`: shifted by the row's max, with the max left out
    of the sum and log1p taken of the rest, so no exponential overflows and a
    dominant class keeps its digits.  softmax(z) is formed from the same
    exponentials for the gradient, in the same pass.  Sums are accumulated in
    float64 in fixed blocks whose sums are added with compensation, so results
    do not depend on the thread count.

    Examples
    --------
    >>> import numpy as np
    >>> import xentfast
    >>> logits = np.array([[2.0, 1.0, 0.1], [0.0, 0.0, 1e4]])
    >>> classes = np.array([0, 2])
    >>> loss, grad = xentfast.softmax_cross_entropy(logits, classes, return_grad=True)
    >>> loss
    np.float64(0.20851500813891677)
    >>> grad
    array([[-0.17049943,  0.12121649,  0.04928295],
           [ 0.        ,  0.        ,  0.        ]])
    >>> xentfast.softmax_cross_entropy(logits, classes, label_smoothing=0.1, reduction="none")
    array([5.13696683e-01, 6.66666667e+02])
    """
    if (weight is None and class_weight is None and ignore_index is None
            and reduction in ("mean", "sum") and type(label_smoothing) in (float, int)
            and label_smoothing == 0 and _is_plain_index_case(logits, targets)):
        # The common case, kept short for small inputs: one-hot index targets, as
        # given (prepare_softmax_loss would return them unchanged).
        grad = np.empty(logits.shape, logits.dtype) if return_grad else None
        total, indices_ok = _losses.softmax_cross_entropy_plain(
            logits, targets, grad, float(targets.size) if reduction == "mean" else 1.0,
            get_num_threads())
        if not indices_ok:
            _checks.class_index_targets(targets, logits.shape[-1], None, logits.shape[:-1])
        loss = logits.dtype.type(total)
        return (loss, grad) if return_grad else loss
    # The kernel checks the class indices in its own pass (see prepare_softmax_loss).
    inputs = _checks.prepare_softmax_loss(logits, targets, weight, class_weight,
                                          label_smoothing, ignore_index, reduction,
                                          check_indices=False)
    z = inputs.logits
    dtype, k = z.dtype, z.shape[-1]
    targets_flat = _layout.flat(inputs.targets)
    weight_flat = _layout.flat_or_none(inputs.weight)
    class_weight_flat = _layout.flat_or_none(inputs.class_weight)
    has_ignore_index = inputs.ignore_index is not None
    ignore = inputs.ignore_index if has_ignore_index else -1
    n_samples = z.size // k
    if (reduction == "mean" and inputs.index_targets
            and (weight_flat is not None or class_weight_flat is not None or has_ignore_index)):
        denominator, weight_scale, class_scale, coefficient_scale, lost = (
            _losses.index_target_weight_total(
                targets_flat, _layout.flat_or_empty(weight_flat, dtype),
                _layout.flat_or_empty(class_weight_flat, dtype), ignore, has_ignore_index,
                inputs.label_smoothing > 0))
        if lost and class_weight_flat is not None and inputs.label_smoothing == 0:
            # One-hot coefficients: a sample's weight and its class weight are one
            # factor, formed exactly, whose range the two scaled factors did not fit.
            weight_flat = _losses.index_target_factors(
                targets_flat, _layout.flat_or_empty(weight_flat, dtype), class_weight_flat,
                ignore, has_ignore_index).astype(dtype, copy=False)
            class_weight_flat = None
            denominator, weight_scale = _losses.weight_total(weight_flat)
            class_scale = coefficient_scale = 1.0
    elif reduction == "mean" and weight_flat is not None:  # weights by sample
        denominator, weight_scale = _losses.weight_total(weight_flat)
        class_scale = coefficient_scale = 1.0
    else:  # no weights: every sample counts 1
        denominator = float(n_samples) if reduction == "mean" else 1.0
        weight_scale = class_scale = coefficient_scale = 1.0
    loss_buffer = np.empty(z.shape[:-1], dtype) if reduction == "none" else None
    grad = np.empty(z.shape, dtype) if return_grad else None
    total, indices_ok = _losses.softmax_cross_entropy_kernel(
        _layout.flat(z), k, targets_flat if inputs.index_targets else None,
        None if inputs.index_targets else targets_flat, weight_flat, class_weight_flat,
        inputs.label_smoothing, ignore, has_ignore_index, _layout.flat_or_none(loss_buffer),
        _layout.flat_or_none(grad), denominator, weight_scale, class_scale, coefficient_scale,
        get_num_threads())
    if not indices_ok:
        _checks.class_index_targets(inputs.targets, k, inputs.ignore_index, z.shape[:-1])
    loss = _as_loss(total, loss_buffer, dtype)
    return (loss, grad) if return_grad else loss
