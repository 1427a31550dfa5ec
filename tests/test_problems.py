"""landscope.problems: every named problem builds, has its documented size, is deterministic; and
the package never imports the benchmarks (bench/) except in the ``landscope bench`` command."""
import ast
import pathlib
import re
import subprocess
import sys

import numpy as np
import pytest

import landscope as ls
from landscope import problems

import bench_derivatives

PACKAGE = pathlib.Path(__file__).resolve().parents[1] / "python" / "landscope"  # the source, however installed

# name -> (model class, n, d, widths, P): the table in the module docstring
DOCUMENTED = {
    "S1": (ls.ShallowNet, 512, 16, (256,), 4096),
    "S2": (ls.ShallowNet, 1024, 32, (1024,), 32768),
    "M1": (ls.MLP, 256, 16, (48, 48), 3120),
    "M2": (ls.MLP, 512, 64, (1024, 1024), 1115136),
    "tiny_shallow": (ls.ShallowNet, 200, 16, (40,), 640),
    "tiny_mlp": (ls.MLP, 150, 8, (16, 16), 400),
    "tiny_deep_linear": (ls.DeepLinear, 64, 8, (6, 4), 76),
    "tiny_ce": (ls.MLP, 90, 6, (12,), 108),
}


def test_names():
    assert problems.names() == tuple(DOCUMENTED)
    assert problems.BENCHMARKS == ("S1", "S2", "M1", "M2")
    assert set(problems.BENCHMARKS) <= set(problems.names())
    assert ls.problems is problems and "problems" in ls.__all__


@pytest.mark.parametrize("name", list(DOCUMENTED))
def test_problem_builds_with_the_documented_size(name):
    cls, n, d, widths, P = DOCUMENTED[name]
    model, w = problems.build(name)
    assert type(model) is cls
    assert (model.num_params, model.num_samples) == (P, n)
    assert w.shape == (P,) and w.dtype == np.float64 and np.all(np.isfinite(w))
    assert np.isfinite(model.loss(w))
    X, y = problems.data(name)
    assert X.shape == (n, d) and y.shape == (n,)
    spec = problems.spec(name)
    assert (spec["model"], spec["n"], spec["d"], spec["widths"], spec["P"]) == (cls.__name__, n, d, widths, P)
    # the docstring table's row: name, model, n, d, widths, P
    row = next(line.split() for line in problems.__doc__.splitlines() if line.split()[:1] == [name])
    assert row[1] == cls.__name__ and row[2:4] == [f"{n:,}", str(d)]
    assert " ".join(row[4:4 + len(widths)]) == ", ".join(map(str, widths)) and row[4 + len(widths)] == f"{P:,}"


@pytest.mark.parametrize("name", list(DOCUMENTED))
def test_problem_is_deterministic(name):
    model, w = problems.build(name)
    again, w2 = problems.build(name, seed=0)
    np.testing.assert_array_equal(w, w2)
    np.testing.assert_array_equal(model.outputs(w), again.outputs(w))
    X, y = problems.data(name)
    np.testing.assert_array_equal(model.outputs(w), model.with_data(X, y).outputs(w))  # data() is the model's data
    assert model.loss(w) == model.with_data(X, y).loss(w)
    other, w3 = problems.build(name, seed=1)
    assert other.num_params == model.num_params and not np.array_equal(w, w3)
    assert not np.array_equal(problems.data(name, seed=1)[0], X)


@pytest.mark.parametrize("name", [n for n in DOCUMENTED if n.startswith("tiny_")])
def test_tiny_problems_against_the_numpy_reference(name):
    model, ref, w = bench_derivatives.build(name)  # the reference built by bench/reference.py from data()
    v = np.random.default_rng(0).standard_normal(model.num_params)
    for ours, theirs in ((model.gradient(w), ref.gradient(w)), (model.hvp(w, v), ref.hvp(w, v))):
        np.testing.assert_allclose(ours, theirs, rtol=1e-11, atol=1e-12 * np.abs(theirs).max())


def test_tiny_ce_has_every_class():
    _, y = problems.data("tiny_ce")
    assert y.dtype.kind == "i" and set(np.unique(y)) == {0, 1, 2}


def test_bad_arguments():
    with pytest.raises(ValueError, match=r"^name: unknown problem 'Z9'; expected one of S1, S2, M1, M2, tiny_shallow"):
        problems.build("Z9")
    with pytest.raises(ValueError, match=r"^name: unknown problem 's1'"):
        problems.build("s1")
    for fn in (problems.data, problems.spec):
        with pytest.raises(ValueError, match=r"^name: unknown problem 'nope'"):
            fn("nope")
    with pytest.raises(TypeError, match=r"^name: expected a problem name"):
        problems.build(1)
    with pytest.raises(ValueError, match=r"^seed:"):
        problems.build("tiny_mlp", seed=-1)
    with pytest.raises(TypeError, match=r"^seed:"):
        problems.build("tiny_mlp", seed=None)  # not a fresh random seed: problems are reproducible
    spec = problems.spec("M1")
    spec["options"]["activation"] = "relu"
    spec["n"] = 3
    assert problems.spec("M1")["options"]["activation"] == "tanh" and problems.build("M1")[0].num_samples == 256


# ----------------------------------------------------------------------------------------------
# the package does not depend on bench/


_BENCH_MODULES = ("bench", "bench_derivatives", "bench_spectra", "bench_training", "reference")


def _bench_module(name) -> bool:
    """landscope.bench[.x], or one of bench/'s modules imported by a top-level name."""
    if not name:
        return False
    return (name == "landscope.bench" or name.startswith("landscope.bench.")
            or name.split(".")[0] in _BENCH_MODULES)


def _bench_imports(tree: ast.AST, module: str) -> list:
    """(line, what) for every import of bench/ (static, or a string naming it for importlib) in
    ``tree``, the source of landscope module ``module`` (relative imports resolve against it)."""
    found = []
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative to the landscope package (or a subpackage of it)
                parts = module.split(".")[: -node.level] + ([node.module] if node.module else [])
                base = ".".join(parts)
                names = [f"{base}.{a.name}" for a in node.names] + [base]
                names = [n for n in names if n.startswith("landscope.")]  # never a top-level bench name
            else:
                names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            if re.fullmatch(r"landscope\.bench(\.\w*)?", node.value.strip()):  # importlib.import_module(...)
                names = [node.value.strip()]
        hits = [n for n in names if _bench_module(n)]
        if hits:
            found.append((node.lineno, hits[0]))
    return sorted(set(found))


def _bench_branch(tree: ast.Module) -> ast.If:
    """The ``if command == "bench":`` branch of __main__._run."""
    run = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "_run")
    for node in ast.walk(run):
        if (isinstance(node, ast.If) and isinstance(node.test, ast.Compare)
                and isinstance(node.test.left, ast.Name) and node.test.left.id == "command"
                and isinstance(node.test.ops[0], ast.Eq)
                and isinstance(node.test.comparators[0], ast.Constant) and node.test.comparators[0].value == "bench"):
            return node
    raise AssertionError("__main__._run has no `if command == \"bench\":` branch")


def test_the_scan_finds_bench_imports():
    cases = {
        "import landscope.bench": 1,
        "from landscope.bench import bench_derivatives": 1,
        "from landscope.bench.bench_derivatives import build": 1,
        "from landscope import bench": 1,
        "from . import bench": 1,
        "from .bench.bench_spectra import run": 1,
        "import bench_derivatives": 1,
        "from reference import make_mlp": 1,
        "importlib.import_module(f'landscope.bench.bench_{suite}')": 1,
        "importlib.import_module('landscope.bench')": 1,
        "from landscope import problems, benchmarks_of_mine": 0,
        "'run landscope bench for timings'": 0,
        "from . import problems": 0,
    }
    for source, count in cases.items():
        assert len(_bench_imports(ast.parse(source), "landscope._spectrum_cli")) == count, source


def test_package_imports_bench_only_in_the_bench_command():
    files = sorted(PACKAGE.glob("**/*.py"))
    assert PACKAGE / "problems.py" in files and PACKAGE / "_spectrum_cli.py" in files
    offending = []
    allowed = 0
    for path in files:
        rel = path.relative_to(PACKAGE)
        module = ".".join(("landscope", *rel.with_suffix("").parts))
        if rel.name == "__init__.py":
            # relative imports in a package's __init__ resolve like those of a module inside it
            module = ".".join(("landscope", *rel.parent.parts, "__init__"))
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        found = _bench_imports(tree, module)
        if rel.as_posix() == "__main__.py":
            branch = _bench_branch(tree)
            inside = _bench_imports(branch, module)
            allowed = len(inside)
            found = [f for f in found if f not in inside]
        offending += [f"{rel}:{line}: {what}" for line, what in found]
    assert offending == []
    assert allowed >= 1  # the bench command does import the suites (lazily), so the scan sees them


def test_importing_the_package_and_cli_loads_no_bench_module(tmp_path):
    code = ("import sys, landscope, landscope.problems, landscope.analysis, landscope._spectrum_cli\n"
            "import landscope.__main__\n"
            "from landscope._spectrum_cli import main\n"
            "assert main(['--problem', 'M1', '--k', '2', '--probes', '4', '--no-progress']) == 0\n"
            f"bad = [m for m in sys.modules if m == 'landscope.bench' or m.startswith('landscope.bench.') "
            f"or m.split('.')[0] in {_BENCH_MODULES!r}]\n"
            "assert not bad, bad\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
