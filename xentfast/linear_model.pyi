# Types of xentfast.linear_model.  logistic_loss_and_grad is public; the rest
# is the machinery behind LogisticRegression, logistic_regression_path and the
# train command, typed loosely where it passes internal objects around.
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

SOLVERS: tuple[str, ...]
L1_SOLVERS: tuple[str, ...]
NEWTON_MAX_PARAMS: int

# The loss is np.float64 whatever X's dtype: the parameters and the gradient
# are float64, and the loss has their dtype, as every other loss has its
# gradient's.
def logistic_loss_and_grad(
    w: npt.ArrayLike, X: Any, y: npt.ArrayLike, *,
    sample_weight: npt.ArrayLike | None = None, alpha: float = 0.0, fit_intercept: bool = True,
) -> tuple[np.float64, npt.NDArray[np.float64]]: ...

def is_sparse(X: object) -> bool: ...

@dataclass(frozen=True)
class SparseRows:
    data: npt.NDArray[Any]
    indices: npt.NDArray[Any]
    indptr: npt.NDArray[Any]
    shape: tuple[int, ...]
    @property
    def dtype(self) -> np.dtype[Any]: ...
    def kernel_form(self) -> tuple[str, npt.NDArray[Any], npt.NDArray[Any], npt.NDArray[Any]]: ...
    def to_scipy(self) -> Any: ...
    def __matmul__(self, other: Any) -> Any: ...

@dataclass
class FitResult:
    coef: npt.NDArray[np.float64]
    n_iter: int
    loss_curve: npt.NDArray[np.float64]
    grad_max: float
    converged: bool
    step: float
    solver: str

def make_objective(X: Any, targets: npt.NDArray[Any], n_classes: int,
                   sample_weight: npt.NDArray[np.float64] | None = None, alpha: float = 0.0,
                   fit_intercept: bool = True) -> Any: ...
def check_solver(solver: str) -> None: ...
def check_l1_ratio(l1_ratio: float, solver: str) -> float: ...
def resolve_solver(solver: str, n_params: int, l1_ratio: float = 0.0, n_classes: int = 1,
                   in_memory: bool = True) -> str: ...
def column_form(X: Any) -> Any: ...
def fit_logistic(
    X: Any, targets: npt.NDArray[Any], n_classes: int, *,
    sample_weight: npt.NDArray[np.float64] | None = None, alpha: float = 0.0,
    l1_ratio: float = 0.0, fit_intercept: bool = True, solver: str = "auto",
    learning_rate: Literal["auto"] | float = "auto", max_iter: int = 100, tol: float = 1e-4,
    batch_size: int = 256,
    random_state: int | np.random.Generator | np.random.RandomState | None = None,
    callback: Callable[[int, float, float], object] | None = None,
    coef_init: npt.ArrayLike | None = None,
) -> FitResult: ...
def run_solver(
    objective: Any, w: npt.NDArray[np.float64], solver: str, *, l1: float = 0.0,
    learning_rate: Literal["auto"] | float = "auto", max_iter: int = 100, tol: float = 1e-4,
    batch_size: int = 256,
    random_state: int | np.random.Generator | np.random.RandomState | None = None,
    callback: Callable[[int, float, float], object] | None = None, columns: Any = None,
) -> FitResult: ...
