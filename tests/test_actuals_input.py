"""A bad actuals file is refused like a bad case: one line per problem naming the file, the
sheet (in a workbook), the row and the column, what is wrong and the fix; exit 2; with --json one
document {"command": "settle", "status": "bad_input", "problems": [...]}; nothing written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from openpyxl import Workbook
from typer.testing import CliRunner

import gainshare
from gainshare.cli import app
from gainshare.schema.actuals import read_actuals
from gainshare.schema.io import InputError

ROOT = Path(__file__).resolve().parents[1]
CASE = ROOT / "cases" / "core.yaml"
AGREEMENT = ROOT / "cases" / "core.agreement.yaml"
GOOD = (ROOT / "cases" / "core.actuals.csv").read_text(encoding="utf-8")
runner = CliRunner()


@pytest.fixture(scope="module")
def case():
    return gainshare.load_case(CASE)


def problems(tmp_path, text: str, case, name: str = "a.csv") -> list[str]:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as e:
        read_actuals(p, case)
    return [line.replace(str(p), "FILE") for line in e.value.problems]


def edit(old: str, new: str) -> str:
    assert old in GOOD
    return GOOD.replace(old, new)


@pytest.mark.parametrize(
    "text, want",
    [
        (edit("scheme_units", "scheme_unitz"), [
            "FILE: row 1, column scheme_unitz: column 'scheme_unitz' is not a column of an "
            "actuals file: rename it to 'scheme_units' (columns: year, kind, id, name, units, "
            "scheme_units, payment, cost_change, cost, expected_cost, running_cost, quality, "
            "benefit)"]),
        (edit("2026/27,contract,community_block,Community nursing,205400,5820,,243000,,,\n", ""),
         ["FILE: year 2026/27: contract 'community_block' has no row: add a row with kind "
          "contract, id community_block and its figures"]),
        (edit(",13160,", ",-13160,"), [
            "FILE: row 2, column units: is -13160: it cannot be negative; enter a number, zero "
            "or more"]),
        (edit(",13160,", ",lots,"), [
            "FILE: row 2, column units: 'lots' is not a number: enter a number, zero or more"]),
        (edit(",243000,", ",nan,"), [
            "FILE: row 3, column cost_change: 'nan' is not a finite number: enter a number "
            "(negative for a fall)"]),
        (edit(",1002800,", ",inf,"), [
            "FILE: row 4, column running_cost: 'inf' is not a finite number: enter a number, "
            "zero or more"]),
        (edit("acute_nel", "acute_nell"), [
            "FILE: row 2, column id: no contract 'acute_nell' in the case: fix the id (did you "
            "mean 'acute_nel'?)"]),
        (edit("2026/27,scheme", "2031/32,scheme"), [
            "FILE: row 4, column year: '2031/32' is not a year of the agreement: write its "
            "label (2026/27, 2027/28, 2028/29) or its number (1 to 3)"]),
        (edit(",1002800,", ",,"), [
            "FILE: row 4, column running_cost: is empty: give the scheme's running_cost (the "
            "scheme's running cost in the year)"]),
        (edit(",-2011720,", ",-2011720,1002800"), [
            "FILE: row 2, column running_cost: running_cost applies to scheme rows only: leave "
            "it empty on contract rows"]),
        (GOOD + "2026/27,party,ccg,,,,,,,90,\n", [
            "FILE: row 5, column quality: 'ccg' is not a provider: quality scores are for "
            "providers; leave it empty"]),
        (GOOD + GOOD.splitlines()[1] + "\n", [
            "FILE: row 5: contract 'acute_nel' in 2026/27 is also on row 2: keep one row"]),
        (edit("2026/27,scheme", "2026/27,schemes"), [
            "FILE: row 4, column kind: 'schemes' is not a kind of row: use one of contract, "
            "scheme, party"]),
        ("units,id\n1,acute_nel\n", [
            "FILE: row 1: column 'year' is missing: add a header 'year' in row 1 (see "
            "gainshare template --actuals)",
            "FILE: row 1: column 'kind' is missing: add a header 'kind' in row 1 (see "
            "gainshare template --actuals)"]),
        ("", ["FILE: file is empty: start from `gainshare template --actuals`"]),
        (GOOD.replace("cost_change", "cost").replace("-2011720", "14000000"), [
            "FILE: row 2, column expected_cost: is empty: give expected_cost with cost (their "
            "difference is the cost change), or give cost_change instead",
            "FILE: row 3, column expected_cost: is empty: give expected_cost with cost (their "
            "difference is the cost change), or give cost_change instead"]),
    ],
    ids=["unknown column", "missing contract", "negative units", "text in a number cell",
         "nan", "inf", "unknown id", "year outside", "required empty", "wrong kind of row",
         "quality of a commissioner", "row twice", "bad kind", "missing headers", "empty",
         "cost without expected cost"],
)  # fmt: skip
def test_each_problem_is_one_line_naming_row_and_column(tmp_path, case, text, want):
    assert problems(tmp_path, text, case) == want


def test_a_workbook_names_the_sheet(tmp_path, case):
    wb = Workbook()
    ws = wb.active
    ws.title = "Actuals"
    for row in GOOD.splitlines():
        ws.append(row.split(",") if '"' not in row else
                  [row.split(",")[0], "contract", "acute_nel", "x", 13160, -1905, None,
                   -2011720])  # fmt: skip
    ws["E3"] = "205,400 contacts"
    wb.save(tmp_path / "a.xlsx")
    with pytest.raises(InputError) as e:
        read_actuals(tmp_path / "a.xlsx", case)
    assert e.value.problems == [
        f"{tmp_path / 'a.xlsx'}: sheet Actuals, row 3, column units: '205,400 contacts' is not "
        "a number: enter a number, zero or more"
    ]
    wb.active.title = "Sheet1"
    wb.save(tmp_path / "b.xlsx")
    with pytest.raises(InputError, match="no sheet 'Actuals' \\(sheets: Sheet1\\)"):
        read_actuals(tmp_path / "b.xlsx", case)


def test_not_a_csv_or_workbook(tmp_path, case):
    (tmp_path / "a.txt").write_text(GOOD, encoding="utf-8")
    with pytest.raises(InputError, match="an actuals file is .csv or .xlsx"):
        read_actuals(tmp_path / "a.txt", case)
    (tmp_path / "fake.xlsx").write_text(GOOD, encoding="utf-8")
    with pytest.raises(InputError, match="is not an Excel workbook"):
        read_actuals(tmp_path / "fake.xlsx", case)


def test_quality_the_agreement_needs_is_asked_for(tmp_path):
    mssp = gainshare.load_case(ROOT / "cases" / "mssp.yaml")
    rows = ["year,kind,id,units,running_cost"]
    rows += [f"2026,contract,{c.id},{c.expected_units}," for c in mssp.contracts]
    rows += ["2026,scheme,care_management,,2100000"]
    (tmp_path / "m.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    got = runner.invoke(app, ["settle", str(ROOT / "cases" / "mssp.yaml"), "--agreement",
                              str(ROOT / "cases" / "mssp.agreement.yaml"), "--actuals",
                              str(tmp_path / "m.csv")])  # fmt: skip
    assert got.exit_code == 2
    assert got.stderr.splitlines()[0] == (
        f"error: {tmp_path / 'm.csv'}: year 2026: party 'homehealth': the agreement's quality "
        "gateway needs its quality score: add a row with kind party, id homehealth and quality"
    )


def test_bad_input_with_json_is_one_document_and_nothing_is_written(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text(edit(",13160,", ",lots,"), encoding="utf-8")
    out = tmp_path / "out"
    got = runner.invoke(app, ["settle", str(CASE), "--agreement", str(AGREEMENT), "--actuals",
                              str(bad), "--out", str(out), "--json"])  # fmt: skip
    assert got.exit_code == 2
    doc = json.loads(got.stdout)
    assert doc["command"] == "settle" and doc["status"] == "bad_input"
    (p,) = doc["problems"]
    assert p["file"] == str(bad)
    assert p["text"] == (f"{bad}: row 2, column units: 'lots' is not a number: enter a number, "
                         "zero or more")  # fmt: skip
    assert not out.exists()


@pytest.mark.parametrize(
    "args, text",
    [
        (["--year", "2030/31"], "--year: '2030/31' is not a year of the agreement"),
        (["--year", "2027/28"], "has no rows for 2027/28: add them or choose a year the file "
         "gives"),
        (["--months-to-date", "13"], "--months-to-date: 13 is not a number of months: give 1 "
         "to 12"),
        (["--months-to-date", "6", "--profile", "1,2,3"], "--profile: '1,2,3' is not a "
         "profile"),
        (["--profile", "flat"], "--profile: give it with --months-to-date"),
    ],
)  # fmt: skip
def test_bad_options_exit_2(args, text):
    got = runner.invoke(app, ["settle", str(CASE), "--agreement", str(AGREEMENT), "--actuals",
                              str(ROOT / "cases" / "core.actuals.csv"), *args])  # fmt: skip
    assert got.exit_code == 2, got.output
    assert text in got.stderr


def test_template_needs_a_case():
    got = runner.invoke(app, ["template", "--actuals", "--out", "x.xlsx"])
    assert got.exit_code == 2
    assert "--actuals: give the case with --case CASE" in got.stderr


def test_aggregate_limits_need_the_earlier_years(tmp_path):
    case = gainshare.load_case(CASE)
    base = gainshare.load_agreement(AGREEMENT, case)
    agr = type(base).model_validate(
        base.model_dump() | {"aggregate_limits": {"caps": {"acute": 5_000_000}}}
    )
    (tmp_path / "y2.csv").write_text(GOOD.replace("2026/27", "2027/28"), encoding="utf-8")
    from gainshare.settle.outturn import settle_actuals

    with pytest.raises(InputError, match="so 2027/28 settles after 2026/27: add their rows"):
        settle_actuals(case, agr, read_actuals(tmp_path / "y2.csv", case))
