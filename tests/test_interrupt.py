"""Ctrl-C (SIGINT) stops every long computation within about a second, and fork-started children
work after the parent ran parallel code.

Each interrupted call is sized to take several seconds uninterrupted (here: 3-10 s, and 10-40 s
for the solvers), the interrupt lands 0.1-0.3 s in, and the call must raise within 3 s of it
(about 0.1 s here; up to 2 s under AddressSanitizer). The bound is the feature ("within about a
second", with room for a loaded or instrumented machine), not a performance claim: a broken
interrupt path runs the whole call.
"""
import _thread
import multiprocessing
import signal
import threading
import time

import numpy as np
import pytest

import landscope as ls

DELAY = 0.2
LATE = 3.0  # seconds after the interrupt by which the call must have stopped


def _stop_time(fn, delay=DELAY, fire=_thread.interrupt_main):
    """Seconds from the interrupt to the KeyboardInterrupt fn raised (and the exception)."""
    timer = threading.Timer(delay, fire)
    start = time.perf_counter()
    timer.start()
    try:
        fn()
    except KeyboardInterrupt as e:
        return time.perf_counter() - start - delay, e
    else:
        try:  # let the pending interrupt land here, not in the next test
            time.sleep(5)
        except KeyboardInterrupt:
            pass
        pytest.fail("the call finished before the interrupt: make the problem bigger")
    finally:
        timer.cancel()


@pytest.fixture(scope="module")
def mlp():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((512, 32))
    net = ls.MLP(X, rng.standard_normal(512), [64, 32])  # P = 4128
    return net, net.init(0)


def test_spectral_density(mlp):
    net, w = mlp
    late, _ = _stop_time(lambda: ls.spectral_density(net.hessian_operator(w), num_probes=400, steps=200,
                                                     progress=False))
    assert late < LATE


def test_trace(mlp):
    net, w = mlp
    late, _ = _stop_time(lambda: ls.trace(net.hessian_operator(w), num_probes=60_000))
    assert late < LATE


def test_eigsh(mlp):
    net, w = mlp
    late, _ = _stop_time(lambda: ls.eigsh(net.hessian_operator(w), k=200, which="SA", tol=1e-14, progress=False))
    assert late < LATE


def test_dense_hessian_and_parts(mlp):
    net, w = mlp
    late, _ = _stop_time(lambda: net.hessian(w))
    assert late < LATE
    late, _ = _stop_time(lambda: net.hessian_parts(w))
    assert late < LATE
    # the model is intact afterwards
    V = np.eye(net.num_params, 3)
    np.testing.assert_array_equal(net.hessian_operator(w) @ V, net.hvp(w, V))


@pytest.fixture(scope="module")
def wide():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((8000, 16))
    net = ls.ShallowNet(X, rng.standard_normal(8000), 1024)
    return net, net.init(0)


def test_jacobian(wide):
    net, w = wide
    late, _ = _stop_time(lambda: net.jacobian(w), delay=0.1)
    assert late < LATE


def test_tangent_kernel(wide):
    net, w = wide
    late, _ = _stop_time(lambda: net.tangent_kernel(w))
    assert late < LATE


def test_training_row_is_retaken_after_an_interrupt():
    """Ctrl-C inside a row's dense Hessian: TrainingInterrupted carries a trajectory whose
    continuation equals the uninterrupted run. Seven rows of about 0.1-0.2 s each: the interrupt
    lands inside one on a fast build too."""
    rng = np.random.default_rng(3)
    net = ls.MLP(rng.standard_normal((256, 16)), rng.standard_normal(256), [48, 32])  # P = 2336
    w = net.init(0)
    kw = dict(record_every=2, record=("hessian_norm",), progress=False)
    late, e = _stop_time(lambda: ls.train(net, w, ls.optim.GD(1e-3), 12, **kw), delay=0.3)
    assert late < LATE
    assert isinstance(e, ls.TrainingInterrupted)
    part = e.trajectory
    assert part.status == "interrupted"
    assert part.current_step % 2 == 0 and len(part) == part.current_step // 2  # stopped inside a row
    cont = ls.train(net, None, None, 12, resume=part, **kw)
    full = ls.train(net, w, ls.optim.GD(1e-3), 12, **kw)
    np.testing.assert_array_equal(cont.step, full.step)
    np.testing.assert_array_equal(cont.hessian_norm, full.hessian_norm)
    np.testing.assert_array_equal(cont.w, full.w)


def test_other_exceptions_from_signal_handlers_pass_through(mlp):
    """A signal handler that raises something else (a timeout, say) gets that exception out."""
    net, w = mlp

    def alarm(signum, frame):
        raise TimeoutError("alarm")

    old = signal.signal(signal.SIGALRM, alarm)
    try:
        signal.setitimer(signal.ITIMER_REAL, DELAY)
        start = time.perf_counter()
        with pytest.raises(TimeoutError, match="alarm"):
            ls.spectral_density(net.hessian_operator(w), num_probes=400, steps=200, progress=False)
        assert time.perf_counter() - start < DELAY + LATE
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def test_a_signal_handler_exception_inside_a_training_row_passes_through():
    """Not swallowed by the loop's interrupt handling (a SIGTERM handler calling sys.exit, say)."""
    rng = np.random.default_rng(3)
    net = ls.MLP(rng.standard_normal((256, 16)), rng.standard_normal(256), [48, 32])

    def alarm(signum, frame):
        raise TimeoutError("alarm")

    old = signal.signal(signal.SIGALRM, alarm)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.3)
        with pytest.raises(TimeoutError, match="alarm"):
            # about 0.1-0.2 s a row: the alarm lands inside one whatever the machine's speed
            ls.train(net, net.init(0), ls.optim.GD(1e-3), 60, record_every=2, record=("hessian_norm",),
                     progress=False)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def test_real_sigint_from_another_thread(mlp):
    """The OS signal (what Ctrl-C sends), not only the interpreter's simulation of it."""
    import os

    net, w = mlp
    late, _ = _stop_time(lambda: net.hessian(w), fire=lambda: os.kill(os.getpid(), signal.SIGINT))
    assert late < LATE


# ---------------------------------------------------------------------------------------------
# fork

_FORK = {}


def _child_loss(seed):
    model = _FORK["model"]
    return model.loss(model.init(seed)), ls.get_num_threads(), ls._core.forked_single_threaded()


def test_forked_children_after_parallel_work():
    rng = np.random.default_rng(2)
    X = rng.standard_normal((2048, 16))
    model = ls.MLP(X, rng.standard_normal(2048), [64, 64])
    _FORK["model"] = model
    ls.set_num_threads(2)
    try:
        model.gradient(model.init(0))  # the parent's OpenMP pool is now running
        expected = [model.loss(model.init(s)) for s in range(4)]
        with multiprocessing.get_context("fork").Pool(2) as pool:
            out = pool.map_async(_child_loss, range(4)).get(timeout=120)
    finally:
        ls.set_num_threads(None)
    np.testing.assert_allclose([o[0] for o in out], expected, rtol=1e-12)  # 1 thread vs 2: rounding
    assert all(o[1] == 1 and o[2] for o in out)
    assert not ls._core.forked_single_threaded()
