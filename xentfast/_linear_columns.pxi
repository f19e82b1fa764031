# Coordinate-wise proximal Newton (newGLMNET, Yuan, Ho & Lin 2012) for wide data
# with an L1 penalty: the binary model's Newton quadratic model minimised by
# coordinate descent over X's columns (included into _linear.pyx).
#
# Where the Hessian matrix is too big to form (many features, sparse X), each
# coordinate of the quadratic model needs only its column of X: the model's
# gradient at coordinate j is g_j + Σ_i x_ij D_i u_i with u = X d the model
# step's margins, kept up to date as d changes.  So X is read by column: a CSC
# copy of sparse X (made once), or a dense X through its strides.  A line search
# along d needs no pass over X at all: the margins of w + t d are z + t u.
#
# The penalised objective is F = f + l1 ||coef||₁ with f = Σ s_i CE_i / Σ s_i +
# α/2 ||coef||² (α the objective's L2 strength); only binary models, with or
# without an intercept.
from libc.math cimport INFINITY, NAN
from libc.stdint cimport int32_t, int64_t

cdef enum:
    INNER_SWEEPS = 100     # coordinate sweeps per outer iteration, at most
    LOSS_BLOCK = 4096      # samples per block of the line search's loss sums

cdef double INNER_TOLERANCE = 1e-3  # a sweep moving no coordinate by more than this share
                                    # of the step (in the model's norm) ends the inner loop
cdef double DIAGONAL_FLOOR = 1e-12  # keeps the 1-D Newton steps finite for empty columns


cdef struct Columns:
    bint dense
    bint float32
    const void* values          # CSC data (float64), or the dense X
    const int32_t* rows         # CSC row indices
    const int64_t* starts       # CSC column starts (n_features + 1)
    Py_ssize_t row_stride, col_stride
    Py_ssize_t n_rows


cdef inline double dense_column_dot(const floating* x, Py_ssize_t stride, Py_ssize_t n,
                                    const double* a, const double* b,
                                    Py_ssize_t vstride) noexcept nogil:
    # Σ_i x_i a_i (b_i if b else 1), a and b read every vstride doubles
    cdef Py_ssize_t i
    cdef double total = 0.0
    if b == NULL:
        for i in range(n):
            total += x[i * stride] * a[i * vstride]
    else:
        for i in range(n):
            total += x[i * stride] * a[i * vstride] * b[i * vstride]
    return total


cdef double column_dot(const Columns* C, Py_ssize_t j, const double* a, const double* b,
                       Py_ssize_t vstride) noexcept nogil:
    # Σ_i x_ij a_i b_i (b NULL: Σ_i x_ij a_i), a_i at a[i * vstride], b_i likewise.
    cdef Py_ssize_t e, row
    cdef double total = 0.0
    cdef const double* values
    if C.dense:
        if C.float32:
            return dense_column_dot(<const float*>C.values + j * C.col_stride, C.row_stride,
                                    C.n_rows, a, b, vstride)
        return dense_column_dot(<const double*>C.values + j * C.col_stride, C.row_stride,
                                C.n_rows, a, b, vstride)
    values = <const double*>C.values
    if b == NULL:
        for e in range(C.starts[j], C.starts[j + 1]):
            total += values[e] * a[C.rows[e] * vstride]
    else:
        for e in range(C.starts[j], C.starts[j + 1]):
            row = C.rows[e] * vstride
            total += values[e] * a[row] * b[row]
    return total


cdef inline double dense_column_square_dot(const floating* x, Py_ssize_t stride,
                                           Py_ssize_t n, const double* a,
                                           Py_ssize_t vstride) noexcept nogil:
    cdef Py_ssize_t i
    cdef double total = 0.0, v
    for i in range(n):
        v = x[i * stride]
        total += v * v * a[i * vstride]
    return total


cdef double column_square_dot(const Columns* C, Py_ssize_t j, const double* a,
                              Py_ssize_t vstride) noexcept nogil:
    # Σ_i x_ij² a_i, a_i at a[i * vstride]
    cdef Py_ssize_t e
    cdef double total = 0.0, v
    cdef const double* values
    if C.dense:
        if C.float32:
            return dense_column_square_dot(<const float*>C.values + j * C.col_stride,
                                           C.row_stride, C.n_rows, a, vstride)
        return dense_column_square_dot(<const double*>C.values + j * C.col_stride,
                                       C.row_stride, C.n_rows, a, vstride)
    values = <const double*>C.values
    for e in range(C.starts[j], C.starts[j + 1]):
        v = values[e]
        total += v * v * a[C.rows[e] * vstride]
    return total


cdef inline void dense_column_axpy(const floating* x, Py_ssize_t stride, Py_ssize_t n,
                                   double scale, double* v, Py_ssize_t vstride) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(n):
        v[i * vstride] += scale * x[i * stride]


cdef void column_axpy(const Columns* C, Py_ssize_t j, double scale, double* v,
                      Py_ssize_t vstride) noexcept nogil:
    # v_i += scale x_ij, v_i at v[i * vstride]
    cdef Py_ssize_t e
    cdef const double* values
    if C.dense:
        if C.float32:
            dense_column_axpy(<const float*>C.values + j * C.col_stride, C.row_stride,
                              C.n_rows, scale, v, vstride)
        else:
            dense_column_axpy(<const double*>C.values + j * C.col_stride, C.row_stride,
                              C.n_rows, scale, v, vstride)
        return
    values = <const double*>C.values
    for e in range(C.starts[j], C.starts[j + 1]):
        v[C.rows[e] * vstride] += scale * values[e]


cdef inline double sample_loss(double z, double y) noexcept nogil:
    # CE of a logit z and a target y in [0, 1], as in tile_evaluate.
    cdef double e = exp_nonpositive(-fabs(z))
    return log1p_unit(e) + ((1.0 - y) * z if z >= 0.0 else -y * z)


cdef double weighted_loss(const double* z, const double* u, double t, const double* y,
                          const double* s, Py_ssize_t n, double* block_sums,
                          int n_threads) noexcept nogil:
    # Σ_i s_i CE(z_i + t u_i, y_i) (u NULL: t ignored; u_i at u[2 i]), in fixed blocks,
    # so that the sum does not depend on the thread count.
    cdef Py_ssize_t b, i, n_blocks = (n + LOSS_BLOCK - 1) // LOSS_BLOCK
    cdef double acc, total = 0.0
    for b in prange(n_blocks, schedule="static", num_threads=n_threads,
                    use_threads_if=n_threads > 1 and n > 4 * LOSS_BLOCK):
        acc = 0.0
        for i in range(b * LOSS_BLOCK, min(n, (b + 1) * LOSS_BLOCK)):
            acc = acc + s[i] * sample_loss(z[i] + (t * u[2 * i] if u != NULL else 0.0), y[i])
        block_sums[b] = acc
    for b in range(n_blocks):
        total += block_sums[b]
    return total


cdef inline double soft(double x, double t) noexcept nogil:
    return x - t if x > t else (x + t if x < -t else 0.0)


def coordinate_newton(InMemoryObjective objective, double[::1] w, double l1, columns,
                      Py_ssize_t max_iter, double tol, Progress progress):
    """Coordinate-wise proximal Newton on a binary model, from w (updated in
    place); returns (n_iter, subgradient max).  ``columns``: None to read a dense
    X by its columns, else X's CSC form (data float64, indices int32, indptr
    int64), checked.  ``progress``: a _solvers.Progress."""
    cdef Problem* P = &objective.problem
    cdef Py_ssize_t n = P.n_samples, d = P.n_features, j, i, q, it = 0, sweep, tries
    cdef bint fit_intercept = P.fit_intercept
    cdef double alpha = P.alpha, total_weight, inv_weight
    cdef Columns C
    cdef const double[::1] data
    cdef const int32_t[::1] rows
    cdef const int64_t[::1] starts
    if P.n_classes != 1:
        raise ValueError("coordinate_newton fits binary models only")
    C.dense = columns is None
    C.n_rows = n
    if C.dense:
        C.values = P.X
        C.float32 = P.X_is_float32
        C.row_stride = P.row_stride
        C.col_stride = P.col_stride
    else:
        data, rows, starts = columns
        C.values = &data[0] if data.shape[0] > 0 else NULL
        C.rows = &rows[0] if rows.shape[0] > 0 else NULL
        C.starts = &starts[0]
        C.float32 = False
    cdef double[::1] y = np.array(<double[:n]><double*>P.y)
    cdef double[::1] s = (np.ones(n) if P.sample_weight == NULL
                          else np.array(<double[:n]><double*>P.sample_weight))
    # D_i and u_i side by side (Du[2i], Du[2i + 1]): the sweeps read both at random
    # rows, and one cache line then serves both.
    cdef double[::1] z = np.empty(n), r = np.empty(n), Du = np.empty(2 * n)
    cdef double[::1] g = np.empty(d), h = np.empty(d), delta_w = np.empty(d)
    cdef double[::1] block_sums = np.empty((n + LOSS_BLOCK - 1) // LOSS_BLOCK + 1)
    cdef Py_ssize_t[::1] active = np.empty(d, dtype=np.intp), inner = np.empty(d, dtype=np.intp)
    cdef Py_ssize_t n_active, n_inner, n_kept
    cdef int n_threads = P.n_threads
    cdef double b = w[d] if fit_intercept else 0.0, db, g_b, h_b
    cdef double F, trial_F, loss, violation, grad_max, v, G, H, new, change, biggest
    cdef double step_norm, decrease, step, norm_now, norm_trial
    cdef double margin = 0.5 * l1 if l1 > 0.0 else INFINITY
    cdef double ridge_now, ridge_trial, e, p_i, coef, worst, inner_margin
    cdef bint sufficient
    total_weight = 0.0
    for i in range(n):
        total_weight += s[i]
    inv_weight = 1.0 / total_weight
    with nogil:
        # The margins z = X coef + b, from the columns of the nonzero coefficients.
        for i in range(n):
            z[i] = b
        for j in range(d):
            if w[j] != 0.0:
                column_axpy(&C, j, w[j], &z[0], 1)
        while True:
            # Per sample: the loss's first and second derivatives, over Σ s.
            for i in prange(n, schedule="static", num_threads=n_threads,
                            use_threads_if=n_threads > 1 and n > 16 * LOSS_BLOCK):
                e = exp_nonpositive(-fabs(z[i]))
                p_i = (1.0 if z[i] >= 0.0 else e) / (1.0 + e)
                r[i] = s[i] * (p_i - y[i]) * inv_weight
                Du[2 * i] = s[i] * (e / (1.0 + e)) / (1.0 + e) * inv_weight
            loss = weighted_loss(&z[0], NULL, 0.0, &y[0], &s[0], n, &block_sums[0],
                                 n_threads) * inv_weight
            ridge_now = 0.0
            norm_now = 0.0
            for j in range(d):
                ridge_now += w[j] * w[j]
                norm_now += fabs(w[j])
            F = loss + 0.5 * alpha * ridge_now + l1 * norm_now
            # The gradient and the Hessian's diagonal, one column at a time.
            for j in prange(d, schedule="static", num_threads=n_threads,
                            use_threads_if=n_threads > 1):
                g[j] = column_dot(&C, j, &r[0], NULL, 1) + alpha * w[j]
                h[j] = column_square_dot(&C, j, &Du[0], 2) + alpha + DIAGONAL_FLOOR
            g_b = 0.0
            h_b = 0.0
            if fit_intercept:
                for i in range(n):
                    g_b += r[i]
                    h_b += Du[2 * i]
            # The smallest subgradient, and the features worth visiting: those not
            # at 0, and those at 0 whose gradient is not safely inside [-l1, l1]
            # (liblinear's shrinking, with the last iteration's violation as margin,
            # at most l1 / 2).  A feature left out wrongly shows in the next
            # iteration's gradient, which covers every feature.
            grad_max = fabs(g_b)
            n_active = 0
            for j in range(d):
                if w[j] > 0.0:
                    violation = fabs(g[j] + l1)
                elif w[j] < 0.0:
                    violation = fabs(g[j] - l1)
                else:
                    violation = max(0.0, fabs(g[j]) - l1)
                grad_max = max(grad_max, violation)
                if w[j] != 0.0 or fabs(g[j]) > l1 - margin:
                    active[n_active] = j
                    n_active += 1
            for j in range(d):
                if (g[j] - g[j]) != 0.0 or (h[j] - h[j]) != 0.0:
                    # nan or inf in X (the margins did not see it unless its coefficient
                    # was nonzero): report nan as the objective, so the caller checks X.
                    F = grad_max = NAN
                    break
            progress.record(it, F, grad_max)
            if grad_max != grad_max:
                break
            if grad_max <= tol or it >= max_iter:
                break
            margin = min(grad_max, 0.5 * l1) if l1 > 0.0 else INFINITY
            it += 1
            # Coordinate descent on the model: d (delta_w, db) with margins u = X d.
            for i in range(n):
                Du[2 * i + 1] = 0.0
            for j in range(d):
                delta_w[j] = 0.0
            db = 0.0
            # The sweeps visit the outer active set, shrunk as they go: a coefficient
            # that stays at 0 with its model gradient safely inside [-l1, l1] is left
            # out of later sweeps.
            for q in range(n_active):
                inner[q] = active[q]
            n_inner = n_active
            inner_margin = INFINITY
            for sweep in range(INNER_SWEEPS):
                biggest = 0.0
                step_norm = 0.0
                worst = 0.0
                n_kept = 0
                for q in range(n_inner):
                    j = inner[q]
                    G = g[j] + column_dot(&C, j, &Du[0], &Du[1], 2) + alpha * delta_w[j]
                    H = h[j]
                    coef = w[j] + delta_w[j]
                    worst = max(worst, fabs(G + l1) if coef > 0.0 else (
                        fabs(G - l1) if coef < 0.0 else fabs(G) - l1))
                    new = soft(H * coef - G, l1) / H
                    change = new - coef
                    if change != 0.0:
                        delta_w[j] += change
                        column_axpy(&C, j, change, &Du[1], 2)
                        biggest = max(biggest, H * change * change)
                    step_norm += H * delta_w[j] * delta_w[j]
                    if new != 0.0 or fabs(G) > l1 - inner_margin:
                        inner[n_kept] = j
                        n_kept += 1
                if fit_intercept:
                    G = g_b
                    for i in range(n):
                        G += Du[2 * i] * Du[2 * i + 1]
                    change = -G / (h_b + DIAGONAL_FLOOR)
                    db += change
                    for i in range(n):
                        Du[2 * i + 1] += change
                    biggest = max(biggest, (h_b + DIAGONAL_FLOOR) * change * change)
                    step_norm += (h_b + DIAGONAL_FLOOR) * db * db
                if not biggest > INNER_TOLERANCE * INNER_TOLERANCE * step_norm:
                    break  # (the outer iteration's full gradient finds what shrinking missed)
                n_inner = n_kept
                inner_margin = max(worst, 0.0)
            # The model's first-order decrease, then an Armijo search on F along d,
            # each trial a pass over the margins only.
            norm_trial = 0.0
            decrease = g_b * db
            for j in range(d):
                decrease += g[j] * delta_w[j]
                norm_trial += fabs(w[j] + delta_w[j])
            decrease += l1 * (norm_trial - norm_now)
            if not decrease < 0.0:
                break
            step = 1.0
            tries = 0
            while True:
                ridge_trial = 0.0
                norm_trial = 0.0
                for j in range(d):
                    v = w[j] + step * delta_w[j]
                    ridge_trial += v * v
                    norm_trial += fabs(v)
                trial_F = (weighted_loss(&z[0], &Du[1], step, &y[0], &s[0], n,
                                         &block_sums[0], n_threads) * inv_weight
                           + 0.5 * alpha * ridge_trial + l1 * norm_trial)
                sufficient = (trial_F <= F + 1e-4 * step * decrease
                              or (-decrease <= 1e-14 * fabs(F) and trial_F <= F * (1 + 1e-14)))
                if sufficient or tries >= 40:
                    break
                step *= 0.5
                tries += 1
            if not sufficient:
                break
            for j in range(d):
                w[j] += step * delta_w[j]
            b += step * db
            for i in range(n):
                z[i] += step * Du[2 * i + 1]
    if fit_intercept:
        w[d] = b
    return it, grad_max
