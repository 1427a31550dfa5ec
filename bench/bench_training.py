"""Training benchmark: landscope.train against a plain numpy loop, in one process.

Problems: ProductToy d=10 (from x = 0.9·1), and S1, M1 of bench_derivatives (from their random
point w, with η = 1/λ_max(H(w))). For each:

- GD steps/s: ``landscope.train`` recording one row per run, against the loop
  ``w -= lr * ref.gradient(w)`` with the vectorized numpy reference gradient;
- the cost of recording loss, ‖∇L‖ and the PL ratio every step (``record_every=1``);
- on S1 and M1: the cost of recording the sharpness every 10 steps (warm-started Lanczos)
  against the cost of the 10 steps themselves, and the cost of a row with the sharpness and
  λ_min(K) (the row's point serves the loss, the gradient and the Hessian products from one pass);
- the lazy-regime width study (the slow test's sizes and beyond): GD with η = 1/λ_max(K_0) on a
  tanh ShallowNet (n=10, d=8) until L ≈ 1e-4·L_0 by the PL bound, for widths 256 … 65536:
  ‖K_T − K_0‖/‖K_0‖, min_t λ_min(K_t)/λ_min(K_0), and the fitted exponent of the drift in m.

Prints a markdown table of medians with the spread of the timed runs ((max − min) / median);
--json writes the figures.

    python bench/bench_training.py [--quick] [--repeats 5] [--json out.json]
    landscope bench training --quick
"""
from __future__ import annotations

import platform
import statistics
import sys
import time

import numpy as np

try:  # installed as landscope.bench
    from . import reference
    from .bench_derivatives import build, check_output, emit, fmt_spread, parser, positive_int, spread, warn_if_busy
except ImportError:  # run as a script from bench/
    import os

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import reference  # type: ignore[no-redef]
    from bench_derivatives import (build, check_output, emit, fmt_spread, parser,  # type: ignore[no-redef]
                                   positive_int, spread, warn_if_busy)

import landscope


def problem(name: str):
    if name == "toy":
        return landscope.ProductToy(10), reference.make_product_toy(10), np.full(10, 0.9), 0.05
    model, ref, w = build(name)
    top = landscope.eigsh(model.hessian_operator(w), k=1, tol=1e-6, progress=False).eigenvalues[-1]
    return model, ref, w, 1.0 / top


def paired(fns: dict, repeats: int) -> dict:
    """Seconds of each run of each function, run in round-robin after one warm-up each."""
    for fn in fns.values():
        fn()
    times = {k: [] for k in fns}
    for _ in range(repeats):
        for k, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            times[k].append(time.perf_counter() - t0)
    return times


def numpy_loop(ref, w0, lr, steps):
    w = w0.copy()
    for _ in range(steps):
        w -= lr * ref.gradient(w)
    return w


def run(repeats: int, quick: bool) -> dict:
    scale = 0.2 if quick else 1.0
    plan = {"toy": (int(200_000 * scale), int(5_000 * scale)), "S1": (int(200 * scale), int(50 * scale)),
            "M1": (int(1000 * scale), int(200 * scale))}
    results = []
    for name, (steps, np_steps) in plan.items():
        model, ref, w, lr = problem(name)
        opt = landscope.optim.GD(lr)

        def ours(record_every, record=()):
            return lambda: landscope.train(model, w, opt, steps, record_every=record_every, record=record,
                                           progress=False)

        # Same trajectory from both: the first steps agree to rounding.
        check = landscope.train(model, w, opt, 5, progress=False).w
        np.testing.assert_allclose(check, numpy_loop(ref, w, lr, 5), rtol=1e-9, atol=1e-12)
        # The numpy loop is timed on its own: its BLAS threads keep spinning for a while after the
        # last call and would slow whatever runs next (and landscope's OpenMP threads likewise).
        # The landscope variants run round-robin, so that drifts of the machine's speed hit all
        # of them alike.
        runs = paired({"numpy": lambda: numpy_loop(ref, w, lr, np_steps)}, repeats)
        time.sleep(0.2)
        variants = {"plain": ours(steps), "rows": ours(1)}
        if name != "toy":
            variants.update(ten=ours(10), sharp=ours(10, ("sharpness",)), both=ours(10, ("sharpness", "kernel_min")))
        runs.update(paired(variants, repeats))
        t = {k: statistics.median(v) for k, v in runs.items()}
        t_np = t["numpy"] / np_steps
        t_plain, t_rec = t["plain"] / steps, t["rows"] / steps
        entry = dict(problem=name, P=model.num_params, steps=steps, numpy_step_s=t_np, landscope_step_s=t_plain,
                     speedup=t_np / t_plain, numpy_spread=spread(runs["numpy"]),
                     landscope_spread=spread(runs["plain"]), record_every_step_s=t_rec,
                     record_overhead=t_rec / t_plain - 1)
        if name != "toy":
            t_ten = t["ten"] / steps
            traj = ours(10, ("sharpness",))()
            per_sharpness = (t["sharp"] / steps - t_ten) * 10  # one sharpness per 10 steps
            rows = steps // 10 + 1
            entry.update(sharpness_s=per_sharpness, ten_steps_s=10 * t_ten,
                         row_sharpness_kernel_s=(t["both"] - t["ten"]) / rows,
                         sharpness_over_ten_steps=per_sharpness / (10 * t_ten),
                         sharpness_products=traj.sharpness_products / len(traj))
        results.append(entry)
    widths = [256, 1024, 4096] if quick else [256, 1024, 4096, 16384, 65536]
    return dict(machine=dict(python=platform.python_version(), numpy=np.__version__, cpu=platform.processor()),
                landscope=landscope.info(), repeats=repeats, results=results, widths=width_study(widths))


def width_study(widths) -> dict:
    rng = np.random.default_rng(0)
    X = rng.standard_normal((10, 8))
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    y = rng.standard_normal(10)
    rows = []
    for m in widths:
        net = landscope.ShallowNet(X, y, width=m, activation="tanh")
        w0 = net.init(0)
        eig = np.linalg.eigvalsh(net.tangent_kernel(w0))
        eta = 1 / eig[-1]
        steps = 10 * int(np.ceil(np.log(1e4) / (eta * eig[0]) / 10))
        t0 = time.perf_counter()
        traj = landscope.train(net, w0, landscope.optim.GD(eta), steps, record_every=10,
                               record=("kernel_min", "kernel_drift"), progress=False)
        rows.append(dict(width=m, P=net.num_params, steps=steps, seconds=time.perf_counter() - t0,
                         drift=float(traj.kernel_drift[-1]), kernel_min_ratio=float(traj.kernel_min.min() / eig[0]),
                         loss_ratio=float(traj.loss[-1] / traj.loss[0])))
    slope = float(np.polyfit(np.log(widths), np.log([r["drift"] for r in rows]), 1)[0])
    return dict(rows=rows, exponent=slope)


def _us(t: float) -> str:
    return f"{t * 1e6:.3g} µs" if t < 1e-3 else f"{t * 1e3:.3g} ms"


def table(report: dict) -> str:
    lines = [
        "| problem | P | numpy loop step | landscope step | steps/s | speedup | spread numpy / landscope | "
        "record every step | sharpness / 10 steps | row with sharpness + λ_min(K) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|---:|",
    ]
    for r in report["results"]:
        sharp, row = "", ""
        if "sharpness_s" in r:
            row = _us(r["row_sharpness_kernel_s"])
            sharp = (f"{_us(r['sharpness_s'])} vs {_us(r['ten_steps_s'])} = {r['sharpness_over_ten_steps']:.2f} "
                     f"({r['sharpness_products']:.1f} products)")
        lines.append(f"| {r['problem']} | {r['P']:,} | {_us(r['numpy_step_s'])} | {_us(r['landscope_step_s'])} | "
                     f"{1 / r['landscope_step_s']:,.0f} | {r['speedup']:.1f}x | "
                     f"{fmt_spread(r['numpy_spread'])} / {fmt_spread(r['landscope_spread'])} | "
                     f"{100 * r['record_overhead']:+.1f}% | {sharp} | {row} |")
    lines += ["", "| width m | P | steps | time | ‖K_T − K_0‖/‖K_0‖ | min λ_min(K_t)/λ_min(K_0) | L_T/L_0 |",
              "|---:|---:|---:|---:|---:|---:|---:|"]
    for r in report["widths"]["rows"]:
        lines.append(f"| {r['width']:,} | {r['P']:,} | {r['steps']} | {r['seconds']:.2f} s | {r['drift']:.3g} | "
                     f"{r['kernel_min_ratio']:.4f} | {r['loss_ratio']:.1e} |")
    lines.append(f"\nkernel drift ∝ m^{report['widths']['exponent']:.2f} (the theory's bound: m^-0.5)")
    info = report["landscope"]
    lines.append("")
    lines.append(f"landscope {info['version']} ({info['isa']}, OpenMP {'on' if info['openmp'] else 'off'}, "
                 f"{info['threads']} threads); numpy {report['machine']['numpy']}; medians of "
                 f"{report['repeats']} runs, spread = (max − min) / median; record-every-step and sharpness "
                 f"costs are differences of medians.")
    return "\n".join(lines)


def main(argv=None) -> int:
    parse = parser("landscope bench training" if __name__ != "__main__" else None, __doc__.splitlines()[0])
    parse.add_argument("--quick", action="store_true", help="fewer steps and repeats, widths up to 4096")
    parse.add_argument("--repeats", type=positive_int, default=None,
                       help="timed runs per measurement, of which the median is reported (default: 3 with "
                            "--quick, else 7)")
    parse.add_argument("--json", metavar="PATH", help="also write the figures as JSON")
    args = parse.parse_args(argv)
    check_output(parse, args.json)
    repeats = args.repeats if args.repeats is not None else (3 if args.quick else 7)
    warn_if_busy(parse.prog)
    report = run(repeats, args.quick)
    emit(table(report), report, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
