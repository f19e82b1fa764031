# Layer 2 kernels for information measures: entropy, cross-entropy and KL
# divergence of the rows of C-contiguous (m, k) arrays (flattened), and the
# elementwise binary entropy.  Results are in nats divided by `log_base`
# (1.0 for nats).
from cython.parallel cimport prange
from cython cimport floating

from xentfast._scalar cimport (xlogy, xlog1my, kl_term, kl_term_normal, has_subnormal, sum16,
                               compensated_add, compensated_result)
from xentfast._arrays cimport plain_pair
from xentfast._parallel cimport worth_threads, small_work, BLOCK

cimport numpy as cnp

cnp.import_array()

cdef enum Measure:
    ENTROPY          # -sum p log p
    CROSS_ENTROPY    # -sum p log q
    KL_DIVERGENCE    # sum p log(p / q)


cdef inline int out_of_unit(double x) noexcept nogil:
    # x < 0 or x > 1 (nan passes), without a branch.
    return (x < 0.0) | (x > 1.0)


cdef int fill_terms(Measure measure, const floating* p, const floating* q, Py_ssize_t n,
                    double* terms) noexcept nogil:
    # One loop per measure, each calling branch-free term functions, so that all
    # three vectorise.
    # Returns 1 if a p or q lies outside [0, 1] (nan passes): the check of the
    # probabilities, fused into this pass (the caller raises).  float64 loops keep
    # their flags in doubles, set by selects: gcc cannot narrow a double
    # comparison's 64-bit mask to an int on SSE2, which kept the baseline set's
    # float64 loops scalar; float32 loops vectorise only with int flags.
    cdef Py_ssize_t i
    cdef int bad = 0, rare = 0
    cdef double wide_bad = 0.0, wide_rare = 0.0
    cdef double pi, qi
    if measure == ENTROPY:
        for i in range(n):
            pi = p[i]
            if floating is double:
                wide_bad = 1.0 if out_of_unit(pi) else wide_bad
            else:
                bad |= out_of_unit(pi)
            terms[i] = -xlogy(pi, pi)
    elif measure == CROSS_ENTROPY:
        for i in range(n):
            pi = p[i]
            qi = q[i]
            if floating is double:
                wide_bad = 1.0 if out_of_unit(pi) | out_of_unit(qi) else wide_bad
            else:
                bad |= out_of_unit(pi) | out_of_unit(qi)
            terms[i] = -xlogy(pi, qi)
    else:
        for i in range(n):
            pi = p[i]
            qi = q[i]
            if floating is double:
                wide_bad = 1.0 if out_of_unit(pi) | out_of_unit(qi) else wide_bad
                wide_rare = 1.0 if has_subnormal(pi, qi) else wide_rare
            else:
                bad |= out_of_unit(pi) | out_of_unit(qi)
                rare |= has_subnormal(pi, qi)
            terms[i] = kl_term_normal(pi, qi)
        if rare | (wide_rare != 0.0):
            # Redo the terms of a subnormal p or q, where p / q may over- or
            # underflow (kl_term_normal would be wrong): rare, so only those.
            for i in range(n):
                if has_subnormal(p[i], q[i]):
                    terms[i] = kl_term(p[i], q[i])
    return bad | (wide_bad != 0.0)


cdef int measure_row_group(Measure measure, const floating* p, const floating* q,
                           Py_ssize_t k, Py_ssize_t first, Py_ssize_t stop, floating* out,
                           double log_base) noexcept nogil:
    # Rows [first, stop).  Short rows: the terms of up to BLOCK // k whole rows are
    # formed in one loop, then summed row by row.  Long rows: in blocks of BLOCK
    # terms whose sums are added with compensation, so the error stays near
    # BLOCK / 16 ulps however long the row is.  Returns fill_terms' flag.
    cdef double terms[BLOCK]
    cdef double total, compensation
    cdef Py_ssize_t r = first, i, count, start
    cdef int bad = 0
    if k > BLOCK:
        for r in range(first, stop):
            total = 0.0
            compensation = 0.0
            start = 0
            while start < k:
                count = BLOCK if k - start > BLOCK else k - start
                bad |= fill_terms(measure, p + r * k + start, q + r * k + start, count, terms)
                compensated_add(&total, &compensation, sum16(terms, count))
                start += count
            out[r] = <floating>(compensated_result(total, compensation) / log_base)
        return bad
    while r < stop:
        count = BLOCK // k if stop - r > BLOCK // k else stop - r
        bad |= fill_terms(measure, p + r * k, q + r * k, count * k, terms)
        for i in range(count):
            out[r + i] = <floating>(sum16(terms + i * k, k) / log_base)
        r += count
    return bad


cdef bint measure_rows(Measure measure, const floating[::1] p, const floating[::1] q,
                       Py_ssize_t k, floating[::1] out, double log_base,
                       int n_threads) noexcept nogil:
    # Returns whether every p and q lies in [0, 1] (or is nan).
    cdef Py_ssize_t g, m = out.shape[0]
    cdef Py_ssize_t group = 1 if k > BLOCK or k == 0 else BLOCK // k   # rows per task
    cdef const floating* p_base = &p[0] if p.shape[0] > 0 else NULL
    cdef const floating* q_base = &q[0] if q.shape[0] > 0 else NULL
    cdef floating* out_base = &out[0] if m > 0 else NULL
    cdef int bad = 0
    if k == 0:
        for g in range(m):
            out[g] = 0.0  # the empty sum
        return True
    for g in prange((m + group - 1) // group, schedule="static",
                    num_threads=n_threads,
                    use_threads_if=worth_threads(m * k, n_threads)):
        bad |= measure_row_group(measure, p_base, q_base, k, g * group,
                                 min(g * group + group, m), out_base, log_base)
    return not bad


def entropy_rows(const floating[::1] p, Py_ssize_t k, floating[::1] out, double log_base,
                 int n_threads):
    """Entropy of each row into out; returns whether every p lies in [0, 1] (or is nan)."""
    cdef bint values_ok
    with nogil:
        values_ok = measure_rows(ENTROPY, p, p, k, out, log_base, n_threads)
    return values_ok


def cross_entropy_rows(const floating[::1] p, const floating[::1] q, Py_ssize_t k,
                       floating[::1] out, double log_base, int n_threads):
    """Cross-entropy of each row pair into out; returns whether p and q lie in [0, 1]."""
    cdef bint values_ok
    with nogil:
        values_ok = measure_rows(CROSS_ENTROPY, p, q, k, out, log_base, n_threads)
    return values_ok


def kl_divergence_rows(const floating[::1] p, const floating[::1] q, Py_ssize_t k,
                       floating[::1] out, double log_base, int n_threads):
    """KL divergence of each row pair into out; returns whether p and q lie in [0, 1]."""
    cdef bint values_ok
    with nogil:
        values_ok = measure_rows(KL_DIVERGENCE, p, q, k, out, log_base, n_threads)
    return values_ok


cdef inline double binary_entropy_nats(double p) noexcept nogil:
    # -(p log p + (1 - p) log(1 - p)); xlog1my keeps the digits of 1 - p for small p.
    return 0.0 - (xlogy(p, p) + xlog1my(1.0 - p, p))  # 0 - 0 is +0, not -0


cdef int binary_entropy_values(const floating* p, floating* out, Py_ssize_t n,
                               double log_base) noexcept nogil:
    # Returns 1 if some p lies outside [0, 1] (nan passes): the check of the
    # probabilities, fused into this pass.
    cdef Py_ssize_t i
    cdef int bad = 0
    cdef double pi
    for i in range(n):
        pi = p[i]
        bad |= (pi < 0.0) | (pi > 1.0)
        out[i] = <floating>(binary_entropy_nats(pi) / log_base)
    return bad


cdef int binary_entropy_on_threads(const floating* p, floating* out, Py_ssize_t n,
                                   double log_base, int n_threads) noexcept nogil:
    # One contiguous share per thread, a multiple of 16 elements.
    cdef Py_ssize_t t, start, share = ((n + n_threads - 1) // n_threads + 15) // 16 * 16
    cdef int bad = 0
    if not worth_threads(n, n_threads):
        return binary_entropy_values(p, out, n, log_base)
    for t in prange(n_threads, schedule="static", num_threads=n_threads):
        start = t * share
        if start < n:
            bad |= binary_entropy_values(p + start, out + start, min(share, n - start),
                                         log_base)
    return bad


def binary_entropy_map(cnp.ndarray p, cnp.ndarray out, double log_base, int n_threads):
    """out[...] = binary entropy of p / log_base, for C-contiguous float32 or float64
    arrays of one dtype and size.  Returns whether every p lies in [0, 1] (or is nan);
    if not, out is meaningless (the caller raises)."""
    if not plain_pair(p, out):
        raise ValueError("p and out must be C-contiguous float32 or float64 arrays of one "
                         "dtype and size, out writeable")
    cdef Py_ssize_t n = cnp.PyArray_SIZE(p)
    cdef void* source = cnp.PyArray_DATA(p)
    cdef void* target = cnp.PyArray_DATA(out)
    cdef bint is_double = cnp.PyArray_TYPE(p) == cnp.NPY_DOUBLE
    cdef int bad
    if small_work(n):
        # Keep the GIL, and no parallel region: both cost more than the work.
        if is_double:
            bad = binary_entropy_values(<const double*>source, <double*>target, n, log_base)
        else:
            bad = binary_entropy_values(<const float*>source, <float*>target, n, log_base)
        return not bad
    with nogil:
        if is_double:
            bad = binary_entropy_on_threads(<const double*>source, <double*>target, n,
                                             log_base, n_threads)
        else:
            bad = binary_entropy_on_threads(<const float*>source, <float*>target, n,
                                             log_base, n_threads)
    return not bad
