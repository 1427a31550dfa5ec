"""The report's edge-of-stability, landscape and practice sections (quick mode): every verdict
holds, the figures and raw results are written, the numbers are JSON-able and seeded."""
import json
import os

import numpy as np
import pytest

pytest.importorskip("matplotlib")

import landscope as ls
from landscope import _report_practice as rp
from landscope.report import Section, _Context

SECTIONS = [("eos", rp.edge_of_stability), ("landscape", rp.landscape), ("practice", rp.practice)]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Each section run twice with seed 0 (in two folders)."""
    out = {}
    for key, fn in SECTIONS:
        a, b = tmp_path_factory.mktemp(f"{key}_a"), tmp_path_factory.mktemp(f"{key}_b")
        out[key] = (fn(_Context(str(a), quick=True, seed=0)), fn(_Context(str(b), quick=True, seed=0)), a)
    return out


@pytest.mark.parametrize("key", [k for k, _ in SECTIONS])
def test_section_verdicts_hold(runs, key):
    s, _, _ = runs[key]
    assert isinstance(s, Section) and s.key == key and s.title and s.text
    assert s.verdicts
    failed = [(v.claim, v.detail) for v in s.verdicts if not v.ok]
    assert not failed, failed
    assert all(isinstance(v.ok, bool) for v in s.verdicts)


@pytest.mark.parametrize("key", [k for k, _ in SECTIONS])
def test_section_writes_figure_raw_and_json_numbers(runs, key):
    s, _, folder = runs[key]
    assert len(s.figures) == 1
    name, caption = s.figures[0]
    assert name == f"{key}.png" and caption
    assert os.path.getsize(folder / name) > 1000
    with np.load(folder / f"{key}.npz") as raw:
        assert len(raw.files) > 0
    text = json.dumps(s.numbers, allow_nan=True)
    assert json.loads(text).keys() == s.numbers.keys()
    for caption, columns, rows in s.tables:
        assert rows and all(len(r) == len(columns) for r in rows)


@pytest.mark.parametrize("key", [k for k, _ in SECTIONS])
def test_same_seed_same_numbers(runs, key):
    a, b, _ = runs[key]
    assert json.dumps(a.numbers, allow_nan=True) == json.dumps(b.numbers, allow_nan=True)
    assert [(v.claim, v.ok, v.detail) for v in a.verdicts] == [(v.claim, v.ok, v.detail) for v in b.verdicts]


def test_thread_count_is_restored(tmp_path):
    ls.set_num_threads(2)
    try:
        rp.practice(_Context(str(tmp_path), quick=True, seed=1))
        assert ls.get_num_threads() == 2
    finally:
        ls.set_num_threads(None)
