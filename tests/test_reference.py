"""landscope against the independent vectorized numpy implementation in bench/reference.py."""
import numpy as np
import pytest
import reference
from conftest import rel_err
from models_zoo import ACTIVATIONS, data, labels

import landscope as ls


def pairs():
    X, Y = data(2, n=9, d=4, k=2)
    y = Y[:, 0]
    lab = labels(2, n=9, k=3)
    out = {
        "least_squares": (ls.LeastSquares(X, Y), reference.make_least_squares(X, Y)),
        "deep_linear": (ls.DeepLinear(X, Y, [5, 3], reduction="mean"),
                        reference.make_deep_linear(X, Y, [5, 3], reduction="mean")),
        "product_toy": (ls.ProductToy(4), reference.make_product_toy(4)),
        "shallow_train_v": (ls.ShallowNet(X, y, 6, activation="silu", train_output=True),
                            reference.make_shallow(X, y, 6, activation="silu", train_output=True)),
    }
    for act in ACTIVATIONS:
        out[f"shallow_{act}"] = (ls.ShallowNet(X, y, 7, activation=act),
                                 reference.make_shallow(X, y, 7, activation=act))
        out[f"mlp_{act}"] = (ls.MLP(X, Y, [5, 5], activation=act, bias=True, residual=True),
                             reference.make_mlp(X, Y, [5, 5], activation=act, bias=True, residual=True))
        out[f"mlp_std_{act}"] = (ls.MLP(X, Y, [6, 4], activation=act, parameterization="standard"),
                                 reference.make_mlp(X, Y, [6, 4], activation=act, parameterization="standard"))
        out[f"mlp_ce_{act}"] = (
            ls.MLP(X, lab, [5], activation=act, loss="cross_entropy", reduction="mean", num_classes=3),
            reference.make_mlp(X, lab, [5], activation=act, loss="cross_entropy", reduction="mean",
                               num_classes=3))
    return out


PAIRS = pairs()


@pytest.fixture(params=sorted(PAIRS))
def pair(request):
    model, ref = PAIRS[request.param]
    rng = np.random.default_rng(4)
    w = rng.standard_normal(model.num_params)
    if isinstance(model, ls.ProductToy):
        w = 0.5 + rng.random(model.num_params)
    return model, ref, w


def test_against_numpy_reference(pair):
    model, ref, w = pair
    assert model.num_params == ref.num_params
    np.testing.assert_allclose(model.loss(w), ref.loss(w), rtol=1e-13)
    F, F_ref = model.outputs(w), ref.outputs(w)  # ours has the shape of y: (n,) for a 1-D y
    assert F.shape == ((model.num_samples,) if isinstance(model, ls.ShallowNet) else F_ref.shape)
    assert rel_err(F.reshape(F_ref.shape), F_ref) < 1e-13
    assert rel_err(model.gradient(w), ref.gradient(w)) < 1e-12
    V = np.random.default_rng(5).standard_normal((model.num_params, 2))
    assert rel_err(model.hvp(w, V), ref.hvp(w, V)) < 1e-12
    assert rel_err(model.jacobian(w), ref.jacobian(w)) < 1e-12
    assert rel_err(model.tangent_kernel(w), ref.tangent_kernel(w)) < 1e-12
    H = ref.hessian(w)
    assert rel_err(model.hessian(w), H) < 1e-12
    G, R = model.hessian_parts(w)
    assert rel_err(G, ref.gauss_newton(w)) < 1e-12
    idx = np.array([0, model.num_samples - 1, 0])
    np.testing.assert_allclose(model.loss(w, samples=idx), ref.loss(w, samples=idx), rtol=1e-13)
    assert rel_err(model.gradient(w, samples=idx), ref.gradient(w, samples=idx)) < 1e-12
    assert rel_err(model.hvp(w, V, samples=idx), ref.hvp(w, V, samples=idx)) < 1e-12
    ours, theirs = model.unflatten(w), ref.unflatten(w)
    assert list(ours) == list(theirs)
    for key in ours:
        np.testing.assert_array_equal(np.ravel(ours[key]), np.ravel(theirs[key]))


@pytest.mark.parametrize("act", ["tanh", "sigmoid", "softplus", "gelu", "silu"])
def test_activations_to_double_precision(act):
    """Our vectorized activations and their derivatives against numpy over a wide range."""
    x = np.concatenate([np.linspace(-40, 40, 2001), np.geomspace(1e-12, 30, 500), -np.geomspace(1e-12, 30, 500)])
    X = x.reshape(-1, 1)
    model = ls.ShallowNet(X, np.zeros(x.size), 1, activation=act, output_weights=np.array([1.0]))
    # With w = 1 and v = 1: F = σ(x), ∂F/∂w = σ'(x) x, and the loss Hessian holds σ''.
    one = np.array([1.0])
    ref_val, ref_d1, _ = reference.activation(act, x, order=2)
    np.testing.assert_allclose(model.outputs(one), ref_val, rtol=5e-15, atol=1e-15)
    err = np.abs(model.jacobian(one)[:, 0] - ref_d1 * x)
    assert np.all(err <= 5e-15 * np.abs(ref_d1 * x) + 1e-15 * np.abs(x)), err.max()


def test_tanh_derivative_keeps_relative_precision_in_the_tails():
    """sech² is evaluated without cancellation: relative accuracy holds far out (vs long double)."""
    x = np.array([-40.0, -20.0, -5.0, 5.0, 20.0, 40.0])
    model = ls.ShallowNet(x.reshape(-1, 1), np.zeros(6), 1, activation="tanh", output_weights=np.array([1.0]))
    exact = (1 / np.cosh(x.astype(np.longdouble)) ** 2 * x).astype(np.float64)
    np.testing.assert_allclose(model.jacobian(np.array([1.0]))[:, 0], exact, rtol=1e-14)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["S1", "M1"])
def test_benchmark_problems_against_reference(name):
    """The bench problems themselves (P = 4096 and 3120), checked against numpy."""
    import bench_derivatives

    model, ref, w = bench_derivatives.build(name)
    v = np.random.default_rng(0).standard_normal(model.num_params)
    assert rel_err(model.gradient(w), ref.gradient(w)) < 1e-12
    assert rel_err(model.hvp(w, v), ref.hvp(w, v)) < 1e-12
    assert rel_err(model.hessian(w), ref.hessian(w)) < 1e-12
    assert rel_err(model.tangent_kernel(w), ref.tangent_kernel(w)) < 1e-12
