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

class LogisticRegression:
    alpha: float
    fit_intercept: bool
    solver: Literal["lbfgs", "gd", "nesterov", "sgd"]
    learning_rate: Literal["auto"] | float
    max_iter: int
    tol: float
    batch_size: int
    random_state: int | np.random.Generator | np.random.RandomState | None
    verbose: int
    # Set by fit.
    classes_: npt.NDArray[Any]
    coef_: npt.NDArray[np.float64]
    intercept_: npt.NDArray[np.float64]
    n_iter_: int
    loss_curve_: npt.NDArray[np.float64]
    n_features_in_: int
    feature_names_in_: npt.NDArray[np.object_]
    def __init__(
        self, alpha: float = 0.0, fit_intercept: bool = True,
        solver: Literal["lbfgs", "gd", "nesterov", "sgd"] = "lbfgs",
        learning_rate: Literal["auto"] | float = "auto", max_iter: int = 100, tol: float = 1e-4,
        batch_size: int = 256,
        random_state: int | np.random.Generator | np.random.RandomState | None = None,
        verbose: int = 0,
    ) -> None: ...
    def fit(self, X: npt.ArrayLike, y: npt.ArrayLike,
            sample_weight: npt.ArrayLike | None = None) -> Self: ...
    def decision_function(self, X: npt.ArrayLike) -> npt.NDArray[np.floating[Any]]: ...
    def predict(self, X: npt.ArrayLike) -> npt.NDArray[Any]: ...
    def predict_proba(self, X: npt.ArrayLike) -> npt.NDArray[np.floating[Any]]: ...
    def predict_log_proba(self, X: npt.ArrayLike) -> npt.NDArray[np.floating[Any]]: ...
    def score(self, X: npt.ArrayLike, y: npt.ArrayLike,
              sample_weight: npt.ArrayLike | None = None) -> float: ...
    def get_params(self, deep: bool = True) -> dict[str, Any]: ...
    def set_params(self, **params: Any) -> Self: ...
