"""Input validation and conversion: every public entry point goes through here once."""
from __future__ import annotations

import math
import numbers
import operator
import os
from typing import Optional

import numpy as np

__all__ = [
    "as_data",
    "as_targets",
    "as_labels",
    "as_params",
    "as_directions",
    "as_samples",
    "as_widths",
    "check_memory",
    "available_memory",
    "integer",
    "real",
]


def _shape(a) -> str:
    return str(tuple(np.shape(a)))


def _as_float_array(name: str, a) -> np.ndarray:
    arr = np.asarray(a)
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.floating)):
        raise TypeError(f"{name}: expected a floating-point array, got dtype {arr.dtype}")
    if arr.size == 0:
        raise ValueError(f"{name}: expected a non-empty array, got shape {_shape(arr)}")
    arr = np.ascontiguousarray(arr, dtype=np.float64)
    if not np.isfinite(arr).all():
        bad = np.argwhere(~np.isfinite(arr))[0]
        raise ValueError(f"{name}: contains NaN or Inf (first at index {tuple(int(i) for i in bad)})")
    return arr


def as_data(X) -> np.ndarray:
    """X as a C-contiguous float64 (n, d) array."""
    arr = _as_float_array("X", X)
    if arr.ndim != 2:
        raise ValueError(f"X: expected a 2-D (n, d) array, got shape {_shape(arr)}")
    return arr


def as_targets(y, n: int) -> np.ndarray:
    """Square-loss targets as a float64 (n, k) array (a 1-D y means k = 1)."""
    arr = _as_float_array("y", y)
    if arr.ndim == 1:
        arr = arr.reshape(-1, 1)
    if arr.ndim != 2:
        raise ValueError(f"y: expected shape ({n},) or ({n}, k), got {_shape(arr)}")
    if arr.shape[0] != n:
        raise ValueError(f"y: expected {n} rows to match X, got shape {_shape(arr)}")
    return arr


def as_labels(y, n: int, num_classes: Optional[int]) -> tuple[np.ndarray, int]:
    """Cross-entropy labels as int64 (n,), and the number of classes."""
    arr = np.asarray(y)
    if arr.dtype == bool or not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"y: cross-entropy labels must be integers, got dtype {arr.dtype}")
    if arr.ndim != 1 or arr.shape[0] != n:
        raise ValueError(f"y: expected {n} labels of shape ({n},) to match X, got shape {_shape(arr)}")
    arr = np.ascontiguousarray(arr, dtype=np.int64)
    k = int(num_classes) if num_classes is not None else int(arr.max()) + 1
    if k < 2:
        raise ValueError(f"num_classes: cross-entropy needs at least 2 classes, got {k}")
    if arr.min() < 0 or arr.max() >= k:
        bad = int(arr[(arr < 0) | (arr >= k)][0])
        raise ValueError(f"y: label {bad} is outside [0, {k})")
    return arr, k


def as_widths(name: str, widths) -> list[int]:
    try:
        out = [_index(w) for w in widths]
    except TypeError:
        raise TypeError(f"{name}: expected a sequence of integers, got {widths!r}") from None
    for w in out:
        if w < 1:
            raise ValueError(f"{name}: every width must be >= 1, got {out}")
    return out


def _index(v) -> int:
    if isinstance(v, (bool, np.bool_)):
        raise TypeError("bool is not a width")
    return operator.index(v)


def as_params(w, P: int, name: str = "w") -> np.ndarray:
    arr = _as_float_array(name, w)
    if arr.shape != (P,):
        raise ValueError(f"{name}: expected shape ({P},), got {_shape(arr)}")
    return arr


def as_directions(v, P: int, name: str = "v") -> tuple[np.ndarray, bool]:
    """v of shape (P,) or (P, b) as a float64 (P, b) array, and whether it was 1-D."""
    arr = _as_float_array(name, v)
    if arr.ndim == 1 and arr.shape[0] == P:
        return arr.reshape(P, 1), True
    if arr.ndim == 2 and arr.shape[0] == P:
        return arr, False
    raise ValueError(f"{name}: expected shape ({P},) or ({P}, b), got {_shape(arr)}")


def as_samples(samples, n: int) -> Optional[np.ndarray]:
    if samples is None:
        return None
    arr = np.asarray(samples)
    if arr.dtype == bool or not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"samples: expected an integer index array, got dtype {arr.dtype}")
    if arr.ndim != 1:
        raise ValueError(f"samples: expected a 1-D index array, got shape {_shape(arr)}")
    if arr.size == 0:
        raise ValueError("samples: expected at least one index, got an empty array")
    arr = np.ascontiguousarray(arr, dtype=np.int64)
    if arr.min() < 0 or arr.max() >= n:
        bad = int(arr[(arr < 0) | (arr >= n)][0])
        raise ValueError(f"samples: index {bad} is out of range [0, {n})")
    return arr


def available_memory() -> int:
    """Bytes of memory available to a new allocation (MemAvailable on Linux)."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 1 << 62


def _gb(nbytes: float) -> str:
    return f"{nbytes / 1e9:.2f} GB"


def check_memory(nbytes: int, what: str) -> None:
    """Raise MemoryError before allocating `nbytes` that the machine does not have."""
    avail = available_memory()
    if nbytes > avail:
        raise MemoryError(f"{what} needs {_gb(nbytes)}, but only {_gb(avail)} of memory is available")


def integer(name: str, value, lo: int, hi: int = 2**62) -> int:
    """An integer in [lo, hi] (bool is not one), else TypeError/ValueError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name}: expected an integer, got {value!r}")
    if value < lo:
        raise ValueError(f"{name}: expected an integer >= {lo}, got {value}")
    if value > hi:
        raise ValueError(f"{name}: expected an integer <= {hi}, got {value}")
    return int(value)


def real(name: str, value, lo: float = -math.inf, hi: float = math.inf, *, open_lo: bool = False,
         open_hi: bool = False) -> float:
    """A finite real number in the interval, else TypeError/ValueError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name}: expected a number, got {value!r}")
    v = float(value)
    inside = (v > lo if open_lo else v >= lo) and (v < hi if open_hi else v <= hi)
    if not (math.isfinite(v) and inside):
        low = f"{lo:g} {'<' if open_lo else '<='} " if lo > -math.inf else ""
        high = f" {'<' if open_hi else '<='} {hi:g}" if hi < math.inf else ""
        if low and not high:
            cond = f"{name} {'>' if open_lo else '>='} {lo:g}"
        else:
            cond = f"{low}{name}{high}" if (low or high) else "a finite value"
        raise ValueError(f"{name}: expected {cond}, got {value!r}")
    return v
