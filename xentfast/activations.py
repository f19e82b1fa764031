"""Sigmoid, log-sigmoid, softplus, logsumexp, softmax and log-softmax.

Layer 3: check and lay out the arguments, then call the compiled kernels in
``_activations``.  No math here.
"""
import numpy as np

from xentfast import _checks, _layout, _validate
from xentfast._kernels import _activations
from xentfast._config import get_num_threads


_FLOAT_DTYPES = _checks.FLOAT_DTYPES
# What the short paths' kernels take as raw pointers (an unaligned array is not).
_is_c_contiguous_aligned = _validate.is_c_contiguous_aligned
_direct_out = _validate.direct_out


def _elementwise(name, x, out):
    function = _activations.FUNCTIONS[name]
    if (type(x) is np.ndarray and x.dtype in _FLOAT_DTYPES
            and _is_c_contiguous_aligned(x)):
        # The common cases, kept short for small inputs: nothing to convert or lay out.
        if out is None:
            result = np.empty(x.shape, x.dtype)
            _activations.elementwise_map(function, x, result, get_num_threads())
            return result if result.ndim else result[()]
        if _direct_out(x, out, True) is not None:
            _activations.elementwise_map(function, x, out, get_num_threads())
            return out
    x = _checks.prepare_elementwise(x, out)
    flat_x = _layout.flat(x)
    result = _layout.output_buffer(out, x.shape, x.dtype, flat_x)
    _activations.elementwise_map(function, flat_x, result, get_num_threads())
    return _layout.finish(result, out)


def sigmoid(x, out=None):
    r"""The logistic function σ(x) = 1 / (1 + e^-x), elementwise.

    The probability that a logistic model with logit ``x`` gives the positive
    class.

    Parameters
    ----------
    x : array_like
        Real numbers.  float32 and float64 keep their dtype; other real input
        (ints, bools, float16, nested lists) is computed in float64.
    out : ndarray, optional
        Where to write the result: an array of x's shape and of the result's
        dtype, writeable.  It is returned.

    Returns
    -------
    ndarray or NumPy scalar
        σ(x), of x's shape and working dtype, in [0, 1]; a NumPy scalar for a
        0-d ``x``.  ``out`` if it was given.

    Raises
    ------
    ValueError
        If ``x`` holds no real numbers (complex, strings, objects) or ``out``
        has another shape or dtype or is read-only.

    See Also
    --------
    log_sigmoid : log σ(x), without underflow.

    Notes
    -----
    .. math:: \sigma(x) = \frac{1}{1 + e^{-x}} = \frac{e^{x}}{1 + e^{x}}

    The first form overflows e^-x for x below about -709 (float64).  xentfast
    computes e = ``exp(-|x|)``, which never overflows, and returns 1 / (1 + e) for
    x ≥ 0 and e / (1 + e) below: the numerator is chosen by a select, not a
    branch, so the loop vectorises.  Within 2 ulp in float64 and 1 ulp in float32
    (computed in float32 with error-free steps on the AVX2 and AVX-512 kernel sets,
    in double and rounded once on the baseline).  σ(+inf) = 1, σ(-inf) = 0, nan
    propagates.

    Examples
    --------
    >>> import numpy as np
    >>> import xentfast
    >>> xentfast.sigmoid(np.array([-800.0, -1.0, 0.0, 1.0, 800.0]))
    array([0.        , 0.26894142, 0.5       , 0.73105858, 1.        ])
    >>> xentfast.sigmoid(np.float32(2.0))
    np.float32(0.8807971)
    """
    return _elementwise("sigmoid", x, out)


def log_sigmoid(x, out=None):
    r"""log σ(x) = -log(1 + e^-x), elementwise, finite for every finite x.

    The log-probability of the positive class under a logistic model; log σ(-x)
    is that of the negative class.

    Parameters
    ----------
    x : array_like
        Real numbers.  float32 and float64 keep their dtype; other real input
        (ints, bools, float16, nested lists) is computed in float64.
    out : ndarray, optional
        Where to write the result: an array of x's shape and of the result's
        dtype, writeable.  It is returned.

    Returns
    -------
    ndarray or NumPy scalar
        log σ(x) ≤ 0, of x's shape and working dtype; a NumPy scalar for a 0-d
        ``x``.  ``out`` if it was given.

    Raises
    ------
    ValueError
        If ``x`` holds no real numbers or ``out`` does not fit.

    See Also
    --------
    sigmoid, softplus : log σ(x) = -softplus(-x).

    Notes
    -----
    .. math:: \log\sigma(x) = \min(x, 0) - \log\left(1 + e^{-|x|}\right)

    ``log(sigmoid(x))`` underflows to -inf for x below about -745, and
    ``-log1p(exp(-x))`` overflows there.  The form above never overflows
    (``exp(-|x|) <= 1``) and has no cancellation: min(x, 0) and the log1p term have the same
    sign.  Within 2 ulp in float64 and 1 ulp in float32.  log σ(+inf) = 0,
    log σ(-inf) = -inf.

    Examples
    --------
    >>> import numpy as np
    >>> import xentfast
    >>> xentfast.log_sigmoid(np.array([-1000.0, 0.0, 40.0]))
    array([-1.00000000e+03, -6.93147181e-01, -4.24835426e-18])
    """
    return _elementwise("log_sigmoid", x, out)


def softplus(x, out=None):
    r"""softplus(x) = log(1 + e^x), elementwise, without overflow.

    The smooth approximation of max(x, 0), and the loss -log σ(-x) of a logistic
    model's negative class.

    Parameters
    ----------
    x : array_like
        Real numbers.  float32 and float64 keep their dtype; other real input
        (ints, bools, float16, nested lists) is computed in float64.
    out : ndarray, optional
        Where to write the result: an array of x's shape and of the result's
        dtype, writeable.  It is returned.

    Returns
    -------
    ndarray or NumPy scalar
        log(1 + e^x) > 0, of x's shape and working dtype; a NumPy scalar for a
        0-d ``x``.  ``out`` if it was given.

    Raises
    ------
    ValueError
        If ``x`` holds no real numbers or ``out`` does not fit.

    See Also
    --------
    log_sigmoid : softplus(x) = -log_sigmoid(-x).

    Notes
    -----
    .. math:: \operatorname{softplus}(x) = \max(x, 0) + \log\left(1 + e^{-|x|}\right)

    e^x overflows for x above about 709 (float64); ``exp(-|x|)`` never does, and both
    terms are non-negative, so nothing cancels.  Within 2 ulp in float64 and
    1 ulp in float32.  softplus(+inf) = +inf, softplus(-inf) = 0.

    Examples
    --------
    >>> import numpy as np
    >>> import xentfast
    >>> xentfast.softplus(np.array([-40.0, 0.0, 1000.0]))
    array([4.24835426e-18, 6.93147181e-01, 1.00000000e+03])
    """
    return _elementwise("softplus", x, out)


def logsumexp(x, axis=-1):
    r"""log Σ e^x along an axis.

    The log-normaliser of a softmax model: log_softmax(x) = x - logsumexp(x).

    Parameters
    ----------
    x : array_like
        Real numbers.  float32 and float64 keep their dtype; other real input
        (ints, bools, float16, nested lists) is computed in float64.
    axis : int or None, default -1
        The axis along which the classes lie; None takes all elements as one
        slice.

    Returns
    -------
    ndarray or NumPy scalar
        The input's shape without ``axis`` (a NumPy scalar when that is 0-d),
        in the working dtype.  An empty slice gives -inf.

    Raises
    ------
    ValueError
        If ``x`` holds no real numbers or ``axis`` is out of range.

    See Also
    --------
    softmax, log_softmax

    Notes
    -----
    .. math:: \log\sum_j e^{x_j} = m + \log\left(1 + \sum_{j \ne j^*} e^{x_j - m}\right),
       \qquad m = x_{j^*} = \max_j x_j

    Shifting by the max keeps every exponent ≤ 0, so nothing overflows; leaving
    the max out of the sum and taking log1p of the rest is more accurate than
    the log of the full sum when one term dominates (Blanchard, Higham and
    Higham, 2021).  A slice with nan gives nan, with +inf gives +inf; an empty
    slice or one of only -inf gives -inf.  Sums are accumulated in float64.

    Examples
    --------
    >>> import numpy as np
    >>> import xentfast
    >>> xentfast.logsumexp(np.array([1000.0, 1000.0]))
    np.float64(1000.6931471805599)
    >>> xentfast.logsumexp(np.zeros((2, 4)), axis=1)
    array([1.38629436, 1.38629436])
    """
    if _rows_are_last_axis(x, axis):
        # The common case, kept short for small inputs: nothing to convert or lay out.
        result = np.empty(x.shape[:-1], x.dtype)
        _activations.logsumexp_rows(x, x.shape[-1], result, get_num_threads())
        return result if result.ndim else result[()]
    x = _checks.as_real_array(x, "x")
    axis = _checks.normalize_axis(axis, x.ndim)
    data, k, moved_shape = _layout.rows(x, axis)
    result = _layout.output_buffer(None, moved_shape[:-1], x.dtype)
    _activations.logsumexp_rows(data, k, result, get_num_threads())
    return _layout.finish(result, None)


def _rows_are_last_axis(x, axis):
    """Whether ``x`` is a C-contiguous aligned float array of at least one dimension
    whose rows lie along ``axis``, its last axis, given as -1 or ndim - 1: then the
    row kernels take it as it is."""
    return (type(x) is np.ndarray and type(axis) is int and x.dtype in _FLOAT_DTYPES
            and x.ndim and (axis == -1 or axis == x.ndim - 1)
            and _is_c_contiguous_aligned(x))


def _normalise(x, axis, out, take_log):
    if _rows_are_last_axis(x, axis):
        # The common cases, kept short for small inputs.  The row kernels may read a
        # row again after writing part of it, so out must lie apart from x here.
        result = np.empty(x.shape, x.dtype) if out is None else _direct_out(x, out, False)
        if result is not None:
            _activations.softmax_rows(x, x.shape[-1], result, take_log, get_num_threads())
            return result
    x = _checks.prepare_elementwise(x, out)  # out first, as the reference checks
    axis = _checks.normalize_axis(axis, x.ndim)
    data, k, moved_shape = _layout.rows(x, axis)
    row_axis_is_last = axis is None or x.ndim == 0 or axis == x.ndim - 1
    target = out if row_axis_is_last else None
    result = _layout.output_buffer(target, moved_shape, x.dtype, data)
    _activations.softmax_rows(data, k, result, take_log, get_num_threads())
    if result is not out:
        result = _layout.unmove(result, x.shape, axis)
    return _layout.finish(result, out)


def softmax(x, axis=-1, out=None):
    r"""The softmax e^x / Σ e^x along an axis.

    The class probabilities of a softmax (multinomial logistic) model with
    logits ``x``.

    Parameters
    ----------
    x : array_like
        Real numbers.  float32 and float64 keep their dtype; other real input
        (ints, bools, float16, nested lists) is computed in float64.
    axis : int or None, default -1
        The axis along which the classes lie; None takes all elements as one
        slice.
    out : ndarray, optional
        Where to write the result: an array of x's shape and of the result's
        dtype, writeable.  It is returned.

    Returns
    -------
    ndarray or NumPy scalar
        Probabilities of x's shape and working dtype, summing to 1 along
        ``axis``; a NumPy scalar for a 0-d ``x``.  ``out`` if it was given.

    Raises
    ------
    ValueError
        If ``x`` holds no real numbers, ``axis`` is out of range, or ``out``
        does not fit.

    See Also
    --------
    log_softmax, logsumexp, softmax_cross_entropy

    Notes
    -----
    .. math:: \operatorname{softmax}(x)_i = \frac{e^{x_i - m}}{\sum_j e^{x_j - m}},
       \qquad m = \max_j x_j

    Shifting by the max changes nothing mathematically and keeps every exponent
    ≤ 0, so nothing overflows.  Infinities give the limits: a slice with exactly
    one +inf is one-hot there.  A slice with nan, with two or more +inf, or of
    only -inf has no limit and gives nan.

    Examples
    --------
    >>> import numpy as np
    >>> import xentfast
    >>> xentfast.softmax(np.array([1.0, 2.0, 3.0]))
    array([0.09003057, 0.24472847, 0.66524096])
    >>> xentfast.softmax(np.array([1e4, 0.0, -np.inf]))
    array([1., 0., 0.])
    """
    return _normalise(x, axis, out, take_log=False)


def log_softmax(x, axis=-1, out=None):
    r"""log softmax(x) = x - logsumexp(x) along an axis.

    The log-probabilities of a softmax model, exact where softmax underflows.

    Parameters
    ----------
    x : array_like
        Real numbers.  float32 and float64 keep their dtype; other real input
        (ints, bools, float16, nested lists) is computed in float64.
    axis : int or None, default -1
        The axis along which the classes lie; None takes all elements as one
        slice.
    out : ndarray, optional
        Where to write the result: an array of x's shape and of the result's
        dtype, writeable.  It is returned.

    Returns
    -------
    ndarray or NumPy scalar
        Log-probabilities ≤ 0 of x's shape and working dtype; a NumPy scalar
        for a 0-d ``x``.  ``out`` if it was given.

    Raises
    ------
    ValueError
        If ``x`` holds no real numbers, ``axis`` is out of range, or ``out``
        does not fit.

    See Also
    --------
    softmax, logsumexp

    Notes
    -----
    .. math:: \log\operatorname{softmax}(x)_i = (x_i - m) - \log\left(1 + \sum_{j \ne j^*}
       e^{x_j - m}\right)

    with m the max at j*, as in :func:`logsumexp`.  ``log(softmax(x))`` gives
    -inf where softmax underflows to 0; this form stays finite.  The limits and
    nan rules are those of :func:`softmax`.

    Examples
    --------
    >>> import numpy as np
    >>> import xentfast
    >>> xentfast.log_softmax(np.array([0.0, 1000.0]))
    array([-1000.,     0.])
    """
    return _normalise(x, axis, out, take_log=True)
