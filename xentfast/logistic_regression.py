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

from xentfast import _labels, linear_model
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


class LogisticRegression(ClassifierMixin, BaseEstimator):
    r"""Logistic (two classes) or softmax (k > 2 classes) regression.

    Fitted by xentfast's compiled solvers, which read X once per pass.  Follows
    scikit-learn's conventions (``fit``, ``predict``, ``predict_proba``,
    ``get_params``, ...) and passes its ``check_estimator``; scikit-learn itself
    stays optional.

    Parameters
    ----------
    alpha : float, default 0.0
        The penalty α ≥ 0 on the mean loss.  0 fits the article's unpenalised
        model; on separable data the coefficients then grow until ``tol`` is met.
    l1_ratio : float, default 0.0
        The share of the penalty that is L1, in [0, 1]: 0 is ridge (L2), 1 the
        lasso, between them the elastic net.
    fit_intercept : bool, default True
        Whether to fit intercepts (they are not penalised).
    solver : {"auto", "newton", "newton-cg", "newton-cd", "lbfgs", "gd", "nesterov", "sgd"}
        "auto" (the default) takes "newton" up to 500 parameters, beyond that
        "newton-cg", or with an L1 penalty "newton-cd" (binary) or "nesterov"
        (multinomial); ``solver_`` says which ran.  "newton" is Newton's method
        (proximal Newton with L1); "newton-cg" a trust-region truncated Newton;
        "newton-cd" coordinate-wise proximal Newton for wide binary L1 models;
        "lbfgs" L-BFGS; "gd" the article's gradient descent (ISTA with L1);
        "nesterov" accelerated gradient (FISTA with L1); "sgd" mini-batches
        reshuffled every epoch.
    learning_rate : "auto" or float, default "auto"
        The step of gd, nesterov and sgd.  "auto" is 1/L, with L an upper bound
        of the gradient's Lipschitz constant computed from the data (gd also
        backtracks); a float is applied exactly as given.
    max_iter : int, default 100
        The most iterations (epochs for sgd).
    tol : float, default 1e-4
        Stop when the gradient's max-norm (with L1: the smallest subgradient's)
        is at most ``tol`` (sgd: when the relative change of the epoch loss is).
    batch_size : int, default 256
        Rows per mini-batch of sgd.
    class_weight : None, "balanced" or dict, default None
        Weights of the classes, multiplied into the sample weights as
        scikit-learn does ("balanced": n / (k · the weight of each class)).
    warm_start : bool, default False
        Start a refit from the fitted ``coef_`` and ``intercept_``.
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
    solver_ : str
        The solver that ran ("auto" resolved).
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
       + \alpha \left(\rho \lVert \mathrm{coef} \rVert_1
       + \frac{1 - \rho}{2} \lVert \mathrm{coef} \rVert^2\right),

    with ρ = ``l1_ratio``: scikit-learn's objective with C = 1 / (α Σ s_i)
    (for ρ = 0), where CE_i is the
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

    def __init__(self, alpha=0.0, l1_ratio=0.0, fit_intercept=True, solver="auto",
                 learning_rate="auto", max_iter=100, tol=1e-4, batch_size=256,
                 class_weight=None, warm_start=False, random_state=None, verbose=0):
        self.alpha = alpha
        self.l1_ratio = l1_ratio
        self.fit_intercept = fit_intercept
        self.solver = solver
        self.learning_rate = learning_rate
        self.max_iter = max_iter
        self.tol = tol
        self.batch_size = batch_size
        self.class_weight = class_weight
        self.warm_start = warm_start
        self.random_state = random_state
        self.verbose = verbose

    def __sklearn_tags__(self):
        # scikit-learn >= 1.6 reads what input the estimator takes from its tags.
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        # sgd's step decays as 1/sqrt(epoch): within max_iter epochs it need not come
        # near the optimum when that is far from 0 (e.g. with extreme class weights).
        tags.classifier_tags.poor_score = self.solver == "sgd"
        # newton-cd fits binary models only (as scikit-learn's liblinear).
        tags.classifier_tags.multi_class = self.solver != "newton-cd"
        return tags

    # --- fitting -----------------------------------------------------------

    def fit(self, X, y, sample_weight=None):
        """Fit the model to samples ``X`` and class labels ``y``.

        Parameters
        ----------
        X : array_like or scipy.sparse matrix of shape (n_samples, n_features)
            Finite real numbers; dense float32 and float64 are used as they are,
            sparse X in CSR form.
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
        self._check_params()  # before the data checks: a typo fails fast
        if any(_is_dask_collection(a) for a in (X, y, sample_weight)):
            from xentfast import dask as xentfast_dask  # ImportError names the extra
            return xentfast_dask.fit_estimator(self, X, y, sample_weight)
        X = self._check_X(X, reset=True, finite=False)  # the first pass checks it
        n_samples, n_features = X.shape
        y = _labels.check_y(y, n_samples)
        classes, labels = _labels.encode_labels(y)
        _labels.check_classes(classes)
        sample_weight = linear_model._sample_weight(sample_weight, n_samples)
        sample_weight = _labels.class_weighted(self.class_weight, classes, labels, sample_weight)
        binary = classes.size == 2
        # Binary: one logit for the second class, targets 0/1; else one row per class.
        targets = labels.astype(np.float64) if binary else labels.astype(np.intp)
        objective = linear_model.make_objective(
            X, targets, 1 if binary else classes.size, sample_weight,
            self.alpha * (1.0 - self.l1_ratio), self.fit_intercept)
        return self._fit_objective(objective, classes,
                                   check_data=lambda: linear_model._check_X_finite(X),
                                   columns=lambda: linear_model.column_form(X))

    def _check_params(self):
        linear_model.check_solver(self.solver)
        linear_model.check_l1_ratio(self.l1_ratio, self.solver)
        linear_model._check_alpha(self.alpha)
        if not (isinstance(self.verbose, numbers.Integral) and self.verbose >= 0):
            raise ValueError(f"verbose must be an integer >= 0, got {self.verbose!r}")
        if not (self.class_weight is None or isinstance(self.class_weight, dict)
                or (isinstance(self.class_weight, str) and self.class_weight == "balanced")):
            raise ValueError(f'class_weight must be None, "balanced" or a dict, '
                             f"got {self.class_weight!r}")

    def _initial_parameters(self, n_rows, n_features):
        """Zeros, or with warm_start the fitted coef_ and intercept_ as flat parameters."""
        width = n_features + bool(self.fit_intercept)
        if not (self.warm_start and hasattr(self, "coef_")):
            return np.zeros(n_rows * width)
        coef = _dense(self.coef_)
        if coef.shape != (n_rows, n_features):
            raise ValueError(f"warm_start: the fitted coef_ has shape {coef.shape}, but this "
                             f"fit needs ({n_rows}, {n_features}); set warm_start=False or "
                             f"refit on data with the same classes and features")
        start = np.column_stack([coef, self.intercept_]) if self.fit_intercept else coef
        return np.array(start, dtype=np.float64).reshape(-1)

    def _fit_objective(self, objective, classes, check_data, columns=None):
        """Minimise ``objective`` (an Objective over the data, of this estimator's
        classes) with the estimator's solver and options, and set the fitted
        attributes.  ``check_data()`` raises the data's problem when the first
        pass gives nan; ``columns()`` gives X's column form for newton-cd (None:
        that solver is not available).  Shared by the in-memory and the Dask fits."""
        l1_ratio = float(self.l1_ratio)
        solver = linear_model.resolve_solver(self.solver, objective.n_params, l1_ratio,
                                             objective.n_classes, in_memory=columns is not None)
        n_features = objective.n_features
        w = self._initial_parameters(objective.n_classes, n_features)
        callback = self._progress_printer(solver) if self.verbose > 0 else None
        if solver == "sgd":
            check_data()
        result = linear_model.run_solver(
            objective, w, solver, l1=self.alpha * l1_ratio, learning_rate=self.learning_rate,
            max_iter=self.max_iter, tol=self.tol, batch_size=self.batch_size,
            random_state=self.random_state, callback=callback, columns=columns)
        if result.loss_curve.size and not np.isfinite(result.loss_curve[0]):
            check_data()
        if not result.converged and self.max_iter > 0:
            what = ("relative change of the epoch loss" if solver == "sgd"
                    else f"gradient max-norm {result.grad_max:.3g}")
            if result.n_iter >= linear_model._count(self.max_iter, "max_iter"):
                why = f"stopped after max_iter={self.max_iter} iterations"
                advice = "increase max_iter, or standardise X"
            else:
                why = (f"stopped after {result.n_iter} iterations, where no step decreased "
                       f"the objective any more at this precision,")
                advice = "tol is below what float64 can resolve here"
            warnings.warn(f"{solver} {why} before reaching tol={self.tol} ({what}); {advice}",
                          ConvergenceWarning, stacklevel=3)
        self.classes_ = classes
        self.coef_ = result.coef[:, :n_features].copy()
        self.intercept_ = (result.coef[:, n_features].copy() if self.fit_intercept
                           else np.zeros(result.coef.shape[0]))
        self.n_iter_ = int(result.n_iter)
        self.loss_curve_ = result.loss_curve
        self.solver_ = solver
        return self

    # --- sparse coefficients, as scikit-learn's linear models -----------------

    def sparsify(self):
        """Store coef_ as a scipy.sparse CSR matrix (worth it when most are 0, as with
        an L1 penalty); predictions are unchanged.  Returns self."""
        if not hasattr(self, "coef_"):
            raise NotFittedError(f"This {type(self).__name__} instance is not fitted yet; "
                                 f"call 'fit' before using it")
        from scipy import sparse
        self.coef_ = sparse.csr_matrix(self.coef_)
        return self

    def densify(self):
        """Store coef_ as a NumPy array again (the default after fit).  Returns self."""
        if not hasattr(self, "coef_"):
            raise NotFittedError(f"This {type(self).__name__} instance is not fitted yet; "
                                 f"call 'fit' before using it")
        self.coef_ = _dense(self.coef_)
        return self

    @staticmethod
    def _progress_printer(solver):
        def print_progress(iteration, loss, grad_max):
            print(f"{solver} iteration {iteration:5d}: loss {loss:.10g}, "
                  f"gradient max-norm {grad_max:.3e}", flush=True)
        return print_progress

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
        if _is_dask_collection(X):
            return _predict_lazily(self, "decision_function", X)
        X = self._check_X(X, reset=False)
        scores = X @ self.coef_.T
        scores = _dense(scores) + self.intercept_
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
        if _is_dask_collection(X):
            return _predict_lazily(self, "predict", X)
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
        if _is_dask_collection(X):
            return _predict_lazily(self, "predict_proba", X)
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
        if _is_dask_collection(X):
            return _predict_lazily(self, "predict_log_proba", X)
        scores = self.decision_function(X)
        if scores.ndim == 1:
            return np.column_stack([log_sigmoid(-scores), log_sigmoid(scores)])
        return log_softmax(scores, axis=1)

    # --- input checks ------------------------------------------------------

    def _check_X(self, X, *, reset, finite=True):
        """X as a finite float32/float64 (n, d) array; records or checks d."""
        if not reset and not hasattr(self, "coef_"):
            raise NotFittedError(f"This {type(self).__name__} instance is not fitted yet; "
                                 f"call 'fit' before using it")
        original = X
        if linear_model.is_sparse(X):
            X = linear_model._prepare_X(X)
            return self._checked_shape(X, original, reset, finite)
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
        return self._checked_shape(linear_model._prepare_X(X), original, reset, finite)

    def _checked_shape(self, X, original, reset, finite):
        if _check_feature_names is not None:
            _check_feature_names(self, original, reset=reset, skip_check_array=True)
        if reset:
            self.n_features_in_ = X.shape[1]
        elif X.shape[1] != self.n_features_in_:
            raise ValueError(f"X has {X.shape[1]} features, but {type(self).__name__} is "
                             f"expecting {self.n_features_in_} features as input")
        if finite:
            linear_model._check_X_finite(X)  # last: a pass over all of X
        return X


def _is_dask_collection(a):
    # Without importing Dask: its collections carry the __dask_graph__ protocol.
    return a is not None and hasattr(type(a), "__dask_graph__")


def _predict_lazily(estimator, method, X):
    # A Dask X: a lazy Dask array, each block predicted by the in-memory method.
    from xentfast import dask as xentfast_dask  # ImportError names the extra
    return xentfast_dask.predict_lazily(estimator, method, X)


def _dense(a):
    """A NumPy array of a dense or scipy.sparse one."""
    return a.toarray() if hasattr(a, "toarray") else np.asarray(a)
