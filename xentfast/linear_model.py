"""Logistic and softmax regression fitted by gradient descent on the cross-entropy.

Layer 3: checks and layout for the fused kernel and the solvers (``_linear``);
the scikit-learn-style estimator is in ``logistic_regression.py``.

The objective, for weights w = (coef, intercept) and sample weights s:

    Σ_i s_i CE_i / Σ_i s_i + α/2 ||coef||²

with CE_i the binary cross-entropy of σ(x_i·coef + b) (binary) or the softmax
cross-entropy of x_i coefᵀ + b (multinomial).  The intercept is not penalised.
It equals scikit-learn's LogisticRegression objective with C = 1 / (α Σ_i s_i).
"""
import numbers
from dataclasses import dataclass

import numpy as np

from xentfast import _checks, _validate
from xentfast._kernels import _linear
from xentfast._config import get_num_threads

SOLVERS = ("lbfgs", "gd", "nesterov", "sgd")


# --- argument checks --------------------------------------------------------

def _prepare_X(X):
    """X as a 2-D float32/float64 array, C- or F-contiguous (copied only otherwise)."""
    X = _checks.as_real_array(X, "X")
    if X.ndim != 2:
        raise ValueError(f"X must be a 2-D array (n_samples, n_features), got shape {X.shape}")
    if min(X.shape) == 0:
        what = "sample" if X.shape[0] == 0 else "feature"
        raise ValueError(f"X has 0 {what}(s) (shape={X.shape}) while a minimum of 1 "
                         f"is required.")
    if not (X.flags.c_contiguous or X.flags.f_contiguous):
        X = np.ascontiguousarray(X)
    return X


def _check_X_finite(X):
    flat = X.reshape(-1, order="F" if X.flags.f_contiguous and not X.flags.c_contiguous else "C")
    first = _validate.first_nonfinite(flat)
    if first >= 0:
        raise ValueError(f"X contains nan or inf (found {float(flat[first])!r})")


def _binary_targets(y, n_samples):
    y = _checks.as_dtype(y, "y", np.float64)
    if y.shape != (n_samples,):
        raise ValueError(f"y must have shape ({n_samples},) to match X, got {y.shape}")
    _checks.check_unit_interval(y, "y", allow_nan=False)
    return np.ascontiguousarray(y)


def _class_labels(y, n_samples, n_classes):
    y = np.asarray(y)
    if y.dtype.kind not in "iu":
        raise ValueError(f"y must hold integer class indices for multinomial w, got dtype {y.dtype}")
    if y.shape != (n_samples,):
        raise ValueError(f"y must have shape ({n_samples},) to match X, got {y.shape}")
    return np.ascontiguousarray(_checks.class_index_targets(y, n_classes, None, (n_samples,)))


def _sample_weight(sample_weight, n_samples):
    if sample_weight is None:
        return None
    sw = _checks.as_dtype(sample_weight, "sample_weight", np.float64)
    if sw.ndim == 0:
        sw = np.full(n_samples, float(sw))
    if sw.shape != (n_samples,):
        raise ValueError(f"sample_weight must have shape ({n_samples},) to match X, "
                         f"got {sw.shape}")
    _checks.check_weights(sw, "sample_weight")
    if not sw.any():
        raise ValueError("sample_weight is zero everywhere: the mean loss is undefined")
    return np.ascontiguousarray(sw)


def _check_alpha(alpha):
    if not (isinstance(alpha, numbers.Real) and np.isfinite(alpha) and alpha >= 0):
        raise ValueError(f"alpha must be a finite number >= 0, got {alpha!r}")
    return float(alpha)


def _parameter_shape(w, n_features, fit_intercept):
    """(n_classes for the kernel: 1 binary or k, flat float64 parameters)."""
    w = _checks.as_dtype(w, "w", np.float64)
    width = n_features + bool(fit_intercept)
    what = f"{n_features} features" + (" plus the intercept" if fit_intercept else "")
    if w.ndim == 1:
        if w.shape != (width,):
            raise ValueError(f"binary w must have shape ({width},) for {what}, got {w.shape}")
        return 1, w
    if w.ndim == 2:
        if w.shape[1] != width or w.shape[0] < 2:
            raise ValueError(f"multinomial w must have shape (k >= 2, {width}) for {what}, "
                             f"got {w.shape}")
        return w.shape[0], w
    raise ValueError(f"w must be 1-D (binary) or 2-D (multinomial), got shape {w.shape}")


def logistic_loss_and_grad(w, X, y, *, sample_weight=None, alpha=0.0, fit_intercept=True):
    r"""The regularised mean cross-entropy of a logistic or softmax model, and its gradient.

    The objective that :class:`LogisticRegression` minimises, at parameters
    ``w``, from one pass over ``X``.

    Parameters
    ----------
    w : array_like
        Binary (logistic) model: shape (d,), or (d + 1,) with the intercept last.
        Multinomial (softmax) model: shape (k, d), or (k, d + 1) with the
        intercepts in the last column, k ≥ 2.  Converted to float64.
    X : array_like
        The samples, shape (n, d), finite; float32 or float64, C or F order, is
        read as it is (never copied); other input is converted.
    y : array_like
        Binary: targets in [0, 1] of shape (n,).  Multinomial: class indices
        0 … k - 1 of shape (n,) (an integer dtype).
    sample_weight : array_like, optional
        Weights ≥ 0 of shape (n,) (or a scalar), not all 0.
    alpha : float, default 0.0
        The L2 penalty α ≥ 0 on the coefficients (not on the intercept).
    fit_intercept : bool, default True
        Whether ``w`` holds intercepts.

    Returns
    -------
    loss : numpy.float64
        The objective.  Always float64, whatever X's dtype: the parameters and
        the gradient are float64, and like every loss of xentfast the loss has
        its gradient's dtype.
    grad : ndarray
        The gradient with respect to ``w``, float64, of w's shape.

    Raises
    ------
    ValueError
        If X is not 2-D, empty, or holds nan or inf; w's shape does not fit X
        (the expected shape is named); y has the wrong shape, lies outside
        [0, 1] (binary) or holds class indices outside [0, k) (multinomial);
        sample weights are negative, not finite or all 0; or alpha is negative
        or not finite.

    See Also
    --------
    LogisticRegression, binary_cross_entropy_with_logits, softmax_cross_entropy

    Notes
    -----
    .. math::

       f(w) = \frac{\sum_i s_i\, \mathrm{CE}_i}{\sum_i s_i}
              + \frac{\alpha}{2} \lVert \mathrm{coef} \rVert^2,
       \qquad
       \nabla_{\mathrm{coef}} f = \frac{X^\top \operatorname{diag}(s)\,(\hat{y} - y)}{\sum_i s_i}
              + \alpha\, \mathrm{coef}

    with CE_i the cross-entropy of sample i and ŷ = σ(X coefᵀ + b) (binary) or
    softmax(X coefᵀ + b) (multinomial).  This is scikit-learn's objective with
    C = 1 / (α Σ s_i).  The per-sample losses use the cancellation-free forms of
    :func:`binary_cross_entropy_with_logits` and :func:`softmax_cross_entropy`,
    so extreme logits give finite losses and exact gradients.  X is read once,
    in tiles of rows: each tile's logits, residuals and gradient contributions
    are formed while it is in cache.  The rows are split into a fixed number of
    chunks whose float64 sums are added in a fixed order, so the result does
    not depend on the thread count.

    Examples
    --------
    >>> import numpy as np
    >>> import xentfast
    >>> X = np.array([[0.0, 1.0], [1.0, 0.0], [1.0, 1.0], [0.0, 0.0]])
    >>> y = np.array([0.0, 1.0, 1.0, 0.0])
    >>> loss, grad = xentfast.logistic_loss_and_grad(np.zeros(3), X, y)
    >>> loss                                   # log 2 at w = 0
    np.float64(0.6931471805599453)
    >>> grad                                   # (coef_1, coef_2, intercept)
    array([-0.25,  0.  ,  0.  ])
    """
    X = _prepare_X(X)
    n_samples, n_features = X.shape
    n_classes, w = _parameter_shape(w, n_features, fit_intercept)
    targets = (_binary_targets(y, n_samples) if n_classes == 1
               else _class_labels(y, n_samples, n_classes))
    problem = _linear.LinearProblem(X, targets, _sample_weight(sample_weight, n_samples),
                                    _check_alpha(alpha), bool(fit_intercept), n_classes,
                                    get_num_threads())
    grad = np.empty(w.size)
    loss = problem.loss_and_grad(np.ascontiguousarray(w).reshape(-1), grad)
    if not (np.isfinite(loss) and np.isfinite(grad).all()):
        _check_X_finite(X)  # nan or inf in X shows up here, without a pass of its own
    return np.float64(loss), grad.reshape(w.shape)


# --- fitting ------------------------------------------------------------------

@dataclass
class FitResult:
    coef: np.ndarray          # (k, width) parameters, intercept in the last column (k = 1: binary)
    n_iter: int
    loss_curve: np.ndarray    # the objective at the start and after every iteration; sgd: the
                              # mean mini-batch loss of every epoch (no starting value)
    grad_max: float           # max |gradient| at the end (nan for sgd)
    converged: bool
    step: float               # the step size used (sgd: the initial one)


def _seed(random_state):
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(2**63))
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(2**31 - 1))
    if random_state is None or isinstance(random_state, numbers.Integral):
        return int(np.random.default_rng(random_state).integers(2**63))
    raise ValueError(f"random_state must be None, an int or a numpy generator, "
                     f"got {random_state!r}")


def fit_logistic(X, targets, n_classes, *, sample_weight=None, alpha=0.0, fit_intercept=True,
                 solver="lbfgs", learning_rate="auto", max_iter=100, tol=1e-4, batch_size=256,
                 random_state=None, callback=None, coef_init=None):
    """Minimise the objective from zero (or ``coef_init``) with one of SOLVERS.

    ``X`` comes from ``_prepare_X`` and has been checked to be finite;
    ``targets`` are float64 in [0, 1] (n_classes == 1) or intp class indices.
    ``callback(iteration, loss, grad_max)`` is called once per iteration.
    """
    if solver not in SOLVERS:
        raise ValueError(f"solver must be one of {SOLVERS}, got {solver!r}")
    if not (isinstance(max_iter, numbers.Integral) and max_iter >= 0):
        raise ValueError(f"max_iter must be an integer >= 0, got {max_iter!r}")
    if not (isinstance(tol, numbers.Real) and tol >= 0):
        raise ValueError(f"tol must be a number >= 0, got {tol!r}")
    if not (isinstance(batch_size, numbers.Integral) and batch_size >= 1):
        raise ValueError(f"batch_size must be an integer >= 1, got {batch_size!r}")
    fixed_step = not (isinstance(learning_rate, str) and learning_rate == "auto")
    if fixed_step and not (isinstance(learning_rate, numbers.Real) and learning_rate > 0
                           and np.isfinite(learning_rate)):
        raise ValueError(f'learning_rate must be "auto" or a positive number, '
                         f"got {learning_rate!r}")
    n_samples, n_features = X.shape
    problem = _linear.LinearProblem(X, targets, sample_weight, _check_alpha(alpha),
                                    bool(fit_intercept), n_classes, get_num_threads())
    width = n_features + bool(fit_intercept)
    w = np.zeros(n_classes * width) if coef_init is None else np.array(
        coef_init, dtype=np.float64).reshape(-1)
    progress = _linear.Progress(max_iter, callback)
    step = float(learning_rate) if fixed_step else np.nan
    if solver in ("gd", "nesterov", "sgd") and not fixed_step:
        step = 1.0 / _linear.lipschitz_bound(problem)
    if solver == "lbfgs":
        n_iter, grad_max = _linear.lbfgs(problem, w, max_iter, tol, progress)
    elif solver == "gd":
        n_iter, grad_max = _linear.gradient_descent(problem, w, step, not fixed_step,
                                                      max_iter, tol, progress)
    elif solver == "nesterov":
        n_iter, grad_max = _linear.nesterov(problem, w, step, max_iter, tol, progress)
    else:
        n_iter, change = _linear.stochastic_gradient_descent(
            problem, w, step, batch_size, max_iter, tol, _seed(random_state), progress)
        progress.raise_if_failed()
        return FitResult(w.reshape(n_classes, width), n_iter, progress.curve(), np.nan,
                         change <= tol, step)
    progress.raise_if_failed()
    return FitResult(w.reshape(n_classes, width), n_iter, progress.curve(), grad_max,
                     grad_max <= tol, step)
