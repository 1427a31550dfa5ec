"""The model families of landscope (DESIGN §3), with exact derivatives computed in C++.

Every model holds its data, a flat float64 parameter vector layout (``unflatten`` names the
blocks) and answers ``loss``, ``gradient``, ``loss_and_gradient``, ``outputs``, ``residuals``,
``jacobian``, ``tangent_kernel``, ``jvp``, ``vjp``, ``hvp``, ``gauss_newton_vp``, ``hessian``
and ``hessian_parts`` exactly (no finite differences), and gives its Hessian, Gauss–Newton
matrix and tangent kernel as operators for the spectral solvers. Calls release the GIL and run on
``landscope.get_num_threads()`` threads.

Models remember their configuration: ``model.with_data(X, y)`` is the same architecture and
parameter layout on other data (a test set), and ``model.predict(w, X)`` evaluates F(w) on new
inputs. Models pickle by their class, data and configuration (the engine's model is rebuilt on
load), so they travel to multiprocessing, joblib and Dask workers; two models are ``==`` when
their class, configuration and data are equal (they then compute the same numbers). Array arguments are converted like ``np.asarray(a, dtype=float)``: integer and bool
arrays become float64; object, complex and string arrays raise TypeError.
"""
from __future__ import annotations

from typing import Optional, Sequence

import numpy as np

from . import _validation as val
from ._equality import equal
from ._loader import core as _core
from .operators import Operator

__all__ = ["Model", "Point", "LeastSquares", "DeepLinear", "ProductToy", "ShallowNet", "MLP"]

_ACTIVATIONS = ("identity", "tanh", "sigmoid", "softplus", "gelu", "silu", "relu")


_NO_LABELS = np.zeros(0, dtype=np.int64)

#: Model and activation memory up to this many bytes is not checked against the free memory
#: (the check reads /proc/meminfo, which costs more than a small model's gradient).
_PASS_CHECK_BYTES = 1 << 26


def _check_model_size(name: str, P: int, n: int, d: int, k: int) -> None:
    """MemoryError before building a model whose parameter vector cannot be held.

    Counts w and one gradient (each P float64: ``init`` returns one, ``gradient`` another) plus
    the model's two copies of X and Y (the engine's, and the one kept for pickling); sizes up to
    64 MB are not checked. P is a Python int, so
    width products never overflow here; beyond 2**60 parameters is refused even where the free
    memory cannot be read.
    """
    nbytes = 8 * (2 * P + 2 * n * (d + k))
    if nbytes <= _PASS_CHECK_BYTES:
        return
    data = f", plus the model's copies of the {n} x {d} data," if d else ""
    what = f"{name}: w and a gradient for P = {P} parameters{data}"
    if P > 2**60:
        raise MemoryError(f"{what} needs {val._gb(nbytes)}, more than any machine can address")
    val.check_memory(nbytes, what)


def _private(a: np.ndarray, given) -> np.ndarray:
    """``a`` (a validated conversion of the caller's ``given``) as a read-only array of the
    model's own: copied when it is, or may be a view of, the caller's array (which may change
    later), so a pickled model carries the data it was built from."""
    if isinstance(given, np.ndarray) and np.may_share_memory(a, given):
        a = a.copy()
    a.flags.writeable = False
    return a


def _rebuild(cls, X, y, config):
    """Unpickling: the model of class ``cls`` built again from its data and configuration."""
    return cls(X, y, **config)


def _engine_layout(arr: np.ndarray) -> bool:
    """A non-empty 2-D float64 array the engine reads in place (column-major and aligned): it is
    passed without a copy, and the engine checks its shape and NaN/Inf itself."""
    return (arr.ndim == 2 and arr.dtype == np.float64 and arr.flags.f_contiguous and arr.flags.aligned
            and arr.size > 0)


def _choice(name: str, value, choices) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{name}: expected a string, one of {choices}, got {value!r}")
    if value not in choices:
        raise ValueError(f"{name}: expected one of {choices}, got {value!r}")
    return value


class Model:
    """Base class: a differentiable map w -> F(w) (n x k outputs) and a loss on top."""

    _m: "_core.Model"
    _config: Optional[dict] = None  # constructor keyword arguments (validated), for with_data
    _d: int = 0                      # input dimension d
    _flat: bool = False              # square loss with 1-D y: outputs/residuals/predict are (n,)
    _units: int = 0                  # Σ over layers of (inputs + outputs) per sample: one pass's activations

    # -- layout -------------------------------------------------------------------------
    @property
    def num_params(self) -> int:
        """P, the length of the flat parameter vector."""
        return self._m.num_params

    @property
    def num_samples(self) -> int:
        """n, the number of data points."""
        return self._m.num_samples

    @property
    def output_dim(self) -> int:
        """k, outputs per sample."""
        return self._m.output_dim

    @property
    def num_outputs(self) -> int:
        """n·k, the number of rows of the Jacobian."""
        return self._m.num_outputs

    def init(self, seed: int = 0) -> np.ndarray:
        """A seeded initial parameter vector (the model's documented initialization).

        ``seed`` is an integer in [0, 2**64) (numpy integers accepted); anything else raises
        TypeError/ValueError naming it.
        """
        return self._m.init(val.integer("seed", seed, 0, val.MAX_SEED))

    def unflatten(self, w) -> dict:
        """The named parameter blocks of w as views: matrices (rows, cols), vectors 1-D."""
        w = val.as_params(w, self.num_params)
        out = {}
        for name, offset, rows, cols in self._m.param_blocks():
            block = w[offset : offset + rows * cols]
            out[name] = block if cols == 1 else block.reshape(rows, cols)
        return out

    # -- a point, and many points ------------------------------------------------------------
    def at(self, w, *, samples=None) -> "Point":
        """The model at w (on ``samples``, or all of them): w is checked once, and the loss,
        gradient, products, J, K, H and the operators come from one cache; for layered models
        one forward/backward pass serves the loss, the gradient and every H v (after the first
        ``hvp`` or ``hessian_operator``). See :class:`Point`."""
        idx = self._samples(samples, "at")
        return Point(self, self._m.at(self._w(w), idx), None if idx is None else idx.size)

    def losses(self, W, *, grad_norms: bool = False):
        """L at many parameter vectors: ``W`` of shape (P, b), one point a column (or (P,)).
        Returns the b losses, and with ``grad_norms=True`` also the b gradient norms ‖∇L‖.
        Parallel over points and samples, summed in a fixed order: the result does not depend on
        the thread count (it equals :meth:`loss` up to rounding)."""
        arr = np.asarray(W)
        if _engine_layout(arr):
            V, flat = arr, False  # the engine's layout already: no copy (it checks shape and NaN itself)
        else:
            V, flat = val.as_directions(W, self.num_params, "W")
        self._check_pass(self.num_samples, "losses")
        out = self._m.losses(V, bool(grad_norms))
        if flat:
            return (float(out[0][0]), float(out[1][0])) if grad_norms else float(out[0])
        return out

    def losses_in_span(self, w, D, C) -> np.ndarray:
        """L at w + D c for every column c of ``C``: ``D`` of shape (P, k) (or (P,)) holds k
        directions and ``C`` of shape (k, b) (or (b,) when k = 1) their coordinates, one point a
        column: a line, a plane (a loss surface) or any span around w. Equals :meth:`losses` of
        the formed points up to rounding; layered networks compute their first layer once for
        the whole span instead of once a point, and nothing of size P x b is formed."""
        w = self._w(w)
        D = np.asarray(D)
        if not _engine_layout(D):  # else passed as it is (the engine checks its shape and NaN/Inf)
            D = np.asfortranarray(val.as_directions(D, self.num_params, "D")[0])
        k = D.shape[1]
        Carr = val._as_float_array("C", C)
        if Carr.ndim == 1 and k == 1:
            Carr = Carr.reshape(1, -1)
        if Carr.ndim != 2 or Carr.shape[0] != k:
            raise ValueError(f"C: expected shape ({k}, b), one column of coordinates a point, got {Carr.shape}")
        self._check_pass(self.num_samples, "losses_in_span")
        return self._m.losses_in_span(w, D, np.asfortranarray(Carr))

    # -- values and first derivatives ----------------------------------------------------
    def loss(self, w, *, samples=None) -> float:
        """L(w), over all samples or the index array ``samples`` (a minibatch, no data copy)."""
        return self._m.loss(self._w(w), self._samples(samples, "loss"))

    def gradient(self, w, *, samples=None) -> np.ndarray:
        """∇L(w), shape (P,)."""
        return self._m.gradient(self._w(w), self._samples(samples, "gradient"))

    def loss_and_gradient(self, w, *, samples=None) -> tuple[float, np.ndarray]:
        """(L(w), ∇L(w)) from one forward and one backward pass."""
        return self._m.loss_and_gradient(self._w(w), self._samples(samples, "loss_and_gradient"))

    def outputs(self, w) -> np.ndarray:
        """F(w): shape (n,) for a square-loss model built with a 1-D y, else (n, k).

        For cross-entropy these are the logits (n, k), before the softmax.
        """
        w = self._w(w)
        self._check_pass(self.num_samples, "outputs")
        return self._shaped(self._m.outputs(w))

    def residuals(self, w) -> np.ndarray:
        """dℓ/dF per sample before reduction: F − y (square loss, the shape of y as given:
        (n,) or (n, k)) or softmax(F) − onehot(y) (cross-entropy, (n, k))."""
        w = self._w(w)
        self._check_pass(self.num_samples, "residuals")
        return self._shaped(self._m.residuals(w))

    def predict(self, w, X) -> np.ndarray:
        """The outputs F(w) on new inputs X, without labels.

        Parameters
        ----------
        w : array_like, shape (P,)
            Parameters, e.g. trained on this model's data.
        X : array_like, shape (m, d)
            Inputs with as many columns d as the model's data. Integer and bool arrays are
            converted to float64.

        Returns
        -------
        numpy.ndarray
            F(w) on X: shape (m,) for a square-loss model built with a 1-D y, otherwise (m, k).
            For ``loss="cross_entropy"`` these are the logits (m, k); the class probabilities
            are their softmax along axis 1 and the predicted class is ``argmax(axis=1)``.

        Raises
        ------
        ValueError
            X is not 2-D, is empty, holds NaN/Inf, or has a different number of columns.
        TypeError
            X has an object, complex or string dtype; or the model has no inputs (ProductToy).

        Notes
        -----
        Equal to ``self.with_data(X, y).outputs(w)`` for any valid y: the forward pass does not
        read the targets (the engine's copy of the data holds zero targets here).
        """
        w = self._w(w)
        X = self._inputs(X)
        n, k = X.shape[0], self.output_dim
        copies = 8 * n * (self._d + 2 * k)
        if copies > _PASS_CHECK_BYTES:
            val.check_memory(copies, f"predict: a copy of the {n} x {self._d} inputs and the outputs")
        self._check_pass(n, "predict")
        Y, labels = self._blank_targets(n, k)
        return self._shaped(self._build(X, Y, labels, k).outputs(w))

    def with_data(self, X, y) -> "Model":
        """The same model on other data: same architecture, configuration and parameter layout.

        Parameters
        ----------
        X : array_like, shape (m, d)
            Inputs with the same number of columns d as this model's data (any m >= 1).
        y : array_like
            Targets as for the constructor: shape (m,) or (m, k) with this model's k for the
            square loss; integer labels in [0, k) for cross-entropy, where k (``num_classes``)
            is carried over, so a test set in which some class does not occur works.

        Returns
        -------
        Model
            A new model of the same class built through its constructor with the same keyword
            arguments (widths, activation, parameterization, bias, residual, loss, reduction,
            ShallowNet's output weights and ``train_output``). It has the same ``num_params``
            and ``unflatten`` blocks, so a w trained on this model can be evaluated on held-out
            data: ``model.with_data(X_test, y_test).loss(w)``.

        Raises
        ------
        ValueError
            X has a different number of columns, y a different number of outputs k, or a
            label is outside [0, k).
        TypeError
            The model holds no data (ProductToy).
        """
        X = self._inputs(X)
        if self._config is None:  # pragma: no cover - every data model sets it
            raise TypeError(f"{type(self).__name__}: this model has no data to replace")
        if getattr(self, "loss_name", "square") == "square":
            Y, flat = val.targets(y, X.shape[0])
            if Y.shape[1] != self.output_dim:
                want = f"({X.shape[0]},) or ({X.shape[0]}, 1)" if self.output_dim == 1 else f"({X.shape[0]}, {self.output_dim})"
                raise ValueError(f"y: expected shape {want} for a model with k = {self.output_dim} outputs, "
                                 f"got {Y.shape if not flat else (X.shape[0],)}")
            y = Y.reshape(-1) if flat else Y
        return type(self)(X, y, **self._config)

    def jacobian(self, w) -> np.ndarray:
        """J = ∂F/∂w, shape (n·k, P); row i·k + c is output c of sample i."""
        w = self._w(w)
        val.check_memory(8 * self.num_outputs * self.num_params, "jacobian: the (n·k) x P Jacobian")
        return self._m.jacobian(w)

    def tangent_kernel(self, w) -> np.ndarray:
        """K = J Jᵀ, shape (n·k, n·k), formed layer by layer without storing J."""
        w = self._w(w)
        val.check_memory(8 * self.num_outputs**2, "tangent_kernel: the (n·k) x (n·k) kernel")
        return self._m.tangent_kernel(w)

    # -- second derivatives ---------------------------------------------------------------
    def hvp(self, w, v, *, samples=None) -> np.ndarray:
        """Exact Hessian-vector product H v (Pearlmutter); v of shape (P,) or (P, b)."""
        w = self._w(w)
        V, flat = val.as_directions(v, self.num_params)
        out = self._m.hvp(w, V, self._samples(samples, "hvp"))
        return out[:, 0].copy() if flat else np.ascontiguousarray(out)

    def gauss_newton_vp(self, w, v) -> np.ndarray:
        """G v with G = Jᵀ (∂²ℓ/∂F²) J, never forming J; v of shape (P,) or (P, b)."""
        w = self._w(w)
        V, flat = val.as_directions(v, self.num_params)
        self._check_pass(self.num_samples, "gauss_newton_vp")
        out = self._m.gauss_newton_vp(w, V)
        return out[:, 0].copy() if flat else np.ascontiguousarray(out)

    def jvp(self, w, v) -> np.ndarray:
        """J v, shape (n·k,) or (n·k, b) for v of shape (P,) or (P, b), without forming J."""
        w = self._w(w)
        V, flat = val.as_directions(v, self.num_params)
        self._check_pass(self.num_samples, "jvp")
        out = self._m.jvp(w, V)
        return out[:, 0].copy() if flat else np.ascontiguousarray(out)

    def vjp(self, w, u) -> np.ndarray:
        """Jᵀ u, shape (P,) or (P, b) for u of shape (n·k,) or (n·k, b), without forming J."""
        w = self._w(w)
        U, flat = val.as_directions(u, self.num_outputs, "u")
        self._check_pass(self.num_samples, "vjp")
        out = self._m.vjp(w, U)
        return out[:, 0].copy() if flat else np.ascontiguousarray(out)

    # -- operators (for landscope.eigsh, spectral_density, trace) ---------------------------
    def hessian_operator(self, w) -> Operator:
        """H(w) as a P x P operator. Layered models cache the forward and backward pass at w,
        so each product only costs the R-pass (about 60% of an ``hvp`` call)."""
        w = self._w(w)
        self._check_cache()
        return Operator(self._m.hessian_operator(w), "hessian")

    def gauss_newton_operator(self, w) -> Operator:
        """G(w) = Jᵀ (∂²ℓ/∂F²) J as a P x P operator (positive semi-definite)."""
        return Operator(self._m.gauss_newton_operator(self._w(w)), "gauss_newton")

    def kernel_operator(self, w) -> Operator:
        """The tangent kernel K(w) = J Jᵀ as an (n·k) x (n·k) operator: K u = J (Jᵀ u)."""
        return Operator(self._m.kernel_operator(self._w(w)), "kernel")

    def hessian(self, w) -> np.ndarray:
        """The dense, exactly symmetric Hessian, shape (P, P)."""
        w = self._w(w)
        val.check_memory(8 * self.num_params**2, f"hessian: a dense {self.num_params} x {self.num_params} Hessian")
        return self._m.hessian(w)

    def hessian_parts(self, w) -> tuple[np.ndarray, np.ndarray]:
        """(G, R): Gauss–Newton part Jᵀ(∂²ℓ/∂F²)J (rank <= n·k) and residual part, H = G + R."""
        w = self._w(w)
        P = self.num_params
        val.check_memory(3 * 8 * P * P, f"hessian_parts: two dense {P} x {P} matrices and a workspace")
        return self._m.hessian_parts(w)

    # -- helpers ---------------------------------------------------------------------------
    def _w(self, w) -> np.ndarray:
        return val.as_params(w, self.num_params)

    def _samples(self, samples, what: str) -> Optional[np.ndarray]:
        idx = val.as_samples(samples, self.num_samples)
        self._check_pass(self.num_samples if idx is None else idx.size, what)
        return idx

    def _check_cache(self, batch: Optional[int] = None) -> None:
        """MemoryError if the second-order passes a point caches for H v (values, σ', σ'', and
        the backward pass: about three passes' activations) cannot fit."""
        self._check_pass(3 * (self.num_samples if batch is None else batch), "the cached second-order passes")

    def _check_pass(self, batch: int, what: str) -> None:
        """MemoryError if one pass's layer activations (at least batch x Σ(inputs + outputs)
        float64, over all threads' blocks together) cannot fit; free below 64 MB."""
        nbytes = 8 * batch * self._units
        if nbytes > _PASS_CHECK_BYTES:
            val.check_memory(nbytes, f"{what}: the layer activations of a pass over {batch} samples "
                                     f"({batch} x {self._units} float64)")

    def _shaped(self, F: np.ndarray) -> np.ndarray:
        return F.reshape(-1) if self._flat else F

    def _inputs(self, X) -> np.ndarray:
        """New inputs for predict/with_data: (m, d) with this model's d."""
        X = val.as_data(X)
        if X.shape[1] != self._d:
            raise ValueError(f"X: expected {self._d} columns (features) like the model's data, got shape {X.shape}")
        return X

    # -- construction (data models) ----------------------------------------------------------
    def _setup(self, X, y) -> None:
        """Validate the data, check the size and build the C++ model from ``self._config``."""
        given_X, given_y = X, y
        X = val.as_data(X)
        n, d = X.shape
        Y, labels, k, flat = self._targets(y, n)
        layers = self._layers(d, k)
        P = sum(i * o + (o if bias else 0) for i, o, bias, trainable in layers if trainable)
        _check_model_size(type(self).__name__, P, n, d, k)
        self._d, self._flat = d, flat
        self._units = sum(i + o for i, o, _, _ in layers)
        self._m = self._build(X, Y, labels, k)
        # The data as the constructor takes it, for pickling (the engine keeps its own copy).
        self._X = _private(X, given_X)
        self._y = _private(labels if Y.size == 0 else (Y.reshape(-1) if flat else Y), given_y)

    def _targets(self, y, n: int):
        """(Y, labels, k, y was 1-D) for the square loss."""
        Y, flat = val.targets(y, n)
        return Y, _NO_LABELS, Y.shape[1], flat

    def _blank_targets(self, n: int, k: int):
        """Targets the forward pass never reads, valid for any inputs (used by ``predict``)."""
        return np.zeros((n, k)), _NO_LABELS

    def _layers(self, d: int, k: int) -> list:
        """[(inputs, outputs, has bias, trainable)] per layer, as the C++ engine builds it."""
        raise NotImplementedError

    def _build(self, X, Y, labels, k):
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._describe()}, P={self.num_params})"

    def _describe(self) -> str:
        return f"n={self.num_samples}, k={self.output_dim}"

    # -- pickling and equality ---------------------------------------------------------------
    def _state(self) -> tuple:
        """(X, y, configuration): what the model is rebuilt from (y as the constructor takes it)."""
        return self._X, self._y, self._config

    def __reduce__(self):
        # The engine's model is not pickled: the constructor builds it again from the data and
        # the configuration (validated on the way, as any construction).
        return _rebuild, (type(self), *self._state())

    def __eq__(self, other) -> bool:
        if self is other:
            return True
        if type(self) is not type(other):
            return NotImplemented
        return all(equal(a, b) for a, b in zip(self._state(), other._state()))

    def __hash__(self) -> int:
        return hash((type(self).__name__, self.num_params, self.num_samples, self.output_dim))


class Point:
    """A model at one parameter vector (:meth:`Model.at`): everything DESIGN §2 defines at w, with
    the same shapes as the Model methods of the same names, computed from one cache. Loss and
    gradient are computed once; for layered models ``hvp`` and ``hessian_operator`` run the
    second-order forward/backward pass once and every later product only its R-pass. Products,
    J, K and operators are full-batch (the sample subset applies to loss, gradient and hvp)."""

    def __init__(self, model: Model, core, batch: Optional[int] = None):
        self.model = model
        self._p = core
        self._batch = batch  # the size of the sample subset, None: all samples
        self._prepared = False

    @property
    def w(self) -> np.ndarray:
        return self._p.w

    def loss(self) -> float:
        return self._p.loss()

    def gradient(self) -> np.ndarray:
        return self._p.gradient()

    def loss_and_gradient(self) -> tuple[float, np.ndarray]:
        g = self._p.gradient()
        return self._p.loss(), g

    def grad_norm(self) -> float:
        return self._p.grad_norm()

    def outputs(self) -> np.ndarray:
        return self.model._shaped(self._p.outputs())

    def residuals(self) -> np.ndarray:
        return self.model._shaped(self._p.residuals())

    def jacobian(self) -> np.ndarray:
        m = self.model
        val.check_memory(8 * m.num_outputs * m.num_params, "jacobian: the (n·k) x P Jacobian")
        return self._p.jacobian()

    def tangent_kernel(self) -> np.ndarray:
        val.check_memory(8 * self.model.num_outputs**2, "tangent_kernel: the (n·k) x (n·k) kernel")
        return self._p.tangent_kernel()

    def _product(self, fn, v, rows: int, name: str) -> np.ndarray:
        V, flat = val.as_directions(v, rows, name)
        out = fn(V)
        return out[:, 0].copy() if flat else np.ascontiguousarray(out)

    def hvp(self, v) -> np.ndarray:
        """H v for v of shape (P,) or (P, b). The first call caches the second-order passes."""
        V, flat = val.as_directions(v, self.model.num_params, "v")
        self._prepare()
        out = self._p.hvp(V)
        return out[:, 0].copy() if flat else np.ascontiguousarray(out)

    def _prepare(self) -> None:
        if not self._prepared:
            self.model._check_cache(self._batch)
            self._p.prepare_curvature()
            self._prepared = True

    def gauss_newton_vp(self, v) -> np.ndarray:
        return self._product(self._p.gauss_newton_vp, v, self.model.num_params, "v")

    def jvp(self, v) -> np.ndarray:
        return self._product(self._p.jvp, v, self.model.num_params, "v")

    def vjp(self, u) -> np.ndarray:
        return self._product(self._p.vjp, u, self.model.num_outputs, "u")

    def hessian(self) -> np.ndarray:
        P = self.model.num_params
        val.check_memory(8 * P * P, f"hessian: a dense {P} x {P} Hessian")
        return self._p.hessian()

    def hessian_parts(self) -> tuple[np.ndarray, np.ndarray]:
        P = self.model.num_params
        val.check_memory(3 * 8 * P * P, f"hessian_parts: two dense {P} x {P} matrices and a workspace")
        return self._p.hessian_parts()

    def hessian_operator(self) -> Operator:
        self._prepare()
        return Operator(self._p.hessian_operator(), "hessian")

    def gauss_newton_operator(self) -> Operator:
        return Operator(self._p.gauss_newton_operator(), "gauss_newton")

    def kernel_operator(self) -> Operator:
        return Operator(self._p.kernel_operator(), "kernel")

    def __repr__(self) -> str:
        return f"Point({self.model!r}, P={self.model.num_params})"


def _reduction(reduction) -> str:
    return _choice("reduction", reduction, ("sum", "mean"))


class LeastSquares(Model):
    """Linear least squares F = X Wᵀ with W of shape (k, d); L = ½‖F − Y‖² ("sum") or /n ("mean").

    Parameters: ``W`` (k x d), row-major. ``init`` draws W ~ N(0, 1/d).
    """

    def __init__(self, X, y, *, reduction: str = "sum"):
        self.reduction = _reduction(reduction)
        self._config = dict(reduction=self.reduction)
        self._setup(X, y)

    def _layers(self, d, k):
        return [(d, k, False, True)]

    def _build(self, X, Y, labels, k):
        return _core.least_squares(X, Y, self.reduction)


class DeepLinear(Model):
    """Deep linear network F = X W_1ᵀ W_2ᵀ ⋯ W_Lᵀ with hidden ``widths`` [h_1, …, h_{L−1}].

    Parameters: ``W1`` (h_1 x d), …, ``WL`` (k x h_{L−1}). ``init`` draws N(0, 1/fan_in).
    """

    def __init__(self, X, y, widths: Sequence[int], *, reduction: str = "sum"):
        self.widths = val.as_widths("widths", widths)
        self.reduction = _reduction(reduction)
        self._config = dict(widths=list(self.widths), reduction=self.reduction)
        self._setup(X, y)

    def _layers(self, d, k):
        dims = [d, *self.widths, k]
        return [(a, b, False, True) for a, b in zip(dims[:-1], dims[1:])]

    def _build(self, X, Y, labels, k):
        return _core.deep_linear(X, Y, self.widths, self.reduction)


class ProductToy(Model):
    """f(x) = ½(Π_k x_k − 1)² on R^d (one sample, target 1): the deep-linear toy of DESIGN §1.

    Parameters: ``x`` (d,). ``init`` draws x ~ U(0.5, 1.5). A ``samples`` list counts the one
    sample as often as it appears.
    """

    def __init__(self, d: int):
        if isinstance(d, bool) or not isinstance(d, (int, np.integer)):
            raise TypeError(f"d: expected an integer dimension, got {d!r}")
        if d < 1:
            raise ValueError(f"d: expected a dimension >= 1, got {d}")
        if d > val.MAX_INDEX:
            raise ValueError(f"d: expected a dimension <= 2**62, got {d}")
        self.d = int(d)
        self.reduction = "sum"
        _check_model_size("ProductToy", self.d, 1, 0, 1)
        self._m = _core.ProductToy(self.d)

    def _state(self) -> tuple:
        return (self.d,)

    def __reduce__(self):
        return ProductToy, (self.d,)

    def with_data(self, X, y):
        """Not available: ProductToy has no data (one sample with target 1). Raises TypeError."""
        raise TypeError("ProductToy has no data (one fixed sample with target 1): with_data does not apply")

    def predict(self, w, X):
        """Not available: ProductToy has no inputs. Raises TypeError; use ``outputs(w)``."""
        raise TypeError("ProductToy has no inputs: predict does not apply; outputs(w) gives Π x_k")

    def _describe(self) -> str:
        return f"d={self.d}"


class ShallowNet(Model):
    """F_i = (1/√m) Σ_j v_j σ(w_jᵀ x_i): a one-hidden-layer network of ``width`` m.

    The output weights v are ±1 (v_j = +1 for even j, −1 for odd j) unless ``output_weights``
    is given, and are fixed unless ``train_output=True``. Square loss.
    Parameters: ``W`` (m x d), then ``v`` (1 x m) when trained. ``init``: W ~ N(0, 1).
    """

    def __init__(self, X, y, width: int, *, activation: str = "tanh", output_weights=None,
                 train_output: bool = False, reduction: str = "sum"):
        (width,) = val.as_widths("width", [width])
        v = None
        if output_weights is not None:
            v = val._as_float_array("output_weights", output_weights)
            if v.shape != (width,):
                raise ValueError(f"output_weights: expected shape ({width},), got {v.shape}")
            v = v.copy()  # the caller's array may change later; with_data rebuilds from this one
            v.flags.writeable = False
        self.width = width
        self.activation = _choice("activation", activation, _ACTIVATIONS)
        self.reduction = _reduction(reduction)
        self._train_output = bool(train_output)
        self._output_weights = v
        self._config = dict(width=width, activation=self.activation, output_weights=v,
                            train_output=self._train_output, reduction=self.reduction)
        self._setup(X, y)

    def _targets(self, y, n):
        Y, labels, k, flat = super()._targets(y, n)
        if k != 1:
            raise ValueError(f"y: ShallowNet has one output; expected shape ({n},), got {Y.shape}")
        return Y, labels, k, flat

    def _layers(self, d, k):
        return [(d, self.width, False, True), (self.width, 1, False, self._train_output)]

    def _build(self, X, Y, labels, k):
        return _core.shallow_net(X, Y, self.width, self.activation, self._output_weights,
                                 self._train_output, self.reduction)


class MLP(Model):
    """Multi-layer perceptron with hidden ``widths`` [m_1, …, m_L] (may be empty).

    ``parameterization="ntk"``: h_l = σ(W_l h_{l−1}/√m_{l−1} + b_l), F = W_{L+1} h_L/√m_L + b,
    N(0, 1) init. ``"standard"``: no 1/√m factors, He init for ReLU, Xavier otherwise.
    ``bias`` adds b_l to every layer (initialized to 0); ``residual`` makes each hidden layer
    after the first whose width equals its input's h_l = h_{l−1} + σ(z_l).
    ``loss="square"`` (y of shape (n,) or (n, k)) or ``"cross_entropy"`` (softmax over k >= 2
    outputs; y integer labels 0 … k−1, or exactly integral floats; k = ``num_classes``, or
    max(y) + 1 when every class 0 … max(y) occurs; otherwise pass ``num_classes``). For
    cross-entropy ``outputs``/``predict`` return the logits (n, k).
    Parameters: ``W1`` (m_1 x d), ``b1``, …, ``W{L+1}`` (k x m_L), ``b{L+1}``.
    ReLU has σ'' = 0 almost everywhere, so its Hessian is piecewise (exact away from kinks).
    """

    def __init__(self, X, y, widths: Sequence[int] = (), *, activation: str = "tanh",
                 parameterization: str = "ntk", bias: bool = False, residual: bool = False,
                 loss: str = "square", reduction: str = "sum", num_classes: Optional[int] = None):
        self.widths = val.as_widths("widths", widths)
        self.activation = _choice("activation", activation, _ACTIVATIONS)
        self.parameterization = _choice("parameterization", parameterization, ("ntk", "standard"))
        self.loss_name = _choice("loss", loss, ("square", "cross_entropy"))
        self.reduction = _reduction(reduction)
        if self.loss_name == "square" and num_classes is not None:
            raise ValueError("num_classes: only meaningful with loss='cross_entropy'")
        self._bias, self._residual = bool(bias), bool(residual)
        self._num_classes = num_classes
        self._setup(X, y)
        if self.loss_name == "cross_entropy":
            self._labels = self._y  # the model's own copy (the caller's array may change later)
        # with_data carries k over (resolved here when it was inferred from the labels).
        self._config = dict(widths=list(self.widths), activation=self.activation,
                            parameterization=self.parameterization, bias=self._bias,
                            residual=self._residual, loss=self.loss_name, reduction=self.reduction,
                            num_classes=self.output_dim if self.loss_name == "cross_entropy" else None)

    def _targets(self, y, n):
        if self.loss_name == "square":
            return super()._targets(y, n)
        labels, k = val.as_labels(y, n, self._num_classes)
        self._labels = labels  # for accuracy (landscope.landscape)
        return np.zeros((0, 0)), labels, k, False

    def _blank_targets(self, n, k):
        if self.loss_name == "square":
            return super()._blank_targets(n, k)
        return np.zeros((0, 0)), np.zeros(n, dtype=np.int64)

    def _layers(self, d, k):
        dims = [d, *self.widths, k]
        return [(a, b, self._bias, True) for a, b in zip(dims[:-1], dims[1:])]

    def _build(self, X, Y, labels, k):
        return _core.mlp(X, Y, labels, self.widths, self.activation, self.parameterization,
                         self._bias, self._residual, self.loss_name, self.reduction,
                         k if self.loss_name == "cross_entropy" else 0)
