"""xentfast on Dask arrays: every public function, lazily, and the objective of
``LogisticRegression.fit`` summed over row blocks on a cluster.

Every function of ``xentfast`` (see ``xentfast._registry``) is here with the same
name, signature and semantics; it takes Dask arrays (NumPy arrays too) and
returns Dask arrays, and nothing is computed until ``.compute()`` or
``dask.compute``.  Each block runs the in-memory function, where the block
lives (a thread of the local scheduler, or a worker of a ``distributed.Client``
when one is active).

Chunking rules:

- elementwise functions keep the chunks;
- ``logsumexp``, ``entropy``, ``cross_entropy`` and ``kl_divergence`` reduce each
  block along ``axis`` and combine the partial results in a tree (any chunking,
  ``axis=None`` too); ``softmax`` and ``log_softmax`` rechunk ``axis`` to one
  block (all of the array for ``axis=None``);
- losses: the class axis of ``softmax_cross_entropy``'s logits is rechunked to
  one block; targets, ``weight`` and ``pos_weight`` are broadcast and chunked
  like the logits; ``"sum"`` adds the blocks' sums in a tree, ``"mean"`` weighs
  the blocks' own means by their divisors (each as total · 2^n, so that sums of
  weights beyond the float range keep their digits), and ``return_grad=True`` gives a
  gradient chunked like the logits from the same tasks (one pass per
  ``dask.compute(loss, grad)``);
- ``logistic_loss_and_grad`` and ``LogisticRegression.fit`` take X chunked by
  rows (a column-chunked X is rechunked to one column block); y and
  ``sample_weight`` follow X's row chunks.

Values are checked where they are read, block by block, so a bad value raises
its ValueError at compute time; dtypes, shapes and arguments are checked when
the function is called.  ``out=`` is refused (Dask arrays are immutable).
"""


def _require_dask():
    try:
        import dask.array  # noqa: F401
    except ImportError as error:  # the test suite checks this in a subprocess
        raise ImportError('xentfast.dask needs Dask: pip install "xentfast[dask]" '
                          "(dask[array] and distributed)") from error


_require_dask()

from xentfast.dask._functions import (binary_cross_entropy, binary_cross_entropy_with_logits,
                                      binary_entropy, cross_entropy, entropy, kl_divergence,
                                      log_sigmoid, log_softmax, logsumexp, sigmoid, softmax,
                                      softmax_cross_entropy, softplus)
from xentfast.dask._io import from_npy
from xentfast.dask._linear import fit_estimator, logistic_loss_and_grad, predict_lazily

__all__ = [
    "sigmoid", "log_sigmoid", "softplus", "logsumexp", "softmax", "log_softmax",
    "entropy", "binary_entropy", "cross_entropy", "kl_divergence",
    "binary_cross_entropy", "binary_cross_entropy_with_logits", "softmax_cross_entropy",
    "logistic_loss_and_grad", "from_npy", "fit_estimator", "predict_lazily",
]
