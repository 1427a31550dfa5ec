"""Bad input raises a clear exception naming the argument; nothing crashes (DESIGN §6)."""
import numpy as np
import pytest

import landscope as ls
from landscope import _validation


@pytest.fixture
def Xy():
    rng = np.random.default_rng(0)
    return rng.standard_normal((8, 3)), rng.standard_normal(8)


@pytest.fixture
def net(Xy):
    X, y = Xy
    return ls.MLP(X, y, [4])


def test_data_shapes_and_types(Xy):
    X, y = Xy
    with pytest.raises(ValueError, match="X: expected a 2-D"):
        ls.LeastSquares(X[:, 0], y)
    with pytest.raises(ValueError, match="y: expected 8 rows"):
        ls.LeastSquares(X, y[:5])
    with pytest.raises(ValueError, match="X: expected a non-empty"):
        ls.MLP(np.zeros((0, 3)), np.zeros(0), [2])
    with pytest.raises(TypeError, match="X: expected a floating-point array .*got dtype complex128"):
        ls.MLP(np.ones((8, 3), dtype=complex), y, [2])
    with pytest.raises(TypeError, match="X: expected a floating-point array .*got dtype object"):
        ls.MLP(np.ones((8, 3), dtype=object), y, [2])
    with pytest.raises(TypeError, match="y: expected a floating-point"):
        ls.ShallowNet(X, y.astype(complex), 3)
    with pytest.raises(TypeError, match="X: expected a floating-point"):
        ls.MLP([["a", "b", "c"]] * 8, y, [2])
    with pytest.raises(ValueError, match="y: ShallowNet has one output"):
        ls.ShallowNet(X, np.ones((8, 2)), 3)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_data(Xy, bad):
    X, y = Xy
    X = X.copy()
    X[2, 1] = bad
    with pytest.raises(ValueError, match=r"X: contains NaN or Inf \(first at index \(2, 1\)\)"):
        ls.MLP(X, y, [2])
    y = y.copy()
    y[0] = bad
    with pytest.raises(ValueError, match="y: contains NaN or Inf"):
        ls.LeastSquares(Xy[0], y)


def test_float32_and_noncontiguous_are_converted(Xy):
    X, y = Xy
    Xf = np.asfortranarray(X).astype(np.float32)
    a = ls.MLP(Xf, y[::1].astype(np.float32), [4])
    b = ls.MLP(X.astype(np.float32).astype(np.float64), y.astype(np.float32).astype(np.float64), [4])
    w = a.init(seed=1)
    assert a.loss(w) == b.loss(w)
    Xbig = np.zeros((8, 6))
    Xbig[:, ::2] = X
    c = ls.MLP(Xbig[:, ::2], y, [4])  # a strided view
    d = ls.MLP(X, y, [4])
    assert c.loss(w) == d.loss(w)
    wide = np.zeros(2 * w.size)
    wide[::2] = w
    assert c.loss(wide[::2]) == c.loss(w)
    assert c.loss(w.astype(np.float32)) == c.loss(w.astype(np.float32).astype(np.float64))


def test_widths_and_names(Xy):
    X, y = Xy
    with pytest.raises(ValueError, match="widths: every width must be >= 1"):
        ls.MLP(X, y, [4, 0])
    with pytest.raises(ValueError, match="width: every width must be >= 1"):
        ls.ShallowNet(X, y, 0)
    with pytest.raises(ValueError, match="widths: every width must be >= 1"):
        ls.DeepLinear(X, y, [-1])
    with pytest.raises(TypeError, match="widths: expected a sequence of integers"):
        ls.MLP(X, y, [2.5])
    with pytest.raises(ValueError, match="activation: expected one of"):
        ls.MLP(X, y, [4], activation="swishy")
    with pytest.raises(ValueError, match="loss: expected one of"):
        ls.MLP(X, y, [4], loss="hinge")
    with pytest.raises(ValueError, match="reduction: expected one of"):
        ls.MLP(X, y, [4], reduction="avg")
    with pytest.raises(ValueError, match="parameterization: expected one of"):
        ls.MLP(X, y, [4], parameterization="mup")
    with pytest.raises(TypeError, match="d: expected an integer"):
        ls.ProductToy(2.0)
    with pytest.raises(ValueError, match="d: expected a dimension >= 1"):
        ls.ProductToy(0)
    with pytest.raises(ValueError, match="output_weights: expected shape \\(3,\\)"):
        ls.ShallowNet(X, y, 3, output_weights=np.ones(4))


def test_cross_entropy_labels(Xy):
    X, _ = Xy
    labels = np.array([0, 1, 2, 1, 0, 2, 1, 0])
    with pytest.raises(ValueError, match="y: cross-entropy labels must be integers 0 … k−1, got the non-integral value 0.5"):
        ls.MLP(X, np.where(labels == 2, 0.5, labels), [], loss="cross_entropy")
    with pytest.raises(TypeError, match="y: cross-entropy labels must be integers"):
        ls.MLP(X, labels.astype(bool), [], loss="cross_entropy")
    with pytest.raises(ValueError, match="y: label 3 is outside \\[0, 3\\)"):
        ls.MLP(X, np.where(labels == 2, 3, labels), [], loss="cross_entropy", num_classes=3)
    with pytest.raises(ValueError, match="y: label -1 is outside"):
        ls.MLP(X, labels - 1, [], loss="cross_entropy")
    with pytest.raises(ValueError, match="y: expected 8 labels"):
        ls.MLP(X, labels[:4], [], loss="cross_entropy")
    with pytest.raises(ValueError, match="num_classes: cross-entropy needs at least 2"):
        ls.MLP(X, np.zeros(8, dtype=int), [], loss="cross_entropy")
    m = ls.MLP(X, labels, [], loss="cross_entropy")
    assert m.output_dim == 3


def test_parameter_and_direction_errors(net):
    P = net.num_params
    w = net.init()
    with pytest.raises(ValueError, match=f"w: expected shape \\({P},\\), got \\({P + 1},\\)"):
        net.loss(np.zeros(P + 1))
    with pytest.raises(ValueError, match="w: expected shape"):
        net.gradient(np.zeros((P, 1)))
    with pytest.raises(ValueError, match="w: contains NaN or Inf"):
        net.hvp(np.full(P, np.nan), w)
    with pytest.raises(ValueError, match="w: expected a non-empty"):
        net.loss(np.zeros(0))
    with pytest.raises(TypeError, match="w: expected a floating-point"):
        net.loss(np.zeros(P, dtype=complex))
    with pytest.raises(ValueError, match=f"v: expected shape \\({P},\\) or \\({P}, b\\)"):
        net.hvp(w, np.zeros(P - 1))
    with pytest.raises(ValueError, match="v: expected shape"):
        net.gauss_newton_vp(w, np.zeros((2, P)))
    with pytest.raises(ValueError, match="v: contains NaN or Inf"):
        net.hvp(w, np.full(P, np.inf))


def test_samples_errors(net):
    w = net.init()
    with pytest.raises(ValueError, match="samples: index 8 is out of range \\[0, 8\\)"):
        net.loss(w, samples=np.array([0, 8]))
    with pytest.raises(ValueError, match="samples: index -1 is out of range"):
        net.gradient(w, samples=[-1])
    with pytest.raises(ValueError, match="samples: expected at least one index"):
        net.hvp(w, w, samples=np.array([], dtype=int))
    with pytest.raises(TypeError, match="samples: expected an integer index array"):
        net.loss(w, samples=np.array([0.0, 1.0]))
    with pytest.raises(TypeError, match="samples: expected an integer index array"):
        net.loss(w, samples=np.ones(8, dtype=bool))
    with pytest.raises(ValueError, match="samples: expected a 1-D"):
        net.loss(w, samples=np.zeros((2, 2), dtype=int))


def test_seed_errors(net):
    with pytest.raises(ValueError, match="seed: expected an integer >= 0"):
        net.init(seed=-1)
    with pytest.raises(TypeError, match="seed: expected an integer"):
        net.init(seed=1.5)


def test_memory_error_before_allocating(monkeypatch):
    """A dense Hessian larger than available memory raises MemoryError and allocates nothing."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((4, 64))
    net = ls.ShallowNet(X, rng.standard_normal(4), 1 << 16)  # P = 4,194,304: H would be 141 TB
    w = np.zeros(net.num_params)
    with pytest.raises(MemoryError, match="hessian: a dense 4194304 x 4194304 Hessian needs"):
        net.hessian(w)
    with pytest.raises(MemoryError, match="hessian_parts"):
        net.hessian_parts(w)
    monkeypatch.setattr(_validation, "available_memory", lambda: 100)
    small = ls.MLP(X, np.zeros(4), [8])
    with pytest.raises(MemoryError, match="only 0.00 GB of memory is available"):
        small.hessian(small.init())
    with pytest.raises(MemoryError, match="jacobian"):
        small.jacobian(small.init())
    with pytest.raises(MemoryError, match="tangent_kernel"):
        small.tangent_kernel(small.init())


def test_thread_count_errors():
    with pytest.raises(ValueError, match="n: expected a thread count >= 1"):
        ls.set_num_threads(0)
    with pytest.raises(TypeError, match="n: expected an integer or None"):
        ls.set_num_threads(1.5)


def test_core_rejects_bad_layers_directly():
    """The C++ layer validates on its own too (for C++ users): errors map to ValueError."""
    from landscope._loader import core

    X = np.ones((3, 2))
    with pytest.raises(ValueError, match="y: expected shape \\(3, 1\\)"):
        core.least_squares(X, np.ones((2, 1)), "sum")
    with pytest.raises(ValueError, match="activation: expected one of"):
        core.shallow_net(X, np.ones((3, 1)), 2, "nope", None, False, "sum")
    with pytest.raises(ValueError, match="reduction: expected 'sum' or 'mean'"):
        core.least_squares(X, np.ones((3, 1)), "max")
    with pytest.raises(ValueError, match="w: expected 2 parameters"):
        core.least_squares(X, np.ones((3, 1)), "sum").loss(np.ones(3))
