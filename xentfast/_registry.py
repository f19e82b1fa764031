"""The one list of public functions.

The tests, the benchmarks (``python -m xentfast bench`` and ``bench/``) and the
README's API table all loop over ``FUNCTIONS``; a new public function is added
here once.  ``kind`` tells the tests and benchmarks which inputs it takes:

- ``elementwise``: one real array ``x`` of any shape, ``out=``.
- ``elementwise_probability``: one array of probabilities ``p``, ``base=``.
- ``axis``: one real array ``x`` reduced or normalised along ``axis=``.
- ``distribution``: one distribution ``p`` along ``axis=``, ``base=``.
- ``distribution_pair``: distributions ``p`` and ``q`` along ``axis=``, ``base=``.
- ``binary_loss``: predictions and targets of one shape, ``weight=``, ``reduction=``.
- ``softmax_loss``: logits ``(..., k)`` and class-index or probability targets.
- ``linear_model``: parameters ``w``, a matrix ``X`` (n, d) and targets ``y``.
"""
import importlib
from dataclasses import dataclass


@dataclass(frozen=True)
class PublicFunction:
    name: str
    kind: str
    signature: str
    summary: str

    @property
    def fast(self):
        return getattr(importlib.import_module("xentfast"), self.name)

    @property
    def reference(self):
        return getattr(importlib.import_module("xentfast.reference"), self.name)


FUNCTIONS = (
    PublicFunction("sigmoid", "elementwise", "sigmoid(x, out=None)",
                   "σ(x) = 1 / (1 + e^-x), the logistic model's probability"),
    PublicFunction("log_sigmoid", "elementwise", "log_sigmoid(x, out=None)",
                   "log σ(x) = -softplus(-x), finite for every finite x"),
    PublicFunction("softplus", "elementwise", "softplus(x, out=None)",
                   "log(1 + e^x)"),
    PublicFunction("logsumexp", "axis", "logsumexp(x, axis=-1)",
                   "log Σ e^x along an axis"),
    PublicFunction("softmax", "axis", "softmax(x, axis=-1, out=None)",
                   "e^x / Σ e^x along an axis"),
    PublicFunction("log_softmax", "axis", "log_softmax(x, axis=-1, out=None)",
                   "x - logsumexp(x) along an axis"),
    PublicFunction("entropy", "distribution", "entropy(p, axis=-1, base=None)",
                   "H(p) = -Σ p log p, with 0 log 0 = 0"),
    PublicFunction("binary_entropy", "elementwise_probability", "binary_entropy(p, base=None)",
                   "H of Bernoulli(p), elementwise"),
    PublicFunction("cross_entropy", "distribution_pair", "cross_entropy(p, q, axis=-1, base=None)",
                   "H(p, q) = -Σ p log q; p is the true distribution"),
    PublicFunction("kl_divergence", "distribution_pair", "kl_divergence(p, q, axis=-1, base=None)",
                   "Σ p log(p / q) = H(p, q) - H(p)"),
    PublicFunction("binary_cross_entropy", "binary_loss",
                   'binary_cross_entropy(probs, targets, *, weight=None, reduction="mean")',
                   "BCE of probabilities, exact logs, no clipping"),
    PublicFunction("binary_cross_entropy_with_logits", "binary_loss",
                   "binary_cross_entropy_with_logits(logits, targets, *, weight=None, "
                   'pos_weight=None, reduction="mean", return_grad=False)',
                   "BCE of logits without cancellation; optional gradient from the same pass"),
    PublicFunction("softmax_cross_entropy", "softmax_loss",
                   "softmax_cross_entropy(logits, targets, *, weight=None, class_weight=None, "
                   'label_smoothing=0.0, ignore_index=None, reduction="mean", return_grad=False)',
                   "cross-entropy of a softmax model; index or probability targets"),
    PublicFunction("logistic_loss_and_grad", "linear_model",
                   "logistic_loss_and_grad(w, X, y, *, sample_weight=None, alpha=0.0, "
                   "fit_intercept=True)",
                   "mean cross-entropy + α/2 ‖coef‖² of a logistic (w: (d+1,)) or softmax "
                   "(w: (k, d+1)) model and its gradient, in one pass over X"),
)


def get_functions(kind=None):
    """The registered functions, all of them or those of one ``kind``."""
    return tuple(f for f in FUNCTIONS if kind is None or f.kind == kind)


def api_table():
    """The README's API table, in Markdown, made from ``FUNCTIONS``."""
    lines = ["| function | what it computes |", "|---|---|"]
    lines += [f"| `{f.signature}` | {f.summary} |" for f in FUNCTIONS]
    return "\n".join(lines)
