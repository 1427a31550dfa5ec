"""Learning-rate schedules (DESIGN §4): pure functions of the step.

A schedule is a multiplier s(t) of the optimizer's learning rate: the update from w_t to w_{t+1}
uses ``optimizer.lr * s(t)``, with steps counted from 0. Schedules are evaluated in C++ inside
the training loop; calling one (``s(t)`` with an int or an integer array) gives the same numbers.

================  ==========================================================================
``constant()``    1
``step_decay``    gamma ** (t // period)
``cosine``        final + (1 − final)·½(1 + cos(π t/T)) for t < T, then final
``warmup_cosine`` (t + 1)/W for t < W, then the cosine over the remaining T − W steps
``wsd``           warmup (t + 1)/W, stable 1, then a linear decay over the last D steps that
                  reaches ``final`` at t = T − 1; W = ⌊warmup·T + ½⌋, D = ⌊decay·T + ½⌋
                  (the phases must not overlap: W + D ≤ T)
``one_cycle``     a cosine from 1/div_factor up to 1 over U = max(1, ⌊pct_start·T⌋) steps, then a
                  cosine down to 1/(div_factor·final_div_factor) at T (and after)
``inverse_sqrt``  (t + 1)/W for t < W, then √(W/(t + 1)); W = 0 gives 1/√(t + 1)
================  ==========================================================================

Any Python callable ``f(t) -> float`` is accepted by :func:`landscope.train` too; it is
tabulated once, before the run, for every step up to the budget (8 bytes per step).
"""
from __future__ import annotations

import numpy as np

from . import _validation as val
from ._loader import core as _core

__all__ = ["Schedule", "constant", "step_decay", "cosine", "warmup_cosine", "wsd", "one_cycle", "inverse_sqrt"]


class Schedule:
    """A built-in schedule: ``kind`` and its parameters. Immutable; compare with ``==``; pickles
    by kind and parameters."""

    __slots__ = ("kind", "params", "_s")

    def __init__(self, kind: str, **params):
        self.kind = kind
        self.params = dict(params)
        self._s = _FACTORIES[kind](**self.params)  # C++ checks the values, naming the parameter

    def __call__(self, t):
        """s(t) for an integer step or an integer array of steps (>= 0)."""
        arr = np.asarray(t)
        if arr.dtype == bool or not np.issubdtype(arr.dtype, np.integer):
            raise TypeError(f"t: expected integer steps, got dtype {arr.dtype}")
        if arr.size and arr.min() < 0:
            raise ValueError(f"t: expected steps >= 0, got {arr.min()}")
        out = self._s(np.ascontiguousarray(arr.ravel(), dtype=np.int64)).reshape(arr.shape)
        return float(out) if arr.ndim == 0 else out

    def to_dict(self) -> dict:
        return {"kind": self.kind, **self.params}

    @classmethod
    def from_dict(cls, d: dict) -> "Schedule":
        d = dict(d)
        return cls(d.pop("kind"), **d)

    def __eq__(self, other) -> bool:
        return isinstance(other, Schedule) and self.to_dict() == other.to_dict()

    def __hash__(self):
        return hash(tuple(sorted(self.to_dict().items())))

    def __reduce__(self):
        # Pickled by kind and parameters; the engine's schedule is made again on load.
        return Schedule.from_dict, (self.to_dict(),)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        return f"schedules.{self.kind}({args})"


def constant() -> Schedule:
    """s(t) = 1."""
    return Schedule("constant")


def step_decay(period: int, gamma: float = 0.1) -> Schedule:
    """s(t) = gamma ** (t // period)."""
    return Schedule("step", period=val.whole("period", period), gamma=val.number("gamma", gamma))


def cosine(total: int, final: float = 0.0) -> Schedule:
    """Cosine decay from 1 to ``final`` over ``total`` steps."""
    return Schedule("cosine", total=val.whole("total", total), final=val.number("final", final))


def warmup_cosine(warmup: int, total: int, final: float = 0.0) -> Schedule:
    """Linear warmup over ``warmup`` steps, then cosine decay to ``final`` at ``total``."""
    return Schedule("warmup_cosine", warmup=val.whole("warmup", warmup), total=val.whole("total", total),
                    final=val.number("final", final))


def wsd(total: int, warmup: float = 0.05, decay: float = 0.2, final: float = 0.0) -> Schedule:
    """Warmup–stable–decay with the phase lengths as fractions of ``total``."""
    return Schedule("wsd", total=val.whole("total", total), warmup=val.number("warmup", warmup),
                    decay=val.number("decay", decay), final=val.number("final", final))


def one_cycle(total: int, pct_start: float = 0.3, div_factor: float = 25.0,
              final_div_factor: float = 1e4) -> Schedule:
    """The 1-cycle policy (cosine up, cosine down) as a multiplier of the peak rate."""
    return Schedule("one_cycle", total=val.whole("total", total), pct_start=val.number("pct_start", pct_start),
                    div_factor=val.number("div_factor", div_factor),
                    final_div_factor=val.number("final_div_factor", final_div_factor))


def inverse_sqrt(warmup: int = 0) -> Schedule:
    """Linear warmup, then decay as 1/√t."""
    return Schedule("inverse_sqrt", warmup=val.whole("warmup", warmup))


_FACTORIES = {"constant": _core.Schedule.constant, "step": _core.Schedule.step_decay, "cosine": _core.Schedule.cosine,
              "warmup_cosine": _core.Schedule.warmup_cosine, "wsd": _core.Schedule.wsd,
              "one_cycle": _core.Schedule.one_cycle, "inverse_sqrt": _core.Schedule.inverse_sqrt}


def tabulate(schedule, start: int, stop: int):
    """The core schedule for steps start..stop−1: built-ins as they are, callables tabulated."""
    if schedule is None:
        return constant()._s
    if isinstance(schedule, Schedule):
        return schedule._s
    if not callable(schedule):
        raise TypeError(f"schedule: expected a landscope.schedules.Schedule or a callable f(step), got {schedule!r}")
    val.check_memory(24 * max(stop - start, 0), "schedule: the table of a callable schedule over the run's steps")
    values = np.array([schedule(t) for t in range(start, stop)], dtype=np.float64)
    if values.size and not (np.isfinite(values).all() and (values >= 0).all()):
        bad = int(np.argmax(~(np.isfinite(values) & (values >= 0))))
        raise ValueError(f"schedule: expected finite multipliers >= 0, got {values[bad]!r} at step {start + bad}")
    return _core.Schedule.table(values, start)
