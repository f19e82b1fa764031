"""LogisticRegression: a scikit-learn-style estimator over xentfast's solvers.

Layer 3 only: check the input, map class labels to indices, call
``linear_model.fit_logistic``, and turn its parameters into ``coef_`` and
``intercept_``.  The probabilities come from xentfast's sigmoid and softmax.

scikit-learn is optional.  When it is installed the estimator subclasses its
``BaseEstimator`` and ``ClassifierMixin`` (so ``clone``, pipelines and
``check_estimator`` work) and raises its exception and warning classes; without
it, small fallbacks give ``get_params``, ``set_params``, ``score`` and a repr.
"""
import inspect
import numbers
import warnings

import numpy as np

from xentfast import linear_model
from xentfast.activations import log_sigmoid, log_softmax, sigmoid, softmax

try:
    from sklearn.base import BaseEstimator, ClassifierMixin
    from sklearn.exceptions import ConvergenceWarning, DataConversionWarning, NotFittedError
except ImportError:
    class NotFittedError(ValueError, AttributeError):
        """Raised when an estimator is used before ``fit`` (as scikit-learn's is)."""

    class ConvergenceWarning(UserWarning):
        """The solver stopped at ``max_iter`` before reaching ``tol``."""

    class DataConversionWarning(UserWarning):
        """The input was converted to the expected layout."""

    class BaseEstimator:
        """The parameters are the keyword arguments of ``__init__``, stored unchanged."""

        @classmethod
        def _get_param_names(cls):
            signature = inspect.signature(cls.__init__)
            return sorted(name for name in signature.parameters if name != "self")

        def get_params(self, deep=True):
            return {name: getattr(self, name) for name in self._get_param_names()}

        def set_params(self, **params):
            valid = self._get_param_names()
            for name, value in params.items():
                if name not in valid:
                    raise ValueError(f"invalid parameter {name!r} for {type(self).__name__}; "
                                     f"valid parameters are {valid}")
                setattr(self, name, value)
            return self

        def __repr__(self):
            # Like scikit-learn: only the parameters that differ from their default.
            defaults = inspect.signature(type(self).__init__).parameters
            changed = [f"{name}={value!r}" for name, value in self.get_params().items()
                       if not _same(value, defaults[name].default)]
            return f"{type(self).__name__}({', '.join(changed)})"

    class ClassifierMixin:
        def score(self, X, y, sample_weight=None):
            """The (weighted) fraction of samples whose class ``predict`` gets right."""
            return float(np.average(self.predict(X) == np.asarray(y), weights=sample_weight))

    def _same(a, b):
        return a is b or (type(a) is type(b) and a == b)

try:
    # scikit-learn >= 1.6: records feature_names_in_ for DataFrames and checks
    # that predict sees the same names; with skip_check_array it leaves X alone.
    from sklearn.utils.validation import validate_data as _check_feature_names
except ImportError:
    _check_feature_names = None


def _is_sparse(X):
    # scipy.sparse matrices and arrays, recognised without importing scipy.
    return hasattr(X, "tocsr") and hasattr(X, "nnz")


class LogisticRegression(ClassifierMixin, BaseEstimator):
    r"""Logistic (two classes) or softmax (k > 2 classes) regression.

    Fitted by xentfast's compiled solvers, which read X once per pass.  Follows
    scikit-learn's conventions (``fit``, ``predict``, ``predict_proba``,
    ``get_params``, ...) and passes its ``check_estimator``; scikit-learn itself
    stays optional.

    Parameters
    ----------
    alpha : float, default 0.0
        The L2 penalty α ≥ 0 on the mean loss.  0 fits the article's
        unpenalised model; on separable data the coefficients then grow until
        ``tol`` is met.
    fit_intercept : bool, default True
        Whether to fit intercepts (they are not penalised).
    solver : {"lbfgs", "gd", "nesterov", "sgd"}, default "lbfgs"
        "lbfgs" needs the fewest passes over X; "gd" is the article's gradient
        descent; "nesterov" is accelerated gradient descent with adaptive
        restart; "sgd" takes mini-batches reshuffled every epoch.
    learning_rate : "auto" or float, default "auto"
        The step of gd, nesterov and sgd.  "auto" is 1/L, with L an upper bound
        of the gradient's Lipschitz constant computed from the data (gd also
        backtracks); a float is applied exactly as given.
    max_iter : int, default 100
        The most iterations (epochs for sgd).
    tol : float, default 1e-4
        Stop when the gradient's max-norm is at most ``tol`` (sgd: when the
        relative change of the epoch loss is).
    batch_size : int, default 256
        Rows per mini-batch of sgd.
    random_state : None, int or numpy.random.Generator, default None
        Seeds sgd's shuffles.
    verbose : int, default 0
        > 0 prints the loss and the gradient's max-norm at every iteration.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The class labels seen by ``fit``, sorted.
    coef_ : ndarray of shape (1, n_features) or (n_classes, n_features)
        The coefficients: one row for two classes (its logit favours
        ``classes_[1]``), one per class otherwise.
    intercept_ : ndarray of shape (1,) or (n_classes,)
        The intercepts (zeros without ``fit_intercept``).
    n_iter_ : int
        The iterations (epochs for sgd) that ``fit`` took.
    loss_curve_ : ndarray
        The objective at the start and after every iteration; for sgd, the mean
        mini-batch loss of every epoch.
    n_features_in_ : int
        The number of features seen by ``fit``.
    feature_names_in_ : ndarray of shape (n_features,)
        The column names, after fitting a DataFrame with string column names
        (with scikit-learn ≥ 1.6).

    Raises
    ------
    ValueError
        From ``fit``: an unknown ``solver``, a bad parameter value, X that is
        not 2-D, empty or holds nan or inf, y of another length or with fewer
        than 2 classes, or bad sample weights.
    TypeError
        For sparse X (it is not supported).
    NotFittedError
        From the prediction methods before ``fit``.

    See Also
    --------
    logistic_loss_and_grad : the objective and its gradient.

    Notes
    -----
    ``fit`` minimises

    .. math::

       \frac{\sum_i s_i\, \mathrm{CE}_i}{\sum_i s_i}
       + \frac{\alpha}{2} \lVert \mathrm{coef} \rVert^2,

    scikit-learn's objective with C = 1 / (α Σ s_i), where CE_i is the
    cross-entropy of sample i under σ(x_i coefᵀ + b) (two classes) or
    softmax(x_i coefᵀ + b) (more).  Every pass computes the loss and the
    gradient together, with the cancellation-free forms of
    :func:`binary_cross_entropy_with_logits` and :func:`softmax_cross_entropy`
    (no nan or overflow at extreme logits).  Probabilities come from
    :func:`sigmoid` and :func:`softmax`, log-probabilities from
    :func:`log_sigmoid` and :func:`log_softmax`, so they are exact where the
    probabilities round to 0 or 1.  A ``ConvergenceWarning`` says when a solver
    stopped at ``max_iter`` before reaching ``tol``.

    Examples
    --------
    >>> import numpy as np
    >>> import xentfast
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 2))
    >>> y = (X[:, 0] - X[:, 1] > 0).astype(int)
    >>> model = xentfast.LogisticRegression(alpha=0.01).fit(X, y)
    >>> model.classes_, model.score(X, y)
    (array([0, 1]), 1.0)
    >>> np.round(model.predict_proba(X[:2]), 4)
    array([[0.3545, 0.6455],
           [0.2083, 0.7917]])
    """

    def __init__(self, alpha=0.0, fit_intercept=True, solver="lbfgs", learning_rate="auto",
                 max_iter=100, tol=1e-4, batch_size=256, random_state=None, verbose=0):
        self.alpha = alpha
        self.fit_intercept = fit_intercept
        self.solver = solver
        self.learning_rate = learning_rate
        self.max_iter = max_iter
        self.tol = tol
        self.batch_size = batch_size
        self.random_state = random_state
        self.verbose = verbose

    # --- fitting -----------------------------------------------------------

    def fit(self, X, y, sample_weight=None):
        """Fit the model to samples ``X`` and class labels ``y``.

        Parameters
        ----------
        X : array_like of shape (n_samples, n_features)
            Finite real numbers; float32 and float64 are used as they are.
        y : array_like of shape (n_samples,)
            Class labels of any sortable type, at least two distinct ones.
        sample_weight : array_like of shape (n_samples,), optional
            Weights ≥ 0, not all 0.

        Returns
        -------
        LogisticRegression
            ``self``, fitted.

        Raises
        ------
        ValueError
            For a bad parameter, X or y (see the class's Raises).
        """
        if self.solver not in linear_model.SOLVERS:
            # Before the data checks, so a typo fails fast.
            raise ValueError(f"solver must be one of {linear_model.SOLVERS}, "
                             f"got {self.solver!r}")
        if not (isinstance(self.verbose, numbers.Integral) and self.verbose >= 0):
            raise ValueError(f"verbose must be an integer >= 0, got {self.verbose!r}")
        X = self._check_X(X, reset=True)
        n_samples, n_features = X.shape
        y = _check_y(y, n_samples)
        classes, labels = np.unique(y, return_inverse=True)
        if classes.size < 2:
            raise ValueError(f"y has only one class ({classes[0]!r}); a classifier needs "
                             f"samples of at least 2 classes")
        sample_weight = linear_model._sample_weight(sample_weight, n_samples)

        binary = classes.size == 2
        # Binary: one logit for the second class, targets 0/1; else one row per class.
        targets = labels.astype(np.float64) if binary else labels.astype(np.intp)
        result = linear_model.fit_logistic(
            X, targets, 1 if binary else classes.size, sample_weight=sample_weight,
            alpha=self.alpha, fit_intercept=self.fit_intercept, solver=self.solver,
            learning_rate=self.learning_rate, max_iter=self.max_iter, tol=self.tol,
            batch_size=self.batch_size, random_state=self.random_state,
            callback=self._print_progress if self.verbose > 0 else None)
        if not result.converged and self.max_iter > 0:
            what = ("relative change of the epoch loss" if self.solver == "sgd"
                    else f"gradient max-norm {result.grad_max:.3g}")
            warnings.warn(f"{self.solver} stopped after max_iter={self.max_iter} iterations "
                          f"before reaching tol={self.tol} ({what}); increase max_iter, "
                          f"or standardise X", ConvergenceWarning, stacklevel=2)

        self.classes_ = classes
        self.coef_ = result.coef[:, :n_features].copy()
        self.intercept_ = (result.coef[:, n_features].copy() if self.fit_intercept
                           else np.zeros(result.coef.shape[0]))
        self.n_iter_ = int(result.n_iter)
        self.loss_curve_ = result.loss_curve
        return self

    def _print_progress(self, iteration, loss, grad_max):
        print(f"{self.solver} iteration {iteration:5d}: loss {loss:.10g}, "
              f"gradient max-norm {grad_max:.3e}", flush=True)

    # --- prediction --------------------------------------------------------

    def decision_function(self, X):
        """The logits: X coefᵀ + intercept.

        Parameters
        ----------
        X : array_like of shape (n_samples, n_features)

        Returns
        -------
        ndarray
            Shape (n_samples,) for two classes (positive favours ``classes_[1]``),
            else (n_samples, n_classes).
        """
        X = self._check_X(X, reset=False)
        scores = X @ self.coef_.T + self.intercept_
        return scores[:, 0] if self.classes_.size == 2 else scores

    def predict(self, X):
        """The most probable class of every row of X.

        Parameters
        ----------
        X : array_like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,)
            Labels from ``classes_``.
        """
        scores = self.decision_function(X)
        if scores.ndim == 1:
            return self.classes_[(scores > 0).astype(np.intp)]
        return self.classes_[np.argmax(scores, axis=1)]

    def predict_proba(self, X):
        """The class probabilities: σ of the logit (two classes) or softmax of the logits.

        Parameters
        ----------
        X : array_like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
            Columns in the order of ``classes_``; each row sums to 1.
        """
        scores = self.decision_function(X)
        if scores.ndim == 1:
            return np.column_stack([sigmoid(-scores), sigmoid(scores)])
        return softmax(scores, axis=1)

    def predict_log_proba(self, X):
        """log ``predict_proba``, computed with log_sigmoid / log_softmax.

        Exact where the probabilities round to 0 or 1 (``log(predict_proba(X))``
        would give -inf there).

        Parameters
        ----------
        X : array_like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
            Columns in the order of ``classes_``.
        """
        scores = self.decision_function(X)
        if scores.ndim == 1:
            return np.column_stack([log_sigmoid(-scores), log_sigmoid(scores)])
        return log_softmax(scores, axis=1)

    # --- input checks ------------------------------------------------------

    def _check_X(self, X, *, reset):
        """X as a finite float32/float64 (n, d) array; records or checks d."""
        if not reset and not hasattr(self, "coef_"):
            raise NotFittedError(f"This {type(self).__name__} instance is not fitted yet; "
                                 f"call 'fit' before using it")
        if _is_sparse(X):
            raise TypeError(f"{type(self).__name__} does not accept sparse input "
                            f"(got {type(X).__name__}); convert it with X.toarray()")
        original = X
        X = np.asarray(X)
        if X.dtype.kind == "c":
            raise ValueError(f"Complex data not supported: X has dtype {X.dtype}")
        if X.dtype == object:
            # Numbers stored as objects (e.g. from a mixed table); anything else
            # raises NumPy's TypeError naming the offending value's type.
            X = X.astype(np.float64)
        if X.ndim == 1:
            raise ValueError(f"X must be 2-D (n_samples, n_features), got shape {X.shape}. "
                             f"Reshape your data with X.reshape(-1, 1) if it has one feature, "
                             f"or X.reshape(1, -1) if it is one sample")
        X = linear_model._prepare_X(X)
        if _check_feature_names is not None:
            _check_feature_names(self, original, reset=reset, skip_check_array=True)
        if reset:
            self.n_features_in_ = X.shape[1]
        elif X.shape[1] != self.n_features_in_:
            raise ValueError(f"X has {X.shape[1]} features, but {type(self).__name__} is "
                             f"expecting {self.n_features_in_} features as input")
        linear_model._check_X_finite(X)  # last: a pass over all of X
        return X


def _check_y(y, n_samples):
    """y as a 1-D array of n_samples class labels (any type that np.unique can sort)."""
    if y is None:
        raise ValueError("LogisticRegression requires y to be passed, but the target y is None")
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        warnings.warn("A column-vector y was passed when a 1d array was expected. Please change "
                      "the shape of y to (n_samples,), for example using ravel().",
                      DataConversionWarning, stacklevel=3)
        y = y[:, 0]
    if y.ndim != 1:
        raise ValueError(f"y should be a 1d array of class labels, got shape {y.shape}")
    if y.shape[0] != n_samples:
        raise ValueError(f"X and y have different numbers of samples: X has {n_samples}, "
                         f"y has {y.shape[0]}")
    if y.dtype.kind == "c":
        raise ValueError(f"Complex data not supported: y has dtype {y.dtype}")
    if y.dtype.kind == "f":
        if not np.isfinite(y).all():
            raise ValueError("y contains nan or inf; class labels must be finite")
        if (y != np.round(y)).any():
            raise ValueError("Unknown label type: continuous. y holds non-integer numbers, "
                             "but a classifier needs class labels (ints, strings, ...)")
    return y
