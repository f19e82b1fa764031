"""The command line: ``xentfast`` (installed with the package) or ``python -m xentfast``.

    xentfast bench [--peers] [--linear] [--quick] [--sizes N ...] [--threads N]
    xentfast train [...]
    xentfast info
    xentfast --version
"""
import argparse
import os
import sys

import xentfast
from xentfast import _bench, _train

BENCH_DESCRIPTION = """\
Time xentfast, side by side in one process (interleaved rounds, medians), and print
Markdown tables with the machine, the kernel set and the thread counts.

  bench             every public function against its NumPy reference
                    (sizes 1e3, 1e5, 1e7; xentfast on --threads, default all cores)
  bench --peers     one table against SciPy, scikit-learn and PyTorch where installed
                    (sizes 256, 1e4, 1e6, 1e7; xentfast on --threads, default 1; the
                    peers on one thread), then issue 3's targets
  bench --linear    one logistic_loss_and_grad call at 1M x 32 (float64, float32; 1 and
                    2 threads) against the NumPy reference and X.sum(), and
                    LogisticRegression.fit with every solver against scikit-learn's
                    lbfgs (on --threads, default 2), with each fit's peak memory; then
                    issue 4's targets.  About 1-2 minutes.

  bench --fits      issue 11's fits: dense standardised and ill-conditioned 1M x 32,
                    sparse CSR 500,000 x 20,000, multinomial 200,000 x 32 x 10, with
                    every solver, against scikit-learn and glum (the bench extra), all on
                    --threads (default 2); several minutes (--quick: a tenth)

  bench --penalties issue 12's fits: pure L1 on the sparse data, elastic net on dense
                    standardised and ill-conditioned 1M x 32, a 20-alpha L1 path, against
                    scikit-learn, glum and skglm (the bench extra), on --threads
                    (default 2)

  bench --dask      issue 10: LogisticRegression.fit on a LocalCluster of 2 workers
                    (1M x 32 in 8 persisted chunks) against the in-memory fit on 2
                    threads and dask-ml, and binary_cross_entropy_with_logits over 1e8
                    values in 100 chunks; a few minutes (--quick: a tenth)

--peers, --linear, --fits, --penalties and --dask can be given together.  The peers are optional:
pip install "xentfast[bench]" brings SciPy and scikit-learn; PyTorch is not in
the extra, install it by hand with: pip install torch==2.13.0
"""


def _size(text):
    """An integer size, also written as 1e6."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not (value >= 1 and value == int(value)):
        raise argparse.ArgumentTypeError(f"a size must be a whole number >= 1, got {text}")
    return int(value)


def _threads(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"threads must be >= 1, got {text}")
    return value


def add_bench_arguments(bench):
    bench.add_argument("--peers", action="store_true",
                       help="compare with SciPy, scikit-learn and PyTorch (where installed)")
    bench.add_argument("--linear", action="store_true",
                       help="logistic_loss_and_grad and LogisticRegression.fit against NumPy "
                            "and scikit-learn")
    bench.add_argument("--fits", action="store_true",
                       help="fit the issue-11 problems (dense standardised and ill-conditioned, "
                            "sparse, multinomial) with every solver and against scikit-learn "
                            "and glum, on --threads (default 2); several minutes")
    bench.add_argument("--penalties", action="store_true",
                       help="issue 12's fits: pure L1 on sparse data, elastic net on dense "
                            "data, a 20-alpha L1 path, against scikit-learn, glum and skglm, "
                            "on --threads (default 2); several minutes")
    bench.add_argument("--dask", action="store_true",
                       help="issue 10: LogisticRegression.fit and a loss over 1e8 values on a "
                            "Dask LocalCluster, against in memory and dask-ml (the dask and "
                            "bench extras); a few minutes")
    bench.add_argument("--quick", action="store_true",
                       help=f"small sizes only ({_bench.QUICK_SIZES}; with --peers "
                            f"{_bench.QUICK_PEER_SIZES}; with --linear 100,000 x 32), "
                            f"shorter timing")
    bench.add_argument("--sizes", type=_size, nargs="+", metavar="N",
                       help="total sizes to time, e.g. --sizes 256 1e4 1e6 (overrides "
                            "--quick's)")
    bench.add_argument("--threads", type=_threads, default=None,
                       help="threads for xentfast (default: all cores; 1 with --peers, so "
                            "the ratios are single-core; 2 for the --linear fits)")
    bench.add_argument("--linear-samples", type=_size, default=None, metavar="N",
                       help="rows of X for --linear (default 1,000,000; 100,000 with --quick)")
    bench.add_argument("--linear-features", type=_size, default=_bench.LINEAR_FEATURES,
                       metavar="D", help="columns of X for --linear (default %(default)s)")


def run_bench(args):
    budget = 0.05 if args.quick else 0.2
    if args.peers:
        sizes = args.sizes or (_bench.QUICK_PEER_SIZES if args.quick else _bench.PEER_SIZES)
        _bench.run_peers(sizes=tuple(sizes), threads=args.threads or 1, budget=budget)
    if args.peers and args.linear:
        print()
    if args.linear:
        n_samples = args.linear_samples or (100_000 if args.quick else 1_000_000)
        _bench.run_linear(n_samples=n_samples, n_features=args.linear_features,
                          fit_threads=args.threads or 2, budget=2 * budget,
                          fit_repeats=1 if args.quick else 3)
    if args.fits:
        from xentfast import _bench_fits
        _bench_fits.run_fits(threads=args.threads or 2, quick=args.quick,
                             repeats=1 if args.quick else 3)
    if args.penalties:
        from xentfast import _bench_fits
        _bench_fits.run_penalties(threads=args.threads or 2, quick=args.quick,
                                  repeats=1 if args.quick else 3)
    if args.dask:
        from xentfast import _bench_dask
        _bench_dask.run_dask(quick=args.quick, repeats=1 if args.quick else 3)
    if not (args.peers or args.linear or args.fits or args.penalties or args.dask):
        if args.threads is not None:
            xentfast.set_num_threads(args.threads)
        sizes = args.sizes or (_bench.QUICK_SIZES if args.quick else _bench.SIZES)
        _bench.run(sizes=tuple(sizes), budget=budget)
    return 0


def program_name():
    """How the user called us: 'python -m xentfast' or 'xentfast' (the console command)."""
    called_as = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else ""
    return "python -m xentfast" if called_as == "__main__.py" else "xentfast"


def main(argv=None):
    parser = argparse.ArgumentParser(prog=program_name(),
                                     description="xentfast's benchmarks, training demo and "
                                                 "build information")
    parser.add_argument("--version", action="version",
                        version=f"xentfast {xentfast.__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    bench = commands.add_parser("bench", help="time xentfast against the NumPy reference "
                                "and, with --peers or --linear, against SciPy, scikit-learn "
                                "and PyTorch", description=BENCH_DESCRIPTION,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    add_bench_arguments(bench)
    train = commands.add_parser("train", help="fit a logistic or softmax model by gradient "
                                "descent, with a live progress bar")
    _train.add_arguments(train)
    commands.add_parser("info", help="show the build configuration")
    args = parser.parse_args(argv)

    if args.command == "train":
        return _train.run(args)
    if args.command == "info":
        xentfast.show_config()
        return 0
    return run_bench(args)


if __name__ == "__main__":
    sys.exit(main())
