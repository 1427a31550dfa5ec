"""The command line (landscope info, bench and spectrum) and the progress output policy.

The bench suites are tested through the repository's bench/ modules (pytest's ``pythonpath`` in
pyproject.toml puts bench/ on sys.path): an editable install maps ``landscope.bench`` to the
copies made at install time.
"""
import io
import json
import os
import re
import subprocess
import sys
import threading

import numpy as np
import pytest

import landscope as ls
from landscope import _progress
from landscope.__main__ import main

import bench_derivatives
import bench_spectra
import bench_training


def run(*args, **kw):
    return subprocess.run([sys.executable, "-m", "landscope", *args], capture_output=True, text=True, **kw)


def cli(capsys, *args, entry=main):
    """(exit code, stdout, stderr) of the CLI called in this process."""
    try:
        code = entry(list(args))
    except SystemExit as e:
        code = e.code
    out, err = capsys.readouterr()
    return code, out, err


def assert_usage_error(code, err, *names):
    """Exit code 2, one line on stderr naming the argument, no traceback."""
    assert code == 2, err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err
    for name in names:
        assert name in err, err


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli")
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 3))
    y = np.tanh(X[:, 0])
    paths = {name: str(d / name) for name in ("f.npz", "badw.npz", "ints.npz", "noy.npz", "X1d.npz", "nan.npz",
                                              "text.npz", "trunc.npz", "arr.npy", "tiny.npz")}
    np.savez(paths["f.npz"], X=X, y=y)
    np.savez(paths["badw.npz"], X=X, y=y, w=np.zeros(7))
    np.savez(paths["ints.npz"], X=X, y=(X[:, 0] > 0).astype(np.int64))
    np.savez(paths["noy.npz"], X=X)
    np.savez(paths["X1d.npz"], X=X[:, 0], y=y)
    np.savez(paths["nan.npz"], X=np.where(X > 1, np.nan, X), y=y)
    np.save(paths["arr.npy"], X)
    with open(paths["text.npz"], "w") as f:
        f.write("X,y\n1,2\n")
    with open(paths["f.npz"], "rb") as f:
        raw = f.read()
    with open(paths["trunc.npz"], "wb") as f:
        f.write(raw[: len(raw) // 2])
    np.savez(paths["tiny.npz"], X=X[:12], y=y[:12])
    paths["dir"] = str(d)
    paths["nodir"] = str(d / "no" / "such" / "out.json")
    return paths


# ------------------------------------------------------------------------------------------ info

def test_info():
    out = run("info")
    assert out.returncode == 0
    for key in ("version", "eigen", "gemm", "openmp", "threads"):
        assert key in out.stdout


def test_version_and_cmake_dir(capsys):
    code, out, err = cli(capsys, "--version")
    assert code == 0 and out == f"landscope {ls.__version__}\n" and err == ""
    from landscope._paths import cmake_dir

    code, out, err = cli(capsys, "--cmake-dir")
    assert code == 0 and out == cmake_dir() + "\n" and err == ""


def test_help_lists_commands_and_defaults(capsys):
    def cli(*args, entry=main):  # help text with its line breaks undone
        code, out, err = globals()["cli"](capsys, *args, entry=entry)
        return code, " ".join(out.split()), err

    code, out, _ = cli("--help")
    assert code == 0 and all(c in out for c in ("info", "bench", "spectrum", "--version", "--cmake-dir"))
    code, out, _ = cli("spectrum", "--help")
    assert code == 0
    for text in ("(default: 10)", "(default: 1e-08)", "(default: 30)", "(default: S1", "(default: 256)",
                 "(default: 64,64)", "(default: tanh)", "(default: square)", "--loss", "--no-progress"):
        assert text in out, text
    code, out, _ = cli("--help", entry=bench_derivatives.main)
    assert code == 0 and "(default: S1,S2,M1,M2)" in out and "(default: 3 with --quick, else 9)" in out
    code, out, _ = cli("--help", entry=bench_spectra.main)
    assert code == 0 and "(default: 3000)" in out and "(default: 150.0)" in out and "(default: 1000 with" in out
    code, out, _ = cli("--help", entry=bench_training.main)
    assert code == 0 and "(default: 3 with --quick, else 7)" in out


# ------------------------------------------------------------------------------------ bad input

BAD_SPECTRUM = [
    (["--data", "f.npz", "--model", "mlp", "--widths", "32,x"], ["--widths"]),
    (["--data", "f.npz", "--widths", "[32,32]"], ["--widths", "--model mlp"]),
    (["--data", "f.npz", "--activation", "swish"], ["--activation", "swish"]),
    (["--data", "f.npz", "--k", "0"], ["--k"]),
    (["--data", "f.npz", "--k", "5000"], ["--k", "5000"]),
    (["--data", "f.npz", "--k", "ten"], ["--k"]),
    (["--data", "badw.npz"], ["--data", "w"]),
    (["--data", "ints.npz"], ["--data", "--loss cross_entropy"]),
    (["--data", "f.npz", "--loss", "cross_entropy"], ["--data", "integer"]),
    (["--data", "ints.npz", "--loss", "cross_entropy", "--model", "shallow"], ["--loss", "--model mlp"]),
    (["--data", "missing.npz"], ["--data", "no such file"]),
    (["--data", "text.npz"], ["--data", "not an .npz"]),
    (["--data", "arr.npy"], ["--data", ".npy"]),
    (["--data", "trunc.npz"], ["--data", "cannot read"]),
    (["--data", "noy.npz"], ["--data", "'y'"]),
    (["--data", "X1d.npz"], ["--data", "X"]),
    (["--data", "nan.npz"], ["--data", "NaN"]),
    (["--data", "dir"], ["--data", "directory"]),
    (["--data", "f.npz", "--problem", "S1"], ["--problem", "--data"]),
    (["--data", "f.npz", "--model", "mlp", "--width", "30"], ["--width"]),
    (["--problem", "S1", "--width", "30"], ["--width", "--data"]),
    (["--loss", "cross_entropy"], ["--loss", "--data"]),
    (["--problem", "Z9"], ["--problem", "Z9"]),
    (["--tol", "2"], ["--tol"]),
    (["--tol", "nan"], ["--tol"]),
    (["--probes", "2"], ["--probes"]),
    (["--seed", "-1"], ["--seed"]),
    (["--json", "nodir"], ["--json"]),
    (["--json", "dir"], ["--json", "directory"]),
    (["--progress", "--no-progress"], ["--no-progress"]),
    (["--bogus"], ["--bogus"]),
]


@pytest.mark.parametrize("args, names", BAD_SPECTRUM, ids=[" ".join(a) for a, _ in BAD_SPECTRUM])
def test_spectrum_bad_input(capsys, files, args, names):
    args = [files.get(a, a) for a in args]
    code, out, err = cli(capsys, "spectrum", *args)
    assert_usage_error(code, err, "landscope spectrum:", *names)
    assert out == ""


@pytest.mark.parametrize("args, names", [
    (["frobnicate"], ["frobnicate"]),
    (["bench", "frobnicate"], ["landscope bench:", "frobnicate"]),
    (["info", "extra"], ["landscope info:", "extra"]),
    (["--version", "info"], ["--version"]),
    (["--frobnicate"], ["--frobnicate"]),
])
def test_command_bad_input(capsys, args, names):
    code, _, err = cli(capsys, *args)
    assert_usage_error(code, err, *names)


def test_bad_input_in_a_subprocess(files):
    """The same through the real entry point: the exit code, one line and no traceback."""
    out = run("spectrum", "--data", files["f.npz"], "--model", "mlp", "--widths", "[32,x]")
    assert_usage_error(out.returncode, out.stderr, "landscope spectrum:", "--widths")
    out = run("bench", "--problems", "Z9")
    assert out.returncode == 2 and "unknown" in out.stderr and "Traceback" not in out.stderr


@pytest.mark.parametrize("suite, args, names", [
    (bench_derivatives, ["--problems", "Z9"], ["--problems", "Z9"]),
    (bench_derivatives, ["--problems", ","], ["--problems"]),
    (bench_derivatives, ["--repeats", "0"], ["--repeats"]),
    (bench_derivatives, ["--repeats", "many"], ["--repeats"]),
    (bench_derivatives, ["--json", "nodir"], ["--json"]),
    (bench_derivatives, ["--bogus"], ["--bogus"]),
    (bench_spectra, ["--problems", "S1,Q"], ["--problems", "Q"]),
    (bench_spectra, ["--dense-only", "--problems", "S1"], ["--problems", "--dense-only"]),
    (bench_spectra, ["--dense-sizes", "1e3"], ["--dense-sizes"]),
    (bench_spectra, ["--dense-sizes", "10000000"], ["--dense-sizes", "GB"]),
    (bench_spectra, ["--repeats", "-2"], ["--repeats"]),
    (bench_spectra, ["--budget", "0"], ["--budget"]),
    (bench_spectra, ["--scipy-seconds", "0"], ["--scipy-seconds"]),
    (bench_spectra, ["--json", "dir"], ["--json"]),
    (bench_training, ["--repeats", "0"], ["--repeats"]),
    (bench_training, ["--json", "nodir"], ["--json"]),
    (bench_training, ["--problems", "S1"], ["--problems"]),
])
def test_bench_bad_input(capsys, files, suite, args, names):
    args = [files.get(a, a) for a in args]
    code, out, err = cli(capsys, *args, entry=suite.main)
    assert_usage_error(code, err, *names)
    assert out == ""


def test_api_errors_become_one_line(capsys, monkeypatch):
    """What only the landscope API detects ends the same way: one line, exit code 2."""
    import landscope._spectrum_cli as spectrum

    for error in (ValueError("k: expected k < n = 5, got 7\nmore"), TypeError("X: expected an array"),
                  MemoryError("eigsh: a Lanczos basis needs 9 GB")):
        def fail(argv, error=error):
            raise error

        monkeypatch.setattr(spectrum, "main", fail)
        code, _, err = cli(capsys, "spectrum")
        assert_usage_error(code, err)
        assert err == f"landscope spectrum: {str(error).splitlines()[0]}\n"


def test_ctrl_c(capsys, monkeypatch):
    import landscope._spectrum_cli as spectrum

    def interrupted(argv):
        raise KeyboardInterrupt

    monkeypatch.setattr(spectrum, "main", interrupted)
    code, _, err = cli(capsys, "spectrum")
    assert code == 130 and err == "landscope: interrupted\n"


def test_ctrl_c_in_a_subprocess():
    """A real SIGINT while a command runs: exit code 130, one line, no traceback."""
    code = ("import os, signal, sys, threading, time\n"
            "import landscope._spectrum_cli as s\n"
            "s.main = lambda argv: time.sleep(30)\n"
            "threading.Timer(0.3, lambda: os.kill(os.getpid(), signal.SIGINT)).start()\n"
            "from landscope.__main__ import main\n"
            "sys.exit(main(['spectrum']))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 130 and out.stderr == "landscope: interrupted\n"


# -------------------------------------------------------------------------------------- spectrum

def test_spectrum_on_a_data_file(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 3))
    y = np.tanh(X[:, 0])
    data = tmp_path / "d.npz"
    np.savez(data, X=X, y=y)
    path = tmp_path / "s.json"
    out = run("spectrum", "--data", str(data), "--width", "30", "--k", "3", "--tol", "1e-10", "--probes", "12",
              "--json", str(path))
    assert out.returncode == 0, out.stderr
    assert out.stderr == ""  # no progress output when stderr is not a terminal
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


def test_spectrum_cross_entropy(capsys, files, tmp_path):
    path = tmp_path / "ce.json"
    code, out, err = cli(capsys, "spectrum", "--data", files["ints.npz"], "--loss", "cross_entropy", "--widths",
                         "[4]", "--k", "8", "--tol", "1e-10", "--probes", "8", "--json", str(path))
    assert code == 0, err
    assert "cross_entropy" in out and "mlp widths 4" in out
    report = json.loads(path.read_text())
    d = np.load(files["ints.npz"])
    net = ls.MLP(d["X"], d["y"], [4], loss="cross_entropy")
    lam = np.linalg.eigvalsh(net.hessian(net.init(0)))
    assert report["P"] == net.num_params == 20
    scale = np.abs(lam).max()
    np.testing.assert_allclose(report["top"], lam[-8:], atol=1e-8 * scale)
    np.testing.assert_allclose(report["bottom"], lam[:8], atol=1e-8 * scale)
    if report["index_exact"]:
        assert report["index"] == np.sum(lam < -1e-6 * max(scale, 1.0))


def test_spectrum_num_classes(capsys, files, tmp_path):
    """Labels in which a class does not occur need --num-classes (one line naming it, exit 2)."""
    d = np.load(files["ints.npz"])
    path = tmp_path / "gap.npz"
    np.savez(path, X=d["X"], y=2 * d["y"])  # labels 0 and 2: class 1 never occurs
    code, _, err = cli(capsys, "spectrum", "--data", str(path), "--loss", "cross_entropy", "--widths", "4")
    assert code == 2 and "num_classes" in err and len(err.strip().splitlines()) == 1
    code, out, err = cli(capsys, "spectrum", "--data", str(path), "--loss", "cross_entropy", "--widths", "4",
                         "--num-classes", "3", "--k", "4", "--probes", "4", "--no-progress")
    assert code == 0, err
    net = ls.MLP(d["X"], 2 * d["y"], [4], loss="cross_entropy", num_classes=3)
    assert net.output_dim == 3 and f"P = {net.num_params:,}" in out
    code, _, err = cli(capsys, "spectrum", "--data", str(path), "--num-classes", "3")
    assert code == 2 and "--num-classes" in err and "cross_entropy" in err


def test_spectrum_progress_lines(files):
    """--progress on a pipe: whole lines of a bar per phase, no carriage returns; the default shows none."""
    args = ("spectrum", "--data", files["tiny.npz"], "--width", "3", "--k", "2", "--probes", "8")
    quiet = run(*args)
    assert quiet.returncode == 0 and quiet.stderr == ""
    loud = run(*args, "--progress")
    assert loud.returncode == 0, loud.stderr
    assert loud.stdout.splitlines()[0] == quiet.stdout.splitlines()[0]
    assert "\r" not in loud.stderr and loud.stderr.endswith("\n")
    for phase in ("top 2 of H: ", "bottom 2 of H: ", "lambda_min(K): the dense 12 x 12 tangent kernel: done in ",
                  "trace(H): Hutch++ with 8 probes: 100%|"):
        assert phase in loud.stderr, phase
    assert run(*args, "--no-progress").stderr == ""


def test_spectrum_on_a_bench_problem():
    out = run("spectrum", "--problem", "M1", "--k", "3", "--probes", "4", "--no-progress")
    assert out.returncode == 0, out.stderr
    assert "M1" in out.stdout and "P = 3,120" in out.stdout


# ----------------------------------------------------------------------------------------- bench

def test_bench_derivatives_table_and_json(capsys, tmp_path):
    path = tmp_path / "bench.json"
    code, out, err = cli(capsys, "--quick", "--problems", "M1", "--repeats", "1", "--json", str(path),
                         entry=bench_derivatives.main)
    assert code == 0, err
    assert "| M1 | 3,120 | gradient |" in out and "spread" in out
    for verdict in ("target", "met", "MISSED"):
        assert verdict not in out
    report = json.loads(path.read_text())
    ops = {r["op"] for r in report["results"]}
    assert {"gradient", "hvp", "tangent_kernel", "hessian", "hvp/gradient"} <= ops
    assert all(r["ratio"] > 0 for r in report["results"])
    assert all("target" not in r for r in report["results"])
    timed = [r for r in report["results"] if r["landscope_s"] is not None]
    assert all(r["landscope_spread"] >= 0 and len(r["landscope_runs_s"]) >= 1 for r in timed)


def test_bench_spectra_dense_table(capsys, tmp_path):
    path = tmp_path / "spectra.json"
    code, out, err = cli(capsys, "--dense-only", "--dense-sizes", "60", "--repeats", "2", "--no-scipy",
                         "--json", str(path), entry=bench_spectra.main)
    assert code == 0, err
    assert "| 60 | eigh (all pairs) |" in out and "spread" in out and "target" not in out and "met" not in out
    report = json.loads(path.read_text())
    assert [r["op"] for r in report["dense"]] == ["eigh (all pairs)", "eigh (values)"]
    assert all(len(r["landscope_runs_s"]) == 6 and r["numpy_spread"] >= 0 for r in report["dense"])


def test_bench_training_table_and_json(capsys, tmp_path):
    path = tmp_path / "training.json"
    code, out, err = cli(capsys, "--quick", "--repeats", "1", "--json", str(path), entry=bench_training.main)
    assert code == 0, err
    assert "| toy | 10 |" in out and "| S1 | 4,096 |" in out and "kernel drift ∝ m^" in out
    for verdict in ("target", "met", "MISSED"):
        assert verdict not in out
    report = json.loads(path.read_text())
    assert [r["problem"] for r in report["results"]] == ["toy", "S1", "M1"]
    assert all(r["speedup"] > 0 and r["numpy_step_s"] > 0 and "target" not in r for r in report["results"])
    assert all(r["landscope_spread"] == 0 for r in report["results"])  # one run each
    assert all(r["sharpness_products"] >= 1 for r in report["results"][1:])
    assert [r["width"] for r in report["widths"]["rows"]] == [256, 1024, 4096]


def test_bench_warns_when_the_machine_is_busy(capsys, monkeypatch):
    monkeypatch.setattr(os, "getloadavg", lambda: (64.0, 1.0, 1.0))
    monkeypatch.setattr(os, "cpu_count", lambda: 4)
    bench_derivatives.warn_if_busy("landscope bench")
    err = capsys.readouterr().err
    assert err.startswith("landscope bench: warning: the 1-minute load average is 64.0 on 4 cores")
    assert "noisy" in err
    monkeypatch.setattr(os, "getloadavg", lambda: (1.0, 1.0, 1.0))
    bench_derivatives.warn_if_busy("landscope bench")
    assert capsys.readouterr().err == ""


def test_landscope_bench_dispatch():
    out = run("bench", "training", "--help")
    assert out.returncode == 0 and "landscope bench training" in out.stdout


# -------------------------------------------------------------------------------------- progress

def test_progress_argument():
    assert _progress.enabled(True) is True and _progress.enabled(False) is False
    assert _progress.enabled(np.bool_(True)) is True
    assert _progress.enabled(1) is True and _progress.enabled(0) is False
    for bad in (2, "yes", 0.0):
        with pytest.raises(TypeError, match="progress"):
            _progress.enabled(bad)
    with pytest.raises(TypeError, match="progress"):
        ls.eigsh(np.eye(8), k=2, progress="yes")


def _problem():
    rng = np.random.default_rng(0)
    A = rng.standard_normal((300, 300))
    return A + A.T


def _net():
    X = np.random.default_rng(1).standard_normal((20, 3))
    return ls.ShallowNet(X, X[:, 0], width=8)


def _progress_calls(progress):
    """Every entry point with a progress= argument, on small problems."""
    net, A = _net(), np.diag(np.arange(1.0, 41.0))
    w = net.init(0)
    ls.eigsh(_problem(), k=3, progress=progress)
    ls.classify(net, w, progress=progress)
    ls.train(ls.ProductToy(10), np.full(10, 0.9), ls.optim.GD(0.01), 200, progress=progress)
    ls.spectral_density(A, num_probes=8, steps=10, progress=progress)
    ls.trace(A, num_probes=12, progress=progress)
    D = ls.landscape.random_directions(net, w, 1, seed=0)
    ls.landscape.surface(net, w, D, np.linspace(-1, 1, 5), progress=progress)
    ls.landscape.connect(net, w, net.init(1), steps=3, progress=progress)
    ls.landscape.flatness(net, w, ("epsilon_sharpness", "average_sharpness"), samples=4, steps=2,
                          progress=progress)


def test_progress_none_and_false_are_silent_off_a_terminal(capfd):
    assert not sys.stderr.isatty()
    assert _progress.enabled(None) is False
    for progress in (None, False):
        _progress_calls(progress)
        out, err = capfd.readouterr()
        assert out == "" and err == "", progress


def _lines(err: str) -> list:
    assert err and "\r" not in err and err.endswith("\n"), repr(err)
    return err.splitlines()


def test_progress_true_writes_whole_lines_off_a_terminal(capfd):
    """A tqdm bar per call, named after it, as whole lines: the start and the end state here
    (each call is shorter than the 5 s between lines)."""
    ls.eigsh(_problem(), k=3, progress=True)
    lines = _lines(capfd.readouterr().err)
    assert lines[0] == "eigsh LA k=3: 0 products [00:00, ? products/s], filling a basis of 30 vectors"
    assert all(line.startswith("eigsh LA k=3: ") for line in lines)
    assert re.search(r": (\d+) products .*, \d+ restarts?, 3/3 converged$", lines[-1]), lines[-1]
    ls.classify(_net(), _net().init(0), progress=True)
    lines = _lines(capfd.readouterr().err)
    assert lines[0] == "classify: the dense 24 x 24 Hessian and its eigenvalues ... 0.0 s"
    assert re.fullmatch(r"classify: the dense 24 x 24 Hessian and its eigenvalues: done in \d+\.\d s", lines[-1])
    # train reports about every 0.25 s: a run of a few tenths of a second
    ls.train(ls.ProductToy(10), np.full(10, 0.9), ls.optim.GD(1e-3), 8_000_000, record_every=2_000_000,
             progress=True)
    lines = _lines(capfd.readouterr().err)
    assert all(line.startswith("train: ") for line in lines)
    assert "| 8000000/8000000 steps [" in lines[-1] and ", loss " in lines[-1] and "|grad| " in lines[-1]
    ls.train(ls.ProductToy(10), np.full(10, 0.9), ls.optim.GD(0.01), 10**6, tol=1e-6, progress=True)
    assert _lines(capfd.readouterr().err)[-1].endswith(", converged")  # why it stopped short
    A = np.diag(np.arange(1.0, 41.0))
    ls.spectral_density(A, num_probes=8, steps=10, progress=True)
    assert "spectral_density: 100%|" in _lines(capfd.readouterr().err)[-1]
    ls.trace(A, num_probes=30, progress=True, label="tr(A)")
    assert re.match(r"tr\(A\): 100%\|.*\| 30/30 products \[", _lines(capfd.readouterr().err)[-1])
    ls.trace(A, num_probes=12, method="hutchinson", block=5, progress=True)
    assert "| 12/12 products [" in _lines(capfd.readouterr().err)[-1]
    net = _net()
    w = net.init(0)
    D = ls.landscape.random_directions(net, w, 1, seed=0)
    ls.landscape.surface(net, w, D, np.linspace(-1, 1, 5), progress=True)
    assert "surface: 100%|" in _lines(capfd.readouterr().err)[-1]
    ls.landscape.connect(net, w, net.init(1), steps=3, progress=True)
    last = _lines(capfd.readouterr().err)[-1]
    assert "connect: 100%|" in last and "| 3/3 steps [" in last and "sampled loss" in last
    ls.landscape.flatness(net, w, ("lambda_max", "trace", "sam_sharpness", "average_sharpness"), samples=4,
                          steps=2, progress=True)
    err = capfd.readouterr().err
    for name in ("flatness: lambda_max: ", "flatness: trace: 100%|", "flatness: sam_sharpness: 100%|",
                 "| 4/4 draws ["):
        assert name in err, name


def test_bars_rate_limit_off_a_terminal(capsys):
    bar = _progress.bar("work", 1000, progress=True, unit="items")
    assert bar.mininterval == _progress.LINE_INTERVAL == 5.0 and bar.leave
    for _ in range(1000):  # far less than 5 s: the first state and the last one
        bar.update(1)
    bar.close()
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("work:   0%|") and "| 0/1000 items [" in lines[0]
    assert lines[1].startswith("work: 100%|") and "| 1000/1000 items [" in lines[1]
    # the closing redraw repeats a count just written: left out, though its time and rate differ
    log = io.StringIO()
    lines = _progress._Lines(log)
    for text in ("\rwork: 1/2 [00:00, 1.0 it/s]", "\rwork: 1/2 [00:00, 1.0 it/s]", "\rwork: 2/2 [00:05, 0.4 it/s]"):
        lines.write(text)
    lines.closing = True
    lines.write("\rwork: 2/2 [00:05, 0.39 it/s]")
    lines.write("\n")
    assert log.getvalue() == "work: 1/2 [00:00, 1.0 it/s]\nwork: 2/2 [00:05, 0.4 it/s]\n"
    lines.write("\rwork: 3/2 [00:05, 0.6 it/s]")  # a new count is written
    assert log.getvalue().endswith("\nwork: 3/2 [00:05, 0.6 it/s]\n")
    off = _progress.bar("work", 10, progress=False)
    off.update(3)
    off.set_postfix_str("x")
    off.close()
    assert off.disable and off.n == 3 and capsys.readouterr().err == ""


def test_bars_on_a_terminal(capsys, monkeypatch):
    monkeypatch.setattr(_progress, "_stderr_is_terminal", lambda: True)
    import tqdm

    with _progress.bar("work", 4, unit="items") as bar:  # progress=None: shown on a terminal
        assert isinstance(bar, tqdm.tqdm) and bar.mininterval == _progress.TERMINAL_INTERVAL
        bar.update(4)
    err = capsys.readouterr().err
    assert err.startswith("\rwork:   0%|") and "\n" not in err[:-1]
    assert "\rwork: 100%|" in err and err.endswith("]\n")  # redrawn in place, the last state kept
    with _progress.transient():  # the CLI: erased when done
        with _progress.bar("work", 4, unit="items") as bar:
            bar.update(4)
    err = capsys.readouterr().err
    assert err.startswith("\rwork:   0%|") and not err.endswith("\n") and err.rstrip(" ").endswith("\r")
    with _progress.phase("solve", None):
        pass
    err = capsys.readouterr().err
    assert err.startswith("\rsolve ... 0.0 s") and re.search(r"\rsolve: done in 0\.\d s\s*\n$", err)
    with pytest.raises(RuntimeError), _progress.phase("fail", None):
        raise RuntimeError
    assert "done in" not in capsys.readouterr().err  # an error leaves the last state
    assert not any(t.name == "landscope-progress" for t in threading.enumerate())  # the tickers are joined
    with _progress.phase("quiet", False):
        pass
    assert capsys.readouterr().err == ""
