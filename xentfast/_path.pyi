# Types of xentfast._path (logistic_regression_path is re-exported by xentfast).
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

SMALLEST_L1_RATIO_FOR_GRID: float

@dataclass
class RegularisationPath:
    alphas: npt.NDArray[np.float64]
    coef: npt.NDArray[np.float64]
    intercept: npt.NDArray[np.float64]
    objective: npt.NDArray[np.float64]
    n_iter: npt.NDArray[np.int_]
    classes: npt.NDArray[Any]
    solver: str

def null_model_parameters(targets: npt.NDArray[Any], n_classes: int,
                          sample_weight: npt.NDArray[np.float64] | None, n_features: int,
                          fit_intercept: bool) -> npt.NDArray[np.float64]: ...
def alpha_grid(objective: Any, w_null: npt.NDArray[np.float64], l1_ratio: float,
               n_alphas: int, eps: float) -> npt.NDArray[np.float64]: ...
def logistic_regression_path(
    X: Any, y: npt.ArrayLike, alphas: npt.ArrayLike | None = None, *, l1_ratio: float = 0.0,
    n_alphas: int = 20, eps: float = 1e-3, sample_weight: npt.ArrayLike | None = None,
    class_weight: Literal["balanced"] | dict[Any, float] | None = None,
    fit_intercept: bool = True,
    solver: Literal["auto", "newton", "newton-cg", "newton-cd", "lbfgs", "gd", "nesterov",
                    "sgd"] = "auto",
    max_iter: int = 100, tol: float = 1e-4,
) -> RegularisationPath: ...
