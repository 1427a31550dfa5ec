"""``landscope report``: the theory of DESIGN §1, measured and drawn, as one HTML page.

:func:`report` runs its sections, each a small seeded experiment with verdicts (does the
theorem's bound hold, and how tightly), and writes into a folder:

- ``index.html``: one self-contained page (sections, the figures as PNG files beside it, tables
  of the numbers);
- ``report.json``: every number shown and every verdict;
- ``<section>.npz``: the raw results of each section.

Sections so far: ``pl`` (PL and linear rates of over-parameterized least squares),
``product_toy`` (trajectory analysis of Π x_k), ``saddles`` (GD stuck at a strict saddle,
perturbed GD escaping, classify), ``wide`` (the lazy regime of wide networks, and the
Hessian at an interpolating minimum), ``eos`` (progressive sharpening to 2/η), ``landscape``
(a slice with the trajectory, paths and curves between two solutions, before and after
alignment) and ``practice`` (schedules; optimizers with EMA/SWA and their flatness). The figures need matplotlib
(``pip install 'landscope[plot]'``).
"""
from __future__ import annotations

import html
import json
import os
import time
from dataclasses import dataclass, field
from typing import Callable, Optional, Sequence

import numpy as np

from . import _progress
from . import _validation as val
from . import optim, theory
from ._loader import core as _core
from .models import LeastSquares, ProductToy
from .training import train

__all__ = ["report", "Report", "Section", "Verdict", "SECTIONS", "OwnData"]


@dataclass(frozen=True)
class Verdict:
    """One claim of a section and whether the measurement bears it out."""

    claim: str
    ok: bool
    detail: str


@dataclass
class Section:
    """What a section produced: prose, verdicts, tables, figures (file names in the output
    folder) and the numbers behind them (JSON-able)."""

    key: str
    title: str
    text: str
    verdicts: list = field(default_factory=list)
    tables: list = field(default_factory=list)    # (caption, column names, rows)
    figures: list = field(default_factory=list)   # (file name, caption)
    numbers: dict = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return all(v.ok for v in self.verdicts)


@dataclass(frozen=True)
class Report:
    """The sections of a finished report and where it was written."""

    folder: str
    sections: list

    @property
    def index(self) -> str:
        return os.path.join(self.folder, "index.html")

    @property
    def ok(self) -> bool:
        return all(s.ok for s in self.sections)


class _Context:
    def __init__(self, folder: str, quick: bool, seed: int, data: Optional["OwnData"] = None, client=None):
        self.folder, self.quick, self.seed, self.data = folder, quick, seed, data
        self.client = client  # where the sections' sweeps run (None: in this process)

    def save(self, fig, name: str) -> str:
        fig.savefig(os.path.join(self.folder, name), dpi=100)
        import matplotlib.pyplot as plt

        plt.close(fig)
        return name

    def raw(self, key: str, **arrays) -> None:
        np.savez(os.path.join(self.folder, f"{key}.npz"), **arrays)


def _pyplot():
    try:
        import matplotlib

        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt
    except ImportError as e:
        raise ImportError("landscope report draws with matplotlib: pip install 'landscope[plot]'") from e
    return plt


# ------------------------------------------------------------------------------------ sections

def _pl(ctx: _Context) -> Section:
    """GD on over-parameterized least squares (n < d) at η = 1/β: the loss stays below
    (1 − ημ)^t L_0 and the PL ratio above μ, with μ, β the extreme eigenvalues of X Xᵀ."""
    plt = _pyplot()
    rng = np.random.default_rng(ctx.seed)
    n, d = (20, 60) if ctx.quick else (40, 120)
    X = rng.standard_normal((n, d)) / np.sqrt(d)
    y = rng.standard_normal(n)
    model = LeastSquares(X, y)
    mu, beta = theory.least_squares_constants(X)
    eta = 1.0 / beta
    # Up to where the bound reaches 1e-24 L_0: below that the loss is rounding (ε² relative).
    steps = min(300 if ctx.quick else 1000, int(np.log(1e-24) / np.log1p(-eta * mu)))
    traj = train(model, np.zeros(d), optim.GD(eta), steps, progress=False)
    bound = theory.pl_rate_bound(traj["step"], traj.loss[0], mu, eta)
    rate = theory.check(traj, bound)
    pl = theory.check(traj, mu, "pl", kind="lower", rtol=1e-9)
    s = Section("pl", "PL and linear rates",
                f"Least squares with n = {n} samples in d = {d} dimensions (over-parameterized: X Xᵀ has full "
                f"rank, so the loss is μ-PL with μ = λ_min(X Xᵀ) = {mu:.4g}, and β = λ_max(X Xᵀ) = {beta:.4g}-smooth). "
                f"Gradient descent at η = 1/β converges linearly: L(w_t) ≤ (1 − ημ)^t L(w_0).")
    after = float(np.max(traj.loss[1:] / bound[1:]))  # step 0 is L_0 against itself
    s.verdicts.append(Verdict("the loss stays below (1 − ημ)^t L_0 at every step", rate.ok,
                              f"worst loss/bound ratio after step 0: {after:.3g}, over {rate.checked} steps"))
    s.verdicts.append(Verdict("the PL ratio ‖∇L‖²/(2(L − L*)) stays ≥ μ", pl.ok,
                              f"smallest ratio/μ {np.nanmin(traj.pl) / mu:.6f}"))
    s.tables.append(("Constants and outcome", ["n", "d", "μ", "β", "η", "steps", "L_0", "L_T", "bound at T"],
                     [[n, d, f"{mu:.4g}", f"{beta:.4g}", f"{eta:.4g}", steps, f"{traj.loss[0]:.4g}",
                       f"{traj.loss[-1]:.3e}", f"{bound[-1]:.3e}"]]))
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.6), layout="constrained")
    a.semilogy(traj["step"], traj.loss, label="L(w_t)")
    a.semilogy(traj["step"], bound, "--", label="(1 − ημ)^t L_0")
    a.set_xlabel("step")
    a.set_title("loss and the PL bound")
    a.legend()
    b.plot(traj["step"], traj.pl, label="‖∇L‖²/(2L)")
    b.axhline(mu, color="C3", ls="--", label="μ")
    b.set_xlabel("step")
    b.set_title("PL ratio")
    b.legend()
    s.figures.append((ctx.save(fig, "pl.png"), "GD at η = 1/β on over-parameterized least squares."))
    s.numbers = dict(n=n, d=d, mu=mu, beta=beta, eta=eta, steps=steps, loss0=float(traj.loss[0]),
                     loss_T=float(traj.loss[-1]), worst_ratio_after_start=after, min_pl=float(np.nanmin(traj.pl)))
    ctx.raw("pl", step=traj["step"], loss=traj.loss, pl=traj.pl, bound=bound)
    return s


def _balanced_start(d: int, c: float, product: float, rng) -> np.ndarray:
    """A positive start with max/min exactly c and Π x = product."""
    u = rng.uniform(1.0, c, d)
    u[0], u[1] = 1.0, c
    return u * (product / np.prod(u)) ** (1.0 / d)


def _product_toy(ctx: _Context) -> Section:
    """The trajectory-analysis theorem for f(x) = ½(Π x − 1)², and the exponential slowness of
    GD from (½, …, ½)."""
    plt = _pyplot()
    rng = np.random.default_rng(ctx.seed + 1)
    c, delta = 1.5, 0.3
    dims = range(2, 6) if ctx.quick else range(2, 9)
    steps = 1000 if ctx.quick else 3000
    rows, curves = [], {}
    verdicts = {"balanced": True, "monotone": True, "hessian": True, "rate": True}
    worst = {"rate": 0.0, "hessian": 0.0}
    for d in dims:
        x0 = _balanced_start(d, c, delta, rng)
        gamma = theory.product_toy_step(d, c)
        traj = train(ProductToy(d), x0, optim.GD(gamma), steps, record=("balancedness", "hessian_norm", "params"),
                     progress=False)
        bal = theory.check(traj, c, "balancedness")
        hess = theory.check(traj, theory.product_toy_hessian_bound(d, c), "hessian_norm")
        rate = theory.check(traj, theory.product_toy_rate_bound(traj["step"], traj.loss[0], delta, c))
        mono = bool(np.all(np.diff(traj.params, axis=0) >= 0))
        verdicts["balanced"] &= bal.ok
        verdicts["monotone"] &= mono
        verdicts["hessian"] &= hess.ok
        verdicts["rate"] &= rate.ok
        worst["rate"] = max(worst["rate"], float(np.max(traj.loss[1:] / theory.product_toy_rate_bound(
            traj["step"][1:], traj.loss[0], delta, c))))  # after step 0, where the ratio is 1
        worst["hessian"] = max(worst["hessian"], hess.worst)
        ratio_d = float(np.max(traj.loss[1:] / theory.product_toy_rate_bound(traj["step"][1:], traj.loss[0], delta, c)))
        rows.append([d, f"{gamma:.4g}", f"{traj.loss[0]:.4g}", f"{traj.loss[-1]:.3e}", f"{ratio_d:.3g}",
                     f"{hess.worst:.3g}"])
        curves[d] = (traj["step"], traj.loss, theory.product_toy_rate_bound(traj["step"], traj.loss[0], delta, c))
    # From (½, …, ½), GD with γ = 1/(3d) (c = 1) needs exponentially many steps in d to halve f.
    halve = []
    for d in (range(2, 6) if ctx.quick else range(2, 9)):
        x0 = np.full(d, 0.5)
        f0 = 0.5 * (0.5**d - 1) ** 2
        traj = train(ProductToy(d), x0, optim.GD(theory.product_toy_step(d, 1.0)), 10**7, tol=f0 / 2,
                     record_every=10**7, progress=False)
        halve.append((d, traj.current_step))
    ds, ts = np.array(halve).T
    growth = float(np.exp(np.polyfit(ds, np.log(ts), 1)[0]))
    s = Section("product_toy", "Trajectory analysis of Π x_k",
                f"f(x) = ½(Π x_k − 1)². From a c-balanced start (max x / min x ≤ c = {c}) with δ = {delta} ≤ Π x < 1, "
                f"GD with γ = 1/(3dc²) keeps the iterates c-balanced and increasing, ‖∇²f‖_F ≤ 3dc², and "
                f"f(x_T) ≤ (1 − δ²/(3c⁴))^T f(x_0). From (½, …, ½) the same theory allows 4^d growth of the "
                f"steps needed to halve f; the measured growth per added dimension is {growth:.2f}×.")
    s.verdicts += [
        Verdict("the iterates stay c-balanced", verdicts["balanced"], f"d = {dims.start}…{dims.stop - 1}"),
        Verdict("the iterates increase coordinatewise", verdicts["monotone"], ""),
        Verdict("‖∇²f‖_F ≤ 3dc² along the run", verdicts["hessian"], f"worst ratio {worst['hessian']:.3g}"),
        Verdict("f(x_T) ≤ (1 − δ²/(3c⁴))^T f(x_0)", verdicts["rate"], f"worst ratio after step 0: {worst['rate']:.3g}"),
        Verdict("steps to halve f from (½,…,½) grow by less than 4× per dimension", 1.0 < growth <= 4.0,
                f"{growth:.2f}× per dimension"),
    ]
    s.tables.append(("The theorem, per dimension", ["d", "γ", "f(x_0)", "f(x_T)", "worst f/bound after step 0",
                                                     "worst ‖∇²f‖/(3dc²)"], rows))
    s.tables.append(("Steps to halve f from (½, …, ½)", ["d", "steps"], [[int(d), int(t)] for d, t in halve]))
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.6), layout="constrained")
    for i, (d, (t, f, bnd)) in enumerate(curves.items()):
        a.semilogy(t, f, color=f"C{i}", label=f"d = {d}")
        a.semilogy(t, bnd, color=f"C{i}", ls="--", lw=0.8)
    a.set_xlabel("step")
    a.set_title("f(x_t) (solid) and the theorem's bound (dashed)")
    a.legend(fontsize=8)
    b.semilogy(ds, ts, "o-", label=f"measured ({growth:.2f}× per d)")
    b.semilogy(ds, ts[0] * 4.0 ** (ds - ds[0]), "--", label="4^d growth")
    b.set_xlabel("d")
    b.set_title("steps to halve f from (½, …, ½)")
    b.legend()
    s.figures.append((ctx.save(fig, "product_toy.png"), "GD on Π x_k: the rate theorem and the slow start."))
    s.numbers = dict(c=c, delta=delta, steps=steps, worst_rate_ratio=worst["rate"],
                     worst_hessian_ratio=worst["hessian"], halve={int(d): int(t) for d, t in halve}, growth=growth)
    ctx.raw("product_toy", halve_d=ds, halve_steps=ts)
    return s


def _lazy(module: str, name: str):
    """A section function of another module of the report, imported when it runs."""
    def run(ctx):
        import importlib

        return getattr(importlib.import_module(f"landscope.{module}"), name)(ctx)
    return run


#: The sections in the order of the page: key -> (title, function).
SECTIONS = {"pl": ("PL and linear rates", _pl), "product_toy": ("Trajectory analysis of Π x_k", _product_toy),
            "saddles": ("Saddles", _lazy("_report_theory", "saddles")),
            "wide": ("Wide networks and PL*", _lazy("_report_theory", "wide")),
            "eos": ("Edge of stability and progressive sharpening", _lazy("_report_practice", "edge_of_stability")),
            "landscape": ("Landscape", _lazy("_report_practice", "landscape")),
            "practice": ("Practice", _lazy("_report_practice", "practice"))}


@dataclass(frozen=True)
class OwnData:
    """A model of the user's data for the ``data`` section: the model, the start w, a line
    describing both, and the training budget (steps, and lr or None for 1/λ_max(H(w)))."""

    model: object
    w: np.ndarray
    description: str
    steps: Optional[int] = None
    lr: Optional[float] = None


def _own_data(ctx: _Context) -> Section:
    """The model-level measurements on the user's data: GD with the sharpness and the PL ratio
    recorded, the spectrum and classification where it ends, the slice of its path, flatness."""
    from . import landscape as L
    from . import plot
    from .analysis import classify
    from .spectra import eigsh

    plt = _pyplot()
    d = ctx.data
    model, w0 = d.model, d.w
    top0 = float(eigsh(model.hessian_operator(w0), k=1, which="LA", tol=1e-6, progress=False).eigenvalues[-1])
    lr = d.lr if d.lr is not None else 1.0 / max(top0, 1e-12)
    steps = d.steps if d.steps is not None else (200 if ctx.quick else 1000)
    every = max(1, steps // 50)
    traj = train(model, w0, optim.GD(lr), steps, record_every=every, record=("sharpness", "params"),
                 progress=False)
    w = traj.w
    s = Section("data", "Your data",
                f"{d.description}. Full-batch GD at η = {lr:.4g} (1/λ_max(H(w_0)) = {1 / max(top0, 1e-12):.4g}) "
                f"for {steps} steps, recording the loss, the PL ratio and the sharpness every {every} steps; then "
                f"the Hessian spectrum and classification where the run ends, the loss on the plane of its "
                f"iterates, and flatness measures.")
    diverged = traj.status == "diverged"
    s.verdicts.append(Verdict("training finished without diverging", not diverged, traj.message))
    k = min(5, model.num_params - 1)
    c = classify(model, w, k=k, progress=False)
    flat = L.flatness(model, w, measures=("lambda_max", "trace", "sam_sharpness", "average_sharpness"),
                      radius=0.05, seed=ctx.seed, progress=False) if not diverged else None
    fig, axes = plt.subplots(1, 3, figsize=(15, 4), layout="constrained")
    a = axes[0]
    a.semilogy(traj["step"], traj.loss, label="loss")
    a.set_xlabel("step")
    a.set_ylabel("loss")
    b = a.twinx()
    ok = ~np.isnan(traj.sharpness)
    b.plot(traj["step"][ok], traj.sharpness[ok], color="C1", label="λ_max(H)")
    b.axhline(2 / lr, color="C3", ls="--", lw=0.8, label="2/η")
    b.set_ylabel("sharpness")
    b.legend(loc="upper right", fontsize=8)
    a.set_title("training")
    table = [["loss", f"{traj.loss[0]:.4g}", f"{traj.loss[-1]:.4g}"],
             ["‖∇L‖", f"{traj.grad_norm[0]:.4g}", f"{traj.grad_norm[-1]:.4g}"],
             ["sharpness", f"{traj.sharpness[0]:.4g}", f"{traj.sharpness[ok][-1]:.4g}"],
             ["PL ratio", f"{traj.pl[0]:.4g}", f"{traj.pl[-1]:.4g}"]]
    s.tables.append(("Training, start and end", ["quantity", "start", "end"], table))
    s.tables.append(("At the end: classification", ["verdict", "loss", "‖∇L‖", "λ_min", "λ_max", "index"],
                     [[c.verdict, f"{c.loss:.4g}", f"{c.gradient_norm:.3g}", f"{c.lambda_min:.4g}",
                       f"{c.lambda_max:.4g}", f"{c.index:g}" + ("" if c.index_exact else f" ± {c.index_error:.2g}")]]))
    if flat is not None:
        s.tables.append(("At the end: flatness (radius 0.05)", list(flat.values),
                         [[f"{flat.values[m]:.4g}" + (f" ± {flat.errors[m]:.2g}" if np.isfinite(flat.errors[m]) else "")
                           for m in flat.values]]))
    if traj.params.shape[0] >= 3 and not diverged:
        P2, ratio = L.pca_directions(traj, k=2)
        coords, _ = L.project(traj, w, P2)
        pad = 0.25 * (coords.max(axis=0) - coords.min(axis=0)) + 1e-3
        n = 21 if ctx.quick else 41
        x = np.linspace(coords[:, 0].min() - pad[0], coords[:, 0].max() + pad[0], n)
        y = np.linspace(coords[:, 1].min() - pad[1], coords[:, 1].max() + pad[1], n)
        surf = L.surface(model, w, P2, x, y, progress=False)
        plot.surface(surf, log=True, trajectory=coords, ax=axes[1])
        axes[1].set_title("loss on the plane of the run")
        s.numbers["explained_variance"] = ratio.tolist()
    else:
        axes[1].set_axis_off()
    ends = np.unique(np.concatenate([c.bottom, c.top]))
    axes[2].stem(np.arange(ends.size), ends)
    axes[2].axhline(0, color="0.5", lw=0.8)
    axes[2].set_yscale("symlog", linthresh=max(1e-8, 1e-6 * np.abs(ends).max()))
    axes[2].set_xticks([])
    axes[2].set_xlabel(f"the {c.bottom.size} smallest and {c.top.size} largest, ascending")
    axes[2].set_ylabel("λ (symlog)")
    axes[2].set_title(f"Hessian eigenvalues at the end: {c.verdict}")
    s.figures.append((ctx.save(fig, "data.png"), d.description))
    s.numbers.update(lr=lr, steps=steps, status=traj.status, loss=traj.loss.tolist(), step=traj["step"].tolist(),
                     sharpness_end=float(traj.sharpness[ok][-1]), verdict=c.verdict, lambda_min=c.lambda_min,
                     lambda_max=c.lambda_max, index=c.index,
                     flatness=None if flat is None else dict(values=flat.values, errors=flat.errors))
    ctx.raw("data", step=traj["step"], loss=traj.loss, sharpness=traj.sharpness, w=w)
    return s


# ---------------------------------------------------------------------------------- writing

def _html(sections: Sequence[Section], quick: bool, seed: int, seconds: float) -> str:
    e = html.escape
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             "<title>landscope report</title>",
             "<style>body{font-family:system-ui,sans-serif;max-width:980px;margin:2em auto;padding:0 1em;"
             "line-height:1.45;color:#222}table{border-collapse:collapse;margin:.6em 0}td,th{border:1px solid #ccc;"
             "padding:.25em .6em;text-align:right}th{background:#f4f4f4}.ok{color:#176b2c}.no{color:#b00020}"
             "img{max-width:100%}figcaption{color:#555;font-size:.9em}</style></head><body>",
             "<h1>landscope report</h1>",
             f"<p>landscope {e(_core.__version__)}, seed {seed}{', quick' if quick else ''}; "
             f"{len(sections)} sections in {seconds:.1f} s. Every number is also in "
             f'<a href="report.json">report.json</a>.</p>', "<ul>"]
    for s in sections:
        mark = "✓" if s.ok else "✗"
        parts.append(f'<li><a href="#{e(s.key)}">{e(s.title)}</a> <span class="{"ok" if s.ok else "no"}">{mark}</span></li>')
    parts.append("</ul>")
    for s in sections:
        parts.append(f'<h2 id="{e(s.key)}">{e(s.title)}</h2><p>{e(s.text)}</p><ul>')
        for v in s.verdicts:
            cls, word = ("ok", "yes") if v.ok else ("no", "no")
            detail = f" ({e(v.detail)})" if v.detail else ""
            parts.append(f'<li>{e(v.claim)}: <b class="{cls}">{word}</b>{detail}</li>')
        parts.append("</ul>")
        for name, caption in s.figures:
            parts.append(f'<figure><img src="{e(name)}" alt="{e(caption)}"><figcaption>{e(caption)}</figcaption></figure>')
        for caption, columns, rows in s.tables:
            parts.append(f"<table><caption>{e(caption)}</caption><tr>" + "".join(f"<th>{e(str(c))}</th>" for c in columns)
                         + "</tr>")
            for row in rows:
                parts.append("<tr>" + "".join(f"<td>{e(str(x))}</td>" for x in row) + "</tr>")
            parts.append("</table>")
        parts.append(f"<p><small>{s.seconds:.1f} s</small></p>")
    parts.append("</body></html>")
    return "\n".join(parts)


def _json_ready(x):
    if isinstance(x, dict):
        return {str(k): _json_ready(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_json_ready(v) for v in x]
    if isinstance(x, (np.floating, np.integer)):
        return x.item()
    if isinstance(x, np.ndarray):
        return x.tolist()
    return x


def _write(path: str, text: str) -> None:
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.replace(tmp, path)


def report(out: str = "landscope-report", *, quick: bool = False, seed: int = 0, sections=None,
           progress: Optional[bool] = None, echo: Optional[Callable[[str], None]] = None,
           data: Optional[OwnData] = None, client=None) -> Report:
    """Runs the report's sections and writes ``out/index.html``, ``out/report.json`` and the
    figures and raw results beside them. ``quick`` uses smaller problems; ``sections`` a subset
    of :data:`SECTIONS` (default all); ``echo`` receives one summary line per section (the CLI
    prints them, above the progress bar). ``data`` (an :class:`OwnData`) runs the section on your
    own model and data instead. ``progress``: a progress bar on stderr over the sections, named
    after the one running (None: only when stderr is a terminal; True: also elsewhere, as whole
    lines every few seconds; False: never). ``client`` (a ``dask.distributed.Client``, a scheduler
    address or a ``concurrent.futures.Executor``) runs the sweeps of the width study (``wide``)
    and of the optimizers (``practice``) there, one task per width or optimizer. Every run with
    the same arguments computes the same numbers, on a cluster too (the engine's results do not
    depend on the thread count)."""
    seed = val.integer("seed", seed, 0, 2**32 - 1)
    keys = list(SECTIONS) if sections is None else list(sections)
    if data is not None:
        if sections is not None:
            raise ValueError("sections: give sections or data, not both")
        keys = ["data"]
    for k in keys:
        if k not in SECTIONS and not (k == "data" and data is not None):
            raise ValueError(f"sections: unknown section {k!r}, expected some of {tuple(SECTIONS)}")
    _pyplot()
    folder = os.fspath(out)
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as e:
        raise ValueError(f"out: cannot create the folder {folder!r} ({e.strerror})") from None
    ctx = _Context(folder, bool(quick), seed, data, client)
    runs = [SECTIONS[k] if k != "data" else ("Your data", _own_data) for k in keys]
    bar = _progress.bar(runs[0][0] if runs else "report", len(runs), progress=progress, unit="sections",
                        rate=False, tick=True)
    start = time.perf_counter()
    done = []
    try:
        for title, fn in runs:
            bar.set_description_str(title)
            t0 = time.perf_counter()
            s = fn(ctx)
            s.seconds = time.perf_counter() - t0
            done.append(s)
            if echo is not None:
                ok = "all hold" if s.ok else "NOT ALL HOLD"
                with _progress.above():
                    echo(f"{s.title}: {ok}; " + "; ".join(f"{v.claim}: {'yes' if v.ok else 'no'}"
                                                           + (f" ({v.detail})" if v.detail else "")
                                                           for v in s.verdicts))
            bar.update(1)
        bar.set_description_str("report")
    finally:
        bar.close()
    seconds = time.perf_counter() - start
    data = {"version": _core.__version__, "seed": seed, "quick": bool(quick), "seconds": seconds,
            "sections": {s.key: {"title": s.title, "ok": s.ok, "seconds": s.seconds, "numbers": s.numbers,
                                 "verdicts": [{"claim": v.claim, "ok": v.ok, "detail": v.detail} for v in s.verdicts],
                                 "figures": [name for name, _ in s.figures]} for s in done}}
    _write(os.path.join(folder, "report.json"), json.dumps(_json_ready(data), indent=1, allow_nan=True))
    _write(os.path.join(folder, "index.html"), _html(done, bool(quick), seed, seconds))
    return Report(folder=folder, sections=done)
