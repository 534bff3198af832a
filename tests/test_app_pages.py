"""Every page of the workshop app under `streamlit.testing.v1.AppTest`: it loads, solves the
example, raises nothing, and shows the package's own figures; a slider or requirement change
changes the result (re-solving the session's model, not rebuilding it); two sessions do not
share anything."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

import gainshare
from gainshare.analysis import workshop as wk
from gainshare.optimise import Designer

ROOT = Path(__file__).resolve().parents[1]
HOME = str(ROOT / "app" / "Home.py")
WORKSHOP = ROOT / "app" / "examples" / "workshop6.yaml"
KEY = "gainshare.session"


@pytest.fixture(scope="module")
def case():
    return gainshare.load_case(WORKSHOP)


@pytest.fixture(scope="module")
def expected(case):
    """The package's own answers for the example: at the case's levels, and with the acute
    trust accepting £25k a year worse off."""
    d = Designer(case)
    base = d.solve().check.document
    d.set_tolerance("acute", 25_000.0)
    moved = d.solve().check.document
    return base, moved


def _home() -> AppTest:
    at = AppTest.from_file(HOME, default_timeout=120).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def _slider(at: AppTest, label: str):
    return next(s for s in at.select_slider if s.label.startswith(label))


def _go(at: AppTest, page: str) -> AppTest:
    at.switch_page(f"pages/{page}").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_home_shows_the_solved_example_and_a_slider_re_solves(expected):
    base, moved = expected
    at = _home()
    m = _metrics(at)
    assert m["Commissioners keep"] == wk.money(base["retained"]["expected"]) == "£1.4m"
    assert m["System savings"] == wk.money(base["system_savings"]["expected"]) == "£7.0m"
    assert m["Worst provider year"] == "£0"
    assert m["Everyone kept whole in"] == "100%"
    assert [s.value for s in at.success][0].startswith("This agreement meets every")
    session = at.session_state[KEY]
    model = session.designer

    _slider(at, "May be worse off by up to").set_value(25_000.0).run()
    m = _metrics(at)
    assert m["Commissioners keep"] == wk.money(moved["retained"]["expected"]) == "£1.5m"
    assert m["Worst provider year"] == "-£25k"  # the acute trust's new tolerance binds
    assert session.designer is model  # re-solved with the model it holds
    assert session.whatif.tolerance == (("acute", 25_000.0),)

    next(s for s in at.slider if s.label.startswith("Targeting")).set_value(80).run()
    assert not at.exception
    assert session.designer is not model  # a case figure changed: a new model
    path = "schemes.rapid_response.targeting"
    assert session.model_case.schemes[0].targeting.mode == pytest.approx(0.8)
    assert wk.central_value(session.model_case, path) == pytest.approx(0.8)
    assert _metrics(at)["System savings"] != "£7.0m"


def test_two_sessions_do_not_share_edits():
    a, b = _home(), _home()
    assert a.session_state[KEY] is not b.session_state[KEY]
    _slider(a, "May be worse off by up to").set_value(25_000.0).run()
    b.run()
    assert _metrics(a)["Worst provider year"] == "-£25k"
    assert _metrics(b)["Worst provider year"] == "£0"
    assert b.session_state[KEY].designer is not a.session_state[KEY].designer


def test_an_impossible_requirement_is_said_in_words():
    at = _home()
    _slider(at, "Commissioners keep at least").set_value(5_000_000.0).run()
    assert not at.exception
    assert at.error[0].value.startswith("No agreement meets every requirement")
    at.button(key="explain").click().run()
    assert not at.exception
    words = [m.value for m in at.markdown if m.value.startswith("- ")]
    assert any("The smallest relaxation that makes them meet" in w for w in words)


def test_upload_good_and_bad_case():
    at = _home()
    up = at.sidebar.file_uploader[0]
    bad = (ROOT / "cases" / "core.yaml").read_bytes().replace(b"rule: block", b"rule: blok")
    up.set_value(("core.yaml", bad, "application/x-yaml")).run()
    assert not at.exception
    lines = [e.value for e in at.sidebar.error]
    assert lines == ["core.yaml: contracts[1].rule: is 'blok': use one of 'activity', 'block', "
                     "'blended' or 'capitation'"]  # fmt: skip
    assert at.session_state[KEY].case.name.startswith("Eastbrook")  # the case did not change
    good = (ROOT / "cases" / "core.yaml").read_bytes()
    at.sidebar.file_uploader[0].set_value(("core.yaml", good, "application/x-yaml")).run()
    core = gainshare.load_case(ROOT / "cases" / "core.yaml")
    keep = Designer(core).solve().check.document["retained"]["expected"]
    assert _metrics(at)["Commissioners keep"] == wk.money(keep)
    assert at.session_state[KEY].case == core


def _moved_home() -> AppTest:
    """The workshop screen after the room lets the acute trust be £25k a year worse off."""
    at = _home()
    _slider(at, "May be worse off by up to").set_value(25_000.0).run()
    return at


def test_case_page_shows_the_tables_and_the_current_result(expected):
    at = _go(_home(), "1_Case.py")
    assert at.success[0].value.startswith("The case is valid")
    assert [t.label for t in at.tabs] == [spec.title for spec in wk.TABLES]
    assert _metrics(at)["Commissioners keep"] == "£1.4m"
    at = _go(_moved_home(), "1_Case.py")
    assert _metrics(at)["Commissioners keep"] == wk.money(expected[1]["retained"]["expected"])


def test_requirements_page_changes_the_optimum(case):
    at = _go(_home(), "2_Requirements.py")
    assert _metrics(at)["Commissioners keep"] == "£1.4m"
    key = next(
        k for k in at.session_state if str(k).startswith("req.") and k.endswith(".objective")
    )
    at.selectbox(key=key).set_value("worst_margin").run()
    assert not at.exception
    other = wk.apply_requirements(case, wk.WhatIf(objective="worst_margin"))
    doc = Designer(other).solve().check.document
    assert _metrics(at)["Commissioners keep"] == wk.money(doc["retained"]["expected"])
    assert at.session_state[KEY].case.requirements.objective == "worst_margin"


def test_candidates_page_puts_them_side_by_side(expected):
    at = _go(_home(), "3_Candidates.py")
    table = at.dataframe[0].value
    assert table.columns[0] == "Optimum"
    assert len(table.columns) >= 4
    assert "Proposal in the case file" in table.columns
    assert table.loc["Commissioners keep (expected)", "Optimum"] == wk.money(
        expected[0]["retained"]["expected"]
    )
    assert table.loc["Meets every requirement", "Optimum"] == "Yes"
    moved = _go(_moved_home(), "3_Candidates.py").dataframe[0].value
    assert moved.loc["Commissioners keep (expected)", "Optimum"] == wk.money(
        expected[1]["retained"]["expected"]
    )
    assert moved.loc["Worst provider year", "Optimum"] == "-£25k"


def test_proposal_page_checks_and_repairs(case):
    at = _go(_home(), "4_Proposal.py")
    proposal = gainshare.load_agreement(WORKSHOP.with_name("workshop6.agreement.yaml"), case)
    doc = gainshare.check(case, proposal).document
    assert not doc["all_kept_whole"]
    assert at.error[0].value.startswith("The proposal fails")
    assert _metrics(at)["Commissioners keep"] == wk.money(doc["retained"]["expected"])
    compare = at.dataframe[-1].value
    assert list(compare.columns) == ["The room's proposal", "Nearest that works"]
    assert compare.loc["Meets every requirement"].tolist() == ["No", "Yes"]
    assert any("What moved" in m.value for m in at.markdown)
    # the room lets the acute trust be up to £500k a year worse off: it is now kept whole
    home = _home()
    _slider(home, "May be worse off by up to").set_value(500_000.0).run()
    at = _go(home, "4_Proposal.py")
    positions = at.dataframe[1].value.set_index("Organisation")
    assert positions.loc["Eastbrook Hospitals NHS FT", "Met"] == "Yes"
    assert (
        "accepting up to £500k a year worse off"
        in positions.loc["Eastbrook Hospitals NHS FT", "Requirement"]
    )


def _sheet(at: AppTest) -> str:
    return next(m.value for m in at.markdown if "Sharing of gains" in m.value)


def test_term_sheet_page(expected):
    at = _go(_home(), "5_Term_sheet.py")
    before = _sheet(at)
    after = _sheet(_go(_moved_home(), "5_Term_sheet.py"))
    assert before != after
    assert "£1.39m" in before  # the commissioners' expected net in the positions table
    labels = [b.label for b in at.get("download_button")]
    assert labels == ["Term sheet (HTML)", "Term sheet (Markdown)", "Agreement (YAML)",
                      "Workbook (Excel)", "Case (YAML)"]  # fmt: skip
