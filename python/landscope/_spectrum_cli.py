"""``landscope spectrum``: the Hessian and tangent-kernel spectrum of a problem at a point."""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time

import numpy as np

import landscope
from landscope import _progress, problems
from landscope.models import _ACTIVATIONS
from landscope.spectra import eigsh

PROBLEMS = problems.BENCHMARKS  # S1, S2, M1, M2
DEFAULTS = dict(problem="S1", model="shallow", loss="square", width=256, widths="64,64", activation="tanh")


class Parser(argparse.ArgumentParser):
    """argparse, with errors as one line on stderr (no usage block) and exit code 2."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: {message}\n")


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Appends "(default: X)" to every option's help, except flags and options without a default."""

    def _get_help_string(self, action):
        if action.default is None or isinstance(action.default, bool):
            return action.help
        return super()._get_help_string(action)


def _integer(least: int, most: int = 2**62):
    def parse(text: str) -> int:
        try:
            v = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer >= {least}, got {text!r}") from None
        if not least <= v <= most:
            raise argparse.ArgumentTypeError(f"expected an integer from {least} to {most}, got {text!r}"
                                             if most < 2**62 else f"expected an integer >= {least}, got {text!r}")
        return v
    return parse


def _tolerance(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        v = math.nan
    if not 0 < v < 1:
        raise argparse.ArgumentTypeError(f"expected a number between 0 and 1 (exclusive), got {text!r}")
    return v


def _widths(text: str) -> list[int]:
    body = text.strip()
    if body[:1] + body[-1:] in ("[]", "()"):
        body = body[1:-1]
    parts = [p.strip() for p in body.replace(" ", ",").split(",") if p.strip()]
    try:
        out = [int(p) for p in parts]
    except ValueError:
        out = []
    if not out or min(out) < 1:
        raise argparse.ArgumentTypeError(f"expected comma-separated positive integers such as 64,64, got {text!r}")
    return out


def writable(parser, option: str, path):
    """Fail now, not after the run, when ``path`` cannot be written."""
    if path is None:
        return
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        parser.error(f"{option}: {path!r} is a directory")
    if not os.path.isdir(folder):
        parser.error(f"{option}: cannot write {path!r}: no folder {folder!r}")
    if not os.access(folder, os.W_OK) or (os.path.exists(path) and not os.access(path, os.W_OK)):
        parser.error(f"{option}: cannot write {path!r}: permission denied")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="landscope spectrum", description=__doc__.splitlines()[0].replace("``", ""),
                    formatter_class=HelpFormatter,
                    epilog="Prints the k largest and k smallest eigenvalues of the Hessian H (Lanczos), "
                           "lambda_min of the tangent kernel K, trace(H) (Hutch++) and the index (number "
                           "of negative eigenvalues: exact when fewer than k, else an SLQ estimate). "
                           "Bad arguments exit with code 2, Ctrl-C with 130.")
    parser.add_argument("--problem", type=str.upper, choices=PROBLEMS, default=None,
                        help=f"a benchmark problem of landscope bench (default: {DEFAULTS['problem']}; "
                             "not with --data)")
    parser.add_argument("--data", metavar="PATH",
                        help="an .npz (numpy.savez) with X (n, d), y, and optionally w, instead of --problem")
    parser.add_argument("--model", choices=("shallow", "mlp"), default=None,
                        help="model for --data (default: shallow, or mlp with --loss cross_entropy)")
    parser.add_argument("--loss", choices=("square", "cross_entropy"), default=None,
                        help="loss for --data; cross_entropy (MLP only) takes integer class labels y, "
                             "square needs float targets y (default: square)")
    parser.add_argument("--num-classes", type=_integer(2), default=None,
                        help="classes k of --loss cross_entropy when some label 0..k-1 does not occur in y "
                             "(default: max(y) + 1)")
    parser.add_argument("--width", type=_integer(1), default=None,
                        help=f"hidden width of --model shallow (default: {DEFAULTS['width']})")
    parser.add_argument("--widths", type=_widths, default=None,
                        help=f"hidden widths of --model mlp, comma-separated (default: {DEFAULTS['widths']})")
    parser.add_argument("--activation", choices=_ACTIVATIONS, default=None,
                        help=f"activation for --data (default: {DEFAULTS['activation']})")
    parser.add_argument("--k", type=_integer(1), default=10, help="eigenvalues at each end of the spectrum")
    parser.add_argument("--tol", type=_tolerance, default=1e-8, help="Lanczos residual tolerance, relative to ‖H‖")
    parser.add_argument("--probes", type=_integer(4), default=30, help="Hutch++ probes for the trace (and SLQ probes)")
    parser.add_argument("--seed", type=_integer(0, 2**64 - 1), default=0,
                        help="seed of the random start vectors and probes (and of w when not given)")
    shown = parser.add_mutually_exclusive_group()
    shown.add_argument("--progress", action="store_true",
                       help="progress bars on stderr even when it is not a terminal, as whole lines "
                            "(default: on a terminal only)")
    shown.add_argument("--no-progress", action="store_true", help="no progress bars on stderr")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    return parser


def check_options(parser, args) -> None:
    """Reject options that conflict, or that do not apply; fill in the defaults."""
    data_only = ("model", "loss", "num_classes", "width", "widths", "activation")
    if args.data is None:
        for name in data_only:
            if getattr(args, name) is not None:
                parser.error(f"--{name}: only applies with --data (the benchmark problems are fixed)")
        args.problem = args.problem or DEFAULTS["problem"]
        return
    if args.problem is not None:
        parser.error("--problem and --data: give one of them")
    args.loss = args.loss or DEFAULTS["loss"]
    args.model = args.model or ("mlp" if args.loss == "cross_entropy" else DEFAULTS["model"])
    if args.num_classes is not None and args.loss != "cross_entropy":
        parser.error("--num-classes: only applies with --loss cross_entropy")
    if args.model == "shallow":
        if args.loss == "cross_entropy":
            parser.error("--loss cross_entropy: needs --model mlp (ShallowNet has the square loss only)")
        if args.widths is not None:
            parser.error("--widths: only applies with --model mlp (use --width for shallow)")
    elif args.width is not None:
        parser.error("--width: only applies with --model shallow (use --widths for mlp)")
    args.width = args.width if args.width is not None else DEFAULTS["width"]
    args.widths = args.widths if args.widths is not None else _widths(DEFAULTS["widths"])
    args.activation = args.activation or DEFAULTS["activation"]


def load_npz(parser, path: str) -> dict:
    """X, y and w (if present) from an .npz archive, or a one-line error naming --data."""
    where = f"--data: {path!r}"
    if not os.path.exists(path):
        parser.error(f"{where}: no such file")
    if os.path.isdir(path):
        parser.error(f"{where}: is a directory, expected an .npz file")
    try:
        with open(path, "rb") as f:
            magic = f.read(6)
    except OSError as e:
        parser.error(f"{where}: cannot read: {e.strerror or e}")
    if magic == b"\x93NUMPY":
        parser.error(f"{where}: is a single .npy array; expected an .npz archive with X and y (numpy.savez)")
    if not magic.startswith(b"PK"):
        parser.error(f"{where}: is not an .npz archive (numpy.savez) with X and y")
    try:
        with open(path, "rb") as f, np.load(f, allow_pickle=False) as data:
            files = data.files
            arrays = {key: data[key] for key in ("X", "y", "w") if key in files}
    except Exception as e:  # a corrupt archive: zipfile, zlib, format and pickle errors
        why = str(e).splitlines()[0] if str(e) else type(e).__name__
        parser.error(f"{where}: cannot read it as an .npz archive: {why}")
    missing = [key for key in ("X", "y") if key not in arrays]
    if missing:
        parser.error(f"{where}: has no array {missing[0]!r} (needs X and y; it has {', '.join(files) or 'none'})")
    return arrays


def data_model(parser, args):
    arrays = load_npz(parser, args.data)
    where = f"--data: {args.data!r}"
    X, y = arrays["X"], arrays["y"]
    if args.loss == "square" and y.dtype.kind in "biu":
        parser.error(f"{where}: y holds integers (dtype {y.dtype}): for class labels use --loss cross_entropy "
                     f"(with --model mlp); for regression targets store y as floats")
    try:
        if args.model == "shallow":
            model = landscope.ShallowNet(X, y, width=args.width, activation=args.activation)
            what = f"shallow width {args.width}"
        else:
            model = landscope.MLP(X, y, args.widths, activation=args.activation, loss=args.loss,
                                  num_classes=args.num_classes)
            what = f"mlp widths {','.join(map(str, args.widths))}"
    except (ValueError, TypeError) as e:
        parser.error(f"{where}: {e}")
    what += f", {args.activation}, {args.loss} loss"
    if "w" in arrays:
        w = arrays["w"]
        if w.dtype.kind not in "fiu" or w.shape != (model.num_params,):
            parser.error(f"{where}: w has shape {w.shape} and dtype {w.dtype}; the {what.split(',')[0]} model on "
                         f"d = {X.shape[1]} needs a float array of shape ({model.num_params},)")
        try:
            w = model._w(w.astype(np.float64))
        except (ValueError, TypeError) as e:
            parser.error(f"{where}: {e}")
        source = "w from file"
    else:
        w = model.init(args.seed)
        source = f"init seed {args.seed}"
    return model, w, f"{what} on {args.data} ({source})"


def problem_model(args):
    model, w = problems.build(args.problem, seed=args.seed)
    return model, w, f"{args.problem} (w ~ N(0,1), seed {args.seed})"


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    check_options(parser, args)
    writable(parser, "--json", args.json)
    with _progress.transient():  # on a terminal, each result is printed where its progress bar was
        return run(parser, args)


def run(parser, args) -> int:
    progress = _progress.enabled(False if args.no_progress else (True if args.progress else None))
    model, w, what = data_model(parser, args) if args.data is not None else problem_model(args)
    P = model.num_params
    if args.k >= P:
        parser.error(f"--k: expected k < P = {P} (the number of parameters), got {args.k}")
    H = model.hessian_operator(w)
    out = {"problem": what, "P": P, "n": model.num_samples}
    print(f"{what}: P = {P:,}, n = {model.num_samples:,}", flush=True)

    def solve(op, k, which, label):
        t0 = time.perf_counter()
        r = eigsh(op, k, which, args.tol, seed=args.seed, progress=progress, label=label)
        dt = time.perf_counter() - t0
        print(f"{label}: {np.array2string(r.eigenvalues, precision=6, max_line_width=100)}  "
              f"({r.products} products, {dt:.2f} s)", flush=True)
        return r

    try:
        top = solve(H, args.k, "LA", f"top {args.k} of H")
        bottom = solve(H, args.k, "SA", f"bottom {args.k} of H")
        nk = model.num_outputs
        if nk <= 4096:  # small kernels: dense is exact and cheaper than Lanczos at a clustered end
            t0 = time.perf_counter()
            with _progress.phase(f"lambda_min(K): the dense {nk} x {nk} tangent kernel", progress):
                kmin = float(landscope.eigh(model.tangent_kernel(w), subset_by_index=(0, 0), eigvals_only=True)[0])
            print(f"lambda_min(K): {kmin:.6g}  (dense {nk} x {nk}, {time.perf_counter() - t0:.2f} s)", flush=True)
        else:
            kmin = float(solve(model.kernel_operator(w), 1, "SA", "lambda_min(K)").eigenvalues[0])
    except landscope.ConvergenceError as e:  # not bad input: exit code 1
        print(f"landscope spectrum: {e}", file=sys.stderr)
        return 1
    t0 = time.perf_counter()
    tr = landscope.trace(H, num_probes=args.probes, method="hutch++", seed=args.seed, progress=progress,
                         label=f"trace(H): Hutch++ with {args.probes} probes")
    print(f"trace(H): {tr.estimate:.6g} ± {tr.standard_error:.2g} (Hutch++, {tr.products} products, "
          f"{time.perf_counter() - t0:.2f} s)", flush=True)
    thr = 1e-6 * max(abs(top.eigenvalues[-1]), abs(bottom.eigenvalues[0]), 1.0)
    t0 = time.perf_counter()
    # SLQ (with its bar) only when all k found are negative: the rest is estimated
    index, err, exact, method = landscope.analysis.negative_count(
        H, bottom.eigenvalues, thr, seed=args.seed, num_probes=args.probes, progress=progress,
        label=f"index: SLQ, {args.probes} probes x 80 Lanczos steps")
    print(f"index (eigenvalues < -{thr:.1e}): "
          + (f"{index:.0f} (exact)" if exact else f"{index:.0f} ± {err:.0f} (SLQ, {time.perf_counter() - t0:.2f} s)"),
          flush=True)
    out.update(top=top.eigenvalues.tolist(), bottom=bottom.eigenvalues.tolist(),
               kernel_lambda_min=kmin, trace=tr.estimate, trace_error=tr.standard_error,
               index=index, index_error=err, index_exact=exact)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=2)
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    from landscope.__main__ import main as _landscope

    sys.exit(_landscope(["spectrum", *sys.argv[1:]]))
