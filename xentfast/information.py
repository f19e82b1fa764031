"""Entropy, cross-entropy and KL divergence of distributions.

Layer 3: check and lay out the arguments, then call the compiled kernels in
``_information``.  No math here.  p and q are taken as given: never
renormalised.  Entries must lie in [0, 1]; nan propagates.
"""
import numpy as np

from xentfast import _checks, _layout, _validate
from xentfast._kernels import _information
from xentfast._config import get_num_threads


def _reduce_rows(measure, p, q, axis, base):
    """(result, values_ok): the measure (a name of _information.MEASURES) of the
    rows of p and q (q is p for entropy) along ``axis``; values_ok is False if the
    kernel found a probability outside [0, 1]."""
    log_base = _checks.log_of_base(base) or 1.0
    axis = _checks.normalize_axis(axis, p.ndim)
    if (p.ndim and axis == p.ndim - 1 and _validate.is_c_contiguous_aligned(p)
            and (q is p or _validate.is_c_contiguous_aligned(q))):
        # Rows along the last axis of C-contiguous arrays (the common case): the
        # kernel reads them as they are.
        p_rows, q_rows, k, lead_shape = p, q, p.shape[-1], p.shape[:-1]
    else:
        p_rows, k, moved_shape = _layout.rows(p, axis)
        q_rows = p_rows if q is p else _layout.rows(q, axis)[0]
        lead_shape = moved_shape[:-1]
    result = np.empty(lead_shape, p.dtype)
    values_ok = _information.measure_rows_kernel(
        _information.MEASURES[measure], p_rows, q_rows, k, result, log_base,
        get_num_threads())
    return _layout.finish(result, None), values_ok


# The kernels check that the probabilities lie in [0, 1] in their own pass;
# where they find one that does not, the checks run again here to raise.

def entropy(p, axis=-1, base=None):
    r"""The entropy H(p) = -Σ p log p of a distribution, along an axis.

    The average surprise of outcomes drawn from ``p``: 0 for a certain outcome,
    log k for k equally likely ones.

    Parameters
    ----------
    p : array_like
        Probabilities in [0, 1], taken as given: never renormalised or clipped.
        float32 and float64 keep their dtype; other real input is computed in
        float64.
    axis : int or None, default -1
        The axis along which the distribution lies; None takes all elements as
        one distribution.
    base : float, optional
        The base of the logarithm: None for nats (base e), 2 for bits.  Must be
        positive and not 1.

    Returns
    -------
    ndarray or NumPy scalar
        H(p) ≥ 0 for each distribution: p's shape without ``axis`` (a NumPy
        scalar when that is 0-d), in the working dtype.  An empty slice gives 0.

    Raises
    ------
    ValueError
        If a probability lies outside [0, 1] (nan propagates instead), the
        input holds no real numbers, or ``axis`` or ``base`` is invalid.

    See Also
    --------
    binary_entropy, cross_entropy, kl_divergence

    Notes
    -----
    .. math:: H(p) = -\sum_i p_i \log p_i, \qquad 0 \log 0 = 0

    A term with p = 0 is 0, without a branch (so the loop vectorises and
    log 0 = -inf never meets 0): a select, or for float32 on the AVX-512 kernel
    set the log of max(p, 2^-149), finite there.  Terms are summed in float64 in
    fixed blocks whose sums are added with compensation, so the result does not
    depend on the thread count.

    Examples
    --------
    >>> import numpy as np
    >>> import xentfast
    >>> xentfast.entropy(np.array([0.25, 0.25, 0.25, 0.25]))
    np.float64(1.3862943611198906)
    >>> xentfast.entropy(np.array([[0.5, 0.5], [1.0, 0.0], [0.9, 0.1]]), base=2)
    array([1.        , 0.        , 0.46899559])
    """
    arr = _checks.prepare_probabilities(p, "p", check_values=False)
    result, values_ok = _reduce_rows("entropy", arr, arr, axis, base)
    if not values_ok:
        _checks.prepare_probabilities(arr, "p")
    return result


def cross_entropy(p, q, axis=-1, base=None):
    r"""The cross-entropy H(p, q) = -Σ p log q, along an axis.

    The average surprise of outcomes drawn from the true distribution ``p``
    when they are coded with the model ``q``.  The order matters: H(p, q) =
    H(p) + KL(p ‖ q) ≥ H(p).

    Parameters
    ----------
    p : array_like
        The true distribution: probabilities in [0, 1], taken as given.
    q : array_like
        The model's distribution, probabilities in [0, 1]; broadcast against
        ``p``.  The result is float32 when both are float32, else float64.
    axis : int or None, default -1
        The axis along which the distribution lies; None takes all elements as
        one distribution.
    base : float, optional
        The base of the logarithm: None for nats (base e), 2 for bits.  Must be
        positive and not 1.

    Returns
    -------
    ndarray or NumPy scalar
        H(p, q) for each distribution (a NumPy scalar when there is one): +inf
        where some p > 0 meets q = 0.  An empty slice gives 0.

    Raises
    ------
    ValueError
        If a probability lies outside [0, 1], ``p`` and ``q`` do not broadcast
        (both shapes are named), or ``axis`` or ``base`` is invalid.

    See Also
    --------
    entropy, kl_divergence, softmax_cross_entropy

    Notes
    -----
    .. math:: H(p, q) = -\sum_i p_i \log q_i, \qquad 0 \log q = 0 \text{ for every } q

    A term with p = 0 is 0 even where q = 0 (a select, not 0 · -inf = nan).
    Terms are summed in float64 in fixed blocks whose sums are added with
    compensation, so the result does not depend on the thread count.

    Examples
    --------
    >>> import numpy as np
    >>> import xentfast
    >>> p, q = np.array([0.8, 0.2]), np.array([0.5, 0.5])
    >>> xentfast.cross_entropy(p, q)
    np.float64(0.6931471805599453)
    >>> xentfast.cross_entropy(p, np.array([1.0, 0.0]))
    np.float64(inf)
    """
    return _pair_measure("cross_entropy", p, q, axis, base)


def kl_divergence(p, q, axis=-1, base=None):
    r"""The Kullback-Leibler divergence KL(p ‖ q) = Σ p log(p / q), along an axis.

    How many more nats (bits with ``base=2``) coding outcomes of ``p`` with
    ``q`` costs than coding them with ``p`` itself: H(p, q) - H(p) ≥ 0.

    Parameters
    ----------
    p : array_like
        The true distribution: probabilities in [0, 1], taken as given.
    q : array_like
        The model's distribution, probabilities in [0, 1]; broadcast against
        ``p``.  The result is float32 when both are float32, else float64.
    axis : int or None, default -1
        The axis along which the distribution lies; None takes all elements as
        one distribution.
    base : float, optional
        The base of the logarithm: None for nats (base e), 2 for bits.  Must be
        positive and not 1.

    Returns
    -------
    ndarray or NumPy scalar
        KL(p ‖ q) for each distribution (a NumPy scalar when there is one):
        +inf where some p > 0 meets q = 0.  An empty slice gives 0.

    Raises
    ------
    ValueError
        If a probability lies outside [0, 1], ``p`` and ``q`` do not broadcast
        (both shapes are named), or ``axis`` or ``base`` is invalid.

    See Also
    --------
    cross_entropy, entropy

    Notes
    -----
    .. math:: \mathrm{KL}(p \,\|\, q) = \sum_i p_i \log\frac{p_i}{q_i}

    Computed term by term, not as H(p, q) - H(p), which cancels when q is close
    to p.  Where p and q are within a factor 2, p - q is exact (Sterbenz) and
    log(p / q) = log1p((p - q) / q) keeps the digits of a small difference;
    each float64 term is within 2.5 ulp of exact, each float32 term within 0.58
    ulp (computed in float32 on the AVX-512 kernel set; elsewhere in float64 and
    rounded once, 0.501 ulp).  Terms are summed in float64
    in fixed blocks whose sums are added with compensation, so the result does
    not depend on the thread count.

    Examples
    --------
    >>> import numpy as np
    >>> import xentfast
    >>> xentfast.kl_divergence(np.array([0.8, 0.2]), np.array([0.5, 0.5]))
    np.float64(0.19274475702175747)
    >>> a = np.array([0.3, 0.7])
    >>> float(xentfast.kl_divergence(a, a + [1e-12, -1e-12]))   # tiny, and accurate
    2.3809715385742667e-24
    """
    return _pair_measure("kl_divergence", p, q, axis, base)


def _pair_measure(measure, p, q, axis, base):
    p_arr, q_arr = _checks.prepare_distribution_pair(p, q, check_values=False)
    result, values_ok = _reduce_rows(measure, p_arr, q_arr, axis, base)
    if not values_ok or p_arr.size == 0:
        # an empty broadcast hides the values of a non-empty p or q from the kernel
        _checks.prepare_distribution_pair(p, q)
    return result


def binary_entropy(p, base=None):
    r"""The entropy of a Bernoulli(p) outcome, elementwise.

    For a logistic model's output p = σ(z): its uncertainty, at most one bit
    (log 2 nats) at p = 0.5.

    Parameters
    ----------
    p : array_like
        Probabilities in [0, 1].  float32 and float64 keep their dtype; other
        real input is computed in float64.
    base : float, optional
        The base of the logarithm: None for nats (base e), 2 for bits.  Must be
        positive and not 1.

    Returns
    -------
    ndarray or NumPy scalar
        H(p) in [0, log 2] (one bit with ``base=2``), of p's shape and working
        dtype; a NumPy scalar for a 0-d ``p``.

    Raises
    ------
    ValueError
        If a probability lies outside [0, 1] (nan propagates instead), the
        input holds no real numbers, or ``base`` is invalid.

    See Also
    --------
    entropy

    Notes
    -----
    .. math:: H(p) = -p \log p - (1 - p) \log(1 - p), \qquad 0 \log 0 = 0

    For tiny p, 1 - p rounds to 1 and log(1 - p) would lose every digit of -p.
    xentfast splits 1 - p exactly into hi + lo (Fast2Sum) and computes
    log(1 - p) = log(hi) + lo / hi, so the second term keeps its accuracy.
    Within 1.6 ulp in float64.

    Examples
    --------
    >>> import numpy as np
    >>> import xentfast
    >>> xentfast.binary_entropy(np.array([0.0, 1e-20, 0.5, 0.9]), base=2)
    array([0.00000000e+00, 6.78812569e-19, 1.00000000e+00, 4.68995594e-01])
    """
    # The kernel checks that the probabilities lie in [0, 1] in its own pass.
    if (type(p) is np.ndarray and p.dtype in _checks.FLOAT_DTYPES
            and _validate.is_c_contiguous_aligned(p)):
        arr = p   # the common case, kept short for small inputs
    else:
        # (not np.ascontiguousarray: it makes a 0-d array 1-d)
        arr = _layout.contiguous(_checks.prepare_probabilities(p, "p", check_values=False))
    try:
        log_base = _checks.log_of_base(base) or 1.0
    except ValueError:
        _checks.prepare_probabilities(arr, "p")   # a bad p is reported first
        raise
    result = np.empty_like(arr)
    if not _information.binary_entropy_map(arr, result, log_base, get_num_threads()):
        _checks.prepare_probabilities(arr, "p")
    return result if result.ndim else result[()]
