# Types of xentfast.reference, the pure-NumPy twin: the same signatures and
# result types as the compiled functions.
import numpy as np
import numpy.typing as npt

from xentfast.activations import log_sigmoid as log_sigmoid
from xentfast.activations import log_softmax as log_softmax
from xentfast.activations import logsumexp as logsumexp
from xentfast.activations import sigmoid as sigmoid
from xentfast.activations import softmax as softmax
from xentfast.activations import softplus as softplus
from xentfast.information import binary_entropy as binary_entropy
from xentfast.information import cross_entropy as cross_entropy
from xentfast.information import entropy as entropy
from xentfast.information import kl_divergence as kl_divergence
from xentfast.linear_model import logistic_loss_and_grad as logistic_loss_and_grad
from xentfast.losses import binary_cross_entropy as binary_cross_entropy
from xentfast.losses import binary_cross_entropy_with_logits as binary_cross_entropy_with_logits
from xentfast.losses import softmax_cross_entropy as softmax_cross_entropy

__all__ = [
    "sigmoid", "log_sigmoid", "softplus", "logsumexp", "softmax", "log_softmax",
    "entropy", "binary_entropy", "cross_entropy", "kl_divergence",
    "binary_cross_entropy", "binary_cross_entropy_with_logits", "softmax_cross_entropy",
]

def logistic_gradient_descent(
    w0: npt.ArrayLike, X: npt.ArrayLike, y: npt.ArrayLike, *, step: float, n_iter: int,
    sample_weight: npt.ArrayLike | None = None, alpha: float = 0.0, fit_intercept: bool = True,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]: ...
