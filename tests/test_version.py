"""The version is written once, in pyproject.toml: CMake reads it and generates
landscope/version.hpp (LANDSCOPE_VERSION), from which the module's __version__ comes."""
import pathlib
import re
import shutil
import subprocess
import sys
import sysconfig
from importlib import metadata

import pytest

import landscope as ls
from landscope._paths import include_dir

try:
    import tomllib
except ModuleNotFoundError:  # Python < 3.11: the test extra brings tomli
    import tomli as tomllib

ROOT = pathlib.Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def version():
    with open(ROOT / "pyproject.toml", "rb") as f:
        return tomllib.load(f)["project"]["version"]


def test_version_is_pyprojects(version):
    assert ls.__version__ == version
    assert ls._core.__version__ == version
    assert ls.info()["version"] == version
    assert metadata.version("landscope") == version


def test_version_command(version):
    """The installed `landscope` command and `python -m landscope`."""
    exe = shutil.which("landscope", path=sysconfig.get_path("scripts"))
    if exe is None:
        pytest.fail(f"no landscope command in {sysconfig.get_path('scripts')}: is landscope installed?", pytrace=False)
    for cmd in ([exe, "--version"], [sys.executable, "-m", "landscope", "--version"]):
        r = subprocess.run(cmd, capture_output=True, text=True, check=True)
        assert r.stdout == f"landscope {version}\n", cmd


def test_installed_header(version):
    """C++ users see the same version: landscope.hpp includes the generated version.hpp."""
    header = pathlib.Path(include_dir()) / "landscope" / "version.hpp"
    text = header.read_text()
    assert f'#define LANDSCOPE_VERSION "{version}"' in text
    numbers = [int(re.search(rf"#define LANDSCOPE_VERSION_{part} (\d+)", text).group(1))
               for part in ("MAJOR", "MINOR", "PATCH")]
    release = [int(n) for n in re.match(r"\d+(?:\.\d+)*", version).group(0).split(".")]
    assert numbers == (release + [0, 0])[:3]
    assert '#include "landscope/version.hpp"' in (header.parent / "landscope.hpp").read_text()
