"""landscope report: the page, its figures and its verdicts (a seeded quick run)."""
import json
import re
import subprocess
import sys

import pytest

pytest.importorskip("matplotlib")

import landscope.report as R  # noqa: E402
from landscope.__main__ import main  # noqa: E402


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    lines = []
    rep = R.report(out, quick=True, progress=False, echo=lines.append)
    return out, rep, lines


def test_the_page_links_only_files_that_exist(quick):
    out, rep, _ = quick
    page = (out / "index.html").read_text(encoding="utf-8")
    images = re.findall(r'<img src="([^"]+)"', page)
    assert images and all((out / name).is_file() for name in images)
    assert 'href="report.json"' in page and (out / "report.json").is_file()
    for key in R.SECTIONS:
        assert f'id="{key}"' in page and (out / f"{key}.npz").is_file()


def test_the_theorem_verdicts_hold(quick):
    out, rep, lines = quick
    data = json.loads((out / "report.json").read_text())
    assert set(data["sections"]) == set(R.SECTIONS)
    for key, section in data["sections"].items():
        assert section["verdicts"] and all(v["ok"] for v in section["verdicts"]), (key, section["verdicts"])
    assert rep.ok and len(lines) == len(R.SECTIONS) and all("all hold" in line for line in lines)
    pl = data["sections"]["pl"]["numbers"]
    assert pl["worst_ratio_after_start"] < 1 and pl["min_pl"] >= pl["mu"] * (1 - 1e-9)
    assert 1 < data["sections"]["product_toy"]["numbers"]["growth"] <= 4


def test_the_numbers_are_reproducible(quick, tmp_path):
    out, _, _ = quick
    again = R.report(tmp_path, quick=True, progress=False, sections=["pl"])
    first = json.loads((out / "report.json").read_text())["sections"]["pl"]["numbers"]
    assert again.sections[0].numbers == first


def test_progress_bar_over_the_sections(tmp_path, capfd):
    """progress=True off a terminal: whole lines of one bar, named after the running section; the
    echoed summary lines on stdout as without it."""
    lines = []
    R.report(tmp_path, quick=True, sections=["pl"], progress=True, echo=lines.append)
    out, err = capfd.readouterr()
    assert out == "" and len(lines) == 1 and lines[0].startswith("PL and linear rates: all hold; ")
    assert "\r" not in err and err.endswith("\n")
    assert err.splitlines()[0].startswith("PL and linear rates:   0%|") and "| 0/1 sections [" in err
    assert err.splitlines()[-1].startswith("report: 100%|") and "| 1/1 sections [" in err
    R.report(tmp_path, quick=True, sections=["pl"], echo=lines.append)  # progress=None: not a terminal
    assert capfd.readouterr() == ("", "")


def test_cli(tmp_path, capsys):
    assert main(["report", "--quick", "--out", str(tmp_path / "r"), "--no-progress"]) == 0
    out, err = capsys.readouterr()
    assert f"wrote {tmp_path / 'r' / 'index.html'}" in out and err == ""  # no bar
    with pytest.raises(SystemExit) as e:
        main(["report", "--seed", "x"])
    assert e.value.code == 2
    assert main(["report", "--out", "/proc/none/x"]) == 2
    assert "out: cannot create the folder" in capsys.readouterr().err
    with pytest.raises(ValueError, match="^sections: unknown section 'bogus'"):
        R.report(tmp_path / "s", sections=["bogus"])


def test_without_matplotlib_one_line_and_exit_2(tmp_path):
    code = ("import sys; sys.modules['matplotlib'] = None\n"
            "from landscope.__main__ import main\n"
            f"sys.exit(main(['report', '--quick', '--out', {str(tmp_path)!r}]))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 2 and "pip install 'landscope[plot]'" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.slow
def test_the_full_report_holds(tmp_path):
    rep = R.report(tmp_path, quick=False, progress=False)
    assert rep.ok, [(s.key, [v for v in s.verdicts if not v.ok]) for s in rep.sections]


def _npz(path, **arrays):
    import numpy as np

    np.savez(path, **arrays)
    return str(path)


def test_report_on_your_own_data(tmp_path, capsys):
    import numpy as np

    rng = np.random.default_rng(0)
    X = rng.standard_normal((48, 4))
    good = _npz(tmp_path / "good.npz", X=X, y=np.sin(X[:, 0]))
    out = tmp_path / "own"
    assert main(["report", "--data", good, "--widths", "8,8", "--quick", "--out", str(out), "--no-progress"]) == 0
    page = (out / "index.html").read_text(encoding="utf-8")
    assert 'id="data"' in page and all((out / n).is_file() for n in re.findall(r'<img src="([^"]+)"', page))
    data = json.loads((out / "report.json").read_text())["sections"]["data"]
    assert data["ok"] and data["numbers"]["status"] == "budget" and data["numbers"]["verdict"]
    labels = _npz(tmp_path / "labels.npz", X=X, y=(X[:, 0] > 0).astype(int))
    assert main(["report", "--data", labels, "--loss", "cross_entropy", "--widths", "8", "--quick",
                 "--out", str(tmp_path / "ce"), "--no-progress"]) == 0
    capsys.readouterr()


@pytest.mark.parametrize("arrays, message", [
    (dict(y=[1.0, 2.0]), "has no array 'X'"),
    (dict(X=[[1.0, float("nan")], [0.0, 1.0]], y=[1.0, 2.0]), "X: contains NaN"),
    (dict(X=[[1.0, 0.0], [0.0, 1.0]], y=[1.0, 2.0, 3.0]), "y: expected 2 rows"),
    (dict(X=[[1.0, 0.0], [0.0, 1.0]], y=[0, 1]), "y holds integers"),
])
def test_report_rejects_bad_data_files(tmp_path, capsys, arrays, message):
    path = _npz(tmp_path / "bad.npz", **arrays)
    with pytest.raises(SystemExit) as e:
        main(["report", "--data", path, "--out", str(tmp_path / "r"), "--no-progress"])
    err = capsys.readouterr().err
    assert e.value.code == 2 and "--data" in err and message in err and err.count("\n") == 1


def test_data_options_need_data(capsys):
    with pytest.raises(SystemExit) as e:
        main(["report", "--widths", "3"])
    assert e.value.code == 2 and "--widths: only applies with --data" in capsys.readouterr().err
