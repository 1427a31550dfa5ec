"""The training results of DESIGN §1 reproduced with the constants of the theorems (issue 4)."""
import math

import numpy as np
import pytest

import landscope as ls
from landscope import theory


# ----------------------------------------------------------------------------- PL linear rate
@pytest.mark.parametrize("k, reduction", [(1, "sum"), (3, "mean")])
def test_least_squares_gd_obeys_the_pl_rate(k, reduction):
    """Over-parameterized least squares (n < d) is μ-PL and β-smooth with μ, β the extreme
    eigenvalues of X Xᵀ; GD with η = 1/β has L_t − L* ≤ (1 − μ/β)^t (L_0 − L*) at every step."""
    rng = np.random.default_rng(k)
    n, d = 20, 50
    X = rng.standard_normal((n, d))
    Y = rng.standard_normal((n, k))
    model = ls.LeastSquares(X, Y, reduction=reduction)
    mu, beta = theory.least_squares_constants(X, reduction)
    eig = np.linalg.eigvalsh(X @ X.T) / (n if reduction == "mean" else 1)
    assert mu == pytest.approx(eig[0]) and beta == pytest.approx(eig[-1]) and mu > 0
    traj = ls.train(model, np.zeros(model.num_params), ls.optim.GD(1 / beta), 400, progress=False)
    assert traj.status == "budget" and len(traj) == 401
    bound = theory.pl_rate_bound(traj["step"], traj.loss[0], mu, 1 / beta)
    result = theory.check(traj, bound)
    assert result.ok, str(result)
    assert result.checked == 401
    # The PL inequality itself, row by row: ‖∇L‖²/(2(L − L*)) ≥ μ.
    rows = traj.loss > 1e-20
    assert np.all(traj.pl[rows] >= mu * (1 - 1e-9))
    # The bound is not vacuous: a rate twice as fast is violated, and the checker says where.
    fast = theory.check(traj, theory.pl_rate_bound(traj["step"], traj.loss[0], min(4 * mu, beta), 1 / beta))
    assert not fast.ok and fast.step > 0 and fast.value > fast.bound


# ------------------------------------------------------------------------------ ProductToy
def balanced_start(d: int, c: float, product: float, seed: int) -> np.ndarray:
    """A positive start with max/min exactly c and Π x = product."""
    u = np.random.default_rng(seed).uniform(1.0, c, d)
    u[0], u[1] = 1.0, c
    return u * (product / np.prod(u)) ** (1.0 / d)


@pytest.mark.parametrize("d", range(2, 9))
def test_product_toy_theorem(d):
    """GD with γ = 1/(3dc²) from a c-balanced start with δ ≤ Π x < 1: iterates stay c-balanced
    and increase coordinatewise, ‖∇²f‖_F ≤ 3dc², and f(x_T) ≤ (1 − δ²/(3c⁴))^T f(x_0)."""
    c, delta = 1.5, 0.3
    x0 = balanced_start(d, c, delta, seed=d)
    assert theory.balancedness(x0) == pytest.approx(c) and np.prod(x0) == pytest.approx(delta)
    model = ls.ProductToy(d)
    gamma = theory.product_toy_step(d, c)
    assert gamma == 1 / (3 * d * c * c)
    steps = 3000
    traj = ls.train(model, x0, ls.optim.GD(gamma), steps, record=("balancedness", "hessian_norm", "params"),
                    progress=False)
    assert len(traj) == steps + 1
    assert theory.check(traj, c, "balancedness").ok
    assert theory.check(traj, theory.product_toy_hessian_bound(d, c), "hessian_norm").ok
    np.testing.assert_array_equal(traj.params_step, traj["step"])
    assert np.all(np.diff(traj.params, axis=0) >= 0), "the iterates must increase coordinatewise"
    assert np.all(np.prod(traj.params, axis=1) < 1)
    rate = theory.check(traj, theory.product_toy_rate_bound(traj["step"], traj.loss[0], delta, c))
    assert rate.ok, str(rate)
    # The columns agree with direct computations at the recorded iterates.
    for i in (0, steps // 2, steps):
        x = traj.params[i]
        assert traj.balancedness[i] == pytest.approx(x.max() / x.min(), rel=1e-14)
        assert traj.hessian_norm[i] == pytest.approx(np.linalg.norm(model.hessian(x)), rel=1e-13)
    assert traj.loss[-1] < 1e-3 * traj.loss[0]


def steps_to_halve(d: int) -> int:
    model = ls.ProductToy(d)
    x0 = np.full(d, 0.5)
    f0 = model.loss(x0)
    traj = ls.train(model, x0, ls.optim.GD(theory.product_toy_step(d, 1.0)), 10**7, tol=f0 / 2,
                    record_every=10**6, progress=False)
    assert traj.status == "converged" and traj.loss[-1] <= f0 / 2
    return traj.current_step


def test_product_toy_from_one_half_is_exponentially_slow():
    """From (½, …, ½) (c = 1, δ = 2^−d) the steps to halve f grow exponentially with d; the
    growth factor per added dimension stays within the bound's 4."""
    dims = np.arange(2, 9)
    steps = np.array([steps_to_halve(int(d)) for d in dims])
    # The theorem: T_half ≤ ln 2 / −ln(1 − δ²/3), which grows by 4 per dimension.
    bound = np.array([math.log(2) / -math.log1p(-(0.5**d) ** 2 / 3) for d in dims])
    assert np.all(steps <= bound)
    assert np.all(np.diff(steps) > 0)
    factor = math.exp(np.polyfit(dims, np.log(steps), 1)[0])
    assert 1.5 < factor <= 4.0, factor
    # Each added dimension at least multiplies the count (beyond the smallest sizes).
    assert np.all(steps[3:] / steps[2:-1] > 1.5)


# ------------------------------------------------------------------------- escaping a saddle
def test_gd_stays_on_the_origin_saddle_and_perturbed_gd_escapes():
    model = ls.ProductToy(2)
    origin = np.zeros(2)
    assert ls.classify(model, origin).verdict == "strict saddle"
    gd = ls.train(model, origin, ls.optim.GD(0.1), 5000, record_every=100, progress=False)
    assert gd.status == "budget"
    np.testing.assert_array_equal(gd.w, origin)
    np.testing.assert_array_equal(gd.loss, 0.5)
    np.testing.assert_array_equal(gd.grad_norm, 0.0)

    opt = ls.optim.PerturbedGD(0.1, radius=1e-2, threshold=1e-3, interval=200, seed=3)
    pgd = ls.train(model, origin, opt, 5000, tol=1e-12, record_every=10, progress=False)
    assert pgd.status == "converged"
    assert abs(np.prod(pgd.w) - 1) < 1e-5
    assert pgd.current_step < 1000


# ------------------------------------------------------------------------ the lazy regime
def lazy_run(width: int):
    rng = np.random.default_rng(0)
    n, d = 10, 8
    X = rng.standard_normal((n, d))
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    y = rng.standard_normal(n)
    net = ls.ShallowNet(X, y, width=width, activation="tanh")
    w0 = net.init(0)
    eig = np.linalg.eigvalsh(net.tangent_kernel(w0))
    eta = 1 / eig[-1]
    steps = 10 * math.ceil(math.log(1e4) / (eta * eig[0]) / 10)
    traj = ls.train(net, w0, ls.optim.GD(eta), steps, record_every=10, record=("kernel_min", "kernel_drift"),
                    progress=False)
    return traj, eig, eta


def check_lazy(widths):
    drifts = []
    for m in widths:
        traj, eig, eta = lazy_run(m)
        assert traj.kernel_min[0] == pytest.approx(eig[0], rel=1e-10)
        # λ_min(K_t) stays above half its initial value, so the loss is (λ_min(K_0)/2)-PL* along
        # the way and decays at least as fast as (1 − η λ_min(K_0)/2)^t.
        assert np.all(traj.kernel_min >= eig[0] / 2)
        assert theory.check(traj, theory.pl_rate_bound(traj["step"], traj.loss[0], eig[0] / 2, eta)).ok
        assert traj.loss[-1] < 1e-4 * traj.loss[0]
        drifts.append(traj.kernel_drift[-1])
    drifts = np.array(drifts)
    # ‖K_T − K_0‖/‖K_0‖ shrinks at least like 1/√m (here faster, close to 1/m: with fixed ±1
    # output weights the first-order change of K averages out across neurons).
    slope = np.polyfit(np.log(widths), np.log(drifts), 1)[0]
    assert slope <= -0.45, (drifts, slope)
    assert np.all(drifts[1:] / drifts[:-1] <= (np.array(widths[:-1]) / np.array(widths[1:])) ** 0.45)
    return drifts


def test_wide_shallow_net_kernel_barely_moves():
    check_lazy([256, 1024, 4096])


@pytest.mark.slow
def test_wide_shallow_net_kernel_barely_moves_at_scale():
    check_lazy([256, 1024, 4096, 16384])


# ----------------------------------------------------------------------- edge of stability
def eos_run(seed: int, factor: float, steps: int = 3000):
    """Full-batch GD on a tanh MLP in the standard parameterization (He init, no 1/√m) fitting
    random targets with the mean square loss; η = 2/(factor · λ_max(H(w_0)))."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((64, 8))
    y = rng.standard_normal(64)
    net = ls.MLP(X, y, [64, 64], activation="tanh", parameterization="standard", reduction="mean")
    w0 = net.init(seed)
    sharp0 = ls.eigsh(net.hessian_operator(w0), k=1, tol=1e-12).eigenvalues[-1]
    eta = 2 / (factor * sharp0)
    traj = ls.train(net, w0, ls.optim.GD(eta), steps, record_every=10, record=("sharpness",), progress=False)
    return traj, sharp0, eta, net


@pytest.mark.parametrize("seed", [0, 2])
def test_edge_of_stability(seed):
    """Progressive sharpening then the edge of stability: starting at a third of 2/η, the
    sharpness rises to 2/η and, from step 1000 on, hovers within 15% of it while the loss keeps
    falling, non-monotonically."""
    traj, sharp0, eta, net = eos_run(seed, factor=3.0)
    edge = 2 / eta
    assert traj.sharpness[0] == pytest.approx(sharp0, rel=1e-6)
    assert traj.sharpness.max() >= 0.9 * edge
    late = traj.sharpness[traj["step"] >= 1000]
    assert np.all(np.abs(late / edge - 1) <= 0.15), (late / edge).round(3)
    assert np.any(np.diff(traj.loss) > 0), "at the edge of stability the loss is not monotone"
    assert traj.loss[-1] < 1e-3 * traj.loss[0]
    # The reported sharpness is λ_max(H) at the final iterate (to the Lanczos tolerance 1e-4).
    top = ls.eigsh(net.hessian_operator(traj.w), k=1, tol=1e-12).eigenvalues[-1]
    assert traj.sharpness[-1] == pytest.approx(top, rel=1e-4)


def test_small_steps_stay_below_the_edge():
    """The control: with a step 5/3 times smaller the sharpness stays well below 2/η."""
    traj, _, eta, _ = eos_run(0, factor=5.0)
    assert traj.sharpness.max() < 0.85 * (2 / eta)
    assert np.all(np.diff(traj.loss) <= 0)
