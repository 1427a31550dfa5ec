"""Sweeps and surfaces beyond one process (issue 14): landscope.sweep in this process, on
concurrent.futures executors and on a Dask LocalCluster of 2 worker processes with 1 thread each;
resumable results (out=), retries and recorded errors, a worker killed mid-sweep, and surfaces
and paths through the cluster equal to the in-process ones, bit for bit."""
import concurrent.futures
import os
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

import landscope as ls
from landscope import _distributed
from landscope import landscape as L

pd = pytest.importorskip("pandas")

HERE = os.path.dirname(os.path.abspath(__file__))


# ---------------------------------------------------------------------------- task functions
# Module-level, so that workers and subprocesses import them by name.

def _data(n=10, d=4):
    rng = np.random.default_rng(42)
    X = rng.standard_normal((n, d))
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    return X, rng.standard_normal(n)


def lazy(width, seed, steps=30):
    """The report's width study in small: GD at 1/λ_max(K₀) on a tanh ShallowNet."""
    X, y = _data()
    net = ls.ShallowNet(X, y, width)
    w0 = net.init(seed)
    K0 = net.tangent_kernel(w0)
    lam = np.linalg.eigvalsh(K0)
    traj = ls.train(net, w0, ls.optim.GD(1.0 / lam[-1]), steps, record_every=10,
                    record=("kernel_drift", "kernel_min"), progress=False)
    return {"lambda_min0": lam[0], "loss": traj.loss[-1], "drift": traj.kernel_drift[-1],
            "kernel_min": traj.kernel_min, "distance": traj.distance[-1], "w": traj.w}


def add(a, b, seed=None):
    return {"sum": a + b, "seed": seed}


def threads(tag):
    return {"threads": ls.get_num_threads(), "pid": os.getpid()}


def flaky(i, marks):
    """Raises for i == 3 every time, and for i == 1 on the first call only (a retry fixes it)."""
    if i == 3:
        raise ValueError(f"configuration {i} is bad")
    mark = os.path.join(marks, f"flaky-{i}")
    if i == 1 and not os.path.exists(mark):
        open(mark, "w").close()
        raise RuntimeError("transient")
    return {"square": i * i}


def counted(i, marks, delay=0.0):
    """Leaves a marker file per call (to count them); raises KeyboardInterrupt (Ctrl-C) once
    where a file ``stop-<i>`` says so."""
    with open(os.path.join(marks, f"call-{i}-{time.time_ns()}"), "w"):
        pass
    stop = os.path.join(marks, f"stop-{i}")
    if os.path.exists(stop):
        os.unlink(stop)
        raise KeyboardInterrupt
    time.sleep(delay)
    return {"value": np.sqrt(i) * np.arange(3), "i": i}


def killer(i, marks):
    """Kills its worker process, the first time configuration 2 runs."""
    mark = os.path.join(marks, "killed")
    if i == 2 and not os.path.exists(mark):
        open(mark, "w").close()
        os.kill(os.getpid(), signal.SIGKILL)
    time.sleep(0.05)
    return {"i": i, "cube": float(i) ** 3}


def unpicklable(a):
    """A result that cannot be pickled for a == 1."""
    return {"l": threading.Lock()} if a == 1 else {"a": a}


def scaled(a, scale=1, seed=None):
    return {"v": a * scale, "seed": seed}


def calls(marks, i=None):
    names = [f for f in os.listdir(marks) if f.startswith("call-")]
    return len(names) if i is None else sum(f.startswith(f"call-{i}-") for f in names)


# -------------------------------------------------------------------------------- fixtures

@pytest.fixture
def one_thread():
    """In-process runs on one thread, like the 1-thread workers (results are bit-identical at
    equal thread counts)."""
    ls.set_num_threads(1)
    yield
    ls.set_num_threads(None)


@pytest.fixture(scope="module")
def client():
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0",
                                       silence_logs=50)
    c = distributed.Client(cluster)
    yield c
    c.close()
    cluster.close()


# ----------------------------------------------------------------------------- serial basics

def test_dict_grid_is_the_product_and_list_grid_as_given():
    res = ls.sweep(add, {"a": [1, 2], "b": [10, 20, 30]}, progress=False)
    assert [(c["a"], c["b"]) for c in res.configs] == [(1, 10), (1, 20), (1, 30), (2, 10), (2, 20), (2, 30)]
    assert [v["sum"] for v in res.values] == [11, 21, 31, 12, 22, 32]
    assert res.ok and res.failed == [] and res.attempts == [1] * 6 and len(res) == 6
    assert res.version == ls.__version__ and set(res.versions) == {ls.__version__}
    assert res.seeds == [None] * 6
    res2 = ls.sweep(add, [{"a": 5, "b": 1}, {"b": 2, "a": 7}], progress=False)
    assert [v["sum"] for v in res2.values] == [6, 9]
    df = res.to_pandas()
    assert list(df.columns) == ["a", "b", "sum", "seed", "error"]
    assert df["sum"].tolist() == [11, 21, 31, 12, 22, 32] and df["error"].isna().all()
    assert res[4]["sum"] == 22 and [r["a"] for r in res] == [1, 1, 1, 2, 2, 2]


def test_to_xarray_has_the_grid_as_dimensions():
    pytest.importorskip("xarray")
    res = ls.sweep(lambda a, b: {"s": a * b, "v": np.array([a, b, 0.5])}, {"a": [1, 2], "b": [1, 10, 100]},
                   progress=False)
    ds = res.to_xarray()
    assert ds["s"].dims == ("a", "b") and ds["s"].shape == (2, 3)
    assert ds["s"].sel(a=2, b=100).item() == 200
    assert ds["v"].shape == (2, 3, 3)
    np.testing.assert_array_equal(ds["v"].sel(a=1, b=10).values, [1, 10, 0.5])
    listed = ls.sweep(add, [{"a": 1, "b": 2}, {"a": 3, "b": 4}], progress=False).to_xarray()
    assert listed["sum"].dims == ("config",) and listed["a"].values.tolist() == [1, 3]


def test_seeds_are_derived_per_configuration_and_recorded():
    a = ls.sweep(add, {"a": [1, 2], "b": [3]}, seed=7, progress=False)
    b = ls.sweep(add, [{"a": 2, "b": 3}, {"a": 1, "b": 3}], seed=7, progress=False)
    assert a.seeds == [v["seed"] for v in a.values] and len(set(a.seeds)) == 2
    assert a.seeds == b.seeds[::-1]  # by configuration, not by position
    assert ls.sweep(add, {"a": [1, 2], "b": [3]}, seed=8, progress=False).seeds != a.seeds
    own = ls.sweep(add, [{"a": 1, "b": 3, "seed": 5}], seed=7, progress=False)
    assert own.seeds == [5] and own.values[0]["seed"] == 5


def test_bad_grids_and_arguments():
    with pytest.raises(TypeError, match="grid"):
        ls.sweep(add, "abc", progress=False)
    with pytest.raises(TypeError, match="'a' must be a list"):
        ls.sweep(add, {"a": 3, "b": [1]}, progress=False)
    with pytest.raises(TypeError, match="item 1"):
        ls.sweep(add, [{"a": 1, "b": 1}, 5], progress=False)
    with pytest.raises(ValueError, match="configurations 0 and 1 are the same"):
        ls.sweep(add, [{"a": 1, "b": 1}, {"b": 1, "a": 1}], progress=False)
    with pytest.raises(TypeError, match="fn"):
        ls.sweep(5, {"a": [1]}, progress=False)
    with pytest.raises(ValueError, match="retries"):
        ls.sweep(add, {"a": [1], "b": [1]}, retries=-1, progress=False)
    with pytest.raises(TypeError, match="takes no seed argument"):
        ls.sweep(threads, {"tag": [1]}, seed=0, progress=False)
    with pytest.raises(TypeError, match="client"):
        ls.sweep(add, {"a": [1], "b": [1]}, client=object(), progress=False)
    with pytest.raises(ValueError, match="grid has no configurations"):
        ls.sweep(add, {"a": [], "b": [1]}, progress=False)


def test_a_failing_configuration_is_retried_then_recorded(tmp_path):
    res = ls.sweep(flaky, {"i": range(5), "marks": [str(tmp_path)]}, retries=1, progress=False)
    assert res.failed == [3] and not res.ok
    assert [v and v["square"] for v in res.values] == [0, 1, 4, None, 16]
    assert res.attempts == [1, 2, 1, 2, 1]
    err = res.errors[3]
    assert err["type"] == "ValueError" and err["message"] == "configuration 3 is bad"
    assert "flaky" in err["traceback"]
    assert res.to_pandas()["error"].tolist()[3] == "ValueError: configuration 3 is bad"
    (tmp_path / "x").mkdir()
    once = ls.sweep(flaky, {"i": [1], "marks": [str(tmp_path / "x")]}, retries=0, progress=False)
    assert once.errors[0]["type"] == "RuntimeError" and once.attempts == [1]


def test_ctrl_c_keeps_finished_rows_and_a_rerun_skips_them(tmp_path):
    marks, out = tmp_path / "marks", tmp_path / "out"
    marks.mkdir()
    grid = {"i": list(range(6)), "marks": [str(marks)]}
    full = ls.sweep(counted, grid, progress=False)
    assert calls(marks) == 6
    (marks / "stop-4").touch()
    with pytest.raises(KeyboardInterrupt):
        ls.sweep(counted, grid, out=out, progress=False)
    assert len(os.listdir(out / "rows")) == 4  # 0 … 3 finished and were saved before Ctrl-C
    assert calls(marks) == 6 + 5
    res = ls.sweep(counted, grid, out=out, progress=False)
    assert calls(marks) == 6 + 5 + 2  # only 4 and 5 ran
    assert [calls(marks, i) for i in range(6)] == [2, 2, 2, 2, 3, 2]
    assert res.attempts == [0, 0, 0, 0, 1, 1]
    assert res == full
    pd.testing.assert_frame_equal(res.to_pandas(), full.to_pandas())
    again = ls.sweep(counted, grid, out=out, progress=False)
    assert calls(marks) == 6 + 5 + 2 and again.attempts == [0] * 6 and again == full
    with pytest.raises(ValueError, match="holds another function.s rows"):
        ls.sweep(add, {"a": [1], "b": [2]}, out=out, progress=False)


def test_failed_rows_are_saved_and_run_again(tmp_path):
    (tmp_path / "m").mkdir()
    grid = {"i": range(5), "marks": [str(tmp_path / "m")]}
    first = ls.sweep(flaky, grid, out=tmp_path / "out", retries=0, progress=False)
    assert first.failed == [1, 3]
    assert len(os.listdir(tmp_path / "out" / "rows")) == 5  # failures are written too
    second = ls.sweep(flaky, grid, out=tmp_path / "out", retries=0, progress=False)
    assert second.failed == [3] and second.attempts == [0, 1, 0, 1, 0]


def test_a_killed_run_loses_only_the_running_configuration(tmp_path):
    """SIGKILL a sweep in another process (no chance to clean up), then rerun here: rows written
    before the kill are not computed again, and the table equals an uninterrupted run's."""
    marks, out = tmp_path / "marks", tmp_path / "out"
    marks.mkdir()
    grid = {"i": list(range(8)), "marks": [str(marks)], "delay": [0.15]}
    code = (f"import sys; sys.path.insert(0, {HERE!r}); import landscope as ls; from test_sweep import counted; "
            f"ls.sweep(counted, {grid!r}, out={str(out)!r}, progress=False)")
    proc = subprocess.Popen([sys.executable, "-c", code])
    try:
        deadline = time.time() + 60
        while time.time() < deadline and calls(marks) < 4:
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
    saved = sorted(os.listdir(out / "rows"))
    assert 3 <= len(saved) < 8 and all(f.endswith(".pkl") for f in saved)  # whole rows only, no temporaries
    done_calls = calls(marks)
    res = ls.sweep(counted, grid, out=out, progress=False)
    assert calls(marks) - done_calls == 8 - len(saved)  # only the rows not saved ran
    assert sum(a == 0 for a in res.attempts) == len(saved)
    full = ls.sweep(counted, grid, progress=False)
    assert res == full
    pd.testing.assert_frame_equal(res.to_pandas(), full.to_pandas())


def test_results_that_are_landscope_objects(tmp_path):
    def run(width):
        X, y = _data()
        net = ls.ShallowNet(X, y, width)
        return ls.train(net, net.init(0), ls.optim.GD(0.1), 10, progress=False)

    res = ls.sweep(run, {"width": [4, 8]}, progress=False)
    assert isinstance(res.values[0], ls.Trajectory) and res.row(1)["result"] is res.values[1]
    assert "result" in res.to_pandas().columns


def test_thread_budget_is_exclusive_above_one_thread():
    before = ls.get_num_threads()
    spans = []

    def task(n):
        with _distributed.thread_budget(n):
            start = time.perf_counter()
            got = ls.get_num_threads()
            time.sleep(0.05)
            spans.append((n, start, time.perf_counter(), got))

    ts = [threading.Thread(target=task, args=(n,)) for n in (2, 2, 1, 1)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert sorted(s[3] for s in spans) == [1, 1, 2, 2] and all(n == got for n, _, _, got in spans)
    for n, a0, a1, _ in spans:
        for m, b0, b1, _ in spans:
            if (a0, a1) != (b0, b1) and (n > 1 or m > 1):
                assert a1 <= b0 or b1 <= a0  # a task of 2 threads overlaps no other task
    assert ls.get_num_threads() == before


def test_n_threads_setting_and_executors():
    res = ls.sweep(threads, [{"tag": 0, "n_threads": 1}, {"tag": 1, "n_threads": 2}], progress=False)
    assert [v["threads"] for v in res.values] == [1, 2]
    with concurrent.futures.ThreadPoolExecutor(2) as ex:
        res = ls.sweep(threads, {"tag": range(4)}, client=ex, progress=False)
    assert {v["threads"] for v in res.values} == {max(1, (os.cpu_count() or 1) // 2)}
    grid = {"a": list(range(6)), "b": [1, 2]}
    serial = ls.sweep(add, grid, seed=3, progress=False)
    with concurrent.futures.ProcessPoolExecutor(2, mp_context=__import__("multiprocessing").get_context("spawn")) as ex:
        pooled = ls.sweep(add, grid, seed=3, client=ex, progress=False)
    assert pooled == serial and pooled.where[0] is not None


def nested(tag):
    """A task that runs a sweep of its own on a thread pool."""
    with concurrent.futures.ThreadPoolExecutor(2) as ex:
        inner = ls.sweep(threads, {"tag": [0, 1]}, client=ex, progress=False)
    return {"inner": [v["threads"] for v in inner.values]}


def test_a_task_with_a_budget_can_use_an_executor():
    """The inner tasks compute on the outer task's thread count instead of waiting for its budget."""
    res = ls.sweep(nested, [{"tag": 0, "n_threads": 2}], progress=False)
    assert res.ok and res.values[0]["inner"] == [2, 2]


def test_import_landscope_never_imports_dask():
    code = ("import sys, landscope as ls; ls.sweep(lambda a: {'a': a}, {'a': [1]}, progress=False); "
            "assert not any(m == 'dask' or m.startswith(('dask.', 'distributed')) for m in sys.modules), "
            "sorted(m for m in sys.modules if 'dask' in m or 'distributed' in m)")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_asking_for_dask_without_it_says_how_to_install(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed raises ImportError
    with pytest.raises(ImportError, match=r'pip install "landscope\[dask\]"'):
        ls.sweep(add, {"a": [1], "b": [2]}, client="tcp://127.0.0.1:1", progress=False)
    X, y = _data()
    net = ls.ShallowNet(X, y, 4)
    with pytest.raises(ImportError, match=r'pip install "landscope\[dask\]"'):
        L.surface(net, net.init(0), L.random_directions(net, net.init(0), 1), [0.0, 1.0], client="tcp://127.0.0.1:1",
                  progress=False)
    from landscope.__main__ import main

    assert main(["report", "--workers", "2", "--out", "unused"]) == 2
    assert 'pip install "landscope[dask]"' in capsys.readouterr().err


# ------------------------------------------------------------------------------ on the cluster

def test_width_seed_sweep_on_the_cluster_equals_the_serial_run(client, one_thread):
    grid = {"width": [16, 64, 256, 1024], "seed": [0, 1, 2]}
    serial = ls.sweep(lazy, grid, progress=False)
    remote = ls.sweep(lazy, grid, client=client, progress=False)
    assert remote.ok and serial.ok
    assert remote == serial  # every number and array bit-identical
    for a, b in zip(serial.values, remote.values):
        np.testing.assert_array_equal(a["w"], b["w"])
        assert a["drift"] == b["drift"] and a["lambda_min0"] == b["lambda_min0"]
    pd.testing.assert_frame_equal(remote.to_pandas().drop(columns=["w", "kernel_min"]),
                                  serial.to_pandas().drop(columns=["w", "kernel_min"]), check_exact=True)
    assert len(set(remote.where)) == 2  # both workers took part
    assert all(w.startswith("tcp://") for w in remote.where)


def test_tasks_use_the_workers_thread_budget(client):
    ls.set_num_threads(2)
    try:
        res = ls.sweep(threads, [{"tag": 0}, {"tag": 1}, {"tag": 2, "n_threads": 2}], client=client, progress=False)
    finally:
        ls.set_num_threads(None)
    assert [v["threads"] for v in res.values] == [1, 1, 2]


def test_errors_and_retries_on_the_cluster(client, tmp_path):
    res = ls.sweep(flaky, {"i": range(5), "marks": [str(tmp_path)]}, client=client, retries=1, progress=False)
    assert res.failed == [3] and res.errors[3]["message"] == "configuration 3 is bad"
    assert res.attempts == [1, 2, 1, 2, 1]
    assert [v and v["square"] for v in res.values] == [0, 1, 4, None, 16]


def test_a_rerun_on_the_cluster_resumes_a_serial_run(client, tmp_path):
    marks = tmp_path / "m"
    marks.mkdir()
    grid = {"i": list(range(6)), "marks": [str(marks)]}
    (marks / "stop-3").touch()
    with pytest.raises(KeyboardInterrupt):
        ls.sweep(counted, grid, out=tmp_path / "o", progress=False)
    n = calls(marks)
    res = ls.sweep(counted, grid, out=tmp_path / "o", client=client, progress=False)
    assert calls(marks) == n + 3 and res.attempts == [0, 0, 0, 1, 1, 1]
    assert res == ls.sweep(counted, grid, progress=False)


def test_surface_and_path_through_the_cluster_equal_the_in_process_ones(client, tmp_path):
    rng = np.random.default_rng(3)
    X = rng.standard_normal((64, 8))
    net = ls.MLP(X, np.tanh(X @ rng.standard_normal(8)), [32, 32], activation="tanh")
    w = net.init(0)
    D = L.random_directions(net, w, 2, seed=1)
    x, y = np.linspace(-1, 1, 21), np.linspace(-0.5, 0.5, 17)
    here = L.surface(net, w, D, x, y, ("loss", "grad_norm"), progress=False)
    there = L.surface(net, w, D, x, y, ("loss", "grad_norm"), client=client, progress=False)
    assert there == here  # bit-identical
    np.testing.assert_array_equal(there.values["loss"], here.values["loss"])
    saved = L.surface(net, w, D, x, y, ("loss", "grad_norm"), client=client, progress=False, out=tmp_path / "s.npz")
    assert saved == here and L.Surface.load(tmp_path / "s.npz").complete
    one = L.surface(net, w, D[:, 0], x, None, ("loss",), client=client, progress=False)
    assert one == L.surface(net, w, D[:, 0], x, None, ("loss",), progress=False)
    w_b = net.init(1)
    assert (L.interpolate(net, w, w_b, 33, ("loss", "grad_norm"), client=client)
            == L.interpolate(net, w, w_b, 33, ("loss", "grad_norm")))
    Xt = rng.standard_normal((16, 8))
    held = (Xt, np.tanh(Xt[:, 0]))
    assert (L.interpolate(net, w, w_b, 9, data=held, points=True, client=client)
            == L.interpolate(net, w, w_b, 9, data=held, points=True))
    with concurrent.futures.ThreadPoolExecutor(2) as ex:
        assert L.surface(net, w, D, x, y, ("loss", "grad_norm"), client=ex, progress=False) == here


def test_a_worker_killed_mid_sweep_does_not_lose_rows(client, tmp_path):
    """The worker running configuration 2 dies (SIGKILL); its nanny starts a new one and the
    scheduler runs the lost tasks again: every row completes, none with an error."""
    res = ls.sweep(killer, {"i": list(range(8)), "marks": [str(tmp_path)]}, client=client, retries=0, progress=False)
    assert os.path.exists(tmp_path / "killed")
    assert res.ok, res.errors
    assert [v["cube"] for v in res.values] == [float(i) ** 3 for i in range(8)]
    client.wait_for_workers(2, timeout=60)


def test_report_sections_run_their_sweeps_on_the_client(client, tmp_path, monkeypatch):
    from landscope import _report_theory, report

    seen = []
    original = _report_theory.sweep

    def spy(fn, grid, **kw):
        seen.append(kw["client"])
        return original(fn, grid, **kw)

    monkeypatch.setattr(_report_theory, "sweep", spy)
    pytest.importorskip("matplotlib")
    rep = report.report(tmp_path / "r", quick=True, sections=["wide"], progress=False, client=client)
    assert rep.ok and seen == [client]
    assert rep.sections[0].numbers["runs"][0]["width"] == 256 and rep.sections[0].numbers["slope"] < -0.45


def test_report_cli_connects_to_a_scheduler(client, tmp_path, monkeypatch):
    from landscope import report
    from landscope.__main__ import main

    got = {}

    def fake(out, **kw):
        got.update(kw, connected=kw["client"].scheduler_info()["address"])
        return report.Report(folder=str(out), sections=[])

    monkeypatch.setattr(report, "report", fake)
    address = client.scheduler.address
    assert main(["report", "--quick", "--no-progress", "--scheduler", address, "--out", str(tmp_path)]) == 0
    assert got["connected"] == address and got["quick"]
    for bad in (["--scheduler", address, "--workers", "2"],  # one or the other
                ["--data", str(tmp_path / "d.npz"), "--workers", "2"]):  # --data runs no sweep
        with pytest.raises(SystemExit) as info:
            main(["report", *bad])
        assert info.value.code == 2


def test_report_cli_with_an_unreachable_scheduler_is_one_line_and_exit_2(tmp_path, monkeypatch, capsys):
    pytest.importorskip("distributed")
    from landscope import _distributed
    from landscope.__main__ import main

    monkeypatch.setattr(_distributed, "CONNECT_TIMEOUT", "1s")
    code = main(["report", "--quick", "--no-progress", "--scheduler", "tcp://127.0.0.1:1", "--out", str(tmp_path)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1, err
    assert err[0].startswith("landscope report: --scheduler: cannot connect to 'tcp://127.0.0.1:1'")


def _check_unpicklable(res):
    assert res.failed == [1] and res.errors[1]["type"] == "TypeError"
    assert "cannot be pickled" in res.errors[1]["message"] and "lock" in res.errors[1]["message"]
    assert [v and v["a"] for v in res.values] == [0, None, 2]


def test_an_unpicklable_result_is_the_rows_error_with_every_runner(client, tmp_path):
    grid = {"a": [0, 1, 2]}
    _check_unpicklable(ls.sweep(unpicklable, grid, retries=0, progress=False))
    _check_unpicklable(ls.sweep(unpicklable, grid, retries=0, out=tmp_path / "o", progress=False))
    with concurrent.futures.ThreadPoolExecutor(2) as ex:
        _check_unpicklable(ls.sweep(unpicklable, grid, client=ex, retries=0, progress=False))
    _check_unpicklable(ls.sweep(unpicklable, grid, client=client, retries=0, progress=False))


def test_resume_recomputes_rows_of_another_seed_and_refuses_another_function(tmp_path):
    import functools

    out = tmp_path / "o"
    one = ls.sweep(scaled, {"a": [1, 2]}, seed=1, out=out, progress=False)
    two = ls.sweep(scaled, {"a": [1, 2]}, seed=2, out=out, progress=False)
    assert two.attempts == [1, 1] and [v["seed"] for v in two.values] == two.seeds != one.seeds
    again = ls.sweep(scaled, {"a": [1, 2]}, seed=2, out=out, progress=False)
    assert again.attempts == [0, 0] and again.values == two.values
    assert ls.sweep(scaled, {"a": [1, 2]}, out=out, progress=False).attempts == [1, 1]  # no seed passed

    p = tmp_path / "p"
    assert ls.sweep(functools.partial(scaled, scale=1), {"a": [3]}, out=p, progress=False).values[0]["v"] == 3
    assert ls.sweep(functools.partial(scaled, scale=1), {"a": [3]}, out=p, progress=False).attempts == [0]
    with pytest.raises(ValueError, match="out: .* holds another function's rows"):
        ls.sweep(functools.partial(scaled, scale=10), {"a": [3]}, out=p, progress=False)

    f = lambda a: {"v": a}  # noqa: E731
    g = lambda a: {"v": -a}  # noqa: E731
    ls.sweep(f, {"a": [1]}, out=tmp_path / "l", progress=False)
    with pytest.raises(ValueError, match="another function's rows"):
        ls.sweep(g, {"a": [1]}, out=tmp_path / "l", progress=False)


def test_a_budgeted_task_restores_the_default_thread_mode():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    ls.set_num_threads(None)
    before = ls.get_num_threads()
    try:
        with threadpoolctl.threadpool_limits(limits=1, user_api="openmp"):
            assert ls.get_num_threads() == 1
            res = ls.sweep(threads, [{"tag": 0, "n_threads": 1}, {"tag": 1, "n_threads": 2}], progress=False)
            assert [v["threads"] for v in res.values] == [1, 2]
            assert ls.get_num_threads() == 1 and ls._fixed_threads is None  # still following OpenMP
        assert ls.get_num_threads() == before
        ls.set_num_threads(3)
        ls.sweep(threads, [{"tag": 0, "n_threads": 1}], progress=False)
        assert ls.get_num_threads() == 3 and ls._fixed_threads == 3
    finally:
        ls.set_num_threads(None)


@pytest.mark.parametrize("value, error", [(0, ValueError), (-2, ValueError), (1.5, TypeError), (2.0, TypeError),
                                          ("2", TypeError), (True, TypeError)])
def test_bad_n_threads_settings_are_refused_up_front(value, error):
    with pytest.raises(error, match="grid: n_threads"):
        ls.sweep(threads, [{"tag": 0}, {"tag": 1, "n_threads": value}], progress=False)


@pytest.mark.parametrize("grid, out, error, match", [
    ({"a": [1]}, 3, TypeError, "out"),
    ({"a": np.array(5)}, None, TypeError, "grid"),
    ({"a": []}, None, ValueError, "grid has no configurations"),
    ({}, None, ValueError, "grid has no configurations"),
    ([], None, ValueError, "grid has no configurations"),
    ({"a": [1]}, "manifest-list", ValueError, "out"),
])
def test_bad_arguments_name_the_argument(tmp_path, grid, out, error, match):
    if out == "manifest-list":
        out = tmp_path / "o"
        out.mkdir()
        (out / "manifest.json").write_text("[1, 2]")
    with pytest.raises(error, match=match):
        ls.sweep(lambda a: {"a": a}, grid, out=out, progress=False)
