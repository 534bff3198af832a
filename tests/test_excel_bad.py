"""Bad case workbooks: each gives exit 2 with one line naming the sheet, the cell and the fix,
and no report files are written."""

from __future__ import annotations

from pathlib import Path

import pytest
from openpyxl import Workbook, load_workbook
from test_report_termsheet import REPORT_AGREEMENT, report_case
from typer.testing import CliRunner

from gainshare.cli import app
from gainshare.report.excel_case import write_case_workbook

runner = CliRunner()


def column(ws, key: str) -> str:
    return next(c.column_letter for c in ws[1] if c.value == key)


def put(sheet: str, key: str | None, cell_or_row, value):
    """A change that writes `value` into a cell named directly or by column and row."""

    def change(wb):
        ws = wb[sheet]
        ref = cell_or_row if key is None else f"{column(ws, key)}{cell_or_row}"
        ws[ref] = value

    return change


def drop_sheet(name):
    return lambda wb: wb.remove(wb[name])


def rename_sheet(old, new):
    return lambda wb: setattr(wb[old], "title", new)


# name -> (change to a good workbook, expected lines after 'FILE: ')
CORPUS = {
    "missing sheet": (drop_sheet("Parties"), [
        "sheet Parties: is missing: use gainshare template to start from a complete workbook"]),
    "text in a money cell": (put("Contracts", "price", 2, "lots"), [
        "sheet Contracts, cell I2 (price): 'lots' is not a number: enter pounds as a number"]),
    "unknown party": (put("Contracts", "provider", 2, "acutee"), [
        "sheet Contracts, cell D2 (provider): 'acutee' is not a party on the Parties sheet "
        "(did you mean 'acute'?): fix the id or add it to Parties"]),
    "bad enum": (put("Parties", "role", 3, "payer"), [
        "sheet Parties, cell C3 (role): 'payer' is not one of commissioner, provider, both, "
        "risk_partner: pick one from the list"]),
    "bad distribution text": (put("Schemes", "targeting", 2, "triangle(0.45, 0.65, 0.8)"), [
        "sheet Schemes, cell H2 (targeting): 'triangle(0.45, 0.65, 0.8)' cannot be read "
        "(unknown distribution 'triangle' (did you mean triangular?)): enter a number or a "
        "distribution such as triangular(0.45, 0.65, 0.8) (see the Notes sheet)"]),
    "distribution out of order": (put("Schemes", "targeting", 2, "triangular(0.8, 0.6, 0.4)"), [
        "sheet Schemes, cell H2 (targeting): needs low <= mode <= high: put the three values in "
        "that order"]),
    "missing header": (put("Parties", None, "C1", None), [
        "sheet Parties, row 1: column 'role' is missing: add a header 'role' in row 1 (see "
        "gainshare template)",
        "sheet Parties, cells C2:C5: column C has values but no header: add the column name in "
        "row 1, or clear the column"]),
    "misspelt header": (put("Parties", None, "D1", "knd"), [
        "sheet Parties, cell D1: column 'knd' is not a column of Parties: rename it to 'kind' "
        "(the Notes sheet lists the columns)",
        "sheet Parties, cells D2:D5: column D has values but no header: add the column name in "
        "row 1, or clear the column"]),
    "misspelt sheet": (rename_sheet("Schemes", "Scheme"), [
        "sheet Scheme: is not a sheet of a case workbook: rename it to Schemes"]),
    "party in the wrong role": (put("Contracts", "commissioner", 2, "acute"), [
        "sheet Contracts, cell C2 (commissioner): 'acute' is not a commissioner: change its "
        "role or the reference"]),
    "negative cost": (put("Contracts", "costs.fixed", 2, -5), [
        "sheet Contracts, cell T2 (costs.fixed): is -5.0: it must be at least 0: fix the value "
        "or its sign"]),
    "share above one": (put("KeepWhole", "beta", 2, 1.5), [
        "sheet KeepWhole, cell C2 (beta): is 1.5: it must be at most 1: fix the value"]),
    "fraction of a team": (put("Schemes", "teams", 2, 2.5), [
        "sheet Schemes, cell E2 (teams): 2.5 is not a whole number: enter a whole number"]),
    "formula with no saved result": (put("Contracts", "price", 2, "=1000*2"), [
        "sheet Contracts, cell I2 (price): holds a formula with no saved result: open and save "
        "the workbook in Excel, or type the value"]),
    "missing required field": (put("Case", None, "B5", None), [
        "sheet Case, cell B5 (horizon.years): is required but missing: add it"]),
    "scheme with no activity avoided": (put("ActivityShifts", "direction", 2, "to"), [
        "sheet ActivityShifts (scheme hah, direction from): is empty or too short: add at least "
        "one entry"]),
    "unknown scheme": (put("Benefits", "scheme", 2, "hahh"), [
        "sheet Benefits, cell A2 (scheme): 'hahh' is not a scheme on the Schemes sheet (did you "
        "mean 'hah'?): fix the id or add it to Schemes"]),
}  # fmt: skip


@pytest.fixture(scope="module")
def good(tmp_path_factory) -> Path:
    return write_case_workbook(report_case(), tmp_path_factory.mktemp("good") / "case.xlsx")


@pytest.fixture(scope="module")
def agreement(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("agreement") / "agreement.yaml"
    path.write_text(REPORT_AGREEMENT)
    return path


def assert_refused(case: Path, agreement: Path, tmp_path: Path, lines: list[str]) -> None:
    """validate and report both exit 2 with exactly these lines; report writes nothing."""
    expected = "".join(f"error: {case}: {line}\n" for line in lines)
    before = sorted(p.name for p in tmp_path.iterdir())
    res = runner.invoke(app, ["validate", str(case)])
    assert res.exit_code == 2
    assert res.output == expected
    out = tmp_path / "report"
    res = runner.invoke(app, ["report", str(case), "-a", str(agreement), "--out", str(out)])
    assert res.exit_code == 2
    assert res.output == expected
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_the_good_workbook_is_accepted(good, agreement, tmp_path):
    res = runner.invoke(app, ["validate", str(good)])
    assert res.exit_code == 0, res.output
    assert res.output.startswith("ok: Report test case: 4 parties")


@pytest.mark.parametrize("name", list(CORPUS))
def test_bad_workbook(name, good, agreement, tmp_path):
    change, lines = CORPUS[name]
    wb = load_workbook(good)
    change(wb)
    case = tmp_path / "case.xlsx"
    wb.save(case)
    assert_refused(case, agreement, tmp_path, lines)


def test_empty_workbook(agreement, tmp_path):
    case = tmp_path / "empty.xlsx"
    Workbook().save(case)
    assert_refused(case, agreement, tmp_path, [
        "(file): the workbook has none of the case sheets (Case, Parties, Contracts, Schemes, "
        "ActivityShifts, Benefits, QualityScores, Uncertainty, NamedScenarios, "
        "NamedScenarioValues, KeepWhole): use gainshare template to start from a complete "
        "workbook"])  # fmt: skip


@pytest.mark.parametrize(
    "content",
    [b"name: a YAML case saved as .xlsx\n", b"PK\x03\x04 not really a zip", b"\x00" * 100],
    ids=["text", "broken zip", "binary"],
)
def test_not_a_workbook_at_all(content, agreement, tmp_path):
    case = tmp_path / "case.xlsx"
    case.write_bytes(content)
    assert_refused(case, agreement, tmp_path, [
        "(file): is not an Excel workbook (.xlsx): save it from Excel as 'Excel Workbook "
        "(.xlsx)', or start from `gainshare template`"])  # fmt: skip


def test_zero_byte_and_missing_files(agreement, tmp_path):
    case = tmp_path / "case.xlsx"
    case.write_bytes(b"")
    assert_refused(case, agreement, tmp_path, [
        f"(file): file is empty: start from `gainshare template --out {case}`"])  # fmt: skip
    case.unlink()
    assert_refused(case, agreement, tmp_path, ["(file): file not found: check the path"])


def test_xml_entities_are_refused_before_parsing(good, agreement, tmp_path):
    import zipfile

    case = tmp_path / "case.xlsx"
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(case, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "xl/workbook.xml":
                data = b'<!DOCTYPE x [<!ENTITY a "aaaaaaaaaa">]>' + data
            dst.writestr(info, data)
    assert_refused(case, agreement, tmp_path, [
        "xl/workbook.xml: declares a DTD or XML entities, which a workbook never needs: save "
        "the workbook again from Excel"])  # fmt: skip
