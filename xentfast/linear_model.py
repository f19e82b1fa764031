"""Logistic and softmax regression: the objective's checks and the solvers' dispatch.

Layer 3: checks and layout for the in-memory objective (``_linear``) and the
solvers (``_solvers``); the scikit-learn-style estimator is in
``logistic_regression.py``.

The objective, for weights w = (coef, intercept) and sample weights s:

    Σ_i s_i CE_i / Σ_i s_i + α/2 ||coef||²

with CE_i the binary cross-entropy of σ(x_i·coef + b) (binary) or the softmax
cross-entropy of x_i coefᵀ + b (multinomial).  The intercept is not penalised.
It equals scikit-learn's LogisticRegression objective with C = 1 / (α Σ_i s_i).

X may be dense (float32 or float64, C or Fortran order, never copied when
contiguous) or a scipy.sparse matrix or array: CSR is used as it is, other
formats (CSC, COO, ...) are converted to CSR once.
"""
import numbers
import sys
from dataclasses import dataclass

import numpy as np

from xentfast import _checks, _penalised, _solvers, _validate
from xentfast._kernels import _linear
from xentfast._config import get_num_threads

SOLVERS = ("auto", "newton", "newton-cg", "newton-cd", "lbfgs", "gd", "nesterov", "sgd")
# The solvers that take an L1 penalty (l1_ratio > 0), by their proximal variants.
L1_SOLVERS = ("auto", "newton", "newton-cd", "gd", "nesterov")

# solver="auto" takes Newton's method with a Hessian matrix up to this many
# parameters (k (d + 1)): beyond it, forming and factorising H costs more than
# the conjugate-gradient steps of newton-cg.
NEWTON_MAX_PARAMS = 500


# --- argument checks --------------------------------------------------------

def is_sparse(X):
    """scipy.sparse matrices and arrays, recognised without importing scipy."""
    return hasattr(X, "tocsr") and hasattr(X, "nnz") and hasattr(X, "format")


@dataclass(frozen=True)
class SparseRows:
    """A checked CSR matrix: float32/float64 data, int32 or int64 indices and
    indptr (one type), every index in [0, n_features), indptr non-decreasing."""
    data: np.ndarray
    indices: np.ndarray
    indptr: np.ndarray
    shape: tuple

    @property
    def dtype(self):
        return self.data.dtype

    def kernel_form(self):
        return ("csr", self.data, self.indices, self.indptr)

    def to_scipy(self):
        from scipy import sparse
        return sparse.csr_array((self.data, self.indices, self.indptr), shape=self.shape)

    def __matmul__(self, other):
        return self.to_scipy() @ other


def _check_shape(shape):
    if len(shape) != 2:
        raise ValueError(f"X must be a 2-D array (n_samples, n_features), got shape {shape}")
    if min(shape) == 0:
        what = "sample" if shape[0] == 0 else "feature"
        raise ValueError(f"X has 0 {what}(s) (shape={shape}) while a minimum of 1 "
                         f"is required.")


def _prepare_sparse(X):
    """A scipy.sparse X as SparseRows (CSR; other formats converted once)."""
    shape = tuple(int(n) for n in X.shape)
    _check_shape(shape)
    if X.format != "csr":
        X = X.tocsr()
    data = _checks.as_real_array(X.data, "X")
    indices, indptr = np.asarray(X.indices), np.asarray(X.indptr)
    if indices.dtype.kind not in "iu" or indptr.dtype.kind not in "iu":
        raise ValueError("the CSR indices and indptr of X must be integer arrays")
    index_type = (np.int32 if indices.dtype.itemsize <= 4 and indptr.dtype.itemsize <= 4
                  and max(shape) < 2**31 else np.int64)
    # aligned too: the kernels read them through typed pointers
    indices = np.require(indices, index_type, ("C", "A"))
    indptr = np.require(indptr, index_type, ("C", "A"))
    data = np.ascontiguousarray(data)
    if indptr.shape != (shape[0] + 1,):
        raise ValueError(f"X's CSR indptr has {indptr.size} entries for {shape[0]} rows")
    problem = _validate.csr_structure_error(indptr, indices, shape[1], data.shape[0])
    if problem:
        raise ValueError(f"X is not a valid CSR matrix: {problem}")
    if data.size == 0:
        data = np.zeros(1, data.dtype)  # the kernels take a data address; nothing reads it
        indices = np.zeros(1, index_type)
    return SparseRows(data, indices, indptr, shape)


def _prepare_X(X):
    """X as a 2-D float32/float64 ndarray, C- or F-contiguous (copied only
    otherwise), or, for scipy.sparse input, as SparseRows."""
    if isinstance(X, SparseRows):
        return X
    if is_sparse(X):
        return _prepare_sparse(X)
    X = _checks.as_real_array(X, "X")
    _check_shape(X.shape)
    if not (X.flags.c_contiguous or X.flags.f_contiguous):
        X = np.ascontiguousarray(X)
    return X


def _check_X_finite(X):
    if isinstance(X, SparseRows):
        flat = X.data[:X.indptr[-1]]
    else:
        order = "F" if X.flags.f_contiguous and not X.flags.c_contiguous else "C"
        flat = X.reshape(-1, order=order)
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
    """Checked float64 weights, or None.  Rescaled by their largest value when
    their sum would overflow or be subnormal: the objective divides by that sum,
    so it is the same (up to rounding), and its gradient stays finite."""
    if sample_weight is None:
        return None
    sw = _checks.as_dtype(sample_weight, "sample_weight", np.float64)
    if sw.ndim == 0:
        sw = np.full(n_samples, float(sw))
    if sw.shape != (n_samples,):
        raise ValueError(f"sample_weight must have shape ({n_samples},) to match X, "
                         f"got {sw.shape}")
    _checks.check_weights(sw, "sample_weight")
    largest = sw.max()
    if largest == 0:
        raise ValueError("sample_weight is zero everywhere: the mean loss is undefined")
    if not 1e-290 < largest < 1e290 / n_samples:
        sw = sw / largest
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


def make_objective(X, targets, n_classes, sample_weight=None, alpha=0.0, fit_intercept=True):
    """The in-memory objective of checked inputs (from ``_prepare_X`` and the
    target and weight checks above), on the current thread count."""
    n_samples, n_features = X.shape
    data = X.kernel_form() if isinstance(X, SparseRows) else X
    return _linear.InMemoryObjective(data, n_samples, n_features, targets, sample_weight,
                                     _check_alpha(alpha), bool(fit_intercept), n_classes,
                                     get_num_threads())


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
    X : array_like or scipy.sparse matrix
        The samples, shape (n, d), finite.  Dense float32 or float64 in C or F
        order is read as it is (never copied); other dense input is converted;
        sparse X is read in CSR form.
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
    objective = make_objective(X, targets, n_classes, _sample_weight(sample_weight, n_samples),
                               alpha, fit_intercept)
    loss, grad = objective.loss_and_grad(w)
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
    step: float               # the step size of gd, nesterov, sgd (sgd: the initial one)
    solver: str               # the solver that ran ("auto" resolved)


def _seed(random_state):
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(2**63))
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(2**31 - 1))
    if random_state is None or isinstance(random_state, numbers.Integral):
        return int(np.random.default_rng(random_state).integers(2**63))
    raise ValueError(f"random_state must be None, an int or a numpy generator, "
                     f"got {random_state!r}")


def check_solver(solver):
    if not (isinstance(solver, str) and solver in SOLVERS):
        raise ValueError(f"solver must be one of {SOLVERS}, got {solver!r}")


def check_l1_ratio(l1_ratio, solver):
    if not (isinstance(l1_ratio, numbers.Real) and 0.0 <= l1_ratio <= 1.0):
        raise ValueError(f"l1_ratio must be a number in [0, 1], got {l1_ratio!r}")
    if l1_ratio > 0 and solver not in L1_SOLVERS:
        raise ValueError(f"solver={solver!r} does not take an L1 penalty (l1_ratio="
                         f"{l1_ratio}); use one of {L1_SOLVERS}")
    return float(l1_ratio)


def resolve_solver(solver, n_params, l1_ratio=0.0, n_classes=1, in_memory=True):
    """The solver that "auto" stands for: Newton's method with a Hessian matrix
    up to NEWTON_MAX_PARAMS parameters; beyond, trust-region Newton-CG, or with
    an L1 penalty coordinate-wise Newton (binary, X in memory) or FISTA."""
    if solver != "auto":
        return solver
    if n_params <= NEWTON_MAX_PARAMS:
        return "newton"
    if l1_ratio == 0:
        return "newton-cg"
    return "newton-cd" if n_classes == 1 and in_memory else "nesterov"


def column_form(X):
    """What coordinate_newton reads X's columns from: None for dense X (read in
    place through its strides), else a CSC copy (float64 data, int32 row indices,
    int64 column starts)."""
    if not isinstance(X, SparseRows):
        return None
    if X.shape[0] >= 2**31:
        raise ValueError("newton-cd takes at most 2**31 - 1 samples of sparse X")
    csc = X.to_scipy().tocsc()
    csc.sum_duplicates()
    return (np.ascontiguousarray(csc.data, dtype=np.float64),
            np.ascontiguousarray(csc.indices, dtype=np.int32),
            np.ascontiguousarray(csc.indptr, dtype=np.int64))


def _count(value, name):
    """An iteration count or size: an integer >= 0, capped at the largest C index."""
    if not (isinstance(value, numbers.Integral) and not isinstance(value, bool) and value >= 0):
        raise ValueError(f"{name} must be an integer >= 0, got {value!r}")
    return min(int(value), sys.maxsize)


def fit_logistic(X, targets, n_classes, *, sample_weight=None, alpha=0.0, l1_ratio=0.0,
                 fit_intercept=True, solver="auto", learning_rate="auto", max_iter=100,
                 tol=1e-4, batch_size=256, random_state=None, callback=None, coef_init=None):
    """Minimise the objective from zero (or ``coef_init``) with one of SOLVERS:

        Σ s_i CE_i / Σ s_i + alpha (l1_ratio ||coef||₁ + (1 - l1_ratio)/2 ||coef||²)

    ``X`` comes from ``_prepare_X``; nan or inf in X raise ValueError (found by
    the first pass, which then gives nan, rather than by a pass of its own;
    sgd checks first).  ``targets`` are float64 in [0, 1] (n_classes == 1) or
    intp class indices.
    ``callback(iteration, loss, grad_max)`` is called once per iteration; an
    exception it raises (or a KeyboardInterrupt) stops the fit and propagates.
    """
    check_solver(solver)
    l1_ratio = check_l1_ratio(l1_ratio, solver)
    alpha = _check_alpha(alpha)
    n_samples, n_features = X.shape
    objective = make_objective(X, targets, n_classes, sample_weight,
                               alpha * (1.0 - l1_ratio), fit_intercept)
    solver = resolve_solver(solver, objective.n_params, l1_ratio, n_classes)
    width = n_features + bool(fit_intercept)
    w = np.zeros(n_classes * width) if coef_init is None else np.array(
        coef_init, dtype=np.float64).reshape(-1)
    if solver == "sgd":
        _check_X_finite(X)
    result = run_solver(objective, w, solver, l1=alpha * l1_ratio, learning_rate=learning_rate,
                        max_iter=max_iter, tol=tol, batch_size=batch_size,
                        random_state=random_state, callback=callback,
                        columns=lambda: column_form(X))
    if result.loss_curve.size and not np.isfinite(result.loss_curve[0]):
        _check_X_finite(X)
    return result


def run_solver(objective, w, solver, *, l1=0.0, learning_rate="auto", max_iter=100, tol=1e-4,
               batch_size=256, random_state=None, callback=None, columns=None):
    """Run a resolved solver on an Objective from w (updated in place); ``l1``: the
    L1 penalty's strength (alpha * l1_ratio) on top of the objective.
    ``columns()``: X's column form for newton-cd (see column_form), asked only
    when that solver runs."""
    max_iter = _count(max_iter, "max_iter")
    if not (isinstance(tol, numbers.Real) and tol >= 0):
        raise ValueError(f"tol must be a number >= 0, got {tol!r}")
    tol = float(tol)
    batch_size = _count(batch_size, "batch_size")
    if batch_size < 1:
        raise ValueError(f"batch_size must be an integer >= 1, got {batch_size!r}")
    fixed_step = not (isinstance(learning_rate, str) and learning_rate == "auto")
    if fixed_step and not (isinstance(learning_rate, numbers.Real) and learning_rate > 0
                           and np.isfinite(learning_rate)):
        raise ValueError(f'learning_rate must be "auto" or a positive number, '
                         f"got {learning_rate!r}")
    progress = _solvers.Progress(callback)
    step = float(learning_rate) if fixed_step else np.nan
    if solver in ("gd", "nesterov", "sgd") and not fixed_step:
        bound = _solvers.lipschitz_bound(objective)
        # L = 0: the objective is constant (X = 0 without an intercept); any step will do.
        step = 1.0 / bound if bound > 0 else 1.0
    if solver == "newton-cd":
        if objective.n_classes != 1 or columns is None:
            raise ValueError("Only binary classification is supported by solver='newton-cd' "
                             "(on data in memory); use 'newton' or 'nesterov' for multinomial "
                             "models")
        n_iter, grad_max = _linear.coordinate_newton(objective, w, l1, columns(), max_iter,
                                                     tol, progress)
    elif l1 > 0:
        if solver == "newton":
            objective.reserve_hessian()
            n_iter, grad_max = _penalised.proximal_newton(objective, w, l1, max_iter, tol,
                                                          progress)
        elif solver == "gd":
            n_iter, grad_max = _penalised.proximal_gradient(objective, w, l1, step,
                                                            not fixed_step, max_iter, tol,
                                                            progress)
        else:
            n_iter, grad_max = _penalised.fista(objective, w, l1, step, max_iter, tol, progress)
    elif solver == "newton":
        objective.reserve_hessian()
        n_iter, grad_max = _solvers.newton(objective, w, max_iter, tol, progress)
    elif solver == "newton-cg":
        objective.reserve_curvature()
        n_iter, grad_max = _solvers.newton_cg(objective, w, max_iter, tol, progress)
    elif solver == "lbfgs":
        n_iter, grad_max = _solvers.lbfgs(objective, w, max_iter, tol, progress)
    elif solver == "gd":
        n_iter, grad_max = _solvers.gradient_descent(objective, w, step, not fixed_step,
                                                       max_iter, tol, progress)
    elif solver == "nesterov":
        n_iter, grad_max = _solvers.nesterov(objective, w, step, max_iter, tol, progress)
    else:
        n_iter, change = _solvers.stochastic_gradient_descent(
            objective, w, step, batch_size, max_iter, tol, _seed(random_state), progress)
        return FitResult(w.reshape(objective.n_classes, -1), n_iter, progress.curve(), np.nan,
                         change <= tol, step, solver)
    return FitResult(w.reshape(objective.n_classes, -1), n_iter, progress.curve(), grad_max,
                     grad_max <= tol, step, solver)
