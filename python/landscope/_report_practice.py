"""Report sections on the geometry seen in practice: the edge of stability (:func:`edge_of_stability`),
the landscape between and around solutions (:func:`landscape`) and optimizers, schedules and
averaging (:func:`practice`).

Each function takes the report's context (``landscope.report._Context``: ``quick``, ``seed``,
``save``, ``raw``) and returns a ``landscope.report.Section``. The experiments are small, seeded
and deterministic; the models are tiny, so they run on one thread (the caller's thread setting is
restored afterwards).
"""
from __future__ import annotations

import functools
import importlib.util

import numpy as np

from . import landscape as _L
from . import optim, schedules
from . import report as _report  # Section, Verdict, _pyplot; looked up at call time (no import cycle)
from ._sweep import sweep
from .models import MLP
from .training import train

__all__ = ["edge_of_stability", "landscape", "practice"]


def _f(x) -> float:
    return float(x)


# ------------------------------------------------------------------------- edge of stability

def edge_of_stability(ctx) -> "_report.Section":
    """Full-batch GD on a tanh MLP fitting random targets, at steps η = 2/(c λ_0): the sharpness
    rises to 2/η (progressive sharpening) and stays near it (edge of stability) while the loss
    falls non-monotonically and consecutive gradients turn against each other."""
    Section, Verdict, plt = _report.Section, _report.Verdict, _report._pyplot()
    rng = np.random.default_rng(ctx.seed + 5)
    n, d, width = 64, 8, 64
    steps = 1500 if ctx.quick else 3000
    factors = (2.0, 1.5) if ctx.quick else (3.0, 2.0, 1.5)  # 2/η = c·λ_0
    every = 5  # sharpness every 5 steps; loss and grad_cosine every step
    X, y = rng.standard_normal((n, d)), rng.standard_normal(n)
    net = MLP(X, y, [width, width], activation="tanh", parameterization="standard", reduction="mean")
    w0 = net.init(seed=ctx.seed)
    reach, band, transient = 0.85, 0.10, 10
    runs, rows = [], []
    ok = {"rise": True, "band": True, "loss": True, "cosine": True}
    det = {k: [] for k in ok}
    lam0 = _f(train(net, w0, optim.GD(0.0), 0, record_every=1, record=("sharpness",),
                    progress=False).sharpness[0])
    for c in factors:
        eta = 2.0 / (c * lam0)
        edge = 2.0 / eta
        traj = train(net, w0, optim.GD(eta), steps, record_every=1,
                     record={"sharpness": every, "grad_cosine": 1}, progress=False)
        step, loss, cos = traj["step"], traj.loss, traj.grad_cosine
        has = np.isfinite(traj.sharpness)
        st, rel = step[has], traj.sharpness[has] / edge  # λ_max/(2/η) where recorded
        hit = np.flatnonzero(rel >= reach)
        t_reach = int(st[hit[0]]) if hit.size else None
        late = st >= (2 * steps) // 3
        lo, hi = _f(rel[late].min()), _f(rel[late].max())
        increases = int(np.sum(np.diff(loss) > 0))
        fall = _f(loss[0] / loss[-1])
        after = cos[step >= t_reach] if t_reach is not None else np.array([np.nan])
        before = cos[(step >= transient) & (step < t_reach)] if t_reach is not None else np.array([])
        min_after = _f(np.nanmin(after)) if np.any(np.isfinite(after)) else float("nan")
        min_before = _f(np.nanmin(before)) if before.size else float("nan")
        neg_late = _f(np.mean(cos[step >= (2 * steps) // 3] < 0))
        r = dict(c=c, eta=eta, edge=edge, lambda0=lam0, reach_step=t_reach, peak=_f(np.max(rel)),
                 late_min=lo, late_max=hi, loss0=_f(loss[0]), loss_T=_f(loss[-1]), fall=fall,
                 increases=increases, min_cos_after=min_after, min_cos_before=min_before,
                 neg_cos_fraction_late=neg_late, status=traj.status)
        runs.append((r, step, loss, cos, st, rel * edge))
        ok["rise"] &= t_reach is not None
        det["rise"].append(f"η = {eta:.4g}: λ_0·η/2 = {lam0 / edge:.3f} → {reach}·2/η at step {t_reach}")
        ok["band"] &= (1 - band) <= lo and hi <= (1 + band)
        det["band"].append(f"η = {eta:.4g}: [{lo:.3f}, {hi:.3f}]·2/η")
        ok["loss"] &= fall >= 10 and increases > 0 and traj.status == "budget"
        det["loss"].append(f"η = {eta:.4g}: {fall:.3g}× lower, {increases} increases")
        ok["cosine"] &= (min_after <= -0.5) and not (before.size and min_before <= 0)
        det["cosine"].append(f"η = {eta:.4g}: min {min_after:.2f} after step {t_reach}, "
                             f"min {min_before:.2f} on steps {transient}…{t_reach}")
        rows.append([f"{eta:.4g}", f"{edge:.4g}", t_reach, f"{r['peak']:.3f}", f"[{lo:.3f}, {hi:.3f}]",
                     f"{loss[0]:.3g}", f"{loss[-1]:.3e}", increases, f"{min_after:.2f}", f"{neg_late:.2f}"])
    neg_txt = ", ".join(f"{r['neg_cos_fraction_late']:.0%}" for r, *_ in runs)
    s = Section("eos", "Edge of stability and progressive sharpening",
                f"Full-batch GD on a tanh MLP [{width}, {width}] (standard parameterization, mean square loss) "
                f"fitting {n} random targets in d = {d}, for {steps} steps at η = 2/(c·λ_0), c ∈ "
                f"{{{', '.join(f'{c:g}' for c in factors)}}}, where λ_0 = {lam0:.4g} is the sharpness λ_max(H) at "
                f"the start. Stability of GD on a quadratic needs λ_max < 2/η; here the sharpness rises until it "
                f"reaches 2/η (progressive sharpening), overshoots it (by up to {max(r['peak'] for r, *_ in runs):.2f}× "
                f"2/η) while the loss spikes, and comes back to it (the edge of stability); the loss keeps falling, "
                f"not monotonically. While the sharpness is above 2/η, consecutive gradients point against each "
                f"other (GD bounces across the top eigendirection): their cosine, recorded every step, goes to −1. "
                f"Over the last third of the runs the sharpness lies between "
                f"{min(r['late_min'] for r, *_ in runs):.3f} and {max(r['late_max'] for r, *_ in runs):.3f} times 2/η, "
                f"and the gradient cosine is negative at {neg_txt} (per η) "
                f"of the steps (0% means GD has settled just below 2/η and converges there). The sharpness is "
                f"computed every {every} steps by Lanczos.")
    s.verdicts += [
        Verdict(f"for each η, λ_max rises from λ_0 to within {1 - reach:.0%} of 2/η", ok["rise"],
                "; ".join(det["rise"])),
        Verdict(f"for each η, λ_max stays within ±{band:.0%} of 2/η over the last third of the run", ok["band"],
                "; ".join(det["band"])),
        Verdict("the loss falls ≥ 10× over the run, not monotonically (steps where it rises)", ok["loss"],
                "; ".join(det["loss"])),
        Verdict(f"the cosine between consecutive gradients reaches ≤ −0.5 once λ_max ≥ {reach}·2/η, and stays > 0 "
                f"before that (after a {transient}-step start)", ok["cosine"], "; ".join(det["cosine"])),
    ]
    s.tables.append(("One run per step size (λ_max relative to 2/η; the band is over the last third)",
                     ["η", "2/η", f"first step λ ≥ {reach}·2/η", "peak λ/(2/η)", "late band λ/(2/η)", "L_0", "L_T",
                      "loss increases", "min cos after", "cos < 0, last third"], rows))
    fig, (a, b, c_) = plt.subplots(1, 3, figsize=(14, 3.8), layout="constrained")
    for i, (r, step, loss, cos, st, lam) in enumerate(runs):
        col = f"C{i}"
        a.plot(st, lam, color=col, lw=1, label=f"η = {r['eta']:.3g}")
        a.axhline(r["edge"], color=col, ls="--", lw=0.8)
        b.semilogy(step, loss, color=col, lw=0.8, label=f"η = {r['eta']:.3g}")
        c_.plot(step, cos, color=col, lw=0.5, alpha=0.8, label=f"η = {r['eta']:.3g}")
    a.set_xlabel("step")
    a.set_ylabel("λ_max(H)")
    a.set_title("sharpness (dashed: 2/η)")
    a.legend(fontsize=8)
    b.set_xlabel("step")
    b.set_ylabel("loss")
    b.set_title("loss")
    b.legend(fontsize=8)
    c_.set_xlabel("step")
    c_.set_ylabel("cos(∇L_t, ∇L_{t−1})")
    c_.set_title("consecutive gradients")
    c_.set_ylim(-1.05, 1.05)
    c_.legend(fontsize=8, loc="lower left")
    s.figures.append((ctx.save(fig, "eos.png"), "GD at three step sizes: sharpness against 2/η, loss, gradient cosine."
                      if len(runs) == 3 else "GD at two step sizes: sharpness against 2/η, loss, gradient cosine."))
    s.numbers = dict(n=n, d=d, width=width, steps=steps, sharpness_every=every, lambda0=lam0, reach=reach, band=band,
                     runs=[r for r, *_ in runs])
    raw = {}
    for i, (r, step, loss, cos, st, lam) in enumerate(runs):
        raw.update({f"eta{i}": np.array(r["eta"]), f"step{i}": step, f"loss{i}": loss, f"grad_cosine{i}": cos,
                    f"sharpness_step{i}": st, f"sharpness{i}": lam})
    ctx.raw("eos", **raw)
    return s


# ------------------------------------------------------------------------------- landscape

def landscape(ctx) -> "_report.Section":
    """A tanh MLP trained from two seeds: the loss on the plane of the first run's iterates, the
    linear path and a trained Bezier curve between the two solutions, before and after aligning
    the second one's hidden units to the first."""
    Section, Verdict, plt = _report.Section, _report.Verdict, _report._pyplot()
    from . import plot

    rng = np.random.default_rng(ctx.seed + 7)
    n, d = 64, 4
    width = 32 if ctx.quick else 64
    steps = 500 if ctx.quick else 1000
    curve_steps = 300 if ctx.quick else 500
    grid = 31 if ctx.quick else 61
    num = 41 if ctx.quick else 61
    X = rng.standard_normal((n, d))
    y = np.sin(X @ rng.standard_normal(d))
    net = MLP(X, y, [width], activation="tanh")
    have_scipy = importlib.util.find_spec("scipy") is not None  # align's linear assignment
    ta = train(net, net.init(seed=2 * ctx.seed), optim.Adam(lr=2e-2), steps, record_every=10, record=("params",),
               progress=False)
    tb = train(net, net.init(seed=2 * ctx.seed + 1), optim.Adam(lr=2e-2), steps, progress=False)
    wa, wb = ta.w, tb.w
    # (a) the plane of the first run
    D, ratio = _L.pca_directions(ta, k=2)
    coords, off = _L.project(ta, wa, D)
    (x0, y0), (x1, y1) = coords.min(axis=0), coords.max(axis=0)
    mx, my = 0.15 * (x1 - x0), 0.3 * max(y1 - y0, 0.1 * (x1 - x0))
    xs, ys = np.linspace(x0 - mx, x1 + mx, grid), np.linspace(y0 - my, y1 + my, grid)
    surf = _L.surface(net, wa, D, xs, ys, progress=False)
    Z = surf["loss"]
    pts = [(0, 0), (grid - 1, grid - 1), (grid // 2, grid // 3), (grid // 4, (3 * grid) // 4)]
    direct = np.array([net.loss(wa + xs[j] * D[:, 0] + ys[i] * D[:, 1]) for i, j in pts])
    err = _f(np.max(np.abs(np.array([Z[i, j] for i, j in pts]) - direct) / np.maximum(np.abs(direct), 1e-300)))
    # (b) paths between the two solutions
    lin = _L.interpolate(net, wa, wb, num=num)
    cur = _L.connect(net, wa, wb, kind="bezier", steps=curve_steps, seed=ctx.seed, progress=False)
    cp = cur.evaluate(num=num)
    if have_scipy:
        wb2 = _L.align(net, wa, wb)
        out_b = net.outputs(wb)
        dout = _f(np.max(np.abs(net.outputs(wb2) - out_b)) / np.max(np.abs(out_b)))
        moved = _f(np.linalg.norm(wb2 - wb) / np.linalg.norm(wb))
        lin2 = _L.interpolate(net, wa, wb2, num=num)
        cur2 = _L.connect(net, wa, wb2, kind="bezier", steps=curve_steps, seed=ctx.seed, progress=False)
        cp2 = cur2.evaluate(num=num)
    La, Lb = _f(net.loss(wa)), _f(net.loss(wb))
    paths = {"linear": lin, "bezier": cp}
    if have_scipy:
        paths.update({"linear aligned": lin2, "bezier aligned": cp2})
    summary = {k: dict(barrier=_f(p.barrier), barrier_t=_f(p.barrier_t), max_loss=_f(np.max(p["loss"])))
               for k, p in paths.items()}
    s = Section("landscape", "Landscape",
                f"A tanh MLP with one hidden layer of {width} units (NTK parameterization, square loss) fitted to "
                f"y = sin(vᵀx) on {n} points in d = {d}, trained with Adam (lr 0.02, {steps} steps) from two seeds "
                f"(final losses {La:.3g} and {Lb:.3g}). Left: the loss on the plane of the first run's principal "
                f"directions (PC1 and PC2 explain {ratio[0]:.1%} and {ratio[1]:.1%} of the iterates' variance around "
                f"the solution), with the run projected on it; the iterates leave the plane by at most "
                f"{off.max():.3g} (in ‖w‖ units: {off.max() / np.linalg.norm(wa):.2%} of ‖w‖). Middle and right: "
                f"the loss along the straight line between the two solutions and along a quadratic Bezier curve "
                f"whose bend is trained ({curve_steps} Adam steps, 4 points per step) to lower the expected loss "
                f"along it (Garipov et al. 2018), first between the solutions as trained, then after permuting the "
                f"second one's hidden units to match the first (weight matching, Ainsworth et al. 2023), which "
                f"leaves its function unchanged."
                + ("" if have_scipy else " scipy is not installed, so the aligned paths (which need "
                   "scipy.optimize.linear_sum_assignment) are skipped: pip install 'landscope[landscape]'."))
    s.verdicts.append(Verdict("the surface equals model.loss at grid points to 1e-12 (relative)", err <= 1e-12,
                              f"largest relative difference {err:.2e} at {len(pts)} points"))
    s.verdicts.append(Verdict("the Bezier curve's largest loss is below the linear path's", 
                              summary["bezier"]["max_loss"] < summary["linear"]["max_loss"],
                              f"{summary['bezier']['max_loss']:.4g} against {summary['linear']['max_loss']:.4g}"))
    if have_scipy:
        s.verdicts += [
            Verdict("align leaves the function unchanged (max |Δ output| ≤ 1e-12·max |output|)", dout <= 1e-12,
                    f"max |Δ output|/max |output| = {dout:.2e}; the weights moved by {moved:.3g}·‖w_b‖"),
            Verdict("the linear barrier is lower after align", lin2.barrier < lin.barrier,
                    f"{lin2.barrier:.4g} after, {lin.barrier:.4g} before"),
            Verdict("after align too, the Bezier curve's largest loss is below the linear path's",
                    summary["bezier aligned"]["max_loss"] < summary["linear aligned"]["max_loss"],
                    f"{summary['bezier aligned']['max_loss']:.4g} against {summary['linear aligned']['max_loss']:.4g}"),
        ]
    s.tables.append(("Paths between the two solutions (barrier: largest excess over the chord between the "
                     "endpoint losses)", ["path", "barrier", "at t", "largest loss"],
                     [[k, f"{v['barrier']:.4g}", f"{v['barrier_t']:.3g}", f"{v['max_loss']:.4g}"]
                      for k, v in summary.items()]))
    s.tables.append(("The plane of the run", ["PC1 variance", "PC2 variance", "grid", "loss at the solution",
                                              "loss range on the grid", "largest distance off the plane"],
                     [[f"{ratio[0]:.4f}", f"{ratio[1]:.4f}", f"{grid}×{grid}", f"{La:.4g}",
                       f"{Z.min():.3g} … {Z.max():.3g}", f"{off.max():.3g}"]]))
    fig, (a, b, c_) = plt.subplots(1, 3, figsize=(15, 4.2), layout="constrained")
    plot.surface(surf, log=True, trajectory=coords, ax=a)
    a.set_title("loss on the plane of run A (log)")
    for ax, (l_key, c_key), title in ((b, ("linear", "bezier"), "as trained"),
                                      (c_, ("linear aligned", "bezier aligned"), "after align")):
        if l_key not in paths:
            ax.text(0.5, 0.5, "align needs scipy:\nskipped", ha="center", va="center", transform=ax.transAxes)
            ax.set_axis_off()
            continue
        for key, col in ((l_key, "C0"), (c_key, "C1")):
            p = paths[key]
            ax.semilogy(p.t, p["loss"], color=col, label=f"{key.split()[0]} (max {np.max(p['loss']):.3g})")
        ax.set_xlabel("t (A at 0, B at 1)")
        ax.set_ylabel("loss")
        ax.set_title(f"paths between the solutions, {title}")
        ax.legend(fontsize=8)
    s.figures.append((ctx.save(fig, "landscape.png"),
                      "The loss on the plane of a training run, and paths between two solutions."))
    s.numbers = dict(n=n, d=d, width=width, steps=steps, curve_steps=curve_steps, grid=grid, num=num,
                     loss_a=La, loss_b=Lb, explained_variance=[_f(r) for r in ratio], off_plane_max=_f(off.max()),
                     surface_min=_f(Z.min()), surface_max=_f(Z.max()), surface_max_rel_error=err,
                     paths=summary, scipy=have_scipy)
    if have_scipy:
        s.numbers.update(align_output_change=dout, align_weight_change=moved)
    raw = dict(x=xs, y=ys, loss=Z, coords=coords, off_plane=off, explained_variance=ratio)
    for k, p in paths.items():
        raw[f"t_{k.replace(' ', '_')}"] = p.t
        raw[f"loss_{k.replace(' ', '_')}"] = p["loss"]
    ctx.raw("landscape", **raw)
    return s


# -------------------------------------------------------------------------------- practice

def _schedules(total: int) -> dict:
    """The seven built-in schedules over ``total`` steps, with typical settings."""
    return {
        "constant": schedules.constant(),
        "step_decay": schedules.step_decay(total // 4, 0.5),
        "cosine": schedules.cosine(total),
        "warmup_cosine": schedules.warmup_cosine(total // 10, total),
        "wsd": schedules.wsd(total, warmup=0.1, decay=0.2),
        "one_cycle": schedules.one_cycle(total),
        "inverse_sqrt": schedules.inverse_sqrt(total // 10),
    }


def _practice_run(name: str, optimizer, net, w0, steps: int, schedule, ema: float, swa: tuple, measures: tuple,
                  radius: float, seed: int) -> dict:
    """One optimizer of the practice section (a task of its sweep): the run with EMA and SWA,
    the losses of the iterate and its averages, and flatness at the iterate."""
    traj = train(net, w0, optimizer, steps, schedule=schedule, ema=ema, swa=swa, record_every=10, progress=False)
    rec = np.isfinite(traj["lr"])
    want = optimizer.lr * schedule(traj["step"][rec])
    fl = _L.flatness(net, traj.w, measures, radius=radius, seed=seed, progress=False)
    return dict(
        status=traj.status, loss=_f(net.loss(traj.w)), loss_ema=_f(net.loss(traj.ema)),
        loss_swa=_f(net.loss(traj.swa)), swa_count=int(traj.swa_count), lr=_f(optimizer.lr),
        distance=_f(np.linalg.norm(traj.w - w0)),
        **{m: _f(fl[m]) for m in measures}, trace_error=_f(fl.errors["trace"]),
        average_sharpness_error=_f(fl.errors["average_sharpness"]),
        lr_error=_f(np.max(np.abs(traj["lr"][rec] - want) / optimizer.lr)), step=traj["step"], loss_curve=traj.loss)


def practice(ctx) -> "_report.Section":
    """Learning-rate schedules, and five optimizers with EMA and SWA averaging on one small MLP
    problem: final losses of the iterate and its averages, and flatness at the iterate."""
    Section, Verdict, plt = _report.Section, _report.Verdict, _report._pyplot()
    rng = np.random.default_rng(ctx.seed + 11)
    n, d = 128, 8
    width = 32 if ctx.quick else 64
    steps = 1000 if ctx.quick else 3000
    X = rng.standard_normal((n, d))
    y = np.sin(2 * X @ rng.standard_normal(d) / np.sqrt(d))
    net = MLP(X, y, [width], activation="tanh", reduction="mean")
    w0 = net.init(seed=ctx.seed)
    ema, swa = 0.99, ((3 * steps) // 4, 10)
    warmup = steps // 20
    sched = schedules.warmup_cosine(warmup, steps)
    opts = {
        "GD": optim.GD(2.0),
        "SGD (batch 16)": optim.SGD(2.0, batch_size=16, seed=ctx.seed + 1),
        "Momentum (β = 0.9)": optim.Momentum(0.2, beta=0.9),
        "Adam": optim.Adam(1e-2),
        "SAM (ρ = 0.05)": optim.SAM(2.0, rho=0.05),
    }
    radius = 0.05
    measures = ("lambda_max", "trace", "sam_sharpness", "average_sharpness")
    # (a) the schedules
    grid = np.arange(1000)
    curves = {k: sch(grid) for k, sch in _schedules(len(grid)).items()}
    sched_ok = all(np.all(np.isfinite(v)) and np.all(v >= 0) and np.all(v <= 1 + 1e-12) for v in curves.values())
    # (b) the optimizers: one sweep, in this process or on the report's Dask client
    study = sweep(functools.partial(_practice_run, net=net, w0=w0, steps=steps, schedule=sched, ema=ema, swa=swa,
                                    measures=measures, radius=radius, seed=ctx.seed),
                  [{"name": name, "optimizer": opt} for name, opt in opts.items()], client=ctx.client, retries=0,
                  progress=False)
    if not study.ok:
        e = study.errors[study.failed[0]]
        raise RuntimeError(f"practice: the run of {study.configs[study.failed[0]]['name']} failed: "
                           f"{e['type']}: {e['message']}")
    results, runs = {}, {}
    lr_err = 0.0
    for name, r in zip(opts, study.values):
        r = dict(r)
        runs[name] = (r.pop("step"), r.pop("loss_curve"))
        lr_err = max(lr_err, r.pop("lr_error"))
        results[name] = r
    finite = all(np.isfinite([r[k] for k in ("loss", "loss_ema", "loss_swa")]).all() for r in results.values())
    flat_finite = all(np.isfinite([r[m] for m in measures]).all() for r in results.values())
    budget = all(r["status"] == "budget" for r in results.values())
    swa_n = {r["swa_count"] for r in results.values()}
    want_swa = len(range(swa[0], steps + 1, swa[1]))
    best = min(results, key=lambda k: results[k]["loss"])
    ema_wins = sum(r["loss_ema"] < r["loss"] for r in results.values())
    swa_wins = sum(r["loss_swa"] < r["loss"] for r in results.values())
    gap = max(abs(r[k] - r["loss"]) / r["loss"] for r in results.values() for k in ("loss_ema", "loss_swa"))
    s = Section("practice", "Practice",
                f"Left: the seven learning-rate schedules of landscope.schedules over 1000 steps (multipliers of "
                f"the optimizer's lr). Middle and right: five optimizers on one problem, a tanh MLP with {width} "
                f"hidden units (NTK parameterization, mean square loss) fitted to y = sin(2vᵀx/√d) on {n} points in "
                f"d = {d}, from the same start for {steps} steps with a linear warmup ({warmup} steps) and cosine "
                f"decay, with an EMA of the iterates (decay {ema}) and an SWA average (every {swa[1]} steps from "
                f"step {swa[0]}). The table gives the full-batch loss at the last iterate, at the EMA and at the SWA "
                f"average, and flatness measures at the last iterate (λ_max by Lanczos, tr H by Hutch++, the "
                f"SAM sharpness max over ‖e‖ ≤ {radius} of L(w + e) − L(w) found by ascent, and the average "
                f"sharpness E L(w + {radius} z) − L(w)). These are measurements of one small problem and one "
                f"setting per optimizer, not a ranking: here the lowest final loss is {best}'s "
                f"({results[best]['loss']:.3g}). The EMA has a lower loss than the iterate in {ema_wins} of "
                f"{len(results)} runs and SWA in {swa_wins}; the largest relative gap between an average's loss "
                f"and the iterate's is {gap:.2%} (at the end of a decayed schedule the iterate has nearly stopped).")
    s.verdicts += [
        Verdict("the schedules are finite multipliers in [0, 1]", sched_ok,
                ", ".join(f"{k} {v.min():.3g}…{v.max():.3g}" for k, v in curves.items())),
        Verdict("the training loop applied lr·s(t) of the schedule at every recorded step", lr_err <= 1e-12,
                f"largest |lr_t − lr·s(t)|/lr = {lr_err:.1e}"),
        Verdict("every run used its whole budget without diverging", budget,
                ", ".join(f"{k}: {r['status']}" for k, r in results.items())),
        Verdict("the iterate, EMA and SWA losses are finite, and SWA averaged the scheduled iterates",
                finite and swa_n == {want_swa},
                f"SWA counts {sorted(swa_n)} (expected {want_swa}); largest loss "
                f"{max(max(r['loss'], r['loss_ema'], r['loss_swa']) for r in results.values()):.3g}"),
        Verdict("the flatness measures are finite", flat_finite,
                f"{len(results)} runs × {len(measures)} measures"),
    ]
    s.tables.append(("Five optimizers, one budget (loss at the iterate and its averages; flatness at the iterate, "
                     f"radius {radius})",
                     ["optimizer", "lr", "loss", "EMA loss", "SWA loss", "λ_max", "tr H", "SAM sharpness",
                      "average sharpness", "‖w_T − w_0‖"],
                     [[k, f"{r['lr']:g}", f"{r['loss']:.4g}", f"{r['loss_ema']:.4g}", f"{r['loss_swa']:.4g}",
                       f"{r['lambda_max']:.4g}", f"{r['trace']:.4g} ± {r['trace_error']:.2g}",
                       f"{r['sam_sharpness']:.4g}",
                       f"{r['average_sharpness']:.4g} ± {r['average_sharpness_error']:.2g}", f"{r['distance']:.4g}"]
                      for k, r in results.items()]))
    fig, (a, b, c_) = plt.subplots(1, 3, figsize=(15, 4.0), layout="constrained")
    for i, (k, v) in enumerate(curves.items()):
        a.plot(grid, v, color=f"C{i}", lw=1.2, label=k)
    a.set_xlabel("step")
    a.set_ylabel("lr multiplier s(t)")
    a.set_title("schedules")
    a.legend(fontsize=7)
    for i, (k, (st, loss)) in enumerate(runs.items()):
        b.semilogy(st, loss, color=f"C{i}", lw=1, label=k)
    b.set_xlabel("step")
    b.set_ylabel("full-batch loss")
    b.set_title("training (warmup + cosine)")
    b.legend(fontsize=7)
    names = list(results)
    xpos = np.arange(len(names))
    for j, (key, lab) in enumerate((("loss", "iterate"), ("loss_ema", "EMA"), ("loss_swa", "SWA"))):
        c_.bar(xpos + (j - 1) * 0.27, [results[k][key] for k in names], width=0.27, label=lab, color=f"C{j}")
    c_.set_yscale("log")
    c_.set_xticks(xpos, [k.split(" ")[0] for k in names])
    c_.set_xlabel("optimizer")
    c_.set_ylabel("final loss")
    c_.set_title("final loss of the iterate and its averages")
    c_.legend(fontsize=7)
    s.figures.append((ctx.save(fig, "practice.png"), "Schedules; five optimizers with EMA and SWA."))
    s.numbers = dict(n=n, d=d, width=width, steps=steps, warmup=warmup, ema=ema, swa_start=swa[0], swa_every=swa[1],
                     radius=radius, lr_error=lr_err, optimizers=results, ema_wins=ema_wins, swa_wins=swa_wins,
                     largest_average_gap=gap,
                     schedules={k: dict(min=_f(v.min()), max=_f(v.max()), final=_f(v[-1])) for k, v in curves.items()})
    raw = {f"schedule_{k}": v for k, v in curves.items()}
    for i, (k, (st, loss)) in enumerate(runs.items()):
        raw[f"step{i}"], raw[f"loss{i}"] = st, loss
    ctx.raw("practice", optimizers=np.array(names), **raw)
    return s
