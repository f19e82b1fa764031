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
    #include <stdint.h>
    #include <string.h>
    /* Bit casts between double and uint64; memcpy compiles to a register move. */
    static inline uint64_t xf_bits(double x) { uint64_t u; memcpy(&u, &x, 8); return u; }
    static inline double xf_from_bits(uint64_t u) { double x; memcpy(&x, &u, 8); return x; }
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
