"""Landscape benchmark: a loss surface with landscope.landscape.surface against the numpy loop a
user writes today, in one process.

For each problem (M1 and S1 on a 51 x 51 grid, M2 on 21 x 21; --quick: 21 x 21, 21 x 21, 7 x 7)
and two filter-normalized random directions:

- numpy: for every grid point, set w + x d1 + y d2 and evaluate the vectorized numpy reference
  loss (bench/reference.py) — one forward pass per point from Python;
- landscope: ``surface(model, w, D, x, y)``, many points per C++ call, parallel over points and
  samples with the GIL released.

It checks that the two surfaces agree (to 1e-10 relative) and prints a markdown table of medians,
the ratio and the rate in forward-pass GFLOP/s (2 · n · Σ fan_in · fan_out flops a point), next to
the machine's GEMM rate.

Connectivity: two minima of a tanh MLP ([16], 64 points) trained with Adam from seeds 0 and 1;
the linear path's barrier and max loss, the same after ``align``, and Bezier curves trained by
``connect`` (before and after alignment). --json writes the figures.

    python bench/bench_landscape.py [--quick] [--repeats 3] [--json out.json]
    landscope bench landscape --quick
"""
from __future__ import annotations

import platform
import statistics
import sys
import time

import numpy as np

try:  # installed as landscope.bench
    from .bench_derivatives import build, check_output, emit, fmt_spread, gemm_rate, parser, positive_int, spread, \
        warn_if_busy
except ImportError:  # run as a script from bench/
    import os

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from bench_derivatives import (build, check_output, emit, fmt_spread, gemm_rate, parser,  # type: ignore[no-redef]
                                   positive_int, spread, warn_if_busy)

import landscope
from landscope import landscape


def forward_flops(model) -> float:
    """2 n Σ fan_in·fan_out: the multiply-adds of one forward pass over the data."""
    n = model.num_samples
    blocks = [b for name, b in model.unflatten(np.zeros(model.num_params)).items() if b.ndim == 2]
    return 2.0 * n * sum(b.size for b in blocks)


def numpy_surface(ref, w, D, x, y):
    out = np.empty((len(y), len(x)))
    for i, yi in enumerate(y):
        for j, xj in enumerate(x):
            out[i, j] = ref.loss(w + xj * D[:, 0] + yi * D[:, 1])
    return out


def run(repeats: int, quick: bool) -> dict:
    plan = {"M1": 21 if quick else 51, "S1": 21 if quick else 51, "M2": 7 if quick else 21}
    results = []
    for name, m in plan.items():
        model, ref, w = build(name)
        D = landscape.random_directions(model, w, k=2, seed=0)
        x = y = np.linspace(-1.0, 1.0, m)
        ours = landscape.surface(model, w, D, x, y, progress=False)["loss"]
        theirs = numpy_surface(ref, w, D, x, y)
        err = float(np.max(np.abs(ours - theirs) / np.maximum(np.abs(theirs), 1e-300)))
        t_np, t_ls = [], []
        for _ in range(repeats):  # round-robin, so that drifts of the machine hit both alike
            t0 = time.perf_counter()
            numpy_surface(ref, w, D, x, y)
            t_np.append(time.perf_counter() - t0)
            time.sleep(0.2)  # let numpy's BLAS threads go idle before landscope's OpenMP threads run
            t0 = time.perf_counter()
            landscape.surface(model, w, D, x, y, progress=False)
            t_ls.append(time.perf_counter() - t0)
        a, b = statistics.median(t_np), statistics.median(t_ls)
        flops = forward_flops(model) * m * m
        results.append(dict(problem=name, P=model.num_params, n=model.num_samples, grid=f"{m}x{m}", points=m * m,
                            numpy_s=a, landscope_s=b, speedup=a / b, numpy_spread=spread(t_np),
                            landscope_spread=spread(t_ls), landscope_gflops=flops / b / 1e9,
                            numpy_gflops=flops / a / 1e9, max_rel_diff=err))
    return dict(machine=dict(python=platform.python_version(), numpy=np.__version__, cpu=platform.processor()),
                landscope=landscope.info(), repeats=repeats, gemm_gflops=gemm_rate(), results=results,
                connectivity=connectivity(300 if quick else 2000))


def connectivity(steps: int) -> list:
    rng = np.random.default_rng(0)
    X = rng.standard_normal((64, 4))
    y = np.sin(X @ rng.standard_normal(4))
    net = landscope.MLP(X, y, [16], activation="tanh")
    wa, wb = (landscope.train(net, net.init(seed=s), landscope.optim.Adam(lr=2e-2), 500, progress=False).w
              for s in (0, 1))
    ends = [("as trained", wb)]
    try:
        ends.append(("aligned", landscape.align(net, wa, wb)))
    except ImportError as e:  # align needs scipy (the landscape extra)
        print(f"bench_landscape: skipping the aligned paths: {e}", file=sys.stderr)
    rows = []
    for label, b in ends:
        lin = landscape.interpolate(net, wa, b, num=61)
        rows.append(dict(endpoints=label, path="linear", barrier=lin.barrier, max_loss=float(lin["loss"].max()),
                         seconds=0.0))
        t0 = time.perf_counter()
        curve = landscape.connect(net, wa, b, kind="bezier", steps=steps, progress=False)
        t = time.perf_counter() - t0
        path = curve.evaluate(num=61)
        rows.append(dict(endpoints=label, path=f"bezier, {steps} steps", barrier=path.barrier,
                         max_loss=path.metadata["max_loss"], seconds=t))
    return rows


def _t(s: float) -> str:
    return f"{s * 1e3:.3g} ms" if s < 1 else f"{s:.3g} s"


def table(report: dict) -> str:
    lines = ["| problem | P | n | grid | numpy loop | landscope | speedup | spread numpy / landscope | "
             "landscope GFLOP/s | max rel. diff |",
             "|---|---:|---:|---|---:|---:|---:|---:|---:|---:|"]
    for r in report["results"]:
        lines.append(f"| {r['problem']} | {r['P']:,} | {r['n']:,} | {r['grid']} | {_t(r['numpy_s'])} | "
                     f"{_t(r['landscope_s'])} | {r['speedup']:.1f}x | {fmt_spread(r['numpy_spread'])} / "
                     f"{fmt_spread(r['landscope_spread'])} | {r['landscope_gflops']:.1f} | {r['max_rel_diff']:.1e} |")
    lines += ["", "| endpoints | path | barrier | max loss | time |", "|---|---|---:|---:|---:|"]
    for r in report["connectivity"]:
        lines.append(f"| {r['endpoints']} | {r['path']} | {r['barrier']:.4g} | {r['max_loss']:.4g} | "
                     f"{_t(r['seconds']) if r['seconds'] else ''} |")
    info = report["landscope"]
    lines.append("")
    lines.append(f"landscope {info['version']} ({info['isa']}, {info['threads']} threads); numpy "
                 f"{report['machine']['numpy']}; medians of {report['repeats']} runs; GEMM rate "
                 f"{report['gemm_gflops']:.0f} GFLOP/s; GFLOP/s counts the forward pass's multiply-adds "
                 f"(2·n·Σ fan_in·fan_out a point).")
    return "\n".join(lines)


def main(argv=None) -> int:
    parse = parser("landscope bench landscape" if __name__ != "__main__" else None, __doc__.splitlines()[0])
    parse.add_argument("--quick", action="store_true", help="smaller grids (21 x 21, and 7 x 7 for M2)")
    parse.add_argument("--repeats", type=positive_int, default=None,
                       help="timed runs per measurement, of which the median is reported (default: 3)")
    parse.add_argument("--json", metavar="PATH", help="also write the figures as JSON")
    args = parse.parse_args(argv)
    check_output(parse, args.json)
    warn_if_busy(parse.prog)
    report = run(args.repeats or 3, args.quick)
    emit(table(report), report, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
