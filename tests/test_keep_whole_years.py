"""Keep-whole requirements that apply from a later year (a transition year), and year labels."""

from __future__ import annotations

import pytest

import gainshare
from gainshare.optimise import design
from gainshare.schema.agreement import Agreement
from tests.helpers_design import tiny_case

# Two years; the scheme only starts in year 2 (ramp-up 0 then 1). In year 1 the community
# trust pays its 20,000 team with nothing in the pool; year 2 is the tiny case's one year.
TWO_YEARS = dict(
    horizon={"years": 2, "first_year": 2026},
    schemes=[tiny_case().schemes[0].model_dump() | {"ramp_up": [0.0, 1.0]}],
)


def test_design_cannot_keep_a_party_whole_in_a_year_with_nothing_to_share():
    r = design(tiny_case(**TWO_YEARS))
    assert r.status == "infeasible"
    assert any(t["party"] == "community" and t["year"] == 1 for t in r.trivial)


def test_from_year_makes_year_one_a_transition():
    kw = {"acute": {"mode": "robust"}, "community": {"mode": "robust", "from_year": 2}}
    r = design(tiny_case(**TWO_YEARS, keep_whole=kw))
    assert r.status == "optimal"
    s = r.agreement.terms.gain_tiers[0].shares
    assert (s["acute"], s["community"]) == pytest.approx((0.6, 0.375), abs=1e-9)
    assert r.objective_value == pytest.approx(2250.0, abs=0.01)  # year 1's pool is nothing
    doc = r.check.document
    community = doc["by_party"]["community"]
    assert community["requirement"] == {"mode": "robust", "beta": 0.95, "tolerance": 0.0,
                                        "from_year": 2, "met": True}  # fmt: skip
    assert community["prob_whole"] == 1.0  # counted over the years the requirement applies
    assert community["worst_net"] == pytest.approx(-20000.0, abs=0.01)  # year 1 still shown
    assert doc["violations_total"] == 0 and doc["all_kept_whole"]


def test_cvar_party_is_whole_only_at_zero_or_better():
    # a cvar tolerance bounds the expected shortfall: being whole still means net >= 0
    kw = {"acute": {"mode": "robust"},
          "community": {"mode": "cvar", "beta": 0.5, "tolerance": 14000.0}}  # fmt: skip
    c = tiny_case(keep_whole=kw)
    a = Agreement.model_validate({"terms": {
        "gain_tiers": [{"shares": {"acute": 0.6, "community": 0.2, "ccg": 0.2}}],
        "loss_tiers": [{"shares": {"ccg": 1.0}}]}})  # fmt: skip
    doc = gainshare.check(c, a).document
    community = doc["by_party"]["community"]
    # 0.2 x 100,000 - 30,000 = -10,000 in a; 0.2 x 80,000 - 30,000 = -14,000 in b
    assert community["prob_whole"] == 0.0
    assert community["cvar_shortfall"] == pytest.approx(14000.0, abs=0.01)
    assert community["requirement"]["met"] is True
    assert {v["scenario"] for v in doc["violations"] if v["party"] == "community"} == {"a", "b"}


def test_calendar_year_labels():
    c = tiny_case(horizon={"years": 2, "first_year": 2026, "year_labels": "calendar"})
    assert c.horizon.labels() == ["2026", "2027"]
    assert tiny_case(horizon={"years": 2, "first_year": 2026}).horizon.labels() == [
        "2026/27", "2027/28"]  # fmt: skip
