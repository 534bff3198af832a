"""design: hand-worked optima, exhaustive grids, chance and CVaR semantics, levers, rounding,
time limits, determinism, what-if re-solves and shadow prices."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys

import numpy as np
import pytest

import gainshare
from gainshare.optimise import Designer, design
from gainshare.schema.agreement import Agreement
from gainshare.schema.io import agreement_to_dict, load_agreement, write_agreement
from tests.helpers_design import tiny_case


def shares(result, kind="gain_tiers", tier=0) -> dict:
    return getattr(result.agreement.terms, kind)[tier].shares


def test_tiny_case_optimum_by_hand():
    r = design(tiny_case())
    assert r.status == "optimal"
    s = shares(r)
    assert s["acute"] == pytest.approx(0.6, abs=1e-9)
    assert s["community"] == pytest.approx(0.375, abs=1e-9)
    assert s["ccg"] == pytest.approx(0.025, abs=1e-9)
    assert r.objective_value == pytest.approx(2250.0, abs=0.01)
    doc = r.check.document
    assert doc["all_kept_whole"]
    # acute is exactly whole in both scenarios; community exactly whole in scenario b
    assert doc["by_party"]["acute"]["worst_net"] == pytest.approx(0.0, abs=0.01)
    assert doc["by_party"]["community"]["worst_net"] == pytest.approx(0.0, abs=0.01)
    # identities: sum of nets = system savings (expected 0.5 x 10,000 + 0.5 x 2,000 = 6,000)
    assert doc["system_savings"]["expected"] == pytest.approx(6000.0, abs=0.01)
    total = sum(p["expected_net"] for p in doc["by_party"].values())
    assert total == pytest.approx(6000.0, abs=0.01)


def test_infeasible_when_providers_need_more_than_the_pool():
    # scenario b avoids only 50 admissions: community needs 0.6 and acute 0.6 -> 120% > 100%
    c = tiny_case(
        uncertainty={
            "scenarios": 0,
            "named": [
                {"name": "a", "weight": 0.5, "values": {"schemes.rr.targeting": 1.0}},
                {"name": "b", "weight": 0.5, "values": {"schemes.rr.targeting": 0.5}},
            ],
        }
    )
    r = design(c)
    assert r.status == "infeasible"
    assert r.agreement is None and r.check is None
    assert "explain" in r.message


def _settle_grid(case, agreements):
    econ = gainshare.compute(case)
    best = None
    for a in agreements:
        res = gainshare.check(case, a, econ)
        if res.all_kept_whole:
            v = res.document["retained"]["expected"]
            best = v if best is None else max(best, v)
    return best


def _agreement(xa, xc, cap=None):
    terms = {
        "gain_tiers": [{"shares": {"acute": xa, "community": xc, "ccg": round(1 - xa - xc, 12)}}],
        "loss_tiers": [{"shares": {"ccg": 1.0}}],
    }
    if cap is not None:
        terms["caps"] = {"community": {"amount": cap}}
    return Agreement.model_validate({"terms": terms})


def test_grid_finds_nothing_better_than_the_optimiser():
    c = tiny_case()
    r = design(c)
    grid = np.round(np.arange(0, 1.0001, 0.025), 6)
    ags = [_agreement(a, b) for a, b in itertools.product(grid, grid) if a + b <= 1 + 1e-12]
    best = _settle_grid(c, ags)
    assert best is not None
    assert best <= r.objective_value + 0.01
    assert best == pytest.approx(2250.0, abs=0.01)  # the grid contains the optimum


def test_grid_with_a_cap_finds_nothing_better():
    # three scenarios: the community trust needs 30,000 / G of a pool G of 100k, 90k, 80k, so a
    # share of 0.375 with a cap of 30,000 keeps it whole and returns its windfall in a and b
    named = [
        {"name": "a", "weight": 0.3, "values": {"schemes.rr.targeting": 1.0}},
        {"name": "b", "weight": 0.4, "values": {"schemes.rr.targeting": 0.9}},
        {"name": "c", "weight": 0.3, "values": {"schemes.rr.targeting": 0.8}},
    ]
    c = tiny_case(
        uncertainty={"scenarios": 0, "named": named},
        requirements={"caps": {"community": {"decide": True}}},
    )
    r = design(c)
    assert r.status == "optimal"
    c0 = tiny_case(uncertainty={"scenarios": 0, "named": named})
    ga = np.round(np.arange(0.55, 0.7001, 0.025), 6)
    gc = np.round(np.arange(0.3, 0.5001, 0.025), 6)
    caps = [None] + [float(v) for v in range(26000, 40001, 1000)]
    ags = [
        _agreement(a, b, cap) for a, b, cap in itertools.product(ga, gc, caps) if a + b <= 1 + 1e-12
    ]
    best = _settle_grid(c0, ags)
    assert best is not None and best <= r.objective_value + 0.01
    # the cap is worth having: the optimum beats the best uncapped agreement
    uncapped = design(c0)
    assert r.objective_value > uncapped.objective_value + 1.0
    # and the designed cap is honoured in every scenario
    cap = r.agreement.terms.caps["community"].amount
    assert cap == pytest.approx(30000.0, abs=0.01)
    assert (r.check.settlement.transfer[:, :, 2] <= cap + 0.005).all()
    # by hand: acute 0.6; community 0.375 capped at 30,000; ccg keeps the rest:
    # E[R] = 0.3 (100k - 60k - 30k) + 0.4 (90k - 54k - 30k) + 0.3 (80k - 48k - 30k) = 6,000
    assert r.objective_value == pytest.approx(6000.0, abs=0.01)


def test_chance_keep_whole_allows_the_stated_share_of_scenarios():
    c = tiny_case(
        keep_whole={"acute": {"mode": "robust"}, "community": {"mode": "chance", "beta": 0.5}}
    )
    r = design(c)
    # community may fall short in one of the two scenarios: 0.3 suffices (scenario a)
    assert shares(r)["community"] == pytest.approx(0.3, abs=1e-9)
    assert r.objective_value == pytest.approx(9000.0, abs=0.01)
    assert r.check.document["by_party"]["community"]["prob_whole"] == pytest.approx(0.5)
    assert r.check.document["all_kept_whole"]


@pytest.mark.parametrize(
    ("tol", "share", "value"), [(6000.0, 0.3, 9000.0), (14000.0, 0.2, 18000.0)]
)
def test_cvar_keep_whole(tol, share, value):
    # CVaR at beta 0.5 of two equal scenarios is the worse one's shortfall: 30,000 - 80,000 x
    c = tiny_case(
        keep_whole={
            "acute": {"mode": "robust"},
            "community": {"mode": "cvar", "beta": 0.5, "tolerance": tol},
        }
    )
    r = design(c)
    assert shares(r)["community"] == pytest.approx(share, abs=1e-9)
    assert r.objective_value == pytest.approx(value, abs=0.01)
    assert r.check.document["by_party"]["community"]["cvar_shortfall"] == pytest.approx(
        30000 - 80000 * share, abs=0.01
    )


def _lever_case(fixed_cost: float, cost_per_step: float | None = None) -> gainshare.Case:
    nel = {
        "id": "nel",
        "commissioner": "ccg",
        "provider": "acute",
        "rule": "activity",
        "price": 1000,
        "expected_units": 1000,
        "costs": {"variable_per_unit": 400},
    }
    levers = {"teams": {"rr": [0, 1, 2]}}
    if cost_per_step is not None:
        nel["costs"]["stepped"] = {"capacity_per_step": 150, "cost_per_step": cost_per_step}
        levers["closures"] = {"nel": [0, 1]}
    base = tiny_case().model_dump()
    contracts = [nel, base["contracts"][1]]
    scheme = base["schemes"][0] | {"fixed_cost": fixed_cost}
    return tiny_case(
        contracts=contracts,
        schemes=[scheme],
        levers=levers,
        keep_whole={p: {"mode": "none"} for p in ("ccg", "acute", "community")},
        requirements={"objective": "system_savings"},
    )


def test_levers_teams_chosen_exactly_when_they_pay():
    # each team: expected 90 admissions avoided x 400 - 200 contacts x 50 - fixed cost
    pays = design(_lever_case(20000))  # +6,000 a team
    assert pays.levers["teams"] == {"rr": 2}
    assert pays.objective_value == pytest.approx(12000.0, abs=0.01)
    loses = design(_lever_case(30000))  # -4,000 a team
    assert loses.levers["teams"] == {"rr": 0}
    assert loses.objective_value == pytest.approx(0.0, abs=0.01)


def test_ward_closure_chosen_exactly_when_it_pays():
    # fixed cost 28,000: a team loses 2,000; two teams free 200/160 bed days >= 150, so a ward
    # (5,000) can close: 2 teams + closure = -4,000 + 5,000 = +1,000 beats 0 teams.
    r = design(_lever_case(28000, cost_per_step=5000))
    assert r.levers["teams"] == {"rr": 2} and r.levers["closures"] == {"nel": 1}
    assert r.objective_value == pytest.approx(1000.0, abs=0.01)
    # a cheaper ward (3,000) does not pay for the losing teams: -4,000 + 3,000 < 0
    r2 = design(_lever_case(28000, cost_per_step=3000))
    assert r2.levers["teams"] == {"rr": 0}
    assert r2.objective_value == pytest.approx(0.0, abs=0.01)


def test_rounding_steps_are_respected():
    r = design(tiny_case(requirements={"rounding": "5%"}))
    for tier in r.agreement.terms.gain_tiers + r.agreement.terms.loss_tiers:
        for v in tier.shares.values():
            assert abs(v / 0.05 - round(v / 0.05)) < 1e-9
    s = shares(r)
    assert (s["acute"], s["community"], s["ccg"]) == pytest.approx((0.6, 0.4, 0.0), abs=1e-9)
    assert r.objective_value == pytest.approx(0.0, abs=0.01)


def test_shadow_price_matches_a_finite_difference():
    d = Designer(tiny_case())
    r0 = d.solve()
    price = {b["requirement"]: b["shadow_price"] for b in r0.binding}["keep_whole.community"]
    # community's share must be (30,000 + f) / 80,000: E[R] falls 90,000 / 80,000 per pound
    assert price == pytest.approx(-1.125, abs=1e-6)
    d.set_tolerance("community", 100.0)  # floor lowered by 100: E[R] rises by 112.50
    r1 = d.solve()
    assert r1.objective_value - r0.objective_value == pytest.approx(112.5, abs=0.01)


def test_designer_resolve_equals_a_fresh_design():
    d = Designer(tiny_case())
    d.solve()
    d.set_tolerance("acute", 1000.0)
    resolved = d.solve()
    fresh = design(
        tiny_case(keep_whole={"acute": {"tolerance": 1000.0}, "community": {"mode": "robust"}})
    )
    assert resolved.objective_value == pytest.approx(fresh.objective_value, abs=0.01)
    assert (
        agreement_to_dict(resolved.agreement)["terms"]
        == agreement_to_dict(fresh.agreement)["terms"]
    )


def test_determinism_same_json_apart_from_timings(root):
    c = gainshare.load_case(root / "cases" / "core.yaml")
    a, b = design(c).document, design(c).document
    a.pop("timings"), b.pop("timings")
    assert json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def test_time_limit_is_honoured_and_reported(root):
    """The MIP (here: chance keep-whole with caps and collars to decide, a glide path) stops at
    its time limit with a verified agreement, clearly marked."""
    c = gainshare.load_case(root / "cases" / "core.yaml")
    big = gainshare.Case.model_validate(
        c.model_dump()
        | {
            "keep_whole": {"acute": {"mode": "chance", "beta": 0.9}},
            "requirements": c.requirements.model_dump()
            | {
                "caps": {"acute": {"decide": True}},
                "collars": {"acute": {"decide": True}},
                "glide_path": True,
                "rounding": "none",
            },
        }
    )
    r = design(big, time_limit=0.05)
    assert r.route == "mip"
    assert r.status in ("time_limit", "optimal")
    assert r.timings["highs_s"] < 2.0
    if r.status == "time_limit":
        assert "time limit" in r.message.lower()
    if r.agreement is not None:
        assert r.check.document["by_party"]["community"]["requirement"]["met"]
    assert r.gap is None or r.gap >= 0


def test_search_time_limit_returns_the_first_verified_agreement(root):
    """The drafting-space search stops at its time limit after the first verified agreement:
    marked as such, meeting every requirement, with no bound claimed."""
    c = gainshare.load_case(root / "cases" / "core.yaml")
    r = design(c, time_limit=1e-9)
    assert r.route == "search" and r.status == "time_limit"
    assert r.agreement is not None and r.check.document["all_kept_whole"]
    assert r.bound is None and "Time limit reached" in r.message
    assert r.objective_value <= design(c).objective_value + 0.01
    json.dumps(r.document, allow_nan=False)


def test_design_then_check_round_trips(tmp_path, root):
    c = gainshare.load_case(root / "cases" / "core.yaml")
    r = design(c)
    path = tmp_path / "designed.yaml"
    write_agreement(r.agreement, path)
    again = gainshare.check(c, load_agreement(path, c))
    assert again.document["by_party"] == r.check.document["by_party"]
    assert again.document["retained"] == r.check.document["retained"]


def test_every_example_case_can_be_designed(root):
    for path in sorted((root / "cases").glob("*.yaml")):
        if path.name.endswith(".agreement.yaml"):
            continue
        r = design(gainshare.load_case(path), time_limit=60)
        assert r.status in ("optimal", "infeasible"), (path.name, r.status, r.message)
        if r.agreement is not None:
            assert r.check.document["all_kept_whole"], path.name


def test_cli_design_json_and_exit_codes(tmp_path, root):
    out = tmp_path / "a.yaml"
    cmd = [
        sys.executable,
        "-m",
        "gainshare.cli",
        "design",
        str(root / "cases" / "core.yaml"),
        "--json",
        "--out",
        str(out),
    ]
    p = subprocess.run(cmd, capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    for key in (
        "command",
        "status",
        "objective",
        "bound",
        "gap",
        "agreement",
        "check",
        "binding",
        "timings",
    ):
        assert key in doc
    assert set(doc["timings"]) >= {"total_s", "build_s", "solve_s", "highs_s"}
    assert doc["objective"]["name"] == "commissioners"
    assert out.exists()
    bad = subprocess.run(cmd[:-3] + ["--objective", "richest"], capture_output=True, text=True)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert "--objective" in bad.stderr


def test_term_options_pick_the_best_of_the_fixed_designs():
    """Choosing among corridor, gateway and tier-edge options equals the best of the designs
    with each option fixed (exact enumeration, not a heuristic)."""
    quality = {"community": {"dist": "uniform", "low": 60, "high": 100}}

    def scenario(name, weight, targeting, score):
        values = {"schemes.rr.targeting": targeting, "quality.community": score}
        return {"name": name, "weight": weight, "values": values}

    named = [scenario("a", 0.3, 1.0, 95), scenario("b", 0.4, 0.9, 75), scenario("c", 0.3, 0.8, 90)]
    corridors = [{}, {"gain_threshold": {"amount": 1000}, "mode": "excess_only"}]
    gateways = [{}, {"community": {"mode": "linear", "target": 80, "floor": 50}}]
    edges = [[{"amount": 85000}], [{"amount": 95000}]]
    base = dict(quality_scores=quality, uncertainty={"scenarios": 0, "named": named})
    both = design(
        tiny_case(
            **base,
            requirements={
                "corridor_options": corridors,
                "gateway_options": gateways,
                "gain_edge_options": edges,
            },
        )
    )
    singles = []
    for cor, gw, ed in itertools.product(corridors, gateways, edges):
        r = design(
            tiny_case(**base, requirements={"corridor": cor, "gateway": gw, "gain_edges": ed})
        )
        if r.agreement is not None:
            singles.append(r.objective_value)
    assert both.status == "optimal" and len(set(singles)) >= 4  # the options matter
    assert both.objective_value == pytest.approx(max(singles), abs=0.01)


def test_python_api_mirrors_the_cli():
    from gainshare.optimise.explain import explain
    from gainshare.optimise.repair import repair

    assert gainshare.design is design and gainshare.Designer is Designer
    assert gainshare.repair is repair and gainshare.explain is explain
    with pytest.raises(AttributeError):
        gainshare.no_such_function  # noqa: B018


def test_capped_search_always_has_an_answer_to_improve(root):
    """With caps to decide and chance keep-whole (the MIP), the search starts from the best
    uncapped agreement tightened to each provider's need: even a very short time limit returns
    a verified agreement, clearly marked, with valid JSON."""
    c = gainshare.load_case(root / "cases" / "core.yaml")
    caps = {"acute": {"decide": True}, "community": {"decide": True}}
    req = c.requirements.model_dump() | {"caps": caps, "rounding": "none", "search": None}
    capped = gainshare.Case.model_validate(c.model_dump() | {"requirements": req})
    mip = Designer(capped)
    mip.route = "mip"
    r = mip.solve(time_limit=0.05)
    assert r.agreement is not None and r.check.document["all_kept_whole"]
    assert r.status in ("time_limit", "optimal")
    if r.status == "time_limit":
        assert "Time limit reached" in r.message
    json.dumps(r.document, allow_nan=False)


def test_cli_objective_that_needs_a_reference_split_says_so(root):
    cmd = [sys.executable, "-m", "gainshare.cli", "design", str(root / "cases" / "core.yaml"),
           "--objective", "fair_reference"]  # fmt: skip
    p = subprocess.run(cmd, capture_output=True, text=True)
    assert p.returncode == 2 and p.stdout == "" and "Traceback" not in p.stderr
    assert p.stderr.strip() == (
        "error: --objective: fair_reference needs reference_split: add it (in the case's "
        "requirements)"
    )
