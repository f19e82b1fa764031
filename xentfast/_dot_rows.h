/* Dot products of a block of XF_DOT_ROWS rows with one vector (the logits of a
 * C-ordered X): out[r] = sum_j rows[r][j] * w[j], in double for float or double
 * rows.
 *
 * One dot product at a time ends every row in a horizontal sum of its vector
 * accumulator, a chain of shuffles and scalar adds that cost more than the
 * multiply-adds for rows of tens of features.  Eight rows at a time keep eight
 * independent accumulators (formed two rows at a time, see XF_DOT_ROWS_BLOCK),
 * and their horizontal sums are done together by a transposing reduction: each level adds
 * pairs of vectors lane by lane after interleaving them, halving the partial
 * sums per row, so eight rows take 2 * (VW - 1) shuffles and VW - 1 vector adds
 * in all.  The order of the additions is fixed (no dependence on threads).
 * Also the gradient's update by a block of eight rows (XF_ADD_ROWS_BLOCK).
 *
 * GCC/Clang vector types, as in _gram.h; other compilers get plain loops.
 */
#ifndef XENTFAST_DOT_ROWS_H
#define XENTFAST_DOT_ROWS_H

#include "_inline.h"

#include <stddef.h>
#include <string.h>
#if defined(__AVX__)
#include <immintrin.h>
#endif

#define XF_DOT_ROWS 8

#if defined(__GNUC__) || defined(__clang__)

#if defined(__AVX512F__)
#define XF_DOT_VW 8       /* doubles per vector */
#elif defined(__AVX__)
#define XF_DOT_VW 4
#else
#define XF_DOT_VW 2
#endif

typedef double xf_dot_vec __attribute__((vector_size(XF_DOT_VW * sizeof(double))));
typedef float xf_dot_fvec __attribute__((vector_size(XF_DOT_VW * sizeof(float))));
typedef long long xf_dot_mask __attribute__((vector_size(XF_DOT_VW * sizeof(long long))));

#if defined(__clang__)
#define XF_SHUFFLE(a, b, ...) __builtin_shufflevector((a), (b), __VA_ARGS__)
#else
#define XF_SHUFFLE(a, b, ...) __builtin_shuffle((a), (b), (xf_dot_mask){__VA_ARGS__})
#endif

XF_INLINE xf_dot_vec xf_dot_load_d(const double* p) {
    xf_dot_vec v;
    memcpy(&v, p, sizeof v);
    return v;
}

XF_INLINE xf_dot_vec xf_dot_load_f(const float* p) {
#if XF_DOT_VW == 8 && defined(__AVX512F__)
    /* one vcvtps2pd from memory: gcc 12 converts the generic form in halves,
     * with two extra shuffles per vector */
    return (xf_dot_vec)_mm512_cvtps_pd(_mm256_loadu_ps(p));
#elif XF_DOT_VW == 4 && defined(__AVX__)
    return (xf_dot_vec)_mm256_cvtps_pd(_mm_loadu_ps(p));
#else
    xf_dot_fvec v;
    memcpy(&v, p, sizeof v);
    return __builtin_convertvector(v, xf_dot_vec);
#endif
}

/* a[0..7] holds one accumulator per row; out[r] = the sum of a[r]'s lanes. */
XF_INLINE void xf_dot_reduce8(xf_dot_vec* a, double* out) {
#if XF_DOT_VW == 8
    /* lanes after level 1: [a01 b01 a23 b23 a45 b45 a67 b67] for rows a, b */
    for (int i = 0; i < 4; i++)
        a[i] = XF_SHUFFLE(a[2 * i], a[2 * i + 1], 0, 8, 2, 10, 4, 12, 6, 14)
             + XF_SHUFFLE(a[2 * i], a[2 * i + 1], 1, 9, 3, 11, 5, 13, 7, 15);
    /* level 2: [a0-3 b0-3 c0-3 d0-3 a4-7 b4-7 c4-7 d4-7] for rows a, b, c, d */
    for (int i = 0; i < 2; i++)
        a[i] = XF_SHUFFLE(a[2 * i], a[2 * i + 1], 0, 1, 8, 9, 4, 5, 12, 13)
             + XF_SHUFFLE(a[2 * i], a[2 * i + 1], 2, 3, 10, 11, 6, 7, 14, 15);
    /* level 3: the eight rows' sums in order */
    a[0] = XF_SHUFFLE(a[0], a[1], 0, 1, 2, 3, 8, 9, 10, 11)
         + XF_SHUFFLE(a[0], a[1], 4, 5, 6, 7, 12, 13, 14, 15);
    memcpy(out, &a[0], sizeof a[0]);
#elif XF_DOT_VW == 4
    for (int i = 0; i < 4; i++)          /* [a01 b01 a23 b23] */
        a[i] = XF_SHUFFLE(a[2 * i], a[2 * i + 1], 0, 4, 2, 6)
             + XF_SHUFFLE(a[2 * i], a[2 * i + 1], 1, 5, 3, 7);
    for (int i = 0; i < 2; i++)          /* [a b c d]: four rows' sums */
        a[i] = XF_SHUFFLE(a[2 * i], a[2 * i + 1], 0, 1, 4, 5)
             + XF_SHUFFLE(a[2 * i], a[2 * i + 1], 2, 3, 6, 7);
    memcpy(out, &a[0], sizeof a[0]);
    memcpy(out + 4, &a[1], sizeof a[1]);
#else
    for (int i = 0; i < 4; i++) {        /* [a b]: two rows' sums */
        a[i] = XF_SHUFFLE(a[2 * i], a[2 * i + 1], 0, 2) + XF_SHUFFLE(a[2 * i], a[2 * i + 1], 1, 3);
        memcpy(out + 2 * i, &a[i], sizeof a[i]);
    }
#endif
}

/* out[r] = rows[r] . w for r < 8: each row's sum by its own vector accumulator,
 * two rows side by side (the pairs are read in order: a forward stream for
 * the hardware prefetcher, where eight rows side by side were 1.4x slower from
 * memory), then the eight horizontal sums together, then the last d mod VW
 * columns one by one. */
#define XF_DOT_ROWS_BLOCK(LOAD, rows, w, d, out)                                 \
    {                                                                            \
        xf_dot_vec a_[8];                                                        \
        ptrdiff_t j_ = 0;                                                        \
        for (int r_ = 0; r_ < 8; r_ += 2) {                                      \
            xf_dot_vec a0_ = {0}, a1_ = {0};                                     \
            for (j_ = 0; j_ + XF_DOT_VW <= (d); j_ += XF_DOT_VW) {               \
                xf_dot_vec w_ = xf_dot_load_d((w) + j_);                         \
                a0_ += LOAD((rows)[r_] + j_) * w_;                               \
                a1_ += LOAD((rows)[r_ + 1] + j_) * w_;                           \
            }                                                                    \
            a_[r_] = a0_;                                                        \
            a_[r_ + 1] = a1_;                                                    \
        }                                                                        \
        xf_dot_reduce8(a_, (out));                                               \
        for (; j_ < (d); j_++)                                                   \
            for (int r_ = 0; r_ < 8; r_++)                                       \
                (out)[r_] += (double)(rows)[r_][j_] * (w)[j_];                   \
    }

static inline void xentfast_dot_rows_d(const double* const* rows, const double* w,
                                       ptrdiff_t d, double* out) {
    XF_DOT_ROWS_BLOCK(xf_dot_load_d, rows, w, d, out)
}

static inline void xentfast_dot_rows_f(const float* const* rows, const double* w,
                                       ptrdiff_t d, double* out) {
    XF_DOT_ROWS_BLOCK(xf_dot_load_f, rows, w, d, out)
}

/* g[j] += sum_r c[r] * rows[r][j] for a block of eight rows (a gradient update),
 * the eight products added as a balanced tree, one vector of g at a time. */
#define XF_ADD_ROWS_BLOCK(LOAD, rows, c, d, g)                                   \
    {                                                                            \
        ptrdiff_t j_ = 0;                                                        \
        for (; j_ + XF_DOT_VW <= (d); j_ += XF_DOT_VW) {                         \
            xf_dot_vec sum_ = (((c)[0] * LOAD((rows)[0] + j_)                    \
                                + (c)[1] * LOAD((rows)[1] + j_))                 \
                               + ((c)[2] * LOAD((rows)[2] + j_)                  \
                                  + (c)[3] * LOAD((rows)[3] + j_)))              \
                            + (((c)[4] * LOAD((rows)[4] + j_)                    \
                                + (c)[5] * LOAD((rows)[5] + j_))                 \
                               + ((c)[6] * LOAD((rows)[6] + j_)                  \
                                  + (c)[7] * LOAD((rows)[7] + j_)));             \
            xf_dot_vec g_ = xf_dot_load_d((g) + j_) + sum_;                      \
            memcpy((g) + j_, &g_, sizeof g_);                                    \
        }                                                                        \
        for (; j_ < (d); j_++)                                                   \
            (g)[j_] += (((c)[0] * (rows)[0][j_] + (c)[1] * (rows)[1][j_])        \
                        + ((c)[2] * (rows)[2][j_] + (c)[3] * (rows)[3][j_]))     \
                     + (((c)[4] * (rows)[4][j_] + (c)[5] * (rows)[5][j_])        \
                        + ((c)[6] * (rows)[6][j_] + (c)[7] * (rows)[7][j_]));    \
    }

static inline void xentfast_add_rows_d(const double* const* rows, const double* c,
                                       ptrdiff_t d, double* restrict g) {
    XF_ADD_ROWS_BLOCK(xf_dot_load_d, rows, c, d, g)
}

static inline void xentfast_add_rows_f(const float* const* rows, const double* c,
                                       ptrdiff_t d, double* restrict g) {
    XF_ADD_ROWS_BLOCK(xf_dot_load_f, rows, c, d, g)
}

/* out[r] = the sum of row r of n_rows rows of k doubles (x row-major), for
 * short rows (the information measures' rows of k classes): eight rows at a
 * time, each row's terms in up to two masked vector loads added lane by lane,
 * then the eight sums by xf_dot_reduce8.  Otherwise, and for the last few
 * rows, a plain sum (returns how many rows it did as eight-row groups). */
#if XF_DOT_VW == 8 && defined(__AVX512F__)
#include <immintrin.h>
#define XF_SHORT_ROWS_MAX_K 16
static inline ptrdiff_t xentfast_sum_short_rows(const double* x, ptrdiff_t k, ptrdiff_t n_rows,
                                                double* out) {
    __mmask8 first, second;
    ptrdiff_t r = 0;
    if (k < 2 || k > XF_SHORT_ROWS_MAX_K)
        return 0;
    /* (after the check: a shift by k or more is undefined) */
    first = (__mmask8)(k >= 8 ? 0xFF : (1u << k) - 1u);
    second = (__mmask8)(k <= 8 ? 0 : (1u << (k - 8)) - 1u);
    for (; r + 8 <= n_rows; r += 8) {
        xf_dot_vec a[8];
        for (int q = 0; q < 8; q++) {
            const double* row = x + (r + q) * k;
            a[q] = _mm512_add_pd(_mm512_maskz_loadu_pd(first, row),
                                 _mm512_maskz_loadu_pd(second, row + 8));
        }
        xf_dot_reduce8(a, out + r);
    }
    return r;
}
#else
static inline ptrdiff_t xentfast_sum_short_rows(const double* x, ptrdiff_t k, ptrdiff_t n_rows,
                                                double* out) {
    (void)x; (void)k; (void)n_rows; (void)out;
    return 0;
}
#endif

#else  /* plain loops */

static inline ptrdiff_t xentfast_sum_short_rows(const double* x, ptrdiff_t k, ptrdiff_t n_rows,
                                                double* out) {
    (void)x; (void)k; (void)n_rows; (void)out;
    return 0;
}

static inline void xentfast_dot_rows_d(const double* const* rows, const double* w,
                                       ptrdiff_t d, double* out) {
    for (int r = 0; r < XF_DOT_ROWS; r++) {
        double s = 0.0;
        for (ptrdiff_t j = 0; j < d; j++)
            s += rows[r][j] * w[j];
        out[r] = s;
    }
}

static inline void xentfast_dot_rows_f(const float* const* rows, const double* w,
                                       ptrdiff_t d, double* out) {
    for (int r = 0; r < XF_DOT_ROWS; r++) {
        double s = 0.0;
        for (ptrdiff_t j = 0; j < d; j++)
            s += (double)rows[r][j] * w[j];
        out[r] = s;
    }
}

static inline void xentfast_add_rows_d(const double* const* rows, const double* c,
                                       ptrdiff_t d, double* g) {
    for (ptrdiff_t j = 0; j < d; j++)
        g[j] += ((c[0] * rows[0][j] + c[1] * rows[1][j]) + (c[2] * rows[2][j] + c[3] * rows[3][j]))
              + ((c[4] * rows[4][j] + c[5] * rows[5][j]) + (c[6] * rows[6][j] + c[7] * rows[7][j]));
}

static inline void xentfast_add_rows_f(const float* const* rows, const double* c,
                                       ptrdiff_t d, double* g) {
    for (ptrdiff_t j = 0; j < d; j++)
        g[j] += ((c[0] * rows[0][j] + c[1] * rows[1][j]) + (c[2] * rows[2][j] + c[3] * rows[3][j]))
              + ((c[4] * rows[4][j] + c[5] * rows[5][j]) + (c[6] * rows[6][j] + c[7] * rows[7][j]));
}

#endif

#endif
