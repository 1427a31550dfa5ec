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


def _everything(net, w, V):
    return [net.loss(w), net.gradient(w), net.hvp(w, V), net.gauss_newton_vp(w, V), net.jacobian(w),
            net.tangent_kernel(w), net.hessian(w), *net.hessian_parts(w),
            net.gradient(w, samples=np.arange(0, 300, 3))]


def test_set_and_get(restore_threads):
    ls.set_num_threads(1)
    assert ls.get_num_threads() == 1
    ls.set_num_threads(2)
    assert ls.get_num_threads() == 2
    ls.set_num_threads(-1)
    assert ls.get_num_threads() == ls.info()["processors"]
    ls.set_num_threads(None)
    assert ls.get_num_threads() >= 1


def test_bit_identical_per_thread_count_and_close_across(restore_threads):
    nets, rng = _problem()
    for net in nets:
        w = rng.standard_normal(net.num_params)
        V = rng.standard_normal((net.num_params, 2))
        runs = {}
        for t in (1, 2, 2, 1):
            ls.set_num_threads(t)
            runs.setdefault(t, []).append(_everything(net, w, V))
        for t, (a, b) in runs.items():
            for x, y in zip(a, b):
                np.testing.assert_array_equal(x, y)  # same thread count: bit-identical
        for x, y in zip(runs[1][0], runs[2][0]):
            np.testing.assert_allclose(x, y, rtol=1e-12, atol=1e-12 * np.max(np.abs(x)))


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
