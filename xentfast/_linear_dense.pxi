# Dense X: the per-tile primitives of a pass (included into _linear.pyx).
#
# The loops run along whatever is contiguous, so that they vectorise: along
# each row for a C-ordered X, down each column of the tile for a Fortran-
# ordered X (whose mini-batches are first gathered into a small column-major
# tile).  A Hessian pass also copies the tile's rows into a row-major,
# zero-padded block for the Gram kernel of _gram.h.


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


cdef void gather_columns(const Problem* P, const floating* X, const Py_ssize_t* rows,
                         Py_ssize_t t0, Py_ssize_t nt, double* tile) noexcept nogil:
    # tile[j*tile_rows + t] = X[sample t0 + t, j]: a mini-batch of a Fortran-ordered
    # X, stored by column.
    cdef Py_ssize_t d = P.n_features, stride = P.tile_rows, t, j
    cdef const floating* column
    for j in range(d):
        column = X + j * P.col_stride
        for t in range(nt):
            tile[j * stride + t] = column[sample_at(rows, t0 + t)]


cdef void column_logits(const Problem* P, const floating* cols, Py_ssize_t col_stride,
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


cdef void column_gradient(const Problem* P, const floating* cols, Py_ssize_t col_stride,
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


cdef inline void dot_rows(const floating* const* row_block, const double* w, Py_ssize_t d,
                          double* out) noexcept nogil:
    if floating is double:
        xentfast_dot_rows_d(row_block, w, d, out)
    else:
        xentfast_dot_rows_f(row_block, w, d, out)


cdef inline void add_rows(const floating* const* row_block, const double* c, Py_ssize_t d,
                          double* g) noexcept nogil:
    if floating is double:
        xentfast_add_rows_d(row_block, c, d, g)
    else:
        xentfast_add_rows_f(row_block, c, d, g)


cdef void row_logits(const Problem* P, const floating* X, const double* w,
                     const Py_ssize_t* rows, Py_ssize_t t0, Py_ssize_t nt, Py_ssize_t n_rows,
                     double* Z) noexcept nogil:
    # Z[c*TILE + t] = x_t . w_c + b_c for rows with contiguous features (C order),
    # XF_DOT_ROWS rows at a time (_dot_rows.h), the tile's last few one by one.
    # Meanwhile the rows one tile ahead (of the pass's n_rows) are prefetched.
    cdef Py_ssize_t d = P.n_features, k = P.n_classes, ps = d + P.fit_intercept, c, t = 0, q
    cdef Py_ssize_t ahead = t0 + PREFETCH_ROWS
    cdef const floating* row_block[XF_DOT_ROWS]
    cdef const floating* row
    cdef double b
    while t + XF_DOT_ROWS <= nt:
        for q in range(XF_DOT_ROWS):
            if ahead + t + q < n_rows:
                xentfast_prefetch(X + sample_at(rows, ahead + t + q) * P.row_stride,
                                  d * sizeof(floating))
            row_block[q] = X + sample_at(rows, t0 + t + q) * P.row_stride
        for c in range(k):
            dot_rows(row_block, w + c * ps, d, Z + c * TILE + t)
            if P.fit_intercept:
                b = w[c * ps + d]
                for q in range(XF_DOT_ROWS):
                    Z[c * TILE + t + q] += b
        t += XF_DOT_ROWS
    while t < nt:
        if ahead + t < n_rows:
            xentfast_prefetch(X + sample_at(rows, ahead + t) * P.row_stride,
                              d * sizeof(floating))
        row = X + sample_at(rows, t0 + t) * P.row_stride
        for c in range(k):
            Z[c * TILE + t] = (w[c * ps + d] if P.fit_intercept else 0.0) + dot16(
                w + c * ps, row, d)
        t += 1


cdef Py_ssize_t binary_row_blocks(const Problem* P, const Pass* Q, const floating* X,
                                  Py_ssize_t start, Py_ssize_t stop, double* G,
                                  double* loss, double* weight_sum) noexcept nogil:
    # A binary evaluation (loss, gradient, curvature) over rows start..stop of a
    # C-ordered X, BLOCK_ROWS rows at a time: the block's logits, its samples'
    # terms and its gradient update, while its rows are still in L1 (why:
    # _binary_rows.h, which does whole passes on the AVX-512 set; this loop
    # does them on the others, and mini-batches on all).  Adds to *loss and
    # *weight_sum; returns the first row not done (the last few go through the
    # tiles).
    cdef Py_ssize_t d = P.n_features, t = start, q, i, u
    cdef const floating* row_block[BLOCK_ROWS]
    cdef double z[BLOCK_ROWS]
    cdef double s[BLOCK_ROWS]
    cdef double y[BLOCK_ROWS]
    cdef double block_losses[BLOCK_ROWS]
    cdef double curvature[BLOCK_ROWS]
    cdef double losses[8]
    cdef double weights[8]
    cdef double b = Q.w[d] if P.fit_intercept else 0.0
    cdef double* r
    for q in range(8):
        losses[q] = 0.0
        weights[q] = 0.0
    for q in range(BLOCK_ROWS):
        s[q] = 1.0
    while t + BLOCK_ROWS <= stop:
        for q in range(BLOCK_ROWS):
            i = sample_at(Q.rows, t + q)
            row_block[q] = X + i * P.row_stride
            y[q] = P.y[i]
        if P.sample_weight != NULL:
            for q in range(BLOCK_ROWS):
                s[q] = P.sample_weight[sample_at(Q.rows, t + q)]
        if Q.rows != NULL and t + PREFETCH_ROWS + BLOCK_ROWS <= stop:
            # a mini-batch's rows are scattered: no hardware prefetcher follows them
            # (for a whole pass, software prefetch made this loop slower on Zen 4)
            for q in range(BLOCK_ROWS):
                xentfast_prefetch(X + Q.rows[t + PREFETCH_ROWS + q] * P.row_stride,
                                  d * sizeof(floating))
        for u in range(0, BLOCK_ROWS, 8):
            dot_rows(&row_block[u], Q.w, d, &z[u])
        for q in range(BLOCK_ROWS):
            z[q] += b
        binary_terms(s, y, z, block_losses, curvature, BLOCK_ROWS)   # z: now the residuals
        for u in range(0, BLOCK_ROWS, 8):
            for q in range(8):
                losses[q] += block_losses[u + q]
                weights[q] += s[u + q]
        if Q.keep_curvature:
            for q in range(BLOCK_ROWS):
                P.curvature[t + q] = curvature[q]
        if Q.want_grad:
            for u in range(0, BLOCK_ROWS, 8):
                r = &z[u]
                add_rows(&row_block[u], r, d, G)
                G[d] += ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]))
        t += BLOCK_ROWS
    loss[0] += ((losses[0] + losses[1]) + (losses[2] + losses[3])) + (
        (losses[4] + losses[5]) + (losses[6] + losses[7]))
    weight_sum[0] += ((weights[0] + weights[1]) + (weights[2] + weights[3])) + (
        (weights[4] + weights[5]) + (weights[6] + weights[7]))
    return t


cdef void row_gradient(const Problem* P, const floating* X, const Py_ssize_t* rows,
                       Py_ssize_t t0, Py_ssize_t nt, const double* Z, double* G) noexcept nogil:
    # G[c*(d+1) + j] += r_ct x_tj row by row (vectorised over j), and the intercepts.
    # Eight rows per pass over G, so that G is loaded and stored an eighth as often.
    cdef Py_ssize_t d = P.n_features, k = P.n_classes, c, j, q, t = 0
    cdef const floating* x[8]
    cdef double* g
    cdef const double* r
    while t + 8 <= nt:
        for q in range(8):
            x[q] = X + sample_at(rows, t0 + t + q) * P.row_stride
        for c in range(k):
            r = Z + c * TILE + t
            g = G + c * (d + 1)
            add_rows(x, r, d, g)
            g[d] += ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]))
        t += 8
    while t < nt:
        x[0] = X + sample_at(rows, t0 + t) * P.row_stride
        for c in range(k):
            r = Z + c * TILE + t
            g = G + c * (d + 1)
            for j in range(d):
                g[j] += r[0] * x[0][j]
            g[d] += r[0]
        t += 1


cdef void dense_logits(const Problem* P, const floating* X, const double* w,
                       const Py_ssize_t* rows, Py_ssize_t t0, Py_ssize_t nt, Py_ssize_t n_rows,
                       double* Z, double* gathered) noexcept nogil:
    if P.layout == C_ROWS:
        row_logits(P, X, w, rows, t0, nt, n_rows, Z)
    elif rows == NULL:
        column_logits(P, X + t0, P.col_stride, w, nt, Z)
    else:
        gather_columns(P, X, rows, t0, nt, gathered)
        column_logits(P, gathered, P.tile_rows, w, nt, Z)


cdef void dense_gradient(const Problem* P, const floating* X, const Py_ssize_t* rows,
                         Py_ssize_t t0, Py_ssize_t nt, const double* Z, double* G,
                         const double* gathered) noexcept nogil:
    # After dense_logits on the same tile (which filled ``gathered`` if it was needed).
    if P.layout == C_ROWS:
        row_gradient(P, X, rows, t0, nt, Z, G)
    elif rows == NULL:
        column_gradient(P, X + t0, P.col_stride, nt, Z, G)
    else:
        column_gradient(P, gathered, P.tile_rows, nt, Z, G)


cdef void dense_padded_rows(const Problem* P, const floating* X, const Py_ssize_t* rows,
                            Py_ssize_t t0, Py_ssize_t nt, double* T) noexcept nogil:
    # T[t*hd + j]: the tile's rows, the intercept's 1 at j = d, zeros up to hd.
    cdef Py_ssize_t d = P.n_features, hd = P.hess_dim, t, j
    cdef Py_ssize_t rs = P.row_stride, cs = P.col_stride
    cdef const floating* x
    cdef double* row
    for t in range(nt):
        x = X + sample_at(rows, t0 + t) * rs
        row = T + t * hd
        if cs == 1:
            for j in range(d):
                row[j] = x[j]
        else:
            for j in range(d):
                row[j] = x[j * cs]
        for j in range(d, hd):
            row[j] = 0.0
        if P.fit_intercept:
            row[d] = 1.0


cdef void dense_hessian(const Problem* P, const floating* X, const Py_ssize_t* rows,
                        Py_ssize_t t0, Py_ssize_t nt, const double* weights,
                        const double* curvature, double* H, double* tiles) noexcept nogil:
    # H (this group's class blocks) += Σ_t (curvature weights of t) x_t x_tᵀ.
    cdef Py_ssize_t hd = P.hess_dim, k = P.n_classes, c, c2, t, j
    cdef double* T = tiles
    cdef double* Tw = tiles + TILE * hd
    cdef double wt
    dense_padded_rows(P, X, rows, t0, nt, T)
    for c in range(k):
        for c2 in range(c, k):
            for t in range(nt):
                wt = pair_curvature(P, weights, curvature, t, c, c2)
                for j in range(hd):
                    Tw[t * hd + j] = wt * T[t * hd + j]
            xentfast_gram_update(T, Tw, nt, hd, H + (c * k + c2) * hd * hd)
