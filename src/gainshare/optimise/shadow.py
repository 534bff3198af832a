"""Which requirements bind, and what each costs: shadow prices from the LP duals (with every
integer variable fixed at its optimal value), said in words a finance director uses."""

from __future__ import annotations

import pyomo.environ as pyo
from pyomo.contrib.solver.common.util import NoDualsError

from gainshare.optimise.highs import pyomo_solve
from gainshare.schema.requirements import OBJECTIVE_WORDS

DUAL_EPS = 1e-7
SINGLE_ROWS = [  # (component, requirement, what one more pound of it buys)
    ("commissioners_floor", "commissioners_min_expected",
     "guaranteed commissioners' expected savings"),
    ("margin_floor_min", "worst_margin_min", "minimum margin for every provider"),
    ("savings_floor", "system_savings_min", "required expected system savings"),
]  # fmt: skip


def _integer_vars(m) -> list:
    """The model's integer variables not fixed now (the list of integer variables is found
    once per model)."""
    if not hasattr(m, "_integer_var_list"):
        m._integer_var_list = [
            v for v in m.component_data_objects(pyo.Var, active=True) if v.is_integer()
        ]
    return [v for v in m._integer_var_list if not v.fixed]


class _Duals:
    """Row duals by Pyomo constraint, from a solve's arrays or a dictionary."""

    def __init__(self, res=None, table: dict | None = None):
        self.res, self.table = res, table

    def dual(self, con) -> float:
        if self.res is not None:
            return self.res.dual(con)
        return float(self.table.get(con, 0.0))

    def total(self, key, cons) -> float:
        """Sum of the duals of the constraints `cons()` lists, a group named by `key`."""
        if self.res is not None:
            return self.res.total(key, cons)
        return float(sum(self.table.get(c, 0.0) for c in cons()))


def _duals(designer, res=None) -> _Duals | None:
    """Row duals of the LP with integers fixed (the LP itself when there are none: then the
    duals of the solve that just finished, `res`, are read without solving again)."""
    m, opt = designer.model, designer._opt
    if res is not None and res.row_dual is not None:
        return _Duals(res=res)
    ints = _integer_vars(m)
    for v in ints:
        v.fix(round(v.value or 0.0))
    if ints:
        opt.update_variables(ints)
    try:
        res = pyomo_solve(
            opt,
            m,
            load_solutions=False,
            raise_exception_on_nonoptimal_result=False,
            # every integer is fixed (here, or by the data), so the relaxation is that LP; a
            # model whose integers were all fixed beforehand is still a MIP to HiGHS otherwise
            solver_options={"solve_relaxation": True},
        )
        if res.incumbent_objective is None:
            return None
        try:
            return _Duals(table=res.solution_loader.get_duals())
        except NoDualsError:
            return None
    finally:
        if ints:
            for v in ints:
                v.unfix()
            opt.update_variables(ints)


def _block_sum(duals: _Duals, block, prefix: str) -> float:
    """Sum of the duals of every row of the block's constraints named `prefix...`."""

    def cons():
        for comp in block.component_objects(pyo.Constraint, descend_into=False):
            if comp.local_name.startswith(prefix):
                yield from comp.values()

    return duals.total((block.local_name, prefix), cons)


def _money_meaning(what: str, price: float, objective: str, unit: str = "£1") -> str:
    cost = -price
    if abs(cost) < 1e-9:
        return f"{what} is at its limit but costs nothing at the margin"
    verb = "costs" if cost > 0 else "adds"
    return f"{unit} more {what} {verb} the {objective} £{abs(cost):,.2f}"


def binding_requirements(designer, objective_name: str, res=None) -> list[dict]:
    """List of {requirement, shadow_price, meaning} for every requirement that binds."""
    m, d = designer.model, designer.data
    duals = _duals(designer, res)
    if duals is None:
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
            lam = duals.dual(m.cvar_limit[p])
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
            lam = duals.dual(getattr(m, comp))
            add(requirement, lam, _money_meaning(what, lam, obj_words))
    if hasattr(m, "commissioners_worst_year"):
        lam = _block_sum(duals, m.commissioners_worst_year, "year_")
        add(
            "commissioners_worst_year",
            lam,
            _money_meaning("protection for the commissioners in their worst year", lam, obj_words),
        )
    _share_rows(m, d, duals, add, obj_words, money_obj)
    for (key, pid), step in getattr(m, "_incentive_rows", {}).items():
        lam = duals.dual(m.incentive[key, pid]) if money_obj else 0.0
        name = d.case.party(pid).name
        add(f"incentives.{pid}.{key}", lam,
            _money_meaning(f"gain required of {name} on {step.label}", lam, obj_words))  # fmt: skip
    return out


def _share_rows(m, d, duals, add, obj_words: str, money_obj: bool) -> None:
    agg: dict[tuple, float] = {}
    for comp, side in ((m.share_bound_lower, "minimum"), (m.share_bound_upper, "maximum")):
        for key, con in comp.items():
            kind, pid, _, _ = key
            agg[(kind, pid, side)] = agg.get((kind, pid, side), 0.0) + duals.dual(con)
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
