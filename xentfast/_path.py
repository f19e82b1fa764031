"""The regularisation path: LogisticRegression's objective fitted at a decreasing
sequence of penalties, each fit starting from the last (warm starts).

A function rather than a cross-validating estimator: the path is the primitive
(as glmnet's and scikit-learn's ``lasso_path``), cheap because each fit starts
near its solution; choosing alpha by cross-validation is then a loop over folds
with scikit-learn's tools, and the caller keeps every coefficient on the way.
"""
from dataclasses import dataclass

import numpy as np

from xentfast import _labels, linear_model

# The ridge path's largest alpha is taken as for l1_ratio = 1e-3 (glmnet's convention).
SMALLEST_L1_RATIO_FOR_GRID = 1e-3


@dataclass
class RegularisationPath:
    """The fits along the path, in the order of ``alphas`` (decreasing)."""
    alphas: np.ndarray        # (n_alphas,)
    coef: np.ndarray          # (n_alphas, k, n_features); k = 1 for two classes
    intercept: np.ndarray     # (n_alphas, k)
    objective: np.ndarray     # (n_alphas,) the penalised objective reached at each alpha
    n_iter: np.ndarray        # (n_alphas,) solver iterations at each alpha
    classes: np.ndarray       # the class labels, sorted
    solver: str               # the solver that ran ("auto" resolved)


def null_model_parameters(targets, n_classes, sample_weight, n_features, fit_intercept):
    """Flat parameters of the intercept-only optimum: coefficients 0, intercepts the
    log-odds (binary) or centred log-frequencies (multinomial) of the weighted classes."""
    width = n_features + bool(fit_intercept)
    w = np.zeros((n_classes, width))
    if fit_intercept:
        s = np.ones(targets.shape[0]) if sample_weight is None else sample_weight
        if n_classes == 1:
            mean = np.clip(np.dot(s, targets) / s.sum(), 1e-300, 1 - 1e-16)
            w[0, -1] = np.log(mean) - np.log1p(-mean)
        else:
            frequencies = np.bincount(targets, weights=s, minlength=n_classes) / s.sum()
            logs = np.log(np.maximum(frequencies, 1e-300))
            w[:, -1] = logs - logs.mean()
    return w.reshape(-1)


def alpha_grid(objective, w_null, l1_ratio, n_alphas, eps):
    """n_alphas values from alpha_max down to eps·alpha_max, evenly on a log scale.
    alpha_max is the smallest alpha whose L1 part keeps every coefficient at 0:
    max |∂f/∂coef| at the null model, divided by l1_ratio."""
    objective.set_alpha(0.0)
    _, grad = objective.loss_and_grad(w_null)
    n_features = objective.n_features
    coef_grad = grad.reshape(objective.n_classes, -1)[:, :n_features]
    largest = np.max(np.abs(coef_grad)) / max(l1_ratio, SMALLEST_L1_RATIO_FOR_GRID)
    if not largest > 0:
        largest = 1.0  # a flat objective (no signal in X): any grid will do
    return np.geomspace(largest, largest * eps, n_alphas)


def logistic_regression_path(X, y, alphas=None, *, l1_ratio=0.0, n_alphas=20, eps=1e-3,
                             sample_weight=None, class_weight=None, fit_intercept=True,
                             solver="auto", max_iter=100, tol=1e-4):
    """Fit LogisticRegression's objective at each alpha, from the largest to the
    smallest, each fit starting from the previous one's coefficients.

    The objective is that of ``LogisticRegression(alpha, l1_ratio)``:
    Σ s_i CE_i / Σ s_i + alpha (l1_ratio ||coef||₁ + (1 - l1_ratio)/2 ||coef||²).
    Without ``alphas``, ``n_alphas`` values from alpha_max (for l1_ratio > 0 the
    smallest alpha at which every coefficient is 0; for l1_ratio = 0, that of
    l1_ratio = 1e-3) down to ``eps`` · alpha_max.  Returns a RegularisationPath.
    """
    linear_model.check_solver(solver)
    l1_ratio = linear_model.check_l1_ratio(l1_ratio, solver)
    X = linear_model._prepare_X(X)
    linear_model._check_X_finite(X)
    n_samples, n_features = X.shape
    y = _labels.check_y(y, n_samples)
    classes, labels = _labels.encode_labels(y)
    _labels.check_classes(classes)
    sample_weight = linear_model._sample_weight(sample_weight, n_samples)
    sample_weight = _labels.class_weighted(class_weight, classes, labels, sample_weight)
    n_classes = 1 if classes.size == 2 else classes.size
    targets = labels.astype(np.float64) if n_classes == 1 else labels.astype(np.intp)
    objective = linear_model.make_objective(X, targets, n_classes, sample_weight, 0.0,
                                            fit_intercept)
    w = null_model_parameters(targets, n_classes, sample_weight, n_features, fit_intercept)
    if alphas is None:
        if not (isinstance(n_alphas, int) and n_alphas >= 1):
            raise ValueError(f"n_alphas must be an integer >= 1, got {n_alphas!r}")
        if not 0 < eps <= 1:
            raise ValueError(f"eps must lie in (0, 1], got {eps!r}")
        alphas = alpha_grid(objective, w, l1_ratio, n_alphas, eps)
    else:
        alphas = np.sort(np.asarray(alphas, dtype=np.float64).reshape(-1))[::-1]
        for alpha in alphas:
            linear_model._check_alpha(float(alpha))
    solver = linear_model.resolve_solver(solver, objective.n_params, l1_ratio, n_classes)
    columns = linear_model.column_form(X) if solver == "newton-cd" else None
    coefs, objectives, n_iters = [], [], []
    for alpha in alphas:
        objective.set_alpha(alpha * (1.0 - l1_ratio))
        result = linear_model.run_solver(objective, w, solver, l1=alpha * l1_ratio,
                                         max_iter=max_iter, tol=tol, columns=lambda: columns)
        coefs.append(result.coef.copy())
        objectives.append(result.loss_curve[-1] if result.loss_curve.size else np.nan)
        n_iters.append(result.n_iter)
    params = np.array(coefs)                       # (n_alphas, k, width)
    intercept = (params[:, :, n_features] if fit_intercept
                 else np.zeros(params.shape[:2]))
    return RegularisationPath(alphas, params[:, :, :n_features], intercept,
                              np.array(objectives), np.array(n_iters), classes, solver)
