"""landscope.landscape: directions, surfaces, projections and paths, against numpy
recomputations and closed forms."""
import numpy as np
import pytest

import landscope as ls
from landscope import landscape as L
from models_zoo import data, labels


def mlp(bias=True, seed=0):
    X, Y = data(seed, n=40, d=4, k=2)
    return ls.MLP(X, Y, [6, 5], activation="tanh", bias=bias)


def ce_mlp():
    X, _ = data(1, n=30, d=4)
    return ls.MLP(X, labels(1, n=30, k=3), [6], loss="cross_entropy", num_classes=3, bias=True)


def point(model, seed=3):
    return model.init(seed) + 0.2 * np.random.default_rng(seed).standard_normal(model.num_params)


# ------------------------------------------------------------------------------- directions

@pytest.mark.parametrize("ignore", ["biases", None])
def test_filter_normalization_row_by_row(ignore):
    model = mlp()
    w = point(model)
    D = L.random_directions(model, w, k=3, normalization="filter", ignore=ignore, seed=5)
    raw = np.random.default_rng(5).standard_normal((model.num_params, 3))  # the Gaussian draw itself
    blocks_w, blocks_r = model.unflatten(w), None
    for j in range(3):
        got = model.unflatten(D[:, j])
        blocks_r = model.unflatten(raw[:, j])
        for name, Wb in blocks_w.items():
            if name.startswith("b"):
                if ignore == "biases":
                    assert not got[name].any()
                else:
                    np.testing.assert_allclose(got[name], blocks_r[name] * np.linalg.norm(Wb) / np.linalg.norm(blocks_r[name]),
                                               rtol=1e-14)
                continue
            want = blocks_r[name] * (np.linalg.norm(Wb, axis=1) / np.linalg.norm(blocks_r[name], axis=1))[:, None]
            np.testing.assert_allclose(got[name], want, rtol=1e-14)
            np.testing.assert_allclose(np.linalg.norm(got[name], axis=1), np.linalg.norm(Wb, axis=1), rtol=1e-13)


def test_layer_and_no_normalization():
    model = mlp()
    w = point(model)
    D = np.random.default_rng(1).standard_normal(model.num_params)
    lay = L.normalize(model, w, D, normalization="layer", ignore=None)
    for name, Wb in model.unflatten(w).items():
        assert np.linalg.norm(model.unflatten(lay)[name]) == pytest.approx(np.linalg.norm(Wb), rel=1e-13)
    none = L.normalize(model, w, D, normalization="none", ignore="biases")
    for name, block in model.unflatten(none).items():
        np.testing.assert_array_equal(block, 0 if name.startswith("b") else model.unflatten(D)[name])


def test_random_directions_are_seeded_and_thread_independent():
    model = mlp()
    w = point(model)
    a = L.random_directions(model, w, seed=7)
    before = ls.get_num_threads()
    try:
        ls.set_num_threads(1)
        b = L.random_directions(model, w, seed=7)
    finally:
        ls.set_num_threads(before)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, L.random_directions(model, w, seed=8))
    assert a.shape == (model.num_params, 2)


def test_hessian_directions_are_eigenvectors():
    model = mlp()
    w = point(model)
    evals, evecs = np.linalg.eigh(model.hessian(w))
    top = L.hessian_directions(model, w, k=2, which="LA")
    np.testing.assert_allclose(np.abs(top.T @ evecs[:, [-1, -2]]), np.eye(2), atol=1e-6)
    bottom = L.hessian_directions(model, w, k=1, which="SA")
    assert abs(bottom[:, 0] @ evecs[:, 0]) == pytest.approx(1.0, abs=1e-6)


def test_pca_matches_the_svd_of_the_centered_iterates():
    rng = np.random.default_rng(0)
    T, P = 12, 300
    M = rng.standard_normal((T, 3)) @ rng.standard_normal((3, P)) * [[5.0]] + 0.01 * rng.standard_normal((T, P))
    D, ratio = L.pca_directions(M, k=2)
    C = M - M[-1]
    _, s, Vt = np.linalg.svd(C, full_matrices=False)
    np.testing.assert_allclose(np.abs(np.sum(D * Vt[:2].T, axis=0)), 1.0, rtol=1e-10)
    np.testing.assert_allclose(ratio, s[:2] ** 2 / np.sum(s ** 2), rtol=1e-10)
    center = M.mean(axis=0)
    Dc, _ = L.pca_directions(M, k=1, center=center)
    _, _, Vt2 = np.linalg.svd(M - center, full_matrices=False)
    assert abs(Dc[:, 0] @ Vt2[0]) == pytest.approx(1.0, rel=1e-10)


def test_pca_of_a_trajectory():
    model = mlp()
    traj = ls.train(model, point(model), ls.optim.GD(0.05), 20, record=("params",), progress=False)
    D, ratio = L.pca_directions(traj, k=2)
    assert D.shape == (model.num_params, 2) and 0 < ratio[1] <= ratio[0] <= 1
    np.testing.assert_allclose(D.T @ D, np.eye(2), atol=1e-12)


def test_between():
    a, b = np.zeros(4), np.array([3.0, 0, 4, 0])
    np.testing.assert_array_equal(L.between(a, b), [0.6, 0, 0.8, 0])


# ---------------------------------------------------------------------------------- surfaces

def test_a_2d_surface_agrees_with_model_loss_at_every_point():
    model = mlp()
    w = point(model)
    D = L.random_directions(model, w, seed=2)
    x, y = np.linspace(-1, 1, 9), np.linspace(-0.5, 1.5, 7)
    s = L.surface(model, w, D, x, y, metrics=("loss", "grad_norm"), progress=False)
    assert s["loss"].shape == (7, 9) and s.complete
    for i in range(7):
        for j in range(9):
            wp = w + x[j] * D[:, 0] + y[i] * D[:, 1]
            assert s["loss"][i, j] == pytest.approx(model.loss(wp), rel=1e-12)
            assert s["grad_norm"][i, j] == pytest.approx(np.linalg.norm(model.gradient(wp)), rel=1e-12)


def test_eigen_and_accuracy_metrics_at_grid_points():
    model = ce_mlp()
    w = point(model)
    d = L.random_directions(model, w, k=1, seed=4)
    x = np.array([-0.5, 0.0, 0.7])
    s = L.surface(model, w, d, x, metrics=("accuracy", "sharpness", "min_eig"), progress=False)
    for j, xj in enumerate(x):
        wp = w + xj * d[:, 0]
        ev = np.linalg.eigvalsh(model.hessian(wp))
        assert s["sharpness"][j] == pytest.approx(ev[-1], rel=1e-7)
        assert s["min_eig"][j] == pytest.approx(ev[0], rel=1e-6, abs=1e-9 * abs(ev[-1]))
        assert s["accuracy"][j] == np.mean(np.argmax(model.outputs(wp), axis=1) == labels(1, n=30, k=3))


def test_held_out_data_and_samples():
    model = mlp()
    w = point(model)
    d = L.random_directions(model, w, k=1, seed=1)[:, 0]
    X2, Y2 = data(9, n=15, d=4, k=2)
    x = np.linspace(-1, 1, 5)
    s = L.surface(model, w, d, x, data=(X2, Y2), progress=False)
    test = model.with_data(X2, Y2)
    np.testing.assert_allclose(s["loss"], [test.loss(w + xi * d) for xi in x], rtol=1e-12)
    idx = np.array([0, 3, 3, 7])
    s2 = L.surface(model, w, d, x, samples=idx, metrics=("loss", "grad_norm"), progress=False)
    np.testing.assert_allclose(s2["loss"], [model.loss(w + xi * d, samples=idx) for xi in x], rtol=1e-13)


def test_save_load_and_xarray(tmp_path):
    model = mlp()
    w = point(model)
    D = L.random_directions(model, w, seed=2)
    s = L.surface(model, w, D, np.linspace(-1, 1, 4), np.linspace(-1, 1, 3), progress=False)
    s.save(tmp_path / "s.npz")
    back = L.Surface.load(tmp_path / "s.npz")
    np.testing.assert_array_equal(back["loss"], s["loss"])
    np.testing.assert_array_equal(back.directions, D)
    assert back.metadata["fingerprint"] == s.metadata["fingerprint"]
    (tmp_path / "bad.npz").write_bytes(b"junk")
    with pytest.raises(ValueError, match="path: .*bad.npz"):
        L.Surface.load(tmp_path / "bad.npz")


def test_an_interrupted_surface_resumes_to_the_same_file(tmp_path, monkeypatch):
    model = mlp()
    w = point(model)
    D = L.random_directions(model, w, seed=2)
    x, y = np.linspace(-1, 1, 6), np.linspace(-1, 1, 5)
    full = L.surface(model, w, D, x, y, metrics=("loss", "grad_norm"), progress=False, out=tmp_path / "full.npz")
    monkeypatch.setattr(L, "_CHUNK_BYTES", 8 * model.num_params * 4)  # 4 points a call
    calls = {"n": 0}
    real = ls.Model.losses

    def flaky(self, W, **kw):
        calls["n"] += 1
        if calls["n"] == 4:
            raise KeyboardInterrupt
        return real(self, W, **kw)

    monkeypatch.setattr(ls.Model, "losses", flaky)
    with pytest.raises(KeyboardInterrupt):
        L.surface(model, w, D, x, y, metrics=("loss", "grad_norm"), progress=False, out=tmp_path / "part.npz")
    part = L.Surface.load(tmp_path / "part.npz")
    assert part.done.sum() == 12 and not part.complete  # three calls of four points finished
    calls["n"] = 10
    done = L.surface(model, w, D, x, y, metrics=("loss", "grad_norm"), progress=False, out=tmp_path / "part.npz")
    np.testing.assert_array_equal(done["loss"], full["loss"])
    np.testing.assert_array_equal(done["grad_norm"], full["grad_norm"])
    final = L.Surface.load(tmp_path / "part.npz")
    assert final.complete
    np.testing.assert_array_equal(final["loss"], L.Surface.load(tmp_path / "full.npz")["loss"])
    with pytest.raises(ValueError, match="out: .*other arguments"):
        L.surface(model, w, D, x, y[:-1], progress=False, out=tmp_path / "part.npz")


# ---------------------------------------------------------------------------- projections

def test_a_point_in_the_plane_projects_to_its_coordinates():
    rng = np.random.default_rng(0)
    P = 50
    w, D = rng.standard_normal(P), rng.standard_normal((P, 2))
    coords = np.array([[0.3, -1.2], [2.0, 0.5]])
    pts = w + coords @ D.T
    off = pts[1] + 0.1 * np.linalg.svd(D, full_matrices=True)[0][:, 2]  # 0.1 off the plane
    got, resid = L.project(np.vstack([pts, off]), w, D)
    np.testing.assert_allclose(got[:2], coords, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(resid, [0, 0, 0.1], atol=1e-12)


# ---------------------------------------------------------------------------------- paths

def test_barrier_of_a_convex_quadratic_is_not_positive():
    X, Y = data(2, n=10, d=4)
    model = ls.LeastSquares(X, Y[:, 0])
    p = L.interpolate(model, np.zeros(4), np.ones(4) * 3, num=31)
    assert p.barrier <= 1e-12 and p.barrier_t in (0.0, 1.0)


def test_barrier_of_the_product_double_well():
    """½(x₁x₂ − 1)² from (1, 1) to (−1, −1): ½((1 − 2t)² − 1)², barrier ½ at t = ½."""
    p = L.interpolate(ls.ProductToy(2), [1.0, 1.0], [-1.0, -1.0], num=101, points=True)
    assert p.barrier == pytest.approx(0.5, rel=1e-14) and p.barrier_t == pytest.approx(0.5)
    t = p.t
    np.testing.assert_allclose(p["loss"], 0.5 * ((1 - 2 * t) ** 2 - 1) ** 2, rtol=1e-13, atol=1e-15)
    assert p.points.shape == (2, 101)


# ---------------------------------------------------------------------------------- bad input

def test_bad_input_names_the_argument(tmp_path):
    model = mlp()
    w = point(model)
    P = model.num_params
    D = L.random_directions(model, w)
    x = np.linspace(-1, 1, 3)
    cases = [
        (lambda: L.surface(model, w, D[:-1], x, x), ValueError, "^directions: expected shape"),
        (lambda: L.surface(model, w, np.zeros((P, 2)), x, x), ValueError, "^directions: direction 0 is zero"),
        (lambda: L.surface(model, w, np.where(np.arange(P)[:, None] == 0, np.nan, D), x, x), ValueError,
         "^directions: contains NaN"),
        (lambda: L.surface(model, w, D, [0.0, np.nan], x), ValueError, "^x: contains NaN"),
        (lambda: L.surface(model, w, D, x, [1.0, 0.0]), ValueError, "^y: coordinates must be strictly increasing"),
        (lambda: L.surface(model, w, D, [0.0, 0.0], x), ValueError, "^x: coordinates must be strictly increasing"),
        (lambda: L.surface(model, w, D, x), ValueError, "^y: a 2-D slice"),
        (lambda: L.surface(model, w, D[:, :1], x, x), ValueError, "^y: a 1-D slice"),
        (lambda: L.surface(model, w, D, x, x, metrics=("bogus",)), ValueError, "^metrics: unknown metric"),
        (lambda: L.surface(model, w, D, x, x, metrics=("accuracy",)), ValueError, "^metrics: 'accuracy' needs"),
        (lambda: L.surface(model, w[:-1], D, x, x), ValueError, "^w: expected"),
        (lambda: L.interpolate(model, w, w[:-1]), ValueError, "^w_b: expected"),
        (lambda: L.interpolate(model, w, w, num=1), ValueError, "^num: expected"),
        (lambda: L.random_directions(model, w, normalization="row"), ValueError, "^normalization: expected"),
        (lambda: L.random_directions(model, w, ignore="weights"), ValueError, "^ignore: expected"),
        (lambda: L.random_directions(model, w, k=0), ValueError, "^k: expected"),
        (lambda: L.between(w, w), ValueError, "^w_b: equals w_a"),
        (lambda: L.pca_directions(np.ones((3, P)), k=1), ValueError, "^k: the 3 iterates span 0"),
        (lambda: L.project(np.ones((2, P)), w, np.hstack([D, D[:, :1]])), ValueError, "^directions: linearly dependent"),
        (lambda: L.surface("m", w, D, x, x), TypeError, "^model: expected a landscope model"),
    ]
    for call, exc, match in cases:
        with pytest.raises(exc, match=match):
            call()


def test_to_xarray():
    xr = pytest.importorskip("xarray")
    model = mlp()
    w = point(model)
    D = L.random_directions(model, w, seed=2)
    x, y = np.linspace(-1, 1, 4), np.linspace(0, 1, 3)
    s = L.surface(model, w, D, x, y, metrics=("loss", "grad_norm"), progress=False)
    ds = s.to_xarray()
    assert isinstance(ds, xr.Dataset) and ds["loss"].dims == ("y", "x")
    np.testing.assert_array_equal(ds["loss"].values, s["loss"])
    assert float(ds["loss"].sel(x=x[2], y=y[1])) == s["loss"][1, 2]


@pytest.mark.slow
def test_the_landscape_bench_runs(tmp_path):
    import json

    import bench_landscape

    assert bench_landscape.main(["--quick", "--repeats", "1", "--json", str(tmp_path / "b.json")]) == 0
    report = json.loads((tmp_path / "b.json").read_text())
    assert all(r["max_rel_diff"] < 1e-10 for r in report["results"])
    rows = {(r["endpoints"], r["path"].split(",")[0]): r for r in report["connectivity"]}
    assert rows[("aligned", "linear")]["barrier"] < rows[("as trained", "linear")]["barrier"]
    assert rows[("as trained", "bezier")]["max_loss"] < rows[("as trained", "linear")]["max_loss"]


def test_surface_metadata_records_how_the_directions_were_made(tmp_path):
    model = mlp()
    w = point(model)
    D = L.random_directions(model, w, seed=11, normalization="layer")
    assert D.metadata == {"kind": "random", "seed": 11, "normalization": "layer", "ignore": "biases"}
    s = L.surface(model, w, D, np.linspace(-1, 1, 3), np.linspace(-1, 1, 2), progress=False)
    assert s.metadata["directions"]["seed"] == 11 and s.metadata["version"] == ls.__version__
    s.save(tmp_path / "s.npz")
    assert L.Surface.load(tmp_path / "s.npz").metadata["directions"]["normalization"] == "layer"
    assert type(s.directions) is np.ndarray
