# Types of xentfast.linear_model.  logistic_loss_and_grad is public; the rest
# is the machinery behind LogisticRegression and the train command.
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

SOLVERS: tuple[str, ...]

# The loss is np.float64 whatever X's dtype: the parameters and the gradient
# are float64, and the loss has their dtype, as every other loss has its
# gradient's.
def logistic_loss_and_grad(
    w: npt.ArrayLike, X: npt.ArrayLike, y: npt.ArrayLike, *,
    sample_weight: npt.ArrayLike | None = None, alpha: float = 0.0, fit_intercept: bool = True,
) -> tuple[np.float64, npt.NDArray[np.float64]]: ...

@dataclass
class FitResult:
    coef: npt.NDArray[np.float64]
    n_iter: int
    loss_curve: npt.NDArray[np.float64]
    grad_max: float
    converged: bool
    step: float

def fit_logistic(
    X: npt.NDArray[np.floating[Any]], targets: npt.NDArray[Any], n_classes: int, *,
    sample_weight: npt.NDArray[np.float64] | None = None, alpha: float = 0.0,
    fit_intercept: bool = True, solver: str = "lbfgs",
    learning_rate: Literal["auto"] | float = "auto", max_iter: int = 100, tol: float = 1e-4,
    batch_size: int = 256,
    random_state: int | np.random.Generator | np.random.RandomState | None = None,
    callback: Callable[[int, float, float], object] | None = None,
    coef_init: npt.ArrayLike | None = None,
) -> FitResult: ...
