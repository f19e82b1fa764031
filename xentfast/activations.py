"""Sigmoid, log-sigmoid, softplus, logsumexp, softmax and log-softmax.

Layer 3: check and lay out the arguments, then call the compiled kernels in
``_activations``.  No math here.
"""
import numpy as np

from xentfast import _checks, _layout
from xentfast._kernels import _activations
from xentfast._config import get_num_threads


_FLOAT_DTYPES = _checks.FLOAT_DTYPES


def _elementwise(name, x, out):
    function = _activations.FUNCTIONS[name]
    if (out is None and type(x) is np.ndarray and x.dtype in _FLOAT_DTYPES
            and x.flags.c_contiguous):
        # The common case, kept short for small inputs: nothing to convert or lay out.
        result = np.empty(x.shape, x.dtype)
        _activations.elementwise_map(function, x, result, get_num_threads())
        return result if result.ndim else result[()]
    x = _checks.prepare_elementwise(x, out)
    flat_x = _layout.flat(x)
    result = _layout.output_buffer(out, x.shape, x.dtype, flat_x)
    _activations.elementwise_map(function, flat_x, result, get_num_threads())
    return _layout.finish(result, out)


def sigmoid(x, out=None):
    """The logistic function σ(x) = 1 / (1 + e^-x), elementwise.

    float32 and float64 keep their dtype; other real input becomes float64.
    Accurate to 2 ulp (float64) and 1 ulp (float32); σ(±inf) = 1, 0.
    """
    return _elementwise("sigmoid", x, out)


def log_sigmoid(x, out=None):
    """log σ(x) = -log(1 + e^-x), elementwise, finite for every finite x."""
    return _elementwise("log_sigmoid", x, out)


def softplus(x, out=None):
    """log(1 + e^x), elementwise, without overflow."""
    return _elementwise("softplus", x, out)


def logsumexp(x, axis=-1):
    """log Σ e^x along ``axis`` (None: all elements).

    A slice with nan gives nan, with +inf gives +inf; an empty slice or one of
    only -inf gives -inf.
    """
    x = _checks.as_real_array(x, "x")
    axis = _checks.normalize_axis(axis, x.ndim)
    data, k, moved_shape = _layout.rows(x, axis)
    result = _layout.output_buffer(None, moved_shape[:-1], x.dtype)
    _activations.logsumexp_rows(data, k, result.reshape(-1), get_num_threads())
    return _layout.finish(result, None)


def _normalise(x, axis, out, take_log):
    x = _checks.as_real_array(x, "x")
    axis = _checks.normalize_axis(axis, x.ndim)
    if out is not None:
        _checks.check_out(out, x.shape, x.dtype)
    data, k, moved_shape = _layout.rows(x, axis)
    row_axis_is_last = axis is None or x.ndim == 0 or axis == x.ndim - 1
    target = out if row_axis_is_last else None
    result = _layout.output_buffer(target, moved_shape, x.dtype, data)
    _activations.softmax_rows(data, k, result.reshape(-1), take_log, get_num_threads())
    if result is not out:
        result = _layout.unmove(result, x.shape, axis)
    return _layout.finish(result, out)


def softmax(x, axis=-1, out=None):
    """e^x / Σ e^x along ``axis``.

    ±inf give the limits: a slice with exactly one +inf is one-hot there.  A
    slice with nan, with two or more +inf, or of only -inf has no limit: nan.
    """
    return _normalise(x, axis, out, take_log=False)


def log_softmax(x, axis=-1, out=None):
    """x - logsumexp(x) along ``axis``, with the limits and nan rules of ``softmax``."""
    return _normalise(x, axis, out, take_log=True)
