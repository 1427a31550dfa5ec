"""Held-out data (with_data), predictions on new inputs (predict), output shapes, numpy-like
input conversion, label rules, integer ranges and memory checks at construction."""
import numpy as np
import pytest
from models_zoo import CASES

import landscope as ls
from landscope import _validation, models

RNG = np.random.default_rng(11)
X_TRAIN, X_TEST = RNG.standard_normal((12, 3)), RNG.standard_normal((7, 3))
Y_TRAIN, Y_TEST = RNG.standard_normal((12, 2)), RNG.standard_normal((7, 2))
L_TRAIN = np.array([0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3])
L_TEST = np.array([0, 2, 2, 0, 3, 0, 2])  # class 1 never occurs


def _point(model, seed=5):
    return model.init(seed=seed) + 0.3 * np.random.default_rng(seed).standard_normal(model.num_params)


# (name, constructor taking (X, y), train y, test y)
FAMILIES = [
    ("least_squares_1d", lambda X, y: ls.LeastSquares(X, y), Y_TRAIN[:, 0], Y_TEST[:, 0]),
    ("least_squares_mean", lambda X, y: ls.LeastSquares(X, y, reduction="mean"), Y_TRAIN, Y_TEST),
    ("deep_linear", lambda X, y: ls.DeepLinear(X, y, [4, 3], reduction="mean"), Y_TRAIN, Y_TEST),
    ("shallow_given_v", lambda X, y: ls.ShallowNet(X, y, 4, activation="softplus",
                                                   output_weights=np.array([0.5, -1.0, 2.0, 0.1])),
     Y_TRAIN[:, 0], Y_TEST[:, 0]),
    ("shallow_trained_v", lambda X, y: ls.ShallowNet(X, y, 5, activation="gelu", train_output=True,
                                                     reduction="mean"), Y_TRAIN[:, 0], Y_TEST[:, 0]),
    ("mlp_ntk_bias_res", lambda X, y: ls.MLP(X, y, [4, 4], activation="tanh", bias=True, residual=True),
     Y_TRAIN, Y_TEST),
    ("mlp_standard_relu", lambda X, y: ls.MLP(X, y, [5, 3], activation="relu", parameterization="standard",
                                              reduction="mean"), Y_TRAIN[:, 0], Y_TEST[:, 0]),
    ("mlp_cross_entropy", lambda X, y: ls.MLP(X, y, [5], activation="silu", bias=True, loss="cross_entropy",
                                              reduction="mean", num_classes=4), L_TRAIN, L_TEST),
]


@pytest.mark.parametrize("name, make, y_train, y_test", FAMILIES, ids=[f[0] for f in FAMILIES])
def test_with_data_equals_a_model_built_on_the_data(name, make, y_train, y_test):
    model = make(X_TRAIN, y_train)
    w = _point(model)
    held_out = model.with_data(X_TEST, y_test)
    direct = make(X_TEST, y_test)
    assert type(held_out) is type(model)
    assert held_out.num_samples == 7 and model.num_samples == 12
    assert held_out.num_params == direct.num_params == model.num_params
    assert held_out.output_dim == model.output_dim
    assert held_out._m.param_blocks() == model._m.param_blocks()
    assert repr(held_out) == repr(direct)
    np.testing.assert_array_equal(held_out.outputs(w), direct.outputs(w))
    np.testing.assert_array_equal(held_out.residuals(w), direct.residuals(w))
    assert held_out.loss(w) == direct.loss(w)
    np.testing.assert_array_equal(held_out.gradient(w), direct.gradient(w))
    v = np.random.default_rng(1).standard_normal(model.num_params)
    np.testing.assert_array_equal(held_out.hvp(w, v), direct.hvp(w, v))
    # The original model is untouched.
    assert model.loss(w) == make(X_TRAIN, y_train).loss(w)


def test_with_data_cross_entropy_keeps_num_classes_when_a_class_is_missing():
    model = ls.MLP(X_TRAIN, L_TRAIN, [5], loss="cross_entropy")  # k = 4 inferred, every class occurs
    assert model.output_dim == 4
    with pytest.raises(ValueError, match="class 1 never does"):
        ls.MLP(X_TEST, L_TEST, [5], loss="cross_entropy")  # the test set alone cannot tell k
    held_out = model.with_data(X_TEST, L_TEST)
    assert held_out.output_dim == 4 and held_out.num_params == model.num_params
    w = _point(model)
    direct = ls.MLP(X_TEST, L_TEST, [5], loss="cross_entropy", num_classes=4)
    assert held_out.loss(w) == direct.loss(w)
    np.testing.assert_array_equal(held_out.gradient(w), direct.gradient(w))
    # Only classes within the model's k.
    with pytest.raises(ValueError, match=r"y: label 4 is outside \[0, 4\)"):
        model.with_data(X_TEST, np.where(L_TEST == 3, 4, L_TEST))


def test_with_data_shape_errors_and_product_toy():
    model = ls.MLP(X_TRAIN, Y_TRAIN, [4])
    with pytest.raises(ValueError, match="X: expected 3 columns"):
        model.with_data(X_TEST[:, :2], Y_TEST)
    with pytest.raises(ValueError, match=r"y: expected shape \(7, 2\) for a model with k = 2 outputs"):
        model.with_data(X_TEST, Y_TEST[:, 0])
    with pytest.raises(ValueError, match="y: expected 7 rows"):
        model.with_data(X_TEST, Y_TRAIN)
    toy = ls.ProductToy(3)
    with pytest.raises(TypeError, match="ProductToy has no data"):
        toy.with_data(X_TEST, Y_TEST)
    with pytest.raises(TypeError, match="ProductToy has no inputs"):
        toy.predict(toy.init(), X_TEST)


def test_with_data_keeps_the_output_weights_given_at_construction():
    v = np.array([0.5, -1.0, 2.0, 0.1])
    model = ls.ShallowNet(X_TRAIN, Y_TRAIN[:, 0], 4, output_weights=v)
    expected = ls.ShallowNet(X_TEST, Y_TEST[:, 0], 4, output_weights=v.copy())
    v[:] = 7.0  # the caller reuses its array
    w = _point(model)
    np.testing.assert_array_equal(model.with_data(X_TEST, Y_TEST[:, 0]).outputs(w), expected.outputs(w))


def test_with_data_follows_the_new_y_shape():
    model = ls.LeastSquares(X_TRAIN, Y_TRAIN[:, 0])
    w = _point(model)
    assert model.with_data(X_TEST, Y_TEST[:, :1]).outputs(w).shape == (7, 1)
    assert model.with_data(X_TEST, Y_TEST[:, 0]).outputs(w).shape == (7,)


# -- predict against an independent numpy forward pass ---------------------------------------

SIGMA = {"tanh": np.tanh, "relu": lambda z: np.maximum(z, 0.0), "identity": lambda z: z}


def mlp_forward(model, w, X):
    """The MLP docstring: h_0 = x, z_l = W_l h_{l−1}/√m_{l−1} + b_l (ntk; no 1/√m for standard),
    h_l = σ(z_l) (+ h_{l−1} for a residual hidden layer after the first of equal width),
    F = W_{L+1} h_L/√m_L + b_{L+1}."""
    blocks = model.unflatten(w)
    L = len(model.widths)
    h = X
    for l in range(1, L + 2):
        W = blocks[f"W{l}"]
        scale = 1.0 / np.sqrt(h.shape[1]) if model.parameterization == "ntk" else 1.0
        z = scale * h @ W.T + blocks.get(f"b{l}", 0.0)
        if l == L + 1:
            return z
        a = SIGMA[model.activation](z)
        h = h + a if (model._config["residual"] and l > 1 and a.shape == h.shape) else a


def test_predict_least_squares_against_numpy():
    Xnew = RNG.standard_normal((9, 3))
    flat = ls.LeastSquares(X_TRAIN, Y_TRAIN[:, 0])
    w = _point(flat)
    W = w.reshape(1, 3)  # documented layout: W (k x d), row-major
    p = flat.predict(w, Xnew)
    assert p.shape == (9,)
    np.testing.assert_allclose(p, Xnew @ W[0], rtol=1e-14, atol=1e-15)
    two = ls.LeastSquares(X_TRAIN, Y_TRAIN)
    w2 = _point(two)
    p2 = two.predict(w2, Xnew)
    assert p2.shape == (9, 2)
    np.testing.assert_allclose(p2, Xnew @ w2.reshape(2, 3).T, rtol=1e-14, atol=1e-15)
    column = ls.LeastSquares(X_TRAIN, Y_TRAIN[:, :1])  # a 2-D y stays 2-D
    assert column.predict(w, Xnew).shape == (9, 1)


@pytest.mark.parametrize("kwargs", [
    dict(widths=[4, 4], activation="tanh", bias=True, residual=True),
    dict(widths=[6, 3], activation="relu", parameterization="standard"),
    dict(widths=[], activation="tanh", bias=True),
])
def test_predict_mlp_against_numpy(kwargs):
    Xnew = RNG.standard_normal((10, 3))
    model = ls.MLP(X_TRAIN, Y_TRAIN, **kwargs)
    w = _point(model)
    p = model.predict(w, Xnew)
    assert p.shape == (10, 2)
    np.testing.assert_allclose(p, mlp_forward(model, w, Xnew), rtol=1e-13, atol=1e-14)
    flat = ls.MLP(X_TRAIN, Y_TRAIN[:, 0], **kwargs)
    assert flat.predict(w[: flat.num_params], Xnew).shape == (10,)
    # predict on the training inputs is outputs.
    np.testing.assert_array_equal(model.predict(w, X_TRAIN), model.outputs(w))


def test_predict_cross_entropy_gives_logits():
    model = ls.MLP(X_TRAIN, L_TRAIN, [5], activation="tanh", bias=True, loss="cross_entropy")
    w = _point(model)
    Xnew = RNG.standard_normal((6, 3))
    logits = model.predict(w, Xnew)
    assert logits.shape == (6, 4)
    np.testing.assert_allclose(logits, mlp_forward(model, w, Xnew), rtol=1e-13, atol=1e-14)
    # The cross-entropy of these logits is the held-out loss.
    labels = np.array([3, 0, 0, 2, 1, 1])
    lse = np.log(np.exp(logits).sum(axis=1))
    np.testing.assert_allclose(model.with_data(Xnew, labels).loss(w), (lse - logits[np.arange(6), labels]).sum(),
                               rtol=1e-13)


def test_predict_shallow_net_against_numpy():
    model = ls.ShallowNet(X_TRAIN, Y_TRAIN[:, 0], 6, activation="tanh")
    w = _point(model)
    Xnew = RNG.standard_normal((5, 3))
    v = np.array([1.0, -1.0, 1.0, -1.0, 1.0, -1.0])  # the documented default
    expected = np.tanh(Xnew @ w.reshape(6, 3).T) @ v / np.sqrt(6)
    np.testing.assert_allclose(model.predict(w, Xnew), expected, rtol=1e-13, atol=1e-15)


def test_predict_errors():
    model = ls.MLP(X_TRAIN, Y_TRAIN, [4])
    w = model.init()
    with pytest.raises(ValueError, match="X: expected 3 columns"):
        model.predict(w, np.ones((2, 4)))
    with pytest.raises(ValueError, match="X: expected a 2-D"):
        model.predict(w, np.ones(3))
    with pytest.raises(ValueError, match="w: expected shape"):
        model.predict(w[:-1], X_TEST)
    with pytest.raises(TypeError, match="X: expected a floating-point array"):
        model.predict(w, X_TEST.astype(complex))


# -- output shapes ---------------------------------------------------------------------------

def test_outputs_and_residuals_have_the_shape_of_y():
    y = Y_TRAIN[:, 0]
    for model in (ls.LeastSquares(X_TRAIN, y), ls.MLP(X_TRAIN, y, [4]), ls.ShallowNet(X_TRAIN, y, 3),
                  ls.DeepLinear(X_TRAIN, y, [2])):
        w = _point(model)
        F, r = model.outputs(w), model.residuals(w)
        assert F.shape == r.shape == (12,)
        np.testing.assert_allclose(r, F - y, rtol=1e-15, atol=1e-15)  # no (n, n) broadcasting
        assert np.isclose(model.loss(w), 0.5 * np.sum((F - y) ** 2), rtol=1e-13)
    for Y in (Y_TRAIN[:, :1], Y_TRAIN):
        model = ls.MLP(X_TRAIN, Y, [4])
        w = _point(model)
        assert model.outputs(w).shape == model.residuals(w).shape == Y.shape
        np.testing.assert_allclose(model.residuals(w), model.outputs(w) - Y, rtol=1e-15, atol=1e-15)
    ce = ls.MLP(X_TRAIN, L_TRAIN, [4], loss="cross_entropy")
    assert ce.outputs(_point(ce)).shape == ce.residuals(_point(ce)).shape == (12, 4)


# -- numpy-like conversion -------------------------------------------------------------------

def test_integer_and_bool_inputs_convert_like_numpy():
    Xi = np.arange(24).reshape(12, 2) % 5 - 2
    yi = np.arange(12) % 3
    model_i = ls.MLP(Xi, yi, [4])
    model_f = ls.MLP(Xi.astype(float), yi.astype(float), [4])
    w = model_f.init(seed=2)
    assert model_i.loss(w) == model_f.loss(w)
    wi = np.round(3 * w).astype(np.int32)
    assert model_f.loss(wi) == model_f.loss(wi.astype(float))
    vi = np.arange(model_f.num_params) % 4
    np.testing.assert_array_equal(model_f.hvp(w, vi), model_f.hvp(w, vi.astype(float)))
    np.testing.assert_array_equal(model_f.jvp(w, vi), model_f.jvp(w, vi.astype(float)))
    np.testing.assert_array_equal(model_f.predict(w, Xi[:3]), model_f.predict(w, Xi[:3].astype(float)))
    Xb = Xi > 0
    assert ls.LeastSquares(Xb, yi.astype(np.uint8)).loss(w[:2]) == ls.LeastSquares(Xb.astype(float), yi.astype(float)).loss(w[:2])
    # Python lists of ints too, and ShallowNet's output weights.
    a = ls.ShallowNet(Xi.tolist(), yi.tolist(), 3, output_weights=[1, -2, 1])
    b = ls.ShallowNet(Xi.astype(float), yi.astype(float), 3, output_weights=np.array([1.0, -2.0, 1.0]))
    assert a.loss(w[:6]) == b.loss(w[:6])
    # Operators convert their vectors the same way.
    op = model_f.hessian_operator(w)
    np.testing.assert_array_equal(op.matvec(vi), op.matvec(vi.astype(float)))
    # So does train's starting point.
    w0 = np.arange(model_f.num_params) % 3 - 1
    a, b = (ls.train(model_f, start, ls.optim.GD(0.01), 3, progress=False) for start in (w0, w0.astype(float)))
    np.testing.assert_array_equal(a.w, b.w)


@pytest.mark.parametrize("bad", [np.complex128, object, "U1"])
def test_non_real_dtypes_still_raise_naming_the_argument(bad):
    model = ls.MLP(X_TRAIN, Y_TRAIN, [4])
    w = model.init()
    with pytest.raises(TypeError, match="^X: expected a floating-point array"):
        ls.MLP(np.ones((12, 3)).astype(bad), Y_TRAIN, [4])
    with pytest.raises(TypeError, match="^y: expected a floating-point array"):
        ls.LeastSquares(X_TRAIN, np.ones(12).astype(bad))
    with pytest.raises(TypeError, match="^w: expected a floating-point array"):
        model.loss(np.ones(model.num_params).astype(bad))
    with pytest.raises(TypeError, match="^v: expected a floating-point array"):
        model.hvp(w, np.ones(model.num_params).astype(bad))
    with pytest.raises(TypeError, match="^output_weights: expected a floating-point array"):
        ls.ShallowNet(X_TRAIN, Y_TRAIN[:, 0], 2, output_weights=np.ones(2).astype(bad))


# -- cross-entropy labels --------------------------------------------------------------------

def test_label_dtypes():
    base = ls.MLP(X_TRAIN, L_TRAIN, [3], loss="cross_entropy")
    w = base.init(seed=1)
    for labels in (L_TRAIN.astype(float), L_TRAIN.astype(np.uint8), L_TRAIN.astype(np.float32), L_TRAIN.tolist()):
        assert ls.MLP(X_TRAIN, labels, [3], loss="cross_entropy").loss(w) == base.loss(w)
    with pytest.raises(ValueError, match="non-integral value 1.5 at index 2"):
        ls.MLP(X_TRAIN, np.where(L_TRAIN == 2, 1.5, L_TRAIN), [3], loss="cross_entropy")
    with pytest.raises(ValueError, match="y: contains NaN or Inf"):
        ls.MLP(X_TRAIN, np.where(L_TRAIN == 2, np.nan, L_TRAIN), [3], loss="cross_entropy")
    with pytest.raises(TypeError, match="labels must be integers .*dtype bool"):
        ls.MLP(X_TRAIN, L_TRAIN > 1, [3], loss="cross_entropy")
    with pytest.raises(TypeError, match="labels must be integers .*dtype complex128"):
        ls.MLP(X_TRAIN, L_TRAIN.astype(complex), [3], loss="cross_entropy")


def test_inferred_num_classes_needs_every_class():
    X = X_TRAIN[:10]
    with pytest.raises(ValueError, match=r"num_classes = max\(y\) \+ 1 = 3.*class 0 never does.*num_classes=3"):
        ls.MLP(X, np.array([1, 2] * 5), [], loss="cross_entropy")
    assert ls.MLP(X, np.array([1, 2] * 5), [], loss="cross_entropy", num_classes=3).output_dim == 3
    stray = np.array([0, 1] * 4 + [1, 10**6])
    with pytest.raises(ValueError, match="largest label is 1000000 but there are only 10 samples"):
        ls.MLP(X, stray, [], loss="cross_entropy")
    with pytest.raises(ValueError, match="largest label is 1e\\+300"):
        ls.MLP(X, np.where(stray > 1, 1e300, stray), [], loss="cross_entropy")
    huge = np.array([0, 1] * 4 + [1, 2**64 - 1], dtype=np.uint64)  # no int64 wrap-around to -1
    with pytest.raises(ValueError, match="largest label is 18446744073709551615"):
        ls.MLP(X, huge, [], loss="cross_entropy")
    with pytest.raises(ValueError, match="y: label 18446744073709551615 is outside \\[0, 3\\)"):
        ls.MLP(X, huge, [], loss="cross_entropy", num_classes=3)
    with pytest.raises(ValueError, match="y: label -1 is outside"):
        ls.MLP(X, stray - 1, [], loss="cross_entropy", num_classes=3)


def test_num_classes_argument():
    X, labels = X_TRAIN[:10], np.array([0, 1] * 5)
    assert ls.MLP(X, labels, [], loss="cross_entropy", num_classes=np.int64(5)).output_dim == 5
    with pytest.raises(TypeError, match="num_classes: expected an integer, got True"):
        ls.MLP(X, labels, [], loss="cross_entropy", num_classes=True)
    with pytest.raises(TypeError, match="num_classes: expected an integer"):
        ls.MLP(X, labels, [], loss="cross_entropy", num_classes=2.0)
    with pytest.raises(ValueError, match="num_classes: expected an integer >= 2, got 1"):
        ls.MLP(X, np.zeros(10, dtype=int), [], loss="cross_entropy", num_classes=1)
    with pytest.raises(ValueError, match="num_classes: expected an integer <= "):
        ls.MLP(X, labels, [], loss="cross_entropy", num_classes=2**70)
    with pytest.raises(ValueError, match=r"y: label 2 is outside \[0, 2\) \(at index 1; num_classes = 2\)"):
        ls.MLP(X, labels + (labels > 0), [], loss="cross_entropy", num_classes=2)


# -- integer ranges --------------------------------------------------------------------------

def test_seeds_must_fit_uint64():
    model = ls.MLP(X_TRAIN, Y_TRAIN, [4])
    np.testing.assert_array_equal(model.init(seed=np.uint64(7)), model.init(seed=7))
    np.testing.assert_array_equal(model.init(seed=np.int8(7)), model.init(seed=7))
    assert model.init(seed=2**64 - 1).shape == (model.num_params,)
    with pytest.raises(ValueError, match="seed: expected an integer <= 18446744073709551615, got 2361"):
        model.init(seed=2**71)
    with pytest.raises(ValueError, match="seed: expected an integer >= 0"):
        model.init(seed=-1)
    for bad in (True, 1.0, "1", None):
        with pytest.raises(TypeError, match="seed: expected an integer"):
            model.init(seed=bad)


def test_sizes_beyond_int64_name_the_argument():
    y = Y_TRAIN[:, 0]
    with pytest.raises(ValueError, match="widths: every width must be <= 2\\*\\*62"):
        ls.MLP(X_TRAIN, y, [4, 10**30])
    with pytest.raises(ValueError, match="widths: every width must be <= 2\\*\\*62"):
        ls.DeepLinear(X_TRAIN, y, [2**63])
    with pytest.raises(ValueError, match="width: every width must be <= 2\\*\\*62"):
        ls.ShallowNet(X_TRAIN, y, 10**30)
    with pytest.raises(ValueError, match="d: expected a dimension <= 2\\*\\*62"):
        ls.ProductToy(2**70)
    with pytest.raises(TypeError, match="widths: expected a sequence of integers"):
        ls.MLP(X_TRAIN, y, 5)
    with pytest.raises(TypeError, match="widths: expected a sequence of integers"):
        ls.MLP(X_TRAIN, y, [True])
    a = ls.MLP(X_TRAIN, y, np.array([4, 3], dtype=np.uint16))
    b = ls.MLP(X_TRAIN, y, [4, 3])
    assert a.num_params == b.num_params and a.loss(b.init()) == b.loss(b.init())
    assert ls.ProductToy(np.int32(3)).num_params == 3


# -- memory ----------------------------------------------------------------------------------

def test_parameter_count_too_large_raises_memory_error_at_construction(monkeypatch):
    y = Y_TRAIN[:, 0]
    # P = 3·10^6 + 10^12 + 10^6: w and a gradient alone are 16 TB.
    with pytest.raises(MemoryError, match=r"MLP: w and a gradient for P = 1000004000000 parameters.* needs 16\.00 TB"):
        ls.MLP(X_TRAIN, y, [10**6, 10**6])
    # Width products far beyond int64 are counted exactly, never overflow.
    with pytest.raises(MemoryError, match=f"P = {3 * 2**62 + 2**124 + 2**62} parameters"):
        ls.DeepLinear(X_TRAIN, y, [2**62, 2**62])
    with pytest.raises(MemoryError, match="ProductToy: w and a gradient for P = 1000000000000000 parameters"):
        ls.ProductToy(10**15)
    # The check runs before the C++ engine is called at all.
    monkeypatch.setattr(_validation, "available_memory", lambda: 10**6)
    monkeypatch.setattr(models, "_core", None)
    with pytest.raises(MemoryError, match="ShallowNet: w and a gradient for P = 15000000 parameters"):
        ls.ShallowNet(X_TRAIN, y, 5 * 10**6)  # 240 MB
    with pytest.raises(MemoryError, match="DeepLinear: w and a gradient for P = 9012000 parameters.*only 0.00 GB"):
        ls.DeepLinear(X_TRAIN, y, [3000, 3000])


def test_activation_memory_is_checked_per_pass():
    """A model whose parameters fit but whose full-batch activations do not: MemoryError names
    the pass; minibatches still work."""
    X = np.ones((10**5, 1))
    model = ls.MLP(X, np.zeros(10**5), [10**6])  # P = 2·10^6; one pass holds 10^5 x 2,000,002 doubles
    w = model.init()
    for call in (lambda: model.loss(w), lambda: model.gradient(w), lambda: model.outputs(w),
                 lambda: model.hvp(w, w), lambda: model.predict(w, X)):
        with pytest.raises(MemoryError, match=r"the layer activations of a pass over 100000 samples \(100000 x 2000002"):
            call()
    assert np.isfinite(model.loss(w, samples=[0, 5]))


def test_python_parameter_count_matches_the_engine():
    """The memory check counts P in Python before building: it must agree with C++ for every
    family, activation and option of the shared model zoo."""
    for name, make in CASES.items():
        model = make()
        if isinstance(model, ls.ProductToy):
            continue
        layers = model._layers(model._d, model.output_dim)
        P = sum(i * o + (o if bias else 0) for i, o, bias, trainable in layers if trainable)
        assert P == model.num_params, name
