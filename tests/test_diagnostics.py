"""Training diagnostics through the engine's table (DESIGN §1): grad_cosine, the registry, and
the early-exit Lanczos mode the sharpness uses."""
import numpy as np
import pytest

import landscope as ls
from landscope import optim
from landscope.training import DIAGNOSTICS


def mlp(n=24):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, 4))
    return ls.MLP(X, np.sin(X[:, :2]), [8, 8], activation="tanh")


def cos(a, b):
    return a @ b / (np.linalg.norm(a) * np.linalg.norm(b))


def test_the_table_is_the_one_source_of_names():
    assert tuple(ls._core.diagnostics()) == ("sharpness", "kernel_min", "kernel_drift", "hessian_norm",
                                             "grad_cosine")
    assert DIAGNOSTICS == tuple(ls._core.diagnostics()) + ("balancedness", "params")
    assert list(ls.ProductToy(3)._m.diagnostics) == ["balancedness"]
    assert list(mlp()._m.diagnostics) == []


def test_grad_cosine_matches_direct_recomputation():
    model = mlp()
    w0 = model.init(0)
    traj = ls.train(model, w0, optim.GD(0.05), 12, record_every=2, record={"grad_cosine": 4, "params": 4},
                    progress=False)
    rows = traj.step % 4 == 0
    assert np.isnan(traj.grad_cosine[~rows]).all()
    got = traj.grad_cosine[rows]
    grads = [model.gradient(w) for w in traj.params]
    assert list(traj.params_step) == list(traj.step[rows])
    assert np.isnan(got[0])
    want = [cos(grads[i], grads[i - 1]) for i in range(1, len(grads))]
    np.testing.assert_allclose(got[1:], want, rtol=1e-13, atol=1e-15)


def test_grad_cosine_is_minus_one_when_gd_oscillates():
    """On a quadratic with η λ ∈ (1, 2), GD overshoots every step: g_{t+1} = (1 − ηλ) g_t."""
    X = np.array([[1.0], [2.0]])
    model = ls.LeastSquares(X, np.array([1.0, 0.5]))  # λ = ‖X‖² = 5
    traj = ls.train(model, np.array([3.0]), optim.GD(1.5 / 5), 20, record=("grad_cosine",), progress=False)
    np.testing.assert_array_equal(traj.grad_cosine[1:], -1.0)
    smooth = ls.train(model, np.array([3.0]), optim.GD(0.5 / 5), 20, record=("grad_cosine",), progress=False)
    np.testing.assert_array_equal(smooth.grad_cosine[1:], 1.0)


def test_grad_cosine_resumes_bit_identically(tmp_path):
    model = mlp()
    w0 = model.init(1)
    kw = dict(record_every=1, record=("grad_cosine", "sharpness"), progress=False)
    full = ls.train(model, w0, optim.Momentum(0.05), 30, **kw)
    half = ls.train(model, w0, optim.Momentum(0.05), 15, **kw)
    half.save(tmp_path / "half")
    cont = ls.train(model, None, None, 30, resume=ls.Trajectory.load(tmp_path / "half"))
    for name in ("loss", "grad_cosine", "sharpness"):
        np.testing.assert_array_equal(cont[name], full[name])
    np.testing.assert_array_equal(cont.w, full.w)


def test_unknown_and_foreign_diagnostics_are_named():
    model = mlp()
    with pytest.raises(ValueError, match="record: unknown quantity 'bogus'"):
        ls.train(model, model.init(0), optim.GD(0.1), 3, record=("bogus",), progress=False)
    with pytest.raises(ValueError, match="record: 'balancedness'"):
        ls.train(model, model.init(0), optim.GD(0.1), 3, record=("balancedness",), progress=False)
    with pytest.raises(ValueError, match="record: the interval of 'grad_cosine'"):
        ls.train(model, model.init(0), optim.GD(0.1), 3, record={"grad_cosine": 0}, progress=False)


def test_a_row_evaluates_the_model_once_for_loss_gradient_and_sharpness():
    """The row's loss and gradient norm come from the same pass as the sharpness: identical to a
    run without diagnostics, bit for bit."""
    model = mlp()
    w0 = model.init(2)
    plain = ls.train(model, w0, optim.GD(0.05), 10, progress=False)
    rich = ls.train(model, w0, optim.GD(0.05), 10, record=("sharpness", "kernel_min", "grad_cosine"),
                    progress=False)
    for name in ("loss", "grad_norm", "pl", "distance"):
        np.testing.assert_array_equal(rich[name], plain[name])
    np.testing.assert_array_equal(rich.w, plain.w)
    H = model.hessian(rich.w0)
    assert rich.sharpness[0] == pytest.approx(np.linalg.eigvalsh(H)[-1], rel=1e-6)
    assert rich.kernel_min[0] == pytest.approx(np.linalg.eigvalsh(model.tangent_kernel(rich.w0))[0], rel=1e-9)


# ------------------------------------------------------------------ Lanczos early-exit mode

def _spd(n=300, seed=0):
    rng = np.random.default_rng(seed)
    Q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    lam = np.concatenate([[10.0, 9.0], np.linspace(-1, 5, n - 2)])
    return (Q * lam) @ Q.T, Q[:, 0]


def test_early_exit_stops_within_a_few_products_from_a_warm_start():
    A, top = _spd()
    op = ls.as_operator(A)
    o = ls._core.LanczosOptions()
    o.k, o.which, o.tol, o.early_exit = 1, "LA", 1e-8, True
    o.v0 = (top + 1e-6 * np.random.default_rng(1).standard_normal(A.shape[0]))[:, None]
    r = ls._core.lanczos(op._op, o)
    assert r.status == "converged"
    assert r.products <= 8
    assert r.eigenvalues[0] == pytest.approx(10.0, rel=1e-12)
    cold = ls._core.LanczosOptions()
    cold.k, cold.which, cold.tol = 1, "LA", 1e-8
    assert ls._core.lanczos(op._op, cold).products > r.products
    np.testing.assert_allclose(abs(r.eigenvectors[:, 0] @ top), 1.0, rtol=1e-10)


def test_the_product_budget_ends_with_status_not_converged():
    A, _ = _spd()
    o = ls._core.LanczosOptions()
    o.k, o.tol, o.early_exit, o.max_products = 1, 1e-12, True, 3
    r = ls._core.lanczos(ls.as_operator(A)._op, o)
    assert r.status == "not_converged" and r.products == 3


def test_lanczos_options_check_names_the_keyword():
    o = ls._core.LanczosOptions()
    assert o.maxiter == 1000 and o.k == 6 and o.default_ncv(1000) == 30
    o.max_products = -1
    with pytest.raises(ValueError, match="^max_products: expected >= 0"):
        o.check(100)
    with pytest.raises(ValueError, match="^which: expected one of"):
        o.which = "XX"


def test_a_run_that_stops_recording_a_diagnostic_keeps_its_warm_start():
    model = mlp()
    first = ls.train(model, model.init(0), optim.GD(0.05), 10, record=("sharpness",), progress=False)
    middle = ls.train(model, None, None, 20, resume=first, record=())
    np.testing.assert_array_equal(middle._state["sharpness_vector"], first._state["sharpness_vector"])
    last = ls.train(model, None, None, 30, resume=middle, record=("sharpness",))
    assert np.isfinite(last.sharpness[-1])


def test_eigsh_reports_the_engine_status():
    A, _ = _spd(60)
    assert ls.eigsh(A, k=2).status == "converged"
    with pytest.raises(ls.ConvergenceError) as e:
        ls.eigsh(A, k=2, callback=lambda p: False, ncv=10)
    assert e.value.result.status == "interrupted"
    with pytest.raises(ls.ConvergenceError) as e:
        ls.eigsh(A, k=2, maxiter=1, ncv=5, tol=1e-14)
    assert e.value.result.status == "not_converged"
