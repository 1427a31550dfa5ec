"""Symmetric linear operators for landscope's spectral solvers (DESIGN §5).

An :class:`Operator` is an n x n symmetric matrix known only through products with blocks of
vectors. Sources: a model's Hessian, Gauss–Newton matrix or tangent kernel at w
(``model.hessian_operator(w)``, ``model.gauss_newton_operator(w)``,
``model.kernel_operator(w)``), a dense symmetric array, a scipy ``LinearOperator`` or sparse
matrix, or a Python callable with a given size (:func:`as_operator`).

Operators have ``shape``, ``dtype``, ``matvec`` and ``matmat``, so scipy accepts them directly
(``scipy.sparse.linalg.aslinearoperator(op)``, ``scipy.sparse.linalg.eigsh(op)``);
:meth:`Operator.to_scipy` returns a ``LinearOperator`` explicitly.
"""
from __future__ import annotations

import numpy as np

from . import _validation as val
from ._loader import core as _core

__all__ = ["Operator", "as_operator", "symmetric_matrix"]


class Operator:
    """A symmetric n x n operator evaluated by the C++ engine (products release the GIL)."""

    def __init__(self, core_op, kind: str):
        self._op = core_op
        self.kind = kind

    @property
    def size(self) -> int:
        """n."""
        return self._op.size

    @property
    def shape(self) -> tuple[int, int]:
        return (self._op.size, self._op.size)

    dtype = np.dtype(np.float64)

    def matmat(self, X) -> np.ndarray:
        """A X for X of shape (n, b)."""
        X = val._as_float_array("X", X)
        if X.ndim != 2 or X.shape[0] != self.size:
            raise ValueError(f"X: expected shape ({self.size}, b), got {X.shape}")
        return np.ascontiguousarray(self._op.matmat(X))

    def matvec(self, v) -> np.ndarray:
        """A v for v of shape (n,) (or (n, 1), returned with the same shape)."""
        v = val._as_float_array("v", v)
        if v.shape not in ((self.size,), (self.size, 1)):
            raise ValueError(f"v: expected shape ({self.size},), got {v.shape}")
        return self._op.matmat(v.reshape(self.size, 1)).reshape(v.shape)

    rmatvec = matvec  # symmetric
    rmatmat = matmat

    def __matmul__(self, X) -> np.ndarray:
        X = np.asarray(X)
        return self.matvec(X) if X.ndim == 1 else self.matmat(X)

    def to_scipy(self):
        """The operator as a ``scipy.sparse.linalg.LinearOperator`` (needs scipy)."""
        try:
            from scipy.sparse.linalg import LinearOperator
        except ImportError as e:  # pragma: no cover - scipy is an optional dependency
            raise ImportError("to_scipy: scipy is not installed (pip install scipy)") from e
        return LinearOperator(self.shape, matvec=self.matvec, rmatvec=self.matvec, matmat=self.matmat,
                              rmatmat=self.matmat, dtype=np.float64)

    def to_dense(self) -> np.ndarray:
        """The matrix itself, from n products with the identity."""
        n = self.size
        val.check_memory(2 * 8 * n * n, f"to_dense: a dense {n} x {n} matrix")
        return self.matmat(np.eye(n))

    def __repr__(self) -> str:
        return f"Operator({self.kind}, n={self.size})"


def symmetric_matrix(A, name: str = "A", rtol: float = 1e-10) -> np.ndarray:
    """A as a float64 array after checking it: 2-D, square, non-empty, finite and symmetric
    (max|A − Aᵀ| <= rtol · max|A|), in one pass in C++ without temporaries. C- and
    F-contiguous float64 input is not copied."""
    arr = np.asarray(A)
    if arr.dtype == bool or np.issubdtype(arr.dtype, np.integer):
        arr = arr.astype(np.float64)  # as numpy would
    if arr.dtype == object or not np.issubdtype(arr.dtype, np.floating):
        raise TypeError(f"{name}: expected a real floating-point (or integer) array, got dtype {arr.dtype}")
    if arr.ndim != 2 or arr.shape[0] != arr.shape[1] or arr.size == 0:
        raise ValueError(f"{name}: expected a non-empty square (n, n) matrix, got shape {arr.shape}")
    if arr.dtype == np.float64 and arr.flags.f_contiguous and not arr.flags.c_contiguous:
        arr = arr.T  # the same matrix once it is checked to be symmetric
    arr = np.ascontiguousarray(arr, dtype=np.float64)
    asym, scale, finite = _core.check_symmetry(arr)
    if not finite:
        bad = np.argwhere(~np.isfinite(arr))[0]
        raise ValueError(f"{name}: contains NaN or Inf (first at index {tuple(int(i) for i in bad)})")
    if asym > rtol * scale:
        raise ValueError(f"{name}: expected a symmetric matrix, but max|{name} - {name}.T| = {asym:.3g} "
                         f"(max|{name}| = {scale:.3g})")
    return arr


def _check_n(n, size: int) -> None:
    if n is not None and (isinstance(n, bool) or not isinstance(n, (int, np.integer)) or int(n) != size):
        raise ValueError(f"n: {n!r} does not match the operator's size {size}")


def _dense(A, name: str) -> Operator:
    return Operator(_core.dense_operator(symmetric_matrix(A, name)), "dense")


def as_operator(A, n: int | None = None, *, blocks: bool = False, name: str = "A") -> Operator:
    """Any supported source as an :class:`Operator`.

    - an :class:`Operator`: returned as is;
    - a dense array (n, n): must be symmetric (to 1e-10 relative) and finite;
    - a scipy ``LinearOperator`` or sparse matrix: products through ``A @ X``;
    - a callable: ``n`` is required; ``fn(v)`` maps (n,) to (n,), or with ``blocks=True``
      ``fn(X)`` maps (n, b) to (n, b). Outputs are checked for shape and NaN/Inf.
    The operator is assumed symmetric for every source but the dense array. A given ``n``
    must match the size of a sized source. ``name`` is the argument named in errors.
    """
    if isinstance(A, Operator):
        _check_n(n, A.size)
        return A
    if isinstance(A, np.ndarray) or isinstance(A, (list, tuple)):
        op = _dense(A, name)
        _check_n(n, op.size)
        return op
    shape = getattr(A, "shape", None)
    if shape is not None and (hasattr(A, "matmat") or hasattr(A, "tocsr")):  # scipy operator / sparse
        if len(shape) != 2 or shape[0] != shape[1]:
            raise ValueError(f"{name}: expected a square operator, got shape {tuple(shape)}")
        _check_n(n, int(shape[0]))
        mat = A.matmat if hasattr(A, "matmat") else (lambda X: A @ X)
        return Operator(_core.callable_operator(lambda X: mat(X), int(shape[0]), True), "scipy")
    if callable(A):
        if n is None:
            raise ValueError("n: the size of the operator is required for a callable")
        size = val._index(n) if not isinstance(n, bool) else None
        if size is None or size < 1:
            raise ValueError(f"n: expected an operator size >= 1, got {n!r}")
        return Operator(_core.callable_operator(A, size, bool(blocks)), "callable")
    raise TypeError(f"{name}: expected an Operator, a symmetric array, a scipy LinearOperator or a callable, "
                    f"got {type(A).__name__}")
