/* The float32 terms of the information measures in float32 arithmetic (16
 * lanes, AVX-512 set), each returned in double for the row sums: -p log q
 * (entropy, cross-entropy) and p log(p / q) (KL divergence).
 *
 * log q: q = 2^e m with m in [3/4, 3/2) (getmant / getexp, subnormals too), so
 * f = m - 1 in [-1/4, 1/2) is exact and log q = e ln 2 + log(1 + f).
 *
 * log(p / q), never rounding the ratio: p = 2^ep mp and q = 2^eq mq with mp, mq
 * in [1, 2), and p / q = 2^k (1 + f):
 * - close (p / q in [1/2, 2]): k = 0, a = mp 2^(ep - eq), f = (a - mq) / mq;
 *   a - mq is exact (Sterbenz), so a small f keeps every digit of p - q;
 * - far: k = ep - eq, a = mp, and mp - mq is exact (both in [1, 2)).
 * f = fh + fl from an approximate reciprocal y of mq (rcp14 and one Newton
 * step, within about 2^-24 once rounded) and the exact remainder: fh = (a - mq)
 * y, fl = (a - mq - fh mq) y.  f lies in [-1/2, 1].
 *
 * Both: log(1 + f) = T + small, within about 2^-29 relative, by the two-sided
 * table of _log1p_f32.h (no division).  Then k ln 2 is added with ln 2 split at
 * 16 bits (k ln2_hi is exact for |k| <= 2^8; here |k| <= 150), by Fast2Sum (k
 * ln2_hi is 0 or at least T's exponent).  The product with p is a pair too, p
 * first scaled by 2^64 so that its low part does not underflow where p is tiny;
 * the pair is added in double, and the caller unscales the row sums.
 *
 * Error: the final rounding to float32 (1/2 ulp) plus the steps': up to five
 * roundings of 2^-24 relative on terms below 1/62 of the result (rh^2, q's Horner
 * step, small, the low part of the product) and q's fit, about 2^-27.7 relative,
 * so 0.58 ulp at most per term.  Measured: 0.541 ulp for KL (p / q - 1 near
 * +-0.03, found by a search there; 0.528 over 1.7e8 random and structured pairs),
 * 0.527 for -p log q and 0.521 for -p log p (every float32 p).  Special values:
 * 0 log q = 0 and 0 log(0 / q) = 0 for every q (0 and nan too), p > 0 = q gives
 * +inf, and nan propagates otherwise.
 */
#ifndef XENTFAST_INFORMATION_F32_H
#define XENTFAST_INFORMATION_F32_H

#include "_inline.h"

#include <stddef.h>
#include <math.h>

#if defined(__AVX512F__) && defined(__AVX512DQ__)
#include <immintrin.h>
#include "_log1p_f32.h"
#define XF_INFORMATION_F32_VECTOR 1
/* The terms come out 2^64 times too large; their sums are multiplied by this
 * (exact: a power of 2, and the sums neither over- nor underflow in double), a
 * multiply per row instead of two per 16 terms. */
#define XF_INFORMATION_F32_UNSCALE 5.421010862427522e-20   /* 2^-64 */

/* Where p or q lies outside [0, 1] (nan passes). */
XF_INLINE __mmask16 xf_outside_unit_v16(__m512 p, __m512 q) {
    const __m512 zero = _mm512_setzero_ps(), one = _mm512_set1_ps(1.0f);
    return _mm512_cmp_ps_mask(p, zero, _CMP_LT_OQ) | _mm512_cmp_ps_mask(p, one, _CMP_GT_OQ)
         | _mm512_cmp_ps_mask(q, zero, _CMP_LT_OQ) | _mm512_cmp_ps_mask(q, one, _CMP_GT_OQ);
}

/* k ln 2 + T + small = S + small2 (see the top) */
XF_INLINE void xf_add_k_ln2_v16(__m512 k, __m512 T, __m512 small, __m512* S_out,
                                __m512* small_out) {
    __m512 kh = _mm512_mul_ps(k, _mm512_set1_ps(0.693145751953125f));   /* ln 2, 16 bits */
    __m512 S = _mm512_add_ps(kh, T);
    *small_out = _mm512_add_ps(
        _mm512_sub_ps(T, _mm512_sub_ps(S, kh)),
        _mm512_fmadd_ps(k, _mm512_set1_ps(1.4286068203094173e-06f), small));
    *S_out = S;
}

/* terms[0..16) (those in take) = 2^64 sign p (S + small), with 0 where p = 0 and +inf
 * where p > 0 = q; sign is +1 or -1.  entropy (a constant): S + small is the log
 * of max(p, 2^-149), finite where p is 0, so that p (S + small) is 0 there
 * without a select. */
XF_INLINE void xf_store_terms_v16(__m512 p, __m512 q, __m512 S, __m512 small, float sign,
                                  const int entropy, double* terms, __mmask16 take) {
    const __m512 zero = _mm512_setzero_ps();
    __m512 ps = _mm512_mul_ps(p, _mm512_set1_ps(sign * 18446744073709551616.0f));   /* 2^64 */
    __m512 th = _mm512_mul_ps(ps, S);
    __m512 tl = _mm512_fmadd_ps(ps, small, _mm512_fmsub_ps(ps, S, th));
    if (!entropy) {
        __mmask16 p_zero = _mm512_cmp_ps_mask(p, zero, _CMP_EQ_OQ);
        __mmask16 q_zero = _mm512_cmp_ps_mask(q, zero, _CMP_EQ_OQ)
                         & _mm512_cmp_ps_mask(p, zero, _CMP_GT_OQ);
        th = _mm512_mask_blend_ps(q_zero, th, _mm512_set1_ps(INFINITY));
        th = _mm512_mask_blend_ps(p_zero, th, zero);
        tl = _mm512_maskz_mov_ps((__mmask16)~(p_zero | q_zero), tl);
    }
    __m512d low = _mm512_add_pd(_mm512_cvtps_pd(_mm512_castps512_ps256(th)),
                                _mm512_cvtps_pd(_mm512_castps512_ps256(tl)));
    __m512d high = _mm512_add_pd(
        _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(th), 1))),
        _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(tl), 1))));
    /* still times 2^64: the caller unscales the row sums (XF_INFORMATION_F32_UNSCALE) */
    _mm512_mask_storeu_pd(terms, (__mmask8)take, low);
    _mm512_mask_storeu_pd(terms + 8, (__mmask8)(take >> 8), high);
}

/* log q (kl = 0) or log(p / q) (kl = 1) as k ln 2 + log(1 + fh + fl) (see the top) */
XF_INLINE void xf_log_parts_v16(__m512 p, __m512 q, const int kl, __m512* k_out,
                                __m512* fh_out, __m512* fl_out) {
    const __m512 one = _mm512_set1_ps(1.0f);
    if (!kl) {
        __m512 m = _mm512_getmant_ps(q, _MM_MANT_NORM_p75_1p5, _MM_MANT_SIGN_zero);
        __m512 e = _mm512_getexp_ps(q);   /* floor(log2 q): one less where m < 1 */
        *k_out = _mm512_mask_add_ps(e, _mm512_cmp_ps_mask(m, one, _CMP_LT_OQ), e, one);
        *fh_out = _mm512_sub_ps(m, one);
        *fl_out = _mm512_setzero_ps();
        return;
    }
    __m512 mp = _mm512_getmant_ps(p, _MM_MANT_NORM_1_2, _MM_MANT_SIGN_zero);
    __m512 mq = _mm512_getmant_ps(q, _MM_MANT_NORM_1_2, _MM_MANT_SIGN_zero);
    __m512 ediff = _mm512_sub_ps(_mm512_getexp_ps(p), _mm512_getexp_ps(q));
    /* close where mp 2^ediff lies in [mq/2, 2 mq] (scalef saturates: no wrap) */
    __m512 scaled = _mm512_scalef_ps(mp, ediff);
    __mmask16 close =
        _mm512_cmp_ps_mask(scaled, _mm512_mul_ps(mq, _mm512_set1_ps(0.5f)), _CMP_GE_OQ)
        & _mm512_cmp_ps_mask(scaled, _mm512_add_ps(mq, mq), _CMP_LE_OQ);
    __m512 a = _mm512_mask_blend_ps(close, mp, scaled);
    __m512 delta = _mm512_sub_ps(a, mq);
    __m512 y = _mm512_rcp14_ps(mq);
    y = _mm512_fmadd_ps(_mm512_fnmadd_ps(mq, y, one), y, y);
    __m512 fh = _mm512_mul_ps(delta, y);
    *k_out = _mm512_maskz_mov_ps((__mmask16)~close, ediff);
    *fh_out = fh;
    *fl_out = _mm512_mul_ps(_mm512_fnmadd_ps(fh, mq, delta), y);
}

/* terms[i] = -p[i] log q[i] (kl = 0) or p[i] log(p[i] / q[i]) (kl = 1) for i < n,
 * times 2^64 (the caller unscales the row sums by XF_INFORMATION_F32_UNSCALE);
 * returns 1 if a p or q lies outside [0, 1] (nan passes), for the caller to raise.
 * entropy (a constant): q is p, read once. */
static inline int xf_information_terms_f32(const float* p, const float* q, double* terms,
                                           ptrdiff_t n, const int kl, const int entropy) {
    __mmask16 bad = 0;
    ptrdiff_t i;
    for (i = 0; i < n; i += 16) {
        __mmask16 take = n - i >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (n - i)) - 1u);
        __m512 pv = _mm512_maskz_loadu_ps(take, p + i);
        __m512 qv = entropy ? pv : _mm512_maskz_loadu_ps(take, q + i);
        __m512 k, fh, fl, T, small, S, small2;
        bad |= xf_outside_unit_v16(pv, qv);
        if (entropy)   /* the log of max(p, 2^-149) (a nan p stays nan) */
            qv = _mm512_max_ps(_mm512_set1_ps(1.40129846e-45f), pv);
        xf_log_parts_v16(pv, qv, kl, &k, &fh, &fl);
        xf_log1p_table_v16(fh, fl, 1, kl, &T, &small);   /* fl is 0 but for kl */
        xf_add_k_ln2_v16(k, T, small, &S, &small2);
        xf_store_terms_v16(pv, qv, S, small2, kl ? 1.0f : -1.0f, entropy, terms + i, take);
    }
    return bad != 0;
}
static inline int xf_log_terms_f32(const float* p, const float* q, double* terms,
                                   ptrdiff_t n) {
    return xf_information_terms_f32(p, q, terms, n, 0, 0);
}
static inline int xf_entropy_terms_f32(const float* p, double* terms, ptrdiff_t n) {
    return xf_information_terms_f32(p, p, terms, n, 0, 1);
}
static inline int xf_kl_terms_f32(const float* p, const float* q, double* terms,
                                  ptrdiff_t n) {
    return xf_information_terms_f32(p, q, terms, n, 1, 0);
}
#else
#define XF_INFORMATION_F32_VECTOR 0
#define XF_INFORMATION_F32_UNSCALE 1.0
/* Never called: the caller tests XF_INFORMATION_F32_VECTOR, a compile-time constant.  It
 * fills terms, so that the compiler sees no uninitialised reads. */
static inline int xf_kl_terms_f32(const float* p, const float* q, double* terms,
                                  ptrdiff_t n) {
    ptrdiff_t i;
    (void)p; (void)q;
    for (i = 0; i < n; i++)
        terms[i] = 0.0;
    return 1;
}
static inline int xf_log_terms_f32(const float* p, const float* q, double* terms,
                                   ptrdiff_t n) {
    return xf_kl_terms_f32(p, q, terms, n);
}
static inline int xf_entropy_terms_f32(const float* p, double* terms, ptrdiff_t n) {
    return xf_kl_terms_f32(p, p, terms, n);
}
#endif
#endif
