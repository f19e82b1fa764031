"""Fits under the conditions production code meets (issue 8, the solvers' part):
Ctrl-C, little memory, extreme option values and weights, degenerate data.

Signals and memory limits are tried in a subprocess with a timeout, so that a
regression fails instead of hanging or killing the test run.
"""
import os
import warnings

import numpy as np
import pytest

import xentfast
from xentfast import linear_model, reference
from xentfast.logistic_regression import ConvergenceWarning, LogisticRegression

from util import python_child

SOLVERS = ("newton", "newton-cg", "lbfgs", "gd", "nesterov", "sgd")


def run_python(code, timeout=120, **env):
    """Run code in a fresh interpreter (see util.python_child)."""
    return python_child(code, timeout=timeout, env={**os.environ, **env})


INTERRUPT_CHILD = """
    import os, signal, sys, threading, time, warnings
    import numpy as np
    import xentfast

    warnings.simplefilter("ignore")
    # A process started in the background by a non-interactive shell (as CI may be)
    # inherits SIGINT ignored, and Python then leaves it so: restore Ctrl-C.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((100_000, 20)) * np.logspace(0, 2, 20)
    for solver in sys.argv[1:]:
        # Twenty classes make the Newton solvers' passes long (a Hessian pass takes
        # tenths of a second here), so they are still running when the signal comes.
        y = rng.integers(0, 20 if solver.startswith("newton") else 2, 100_000)
        model = xentfast.LogisticRegression(solver=solver, max_iter=10**6, tol=0.0)
        sent = []

        def interrupt():
            time.sleep(0.5)
            sent.append(time.perf_counter())
            os.kill(os.getpid(), signal.SIGINT)

        threading.Thread(target=interrupt, daemon=True).start()
        try:
            model.fit(X, y)
            outcome = "finished"
        except KeyboardInterrupt:
            outcome = f"interrupted {time.perf_counter() - sent[0]:.4f}"
        # The estimator stays usable.
        model.set_params(max_iter=5, tol=1e-4).fit(X[:500], y[:500])
        print(solver, outcome, model.predict(X[:3]).shape == (3,), flush=True)
"""


@pytest.fixture(scope="module")
def interrupted():
    """{solver: what happened when SIGINT came half a second into its fit}, from
    one child process for all the solvers."""
    result = python_child(INTERRUPT_CHILD, *SOLVERS)
    assert result.returncode == 0, result.stderr[-3000:]
    return {line.split()[0]: line.split()[1:] for line in result.stdout.splitlines()}


@pytest.mark.parametrize("solver", SOLVERS)
def test_ctrl_c_stops_every_solver_soon(interrupted, solver):
    outcome = interrupted[solver]
    assert outcome[0] == "interrupted", outcome
    delay = float(outcome[1])
    assert delay < 0.5, f"{solver} took {delay:.3f} s to stop after SIGINT"
    assert outcome[2] == "True"   # refitted and predicted afterwards


def test_fortran_float32_sgd_under_a_memory_limit():
    # A mini-batch of a Fortran-ordered X is gathered into a tile; with 10^6
    # features that tile must stay small (it was 512 MiB per chunk, unchecked).
    code = """
        import resource, numpy as np, xentfast, warnings
        X = np.asfortranarray(np.random.default_rng(0).standard_normal((4, 10**6),
                                                                     dtype=np.float32))
        y = np.array([0, 1, 0, 1])
        import xentfast.logistic_regression
        model = xentfast.LogisticRegression(solver="sgd", max_iter=2)
        model.fit(X, y)  # warm up: load everything before the limit
        usage = int(open("/proc/self/statm").read().split()[0]) * resource.getpagesize()
        resource.setrlimit(resource.RLIMIT_AS, (usage + 300 * 2**20, resource.RLIM_INFINITY))
        warnings.simplefilter("ignore")
        try:
            model.fit(X, y)
            print("fitted", np.isfinite(model.coef_).all())
        except MemoryError:
            print("MemoryError")
    """
    if not os.path.exists("/proc/self/statm"):
        pytest.skip("needs Linux's /proc")
    result = run_python(code, XENTFAST_NUM_THREADS="2")
    assert result.returncode == 0, (result.returncode, result.stderr[-2000:])
    assert result.stdout.strip() in ("fitted True", "MemoryError")


def test_a_hessian_too_big_for_memory_is_a_memory_error():
    # Every buffer of the objective is allocated with NumPy before any pass: a
    # Hessian of 20,001² doubles (3.2 GB) under a 300 MiB limit raises MemoryError.
    pytest.importorskip("scipy.sparse")
    code = """
        import resource, numpy as np, xentfast
        from scipy import sparse
        X = sparse.random(50, 20_000, density=0.001, format="csr", random_state=0)
        y = np.arange(50) % 2
        model = xentfast.LogisticRegression(solver="newton")  # imports scikit-learn now
        usage = int(open("/proc/self/statm").read().split()[0]) * resource.getpagesize()
        resource.setrlimit(resource.RLIMIT_AS, (usage + 300 * 2**20, resource.RLIM_INFINITY))
        try:
            model.fit(X, y)
            print("fitted")
        except MemoryError:
            print("MemoryError")
    """
    if not os.path.exists("/proc/self/statm"):
        pytest.skip("needs Linux's /proc")
    result = run_python(code, OPENBLAS_NUM_THREADS="1")
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "MemoryError"


@pytest.mark.parametrize("solver", ["gd", "nesterov", "sgd", "lbfgs", "newton", "newton-cg"])
def test_zero_X_without_intercept_gives_zero_coefficients(solver):
    y = np.array([0, 1] * 10)
    model = LogisticRegression(solver=solver, fit_intercept=False).fit(np.zeros((20, 3)), y)
    np.testing.assert_array_equal(model.coef_, 0.0)


def test_huge_max_iter_is_not_allocated_up_front():
    X = np.random.default_rng(1).standard_normal((200, 3))
    y = (X[:, 0] > 0).astype(int)
    for max_iter in (10**10, 2**63, 2**70):
        model = LogisticRegression(solver="lbfgs", max_iter=max_iter, alpha=0.1).fit(X, y)
        assert model.n_iter_ < 100


def test_huge_batch_size_means_one_batch():
    X = np.random.default_rng(2).standard_normal((300, 3))
    y = (X[:, 0] > 0).astype(int)
    one = LogisticRegression(solver="sgd", batch_size=2**63, max_iter=5, random_state=0)
    full = LogisticRegression(solver="sgd", batch_size=300, max_iter=5, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        np.testing.assert_array_equal(one.fit(X, y).coef_, full.fit(X, y).coef_)


@pytest.mark.parametrize("option, value", [("max_iter", -1), ("max_iter", 2.5),
                                           ("batch_size", 0), ("batch_size", True)])
def test_bad_counts_are_value_errors(option, value):
    with pytest.raises(ValueError, match=option):
        LogisticRegression(**{option: value}).fit(np.eye(4), [0, 1, 0, 1])


@pytest.mark.parametrize("scale", [1e308, 1e-310, 5e-324])
def test_extreme_sample_weights_give_the_unweighted_fit(scale):
    # The objective divides by Σ s, so a common factor changes nothing; its
    # sum overflowing or being subnormal must not turn it into nan or inf.
    rng = np.random.default_rng(3)
    X = rng.standard_normal((20, 2))
    y = (X[:, 0] + rng.standard_normal(20) > 0).astype(float)
    w = np.array([0.3, -0.2, 0.1])
    weights = np.full(20, scale)
    loss, grad = xentfast.logistic_loss_and_grad(w, X, y, sample_weight=weights)
    plain = xentfast.logistic_loss_and_grad(w, X, y)
    np.testing.assert_allclose(loss, plain[0], rtol=1e-12)
    np.testing.assert_allclose(grad, plain[1], rtol=1e-12)
    ref = reference.logistic_loss_and_grad(w, X, y, sample_weight=weights)
    np.testing.assert_allclose(ref[0], plain[0], rtol=1e-12)
    model = LogisticRegression(alpha=0.1).fit(X, y.astype(int), sample_weight=weights)
    unweighted = LogisticRegression(alpha=0.1).fit(X, y.astype(int))
    np.testing.assert_allclose(model.coef_, unweighted.coef_, rtol=1e-8)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_twins_agree_on_non_finite_X(bad):
    X = np.ones((4, 2))
    X[2, 1] = bad
    for function in (xentfast.logistic_loss_and_grad, reference.logistic_loss_and_grad):
        with pytest.raises(ValueError, match="X contains nan or inf"):
            function(np.zeros(3), X, np.zeros(4))


def test_callback_exception_stops_the_fit_and_propagates():
    X = np.random.default_rng(4).standard_normal((100, 2))
    y = (X[:, 0] > 0).astype(float)
    calls = []

    def callback(iteration, loss, grad_max):
        calls.append(iteration)
        if iteration == 2:
            raise RuntimeError("stop here")

    for solver in SOLVERS:
        calls.clear()
        with pytest.raises(RuntimeError, match="stop here"):
            linear_model.fit_logistic(X, y, 1, solver=solver, max_iter=50, tol=0.0,
                                      callback=callback)
        assert calls == [0, 1, 2] if solver != "sgd" else calls == [1, 2]


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_fit_refuses_non_finite_X_with_every_solver(solver, bad):
    # fit checks X through the solver's first pass (or up front for sgd).
    X = np.random.default_rng(5).standard_normal((50, 3))
    X[17, 2] = bad
    with pytest.raises(ValueError, match="X contains nan or inf"):
        LogisticRegression(solver=solver).fit(X, np.arange(50) % 2)


def test_parameters_at_an_odd_address_are_read_aligned():
    # A Dask worker unpickles the coefficients at any byte offset; the kernels read
    # them as doubles, so the objective copies them aligned (UBSan flagged the
    # misaligned loads).
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(50, 5)), rng.integers(0, 2, 50).astype(float)
    w = rng.normal(size=6)
    odd = np.frombuffer(b"\0" + w.tobytes(), np.float64, offset=1)
    assert not odd.flags.aligned
    objective = linear_model.make_objective(X, y, 1)
    assert objective._parameters(odd).flags.aligned
    loss, grad = objective.loss_and_grad(odd)
    expected_loss, expected_grad = objective.loss_and_grad(w)
    assert loss == expected_loss and np.array_equal(grad, expected_grad)
