"""logistic_loss_and_grad and LogisticRegression on Dask arrays (the threaded scheduler).

The Dask fit must reach the in-memory fit's answer: coefficients to 1e-6
relative and the objective to 1e-9, with the same solver, for binary and
multinomial problems, sample and class weights, the elastic net, warm starts
and string labels; predictions on a Dask X are lazy Dask arrays equal to the
in-memory ones.  tests/test_dask_distributed.py does the same on a LocalCluster.
"""
import warnings

import numpy as np
import pytest

da = pytest.importorskip("dask.array")
dask = pytest.importorskip("dask")

import xentfast  # noqa: E402
import xentfast.dask as xd  # noqa: E402
from xentfast.logistic_regression import ConvergenceWarning, LogisticRegression  # noqa: E402

# Uneven row blocks, two of them empty, and X split by columns (rechunked by the fit).
ROW_CHUNKS = (0, 150, 250, 0, 200)
SOLVERS = ("lbfgs", "gd", "nesterov", "newton", "newton-cg", "auto")


def make_data(n_classes, n_samples=600, n_features=4, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_samples, n_features)) * rng.uniform(0.5, 2.0, n_features)
    logits = X @ rng.standard_normal((n_features, n_classes))
    y = np.argmax(logits + rng.gumbel(size=logits.shape), axis=1)
    return X, y, rng.uniform(0.2, 3.0, n_samples)


def rows(a, chunks=ROW_CHUNKS):
    a = np.asarray(a)
    return da.from_array(a, chunks=(chunks,) + tuple((2, n - 2) if n > 2 else (n,)
                                                     for n in a.shape[1:]))


def fit(model, X, y, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return model.fit(X, y, **kwargs)


def assert_same_fit(dask_model, memory_model):
    assert dask_model.solver_ == memory_model.solver_
    np.testing.assert_array_equal(dask_model.classes_, memory_model.classes_)
    scale = np.abs(memory_model.coef_).max()
    np.testing.assert_allclose(dask_model.coef_, memory_model.coef_, rtol=1e-6,
                               atol=1e-6 * scale)
    np.testing.assert_allclose(dask_model.intercept_, memory_model.intercept_, rtol=1e-6,
                               atol=1e-6 * scale)
    np.testing.assert_allclose(dask_model.loss_curve_[-1], memory_model.loss_curve_[-1],
                               rtol=1e-9)
    assert dask_model.n_features_in_ == memory_model.n_features_in_


# --- logistic_loss_and_grad ---------------------------------------------------------------

@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_logistic_loss_and_grad(n_classes, fit_intercept, weighted, dtype):
    X, labels, sw = make_data(n_classes)
    X = X.astype(dtype)
    width = X.shape[1] + fit_intercept
    rng = np.random.default_rng(1)
    w = rng.standard_normal(width) if n_classes == 2 else rng.standard_normal((3, width))
    y = labels.astype(float) if n_classes == 2 else labels
    kwargs = dict(sample_weight=sw if weighted else None, alpha=0.3, fit_intercept=fit_intercept)
    loss, grad = xentfast.logistic_loss_and_grad(w, X, y, **kwargs)
    for chunks in (ROW_CHUNKS, (600,), (45,) * 13 + (15,)):
        lazy_loss, lazy_grad = xd.logistic_loss_and_grad(w, rows(X, chunks), rows(y, chunks),
                                                         **kwargs)
        assert isinstance(lazy_loss, da.Array) and isinstance(lazy_grad, da.Array)
        value, gradient = dask.compute(lazy_loss, lazy_grad)
        np.testing.assert_allclose(value, loss, rtol=1e-12)
        assert gradient.shape == w.shape
        np.testing.assert_allclose(gradient, grad, rtol=1e-12, atol=1e-14)


def test_logistic_loss_and_grad_checks():
    X, y, _ = make_data(2)
    Xd = rows(X)
    with pytest.raises(ValueError, match="y must have shape"):
        xd.logistic_loss_and_grad(np.zeros(5), Xd, y[:-1])
    with pytest.raises(ValueError, match="binary w must have shape"):
        xd.logistic_loss_and_grad(np.zeros(3), Xd, y)
    with pytest.raises(ValueError, match="integer class indices"):
        xd.logistic_loss_and_grad(np.zeros((3, 5)), Xd, y.astype(float))
    lazy, _ = xd.logistic_loss_and_grad(np.zeros(5), Xd, y * 2.0)
    with pytest.raises(ValueError, match="y must lie in"):
        lazy.compute()
    X_nan = X.copy()
    X_nan[300, 1] = np.nan
    with pytest.raises(ValueError, match="X contains nan or inf"):
        xd.logistic_loss_and_grad(np.zeros(5), rows(X_nan), y.astype(float))[0].compute()
    with pytest.raises(ValueError, match="zero everywhere"):
        xd.logistic_loss_and_grad(np.zeros(5), Xd, y.astype(float),
                                  sample_weight=np.zeros(600))[0].compute()


# --- LogisticRegression.fit ---------------------------------------------------------------

@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("n_classes", [2, 3])
def test_fit_matches_the_in_memory_fit(solver, n_classes):
    X, y, sw = make_data(n_classes)
    # First-order solvers at the default tol: fewer passes; the two fits take the
    # same steps either way, so they must agree whatever the tolerance.
    tol = 1e-4 if solver in ("gd", "nesterov") else 1e-6
    params = dict(solver=solver, alpha=1e-2, tol=tol, max_iter=300)
    memory = fit(LogisticRegression(**params), X, y, sample_weight=sw)
    on_dask = fit(LogisticRegression(**params), rows(X), rows(y), sample_weight=rows(sw))
    assert_same_fit(on_dask, memory)
    assert on_dask.n_iter_ == memory.n_iter_


@pytest.mark.parametrize("options", [
    dict(class_weight="balanced", l1_ratio=0.5, alpha=0.02),            # proximal Newton
    dict(class_weight={0: 2.0, 1: 0.5}, solver="lbfgs", fit_intercept=False),
    dict(l1_ratio=1.0, alpha=0.01, solver="nesterov", max_iter=500),
], ids=["balanced-elastic-net", "dict-weights-no-intercept", "lasso-fista"])
def test_fit_with_class_weights_and_penalties(options):
    X, y, sw = make_data(3)
    memory = fit(LogisticRegression(**options), X, y, sample_weight=sw)
    on_dask = fit(LogisticRegression(**options), rows(X), rows(y), sample_weight=rows(sw))
    assert_same_fit(on_dask, memory)


def test_fit_string_labels_warm_start_and_mixed_inputs():
    X, y, _ = make_data(3)
    names = np.array(["cat", "dog", "emu"])[y]
    params = dict(max_iter=3, solver="lbfgs", warm_start=True)
    memory = LogisticRegression(**params)
    fit(memory, X, names)
    fit(memory, X, names)
    model = LogisticRegression(**params)
    fit(model, rows(X), names)   # NumPy labels with a Dask X
    fit(model, X, rows(names))   # a Dask y with a NumPy X, continuing from the first fit
    np.testing.assert_array_equal(model.classes_, ["cat", "dog", "emu"])
    np.testing.assert_allclose(model.coef_, memory.coef_, rtol=1e-6, atol=1e-9)


def test_fit_on_one_block_with_sample_weights():
    X, y, sw = make_data(2)
    memory = LogisticRegression(solver="newton").fit(X, y, sample_weight=sw)
    on_dask = LogisticRegression(solver="newton").fit(rows(X, (600,)), rows(y, (600,)),
                                                      sample_weight=rows(sw, (600,)))
    assert_same_fit(on_dask, memory)


def test_fit_on_a_persisted_X_persists_the_targets():
    X, y, sw = make_data(2)
    Xd = rows(X).rechunk({1: -1}).persist()
    model = LogisticRegression(solver="newton").fit(Xd, rows(y), sample_weight=rows(sw))
    memory = LogisticRegression(solver="newton").fit(X, y, sample_weight=sw)
    assert_same_fit(model, memory)


def test_fit_refuses_sgd_and_bad_input():
    X, y, _ = make_data(2)
    with pytest.raises(ValueError, match="sgd"):
        LogisticRegression(solver="sgd").fit(rows(X), rows(y))
    with pytest.raises(ValueError, match="different numbers of samples"):
        LogisticRegression().fit(rows(X), rows(y[:-1], (599,)))
    with pytest.raises(ValueError, match="only one class"):
        LogisticRegression().fit(rows(X), rows(np.zeros(600, int)))
    with pytest.raises(ValueError, match="continuous"):
        LogisticRegression().fit(rows(X), rows(y + 0.5))
    with pytest.raises(ValueError, match="unknown chunk sizes"):
        LogisticRegression().fit(rows(X)[rows(y) >= 0], rows(y))
    with pytest.raises(ValueError, match="finite and non-negative"):
        LogisticRegression().fit(rows(X), rows(y), sample_weight=-np.ones(600))
    X_nan = X.copy()
    X_nan[450, 0] = np.inf
    for solver in ("lbfgs", "newton"):
        with pytest.raises(ValueError, match="X contains nan or inf"):
            LogisticRegression(solver=solver).fit(rows(X_nan), rows(y))


@pytest.mark.parametrize("n_classes", [2, 3])
def test_predictions_on_a_dask_X_are_lazy(n_classes):
    X, y, _ = make_data(n_classes)
    model = LogisticRegression(alpha=0.1).fit(X, y)
    Xd = rows(X)
    for method in ("predict", "predict_proba", "predict_log_proba", "decision_function"):
        lazy = getattr(model, method)(Xd)
        assert isinstance(lazy, da.Array)
        assert lazy.chunks[0] == Xd.chunks[0]
        expected = getattr(model, method)(X)
        np.testing.assert_allclose(lazy.compute(), expected, rtol=1e-12, atol=1e-15)
    with pytest.raises(ValueError, match="features"):
        model.predict(rows(X[:, :3]))
    with pytest.raises(Exception, match="not fitted"):
        LogisticRegression().predict(Xd)
