"""The identities and theorems of DESIGN §1 that the derivatives must reproduce."""
import numpy as np
import pytest
from models_zoo import data

import landscope as ls


@pytest.mark.parametrize("d", [2, 3, 5, 8])
def test_product_toy_closed_form(d):
    rng = np.random.default_rng(d)
    x = rng.uniform(-1.5, 1.5, d)
    model = ls.ProductToy(d)
    p = np.prod(x)
    grad_p = np.array([np.prod(np.delete(x, k)) for k in range(d)])
    second = np.array([[0.0 if k == l else np.prod(np.delete(x, [k, l])) for l in range(d)] for k in range(d)])
    np.testing.assert_allclose(model.loss(x), 0.5 * (p - 1) ** 2, rtol=1e-14)
    np.testing.assert_allclose(model.gradient(x), (p - 1) * grad_p, rtol=1e-13)
    np.testing.assert_allclose(model.hessian(x), np.outer(grad_p, grad_p) + (p - 1) * second, rtol=1e-13, atol=1e-15)


def test_product_toy_saddle_at_origin():
    model = ls.ProductToy(2)
    x = np.zeros(2)
    np.testing.assert_array_equal(model.gradient(x), [0.0, 0.0])
    H = model.hessian(x)
    np.testing.assert_array_equal(H, [[0.0, -1.0], [-1.0, 0.0]])
    np.testing.assert_allclose(np.linalg.eigvalsh(H), [-1.0, 1.0])
    # A global minimum on x1 x2 = 1: zero gradient, PSD Hessian with a flat direction.
    x = np.array([2.0, 0.5])
    assert model.loss(x) == 0.0
    eig = np.linalg.eigvalsh(model.hessian(x))
    assert abs(eig[0]) < 1e-15 and eig[1] > 0


@pytest.mark.parametrize("d", [3, 4, 6])
def test_product_toy_saddles_with_two_zeros(d):
    """With two or more coordinates at zero the gradient vanishes (a saddle of DESIGN §1)."""
    x = np.random.default_rng(0).uniform(0.5, 1.5, d)
    x[[0, 2]] = 0.0
    model = ls.ProductToy(d)
    np.testing.assert_array_equal(model.gradient(x), np.zeros(d))
    eig = np.linalg.eigvalsh(model.hessian(x))
    assert eig[0] < 0 < eig[-1]


@pytest.mark.parametrize("make", [
    lambda X, Y: ls.ShallowNet(X, Y[:, 0], 16, activation="tanh"),
    lambda X, Y: ls.MLP(X, Y, [8, 8], activation="gelu"),
    lambda X, Y: ls.MLP(X, Y, [8], activation="softplus", parameterization="standard", bias=True),
    lambda X, Y: ls.DeepLinear(X, Y, [5, 5]),
])
def test_pl_star_inequality_from_the_kernel(make):
    """‖∇L‖² = rᵀ K r ≥ 2 λ_min(K) L for the square loss with sum reduction."""
    X, Y = data(11, n=10, d=4, k=1)
    model = make(X, Y)
    rng = np.random.default_rng(1)
    for _ in range(5):
        w = rng.standard_normal(model.num_params)
        L, g = model.loss_and_gradient(w)
        K = model.tangent_kernel(w)
        r = model.residuals(w).ravel()
        np.testing.assert_allclose(g @ g, r @ K @ r, rtol=1e-11)
        lam = np.linalg.eigvalsh(K)[0]
        assert g @ g >= 2 * lam * L * (1 - 1e-12)


def test_deep_linear_at_least_squares_solution():
    """DeepLinear's loss at a factorization of the least-squares solution equals LeastSquares'."""
    X, Y = data(5, n=20, d=4, k=2)
    W_star = np.linalg.lstsq(X, Y, rcond=None)[0].T  # k x d
    ls_model = ls.LeastSquares(X, Y)
    deep = ls.DeepLinear(X, Y, [4, 6])
    rng = np.random.default_rng(0)
    W1 = rng.standard_normal((4, 4))
    W2 = rng.standard_normal((6, 4))
    # W3 W2 W1 = W_star with W3 = W_star (W2 W1)^+
    W3 = W_star @ np.linalg.pinv(W2 @ W1)
    w = np.concatenate([W1.ravel(), W2.ravel(), W3.ravel()])
    L_ls = ls_model.loss(W_star.ravel())
    np.testing.assert_allclose(deep.loss(w), L_ls, rtol=1e-10)
    assert np.linalg.norm(ls_model.gradient(W_star.ravel())) < 1e-10
    assert np.linalg.norm(deep.gradient(w)) < 1e-9


def test_gauss_newton_rank_deficient_when_overparameterized():
    """m ≫ n: G has rank n, so H = G + R is not PSD near interpolation only through R."""
    X, Y = data(3, n=5, d=3, k=1)
    model = ls.ShallowNet(X, Y[:, 0], 40, activation="tanh")
    w = model.init(seed=0)
    G, R = model.hessian_parts(w)
    assert model.num_params == 120
    assert np.linalg.matrix_rank(G) == 5
