# The log-normaliser of one row of logits, shared by logsumexp, softmax,
# log_softmax and softmax_cross_entropy.
from cython cimport floating
from libc.math cimport log1p, INFINITY, NAN

from xentfast._vmath cimport exp_nonpositive

cdef enum RowKind:
    ROW_FINITE        # the max is finite: the usual formulas apply
    ROW_NAN           # some entry is nan
    ROW_ONE_POS_INF   # exactly one +inf: the limit is one-hot at it
    ROW_MANY_POS_INF  # two or more +inf: no limit
    ROW_ALL_NEG_INF   # every entry is -inf, or the row is empty


cdef struct RowNormalizer:
    RowKind kind
    double max          # m = max_j z_j
    Py_ssize_t argmax   # first j with z_j = m
    double rest         # s = sum over j != argmax of exp(z_j - m), in [0, k - 1]
    double log1p_rest   # log(1 + s): logsumexp(z) = m + log(1 + s)


cdef inline RowNormalizer normalize_row(const floating* z, Py_ssize_t k) noexcept nogil:
    # Blanchard, Higham & Higham (2021): leaving the max out of the sum and
    # using log1p is more accurate than log of the full sum.
    cdef RowNormalizer row
    cdef Py_ssize_t j, n_pos_inf = 0
    cdef double m = -INFINITY, s = 0.0, v
    cdef bint has_nan = False
    row.argmax = 0
    for j in range(k):
        v = z[j]
        if v > m:
            m = v
            row.argmax = j
        elif v != v:
            has_nan = True
    row.max = m
    row.rest = NAN
    row.log1p_rest = NAN
    if has_nan:
        row.kind = ROW_NAN
        return row
    if m == -INFINITY:
        row.kind = ROW_ALL_NEG_INF
        return row
    if m == INFINITY:
        for j in range(k):
            if z[j] == INFINITY:
                n_pos_inf += 1
        row.kind = ROW_ONE_POS_INF if n_pos_inf == 1 else ROW_MANY_POS_INF
        return row
    for j in range(row.argmax):
        s += exp_nonpositive(z[j] - m)
    for j in range(row.argmax + 1, k):
        s += exp_nonpositive(z[j] - m)
    row.kind = ROW_FINITE
    row.rest = s
    row.log1p_rest = log1p(s)
    return row
