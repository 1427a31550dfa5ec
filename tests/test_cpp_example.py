"""The C++ engine builds and runs without Python: cpp/examples/mlp_example.cpp, built with CMake
against the core target, prints what the Python API computes for the same network."""
import os
import pathlib
import shutil
import subprocess

import numpy as np
import pytest

import landscope as ls

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _cmake_prefix():
    import site

    prefixes = site.getsitepackages() + [site.getusersitepackages()]
    return ";".join(prefixes)


@pytest.fixture(scope="module")
def example_output(tmp_path_factory):
    if shutil.which("cmake") is None:
        pytest.skip("cmake is not installed")
    build = tmp_path_factory.mktemp("cpp-build")
    env = dict(os.environ)
    subprocess.run(["cmake", "-S", str(ROOT), "-B", str(build), "-DLANDSCOPE_EXAMPLES=ON",
                    "-DLANDSCOPE_PYTHON=OFF", "-DCMAKE_BUILD_TYPE=Release",
                    f"-DCMAKE_PREFIX_PATH={_cmake_prefix()}"], check=True, capture_output=True, env=env)
    subprocess.run(["cmake", "--build", str(build), "--target", "mlp_example", "-j", "2"], check=True,
                   capture_output=True, env=env)
    exe = build / "mlp_example"
    out = subprocess.run([str(exe)], check=True, capture_output=True, text=True).stdout
    return dict(line.split(" ", 1) for line in out.strip().splitlines())


def test_cpp_example_matches_python(example_output):
    n, d = 32, 4
    idx = np.arange(n)[:, None] * d + np.arange(d)[None, :]
    X = np.sin(1.0 + idx)
    y = np.tanh(X[:, 0] - 0.5 * X[:, 1])
    net = ls.MLP(X, y, [16, 16], activation="tanh")
    w = net.init(seed=0)
    loss, grad = net.loss_and_gradient(w)
    hv = net.hvp(w, np.ones(net.num_params))
    out = example_output
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
