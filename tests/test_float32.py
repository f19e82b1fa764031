"""float32 computed in float32: within 1 float32 ulp of the float64 result.

A dense but bounded part of tools/float32_sweep.py (which runs every float32 in
[-104, 89] and takes minutes): every 257th float32 of the range, every float32
within 4096 ulp of each branch point, and the specials.  The float64 results
are the oracle (2 float64 ulp at most, see test_accuracy.py: 2^-28 of a
float32 ulp).  Runs on whichever kernel set is in use (CI runs all three).
"""
import importlib.util
import os

import numpy as np
import pytest

import xentfast

_TOOL = os.path.join(os.path.dirname(__file__), os.pardir, "tools", "float32_sweep.py")
_spec = importlib.util.spec_from_file_location("float32_sweep", _TOOL)
sweep_tool = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(sweep_tool)

BRANCH_POINTS = [0.0, 0.34657359, 0.5, 1.0, 2.0, 8.0, 14.0, 16.6, 17.3, 86.06, 87.3, 88.7, 103.9]
# Where the AVX-512 log_sigmoid / softplus table switches entry: e^-|x| = (j + 1/2)/16.
BRANCH_POINTS += [float(np.log(32.0 / (2 * j + 1))) for j in range(15)]


def dense_inputs():
    pieces = [sweep_tool.specials()]
    for start, stop in sweep_tool.bit_ranges():
        pieces.append(np.arange(start, stop, 257, dtype=np.uint32).view(np.float32))
    for point in BRANCH_POINTS:
        for sign in (1.0, -1.0):
            center = int(np.array(sign * point, np.float32).view(np.uint32))
            low = max(center - 4096, 0x80000000 if sign < 0 or point == 0 else 0)
            pieces.append(np.arange(low, center + 4096, dtype=np.uint32).view(np.float32))
    return np.concatenate(pieces)


@pytest.fixture(scope="module")
def inputs():
    return dense_inputs()


@pytest.mark.parametrize("name", sweep_tool.FUNCTIONS)
def test_float32_within_one_ulp(name, inputs):
    function = getattr(xentfast, name)
    computed = function(inputs)
    assert computed.dtype == np.float32
    errors = sweep_tool.ulp_errors(computed, function(inputs.astype(np.float64)))
    assert not np.isnan(errors).any(), f"{name}: nan where float64 is not (or the reverse)"
    worst = int(np.argmax(errors))
    assert errors[worst] <= 1.0, f"{name}: {errors[worst]:.3f} ulp at x={inputs[worst]!r}"


def test_bce_with_logits_float32_terms(inputs):
    # The per-element losses and the gradient of BCE with logits in float32,
    # against float64, for targets 0, 1, soft ones on both sides of 1/2 (1 - y is
    # exact above it, rounded below) and random ones.  Unweighted losses are
    # computed in float32 arithmetic, weighted ones and the gradient combined in
    # double from float32 terms.  Losses: within 2 float32 ulp.
    # Gradient (1 - y) σ(z) - y σ(-z): within 2 ulp of its larger term, since
    # for soft targets the two terms cancel where σ(z) = y (targets all 0 or 1
    # take σ(z) or -σ(-z) itself, times the scale as a float32 pair).
    z = inputs[np.isfinite(inputs)][::7]
    z64 = z.astype(np.float64)
    random_targets = np.random.default_rng(7).random(z.size).astype(np.float32)
    binary_targets = (random_targets < 0.5).astype(np.float32)
    for y in (0.0, 1.0, 0.3, 0.7, "random", "binary"):
        targets = {"random": random_targets, "binary": binary_targets}.get(y)
        targets = np.full_like(z, y) if targets is None else targets
        _, grad32 = xentfast.binary_cross_entropy_with_logits(
            z, targets, reduction="none", return_grad=True)
        _, grad64 = xentfast.binary_cross_entropy_with_logits(
            z64, targets.astype(np.float64), reduction="none", return_grad=True)
        for weight in (None, np.full_like(z, 0.75)):
            weighted32 = xentfast.binary_cross_entropy_with_logits(
                z, targets, weight=weight, reduction="none")
            weighted64 = xentfast.binary_cross_entropy_with_logits(
                z64, targets.astype(np.float64),
                weight=None if weight is None else weight.astype(np.float64), reduction="none")
            errors = sweep_tool.ulp_errors(weighted32, weighted64)
            worst = int(np.argmax(errors))
            assert errors[worst] <= 2.0, (
                f"y={y}, weight={weight is not None} loss: {errors[worst]:.3f} ulp "
                f"at z={z[worst]!r}")
        if y == "binary":
            # the mean's scale 1/n as a float32 pair: an n whose 1/n float32 rounds
            # far (its low part matters), among the first n values
            sizes = np.arange(z.size - 4000, z.size)
            rounding = np.abs((1.0 / sizes).astype(np.float32) * sizes - 1.0)
            n = int(sizes[np.argmax(rounding)])
            _, mean32 = xentfast.binary_cross_entropy_with_logits(z[:n], targets[:n],
                                                                  return_grad=True)
            _, mean64 = xentfast.binary_cross_entropy_with_logits(
                z64[:n], targets[:n].astype(np.float64), return_grad=True)
            errors = sweep_tool.ulp_errors(mean32, mean64)
            worst = int(np.argmax(errors))
            assert errors[worst] <= 2.0, f"binary mean grad: {errors[worst]:.3f} ulp at z={z[worst]!r}"
        y64 = targets.astype(np.float64)
        larger_term = np.maximum((1 - y64) * xentfast.sigmoid(z64), y64 * xentfast.sigmoid(-z64))
        errors = sweep_tool.ulp_errors(grad32, grad64) * np.abs(grad64) / np.maximum(
            larger_term, np.finfo(np.float32).tiny)
        errors = np.where(grad32 == grad64, 0.0, np.maximum(errors, 0.0))
        worst = int(np.argmax(errors))
        assert errors[worst] <= 2.0, f"y={y} grad: {errors[worst]:.3f} ulp at z={z[worst]!r}"


def test_bce_with_logits_float32_gradient_of_a_block_with_one_soft_target():
    # On the AVX-512 set a block's gradient for targets 0 and 1 is written in the
    # loss's vector loop, then redone in double if a target of that block turns out
    # soft: one soft target among 0s and 1s (first, inside, last of a 1024-value
    # block) must get (1 - y) σ(z) - y σ(-z), and the block's other entries stay
    # within 2 ulp of float64 on either route.
    rng = np.random.default_rng(11)
    n = 3000
    z = rng.normal(0, 6, n).astype(np.float32)
    for position in (0, 517, 1023, 1024, 2999):
        y = (rng.random(n) < 0.5).astype(np.float32)
        y[position] = 0.375
        for reduction in ("none", "mean"):
            _, grad32 = xentfast.binary_cross_entropy_with_logits(
                z, y, reduction=reduction, return_grad=True)
            _, grad64 = xentfast.binary_cross_entropy_with_logits(
                z.astype(np.float64), y.astype(np.float64), reduction=reduction,
                return_grad=True)
            y64 = y.astype(np.float64)
            larger_term = np.maximum((1 - y64) * xentfast.sigmoid(z.astype(np.float64)),
                                     y64 * xentfast.sigmoid(-z.astype(np.float64)))
            if reduction == "mean":
                larger_term /= n
            errors = sweep_tool.ulp_errors(grad32, grad64) * np.abs(grad64) / np.maximum(
                larger_term, np.finfo(np.float32).tiny)
            errors = np.where(grad32 == grad64, 0.0, errors)
            worst = int(np.argmax(errors))
            assert errors[worst] <= 2.0, (f"soft target at {position}, {reduction}: "
                                          f"{errors[worst]:.3f} ulp at {worst}")


def test_bce_with_logits_float32_weight_lifts_a_flushed_term():
    # e^-|z| of a float32 logit below -103.3 is under float32's smallest subnormal,
    # but a large weight brings the term w σ(z) (and w log(1 + e^-|z|)) back into the
    # normal range: weighted float32 losses must not flush it first (found by the
    # deep hypothesis profile: the gradient was 0 instead of 3.47e-27).
    z = np.array([-103.9, -110.0, -140.0, -103.9, 50.0], np.float32)
    y = np.array([0.0, 0.0, 0.0, 1.0, 1.0], np.float32)
    weight = np.full(5, 2.0 ** 62, np.float32)
    losses, grad = xentfast.binary_cross_entropy_with_logits(
        z, y, weight=weight, reduction="none", return_grad=True)
    exact_losses, exact_grad = xentfast.binary_cross_entropy_with_logits(
        z.astype(np.float64), y.astype(np.float64), weight=weight.astype(np.float64),
        reduction="none", return_grad=True)
    assert losses.dtype == grad.dtype == np.float32
    assert exact_grad[0] > 3e-27 and exact_losses[0] > 3e-27  # the case itself
    for name, got, want in (("loss", losses, exact_losses), ("grad", grad, exact_grad)):
        errors = sweep_tool.ulp_errors(got, want)
        assert errors.max() <= 1.0, f"{name}: {got!r} against {want!r}"


def term_errors(function, p, q):
    """The float32 ulp errors of function(p, q) on rows of one value (each result one
    term), against float64."""
    term32 = function(p[:, None], q[:, None], axis=1)
    term64 = function(p[:, None].astype(np.float64), q[:, None].astype(np.float64), axis=1)
    errors = sweep_tool.ulp_errors(term32, term64)
    assert not np.isnan(errors).any()
    return errors


def random_distributions(rng, rows, k):
    """rows float32 distributions over k outcomes, skewed (uniform values cubed)."""
    P = rng.random((rows, k)) ** 3
    return (P / P.sum(axis=1, keepdims=True)).astype(np.float32)


# The float32 terms -p log q of entropy and cross-entropy, and p log(p / q) of the
# KL divergence: on the AVX-512 set all in float32 arithmetic (_information_f32.h),
# within 0.58 ulp (the final rounding, and up to five roundings of 2^-24 on terms
# below 1/62 of the result; see README.md, "Accuracy"; measured 0.541).  Elsewhere
# -p log q has its log in float32 arithmetic (a pair within about 2^-26) and the
# product in double, within 1 ulp, and KL is computed in double and rounded once.
KERNEL_SET = xentfast.show_config(print_out=False)["kernel set"]
MAX_LOG_TERM_ULP_FLOAT32 = 0.58 if KERNEL_SET == "avx512" else 1.0
MAX_KL_TERM_ULP_FLOAT32 = 0.58 if KERNEL_SET == "avx512" else 0.501


def test_entropy_and_cross_entropy_float32_terms():
    # -p log q: each term within MAX_LOG_TERM_ULP_FLOAT32 of float64, for every
    # 997th float32 in (0, 1], the neighbours of the reductions' switch points and
    # the specials; row sums too.  Switch points: powers of 2 and sqrt(2)/2 times
    # them (the log of the other sets), 3/4 and 3/2 times them, and where the
    # AVX-512 table switches entry, (1 + (j + 1/2)/16) and (1 - (t + 1/2)/32) times them.
    q = np.arange(1, 0x3F800001, 997, dtype=np.uint32).view(np.float32)
    mantissas = np.concatenate([[1.0, np.sqrt(0.5), 0.75, 1.5], 1 + (np.arange(8) + 0.5) / 16,
                                1 - (np.arange(8) + 0.5) / 32])
    switch_points = np.ldexp(mantissas[:, None], np.arange(-149, 1)[None, :]).ravel()
    switch_points = switch_points[(switch_points >= 2.0**-149) & (switch_points <= 1)]
    near = (switch_points.astype(np.float32).view(np.uint32)[:, None]
            + np.arange(-64, 65, dtype=np.int64)[None, :]).astype(np.uint32).view(np.float32)
    q = np.concatenate([q, near.ravel(), np.float32([0.0, 1.0, np.nan])])
    q = q[np.isnan(q) | ((q >= 0) & (q <= 1))]
    rng = np.random.default_rng(3)
    # cross-entropy terms (p = 3/8 and random p), then entropy terms
    for p in (np.full_like(q, 0.375), rng.random(q.size).astype(np.float32), q):
        errors = term_errors(xentfast.cross_entropy, p, q)
        worst = int(np.argmax(errors))
        assert errors[worst] <= MAX_LOG_TERM_ULP_FLOAT32, \
            f"{errors[worst]:.3f} ulp at p={p[worst]!r}, q={q[worst]!r}"
    P, Q = random_distributions(rng, 2000, 10), random_distributions(rng, 2000, 10)
    for name, args in (("entropy", (P,)), ("cross_entropy", (P, Q))):
        r32 = getattr(xentfast, name)(*args, axis=1)
        r64 = getattr(xentfast, name)(*(a.astype(np.float64) for a in args), axis=1)
        assert sweep_tool.ulp_errors(r32, r64).max() <= 1.0, name


def test_kl_divergence_float32_terms():
    # Each term against float64 (2.5 float64 ulp, see test_accuracy.py), at the
    # switch points of the AVX-512 set's log(p / q): p / q = 2^k (1 + f) with the
    # table entry switching at f = (j + 1/2)/16 and -(t + 1/2)/32, and p / q at
    # 1/2 and 2 (where "close" ends), each with its neighbours; p / q near those
    # also 2^-2 to 2^-100 times as large (the far branch), with q over every
    # 999983rd float32 in (0, 1]; random pairs with |f| in [0.012, 0.05], where the
    # steps' rounding errors peak (the top of entry 0, the bottom of entries 1 and
    # 16); the specials; and rows.
    q = np.arange(1, 0x3F800001, 999983, dtype=np.uint32).view(np.float32)
    switches = np.concatenate([(np.arange(15) + 0.5) / 16, -(np.arange(16) + 0.5) / 32,
                               [-0.5, 1.0, 0.0, 2.0**-10, -(2.0**-10)]])
    near = np.arange(-3, 4, dtype=np.int64)
    pairs_p, pairs_q = [], []
    for s in switches:
        for a, b in ((q, (q * (1 + s)).astype(np.float32)), ((q * (1 + s)).astype(np.float32), q)):
            b = ((b.view(np.uint32)[:, None].astype(np.int64) + near).astype(np.uint32)
                 .view(np.float32))
            a = np.repeat(a[:, None], near.size, axis=1)
            for scale in (1.0, 2.0**-2, 2.0**-7, 2.0**-100):
                pairs_p.append((a * np.float32(scale)).ravel())
                pairs_q.append(b.ravel())
                pairs_p.append(b.ravel())
                pairs_q.append((a * np.float32(scale)).ravel())
    rng = np.random.default_rng(5)
    q_band = np.ldexp(rng.uniform(1, 2, 400_000), rng.integers(-40, 0, 400_000)).astype(np.float32)
    f_band = rng.uniform(0.012, 0.05, q_band.size) * rng.choice([-1, 1], q_band.size)
    pairs_p.append((q_band * (1 + f_band)).astype(np.float32))
    pairs_q.append(q_band)
    p = np.concatenate(pairs_p + [np.float32([0, 0, 0.5, 1e-45, 0.5, 1e-45, 1e-45, 1])])
    q = np.concatenate(pairs_q + [np.float32([0, 0.5, 0, 1, 0.5, 1e-45, 3e-45, 1e-45])])
    keep = (p >= 0) & (p <= 1) & (q >= 0) & (q <= 1)
    p, q = p[keep], q[keep]
    errors = term_errors(xentfast.kl_divergence, p, q)
    worst = int(np.argmax(errors))
    assert errors[worst] <= MAX_KL_TERM_ULP_FLOAT32, \
        f"{errors[worst]:.4f} ulp at p={p[worst]!r}, q={q[worst]!r}"
    for k in (10, 1000):
        P, Q = random_distributions(rng, 2000, k), random_distributions(rng, 2000, k)
        r32 = xentfast.kl_divergence(P, Q, axis=1)
        r64 = xentfast.kl_divergence(P.astype(np.float64), Q.astype(np.float64), axis=1)
        assert sweep_tool.ulp_errors(r32, r64).max() <= 1.0, k


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", ["entropy", "cross_entropy", "kl_divergence"])
def test_information_out_of_range_found_anywhere(name, dtype):
    # The check fused into the term loops (vector lanes on the AVX-512 set, masked
    # tails) finds one value outside [0, 1] in p or q at any position of one or
    # several blocks; nan passes (it propagates instead).
    for n in (7, 16, 17, 1024, 3000):
        for position in sorted({0, n // 2, n - 1}):
            for which in ("p", "q") if name != "entropy" else ("p",):
                for value in (-0.5, 1.5, -1e-45, np.nan):
                    p = np.full((1, n), 1 / n, dtype)
                    q = np.full((1, n), 1 / n, dtype)
                    (p if which == "p" else q)[0, position] = value
                    args = (p,) if name == "entropy" else (p, q)
                    if np.isnan(value):
                        assert np.isnan(getattr(xentfast, name)(*args)).all()
                    else:
                        with pytest.raises(ValueError, match="must lie in"):
                            getattr(xentfast, name)(*args)


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_bce_with_logits_float32_loss_same_with_or_without_gradient(inputs, reduction):
    # The loss must not depend on whether the gradient is asked for: on the AVX-512
    # set both come from one vector loop, elsewhere from the same scalar steps.
    z = inputs[np.isfinite(inputs)][::3]
    y = np.random.default_rng(3).random(z.size).astype(np.float32)
    alone = xentfast.binary_cross_entropy_with_logits(z, y, reduction=reduction)
    with_grad, _ = xentfast.binary_cross_entropy_with_logits(
        z, y, reduction=reduction, return_grad=True)
    np.testing.assert_array_equal(alone, with_grad)


def _softmax_rows_cases(rng, k, n):
    """Logits (n, k) float32 and index targets that exercise the float32 softmax
    rows taken sixteen at a time across vector lanes (AVX-512 set, 64 rows or more)."""
    normal = rng.normal(0, 4, (n, k))
    confident = rng.normal(0, 1, (n, k))
    top = np.argmax(confident, axis=1)
    confident[np.arange(n), top] += rng.uniform(10, 80, n)   # loss ~ s, down to 1e-35
    ties = np.round(rng.normal(0, 2, (n, k)))
    large = rng.normal(0, 4, (n, k)) * 1e4
    with_neg_inf = rng.normal(0, 4, (n, k))
    with_neg_inf[::7, 0] = -np.inf
    targets = rng.integers(0, k, n)
    neg_inf_targets = np.maximum(targets, 1)
    neg_inf_targets[::35] = 0            # the target on a -inf entry: loss +inf
    return [("normal", normal, targets), ("confident", confident, top),
            ("ties", ties, targets), ("large", large, targets),
            ("-inf entries", with_neg_inf, neg_inf_targets)]


@pytest.mark.parametrize("k", range(2, 18))
def test_softmax_cross_entropy_float32_rows_in_lanes(k):
    # 16 rows at a time across vector lanes (the AVX-512 set; other sets and k > 16
    # take the row path): every per-row loss and gradient entry within 1 float32
    # ulp of the float64 result (0.5 measured: the arithmetic is in double), with
    # confident rows (a loss of 1e-35 is s, not 0), ties, large logits, -inf
    # entries, and 7 leftover rows; the reductions agree too.
    rng = np.random.default_rng(k)
    n = 16 * 12 + 7
    for name, logits, targets in _softmax_rows_cases(rng, k, n):
        z32 = logits.astype(np.float32)
        z64 = z32.astype(np.float64)
        losses, grad = xentfast.softmax_cross_entropy(z32, targets, reduction="none",
                                                      return_grad=True)
        exact_losses, exact_grad = xentfast.softmax_cross_entropy(
            z64, targets, reduction="none", return_grad=True)
        assert losses.dtype == grad.dtype == np.float32
        for what, got, want in (("loss", losses, exact_losses), ("grad", grad, exact_grad)):
            errors = sweep_tool.ulp_errors(got, want)
            worst = np.unravel_index(int(np.argmax(errors)), errors.shape)
            assert errors[worst] <= 1.0, f"k={k} {name} {what}: {errors[worst]:.3f} ulp at {worst}"
        for reduction in ("mean", "sum"):
            total = xentfast.softmax_cross_entropy(z32, targets, reduction=reduction)
            exact = xentfast.softmax_cross_entropy(z64, targets, reduction=reduction)
            assert sweep_tool.ulp_errors(np.float32(total), np.float64(exact)).max() <= 1.0, (
                f"k={k} {name} {reduction}")


@pytest.mark.parametrize("k", [3, 10])
def test_softmax_cross_entropy_float32_rows_in_lanes_leave_special_rows(k):
    # A group of 16 rows holding a nan, a +inf (one or two), an all -inf row or an
    # ignored or bad target goes to the row path: the same results as float64, and
    # a bad index still raises.
    rng = np.random.default_rng(3)
    n = 16 * 8
    z = rng.normal(0, 3, (n, k)).astype(np.float32)
    targets = rng.integers(0, k, n)
    z[5, 1] = np.nan
    z[21, 0] = np.inf
    z[40, :2] = np.inf
    z[70, :] = -np.inf
    targets[90] = -100
    for ignore_index in (None, -100):
        if ignore_index is None:
            with pytest.raises(ValueError, match="found -100"):
                xentfast.softmax_cross_entropy(z, targets)
            bad = targets.copy()
            bad[100] = k                      # a bad index inside a group of finite rows
            for reduction in ("none", "mean", "sum"):
                with pytest.raises(ValueError, match=f"found {k}"):
                    xentfast.softmax_cross_entropy(z, bad, reduction=reduction,
                                                   return_grad=True, ignore_index=-100)
            continue
        for reduction in ("mean", "sum"):
            # a group the lanes decline is summed once, by the row path
            got = xentfast.softmax_cross_entropy(z, targets, reduction=reduction,
                                                 ignore_index=ignore_index)
            want = xentfast.softmax_cross_entropy(z.astype(np.float64), targets,
                                                  reduction=reduction, ignore_index=ignore_index)
            assert np.isnan(got) and np.isnan(want)   # the nan row
            finite = np.isfinite(z).all(axis=1) & (targets >= 0)
            got = xentfast.softmax_cross_entropy(z[finite], targets[finite], reduction=reduction)
            want = xentfast.softmax_cross_entropy(z[finite].astype(np.float64), targets[finite],
                                                  reduction=reduction)
            assert sweep_tool.ulp_errors(np.float32(got), np.float64(want)).max() <= 1.0
        losses, grad = xentfast.softmax_cross_entropy(
            z, targets, reduction="none", return_grad=True, ignore_index=ignore_index)
        exact_losses, exact_grad = xentfast.softmax_cross_entropy(
            z.astype(np.float64), targets, reduction="none", return_grad=True,
            ignore_index=ignore_index)
        np.testing.assert_array_equal(np.isnan(losses), np.isnan(exact_losses))
        np.testing.assert_array_equal(np.isnan(grad), np.isnan(exact_grad))
        finite = np.isfinite(exact_losses)
        assert sweep_tool.ulp_errors(losses[finite], exact_losses[finite]).max() <= 1.0
        assert np.array_equal(losses[~finite], exact_losses[~finite].astype(np.float32),
                              equal_nan=True)
        ok = np.isfinite(exact_grad)
        assert sweep_tool.ulp_errors(grad[ok], exact_grad[ok]).max() <= 1.0
        assert losses[90] == 0 and not grad[90].any()
