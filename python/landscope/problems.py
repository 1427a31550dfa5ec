"""Named, seeded problems: the benchmark problems of ``landscope bench`` and small ones for tests.

``build(name, seed=0)`` returns ``(model, w)``: a landscope model on synthetic data and a
parameter point w ~ N(0, 1) (where the Hessian is indefinite). The same name and seed give the
same data and the same w, bit for bit, on every machine.

=================  ==========  =====  ===  ==========  =========  ===================================
name               model         n     d   widths              P  notes
=================  ==========  =====  ===  ==========  =========  ===================================
S1                 ShallowNet    512   16  256             4,096  tanh
S2                 ShallowNet  1,024   32  1024           32,768  tanh
M1                 MLP           256   16  48, 48          3,120  tanh, NTK
M2                 MLP           512   64  1024, 1024  1,115,136  tanh, NTK
tiny_shallow       ShallowNet    200   16  40                640  tanh
tiny_mlp           MLP           150    8  16, 16            400  tanh, NTK
tiny_deep_linear   DeepLinear     64    8  6, 4               76
tiny_ce            MLP            90    6  12                108  tanh, NTK, cross-entropy, 3 classes
=================  ==========  =====  ===  ==========  =========  ===================================

Data (float64), drawn in this order from ``numpy.random.default_rng(seed)``: X ~ N(0, 1)/√d of
shape (n, d); a ~ N(0, 1) of length d and targets y = tanh(X a) (square loss, reduction "sum");
for ``tiny_ce`` instead A ~ N(0, 1) of shape (d, 3) and labels y = argmax(X A, axis=1)
(softmax cross-entropy, sum). Then w ~ N(0, 1) of length P. S1, S2, M1 and M2 are the problems
that ``landscope bench`` times (:data:`BENCHMARKS`) and ``landscope spectrum --problem``
accepts; ``tiny_shallow`` and ``tiny_mlp`` are the small networks the spectra tests build.

>>> from landscope import problems
>>> model, w = problems.build("M1")
>>> model.num_params
3120
>>> X, y = problems.data("M1")            # the data the model holds
>>> problems.spec("M1")["widths"]
(48, 48)
"""
from __future__ import annotations

import numpy as np

from . import _validation as val
from .models import MLP, DeepLinear, Model, ShallowNet

__all__ = ["BENCHMARKS", "names", "spec", "data", "build"]

#: The problems ``landscope bench`` times and ``landscope spectrum --problem`` accepts.
BENCHMARKS = ("S1", "S2", "M1", "M2")

_TANH_NTK = dict(activation="tanh", parameterization="ntk")

# name -> model class name, n, d, hidden widths (ShallowNet: its width), P, constructor options.
_PROBLEMS = {
    "S1": dict(model="ShallowNet", n=512, d=16, widths=(256,), P=4096, options=dict(activation="tanh")),
    "S2": dict(model="ShallowNet", n=1024, d=32, widths=(1024,), P=32768, options=dict(activation="tanh")),
    "M1": dict(model="MLP", n=256, d=16, widths=(48, 48), P=3120, options=_TANH_NTK),
    "M2": dict(model="MLP", n=512, d=64, widths=(1024, 1024), P=1115136, options=_TANH_NTK),
    "tiny_shallow": dict(model="ShallowNet", n=200, d=16, widths=(40,), P=640, options=dict(activation="tanh")),
    "tiny_mlp": dict(model="MLP", n=150, d=8, widths=(16, 16), P=400, options=_TANH_NTK),
    "tiny_deep_linear": dict(model="DeepLinear", n=64, d=8, widths=(6, 4), P=76, options={}),
    "tiny_ce": dict(model="MLP", n=90, d=6, widths=(12,), P=108,
                    options=dict(_TANH_NTK, loss="cross_entropy", num_classes=3)),
}


def names() -> tuple:
    """The problem names, in the order of the table above."""
    return tuple(_PROBLEMS)


def _lookup(name) -> dict:
    if not isinstance(name, str):
        raise TypeError(f"name: expected a problem name (a string), one of {', '.join(_PROBLEMS)}; got {name!r}")
    try:
        return _PROBLEMS[name]
    except KeyError:
        raise ValueError(f"name: unknown problem {name!r}; expected one of {', '.join(_PROBLEMS)}") from None


def spec(name: str) -> dict:
    """A problem's description: ``model`` (class name), ``n``, ``d``, ``widths`` (a tuple; for
    ShallowNet its one width), ``P`` and ``options`` (the model's keyword arguments).
    A fresh dict: changing it changes nothing here."""
    s = _lookup(name)
    return dict(s, options=dict(s["options"]))


def _draw(s: dict, seed) -> tuple:
    """(rng, X, y), with rng positioned where w is drawn next."""
    seed = val.integer("seed", seed, 0, val.MAX_SEED)
    rng = np.random.default_rng(seed)
    n, d = s["n"], s["d"]
    X = rng.standard_normal((n, d)) / np.sqrt(d)
    if s["options"].get("loss") == "cross_entropy":
        y = np.argmax(X @ rng.standard_normal((d, s["options"]["num_classes"])), axis=1)
    else:
        y = np.tanh(X @ rng.standard_normal(d))
    return rng, X, y


def data(name: str, seed: int = 0) -> tuple:
    """(X, y): the data of problem ``name`` for ``seed``, as the model from :func:`build` holds it.

    X has shape (n, d); y is (n,) (float targets, or integer labels for cross-entropy).
    """
    _, X, y = _draw(_lookup(name), seed)
    return X, y


def build(name: str, seed: int = 0) -> tuple[Model, np.ndarray]:
    """(model, w): problem ``name`` on its data for ``seed``, and w ~ N(0, 1) of length P.

    Raises ValueError naming ``name`` for an unknown problem (``names()`` lists them), and
    TypeError/ValueError naming ``seed`` unless it is an integer in [0, 2**64).
    """
    s = _lookup(name)
    rng, X, y = _draw(s, seed)
    kind, widths, options = s["model"], list(s["widths"]), s["options"]
    if kind == "ShallowNet":
        model = ShallowNet(X, y, widths[0], **options)
    elif kind == "MLP":
        model = MLP(X, y, widths, **options)
    else:
        model = DeepLinear(X, y, widths, **options)
    w = rng.standard_normal(model.num_params)
    return model, w
