"""repair and explain: hand-worked answers on the tiny case, grids, and the CLI contract."""

from __future__ import annotations

import dataclasses
import itertools
import json
import re
import subprocess
import sys

import numpy as np
import pyomo.environ as pyo
import pytest

import gainshare
import gainshare.optimise.repair as repair_module
from gainshare.optimise import design
from gainshare.optimise.explain import apply_relaxations, explain
from gainshare.optimise.repair import repair
from gainshare.schema.agreement import Agreement
from gainshare.schema.case import Case
from gainshare.settle.requirements import failures
from tests.helpers_design import tiny_case, tiny_dict


def proposal(xa, xc, **terms) -> Agreement:
    t = {
        "gain_tiers": [{"shares": {"acute": xa, "community": xc, "ccg": round(1 - xa - xc, 12)}}],
        "loss_tiers": [{"shares": {"ccg": 1.0}}],
    } | terms
    return Agreement.model_validate({"name": "Room proposal", "terms": t})


def test_feasible_proposal_comes_back_unchanged():
    c = tiny_case()
    p = proposal(0.6, 0.4)
    r = repair(c, p)
    assert r.status == "unchanged"
    assert r.agreement == p
    assert r.distance == 0.0


def test_repair_moves_each_share_by_its_deficit():
    # needs acute >= 0.6 and community >= 0.375 (see tests/helpers_design.py): from 50% / 30%
    # the nearest L1 move is +10 and +7.5 percentage points, taken from the commissioners
    # (whose share falls 17.5 points): distance 10 + 7.5 + 17.5 = 35
    c = tiny_case()
    r = repair(c, proposal(0.5, 0.3))
    assert r.status == "repaired"
    s = r.agreement.terms.gain_tiers[0].shares
    assert (s["acute"], s["community"], s["ccg"]) == pytest.approx((0.6, 0.375, 0.025), abs=1e-9)
    assert r.distance == pytest.approx(35.0, abs=1e-6)
    assert r.check.document["all_kept_whole"]
    assert any("Acute trust's gain share: 50% -> 60%" in line for line in r.changes)
    assert {f["requirement"] for f in r.proposal_failures} == {
        "keep_whole.acute",
        "keep_whole.community",
    }


def test_repair_moves_the_least_on_a_grid():
    c = tiny_case()
    r = repair(c, proposal(0.45, 0.45))
    econ = gainshare.compute(c)
    grid = np.round(np.arange(0, 1.0001, 0.025), 6)
    best = None
    for a, b in itertools.product(grid, grid):
        if a + b > 1 + 1e-12:
            continue
        p = proposal(float(a), float(b))
        res = gainshare.check(c, p, econ)
        if not failures(c, p, res):
            dist = 100 * (abs(a - 0.45) + abs(b - 0.45) + abs((1 - a - b) - 0.1))
            best = dist if best is None else min(best, dist)
    assert best is not None and r.distance <= best + 1e-6


def test_repair_keeps_the_proposals_structure():
    c = tiny_case()
    p = proposal(
        0.5,
        0.3,
        caps={"community": {"amount": 20000}},
        corridor={"gain_threshold": {"amount": 1000}},
    )
    r = repair(c, p)
    assert r.status == "repaired"
    assert r.agreement.terms.corridor == p.terms.corridor
    assert set(r.agreement.terms.caps) == {"community"}
    # community needs 30,000 in every scenario: the cap must rise to at least that
    assert r.agreement.terms.caps["community"].amount >= 30000 - 0.01


def _tiny_with_floor(**search):
    """The tiny case with the commissioners asking for 5,000 expected: one tier without caps
    leaves them at most 2,250 (the design optimum), so no agreement of the proposal's shape
    works; a cap on the community trust does. With acute 60% and community 37.5% (both
    needed in scenario b), a cap c gives the commissioners 0.5 (40,000 - min(37,500, c)) +
    0.5 (32,000 - 30,000) >= 5,000 for c <= 32,000; c >= 30,000 keeps the trust whole."""
    d = tiny_dict()
    d["requirements"] = {"rounding": "none", "commissioners_min_expected": 5000,
                         "search": {"caps": True, "collars": False, "max_gain_tiers": 1,
                                    "max_loss_tiers": 1, "corridor": False} | search}  # fmt: skip
    return Case.model_validate(d)


def test_repair_adds_a_cap_when_the_proposals_shape_cannot_work():
    """Nearest: the proposal's shares kept, a community cap of 32,000 added. Counted from
    'none' (a cap at the largest gain it could meet, 100,000) per 1% of its expected payment
    (500,000): (100,000 - 32,000) x 100 / 500,000 = 13.6."""
    c = _tiny_with_floor()
    r = repair(c, proposal(0.6, 0.375))
    assert r.status == "repaired"
    assert set(r.agreement.terms.caps) == {"community"}  # the acute trust's stays out: unused
    assert r.agreement.terms.caps["community"].amount == pytest.approx(32000, abs=0.01)
    assert r.distance == pytest.approx(13.6, abs=1e-6)
    assert r.check.document["retained"]["expected"] == pytest.approx(5000, abs=0.01)
    assert not failures(c, r.agreement, r.check)
    assert any("Community trust's cap: none ->" in line and "(added)" in line
               for line in r.changes)  # fmt: skip
    assert "adding the ones marked (added)" in r.message


def test_repair_with_an_added_cap_moves_the_least_on_a_grid():
    """Every share pair on a 2.5% grid and every community cap on a 1,000 grid (or none),
    settled by the settlement code: nothing that meets every requirement is nearer."""
    c = _tiny_with_floor()
    r = repair(c, proposal(0.6, 0.375))
    econ = gainshare.compute(c)
    grid = np.round(np.arange(0.5, 0.7001, 0.025), 6)
    best = None
    for a, b in itertools.product(grid, np.round(np.arange(0.3, 0.5001, 0.025), 6)):
        if a + b > 1 + 1e-12:
            continue
        for cap in [None, *range(25000, 45001, 1000)]:
            extra = {"caps": {"community": {"amount": cap}}} if cap is not None else {}
            p = proposal(float(a), float(b), **extra)
            res = gainshare.check(c, p, econ)
            if failures(c, p, res):
                continue
            dist = 100 * (abs(a - 0.6) + abs(b - 0.375) + abs((1 - a - b) - 0.025))
            dist += 0.0 if cap is None else (100000 - cap) * 100 / 500000
            best = dist if best is None else min(best, dist)
    assert best is not None and r.distance <= best + 1e-6


def test_repair_adds_no_limit_the_drafting_space_leaves_out():
    c = _tiny_with_floor(caps=False)
    r = repair(c, proposal(0.6, 0.375))
    assert r.status == "infeasible" and r.agreement is None
    assert "even with" not in r.message


def test_repair_moves_tier_edges_when_the_proposals_cannot_work():
    """No caps allowed, two gain tiers in the drafting space: the menu's edges are the pool's
    quantiles, 80,000 and 100,000. With an edge at 80,000 scenario b's pool (80,000) lies in
    tier 1, which must keep 60% / 37.5% / 2.5%; scenario a's top 20,000 is tier 2, where the
    acute trust needs 60% again and the commissioners need 0.5 (80,000 x 2.5% + 20,000 x r) +
    0.5 x 2,000 >= 5,000, r >= 30%: community 10%. Each new tier's share counts against the
    proposal's share on the same money: tier 2 holds 10,000 of the proposal tier's 90,000
    expected, so the community's and the commissioners' 27.5-point moves count a ninth each:
    distance (27.5 + 27.5) / 9 = 55 / 9."""
    c = _tiny_with_floor(caps=False, max_gain_tiers=2)
    r = repair(c, proposal(0.6, 0.375))
    assert r.status == "repaired"
    t = r.agreement.terms
    assert [x.upto.amount for x in t.gain_tiers[:-1]] == [80000.0]
    assert t.gain_tiers[0].shares == pytest.approx({"acute": 0.6, "community": 0.375,
                                                    "ccg": 0.025})  # fmt: skip
    assert t.gain_tiers[1].shares == pytest.approx({"acute": 0.6, "community": 0.1, "ccg": 0.3})
    assert r.distance == pytest.approx(55 / 9, abs=1e-6)
    assert r.proven is True and r.document["proven_nearest"] is True
    assert r.check.document["retained"]["expected"] == pytest.approx(5000, abs=0.01)
    assert not failures(c, r.agreement, r.check)
    assert r.changes[0] == "Gain tiers: one tier -> 2 tiers, edges at £80,000"
    assert "tier edges" in r.message and "(added)" not in r.message


def test_repair_with_moved_edges_moves_the_least_on_a_grid():
    """Every split of both tiers with the edge at 80,000 on a 2.5% grid, settled by the
    settlement code; the distance counts tier 1 on 80,000 of the proposal tier's 90,000
    expected and tier 2 on 10,000: nothing that meets every requirement is nearer. The other
    edge of the menu (100,000) is never reached, so it is the proposal's shape again."""
    c = _tiny_with_floor(caps=False, max_gain_tiers=2)
    r = repair(c, proposal(0.6, 0.375))
    econ = gainshare.compute(c)
    x0 = (0.6, 0.375, 0.025)
    best = None
    step = np.round(np.arange(0, 0.4001, 0.025), 6)
    for (a1, c1), a2, c2 in itertools.product(
        itertools.product((0.575, 0.6, 0.625), (0.35, 0.375, 0.4)),
        np.round(np.arange(0.5, 0.7001, 0.025), 6), step):  # fmt: skip
        t1 = {"acute": a1, "community": c1, "ccg": round(1 - a1 - c1, 12)}
        t2 = {"acute": float(a2), "community": float(c2), "ccg": round(1 - a2 - c2, 12)}
        if min(t1["ccg"], t2["ccg"]) < 0:
            continue
        p = proposal(0, 0, gain_tiers=[{"upto": {"amount": 80000}, "shares": t1},
                                       {"shares": t2}])  # fmt: skip
        res = gainshare.check(c, p, econ)
        if failures(c, p, res):
            continue
        dist = sum(100 * (8 / 9 * abs(t1[k] - v) + 1 / 9 * abs(t2[k] - v))
                   for k, v in zip(("acute", "community", "ccg"), x0, strict=True))  # fmt: skip
        best = dist if best is None else min(best, dist)
    assert best is not None and r.distance <= best + 1e-6
    assert best == pytest.approx(55 / 9, abs=1e-6)  # on the grid: the answer is a grid point


def test_repair_out_of_time_for_other_edges_says_time_limit_not_infeasible():
    """Tier edges left undecided are no proof that none works: the answer says time limit."""
    c = _tiny_with_floor(caps=False, max_gain_tiers=2)
    r = repair(c, proposal(0.6, 0.375), add_limit_seconds=1e-9)
    assert r.status == "time_limit" and r.agreement is None
    assert r.message.startswith("The time limit passed")


def test_repair_out_of_time_for_distance_answers_but_says_not_proven(monkeypatch):
    """When the distance model runs out of time with nothing better than its start, the
    search's agreement for an edge set that works is the answer: it meets every requirement,
    its distance is counted as the model counts it, and the message says it is not proven the
    nearest."""
    c = _tiny_with_floor(caps=False, max_gain_tiers=2)
    solve = repair_module.Designer.solve

    def out_of_time(self, *a, **kw):
        if self.method == "mip" and len(self.case.requirements.gain_edges or []) == 1:
            return dataclasses.replace(solve(self, *a, **kw), status="time_limit",
                                       agreement=None)  # fmt: skip
        return solve(self, *a, **kw)

    monkeypatch.setattr(repair_module.Designer, "solve", out_of_time)
    r = repair(c, proposal(0.6, 0.375))
    assert r.status == "repaired" and not failures(c, r.agreement, r.check)
    assert "The time limit passed before this was proven the nearest agreement" in r.message
    assert r.proven is False and r.document["proven_nearest"] is False
    assert r.distance >= 55 / 9 - 1e-6  # no nearer than the proven nearest
    # its distance, counted again from the terms by hand: tier 1 weighs 8/9, tier 2 1/9
    t = r.agreement.terms.gain_tiers
    assert [x.upto.amount for x in t[:-1]] == [80000.0]
    x0 = {"acute": 0.6, "community": 0.375, "ccg": 0.025}
    by_hand = sum(100 * (8 / 9 * abs(t[0].shares[k] - v) + 1 / 9 * abs(t[1].shares[k] - v))
                  for k, v in x0.items())  # fmt: skip
    assert r.distance == pytest.approx(by_hand, abs=1e-6)


def test_repair_keeps_the_proposals_edges_when_they_can_work():
    """The same case with caps allowed: a cap keeps the proposal's one tier (the edges are
    tried only when no agreement with the proposal's own edges works)."""
    c = _tiny_with_floor(max_gain_tiers=2)
    r = repair(c, proposal(0.6, 0.375))
    assert len(r.agreement.terms.gain_tiers) == 1 and "community" in r.agreement.terms.caps


def _infeasible_tiny():
    # scenario b avoids 50 admissions: acute needs 60% and community 60% of a 50,000 pool
    return tiny_case(
        uncertainty={
            "scenarios": 0,
            "named": [
                {"name": "a", "weight": 0.5, "values": {"schemes.rr.targeting": 1.0}},
                {"name": "b", "weight": 0.5, "values": {"schemes.rr.targeting": 0.5}},
            ],
        }
    )


def test_explain_works_over_the_drafting_space():
    """The commissioners ask for 6,500; shares in 1% steps, no caps, up to two gain tiers (the
    menu's edges: 80,000 and 100,000). One tier: acute 60%, community 38% (it needs 37.5% in
    scenario b), the commissioners 2% of 90,000 expected = 1,800. With the edge at 80,000 the
    acute trust needs 60% of the top 20,000 of scenario a too, so the commissioners keep
    80,000 x r1 + 0.5 x 20,000 x 40%: 5,600 at r1 = 2%. Each point of tier 1 the community
    trust gives up is 800 a year of its tolerance (b is all tier 1) and 800 for the
    commissioners: one point (400 of tolerance: 37% covers 29,600 of 30,000) and 100 off the
    floor is the smallest relaxation, 500 in all; on one tier it would be 3,800."""
    c = tiny_case(requirements={"rounding": "1%", "commissioners_min_expected": 6500,
                                "search": {"caps": False, "collars": False, "max_gain_tiers": 2,
                                           "max_loss_tiers": 1, "corridor": False}})  # fmt: skip
    r = explain(c)
    assert r.status == "infeasible" and r.verified
    got = {x.requirement: x.amount for x in r.relaxations}
    assert got == pytest.approx({"keep_whole.community": 400.0, "commissioners_min": 100.0})
    one_tier = explain(tiny_case(requirements=c.requirements.model_dump() | {"gain_edges": []}))
    assert sum(x.amount for x in one_tier.relaxations) == pytest.approx(3800.0)
    # each way out on its own, on the same structure: the floor alone gives 900 (5,600 ->
    # 6,500)
    alone = {a["relax"]: a for a in r.alternatives}
    floor = alone["the commissioners' savings"]["relaxations"]
    assert [(x["requirement"], round(x["amount"], 2)) for x in floor] == [
        ("commissioners_min", 900.0)]  # fmt: skip


def test_explain_states_the_conflict_and_the_relaxation_works():
    c = _infeasible_tiny()
    r = explain(c)
    assert r.status == "infeasible"
    # 120% of the pool is needed in scenario b: someone gives 20% of 50,000 = 10,000 a year
    total = sum(x.amount for x in r.relaxations if x.kind == "keep_whole")
    assert total == pytest.approx(10000.0, abs=0.01)
    text = " ".join(r.sentences)
    assert "cannot hold together" in text
    assert "scenario b" in text and "2026/27" in text
    assert r.verified is True
    assert design(apply_relaxations(c, r.relaxations)).agreement is not None


def test_explain_prefers_the_cheaper_give_and_lists_the_others():
    # the commissioners want 5,000 expected but the optimum leaves 2,250: each pound of
    # provider tolerance returns 1.125 (see the shadow price test), so the cheapest relaxation
    # is 2,750 / 1.125 = 2,444.44 of tolerance; the commissioners giving 2,750 is the other way
    c = tiny_case(requirements={"commissioners_min_expected": 5000})
    r = explain(c)
    assert r.status == "infeasible"
    total = sum(x.amount for x in r.relaxations if x.kind == "keep_whole")
    assert total == pytest.approx(2444.44, abs=0.01)
    alt = {a["relax"]: a for a in r.alternatives}
    comm = alt["the commissioners' savings"]["relaxations"][0]
    assert comm["amount"] == pytest.approx(2750.0, abs=0.01)
    assert r.verified is True


def test_explain_on_a_feasible_case_lists_the_tightest():
    r = explain(tiny_case())
    assert r.status == "feasible"
    assert r.sentences[0].startswith("An agreement meets every requirement")
    assert {t["requirement"] for t in r.tightest} == {"keep_whole.acute", "keep_whole.community"}


def _doc_names(root, name) -> set[str]:
    text = (root / "models" / name).read_text()
    return set(re.findall(r"^### `([a-z_]+)`", text, flags=re.M))


def test_repair_and_explain_documents_name_their_components(root):
    from dataclasses import replace

    from gainshare.optimise.data import build_data
    from gainshare.optimise.design_model import build_design_model
    from gainshare.optimise.designer import Designer
    from gainshare.optimise.repair import _add_distance, _structure

    c = tiny_case()
    p = proposal(0.5, 0.3, caps={"community": {"amount": 20000}})
    d = Designer(_structure(c, p))
    before = {x.local_name for x in d.model.component_objects(descend_into=False)}
    _add_distance(d, p, {"shares": 1, "caps": 1, "collars": 1})
    after = {x.local_name for x in d.model.component_objects(descend_into=False)}
    assert (after - before) | {"objective"} == _doc_names(root, "repair.md")
    data = build_data(c)
    data = replace(data, elastic=frozenset({"keep_whole"}), relax_weights={"keep_whole": 1.0})
    m = build_design_model(data)
    plain = build_design_model(build_data(c))
    new = {x.local_name for x in m.component_objects(descend_into=False)} - {
        x.local_name for x in plain.component_objects(descend_into=False)
    }
    assert new | {"objective"} == _doc_names(root, "explain.md")
    assert isinstance(m.relax, pyo.Var)


def _cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "gainshare.cli", *map(str, args)], capture_output=True, text=True
    )


def test_cli_repair_and_explain(tmp_path, root):
    prop = tmp_path / "p.yaml"
    prop.write_text(
        "terms:\n  gain_tiers:\n    - shares: {ccg: 0.3, acute: 0.45, community: 0.25}"
        "\n  loss_tiers:\n    - shares: {ccg: 1.0}\n"
    )
    case = root / "cases" / "core.yaml"
    p = _cli("repair", case, "--proposal", prop, "--json", "--out", tmp_path / "fixed.yaml")
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    assert doc["command"] == "repair" and doc["status"] == "repaired" and doc["changes"]
    assert (tmp_path / "fixed.yaml").exists()
    again = _cli("check", case, "--agreement", tmp_path / "fixed.yaml")
    assert again.returncode == 0
    p = _cli("explain", case, "--json")
    assert p.returncode == 0 and json.loads(p.stdout)["status"] == "feasible"
    bad = _cli("repair", case, "--proposal", prop, "--weights", "shares=lots")
    assert bad.returncode == 2 and "--weights" in bad.stderr and "Traceback" not in bad.stderr
