"""Resume refuses a model or a saved state that does not match the saved run, with a message
naming what differs; the C++ entry points check sizes on their own (release builds too)."""
import numpy as np
import pytest

import landscope as ls
from landscope import optim


def _data(n, d=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, d)), rng.standard_normal(n)


def _run(model, steps=4, **kw):
    kw.setdefault("record", ("kernel_drift",))
    return ls.train(model, model.init(0) if kw.pop("start", True) else None, optim.GD(1e-3), steps,
                    progress=False, **kw)


def test_fewer_outputs_same_parameter_count_is_refused():
    """Was a heap-buffer-overflow: kernel_drift against a saved K of another size."""
    X, y = _data(10)
    part = _run(ls.ShallowNet(X, y, 8), 4)
    other = ls.ShallowNet(X[:6], y[:6], 8)
    assert other.num_params == part.w.size
    with pytest.raises(ValueError, match="sample count n 10, the model has 6"):
        ls.train(other, None, None, 8, resume=part, progress=False)
    bigger = ls.ShallowNet(*_data(14), 8)
    with pytest.raises(ValueError, match="sample count n"):
        ls.train(bigger, None, None, 8, resume=part, progress=False)


@pytest.mark.parametrize("change, name", [
    (dict(activation="relu"), "activation"),
    (dict(reduction="mean"), "reduction"),
])
def test_another_configuration_is_refused(change, name):
    X, y = _data(10)
    part = _run(ls.ShallowNet(X, y, 8), 4)
    with pytest.raises(ValueError, match=name):
        ls.train(ls.ShallowNet(X, y, 8, **change), None, None, 8, resume=part, progress=False)


def test_another_class_or_output_count_is_refused():
    X, y = _data(10, d=4)
    part = _run(ls.LeastSquares(X, y), 4, record=())
    Y2 = np.c_[y, y]
    with pytest.raises(ValueError, match="parameter count P|output count k"):
        ls.train(ls.LeastSquares(X, Y2), None, None, 8, resume=part, progress=False)
    with pytest.raises(ValueError, match="model class"):
        ls.train(ls.DeepLinear(X, y, []), None, None, 8, resume=part, progress=False)


def test_the_same_model_after_save_and_load_resumes(tmp_path):
    X, y = _data(10)
    model = ls.ShallowNet(X, y, 8)
    part = _run(model, 4)
    part.save(tmp_path / "run.npz")
    cont = ls.train(ls.ShallowNet(X, y, 8), None, None, 8, resume=ls.Trajectory.load(tmp_path / "run.npz"),
                    progress=False)
    full = _run(model, 8)
    np.testing.assert_array_equal(cont.kernel_drift, full.kernel_drift)


@pytest.mark.parametrize("key, bad", [("kernel0", np.zeros((3, 3))), ("sharpness_vector", np.ones(5)),
                                      ("ema", np.ones(2)), ("kernel_vector", np.ones(4))])
def test_a_saved_state_array_of_the_wrong_shape_is_refused(key, bad):
    X, y = _data(10)
    model = ls.ShallowNet(X, y, 8)
    part = _run(model, 4)
    part._state[key] = bad
    with pytest.raises(ValueError, match=key):
        ls.train(model, None, None, 8, resume=part, progress=False)


def test_cpp_checks_the_state_sizes_itself():
    """Past the Python checks, the C++ loop refuses a kernel0 of the wrong shape too."""
    X, y = _data(10)
    model = ls.ShallowNet(X, y, 8)
    w = model.init(0)
    opt = optim.GD(1e-3)._build()
    opt.reset(model.num_params)
    state = dict(step=0, w=w.copy(), w0=w.copy(), loss0=np.nan, ema=None, swa_sum=None, swa_count=0,
                 diagnostics={"kernel_vector": np.ones(3), "kernel0": np.eye(6).ravel()})
    options = ls._core.TrainOptions()
    options.steps = 2
    options.record = {"kernel_min": 1, "kernel_drift": 1}
    with pytest.raises(ValueError, match=r"kernel0 has length 36, expected 100"):
        ls._core.train(model._m, opt, state, options, None)
    del state["diagnostics"]["kernel0"]
    with pytest.raises(ValueError, match="kernel_vector has length 3, expected 10"):
        ls._core.train(model._m, opt, state, options, None)


def test_perturbation_size_is_checked():
    with pytest.raises(ValueError, match="P: expected a parameter count >= 1"):
        ls._core.PerturbedGD(1.0, 0.0, 1).noise(0, -1)


@pytest.mark.parametrize("content", [b"", b"not a zip file", b"PK\x03\x04truncated"])
def test_malformed_trajectory_files(tmp_path, content):
    path = tmp_path / "bad.npz"
    path.write_bytes(content)
    with pytest.raises(ValueError, match="path: .*bad.npz"):
        ls.Trajectory.load(path)


def test_a_foreign_npz_is_not_a_trajectory(tmp_path):
    path = tmp_path / "other.npz"
    np.savez(path, X=np.ones(3))
    with pytest.raises(ValueError, match="not a readable saved landscope Trajectory"):
        ls.Trajectory.load(path)
