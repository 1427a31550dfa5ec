"""Thread control and determinism."""
import threading

import numpy as np
import pytest

import landscope as ls


@pytest.fixture
def restore_threads():
    yield
    ls.set_num_threads(None)


def _problem():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((300, 8)) / np.sqrt(8)
    y = np.tanh(X @ rng.standard_normal(8))
    nets = [ls.ShallowNet(X, y, 64), ls.MLP(X, y, [24, 24], activation="gelu", bias=True)]
    return nets, rng


def test_set_and_get(restore_threads):
    ls.set_num_threads(1)
    assert ls.get_num_threads() == 1
    ls.set_num_threads(2)
    assert ls.get_num_threads() == 2
    ls.set_num_threads(-1)
    assert ls.get_num_threads() == ls.info()["processors"]
    ls.set_num_threads(None)
    assert ls.get_num_threads() >= 1


def _blocked_problem():
    """Small P but enough samples for several sample blocks (the engine sizes blocks by work)."""
    rng = np.random.default_rng(1)
    X = rng.standard_normal((8192, 4)) / 2
    y = np.tanh(X @ rng.standard_normal(4))
    labels = rng.integers(0, 3, 8192)
    nets = [ls.ShallowNet(X, y, 64),
            ls.MLP(X, y, [16, 16], activation="gelu", bias=True),
            ls.MLP(X, labels, [32], loss="cross_entropy", num_classes=3)]
    return nets, rng


def _methods(net, w, V, U, algorithms):
    pt = net.at(w)
    out = {
        "loss": net.loss(w), "gradient": net.gradient(w), "hvp": net.hvp(w, V),
        "gauss_newton_vp": net.gauss_newton_vp(w, V), "jvp": net.jvp(w, V), "vjp": net.vjp(w, U),
        "point.gradient": pt.gradient(), "point.hvp": pt.hvp(V),
        "losses": net.losses(np.column_stack([w, w + 0.01 * V[:, 0]])),
        "losses_in_span": net._m.losses_in_span(w, np.asfortranarray(V[:, :2]), np.array([[0.0, 0.01, -0.02],
                                                                                         [0.0, 0.02, 0.01]])),
        "subset gradient": net.gradient(w, samples=np.arange(0, net.num_samples, 3)),
    }
    if algorithms:  # on one model: they only chain the products above
        H = net.hessian_operator(w)
        out.update({
            "eigsh": ls.eigsh(H, k=2, which="LA", tol=1e-8, seed=2, progress=False).eigenvectors,
            "spectral_density": ls.spectral_density(H, num_probes=2, steps=12, seed=3, progress=False).density,
            "trace": ls.trace(H, num_probes=4, seed=4, progress=False).estimate,
            "train": ls.train(net, w, ls.optim.Momentum(lr=0.05, beta=0.9), 12, record_every=12,
                              record=("sharpness",), progress=False).w,
        })
    return out


def test_results_bit_identical_on_1_2_and_3_threads(restore_threads):
    nets, rng = _blocked_problem()
    for i, net in enumerate(nets):
        assert net._m.sample_blocks(net.num_samples) >= 4  # else the sums cannot depend on threads
        w = net.init(seed=5)
        V = rng.standard_normal((net.num_params, 2))
        U = rng.standard_normal((net.num_outputs, 2))
        runs = {}
        for t in (1, 2, 3):
            ls.set_num_threads(t)
            runs[t] = _methods(net, w, V, U, algorithms=i == 0)
        for t in (2, 3):
            for name, x in runs[1].items():
                np.testing.assert_array_equal(runs[t][name], x, err_msg=f"{type(net).__name__}.{name}, {t} threads")


def test_dense_matrices_bit_identical_on_1_2_and_3_threads(restore_threads):
    nets, rng = _problem()
    for net in nets:
        w = rng.standard_normal(net.num_params)
        runs = {}
        for t in (1, 2, 3):
            ls.set_num_threads(t)
            runs[t] = [net.jacobian(w), net.tangent_kernel(w), net.at(w).tangent_kernel(), net.hessian(w),
                       *net.hessian_parts(w)]
        for t in (2, 3):
            for x, y in zip(runs[1], runs[t]):
                np.testing.assert_array_equal(x, y)


def test_threadpoolctl_limits_openmp(restore_threads):
    threadpoolctl = pytest.importorskip("threadpoolctl")
    if not ls.info()["openmp"]:
        pytest.skip("built without OpenMP")
    with threadpoolctl.threadpool_limits(limits=1, user_api="openmp"):
        assert ls.get_num_threads() == 1
    ls.set_num_threads(None)


def test_concurrent_calls_from_python_threads():
    """Calls release the GIL and are re-entrant: two threads at once give the serial answers."""
    nets, rng = _problem()
    net = nets[1]
    ws = [rng.standard_normal(net.num_params) for _ in range(4)]
    expected = [net.hvp(w, w) for w in ws]
    out = [None] * len(ws)

    def work(i):
        for _ in range(3):
            out[i] = net.hvp(ws[i], ws[i])

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(ws))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for a, b in zip(out, expected):
        np.testing.assert_array_equal(a, b)
