"""The command line: landscope info, bench and spectrum."""
import json
import subprocess
import sys


def run(*args):
    return subprocess.run([sys.executable, "-m", "landscope", *args], capture_output=True, text=True)


def test_info():
    out = run("info")
    assert out.returncode == 0
    for key in ("version", "eigen", "openmp", "threads"):
        assert key in out.stdout


def test_bench_writes_table_and_json(tmp_path):
    path = tmp_path / "bench.json"
    out = run("bench", "--quick", "--problems", "M1", "--repeats", "1", "--json", str(path))
    assert out.returncode == 0, out.stderr
    assert "| M1 | 3,120 | gradient |" in out.stdout
    report = json.loads(path.read_text())
    ops = {r["op"] for r in report["results"]}
    assert {"gradient", "hvp", "tangent_kernel", "hessian", "hvp/gradient"} <= ops
    assert all(r["ratio"] > 0 for r in report["results"])


def test_unknown_command_and_problem():
    assert run("frobnicate").returncode == 2
    out = run("bench", "--problems", "Z9")
    assert out.returncode != 0 and "unknown" in out.stderr


def test_spectrum_on_a_data_file(tmp_path):
    import numpy as np
    import landscope as ls

    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 3))
    y = np.tanh(X[:, 0])
    data = tmp_path / "d.npz"
    np.savez(data, X=X, y=y)
    path = tmp_path / "s.json"
    out = run("spectrum", "--data", str(data), "--width", "30", "--k", "3", "--tol", "1e-10", "--probes", "12",
              "--json", str(path))
    assert out.returncode == 0, out.stderr
    for label in ("top 3 of H", "bottom 3 of H", "lambda_min(K)", "trace(H)", "index"):
        assert label in out.stdout
    report = json.loads(path.read_text())
    net = ls.ShallowNet(X, y, width=30)
    w = net.init(0)
    lam = np.linalg.eigvalsh(net.hessian(w))
    scale = np.abs(lam).max()
    np.testing.assert_allclose(report["top"], lam[-3:], atol=1e-8 * scale)
    np.testing.assert_allclose(report["bottom"], lam[:3], atol=1e-8 * scale)
    np.testing.assert_allclose(report["kernel_lambda_min"], np.linalg.eigvalsh(net.tangent_kernel(w))[0],
                               rtol=1e-8, atol=1e-12)
    assert abs(report["trace"] - lam.sum()) <= 3 * report["trace_error"] + 1e-9 * scale


def test_spectrum_on_a_bench_problem():
    out = run("spectrum", "--problem", "M1", "--k", "3", "--no-progress")
    assert out.returncode == 0, out.stderr
    assert "M1" in out.stdout and "P = 3,120" in out.stdout


def test_spectrum_bad_input(tmp_path):
    out = run("spectrum", "--problem", "Z9")
    assert out.returncode != 0 and "unknown" in out.stderr
    out = run("spectrum", "--data", str(tmp_path / "missing.npz"))
    assert out.returncode != 0 and "--data" in out.stderr


def test_bench_training_writes_table_and_json(tmp_path):
    path = tmp_path / "training.json"
    out = run("bench", "training", "--quick", "--repeats", "1", "--json", str(path))
    assert out.returncode == 0, out.stderr
    assert "| toy | 10 |" in out.stdout and "| S1 | 4,096 |" in out.stdout and "kernel drift ∝ m^" in out.stdout
    report = json.loads(path.read_text())
    assert [r["problem"] for r in report["results"]] == ["toy", "S1", "M1"]
    assert all(r["speedup"] > 0 and r["numpy_step_s"] > 0 for r in report["results"])
    assert all(r["sharpness_products"] >= 1 for r in report["results"][1:])
    assert [r["width"] for r in report["widths"]["rows"]] == [256, 1024, 4096]
