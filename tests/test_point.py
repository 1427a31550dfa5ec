"""Model.at(w): the point object serves every quantity of the Model methods from one cache, and
Model.losses evaluates many points at once."""
import gc
import threading

import numpy as np
import pytest

import landscope as ls
from models_zoo import CASES, point

NAMES = sorted(CASES)


@pytest.fixture(params=NAMES)
def case(request):
    model = CASES[request.param]()
    return model, point(model)


def test_point_matches_the_model_methods(case):
    model, w = case
    p = model.at(w)
    rng = np.random.default_rng(0)
    V = rng.standard_normal((model.num_params, 3))
    U = rng.standard_normal((model.num_outputs, 2))
    assert p.loss() == model.loss(w)
    np.testing.assert_array_equal(p.gradient(), model.gradient(w))
    assert p.grad_norm() == pytest.approx(np.linalg.norm(model.gradient(w)), rel=1e-15)
    np.testing.assert_array_equal(p.outputs(), model.outputs(w))
    np.testing.assert_array_equal(p.residuals(), model.residuals(w))
    np.testing.assert_array_equal(p.jacobian(), model.jacobian(w))
    np.testing.assert_array_equal(p.tangent_kernel(), model.tangent_kernel(w))
    np.testing.assert_array_equal(p.jvp(V), model.jvp(w, V))
    np.testing.assert_array_equal(p.vjp(U), model.vjp(w, U))
    np.testing.assert_array_equal(p.gauss_newton_vp(V), model.gauss_newton_vp(w, V))
    np.testing.assert_array_equal(p.hessian(), model.hessian(w))
    G, R = p.hessian_parts()
    G0, R0 = model.hessian_parts(w)
    np.testing.assert_array_equal(G, G0)
    np.testing.assert_array_equal(R, R0)
    # H v from the cached passes: the same arithmetic as the uncached product
    scale = np.abs(model.hessian(w)).max() * np.abs(V).sum(axis=0).max()
    np.testing.assert_allclose(p.hvp(V), model.hvp(w, V), rtol=0, atol=1e-13 * scale)
    np.testing.assert_allclose(p.hvp(V[:, 0]), model.hvp(w, V[:, 0]), rtol=0, atol=1e-13 * scale)
    np.testing.assert_allclose(p.hessian_operator().matmat(V), model.hvp(w, V), rtol=0, atol=1e-13 * scale)
    np.testing.assert_allclose(p.kernel_operator().matmat(U), model.tangent_kernel(w) @ U, rtol=1e-12,
                               atol=1e-12 * np.abs(U).sum())


def test_loss_and_gradient_after_the_curvature_pass_are_bit_identical(case):
    """After the second-order pass the loss and gradient come from it, unchanged to the bit."""
    model, w = case
    p = model.at(w)
    p.hvp(np.ones(model.num_params))
    assert p.loss() == model.loss(w)
    np.testing.assert_array_equal(p.gradient(), model.gradient(w))
    assert p.loss_and_gradient()[0] == model.loss_and_gradient(w)[0]


def test_point_on_samples():
    model = CASES["mlp_std_bias_res_tanh"]()
    w = point(model)
    idx = np.array([0, 2, 2, 5])
    p = model.at(w, samples=idx)
    assert p.loss() == model.loss(w, samples=idx)
    np.testing.assert_array_equal(p.gradient(), model.gradient(w, samples=idx))
    v = np.random.default_rng(1).standard_normal(model.num_params)
    np.testing.assert_allclose(p.hvp(v), model.hvp(w, v, samples=idx), rtol=1e-12, atol=1e-13)


def test_the_point_outlives_its_python_handle():
    model = CASES["mlp_ntk_gelu"]()
    w = point(model)
    op = model.at(w).hessian_operator()
    gc.collect()
    v = np.ones((model.num_params, 1))
    np.testing.assert_allclose(op.matmat(v)[:, 0], model.hvp(w, v[:, 0]), rtol=1e-12, atol=1e-13)


def test_the_point_copies_w():
    model = CASES["mlp_ntk_tanh"]()
    w = point(model)
    original = w.copy()
    p = model.at(w)
    before = p.loss()
    w += 1.0
    np.testing.assert_array_equal(p.w, original)
    assert p.loss() == before and p.gradient().shape == (model.num_params,)


def test_concurrent_calls_on_one_point_agree():
    model = CASES["mlp_std_bias_res_silu"]()
    w = point(model)
    p = model.at(w)
    out = [None] * 8

    def work(i):
        out[i] = (p.loss(), p.gradient().copy(), p.hvp(np.ones(model.num_params)))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for loss, g, hv in out:
        assert loss == out[0][0]
        np.testing.assert_array_equal(g, out[0][1])
        np.testing.assert_array_equal(hv, out[0][2])


@pytest.mark.parametrize("bad, match", [
    (lambda w: w[:-1], r"^w: expected shape \(\d+,\)"),
    (lambda w: np.where(np.arange(w.size) == 1, np.nan, w), r"^w: contains NaN or Inf"),
])
def test_point_rejects_a_bad_w(bad, match):
    model = CASES["mlp_ntk_tanh"]()
    with pytest.raises(ValueError, match=match):
        model.at(bad(point(model)))


def test_point_rejects_bad_directions_and_samples():
    model = CASES["mlp_ntk_tanh"]()
    p = model.at(point(model))
    with pytest.raises(ValueError, match="^v: expected"):
        p.hvp(np.ones(model.num_params + 1))
    with pytest.raises(ValueError, match="^u: expected"):
        p.vjp(np.ones(model.num_outputs + 1))
    with pytest.raises(ValueError, match="samples"):
        model.at(point(model), samples=np.array([0, 99]))


# ------------------------------------------------------------------------------- losses

def test_losses_match_the_loss_at_each_point(case):
    model, w = case
    rng = np.random.default_rng(2)
    W = w[:, None] + 0.1 * rng.standard_normal((model.num_params, 5))
    if isinstance(model, ls.ProductToy):
        W = np.abs(W)
    L = model.losses(W)
    want = np.array([model.loss(W[:, j]) for j in range(5)])
    np.testing.assert_allclose(L, want, rtol=1e-13, atol=1e-300)
    L2, norms = model.losses(W, grad_norms=True)
    np.testing.assert_array_equal(L2, L) if not isinstance(model, ls.ProductToy) else None
    np.testing.assert_allclose(L2, want, rtol=1e-13, atol=1e-300)
    np.testing.assert_allclose(norms, [np.linalg.norm(model.gradient(W[:, j])) for j in range(5)], rtol=1e-12)
    assert model.losses(w) == pytest.approx(model.loss(w), rel=1e-13)


def test_losses_do_not_depend_on_the_thread_count():
    X = np.random.default_rng(0).standard_normal((1000, 6))
    model = ls.MLP(X, np.sin(X[:, :2]), [16, 16])
    W = model.init(0)[:, None] + 0.1 * np.random.default_rng(1).standard_normal((model.num_params, 7))
    before = ls.get_num_threads()
    try:
        results = []
        for n in (1, 2, 3):
            ls.set_num_threads(n)
            results.append(model.losses(W, grad_norms=True))
    finally:
        ls.set_num_threads(before)
    for L, g in results[1:]:
        np.testing.assert_array_equal(L, results[0][0])
        np.testing.assert_array_equal(g, results[0][1])


def test_losses_reject_bad_input():
    model = CASES["mlp_ntk_tanh"]()
    with pytest.raises(ValueError, match="^W: expected"):
        model.losses(np.ones((model.num_params + 1, 2)))
    W = np.ones((model.num_params, 2))
    W[0, 1] = np.inf
    with pytest.raises(ValueError, match="^W: contains NaN or Inf"):
        model.losses(W)


def test_a_cached_point_survives_a_change_of_the_thread_count():
    """The cached passes keep their blocks; products and gradients stay right when the thread
    count changes in between."""
    X = np.random.default_rng(0).standard_normal((512, 16))
    model = ls.MLP(X, np.tanh(X[:, :2]), [48, 48])
    w = model.init(0)
    v = np.random.default_rng(1).standard_normal(model.num_params)
    before = ls.get_num_threads()
    try:
        for first, second in ((1, 2), (2, 1)):
            ls.set_num_threads(first)
            p = model.at(w)
            p.hvp(v)
            ls.set_num_threads(second)
            np.testing.assert_allclose(p.hvp(v), model.hvp(w, v), rtol=1e-12, atol=1e-12)
            np.testing.assert_allclose(p.gradient(), model.gradient(w), rtol=1e-12, atol=1e-14)
            assert p.loss() == pytest.approx(model.loss(w), rel=1e-14)
    finally:
        ls.set_num_threads(before)
