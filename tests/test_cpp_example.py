"""The C++ engine builds and runs without Python. cpp/examples is a CMake project of its own that
finds the installed engine with find_package(landscope) (through ``landscope --cmake-dir``), links
landscope::core and prints what the Python API computes for the same network.

The test extra installs CMake and Eigen (cmeel-eigen) from PyPI, so these tests never skip; a CMake
failure fails the test with CMake's own output."""
import os
import pathlib
import shutil
import subprocess
import sys

import numpy as np
import pytest

import landscope as ls
from landscope._paths import cmake_dir

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _run(cmd):
    """Runs a build command; on failure the test fails with the command's own output. The build
    tools run without a sanitizer preload (.ci/sanitize sets LD_PRELOAD for the interpreter)."""
    env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
    r = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, env=env)
    if r.returncode != 0:
        pytest.fail(f"{' '.join(map(str, cmd))} failed (exit {r.returncode}):\n{r.stdout[-6000:]}\n{r.stderr[-6000:]}",
                    pytrace=False)
    return r.stdout


def _cmake():
    exe = shutil.which("cmake")
    if exe is None:
        pytest.fail("cmake is not installed: pip install 'landscope[test]' brings it from PyPI", pytrace=False)
    return exe


def _build_examples(build, landscope_dir, *extra):
    _run([_cmake(), "-S", ROOT / "cpp" / "examples", "-B", build, "-DCMAKE_BUILD_TYPE=Release",
          f"-Dlandscope_DIR={landscope_dir}", *extra])
    _run([_cmake(), "--build", build, "-j", "2"])
    out = _run([build / "mlp_example"])
    return dict(line.split(" ", 1) for line in out.strip().splitlines())


def test_cmake_dir_cli():
    out = subprocess.run([sys.executable, "-m", "landscope", "--cmake-dir"], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == cmake_dir()
    assert (pathlib.Path(out) / "landscopeConfig.cmake").is_file()
    assert (pathlib.Path(out).parents[2] / "include" / "landscope" / "landscope.hpp").is_file()


@pytest.fixture(scope="module")
def example_output(tmp_path_factory):
    return _build_examples(tmp_path_factory.mktemp("cpp-consumer"), cmake_dir())


def check_example(out):
    n, d = 32, 4
    idx = np.arange(n)[:, None] * d + np.arange(d)[None, :]
    X = np.sin(1.0 + idx)
    y = np.tanh(X[:, 0] - 0.5 * X[:, 1])
    net = ls.MLP(X, y, [16, 16], activation="tanh")
    w = net.init(seed=0)
    loss, grad = net.loss_and_gradient(w)
    hv = net.hvp(w, np.ones(net.num_params))
    assert int(out["params"]) == net.num_params
    np.testing.assert_allclose(float(out["loss"]), loss, rtol=1e-12)
    np.testing.assert_allclose(float(out["grad_norm"]), np.linalg.norm(grad), rtol=1e-12)
    np.testing.assert_allclose([float(t) for t in out["grad[0:3]"].split()], grad[:3], rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(float(out["hvp_norm"]), np.linalg.norm(hv), rtol=1e-12)
    np.testing.assert_allclose(float(out["vHv"]), hv.sum(), rtol=1e-10)
    lam = np.linalg.eigvalsh(net.hessian(w))
    assert out["converged"] == "1"
    np.testing.assert_allclose([float(t) for t in out["eigenvalues"].split()], np.r_[lam[:3], lam[-3:]],
                               rtol=1e-9, atol=1e-9 * abs(lam).max())
    # The training run, against the same run from Python (the example may be built for another
    # instruction set, so rounding differs and can grow over 100 steps).
    traj = ls.train(net, w, ls.optim.Adam(0.01), 100, schedule=ls.schedules.warmup_cosine(10, 100),
                    record_every=50, record=("sharpness",), progress=False)
    assert out["train_status"] == "budget"
    np.testing.assert_allclose([float(t) for t in out["train_loss"].split()], traj.loss, rtol=1e-8)
    np.testing.assert_allclose([float(t) for t in out["train_sharpness"].split()], traj.sharpness, rtol=1e-8)
    np.testing.assert_allclose([float(t) for t in out["train_w[0:2]"].split()], traj.w[:2], rtol=1e-8)


def test_installed_package_links_and_matches_python(example_output):
    """find_package(landscope) on the installed wheel: the example links landscope::core."""
    check_example(example_output)


@pytest.mark.slow
def test_source_build_installs_a_cmake_package(tmp_path):
    """From the source tree: configure, build, `cmake --install`, then the examples project
    finds that prefix (about two minutes: it compiles the core)."""
    prefix = _run([sys.executable, "-m", "cmeel", "cmake"]).strip()  # the test extra's Eigen
    build, install = tmp_path / "build", tmp_path / "install"
    _run([_cmake(), "-S", ROOT, "-B", build, "-DCMAKE_BUILD_TYPE=Release", f"-DCMAKE_PREFIX_PATH={prefix}"])
    _run([_cmake(), "--build", build, "-j", "2"])
    _run([_cmake(), "--install", build, "--prefix", install])
    assert (install / "include" / "landscope" / "landscope.hpp").is_file()
    assert list((install / "lib").glob("*landscope_core*"))
    check_example(_build_examples(tmp_path / "examples", install / "lib" / "cmake" / "landscope",
                                  f"-DCMAKE_PREFIX_PATH={prefix}"))
