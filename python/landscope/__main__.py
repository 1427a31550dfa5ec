"""Command line: ``landscope info`` and ``landscope bench``."""
from __future__ import annotations

import argparse
import sys


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="landscope", description="landscope command line")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("info", help="print version, Eigen version, OpenMP and thread count")
    bench = sub.add_parser("bench", help="compare landscope with numpy on the benchmark problems",
                           add_help=False)
    bench.add_argument("rest", nargs=argparse.REMAINDER)
    args, extra = parser.parse_known_args(argv)
    if args.command == "info":
        import landscope

        for key, value in landscope.info().items():
            print(f"{key:>10}: {value}")
        return 0
    from landscope.bench import bench_derivatives

    return bench_derivatives.main(list(args.rest) + list(extra))


if __name__ == "__main__":
    sys.exit(main())
