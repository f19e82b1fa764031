"""The fused logistic / softmax regression kernel and the solvers."""
import numpy as np
import pytest

import xentfast
from xentfast import linear_model, reference


def make_problem(n_samples, n_features, n_classes, seed=0, soft=False):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_samples, n_features)) * rng.uniform(0.5, 3, n_features)
    if n_classes == 1:
        y = rng.random(n_samples) if soft else (rng.random(n_samples) < 0.4).astype(float)
        w = rng.normal(size=n_features + 1)
    else:
        y = rng.integers(0, n_classes, n_samples)
        w = rng.normal(size=(n_classes, n_features + 1))
    return X, y, w


def without_intercept(w):
    return w[..., :-1]


LAYOUTS = {
    "C": lambda X: X,
    "F": np.asfortranarray,
    "strided": lambda X: np.repeat(X, 2, axis=0)[::2],
}


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("n_classes", [1, 4], ids=["binary", "multinomial"])
@pytest.mark.parametrize("n_samples", [1, 70, 3000])
def test_against_reference(n_samples, n_classes, fit_intercept, layout):
    X, y, w = make_problem(n_samples, 7, n_classes, soft=True)
    if not fit_intercept:
        w = without_intercept(w)
    sw = np.random.default_rng(1).uniform(0, 3, n_samples)
    X_in = LAYOUTS[layout](X)
    X_before, w_before = X_in.copy(), w.copy()
    loss, grad = linear_model.logistic_loss_and_grad(
        w, X_in, y, sample_weight=sw, alpha=0.3, fit_intercept=fit_intercept)
    ref_loss, ref_grad = reference.logistic_loss_and_grad(
        w, X, y, sample_weight=sw, alpha=0.3, fit_intercept=fit_intercept)
    assert grad.shape == w.shape
    np.testing.assert_allclose(loss, ref_loss, rtol=1e-13)
    np.testing.assert_allclose(grad, ref_grad, rtol=1e-12, atol=1e-14)
    np.testing.assert_array_equal(X_in, X_before)
    np.testing.assert_array_equal(w, w_before)


@pytest.mark.parametrize("n_classes", [1, 3], ids=["binary", "multinomial"])
def test_gradient_against_finite_differences(n_classes):
    X, y, w = make_problem(200, 5, n_classes, seed=2)
    sw = np.random.default_rng(3).integers(1, 4, 200).astype(float)

    def f(params):
        return linear_model.logistic_loss_and_grad(params, X, y, sample_weight=sw, alpha=0.2)[0]

    _, grad = linear_model.logistic_loss_and_grad(w, X, y, sample_weight=sw, alpha=0.2)
    h = 1e-3
    numeric = np.zeros_like(w)
    for index in np.ndindex(w.shape):
        e = np.zeros_like(w)
        e[index] = h
        numeric[index] = (-f(w + 2 * e) + 8 * f(w + e) - 8 * f(w - e) + f(w - 2 * e)) / (12 * h)
    np.testing.assert_allclose(grad, numeric, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("n_classes", [1, 3], ids=["binary", "multinomial"])
def test_float32_X_matches_float64(n_classes):
    X, y, w = make_problem(5000, 12, n_classes, seed=4)
    X32 = X.astype(np.float32)
    loss32, grad32 = linear_model.logistic_loss_and_grad(w, X32, y)
    loss64, grad64 = linear_model.logistic_loss_and_grad(w, X32.astype(np.float64), y)
    # Same data, float64 accumulation: only the summation differs.
    np.testing.assert_allclose(loss32, loss64, rtol=1e-12)
    np.testing.assert_allclose(grad32, grad64, rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("n_classes", [1, 3], ids=["binary", "multinomial"])
def test_thread_counts_agree(n_classes):
    X, y, w = make_problem(40_000, 8, n_classes, seed=5)
    before = xentfast.get_num_threads()
    try:
        xentfast.set_num_threads(1)
        one = linear_model.logistic_loss_and_grad(w, X, y, alpha=0.1)
        xentfast.set_num_threads(2)
        two = linear_model.logistic_loss_and_grad(w, X, y, alpha=0.1)
    finally:
        xentfast.set_num_threads(before)
    # Fixed chunks added in a fixed order: identical, not merely close.
    assert one[0] == two[0]
    np.testing.assert_array_equal(one[1], two[1])


def test_extreme_logits_stay_finite():
    X, y, w = make_problem(50, 3, 1, seed=6)
    loss, grad = linear_model.logistic_loss_and_grad(w * 1e4, X, y)
    ref_loss, ref_grad = reference.logistic_loss_and_grad(w * 1e4, X, y)
    assert np.isfinite(loss) and np.isfinite(grad).all()
    np.testing.assert_allclose(loss, ref_loss, rtol=1e-12)
    np.testing.assert_allclose(grad, ref_grad, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("scale", [1.0, 1e3], ids=["plain", "extreme-logits"])
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n_samples, n_features", [(37, 8), (1000, 13), (203, 32), (96, 33)])
def test_binary_row_blocks_against_reference(n_samples, n_features, dtype, weighted, scale):
    # A binary pass over a C-ordered X runs in blocks of rows (_binary_rows.h on
    # AVX-512, binary_row_blocks otherwise), the last few rows in tiles: sizes
    # that leave a remainder of rows and of columns (d mod 8), with and without
    # an intercept, weights, and logits of about ±1e4.
    X, y, w = make_problem(n_samples, n_features, 1, seed=n_features, soft=True)
    X = X.astype(dtype)
    sw = np.random.default_rng(2).uniform(0, 3, n_samples) if weighted else None
    for params in (w * scale, without_intercept(w) * scale):
        fit_intercept = params.size == n_features + 1
        loss, grad = linear_model.logistic_loss_and_grad(
            params, X, y, sample_weight=sw, alpha=0.2, fit_intercept=fit_intercept)
        ref_loss, ref_grad = reference.logistic_loss_and_grad(
            params, X.astype(np.float64), y, sample_weight=sw, alpha=0.2,
            fit_intercept=fit_intercept)
        assert np.isfinite(loss) and np.isfinite(grad).all()
        np.testing.assert_allclose(loss, ref_loss, rtol=1e-13)
        np.testing.assert_allclose(grad, ref_grad, rtol=1e-12,
                                   atol=1e-14 * np.abs(ref_grad).max())


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_sgd_mini_batches_agree_across_layouts(dtype):
    # Mini-batches of a C-ordered X go through the row blocks, those of a
    # Fortran-ordered X through gathered column tiles: the same batches, the
    # same steps, so the same coefficients up to the order of the sums.
    rng = np.random.default_rng(10)
    X = rng.normal(size=(3000, 19)).astype(dtype)
    y = (rng.random(3000) < 0.3).astype(float)
    fits = [linear_model.fit_logistic(linear_model._prepare_X(layout(X)), y, 1, alpha=0.01,
                                      solver="sgd", max_iter=3, tol=0.0, batch_size=100,
                                      random_state=4)
            for layout in (np.ascontiguousarray, np.asfortranarray)]
    np.testing.assert_allclose(fits[0].coef, fits[1].coef, rtol=1e-10, atol=1e-13)
    assert not np.array_equal(fits[0].coef, 0.0)


@pytest.mark.parametrize("implementation", [xentfast, reference], ids=["kernel", "reference"])
def test_confident_multinomial_loss_and_residuals_keep_their_digits(implementation):
    # Every sample's own class leads by 40: softmax of that class is 1/(1 + r) with
    # r = 2 e^-40 < 2^-53, which rounds to 1.  The loss log(1 + r) and the residual
    # p - 1 = -r / (1 + r) must come from r (they were 0 when formed from 1 + r).
    X = np.eye(3)
    y = np.array([0, 1, 2])
    w = np.hstack([40.0 * np.eye(3), np.zeros((3, 1))])
    loss, grad = implementation.logistic_loss_and_grad(w, X, y)
    r = 2.0 * np.exp(-40.0)
    assert loss == pytest.approx(np.log1p(r), rel=1e-14)
    own = -r / (1.0 + r) / 3.0
    other = np.exp(-40.0) / (1.0 + r) / 3.0
    expected_coef = np.where(np.eye(3, dtype=bool), own, other)
    np.testing.assert_allclose(grad[:, :3], expected_coef, rtol=1e-14)
    # the intercept's entry, Σ residuals of a class, is 0 exactly here
    np.testing.assert_allclose(grad[:, 3], 0.0, atol=1e-30)


@pytest.mark.parametrize("n_classes", [1, 3], ids=["binary", "multinomial"])
def test_fixed_step_gd_reproduces_reference_iterates(n_classes):
    X, y, w = make_problem(300, 6, n_classes, seed=7)
    X_checked = linear_model._prepare_X(X)
    targets = y if n_classes == 1 else y.astype(np.intp)
    result = linear_model.fit_logistic(X_checked, targets, n_classes, alpha=0.05, solver="gd",
                                       learning_rate=0.5, max_iter=40, tol=0.0)
    w0 = np.zeros_like(w)
    ref_w, ref_losses = reference.logistic_gradient_descent(w0, X, y, step=0.5, n_iter=40,
                                                            alpha=0.05)
    assert result.n_iter == 40
    np.testing.assert_allclose(result.coef.reshape(w.shape), ref_w, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(result.loss_curve, ref_losses, rtol=1e-10)


@pytest.mark.parametrize("solver", ["lbfgs", "gd", "nesterov"])
@pytest.mark.parametrize("n_classes", [1, 3], ids=["binary", "multinomial"])
def test_solvers_reach_the_minimum(solver, n_classes):
    X, y, _ = make_problem(400, 5, n_classes, seed=8)
    targets = y if n_classes == 1 else y.astype(np.intp)
    result = linear_model.fit_logistic(linear_model._prepare_X(X), targets, n_classes,
                                       alpha=0.1, solver=solver, max_iter=5000, tol=1e-9)
    assert result.converged
    _, grad = linear_model.logistic_loss_and_grad(result.coef.reshape(-1) if n_classes == 1
                                                  else result.coef, X, y, alpha=0.1)
    assert np.max(np.abs(grad)) <= 1e-9
    assert np.all(np.diff(result.loss_curve) <= 1e-15) or solver == "nesterov"


def test_sgd_nears_the_minimum_and_is_reproducible():
    rng = np.random.default_rng(9)
    X = rng.normal(size=(2000, 5))
    y = (rng.random(2000) < xentfast.sigmoid(X @ rng.normal(size=5))).astype(float)
    fits = [linear_model.fit_logistic(linear_model._prepare_X(X), y, 1, alpha=0.01,
                                      solver="sgd", max_iter=30, tol=1e-6, batch_size=64,
                                      random_state=3) for _ in range(2)]
    np.testing.assert_array_equal(fits[0].coef, fits[1].coef)
    best = linear_model.fit_logistic(linear_model._prepare_X(X), y, 1, alpha=0.01).loss_curve[-1]
    reached = linear_model.logistic_loss_and_grad(fits[0].coef[0], X, y, alpha=0.01)[0]
    assert best <= reached <= best * 1.01 and reached < 0.9 * np.log(2)


@pytest.mark.parametrize("bad_X, message", [
    (np.array([[1.0, np.nan], [0.0, 1.0]]), "nan or inf"),
    (np.array([[1.0, np.inf], [0.0, 1.0]]), "nan or inf"),
    (np.ones(3), "2-D"),
    (np.ones((0, 2)), r"0 sample\(s\)"),
    (np.ones((2, 2), dtype=complex), "real numbers"),
])
def test_bad_X(bad_X, message):
    w = np.zeros(bad_X.shape[-1] + 1) if bad_X.ndim == 2 else np.zeros(2)
    with pytest.raises(ValueError, match=message):
        linear_model.logistic_loss_and_grad(w, bad_X, np.zeros(len(bad_X)))


@pytest.mark.parametrize("kwargs, message", [
    ({"w": np.zeros(3)}, r"shape \(4,\)"),
    ({"w": np.zeros((3, 5))}, r"shape \(k >= 2, 4\)"),
    ({"w": np.zeros((1, 4))}, r"k >= 2"),
    ({"y": np.zeros(4)}, r"y must have shape \(5,\)"),
    ({"y": np.full(5, 1.5)}, r"y must lie in \[0, 1\]"),
    ({"sample_weight": -np.ones(5)}, "non-negative"),
    ({"sample_weight": np.zeros(5)}, "zero everywhere"),
    ({"sample_weight": np.ones(4)}, r"sample_weight must have shape \(5,\)"),
    ({"alpha": -1.0}, "alpha"),
])
def test_bad_arguments(kwargs, message):
    arguments = {"w": np.zeros(4), "X": np.ones((5, 3)), "y": np.zeros(5)}
    arguments.update(kwargs)
    with pytest.raises(ValueError, match=message):
        linear_model.logistic_loss_and_grad(**arguments)


def test_bad_class_labels():
    with pytest.raises(ValueError, match=r"class indices in \[0, 3\)"):
        linear_model.logistic_loss_and_grad(np.zeros((3, 4)), np.ones((5, 3)), [0, 1, 2, 3, 0])


def test_unknown_solver():
    with pytest.raises(ValueError, match="solver must be one of"):
        linear_model.fit_logistic(np.ones((4, 2)), np.zeros(4), 1, solver="cholesky")
