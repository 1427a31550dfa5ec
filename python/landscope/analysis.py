"""Analysis of critical points, built on the public model and spectra API (DESIGN §5).

- :func:`classify`: local minimum, strict saddle, degenerate point or not a critical point, with
  the index (number of negative Hessian eigenvalues) and the tolerance used.
- :func:`negative_count`: the index of an operator from its k smallest eigenvalues, by SLQ when
  all k are negative.

Both are re-exported by :mod:`landscope.spectra` (and ``classify`` by :mod:`landscope`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Optional

import numpy as np

from . import _progress
from . import _validation as val
from ._equality import ValueEq
from .models import Model
from .operators import Operator

if TYPE_CHECKING:
    from .spectra import EigshResult

__all__ = ["classify", "Classification", "negative_count"]

# landscope.spectra re-exports this module's functions, so the solvers (eigsh, spectral_density)
# are imported inside the functions that use them: either module can be imported first.


def negative_count(H: Operator, bottom: np.ndarray, threshold: float, *, seed: int = 0, num_probes: int = 20,
                   steps: int = 80, progress: Optional[bool] = None,
                   label: str = "spectral_density") -> tuple[float, float, bool, str]:
    """The number of eigenvalues of H below −threshold, given its k smallest (``bottom``).

    Exact when fewer than k of them are below (Lanczos found the whole negative part); else
    an SLQ estimate (at least k) with its standard error. Returns (index, error, exact, method).
    ``progress`` and ``label`` are those of :func:`spectral_density` (the SLQ run's bar).
    """
    from .spectra import spectral_density

    neg = int(np.sum(np.asarray(bottom) < -threshold))
    if neg < len(bottom):
        return float(neg), 0.0, True, "lanczos"
    dens = spectral_density(H, num_probes=num_probes, steps=steps, seed=seed, progress=progress, label=label)
    index, err = dens.count_below(-threshold)
    return max(index, float(neg)), err, False, "lanczos+slq"


@dataclass(frozen=True, eq=False)
class Classification(ValueEq):
    """What :func:`classify` found at w.

    verdict: "local minimum" (λ_min > threshold), "strict saddle" (λ_min < −threshold),
    "degenerate" (|λ_min| <= threshold: second order cannot decide), or "not critical"
    (‖∇L‖ > grad_tol). ``index`` counts eigenvalues < −threshold: exact when ``index_exact``,
    else an SLQ estimate ± ``index_error``.
    """

    verdict: str
    loss: float
    gradient_norm: float
    lambda_min: float
    lambda_max: float
    bottom: np.ndarray
    top: np.ndarray
    index: float
    index_error: float
    index_exact: bool
    threshold: float
    grad_tol: float
    method: str


def _lanczos(H: Operator, k: int, which: str, tol: float, seed: int, progress: bool, label: str) -> EigshResult:
    """:func:`eigsh` with its progress bar named ``label``."""
    from .spectra import eigsh

    return eigsh(H, k, which, tol, seed=seed, progress=progress, label=label)


def classify(model, w, tol: float = 1e-6, grad_tol: Optional[float] = None, *, k: int = 6,
             dense_max: int = 2048, seed: int = 0, num_probes: int = 20, steps: int = 80,
             eig_tol: float = 1e-10, progress: Optional[bool] = None) -> Classification:
    """Classify w as a local minimum, strict saddle, degenerate point or not a critical point.

    The gradient norm is compared with ``grad_tol`` (default ``tol``). Eigenvalues count as
    negative (positive) below −threshold (above threshold), threshold = tol · max(1, ‖H‖₂).
    For P <= ``dense_max`` the whole Hessian spectrum is computed and the index is exact;
    otherwise Lanczos finds the k smallest and the largest eigenvalue, and the index is exact
    when fewer than k of them are negative, else estimated by SLQ with an error bar.
    ``progress``: a progress bar on stderr per phase (the dense eigenvalues, with the time taken;
    or the two Lanczos runs and, when needed, the SLQ run, each with its count). None (default):
    only when stderr is a terminal; True: also elsewhere (whole lines every few seconds); False:
    never.
    """
    if not isinstance(model, Model):
        raise TypeError(f"model: expected a landscope model, got {type(model).__name__}")
    tol = val.real("tol", tol, 0.0, open_lo=True)
    grad_tol = tol if grad_tol is None else val.real("grad_tol", grad_tol, 0.0, open_lo=True)
    k = val.integer("k", k, 1)
    dense_max = val.integer("dense_max", dense_max, 0)
    progress = _progress.enabled(progress)
    loss, g = model.loss_and_gradient(w)  # checks w (shape (P,), finite), like every call below
    gnorm = float(np.linalg.norm(g))
    P = model.num_params
    if P <= max(dense_max, k + 1):
        with _progress.phase(f"classify: the dense {P} x {P} Hessian and its eigenvalues", progress):
            lam = np.linalg.eigvalsh(model.hessian(w))
        lmin, lmax = float(lam[0]), float(lam[-1])
        thr = tol * max(1.0, abs(lmin), abs(lmax))
        index, err, exact, method = float(np.sum(lam < -thr)), 0.0, True, "dense"
        bottom, top = lam[: min(k, P)], lam[-min(k, P):]
    else:
        H = model.hessian_operator(w)
        top = _lanczos(H, 1, "LA", eig_tol, seed, progress, "classify: largest eigenvalue of H").eigenvalues
        bottom = _lanczos(H, k, "SA", eig_tol, seed, progress, f"classify: {k} smallest eigenvalues of H").eigenvalues
        lmin, lmax = float(bottom[0]), float(top[-1])
        thr = tol * max(1.0, abs(lmin), abs(lmax))
        index, err, exact, method = negative_count(H, bottom, thr, seed=seed, num_probes=num_probes, steps=steps,
                                                   progress=progress, label="classify: index by SLQ")
    if gnorm > grad_tol:
        verdict = "not critical"
    elif lmin < -thr:
        verdict = "strict saddle"
    elif lmin > thr:
        verdict = "local minimum"
    else:
        verdict = "degenerate"
    return Classification(verdict=verdict, loss=float(loss), gradient_norm=gnorm, lambda_min=lmin,
                          lambda_max=lmax, bottom=np.asarray(bottom), top=np.asarray(top), index=index,
                          index_error=float(err), index_exact=exact, threshold=float(thr),
                          grad_tol=float(grad_tol), method=method)
