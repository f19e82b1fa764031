"""``xentfast bench --fits``: fitting logistic and softmax models against the peers.

The problems of issue 11, each fitted by xentfast's solvers and by the peers
that are installed (scikit-learn's LogisticRegression solvers, glum's IRLS),
all on the same number of threads, to the same objective

    Σ CE_i / n + α/2 ||coef||²      (intercept not penalised)

which scikit-learn reaches with C = 1 / (α n) and glum with its own alpha = α.
Every fit's objective is computed by ``xentfast.logistic_loss_and_grad`` and
compared with the optimum (a Newton fit to a gradient of 1e-10); "within 1e-6"
is (f - f*) / f* <= 1e-6.  A peer that can take a tighter tolerance is also
run with one, so that the fastest of its runs that reaches 1e-6 is the one
compared with.  Slow peers run once; xentfast's fits take the median of a few.
"""
import statistics
import time
import warnings
from dataclasses import dataclass
from typing import Callable

import numpy as np

import xentfast
from xentfast import _datasets, linear_model
from xentfast._bench import (SETTLE_SECONDS, OtherLoad, _format_time, _limit_threads, _controller,
                             _target, machine_lines)

WITHIN = 1e-6


@dataclass
class Problem:
    name: str
    description: str
    X: object
    y: np.ndarray
    n_classes: int
    alpha: float

    @property
    def binary(self):
        return self.n_classes == 2

    @property
    def sparse(self):
        return linear_model.is_sparse(self.X)


def make_problems(quick=False, names=None):
    """The problems of issue 11 (``quick``: a tenth of the rows, fewer features)."""
    scale = 10 if quick else 1
    problems = []

    def wanted(name):
        return names is None or name in names

    for name, condition in (("standardised", "standard"), ("ill-conditioned", "ill")):
        if wanted(name):
            n = 1_000_000 // scale
            X, y, _ = _datasets.make_synthetic(n, 32, 2, np.float64, 0, condition=condition)
            what = "N(0, 1)" if condition == "standard" else "N(0, 1) × logspace(0, 3, 32)"
            problems.append(Problem(name, f"dense {n:,} × 32 float64, X ~ {what}, two classes, "
                                          f"alpha = 1/n", X, y, 2, 1.0 / n))
    if wanted("sparse"):
        n, d = 500_000 // scale, 20_000 // scale
        try:
            X, y, _ = _datasets.make_sparse(n, d, 20, seed=0)
        except ImportError:
            X = None
        if X is not None:
            problems.append(Problem("sparse", f"CSR {n:,} × {d:,}, 20 ones per row, two "
                                              f"classes, alpha = 1e-4", X, y, 2, 1e-4))
    if wanted("multinomial"):
        n = 200_000 // scale
        X, y, _ = _datasets.make_synthetic(n, 32, 10, np.float64, 0, condition="ill")
        problems.append(Problem("multinomial", f"dense {n:,} × 32 float64 × logspace(0, 3, "
                                               f"32), 10 classes, alpha = 1/n", X, y, 10,
                                1.0 / n))
    return problems


def objective(problem, coef, intercept):
    coef = np.asarray(coef, dtype=np.float64).reshape(-1, problem.X.shape[1])
    w = np.column_stack([coef, np.ravel(intercept)])
    y = problem.y.astype(np.float64) if problem.binary else problem.y
    return xentfast.logistic_loss_and_grad(w[0] if problem.binary else w, problem.X, y,
                                           alpha=problem.alpha)[0]


# --- the contenders -------------------------------------------------------------

@dataclass
class Contender:
    name: str
    fit: Callable          # () -> (coef, intercept, n_iter)
    repeats: int
    note: str = ""


def _run(model, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarnings: the table says it
        model.fit(X, y)
    return model.coef_, model.intercept_, int(np.max(model.n_iter_))


def xentfast_contenders(problem, repeats):
    options = dict(alpha=problem.alpha, max_iter=1000)
    contenders = [Contender(f"xentfast default (solver=\"auto\"), tol={tol:g}",
                            lambda tol=tol: _run(xentfast.LogisticRegression(tol=tol, **options),
                                                 problem.X, problem.y), repeats)
                  for tol in (1e-4, 1e-6)]
    for solver in ("newton", "newton-cg", "lbfgs"):
        n_params = (problem.n_classes if not problem.binary else 1) * (problem.X.shape[1] + 1)
        if solver == "newton" and n_params > 4 * linear_model.NEWTON_MAX_PARAMS:
            continue  # a Hessian of n_params² doubles: not for wide data
        contenders.append(Contender(
            f"xentfast {solver}",
            lambda solver=solver: _run(xentfast.LogisticRegression(solver=solver, **options),
                                       problem.X, problem.y), repeats))
    return contenders


def peer_contenders(problem):
    """scikit-learn's and glum's fits of this problem, where they are installed."""
    contenders = []
    try:
        from sklearn.linear_model import LogisticRegression
    except ImportError:
        LogisticRegression = None
    if LogisticRegression is not None:
        C = 1.0 / (problem.alpha * problem.X.shape[0])
        solvers = ["lbfgs", "newton-cholesky"]
        if problem.binary:
            solvers.append("liblinear")
        if problem.sparse:
            solvers.append("saga")
            solvers.remove("newton-cholesky")  # a dense d × d Hessian: 3.2 GB at d = 20,000
        if problem.name == "ill-conditioned":
            # hundreds of seconds each, and neither is a target here (lbfgs: 320 s in
            # issue 11; liblinear: 207 s and 262 s at tol 1e-4 and 1e-8, AMD EPYC)
            solvers.remove("lbfgs")
            solvers.remove("liblinear")
        for solver in solvers:
            tols = (1e-4, 1e-8) if solver in ("lbfgs", "liblinear", "saga") else (1e-4,)
            for tol in tols:
                note = ("penalises the intercept too (intercept_scaling=1)"
                        if solver == "liblinear" else "")
                contenders.append(Contender(
                    f"scikit-learn {solver}, tol={tol:g}",
                    lambda solver=solver, tol=tol: _run(LogisticRegression(
                        C=C, solver=solver, tol=tol, max_iter=1000), problem.X, problem.y),
                    1, note))
    # glum's IRLS solves with the dense p × p Hessian: on the sparse problem (p =
    # 20,001, 3.2 GB) scipy.linalg.solve segfaulted inside it here, taking the
    # benchmark down; glum is not among that problem's targets.
    if problem.binary and not problem.sparse:
        try:
            from glum import GeneralizedLinearRegressor
        except ImportError:
            GeneralizedLinearRegressor = None
        if GeneralizedLinearRegressor is not None:
            for tol in (1e-4, 1e-8):
                contenders.append(Contender(
                    f"glum IRLS, gradient_tol={tol:g}",
                    lambda tol=tol: _glum_fit(GeneralizedLinearRegressor, problem, tol), 1))
    return contenders


def _glum_fit(GeneralizedLinearRegressor, problem, tol):
    model = GeneralizedLinearRegressor(family="binomial", alpha=problem.alpha, l1_ratio=0.0,
                                       gradient_tol=tol, max_iter=1000)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(problem.X, problem.y)
    return model.coef_[None, :], np.atleast_1d(model.intercept_), int(model.n_iter_)


# --- running and printing -------------------------------------------------------

@dataclass
class FitRow:
    name: str
    seconds: float
    n_iter: int
    gap: float
    note: str

    @property
    def within(self):
        return self.gap <= WITHIN


def optimum(problem):
    """The lowest objective: a Newton fit (newton-cg for wide data) to a gradient of 1e-10."""
    n_params = problem.X.shape[1] + 1
    solver = "newton" if n_params <= 4 * linear_model.NEWTON_MAX_PARAMS else "newton-cg"
    model = xentfast.LogisticRegression(alpha=problem.alpha, solver=solver, tol=1e-10,
                                        max_iter=1000)
    _run(model, problem.X, problem.y)
    return objective(problem, model.coef_, model.intercept_)


def time_contenders(contenders, objective_of, best, threads, count_zeros=False):
    """Fit with every contender on ``threads`` (the median of its repeats), and
    the objective gap of its result; returns the FitRows."""
    rows = []
    previous = xentfast.get_num_threads()
    xentfast.set_num_threads(threads)
    try:
        _controller.clear()  # see the peers' thread pools too
        with _limit_threads(threads):
            for contender in contenders:
                seconds = []
                for _ in range(contender.repeats):
                    time.sleep(SETTLE_SECONDS)
                    start = time.perf_counter()
                    coef, intercept, n_iter = contender.fit()
                    seconds.append(time.perf_counter() - start)
                value = objective_of(coef, intercept)
                notes = [contender.note] if contender.note else []
                if count_zeros:
                    coef = coef.toarray() if hasattr(coef, "toarray") else np.asarray(coef)
                    notes.insert(0, f"{int(np.sum(coef == 0))} zero coefficients")
                rows.append(FitRow(contender.name, statistics.median(seconds), n_iter,
                                   (value - best) / best, "; ".join(notes)))
    finally:
        xentfast.set_num_threads(previous)
    return rows


def run_problem(problem, threads, repeats, print_fn):
    best = optimum(problem)
    contenders = xentfast_contenders(problem, repeats) + peer_contenders(problem)
    rows = time_contenders(contenders, lambda coef, intercept: objective(problem, coef,
                                                                         intercept),
                           best, threads)
    print_rows(problem, best, rows, "Optimum f* = {:.12f} (xentfast's Newton to a gradient "
                                    "of 1e-10).", "f", print_fn)
    return rows


def fastest_peer(rows, prefixes):
    """The fastest run (name starting with one of ``prefixes``) within 1e-6."""
    good = [r for r in rows if r.name.startswith(prefixes) and r.within]
    return min(good, key=lambda r: r.seconds) if good else None


def _target_line(name, rows, prefixes, goal):
    """The target: the fastest peer run within 1e-6 ÷ the fastest run of xentfast's
    default solver within 1e-6."""
    peer = fastest_peer(rows, prefixes)
    ours = fastest_peer(rows, ("xentfast default",))
    if peer is None:
        return f"- {name}: no peer run reached within 1e-6 (or none is installed)"
    if ours is None:
        return f"- {name}: no run of xentfast's default solver reached within 1e-6 — MISSED"
    return _target(f"{name}: {peer.name} ÷ {ours.name}", peer.seconds / ours.seconds, goal)


def newton_pass_ratio(n_samples=1_000_000, n_features=32, repeats=5):
    """(one loss + gradient + Hessian pass, X.T @ X), one thread each, in seconds."""
    X, y, _ = _datasets.make_synthetic(n_samples, n_features, 2, np.float64, 0)
    objective_ = linear_model.make_objective(X, y.astype(np.float64), 1, None,
                                             1.0 / n_samples, True)
    objective_.reserve_hessian()
    objective_.set_threads(1)
    w = np.random.default_rng(1).normal(0, 0.3, n_features + 1)
    times = {"pass": [], "gram": []}
    with _limit_threads(1, "blas"):
        for _ in range(repeats):
            for what, call in (("pass", lambda: objective_.loss_grad_hess(w)),
                               ("gram", lambda: X.T @ X)):
                start = time.perf_counter()
                call()
                times[what].append(time.perf_counter() - start)
    return statistics.median(times["pass"]), statistics.median(times["gram"])


def _warm_up():
    """Import everything a timed fit would import on first use (scikit-learn alone
    takes about a second), start the thread pools, and let skglm's Numba compile
    its loops for dense and sparse X (about 15 s, once per process)."""
    X = np.random.default_rng(0).standard_normal((200, 3))
    y = (X[:, 0] > 0).astype(int)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        xentfast.LogisticRegression().fit(X, y)
        for module in ("sklearn.linear_model", "glum"):
            try:
                __import__(module)
            except ImportError:
                pass
        try:
            from scipy import sparse
            from skglm import SparseLogisticRegression
        except ImportError:
            return
        for data in (X, sparse.csr_matrix(X)):
            for l1_ratio in (1.0, 0.5):
                SparseLogisticRegression(alpha=0.01, l1_ratio=l1_ratio).fit(data, y)


def run_fits(threads=2, quick=False, repeats=3, names=None, print_fn=print):
    """Print issue 11's tables and targets; returns {problem name: rows}."""
    _warm_up()
    other_load = OtherLoad()
    print_fn("## Fitting: Newton's method, sparse X, and the peers")
    print_fn("")
    for line in machine_lines():
        print_fn(line)
    print_fn(f"- threads: {threads} for every fit (xentfast.set_num_threads and "
             f"threadpoolctl's limit on BLAS and OpenMP); times are medians of {repeats} "
             f"fits for xentfast, one fit for the peers")
    print_fn("")
    results = {}
    for problem in make_problems(quick, names):
        results[problem.name] = run_problem(problem, threads, repeats, print_fn)
    pass_seconds, gram_seconds = newton_pass_ratio(100_000 if quick else 1_000_000)
    print_fn(f"One Newton pass (loss, gradient and Hessian) of xentfast, "
             f"{100_000 if quick else 1_000_000:,} × 32 float64, one thread: "
             f"{_format_time(pass_seconds)}; X.T @ X with NumPy's BLAS on one thread: "
             f"{_format_time(gram_seconds)}.")
    print_fn("")
    print_fn("### Targets (issue 11)")
    print_fn("")
    targets = (("ill-conditioned", ("glum", "scikit-learn newton-cholesky"), 3),
               ("standardised", ("glum", "scikit-learn newton-cholesky", "scikit-learn lbfgs"), 3),
               ("sparse", ("scikit-learn",), 2),
               ("multinomial", ("scikit-learn newton-cholesky", "scikit-learn lbfgs"), 1))
    for name, prefixes, goal in targets:
        rows = results.get(name)
        if not rows:
            continue
        print_fn(_target_line(name, rows, prefixes, goal))
    print_fn(_target("one Newton pass ÷ X.T @ X (one thread)", pass_seconds / gram_seconds, 3,
                     at_least=False))
    print_fn(other_load.line())
    return results


# --- penalties (issue 12) -----------------------------------------------------------

@dataclass
class PenalisedProblem:
    name: str
    description: str
    X: object
    y: np.ndarray
    alpha: float
    l1_ratio: float


def make_penalised_problems(quick=False, names=None):
    scale = 10 if quick else 1
    problems = []
    if names is None or "sparse-l1" in names:
        try:
            X, y, _ = _datasets.make_sparse(500_000 // scale, 20_000 // scale, 20, seed=0)
            problems.append(PenalisedProblem(
                "sparse-l1", f"CSR {X.shape[0]:,} × {X.shape[1]:,}, 20 ones per row, pure L1, "
                             f"alpha = 1e-4", X, y, 1e-4, 1.0))
        except ImportError:
            pass
    for name, condition in (("dense-elastic-net", "standard"),
                            ("ill-conditioned-elastic-net", "ill")):
        if names is None or name in names:
            n = 1_000_000 // scale
            X, y, _ = _datasets.make_synthetic(n, 32, 2, np.float64, 0, condition=condition)
            what = "N(0, 1)" if condition == "standard" else "N(0, 1) × logspace(0, 3, 32)"
            problems.append(PenalisedProblem(
                name, f"dense {n:,} × 32, X ~ {what}, l1_ratio = 0.5, alpha = 1/n", X, y,
                1.0 / n, 0.5))
    return problems


def penalised_objective(problem, coef, intercept):
    """The objective of LogisticRegression(alpha, l1_ratio), intercept unpenalised."""
    coef = np.asarray(coef.toarray() if hasattr(coef, "toarray") else coef,
                      dtype=np.float64).reshape(-1)
    w = np.append(coef, np.ravel(intercept)[:1])
    smooth = xentfast.logistic_loss_and_grad(w, problem.X, problem.y.astype(np.float64),
                                             alpha=problem.alpha * (1 - problem.l1_ratio))[0]
    return smooth + problem.alpha * problem.l1_ratio * np.abs(coef).sum()


def penalised_contenders(problem, repeats):
    options = dict(alpha=problem.alpha, l1_ratio=problem.l1_ratio, max_iter=1000)
    contenders = [Contender(f"xentfast default (solver=\"auto\"), tol={tol:g}",
                            lambda tol=tol: _run(xentfast.LogisticRegression(tol=tol, **options),
                                                 problem.X, problem.y), repeats)
                  for tol in (1e-4, 1e-6)]
    try:
        from sklearn.linear_model import LogisticRegression
    except ImportError:
        LogisticRegression = None
    n = problem.X.shape[0]
    if LogisticRegression is not None:
        C = 1.0 / (problem.alpha * n)
        # saga on the ill-conditioned elastic net crawls (more than 10 minutes at
        # max_iter=1000 here): it gets 30 epochs, and its row says how far it got.
        saga_epochs = 30 if problem.name.startswith("ill-conditioned") else 1000
        peers = [("saga", 1e-4), ("saga", 1e-6)]
        if problem.l1_ratio == 1.0:
            peers = [("liblinear", 1e-4), ("liblinear", 1e-6)] + peers
        for solver, tol in peers:
            penalty = "l1" if problem.l1_ratio == 1.0 else "elasticnet"
            extra = {} if penalty == "l1" else {"l1_ratio": problem.l1_ratio}
            note = ("penalises the intercept too" if solver == "liblinear" else "")
            max_iter = saga_epochs if solver == "saga" else 1000
            if max_iter < 1000:
                note = f"max_iter={max_iter}"
            contenders.append(Contender(
                f"scikit-learn {solver}, tol={tol:g}",
                lambda solver=solver, tol=tol, penalty=penalty, extra=extra, max_iter=max_iter:
                _run(LogisticRegression(C=C, penalty=penalty, solver=solver, tol=tol,
                                        max_iter=max_iter, **extra), problem.X, problem.y),
                1, note))
    try:
        from glum import GeneralizedLinearRegressor
    except ImportError:
        GeneralizedLinearRegressor = None
    if GeneralizedLinearRegressor is not None and not linear_model.is_sparse(problem.X):
        for tol in (1e-4, 1e-8):
            contenders.append(Contender(
                f"glum IRLS-CD, gradient_tol={tol:g}",
                lambda tol=tol: _glum_penalised(GeneralizedLinearRegressor, problem, tol), 1))
    try:
        from skglm import SparseLogisticRegression
    except ImportError:
        SparseLogisticRegression = None
    if SparseLogisticRegression is not None:
        for tol in (1e-4, 1e-8):
            contenders.append(Contender(
                f"skglm SparseLogisticRegression, tol={tol:g}",
                lambda tol=tol: _run(SparseLogisticRegression(
                    alpha=problem.alpha, l1_ratio=problem.l1_ratio, tol=tol, max_iter=100),
                    problem.X, problem.y), 1))
    return contenders


def _glum_penalised(GeneralizedLinearRegressor, problem, tol):
    model = GeneralizedLinearRegressor(family="binomial", alpha=problem.alpha,
                                       l1_ratio=problem.l1_ratio, gradient_tol=tol,
                                       max_iter=1000)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(problem.X, problem.y)
    return model.coef_[None, :], np.atleast_1d(model.intercept_), int(model.n_iter_)


def run_penalised_problem(problem, threads, repeats, print_fn):
    exact = xentfast.LogisticRegression(alpha=problem.alpha, l1_ratio=problem.l1_ratio,
                                        tol=1e-10, max_iter=1000)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        exact.fit(problem.X, problem.y)
    best = penalised_objective(problem, exact.coef_, exact.intercept_)
    rows = time_contenders(penalised_contenders(problem, repeats),
                           lambda coef, intercept: penalised_objective(problem, coef, intercept),
                           best, threads, count_zeros=True)
    print_rows(problem, best, rows, "Optimum F* = {:.12f} (xentfast to a subgradient of "
                                    "1e-10).", "F", print_fn)
    return rows


def print_rows(problem, best, rows, optimum_line, letter, print_fn):
    """A problem's table: every fit's time, iterations and objective gap."""
    default = rows[0]
    print_fn(f"#### {problem.name}: {problem.description}")
    print_fn("")
    print_fn(optimum_line.format(best))
    print_fn("")
    print_fn(f"| fit | time | iterations | ({letter} − {letter}*) / {letter}* | within 1e-6 "
             f"| this ÷ xentfast default |")
    print_fn("|---|---:|---:|---:|---|---:|")
    for row in rows:
        note = f" ({row.note})" if row.note else ""
        print_fn(f"| {row.name}{note} | {_format_time(row.seconds)} | {row.n_iter} | "
                 f"{row.gap:.1e} | {'yes' if row.within else 'no'} | "
                 f"{row.seconds / default.seconds:.2f}x |")
    print_fn("")


def l1_path_timings(problem, threads, n_alphas=20):
    """(xentfast path seconds, scikit-learn liblinear warm-started path seconds or None)."""
    path_options = dict(l1_ratio=1.0, n_alphas=n_alphas, eps=1e-2, tol=1e-6, max_iter=1000)
    previous = xentfast.get_num_threads()
    xentfast.set_num_threads(threads)
    try:
        with _limit_threads(threads):
            start = time.perf_counter()
            path = xentfast.logistic_regression_path(problem.X, problem.y, **path_options)
            ours = time.perf_counter() - start
            try:
                from sklearn.linear_model import LogisticRegression
            except ImportError:
                return ours, None, path
            model = LogisticRegression(penalty="l1", solver="liblinear", warm_start=True,
                                       tol=1e-6, max_iter=1000)
            start = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                for alpha in path.alphas:
                    model.set_params(C=1.0 / (alpha * problem.X.shape[0]))
                    model.fit(problem.X, problem.y)
            theirs = time.perf_counter() - start
    finally:
        xentfast.set_num_threads(previous)
    return ours, theirs, path


def run_penalties(threads=2, quick=False, repeats=3, print_fn=print):
    """Print issue 12's tables and targets."""
    _warm_up()
    other_load = OtherLoad()
    print_fn("## Penalties: L1 and elastic net against the peers")
    print_fn("")
    for line in machine_lines():
        print_fn(line)
    print_fn(f"- threads: {threads} for every fit; objective F = mean CE + alpha (l1_ratio "
             f"||coef||₁ + (1 − l1_ratio)/2 ||coef||²), intercept unpenalised, computed by "
             f"xentfast for every fit")
    print_fn("")
    results = {}
    sparse_problem = None
    for problem in make_penalised_problems(quick):
        results[problem.name] = run_penalised_problem(problem, threads, repeats, print_fn)
        if problem.name == "sparse-l1":
            sparse_problem = problem
    path_line = None
    if sparse_problem is not None:
        ours, theirs, path = l1_path_timings(sparse_problem, threads)
        print_fn(f"A 20-alpha L1 path on the sparse problem (alpha from {path.alphas[0]:.3g} "
                 f"to {path.alphas[-1]:.3g}, tol 1e-6): xentfast.logistic_regression_path "
                 f"{_format_time(ours)}" + (f"; scikit-learn liblinear refitted with "
                                            f"warm_start over the same alphas "
                                            f"{_format_time(theirs)}" if theirs else "") + ".")
        print_fn("")
        if theirs:
            path_line = _target("L1 path: liblinear path ÷ xentfast path", theirs / ours, 1)
    print_fn("### Targets (issue 12)")
    print_fn("")
    for name, prefixes, goal in (("sparse-l1", ("scikit-learn", "skglm"), 2),
                                 ("dense-elastic-net", ("glum", "scikit-learn saga"), 3),
                                 ("ill-conditioned-elastic-net", ("glum", "scikit-learn saga"),
                                  3)):
        rows = results.get(name)
        if not rows:
            continue
        print_fn(_target_line(name, rows, prefixes, goal))
    if path_line:
        print_fn(path_line)
    print_fn(other_load.line())
    return results
