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
   With --peers jax,torch (where installed): also scipy's eigsh over each peer's HVP
   (peers.py) for the 10 largest, the peer's HVP checked against landscope's first, and
   the ratio landscope / the fastest ARPACK run (over landscope's or a peer's HVP).
2. Dense landscope.eigh against numpy.linalg.eigh (all pairs) and eigvalsh (values only) on
   random symmetric matrices of n = 1000, 2000, 4000.

Times are medians of the timed runs, with their spread ((max − min) / median).

    python bench/bench_spectra.py [--quick] [--problems S1,M1] [--repeats 3] [--peers jax,torch] [--json out.json]
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import time

import numpy as np

try:  # installed as landscope.bench
    from .bench_derivatives import (build, check_output, emit, fmt_spread, fmt_time, load_peers, median_time,
                                    mismatch, mismatches, parser, peak_memory, peer_footnote, peer_names,
                                    peer_versions, positive_int, problem_list, spread, timings, warn_if_busy)
except ImportError:  # run as a script from bench/
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from bench_derivatives import (build, check_output, emit, fmt_spread, fmt_time,  # type: ignore[no-redef]
                                   load_peers, median_time, mismatch, mismatches, parser, peak_memory,
                                   peer_footnote, peer_names, peer_versions, positive_int, problem_list, spread,
                                   timings, warn_if_busy)

import landscope
from landscope import problems as _problems
from landscope._validation import available_memory

K, TOL = 10, 1e-8
DENSE_EIGVALSH = {"S1", "M1"}


class _Budget(Exception):
    pass


def scipy_eigsh(model, w, which: str, budget: int, seconds: float, hvp=None):
    """ARPACK over landscope's HVP, or over ``hvp`` (v -> H v, numpy): (values or None,
    products, seconds, status)."""
    from scipy.sparse.linalg import ArpackNoConvergence, LinearOperator, eigsh

    P = model.num_params
    count = [0]
    product = hvp if hvp is not None else (lambda v: model.hvp(w, v))

    def matvec(v):
        count[0] += 1
        if count[0] > budget or time.perf_counter() - t0 > seconds:
            raise _Budget
        return product(np.ravel(v))

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


def peer_eigsh(name, model, w, peer_list, budget: int, seconds: float, prog: str) -> dict:
    """{peer: figures} of scipy's eigsh (10 largest) over each peer's HVP, after checking that
    HVP against landscope's on one vector."""
    peers = load_peers()
    v = np.random.default_rng(1).standard_normal(model.num_params)
    expected = model.hvp(w, v)
    out = {}
    for peer_name in peer_list:
        peer = peers.for_problem(peer_name, name)
        error = peers.rel_error(peer.hvp(w, v), expected)
        figures = dict(rel_error=error, ok=error <= peers.TOLERANCE)
        if figures["ok"]:
            vals, products, secs, status = scipy_eigsh(model, w, "LA", budget, seconds, hvp=peer.matvec(w))
            figures.update(s=secs, products=products, status=status,
                           eigenvalues=None if vals is None else vals.tolist())
            print(f"  {name} LA: scipy over {peer_name}'s HVP {secs:.3g} s / {products} products ({status})",
                  file=sys.stderr, flush=True)
        else:
            mismatch(prog, peer_name, "hvp", name, error)
        out[peer_name] = figures
        del peer
    return out


def run_lanczos(problems, repeats: int, budget: int, seconds: float, with_scipy: bool, peer_list=(),
                prog: str = "landscope bench spectra") -> list:
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
            row["eigenvalues"] = np.asarray(vals).tolist()
            rows.append(row)
            print(f"  {name} {which}: landscope {t_ours if t_ours is not None else float('nan'):.3g} s / "
                  f"{products} products; scipy {row.get('scipy_s', float('nan')):.3g} s / "
                  f"{row.get('scipy_products')} ({row.get('scipy_status')})", file=sys.stderr)
    if with_scipy and peer_list:
        lanczos_peers(rows, problems, budget, seconds, peer_list, prog)
    return rows


def lanczos_peers(rows: list, problems, budget: int, seconds: float, peer_list, prog: str) -> None:
    """scipy's eigsh over each peer's HVP for the 10 largest of each problem, added to its LA
    row. Run after every landscope solve, so the peers' thread pools and allocators (which
    keep freed memory) touch neither landscope's times nor its peak memory readings."""
    for name in problems:
        model, w = _problems.build(name)
        row = next(r for r in rows if r["problem"] == name and r["which"] == "LA")
        row["peers"] = peer_eigsh(name, model, w, peer_list, budget, seconds, prog)
        vals = np.asarray(row["eigenvalues"])
        arpack = {"landscope HVP": row["scipy_s"]} if row["scipy_status"] == "converged" else {}
        for p, f in row["peers"].items():
            if f.get("eigenvalues") is not None:  # against landscope's values
                f["agreement"] = float(np.max(np.abs(vals - f["eigenvalues"])) / np.max(np.abs(vals)))
            if f["ok"] and f["status"] == "converged":
                arpack[f"{p} HVP"] = f["s"]
        if arpack and row["landscope_s"] is not None:
            best = min(arpack, key=arpack.get)
            row.update(fastest_arpack=best, fastest_arpack_s=arpack[best],
                       ratio_fastest=row["landscope_s"] / arpack[best])


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


def _peer_arpack(figures) -> str:
    if figures is None:
        return "—"
    if not figures["ok"]:
        return f"MISMATCH ({figures['rel_error']:.1e})"
    if figures["status"] != "converged":
        return f"{figures['status']}"
    return f"{_t(figures['s'])} / {figures['products']}"


def table(report: dict) -> str:
    names = list(report.get("peers") or {})
    peer_head = "".join(f" scipy eigsh ({p} HVP) / products |" for p in names)
    fast_head = " fastest ARPACK | landscope / fastest |" if names else ""
    lines = [
        "| problem | P | which | landscope | spread | products | scipy eigsh (landscope HVP) | products | ratio |"
        f"{peer_head}{fast_head} dense eigvalsh | agreement | notes |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|" + "---:|" * len(names) + ("---|---:|" if names else "") +
        "---:|---:|---|",
    ] if report["lanczos"] else []
    for r in report["lanczos"]:
        ratio = f"{r['ratio']:.2f}" if "ratio" in r else "—"
        peer_cells = "".join(f" {_peer_arpack(r.get('peers', {}).get(p))} |" for p in names)
        fast_cells = ""
        if names:
            fast_cells = (f" {r['fastest_arpack']} | {r['ratio_fastest']:.2f} |" if "ratio_fastest" in r
                          else " — | — |")
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
                     f"{ratio} |{peer_cells}{fast_cells} {_t(r.get('eigvalsh_s'))} | {agree} | {'; '.join(notes)} |")
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
    if names:
        lines.append(peer_footnote(report["peers"]) + " scipy's eigsh over a peer's HVP: the 10 largest only; "
                     "landscope / fastest = landscope / the fastest converged ARPACK run.")
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
    parse.add_argument("--peers", metavar="NAMES", default=None,
                       help="also scipy's eigsh (10 largest) over these frameworks' HVP where installed "
                            "(comma-separated: jax,torch); each HVP is checked against landscope first, and "
                            "one that is not installed is skipped with a note")
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
    if args.peers is not None and (args.no_scipy or args.dense_only):
        parse.error(f"--peers: not with {'--no-scipy' if args.no_scipy else '--dense-only'} (the peers are "
                    f"timed through scipy's eigsh on the Lanczos problems)")
    repeats = args.repeats if args.repeats is not None else (3 if args.quick else 5)
    with_scipy = not args.no_scipy
    if with_scipy:
        try:
            import scipy
        except ImportError:
            print("scipy is not installed: skipping its eigsh (pip install scipy)", file=sys.stderr)
            with_scipy = False
    peer_list = peer_names(parse, args.peers) if with_scipy else []
    check_output(parse, args.json)
    warn_if_busy(parse.prog)
    report = dict(
        machine=dict(python=platform.python_version(), numpy=np.__version__,
                     scipy=scipy.__version__ if with_scipy else None),
        landscope=landscope.info(), peers=peer_versions(peer_list), repeats=repeats,
        lanczos=run_lanczos(problems, repeats, args.budget, args.scipy_seconds, with_scipy, peer_list, parse.prog),
        dense=run_dense(sizes, repeats),
    )
    emit(table(report), report, args.json)
    return 1 if mismatches(report) else 0


if __name__ == "__main__":
    sys.exit(main())
