"""Command line: ``landscope info``, ``landscope bench [options]`` and ``landscope spectrum [options]``."""
from __future__ import annotations

import sys

USAGE = """usage: landscope {info,bench,spectrum} ...

  info      print version, Eigen version, SIMD build, OpenMP and thread count
  bench     compare landscope with vectorized numpy: landscope bench [derivatives|spectra|training]
            [options] (derivatives by default; landscope bench training --help)
  spectrum  top and bottom Hessian eigenvalues, lambda_min of the tangent kernel, trace and
            index of a benchmark problem or an .npz data set (landscope spectrum --help)"""


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE)
        return 0 if argv else 2
    command, rest = argv[0], argv[1:]
    if command == "info":
        import landscope

        for key, value in landscope.info().items():
            print(f"{key:>10}: {value}")
        return 0
    if command == "bench":
        import importlib

        suite = "derivatives"
        if rest and rest[0] in ("derivatives", "spectra", "training"):
            suite, rest = rest[0], rest[1:]
        return importlib.import_module(f"landscope.bench.bench_{suite}").main(rest)
    if command == "spectrum":
        from landscope._spectrum_cli import main as spectrum

        return spectrum(rest)
    print(f"landscope: unknown command {command!r}\n\n{USAGE}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
