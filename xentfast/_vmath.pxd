# Branch-free exp and log1p on the ranges the kernels need, written so that
# gcc vectorises the loops that call them (no libm calls, no branches, only
# arithmetic, 64-bit integer bit operations and selects).  libm evaluates one
# element at a time; these run 2 (SSE2) or 4 (AVX2) lanes per instruction.
#
# Accuracy, checked against mpmath in tests/test_accuracy.py through the
# public functions: within 1 ulp each; the kernels stay within 2 ulp.
from libc.math cimport INFINITY
from libc.stdint cimport uint64_t

cdef extern from *:
    """
    #include "_inline.h"
    #include <stdint.h>
    #include <string.h>
    /* Bit casts between double and uint64; memcpy compiles to a register move. */
    XF_INLINE uint64_t xf_bits(double x) { uint64_t u; memcpy(&u, &x, 8); return u; }
    XF_INLINE double xf_from_bits(uint64_t u) { double x; memcpy(&x, &u, 8); return x; }
    """
    uint64_t xf_bits(double x) noexcept nogil
    double xf_from_bits(uint64_t u) noexcept nogil

cdef extern from *:
    """
    /* x + XF_ROUNDING_SHIFT - XF_ROUNDING_SHIFT rounds x to an integer (|x| < 2^51),
       and the low bits of x + XF_ROUNDING_SHIFT hold that integer in two's complement. */
    #define XF_ROUNDING_SHIFT 6755399441055744.0   /* 1.5 * 2^52 */
    #define XF_INV_LN2 1.4426950408889634
    /* ln 2 split so that n * XF_LN2_HI is exact for |n| < 2^20 */
    #define XF_LN2_HI 6.93147180369123816490e-01
    #define XF_LN2_LO 1.90821492927058770002e-10
    """
    const double ROUNDING_SHIFT "XF_ROUNDING_SHIFT"
    const double INV_LN2 "XF_INV_LN2"
    const double LN2_HI "XF_LN2_HI"
    const double LN2_LO "XF_LN2_LO"


cdef inline double exp_nonpositive(double x) noexcept nogil:
    # e^x for x <= 0 (and nan): x = n ln2 + r, |r| <= ln2 / 2, and
    # e^r = 1 + r + r² q(r), q of degree 9 fitted to (e^r - 1 - r) / r² on
    # Chebyshev nodes (relative error 2^-55.6 for e^r), evaluated as two
    # Horner chains in r² (even and odd coefficients) that run side by side.
    # 2^n is built in the exponent field from the low bits of the rounding sum;
    # below 2^-1000 the exponent gets 64 more and the result a factor 2^-64, so
    # subnormal results need no branch.
    cdef double rounded, n, r, r2, even, odd, scaled
    cdef uint64_t extra
    x = -746.0 if x < -746.0 else x       # e^-746 rounds to 0; a plain comparison keeps nan
    rounded = x * INV_LN2 + ROUNDING_SHIFT
    n = rounded - ROUNDING_SHIFT
    r = (x - n * LN2_HI) - n * LN2_LO
    r2 = r * r
    even = 2.5100375832561234e-08
    even = even * r2 + 2.7557268480310024e-06
    even = even * r2 + 1.9841269863040545e-04
    even = even * r2 + 8.333333333330065e-03
    even = even * r2 + 1.6666666666666669e-01
    odd = 2.7620075879983367e-07
    odd = odd * r2 + 2.4801521322368692e-05
    odd = odd * r2 + 1.3888888917196719e-03
    odd = odd * r2 + 4.1666666666624164e-02
    odd = odd * r2 + 5.0000000000000011e-01
    extra = 64 if n < -1000.0 else 0
    # the low 12 bits of rounded's bit pattern are n (two's complement)
    scaled = ((odd + r * even) * r2 + r + 1.0) * xf_from_bits(
        (xf_bits(rounded) + 1023 + extra) << 52)
    return scaled * (5.421010862427522e-20 if n < -1000.0 else 1.0)    # 2^-64


cdef inline double log1p_from_parts(double k, double f, double t) noexcept nogil:
    # log(2^k (1 + f)) from t = f / (2 + f), |t| <= 1/5:
    # log(1 + f) = 2 atanh(t) = f - f²/2 + t (f²/2 + z S(z)) with z = t², where
    # S(z) = Σ 2 z^(n-1) / (2n + 1), n >= 1, is replaced by a degree-7 polynomial
    # fitted on Chebyshev nodes of [0, 1/25] (error 2^-55, which t z scales
    # down to below 2^-61), evaluated as two chains in z² that run side by side.
    cdef double z = t * t
    cdef double z2 = z * z
    cdef double even = 0.13210360485131620 * z2 + 0.18181738454723026
    even = even * z2 + 0.28571428567339190
    even = even * z2 + 0.66666666666666660
    cdef double odd = 0.13604015707124079 * z2 + 0.15388834677801916
    odd = odd * z2 + 0.22222223037807243
    odd = odd * z2 + 0.40000000000007800
    cdef double R = (even + z * odd) * z
    cdef double half_f2 = 0.5 * f * f
    return k * LN2_HI - ((half_f2 - (t * (half_f2 + R) + k * LN2_LO)) - f)


cdef inline double log1p_unit(double u) noexcept nogil:
    # log(1 + u) for u in [0, 1] (and nan), with one division.  Write
    # 1 + u = 2^k (1 + f) exactly: k = 0, f = u for u < 1/2; k = 1, f = (u - 1) / 2
    # for u >= 1/2 (u - 1 is exact there, by Sterbenz); then |f / (2 + f)| <= 1/5.
    cdef double k = 1.0 if u >= 0.5 else 0.0
    cdef double f = (u - 1.0) * 0.5 if u >= 0.5 else u
    return log1p_from_parts(k, f, f / (2.0 + f))


cdef inline double log_nonnegative(double x) noexcept nogil:
    # log x for finite x >= 0 (log 0 = -inf, nan stays nan).  x = 2^e m with
    # m in [sqrt2/2, sqrt2) read off the bits (subnormals scaled by 2^54 first),
    # f = m - 1 exact, and log(1 + f) as in log1p_unit but with fdlibm's minimax
    # polynomial for |t| <= 0.1716 (coefficients Lg1..Lg7).
    cdef bint subnormal = x < 2.2250738585072014e-308
    cdef double scaled = x * 18014398509481984.0 if subnormal else x       # 2^54
    cdef uint64_t bits = xf_bits(scaled)
    # The biased exponent, as a double, by the 2^52 trick (no int-to-double conversion).
    cdef double e = xf_from_bits((bits >> 52) | 0x4330000000000000ULL) - 4503599627371519.0
    cdef double m = xf_from_bits((bits & 0x000FFFFFFFFFFFFFULL) | 0x3FF0000000000000ULL)
    cdef bint high = m > 1.4142135623730951
    cdef double f, t, z, w, R, half_f2, result
    e = e - 54.0 if subnormal else e
    e = e + 1.0 if high else e
    f = m * 0.5 - 1.0 if high else m - 1.0
    t = f / (2.0 + f)
    z = t * t
    # Lg1 + Lg2 z + ... + Lg7 z^6 as two chains in z² (odd and even powers)
    w = z * z
    R = z * ((6.666666666666735130e-01 + w * (2.857142874366239149e-01
             + w * (1.818357216161805012e-01 + w * 1.479819860511658591e-01)))
             + z * (3.999999999940941908e-01 + w * (2.222219843214978396e-01
                    + w * 1.531383769920937332e-01)))
    half_f2 = 0.5 * f * f
    result = e * LN2_HI - ((half_f2 - (t * (half_f2 + R) + e * LN2_LO)) - f)
    result = -INFINITY if x == 0.0 else result
    return x if x != x else result


cdef inline double log1p_nonnegative(double s) noexcept nogil:
    # log(1 + s) for finite s >= 0.  w = 1 + s rounded; s - (w - 1) is the
    # rounding error, exactly (w - 1 is exact, and then so is the difference),
    # and log(1 + s) = log w + log(1 + err / w) = log w + err / w to within
    # an ulp.  One division; for the row sums of softmax, not per element.
    cdef double w = 1.0 + s
    return log_nonnegative(w) + (s - (w - 1.0)) / w


# --- float64 e^-|x| on AVX-512 ----------------------------------------------
#
# An array form of exp_nonpositive for the AVX-512 kernel set, in intrinsics:
# AVX-512 has what the scalar form builds by hand, and gcc will not emit it from
# C: a 16-entry table lookup in registers (vpermt2pd), so a shorter polynomial,
# and vscalefpd, which applies 2^m with subnormal results and no special case.
# x = (n / 16) ln2 + r, |r| <= ln2 / 32, n = 16 m + j; e^x = 2^m 2^(j/16) e^r,
# with 2^(j/16) = T_hi + T_lo (to 2^-106) and e^r - 1 = r + r^2 q(r), q the
# Taylor polynomial of degree 5 (truncation r^8/8! < 2^-59 relative); the
# result is T_hi + (T_hi p + T_lo), rounded once before the exact scaling:
# measured within 0.54 ulp against mpmath over 80,000 points of [-746, 0] (the
# scalar form: 0.98 ulp); tests/test_accuracy.py checks the public functions.
# Used where the kernels form e^x in a loop of its own (maps, BCE, softmax rows).
cdef extern from *:
    """
    #include "_inline.h"
    #include <immintrin.h>
    #if defined(__AVX512F__) && defined(__AVX512DQ__)
    #define XF_AVX512_EXP 1
    #include "_log1p_f32.h"
    /* 2^(j/16) rounded, j = 0..7 and 8..15 (a vpermt2pd table) */
    #define XF_EXP2_SIXTEENTHS_LOW _mm512_setr_pd( \
        1.0, 1.0442737824274138, 1.0905077326652577, 1.1387886347566916, \
        1.189207115002721, 1.241857812073484, 1.2968395546510096, 1.3542555469368927)
    #define XF_EXP2_SIXTEENTHS_HIGH _mm512_setr_pd( \
        1.4142135623730951, 1.4768261459394993, 1.5422108254079407, 1.6104903319492543, \
        1.681792830507429, 1.7562521603732995, 1.8340080864093424, 1.9152065613971474)
    /* x <= 0 (or nan) = (n/16) ln2 + r, |r| <= ln2/32: returns r with ln2/16's
       high part only (the caller subtracts (n/16) C_lo where it needs it), n16 =
       n/16 and k, whose low 4 bits are j = n mod 16.  k = 1.5 * 2^48 + n/16: its
       last bit is 1/16, so n/16 comes out of the subtraction, ready for vscalefpd
       (which floors it), without a multiply by 1/16 and a rounding. */
    XF_INLINE __m512d xf_exp_reduce_v8(__m512d x, __m512d* n16_out, __m512i* k_out) {
        const __m512d shift = _mm512_set1_pd(422212465065984.0);      /* 1.5 * 2^48 */
        /* e^-746 rounds to 0; max returns its second operand for a nan: x */
        x = _mm512_max_pd(_mm512_set1_pd(-746.0), x);
        __m512d k = _mm512_fmadd_pd(x, _mm512_set1_pd(1.4426950408889634), shift); /* 1/ln2 */
        __m512d n16 = _mm512_sub_pd(k, shift);
        *n16_out = n16;
        *k_out = _mm512_castpd_si512(k);
        /* ln2 / 16 = C_hi + C_lo; n/16 times 16 C_hi (the same product) */
        return _mm512_fnmadd_pd(n16, _mm512_set1_pd(0.6931471805599453), x);
    }
    XF_INLINE __m512d xf_exp_nonpositive_v8(__m512d x) {
        const __m512d lo_low = _mm512_setr_pd(
            0.0, 8.551889705537965e-17, -3.046782079812471e-17, 8.912812676025408e-17,
            3.982015231465646e-17, 4.658027591836937e-17, 2.5382502794888315e-17,
            7.70094837980299e-17);
        const __m512d lo_high = _mm512_setr_pd(
            -9.667293313452913e-17, -3.483994556892796e-17, 7.949834809697621e-17,
            2.4707192569797888e-17, 8.199010020581497e-17, 2.960140695448873e-17,
            3.283107224245627e-17, -1.0619946056195963e-16);
        __m512d n16;
        __m512i j;
        __m512d r = xf_exp_reduce_v8(x, &n16, &j);
        r = _mm512_fnmadd_pd(n16, _mm512_set1_pd(2.3190468138462996e-17), r);   /* 16 C_lo */
        __m512d t_hi = _mm512_permutex2var_pd(XF_EXP2_SIXTEENTHS_LOW, j,
                                              XF_EXP2_SIXTEENTHS_HIGH);
        __m512d t_lo = _mm512_permutex2var_pd(lo_low, j, lo_high);
        __m512d q = _mm512_set1_pd(1.0 / 5040.0);
        q = _mm512_fmadd_pd(q, r, _mm512_set1_pd(1.0 / 720.0));
        q = _mm512_fmadd_pd(q, r, _mm512_set1_pd(1.0 / 120.0));
        q = _mm512_fmadd_pd(q, r, _mm512_set1_pd(1.0 / 24.0));
        q = _mm512_fmadd_pd(q, r, _mm512_set1_pd(1.0 / 6.0));
        q = _mm512_fmadd_pd(q, r, _mm512_set1_pd(0.5));
        __m512d p = _mm512_fmadd_pd(_mm512_mul_pd(r, r), q, r);
        __m512d result = _mm512_add_pd(t_hi, _mm512_fmadd_pd(t_hi, p, t_lo));
        /* vscalefpd scales by 2^floor(n / 16) */
        return _mm512_scalef_pd(result, n16);
    }
    /* e^-|x| */
    XF_INLINE __m512d xf_exp_neg_abs_v8(__m512d x) {
        return xf_exp_nonpositive_v8(_mm512_or_pd(x, _mm512_set1_pd(-0.0)));
    }

    /* sigmoid(x) = (x >= 0 ? 1 : E) / (1 + E), E = e^-|x|, as _scalar.sigmoid.
       (A reciprocal by vrcp14pd and Newton steps instead of the division was
       slower on Zen 4.) */
    XF_INLINE __m512d xf_sigmoid_v8(__m512d x) {
        __m512d e = xf_exp_neg_abs_v8(x);
        __mmask8 nonnegative = _mm512_cmp_pd_mask(x, _mm512_setzero_pd(), _CMP_GE_OQ);
        __m512d num = _mm512_mask_blend_pd(nonnegative, e, _mm512_set1_pd(1.0));
        return _mm512_div_pd(num, _mm512_add_pd(_mm512_set1_pd(1.0), e));
    }

    /* out[i] = op(x[i]) for i < n, eight at a time, the last few by masked loads
       and stores (which touch nothing past n); out may be x.  op is a constant at
       each call, so the compiler inlines it. */
    XF_INLINE void xf_map_f64(__m512d (*op)(__m512d), const double* x, double* out,
                              Py_ssize_t n) {
        Py_ssize_t i = 0;
        for (; i + 8 <= n; i += 8)
            _mm512_storeu_pd(out + i, op(_mm512_loadu_pd(x + i)));
        if (i < n) {
            __mmask8 rest = (__mmask8)((1u << (n - i)) - 1u);
            _mm512_mask_storeu_pd(out + i, rest, op(_mm512_maskz_loadu_pd(rest, x + i)));
        }
    }

    /* xf_map_f64 for float32, sixteen at a time */
    XF_INLINE void xf_map_f32(__m512 (*op)(__m512), const float* x, float* out,
                              Py_ssize_t n) {
        Py_ssize_t i = 0;
        for (; i + 16 <= n; i += 16)
            _mm512_storeu_ps(out + i, op(_mm512_loadu_ps(x + i)));
        if (i < n) {
            __mmask16 rest = (__mmask16)((1u << (n - i)) - 1u);
            _mm512_mask_storeu_ps(out + i, rest, op(_mm512_maskz_loadu_ps(rest, x + i)));
        }
    }

    /* out[i] = sigmoid(x[i]); e^-|x[i]| (negate_abs) or e^x[i] for x[i] <= 0 (nan
       stays nan). */
    static inline void xf_sigmoid_f64(const double* x, double* out, Py_ssize_t n) {
        xf_map_f64(xf_sigmoid_v8, x, out, n);
    }
    static inline void xf_exp_nonpositive_f64(const double* x, double* out, Py_ssize_t n,
                                              int negate_abs) {
        if (negate_abs)
            xf_map_f64(xf_exp_neg_abs_v8, x, out, n);
        else
            xf_map_f64(xf_exp_nonpositive_v8, x, out, n);
    }

    /* float32 on AVX-512 by intrinsics (16 lanes): e^-|x| as a pair, sigmoid, and
       log(1 + e^-|x|) for log_sigmoid, softplus and BCE.
       The scalar methods below (xf_exp_parts_f32, xf_sigmoid_f32) are the same
       steps with a longer polynomial and no table; these take about 31 vector
       operations per 16 sigmoids against about 55 for the scalar method
       vectorised by the compiler: 0.39-0.40 against 0.60 ns per value on Zen 4.

       e^a, a = -|x| clamped at -104 (e^-104 rounds to 0; nan stays nan):
       a = (16 m + j) ln2/16 + s, j = n mod 16 picked from 2^(j/16) = TH + TL
       (float32 pairs, one permute each), r = a - n C_HI exact (an FMA: both are
       multiples of r's last bit; formed as (n/16)(16 C_HI), the same product),
       s = r - n C_LO rounded (|s| <= 0.0217, error 2^-29.5), e^s - 1 = s + s^2
       (c2 + c3 s) to 2^-29.2 relative to e^s.  The pair
       h = TH, lo = TH (e^s - 1) + TL (|lo| < 0.023 h, not renormalised) is
       within about 2^-28 of 2^-m e^a. */
    XF_INLINE void xf_exp_parts_v16(__m512 x, __m512* h_out, __m512* lo_out,
                                    __m512* m_out) {
        /* e^-|x| = (h + lo) 2^floor(m), h = 2^(j/16) rounded, |lo| < 0.023 h */
        const __m512 table_hi = _mm512_setr_ps(
            1.0f, 1.0442737340927124f, 1.0905077457427979f, 1.1387885808944702f,
            1.1892070770263672f, 1.2418577671051025f, 1.2968395948410034f, 1.3542555570602417f,
            1.4142135381698608f, 1.4768261909484863f, 1.5422108173370361f, 1.610490322113037f,
            1.6817928552627563f, 1.7562521696090698f, 1.8340080976486206f, 1.9152065515518188f);
        const __m512 table_lo = _mm512_setr_ps(
            0.0f, 4.8334701574503924e-08f, -1.3077539939843064e-08f, 5.386222312608879e-08f,
            3.797635272917432e-08f, 4.496838101886169e-08f, -4.018999533172973e-08f,
            -1.0123349269974824e-08f, 2.4203234971764687e-08f, -4.500898853621038e-08f,
            8.070904833346049e-09f, 9.836217174097328e-09f, -2.4755326677450284e-08f,
            -9.235770370707996e-09f, -1.1239277952768134e-08f, 9.845328108326612e-09f);
        /* k = 1.5 * 2^19 + n/16: its last bit is 1/16, so n/16 (not n) comes out
           of the subtraction, ready for vscalefps, without a multiply by 1/16 */
        const __m512 shift = _mm512_set1_ps(786432.0f);
        __m512 a = _mm512_or_ps(x, _mm512_set1_ps(-0.0f));
        a = _mm512_max_ps(_mm512_set1_ps(-104.0f), a);           /* a nan stays nan */
        __m512 k = _mm512_fmadd_ps(a, _mm512_set1_ps(1.4426950216293335f), shift);  /* 1/ln2 */
        __m512 n16 = _mm512_sub_ps(k, shift);
        __m512 r = _mm512_fnmadd_ps(n16, _mm512_set1_ps(0.6931471824645996f), a);  /* 16 C_HI */
        __m512 s = _mm512_fnmadd_ps(n16, _mm512_set1_ps(-1.9046542121259336e-09f), r); /* 16 C_LO */
        /* the low four bits of k's pattern are n mod 16 */
        __m512 t_hi = _mm512_permutexvar_ps(_mm512_castps_si512(k), table_hi);
        __m512 t_lo = _mm512_permutexvar_ps(_mm512_castps_si512(k), table_lo);
        /* c2 + c3 s: a minimax fit (float32 coefficients) of (e^s - 1 - s) / s^2 */
        __m512 q = _mm512_fmadd_ps(_mm512_set1_ps(0.16666772961616516f), s,
                                   _mm512_set1_ps(0.5000161528587341f));
        __m512 expm1_s = _mm512_fmadd_ps(_mm512_mul_ps(s, s), q, s);
        *h_out = t_hi;
        *lo_out = _mm512_fmadd_ps(t_hi, expm1_s, t_lo);
        /* vscalefps scales by 2^floor(its second operand): floor(n / 16) */
        *m_out = n16;
    }
    /* 1/(1 + E) from i ~ 1/(1 + eh + el) by vrcp14ps (2^-14) and res = 1 - i (1 +
       eh + el) = ((1 - i) - i eh) - i el by FMAs (1 - i exact, i in [0.5, 1]):
       1/(1 + E) = i + i res to res^2 <= 2^-27.8 (0.07 ulp).  σ(-|x|) = (h + lo)
       (i + i res) 2^m = h i + (h (i res) + lo σ(|x|)) by one FMA (h i exact in
       it; the terms in parentheses are below 0.025 of the result, rounded at
       their own size), then scaled by 2^m (vscalefps), exact but for a
       subnormal result, rounded a second time there.  Every float32 within 1
       ulp (tools/float32_sweep.py; README.md has the measured maximum). */
    /* σ(|x|) and σ(-|x|) 2^-floor(m), given e^-|x| = (h + lo) 2^floor(m). */
    XF_INLINE void xf_sigmoid_parts_v16(__m512 h, __m512 lo, __m512 m, __m512* positive,
                                        __m512* negative_unscaled) {
        const __m512 one = _mm512_set1_ps(1.0f);
        __m512 eh = _mm512_scalef_ps(h, m), el = _mm512_scalef_ps(lo, m);
        __m512 i = _mm512_rcp14_ps(_mm512_add_ps(one, _mm512_add_ps(eh, el)));
        __m512 res = _mm512_fnmadd_ps(i, el, _mm512_fnmadd_ps(i, eh, _mm512_sub_ps(one, i)));
        __m512 i_res = _mm512_mul_ps(i, res);
        __m512 pos = _mm512_add_ps(i, i_res);
        __m512 tail = _mm512_fmadd_ps(h, i_res, _mm512_mul_ps(lo, pos));
        *positive = pos;
        *negative_unscaled = _mm512_fmadd_ps(h, i, tail);
    }
    XF_INLINE __m512 xf_sigmoid_v16(__m512 x) {
        __m512 h, lo, m, positive, negative_unscaled;
        xf_exp_parts_v16(x, &h, &lo, &m);
        xf_sigmoid_parts_v16(h, lo, m, &positive, &negative_unscaled);
        /* x < 0 or nan: the scaled σ(-|x|), else σ(|x|) (one masked operation) */
        __mmask16 below = _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_NGE_UQ);
        return _mm512_mask_scalef_ps(positive, below, negative_unscaled, m);
    }
    static inline void xf_sigmoid_f32_array(const float* x, float* out, Py_ssize_t n) {
        xf_map_f32(xf_sigmoid_v16, x, out, n);
    }
    /* log(1 + E), E = e^-|x| in (0, 1], as T + small, for log_sigmoid and softplus:
       no division, a 16-entry table in a register instead (xf_log1p_table_v16 in
       _log1p_f32.h, one-sided).  The pair of xf_exp_parts_v16 is renormalised
       (Fast2Sum) and scaled: E = eh + el, then log(1 + E) = T + small within
       about 2^-28.5.  A subnormal E (|x| > 87.3) is rounded where it is scaled and
       again at the end (the sweep measures it).  About 53 vector operations per
       16 results (loads and stores included), no division and no intermediate
       arrays: 0.75 against 0.85 ns per value on Zen 4 (in L1) for
       xf_exp_parts_f32_array and xf_log1p_parts_f32 (every float32: 0.773 ulp
       at most, against 0.856).  Also gives the renormalised pair: e^-|x| = (h +
       lo) 2^floor(m), for the sigmoid of BCE's gradient. */
    XF_INLINE void xf_log1p_exp_pair_parts_v16(__m512 x, __m512* T_out, __m512* small_out,
                                               __m512* h_out, __m512* lo_out,
                                               __m512* m_out) {
        __m512 h, lo, m;
        xf_exp_parts_v16(x, &h, &lo, &m);
        __m512 sum = _mm512_add_ps(h, lo);                       /* Fast2Sum: |lo| < 0.023 h */
        lo = _mm512_sub_ps(lo, _mm512_sub_ps(sum, h));
        h = sum;
        xf_log1p_table_v16(_mm512_scalef_ps(h, m), _mm512_scalef_ps(lo, m), 0, 1, T_out,
                           small_out);
        *h_out = h;
        *lo_out = lo;
        *m_out = m;
    }
    XF_INLINE void xf_log1p_exp_pair_v16(__m512 x, __m512* T_out, __m512* small_out) {
        __m512 h, lo, m;
        xf_log1p_exp_pair_parts_v16(x, T_out, small_out, &h, &lo, &m);
    }
    /* min(x, 0) - (T + small) (log_sigmoid) or max(x, 0) + (T + small) (softplus),
       rounded once: TwoSum of the base and -T or T, then the tails (xf_add3_f32's
       steps).  At x = +-inf the error term is nan: those return the base.  A nan x
       gives nan (its base is 0).  softplus is a constant at each call. */
    XF_INLINE __m512 xf_log1p_exp_v16(__m512 x, const int softplus) {
        __m512 T, small;
        xf_log1p_exp_pair_v16(x, &T, &small);
        __m512 zero = _mm512_setzero_ps();
        __m512 base = softplus ? _mm512_max_ps(x, zero) : _mm512_min_ps(x, zero);
        __m512 s = softplus ? _mm512_add_ps(base, T) : _mm512_sub_ps(base, T);
        __m512 bb = _mm512_sub_ps(s, base);
        __m512 base_err = _mm512_sub_ps(base, _mm512_sub_ps(s, bb));
        __m512 err = softplus ? _mm512_add_ps(base_err, _mm512_sub_ps(T, bb))
                              : _mm512_sub_ps(base_err, _mm512_add_ps(T, bb));
        __m512 r = _mm512_add_ps(s, softplus ? _mm512_add_ps(err, small)
                                             : _mm512_sub_ps(err, small));
        __mmask16 infinite = _mm512_cmp_ps_mask(_mm512_abs_ps(x), _mm512_set1_ps(INFINITY),
                                                _CMP_EQ_OQ);
        return _mm512_mask_blend_ps(infinite, r, base);
    }
    XF_INLINE __m512 xf_log_sigmoid_v16(__m512 x) { return xf_log1p_exp_v16(x, 0); }
    XF_INLINE __m512 xf_softplus_v16(__m512 x) { return xf_log1p_exp_v16(x, 1); }
    static inline void xf_log_sigmoid_f32_array(const float* x, float* out, Py_ssize_t n) {
        xf_map_f32(xf_log_sigmoid_v16, x, out, n);
    }
    static inline void xf_softplus_f32_array(const float* x, float* out, Py_ssize_t n) {
        xf_map_f32(xf_softplus_v16, x, out, n);
    }
    /* The unweighted BCE-with-logits loss of 16 float32 values given log(1 + e^-|z|)
       = T + small: unweighted_loss_f32's steps (_scalar.pxd) in vector lanes, the
       same operations in the same order (so the same results): max(z, 0) - y z by
       one FMA, added to the pair with one rounding (xf_add3_f32's steps); at z =
       +-inf, c z with c = 1 - y (z >= 0) or -y, or 0 where c is 0. */
    XF_INLINE __m512 xf_bce_loss_v16(__m512 z, __m512 y, __m512 T, __m512 small) {
        const __m512 zero = _mm512_setzero_ps();
        __m512 neg_y = _mm512_xor_ps(y, _mm512_set1_ps(-0.0f));   /* -y, as the scalar code */
        __m512 c = _mm512_mask_sub_ps(neg_y, _mm512_cmp_ps_mask(z, zero, _CMP_GE_OQ),
                                      _mm512_set1_ps(1.0f), y);
        __m512 base = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(z, zero, _CMP_GT_OQ), z);
        __m512 linear = _mm512_fmadd_ps(neg_y, z, base);
        __m512 at_infinity = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(c, zero, _CMP_NEQ_UQ),
                                                 _mm512_mul_ps(c, z));
        __m512 s = _mm512_add_ps(linear, T);
        __m512 bb = _mm512_sub_ps(s, linear);
        __m512 err = _mm512_add_ps(_mm512_sub_ps(linear, _mm512_sub_ps(s, bb)),
                                   _mm512_sub_ps(T, bb));
        __m512 loss = _mm512_add_ps(s, _mm512_add_ps(err, small));
        __mmask16 infinite = _mm512_cmp_ps_mask(_mm512_abs_ps(z), _mm512_set1_ps(INFINITY),
                                                _CMP_EQ_OQ);
        return _mm512_mask_blend_ps(infinite, loss, at_infinity);
    }
    /* One block of BCE with logits, float32, unweighted, in one pass: the losses
       (xf_bce_loss_v16) into losses; *bad = 1 if a target lies outside [0, 1] or
       is nan; and unless positive is NULL, σ(|z|) and σ(-|z|) into positive and
       negative (as xf_sigmoid_v16 forms them) and *soft = 1 if a target is not 0
       or 1.  Unless grad is NULL (then positive is not NULL either), the gradient
       for targets 0 and 1 into grad: σ(z) (y = 0) or 0 - σ(-z), times the scale
       as the float32 pair scale_hi + scale_lo (the caller redoes it where *soft
       turns out 1).  One loop instead of three (the log pair stored, then read
       back with the logits and the targets for the losses, then the gradient's). */
    static inline void xf_bce_block_f32(const float* z, const float* y, Py_ssize_t n,
                                        float* losses, float* positive, float* negative,
                                        float* grad, float scale_hi, float scale_lo,
                                        int* bad, int* soft) {
        const __m512 zero = _mm512_setzero_ps(), one = _mm512_set1_ps(1.0f);
        __mmask16 bad_lanes = 0, soft_lanes = 0;
        Py_ssize_t i;
        for (i = 0; i < n; i += 16) {
            __mmask16 take = n - i >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (n - i)) - 1u);
            __m512 zv = _mm512_maskz_loadu_ps(take, z + i);
            __m512 yv = _mm512_maskz_loadu_ps(take, y + i);
            __m512 T, small, h, lo, m;
            xf_log1p_exp_pair_parts_v16(zv, &T, &small, &h, &lo, &m);
            bad_lanes |= _mm512_mask_cmp_ps_mask(take, yv, zero, _CMP_LT_OQ)
                       | _mm512_mask_cmp_ps_mask(take, yv, one, _CMP_GT_OQ)
                       | _mm512_mask_cmp_ps_mask(take, yv, yv, _CMP_UNORD_Q);
            _mm512_mask_storeu_ps(losses + i, take, xf_bce_loss_v16(zv, yv, T, small));
            if (positive != NULL) {
                __m512 pos, neg_unscaled;
                soft_lanes |= _mm512_mask_cmp_ps_mask(take, yv, zero, _CMP_NEQ_UQ)
                            & _mm512_cmp_ps_mask(yv, one, _CMP_NEQ_UQ);
                xf_sigmoid_parts_v16(h, lo, m, &pos, &neg_unscaled);
                __m512 neg = _mm512_scalef_ps(neg_unscaled, m);
                _mm512_mask_storeu_ps(positive + i, take, pos);
                _mm512_mask_storeu_ps(negative + i, take, neg);
                if (grad != NULL) {
                    __mmask16 nonnegative = _mm512_cmp_ps_mask(zv, zero, _CMP_GE_OQ);
                    __m512 sig_z = _mm512_mask_blend_ps(nonnegative, neg, pos);
                    __m512 sig_minus_z = _mm512_mask_blend_ps(nonnegative, pos, neg);
                    /* 0 - σ(-z), not -σ(-z): +0 where σ(-z) is 0, as the double route */
                    __m512 g = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(yv, zero, _CMP_EQ_OQ),
                                                    _mm512_sub_ps(zero, sig_minus_z), sig_z);
                    g = _mm512_fmadd_ps(g, _mm512_set1_ps(scale_hi),
                                        _mm512_mul_ps(g, _mm512_set1_ps(scale_lo)));
                    _mm512_mask_storeu_ps(grad + i, take, g);
                }
            }
        }
        *bad = bad_lanes != 0;
        if (positive != NULL)
            *soft = soft_lanes != 0;
    }
    /* sum16 (_scalar.pxd) of float terms, in double and in the same order: sixteen
       partial sums, the last n mod 16 terms added to the first in turn, then the
       same tree; below 16 terms a plain sum. */
    static inline double xf_sum16_f32(const float* t, Py_ssize_t n) {
        __m512d low = _mm512_setzero_pd(), high = _mm512_setzero_pd();
        double a[16], total = 0.0;
        Py_ssize_t i = 0, q;
        if (n < 16) {
            for (i = 0; i < n; i++)
                total += (double)t[i];
            return total;
        }
        for (; i + 16 <= n; i += 16) {
            low = _mm512_add_pd(low, _mm512_cvtps_pd(_mm256_loadu_ps(t + i)));
            high = _mm512_add_pd(high, _mm512_cvtps_pd(_mm256_loadu_ps(t + i + 8)));
        }
        _mm512_storeu_pd(a, low);
        _mm512_storeu_pd(a + 8, high);
        for (; i < n; i++)
            a[0] += (double)t[i];
        for (q = 0; q < 8; q++)
            a[q] += a[q + 8];
        for (q = 0; q < 4; q++)
            a[q] += a[q + 4];
        return (a[0] + a[1]) + (a[2] + a[3]);
    }

    /* The max of a row of k >= 1 logits, the index of its first occurrence (0 if
       none: an all -inf row, or a nan) and whether the row holds a nan: what a
       scalar scan finds, but in vector lanes (a scalar scan of a short row is one
       chain of dependent compares, ~4 cycles per entry).  Lanes past k read as
       -inf (masked loads touch nothing past k).  With a nan the max is
       meaningless; the caller does not use it then. */
    #define XF_ROW_SCAN(NAME, T, VEC, LANES, MASK, SET1, LOADU, MASK_LOADU, CMP, MAXV, REDUCE_MAX) \
    static inline double NAME(const T* z, Py_ssize_t k, Py_ssize_t* argmax, int* has_nan) { \
        const VEC neg_inf = SET1(-INFINITY);                                           \
        VEC best = neg_inf;                                                            \
        MASK unordered = 0, rest;                                                      \
        Py_ssize_t j = 0;                                                              \
        for (; j + LANES <= k; j += LANES) {                                           \
            VEC v = LOADU(z + j);                                                      \
            unordered |= CMP(v, v, _CMP_UNORD_Q);                                      \
            best = MAXV(best, v);                                                      \
        }                                                                              \
        if (j < k) {                                                                   \
            rest = (MASK)((1u << (k - j)) - 1u);                                       \
            VEC v = MASK_LOADU(neg_inf, rest, z + j);                                  \
            unordered |= CMP(v, v, _CMP_UNORD_Q);                                      \
            best = MAXV(best, v);                                                      \
        }                                                                              \
        T m = REDUCE_MAX(best);                                                        \
        VEC target = SET1(m);                                                          \
        *has_nan = unordered != 0;                                                     \
        *argmax = 0;                                                                   \
        for (j = 0; j < k; j += LANES) {                                               \
            rest = k - j >= LANES ? (MASK)~0u : (MASK)((1u << (k - j)) - 1u);         \
            MASK equal = CMP(MASK_LOADU(neg_inf, rest, z + j), target, _CMP_EQ_OQ) & rest; \
            if (equal) {                                                               \
                *argmax = j + __builtin_ctz((unsigned)equal);                          \
                break;                                                                 \
            }                                                                          \
        }                                                                              \
        return (double)m;                                                              \
    }
    XF_ROW_SCAN(xf_row_max_f32, float, __m512, 16, __mmask16, _mm512_set1_ps, _mm512_loadu_ps,
                _mm512_mask_loadu_ps, _mm512_cmp_ps_mask, _mm512_max_ps, _mm512_reduce_max_ps)
    XF_ROW_SCAN(xf_row_max_f64, double, __m512d, 8, __mmask8, _mm512_set1_pd, _mm512_loadu_pd,
                _mm512_mask_loadu_pd, _mm512_cmp_pd_mask, _mm512_max_pd, _mm512_reduce_max_pd)

    /* The sum of e[0..k) but e[skip], in vector lanes and a final tree (a scalar
       sum of a short row is one chain of dependent adds, ~4 cycles per entry). */
    static inline double xf_row_sum_except(const double* e, Py_ssize_t k, Py_ssize_t skip) {
        __m512d total = _mm512_setzero_pd();
        Py_ssize_t j;
        for (j = 0; j < k; j += 8) {
            __mmask8 take = k - j >= 8 ? (__mmask8)0xFF : (__mmask8)((1u << (k - j)) - 1u);
            if (skip >= j && skip < j + 8)
                take &= (__mmask8)~(1u << (skip - j));
            total = _mm512_add_pd(total, _mm512_maskz_loadu_pd(take, e + j));
        }
        return _mm512_reduce_add_pd(total);
    }
    /* softmax cross-entropy of 16 float32 rows across lanes (uses the e^x tables above) */
    #include "_softmax_rows.h"
    #else
    #define XF_AVX512_EXP 0
    #define XF_SOFTMAX_ROWS_MAX_K 0
    /* Never called: the kernels test XF_AVX512_EXP, a compile-time constant.
       They fill out, so that the compiler sees no uninitialised reads. */
    static inline void xf_exp_nonpositive_f64(const double* x, double* out, Py_ssize_t n,
                                              int negate_abs) {
        Py_ssize_t i;
        (void)x; (void)negate_abs;
        for (i = 0; i < n; i++)
            out[i] = 0.0;
    }
    static inline void xf_sigmoid_f64(const double* x, double* out, Py_ssize_t n) {
        xf_exp_nonpositive_f64(x, out, n, 0);
    }
    static inline void xf_sigmoid_f32_array(const float* x, float* out, Py_ssize_t n) {
        Py_ssize_t i;
        (void)x;
        for (i = 0; i < n; i++)
            out[i] = 0.0f;
    }
    static inline void xf_log_sigmoid_f32_array(const float* x, float* out, Py_ssize_t n) {
        xf_sigmoid_f32_array(x, out, n);
    }
    static inline void xf_softplus_f32_array(const float* x, float* out, Py_ssize_t n) {
        xf_sigmoid_f32_array(x, out, n);
    }
    static inline void xf_bce_block_f32(const float* z, const float* y, Py_ssize_t n,
                                        float* losses, float* positive, float* negative,
                                        float* grad, float scale_hi, float scale_lo,
                                        int* bad, int* soft) {
        Py_ssize_t i;
        (void)z; (void)y; (void)positive; (void)negative; (void)grad; (void)scale_hi;
        (void)scale_lo;
        for (i = 0; i < n; i++)
            losses[i] = 0.0f;
        *bad = 1;
        *soft = 1;
    }
    static inline double xf_sum16_f32(const float* t, Py_ssize_t n) {
        (void)t; (void)n;
        return 0.0;
    }
    static inline double xf_row_max_f32(const float* z, Py_ssize_t k, Py_ssize_t* argmax,
                                        int* has_nan) {
        (void)z; (void)k;
        *argmax = 0;
        *has_nan = 1;
        return 0.0;
    }
    static inline double xf_row_max_f64(const double* z, Py_ssize_t k, Py_ssize_t* argmax,
                                        int* has_nan) {
        (void)z; (void)k;
        *argmax = 0;
        *has_nan = 1;
        return 0.0;
    }
    static inline double xf_row_sum_except(const double* e, Py_ssize_t k, Py_ssize_t skip) {
        (void)e; (void)k; (void)skip;
        return 0.0;
    }
    typedef struct { Py_ssize_t k; } XfSoftmaxPlan;
    static inline void xf_softmax_plan_init(XfSoftmaxPlan* plan, Py_ssize_t k) {
        plan->k = k;
    }
    static inline int xf_softmax_ce_rows16_f32(const XfSoftmaxPlan* plan, const float* z,
                                               const Py_ssize_t* targets, double w,
                                               float* loss_out, double* loss_sum, float* grad,
                                               double grad_scale) {
        (void)plan; (void)z; (void)targets; (void)w; (void)loss_out; (void)loss_sum;
        (void)grad; (void)grad_scale;
        return 0;
    }
    #endif
    """
    const bint AVX512_EXP "XF_AVX512_EXP"
    void exp_nonpositive_array "xf_exp_nonpositive_f64"(const double* x, double* out,
                                                        Py_ssize_t n,
                                                        bint negate_abs) noexcept nogil
    void sigmoid_array "xf_sigmoid_f64"(const double* x, double* out,
                                        Py_ssize_t n) noexcept nogil
    void sigmoid_array_f32 "xf_sigmoid_f32_array"(const float* x, float* out,
                                                  Py_ssize_t n) noexcept nogil
    void log_sigmoid_array_f32 "xf_log_sigmoid_f32_array"(const float* x, float* out,
                                                          Py_ssize_t n) noexcept nogil
    void softplus_array_f32 "xf_softplus_f32_array"(const float* x, float* out,
                                                    Py_ssize_t n) noexcept nogil
    void bce_block_f32 "xf_bce_block_f32"(const float* z, const float* y, Py_ssize_t n,
                                           float* losses, float* positive, float* negative,
                                           float* grad, float scale_hi, float scale_lo,
                                           int* bad, int* soft) noexcept nogil
    double sum16_f32 "xf_sum16_f32"(const float* t, Py_ssize_t n) noexcept nogil
    double row_max_f32 "xf_row_max_f32"(const float* z, Py_ssize_t k, Py_ssize_t* argmax,
                                        int* has_nan) noexcept nogil
    double row_max_f64 "xf_row_max_f64"(const double* z, Py_ssize_t k, Py_ssize_t* argmax,
                                        int* has_nan) noexcept nogil
    double row_sum_except "xf_row_sum_except"(const double* e, Py_ssize_t k,
                                              Py_ssize_t skip) noexcept nogil
    const Py_ssize_t SOFTMAX_ROWS_MAX_K "XF_SOFTMAX_ROWS_MAX_K"
    ctypedef struct SoftmaxPlan "XfSoftmaxPlan":
        pass
    void softmax_plan_init "xf_softmax_plan_init"(SoftmaxPlan* plan, Py_ssize_t k) noexcept nogil
    int softmax_ce_rows16_f32 "xf_softmax_ce_rows16_f32"(
        const SoftmaxPlan* plan, const float* z, const Py_ssize_t* targets, double w,
        float* loss_out, double* loss_sum, float* grad, double grad_scale) noexcept nogil


# --- float32 in float32 ----------------------------------------------------
#
# sigmoid, log_sigmoid and softplus of float32 inputs, computed in float32
# arithmetic (16 lanes per AVX-512 vector instead of 8) to within 1 float32
# ulp.  A float32 result rounded once has an error of 0.5 ulp, so everything
# before that rounding must stay within 0.5 ulp, about 2^-25 relative: finer
# than float32 arithmetic itself (2^-24).  So e^a is carried as an unevaluated
# sum (h + lo) 2^n (relative error ~2^-26.5), 1 + E as d + dl (exact), and the last
# additions and the division use error-free transformations, which need a
# fused multiply-add: kernel sets without FMA (the baseline) compute float32 in
# double instead, as before.  The error analysis is in README.md ("Accuracy"),
# and tools/float32_sweep.py measures every float32 input.
cdef extern from *:
    """
    #include "_inline.h"
    #include <math.h>
    #if defined(__FMA__)
    #define XF_FLOAT32_ARITHMETIC 1
    #else
    #define XF_FLOAT32_ARITHMETIC 0
    #endif
    XF_INLINE uint32_t xf_bits32(float x) { uint32_t u; memcpy(&u, &x, 4); return u; }
    XF_INLINE float xf_from_bits32(uint32_t u) { float x; memcpy(&x, &u, 4); return x; }
    #define XF_F32_SHIFT 12582912.0f                  /* 1.5 * 2^23 */
    #define XF_F32_LN2_HI 0.693147182464599609375f     /* ln 2 rounded to float32 */
    #define XF_F32_LN2_LO -1.904654323148236e-09f      /* ln 2 - XF_F32_LN2_HI, rounded */

    /* e^a for a <= 0 (or nan) as (h + lo) scale, scale = 2^n, h = RN(h + lo).
       a = n ln2 + r with r = a - n LN2_HI exact (an FMA, |r| <= 0.35), and
       e^a = 2^n e^r (1 - n LN2_LO) to 2^-40.  e^r = 1 + r + r^2 q(r), q of
       degree 4 fitted to (e^r - 1 - r) / r^2 on Chebyshev nodes (2^-28
       relative for e^r with these float32 coefficients).  1 + r = h + l
       exactly (Fast2Sum), then lo = l + r^2 q + ..., rounded at its own
       magnitude (below 0.07), and h + lo renormalised by Fast2Sum: the pair is
       within 2^-26.5 of e^r.  scale = 2^(n - n/2) 2^(n/2), both factors normal,
       is exact down to 2^-149; callers apply it last, so that a result in the
       subnormal range is rounded once, there. */
    XF_INLINE void xf_exp_parts_f32(float a, float* h_out, float* lo_out,
                                    float* scale_out) {
        a = a < -104.0f ? -104.0f : a;         /* e^-104 rounds to 0; nan stays */
        float k = fmaf(a, 1.44269502f, XF_F32_SHIFT);
        float n = k - XF_F32_SHIFT;
        float r = fmaf(n, -XF_F32_LN2_HI, a);
        float q = 0.001381461275741458f;
        q = fmaf(q, r, 0.008368710055947304f);
        q = fmaf(q, r, 0.04166838899254799f);
        q = fmaf(q, r, 0.1666652113199234f);
        q = fmaf(q, r, 0.4999999403953552f);
        float h = 1.0f + r;
        float lo = fmaf(r * r, q, r - (h - 1.0f));
        float tail = n * -XF_F32_LN2_LO;              /* |tail| < 3e-7 */
        lo = fmaf(tail, h, fmaf(tail, lo, lo));       /* (h + lo)(1 + tail) */
        float sum = h + lo;
        *lo_out = lo - (sum - h);
        *h_out = sum;
        int32_t ni = (int32_t)(xf_bits32(k) - xf_bits32(XF_F32_SHIFT));
        int32_t n1 = ni >> 1, n2 = ni - n1;
        *scale_out = xf_from_bits32((uint32_t)(n1 + 127) << 23)
                     * xf_from_bits32((uint32_t)(n2 + 127) << 23);
    }

    /* xf_exp_parts_f32(-|x[i]|) for i < n, into h, lo and scale (the AVX2 set's
       float32 log_sigmoid, softplus and BCE; the AVX-512 set has its own loops). */
    static inline void xf_exp_parts_f32_array(const float* x, float* h, float* lo,
                                              float* scale, Py_ssize_t n) {
        Py_ssize_t i;
        for (i = 0; i < n; i++)
            xf_exp_parts_f32(-fabsf(x[i]), &h[i], &lo[i], &scale[i]);
    }

    /* sigmoid: E = e^-|x|; 1 / (1 + E) for x >= 0, E / (1 + E) below.
       D = 1 + E = d + dl exactly (Fast2Sum, plus the tail); i = 1/d rounded and
       res = 1 - i D by FMAs (the division's remainder), so 1/D = i (1 + res) to
       2^-45.  Each branch is rounded once at the end (the negative one before
       the exact scaling by 2^n, or in the subnormal range at it). */
    XF_INLINE void xf_sigmoid_both_f32(float h, float lo, float scale, float* positive,
                                       float* negative) {
        /* σ(|x|) and σ(-|x|), given e^-|x| = (h + lo) scale from xf_exp_parts_f32 */
        float eh = h * scale, el = lo * scale;
        float d = 1.0f + eh;
        float dl = ((1.0f - d) + eh) + el;
        float i = 1.0f / d;
        float res = fmaf(-i, dl, fmaf(-i, d, 1.0f));
        float p = h * i;
        float p_lo = fmaf(h, i, -p);
        *positive = fmaf(i, res, i);
        *negative = (p + fmaf(p, res, fmaf(lo, i, p_lo))) * scale;
    }
    XF_INLINE float xf_sigmoid_f32(float x) {
        float h, lo, scale, positive, negative;
        xf_exp_parts_f32(-fabsf(x), &h, &lo, &scale);
        xf_sigmoid_both_f32(h, lo, scale, &positive, &negative);
        return x >= 0.0f ? positive : negative;
    }

    /* log(1 + f) = f - A for |f| <= sqrt2 - 1: A = f^2/2 - s (f^2/2 + R(s^2)) with
       s = f / (2 + f), |s| <= 0.172, R of degree 3 fitted on Chebyshev nodes
       (2^-30 relative); f - A is fdlibm's form, whose cancellation is harmless. */
    XF_INLINE float xf_log1p_correction_f32(float f) {
        float s = f / (2.0f + f);
        float z = s * s;
        float R = z * fmaf(fmaf(0.29870936274528503f, z, 0.39977574348449707f), z,
                           0.6666677594184875f);
        float half_f2 = 0.5f * f * f;
        return half_f2 - s * (half_f2 + R);
    }

    /* log(1 + E) for E = (h + lo) scale in [0, 1], as T + small.
       E < 2^-10: E - E^2/2 + E^3/3 (to 2^-32), rounded once before the scaling.
       Else 1 + E = d + dl exactly; d = 2^k m, m in [sqrt2/2, sqrt2), f = m - 1
       exact, and log(1 + E) = k ln2 + log1p(f) + (dl / 2^k) / (1 + f), with
       log1p(f) = f - (f^2/2 - s (f^2/2 + R(s^2))), s = f / (2 + f), |s| <=
       0.172, R of degree 3 fitted on Chebyshev nodes (2^-30 relative), and
       1 / (1 + f) by its series to f^4 (it scales dl, below 2^-24).  T = k LN2_HI
       + f is exact; small (below 0.09) holds the rest, rounded at its own
       magnitude. */
    XF_INLINE void xf_log1p_parts_f32(float h, float lo, float scale, float* T,
                                      float* small) {
        float eh = h * scale, el = lo * scale;
        float d = 1.0f + eh;
        float dl = ((1.0f - d) + eh) + el;
        int high = d > 1.41421356f;
        float m = high ? 0.5f * d : d;
        float ml = high ? 0.5f * dl : dl;
        float f = m - 1.0f;
        float A = xf_log1p_correction_f32(f);
        float inv = fmaf(fmaf(fmaf(f - 1.0f, f, 1.0f), f, -1.0f), f, 1.0f);
        int tiny = eh < 0.0009765625f;
        float series = (h + fmaf(h * eh, fmaf(eh, 0.333333343f, -0.5f), lo)) * scale;
        *T = tiny ? series : (high ? f + XF_F32_LN2_HI : f);
        *small = tiny ? 0.0f : ((high ? XF_F32_LN2_LO : 0.0f) + ml * inv) - A;
    }

    /* log x for finite x >= 0 (0 gives -inf, nan stays nan) as T + small, within
       about 2^-26 of |log x| (the entropy kernels form their terms from the pair
       in double).  x = 2^k m with m in [sqrt2/2, sqrt2) read off the bits
       (subnormals scaled by 2^24 first), f = m - 1 exact, and log m = f - A with
       A = f^2/2 - s (f^2/2 + R(s^2)), s = f / (2 + f), as in xf_log1p_parts_f32.
       k ln2 = k LN2_HI16 + k LN2_LO16, LN2_HI16 of 16 bits so that k LN2_HI16 is
       exact (|k| < 256); T = k LN2_HI16 + f rounded, and Fast2Sum (|k LN2_HI16| >=
       ln2 > |f| unless k = 0) gives its error, which goes into small. */
    #define XF_F32_LN2_HI16 0.693145751953125f      /* ln 2 to 16 bits */
    #define XF_F32_LN2_LO16 1.4286068203094173e-06f  /* ln 2 - XF_F32_LN2_HI16, rounded */
    XF_INLINE void xf_log_parts_f32(float x, float* T, float* small) {
        int subnormal = x < 1.17549435e-38f;
        float scaled = subnormal ? x * 16777216.0f : x;          /* 2^24 */
        uint32_t bits = xf_bits32(scaled);
        /* the biased exponent as a float by the 2^23 trick (no int-to-float conversion) */
        float k = xf_from_bits32((bits >> 23) | 0x4B000000u) - 8388735.0f;  /* 2^23 + 127 */
        float m = xf_from_bits32((bits & 0x007FFFFFu) | 0x3F800000u);
        int high = m > 1.41421356f;
        k = subnormal ? k - 24.0f : k;
        k = high ? k + 1.0f : k;
        float f = high ? 0.5f * m - 1.0f : m - 1.0f;
        float A = xf_log1p_correction_f32(f);
        float a = k * XF_F32_LN2_HI16;
        float t = a + f;
        float tail = f - (t - a);
        *T = x == 0.0f ? -INFINITY : (x != x ? x : t);
        *small = x == 0.0f ? 0.0f : (x != x ? x : (tail + k * XF_F32_LN2_LO16) - A);
    }

    /* base + T + small, rounded once: TwoSum of base and T (exact), then the tails. */
    XF_INLINE float xf_add3_f32(float base, float T, float small) {
        float s = base + T;
        float bb = s - base;
        float err = (base - (s - bb)) + (T - bb);
        return s + (err + small);
    }

    /* softplus = max(x, 0) + log(1 + e^-|x|);  log_sigmoid = min(x, 0) - log(1 + e^-|x|),
       from the parts of e^-|x| (xf_exp_parts_f32).  At x = +-inf the sum's error
       term is nan: those return the base. */
    XF_INLINE float xf_softplus_parts_f32(float x, float h, float lo, float scale) {
        float T, small;
        xf_log1p_parts_f32(h, lo, scale, &T, &small);
        float base = x > 0.0f ? x : 0.0f;
        float r = xf_add3_f32(base, T, small);
        return fabsf(x) == INFINITY ? base : r;
    }
    XF_INLINE float xf_log_sigmoid_parts_f32(float x, float h, float lo, float scale) {
        float T, small;
        xf_log1p_parts_f32(h, lo, scale, &T, &small);
        float base = x < 0.0f ? x : 0.0f;
        float r = xf_add3_f32(base, -T, -small);
        return fabsf(x) == INFINITY ? base : r;
    }
    """
    const bint FLOAT32_ARITHMETIC "XF_FLOAT32_ARITHMETIC"
    void exp_parts_f32 "xf_exp_parts_f32"(float a, float* h, float* lo, float* scale) noexcept nogil
    void exp_parts_f32_array "xf_exp_parts_f32_array"(const float* x, float* h, float* lo,
                                                      float* scale, Py_ssize_t n) noexcept nogil
    void log1p_parts_f32 "xf_log1p_parts_f32"(float h, float lo, float scale, float* T,
                                              float* small) noexcept nogil
    float sigmoid_f32 "xf_sigmoid_f32"(float x) noexcept nogil
    void sigmoid_both_f32 "xf_sigmoid_both_f32"(float h, float lo, float scale,
                                                float* positive, float* negative) noexcept nogil
    float add3_f32 "xf_add3_f32"(float base, float T, float small) noexcept nogil
    void log_parts_f32 "xf_log_parts_f32"(float x, float* T, float* small) noexcept nogil
    float softplus_parts_f32 "xf_softplus_parts_f32"(float x, float h, float lo,
                                                     float scale) noexcept nogil
    float log_sigmoid_parts_f32 "xf_log_sigmoid_parts_f32"(float x, float h, float lo,
                                                           float scale) noexcept nogil
