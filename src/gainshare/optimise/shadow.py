"""Which requirements bind, and what each costs: shadow prices from the LP duals (with every
integer variable fixed at its optimal value), said in words a finance director uses."""

from __future__ import annotations

import pyomo.environ as pyo

DUAL_EPS = 1e-7
SINGLE_ROWS = [  # (component, requirement, what one more pound of it buys)
    ("commissioners_floor", "commissioners_min_expected",
     "guaranteed commissioners' expected savings"),
    ("margin_floor_min", "worst_margin_min", "minimum margin for every provider"),
    ("savings_floor", "system_savings_min", "required expected system savings"),
]  # fmt: skip


def _integer_vars(m) -> list:
    return [
        v for v in m.component_data_objects(pyo.Var, active=True) if v.is_integer() and not v.fixed
    ]


def _duals(designer, res=None) -> dict:
    """Row duals of the LP with integers fixed (the LP itself when there are none: then the
    duals of the solve that just finished, `res`, are read without solving again)."""
    m, opt = designer.model, designer._opt
    ints = _integer_vars(m)
    if not ints and res is not None:
        return res.solution_loader.get_duals()
    for v in ints:
        v.fix(round(v.value or 0.0))
    if ints:
        opt.update_variables(ints)
    try:
        res = opt.solve(
            m,
            load_solutions=False,
            raise_exception_on_nonoptimal_result=False,
            solver_options={"solve_relaxation": bool(ints)},
        )
        if res.incumbent_objective is None:
            return {}
        return res.solution_loader.get_duals()
    finally:
        if ints:
            for v in ints:
                v.unfix()
            opt.update_variables(ints)


def _sum(duals, component) -> float:
    if component is None:
        return 0.0
    return float(sum(duals.get(c, 0.0) for c in component.values()))


def _block_sum(duals, block, prefix: str) -> float:
    total = 0.0
    for comp in block.component_objects(pyo.Constraint, descend_into=False):
        if comp.local_name.startswith(prefix):
            total += _sum(duals, comp)
    return total


def _money_meaning(what: str, price: float, objective: str, unit: str = "£1") -> str:
    cost = -price
    if abs(cost) < 1e-9:
        return f"{what} is at its limit but costs nothing at the margin"
    verb = "costs" if cost > 0 else "adds"
    return f"{unit} more {what} {verb} the {objective} £{abs(cost):,.2f}"


def binding_requirements(designer, objective_name: str, res=None) -> list[dict]:
    """List of {requirement, shadow_price, meaning} for every requirement that binds."""
    from gainshare.optimise.designer import OBJECTIVE_WORDS

    m, d = designer.model, designer.data
    duals = _duals(designer, res)
    if not duals:
        return []
    obj_words = OBJECTIVE_WORDS[objective_name]
    money_obj = objective_name != "fair_reference"
    out: list[dict] = []

    def add(req: str, price: float, meaning: str) -> None:
        if abs(price) > DUAL_EPS:
            out.append({"requirement": req, "shadow_price": round(price, 6), "meaning": meaning})

    for p, pid in enumerate(d.party_ids):
        name = d.case.party(pid).name
        kw = d.case.keep_whole_for(pid)
        if kw.mode == "robust":
            lam = _block_sum(duals, m.keep_whole, f"robust_{p}_")
            add(
                f"keep_whole.{pid}",
                lam,
                _money_meaning(
                    f"protection for {name} (a higher floor on its net position in every scenario "
                    "and year)",
                    lam,
                    obj_words,
                ),
            )
        elif kw.mode == "cvar" and hasattr(m, "cvar_limit") and p in m.cvar_limit:
            lam = float(duals.get(m.cvar_limit[p], 0.0))
            add(
                f"keep_whole.{pid}",
                -lam,
                _money_meaning(
                    f"protection for {name} (a lower limit on its expected shortfall in the worst "
                    f"{100 * (1 - kw.beta):.0f}% of scenarios)",
                    -lam,
                    obj_words,
                ),
            )
    for comp, requirement, what in SINGLE_ROWS:
        if hasattr(m, comp):
            lam = float(duals.get(getattr(m, comp), 0.0))
            add(requirement, lam, _money_meaning(what, lam, obj_words))
    if hasattr(m, "commissioners_worst_year"):
        lam = _block_sum(duals, m.commissioners_worst_year, "year_")
        add(
            "commissioners_worst_year",
            lam,
            _money_meaning("protection for the commissioners in their worst year", lam, obj_words),
        )
    _share_rows(m, d, duals, add, obj_words, money_obj)
    return out


def _share_rows(m, d, duals, add, obj_words: str, money_obj: bool) -> None:
    agg: dict[tuple, float] = {}
    for comp, side in ((m.share_bound_lower, "minimum"), (m.share_bound_upper, "maximum")):
        for key, con in comp.items():
            kind, pid, _, _ = key
            agg[(kind, pid, side)] = agg.get((kind, pid, side), 0.0) + duals.get(con, 0.0)
    for (kind, pid, side), lam in sorted(agg.items()):
        per_point = lam * 0.01 * (d.scale if money_obj else 1.0)
        name = d.case.party(pid).name
        sign = 1.0 if side == "minimum" else -1.0
        cost = -sign * per_point
        unit = "£" if money_obj else ""
        verb = "costs" if cost > 0 else "adds"
        move = "raising" if side == "minimum" else "lowering"
        meaning = (
            f"{move} {name}'s {side} {kind} share by 1 percentage point {verb} the "
            f"{obj_words} {unit}{abs(cost):,.2f}"
        )
        add(f"{kind}_share_{side}.{pid}", per_point, meaning)
