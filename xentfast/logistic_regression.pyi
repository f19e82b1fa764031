# Types of xentfast.logistic_regression.  With scikit-learn installed,
# LogisticRegression also derives from its BaseEstimator and ClassifierMixin
# (and so has their other methods, e.g. set_fit_request); the stub declares
# what xentfast provides with or without it.  The exception and warning
# classes are scikit-learn's when it is installed, fallbacks of the same
# bases otherwise.
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from typing_extensions import Self

class NotFittedError(ValueError, AttributeError): ...
class ConvergenceWarning(UserWarning): ...
class DataConversionWarning(UserWarning): ...

_Solver = Literal["auto", "newton", "newton-cg", "newton-cd", "lbfgs", "gd", "nesterov", "sgd"]
_RandomState = int | np.random.Generator | np.random.RandomState | None

class LogisticRegression:
    alpha: float
    l1_ratio: float
    fit_intercept: bool
    solver: _Solver
    learning_rate: Literal["auto"] | float
    max_iter: int
    tol: float
    batch_size: int
    class_weight: Literal["balanced"] | dict[Any, float] | None
    warm_start: bool
    random_state: _RandomState
    verbose: int
    # Set by fit.
    classes_: npt.NDArray[Any]
    coef_: npt.NDArray[np.float64]
    intercept_: npt.NDArray[np.float64]
    n_iter_: int
    loss_curve_: npt.NDArray[np.float64]
    solver_: str
    n_features_in_: int
    feature_names_in_: npt.NDArray[np.object_]
    def __init__(
        self, alpha: float = 0.0, l1_ratio: float = 0.0, fit_intercept: bool = True,
        solver: _Solver = "auto", learning_rate: Literal["auto"] | float = "auto",
        max_iter: int = 100, tol: float = 1e-4, batch_size: int = 256,
        class_weight: Literal["balanced"] | dict[Any, float] | None = None,
        warm_start: bool = False, random_state: _RandomState = None, verbose: int = 0,
    ) -> None: ...
    def fit(self, X: Any, y: npt.ArrayLike,
            sample_weight: npt.ArrayLike | None = None) -> Self: ...
    def __sklearn_tags__(self) -> Any: ...
    def sparsify(self) -> Self: ...
    def densify(self) -> Self: ...
    def decision_function(self, X: Any) -> npt.NDArray[np.floating[Any]]: ...
    def predict(self, X: Any) -> npt.NDArray[Any]: ...
    def predict_proba(self, X: Any) -> npt.NDArray[np.floating[Any]]: ...
    def predict_log_proba(self, X: Any) -> npt.NDArray[np.floating[Any]]: ...
    def score(self, X: Any, y: npt.ArrayLike,
              sample_weight: npt.ArrayLike | None = None) -> float: ...
    def get_params(self, deep: bool = True) -> dict[str, Any]: ...
    def set_params(self, **params: Any) -> Self: ...
