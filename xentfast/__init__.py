"""xentfast: exact and fast entropy, cross-entropy, sigmoid and softmax for NumPy arrays.

The public functions are listed once, in ``xentfast._registry.FUNCTIONS``;
``xentfast.reference`` holds a pure-NumPy twin of each.
"""
from xentfast._config import __version__, get_num_threads, set_num_threads, show_config
from xentfast.activations import log_sigmoid, log_softmax, logsumexp, sigmoid, softmax, softplus
from xentfast.information import binary_entropy, cross_entropy, entropy, kl_divergence
from xentfast.linear_model import logistic_loss_and_grad
from xentfast.losses import (binary_cross_entropy, binary_cross_entropy_with_logits,
                             softmax_cross_entropy)

__all__ = [
    "sigmoid", "log_sigmoid", "softplus", "logsumexp", "softmax", "log_softmax",
    "entropy", "binary_entropy", "cross_entropy", "kl_divergence",
    "binary_cross_entropy", "binary_cross_entropy_with_logits", "softmax_cross_entropy",
    "logistic_loss_and_grad", "LogisticRegression", "logistic_regression_path",
    "set_num_threads", "get_num_threads", "show_config", "__version__",
]


def __getattr__(name):
    # LogisticRegression imports scikit-learn when it is installed (about a
    # second), so it is loaded on first use rather than with xentfast.
    if name == "LogisticRegression":
        from xentfast.logistic_regression import LogisticRegression
        return LogisticRegression
    if name == "logistic_regression_path":
        from xentfast._path import logistic_regression_path
        return logistic_regression_path
    raise AttributeError(f"module 'xentfast' has no attribute {name!r}")
