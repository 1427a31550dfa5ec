"""The command line: landscope info and landscope bench."""
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
