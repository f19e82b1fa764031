"""Accuracy in ulp against mpmath.

sigmoid, log_sigmoid and softplus: at most 2 ulp in float64 and 1 ulp in
float32 over a dense sweep of [-800, 800], random points, and every branch
point of the stable forms (and their neighbours).  kl_divergence's terms
p log(p / q): within 2.5 ulp in float64, rounded once in float32.  Where the
exact result is subnormal, an absolute error up to the smallest normal number
is accepted.
"""
import math

import mpmath
import numpy as np
import pytest

import xentfast
from xentfast import reference

mpmath.mp.prec = 160

EXACT = {
    "sigmoid": lambda x: 1 / (1 + mpmath.exp(-x)),
    "log_sigmoid": lambda x: -mpmath.log1p(mpmath.exp(-x)),
    "softplus": lambda x: mpmath.log1p(mpmath.exp(x)),
    "binary_entropy": lambda p: -(p * mpmath.log(p) + (1 - p) * mpmath.log1p(-p))
    if 0 < p < 1 else mpmath.mpf(0),
}
MAX_ULP = {np.float64: 2.0, np.float32: 1.0}

# Where the formulas switch branches or libm changes regime (float64 and
# float32 thresholds of log1p(exp(x)), exp's overflow and underflow limits).
BRANCH_POINTS = [0.0, 1.0, 2.0, 8.0, 14.0, 16.6, 18.0, 33.2, 36.7, 37.0, 87.3, 88.7, 103.9,
                 104.0, 709.78, 745.13, 800.0, 1e4]


def sweep(dtype):
    rng = np.random.default_rng(12345)
    points = np.concatenate([
        np.linspace(-800, 800, 16001),
        rng.uniform(-40, 40, 4000),
        rng.standard_normal(2000),
        np.ldexp(1.0, np.arange(-60, 0)),
    ]).astype(dtype)
    finfo = np.finfo(dtype)
    special = np.array(BRANCH_POINTS + [finfo.tiny, finfo.smallest_subnormal, finfo.eps,
                                        float(finfo.max)], dtype=dtype)
    special = np.concatenate([special, -special])
    with np.errstate(over="ignore"):  # the neighbours of ±max include ±inf, on purpose
        neighbours = np.concatenate([np.nextafter(special, dtype(np.inf)),
                                     np.nextafter(special, dtype(-np.inf))])
    return np.unique(np.concatenate([points, special, neighbours]))


def ulp_of(value, finfo):
    """The spacing of floats at a finite, normal ``value`` (also valid at the format's max)."""
    _, exponent = math.frexp(float(value))
    return mpmath.ldexp(1, exponent - finfo.nmant - 1)


def ulp_error(value, exact, dtype):
    """The error of ``value`` in ulp of the ``exact`` (mpmath) result."""
    finfo = np.finfo(dtype)
    tiny = mpmath.mpf(float(finfo.tiny))
    error = abs(mpmath.mpf(value) - exact)
    if abs(exact) < tiny:
        # Subnormal (or zero) exact result: accept an error up to tiny.
        return float(error / tiny)
    rounded = dtype(float(exact))
    if np.isinf(rounded):
        return 0.0 if value == float(rounded) else np.inf
    return float(error / ulp_of(rounded, finfo))


def max_ulp_error(computed, inputs, exact_fn, dtype):
    """Largest error in ulp of ``computed`` (and the input where it occurs)."""
    worst, where = 0.0, None
    for value, x in zip(computed.tolist(), inputs.tolist()):
        ulps = ulp_error(value, exact_fn(mpmath.mpf(x)), dtype)
        if ulps > worst:
            worst, where = ulps, x
    return worst, where


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("name", ["sigmoid", "log_sigmoid", "softplus"])
def test_elementwise_ulp(name, dtype):
    x = sweep(dtype)
    computed = getattr(xentfast, name)(x)
    assert computed.dtype == dtype
    worst, where = max_ulp_error(computed, x, EXACT[name], dtype)
    assert worst <= MAX_ULP[dtype], f"{name}: {worst:.3f} ulp at x={where!r}"


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
def test_binary_entropy_ulp(dtype):
    rng = np.random.default_rng(7)
    p = np.concatenate([np.linspace(0, 1, 4001), rng.uniform(0, 1, 2000),
                        np.ldexp(1.0, np.arange(-120, 0)), 1 - np.ldexp(1.0, np.arange(-52, 0))])
    p = np.unique(p.astype(dtype))
    computed = xentfast.binary_entropy(p)
    worst, where = max_ulp_error(computed, p, EXACT["binary_entropy"], dtype)
    assert worst <= MAX_ULP[dtype] + 1, f"binary_entropy: {worst:.3f} ulp at p={where!r}"


@pytest.mark.parametrize("name,expected", [
    ("sigmoid", [1.0, 0.0, np.nan]),
    ("log_sigmoid", [0.0, -np.inf, np.nan]),
    ("softplus", [np.inf, 0.0, np.nan]),
])
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
def test_elementwise_infinities_and_nan_exact(name, expected, dtype):
    x = np.array([np.inf, -np.inf, np.nan], dtype=dtype)
    np.testing.assert_array_equal(getattr(xentfast, name)(x), np.array(expected, dtype=dtype))


def test_bce_with_logits_per_element_against_mpmath():
    # Extreme logits and soft targets, per element, to 4 ulp of the exact loss.
    z = np.array([-1e4, -800, -40, -5, -1e-10, 0, 1e-10, 5, 40, 800, 1e4])
    for y in (0.0, 0.3, 1.0):
        loss, grad = xentfast.binary_cross_entropy_with_logits(
            z, np.full_like(z, y), reduction="none", return_grad=True)
        for zi, li, gi in zip(z, loss, grad):
            zm, ym = mpmath.mpf(zi), mpmath.mpf(y)
            exact_loss = ym * mpmath.log1p(mpmath.exp(-zm)) + (1 - ym) * mpmath.log1p(mpmath.exp(zm))
            exact_grad = 1 / (1 + mpmath.exp(-zm)) - ym
            assert abs(li - exact_loss) <= 4 * np.spacing(float(exact_loss)) + 1e-300, (zi, y)
            assert abs(gi - exact_grad) <= 4 * np.spacing(abs(float(exact_grad))) + 1e-300, (zi, y)


def test_logsumexp_and_softmax_against_mpmath():
    rng = np.random.default_rng(3)
    rows = np.concatenate([rng.normal(0, 1, (20, 7)), rng.normal(0, 300, (20, 7)),
                           np.array([[1e4, 0, -1e4, 5, 1e4 - 1e-6, 2, 3]])])
    lse = xentfast.logsumexp(rows)
    soft = xentfast.softmax(rows)
    for r, row in enumerate(rows):
        exact_lse = mpmath.log(mpmath.fsum(mpmath.exp(mpmath.mpf(v)) for v in row))
        assert abs(lse[r] - exact_lse) <= 2 * np.spacing(abs(float(exact_lse)))
        for j, v in enumerate(row):
            # exp(z - max) inherits the rounding of z - max: the bound grows with |z - max|.
            exact_p = mpmath.exp(mpmath.mpf(v) - exact_lse)
            shift = abs(v - row.max())
            bound = float(exact_p) * np.finfo(float).eps * (4 + shift) + 2.3e-308
            assert abs(soft[r, j] - exact_p) <= bound, (r, j)


def kl_pairs(dtype):
    """(p, q) in (0, 1] for the terms p log(p / q): magnitudes over the whole range
    (subnormals included), p = q, q 1 to 2^20 ulp from p, ratios at the branch
    points of the kernel's log(p / q) (1/2, 2/3, 3/2, 2) and their neighbours,
    pairs of round values and their neighbours, far apart, and subnormal p or q
    against anything."""
    rng = np.random.default_rng(2024)
    finfo = np.finfo(dtype)

    def magnitudes(n, lowest=finfo.minexp - finfo.nmant):
        return np.ldexp(rng.uniform(1, 2, n), rng.integers(lowest, 0, n)).astype(dtype)

    x = magnitudes(300)
    p, q = [magnitudes(600), x], [magnitudes(600), x]
    for sign in (1, -1):
        x = magnitudes(300, -60)
        k = np.concatenate([np.arange(1, 41), rng.integers(41, 2**20, 260)])
        p.append(x)
        q.append((x * (1 + sign * k * finfo.eps)).astype(dtype))
    x = magnitudes(200, -30)
    for factor in (0.5, 2.0, 0.7, 2 / 3, 1.5, 0.3, 3.0, 1e-3, 1e3, 1.0001, 0.9999):
        y = (x * factor).astype(dtype)
        for z in (y, np.nextafter(y, dtype(0)), np.nextafter(y, dtype(1))):
            p += [x, z]
            q += [z, x]
    grid = np.array([0.1, 0.3, 0.35, 0.5, 0.7, 1.0], dtype)      # round values, neighbours
    grid = np.concatenate([grid, np.nextafter(grid, dtype(0)), np.nextafter(grid, dtype(1))])
    p.append(np.repeat(grid, len(grid)))
    q.append(np.tile(grid, len(grid)))
    subnormal = np.ldexp(rng.uniform(0, 1, 200), finfo.minexp).astype(dtype)
    other = magnitudes(200)
    p += [subnormal, other, subnormal, subnormal, np.ones(100, dtype), other[:100]]
    q += [other, subnormal, subnormal[::-1], subnormal * dtype(1.5), other[:100],
          np.ones(100, dtype)]
    p, q = np.concatenate(p), np.concatenate(q)
    keep = (p > 0) & (q > 0) & (p <= 1) & (q <= 1)
    return p[keep], q[keep]


# float32 terms: on the AVX-512 set in float32 arithmetic, within 0.58 ulp
# (README.md, "Accuracy"); elsewhere computed in double and rounded once.
KERNEL_SET = xentfast.show_config(print_out=False)["kernel set"]
MAX_KL_TERM_ULP = {np.float64: 2.5, np.float32: 0.58 if KERNEL_SET == "avx512" else 0.501}


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
def test_kl_divergence_term_ulp(dtype):
    # Rows of length 1: each result is one term p log(p / q).  Float64 maxima
    # measured: 2.02 ulp with the AVX2 and AVX-512 sets (p / q = 3: the roundings
    # of p / q, of the log and of the product), 2.12 with the baseline (no FMA;
    # p = 0.7, q = 1, each an ulp below).  A row's sum adds the summation error.
    p, q = kl_pairs(dtype)
    computed = xentfast.kl_divergence(p[:, None], q[:, None], axis=1)
    assert computed.dtype == dtype
    worst, where = 0.0, None
    for value, a, b in zip(computed.tolist(), p.tolist(), q.tolist()):
        exact = mpmath.mpf(a) * mpmath.log(mpmath.mpf(a) / mpmath.mpf(b))
        ulps = ulp_error(value, exact, dtype)
        if ulps > worst:
            worst, where = ulps, (a, b)
    assert worst <= MAX_KL_TERM_ULP[dtype], f"kl_divergence: {worst:.3f} ulp at (p, q)={where!r}"


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
def test_kl_divergence_term_special_values(dtype):
    # 0 log(0 / q) = 0 for every q (also 0 and nan), p > 0 against q = 0 is +inf,
    # p = q gives +0, nan propagates: alone, and after a block of ordinary terms.
    tiny = float(np.finfo(dtype).smallest_subnormal)
    p = np.array([0.0, 0.0, 0.0, 0.5, tiny, 0.5, tiny, 1.0, np.nan, np.nan, 0.5], dtype=dtype)
    q = np.array([0.0, np.nan, 0.5, 0.0, 0.0, 0.5, tiny, 1.0, 0.5, 0.0, np.nan], dtype=dtype)
    expected = np.array([0.0, 0.0, 0.0, np.inf, np.inf, 0.0, 0.0, 0.0, np.nan, np.nan, np.nan],
                        dtype=dtype)
    padding = np.full(100, 0.25, dtype=dtype)
    for pp, qq in ((p, q), (np.concatenate([padding, p]), np.concatenate([padding, q]))):
        got = xentfast.kl_divergence(pp[:, None], qq[:, None], axis=1)[-len(p):]
        np.testing.assert_array_equal(got, expected)
        assert not np.signbit(got[~np.isnan(got)]).any()


def _softmax_ce_gradient_exact(row, coefficients):
    """Each entry of A softmax(z) - a (A = Σ a) in mpmath, and the size of the two
    terms it is a difference of, in the form without rounding-sensitive steps: at
    the argmax j*, softmax = 1/(1 + s) and the entry is (A' - a_j* s)/(1 + s), A' =
    Σ_{j != j*} a_j; elsewhere A softmax_j and a_j."""
    z = [mpmath.mpf(float(v)) for v in row]
    a = [mpmath.mpf(float(v)) for v in coefficients]
    top = int(np.argmax(row))
    s = mpmath.fsum(mpmath.exp(v - z[top]) for j, v in enumerate(z) if j != top)
    total = mpmath.fsum(a)
    exact, terms = [], []
    for j, v in enumerate(z):
        p = mpmath.exp(v - z[top]) / (1 + s)
        exact.append(total * p - a[j])
        if j == top:
            terms.append((total - a[j] + a[j] * s) / (1 + s))
        else:
            terms.append(total * p + a[j])
    return exact, terms


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
def test_softmax_cross_entropy_gradient_componentwise_against_mpmath(dtype):
    # A confident row (z_t - z_j > 37) has softmax_t = 1/(1 + s) = 1 in floating
    # point: softmax_t - 1 must come from s, not from that 1 (it gave 0 instead of
    # -4.2e-18 for [40, 0], target 0).  Each gradient entry within a few eps of the
    # terms it is the difference of (their rounding is all that may cancel), for
    # hard, smoothed, class-weighted and probability targets, short and long rows
    # (the bound grows with the shift z_j - max, as for softmax, and with k: A and
    # A' are sums of k coefficients).
    eps = float(np.finfo(dtype).eps)
    long_row = np.zeros(1500)
    long_row[7] = 60.0
    cases = [  # (logits, targets, keyword arguments)
        ([[40.0, 0.0], [0.0, 40.0], [37.5, 1.0], [5.0, -5.0]], [0, 1, 0, 1], {}),
        ([[40.0, 0.0, -3.0], [0.0, 45.0, 1.0]], [0, 1], {"label_smoothing": 0.1}),
        ([[40.0, 0.0, -3.0], [0.0, 45.0, 1.0]], [1, 0],
         {"label_smoothing": 0.1, "class_weight": np.array([1.0, 1e-20, 1.0])}),
        ([[40.0, 0.0, -3.0], [2.0, 45.0, 1.0]], [0, 1],
         {"class_weight": np.array([3.0, 0.5, 1e-3])}),
        ([[40.0, 0.0], [30.0, 0.0]], [[1 - 2**-40, 2**-40], [0.75, 0.25]], {}),
        ([long_row], [7], {}),
        ([long_row], [7], {"label_smoothing": 0.01}),
        # ties (the first maximum is j*), and a class weight whose product with s
        # overflows unless s / (1 + s) is formed first (it gave -inf for -6.7e307)
        ([[3.0, 3.0, 0.0], [0.0, 0.0, 0.0]], [1, 0], {"label_smoothing": 0.2}),
        ([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0]], [0, 0],
         {"class_weight": np.array([1e308, 1.0, 1.0])}),
        ([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0]], [0, 0],
         {"class_weight": np.array([1e308, 1.0, 1.0]), "label_smoothing": 0.3}),
    ]
    for logits, targets, kwargs in cases:
        if dtype == np.float32 and np.max(kwargs.get("class_weight", 0.0)) > 1e38:
            continue  # beyond float32's range
        logits = np.array(logits, dtype)
        targets = np.array(targets, dtype if np.ndim(targets) == 2 else np.intp)
        _, grad = xentfast.softmax_cross_entropy(logits, targets, reduction="sum",
                                                 return_grad=True, **kwargs)
        k = logits.shape[-1]
        smoothing = kwargs.get("label_smoothing", 0.0)
        class_weight = kwargs.get("class_weight", np.ones(k))
        for r, row in enumerate(logits):
            hot = targets[r] if targets.ndim == 2 else np.eye(k)[targets[r]]
            coefficients = class_weight * ((1 - smoothing) * hot.astype(np.float64)
                                           + smoothing / k)
            exact, terms = _softmax_ce_gradient_exact(row, coefficients)
            assert np.isfinite(grad[r]).all(), (kwargs, r, grad[r])
            shift = float(row.max() - row.min())
            for j in range(k):
                bound = eps * (8 + shift + k) * float(terms[j]) + float(np.finfo(dtype).tiny)
                assert abs(grad[r, j] - exact[j]) <= bound, (
                    f"{kwargs} row {r} entry {j}: {grad[r, j]!r} against {float(exact[j])!r}")


def test_softmax_cross_entropy_gradient_of_a_row_with_one_inf():
    # softmax is one-hot at the +inf entry: the gradient is A' there and -a_j
    # elsewhere, with +0 (not -0) where a_j is 0, as the reference gives
    logits = np.array([[np.inf, 0.0, -np.inf]])
    targets = np.array([[0.5, 0.5, 0.0]])
    _, grad = xentfast.softmax_cross_entropy(logits, targets, reduction="sum",
                                             return_grad=True)
    _, expected = reference.softmax_cross_entropy(logits, targets, reduction="sum",
                                                           return_grad=True)
    assert np.array_equal(grad, [[0.5, -0.5, 0.0]])
    assert np.array_equal(np.signbit(grad), np.signbit(expected))
    assert not np.signbit(grad[0, 2])
