"""Every model x activation x loss: derivatives against central finite differences, and the
algebraic identities between them."""
import numpy as np
import pytest
from conftest import central_gradient, central_jacobian, rel_err
from models_zoo import CASES, point

import landscope as ls

NAMES = sorted(CASES)


@pytest.fixture(params=NAMES)
def case(request):
    model = CASES[request.param]()
    return model, point(model)


def test_gradient_matches_finite_differences(case):
    model, w = case
    fd = central_gradient(model.loss, w)
    assert rel_err(model.gradient(w), fd) < 1e-7
    loss, g = model.loss_and_gradient(w)
    assert loss == model.loss(w)
    np.testing.assert_array_equal(g, model.gradient(w))


def test_hvp_matches_finite_differences_of_gradient(case):
    model, w = case
    v = np.random.default_rng(7).standard_normal(model.num_params)
    h = 1e-5
    fd = (model.gradient(w + h * v) - model.gradient(w - h * v)) / (2 * h)
    assert rel_err(model.hvp(w, v), fd) < 1e-6


def test_hessian_matches_finite_differences(case):
    model, w = case
    H = model.hessian(w)
    fd = central_jacobian(model.gradient, w)
    assert rel_err(H, fd) < 1e-6
    np.testing.assert_array_equal(H, H.T)


def test_hvp_batched_equals_dense_hessian(case):
    model, w = case
    V = np.random.default_rng(8).standard_normal((model.num_params, 3))
    H = model.hessian(w)
    np.testing.assert_allclose(model.hvp(w, V), H @ V, rtol=1e-10, atol=1e-12 * np.abs(H).max())
    np.testing.assert_allclose(model.hvp(w, V[:, 1]), H @ V[:, 1], rtol=1e-10, atol=1e-12 * np.abs(H).max())


def test_jacobian_and_kernel(case):
    model, w = case
    J = model.jacobian(w)
    assert J.shape == (model.num_outputs, model.num_params)
    fd = central_jacobian(lambda u: model.outputs(u).ravel(), w)
    assert rel_err(J, fd) < 1e-7
    K = model.tangent_kernel(w)
    np.testing.assert_allclose(K, J @ J.T, rtol=1e-12, atol=1e-12 * np.abs(K).max())


def test_gauss_newton_and_residual_split(case):
    model, w = case
    G, R = model.hessian_parts(w)
    H = model.hessian(w)
    scale = np.abs(H).max()
    np.testing.assert_allclose(G + R, H, rtol=0, atol=1e-12 * scale)
    np.testing.assert_array_equal(G, G.T)
    # G = Jᵀ D J has rank <= n·k and is positive semidefinite.
    assert np.linalg.matrix_rank(G, tol=1e-9 * max(np.abs(G).max(), 1e-300)) <= model.num_outputs
    assert np.linalg.eigvalsh(G).min() > -1e-10 * max(scale, 1.0)
    V = np.random.default_rng(9).standard_normal((model.num_params, 2))
    np.testing.assert_allclose(model.gauss_newton_vp(w, V), G @ V, rtol=1e-10, atol=1e-12 * max(scale, 1.0))


def test_minibatch_samples(case):
    model, w = case
    n = model.num_samples
    idx = np.array([0, n - 1, 0]) if n > 1 else np.array([0, 0])
    # A sample list gives the sum of per-sample terms (mean: their average).
    per = [model.loss(w, samples=np.array([i])) for i in idx]
    expected = np.sum(per) if model.reduction == "sum" else np.mean(per)
    assert np.isclose(model.loss(w, samples=idx), expected, rtol=1e-13)
    g = model.gradient(w, samples=idx)
    assert rel_err(g, central_gradient(lambda u: model.loss(u, samples=idx), w)) < 1e-7
    v = np.random.default_rng(2).standard_normal(model.num_params)
    h = 1e-5
    fd = (model.gradient(w + h * v, samples=idx) - model.gradient(w - h * v, samples=idx)) / (2 * h)
    assert rel_err(model.hvp(w, v, samples=idx), fd) < 1e-6


def test_outputs_and_residuals(case):
    model, w = case
    F = model.outputs(w)
    # The shape of y as given: the zoo's ShallowNets get a 1-D y, the other models an (n, k) one.
    if isinstance(model, ls.ShallowNet):
        assert F.shape == (model.num_samples,)
    else:
        assert F.shape == (model.num_samples, model.output_dim)
    r = model.residuals(w)
    assert r.shape == F.shape
    if getattr(model, "loss_name", "square") == "square":
        scale = 1.0 if model.reduction == "sum" else 1.0 / model.num_samples
        assert np.isclose(model.loss(w), 0.5 * scale * (r**2).sum(), rtol=1e-13)
    else:
        np.testing.assert_allclose(r.sum(axis=1), 0.0, atol=1e-14)  # softmax − onehot


def test_unflatten_layout(case):
    model, w = case
    blocks = model.unflatten(w)
    assert sum(b.size for b in blocks.values()) == model.num_params
    flat = np.concatenate([b.ravel() for b in blocks.values()])
    np.testing.assert_array_equal(flat, w)


def test_wide_block_of_directions_equals_dense_products():
    """60 directions at once through every block product (fresh and cached passes) equal the
    dense matrices' products, and each column equals its single-direction product."""
    rng = np.random.default_rng(10)
    X = rng.standard_normal((400, 8))
    net = ls.MLP(X, np.tanh(X[:, 0]), [40, 40], activation="tanh", bias=True)
    w = point(net)
    V = rng.standard_normal((net.num_params, 60))
    H = net.hessian(w)
    G, _ = net.hessian_parts(w)
    J = net.jacobian(w)
    tol = dict(rtol=1e-10, atol=1e-12 * np.abs(H).max())
    np.testing.assert_allclose(net.hvp(w, V), H @ V, **tol)
    np.testing.assert_allclose(net.at(w).hvp(V), H @ V, **tol)  # the cached passes
    np.testing.assert_allclose(net.hessian_operator(w).matmat(V), H @ V, **tol)
    np.testing.assert_allclose(net.gauss_newton_vp(w, V), G @ V, **tol)
    np.testing.assert_allclose(net.jvp(w, V), J @ V, rtol=1e-10, atol=1e-12 * np.abs(J).max())
    single = np.column_stack([net.hvp(w, V[:, c]) for c in (0, 29, 59)])
    np.testing.assert_allclose(net.hvp(w, V)[:, [0, 29, 59]], single, rtol=1e-12, atol=1e-14 * np.abs(H).max())
