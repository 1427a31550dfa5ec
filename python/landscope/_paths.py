"""Where the installed package keeps the C++ headers, the static core and the CMake package.

They lie beside the compiled module ``_core`` (in an editable install that is site-packages,
not the source folder of the Python files)."""
from __future__ import annotations

import os

from . import _core


def _root() -> str:
    return os.path.dirname(os.path.abspath(_core.__file__))


def cmake_dir() -> str:
    """The folder holding ``landscopeConfig.cmake``: pass it as ``landscope_DIR`` (or put it on
    ``CMAKE_PREFIX_PATH``) so that ``find_package(landscope CONFIG REQUIRED)`` finds the engine."""
    return os.path.join(_root(), "lib", "cmake", "landscope")


def include_dir() -> str:
    """The folder holding ``landscope/landscope.hpp``."""
    return os.path.join(_root(), "include")
