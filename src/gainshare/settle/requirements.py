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
    if req.system_savings_min is not None and (
        result.expected_system_savings < req.system_savings_min - PENNY
    ):
        out.append(
            {
                "requirement": "system_savings_min",
                "party": None,
                "text": f"the expected system savings are "
                f"{money(result.expected_system_savings, cur)}, below the required "
                f"{money(req.system_savings_min, cur)}",
            }
        )
    if req.fair_distance_max is not None:
        dist = fair_distance(case, agreement)
        if dist > req.fair_distance_max + SHARE_TOL:
            out.append(
                {
                    "requirement": "fair_distance_max",
                    "party": None,
                    "text": f"the gain shares sit {dist:.4f} from the reference split, further "
                    f"than the {req.fair_distance_max:.4f} allowed",
                }
            )
    return (out + _symmetry_failures(case, agreement) + _share_failures(case, agreement)
            + _incentive_failures(case, agreement, result))  # fmt: skip


def fair_distance(case: Case, agreement: Agreement) -> float:
    """How far the gain shares sit from the reference split (an equal split without one): the
    sum over the parties that take a share or commission of |share - reference|, averaged over
    the gain tiers and the years of the agreement (models/design.md, `fair_distance`)."""
    ref = case.requirements.reference_split
    parties = [p.id for p in case.parties if p.is_provider or p.is_risk_partner
               or p.is_commissioner]  # fmt: skip
    if ref is None:
        ref = {p.id: 1.0 / len(case.parties) for p in case.parties}
    per_year = []
    for y in range(1, case.horizon.years + 1):
        tiers = agreement.terms_for_year(y).gain_tiers
        per_year.append(sum(abs(t.shares.get(pid, 0.0) - ref.get(pid, 0.0))
                            for t in tiers for pid in parties) / max(len(tiers), 1))  # fmt: skip
    return sum(per_year) / len(per_year)


def _symmetry_failures(case: Case, agreement: Agreement) -> list[dict]:
    """With `symmetric`, each loss tier's shares equal the gain tier's of the same rank."""
    if not case.requirements.symmetric:
        return []
    out = []
    for y in range(1, case.horizon.years + 1):
        terms = agreement.terms_for_year(y)
        same = len(terms.gain_tiers) == len(terms.loss_tiers) and all(
            abs(g.shares.get(pid, 0.0) - lt.shares.get(pid, 0.0)) <= SHARE_TOL
            for g, lt in zip(terms.gain_tiers, terms.loss_tiers, strict=True)
            for pid in set(g.shares) | set(lt.shares)
        )
        if not same:
            out.append({"requirement": "symmetric", "party": None, "year": y,
                        "text": f"the loss shares in year {y} are not the gain shares, as the "
                        "case requires (requirements.symmetric)"})  # fmt: skip
    return out


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
