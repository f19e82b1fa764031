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


cdef void dense_logits(const Problem* P, const floating* X, const double* w,
                       const Py_ssize_t* rows, Py_ssize_t t0, Py_ssize_t nt, double* Z,
                       double* gathered) noexcept nogil:
    if P.layout == C_ROWS:
        row_logits(P, X, w, rows, t0, nt, Z)
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
