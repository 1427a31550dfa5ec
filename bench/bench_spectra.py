"""Spectra benchmark: landscope's Lanczos and dense eigh against scipy and numpy, in one process.

1. The 10 largest ("LA") and 10 smallest ("SA") Hessian eigenvalues of the derivative
   benchmark's problems (S1, S2, M1, M2, w ~ N(0,1)) at tol 1e-8:
   - landscope.eigsh(model.hessian_operator(w)) (operator set-up included in the time),
   - scipy.sparse.linalg.eigsh over a LinearOperator whose matvec is landscope's own
     model.hvp (ARPACK, same k and tol; capped at --budget products),
   - numpy.linalg.eigvalsh of the assembled Hessian where it fits (S1, M1),
   with time, products, convergence and agreement (max |Δλ| / max|λ| against the dense
   spectrum where available, else against scipy when it converged).
   The peak memory of landscope's solve is reported in vectors of length P.
2. Dense landscope.eigh against numpy.linalg.eigh (all pairs) and eigvalsh (values only) on
   random symmetric matrices of n = 1000, 2000, 4000.

Times are medians of the timed runs, with their spread ((max − min) / median).

    python bench/bench_spectra.py [--quick] [--problems S1,M1] [--repeats 3] [--json out.json]
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import time

import numpy as np

try:  # installed as landscope.bench
    from .bench_derivatives import (build, check_output, emit, fmt_spread, fmt_time, median_time,
                                    parser, peak_memory, positive_int, problem_list, spread, timings, warn_if_busy)
except ImportError:  # run as a script from bench/
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from bench_derivatives import (build, check_output, emit, fmt_spread, fmt_time,  # type: ignore[no-redef]
                                   median_time, parser, peak_memory, positive_int, problem_list, spread, timings,
                                   warn_if_busy)

import landscope
from landscope._validation import available_memory

K, TOL = 10, 1e-8
DENSE_EIGVALSH = {"S1", "M1"}


class _Budget(Exception):
    pass


def scipy_eigsh(model, w, which: str, budget: int, seconds: float):
    """ARPACK over landscope's HVP: (values or None, products, seconds, status)."""
    from scipy.sparse.linalg import ArpackNoConvergence, LinearOperator, eigsh

    P = model.num_params
    count = [0]

    def matvec(v):
        count[0] += 1
        if count[0] > budget or time.perf_counter() - t0 > seconds:
            raise _Budget
        return model.hvp(w, np.ravel(v))

    op = LinearOperator((P, P), matvec=matvec, dtype=np.float64)
    t0 = time.perf_counter()
    try:
        vals = eigsh(op, k=K, which=which, tol=TOL, return_eigenvectors=False)
        status = "converged"
    except ArpackNoConvergence:
        vals, status = None, "no convergence"
    except _Budget:
        vals, status = None, f"stopped after {count[0] - 1} products / {time.perf_counter() - t0:.0f} s"
    return (None if vals is None else np.sort(vals)), count[0], time.perf_counter() - t0, status


def ours(model, w, which: str):
    return landscope.eigsh(model.hessian_operator(w), k=K, which=which, tol=TOL, progress=False)


def run_lanczos(problems, repeats: int, budget: int, seconds: float, with_scipy: bool) -> list:
    rows = []
    for name in problems:
        model, _, w = build(name)
        P = model.num_params
        exact = None
        t_dense = None
        if name in DENSE_EIGVALSH:
            H = model.hessian(w)
            t_dense = median_time(lambda: np.linalg.eigvalsh(H), 1)
            exact = np.linalg.eigvalsh(H)
            del H
        for which in ("LA", "SA"):
            big = P >= 100_000
            out, peak, runs = [], None, None
            try:
                if big:  # one run: its time and its peak memory
                    t0 = time.perf_counter()
                    peak = peak_memory(lambda: out.append(ours(model, w, which)))
                    t_ours = time.perf_counter() - t0
                else:
                    runs = timings(lambda: out.append(ours(model, w, which)), repeats)
                    t_ours = float(np.median(runs))
                res = out[-1]
                conv, vals, products = True, res.eigenvalues, res.products
            except landscope.ConvergenceError as e:
                conv, vals, products, t_ours = False, e.result.eigenvalues, e.result.products, None
            row = dict(problem=name, P=P, which=which, landscope_s=t_ours, landscope_products=products,
                       landscope_converged=conv, landscope_spread=spread(runs), landscope_runs_s=runs,
                       peak_vectors=(peak / (8.0 * P) if peak else None))
            if with_scipy:
                sv, sp, st, status = scipy_eigsh(model, w, which, budget, seconds)
                row.update(scipy_s=st, scipy_products=sp, scipy_status=status)
            else:
                sv = None
            ref, against = None, None
            if exact is not None:
                ref = exact[-K:] if which == "LA" else exact[:K]
                against = "eigvalsh"
            elif sv is not None:
                ref, against = sv, "scipy"
            if ref is not None:
                scale = np.max(np.abs(ref))
                row["agreement"] = float(np.max(np.abs(vals - ref)) / scale)
                row["agreement_with"] = against
            if t_dense is not None:
                row["eigvalsh_s"] = t_dense
            if with_scipy and row.get("scipy_status") == "converged" and t_ours is not None:
                row["ratio"] = t_ours / row["scipy_s"]
            rows.append(row)
            print(f"  {name} {which}: landscope {t_ours if t_ours is not None else float('nan'):.3g} s / "
                  f"{products} products; scipy {row.get('scipy_s', float('nan')):.3g} s / "
                  f"{row.get('scipy_products')} ({row.get('scipy_status')})", file=sys.stderr)
    return rows


def _paired_timings(a, b, repeats: int) -> tuple[list, list]:
    """Timings of a() and b() run alternately, so drifts in machine speed hit both alike."""
    a(), b()
    ta, tb = [], []
    for _ in range(repeats):
        for fn, out in ((a, ta), (b, tb)):
            t0 = time.perf_counter()
            fn()
            out.append(time.perf_counter() - t0)
    return ta, tb


def run_dense(sizes, repeats: int) -> list:
    rows = []
    rng = np.random.default_rng(0)
    for n in sizes:
        A = rng.standard_normal((n, n))
        A = (A + A.T) / 2
        reps = 3 * repeats if n <= 1000 else (repeats if n <= 2000 else max(1, repeats // 2))
        pairs = {"eigh (all pairs)": _paired_timings(lambda: np.linalg.eigh(A), lambda: landscope.eigh(A), reps),
                 "eigh (values)": _paired_timings(lambda: np.linalg.eigvalsh(A),
                                                  lambda: landscope.eigh(A, eigvals_only=True), reps)}
        for op, (runs_np, runs_ls) in pairs.items():
            t_np, t_ls = float(np.median(runs_np)), float(np.median(runs_ls))
            rows.append(dict(n=n, op=op, numpy_s=t_np, landscope_s=t_ls, ratio=t_ls / t_np,
                             numpy_spread=spread(runs_np), landscope_spread=spread(runs_ls),
                             numpy_runs_s=runs_np, landscope_runs_s=runs_ls))
    return rows


def _t(t):
    return fmt_time(t, "—")


def table(report: dict) -> str:
    lines = [
        "| problem | P | which | landscope | spread | products | scipy eigsh (landscope HVP) | products | ratio | "
        "dense eigvalsh | agreement | notes |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ] if report["lanczos"] else []
    for r in report["lanczos"]:
        ratio = f"{r['ratio']:.2f}" if "ratio" in r else "—"
        notes = []
        if not r["landscope_converged"]:
            notes.append("landscope NOT converged")
        if r.get("scipy_status") and r["scipy_status"] != "converged":
            notes.append(f"scipy: {r['scipy_status']}")
        if r.get("peak_vectors") is not None:
            notes.append(f"peak {r['peak_vectors']:.0f} vectors of P")
        agree = f"{r['agreement']:.1e} ({r['agreement_with']})" if "agreement" in r else "—"
        lines.append(f"| {r['problem']} | {r['P']:,} | {r['which']} | {_t(r['landscope_s'])} | "
                     f"{fmt_spread(r['landscope_spread'])} | {r['landscope_products']} | {_t(r.get('scipy_s'))} | "
                     f"{r.get('scipy_products', '—')} | "
                     f"{ratio} | {_t(r.get('eigvalsh_s'))} | {agree} | {'; '.join(notes)} |")
    if report["dense"]:
        lines += ["", "| n | operation | numpy | landscope | ratio | spread numpy / landscope |",
                  "|---:|---|---:|---:|---:|---:|"]
        for r in report["dense"]:
            lines.append(f"| {r['n']} | {r['op']} | {_t(r['numpy_s'])} | {_t(r['landscope_s'])} | "
                         f"{r['ratio']:.2f} | {fmt_spread(r['numpy_spread'])} / {fmt_spread(r['landscope_spread'])} |")
    info = report["landscope"]
    lines += ["", f"landscope {info['version']} ({info['isa']}, {info['threads']} threads); numpy "
              f"{report['machine']['numpy']}, scipy {report['machine']['scipy']}; k={K}, tol={TOL:g}; "
              f"medians of {report['repeats']} runs (1 for P >= 100,000), spread = (max − min) / median; "
              f"ratio = landscope / scipy (Lanczos), landscope / numpy (dense)."]
    return "\n".join(lines)


def _sizes(text: str) -> list:
    try:
        sizes = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        sizes = []
    if not sizes or min(sizes) < 2:
        raise argparse.ArgumentTypeError(f"expected comma-separated matrix sizes >= 2 such as 1000,2000, got {text!r}")
    return sizes


def _seconds(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        v = float("nan")
    if not 0 < v < float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {text!r}")
    return v


def main(argv=None) -> int:
    parse = parser("landscope bench spectra" if __name__ != "__main__" else None, __doc__.splitlines()[0])
    parse.add_argument("--quick", action="store_true", help="S1 and M1, n = 1000 only, few repeats")
    parse.add_argument("--problems", default=None,
                       help="comma-separated subset of S1,S2,M1,M2 (default: S1,M1 with --quick, else all four)")
    parse.add_argument("--dense-only", action="store_true", help="only the dense eigh comparison")
    parse.add_argument("--dense-sizes", type=_sizes, default=None,
                       help="comma-separated n for dense eigh (default: 1000 with --quick, else 1000,2000,4000)")
    parse.add_argument("--repeats", type=positive_int, default=None,
                       help="timed runs, of which the median is reported (default: 3 with --quick, else 5)")
    parse.add_argument("--budget", type=positive_int, default=3000, help="products before scipy's eigsh is stopped")
    parse.add_argument("--scipy-seconds", type=_seconds, default=150.0, help="seconds before scipy's eigsh is stopped")
    parse.add_argument("--no-scipy", action="store_true", help="skip scipy's eigsh")
    parse.add_argument("--json", metavar="PATH", help="also write the figures as JSON")
    args = parse.parse_args(argv)
    if args.dense_only and args.problems is not None:
        parse.error("--problems: not with --dense-only (which skips the Lanczos problems)")
    problems = args.problems or ("S1,M1" if args.quick else "S1,S2,M1,M2")
    problems = [] if args.dense_only else problem_list(parse, "--problems", problems)
    sizes = args.dense_sizes or ([1000] if args.quick else [1000, 2000, 4000])
    need = 4 * 8 * max(sizes) ** 2  # A, its symmetrization, the eigenvectors and LAPACK's workspace
    if need > available_memory():
        parse.error(f"--dense-sizes: n = {max(sizes)} needs about {need / 1e9:.1f} GB, more than the "
                    f"{available_memory() / 1e9:.1f} GB available")
    check_output(parse, args.json)
    repeats = args.repeats if args.repeats is not None else (3 if args.quick else 5)
    with_scipy = not args.no_scipy
    if with_scipy:
        try:
            import scipy
        except ImportError:
            print("scipy is not installed: skipping its eigsh (pip install scipy)", file=sys.stderr)
            with_scipy = False
    warn_if_busy(parse.prog)
    report = dict(
        machine=dict(python=platform.python_version(), numpy=np.__version__,
                     scipy=scipy.__version__ if with_scipy else None),
        landscope=landscope.info(), repeats=repeats,
        lanczos=run_lanczos(problems, repeats, args.budget, args.scipy_seconds, with_scipy),
        dense=run_dense(sizes, repeats),
    )
    emit(table(report), report, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
