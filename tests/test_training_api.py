"""Training (DESIGN §4): optimizers, schedules, the minibatch sampler, the recording loop and its
Trajectory, against numpy loops written from the documented update rules and formulas."""
import _thread
import math
import threading

import numpy as np
import pytest

import landscope as ls
from landscope import optim, schedules
from landscope.training import COLUMNS

RTOL = 1e-12

# ---------------------------------------------------------------------------------------------
# problems


def _data(n, d, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)) / np.sqrt(d)
    return X, np.tanh(X @ rng.standard_normal(d)) + 0.1 * rng.standard_normal(n)


def least_squares(n=8, d=5, seed=0):
    X, y = _data(n, d, seed)
    return ls.LeastSquares(X, y)


def shallow(n=7, d=3, width=4, seed=0):
    """A small nonlinear model; n = 7 is not divisible by the batch sizes used below."""
    X, y = _data(n, d, seed)
    return ls.ShallowNet(X, y, width=width)


def mlp(n=6, d=3, widths=(4, 3), seed=0):
    X, y = _data(n, d, seed)
    return ls.MLP(X, y, widths=list(widths))


def start(model, seed=1):
    rng = np.random.default_rng(seed)
    return model.init(seed=seed) + 0.1 * rng.standard_normal(model.num_params)


def run(model, w0, opt, steps, **kw):
    kw.setdefault("progress", False)
    return ls.train(model, w0, opt, steps, **kw)


# ---------------------------------------------------------------------------------------------
# the numpy reference loop


def _clip(g, c):
    if c is None:
        return g
    n = np.linalg.norm(g)
    return g * (c / n) if n > c else g


class Ref:
    """A numpy training loop written from the module docs of landscope.optim / schedules.

    ``update(t, w, eta, grad)`` returns w_{t+1}; ``grad(w)`` is the (clipped) gradient on the
    step's samples. Rows are taken at every step with record_every and at the end."""

    def __init__(self, model, w0, steps, update, *, lr, schedule=None, batch_size=None, seed=0, clip=None,
                 loss_star=0.0, record_every=1):
        self.model, self.w0 = model, np.array(w0, dtype=float)
        n = model.num_samples
        rows = {k: [] for k in COLUMNS}
        w = self.w0.copy()
        self.iterates = [w.copy()]
        for t in range(steps + 1):
            L = model.loss(w)
            g_full = model.gradient(w)
            gn = np.linalg.norm(g_full)
            eta = lr * (1.0 if schedule is None else schedule(t)) if t < steps else math.nan
            if t % record_every == 0 or t == steps:
                rows["step"].append(t)
                rows["loss"].append(L)
                rows["grad_norm"].append(gn)
                rows["pl"].append(gn**2 / (2 * (L - loss_star)) if L > loss_star else math.nan)
                rows["lr"].append(eta)
                rows["distance"].append(np.linalg.norm(w - self.w0))
            if t == steps:
                break
            idx = None if batch_size is None else optim.minibatch(n, batch_size, seed, t)

            def grad(v, idx=idx):
                return _clip(model.gradient(v, samples=idx), clip)

            w = update(t, w.copy(), eta, grad)
            self.iterates.append(w.copy())
        self.rows = {k: np.array(v) for k, v in rows.items()}
        self.w = w

    def ema(self, d):
        e = self.iterates[0].copy()
        for w in self.iterates[1:]:
            e = d * e + (1 - d) * w
        return e

    def swa(self, s, every=1):
        return np.mean([w for t, w in enumerate(self.iterates) if t >= s and (t - s) % every == 0], axis=0)


def gd_update():
    return lambda t, w, eta, grad: w - eta * grad(w)


def momentum_update(beta, nesterov):
    b = {}

    def update(t, w, eta, grad):
        g = grad(w)
        b["b"] = beta * b.get("b", np.zeros_like(w)) + g
        return w - eta * (g + beta * b["b"]) if nesterov else w - eta * b["b"]

    return update


def adam_update(beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0, decoupled=False):
    s = {"k": 0}

    def update(t, w, eta, grad):
        g = grad(w)
        if weight_decay and decoupled:
            w = (1 - eta * weight_decay) * w
        elif weight_decay:
            g = g + weight_decay * w
        s["k"] += 1
        s["m"] = beta1 * s.get("m", 0.0) + (1 - beta1) * g
        s["v"] = beta2 * s.get("v", 0.0) + (1 - beta2) * g * g
        mhat = s["m"] / (1 - beta1 ** s["k"])
        vhat = s["v"] / (1 - beta2 ** s["k"])
        return w - eta * mhat / (np.sqrt(vhat) + eps)

    return update


def sam_update(rho):
    def update(t, w, eta, grad):
        g = grad(w)
        n = np.linalg.norm(g)
        probe = w + rho * g / n if n > 0 else w
        return w - eta * grad(probe)

    return update


def assert_rows(traj, ref, rtol=RTOL, atol=0.0):
    np.testing.assert_array_equal(traj["step"], ref.rows["step"])
    for k in COLUMNS[1:]:
        np.testing.assert_allclose(traj[k], ref.rows[k], rtol=rtol, atol=atol, equal_nan=True, err_msg=k)
    np.testing.assert_allclose(traj.w, ref.w, rtol=rtol, atol=atol)
    np.testing.assert_array_equal(traj.w0, ref.w0)


def assert_identical(a, b):
    """Bit-identical trajectories (every column, params, w, w0, averages, status)."""
    assert (a.status, a.current_step, a.message) == (b.status, b.current_step, b.message)
    assert set(a.columns) == set(b.columns) and set(COLUMNS) <= set(a.columns)
    for k in a.columns:
        assert a[k].dtype == b[k].dtype, k
        assert np.array_equal(a[k], b[k], equal_nan=True), k
    assert np.array_equal(a.params, b.params) and np.array_equal(a.params_step, b.params_step)
    assert a.params.shape == b.params.shape
    for name in ("w", "w0", "ema", "swa"):
        x, y = getattr(a, name), getattr(b, name)
        assert (x is None) == (y is None), name
        if x is not None:
            assert np.array_equal(x, y), name
    assert a.swa_count == b.swa_count


# ---------------------------------------------------------------------------------------------
# 1. optimizers against numpy


def test_gd_matches_numpy():
    model = least_squares()
    w0 = start(model)
    traj = run(model, w0, optim.GD(0.3), 15)
    ref = Ref(model, w0, 15, gd_update(), lr=0.3)
    assert_rows(traj, ref)
    assert traj.status == "budget" and traj.current_step == 15 and len(traj) == 16
    assert np.isnan(traj["lr"][-1]) and np.all(traj["lr"][:-1] == 0.3)
    assert traj.ema is None and traj.swa is None


@pytest.mark.parametrize("batch_size", [1, 3, 5, 7])
def test_sgd_matches_numpy(batch_size):
    model = shallow(n=7)
    w0 = start(model)
    opt = optim.SGD(0.2, batch_size=batch_size, seed=4)
    traj = run(model, w0, opt, 12)
    ref = Ref(model, w0, 12, gd_update(), lr=0.2, batch_size=batch_size, seed=4)
    assert_rows(traj, ref)
    if batch_size < 7:  # the minibatch path really differs from full-batch GD
        assert not np.allclose(traj.w, run(model, w0, optim.GD(0.2), 12).w)


def test_sgd_record_every_rows_are_full_batch():
    model = shallow(n=7)
    w0 = start(model)
    traj = run(model, w0, optim.SGD(0.2, batch_size=2, seed=1), 11, record_every=3)
    ref = Ref(model, w0, 11, gd_update(), lr=0.2, batch_size=2, seed=1, record_every=3)
    np.testing.assert_array_equal(traj["step"], [0, 3, 6, 9, 11])
    assert_rows(traj, ref)


@pytest.mark.parametrize("nesterov", [False, True])
@pytest.mark.parametrize("batch_size", [None, 3])
def test_momentum_matches_numpy(nesterov, batch_size):
    model = shallow(n=7)
    w0 = start(model)
    opt = optim.Momentum(0.1, beta=0.8, nesterov=nesterov, batch_size=batch_size, seed=2)
    traj = run(model, w0, opt, 14)
    ref = Ref(model, w0, 14, momentum_update(0.8, nesterov), lr=0.1, batch_size=batch_size, seed=2)
    assert_rows(traj, ref)


def test_momentum_variants_differ():
    """Heavy ball and Nesterov are different rules (so the tests above tell them apart)."""
    model = shallow()
    w0 = start(model)
    a = run(model, w0, optim.Momentum(0.1, beta=0.8), 5).w
    b = run(model, w0, optim.Momentum(0.1, beta=0.8, nesterov=True), 5).w
    assert not np.allclose(a, b)


@pytest.mark.parametrize("weight_decay", [0.0, 0.3])
@pytest.mark.parametrize("batch_size", [None, 3])
def test_adam_matches_numpy(weight_decay, batch_size):
    model = shallow(n=7)
    w0 = start(model)
    opt = optim.Adam(0.05, beta1=0.8, beta2=0.95, eps=1e-6, weight_decay=weight_decay, batch_size=batch_size,
                     seed=3)
    traj = run(model, w0, opt, 15)
    ref = Ref(model, w0, 15, adam_update(0.8, 0.95, 1e-6, weight_decay), lr=0.05, batch_size=batch_size, seed=3)
    assert_rows(traj, ref)


def test_adamw_matches_numpy():
    model = shallow(n=7)
    w0 = start(model)
    opt = optim.AdamW(0.05, beta1=0.85, beta2=0.99, eps=1e-7, weight_decay=0.5)
    sched = schedules.cosine(12, final=0.1)
    traj = run(model, w0, opt, 12, schedule=sched)
    ref = Ref(model, w0, 12, adam_update(0.85, 0.99, 1e-7, 0.5, decoupled=True), lr=0.05, schedule=sched)
    assert_rows(traj, ref)
    # decoupled decay is not L2 decay
    l2 = run(model, w0, optim.Adam(0.05, beta1=0.85, beta2=0.99, eps=1e-7, weight_decay=0.5), 12, schedule=sched)
    assert not np.allclose(traj.w, l2.w)


@pytest.mark.parametrize("batch_size", [None, 2])
def test_sam_matches_numpy(batch_size):
    model = shallow(n=7)
    w0 = start(model)
    traj = run(model, w0, optim.SAM(0.2, rho=0.1, batch_size=batch_size, seed=5), 12)
    ref = Ref(model, w0, 12, sam_update(0.1), lr=0.2, batch_size=batch_size, seed=5)
    assert_rows(traj, ref)
    assert not np.allclose(traj.w, run(model, w0, optim.GD(0.2), 12).w)


def test_sam_with_clipping_clips_every_gradient_used_in_an_update():
    """clip_norm clips "the gradient before each update": for SAM the one at w + e too."""
    model = shallow(n=7)
    w0 = start(model)
    clip = 0.15
    traj = run(model, w0, optim.SAM(0.3, rho=0.2, batch_size=3, seed=1), 10, clip_norm=clip)
    ref = Ref(model, w0, 10, sam_update(0.2), lr=0.3, batch_size=3, seed=1, clip=clip)
    assert_rows(traj, ref)
    steps = np.linalg.norm(np.diff(np.array(ref.iterates), axis=0), axis=1)
    assert np.all(steps <= 0.3 * clip * (1 + 1e-12)) and np.any(steps > 0.3 * clip * (1 - 1e-9))


def test_sam_with_zero_gradient_is_gd_step():
    """e = ρ g/‖g‖ is taken as 0 when g = 0: at the ProductToy saddle SAM stays put."""
    model = ls.ProductToy(2)
    traj = run(model, np.zeros(2), optim.SAM(0.1, rho=0.5), 3)
    assert np.array_equal(traj.w, np.zeros(2)) and traj.status == "budget"


def _noise(radius, seed, step, P):
    """PerturbedGD's noise at a step (the engine's, a pure function of seed, step and P)."""
    opt = ls._core.PerturbedGD(radius, 0.0, 1)
    opt.seed = seed
    return opt.noise(step, P)


def test_perturbation_is_uniform_in_the_ball():
    radius, P = 0.3, 3
    xi = np.array([_noise(radius, 7, t, P) for t in range(3000)])
    r = np.linalg.norm(xi, axis=1)
    assert xi.shape == (3000, P) and np.all(r <= radius * (1 + 1e-15)) and np.all(r > 0)
    # uniform in the ball: (r/R)^P ~ U(0, 1) and the direction has mean zero
    u = np.sort((r / radius) ** P)
    ks = np.max(np.abs(u - (np.arange(1, u.size + 1) - 0.5) / u.size))
    assert ks < 0.04
    assert np.all(np.abs((xi / r[:, None]).mean(axis=0)) < 0.06)
    # a pure function of (seed, t): repeatable, and different for other steps or seeds
    assert np.array_equal(_noise(radius, 7, 5, P), xi[5])
    assert not np.allclose(_noise(radius, 8, 5, P), xi[5])
    assert not np.allclose(xi[5], xi[6])


def test_perturbed_gd_matches_numpy():
    model = ls.ProductToy(2)
    w0 = np.zeros(2)  # a saddle: ∇L = 0, so GD alone never moves
    radius, threshold, interval, lr, seed, steps = 0.05, 0.08, 3, 0.3, 11, 20
    log = {"last": -1, "perturbed": [], "blocked_interval": 0, "blocked_threshold": 0}

    def update(t, w, eta, grad):
        g = grad(w)
        quiet = log["last"] < 0 or t - log["last"] >= interval
        if np.linalg.norm(g) <= threshold and quiet:
            w = w + _noise(radius, seed, t, 2)
            g = grad(w)  # the step uses the gradient at the perturbed point
            log["last"] = t
            log["perturbed"].append(t)
        elif np.linalg.norm(g) <= threshold:
            log["blocked_interval"] += 1
        else:
            log["blocked_threshold"] += 1
        return w - eta * g

    opt = optim.PerturbedGD(lr, radius=radius, threshold=threshold, interval=interval, seed=seed)
    traj = run(model, w0, opt, steps)
    ref = Ref(model, w0, steps, update, lr=lr)
    # the test exercises all three branches
    assert log["perturbed"][0] == 0 and len(log["perturbed"]) >= 2
    assert log["blocked_interval"] > 0 and log["blocked_threshold"] > 0
    assert_rows(traj, ref)
    assert traj._optimizer_state["last"][0] == log["perturbed"][-1]
    # the first move is ξ_0 − η∇L(w0 + ξ_0), not a step from the saddle
    xi = _noise(radius, seed, 0, 2)
    np.testing.assert_allclose(traj["distance"][1], np.linalg.norm(xi - lr * model.gradient(xi)), rtol=1e-14)


@pytest.mark.parametrize("opt", [optim.GD(0.3), optim.Adam(0.05)], ids=["gd", "adam"])
def test_gradient_clipping(opt):
    model = shallow()
    w0 = start(model)
    clip = 0.2
    assert np.linalg.norm(model.gradient(w0)) > 2 * clip  # clipping is active at the start
    traj = run(model, w0, opt, 10, clip_norm=clip)
    upd = gd_update() if isinstance(opt, optim.GD) else adam_update()
    ref = Ref(model, w0, 10, upd, lr=opt.lr, clip=clip)
    assert_rows(traj, ref)
    # grad_norm is recorded before clipping
    assert traj["grad_norm"][0] > 2 * clip
    if isinstance(opt, optim.GD):
        assert traj["distance"][1] == pytest.approx(opt.lr * clip, rel=1e-14)


def test_momentum_with_cosine_schedule():
    model = shallow()
    w0 = start(model)
    sched = schedules.cosine(10, final=0.2)
    traj = run(model, w0, optim.Momentum(0.2, beta=0.7), 14, schedule=sched)
    ref = Ref(model, w0, 14, momentum_update(0.7, False), lr=0.2, schedule=sched)
    assert_rows(traj, ref)
    t = np.arange(14)
    np.testing.assert_allclose(traj["lr"][:-1], 0.2 * _cosine(t, 10, 0.2), rtol=1e-14)


@pytest.mark.parametrize("swa", [3, (2, 3), (1, 4)])
def test_ema_and_swa_match_numpy(swa):
    model = shallow()
    w0 = start(model)
    traj = run(model, w0, optim.Momentum(0.1, beta=0.5), 13, ema=0.7, swa=swa)
    ref = Ref(model, w0, 13, momentum_update(0.5, False), lr=0.1)
    assert_rows(traj, ref)
    s, every = (swa, 1) if isinstance(swa, int) else swa
    np.testing.assert_allclose(traj.ema, ref.ema(0.7), rtol=RTOL)
    np.testing.assert_allclose(traj.swa, ref.swa(s, every), rtol=RTOL)
    assert traj.swa_count == len(range(s, 14, every))


def test_swa_from_step_zero_includes_w0():
    model = least_squares()
    w0 = start(model)
    traj = run(model, w0, optim.GD(0.2), 4, swa=0)
    ref = Ref(model, w0, 4, gd_update(), lr=0.2)
    assert traj.swa_count == 5
    np.testing.assert_allclose(traj.swa, ref.swa(0), rtol=RTOL)


def test_swa_not_started_and_ema_off():
    model = least_squares()
    traj = run(model, start(model), optim.GD(0.1), 5, swa=10)
    assert traj.swa is None and traj.swa_count == 0 and traj.ema is None


def test_builtin_and_callable_schedule_lr_column():
    model = least_squares()
    w0 = start(model)

    def f(t):
        return 1.0 / (1 + t) ** 2

    traj = run(model, w0, optim.GD(0.4), 9, schedule=f)
    assert isinstance(traj.config["schedule"], str)
    np.testing.assert_array_equal(traj["lr"][:-1], [0.4 * f(t) for t in range(9)])
    ref = Ref(model, w0, 9, gd_update(), lr=0.4, schedule=f)
    assert_rows(traj, ref)
    sched = schedules.step_decay(3, 0.5)
    traj = run(model, w0, optim.GD(0.4), 9, schedule=sched)
    np.testing.assert_allclose(traj["lr"][:-1], 0.4 * 0.5 ** (np.arange(9) // 3), rtol=1e-15)
    assert traj.config["schedule"] == sched.to_dict()


@pytest.mark.parametrize("opt", [
    optim.GD(0.1), optim.SGD(0.2, batch_size=3, seed=4), optim.Momentum(0.1, beta=0.5, nesterov=True, batch_size=2),
    optim.Adam(0.01, beta1=0.8, weight_decay=0.1), optim.AdamW(0.02, eps=1e-6, seed=3),
    optim.PerturbedGD(0.1, radius=0.2, threshold=0.01, interval=7, seed=2), optim.SAM(0.1, rho=0.3, batch_size=5),
], ids=lambda o: type(o).__name__)
def test_optimizer_config_round_trip(opt):
    """The saved config rebuilds the same optimizer (what resume relies on)."""
    d = opt.to_dict()
    back = optim.Optimizer.from_dict(d)
    assert type(back) is type(opt) and back == opt and hash(back) == hash(opt) and back.to_dict() == d
    assert back != optim.Optimizer.from_dict({**d, "lr": 0.5})
    assert repr(opt).startswith(type(opt).__name__ + "(")
    with pytest.raises(ValueError, match="optimizer"):
        optim.Optimizer.from_dict({**d, "kind": "rmsprop"})


# ---------------------------------------------------------------------------------------------
# 2. minibatch sampler


@pytest.mark.parametrize("n, b", [(10, 3), (10, 5), (7, 7), (9, 1), (11, 4)])
def test_minibatch_partitions_each_epoch(n, b):
    per_epoch = -(-n // b)
    perms = []
    for e in range(4):
        batches = [optim.minibatch(n, b, 5, e * per_epoch + j) for j in range(per_epoch)]
        assert [len(x) for x in batches] == [b] * (n // b) + ([n % b] if n % b else [])
        flat = np.concatenate(batches)
        assert np.array_equal(np.sort(flat), np.arange(n))  # a partition: no repeats, nothing missing
        perms.append(flat)
    if n > 3:  # a fresh permutation each epoch
        assert len({tuple(p) for p in perms}) == 4
        assert any(not np.array_equal(p, np.arange(n)) for p in perms)


def test_minibatch_seeded():
    n, b = 12, 5
    a = [optim.minibatch(n, b, 1, t) for t in range(9)]
    assert all(np.array_equal(x, optim.minibatch(n, b, 1, t)) for t, x in enumerate(a))
    c = [optim.minibatch(n, b, 2, t) for t in range(9)]
    assert not all(np.array_equal(x, y) for x, y in zip(a, c))


def test_minibatch_bad_input():
    with pytest.raises(ValueError, match="batch_size"):
        optim.minibatch(5, 6, 0, 0)
    with pytest.raises(ValueError, match="batch_size"):
        optim.minibatch(5, 0, 0, 0)
    with pytest.raises(ValueError, match="step"):
        optim.minibatch(5, 2, 0, -1)
    with pytest.raises(TypeError, match="n"):
        optim.minibatch(5.0, 2, 0, 0)


# ---------------------------------------------------------------------------------------------
# 3. schedules against their formulas


def _cosine(t, T, final):
    t = np.asarray(t, dtype=float)
    return np.where(t < T, final + (1 - final) * 0.5 * (1 + np.cos(np.pi * t / T)), final)


def _warmup_cosine(t, W, T, final):
    t = np.asarray(t, dtype=float)
    decay = final + (1 - final) * 0.5 * (1 + np.cos(np.pi * (t - W) / (T - W)))
    return np.where(t < W, (t + 1) / W, np.where(t < T, decay, final))


def _wsd(t, T, W, D, final):
    t = np.asarray(t, dtype=float)
    # linear from 1 (the last stable step T − D − 1) down to final at T − 1
    lin = 1 - (1 - final) * (t - (T - D - 1)) / max(D, 1)
    return np.where(t < W, (t + 1) / max(W, 1), np.where(t >= T, final, np.where(t < T - D, 1.0, lin)))


def _one_cycle(t, T, pct, div, fdiv):
    t = np.asarray(t, dtype=float)
    U = max(1, math.floor(pct * T))
    lo, end = 1 / div, 1 / (div * fdiv)
    up = lo + (1 - lo) * 0.5 * (1 - np.cos(np.pi * t / U))
    down = end + (1 - end) * 0.5 * (1 + np.cos(np.pi * (t - U) / (T - U)))
    return np.where(t < U, up, np.where(t < T, down, end))


def _inverse_sqrt(t, W):
    t = np.asarray(t, dtype=float)
    if W == 0:
        return 1 / np.sqrt(t + 1)
    return np.where(t < W, (t + 1) / W, np.sqrt(W / (t + 1)))


SCHEDULES = {
    "constant": (schedules.constant(), 10, lambda t: np.ones_like(t, dtype=float)),
    "step_decay": (schedules.step_decay(3, 0.5), 10, lambda t: 0.5 ** (t // 3)),
    "step_decay_1": (schedules.step_decay(1, 0.9), 6, lambda t: 0.9 ** t.astype(float)),
    "cosine": (schedules.cosine(10, 0.1), 10, lambda t: _cosine(t, 10, 0.1)),
    "cosine_to_0": (schedules.cosine(7), 7, lambda t: _cosine(t, 7, 0.0)),
    "cosine_T1": (schedules.cosine(1, 0.3), 1, lambda t: _cosine(t, 1, 0.3)),
    "warmup_cosine": (schedules.warmup_cosine(3, 12, 0.05), 12, lambda t: _warmup_cosine(t, 3, 12, 0.05)),
    "warmup_cosine_1": (schedules.warmup_cosine(1, 2), 2, lambda t: _warmup_cosine(t, 1, 2, 0.0)),
    "wsd": (schedules.wsd(20, warmup=0.1, decay=0.3, final=0.1), 20, lambda t: _wsd(t, 20, 2, 6, 0.1)),
    "wsd_no_warmup": (schedules.wsd(10, warmup=0.0, decay=0.4), 10, lambda t: _wsd(t, 10, 0, 4, 0.0)),
    "wsd_no_decay": (schedules.wsd(10, warmup=0.3, decay=0.0, final=0.5), 10, lambda t: _wsd(t, 10, 3, 0, 0.5)),
    "wsd_round": (schedules.wsd(30, warmup=0.13, decay=0.27, final=0.2), 30, lambda t: _wsd(t, 30, 4, 8, 0.2)),
    "one_cycle": (schedules.one_cycle(20, 0.25, 10.0, 100.0), 20, lambda t: _one_cycle(t, 20, 0.25, 10, 100)),
    "one_cycle_floor": (schedules.one_cycle(7, 0.3), 7, lambda t: _one_cycle(t, 7, 0.3, 25, 1e4)),
    "one_cycle_U1": (schedules.one_cycle(5, 0.1, 4.0, 2.0), 5, lambda t: _one_cycle(t, 5, 0.1, 4, 2)),
    "inverse_sqrt_0": (schedules.inverse_sqrt(), 10, lambda t: _inverse_sqrt(t, 0)),
    "inverse_sqrt_4": (schedules.inverse_sqrt(4), 10, lambda t: _inverse_sqrt(t, 4)),
}


@pytest.mark.parametrize("name", list(SCHEDULES))
def test_schedule_formula(name):
    sched, T, formula = SCHEDULES[name]
    t = np.arange(T + 6)
    want = formula(t)
    got = sched(t)
    assert isinstance(got, np.ndarray) and got.shape == t.shape and got.dtype == np.float64
    np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-15)
    for ti in t:  # scalar calls: Python and numpy integers
        v = sched(int(ti))
        assert isinstance(v, float)
        assert v == got[ti]
    t2 = t[: t.size // 2 * 2].reshape(2, -1)
    np.testing.assert_array_equal(sched(t2.astype(np.int32)), got[: t2.size].reshape(2, -1))
    assert sched(np.arange(0)).shape == (0,)


def test_schedule_boundaries():
    """Spot values at the phase boundaries, written out by hand."""
    wc = schedules.warmup_cosine(4, 10, 0.0)
    assert wc(0) == pytest.approx(0.25) and wc(3) == pytest.approx(1.0) and wc(4) == pytest.approx(1.0)
    assert wc(9) == pytest.approx(0.5 * (1 + math.cos(math.pi * 5 / 6))) and wc(10) == 0.0 and wc(100) == 0.0
    w = schedules.wsd(10, warmup=0.2, decay=0.5, final=0.0)  # W = 2, D = 5: stable for t = 2..4
    assert [w(t) for t in range(11)] == pytest.approx([0.5, 1, 1, 1, 1, 0.8, 0.6, 0.4, 0.2, 0.0, 0.0])
    c = schedules.cosine(4, 0.5)
    assert c(0) == 1.0 and c(2) == pytest.approx(0.75) and c(4) == 0.5 and c(5) == 0.5
    oc = schedules.one_cycle(10, 0.2, 5.0, 2.0)  # U = 2
    assert oc(0) == pytest.approx(0.2) and oc(1) == pytest.approx(0.6) and oc(2) == pytest.approx(1.0)
    assert oc(10) == pytest.approx(0.1) and oc(11) == pytest.approx(0.1)
    assert schedules.inverse_sqrt(4)(3) == 1.0 and schedules.inverse_sqrt(4)(15) == 0.5


def test_schedule_value_semantics():
    a, b = schedules.cosine(10, 0.1), schedules.cosine(10, 0.1)
    assert a == b and hash(a) == hash(b) and a != schedules.cosine(11, 0.1)
    assert schedules.Schedule.from_dict(a.to_dict()) == a


@pytest.mark.parametrize("make, name", [
    (lambda: schedules.wsd(10, warmup=0.6, decay=0.5), "warmup"),
    (lambda: schedules.wsd(3, warmup=0.5, decay=0.5), "overlap"),  # W = D = 2 after rounding
    (lambda: schedules.wsd(10, warmup=-0.1), "warmup"),
    (lambda: schedules.wsd(10, decay=1.5), "decay"),
    (lambda: schedules.wsd(10, final=2.0), "final"),
    (lambda: schedules.wsd(0), "total"),
    (lambda: schedules.cosine(0), "total"),
    (lambda: schedules.cosine(10, final=-0.5), "final"),
    (lambda: schedules.cosine(10, final=math.nan), "final"),
    (lambda: schedules.warmup_cosine(5, 5), "total"),
    (lambda: schedules.warmup_cosine(0, 5), "warmup"),
    (lambda: schedules.one_cycle(10, pct_start=1.0), "pct_start"),
    (lambda: schedules.one_cycle(10, pct_start=0.0), "pct_start"),
    (lambda: schedules.one_cycle(1), "total"),
    (lambda: schedules.one_cycle(10, div_factor=0.5), "div_factor"),
    (lambda: schedules.one_cycle(10, final_div_factor=math.inf), "final_div_factor"),
    (lambda: schedules.step_decay(0), "period"),
    (lambda: schedules.step_decay(2, gamma=0.0), "gamma"),
    (lambda: schedules.inverse_sqrt(-1), "warmup"),
])
def test_schedule_bad_parameters(make, name):
    with pytest.raises(ValueError, match=name):
        make()


def test_schedule_bad_types_and_steps():
    with pytest.raises(TypeError, match="total"):
        schedules.cosine(10.0)
    with pytest.raises(TypeError, match="gamma"):
        schedules.step_decay(2, gamma="0.5")
    s = schedules.cosine(10)
    with pytest.raises(ValueError, match="t"):
        s(-1)
    with pytest.raises(TypeError, match="t"):
        s(1.5)
    with pytest.raises(TypeError, match="t"):
        s(np.array([True]))


# ---------------------------------------------------------------------------------------------
# 4. Trajectory


def _rich_run(steps=8):
    model = shallow(n=6, d=3, width=3)
    w0 = start(model)
    traj = run(model, w0, optim.Adam(0.05, batch_size=4, seed=1), steps, record_every=2,
               record=("sharpness", "kernel_drift", "params"), ema=0.9, swa=(2, 2), schedule=schedules.cosine(8))
    return model, w0, traj


def test_trajectory_access_and_to_dict():
    _, w0, traj = _rich_run()
    assert len(traj) == 5 and traj.current_step == 8 and traj.status == "budget"
    # the optional columns are present only when requested
    assert tuple(traj.columns) == COLUMNS + ("sharpness", "kernel_drift")
    d = traj.to_dict()
    assert set(d) == set(COLUMNS) | {"sharpness", "kernel_drift", "params", "params_step"}
    for k in traj.columns:
        assert np.array_equal(d[k], traj[k], equal_nan=True) and np.array_equal(getattr(traj, k), traj[k],
                                                                               equal_nan=True)
        d[k][...] = 0  # copies, not views
    assert traj["distance"][0] == 0.0 and traj["loss"][0] != 0
    np.testing.assert_array_equal(d["params_step"], [0, 2, 4, 6, 8])
    assert d["params"].shape == (5, traj.w.size)
    np.testing.assert_array_equal(d["params"][0], w0)
    np.testing.assert_array_equal(d["params"][-1], traj.w)
    assert "kernel_min" not in d and "kernel_min" not in traj.columns
    assert traj.sharpness_products > 0 and traj.elapsed > 0
    # sharpness every 2 steps = at every row; kernel_drift at w0 is 0
    assert not np.isnan(traj["sharpness"]).any() and traj["kernel_drift"][0] == 0.0
    with pytest.raises(AttributeError, match="nope"):
        traj.nope
    with pytest.raises(KeyError):
        traj["nope"]
    assert "budget" in repr(traj)


def test_to_dict_without_params():
    model = least_squares()
    d = run(model, start(model), optim.GD(0.1), 3).to_dict()
    assert set(d) == set(COLUMNS)


def test_to_pandas():
    pd = pytest.importorskip("pandas")
    _, _, traj = _rich_run()
    df = traj.to_pandas()
    assert isinstance(df, pd.DataFrame) and df.index.name == "step"
    np.testing.assert_array_equal(df.index.to_numpy(), traj["step"])
    assert list(df.columns) == [k for k in traj.columns if k != "step"]
    for k in df.columns:
        np.testing.assert_array_equal(df[k].to_numpy(), traj[k])


def test_save_load_round_trip(tmp_path):
    _, _, traj = _rich_run()
    path = tmp_path / "run.npz"
    traj.save(path)
    back = ls.Trajectory.load(path)
    assert_identical(traj, back)
    assert back.config == traj.config and back.status == traj.status and back.message == traj.message
    assert back.elapsed == traj.elapsed and back.sharpness_products == traj.sharpness_products
    assert back.swa_count == traj.swa_count > 0 and back.ema is not None
    for k in traj.columns:
        assert back[k].dtype == traj[k].dtype
    assert back.to_dict().keys() == traj.to_dict().keys()
    # the optimizer state (Adam moments) survives too
    assert set(back._optimizer_state) == {"m", "v", "count"}
    for k, v in traj._optimizer_state.items():
        np.testing.assert_array_equal(back._optimizer_state[k], v)


def test_load_rejects_other_files(tmp_path):
    p = tmp_path / "other.npz"
    np.savez(p, a=np.zeros(3))
    with pytest.raises(ValueError, match="path"):
        ls.Trajectory.load(p)
    p2 = tmp_path / "other2.npz"
    np.savez(p2, metadata=np.array('{"format": "something"}'))
    with pytest.raises(ValueError, match="path"):
        ls.Trajectory.load(p2)


def test_save_load_same_path_without_suffix(tmp_path):
    model = least_squares()
    traj = run(model, start(model), optim.GD(0.1), 3)
    path = tmp_path / "run"
    traj.save(path)
    assert_identical(ls.Trajectory.load(path), traj)


# ---------------------------------------------------------------------------------------------
# 5. resume: bit-identical continuation

RESUME_CASES = {
    "gd": lambda: (least_squares(), optim.GD(0.2), dict()),
    "sharpness_every3": lambda: (shallow(n=8, d=3, width=5), optim.GD(0.3), dict(record=("sharpness",),
                                                                                   record_every=3)),
    "mlp_diagnostics": lambda: (mlp(), optim.GD(0.2), dict(record={"sharpness": 2, "kernel_min": 4,
                                                                    "kernel_drift": 2, "hessian_norm": 4,
                                                                    "params": 2}, record_every=2)),
    "momentum_sgd": lambda: (shallow(), optim.Momentum(0.1, beta=0.9, nesterov=True, batch_size=3, seed=2),
                             dict(record_every=2)),
    "adam": lambda: (shallow(), optim.Adam(0.05, weight_decay=0.1), dict(record=("sharpness",))),
    "adamw_sgd": lambda: (shallow(), optim.AdamW(0.05, batch_size=2, seed=9), dict()),
    "sgd": lambda: (shallow(), optim.SGD(0.1, batch_size=3, seed=1), dict(record_every=4)),
    "sam": lambda: (shallow(), optim.SAM(0.1, rho=0.05, batch_size=4), dict()),
    "callable_schedule": lambda: (shallow(), optim.Momentum(0.1), dict(schedule=lambda t: 1 / (1 + 0.3 * t))),
    "cosine_clip": lambda: (shallow(), optim.GD(0.5), dict(schedule=schedules.warmup_cosine(2, 13), clip_norm=0.3)),
    "ema_swa": lambda: (shallow(), optim.Momentum(0.1, beta=0.5), dict(ema=0.8, swa=(3, 2), record_every=3)),
    "perturbed_gd": lambda: (ls.ProductToy(3), optim.PerturbedGD(0.2, radius=0.05, threshold=0.1, interval=3,
                                                                 seed=4), dict(w0=np.zeros(3), record=(
                                                                     "balancedness", "params"))),
}


@pytest.mark.parametrize("args", ["repeated", "saved"])
@pytest.mark.parametrize("save", [False, True], ids=["memory", "file"])
@pytest.mark.parametrize("case", list(RESUME_CASES))
def test_resume_bit_identical(case, save, args, tmp_path):
    """Stop at K and continue to N: identical to one run to N. The keyword arguments are either
    passed again or left out (then the resumed run's are used; a callable schedule is repeated)."""
    model, opt, kw = RESUME_CASES[case]()
    w0 = kw.pop("w0", None)
    w0 = start(model) if w0 is None else w0
    again = kw if args == "repeated" else {k: v for k, v in kw.items() if k == "schedule" and callable(v)
                                           and not isinstance(v, schedules.Schedule)}
    N = 13
    full = run(model, w0, opt, N, **kw)
    assert full.status == "budget" and full.current_step == N
    for K in (0, 5, 6):
        part = run(model, w0, opt, K, **kw)
        assert part.status == "budget" and part.current_step == K
        if save:
            part.save(tmp_path / f"part{K}.npz")
            part = ls.Trajectory.load(tmp_path / f"part{K}.npz")
        cont = run(model, None, None, N, resume=part, **again)
        assert_identical(cont, full)
        assert cont.config == full.config
    # several stops, passing the optimizer and w0 explicitly
    t = run(model, w0, opt, 4, **kw)
    for stop in (7, 7, 10, N):
        t = run(model, w0, opt, stop, resume=t, **again)
    assert_identical(t, full)


def test_resume_needs_a_callable_schedule_again():
    model = least_squares()
    part = run(model, start(model), optim.GD(0.1), 3, schedule=lambda t: 0.5)
    with pytest.raises(ValueError, match="schedule"):
        run(model, None, None, 6, resume=part)


def test_resume_arguments_can_be_overridden():
    """Given arguments win over the saved ones: here a tol that stops the continued run."""
    model, X = _overparameterized()
    _, beta = ls.theory.least_squares_constants(X)
    w0 = start(model)
    part = run(model, w0, optim.GD(1 / beta), 5, ema=0.5)
    full = run(model, w0, optim.GD(1 / beta), 300, ema=0.5, tol=1e-6)
    cont = run(model, None, None, 300, resume=part, tol=1e-6)
    assert cont.status == "converged"
    assert_identical(cont, full)
    # and a schedule given on resume applies from the resumed step on
    cont = run(model, None, None, 8, resume=part, schedule=schedules.step_decay(1, 0.5))
    np.testing.assert_allclose(cont["lr"][5:8], 0.5 ** np.arange(5, 8) / beta, rtol=1e-15)
    np.testing.assert_array_equal(cont["lr"][:5], part["lr"][:5])


def test_resume_bit_identical_sharpness_on_a_larger_net():
    """Warm-started Lanczos (P = 60 > the restart length) must continue from the same vector."""
    model = shallow(n=12, d=5, width=12)
    w0 = start(model)
    kw = dict(record=("sharpness",), record_every=2, sharpness_tol=1e-3)
    full = run(model, w0, optim.GD(0.05), 20, **kw)
    part = run(model, w0, optim.GD(0.05), 9, **kw)
    assert_identical(run(model, None, None, 20, resume=part, **kw), full)
    assert not np.isnan(full["sharpness"]).any()


def test_resume_after_interrupt():
    model = ls.ProductToy(10)
    w0 = model.init(0)
    opt = optim.Momentum(1e-3, beta=0.5)
    kw = dict(record_every=100_000, ema=0.99, swa=(10, 7))
    timer = threading.Timer(0.3, _thread.interrupt_main)
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt) as info:
            run(model, w0, opt, 10**11, **kw)
    finally:
        timer.cancel()
    assert isinstance(info.value, ls.TrainingInterrupted)
    traj = info.value.trajectory
    assert traj.status == "interrupted"
    assert 0 < traj.current_step < 10**11
    assert np.all(traj["step"] < traj.current_step) and np.all(np.isfinite(traj["lr"]))
    budget = traj.current_step + 12_345
    cont = run(model, None, None, budget, resume=traj, **kw)
    full = run(model, w0, opt, budget, **kw)
    assert cont.status == full.status == "budget"
    assert_identical(cont, full)


def test_interrupted_run_has_no_row_at_its_current_step():
    """Documented: the interrupted state is before w_t is evaluated; the continued run records it."""
    model = ls.ProductToy(10)
    timer = threading.Timer(0.3, _thread.interrupt_main)
    timer.start()
    try:
        with pytest.raises(ls.TrainingInterrupted) as info:
            run(model, model.init(0), optim.GD(1e-3), 10**11, record_every=10**6)
    finally:
        timer.cancel()
    traj = info.value.trajectory
    assert traj.status == "interrupted"
    assert traj["step"][-1] < traj.current_step
    assert traj["step"][-1] == (traj.current_step - 1) // 10**6 * 10**6


# ---------------------------------------------------------------------------------------------
# 6. status


def _overparameterized(n=4, d=9, seed=3):
    X, y = _data(n, d, seed)
    return ls.LeastSquares(X, y), X


def test_converged_stops_at_first_step_below_tol():
    model, X = _overparameterized()
    mu, beta = ls.theory.least_squares_constants(X)
    w0 = start(model)
    tol = 1e-6
    ref = Ref(model, w0, 300, gd_update(), lr=1 / beta)
    t_star = int(np.argmax(ref.rows["loss"] <= tol))
    assert 0 < t_star < 300
    traj = run(model, w0, optim.GD(1 / beta), 300, tol=tol)
    assert traj.status == "converged" and traj.current_step == t_star and traj["step"][-1] == t_star
    assert len(traj) == t_star + 1
    np.testing.assert_allclose(traj["loss"], ref.rows["loss"][: t_star + 1], rtol=1e-10)
    np.testing.assert_allclose(traj.w, ref.iterates[t_star], rtol=1e-12)
    assert traj["loss"][-1] <= tol < traj["loss"][-2]
    # the GD/PL theorem holds along the run
    assert ls.theory.check(traj, ls.theory.pl_rate_bound(traj["step"], traj["loss"][0], mu, 1 / beta), rtol=1e-9)


def test_converged_at_step_zero():
    model = least_squares()
    w0 = start(model)
    traj = run(model, w0, optim.GD(0.1), 10, tol=2 * model.loss(w0))
    assert traj.status == "converged" and traj.current_step == 0 and len(traj) == 1
    np.testing.assert_array_equal(traj.w, w0)


def test_converged_with_loss_star_and_record_every():
    """L − L* ≤ tol with L* the least-squares minimum (n > d); the stop row is recorded."""
    X, y = _data(12, 3, 4)
    model = ls.LeastSquares(X, y)
    wls = np.linalg.lstsq(X, y, rcond=None)[0]
    L_star = 0.5 * np.sum((X @ wls - y) ** 2)
    assert L_star > 0.01
    w0 = start(model)
    lr = 1 / np.linalg.eigvalsh(X.T @ X)[-1]
    ref = Ref(model, w0, 400, gd_update(), lr=lr)
    tol = 1e-5
    t_star = int(np.argmax(ref.rows["loss"] - L_star <= tol))
    assert t_star % 5 != 0 and ref.rows["loss"][0] - L_star > tol
    traj = run(model, w0, optim.GD(lr), 400, tol=tol, loss_star=L_star, record_every=5)
    assert traj.status == "converged" and traj.current_step == t_star
    np.testing.assert_array_equal(traj["step"], list(range(0, t_star, 5)) + [t_star])
    # pl uses loss_star: ‖g‖²/(2(L − L*))
    L, g = traj["loss"], traj["grad_norm"]
    np.testing.assert_allclose(traj["pl"], g**2 / (2 * (L - L_star)), rtol=1e-12)


def test_minibatch_convergence_is_tested_at_recorded_rows():
    model, _ = _overparameterized(n=6, d=12)
    w0 = start(model)
    opt = optim.SGD(0.8, batch_size=2, seed=3)
    tol = 1e-3
    ref = Ref(model, w0, 400, gd_update(), lr=0.8, batch_size=2, seed=3)
    losses = ref.rows["loss"]
    t_star = next(t for t in range(0, 401, 4) if losses[t] <= tol)
    first_any = int(np.argmax(losses <= tol))
    assert first_any < t_star  # the loss dips below tol between rows first
    traj = run(model, w0, opt, 400, tol=tol, record_every=4)
    assert traj.status == "converged" and traj.current_step == t_star
    np.testing.assert_allclose(traj.w, ref.iterates[t_star], rtol=1e-12)


def test_pl_is_nan_below_loss_star():
    model, _ = _overparameterized()
    traj = run(model, start(model), optim.GD(0.1), 5, loss_star=1e3)
    assert np.isnan(traj["pl"]).all()
    assert traj.status == "budget"


def _diverging(lr_factor=1.5):
    model, X = _overparameterized()
    _, beta = ls.theory.least_squares_constants(X)
    return model, lr_factor * 2 / beta


@pytest.mark.parametrize("blowup", [1e6, 10.0])
def test_diverged_on_blowup(blowup):
    model, lr = _diverging()
    w0 = start(model)
    ref = Ref(model, w0, 60, gd_update(), lr=lr)
    L = ref.rows["loss"]
    limit = blowup * max(L[0], 1.0)
    t_div = int(np.argmax(L > limit))
    assert t_div > 1 and np.isfinite(L[t_div])
    traj = run(model, w0, optim.GD(lr), 60, blowup=blowup)
    assert traj.status == "diverged" and traj.current_step == t_div and len(traj) == t_div + 1
    assert str(t_div) in traj.message
    np.testing.assert_allclose(traj["loss"], L[: t_div + 1], rtol=1e-10)
    np.testing.assert_allclose(traj["distance"], ref.rows["distance"][: t_div + 1], rtol=1e-10)
    # w is the last iterate, the one whose loss blew up, and it is finite
    np.testing.assert_allclose(traj.w, ref.iterates[t_div], rtol=1e-10)
    assert np.isfinite(traj.w).all() and traj["loss"][-1] > limit >= traj["loss"][-2]
    with pytest.raises(ValueError, match="resume"):
        run(model, None, None, 100, resume=traj)


def test_minibatch_divergence_row_is_full_batch():
    model, _ = _overparameterized(n=6, d=12)
    w0 = start(model)
    traj = run(model, w0, optim.SGD(2.0, batch_size=2, seed=0), 100, record_every=7, blowup=100.0)
    assert traj.status == "diverged" and traj.current_step % 7 != 0  # stopped between rows
    assert traj["step"][-1] == traj.current_step
    np.testing.assert_allclose(traj["loss"][-1], model.loss(traj.w), rtol=1e-12)
    np.testing.assert_allclose(traj["grad_norm"][-1], np.linalg.norm(model.gradient(traj.w)), rtol=1e-12)


def test_diverged_on_overflow_mid_run():
    """Inf loss / gradient norm from a huge step stops the run at once (blowup cannot fire)."""
    model = ls.ProductToy(3)
    w0 = np.array([0.9, 1.2, 0.7])
    traj = run(model, w0, optim.GD(1e100), 50, blowup=1e300)
    assert traj.status == "diverged" and traj.current_step == 1 and len(traj) == 2
    assert not (np.isfinite(traj["loss"][1]) and np.isfinite(traj["grad_norm"][1]))
    assert np.isfinite(traj["loss"][0]) and np.isfinite(traj.w).all()
    np.testing.assert_allclose(traj.w, w0 - 1e100 * model.gradient(w0), rtol=1e-14)
    with pytest.raises(ValueError, match="resume"):
        run(model, None, None, 100, resume=traj)


def test_diverged_on_nan_at_the_start():
    model = ls.ProductToy(3)
    w0 = np.array([1e200, 1e200, 0.0])  # finite, but Π x = inf · 0 = NaN
    assert np.isnan(model.loss(w0))
    traj = run(model, w0, optim.GD(0.1), 10, record=("sharpness",))
    assert traj.status == "diverged" and traj.current_step == 0 and len(traj) == 1
    assert np.isnan(traj["loss"][0]) and np.isnan(traj["sharpness"][0])
    np.testing.assert_array_equal(traj.w, w0)


def test_lr_is_nan_on_final_rows_of_early_stops():
    model, X = _overparameterized()
    _, beta = ls.theory.least_squares_constants(X)
    conv = run(model, start(model), optim.GD(1 / beta), 300, tol=1e-6)
    model2, lr = _diverging()
    div = run(model2, start(model2), optim.GD(lr), 60)
    assert conv.status == "converged" and div.status == "diverged"
    assert np.isnan(conv["lr"][-1]) and np.isnan(div["lr"][-1])


def test_steps_zero():
    model = least_squares()
    w0 = start(model)
    traj = run(model, w0, optim.GD(0.1), 0)
    assert traj.status == "budget" and len(traj) == 1 and np.isnan(traj["lr"][0])
    assert traj["loss"][0] == pytest.approx(model.loss(w0), rel=1e-14)
    np.testing.assert_array_equal(traj.w, w0)


# ---------------------------------------------------------------------------------------------
# 7. bad input


@pytest.fixture(scope="module")
def small():
    model = least_squares()
    return model, start(model)


@pytest.mark.parametrize("make, exc, name", [
    (lambda: optim.GD(-0.1), ValueError, "lr"),
    (lambda: optim.GD(math.nan), ValueError, "lr"),
    (lambda: optim.GD(math.inf), ValueError, "lr"),
    (lambda: optim.GD("0.1"), TypeError, "lr"),
    (lambda: optim.SGD(0.1, batch_size=0), ValueError, "batch_size"),
    (lambda: optim.SGD(0.1, batch_size=None), ValueError, "batch_size"),
    (lambda: optim.SGD(0.1, batch_size=2.0), TypeError, "batch_size"),
    (lambda: optim.SGD(0.1, batch_size=2, seed=-1), ValueError, "seed"),
    (lambda: optim.Momentum(0.1, beta=1.0), ValueError, "beta"),
    (lambda: optim.Momentum(0.1, beta=-0.1), ValueError, "beta"),
    (lambda: optim.Momentum(0.1, nesterov=1), TypeError, "nesterov"),
    (lambda: optim.Adam(beta1=1.0), ValueError, "beta1"),
    (lambda: optim.Adam(beta2=1.5), ValueError, "beta2"),
    (lambda: optim.Adam(eps=0.0), ValueError, "eps"),
    (lambda: optim.Adam(eps=-1e-8), ValueError, "eps"),
    (lambda: optim.AdamW(weight_decay=-0.1), ValueError, "weight_decay"),
    (lambda: optim.PerturbedGD(0.1, radius=0.0), ValueError, "radius"),
    (lambda: optim.PerturbedGD(0.1, interval=0), ValueError, "interval"),
    (lambda: optim.SAM(0.1, rho=-1.0), ValueError, "rho"),
])
def test_optimizer_bad_parameters(make, exc, name):
    with pytest.raises(exc, match=name):
        make()


GD01 = optim.GD(0.1)
# (the argument the message names, the exception, the call on the model m from w)
BAD_TRAIN = [
    ("batch_size", ValueError, lambda m, w: run(m, w, optim.SGD(0.1, batch_size=m.num_samples + 1), 3)),
    ("steps", ValueError, lambda m, w: run(m, w, GD01, -1)),
    ("steps", TypeError, lambda m, w: run(m, w, GD01, 3.0)),
    ("steps", TypeError, lambda m, w: run(m, w, GD01, True)),
    ("record_every", ValueError, lambda m, w: run(m, w, GD01, 3, record_every=0)),
    ("record", ValueError, lambda m, w: run(m, w, GD01, 3, record=("sharpnes",))),
    ("record", ValueError, lambda m, w: run(m, w, GD01, 3, record="nope")),
    ("record", ValueError, lambda m, w: run(m, w, GD01, 6, record_every=2, record={"sharpness": 3})),
    ("sharpness", ValueError, lambda m, w: run(m, w, GD01, 6, record={"sharpness": 0})),
    ("balancedness", ValueError, lambda m, w: run(m, w, GD01, 3, record=("balancedness",))),
    ("clip_norm", ValueError, lambda m, w: run(m, w, GD01, 3, clip_norm=0.0)),
    ("clip_norm", ValueError, lambda m, w: run(m, w, GD01, 3, clip_norm=-1.0)),
    ("clip_norm", ValueError, lambda m, w: run(m, w, GD01, 3, clip_norm=math.nan)),
    ("ema", ValueError, lambda m, w: run(m, w, GD01, 3, ema=1.0)),
    ("ema", ValueError, lambda m, w: run(m, w, GD01, 3, ema=0.0)),
    ("ema", ValueError, lambda m, w: run(m, w, GD01, 3, ema=1.5)),
    ("ema", ValueError, lambda m, w: run(m, w, GD01, 3, ema=math.nan)),
    ("swa", ValueError, lambda m, w: run(m, w, GD01, 3, swa=-1)),
    ("swa", ValueError, lambda m, w: run(m, w, GD01, 3, swa=(1, 0))),
    ("swa", TypeError, lambda m, w: run(m, w, GD01, 3, swa=[1, 2])),
    ("w0", ValueError, lambda m, w: run(m, w[:-1], GD01, 3)),
    ("w0", ValueError, lambda m, w: run(m, w[None, :], GD01, 3)),
    ("w0", ValueError, lambda m, w: run(m, np.where(np.arange(w.size) == 1, np.nan, w), GD01, 3)),
    ("w0", TypeError, lambda m, w: run(m, np.ones(w.size, dtype=complex), GD01, 3)),
    ("w0", ValueError, lambda m, w: run(m, np.zeros(0), GD01, 3)),
    ("w0", (TypeError, ValueError), lambda m, w: run(m, None, GD01, 3)),
    ("loss_star", ValueError, lambda m, w: run(m, w, GD01, 3, loss_star=math.nan)),
    ("tol", ValueError, lambda m, w: run(m, w, GD01, 3, tol=-1.0)),
    ("blowup", ValueError, lambda m, w: run(m, w, GD01, 3, blowup=1.0)),
    ("blowup", ValueError, lambda m, w: run(m, w, GD01, 3, blowup=0.5)),
    ("sharpness_tol", ValueError, lambda m, w: run(m, w, GD01, 3, sharpness_tol=1.0)),
    ("schedule", ValueError, lambda m, w: run(m, w, GD01, 3, schedule=lambda t: math.nan)),
    ("schedule", ValueError, lambda m, w: run(m, w, GD01, 3, schedule=lambda t: 1.0 - t)),
    ("schedule", ValueError, lambda m, w: run(m, w, GD01, 3, schedule=lambda t: math.inf)),
    ("schedule", TypeError, lambda m, w: run(m, w, GD01, 3, schedule="cosine")),
    ("optimizer", TypeError, lambda m, w: run(m, w, None, 3)),
    ("optimizer", TypeError, lambda m, w: run(m, w, "gd", 3)),
    ("model", TypeError, lambda m, w: run("model", w, GD01, 3)),
    ("resume", TypeError, lambda m, w: run(ls.ProductToy(2), np.ones(2), GD01, 3, resume="traj")),
]


@pytest.mark.parametrize("name, exc, call", BAD_TRAIN, ids=[f"{i}-{b[0]}" for i, b in enumerate(BAD_TRAIN)])
def test_train_bad_input(small, name, exc, call):
    model, w0 = small
    with pytest.raises(exc, match=name):
        call(model, w0)


def test_resume_bad_input(small):
    model, w0 = small
    mom = run(model, w0, optim.Momentum(0.1), 6)
    with pytest.raises(ValueError, match="optimizer"):
        run(model, None, optim.Adam(0.1), 10, resume=mom)
    with pytest.raises(ValueError, match="optimizer"):
        run(model, None, optim.GD(0.1), 10, resume=run(model, w0, optim.SGD(0.1, batch_size=2), 3))
    with pytest.raises(ValueError, match="steps"):
        run(model, None, None, 5, resume=mom)
    with pytest.raises(ValueError, match="w0"):
        run(model, w0 + 1, None, 10, resume=mom)
    other = least_squares(d=4)
    with pytest.raises(ValueError, match="resume"):
        run(other, None, None, 10, resume=mom)
    # the same budget is fine: nothing more to do, the same result
    assert_identical(run(model, None, None, 6, resume=mom), mom)


# ---------------------------------------------------------------------------------------------
# 8. diagnostics against numpy


def test_diagnostics_against_numpy():
    model = shallow(n=10, d=4, width=10)  # P = 40 > the Lanczos restart length
    w0 = start(model)
    stol = 1e-6
    rec = ("sharpness", "kernel_min", "kernel_drift", "hessian_norm", "params")
    traj = run(model, w0, optim.GD(0.1), 12, record=rec, record_every=3, sharpness_tol=stol)
    ref = Ref(model, w0, 12, gd_update(), lr=0.1, record_every=3)
    assert_rows(traj, ref, rtol=1e-11)
    np.testing.assert_array_equal(traj.params_step, [0, 3, 6, 9, 12])
    np.testing.assert_allclose(traj.params, np.array(ref.iterates)[::3], rtol=1e-11)
    K0 = model.tangent_kernel(w0)
    for i, w in enumerate(traj.params):
        H = model.hessian(w)
        lam = np.linalg.eigvalsh(H)
        assert abs(traj["sharpness"][i] - lam[-1]) <= 2 * stol * np.abs(lam).max()
        np.testing.assert_allclose(traj["hessian_norm"][i], np.linalg.norm(H), rtol=1e-12)
        K = model.tangent_kernel(w)
        kev = np.linalg.eigvalsh(K)
        assert abs(traj["kernel_min"][i] - kev[0]) <= 1e-12 * kev[-1]
        np.testing.assert_allclose(traj["kernel_drift"][i], np.linalg.norm(K - K0) / np.linalg.norm(K0),
                                   rtol=1e-10, atol=1e-15)
        np.testing.assert_allclose(traj["distance"][i], np.linalg.norm(w - w0), rtol=1e-12, atol=0)
    assert traj["kernel_drift"][0] == 0.0 and traj["kernel_drift"][-1] > 0
    L, g = traj["loss"], traj["grad_norm"]
    np.testing.assert_allclose(traj["pl"], g**2 / (2 * L), rtol=1e-12)


def test_sharpness_tracks_a_changing_top_eigenvalue():
    """Edge-of-stability-like run: the warm start must not get stuck on an old eigenvector."""
    model = mlp(n=8, d=3, widths=(6, 6))
    w0 = model.init(seed=2)
    stol = 1e-5
    traj = run(model, w0, optim.GD(0.5), 30, record=("sharpness", "params"), record_every=3, sharpness_tol=stol)
    for i, w in enumerate(traj.params):
        lam = np.linalg.eigvalsh(model.hessian(w))
        assert abs(traj["sharpness"][i] - lam[-1]) <= 2 * stol * np.abs(lam).max(), i


def test_diagnostic_intervals():
    """A dict of intervals: values exactly at rows whose step is a multiple, NaN elsewhere."""
    model = shallow()
    traj = run(model, start(model), optim.GD(0.1), 11, record_every=1,
               record={"sharpness": 2, "hessian_norm": 3, "params": 4})
    steps = traj["step"]
    np.testing.assert_array_equal(np.isnan(traj["sharpness"]), steps % 2 != 0)
    np.testing.assert_array_equal(np.isnan(traj["hessian_norm"]), steps % 3 != 0)
    np.testing.assert_array_equal(traj.params_step, [0, 4, 8])
    assert set(traj.columns) == set(COLUMNS) | {"sharpness", "hessian_norm"}


def test_balancedness_against_numpy():
    model = ls.ProductToy(4)
    w0 = model.init(seed=1)
    traj = run(model, w0, optim.GD(0.05), 10, record=("balancedness", "params"), record_every=2)
    for i, w in enumerate(traj.params):
        assert traj["balancedness"][i] == pytest.approx(w.max() / w.min(), rel=1e-15)
        assert traj["balancedness"][i] == ls.theory.balancedness(w)
    assert traj.params.shape == (6, 4)
    # a non-positive coordinate: inf
    w1 = np.array([1.0, -0.5, 2.0, 1.0])
    t2 = run(model, w1, optim.GD(0.01), 2, record=("balancedness",))
    assert np.isinf(t2["balancedness"][0])


def test_product_toy_rate_bound_holds():
    """The ProductToy theorem of DESIGN §1 along a recorded run (loss and ‖H‖_F bounds)."""
    d = 4
    model = ls.ProductToy(d)
    x0 = np.array([0.55, 0.6, 0.58, 0.62])
    c = float(x0.max() / x0.min())
    delta = float(np.prod(x0))
    gamma = ls.theory.product_toy_step(d, c)
    traj = run(model, x0, optim.GD(gamma), 50, record=("hessian_norm",))
    f0 = traj["loss"][0]
    assert ls.theory.check(traj, ls.theory.product_toy_rate_bound(traj["step"], f0, delta, c), rtol=1e-12)
    assert ls.theory.check(traj, ls.theory.product_toy_hessian_bound(d, c), column="hessian_norm")


# ---------------------------------------------------------------------------------------------
# 9. review fixes


def test_core_train_rejects_an_optimizer_whose_state_does_not_fit():
    """A C++ optimizer that was never reset must raise, not read past its buffers."""
    model = shallow()
    opt = ls._core.Momentum(0.9, False)
    opt.lr = 0.1
    w0 = start(model)
    state = dict(step=0, w=w0, w0=w0, loss0=math.nan, swa_count=0, diagnostics={})
    options = ls._core.TrainOptions()
    options.steps = 3
    with pytest.raises(ValueError, match="optimizer"):
        ls._core.train(model._m, opt, state, options, None)
    opt.reset(model.num_params + 1)
    with pytest.raises(ValueError, match="optimizer"):
        ls._core.train(model._m, opt, state, options, None)


def test_ctrl_c_inside_the_progress_display_stops_cleanly(monkeypatch):
    from landscope import training

    def interrupt(bar, *args):
        raise KeyboardInterrupt

    monkeypatch.setattr(training, "_display", interrupt)
    model = ls.ProductToy(10)
    with pytest.raises(ls.TrainingInterrupted) as info:
        ls.train(model, model.init(0), optim.GD(1e-3), 10**10, record_every=10**6, progress=True)
    traj = info.value.trajectory
    assert traj.status == "interrupted" and 0 < traj.current_step < 10**10


def test_sharpness_products_survive_a_resume():
    model = shallow()
    w0 = start(model)
    kw = dict(record_every=5, record=("sharpness",))
    full = run(model, w0, optim.GD(0.1), 20, **kw)
    half = run(model, w0, optim.GD(0.1), 10, **kw)
    cont = run(model, None, None, 20, resume=half, **kw)
    assert cont.sharpness_products == full.sharpness_products


def test_check_with_negative_bounds():
    model = least_squares()
    traj = run(model, start(model), optim.GD(0.01), 3)
    bound = -traj.loss  # check the negated column against a negative bound
    neg = ls.Trajectory(dict(traj.columns, loss=-traj.loss), traj.params, traj.params_step, traj._state,
                        traj._optimizer_state, traj.status, traj.message, traj.config, 0, 0.0)
    # Upper bounds slightly below the values: a violation of 1e-13 relative is within rtol = 1e-12,
    # one of 1e-9 is not. Lower bounds slightly above the values, likewise.
    assert ls.theory.check(neg, bound * (1 + 1e-13)).ok
    assert not ls.theory.check(neg, bound * (1 + 1e-9)).ok
    assert ls.theory.check(neg, bound * (1 - 1e-13), kind="lower").ok
    assert not ls.theory.check(neg, bound * (1 - 1e-9), kind="lower").ok


@pytest.mark.parametrize("make, name", [
    (lambda: optim.SGD(0.1, 2, seed=2**64), "seed"),
    (lambda: optim.PerturbedGD(0.1, interval=2**63), "interval"),
    (lambda: run(least_squares(), np.zeros(5), optim.GD(0.1), 2**63), "steps"),
    (lambda: run(least_squares(), np.zeros(5), optim.GD(0.1), 5, record={"params": 2**63}), "record"),
    (lambda: run(least_squares(), np.zeros(5), optim.GD(0.1), 5, record=5), "record"),
])
def test_out_of_range_integers_name_the_argument(make, name):
    with pytest.raises((ValueError, TypeError), match=name):
        make()


def test_record_none_means_nothing_extra():
    model = least_squares()
    traj = run(model, np.zeros(model.num_params), optim.GD(0.1), 3, record=None)
    assert set(traj.columns) == set(COLUMNS)


def test_averages_leave_out_the_diverged_iterate():
    model = least_squares()
    w0 = np.zeros(model.num_params)
    traj = run(model, w0, optim.GD(5.0), 100, ema=0.9, swa=0, record=("params",))
    assert traj.status == "diverged"
    # The diverged row takes no params, so the params rows are the iterates before it.
    assert traj.params_step[-1] == traj["step"][-1] - 1
    good = traj.params
    np.testing.assert_allclose(traj.swa, good.mean(axis=0), rtol=1e-12)
    ema = w0.copy()
    for w in good[1:]:
        ema = 0.9 * ema + 0.1 * w
    np.testing.assert_allclose(traj.ema, ema, rtol=1e-12)


def test_gradient_norm_does_not_overflow():
    """Entries near 1e246 square past the float range; the recorded norm must stay exact."""
    model = ls.ProductToy(3)
    traj = run(model, np.array([0.9, 1.2, 0.7]), optim.GD(1e50), 1, blowup=1e308)
    assert traj.status == "budget" and np.isfinite(traj.loss[-1])
    g = model.gradient(traj.w)
    scale = np.abs(g).max()
    assert scale > 1e200
    assert traj.grad_norm[-1] == pytest.approx(scale * np.linalg.norm(g / scale), rel=1e-14)
