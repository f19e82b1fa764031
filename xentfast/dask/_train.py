"""python -m xentfast train --dask: the train command's problem fitted on a LocalCluster.

X and y are split into ``--chunks`` row blocks and persisted on a LocalCluster
of ``--workers`` processes (one thread each); ``LogisticRegression`` fits them
there, then in memory with the same options, and the two are compared.  On a
real cluster the code is the same with a ``distributed.Client`` pointed at its
scheduler instead of the LocalCluster.
"""
import importlib.util
import logging
import sys
import time
import warnings

import numpy as np

import xentfast
from xentfast.dask._io import persist_rows
from xentfast.logistic_regression import ConvergenceWarning, LogisticRegression


def _fit(model, X, y):
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X, y)
    return time.perf_counter() - start


def run(args, X, y, n_classes, source):
    """Fit on a LocalCluster, then in memory; print both.  Returns the exit code."""
    import distributed
    if args.solver == "sgd":
        print('--dask: solver "sgd" does not run on Dask arrays; use lbfgs, newton, '
              "newton-cg, gd or nesterov", file=sys.stderr)
        return 2
    if not isinstance(X, np.ndarray):
        print("--dask takes dense data (not --data sparse)", file=sys.stderr)
        return 2
    n_samples, n_features = X.shape
    rows_per_chunk = -(-n_samples // args.chunks)
    n_chunks = -(-n_samples // rows_per_chunk)
    options = dict(solver=args.solver, alpha=args.alpha, max_iter=args.max_iter, tol=args.tol)
    print(f"{source}: {n_samples} x {n_features} {X.dtype}, {n_classes} classes, in "
          f"{n_chunks} row chunks of up to {rows_per_chunk}; solver {args.solver}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the cluster's start-up notices
        cluster = distributed.LocalCluster(n_workers=args.workers, threads_per_worker=1,
                                           processes=True, silence_logs=logging.CRITICAL)
    with cluster, distributed.Client(cluster) as client:
        dashboard = client.dashboard_link
        if importlib.util.find_spec("bokeh") is None:
            dashboard += " (needs bokeh: pip install bokeh)"
        print(f"LocalCluster: {args.workers} worker processes x 1 thread; dashboard "
              f"{dashboard}")
        sys.stdout.flush()
        X_blocks, y_blocks = persist_rows(X, y, rows_per_chunk)
        distributed.wait([X_blocks, y_blocks])
        # Untimed: the workers import xentfast on their first tasks (about a second).
        _fit(LogisticRegression(solver="lbfgs", max_iter=1), X_blocks, y_blocks)
        on_dask = LogisticRegression(**options)
        dask_seconds = _fit(on_dask, X_blocks, y_blocks)
        accuracy = float((on_dask.predict(X_blocks) == y_blocks).mean().compute())
    in_memory = LogisticRegression(**options)
    memory_seconds = _fit(in_memory, X, y)
    loss, memory_loss = on_dask.loss_curve_[-1], in_memory.loss_curve_[-1]
    workers = f"{args.workers} worker" + ("s" if args.workers > 1 else "")
    print(f"Dask, {workers}: {on_dask.solver_}, {on_dask.n_iter_} iterations, "
          f"final loss {loss:.10g}, {dask_seconds:.3f} s; training accuracy {accuracy:.4f}")
    print(f"in memory, {xentfast.get_num_threads()} thread(s): {in_memory.solver_}, "
          f"{in_memory.n_iter_} iterations, final loss {memory_loss:.10g}, "
          f"{memory_seconds:.3f} s")
    difference = np.abs(on_dask.coef_ - in_memory.coef_).max() / max(
        np.abs(in_memory.coef_).max(), np.finfo(float).tiny)
    print(f"Dask time / in-memory time: {dask_seconds / memory_seconds:.2f}x; objective "
          f"difference {(loss - memory_loss) / memory_loss:.1e} (relative), coefficients "
          f"{difference:.1e} (relative, max)")
    return 0
