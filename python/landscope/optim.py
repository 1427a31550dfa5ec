"""Optimizers (DESIGN §4): configurations of the C++ state machines that :func:`landscope.train`
runs. Objects here are immutable descriptions; the state (momentum buffers, Adam moments, …) lives
in the run and is saved with its :class:`~landscope.Trajectory`.

Every optimizer takes a learning rate ``lr`` (multiplied by the schedule) and, except GD and
PerturbedGD, an optional ``batch_size``: minibatches without replacement, a fresh permutation of
the samples each epoch seeded by ``(seed, epoch)``; the last batch of an epoch may be smaller.
``None`` means full batch. The update rules (g is the gradient after clipping, η = lr·s(t)):

===============  ===============================================================================
``GD``/``SGD``   w ← w − η g
``Momentum``     b ← β b + g; w ← w − η b (heavy ball), or w ← w − η (g + β b) (Nesterov)
``Adam``         m ← β₁m + (1−β₁)g, v ← β₂v + (1−β₂)g², w ← w − η m̂/(√v̂ + ε) with bias
                 correction; ``weight_decay`` λ adds λw to g first
``AdamW``        as Adam, with decoupled decay w ← (1 − ηλ) w before the update
``PerturbedGD``  when ‖g‖ ≤ threshold (g after clipping) and ≥ ``interval`` steps since the
                 last perturbation:
                 w ← w + ξ, ξ uniform in the ball of radius ``radius`` (seeded by (seed, t)),
                 and the step uses the gradient at the perturbed point (Jin et al. 2017)
``SAM``          e = ρ g/‖g‖; w ← w − η ∇L(w + e) on the same samples (Foret et al. 2021)
===============  ===============================================================================
"""
from __future__ import annotations

from typing import Optional

from . import _validation as val
from ._loader import core as _core

__all__ = ["Optimizer", "GD", "SGD", "Momentum", "Adam", "AdamW", "PerturbedGD", "SAM"]


class Optimizer:
    """Base class. ``kind`` names the C++ optimizer; ``to_dict``/``from_dict`` round-trip."""

    kind = ""
    _fields: tuple = ()

    def __init__(self, lr: float, batch_size: Optional[int] = None, seed: int = 0):
        self.lr = val.number("lr", lr)
        self.batch_size = None if batch_size is None else val.integer("batch_size", batch_size, 1)
        self.seed = val.integer("seed", seed, 0, 2**64 - 1)

    def _params(self) -> dict:
        return {f: getattr(self, f) for f in self._fields}

    def _build(self):
        """A fresh C++ optimizer of these settings; its check() judges them (naming the keyword).
        The training loop checks batch_size against the model's samples."""
        core = self._make()
        core.lr, core.batch_size, core.seed = self.lr, self.batch_size or 0, self.seed
        core.check()
        return core

    def _make(self):
        return _core.GD()

    def to_dict(self) -> dict:
        return {"kind": self.kind, "lr": self.lr, "batch_size": self.batch_size, "seed": self.seed, **self._params()}

    @staticmethod
    def from_dict(d: dict) -> "Optimizer":
        d = dict(d)
        kind = d.pop("kind", None)
        if kind not in _KINDS:
            raise ValueError(f"optimizer: unknown kind {kind!r}, expected one of {sorted(_KINDS)}")
        return _KINDS[kind](**d)

    def __eq__(self, other) -> bool:
        return type(self) is type(other) and self.to_dict() == other.to_dict()

    def __hash__(self):
        return hash(tuple(self.to_dict().items()))

    def __repr__(self) -> str:
        d = self.to_dict()
        d.pop("kind")
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in d.items())})"


class GD(Optimizer):
    """Full-batch gradient descent: w ← w − η ∇L(w)."""

    kind = "gd"

    def __init__(self, lr: float):
        super().__init__(lr)
        self._build()

    def to_dict(self) -> dict:
        return {"kind": self.kind, "lr": self.lr}


class SGD(Optimizer):
    """Minibatch SGD without replacement (a seeded permutation per epoch)."""

    kind = "gd"

    def __init__(self, lr: float, batch_size: int, seed: int = 0):
        if batch_size is None:
            raise ValueError("batch_size: SGD needs a batch size (use GD for full batches)")
        super().__init__(lr, batch_size, seed)
        self._build()

    def to_dict(self) -> dict:
        return {"kind": "sgd", "lr": self.lr, "batch_size": self.batch_size, "seed": self.seed}


class Momentum(Optimizer):
    """Heavy-ball or Nesterov momentum (PyTorch's convention, b_0 = 0)."""

    kind = "momentum"
    _fields = ("beta", "nesterov")

    def __init__(self, lr: float, beta: float = 0.9, nesterov: bool = False, batch_size: Optional[int] = None,
                 seed: int = 0):
        super().__init__(lr, batch_size, seed)
        self.beta = val.number("beta", beta)
        if not isinstance(nesterov, bool):
            raise TypeError(f"nesterov: expected a bool, got {nesterov!r}")
        self.nesterov = nesterov
        self._build()

    def _make(self):
        return _core.Momentum(self.beta, self.nesterov)


class Adam(Optimizer):
    """Adam with bias correction; ``weight_decay`` is added to the gradient (L2)."""

    kind = "adam"
    _fields = ("beta1", "beta2", "eps", "weight_decay")

    def __init__(self, lr: float = 1e-3, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8,
                 weight_decay: float = 0.0, batch_size: Optional[int] = None, seed: int = 0):
        super().__init__(lr, batch_size, seed)
        self.beta1 = val.number("beta1", beta1)
        self.beta2 = val.number("beta2", beta2)
        self.eps = val.number("eps", eps)
        self.weight_decay = val.number("weight_decay", weight_decay)
        self._build()

    def _make(self):
        return _core.Adam(self.beta1, self.beta2, self.eps, self.weight_decay, self.kind == "adamw")


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter)."""

    kind = "adamw"

    def __init__(self, lr: float = 1e-3, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8,
                 weight_decay: float = 0.01, batch_size: Optional[int] = None, seed: int = 0):
        super().__init__(lr, beta1, beta2, eps, weight_decay, batch_size, seed)


class PerturbedGD(Optimizer):
    """Gradient descent that adds uniform-ball noise of ``radius`` when ‖∇L‖ ≤ ``threshold``,
    at most once every ``interval`` steps."""

    kind = "perturbed_gd"
    _fields = ("radius", "threshold", "interval")

    def __init__(self, lr: float, radius: float = 1e-2, threshold: float = 1e-3, interval: int = 100,
                 seed: int = 0):
        super().__init__(lr, None, seed)
        self.radius = val.number("radius", radius)
        self.threshold = val.number("threshold", threshold)
        self.interval = val.whole("interval", interval)
        self._build()

    def _make(self):
        return _core.PerturbedGD(self.radius, self.threshold, self.interval)

    def to_dict(self) -> dict:
        d = super().to_dict()
        d.pop("batch_size")
        return d


class SAM(Optimizer):
    """Sharpness-aware minimization with radius ``rho`` (a plain gradient step from w + e)."""

    kind = "sam"
    _fields = ("rho",)

    def __init__(self, lr: float, rho: float = 0.05, batch_size: Optional[int] = None, seed: int = 0):
        super().__init__(lr, batch_size, seed)
        self.rho = val.number("rho", rho)
        self._build()

    def _make(self):
        return _core.SAM(self.rho)


_KINDS = {"gd": GD, "sgd": SGD, "momentum": Momentum, "adam": Adam, "adamw": AdamW, "perturbed_gd": PerturbedGD,
          "sam": SAM}


def minibatch(n: int, batch_size: int, seed: int, step: int):
    """The sample indices step ``step`` of a minibatch optimizer uses (see the module docs)."""
    return _core.minibatch(val.integer("n", n, 1), val.integer("batch_size", batch_size, 1), val.integer("seed", seed, 0, 2**64 - 1),
                           val.integer("step", step, 0))
