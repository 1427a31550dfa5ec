"""Training runs that record the geometry of DESIGN §1 as they go (:func:`train`), and their
record (:class:`Trajectory`): saved, loaded and continued bit-identically."""
from __future__ import annotations

import json
import math
import numbers
import os
import time
import zipfile
from typing import Optional

import numpy as np

from . import _validation as val
from . import schedules as _schedules
from ._equality import equal
from ._loader import core as _core
from . import _progress
from .models import Model
from .optim import Optimizer

__all__ = ["train", "Trajectory", "TrainingInterrupted", "COLUMNS", "DIAGNOSTICS"]

#: Columns of every trajectory, one entry per recorded row.
COLUMNS = ("step", "loss", "grad_norm", "pl", "lr", "distance")
#: Quantities ``record=`` can ask for: columns (NaN in rows that do not compute them), and
#: ``params`` (copies of w in ``Trajectory.params``). The engine's table of diagnostics is the
#: source (``balancedness`` is ProductToy's own).
DIAGNOSTICS = tuple(_core.diagnostics()) + ("balancedness", "params")
#: The keys of a run's state that are not a diagnostic's arrays.
_BASE_STATE = ("step", "w", "w0", "loss0", "ema", "swa_sum", "swa_count", "stop_products")
_FORMAT = "landscope.trajectory"


class Trajectory:
    """The record of a training run.

    Columns (1-D arrays, one entry per recorded row; ``traj.loss`` or ``traj["loss"]``):

    - ``step``: t; rows are taken every ``record_every`` steps and where the run stopped
      (converged, diverged or at the budget; an interrupted run has no row at its current step,
      which the continued run records);
    - ``loss``, ``grad_norm``: the full-batch L(w_t) and ‖∇L(w_t)‖ (before clipping);
    - ``pl``: the PL ratio ‖∇L‖²/(2(L − L*)) (NaN where L ≤ L*);
    - ``lr``: the rate of the update from w_t (NaN on a final row, where no update follows);
    - ``distance``: ‖w_t − w_0‖;
    - on request: ``sharpness`` λ_max(H), ``kernel_min`` λ_min(K), ``kernel_drift``
      ‖K_t − K_0‖_F/‖K_0‖_F, ``hessian_norm`` ‖H‖_F, ``grad_cosine`` the cosine between this
      row's full-batch gradient and the previous such row's (near −1 when GD oscillates across
      a valley, the edge-of-stability signature), ``balancedness`` max x / min x (ProductToy);
      present only when recorded, NaN in rows where they were not computed.

    Also: ``params`` (rows x P) at ``params_step``, when recorded; ``w`` (the last iterate),
    ``w0``, ``ema`` and ``swa`` (averages, or None), ``status`` ("converged", "diverged",
    "budget" or "interrupted"), ``message``, ``current_step`` (w is w_current_step), ``elapsed``
    (seconds) and ``config`` (the optimizer, schedule and options of the run).
    """

    def __init__(self, columns: dict, params: np.ndarray, params_step: np.ndarray, state: dict,
                 optimizer_state: dict, status: str, message: str, config: dict, sharpness_products: int,
                 elapsed: float):
        self.columns = columns
        self.params = params
        self.params_step = params_step
        self._state = state
        self._optimizer_state = optimizer_state
        self.status = status
        self.message = message
        self.config = config
        self.sharpness_products = int(sharpness_products)
        self.elapsed = float(elapsed)

    # -- access ------------------------------------------------------------------------------
    def __getitem__(self, name: str) -> np.ndarray:
        return self.columns[name]

    def __getattr__(self, name: str):
        columns = self.__dict__.get("columns", {})
        if name in columns:
            return columns[name]
        raise AttributeError(f"'Trajectory' has no attribute or column {name!r}")

    def __len__(self) -> int:
        return len(self.columns["step"])

    def __eq__(self, other) -> bool:
        """Equal records: columns, params, state, optimizer state, status, message, config and
        sharpness products (not ``elapsed``, the time the run took)."""
        if self is other:
            return True
        if not isinstance(other, Trajectory):
            return NotImplemented
        return all(equal(getattr(self, k), getattr(other, k)) for k in
                   ("columns", "params", "params_step", "_state", "_optimizer_state", "status", "message", "config",
                    "sharpness_products"))

    __hash__ = None  # type: ignore[assignment]

    @property
    def current_step(self) -> int:
        """The run's current step t: ``w`` is w_t (a continued run starts there)."""
        return int(self._state["step"])

    @property
    def w(self) -> np.ndarray:
        return self._state["w"]

    @property
    def w0(self) -> np.ndarray:
        return self._state["w0"]

    @property
    def ema(self) -> Optional[np.ndarray]:
        return self._state.get("ema")

    @property
    def swa(self) -> Optional[np.ndarray]:
        """The average of the iterates SWA collected, or None (none collected / SWA off)."""
        count = int(self._state.get("swa_count", 0))
        total = self._state.get("swa_sum")
        return None if total is None or count == 0 else total / count

    @property
    def swa_count(self) -> int:
        return int(self._state.get("swa_count", 0))

    def to_dict(self) -> dict:
        """The columns as a dict of arrays (plus ``params``/``params_step`` if taken)."""
        out = {k: v.copy() for k, v in self.columns.items()}
        if len(self.params_step):
            out["params"] = self.params.copy()
            out["params_step"] = self.params_step.copy()
        return out

    def to_pandas(self):
        """The recorded columns as a pandas DataFrame indexed by step (needs pandas)."""
        try:
            import pandas as pd
        except ImportError as e:  # pragma: no cover - depends on the environment
            raise ImportError("Trajectory.to_pandas needs pandas: pip install pandas") from e
        cols = {k: v for k, v in self.columns.items() if k != "step"}
        return pd.DataFrame(cols, index=pd.Index(self.columns["step"], name="step"))

    def __repr__(self) -> str:
        if len(self):
            span = f"loss {self.loss[0]:.3g} → {self.loss[-1]:.3g}"
        else:
            span = "no rows"
        return f"Trajectory(status={self.status!r}, current_step={self.current_step}, rows={len(self)}, {span})"

    def plot(self, **kw):
        """The run's columns against the step: :func:`landscope.plot.trajectory` (needs
        matplotlib: ``pip install 'landscope[plot]'``). Returns the Figure."""
        from . import plot

        return plot.trajectory(self, **kw)

    # -- files -------------------------------------------------------------------------------
    def save(self, path) -> None:
        """Writes one ``.npz`` file (numpy appends ``.npz`` to a path without it): the arrays,
        and the metadata as JSON under ``metadata``."""
        arrays = {f"col_{k}": v for k, v in self.columns.items()}
        arrays["params"] = self.params
        arrays["params_step"] = self.params_step
        scalars = {}
        for k, v in self._state.items():
            if isinstance(v, np.ndarray):
                arrays[f"state_{k}"] = v
            elif v is not None:
                scalars[k] = v
        for k, v in self._optimizer_state.items():
            arrays[f"opt_{k}"] = v
        meta = {"format": _FORMAT, "version": 1, "status": self.status, "message": self.message,
                "config": self.config, "state": scalars, "sharpness_products": self.sharpness_products,
                "elapsed": self.elapsed}
        arrays["metadata"] = np.array(json.dumps(meta, allow_nan=True))
        np.savez(path, **arrays)

    @classmethod
    def load(cls, path) -> "Trajectory":
        """Reads a file written by :meth:`save` (``path`` with or without ``.npz``)."""
        path = os.fspath(path)
        if not os.path.exists(path) and not path.endswith(".npz") and os.path.exists(path + ".npz"):
            path += ".npz"
        try:
            return cls._read(path)
        except (OSError, EOFError, KeyError, TypeError, ValueError, zipfile.BadZipFile) as e:
            if isinstance(e, FileNotFoundError):
                raise
            raise ValueError(f"path: {path!r} is not a readable saved landscope Trajectory ({e})") from None

    @classmethod
    def _read(cls, path: str) -> "Trajectory":
        with open(path, "rb") as fh, np.load(fh, allow_pickle=False) as f:  # closed on errors too
            if "metadata" not in f.files:
                raise ValueError("no metadata")
            meta = json.loads(str(f["metadata"]))
            if meta.get("format") != _FORMAT:
                raise ValueError(f"format {meta.get('format')!r}")
            columns = {k[4:]: f[k] for k in f.files if k.startswith("col_")}
            state = dict(meta["state"])
            for k in f.files:
                if k.startswith("state_"):
                    state[k[6:]] = f[k]
            for k in ("ema", "swa_sum"):
                state.setdefault(k, None)
            opt_state = {k[4:]: f[k] for k in f.files if k.startswith("opt_")}
            return cls(columns, f["params"], f["params_step"], state, opt_state, meta["status"], meta["message"],
                       meta["config"], meta["sharpness_products"], meta["elapsed"])


# ------------------------------------------------------------------------------------ helpers
def _record_spec(record, record_every: int, model: Model) -> dict:
    """record= as {name: interval} for the names asked for. The intervals are converted here and
    judged by the engine (TrainOptions.check)."""
    if record is None:
        record = ()
    if isinstance(record, str):
        record = (record,)
    try:
        spec = dict(record) if isinstance(record, dict) else {name: record_every for name in record}
    except TypeError:
        raise TypeError(f"record: expected names from {DIAGNOSTICS} or a dict name -> interval, "
                        f"got {record!r}") from None
    known = tuple(_core.diagnostics()) + tuple(model._m.diagnostics) + ("params",)
    for name, every in spec.items():
        if name not in DIAGNOSTICS:
            raise ValueError(f"record: unknown quantity {name!r}, expected some of {DIAGNOSTICS}")
        if name not in known:
            raise ValueError(f"record: {name!r} is only defined for models that provide it "
                             f"({type(model).__name__} provides {known})")
        if isinstance(every, bool) or not isinstance(every, numbers.Integral):
            raise ValueError(f"record: the interval of {name!r} must be an integer, got {every!r}")
        val.whole(f"record: the interval of {name!r}", every)
    return {name: int(every) for name, every in spec.items()}


def _swa_spec(swa) -> tuple[int, int]:
    if swa is None:
        return -1, 1
    if isinstance(swa, tuple) and len(swa) == 2:
        return val.integer("swa", swa[0], 0), val.integer("swa", swa[1], 1)
    if isinstance(swa, numbers.Integral) and not isinstance(swa, bool):
        return val.integer("swa", swa, 0), 1
    raise TypeError(f"swa: expected a start step or a (start, every) pair, got {swa!r}")


def _shown(loss: float, grad_norm: float, status: str = "") -> str:
    """The bar's postfix: the last loss and gradient norm (when known), and why the run stopped
    short of its budget."""
    parts = [] if math.isnan(loss) else [f"loss {loss:.4e}, |grad| {grad_norm:.3e}"]
    return ", ".join(parts + ([status] if status not in ("", "budget") else []))


def _display(bar, step: int, steps: int, loss: float, grad_norm: float) -> bool:
    """The engine's progress callback (about every 0.25 s): moves ``bar`` to ``step``."""
    bar.set_postfix_str(_shown(loss, grad_norm), refresh=False)
    bar.update(step - bar.n)
    return True


# -------------------------------------------------------------------------------------- train
class _Unset:
    def __repr__(self) -> str:
        return "<as the resumed run, else the default>"


_UNSET = _Unset()
_ENGINE = _core.TrainOptions()  # the engine's defaults, written once in train.hpp / diagnostic.hpp
_DEFAULTS = dict(schedule=None, clip_norm=None, ema=None, swa=None, record_every=_ENGINE.record_every, record=(),
                 loss_star=_ENGINE.loss_star, tol=None, blowup=_ENGINE.blowup,
                 sharpness_tol=_ENGINE.recorder.sharpness_tol)


def _saved_arguments(traj: Trajectory) -> dict:
    """The keyword arguments of the run that made ``traj``."""
    o = traj.config["options"]
    sched = traj.config["schedule"]
    if sched == "callable":
        sched = _UNSET  # cannot be restored: must be passed again
    elif sched is not None:
        sched = _schedules.Schedule.from_dict(sched)
    return dict(schedule=sched, clip_norm=o["clip_norm"] or None, ema=o["ema_decay"] or None,
                swa=None if o["swa_start"] < 0 else (o["swa_start"], o["swa_every"]),
                record_every=o["record_every"], record={k: o[k] for k in DIAGNOSTICS if o.get(k)},
                loss_star=o["loss_star"], tol=None if o["tol"] < 0 else o["tol"], blowup=o["blowup"],
                sharpness_tol=o["sharpness_tol"])


def _model_signature(model: Model) -> dict:
    """What a resumed run must agree on: the class, P, n, k and the configuration."""
    config = model._config if model._config is not None else {"d": getattr(model, "d", None)}
    config = {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in config.items()}
    return {"class": type(model).__name__, "num_params": model.num_params, "num_samples": model.num_samples,
            "output_dim": model.output_dim, "config": config}


def _check_resumable(model: Model, resume: "Trajectory") -> None:
    """ValueError naming what differs between ``model`` and the model of the saved run, or a
    saved state array of the wrong shape."""
    saved, now = resume.config.get("model", {}), _model_signature(model)
    names = {"class": "model class", "num_params": "parameter count P", "num_samples": "sample count n",
             "output_dim": "output count k"}
    for key, what in names.items():
        if key in saved and saved[key] != now[key]:
            raise ValueError(f"resume: the run was made with {what} {saved[key]!r}, the model has {now[key]!r}")
    for key, value in saved.get("config", {}).items():
        if now["config"].get(key) != value:
            raise ValueError(f"resume: the run's model had {key}={value!r}, this model has "
                             f"{key}={now['config'].get(key)!r}")
    P, N = model.num_params, model.num_outputs
    shapes = {"w": (P,), "w0": (P,), "ema": (P,), "swa_sum": (P,), "sharpness_vector": (P,),
              "kernel_vector": (N,), "kernel0": (N, N), "grad_cosine_previous": (P,)}
    for key, shape in shapes.items():
        value = resume._state.get(key)
        if value is not None and np.size(value) and np.size(value) != np.prod(shape):
            raise ValueError(f"resume: the saved state {key!r} has shape {np.shape(value)}, expected {shape} "
                             f"for this model (P = {P}, n·k = {N})")


def train(model: Model, w0, optimizer: Optional[Optimizer], steps: int, *, schedule=_UNSET, clip_norm=_UNSET,
          ema=_UNSET, swa=_UNSET, record_every=_UNSET, record=_UNSET, loss_star=_UNSET, tol=_UNSET,
          blowup=_UNSET, sharpness_tol=_UNSET, resume: Optional[Trajectory] = None,
          progress: Optional[bool] = None) -> Trajectory:
    """Trains ``model`` from ``w0`` in a C++ loop and returns the recorded :class:`Trajectory`.

    Parameters
    ----------
    model, w0 : the model and the start (w0 may be None when resuming)
    optimizer : a :mod:`landscope.optim` optimizer (None when resuming: the saved one)
    steps : the step budget of the whole run, counted from step 0 (also when resuming)
    schedule : a :mod:`landscope.schedules` schedule or a callable f(step) -> multiplier of lr
    clip_norm : clip the gradient to this global norm before each update
    ema : decay d of an exponential moving average of the iterates, ema ← d·ema + (1 − d)·w
    swa : start step s (or ``(s, every)``) of a uniform average of the iterates w_t, t ≥ s
    record_every : a row every that many steps (and a row where the run stops)
    record : names from :data:`DIAGNOSTICS` (computed every ``record_every`` steps), or a dict
        name -> interval (a multiple of record_every). ``sharpness`` uses Lanczos started from
        the previous top eigenvector, to a residual of ``sharpness_tol``·max(|λ|, ‖H q‖), and
        records NaN if that takes more than ``sharpness_max_products`` products (the engine's
        RecorderSettings: 500); ``kernel_min`` uses the dense kernel for n·k ≤ ``dense_kernel_max``
        (2048) and Lanczos beyond (slow when K is ill-conditioned); ``kernel_drift`` and
        ``hessian_norm`` form K and H densely.
    loss_star : L* for the PL ratio and the convergence test
    tol : stop with status "converged" once L − L* ≤ tol (the full-batch loss; minibatch runs
        test it at recorded rows)
    blowup : stop with status "diverged" once L > blowup · max(L_0, 1); a NaN or Inf loss or
        gradient stops the run at once too (minibatch runs test the batch loss between recorded
        rows). The EMA and SWA averages leave out the iterate that diverged
    resume : a Trajectory (e.g. from :meth:`Trajectory.load`) to continue. Arguments not given
        are those of the resumed run (a callable schedule must be passed again); the result is
        then bit-identical to an uninterrupted run. Arguments may also change (a new schedule,
        say); an EMA or SWA switched on at a resume starts from the current iterate
    progress : a progress bar on stderr (steps done of ``steps``, loss, ‖∇L‖, and at the end why
        the run stopped). None (default): only when stderr is a terminal, redrawn in place; True:
        also elsewhere, as whole lines every few seconds; False: never

    Raises
    ------
    TrainingInterrupted
        on Ctrl-C (a KeyboardInterrupt): the run stops cleanly within about a second and the
        exception's ``trajectory`` (status "interrupted") holds everything recorded so far;
        ``train(model, None, None, steps, resume=e.trajectory)`` continues it bit-identically.
        A script that does not catch it stops, as on any other Ctrl-C.
    """
    if not isinstance(model, Model):
        raise TypeError(f"model: expected a landscope model, got {type(model).__name__}")
    P = model.num_params
    if resume is not None:
        if not isinstance(resume, Trajectory):
            raise TypeError(f"resume: expected a Trajectory, got {type(resume).__name__}")
        if resume.status == "diverged":
            raise ValueError(f"resume: the run diverged ({resume.message}); there is nothing to continue")
        _check_resumable(model, resume)
        saved = Optimizer.from_dict(resume.config["optimizer"])
        if optimizer is None:
            optimizer = saved
        elif type(optimizer) is not type(saved):
            raise ValueError(f"optimizer: the run was made with {saved!r}, got {optimizer!r}")
        if w0 is not None and not np.array_equal(val.as_params(w0, P, "w0"), resume.w0):
            raise ValueError("w0: differs from the resumed run's w0 (pass None)")
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"optimizer: expected a landscope.optim optimizer, got {type(optimizer).__name__}")
    given = dict(schedule=schedule, clip_norm=clip_norm, ema=ema, swa=swa, record_every=record_every,
                 record=record, loss_star=loss_star, tol=tol, blowup=blowup, sharpness_tol=sharpness_tol)
    fallback = _saved_arguments(resume) if resume is not None else _DEFAULTS
    args = {k: fallback[k] if v is _UNSET else v for k, v in given.items()}
    if args["schedule"] is _UNSET:
        raise ValueError("schedule: the resumed run used a callable schedule; pass it again")
    schedule, clip_norm, ema, swa = args["schedule"], args["clip_norm"], args["ema"], args["swa"]
    record_every, record, loss_star, tol = args["record_every"], args["record"], args["loss_star"], args["tol"]
    blowup, sharpness_tol = args["blowup"], args["sharpness_tol"]
    steps = val.integer("steps", steps, 0)
    record_every = val.integer("record_every", record_every, 1)
    opts = _core.TrainOptions()
    opts.record = _record_spec(record, record_every, model)
    intervals = {name: opts.record.get(name, 0) for name in DIAGNOSTICS}
    swa_start, swa_every = _swa_spec(swa)
    opts.steps, opts.record_every = steps, record_every
    opts.clip_norm = 0.0 if clip_norm is None else val.number("clip_norm", clip_norm)
    opts.ema = 0.0 if ema is None else val.number("ema", ema)
    opts.swa_start, opts.swa_every = swa_start, swa_every
    opts.loss_star = val.number("loss_star", loss_star)
    opts.tol = -1.0 if tol is None else val.number("tol", tol)
    opts.blowup = val.number("blowup", blowup)
    opts.recorder.sharpness_tol = val.number("sharpness_tol", sharpness_tol)
    if clip_norm is not None and opts.clip_norm <= 0:
        raise ValueError(f"clip_norm: expected a norm > 0 (None: no clipping), got {clip_norm!r}")
    if ema is not None and not 0 < opts.ema < 1:
        raise ValueError(f"ema: expected a decay in (0, 1) (None: off), got {ema!r}")
    if tol is not None and not opts.tol >= 0:
        raise ValueError(f"tol: expected a tolerance >= 0 (None: off), got {tol!r}")
    opts.check()  # the engine's check of every option, before any work
    options = dict(steps=steps, record_every=record_every, clip_norm=opts.clip_norm, ema_decay=opts.ema,
                   swa_start=swa_start, swa_every=swa_every, loss_star=opts.loss_star, tol=opts.tol,
                   blowup=opts.blowup, sharpness_tol=opts.recorder.sharpness_tol,
                   sharpness_max_products=opts.recorder.sharpness_max_products, **intervals)
    for name, every in opts.record.items():
        if name != "params":
            val.check_memory(_core.diagnostic_memory(model._m, name, opts.recorder), f"record: {name!r}")
    extra = sum(1 for k in DIAGNOSTICS[:-1] if intervals[k])
    val.check_memory(8 * (len(COLUMNS) + extra) * 2 * (steps // record_every + 2),
                     "the trajectory's rows (with the copy returned to Python)")
    if intervals["params"]:
        val.check_memory(8 * P * (steps // intervals["params"] + 2), "record: 'params' (a copy of w per row)")

    core_opt = optimizer._build()
    if resume is None:
        w0 = val.as_params(w0, P, "w0")
        state = dict(step=0, w=w0.copy(), w0=w0.copy(), loss0=math.nan, ema=None, swa_sum=None, swa_count=0)
        previous, keep, prev_products, prev_elapsed = None, 0, 0, 0.0
    else:
        state = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in resume._state.items()}
        if steps < state["step"]:
            raise ValueError(f"steps: the budget {steps} is below the resumed run's step {state['step']}")
        previous = resume
        # A row at the current step (where the run stopped) is retaken, with its sharpness products.
        keep = int(np.searchsorted(resume.columns["step"], state["step"]))
        stopped = resume._state.get("stop_products") or 0
        stopped = stopped.get("sharpness", 0) if isinstance(stopped, dict) else int(stopped)
        prev_products = resume.sharpness_products - stopped
        prev_elapsed = resume.elapsed
    opts.schedule = _schedules.tabulate(schedule, state["step"], steps)
    core_opt.reset(P)
    if previous is not None:
        try:
            core_opt.set_state(dict(previous._optimizer_state), P)
        except ValueError as e:
            raise ValueError(f"resume: the saved optimizer state does not fit: {e}") from None

    bar = _progress.bar("train", steps, progress=progress, unit="steps", initial=state["step"])
    start = time.perf_counter()
    core_state = {k: v for k, v in state.items() if k in _BASE_STATE}
    core_state["diagnostics"] = {k: np.ravel(v) for k, v in state.items() if k not in _BASE_STATE and v is not None}
    try:
        status, message, rows, params, params_step, state, products = _core.train(
            model._m, core_opt, core_state, opts, None if bar.disable else (lambda *p: _display(bar, *p)))
        if len(rows["step"]):
            bar.set_postfix_str(_shown(rows["loss"][-1], rows["grad_norm"][-1], status), refresh=False)
        bar.update(state["step"] - bar.n)
    finally:
        bar.close()
    elapsed = time.perf_counter() - start
    state.update(state.pop("diagnostics"))
    if state.get("kernel0") is not None:
        state["kernel0"] = state["kernel0"].reshape(model.num_outputs, model.num_outputs)
    products = products.get("sharpness", 0)
    rows = {k: rows[k] for k in COLUMNS + DIAGNOSTICS if k in rows}
    if previous is not None:
        old = previous.columns
        names = [k for k in COLUMNS + DIAGNOSTICS if k in rows or k in old]
        nan_new, nan_old = np.full(len(rows["step"]), np.nan), np.full(keep, np.nan)
        rows = {k: np.concatenate([old[k][:keep] if k in old else nan_old, rows.get(k, nan_new)]) for k in names}
        pkeep = int(np.searchsorted(previous.params_step, previous.current_step))
        params = np.concatenate([previous.params[:pkeep], params]) if len(previous.params_step) else params
        params_step = np.concatenate([previous.params_step[:pkeep], params_step])
    config = {
        "optimizer": optimizer.to_dict(),
        "schedule": schedule.to_dict() if isinstance(schedule, _schedules.Schedule) else
                    (None if schedule is None else "callable"),
        "options": options,
        "model": _model_signature(model),
    }
    traj = Trajectory(rows, params, params_step, state, dict(core_opt.state()), status, message, config,
                      prev_products + products, prev_elapsed + elapsed)
    if status == "interrupted":
        raise TrainingInterrupted(traj)
    return traj


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C during :func:`train`. ``trajectory`` is the partial run (status "interrupted"),
    which ``train(..., resume=trajectory)`` continues as if nothing had happened."""

    def __init__(self, trajectory: Trajectory):
        super().__init__(f"training {trajectory.message}; the partial run is in .trajectory")
        self.trajectory = trajectory

    def __reduce__(self):  # the constructor takes the trajectory, not the message
        return type(self), (self.trajectory,)
