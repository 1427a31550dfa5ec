"""The engine's elementwise activations against an extended-precision reference.

tanh, sigmoid, silu, softplus and gelu have their own vectorized kernels; these tests hold them
to a few ulps of σ, σ' and σ'' computed in long double (gelu: mpmath), and check the special
values a network meets (signed zeros, subnormals, saturation, NaN)."""
import numpy as np
import pytest

from landscope import _core

LONG = np.finfo(np.longdouble).eps < np.finfo(np.float64).eps  # an 80-bit long double (x86)


def ulps(ref: np.ndarray, got: np.ndarray) -> np.ndarray:
    """|got − ref| in units of the last place of ref rounded to double."""
    spacing = np.spacing(np.abs(ref.astype(np.float64)))
    spacing[spacing == 0] = np.finfo(np.float64).smallest_subnormal
    return np.abs((got.astype(np.longdouble) - ref) / spacing.astype(np.longdouble)).astype(np.float64)


def sample() -> np.ndarray:
    rng = np.random.default_rng(0)
    parts = [rng.standard_normal(100_000) * s for s in (1e-3, 0.3, 1.0, 3.0, 30.0)]
    parts += [np.linspace(-40.0, 40.0, 80_001), np.geomspace(1e-300, 350.0, 20_000)]
    x = np.concatenate(parts)
    return np.concatenate([x, -x])


@pytest.mark.skipif(not LONG, reason="needs an extended-precision long double for the reference")
def test_tanh_within_a_few_ulps():
    x = sample()
    y, d1, d2 = (a.ravel() for a in _core.activate("tanh", x.reshape(-1, 1)))
    xl = x.astype(np.longdouble)
    t = np.tanh(xl)
    sech2 = 1.0 / np.cosh(xl) ** 2
    assert ulps(t, y).max() <= 4.0
    assert ulps(sech2, d1).max() <= 6.0
    assert ulps(-2.0 * t * sech2, d2).max() <= 10.0


def test_tanh_special_values():
    x = np.array([0.0, -0.0, 5e-324, -5e-324, 1e-20, 354.0, 400.0, -1e300, np.inf, -np.inf])
    y, d1, d2 = (a.ravel() for a in _core.activate("tanh", x.reshape(-1, 1)))
    assert np.array_equal(np.signbit(y[:2]), [False, True]) and np.all(y[:2] == 0.0)
    np.testing.assert_array_equal(y[2:5], x[2:5])  # tanh x = x below the ulp of x³/3
    np.testing.assert_array_equal(y[5:], [1.0, 1.0, -1.0, 1.0, -1.0])
    np.testing.assert_array_equal(d1[:5], 1.0)
    assert np.all((d1[5:] >= 0.0) & (d1[5:] < 1e-306)) and np.all(np.isfinite(d2))


def test_tanh_propagates_nan():
    x = np.array([np.nan, 1.0, -np.nan, 0.5, 2.0])  # also the padded tail (5 values)
    out = _core.activate("tanh", x.reshape(-1, 1))
    for a in out:
        assert np.isnan(a[0, 0]) and np.isnan(a[2, 0]) and np.all(np.isfinite(a[[1, 3, 4], 0]))


@pytest.mark.parametrize("name", ["tanh", "gelu"])
@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 7, 8, 9, 257])
def test_every_length_and_layout(name, n):
    """Whole packets and the padded tail give the same values as one long call."""
    rng = np.random.default_rng(n)
    z = rng.standard_normal((n, 3)) * (2.0 if name == "tanh" else 6.0)  # gelu: both intervals
    whole = _core.activate(name, np.tile(z.ravel(order="F"), 3).reshape(-1, 1))
    part = _core.activate(name, z)
    for a, b in zip(part, whole):
        np.testing.assert_array_equal(a.ravel(order="F"), b.ravel()[: 3 * n])


@pytest.mark.parametrize("name", ["sigmoid", "softplus", "gelu", "silu"])
def test_other_activations_match_numpy(name):
    x = np.linspace(-30.0, 30.0, 6001)
    xl = x.astype(np.longdouble)
    s = 1.0 / (1.0 + np.exp(-xl))
    if name == "sigmoid":
        ref = s
    elif name == "silu":
        ref = xl * s
    elif name == "softplus":
        ref = np.logaddexp(0.0, xl)
    else:
        from math import erfc
        ref = xl * np.array([0.5 * erfc(-v / np.sqrt(2.0)) for v in x], dtype=np.longdouble)
    y = _core.activate(name, x.reshape(-1, 1))[0].ravel()
    # erfc's relative condition number in the far tail is 2z² (about 900 at x = −30)
    np.testing.assert_allclose(y, ref.astype(np.float64), rtol=1e-12 if name == "gelu" else 1e-13, atol=1e-300)


def test_unknown_activation_names_the_choices():
    with pytest.raises(ValueError, match="activation: expected one of"):
        _core.activate("tanhh", np.zeros((1, 1)))


@pytest.mark.skipif(not LONG, reason="needs an extended-precision long double for the reference")
@pytest.mark.parametrize("name", ["sigmoid", "silu"])
def test_sigmoid_and_silu_within_a_few_ulps(name):
    x = sample()
    x = x[np.abs(x) <= 700.0]
    y, d1, d2 = (a.ravel() for a in _core.activate(name, x.reshape(-1, 1)))
    xl = x.astype(np.longdouble)
    s = 1.0 / (1.0 + np.exp(-xl))
    sn = 1.0 / (1.0 + np.exp(xl))
    if name == "sigmoid":
        refs = (s, s * sn, s * sn * (sn - s))
    else:
        refs = (xl * s, s * (1.0 + xl * sn), s * sn * (2.0 + xl * (sn - s)))
    scale = np.maximum(np.abs(xl), 1.0)  # silu's terms carry a factor x: compare on their scale
    for ref, got, limit in zip(refs, (y, d1, d2), (4.0, 6.0, 10.0)):
        err = np.abs(got.astype(np.longdouble) - ref)
        # relative to the value, or where it cancels (silu', σ'' near their zeros) to the terms' size
        bound = limit * np.maximum(np.abs(ref), np.finfo(np.float64).tiny) * np.finfo(np.float64).eps
        terms = limit * scale * np.abs(s * sn) * np.finfo(np.float64).eps
        assert np.all(err <= np.maximum(bound, terms)), name


def test_sigmoid_special_values():
    x = np.array([0.0, 800.0, -800.0, np.inf, -np.inf, np.nan, 40.0, -40.0])
    y, d1, _ = (a.ravel() for a in _core.activate("sigmoid", x.reshape(-1, 1)))
    np.testing.assert_array_equal(y[:5], [0.5, 1.0, 0.0, 1.0, 0.0])
    np.testing.assert_array_equal(d1[:5], [0.25, 0.0, 0.0, 0.0, 0.0])
    assert np.isnan(y[5]) and np.isnan(d1[5])
    assert y[7] == pytest.approx(np.exp(-40.0), rel=1e-15) and y[6] == 1.0


def test_activate_takes_strided_and_broadcast_arrays():
    base = np.asfortranarray(np.linspace(-3.0, 3.0, 30).reshape(10, 3))
    for z in (base[:5], base[::2], np.broadcast_to(np.linspace(-1.0, 1.0, 5)[:, None], (5, 3)), base.T):
        got = _core.activate("tanh", z)
        want = _core.activate("tanh", np.array(z, order="F"))
        for a, b in zip(got, want):
            np.testing.assert_array_equal(a, b)
        np.testing.assert_allclose(got[0], np.tanh(z), rtol=1e-15, atol=0)


@pytest.mark.skipif(not LONG, reason="needs an extended-precision long double for the reference")
def test_softplus_within_a_few_ulps():
    x = sample()
    x = x[np.abs(x) <= 700.0]
    y, d1, d2 = (a.ravel() for a in _core.activate("softplus", x.reshape(-1, 1)))
    xl = x.astype(np.longdouble)
    s, sn = 1.0 / (1.0 + np.exp(-xl)), 1.0 / (1.0 + np.exp(xl))
    for ref, got, limit in ((np.logaddexp(np.longdouble(0.0), xl), y, 4.0), (s, d1, 4.0), (s * sn, d2, 6.0)):
        assert ulps(ref, got).max() <= limit


def test_softplus_special_values():
    x = np.array([0.0, 800.0, -800.0, np.inf, -np.inf, np.nan, -30.0])
    y, d1, d2 = (a.ravel() for a in _core.activate("softplus", x.reshape(-1, 1)))
    np.testing.assert_array_equal(y[:5], [np.log(2.0), 800.0, 0.0, np.inf, 0.0])
    np.testing.assert_array_equal(d1[:5], [0.5, 1.0, 0.0, 1.0, 0.0])
    assert np.isnan(y[5]) and np.isnan(d1[5]) and np.isnan(d2[5])
    assert y[6] == pytest.approx(np.exp(-30.0), rel=1e-15)


def test_gelu_within_a_few_ulps():
    """gelu's own kernel (erfc through two erfcx interpolants) against mpmath at 30 digits."""
    mp = pytest.importorskip("mpmath")
    mp.mp.dps = 30
    rng = np.random.default_rng(3)
    x = np.concatenate([np.linspace(-38.0, 8.0, 2301), rng.standard_normal(1500) * 3.0,
                        rng.uniform(-37.5, -5.0, 500), [0.0, 1e-300, -1e-300, -0.7517916243, np.sqrt(2.0)]])
    y, d1, d2 = (a.ravel() for a in _core.activate("gelu", x.reshape(-1, 1)))
    eps = np.finfo(np.float64).eps
    for v, a, b, c in zip(x, y, d1, d2):
        xv = mp.mpf(float(v))
        Phi = mp.erfc(-xv / mp.sqrt(2)) / 2
        phi = mp.exp(-xv * xv / 2) / mp.sqrt(2 * mp.pi)
        if v * v / 2 > 708.0:  # e^{−x²/2} below e^{−708}: Φ(x) and φ(x) are flushed to 0
            assert (v > 0 and (a, b, c) == (v, 1.0, 0.0)) or (a, b, c) == (0.0, 0.0, 0.0), v
            continue
        # relative to the value (σ), or to the size of the terms where they cancel (σ', σ'')
        assert abs(a - xv * Phi) <= 6 * eps * abs(xv * Phi), v
        assert abs(b - (Phi + xv * phi)) <= 6 * eps * max(Phi, abs(xv * phi)), v
        assert abs(c - phi * (2 - xv * xv)) <= 6 * eps * phi * max(2, xv * xv), v


def test_gelu_special_values():
    x = np.array([0.0, -0.0, -40.0, 40.0, np.nan, 1.0])
    y, d1, d2 = (a.ravel() for a in _core.activate("gelu", x.reshape(-1, 1)))
    assert np.array_equal(np.signbit(y[:2]), [False, True]) and np.all(y[:2] == 0.0)
    np.testing.assert_array_equal(d1[:2], 0.5)
    np.testing.assert_allclose(d2[:2], np.sqrt(2.0 / np.pi), rtol=2 * np.finfo(float).eps)
    np.testing.assert_array_equal([y[2], d1[2], d2[2]], [-0.0, 0.0, 0.0])  # Φ(−40) < 1e-308: flushed
    np.testing.assert_array_equal([y[3], d1[3], d2[3]], [40.0, 1.0, 0.0])
    assert np.isnan(y[4]) and np.isnan(d1[4]) and np.isnan(d2[4]) and np.all(np.isfinite([y[5], d1[5], d2[5]]))


def test_gelu_coefficients_are_the_generators():
    """The erfcx constants in cpp/src/activation.cpp are what tests/erfcx_coefficients.py derives."""
    pytest.importorskip("mpmath")
    import re
    import sys
    from pathlib import Path

    here = Path(__file__).resolve().parent
    source = here.parent / "cpp" / "src" / "activation.cpp"
    if not source.exists():
        pytest.skip("needs the source tree")
    sys.path.insert(0, str(here))
    try:
        import erfcx_coefficients as gen
    finally:
        sys.path.remove(str(here))
    text = source.read_text(encoding="utf-8")
    for name, (lo, hi, k, f) in zip(("lo", "hi"), gen.INTERVALS):
        body = re.search(r"double %s\[kTerms\] = \{[^\n]*\n(.*?)\};" % name, text, re.S).group(1)
        ours = [float(v) for v in re.findall(r"-?\d+\.\d+(?:e-?\d+)?", body)]
        ulo, uhi, mono = gen.coefficients(lo, hi, k, f)
        want = [float(m) for m in reversed(mono)]
        assert ours == want, name
        if name == "hi":
            assert float(ulo) == 1.0 / 3.0 and float(uhi) == 25.5 / 29.5
