"""The Hessian passes, the Newton solvers, and scipy.sparse X (issue 11).

The oracle is ``xentfast.reference``: its Hessian (``logistic_loss_grad_hess``)
and its plain Newton loop (``logistic_newton``), both readable NumPy; the
gradient is also checked against finite differences of the loss, and the
Hessian against finite differences of the gradient.
"""
import contextlib
import warnings

import numpy as np
import pytest

import xentfast
from xentfast import linear_model, reference
from xentfast.logistic_regression import LogisticRegression

sparse = pytest.importorskip("scipy.sparse")


@contextlib.contextmanager
def quiet():
    """ConvergenceWarnings of short runs (gd, sgd) are expected here."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def problem(n_samples, n_features, n_classes, seed=0, density=None):
    """(X dense, y, w, sample_weight); X has exact zeros at 1 - density."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_samples, n_features)) * rng.uniform(0.5, 3, n_features)
    if density is not None:
        X[rng.random(X.shape) > density] = 0.0
    if n_classes == 1:
        y = (rng.random(n_samples) < 0.4).astype(float)
        w = rng.normal(size=n_features + 1)
    else:
        y = rng.integers(0, n_classes, n_samples)
        w = rng.normal(size=(n_classes, n_features + 1))
    return X, y, w, rng.uniform(0.1, 2.0, n_samples)


def objective_of(X, y, n_classes, sample_weight=None, alpha=0.0, fit_intercept=True):
    X = linear_model._prepare_X(X)
    n = X.shape[0]
    targets = (linear_model._binary_targets(y, n) if n_classes == 1
               else linear_model._class_labels(y, n, n_classes))
    objective = linear_model.make_objective(X, targets, n_classes, sample_weight, alpha,
                                            fit_intercept)
    objective.reserve_hessian()
    objective.reserve_curvature()
    return objective


# Every way X can arrive: dense layouts and dtypes, every sparse format and index type.
FORMATS = {
    "C": lambda X: X,
    "F": np.asfortranarray,
    "float32": lambda X: X.astype(np.float32),
    "csr": sparse.csr_matrix,
    "csr_array": sparse.csr_array,
    "csc": sparse.csc_matrix,
    "coo": sparse.coo_array,
    "csr_float32": lambda X: sparse.csr_matrix(X.astype(np.float32)),
    "csr_int64": lambda X: _with_int64_indices(sparse.csr_matrix(X)),
}


def _with_int64_indices(X):
    X.indices = X.indices.astype(np.int64)
    X.indptr = X.indptr.astype(np.int64)
    return X


def _dense64(X):
    return np.asarray(X.toarray() if sparse.issparse(X) else X, dtype=np.float64)


@pytest.mark.parametrize("form", FORMATS)
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("n_classes", [1, 3], ids=["binary", "multinomial"])
def test_hessian_and_products_against_reference(n_classes, fit_intercept, form):
    X, y, w, sw = problem(700, 9, n_classes, density=0.4)
    X = FORMATS[form](X)
    if not fit_intercept:
        w = w[..., :-1]
    objective = objective_of(X, y, n_classes, sw, alpha=0.3, fit_intercept=fit_intercept)
    loss, grad, hess = objective.loss_grad_hess(w)
    ref_loss, ref_grad, ref_hess = reference.logistic_loss_grad_hess(
        w, _dense64(X), y, sample_weight=sw, alpha=0.3, fit_intercept=fit_intercept)
    np.testing.assert_allclose(loss, ref_loss, rtol=1e-13)
    np.testing.assert_allclose(grad, ref_grad.reshape(-1), rtol=1e-12,
                               atol=1e-14 * np.abs(ref_grad).max())
    np.testing.assert_allclose(hess, ref_hess, rtol=1e-12, atol=1e-14 * np.abs(ref_hess).max())
    assert np.array_equal(hess, hess.T)
    v = np.random.default_rng(5).normal(size=w.size)
    np.testing.assert_allclose(objective.hessian_vector(w, v), ref_hess @ v, rtol=1e-11,
                               atol=1e-13 * np.abs(ref_hess @ v).max())


@pytest.mark.parametrize("n_classes", [1, 4], ids=["binary", "multinomial"])
def test_hessian_is_the_derivative_of_the_gradient(n_classes):
    X, y, w, sw = problem(300, 5, n_classes, seed=2)
    objective = objective_of(X, y, n_classes, sw, alpha=0.1)
    w = w.reshape(-1)
    _, _, hess = objective.loss_grad_hess(w)
    h = 1e-5
    for j in range(w.size):
        step = np.zeros_like(w)
        step[j] = h
        gradient = [objective.loss_and_grad(w + m * step)[1] for m in (2, 1, -1, -2)]
        column = (-gradient[0] + 8 * gradient[1] - 8 * gradient[2] + gradient[3]) / (12 * h)
        np.testing.assert_allclose(hess[:, j], column, rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("n_classes", [1, 3], ids=["binary", "multinomial"])
def test_hessian_pass_is_the_same_on_one_and_two_threads(n_classes):
    # Many chunks and more than one Hessian group.
    X, y, w, sw = problem(40_000, 12, n_classes, seed=3)
    results = []
    for threads in (1, 2):
        objective = objective_of(X, y, n_classes, sw, alpha=0.01)
        objective.set_threads(threads)
        results.append(objective.loss_grad_hess(w))
    for one, two in zip(*results):
        np.testing.assert_array_equal(one, two)


@pytest.mark.parametrize("n_classes", [1, 3], ids=["binary", "multinomial"])
def test_sparse_equals_dense(n_classes):
    X, y, w, sw = problem(3000, 40, n_classes, seed=4, density=0.05)
    dense = xentfast.logistic_loss_and_grad(w, X, y, sample_weight=sw, alpha=0.2)
    for form in ("csr", "csc", "csr_float32", "csr_int64"):
        Xs = FORMATS[form](X)
        loss, grad = xentfast.logistic_loss_and_grad(w, Xs, y, sample_weight=sw, alpha=0.2)
        rtol = 1e-6 if "float32" in form else 1e-12
        expected = xentfast.logistic_loss_and_grad(w, _dense64(Xs), y, sample_weight=sw,
                                                   alpha=0.2)
        np.testing.assert_allclose(loss, expected[0], rtol=1e-12)
        np.testing.assert_allclose(grad, expected[1], rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(loss, dense[0], rtol=rtol)


def test_unsorted_and_repeated_indices_add_up():
    # Row 0 stores column 2 twice (1.5 + 0.5) and its columns out of order.
    data = np.array([1.5, 3.0, 0.5, -1.0, 2.0])
    indices = np.array([2, 0, 2, 1, 0])
    indptr = np.array([0, 3, 5])
    X = sparse.csr_matrix((data, indices, indptr), shape=(2, 3))
    summed = np.array([[3.0, 0.0, 2.0], [2.0, -1.0, 0.0]])
    w, y = np.array([0.3, -0.2, 0.5, 0.1]), np.array([1.0, 0.0])
    objective = objective_of(X, y, 1)
    expected = objective_of(summed, y, 1)
    for got, want in zip(objective.loss_grad_hess(w), expected.loss_grad_hess(w)):
        np.testing.assert_allclose(got, want, rtol=1e-14)


@pytest.mark.parametrize("data, indices, indptr, message", [
    ([1.0, 2.0], [0, 5], [0, 1, 2], r"column index 5 outside \[0, 3\)"),
    ([1.0, 2.0], [0, -1], [0, 1, 2], r"column index -1"),
    ([1.0, 2.0], [0, 1], [0, 2, 1], "indptr decreases"),
    ([1.0, 2.0], [0, 1], [1, 1, 2], "indptr must start at 0"),
    ([1.0, 2.0], [0, 1], [0, 1, 7], "indptr ends at 7"),
])
def test_broken_csr_structure_is_refused(data, indices, indptr, message):
    X = sparse.csr_matrix((3, 3))  # then broken by hand (scipy checks little on assignment)
    X.data, X.indices, X.indptr = (np.array(data), np.array(indices, np.int32),
                                   np.array(indptr, np.int32))
    X._shape = (2, 3)
    with pytest.raises(ValueError, match=message):
        xentfast.logistic_loss_and_grad(np.zeros(4), X, np.zeros(2))


def test_sparse_with_nan_or_complex_data_is_refused():
    X = sparse.csr_matrix(np.array([[1.0, 0.0], [0.0, np.nan]]))
    with pytest.raises(ValueError, match="nan or inf"):
        xentfast.logistic_loss_and_grad(np.zeros(3), X, np.zeros(2))
    with pytest.raises(ValueError, match="real numbers"):
        xentfast.logistic_loss_and_grad(np.zeros(3), sparse.csr_matrix(np.eye(2) * 1j),
                                        np.zeros(2))


@pytest.mark.parametrize("name", ["sigmoid", "softmax", "entropy",
                                  "binary_cross_entropy_with_logits",
                                  "softmax_cross_entropy"])
def test_sparse_input_to_array_functions_is_a_type_error(name):
    X = sparse.csr_matrix(np.eye(3) * 0.5)
    arguments = {"binary_cross_entropy_with_logits": (X, np.zeros((3, 3))),
                 "softmax_cross_entropy": (X, np.zeros(3, np.intp))}.get(name, (X,))
    with pytest.raises(TypeError, match="dense arrays"):
        getattr(xentfast, name)(*arguments)


# --- the solvers ----------------------------------------------------------------

@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("n_classes", [1, 3], ids=["binary", "multinomial"])
def test_newton_follows_the_reference_newton(n_classes, fit_intercept):
    # Well-posed problems: the compiled solver takes the reference's steps.
    X, y, w, sw = problem(500, 6, n_classes, seed=6)
    w0 = np.zeros_like(w if fit_intercept else w[..., :-1])
    targets = y if n_classes == 1 else y.astype(np.intp)
    result = linear_model.fit_logistic(linear_model._prepare_X(X), targets, n_classes,
                                       sample_weight=sw, alpha=0.05, solver="newton",
                                       fit_intercept=fit_intercept, max_iter=4, tol=0.0)
    ref_w, ref_losses = reference.logistic_newton(w0, X, y, n_iter=4, sample_weight=sw,
                                                  alpha=0.05, fit_intercept=fit_intercept)
    assert result.n_iter == 4
    np.testing.assert_allclose(result.coef.reshape(w0.shape), ref_w, rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(result.loss_curve, ref_losses, rtol=1e-12)


@pytest.mark.parametrize("solver", ["newton", "newton-cg", "lbfgs", "auto"])
@pytest.mark.parametrize("n_classes", [1, 3], ids=["binary", "multinomial"])
def test_solvers_reach_the_minimum_on_ill_conditioned_data(solver, n_classes):
    # Columns scaled over three decades, as in the benchmark.  The
    # Newton solvers reach a gradient of 1e-8; lbfgs stops earlier (its line
    # search runs out of precision) but within 1e-9 of the optimum's objective.
    X, y, _, _ = problem(2000, 8, n_classes, seed=7)
    X = X * np.logspace(0, 3, 8)
    targets = y if n_classes == 1 else y.astype(np.intp)

    def fit(solver, tol):
        return linear_model.fit_logistic(linear_model._prepare_X(X), targets, n_classes,
                                         alpha=1e-3, solver=solver, max_iter=3000, tol=tol)

    def objective(result):
        w = result.coef.reshape(-1) if n_classes == 1 else result.coef
        return xentfast.logistic_loss_and_grad(w, X, y, alpha=1e-3)

    optimum = objective(fit("newton", 1e-12))[0]
    result = fit(solver, 1e-5 if solver == "lbfgs" else 1e-8)
    loss, grad = objective(result)
    assert loss <= optimum * (1 + 1e-9)
    if solver != "lbfgs":
        assert result.converged and np.max(np.abs(grad)) <= 1e-8
    if solver in ("newton", "auto"):
        assert result.n_iter <= 15


@pytest.mark.parametrize("solver", ["newton", "newton-cg", "lbfgs", "gd", "nesterov", "sgd"])
@pytest.mark.parametrize("n_classes", [1, 3], ids=["binary", "multinomial"])
def test_every_solver_fits_sparse_X_as_dense(solver, n_classes):
    X, y, _, sw = problem(600, 30, n_classes, seed=8, density=0.1)
    options = dict(alpha=0.01, solver=solver, max_iter=300 if solver in ("gd", "sgd") else 100,
                   tol=1e-10, random_state=0)
    dense = LogisticRegression(**options)
    sparse_fit = LogisticRegression(**options)
    with quiet():
        dense.fit(X, y, sample_weight=sw)
        sparse_fit.fit(sparse.csr_matrix(X), y, sample_weight=sw)
    # The passes agree to rounding (summation order differs); the solvers' paths
    # amplify that a little near their tolerance.
    np.testing.assert_allclose(sparse_fit.coef_, dense.coef_, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(sparse_fit.intercept_, dense.intercept_, rtol=1e-6, atol=1e-9)
    Xs = sparse.csr_array(X)
    np.testing.assert_allclose(sparse_fit.predict_proba(Xs), dense.predict_proba(X), rtol=1e-6)
    np.testing.assert_array_equal(sparse_fit.predict(Xs), dense.predict(X))


def test_newton_cg_on_wide_sparse_data_reaches_newton():
    rng = np.random.default_rng(9)
    X = sparse.random(3000, 600, density=0.02, random_state=9, format="csr")
    y = (rng.random(3000) < 0.5).astype(float)
    options = dict(alpha=1e-3, max_iter=200, tol=1e-10)
    cg = linear_model.fit_logistic(linear_model._prepare_X(X), y, 1, solver="newton-cg",
                                   **options)
    exact = linear_model.fit_logistic(linear_model._prepare_X(X), y, 1, solver="newton",
                                      **options)
    assert cg.converged and exact.converged
    np.testing.assert_allclose(cg.coef, exact.coef, rtol=1e-6, atol=1e-8)


def test_auto_picks_newton_for_few_parameters_and_newton_cg_for_many():
    assert linear_model.resolve_solver("auto", 33) == "newton"
    assert linear_model.resolve_solver("auto", linear_model.NEWTON_MAX_PARAMS) == "newton"
    assert linear_model.resolve_solver("auto", linear_model.NEWTON_MAX_PARAMS + 1) == "newton-cg"
    assert linear_model.resolve_solver("lbfgs", 10**6) == "lbfgs"
    X, y, _, _ = problem(200, 3, 3, seed=10)
    assert LogisticRegression().fit(X, y).solver_ == "newton"


def test_newton_on_separable_data_with_a_penalty_converges():
    X = np.array([[-2.0], [-1.0], [1.0], [2.0]])
    y = np.array([0, 0, 1, 1])
    model = LogisticRegression(alpha=0.01, solver="newton", tol=1e-10).fit(X, y)
    assert model.n_iter_ < 30
    _, grad = xentfast.logistic_loss_and_grad(
        np.r_[model.coef_[0], model.intercept_], X, y.astype(float), alpha=0.01)
    assert np.max(np.abs(grad)) <= 1e-10


def test_newton_with_more_features_than_samples_is_stable():
    # The Hessian is singular: without a penalty the steps stay finite and the
    # loss falls.
    rng = np.random.default_rng(11)
    X = rng.random((10, 25))
    y = rng.integers(0, 3, 10)
    model = LogisticRegression(solver="newton", max_iter=50)
    with quiet():
        model.fit(X, y)
    assert np.isfinite(model.coef_).all()
    assert model.loss_curve_[-1] < 0.01 * model.loss_curve_[0]
    assert np.all(np.diff(model.loss_curve_) <= 0)
