"""What each requirement costs at the search's answer: shadow prices of the keep-whole
requirements, said in words a finance director uses.

At the answer, every gain row is either below its provider's cap or capped, and every loss row
below its collar or collared. With that pattern held, the design problem of the answer's
structure is a linear programme in the shares, caps and collars (shares continuous); its row
duals are what one more pound of each requirement costs the commissioners at the margin
(models/design.md, "What each requirement costs")."""

from __future__ import annotations

import numpy as np

from gainshare.optimise.data import edge_array
from gainshare.optimise.highs import solve_lp
from gainshare.optimise.search import (
    EPS,
    Found,
    provider_needs,
    share_range,
    structure_arrays,
    tied_parties,
)
from gainshare.optimise.shadow import DUAL_EPS, _money_meaning
from gainshare.optimise.space import Space
from gainshare.schema.requirements import OBJECTIVE_WORDS
from gainshare.settle.engine import tier_portions

NEAR = 0.05  # rows within 5% of binding at the answer start the row generation
BREAK = 1e-9  # a row broken by more than this (relative) is added
ROUNDS = 20  # rounds of row generation before the whole programme is solved


class _LP:
    """A linear programme assembled in blocks of rows (each dense over a few columns), solved
    by row generation from the answer's point: first with the rows that bind or nearly bind
    there, then adding any row the solution breaks until it breaks none. Its solution then
    meets every row, so it is optimal for the whole programme and its duals (zero on the rows
    left out) are the whole programme's."""

    def __init__(self) -> None:
        self.cost: list[float] = []
        self.col_lo: list[float] = []
        self.col_hi: list[float] = []
        self.at: list[float] = []  # each column's value at the answer
        self.blocks: list[tuple] = []  # (coefs (n, m), columns (m,), rows of coefs or None)
        self.lo: list[np.ndarray] = []
        self.hi: list[np.ndarray] = []
        self.rows = 0

    def col(self, cost: float, lo: float, hi: float, at: float = 0.0) -> int:
        self.cost.append(cost)
        self.col_lo.append(lo)
        self.col_hi.append(hi)
        self.at.append(at)
        return len(self.cost) - 1

    def add(self, coefs: np.ndarray, cols: list[int], lo, hi, rows=None) -> np.ndarray:
        """Rows coefs @ x[cols] in [lo, hi]; coefs (n, len(cols)), or with `rows` (indices)
        the rows coefs[rows] (coefs shared between blocks, not copied). Returns the rows'
        indices in the programme."""
        coefs = np.asarray(coefs, dtype=float)
        n = coefs.shape[0] if rows is None else len(rows)
        idx = np.arange(self.rows, self.rows + n)
        self.blocks.append((coefs, np.asarray(cols, dtype=np.int64), rows))
        self.lo.append(np.broadcast_to(np.asarray(lo, dtype=float), (n,)))
        self.hi.append(np.broadcast_to(np.asarray(hi, dtype=float), (n,)))
        self.rows += n
        return idx

    def _activity(self, x: np.ndarray) -> np.ndarray:
        out, seen = [], {}
        for c, cols, rows in self.blocks:
            key = (id(c), cols.tobytes())  # blocks of one shared table: its product once
            if key not in seen:
                seen[key] = c @ x[cols]
            out.append(seen[key] if rows is None else seen[key][rows])
        return np.concatenate(out)

    def _triplets(self, keep: np.ndarray) -> tuple:
        """(row, column, value) of the nonzeros of the rows in `keep`, rows numbered in order."""
        r, c, v = [], [], []
        start = done = 0
        for coefs, cols, rows in self.blocks:
            n = coefs.shape[0] if rows is None else len(rows)
            part = keep[start : start + n]
            sub = coefs[part] if rows is None else coefs[rows[part]]
            rr, cc = np.nonzero(sub)
            r.append(rr + done)
            c.append(cols[cc])
            v.append(sub[rr, cc])
            start += n
            done += sub.shape[0]
        return np.concatenate(r), np.concatenate(c), np.concatenate(v)

    def solve(self):
        if not self.rows:
            return None
        lo, hi = np.concatenate(self.lo), np.concatenate(self.hi)
        scale = np.maximum(1.0, np.maximum(np.abs(np.where(np.isfinite(lo), lo, 0.0)),
                                           np.abs(np.where(np.isfinite(hi), hi, 0.0))))  # fmt: skip
        act = self._activity(np.asarray(self.at, dtype=float))
        keep = (act - lo <= NEAR * scale) | (hi - act <= NEAR * scale)
        for _ in range(ROUNDS):
            if keep.all():
                break
            idx = np.nonzero(keep)[0]
            sol = solve_lp(self.cost, *self._triplets(keep), lo[idx], hi[idx], self.col_lo,
                           self.col_hi)  # fmt: skip
            if sol is None:  # e.g. unbounded without the rows left out: the whole programme
                break
            x, dual = sol
            act = self._activity(x)
            broken = ~keep & ((act < lo - BREAK * scale) | (act > hi + BREAK * scale))
            if not broken.any():
                full = np.zeros(self.rows)
                full[idx] = dual
                return x, full
            keep |= broken
        every = np.ones(self.rows, dtype=bool)
        return solve_lp(self.cost, *self._triplets(every), lo, hi, self.col_lo, self.col_hi)


def search_binding(space: Space, found: Found) -> list[dict]:
    """[{requirement, shadow_price, meaning}] for the providers' keep-whole requirements that
    bind at the answer (price per pound of protection in every scenario and year)."""
    plan = found.plan
    st = plan.structure
    arr = structure_arrays(space, st)
    relaxed = tied_parties(space, arr.econ)
    needs = provider_needs(space, arr, relaxed)
    spend = arr.econ.total_exp_spend
    gp = tier_portions(np.maximum(arr.x, 0.0), edge_array(st.gain_edges, spend))
    lp = tier_portions(np.maximum(-arr.x, 0.0), edge_array(st.loss_edges, spend))
    qual = space.quality(st)
    price: dict[int, float] = {}
    for gi, ys in enumerate(plan.groups):
        for part in (_gain_lp, _loss_lp):
            for p, v in part(space, plan, gi, ys, arr, needs, relaxed, gp, lp, qual).items():
                price[p] = price.get(p, 0.0) + v
    out = []
    words = OBJECTIVE_WORDS["commissioners"]
    for p, lam in sorted(price.items()):
        if abs(lam) <= DUAL_EPS:
            continue
        pid = space.case.party_ids[p]
        name = space.case.party(pid).name
        what = (
            f"protection for {name} (a higher floor on its net position in every scenario and year)"
        )
        # as the MIP reports it: the change in the objective per pound more of the requirement
        out.append({"requirement": f"keep_whole.{pid}", "shadow_price": round(-lam, 6),
                    "meaning": _money_meaning(what, -lam, words)})  # fmt: skip
    return out


def _gain_lp(space, plan, gi, ys, arr, needs, relaxed, gp, lp_, qual) -> dict[int, float]:
    """min sum_p [w (qP x_p) on uncapped rows + w (basis c_p) on capped rows] with the keep-whole
    rows, the pattern rows and the share sums; the keep-whole duals per provider."""
    x = arr.x[:, ys]
    mask = x > 0
    if not mask.any():
        return {}
    w = np.broadcast_to(space.scenarios.weights[:, None], x.shape)[mask]
    P = gp[:, ys][mask]
    K = P.shape[1]
    m = _LP()
    kw_rows: dict[int, np.ndarray] = {}
    share_cols: list[list[int]] = [[] for _ in range(K)]
    ungated = bool((qual == 1.0).all())  # no quality gateway: every provider's rows share P
    for p in needs.need:
        if p in relaxed:
            continue
        side = plan.gain[gi, p]
        pid = space.case.party_ids[p]
        rule = space.cap_rule(pid)
        qP = P if ungated else qual[:, ys, p][mask][:, None] * P
        basis = (arr.econ.exp_pay[:, ys, p][mask] if rule is not None and rule.basis != "amount"
                 else np.ones(len(w)))  # fmt: skip
        need = needs.need[p][:, ys][mask]
        a = qP @ np.asarray(side.shares)
        cap = side.limit if rule is not None else None
        capped = np.zeros(len(w), bool) if cap is None else a >= cap * basis - 1e-7
        lo, hi = share_range(space, pid, "gain")
        paid = w @ qP if cap is None else w[~capped] @ qP[~capped]  # per unit of each share
        cols = [m.col(float(paid[k]), lo, hi, side.shares[k]) for k in range(K)]
        for k in range(K):
            share_cols[k].append(cols[k])
        active = np.isfinite(need) & (need > -EPS)
        below = np.flatnonzero(active & ~capped)
        rows = [m.add(qP, cols, need[below], np.inf, rows=below)]
        if cap is not None:
            decided = rule.decide
            if decided:
                ccol = m.col(float(w[capped] @ basis[capped]), rule.min,
                             rule.max if rule.max is not None else np.inf, cap)  # fmt: skip
                pick = active & capped
                rows.append(m.add(basis[pick][:, None], [ccol], need[pick], np.inf))
                pat = np.column_stack([qP, -basis])
                m.add(pat[~capped], cols + [ccol], -np.inf, 0.0)
                m.add(pat[capped], cols + [ccol], 0.0, np.inf)
            else:
                m.add(qP, cols, -np.inf, cap * basis[~capped], rows=np.flatnonzero(~capped))
                m.add(qP, cols, cap * basis[capped], np.inf, rows=np.flatnonzero(capped))
        kw_rows[p] = np.concatenate(rows)
    for k in range(K):
        if share_cols[k]:
            m.add(np.ones((1, len(share_cols[k]))), share_cols[k], -np.inf, 1.0)
    sol = m.solve()
    if sol is None:
        return {}
    _, dual = sol
    return {p: float(dual[r].sum()) for p, r in kw_rows.items()}


def _loss_lp(space, plan, gi, ys, arr, needs, relaxed, gp, lp, qual) -> dict[int, float]:
    """min -sum_p [w (L y_p) on uncollared rows + w (basis l_p) on collared rows] with the
    keep-whole rows (loss taken <= slack), the pattern rows and the share sums."""
    x = arr.x[:, ys]
    mask = x < 0
    if not mask.any():
        return {}
    w = np.broadcast_to(space.scenarios.weights[:, None], x.shape)[mask]
    L_all = lp[:, ys][mask]
    rate = space.loss_rate(plan.structure)[:, ys][mask]  # (rows, P) quality-scaled loss rate
    K = L_all.shape[1]
    m = _LP()
    kw_rows: dict[int, np.ndarray] = {}
    share_cols: list[list[int]] = [[] for _ in range(K)]
    for p in needs.slack:
        if p in relaxed:
            continue
        side = plan.loss[gi, p]
        pid = space.case.party_ids[p]
        rule = space.collar_rule(pid)
        basis = (arr.econ.exp_pay[:, ys, p][mask] if rule is not None and rule.basis != "amount"
                 else np.ones(len(w)))  # fmt: skip
        slack = needs.slack[p][:, ys][mask]
        L = L_all * rate[:, p][:, None]
        b = L @ np.asarray(side.shares)
        col = side.limit
        collared = np.zeros(len(w), bool) if col is None else b >= col * basis - 1e-7
        lo, hi = share_range(space, pid, "loss")
        cols = [m.col(-float(w[~collared] @ L[~collared, k]), lo, hi, side.shares[k])
                for k in range(K)]  # fmt: skip
        for k in range(K):
            share_cols[k].append(cols[k])
        active = np.isfinite(slack)
        rows = [m.add(L[active & ~collared], cols, -np.inf, slack[active & ~collared])]
        if col is not None and rule is not None and rule.decide:
            ccol = m.col(-float(w[collared] @ basis[collared]), rule.min,
                         rule.max if rule.max is not None else np.inf, col)  # fmt: skip
            pick = active & collared
            rows.append(m.add(basis[pick][:, None], [ccol], -np.inf, slack[pick]))
            pat = np.column_stack([L, -basis])
            m.add(pat[~collared], cols + [ccol], -np.inf, 0.0)
            m.add(pat[collared], cols + [ccol], 0.0, np.inf)
        elif col is not None:
            m.add(L[~collared], cols, -np.inf, col * basis[~collared])
            m.add(L[collared], cols, col * basis[collared], np.inf)
        kw_rows[p] = np.concatenate(rows)
    for k in range(K):
        if share_cols[k]:
            m.add(np.ones((1, len(share_cols[k]))), share_cols[k], -np.inf, 1.0)
    sol = m.solve()
    if sol is None:
        return {}
    _, dual = sol
    # one pound more protection lowers every slack by one: the objective (minus the loss the
    # commissioners pass on) rises by minus the duals, which is what the commissioners lose
    return {p: -float(dual[r].sum()) for p, r in kw_rows.items()}
