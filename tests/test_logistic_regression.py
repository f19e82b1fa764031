"""The LogisticRegression estimator and the ``python -m xentfast train`` command.

scikit-learn is optional: the tests that need it (check_estimator, its bundled
data sets, clone) skip without it, and one test imports the estimator in a
subprocess where scikit-learn cannot be imported, to check the fallbacks.
"""
import io
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest

import xentfast
from xentfast import _datasets, _train, linear_model
from xentfast.logistic_regression import ConvergenceWarning, LogisticRegression, NotFittedError

SOLVERS = linear_model.SOLVERS
EXACT_SOLVERS = ("lbfgs", "gd", "nesterov")   # the ones that must reach the optimum


def make_data(n_samples=300, n_features=4, n_classes=2, seed=0):
    """Overlapping classes (not separable), features of different scales."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_samples, n_features)) * rng.uniform(0.5, 2.0, n_features)
    logits = X @ rng.standard_normal((n_features, n_classes))
    y = np.argmax(logits + rng.gumbel(size=logits.shape), axis=1)
    return X, y


def params_of(model):
    """(k, d+1) parameters, intercept last, as logistic_loss_and_grad takes them."""
    return np.column_stack([model.coef_, model.intercept_])


def objective(w, X, y, alpha, sample_weight=None):
    """The estimator's objective at w (k, d+1), for class indices y."""
    if w.shape[0] == 1:  # binary: one row, targets 0/1
        return linear_model.logistic_loss_and_grad(w[0], X, (y == 1).astype(float),
                                                   alpha=alpha, sample_weight=sample_weight)[0]
    return linear_model.logistic_loss_and_grad(w, X, y, alpha=alpha,
                                               sample_weight=sample_weight)[0]


def fit_quietly(model, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return model.fit(*args, **kwargs)


# --- scikit-learn's checks and optimum --------------------------------------------

@pytest.mark.parametrize("solver", SOLVERS)
def test_check_estimator(solver):
    estimator_checks = pytest.importorskip("sklearn.utils.estimator_checks")
    with warnings.catch_warnings():
        # Skipped checks (no pandas) and short default runs of gd/sgd are not failures.
        warnings.simplefilter("ignore")
        results = estimator_checks.check_estimator(LogisticRegression(solver=solver),
                                                   on_fail=None)
    failed = [f"{r['check_name']}: {r['exception']!r}" for r in results
              if r["status"] == "failed"]
    assert len(results) > 40  # the checks did run
    assert failed == []


def standardised(name):
    datasets = pytest.importorskip("sklearn.datasets")
    X, y = getattr(datasets, f"load_{name}")(return_X_y=True)
    from sklearn.preprocessing import StandardScaler
    return StandardScaler().fit_transform(X), y


# Iterations each solver needs here are a few dozen (lbfgs) to ~19,000 (gd on
# breast cancer, condition number ~2000); tol=1e-8 puts the coefficients
# within ~1e-5 of the optimum.
MAX_ITER = {"lbfgs": 1000, "gd": 50_000, "nesterov": 5000}


@pytest.mark.parametrize("solver", EXACT_SOLVERS)
@pytest.mark.parametrize("name", ["breast_cancer", "iris", "wine"])
def test_reaches_sklearn_optimum(name, solver):
    X, y = standardised(name)
    from sklearn.linear_model import LogisticRegression as SklearnLogisticRegression
    C = 1.0
    alpha = 1.0 / (C * len(y))  # the same objective: C = 1 / (alpha * sum of weights)
    target = SklearnLogisticRegression(C=C, tol=1e-10, max_iter=10_000).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)  # tol must be reached
        model = LogisticRegression(alpha=alpha, solver=solver, tol=1e-8,
                                   max_iter=MAX_ITER[solver]).fit(X, y)
    ours = objective(params_of(model), X, y, alpha)
    theirs = objective(params_of(target), X, y, alpha)
    assert ours <= theirs * (1 + 1e-7)
    scale = np.abs(target.coef_).max()
    np.testing.assert_allclose(model.coef_, target.coef_, rtol=1e-3, atol=1e-3 * scale)
    np.testing.assert_allclose(model.intercept_, target.intercept_, rtol=1e-3,
                               atol=1e-3 * scale)
    assert model.coef_.shape == target.coef_.shape


def test_weighted_objective_is_sklearns():
    # C = 1 / (alpha * sum of weights) makes the two weighted objectives proportional.
    X, y = standardised("breast_cancer")
    from sklearn.linear_model import LogisticRegression as SklearnLogisticRegression
    weights = np.random.default_rng(0).uniform(0.2, 3.0, len(y))
    C = 0.5
    alpha = 1.0 / (C * weights.sum())
    target = SklearnLogisticRegression(C=C, tol=1e-10, max_iter=10_000).fit(
        X, y, sample_weight=weights)
    model = LogisticRegression(alpha=alpha, tol=1e-8, max_iter=1000).fit(
        X, y, sample_weight=weights)
    ours = objective(params_of(model), X, y, alpha, weights)
    theirs = objective(params_of(target), X, y, alpha, weights)
    assert ours <= theirs * (1 + 1e-7)
    np.testing.assert_allclose(params_of(model), params_of(target), rtol=1e-3,
                               atol=1e-3 * np.abs(target.coef_).max())


@pytest.mark.parametrize("name", ["breast_cancer", "iris"])
def test_sgd_decreases_the_loss(name):
    X, y = standardised(name)
    alpha = 1.0 / len(y)
    models = [fit_quietly(LogisticRegression(alpha=alpha, solver="sgd", max_iter=100,
                                             batch_size=16, random_state=seed), X, y)
              for seed in (0, 0, 1)]
    curve = models[0].loss_curve_   # sgd: the mean mini-batch loss of every epoch
    best = objective(params_of(LogisticRegression(alpha=alpha, tol=1e-8).fit(X, y)), X, y,
                     alpha)
    reached = objective(params_of(models[0]), X, y, alpha)
    assert models[0].n_iter_ >= 2
    assert curve[-1] < 0.5 * curve[0]
    # Within 10% of the optimum: sgd's decaying step gets near it, not onto it.
    assert best <= reached <= 1.1 * best
    assert models[0].score(X, y) >= 0.9
    # random_state fixes the shuffles; another seed gives other iterates.
    np.testing.assert_array_equal(models[0].coef_, models[1].coef_)
    assert not np.array_equal(models[0].coef_, models[2].coef_)


# --- weights, dtypes, labels, attributes ------------------------------------------

@pytest.mark.parametrize("solver", EXACT_SOLVERS)
@pytest.mark.parametrize("n_classes", [2, 3])
def test_integer_weights_match_repeated_rows(n_classes, solver):
    X, y = make_data(n_classes=n_classes, seed=1)
    weights = np.random.default_rng(2).integers(0, 4, len(y))  # 0 removes the row
    options = dict(alpha=0.01, solver=solver, tol=1e-8, max_iter=20_000)
    weighted = LogisticRegression(**options).fit(X, y, sample_weight=weights)
    repeated = LogisticRegression(**options).fit(np.repeat(X, weights, axis=0),
                                                 np.repeat(y, weights))
    np.testing.assert_allclose(params_of(weighted), params_of(repeated), rtol=1e-6, atol=1e-7)
    unweighted = LogisticRegression(**options).fit(X, y)
    assert not np.allclose(params_of(weighted), params_of(unweighted), rtol=1e-3)


@pytest.mark.parametrize("solver", EXACT_SOLVERS)
@pytest.mark.parametrize("n_classes", [2, 3])
def test_float32_matches_float64(n_classes, solver):
    X, y = make_data(n_samples=400, n_features=5, n_classes=n_classes, seed=3)
    X32 = X.astype(np.float32)
    options = dict(alpha=0.01, solver=solver, tol=1e-7, max_iter=20_000)
    fit32 = LogisticRegression(**options).fit(X32, y)
    fit64 = LogisticRegression(**options).fit(X, y)
    rounded = LogisticRegression(**options).fit(X32.astype(np.float64), y)
    scale = np.abs(fit64.coef_).max()
    eps32 = np.finfo(np.float32).eps
    # Rounding X to float32 moves the optimum by about eps32 (relative).
    np.testing.assert_allclose(params_of(fit32), params_of(fit64), rtol=50 * eps32,
                               atol=50 * eps32 * scale)
    # On the same (float32) numbers the float64 accumulation gives the same fit.
    np.testing.assert_allclose(params_of(fit32), params_of(rounded), rtol=1e-9, atol=1e-12)
    proba = fit32.predict_proba(X32)
    assert proba.dtype == np.float64
    np.testing.assert_allclose(proba, fit64.predict_proba(X), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("labels", [["cat", "dog"], ["cat", "dog", "emu"], [-3, 7],
                                    [1.0, 2.0, 8.0]], ids=["str2", "str3", "int2", "float3"])
def test_any_class_labels(labels):
    X, y = make_data(n_classes=len(labels), seed=4)
    labels = np.array(labels)
    model = LogisticRegression(tol=1e-8).fit(X, labels[y])
    by_index = LogisticRegression(tol=1e-8).fit(X, y)
    np.testing.assert_array_equal(model.classes_, labels)   # sorted, as np.unique sorts
    np.testing.assert_array_equal(model.coef_, by_index.coef_)
    np.testing.assert_array_equal(model.predict(X), labels[by_index.predict(X)])
    assert model.predict(X).dtype == labels.dtype
    assert model.score(X, labels[y]) == by_index.score(X, y) > 0.6


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("n_classes", [2, 4])
def test_attributes_and_predictions(n_classes, fit_intercept):
    X, y = make_data(n_features=3, n_classes=n_classes, seed=5)
    model = LogisticRegression(fit_intercept=fit_intercept).fit(X, y)
    rows = 1 if n_classes == 2 else n_classes
    assert model.coef_.shape == (rows, 3)
    assert model.intercept_.shape == (rows,)
    assert model.n_features_in_ == 3
    assert model.coef_.dtype == model.intercept_.dtype == np.float64
    assert isinstance(model.n_iter_, int) and 1 <= model.n_iter_ < 100
    assert len(model.loss_curve_) == model.n_iter_ + 1
    assert np.all(np.diff(model.loss_curve_) <= 0)   # lbfgs never raises the loss
    np.testing.assert_allclose(model.loss_curve_[0], np.log(n_classes), rtol=1e-12)
    if not fit_intercept:
        np.testing.assert_array_equal(model.intercept_, 0.0)

    scores = model.decision_function(X)
    expected = X @ model.coef_.T + model.intercept_
    np.testing.assert_allclose(scores, expected[:, 0] if n_classes == 2 else expected,
                               rtol=1e-12)
    proba = model.predict_proba(X)
    assert proba.shape == (len(X), n_classes)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(model.predict_log_proba(X), np.log(proba), rtol=1e-12,
                               atol=1e-300)
    np.testing.assert_array_equal(model.predict(X), model.classes_[proba.argmax(axis=1)])
    if n_classes == 2:
        np.testing.assert_allclose(proba[:, 1], 1 / (1 + np.exp(-scores)), rtol=1e-14)


def test_extreme_scores_give_exact_log_probabilities():
    # Separable data and no penalty push the scores far out; log_sigmoid keeps them.
    X = np.array([[-1.0], [1.0]])
    model = LogisticRegression(tol=0.0, max_iter=0).fit(X, [0, 1])
    model.coef_ = np.array([[800.0]])
    log_proba = model.predict_log_proba(X)
    np.testing.assert_allclose(log_proba, [[0.0, -800.0], [-800.0, 0.0]], rtol=1e-15)
    np.testing.assert_array_equal(model.predict_proba(X), [[1.0, 0.0], [0.0, 1.0]])


def test_clone_and_params():
    base = pytest.importorskip("sklearn.base")
    model = LogisticRegression(alpha=0.3, solver="nesterov", max_iter=7, random_state=2)
    X, y = make_data(seed=6)
    fit_quietly(model, X, y)
    copy = base.clone(model)
    assert copy.get_params() == model.get_params()
    assert not hasattr(copy, "coef_")                        # a clone is unfitted
    np.testing.assert_array_equal(fit_quietly(copy, X, y).coef_, model.coef_)
    assert copy.set_params(alpha=1.0) is copy and copy.alpha == 1.0
    assert "alpha=0.3" in repr(model) and "solver='nesterov'" in repr(model)


def test_dataframe_feature_names():
    pytest.importorskip("pandas")
    estimator_checks = pytest.importorskip("sklearn.utils.estimator_checks")
    # Not part of check_estimator: fit records the column names, predict checks them.
    estimator_checks.check_dataframe_column_names_consistency("LogisticRegression",
                                                              LogisticRegression())


def test_verbose_prints_every_iteration(capsys):
    X, y = make_data(seed=7)
    model = LogisticRegression(solver="lbfgs", verbose=1).fit(X, y)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == model.n_iter_ + 1
    assert lines[0].startswith("lbfgs iteration     0: loss 0.69314")


def test_not_converged_warns():
    X, y = make_data(seed=8)
    with pytest.warns(ConvergenceWarning, match="max_iter=3"):
        LogisticRegression(solver="gd", max_iter=3).fit(X, y)


def test_works_without_sklearn(tmp_path):
    # A fresh interpreter in which `import sklearn` fails.
    code = """
import sys
sys.modules["sklearn"] = None
import numpy as np
import xentfast
from xentfast.logistic_regression import LogisticRegression, NotFittedError
from xentfast import logistic_regression
assert logistic_regression.BaseEstimator.__module__ == "xentfast.logistic_regression"
X = np.array([[0.0], [1.0], [2.0], [3.0]]); y = np.array(["a", "a", "b", "b"])
model = LogisticRegression(alpha=0.1, max_iter=50)
try:
    model.predict(X)
except NotFittedError as error:
    assert isinstance(error, ValueError) and isinstance(error, AttributeError)
else:
    raise AssertionError("predict before fit did not raise")
assert repr(model) == "LogisticRegression(alpha=0.1, max_iter=50)", repr(model)
assert model.get_params()["alpha"] == 0.1
copy = type(model)(**model.get_params())
assert copy.set_params(tol=1e-8) is copy and copy.tol == 1e-8
try:
    copy.set_params(C=1.0)
except ValueError as error:
    assert "invalid parameter 'C'" in str(error)
else:
    raise AssertionError("set_params accepted an unknown parameter")
assert model.fit(X, y).score(X, y) == 1.0
assert model.score(X, y, sample_weight=[1, 1, 1, 0]) == 1.0
print("ok")
"""
    # Import the same xentfast as this process (installed or built in place), from a
    # folder where the source tree cannot shadow it.
    package_parent = os.path.dirname(os.path.dirname(os.path.abspath(xentfast.__file__)))
    env = dict(os.environ, PYTHONPATH=package_parent)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=60, cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


# --- bad input -------------------------------------------------------------------

X_GOOD, Y_GOOD = make_data(n_samples=20, n_features=3, seed=9)
NAN_X, INF_X = X_GOOD.copy(), X_GOOD.copy()
NAN_X[3, 1], INF_X[5, 2] = np.nan, -np.inf

BAD_FITS = {
    "nan-in-X": ({"X": NAN_X}, "X contains nan or inf"),
    "inf-in-X": ({"X": INF_X}, "X contains nan or inf"),
    "one-class": ({"y": np.zeros(20, int)}, "only one class"),
    "y-too-short": ({"y": Y_GOOD[:-1]}, "X has 20, y has 19"),
    "y-2d": ({"y": np.zeros((20, 2))}, "1d array"),
    "y-none": ({"y": None}, "y to be passed"),
    "y-continuous": ({"y": np.linspace(0, 1, 20)}, "Unknown label type: continuous"),
    "y-nan": ({"y": np.full(20, np.nan)}, "y contains nan or inf"),
    "X-1d": ({"X": X_GOOD[:, 0]}, "Reshape your data"),
    "X-no-features": ({"X": np.empty((20, 0))}, r"0 feature\(s\)"),
    "X-complex": ({"X": X_GOOD + 1j}, "Complex data not supported"),
    "X-strings": ({"X": X_GOOD.astype(str)}, "real numbers"),
    "weights-too-short": ({"sample_weight": np.ones(19)}, r"sample_weight must have shape \(20,\)"),
    "weights-negative": ({"sample_weight": np.r_[np.ones(19), -1.0]}, "non-negative"),
    "weights-all-zero": ({"sample_weight": np.zeros(20)}, "zero everywhere"),
    "weights-nan": ({"sample_weight": np.full(20, np.nan)}, "finite"),
    "unknown-solver": ({"solver": "cholesky"}, r"solver must be one of \('auto'"),
    "negative-alpha": ({"alpha": -1.0}, "alpha must be a finite number >= 0"),
    "bad-learning-rate": ({"learning_rate": 0.0}, "learning_rate"),
    "bad-max_iter": ({"max_iter": -1}, "max_iter"),
    "bad-verbose": ({"verbose": -1}, "verbose"),
}


@pytest.mark.parametrize("case", BAD_FITS)
def test_bad_fit_raises_value_error(case):
    changes, message = BAD_FITS[case]
    data = {"X": X_GOOD, "y": Y_GOOD, "sample_weight": None}
    params = {}
    for key, value in changes.items():
        (data if key in data else params)[key] = value
    with pytest.raises(ValueError, match=message):
        LogisticRegression(**params).fit(**data)


@pytest.mark.parametrize("method", ["predict", "predict_proba", "predict_log_proba",
                                    "decision_function"])
def test_bad_predict_input(method):
    with pytest.raises(NotFittedError, match="not fitted yet"):
        getattr(LogisticRegression(), method)(X_GOOD)
    model = LogisticRegression().fit(X_GOOD, Y_GOOD)
    with pytest.raises(ValueError, match="X has 2 features, but LogisticRegression is "
                                         "expecting 3 features"):
        getattr(model, method)(X_GOOD[:, :2])
    with pytest.raises(ValueError, match="X contains nan or inf"):
        getattr(model, method)(NAN_X)


# --- python -m xentfast train -------------------------------------------------------

TINY = ["--n-samples", "400", "--n-features", "3", "--max-iter", "20"]


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("classes, dtype", [("2", "float64"), ("3", "float32")])
def test_train_command(solver, classes, dtype, capsys):
    if solver == "newton-cd" and classes == "3":
        assert _train.main(TINY + ["--solver", solver, "--classes", classes]) == 2
        assert "two classes only" in capsys.readouterr().err
        return
    before = xentfast.get_num_threads()
    try:
        code = _train.main(TINY + ["--solver", solver, "--classes", classes, "--dtype", dtype,
                                   "--threads", "1"])
    finally:
        xentfast.set_num_threads(before)
    out, err = capsys.readouterr()
    assert code == 0
    assert f"400 x 3 {dtype}, {classes} classes; solver {solver}, 1 thread(s)" in out
    assert "training accuracy" in out and "ms per" in out
    resolved = linear_model.resolve_solver(solver, 4 if classes == "2" else 12)
    assert ("NumPy Newton's method" if resolved == "newton" else "NumPy gradient descent") in out
    # Not a terminal here: plain progress lines, no \r redraws.
    assert "\r" not in err and "rows/s" in err and err.endswith("\n")


def test_train_gd_matches_the_numpy_loop(capsys):
    # gd with its 1/L step never backtracks here, so both loops take the same steps.
    assert _train.main(TINY + ["--solver", "gd", "--alpha", "0.01"]) == 0
    lines = capsys.readouterr().out.splitlines()
    ours = next(line for line in lines if line.startswith("gd:"))
    numpy_line = next(line for line in lines if line.startswith("NumPy"))
    final = ours.split("final loss ")[1].split(",")[0]
    assert numpy_line.split("final loss ")[1].split(",")[0] == final


def test_train_newton_matches_the_numpy_newton(capsys):
    assert _train.main(TINY + ["--solver", "newton", "--alpha", "0.01"]) == 0
    lines = capsys.readouterr().out.splitlines()
    ours = next(line for line in lines if line.startswith("newton:"))
    numpy_line = next(line for line in lines if line.startswith("NumPy"))
    final = ours.split("final loss ")[1].split(",")[0]
    assert numpy_line.split("final loss ")[1].split(",")[0] == final


@pytest.mark.parametrize("data", ["ill-conditioned", "sparse"])
def test_train_on_harder_synthetic_data(data, capsys):
    if data == "sparse":
        pytest.importorskip("scipy.sparse")
    assert _train.main(["--data", data, "--n-samples", "2000", "--n-features", "300",
                        "--threads", "1"]) == 0
    out = capsys.readouterr().out
    assert "(converged)" in out and "training accuracy" in out


def test_train_on_bundled_data(capsys):
    pytest.importorskip("sklearn.datasets")
    assert _train.main(["--data", "iris", "--max-iter", "50"]) == 0
    out = capsys.readouterr().out
    assert "iris data set, standardised: 150 x 4 float64, 3 classes" in out
    accuracy = float(out.split("training accuracy ")[1].split()[0])
    assert accuracy > 0.9


def test_train_plot(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    path = tmp_path / "loss.png"
    assert _train.main(TINY + ["--plot", str(path)]) == 0
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert f"loss curves written to {path}" in capsys.readouterr().out


def test_train_bundled_data_without_sklearn(monkeypatch, capsys):
    monkeypatch.setattr(_train, "load_bundled", lambda name, dtype: None)
    assert _train.main(["--data", "wine"]) == 2
    assert "--data wine needs scikit-learn" in capsys.readouterr().err


def test_train_plot_without_matplotlib(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(_train, "_matplotlib_figure", lambda: None)
    path = tmp_path / "loss.png"
    assert _train.main(TINY + ["--plot", str(path)]) == 2
    assert "--plot needs matplotlib" in capsys.readouterr().err
    assert not path.exists()


def test_train_synthetic_data_follow_the_model():
    X, y, logits = _datasets.make_synthetic(20_000, 4, 3, np.float32, seed=1)
    assert X.dtype == np.float32 and X.shape == (20_000, 4) and logits.shape == (20_000, 3)
    # Each class is drawn with its softmax probability: compare the mean frequencies.
    np.testing.assert_allclose(np.bincount(y, minlength=3) / len(y),
                               xentfast.softmax(logits, axis=1).mean(axis=0), atol=0.01)
    again = _datasets.make_synthetic(20_000, 4, 3, np.float32, seed=1)
    np.testing.assert_array_equal(again[1], y)   # a fixed seed gives the same data


def test_progress_bar_draws_one_line():
    stream = io.StringIO()
    bar = _train.ProgressBar(max_iter=4, n_rows=1000, stream=stream, interval=0.0, width=8,
                             terminal=True)
    for iteration in range(5):
        bar(iteration, 1.0 / (iteration + 1), 10.0 ** -iteration)
    bar.finish()
    text = stream.getvalue()
    assert text.count("\n") == 1 and text.endswith("\n")
    last = text.rstrip("\n").split("\r")[-1]
    assert last.startswith("    4/4 [########] loss 0.20000000  |grad|max 1.00e-04")
    assert last.rstrip().endswith("rows/s")
    assert bar.seconds_per_iteration() > 0


@pytest.mark.parametrize("y", [
    np.array([3, 1, 3, 7, 1]), np.array([True, False, True]), np.array([-5, 2**40, 7]),
    np.array([2**63 + 5, 3], dtype=np.uint64), np.array(["b", "a", "b"]),
    np.array([0.0, 1.0, 0.0]), np.array([4, 4], dtype=np.uint8)])
def test_label_encoding_is_numpy_unique(y):
    from xentfast._labels import encode_labels
    classes, indices = encode_labels(y)
    expected_classes, expected_indices = np.unique(y, return_inverse=True)
    np.testing.assert_array_equal(classes, expected_classes)
    assert classes.dtype == expected_classes.dtype
    np.testing.assert_array_equal(indices, expected_indices)
