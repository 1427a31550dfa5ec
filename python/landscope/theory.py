"""The bounds of DESIGN §1 as functions, and a check of a :class:`~landscope.Trajectory` against
one.

>>> import landscope as ls, numpy as np
>>> mu, beta = ls.theory.least_squares_constants(X)             # doctest: +SKIP
>>> traj = ls.train(model, w0, ls.optim.GD(1 / beta), 200)      # doctest: +SKIP
>>> ls.theory.check(traj, ls.theory.pl_rate_bound(traj.step, traj.loss[0], mu, 1 / beta))  # doctest: +SKIP
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import numpy as np

from . import _validation as val

__all__ = [
    "pl_rate_bound",
    "least_squares_constants",
    "product_toy_step",
    "product_toy_rate_bound",
    "product_toy_hessian_bound",
    "balancedness",
    "BoundCheck",
    "check",
]


def _steps(t) -> np.ndarray:
    arr = np.asarray(t, dtype=np.float64)
    if np.any(arr < 0) or not np.isfinite(arr).all():
        raise ValueError("t: expected finite steps >= 0")
    return arr


def pl_rate_bound(t, loss0: float, mu: float, eta: float, loss_star: float = 0.0):
    """L* + (1 − ημ)^t (L_0 − L*): GD with step η ≤ 1/β on a β-smooth, μ-PL loss stays below it."""
    mu, eta = val.real("mu", mu, 0.0, open_lo=True), val.real("eta", eta, 0.0, open_lo=True)
    if eta * mu > 1:
        raise ValueError(f"eta, mu: the bound needs η μ <= 1 (η <= 1/β and μ <= β), got η μ = {eta * mu:g}")
    return loss_star + (1.0 - eta * mu) ** _steps(t) * (float(loss0) - loss_star)


def least_squares_constants(X, reduction: str = "sum") -> tuple[float, float]:
    """(μ, β) of L(W) = ½‖X Wᵀ − Y‖² (divided by n for ``"mean"``): β = λ_max(X Xᵀ) is the
    smoothness and, for n ≤ d with X of full row rank, μ = λ_min(X Xᵀ) > 0 the PL constant."""
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.size == 0:
        raise ValueError(f"X: expected a non-empty 2-D (n, d) array, got shape {X.shape}")
    if reduction not in ("sum", "mean"):
        raise ValueError(f"reduction: expected 'sum' or 'mean', got {reduction!r}")
    n, d = X.shape
    if n > d:
        raise ValueError(f"X: the PL constant needs n <= d (over-parameterized), got n = {n} > d = {d}")
    eig = np.linalg.eigvalsh(X @ X.T)
    scale = 1.0 / n if reduction == "mean" else 1.0
    return float(eig[0] * scale), float(eig[-1] * scale)


def product_toy_step(d: int, c: float) -> float:
    """γ = 1/(3 d c²), the step of the ProductToy theorem for c-balanced starts."""
    return 1.0 / (3.0 * _dimension(d) * _balance(c) ** 2)


def product_toy_rate_bound(t, f0: float, delta: float, c: float):
    """(1 − δ²/(3c⁴))^t f(x_0): GD with γ = 1/(3dc²) from a c-balanced start with
    δ ≤ Π x < 1 stays below it."""
    delta = val.real("delta", delta, 0.0, open_lo=True)
    if delta >= 1:
        raise ValueError(f"delta: expected 0 < δ < 1, got {delta!r}")
    c = _balance(c)
    return (1.0 - delta**2 / (3.0 * c**4)) ** _steps(t) * float(f0)


def product_toy_hessian_bound(d: int, c: float) -> float:
    """3 d c²: the bound on ‖∇²f‖_F along that trajectory."""
    return 3.0 * _dimension(d) * _balance(c) ** 2


def balancedness(x) -> float:
    """max_i x_i / min_j x_j for a positive x (inf otherwise): x is c-balanced iff this is ≤ c."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 1 or x.size == 0:
        raise ValueError(f"x: expected a non-empty 1-D array, got shape {x.shape}")
    lo = x.min()
    return float(x.max() / lo) if lo > 0 else math.inf


def _dimension(d) -> int:
    return val.integer("d", d, 1)


def _balance(c) -> float:
    return val.real("c", c, 1.0)


@dataclass(frozen=True)
class BoundCheck:
    """Result of :func:`check`. ``ok`` is True when no recorded value violates the bound;
    otherwise ``step``, ``value`` and ``bound`` describe the first violation. ``checked`` counts
    the rows compared and ``worst`` is the largest value/bound ratio (upper bounds) or
    bound/value ratio (lower bounds) seen."""

    ok: bool
    column: str
    checked: int
    worst: float
    step: Optional[int] = None
    value: Optional[float] = None
    bound: Optional[float] = None

    def __bool__(self) -> bool:
        return self.ok

    def __str__(self) -> str:
        if self.ok:
            return f"{self.column}: within the bound at all {self.checked} rows (worst ratio {self.worst:.6g})"
        return (f"{self.column}: first violation at step {self.step}: {self.value:.17g} against the bound "
                f"{self.bound:.17g}")


def check(trajectory, bound, column: str = "loss", *, kind: str = "upper", rtol: float = 1e-12,
          atol: float = 0.0) -> BoundCheck:
    """Checks ``trajectory[column]`` against ``bound`` at every recorded row.

    ``bound`` is an array with one value per row, a scalar, or a callable of the step array.
    ``kind="upper"`` requires value ≤ bound + rtol·|bound| + atol, ``"lower"`` value ≥
    bound − rtol·|bound| − atol. Rows where the column is NaN (not computed) are skipped.
    ``worst`` (value/bound, or bound/value for lower bounds) is meaningful for positive bounds.
    """
    if column not in trajectory.columns:
        raise ValueError(f"column: expected one of {tuple(trajectory.columns)}, got {column!r}")
    if kind not in ("upper", "lower"):
        raise ValueError(f"kind: expected 'upper' or 'lower', got {kind!r}")
    rtol, atol = val.real("rtol", rtol, 0.0), val.real("atol", atol, 0.0)
    steps = trajectory.columns["step"]
    values = np.asarray(trajectory.columns[column], dtype=np.float64)
    b = bound(steps) if callable(bound) else bound
    b = np.broadcast_to(np.asarray(b, dtype=np.float64), values.shape)
    mask = ~np.isnan(values)
    slack = rtol * np.abs(b) + atol
    with np.errstate(divide="ignore", invalid="ignore"):
        if kind == "upper":
            bad = mask & ~(values <= b + slack)
            ratio = values / b
        else:
            bad = mask & ~(values >= b - slack)
            ratio = b / values
        ratio = ratio[mask & ~np.isnan(ratio)]
        worst = float(ratio.max()) if ratio.size else math.nan
    if not bad.any():
        return BoundCheck(True, column, int(mask.sum()), worst)
    i = int(np.argmax(bad))
    return BoundCheck(False, column, int(mask.sum()), worst, int(steps[i]), float(values[i]), float(b[i]))
