"""Pickling (issue 14): every model, optimizer, schedule and result round-trips to an equal
object that behaves the same, so it travels to workers, multiprocessing and joblib."""
import dataclasses
import multiprocessing
import pickle

import numpy as np
import pytest

import landscope as ls
from landscope import landscape as L
from landscope import optim, schedules
from landscope._equality import equal

from models_zoo import cases

PROTOCOLS = (2, pickle.DEFAULT_PROTOCOL, pickle.HIGHEST_PROTOCOL)


def roundtrip(obj, protocol=pickle.HIGHEST_PROTOCOL):
    return pickle.loads(pickle.dumps(obj, protocol=protocol))


def same_fields(a, b, skip=()):
    """Every attribute of a and b equal exactly (arrays by dtype, shape and contents)."""
    assert type(a) is type(b)
    names = ([f.name for f in dataclasses.fields(a)] if dataclasses.is_dataclass(a) else list(vars(a)))
    assert names
    for name in names:
        if name not in skip:
            assert equal(getattr(a, name), getattr(b, name)), name


# ----------------------------------------------------------------------------------- models

@pytest.mark.parametrize("name", sorted(cases()))
def test_every_model_round_trips_and_computes_the_same(name):
    model = cases()[name]()
    w = model.init(seed=3)
    v = np.random.default_rng(1).standard_normal(model.num_params)
    for protocol in PROTOCOLS:
        back = roundtrip(model, protocol)
        assert type(back) is type(model) and back is not model
        assert back == model and hash(back) == hash(model)
        assert back._m is not model._m  # the engine's model was built again
        assert back.loss(w) == model.loss(w)
        np.testing.assert_array_equal(back.gradient(w), model.gradient(w))
        np.testing.assert_array_equal(back.hvp(w, v), model.hvp(w, v))
        np.testing.assert_array_equal(back.outputs(w), model.outputs(w))
        np.testing.assert_array_equal(back.init(seed=5), model.init(seed=5))
        assert back.unflatten(w).keys() == model.unflatten(w).keys()
        assert repr(back) == repr(model)


def test_model_equality_is_by_class_configuration_and_data():
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((12, 3)), rng.standard_normal(12)
    net = ls.MLP(X, y, [5], activation="tanh")
    assert net == ls.MLP(X.copy(), y.copy(), [5], activation="tanh")
    assert net != ls.MLP(X, y, [5], activation="gelu")
    assert net != ls.MLP(X, y, [6], activation="tanh")
    assert net != ls.MLP(X, y + 1e-12, [5], activation="tanh")
    assert net != ls.MLP(X, y.reshape(-1, 1), [5], activation="tanh")  # y (n,) and (n, 1): other output shapes
    assert net != ls.ShallowNet(X, y, 5)
    assert ls.ProductToy(3) == ls.ProductToy(3) != ls.ProductToy(4)
    assert len({net, roundtrip(net), ls.MLP(X, y, [5], activation="tanh")}) == 1


def test_a_pickled_model_keeps_the_data_it_was_built_from():
    """The caller's arrays may change after construction: the model (and its pickle) does not."""
    rng = np.random.default_rng(1)
    X, y = rng.standard_normal((10, 2)), rng.standard_normal(10)
    labels = rng.integers(0, 3, 10)
    labels[:3] = [0, 1, 2]
    net = ls.ShallowNet(X, y, 4)
    ce = ls.MLP(X, labels, [3], loss="cross_entropy")
    w, wc = net.init(0), ce.init(0)
    before, before_ce = net.loss(w), ce.loss(wc)
    X[:] = 0.0
    y[:] = 0.0
    labels[:] = 0
    assert roundtrip(net).loss(w) == before == net.loss(w)
    assert roundtrip(ce).loss(wc) == before_ce == ce.loss(wc)
    assert L.evaluate(roundtrip(ce), wc, ("accuracy",))["accuracy"] == L.evaluate(ce, wc, ("accuracy",))["accuracy"]


def test_with_data_and_output_weights_survive_pickling():
    rng = np.random.default_rng(2)
    X, y = rng.standard_normal((8, 3)), rng.standard_normal(8)
    v = rng.standard_normal(6)
    net = ls.ShallowNet(X, y, 6, output_weights=v, train_output=False, reduction="mean")
    back = roundtrip(net)
    np.testing.assert_array_equal(back._config["output_weights"], v)
    Xt, yt = rng.standard_normal((5, 3)), rng.standard_normal(5)
    w = net.init(1)
    assert back.with_data(Xt, yt).loss(w) == net.with_data(Xt, yt).loss(w)
    np.testing.assert_array_equal(back.predict(w, Xt), net.predict(w, Xt))


# ------------------------------------------------------------------------ optimizers, schedules

OPTIMIZERS = [optim.GD(0.1), optim.SGD(0.05, batch_size=3, seed=7), optim.Momentum(0.1, beta=0.8, nesterov=True),
              optim.Adam(1e-2, beta2=0.99, weight_decay=1e-3), optim.AdamW(1e-2, batch_size=4),
              optim.PerturbedGD(0.1, radius=0.5, threshold=10.0, interval=2, seed=3), optim.SAM(0.1, rho=0.1)]
SCHEDULES = [schedules.constant(), schedules.step_decay(7, 0.5), schedules.cosine(50, 0.1),
             schedules.warmup_cosine(5, 50), schedules.wsd(60, 0.1, 0.3, 0.01), schedules.one_cycle(40),
             schedules.inverse_sqrt(4)]


@pytest.mark.parametrize("opt", OPTIMIZERS, ids=lambda o: type(o).__name__)
def test_optimizers_round_trip_and_step_the_same(opt):
    back = roundtrip(opt)
    assert back == opt and back is not opt and repr(back) == repr(opt)
    model = cases()["mlp_ntk_tanh"]()
    w0 = model.init(0)
    a = ls.train(model, w0, opt, 12, schedule=schedules.cosine(12), record_every=3, progress=False)
    b = ls.train(roundtrip(model), w0, back, 12, schedule=roundtrip(schedules.cosine(12)), record_every=3,
                 progress=False)
    np.testing.assert_array_equal(a.w, b.w)
    np.testing.assert_array_equal(a.loss, b.loss)


@pytest.mark.parametrize("sched", SCHEDULES, ids=lambda s: s.kind)
def test_schedules_round_trip(sched):
    for protocol in PROTOCOLS:
        back = roundtrip(sched, protocol)
        assert back == sched and hash(back) == hash(sched)
        t = np.arange(80)
        np.testing.assert_array_equal(back(t), sched(t))


# -------------------------------------------------------------------------------- results

@pytest.fixture(scope="module")
def run():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((24, 3))
    y = np.tanh(X @ rng.standard_normal(3))
    net = ls.MLP(X, y, [6], activation="tanh")
    w0 = net.init(0)
    traj = ls.train(net, w0, optim.Momentum(0.05), 40, record_every=5, record=("sharpness", "kernel_min", "params"),
                    ema=0.9, swa=20, schedule=schedules.cosine(40), progress=False)
    return net, w0, traj


def test_trajectory_round_trips_and_resumes_the_same(run):
    net, w0, traj = run
    back = roundtrip(traj)
    assert back == traj and back is not traj
    same_fields(back, traj)
    np.testing.assert_array_equal(back.sharpness, traj.sharpness)
    np.testing.assert_array_equal(back.params, traj.params)
    assert back.status == traj.status and back.current_step == traj.current_step
    more = ls.train(net, None, None, 60, resume=traj, progress=False)
    more_back = ls.train(roundtrip(net), None, None, 60, resume=back, progress=False)
    np.testing.assert_array_equal(more.w, more_back.w)
    np.testing.assert_array_equal(more.loss, more_back.loss)
    assert more == more_back  # equal records (the elapsed time is not compared)
    assert traj != more


def test_training_interrupted_round_trips(run):
    _, _, traj = run
    e = roundtrip(ls.TrainingInterrupted(traj))
    assert isinstance(e, ls.TrainingInterrupted) and e.trajectory == traj
    assert str(e) == str(ls.TrainingInterrupted(traj))


def test_directions_keep_their_metadata(run):
    net, w0, _ = run
    D = L.random_directions(net, w0, k=2, seed=4)
    back = roundtrip(D)
    assert isinstance(back, L.Directions)
    assert back.metadata == D.metadata and back.metadata["seed"] == 4
    np.testing.assert_array_equal(back, D)
    assert back.dtype == D.dtype and back.shape == D.shape and back.flags.f_contiguous == D.flags.f_contiguous


def test_surface_and_path_round_trip(run, tmp_path):
    net, w0, traj = run
    D = L.random_directions(net, w0, k=2, seed=1)
    s = L.surface(net, w0, D, np.linspace(-1, 1, 5), np.linspace(-1, 1, 4), ("loss", "grad_norm"), progress=False)
    back = roundtrip(s)
    assert back == s and back is not s
    same_fields(back, s)
    assert back.metadata["directions"] == D.metadata
    s.save(tmp_path / "s.npz")
    assert L.Surface.load(tmp_path / "s.npz") == s
    p = L.interpolate(net, w0, traj.w, 7, ("loss", "grad_norm"), points=True)
    assert roundtrip(p) == p
    same_fields(roundtrip(p), p)
    other = L.interpolate(net, w0, traj.w, 7, ("loss",))
    assert other != p


def test_curve_round_trips_read_only(run):
    net, w0, traj = run
    curve = L.connect(net, w0, traj.w, steps=5, progress=False)
    back = roundtrip(curve)
    same_fields(back, curve, skip=("model",))
    assert back.model == curve.model
    for name in ("bends", "w_a", "w_b", "loss_history"):
        assert not getattr(back, name).flags.writeable, name
    np.testing.assert_array_equal(back.point(np.linspace(0, 1, 5)), curve.point(np.linspace(0, 1, 5)))
    assert back.evaluate(5).values["loss"].tolist() == curve.evaluate(5).values["loss"].tolist()


def test_spectral_results_round_trip(run):
    net, w0, _ = run
    H = net.hessian_operator(w0)
    results = [ls.eigsh(H, k=3, which="LA", progress=False),
               ls.spectral_density(H, num_probes=3, steps=8, progress=False),
               ls.trace(H, num_probes=6, progress=False),
               ls.classify(net, w0, k=2, progress=False),
               L.flatness(net, w0, ("lambda_max", "trace", "average_sharpness"), progress=False)]
    for r in results:
        back = roundtrip(r)
        assert back == r and back is not r, type(r).__name__
        same_fields(back, r)
    changed = dataclasses.replace(results[0], eigenvalues=results[0].eigenvalues + 1e-15)
    assert changed != results[0]


def test_convergence_error_round_trips(run):
    net, w0, _ = run
    with pytest.raises(ls.ConvergenceError) as info:
        ls.eigsh(net.hessian_operator(w0), k=4, which="SA", tol=1e-14, maxiter=1, ncv=8, progress=False)
    back = roundtrip(info.value)
    assert str(back) == str(info.value) and back.result == info.value.result
    np.testing.assert_array_equal(back.eigenvalues, info.value.eigenvalues)


def _loss_in_child(model, w):
    return model.loss(w)


def test_models_travel_to_another_process(run):
    net, w0, _ = run
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(1) as pool:
        got = pool.apply(_loss_in_child, (net, w0))
    assert got == net.loss(w0)
