"""Exact, value-based equality of landscope's results (arrays, dicts, dataclasses).

The result dataclasses hold numpy arrays, on which the ``==`` that ``dataclass`` writes raises
("the truth value of an array is ambiguous"). :class:`ValueEq` gives them an ``==`` that
compares every field that takes part in comparisons: arrays by shape, dtype and contents
(NaN equal to NaN: a NaN in a result means "not computed" or "undefined" in both), dicts by
keys and values, floats exactly. Such results are not hashable (they hold arrays and dicts).
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np

__all__ = ["equal", "ValueEq"]


def equal(a, b) -> bool:
    """Whether ``a`` and ``b`` hold the same values, exactly (see the module docs)."""
    if a is b:
        return True
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        if not (isinstance(a, np.ndarray) and isinstance(b, np.ndarray)):
            return False
        if a.shape != b.shape or a.dtype != b.dtype:
            return False
        if a.dtype.kind in "fc":
            return bool(np.array_equal(a, b, equal_nan=True))
        if a.dtype.kind == "O":
            return all(equal(x, y) for x, y in zip(a.ravel(), b.ravel()))
        return bool(np.array_equal(a, b))
    if isinstance(a, dict) or isinstance(b, dict):
        return (isinstance(a, dict) and isinstance(b, dict) and a.keys() == b.keys()
                and all(equal(a[k], b[k]) for k in a))
    if isinstance(a, (list, tuple)) or isinstance(b, (list, tuple)):
        return (type(a) is type(b) and len(a) == len(b) and all(equal(x, y) for x, y in zip(a, b)))
    if isinstance(a, (float, np.floating)) and isinstance(b, (float, np.floating)):
        return a == b or (math.isnan(a) and math.isnan(b))
    try:
        return bool(a == b)
    except (TypeError, ValueError):
        return False


class ValueEq:
    """``==`` over a dataclass's compared fields with :func:`equal` (same class required)."""

    __slots__ = ()

    def __eq__(self, other) -> bool:
        if self is other:
            return True
        if type(self) is not type(other):
            return NotImplemented
        return all(equal(getattr(self, f.name), getattr(other, f.name))
                   for f in dataclasses.fields(self) if f.compare)

    __hash__ = None  # type: ignore[assignment]  # holds arrays and dicts
