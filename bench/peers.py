"""JAX and torch implementations of the benchmark models: the peers of ``landscope bench --peers``.

The loss of a landscope ``ShallowNet`` or ``MLP`` written in each framework from the same
definitions as landscope (models.py) and the numpy reference (reference.py), in float64, on the
same flat parameter vector (the blocks and offsets of ``model.unflatten``):

    ShallowNet  F = (1/√m) σ(X Wᵀ) v            v = ±1 (fixed) unless given/trained
    MLP         z_l = h_{l−1} W_lᵀ/√m_{l−1} + b_l (NTK; m_0 = d; "standard": no 1/√m),
                h_l = σ(z_l) (+ h_{l−1} when residual), F = z_{L+1}, h_0 = X
    loss        ½ Σ ‖F_i − y_i‖² or Σ logsumexp(F_i) − F_i[y_i]; "mean" divides by n

Derivatives are each framework's own automatic differentiation:

- ``jax``: ``jax.jit(jax.grad(loss))``; HVP forward-over-reverse, ``jax.jvp(jax.grad(loss))``,
  jitted; the dense Hessian as that jitted HVP on each unit vector in turn (on the CPU faster
  than ``jax.hessian`` or the HVP vmapped over blocks of unit vectors). ``jax_enable_x64`` is
  switched on.
- ``torch``: ``torch.func.grad(loss)``; HVP ``torch.func.vjp`` of ``torch.func.grad``
  (reverse-over-reverse, the double backward of ``torch.autograd.functional.hvp``: on the CPU
  it is faster than forward-over-reverse ``torch.func.jvp`` of the gradient, which
  ``TORCH_HVP = "forward"`` selects); the dense Hessian as ``torch.func.jacrev`` of the
  gradient (that HVP vmapped over chunks of unit vectors; ``torch.func.hessian``'s
  forward-over-reverse is about 4x slower here). float64 tensors on the CPU, torch's own
  thread count.

The frameworks are imported only when a peer is made (``make``); ``available`` says which of the
named ones import, with one line per missing one. A peer's timed calls (``Peer.timed``) run on
inputs already converted to the framework's arrays and wait for the result (JAX dispatches
asynchronously), so the conversion from numpy is not in a peer's time.

    >>> from landscope import problems
    >>> from peers import available, for_problem, rel_error
    >>> model, w = problems.build("M1")
    >>> for name in available(["jax", "torch"]):        # a note on stderr for a missing one
    ...     peer = for_problem(name, "M1")
    ...     assert rel_error(peer.gradient(w), model.gradient(w)) < 1e-10   # numpy in, numpy out
"""
from __future__ import annotations

import importlib
import math
import sys
import warnings

import numpy as np

#: The peers ``--peers`` accepts, and how to install each.
PEERS = ("jax", "torch")
INSTALL = {"jax": "pip install jax", "torch": "pip install torch"}

#: The relative error (2-norm, against landscope) above which a peer's result is a mismatch.
TOLERANCE = 1e-10

#: torch's HVP: "reverse" (torch.func.vjp of torch.func.grad, the double backward of
#: torch.autograd.functional.hvp) or "forward" (torch.func.jvp of torch.func.grad). On the CPU
#: torch's forward mode is the slower one on these networks.
TORCH_HVP = "reverse"

#: Bytes of one chunk of vmapped HVPs in torch's dense Hessian (one activation of the chunk;
#: the chunk is kept between 8 and 64 unit vectors, which measured fastest).
HESSIAN_CHUNK_BYTES = 1 << 24


def parse(text: str) -> list:
    """The peer names of ``--peers`` (comma-separated, case-insensitive, repeats dropped).
    ValueError naming the unknown ones."""
    names = []
    for part in text.split(","):
        name = part.strip().lower()
        if name and name not in names:
            names.append(name)
    unknown = [n for n in names if n not in PEERS]
    if not names:
        raise ValueError(f"expected a comma-separated subset of {','.join(PEERS)}, got {text!r}")
    if unknown:
        raise ValueError(f"unknown peer {', '.join(map(repr, unknown))}; choose from {', '.join(PEERS)}")
    return names


def available(names, echo=None) -> list:
    """The names whose framework imports; for each other one, one line through ``echo``
    (default: stderr), e.g. ``jax: not installed, skipped (pip install jax)``."""
    if echo is None:
        def echo(line):
            print(line, file=sys.stderr, flush=True)
    found = []
    for name in names:
        try:
            importlib.import_module(name)
        except ImportError:
            echo(f"{name}: not installed, skipped ({INSTALL[name]})")
        except Exception as e:  # installed but broken (a missing shared library, a version clash)
            reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            echo(f"{name}: failed to import ({reason}), skipped")
        else:
            found.append(name)
    return found


def version(name: str) -> str:
    return importlib.import_module(name).__version__


# --------------------------------------------------------------------------------- the network

def _layout(model) -> list:
    """[(name, offset, shape)] of the model's trainable blocks, from ``model.unflatten``."""
    P = model.num_params
    blocks = model.unflatten(np.arange(P, dtype=np.float64))
    return [(name, int(b.flat[0]), b.shape) for name, b in blocks.items()]


class _Net:
    """What a framework needs to write the loss: data, layers, activation, loss and layout."""

    def __init__(self, model, X, y, options: dict):
        import landscope

        X = np.ascontiguousarray(X, dtype=np.float64)
        options = dict(options)
        self.X, self.P = X, model.num_params
        self.widest = max(b.shape[0] for b in model.unflatten(np.zeros(self.P)).values() if b.ndim == 2)
        self.activation = options.get("activation", "tanh")
        self.reduction = options.get("reduction", "sum")
        self.blocks = {name: (off, shape) for name, off, shape in _layout(model)}
        n, d = X.shape
        if isinstance(model, landscope.ShallowNet):
            m = model.width
            v = options.get("output_weights")
            v = np.where(np.arange(m) % 2 == 0, 1.0, -1.0) if v is None else np.asarray(v, np.float64).reshape(m)
            # (weight block name or fixed matrix, scale, bias block name)
            self.layers = [("W", 1.0, None), ("v" if options.get("train_output") else v.reshape(1, m),
                                              1.0 / math.sqrt(m), None)]
            self.residual = [False, False]
            self.loss = "square"
        elif isinstance(model, landscope.MLP):
            dims = [d, *model.widths, model.output_dim]
            ntk = options.get("parameterization", "ntk") == "ntk"
            bias = bool(options.get("bias", False))
            self.layers = [(f"W{i + 1}", 1.0 / math.sqrt(dims[i]) if ntk else 1.0, f"b{i + 1}" if bias else None)
                           for i in range(len(dims) - 1)]
            L = len(dims) - 2  # hidden layers
            self.residual = [bool(options.get("residual", False)) and 1 <= i <= L - 1 and dims[i + 1] == dims[i]
                             for i in range(len(dims) - 1)]
            self.loss = options.get("loss", "square")
        else:
            raise TypeError(f"peers: a ShallowNet or an MLP, got {type(model).__name__}")
        if self.loss == "square":
            Y = np.asarray(y, dtype=np.float64)
            self.Y = np.ascontiguousarray(Y.reshape(n, -1))
        else:
            self.Y = np.asarray(y).astype(np.int64).reshape(n)
        missing = [b for layer in self.layers for b in (layer[0], layer[2])
                   if isinstance(b, str) and b not in self.blocks]
        if missing or sum(math.prod(s) for _, s in self.blocks.values()) != self.P:
            raise ValueError(f"peers: the options do not describe the model's parameter blocks "
                             f"({', '.join(self.blocks)})")

    def loss_fn(self, lib):
        """loss(w) in framework ``lib`` (an adapter: ``asarray``, the activation, logsumexp)."""
        X, Y = lib.asarray(self.X), (lib.asarray(self.Y) if self.loss == "square" else lib.labels(self.Y))
        act = lib.activation(self.activation)
        layers = [(w if isinstance(w, str) else lib.asarray(w), s, b) for w, s, b in self.layers]
        blocks, residual, last = self.blocks, self.residual, len(self.layers) - 1
        square, mean, n = self.loss == "square", self.reduction == "mean", self.X.shape[0]

        def block(w, name):
            off, shape = blocks[name]
            return w[off: off + math.prod(shape)].reshape(shape)

        def loss(w):
            h = X
            for i, (W, s, b) in enumerate(layers):
                z = h @ (block(w, W) if isinstance(W, str) else W).T
                if s != 1.0:
                    z = z * s
                if b is not None:
                    z = z + block(w, b)
                if i == last:
                    break
                h = act(z) + h if residual[i] else act(z)
            if square:
                R = z - Y
                value = 0.5 * (R * R).sum()
            else:
                value = lib.logsumexp(z).sum() - lib.take(z, Y).sum()
            return value / n if mean else value

        return loss


# ----------------------------------------------------------------------------------- the peers

class Peer:
    """One framework's loss derivatives of one model. ``gradient``, ``hvp`` and ``hessian``
    take and return numpy arrays; ``timed(op, w, v=None)`` gives a call to time."""

    name = ""

    def __init__(self, net: _Net):
        self.P = net.P
        self.version = version(self.name)

    def gradient(self, w) -> np.ndarray:
        return self._numpy(self._grad(self._in(w)))

    def hvp(self, w, v) -> np.ndarray:
        return self._numpy(self._hvp(self._in(w), self._in(v)))

    def hessian(self, w) -> np.ndarray:
        return self._numpy(self._hessian(self._in(w)))

    def timed(self, op: str, w, v=None):
        """A zero-argument call running ``op`` ("gradient", "hvp" or "hessian") on w (and v)
        converted beforehand, that returns when the result is computed."""
        wn = self._in(w)
        if op == "gradient":
            return lambda: self._wait(self._grad(wn))
        if op == "hvp":
            vn = self._in(v)
            return lambda: self._wait(self._hvp(wn, vn))
        if op == "hessian":
            return lambda: self._wait(self._hessian(wn))
        raise ValueError(f"op: expected gradient, hvp or hessian, got {op!r}")

    def matvec(self, w):
        """v -> H v as numpy (for scipy's LinearOperator), with w converted once."""
        wn = self._in(w)
        return lambda v: self._numpy(self._hvp(wn, self._in(np.ravel(v))))

    def _wait(self, x):
        return x


class _JaxLib:
    def __init__(self, jnp, jax):
        self.jnp, self.jax = jnp, jax

    def asarray(self, a):
        return self.jnp.asarray(a)

    def labels(self, y):
        return self.jnp.asarray(y)

    def activation(self, name):
        jnp, nn = self.jnp, self.jax.nn
        return {"identity": lambda x: x, "tanh": jnp.tanh, "sigmoid": nn.sigmoid, "softplus": nn.softplus,
                "gelu": lambda x: nn.gelu(x, approximate=False), "silu": nn.silu, "relu": nn.relu}[name]

    def logsumexp(self, z):
        return self.jax.scipy.special.logsumexp(z, axis=1)

    def take(self, z, y):
        return self.jnp.take_along_axis(z, y[:, None], axis=1)


class JaxPeer(Peer):
    name = "jax"

    def __init__(self, net: _Net):
        import jax

        jax.config.update("jax_enable_x64", True)
        import jax.numpy as jnp

        super().__init__(net)
        self._jnp = jnp
        loss = net.loss_fn(_JaxLib(jnp, jax))
        grad = jax.grad(loss)

        def hvp(w, v):
            return jax.jvp(grad, (w,), (v,))[1]

        P = net.P

        @jax.jit
        def row(w, i):
            return hvp(w, jnp.zeros(P, dtype=w.dtype).at[i].set(1.0))

        def hessian(w):
            # One jitted HVP per unit vector: on the CPU this beats vmapping the HVP over blocks
            # of unit vectors (jax.hessian, jax.lax.map with batch_size), whose batched products
            # XLA runs more slowly than as many single ones.
            H = np.empty((P, P))
            for i in range(P):
                H[i] = row(w, i)
            return H

        self.loss = jax.jit(loss)
        self._grad, self._hvp, self._hessian = jax.jit(grad), jax.jit(hvp), hessian

    def _in(self, a):
        return self._jnp.asarray(np.asarray(a, dtype=np.float64))

    def _numpy(self, x):
        return np.asarray(x)

    def _wait(self, x):
        return x.block_until_ready() if hasattr(x, "block_until_ready") else x


class _TorchLib:
    def __init__(self, torch):
        self.torch = torch

    def asarray(self, a):
        return self.torch.as_tensor(np.asarray(a, dtype=np.float64))

    def labels(self, y):
        return self.torch.as_tensor(y)

    def activation(self, name):
        t, F = self.torch, self.torch.nn.functional
        return {"identity": lambda x: x, "tanh": t.tanh, "sigmoid": t.sigmoid, "softplus": F.softplus,
                "gelu": F.gelu, "silu": F.silu, "relu": t.relu}[name]

    def logsumexp(self, z):
        return self.torch.logsumexp(z, dim=1)

    def take(self, z, y):
        return self.torch.take_along_dim(z, y[:, None], dim=1)


class TorchPeer(Peer):
    name = "torch"

    def __init__(self, net: _Net):
        import torch
        import torch.func

        super().__init__(net)
        self._torch = torch
        with warnings.catch_warnings():
            # The first forward-mode product loads torch's jvp decompositions through the
            # deprecated torch.jit.script (a FutureWarning from inside torch): load them here, once.
            warnings.filterwarnings("ignore", message=r".*torch\.jit\.script", category=FutureWarning)
            one = torch.ones(1, dtype=torch.float64)
            torch.func.jvp(torch.sin, (one,), (one,))
        loss = net.loss_fn(_TorchLib(torch))
        grad = torch.func.grad(loss)

        def hvp_forward(w, v):  # forward-over-reverse
            return torch.func.jvp(grad, (w,), (v,))[1]

        def hvp_reverse(w, v):  # reverse-over-reverse, as torch.autograd.functional.hvp
            return torch.func.vjp(grad, w)[1](v)[0]

        # jacrev of the gradient: the reverse-over-reverse HVP vmapped over chunks of unit vectors
        # (on the CPU about 4x faster than torch.func.hessian's forward-over-reverse jacfwd).
        chunk = int(min(64, max(8, HESSIAN_CHUNK_BYTES // (8 * net.X.shape[0] * net.widest))))
        hessian = torch.func.jacrev(grad, chunk_size=min(chunk, net.P))

        self.loss = loss
        self.hvp_forward, self.hvp_reverse = hvp_forward, hvp_reverse
        self._grad, self._hessian = grad, hessian
        self._hvp = hvp_reverse if TORCH_HVP == "reverse" else hvp_forward

    def _in(self, a):
        return self._torch.from_numpy(np.array(a, dtype=np.float64))

    def _numpy(self, x):
        return x.detach().numpy()


_CLASSES = {"jax": JaxPeer, "torch": TorchPeer}


def make(name: str, model, X, y, options: dict | None = None) -> Peer:
    """Peer ``name`` ("jax" or "torch") of a landscope ShallowNet or MLP on data (X, y).

    ``options`` are the model's constructor keyword arguments (activation, parameterization,
    bias, residual, loss, reduction, output_weights, train_output; landscope's defaults where
    left out); the layout of the flat parameter vector is read from ``model.unflatten``.
    """
    if name not in _CLASSES:
        raise ValueError(f"name: unknown peer {name!r}; choose from {', '.join(PEERS)}")
    return _CLASSES[name](_Net(model, X, y, options or {}))


def for_problem(name: str, problem: str, seed: int = 0) -> Peer:
    """Peer ``name`` of ``landscope.problems.build(problem, seed)``'s model."""
    from landscope import problems

    model, _ = problems.build(problem, seed)
    X, y = problems.data(problem, seed)
    return make(name, model, X, y, problems.spec(problem)["options"])


def rel_error(a, b) -> float:
    """‖a − b‖ / ‖b‖ (2-norm of the flattened arrays; the absolute error when b = 0)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    scale = float(np.linalg.norm(b))
    err = float(np.linalg.norm(a - b))
    return err / scale if scale > 0 else err
