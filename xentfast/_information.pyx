# Layer 2 kernels for information measures: entropy, cross-entropy and KL
# divergence of the rows of C-contiguous (m, k) arrays (flattened), and the
# elementwise binary entropy.  Results are in nats divided by `log_base`
# (1.0 for nats).
from cython.parallel cimport prange
from cython cimport floating

from xentfast._scalar cimport (xlogy, xlog1my, kl_term, kl_term_normal, has_subnormal, sum16,
                               compensated_add, compensated_result)
from xentfast._arrays cimport plain_pair, plain_array
from xentfast._vmath cimport FLOAT32_ARITHMETIC, log_parts_f32
from xentfast._parallel cimport worth_threads, small_work, BLOCK

cdef extern from "_information_f32.h":
    # float32 terms in float32 arithmetic, 16 lanes (AVX-512 set only)
    const bint INFORMATION_F32_VECTOR "XF_INFORMATION_F32_VECTOR"
    # what the row sums of its terms are multiplied by (they come out 2^64 times too large)
    const double INFORMATION_F32_UNSCALE "XF_INFORMATION_F32_UNSCALE"
    int log_terms_f32 "xf_log_terms_f32"(const float* p, const float* q, double* terms,
                                         Py_ssize_t n) noexcept nogil
    int entropy_terms_f32 "xf_entropy_terms_f32"(const float* p, double* terms,
                                                 Py_ssize_t n) noexcept nogil
    int kl_terms_f32 "xf_kl_terms_f32"(const float* p, const float* q, double* terms,
                                       Py_ssize_t n) noexcept nogil

cdef extern from "_dot_rows.h":
    # row sums of short rows, eight at a time (AVX-512 set; elsewhere it does none)
    Py_ssize_t sum_short_rows "xentfast_sum_short_rows"(const double* x, Py_ssize_t k,
                                                         Py_ssize_t n_rows,
                                                         double* out) noexcept nogil

cimport numpy as cnp
from cpython.pyport cimport PY_SSIZE_T_MAX

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
    cdef float log_hi, log_lo
    if floating is float and INFORMATION_F32_VECTOR:
        if measure == KL_DIVERGENCE:
            return kl_terms_f32(p, q, terms, n)
        if measure == ENTROPY:
            return entropy_terms_f32(p, terms, n)
        return log_terms_f32(p, q, terms, n)
    elif floating is float and FLOAT32_ARITHMETIC and measure != KL_DIVERGENCE:
        # float32 on the AVX2 set: the log in float32 arithmetic (8 lanes) as a pair
        # within about 2^-26, the term p (T + small) in double (exact but for one
        # rounding), so that each term, and so the sum, stays within 1 float32 ulp.
        for i in range(n):
            pi = p[i]
            qi = q[i]
            bad |= out_of_unit(pi) | out_of_unit(qi)
            log_parts_f32(q[i], &log_hi, &log_lo)
            terms[i] = 0.0 if pi == 0.0 else -(pi * (<double>log_hi + <double>log_lo))
    elif measure == ENTROPY:
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
    elif floating is float:
        # KL of float32 in double (AVX2 and baseline sets).  A float32 is a normal
        # double (or 0), so p / q never over- or underflows; the check compares the
        # floats themselves (float masks fill int lanes: a double comparison's had to
        # be narrowed).
        for i in range(n):
            bad |= (p[i] < 0) | (p[i] > 1) | (q[i] < 0) | (q[i] > 1)
            terms[i] = kl_term_normal(p[i], q[i])
    else:
        for i in range(n):
            pi = p[i]
            qi = q[i]
            wide_bad = 1.0 if out_of_unit(pi) | out_of_unit(qi) else wide_bad
            wide_rare = 1.0 if has_subnormal(pi, qi) else wide_rare
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
    cdef double sums[BLOCK]
    cdef double total, compensation
    cdef Py_ssize_t r = first, i, count, start, done
    cdef int bad = 0
    # fill_terms' float32 terms on the AVX-512 set are 2^64 times too large (exact)
    cdef double unscale = INFORMATION_F32_UNSCALE if floating is float else 1.0
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
            out[r] = <floating>(compensated_result(total, compensation) * unscale / log_base)
        return bad
    while r < stop:
        count = BLOCK // k if stop - r > BLOCK // k else stop - r
        bad |= fill_terms(measure, p + r * k, q + r * k, count * k, terms)
        # the sums first (eight short rows at a time where the kernel set can), then
        # a loop that vectorises
        done = sum_short_rows(terms, k, count, sums)
        for i in range(done, count):
            sums[i] = sum16(terms + i * k, k)
        if log_base == 1.0:   # nats: no division (a vector division per 8 rows)
            for i in range(count):
                out[r + i] = <floating>(sums[i] * unscale)
        else:
            for i in range(count):
                out[r + i] = <floating>(sums[i] * unscale / log_base)
        r += count
    return bad


cdef bint measure_rows(Measure measure, const floating* p, const floating* q, Py_ssize_t k,
                       Py_ssize_t m, floating* out, double log_base,
                       int n_threads) noexcept nogil:
    # The m rows of k values of p (and q) into out[:m].  Returns whether every p
    # and q lies in [0, 1] (or is nan).
    cdef Py_ssize_t g
    cdef Py_ssize_t group = 1 if k > BLOCK or k == 0 else BLOCK // k   # rows per task
    cdef int bad = 0
    if k == 0:
        for g in range(m):
            out[g] = 0.0  # the empty sum
        return True
    if not worth_threads(m * k, n_threads):
        # No parallel region: entering even a one-thread region costs more than
        # a small input's work.
        return not measure_row_group(measure, p, q, k, 0, m, out, log_base)
    for g in prange((m + group - 1) // group, schedule="static", num_threads=n_threads):
        bad |= measure_row_group(measure, p, q, k, g * group, min(g * group + group, m),
                                 out, log_base)
    return not bad


# The codes of measure_rows_kernel's measures, for the Python layer.
MEASURES = {"entropy": ENTROPY, "cross_entropy": CROSS_ENTROPY,
            "kl_divergence": KL_DIVERGENCE}


def measure_rows_kernel(int measure, cnp.ndarray p not None, cnp.ndarray q not None,
                        Py_ssize_t k, cnp.ndarray out not None, double log_base,
                        int n_threads):
    """The measure (a code of MEASURES) of each row of k values of p (and q) into
    out, C-contiguous float32 or float64 arrays of one dtype: p and q of
    out.size * k values (for entropy, q is p).  Returns whether every p and q
    lies in [0, 1] (or is nan); if not, out is meaningless (the caller raises).
    The arrays themselves, not memoryviews: acquiring those costs more than the
    work on a small input."""
    cdef int type_num = cnp.PyArray_TYPE(out)
    cdef Py_ssize_t m = cnp.PyArray_SIZE(out)
    if not ((type_num == cnp.NPY_DOUBLE or type_num == cnp.NPY_FLOAT) and k >= 0
            and (k == 0 or m <= PY_SSIZE_T_MAX // k)
            and plain_array(p, type_num, m * k) and plain_array(q, type_num, m * k)
            and plain_array(out, type_num, m) and cnp.PyArray_ISWRITEABLE(out)
            and ENTROPY <= measure <= KL_DIVERGENCE):
        raise ValueError("p and q must be C-contiguous float32 or float64 arrays of "
                         "out.size * k values, of out's dtype, out writeable")
    cdef void* p_data = cnp.PyArray_DATA(p)
    cdef void* q_data = cnp.PyArray_DATA(q)
    cdef void* out_data = cnp.PyArray_DATA(out)
    cdef bint values_ok
    if small_work(m * k):
        # Keep the GIL, and no parallel region: both cost more than the work.
        if type_num == cnp.NPY_DOUBLE:
            return measure_rows(<Measure>measure, <const double*>p_data, <const double*>q_data,
                                k, m, <double*>out_data, log_base, 1)
        return measure_rows(<Measure>measure, <const float*>p_data, <const float*>q_data, k,
                            m, <float*>out_data, log_base, 1)
    with nogil:
        if type_num == cnp.NPY_DOUBLE:
            values_ok = measure_rows(<Measure>measure, <const double*>p_data,
                                     <const double*>q_data, k, m, <double*>out_data,
                                     log_base, n_threads)
        else:
            values_ok = measure_rows(<Measure>measure, <const float*>p_data,
                                     <const float*>q_data, k, m, <float*>out_data, log_base,
                                     n_threads)
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


def binary_entropy_map(cnp.ndarray p not None, cnp.ndarray out not None, double log_base,
                       int n_threads):
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
