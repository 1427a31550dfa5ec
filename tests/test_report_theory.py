"""The report's saddles and wide-network sections (landscope._report_theory), in quick mode:
every verdict holds, the figure and raw results are written, the numbers are JSON-able and the
same seed gives the same numbers."""
import json
import os
import time

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from landscope._report_theory import saddles, wide  # noqa: E402
from landscope.report import Section, _Context  # noqa: E402



def _run(fn, folder, seed=0):
    t0 = time.perf_counter()
    s = fn(_Context(str(folder), quick=True, seed=seed))
    return s, time.perf_counter() - t0


_CACHE = {}


def _section(fn, tmp_path_factory):
    """Each section runs once per session (the first test that needs it)."""
    if fn not in _CACHE:
        folder = tmp_path_factory.mktemp(fn.__name__)
        _CACHE[fn] = (fn, folder, *_run(fn, folder))
    return _CACHE[fn]


@pytest.fixture(params=[saddles, wide], ids=["saddles", "wide"])
def done(request, tmp_path_factory):
    return _section(request.param, tmp_path_factory)


def test_every_verdict_holds(done):
    _, _, s, _ = done
    assert isinstance(s, Section)
    assert s.verdicts, "a section without verdicts"
    failed = [(v.claim, v.detail) for v in s.verdicts if not v.ok]
    assert not failed, failed
    assert s.ok


def test_files_and_numbers(done):
    fn, folder, s, _ = done
    assert s.key == fn.__name__
    assert [name for name, _ in s.figures] == [f"{s.key}.png"]
    assert os.path.getsize(folder / f"{s.key}.png") > 10_000
    with np.load(folder / f"{s.key}.npz") as raw:
        assert raw.files
    text = json.dumps(s.numbers)
    assert json.loads(text) == s.numbers
    for caption, columns, rows in s.tables:
        assert rows and all(len(r) == len(columns) for r in rows), caption


def test_same_seed_same_numbers(done, tmp_path):
    fn, _, s, _ = done
    again, _ = _run(fn, tmp_path)
    assert json.dumps(again.numbers) == json.dumps(s.numbers)
    assert [(v.claim, v.ok, v.detail) for v in again.verdicts] == [(v.claim, v.ok, v.detail) for v in s.verdicts]


def test_saddle_numbers(tmp_path_factory):
    _, _, s, _ = _section(saddles, tmp_path_factory)
    n = s.numbers
    assert n["origin"]["verdict"] == "strict saddle" and n["origin"]["index"] == 1
    assert n["minimum"]["verdict"] == "degenerate"  # the minima form the curve x1 x2 = 1
    assert abs(np.prod(n["minimum"]["x"]) - 1) < 1e-8
    assert all(0 < t <= n["budget"] for t in n["reach_steps"])


def test_wide_numbers(tmp_path_factory):
    _, _, s, _ = _section(wide, tmp_path_factory)
    n = s.numbers
    assert n["split"]["rank_G"] == n["n"]
    drifts = [r["drift"] for r in n["runs"]]
    assert all(b < a for a, b in zip(drifts, drifts[1:]))  # drift falls with width
    assert all(p["negative"] > 0 for p in n["nearby"])
