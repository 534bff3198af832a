"""Solver-free test of an agreement against every requirement of its case: the keep-whole
requirements (from check) plus the commissioners' floors, the providers' minimum margin, and the
share bounds. Used to decide whether a proposal needs repair and to say what fails."""

from __future__ import annotations

from gainshare.economics.growth import growth_steps
from gainshare.economics.scenarios import sample
from gainshare.schema.agreement import Agreement
from gainshare.schema.case import Case
from gainshare.settle.check import PENNY, CheckResult
from gainshare.settle.engine import settle
from gainshare.units import money

SHARE_TOL = 1e-9


def _share_failures(case: Case, agreement: Agreement) -> list[dict]:
    req = case.requirements
    out = []
    for y in range(1, case.horizon.years + 1):
        terms = agreement.terms_for_year(y)
        for kind, tiers, bounds, fixed in (
            ("gain", terms.gain_tiers, req.share_bounds, req.fixed_gain_shares),
            ("loss", terms.loss_tiers, req.loss_share_bounds, req.fixed_loss_shares),
        ):
            lows = {pid: b.min for pid, b in bounds.items()}
            highs = {pid: b.max for pid, b in bounds.items()}
            if kind == "gain":
                for pid, v in req.driver_min_gain_share.items():
                    lows[pid] = max(lows.get(pid, 0.0), v)
            for pid, v in fixed.items():
                lows[pid], highs[pid] = v, v
            for k, tier in enumerate(tiers):
                for pid in set(lows) | set(highs):
                    v = tier.shares.get(pid, 0.0)
                    lo, hi = lows.get(pid, 0.0), highs.get(pid, 1.0)
                    if v < lo - SHARE_TOL or v > hi + SHARE_TOL:
                        out.append(
                            {
                                "requirement": f"{kind}_share.{pid}",
                                "party": pid,
                                "year": y,
                                "text": f"{case.party(pid).name}'s {kind} share of tier {k + 1} in "
                                f"year {y} is {100 * v:.2f}%, outside the required "
                                f"{100 * lo:.2f}%-{100 * hi:.2f}%",
                            }
                        )
    return out


def failures(case: Case, agreement: Agreement, result: CheckResult) -> list[dict]:
    """Every requirement the agreement fails, each with a sentence: empty when it meets all."""
    cur, req = case.currency, case.requirements
    out = []
    for pid, met in result.requirement_met.items():
        if not met:  # the document (built only when something fails) has the figures to say
            d = result.document["by_party"][pid]
            r = d["requirement"]
            out.append(
                {
                    "requirement": f"keep_whole.{pid}",
                    "party": pid,
                    "text": f"{case.party(pid).name} is not kept whole as required ({r['mode']}): "
                    f"kept whole in {100 * d['prob_whole']:.1f}% of scenarios, worst year "
                    f"{money(d['worst_net'], cur)}",
                }
            )
    st = result.settlement
    retained = result.expected_retained
    if req.commissioners_min_expected is not None and (
        retained < req.commissioners_min_expected - PENNY
    ):
        out.append(
            {
                "requirement": "commissioners_min_expected",
                "party": None,
                "text": f"the commissioners keep {money(retained, cur)} expected, below the "
                f"required {money(req.commissioners_min_expected, cur)}",
            }
        )
    worst_r = float(st.retained.min())
    if req.commissioners_worst_year is not None and worst_r < req.commissioners_worst_year - PENNY:
        out.append(
            {
                "requirement": "commissioners_worst_year",
                "party": None,
                "text": f"the commissioners' worst year is {money(worst_r, cur)}, below "
                f"{money(req.commissioners_worst_year, cur)}",
            }
        )
    if req.worst_margin_min is not None:
        worst = result.worst_provider_net or 0.0
        if worst < req.worst_margin_min - PENNY:
            out.append(
                {
                    "requirement": "worst_margin_min",
                    "party": None,
                    "text": f"the worst provider margin is {money(worst, cur)}, below "
                    f"{money(req.worst_margin_min, cur)}",
                }
            )
    return out + _share_failures(case, agreement) + _incentive_failures(case, agreement, result)


def _incentive_failures(case: Case, agreement: Agreement, result: CheckResult) -> list[dict]:
    """Providers that gain less than the incentive requirement asks on a growth step."""
    inc = case.requirements.incentives
    if inc is None:
        return []
    base = result.settlement
    w = base.econ.weights
    providers = inc.providers if inc.providers is not None else case.provider_ids
    out = []
    for step in growth_steps(case, sample(case)):
        if step.kind not in inc.steps:
            continue
        grown = settle(step.economics, agreement)
        extra = float(w @ (grown.system_savings - base.system_savings).sum(axis=1))
        if extra <= 0:
            continue
        for pid in providers:
            j = case.party_ids.index(pid)
            gain = float(w @ (grown.net[:, :, j] - base.net[:, :, j]).sum(axis=1))
            if gain < inc.min_share * extra - PENNY:
                out.append({
                    "requirement": f"incentives.{pid}",
                    "party": pid,
                    "text": f"{case.party(pid).name} gains {money(gain, case.currency)} on "
                    f"{step.label}, below {100 * inc.min_share:g}% of the "
                    f"{money(extra, case.currency)} more the system saves",
                })  # fmt: skip
    return out
