"""Derivatives benchmark: landscope against the vectorized numpy reference, in one process.

Problems (float64, X ~ N(0,1)/√d, y = tanh(X a), w ~ N(0,1), tanh, square loss, sum):
  S1 ShallowNet n=512 d=16 m=256 (P=4096)        S2 ShallowNet n=1024 d=32 m=1024 (P=32768)
  M1 MLP NTK n=256 d=16 widths [48, 48] (P=3120)  M2 MLP NTK n=512 d=64 widths [1024, 1024] (P=1,115,136)
Operations: gradient, HVP (one vector), tangent kernel, dense Hessian (S1 and M1 only).
Prints a markdown table of medians and ratios (landscope / numpy); --json writes the figures.

    python bench/bench_derivatives.py [--quick] [--problems S1,M1] [--repeats 7] [--json out.json]
    landscope bench --quick
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time

import numpy as np

try:  # installed as landscope.bench
    from . import reference
except ImportError:  # run as a script from bench/
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import reference  # type: ignore[no-redef]

import landscope

PROBLEMS = {
    "S1": dict(kind="shallow", n=512, d=16, m=256),
    "S2": dict(kind="shallow", n=1024, d=32, m=1024),
    "M1": dict(kind="mlp", n=256, d=16, widths=[48, 48]),
    "M2": dict(kind="mlp", n=512, d=64, widths=[1024, 1024]),
}
DENSE = {"S1", "M1"}  # problems whose dense Hessian is benchmarked
TARGETS = {  # issue targets on the ratio landscope / numpy
    ("S1", "gradient"): 0.3, ("S2", "gradient"): 0.3, ("M1", "gradient"): 0.3, ("M2", "gradient"): 0.5,
    ("S1", "hvp"): 0.3, ("S2", "hvp"): 0.3, ("M1", "hvp"): 0.3, ("M2", "hvp"): 0.5,
    ("S1", "hessian"): 0.6, ("M1", "hessian"): 0.15,
}


def build(name: str, seed: int = 0):
    """The landscope model, the numpy reference model and a point w, for one problem."""
    spec = PROBLEMS[name]
    rng = np.random.default_rng(seed)
    n, d = spec["n"], spec["d"]
    X = rng.standard_normal((n, d)) / np.sqrt(d)
    y = np.tanh(X @ rng.standard_normal(d))
    if spec["kind"] == "shallow":
        model = landscope.ShallowNet(X, y, spec["m"], activation="tanh")
        ref = reference.make_shallow(X, y, spec["m"], activation="tanh")
    else:
        model = landscope.MLP(X, y, spec["widths"], activation="tanh", parameterization="ntk")
        ref = reference.make_mlp(X, y, spec["widths"], activation="tanh", parameterization="ntk")
    w = rng.standard_normal(model.num_params)
    return model, ref, w


def median_time(fn, repeats: int, min_time: float = 0.0) -> float:
    fn()  # warm-up
    times = []
    start = time.perf_counter()
    while len(times) < repeats or (time.perf_counter() - start < min_time and len(times) < 100):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _peak_rss_reset() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _rss(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    return 0


def peak_memory(fn) -> float | None:
    """Peak resident memory added by fn() (bytes), from the kernel's high-water mark."""
    import gc

    gc.collect()
    if not _peak_rss_reset():
        return None
    base = _rss("VmRSS")
    out = fn()
    peak = _rss("VmHWM")
    del out
    return float(peak - base)


def gemm_rate(size: int = 2048, repeats: int = 5) -> float:
    """The machine's float64 GEMM rate (GFLOP/s) through numpy's BLAS, all threads."""
    rng = np.random.default_rng(0)
    A = rng.standard_normal((size, size))
    B = rng.standard_normal((size, size))
    t = median_time(lambda: A @ B, repeats)
    return 2.0 * size**3 / t / 1e9


def hessian_flops(model) -> float:
    """Multiply-add flops of landscope's Hessian assembly for the benchmark networks.

    ShallowNet (frozen output): upper-triangular tiles of JᵀJ plus the block-diagonal part.
    MLP: the batched basis HVPs, counting their GEMMs (layers above a direction's layer are
    skipped in the backward R-pass, which only fills the lower triangle).
    """
    n = model.num_samples
    P = model.num_params
    if isinstance(model, landscope.ShallowNet):
        tile = 256
        nt = -(-P // tile)
        d = P // model.width
        return 2.0 * n * tile * tile * nt * (nt + 1) / 2 + 2.0 * model.width * n * d * d
    widths = [model.unflatten(np.zeros(P))[f"W{j + 1}"].shape for j in range(len(model.widths) + 1)]
    flops = 0.0
    for j0, (out0, in0) in enumerate(widths):
        count = out0 * in0
        per = 0.0
        for j in range(j0 + 2, len(widths)):  # forward GEMMs above the outer product
            per += 2.0 * n * widths[j][0] * widths[j][1]
        for j in range(len(widths) - 1, 0, -1):  # R(dh) GEMMs
            per += 2.0 * n * widths[j][0] * widths[j][1]
        for j in range(0, j0 + 1):  # R(dW) GEMMs for the lower triangle
            per += 2.0 * n * widths[j][0] * widths[j][1]
        flops += count * per
    return flops


def run(problems, repeats: int, quick: bool) -> dict:
    results = []
    rate = gemm_rate(repeats=3 if quick else 5)
    for name in problems:
        model, ref, w = build(name)
        P = model.num_params
        v = np.random.default_rng(1).standard_normal(P)
        ops = {
            "gradient": (lambda: model.gradient(w), lambda: ref.gradient(w)),
            "hvp": (lambda: model.hvp(w, v), lambda: ref.hvp(w, v)),
            "tangent_kernel": (lambda: model.tangent_kernel(w), lambda: ref.tangent_kernel(w)),
        }
        if name in DENSE:
            ops["hessian"] = (lambda: model.hessian(w), lambda: ref.hessian(w))
        row_times = {}
        for op, (ours, theirs) in ops.items():
            reps = max(3, repeats // 2) if op in ("hessian", "tangent_kernel") else repeats
            t_ours = median_time(ours, reps, min_time=0.0 if quick else 0.5)
            t_np = median_time(theirs, reps if op != "hessian" else 3)
            row_times[op] = t_ours
            entry = dict(problem=name, P=P, op=op, numpy_s=t_np, landscope_s=t_ours, ratio=t_ours / t_np,
                         target=TARGETS.get((name, op)))
            if op == "hessian":
                entry["peak_bytes"] = peak_memory(ours)
                entry["peak_over_hessian"] = (entry["peak_bytes"] / (8.0 * P * P)
                                              if entry["peak_bytes"] is not None else None)
                entry["numpy_peak_bytes"] = peak_memory(theirs)
                entry["gflops"] = hessian_flops(model) / t_ours / 1e9
                entry["gemm_gflops"] = rate
            results.append(entry)
        results.append(dict(problem=name, P=P, op="hvp/gradient", numpy_s=None, landscope_s=None,
                            ratio=row_times["hvp"] / row_times["gradient"], target=2.5))
    return dict(
        machine=dict(python=platform.python_version(), numpy=np.__version__, cpu=platform.processor(),
                     gemm_gflops=rate),
        landscope=landscope.info(),
        repeats=repeats,
        results=results,
    )


def fmt_time(t, missing: str = "") -> str:
    if t is None:
        return missing
    return f"{t * 1e3:.3g} ms" if t < 1 else f"{t:.3g} s"


def table(report: dict) -> str:
    lines = [
        "| problem | P | operation | numpy | landscope | ratio | target | notes |",
        "|---|---:|---|---:|---:|---:|---:|---|",
    ]
    for r in report["results"]:
        notes = ""
        if r["op"] == "hessian":
            if r.get("peak_over_hessian") is not None:
                notes = (f"peak {r['peak_bytes'] / 1e6:.0f} MB = {r['peak_over_hessian']:.2f}x H "
                         f"(numpy {r['numpy_peak_bytes'] / 1e6:.0f} MB); ")
            notes += f"{r['gflops']:.0f} GFLOP/s of {r['gemm_gflops']:.0f} GEMM"
        ok = "" if r["target"] is None else ("met" if r["ratio"] <= r["target"] else "MISSED")
        target = "" if r["target"] is None else f"<= {r['target']:g} {ok}"
        lines.append(f"| {r['problem']} | {r['P']:,} | {r['op']} | {fmt_time(r['numpy_s'])} | "
                     f"{fmt_time(r['landscope_s'])} | {r['ratio']:.3f} | {target} | {notes} |")
    info = report["landscope"]
    lines.append("")
    lines.append(f"landscope {info['version']} ({info['isa']}, Eigen {info['eigen']}, OpenMP "
                 f"{'on' if info['openmp'] else 'off'}, {info['threads']} threads); numpy "
                 f"{report['machine']['numpy']}; medians of >= {report['repeats']} runs; "
                 f"GEMM rate {report['machine']['gemm_gflops']:.0f} GFLOP/s.")
    return "\n".join(lines)


def emit(text: str, report: dict, path) -> None:
    """Print the table and, with a path, write the figures as JSON."""
    print(text)
    if path:
        with open(path, "w") as f:
            json.dump(report, f, indent=2)
        print(f"\nwrote {path}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="landscope bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats (about a minute in all)")
    parser.add_argument("--problems", default="S1,S2,M1,M2", help="comma-separated subset of S1,S2,M1,M2")
    parser.add_argument("--repeats", type=int, default=None, help="timed runs per operation (median)")
    parser.add_argument("--json", metavar="PATH", help="also write the figures as JSON")
    args = parser.parse_args(argv)
    problems = [p.strip().upper() for p in args.problems.split(",") if p.strip()]
    unknown = [p for p in problems if p not in PROBLEMS]
    if unknown:
        parser.error(f"--problems: unknown {unknown}; choose from {sorted(PROBLEMS)}")
    repeats = args.repeats if args.repeats is not None else (3 if args.quick else 9)
    if repeats < 1:
        parser.error("--repeats: expected >= 1")
    report = run(problems, repeats, args.quick)
    emit(table(report), report, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
