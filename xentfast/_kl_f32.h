/* The terms p log(p / q) of the float32 KL divergence, in float32 arithmetic
 * (16 lanes, AVX-512 set), each returned in double for the row sums.
 *
 * The ratio is never rounded.  p = 2^ep mp and q = 2^eq mq with mp, mq in
 * [1, 2) (getexp / getmant, subnormals too), and p / q = 2^k (1 + f):
 * - close (p / q in [1/2, 2]): k = 0, a = mp 2^(ep - eq), f = (a - mq) / mq;
 *   a - mq is exact (Sterbenz), so a small f keeps every digit of p - q;
 * - far: k = ep - eq, a = mp, and mp - mq is exact (both in [1, 2)).
 * f = fh + fl from an approximate reciprocal y of mq (rcp14 and one Newton
 * step, about 2^-28) and the exact remainder: fh = (a - mq) y, fl = (a - mq -
 * fh mq) y.  f lies in [-1/2, 1].
 *
 * log(1 + f) = T + small, within about 2^-29 relative, by the two-sided table
 * of _log1p_f32.h (no division).
 * Then k ln 2 is added with ln 2 split at 16 bits (k ln2_hi is exact for |k| <=
 * 2^8; here |k| <= 149), by Fast2Sum (k ln2_hi is 0 or at least T's exponent).
 * The product with p is a pair too, p first scaled by 2^64 so that its low part
 * does not underflow where p is tiny; the pair is added and unscaled in double.
 *
 * Error: the final rounding to float32 (1/2 ulp) plus about 2^-29 relative from
 * rh^2 q(rh) (the rounding of rh^2 and q's fit, each 2^-24 of a term below
 * 2^-6 of the result), so 1/2 + 2^-5 ulp at most; measured 0.528 ulp over 1.7e8
 * random and structured pairs.  Special values: 0 log(0 / q) = 0 for every q
 * (0 and nan too), p > 0 = q gives +inf, and nan propagates otherwise.
 */
#ifndef XENTFAST_KL_F32_H
#define XENTFAST_KL_F32_H

#include <stddef.h>
#include <math.h>

#if defined(__AVX512F__) && defined(__AVX512DQ__)
#include <immintrin.h>
#include "_log1p_f32.h"
#define XF_KL_F32_VECTOR 1

/* terms[i] = p[i] log(p[i] / q[i]) for i < n; returns 1 if a p or q lies
 * outside [0, 1] (nan passes), for the caller to raise. */
static inline int xf_kl_terms_f32(const float* p, const float* q, double* terms,
                                  ptrdiff_t n) {
    const __m512 zero = _mm512_setzero_ps(), one = _mm512_set1_ps(1.0f);
    const __m512d unscale = _mm512_set1_pd(5.421010862427522e-20);   /* 2^-64 */
    __mmask16 bad = 0;
    ptrdiff_t i;
    for (i = 0; i < n; i += 16) {
        __mmask16 take = n - i >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (n - i)) - 1u);
        __m512 pv = _mm512_maskz_loadu_ps(take, p + i);
        __m512 qv = _mm512_maskz_loadu_ps(take, q + i);
        bad |= _mm512_cmp_ps_mask(pv, zero, _CMP_LT_OQ) | _mm512_cmp_ps_mask(pv, one, _CMP_GT_OQ)
             | _mm512_cmp_ps_mask(qv, zero, _CMP_LT_OQ) | _mm512_cmp_ps_mask(qv, one, _CMP_GT_OQ);
        __m512 mp = _mm512_getmant_ps(pv, _MM_MANT_NORM_1_2, _MM_MANT_SIGN_zero);
        __m512 mq = _mm512_getmant_ps(qv, _MM_MANT_NORM_1_2, _MM_MANT_SIGN_zero);
        __m512 ediff = _mm512_sub_ps(_mm512_getexp_ps(pv), _mm512_getexp_ps(qv));
        /* close where mp 2^ediff lies in [mq/2, 2 mq] (scalef saturates: no wrap) */
        __m512 scaled = _mm512_scalef_ps(mp, ediff);
        __mmask16 close =
            _mm512_cmp_ps_mask(scaled, _mm512_mul_ps(mq, _mm512_set1_ps(0.5f)), _CMP_GE_OQ)
            & _mm512_cmp_ps_mask(scaled, _mm512_add_ps(mq, mq), _CMP_LE_OQ);
        __m512 a = _mm512_mask_blend_ps(close, mp, scaled);
        __m512 k = _mm512_maskz_mov_ps((__mmask16)~close, ediff);
        __m512 delta = _mm512_sub_ps(a, mq);
        __m512 y = _mm512_rcp14_ps(mq);
        y = _mm512_fmadd_ps(_mm512_fnmadd_ps(mq, y, one), y, y);
        __m512 fh = _mm512_mul_ps(delta, y);
        __m512 fl = _mm512_mul_ps(_mm512_fnmadd_ps(fh, mq, delta), y);
        __m512 T, small;
        xf_log1p_table_v16(fh, fl, 1, &T, &small);
        /* log(p / q) = S + small2 */
        __m512 kh = _mm512_mul_ps(k, _mm512_set1_ps(0.693145751953125f));   /* ln 2, 16 bits */
        __m512 S = _mm512_add_ps(kh, T);
        __m512 small2 = _mm512_add_ps(
            _mm512_sub_ps(T, _mm512_sub_ps(S, kh)),
            _mm512_fmadd_ps(k, _mm512_set1_ps(1.4286068203094173e-06f), small));
        /* 2^64 p log(p / q) = th + tl */
        __m512 ps = _mm512_mul_ps(pv, _mm512_set1_ps(18446744073709551616.0f));
        __m512 th = _mm512_mul_ps(ps, S);
        __m512 tl = _mm512_fmadd_ps(ps, small2, _mm512_fmsub_ps(ps, S, th));
        __mmask16 p_zero = _mm512_cmp_ps_mask(pv, zero, _CMP_EQ_OQ);
        __mmask16 q_zero = _mm512_cmp_ps_mask(qv, zero, _CMP_EQ_OQ)
                         & _mm512_cmp_ps_mask(pv, zero, _CMP_GT_OQ);
        th = _mm512_mask_blend_ps(q_zero, th, _mm512_set1_ps(INFINITY));
        th = _mm512_mask_blend_ps(p_zero, th, zero);
        tl = _mm512_maskz_mov_ps((__mmask16)~(p_zero | q_zero), tl);
        __m512d low = _mm512_add_pd(_mm512_cvtps_pd(_mm512_castps512_ps256(th)),
                                    _mm512_cvtps_pd(_mm512_castps512_ps256(tl)));
        __m512d high = _mm512_add_pd(
            _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(th), 1))),
            _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(tl), 1))));
        _mm512_mask_storeu_pd(terms + i, (__mmask8)take, _mm512_mul_pd(low, unscale));
        _mm512_mask_storeu_pd(terms + i + 8, (__mmask8)(take >> 8), _mm512_mul_pd(high, unscale));
    }
    return bad != 0;
}
#else
#define XF_KL_F32_VECTOR 0
/* Never called: the caller tests XF_KL_F32_VECTOR, a compile-time constant.  It
 * fills terms, so that the compiler sees no uninitialised reads. */
static inline int xf_kl_terms_f32(const float* p, const float* q, double* terms,
                                  ptrdiff_t n) {
    ptrdiff_t i;
    (void)p; (void)q;
    for (i = 0; i < n; i++)
        terms[i] = 0.0;
    return 1;
}
#endif
#endif
