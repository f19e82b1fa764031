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
    r"""Fit LogisticRegression's objective along a decreasing sequence of penalties.

    Each fit starts from the previous one's coefficients (warm starts), so the
    whole path costs little more than its last fit.  A function rather than a
    cross-validating estimator: the path is the primitive, and choosing alpha by
    cross-validation is a loop over folds with scikit-learn's tools.

    Parameters
    ----------
    X : array_like or scipy.sparse matrix of shape (n_samples, n_features)
        Finite real numbers, dense or sparse, as for :class:`LogisticRegression`.
    y : array_like of shape (n_samples,)
        Class labels, at least two distinct ones.
    alphas : array_like, optional
        The penalties, fitted from the largest to the smallest.  Without them,
        ``n_alphas`` values from alpha_max down to ``eps`` · alpha_max, evenly on
        a log scale.
    l1_ratio : float, default 0.0
        The share of the penalty that is L1, in [0, 1].
    n_alphas : int, default 20
        How many penalties when ``alphas`` is not given.
    eps : float, default 1e-3
        The smallest penalty of the grid, relative to alpha_max, in (0, 1].
    sample_weight : array_like of shape (n_samples,), optional
        Weights ≥ 0, not all 0.
    class_weight : None, "balanced" or dict, default None
        Weights of the classes, as for :class:`LogisticRegression`.
    fit_intercept : bool, default True
        Whether to fit intercepts (they are not penalised).
    solver : str, default "auto"
        As for :class:`LogisticRegression`; it must take an L1 penalty when
        ``l1_ratio`` > 0.
    max_iter : int, default 100
        The most iterations of each fit.
    tol : float, default 1e-4
        Each fit's tolerance on the (sub)gradient's max-norm.

    Returns
    -------
    RegularisationPath
        A dataclass with ``alphas`` (n_alphas,), ``coef`` (n_alphas, k,
        n_features), ``intercept`` (n_alphas, k), ``objective`` and ``n_iter``
        (n_alphas,) along the path, ``classes`` and the ``solver`` that ran;
        k = 1 for two classes.

    Raises
    ------
    ValueError
        For bad data (as :meth:`LogisticRegression.fit`), a negative or
        non-finite alpha, a bad ``n_alphas``, ``eps`` or ``l1_ratio``, or a solver
        that cannot take the L1 penalty asked for.

    See Also
    --------
    LogisticRegression

    Notes
    -----
    .. math::

       \frac{\sum_i s_i\, \mathrm{CE}_i}{\sum_i s_i}
       + \alpha \left(\rho \lVert \mathrm{coef} \rVert_1
       + \frac{1 - \rho}{2} \lVert \mathrm{coef} \rVert^2\right)

    at each α, with ρ = ``l1_ratio``.  alpha_max is the smallest α whose L1 part
    keeps every coefficient at 0: the largest ``|∂f/∂coef|`` at the intercept-only
    model, divided by ρ (for ρ = 0, by 1e-3, glmnet's convention).  The fits
    share one pass-based objective over X; the intercept-only start is exact
    (the weighted log-odds or log-frequencies of the classes).

    Examples
    --------
    >>> import numpy as np
    >>> import xentfast
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(300, 5))
    >>> y = (X[:, 0] - 0.5 * X[:, 1] + 0.3 * rng.normal(size=300) > 0).astype(int)
    >>> path = xentfast.logistic_regression_path(X, y, l1_ratio=1.0, n_alphas=5)
    >>> path.coef.shape
    (5, 1, 5)
    >>> (path.coef[:, 0] != 0).sum(axis=1)      # the lasso lets features in one by one
    array([0, 2, 4, 5, 5])
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
