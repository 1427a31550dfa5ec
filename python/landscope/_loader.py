"""Picks the fastest build of the C++ engine this CPU can run.

The wheel carries a portable module (``_core``) and, on x86-64, one compiled for AVX2 + FMA
(``_core_v3``). Set ``LANDSCOPE_ISA=baseline`` to force the portable one.
"""
from __future__ import annotations

import os

from . import _core as _baseline

core = _baseline
isa = "baseline"
if os.environ.get("LANDSCOPE_ISA", "").lower() != "baseline" and _baseline.cpu_supports_x86_64_v3():
    try:
        from . import _core_v3 as core  # type: ignore[no-redef]

        isa = "x86-64-v3"
    except ImportError:  # built without the variant
        pass
