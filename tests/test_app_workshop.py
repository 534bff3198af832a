"""The workshop app's package side (`gainshare.analysis.workshop`) and its session state
(`app/state.py`): figures and words, tables to a case and back with a message per cell, what-ifs
worked by hand on the tiny case, the room's proposal, and the downloads."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest
import yaml
from helpers_design import tiny_case
from openpyxl import load_workbook

import gainshare
from gainshare.analysis import workshop as wk
from gainshare.optimise import Designer

ROOT = Path(__file__).resolve().parents[1]
WORKSHOP = ROOT / "app" / "examples" / "workshop6.yaml"
sys.path.insert(0, str(ROOT / "app"))
import state  # noqa: E402  (app/state.py: the app's session state)


@pytest.fixture(scope="module")
def core():
    case = gainshare.load_case(ROOT / "cases" / "core.yaml")
    agreement = gainshare.load_agreement(ROOT / "cases" / "core.agreement.yaml", case)
    return case, agreement, gainshare.check(case, agreement)


# ---------------------------------------------------------------- numbers for people


@pytest.mark.parametrize(
    ("pounds", "text"),
    [(0, "£0"), (-0.3, "£0"), (950, "£950"), (1_500, "£1.5k"), (9_949, "£9.9k"),
     (12_345, "£12k"), (349_800, "£350k"), (999_600, "£1.0m"), (1_234_567, "£1.2m"),
     (-2_500_000, "-£2.5m"), (12_340_000, "£12.3m")],
)  # fmt: skip
def test_money_reads_like_a_finance_paper(pounds, text):
    assert wk.money(pounds) == text


def test_percentages_and_requirements_in_words():
    assert [wk.pct(p) for p in (1, 0.95, 0.9956, 0.0004, 0.9996, 0)] == [
        "100%", "95%", "99.6%", "under 0.1%", "over 99.9%", "0%"]  # fmt: skip
    assert wk.requirement_words("robust", 0.95, 0) == "kept whole in every scenario"
    assert wk.requirement_words("chance", 0.9, 50_000) == (
        "kept whole in at least 90% of scenarios, accepting up to £50k a year worse off"
    )
    assert wk.requirement_words("cvar", 0.9, 100_000) == (
        "in the worst 10% of scenarios, short by no more than £100k a year on average"
    )


def test_slider_steps_are_round_and_reach_the_top():
    steps = wk.nice_steps(4.2e6)
    assert steps[:4] == [0.0, 1000.0, 1500.0, 2000.0]
    assert steps[-2:] == [4_000_000.0, 5_000_000.0]
    assert all(a < b for a, b in zip(steps, steps[1:], strict=False))


# ---------------------------------------------------------------- positions


def test_headline_of_the_tiny_optimum_is_worked_by_hand():
    case = tiny_case()
    r = Designer(case).solve()
    h = wk.headline(case, r.check)
    # pool 100,000 / 80,000; savings 10,000 / 2,000; shares acute 60%, community 37.5%, ccg 2.5%
    assert (h.pool, h.system_savings) == (90_000.0, 6_000.0)
    assert h.commissioners_keep == pytest.approx(2_250.0, abs=0.01)
    assert h.worst_provider_year == pytest.approx(0.0, abs=0.01)
    assert h.prob_all_whole == 1.0 and h.all_met
    words = wk.position_sentences(case, r.check)
    assert words["acute"] == (
        "loses £90k of income, saves £36k of costs, receives £54k through the agreement: "
        "better off by £0 expected; worst year £0; kept whole in 100% of scenarios."
    )


def test_positions_and_shares_tables(core):
    case, agreement, result = core
    frame = wk.positions_frame(case, result)
    assert list(frame["Organisation"]) == [p.name for p in case.parties]
    assert list(frame["Met"]) == ["n/a", "Yes", "Yes"]
    doc = result.document["by_party"]["acute"]
    assert frame.loc[1, "Expected net"] == wk.money(doc["expected_net"])
    shares = wk.shares_frame(case, agreement)
    assert list(shares.columns) == ["Organisation", "Gains: first £4.3m", "Gains above £4.3m",
                                    "Losses", "Cap (a year)", "Collar (a year)"]  # fmt: skip
    assert list(shares["Gains: first £4.3m"]) == ["7%", "55%", "38%"]
    assert list(shares["Cap (a year)"]) == ["none", "£3.0m", "£2.0m"]


# ---------------------------------------------------------------- tables


CASE_FILES = [p for p in sorted((ROOT / "cases").glob("*.yaml"))
              if not p.name.endswith(".agreement.yaml")] + [WORKSHOP]  # fmt: skip


@pytest.mark.parametrize("path", CASE_FILES, ids=lambda p: p.stem)
def test_tables_give_back_the_same_case(path):
    case = gainshare.load_case(path)
    edit = wk.case_from_tables(case, wk.case_tables(case))
    assert edit.ok and edit.value == case


def test_each_bad_cell_is_named_by_table_row_and_column():
    case = gainshare.load_case(WORKSHOP)
    tables = {k: v.copy() for k, v in wk.case_tables(case).items()}
    tables["contracts"].loc[0, "Price (£ a unit)"] = -5
    tables["costs"].loc[1, "Fixed cost (£ a year)"] = -1
    edit = wk.case_from_tables(case, tables)
    assert not edit.ok
    where = [(p.table, p.row, p.column, p.ident) for p in edit.problems]
    assert where == [("contracts", 0, "Price (£ a unit)", "acute_nel"),
                     ("costs", 1, "Fixed cost (£ a year)", "acute_mh")]  # fmt: skip
    assert edit.problems[0].text == (
        "Contracts, row 1 (acute_nel), Price (£ a unit): is -5.0: it must be at least 0: fix the "
        "value or its sign"
    )
    tables["contracts"].loc[0, "Price (£ a unit)"] = 2400.0
    tables["costs"].loc[1, "Fixed cost (£ a year)"] = 3_500_000.0
    tables["schemes"].loc[0, "Targeting (0-1)"] = "triangle(0.6, 0.7, 0.8)"
    (p,) = wk.case_from_tables(case, tables).problems
    assert (p.table, p.row, p.column) == ("schemes", 0, "Targeting (0-1)")
    assert "did you mean triangular?" in p.message


def test_an_edited_figure_and_a_renamed_scheme_keep_everything_else():
    case = gainshare.load_case(WORKSHOP)
    tables = {k: v.copy() for k, v in wk.case_tables(case).items()}
    tables["schemes"].loc[0, "Id"] = "rapid"
    tables["schemes"].loc[0, "Targeting (0-1)"] = "triangular(0.6, 0.7, 0.8)"
    tables["contracts"].loc[0, "Price (£ a unit)"] = 2_500.0
    edit = wk.case_from_tables(case, tables)
    assert edit.ok
    new = edit.value
    assert new.schemes[0].id == "rapid"
    assert new.schemes[0].moves_from == case.schemes[0].moves_from  # not shown in the table
    assert new.schemes[0].targeting.mode == 0.7
    assert new.contracts[0].price == 2_500.0
    assert new.contracts[0].costs == case.contracts[0].costs


def test_requirements_tables_round_trip_and_fixed_terms(core):
    case = core[0]
    keep, fixed = wk.keep_whole_frame(case), wk.fixed_terms_frame(case)
    assert wk.with_requirements(case, keep, fixed, wk.settings_of(case)).value == case
    keep.loc["acute", "Requirement"] = "Share of scenarios"
    keep.loc["acute", "Level (% of scenarios)"] = 90.0
    fixed.loc["acute", "Fixed cap (£ a year)"] = 2_000_000.0
    edit = wk.with_requirements(case, keep, fixed, wk.Settings("worst_margin", "5%", 500_000.0))
    new = edit.value
    assert new.keep_whole["acute"].mode == "chance" and new.keep_whole["acute"].beta == 0.9
    assert new.requirements.caps["acute"].value == 2_000_000.0
    assert not new.requirements.caps["acute"].decide
    assert (new.requirements.objective, new.requirements.rounding) == ("worst_margin", "5%")
    assert new.requirements.commissioners_min_expected == 500_000.0
    keep.loc["acute", "Level (% of scenarios)"] = 120.0
    fixed.loc["ccg", "Fixed cap (£ a year)"] = 5.0
    (p,) = wk.with_requirements(case, keep, fixed, wk.settings_of(case)).problems
    assert p.text == ("Keep-whole requirements, row 2 (acute), Level (% of scenarios): is 120: "
                      "give a percentage from 0 to 100")  # fmt: skip


# ---------------------------------------------------------------- what-ifs


def test_moving_an_assumption_moves_its_whole_range():
    case = gainshare.load_case(WORKSHOP)
    path = "schemes.rapid_response.targeting"
    assert wk.central_value(case, path) == 0.75
    moved = wk.with_central(case, path, 0.5)
    t = moved.schemes[0].targeting
    assert (t.low, t.mode, t.high) == (0.4, 0.5, 0.6)
    assert moved.uncertainty.named[0].values[path] == 0.43  # pessimistic 0.68 moves too
    clipped = wk.with_central(case, path, 0.95).schemes[0].targeting
    assert (clipped.low, clipped.mode, clipped.high) == (0.85, 0.95, 1.0)


def test_session_what_ifs_are_worked_by_hand_and_reuse_the_model():
    case = tiny_case()
    s = state.Session("tiny", case, original=case)
    first = s.solve()
    assert first.rebuilt
    model = s.designer
    # the acute trust accepts £6,000 worse off: its share falls to 54% (binding in scenario a),
    # the commissioners keep 8.5% of the 90,000 expected pool
    s.set_whatif(wk.WhatIf(tolerance=(("acute", 6_000.0),)))
    moved = s.solve()
    h = wk.headline(moved.case, moved.check)
    assert s.designer is model and not moved.rebuilt
    assert h.commissioners_keep == pytest.approx(7_650.0, abs=0.01)
    assert h.worst_provider_year == pytest.approx(-6_000.0, abs=0.01)
    assert moved.check.all_kept_whole  # judged against the what-if level, not the built one
    assert s.previous is first
    # targeting up to 95% (scenarios a 100 and b 85 avoided): a new model; community needs
    # 30,000 / 85,000 of the pool, the commissioners keep the rest of 92,500 expected
    s.set_whatif(wk.WhatIf(assumptions=(("schemes.rr.targeting", 0.95),)))
    shifted = s.solve()
    assert s.designer is not model and shifted.rebuilt
    h = wk.headline(shifted.case, shifted.check)
    assert h.system_savings == pytest.approx(7_000.0)
    assert h.commissioners_keep == pytest.approx(92_500 * (1 - 0.6 - 30_000 / 85_000), abs=0.01)
    s.set_whatif(wk.WhatIf(assumptions=(("schemes.rr.targeting", 0.8),)))
    assert s.solve().check is None  # community would need 43% with acute at 60%


def test_tolerance_slider_reaches_the_largest_shortfall():
    case = tiny_case()
    econ = Designer(case).data.econs[0]
    steps = wk.tolerance_steps(case, econ, "acute")
    assert steps[0] == 0.0 and steps[-1] >= 60_000.0  # acute: -60,000 before sharing


# ---------------------------------------------------------------- the room's proposal


def test_proposal_table_round_trip_and_problems(core):
    case, agreement, _ = core
    frame = wk.proposal_frame(case, agreement)
    assert list(frame.columns) == ["Organisation", "Gains: first £4.3m (%)",
                                   "Gains above £4.3m (%)", "Losses (%)", "Cap (a year)",
                                   "Collar (a year)"]  # fmt: skip
    assert wk.agreement_from_proposal(case, agreement, frame).value.terms == agreement.terms
    frame.loc["acute", "Gains: first £4.3m (%)"] = 50.0
    frame.loc["community", "Cap (a year)"] = "lots"
    (p,) = wk.agreement_from_proposal(case, agreement, frame).problems
    assert (p.row, p.column, p.ident) == (2, "Cap (a year)", "community")
    frame.loc["community", "Cap (a year)"] = "£1.5m"
    (p,) = wk.agreement_from_proposal(case, agreement, frame).problems
    assert p.column == "Gains: first £4.3m (%)" and "sum to 95%" in p.message
    frame.loc["ccg", "Gains: first £4.3m (%)"] = 12.0
    frame.loc["acute", "Collar (a year)"] = "2%"
    new = wk.agreement_from_proposal(case, agreement, frame).value
    assert new.terms.gain_tiers[0].shares == {"ccg": 0.12, "acute": 0.5, "community": 0.38}
    assert new.terms.caps["community"].amount == 1_500_000.0
    assert new.terms.collars["acute"].share_of_expected == 0.02


@pytest.mark.parametrize(
    ("text", "limit"),
    [("£500k", {"amount": 500_000.0}), ("1,250,000", {"amount": 1_250_000.0}),
     ("£1.5m", {"amount": 1_500_000.0}), ("2% of expected payment", {"share_of_expected": 0.02}),
     ("", None)],
)  # fmt: skip
def test_caps_are_read_as_people_write_them(text, limit):
    assert wk.parse_limit(text) == limit


def test_rounded_shares_keep_each_tier_at_exactly_100_percent():
    shares = {"acute": 0.542367361452482, "community": 0.37027023355230154, "ccg": 0.087362405}
    # 54.24 / 37.03 / 8.74 -> floors 54 / 37 / 8 = 99; the largest remainder (ccg) takes the 1
    assert wk._round_shares(shares, 0.01) == {"acute": 0.54, "community": 0.37, "ccg": 0.09}


# ---------------------------------------------------------------- downloads


def test_downloads_read_back(core):
    case, agreement, result = core
    files = {d.label: d for d in wk.downloads(case, agreement, result)}
    assert set(files) == {"Term sheet (HTML)", "Term sheet (Markdown)", "Agreement (YAML)",
                          "Workbook (Excel)", "Case (YAML)"}  # fmt: skip
    back = gainshare.Agreement.model_validate(yaml.safe_load(files["Agreement (YAML)"].make()))
    assert back == agreement
    assert wk.case_from_mapping(yaml.safe_load(files["Case (YAML)"].make())) == case
    assert "Sharing of gains" in files["Term sheet (Markdown)"].make().decode()
    book = load_workbook(io.BytesIO(files["Workbook (Excel)"].make()), read_only=True)
    assert len(book.sheetnames) >= 3


def test_an_excel_case_uploads(tmp_path):
    from gainshare.report.excel_case import write_case_workbook

    case = gainshare.load_case(WORKSHOP)
    path = write_case_workbook(case, tmp_path / "case.xlsx")
    assert wk.load_upload("workshop.xlsx", path.read_bytes()) == case
    with pytest.raises(wk.InputError) as e:
        wk.load_upload("broken.xlsx", b"PK not really a workbook")
    assert all(line.startswith("broken.xlsx: ") for line in e.value.problems)


def test_uploads_give_one_line_per_problem():
    good = (ROOT / "cases" / "core.yaml").read_bytes()
    assert wk.load_upload("core.yaml", good) == gainshare.load_case(ROOT / "cases" / "core.yaml")
    with pytest.raises(wk.InputError) as e:
        wk.load_upload("bad.yaml", good.replace(b"price: 2200", b"prise: 2200"))
    assert e.value.problems == ["bad.yaml: contracts[0].prise: unknown key 'prise': remove it "
                                "or fix the spelling (did you mean 'price'?)"]  # fmt: skip
    with pytest.raises(wk.InputError) as e:
        wk.load_upload("case.pdf", b"%PDF")
    assert e.value.problems == ["case.pdf: (file): a case is a .yaml, .json or .xlsx file: "
                                "choose one of those"]  # fmt: skip


def test_the_app_command_finds_the_app_or_says_why_not(monkeypatch, tmp_path):
    from typer.testing import CliRunner

    from gainshare import cli

    assert cli.app_home() == ROOT / "app" / "Home.py"
    monkeypatch.setattr(gainshare, "__file__", str(tmp_path / "src" / "gainshare" / "x.py"))
    result = CliRunner().invoke(cli.app, ["app", "--headless"])
    assert result.exit_code == 2
    assert "the workshop app is not there" in result.output
