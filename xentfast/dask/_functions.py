"""The public functions on Dask arrays, lazily (the chunking rules are in the
package's docstring).

No math here: every block runs the in-memory function.  This module checks
what can be checked without reading values (dtypes, shapes, arguments), lays
out the chunks, and combines the blocks' partial results: sums added in a
tree, means weighted by their divisors, partial log-sum-exps combined by
``xentfast.logsumexp``.
"""
import dask.array as da
import numpy as np

import xentfast
from xentfast import _checks, _layout, losses


# --- layout helpers -----------------------------------------------------------

def as_dask(a, name):
    """``a`` as a Dask array (NumPy arrays and array-likes become one block)."""
    if isinstance(a, da.Array):
        return a
    if hasattr(type(a), "__dask_graph__"):
        raise ValueError(f"{name} must be a Dask array or an array-like, got a "
                         f"{type(a).__name__} (convert it with .to_dask_array(lengths=True))")
    if hasattr(a, "nnz") and hasattr(a, "tocsr"):
        _checks.as_real_array(a, name)  # raises its TypeError for scipy.sparse
    return da.asarray(np.asarray(a))


def real_dtype(a, name):
    """The dtype the in-memory functions compute ``a`` in; raises as they do."""
    return _checks.as_real_array(np.empty(0, a.dtype), name).dtype


def _meta(ndim, dtype):
    return np.empty((0,) * ndim, dtype)


def _shape_only(a, dtype=None):
    """A zero-stride stand-in of ``a``'s shape, for the checks that read shapes only."""
    return np.broadcast_to(np.zeros((), a.dtype if dtype is None else dtype), a.shape)


def _letters(n, first="a"):
    return "".join(chr(ord(first) + i) for i in range(n))


def aligned(block):
    """``block``, copied when its address is not aligned to its itemsize (as a
    distributed worker may unpickle it): the kernels take aligned arrays only."""
    if isinstance(block, np.ndarray) and not block.flags.aligned:
        return block.copy()
    return block


def _on_blocks(*blocks, kernel, **options):
    return kernel(*(aligned(b) for b in blocks), **options)


def _refuse_out(out):
    if out is not None:
        raise ValueError("out= is not supported on Dask arrays (they are immutable); "
                         "use the returned array")


def _take(item, index):
    return item[index]


def _take_keepdims(item, index):
    return item[index][..., np.newaxis]


# --- elementwise ----------------------------------------------------------------

def _elementwise(func, x, name="x", **options):
    x = as_dask(x, name)
    dtype = real_dtype(x, name)
    return x.map_blocks(_on_blocks, kernel=func, dtype=dtype, meta=_meta(x.ndim, dtype),
                        **options)


def sigmoid(x, out=None):
    """``xentfast.sigmoid`` of a Dask array, block by block (lazy)."""
    _refuse_out(out)
    return _elementwise(xentfast.sigmoid, x)


def log_sigmoid(x, out=None):
    """``xentfast.log_sigmoid`` of a Dask array, block by block (lazy)."""
    _refuse_out(out)
    return _elementwise(xentfast.log_sigmoid, x)


def softplus(x, out=None):
    """``xentfast.softplus`` of a Dask array, block by block (lazy)."""
    _refuse_out(out)
    return _elementwise(xentfast.softplus, x)


def binary_entropy(p, base=None):
    """``xentfast.binary_entropy`` of a Dask array, block by block (lazy)."""
    _checks.log_of_base(base)
    return _elementwise(xentfast.binary_entropy, p, "p", base=base)


# --- along an axis ----------------------------------------------------------------

def _normalise(func, x, axis):
    # softmax and log_softmax: ``axis`` in one block (all of x for axis=None).
    x = as_dask(x, "x")
    dtype = real_dtype(x, "x")
    axis = _checks.normalize_axis(axis, x.ndim)
    if x.ndim:
        x = x.rechunk(-1 if axis is None else {axis: -1})
    return x.map_blocks(_on_blocks, kernel=func, axis=axis, dtype=dtype,
                        meta=_meta(x.ndim, dtype))


def softmax(x, axis=-1, out=None):
    """``xentfast.softmax`` of a Dask array; ``axis`` is rechunked to one block (lazy)."""
    _refuse_out(out)
    return _normalise(xentfast.softmax, x, axis)


def log_softmax(x, axis=-1, out=None):
    """``xentfast.log_softmax`` of a Dask array; ``axis`` is rechunked to one block (lazy)."""
    _refuse_out(out)
    return _normalise(xentfast.log_softmax, x, axis)


def _partial_keepdims(*blocks, kernel, axis, **options):
    # The block's result along ``axis`` (None: all axes), with the reduced axes kept as 1.
    value = np.asarray(_on_blocks(*blocks, kernel=kernel, axis=axis, **options))
    shape = tuple(1 if axis is None or i == axis else n for i, n in enumerate(blocks[0].shape))
    return value.reshape(shape)


def _logsumexp_of_partials(parts, axis, keepdims):
    # da.reduction's chunk, combine and aggregate: log-sum-exp of partial log-sum-exps.
    axis = tuple(axis)
    value = np.asarray(xentfast.logsumexp(parts, axis=None if len(axis) == parts.ndim
                                          else axis[0]))
    if keepdims:
        value = value.reshape(tuple(1 if i in axis else n for i, n in enumerate(parts.shape)))
    return value


def _reduce(func, arrays, axis, combine, dtype, **options):
    """``func(*blocks, axis=axis)`` of arrays of one shape: one task per block where
    ``axis`` is one block, else partial results per block combined in a tree by
    ``combine`` ("sum" or "logsumexp")."""
    ndim = arrays[0].ndim
    axis = _checks.normalize_axis(axis, ndim)
    if ndim == 0:
        return da.map_blocks(_on_blocks, *arrays, kernel=func, axis=axis, dtype=dtype,
                             meta=_meta(0, dtype), **options)
    axes = tuple(range(ndim)) if axis is None else (axis,)
    out_ndim = ndim - len(axes)
    chunks = arrays[0].chunks
    if all(len(chunks[a]) == 1 for a in axes):
        return da.map_blocks(_on_blocks, *arrays, kernel=func, axis=axis, drop_axis=axes,
                             dtype=dtype, meta=_meta(out_ndim, dtype), **options)
    part_chunks = tuple((1,) * len(c) if i in axes else c for i, c in enumerate(chunks))
    parts = da.map_blocks(_partial_keepdims, *arrays, kernel=func, axis=axis,
                          chunks=part_chunks,
                          dtype=dtype, meta=_meta(ndim, dtype), **options)
    if combine == "sum":
        return parts.sum(axis=axes, dtype=dtype)
    return da.reduction(parts, _logsumexp_of_partials, _logsumexp_of_partials,
                        combine=_logsumexp_of_partials, axis=axes, dtype=dtype,
                        meta=_meta(out_ndim, dtype))


def logsumexp(x, axis=-1):
    """``xentfast.logsumexp`` of a Dask array: partial results per block combined in a
    tree (any chunking; lazy)."""
    x = as_dask(x, "x")
    return _reduce(xentfast.logsumexp, (x,), axis, "logsumexp", real_dtype(x, "x"))


def entropy(p, axis=-1, base=None):
    """``xentfast.entropy`` of a Dask array: partial sums per block added in a tree (lazy)."""
    _checks.log_of_base(base)
    p = as_dask(p, "p")
    return _reduce(xentfast.entropy, (p,), axis, "sum", real_dtype(p, "p"), base=base)


def _distribution_pair(p, q):
    p, q = as_dask(p, "p"), as_dask(q, "q")
    dtypes = (real_dtype(p, "p"), real_dtype(q, "q"))
    dtype = np.dtype(np.float32) if dtypes == (np.float32,) * 2 else np.dtype(np.float64)
    _checks.broadcast_pair(_shape_only(p), "p", _shape_only(q), "q")
    p, q = da.broadcast_arrays(p, q)
    return p, q, dtype


def cross_entropy(p, q, axis=-1, base=None):
    """``xentfast.cross_entropy`` of Dask arrays (broadcast against each other): partial
    sums per block added in a tree (lazy)."""
    _checks.log_of_base(base)
    p, q, dtype = _distribution_pair(p, q)
    return _reduce(xentfast.cross_entropy, (p, q), axis, "sum", dtype, base=base)


def kl_divergence(p, q, axis=-1, base=None):
    """``xentfast.kl_divergence`` of Dask arrays (broadcast against each other): partial
    sums per block added in a tree (lazy)."""
    _checks.log_of_base(base)
    p, q, dtype = _distribution_pair(p, q)
    return _reduce(xentfast.kl_divergence, (p, q), axis, "sum", dtype, base=base)


# --- losses -------------------------------------------------------------------------

def _loss_task(*blocks, kernel, names, options, reduction, return_grad, denominator, sums_shape):
    """One block's loss: reduction="none" gives what ``kernel`` gives; "sum" and "mean"
    give (parts, gradient or None), parts shaped ``sums_shape`` (..., 3).  "sum":
    [the block's sum of losses, 0, 0] and the gradient of that sum.  "mean": the
    block's divisor as total · 2^n (``denominator``) and [the block's mean, total,
    n] with the gradient of that mean: the in-memory mean keeps its digits where
    the divisor overflows or is subnormal, and _combine_means weighs the blocks'
    means by their totals (a sum of the blocks' sums and divisors would not).  A
    block whose divisor is 0 gives its sum instead (0, or nan from 0 · nan), and
    with ``return_grad`` a third item, its own mean's gradient: the in-memory
    gradient where every divisor is 0 (nan, 0 in the rows of ignored samples)."""
    blocks = [aligned(b) for b in blocks]
    values, targets, extras = blocks[0], blocks[1], dict(zip(names, blocks[2:]))
    kwargs = dict(options, **extras)
    if return_grad:
        kwargs["return_grad"] = True
    if reduction == "none":
        return kernel(values, targets, reduction="none", **kwargs)
    total, exponent = 0.0, 0
    if reduction == "mean":
        total, exponent = denominator(values, targets, extras, options)
    result = kernel(values, targets, reduction="mean" if total > 0 else "sum", **kwargs)
    loss, grad = result if return_grad else (result, None)
    parts = np.array([float(loss), total, float(exponent)]).reshape(sums_shape)
    if reduction == "mean" and return_grad and not total > 0:
        return parts, grad, kernel(values, targets, reduction="mean", **kwargs)[1]
    return parts, grad


def _combine_means(parts):
    """[mean, D, top] from every block's [mean (or sum), total, n] (rows of ``parts``):
    the divisors total · 2^n share the scale 2^top, the largest n of a block with a
    divisor, so the mean is Σ mean_b share_b / D with share_b = total_b 2^(n_b -
    top) and D = Σ share_b (nan when every divisor is 0, as in memory)."""
    parts = parts.reshape(-1, 3)
    value, total, exponent = parts[:, 0], parts[:, 1], parts[:, 2]
    counted = total > 0
    top = exponent[counted].max() if counted.any() else 0.0
    share = np.where(counted, np.ldexp(total, (exponent - top).astype(np.int64)), 0.0)
    denominator = share.sum()
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        numerator = np.where(counted, value * share, value).sum()
        mean = numerator / denominator
    return np.array([mean, denominator, top])


def _finish_loss(total, reduction, loss_dtype):
    # The loss: the summed block sums, or the combined means ([mean, D, top]).
    return np.asarray(total[0], dtype=np.float64).astype(loss_dtype)


def _scale_gradient(task, combined):
    """A block's share of the gradient of the mean: its own mean's gradient times
    its divisor over the whole divisor (total_b 2^(n_b - top) / D); a block whose
    divisor is 0 gives its sum's gradient times 0 (nan stays nan); when every
    divisor is 0, its own mean's gradient, as in memory."""
    parts, grad = task[:2]
    total, exponent = parts.reshape(-1)[1:3]
    _, denominator, top = combined
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if total > 0:
            factor = np.ldexp(total, int(exponent - top)) / denominator
        elif denominator > 0:
            factor = 0.0
        else:
            return task[2]
        return (grad.astype(np.float64) * factor).astype(grad.dtype)


def _loss_graph(func, values, index, inputs, names, options, reduction, return_grad,
                denominator, batch_ndim, dtype):
    """The lazy loss (and gradient) of ``func`` over blocks.  ``values`` has
    blockwise index ``index``; ``inputs`` are (array, index) pairs chunked to
    match; the first ``batch_ndim`` axes are the samples (the rest, the class
    axis of softmax logits, is one block)."""
    ndim = len(index)
    task_options = dict(kernel=func, names=names, options=options, reduction=reduction,
                        return_grad=return_grad, denominator=denominator,
                        sums_shape=(1,) * batch_ndim + (3,))
    pairs = [x for array, ind in [(values, index)] + inputs for x in (array, ind)]
    if reduction == "none" and not return_grad:
        return da.blockwise(_loss_task, index[:batch_ndim], *pairs, dtype=dtype,
                            meta=_meta(batch_ndim, dtype), concatenate=True, **task_options)
    # Each task gives a tuple; the outputs are picked from it, block by block.
    tasks = da.blockwise(_loss_task, index, *pairs, dtype=object, meta=_meta(ndim, object),
                         concatenate=True, **task_options)
    batch_chunks = values.chunks[:batch_ndim]
    class_axis = tuple(range(batch_ndim, ndim))  # softmax: the class axis, one block
    if reduction == "none":
        if class_axis:
            # Picked with the class axis kept as 1, then dropped: dropping an axis of
            # tasks that give tuples would ask Dask to concatenate tuples.
            loss = da.map_blocks(_take_keepdims, tasks, 0, chunks=batch_chunks + ((1,),),
                                 dtype=dtype, meta=_meta(ndim, dtype))[..., 0]
        else:
            loss = da.map_blocks(_take, tasks, 0, dtype=dtype, meta=_meta(ndim, dtype))
        grad = da.map_blocks(_take, tasks, 1, dtype=dtype, meta=_meta(ndim, dtype))
        return loss, grad
    # The parts: one (1, ..., 1, 3) block per task, where the class axis (if any) was.
    sums_chunks = tuple((1,) * len(c) for c in batch_chunks) + ((3,),)
    sums = da.map_blocks(_take, tasks, 0, chunks=sums_chunks,
                         new_axis=() if class_axis else ndim, dtype=np.float64,
                         meta=_meta(batch_ndim + 1, np.float64))
    if reduction == "sum":
        total = sums.sum(axis=tuple(range(batch_ndim)), split_every=32)
    else:
        # three numbers per block, gathered into one task
        parts = sums.reshape(-1, 3).rechunk({0: -1})
        total = da.map_blocks(_combine_means, parts, chunks=((3,),), drop_axis=0,
                              dtype=np.float64, meta=_meta(1, np.float64))
    loss = da.map_blocks(_finish_loss, total, reduction=reduction, loss_dtype=dtype,
                         drop_axis=0, dtype=dtype, meta=_meta(0, dtype))
    if not return_grad:
        return loss
    if reduction == "mean":
        return loss, da.blockwise(_scale_gradient, index, tasks, index, total, "_",
                                  dtype=dtype, meta=_meta(ndim, dtype), concatenate=True)
    return loss, da.map_blocks(_take, tasks, 1, dtype=dtype, meta=_meta(ndim, dtype))


def _binary_denominator(values, targets, extras, options):
    dtype = _checks.as_real_array(values, "values").dtype
    weight = extras.get("weight")
    flat = None if weight is None else _layout.flat(_checks.as_dtype(weight, "weight", dtype))
    return losses._weight_total_parts(flat, values.size)


def _binary_loss(func, name, values, targets, weight, pos_weight, reduction, return_grad):
    _checks.check_reduction(reduction)
    values = as_dask(values, name)
    dtype = real_dtype(values, name)
    targets = as_dask(targets, "targets")
    _checks.as_dtype(np.empty(0, targets.dtype), "targets", dtype)
    _checks.check_same_shape(_shape_only(values), name, _shape_only(targets), "targets")
    index = _letters(values.ndim)
    inputs, names = [(targets.rechunk(values.chunks), index)], []
    for array, key in ((weight, "weight"), (pos_weight, "pos_weight")):
        if array is None:
            continue
        array = as_dask(array, key)
        _checks.as_dtype(np.empty(0, array.dtype), key, dtype)
        _checks.broadcast_to_shape(_shape_only(array), key, values.shape, name)
        array = da.broadcast_to(array, values.shape).rechunk(values.chunks)
        inputs.append((array, index))
        names.append(key)
    return _loss_graph(func, values, index, inputs, names, {}, reduction, return_grad,
                       _binary_denominator, values.ndim, dtype)


def binary_cross_entropy(probs, targets, *, weight=None, reduction="mean"):
    """``xentfast.binary_cross_entropy`` of Dask arrays (lazy); "sum" adds the
    blocks' sums in a tree, "mean" weighs their means by their divisors."""
    return _binary_loss(xentfast.binary_cross_entropy, "probs", probs, targets, weight, None,
                        reduction, False)


def binary_cross_entropy_with_logits(logits, targets, *, weight=None, pos_weight=None,
                                     reduction="mean", return_grad=False):
    """``xentfast.binary_cross_entropy_with_logits`` of Dask arrays (lazy); with
    ``return_grad=True`` the loss and the gradient (chunked like the logits) come
    from the same tasks: ``dask.compute(loss, grad)`` is one pass."""
    return _binary_loss(xentfast.binary_cross_entropy_with_logits, "logits", logits, targets,
                        weight, pos_weight, reduction, bool(return_grad))


def _softmax_denominator(values, targets, extras, options):
    inputs = _checks.prepare_softmax_loss(values, targets, extras.get("weight"),
                                          reduction="mean", check_indices=False, **options)
    return losses._softmax_denominator_parts(inputs)


def softmax_cross_entropy(logits, targets, *, weight=None, class_weight=None,
                          label_smoothing=0.0, ignore_index=None, reduction="mean",
                          return_grad=False):
    """``xentfast.softmax_cross_entropy`` of Dask arrays (lazy).  The class axis of the
    logits is rechunked to one block; targets and ``weight`` follow the logits'
    chunks; "sum" adds the blocks' sums in a tree, "mean" weighs their means by their
    divisors."""
    logits = as_dask(logits, "logits")
    targets = as_dask(targets, "targets")
    if isinstance(class_weight, da.Array):
        class_weight = class_weight.compute()  # (k,): small
    # Arguments and dtypes: the in-memory checks on a one-sample stand-in.
    one_sample = (1,) * max(logits.ndim - 1, 0) + logits.shape[-1:]
    index_kind = targets.dtype.kind in "iu"
    _checks.prepare_softmax_loss(
        np.zeros(one_sample, logits.dtype),
        np.zeros(one_sample[:-1] if index_kind else one_sample, targets.dtype),
        None if weight is None else np.zeros((), as_dask(weight, "weight").dtype),
        class_weight, label_smoothing, ignore_index, reduction)
    dtype = real_dtype(logits, "logits")
    batch_shape = logits.shape[:-1]
    if index_kind:
        _checks.class_index_targets(_shape_only(targets, np.intp), logits.shape[-1], None,
                                    batch_shape, check_values=False)
    elif targets.shape != logits.shape:
        raise ValueError(f"probability targets must have the logits' shape, got targets.shape="
                         f"{targets.shape} and logits.shape={logits.shape}")
    logits = logits.rechunk({logits.ndim - 1: -1})
    index = _letters(logits.ndim)
    batch = index[:-1]
    inputs = [(targets.rechunk(logits.chunks[:-1] if index_kind else logits.chunks),
               batch if index_kind else index)]
    names = []
    if weight is not None:
        weight = as_dask(weight, "weight")
        _checks.broadcast_to_shape(_shape_only(weight), "weight", batch_shape,
                                   "the logits' batch axes")
        inputs.append((da.broadcast_to(weight, batch_shape).rechunk(logits.chunks[:-1]), batch))
        names.append("weight")
    options = dict(class_weight=class_weight, label_smoothing=label_smoothing,
                   ignore_index=ignore_index)
    return _loss_graph(xentfast.softmax_cross_entropy, logits, index, inputs, names, options,
                       reduction, bool(return_grad), _softmax_denominator, logits.ndim - 1,
                       dtype)


__all__ = ["sigmoid", "log_sigmoid", "softplus", "logsumexp", "softmax", "log_softmax",
           "entropy", "binary_entropy", "cross_entropy", "kl_divergence",
           "binary_cross_entropy", "binary_cross_entropy_with_logits",
           "softmax_cross_entropy", "as_dask", "real_dtype"]
