"""Every page of the workshop app under `streamlit.testing.v1.AppTest` (fast logic checks; the
real-browser flows are in test_browser.py): it loads, solves the example, raises nothing,
shows the package's own figures, and fixes each finding of the room trying it out - arrows
that compare only within one case, figures that never contradict, sliders that show where they
work, words instead of ids and codes, a proposal and a term sheet for any case, a room that
survives a refresh, and two sessions that never share anything."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
import yaml
from streamlit.testing.v1 import AppTest

import gainshare
from gainshare.optimise import Designer
from gainshare.optimise.repair import RepairResult
from gainshare.optimise.whatif import WhatIf, apply_requirements
from gainshare.report.numbers import money
from gainshare.schema.case import Case
from gainshare.settle.requirements import failures
from tests.helpers_design import fund_dict

ROOT = Path(__file__).resolve().parents[1]
HOME = str(ROOT / "app" / "Home.py")
WORKSHOP = ROOT / "app" / "examples" / "workshop6.yaml"
ROOM = "gainshare.room"
IDS = re.compile(r"\b(acute_nel|acute_mh|mental_health|local_authority|gpfed|icb|mc\d{3,})\b")


@pytest.fixture(autouse=True)
def _main_module_back():
    """Streamlit's script runner installs the app script as `__main__` and leaves it there: a
    process pool started later in the same test run (the sweep's) would re-run the app in its
    workers. Put the real one back after each test."""
    main = sys.modules["__main__"]
    yield
    sys.modules["__main__"] = main


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


def _worst(doc: dict) -> float:
    """The worst year of any organisation that is paid as a provider."""
    return min(d["worst_net"] for d in doc["by_party"].values() if d["role"] != "commissioner")


def _ok(at: AppTest) -> AppTest:
    assert not at.exception, [e.value for e in at.exception]
    return at


def _home(room: str | None = None) -> AppTest:
    at = AppTest.from_file(HOME, default_timeout=180)
    if room:
        at.query_params["room"] = room
    return _ok(at.run())


def _metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def _deltas(at: AppTest) -> dict[str, str | None]:
    return {m.label: m.delta for m in at.metric}


def _slider(at: AppTest, label: str):
    return next(s for s in at.select_slider if s.label.startswith(label))


def _targeting(at: AppTest):
    return next(s for s in at.slider if s.label.startswith("Targeting"))


def _go(at: AppTest, page: str) -> AppTest:
    at.switch_page(f"pages/{page}").run()
    return _ok(at)


def _captions(at: AppTest) -> list[str]:
    return [c.value for c in at.caption]


def _screen_text(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + _captions(at) + [e.value for e in at.error]
    parts += (
        [e.value for e in at.warning] + [e.value for e in at.success] + [e.value for e in at.info]
    )
    for df in at.dataframe:
        frame = df.value
        parts += [str(c) for c in frame.columns] + [str(v) for v in frame.to_numpy().ravel()]
    return "\n".join(parts)


def _room(at: AppTest):
    """The room this AppTest's session has (the app's own store)."""
    return at.session_state[ROOM]


# ---------------------------------------------------------------- the workshop screen


def test_home_shows_the_solved_example_and_a_slider_re_solves(expected):
    base, moved = expected
    at = _home()
    m = _metrics(at)
    assert m["Commissioners keep"] == money(base["retained"]["expected"]) == "£1.39m"
    assert m["System savings"] == money(base["system_savings"]["expected"]) == "£7.03m"
    # caps in whole £1,000 and shares in whole percentages leave the tightest provider a
    # little above its line in its worst year
    assert m["Worst provider year"] == money(_worst(base)) == "£73"
    assert m["Everyone kept whole in"] == "100%"
    assert at.success[0].value == "This agreement meets every requirement."
    assert not any(_deltas(at).values())  # nothing to compare with yet

    _slider(at, "May be worse off by up to").set_value(25_000.0).run()
    _ok(at)
    m = _metrics(at)
    assert m["Commissioners keep"] == money(moved["retained"]["expected"]) == "£1.47m"
    assert m["Worst provider year"] == money(_worst(moved)) == "-£24k"  # acute's new tolerance
    assert _deltas(at)["Commissioners keep"] == "+£86k"  # against the move before, same case

    text = _screen_text(at)
    assert not IDS.search(text) and "None" not in text and "Designed:" not in text
    _targeting(at).set_value(80).run()
    _ok(at)
    assert _metrics(at)["System savings"] != "£7.03m"
    assert any(c.startswith("Answered in") and "built the model" in c for c in _captions(at))


def test_arrows_never_compare_with_another_case():
    """Finding 1: after picking another case the headline shows no change arrows."""
    at = _home()
    _slider(at, "May be worse off by up to").set_value(25_000.0).run()
    assert _deltas(_ok(at))["Commissioners keep"]
    core = gainshare.load_case(ROOT / "cases" / "core.yaml").name
    at.sidebar.radio[0].set_value(core).run()
    _ok(at)
    assert not any(_deltas(at).values()), _deltas(at)
    keep = Designer(gainshare.load_case(ROOT / "cases" / "core.yaml")).solve()
    assert _metrics(at)["Commissioners keep"] == money(keep.check.expected_retained)


def test_each_slider_says_where_it_works_and_what_gives():
    """Finding 4: the targeting slider shows the range the model found (74% to 100% on the
    example) and what binds below it; moving below it says so in words and offers the way
    back; the explanation names organisations and kinds of scenario, never codes."""
    at = _home()
    caps = _captions(at)
    assert any(
        c.startswith("Works from 74% to 100%; below 74% nothing works (keeping") for c in caps
    )
    assert any(c.startswith("Works from £0.") and "Commissioners keep £1.39m at £0" in c
               for c in caps)  # fmt: skip
    _targeting(at).set_value(70).run()
    _ok(at)
    assert at.error[0].value.startswith("No agreement meets every requirement")
    assert not at.metric  # no figures of an agreement that does not exist
    assert any("Keep whole: move to £150k" == b.label for b in at.button)
    back = next(b for b in at.button if b.label == "Targeting: move to 74%")
    at.button(key="explain").click().run()
    words = [m.value for m in _ok(at).markdown if m.value.startswith("- ")]
    text = " ".join(words)
    assert "Eastbrook Hospitals NHS FT would be worse off than it accepts in" in text
    assert "The smallest change that would let an agreement work" in text
    assert not IDS.search(text) and "gainshare explain" not in text
    back.click().run()
    _ok(at)
    assert _targeting(at).value == 74 and _metrics(at)["Commissioners keep"]


def test_the_commissioners_minimum_is_a_slider_only_where_it_can_move_the_answer():
    """Finding 13: with the aim "most for the commissioners" a minimum does nothing below the
    optimum and rules everything out above it: no slider, a sentence. With another aim the
    slider shows the range up to the most they can keep."""
    at = _home()
    assert not any(s.label.startswith("Commissioners keep at least") for s in at.select_slider)
    assert any(c.startswith("The aim is already the most the commissioners can keep: £1.39m")
               for c in _captions(at))  # fmt: skip
    aim = next(s for s in at.selectbox if s.label == "Aim for")
    aim.set_value("worst_margin").run()
    _ok(at)
    # the worst-margin aim is searched in the drafting space: up to the commissioners' optimum
    assert any(c.startswith("Works up to £1.39m, the most the commissioners can keep")
               for c in _captions(at))  # fmt: skip
    _slider(at, "Commissioners keep at least").set_value(1_000_000.0).run()
    m = _metrics(_ok(at))
    kept = m["Commissioners keep"]
    assert kept.startswith("£") and kept.endswith("m") and float(kept[1:-1]) >= 1.0


def test_figures_never_contradict_on_aco_reach():
    """Finding 2: CVaR requirements met while each provider is short in most scenarios: the
    headline's "everyone" share is below each organisation's, and the verdict says why."""
    at = _home()
    reach = gainshare.load_case(ROOT / "cases" / "aco_reach.yaml").name
    at.sidebar.radio[0].set_value(reach).run()
    _ok(at)
    everyone = float(_metrics(at)["Everyone kept whole in"].rstrip("%"))
    table = at.dataframe[0].value
    each = [float(v.rstrip("%")) for v in table["Kept whole in"]]
    assert everyone <= min(each)
    assert sum("requirement allows shortfalls" in c for c in _captions(at)) == 3


def test_two_sessions_do_not_share_anything():
    a, b = _home(), _home()
    assert _room(a) != _room(b)
    _slider(a, "May be worse off by up to").set_value(25_000.0).run()
    b.run()
    assert _metrics(a)["Worst provider year"] == "-£24k"
    assert _metrics(b)["Worst provider year"] == "£73"


def test_a_refresh_brings_the_room_back():
    """Finding 8: the room's id is in the URL; a new session with it (a browser refresh) finds
    the sliders, the case and the proposal where the room left them; Start again forgets."""
    at = _home()
    _slider(at, "May be worse off by up to").set_value(25_000.0).run()
    _targeting(at).set_value(80).run()
    rid = _ok(at).query_params["room"]
    assert rid == _room(at)
    again = _home(rid)
    assert _slider(again, "May be worse off by up to").value == 25_000.0
    assert _targeting(again).value == 80
    assert _metrics(again) == _metrics(at)
    again.button(key="room.restart").click().run()
    _ok(again)
    assert again.query_params["room"] != rid
    assert _metrics(again)["Commissioners keep"] == "£1.39m"


# ---------------------------------------------------------------- uploads and other cases


def test_upload_good_and_bad_case():
    at = _home()
    bad = (ROOT / "cases" / "core.yaml").read_bytes().replace(b"rule: block", b"rule: blok")
    at.sidebar.file_uploader[0].set_value(("core.yaml", bad, "application/x-yaml")).run()
    _ok(at)
    assert [e.value for e in at.sidebar.error] == [
        "core.yaml: contracts[1].rule: is 'blok': use one of 'activity', 'block', 'blended' or "
        "'capitation'"
    ]  # fmt: skip
    assert _metrics(at)["Commissioners keep"] == "£1.39m"  # the case did not change
    good = (ROOT / "cases" / "core.yaml").read_bytes()
    at.sidebar.file_uploader[0].set_value(("core.yaml", good, "application/x-yaml")).run()
    core = gainshare.load_case(ROOT / "cases" / "core.yaml")
    keep = Designer(core).solve().check.expected_retained
    assert _metrics(_ok(at))["Commissioners keep"] == money(keep)
    assert not any(_deltas(at).values())


def test_a_case_with_a_risk_fund_is_designed_and_an_open_one_refused():
    """A fund with a requirement is designed like a provider (tests/test_design_risk_partner.py:
    the CCG keeps 12,100) and its role shows on the Case page; a fund nothing bounds is refused
    at upload in one line, and the room keeps the case it had."""
    at = _home()
    good = yaml.safe_dump(fund_dict({"mode": "robust", "tolerance": 12_000})).encode()
    at.sidebar.file_uploader[0].set_value(("fund.yaml", good, "application/x-yaml")).run()
    assert _metrics(_ok(at))["Commissioners keep"] == "£12k"
    _go(at, "1_Case.py")
    assert at.success[0].value.startswith("The case is valid")
    roles = at.data_editor[0].value["Role"].tolist()
    assert roles[-1] == "Risk partner"
    d = fund_dict(None)
    d["requirements"].pop("share_bounds")
    at = _home()
    at.sidebar.file_uploader[0].set_value(("open.yaml", yaml.safe_dump(d).encode(),
                                           "application/x-yaml")).run()  # fmt: skip
    said = [e.value for e in _ok(at).sidebar.error]
    assert len(said) == 1 and said[0].startswith("open.yaml: keep_whole.fund: 'fund' is a risk "
                                                 "partner with no requirement")  # fmt: skip
    assert _metrics(at)["Commissioners keep"] == "£1.39m"  # the case did not change


def _group_keeps(acute: float, community: float) -> float:
    from tests.test_design_groups import _loss_dict

    d = _loss_dict({"amount": 90_000}, {"amount": 40_000})
    d["keep_whole"]["acute"]["tolerance"] = acute
    d["keep_whole"]["community"]["tolerance"] = community
    return Designer(Case.model_validate(d)).solve().objective_value


def test_a_case_with_group_limits_is_designed_and_its_pages_work():
    """A cap and collar on two trusts together (tests/test_design_groups.py: the CCG keeps
    13,000): the workshop designs under them, a member's tolerance slider re-solves, and the
    candidates, requirements and term sheet pages show the group without error."""
    from tests.test_design_groups import _loss_dict

    at = _home()
    case = yaml.safe_dump(_loss_dict({"amount": 90_000}, {"amount": 40_000})).encode()
    at.sidebar.file_uploader[0].set_value(("group.yaml", case, "application/x-yaml")).run()
    assert _metrics(_ok(at))["Commissioners keep"] == "£13k"
    assert at.success[0].value == "This agreement meets every requirement."
    assert any("3 organisations · 1 year from 2026/27 · 3 scenarios" in c
               for c in _captions(at))  # fmt: skip
    _slider(at, "May be worse off by up to").set_value(30_000).run()  # the acute trust's
    assert _metrics(_ok(at))["Commissioners keep"] == "£28k"
    next(sb for sb in at.selectbox if sb.label.startswith("Keep whole")).set_value(
        "community"
    ).run()  # a member: the model is built again
    _slider(at, "May be worse off by up to").set_value(40_000).run()
    assert _metrics(_ok(at))["Commissioners keep"] == money(_group_keeps(30_000, 40_000))
    aim = next(sb for sb in at.selectbox if "Best position for the worst-off provider"
               in sb.options)  # fmt: skip
    aim.set_value("worst_margin").run()  # by bisection on the floor under group limits
    assert _metrics(_ok(at))["Worst provider year"] == "-£30k"  # the community trust's: the
    assert at.success[0].value == "This agreement meets every requirement."  # highest there is
    assert any("designs, raising a floor on the worst-off provider's year" in c
               for c in _captions(at))  # fmt: skip
    # the commissioners' minimum reaches the £13k they can keep, though the system saves less
    # than nothing: up to every gain of the pool (£50k), not the savings
    assert _slider(at, "Commissioners keep at least").options[-1] == money(50_000)
    _go(at, "2_Requirements.py")
    assert ("- Acute trust and Community trust together (group pair) gain at most £90,000 and "
            "lose at most £40,000 in any year; each member's transfer is reduced in "
            "proportion.") in _screen_text(at)  # fmt: skip
    for page in ("3_Candidates.py", "5_Term_sheet.py"):
        _go(at, page)
    assert "(group pair)" in _screen_text(at)


def test_an_infeasible_case_still_has_a_proposal_and_a_term_sheet():
    """Finding 7: with a case nothing can meet, the room can still type or upload its own
    proposal, check it, and read its term sheet."""
    at = _home()
    vw = (ROOT / "cases" / "virtual_ward.yaml").read_bytes()
    at.sidebar.file_uploader[0].set_value(("virtual_ward.yaml", vw, "application/x-yaml")).run()
    _ok(at)
    assert at.error[0].value.startswith("No agreement meets every requirement")
    _go(at, "4_Proposal.py")
    assert at.data_editor, "a table to type the proposal into"
    assert any(s.value == "Does it work?" for s in at.subheader)
    assert at.metric  # the proposal checked
    agreement = (ROOT / "cases" / "virtual_ward.agreement.yaml").read_bytes()
    at.file_uploader(key="proposal.upload").set_value(
        ("mine.yaml", agreement, "application/x-yaml")).run()  # fmt: skip
    _ok(at)
    assert any("Starting point: " in c for c in _captions(at))
    _go(at, "5_Term_sheet.py")
    assert any("The room's proposal" in r.options for r in at.radio)
    assert any(m.value.startswith("# Term sheet") for m in at.markdown)


# ---------------------------------------------------------------- the other pages


def test_case_page_shows_the_tables_and_the_current_result(expected):
    at = _go(_home(), "1_Case.py")
    assert at.success[0].value.startswith("The case is valid")
    assert [t.label for t in at.tabs] == ["Organisations", "Contracts", "Costs",
                                          "Scheme assumptions", "Scenarios drawn",
                                          "Named scenarios"]  # fmt: skip
    assert _metrics(at)["Commissioners keep"] == "£1.39m"
    organisations = at.data_editor[0].value
    assert "Eastbrook Hospitals NHS FT" in set(organisations["Organisation"])


def test_requirements_page_shows_the_levels_in_force(case):
    """Finding 13: a tolerance the Home slider set is what the Requirements page shows."""
    at = _home()
    _slider(at, "May be worse off by up to").set_value(25_000.0).run()
    _go(at, "2_Requirements.py")
    keep = at.data_editor[0].value.set_index("Organisation")
    assert keep.loc["Eastbrook Hospitals NHS FT", "Tolerance (£ a year)"] == 25_000.0
    assert "_id" not in keep.columns and not IDS.search(" ".join(map(str, keep.index)))
    assert _metrics(at)["Worst provider year"] == "-£24k"
    key = next(k for k in at.session_state if str(k).startswith("ui.req.") and
               str(k).endswith(".objective"))  # fmt: skip
    at.selectbox(key=key).set_value("worst_margin").run()
    _ok(at)
    other = apply_requirements(case, WhatIf(tolerance=(("acute", 25_000.0),),
                                            objective="worst_margin"))  # fmt: skip
    doc = Designer(other).solve().check.document
    assert _metrics(at)["Commissioners keep"] == money(doc["retained"]["expected"])


def test_candidates_page_puts_them_side_by_side(expected):
    at = _go(_home(), "3_Candidates.py")
    table = at.dataframe[0].value
    assert table.loc[0, "Candidate"] == "The best agreement" and table.loc[0, ""] == "A"
    assert table.loc[0, "Commissioners keep"] == money(expected[0]["retained"]["expected"])
    assert table.loc[0, "Meets every requirement"] == "Yes"
    assert "Proposal in the case file" in set(table["Candidate"])
    assert len(table) >= 4
    text = _screen_text(at)
    assert not IDS.search(text) and "Margin £" not in text and "epsilon" not in text


def test_each_bargaining_point_says_what_it_means_for_the_room():
    at = _go(_home(), "3_Candidates.py")
    box = at.selectbox(key="ui.cand.chosen")
    said = {}
    for label in box.options:
        name = label.split(" · ", 1)[1]
        if name in ("Nash bargaining", "Kalai-Smorodinsky", "Egalitarian"):
            at.selectbox(key="ui.cand.chosen").set_value(name).run()
            said[name] = " ".join(c.value for c in at.caption)
    assert set(said) >= {"Nash bargaining", "Kalai-Smorodinsky"}
    assert "maximises the product of every party's gain" in said["Nash bargaining"]
    assert "same fraction of the most it could get" in said["Kalai-Smorodinsky"]
    for text in said.values():
        assert "Gains over the 3 years (expected): NHS Eastbrook ICB £" in text
        assert "better off in every scenario and year" not in text  # the margin points' words


def test_proposal_page_checks_and_repairs_and_says_what_the_best_keeps(case):
    """Finding 5: a 50/30/20 split repaired: what moved is said by name, and beside the
    nearest agreement stands the best one, with what the commissioners keep under each."""
    at = _go(_home(), "4_Proposal.py")
    assert at.warning[0].value.startswith("This agreement fails")
    proposal = yaml.safe_load(WORKSHOP.with_name("workshop6.agreement.yaml").read_text())
    for tier in proposal["terms"]["gain_tiers"]:  # the room's 50/30/20 in both gain tiers
        tier["shares"] = {"icb": 0.5, "acute": 0.3, "community": 0.2}
    data = yaml.safe_dump(proposal).encode()
    at.file_uploader(key="proposal.upload").set_value(("5030.yaml", data, "text/yaml")).run()
    _ok(at)
    compare = at.dataframe[-1].value
    assert list(compare.columns) == ["The room's proposal", "Nearest that works",
                                     "The best agreement"]  # fmt: skip
    assert compare.loc["Meets every requirement"].tolist() == ["No", "Yes", "Yes"]
    assert compare.loc["Commissioners keep", "The best agreement"] == "£1.39m"
    info = at.info[-1].value
    assert "the best agreement for the aim keeps £1.39m" in info
    moved = next(m.value for m in at.markdown if m.value.startswith("What moved"))
    assert "NHS Eastbrook ICB's share of gains: first £4.00m: 50% → 0%" in moved
    assert not IDS.search(_screen_text(at))
    single = {
        "name": "One tier",
        "terms": {
            "gain_tiers": [{"shares": tier["shares"]}],
            "loss_tiers": [{"shares": tier["shares"]}],
        },
    }
    at.file_uploader(key="proposal.upload").set_value(
        ("one.yaml", yaml.safe_dump(single).encode(), "text/yaml")).run()  # fmt: skip
    # no one-tier agreement works, even with caps and collars: repair moves the tier edges to
    # the drafting space's (the case states gains first £3m, £3m to £5m, above £5m)
    said = " ".join(i.value for i in _ok(at).info)
    assert "No agreement with the proposal's tier edges meets every requirement" in said
    moved = next(m.value for m in at.markdown if m.value.startswith("What moved"))
    assert "Tiers of gains: one tier → first £3.00m, £3.00m to £5.00m, above £5.00m" in moved
    compare = at.dataframe[-1].value
    assert compare.loc["Meets every requirement"].tolist() == ["No", "Yes", "Yes"]
    assert not IDS.search(_screen_text(at))


def test_proposal_page_offers_the_best_agreement_when_nothing_near_works(monkeypatch):
    """When repair finds no agreement near the proposal, the page says so and offers the best
    agreement, with its own tiers, as the starting point."""

    def nothing(case, proposal, **kw):
        before = gainshare.check(case, proposal)
        return RepairResult("infeasible", proposal, before, failures(case, proposal, before),
                            None, None, message="No agreement with the proposal's structure "
                            "meets every requirement.")  # fmt: skip

    monkeypatch.setattr(gainshare, "repair", nothing)
    at = _go(_home(), "4_Proposal.py")
    proposal = yaml.safe_load(WORKSHOP.with_name("workshop6.agreement.yaml").read_text())
    tier = proposal["terms"]["gain_tiers"][0]
    one = [{"shares": tier["shares"]}]
    single = {"name": "One tier", "terms": {"gain_tiers": one, "loss_tiers": one}}
    at.file_uploader(key="proposal.upload").set_value(
        ("one.yaml", yaml.safe_dump(single).encode(), "text/yaml")).run()  # fmt: skip
    said = _ok(at).error[0].value
    assert said == "No agreement with the proposal's structure meets every requirement."
    at.button(key="proposal.from_best").click().run()
    assert any(c.startswith("Starting point: The room's proposal.") for c in _captions(_ok(at)))
    gains = [c for c in at.data_editor[0].value.columns if c.startswith("Gains")]
    assert len(gains) == 3  # the best agreement's own tiers


def test_term_sheet_page_reads_as_a_contract(expected):
    """Finding 9: whole per cent shares, a title without "Designed:", the aim in words, the
    requirement in words, one money format a column (the file names of the downloads are
    checked in the browser)."""
    at = _go(_home(), "5_Term_sheet.py")
    labels = at.radio(key="ui.sheet.which").options
    assert labels[0] == "The best agreement (shares in whole per cent)"
    sheet = next(m.value for m in at.markdown if m.value.startswith("# Term sheet"))
    assert "Designed:" not in sheet and "objective:" not in sheet and "robust:" not in sheet
    shares = re.findall(r"(\d+(?:\.\d+)?)%", sheet.split("Sharing of gains")[1].split("6.")[0])
    assert shares and all("." not in s for s in shares)
    at.radio(key="ui.sheet.which").set_value("The room's proposal").run()
    sheet = next(m.value for m in _ok(at).markdown if m.value.startswith("# Term sheet"))
    assert "## Eastbrook - hand-drafted proposal" in sheet  # the room starts from the case's
    text = _screen_text(at)
    assert "None" not in text and not IDS.search(text)
