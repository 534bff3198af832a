"""The Designer re-solves by changing only what a what-if touches in its HiGHS instance
(optimise.direct). Every change must leave HiGHS with exactly the model Pyomo's own full update
would give, and every re-solve must agree with a fresh design."""

from __future__ import annotations

import numpy as np
import pyomo.environ as pyo
import pytest

import gainshare
from gainshare.optimise import Designer
from gainshare.optimise.direct import LoadedOnce
from gainshare.schema.io import agreement_to_dict
from tests.helpers_design import tiny_case


def _bounds(designer: Designer) -> tuple[np.ndarray, np.ndarray]:
    lp = designer._direct.h.getLp()
    return np.array(lp.row_lower_), np.array(lp.row_upper_)


def _same_as_full_update(designer: Designer) -> None:
    """Push the noted changes directly, then let Pyomo recompute every Param-dependent bound
    from scratch: HiGHS must not see a single bound move."""
    designer._solver()  # pushes the noted changes
    ours = _bounds(designer)
    designer._opt.update_parameters()
    full = _bounds(designer)
    assert np.array_equal(ours[0], full[0]) and np.array_equal(ours[1], full[1])


KEEP_WHOLE = {
    "robust": {"acute": {"mode": "robust"}, "community": {"mode": "robust"}},
    "chance": {"acute": {"mode": "robust"}, "community": {"mode": "chance", "beta": 0.5}},
    "cvar": {
        "acute": {"mode": "robust"},
        "community": {"mode": "cvar", "beta": 0.5, "tolerance": 6000.0},
    },
}


@pytest.mark.parametrize("mode", sorted(KEEP_WHOLE))
def test_tolerance_change_sets_the_bounds_a_full_update_would(mode):
    d = Designer(tiny_case(keep_whole=KEEP_WHOLE[mode]), method="mip")
    d.solve()
    before = _bounds(d)[0]
    d.set_tolerance("community", 7000.0)
    d.set_tolerance("acute", 2500.0)
    _same_as_full_update(d)
    assert not np.array_equal(before, _bounds(d)[0])  # the change did reach HiGHS


def test_floors_added_after_loading_are_updated_too():
    d = Designer(tiny_case(), method="mip")
    d.solve()
    d.set_commissioners_min(1000.0)
    d.set_margin_min(-5000.0)
    _same_as_full_update(d)
    d.set_commissioners_min(1500.0)
    _same_as_full_update(d)
    d.set_commissioners_min(None)
    _same_as_full_update(d)


@pytest.mark.parametrize("mode", sorted(KEEP_WHOLE))
def test_every_resolve_equals_a_fresh_design(mode):
    kw = KEEP_WHOLE[mode]
    d = Designer(tiny_case(keep_whole=kw), method="mip")
    d.solve()
    for tol in (500.0, 4000.0, 0.0, 9000.0):
        d.set_tolerance("community", tol)
        again = d.solve()
        fresh_kw = kw | {"community": kw["community"] | {"tolerance": tol}}
        fresh = Designer(tiny_case(keep_whole=fresh_kw), method="mip").solve()
        assert again.status == fresh.status == "optimal"
        assert again.objective_value == pytest.approx(fresh.objective_value, abs=0.01)
        assert agreement_to_dict(again.agreement) == agreement_to_dict(fresh.agreement)


def test_resolve_on_the_core_case_matches_a_fresh_design_and_its_shadow_prices(root):
    case = gainshare.load_case(root / "cases" / "core.yaml")
    d = Designer(case, method="mip")
    d.solve()
    d.set_tolerance("acute", 20000.0)
    again = d.solve()
    kw = case.keep_whole_for("acute").model_copy(update={"tolerance": 20000.0})
    fresh = Designer(case.model_copy(update={"keep_whole": case.keep_whole | {"acute": kw}}),
                     method="mip").solve()  # fmt: skip
    assert again.objective_value == pytest.approx(fresh.objective_value, abs=0.01)
    assert again.binding == fresh.binding
    assert again.check.document == fresh.check.document


def test_infeasible_and_back():
    d = Designer(tiny_case(), method="mip")
    ok = d.solve()
    d.set_commissioners_min(1e9)  # more than the pool can ever hold
    r = d.solve()
    assert r.status == "infeasible" and r.agreement is None
    d.set_commissioners_min(None)
    back = d.solve()
    assert back.status == "optimal"
    assert back.objective_value == pytest.approx(ok.objective_value, abs=0.01)


def test_a_workshop_of_what_ifs_on_the_core_case(root):
    """Twelve mixed what-ifs in a row, as a workshop would make them: after each, HiGHS holds
    what Pyomo's full update gives; the last answer equals a fresh design of the same case."""
    case = gainshare.load_case(root / "cases" / "core.yaml")
    d = Designer(case, method="mip")
    d.solve()
    rng = np.random.default_rng(7)
    providers = case.provider_ids
    for _ in range(12):
        kind = rng.integers(3)
        if kind == 0:
            d.set_tolerance(
                providers[rng.integers(len(providers))], float(rng.integers(0, 60)) * 1e3
            )
        elif kind == 1:
            d.set_commissioners_min(float(rng.integers(0, 5)) * 1e5)
        else:
            d.set_margin_min(-float(rng.integers(0, 60)) * 1e3)
        _same_as_full_update(d)
        last = d.solve()
    fresh = Designer(d.case, method="mip").solve()
    assert last.status == fresh.status == "optimal"
    assert last.objective_value == pytest.approx(fresh.objective_value, abs=0.01)
    assert last.check.document == fresh.check.document


def _columns(designer: Designer) -> dict[str, tuple[float, float, int, float]]:
    """Variable name -> (lower, upper, integer, cost) of its column in HiGHS."""
    lp = designer._direct.h.getLp()
    integer = list(lp.integrality_) or [0] * lp.num_col_
    name = {id(v): v.name for v in designer.model.component_data_objects(pyo.Var)}
    return {
        name[vid]: (lp.col_lower_[j], lp.col_upper_[j], int(integer[j]), lp.col_cost_[j])
        for vid, j in designer._opt._pyomo_var_to_solver_var_map.items()
        if vid in name
    }


LIMITS = {"acute": {"decide": True}, "community": {"decide": True}}


def test_a_model_loaded_once_is_the_model_the_persistent_load_gives():
    """`load_once` (Pyomo's LP writer, for a model solved once) gives HiGHS the same columns,
    bounds, integrality and costs as the persistent interface for every variable that is not
    fixed, and the same answer, from no start and from a start; a what-if afterwards, or a
    solve with shadow prices, loads the model the persistent way and answers as it does."""
    case = tiny_case(requirements={"caps": LIMITS, "collars": LIMITS})
    a = Designer(case, method="mip")
    ra = a.solve()
    b = Designer(case, method="mip")
    b.load_once()
    assert isinstance(b._opt, LoadedOnce)
    rb = b.solve(duals=False)
    assert isinstance(b._opt, LoadedOnce)  # solved on the model loaded once
    ca, cb = _columns(a), _columns(b)
    fixed = {v.name for v in a.model.component_data_objects(pyo.Var) if v.fixed}
    assert set(cb) == set(ca) - fixed
    assert sum(c[2] for c in cb.values()) == 4  # a cap and a collar binds, or not, for two
    for name, col in cb.items():
        assert col == pytest.approx(ca[name], abs=1e-12), name
    assert ra.status == rb.status == "optimal"
    assert rb.objective_value == pytest.approx(ra.objective_value, abs=0.01)
    assert agreement_to_dict(rb.agreement) == agreement_to_dict(ra.agreement)
    assert set(rb.agreement.terms.caps) == {"acute", "community"}

    c = Designer(case, method="mip")
    c.load_once()
    rc = c.solve(duals=False, start=ra.agreement)
    assert rc.status == "optimal"
    assert agreement_to_dict(rc.agreement) == agreement_to_dict(ra.agreement)

    b.set_tolerance("acute", 2500.0)  # a what-if: loaded again, the persistent way
    assert b._opt is None
    again = b.solve()
    assert not isinstance(b._opt, LoadedOnce)
    a.set_tolerance("acute", 2500.0)
    same = a.solve()
    assert again.objective_value == pytest.approx(same.objective_value, abs=0.01)
    assert again.objective_value > ra.objective_value  # the what-if reached HiGHS
    assert again.binding == same.binding
    rc2 = c.solve()  # shadow prices: loaded again, the persistent way
    assert not isinstance(c._opt, LoadedOnce)
    assert rc2.binding == ra.binding
