"""python/landscope/_core.pyi is generated from the built module by tests/stubs.py; it must match
what the installed landscope._core says about itself."""
import ast
import importlib
import importlib.util
import pathlib
import re

import pytest

# The module itself: the package attribute landscope._core is the variant _loader chose (it may
# be _core_v3), the module named landscope._core is the one the stub describes.
_core = importlib.import_module("landscope._core")

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _tool():
    spec = importlib.util.spec_from_file_location("landscope_stubs_tool", ROOT / "tests" / "stubs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


stubs = _tool()


def test_stub_is_up_to_date(tmp_path):
    try:
        new = stubs.generate(tmp_path)
    except RuntimeError as e:
        pytest.fail(str(e), pytrace=False)
    old = stubs.STUB.read_text(encoding="utf-8")
    if old != new:
        pytest.fail(f"{stubs.diff(old, new)}\npython/landscope/_core.pyi does not match the built module "
                    f"landscope._core: regenerate it with `{stubs.COMMAND}` (after rebuilding)", pytrace=False)


def test_stub_is_valid_and_machine_independent():
    text = stubs.STUB.read_text(encoding="utf-8")
    tree = ast.parse(text, filename="_core.pyi")
    names = {node.name for node in tree.body if isinstance(node, (ast.ClassDef, ast.FunctionDef))}
    assert {"Model", "LinearOperator", "train", "lanczos"} <= names
    assert names <= set(dir(_core))
    # The build's facts are declared, not written down: a stub from another machine is the same.
    for name in ("__version__", "eigen_version", "simd"):
        assert re.search(rf"^{name}: str$", text, re.MULTILINE), name
    assert "_core_v3" not in text and "module_local" not in text
    assert "::" not in text  # no C++ type names leaked into signatures
