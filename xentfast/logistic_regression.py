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
    """Logistic (two classes) or softmax (k > 2 classes) regression.

    Minimises the weighted mean cross-entropy plus ``alpha/2 ||coef||²`` (the
    intercept is not penalised); this is scikit-learn's objective with
    ``C = 1 / (alpha * sum of sample weights)``.

    Parameters
    ----------
    alpha : float >= 0
        L2 penalty on the mean loss.  0 fits the article's unpenalised model;
        on separable data the coefficients then grow until ``tol`` is met.
    fit_intercept : bool
    solver : {"lbfgs", "gd", "nesterov", "sgd"}
        ``linear_model.SOLVERS``; lbfgs needs the fewest passes over X.
    learning_rate : "auto" or float
        Step of gd, nesterov and sgd; "auto" is 1/L with L bounded from the data.
    max_iter : int
        Iterations (epochs for sgd).
    tol : float
        Stop when the gradient's max-norm is at most tol (sgd: the relative
        change of the epoch loss).
    batch_size : int
        Mini-batch rows for sgd.
    random_state : None, int or numpy generator
        Seeds the sgd shuffles.
    verbose : int
        > 0 prints the loss and gradient max-norm of every iteration.

    Attributes
    ----------
    classes_, coef_ (1, d) or (k, d), intercept_ (1,) or (k,), n_iter_,
    loss_curve_ (the objective at the start and after every iteration; for
    sgd the mean mini-batch loss of every epoch), n_features_in_, and
    feature_names_in_ after fitting a DataFrame with string column names
    (with scikit-learn >= 1.6).
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
        return tags

    # --- fitting -----------------------------------------------------------

    def fit(self, X, y, sample_weight=None):
        """Fit to X (n, d) and class labels y (n,); returns self."""
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
        """The logits: (n,) for two classes (positive favours classes_[1]), else (n, k)."""
        if _is_dask_collection(X):
            return _predict_lazily(self, "decision_function", X)
        X = self._check_X(X, reset=False)
        scores = X @ self.coef_.T
        scores = _dense(scores) + self.intercept_
        return scores[:, 0] if self.classes_.size == 2 else scores

    def predict(self, X):
        """The most probable class of every row of X."""
        if _is_dask_collection(X):
            return _predict_lazily(self, "predict", X)
        scores = self.decision_function(X)
        if scores.ndim == 1:
            return self.classes_[(scores > 0).astype(np.intp)]
        return self.classes_[np.argmax(scores, axis=1)]

    def predict_proba(self, X):
        """Class probabilities (n, n_classes), columns in the order of classes_."""
        if _is_dask_collection(X):
            return _predict_lazily(self, "predict_proba", X)
        scores = self.decision_function(X)
        if scores.ndim == 1:
            return np.column_stack([sigmoid(-scores), sigmoid(scores)])
        return softmax(scores, axis=1)

    def predict_log_proba(self, X):
        """log predict_proba, computed without forming the probabilities."""
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
