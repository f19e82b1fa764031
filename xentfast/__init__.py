"""xentfast: exact and fast entropy, cross-entropy, sigmoid and softmax for NumPy arrays.

The public functions are listed once, in ``xentfast._registry.FUNCTIONS``;
``xentfast.reference`` holds a pure-NumPy twin of each.
"""
import os as _os


def _compiled_modules_missing(error):
    """An ImportError that says what to do when the compiled modules cannot be imported."""
    package = _os.path.dirname(_os.path.abspath(__file__))
    source_root = _os.path.dirname(package)
    if _os.path.exists(_os.path.join(source_root, "setup.py")):
        return ImportError(
            f"xentfast is being imported from its source tree ({package}), whose compiled "
            f"extensions are not built. Either run Python from outside the source tree so "
            f"that the installed xentfast is imported (`python -m xentfast` and "
            f"`python -c` put the current folder first on sys.path; the `xentfast` command "
            f"does not), or build the extensions in place: pip install -e . "
            f"(original error: {error})")
    return ImportError(f"xentfast's compiled extensions cannot be imported from {package}; "
                       f"reinstall xentfast (pip install --force-reinstall xentfast). "
                       f"Original error: {error}")


try:
    from xentfast import _build_info  # noqa: F401  (the first compiled module)
except ImportError as _error:
    raise _compiled_modules_missing(_error) from None

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

# Loaded on first use rather than with xentfast: they import scikit-learn when
# it is installed (about a second).
_LAZY = {"LogisticRegression": "xentfast.logistic_regression",
         "logistic_regression_path": "xentfast._path"}


def __getattr__(name):
    if name in _LAZY:
        import importlib
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'xentfast' has no attribute {name!r}")


def __dir__():
    # The lazy names too, for tab completion and help(), without importing them.
    return sorted(set(globals()) | set(_LAZY))
