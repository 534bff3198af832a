"""The Excel case workbook: YAML -> workbook -> YAML gives the same case (every example case and
a case using every kind of cell), the text form of uncertain parameters, and the template."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
import yaml
from openpyxl import load_workbook
from test_report_termsheet import REPORT_CASE
from typer.testing import CliRunner

import gainshare
from gainshare.cli import app
from gainshare.report.excel_case import write_case_workbook
from gainshare.schema.case import Case
from gainshare.schema.requirements import OBJECTIVES
from gainshare.schema.workbook import read_case_workbook
from gainshare.schema.workbook_layout import (
    ParamTextError,
    case_sheets,
    format_param,
    parse_param,
)

CASES = Path(__file__).resolve().parents[1] / "cases"
runner = CliRunner()


def example_cases() -> list[Path]:
    return [p for p in sorted(CASES.glob("*.yaml")) if not p.name.endswith(".agreement.yaml")]


@pytest.mark.parametrize("path", example_cases(), ids=lambda p: p.stem)
def test_every_example_case_round_trips_exactly(path, tmp_path):
    case = gainshare.load_case(path)
    out = write_case_workbook(case, tmp_path / "case.xlsx")
    back = gainshare.load_case(out)  # load_case reads .xlsx through the workbook reader
    assert back.model_dump() == case.model_dump()


def rich_case() -> Case:
    """Every kind of cell: each distribution form, per-year lists mixing numbers and
    distributions, optional nested models, benefits, quality scores, named scenario values,
    keep-whole modes, requirements and levers as JSON, text that looks like a formula."""
    data = yaml.safe_load(REPORT_CASE)
    data["description"] = "=SUM(A1:A3) is text here\nsecond line\n"
    data["contracts"][0]["demand_variation"] = [
        {"dist": "fixed", "value": 1.0},
        {"dist": "normal", "mean": 1.0, "sd": 0.02},
        {"dist": "normal", "mean": 1.01, "sd": 0.03, "high": 1.1},
    ]
    data["contracts"][0]["costs"]["stepped"] = {
        "capacity_per_step": 7756.5, "cost_per_step": 2_000_000, "closures": 1,
        "first_release_year": 2,
    }  # fmt: skip
    data["contracts"][1]["volume_band"] = {"lower": 0.9, "upper": 1.15, "rate": 0.5}
    data["contracts"].append({
        "id": "gp_cap", "name": "GP capitation", "commissioner": "icb", "provider": "acute",
        "rule": "capitation", "population": 120000, "per_head": 1.234567891234,
        "expected_units": [100, 110.5, 121],
    })  # fmt: skip
    data["contracts"].append({
        "id": "uec", "commissioner": "icb", "provider": "acute", "rule": "blended",
        "price": 2200, "expected_units": {"dist": "discrete", "values": [900, 1000, 1100],
                                          "probs": [0.25, 0.5, 0.25]},
        "marginal_rate_above": 0.2, "marginal_rate_below": 0.3,
    })  # fmt: skip
    data["schemes"][0]["staffing"] = {
        "posts_per_team": 6, "cost_per_post": 48000,
        "filled": [{"dist": "uniform", "low": 0.6, "high": 0.9}, 0.95, 1],
        "agency_premium": 1e-05,
    }  # fmt: skip
    data["schemes"][0]["paid_directly_by"] = "icb"
    data["quality_scores"]["acute"] = [70, 80, {"dist": "triangular", "low": 75, "mode": 85,
                                                "high": 95}]  # fmt: skip
    data["uncertainty"]["named"].append(
        {"name": "bad-winter", "weight": 0.05, "values": {
            "schemes.hah.targeting": 0.5, "schemes.hah.ramp_up": [0.5, 0.7, 0.9]}}
    )  # fmt: skip
    data["keep_whole"]["la"] = {"mode": "cvar", "beta": 0.8, "tolerance": 12500.5}
    # a requirement other than the default, written as JSON text in the Case sheet
    data["requirements"] = {"objective": OBJECTIVES[-1], "reference_split": {
        "icb": 0.25, "la": 0.05, "acute": 0.45, "comm": 0.25}}  # fmt: skip
    data["levers"] = {"teams": {"hah": [1, 2, 3]}}
    return Case.model_validate(data)


def test_a_case_with_every_kind_of_cell_round_trips(tmp_path):
    case = rich_case()
    path = write_case_workbook(case, tmp_path / "rich.xlsx")
    assert read_case_workbook(path).model_dump() == case.model_dump()
    wb = load_workbook(path)
    contracts = wb["Contracts"]
    head = [c.value for c in contracts[1]]
    row = {h: c.value for h, c in zip(head, contracts[3], strict=True)}
    assert row["volume_band.upper"] == 1.15
    gp = {h: c.value for h, c in zip(head, contracts[5], strict=True)}
    assert gp["expected_units"] == "[100, 110.5, 121]"
    assert gp["per_head"] == 1.234567891234
    first = {h: c.value for h, c in zip(head, contracts[2], strict=True)}
    assert first["demand_variation"] == (
        "[fixed(1), normal(1, 0.02), normal(1.01, 0.03, high=1.1)]"
    )
    assert wb["Case"]["B3"].value.startswith("=SUM") and wb["Case"]["B3"].data_type == "s"


@pytest.mark.parametrize(
    "text,value",
    [
        ("0.65", 0.65),
        ("2,200", 2200.0),
        ("1e-05", 1e-05),
        ("fixed(0.65)", {"dist": "fixed", "value": 0.65}),
        ("uniform(0.6, 1)", {"dist": "uniform", "low": 0.6, "high": 1.0}),
        ("Triangular( 0.45,0.65 , 0.8 )", {"dist": "triangular", "low": 0.45, "mode": 0.65,
                                           "high": 0.8}),
        ("normal(100, 15)", {"dist": "normal", "mean": 100.0, "sd": 15.0}),
        ("normal(100, 15, 70, 130)", {"dist": "normal", "mean": 100.0, "sd": 15.0, "low": 70.0,
                                      "high": 130.0}),
        ("normal(100, 15, high=130)", {"dist": "normal", "mean": 100.0, "sd": 15.0,
                                       "high": 130.0}),
        ("discrete(0.4, 0.6; 0.25, 0.75)", {"dist": "discrete", "values": [0.4, 0.6],
                                            "probs": [0.25, 0.75]}),
        ("[1,2,3]", [1.0, 2.0, 3.0]),
        ("[uniform(0.4, 0.7), 0.9]", [{"dist": "uniform", "low": 0.4, "high": 0.7}, 0.9]),
    ],
)  # fmt: skip
def test_parameter_text_reads_as_the_schema_takes_it(text, value):
    assert parse_param(text) == value


@pytest.mark.parametrize(
    "text,why",
    [
        ("lots", "unknown distribution 'lots'"),
        ("triangle(1, 2, 3)", "did you mean triangular?"),
        ("uniform(1)", "uniform takes low, high (2 numbers)"),
        ("uniform(1, 2", "the text ends too early"),
        ("[1, 2", "the text ends too early"),
        ("[[1], 2]", "unexpected '['"),
        ("1 2", "unexpected '2' after the value"),
        ("normal(1, 2, width=3)", "normal has no argument 'width'"),
        ("inf", "unknown distribution 'inf'"),
    ],
)
def test_parameter_text_errors_say_why(text, why):
    with pytest.raises(ParamTextError, match=None) as err:
        parse_param(text)
    assert why in str(err.value)


def test_parameter_text_is_the_inverse_of_formatting():
    for v in [0.1, 1 / 3, 2_000_000.0, [0.5, {"dist": "uniform", "low": 0.1, "high": 0.2}],
              {"dist": "normal", "mean": 1e-7, "sd": 0.3, "low": None, "high": 5.0},
              {"dist": "discrete", "values": [1.5, 2.5], "probs": [0.3, 0.7]}]:  # fmt: skip
        text = format_param(v)
        back = parse_param(text) if isinstance(text, str) else text
        want = {k: x for k, x in v.items() if x is not None} if isinstance(v, dict) else v
        assert back == want


def test_template_has_every_sheet_notes_comments_and_validation(tmp_path):
    out = tmp_path / "case.xlsx"
    res = runner.invoke(app, ["template", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert res.output.strip() == f"wrote {out}"
    wb = load_workbook(out)
    assert wb.sheetnames == ["Notes"] + [s.name for s in case_sheets()]
    notes = "\n".join(str(c.value) for c in wb["Notes"]["A"] if c.value)
    assert "triangular(0.45, 0.65, 0.8)" in notes and "[0.5, 0.8, 1]" in notes
    parties = wb["Parties"]
    assert [c.value for c in parties[1]] == ["id", "name", "role", "kind"]
    assert parties["C1"].comment.text.startswith("commissioner pays for care")
    lists = {str(dv.sqref): dv.formula1 for dv in parties.data_validations.dataValidation}
    assert lists["C2:C501"] == '"commissioner,provider,both,risk_partner"'
    contracts = wb["Contracts"]
    head = {c.value: c.column_letter for c in contracts[1]}
    dvs = {str(dv.sqref): dv for dv in contracts.data_validations.dataValidation}
    price = dvs[f"{head['price']}2:{head['price']}501"]
    assert (price.type, price.operator, price.formula1) == ("decimal", "between", "0")
    assert price.formula2 == "1000000000000"  # a trillion pounds: beyond any plausible price
    assert dvs[f"{head['provider']}2:{head['provider']}501"].formula1 == "Parties!$A$2:$A$501"
    share = dvs[f"{head['marginal_rate_above']}2:{head['marginal_rate_above']}501"]
    assert (share.operator, share.formula1, share.formula2) == ("between", "0", "1")
    assert "Unit: pounds" in contracts[f"{head['price']}1"].comment.text
    # an empty template is not yet a case: validate names what to add
    res = runner.invoke(app, ["validate", str(out)])
    assert res.exit_code == 2
    assert f"{out}: sheet Case, cell B2 (name): is required but missing: add it" in res.output


def test_template_from_a_case_is_read_by_validate_and_check(tmp_path):
    core = CASES / "core.yaml"
    out = tmp_path / "core.xlsx"
    assert runner.invoke(app, ["template", "--out", str(out), "--case", str(core)]).exit_code == 0
    yaml_doc = runner.invoke(app, ["validate", str(core), "--json"])
    xlsx_doc = runner.invoke(app, ["validate", str(out), "--json"])
    assert xlsx_doc.exit_code == 0, xlsx_doc.output
    a, b = yaml.safe_load(yaml_doc.output), yaml.safe_load(xlsx_doc.output)
    a.pop("file"), b.pop("file")
    assert a == b
    agreement = CASES / "core.agreement.yaml"
    c1 = runner.invoke(app, ["check", str(core), "-a", str(agreement), "--json"])
    c2 = runner.invoke(app, ["check", str(out), "-a", str(agreement), "--json"])
    assert c1.exit_code == c2.exit_code and c1.output == c2.output


def test_template_refuses_to_overwrite_unless_forced(tmp_path):
    out = tmp_path / "case.xlsx"
    out.write_text("my filled workbook")
    res = runner.invoke(app, ["template", "--out", str(out)])
    assert res.exit_code == 2
    assert f"{out}: --out: already exists: pass --force to replace it, or choose another name" in (
        res.output
    )
    assert out.read_text() == "my filled workbook"
    assert runner.invoke(app, ["template", "--out", str(out), "--force"]).exit_code == 0
    assert zipfile.is_zipfile(out)
    res = runner.invoke(app, ["template", "--out", str(tmp_path / "case.xls")])
    assert res.exit_code == 2 and "--out: must end in .xlsx" in res.output


def test_a_formula_with_a_saved_result_is_read(tmp_path):
    """Excel saves a formula with its result; the reader takes the result."""
    case = gainshare.load_case(CASES / "core.yaml")
    path = write_case_workbook(case, tmp_path / "f.xlsx")
    wb = load_workbook(path)
    head = {c.value: c.column_letter for c in wb["Contracts"][1]}
    cell = f"{head['price']}2"
    price = wb["Contracts"][cell].value
    wb["Contracts"][cell] = f"={price}/2*2"
    wb.save(path)
    # add the cached value Excel would have saved
    with zipfile.ZipFile(path) as z:
        parts = {i.filename: z.read(i) for i in z.infolist()}
    sheet = next(n for n in parts if n.startswith("xl/worksheets/sheet") and
                 f"<f>{price}/2*2</f>".encode() in parts[n])  # fmt: skip
    formula = f"<f>{price}/2*2</f>".encode()
    parts[sheet] = parts[sheet].replace(formula + b"<v />", formula + f"<v>{price}</v>".encode())
    with zipfile.ZipFile(path, "w") as z:
        for name, data in parts.items():
            z.writestr(name, data)
    assert read_case_workbook(path).model_dump() == case.model_dump()
