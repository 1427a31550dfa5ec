"""Curves between solutions (landscope._connect.connect) and permutation alignment (align)."""
import numpy as np
import pytest

import landscope as ls
from landscope._connect import CURVES, Curve, _apply, _coefficients, _objective, _permutations, _Stepper, align, connect
from landscope.landscape import Path, interpolate

from conftest import central_gradient


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    # These models are tiny: a pass takes microseconds, less than an OpenMP fork/join on a busy
    # machine, so one thread keeps the file fast; results do not depend on the thread count.
    ls.set_num_threads(1)
    yield
    ls.set_num_threads(None)


def _data(n=64, d=4, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    return X, np.sin(X @ rng.standard_normal(d))


@pytest.fixture(scope="module")
def minima():
    """Two minima of the same tanh MLP trained from different seeds, and the linear path."""
    X, y = _data()
    net = ls.MLP(X, y, [16], activation="tanh")
    wa, wb = (ls.train(net, net.init(seed=s), ls.optim.Adam(lr=2e-2), 500, progress=False).w for s in (0, 1))
    return net, wa, wb, interpolate(net, wa, wb, num=41)


@pytest.fixture(scope="module")
def small():
    X, y = _data(n=12, d=3, seed=1)
    net = ls.MLP(X, y, [4], activation="tanh", bias=True)
    return net, net.init(seed=0), net.init(seed=1)


def _curve(model, wa, wb, kind, bends):
    """A curve with the given bends, untrained (GD with lr = 0 for one step)."""
    return connect(model, wa, wb, kind=kind, bends=bends.shape[0], init=bends, steps=1,
                   optimizer=ls.optim.GD(lr=0.0), progress=False)


# ------------------------------------------------------------------------------------- curve

@pytest.mark.parametrize("kind", CURVES)
@pytest.mark.parametrize("B", [1, 2, 3])
def test_curve_passes_through_its_endpoints(small, kind, B):
    net, wa, wb = small
    bends = np.random.default_rng(B).standard_normal((B, net.num_params))
    c = _curve(net, wa, wb, kind, bends)
    np.testing.assert_array_equal(c.bends, bends)
    assert np.array_equal(c.point(0.0), wa) and np.array_equal(c.point(1), wb)
    W = c.point([0.0, 0.3, 1.0])
    assert W.shape == (net.num_params, 3)
    assert np.array_equal(W[:, 0], wa) and np.array_equal(W[:, 2], wb)
    # the weights are a partition of unity with exact rows at the ends
    C = _coefficients(kind, B, np.linspace(0, 1, 11))
    np.testing.assert_allclose(C.sum(axis=1), 1.0, rtol=0, atol=1e-14)
    assert np.array_equal(C[0], np.eye(B + 2)[0]) and np.array_equal(C[-1], np.eye(B + 2)[-1])
    if kind == "polychain":  # through every bend at its knot, straight in between
        for k in range(1, B + 1):
            np.testing.assert_allclose(c.point(k / (B + 1)), bends[k - 1], rtol=1e-14, atol=1e-14)
        t0, t1 = 1 / (B + 1), 2 / (B + 1)
        mid = c.point((t0 + t1) / 2)
        np.testing.assert_allclose(mid, (c.point(t0) + c.point(t1)) / 2, rtol=1e-13, atol=1e-13)


def test_bezier_of_degree_two_is_the_formula(small):
    net, wa, wb = small
    theta = np.random.default_rng(5).standard_normal(net.num_params)
    c = _curve(net, wa, wb, "bezier", theta[None])
    t = np.linspace(0, 1, 9)
    want = np.outer(wa, (1 - t) ** 2) + np.outer(theta, 2 * t * (1 - t)) + np.outer(wb, t**2)
    np.testing.assert_allclose(c.point(t), want, rtol=1e-14, atol=1e-14)
    np.testing.assert_allclose(c.point(0.25), want[:, 2], rtol=1e-14, atol=1e-14)


@pytest.mark.parametrize("kind", CURVES)
@pytest.mark.parametrize("B", [1, 3])
def test_initial_curve_is_the_straight_line(small, kind, B):
    net, wa, wb = small
    c = connect(net, wa, wb, kind=kind, bends=B, steps=1, optimizer=ls.optim.GD(lr=0.0), progress=False)
    t = np.linspace(0, 1, 7)
    np.testing.assert_allclose(c.point(t), np.outer(wa, 1 - t) + np.outer(wb, t), rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("kind", CURVES)
def test_gradient_matches_finite_differences(kind):
    X, y = _data(n=10, d=3, seed=2)
    net = ls.MLP(X, y, [4], activation="tanh", bias=True)
    B, P = 2, net.num_params
    rng = np.random.default_rng(3)
    ctrl = np.vstack([net.init(0), 0.5 * rng.standard_normal((B, P)), net.init(1)])
    t = np.array([0.05, 0.3, 0.5, 0.62, 0.9])

    def objective(theta):
        c = ctrl.copy()
        c[1:-1] = theta.reshape(B, P)
        return _objective(net, kind, c, t)[0]

    f, g = _objective(net, kind, ctrl, t)
    assert g.shape == (B, P)
    fd = central_gradient(objective, ctrl[1:-1].ravel().copy(), h=1e-5).reshape(B, P)
    assert np.linalg.norm(g - fd) / np.linalg.norm(fd) < 1e-6
    assert f == pytest.approx(np.mean([net.loss(w) for w in (_coefficients(kind, B, t) @ ctrl)]), rel=1e-13)


@pytest.mark.parametrize("opt", [ls.optim.GD(lr=0.05), ls.optim.Momentum(lr=0.02, beta=0.8),
                                 ls.optim.Momentum(lr=0.02, beta=0.9, nesterov=True),
                                 ls.optim.Adam(lr=0.01, weight_decay=0.1), ls.optim.AdamW(lr=0.01, weight_decay=0.1)],
                         ids=["gd", "momentum", "nesterov", "adam", "adamw"])
def test_update_rules_are_the_engines(small, opt):
    # the bends' optimizer step is the C++ training loop's, step for step
    net, w0, _ = small
    w = w0.copy()
    stepper = _Stepper(opt, w.shape)
    for _ in range(20):
        stepper.step(w, net.gradient(w))
    ref = ls.train(net, w0, opt, 20, progress=False).w
    np.testing.assert_allclose(w, ref, rtol=1e-11, atol=1e-12)


# ----------------------------------------------------------------------------------- connect

@pytest.fixture(scope="module")
def curves(minima):
    net, wa, wb, _ = minima
    return {kind: connect(net, wa, wb, kind=kind, steps=300, progress=False) for kind in CURVES}


@pytest.mark.parametrize("kind", CURVES)
def test_connect_lowers_the_path(minima, curves, kind):
    net, wa, wb, lin = minima
    c = curves[kind]
    assert isinstance(c, Curve) and c.kind == kind and c.bends.shape == (1, net.num_params)
    assert np.array_equal(c.w_a, wa) and np.array_equal(c.w_b, wb)
    path = c.evaluate(num=41)
    assert isinstance(path, Path) and path.t.shape == (41,) and path["loss"].shape == (41,)
    assert path.metadata["max_loss"] == pytest.approx(path["loss"].max())
    assert path["loss"][0] == pytest.approx(net.loss(wa), rel=1e-12)
    assert path["loss"][-1] == pytest.approx(net.loss(wb), rel=1e-12)
    # measured: linear max loss 57.6 (barrier 57.2); bezier max 7.6 (barrier 7.2), polychain 6.0 (5.5)
    assert path.metadata["max_loss"] < 0.25 * lin["loss"].max()
    assert path.barrier < 0.25 * lin.barrier
    h = c.loss_history
    assert h.shape == (300,) and c.metadata["status"] == "budget"
    assert h[-30:].mean() < 0.5 * h[:30].mean()


def test_connect_on_aligned_minima(minima):
    net, wa, wb, lin = minima
    wb2 = align(net, wa, wb)
    aligned = interpolate(net, wa, wb2, num=41)
    c = connect(net, wa, wb2, steps=300, progress=False).evaluate(num=41)
    assert c.metadata["max_loss"] < aligned["loss"].max() < lin["loss"].max()


def test_connect_is_deterministic(small):
    net, wa, wb = small
    kw = dict(bends=2, steps=15, points_per_step=3, progress=False)
    c1, c2 = connect(net, wa, wb, seed=7, **kw), connect(net, wa, wb, seed=7, **kw)
    assert np.array_equal(c1.bends, c2.bends) and np.array_equal(c1.loss_history, c2.loss_history)
    assert not np.array_equal(c1.bends, connect(net, wa, wb, seed=8, **kw).bends)
    with pytest.raises(ValueError):
        c1.bends[0, 0] = 1.0  # read-only


def test_connect_minibatches_and_momentum(small):
    net, wa, wb = small
    c = connect(net, wa, wb, kind="polychain", bends=2, steps=40, progress=False,
                optimizer=ls.optim.Momentum(lr=1e-3, beta=0.9, batch_size=5, seed=1))
    assert c.loss_history.shape == (40,) and np.isfinite(c.bends).all()
    assert c.metadata["optimizer"]["batch_size"] == 5


def test_evaluate_metrics_and_points(small):
    net, wa, wb = small
    c = connect(net, wa, wb, steps=5, progress=False)
    p = c.evaluate(num=5, metrics="grad_norm", points=True)
    assert set(p.values) == {"loss", "grad_norm"}  # the loss is always there
    assert p.points.shape == (net.num_params, 5) and np.array_equal(p.points[:, 0], wa)
    X, y = _data(n=7, d=3, seed=9)
    held = c.evaluate(num=5, data=(X, y))
    assert held["loss"][0] == pytest.approx(net.with_data(X, y).loss(wa), rel=1e-12)
    for bad in (-0.1, 1.5, np.nan, [[0.5]]):
        with pytest.raises(ValueError, match="^t:"):
            c.point(bad)
    with pytest.raises(ValueError, match="^num:"):
        c.evaluate(num=1)


def test_divergence_stops_with_a_warning(small):
    net, wa, wb = small
    with pytest.warns(RuntimeWarning, match="connect: the loss became"):
        c = connect(net, wa, wb, optimizer=ls.optim.GD(lr=1e300), steps=10, progress=False)
    assert c.metadata["status"] == "diverged" and c.loss_history.size < 10
    assert np.isfinite(c.loss_history).all()


def _raises(exc, name, fn, *args, **kw):
    with pytest.raises(exc, match=f"^{name}:"):
        fn(*args, **kw)


def test_connect_rejects_bad_arguments(small):
    net, wa, wb = small
    P = net.num_params
    go = lambda **kw: connect(**{"model": net, "w_a": wa, "w_b": wb, "steps": 1, "progress": False, **kw})  # noqa: E731
    _raises(TypeError, "model", go, model="net")
    _raises(ValueError, "w_a", go, w_a=wa[:-1])
    _raises(ValueError, "w_b", go, w_b=np.r_[wb, 0.0])
    _raises(ValueError, "w_a", go, w_a=np.where(np.arange(P) == 3, np.nan, wa))
    _raises(ValueError, "w_b", go, w_b=np.where(np.arange(P) == 0, np.inf, wb))
    _raises(ValueError, "kind", go, kind="spline")
    _raises(TypeError, "kind", go, kind=None)
    _raises(ValueError, "bends", go, bends=0)
    _raises(TypeError, "bends", go, bends=1.5)
    _raises(ValueError, "steps", go, steps=0)
    _raises(ValueError, "points_per_step", go, points_per_step=0)
    _raises(TypeError, "points_per_step", go, points_per_step=True)
    _raises(ValueError, "seed", go, seed=-1)
    _raises(TypeError, "seed", go, seed="0")
    _raises(ValueError, "init", go, bends=2, init=np.zeros((1, P)))
    _raises(ValueError, "init", go, init=np.zeros((1, P + 1)))
    _raises(ValueError, "init", go, init=np.full((1, P), np.nan))
    _raises(TypeError, "optimizer", go, optimizer=ls.optim.PerturbedGD(lr=0.1))
    _raises(TypeError, "optimizer", go, optimizer="adam")
    _raises(ValueError, "optimizer", go, optimizer=ls.optim.Adam(batch_size=net.num_samples + 1))
    _raises(TypeError, "progress", go, progress="yes")
    assert go(init=np.zeros(P)).bends.shape == (1, P)  # (P,) is accepted for one bend


# ------------------------------------------------------------------------------------- align

def _mlps():
    rng = np.random.default_rng(4)
    X = rng.standard_normal((30, 5))
    y = np.sin(X @ rng.standard_normal(5))
    labels = np.arange(30) % 3
    return {"tanh-bias": ls.MLP(X, y, [8], activation="tanh", bias=True),
            "relu-nobias": ls.MLP(X, y, [8], activation="relu", parameterization="standard"),
            "two-hidden": ls.MLP(X, np.c_[y, y**2], [7, 6], activation="gelu", bias=True),
            "cross-entropy": ls.MLP(X, labels, [6, 9, 5], activation="tanh", bias=True, loss="cross_entropy"),
            "one-input": ls.MLP(X[:, :1], y, [6, 1, 4], activation="softplus", bias=True)}


MLPS = _mlps()


@pytest.mark.parametrize("name", list(MLPS))
def test_align_preserves_the_function(name):
    net = MLPS[name]
    for s in range(3):
        wa, wb = net.init(2 * s), net.init(2 * s + 1)
        al = align(net, wa, wb)
        F = net.outputs(wb)
        assert np.abs(net.outputs(al) - F).max() <= 1e-12 * np.abs(F).max()
        assert net.loss(al) == pytest.approx(net.loss(wb), rel=1e-12)
        assert np.array_equal(np.sort(al), np.sort(wb))  # a permutation of the entries


@pytest.mark.parametrize("name", list(MLPS))
def test_align_identity_and_planted_permutation(name):
    net = MLPS[name]
    rng = np.random.default_rng(11)
    for s in range(3):
        wa = net.init(s)
        assert np.array_equal(align(net, wa, wa), wa)
        perms, _ = _permutations(net, wa, wa)
        assert all(np.array_equal(p, np.arange(p.size)) for p in perms)
        planted = [rng.permutation(m) for m in net.widths]
        wp = _apply(net, wa, planted)
        assert not np.array_equal(wp, wa) or all(m == 1 for m in net.widths)
        assert np.array_equal(align(net, wa, wp), wa)  # recovered exactly


def test_align_lowers_the_linear_barrier(minima):
    net, wa, wb, lin = minima
    wb2 = align(net, wa, wb)
    aligned = interpolate(net, wa, wb2, num=41)
    # measured: 57.2 -> 10.5
    assert aligned.barrier < 0.5 * lin.barrier
    assert net.loss(wb2) == pytest.approx(net.loss(wb), rel=1e-12)


def test_align_rejects_bad_models_and_endpoints():
    X, y = _data(n=10, d=3)
    net = ls.MLP(X, y, [4])
    w = net.init(0)
    _raises(TypeError, "model", align, ls.LeastSquares(X, y), np.zeros(3), np.zeros(3))
    _raises(TypeError, "model", align, ls.ShallowNet(X, y, 4), np.zeros(12), np.zeros(12))
    flat = ls.MLP(X, y, [])
    _raises(ValueError, "model", align, flat, flat.init(0), flat.init(1))
    res = ls.MLP(X, y, [4, 4], residual=True)
    _raises(ValueError, "model", align, res, res.init(0), res.init(1))
    _raises(ValueError, "w_a", align, net, w[:-1], w)
    _raises(ValueError, "w_b", align, net, w, np.full_like(w, np.nan))


def test_connect_with_sam(minima):
    """SAM evaluates the sampled objective again at the perturbed bends (through the engine's
    oracle): the curve still falls below the linear path, deterministically."""
    net, wa, wb, lin = minima
    a = connect(net, wa, wb, optimizer=ls.optim.SAM(lr=1e-2, rho=0.05), steps=200, progress=False)
    b = connect(net, wa, wb, optimizer=ls.optim.SAM(lr=1e-2, rho=0.05), steps=200, progress=False)
    np.testing.assert_array_equal(a.bends, b.bends)
    assert a.evaluate(num=41).metadata["max_loss"] < lin["loss"].max()
