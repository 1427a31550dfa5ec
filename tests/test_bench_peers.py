"""The peers of ``landscope bench --peers`` (bench/peers.py): JAX and torch compute the same loss
derivatives as landscope, and the option fails or skips cleanly.

The peer checks (``_check_*``) run in a child process, one per peer, and skip where jax or torch
is not installed (they are not test dependencies): once JAX has started its threads it warns at
every ``os.fork()``, which later tests of this process do, and torch starts thread pools of its
own, so neither is imported into the test process.
"""
import contextlib
import io
import json
import os
import subprocess
import sys

import numpy as np
import pytest

import landscope as ls
from landscope import problems

import bench_derivatives
import bench_spectra
import peers

BENCH = os.path.dirname(os.path.abspath(bench_derivatives.__file__))
TESTS = os.path.dirname(os.path.abspath(__file__))
TINY = ("tiny_shallow", "tiny_mlp", "tiny_ce")


def _installed(name: str) -> bool:
    from importlib.util import find_spec

    return find_spec(name) is not None


@pytest.mark.parametrize("peer_name", peers.PEERS)
def test_peer_in_a_child_process(peer_name):
    if not _installed(peer_name):
        pytest.skip(f"{peer_name} is not installed")
    script = (f"import sys; sys.path[:0] = [{BENCH!r}, {TESTS!r}]; import test_bench_peers as t; "
              f"t._run_checks({peer_name!r})")
    out = subprocess.run([sys.executable, "-W", "error", "-c", script], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.split() == [f.__name__ for f in CHECKS], out.stdout + out.stderr
    assert out.stderr == ""


def test_a_wrong_description_is_refused():
    model, _ = problems.build("tiny_mlp")
    X, y = problems.data("tiny_mlp")
    with pytest.raises(ValueError, match="parameter blocks"):
        peers.make("jax", model, X, y, dict(bias=True))  # the model has no b1
    with pytest.raises(ValueError, match="unknown peer"):
        peers.make("mxnet", model, X, y)


def test_parse():
    assert peers.parse("JAX, torch,jax") == ["jax", "torch"]
    for bad, match in (("nosuch", "unknown peer 'nosuch'"), (",", "comma-separated"), ("jax,tf", "'tf'")):
        with pytest.raises(ValueError, match=match):
            peers.parse(bad)


def test_a_wrong_peer_is_a_usage_error(capsys):
    for entry in (bench_derivatives.main, bench_spectra.main):
        with pytest.raises(SystemExit) as e:
            entry(["--problems", "M1", "--peers", "nosuch"])
        err = capsys.readouterr().err
        assert e.value.code == 2 and len(err.strip().splitlines()) == 1
        assert "--peers" in err and "nosuch" in err and "jax, torch" in err
    with pytest.raises(SystemExit) as e:
        bench_spectra.main(["--problems", "M1", "--no-scipy", "--peers", "jax"])
    assert e.value.code == 2 and "--peers" in capsys.readouterr().err


@pytest.mark.parametrize("suite", ["bench_derivatives", "bench_spectra"])
def test_a_missing_peer_is_skipped_with_a_note(suite):
    """jax hidden (None in sys.modules makes its import fail): one line, and the suite goes on
    without it (here to the check of --json, which ends the run before any timing)."""
    script = (f"import sys; sys.modules['jax'] = None; sys.path.insert(0, {BENCH!r}); import {suite}; "
              f"sys.exit({suite}.main(['--problems', 'M1', '--peers', 'jax', '--json', 'no/such/dir/x.json']))")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    lines = out.stderr.strip().splitlines()
    assert out.returncode == 2 and len(lines) == 2, out.stderr
    assert lines[0] == "jax: not installed, skipped (pip install jax)"
    assert "--json" in lines[1] and "Traceback" not in out.stderr


# ------------------------------------------------------ checks run in a child process per peer

def _check(peer, model, w, rng):
    v = rng.standard_normal(model.num_params)
    assert peers.rel_error(peer.gradient(w), model.gradient(w)) < 1e-12
    assert peers.rel_error(peer.hvp(w, v), model.hvp(w, v)) < 1e-12
    assert peers.rel_error(peer.hessian(w), model.hessian(w)) < 1e-12
    assert peers.rel_error(peer.matvec(w)(v[:, None]), model.hvp(w, v)) < 1e-12  # as scipy calls it
    for op in ("gradient", "hvp", "hessian"):
        peer.timed(op, w, v)()


def _check_tiny_problems(peer_name):
    for problem in TINY:
        model, w = problems.build(problem)
        peer = peers.for_problem(peer_name, problem)
        assert peer.P == model.num_params and peer.version
        _check(peer, model, w, np.random.default_rng(1))


def _check_other_configurations(peer_name):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((20, 4))
    y, labels = np.tanh(X[:, 0]), rng.integers(0, 3, 20)
    cases = [
        (ls.MLP, (X, y, [5, 5, 5]), dict(activation="gelu", bias=True, residual=True, reduction="mean")),
        (ls.MLP, (X, np.stack([y, -y], axis=1), [6]), dict(activation="softplus", parameterization="standard")),
        (ls.MLP, (X, labels, [5]), dict(activation="silu", loss="cross_entropy", bias=True, num_classes=3)),
        (ls.MLP, (X, y, []), dict(activation="sigmoid")),
        (ls.ShallowNet, (X, y, 6), dict(activation="sigmoid", train_output=True, reduction="mean")),
        (ls.ShallowNet, (X, y, 3), dict(output_weights=[1.0, 2.0, -0.5])),
    ]
    for cls, args, options in cases:
        model = cls(*args, **options)
        peer = peers.make(peer_name, model, args[0], args[1], options)
        _check(peer, model, rng.standard_normal(model.num_params), rng)


def _check_timings_table_and_json(peer_name):
    """The derivatives suite's peer columns, on a tiny problem (the suite itself times S1 … M2)."""
    model, w = problems.build("tiny_mlp")
    v = np.random.default_rng(1).standard_normal(model.num_params)
    expected = {"gradient": model.gradient(w), "hvp": model.hvp(w, v), "hessian": model.hessian(w)}
    expected["hvp"] = expected["hvp"] * (1 + 1e-6)  # a wrong result: not timed, and flagged
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        times = bench_derivatives.time_peers("tiny_mlp", w, v, expected, [peer_name], 1, True, "landscope bench")
    assert f"MISMATCH: {peer_name}'s hvp on tiny_mlp" in err.getvalue()
    assert set(times) == {"gradient", "hvp", "hessian"}
    good, bad = times["gradient"][peer_name], times["hvp"][peer_name]
    assert good["ok"] and good["s"] > 0 and good["rel_error"] < 1e-12 and len(good["runs_s"]) >= 1
    assert not bad["ok"] and bad["s"] is None and 1e-7 < bad["rel_error"] < 1e-5
    results = []
    for op in ("gradient", "hvp"):
        entry = dict(problem="tiny_mlp", P=model.num_params, op=op, numpy_s=1.0, landscope_s=0.5, ratio=0.5,
                     numpy_spread=0.0, landscope_spread=0.0, peers=times[op])
        bench_derivatives.fastest(entry)
        results.append(entry)
    assert results[0]["fastest_peer"] == peer_name and results[0]["ratio_fastest"] == 0.5 / good["s"]
    assert results[1]["fastest_peer"] == "numpy" and results[1]["ratio_fastest"] == 0.5  # the mismatch is left out
    report = dict(machine=dict(numpy=np.__version__, gemm_gflops=1.0), landscope=ls.info(),
                  peers=bench_derivatives.peer_versions([peer_name]), repeats=1, results=results)
    text = bench_derivatives.table(report)
    assert f"| numpy | {peer_name} | landscope |" in text and "landscope / fastest" in text
    assert "MISMATCH" in text and f"{peer_name} {peers.version(peer_name)}" in text
    assert bench_derivatives.mismatches(report) == [("tiny_mlp", "hvp", peer_name)]
    json.dumps(report)


def _check_eigsh(peer_name):
    """The spectra suite: scipy's eigsh over the peer's HVP finds landscope's top eigenvalues."""
    model, w = problems.build("tiny_mlp")
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        out = bench_spectra.peer_eigsh("tiny_mlp", model, w, [peer_name], 3000, 60.0, "landscope bench spectra")
    figures = out[peer_name]
    assert figures["ok"] and figures["status"] == "converged" and figures["products"] > 10
    top = np.linalg.eigvalsh(model.hessian(w))[-bench_spectra.K:]
    assert np.max(np.abs(np.array(figures["eigenvalues"]) - top)) < 1e-6 * np.max(np.abs(top))
    assert f"scipy over {peer_name}'s HVP" in err.getvalue()


CHECKS = (_check_tiny_problems, _check_other_configurations, _check_timings_table_and_json, _check_eigsh)


def _run_checks(peer_name):
    """In the child process: every check, printing each one's name when it passed."""
    for check in CHECKS:
        check(peer_name)
        print(check.__name__, flush=True)
