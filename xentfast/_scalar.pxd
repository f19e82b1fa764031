# Layer 1: scalar math, inlined into every loop: in double precision, and
# sigmoid32, float32 in float32 (log_sigmoid and softplus run in blocks, in
# _activations.pyx, from e^-|x|).
#
# float32 kernels without an FMA (the baseline kernel set) call the double
# versions and round once at the end, which keeps them within one float32 ulp.
# Everything here is `noexcept nogil` so the loops never touch the GIL.
from libc.math cimport log, log1p, fabs, fabsf, fmaf, isfinite, INFINITY

from xentfast._vmath cimport (exp_nonpositive, log1p_unit, log_nonnegative, FLOAT32_ARITHMETIC,
                              sigmoid_f32)


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


cdef inline double log_ratio(double p, double q) noexcept nogil:
    # log(p / q) for p, q in [0, 1] without losing digits when p ≈ q:
    # within a factor 2, p - q is exact (Sterbenz) and log1p keeps it;
    # further apart, log(p / q) is accurate unless p / q over- or underflows.
    cdef double r
    if 0.5 * q <= p <= 2.0 * q:
        return log1p((p - q) / q)
    r = p / q
    if r > 2.2250738585072014e-308 and r < INFINITY:
        return log(r)
    return log(p) - log(q)


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


cdef inline float unweighted_linear_term_f32(float z, float y) noexcept nogil:
    # unweighted_linear_term in float32 arithmetic, rounded once: max(z, 0) - y z
    # by one FMA (for the FLOAT32_ARITHMETIC kernel sets, which have one), but
    # c z at z = ±inf (where the FMA's y z - z is nan).
    cdef float c = (<float>1.0 - y) if z >= 0.0 else -y
    cdef float rounded_once = fmaf(-y, z, z if z > 0.0 else <float>0.0)
    return <float>0.0 if c == 0.0 else (c * z if fabsf(z) == INFINITY else rounded_once)


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
