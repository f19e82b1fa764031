# Layer 2 kernels for information measures: entropy, cross-entropy and KL
# divergence of the rows of C-contiguous (m, k) arrays (flattened), and the
# elementwise binary entropy.  Results are in nats divided by `log_base`
# (1.0 for nats).
from cython.parallel cimport prange
from cython cimport floating
from libc.math cimport log, log1p

from xentfast._scalar cimport xlogy, xlog1py, log_ratio, compensated_add, compensated_result
from xentfast._parallel cimport threads_for, BLOCK

cdef enum Measure:
    ENTROPY          # -sum p log p
    CROSS_ENTROPY    # -sum p log q
    KL_DIVERGENCE    # sum p log(p / q)


cdef inline double measure_term(Measure measure, double p, double q) noexcept nogil:
    if measure == ENTROPY:
        return -xlogy(p, p)
    if measure == CROSS_ENTROPY:
        return -xlogy(p, q)
    if p == 0.0:
        return 0.0
    return p * log_ratio(p, q)


cdef inline double row_measure(Measure measure, const floating* p, const floating* q,
                               Py_ssize_t k) noexcept nogil:
    # Blocks of plain sums, joined by compensated addition: the error stays
    # near BLOCK ulps however long the row is.
    cdef double total = 0.0, compensation = 0.0, block
    cdef Py_ssize_t b, start, stop, j
    for b in range((k + BLOCK - 1) // BLOCK):
        start = b * BLOCK
        stop = start + BLOCK if start + BLOCK < k else k
        block = 0.0
        for j in range(start, stop):
            block += measure_term(measure, p[j], q[j])
        compensated_add(&total, &compensation, block)
    return compensated_result(total, compensation)


cdef void measure_rows(Measure measure, const floating[::1] p, const floating[::1] q,
                       Py_ssize_t k, floating[::1] out, double log_base,
                       int n_threads) noexcept nogil:
    cdef Py_ssize_t r, m = out.shape[0]
    cdef const floating* p_base = &p[0] if p.shape[0] > 0 else NULL
    cdef const floating* q_base = &q[0] if q.shape[0] > 0 else NULL
    for r in prange(m, schedule="static", num_threads=threads_for(m * k, n_threads)):
        out[r] = <floating>(row_measure(measure, p_base + r * k, q_base + r * k, k) / log_base)


def entropy_rows(const floating[::1] p, Py_ssize_t k, floating[::1] out, double log_base,
                 int n_threads):
    with nogil:
        measure_rows(ENTROPY, p, p, k, out, log_base, n_threads)


def cross_entropy_rows(const floating[::1] p, const floating[::1] q, Py_ssize_t k,
                       floating[::1] out, double log_base, int n_threads):
    with nogil:
        measure_rows(CROSS_ENTROPY, p, q, k, out, log_base, n_threads)


def kl_divergence_rows(const floating[::1] p, const floating[::1] q, Py_ssize_t k,
                       floating[::1] out, double log_base, int n_threads):
    with nogil:
        measure_rows(KL_DIVERGENCE, p, q, k, out, log_base, n_threads)


cdef inline double binary_entropy_nats(double p) noexcept nogil:
    # -(p log p + (1 - p) log(1 - p)); log1p(-p) keeps the digits of 1 - p for small p.
    return 0.0 - (xlogy(p, p) + xlog1py(1.0 - p, -p))  # 0 - 0 is +0, not -0


def binary_entropy_map(const floating[::1] p, floating[::1] out, double log_base,
                       int n_threads):
    cdef Py_ssize_t i, n = p.shape[0]
    with nogil:
        for i in prange(n, schedule="static", num_threads=threads_for(n, n_threads)):
            out[i] = <floating>(binary_entropy_nats(p[i]) / log_base)
