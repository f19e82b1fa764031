"""python -m xentfast bench [--quick] [--threads N] | train [...] | info"""
import argparse
import sys

import xentfast
from xentfast import _bench, _train


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m xentfast")
    commands = parser.add_subparsers(dest="command", required=True)
    bench = commands.add_parser("bench", help="time xentfast against the NumPy reference")
    bench.add_argument("--quick", action="store_true",
                       help=f"sizes {_bench.QUICK_SIZES} only, shorter timing")
    bench.add_argument("--threads", type=int, default=None, help="threads for xentfast")
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
    if args.threads is not None:
        xentfast.set_num_threads(args.threads)
    if args.quick:
        _bench.run(sizes=_bench.QUICK_SIZES, budget=0.05)
    else:
        _bench.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
