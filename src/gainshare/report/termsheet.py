"""The term sheet: the agreement as numbered plain-English clauses with its numbers, then each
party's position, in Markdown and HTML.

Clauses read like the schedule of a contract: scope and parties, baseline expected spend, the
pool, corridor, gain and loss tiers, quality gateway, caps and collars, the commissioners'
retained amount, glide path and settlement. Terms that differ by year (a glide path) are stated
year by year inside their clause. Figures derived from the case (a threshold given as a share of
expected spend, a cap as a share of a provider's expected payment) are shown at the expected
baseline, probability-weighted over the scenarios."""

from __future__ import annotations

import html
import json
from dataclasses import dataclass, field

from markdown_it import MarkdownIt

from gainshare.report import termsheet_rules as rules
from gainshare.report.charts import PLOTLY_JS, symbol
from gainshare.report.numbers import money_column, requirement_words, share
from gainshare.schema.agreement import Agreement, Corridor, Tier
from gainshare.schema.case import Case
from gainshare.schema.common import Limit
from gainshare.schema.requirement_tables import OBJECTIVE_LABELS
from gainshare.settle.check import CheckResult
from gainshare.units import currency_words, per_100

LETTERS = "abcdefghijklmnopqrstuvwxyz"
LOWER_AFTER_YEARS = {"Gains", "Losses", "Caps:", "Collars:", "No", "Every", "There", "The"}
TERM_PARTS = {
    "corridor": "the corridor (clause 4)",
    "gain_tiers": "the sharing of gains (clause 5)",
    "loss_tiers": "the sharing of losses (clause 6)",
    "gateway": "the quality gateway (clause 7)",
    "caps": "the caps (clause 8)",
    "collars": "the collars (clause 8)",
    "commissioner_split": "the commissioners' split (clause 9)",
    "group_limits": "the group caps and collars (clause 8)",
    "loss_quality": "the quality-scaled loss shares (clause 6)",
}


# ---------------------------------------------------------------- numbers in words


@dataclass(frozen=True)
class Fmt:
    """Money and shares as a finance director reads them."""

    currency: str = "GBP"

    @property
    def sym(self) -> str:
        return symbol(self.currency)

    @property
    def words(self) -> tuple[str, str, str, str]:
        """(unit, units, small units, small unit): pound, pounds, pence, penny."""
        return currency_words(self.currency)

    def exact(self, v: float) -> str:
        """A stated amount, exactly: £2.5m, £500,000, £1,234.56."""
        sign, a = ("-" if v < 0 else ""), abs(v)
        if a >= 1e6 and round(a / 1e6, 3) * 1e6 == round(a, 2):
            return f"{sign}{self.sym}{_trim(f'{a / 1e6:,.3f}')}m"
        if round(a, 2) != round(a):
            return f"{sign}{self.sym}{a:,.2f}"
        return f"{sign}{self.sym}{a:,.0f}"

    def about(self, v: float) -> str:
        """A derived amount, rounded: £29.8m, £1.24m, £59,600."""
        sign, a = ("-" if v < 0 else ""), abs(v)
        if round(a) >= 1e6:
            return f"{sign}{self.sym}{_trim(f'{a / 1e6:,.2f}')}m"
        return f"{sign}{self.sym}{a:,.0f}"

    @staticmethod
    def prob(x: float) -> str:
        """A probability: 1 -> 100%, 0.82976 -> 83.0%, 0.00176 -> 0.2%."""
        if x >= 1 or x <= 0:
            return f"{100 * x:.0f}%"
        return f"{min(max(100 * x, 0.1), 99.9):.1f}%"

    @staticmethod
    def pct(x: float) -> str:
        """A share 0..1 as a percentage to at most two decimals: 0.45 -> 45%, 0.002 -> 0.2%,
        1/3 -> 33.33% (the preamble says when a share is held more finely than shown)."""
        return share(x)


def possessive(name: str) -> str:
    return name + ("'" if name.endswith("s") else "'s")


def _trim(s: str) -> str:
    return s.rstrip("0").rstrip(".") if "." in s else s


def _and(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


# ---------------------------------------------------------------- the baseline


@dataclass(frozen=True)
class Baseline:
    """Expected figures per year (probability-weighted over scenarios), pounds."""

    labels: list[str]
    spend: list[float]  # total expected commissioner spend
    spend_by: dict[str, list[float]]  # commissioner id -> expected spend
    payment_by: dict[str, list[float]]  # provider id -> expected payment
    spend_low: list[float]
    spend_high: list[float]

    @classmethod
    def of(cls, result: CheckResult) -> Baseline:
        e = result.settlement.econ
        w = e.weights
        total = e.total_exp_spend  # (S, Y)
        return cls(
            labels=list(e.year_labels),
            spend=[float(v) for v in w @ total],
            spend_by={
                pid: [float(v) for v in w @ e.exp_spend[:, :, j]]
                for j, pid in enumerate(e.party_ids)
                if e.is_commissioner[j]
            },
            payment_by={
                pid: [float(v) for v in w @ e.exp_pay[:, :, j]]
                for j, pid in enumerate(e.party_ids)
                if e.is_provider[j]
            },
            spend_low=[float(v) for v in total.min(axis=0)],
            spend_high=[float(v) for v in total.max(axis=0)],
        )


def year_phrase(years: list[int], labels: list[str]) -> str:
    """'2026/27', '2026/27 and 2027/28', '2026/27 to 2028/29' (years are 1-based)."""
    runs: list[list[int]] = []
    for y in sorted(years):
        if runs and y == runs[-1][-1] + 1:
            runs[-1].append(y)
        else:
            runs.append([y])
    parts = []
    for r in runs:
        a, b = labels[r[0] - 1], labels[r[-1] - 1]
        parts.append(a if len(r) == 1 else (f"{a} and {b}" if len(r) == 2 else f"{a} to {b}"))
    return _and(parts)


def _per_year(values: list[float], years: list[int], labels: list[str], show) -> str:
    """One figure when equal (to the pound) across `years`, else each year's figure."""
    picked = [values[y - 1] for y in years]
    if max(picked) - min(picked) < 0.5:
        return show(picked[0])
    return "; ".join(f"{show(values[y - 1])} in {labels[y - 1]}" for y in years)


# ---------------------------------------------------------------- clauses


@dataclass(frozen=True)
class Clause:
    title: str
    paragraphs: list[str]
    bullets: list[str] = field(default_factory=list)


class _Writer:
    """Builds the clauses of one agreement on one case."""

    def __init__(self, case: Case, agreement: Agreement, result: CheckResult):
        self.case, self.agreement, self.result = case, agreement, result
        self.fmt = Fmt(case.currency)
        self.base = Baseline.of(result)
        self.labels = self.base.labels
        self.years = list(range(1, len(self.labels) + 1))
        self.terms = {y: agreement.terms_for_year(y) for y in self.years}
        self.names = {p.id: p.name for p in case.parties}

    # -- helpers
    def groups(self, part: str) -> list[tuple[list[int], object]]:
        """Years grouped by equal value of one part of the terms, in order of first year."""
        out: dict[str, tuple[list[int], object]] = {}
        for y in self.years:
            value = getattr(self.terms[y], part)
            key = json.dumps(_dump(value), sort_keys=True)
            out.setdefault(key, ([], value))[0].append(y)
        return list(out.values())

    def by_year(self, part: str, render) -> list[str]:
        """Paragraphs for one part of the terms, prefixed by the years when it varies."""
        groups = self.groups(part)
        if len(groups) == 1:
            return render(groups[0][1], self.years)
        out = []
        for years, value in groups:
            lines = render(value, years)
            text = " ".join(lines)
            first = text.split(" ", 1)[0]
            if first in LOWER_AFTER_YEARS:
                text = first.lower() + text[len(first) :]
            out.append(f"In {year_phrase(years, self.labels)}: {text}")
        return out

    def limit(self, lim: Limit, basis: list[float], years: list[int], what: str) -> str:
        if lim.amount is not None:
            return self.fmt.exact(lim.amount)
        share = lim.share_of_expected
        values = [share * b for b in basis]
        figure = _per_year(values, years, self.labels, self.fmt.about)
        base = _per_year(basis, years, self.labels, self.fmt.about)
        return f"{figure} ({self.fmt.pct(share)} of {what} of {base})"

    def shares(self, tier: Tier) -> str:
        order = [pid for pid in self.case.party_ids if pid in tier.shares]
        return ", ".join(f"{self.names[pid]} {self.fmt.pct(tier.shares[pid])}" for pid in order)

    # -- clauses
    def scope(self) -> Clause:
        c = self.case
        comm = [p.name for p in c.parties if p.is_commissioner]
        prov = [p.name for p in c.parties if p.is_provider]
        first, last = self.labels[0], self.labels[-1]
        span = first if len(self.labels) == 1 else f"{first} to {last}"
        years = "year" if len(self.labels) == 1 else "years"
        paras = [
            f"This agreement ({self.agreement.name}) is between {_and(comm)} as "
            f"commissioner{'s' if len(comm) > 1 else ''} and {_and(prov)} as "
            f"provider{'s' if len(prov) > 1 else ''}. It runs for {len(self.labels)} "
            f"financial {years}, {span}, and covers the contracts below."
            + rules.risk_partners(self)
        ]
        rule_words = {
            "activity": "paid by activity (price x units)",
            "block": "a block contract (fixed sum)",
            "blended": "a blended payment (fixed sum plus a marginal rate)",
            "capitation": "capitation (per head of population)",
        }
        bullets = [
            f"{k.name or k.id}: {self.names[k.commissioner]} pays {self.names[k.provider]}, "
            f"{rule_words[k.rule]}."
            for k in c.contracts
        ]
        for s in c.schemes:
            bullets.append(f"Scheme {s.name or s.id}, run by {self.names[s.provider]}.")
        return Clause("Parties and scope", paras, bullets)

    def baseline(self) -> Clause:
        b, f = self.base, self.fmt
        spend = _per_year(b.spend, self.years, self.labels, f.about)
        paras = [
            f"The baseline is the commissioners' expected spend on these contracts without the "
            f"scheme: {spend} a year."
        ]
        if max(h - lo for h, lo in zip(b.spend_high, b.spend_low, strict=True)) >= 0.5:
            rng = "; ".join(
                f"{f.about(lo)} to {f.about(h)} in {lab}"
                for lo, h, lab in zip(b.spend_low, b.spend_high, self.labels, strict=True)
            )
            paras.append(f"Expected activity is uncertain, so the baseline ranges from {rng}.")
        paras += rules.baseline(self)
        if len(b.spend_by) > 1:
            parts = [
                f"{self.names[pid]} {_per_year(v, self.years, self.labels, f.about)}"
                for pid, v in b.spend_by.items()
            ]
            paras.append("By commissioner: " + "; ".join(parts) + ".")
        return Clause("Baseline expected spend", paras)

    def pool(self) -> Clause:
        direct = [s for s in self.case.schemes if s.paid_directly_by]
        text = (
            "Each year the pool is the commissioners' expected spend less their actual spend "
            "under the underlying contracts"
        )
        if direct:
            names = _and([f"{s.name or s.id} (paid by {self.names[s.paid_directly_by]})"
                          for s in direct])  # fmt: skip
            text += f", less the running costs of {names}"
        text += ". A positive pool is a gain, a negative pool a loss."
        doc = self.result.document["pool"]
        w = self.result.settlement.econ.weights
        by_year = w @ self.result.settlement.pool
        yearly = "; ".join(
            f"{self.fmt.about(v)} in {lab}" for v, lab in zip(by_year, self.labels, strict=True)
        )
        stats = (
            f"Expected pool over the agreement: {self.fmt.about(doc['expected'])} ({yearly}); "
            f"from {self.fmt.about(doc['worst'])} in the worst scenario to "
            f"{self.fmt.about(doc['best'])} in the best."
        )
        return Clause("How the pool is measured", [text, stats])

    def outside_pool(self) -> Clause | None:
        """Payments between providers and transformation funding, and how the pool treats
        them (models/portfolio.md); None when the case has neither."""
        c, f = self.case, self.fmt
        paras = []
        for k in (k for k in c.contracts if k.between_providers):
            rate = f" at {f.exact(k.price)} per {k.unit}" if k.rule == "activity" else ""
            paras.append(
                f"{self.names[k.commissioner]} pays {self.names[k.provider]} for "
                f"{k.name or k.id}{rate}. This payment between providers is outside the pool: "
                "it is the paying provider's own cost and the other's income, and the pool does "
                "not change with it."
            )
        schemes = {s.id: s.name or s.id for s in c.schemes}
        for t in c.transformation_funding:
            when = year_phrase(t.years, self.labels)
            what = f" for {schemes[t.scheme]}, only if that scheme runs" if t.scheme else ""
            how = (
                "It is paid outside the pool, from the payer's own budget: it is neither a "
                "gain nor a loss of this agreement."
                if t.pool == "outside"
                else "It is charged to the pool: it counts as the payer's spend, so the pool is "
                "reduced by it before it is shared and every party bears it in its share."
            )
            paras.append(
                f"Transformation funding (non-recurrent): {self.names[t.payer]} pays "
                f"{self.names[t.recipient]} {f.exact(t.amount)} in {when}{what}. {how}"
            )
        if not paras:
            return None
        return Clause("Payments outside the pool", paras)

    def corridor(self) -> Clause:
        return Clause("Corridor", self.by_year("corridor", self._corridor))

    def _corridor(self, c: Corridor, years: list[int]) -> list[str]:
        g, lo = c.gain_threshold, c.loss_threshold
        zero = lambda lim: lim.amount is not None and lim.amount == 0  # noqa: E731
        unit = self.fmt.words[0]
        if zero(g) and zero(lo):
            return [f"There is no corridor: every {unit} of gain or loss is shared."]
        spend = "expected spend"
        out = []
        if zero(g):
            out.append(f"Every {unit} of gain is shared.")
        else:
            gt = self.limit(g, self.base.spend, years, spend)
            rest = (
                f"the whole pool is shared from the first {unit}."
                if c.mode == "first_pound"
                else "only the part of the pool above the threshold is shared."
            )
            reach = "exceeds" if c.strict else "reaches"
            out.append(f"No gain is shared until the pool {reach} {gt}; from there {rest}")
        if zero(lo):
            out.append(f"Every {unit} of loss is shared.")
        else:
            lt = self.limit(lo, self.base.spend, years, spend)
            rest = (
                f"the whole loss is shared from the first {unit}."
                if c.mode == "first_pound"
                else "only the part of the loss beyond the threshold is shared."
            )
            reach = "falls below" if c.strict else "reaches"
            out.append(f"No loss is shared until the pool {reach} minus {lt}; from there "
                       f"{rest}")  # fmt: skip
        return out

    def tiers(self, kind: str) -> Clause:
        word = "gain" if kind == "gain_tiers" else "loss"
        title = "Sharing of gains" if word == "gain" else "Sharing of losses"
        paras = self.by_year(kind, lambda t, ys: self._tiers(t, ys, word))
        if word == "loss" and self.uses("loss_quality"):
            paras += self.by_year("loss_quality", lambda v, ys: rules.loss_quality(self, v, ys)
                                  or ["No loss share depends on quality."])  # fmt: skip
        return Clause(title, paras)

    def uses(self, part: str) -> bool:
        """Whether any year's terms use a part that is None or empty by default."""
        return any(getattr(self.terms[y], part) for y in self.years)

    def _tiers(self, tiers: list[Tier], years: list[int], word: str) -> list[str]:
        noun = "Gains" if word == "gain" else "Losses"
        if len(tiers) == 1:
            return [f"{noun} are shared: {self.shares(tiers[0])}."]
        edges = [self.limit(t.upto, self.base.spend, years, "expected spend") for t in tiers[:-1]]
        short = [e.split(" (", 1)[0] for e in edges]  # the figure alone, once it has been stated
        parts = []
        for k, t in enumerate(tiers):
            if k == 0:
                span = f"the first {edges[0]}"
            elif k == len(tiers) - 1:
                span = f"above {short[-1]}"
            else:
                span = f"from {short[k - 1]} to {edges[k]}"
            parts.append(f"({LETTERS[k]}) {span}: {self.shares(t)}")
        return [f"{noun} are shared in {len(tiers)} tiers of the shareable {word}: "
                + "; ".join(parts) + "."]  # fmt: skip

    def gateway(self) -> Clause:
        return Clause("Quality gateway", self.by_year("gateway", self._gateway))

    def _gateway(self, gateway: dict, years: list[int]) -> list[str]:
        del years
        if not gateway:
            return ["There is no quality gateway: gain shares do not depend on quality scores."]
        out = []
        for pid, gw in gateway.items():
            name = possessive(self.names[pid])
            target, floor = _trim(f"{gw.target:.2f}"), _trim(f"{gw.floor:.2f}")
            if gw.mode == "proportional":
                out.append(f"{name} share of any gain is multiplied by its quality score out "
                           "of 100 (a score of 80 keeps 80% of the share).")  # fmt: skip
            elif gw.floor == 0:
                out.append(
                    f"{name} share of any gain is paid in full at a quality score of {target} or "
                    f"more, and in proportion to the score below that (score / {target})."
                )
            else:
                out.append(
                    f"{name} share of any gain is paid in full at a quality score of {target} or "
                    f"more, not at all below {floor}, and in proportion in between."
                )
        out.append("Any share forfeited under the gateway goes to the commissioners.")
        return out

    def caps_collars(self) -> Clause:
        caps = self.by_year("caps", lambda v, ys: self._limits(v, ys, "cap"))
        collars = self.by_year("collars", lambda v, ys: self._limits(v, ys, "collar"))
        paras = caps + collars
        if self.uses("group_limits"):
            paras += self.by_year("group_limits", lambda v, ys: rules.group_limits(self, v, ys)
                                  or ["No group of providers has a cap or collar."])  # fmt: skip
        paras += rules.aggregate(self)
        if any(self.terms[y].caps or self.terms[y].collars for y in self.years):
            paras.append(
                "Any gain above a cap, and any loss beyond a collar, falls to the commissioners."
            )
        return Clause("Caps and collars", paras)

    def _limits(self, limits: dict, years: list[int], what: str) -> list[str]:
        verb = "gains" if what == "cap" else "loses"
        if not limits:
            return [f"No provider has a {what}."]
        parts = []
        for pid in self.case.provider_ids:
            if pid in limits:
                basis = self.base.payment_by[pid]
                amount = self.limit(limits[pid], basis, years, "its expected payment")
                parts.append(f"{self.names[pid]} {amount}")
            else:
                parts.append(f"{self.names[pid]} no {what}")
        title = "Caps" if what == "cap" else "Collars"
        return [f"{title}: in any year a provider {verb} at most: " + "; ".join(parts) + "."]

    def retained(self) -> Clause:
        return Clause("The commissioners' retained amount", self.by_year(
            "commissioner_split", self._split))  # fmt: skip

    def _split(self, split: dict | None, years: list[int]) -> list[str]:
        comm = self.case.commissioner_ids
        to = "providers and risk partners" if rules.risk_partners(self) else "providers"
        head = (
            f"The commissioners keep the pool less the transfers to {to} (the retained "
            "amount), including anything forfeited under the gateway or above a cap."
        )
        if len(comm) == 1:
            return [head + f" {self.names[comm[0]]} keeps all of it."]
        if split is not None:
            parts = [f"{self.names[p]} {self.fmt.pct(v)}" for p, v in split.items()]
            return [head + " They split it: " + ", ".join(parts) + "."]
        spend = self.base.spend_by
        total = [sum(v[y - 1] for v in spend.values()) for y in years]
        parts = [
            f"{self.names[p]} {self.fmt.pct(v[years[0] - 1] / total[0])}" if total[0] else p
            for p, v in spend.items()
        ]
        return [head + " They split it in proportion to their expected spend: "
                + ", ".join(parts) + "."]  # fmt: skip

    def glide(self) -> Clause:
        varying = [TERM_PARTS[p] for p in TERM_PARTS if len(self.groups(p)) > 1]
        if not varying:
            return Clause("Glide path", ["The terms are the same in every year of the agreement."])
        override_years = sorted(y for y in self.agreement.year_overrides if y in self.years)
        text = (
            f"The terms change over the agreement (a glide path): {_and(varying)} differ by "
            f"year, as stated there. Year-specific terms apply in "
            f"{year_phrase(override_years, self.labels)}; every other year follows the base "
            "terms."
        )
        return Clause("Glide path", [text])

    def settlement(self) -> Clause:
        span = year_phrase(self.years, self.labels)
        _, units, small, one = self.fmt.words
        return Clause("Settlement", [
            f"The pool is measured and settled once a year, after the end of each financial "
            f"year ({span}), on actual activity and costs under the underlying contracts.",
            f"Transfers are paid in {units} and {small}. Amounts are rounded by largest "
            "remainder, so that the transfers and the commissioners' retained amounts add up "
            f"exactly to the pool, to the {one}.",
            "If the figures of a year already settled are corrected, the year is settled again "
            "on the corrected figures, and each party pays or receives the difference from the "
            "earlier statement (a true-up).",
        ])  # fmt: skip

    def clauses(self) -> list[Clause]:
        out = [
            self.scope(),
            self.baseline(),
            self.pool(),
            *[c for c in [self.outside_pool()] if c is not None],
            self.corridor(),
            self.tiers("gain_tiers"),
            self.tiers("loss_tiers"),
            self.gateway(),
            self.caps_collars(),
            self.retained(),
            self.glide(),
            self.settlement(),
        ]
        if self.agreement.notes.strip():
            out.append(Clause("Notes", [notes_words(self.agreement.notes.strip())]))
        return out


def _dump(value):
    if hasattr(value, "model_dump"):
        return value.model_dump()
    if isinstance(value, dict):
        return {k: _dump(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_dump(v) for v in value]
    return value


# ---------------------------------------------------------------- positions


def positions(case: Case, result: CheckResult) -> list[dict]:
    """Each party's position over the whole agreement (from the check document)."""
    rows = []
    for pid, d in result.document["by_party"].items():
        req = d["requirement"]
        rows.append(
            {
                "party": pid,
                "name": case.party(pid).name,
                "role": d["role"],
                "expected_net": d["expected_net"],
                "worst_year": d["worst_net"],
                "worst_total": d["worst_total_net"],
                "prob_whole": d["prob_whole"],
                "stranded": d["stranded_fixed_cost_expected"],
                "unfunded": d["unfunded_activity_expected"],
                "requirement": req["mode"],
                "met": req["met"],
            }
        )
    return rows


ROLE_WORDS = {"commissioner": "Commissioner", "provider": "Provider",
              "both": "Commissioner and provider"}  # fmt: skip


def _requirement_words(case: Case, pid: str, met: bool) -> str:
    kw = case.keep_whole_for(pid)
    if kw.mode == "none":
        return "none"
    words = requirement_words(kw.mode, kw.beta, kw.tolerance, case.currency)
    return f"{words[0].upper()}{words[1:]}: {'met' if met else 'NOT MET'}"


def _fine_shares(agreement: Agreement) -> bool:
    """Whether any share is held more finely than the two decimals the sheet shows."""
    terms = [agreement.terms, *agreement.year_overrides.values()]
    for t in terms:
        for tiers in (t.gain_tiers, t.loss_tiers):
            for tier in tiers or []:
                if any(abs(round(100 * v, 2) - 100 * v) > 1e-9 for v in tier.shares.values()):
                    return True
    return False


def notes_words(notes: str) -> str:
    """An agreement's notes with an objective named by its id said in words."""
    for name, words in OBJECTIVE_LABELS.items():
        notes = notes.replace(f"(objective: {name})", f"(aim: {words.lower()})")
    return notes


def position_notes(case: Case, result: CheckResult, fmt: Fmt) -> list[str]:
    doc = result.document
    ss = doc["system_savings"]
    out = [
        f"Expected system savings over the agreement (real resources released, however the "
        f"pool is split): {fmt.about(ss['expected'])}, from {fmt.about(ss['worst'])} in the "
        f"worst scenario to {fmt.about(ss['best'])} in the best."
    ]
    if doc["all_kept_whole"]:
        out.append("Every party's keep-whole requirement is met.")
        return out
    short = [r for r in positions(case, result) if not r["met"]]
    for r in short:
        kw = case.keep_whole_for(r["party"])
        words = requirement_words(kw.mode, kw.beta, kw.tolerance, case.currency)
        out.append(
            f"{r['name']} is NOT kept whole as required ({words}): it is kept whole "
            f"in {Fmt.prob(r['prob_whole'])} of scenarios (by probability) and its worst year is "
            f"{fmt.about(r['worst_year'])}."
        )
    out.append(
        f"In all, {doc['violations_total']:,} party-years fall short of being kept whole. "
        "This term sheet is written all the same so that the room can see where it fails."
    )
    return out


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def _signed_per_100(v: float, currency: str) -> str:
    text = per_100(abs(v), currency)
    return text if abs(v) < 0.005 else ("-" if v < 0 else "+") + text


def incentive_lines(case: Case, result: CheckResult, fmt: Fmt) -> list[str]:
    """Markdown lines of the "Incentive to grow the scheme" section (SPEC section 4.11), or
    none when the check was run without the incentive analysis or the case has nothing to
    grow."""
    inc = result.document.get("incentives")
    if not inc or not inc["steps"]:
        return []
    hundred = per_100(100, case.currency)
    out = [
        "## Incentive to grow the scheme",
        "",
        f"How each party's expected net over the agreement moves when the scheme does better "
        f"for the system, per {hundred} of extra expected system savings (the same scenarios, "
        "with one thing changed):",
        "",
    ]
    for step in inc["steps"]:
        head = f"- {_capital(step['label'])}"
        if not step["system_gains"]:
            out.append(f"{head}: would not add to expected system savings "
                       f"({fmt.about(step['delta_system_savings'])}).")  # fmt: skip
            continue
        parts = [f"{case.party(pid).name} {_signed_per_100(100 * d['gradient'], case.currency)}"
                 for pid, d in step["by_party"].items()]  # fmt: skip
        out.append(f"{head} (+{fmt.about(step['delta_system_savings'])} of system savings): "
                   + ", ".join(parts) + ".")  # fmt: skip
    out.append("")
    if inc["aligned"]:
        out.append("The agreement is incentive-aligned: no provider loses on any of these steps.")
    else:
        out.append("**The agreement is not incentive-aligned:** " + "; ".join(
            f["text"] for f in inc["flags"]) + ".")  # fmt: skip
    return out + [""]


# ---------------------------------------------------------------- the document


@dataclass(frozen=True)
class ChartLink:
    title: str
    html: str  # file name of the interactive chart
    png: str | None = None  # file name of the static image, when one was written
    fragment: str = ""  # HTML fragment for embedding


@dataclass(frozen=True)
class TermSheet:
    case: Case
    agreement: Agreement
    result: CheckResult
    clauses: list[Clause]

    @property
    def fmt(self) -> Fmt:
        return Fmt(self.case.currency)

    def preamble(self) -> list[str]:
        d, u = self.result.document, self.case.uncertainty
        named = [n.name for n in u.named]
        how = f"{u.scenarios:,} Monte Carlo scenarios (seed {u.seed})"
        if named:
            how = f"{len(named)} named scenarios ({', '.join(named)}) and " + how
        return [
            f"**Case:** {self.case.name}. **Agreement:** {self.agreement.name}. "
            f"**Currency:** {self.case.currency} ({self.fmt.sym.strip()}).",
            f"Figures are a year at a time unless stated. Expected values are weighted by "
            f"probability over {d['scenarios']:,} scenarios: {how}. Shares are percentages of "
            "the amount being shared"
            + (
                ", shown to two decimal places; the agreement file states each exactly."
                if _fine_shares(self.agreement)
                else "."
            ),
            "In the table of positions every amount is a change caused by the schemes and the "
            "agreement, seen from the party it belongs to: positive means better off, negative "
            "worse off; each column is in one unit.",
        ]

    def position_table(self) -> list[str]:
        cur = self.case.currency
        head = ("Party", "Role", "Expected net (whole agreement)", "Worst year",
                "Worst whole agreement", "Probability kept whole", "Stranded fixed cost",
                "Unfunded activity", "Keep-whole requirement")  # fmt: skip
        rows = positions(self.case, self.result)
        money_cols = {
            k: money_column([r[k] for r in rows], cur)
            for k in ("expected_net", "worst_year", "worst_total", "stranded", "unfunded")
        }
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * 2 + "---:|" * 6 + "---|"]
        for i, r in enumerate(rows):
            cells = [
                r["name"], ROLE_WORDS.get(r["role"], r["role"]), money_cols["expected_net"][i],
                money_cols["worst_year"][i], money_cols["worst_total"][i],
                Fmt.prob(r["prob_whole"]), money_cols["stranded"][i], money_cols["unfunded"][i],
                _requirement_words(self.case, r["party"], r["met"]),
            ]  # fmt: skip
            lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
        return lines

    def markdown(self, charts: list[ChartLink] = (), png_note: str | None = None) -> str:
        out = ["# Term sheet", "", f"## {self.agreement.name}", ""]
        for p in self.preamble():
            out += [p, ""]
        out += ["### Schedule of terms", ""]
        for n, c in enumerate(self.clauses, start=1):
            pad = " " * len(f"{n}. ")
            out.append(f"{n}. **{c.title}.** {c.paragraphs[0]}")
            for p in c.paragraphs[1:]:
                out += ["", f"{pad}{p}"]
            if c.bullets:
                out.append("")
                out += [f"{pad}- {b}" for b in c.bullets]
            out.append("")
        out += ["### Each party's position", ""]
        out += self.position_table() + [""]
        out += [
            "Expected net is the probability-weighted total over the agreement; worst year is the "
            "lowest net in any single year and scenario; stranded fixed cost and unfunded "
            "activity are expected totals before any transfer.",
            "",
        ]
        for p in position_notes(self.case, self.result, self.fmt):
            out += [p, ""]
        out += incentive_lines(self.case, self.result, self.fmt)
        if charts:
            out += ["### Charts", ""]
            for ch in charts:
                out.append(f"- [{ch.title} (interactive)]({ch.html})")
            out.append("")
            for ch in charts:
                if ch.png:
                    out += [f"![{ch.title}]({ch.png})", ""]
            if png_note:
                out += [png_note, ""]
        return "\n".join(out).rstrip() + "\n"

    def html(self, charts: list[ChartLink] = (), png_note: str | None = None) -> str:
        md = self.markdown([], None)
        body = MarkdownIt("commonmark").enable("table").render(md)
        parts = [body]
        if charts:
            parts.append("<h2>Charts</h2>")
            for ch in charts:
                parts.append(f'<section class="chart"><h3>{html.escape(ch.title)}</h3>'
                             f"{ch.fragment}</section>")  # fmt: skip
            if png_note:
                parts.append(f"<p>{html.escape(png_note)}</p>")
        title = html.escape(f"Term sheet — {self.agreement.name}")
        return HTML_PAGE.format(title=title, js=PLOTLY_JS, body="\n".join(parts))


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|")


HTML_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title}</title>
<script src="{js}"></script>
<style>
body {{ font-family: Arial, Helvetica, sans-serif; max-width: 70rem; margin: 2rem auto;
       padding: 0 1rem; color: #1a1a1a; line-height: 1.45; }}
h1 {{ color: #1f4e79; }} h2 {{ color: #1f4e79; border-bottom: 1px solid #ccc; }}
ol > li {{ margin-bottom: 0.8rem; }}
table {{ border-collapse: collapse; margin: 1rem 0; font-size: 0.92rem; }}
th, td {{ border: 1px solid #bbb; padding: 0.3rem 0.5rem; }}
th {{ background: #ddebf7; }} td {{ text-align: right; }}
td:first-child, td:nth-child(2), td:last-child {{ text-align: left; }}
section.chart {{ margin: 1.5rem 0; }}
</style>
</head>
<body>
{body}
</body>
</html>
"""


def term_sheet(case: Case, agreement: Agreement, result: CheckResult) -> TermSheet:
    """The term sheet of `agreement` on `case`, settled as in `result`."""
    return TermSheet(case, agreement, result, _Writer(case, agreement, result).clauses())
