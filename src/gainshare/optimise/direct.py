"""Re-solving a loaded design model by talking to its HiGHS instance directly.

Pyomo builds the model and loads it into HiGHS once (`pyomo.contrib.solver` persistent
interface). A what-if then changes a few mutable Params. Pyomo's own update re-evaluates every
Param-dependent bound of the model and its solve call captures output and builds a results
object; on a model HiGHS solves in a millisecond those cost more than the solve. Here:

- rows whose lower bound is `constant + sign * Param` (recorded by `design_model.add_rows`) are
  updated together, one `changeRowsBounds` call per changed Param;
- any other bound or coefficient that depends on a changed Param is updated by Pyomo's own
  helper for it (and only that one); a Param in the objective or a variable bound falls back to
  Pyomo's full update;
- `run` sets the solver options, runs HiGHS, reads its status, objective and bound, and loads
  the column values into the Pyomo variables, so everything downstream reads the model as
  before.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass

import highspy
import numpy as np
import pyomo.environ as pyo
from pyomo.core.expr.visitor import identify_mutable_parameters

from gainshare.optimise.highs import quiet_highs, stdout_to_stderr
from gainshare.optimise.highs import run as run_highs

Status = highspy.HighsModelStatus
INFEASIBLE = (Status.kInfeasible, Status.kUnboundedOrInfeasible)


@dataclass(frozen=True)
class Solved:
    """What one HiGHS run found, in the model's own (scaled) units."""

    status: str  # optimal | time_limit | infeasible | error
    detail: str  # HiGHS's model status, for messages
    incumbent_objective: float | None
    objective_bound: float | None
    highs_s: float  # HiGHS's own run time
    row_dual: np.ndarray | None  # LP duals by row (None for a MIP)
    row_of: dict  # id(constraint) -> row, for reading `row_dual`
    groups: dict  # key -> rows of a named group of constraints (filled as groups are read)

    @property
    def has_solution(self) -> bool:
        return self.incumbent_objective is not None

    def dual(self, con) -> float:
        """The row dual of a Pyomo constraint (0 when it is not a row of the model)."""
        row = self.row_of.get(id(con))
        return 0.0 if row is None or self.row_dual is None else float(self.row_dual[row])

    def total(self, key, cons) -> float:
        """Sum of the row duals of a group of constraints; `cons()` lists them the first time
        the group `key` is asked for (the rows are then remembered)."""
        rows = self.groups.get(key)
        if rows is None:
            rows = np.array([self.row_of[id(c)] for c in cons() if id(c) in self.row_of],
                            dtype=np.int64)  # fmt: skip
            self.groups[key] = rows
        return float(self.row_dual[rows].sum()) if self.row_dual is not None else 0.0


class LoadedOnce:
    """A Pyomo model in a new HiGHS instance, loaded through Pyomo's LP writer, for solves that
    change nothing in it: no Param, constraint or objective changes and no row duals. It has
    the parts of a persistent solver `DirectHighs` and the starting solutions read (the HiGHS
    instance and the map from variables to columns), and no others.

    Pyomo's persistent interface walks every constraint's expression in Python; on the 83,108
    rows of a repair's distance model with caps and collars added (the workshop example's
    one-tier 50/30/20 proposal, on new tier edges) it took 4.2-5.1 s, where the LP writer and
    HiGHS's reader took 1.7-1.9 s. A model that will be changed and solved again (the room's
    what-ifs) is loaded the persistent way."""

    def __init__(self, model: pyo.ConcreteModel):
        h = quiet_highs()
        with tempfile.TemporaryDirectory(prefix="gainshare-") as tmp:
            path = os.path.join(tmp, "model.lp")
            _, sid = model.write(path, io_options={"symbolic_solver_labels": False})
            with stdout_to_stderr():
                status = h.readModel(path)
        if status == highspy.HighsStatus.kError:
            raise RuntimeError("HiGHS could not read the model Pyomo wrote")
        h.setOptionValue("output_flag", False)
        symbols = model.solutions.symbol_map.pop(sid)
        col = {name: j for j, name in enumerate(h.getLp().col_names_)}
        self._pyomo_var_to_solver_var_map = {
            id(v): col[name]
            for name, v in symbols.bySymbol.items()
            if name in col and v.is_variable_type()
        }
        self._pyomo_con_to_solver_con_map: dict = {}
        self._mutable_helpers: dict = {}
        self._mutable_bounds: dict = {}
        self._objective = None
        self._solver_model = h


def _params_of(helper) -> list:
    exprs = [getattr(helper, k, None) for k in ("lower_expr", "upper_expr", "expr")]
    out = []
    for e in exprs:
        if e is not None:
            out.extend(identify_mutable_parameters(e))
    return out


class DirectHighs:
    """The HiGHS instance behind a Pyomo persistent solver, driven directly for re-solves."""

    def __init__(self, opt, model: pyo.ConcreteModel):
        self.opt, self.model = opt, model
        self.h: highspy.Highs = opt._solver_model
        self._changed: dict[int, object] = {}
        self._index()

    # ------------------------------------------------------------ what depends on what

    def _index(self) -> None:
        """Map each Param to the rows (and Pyomo helpers) its value bounds."""
        con_row = self.opt._pyomo_con_to_solver_con_map
        self.row_of = {id(c): r for c, r in con_row.items()}
        self.groups: dict = {}  # filled by Solved.total, emptied when rows change
        grouped: dict[int, tuple[list, list, list]] = {}
        covered = set()
        for con, const, sign, param in getattr(self.model, "_param_rows", []):
            if con not in con_row:
                continue
            rows, consts, signs = grouped.setdefault(id(param), ([], [], []))
            rows.append(con_row[con])
            consts.append(const)
            signs.append(sign)
            covered.add(id(con))
        self._rows = {
            k: (np.array(r, dtype=np.int32), np.array(c), np.array(s))
            for k, (r, c, s) in grouped.items()
        }
        self._helpers: dict[int, list] = {}
        for con, helpers in self.opt._mutable_helpers.items():
            for helper in helpers:
                if id(con) in covered and type(helper).__name__ == "_MutableConstraintBounds":
                    continue
                for p in _params_of(helper):
                    self._helpers.setdefault(id(p), []).append(helper)
        self._elsewhere = set()  # Params in a variable bound or the objective
        for _, helper in self.opt._mutable_bounds.values():
            self._elsewhere.update(id(p) for p in _params_of(helper))
        obj = getattr(self.opt, "_objective", None)
        if obj is not None:
            self._elsewhere.update(id(p) for p in identify_mutable_parameters(obj.expr))
        self._columns()

    def _columns(self) -> None:
        var_col = self.opt._pyomo_var_to_solver_var_map
        vars_ = {id(v): v for v in self.model.component_data_objects(pyo.Var)}
        pairs = sorted((col, vars_[vid]) for vid, col in var_col.items() if vid in vars_)
        self._cols = np.array([c for c, _ in pairs], dtype=np.int64)
        self._vars = [v for _, v in pairs]

    def refresh(self) -> None:
        """Re-read the maps after constraints or an objective were added through Pyomo."""
        self._index()

    # ------------------------------------------------------------ changes

    def changed(self, param) -> None:
        """Note that a mutable Param's value changed (pushed at the next `push`)."""
        self._changed[id(param)] = param

    def push(self) -> None:
        """Send every noted Param change to HiGHS."""
        if not self._changed:
            return
        if any(k in self._elsewhere for k in self._changed):
            self.opt.update_parameters()
            self._changed.clear()
            return
        inf = highspy.kHighsInf
        for key, param in self._changed.items():
            block = self._rows.get(key)
            if block is not None:
                rows, const, sign = block
                lower = const + sign * float(pyo.value(param))
                self.h.changeRowsBounds(len(rows), rows, lower, np.full(len(rows), inf))
            for helper in self._helpers.get(key, ()):
                helper.update()
        self._changed.clear()

    # ------------------------------------------------------------ solve

    def run(self, options: dict) -> Solved:
        """Run HiGHS with `options` (set every time: other callers may have changed them),
        load the solution into the Pyomo variables, and say what happened."""
        h = self.h
        for key, value in options.items():
            h.setOptionValue(key, value)
        clock = h.getRunTime()  # HiGHS's run clock adds up over re-solves
        run_highs(h)
        highs_s = h.getRunTime() - clock
        status = h.getModelStatus()
        info = h.getInfo()
        feasible = info.primal_solution_status == 2
        mip = info.mip_node_count != -1
        if status == Status.kOptimal:
            word = "optimal"
        elif status in INFEASIBLE:
            word = "infeasible"
        elif status == Status.kTimeLimit:
            word = "time_limit"
        else:
            word = "error"
        incumbent = float(info.objective_function_value) if feasible else None
        if mip:
            bound = float(info.mip_dual_bound)
        else:
            bound = incumbent if word == "optimal" else None
        row_dual = None
        if feasible:
            sol = h.getSolution()
            x = np.asarray(sol.col_value)[self._cols]
            for v, value in zip(self._vars, x.tolist(), strict=True):
                v.set_value(value, skip_validation=True)
            if not mip and sol.dual_valid:
                row_dual = np.asarray(sol.row_dual)
        return Solved(word, h.modelStatusToString(status), incumbent, bound, highs_s, row_dual,
                      self.row_of, self.groups)  # fmt: skip
