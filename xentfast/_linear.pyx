# Layer 2: the in-memory objective of logistic (binary) and softmax
# (multinomial) regression: Σ s_i CE_i / Σ s_i + α/2 ||coef||², its gradient,
# its Hessian and Hessian-vector products, each from one pass over X.
#
# A pass reads X tile by tile (TILE rows): it forms the tile's logits, turns
# them into what the question needs (loss, residuals r = s (prediction -
# target) and curvature; or a Hessian product's weights), and adds the tile's
# rows, weighted by those, into the chunk's gradient-sized sums while they are
# still in cache; a Hessian pass also adds their weighted outer products.
# The per-layout primitives live in _linear_dense.pxi (C or Fortran order) and
# _linear_sparse.pxi (CSR); the Gram kernel of the Hessian in _gram.h.
#
# The rows are split into a fixed number of chunks (from the problem's shape,
# never from the thread count); each chunk sums into its own slot in float64
# and the slots are added in a fixed order, so results do not depend on the
# threads.  Hessian passes give each group of consecutive chunks one Hessian
# accumulator (memory: a group's Hessian is p² doubles), again a fixed split.
from cpython.exc cimport PyErr_CheckSignals
from cython.parallel cimport prange
from cython cimport floating
from libc.math cimport log1p, fabs

import numpy as np

from xentfast._vmath cimport exp_nonpositive, log1p_unit
from xentfast._scalar cimport sum16
from xentfast._objective cimport Objective
from xentfast._solvers cimport Progress

cdef extern from "_prefetch.h":
    void xentfast_prefetch(const void* start, size_t n_bytes) noexcept nogil

cdef extern from "_dot_rows.h":
    enum: XF_DOT_ROWS
    void xentfast_dot_rows_d(const double* const* rows, const double* w, Py_ssize_t d,
                             double* out) noexcept nogil
    void xentfast_dot_rows_f(const float* const* rows, const double* w, Py_ssize_t d,
                             double* out) noexcept nogil
    void xentfast_add_rows_d(const double* const* rows, const double* c, Py_ssize_t d,
                             double* g) noexcept nogil
    void xentfast_add_rows_f(const float* const* rows, const double* c, Py_ssize_t d,
                             double* g) noexcept nogil

cdef extern from "_binary_rows.h":
    enum: XF_BINARY_ROWS_AVX512
    Py_ssize_t xentfast_binary_rows_d(
        const double* X, Py_ssize_t row_stride, Py_ssize_t d, const double* w, double b,
        const double* y, const double* s, Py_ssize_t n, bint want_grad, double* g,
        double* curvature, double* loss, double* weight_sum) noexcept nogil
    Py_ssize_t xentfast_binary_rows_f(
        const float* X, Py_ssize_t row_stride, Py_ssize_t d, const double* w, double b,
        const double* y, const double* s, Py_ssize_t n, bint want_grad, double* g,
        double* curvature, double* loss, double* weight_sum) noexcept nogil

cdef extern from "_gram.h":
    enum: XF_GRAM_CB
    void xentfast_gram_update(const double* T, const double* Tw, Py_ssize_t nt,
                              Py_ssize_t dpad, double* H) noexcept nogil

cdef enum:
    TILE = 64                   # rows per tile: logits and residuals stay in L1
    MAX_CHUNKS = 64
    MIN_CHUNK_ROWS = 256
    PARALLEL_MIN_WORK = 65536   # rows * multiply-adds per row below which one thread is faster
    # How far ahead a pass over a C-ordered X prefetches rows, targets and weights
    # (into L2): one tile, measured best between a quarter and two tiles on AMD Zen 4.
    PREFETCH_ROWS = TILE
    # Rows per block of a binary pass over a C-ordered X (binary_row_blocks): of
    # 8, 16 and 32, 16 was best for float64 and float32 X together (AMD Zen 4).
    BLOCK_ROWS = 16

# Multiply-adds between two checks for signals in a long pass (tens of ms).
cdef double WAVE_WORK = 1 << 26

# Memory budgets (bytes) that set the fixed splits of wide problems.
cdef Py_ssize_t SLOT_BUDGET = 4 << 20      # all chunks' gradient-sized sums
cdef Py_ssize_t GATHER_BUDGET = 512 << 10  # one gathered tile of a Fortran-order mini-batch
cdef Py_ssize_t HESSIAN_BUDGET = 64 << 20  # all groups' Hessian accumulators


cdef inline Py_ssize_t sample_at(const Py_ssize_t* rows, Py_ssize_t position) noexcept nogil:
    return rows[position] if rows != NULL else position


cdef inline Py_ssize_t clamp(Py_ssize_t value, Py_ssize_t low, Py_ssize_t high) noexcept nogil:
    return low if value < low else (high if value > high else value)


cdef inline void tile_gather(const double* values, const Py_ssize_t* rows, Py_ssize_t t0,
                             Py_ssize_t nt, double* out) noexcept nogil:
    # out[t] = values[sample t0 + t]: a plain copy for a whole pass (rows NULL).
    cdef Py_ssize_t t
    if rows == NULL:
        for t in range(nt):
            out[t] = values[t0 + t]
    else:
        for t in range(nt):
            out[t] = values[rows[t0 + t]]


cdef inline void prefetch_targets(const Problem* P, Py_ssize_t t0, Py_ssize_t nt) noexcept nogil:
    # The targets and weights of a tile ahead (the hardware prefetcher does not
    # follow these short, spaced-out reads).
    if P.y != NULL:
        xentfast_prefetch(P.y + t0, nt * sizeof(double))
    if P.labels != NULL:
        xentfast_prefetch(P.labels + t0, nt * sizeof(Py_ssize_t))
    if P.sample_weight != NULL:
        xentfast_prefetch(P.sample_weight + t0, nt * sizeof(double))


cdef inline double pair_curvature(const Problem* P, const double* weights,
                                  const double* curvature, Py_ssize_t t, Py_ssize_t c,
                                  Py_ssize_t c2) noexcept nogil:
    # The weight of x_t x_tᵀ in the Hessian block of classes (c, c2): s σ(z)σ(-z)
    # (binary; already in curvature[t]), or s (p_c [c = c2] - p_c p_c2).
    cdef double pc
    if P.n_classes == 1:
        return curvature[t]
    pc = curvature[c * TILE + t]
    if c == c2:
        return weights[t] * (pc - pc * pc)
    return -weights[t] * pc * curvature[c2 * TILE + t]


cdef void binary_terms(const double* weights, const double* targets, double* Z,
                       double* losses, double* curvature, Py_ssize_t n) noexcept nogil:
    # Binary logistic regression, n samples of weights s, targets y and logits
    # Z: losses[t] = the weighted loss; Z[t] = the residual s (σ(z) - y); and
    # curvature[t] = s σ(z) σ(-z).  A loop over buffers, so that it vectorises.
    cdef Py_ssize_t t
    cdef double s, z, y, e, inv
    for t in range(n):
        # CE = log(1 + e^-|z|) - y min(z, 0) - (1 - y) min(-z, 0): three terms >= 0.
        # σ(z) and σ(-z) are both formed from e^-|z|, never as 1 - σ.
        s = weights[t]
        z = Z[t]
        y = targets[t]
        e = exp_nonpositive(-fabs(z))
        inv = 1.0 / (1.0 + e)
        losses[t] = s * (log1p_unit(e) + ((1.0 - y) * z if z >= 0.0 else -y * z))
        Z[t] = s * ((1.0 if z >= 0.0 else e) * inv - y)
        curvature[t] = s * (e * inv) * inv


include "_linear_dense.pxi"
include "_linear_sparse.pxi"
include "_linear_columns.pxi"


# --- the primitives of a tile, whatever the layout --------------------------

cdef void tile_logits(const Problem* P, const Pass* Q, Py_ssize_t t0, Py_ssize_t nt,
                      double* Z, double* gathered) noexcept nogil:
    # Z[c*TILE + t] = xa_t · w_c (Q.w: the parameters, or the vector of a product).
    if P.layout == CSR_ROWS:
        if P.X_is_float32:
            sparse_logits(P, <const float*>P.X, Q.w, Q.rows, t0, nt, Z)
        else:
            sparse_logits(P, <const double*>P.X, Q.w, Q.rows, t0, nt, Z)
    elif P.X_is_float32:
        dense_logits(P, <const float*>P.X, Q.w, Q.rows, t0, nt, Q.n_rows, Z, gathered)
    else:
        dense_logits(P, <const double*>P.X, Q.w, Q.rows, t0, nt, Q.n_rows, Z, gathered)


cdef void tile_gradient(const Problem* P, const Pass* Q, Py_ssize_t t0, Py_ssize_t nt,
                        const double* Z, double* G, const double* gathered) noexcept nogil:
    # G[c*(d+1) + j] += Σ_t Z[c*TILE + t] xa_tj
    if P.layout == CSR_ROWS:
        if P.X_is_float32:
            sparse_gradient(P, <const float*>P.X, Q.rows, t0, nt, Z, G)
        else:
            sparse_gradient(P, <const double*>P.X, Q.rows, t0, nt, Z, G)
    elif P.X_is_float32:
        dense_gradient(P, <const float*>P.X, Q.rows, t0, nt, Z, G, gathered)
    else:
        dense_gradient(P, <const double*>P.X, Q.rows, t0, nt, Z, G, gathered)


cdef void tile_hessian(const Problem* P, const Pass* Q, Py_ssize_t t0, Py_ssize_t nt,
                       const double* weights, const double* curvature, double* H,
                       double* tiles) noexcept nogil:
    if P.layout == CSR_ROWS:
        if P.X_is_float32:
            sparse_hessian(P, <const float*>P.X, Q.rows, t0, nt, weights, curvature, H)
        else:
            sparse_hessian(P, <const double*>P.X, Q.rows, t0, nt, weights, curvature, H)
    elif P.X_is_float32:
        dense_hessian(P, <const float*>P.X, Q.rows, t0, nt, weights, curvature, H, tiles)
    else:
        dense_hessian(P, <const double*>P.X, Q.rows, t0, nt, weights, curvature, H, tiles)


cdef double tile_weights(const Problem* P, const Pass* Q, Py_ssize_t t0, Py_ssize_t nt,
                         double* weights) noexcept nogil:
    # The tile's sample weights into a contiguous buffer; returns their sum.
    # No load under a NULL-pointer condition (it would vectorise as a slow masked load).
    cdef Py_ssize_t t
    if P.sample_weight == NULL:
        for t in range(nt):
            weights[t] = 1.0
    else:
        tile_gather(P.sample_weight, Q.rows, t0, nt, weights)
    return sum16(weights, nt)


cdef double tile_evaluate(const Problem* P, const Pass* Q, Py_ssize_t t0, Py_ssize_t nt,
                          double* Z, double* curvature, const double* weights,
                          double* targets, double* losses) noexcept nogil:
    # Replace the logits in Z by the residuals and fill ``curvature``; return the
    # tile's weighted loss.  Binary: curvature[t] = s σ(z) σ(-z).  Multinomial:
    # curvature[c*TILE + t] = p_c, the softmax probabilities.  The targets are
    # gathered first, so that the binary loop is branch-free over contiguous
    # buffers and vectorises; it writes per-row losses that are summed afterwards.
    cdef Py_ssize_t k = P.n_classes, c, t, label, top
    cdef double s, e, loss = 0.0, m, rest, z_label, inv_total, p
    if k == 1:
        tile_gather(P.y, Q.rows, t0, nt, targets)
        binary_terms(weights, targets, Z, losses, curvature, nt)
        # partial sums: one chain of dependent adds per tile costs more than its arithmetic
        loss = sum16(losses, nt)
    else:
        for t in range(nt):
            # CE = logsumexp(z) - z_label = (m - z_label) + log(1 + r): both >= 0, with
            # r = Σ_{c != top} e^(z_c - m) over the classes but the first maximum.
            # From r, not from 1 + r rounded: for a confident sample (r < 2^-53)
            # the loss is r and the label's residual p - 1 = -r / (1 + r), not 0.
            s = weights[t]
            label = P.labels[sample_at(Q.rows, t0 + t)]
            m = Z[t]
            top = 0
            for c in range(1, k):
                if Z[c * TILE + t] > m:
                    m = Z[c * TILE + t]
                    top = c
            z_label = Z[label * TILE + t]
            rest = 0.0
            for c in range(k):
                e = exp_nonpositive(Z[c * TILE + t] - m)
                curvature[c * TILE + t] = e
                rest += e if c != top else 0.0
            loss += s * ((m - z_label) + log1p(rest))
            inv_total = 1.0 / (1.0 + rest)
            for c in range(k):
                p = curvature[c * TILE + t] * inv_total
                curvature[c * TILE + t] = p
                Z[c * TILE + t] = s * (p - (1.0 if c == label else 0.0))
            if label == top:
                Z[label * TILE + t] = s * ((0.0 - rest) * inv_total)   # +0 if rest is 0
    if Q.keep_curvature:
        # What Hessian products at this w need, per sample (Q.rows is NULL here).
        if k == 1:
            for t in range(nt):
                P.curvature[t0 + t] = curvature[t]
        else:
            for t in range(nt):
                for c in range(k):
                    P.curvature[(t0 + t) * k + c] = curvature[c * TILE + t]
    return loss


cdef void tile_product(const Problem* P, const Pass* Q, Py_ssize_t t0, Py_ssize_t nt,
                       double* Z, const double* weights) noexcept nogil:
    # Z holds u = Xa v.  Hessian product: binary u s σσ', multinomial
    # s p_c (u_c - Σ_c' p_c' u_c') from the curvature kept by evaluate (all rows,
    # so sample t0 + t).  Gram product: s u.
    cdef Py_ssize_t k = P.n_classes, c, t
    cdef const double* p
    cdef double mean
    if Q.mode == GRAM_PRODUCT:
        for c in range(k):
            for t in range(nt):
                Z[c * TILE + t] *= weights[t]
    elif k == 1:
        for t in range(nt):
            Z[t] *= P.curvature[t0 + t]
    else:
        for t in range(nt):
            p = P.curvature + (t0 + t) * k
            mean = 0.0
            for c in range(k):
                mean += p[c] * Z[c * TILE + t]
            for c in range(k):
                Z[c * TILE + t] = weights[t] * p[c] * (Z[c * TILE + t] - mean)


# --- a pass: chunks, groups, threads ------------------------------------------

cdef inline Pass whole_pass(const Problem* P, Mode mode, const double* w, bint want_grad,
                            bint want_hess, bint keep_curvature) noexcept nogil:
    # A question about every sample (a mini-batch's Pass sets rows and n_rows).
    cdef Pass Q
    Q.mode = mode
    Q.w = w
    Q.rows = NULL
    Q.n_rows = P.n_samples
    Q.want_grad = want_grad
    Q.want_hess = want_hess
    Q.keep_curvature = keep_curvature
    return Q


cdef inline Py_ssize_t chunk_count(const Problem* P, Py_ssize_t n_rows) noexcept nogil:
    return clamp(n_rows // MIN_CHUNK_ROWS, 1, P.max_chunks)


cdef inline Py_ssize_t hess_group_size(const Problem* P) noexcept nogil:
    return P.n_classes * P.n_classes * P.hess_dim * P.hess_dim


cdef void chunk_pass(const Problem* P, const Pass* Q, Py_ssize_t start, Py_ssize_t stop,
                     double* slot, double* scratch, double* H, double* tiles) noexcept nogil:
    # slot: this chunk's gradient-sized sums (k*(d+1)), then its loss, then its
    # weight sum.  H: the group's Hessian blocks (a Hessian pass), else NULL.
    cdef Py_ssize_t k = P.n_classes, size = P.slot_size - 2, t0, nt, j
    cdef double* Z = scratch
    cdef double* curvature = scratch + k * TILE
    cdef double* weights = scratch + 2 * k * TILE
    cdef double* targets = weights + TILE
    cdef double* losses = targets + TILE
    cdef double* gathered = losses + TILE
    cdef double loss = 0.0, weight_sum = 0.0
    cdef bint accumulate = Q.mode != EVALUATE or Q.want_grad
    for j in range(size):
        slot[j] = 0.0
    t0 = start
    if P.layout == C_ROWS and k == 1 and Q.mode == EVALUATE and H == NULL:
        if XF_BINARY_ROWS_AVX512 and Q.rows == NULL:
            t0 = start + binary_rows_kernel(P, Q, start, stop, slot, &loss, &weight_sum)
        elif P.X_is_float32:
            t0 = binary_row_blocks(P, Q, <const float*>P.X, start, stop, slot, &loss,
                                   &weight_sum)
        else:
            t0 = binary_row_blocks(P, Q, <const double*>P.X, start, stop, slot, &loss,
                                   &weight_sum)
    while t0 < stop:
        nt = stop - t0 if stop - t0 < P.tile_rows else P.tile_rows
        if Q.rows == NULL and t0 + PREFETCH_ROWS + nt <= Q.n_rows:
            prefetch_targets(P, t0 + PREFETCH_ROWS, nt)
        tile_logits(P, Q, t0, nt, Z, gathered)
        weight_sum += tile_weights(P, Q, t0, nt, weights)
        if Q.mode == EVALUATE:
            loss += tile_evaluate(P, Q, t0, nt, Z, curvature, weights, targets, losses)
        else:
            tile_product(P, Q, t0, nt, Z, weights)
        if accumulate:
            tile_gradient(P, Q, t0, nt, Z, slot, gathered)
        if H != NULL:
            tile_hessian(P, Q, t0, nt, weights, curvature, H, tiles)
        t0 += nt
    slot[size] = loss
    slot[size + 1] = weight_sum


cdef inline Py_ssize_t binary_rows_kernel(const Problem* P, const Pass* Q, Py_ssize_t start,
                                          Py_ssize_t stop, double* G, double* loss,
                                          double* weight_sum) noexcept nogil:
    # _binary_rows.h over rows start..stop of a whole pass; returns how many it did.
    cdef Py_ssize_t d = P.n_features
    cdef double b = Q.w[d] if P.fit_intercept else 0.0
    cdef const double* s = P.sample_weight + start if P.sample_weight != NULL else NULL
    cdef double* curvature = P.curvature + start if Q.keep_curvature else NULL
    if P.X_is_float32:
        return xentfast_binary_rows_f(<const float*>P.X + start * P.row_stride, P.row_stride,
                                      d, Q.w, b, P.y + start, s, stop - start, Q.want_grad,
                                      G, curvature, loss, weight_sum)
    return xentfast_binary_rows_d(<const double*>P.X + start * P.row_stride, P.row_stride,
                                  d, Q.w, b, P.y + start, s, stop - start, Q.want_grad,
                                  G, curvature, loss, weight_sum)


cdef void group_pass(const Problem* P, const Pass* Q, Py_ssize_t group, Py_ssize_t n_groups,
                     Py_ssize_t n_chunks) noexcept nogil:
    # The chunks of one group, in order, on one thread.
    cdef Py_ssize_t chunk, j, n = Q.n_rows, size = hess_group_size(P)
    cdef double* H = NULL
    cdef double* tiles = NULL
    if Q.want_hess:
        H = P.hess_groups + group * size
        for j in range(size):
            H[j] = 0.0
        if P.hess_tiles != NULL:
            tiles = P.hess_tiles + group * 2 * TILE * P.hess_dim
    for chunk in range(group * n_chunks // n_groups, (group + 1) * n_chunks // n_groups):
        chunk_pass(P, Q, chunk * n // n_chunks, (chunk + 1) * n // n_chunks,
                   P.slots + chunk * P.slot_size, P.scratch + group * P.scratch_size, H, tiles)


cdef int run_pass(const Problem* P, const Pass* Q) except -1 nogil:
    # Leaves the summed slot in P.slots: gradient-sized sums, loss, weight sum.  A
    # Hessian pass leaves the summed Hessian blocks in the first group's accumulator.
    # Long passes run their groups in waves of about WAVE_WORK multiply-adds, with
    # a check for signals (Ctrl-C) between waves, so that they stop soon after
    # one arrives.  Threads take groups as they free up (dynamic schedule): which
    # thread sums a group does not change the result.
    cdef Py_ssize_t n_chunks = chunk_count(P, Q.n_rows), n_groups = n_chunks
    cdef Py_ssize_t group, chunk, j, size = hess_group_size(P), first = 0, last, wave
    cdef double work_per_row = P.work_per_row, group_work
    cdef int n_threads = P.n_threads
    if Q.want_hess:
        if P.max_hess_groups < n_groups:
            n_groups = P.max_hess_groups
        work_per_row += 0.5 * size
    if Q.n_rows * work_per_row < PARALLEL_MIN_WORK or n_groups == 1:
        n_threads = 1
    group_work = work_per_row * Q.n_rows / n_groups
    wave = <Py_ssize_t>(WAVE_WORK / group_work) // n_threads * n_threads
    wave = clamp(wave, n_threads, n_groups)
    while first < n_groups:
        last = min(n_groups, first + wave)
        if n_threads == 1:
            # No parallel region: entering even a one-thread region costs ~0.6 µs.
            for group in range(first, last):
                group_pass(P, Q, group, n_groups, n_chunks)
        else:
            for group in prange(first, last, schedule="dynamic", chunksize=1,
                                num_threads=n_threads):
                group_pass(P, Q, group, n_groups, n_chunks)
        first = last
        if first < n_groups:
            with gil:
                PyErr_CheckSignals()
    # Slots and groups are added in a fixed order: the same result for any thread count.
    for chunk in range(1, n_chunks):
        for j in range(P.slot_size):
            P.slots[j] += P.slots[chunk * P.slot_size + j]
    if Q.want_hess:
        for group in range(1, n_groups):
            for j in range(size):
                P.hess_groups[j] += P.hess_groups[group * size + j]
    return 0


cdef void assemble_hessian(const Problem* P, double scale, double alpha,
                           double* hess) noexcept nogil:
    # The full (p, p) Hessian from the summed class blocks' upper triangles, times
    # scale, plus alpha on the coefficients' diagonal.
    cdef Py_ssize_t k = P.n_classes, d = P.n_features, hd = P.hess_dim
    cdef Py_ssize_t ps = d + P.fit_intercept, p = k * ps, c, c2, j, l
    cdef const double* B
    cdef double value
    for c in range(k):
        for c2 in range(c, k):
            B = P.hess_groups + (c * k + c2) * hd * hd
            for j in range(ps):
                for l in range(ps):
                    value = (B[j * hd + l] if j <= l else B[l * hd + j]) * scale
                    hess[(c * ps + j) * p + c2 * ps + l] = value
                    hess[(c2 * ps + l) * p + c * ps + j] = value
        for j in range(d):
            hess[(c * ps + j) * p + c * ps + j] += alpha


cdef void finish_gradient(const Problem* P, const double* sums, double scale, double alpha,
                          const double* w, double* out) noexcept nogil:
    # out = sums (in the slot's k*(d+1) layout) * scale, plus alpha w on the coefficients.
    cdef Py_ssize_t d = P.n_features, k = P.n_classes, ps = d + P.fit_intercept, c, j
    for c in range(k):
        for j in range(d):
            out[c * ps + j] = sums[c * (d + 1) + j] * scale + alpha * w[c * ps + j]
        if P.fit_intercept:
            out[c * ps + d] = sums[c * (d + 1) + d] * scale


# --- the objective over data in memory ------------------------------------------

cdef class InMemoryObjective(Objective):
    """The objective over X in memory: dense (2-D float32/float64, C- or
    F-contiguous, never copied here) or CSR, given as the tuple
    ("csr", data, indices, indptr) of checked arrays (float32/float64 data,
    int32 or int64 indices and indptr of one type, indices in [0, n_features)).

    Binary (n_classes == 1): ``targets`` float64 in [0, 1].  Multinomial:
    ``targets`` intp class indices in [0, n_classes).  ``sample_weight``:
    float64 or None.  Every buffer is allocated here, with NumPy, so that a
    failed allocation raises MemoryError before any pass.
    """

    def __init__(self, X, Py_ssize_t n_samples, Py_ssize_t n_features, targets,
                 sample_weight, double alpha, bint fit_intercept, Py_ssize_t n_classes,
                 int n_threads):
        Objective.__init__(self, n_samples, n_features, n_classes, fit_intercept, alpha)
        cdef Problem* P = &self.problem
        cdef const double[::1] y
        cdef const Py_ssize_t[::1] labels
        cdef const double[::1] sw
        cdef double[::1] buffer
        P.n_samples = n_samples
        P.n_features = n_features
        P.n_classes = n_classes
        P.fit_intercept = fit_intercept
        P.alpha = alpha
        P.n_threads = n_threads if n_threads > 0 else 1
        self.arrays = (X, targets, sample_weight)
        P.indptr = NULL
        P.indices = NULL
        P.index64 = False
        P.row_stride = P.col_stride = 0
        if isinstance(X, tuple):
            _, data, indices, indptr = X
            P.layout = CSR_ROWS
            P.X = _address(data)
            P.X_is_float32 = data.dtype == np.float32
            P.indices = _address(indices)
            P.indptr = _address(indptr)
            P.index64 = indices.dtype == np.int64
            P.work_per_row = n_classes * max(1, data.shape[0] // n_samples)
        else:
            P.X = _address(X)
            P.X_is_float32 = X.dtype == np.float32
            P.row_stride = X.strides[0] // X.dtype.itemsize
            P.col_stride = X.strides[1] // X.dtype.itemsize
            P.layout = C_ROWS if P.col_stride == 1 else F_COLUMNS
            P.work_per_row = n_classes * n_features
        P.y = NULL
        P.labels = NULL
        if n_classes == 1:
            y = targets
            P.y = &y[0]
        else:
            labels = targets
            P.labels = &labels[0]
        P.sample_weight = NULL
        P.total_weight = n_samples
        if sample_weight is not None:
            sw = sample_weight
            P.sample_weight = &sw[0]
            P.total_weight = np.sum(sample_weight)

        P.slot_size = n_classes * (n_features + 1) + 2
        P.max_chunks = clamp(SLOT_BUDGET // (8 * P.slot_size), 1, MAX_CHUNKS)
        P.tile_rows = TILE
        if P.layout == F_COLUMNS:
            P.tile_rows = clamp(GATHER_BUDGET // (8 * n_features), 1, TILE)
        P.scratch_size = 2 * n_classes * TILE + 3 * TILE
        if P.layout == F_COLUMNS:
            P.scratch_size += n_features * P.tile_rows
        self.buffers = {}
        P.slots = self._buffer("slots", P.max_chunks * P.slot_size)
        P.scratch = self._buffer("scratch", P.max_chunks * P.scratch_size)
        P.hess_dim = 0
        P.max_hess_groups = 0
        P.hess_groups = NULL
        P.hess_tiles = NULL
        P.curvature = NULL

    cdef double* _buffer(self, name, Py_ssize_t size) except NULL:
        cdef double[::1] buffer = np.empty(max(size, 1))
        self.buffers[name] = buffer
        return &buffer[0]

    def reserve_hessian(self):
        """Allocate the Hessian's accumulators (before passes that form H)."""
        cdef Problem* P = &self.problem
        cdef Py_ssize_t width = P.n_features + P.fit_intercept
        if P.max_hess_groups > 0:
            return
        P.hess_dim = width
        if P.layout != CSR_ROWS:  # the Gram kernel works on padded rows
            P.hess_dim = (width + XF_GRAM_CB - 1) // XF_GRAM_CB * XF_GRAM_CB
        groups = clamp(HESSIAN_BUDGET // (8 * hess_group_size(P)), 1, P.max_chunks)
        P.hess_groups = self._buffer("hess_groups", groups * hess_group_size(P))
        if P.layout != CSR_ROWS:
            P.hess_tiles = self._buffer("hess_tiles", groups * 2 * TILE * P.hess_dim)
        P.max_hess_groups = groups

    def reserve_curvature(self):
        """Allocate what evaluate(keep_curvature) keeps for Hessian products."""
        if self.problem.curvature == NULL:
            self.problem.curvature = self._buffer(
                "curvature", self.problem.n_samples * self.problem.n_classes)

    def set_alpha(self, double alpha):
        """Change the L2 penalty (a regularisation path refits at several)."""
        Objective.set_alpha(self, alpha)
        self.problem.alpha = alpha

    def set_threads(self, int n_threads):
        self.problem.n_threads = n_threads if n_threads > 0 else 1

    cdef int evaluate(self, const double* w, const Py_ssize_t* rows, Py_ssize_t n_rows,
                      double* loss, double* grad, double* hess,
                      bint keep_curvature) except -1 nogil:
        cdef Problem* P = &self.problem
        cdef Pass Q
        cdef Py_ssize_t size = P.slot_size - 2, c, j, ps = P.n_features + P.fit_intercept
        cdef double* sums
        cdef double penalty = 0.0, coef, weight_sum
        if (hess != NULL and P.max_hess_groups == 0) or (
                keep_curvature and (P.curvature == NULL or rows != NULL)):
            with gil:
                raise RuntimeError("evaluate: the Hessian or curvature buffers were not "
                                   "reserved, or curvature was asked of a mini-batch")
        Q = whole_pass(P, EVALUATE, w, grad != NULL, hess != NULL, keep_curvature)
        if rows != NULL:
            Q.rows = rows
            Q.n_rows = n_rows
        run_pass(P, &Q)
        sums = P.slots
        weight_sum = sums[size + 1]
        if rows != NULL:
            # A mini-batch estimates the mean over all samples: its sums are scaled
            # by the share of the total weight that n_rows samples carry on
            # average, not by its own weight (which biases it when weights vary).
            weight_sum = P.total_weight * n_rows / P.n_samples
        for c in range(P.n_classes):
            for j in range(P.n_features):
                coef = w[c * ps + j]
                penalty += coef * coef
        loss[0] = sums[size] / weight_sum + 0.5 * P.alpha * penalty
        if grad != NULL:
            finish_gradient(P, sums, 1.0 / weight_sum, P.alpha, w, grad)
        if hess != NULL:
            assemble_hessian(P, 1.0 / weight_sum, P.alpha, hess)
        return 0

    cdef int hessian_product(self, const double* v, double* out) except -1 nogil:
        cdef Problem* P = &self.problem
        cdef Pass Q
        cdef double* sums
        if P.curvature == NULL:
            with gil:
                raise RuntimeError("hessian_product: call evaluate(keep_curvature) first")
        Q = whole_pass(P, HESSIAN_PRODUCT, v, True, False, False)
        run_pass(P, &Q)
        sums = P.slots
        finish_gradient(P, sums, 1.0 / sums[P.slot_size - 1], P.alpha, v, out)
        return 0

    cdef int gram_product(self, const double* v, double* out) except -1 nogil:
        # Xaᵀ S Xa v / Σs, without the α term.
        cdef Problem* P = &self.problem
        cdef Pass Q
        cdef double* sums
        Q = whole_pass(P, GRAM_PRODUCT, v, True, False, False)
        run_pass(P, &Q)
        sums = P.slots
        finish_gradient(P, sums, 1.0 / sums[P.slot_size - 1], 0.0, v, out)
        return 0


    def raw_sums(self, w, bint want_grad=True, bint want_hess=False):
        """(Σ s_i CE_i, Σ s_i, Σ s_i ∇CE_i or None, Σ s_i ∇²CE_i or None) at flat
        parameters w, from one pass: the sums before they are divided by Σ s_i,
        without the penalty.  A distributed fit adds these up over blocks."""
        cdef Problem* P = &self.problem
        cdef const double[::1] wv = self._parameters(w)
        cdef Pass Q
        cdef Py_ssize_t size = P.slot_size - 2
        cdef double[::1] grad
        cdef double[:, ::1] hess
        if want_hess:
            self.reserve_hessian()
        Q = whole_pass(P, EVALUATE, &wv[0], want_grad, want_hess, False)
        with nogil:
            run_pass(P, &Q)
        grad_sum = hess_sum = None
        if want_grad:
            grad = grad_sum = np.empty(self.n_params)
            finish_gradient(P, P.slots, 1.0, 0.0, &wv[0], &grad[0])
        if want_hess:
            hess = hess_sum = np.empty((self.n_params, self.n_params))
            assemble_hessian(P, 1.0, 0.0, &hess[0, 0])
        return P.slots[size], P.slots[size + 1], grad_sum, hess_sum

    def raw_hessian_vector(self, w, v):
        """Σ s_i ∇²CE_i(w) v, the unnormalised Hessian product at w (two passes:
        the curvature at w, then the product)."""
        cdef Problem* P = &self.problem
        cdef const double[::1] wv = self._parameters(w)
        cdef const double[::1] vv = self._parameters(v)
        cdef double[::1] out = np.empty(self.n_params)
        cdef Pass Q
        self.reserve_curvature()
        Q = whole_pass(P, EVALUATE, &wv[0], False, False, True)
        with nogil:
            run_pass(P, &Q)
        Q = whole_pass(P, HESSIAN_PRODUCT, &vv[0], True, False, False)
        with nogil:
            run_pass(P, &Q)
        finish_gradient(P, P.slots, 1.0, 0.0, &vv[0], &out[0])
        return np.asarray(out)


cdef const void* _address(arr) except NULL:
    # The data pointer of a checked, non-empty ndarray (a const memoryview would
    # need one specialisation per dtype).
    cdef Py_ssize_t address = arr.__array_interface__["data"][0]
    if address == 0:
        raise ValueError("an array has no data")
    return <const void*>address
