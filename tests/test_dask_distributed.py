"""xentfast.dask on a distributed.Client: a LocalCluster of two worker processes,
started once for this module.

The fit uses the active client without being told and matches the in-memory
fit; functions and predictions compute on the workers.  Out of core: X in a
.npy file larger than the workers' total memory limit, read through
``xentfast.dask.from_npy``; the fit completes with each worker's peak memory a
few chunks above where it started.

Starting the cluster and the out-of-core file take several seconds, so this
module runs once per CI run: with the kernel set this CPU selects, and is
skipped when XENTFAST_KERNELS forces one (the other two runs).
"""
import os
import warnings

import numpy as np
import pytest

da = pytest.importorskip("dask.array")
dask = pytest.importorskip("dask")
distributed = pytest.importorskip("distributed")

import xentfast  # noqa: E402
import xentfast.dask as xd  # noqa: E402
from xentfast.logistic_regression import ConvergenceWarning, LogisticRegression  # noqa: E402

from util import under_address_sanitizer  # noqa: E402

pytestmark = pytest.mark.skipif(
    os.environ.get("XENTFAST_KERNELS", "") not in ("", "auto"),
    reason="the LocalCluster tests run once per CI run, with the default kernel set")

# Per worker for the out-of-core fit: a worker holds about 170 MB once it has
# imported xentfast and Dask, and pauses at 80% of its limit, which leaves room
# for a few chunks of 12.8 MB.
MEMORY_LIMIT = 300 * 2**20


def local_cluster(memory_limit="auto"):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the cluster's own start-up notices
        return distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                        memory_limit=memory_limit, dashboard_address=None)


@pytest.fixture(scope="module")
def client():
    with local_cluster() as cluster, distributed.Client(cluster) as client:
        yield client


@pytest.fixture(scope="module")
def small_client():
    """Workers with a small memory limit (predictions, which unpickle the estimator and
    so import scikit-learn, would not fit in it)."""
    with local_cluster(MEMORY_LIMIT) as cluster, distributed.Client(cluster) as client:
        yield client


def make_data(n_samples, n_features, n_classes, seed):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_samples, n_features))
    logits = X @ rng.standard_normal((n_features, n_classes))
    return X, np.argmax(logits + rng.gumbel(size=logits.shape), axis=1)


def ran_on_workers(stream, n_blocks):
    """Whether at least a task per block ran on the cluster's workers."""
    return len({task["worker"] for task in stream.data}) >= 1 and len(stream.data) >= n_blocks


@pytest.mark.parametrize("solver", ["lbfgs", "newton"])
@pytest.mark.parametrize("n_classes", [2, 3])
def test_fit_on_the_cluster_matches_the_in_memory_fit(client, solver, n_classes):
    X, y = make_data(4000, 5, n_classes, seed=n_classes)
    memory = LogisticRegression(solver=solver, alpha=1e-3, tol=1e-6).fit(X, y)
    Xd = da.from_array(X, chunks=(700, 5)).persist()
    with distributed.get_task_stream(client) as stream:
        model = LogisticRegression(solver=solver, alpha=1e-3, tol=1e-6).fit(
            Xd, da.from_array(y, chunks=700))
    assert ran_on_workers(stream, Xd.npartitions)  # the client was used without being told
    # X is persisted: its blocks are held by an actor per worker, which runs the passes.
    assert any("_BlockPasses" in str(task["key"]) for task in stream.data)
    np.testing.assert_allclose(model.coef_, memory.coef_, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(model.intercept_, memory.intercept_, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(model.loss_curve_[-1], memory.loss_curve_[-1], rtol=1e-9)
    proba = model.predict_proba(Xd)
    assert isinstance(proba, da.Array)
    np.testing.assert_allclose(proba.compute(), memory.predict_proba(X), rtol=1e-6)


def test_functions_compute_on_the_cluster(client):
    rng = np.random.default_rng(5)
    z = rng.normal(size=(3000, 4))
    y = (rng.random((3000, 4)) < 0.5).astype(float)
    zd, yd = da.from_array(z, chunks=(700, 4)), da.from_array(y, chunks=(700, 4))
    with distributed.get_task_stream(client) as stream:
        loss, grad = dask.compute(*xd.binary_cross_entropy_with_logits(zd, yd, return_grad=True))
        lse = xd.logsumexp(zd, axis=0).compute()
    assert ran_on_workers(stream, zd.npartitions)
    expected_loss, expected_grad = xentfast.binary_cross_entropy_with_logits(z, y,
                                                                             return_grad=True)
    np.testing.assert_allclose(loss, expected_loss, rtol=1e-12)
    np.testing.assert_allclose(grad, expected_grad, rtol=1e-12)
    np.testing.assert_allclose(lse, xentfast.logsumexp(z, axis=0), rtol=1e-12)


def _write_npy(path, n_samples, n_features, block, seed):
    """X: one block of N(0, 1) rows repeated (quick to write), with labels drawn afresh
    for every block from a logistic model; returns the labels."""
    rng = np.random.default_rng(seed)
    rows = rng.standard_normal((block, n_features))
    probability = xentfast.sigmoid(rows @ rng.standard_normal(n_features))
    X = np.lib.format.open_memmap(path, mode="w+", dtype=np.float64,
                                  shape=(n_samples, n_features))
    y = np.empty(n_samples, np.int64)
    for start in range(0, n_samples, block):
        stop = min(start + block, n_samples)
        X[start:stop] = rows[:stop - start]
        y[start:stop] = rng.random(stop - start) < probability[:stop - start]
    del X  # unmapped; the pages stay in the page cache, shared with the workers
    return y


@pytest.mark.skipif(not os.path.exists("/proc/self/clear_refs"),
                    reason="needs Linux's /proc to measure the workers' peak memory")
@pytest.mark.skipif(under_address_sanitizer(),
                    reason="AddressSanitizer's shadow memory does not fit the workers' "
                           "small memory limit (their nanny restarts them)")
def test_out_of_core_fit_of_a_memory_mapped_file(small_client, tmp_path):
    client = small_client

    def worker_memory(reset=False):
        # (resident, peak resident) bytes of the worker; reset=True restarts the peak.
        # Nested, so that it is pickled by value: a worker unpickling this module would
        # import scikit-learn, which does not fit in its memory limit.
        if reset:
            import xentfast.dask._linear  # noqa: F401 - what the fit's tasks import
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")
        with open("/proc/self/status") as f:
            status = dict(line.split(":", 1) for line in f)
        return tuple(int(status[key].split()[0]) * 1024 for key in ("VmRSS", "VmHWM"))

    n_samples, n_features, chunk_rows = 2_500_000, 32, 50_000   # X: 640 MB on disk
    x_path, y_path = tmp_path / "X.npy", tmp_path / "y.npy"
    np.save(y_path, _write_npy(x_path, n_samples, n_features, chunk_rows, seed=7))
    x_bytes = os.path.getsize(x_path)
    n_workers = len(client.scheduler_info()["workers"])
    assert x_bytes > n_workers * MEMORY_LIMIT
    X = xd.from_npy(x_path, chunks=(chunk_rows, -1))
    y = xd.from_npy(y_path, chunks=chunk_rows)
    before = client.run(worker_memory, reset=True)
    params = dict(solver="lbfgs", alpha=1.0 / n_samples, max_iter=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = LogisticRegression(**params).fit(X, y)
        after = client.run(worker_memory)
        memory = LogisticRegression(**params).fit(np.load(x_path, mmap_mode="r"), np.load(y_path))
    assert set(after) == set(before)  # no worker was restarted
    chunk_bytes = chunk_rows * n_features * 8
    for worker, (resident, _) in before.items():
        peak = after[worker][1]
        assert peak - resident <= 4 * chunk_bytes, (worker, resident, peak)
        assert peak <= MEMORY_LIMIT
    np.testing.assert_allclose(model.coef_, memory.coef_, rtol=1e-6)
    np.testing.assert_allclose(model.loss_curve_, memory.loss_curve_, rtol=1e-9)


def test_train_command_on_a_local_cluster(capsys):
    from xentfast import _train
    assert _train.main(["--dask", "--workers", "1", "--chunks", "3", "--n-samples", "3000",
                        "--n-features", "4", "--classes", "3", "--solver", "lbfgs"]) == 0
    out = capsys.readouterr().out
    assert "in 3 row chunks" in out and "dashboard http" in out
    dask_loss = float(out.split("Dask, 1 worker: lbfgs")[1].split("final loss ")[1].split(",")[0])
    memory_loss = float(out.split("in memory, ")[1].split("final loss ")[1].split(",")[0])
    assert abs(dask_loss - memory_loss) <= 1e-9 * memory_loss
    assert "Dask time / in-memory time" in out


def test_train_command_refuses_what_dask_cannot_fit(capsys):
    from xentfast import _train
    assert _train.main(["--dask", "--solver", "sgd", "--n-samples", "100"]) == 2
    assert "sgd" in capsys.readouterr().err
