"""L1 and elastic-net penalties, class_weight, warm_start, sparsify, and the
regularisation path (issue 12).

scikit-learn is the oracle where it computes the same thing (saga to a tight
tolerance, its class weights); ``xentfast.reference`` holds the penalised
objective and a plain proximal-gradient loop.
"""
import warnings

import numpy as np
import pytest

import xentfast
from xentfast import linear_model, reference
from xentfast.logistic_regression import LogisticRegression

sklearn_datasets = pytest.importorskip("sklearn.datasets")


def standardised(name):
    X, y = getattr(sklearn_datasets, f"load_{name}")(return_X_y=True)
    return (X - X.mean(axis=0)) / X.std(axis=0), y


def objective(model, X, y, alpha, l1_ratio, sample_weight=None):
    w = np.column_stack([model.coef_, model.intercept_])
    binary = w.shape[0] == 1
    targets = (y == model.classes_[1]).astype(float) if binary else np.searchsorted(
        model.classes_, y)
    return reference.penalised_objective(w[0] if binary else w, X, targets, alpha=alpha,
                                         l1_ratio=l1_ratio, sample_weight=sample_weight)


def saga(X, y, alpha, l1_ratio, **options):
    from sklearn.linear_model import LogisticRegression as SklearnLogisticRegression
    model = SklearnLogisticRegression(C=1.0 / (alpha * len(y)), penalty="elasticnet",
                                      l1_ratio=l1_ratio, solver="saga", tol=1e-10,
                                      max_iter=100_000, **options)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return model.fit(X, y)


@pytest.mark.parametrize("data", ["breast_cancer", "wine", "iris"])
@pytest.mark.parametrize("l1_ratio", [1.0, 0.5])
def test_penalties_reach_sagas_optimum_with_its_zeros(data, l1_ratio):
    X, y = standardised(data)
    alpha = 0.02
    ours = LogisticRegression(alpha=alpha, l1_ratio=l1_ratio, tol=1e-10).fit(X, y)
    theirs = saga(X, y, alpha, l1_ratio)
    ours_f = objective(ours, X, y, alpha, l1_ratio)
    theirs_f = objective(theirs, X, y, alpha, l1_ratio)
    assert ours_f <= theirs_f * (1 + 1e-8)
    assert theirs_f <= ours_f * (1 + 1e-8)
    np.testing.assert_array_equal(ours.coef_ == 0, theirs.coef_ == 0)
    assert (ours.coef_ == 0).sum() > 0   # the L1 term did make zeros
    assert ours.solver_ == "newton"


@pytest.mark.parametrize("solver", ["newton", "gd", "nesterov"])
@pytest.mark.parametrize("n_classes", [2, 3])
def test_every_l1_solver_reaches_the_same_optimum(solver, n_classes):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((400, 12)) * rng.uniform(0.5, 2, 12)
    y = np.argmax(X[:, :n_classes] + rng.gumbel(size=(400, n_classes)), axis=1)
    options = dict(alpha=0.03, l1_ratio=0.7, tol=1e-9, max_iter=100_000)
    exact = LogisticRegression(solver="newton", **options).fit(X, y)
    model = LogisticRegression(solver=solver, **options).fit(X, y)
    np.testing.assert_allclose(objective(model, X, y, 0.03, 0.7),
                               objective(exact, X, y, 0.03, 0.7), rtol=1e-10)
    np.testing.assert_array_equal(model.coef_ == 0, exact.coef_ == 0)
    np.testing.assert_allclose(model.coef_, exact.coef_, atol=1e-6)


def test_proximal_gradient_follows_the_reference_ista():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((300, 6))
    y = (X[:, 0] - X[:, 1] + rng.standard_normal(300) > 0).astype(float)
    result = linear_model.fit_logistic(X, y, 1, alpha=0.05, l1_ratio=0.6, solver="gd",
                                       learning_rate=0.5, max_iter=30, tol=0.0)
    ref_w, ref_objectives = reference.logistic_proximal_gradient(
        np.zeros(7), X, y, step=0.5, n_iter=30, alpha=0.05, l1_ratio=0.6)
    np.testing.assert_allclose(result.coef[0], ref_w, rtol=1e-10, atol=1e-13)
    np.testing.assert_array_equal(result.coef[0] == 0, ref_w == 0)
    np.testing.assert_allclose(result.loss_curve, ref_objectives, rtol=1e-12)


def test_sparse_X_with_an_l1_penalty_fits_as_dense():
    sparse = pytest.importorskip("scipy.sparse")
    rng = np.random.default_rng(2)
    X = sparse.random(500, 40, density=0.1, random_state=2, format="csr")
    y = rng.integers(0, 2, 500)
    options = dict(alpha=0.01, l1_ratio=1.0, tol=1e-10)
    dense = LogisticRegression(**options).fit(X.toarray(), y)
    sparse_fit = LogisticRegression(**options).fit(X, y)
    np.testing.assert_allclose(sparse_fit.coef_, dense.coef_, rtol=1e-7, atol=1e-10)
    np.testing.assert_array_equal(sparse_fit.coef_ == 0, dense.coef_ == 0)


@pytest.mark.parametrize("solver", ["lbfgs", "newton-cg", "sgd"])
def test_solvers_without_l1_refuse_it_by_name(solver):
    with pytest.raises(ValueError, match=r"does not take an L1 penalty.*'newton'"):
        LogisticRegression(solver=solver, l1_ratio=0.5, alpha=0.1).fit(np.eye(4), [0, 1] * 2)


@pytest.mark.parametrize("l1_ratio", [-0.1, 1.5, np.nan, "l1"])
def test_bad_l1_ratio(l1_ratio):
    with pytest.raises(ValueError, match="l1_ratio must be a number in"):
        LogisticRegression(l1_ratio=l1_ratio).fit(np.eye(4), [0, 1] * 2)


# --- class_weight -----------------------------------------------------------------

@pytest.mark.parametrize("data", ["breast_cancer", "wine"])
@pytest.mark.parametrize("class_weight", ["balanced", "dict"])
def test_class_weight_matches_scikit_learn(data, class_weight):
    from sklearn.linear_model import LogisticRegression as SklearnLogisticRegression
    X, y = standardised(data)
    if class_weight == "dict":
        class_weight = {0: 0.5, 1: 3.0} if data == "breast_cancer" else {0: 2.0, 2: 0.25}
    sample_weight = np.random.default_rng(3).uniform(0.5, 2.0, len(y))
    alpha = 0.01
    ours = LogisticRegression(alpha=alpha, class_weight=class_weight, tol=1e-10).fit(
        X, y, sample_weight=sample_weight)
    # scikit-learn's objective is C Σ s'_i CE_i + ||coef||²/2 with the class-weighted
    # s'; xentfast's divides by Σ s': the same minimum when C = 1 / (alpha Σ s').
    from xentfast import _labels
    classes, labels = _labels.encode_labels(y)
    combined = sample_weight * _labels.class_weights(class_weight, classes, labels,
                                                     sample_weight)[labels]
    theirs = SklearnLogisticRegression(C=1.0 / (alpha * combined.sum()),
                                       class_weight=class_weight, solver="newton-cholesky",
                                       tol=1e-12, max_iter=1000).fit(X, y, sample_weight)
    np.testing.assert_allclose(ours.coef_, theirs.coef_, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(ours.intercept_, theirs.intercept_, rtol=1e-5, atol=1e-7)


def test_balanced_class_weights_are_n_over_k_counts():
    from xentfast import _labels
    labels = np.array([0, 0, 0, 1, 2, 2])
    weights = _labels.class_weights("balanced", np.arange(3), labels, None)
    np.testing.assert_allclose(weights, 6 / (3 * np.array([3, 1, 2])))
    sample_weight = np.array([1.0, 1.0, 2.0, 4.0, 1.0, 1.0])
    weighted = _labels.class_weights("balanced", np.arange(3), labels, sample_weight)
    np.testing.assert_allclose(weighted, 10 / (3 * np.array([4.0, 4.0, 2.0])))


def test_class_weight_dict_naming_unknown_classes_is_refused():
    with pytest.raises(ValueError, match="are not in class_weight"):
        LogisticRegression(class_weight={0: 1.0, 5: 2.0}).fit(np.eye(6), [0, 1, 2] * 2)
    with pytest.raises(ValueError, match="class_weight must be"):
        LogisticRegression(class_weight="even").fit(np.eye(4), [0, 1] * 2)


# --- warm_start, sparsify -----------------------------------------------------------

def test_warm_start_continues_from_the_fitted_coefficients():
    X, y = standardised("breast_cancer")
    model = LogisticRegression(alpha=0.01, warm_start=True, tol=1e-8).fit(X, y)
    first = model.coef_.copy()
    model.fit(X, y)
    assert model.n_iter_ <= 1   # already at the optimum
    np.testing.assert_allclose(model.coef_, first, rtol=1e-7, atol=1e-10)
    # A path by hand: each fit starts from the last.
    model.set_params(alpha=0.005)
    cold = LogisticRegression(alpha=0.005, tol=1e-8).fit(X, y)
    model.fit(X, y)
    assert model.n_iter_ < cold.n_iter_
    np.testing.assert_allclose(model.coef_, cold.coef_, rtol=1e-6, atol=1e-9)


def test_warm_start_with_other_shapes_is_refused():
    X, y = standardised("wine")
    model = LogisticRegression(warm_start=True, alpha=0.1).fit(X, y)
    with pytest.raises(ValueError, match="warm_start"):
        model.fit(X[:, :5], y)
    model.set_params(warm_start=False).fit(X[:, :5], y)   # without warm_start: fine


def test_sparsify_and_densify_keep_the_predictions():
    pytest.importorskip("scipy.sparse")
    X, y = standardised("breast_cancer")
    model = LogisticRegression(alpha=0.05, l1_ratio=1.0).fit(X, y)
    dense_proba = model.predict_proba(X)
    assert model.sparsify() is model
    assert hasattr(model.coef_, "toarray") and model.coef_.nnz == np.count_nonzero(
        model.coef_.toarray())
    np.testing.assert_allclose(model.predict_proba(X), dense_proba, rtol=1e-14)
    model.densify()
    assert isinstance(model.coef_, np.ndarray)
    np.testing.assert_allclose(model.predict_proba(X), dense_proba, rtol=1e-14)


# --- the regularisation path --------------------------------------------------------

@pytest.mark.parametrize("data", ["breast_cancer", "iris"])
def test_l1_path_starts_empty_and_matches_single_fits(data):
    X, y = standardised(data)
    path = xentfast.logistic_regression_path(X, y, l1_ratio=1.0, n_alphas=8, eps=1e-2,
                                             tol=1e-10)
    assert np.all(np.diff(path.alphas) < 0)
    assert np.all(path.coef[0] == 0)                  # alpha_max: every coefficient 0
    just_below = LogisticRegression(alpha=path.alphas[0] * 0.99, l1_ratio=1.0,
                                    tol=1e-10).fit(X, y)
    assert np.any(just_below.coef_ != 0)              # ... and not more than that
    for index in (2, 7):
        alpha = path.alphas[index]
        single = LogisticRegression(alpha=alpha, l1_ratio=1.0, tol=1e-10).fit(X, y)
        np.testing.assert_allclose(path.coef[index], single.coef_, rtol=1e-6, atol=1e-8)
        np.testing.assert_allclose(path.objective[index],
                                   objective(single, X, y, alpha, 1.0), rtol=1e-12)
    zeros = (path.coef == 0).reshape(len(path.alphas), -1).sum(axis=1)
    assert zeros[0] > zeros[-1]


def test_path_with_given_alphas_and_ridge():
    X, y = standardised("wine")
    path = xentfast.logistic_regression_path(X, y, alphas=[0.01, 0.1, 1.0], tol=1e-10)
    np.testing.assert_allclose(path.alphas, [1.0, 0.1, 0.01])
    assert path.coef.shape == (3, 3, X.shape[1]) and path.intercept.shape == (3, 3)
    single = LogisticRegression(alpha=0.1, tol=1e-10).fit(X, y)
    np.testing.assert_allclose(path.coef[1], single.coef_, rtol=1e-6, atol=1e-9)


# --- coordinate-wise Newton (newton-cd) for wide data ---------------------------------

@pytest.mark.parametrize("form", ["dense_C", "dense_F", "float32", "csr", "csc"])
@pytest.mark.parametrize("l1_ratio", [1.0, 0.5, 0.0])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_newton_cd_reaches_newtons_optimum(form, l1_ratio, fit_intercept):
    sparse = pytest.importorskip("scipy.sparse")
    rng = np.random.default_rng(4)
    X = rng.standard_normal((600, 25)) * rng.uniform(0.2, 5, 25)
    X[rng.random(X.shape) < 0.6] = 0.0
    y = (X @ rng.standard_normal(25) + rng.standard_normal(600) > 0).astype(int)
    sw = rng.uniform(0.5, 2, 600)
    data = {"dense_C": X, "dense_F": np.asfortranarray(X), "float32": X.astype(np.float32),
            "csr": sparse.csr_matrix(X), "csc": sparse.csc_matrix(X)}[form]
    options = dict(alpha=0.02, l1_ratio=l1_ratio, fit_intercept=fit_intercept, tol=1e-10,
                   max_iter=500)
    exact = LogisticRegression(solver="newton", **options).fit(data, y, sample_weight=sw)
    with warnings.catch_warnings():
        # At tol=1e-10 the inexact inner solves may stop the last steps at rounding.
        warnings.simplefilter("ignore")
        model = LogisticRegression(solver="newton-cd", **options).fit(data, y, sample_weight=sw)
    assert model.solver_ == "newton-cd" and model.n_iter_ < 30
    np.testing.assert_allclose(model.coef_, exact.coef_, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(model.intercept_, exact.intercept_, rtol=1e-6, atol=1e-8)
    np.testing.assert_array_equal(model.coef_ == 0, exact.coef_ == 0)


def test_newton_cd_is_for_binary_models_and_auto_picks_it_for_wide_l1():
    X = np.random.default_rng(5).standard_normal((60, 4))
    with pytest.raises(ValueError, match="Only binary classification is supported by solver"):
        LogisticRegression(solver="newton-cd").fit(X, np.arange(60) % 3)
    assert linear_model.resolve_solver("auto", 20_001, 1.0, 1) == "newton-cd"
    assert linear_model.resolve_solver("auto", 20_001, 0.0, 1) == "newton-cg"
    assert linear_model.resolve_solver("auto", 3 * 20_001, 0.5, 3) == "nesterov"
