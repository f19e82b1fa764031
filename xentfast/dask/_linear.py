"""Logistic and softmax regression over Dask arrays.

The objective  Σ s_i CE_i / Σ s_i + α/2 ||coef||²  is a sum over row blocks:
each block runs the fused in-memory pass (``InMemoryObjective.raw_sums``)
where it lives and returns its unnormalised sums (loss, weight, gradient, and
the Hessian for Newton's method); the sums are added in a tree, and only then
divided by Σ s_i and given the penalty.  Only vectors of the parameters' size
(or the Hessian, p × p) travel; X is never gathered.

``DaskObjective`` answers the solvers' questions (``_objective.Objective``) that
way, so ``LogisticRegression.fit`` runs its usual solvers on it: one
``dask.compute`` per pass, on whatever scheduler is active (a
``distributed.Client`` when one exists).
"""
import warnings

import dask
import dask.array as da
import numpy as np
from dask import delayed

from xentfast import _checks, _labels, linear_model
from xentfast._objective import Objective
from xentfast.dask._functions import aligned, as_dask

# The sums of a block, by what a pass is asked for (p parameters).
_SUMS_SIZE = {"loss": lambda p: 2, "grad": lambda p: 2 + p, "hess": lambda p: 2 + p + p * p,
              "hessp": lambda p: p, "gram": lambda p: p}


# --- layout -------------------------------------------------------------------------

def _as_rows(X):
    """X as a 2-D Dask array of known chunk sizes, chunked by rows only."""
    X = as_dask(X, "X")
    _checks.as_real_array(np.empty(0, X.dtype), "X")
    if X.ndim != 2:
        raise ValueError(f"X must be a 2-D array (n_samples, n_features), got shape {X.shape}")
    if any(np.isnan(size) for size in X.chunks[0]):
        raise ValueError("X has unknown chunk sizes (as from a Dask DataFrame): call "
                         "X.compute_chunk_sizes() first")
    linear_model._check_shape(X.shape)
    return X.rechunk({1: -1}) if X.numblocks[1] > 1 else X


def _along_rows(a, X, name):
    """A 1-D array of one value per row of X, chunked like X's rows (None stays None)."""
    if a is None:
        return None
    a = as_dask(a, name)
    if a.ndim == 0 and name == "sample_weight":
        a = da.broadcast_to(a, X.shape[:1])
    if a.shape != X.shape[:1]:
        raise ValueError(f"{name} must have shape ({X.shape[0]},) to match X, got {a.shape}")
    return a.rechunk((X.chunks[0],))


def _in_memory(a):
    """Whether every block of ``a`` is already computed (persisted, or NumPy data):
    its graph is the blocks themselves, not tasks or a memory-mapped file."""
    graph = dict(a.__dask_graph__())
    return len(graph) == a.npartitions and all(
        not dask.core.istask(v) and not isinstance(v, np.memmap) for v in graph.values())


def _persisted(a):
    """Whether ``a``'s blocks are futures on a distributed cluster."""
    return any(type(v).__name__ == "Future" for v in dict(a.__dask_graph__()).values())


def _block_threads(collection):
    """Kernel threads per block: 1 under the local threaded or process scheduler, which
    runs one task per core; else 0, the default where the task runs (on a distributed
    worker, XENTFAST_NUM_THREADS or the OMP_NUM_THREADS=1 its nanny sets)."""
    scheduler = dask.base.get_scheduler(collections=[collection])
    module = getattr(scheduler, "__module__", "")
    return 1 if module in ("dask.threaded", "dask.multiprocessing") else 0


def _union(*parts):
    return np.unique(np.concatenate(parts))


# --- one block -------------------------------------------------------------------------

def _block_weights(sample_weight, n_samples):
    # Checked, not rescaled: a block's weights are scaled with all the others'.
    sw = _checks.as_dtype(sample_weight, "sample_weight", np.float64)
    _checks.check_weights(sw, "sample_weight")
    return np.ascontiguousarray(sw)


def _gram_product(X, weights, v, n_classes, fit_intercept):
    # Xaᵀ S Xa v per class row of v, for gd's step bound (power iterations).
    n_features = X.shape[1]
    V = v.reshape(n_classes, -1)
    Z = X @ V[:, :n_features].T
    if fit_intercept:
        Z += V[:, n_features]
    if weights is not None:
        Z *= weights[:, None]
    product = Z.T @ X
    if fit_intercept:
        product = np.column_stack([product, Z.sum(axis=0)])
    return product.reshape(-1)


def _block_sums(X, y, sample_weight, w, v, n_classes, fit_intercept, mode, threads):
    """One row block's unnormalised sums, flat, one row of shape (1, size): for mode
    "loss", "grad", "hess": [Σ s CE, Σ s, Σ s ∇CE (grad, hess), Σ s ∇²CE (hess)];
    "hessp": Σ s ∇²CE(w) v; "gram": Xaᵀ S Xa v."""
    size = _SUMS_SIZE[mode](w.size)
    if X.shape[0] == 0:
        return np.zeros((1, size))
    X, y, sample_weight = aligned(X), aligned(y), aligned(sample_weight)
    X = linear_model._prepare_X(X)
    n = X.shape[0]
    targets = (linear_model._binary_targets(y, n) if n_classes == 1
               else linear_model._class_labels(y, n, n_classes))
    weights = None if sample_weight is None else _block_weights(sample_weight, n)
    if mode == "gram":
        return _gram_product(X, weights, v, n_classes, fit_intercept).reshape(1, size)
    objective = linear_model.make_objective(X, targets, n_classes, weights, 0.0, fit_intercept)
    if threads:
        objective.set_threads(threads)
    if mode == "hessp":
        return objective.raw_hessian_vector(w, v).reshape(1, size)
    loss, total, grad, hess = objective.raw_sums(w, mode != "loss", mode == "hess")
    sums = np.concatenate([[loss, total]] + [a.reshape(-1) for a in (grad, hess)
                                              if a is not None])
    if not np.isfinite(sums).all():
        linear_model._check_X_finite(X)  # nan or inf in X shows up here
    return sums.reshape(1, size)


def _sums_graph(X, y, sample_weight, w, n_classes, fit_intercept, mode, v=None):
    """The blocks' sums added in a tree: a lazy (size,) array."""
    size = _SUMS_SIZE[mode](w.size)
    weights = (sample_weight, "i") if sample_weight is not None else (None, None)
    parts = da.blockwise(_block_sums, "ij", X, "ij", y, "i", *weights, w, None, v, None,
                         n_classes, None, fit_intercept, None, mode, None,
                         _block_threads(X), None, adjust_chunks={"i": 1, "j": size},
                         dtype=np.float64, meta=np.empty((0, 0)), concatenate=True)
    return parts.sum(axis=0, split_every=32)


def _coef_mask(n_features, n_classes, fit_intercept):
    """1 at the coefficients, 0 at the intercepts (which are not penalised)."""
    return np.tile(np.r_[np.ones(n_features), np.zeros(int(fit_intercept))], n_classes)


def _penalised(sums, w, alpha, coef_mask, mode):
    """(loss, gradient or None, Hessian or None) of the objective from the summed raw sums."""
    p = w.size
    loss_sum, total = sums[0], sums[1]
    if not total > 0:
        raise ValueError("sample_weight is zero everywhere: the mean loss is undefined")
    scale = 1.0 / total
    coef = w * coef_mask
    loss = loss_sum * scale + 0.5 * alpha * float(coef @ coef)
    grad = hess = None
    if mode in ("grad", "hess"):
        grad = sums[2:2 + p] * scale + alpha * coef
    if mode == "hess":
        hess = sums[2 + p:].reshape(p, p) * scale
        hess[np.diag_indices(p)] += alpha * coef_mask
    return loss, grad, hess


def _finish_loss_and_grad(sums, w, alpha, coef_mask):
    loss, grad, _ = _penalised(sums, w, alpha, coef_mask, "grad")
    return np.concatenate([[loss], grad])


# --- the public function ---------------------------------------------------------------

def logistic_loss_and_grad(w, X, y, *, sample_weight=None, alpha=0.0, fit_intercept=True):
    """``xentfast.logistic_loss_and_grad`` with X (n, d) a Dask array chunked by rows and
    y, ``sample_weight`` following its row chunks: a lazy ``(loss, grad)``, one pass.

    Each row block runs the fused in-memory pass; their sums are added in a tree.
    ``w`` is a NumPy array (binary (d,) or (d+1,), multinomial (k, d) or (k, d+1)).
    """
    X = _as_rows(X)
    if isinstance(w, da.Array):
        w = w.compute()
    n_classes, w = linear_model._parameter_shape(w, X.shape[1], fit_intercept)
    alpha = linear_model._check_alpha(alpha)
    y = _along_rows(y, X, "y")
    if n_classes == 1:
        _checks.as_dtype(np.empty(0, y.dtype), "y", np.float64)
    elif y.dtype.kind not in "iu":
        raise ValueError(f"y must hold integer class indices for multinomial w, "
                         f"got dtype {y.dtype}")
    sample_weight = _along_rows(sample_weight, X, "sample_weight")
    flat = np.ascontiguousarray(w.reshape(-1))
    sums = _sums_graph(X, y, sample_weight, flat, n_classes, fit_intercept, "grad")
    mask = _coef_mask(X.shape[1], n_classes, fit_intercept)
    result = sums.map_blocks(_finish_loss_and_grad, flat, alpha, mask, chunks=(flat.size + 1,),
                             dtype=np.float64, meta=np.empty(0))
    return result[0], result[1:].reshape(w.shape)


# --- the objective of LogisticRegression.fit ----------------------------------------------

class DaskObjective(Objective):
    """The objective over X, targets and weights chunked by rows, for the solvers:
    every question is one computation of the blocks' sums (Hessian products on Dask
    take two passes: the curvature at w, then the product).

    When X is persisted on the cluster of the active ``distributed.Client``, a pass
    is one task per worker over the blocks it holds (see ``_WorkerBlocks``); else it
    is ``dask.compute`` of a task per block and their sum in a tree."""

    def __init__(self, X, targets, weights, n_classes, fit_intercept, alpha):
        Objective.__init__(self, X.shape[0], X.shape[1], n_classes, fit_intercept, alpha)
        self.X, self.targets, self.weights = X, targets, weights
        self.coef_mask = _coef_mask(X.shape[1], n_classes, fit_intercept)
        self.curvature_at = None
        self.total_weight = None
        self.on_workers = _WorkerBlocks.of(X, targets, weights)

    def sums(self, mode, w, v=None):
        if self.on_workers is not None:
            return self.on_workers.sums(mode, w, v, self.n_classes, self.fit_intercept)
        graph = _sums_graph(self.X, self.targets, self.weights, w, self.n_classes,
                            self.fit_intercept, mode, v)
        (sums,) = dask.compute(graph)
        return sums

    def _py_evaluate(self, w, want_grad, want_hess, keep_curvature):
        mode = "hess" if want_hess else "grad" if want_grad else "loss"
        sums = self.sums(mode, w)
        self.total_weight = sums[1]
        if keep_curvature:
            self.curvature_at = w
        return _penalised(sums, w, self.alpha, self.coef_mask, mode)

    def _py_hessian_product(self, v):
        if self.curvature_at is None:
            raise RuntimeError("hessian_product: call evaluate(keep_curvature) first")
        product = self.sums("hessp", self.curvature_at, v)
        return product / self.total_weight + self.alpha * self.coef_mask * v

    def _py_gram_product(self, v):
        if self.total_weight is None:
            self.total_weight = self.sums("loss", np.zeros(self.n_params))[1]
        return self.sums("gram", np.zeros(self.n_params), v) / self.total_weight


class _BlockPasses:
    """Lives on a worker (a Dask actor) and holds the blocks of X there, with their
    targets and weights: a pass over them is one call from the client, which goes to
    the worker directly, without the scheduler's round trips of a task."""

    def __init__(self, X_blocks, target_blocks, weight_blocks, threads):
        # Blocks sent from the client arrive at unaligned addresses, which the kernels
        # do not take: those are copied, once (the copy stays while the actor lives).
        self.blocks = [tuple(aligned(block) for block in blocks)
                       for blocks in zip(X_blocks, target_blocks, weight_blocks)]
        self.threads = threads

    def sums(self, mode, w, v, n_classes, fit_intercept):
        total = np.zeros(_SUMS_SIZE[mode](w.size))
        for X, targets, weights in self.blocks:
            total += _block_sums(X, targets, weights, w, v, n_classes, fit_intercept, mode,
                                 self.threads)[0]
        return total


class _WorkerBlocks:
    """The blocks of X persisted on a distributed cluster, grouped by the worker that
    holds them, each group held by an actor on its worker together with the blocks'
    targets and weights (copied there once).  A pass is one call per worker (a task
    per block, or even per worker, costs several scheduler round trips, more than the
    kernel spends on a block of 100,000 rows); each worker runs its blocks' kernels
    on as many threads as it has."""

    def __init__(self, client, X_futures, target_futures, weight_futures):
        holders = client.who_has(X_futures)
        threads = {address: info["nthreads"]
                   for address, info in client.scheduler_info()["workers"].items()}
        groups = {}
        for i, block in enumerate(X_futures):
            worker = sorted(holders[block.key])[0]
            group = groups.setdefault(worker, ([], [], []))
            group[0].append(block)
            group[1].append(target_futures[i])
            group[2].append(None if weight_futures is None else weight_futures[i])
        self.actors = client.gather([
            client.submit(_BlockPasses, *group, threads.get(worker, 1), actor=True,
                          workers=[worker], pure=False)
            for worker, group in groups.items()])

    @classmethod
    def of(cls, X, targets, weights):
        """The grouped blocks when X, targets and weights are persisted on the cluster of
        the client that computes them, else None."""
        try:
            from distributed import Client
        except ImportError:
            return None
        # With a client active, Dask's scheduler for X is its bound method get.
        client = getattr(dask.base.get_scheduler(collections=[X]), "__self__", None)
        if not isinstance(client, Client):
            return None
        futures = [_futures(a, client) for a in (X, targets, weights)]
        if futures[0] is None or futures[1] is None or (weights is not None
                                                        and futures[2] is None):
            return None
        return cls(client, *futures)

    def sums(self, mode, w, v, n_classes, fit_intercept):
        calls = [actor.sums(mode, w, v, n_classes, fit_intercept) for actor in self.actors]
        return sum(call.result() for call in calls)


def _futures(a, client):
    """The futures of ``a``'s blocks in order, when it is persisted on ``client``'s
    cluster (its graph is those futures and nothing else); else None."""
    from distributed import Future
    if a is None:
        return None
    graph = dict(a.__dask_graph__())
    futures = [graph.get(key) for key in dask.core.flatten(a.__dask_keys__())]
    if len(graph) != len(futures) or not all(
            isinstance(f, Future) and f.client is client for f in futures):
        return None
    return futures


# --- LogisticRegression.fit on Dask arrays ---------------------------------------------------

def _estimator_module():
    # Imported where it is used, on the driver: it imports scikit-learn (130 MB),
    # which the workers need not load for a fit.
    from xentfast import logistic_regression
    return logistic_regression


def _block_classes(y):
    # The labels are checked on the driver, on the distinct values: nan, infinite or
    # non-integer float labels are among them whenever they are among the labels.
    return np.unique(y)


def _block_weight_max(sample_weight):
    sw = _block_weights(sample_weight, sample_weight.shape[0])
    return sw.max() if sw.size else 0.0


def _block_class_totals(y, sample_weight, classes):
    return np.bincount(np.searchsorted(classes, y), weights=sample_weight,
                       minlength=classes.size).astype(np.float64)


def _block_targets(y, classes, binary):
    labels = np.searchsorted(classes, y)
    return labels.astype(np.float64) if binary else labels.astype(np.intp)


def _block_fit_weights(y, sample_weight, classes, class_weights, scale):
    weights = np.ones(y.shape[0]) if sample_weight is None else sample_weight.astype(np.float64)
    if class_weights is not None:
        weights = weights * class_weights[np.searchsorted(classes, y)]
    return weights * scale if scale != 1.0 else weights


def _label_vector(y, X):
    logistic_regression = _estimator_module()
    if y is None:
        raise ValueError("LogisticRegression requires y to be passed, but the target y is None")
    y = as_dask(y, "y")
    if y.ndim == 2 and y.shape[1] == 1:
        warnings.warn("A column-vector y was passed when a 1d array was expected. Please "
                      "change the shape of y to (n_samples,), for example using ravel().",
                      logistic_regression.DataConversionWarning, stacklevel=4)
        y = y[:, 0]
    if y.ndim != 1:
        raise ValueError(f"y should be a 1d array of class labels, got shape {y.shape}")
    if y.shape[0] != X.shape[0]:
        raise ValueError(f"X and y have different numbers of samples: X has {X.shape[0]}, "
                         f"y has {y.shape[0]}")
    return y.rechunk((X.chunks[0],))


def _check_finite(X):
    def check(block):
        if block.shape[0]:
            linear_model._check_X_finite(linear_model._prepare_X(aligned(block)))
    dask.compute(*[delayed(check)(block) for block in X.to_delayed().ravel()])


def fit_estimator(estimator, X, y, sample_weight=None):
    """``LogisticRegression.fit`` on Dask arrays: the checks, label encoding and weights
    of the in-memory fit, computed on the cluster, then the estimator's solver on a
    DaskObjective.  X is used where it is: when its blocks are in memory (persisted)
    the targets and weights are persisted beside them, else they are recomputed with
    X's blocks in every pass."""
    if estimator.solver in ("sgd", "newton-cd"):
        why = ("its mini-batches sample rows across all blocks" if estimator.solver == "sgd"
               else "it reads X by columns, in memory")
        raise ValueError(f'solver="{estimator.solver}" does not run on Dask arrays ({why}); '
                         f'use "lbfgs", "newton", "newton-cg", "gd" or "nesterov"')
    X = _as_rows(X)
    n_samples, n_features = X.shape
    estimator.n_features_in_ = n_features
    if hasattr(estimator, "feature_names_in_"):
        del estimator.feature_names_in_
    y = _label_vector(y, X)
    sample_weight = _along_rows(sample_weight, X, "sample_weight")

    # One pass over y (and the weights): the checks, the classes, the largest weight.
    # (Each block's distinct labels and largest weight are few: one task combines them.)
    classes = delayed(_union)(*[delayed(_block_classes)(b) for b in y.to_delayed().ravel()])
    largest = 1.0
    if sample_weight is not None:
        largest = delayed(max)([delayed(_block_weight_max)(b)
                                for b in sample_weight.to_delayed().ravel()])
    classes, largest = dask.compute(classes, largest)
    _labels.check_y(classes, classes.size)
    _labels.check_classes(classes)
    binary = classes.size == 2

    class_weights = None
    if estimator.class_weight is not None:
        # The weight of each class, as the in-memory fit computes it from the labels and
        # sample weights: here from the per-class weight totals, summed on the cluster.
        totals = da.map_blocks(_block_class_totals, y, sample_weight, classes=classes,
                               chunks=((classes.size,) * y.numblocks[0],), dtype=np.float64,
                               meta=np.empty(0))
        totals = totals.reshape(y.numblocks[0], classes.size).sum(axis=0).compute()
        class_weights = _labels.class_weights(
            estimator.class_weight, classes, np.arange(classes.size), totals)
        _checks.check_weights(class_weights, "sample_weight")
        largest = largest * class_weights.max()
        if not class_weights @ totals > 0:
            largest = 0.0
    if largest == 0:
        raise ValueError("sample_weight is zero everywhere: the mean loss is undefined")
    # As the in-memory fit: weights whose sum would overflow or be subnormal are
    # rescaled (the objective divides by their sum, so it is unchanged).
    scale = 1.0 / largest if not 1e-290 < largest < 1e290 / n_samples else 1.0

    targets = y.map_blocks(_block_targets, classes=classes, binary=binary,
                           dtype=np.float64 if binary else np.intp)
    weights = None
    if sample_weight is not None or class_weights is not None:
        weights = da.map_blocks(_block_fit_weights, y, sample_weight, classes=classes,
                                class_weights=class_weights, scale=scale, dtype=np.float64)
    if _in_memory(X):
        # X's blocks are computed: keep them, the targets and the weights on the
        # workers (a no-op for what is persisted already).  NumPy data in the graph is
        # sent once rather than with every pass, and copied where it arrives unaligned.
        if not _persisted(X):
            X = X.map_blocks(aligned, dtype=X.dtype, meta=np.empty((0, 0), X.dtype))
        X, targets, weights = dask.persist(X, targets, weights)
    l1_ratio = float(estimator.l1_ratio)
    objective = DaskObjective(X, targets, weights, 1 if binary else classes.size,
                              estimator.fit_intercept, estimator.alpha * (1.0 - l1_ratio))
    return estimator._fit_objective(objective, classes, check_data=lambda: _check_finite(X))


# --- predictions -------------------------------------------------------------------------

def _predict_block(X, estimator, method, width):
    if X.shape[0] == 0:
        dtype = estimator.classes_.dtype if method == "predict" else np.float64
        return np.empty((0,) if width is None else (0, width), dtype)
    return getattr(estimator, method)(aligned(X))


def predict_lazily(estimator, method, X):
    """``estimator.<method>(X)`` for a Dask X: a lazy Dask array chunked like X's rows,
    each block predicted by the in-memory method."""
    if not hasattr(estimator, "coef_"):
        raise _estimator_module().NotFittedError(
            f"This {type(estimator).__name__} instance is not fitted yet; call 'fit' before "
            f"using it")
    X = _as_rows(X)
    if X.shape[1] != estimator.n_features_in_:
        raise ValueError(f"X has {X.shape[1]} features, but {type(estimator).__name__} is "
                         f"expecting {estimator.n_features_in_} features as input")
    n_classes = estimator.classes_.size
    one_column = method == "predict" or (method == "decision_function" and n_classes == 2)
    dtype = estimator.classes_.dtype if method == "predict" else np.dtype(np.float64)
    width = None if one_column else n_classes
    if one_column:
        return X.map_blocks(_predict_block, estimator=estimator, method=method, width=width,
                            drop_axis=1, dtype=dtype, meta=np.empty(0, dtype))
    return X.map_blocks(_predict_block, estimator=estimator, method=method, width=width,
                        chunks=(X.chunks[0], (n_classes,)), dtype=dtype,
                        meta=np.empty((0, 0), dtype))
