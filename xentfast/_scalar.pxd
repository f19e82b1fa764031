# Layer 1: scalar math, inlined into every loop: in double precision, and
# sigmoid32, float32 in float32 (log_sigmoid and softplus run in blocks, in
# _activations.pyx, from e^-|x|).
#
# float32 kernels without an FMA (the baseline kernel set) call the double
# versions and round once at the end, which keeps them within one float32 ulp.
# Everything here is `noexcept nogil` so the loops never touch the GIL.
from libc.math cimport fabs, fabsf, fmaf, isfinite, INFINITY
from libc.stdint cimport uint64_t

from xentfast._vmath cimport (exp_nonpositive, log1p_unit, log_nonnegative, log1p_from_parts,
                              xf_bits, xf_from_bits, FLOAT32_ARITHMETIC, sigmoid_f32,
                              add3_f32)


cdef inline double log_sigmoid_from_exp(double x, double e) noexcept nogil:
    # log σ(x) = min(x, 0) - log(1 + e^-|x|), given e = e^-|x|: no overflow, no
    # cancellation.  (A plain comparison, not fmin, so that nan propagates.)
    return (x if x < 0.0 else 0.0) - log1p_unit(e)


cdef inline double softplus_from_exp(double x, double e) noexcept nogil:
    # log(1 + e^x) = max(x, 0) + log(1 + e^-|x|), given e = e^-|x|.
    return (x if x > 0.0 else 0.0) + log1p_unit(e)


cdef inline double sigmoid(double x) noexcept nogil:
    # 1 / (1 + e^-x) for x >= 0, e^x / (1 + e^x) below: e^-|x| never overflows,
    # and the branch is a select of the numerator, so the loop vectorises.
    cdef double e = exp_nonpositive(-fabs(x))
    return (1.0 if x >= 0.0 else e) / (1.0 + e)


cdef inline float sigmoid32(float x) noexcept nogil:
    # FLOAT32_ARITHMETIC is a compile-time constant: one branch is compiled away.
    if FLOAT32_ARITHMETIC:
        return sigmoid_f32(x)
    return <float>sigmoid(x)


cdef inline double xlogy(double x, double y) noexcept nogil:
    # x log y for y in [0, 1], with 0 log y = 0 for every y, including 0.
    # A select, not a branch, so that the loops calling it vectorise.
    return 0.0 if x == 0.0 else x * log_nonnegative(y)


cdef inline double xlog1my(double x, double y) noexcept nogil:
    # x log(1 - y) for y in [0, 1], with 0 log(1 - y) = 0.  1 - y = hi + lo
    # exactly (Fast2Sum), and log(1 - y) = log(hi) + log(1 + lo/hi), where
    # |lo/hi| < 2^-53 makes the second term lo/hi: accurate for tiny y too,
    # and built from selects and log_nonnegative, so the loops calling it vectorise.
    cdef double hi = 1.0 - y
    cdef double lo = (1.0 - hi) - y
    cdef double correction = lo / hi if hi != 0.0 else 0.0
    return 0.0 if x == 0.0 else x * (log_nonnegative(hi) + correction)


cdef inline double log_ratio_scaled(double p, double q, double scale_p, double scale_q,
                                    double shift) noexcept nogil:
    # log(p / q) = log((p scale_p) / (q scale_q)) - shift ln2, for p, q in [0, 1],
    # accurate when p ≈ q, and branch-free (selects only, one division before the
    # log's own) so that the KL loop vectorises.  scale_p / scale_q = 2^shift must
    # keep p scale_p / (q scale_q) normal where p, q are not within a factor 2.
    # Both cases below write the ratio as 2^k (1 + f) with f exact and
    # |f / (2 + f)| <= 1/5, the range of log1p_from_parts:
    # - within a factor 2 ("close"), p - q is exact (Sterbenz) and d = (p - q) / q
    #   is rounded once; 1 + d itself is not formed (it would lose a small d's
    #   digits): f = d, or 1 + 2d (k = -1) or (d - 1) / 2 (k = 1), each exact.
    # - further apart, r = 2^e m is read off the bits, as in log_nonnegative.
    # q = 0 < p gives +inf; nan propagates.  p = 0 is the caller's (0 log 0 = 0).
    cdef bint close = (0.5 * q <= p) & (p <= 2.0 * q)
    cdef double ratio = (p - q if close else p * scale_p) / (q if close else q * scale_q)
    # far apart: ratio = 2^e m, m in [1, 2), e by the 2^52 trick (no int conversion)
    cdef uint64_t bits = xf_bits(ratio)
    cdef double e = xf_from_bits((bits >> 52) | 0x4330000000000000ULL) - 4503599627371519.0
    cdef double m = xf_from_bits((bits & 0x000FFFFFFFFFFFFFULL) | 0x3FF0000000000000ULL)
    cdef bint high = m > 1.4142135623730951
    cdef double k_far = (e + (1.0 if high else 0.0)) - shift
    cdef double f_far = m * 0.5 - 1.0 if high else m - 1.0
    # close: ratio = d in [-0.6, 1] (below -0.5 only for subnormal q, where 0.5 q
    # rounds); the splits at d = -1/3 and 1/2 keep |f / (2 + f)| <= 1/5, and
    # there 1 + 2d and d - 1 are exact (Sterbenz).  f = d as far down as
    # possible: k = -1 cancels against log(1 + f).
    cdef bint low = ratio < -0.3333333333333333
    cdef bint above = ratio >= 0.5
    cdef double k_close = -1.0 if low else (1.0 if above else 0.0)
    cdef double f_close = (2.0 * ratio + 1.0) if low else ((ratio - 1.0) * 0.5 if above else ratio)
    cdef double k = k_close if close else k_far
    cdef double f = f_close if close else f_far
    cdef double result = log1p_from_parts(k, f, f / (2.0 + f))
    result = INFINITY if q == 0.0 else result
    return ratio if ratio != ratio else result


cdef inline bint has_subnormal(double p, double q) noexcept nogil:
    # Whether p or q is subnormal (not 0): only then can p / q over- or
    # underflow, for p, q in [0, 1].  Comparisons and bit operations, no branch.
    return (((p < 2.2250738585072014e-308) & (p != 0.0))
            | ((q < 2.2250738585072014e-308) & (q != 0.0)))


cdef inline double kl_term_normal(double p, double q) noexcept nogil:
    # p log(p / q), with 0 log(0 / q) = 0 for every q (also 0 and nan): a select.
    # Valid where has_subnormal(p, q) is false (p / q cannot over- or underflow);
    # kl_term is valid everywhere.  The unit scales and zero shift fold away.
    return 0.0 if p == 0.0 else p * log_ratio_scaled(p, q, 1.0, 1.0, 0.0)


cdef inline double kl_term(double p, double q) noexcept nogil:
    # p log(p / q) for any p, q in [0, 1]: a subnormal p or q is scaled by 2^64,
    # and then p / q is normal (or 0 or inf).  A few more operations than
    # kl_term_normal, which the loop uses until has_subnormal says otherwise.
    cdef bint p_subnormal = p < 2.2250738585072014e-308
    cdef bint q_subnormal = q < 2.2250738585072014e-308
    cdef double shift = (64.0 if p_subnormal else 0.0) - (64.0 if q_subnormal else 0.0)
    return 0.0 if p == 0.0 else p * log_ratio_scaled(
        p, q, 18446744073709551616.0 if p_subnormal else 1.0,                    # 2^64
        18446744073709551616.0 if q_subnormal else 1.0, shift)


cdef inline void compensated_add(double* total, double* compensation, double value) noexcept nogil:
    # Neumaier's compensated summation step.
    cdef double t = total[0] + value
    if fabs(total[0]) >= fabs(value):
        compensation[0] += (total[0] - t) + value
    else:
        compensation[0] += (value - t) + total[0]
    total[0] = t


cdef inline double compensated_result(double total, double compensation) noexcept nogil:
    # An infinite or nan total has a meaningless (nan) compensation.
    if isfinite(total):
        return total + compensation
    return total


cdef inline double unweighted_linear_term(double z, double y) noexcept nogil:
    # The BCE-with-logits loss less log(1 + e^-|z|): max(z, 0) - y z, formed as
    # (1 - y) z for z >= 0 and -y z below, where nothing cancels (1 - y is exact
    # for y >= 1/2); 0 where that coefficient is 0 (z = +inf with y = 1, z = -inf
    # with y = 0).  A nan z gives nan, or 0 with y = 0 (log(1 + e^-|z|) is nan then).
    cdef double c = (1.0 - y) if z >= 0.0 else -y
    return c * z if c != 0.0 else 0.0


cdef inline float unweighted_loss_f32(float z, float y, float log_hi,
                                     float log_lo) noexcept nogil:
    # The unweighted BCE-with-logits loss in float32 arithmetic (for the
    # FLOAT32_ARITHMETIC kernel sets, which have an FMA), given log(1 + e^-|z|) as
    # log_hi + log_lo: max(z, 0) - y z by one FMA (rounded once, nonnegative),
    # added to the pair with one rounding (add3_f32).  At z = ±inf the log term is
    # 0, and both the FMA (y z - z) and the exact sum's error term would be nan:
    # the loss is then c z, or 0 where c is 0 (as in unweighted_linear_term).
    cdef float c = (<float>1.0 - y) if z >= 0.0 else -y
    cdef float linear = fmaf(-y, z, z if z > 0.0 else <float>0.0)
    cdef float at_infinity = <float>0.0 if c == 0.0 else c * z
    return at_infinity if fabsf(z) == INFINITY else add3_f32(linear, log_hi, log_lo)


cdef inline double sum16(const double* terms, Py_ssize_t n) noexcept nogil:
    # Sixteen partial sums: they vectorise, and rounding grows with n / 16.
    # Below 16 terms that is a plain sum (the other partial sums stay 0): the
    # short path skips their setup and reduction, which cost more than a short
    # row's terms.
    cdef double a[16]
    cdef double total
    cdef Py_ssize_t i = 0, q
    if n < 16:
        total = 0.0
        for i in range(n):
            total += terms[i]
        return total
    for q in range(16):
        a[q] = 0.0
    while i + 16 <= n:
        for q in range(16):
            a[q] += terms[i + q]
        i += 16
    while i < n:
        a[0] += terms[i]
        i += 1
    for q in range(8):
        a[q] += a[q + 8]
    for q in range(4):
        a[q] += a[q + 4]
    return (a[0] + a[1]) + (a[2] + a[3])
