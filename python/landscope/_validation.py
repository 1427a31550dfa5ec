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
    "targets",
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


#: numpy dtype kinds converted to float64: floating, signed and unsigned integer, bool.
_REAL_KINDS = frozenset("fiub")

#: The largest value an ``Index`` (int64) argument of the C++ engine may take here.
MAX_INDEX = 2**62

#: Seeds are uint64 in C++.
MAX_SEED = 2**64 - 1


def _shape(a) -> str:
    return str(tuple(np.shape(a)))


def _as_float_array(name: str, a) -> np.ndarray:
    """``a`` as a C-contiguous, aligned, finite float64 array, converted the way numpy's
    ``np.asarray(a, dtype=float)`` would: floating, integer and boolean dtypes are accepted
    (integers above 2**53 round like numpy's cast); object, complex, string and other dtypes
    raise TypeError naming ``name``."""
    arr = np.asarray(a)
    if arr.dtype.kind not in _REAL_KINDS:
        raise TypeError(f"{name}: expected a floating-point array (integer and bool arrays are converted "
                        f"to float64), got dtype {arr.dtype}")
    if arr.size == 0:
        raise ValueError(f"{name}: expected a non-empty array, got shape {_shape(arr)}")
    arr = np.ascontiguousarray(arr, dtype=np.float64)
    if not arr.flags.aligned:  # e.g. unpickled from a byte buffer on a Dask worker: the engine reads doubles
        arr = arr.copy()
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
    return targets(y, n)[0]


def targets(y, n: int) -> tuple[np.ndarray, bool]:
    """Square-loss targets as a float64 (n, k) array, and whether y was 1-D (k = 1)."""
    arr = _as_float_array("y", y)
    flat = arr.ndim == 1
    if flat:
        arr = arr.reshape(-1, 1)
    if arr.ndim != 2:
        raise ValueError(f"y: expected shape ({n},) or ({n}, k), got {_shape(arr)}")
    if arr.shape[0] != n:
        raise ValueError(f"y: expected {n} rows to match X, got shape {_shape(arr)}")
    return arr, flat


def as_labels(y, n: int, num_classes: Optional[int]) -> tuple[np.ndarray, int]:
    """Cross-entropy labels as int64 (n,), and the number of classes k.

    Labels are integers 0 … k−1: any integer dtype, or a floating-point array whose values are
    all exactly integral (1.0, 2.0; 0.5 raises ValueError). bool, complex, object and string
    arrays raise TypeError. ``num_classes``, when given, is an integer >= 2 (bool rejected) and
    every label must be below it; this is how a test set lacking some class is described.
    Without it k = max(y) + 1 is inferred, but only when every class 0 … max(y) occurs in y:
    labels {1, 2} (class 0 never seen) or one stray label 10**6 raise ValueError asking for
    ``num_classes`` instead of silently creating classes that never occur.
    """
    arr = np.asarray(y)
    kind = arr.dtype.kind
    if kind not in "iuf":
        hint = " (use y.astype(int))" if kind == "b" else ""
        raise TypeError(f"y: cross-entropy labels must be integers 0 … k−1, got dtype {arr.dtype}{hint}")
    if arr.ndim != 1 or arr.shape[0] != n:
        raise ValueError(f"y: expected {n} labels of shape ({n},) to match X, got shape {_shape(arr)}")
    if kind == "f":
        if not np.isfinite(arr).all():
            bad = int(np.argwhere(~np.isfinite(arr))[0][0])
            raise ValueError(f"y: contains NaN or Inf (first at index {bad})")
        frac = arr != np.floor(arr)
        if frac.any():
            i = int(np.argmax(frac))
            raise ValueError(f"y: cross-entropy labels must be integers 0 … k−1, got the non-integral "
                             f"value {arr[i].item()!r} at index {i}")
    # Range checks on the original dtype (no int64 wrap-around for uint64 or huge floats).
    lo, hi = arr.min().item(), arr.max().item()
    if num_classes is not None:
        k = integer("num_classes", num_classes, 2)
        if lo < 0 or hi >= k:
            i = int(np.argmax((arr < 0) | (arr >= k)))
            raise ValueError(f"y: label {_label(arr[i])} is outside [0, {k}) (at index {i}; "
                             f"num_classes = {k})")
        return np.ascontiguousarray(arr, dtype=np.int64), k
    if lo < 0:
        i = int(np.argmax(arr < 0))
        raise ValueError(f"y: label {_label(arr[i])} is outside [0, k) (at index {i}): labels are 0 … k−1")
    if hi + 1 < 2:
        raise ValueError("num_classes: cross-entropy needs at least 2 classes, got 1 (every label is 0); "
                         "pass num_classes to describe data with a single class")
    if hi >= n:
        raise ValueError(f"y: the largest label is {_label(hi)} but there are only {n} samples, so the "
                         f"inferred classes 0 … {_label(hi)} cannot all occur; pass num_classes "
                         f"explicitly (or relabel to 0 … k−1)")
    labels = np.ascontiguousarray(arr, dtype=np.int64)
    present = np.unique(labels)
    k = int(present[-1]) + 1
    if present.size != k:
        missing = int(np.argmax(present != np.arange(present.size)))
        raise ValueError(f"y: inferring num_classes = max(y) + 1 = {k}, but only {present.size} distinct "
                         f"labels occur (class {missing} never does); pass num_classes={k} explicitly "
                         f"if that is intended, or relabel to 0 … k−1")
    return labels, k


def _label(v) -> str:
    """A label for a message: 3.0 prints as 3; a huge float keeps its short form."""
    v = v.item() if isinstance(v, np.generic) else v
    if isinstance(v, float) and abs(v) >= 2**53:
        return repr(v)
    return str(int(v))


def as_widths(name: str, widths) -> list[int]:
    """Layer widths as Python ints in [1, 2**62] (numpy integers accepted, bool rejected)."""
    try:
        out = [_index(w) for w in widths]
    except TypeError:
        raise TypeError(f"{name}: expected a sequence of integers, got {widths!r}") from None
    for w in out:
        if w < 1:
            raise ValueError(f"{name}: every width must be >= 1, got {out}")
        if w > MAX_INDEX:
            raise ValueError(f"{name}: every width must be <= 2**62, got {w}")
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
    """A byte count in GB, or in TB from 1 TB up."""
    if nbytes >= 1e12:
        return f"{nbytes / 1e12:.2f} TB"
    return f"{nbytes / 1e9:.2f} GB"


def check_memory(nbytes: int, what: str) -> None:
    """Raise MemoryError before allocating `nbytes` that the machine does not have."""
    avail = available_memory()
    if nbytes > avail:
        raise MemoryError(f"{what} needs {_gb(nbytes)}, but only {_gb(avail)} of memory is available")


def number(name: str, value) -> float:
    """A real number (bool is not one) as a float, else TypeError naming ``name``. Conversion only:
    the range is the C++ check()'s to judge."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name}: expected a number, got {value!r}")
    return float(value)


def whole(name: str, value) -> int:
    """An integer (bool is not one) that fits the engine's 64-bit steps, else TypeError/ValueError
    naming ``name``. Conversion only: the range is the C++ check()'s to judge."""
    return integer(name, value, -2**62, 2**62)


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
