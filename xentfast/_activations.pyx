# Layer 2 kernels: sigmoid, log_sigmoid, softplus (elementwise maps over
# C-contiguous arrays, taken as raw pointers) and logsumexp, softmax,
# log_softmax (over the rows of a C-contiguous (m, k) array, flattened).  The Python layer has checked and laid out every
# argument; these loops only compute.
from cython.parallel cimport prange
from cython cimport floating
from libc.math cimport fabs, INFINITY, NAN

cimport numpy as cnp

from xentfast._arrays cimport plain_pair, plain_array
from cpython.pyport cimport PY_SSIZE_T_MAX
from xentfast._scalar cimport sigmoid, sigmoid32, log_sigmoid_from_exp, softplus_from_exp
from xentfast._parallel cimport worth_threads, small_work
from xentfast._vmath cimport (exp_nonpositive, FLOAT32_ARITHMETIC, exp_parts_f32_array, AVX512_EXP,
                             exp_nonpositive_array, sigmoid_array, sigmoid_array_f32,
                             log_sigmoid_array_f32, softplus_array_f32,
                             log_sigmoid_parts_f32, softplus_parts_f32)
from xentfast._rows cimport (RowNormalizer, normalize_row, ROW_FINITE, ROW_ONE_POS_INF,
                             ROW_ALL_NEG_INF, ROW_NAN, RowKind, RowChunk, ROW_CHUNK,
                             rows_per_chunk, normalize_rows, scaled_exps)

cnp.import_array()


cdef enum:
    SIGMOID = 0
    LOG_SIGMOID = 1
    SOFTPLUS = 2

# The codes of elementwise_map's functions, for the Python layer.
FUNCTIONS = {"sigmoid": SIGMOID, "log_sigmoid": LOG_SIGMOID, "softplus": SOFTPLUS}


cdef enum:
    # log_sigmoid and softplus run in blocks of this many values (see log1p_exp_block).
    MAP_BLOCK = 256


cdef void log1p_exp_block(int function, const floating* x, floating* out,
                          Py_ssize_t n) noexcept nogil:
    # log_sigmoid or softplus of n <= MAP_BLOCK values: e^-|x| in one loop, then
    # log(1 + e^-|x|) and the sum with min(x, 0) or max(x, 0) in another.  Two
    # short loops vectorise better than one long body (fewer values live at once
    # in registers): 10-25% faster.  float32 in float32 arithmetic where the
    # kernel set has an FMA (_vmath.pxd), else in double; the AVX-512 set does not
    # come here for float32 (one vector loop, map_values).
    cdef double e[MAP_BLOCK]
    cdef float h[MAP_BLOCK]
    cdef float lo[MAP_BLOCK]
    cdef float scale[MAP_BLOCK]
    cdef Py_ssize_t i
    if floating is float and FLOAT32_ARITHMETIC:
        exp_parts_f32_array(x, h, lo, scale, n)
        if function == LOG_SIGMOID:
            for i in range(n):
                out[i] = log_sigmoid_parts_f32(x[i], h[i], lo[i], scale[i])
        else:
            for i in range(n):
                out[i] = softplus_parts_f32(x[i], h[i], lo[i], scale[i])
    else:
        if floating is double:
            if AVX512_EXP:
                exp_nonpositive_array(x, e, n, True)
            else:
                for i in range(n):
                    e[i] = exp_nonpositive(-fabs(x[i]))
        else:
            for i in range(n):
                e[i] = exp_nonpositive(-fabs(<double>x[i]))
        if function == LOG_SIGMOID:
            for i in range(n):
                out[i] = <floating>log_sigmoid_from_exp(x[i], e[i])
        else:
            for i in range(n):
                out[i] = <floating>softplus_from_exp(x[i], e[i])


cdef void map_values(int function, const floating* x, floating* out,
                     Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i, start = 0
    if function == SIGMOID and AVX512_EXP:
        if floating is double:
            sigmoid_array(x, out, n)
        else:
            sigmoid_array_f32(x, out, n)
        return
    if floating is float and AVX512_EXP:
        # float32 log_sigmoid and softplus in one vector loop (_vmath.pxd)
        if function == LOG_SIGMOID:
            log_sigmoid_array_f32(x, out, n)
        else:
            softplus_array_f32(x, out, n)
        return
    if function == SIGMOID:
        for i in range(n):
            if floating is float:
                out[i] = sigmoid32(x[i])
            else:
                out[i] = sigmoid(x[i])
    else:
        while start < n:
            log1p_exp_block(function, x + start, out + start, min(MAP_BLOCK, n - start))
            start += MAP_BLOCK


cdef void map_on_threads(int function, const floating* x, floating* out, Py_ssize_t n,
                         int n_threads) noexcept nogil:
    # One contiguous share per thread (a multiple of 16 elements, so that the
    # vector loops of all but the last share have no remainder).
    cdef Py_ssize_t t, start, share = ((n + n_threads - 1) // n_threads + 15) // 16 * 16
    if not worth_threads(n, n_threads):
        map_values(function, x, out, n)
        return
    for t in prange(n_threads, schedule="static", num_threads=n_threads):
        start = t * share
        if start < n:
            map_values(function, x + start, out + start, min(share, n - start))


def elementwise_map(int function, cnp.ndarray x not None, cnp.ndarray out not None,
                    int n_threads):
    """out[...] = function(x) elementwise (a code of FUNCTIONS), for C-contiguous
    float32 or float64 arrays of one dtype and size, of any shape."""
    if not plain_pair(x, out) or function < SIGMOID or function > SOFTPLUS:
        raise ValueError("x and out must be C-contiguous float32 or float64 arrays of one "
                         "dtype and size, out writeable")
    cdef Py_ssize_t n = cnp.PyArray_SIZE(x)
    cdef void* source = cnp.PyArray_DATA(x)
    cdef void* target = cnp.PyArray_DATA(out)
    cdef bint is_double = cnp.PyArray_TYPE(x) == cnp.NPY_DOUBLE
    if small_work(n):
        # Keep the GIL, and no parallel region: both cost more than the work.
        if is_double:
            map_values(function, <const double*>source, <double*>target, n)
        else:
            map_values(function, <const float*>source, <float*>target, n)
        return
    with nogil:
        if is_double:
            map_on_threads(function, <const double*>source, <double*>target, n, n_threads)
        else:
            map_on_threads(function, <const float*>source, <float*>target, n, n_threads)


cdef inline double logsumexp_of(RowKind kind, double row_max, double log1p_rest) noexcept nogil:
    if kind == ROW_FINITE:
        return row_max + log1p_rest
    if kind == ROW_ALL_NEG_INF:
        return -INFINITY
    if kind == ROW_NAN:
        return NAN
    return INFINITY


cdef inline void row_softmax(const floating* z, floating* out, Py_ssize_t k, RowKind kind,
                             double row_max, Py_ssize_t argmax, double rest,
                             double log1p_rest, const double* exps,
                             bint take_log) noexcept nogil:
    # exps: exp(z_j - max) for this row, or NULL to compute them here.
    cdef Py_ssize_t j
    cdef double inv_total
    if kind == ROW_FINITE:
        if take_log:
            for j in range(k):
                out[j] = <floating>((z[j] - row_max) - log1p_rest)
        else:
            inv_total = 1.0 / (1.0 + rest)
            if exps != NULL:
                for j in range(k):
                    out[j] = <floating>(exps[j] * inv_total)
            else:
                scaled_exps(z, k, row_max, inv_total, out)
    elif kind == ROW_ONE_POS_INF:
        for j in range(k):
            if take_log:
                out[j] = <floating>(0.0 if j == argmax else -INFINITY)
            else:
                out[j] = <floating>(1.0 if j == argmax else 0.0)
    else:
        for j in range(k):
            out[j] = <floating>NAN


cdef void logsumexp_chunk(const floating* z, Py_ssize_t k, Py_ssize_t n_rows,
                          floating* out) noexcept nogil:
    cdef RowChunk chunk
    cdef Py_ssize_t r
    normalize_rows(z, k, n_rows, &chunk)
    for r in range(n_rows):
        out[r] = <floating>logsumexp_of(chunk.kind[r], chunk.max[r], chunk.log1p_rest[r])


cdef void softmax_chunk(const floating* z, floating* out, Py_ssize_t k, Py_ssize_t n_rows,
                        bint take_log) noexcept nogil:
    cdef RowChunk chunk
    cdef Py_ssize_t r
    normalize_rows(z, k, n_rows, &chunk)
    for r in range(n_rows):
        row_softmax(z + r * k, out + r * k, k, chunk.kind[r], chunk.max[r], chunk.argmax[r],
                    chunk.rest[r], chunk.log1p_rest[r], chunk.exps + r * k, take_log)


cdef inline Py_ssize_t row_tasks(Py_ssize_t k, Py_ssize_t m) noexcept nogil:
    # The units of work over m rows of k: chunks of short rows, or single long rows.
    cdef Py_ssize_t per_chunk = rows_per_chunk(k)
    return (m + per_chunk - 1) // per_chunk if k <= ROW_CHUNK else m


cdef enum RowOp:
    # what row_task computes for each row
    LOGSUMEXP     # one value per row
    SOFTMAX       # a row per row
    LOG_SOFTMAX


cdef void row_task(RowOp op, const floating* x, Py_ssize_t k, Py_ssize_t m, floating* out,
                   Py_ssize_t task) noexcept nogil:
    # One unit of row_tasks(k, m): a chunk of short rows, or one long row.
    cdef Py_ssize_t first, count, per_chunk = rows_per_chunk(k)
    cdef RowNormalizer row
    cdef bint take_log = op == LOG_SOFTMAX
    if k <= ROW_CHUNK:
        first = task * per_chunk
        count = min(per_chunk, m - first)
        if op == LOGSUMEXP:
            logsumexp_chunk(x + first * k, k, count, out + first)
        else:
            softmax_chunk(x + first * k, out + first * k, k, count, take_log)
        return
    row = normalize_row(x + task * k, k)
    if op == LOGSUMEXP:
        out[task] = <floating>logsumexp_of(row.kind, row.max, row.log1p_rest)
    else:
        row_softmax(x + task * k, out + task * k, k, row.kind, row.max, row.argmax,
                    row.rest, row.log1p_rest, NULL, take_log)


cdef void rows_on_threads(RowOp op, const floating* x, Py_ssize_t k, Py_ssize_t m,
                          floating* out, int n_threads) noexcept nogil:
    cdef Py_ssize_t task
    if not worth_threads(m * k, n_threads):
        # No parallel region: entering even a one-thread region costs ~0.6 µs.
        for task in range(row_tasks(k, m)):
            row_task(op, x, k, m, out, task)
        return
    for task in prange(row_tasks(k, m), schedule="static", num_threads=n_threads):
        row_task(op, x, k, m, out, task)


cdef void run_rows(RowOp op, cnp.ndarray x, Py_ssize_t k, Py_ssize_t m, cnp.ndarray out,
                   int n_threads):
    # rows_on_threads on checked arrays, by dtype; small work keeps the GIL
    # (releasing it costs more than the work).
    cdef void* source = cnp.PyArray_DATA(x)
    cdef void* target = cnp.PyArray_DATA(out)
    cdef bint is_double = cnp.PyArray_TYPE(x) == cnp.NPY_DOUBLE
    if small_work(m * k):
        if is_double:
            rows_on_threads(op, <const double*>source, k, m, <double*>target, 1)
        else:
            rows_on_threads(op, <const float*>source, k, m, <float*>target, 1)
        return
    with nogil:
        if is_double:
            rows_on_threads(op, <const double*>source, k, m, <double*>target, n_threads)
        else:
            rows_on_threads(op, <const float*>source, k, m, <float*>target, n_threads)


def logsumexp_rows(cnp.ndarray x not None, Py_ssize_t k, cnp.ndarray out not None,
                   int n_threads):
    """out[r] = logsumexp(x[r*k : (r+1)*k]) for each of the out.size rows, for
    C-contiguous float32 or float64 arrays of one dtype (x of out.size * k values).
    The arrays themselves, not memoryviews (see _arrays.pxd)."""
    cdef int type_num = cnp.PyArray_TYPE(out)
    cdef Py_ssize_t m = cnp.PyArray_SIZE(out)
    if not ((type_num == cnp.NPY_DOUBLE or type_num == cnp.NPY_FLOAT) and k >= 0
            and (k == 0 or m <= PY_SSIZE_T_MAX // k)
            and plain_array(x, type_num, m * k) and plain_array(out, type_num, m)
            and cnp.PyArray_ISWRITEABLE(out)):
        raise ValueError("x and out must be C-contiguous float32 or float64 arrays of one "
                         "dtype, x of out.size * k values, out writeable")
    run_rows(LOGSUMEXP, x, k, m, out, n_threads)


def softmax_rows(cnp.ndarray x not None, Py_ssize_t k, cnp.ndarray out not None,
                 bint take_log, int n_threads):
    """out = softmax (or log_softmax) of each row of k values of x, for C-contiguous
    float32 or float64 arrays of one dtype and size (a multiple of k; empty if
    k is 0)."""
    if not plain_pair(x, out):
        raise ValueError("x and out must be C-contiguous float32 or float64 arrays of one "
                         "dtype and size, out writeable")
    cdef Py_ssize_t n = cnp.PyArray_SIZE(x)
    if (k < 0 or (k == 0 and n != 0)) or (k > 0 and n % k != 0):
        raise ValueError("x's size must be a multiple of the row length k")
    run_rows(LOG_SOFTMAX if take_log else SOFTMAX, x, k, n // k if k > 0 else 0, out,
             n_threads)
