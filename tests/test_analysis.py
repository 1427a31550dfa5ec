"""landscope.analysis (classify, negative_count): where it lives and what it may use. Its results are
tested in test_spectra.py through the re-exports landscope.classify and landscope.spectra."""
import ast
import inspect
import pathlib

import landscope as ls
from landscope import analysis

SOURCE = pathlib.Path(__file__).resolve().parents[1] / "python" / "landscope" / "analysis.py"
# the package's progress policy, argument checks and results' value equality
INTERNAL_HELPERS = {"_progress", "_validation", "_equality"}


def test_reexports_are_the_same_objects():
    for name in ("classify", "Classification", "negative_count"):
        assert getattr(ls.spectra, name) is getattr(analysis, name)
    assert ls.classify is analysis.classify and ls.Classification is analysis.Classification
    assert {"classify", "Classification"} <= set(ls.spectra.__all__) and "analysis" in ls.__all__
    assert str(inspect.signature(ls.spectra.classify)) == (
        "(model, w, tol: 'float' = 1e-06, grad_tol: 'Optional[float]' = None, *, k: 'int' = 6, "
        "dense_max: 'int' = 2048, seed: 'int' = 0, num_probes: 'int' = 20, steps: 'int' = 80, "
        "eig_tol: 'float' = 1e-10, progress: 'Optional[bool]' = None) -> 'Classification'")


def test_uses_no_private_member_of_models_or_solvers():
    """No ``x._name`` attribute and no private name imported, except the package's own helper
    modules for progress output and argument checks."""
    tree = ast.parse(SOURCE.read_text(encoding="utf-8"))
    private = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__"):
            private.append(f"line {node.lineno}: .{node.attr}")
        elif isinstance(node, ast.ImportFrom):
            private += [f"line {node.lineno}: import {a.name}" for a in node.names
                        if a.name.startswith("_") and a.name not in INTERNAL_HELPERS]
            if (node.module not in (None, "__future__") and node.module not in INTERNAL_HELPERS
                    and any(p.startswith("_") for p in node.module.split("."))):
                private.append(f"line {node.lineno}: from {node.module}")
    assert private == []
