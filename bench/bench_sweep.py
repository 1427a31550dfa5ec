"""Sweeps and surfaces beyond one process: landscope.sweep and landscape.surface in this
process against Dask LocalClusters of 2 workers x 1 thread and 1 worker x 2 threads.

Measurements (needs ``pip install "landscope[dask]"``):

Clusters run with landscope's worker environment (``landscope._distributed.WORKER_ENVIRON``:
MALLOC_MMAP_THRESHOLD_) unless said otherwise; the width study is also run once in Dask's
default worker environment, to show what it changes.

- the lazy-regime width study as a sweep: 8 widths (128 … 16384) x 8 seeds = 64 configurations,
  each a tanh ShallowNet (n = 10, d = 8) trained by GD at 1/λ_max(K₀) for 300 steps, with
  λ_min(K_t) and the kernel drift recorded every 50 steps (as ``_report_theory.wide`` does);
  wall time, speedup over the serial run, CPU utilization (CPU seconds of this process and its
  children over wall time x cores) and whether the table equals the serial one bit for bit;
- a 51 x 51 loss surface of problem M2 (P = 1,115,136) on two filter-normalized directions, in
  this process and through each cluster (the model, w and directions scattered once per worker);
- the overhead of a task: a sweep of 200 trivial configurations in this process, on the cluster
  (also with ``out=``, one atomic file per row), and bare ``client.submit``.

Prints a markdown table; --json writes the figures.

    python bench/bench_sweep.py [--quick] [--parts sweep,surface,overhead] [--json out.json]
"""
from __future__ import annotations

import importlib.util
import os
import platform
import sys
import tempfile
import time

import numpy as np

try:  # installed as landscope.bench
    from .bench_derivatives import check_output, emit, parser, warn_if_busy
except ImportError:  # run as a script from bench/
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from bench_derivatives import check_output, emit, parser, warn_if_busy  # type: ignore[no-redef]

import landscope
from landscope import landscape as L

WIDTHS = (128, 256, 512, 1024, 2048, 4096, 8192, 16384)
SEEDS = tuple(range(8))
STEPS = 300


def lazy(width: int, seed: int, steps: int = STEPS) -> dict:
    """One configuration of the width study (a module-level function: workers import it)."""
    rng = np.random.default_rng(3)
    n, d = 10, 8
    X = rng.standard_normal((n, d))
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    y = rng.standard_normal(n)
    net = landscope.ShallowNet(X, y, width)
    w0 = net.init(seed)
    lam = np.linalg.eigvalsh(net.tangent_kernel(w0))
    tr = landscope.train(net, w0, landscope.optim.GD(1.0 / lam[-1]), steps, record_every=50,
                         record=("kernel_min", "kernel_drift"), progress=False)
    return {"lambda_min0": float(lam[0]), "loss_ratio": float(tr.loss[-1] / tr.loss[0]),
            "drift": float(tr.kernel_drift[-1]), "kernel_min_ratio": float(np.nanmin(tr.kernel_min) / lam[0])}


def trivial(i: int) -> dict:
    return {"i": i}


def _identity(x):
    return x


class CPU:
    """CPU seconds of this process and all its children (the cluster's processes) over a block."""

    def __init__(self):
        import psutil

        self._me = psutil.Process()

    def _total(self) -> float:
        import psutil

        total = 0.0
        for p in [self._me] + self._me.children(recursive=True):
            try:
                t = p.cpu_times()
                total += t.user + t.system
            except psutil.Error:
                pass
        return total

    def __enter__(self):
        self.start, self.cpu0 = time.perf_counter(), self._total()
        return self

    def __exit__(self, *exc):
        self.wall = time.perf_counter() - self.start
        self.cpu = self._total() - self.cpu0


def _cluster(workers: int, threads: int, tuned: bool = True):
    """A LocalCluster, with landscope's worker environment (tuned) or Dask's default one."""
    import contextlib

    import distributed

    from landscope._distributed import worker_environment

    t0 = time.perf_counter()
    with worker_environment() if tuned else contextlib.nullcontext():
        cluster = distributed.LocalCluster(n_workers=workers, threads_per_worker=threads, processes=True,
                                           dashboard_address=":0", silence_logs=50)
    client = distributed.Client(cluster)
    client.wait_for_workers(workers)
    return cluster, client, time.perf_counter() - t0


PARTS = ("sweep", "surface", "overhead")


def run(quick: bool, parts=PARTS) -> dict:
    cores = os.cpu_count() or 1
    widths = WIDTHS[:6] if quick else WIDTHS
    seeds = SEEDS[:4] if quick else SEEDS
    side = 21 if quick else 51
    grid = {"width": list(widths), "seed": list(seeds)}
    out = {"machine": platform.processor() or platform.machine(), "cores": cores, "version": landscope.__version__,
           "quick": quick, "sweep": [], "surface": [], "overhead": {}}

    if "sweep" in parts:  # the width study
        with CPU() as c:
            serial = landscope.sweep(lazy, grid, progress=False)
        base = c.wall
        out["sweep"].append(dict(mode="serial, this process", threads=landscope.get_num_threads(), wall=c.wall,
                                 cpu=c.cpu, utilization=c.cpu / (c.wall * cores), speedup=1.0, identical=True,
                                 configurations=len(serial)))
    if "surface" in parts:
        model, w = landscope.problems.build("M2")
        D = L.random_directions(model, w, 2, seed=0)
        xs = np.linspace(-1, 1, side)
        with CPU() as c:
            here = L.surface(model, w, D, xs, xs, progress=False)
        surface_base = c.wall
        out["surface"].append(dict(mode="this process", wall=c.wall, cpu=c.cpu,
                                   utilization=c.cpu / (c.wall * cores), points=side * side,
                                   per_point=c.wall / side**2, identical=True))
    for workers, threads, tuned in ((2, 1, False), (2, 1, True), (1, 2, True)):
        if (threads == 2 or not tuned) and not {"sweep", "surface"} & set(parts):
            continue
        if not tuned and "sweep" not in parts:
            continue
        cluster, client, startup = _cluster(workers, threads, tuned)
        try:
            name = f"LocalCluster {workers} x {threads}" + ("" if tuned else ", Dask's default worker environment")
            if not tuned:  # the width study only: what MALLOC_MMAP_THRESHOLD_ changes
                with CPU() as c:
                    res = landscope.sweep(lazy, grid, client=client, progress=False)
                out["sweep"].append(dict(mode=name, threads=threads, wall=c.wall, cpu=c.cpu,
                                         utilization=c.cpu / (c.wall * cores), speedup=base / c.wall,
                                         identical=bool(res == serial), configurations=len(res), startup=startup))
                continue
            if "sweep" in parts:
                with CPU() as c:
                    res = landscope.sweep(lazy, grid, client=client, progress=False)
                out["sweep"].append(dict(mode=name, threads=threads, wall=c.wall, cpu=c.cpu,
                                         utilization=c.cpu / (c.wall * cores), speedup=base / c.wall,
                                         identical=bool(res == serial), configurations=len(res), startup=startup))
            if "surface" in parts:
                with CPU() as c:
                    there = L.surface(model, w, D, xs, xs, client=client, progress=False)
                out["surface"].append(dict(mode=name, wall=c.wall, cpu=c.cpu, utilization=c.cpu / (c.wall * cores),
                                           points=side * side, per_point=c.wall / side**2,
                                           speedup=surface_base / c.wall, identical=bool(there == here)))
            if (workers, threads) == (2, 1) and "overhead" in parts:
                n = 200
                with CPU() as c:
                    landscope.sweep(trivial, {"i": list(range(n))}, client=client, progress=False)
                out["overhead"]["cluster_sweep_per_task"] = c.wall / n
                with tempfile.TemporaryDirectory() as tmp, CPU() as c:
                    landscope.sweep(trivial, {"i": list(range(n))}, client=client, out=tmp, progress=False)
                out["overhead"]["cluster_sweep_out_per_task"] = c.wall / n
                with CPU() as c:
                    futures = [client.submit(_identity, i, pure=False) for i in range(n)]
                    client.gather(futures)
                out["overhead"]["bare_submit_per_task"] = c.wall / n
                out["overhead"]["cluster_startup"] = startup
        finally:
            client.close()
            cluster.close()
    if "overhead" in parts:
        n = 200
        with CPU() as c:
            landscope.sweep(trivial, {"i": list(range(n))}, progress=False)
        out["overhead"]["serial_sweep_per_task"] = c.wall / n
        with tempfile.TemporaryDirectory() as tmp, CPU() as c:
            landscope.sweep(trivial, {"i": list(range(n))}, out=tmp, progress=False)
        out["overhead"]["serial_sweep_out_per_task"] = c.wall / n
    return out


def _t(s: float) -> str:
    if s >= 1:
        return f"{s:.3g} s"
    if s >= 1e-3:
        return f"{s * 1e3:.3g} ms"
    return f"{s * 1e6:.3g} µs"


def table(r: dict) -> str:
    lines = [f"landscope {r['version']} on {r['cores']} cores ({r['machine']})"]
    if r["sweep"]:
        lines += ["", f"Width study, {r['sweep'][0]['configurations']} configurations (widths × seeds, {STEPS} GD "
                  "steps each):", "", "| run | wall | speedup | CPU utilization | same table as serial |",
                  "|---|---:|---:|---:|---|"]
        for s in r["sweep"]:
            lines.append(f"| {s['mode']} ({s['threads']} thread{'s' if s['threads'] > 1 else ''} a task) | "
                         f"{_t(s['wall'])} | {s['speedup']:.2f}× | {100 * s['utilization']:.0f}% | "
                         f"{'yes' if s['identical'] else 'no'} |")
    if r["surface"]:
        side = int(round(np.sqrt(r["surface"][0]["points"])))
        lines += ["", f"Surface of M2 (P = 1,115,136), {side} × {side} points, loss:", "",
                  "| run | wall | per point | speedup | CPU utilization | equal to in-process |",
                  "|---|---:|---:|---:|---:|---|"]
        for s in r["surface"]:
            lines.append(f"| {s['mode']} | {_t(s['wall'])} | {_t(s['per_point'])} | {s.get('speedup', 1.0):.2f}× | "
                         f"{100 * s['utilization']:.0f}% | {'yes' if s['identical'] else 'no'} |")
    o = r["overhead"]
    if o:
        lines += ["", "Overhead per task (200 trivial configurations):", "", "| | per task |", "|---|---:|",
                  f"| sweep in this process | {_t(o['serial_sweep_per_task'])} |",
                  f"| sweep in this process, out= (a file per row) | {_t(o['serial_sweep_out_per_task'])} |",
                  f"| sweep on LocalCluster 2 × 1 | {_t(o['cluster_sweep_per_task'])} |",
                  f"| sweep on LocalCluster 2 × 1, out= | {_t(o['cluster_sweep_out_per_task'])} |",
                  f"| bare client.submit + gather | {_t(o['bare_submit_per_task'])} |",
                  f"| LocalCluster 2 × 1 start-up | {_t(o['cluster_startup'])} |"]
    return "\n".join(lines)


def main(argv=None) -> int:
    parse = parser("landscope bench sweep" if __name__ != "__main__" else None, __doc__.splitlines()[0])
    parse.add_argument("--quick", action="store_true",
                       help="24 configurations (widths up to 4096, 4 seeds) and a 21 x 21 surface")
    parse.add_argument("--parts", default=",".join(PARTS), metavar="LIST",
                       help="which measurements, comma-separated: sweep, surface, overhead")
    parse.add_argument("--json", metavar="PATH", help="also write the figures as JSON")
    args = parse.parse_args(argv)
    parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    if not parts or set(parts) - set(PARTS):
        parse.error(f"--parts: expected some of {', '.join(PARTS)}, got {args.parts!r}")
    check_output(parse, args.json)
    if importlib.util.find_spec("distributed") is None or importlib.util.find_spec("psutil") is None:
        parse.error('needs Dask: pip install "landscope[dask]"')
    warn_if_busy(parse.prog)
    report = run(args.quick, parts)
    emit(table(report), report, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
