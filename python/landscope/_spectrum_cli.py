"""``landscope spectrum``: the Hessian and tangent-kernel spectrum of a problem at a point."""
from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np

import landscope


def _model(args):
    if args.data is None:
        from landscope.bench.bench_derivatives import PROBLEMS, build

        name = args.problem.upper()
        if name not in PROBLEMS:
            raise SystemExit(f"landscope spectrum: --problem: unknown {args.problem!r}; choose from {sorted(PROBLEMS)}")
        model, _, w = build(name, seed=args.seed)
        return model, w, f"{name} (w ~ N(0,1), seed {args.seed})"
    try:
        data = np.load(args.data)
    except (OSError, ValueError) as e:
        raise SystemExit(f"landscope spectrum: --data: cannot read {args.data!r}: {e}")
    missing = [key for key in ("X", "y") if key not in data]
    if missing:
        raise SystemExit(f"landscope spectrum: --data: {args.data!r} has no array {missing[0]!r} (needs X and y)")
    X, y = data["X"], data["y"]
    if args.model == "shallow":
        model = landscope.ShallowNet(X, y, width=args.width, activation=args.activation)
    else:
        widths = [int(v) for v in args.widths.split(",") if v.strip()]
        model = landscope.MLP(X, y, widths, activation=args.activation)
    w = data["w"] if "w" in data else model.init(args.seed)
    return model, w, f"{args.model} on {args.data} ({'w from file' if 'w' in data else f'init seed {args.seed}'})"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="landscope spectrum", description=__doc__.splitlines()[0].strip("`"))
    parser.add_argument("--problem", default="S1", help="a benchmark problem: S1, S2, M1 or M2 (default S1)")
    parser.add_argument("--data", help="an .npz with X (n, d) and y (and optionally w) instead of --problem")
    parser.add_argument("--model", choices=("shallow", "mlp"), default="shallow", help="model for --data")
    parser.add_argument("--width", type=int, default=256, help="ShallowNet width (--data)")
    parser.add_argument("--widths", default="64,64", help="MLP hidden widths (--data)")
    parser.add_argument("--activation", default="tanh", help="activation (--data)")
    parser.add_argument("--k", type=int, default=10, help="eigenvalues at each end (default 10)")
    parser.add_argument("--tol", type=float, default=1e-8, help="Lanczos residual tolerance (relative to ‖H‖)")
    parser.add_argument("--probes", type=int, default=30, help="Hutch++ probes for the trace (and SLQ probes)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-progress", action="store_true", help="no progress display on stderr")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    args = parser.parse_args(argv)
    model, w, what = _model(args)
    progress = not args.no_progress and sys.stderr.isatty()
    H = model.hessian_operator(w)
    out = {"problem": what, "P": model.num_params, "n": model.num_samples}
    print(f"{what}: P = {model.num_params:,}, n = {model.num_samples:,}")

    def solve(op, k, which, label):
        t0 = time.perf_counter()
        r = landscope.eigsh(op, k=k, which=which, tol=args.tol, seed=args.seed, progress=progress)
        dt = time.perf_counter() - t0
        print(f"{label}: {np.array2string(r.eigenvalues, precision=6, max_line_width=100)}  "
              f"({r.products} products, {dt:.2f} s)")
        return r, dt

    top, _ = solve(H, args.k, "LA", f"top {args.k} of H")
    bottom, _ = solve(H, args.k, "SA", f"bottom {args.k} of H")
    if model.num_outputs <= 4096:  # small kernels: dense is exact and cheaper than Lanczos at a clustered end
        t0 = time.perf_counter()
        kmin = float(landscope.eigh(model.tangent_kernel(w), subset_by_index=(0, 0), eigvals_only=True)[0])
        print(f"lambda_min(K): {kmin:.6g}  (dense {model.num_outputs} x {model.num_outputs}, "
              f"{time.perf_counter() - t0:.2f} s)")
    else:
        kmin = float(solve(model.kernel_operator(w), 1, "SA", "lambda_min(K)")[0].eigenvalues[0])
    t0 = time.perf_counter()
    tr = landscope.trace(H, num_probes=args.probes, method="hutch++", seed=args.seed)
    print(f"trace(H): {tr.estimate:.6g} ± {tr.standard_error:.2g} (Hutch++, {tr.products} products, "
          f"{time.perf_counter() - t0:.2f} s)")
    thr = 1e-6 * max(abs(top.eigenvalues[-1]), abs(bottom.eigenvalues[0]), 1.0)
    index, err, exact, method = landscope.spectra.negative_count(H, bottom.eigenvalues, thr, seed=args.seed,
                                                                 num_probes=args.probes)
    print(f"index (eigenvalues < -{thr:.1e}): " + (f"{index:.0f} (exact)" if exact else f"{index:.0f} ± {err:.0f} (SLQ)"))
    out.update(top=top.eigenvalues.tolist(), bottom=bottom.eigenvalues.tolist(),
               kernel_lambda_min=kmin, trace=tr.estimate, trace_error=tr.standard_error,
               index=index, index_error=err, index_exact=exact)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=2)
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
