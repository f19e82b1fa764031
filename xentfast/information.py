"""Entropy, cross-entropy and KL divergence of distributions.

Layer 3: check and lay out the arguments, then call the compiled kernels in
``_information``.  No math here.  p and q are taken as given: never
renormalised.  Entries must lie in [0, 1]; nan propagates.
"""
import numpy as np

from xentfast import _checks, _layout
from xentfast._kernels import _information
from xentfast._config import get_num_threads


def _reduce_rows(kernel, arrays, axis, base):
    """(result, values_ok): the kernel over the rows along ``axis``; values_ok is
    False if it found a probability outside [0, 1]."""
    log_base = _checks.log_of_base(base) or 1.0
    first = arrays[0]
    axis = _checks.normalize_axis(axis, first.ndim)
    laid_out = [_layout.rows(a, axis) for a in arrays]
    k, moved_shape = laid_out[0][1], laid_out[0][2]
    result = _layout.output_buffer(None, moved_shape[:-1], first.dtype)
    values_ok = kernel(*(data for data, _, _ in laid_out), k, result.reshape(-1), log_base,
                       get_num_threads())
    return _layout.finish(result, None), values_ok


# The kernels check that the probabilities lie in [0, 1] in their own pass;
# where they find one that does not, the checks run again here to raise.

def entropy(p, axis=-1, base=None):
    """H(p) = -Σ p log p along ``axis``, with 0 log 0 = 0.  ``base=2`` gives bits."""
    arr = _checks.prepare_probabilities(p, "p", check_values=False)
    result, values_ok = _reduce_rows(_information.entropy_rows, (arr,), axis, base)
    if not values_ok:
        _checks.prepare_probabilities(arr, "p")
    return result


def cross_entropy(p, q, axis=-1, base=None):
    """H(p, q) = -Σ p log q along ``axis``; p is the true distribution.

    Terms with p = 0 are 0; a term with p > 0 and q = 0 is +inf.  p and q
    broadcast against each other.
    """
    return _pair_measure(_information.cross_entropy_rows, p, q, axis, base)


def kl_divergence(p, q, axis=-1, base=None):
    """D(p || q) = Σ p log(p / q) = H(p, q) - H(p) along ``axis``."""
    return _pair_measure(_information.kl_divergence_rows, p, q, axis, base)


def _pair_measure(kernel, p, q, axis, base):
    p_arr, q_arr = _checks.prepare_distribution_pair(p, q, check_values=False)
    result, values_ok = _reduce_rows(kernel, (p_arr, q_arr), axis, base)
    if not values_ok:
        _checks.prepare_distribution_pair(p, q)
    return result


def binary_entropy(p, base=None):
    """Elementwise entropy of Bernoulli(p): -(p log p + (1 - p) log(1 - p))."""
    # The kernel checks that the probabilities lie in [0, 1] in its own pass.
    if type(p) is np.ndarray and p.dtype in _checks.FLOAT_DTYPES and p.flags.c_contiguous:
        arr = p   # the common case, kept short for small inputs
    else:
        arr = np.ascontiguousarray(_checks.prepare_probabilities(p, "p", check_values=False))
    try:
        log_base = _checks.log_of_base(base) or 1.0
    except ValueError:
        _checks.prepare_probabilities(arr, "p")   # a bad p is reported first
        raise
    result = np.empty_like(arr)
    if not _information.binary_entropy_map(arr, result, log_base, get_num_threads()):
        _checks.prepare_probabilities(arr, "p")
    return result if result.ndim else result[()]
