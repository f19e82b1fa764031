# Types of xentfast.losses.  The working dtype is the predictions' (probs or
# logits): float32 and float64 are kept, other real input becomes float64.
# reduction="mean" or "sum" gives a NumPy scalar; "none" the per-element
# (binary) or per-sample (softmax) losses: an array, or a scalar for a scalar
# input (binary) or for one sample (softmax).  With return_grad=True the
# result is (loss, gradient), the gradient of the logits' shape.  The
# reduction is one of three literals, so a misspelled one is a type error.
from typing import Literal, overload

import numpy as np
import numpy.typing as npt

from xentfast._typing import F, Float64Scalar, ScalarReduction

@overload
def binary_cross_entropy(
    probs: F, targets: npt.ArrayLike, *, weight: npt.ArrayLike | None = None,
    reduction: ScalarReduction = "mean",
) -> F: ...
@overload
def binary_cross_entropy(
    probs: Float64Scalar, targets: npt.ArrayLike, *, weight: npt.ArrayLike | None = None,
    reduction: ScalarReduction = "mean",
) -> np.float64: ...
@overload
def binary_cross_entropy(
    probs: npt.NDArray[F], targets: npt.ArrayLike, *, weight: npt.ArrayLike | None = None,
    reduction: ScalarReduction = "mean",
) -> F: ...
@overload
def binary_cross_entropy(
    probs: npt.ArrayLike, targets: npt.ArrayLike, *, weight: npt.ArrayLike | None = None,
    reduction: ScalarReduction = "mean",
) -> np.float64: ...
@overload
def binary_cross_entropy(
    probs: F, targets: npt.ArrayLike, *, weight: npt.ArrayLike | None = None,
    reduction: Literal["none"],
) -> F: ...
@overload
def binary_cross_entropy(
    probs: Float64Scalar, targets: npt.ArrayLike, *, weight: npt.ArrayLike | None = None,
    reduction: Literal["none"],
) -> np.float64: ...
@overload
def binary_cross_entropy(
    probs: npt.NDArray[F], targets: npt.ArrayLike, *, weight: npt.ArrayLike | None = None,
    reduction: Literal["none"],
) -> npt.NDArray[F]: ...
@overload
def binary_cross_entropy(
    probs: npt.ArrayLike, targets: npt.ArrayLike, *, weight: npt.ArrayLike | None = None,
    reduction: Literal["none"],
) -> npt.NDArray[np.float64]: ...

@overload
def binary_cross_entropy_with_logits(
    logits: F, targets: npt.ArrayLike, *, weight: npt.ArrayLike | None = None,
    pos_weight: npt.ArrayLike | None = None, reduction: ScalarReduction = "mean",
    return_grad: Literal[False] = False,
) -> F: ...
@overload
def binary_cross_entropy_with_logits(
    logits: Float64Scalar, targets: npt.ArrayLike, *, weight: npt.ArrayLike | None = None,
    pos_weight: npt.ArrayLike | None = None, reduction: ScalarReduction = "mean",
    return_grad: Literal[False] = False,
) -> np.float64: ...
@overload
def binary_cross_entropy_with_logits(
    logits: npt.NDArray[F], targets: npt.ArrayLike, *, weight: npt.ArrayLike | None = None,
    pos_weight: npt.ArrayLike | None = None, reduction: ScalarReduction = "mean",
    return_grad: Literal[False] = False,
) -> F: ...
@overload
def binary_cross_entropy_with_logits(
    logits: npt.ArrayLike, targets: npt.ArrayLike, *, weight: npt.ArrayLike | None = None,
    pos_weight: npt.ArrayLike | None = None, reduction: ScalarReduction = "mean",
    return_grad: Literal[False] = False,
) -> np.float64: ...
@overload
def binary_cross_entropy_with_logits(
    logits: F, targets: npt.ArrayLike, *, weight: npt.ArrayLike | None = None,
    pos_weight: npt.ArrayLike | None = None, reduction: Literal["none"],
    return_grad: Literal[False] = False,
) -> F: ...
@overload
def binary_cross_entropy_with_logits(
    logits: Float64Scalar, targets: npt.ArrayLike, *, weight: npt.ArrayLike | None = None,
    pos_weight: npt.ArrayLike | None = None, reduction: Literal["none"],
    return_grad: Literal[False] = False,
) -> np.float64: ...
@overload
def binary_cross_entropy_with_logits(
    logits: npt.NDArray[F], targets: npt.ArrayLike, *, weight: npt.ArrayLike | None = None,
    pos_weight: npt.ArrayLike | None = None, reduction: Literal["none"],
    return_grad: Literal[False] = False,
) -> npt.NDArray[F]: ...
@overload
def binary_cross_entropy_with_logits(
    logits: npt.ArrayLike, targets: npt.ArrayLike, *, weight: npt.ArrayLike | None = None,
    pos_weight: npt.ArrayLike | None = None, reduction: Literal["none"],
    return_grad: Literal[False] = False,
) -> npt.NDArray[np.float64]: ...
@overload
def binary_cross_entropy_with_logits(
    logits: F, targets: npt.ArrayLike, *, weight: npt.ArrayLike | None = None,
    pos_weight: npt.ArrayLike | None = None, reduction: ScalarReduction = "mean",
    return_grad: Literal[True],
) -> tuple[F, F]: ...
@overload
def binary_cross_entropy_with_logits(
    logits: Float64Scalar, targets: npt.ArrayLike, *, weight: npt.ArrayLike | None = None,
    pos_weight: npt.ArrayLike | None = None, reduction: ScalarReduction = "mean",
    return_grad: Literal[True],
) -> tuple[np.float64, np.float64]: ...
@overload
def binary_cross_entropy_with_logits(
    logits: npt.NDArray[F], targets: npt.ArrayLike, *, weight: npt.ArrayLike | None = None,
    pos_weight: npt.ArrayLike | None = None, reduction: ScalarReduction = "mean",
    return_grad: Literal[True],
) -> tuple[F, npt.NDArray[F]]: ...
@overload
def binary_cross_entropy_with_logits(
    logits: npt.ArrayLike, targets: npt.ArrayLike, *, weight: npt.ArrayLike | None = None,
    pos_weight: npt.ArrayLike | None = None, reduction: ScalarReduction = "mean",
    return_grad: Literal[True],
) -> tuple[np.float64, npt.NDArray[np.float64]]: ...
@overload
def binary_cross_entropy_with_logits(
    logits: F, targets: npt.ArrayLike, *, weight: npt.ArrayLike | None = None,
    pos_weight: npt.ArrayLike | None = None, reduction: Literal["none"],
    return_grad: Literal[True],
) -> tuple[F, F]: ...
@overload
def binary_cross_entropy_with_logits(
    logits: Float64Scalar, targets: npt.ArrayLike, *, weight: npt.ArrayLike | None = None,
    pos_weight: npt.ArrayLike | None = None, reduction: Literal["none"],
    return_grad: Literal[True],
) -> tuple[np.float64, np.float64]: ...
@overload
def binary_cross_entropy_with_logits(
    logits: npt.NDArray[F], targets: npt.ArrayLike, *, weight: npt.ArrayLike | None = None,
    pos_weight: npt.ArrayLike | None = None, reduction: Literal["none"],
    return_grad: Literal[True],
) -> tuple[npt.NDArray[F], npt.NDArray[F]]: ...
@overload
def binary_cross_entropy_with_logits(
    logits: npt.ArrayLike, targets: npt.ArrayLike, *, weight: npt.ArrayLike | None = None,
    pos_weight: npt.ArrayLike | None = None, reduction: Literal["none"],
    return_grad: Literal[True],
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]: ...
@overload
def binary_cross_entropy_with_logits(
    logits: npt.ArrayLike, targets: npt.ArrayLike, *, weight: npt.ArrayLike | None = None,
    pos_weight: npt.ArrayLike | None = None,
    reduction: Literal["none", "sum", "mean"] = "mean", return_grad: bool = False,
) -> (np.floating | npt.NDArray[np.floating]
      | tuple[np.floating | npt.NDArray[np.floating], np.floating | npt.NDArray[np.floating]]): ...

@overload
def softmax_cross_entropy(
    logits: npt.NDArray[F], targets: npt.ArrayLike, *, weight: npt.ArrayLike | None = None,
    class_weight: npt.ArrayLike | None = None, label_smoothing: float = 0.0,
    ignore_index: int | None = None, reduction: ScalarReduction = "mean",
    return_grad: Literal[False] = False,
) -> F: ...
@overload
def softmax_cross_entropy(
    logits: npt.ArrayLike, targets: npt.ArrayLike, *, weight: npt.ArrayLike | None = None,
    class_weight: npt.ArrayLike | None = None, label_smoothing: float = 0.0,
    ignore_index: int | None = None, reduction: ScalarReduction = "mean",
    return_grad: Literal[False] = False,
) -> np.float64: ...
@overload
def softmax_cross_entropy(
    logits: npt.NDArray[F], targets: npt.ArrayLike, *, weight: npt.ArrayLike | None = None,
    class_weight: npt.ArrayLike | None = None, label_smoothing: float = 0.0,
    ignore_index: int | None = None, reduction: Literal["none"],
    return_grad: Literal[False] = False,
) -> npt.NDArray[F] | F: ...
@overload
def softmax_cross_entropy(
    logits: npt.ArrayLike, targets: npt.ArrayLike, *, weight: npt.ArrayLike | None = None,
    class_weight: npt.ArrayLike | None = None, label_smoothing: float = 0.0,
    ignore_index: int | None = None, reduction: Literal["none"],
    return_grad: Literal[False] = False,
) -> npt.NDArray[np.float64] | np.float64: ...
@overload
def softmax_cross_entropy(
    logits: npt.NDArray[F], targets: npt.ArrayLike, *, weight: npt.ArrayLike | None = None,
    class_weight: npt.ArrayLike | None = None, label_smoothing: float = 0.0,
    ignore_index: int | None = None, reduction: ScalarReduction = "mean",
    return_grad: Literal[True],
) -> tuple[F, npt.NDArray[F]]: ...
@overload
def softmax_cross_entropy(
    logits: npt.ArrayLike, targets: npt.ArrayLike, *, weight: npt.ArrayLike | None = None,
    class_weight: npt.ArrayLike | None = None, label_smoothing: float = 0.0,
    ignore_index: int | None = None, reduction: ScalarReduction = "mean",
    return_grad: Literal[True],
) -> tuple[np.float64, npt.NDArray[np.float64]]: ...
@overload
def softmax_cross_entropy(
    logits: npt.NDArray[F], targets: npt.ArrayLike, *, weight: npt.ArrayLike | None = None,
    class_weight: npt.ArrayLike | None = None, label_smoothing: float = 0.0,
    ignore_index: int | None = None, reduction: Literal["none"],
    return_grad: Literal[True],
) -> tuple[npt.NDArray[F] | F, npt.NDArray[F]]: ...
@overload
def softmax_cross_entropy(
    logits: npt.ArrayLike, targets: npt.ArrayLike, *, weight: npt.ArrayLike | None = None,
    class_weight: npt.ArrayLike | None = None, label_smoothing: float = 0.0,
    ignore_index: int | None = None, reduction: Literal["none"],
    return_grad: Literal[True],
) -> tuple[npt.NDArray[np.float64] | np.float64, npt.NDArray[np.float64]]: ...
@overload
def softmax_cross_entropy(
    logits: npt.ArrayLike, targets: npt.ArrayLike, *, weight: npt.ArrayLike | None = None,
    class_weight: npt.ArrayLike | None = None, label_smoothing: float = 0.0,
    ignore_index: int | None = None,
    reduction: Literal["none", "sum", "mean"] = "mean",
    return_grad: bool = False,
) -> (np.floating | npt.NDArray[np.floating]
      | tuple[np.floating | npt.NDArray[np.floating], npt.NDArray[np.floating]]): ...
