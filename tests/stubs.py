"""Generates python/landscope/_core.pyi, the type stubs of the C++ extension, from the built module.

    python tests/stubs.py           # rewrite python/landscope/_core.pyi
    python tests/stubs.py --check   # exit 1, printing a diff, when it is out of date

Run it with the Python that has landscope installed (``pip install -e ".[test]"`` brings
pybind11-stubgen), after every change to cpp/bindings and a rebuild. tests/test_stubs.py runs the
check.

The stubs describe ``landscope._core``, the portable module; its AVX2/FMA twin ``_core_v3`` is built
from the same binding sources. pybind11-stubgen writes them as they are, with one change: the
module's attributes (``__version__``, ``eigen_version``, ``simd``) are facts of the build, so the
stub declares their types and not the values this machine happened to build.
"""
from __future__ import annotations

import argparse
import ast
import difflib
import pathlib
import re
import subprocess
import sys
import tempfile

MODULE = "landscope._core"
ROOT = pathlib.Path(__file__).resolve().parents[1]
STUB = ROOT / "python" / "landscope" / "_core.pyi"
COMMAND = "python tests/stubs.py"
HEADER = f"# Generated from the built {MODULE} by `{COMMAND}` (pybind11-stubgen): do not edit.\n"

# `name: type = value` at module level, except __all__: keep `name: type`.
_MODULE_VALUE = re.compile(r"^(?!__all__\b)([A-Za-z_]\w*): ([^=\n]+?) = .*$", re.MULTILINE)


def generate(out_dir: str | pathlib.Path | None = None) -> str:
    """The stub text for the installed landscope._core, generated in out_dir (a temporary folder
    when None). Raises RuntimeError when pybind11-stubgen fails or reports an error (a C++ type
    name in a signature, an unprintable default)."""
    if out_dir is None:
        with tempfile.TemporaryDirectory() as tmp:
            return generate(tmp)
    out = pathlib.Path(out_dir)
    cmd = [sys.executable, "-m", "pybind11_stubgen", MODULE, "--output-dir", str(out), "--exit-code"]
    # From the output folder, not the source tree, so that the installed landscope is imported.
    r = subprocess.run(cmd, cwd=out, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed (exit {r.returncode}):\n{r.stdout}{r.stderr}")
    text = (out / "landscope" / "_core.pyi").read_text(encoding="utf-8")
    text = HEADER + _MODULE_VALUE.sub(r"\1: \2", text)
    ast.parse(text, filename="_core.pyi")
    return text


def diff(old: str, new: str) -> str:
    """A unified diff from the checked-in stub (old) to the generated one (new)."""
    return "".join(difflib.unified_diff(old.splitlines(keepends=True), new.splitlines(keepends=True),
                                        "python/landscope/_core.pyi (checked in)",
                                        f"python/landscope/_core.pyi (generated from {MODULE})"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--check", action="store_true",
                        help="compare with the checked-in stub and exit 1 when they differ; write nothing")
    args = parser.parse_args(argv)
    new = generate()
    old = STUB.read_text(encoding="utf-8") if STUB.exists() else ""
    if args.check:
        if old != new:
            print(diff(old, new), end="")
            print(f"\n{STUB.relative_to(ROOT)} is out of date: regenerate it with `{COMMAND}`", file=sys.stderr)
            return 1
        print(f"{STUB.relative_to(ROOT)} is up to date")
        return 0
    if old != new:
        STUB.write_bytes(new.encode("utf-8"))
        print(f"wrote {STUB.relative_to(ROOT)}")
    else:
        print(f"{STUB.relative_to(ROOT)} unchanged")
    return 0


if __name__ == "__main__":
    sys.exit(main())
