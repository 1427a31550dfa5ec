"""landscope.plot: each figure from a real result draws what it should; matplotlib stays optional."""
import subprocess
import sys
import textwrap

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.collections import QuadMesh  # noqa: E402
from matplotlib.contour import ContourSet  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.image import AxesImage  # noqa: E402

import landscope as ls  # noqa: E402
from landscope import landscape as L  # noqa: E402
from landscope import plot  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def net():
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((32, 4)), rng.standard_normal(32)
    return ls.MLP(X, y, [8, 8], activation="tanh", bias=True, reduction="mean")


@pytest.fixture(scope="module")
def run(net):
    # the sharpness every 5th row: NaN in the others
    return ls.train(net, net.init(seed=0), ls.optim.GD(lr=0.3), steps=100, record_every=2,
                    record={"sharpness": 10, "grad_cosine": 2, "params": 4}, progress=False)


@pytest.fixture(scope="module")
def surf2d(net, run):
    D = L.random_directions(net, run.w, k=2, seed=0)
    return L.surface(net, run.w, D, np.linspace(-1, 1, 13), np.linspace(-0.5, 0.5, 9), metrics=("loss", "grad_norm"),
                     progress=False)


def _line_with(ax, x=None, y=None):
    """The lines of ax whose data equal (x, y) (either may be None: not checked)."""
    out = []
    for ln in ax.lines:
        lx, ly = np.asarray(ln.get_xdata(), float), np.asarray(ln.get_ydata(), float)
        if x is not None and (lx.shape != np.shape(x) or not np.allclose(lx, x)):
            continue
        if y is not None and (ly.shape != np.shape(y) or not np.allclose(ly, y)):
            continue
        out.append(ln)
    return out


def _texts(fig):
    out = [t.get_text() for t in fig.texts]
    for ax in fig.axes:
        out += [t.get_text() for t in ax.texts] + [ax.get_title()]
        leg = ax.get_legend()
        if leg is not None:
            out += [t.get_text() for t in leg.get_texts()]
    return " | ".join(out)


# ------------------------------------------------------------------------------ trajectories

def test_trajectory_default_panels_and_data(run):
    fig = plot.trajectory(run)
    assert isinstance(fig, Figure)
    titles = [ax.get_title() for ax in fig.axes]
    assert len(fig.axes) == 5  # loss, grad_norm, sharpness, grad_cosine, pl
    assert titles[0] == "loss L" and "sharpness" in titles[2] and titles[-1].startswith("PL ratio")
    assert _line_with(fig.axes[0], run.step, run.loss)
    assert fig.axes[0].get_yscale() in ("linear", "log")


def test_trajectory_nan_rows_are_skipped_and_two_over_eta(run):
    assert np.isnan(run.sharpness).any() and np.isfinite(run.sharpness).sum() >= 5
    fig = plot.trajectory(run, columns=("loss", "sharpness"))
    ax = fig.axes[1]
    ok = np.isfinite(run.sharpness)
    (data,) = _line_with(ax, run.step[ok], run.sharpness[ok])   # one connected line, no gaps
    assert np.isfinite(data.get_ydata()).all()
    (thr,) = [ln for ln in ax.lines if ln.get_label() == "2/η"]
    assert thr.get_linestyle() == "--"
    np.testing.assert_allclose(thr.get_ydata(), 2 / 0.3)
    assert np.asarray(thr.get_xdata())[-1] == run.step[-1]   # the final row (lr NaN) carries the rate
    assert "2/η" in _texts(fig)


def test_trajectory_schedule_threshold_follows_lr(net):
    traj = ls.train(net, net.init(seed=0), ls.optim.GD(lr=0.2), steps=40, record_every=4,
                    schedule=ls.schedules.cosine(40), record=("sharpness",), progress=False)
    ax = plot.trajectory(traj, columns="sharpness").axes[0]
    (thr,) = [ln for ln in ax.lines if ln.get_label() == "2/η"]
    good = np.isfinite(traj.lr) & (traj.lr > 0)
    np.testing.assert_allclose(np.asarray(thr.get_ydata())[:good.sum()], 2 / traj.lr[good])


def test_trajectory_all_nan_column_gets_a_note(run):
    traj = ls.Trajectory.__new__(ls.Trajectory)
    traj.__dict__.update(run.__dict__)
    traj.columns = dict(run.columns, sharpness=np.full(len(run), np.nan))
    fig = plot.trajectory(traj, columns=("loss", "sharpness"))
    assert not fig.axes[1].lines
    assert "not computed" in " ".join(t.get_text() for t in fig.axes[1].texts)


def test_trajectory_bound_array_and_callable(run):
    b = run.loss[0] * 0.99 ** run.step + 1e-3
    fig = plot.trajectory(run, columns=("loss",), bound=b)
    (bl,) = [ln for ln in fig.axes[0].lines if ln.get_label() == "bound"]
    np.testing.assert_allclose(bl.get_ydata(), b)
    fig = plot.trajectory(run, columns=("loss",), bound=lambda t: run.loss[0] * 0.99 ** np.asarray(t))
    (bl,) = [ln for ln in fig.axes[0].lines if ln.get_label() == "bound"]
    x = np.asarray(bl.get_xdata())
    assert x[0] == run.step[0] and x[-1] == run.step[-1] and x.size == run.step[-1] + 1   # every step
    np.testing.assert_allclose(bl.get_ydata(), run.loss[0] * 0.99 ** x)
    with pytest.raises(ValueError, match="bound"):
        plot.trajectory(run, columns=("loss",), bound=np.ones(3))


def test_trajectory_loss_gap_with_loss_star(net):
    traj = ls.train(net, net.init(seed=0), ls.optim.GD(lr=0.3), steps=20, record_every=5, loss_star=0.01,
                    progress=False)
    fig = plot.trajectory(traj, columns=("loss",), bound=np.full(len(traj), 1.0))
    ax = fig.axes[0]
    assert "L − L*" in ax.get_title()
    assert _line_with(ax, traj.step, traj.loss - 0.01)
    (bl,) = [ln for ln in ax.lines if ln.get_label() == "bound"]
    np.testing.assert_allclose(bl.get_ydata(), 0.99)


def test_trajectory_log_scale_when_spanning_decades(net):
    traj = ls.train(net, net.init(seed=0), ls.optim.GD(lr=0.5), steps=3000, record_every=100, progress=False)
    assert traj.loss.max() / traj.loss.min() > 100
    assert plot.trajectory(traj, columns=("loss",)).axes[0].get_yscale() == "log"


def test_trajectory_into_given_axes_and_errors(run):
    fig, axs = plt.subplots(1, 2)
    assert plot.trajectory(run, columns=("loss", "grad_norm"), ax=axs) is fig
    with pytest.raises(ValueError, match="columns"):
        plot.trajectory(run, columns=("nope",))
    with pytest.raises(ValueError, match="ax"):
        plot.trajectory(run, columns=("loss", "grad_norm"), ax=axs[0])


# ---------------------------------------------------------------------------------- surfaces

def test_surface_contour_with_trajectory(net, run, surf2d):
    coords, _ = L.project(run, run.w, surf2d.directions)
    fig = plot.surface(surf2d, trajectory=coords)
    ax = fig.axes[0]
    if tuple(int(v) for v in matplotlib.__version__.split(".")[:2]) >= (3, 8):   # a ContourSet is an Artist
        assert sum(isinstance(c, ContourSet) for c in ax.collections) == 2     # filled + lines
    assert len(fig.axes) == 2   # the colorbar
    assert fig.axes[1].get_ylabel() == "loss L"
    assert _line_with(ax, coords[:, 0], coords[:, 1])
    assert _line_with(ax, [0.0], [0.0])     # the center
    assert ax.get_xlabel().startswith("d1") and ax.get_ylabel().startswith("d2")


def test_surface_contourset_is_drawn(surf2d):
    drawn = []
    orig = plt.Axes.contourf

    def spy(self, *a, **k):
        cs = orig(self, *a, **k)
        drawn.append(cs)
        return cs

    plt.Axes.contourf = spy
    try:
        plot.surface(surf2d, levels=12)
    finally:
        plt.Axes.contourf = orig
    (cs,) = drawn
    assert isinstance(cs, ContourSet)
    assert cs.levels.size >= 10


def test_surface_heatmap_extent_and_log(surf2d):
    ax = plot.surface(surf2d, kind="heatmap", metric="grad_norm").axes[0]
    (im,) = ax.images
    assert isinstance(im, AxesImage)
    hx, hy = (surf2d.x[1] - surf2d.x[0]) / 2, (surf2d.y[1] - surf2d.y[0]) / 2
    np.testing.assert_allclose(im.get_extent(), [surf2d.x[0] - hx, surf2d.x[-1] + hx,
                                                  surf2d.y[0] - hy, surf2d.y[-1] + hy])
    np.testing.assert_allclose(im.get_array(), surf2d["grad_norm"])
    im = plot.surface(surf2d, kind="heatmap", log=True).axes[0].images[0]
    Z = surf2d["loss"] - surf2d["loss"].min()
    tiny = Z[Z > 0].min()
    np.testing.assert_allclose(im.get_array(), np.log10(Z + tiny))


def test_surface_uneven_grid_heatmap_is_a_mesh(net, run):
    D = L.random_directions(net, run.w, k=2, seed=1)
    s = L.surface(net, run.w, D, np.array([-1, -0.2, 0, 0.1, 1.0]), np.array([-1, 0, 0.5]), progress=False)
    ax = plot.surface(s, kind="heatmap").axes[0]
    assert any(isinstance(c, QuadMesh) for c in ax.collections)


def test_surface_3d_and_1d(net, run, surf2d):
    coords, _ = L.project(run, run.w, surf2d.directions)
    fig = plot.surface(surf2d, kind="3d", trajectory=coords)
    assert fig.axes[0].name == "3d" and fig.axes[0].collections
    D1 = L.random_directions(net, run.w, k=1, seed=0)
    s1 = L.surface(net, run.w, D1, np.linspace(-1, 1, 21), metrics=("loss", "grad_norm"), progress=False)
    ax = plot.surface(s1).axes[0]
    assert _line_with(ax, s1.x, s1["loss"])
    ax = plot.surface(s1, metric=("loss", "grad_norm")).axes[0]
    assert _line_with(ax, s1.x, s1["grad_norm"])
    with pytest.raises(ValueError, match="metric"):
        plot.surface(surf2d, metric="accuracy")
    with pytest.raises(ValueError, match="kind"):
        plot.surface(surf2d, kind="wireframe")


def test_surface_pca_labels(net, run):
    P, ratio = L.pca_directions(run, k=2)
    s = L.surface(net, run.w, P, np.linspace(-1, 1, 5), np.linspace(-1, 1, 5), progress=False)
    ax = plot.surface(s).axes[0]
    assert ax.get_xlabel() == f"PC1 ({100 * ratio[0]:.0f}% of variance)"


# ------------------------------------------------------------------------------------- paths

def test_path_chord_and_barrier(net, run):
    p = L.interpolate(net, net.init(1), run.w, num=31)
    fig = plot.path(p)
    ax = fig.axes[0]
    assert _line_with(ax, p.t, p["loss"])
    chord = (1 - p.t) * p["loss"][0] + p.t * p["loss"][-1]
    (c,) = _line_with(ax, p.t, chord)
    assert c.get_linestyle() == "--"
    text = f"{p.barrier:.4g}".replace("-", "−")
    assert text in ax.get_title()
    assert p.barrier > 0
    assert any(text in t.get_text() for t in ax.texts)
    i = int(np.argmin(np.abs(p.t - p.barrier_t)))
    assert _line_with(ax, [p.barrier_t] * 2, [chord[i], p["loss"][i]])   # the barrier's segment


def test_path_synthetic_bump():
    t = np.linspace(0, 1, 11)
    loss = 1 - 0.5 * t + 0.3 * np.sin(np.pi * t)
    p = L.path_from_values(t, {"loss": loss})
    ax = plot.path(p).axes[0]
    (seg,) = _line_with(ax, [0.5, 0.5])
    np.testing.assert_allclose(seg.get_ydata(), [0.75, 1.05])
    assert any("barrier = 0.3" in t.get_text() for t in ax.texts)


def test_curve_and_delegations_return_figures(net, run, surf2d):
    curve = L.connect(net, net.init(1), run.w, steps=5, points_per_step=2)
    p = curve.evaluate(num=11)
    fig = plot.path(curve)
    assert _line_with(fig.axes[0], np.linspace(0, 1, 61))
    for f in (curve.plot(num=11), p.plot(), surf2d.plot(kind="heatmap"), run.plot(columns=("loss",))):
        assert isinstance(f, Figure)
    assert _line_with(curve.plot(num=11).axes[0], p.t, p["loss"])


# ----------------------------------------------------------------------------------- spectra

def test_spectrum_density_band(net, run):
    sd = ls.spectral_density(net.hessian_operator(run.w), num_probes=4, steps=15, grid=200, progress=False)
    ax = plot.spectrum(sd).axes[0]
    assert _line_with(ax, sd.grid, sd.density)
    (band,) = [c for c in ax.collections if c.get_label().startswith("±")]
    per = plot._per_probe_density(sd)
    np.testing.assert_allclose(per.mean(axis=0), sd.density, rtol=1e-10, atol=1e-12 * sd.density.max())
    verts = band.get_paths()[0].vertices
    se = per.std(axis=0, ddof=1) / 2
    assert np.isclose(verts[:, 1].max(), (sd.density + se).max())
    assert plot.spectrum(sd, log=True).axes[0].get_yscale() == "log"


def test_spectrum_eigsh_and_array(net, run):
    r = ls.eigsh(net.hessian_operator(run.w), k=6, which="LA", progress=False)
    ax = plot.spectrum(r).axes[0]
    (stem,) = ax.containers
    np.testing.assert_allclose(stem.markerline.get_xdata(), r.eigenvalues)
    vals = np.linalg.eigvalsh(net.hessian(run.w))
    ax = plot.spectrum(vals).axes[0]
    assert sum(p.get_height() for p in ax.patches) == vals.size
    with pytest.raises(TypeError, match="result"):
        plot.spectrum(np.eye(3))


# ------------------------------------------------------------------------------------ widths

def test_width_study_slope_and_theory():
    widths = np.array([16, 32, 64, 128, 256, 512])
    vals = 3.0 * widths ** -0.97 * np.exp(np.random.default_rng(0).normal(0, 0.01, widths.size))
    slope = np.polyfit(np.log(widths), np.log(vals), 1)[0]
    fig = plot.width_study(widths, vals, label="‖K − K₀‖", theory_slope=-1)
    ax = fig.axes[0]
    assert ax.get_xscale() == ax.get_yscale() == "log"
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend[0] == f"‖K − K₀‖ (slope {slope:.2f})".replace("-", "−")
    assert "slope −0.97" in legend[0] or "slope −0.96" in legend[0] or "slope −0.98" in legend[0]
    assert legend[1] == "theory: slope −1"
    (ref,) = [ln for ln in ax.lines if ln.get_label().startswith("theory")]
    x, y = np.asarray(ref.get_xdata(), float), np.asarray(ref.get_ydata(), float)
    assert np.isclose(np.log(y[1] / y[0]) / np.log(x[1] / x[0]), -1.0)
    # repeats: (n, seeds); an overlay on the same Axes keeps both legends
    plot.width_study(widths, np.stack([vals, 1.1 * vals], axis=1), label="seeds", ax=ax)
    assert len(ax.get_legend().get_texts()) == 3


# ------------------------------------------------------------------------- optional matplotlib

def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=60)


def test_import_landscope_does_not_import_matplotlib():
    r = _run("""
        import sys, landscope, landscope.landscape, landscope.training
        assert "matplotlib" not in sys.modules, "matplotlib imported"
        from landscope import plot
        assert "matplotlib" not in sys.modules, "landscope.plot imported matplotlib"
        print("ok")
    """)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "ok"


def test_missing_matplotlib_says_how_to_install():
    r = _run("""
        import sys
        sys.modules["matplotlib"] = None          # import matplotlib now raises ImportError
        sys.modules["matplotlib.pyplot"] = None
        import numpy as np
        from landscope import plot
        try:
            plot.width_study([1, 2, 4], [1.0, 0.5, 0.25])
        except ImportError as e:
            print(e)
        else:
            print("no error")
    """)
    assert r.returncode == 0, r.stderr
    assert "landscope[plot]" in r.stdout
