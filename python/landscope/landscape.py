"""Loss landscapes: directions, 1-D/2-D surfaces, trajectories on a slice and paths between
solutions, evaluated many points per C++ call.

Directions (arrays (P, k), seeded and deterministic):

- :func:`random_directions`: Gaussian directions with filter (Li et al. 2018), layer or no
  normalization; bias blocks zeroed unless ``ignore=None``;
- :func:`normalize`: the same scaling for directions of your own;
- :func:`hessian_directions`: Hessian eigenvectors from :func:`~landscope.eigsh`;
- :func:`pca_directions`: principal directions of recorded iterates (from their T x T Gram
  matrix, never a P x P one);
- :func:`between`: the unit direction from one solution to another.

Evaluations: :func:`evaluate` (metrics at the columns of W), :func:`surface` (a grid
w + x_i d_1 + y_j d_2, resumable with ``out=``), :func:`project` (iterates in a slice's
coordinates), :func:`interpolate` (the linear path between two solutions and its barrier),
:func:`connect` (a trained Bezier or polygonal curve between two solutions, Garipov et al. 2018)
and :func:`align` (weight matching of an MLP's hidden units, Ainsworth et al. 2023).

Flatness at a point: :func:`flatness` (λ_max, tr H, ε-sharpness, SAM sharpness and average
sharpness side by side).

Metrics: ``loss`` and ``grad_norm`` come from :meth:`Model.losses` (parallel over points and
samples in C++, GIL released); ``accuracy`` (cross-entropy models) from the outputs at each
point; ``sharpness`` and ``min_eig`` (λ_max and λ_min of the Hessian) from :func:`eigsh` at
each point.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
import time
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from . import _distributed
from . import _progress
from . import _validation as val
from ._equality import ValueEq
from ._loader import core as _core
from .models import Model

__all__ = ["Directions", "random_directions", "normalize", "hessian_directions", "pca_directions", "between", "evaluate",
           "surface", "Surface", "project", "interpolate", "Path", "METRICS", "flatness", "Flatness", "connect",
           "Curve", "CURVES", "align"]

#: What :func:`evaluate`, :func:`surface` and :func:`interpolate` can compute at a point.
METRICS = ("loss", "grad_norm", "accuracy", "sharpness", "min_eig")
_NORMALIZATIONS = ("filter", "layer", "none")
_BIAS = re.compile(r"b\d*$")
_CHUNK_BYTES = 64 << 20  # the parameter vectors of one batched call
_FORMAT = "landscope.surface"


# ------------------------------------------------------------------------------- directions

class Directions(np.ndarray):
    """A (P, k) array of directions that remembers how it was made (``metadata``: kind, seed,
    normalization, ignore), which :func:`surface` records with its values. Otherwise an
    ordinary float64 array."""

    def __new__(cls, array: np.ndarray, **metadata):
        obj = np.asarray(array).view(cls)
        obj.metadata = dict(metadata)
        return obj

    def __array_finalize__(self, obj):
        self.metadata = dict(getattr(obj, "metadata", {}))

    def __reduce__(self):  # pickles with its metadata (an ndarray subclass would drop it)
        rebuild, args, state = super().__reduce__()
        return rebuild, args, (state, self.metadata)

    def __setstate__(self, state):
        array_state, metadata = state
        super().__setstate__(array_state)
        self.metadata = dict(metadata)


def _model(model) -> Model:
    if not isinstance(model, Model):
        raise TypeError(f"model: expected a landscope model, got {type(model).__name__}")
    return model


def _blocks(model: Model) -> list[tuple[str, np.ndarray]]:
    """(name, flat indices as a (rows, cols) array, or 1-D) of each parameter block."""
    idx = model.unflatten(np.arange(model.num_params, dtype=np.float64))
    return [(name, block.astype(np.int64)) for name, block in idx.items()]


def _directions(D, P: int, name: str = "directions") -> tuple[np.ndarray, bool]:
    """D as a (P, k) float64 array (and whether it was 1-D); nonzero, finite columns."""
    arr = val._as_float_array(name, D)
    flat = arr.ndim == 1
    if flat:
        arr = arr.reshape(-1, 1)
    if arr.ndim != 2 or arr.shape[0] != P or arr.shape[1] == 0:
        raise ValueError(f"{name}: expected shape ({P},) or ({P}, k) with k >= 1, got {np.shape(D)}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name}: contains NaN or Inf")
    zero = np.flatnonzero(~(np.abs(arr).max(axis=0) > 0))
    if zero.size:
        raise ValueError(f"{name}: direction {int(zero[0])} is zero")
    return np.ascontiguousarray(arr), flat


def _choice(name: str, value, choices) -> str:
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name}: expected one of {choices}, got {value!r}")
    return value


def normalize(model, w, D, normalization: str = "filter", ignore: Optional[str] = "biases") -> np.ndarray:
    """Scales directions D ((P,) or (P, k)) like w, block by block.

    ``normalization="filter"``: each row of each weight block (one output unit, a "filter")
    is scaled to the norm of the same row of w (Li et al. 2018); 1-D blocks as a whole.
    ``"layer"``: each block to the norm of w's block. ``"none"``: unchanged. ``ignore="biases"``
    zeroes the bias blocks (``b1``, ``b2``, …); ``ignore=None`` scales them like the rest. A row
    of w that is zero gives a zero row. Returns a new array of D's shape.
    """
    model = _model(model)
    P = model.num_params
    w = val.as_params(w, P, "w")
    D, flat = _directions(D, P, "D")
    normalization = _choice("normalization", normalization, _NORMALIZATIONS)
    if ignore not in ("biases", None):
        raise ValueError(f"ignore: expected 'biases' or None, got {ignore!r}")
    out = D.copy()
    for name, idx in _blocks(model):
        if ignore == "biases" and _BIAS.match(name):
            out[idx.ravel()] = 0.0
            continue
        if normalization == "none":
            continue
        rows = idx.reshape(idx.shape[0], -1) if idx.ndim == 2 and normalization == "filter" else idx.reshape(1, -1)
        for r in rows:  # a filter (or the whole block): D_r ← D_r ‖w_r‖ / ‖D_r‖, column by column
            dn = np.linalg.norm(out[r], axis=0)
            scale = np.divide(np.linalg.norm(w[r]), dn, out=np.zeros_like(dn), where=dn > 0)
            out[r] *= scale
    if not (np.abs(out).max(axis=0) > 0).all():
        raise ValueError("D: a direction is zero after normalization (w is zero where it is not, or only "
                         "biases were nonzero); use normalization='none' or ignore=None")
    return out[:, 0] if flat else out


def random_directions(model, w, k: int = 2, normalization: str = "filter", ignore: Optional[str] = "biases",
                      seed: int = 0) -> np.ndarray:
    """k Gaussian directions (P, k), normalized like w (see :func:`normalize`), from ``seed``
    (numpy's PCG64: identical across runs, machines and thread counts)."""
    model = _model(model)
    k = val.integer("k", k, 1)
    seed = val.integer("seed", seed, 0, val.MAX_SEED)
    val.check_memory(8 * model.num_params * k, f"random_directions: {k} directions of length {model.num_params}")
    D = np.random.default_rng(seed).standard_normal((model.num_params, k))
    return Directions(normalize(model, w, D, normalization, ignore), kind="random", seed=seed,
                      normalization=normalization, ignore=ignore)


def hessian_directions(model, w, k: int = 2, which: str = "LA", tol: float = 1e-8, seed: int = 0) -> np.ndarray:
    """The eigenvectors (P, k) of the Hessian at w for its k largest (``which="LA"``, largest
    first) or most negative (``"SA"``, most negative first) eigenvalues, by :func:`eigsh`."""
    from .spectra import eigsh

    model = _model(model)
    which = _choice("which", which, ("LA", "SA"))
    r = eigsh(model.hessian_operator(w), k=k, which=which, tol=tol, seed=seed, progress=False)
    order = np.argsort(r.eigenvalues)
    if which == "LA":
        order = order[::-1]
    V = r.eigenvectors[:, order]
    V = V * np.where(V[np.abs(V).argmax(axis=0), np.arange(V.shape[1])] < 0, -1.0, 1.0)  # a fixed sign
    return Directions(V, kind="hessian", which=which, eigenvalues=r.eigenvalues[order].tolist(), seed=seed)


def _iterates(trajectory_or_params, name: str = "trajectory_or_params") -> np.ndarray:
    from .training import Trajectory

    if isinstance(trajectory_or_params, Trajectory):
        params = trajectory_or_params.params
        if params.shape[0] == 0:
            raise ValueError(f"{name}: the trajectory has no recorded iterates; train with record=('params',)")
        return params
    arr = val._as_float_array(name, trajectory_or_params)
    if arr.ndim != 2 or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"{name}: expected a Trajectory or iterates of shape (T, P), got shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name}: contains NaN or Inf")
    return arr


def pca_directions(trajectory_or_params, k: int = 2, center=None) -> tuple[np.ndarray, np.ndarray]:
    """The k principal directions (P, k) of the iterates around ``center`` (default: the last
    iterate), and the fraction of the variance each explains (k,).

    The iterates come from a :class:`~landscope.Trajectory` recorded with ``record=("params",)``
    or an array (T, P). The eigenvectors of the T x T Gram matrix of the centered iterates give
    the directions (never a P x P matrix). Signs are fixed (largest entry positive).
    """
    M = _iterates(trajectory_or_params)
    T, P = M.shape
    k = val.integer("k", k, 1)
    c = M[-1] if center is None else val.as_params(center, P, "center")
    M = M - c
    G = M @ M.T
    s2, U = np.linalg.eigh(G)
    rank = int(np.sum(s2 > max(s2[-1], 0.0) * T * np.finfo(float).eps))
    if k > rank:
        raise ValueError(f"k: the {T} iterates span {rank} directions around the center, asked for {k}")
    s2, U = s2[::-1][:k], U[:, ::-1][:, :k]
    D = (M.T @ U) / np.sqrt(s2)
    D = D * np.where(D[np.abs(D).argmax(axis=0), np.arange(k)] < 0, -1.0, 1.0)
    ratio = s2 / np.trace(G)
    return Directions(D, kind="pca", explained_variance_ratio=ratio.tolist(), iterates=T), ratio


def between(w_a, w_b) -> np.ndarray:
    """The unit direction (P,) from w_a to w_b."""
    a = val.as_params(w_a, np.size(w_a), "w_a")
    b = val.as_params(w_b, a.size, "w_b")
    d = b - a
    n = np.linalg.norm(d)
    if not n > 0:
        raise ValueError("w_b: equals w_a, there is no direction between them")
    return d / n


# ------------------------------------------------------------------------------- evaluation

def _metrics(metrics, model: Model, with_loss: bool = False) -> tuple[str, ...]:
    """The metric names, checked for ``model``; ``with_loss`` puts the loss first when absent."""
    if isinstance(metrics, str):
        metrics = (metrics,)
    try:
        metrics = tuple(metrics)
    except TypeError:
        raise TypeError(f"metrics: expected names from {METRICS}, got {metrics!r}") from None
    if with_loss and "loss" not in metrics:
        metrics = ("loss",) + metrics
    if not metrics:
        raise ValueError(f"metrics: expected at least one of {METRICS}")
    for m in metrics:
        if m not in METRICS:
            raise ValueError(f"metrics: unknown metric {m!r}, expected some of {METRICS}")
    if len(set(metrics)) != len(metrics):
        raise ValueError(f"metrics: {metrics!r} names a metric twice")
    if "accuracy" in metrics and getattr(model, "_labels", None) is None:
        raise ValueError("metrics: 'accuracy' needs a cross-entropy model (integer labels)")
    return metrics


def _on_data(model: Model, data) -> Model:
    if data is None:
        return model
    try:
        X, y = data
    except (TypeError, ValueError):
        raise TypeError("data: expected a pair (X, y) of held-out inputs and targets") from None
    return model.with_data(X, y)


def _evaluate(model: Model, W: np.ndarray, metrics: tuple, tol: float) -> dict:
    """The metrics at the columns of W (P, b), already checked."""
    from .spectra import ConvergenceError, eigsh

    out = {}
    if "loss" in metrics or "grad_norm" in metrics:
        if "grad_norm" in metrics:
            out["loss"], out["grad_norm"] = model.losses(W, grad_norms=True)
        else:
            out["loss"] = model.losses(W)
    b = W.shape[1]
    if "accuracy" in metrics:
        labels = model._labels
        out["accuracy"] = np.array([np.mean(np.argmax(model.outputs(W[:, j]), axis=1) == labels) for j in range(b)])
    for name, which in (("sharpness", "LA"), ("min_eig", "SA")):
        if name in metrics:
            vals = np.empty(b)
            for j in range(b):
                try:
                    vals[j] = eigsh(model.hessian_operator(W[:, j]), k=1, which=which, tol=tol,
                                    progress=False).eigenvalues[0]
                except ConvergenceError:
                    vals[j] = np.nan
            out[name] = vals
    return {m: out[m] for m in metrics}


def _chunk(P: int, metrics: tuple) -> int:
    per_point = 8 * P
    cap = 256 if set(metrics) <= {"loss", "grad_norm"} else 16
    return int(max(1, min(cap, _CHUNK_BYTES // per_point)))


def evaluate(model, W, metrics=("loss",), *, data=None, tol: float = 1e-8) -> dict:
    """The metrics at the columns of W (P, b), or at one point W (P,): a dict name -> array (b,)
    (floats for one point). ``data=(X, y)`` evaluates on held-out data (``model.with_data``).
    ``tol`` is the eigensolver tolerance of ``sharpness``/``min_eig``."""
    model = _model(model)
    V, flat = val.as_directions(W, model.num_params, "W")
    ev = _on_data(model, data)
    metrics = _metrics(metrics, ev)
    c = _chunk(model.num_params, metrics)
    parts = [_evaluate(ev, np.asfortranarray(V[:, i:i + c]), metrics, tol) for i in range(0, V.shape[1], c)]
    out = {m: np.concatenate([p[m] for p in parts]) for m in metrics}
    return {m: float(v[0]) for m, v in out.items()} if flat else out


# ---------------------------------------------------------------------------------- surfaces

def _grid(name: str, x) -> np.ndarray:
    arr = val._as_float_array(name, x)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name}: expected a non-empty 1-D array of coordinates, got shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name}: contains NaN or Inf")
    if arr.size > 1 and not (np.diff(arr) > 0).all():
        raise ValueError(f"{name}: coordinates must be strictly increasing (sorted, no duplicates)")
    return arr


@dataclass(frozen=True, eq=False)
class Surface(ValueEq):
    """Metrics on the grid w + x_j d_1 (+ y_i d_2): ``values[name]`` has shape (len(y), len(x))
    (rows y, columns x, as ``matplotlib``'s ``contour(x, y, values)`` expects) or (len(x),).
    ``done`` marks the points computed (all of them once the surface is complete). Surfaces
    pickle, and are ``==`` when every field holds the same values."""

    x: np.ndarray
    y: Optional[np.ndarray]
    values: dict
    directions: np.ndarray
    center: np.ndarray
    metadata: dict = field(default_factory=dict)
    done: Optional[np.ndarray] = None

    @property
    def complete(self) -> bool:
        return self.done is None or bool(self.done.all())

    def __getitem__(self, name: str) -> np.ndarray:
        return self.values[name]

    def save(self, path) -> None:
        """Writes one ``.npz`` (arrays, and the metadata as JSON) atomically: a temporary file
        in the same folder, then a rename, so a reader never sees half a file."""
        path = os.fspath(path)
        arrays = {f"val_{k}": v for k, v in self.values.items()}
        arrays.update(x=self.x, directions=self.directions, center=self.center)
        if self.y is not None:
            arrays["y"] = self.y
        if self.done is not None:
            arrays["done"] = self.done
        meta = {"format": _FORMAT, "version": 1, "metadata": self.metadata}
        arrays["metadata"] = np.array(json.dumps(meta, allow_nan=True))
        folder = os.path.dirname(os.path.abspath(path))
        fd, tmp = tempfile.mkstemp(prefix=".surface-", suffix=".npz", dir=folder)
        try:
            with os.fdopen(fd, "wb") as fh:
                np.savez(fh, **arrays)
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise

    @classmethod
    def load(cls, path) -> "Surface":
        """Reads a file written by :meth:`save`; ValueError naming the path if it is not one."""
        path = os.fspath(path)
        try:
            with open(path, "rb") as fh, np.load(fh, allow_pickle=False) as f:
                meta = json.loads(str(f["metadata"]))
                if meta.get("format") != _FORMAT:
                    raise ValueError(f"format {meta.get('format')!r}")
                values = {k[4:]: f[k] for k in f.files if k.startswith("val_")}
                return cls(x=f["x"], y=f["y"] if "y" in f.files else None, values=values,
                           directions=f["directions"], center=f["center"], metadata=meta["metadata"],
                           done=f["done"] if "done" in f.files else None)
        except FileNotFoundError:
            raise
        except (OSError, EOFError, KeyError, TypeError, ValueError) as e:
            raise ValueError(f"path: {path!r} is not a readable saved landscope Surface ({e})") from None

    def to_xarray(self):
        """The values as an ``xarray.Dataset`` with coordinates x (and y) (needs xarray)."""
        try:
            import xarray as xr
        except ImportError as e:  # pragma: no cover - depends on the environment
            raise ImportError("Surface.to_xarray needs xarray: pip install xarray") from e
        dims = ("y", "x") if self.y is not None else ("x",)
        coords = {"x": self.x} if self.y is None else {"x": self.x, "y": self.y}
        return xr.Dataset({k: (dims, v) for k, v in self.values.items()}, coords=coords, attrs=dict(self.metadata))

    def plot(self, **kw):
        """A contour plot, heatmap or 3-D view of a metric: :func:`landscope.plot.surface` (needs
        matplotlib: ``pip install 'landscope[plot]'``). Returns the Figure."""
        from . import plot

        return plot.surface(self, **kw)

    def __repr__(self) -> str:
        shape = (len(self.x),) if self.y is None else (len(self.y), len(self.x))
        return f"Surface(shape={shape}, metrics={tuple(self.values)}, complete={self.complete})"


def _fingerprint(model: Model, w, D, x, y, metrics, data, tol) -> str:
    """What a resumed surface must agree on, as a hash."""
    from .training import _model_signature

    h = hashlib.sha256()
    h.update(json.dumps(_model_signature(model), sort_keys=True, default=str).encode())
    for a in (w, D, x, np.zeros(0) if y is None else y):
        h.update(np.ascontiguousarray(a, dtype=np.float64).tobytes())
        h.update(str(np.shape(a)).encode())
    h.update(json.dumps([list(metrics), tol, data is not None]).encode())
    if data is not None:
        for a in data:
            h.update(np.ascontiguousarray(np.asarray(a, dtype=np.float64)).tobytes())
    return h.hexdigest()


def surface(model, w, directions, x, y=None, metrics=("loss",), *, samples=None, data=None, tol: float = 1e-8,
            progress: Optional[bool] = None, out=None, client=None) -> Surface:
    """The metrics on the grid w + x_j d_1 (+ y_i d_2), as a :class:`Surface`.

    Parameters
    ----------
    model, w : the model and the center of the slice
    directions : (P,) or (P, 1) for a 1-D slice, (P, 2) for a 2-D one (e.g. from
        :func:`random_directions`)
    x, y : strictly increasing coordinates along d_1 (and d_2, required for a 2-D slice)
    metrics : names from :data:`METRICS`
    samples : an index array: loss and grad_norm over those samples only (one point per call,
        slower than the batched full-data path)
    data : ``(X, y)`` held-out data to evaluate on instead (``model.with_data``)
    tol : eigensolver tolerance of ``sharpness``/``min_eig``
    progress : a progress bar on stderr of the grid points done (None: only when stderr is a
        terminal; True: also elsewhere, as whole lines every few seconds; False: never)
    out : a path: the surface is saved there (atomically) as rows finish, and a later call with
        the same arguments resumes from the points already done; a file made with different
        arguments raises ValueError
    client : a ``dask.distributed.Client`` (or a scheduler address, or a
        ``concurrent.futures.Executor``): the grid is split into blocks of consecutive points,
        the model, w and the directions are sent once to each worker, and the blocks run there
        (each on its worker's threads); ``out`` is saved as blocks arrive. The values are those
        of the in-process run, bit for bit (the engine's results do not depend on the thread
        count: it sums over fixed sample blocks in a fixed order). None (default): in this
        process

    Loss and grad_norm are computed many points per C++ call (parallel over points and
    samples, GIL released); each point's values equal :meth:`Model.loss` to rounding.
    """
    model = _model(model)
    P = model.num_params
    w = val.as_params(w, P, "w")
    made = dict(getattr(directions, "metadata", {}))
    D, _ = _directions(directions, P, "directions")
    D = np.asarray(D)
    x = _grid("x", x)
    if D.shape[1] == 2:
        if y is None:
            raise ValueError("y: a 2-D slice (two directions) needs y coordinates")
        y = _grid("y", y)
    elif D.shape[1] == 1:
        if y is not None:
            raise ValueError("y: a 1-D slice (one direction) takes no y; pass two directions for a 2-D slice")
    else:
        raise ValueError(f"directions: expected one or two directions, got {D.shape[1]}")
    ev = _on_data(model, data)
    metrics = _metrics(metrics, ev)
    idx = None
    if samples is not None:
        if data is not None:
            raise ValueError("samples: give samples or data, not both")
        if set(metrics) - {"loss", "grad_norm"}:
            raise ValueError("samples: only applies to the loss and grad_norm metrics")
        idx = val.as_samples(samples, model.num_samples)
    tol = val.real("tol", tol, 0.0, 1.0, open_lo=True, open_hi=True)
    shape = (len(x),) if y is None else (len(y), len(x))
    coords = np.stack(np.meshgrid(x, [0.0] if y is None else y), axis=-1).reshape(-1, 2)  # row-major: y, then x
    n = coords.shape[0]
    meta = {"fingerprint": _fingerprint(model, w, D, x, y, metrics, data, tol), "metrics": list(metrics),
            "model": type(model).__name__, "num_params": P, "version": _core.__version__,
            "samples": None if idx is None else idx.tolist(), "held_out": data is not None, "tol": tol,
            "directions": made}
    values = {m: np.full(n, np.nan) for m in metrics}
    done = np.zeros(n, dtype=bool)
    if out is not None:
        out = os.fspath(out)
        if os.path.exists(out):
            old = Surface.load(out)
            if old.metadata.get("fingerprint") != meta["fingerprint"]:
                raise ValueError(f"out: {out!r} holds a surface made with other arguments (model, w, directions, "
                                 f"grid, metrics or data); remove it or choose another path")
            values = {m: np.array(old.values[m], dtype=np.float64).reshape(-1) for m in metrics}
            done = (np.ones(n, dtype=bool) if old.done is None else np.array(old.done, dtype=bool).reshape(-1))
    c = _chunk(P, metrics)
    todo = np.flatnonzero(~done)
    val.check_memory(8 * P * min(c, max(todo.size, 1)) * 2, "surface: the parameter vectors of one batch")
    bar = _progress.bar("surface", n, progress=progress, unit="points", initial=int(done.sum()))
    last_save = time.perf_counter()

    def result() -> Surface:
        return Surface(x=x, y=y, values={m: v.reshape(shape) for m, v in values.items()}, directions=D,
                       center=w, metadata=meta, done=done.reshape(shape).copy())

    # chunks of c points (the same ones wherever they run), each with its coordinates
    chunks = [(pts, coords[pts, :D.shape[1]]) for pts in (todo[i:i + c] for i in range(0, todo.size, c))]
    try:
        with _distributed.resolve(client) as runner:
            blocks = _distributed.map_blocks(runner, _surface_points, (ev if idx is None else model, w, np.asfortranarray(D)),
                                             (metrics, tol, idx), chunks)
            for block, results in blocks:
                for (pts, _), got in zip(block, results):
                    for m in metrics:
                        values[m][pts] = got[m]
                    done[pts] = True
                bar.update(int(done.sum()) - bar.n)
                now = time.perf_counter()
                if out is not None and (now - last_save > 1.0 or done.all()):
                    result().save(out)
                    last_save = now
    except BaseException:
        if out is not None and done.any():
            result().save(out)  # every finished point survives Ctrl-C
        raise
    finally:
        bar.close()
    s = result()
    return Surface(x=s.x, y=s.y, values=s.values, directions=s.directions, center=s.center, metadata=s.metadata,
                   done=None)


def _surface_points(model: Model, w: np.ndarray, D: np.ndarray, metrics: tuple, tol: float, idx, chunk) -> dict:
    """The metrics at one chunk of grid points, ``chunk`` = (their indices, their coordinates
    (b, k)): one batched evaluation (or, over ``samples`` ``idx``, one call a point). The same
    computation in this process and on a worker."""
    pts, C = chunk
    if idx is None and set(metrics) == {"loss"}:  # the first layer once for the whole chunk
        return {"loss": model.losses_in_span(w, D, C.T)}
    W = np.asfortranarray(w[:, None] + D @ C.T)
    if idx is None:
        return _evaluate(model, W, metrics, tol)
    got = {m: np.empty(pts.size) for m in metrics}
    for j in range(pts.size):
        if "grad_norm" in metrics:
            f, g = model.loss_and_gradient(W[:, j], samples=idx)
            got["grad_norm"][j] = np.linalg.norm(g)
        else:
            f = model.loss(W[:, j], samples=idx)
        if "loss" in got:
            got["loss"][j] = f
    return got


# ------------------------------------------------------------------- trajectories on a slice

def project(trajectory_or_params, w, directions) -> tuple[np.ndarray, np.ndarray]:
    """The iterates in the slice's coordinates: (coords (T, k), residual (T,)), where coords are
    the least-squares coefficients of p_t − w on the directions (P, k) and residual the norm
    of what is left (how far the path leaves the plane)."""
    M = _iterates(trajectory_or_params)
    T, P = M.shape
    w = val.as_params(w, P, "w")
    D, _ = _directions(directions, P, "directions")
    Q, R = np.linalg.qr(D)
    if np.abs(np.diag(R)).min() <= 1e-12 * np.abs(np.diag(R)).max():
        raise ValueError("directions: linearly dependent; the slice has fewer dimensions than directions")
    E = (M - w).T
    QtE = Q.T @ E
    coords = np.linalg.solve(R, QtE).T
    resid = np.linalg.norm(E - Q @ QtE, axis=0)
    return coords, resid


# ---------------------------------------------------------------------------------- paths

@dataclass(frozen=True, eq=False)
class Path(ValueEq):
    """Metrics along a path between two parameter vectors at parameters t in [0, 1].

    ``barrier`` = max_t [L(t) − ((1 − t) L(0) + t L(1))] (Frankle et al. 2020), reached at
    ``barrier_t``; ≤ 0 when the loss is convex along the path. ``points`` (P, num) when asked for.
    Paths pickle, and are ``==`` when every field holds the same values.
    """

    t: np.ndarray
    values: dict
    barrier: float
    barrier_t: float
    points: Optional[np.ndarray] = None
    metadata: dict = field(default_factory=dict)

    def __getitem__(self, name: str) -> np.ndarray:
        return self.values[name]

    def plot(self, **kw):
        """The metric against t with its chord and barrier: :func:`landscope.plot.path` (needs
        matplotlib: ``pip install 'landscope[plot]'``). Returns the Figure."""
        from . import plot

        return plot.path(self, **kw)

    def __repr__(self) -> str:
        return f"Path(num={len(self.t)}, metrics={tuple(self.values)}, barrier={self.barrier:.4g} at t={self.barrier_t:.3g})"


def path_from_values(t: np.ndarray, values: dict, points=None, metadata=None) -> Path:
    """A :class:`Path` from metric values along t (the barrier from ``values["loss"]``)."""
    if "loss" in values:
        L = np.asarray(values["loss"])
        excess = L - ((1 - t) * L[0] + t * L[-1])
        i = int(np.argmax(excess))
        barrier, barrier_t = float(excess[i]), float(t[i])
    else:
        barrier = barrier_t = float("nan")
    return Path(t=t, values=values, barrier=barrier, barrier_t=barrier_t, points=points, metadata=metadata or {})


def interpolate(model, w_a, w_b, num: int = 51, metrics=("loss",), *, points: bool = False, data=None,
                tol: float = 1e-8, client=None) -> Path:
    """The metrics along the straight line (1 − t) w_a + t w_b, t = 0 … 1 in ``num`` steps, with
    the loss barrier (a :class:`Path`). ``points=True`` keeps the parameter vectors.
    ``client`` (a ``dask.distributed.Client``, a scheduler address or a
    ``concurrent.futures.Executor``) evaluates blocks of t on its workers, with the model and
    the endpoints sent once to each, giving the values of the in-process run (see
    :func:`surface`)."""
    model = _model(model)
    P = model.num_params
    a = val.as_params(w_a, P, "w_a")
    b = val.as_params(w_b, P, "w_b")
    num = val.integer("num", num, 2)
    t = np.linspace(0.0, 1.0, num)
    if client is None:
        W = np.asfortranarray(a[:, None] * (1 - t) + b[:, None] * t)
        values = evaluate(model, W, metrics, data=data, tol=tol)
    else:
        ev = _on_data(model, data)
        metrics = _metrics(metrics, ev)
        c = _chunk(P, metrics)
        chunks = [t[i:i + c] for i in range(0, num, c)]
        parts = {}
        with _distributed.resolve(client) as runner:
            for block, results in _distributed.map_blocks(runner, _path_points, (ev, a, b), (metrics, tol), chunks):
                for tc, got in zip(block, results):
                    parts[float(tc[0])] = got
        values = {m: np.concatenate([parts[float(tc[0])][m] for tc in chunks]) for m in metrics}
        W = np.asfortranarray(a[:, None] * (1 - t) + b[:, None] * t) if points else None
    return path_from_values(t, values, W if points else None,
                            {"kind": "linear", "metrics": list(values), "version": _core.__version__})


def _path_points(model: Model, a: np.ndarray, b: np.ndarray, metrics: tuple, tol: float, t: np.ndarray) -> dict:
    """The metrics at the points (1 − t) a + t b of one chunk of t (as :func:`interpolate` forms
    them in this process)."""
    return _evaluate(model, np.asfortranarray(a[:, None] * (1 - t) + b[:, None] * t), metrics, tol)


from ._connect import CURVES, Curve, align, connect  # noqa: E402  (they use this module's public API)
from ._flatness import Flatness, flatness  # noqa: E402
