# Layer 2: the fused loss-and-gradient pass of logistic (binary) and softmax
# (multinomial) regression.  X is read once per call, tile by tile: a tile's
# logits are formed, turned into residuals r = s (prediction - target) and the
# loss, and its rows are added into the gradient while still in cache.  The
# loops run along whatever is contiguous, so that they vectorise: along each
# row for a C-ordered X, down each column of the tile for a Fortran-ordered X
# (a mini-batch of which is first gathered into a small column-major tile).
#
# The rows are split into a fixed number of chunks (independent of the thread
# count); each chunk accumulates its own gradient and loss in float64, and the
# chunks are added in a fixed order, so results do not depend on the threads.
from cython.parallel cimport prange
from cython cimport floating
from libc.math cimport log, fabs, sqrt, INFINITY
from libc.stdint cimport uint64_t
from libc.stdlib cimport malloc, free

import numpy as np

from xentfast._vmath cimport exp_nonpositive, log1p_unit

cdef enum:
    TILE = 64                 # rows per tile: logits and residuals stay in L1
    MAX_CHUNKS = 64
    MIN_CHUNK_ROWS = 256
    PARALLEL_MIN_WORK = 65536  # rows * features * classes below which one thread is faster


cdef Py_ssize_t n_params(const Problem* P) noexcept nogil:
    return P.n_classes * (P.n_features + P.fit_intercept)


cdef inline double dot16(const double* r, const floating* col, Py_ssize_t nt) noexcept nogil:
    # Sixteen independent partial sums (four vectors of four): the compiler keeps
    # them in registers, so the sum is not one long chain of dependent adds,
    # and without reassociating anything (no -ffast-math).
    cdef double a[16]
    cdef Py_ssize_t t = 0, q
    for q in range(16):
        a[q] = 0.0
    while t + 16 <= nt:
        for q in range(16):
            a[q] += r[t + q] * col[t + q]
        t += 16
    while t < nt:
        a[0] += r[t] * col[t]
        t += 1
    for q in range(8):
        a[q] += a[q + 8]
    for q in range(4):
        a[q] += a[q + 4]
    return (a[0] + a[1]) + (a[2] + a[3])


cdef inline Py_ssize_t sample_at(const Py_ssize_t* rows, Py_ssize_t position) noexcept nogil:
    return rows[position] if rows != NULL else position


cdef void gather_tile(const Problem* P, const floating* X, const Py_ssize_t* rows,
                      Py_ssize_t t0, Py_ssize_t nt, double* tile) noexcept nogil:
    # tile[j*TILE + t] = X[sample t0 + t, j]: the tile's rows, stored by column.
    cdef Py_ssize_t d = P.n_features, t, j
    cdef Py_ssize_t row_stride = P.row_stride, col_stride = P.col_stride
    cdef const floating* row
    for t in range(nt):
        row = X + sample_at(rows, t0 + t) * row_stride
        for j in range(d):
            tile[j * TILE + t] = row[j * col_stride]


cdef void tile_logits(const Problem* P, const floating* cols, Py_ssize_t col_stride,
                      const double* w, Py_ssize_t nt, double* Z) noexcept nogil:
    # Z[c*TILE + t] = x_t . w_c + b_c, where column j of the tile is cols + j*col_stride.
    cdef Py_ssize_t d = P.n_features, k = P.n_classes, ps = d + P.fit_intercept
    cdef Py_ssize_t c, j, t
    cdef const floating* col
    cdef double* z
    cdef double b, wcj
    for c in range(k):
        b = w[c * ps + d] if P.fit_intercept else 0.0
        z = Z + c * TILE
        for t in range(nt):
            z[t] = b
        for j in range(d):
            col = cols + j * col_stride
            wcj = w[c * ps + j]
            for t in range(nt):
                z[t] += col[t] * wcj


cdef double tile_residuals(const Problem* P, const Py_ssize_t* rows, Py_ssize_t t0,
                           Py_ssize_t nt, Residual residual, double* Z, double* buffers,
                           double* weight_sum) noexcept nogil:
    # Replace the logits in Z by the residuals; return the tile's weighted loss.
    # The tile's targets and weights are gathered first, so that the binary
    # loop below is branch-free over contiguous buffers and vectorises; it
    # writes per-row losses that are summed afterwards.
    cdef Py_ssize_t k = P.n_classes, c, t, i, label
    cdef const double* sw = P.sample_weight
    cdef double* weights = buffers
    cdef double* targets = buffers + TILE
    cdef double* losses = buffers + 2 * TILE
    cdef double s, z, y, e, loss = 0.0, m, total, z_label, inv_total
    # No load under a NULL-pointer condition (it would vectorise as a slow masked load).
    for t in range(nt):
        weights[t] = 1.0
    if sw != NULL:
        for t in range(nt):
            weights[t] = sw[sample_at(rows, t0 + t)]
    if k == 1:
        for t in range(nt):
            targets[t] = P.y[sample_at(rows, t0 + t)]
    for t in range(nt):
        weight_sum[0] += weights[t]
    if residual == GRAM_RESIDUAL:
        for c in range(k):
            for t in range(nt):
                Z[c * TILE + t] *= weights[t]
        return 0.0
    if k == 1:
        for t in range(nt):
            # CE = log(1 + e^-|z|) - y min(z, 0) - (1 - y) min(-z, 0): three terms >= 0.
            s = weights[t]
            z = Z[t]
            y = targets[t]
            e = exp_nonpositive(-fabs(z))
            losses[t] = s * (log1p_unit(e) + ((1.0 - y) * z if z >= 0.0 else -y * z))
            Z[t] = s * ((1.0 if z >= 0.0 else e) / (1.0 + e) - y)
        for t in range(nt):
            loss += losses[t]
        return loss
    for t in range(nt):
        # CE = logsumexp(z) - z_label = (m - z_label) + log Σ e^(z_c - m): both >= 0.
        s = weights[t]
        label = P.labels[sample_at(rows, t0 + t)]
        m = Z[t]
        for c in range(1, k):
            if Z[c * TILE + t] > m:
                m = Z[c * TILE + t]
        z_label = Z[label * TILE + t]
        total = 0.0
        for c in range(k):
            e = exp_nonpositive(Z[c * TILE + t] - m)
            Z[c * TILE + t] = e
            total += e
        loss += s * ((m - z_label) + log(total))
        inv_total = 1.0 / total
        for c in range(k):
            Z[c * TILE + t] = s * (Z[c * TILE + t] * inv_total - (1.0 if c == label else 0.0))
    return loss


cdef void tile_gradient(const Problem* P, const floating* cols, Py_ssize_t col_stride,
                        Py_ssize_t nt, const double* Z, double* G) noexcept nogil:
    # G[c*(d+1) + j] += Σ_t r_ct x_tj, and G[c*(d+1) + d] += Σ_t r_ct.
    cdef Py_ssize_t d = P.n_features, k = P.n_classes, c, j, t
    cdef double intercept
    for c in range(k):
        for j in range(d):
            G[c * (d + 1) + j] += dot16(Z + c * TILE, cols + j * col_stride, nt)
        intercept = 0.0
        for t in range(nt):
            intercept += Z[c * TILE + t]
        G[c * (d + 1) + d] += intercept


cdef void row_logits(const Problem* P, const floating* X, const double* w,
                     const Py_ssize_t* rows, Py_ssize_t t0, Py_ssize_t nt,
                     double* Z) noexcept nogil:
    # Z[c*TILE + t] = x_t . w_c + b_c for rows with contiguous features (C order).
    cdef Py_ssize_t d = P.n_features, k = P.n_classes, ps = d + P.fit_intercept, c, t
    cdef const floating* row
    for t in range(nt):
        row = X + sample_at(rows, t0 + t) * P.row_stride
        for c in range(k):
            Z[c * TILE + t] = (w[c * ps + d] if P.fit_intercept else 0.0) + dot16(
                w + c * ps, row, d)


cdef void row_gradient(const Problem* P, const floating* X, const Py_ssize_t* rows,
                       Py_ssize_t t0, Py_ssize_t nt, const double* Z, double* G) noexcept nogil:
    # G[c*(d+1) + j] += r_ct x_tj row by row (vectorised over j), and the intercepts.
    # Four rows per pass over G, so that G is loaded and stored a quarter as often.
    cdef Py_ssize_t d = P.n_features, k = P.n_classes, c, j, t = 0
    cdef const floating* x0
    cdef const floating* x1
    cdef const floating* x2
    cdef const floating* x3
    cdef double* g
    cdef double r0, r1, r2, r3
    while t + 4 <= nt:
        x0 = X + sample_at(rows, t0 + t) * P.row_stride
        x1 = X + sample_at(rows, t0 + t + 1) * P.row_stride
        x2 = X + sample_at(rows, t0 + t + 2) * P.row_stride
        x3 = X + sample_at(rows, t0 + t + 3) * P.row_stride
        for c in range(k):
            r0 = Z[c * TILE + t]
            r1 = Z[c * TILE + t + 1]
            r2 = Z[c * TILE + t + 2]
            r3 = Z[c * TILE + t + 3]
            g = G + c * (d + 1)
            for j in range(d):
                g[j] += ((r0 * x0[j] + r1 * x1[j]) + (r2 * x2[j] + r3 * x3[j]))
            g[d] += (r0 + r1) + (r2 + r3)
        t += 4
    while t < nt:
        x0 = X + sample_at(rows, t0 + t) * P.row_stride
        for c in range(k):
            r0 = Z[c * TILE + t]
            g = G + c * (d + 1)
            for j in range(d):
                g[j] += r0 * x0[j]
            g[d] += r0
        t += 1


cdef void chunk_pass(const Problem* P, const floating* X, const double* w,
                     const Py_ssize_t* rows, Py_ssize_t start, Py_ssize_t stop,
                     Residual residual, double* out) noexcept nogil:
    # out: this chunk's gradient sums (k*(d+1)), then its loss, then its weight sum.
    cdef Py_ssize_t size = P.n_classes * (P.n_features + 1), t0, nt, j
    cdef double loss = 0.0, weight_sum = 0.0
    cdef double buffers[3 * TILE]
    # C order (features contiguous): row by row.  Fortran order over all rows: the
    # tile's columns are contiguous in X already.  Otherwise (a mini-batch of a
    # Fortran-ordered X): the rows are gathered into a column-major tile first.
    cdef bint by_row = P.col_stride == 1
    cdef bint in_place = not by_row and rows == NULL and P.row_stride == 1
    cdef double* Z = <double*>malloc(P.n_classes * TILE * sizeof(double))
    cdef double* tile = NULL if by_row or in_place else <double*>malloc(
        P.n_features * TILE * sizeof(double))
    for j in range(size):
        out[j] = 0.0
    t0 = start
    while t0 < stop:
        nt = stop - t0 if stop - t0 < TILE else TILE
        if by_row:
            row_logits(P, X, w, rows, t0, nt, Z)
        elif in_place:
            tile_logits(P, X + t0, P.col_stride, w, nt, Z)
        else:
            gather_tile(P, X, rows, t0, nt, tile)
            tile_logits(P, tile, TILE, w, nt, Z)
        loss += tile_residuals(P, rows, t0, nt, residual, Z, buffers, &weight_sum)
        if by_row:
            row_gradient(P, X, rows, t0, nt, Z, out)
        elif in_place:
            tile_gradient(P, X + t0, P.col_stride, nt, Z, out)
        else:
            tile_gradient(P, tile, TILE, nt, Z, out)
        t0 += nt
    free(Z)
    free(tile)
    out[size] = loss
    out[size + 1] = weight_sum


cdef double loss_and_grad(const Problem* P, const double* w, double* grad,
                          const Py_ssize_t* rows, Py_ssize_t n_rows,
                          Residual residual) noexcept nogil:
    """The objective Σ s_i CE_i / Σ s_i + α/2 ||coef||² and its gradient (into grad).

    ``rows`` (n_rows sample indices) restricts the pass to a mini-batch; NULL
    means all samples.  With GRAM_RESIDUAL, grad = Xaᵀ S Xa w / Σ s_i for the
    intercept-augmented Xa, and the loss is 0.
    """
    cdef Py_ssize_t d = P.n_features, k = P.n_classes, ps = d + P.fit_intercept
    cdef Py_ssize_t size = k * (d + 1), stride = size + 2
    cdef Py_ssize_t n_chunks, chunk, c, j, start, stop
    cdef int n_threads = P.n_threads
    cdef double loss = 0.0, weight_sum = 0.0, penalty = 0.0, inv_weight, coef
    cdef double* out
    if rows == NULL:
        n_rows = P.n_samples
    n_chunks = n_rows // MIN_CHUNK_ROWS
    n_chunks = 1 if n_chunks < 1 else (MAX_CHUNKS if n_chunks > MAX_CHUNKS else n_chunks)
    if n_rows * d * k < PARALLEL_MIN_WORK:
        n_threads = 1
    for chunk in prange(n_chunks, schedule="static", num_threads=n_threads):
        start = chunk * n_rows // n_chunks
        stop = (chunk + 1) * n_rows // n_chunks
        if P.X_is_float32:
            chunk_pass(P, <const float*>P.X, w, rows, start, stop, residual,
                       P.scratch + chunk * stride)
        else:
            chunk_pass(P, <const double*>P.X, w, rows, start, stop, residual,
                       P.scratch + chunk * stride)
    # Chunks are added in a fixed order: the same result for any thread count.
    out = P.scratch
    for chunk in range(1, n_chunks):
        for j in range(size + 2):
            out[j] += P.scratch[chunk * stride + j]
    loss = out[size]
    weight_sum = out[size + 1]
    inv_weight = 1.0 / weight_sum
    for c in range(k):
        for j in range(d):
            coef = w[c * ps + j]
            if residual == GRAM_RESIDUAL:
                grad[c * ps + j] = out[c * (d + 1) + j] * inv_weight
            else:
                grad[c * ps + j] = out[c * (d + 1) + j] * inv_weight + P.alpha * coef
                penalty += coef * coef
        if P.fit_intercept:
            grad[c * ps + d] = out[c * (d + 1) + d] * inv_weight
    if residual == GRAM_RESIDUAL:
        return 0.0
    return loss / weight_sum + 0.5 * P.alpha * penalty


cdef class LinearProblem:
    """Checked arrays of one fitting problem, laid out for the kernels.

    X: 2-D float32/float64, C- or F-contiguous (never copied here).  Binary
    (n_classes == 1): ``targets`` float64 in [0, 1].  Multinomial: ``targets``
    intp class indices in [0, n_classes).  ``sample_weight``: float64 or None.
    """

    def __cinit__(self, X, targets, sample_weight, double alpha, bint fit_intercept,
                  Py_ssize_t n_classes, int n_threads):
        cdef const float[:, :] X32
        cdef const double[:, :] X64
        cdef const double[::1] y
        cdef const Py_ssize_t[::1] labels
        cdef const double[::1] sw
        cdef Py_ssize_t itemsize = X.dtype.itemsize
        self.arrays = (X, targets, sample_weight)
        P = &self.problem
        P.n_samples, P.n_features = X.shape
        P.n_classes = n_classes
        P.row_stride = X.strides[0] // itemsize
        P.col_stride = X.strides[1] // itemsize
        if X.dtype == np.float32:
            X32 = X
            P.X = &X32[0, 0]
            P.X_is_float32 = True
        else:
            X64 = X
            P.X = &X64[0, 0]
            P.X_is_float32 = False
        P.y = NULL
        P.labels = NULL
        if n_classes == 1:
            y = targets
            P.y = &y[0]
        else:
            labels = targets
            P.labels = &labels[0]
        P.sample_weight = NULL
        if sample_weight is not None:
            sw = sample_weight
            P.sample_weight = &sw[0]
        P.alpha = alpha
        P.fit_intercept = fit_intercept
        P.n_threads = n_threads
        self.scratch_buffer = np.empty(MAX_CHUNKS * (n_classes * (P.n_features + 1) + 2))
        P.scratch = &self.scratch_buffer[0]

    @property
    def n_params(self):
        return n_params(&self.problem)

    def set_threads(self, int n_threads):
        self.problem.n_threads = n_threads

    def loss_and_grad(self, const double[::1] w not None, double[::1] grad not None):
        """The objective at w (flat parameters); its gradient is written into grad."""
        cdef double loss
        with nogil:
            loss = loss_and_grad(&self.problem, &w[0], &grad[0], NULL, 0, CROSS_ENTROPY_RESIDUAL)
        return loss


include "_solvers.pxi"
