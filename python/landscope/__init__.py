"""landscope: exact losses, gradients, Hessians, Hessian-vector products, Jacobians and tangent
kernels of over-parameterized models, and their spectra, computed by a C++/Eigen engine.

>>> import numpy as np, landscope
>>> X = np.random.default_rng(0).standard_normal((32, 4)); y = np.tanh(X[:, 0])
>>> net = landscope.ShallowNet(X, y, width=64)
>>> w = net.init(seed=0)
>>> H = net.hessian(w)            # (256, 256), exact
>>> Hv = net.hvp(w, np.ones(net.num_params))
>>> top = landscope.eigsh(net.hessian_operator(w), k=5, which="LA")   # matrix-free Lanczos
>>> traj = landscope.train(net, w, landscope.optim.GD(0.5), 200, record=("sharpness",), progress=False)

Models, optimizers, schedules and results pickle; :func:`sweep` runs a function over a grid of
configurations here, on an executor or on a Dask cluster (``client=``), and keeps every finished
row (``out=``). ``import landscope`` never imports Dask.
"""
from __future__ import annotations

from ._loader import core as _core
from ._loader import isa as _isa
from . import analysis, landscape, optim, problems, schedules, theory
from .models import MLP, DeepLinear, LeastSquares, Model, Point, ProductToy, ShallowNet
from .operators import Operator, as_operator
from .spectra import (
    Classification,
    ConvergenceError,
    EigshResult,
    SpectralDensity,
    TraceEstimate,
    classify,
    eigh,
    eigsh,
    spectral_density,
    trace,
)
from .training import Trajectory, TrainingInterrupted, train
from ._sweep import SweepResult, sweep

__version__ = _core.__version__

__all__ = [
    "Model",
    "Point",
    "LeastSquares",
    "DeepLinear",
    "ProductToy",
    "ShallowNet",
    "MLP",
    "Operator",
    "as_operator",
    "eigh",
    "eigsh",
    "EigshResult",
    "ConvergenceError",
    "spectral_density",
    "SpectralDensity",
    "trace",
    "TraceEstimate",
    "classify",
    "Classification",
    "train",
    "Trajectory",
    "TrainingInterrupted",
    "sweep",
    "SweepResult",
    "analysis",
    "landscape",
    "optim",
    "problems",
    "schedules",
    "theory",
    "set_num_threads",
    "get_num_threads",
    "info",
    "__version__",
]


#: The count fixed by set_num_threads, or None in the OpenMP default mode (what a task's thread
#: budget restores afterwards).
_fixed_threads: int | None = None


def set_num_threads(n: int | None) -> None:
    """Threads for every landscope computation.

    ``n >= 1`` fixes the count; negative ``n`` counts back from the number of processors
    (-1 = all); ``None`` returns to the OpenMP default (``OMP_NUM_THREADS``, or what
    threadpoolctl sets). 0 is an error. Results do not depend on it: the engine sums over
    fixed sample blocks in a fixed order, so 1, 2 or 16 threads give bit-identical numbers.
    """
    global _fixed_threads
    if n is None:
        _core.set_num_threads(0)
        _fixed_threads = None
        return
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"n: expected an integer or None, got {n!r}")
    if n == 0:
        raise ValueError("n: expected a thread count >= 1, a negative count back from the maximum, or None; got 0")
    if n < 0:
        n = max(1, _core.max_threads() + 1 + n)
    _core.set_num_threads(n)
    _fixed_threads = n


def get_num_threads() -> int:
    """Threads the next landscope computation will use."""
    return _core.num_threads()


def info() -> dict:
    """Version, Eigen version, the GEMM backend, SIMD build, OpenMP on/off and thread count.

    The products run on Eigen's own GEMM kernels, on landscope's thread pool ("threads"); no
    BLAS library is linked, so there is no second pool to oversubscribe the cores.
    """
    return {
        "version": __version__,
        "eigen": _core.eigen_version,
        "gemm": "Eigen (built in)",
        "isa": _isa,
        "simd": _core.simd,
        "openmp": bool(_core.has_openmp()),
        "threads": get_num_threads(),
        "processors": _core.max_threads(),
    }
