"""gainshare report: writes the term sheet, statements and charts, one line per file, exit 0
whether or not parties are kept whole; on bad input exit 2 and nothing is written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from test_report_termsheet import REPORT_AGREEMENT, REPORT_CASE
from typer.testing import CliRunner

import gainshare
from gainshare.cli import app
from gainshare.errors import InputError
from gainshare.report import charts, write_report

runner = CliRunner()
FILES = [
    "term-sheet.md", "term-sheet.html", "statements.xlsx", "chart-net-positions.html",
    "chart-waterfall.html", "chart-pool.html", "plotly.min.js",
]  # fmt: skip


@pytest.fixture()
def inputs(tmp_path) -> tuple[Path, Path]:
    case, agreement = tmp_path / "case.yaml", tmp_path / "agreement.yaml"
    case.write_text(REPORT_CASE)
    agreement.write_text(REPORT_AGREEMENT)
    return case, agreement


def test_report_writes_every_file_and_says_where(inputs, tmp_path):
    case, agreement = inputs
    out = tmp_path / "out" / "report"
    res = runner.invoke(app, ["report", str(case), "-a", str(agreement), "--out", str(out)])
    assert res.exit_code == 0, res.output
    wrote = [line for line in res.output.splitlines() if line.startswith("wrote ")]
    files = list(FILES)
    if charts.png_renderer_problem() is None:  # kaleido with a local Chrome/Chromium
        for stem in ("net-positions", "waterfall", "pool"):
            files.insert(files.index(f"chart-{stem}.html") + 1, f"chart-{stem}.png")
    assert [line.split()[1] for line in wrote] == [str(out / f) for f in files]
    assert sorted(p.name for p in out.iterdir()) == sorted(files)
    for name in (f for f in files if f.endswith(".png")):  # real images, shown in the Markdown
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f"]({name})" in (out / "term-sheet.md").read_text()
    html = (out / "term-sheet.html").read_text()
    assert '<script src="plotly.min.js"></script>' in html
    assert html.count('class="plotly-graph-div"') == 3
    assert "<ol>" in html and "Caps and collars" in html
    md = (out / "term-sheet.md").read_text()
    assert "- [Net position of each party over the agreement (interactive)]" in md
    assert "(chart-net-positions.html)" in md
    chart = (out / "chart-waterfall.html").read_text()
    assert '<script charset="utf-8" src="plotly.min.js"></script>' in chart
    assert "cdn.plot.ly" not in chart + html  # works with no network
    assert not list(tmp_path.rglob(".gainshare-report-*"))


def test_report_exits_0_and_says_when_a_party_is_not_kept_whole(inputs, tmp_path):
    case, agreement = inputs
    c = gainshare.load_case(case)
    result = gainshare.check(c, gainshare.load_agreement(agreement, c))
    assert not result.all_kept_whole  # this proposal leaves someone short
    out = tmp_path / "r"
    res = runner.invoke(app, ["report", str(case), "-a", str(agreement), "-o", str(out), "--json"])
    assert res.exit_code == 0
    doc = json.loads(res.output)
    assert doc["all_kept_whole"] is False
    assert doc["files"]["statements (Excel)"] == str(out / "statements.xlsx")
    md = (out / "term-sheet.md").read_text()
    short = [pid for pid, d in result.document["by_party"].items() if not d["requirement"]["met"]]
    for pid in short:
        assert f"{c.party(pid).name} is NOT kept whole as required" in md


def test_report_replaces_an_earlier_report_only_with_force_and_never_others(inputs, tmp_path):
    """One rule for every output: an existing one is refused without --force; with it, an
    earlier report is replaced whole (no stale chart survives); files of the user's own are
    never deleted."""
    case, agreement = inputs
    out = tmp_path / "r"
    out.mkdir()
    (out / "term-sheet.md").write_text("old")
    (out / "chart-retired.png").write_text("a chart an earlier version drew")
    args = ["report", str(case), "-a", str(agreement), "--out", str(out)]
    res = runner.invoke(app, args)
    assert res.exit_code == 2
    assert res.output == (f"error: {out}: --out: already exists and holds files: pass --force "
                          "to replace it, or choose a new folder\n")  # fmt: skip
    assert (out / "term-sheet.md").read_text() == "old"
    res = runner.invoke(app, [*args, "--force"])
    assert res.exit_code == 0, res.output
    assert (out / "term-sheet.md").read_text().startswith("# Term sheet\n\n## Northshire tiered")
    assert not (out / "chart-retired.png").exists()
    (out / "minutes.docx").write_text("keep me")
    res = runner.invoke(app, [*args, "--force"])
    assert res.exit_code == 2
    assert "holds files that are not part of an earlier output (minutes.docx)" in res.output
    assert (out / "minutes.docx").read_text() == "keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["agreement.yaml", "case.yaml", "r"]


def test_bad_agreement_or_out_exits_2_and_writes_nothing(inputs, tmp_path):
    case, agreement = inputs
    bad = tmp_path / "bad.yaml"
    data = yaml.safe_load(REPORT_AGREEMENT)
    data["terms"]["caps"]["icb"] = {"amount": 5}
    bad.write_text(yaml.safe_dump(data))
    out = tmp_path / "r"
    res = runner.invoke(app, ["report", str(case), "-a", str(bad), "--out", str(out)])
    assert res.exit_code == 2
    assert res.output == (
        f"error: {bad}: terms.caps.icb: 'icb' is not a provider: caps apply to providers only\n"
    )
    assert not out.exists()
    blocker = tmp_path / "file.txt"
    blocker.write_text("x")
    res = runner.invoke(app, ["report", str(case), "-a", str(agreement), "--out", str(blocker)])
    assert res.exit_code == 2
    assert res.output == f"error: {blocker}: --out: exists and is not a folder: give a new folder\n"
    assert blocker.read_text() == "x"


def test_a_failure_while_rendering_leaves_nothing_behind(inputs, tmp_path, monkeypatch):
    case, agreement = inputs
    c = gainshare.load_case(case)
    a = gainshare.load_agreement(agreement, c)

    def broken(*args, **kw):
        raise OSError("disk full")

    monkeypatch.setattr("gainshare.report.statements.write_statements", broken)
    out = tmp_path / "r"
    with pytest.raises(InputError, match="r: --out: cannot be written"):  # exit 2, one line
        write_report(c, a, out)
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["agreement.yaml", "case.yaml"]
