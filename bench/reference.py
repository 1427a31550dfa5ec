"""Independent, vectorized NumPy reference implementation of the landscope models.

This module is deliberately self-contained (NumPy only) and is written from the
mathematical definitions, not from the C++ engine.  It serves two purposes:

* a correctness oracle for the test-suite (everything is exact in double
  precision: closed-form first and second derivatives, no finite differences);
* the "NumPy code a user would otherwise write" baseline for the benchmarks, so
  every routine is vectorized over samples (matmul / einsum), with Python loops
  only over layers (and over column blocks for dense Hessians).

Conventions
-----------
Data ``X`` is ``(n, d)``.  A network has layers ``l = 1..L+1`` with weights
``W_l`` of shape ``(m_l, m_{l-1})``, scalar scales ``s_l`` and optional biases
``b_l``::

    z_l = s_l * h_{l-1} @ W_l.T + b_l        (h_0 = X)
    h_l = sigma(z_l)            (l <= L; plus h_{l-1} if residual applies)
    F   = z_{L+1}                              (n, k)

The flat parameter vector ``w`` concatenates, over trainable layers in order,
``W_l.ravel()`` (C order) followed by ``b_l`` when the layer has a bias.

Losses: square ``0.5 * sum ||F_i - Y_i||^2`` or cross-entropy
``sum_i logsumexp(F_i) - F_i[y_i]``; ``reduction="mean"`` divides by the number
of samples used.

Public API
----------
make_least_squares, make_deep_linear, make_shallow, make_mlp, make_product_toy
(each returns an object with num_params, n, k, outputs, loss, gradient, hvp,
jacobian, tangent_kernel, gauss_newton, hessian, unflatten, init), plus the
helpers erf, erfc, activation.
"""

import math

import numpy as np

__all__ = [
    "erf",
    "erfc",
    "activation",
    "ACTIVATIONS",
    "make_least_squares",
    "make_deep_linear",
    "make_shallow",
    "make_mlp",
    "make_product_toy",
]

# --------------------------------------------------------------------------
# erf / erfc: W. J. Cody's rational Chebyshev approximations (CALERF),
# vectorized.  Accurate to ~1 ulp-level relative error in double precision.
# --------------------------------------------------------------------------
_ERF_A = (3.16112374387056560e00, 1.13864154151050156e02, 3.77485237685302021e02,
          3.20937758913846947e03, 1.85777706184603153e-1)
_ERF_B = (2.36012909523441209e01, 2.44024637934444173e02, 1.28261652607737228e03,
          2.84423683343917062e03)
_ERF_C = (5.64188496988670089e-1, 8.88314979438837594e00, 6.61191906371416295e01,
          2.98635138197400131e02, 8.81952221241769090e02, 1.71204761263407058e03,
          2.05107837782607147e03, 1.23033935479799725e03, 2.15311535474403846e-8)
_ERF_D = (1.57449261107098347e01, 1.17693950891312499e02, 5.37181101862009858e02,
          1.62138957456669019e03, 3.29079923573345963e03, 4.36261909014324716e03,
          3.43936767414372164e03, 1.23033935480374942e03)
_ERF_P = (3.05326634961232344e-1, 3.60344899949804439e-1, 1.25781726111229246e-1,
          1.60837851487422766e-2, 6.58749161529837803e-4, 1.63153871373020978e-2)
_ERF_Q = (2.56852019228982242e00, 1.87295284992346725e00, 5.27905102951428412e-1,
          6.05183413124413191e-2, 2.33520497626869185e-3)
_SQRPI = 5.6418958354775628695e-1  # 1/sqrt(pi)
_THRESH = 0.46875


def _erf_small(x):
    """erf(x) for |x| <= 0.46875."""
    ysq = x * x
    xnum = _ERF_A[4] * ysq
    xden = ysq.copy()
    for i in range(3):
        xnum = (xnum + _ERF_A[i]) * ysq
        xden = (xden + _ERF_B[i]) * ysq
    return x * (xnum + _ERF_A[3]) / (xden + _ERF_B[3])


def _exp_scale(y, r):
    """r * exp(-y*y), computed with Cody's split to keep full accuracy."""
    ysq = np.trunc(y * 16.0) / 16.0
    dl = (y - ysq) * (y + ysq)
    return np.exp(-ysq * ysq) * np.exp(-dl) * r


def _erfc_mid(y):
    """erfc(y) for 0.46875 < y <= 4."""
    xnum = _ERF_C[8] * y
    xden = y.copy()
    for i in range(7):
        xnum = (xnum + _ERF_C[i]) * y
        xden = (xden + _ERF_D[i]) * y
    return _exp_scale(y, (xnum + _ERF_C[7]) / (xden + _ERF_D[7]))


def _erfc_large(y):
    """erfc(y) for y > 4."""
    y = np.minimum(y, 30.0)  # erfc underflows to 0 well before; avoids inf-inf
    ysq = 1.0 / (y * y)
    xnum = _ERF_P[5] * ysq
    xden = ysq.copy()
    for i in range(4):
        xnum = (xnum + _ERF_P[i]) * ysq
        xden = (xden + _ERF_Q[i]) * ysq
    r = ysq * (xnum + _ERF_P[4]) / (xden + _ERF_Q[4])
    r = (_SQRPI - r) / y
    return _exp_scale(y, r)


def _erfc_abs(y):
    """erfc(y) for y = |x| > 0.46875 (array)."""
    out = np.empty_like(y)
    mid = y <= 4.0
    if mid.all():
        return _erfc_mid(y)
    out[mid] = _erfc_mid(y[mid])
    big = ~mid
    out[big] = _erfc_large(y[big])
    return out


def erf(x):
    """Vectorized error function (full double precision, Cody 1969)."""
    x = np.asarray(x, dtype=np.float64)
    scalar = x.ndim == 0
    x = np.atleast_1d(x)
    out = np.empty_like(x)
    y = np.abs(x)
    small = y <= _THRESH
    out[small] = _erf_small(x[small])
    rest = ~small  # NaN also ends up here and propagates
    if rest.any():
        xr = x[rest]
        out[rest] = np.copysign(1.0 - _erfc_abs(np.abs(xr)), xr)
    return out[0] if scalar else out


def erfc(x):
    """Vectorized complementary error function (full relative precision)."""
    x = np.asarray(x, dtype=np.float64)
    scalar = x.ndim == 0
    x = np.atleast_1d(x)
    out = np.empty_like(x)
    y = np.abs(x)
    small = y <= _THRESH
    out[small] = 1.0 - _erf_small(x[small])
    rest = ~small
    if rest.any():
        xr = x[rest]
        e = _erfc_abs(np.abs(xr))
        out[rest] = np.where(xr < 0.0, 2.0 - e, e)
    return out[0] if scalar else out


# --------------------------------------------------------------------------
# Activations: value, first and second derivative (exact, stable).
# --------------------------------------------------------------------------
_INV_SQRT2 = 1.0 / math.sqrt(2.0)
_INV_SQRT2PI = 1.0 / math.sqrt(2.0 * math.pi)


def _sigmoid_pair(x):
    """Return (sigmoid(x), 1 - sigmoid(x)) computed stably."""
    e = np.abs(x)
    np.negative(e, out=e)
    np.exp(e, out=e)                 # e = exp(-|x|) in (0, 1]
    inv = e + 1.0
    np.reciprocal(inv, out=inv)      # 1 / (1 + e)
    e *= inv                         # e / (1 + e)
    pos = x >= 0
    s = np.where(pos, inv, e)
    np.copyto(e, inv, where=~pos)    # reuse buffer for the complement
    return s, e


def _act_identity(x, order, overwrite=False):
    d1 = np.ones_like(x) if order >= 1 else None
    return x, d1, None  # sigma'' = 0 represented by None


def _act_tanh(x, order, overwrite=False):
    t = np.tanh(x, out=x if overwrite else None)
    if order == 0:
        return t, None, None
    d1 = np.multiply(t, t)
    np.subtract(1.0, d1, out=d1)
    d2 = None
    if order >= 2:
        d2 = np.multiply(t, d1)
        d2 *= -2.0
    return t, d1, d2


def _act_sigmoid(x, order, overwrite=False):
    s, sc = _sigmoid_pair(x)
    if order == 0:
        return s, None, None
    d1 = s * sc
    d2 = None
    if order >= 2:
        d2 = np.subtract(sc, s)
        d2 *= d1
    return s, d1, d2


def _act_softplus(x, order, overwrite=False):
    f = np.abs(x)
    np.negative(f, out=f)
    np.exp(f, out=f)
    np.log1p(f, out=f)
    f += np.maximum(x, 0.0)
    if order == 0:
        return f, None, None
    s, sc = _sigmoid_pair(x)
    d2 = None
    if order >= 2:
        sc *= s
        d2 = sc
    return f, s, d2


def _act_gelu(x, order, overwrite=False):
    Phi = erfc(x * -_INV_SQRT2)
    Phi *= 0.5
    f = x * Phi
    if order == 0:
        return f, None, None
    x2 = x * x
    phi = x2 * -0.5
    np.exp(phi, out=phi)
    phi *= _INV_SQRT2PI
    d1 = x * phi
    d1 += Phi
    d2 = None
    if order >= 2:
        np.subtract(2.0, x2, out=x2)
        x2 *= phi
        d2 = x2
    return f, d1, d2


def _act_silu(x, order, overwrite=False):
    s, sc = _sigmoid_pair(x)
    f = x * s
    if order == 0:
        return f, None, None
    t = x * sc
    t += 1.0
    t *= s                                  # sigma' = s (1 + x (1 - s))
    d2 = None
    if order >= 2:
        u = np.subtract(sc, s)
        u *= x
        u += 2.0
        sc *= s
        u *= sc                             # sigma'' = s(1-s)(2 + x(1 - 2s))
        d2 = u
    return f, t, d2


def _act_relu(x, order, overwrite=False):
    d1 = (x > 0).astype(np.float64) if order >= 1 else None
    f = np.maximum(x, 0.0, out=x if overwrite else None)
    return f, d1, None  # sigma'' = 0


ACTIVATIONS = {
    "identity": _act_identity,
    "linear": _act_identity,
    "tanh": _act_tanh,
    "sigmoid": _act_sigmoid,
    "softplus": _act_softplus,
    "gelu": _act_gelu,
    "silu": _act_silu,
    "swish": _act_silu,
    "relu": _act_relu,
}


def activation(name, x, order=2):
    """Return (sigma(x), sigma'(x), sigma''(x)); derivatives beyond `order` are None.

    sigma'' is returned as an explicit zero array for identity / relu.
    """
    f, d1, d2 = ACTIVATIONS[name](np.asarray(x, dtype=np.float64), order)
    if order >= 2 and d2 is None:
        d2 = np.zeros_like(f)
    return f, d1, d2


def _get_act(name):
    try:
        return ACTIVATIONS[name.lower()]
    except KeyError:
        raise ValueError(f"unknown activation {name!r}") from None


# --------------------------------------------------------------------------
# Loss helpers
# --------------------------------------------------------------------------
def _norm_loss(loss):
    l = loss.lower().replace("-", "_")
    if l in ("square", "squared", "mse", "l2", "least_squares"):
        return "square"
    if l in ("ce", "cross_entropy", "crossentropy", "xent", "softmax"):
        return "ce"
    raise ValueError(f"unknown loss {loss!r}")


def _norm_reduction(reduction):
    r = reduction.lower()
    if r not in ("sum", "mean"):
        raise ValueError(f"unknown reduction {reduction!r}")
    return r


def _softmax_lse(F):
    mx = F.max(axis=1, keepdims=True)
    ex = np.exp(F - mx)
    se = ex.sum(axis=1, keepdims=True)
    lse = mx[:, 0] + np.log(se[:, 0])
    return ex / se, lse


def _split_view(a, shape):
    """Reshape that is guaranteed to return a view (raises instead of copying)."""
    v = a.view()
    v.shape = shape
    return v


# --------------------------------------------------------------------------
# Generic layered network
# --------------------------------------------------------------------------
class _Layer:
    __slots__ = ("m_out", "m_in", "scale", "bias", "trainable", "W_fixed",
                 "b_fixed", "off_W", "off_b", "wname", "bname")

    def __init__(self, m_out, m_in, scale=1.0, bias=False, trainable=True,
                 W_fixed=None, b_fixed=None, wname="W", bname="b"):
        self.m_out = int(m_out)
        self.m_in = int(m_in)
        self.scale = float(scale)
        self.bias = bool(bias)
        self.trainable = bool(trainable)
        self.W_fixed = None if W_fixed is None else np.asarray(W_fixed, np.float64).reshape(m_out, m_in)
        self.b_fixed = None if b_fixed is None else np.asarray(b_fixed, np.float64).reshape(m_out)
        self.off_W = self.off_b = None
        self.wname = wname
        self.bname = bname


class _Forward:
    """Cached quantities of one forward pass on a batch."""
    __slots__ = ("X", "Ws", "bs", "hs", "zs", "d1", "d2", "F")


class _Network:
    """Feed-forward network with per-layer scales, optional biases/residuals."""

    def __init__(self, X, targets, layers, act="identity", residual=False,
                 loss="square", reduction="sum", num_classes=None):
        X = np.asarray(X, dtype=np.float64)
        if X.ndim == 1:
            X = X.reshape(-1, 1)
        self.X = X
        self.n, self.d = X.shape
        self.loss_type = _norm_loss(loss)
        self.reduction = _norm_reduction(reduction)
        if self.loss_type == "square":
            Y = np.asarray(targets, dtype=np.float64)
            if Y.ndim == 1:
                Y = Y.reshape(-1, 1)
            if Y.shape[0] != self.n:
                raise ValueError("X and Y have different numbers of rows")
            self.Y = Y
            self.k = Y.shape[1]
        else:
            y = np.asarray(targets)
            if y.ndim != 1 or y.shape[0] != self.n:
                raise ValueError("cross-entropy targets must be integer labels (n,)")
            y = y.astype(np.intp)
            self.k = int(num_classes) if num_classes is not None else int(y.max()) + 1
            if y.min() < 0 or y.max() >= self.k:
                raise ValueError("labels out of range")
            self.Y = y
        self.layers = layers
        self.act_name = act
        self._act = _get_act(act)
        self._has_d2 = act.lower() not in ("identity", "linear", "relu")
        L = len(layers) - 1
        if layers[0].m_in != self.d or layers[-1].m_out != self.k:
            raise ValueError("layer shapes inconsistent with data")
        # residual flag per (0-based) layer index: 1-based 2 <= l <= L, equal widths
        self.res = [bool(residual) and 1 <= i <= L - 1 and lay.m_out == lay.m_in
                    for i, lay in enumerate(layers)]
        off = 0
        for lay in layers:
            if lay.trainable:
                lay.off_W = off
                off += lay.m_out * lay.m_in
                if lay.bias:
                    lay.off_b = off
                    off += lay.m_out
        self.num_params = off
        self.max_width = max(max(l.m_out, l.m_in) for l in layers)

    # ---------------- parameters ----------------
    def _check_w(self, w):
        w = np.asarray(w, dtype=np.float64)
        if w.shape != (self.num_params,):
            raise ValueError(f"w must have shape ({self.num_params},), got {w.shape}")
        return w

    def _params(self, w):
        Ws, bs = [], []
        for lay in self.layers:
            if lay.trainable:
                Ws.append(w[lay.off_W:lay.off_W + lay.m_out * lay.m_in].reshape(lay.m_out, lay.m_in))
                bs.append(w[lay.off_b:lay.off_b + lay.m_out] if lay.bias else None)
            else:
                Ws.append(lay.W_fixed)
                bs.append(lay.b_fixed if lay.bias else None)
        return Ws, bs

    def unflatten(self, w):
        w = self._check_w(w)
        Ws, bs = self._params(w)
        out = {}
        for lay, W, b in zip(self.layers, Ws, bs):
            if lay.trainable:
                out[lay.wname] = W.copy()
                if lay.bias:
                    out[lay.bname] = b.copy()
        return out

    def init(self, seed=0):
        return np.random.default_rng(seed).standard_normal(self.num_params)

    def _batch(self, samples):
        if samples is None:
            return self.X, self.Y
        idx = np.asarray(samples, dtype=np.intp).reshape(-1)
        return self.X[idx], self.Y[idx]

    # ---------------- forward ----------------
    def _forward(self, w, X, order):
        fw = _Forward()
        Ws, bs = self._params(w)
        fw.X, fw.Ws, fw.bs = X, Ws, bs
        hs, zs, d1s, d2s = [X], [], [], []
        h = X
        last = len(self.layers) - 1
        for i, lay in enumerate(self.layers):
            z = h @ Ws[i].T
            if lay.scale != 1.0:
                z *= lay.scale
            if bs[i] is not None:
                z += bs[i]
            if i == last:
                zs.append(z)
                break
            zs.append(None)  # hidden pre-activations are not kept (z may be overwritten)
            a, d1, d2 = self._act(z, order, True)
            if self.res[i]:
                a += h
            h = a
            hs.append(h)
            d1s.append(d1)
            d2s.append(d2)
        fw.hs, fw.zs, fw.d1, fw.d2, fw.F = hs, zs, d1s, d2s, zs[-1]
        return fw

    def outputs(self, w):
        w = self._check_w(w)
        return self._forward(w, self.X, 0).F.copy()

    # ---------------- loss ----------------
    def _loss_value(self, F, Y):
        if self.loss_type == "square":
            R = F - Y
            val = 0.5 * np.einsum("ij,ij->", R, R)
        else:
            _, lse = _softmax_lse(F)
            val = lse.sum() - F[np.arange(F.shape[0]), Y].sum()
        if self.reduction == "mean":
            val /= F.shape[0]
        return float(val)

    def _loss_grad_F(self, F, Y):
        """Return (dl/dF, aux) where aux is the softmax for CE (None otherwise)."""
        nb = F.shape[0]
        if self.loss_type == "square":
            g = F - Y
            p = None
        else:
            p, _ = _softmax_lse(F)
            g = p.copy()
            g[np.arange(nb), Y] -= 1.0
        if self.reduction == "mean":
            g /= nb
        return g, p

    def _apply_D(self, RF, p, nb):
        """Apply d^2 l / dF^2 to RF of shape (nb, B, k) (or (nb, k))."""
        c = 1.0 / nb if self.reduction == "mean" else 1.0
        if self.loss_type == "square":
            return RF * c if c != 1.0 else RF
        pe = p[:, None, :] if RF.ndim == 3 else p
        pr = pe * RF
        out = pr - pe * pr.sum(axis=-1, keepdims=True)
        if c != 1.0:
            out *= c
        return out

    def loss(self, w, samples=None):
        w = self._check_w(w)
        X, Y = self._batch(samples)
        return self._loss_value(self._forward(w, X, 0).F, Y)

    # ---------------- gradient ----------------
    def gradient(self, w, samples=None):
        w = self._check_w(w)
        X, Y = self._batch(samples)
        fw = self._forward(w, X, 1)
        g, _ = self._loss_grad_F(fw.F, Y)
        return self._backward(fw, g)

    def _backward(self, fw, g):
        """Reverse pass; overwrites the (single-use) forward cache to save memory."""
        out = np.empty(self.num_params)
        delta = g
        dh_next = None
        for i in range(len(self.layers) - 1, -1, -1):
            lay = self.layers[i]
            s = lay.scale
            if lay.trainable:
                gW = out[lay.off_W:lay.off_W + lay.m_out * lay.m_in].reshape(lay.m_out, lay.m_in)
                np.matmul(delta.T, fw.hs[i], out=gW)
                if s != 1.0:
                    gW *= s
                if lay.bias:
                    np.sum(delta, axis=0, out=out[lay.off_b:lay.off_b + lay.m_out])
            if i == 0:
                break
            dh = np.matmul(delta, fw.Ws[i], out=fw.hs[i])  # hs[i] is dead now
            if s != 1.0:
                dh *= s
            if self.res[i]:
                dh += dh_next
            if self.res[i - 1]:
                delta = dh * fw.d1[i - 1]     # dh still needed for the skip path
            else:
                delta = np.multiply(dh, fw.d1[i - 1], out=dh)
            dh_next = dh
        return out

    # ---------------- Hessian-vector product (R-operator) ----------------
    def hvp(self, w, V, samples=None):
        w = self._check_w(w)
        V = np.asarray(V, dtype=np.float64)
        one = V.ndim == 1
        V2 = V.reshape(self.num_params, -1)
        X, Y = self._batch(samples)
        fw = self._forward(w, X, 2)
        g, p = self._loss_grad_F(fw.F, Y)
        out = self._hvp_core(fw, g, p, V2, consume=True)
        return out[:, 0] if one else out

    def _hvp_core(self, fw, g, p, V, consume=False):
        """Forward-over-reverse R-op.  Tangents use the layout (nb, B, m).

        consume=True allows overwriting the forward cache `fw` (single use)."""
        nb = fw.X.shape[0]
        B = V.shape[1]
        layers = self.layers
        nl = len(layers)
        # parameter directions (None where identically zero, e.g. identity
        # column blocks of the dense Hessian that do not touch a layer)
        dWs, dbs = [], []
        for lay in layers:
            dW = db = None
            if lay.trainable:
                dW = V[lay.off_W:lay.off_W + lay.m_out * lay.m_in]
                dW = dW.reshape(lay.m_out, lay.m_in, B) if dW.any() else None
                if lay.bias:
                    db = V[lay.off_b:lay.off_b + lay.m_out]  # (m_out, B)
                    db = db if db.any() else None
            dWs.append(dW)
            dbs.append(db)

        # ---- forward tangent pass
        Rhs = [None]  # Rh_0 = 0
        Rzs = []
        Rh = None
        for i, lay in enumerate(layers):
            m_out, m_in, s = lay.m_out, lay.m_in, lay.scale
            h = fw.hs[i]
            Rz = None
            if Rh is not None:
                Rz = (Rh.reshape(nb * B, m_in) @ fw.Ws[i].T).reshape(nb, B, m_out)
            if dWs[i] is not None:
                M = dWs[i].transpose(1, 2, 0).reshape(m_in, B * m_out)
                t = (h @ M).reshape(nb, B, m_out)
                if Rz is None:
                    Rz = t
                else:
                    Rz += t
            if Rz is not None and s != 1.0:
                Rz *= s
            if dbs[i] is not None:
                if Rz is None:
                    Rz = np.zeros((nb, B, m_out))
                Rz += dbs[i].T[None, :, :]
            if i == nl - 1:
                if Rz is None:
                    Rz = np.zeros((nb, B, m_out))
                Rzs.append(Rz)
                break
            Rzs.append(Rz)   # None means identically zero
            if Rz is None:
                # tangent of h_l is zero, or just the skip path (copy: buffers get reused)
                Rh_new = Rh.copy() if (self.res[i] and Rh is not None) else None
            else:
                Rh_new = np.multiply(Rz, fw.d1[i][:, None, :])
                if self.res[i] and Rh is not None:
                    Rh_new += Rh
            Rh = Rh_new
            Rhs.append(Rh)

        # ---- reverse pass and its R-version
        out = np.empty((self.num_params, B))
        delta = g
        Rdelta = self._apply_D(Rzs[-1], p, nb)
        dh_next = Rdh_next = None
        for i in range(nl - 1, -1, -1):
            lay = layers[i]
            m_out, m_in, s = lay.m_out, lay.m_in, lay.scale
            if lay.trainable:
                h = fw.hs[i]
                # R(dW) = s (Rdelta^T h + delta^T Rh), stored as (m_out, m_in, B)
                T = (h.T @ Rdelta.reshape(nb, B * m_out)).reshape(m_in, B, m_out).transpose(2, 0, 1)
                dst = out[lay.off_W:lay.off_W + m_out * m_in].reshape(m_out, m_in, B)
                if Rhs[i] is not None:
                    T2 = (delta.T @ Rhs[i].reshape(nb, B * m_in)).reshape(m_out, B, m_in).transpose(0, 2, 1)
                    np.add(T, T2, out=dst)
                else:
                    np.copyto(dst, T)
                if s != 1.0:
                    dst *= s
                if lay.bias:
                    np.sum(Rdelta, axis=0, out=out[lay.off_b:lay.off_b + m_out].T)
            if i == 0:
                break
            W = fw.Ws[i]
            # fw.hs[i] (if consumable) and Rhs[i] are dead from here on: reuse them
            dh = np.matmul(delta, W, out=fw.hs[i] if consume else None)
            Rdh = Rhs[i] if Rhs[i] is not None else np.empty((nb, B, m_in))
            np.matmul(Rdelta.reshape(nb * B, m_out), W, out=Rdh.reshape(nb * B, m_in))
            if dWs[i] is not None:
                M = dWs[i].transpose(0, 2, 1).reshape(m_out, B * m_in)
                Rdh += (delta @ M).reshape(nb, B, m_in)
            if s != 1.0:
                dh *= s
                Rdh *= s
            if self.res[i]:
                dh += dh_next
                Rdh += Rdh_next
            d1 = fw.d1[i - 1]
            keep = self.res[i - 1]    # dh, Rdh needed again for the skip path
            Rdelta = Rdh * d1[:, None, :] if keep else np.multiply(Rdh, d1[:, None, :], out=Rdh)
            if self._has_d2 and Rzs[i - 1] is not None:
                Rz = Rzs[i - 1]       # not needed after this point
                Rz *= fw.d2[i - 1][:, None, :]
                Rz *= dh[:, None, :]
                Rdelta += Rz
            delta = dh * d1 if keep else np.multiply(dh, d1, out=dh)
            dh_next, Rdh_next = dh, Rdh
        return out

    # ---------------- Hessian ----------------
    def _hessian_block_size(self, nb):
        budget = 1 << 20  # ~8 MB per tangent array (keeps temporaries cache/allocator friendly)
        return int(max(1, min(256, budget // max(1, nb * self.max_width))))

    def hessian(self, w):
        w = self._check_w(w)
        P = self.num_params
        fw = self._forward(w, self.X, 2)
        g, p = self._loss_grad_F(fw.F, self.Y)
        H = np.empty((P, P))
        bs = self._hessian_block_size(self.n)
        for start in range(0, P, bs):
            stop = min(P, start + bs)
            E = np.zeros((P, stop - start))
            E[np.arange(start, stop), np.arange(stop - start)] = 1.0
            H[:, start:stop] = self._hvp_core(fw, g, p, E)
        H += H.T
        H *= 0.5
        return H

    # ---------------- Jacobian / NTK / Gauss-Newton ----------------
    def _persample_deltas(self, fw):
        """Yield (layer index, delta) with delta[i, c, :] = dF[i, c]/dz_l[i, :]."""
        n, k = fw.F.shape
        delta = np.broadcast_to(np.eye(k), (n, k, k))
        dh_next = None
        for i in range(len(self.layers) - 1, -1, -1):
            lay = self.layers[i]
            if lay.trainable:
                yield i, delta
            if i == 0:
                break
            dh = (np.ascontiguousarray(delta).reshape(n * k, lay.m_out) @ fw.Ws[i]).reshape(n, k, lay.m_in)
            if lay.scale != 1.0:
                dh *= lay.scale
            if self.res[i]:
                dh += dh_next
            delta = dh * fw.d1[i - 1][:, None, :]
            dh_next = dh

    def jacobian(self, w):
        w = self._check_w(w)
        fw = self._forward(w, self.X, 1)
        n, k = fw.F.shape
        J = np.empty((n, k, self.num_params))
        for i, delta in self._persample_deltas(fw):
            lay = self.layers[i]
            blk = _split_view(J[:, :, lay.off_W:lay.off_W + lay.m_out * lay.m_in],
                              (n, k, lay.m_out, lay.m_in))
            np.einsum("icp,iq->icpq", delta, fw.hs[i], out=blk)
            if lay.scale != 1.0:
                blk *= lay.scale
            if lay.bias:
                J[:, :, lay.off_b:lay.off_b + lay.m_out] = delta
        return J.reshape(n * k, self.num_params)

    def tangent_kernel(self, w):
        """J J^T, computed layer-wise without forming J:
        K = sum_l (s_l^2 <h_{l-1,i}, h_{l-1,j}> + [bias]) <delta_l[i,c], delta_l[j,c']>."""
        w = self._check_w(w)
        fw = self._forward(w, self.X, 1)
        n, k = fw.F.shape
        K = np.zeros((n, k, n, k))
        for i, delta in self._persample_deltas(fw):
            lay = self.layers[i]
            D = np.ascontiguousarray(delta).reshape(n * k, lay.m_out)
            DD = (D @ D.T).reshape(n, k, n, k)
            h = fw.hs[i]
            G = h @ h.T
            G *= lay.scale * lay.scale
            if lay.bias:
                G += 1.0
            K += DD * G[:, None, :, None]
        K = K.reshape(n * k, n * k)
        return 0.5 * (K + K.T)

    def _gn_from_J(self, J, F):
        n, k = F.shape
        c = 1.0 / n if self.reduction == "mean" else 1.0
        if self.loss_type == "square":
            G = J.T @ J
        else:
            p, _ = _softmax_lse(F)
            J3 = J.reshape(n, k, -1)
            DJ = p[:, :, None] * J3
            DJ -= p[:, :, None] * DJ.sum(axis=1, keepdims=True)
            G = J.T @ DJ.reshape(n * k, -1)
            G = 0.5 * (G + G.T)
        if c != 1.0:
            G *= c
        return G

    def gauss_newton(self, w):
        w = self._check_w(w)
        J = self.jacobian(w)
        F = self._forward(w, self.X, 0).F
        return self._gn_from_J(J, F)


# --------------------------------------------------------------------------
# Shallow network: structured Hessian
# --------------------------------------------------------------------------
class _Shallow(_Network):
    """F(x) = (1/sqrt(m)) sum_j v_j sigma(w_j . x); square loss."""

    def hessian(self, w):
        w = self._check_w(w)
        X, y = self.X, self.Y[:, 0]
        n, d = X.shape
        lay1, lay2 = self.layers
        m = lay1.m_out
        s2 = lay2.scale
        fw = self._forward(w, X, 2)
        v = fw.Ws[1][0]                       # (m,)
        d1 = fw.d1[0]
        d2 = fw.d2[0] if fw.d2[0] is not None else None
        c = 1.0 / n if self.reduction == "mean" else 1.0
        r = (fw.F[:, 0] - y) * c              # dl/dF
        P = self.num_params
        mdW = m * d
        # Jacobian wrt W: J[i, (j,a)] = s2 v_j sigma'(z_ij) x_ia ; wrt v: s2 sigma(z_ij)
        A = d1 * (s2 * v)                     # (n, m)
        if lay2.trainable:
            J = np.empty((n, P))
            _split_view(J[:, :mdW], (n, m, d))[...] = A[:, :, None] * X[:, None, :]
            J[:, mdW:] = s2 * fw.hs[1]
        else:
            J = (A[:, :, None] * X[:, None, :]).reshape(n, mdW)
        H = J.T @ J
        if c != 1.0:
            H *= c
        H4 = _split_view(H[:mdW, :mdW], (m, d, m, d))
        if d2 is not None:
            # blockdiag_j sum_i r_i s2 v_j sigma''(z_ij) x_i x_i^T
            Cw = (r[:, None] * d2) * (s2 * v)          # (n, m)
            blocks = (X.T @ (Cw[:, :, None] * X[:, None, :]).reshape(n, mdW)).reshape(d, m, d)
            jj = np.arange(m)
            H4[jj, :, jj, :] += blocks.transpose(1, 0, 2)
        if lay2.trainable:
            # d^2 F / dW_j dv_j = s2 sigma'(z_ij) x_i
            cross = (X.T @ (r[:, None] * d1 * s2)).T      # (m, d): entry (j, a)
            jj = np.arange(m)
            Hc = _split_view(H[:mdW, mdW:], (m, d, m))
            Hc[jj, :, jj] += cross
            Hc2 = _split_view(H[mdW:, :mdW], (m, m, d))
            Hc2[jj, jj, :] += cross
        return H


# --------------------------------------------------------------------------
# Factories
# --------------------------------------------------------------------------
def _as_targets(Y):
    Y = np.asarray(Y, dtype=np.float64)
    return Y.reshape(-1, 1) if Y.ndim == 1 else Y


def make_least_squares(X, Y, reduction="sum"):
    """l(W) = 0.5 ||X W^T - Y||^2 (sum) with W of shape (k, d)."""
    X = np.asarray(X, dtype=np.float64)
    Y = _as_targets(Y)
    lay = _Layer(Y.shape[1], X.shape[1], 1.0, False, True, wname="W")
    return _Network(X, Y, [lay], "identity", False, "square", reduction)


def make_deep_linear(X, Y, widths, reduction="sum"):
    """Deep linear network W_{L+1} ... W_1 x, identity activations, s_l = 1."""
    X = np.asarray(X, dtype=np.float64)
    Y = _as_targets(Y)
    dims = [X.shape[1]] + [int(m) for m in widths] + [Y.shape[1]]
    layers = [_Layer(dims[i + 1], dims[i], 1.0, False, True,
                     wname=f"W{i + 1}", bname=f"b{i + 1}") for i in range(len(dims) - 1)]
    return _Network(X, Y, layers, "identity", False, "square", reduction)


def make_shallow(X, y, width, activation="tanh", output_weights=None,
                 train_output=False, reduction="sum"):
    """Two-layer net F(x) = (1/sqrt(m)) v . sigma(W x), square loss, k = 1."""
    X = np.asarray(X, dtype=np.float64)
    Y = _as_targets(y)
    if Y.shape[1] != 1:
        raise ValueError("make_shallow expects a single output")
    m = int(width)
    if output_weights is None:
        v = np.where(np.arange(m) % 2 == 0, 1.0, -1.0)
    else:
        v = np.asarray(output_weights, dtype=np.float64).reshape(m)
    l1 = _Layer(m, X.shape[1], 1.0, False, True, wname="W")
    l2 = _Layer(1, m, 1.0 / math.sqrt(m), False, bool(train_output),
                W_fixed=v.reshape(1, m), wname="v")
    net = _Shallow(X, Y, [l1, l2], activation, False, "square", reduction)
    net.output_weights = v.copy()
    return net


def make_mlp(X, Y, widths, activation="tanh", parameterization="ntk", bias=False,
             residual=False, loss="square", reduction="sum", num_classes=None):
    """Multi-layer perceptron; hidden widths `widths`; last layer linear.

    parameterization "ntk": s_l = 1/sqrt(m_{l-1}) for all layers; "standard": s_l = 1.
    For cross-entropy pass integer labels as Y (and optionally num_classes).
    """
    X = np.asarray(X, dtype=np.float64)
    lt = _norm_loss(loss)
    if lt == "square":
        Y = _as_targets(Y)
        k = Y.shape[1]
    else:
        Y = np.asarray(Y).astype(np.intp).reshape(-1)
        k = int(num_classes) if num_classes is not None else int(Y.max()) + 1
    par = parameterization.lower()
    if par not in ("ntk", "standard"):
        raise ValueError(f"unknown parameterization {parameterization!r}")
    dims = [X.shape[1]] + [int(m) for m in widths] + [k]
    layers = []
    for i in range(len(dims) - 1):
        s = 1.0 / math.sqrt(dims[i]) if par == "ntk" else 1.0
        layers.append(_Layer(dims[i + 1], dims[i], s, bias, True,
                             wname=f"W{i + 1}", bname=f"b{i + 1}"))
    return _Network(X, Y, layers, activation, residual, lt, reduction, num_classes=k)


class _ProductToy:
    """f(x) = 0.5 (prod_k x_k - 1)^2 ; n = 1, k = 1, square loss (sum)."""

    def __init__(self, d):
        self.d = int(d)
        self.num_params = self.d
        self.n = 1
        self.k = 1

    def _check_w(self, w):
        w = np.asarray(w, dtype=np.float64)
        if w.shape != (self.d,):
            raise ValueError(f"w must have shape ({self.d},)")
        return w

    @staticmethod
    def _count(samples):
        if samples is None:
            return 1
        idx = np.asarray(samples, dtype=np.intp).reshape(-1)
        if np.any((idx != 0) & (idx != -1)):
            raise IndexError("product toy has a single sample")
        return idx.size

    @staticmethod
    def _pre_post(x):
        """pre[k] = prod_{j<k} x_j, post[k] = prod_{j>k} x_j (no division)."""
        d = x.size
        pre = np.ones(d)
        post = np.ones(d)
        if d > 1:
            pre[1:] = np.cumprod(x[:-1])
            post[:-1] = np.cumprod(x[::-1][:-1])[::-1]
        return pre, post

    def _F_grad(self, x):
        pre, post = self._pre_post(x)
        F = pre[-1] * x[-1]
        return F, pre * post, pre, post

    def _d2F(self, x, pre, post, rows=None):
        """Rows of the Hessian of F: M[k, l] = prod_{j != k, l} x_j, M[k, k] = 0."""
        d = x.size
        r = np.arange(d) if rows is None else rows
        jj = np.arange(d)
        # upper part (l > k): pre[k] * prod_{k<j<l} x_j * post[l]
        T = np.where(jj[None, :] > r[:, None], x[None, :], 1.0)
        C = np.cumprod(T, axis=1)                          # prod_{k<j<=l}
        Cs = np.ones_like(C)
        Cs[:, 1:] = C[:, :-1]                              # prod_{k<j<l}
        U = pre[r][:, None] * Cs * post[None, :]
        # lower part (l < k): pre[l] * prod_{l<j<k} x_j * post[k]
        T2 = np.where(jj[None, :] < r[:, None], x[None, :], 1.0)
        C2 = np.cumprod(T2[:, ::-1], axis=1)[:, ::-1]      # prod_{l<=j<k}
        Cs2 = np.ones_like(C2)
        Cs2[:, :-1] = C2[:, 1:]                            # prod_{l<j<k}
        Lw = pre[None, :] * Cs2 * post[r][:, None]
        return np.where(jj[None, :] > r[:, None], U, np.where(jj[None, :] < r[:, None], Lw, 0.0))

    def outputs(self, w):
        x = self._check_w(w)
        return np.array([[self._F_grad(x)[0]]])

    def loss(self, w, samples=None):
        x = self._check_w(w)
        F = self._F_grad(x)[0]
        return float(self._count(samples) * 0.5 * (F - 1.0) ** 2)

    def gradient(self, w, samples=None):
        x = self._check_w(w)
        F, gF, _, _ = self._F_grad(x)
        return self._count(samples) * (F - 1.0) * gF

    def hessian(self, w, samples=None):
        x = self._check_w(w)
        F, gF, pre, post = self._F_grad(x)
        H = np.outer(gF, gF) + (F - 1.0) * self._d2F(x, pre, post)
        H = 0.5 * (H + H.T)
        return self._count(samples) * H

    def hvp(self, w, V, samples=None):
        x = self._check_w(w)
        V = np.asarray(V, dtype=np.float64)
        F, gF, pre, post = self._F_grad(x)
        cnt = self._count(samples)
        d = self.d
        out = np.outer(gF, gF @ V) if V.ndim == 2 else gF * (gF @ V)
        chunk = max(1, (1 << 22) // max(d, 1))
        for s in range(0, d, chunk):
            rows = np.arange(s, min(d, s + chunk))
            out[rows] += (F - 1.0) * (self._d2F(x, pre, post, rows) @ V)
        return cnt * out

    def jacobian(self, w):
        x = self._check_w(w)
        return self._F_grad(x)[1][None, :].copy()

    def tangent_kernel(self, w):
        g = self.jacobian(w)
        return g @ g.T

    def gauss_newton(self, w):
        g = self.jacobian(w)[0]
        return np.outer(g, g)

    def unflatten(self, w):
        return {"x": self._check_w(w).copy()}

    def init(self, seed=0):
        return np.random.default_rng(seed).standard_normal(self.d)


def make_product_toy(d):
    """f(x) = 0.5 (prod_k x_k - 1)^2 with closed-form gradient and Hessian."""
    return _ProductToy(d)
