"""Argument checking and conversion shared by the public API and the reference.

Nothing here computes a result: it turns user input into arrays of a known
dtype and shape, or raises a ValueError that names the problem.  The compiled
API and ``reference.py`` both call these helpers, so they accept and reject
exactly the same inputs; the tests then compare only the numbers.
"""
import math
import operator

import numpy as np

from xentfast import _validate

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
INTP = np.dtype(np.intp)
INTP_RANGE = np.iinfo(np.intp)
REDUCTIONS = ("none", "sum", "mean")
# np.asarray that also copies an array not aligned for its dtype (a view at an
# odd byte offset of a buffer): the kernels read through typed pointers.  Bound
# once: it runs for every argument.
_asarray = _validate.aligned_array


def as_real_array(a, name):
    """``a`` as an ndarray of float32 or float64, without copying when it already is one.

    float32 and float64 are kept; every other real dtype (ints, bools, float16,
    longdouble) becomes float64.  Complex, object, string and time dtypes raise.
    An array not aligned for its dtype (a view at an odd byte offset of a buffer)
    is copied: the kernels read through typed pointers.
    """
    if type(a) is not np.ndarray and hasattr(a, "nnz") and hasattr(a, "tocsr"):
        raise TypeError(f"{name} is a scipy.sparse {type(a).__name__}, but this function takes "
                        f"dense arrays: convert it with .toarray() (logistic_loss_and_grad "
                        f"and LogisticRegression take sparse X)")
    arr = _asarray(a)
    if arr.dtype in FLOAT_DTYPES:
        return arr
    if arr.dtype.kind == "f" and arr.dtype.newbyteorder("=") in FLOAT_DTYPES:
        # byte-swapped float32/float64: keep the precision, in native byte order
        return arr.astype(arr.dtype.newbyteorder("="))
    if arr.dtype.kind in "biuf":
        return arr.astype(np.float64)
    raise ValueError(f"{name} must hold real numbers, got dtype {arr.dtype}")


def as_dtype(a, name, dtype):
    """A real array-like converted to ``dtype`` (no copy when it already has it and
    is aligned)."""
    arr = _asarray(a)
    if arr.dtype.kind not in "biuf":
        raise ValueError(f"{name} must hold real numbers, got dtype {arr.dtype}")
    return arr.astype(dtype, copy=False)


_FLOAT32 = np.dtype(np.float32)
_FLOAT64 = np.dtype(np.float64)


def common_float_dtype(*arrays):
    """float32 when every array is float32, else float64."""
    for arr in arrays:
        if arr.dtype != _FLOAT32:
            return _FLOAT64
    return _FLOAT32


def is_float_pair(a, b):
    """Whether a and b are plain ndarrays of one shape and one float32/float64
    dtype in native byte order: what as_real_array, as_dtype and check_same_shape
    would return unchanged."""
    return (type(a) is np.ndarray and type(b) is np.ndarray and a.dtype in FLOAT_DTYPES
            and b.dtype == a.dtype and a.shape == b.shape)


def check_same_shape(a, a_name, b, b_name):
    if a.shape != b.shape:
        raise ValueError(
            f"{a_name} and {b_name} must have the same shape, got {a_name}.shape={a.shape} "
            f"and {b_name}.shape={b.shape}")


def broadcast_pair(a, a_name, b, b_name):
    """Broadcast two arrays against each other, naming both shapes on failure."""
    if a.shape == b.shape:
        return a, b
    try:
        return np.broadcast_arrays(a, b)
    except ValueError:
        raise ValueError(
            f"{a_name} and {b_name} have shapes that do not broadcast: {a_name}.shape={a.shape}, "
            f"{b_name}.shape={b.shape}") from None


def broadcast_to_shape(a, name, shape, target_name):
    """Broadcast ``a`` to ``shape`` (the shape of ``target_name``), naming both on failure."""
    try:
        return np.broadcast_to(a, shape)
    except ValueError:
        raise ValueError(
            f"{name} must broadcast to the shape of {target_name}, got {name}.shape={np.shape(a)} "
            f"and {target_name}.shape={tuple(shape)}") from None


def normalize_axis(axis, ndim):
    """A non-negative axis for an array of ``ndim`` dimensions, or None for all axes.

    A 0-d array is treated as holding one element along axis 0 (as NumPy's
    reductions do), so axis 0 and -1 are accepted for it.
    """
    if axis is None:
        return None
    if type(axis) is int and -1 <= axis < ndim:
        return axis % max(ndim, 1)   # the usual axes, without the checks below
    try:
        axis = operator.index(axis)
    except TypeError:
        raise ValueError(f"axis must be an integer or None, got {axis!r}") from None
    size = max(ndim, 1)
    if not -size <= axis < size:
        raise np.exceptions.AxisError(axis, size)
    return axis % size


def _flat(arr):
    return _validate.c_contiguous_aligned(arr).reshape(-1)


def check_unit_interval(arr, name, allow_nan):
    """Raise unless every entry of a float array lies in [0, 1] (nan allowed when ``allow_nan``)."""
    values = _flat(arr)
    first = _validate.first_outside_unit_interval(values, allow_nan)
    if first >= 0:
        raise ValueError(f"{name} must lie in [0, 1], found {float(values[first])!r}")


def check_weights(arr, name):
    """Raise unless every weight of a float array is finite and non-negative."""
    values = _flat(arr)
    first = _validate.first_bad_weight(values)
    if first >= 0:
        raise ValueError(f"{name} must be finite and non-negative, found {float(values[first])!r}")


def check_reduction(reduction):
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")


def log_of_base(base):
    """log(base) to divide nats by, or None for nats."""
    if base is None:
        return None
    try:
        value = float(base)
    except (TypeError, ValueError):
        raise ValueError(f"base must be a positive number other than 1, got {base!r}") from None
    if not (value > 0 and value != 1 and math.isfinite(value)):
        raise ValueError(f"base must be a positive number other than 1, got {base!r}")
    return math.log(value)


def check_out(out, shape, dtype):
    """Validate a user-supplied ``out`` array for a result of ``shape`` and ``dtype``."""
    if not isinstance(out, np.ndarray):
        raise ValueError(f"out must be a numpy.ndarray, got {type(out).__name__}")
    if out.shape != tuple(shape):
        raise ValueError(f"out has shape {out.shape}, expected {tuple(shape)}")
    if out.dtype != dtype:
        raise ValueError(f"out has dtype {out.dtype}, expected {dtype}")
    if not out.flags.writeable:
        raise ValueError("out is read-only")
    return out


def class_index_targets(targets, n_classes, ignore_index, batch_shape, check_values=True):
    """Integer class targets as an intp array of ``batch_shape``; raises on any bad index
    (``check_values=False``: the caller's kernel checks the indices in its own pass)."""
    if targets.shape != tuple(batch_shape):
        raise ValueError(
            f"class-index targets must have the logits' shape without the class axis, "
            f"got targets.shape={targets.shape} for logits of batch shape {tuple(batch_shape)}")
    if (targets.dtype != INTP and not np.can_cast(targets.dtype, INTP) and targets.size
            and (targets.min() < INTP_RANGE.min or targets.max() > INTP_RANGE.max)):
        raise ValueError("targets hold class indices too large for this platform")
    index = _asarray(targets.astype(INTP, copy=False))
    if not check_values:
        return index
    flat_index = _flat(index)
    first = _validate.first_bad_class_index(
        flat_index, n_classes, -1 if ignore_index is None else ignore_index,
        ignore_index is not None)
    if first >= 0:
        value = int(flat_index[first])
        raise ValueError(
            f"targets must be class indices in [0, {n_classes})"
            + (f" or ignore_index={ignore_index}" if ignore_index is not None else "")
            + f", found {value}")
    return index


def check_ignore_index(ignore_index):
    if ignore_index is None:
        return None
    try:
        value = operator.index(ignore_index)
    except TypeError:
        raise ValueError(f"ignore_index must be an integer or None, got {ignore_index!r}") from None
    if not INTP_RANGE.min <= value <= INTP_RANGE.max:
        raise ValueError(f"ignore_index={ignore_index} does not fit in a platform integer")
    return value


def check_label_smoothing(label_smoothing):
    try:
        value = float(label_smoothing)
    except (TypeError, ValueError):
        raise ValueError(f"label_smoothing must be a number in [0, 1], "
                         f"got {label_smoothing!r}") from None
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"label_smoothing must lie in [0, 1], got {label_smoothing!r}")
    return value


# ---------------------------------------------------------------------------
# Whole-signature preparation, one per family of public functions.

def prepare_elementwise(x, out, name="x"):
    """x as a float array for an elementwise map; ``out`` checked against it."""
    arr = as_real_array(x, name)
    if out is not None:
        check_out(out, arr.shape, arr.dtype)
    return arr


def prepare_probabilities(p, name, check_values=True):
    """A float array of probabilities; entries outside [0, 1] raise, nan passes through.

    ``check_values=False`` leaves that check to a kernel that makes it in its own
    pass (the caller then calls this again with the check if the kernel reports one).
    """
    arr = as_real_array(p, name)
    if check_values:
        check_unit_interval(arr, name, allow_nan=True)
    return arr


def prepare_distribution_pair(p, q, check_values=True):
    """p and q broadcast against each other in their common float dtype (see
    prepare_probabilities for ``check_values``)."""
    if not check_values and is_float_pair(p, q):
        # The common case, kept short for small inputs: nothing to convert (the
        # caller's layout step copies an unaligned array).
        return p, q
    p = prepare_probabilities(p, "p", check_values)
    q = prepare_probabilities(q, "q", check_values)
    dtype = common_float_dtype(p, q)
    p, q = broadcast_pair(p.astype(dtype, copy=False), "p", q.astype(dtype, copy=False), "q")
    return p, q


class BinaryLossInputs:
    """Checked inputs of binary_cross_entropy[_with_logits].

    ``weight`` and ``pos_weight`` are None or read-only broadcast views of the
    values' shape, in the values' dtype.
    """
    __slots__ = ("values", "targets", "weight", "pos_weight", "reduction")

    def __init__(self, values, targets, weight, pos_weight, reduction):
        self.values = values
        self.targets = targets
        self.weight = weight
        self.pos_weight = pos_weight
        self.reduction = reduction


def prepare_binary_loss(values, values_name, targets, weight, pos_weight, reduction,
                        check_targets=True):
    """Checked inputs; ``check_targets=False`` leaves the targets' range to a kernel
    that checks it in its own pass (then call check_unit_interval if it reports one)."""
    check_reduction(reduction)
    values = as_real_array(values, values_name)
    if values_name == "probs":
        check_unit_interval(values, "probs", allow_nan=True)
    dtype = values.dtype
    targets = as_dtype(targets, "targets", dtype)
    check_same_shape(values, values_name, targets, "targets")
    if check_targets:
        check_unit_interval(targets, "targets", allow_nan=False)
    broadcast = []
    for arr, name in ((weight, "weight"), (pos_weight, "pos_weight")):
        if arr is not None:
            arr = as_dtype(arr, name, dtype)
            check_weights(arr, name)
            arr = broadcast_to_shape(arr, name, values.shape, values_name)
        broadcast.append(arr)
    return BinaryLossInputs(values, targets, broadcast[0], broadcast[1], reduction)


class SoftmaxLossInputs:
    """Checked inputs of softmax_cross_entropy.

    ``targets`` is an intp array of the batch shape when ``index_targets``, else a
    float array of the logits' shape.  ``weight`` is None or a broadcast view of
    the batch shape; ``class_weight`` is None or a (k,) array.
    """
    __slots__ = ("logits", "targets", "index_targets", "weight", "class_weight",
                 "label_smoothing", "ignore_index", "reduction")

    def __init__(self, logits, targets, index_targets, weight, class_weight, label_smoothing,
                 ignore_index, reduction):
        self.logits = logits
        self.targets = targets
        self.index_targets = index_targets
        self.weight = weight
        self.class_weight = class_weight
        self.label_smoothing = label_smoothing
        self.ignore_index = ignore_index
        self.reduction = reduction


def prepare_softmax_loss(logits, targets, weight, class_weight, label_smoothing, ignore_index,
                         reduction, check_indices=True):
    """Checked inputs; ``check_indices=False`` leaves the range of class indices to
    the kernel, which checks them before use, unless class_weight is given (the
    denominator of "mean" reads class_weight at every index before the kernel runs)."""
    check_reduction(reduction)
    logits = as_real_array(logits, "logits")
    if logits.ndim == 0:
        raise ValueError("logits must have a class axis (the last one); got a 0-d array")
    n_classes = logits.shape[-1]
    if n_classes == 0:
        raise ValueError("logits must have at least one class along the last axis")
    batch_shape = logits.shape[:-1]
    dtype = logits.dtype
    label_smoothing = check_label_smoothing(label_smoothing)
    ignore_index = check_ignore_index(ignore_index)
    targets = _asarray(targets)
    if targets.dtype.kind in "iu":
        targets = class_index_targets(targets, n_classes, ignore_index, batch_shape,
                                      check_indices or class_weight is not None)
        index_targets = True
    elif targets.dtype.kind == "f":
        if ignore_index is not None:
            raise ValueError("ignore_index applies to class-index targets only; "
                             "targets here are probabilities")
        targets = targets.astype(dtype, copy=False)
        if targets.shape != logits.shape:
            raise ValueError(
                f"probability targets must have the logits' shape, got targets.shape="
                f"{targets.shape} and logits.shape={logits.shape}")
        check_unit_interval(targets, "targets", allow_nan=False)
        index_targets = False
    else:
        raise ValueError("targets must be integer class indices or floating-point "
                         f"probabilities, got dtype {targets.dtype}")
    if weight is not None:
        weight = as_dtype(weight, "weight", dtype)
        check_weights(weight, "weight")
        weight = broadcast_to_shape(weight, "weight", batch_shape, "the logits' batch axes")
    if class_weight is not None:
        class_weight = as_dtype(class_weight, "class_weight", dtype)
        if class_weight.shape != (n_classes,):
            raise ValueError(f"class_weight must have shape ({n_classes},), "
                             f"got {class_weight.shape}")
        check_weights(class_weight, "class_weight")
    return SoftmaxLossInputs(logits, targets, index_targets, weight, class_weight,
                             label_smoothing, ignore_index, reduction)
