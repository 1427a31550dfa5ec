"""Figures of landscope's results (needs matplotlib: ``pip install 'landscope[plot]'``).

Every function takes a result object, draws it on a new figure (or on the ``ax`` given), and
returns the :class:`matplotlib.figure.Figure`; none calls ``show()``.

- :func:`trajectory`: the columns of a :class:`~landscope.training.Trajectory` against the
  step, one panel each, with 2/η beside the sharpness and an optional bound beside the loss;
- :func:`surface`: a 1-D or 2-D :class:`~landscope.landscape.Surface` as a contour plot, a
  heatmap or a 3-D surface, with a projected training trajectory on it;
- :func:`path`: a :class:`~landscope.landscape.Path` (or a trained
  :class:`~landscope.landscape.Curve`) against t, its chord and its barrier;
- :func:`spectrum`: a :class:`~landscope.spectra.SpectralDensity` with a ± standard-error band
  across probes, an :class:`~landscope.spectra.EigshResult`, or a histogram of eigenvalues;
- :func:`width_study`: a log–log plot of a quantity against the width, with the fitted slope.

``Trajectory.plot``, ``Surface.plot``, ``Path.plot`` and ``Curve.plot`` call these.
matplotlib is imported when a function is first called, never by ``import landscope``.

>>> from landscope import plot
>>> fig = plot.trajectory(traj, columns=("loss", "sharpness"))
>>> fig.savefig("run.png", dpi=150)
"""
from __future__ import annotations

import math
from typing import Callable, Optional, Sequence, Union

import numpy as np

__all__ = ["trajectory", "surface", "path", "spectrum", "width_study", "DEFAULT_COLUMNS"]

#: The columns :func:`trajectory` draws by default (those of them the run has).
DEFAULT_COLUMNS = ("loss", "grad_norm", "sharpness", "kernel_min", "kernel_drift", "grad_cosine", "pl")

_LABELS = {
    "loss": "loss L",
    "grad_norm": "‖∇L‖",
    "pl": "PL ratio ‖∇L‖²/(2(L − L*))",
    "lr": "learning rate η",
    "distance": "‖w − w₀‖",
    "sharpness": "sharpness λ_max(H)",
    "kernel_min": "λ_min(K)",
    "kernel_drift": "‖K − K₀‖_F / ‖K₀‖_F",
    "hessian_norm": "‖H‖_F",
    "grad_cosine": "cos(∇L_t, ∇L_prev)",
    "balancedness": "balancedness",
    "accuracy": "accuracy",
    "min_eig": "λ_min(H)",
}
_CMAP = "viridis"


def _mpl():
    """matplotlib.pyplot, or an ImportError saying how to install it."""
    try:
        import matplotlib
        import matplotlib.pyplot as plt
    except ImportError as e:
        raise ImportError("landscope.plot needs matplotlib (>= 3.5): pip install 'landscope[plot]'") from e
    return matplotlib, plt


def _root(fig):
    """The top-level Figure of an Axes' (sub)figure."""
    while getattr(fig, "figure", None) is not None and fig.figure is not fig:
        fig = fig.figure
    return fig


def _new_axes(ax, plt, projection=None, figsize=(5.2, 4.0)):
    if ax is None:
        fig = plt.figure(figsize=figsize, layout="constrained")
        ax = fig.add_subplot(projection=projection)
    return ax, _root(ax.figure)


def _minus(s: str) -> str:
    return s.replace("-", "−")


def _spans_decades(v: np.ndarray, decades: float = 2.0) -> bool:
    v = v[np.isfinite(v)]
    return v.size > 1 and bool((v > 0).all()) and v.max() / v.min() > 10.0 ** decades


def _note(ax, text: str) -> None:
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center", color="0.45", fontsize="small")


# ------------------------------------------------------------------------------ trajectories

def _bound_values(bound, steps: np.ndarray, dense: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) of a bound: an array or scalar per recorded row, or a callable of the step
    (evaluated on a dense grid of steps, as an array; per step if that fails)."""
    if callable(bound):
        try:
            b = np.asarray(bound(dense), dtype=np.float64)
            b = np.broadcast_to(b, dense.shape)
        except (TypeError, ValueError):
            b = np.array([float(bound(int(s))) for s in dense])
        return dense.astype(np.float64), np.array(b, dtype=np.float64)
    b = np.asarray(bound, dtype=np.float64)
    try:
        b = np.broadcast_to(b, steps.shape)
    except ValueError:
        raise ValueError(f"bound: expected a scalar, one value per recorded row ({steps.size}) or a callable "
                         f"of the step, got shape {b.shape}") from None
    return steps.astype(np.float64), np.array(b)


def trajectory(traj, columns: Optional[Sequence[str]] = None, bound: Union[None, np.ndarray, Callable] = None,
               ax=None):
    """The columns of a :class:`~landscope.training.Trajectory` against the step.

    ``columns``: the columns to draw, one panel each (default: ``loss``, ``grad_norm`` and
    whichever of ``sharpness``, ``kernel_min``, ``kernel_drift``, ``grad_cosine``, ``pl`` the
    run has). A panel uses a log y-scale when its column is positive and spans more than two
    decades. Rows where a diagnostic was not computed (NaN) are skipped, so a column recorded
    every few rows is one connected line; a column with no value at all gets an empty panel
    that says so.

    The ``sharpness`` panel shows 2/η, with η the rate each row's update used (``traj.lr``,
    schedule included), as a dashed line: the stability threshold of gradient descent.

    ``bound``: a bound on the loss, as :func:`landscope.theory.check` takes it (one value per
    row, a scalar, or a callable of the step, evaluated on every step of the run), drawn in the
    loss panel. When the run has a nonzero L* (``loss_star``), the loss panel shows the gap
    L − L* and the bound minus L*.

    ``ax``: an Axes (one column), a sequence of Axes (one per column) or a Figure to fill;
    by default a new figure. Returns the Figure.
    """
    _, plt = _mpl()
    cols = traj.columns
    if columns is None:
        columns = [c for c in DEFAULT_COLUMNS if c in cols]
    elif isinstance(columns, str):
        columns = [columns]
    columns = list(columns)
    unknown = [c for c in columns if c not in cols]
    if unknown:
        raise ValueError(f"columns: {unknown} not in the trajectory (it has {tuple(cols)})")
    if not columns:
        raise ValueError("columns: nothing to draw")

    n = len(columns)
    if ax is None or hasattr(ax, "add_subplot"):
        ncols = 1 if n == 1 else 2 if n in (2, 4) else min(n, 3)
        nrows = math.ceil(n / ncols)
        fig = ax if ax is not None else plt.figure(figsize=(4.3 * ncols, 3.0 * nrows + 0.3), layout="constrained")
        axes = fig.subplots(nrows, ncols, sharex=True, squeeze=False).ravel()
        for a in axes[n:]:
            a.remove()
        axes = list(axes[:n])
        bottom = axes[max(0, n - ncols):]   # the lowest panel of each column
        for a in bottom:
            a.xaxis.set_tick_params(labelbottom=True)
            a.set_xlabel("step")
    else:
        axes = [ax] if not isinstance(ax, (list, tuple, np.ndarray)) else list(np.ravel(ax))
        if len(axes) != n:
            raise ValueError(f"ax: {len(axes)} Axes for {n} columns")
        fig = _root(axes[0].figure)
        for a in axes:
            a.set_xlabel("step")

    steps = np.asarray(cols["step"])
    options = (getattr(traj, "config", None) or {}).get("options", {})
    loss_star = float(options.get("loss_star", 0.0) or 0.0)
    for a, name in zip(axes, columns):
        v = np.asarray(cols[name], dtype=np.float64)
        if name == "loss" and loss_star != 0.0:
            v = v - loss_star
            label = "loss gap L − L*"
        else:
            label = _LABELS.get(name, name)
        ok = np.isfinite(v)
        a.set_title(label, fontsize="medium")
        a.grid(True, alpha=0.3)
        if not ok.any():
            _note(a, f"{name}: not computed in any row")
            continue
        style = {"marker": "o", "markersize": 3} if ok.sum() <= 40 else {}
        a.plot(steps[ok], v[ok], color="C0", **style)
        logy = _spans_decades(v[ok])
        legend = False
        if name == "sharpness" and "lr" in cols:
            lr = np.asarray(cols["lr"], dtype=np.float64)
            lr_ff = lr.copy()
            for i in range(1, lr_ff.size):   # the final row has no update: carry the last rate
                if not np.isfinite(lr_ff[i]):
                    lr_ff[i] = lr_ff[i - 1]
            with np.errstate(divide="ignore", invalid="ignore"):
                thr = 2.0 / lr_ff
            good = np.isfinite(thr) & (thr > 0)
            if good.any():
                a.plot(steps[good], thr[good], "--", color="C3", label="2/η")
                legend = True
        if name == "loss" and bound is not None:
            dense = np.unique(np.linspace(steps.min(), steps.max(), min(512, int(steps.max() - steps.min()) + 1))
                              .round().astype(np.int64)) if steps.size else steps
            bx, by = _bound_values(bound, steps, dense)
            by = by - loss_star
            good = np.isfinite(by)
            a.plot(bx[good], by[good], ":", color="C2", linewidth=1.8, label="bound")
            legend = True
            logy = logy or _spans_decades(np.concatenate([v[ok], by[good]]))
        if logy:
            a.set_yscale("log")
        if name == "grad_cosine":
            a.axhline(0.0, color="0.6", linewidth=0.8)
        if legend:
            a.legend(fontsize="small", frameon=False, loc="lower right" if name == "sharpness" else "best")
    return fig


# ---------------------------------------------------------------------------------- surfaces

def _direction_labels(meta: dict, k: int) -> list:
    d = (meta or {}).get("directions") or {}
    kind = d.get("kind")
    if kind == "pca" and len(d.get("explained_variance_ratio", [])) >= k:
        return [f"PC{i + 1} ({100 * r:.0f}% of variance)" for i, r in enumerate(d["explained_variance_ratio"][:k])]
    if kind == "hessian" and len(d.get("eigenvalues", [])) >= k:
        return [f"Hessian eigenvector {i + 1} (λ = {_minus(f'{e:.3g}')})" for i, e in enumerate(d["eigenvalues"][:k])]
    if kind == "random" and d.get("normalization") not in (None, "none"):
        return [f"d{i + 1} ({d['normalization']}-normalized)" for i in range(k)]
    return [f"d{i + 1}" for i in range(k)]


def _bilinear(x: np.ndarray, y: np.ndarray, Z: np.ndarray, px: np.ndarray, py: np.ndarray) -> np.ndarray:
    """Z (len(y), len(x)) at the points (px, py); NaN outside the grid."""
    out = np.full(px.shape, np.nan)
    inside = (px >= x[0]) & (px <= x[-1]) & (py >= y[0]) & (py <= y[-1])
    if len(x) < 2 or len(y) < 2:
        return out
    i = np.clip(np.searchsorted(x, px[inside]) - 1, 0, len(x) - 2)
    j = np.clip(np.searchsorted(y, py[inside]) - 1, 0, len(y) - 2)
    tx = (px[inside] - x[i]) / (x[i + 1] - x[i])
    ty = (py[inside] - y[j]) / (y[j + 1] - y[j])
    out[inside] = ((1 - tx) * (1 - ty) * Z[j, i] + tx * (1 - ty) * Z[j, i + 1]
                   + (1 - tx) * ty * Z[j + 1, i] + tx * ty * Z[j + 1, i + 1])
    return out


def _log_values(Z: np.ndarray) -> tuple[np.ndarray, float]:
    """log10(Z − min + tiny), with tiny the smallest positive gap above the minimum (so the
    minimum sits one step below its nearest value rather than at −∞)."""
    finite = Z[np.isfinite(Z)]
    lo = finite.min() if finite.size else 0.0
    gaps = finite - lo
    gaps = gaps[gaps > 0]
    tiny = float(gaps.min()) if gaps.size else 1.0
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.log10(Z - lo + tiny), tiny


def surface(surf, metric: str = "loss", kind: str = "contour", log: bool = False, trajectory=None,
            levels: int = 30, ax=None):
    """A :class:`~landscope.landscape.Surface` from :func:`landscope.landscape.surface`.

    2-D surfaces (values (len(y), len(x))): ``kind="contour"`` (filled contours with thin
    contour lines), ``"heatmap"`` (an image spanning the grid cells; a mesh when the grid is
    not evenly spaced) or ``"3d"`` (a surface on a 3-D Axes), with a colorbar. ``log=True``
    shows log10(value − min + tiny), tiny the smallest positive gap above the minimum.
    ``levels``: the number of contour levels. The center w (coordinates (0, 0)) is marked.

    ``trajectory``: (T, 2) coordinates of iterates in the slice (``landscape.project(traj, w,
    D)[0]``), drawn as a line from a circle (start) to a square (end); on a 3-D plot it is
    lifted onto the surface by bilinear interpolation.

    1-D surfaces (y is None): the metric (a name, or several names) against x, and
    ``trajectory`` (T, 1) as points on the curve.

    Axis labels come from the directions' metadata (``d1``/``d2``, PCA components with their
    explained variance, Hessian eigenvectors with their eigenvalues). Returns the Figure.
    """
    _, plt = _mpl()
    names = [metric] if isinstance(metric, str) else list(metric)
    missing = [m for m in names if m not in surf.values]
    if missing:
        raise ValueError(f"metric: {missing} not in the surface (it has {tuple(surf.values)})")
    x = np.asarray(surf.x, dtype=np.float64)
    labels = _direction_labels(surf.metadata, 1 if surf.y is None else 2)
    traj = None if trajectory is None else np.asarray(trajectory, dtype=np.float64)
    if traj is not None and traj.ndim == 1:
        traj = traj[:, None]

    if surf.y is None:  # ------------------------------------------------------------ 1-D
        ax, fig = _new_axes(ax, plt)
        for i, m in enumerate(names):
            v = np.asarray(surf.values[m], dtype=np.float64)
            ylab = _LABELS.get(m, m)
            if log:
                v, _ = _log_values(v)
                ylab = f"log₁₀({m} − min)"
            ok = np.isfinite(v)
            ax.plot(x[ok], v[ok], color=f"C{i}", label=m)
            if traj is not None and i == 0:
                px = traj[:, 0]
                py = np.interp(px, x[ok], v[ok], left=np.nan, right=np.nan)
                ax.plot(px, py, ".-", color="C3", markersize=4, linewidth=1, label="trajectory")
                ax.plot(px[:1], py[:1], "o", color="C3")
                ax.plot(px[-1:], py[-1:], "s", color="C3")
        ax.axvline(0.0, color="0.5", linestyle=":", linewidth=1)
        ax.set_xlabel(labels[0])
        ax.set_ylabel(_LABELS.get(names[0], names[0]) if len(names) == 1 and not log else
                      (ylab if len(names) == 1 else "value"))
        ax.grid(True, alpha=0.3)
        if len(names) > 1 or traj is not None:
            ax.legend(fontsize="small", frameon=False)
        return fig

    # ------------------------------------------------------------------------------------ 2-D
    if len(names) != 1:
        raise ValueError("metric: a 2-D surface plots one metric at a time")
    if kind not in ("contour", "heatmap", "3d"):
        raise ValueError(f"kind: expected 'contour', 'heatmap' or '3d', got {kind!r}")
    m = names[0]
    y = np.asarray(surf.y, dtype=np.float64)
    Z = np.asarray(surf.values[m], dtype=np.float64)
    cbar_label = _LABELS.get(m, m)
    if log:
        Z, _ = _log_values(Z)
        cbar_label = f"log₁₀({m} − min)"
    Zm = np.ma.masked_invalid(Z)
    if traj is not None and traj.shape[1] < 2:
        raise ValueError(f"trajectory: expected (T, 2) coordinates for a 2-D surface, got shape {traj.shape}")

    if kind == "3d":
        ax, fig = _new_axes(ax, plt, projection="3d", figsize=(6.0, 4.8))
        if not hasattr(ax, "plot_surface"):
            raise ValueError("ax: kind='3d' needs a 3-D Axes (projection='3d')")
        Xg, Yg = np.meshgrid(x, y)
        mappable = ax.plot_surface(Xg, Yg, Zm, cmap=_CMAP, linewidth=0, antialiased=True, alpha=0.9)
        ax.set_zlabel(cbar_label)
        if traj is not None:
            tz = _bilinear(x, y, Z, traj[:, 0], traj[:, 1])
            ax.plot(traj[:, 0], traj[:, 1], tz, color="C3", linewidth=1.5, zorder=10)
            ax.scatter(traj[:1, 0], traj[:1, 1], tz[:1], color="C3", marker="o", depthshade=False)
            ax.scatter(traj[-1:, 0], traj[-1:, 1], tz[-1:], color="C3", marker="s", depthshade=False)
        c = _bilinear(x, y, Z, np.zeros(1), np.zeros(1))
        ax.scatter([0.0], [0.0], c, color="white", edgecolor="black", marker="*", s=80, depthshade=False)
    else:
        ax, fig = _new_axes(ax, plt)
        if kind == "contour":
            mappable = ax.contourf(x, y, Zm, levels=levels, cmap=_CMAP)
            ax.contour(x, y, Zm, levels=mappable.levels[::2] if len(mappable.levels) > 16 else mappable.levels,
                       colors="k", linewidths=0.4, alpha=0.5)
        else:
            dx = np.diff(x)
            dy = np.diff(y)
            even = (dx.size == 0 or np.allclose(dx, dx[0], rtol=1e-6)) and (dy.size == 0 or np.allclose(dy, dy[0], rtol=1e-6))
            if even:
                hx = dx[0] / 2 if dx.size else 0.5
                hy = dy[0] / 2 if dy.size else 0.5
                mappable = ax.imshow(Zm, origin="lower", extent=(x[0] - hx, x[-1] + hx, y[0] - hy, y[-1] + hy),
                                     aspect="auto", cmap=_CMAP, interpolation="nearest")
            else:
                mappable = ax.pcolormesh(x, y, Zm, shading="nearest", cmap=_CMAP)
        ax.plot([0.0], [0.0], "*", color="white", markeredgecolor="black", markersize=13, label="center w")
        if traj is not None:
            ax.plot(traj[:, 0], traj[:, 1], "-", color="C3", linewidth=1.6, label="trajectory")
            ax.plot(traj[:1, 0], traj[:1, 1], "o", color="C3", markeredgecolor="white", label="start")
            ax.plot(traj[-1:, 0], traj[-1:, 1], "s", color="C3", markeredgecolor="white", markersize=5, label="end")
        ax.locator_params(nbins=6)
        if traj is not None:
            ax.legend(fontsize="small", loc="upper right", framealpha=0.8)
    ax.set_xlabel(labels[0])
    ax.set_ylabel(labels[1])
    if kind == "3d":
        fig.colorbar(mappable, ax=ax, label=cbar_label, shrink=0.7, pad=0.12)
    else:
        fig.colorbar(mappable, ax=ax, label=cbar_label)
    return fig


# ------------------------------------------------------------------------------------- paths

def path(path_or_curve, metric: str = "loss", ax=None):
    """A :class:`~landscope.landscape.Path` (from ``interpolate`` or ``Curve.evaluate``), or a
    :class:`~landscope.landscape.Curve` (evaluated with ``curve.evaluate(metrics=(metric,))``).

    Draws the metric against t, the chord (1 − t) m(0) + t m(1) dashed, and the barrier
    max_t [m(t) − chord(t)] as a vertical segment from the chord at t = ``barrier_t``,
    annotated with its value (for the loss, ``path.barrier``). Returns the Figure.
    """
    _, plt = _mpl()
    p = path_or_curve
    if not hasattr(p, "t") and hasattr(p, "evaluate"):
        p = p.evaluate(metrics=(metric,))
    if metric not in p.values:
        raise ValueError(f"metric: {metric!r} not in the path (it has {tuple(p.values)})")
    t = np.asarray(p.t, dtype=np.float64)
    v = np.asarray(p.values[metric], dtype=np.float64)
    chord = (1 - t) * v[0] + t * v[-1]
    if metric == "loss" and np.isfinite(p.barrier):
        barrier, bt = float(p.barrier), float(p.barrier_t)
        i = int(np.argmin(np.abs(t - bt)))
    else:
        excess = v - chord
        i = int(np.nanargmax(excess))
        barrier, bt = float(excess[i]), float(t[i])

    ax, fig = _new_axes(ax, plt, figsize=(5.2, 3.6))
    meta = getattr(p, "metadata", {}) or {}
    what = {"linear": "linear path"}.get(meta.get("kind"), f"{meta['kind']} curve" if meta.get("kind") else "path")
    ok = np.isfinite(v)
    ax.plot(t[ok], v[ok], color="C0", label=f"{metric} along the {what}")
    ax.plot(t, chord, "--", color="0.45", linewidth=1.2, label="chord (1 − t)·m(0) + t·m(1)")
    text = _minus(f"barrier = {barrier:.4g}")
    ax.set_title(f"{text} at t = {bt:.3g}" + ("" if barrier > 0 else " (no bump above the chord)"), fontsize="medium")
    if barrier > 0:
        ax.plot([bt, bt], [chord[i], v[i]], color="C3", linewidth=2, solid_capstyle="butt")
        ax.plot([bt], [v[i]], "o", color="C3", markersize=4)
        left = bt < 0.7
        ax.annotate(text, xy=(bt, 0.5 * (chord[i] + v[i])), xytext=(8 if left else -8, 0),
                    textcoords="offset points", va="center", ha="left" if left else "right", color="C3")
    ax.set_xlabel("t")
    ax.set_ylabel(_LABELS.get(metric, metric))
    ax.set_xlim(0, 1)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small", frameon=False, loc="best")
    return fig


# ----------------------------------------------------------------------------------- spectra

def _per_probe_density(sd) -> np.ndarray:
    """(num_probes, len(grid)): each probe's Gaussian-smoothed quadrature (their mean is
    ``sd.density``)."""
    g = np.asarray(sd.grid, dtype=np.float64)
    norm = 1.0 / (sd.sigma * np.sqrt(2 * np.pi))
    out = np.empty((sd.nodes.shape[0], g.size))
    for p in range(sd.nodes.shape[0]):
        z = (g[:, None] - sd.nodes[p][None, :]) / sd.sigma
        out[p] = norm * (np.exp(-0.5 * z * z) @ sd.weights[p])
    return out


def spectrum(result, log: bool = False, ax=None):
    """An eigenvalue spectrum.

    - a :class:`~landscope.spectra.SpectralDensity` (from ``spectral_density``): the smoothed
      density on its grid, with a band of ± one standard error across probes (from each
      probe's smoothed quadrature) when there are several probes;
    - an :class:`~landscope.spectra.EigshResult` (from ``eigsh``): the eigenvalues as stems
      on the λ axis (pairs that did not converge in grey);
    - a 1-D array of eigenvalues: a histogram.

    ``log=True`` uses a log y-scale (density or counts). Returns the Figure.
    """
    _, plt = _mpl()
    ax, fig = _new_axes(ax, plt, figsize=(5.2, 3.6))
    if hasattr(result, "density") and hasattr(result, "nodes"):
        g = np.asarray(result.grid, dtype=np.float64)
        d = np.asarray(result.density, dtype=np.float64)
        m = result.nodes.shape[0]
        ax.plot(g, d, color="C0", label="density")
        if m > 1:
            per = _per_probe_density(result)
            se = per.std(axis=0, ddof=1) / np.sqrt(m)
            lo = d - se
            if log:
                lo = np.maximum(lo, d * 1e-3)
            ax.fill_between(g, lo, d + se, color="C0", alpha=0.25, linewidth=0, label="± 1 standard error")
            ax.legend(fontsize="small", frameon=False)
        ax.set_ylabel("density")
        ax.set_title(f"SLQ: n = {result.n}, {m} probes, σ = {result.sigma:.3g}", fontsize="medium")
        if log:
            ax.set_yscale("log")
            top = float(np.nanmax(d)) if d.size else 1.0
            ax.set_ylim(bottom=max(top * 1e-6, np.finfo(float).tiny))
        else:
            ax.set_ylim(bottom=0)
    elif hasattr(result, "eigenvalues") and hasattr(result, "residuals"):
        lam = np.asarray(result.eigenvalues, dtype=np.float64)
        conv = np.asarray(result.converged_mask, dtype=bool)
        if conv.any():
            ax.stem(lam[conv], np.ones(conv.sum()), basefmt=" ", label="converged")
        if (~conv).any():
            c = ax.stem(lam[~conv], np.ones((~conv).sum()), linefmt="0.6", markerfmt="o", basefmt=" ",
                        label="not converged")
            c.markerline.set_color("0.6")
            ax.legend(fontsize="small", frameon=False)
        ax.set_yticks([])
        ax.set_ylim(0, 1.15)
        ax.set_title(f"eigsh ({result.which}): {lam.size} eigenvalues, {result.products} products", fontsize="medium")
        if log:
            ax.set_xscale("symlog")
    else:
        lam = np.asarray(result, dtype=np.float64)
        if lam.ndim != 1:
            raise TypeError("result: expected a SpectralDensity, an EigshResult or a 1-D array of eigenvalues, "
                            f"got {type(result).__name__} of shape {np.shape(result)}")
        lam = lam[np.isfinite(lam)]
        ax.hist(lam, bins="auto", color="C0", alpha=0.85, log=log)
        ax.set_ylabel("count")
        ax.set_title(f"{lam.size} eigenvalues", fontsize="medium")
    ax.set_xlabel("eigenvalue λ")
    ax.grid(True, alpha=0.3)
    return fig


# ------------------------------------------------------------------------------------ widths

def width_study(widths, values, label: str = "", theory_slope: Optional[float] = None, ax=None):
    """A quantity against the width on log–log axes, with its least-squares slope.

    ``values``: one per width, or (len(widths), repeats) (seeds; every point is drawn, the line
    goes through the means, the fit uses them all). Non-positive values are left out of the
    fit and the plot. The legend reads "``label`` (slope −0.97)". ``theory_slope``: a reference
    line with that slope, through the fit at the middle width (geometric mean), labelled with
    it. Call again on the same ``ax`` to overlay several quantities. Returns the Figure.
    """
    _, plt = _mpl()
    w = np.asarray(widths, dtype=np.float64)
    v = np.asarray(values, dtype=np.float64)
    if w.ndim != 1 or v.shape[0] != w.size or v.ndim > 2:
        raise ValueError(f"widths, values: expected widths (n,) and values (n,) or (n, repeats), got {w.shape} and {v.shape}")
    V = v if v.ndim == 2 else v[:, None]
    W = np.broadcast_to(w[:, None], V.shape)
    ok = np.isfinite(V) & (V > 0) & (W > 0)
    if ok.sum() < 2:
        raise ValueError("values: need at least two positive values at positive widths to fit a slope")
    lx, ly = np.log(W[ok]), np.log(V[ok])
    slope, intercept = np.polyfit(lx, ly, 1)

    ax, fig = _new_axes(ax, plt, figsize=(4.8, 3.8))
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.exp(np.nanmean(np.where(ok, np.log(np.where(ok, V, 1.0)), np.nan), axis=1))
    text = _minus(f"slope {slope:.2f}")
    name = f"{label} ({text})" if label else text
    good = np.isfinite(mean)
    (line,) = ax.plot(w[good], mean[good], "o-", markersize=5, label=name)
    if V.shape[1] > 1:
        ax.scatter(W[ok], V[ok], color=line.get_color(), s=12, alpha=0.5)
    if theory_slope is not None:
        c = float(np.exp(np.mean(lx)))
        fc = float(np.exp(intercept + slope * np.log(c)))
        xs = np.array([w[w > 0].min(), w[w > 0].max()])
        ax.plot(xs, fc * (xs / c) ** theory_slope, "--", color="0.4", linewidth=1.2,
                label=_minus(f"theory: slope {theory_slope:g}"))
    ax.set_xscale("log")
    ax.set_yscale("log")
    from matplotlib.ticker import NullFormatter, ScalarFormatter

    ticks = np.unique(np.concatenate([np.asarray(ln.get_xdata(), dtype=np.float64) for ln in ax.lines]))
    ticks = ticks[ticks > 0]   # every width drawn on this Axes (overlays included)
    if ticks.size <= 10:
        ax.set_xticks(ticks)
        ax.xaxis.set_major_formatter(ScalarFormatter())
        ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("width")
    if not ax.get_ylabel():
        ax.set_ylabel(label or "value")
    ax.grid(True, which="both", alpha=0.25)
    ax.legend(fontsize="small", frameon=False)
    return fig
