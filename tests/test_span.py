"""Model.losses_in_span: the losses at w + D c for many coordinates c (what a loss surface
evaluates), against the losses of the formed points; layered networks compute their first layer
once for the span, every other model forms the points."""
import numpy as np
import pytest

import landscope as ls
from models_zoo import CASES, point


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("k", [1, 2, 3])
def test_span_equals_the_formed_points(name, k):
    model = CASES[name]()
    w = point(model)
    rng = np.random.default_rng(k)
    D = np.asfortranarray(0.3 * rng.standard_normal((model.num_params, k)))
    C = np.asfortranarray(rng.uniform(-1.0, 1.0, (k, 7)))
    got = model._m.losses_in_span(w, D, C)
    want = model.losses(np.asfortranarray(w[:, None] + D @ C))
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14 * np.abs(want).max())
    assert got[0] == pytest.approx(model.loss(w + D @ C[:, 0]), rel=1e-12)


def test_span_over_many_sample_blocks():
    """More than one block of 256 samples, a bias and a residual layer."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((700, 5))
    y = rng.standard_normal((700, 2))
    net = ls.MLP(X, y, [6, 6], activation="tanh", bias=True, residual=True, reduction="mean")
    w = net.init(1)
    D = np.asfortranarray(rng.standard_normal((net.num_params, 2)))
    C = np.asfortranarray(rng.uniform(-0.5, 0.5, (2, 40)))
    np.testing.assert_allclose(net._m.losses_in_span(w, D, C), net.losses(w[:, None] + D @ C), rtol=1e-13)


def test_span_with_no_points_and_no_directions():
    net = CASES["mlp_ntk_tanh"]()
    w = point(net)
    assert net._m.losses_in_span(w, np.zeros((net.num_params, 2), order="F"), np.zeros((2, 0))).shape == (0,)
    out = net._m.losses_in_span(w, np.zeros((net.num_params, 0), order="F"), np.zeros((0, 3)))
    np.testing.assert_allclose(out, net.loss(w), rtol=1e-15)


@pytest.mark.parametrize("name", ["mlp_ntk_tanh", "product_toy3"])
def test_span_bad_input_names_the_argument(name):
    model = CASES[name]()
    w, P = point(model), model.num_params
    D, C = np.ones((P, 2), order="F"), np.ones((2, 3), order="F")
    with pytest.raises(ValueError, match="^w: expected"):
        model._m.losses_in_span(w[:-1], D, C)
    with pytest.raises(ValueError, match="^D: expected"):
        model._m.losses_in_span(w, D[:-1], C)
    with pytest.raises(ValueError, match="^C: expected 2 rows"):
        model._m.losses_in_span(w, D, C[:1])
    for arg, bad in (("w", (np.where(np.arange(P) == 0, np.nan, w), D, C)),
                     ("D", (w, np.where(np.arange(P)[:, None] == 1, np.inf, D), C)),
                     ("C", (w, D, np.where(np.eye(2, 3) > 0, np.nan, C)))):
        with pytest.raises(ValueError, match=f"^{arg}: contains NaN or Inf"):
            model._m.losses_in_span(*bad)


def test_public_losses_in_span_validates_and_matches():
    net = CASES["mlp_std_bias_res_tanh"]()
    w = point(net)
    rng = np.random.default_rng(5)
    D = rng.standard_normal((net.num_params, 2))  # C order: converted
    C = rng.uniform(-1.0, 1.0, (2, 5))
    np.testing.assert_allclose(net.losses_in_span(w, D, C), net.losses(w[:, None] + D @ C), rtol=1e-12)
    line = net.losses_in_span(w, D[:, 0], np.linspace(-1.0, 1.0, 4))  # one direction, (b,) coordinates
    np.testing.assert_allclose(line, [net.loss(w + t * D[:, 0]) for t in np.linspace(-1.0, 1.0, 4)], rtol=1e-12)
    with pytest.raises(ValueError, match=r"^C: expected shape \(2, b\)"):
        net.losses_in_span(w, D, C[:1])
    with pytest.raises(ValueError, match="^C: contains NaN"):
        net.losses_in_span(w, D, np.full((2, 3), np.nan))
    with pytest.raises(TypeError, match="^C: expected a floating-point array"):
        net.losses_in_span(w, D, np.array([["a", "b"], ["c", "d"]]))
    with pytest.raises(ValueError, match="^D: expected shape"):
        net.losses_in_span(w, D[:-1], C)
    with pytest.raises(ValueError, match="^w: expected shape"):
        net.losses_in_span(w[:-1], D, C)


def test_unaligned_input_is_copied_before_the_engine_reads_it():
    """Arrays unpickled from a byte buffer (Dask workers) can be misaligned; the engine reads
    doubles, so the checks hand it an aligned copy."""
    net = CASES["mlp_ntk_tanh"]()
    w = point(net)
    raw = np.zeros(8 * w.size + 1, dtype=np.uint8)[1:]
    unaligned = raw.view(np.float64)
    unaligned[:] = w
    assert not unaligned.flags.aligned
    from landscope import _validation as val
    assert val.as_params(unaligned, w.size).flags.aligned
    D = np.ones((w.size, 1))
    np.testing.assert_array_equal(net.losses_in_span(unaligned, D, [0.0, 0.1]), net.losses_in_span(w, D, [0.0, 0.1]))
    assert net.loss(unaligned) == net.loss(w)
