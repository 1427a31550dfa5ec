"""Command line: ``landscope info``, ``landscope report``, ``landscope bench [options]`` and
``landscope spectrum [options]``.

Bad arguments or input files end with one line on stderr naming the argument and exit code 2;
Ctrl-C ends with ``landscope: interrupted`` and exit code 130.
"""
from __future__ import annotations

import argparse
import os
import sys

COMMANDS = """commands:
  info      print version, Eigen version, SIMD build, OpenMP and thread count
  report    the theory of non-convex training, measured and drawn, as an HTML page:
            landscope report [--quick] [--out DIR] [--seed S] [--no-progress]
            [--scheduler ADDRESS | --workers N], or on your own data:
            landscope report --data FILE.npz [--widths 64,64] [--loss ...] (--help)
  bench     compare landscope with vectorized numpy (and JAX, torch with --peers jax,torch):
            landscope bench [derivatives|spectra|training|landscape]
            [options] (derivatives by default; landscope bench training --help)
  spectrum  top and bottom Hessian eigenvalues, lambda_min of the tangent kernel, trace and
            index of a benchmark problem or an .npz data set (landscope spectrum --help)"""

SUITES = ("derivatives", "spectra", "training", "landscape")


class _Parser(argparse.ArgumentParser):
    """argparse, with errors as one line on stderr (no usage block) and exit code 2."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: {message}\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="landscope", usage="landscope [--version] [--cmake-dir] {info,report,bench,spectrum} ...",
                     description="landscope: exact derivatives, Hessians, tangent kernels and their spectra.",
                     epilog=COMMANDS, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="store_true", help="print 'landscope <version>' and exit")
    parser.add_argument("--cmake-dir", action="store_true",
                        help="print the folder of landscopeConfig.cmake (for landscope_DIR) and exit")
    parser.add_argument("command", nargs="?", metavar="{info,report,bench,spectrum}", help="see below")
    return parser


def _run(argv: list) -> int:
    # Options before the command belong to `landscope`, everything after it to the command.
    split = next((i for i, a in enumerate(argv) if not a.startswith("-")), len(argv))
    parser = _parser()
    top = parser.parse_args(argv[: split + 1])
    command, rest = top.command, argv[split + 1:]
    if top.version or top.cmake_dir:
        if command is not None:
            parser.error(f"{'--version' if top.version else '--cmake-dir'}: takes no command, got {command!r}")
        if top.version:
            from landscope import __version__

            print(f"landscope {__version__}")
        if top.cmake_dir:
            from landscope._paths import cmake_dir

            print(cmake_dir())
        return 0
    if command is None:
        parser.print_help(sys.stderr)
        return 2
    if command == "info":
        if rest:
            return _fail("info", f"takes no arguments, got {' '.join(rest)}")
        import landscope

        for key, value in landscope.info().items():
            print(f"{key:>10}: {value}")
        return 0
    if command == "bench":
        import importlib

        suite = "derivatives"
        if rest and not rest[0].startswith("-"):
            if rest[0] not in SUITES:
                return _fail("bench", f"unknown suite {rest[0]!r}; choose from {', '.join(SUITES)}")
            suite, rest = rest[0], rest[1:]
        return _api_errors("bench", lambda: importlib.import_module(f"landscope.bench.bench_{suite}").main(rest))
    if command == "report":
        return _api_errors("report", lambda: _report(rest))
    if command == "spectrum":
        from landscope._spectrum_cli import main as spectrum

        return _api_errors("spectrum", lambda: spectrum(rest))
    parser.error(f"unknown command {command!r}; choose from info, report, bench, spectrum (landscope --help)")
    return 2  # not reached


def _report(argv: list) -> int:
    from landscope._spectrum_cli import _ACTIVATIONS, _integer, _widths

    parser = _Parser(prog="landscope report", description="Runs the report's sections (small seeded experiments "
                     "on the theorems of DESIGN §1) and writes DIR/index.html, DIR/report.json and the figures; "
                     "with --data, the model-level measurements on your own data instead.")
    parser.add_argument("--quick", action="store_true", help="smaller problems and shorter runs (about half the time)")
    parser.add_argument("--out", default="landscope-report", metavar="DIR",
                        help="the folder to write (default: landscope-report)")
    parser.add_argument("--seed", type=_integer(0, 2**32 - 1), default=0, metavar="S",
                        help="the seed of every experiment (default: 0)")
    parser.add_argument("--data", metavar="FILE", help="an .npz (numpy.savez) with X (n, d), y and optionally w: "
                        "train an MLP on it and report the training, spectrum, slice and flatness")
    parser.add_argument("--widths", type=_widths, default=None, help="hidden widths for --data (default: 64,64)")
    parser.add_argument("--activation", choices=_ACTIVATIONS, default=None, help="for --data (default: tanh)")
    parser.add_argument("--loss", choices=("square", "cross_entropy"), default=None,
                        help="for --data: square (float targets) or cross_entropy (integer labels); default square")
    parser.add_argument("--num-classes", type=_integer(2), default=None,
                        help="classes of --loss cross_entropy when some label does not occur")
    parser.add_argument("--steps", type=_integer(1, 10**7), default=None,
                        help="GD steps for --data (default: 1000, 200 with --quick)")
    parser.add_argument("--lr", type=float, default=None, help="GD rate for --data (default: 1/λ_max(H) at the start)")
    parser.add_argument("--progress", dest="progress", action="store_true", default=None,
                        help="the progress bar on stderr even when it is not a terminal (as whole lines)")
    parser.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--scheduler", metavar="ADDRESS", default=None,
                       help="run the width study and the optimizer sweep on this Dask scheduler "
                       "(e.g. tcp://10.0.0.5:8786; needs pip install \"landscope[dask]\")")
    where.add_argument("--workers", type=_integer(1, 4096), default=None, metavar="N",
                       help="run them on a local Dask cluster of N worker processes (the cores shared "
                       "among them; needs pip install \"landscope[dask]\")")
    args = parser.parse_args(argv)
    data_only = ("widths", "activation", "loss", "num_classes", "steps", "lr")
    if args.data is None:
        for name in data_only:
            if getattr(args, name) is not None:
                parser.error(f"--{name.replace('_', '-')}: only applies with --data")
    if args.data is not None and (args.scheduler is not None or args.workers is not None):
        parser.error(f"--{'scheduler' if args.scheduler is not None else 'workers'}: the sections that run on "
                     f"Dask (the width study and the optimizer sweep) are not part of a --data report")
    if args.lr is not None and not (args.lr > 0 and args.lr < float("inf")):
        parser.error(f"--lr: expected a finite rate > 0, got {args.lr}")
    own = _own_data(parser, args) if args.data is not None else None
    from landscope._distributed import dask_client
    from landscope.report import report

    with dask_client(scheduler=args.scheduler, workers=args.workers) as client:
        rep = report(args.out, quick=args.quick, seed=args.seed, progress=args.progress, echo=print, data=own,
                     client=client)
    print(f"wrote {rep.index}")
    return 0 if rep.ok else 1


def _own_data(parser, args):
    """The report's OwnData from --data and its options, or one line naming --data."""
    import numpy as np

    import landscope
    from landscope._spectrum_cli import load_npz
    from landscope.report import OwnData

    arrays = load_npz(parser, args.data)
    where = f"--data: {args.data!r}"
    X, y = arrays["X"], arrays["y"]
    loss = args.loss or "square"
    if loss == "square" and y.dtype.kind in "biu":
        parser.error(f"{where}: y holds integers (dtype {y.dtype}): for class labels use --loss cross_entropy; "
                     f"for regression targets store y as floats")
    widths = args.widths if args.widths is not None else [64, 64]
    activation = args.activation or "tanh"
    try:
        model = landscope.MLP(X, y, widths, activation=activation, loss=loss, num_classes=args.num_classes,
                              reduction="mean")
        w = model._w(arrays["w"].astype(np.float64)) if "w" in arrays else model.init(args.seed)
    except (ValueError, TypeError) as e:
        parser.error(f"{where}: {e}")
    what = (f"an MLP (widths {','.join(map(str, widths))}, {activation}, {loss} loss, mean reduction) on "
            f"{os.path.basename(args.data)}: n = {X.shape[0]}, d = {X.shape[1]}, P = {model.num_params}, "
            f"{'w from the file' if 'w' in arrays else f'init seed {args.seed}'}")
    return OwnData(model=model, w=w, description=what, steps=args.steps, lr=args.lr)


def _fail(command: str, message: str) -> int:
    print(f"landscope {command}: {message}", file=sys.stderr)
    return 2


def _api_errors(command: str, run) -> int:
    """Bad input that only the landscope API detects (or a missing optional dependency): one line
    naming the command, exit code 2."""
    try:
        return run()
    except (ValueError, TypeError, MemoryError, ImportError) as e:
        text = str(e).strip()
        return _fail(command, text.splitlines()[0] if text else type(e).__name__)


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        return _run(argv)
    except KeyboardInterrupt:
        sys.stdout.flush()
        print("\nlandscope: interrupted" if sys.stderr.isatty() else "landscope: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
