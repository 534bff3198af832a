"""Fair references: textbook games with known Shapley values and nucleoli, properties, and the
coalition savings game of a hand-built case whose coalition values are known by construction."""

from __future__ import annotations

import json
import subprocess
import sys
from itertools import combinations
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import gainshare
from gainshare.analysis import fairness as f
from gainshare.analysis.coalitions import (
    coalition_game,
    enabling_parties,
    fair_references,
)
from gainshare.schema.case import Case
from gainshare.schema.io import InputError

CASES = Path(__file__).resolve().parents[1] / "cases"


def game(players, fn) -> dict:
    return {
        frozenset(c): float(fn(frozenset(c)))
        for k in range(1, len(players) + 1)
        for c in combinations(players, k)
    }


def close(x: dict, expected: dict, tol: float = 1e-7) -> None:
    assert list(x) == list(expected)
    for p in expected:
        assert x[p] == pytest.approx(expected[p], abs=tol), p


GLOVE = game(["L", "R1", "R2"], lambda s: 1 if "L" in s and s & {"R1", "R2"} else 0)
MAJORITY = game([1, 2, 3], lambda s: 1 if len(s) >= 2 else 0)


# ---------------------------------------------------------------- textbook games


def test_glove_game():
    close(f.shapley(GLOVE), {"L": 2 / 3, "R1": 1 / 6, "R2": 1 / 6})
    close(f.nucleolus(GLOVE), {"L": 1.0, "R1": 0.0, "R2": 0.0})
    assert not f.core_is_empty(GLOVE)
    assert f.in_core(GLOVE, {"L": 1.0, "R1": 0.0, "R2": 0.0})
    assert not f.in_core(GLOVE, f.shapley(GLOVE))  # {L, R1} gets 5/6 < 1
    # stand-alone values all zero: proportional to marginal contributions (1, 0, 0)
    assert f.proportional_basis(GLOVE) == "marginal"
    close(f.proportional(GLOVE), {"L": 1.0, "R1": 0.0, "R2": 0.0})
    close(f.equal_surplus(GLOVE), {"L": 1 / 3, "R1": 1 / 3, "R2": 1 / 3})


def test_majority_game_has_empty_core():
    assert f.core_is_empty(MAJORITY)
    close(f.nucleolus(MAJORITY), {1: 1 / 3, 2: 1 / 3, 3: 1 / 3})
    close(f.shapley(MAJORITY), {1: 1 / 3, 2: 1 / 3, 3: 1 / 3})
    assert f.proportional_basis(MAJORITY) == "equal"  # every marginal contribution is 0
    assert not f.in_core(MAJORITY, f.nucleolus(MAJORITY))


@pytest.mark.parametrize(
    "estate, talmud",
    [(100, (100 / 3, 100 / 3, 100 / 3)), (200, (50, 75, 75)), (300, (50, 100, 150))],
)
def test_bankruptcy_nucleolus_is_the_talmud_rule(estate, talmud):
    """Aumann and Maschler (1985): claims 100, 200, 300; v(S) = max(0, E - claims outside S)."""
    claims = {"a": 100, "b": 200, "c": 300}
    v = game(claims, lambda s: max(0, estate - sum(c for p, c in claims.items() if p not in s)))
    close(f.nucleolus(v), dict(zip(claims, talmud, strict=True)), tol=1e-6)
    assert not f.core_is_empty(v)  # bankruptcy games are convex
    assert f.in_core(v, f.shapley(v), tol=1e-9)


def test_airport_game():
    """Runway costs 1, 2, 3; savings game v(S) = sum of costs - largest cost. Worked by hand:
    stage 1 fixes a's satisfaction at 1/2 ({a} and {b, c}), stage 2 sets c - 1 = 5/2 - c."""
    cost = {"a": 1, "b": 2, "c": 3}
    v = game(cost, lambda s: sum(cost[p] for p in s) - max(cost[p] for p in s))
    close(f.nucleolus(v), {"a": 0.5, "b": 1.25, "c": 1.25})
    close(f.shapley(v), {"a": 2 / 3, "b": 7 / 6, "c": 7 / 6})


def test_sum_of_unanimity_games_worked_by_hand():
    """v = 30 u_{c,a} + 60 u_{c,a,m}; l is a null player. Nucleolus: stage 1 fixes {l} and
    {c,a,m} at 0 (x_l >= 0 and -x_l); stage 2 maximises min(x_c, x_a, x_m, 60 - x_m), the
    last being the satisfaction of {c,a}: x_c + x_a - 30 = 90 - x_m - 30; all equal at 30."""
    v = game("camL", lambda s: 30 * ({"c", "a"} <= s) + 60 * ({"c", "a", "m"} <= s))
    order = ["c", "a", "m", "L"]
    close(f.shapley(v, order), {"c": 35, "a": 35, "m": 20, "L": 0})
    close(f.nucleolus(v, order), {"c": 30, "a": 30, "m": 30, "L": 0})
    close(f.proportional(v, order), {"c": 33.75, "a": 33.75, "m": 22.5, "L": 0})
    close(f.equal_surplus(v, order), {"c": 22.5, "a": 22.5, "m": 22.5, "L": 22.5})


def test_additive_game_every_split_is_the_stand_alone_value():
    alone = {"x": 3.0, "y": 5.0, "z": 0.0, "w": 2.5}
    v = game(alone, lambda s: sum(alone[p] for p in s))
    for fn in (f.shapley, f.nucleolus, f.proportional, f.equal_surplus):
        close(fn(v, list(alone)), alone)
    assert list(f.shapley(v)) == ["w", "x", "y", "z"]  # sorted when no order is given
    assert f.proportional_basis(v) == "stand_alone"
    assert not f.core_is_empty(v)


def test_proportional_to_stand_alone_values():
    v = {frozenset("a"): 1.0, frozenset("b"): 3.0, frozenset("ab"): 8.0}
    close(f.proportional(v), {"a": 2.0, "b": 6.0})
    close(f.equal_surplus(v), {"a": 3.0, "b": 5.0})
    close(f.nucleolus(v), {"a": 3.0, "b": 5.0})  # two players: the standard solution


def test_single_player_and_empty_coalition():
    assert f.shapley({frozenset({"a"}): 4.0}) == {"a": 4.0}
    assert f.nucleolus({frozenset(): 0, frozenset({"a"}): 4.0}) == {"a": 4.0}


def test_players_order_and_unsortable_ids():
    v = {frozenset({1}): 0.0, frozenset({"b"}): 0.0, frozenset({1, "b"}): 2.0}
    assert f.shapley(v) == {1: 1.0, "b": 1.0}  # first-seen order when ids cannot be sorted
    assert list(f.nucleolus(v, players=["b", 1])) == ["b", 1]


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "v, words",
    [
        ({("a",): 1.0}, "is a tuple, not a frozenset"),
        ({frozenset("a"): 1.0, frozenset("ab"): 2.0}, "1 of the 3 coalitions are missing: {'b'}"),
        ({frozenset(): 1.0, frozenset("a"): 1.0}, "v(frozenset()) must be 0"),
        ({frozenset("a"): float("nan")}, "is not a finite number"),
        ({frozenset("a"): "1"}, "is not a finite number"),
        ({}, "non-empty dict"),
    ],
)
def test_bad_games_are_refused_with_a_clear_message(v, words):
    with pytest.raises(ValueError) as e:
        f.shapley(v)
    assert words in str(e.value)


def test_nucleolus_needs_an_imputation():
    v = {frozenset("a"): 2.0, frozenset("b"): 2.0, frozenset("ab"): 3.0}
    with pytest.raises(ValueError, match="no imputation"):
        f.nucleolus(v)
    assert f.core_is_empty(v)


def test_players_must_match_the_coalitions():
    with pytest.raises(ValueError, match="do not match"):
        f.shapley(GLOVE, players=["L", "R1"])
    with pytest.raises(ValueError, match="exactly the players"):
        f.in_core(GLOVE, {"L": 1.0})


# ---------------------------------------------------------------- properties


@st.composite
def games(draw, n_min=3, n_max=4):
    n = draw(st.integers(n_min, n_max))
    players = [f"p{i}" for i in range(n)]
    vals = {
        frozenset(c): float(draw(st.integers(0, 20)))
        for k in range(1, n)
        for c in combinations(players, k)
    }
    alone = sum(vals[frozenset({p})] for p in players)
    vals[frozenset(players)] = alone + float(draw(st.integers(0, 30)))
    return vals


def excesses(v: dict, x: dict) -> np.ndarray:
    e = [val - sum(x[p] for p in c) for c, val in v.items() if 0 < len(c) < len(x)]
    return np.sort(e)[::-1]


def lex_leq(a: np.ndarray, b: np.ndarray, tol: float = 1e-6) -> bool:
    for ai, bi in zip(a, b, strict=True):
        if ai < bi - tol:
            return True
        if ai > bi + tol:
            return False
    return True


@settings(max_examples=40, deadline=None)
@given(games(), st.integers(0, 2**32 - 1))
def test_nucleolus_is_the_lexicographic_minimum(v, seed):
    """No imputation, random or a small step away, has a smaller sorted excess vector."""
    x = f.nucleolus(v)
    players = list(x)
    alone = np.array([v[frozenset({p})] for p in players])
    grand = v[frozenset(players)]
    xv = np.array(list(x.values()))
    assert xv.sum() == pytest.approx(grand, abs=1e-7)
    assert (xv >= alone - 1e-7).all()
    ex = excesses(v, x)
    rng = np.random.default_rng(seed)
    surplus = grand - alone.sum()
    for _ in range(60):
        y = alone + surplus * rng.dirichlet(np.ones(len(players)))
        assert lex_leq(ex, excesses(v, dict(zip(players, y, strict=True))))
    for _ in range(60):
        d = rng.normal(size=len(players))
        y = xv + 1e-3 * (d - d.mean())
        if (y >= alone).all():
            assert lex_leq(ex, excesses(v, dict(zip(players, y, strict=True))))
    if not f.core_is_empty(v):
        assert f.in_core(v, x, tol=1e-6)


@settings(max_examples=40, deadline=None)
@given(games(n_max=5))
def test_efficiency_and_symmetry(v):
    """Every split shares out exactly v(N); players p0 and p1, made interchangeable, get the
    same; a player whose presence changes nothing (null) gets nothing from Shapley/nucleolus."""
    players = sorted(set().union(*v))
    swap = {"p0": "p1", "p1": "p0"}
    sym = {}
    for c, val in v.items():
        twin = frozenset(swap.get(p, p) for p in c)
        sym[c] = sym[twin] = max(val, v[twin])
    grand = sym[frozenset(players)] = max(sym[frozenset(players)],
                                          sum(sym[frozenset({p})] for p in players))  # fmt: skip
    for fn in (f.shapley, f.nucleolus, f.proportional, f.equal_surplus):
        x = fn(sym)
        assert sum(x.values()) == pytest.approx(grand, abs=1e-7)
        assert x["p0"] == pytest.approx(x["p1"], abs=1e-6)
    # add a null player: Shapley and nucleolus give it 0 and leave the others unchanged
    null = {c | {"zz"}: val for c, val in sym.items()} | sym | {frozenset({"zz"}): 0.0}
    for fn in (f.shapley, f.nucleolus):
        x, y = fn(sym), fn(null)
        assert y["zz"] == pytest.approx(0.0, abs=1e-6)
        for p in players:
            assert y[p] == pytest.approx(x[p], abs=1e-6)


@settings(max_examples=20, deadline=None)
@given(st.lists(st.floats(0.1, 5.0), min_size=3, max_size=5))
def test_convex_game_contains_shapley_and_nucleolus_in_its_core(weights):
    """v(S) = (sum of weights)^2 is supermodular, so the Shapley value is in the core."""
    w = dict(enumerate(weights))
    v = game(w, lambda s: sum(w[p] for p in s) ** 2)
    assert not f.core_is_empty(v)
    assert f.in_core(v, f.shapley(v), tol=1e-7)
    assert f.in_core(v, f.nucleolus(v), tol=1e-6)


def test_api_export():
    assert gainshare.fairness.shapley is f.shapley


# ---------------------------------------------------------------- coalition savings game


def _shift(contract: str, units: float = 1.0) -> dict:
    return {"contract": contract, "units_per_patient": units}


TINY = {
    "name": "Coalitions by construction",
    "horizon": {"years": 2},
    "parties": [
        {"id": "ccg", "name": "CCG", "role": "commissioner"},
        {"id": "acute", "name": "Acute", "role": "provider"},
        {"id": "community", "name": "Community", "role": "provider"},
        {"id": "la", "name": "Council", "role": "commissioner", "kind": "local_authority"},
    ],
    "contracts": [
        {
            "id": "nel",
            "commissioner": "ccg",
            "provider": "acute",
            "rule": "activity",
            "price": 1000,
            "expected_units": 1000,
            "costs": {"variable_per_unit": 400},
        },
        {
            "id": "nursing",
            "commissioner": "ccg",
            "provider": "community",
            "rule": "block",
            "fixed_payment": 100000,
            "expected_units": 2000,
            "costs": {"variable_per_unit": 50},
        },
    ],  # fmt: skip
    "schemes": [
        # 100 spells avoided x 400 - 10,000 running - 200 contacts x 50 + 100 x 100 to the
        # council = 30,000 a year: needs ccg, acute, community (not the council)
        {
            "id": "rapid",
            "provider": "community",
            "referrals_per_team": 100,
            "targeting": 1,
            "moves_from": [_shift("nel")],
            "moves_to": [_shift("nursing", 2)],
            "fixed_cost": 10000,
            "benefits": [{"party": "la", "per_patient_avoided": 100}],
        },
        # 50 x 400 - 5,000 = 15,000 a year: needs ccg and acute
        {
            "id": "ward",
            "provider": "acute",
            "referrals_per_team": 50,
            "targeting": 1,
            "moves_from": [_shift("nel")],
            "fixed_cost": 5000,
        },
        # 10 x 400 - 100,000 < 0: a coalition that can run it is better off without it
        {
            "id": "loser",
            "provider": "acute",
            "referrals_per_team": 10,
            "targeting": 1,
            "moves_from": [_shift("nel")],
            "fixed_cost": 100000,
        },
    ],  # fmt: skip
    "uncertainty": {"scenarios": 3, "seed": 7},
}


def test_coalition_values_known_by_construction():
    case = Case.model_validate(TINY)
    assert enabling_parties(case, case.schemes[0]) == {"ccg", "acute", "community"}
    assert enabling_parties(case, case.schemes[1]) == {"ccg", "acute"}
    v = coalition_game(case)
    assert len(v) == 16 and v[frozenset()] == 0.0
    for c, val in v.items():
        expected = 30000 * ({"ccg", "acute"} <= c) + 60000 * ({"ccg", "acute", "community"} <= c)
        assert val == pytest.approx(expected, abs=0.005), sorted(c)


def test_fair_references_of_the_tiny_case():
    doc = fair_references(Case.model_validate(TINY))
    assert doc["command"] == "fair" and doc["players"] == ["ccg", "acute", "community", "la"]
    assert doc["grand_coalition_value"] == 90000.0
    assert doc["values"]["acute+ccg"] == 30000.0 and doc["values"]["ccg"] == 0.0
    assert doc["values"]["acute+ccg+community+la"] == 90000.0
    assert doc["shapley"] == {"ccg": 35000.0, "acute": 35000.0, "community": 20000.0, "la": 0.0}
    assert doc["nucleolus"] == {"ccg": 30000.0, "acute": 30000.0, "community": 30000.0, "la": 0.0}
    assert doc["proportional_basis"] == "marginal"
    assert doc["proportional"] == {"ccg": 33750.0, "acute": 33750.0, "community": 22500.0,
                                   "la": 0.0}  # fmt: skip
    assert doc["equal_surplus"] == dict.fromkeys(doc["players"], 22500.0)
    assert doc["shares"]["shapley"]["community"] == pytest.approx(20000 / 90000, abs=1e-6)
    assert doc["schemes"]["loser"]["expected_savings_alone"] == -192000.0  # (4,000 - 100,000) x 2
    assert doc["schemes"]["rapid"]["needs"] == ["ccg", "acute", "community"]
    assert not doc["core_empty"]
    assert doc["in_core"] == {"shapley": True, "nucleolus": True, "proportional": True,
                              "equal_surplus": False}  # fmt: skip


def test_too_many_parties_is_refused():
    data = dict(TINY)
    data["parties"] = TINY["parties"] + [
        {"id": f"x{i}", "name": f"X{i}", "role": "provider"} for i in range(9)
    ]
    with pytest.raises(InputError, match="13 parties is beyond the limit of 12"):
        coalition_game(Case.model_validate(data))


def test_grand_coalition_of_the_core_case_is_its_expected_system_savings():
    """v(N) = the case's expected system savings over running no scheme (when positive),
    on the same scenarios: the same figure `check` reports, less the no-scheme baseline."""
    case = gainshare.load_case(CASES / "core.yaml")
    agreement = gainshare.load_agreement(CASES / "core.agreement.yaml", case)
    sc = gainshare.sample(case)
    full = gainshare.check(case, agreement, gainshare.compute(case, sc))
    base = gainshare.compute(case.model_copy(update={"schemes": []}), sc)
    base_ss = float(base.weights @ -base.total_cost_change.sum(axis=(1, 2)))
    v = coalition_game(case, sc)
    grand = v[frozenset(case.party_ids)]
    assert grand == pytest.approx(max(0.0, full.document["system_savings"]["expected"] - base_ss),
                                  abs=0.02)  # fmt: skip
    assert all(val <= grand + 1e-9 for val in v.values())  # more parties never run fewer schemes


def test_cli_fair_json():
    r = subprocess.run(
        [sys.executable, "-m", "gainshare.cli", "fair", str(CASES / "core.yaml"), "--json"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    n = len(doc["players"])
    assert doc["command"] == "fair" and len(doc["values"]) == 2**n - 1
    for name in ("shapley", "nucleolus", "proportional", "equal_surplus"):
        assert sum(doc[name].values()) == pytest.approx(doc["grand_coalition_value"], abs=0.05)
