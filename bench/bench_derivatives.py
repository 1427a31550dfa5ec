"""Derivatives benchmark: landscope against the vectorized numpy reference, in one process.

Problems (landscope.problems; float64, X ~ N(0,1)/√d, y = tanh(X a), w ~ N(0,1), tanh, square loss, sum):
  S1 ShallowNet n=512 d=16 m=256 (P=4096)        S2 ShallowNet n=1024 d=32 m=1024 (P=32768)
  M1 MLP NTK n=256 d=16 widths [48, 48] (P=3120)  M2 MLP NTK n=512 d=64 widths [1024, 1024] (P=1,115,136)
The numpy reference is built by reference.py on the same data.
Operations: gradient, HVP (one vector), tangent kernel, dense Hessian (S1 and M1 only).
Prints a markdown table of medians, their spread ((max − min) / median of the timed runs) and
ratios (landscope / numpy); --json writes the figures (with every timed run).
--peers jax,torch adds those frameworks where installed (peers.py: the same losses with jitted
JAX grad and forward-over-reverse HVP, torch.func grad and jvp of grad; dense Hessians as their
HVPs over the unit vectors), each checked against landscope before it is timed, and the ratio
landscope / fastest of numpy and the peers.

    python bench/bench_derivatives.py [--quick] [--problems S1,M1] [--repeats 7] [--peers jax,torch] [--json out.json]
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
from landscope import problems as _problems

PROBLEMS = _problems.BENCHMARKS  # S1, S2, M1, M2
DENSE = {"S1", "M1"}  # problems whose dense Hessian is benchmarked


def build(name: str, seed: int = 0):
    """The landscope model, the numpy reference model and a point w, for one problem of
    landscope.problems (the reference is built by reference.py from the same data)."""
    model, w = _problems.build(name, seed)
    X, y = _problems.data(name, seed)
    spec = _problems.spec(name)
    if spec["model"] == "ShallowNet":
        ref = reference.make_shallow(X, y, spec["widths"][0], **spec["options"])
    elif spec["model"] == "MLP":
        ref = reference.make_mlp(X, y, list(spec["widths"]), **spec["options"])
    else:
        ref = reference.make_deep_linear(X, y, list(spec["widths"]), **spec["options"])
    return model, ref, w


def timings(fn, repeats: int, min_time: float = 0.0, warm_up: bool = True) -> list:
    """Seconds of each timed run of fn() after a warm-up (unless ``warm_up`` is False, for a
    caller that has run fn already): at least ``repeats`` runs, and more (up to 100) until
    ``min_time`` seconds have passed."""
    if warm_up:
        fn()
    times = []
    start = time.perf_counter()
    while len(times) < repeats or (time.perf_counter() - start < min_time and len(times) < 100):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return times


def median_time(fn, repeats: int, min_time: float = 0.0) -> float:
    return statistics.median(timings(fn, repeats, min_time))


def spread(times) -> float | None:
    """(max − min) / median of repeated timings: 0 for one run, None without timings."""
    if not times:
        return None
    return (max(times) - min(times)) / statistics.median(times)


def fmt_spread(x) -> str:
    return "—" if x is None else f"{100 * x:.0f}%"


def warn_if_busy(prog: str = "landscope bench") -> None:
    """Warn on stderr when other work occupies the machine (1-minute load above the core count)."""
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):  # not available on this platform
        return
    cores = os.cpu_count() or 1
    if load > cores:
        print(f"{prog}: warning: the 1-minute load average is {load:.1f} on {cores} cores; other work is "
              f"running, so these timings will be noisy", file=sys.stderr, flush=True)


def parser(prog, description: str):
    """The bench suites' argument parser: one-line errors (exit code 2), defaults in --help.
    ``prog`` None (a suite run as a script) names it after the script."""
    from landscope._spectrum_cli import HelpFormatter, Parser

    return Parser(prog=prog, description=description, formatter_class=HelpFormatter)


def positive_int(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        v = 0
    if v < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}")
    return v


def problem_list(parse, option: str, text: str) -> list:
    names = [p.strip().upper() for p in text.split(",") if p.strip()]
    unknown = [p for p in names if p not in PROBLEMS]
    if not names:
        parse.error(f"{option}: expected a comma-separated subset of {','.join(PROBLEMS)}, got {text!r}")
    if unknown:
        parse.error(f"{option}: unknown {', '.join(unknown)}; choose from {', '.join(PROBLEMS)}")
    return names


def check_output(parse, path) -> None:
    """--json: fail before the benchmark, not after it, when the path cannot be written."""
    from landscope._spectrum_cli import writable

    writable(parse, "--json", path)


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


def load_peers():
    """The peers module (bench/peers.py), imported only when --peers asks for it."""
    try:  # installed as landscope.bench
        from . import peers
    except ImportError:  # run as a script from bench/ (or bench/ on sys.path)
        import peers  # type: ignore[no-redef]
    return peers


def peer_names(parse, text) -> list:
    """--peers: the named peers that import (a note on stderr for each one that does not);
    an unknown name is a usage error."""
    if text is None:
        return []
    peers = load_peers()
    try:
        names = peers.parse(text)
    except ValueError as e:
        parse.error(f"--peers: {e}")
    return peers.available(names)


def peer_versions(names) -> dict:
    peers = load_peers()
    return {name: peers.version(name) for name in names}


def mismatch(prog: str, peer: str, what: str, problem: str, error: float) -> None:
    """A peer whose result differs from landscope's: a loud line on stderr."""
    tol = load_peers().TOLERANCE
    print(f"{prog}: MISMATCH: {peer}'s {what} on {problem} differs from landscope's by {error:.2e} (relative), "
          f"more than {tol:g}: it is not the same function, so it is not timed", file=sys.stderr, flush=True)


def time_peers(name, w, v, expected, peer_list, repeats: int, quick: bool, prog: str) -> dict:
    """{operation: {peer: figures}}: each peer's gradient, HVP and (for DENSE) Hessian, checked
    against landscope's result first (the check is the warm-up, which compiles JAX's jit)."""
    peers = load_peers()
    out = {}
    for peer_name in peer_list:
        peer = peers.for_problem(peer_name, name)
        for op in ("gradient", "hvp", "hessian"):
            if op not in expected:
                continue
            fn = peer.timed(op, w, v)
            result = peer.hvp(w, v) if op == "hvp" else getattr(peer, op)(w)
            error = peers.rel_error(result, expected[op])
            del result
            figures = dict(rel_error=error, ok=error <= peers.TOLERANCE, s=None, spread=None, runs_s=None)
            if figures["ok"]:
                reps = (1 if quick else 3) if op == "hessian" else repeats
                runs = timings(fn, reps, min_time=0.0 if quick or op == "hessian" else 0.5, warm_up=op != "hessian")
                figures.update(s=statistics.median(runs), spread=spread(runs), runs_s=runs)
            else:
                mismatch(prog, peer_name, op, name, error)
            out.setdefault(op, {})[peer_name] = figures
            print(f"  {name} {op}: {peer_name} "
                  f"{fmt_time(figures['s'], 'not timed')} (relative error {error:.1e})", file=sys.stderr, flush=True)
        del peer
    return out


def fastest(entry: dict) -> None:
    """Add the fastest of numpy and the peers (that matched landscope), and landscope / it."""
    times = {"numpy": entry["numpy_s"]}
    times.update({p: f["s"] for p, f in entry.get("peers", {}).items() if f["s"] is not None})
    best = min(times, key=times.get)
    entry.update(fastest_peer=best, fastest_peer_s=times[best], ratio_fastest=entry["landscope_s"] / times[best])


def run_peers(results: list, problems, repeats: int, quick: bool, peer_list, prog: str) -> None:
    """Time the peers on each problem and add them to its rows of ``results``. Run after every
    landscope and numpy timing: the peers' thread pools and allocators (which keep freed memory)
    then touch neither those times nor the peak memory readings."""
    for name in problems:
        model, w = _problems.build(name)
        v = np.random.default_rng(1).standard_normal(model.num_params)
        expected = {"gradient": model.gradient(w), "hvp": model.hvp(w, v)}
        if name in DENSE:
            expected["hessian"] = model.hessian(w)
        peer_times = time_peers(name, w, v, expected, peer_list, repeats, quick, prog)
        del expected
        for entry in results:
            if entry["problem"] == name and entry["op"] in peer_times:
                entry["peers"] = peer_times[entry["op"]]
                fastest(entry)


def numpy_activation(name: str, z: np.ndarray):
    """σ, σ' and σ'' as a user writes them in numpy (the same three outputs landscope gives)."""
    if name == "tanh":
        t = np.tanh(z)
        d1 = 1.0 - t * t
        return t, d1, -2.0 * t * d1
    if name == "gelu":  # numpy has no erfc: scipy's Φ
        from scipy.special import ndtr

        Phi, phi = ndtr(z), np.exp(-0.5 * z * z) * (1.0 / np.sqrt(2.0 * np.pi))
        return z * Phi, Phi + z * phi, phi * (2.0 - z * z)
    s = 1.0 / (1.0 + np.exp(-z))  # sigmoid
    sn = 1.0 - s
    return s, s * sn, s * sn * (sn - s)


def activations(repeats: int) -> list:
    """σ, σ', σ'' over S1's 512 x 256 pre-activations, one thread each (landscope's elementwise
    kernels run inside a sample block; numpy's ufuncs are single-threaded). gelu's peer needs
    scipy (numpy has no erfc); without it, gelu is left out."""
    z = np.asfortranarray(np.random.default_rng(0).standard_normal((512, 256)) * 2.0)
    rows = []
    names = ["tanh", "sigmoid"]
    try:
        import scipy.special  # noqa: F401

        names.append("gelu")
    except ImportError:
        pass
    for name in names:
        ours = timings(lambda: landscope._core.activate(name, z), repeats, min_time=0.3)
        theirs = timings(lambda: numpy_activation(name, z), repeats, min_time=0.3)
        got, want = landscope._core.activate(name, z), numpy_activation(name, z)
        # σ only: numpy's σ' = 1 − tanh² (or s (1 − s)) loses its relative accuracy where σ saturates
        err = float(np.max(np.abs(got[0] - want[0]) / np.maximum(np.abs(want[0]), 1e-300)))
        rows.append(dict(activation=name, values=z.size, numpy_ns=statistics.median(theirs) / z.size * 1e9,
                         landscope_ns=statistics.median(ours) / z.size * 1e9, max_rel_diff=err))
    return rows


def run(problems, repeats: int, quick: bool, peer_list=(), prog: str = "landscope bench") -> dict:
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
            time.sleep(0.2)  # numpy's BLAS threads spin for a while after its last call: let them park
            runs_ours = timings(ours, reps, min_time=0.0 if quick else 0.5)
            runs_np = timings(theirs, reps if op != "hessian" else 3)
            t_ours, t_np = statistics.median(runs_ours), statistics.median(runs_np)
            row_times[op] = t_ours
            entry = dict(problem=name, P=P, op=op, numpy_s=t_np, landscope_s=t_ours, ratio=t_ours / t_np,
                         numpy_spread=spread(runs_np), landscope_spread=spread(runs_ours),
                         numpy_runs_s=runs_np, landscope_runs_s=runs_ours)
            if op == "hessian":
                entry["peak_bytes"] = peak_memory(ours)
                entry["peak_over_hessian"] = (entry["peak_bytes"] / (8.0 * P * P)
                                              if entry["peak_bytes"] is not None else None)
                entry["numpy_peak_bytes"] = peak_memory(theirs)
                entry["gflops"] = hessian_flops(model) / t_ours / 1e9
                entry["gemm_gflops"] = rate
            results.append(entry)
        results.append(dict(problem=name, P=P, op="hvp/gradient", numpy_s=None, landscope_s=None,
                            ratio=row_times["hvp"] / row_times["gradient"], numpy_spread=None,
                            landscope_spread=None))
    if peer_list:
        run_peers(results, problems, repeats, quick, peer_list, prog)
    return dict(
        machine=dict(python=platform.python_version(), numpy=np.__version__, cpu=platform.processor(),
                     gemm_gflops=rate),
        landscope=landscope.info(),
        peers=peer_versions(peer_list),
        repeats=repeats,
        results=results,
        activations=activations(repeats),
    )


def mismatches(report: dict) -> list:
    """(problem, operation, peer) of every peer result that differed from landscope's (the rows
    of bench_derivatives' "results" and bench_spectra's "lanczos")."""
    rows = report.get("results", []) + report.get("lanczos", [])
    return [(r["problem"], r.get("op", "hvp"), p) for r in rows for p, f in r.get("peers", {}).items()
            if not f["ok"]]


def fmt_time(t, missing: str = "") -> str:
    if t is None:
        return missing
    return f"{t * 1e3:.3g} ms" if t < 1 else f"{t:.3g} s"


def peer_cell(figures) -> str:
    """A peer's time in a table: its median, MISMATCH, or — (not run)."""
    if figures is None:
        return "—"
    if not figures["ok"]:
        return f"MISMATCH ({figures['rel_error']:.1e})"
    return fmt_time(figures["s"])


def table(report: dict) -> str:
    names = list(report.get("peers") or {})
    peer_head = "".join(f" {p} |" for p in names)
    fast_head = " fastest peer | landscope / fastest |" if names else ""
    lines = [
        f"| problem | P | operation | numpy |{peer_head} landscope | ratio |{fast_head} spread numpy / landscope | "
        f"notes |",
        "|---|---:|---|---:|" + "---:|" * len(names) + "---:|---:|" + ("---|---:|" if names else "") + "---:|---|",
    ]
    for r in report["results"]:
        peer_cells = "".join(f" {peer_cell(r.get('peers', {}).get(p)) if r['landscope_s'] is not None else ''} |"
                             for p in names)
        fast_cells = ""
        if names:
            fast_cells = (f" {r['fastest_peer']} | {r['ratio_fastest']:.3f} |" if "ratio_fastest" in r else " | |")
        notes = ""
        if r["op"] == "hessian":
            if r.get("peak_over_hessian") is not None:
                notes = (f"peak {r['peak_bytes'] / 1e6:.0f} MB = {r['peak_over_hessian']:.2f}x H "
                         f"(numpy {r['numpy_peak_bytes'] / 1e6:.0f} MB); ")
            notes += f"{r['gflops']:.0f} GFLOP/s of {r['gemm_gflops']:.0f} GEMM"
        spreads = ("" if r["landscope_spread"] is None else
                   f"{fmt_spread(r['numpy_spread'])} / {fmt_spread(r['landscope_spread'])}")
        lines.append(f"| {r['problem']} | {r['P']:,} | {r['op']} | {fmt_time(r['numpy_s'])} |{peer_cells} "
                     f"{fmt_time(r['landscope_s'])} | {r['ratio']:.3f} |{fast_cells} {spreads} | {notes} |")
    if report.get("activations"):
        lines += ["", "| activation | values | numpy σ, σ', σ'' | landscope σ, σ', σ'' | ratio | max rel. diff of σ |",
                  "|---|---:|---:|---:|---:|---:|"]
        for a in report["activations"]:
            lines.append(f"| {a['activation']} | {a['values']:,} | {a['numpy_ns']:.2f} ns/value | "
                         f"{a['landscope_ns']:.2f} ns/value | {a['landscope_ns'] / a['numpy_ns']:.2f} | "
                         f"{a['max_rel_diff']:.1e} |")
    info = report["landscope"]
    lines.append("")
    lines.append(f"landscope {info['version']} ({info['isa']}, Eigen {info['eigen']}, OpenMP "
                 f"{'on' if info['openmp'] else 'off'}, {info['threads']} threads); numpy "
                 f"{report['machine']['numpy']}; medians of >= {report['repeats']} runs, spread = "
                 f"(max − min) / median; ratio = landscope / numpy; "
                 f"GEMM rate {report['machine']['gemm_gflops']:.0f} GFLOP/s.")
    if names:
        lines.append(peer_footnote(report["peers"]) + " landscope / fastest = landscope / the fastest of numpy "
                     "and the peers.")
    return "\n".join(lines)


def peer_footnote(versions: dict) -> str:
    how = {"jax": "jit", "torch": "torch.func"}
    peers = load_peers()
    return (", ".join(f"{p} {v} ({how.get(p, p)})" for p, v in versions.items()) +
            f": float64, timed on their own arrays, after a check against landscope (relative error "
            f"<= {peers.TOLERANCE:g}).")


def emit(text: str, report: dict, path) -> None:
    """Print the table and, with a path, write the figures as JSON."""
    print(text)
    if path:
        with open(path, "w") as f:
            json.dump(report, f, indent=2)
        print(f"\nwrote {path}")


def main(argv=None) -> int:
    parse = parser("landscope bench" if __name__ != "__main__" else None,
                   __doc__.splitlines()[0] + " (other suites: landscope bench spectra, landscope bench training)")
    parse.add_argument("--quick", action="store_true", help="fewer repeats (about a minute in all)")
    parse.add_argument("--problems", default="S1,S2,M1,M2", help="comma-separated subset of S1,S2,M1,M2")
    parse.add_argument("--repeats", type=positive_int, default=None,
                       help="timed runs per operation, of which the median is reported (default: 3 with "
                            "--quick, else 9)")
    parse.add_argument("--peers", metavar="NAMES", default=None,
                       help="also time these frameworks where installed (comma-separated: jax,torch); each "
                            "is checked against landscope first, and one that is not installed is skipped "
                            "with a note")
    parse.add_argument("--json", metavar="PATH", help="also write the figures as JSON")
    args = parse.parse_args(argv)
    problems = problem_list(parse, "--problems", args.problems)
    peer_list = peer_names(parse, args.peers)
    check_output(parse, args.json)
    repeats = args.repeats if args.repeats is not None else (3 if args.quick else 9)
    warn_if_busy(parse.prog)
    report = run(problems, repeats, args.quick, peer_list, parse.prog)
    emit(table(report), report, args.json)
    return 1 if mismatches(report) else 0


if __name__ == "__main__":
    sys.exit(main())
