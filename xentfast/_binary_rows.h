/* One binary logistic-regression pass over the rows of a C-ordered X, eight rows
 * at a time, AVX-512 only (the other kernel sets return 0 rows done and the
 * caller's tiles do the work).
 *
 * Why a kernel of its own: a pass over 1,000,000 x 32 doubles reads X once
 * from memory (about 8 ns per row here), and its arithmetic must hide behind
 * that stream.  Done in tiles (the logits of 64 rows, then their terms, then
 * their gradient), the stream stalls while the tile's arithmetic runs, and
 * the pass took 2.2-2.5 times as long as X.sum().  Here each block of eight
 * rows is read in order (two rows side by side, so that the hardware
 * prefetcher sees a forward stream), its logits are formed, its terms
 * computed in one vector of eight lanes, and the rows added into the gradient
 * while they are still in L1.  Measured on AMD Zen 4, software prefetch made
 * this loop slower (it takes the L1 miss buffers the hardware prefetcher
 * would use), and blocks of 16 or 32 rows were slower than 8 for float64 X.
 *
 * The terms are those of binary_terms in _linear.pyx, lane by lane:
 *   e = e^-|z|, inv = 1 / (1 + e),
 *   loss = s (log(1 + e) + ((1 - y) z if z >= 0 else -y z)),
 *   residual = s ((1 if z >= 0 else e) inv - y), curvature = s e inv².
 * e^-|z| is xf_exp_neg_abs_v8 (_vmath.pxd, within 0.54 ulp) and log(1 + e)
 * xf_log1p_unit_v8 (_softmax_rows.h, no division, within about 0.8 ulp).
 * The logits are formed as in _dot_rows.h (the same sums in the same order).
 */
#ifndef XENTFAST_BINARY_ROWS_H
#define XENTFAST_BINARY_ROWS_H

#include "_inline.h"
#include "_dot_rows.h"
#include <stddef.h>

#if defined(XF_AVX512_EXP) && XF_DOT_VW == 8

#define XF_BINARY_ROWS_AVX512 1
#define XF_BLOCKS_D 2
#define XF_BLOCKS_F 4

/* Rows i < n (a multiple of 8 is done; returns how many): logits z_i = x_i . w + b,
 * the loss (added to *loss), the weight sum (to *weight_sum), residuals added
 * into g[0..d) as residual * x_i and into g[d] (if want_grad), and each row's
 * curvature stored (if curvature is not NULL).  s NULL: every weight 1. */
#define XF_BINARY_ROWS_BODY(T, LOAD, XF_BINARY_BLOCKS)                                              \
    const __m512d zero = _mm512_setzero_pd(), one = _mm512_set1_pd(1.0);          \
    __m512d loss_sum = zero, weight_total = zero, residual_total = zero;          \
    ptrdiff_t i = 0;                                                              \
    for (; i + 8 * XF_BINARY_BLOCKS <= n; i += 8 * XF_BINARY_BLOCKS) {            \
        const T* rows[8 * XF_BINARY_BLOCKS];                                      \
        double z_out[8 * XF_BINARY_BLOCKS];                                       \
        double c[8 * XF_BINARY_BLOCKS];                                           \
        for (int r = 0; r < 8 * XF_BINARY_BLOCKS; r++)                            \
            rows[r] = X + (i + r) * row_stride;                                   \
        for (int u = 0; u < XF_BINARY_BLOCKS; u++)                                \
            XF_DOT_ROWS_BLOCK(LOAD, rows + 8 * u, w, d, z_out + 8 * u)            \
        for (int u = 0; u < XF_BINARY_BLOCKS; u++) {                              \
        __m512d z = _mm512_add_pd(_mm512_loadu_pd(z_out + 8 * u), _mm512_set1_pd(b)); \
        __m512d yv = _mm512_loadu_pd(y + i + 8 * u);                              \
        __m512d sv = s != NULL ? _mm512_loadu_pd(s + i + 8 * u) : one;            \
        __m512d e = xf_exp_neg_abs_v8(z);                                         \
        __m512d inv = _mm512_div_pd(one, _mm512_add_pd(one, e));                  \
        __mmask8 nonnegative = _mm512_cmp_pd_mask(z, zero, _CMP_GE_OQ);           \
        __m512d linear = _mm512_mask_mov_pd(                                      \
            _mm512_mul_pd(_mm512_sub_pd(zero, yv), z), nonnegative,               \
            _mm512_mul_pd(_mm512_sub_pd(one, yv), z));                            \
        __m512d loss_i = _mm512_mul_pd(sv, _mm512_add_pd(xf_log1p_unit_v8(e), linear)); \
        loss_sum = _mm512_add_pd(loss_sum, loss_i);                               \
        weight_total = _mm512_add_pd(weight_total, sv);                           \
        __m512d p = _mm512_mask_mov_pd(e, nonnegative, one);                      \
        __m512d residual = _mm512_mul_pd(sv, _mm512_fmsub_pd(p, inv, yv));        \
        if (curvature != NULL)                                                    \
            _mm512_storeu_pd(curvature + i + 8 * u,                               \
                             _mm512_mul_pd(_mm512_mul_pd(sv, _mm512_mul_pd(e, inv)), inv)); \
        _mm512_storeu_pd(c + 8 * u, residual);                                    \
        residual_total = _mm512_add_pd(residual_total, residual);                 \
        }                                                                         \
        if (want_grad)                                                            \
            for (int u = 0; u < XF_BINARY_BLOCKS; u++)                            \
                XF_ADD_ROWS_BLOCK(LOAD, rows + 8 * u, c + 8 * u, d, g)            \
    }                                                                             \
    *loss += _mm512_reduce_add_pd(loss_sum);                                      \
    *weight_sum += _mm512_reduce_add_pd(weight_total);                            \
    if (want_grad)                                                                \
        g[d] += _mm512_reduce_add_pd(residual_total);                             \
    return i;

static inline ptrdiff_t xentfast_binary_rows_d(
        const double* X, ptrdiff_t row_stride, ptrdiff_t d, const double* w, double b,
        const double* y, const double* s, ptrdiff_t n, int want_grad, double* restrict g,
        double* curvature, double* loss, double* weight_sum) {
    XF_BINARY_ROWS_BODY(double, xf_dot_load_d, XF_BLOCKS_D)
}

static inline ptrdiff_t xentfast_binary_rows_f(
        const float* X, ptrdiff_t row_stride, ptrdiff_t d, const double* w, double b,
        const double* y, const double* s, ptrdiff_t n, int want_grad, double* restrict g,
        double* curvature, double* loss, double* weight_sum) {
    XF_BINARY_ROWS_BODY(float, xf_dot_load_f, XF_BLOCKS_F)
}

#else

#define XF_BINARY_ROWS_AVX512 0

static inline ptrdiff_t xentfast_binary_rows_d(
        const double* X, ptrdiff_t row_stride, ptrdiff_t d, const double* w, double b,
        const double* y, const double* s, ptrdiff_t n, int want_grad, double* g,
        double* curvature, double* loss, double* weight_sum) {
    (void)X; (void)row_stride; (void)d; (void)w; (void)b; (void)y; (void)s; (void)n;
    (void)want_grad; (void)g; (void)curvature; (void)loss; (void)weight_sum;
    return 0;
}

static inline ptrdiff_t xentfast_binary_rows_f(
        const float* X, ptrdiff_t row_stride, ptrdiff_t d, const double* w, double b,
        const double* y, const double* s, ptrdiff_t n, int want_grad, double* g,
        double* curvature, double* loss, double* weight_sum) {
    (void)X; (void)row_stride; (void)d; (void)w; (void)b; (void)y; (void)s; (void)n;
    (void)want_grad; (void)g; (void)curvature; (void)loss; (void)weight_sum;
    return 0;
}

#endif

#endif
