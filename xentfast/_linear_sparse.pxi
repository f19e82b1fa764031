# Sparse X in CSR form: the per-tile primitives of a pass (included into
# _linear.pyx).  Row i is (indices, data)[indptr[i]:indptr[i + 1]]; indices
# may be unsorted or repeated (a repeated index adds up, as in scipy.sparse),
# and have been checked to lie in [0, n_features) before any pass.
from libc.stdint cimport int32_t, int64_t

ctypedef fused sparse_index:
    int32_t
    int64_t


cdef void csr_logits(const Problem* P, const floating* data, const sparse_index* indices,
                     const sparse_index* indptr, const double* w, const Py_ssize_t* rows,
                     Py_ssize_t t0, Py_ssize_t nt, double* Z) noexcept nogil:
    cdef Py_ssize_t d = P.n_features, k = P.n_classes, ps = d + P.fit_intercept
    cdef Py_ssize_t c, t, e, i, start, stop
    cdef const double* wc
    cdef double z
    for t in range(nt):
        i = sample_at(rows, t0 + t)
        start = indptr[i]
        stop = indptr[i + 1]
        for c in range(k):
            wc = w + c * ps
            z = wc[d] if P.fit_intercept else 0.0
            for e in range(start, stop):
                z += data[e] * wc[indices[e]]
            Z[c * TILE + t] = z


cdef void csr_gradient(const Problem* P, const floating* data, const sparse_index* indices,
                       const sparse_index* indptr, const Py_ssize_t* rows, Py_ssize_t t0,
                       Py_ssize_t nt, const double* Z, double* G) noexcept nogil:
    # G[c*(d+1) + j] += r_ct x_tj over the stored entries, and the intercepts.
    cdef Py_ssize_t d = P.n_features, k = P.n_classes, c, t, e, i, start, stop
    cdef double* g
    cdef double r
    for t in range(nt):
        i = sample_at(rows, t0 + t)
        start = indptr[i]
        stop = indptr[i + 1]
        for c in range(k):
            r = Z[c * TILE + t]
            g = G + c * (d + 1)
            for e in range(start, stop):
                g[indices[e]] += r * data[e]
            g[d] += r


cdef void csr_hessian(const Problem* P, const floating* data, const sparse_index* indices,
                      const sparse_index* indptr, const Py_ssize_t* rows, Py_ssize_t t0,
                      Py_ssize_t nt, const double* weights, const double* curvature,
                      double* H) noexcept nogil:
    # H (this group's class blocks, upper triangles) += Σ_t (curvature weights) x_t x_tᵀ,
    # over pairs of stored entries.  A pair of entries with the same index counts
    # twice (both orders pass the test), as (a + b)² = a² + 2ab + b² requires.
    cdef Py_ssize_t d = P.n_features, hd = P.hess_dim, k = P.n_classes
    cdef Py_ssize_t c, c2, t, e, f, i, start, stop, ja, jb
    cdef double wt, va
    cdef double* B
    for t in range(nt):
        i = sample_at(rows, t0 + t)
        start = indptr[i]
        stop = indptr[i + 1]
        for c in range(k):
            for c2 in range(c, k):
                wt = pair_curvature(P, weights, curvature, t, c, c2)
                B = H + (c * k + c2) * hd * hd
                for e in range(start, stop):
                    ja = indices[e]
                    va = wt * data[e]
                    for f in range(start, stop):
                        jb = indices[f]
                        if ja <= jb:
                            B[ja * hd + jb] += va * data[f]
                    if P.fit_intercept:
                        B[ja * hd + d] += va
                if P.fit_intercept:
                    B[d * hd + d] += wt


# Dispatch on the index type (the values' type is the caller's fused parameter).

cdef inline void sparse_logits(const Problem* P, const floating* data, const double* w,
                               const Py_ssize_t* rows, Py_ssize_t t0, Py_ssize_t nt,
                               double* Z) noexcept nogil:
    if P.index64:
        csr_logits(P, data, <const int64_t*>P.indices, <const int64_t*>P.indptr, w, rows,
                   t0, nt, Z)
    else:
        csr_logits(P, data, <const int32_t*>P.indices, <const int32_t*>P.indptr, w, rows,
                   t0, nt, Z)


cdef inline void sparse_gradient(const Problem* P, const floating* data,
                                 const Py_ssize_t* rows, Py_ssize_t t0, Py_ssize_t nt,
                                 const double* Z, double* G) noexcept nogil:
    if P.index64:
        csr_gradient(P, data, <const int64_t*>P.indices, <const int64_t*>P.indptr, rows,
                     t0, nt, Z, G)
    else:
        csr_gradient(P, data, <const int32_t*>P.indices, <const int32_t*>P.indptr, rows,
                     t0, nt, Z, G)


cdef inline void sparse_hessian(const Problem* P, const floating* data,
                                const Py_ssize_t* rows, Py_ssize_t t0, Py_ssize_t nt,
                                const double* weights, const double* curvature,
                                double* H) noexcept nogil:
    if P.index64:
        csr_hessian(P, data, <const int64_t*>P.indices, <const int64_t*>P.indptr, rows,
                    t0, nt, weights, curvature, H)
    else:
        csr_hessian(P, data, <const int32_t*>P.indices, <const int32_t*>P.indptr, rows,
                    t0, nt, weights, curvature, H)
