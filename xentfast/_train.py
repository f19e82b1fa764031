"""python -m xentfast train: fit a logistic or softmax model, live, and compare with NumPy.

The data come from a known model (fixed seed): X ~ N(0, 1) and labels drawn
from σ(X θ + b) (two classes) or softmax(X Θᵀ + b) (more), so the accuracy of
the true model is known too.  ``--data ill-conditioned`` scales the columns over
three decades; ``--data sparse`` makes a CSR X of --n-samples x --n-features
with --nnz-per-row ones per row (e.g. --n-samples 500000 --n-features 20000).
``--data`` can also pick one of scikit-learn's bundled data sets
(standardised; no download), when scikit-learn is installed.

A progress bar on one line shows the iteration, loss, gradient max-norm and
rows/s; when stderr is not a terminal, a plain line every --progress-every
iterations does instead.  The summary gives the accuracy, the time per iteration, and the
same number of iterations of plain NumPy gradient descent
(``reference.logistic_gradient_descent``).  ``--plot FILE.png`` draws both
loss curves with matplotlib, if it is installed.
"""
import argparse
import sys
import time

import numpy as np

import xentfast
from xentfast import _datasets, linear_model, reference

BUNDLED = ("breast_cancer", "iris", "wine")   # in sklearn.datasets, shipped with the package
SYNTHETIC = ("synthetic", "ill-conditioned", "sparse")


def _int_at_least(low):
    def parse(text):
        value = int(text)
        if value < low:
            raise argparse.ArgumentTypeError(f"must be an integer >= {low}, got {text}")
        return value
    return parse


def _unit_float(text):
    value = float(text)
    if not 0 <= value <= 1:  # also rejects nan
        raise argparse.ArgumentTypeError(f"must be a number in [0, 1], got {text}")
    return value


def _non_negative_float(text):
    value = float(text)
    if not value >= 0:  # also rejects nan
        raise argparse.ArgumentTypeError(f"must be a number >= 0, got {text}")
    return value


def add_arguments(parser):
    parser.add_argument("--n-samples", type=_int_at_least(1), default=100_000,
                        help="rows of synthetic data (default: %(default)s)")
    parser.add_argument("--n-features", type=_int_at_least(1), default=32,
                        help="columns of synthetic data (default: %(default)s)")
    parser.add_argument("--classes", type=_int_at_least(2), default=2,
                        help="classes of synthetic data, >= 2 (default: %(default)s)")
    parser.add_argument("--solver", choices=linear_model.SOLVERS, default="auto",
                        help="(default: %(default)s: newton up to "
                             f"{linear_model.NEWTON_MAX_PARAMS} parameters, else newton-cg)")
    parser.add_argument("--dtype", choices=("float64", "float32"), default="float64")
    parser.add_argument("--threads", type=_int_at_least(1), default=None,
                        help="threads for xentfast (default: all usable cores)")
    parser.add_argument("--alpha", type=_non_negative_float, default=0.0,
                        help="penalty on the mean loss (default: %(default)s)")
    parser.add_argument("--l1-ratio", type=_unit_float, default=0.0,
                        help="share of --alpha on the L1 norm, the rest on half the squared "
                             "L2 norm: 0 ridge, 1 lasso (default: %(default)s)")
    parser.add_argument("--max-iter", type=_int_at_least(0), default=100,
                        help="iterations (epochs for sgd) (default: %(default)s)")
    parser.add_argument("--tol", type=_non_negative_float, default=1e-4,
                        help="stop at this gradient max-norm (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="data seed (default: %(default)s)")
    parser.add_argument("--data", choices=SYNTHETIC + BUNDLED, default="synthetic",
                        help="synthetic data (standardised; ill-conditioned: columns scaled "
                             "over three decades; sparse: CSR with --nnz-per-row ones per "
                             "row, needs SciPy), or a data set bundled with scikit-learn")
    parser.add_argument("--nnz-per-row", type=_int_at_least(1), default=20,
                        help="stored entries per row of --data sparse (default: %(default)s)")
    parser.add_argument("--plot", metavar="FILE.png", default=None,
                        help="draw the loss curves into this file (needs matplotlib)")
    parser.add_argument("--progress-every", type=_int_at_least(0), default=10, metavar="N",
                        help="where stderr is not a terminal: a progress line every N "
                             "iterations, 0 for none (on a terminal a live bar is drawn) "
                             "(default: %(default)s)")
    parser.add_argument("--dask", action="store_true",
                        help="fit on a Dask LocalCluster and compare with the in-memory fit "
                             '(needs pip install "xentfast[dask]")')
    parser.add_argument("--workers", type=_int_at_least(1), default=2,
                        help="--dask: worker processes, one thread each (default: %(default)s)")
    parser.add_argument("--chunks", type=_int_at_least(1), default=8,
                        help="--dask: row chunks of X (default: %(default)s)")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m xentfast train", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    return run(parser.parse_args(argv))


# --- data -----------------------------------------------------------------------

def load_bundled(name, dtype):
    """(X, y) of a scikit-learn bundled data set, each column standardised; None
    without scikit-learn."""
    try:
        from sklearn import datasets
    except ImportError:
        return None
    X, y = getattr(datasets, f"load_{name}")(return_X_y=True)
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    return X.astype(dtype), y.astype(np.intp)


def predict(coef, n_features, X):
    """Class indices from FitResult parameters (k rows, intercept last if present)."""
    logits = np.asarray(X @ coef[:, :n_features].T)
    if coef.shape[1] > n_features:
        logits += coef[:, n_features]
    return (logits[:, 0] > 0).astype(np.intp) if coef.shape[0] == 1 else logits.argmax(axis=1)


# --- progress -------------------------------------------------------------------

class ProgressBar:
    """The fit's callback: a live one-line bar on a terminal, plain lines elsewhere.

    On a terminal it redraws one line (``\\r``) at most every ``interval`` s.
    Anywhere else (a file, a pipe, a CI log) a bar drawn with ``\\r`` would
    pile up as one long line, so it writes a line every ``every`` iterations
    and one for the last, or nothing with ``every=0``.  ``terminal`` overrides
    ``stream.isatty()``.

    Times count from the first report, so the solver's setup (e.g. the 1/L
    estimate of gd) is left out.  rows/s counts one pass over the rows per
    iteration (the extra passes of line searches are not counted).
    """

    def __init__(self, max_iter, n_rows, stream=None, interval=0.1, width=24, every=10,
                 terminal=None):
        self.max_iter = max(max_iter, 1)
        self.n_rows = n_rows
        self.stream = sys.stderr if stream is None else stream
        self.interval = interval
        self.width = width
        self.every = every
        if terminal is None:
            isatty = getattr(self.stream, "isatty", None)
            terminal = bool(isatty and isatty())
        self.terminal = terminal
        self.first = None      # (iteration, time) of the first report
        self.last = None       # (iteration, loss, grad_max, time) of the latest
        self.last_draw = -np.inf
        self.last_line = None  # the iteration of the latest plain line

    def __call__(self, iteration, loss, grad_max):
        now = time.perf_counter()
        if self.first is None:
            self.first = (iteration, now)
        self.last = (iteration, loss, grad_max, now)
        if self.terminal:
            if now - self.last_draw >= self.interval:
                self.last_draw = now
                self.draw()
        elif self.every > 0 and iteration % self.every == 0:
            self.write_line()

    def seconds_per_iteration(self):
        """Mean time between reports, or nan before two reports."""
        if self.last is None or self.last[0] == self.first[0]:
            return np.nan
        return (self.last[3] - self.first[1]) / (self.last[0] - self.first[0])

    def status(self, with_bar):
        iteration, loss, grad_max, _ = self.last
        seconds = self.seconds_per_iteration()
        rate = f"{self.n_rows / seconds:9.3g}" if seconds > 0 else f"{'-':>9}"
        bar = ""
        if with_bar:
            filled = int(self.width * min(iteration / self.max_iter, 1.0))
            bar = " [" + "#" * filled + "." * (self.width - filled) + "]"
        return (f"{iteration:5d}/{self.max_iter}{bar} loss {loss:.8f}  "
                f"|grad|max {grad_max:.2e}  {rate} rows/s")

    def draw(self):
        self.stream.write(f"\r{self.status(with_bar=True)} ")
        self.stream.flush()

    def write_line(self):
        self.last_line = self.last[0]
        self.stream.write(self.status(with_bar=False) + "\n")
        self.stream.flush()

    def finish(self):
        if self.terminal:
            if self.last is not None:
                self.draw()
            self.stream.write("\n")
            self.stream.flush()
        elif self.every > 0 and self.last is not None and self.last_line != self.last[0]:
            self.write_line()


# --- the command ----------------------------------------------------------------

def compare_with_numpy(result, X, targets, rows, options, l1_ratio, dtype, per_iteration,
                       unit):
    """Run the same iterations in plain NumPy (``xentfast.reference``) and print the
    comparison: Newton's method for newton without an L1 penalty (when its
    Hessian is small enough to form in NumPy), else the article's gradient
    descent (proximal, with an L1 penalty) with gd's step 1/L.
    Returns the NumPy loop's losses."""
    n_features = X.shape[1]
    w0 = np.zeros(n_features + 1) if rows == 1 else np.zeros((rows, n_features + 1))
    note = " (in float64: the reference converts X)" if dtype != np.float64 else ""
    start = time.perf_counter()
    same = result.solver == "gd"
    if result.solver == "newton" and l1_ratio == 0:
        what = f"NumPy Newton's method{note}, the same {result.n_iter} iterations"
        _, losses = reference.logistic_newton(w0, X, targets, n_iter=result.n_iter, **options)
        same = True
    else:
        # gd's step 1/L (max_iter=0 computes only the step).
        step = result.step
        if not np.isfinite(step) or result.solver != "gd":
            step = linear_model.fit_logistic(X, targets, rows, solver="gd", max_iter=0,
                                             **options).step
        if l1_ratio > 0:
            what = (f"NumPy proximal gradient descent{note}, {result.n_iter} iterations with "
                    f"step {step:.4g}")
            alpha = options["alpha"]
            _, losses = reference.logistic_proximal_gradient(
                w0, X, targets, step=step, n_iter=result.n_iter, alpha=alpha,
                l1_ratio=l1_ratio, fit_intercept=options["fit_intercept"])
        else:
            what = (f"NumPy gradient descent{note}, {result.n_iter} iterations with step "
                    f"{step:.4g}")
            _, losses = reference.logistic_gradient_descent(w0, X, targets, step=step,
                                                            n_iter=result.n_iter, **options)
    numpy_per_iteration = (time.perf_counter() - start) / result.n_iter
    ratio = (f" ({numpy_per_iteration / per_iteration:.2f}x xentfast's time per {unit})"
             if same else f" (a different method from {result.solver}: not comparable "
                          f"per iteration)")
    print(f"{what}: final loss {losses[-1]:.10g}, "
          f"{numpy_per_iteration * 1e3:.3f} ms per iteration{ratio}")
    return losses


def _matplotlib_figure():
    try:
        from matplotlib.figure import Figure  # no pyplot: no GUI backend, no global state
    except ImportError:
        return None
    return Figure


def plot_losses(path, Figure, curve, reference_losses, solver, title):
    """The objective (left) and its distance to the lowest value seen, log scale (right)."""
    curves = {f"xentfast {solver}": curve}
    if reference_losses is not None:
        curves["NumPy gradient descent"] = reference_losses
    lowest = min(np.min(values) for values in curves.values())
    figure = Figure(figsize=(11, 4.5))
    left, right = figure.subplots(1, 2)
    for (label, values), style in zip(curves.items(), ("-", "--")):
        steps = np.arange(len(values))
        left.plot(steps, values, style, label=label)
        gap = values - lowest
        # The lowest point itself has a gap of 0, which a log scale cannot show.
        right.semilogy(steps[gap > 0], gap[gap > 0], style, label=label)
    left.set_ylabel("objective (mean cross-entropy + penalty)")
    right.set_ylabel("objective - lowest objective seen")
    for axes in (left, right):
        axes.set_xlabel("epoch" if solver == "sgd" else "iteration")
        axes.grid(alpha=0.3)
        axes.legend()
    figure.suptitle(title)
    figure.tight_layout()
    figure.savefig(path, dpi=120)


def run(args):
    Figure = None
    if args.plot is not None:
        Figure = _matplotlib_figure()
        if Figure is None:
            print("--plot needs matplotlib, which is not installed "
                  "(pip install matplotlib); nothing was fitted", file=sys.stderr)
            return 2
    if args.solver == "newton-cd" and args.classes > 2:
        print("--solver newton-cd fits two classes only", file=sys.stderr)
        return 2
    if args.threads is not None:
        xentfast.set_num_threads(args.threads)
    dtype = np.dtype(args.dtype)

    true_logits = None
    if args.data in ("synthetic", "ill-conditioned"):
        X, y, true_logits = _datasets.make_synthetic(
            args.n_samples, args.n_features, args.classes, dtype, args.seed,
            condition="ill" if args.data == "ill-conditioned" else "standard")
        n_classes = args.classes
        source = ("synthetic data from a known model" if args.data == "synthetic" else
                  "synthetic data, columns scaled over three decades")
    elif args.data == "sparse":
        if args.classes != 2:
            print("--data sparse makes two classes", file=sys.stderr)
            return 2
        try:
            X, y, true_logits = _datasets.make_sparse(args.n_samples, args.n_features,
                                                      args.nnz_per_row, args.seed, dtype)
        except ImportError:
            print("--data sparse needs SciPy, which is not installed", file=sys.stderr)
            return 2
        n_classes = 2
        source = f"sparse CSR data, {args.nnz_per_row} ones per row"
    else:
        data = load_bundled(args.data, dtype)
        if data is None:
            print(f"--data {args.data} needs scikit-learn, which is not installed; "
                  f"use --data synthetic", file=sys.stderr)
            return 2
        X, y = data
        n_classes = int(y.max()) + 1
        source = f"scikit-learn's {args.data} data set, standardised"
    if args.dask:
        try:
            from xentfast.dask import _train as dask_train
        except ImportError as error:
            print(f"--dask: {error}", file=sys.stderr)
            return 2
        return dask_train.run(args, X, y, n_classes, source)
    X = linear_model._prepare_X(X)
    n_samples, n_features = X.shape
    rows = 1 if n_classes == 2 else n_classes
    # Binary targets are 0/1 floats, multinomial ones class indices (linear_model's convention).
    targets = y.astype(np.float64) if rows == 1 else y
    options = dict(alpha=args.alpha, fit_intercept=True)
    print(f"{source}: {n_samples} x {n_features} {dtype}, {n_classes} classes; "
          f"solver {args.solver}, {xentfast.get_num_threads()} thread(s)")

    sys.stdout.flush()  # the header before the progress bar (on stderr)
    progress = ProgressBar(args.max_iter, n_samples, every=args.progress_every)
    start = time.perf_counter()
    result = linear_model.fit_logistic(X, targets, rows, solver=args.solver,
                                       l1_ratio=args.l1_ratio, max_iter=args.max_iter,
                                       tol=args.tol, random_state=args.seed, callback=progress,
                                       **options)
    fit_seconds = time.perf_counter() - start
    progress.finish()

    accuracy = np.mean(predict(result.coef, n_features, X) == y)
    per_iteration = progress.seconds_per_iteration()
    if not np.isfinite(per_iteration):  # fewer than two reports: setup included
        per_iteration = fit_seconds / max(result.n_iter, 1)
    unit = "epoch" if result.solver == "sgd" else "iteration"
    status = "converged" if result.converged else "stopped at --max-iter"
    print(f"{result.solver}: {result.n_iter} {unit}s ({status}), final loss "
          f"{result.loss_curve[-1]:.10g}, {fit_seconds:.3f} s in all, "
          f"{per_iteration * 1e3:.3f} ms per {unit}")
    if true_logits is not None:
        best = (true_logits[:, 0] > 0) if rows == 1 else true_logits.argmax(axis=1)
        print(f"training accuracy {accuracy:.4f} (the true model's: {np.mean(best == y):.4f})")
    else:
        print(f"training accuracy {accuracy:.4f}")

    reference_losses = None
    if result.n_iter > 0:
        reference_losses = compare_with_numpy(result, X, targets, rows, options, args.l1_ratio,
                                              dtype, per_iteration, unit)

    if Figure is not None:
        plot_losses(args.plot, Figure, result.loss_curve, reference_losses, result.solver,
                    f"{n_samples} x {n_features} {dtype}, {n_classes} classes")
        print(f"loss curves written to {args.plot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
