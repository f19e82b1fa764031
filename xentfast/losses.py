"""Cross-entropy losses of logistic and softmax models, with their gradients.

Layer 3: check and lay out the arguments, then call the compiled kernels in
``_losses``.  No math here.

reduction="none" gives per-element (binary) or per-sample (softmax) losses,
"sum" their sum, "mean" their sum divided by the sum of their weights (nan
when that is 0, e.g. for empty input).
"""
import numpy as np

from xentfast import _checks, _layout
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
    """-w (y log q + (1 - y) log(1 - q)) for probabilities q and targets y in [0, 1].

    Exact logs, no clipping: 0 log 0 = 0, and the loss is +inf where the
    observed outcome had probability 0.  ``weight`` broadcasts to probs' shape.
    """
    inputs = _checks.prepare_binary_loss(probs, "probs", targets, weight, None, reduction)
    q = inputs.values
    weight_flat = _layout.flat_or_empty(inputs.weight, q.dtype)
    loss_buffer, _ = _binary_outputs(q, reduction, False)
    total = _losses.binary_cross_entropy_kernel(
        _layout.flat(q), _layout.flat(inputs.targets), weight_flat,
        _layout.flat_or_empty(loss_buffer, q.dtype),
        _binary_denominator(reduction, weight_flat, q.size), get_num_threads())
    return _as_loss(total, loss_buffer, q.dtype)


def _binary_denominator(reduction, weight_flat, size):
    """The divisor of reduction="mean": the weights' sum (weight_flat None or empty: size)."""
    if reduction != "mean":
        return 1.0
    if weight_flat is None or weight_flat.size == 0:
        return float(size)
    return _losses.weight_total(weight_flat)


def binary_cross_entropy_with_logits(logits, targets, *, weight=None, pos_weight=None,
                                     reduction="mean", return_grad=False):
    """-w (pos_weight y log σ(z) + (1 - y) log σ(-z)) for logits z, without cancellation.

    Targets may be soft, in [0, 1].  ``weight`` broadcasts to the logits' shape;
    ``pos_weight`` too (a (k,) vector weights the classes along the last axis).
    With ``return_grad=True`` returns (loss, gradient of that loss w.r.t. logits),
    computed in the same pass.
    """
    # The kernels check that the targets lie in [0, 1] in their own pass.
    if (weight is None and pos_weight is None and reduction in ("mean", "sum")
            and _checks.is_float_pair(logits, targets)):
        # The common case, kept short for small inputs: prepare_binary_loss would
        # return both arrays unchanged, and this kernel takes them as they are.
        z = logits if logits.flags.c_contiguous else np.ascontiguousarray(logits)
        y = targets if targets.flags.c_contiguous else np.ascontiguousarray(targets)
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
        total, targets_ok = _losses.binary_cross_entropy_with_logits_kernel(
            _layout.flat(z), _layout.flat(y), weight_flat,
            _layout.flat_or_none(inputs.pos_weight), _layout.flat_or_none(loss_buffer),
            _layout.flat_or_none(grad), _binary_denominator(reduction, weight_flat, z.size),
            get_num_threads())
    if not targets_ok:
        _checks.check_unit_interval(y, "targets", allow_nan=False)
    loss = _as_loss(total, loss_buffer, z.dtype)
    return (loss, _layout.finish(grad, None)) if return_grad else loss


def _is_plain_index_case(logits, targets):
    """C-contiguous float32/float64 logits (..., k >= 1) and intp class indices (...)."""
    return (type(logits) is np.ndarray and type(targets) is np.ndarray
            and logits.dtype in _checks.FLOAT_DTYPES and targets.dtype == _checks.INTP
            and logits.ndim >= 1 and logits.shape[-1] > 0 and targets.shape == logits.shape[:-1]
            and logits.flags.c_contiguous and targets.flags.c_contiguous)


def softmax_denominator(inputs):
    """The divisor of reduction="mean" for checked inputs (``_checks.prepare_softmax_loss``):
    Σ weight·class_weight[target] over samples not ignored (index targets), Σ weight
    (probability targets), or the number of samples without weights.  The Dask
    functions add it up over blocks."""
    dtype = inputs.logits.dtype
    weight_flat = _layout.flat_or_none(inputs.weight)
    class_weight_flat = _layout.flat_or_none(inputs.class_weight)
    has_ignore_index = inputs.ignore_index is not None
    if inputs.index_targets and (weight_flat is not None or class_weight_flat is not None
                                 or has_ignore_index):
        return _losses.index_target_weight_total(
            _layout.flat(inputs.targets), _layout.flat_or_empty(weight_flat, dtype),
            _layout.flat_or_empty(class_weight_flat, dtype),
            inputs.ignore_index if has_ignore_index else -1, has_ignore_index)
    if weight_flat is not None:
        return _losses.weight_total(weight_flat)
    return float(inputs.logits.size // inputs.logits.shape[-1])  # every sample counts 1


def softmax_cross_entropy(logits, targets, *, weight=None, class_weight=None,
                          label_smoothing=0.0, ignore_index=None, reduction="mean",
                          return_grad=False):
    """Cross-entropy of a softmax model with logits (..., k).

    Targets are integer class indices of shape (...) or probabilities of shape
    (..., k).  With label smoothing ε the target becomes (1 - ε) target + ε / k.
    Per sample: -weight Σ_k class_weight[k] target[k] log_softmax(z)[k].  Samples
    whose index is ``ignore_index`` give 0 loss and 0 gradient.  "mean" divides
    by Σ weight·class_weight[target] over samples not ignored (index targets)
    or by Σ weight (probability targets).
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
    denominator = softmax_denominator(inputs) if reduction == "mean" else 1.0
    loss_buffer = np.empty(z.shape[:-1], dtype) if reduction == "none" else None
    grad = np.empty(z.shape, dtype) if return_grad else None
    total, indices_ok = _losses.softmax_cross_entropy_kernel(
        _layout.flat(z), k, targets_flat if inputs.index_targets else None,
        None if inputs.index_targets else targets_flat, weight_flat, class_weight_flat,
        inputs.label_smoothing, ignore, has_ignore_index, _layout.flat_or_none(loss_buffer),
        _layout.flat_or_none(grad), denominator, get_num_threads())
    if not indices_ok:
        _checks.class_index_targets(inputs.targets, k, inputs.ignore_index, z.shape[:-1])
    loss = _as_loss(total, loss_buffer, dtype)
    return (loss, grad) if return_grad else loss
