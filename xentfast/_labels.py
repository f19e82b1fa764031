"""Class labels and weights: what LogisticRegression, the regularisation path and
the Dask fit do to y, sample_weight and class_weight before fitting.  No math."""
import warnings

import numpy as np

from xentfast import linear_model


def encode_labels(y):
    """(classes, indices): the sorted distinct labels and each sample's index among
    them, as np.unique(y, return_inverse=True) gives them; for integer labels of a
    small range by counting (a few O(n) passes) rather than by sorting."""
    if y.dtype.kind in "iub" and y.size:
        low, high = int(y.min()), int(y.max())
        if high - low < max(1024, y.size) and high <= np.iinfo(np.intp).max:
            offset = y.astype(np.intp) - low
            present = np.flatnonzero(np.bincount(offset, minlength=high - low + 1))
            lookup = np.zeros(high - low + 1, np.intp)
            lookup[present] = np.arange(present.size)
            return (present + low).astype(y.dtype), lookup[offset]
    return np.unique(y, return_inverse=True)


def check_y(y, n_samples):
    """y as a 1-D array of n_samples class labels (any type that np.unique can sort)."""
    if y is None:
        raise ValueError("LogisticRegression requires y to be passed, but the target y is None")
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        # scikit-learn's warning class when it is installed (imported only here).
        from xentfast.logistic_regression import DataConversionWarning
        warnings.warn("A column-vector y was passed when a 1d array was expected. Please change "
                      "the shape of y to (n_samples,), for example using ravel().",
                      DataConversionWarning, stacklevel=3)
        y = y[:, 0]
    if y.ndim != 1:
        raise ValueError(f"y should be a 1d array of class labels, got shape {y.shape}")
    if y.shape[0] != n_samples:
        raise ValueError(f"X and y have different numbers of samples: X has {n_samples}, "
                         f"y has {y.shape[0]}")
    if y.dtype.kind == "c":
        raise ValueError(f"Complex data not supported: y has dtype {y.dtype}")
    if y.dtype.kind == "f":
        if not np.isfinite(y).all():
            raise ValueError("y contains nan or inf; class labels must be finite")
        if (y != np.round(y)).any():
            raise ValueError("Unknown label type: continuous. y holds non-integer numbers, "
                             "but a classifier needs class labels (ints, strings, ...)")
    return y


def check_classes(classes):
    if classes.size < 2:
        raise ValueError(f"y has only one class ({classes[0]!r}); a classifier needs "
                         f"samples of at least 2 classes")


def class_weights(class_weight, classes, labels, sample_weight):
    """The weight of each class (an array like classes), as scikit-learn computes
    it: None gives 1s; "balanced" gives n / (k · count_c), from the sample weights'
    sums per class when there are sample weights; a dict maps labels to weights
    (1 for the labels it does not name)."""
    if class_weight is None:
        return np.ones(classes.size)
    if isinstance(class_weight, str):  # "balanced"
        counts = np.bincount(labels, weights=sample_weight, minlength=classes.size)
        return counts.sum() / (classes.size * counts)
    weights = np.ones(classes.size)
    unnamed = []
    for index, label in enumerate(classes.tolist()):
        key = label if isinstance(label, str) else _int_or_self(label)
        if key in class_weight:
            weights[index] = class_weight[key]
        else:
            unnamed.append(label)
    if unnamed and classes.size - len(unnamed) != len(class_weight):
        raise ValueError(f"The classes, {unnamed}, are not in class_weight")
    return weights


def _int_or_self(label):
    try:
        return int(label)
    except (TypeError, ValueError):
        return label


def class_weighted(class_weight, classes, labels, sample_weight):
    """The sample weights times the weight of each sample's class (None if both are 1)."""
    if class_weight is None:
        return sample_weight
    weights = class_weights(class_weight, classes, labels, sample_weight)
    combined = weights[labels] if sample_weight is None else sample_weight * weights[labels]
    return linear_model._sample_weight(combined, labels.size)
