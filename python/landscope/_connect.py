"""Paths and connectivity between two solutions: trained curves and permutation alignment.

:func:`connect` (Garipov et al. 2018, "Loss surfaces, mode connectivity and fast ensembling")
trains a curve φ_θ(t), t ∈ [0, 1], between two FIXED endpoints w_a = φ(0) and w_b = φ(1)
through B trainable bend points θ_1 … θ_B (each of length P):

``kind="bezier"``
    the Bezier curve of degree n = B + 1 with control points (w_a, θ_1, …, θ_B, w_b):
    φ(t) = Σ_k C(n, k) t^k (1 − t)^(n−k) c_k (the Bernstein basis);
``kind="polychain"``
    the polygonal chain through w_a, θ_1, …, θ_B, w_b at the equally spaced knots
    t_k = k / (B + 1): φ(t) = Σ_k h_k(t) c_k with the hat functions
    h_k(t) = max(0, 1 − |(B + 1) t − k|).

Both are linear in the control points, φ(t) = Σ_k c_k(t) θ_k + (terms of w_a, w_b), so the
objective E_{t∼U(0,1)} L(φ_θ(t)), estimated at ``points_per_step`` seeded draws t_1 … t_S per
step, has the exact gradient ∂/∂θ_i = (1/S) Σ_s c_i(t_s) ∇L(φ(t_s)), from the model's exact
gradients. The bends start on the straight line, θ_i = w_a + i/(B + 1) (w_b − w_a), where both
kinds of curve *are* the straight line (Bernstein polynomials reproduce linear functions), so
training starts from the linear path of :func:`~landscope.landscape.interpolate`.

:func:`align` (Ainsworth et al. 2023, "Git Re-Basin", weight matching) permutes the hidden
units of an :class:`~landscope.MLP`'s w_b to match w_a: a function-preserving
reparameterization after which the linear path between the two is usually much lower.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from . import _progress
from . import _validation as val
from . import optim
from .models import MLP, Model

__all__ = ["connect", "Curve", "align", "CURVES"]

#: The curve families :func:`connect` trains.
CURVES = ("bezier", "polychain")

#: Sweeps over the layers after which :func:`align` stops even if a permutation still changes.
MAX_SWEEPS = 50


# ------------------------------------------------------------------------------ the curve

def _coefficients(kind: str, bends: int, t: np.ndarray) -> np.ndarray:
    """The (len(t), B + 2) weights of the control points (w_a, θ_1 … θ_B, w_b) at each t.

    Rows sum to 1 (up to rounding); at t = 0 the row is exactly (1, 0, …, 0), at t = 1 exactly
    (0, …, 0, 1).
    """
    n = bends + 1
    k = np.arange(n + 1)
    t = t[:, None]
    if kind == "bezier":
        binom = np.array([float(math.comb(n, i)) for i in range(n + 1)])
        return binom * t**k * (1.0 - t) ** (n - k)
    return np.maximum(0.0, 1.0 - np.abs(n * t - k))


def _times(t) -> tuple[np.ndarray, bool]:
    """t as a 1-D float64 array in [0, 1], and whether it was a scalar."""
    scalar = np.ndim(t) == 0
    arr = val._as_float_array("t", t)  # (at least 1-D)
    if arr.ndim > 1:
        raise ValueError(f"t: expected a number or a 1-D array, got shape {arr.shape}")
    arr = arr.reshape(-1)
    if (arr < 0).any() or (arr > 1).any():
        raise ValueError(f"t: expected values in [0, 1], got {arr[(arr < 0) | (arr > 1)][0]!r}")
    return arr, scalar


def _readonly(a: np.ndarray) -> np.ndarray:
    a = np.array(a, dtype=np.float64, copy=True)
    a.flags.writeable = False
    return a


@dataclass(frozen=True, eq=False)
class Curve:
    """A trained curve between two fixed endpoints (from :func:`connect`).

    ``kind`` is ``"bezier"`` or ``"polychain"``, ``bends`` the (B, P) bend points θ_1 … θ_B,
    ``w_a``/``w_b`` the endpoints φ(0) and φ(1), ``loss_history`` the mean loss at the sampled
    points of each training step (its length is the number of steps taken) and ``metadata`` the
    settings (optimizer, steps, points_per_step, seed) and ``status`` (``"budget"``, or
    ``"diverged"`` when a loss became NaN/Inf and training stopped there). ``model`` is the
    model the curve was trained on (:meth:`evaluate` uses it). Arrays are read-only; curves
    compare by identity.
    """

    kind: str
    bends: np.ndarray
    w_a: np.ndarray
    w_b: np.ndarray
    loss_history: np.ndarray
    model: Model = field(repr=False, compare=False)
    metadata: dict = field(default_factory=dict)

    @property
    def control_points(self) -> np.ndarray:
        """(B + 2, P): w_a, θ_1, …, θ_B, w_b."""
        return np.vstack([self.w_a[None], self.bends, self.w_b[None]])

    def coefficients(self, t) -> np.ndarray:
        """The weights (len(t), B + 2) of the control points at t (a number gives one row)."""
        ts, _ = _times(t)
        return _coefficients(self.kind, self.bends.shape[0], ts)

    def point(self, t) -> np.ndarray:
        """φ(t): shape (P,) for a number t, (P, len(t)) for an array; t in [0, 1].
        φ(0) is w_a and φ(1) is w_b exactly."""
        ts, scalar = _times(t)
        C = _coefficients(self.kind, self.bends.shape[0], ts)
        W = np.asfortranarray(self.control_points.T @ C.T)
        W[:, ts == 0.0] = self.w_a[:, None]  # exact already (weights 1 and 0); made explicit
        W[:, ts == 1.0] = self.w_b[:, None]
        return W[:, 0].copy() if scalar else W

    def evaluate(self, num: int = 61, metrics=("loss",), data=None, *, points: bool = False,
                 tol: float = 1e-8):
        """The metrics along the curve at t = 0 … 1 in ``num`` steps, as a
        :class:`~landscope.landscape.Path` (via :func:`landscope.landscape.evaluate`).

        The loss is always evaluated (added to ``metrics`` when absent): ``path.barrier`` is
        the curve's barrier, max_t [L(φ(t)) − ((1 − t) L(w_a) + t L(w_b))], relative to the
        chord between the endpoints' losses, and ``path.metadata["max_loss"]`` the largest loss
        along it. ``data=(X, y)`` evaluates on held-out data; ``points=True`` keeps φ(t)
        (P, num); ``tol`` is the eigensolver tolerance of ``sharpness``/``min_eig``.
        """
        from ._loader import core as _core
        from .landscape import _metrics, evaluate, path_from_values

        num = val.integer("num", num, 2)
        metrics = _metrics(metrics, self.model, with_loss=True)
        t = np.linspace(0.0, 1.0, num)
        W = self.point(t)
        values = evaluate(self.model, W, metrics, data=data, tol=tol)
        meta = {"kind": self.kind, "bends": int(self.bends.shape[0]), "metrics": list(values),
                "max_loss": float(np.max(values["loss"])), "version": _core.__version__}
        return path_from_values(t, values, W if points else None, meta)

    def plot(self, metric: str = "loss", num: int = 61, ax=None):
        """The metric along the curve (``evaluate(num, metrics=(metric,))``), its chord and its
        barrier: :func:`landscope.plot.path` (needs matplotlib: ``pip install 'landscope[plot]'``).
        Returns the Figure."""
        from . import plot

        return plot.path(self.evaluate(num=num, metrics=(metric,)), metric=metric, ax=ax)

    def __setstate__(self, state: dict) -> None:  # unpickled arrays are read-only again
        for k, v in state.items():
            object.__setattr__(self, k, _readonly(v) if isinstance(v, np.ndarray) else v)

    def __repr__(self) -> str:
        last = f"{self.loss_history[-1]:.4g}" if self.loss_history.size else "nan"
        return (f"Curve(kind={self.kind!r}, bends={self.bends.shape[0]}, P={self.bends.shape[1]}, "
                f"steps={self.loss_history.size}, last loss={last})")


# ------------------------------------------------------------------------------ optimizers

class _Stepper:
    """The engine's optimizer (the C++ state machine the training loop runs) stepping an array θ
    of any shape in place at a constant rate ``lr``."""

    def __init__(self, opt, shape):
        self.core = opt._build()
        self.core.reset(int(np.prod(shape)))
        self.lr = opt.lr
        self.t = 0

    def step(self, theta: np.ndarray, g: np.ndarray, oracle=None) -> None:
        """Updates θ (C-contiguous) in place from its gradient g. ``oracle(θ_flat) -> (loss,
        gradient_flat)`` is the objective for rules that evaluate it again (SAM)."""
        self.core.step(theta.reshape(-1), np.ascontiguousarray(g).reshape(-1), self.lr, self.t, oracle)
        self.t += 1


_OPTIMIZERS = (optim.GD, optim.SGD, optim.Momentum, optim.Adam, optim.SAM)  # AdamW is an Adam


def _optimizer(optimizer):
    if optimizer is None:
        return optim.Adam(lr=1e-2)
    if not isinstance(optimizer, _OPTIMIZERS):
        raise TypeError(f"optimizer: connect supports landscope.optim.GD, SGD, Momentum, Adam, AdamW and SAM, "
                        f"got {optimizer!r}")
    return optimizer


# ---------------------------------------------------------------------------------- connect

def _objective(model: Model, kind: str, ctrl: np.ndarray, t: np.ndarray, samples=None,
               out: Optional[np.ndarray] = None) -> tuple[float, np.ndarray]:
    """The sampled objective (1/S) Σ_s L(φ(t_s)) and its exact gradient (B, P) with respect to
    the bends, for control points ``ctrl`` (B + 2, P) = (w_a, θ_1 … θ_B, w_b):
    ∂/∂θ_i = (1/S) Σ_s c_i(t_s) ∇L(φ(t_s)). ``out`` (S, P) holds the gradients at the points."""
    S = t.size
    C = _coefficients(kind, ctrl.shape[0] - 2, t)      # (S, B + 2)
    W = C @ ctrl                                        # (S, P): the points φ(t_s)
    grads = np.empty((S, ctrl.shape[1])) if out is None else out
    total = 0.0
    for s in range(S):
        f, grads[s] = model.loss_and_gradient(W[s], samples=samples)
        total += f
    return total / S, C[:, 1:-1].T @ grads / S



def connect(model, w_a, w_b, kind: str = "bezier", bends: int = 1, optimizer=None, steps: int = 500,
            points_per_step: int = 4, seed: int = 0, init=None, progress: Optional[bool] = None) -> Curve:
    """Trains a curve of low loss between the fixed endpoints w_a and w_b (Garipov et al. 2018).

    Parameters
    ----------
    model : a landscope model
    w_a, w_b : the endpoints (P,), e.g. two trained solutions; they do not move
    kind : ``"bezier"`` (degree bends + 1, control points w_a, θ_1 … θ_B, w_b) or
        ``"polychain"`` (straight segments through them at t = k/(B + 1))
    bends : B >= 1, the number of trainable bend points (each of length P)
    optimizer : a ``landscope.optim`` ``GD``, ``SGD``, ``Momentum``, ``Adam``, ``AdamW`` or ``SAM`` (its
        update rule applied to the stacked bends, at a constant ``lr``; ``batch_size`` gives
        minibatches drawn as :func:`landscope.optim.minibatch` does, one per step, shared by the
        step's points; ``weight_decay`` pulls the bends towards 0). Default ``Adam(lr=1e-2)``
    steps : training steps (>= 1)
    points_per_step : S >= 1 points t ∼ U(0, 1) per step (numpy's PCG64 from ``seed``)
    seed : the seed of the t draws (an integer in [0, 2**64))
    init : (B, P) initial bends (or (P,) when B = 1); default: on the straight line,
        θ_i = w_a + i/(B + 1) (w_b − w_a), where the curve is the linear path
    progress : a progress bar on stderr of the steps done, with the sampled loss (None: only when
        stderr is a terminal; True: also elsewhere, as whole lines every few seconds; False: never)

    Each step minimizes (1/S) Σ_s L(φ_θ(t_s)) with the exact gradient
    (1/S) Σ_s c_i(t_s) ∇L(φ(t_s)) for bend i (c_i: its Bernstein or hat weight). The same
    arguments give bit-identical bends. Returns a :class:`Curve`; ``curve.evaluate()`` gives the
    loss along it (a :class:`~landscope.landscape.Path` with the barrier and ``max_loss``).
    """
    from ._loader import core as _core
    from .landscape import _model

    model = _model(model)
    P = model.num_params
    a = val.as_params(w_a, P, "w_a")
    b = val.as_params(w_b, P, "w_b")
    if not isinstance(kind, str):
        raise TypeError(f"kind: expected one of {CURVES}, got {kind!r}")
    if kind not in CURVES:
        raise ValueError(f"kind: expected one of {CURVES}, got {kind!r}")
    B = val.integer("bends", bends, 1)
    opt = _optimizer(optimizer)
    steps = val.integer("steps", steps, 1)
    S = val.integer("points_per_step", points_per_step, 1)
    seed = val.integer("seed", seed, 0, val.MAX_SEED)
    show = _progress.enabled(progress)
    n = model.num_samples
    if opt.batch_size is not None and opt.batch_size > n:
        raise ValueError(f"optimizer: batch_size {opt.batch_size} exceeds the model's {n} samples")
    val.check_memory(8 * P * (2 * B + 2 * S + 6), f"connect: {B} bends, {S} points and their gradients")

    ctrl = np.empty((B + 2, P))  # w_a, θ_1 … θ_B, w_b; the bends are trained in place
    ctrl[0], ctrl[-1] = a, b
    if init is None:
        ctrl[1:-1] = a + (np.arange(1, B + 1) / (B + 1))[:, None] * (b - a)
    else:
        arr = val._as_float_array("init", init)
        if arr.shape == (P,) and B == 1:
            arr = arr.reshape(1, P)
        if arr.shape != (B, P):
            raise ValueError(f"init: expected shape ({B}, {P}) (bends x P), got {arr.shape}")
        ctrl[1:-1] = arr
    theta = ctrl[1:-1]
    stepper = _Stepper(opt, theta.shape)
    rng = np.random.default_rng(seed)
    history = np.empty(steps)
    grads = np.empty((S, P))
    status = "budget"
    bar = _progress.bar("connect", steps, progress=show, unit="steps")
    taken = 0
    try:
        for step in range(steps):
            t = rng.random(S)
            samples = None if opt.batch_size is None else optim.minibatch(n, opt.batch_size, opt.seed, step)
            mean, g = _objective(model, kind, ctrl, t, samples, grads)
            if not (math.isfinite(mean) and np.isfinite(g).all()):
                status = "diverged"
                warnings.warn(f"connect: the loss became {mean} at step {step}; stopped there (the bends are "
                              f"those before that step)", RuntimeWarning, stacklevel=2)
                break
            history[step] = mean
            taken = step + 1
            def objective(flat, t=t, samples=samples):  # SAM's second gradient, at the same t's
                moved = ctrl.copy()
                moved[1:-1] = flat.reshape(B, P)
                f, grad = _objective(model, kind, moved, t, samples)
                return f, grad.reshape(-1)

            stepper.step(theta, g, objective)
            bar.set_postfix_str(f"sampled loss {mean:.4g}", refresh=False)
            bar.update(1)
    finally:
        bar.close()
    meta = {"optimizer": opt.to_dict(), "steps": steps, "points_per_step": S, "seed": seed, "status": status,
            "version": _core.__version__}
    return Curve(kind=kind, bends=_readonly(theta), w_a=_readonly(a), w_b=_readonly(b),
                 loss_history=_readonly(history[:taken]), model=model, metadata=meta)


# ------------------------------------------------------------------------------------ align

def _check_mlp(model) -> MLP:
    if not isinstance(model, MLP):
        raise TypeError(f"model: align needs a landscope.MLP (hidden units to permute), got {type(model).__name__}")
    if not model.widths:
        raise ValueError("model: align needs an MLP with at least one hidden layer (widths=[] has no units "
                         "to permute)")
    if model._residual:
        raise ValueError("model: align does not support residual=True (a permutation of one layer does not "
                         "commute with the skip connections around it)")
    return model


def _permutations(model: MLP, a: np.ndarray, b: np.ndarray, max_sweeps: int = MAX_SWEEPS) -> tuple[list, int]:
    """Weight matching: one permutation per hidden layer (perm[l][i] = the unit of w_b that
    becomes unit i), and the number of sweeps done.

    Coordinate ascent on Σ_l <W_l^a, Π_l W_l^b Π_{l−1}ᵀ> + <b_l^a, Π_l b_l^b>: layer l's
    permutation, the others fixed, is a linear assignment on the similarity
    C_ij = <W_l^a[i], W_l^b[j] Π_{l−1}ᵀ> + b_l^a[i] b_l^b[j] + <W_{l+1}^a[:, i], (Π_{l+1} W_{l+1}^b)[:, j]>.
    It starts with one forward pass on the incoming weights (and biases) alone, which matches
    layer 1 exactly (its inputs are not permuted) and then each layer given the one before, so
    a planted permutation of w_a is found at once. A new assignment is taken only when it raises
    the objective beyond rounding, so the ascent terminates and the identity is kept when it is
    optimal (w_b = w_a).
    """
    try:
        from scipy.optimize import linear_sum_assignment
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError("align needs scipy (linear_sum_assignment): pip install scipy, "
                          "or pip install 'landscope[landscape]'") from e

    L = len(model.widths)
    A, Bb = model.unflatten(a), model.unflatten(b)
    Wa = [A[f"W{l}"].reshape(-1, 1) if A[f"W{l}"].ndim == 1 else A[f"W{l}"] for l in range(1, L + 2)]
    Wb = [Bb[f"W{l}"].reshape(-1, 1) if Bb[f"W{l}"].ndim == 1 else Bb[f"W{l}"] for l in range(1, L + 2)]
    bias = model._bias
    perms = [np.arange(m) for m in model.widths]

    def update(l: int, outgoing: bool = True) -> bool:
        """Layer l's best assignment, the others fixed; True if it was taken."""
        m = model.widths[l]
        C = Wa[l] @ (Wb[l] if l == 0 else Wb[l][:, perms[l - 1]]).T
        if bias:
            C += np.outer(A[f"b{l + 1}"], Bb[f"b{l + 1}"])
        if outgoing:
            C += Wa[l + 1].T @ (Wb[l + 1] if l == L - 1 else Wb[l + 1][perms[l + 1], :])
        _, col = linear_sum_assignment(C, maximize=True)
        rows = np.arange(m)
        old, new = C[rows, perms[l]], C[rows, col]
        if new.sum() - old.sum() > 1e-10 * (np.abs(old).sum() + np.abs(new).sum()):
            perms[l] = col
            return True
        return False

    # A first forward pass on the incoming weights only: layer 1's inputs are not permuted, so
    # its match is exact, then layer 2's given layer 1's, and so on (a planted permutation of
    # w_a is recovered here); the coordinate ascent on the whole objective then refines it.
    for l in range(L):
        update(l, outgoing=False)
    sweeps = 0
    for sweeps in range(1, max_sweeps + 1):
        changed = False
        for l in range(L):
            changed |= update(l)
        if not changed:
            break
    return perms, sweeps


def _apply(model: MLP, w: np.ndarray, perms: list) -> np.ndarray:
    """w with the hidden units permuted: unit i of layer l becomes w's unit perms[l][i]."""
    P = model.num_params
    L = len(model.widths)
    idx = {k: v.astype(np.int64) for k, v in model.unflatten(np.arange(P, dtype=np.float64)).items()}
    src = np.arange(P)
    for l in range(L + 1):
        name = f"W{l + 1}"
        blk = idx[name] if idx[name].ndim == 2 else idx[name].reshape(-1, 1)
        rows = perms[l] if l < L else np.arange(blk.shape[0])
        cols = perms[l - 1] if l > 0 else np.arange(blk.shape[1])
        src[blk.ravel()] = blk[np.ix_(rows, cols)].ravel()
        if model._bias:
            bb = idx[f"b{l + 1}"]
            src[bb] = bb[rows]
    return w[src]


def align(model, w_a, w_b) -> np.ndarray:
    """w_b with the hidden units of each layer permuted to match w_a (Git Re-Basin weight
    matching, Ainsworth et al. 2023), for an :class:`~landscope.MLP` with at least one hidden
    layer and ``residual=False``.

    A permutation of layer l's units reorders the rows of W_l and b_l and the columns of
    W_{l+1}; the network computes the same function (both parameterizations, any activation,
    with or without biases), so the returned vector has the outputs and loss of w_b. The
    permutations maximize Σ_l <W_l^a, Π_l W_l^b Π_{l−1}ᵀ> + <b_l^a, Π_l b_l^b> by coordinate
    ascent over the layers, each a linear assignment (``scipy.optimize.linear_sum_assignment``),
    until a sweep changes none (at most :data:`MAX_SWEEPS` sweeps). Use it before
    :func:`~landscope.landscape.interpolate` or :func:`connect` to remove the barrier that
    comes from permutation symmetry alone.
    """
    model = _check_mlp(model)
    P = model.num_params
    a = val.as_params(w_a, P, "w_a")
    b = val.as_params(w_b, P, "w_b")
    perms, _ = _permutations(model, a, b)
    return _apply(model, b, perms)
