"""Fair splits and bargaining points as agreements a room can sign (SPEC sections 4.6, 4.13).

A fair split of the coalition savings game (Shapley, nucleolus, proportional, equal surplus)
says what each party's *position* should be: its fair payoff of expected system savings over
the horizon, split by year in proportion to the system's expected savings by year. It is not a
set of pool shares. Each split becomes the agreement whose expected net positions by year are
nearest to it (L1) under every requirement of the case; the bargaining points (Nash,
Kalai-Smorodinsky, egalitarian, each also with risk-aware positions) are found over the same
agreements. `gainshare.optimise.bargain` writes and solves the linear programmes
(models/bargaining.md); this module turns their answers into figures and sentences a finance
director reads: organisations and years by name, never ids or scenario codes."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from gainshare.analysis.fairness import REL_TOL
from gainshare.economics.scenarios import ScenarioSet
from gainshare.optimise import bargain as bg
from gainshare.schema.case import Case
from gainshare.schema.io import agreement_to_dict
from gainshare.units import money, pct

SPLITS = ("shapley", "nucleolus", "proportional", "equal_surplus")
SPLIT_WORDS = {  # label, what its share is called, what it means for the room
    "shapley": ("Shapley", "Shapley share", "each party's contribution to the savings, averaged "
                "over every order in which the parties could have joined"),
    "nucleolus": ("Nucleolus", "nucleolus share", "the split that leaves the worst-treated group "
                  "of parties as well off as it can be, then the next worst"),
    "proportional": ("Proportional", "proportional share", "the savings in proportion to what "
                     "each party brings (on its own, or at the margin)"),
    "equal_surplus": ("Equal surplus", "equal-surplus share", "what each party saves on its own "
                      "plus an equal part of the rest"),
}  # fmt: skip
RULE_WORDS = {
    "nash": ("Nash bargaining", "the split that maximises the product of every party's gain; "
             "no party can gain without another losing more in proportion"),
    "kalai_smorodinsky": ("Kalai-Smorodinsky", "every party gets the same fraction of the most "
                          "it could get (its ideal) while no party is worse off than without "
                          "the scheme"),
    "egalitarian": ("Egalitarian", "the split that makes the smallest gain as large as it can "
                    "be, then the next smallest"),
}  # fmt: skip
MATERIAL = 1e-3  # differences below this fraction of the savings shared are not worth a word


def _risk_words(beta: float) -> str:
    return (f"each party's position is its expected net over its worst {pct(1 - beta)} of "
            f"scenarios (CVaR at {pct(beta)}) instead of its mean")  # fmt: skip


@dataclass(frozen=True)
class Point:
    """One fair split or bargaining point: its agreement (None when there is none, `why`)."""

    name: str  # shapley | nucleolus | ... | nash | kalai_smorodinsky_cvar | ...
    kind: str  # fair | bargaining
    label: str
    meaning: str  # what the point means for the room, one sentence
    answer: bg.Answer | None
    sentences: tuple[str, ...] = ()
    why: str = ""

    def document(self, case: Case) -> dict | None:
        if self.answer is None:
            return None
        a, ids = self.answer, case.party_ids
        by_year = a.expected_net_by_year
        doc = {
            "label": self.label,
            "meaning": self.meaning,
            "expected_net": {p: round(float(by_year[:, j].sum()), 2) for j, p in enumerate(ids)},
            "expected_net_by_year": {
                p: [round(float(v), 2) for v in by_year[:, j]] for j, p in enumerate(ids)
            },  # fmt: skip
            "sentences": list(self.sentences),
            "agreement": agreement_to_dict(a.agreement),
        }
        return doc | _figures(a.values, ids)


def _figures(values: dict, ids: list[str]) -> dict:
    """The point's own figures as plain JSON (pounds to the penny)."""
    out: dict = {}
    if "target" in values:
        out["target_by_year"] = {p: [round(float(v), 2) for v in values["target"][:, j]]
                                 for j, p in enumerate(ids)}  # fmt: skip
        out["difference_by_year"] = {p: [round(float(v), 2) for v in values["deviation"][:, j]]
                                     for j, p in enumerate(ids)}  # fmt: skip
        out["distance"] = round(values["distance"], 2)
        out["distance_without_requirements"] = round(values["free_distance"], 2)
        if "glide_distance" in values:
            out["distance_with_glide_path"] = values["glide_distance"]
    if "positions" in values:
        out["gains"] = {p: round(float(v), 2) for p, v in zip(ids, values["positions"],
                                                               strict=True)}  # fmt: skip
        out["ideal_gains"] = {p: round(float(v), 2) for p, v in zip(ids, values["ideal"],
                                                                     strict=True)}  # fmt: skip
    if "gap" in values:
        out["nash_accuracy"] = {"proven_log_gap": values["gap"], "cut_rounds": values["rounds"],
                                "grid_log_gap": values["a_priori"]}  # fmt: skip
    if "level" in values and values.get("ratio"):
        out["least_share_of_ideal"] = round(values["level"], 6)
    elif "level" in values:
        out["least_gain"] = round(values["level"], 2)
    return out


@dataclass(frozen=True)
class FairAgreements:
    """Every fair split's and bargaining point's agreement, the space they were found in."""

    case: Case
    method: str
    points: list[Point]
    notes: list[str] = field(default_factory=list)
    beta: float = bg.BETA

    @property
    def document(self) -> dict:
        fair = {p.name: p.document(self.case) for p in self.points if p.kind == "fair"}
        barg = {p.name: p.document(self.case) for p in self.points if p.kind == "bargaining"}
        return {"method": self.method, "risk_beta": self.beta, "fair": fair, "bargaining": barg,
                "notes": self.notes}  # fmt: skip


# ------------------------------------------------------------------ the space in words


def space_words(space: bg.ShareSpace) -> str:
    """How the agreements were found, for the method column and the notes."""
    req = space.case.requirements
    kg, kl = len(space.structure.gain_edges) + 1, len(space.structure.loss_edges) + 1
    if req.gain_edges is None and req.loss_edges is None:
        tiers = "one gain tier and one loss tier (the case leaves tiers open)"
    else:
        tiers = (f"the case's {_count(kg, 'gain tier')} and {_count(kl, 'loss tier')} "
                 "(one of each where it leaves tiers open)")  # fmt: skip
    corridor = "the case's corridor" if req.corridor is not None else (
        "no corridor (the case leaves it open)")  # fmt: skip
    gateway = "the case's quality gateway, " if req.gateway else ""
    gateway += "the case's quality-scaled loss shares, " if req.loss_quality else ""
    rounding = "" if req.rounding == "none" else f", not rounded to the case's {req.rounding} steps"
    years = "terms by year (the case's glide path)" if req.glide_path else (
        "the same terms every year")  # fmt: skip
    return (f"Agreements with shares of {tiers}, {corridor}, {gateway}no caps or collars (with "
            f"them positions are not linear in the shares), shares of any value{rounding}, "
            f"{years}; each found by a linear programme solved by HiGHS, then settled by check: "
            "its expected nets equal the programme's to the penny and it meets every "
            "requirement of the case.")  # fmt: skip


def _count(n: int, what: str) -> str:
    return f"{n} {what}s" if n != 1 else f"1 {what}"


# ------------------------------------------------------------------ fair splits


def fair_targets(space: bg.ShareSpace, payoff: dict[str, float]) -> np.ndarray:
    """(Y, P) each party's fair payoff split by year in proportion to the system's expected
    savings by year (equally when they do not add up to a saving)."""
    v = space.system_savings_by_year
    years = v / v.sum() if v.sum() > 0 else np.full(len(v), 1.0 / len(v))
    return np.outer(years, [payoff[p] for p in space.case.party_ids])


def _fair_point(space: bg.ShareSpace, name: str, payoff: dict, threshold: float,
                glide: bg.ShareSpace | None) -> Point:  # fmt: skip
    label, share, meaning = SPLIT_WORDS[name]
    target = fair_targets(space, payoff)
    try:
        ans = bg.fair_agreement(space, target, f"{label} agreement")
    except bg.NoAgreement as e:
        return Point(name, "fair", label, meaning, None, why=f"{label}: {e}")
    if glide is not None:
        ans = _with_glide(ans, glide, target)
    words = fair_sentences(space, ans, label, share, threshold)
    return Point(name, "fair", label, meaning, ans, tuple(words))


def _with_glide(ans: bg.Answer, glide: bg.ShareSpace, target: np.ndarray) -> bg.Answer:
    """The distance the same split would keep with terms by year (a glide path)."""
    try:
        g = bg.fair_agreement(glide, target, "glide path").values["distance"]
    except bg.NoAgreement:
        return ans
    return bg.Answer(ans.agreement, ans.check, ans.shares, ans.expected_net_by_year,
                     ans.binding, ans.values | {"glide_distance": round(g, 2)})  # fmt: skip


def fair_sentences(space: bg.ShareSpace, ans: bg.Answer, label: str, share: str,
                   threshold: float) -> list[str]:  # fmt: skip
    """How far the agreement stays from the fair payoff and why, in words."""
    v, cur = ans.values, space.case.currency
    if v["distance"] <= threshold:
        return [f"The agreement gives every party its {label} payoff in every year (within "
                f"{money(threshold, cur)} in all)."]  # fmt: skip
    out = _party_sentences(space, ans, share, threshold)
    out.append(f"In all the agreement's expected positions are {money(v['distance'], cur)} from "
               f"the {label} payoff, summed over parties and years.")  # fmt: skip
    out.extend(_space_sentences(space, v, threshold))
    if "commissioners_floor" in ans.binding.get((-1, -1), ()):
        out.append("The commissioners' minimum expected retained savings binds as well.")
    if "commissioners_worst" in ans.binding.get((-1, -1), ()):
        out.append("The commissioners' floor on their worst year binds as well.")
    return out


def _space_sentences(space: bg.ShareSpace, v: dict, threshold: float) -> list[str]:
    free, cur = v["free_distance"], space.case.currency
    if not free > threshold:
        return []
    if space.case.requirements.glide_path:
        return [f"The case's share bounds alone keep the nearest agreement {money(free, cur)} "
                "away, with no one to keep whole."]  # fmt: skip
    text = ("With the same terms every year the positions cannot follow the payoff year by "
            f"year: even with no one to keep whole the nearest agreement is {money(free, cur)} "
            "away")  # fmt: skip
    g = v.get("glide_distance")
    if g is not None:
        text += f"; terms that change by year (a glide path) would come within {money(g, cur)}"
    return [text + "."]


def _party_sentences(space: bg.ShareSpace, ans: bg.Answer, share: str,
                     threshold: float) -> list[str]:  # fmt: skip
    """A sentence for each party whose position differs materially from its fair payoff: why
    (its keep-whole requirement binds in the years named) and by how much in each year."""
    case, cur = space.case, space.case.currency
    dev = ans.values["deviation"]
    held, rest = [], []
    for i, pid in enumerate(case.party_ids):
        parts = [(y, d) for y, d in enumerate(dev[:, i]) if abs(d) > threshold]
        years = sorted(y for (y, j), why in ans.binding.items() if j == i and _whole(why))
        if not parts and not years:
            continue
        if years:
            held.append(_held_sentence(space, ans, i, parts, years, share, cur))
        elif parts:
            rest.append(f"{case.party(pid).name} gets {_amounts(parts, cur)} than its {share}.")
    return held + rest


def _whole(why: tuple) -> bool:
    return any(w in ("keep_whole", "cvar_excess", "cvar_limit", "margin_floor") for w in why)


def _held_sentence(space: bg.ShareSpace, ans: bg.Answer, i: int, parts, years, share: str,
                   cur: str) -> str:  # fmt: skip
    """Why a party whose keep-whole rows bind is where it is, and what that does to it."""
    case = space.case
    name = case.party(case.party_ids[i]).name
    kw = case.keep_whole_for(case.party_ids[i])
    if kw.mode == "robust":
        how, lead = " in every scenario", f"Keeping {name} whole in every scenario of "
        lead += _years(years)
    else:
        how = (f", its expected shortfall over its worst {pct(1 - kw.beta)} of scenarios within "
               "its tolerance")  # fmt: skip
        lead = f"Keeping {name} whole in {_years(years)}{how},"
    if parts and all(d > 0 and y in years for y, d in parts):
        return f"{name} needs {_amounts(parts, cur)} than its {share} to be kept whole{how}."
    if not parts:
        return f"{lead} holds it where it is."
    terms = _gain_shares(space, ans, i)
    return (f"{lead} takes {terms}: that gives it {_amounts(parts, cur)} than its {share}"
            f"{'' if case.requirements.glide_path else ', as the same terms apply every year'}"
            ".")  # fmt: skip


def _gain_shares(space: bg.ShareSpace, ans: bg.Answer, i: int) -> str:
    """'a gain share of 54.2%' or 'gain shares of 51.4%, 73.8% and 58.2% of its tiers'."""
    if space.case.requirements.glide_path:
        return "the shares that do it"
    vals = [f"{100 * float(ans.shares[j]):.1f}%" for j, c in enumerate(space.columns)
            if c.party == i and c.side == "gain"]  # fmt: skip
    if len(vals) == 1:
        return f"a gain share of {vals[0]}"
    return f"gain shares of {_join(vals)} of the {len(vals)} tiers"


def _amounts(parts: list[tuple[int, float]], cur: str) -> str:
    """'£0.35m more in year 1 and £0.10m less in year 3'."""
    words = [f"{money(abs(d), cur)} {'more' if d > 0 else 'less'} in year {y + 1}"
             for y, d in parts]  # fmt: skip
    return _join(words)


def _years(years: list[int]) -> str:
    ys = [str(y + 1) for y in years]
    return ("year " if len(ys) == 1 else "years ") + _join(ys)


def _join(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


# ------------------------------------------------------------------ bargaining points


def _bargaining_points(space: bg.ShareSpace, risk: bool, beta: float,
                       rules: tuple[str, ...]) -> tuple[list[Point], list[str]]:  # fmt: skip
    suffix = "_cvar" if risk else ""
    tail = f" (worst {pct(1 - beta)})" if risk else ""
    try:
        problem = bg.bargaining_problem(space, risk, beta)
    except bg.NoAgreement as e:
        return [], [f"bargaining points{tail}: {e}"]
    points, notes = [], []
    for rule in rules:
        label, meaning = RULE_WORDS[rule]
        label += tail
        if risk:
            meaning += f", where {_risk_words(beta)}"
        try:
            ans = bg.BARGAINERS[rule](problem, name=label)
        except bg.NoAgreement as e:
            notes.append(f"{label}: {e}")
            continue
        words = bargaining_sentences(space, ans, rule, risk, beta)
        points.append(Point(rule + suffix, "bargaining", label, meaning, ans, tuple(words)))
    return points, notes


def bargaining_sentences(space: bg.ShareSpace, ans: bg.Answer, rule: str, risk: bool,
                         beta: float) -> list[str]:  # fmt: skip
    case, cur = space.case, space.case.currency
    v = ans.values
    pos = ", ".join(f"{case.party(p).name} {money(g, cur)}"
                    for p, g in zip(case.party_ids, v["positions"], strict=True))  # fmt: skip
    what = f"expected over the worst {pct(1 - beta)} of scenarios" if risk else "expected"
    out = [f"Gains over the {_count(space.shape[1], 'year')} ({what}): {pos}."]
    if rule == "kalai_smorodinsky":
        out.append(f"Every party gets at least {pct(round(v['level'], 4))} of its ideal gain.")
    elif rule == "egalitarian":
        out.append(f"No party gains less than {money(v['level'], cur)}.")
    else:
        out.append(f"The product of the gains is proven within {_percent_gap(v['gap'])} of the "
                   "largest any agreement of the space reaches.")  # fmt: skip
    for i, pid in enumerate(case.party_ids):
        years = sorted(y for (y, j), why in ans.binding.items() if j == i and _whole(why))
        if years:
            out.append(f"{case.party(pid).name} is held at what keeps it whole in "
                       f"{_years(years)}.")  # fmt: skip
    return out


def _percent_gap(gap: float) -> str:
    """A proven log gap as words: 'one part in a million' or a percentage."""
    rel = float(np.expm1(gap))
    return "one part in a million" if rel <= 1e-6 else f"{100 * rel:.2g}%"


# ------------------------------------------------------------------ entry point


def fair_agreements(
    case: Case,
    scenarios: ScenarioSet,
    doc: dict,
    *,
    risk: bool = True,
    beta: float = bg.BETA,
    splits: tuple[str, ...] = SPLITS,
    rules: tuple[str, ...] = bg.BARGAINING_RULES,
    compare_glide: bool = True,
) -> FairAgreements:
    """The agreement of every fair split in `doc` (the `fair_references` document) and of
    every bargaining point (mean positions, and risk-aware ones when `risk`)."""
    try:
        space = bg.share_space(case, scenarios)
        method = space_words(space)
        why = bg.infeasible(space)
    except bg.NoAgreement as e:
        why = str(e)
    if why is not None:
        return FairAgreements(case, "", [], [f"agreements: {why}"], beta)
    notes: list[str] = []
    glide = None
    if compare_glide and not case.requirements.glide_path:
        glide = _glide_space(case, space, scenarios)
    points = _fair_points(case, space, doc, splits, notes, glide)
    for r in (False, True) if risk else (False,):
        found, said = _bargaining_points(space, r, beta, rules)
        points += found
        notes += said
    return FairAgreements(case, method, points, notes, beta)


def _fair_points(case: Case, space: bg.ShareSpace, doc: dict, splits, notes: list[str],
                 glide: bg.ShareSpace | None) -> list[Point]:  # fmt: skip
    grand = doc["grand_coalition_value"]
    if grand <= 0 or not splits:
        return []
    threshold = max(1.0, MATERIAL * abs(grand))
    _note_unreachable(space, grand, threshold, notes)
    points: list[Point] = []
    for name in splits:
        if doc.get(name) is None:
            continue
        same = next((p for p in points if _same_payoff(doc, p.name, name)), None)
        if same is not None:
            points.append(_same_as(space, same, name, threshold))
            continue
        p = _fair_point(space, name, doc[name], threshold, glide)
        if p.answer is None:
            notes.append(p.why)
        points.append(p)
    return points


def _glide_space(case: Case, space: bg.ShareSpace, scenarios) -> bg.ShareSpace | None:
    """The same space with terms by year (a glide path), on the same economics."""
    req = case.requirements.model_copy(update={"glide_path": True})
    other = case.model_copy(update={"requirements": req})
    try:
        return bg.share_space(other, scenarios, econ=space.econ)
    except bg.NoAgreement:
        return None


def _same_payoff(doc: dict, a: str, b: str) -> bool:
    pa, pb = doc.get(a), doc.get(b)
    if pa is None or pb is None:
        return False
    scale = max(1.0, abs(doc["grand_coalition_value"]))
    return all(abs(pa[p] - pb[p]) <= max(0.01, REL_TOL * scale) for p in pa)


def _same_as(space: bg.ShareSpace, first: Point, name: str, threshold: float) -> Point:
    """A split with the same payoff as one solved before: the same agreement, renamed."""
    label, share, meaning = SPLIT_WORDS[name]
    if first.answer is None:
        return Point(
            name, "fair", label, meaning, None, why=f"{label}: {first.why[len(first.label) + 2 :]}"
        )
    a = first.answer
    agreement = a.agreement.model_copy(update={"name": f"{label} agreement"})
    ans = bg.Answer(agreement, a.check, a.shares, a.expected_net_by_year, a.binding, a.values)
    words = [f"The same payoff as the {first.label} split, so the same agreement."]
    words += fair_sentences(space, ans, label, share, threshold)
    return Point(name, "fair", label, meaning, ans, tuple(words))


def _note_unreachable(space: bg.ShareSpace, grand: float, threshold: float,
                      notes: list[str]) -> None:  # fmt: skip
    total = float(space.system_savings_by_year.sum())
    cur = space.case.currency
    if abs(total - grand) > threshold:
        notes.append(
            f"the fair payoffs add up to {money(grand, cur)} (the best the schemes can save), "
            f"the parties' expected positions to {money(total, cur)} (what the case's schemes "
            "save, with demand changes they do not cause): no agreement closes the difference, "
            "so every fair agreement keeps at least that distance"
        )
