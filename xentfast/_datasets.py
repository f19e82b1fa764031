"""The synthetic problems of the train command and the benchmarks, from a known model.

- ``make_synthetic``: X ~ N(0, 1), labels drawn from σ(X θ + b) (two classes) or
  softmax(X Θᵀ + b) (more), logits of standard deviation about 2: learnable,
  not separable.  ``condition="ill"`` scales the columns by logspace(0, 3, d)
  (and so the true coefficients by the inverse: the labels are the same).
- ``make_sparse``: CSR X with ``nnz_per_row`` ones per row in distinct random
  columns (text or one-hot data), labels from a logistic model.
"""
import numpy as np

from xentfast.activations import sigmoid

CONDITIONS = ("standard", "ill")


def column_scales(n_features):
    """The ill-conditioned problem's column scales: three decades."""
    return np.logspace(0, 3, n_features)


def make_synthetic(n_samples, n_features, n_classes, dtype=np.float64, seed=0,
                   condition="standard"):
    """(X, y, true_logits)."""
    if condition not in CONDITIONS:
        raise ValueError(f"condition must be one of {CONDITIONS}, got {condition!r}")
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_samples, n_features), dtype=dtype)
    rows = 1 if n_classes == 2 else n_classes
    coef = rng.standard_normal((rows, n_features)) * (2.0 / np.sqrt(n_features))
    intercept = rng.standard_normal(rows) * 0.5
    logits = X @ coef.T + intercept
    if n_classes == 2:
        y = (rng.random(n_samples) < sigmoid(logits[:, 0])).astype(np.intp)
    else:
        # Gumbel-max trick: argmax(logits + Gumbel noise) is an exact softmax draw.
        y = np.argmax(logits + rng.gumbel(size=logits.shape), axis=1)
    if condition == "ill":
        X *= column_scales(n_features).astype(dtype)
    return X, y, logits


def make_sparse(n_samples, n_features, nnz_per_row=20, seed=0, dtype=np.float64):
    """(X as a scipy.sparse CSR matrix, y, true_logits); needs SciPy."""
    from scipy import sparse
    if nnz_per_row > n_features:
        raise ValueError(f"nnz_per_row={nnz_per_row} exceeds n_features={n_features}")
    rng = np.random.default_rng(seed)
    columns = rng.integers(0, n_features, (n_samples, nnz_per_row))
    while True:
        # Rows that drew a column twice draw again (a few percent, then fewer).
        columns.sort(axis=1)
        repeated = np.flatnonzero((columns[:, 1:] == columns[:, :-1]).any(axis=1))
        if repeated.size == 0:
            break
        columns[repeated] = rng.integers(0, n_features, (repeated.size, nnz_per_row))
    indptr = np.arange(0, n_samples * nnz_per_row + 1, nnz_per_row)
    X = sparse.csr_matrix((np.ones(n_samples * nnz_per_row, dtype=dtype), columns.ravel(),
                           indptr), shape=(n_samples, n_features))
    coef = rng.standard_normal(n_features) * (2.0 / np.sqrt(nnz_per_row))
    logits = X @ coef + 0.5 * rng.standard_normal()
    y = (rng.random(n_samples) < sigmoid(logits)).astype(np.intp)
    return X, y, logits[:, None]
