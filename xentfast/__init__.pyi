# Types of the xentfast namespace: the public API, re-exported from the
# modules that define it (their stubs carry the overloads).
from xentfast._config import __version__ as __version__
from xentfast._config import get_num_threads as get_num_threads
from xentfast._config import set_num_threads as set_num_threads
from xentfast._config import show_config as show_config
from xentfast._path import logistic_regression_path as logistic_regression_path
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
from xentfast.logistic_regression import LogisticRegression as LogisticRegression
from xentfast.losses import binary_cross_entropy as binary_cross_entropy
from xentfast.losses import binary_cross_entropy_with_logits as binary_cross_entropy_with_logits
from xentfast.losses import softmax_cross_entropy as softmax_cross_entropy

__all__ = [
    "sigmoid", "log_sigmoid", "softplus", "logsumexp", "softmax", "log_softmax",
    "entropy", "binary_entropy", "cross_entropy", "kl_divergence",
    "binary_cross_entropy", "binary_cross_entropy_with_logits", "softmax_cross_entropy",
    "logistic_loss_and_grad", "LogisticRegression", "logistic_regression_path",
    "set_num_threads", "get_num_threads", "show_config", "__version__",
]
