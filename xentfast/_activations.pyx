# Layer 2 kernels: sigmoid, log_sigmoid, softplus (elementwise maps over flat
# arrays) and logsumexp, softmax, log_softmax (over the rows of a C-contiguous
# (m, k) array, flattened).  The Python layer has checked and laid out every
# argument; these loops only compute.
from cython.parallel cimport prange
from cython cimport floating
from libc.math cimport INFINITY, NAN

from xentfast._scalar cimport sigmoid, log_sigmoid, softplus
from xentfast._parallel cimport threads_for
from xentfast._vmath cimport exp_nonpositive
from xentfast._rows cimport (RowNormalizer, normalize_row, ROW_FINITE, ROW_ONE_POS_INF,
                             ROW_ALL_NEG_INF, ROW_NAN)


def sigmoid_map(const floating[::1] x, floating[::1] out, int n_threads):
    cdef Py_ssize_t i, n = x.shape[0]
    with nogil:
        for i in prange(n, schedule="static", num_threads=threads_for(n, n_threads)):
            out[i] = <floating>sigmoid(x[i])


def log_sigmoid_map(const floating[::1] x, floating[::1] out, int n_threads):
    cdef Py_ssize_t i, n = x.shape[0]
    with nogil:
        for i in prange(n, schedule="static", num_threads=threads_for(n, n_threads)):
            out[i] = <floating>log_sigmoid(x[i])


def softplus_map(const floating[::1] x, floating[::1] out, int n_threads):
    cdef Py_ssize_t i, n = x.shape[0]
    with nogil:
        for i in prange(n, schedule="static", num_threads=threads_for(n, n_threads)):
            out[i] = <floating>softplus(x[i])


cdef inline double row_logsumexp(const floating* z, Py_ssize_t k) noexcept nogil:
    cdef RowNormalizer row = normalize_row(z, k)
    if row.kind == ROW_FINITE:
        return row.max + row.log1p_rest
    if row.kind == ROW_ALL_NEG_INF:
        return -INFINITY
    if row.kind == ROW_NAN:
        return NAN
    return INFINITY


cdef inline void row_softmax(const floating* z, floating* out, Py_ssize_t k,
                             bint take_log) noexcept nogil:
    cdef RowNormalizer row = normalize_row(z, k)
    cdef Py_ssize_t j
    cdef double inv_total
    if row.kind == ROW_FINITE:
        if take_log:
            for j in range(k):
                out[j] = <floating>((z[j] - row.max) - row.log1p_rest)
        else:
            inv_total = 1.0 / (1.0 + row.rest)
            for j in range(k):
                out[j] = <floating>(exp_nonpositive(z[j] - row.max) * inv_total)
    elif row.kind == ROW_ONE_POS_INF:
        for j in range(k):
            if take_log:
                out[j] = <floating>(0.0 if j == row.argmax else -INFINITY)
            else:
                out[j] = <floating>(1.0 if j == row.argmax else 0.0)
    else:
        for j in range(k):
            out[j] = <floating>NAN


def logsumexp_rows(const floating[::1] x, Py_ssize_t k, floating[::1] out, int n_threads):
    # out[r] = logsumexp(x[r*k : (r+1)*k]) for each of the out.shape[0] rows.
    cdef Py_ssize_t r, m = out.shape[0]
    cdef const floating* base = &x[0] if x.shape[0] > 0 else NULL
    with nogil:
        for r in prange(m, schedule="static", num_threads=threads_for(m * k, n_threads)):
            out[r] = <floating>row_logsumexp(base + r * k, k)


def softmax_rows(const floating[::1] x, Py_ssize_t k, floating[::1] out, bint take_log,
                 int n_threads):
    cdef Py_ssize_t r, m = x.shape[0] // k if k > 0 else 0
    cdef const floating* base = &x[0] if x.shape[0] > 0 else NULL
    cdef floating* out_base = &out[0] if out.shape[0] > 0 else NULL
    with nogil:
        for r in prange(m, schedule="static", num_threads=threads_for(m * k, n_threads)):
            row_softmax(base + r * k, out_base + r * k, k, take_log)
