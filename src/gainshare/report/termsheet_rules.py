"""Term-sheet wording of the rules beyond one provider in one year (group and agreement-long
caps and collars, quality-scaled loss shares), of risk partners, and of the baseline's trend,
adjustments and rebasing. Each function returns the sentences a clause adds; none when the
agreement or case does not use the rule, so other term sheets read as before."""

from __future__ import annotations

from typing import TYPE_CHECKING

from gainshare.schema.rules import GroupLimit, QualityLossRate

if TYPE_CHECKING:
    from gainshare.report.termsheet import _Writer


def possessive(name: str) -> str:
    return name + ("'" if name.endswith("s") else "'s")


def _and(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def risk_partners(w: _Writer) -> str:
    """A sentence naming the risk partners (empty when there are none)."""
    names = [p.name for p in w.case.parties if p.is_risk_partner]
    if not names:
        return ""
    verb = "takes" if len(names) == 1 else "take"
    one = len(names) == 1
    return (
        f" {_and(names)} {verb} part in the sharing as risk partner{'' if one else 's'}, with "
        f"no contracts of {'its' if one else 'their'} own: a share of a gain is paid to "
        f"{'it' if one else 'them'}, and a share of a loss is paid by {'it' if one else 'them'}."
    )


def baseline(w: _Writer) -> list[str]:
    """Trend, adjustments and rebasing of the baseline, in words."""
    b = w.case.baseline
    if b is None:
        return []
    which = (
        "every contract"
        if b.contracts is None
        else _and(
            [next(c.name or c.id for c in w.case.contracts if c.id == cid) for cid in b.contracts]
        )
    )
    out = []
    span = f"{w.labels[0]}" if len(w.labels) == 1 else f"{w.labels[0]} to {w.labels[-1]}"
    if b.trend is not None:
        t = b.trend
        idx = ", ".join(f"{v:.4g}" for v in t.factors(len(w.labels)))
        how = (
            f"grows {w.fmt.pct(t.rate)} a year" if t.rate is not None else "follows a stated index"
        )
        src = f" ({t.source})" if t.source else ""
        out.append(f"The expected spend on {which} {how}{src}: index {idx} for {span}.")
    for a in b.adjustments:
        src = f", from {a.source}" if a.source else ""
        facs = ", ".join(f"{v:.4g}" for v in a.factors)
        out.append(f"It is adjusted for {a.basis} each year by the factors {facs}{src}.")
    if b.trend is not None or b.adjustments:
        out.append(
            "Expected activity moves with these factors, and so do stated fixed sums "
            "(block payments and capitation); the figures above include them."
        )
    r = b.rebase
    if r is not None:
        parts = [
            f"{next(c.name or c.id for c in w.case.contracts if c.id == cid)} "
            f"{units:,.0f} {next(c.unit for c in w.case.contracts if c.id == cid)}s"
            for cid, units in r.expected_units.items()
        ]
        blend = (
            ""
            if r.weight == 1
            else (
                f", weighted {w.fmt.pct(r.weight)} against the earlier baseline's "
                f"{w.fmt.pct(1 - r.weight)}"
            )
        )
        out.append(
            f"For this renewed agreement the baseline is rebased to the {r.outturn}: "
            f"{_and(parts)} in the first year{blend}."
        )
    return out


def _group(w: _Writer, g: GroupLimit, years: list[int], over_agreement: bool) -> str:
    names = _and([w.names[m] for m in g.members])
    basis = [sum(w.base.payment_by[m][i] for m in g.members) for i in range(len(w.labels))]
    what = "their expected payments"
    if over_agreement:
        basis, years, what = (
            [sum(basis)] * len(basis),
            [1],
            "their expected payments over the agreement",
        )
    parts = []
    if g.cap is not None:
        parts.append(f"gain at most {w.limit(g.cap, basis, years, what)}")
    if g.collar is not None:
        parts.append(f"lose at most {w.limit(g.collar, basis, years, what)}")
    when = "over the whole agreement" if over_agreement else "in any year"
    return (
        f"Together, {names} (group {g.name}) {when} {_and(parts)}; when their transfers "
        "together go beyond this, each member's is reduced in proportion and what is cut falls to "
        "the commissioners."
    )


def group_limits(w: _Writer, groups: list[GroupLimit] | None, years: list[int]) -> list[str]:
    return [_group(w, g, years, False) for g in groups or []]


def aggregate(w: _Writer) -> list[str]:
    """Caps and collars over the whole agreement."""
    agg = w.agreement.aggregate_limits
    if agg is None:
        return []
    out = []
    for kind, verb in (("caps", "gains"), ("collars", "loses")):
        limits = getattr(agg, kind)
        if not limits:
            continue
        parts = []
        for pid, lim in limits.items():
            basis = [sum(w.base.payment_by[pid])] * len(w.labels)
            what = "its expected payments over the agreement"
            parts.append(f"{w.names[pid]} {w.limit(lim, basis, [1], what)}")
        out.append(f"Over the whole agreement a provider {verb} at most: {'; '.join(parts)}.")
    out += [_group(w, g, [1], True) for g in agg.groups]
    out.append(
        "A limit over the whole agreement is applied year by year in order: each year's "
        "transfer is cut to what the limit leaves after the years before, and what it "
        "cuts falls to the commissioners."
    )
    return out


def _rate_text(rule: QualityLossRate, fmt) -> str:
    at = {q: float(rule.rate(q)) for q in (0, 60, 100)}
    examples = "; ".join(f"{fmt.pct(v)} at a score of {q}" for q, v in at.items())
    return (
        f"{_g(rule.intercept)} - {_g(rule.slope)} x quality score / 100, at least "
        f"{fmt.pct(rule.min_rate)} and at most {fmt.pct(rule.max_rate)} ({examples})"
    )


def _g(v: float) -> str:
    return f"{v:g}"


def loss_quality(w: _Writer, rules: dict | None, years: list[int]) -> list[str]:
    del years
    if not rules:
        return []
    out = [
        f"{possessive(w.names[pid])} share of any loss is multiplied by its loss rate: "
        f"{_rate_text(rule, w.fmt)}."
        for pid, rule in rules.items()
    ]
    out.append("What the loss rate takes off a provider's share falls to the commissioners.")
    return out
