# The log-normaliser of rows of logits, shared by logsumexp, softmax,
# log_softmax and softmax_cross_entropy: normalize_row for one (long) row,
# normalize_rows for a chunk of short rows.
from cython cimport floating
from libc.math cimport log1p, INFINITY, NAN

from xentfast._vmath cimport (exp_nonpositive, log1p_nonnegative, AVX512_EXP,
                              exp_nonpositive_array, row_max_f32, row_max_f64,
                              row_sum_except)

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


cdef enum:
    # Long rows form their exponentials this many at a time (AVX-512 set).
    EXP_BLOCK = 256


cdef inline Py_ssize_t exp_block(const floating* z, Py_ssize_t k, double m,
                                 double* block) noexcept nogil:
    # block[j] = exp(z_j - m) for the first min(k, EXP_BLOCK) entries (in vector
    # lanes on the AVX-512 set); returns how many.
    cdef Py_ssize_t j, n = min(EXP_BLOCK, k)
    if AVX512_EXP:
        for j in range(n):
            block[j] = z[j] - m
        exp_nonpositive_array(block, block, n, False)
    else:
        for j in range(n):
            block[j] = exp_nonpositive(z[j] - m)
    return n


cdef inline double sum_exp_except(const floating* z, Py_ssize_t k, double m,
                                  Py_ssize_t skip) noexcept nogil:
    # Σ_{j != skip} exp(z_j - m) (AVX-512 set only), each block summed by
    # row_sum_except.
    cdef double block[EXP_BLOCK]
    cdef double s = 0.0
    cdef Py_ssize_t start = 0, n
    while start < k:
        n = exp_block(z + start, k - start, m, block)
        s += row_sum_except(block, n, skip - start)
        start += n
    return s


cdef inline void scaled_exps(const floating* z, Py_ssize_t k, double m, double scale,
                             floating* out) noexcept nogil:
    # out_j = exp(z_j - m) scale.
    cdef double block[EXP_BLOCK]
    cdef Py_ssize_t start = 0, j, n
    while start < k:
        n = exp_block(z + start, k - start, m, block)
        for j in range(n):
            out[start + j] = <floating>(block[j] * scale)
        start += n


cdef inline RowNormalizer normalize_row(const floating* z, Py_ssize_t k) noexcept nogil:
    # Blanchard, Higham & Higham (2021): leaving the max out of the sum and
    # using log1p is more accurate than log of the full sum.
    cdef RowNormalizer row
    cdef Py_ssize_t j, n_pos_inf = 0
    cdef double m = -INFINITY, s = 0.0, v
    cdef int has_nan = False
    row.argmax = 0
    if AVX512_EXP and k > 0:
        if floating is float:
            m = row_max_f32(z, k, &row.argmax, &has_nan)
        else:
            m = row_max_f64(z, k, &row.argmax, &has_nan)
    else:
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
    if AVX512_EXP:
        s = sum_exp_except(z, k, m, row.argmax)
    else:
        for j in range(row.argmax):
            s += exp_nonpositive(z[j] - m)
        for j in range(row.argmax + 1, k):
            s += exp_nonpositive(z[j] - m)
    row.kind = ROW_FINITE
    row.rest = s
    row.log1p_rest = log1p(s)
    return row


cdef enum:
    # Short rows (k <= ROW_CHUNK) are normalised ROW_CHUNK // k at a time.
    ROW_CHUNK = 1024


cdef struct RowChunk:
    # Row r of a chunk: the fields of RowNormalizer, one array each, and its
    # exp(z_j - max) at exps[r * k + j] (exactly 1 at the argmax) for finite rows.
    RowKind kind[ROW_CHUNK]
    double max[ROW_CHUNK]
    Py_ssize_t argmax[ROW_CHUNK]
    double rest[ROW_CHUNK]
    double log1p_rest[ROW_CHUNK]
    double exps[ROW_CHUNK]


cdef inline Py_ssize_t rows_per_chunk(Py_ssize_t k) noexcept nogil:
    return ROW_CHUNK // k if k > 0 else ROW_CHUNK


cdef inline void normalize_rows(const floating* z, Py_ssize_t k, Py_ssize_t n_rows,
                                RowChunk* chunk) noexcept nogil:
    # n_rows <= rows_per_chunk(k) rows of k <= ROW_CHUNK logits, contiguous.
    # One pass per row finds its max (in vector lanes on the AVX-512 set, else
    # scalar); the exponentials then run as one flat loop over the whole chunk and
    # the logs as one loop over the rows, both of which vectorise (a loop over a
    # single short row does not).
    cdef Py_ssize_t r, j, n_pos_inf, argmax
    cdef double m, v, shift, s
    cdef int has_nan
    cdef double* exps = chunk.exps
    for r in range(n_rows):
        if AVX512_EXP and k > 0:
            if floating is float:
                m = row_max_f32(z + r * k, k, &argmax, &has_nan)
            else:
                m = row_max_f64(z + r * k, k, &argmax, &has_nan)
        else:
            # Selects, not branches: which entry is the max is unpredictable, and
            # a mispredicted branch per row costs more than the rest of the scan.
            m = -INFINITY
            argmax = 0
            has_nan = False
            for j in range(k):
                v = z[r * k + j]
                argmax = j if v > m else argmax
                m = v if v > m else m
                has_nan = has_nan | (v != v)
        chunk.max[r] = m
        chunk.argmax[r] = argmax
        if has_nan:
            chunk.kind[r] = ROW_NAN
        elif m == -INFINITY:
            chunk.kind[r] = ROW_ALL_NEG_INF
        elif m == INFINITY:
            n_pos_inf = 0
            for j in range(k):
                if z[r * k + j] == INFINITY:
                    n_pos_inf += 1
            chunk.kind[r] = ROW_ONE_POS_INF if n_pos_inf == 1 else ROW_MANY_POS_INF
        else:
            chunk.kind[r] = ROW_FINITE
        # the shift of every entry, for the flat loop below (0 for rows it does not serve)
        shift = m if chunk.kind[r] == ROW_FINITE else 0.0
        for j in range(k):
            exps[r * k + j] = shift
    if AVX512_EXP:
        for j in range(n_rows * k):
            exps[j] = z[j] - exps[j]
        exp_nonpositive_array(exps, exps, n_rows * k, False)
    else:
        for j in range(n_rows * k):
            exps[j] = exp_nonpositive(z[j] - exps[j])
    for r in range(n_rows):
        s = 0.0
        if chunk.kind[r] == ROW_FINITE:
            # Blanchard, Higham & Higham (2021): the max's own term (exactly 1)
            # stays out of the sum, and log1p takes the rest.
            if AVX512_EXP:
                s = row_sum_except(exps + r * k, k, chunk.argmax[r])
            else:
                exps[r * k + chunk.argmax[r]] = 0.0
                for j in range(k):
                    s += exps[r * k + j]
                exps[r * k + chunk.argmax[r]] = 1.0
        chunk.rest[r] = s
    for r in range(n_rows):
        chunk.log1p_rest[r] = log1p_nonnegative(chunk.rest[r])
    for r in range(n_rows):
        if chunk.kind[r] != ROW_FINITE:
            chunk.rest[r] = NAN
            chunk.log1p_rest[r] = NAN
