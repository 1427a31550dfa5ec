"""The model families of landscope (DESIGN §3), with exact derivatives computed in C++.

Every model holds its data, a flat float64 parameter vector layout (``unflatten`` names the
blocks) and answers ``loss``, ``gradient``, ``loss_and_gradient``, ``outputs``, ``residuals``,
``jacobian``, ``tangent_kernel``, ``jvp``, ``vjp``, ``hvp``, ``gauss_newton_vp``, ``hessian``
and ``hessian_parts`` exactly (no finite differences), and gives its Hessian, Gauss–Newton
matrix and tangent kernel as operators for the spectral solvers. Calls release the GIL and run on
``landscope.get_num_threads()`` threads.
"""
from __future__ import annotations

from typing import Optional, Sequence

import numpy as np

from . import _validation as val
from ._loader import core as _core
from .operators import Operator

__all__ = ["Model", "LeastSquares", "DeepLinear", "ProductToy", "ShallowNet", "MLP"]

_ACTIVATIONS = ("identity", "tanh", "sigmoid", "softplus", "gelu", "silu", "relu")


def _choice(name: str, value, choices) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{name}: expected a string, one of {choices}, got {value!r}")
    if value not in choices:
        raise ValueError(f"{name}: expected one of {choices}, got {value!r}")
    return value


class Model:
    """Base class: a differentiable map w -> F(w) (n x k outputs) and a loss on top."""

    _m: "_core.Model"

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
        """A seeded initial parameter vector (the model's documented initialization)."""
        if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
            raise ValueError(f"seed: expected a non-negative integer, got {seed!r}")
        return self._m.init(int(seed))

    def unflatten(self, w) -> dict:
        """The named parameter blocks of w as views: matrices (rows, cols), vectors 1-D."""
        w = val.as_params(w, self.num_params)
        out = {}
        for name, offset, rows, cols in self._m.param_blocks():
            block = w[offset : offset + rows * cols]
            out[name] = block if cols == 1 else block.reshape(rows, cols)
        return out

    # -- values and first derivatives ----------------------------------------------------
    def loss(self, w, *, samples=None) -> float:
        """L(w), over all samples or the index array ``samples`` (a minibatch, no data copy)."""
        return self._m.loss(self._w(w), val.as_samples(samples, self.num_samples))

    def gradient(self, w, *, samples=None) -> np.ndarray:
        """∇L(w), shape (P,)."""
        return self._m.gradient(self._w(w), val.as_samples(samples, self.num_samples))

    def loss_and_gradient(self, w, *, samples=None) -> tuple[float, np.ndarray]:
        """(L(w), ∇L(w)) from one forward and one backward pass."""
        return self._m.loss_and_gradient(self._w(w), val.as_samples(samples, self.num_samples))

    def outputs(self, w) -> np.ndarray:
        """F(w), shape (n, k)."""
        return self._m.outputs(self._w(w))

    def residuals(self, w) -> np.ndarray:
        """dℓ/dF per sample before reduction: F − Y (square loss) or softmax(F) − onehot(y)."""
        return self._m.residuals(self._w(w))

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
        out = self._m.hvp(w, V, val.as_samples(samples, self.num_samples))
        return out[:, 0].copy() if flat else np.ascontiguousarray(out)

    def gauss_newton_vp(self, w, v) -> np.ndarray:
        """G v with G = Jᵀ (∂²ℓ/∂F²) J, never forming J; v of shape (P,) or (P, b)."""
        w = self._w(w)
        V, flat = val.as_directions(v, self.num_params)
        out = self._m.gauss_newton_vp(w, V)
        return out[:, 0].copy() if flat else np.ascontiguousarray(out)

    def jvp(self, w, v) -> np.ndarray:
        """J v, shape (n·k,) or (n·k, b) for v of shape (P,) or (P, b), without forming J."""
        w = self._w(w)
        V, flat = val.as_directions(v, self.num_params)
        out = self._m.jvp(w, V)
        return out[:, 0].copy() if flat else np.ascontiguousarray(out)

    def vjp(self, w, u) -> np.ndarray:
        """Jᵀ u, shape (P,) or (P, b) for u of shape (n·k,) or (n·k, b), without forming J."""
        w = self._w(w)
        U, flat = val.as_directions(u, self.num_outputs, "u")
        out = self._m.vjp(w, U)
        return out[:, 0].copy() if flat else np.ascontiguousarray(out)

    # -- operators (for landscope.eigsh, spectral_density, trace) ---------------------------
    def hessian_operator(self, w) -> Operator:
        """H(w) as a P x P operator. Layered models cache the forward and backward pass at w,
        so each product only costs the R-pass (about 60% of an ``hvp`` call)."""
        return Operator(self._m.hessian_operator(self._w(w)), "hessian")

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

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._describe()}, P={self.num_params})"

    def _describe(self) -> str:
        return f"n={self.num_samples}, k={self.output_dim}"


def _reduction(reduction) -> str:
    return _choice("reduction", reduction, ("sum", "mean"))


class LeastSquares(Model):
    """Linear least squares F = X Wᵀ with W of shape (k, d); L = ½‖F − Y‖² ("sum") or /n ("mean").

    Parameters: ``W`` (k x d), row-major. ``init`` draws W ~ N(0, 1/d).
    """

    def __init__(self, X, y, *, reduction: str = "sum"):
        X = val.as_data(X)
        Y = val.as_targets(y, X.shape[0])
        self.reduction = _reduction(reduction)
        self._m = _core.least_squares(X, Y, self.reduction)


class DeepLinear(Model):
    """Deep linear network F = X W_1ᵀ W_2ᵀ ⋯ W_Lᵀ with hidden ``widths`` [h_1, …, h_{L−1}].

    Parameters: ``W1`` (h_1 x d), …, ``WL`` (k x h_{L−1}). ``init`` draws N(0, 1/fan_in).
    """

    def __init__(self, X, y, widths: Sequence[int], *, reduction: str = "sum"):
        X = val.as_data(X)
        Y = val.as_targets(y, X.shape[0])
        self.widths = val.as_widths("widths", widths)
        self.reduction = _reduction(reduction)
        self._m = _core.deep_linear(X, Y, self.widths, self.reduction)


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
        self.d = int(d)
        self.reduction = "sum"
        self._m = _core.ProductToy(self.d)

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
        X = val.as_data(X)
        Y = val.as_targets(y, X.shape[0])
        if Y.shape[1] != 1:
            raise ValueError(f"y: ShallowNet has one output; expected shape ({X.shape[0]},), got {Y.shape}")
        (width,) = val.as_widths("width", [width])
        v = None
        if output_weights is not None:
            v = val._as_float_array("output_weights", output_weights)
            if v.shape != (width,):
                raise ValueError(f"output_weights: expected shape ({width},), got {v.shape}")
        self.width = width
        self.activation = _choice("activation", activation, _ACTIVATIONS)
        self.reduction = _reduction(reduction)
        self._m = _core.shallow_net(X, Y, width, self.activation, v, bool(train_output), self.reduction)


class MLP(Model):
    """Multi-layer perceptron with hidden ``widths`` [m_1, …, m_L] (may be empty).

    ``parameterization="ntk"``: h_l = σ(W_l h_{l−1}/√m_{l−1} + b_l), F = W_{L+1} h_L/√m_L + b,
    N(0, 1) init. ``"standard"``: no 1/√m factors, He init for ReLU, Xavier otherwise.
    ``bias`` adds b_l to every layer (initialized to 0); ``residual`` makes each hidden layer
    after the first whose width equals its input's h_l = h_{l−1} + σ(z_l).
    ``loss="square"`` (y of shape (n,) or (n, k)) or ``"cross_entropy"`` (softmax over k >= 2
    outputs; y integer labels, k = ``num_classes`` or max(y) + 1).
    Parameters: ``W1`` (m_1 x d), ``b1``, …, ``W{L+1}`` (k x m_L), ``b{L+1}``.
    ReLU has σ'' = 0 almost everywhere, so its Hessian is piecewise (exact away from kinks).
    """

    def __init__(self, X, y, widths: Sequence[int] = (), *, activation: str = "tanh",
                 parameterization: str = "ntk", bias: bool = False, residual: bool = False,
                 loss: str = "square", reduction: str = "sum", num_classes: Optional[int] = None):
        X = val.as_data(X)
        n = X.shape[0]
        self.widths = val.as_widths("widths", widths)
        self.activation = _choice("activation", activation, _ACTIVATIONS)
        self.parameterization = _choice("parameterization", parameterization, ("ntk", "standard"))
        self.loss_name = _choice("loss", loss, ("square", "cross_entropy"))
        self.reduction = _reduction(reduction)
        if self.loss_name == "square":
            if num_classes is not None:
                raise ValueError("num_classes: only meaningful with loss='cross_entropy'")
            Y = val.as_targets(y, n)
            labels, k = np.zeros(0, dtype=np.int64), 0
        else:
            labels, k = val.as_labels(y, n, num_classes)
            Y = np.zeros((0, 0))
        self._m = _core.mlp(X, Y, labels, self.widths, self.activation, self.parameterization,
                            bool(bias), bool(residual), self.loss_name, self.reduction, k)
