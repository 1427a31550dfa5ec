"""Spectra of symmetric matrices and operators (DESIGN §5).

- :func:`eigh`: dense symmetric eigendecomposition (LAPACK through numpy/scipy), all pairs or a
  subset by index or value.
- :func:`eigsh`: k eigenpairs at either or both ends of an operator by thick-restart (block)
  Lanczos with full reorthogonalization, to a stated residual tolerance.
- :func:`spectral_density`: stochastic Lanczos quadrature.
- :func:`trace`: Hutchinson and Hutch++ estimates with standard errors.
- :func:`classify`: the nature of a critical point of a model (from :mod:`landscope.analysis`).

Every solver takes an :class:`~landscope.operators.Operator` or anything
:func:`~landscope.operators.as_operator` accepts (dense array, scipy operator, callable with
``n=``), is seeded, and returns bit-identical results for the same inputs and seed, on any
thread count (for landscope's own operators; a user's callable decides for itself).
"""
from __future__ import annotations

import operator as _operator
from dataclasses import dataclass, field
from typing import Callable, Optional

import numpy as np

from . import _validation as val
from ._equality import ValueEq
from . import _progress
from ._loader import core as _core
from .operators import as_operator, symmetric_matrix

__all__ = [
    "eigh",
    "eigsh",
    "EigshResult",
    "ConvergenceError",
    "spectral_density",
    "SpectralDensity",
    "trace",
    "TraceEstimate",
    "classify",
    "Classification",
]

_WHICH = ("LA", "SA", "BE", "LM")


# -------------------------------------------------------------------------------------------
# argument checks

def _int(name: str, v, least: int) -> int:
    return val.integer(name, v, least)


def _positive(name: str, v, below: float | None = None) -> float:
    if below is None:
        return val.real(name, v, 0.0, open_lo=True)
    return val.real(name, v, 0.0, below, open_lo=True, open_hi=True)


def _seed(seed) -> int:
    return val.integer("seed", seed, 0, 2**64 - 1)


# -------------------------------------------------------------------------------------------
# dense

def eigh(A, subset_by_index=None, subset_by_value=None, eigvals_only: bool = False):
    """Eigenvalues (ascending) and eigenvectors of a dense symmetric matrix.

    ``subset_by_index=(lo, hi)`` keeps eigenvalues lo..hi (inclusive, 0-based, ascending);
    ``subset_by_value=(a, b)`` keeps those in the half-open interval (a, b]. Returns ``w`` or
    ``(w, V)`` with ``V[:, i]`` the unit eigenvector of ``w[i]``.

    The input is checked (square, finite, symmetric to 1e-10 relative); the decomposition is
    LAPACK's (``syevd`` through numpy, or ``syevr`` through scipy for subsets when scipy is
    installed), which the C++ core does not try to beat.
    """
    arr = symmetric_matrix(A, "A")
    n = arr.shape[0]
    if subset_by_index is not None and subset_by_value is not None:
        raise ValueError("subset_by_index, subset_by_value: give at most one of them")
    lo = hi = None
    if subset_by_index is not None:
        try:
            lo, hi = (_operator.index(i) for i in subset_by_index)
        except (TypeError, ValueError):
            raise TypeError(f"subset_by_index: expected two integers (lo, hi), got {subset_by_index!r}") from None
        if not 0 <= lo <= hi < n:
            raise ValueError(f"subset_by_index: expected 0 <= lo <= hi < {n}, got ({lo}, {hi})")
    if subset_by_value is not None:
        try:
            a, b = (float(x) for x in subset_by_value)
        except (TypeError, ValueError):
            raise TypeError(f"subset_by_value: expected two numbers (a, b), got {subset_by_value!r}") from None
        if np.isnan(a) or np.isnan(b) or not a < b:
            raise ValueError(f"subset_by_value: expected a < b, got ({a}, {b})")
    if lo is not None or subset_by_value is not None:
        try:
            import scipy.linalg as sl
        except ImportError:
            sl = None
        if sl is not None:
            kw = {"subset_by_index": (lo, hi)} if lo is not None else {"subset_by_value": (a, b)}
            return sl.eigh(arr, eigvals_only=eigvals_only, driver="evr", check_finite=False, **kw)
    if eigvals_only:
        w = np.linalg.eigvalsh(arr)
        V = None
    else:
        w, V = np.linalg.eigh(arr)
    if lo is not None:
        keep = slice(lo, hi + 1)
    elif subset_by_value is not None:
        keep = (w > a) & (w <= b)
    else:
        keep = slice(None)
    return w[keep] if eigvals_only else (w[keep], V[:, keep])


# -------------------------------------------------------------------------------------------
# Lanczos

@dataclass(frozen=True, eq=False)
class EigshResult(ValueEq):
    """Eigenpairs from :func:`eigsh`, ascending. ``residuals[i] = ‖A x_i − λ_i x_i‖``.
    Results pickle, and are ``==`` when every field holds the same values."""

    eigenvalues: np.ndarray
    eigenvectors: np.ndarray
    residuals: np.ndarray
    converged: bool
    num_converged: int
    products: int
    restarts: int
    which: str
    tol: float
    anorm: float  # the estimate of ‖A‖₂ that `tol` is relative to
    #: how the solve ended, as in training: "converged", "not_converged" (the restart budget ran
    #: out) or "interrupted" (the callback asked to stop)
    status: str = "converged"

    @property
    def converged_mask(self) -> np.ndarray:
        """Which pairs meet ‖A x − λ x‖ <= tol · ‖A‖₂."""
        return self.residuals <= self.tol * self.anorm

    def __iter__(self):  # vals, vecs = eigsh(...)
        return iter((self.eigenvalues, self.eigenvectors))

    def __repr__(self) -> str:
        return (f"EigshResult(which={self.which!r}, eigenvalues={np.array2string(self.eigenvalues, precision=6)}, "
                f"converged={self.converged}, products={self.products}, restarts={self.restarts})")


class ConvergenceError(RuntimeError):
    """The solver stopped before all k pairs met the tolerance.

    ``eigenvalues``/``eigenvectors``/``residuals`` hold the pairs that did converge;
    ``result`` the whole last iterate (an :class:`EigshResult` with ``converged=False``).
    """

    def __init__(self, message: str, result: EigshResult):
        super().__init__(message)
        self.result = result
        mask = result.converged_mask
        self.eigenvalues = result.eigenvalues[mask]
        self.eigenvectors = result.eigenvectors[:, mask]
        self.residuals = result.residuals[mask]

    def __reduce__(self):  # the constructor takes the result too
        return type(self), (str(self), self.result)


def _counter(bar) -> Optional[Callable[[int, int], None]]:
    """The engine's per-block progress function f(done, total), moving ``bar`` (None when it is off)."""
    if bar.disable:
        return None

    def report(done: int, total: int) -> None:
        bar.total = total
        bar.update(done - bar.n)

    return report


def _restarts(n: int) -> str:
    return f"{n} restart" + ("" if n == 1 else "s")


_LANCZOS = _core.LanczosOptions()  # the engine's defaults, written once in spectra.hpp


def eigsh(op, k: int = _LANCZOS.k, which: str = _LANCZOS.which, tol: float = _LANCZOS.tol,
          maxiter: Optional[int] = None,
          ncv: Optional[int] = None, block_size: int = 1, v0=None, seed: int = 0, *,
          n: Optional[int] = None, progress: Optional[bool] = None,
          callback: Optional[Callable[[dict], Optional[bool]]] = None, label: Optional[str] = None) -> EigshResult:
    """k eigenpairs of a symmetric operator by thick-restart Lanczos.

    Parameters
    ----------
    op : Operator, symmetric array, scipy LinearOperator or callable (then ``n`` is required)
    k : number of eigenpairs, 1 <= k < n
    which : "LA" largest, "SA" smallest (most negative), "BE" both ends (ceil(k/2) largest and
        floor(k/2) smallest), "LM" largest magnitude
    tol : converged when ‖A x − λ x‖ <= tol · ‖A‖₂ for every wanted pair (‖A‖₂ estimated by the
        largest Ritz value magnitude seen). The eigenvalue error is at most the residual and
        usually its square over the gap.
    maxiter : maximum number of restarts (default: the engine's, 1000)
    ncv : basis size (default max(30, 2k + 2·block_size), at most n); memory is about
        (ncv + 2·block_size + k) vectors of length n
    block_size : vectors per operator product (block Lanczos); >= the multiplicity of a
        repeated eigenvalue guarantees all its copies are found
    v0 : start vector (n,) or block (n, c), c <= block_size; default random from ``seed``
    progress : a progress bar on stderr: the operator products (an open count: convergence is
        not predictable), with the restarts, the converged pairs and the largest residual. None
        (default): only when stderr is a terminal; True: also elsewhere (whole lines every few
        seconds); False: never
    callback : called after every restart with a dict (restarts, products, converged, wanted,
        max_residual); return False to stop (then ConvergenceError is raised)
    label : the name of the progress bar (default "eigsh <which> k=<k>")

    Returns an :class:`EigshResult` (ascending eigenvalues, eigenvectors, true residual norms,
    products, restarts). Raises :class:`ConvergenceError`, carrying the converged pairs, when
    ``maxiter`` restarts do not suffice. Problems with n <= ncv + block_size are solved densely.
    Ctrl-C stops it within about a second (between products) and raises KeyboardInterrupt.
    """
    show_progress = _progress.enabled(progress)
    A = as_operator(op, n, name="op")
    size = A.size
    o = _core.LanczosOptions()
    o.k = val.whole("k", k)
    if not isinstance(which, str):
        raise TypeError(f"which: expected one of {_WHICH}, got {which!r}")
    o.which = which  # the engine names a bad value
    o.tol = val.number("tol", tol)
    if maxiter is not None:
        o.maxiter = val.whole("maxiter", maxiter)
    o.ncv = 0 if ncv is None else val.whole("ncv", ncv)
    if ncv is not None and o.ncv < 1:
        raise ValueError(f"ncv: expected an integer >= 1 (None: the default), got {ncv}")
    o.block_size = val.whole("block_size", block_size)
    o.seed = _seed(seed)
    if v0 is not None:
        V0 = val._as_float_array("v0", v0)
        if V0.ndim == 1:
            V0 = V0.reshape(-1, 1)
        if V0.ndim != 2:
            raise ValueError(f"v0: expected shape ({size},) or ({size}, c), got {np.shape(v0)}")
        o.v0 = np.asfortranarray(V0)
    o.check(size)  # the engine's check of every option (k < n, tol, ncv, v0's shape, ...)
    k, tol, block_size = o.k, o.tol, o.block_size
    ncv_eff = o.default_ncv(size)
    val.check_memory(8 * size * (ncv_eff + 3 * block_size + k), f"eigsh: a Lanczos basis of {ncv_eff} vectors of length {size}")
    bar = _progress.bar(label or f"eigsh {which} k={k}", progress=show_progress, unit="products",
                        postfix=f"filling a basis of {ncv_eff} vectors")  # the first restart can take long

    def hook(p: dict) -> bool:
        bar.set_postfix_str(f"{_restarts(p['restarts'])}, {p['converged']}/{p['wanted']} converged, "
                            f"residual {p['max_residual']:.1e}", refresh=False)
        bar.update(p["products"] - bar.n)
        if callback is not None:
            keep = callback(p)
            return keep is None or bool(keep)
        return True

    try:
        raw = _core.lanczos(A._op, o, hook)  # hook: Ctrl-C too
        bar.set_postfix_str(f"{_restarts(raw.restarts)}, {raw.num_converged}/{k} converged"
                            + ("" if raw.status == "converged" else f", {raw.status}"), refresh=False)
        bar.update(raw.products - bar.n)
    finally:
        bar.close()
    res = EigshResult(eigenvalues=raw.eigenvalues, eigenvectors=raw.eigenvectors,
                      residuals=raw.residuals, converged=raw.status == "converged",
                      num_converged=int(raw.num_converged), products=int(raw.products),
                      restarts=int(raw.restarts), which=which, tol=tol, anorm=float(raw.anorm), status=raw.status)
    if not res.converged:
        why = ("stopped by the callback" if raw.status == "interrupted"
               else f"did not converge in {res.restarts} restarts")
        raise ConvergenceError(f"eigsh: {why}; {res.num_converged} of {k} pairs met tol={tol:g} "
                               f"({res.products} products). Increase maxiter or ncv, or loosen tol.", res)
    return res


# -------------------------------------------------------------------------------------------
# density and trace

@dataclass(frozen=True, eq=False)
class SpectralDensity(ValueEq):
    """Stochastic Lanczos quadrature of the eigenvalue distribution of an n x n operator.

    ``nodes[p]`` and ``weights[p]`` are probe p's Gauss quadrature (weights sum to 1); the
    spectral measure is estimated as their average, (1/num_probes) Σ_p Σ_j weights[p, j] δ(λ − nodes[p, j]).
    ``density`` is that measure smoothed by a Gaussian of width ``sigma`` on ``grid``.
    """

    nodes: np.ndarray
    weights: np.ndarray
    grid: np.ndarray
    density: np.ndarray
    sigma: float
    n: int
    products: int
    seed: int

    @property
    def num_probes(self) -> int:
        return self.nodes.shape[0]

    def count_below(self, x: float) -> tuple[float, float]:
        """Estimated number of eigenvalues < x and its error.

        The error combines the standard error across probes with the quadrature's resolution
        at x: per probe, half the weight of the two nodes that bracket x, the half-width of the
        Chebyshev–Markov–Stieltjes bound on the probe's distribution function (Gauss quadrature
        cannot tell on which side of x that mass lies). It is a bound, so often pessimistic,
        and large inside a dense cluster of eigenvalues, where SLQ cannot resolve the count.
        """
        below = self.nodes < x
        per_probe = self.n * np.sum(self.weights * below, axis=1)
        m = len(per_probe)
        stat = float(np.std(per_probe, ddof=1) / np.sqrt(m)) if m > 1 else float("inf")
        w_lo = np.max(np.where(below, self.weights * (self.nodes == np.max(np.where(below, self.nodes, -np.inf), axis=1, keepdims=True)), 0.0), axis=1)
        w_hi = np.max(np.where(~below, self.weights * (self.nodes == np.min(np.where(~below, self.nodes, np.inf), axis=1, keepdims=True)), 0.0), axis=1)
        exact = np.any(self.weights == 0.0, axis=1)  # Krylov space exhausted: the quadrature is exact
        quad = float(self.n * np.mean(np.where(exact, 0.0, 0.5 * (w_lo + w_hi))))
        return float(per_probe.mean()), float(np.hypot(stat, quad))

    def trace(self) -> tuple[float, float]:
        """n · Σ τ θ: a trace estimate (equal to Hutchinson's with the same probes) and its error."""
        per_probe = self.n * np.sum(self.weights * self.nodes, axis=1)
        m = len(per_probe)
        err = float(np.std(per_probe, ddof=1) / np.sqrt(m)) if m > 1 else float("inf")
        return float(per_probe.mean()), err


def spectral_density(op, num_probes: int = 10, steps: int = 80, seed: int = 0, *, n: Optional[int] = None,
                     grid=512, sigma: Optional[float] = None, block: int = 4,
                     progress: Optional[bool] = None, label: str = "spectral_density") -> SpectralDensity:
    """Eigenvalue density of a symmetric operator by stochastic Lanczos quadrature.

    Each of ``num_probes`` Rademacher probes runs ``steps`` Lanczos steps (full
    reorthogonalization), ``block`` probes at a time through batched products. ``grid`` is a
    number of points spanning the nodes (± 3 sigma) or an array of points; ``sigma`` defaults
    to 1% of the node range. Memory: about block · steps vectors of length n.
    ``progress``: a progress bar on stderr, named ``label``, of the probes done (None: only when
    stderr is a terminal; True: also elsewhere, as whole lines every few seconds; False: never).
    Ctrl-C stops it within a product and raises KeyboardInterrupt.
    """
    A = as_operator(op, n, name="op")
    num_probes = _int("num_probes", num_probes, 1)
    steps = _int("steps", steps, 1)
    block = _int("block", block, 1)
    seed = _seed(seed)
    steps = min(steps, A.size)
    block = min(block, num_probes)
    val.check_memory(8 * A.size * (block * (steps + 2)), f"spectral_density: {block} x {steps} Lanczos vectors of length {A.size}")
    bar = _progress.bar(label, num_probes, progress=progress, unit="probes")
    report = _counter(bar)
    try:
        nodes, weights, products = _core.lanczos_quadrature(A._op, num_probes, steps, seed, block, report)
    finally:
        bar.close()
    lo, hi = float(nodes.min()), float(nodes.max())
    if sigma is None:
        sigma = max(hi - lo, abs(hi), 1e-300) * 0.01
    sigma = _positive("sigma", sigma)
    if isinstance(grid, (int, np.integer)) and not isinstance(grid, bool):
        g = np.linspace(lo - 3 * sigma, hi + 3 * sigma, _int("grid", grid, 2))
    else:
        g = val._as_float_array("grid", grid)
        if g.ndim != 1:
            raise ValueError(f"grid: expected a number of points or a 1-D array, got shape {g.shape}")
    dens = np.zeros_like(g)
    norm = 1.0 / (num_probes * sigma * np.sqrt(2 * np.pi))
    for p in range(num_probes):
        z = (g[:, None] - nodes[p][None, :]) / sigma
        dens += norm * (np.exp(-0.5 * z * z) @ weights[p])
    return SpectralDensity(nodes=nodes, weights=weights, grid=g, density=dens, sigma=float(sigma),
                           n=A.size, products=int(products), seed=seed)


@dataclass(frozen=True, eq=False)
class TraceEstimate(ValueEq):
    """A stochastic trace estimate. ``estimate ± standard_error`` (one standard error)."""

    estimate: float
    standard_error: float
    method: str
    num_probes: int
    products: int
    samples: np.ndarray = field(repr=False)

    def __float__(self) -> float:
        return self.estimate


def trace(op, num_probes: int = 30, method: str = "hutch++", seed: int = 0, *, n: Optional[int] = None,
          block: int = 8, progress: Optional[bool] = None, label: str = "trace") -> TraceEstimate:
    """tr(A) from ``num_probes`` operator products with Rademacher probes.

    ``"hutchinson"``: mean of zᵀAz (needs >= 2 probes for an error bar). ``"hutch++"``: a third
    of the products sketch the dominant range Q of A (tr(QᵀAQ) exact), the remaining third
    estimate the rest by Hutchinson on (I − QQᵀ)z (needs >= 4 probes); far smaller errors when
    the spectrum decays. The standard error is that of the Hutchinson part. ``progress``: a
    progress bar on stderr, named ``label``, of the products done (None: only when stderr is a
    terminal; True: also elsewhere, as whole lines every few seconds; False: never). Ctrl-C stops
    it within a product and raises KeyboardInterrupt.
    """
    A = as_operator(op, n, name="op")
    if not isinstance(method, str) or method not in ("hutchinson", "hutch++"):
        raise ValueError(f"method: expected 'hutchinson' or 'hutch++', got {method!r}")
    num_probes = _int("num_probes", num_probes, 2 if method == "hutchinson" else 4)
    block = _int("block", block, 1)
    seed = _seed(seed)
    val.check_memory(8 * A.size * (num_probes // 3 + 3 * block), f"trace: probe vectors of length {A.size}")
    bar = _progress.bar(label, num_probes, progress=progress, unit="products")
    report = _counter(bar)
    try:
        r = _core.trace(A._op, num_probes, method, seed, block, report)
    finally:
        bar.close()
    return TraceEstimate(estimate=float(r["estimate"]), standard_error=float(r["standard_error"]), method=method,
                         num_probes=num_probes, products=int(r["products"]), samples=r["samples"])


# -------------------------------------------------------------------------------------------
# critical points: in landscope.analysis, re-exported here (landscope.spectra.classify keeps working).

from .analysis import Classification, classify, negative_count  # noqa: E402,F401
