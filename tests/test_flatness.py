"""Flatness measures at a point (landscope._flatness) against analytic constants of quadratics."""
import math

import numpy as np
import pytest

import landscope as ls
from landscope._flatness import MEASURES, Flatness, flatness


def _quadratic(lams, n=40, seed=0, interpolate=False):
    """LeastSquares with orthogonal columns of norms sqrt(lams): H = XᵀX = diag(lams); and w*."""
    rng = np.random.default_rng(seed)
    lams = np.asarray(lams, dtype=float)
    Q, _ = np.linalg.qr(rng.standard_normal((n, lams.size)))
    X = Q * np.sqrt(lams)
    y = X @ rng.standard_normal(lams.size) if interpolate else rng.standard_normal(n)
    w = np.linalg.lstsq(X, y, rcond=None)[0]
    return ls.LeastSquares(X, y), w, lams


LAMS = [9.0, 4.0, 2.0, 1.0, 0.5, 0.3, 0.2, 0.1]


@pytest.fixture(scope="module")
def quad():
    model, w, lams = _quadratic(LAMS)
    return model, w, lams, flatness(model, w, radius=1e-2, samples=200, steps=20, seed=0, progress=False)


@pytest.fixture
def restore_threads():
    yield
    ls.set_num_threads(None)


def _rel(a, b):
    return abs(a - b) / abs(b)


def test_hessian_is_the_chosen_diagonal(quad):
    model, w, lams, _ = quad
    np.testing.assert_allclose(model.hessian(w), np.diag(lams), atol=1e-12)
    assert np.linalg.norm(model.gradient(w)) < 1e-12


def test_lambda_max(quad):
    _, _, lams, f = quad
    assert _rel(f["lambda_max"], lams.max()) < 1e-8
    assert 0 <= f.errors["lambda_max"] < 1e-6 * lams.max()


def test_lambda_max_by_lanczos():
    # P = 60 > the Lanczos basis: solved iteratively, not densely
    lams = np.concatenate([[10.0, 5.0], np.linspace(0.1, 2.0, 58)])
    model, w, _ = _quadratic(lams, n=80, seed=1)
    f = flatness(model, w, "lambda_max", tol=1e-8, progress=False)
    assert _rel(f["lambda_max"], 10.0) < 1e-8
    assert f.errors["lambda_max"] <= 1e-8 * 10.0 * 1.01
    assert f.products > 0 and list(f.values) == ["lambda_max"]


def test_trace_exact_when_the_sketch_covers_H(quad):
    # Hutch++ with max(samples, 4) // 3 = 66 >= P = 8 sketch vectors: Q spans R^P, so it is exact
    _, _, lams, f = quad
    assert _rel(f["trace"], lams.sum()) < 1e-10
    assert f.errors["trace"] < 1e-10


def test_trace_within_standard_errors():
    lams = np.linspace(0.5, 3.0, 20)
    model, w, _ = _quadratic(lams, n=50, seed=2)
    f = flatness(model, w, "trace", samples=30, seed=3, progress=False)  # sketch of 10 < P = 20
    assert f.errors["trace"] > 0
    assert abs(f["trace"] - lams.sum()) <= 3 * f.errors["trace"]
    assert f.products == 30


def test_sam_sharpness_is_half_rho2_lambda_max(quad):
    _, _, lams, f = quad
    assert _rel(f["sam_sharpness"], 1e-2**2 * lams.max() / 2) < 1e-6
    e = f.perturbations["sam_sharpness"]
    assert np.linalg.norm(e) <= 1e-2 * (1 + 1e-12)
    assert abs(abs(e[0]) / np.linalg.norm(e) - 1) < 1e-6  # along the top eigenvector e_1


def test_sam_sharpness_interpolating_minimum():
    # L(w*) = 0: no cancellation at all, and a different radius
    model, w, lams = _quadratic([3.0, 1.0, 0.7, 0.2, 0.1], n=12, seed=4, interpolate=True)
    f = flatness(model, w, ("sam_sharpness", "epsilon_sharpness"), radius=0.3, progress=False)
    assert _rel(f["sam_sharpness"], 0.3**2 * 3.0 / 2) < 1e-6
    box = 0.5 * np.sum(lams * (0.3 * (np.abs(w) + 1)) ** 2)
    assert _rel(f["epsilon_sharpness"], box) < 1e-6


def test_average_sharpness_within_standard_errors(quad):
    _, _, lams, f = quad
    expected = 1e-2**2 * lams.sum() / 2
    assert f.errors["average_sharpness"] > 0
    assert abs(f["average_sharpness"] - expected) <= 4 * f.errors["average_sharpness"]


def test_average_sharpness_is_chunked_and_uses_the_batched_evaluator(monkeypatch):
    import landscope._flatness as fl

    model, w, lams = _quadratic(LAMS, seed=5)
    whole = flatness(model, w, "average_sharpness", samples=50, seed=7, progress=False)
    calls = []
    real = type(model).losses

    def spy(self, W, **kw):
        calls.append(np.shape(W))
        return real(self, W, **kw)

    monkeypatch.setattr(type(model), "losses", spy)
    monkeypatch.setattr(type(model), "loss", lambda *a, **k: pytest.fail("model.loss called per draw"))
    monkeypatch.setattr(fl, "CHUNK_BYTES", 8 * model.num_params * 16)  # 8 draws (16 points, ±z) per call
    chunked = flatness(model, w, "average_sharpness", samples=50, seed=7, progress=False)
    assert calls[1:] == [(8, 16)] * 6 + [(8, 4)]
    # the draws do not depend on the chunking
    assert chunked["average_sharpness"] == pytest.approx(whole["average_sharpness"], rel=1e-12)
    assert chunked.errors["average_sharpness"] == pytest.approx(whole.errors["average_sharpness"], rel=1e-10)
    assert chunked.loss_evaluations == 2 * 50 + 1 + 1


def test_epsilon_sharpness_diagonal_is_any_vertex(quad):
    _, w, lams, f = quad
    r = 1e-2 * (np.abs(w) + 1)
    assert _rel(f["epsilon_sharpness"], 0.5 * np.sum(lams * r**2)) < 1e-6
    e = f.perturbations["epsilon_sharpness"]
    np.testing.assert_allclose(np.abs(e), r, rtol=1e-14)  # a vertex of the box
    assert f.epsilon_sharpness_ratio == pytest.approx(100 * f["epsilon_sharpness"] / (1 + f.loss))


def test_errors_are_nan_for_the_maxima(quad):
    f = quad[3]
    assert math.isnan(f.errors["epsilon_sharpness"]) and math.isnan(f.errors["sam_sharpness"])
    assert list(f.values) == list(MEASURES) and set(f.errors) == set(MEASURES)


def test_result_type(quad):
    f = quad[3]
    assert isinstance(f, Flatness)
    assert f["trace"] == f.values["trace"] and "trace" in f and list(f) == list(MEASURES)
    assert f.radius == 1e-2 and f.seed == 0
    with pytest.raises(Exception):
        f.radius = 2.0  # frozen
    with pytest.raises(KeyError, match="not computed"):
        flatness(quad[0], quad[1], "trace", progress=False)["lambda_max"]
    text = repr(f)
    for name in MEASURES:
        assert name in text
    assert "products=" in text and "radius=0.01" in text


def _mlp():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((60, 5))
    y = np.tanh(X @ rng.standard_normal(5))
    net = ls.MLP(X, y, [8], activation="tanh")
    return net, net.init(seed=0)


def test_nonlinear_model_is_finite_and_beats_the_sam_step():
    net, w = _mlp()
    rho = 0.05
    f = flatness(net, w, radius=rho, samples=64, steps=10, progress=False)
    assert all(math.isfinite(v) for v in f.values.values())
    assert f["lambda_max"] > 0 and f["trace"] != 0
    g = net.gradient(w)
    single = net.loss(w + rho * g / np.linalg.norm(g)) - net.loss(w)
    assert single > 0
    assert f["sam_sharpness"] >= single
    # first-order: the box contains a ball of radius rho, so its max is at least the ball's
    assert f["epsilon_sharpness"] >= f["sam_sharpness"]
    assert np.linalg.norm(f.perturbations["sam_sharpness"]) <= rho * (1 + 1e-12)
    e = f.perturbations["epsilon_sharpness"]
    assert np.all(np.abs(e) <= rho * (np.abs(w) + 1) * (1 + 1e-15))
    assert f.gradient_evaluations <= 2 * (10 + 1)


def test_reproducible_and_thread_independent(restore_threads):
    net, w = _mlp()
    kw = dict(radius=0.02, samples=40, steps=8, seed=11, progress=False)
    a = flatness(net, w, **kw)
    b = flatness(net, w, **kw)
    assert a.values == b.values and a.errors == b.errors and a.products == b.products
    results = []
    for threads in (1, 2):
        ls.set_num_threads(threads)
        results.append(flatness(net, w, **kw))
    for name in MEASURES:
        for r in results:
            assert r[name] == pytest.approx(a[name], rel=1e-12, abs=0)
    c = flatness(net, w, **{**kw, "seed": 12})
    assert c["average_sharpness"] != a["average_sharpness"]


def test_a_measure_does_not_depend_on_the_others():
    net, w = _mlp()
    kw = dict(radius=0.02, samples=30, steps=5, seed=3, progress=False)
    full = flatness(net, w, **kw)
    for name in MEASURES:
        alone = flatness(net, w, name, **kw)
        assert list(alone.values) == [name]
        assert alone[name] == pytest.approx(full[name], rel=1e-12)


def test_critical_point_sam_starts_from_a_seeded_direction():
    # an exact critical point (g = 0): SAM's step is undefined, the ascent starts at random
    lams = np.array([2.0, 1.0, 0.5])
    model, w = ls.LeastSquares(np.diag(np.sqrt(lams)), np.zeros(3)), np.zeros(3)
    assert not np.any(model.gradient(w))
    f = flatness(model, w, ("sam_sharpness", "epsilon_sharpness"), radius=0.1, steps=30, progress=False)
    assert _rel(f["sam_sharpness"], 0.1**2 * 2.0 / 2) < 1e-6
    assert _rel(f["epsilon_sharpness"], 0.5 * np.sum(lams) * 0.1**2) < 1e-12


# ------------------------------------------------------------------------------- bad input

@pytest.mark.parametrize("kwargs, name", [
    (dict(w=np.zeros(3)), "w"),
    (dict(w=np.full(8, np.nan)), "w"),
    (dict(w=np.r_[np.zeros(7), np.inf]), "w"),
    (dict(w=np.zeros((8, 1))), "w"),
    (dict(w="abc"), "w"),
    (dict(measures=("trace", "sharpness")), "measures"),
    (dict(measures="lambda"), "measures"),
    (dict(measures=()), "measures"),
    (dict(measures=(1,)), "measures"),
    (dict(measures=5), "measures"),
    (dict(radius=0.0), "radius"),
    (dict(radius=-1e-2), "radius"),
    (dict(radius=math.inf), "radius"),
    (dict(radius=math.nan), "radius"),
    (dict(radius="0.1"), "radius"),
    (dict(samples=0), "samples"),
    (dict(samples=2.5), "samples"),
    (dict(samples=True), "samples"),
    (dict(steps=0), "steps"),
    (dict(steps=1.0), "steps"),
    (dict(seed=-1), "seed"),
    (dict(seed=2**64), "seed"),
    (dict(seed=1.5), "seed"),
    (dict(tol=0.0), "tol"),
    (dict(tol=1.0), "tol"),
    (dict(progress="yes"), "progress"),
])
def test_bad_input_names_the_argument(quad, kwargs, name):
    model, w = quad[0], quad[1]
    args = {"w": w, **kwargs}
    with pytest.raises((TypeError, ValueError), match=f"^{name}:"):
        flatness(model, **args)


def test_unknown_measure_lists_the_valid_ones(quad):
    with pytest.raises(ValueError, match="measures") as info:
        flatness(quad[0], quad[1], ("lambda_max", "flatness"))
    for name in MEASURES:
        assert name in str(info.value)


def test_model_must_be_a_model(quad):
    with pytest.raises(TypeError, match="^model:"):
        flatness(lambda w: 0.0, quad[1])


def test_largest_seed_is_accepted(quad):
    f = flatness(quad[0], quad[1], ("average_sharpness", "trace"), seed=2**64 - 1, samples=8, progress=False)
    assert all(math.isfinite(v) for v in f.values.values())
