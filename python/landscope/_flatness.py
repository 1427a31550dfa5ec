"""Flatness (sharpness) measures of a loss landscape at one point w.

:func:`flatness` computes, from the public model API only:

``lambda_max``
    the largest Hessian eigenvalue, by Lanczos (:func:`landscope.eigsh`, ``which="LA"``); the
    error is the residual norm ‖H x − λ x‖, a bound on the distance from λ to an eigenvalue of H.
``trace``
    tr(H) by Hutch++ (:func:`landscope.trace`); the error is its standard error. Exact (up to
    rounding) when the sketch covers the range of H: ``max(samples, 4) // 3 >= rank(H)``.
``epsilon_sharpness``
    Keskar et al. (2017): max over the box |e_i| <= radius·(|w_i| + 1) of L(w + e) − L(w), by
    projected sign-gradient ascent. Also available in Keskar's ratio form
    (``Flatness.epsilon_sharpness_ratio`` = 100 · value / (1 + L(w))).
``sam_sharpness``
    max over ‖e‖₂ <= radius of L(w + e) − L(w) (the inner problem of SAM), by projected
    gradient ascent in the ℓ2 ball starting from SAM's step e = radius · ∇L/‖∇L‖.
``average_sharpness``
    E_z[L(w + radius·z)] − L(w) for z ~ N(0, I), the mean over ``samples`` seeded draws, each
    used as an antithetic pair ±z (evaluated in parallel by :meth:`Model.losses`), with its
    standard error. For a quadratic it
    is radius² · tr(H) / 2 (plus nothing from the gradient, whose term has mean 0).

The two maxima are found by local ascent and are **lower bounds** of the true maxima (exact for
convex quadratics, where the ascent below provably finds a maximizer: a box vertex, or the top
eigenvector by what amounts to power iteration).
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Callable, Optional, Sequence

import numpy as np

from . import _progress
from . import _validation as val
from ._equality import ValueEq
from .models import Model
from .spectra import ConvergenceError, eigsh, trace

__all__ = ["flatness", "Flatness", "MEASURES"]

#: The measures :func:`flatness` knows, in the order it reports them.
MEASURES = ("lambda_max", "trace", "epsilon_sharpness", "sam_sharpness", "average_sharpness")

#: Bytes of perturbed parameter vectors (one (P, b) block) handed to ``Model.losses`` at once.
CHUNK_BYTES = 256 * 2**20

#: Step-halving levels after which an ascent gives up (the step is below float resolution).
_MAX_LEVEL = 60


@dataclass(frozen=True, eq=False)
class Flatness(ValueEq):
    """Flatness measures at one point, from :func:`flatness`.

    ``values[name]`` is the measure, ``errors[name]`` its error: the residual bound ‖H x − λ x‖
    for ``lambda_max``, the standard error for ``trace`` and ``average_sharpness`` (inf when a
    single sample gives none), NaN for the two ascent maxima (lower bounds with no error bar).
    ``flatness(...)["trace"]`` is ``values["trace"]``.
    """

    values: dict
    errors: dict
    radius: float
    seed: int
    #: L(w), the loss the sharpness measures are increases over
    loss: float
    #: Hessian-vector products spent (``lambda_max`` and ``trace``)
    products: int
    #: gradient evaluations spent by the two ascents (each one loss-and-gradient pass)
    gradient_evaluations: int = 0
    #: loss values computed besides those (the ``average_sharpness`` draws and L(w))
    loss_evaluations: int = 0
    #: the best perturbation e found by each ascent (``epsilon_sharpness``, ``sam_sharpness``)
    perturbations: dict = field(default_factory=dict, repr=False, compare=False)

    def __getitem__(self, name: str) -> float:
        try:
            return self.values[name]
        except KeyError:
            raise KeyError(f"{name!r} was not computed; this result has {list(self.values)}") from None

    def __contains__(self, name) -> bool:
        return name in self.values

    def __iter__(self):
        return iter(self.values)

    @property
    def epsilon_sharpness_ratio(self) -> float:
        """Keskar et al.'s normalized form: 100 · epsilon_sharpness / (1 + L(w))."""
        return 100.0 * self["epsilon_sharpness"] / (1.0 + self.loss)

    def __repr__(self) -> str:
        head = (f"Flatness(radius={self.radius:g}, seed={self.seed}, loss={self.loss:.6g}, "
                f"products={self.products}, gradient_evaluations={self.gradient_evaluations}, "
                f"loss_evaluations={self.loss_evaluations})")
        width = max([len("measure")] + [len(k) for k in self.values])
        lines = [head, f"  {'measure':<{width}}  {'value':>14}  {'error':>10}"]
        for name, v in self.values.items():
            e = self.errors.get(name, math.nan)
            err = "-" if math.isnan(e) else f"{e:.2e}"
            lines.append(f"  {name:<{width}}  {v:>14.6e}  {err:>10}")
        return "\n".join(lines)


def _measures(measures) -> tuple[str, ...]:
    if isinstance(measures, str):
        measures = (measures,)
    try:
        items = list(measures)
    except TypeError:
        raise TypeError(f"measures: expected a measure name or a sequence of them from {list(MEASURES)}, "
                        f"got {measures!r}") from None
    if not items:
        raise ValueError(f"measures: expected at least one of {list(MEASURES)}, got none")
    out = []
    for m in items:
        if not isinstance(m, str) or m not in MEASURES:
            raise ValueError(f"measures: unknown measure {m!r}; valid: {', '.join(MEASURES)}")
        if m not in out:
            out.append(m)
    return tuple(out)


def _rng(seed: int, measure: str) -> np.random.Generator:
    """A stream per measure: a measure's numbers do not depend on which others are computed."""
    return np.random.default_rng([seed, MEASURES.index(measure)])


def flatness(model: Model, w, measures: Sequence[str] = MEASURES, *, radius: float = 1e-2,
             samples: int = 100, steps: int = 20, seed: int = 0, tol: float = 1e-6,
             progress: Optional[bool] = None) -> Flatness:
    """Flatness measures of ``model``'s loss at ``w``.

    Parameters
    ----------
    model : a landscope model
    w : the point, shape (P,), finite
    measures : names from ``"lambda_max"``, ``"trace"``, ``"epsilon_sharpness"``,
        ``"sam_sharpness"``, ``"average_sharpness"`` (a single name is accepted)
    radius : the perturbation size ρ > 0: the ℓ2 radius of ``sam_sharpness``, the relative box
        half-width of ``epsilon_sharpness`` (|e_i| <= ρ·(|w_i| + 1)) and the standard deviation
        of the Gaussian perturbations of ``average_sharpness``
    samples : Gaussian draws of ``average_sharpness``; also the probes (operator products) of
        the Hutch++ ``trace``, at least 4
    steps : ascent steps of ``epsilon_sharpness`` and ``sam_sharpness`` after the first one
        (each one loss-and-gradient evaluation)
    seed : integer in [0, 2**64): the Lanczos start, the trace probes, the Gaussian draws and the
        tie-breaking start of ``epsilon_sharpness`` (each measure has its own stream, so it does
        not depend on which other measures are asked for)
    tol : the Lanczos tolerance of ``lambda_max`` (residual <= tol · ‖H‖₂)
    progress : a progress bar on stderr per measure (the Lanczos products, the trace's products,
        the ascent steps, the draws). None (default): only when stderr is a terminal; True: also
        elsewhere, as whole lines every few seconds; False: never

    The ascents (``epsilon_sharpness``, ``sam_sharpness``) start from the maximizer of the
    linearized loss over the set — the box vertex ρ(|w| + 1)·sign(∇L) (a seeded random sign
    where a gradient entry is 0), resp. SAM's step ρ ∇L/‖∇L‖ — then take ``steps`` projected
    steps: the first try of each is the full step to the linearized maximizer at the current
    point (for the ℓ2 ball on a quadratic this is power iteration), and a step that does not
    increase the loss is retried with half the length (projected sign-gradient, resp.
    normalized-gradient steps), a successful one lengthens the next. The best point is kept, so
    the value is the largest increase found: a lower bound of the true maximum, exact for
    convex quadratics (given enough steps for the ball).

    Every value is deterministic: the same inputs and seed give the same numbers, independent of
    the thread count. Differences L(w + e) − L(w) lose about ``1e-16 · L(w)`` to cancellation,
    so a ``radius`` so small that ρ²·λ is near that level measures rounding.

    Returns a :class:`Flatness`. ``lambda_max`` warns (RuntimeWarning) and reports the last
    Ritz value with its residual if Lanczos does not converge.
    """
    if not isinstance(model, Model):
        raise TypeError(f"model: expected a landscope model, got {type(model).__name__}")
    P = model.num_params
    w = val.as_params(w, P, "w")
    names = _measures(measures)
    radius = val.real("radius", radius, 0.0, open_lo=True)
    samples = val.integer("samples", samples, 1)
    steps = val.integer("steps", steps, 1)
    seed = val.integer("seed", seed, 0, val.MAX_SEED)
    tol = val.real("tol", tol, 0.0, 1.0, open_lo=True, open_hi=True)
    show = _progress.enabled(progress)
    if "lambda_max" in names and P < 2:
        raise ValueError("measures: lambda_max needs a model with at least 2 parameters")

    point = model.at(w)
    loss0 = point.loss()
    values: dict = {}
    errors: dict = {}
    perturbations: dict = {}
    products = grads = losses = 0
    losses += 1

    H = None
    if "lambda_max" in names or "trace" in names:
        H = point.hessian_operator()

    for name in names:
        if name == "lambda_max":
            try:
                r = eigsh(H, k=1, which="LA", tol=tol, seed=seed, progress=show, label="flatness: lambda_max")
            except ConvergenceError as exc:
                r = exc.result
                warnings.warn(f"flatness: lambda_max did not converge to tol={tol:g} (residual "
                              f"{r.residuals[-1]:.2e}); reporting the last Ritz value", RuntimeWarning,
                              stacklevel=2)
            values[name] = float(r.eigenvalues[-1])
            errors[name] = float(r.residuals[-1])
            products += int(r.products)
        elif name == "trace":
            t = trace(H, num_probes=max(samples, 4), method="hutch++", seed=seed, progress=show,
                      label="flatness: trace")
            values[name] = t.estimate
            errors[name] = t.standard_error
            products += t.products
        elif name in ("epsilon_sharpness", "sam_sharpness"):
            g0 = point.gradient()
            ascent = _box_ascent if name == "epsilon_sharpness" else _ball_ascent
            with _progress.bar(f"flatness: {name}", steps, progress=show, unit="steps") as bar:
                best, e, used = ascent(model, w, loss0, g0, radius, steps, _rng(seed, name),
                                       lambda t: bar.update(t - bar.n))
            values[name] = best - loss0
            errors[name] = math.nan
            perturbations[name] = e
            grads += used
        elif name == "average_sharpness":
            with _progress.bar(f"flatness: {name}", samples, progress=show, unit="draws") as bar:
                mean, se, base = _average(model, w, radius, samples, _rng(seed, name),
                                          lambda done: bar.update(done - bar.n))
            values[name] = mean
            errors[name] = se
            losses += 2 * samples + 1  # antithetic pairs, and L(w) on the same path
    return Flatness(values=values, errors=errors, radius=radius, seed=seed, loss=float(loss0),
                    products=products, gradient_evaluations=grads, loss_evaluations=losses,
                    perturbations=perturbations)


# -------------------------------------------------------------------------------------------
# the two ascents: start at the linearized maximizer, then projected steps with a step length
# that halves on failure and doubles (up to the full step) on success; the best point is kept.

def _ascend(model: Model, w: np.ndarray, e0: np.ndarray, step: Callable, steps: int,
            report: Callable[[int], None]) -> tuple[float, np.ndarray, int]:
    """Returns (the best L(w + e), that e, gradient evaluations)."""
    best_e = e0
    best, g = model.loss_and_gradient(w + e0)
    used = 1
    level = 0
    for t in range(steps):
        report(t)
        if not np.any(g) or level > _MAX_LEVEL:
            break  # a stationary point, or a step below float resolution
        cand = step(best_e, g, level)
        if np.array_equal(cand, best_e):
            if level == 0:
                break  # the full step goes nowhere: a KKT point of the set (shorter ones would not move either)
            level += 1
            continue
        f, gc = model.loss_and_gradient(w + cand)
        used += 1
        if f > best:
            best, best_e, g = f, cand, gc
            level = max(level - 1, 0)
        else:
            level += 1
    report(steps)
    return float(best), best_e, used


def _box_ascent(model, w, loss0, g0, radius, steps, rng, report):
    r = radius * (np.abs(w) + 1.0)
    signs = np.sign(g0)
    zero = signs == 0
    if zero.any():
        signs[zero] = rng.choice([-1.0, 1.0], size=int(zero.sum()))

    def step(e, g, level):
        # projected sign-gradient step of length 2^(1-level)·r: level 0 lands on the vertex r·sign(g)
        return np.clip(e + 2.0 ** (1 - level) * r * np.sign(g), -r, r)

    return _ascend(model, w, r * signs, step, steps, report)


def _ball_ascent(model, w, loss0, g0, radius, steps, rng, report):
    norm = np.linalg.norm(g0)
    if norm > 0 and np.isfinite(norm):
        e0 = radius * (g0 / norm)
    else:  # a critical point: SAM's step is undefined, start from a seeded random direction
        z = rng.standard_normal(g0.size)
        e0 = radius * (z / np.linalg.norm(z))

    def step(e, g, level):
        u = radius * (g / np.linalg.norm(g))
        if level == 0:
            return u  # the maximizer of the linearization over the ball (SAM's step at w + e)
        c = e + 2.0 ** (1 - level) * u
        n = np.linalg.norm(c)
        return c if n <= radius else c * (radius / n)

    return _ascend(model, w, e0, step, steps, report)


# -------------------------------------------------------------------------------------------

def _average(model: Model, w: np.ndarray, sigma: float, samples: int, rng: np.random.Generator,
             report: Callable[[int], None]) -> tuple[float, float, float]:
    """Mean and standard error of L(w + σ z) − L(w) over ``samples`` draws, and L(w), all from
    the batched evaluator (L(w) too, so the differences come from one code path).

    Each draw z is used as an antithetic pair, ½(L(w + σz) + L(w − σz)) − L(w): the same mean,
    and the gradient's term σ gᵀz, which has mean 0 but dominates the spread away from a
    minimum, cancels exactly."""
    P = w.size
    b = max(1, min(samples, CHUNK_BYTES // (16 * P)))
    # the draws (b, P), the block W (P, 2b) and the engine's column-major copy of it
    val.check_memory(5 * 8 * P * b, f"flatness: average_sharpness, {2 * b} perturbed points of length {P}")
    base = float(model.losses(w.reshape(P, 1))[0])
    diffs = np.empty(samples)
    done = 0
    report(0)
    while done < samples:
        q = min(b, samples - done)
        Z = rng.standard_normal((q, P))  # sample i is the i-th draw of P numbers, whatever the chunking
        W = np.empty((P, 2 * q), order="F")  # the engine's layout: Model.losses copies nothing
        np.multiply(Z.T, sigma, out=W[:, :q])
        del Z
        np.negative(W[:, :q], out=W[:, q:])
        W += w[:, None]
        L = model.losses(W)
        diffs[done:done + q] = 0.5 * (L[:q] + L[q:]) - base
        del W
        done += q
        report(done)
    mean = float(diffs.mean())
    se = float(diffs.std(ddof=1) / math.sqrt(samples)) if samples > 1 else math.inf
    return mean, se, base
