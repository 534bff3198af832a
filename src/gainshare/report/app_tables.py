"""What the workshop app shows, as tables and sentences: each organisation's position, who
gets what, the verdict on an agreement, candidates side by side, where an agreement falls
short, what moved in a repair, and why nothing works. Organisations, years and scenario kinds
are named as the room knows them, never by id or code; money follows `report.numbers` (one
unit per table column, one sign convention).

No Streamlit here: the app only places these on the page, and the tests read them directly."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from gainshare.report.numbers import money, money_column, pct, requirement_words, share
from gainshare.report.positions import expected_lines, headline
from gainshare.report.scenario_words import describe, one_scenario
from gainshare.schema.agreement import Agreement
from gainshare.schema.case import Case
from gainshare.schema.proposal_table import tier_headers
from gainshare.schema.requirement_tables import OBJECTIVE_LABELS
from gainshare.settle.check import PENNY, CheckResult, shortfall_by_scenario

NONE = "—"  # an empty cell: no cap, no collar, no requirement


# ---------------------------------------------------------------- positions


def positions_frame(case: Case, result: CheckResult) -> pd.DataFrame:
    """Each organisation's position, one row each (for display): money one unit a column."""
    doc = result.document["by_party"]
    lines = expected_lines(result)
    ids = list(doc)
    rows = {
        "Organisation": [case.party(pid).name for pid in ids],
        "Expected net": money_column([lines[pid]["net"] for pid in ids], case.currency),
        "Worst year": money_column([doc[pid]["worst_net"] for pid in ids], case.currency),
        "Kept whole in": [pct(doc[pid]["prob_whole"]) for pid in ids],
        "Requirement": [],
        "Met": [],
    }
    for pid in ids:
        kw = case.keep_whole_for(pid)
        rows["Requirement"].append(requirement_words(kw.mode, kw.beta, kw.tolerance,
                                                     case.currency))  # fmt: skip
        rows["Met"].append(NONE if kw.mode == "none" else
                           ("Yes" if doc[pid]["requirement"]["met"] else "No"))  # fmt: skip
    return pd.DataFrame(rows)


def shares_frame(case: Case, agreement: Agreement) -> pd.DataFrame:
    """Who gets what under the base terms: each organisation's share of every gain and loss
    tier, its cap and its collar (a year)."""
    t, cur = agreement.terms, case.currency
    cols: dict[str, list[str]] = {"Organisation": [p.name for p in case.parties]}
    for tiers, word in ((t.gain_tiers, "Gains"), (t.loss_tiers, "Losses")):
        for head, tier in zip(tier_headers(tiers, word, cur), tiers, strict=True):
            cols[head] = [f"{100 * tier.shares.get(pid, 0.0):.1f}%" for pid in case.party_ids]
    cols["Cap (a year)"] = [_limit_text(t.caps.get(pid), cur) for pid in case.party_ids]
    cols["Collar (a year)"] = [_limit_text(t.collars.get(pid), cur) for pid in case.party_ids]
    return pd.DataFrame(cols)


def _limit_text(lim, currency: str) -> str:
    if lim is None:
        return NONE
    if lim.amount is not None:
        return money(lim.amount, currency)
    return f"{share(lim.share_of_expected)} of expected payment"


def position_sentences(case: Case, result: CheckResult) -> dict[str, str]:
    """Organisation id -> one sentence on its expected position over the agreement, from the
    same lines as the charts and the workbook."""
    cur = case.currency
    doc = result.document["by_party"]
    out = {}
    for pid, ln in expected_lines(result).items():
        parts = []
        if abs(ln["income"]) >= 0.5:
            parts.append(f"{'gains' if ln['income'] > 0 else 'loses'} "
                         f"{money(abs(ln['income']), cur)} of income")  # fmt: skip
        if abs(ln["cost_saved"]) >= 0.5:
            c = ln["cost_saved"]
            parts.append(f"saves {money(c, cur)} of costs" if c > 0 else
                         f"spends {money(-c, cur)} more")  # fmt: skip
        if abs(ln["benefit"]) >= 0.5:
            parts.append(f"books {money(ln['benefit'], cur)} of benefits")
        if abs(ln["transfer"]) >= 0.5:
            t = ln["transfer"]
            parts.append(f"{'receives' if t > 0 else 'pays'} {money(abs(t), cur)} through "
                         "the agreement")  # fmt: skip
        if abs(ln["retained"]) >= 0.5:
            parts.append(f"keeps {money(ln['retained'], cur)} of the pool")
        net, d = ln["net"], doc[pid]
        body = ", ".join(parts) if parts else "is not affected"
        out[pid] = (f"{body}: {'better' if net >= 0 else 'worse'} off by {money(abs(net), cur)} "
                    f"expected; worst year {money(d['worst_net'], cur)}; kept whole in "
                    f"{pct(d['prob_whole'])} of scenarios.")  # fmt: skip
    return out


@dataclass(frozen=True)
class Verdict:
    ok: bool
    text: str
    notes: tuple[str, ...] = ()


def verdict(case: Case, result: CheckResult, failures: list[dict] | None = None) -> Verdict:
    """Whether an agreement meets every requirement, in one sentence, with a note for each
    organisation whose requirement allows it to fall short (so that "met" and "kept whole in
    11%" never read as a contradiction)."""
    doc = result.document["by_party"]
    short = [case.party(pid).name for pid, d in doc.items()
             if d["requirement"]["mode"] != "none" and not d["requirement"]["met"]]  # fmt: skip
    others = [f for f in (failures or []) if not str(f.get("requirement", "")).startswith(
        "keep_whole")]  # fmt: skip
    notes = []
    for pid, d in doc.items():
        kw = case.keep_whole_for(pid)
        if kw.mode in ("chance", "cvar") and d["requirement"]["met"] and d["prob_whole"] < 1:
            notes.append(
                f"{case.party(pid).name}'s requirement allows shortfalls: it is kept "
                f"whole in {pct(d['prob_whole'])} of scenarios, and "
                f"{requirement_words(kw.mode, kw.beta, kw.tolerance, case.currency)}."
            )
    if not short and not others:
        return Verdict(True, "This agreement meets every requirement.", tuple(notes))
    parts = []
    if short:
        parts.append("not kept whole as required: " + ", ".join(short))
    parts += [_failure_words(case, f) for f in others]
    return Verdict(False, "This agreement fails: " + "; ".join(parts) + ".", tuple(notes))


def _failure_words(case: Case, f: dict) -> str:
    """A failed requirement other than keep-whole, in words (the commissioners' floors are
    said by the settlement code in the room's terms already)."""
    req = str(f.get("requirement", ""))
    if req.startswith(("gain_share", "loss_share")):
        side = "gain" if req.startswith("gain") else "loss"
        return f"{case.party(f['party']).name}'s {side} share is outside the bounds the room set"
    return str(f.get("text", req))


# ---------------------------------------------------------------- where it falls short


def shortfalls_frame(case: Case, result: CheckResult, rows: int = 12) -> pd.DataFrame:
    """The largest shortfalls below the keep-whole line, each scenario described by what
    happens in it (never its code)."""
    v = result.document["violations"][:rows]
    names = list(result.settlement.econ.scenario_names)
    index = {n: i for i, n in enumerate(names)}
    out = pd.DataFrame({
        "Organisation": [case.party(x["party"]).name for x in v],
        "Year": [x["year_label"] for x in v],
        "Short by": money_column([x["shortfall"] for x in v], case.currency),
        "In": [one_scenario(case, index[x["scenario"]]) for x in v],
    })  # fmt: skip
    return out


def shortfall_sentences(case: Case, result: CheckResult) -> list[str]:
    """For each organisation that falls short of its keep-whole line: how often, in which
    years and when (scenario kinds), and by how much at most."""
    st = result.settlement
    out = []
    for j, pid in enumerate(st.econ.party_ids):
        kw = case.keep_whole_for(pid)
        if kw.mode == "none":
            continue
        net = st.net[:, :, j]
        sf = shortfall_by_scenario(net, kw)
        mask = sf > PENNY
        if not mask.any():
            continue
        by_year = np.zeros_like(net, dtype=bool)
        by_year[:, kw.from_year - 1 :] = (kw.line() - net[:, kw.from_year - 1 :]) > PENNY
        worst = money(float(sf.max()), case.currency)
        out.append(f"{case.party(pid).name} would be worse off than it accepts "
                   f"{describe(case, mask, by_year)}, by up to {worst} a year.")  # fmt: skip
    return out


def _relaxation_words(case: Case, r) -> str:
    """One relaxation of `optimise.explain` (an object or its dict) in the room's words."""
    get = r.get if isinstance(r, dict) else lambda k: getattr(r, k)
    kind, pid, amount, cur = get("kind"), get("party"), float(get("amount")), case.currency
    name = case.party(pid).name if pid else ""
    req = case.requirements
    if kind == "keep_whole":
        kw = case.keep_whole_for(pid)
        if kw.mode == "cvar":
            return (f"{name} accepts an average shortfall of up to "
                    f"{money(kw.tolerance + amount, cur)} a year in its worst "
                    f"{pct(1 - kw.beta)} of scenarios")  # fmt: skip
        return f"{name} accepts being up to {money(kw.tolerance + amount, cur)} a year worse off"
    if kind == "chance":
        kw = case.keep_whole_for(pid)
        return (f"{name} is kept whole in {pct(max(kw.beta - amount, 0.0))} of scenarios "
                f"instead of {pct(kw.beta)}")  # fmt: skip
    if kind in ("share_min", "share_max"):
        which = "minimum" if kind == "share_min" else "maximum"
        verb = "falls" if kind == "share_min" else "rises"
        return f"{name}'s {which} share {verb} by {100 * amount:.1f} percentage points"
    if kind == "commissioners_min":
        floor = (req.commissioners_min_expected or 0.0) - amount
        return (
            f"the commissioners accept a minimum of {money(floor, cur)} instead of "
            f"{money(req.commissioners_min_expected or 0.0, cur)}"
        )
    return {
        "commissioners_worst": f"the commissioners accept a worst year {money(amount, cur)} lower",
        "margin_min": f"every provider's minimum margin falls by {money(amount, cur)}",
        "savings_min": f"the required system savings fall by {money(amount, cur)}",
    }.get(kind, "the agreement may sit further from the reference split")


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def conflict_sentences(case: Case, conflict) -> list[str]:
    """Why no agreement meets every requirement (`conflict`: an `optimise.whatif.Conflict`):
    which requirements cannot hold together, who would fall short, when and by how much, and
    the smallest change that would let an agreement work. Organisations, years and scenario
    kinds by name, never by code."""
    ex = conflict.explained
    if ex.status == "feasible":
        return ["An agreement meets every requirement: nothing needs to give."]
    if ex.status != "infeasible" or not ex.relaxations:
        return ["No change to the keep-whole levels, the commissioners' minimum or the share "
                "bounds lets an agreement meet every requirement: the terms fixed for the search "
                "(steps for the shares, fixed caps or collars, the corridor) rule every agreement "
                "out. Free one of them on the Requirements page."]  # fmt: skip
    who = [case.party(r.party).name for r in ex.relaxations if r.party]
    head = "No agreement meets every requirement: " + (
        f"keeping {_and(list(dict.fromkeys(who)))} whole cannot hold together with the others."
        if who
        else "the commissioners' floors cannot hold with the others."
    )
    out = [head]
    if conflict.relaxed is not None:
        out += shortfall_sentences(case, conflict.relaxed)
    out.append(
        "The smallest change that would let an agreement work: "
        + "; ".join(_relaxation_words(case, r) for r in ex.relaxations)
        + "."
    )
    others = [a for a in ex.alternatives if a.get("possible") and a.get("relaxations")]
    if len(others) > 1:
        alts = ["; ".join(_relaxation_words(case, r) for r in a["relaxations"]) for a in others]
        out.append("Or, each on its own: " + "; or ".join(alts) + ".")
    return out


# ---------------------------------------------------------------- what moved


def _tier_ranges(tiers, word: str, case: Case) -> str:
    """'first £3.00m, £3.00m to £5.00m, above £5.00m', or 'one tier'."""
    if len(tiers) == 1:
        return "one tier"
    heads = tier_headers(tiers, word, case.currency)
    return ", ".join(h[len(word) :].lstrip(":").strip() for h in heads)


def _share_changes(case: Case, a, b) -> list[str]:
    out = []
    for kind in ("gain", "loss"):
        ta_all, tb_all = getattr(a, f"{kind}_tiers"), getattr(b, f"{kind}_tiers")
        word = "gains" if kind == "gain" else "losses"
        if [t.upto for t in ta_all] != [t.upto for t in tb_all]:  # the tier edges moved
            out.append(f"Tiers of {word}: {_tier_ranges(ta_all, word, case)} → "
                       f"{_tier_ranges(tb_all, word, case)}")  # fmt: skip
            heads = tier_headers(tb_all, word, case.currency)
            for head, tb in zip(heads, tb_all, strict=True):
                split = ", ".join(f"{case.party(pid).name} {share(tb.shares.get(pid, 0.0))}"
                                  for pid in case.party_ids)  # fmt: skip
                out.append(f"Shares of {head.lower()}: {split}")
            continue
        heads = tier_headers(ta_all, word, case.currency)
        for head, ta, tb in zip(heads, ta_all, tb_all, strict=True):
            for pid in case.party_ids:
                va, vb = ta.shares.get(pid, 0.0), tb.shares.get(pid, 0.0)
                if abs(va - vb) >= 5e-5:
                    out.append(f"{case.party(pid).name}'s share of {head.lower()}: "
                               f"{share(va)} → {share(vb)}")  # fmt: skip
    return out


def _limit_changes(case: Case, a, b) -> list[str]:
    out = []
    for key, word in (("caps", "cap"), ("collars", "collar")):
        la_all, lb_all = getattr(a, key), getattr(b, key)
        for pid in case.party_ids:
            la, lb = la_all.get(pid), lb_all.get(pid)
            ta, tb = _limit_text(la, case.currency), _limit_text(lb, case.currency)
            if ta != tb:
                out.append(f"{case.party(pid).name}'s {word}: {ta} → {tb}")
    return out


def changes(case: Case, before: Agreement, after: Agreement) -> list[str]:
    """What moved between two agreements, in words; year by year only where the changes
    differ between years."""
    per_year = []
    for y in range(1, case.horizon.years + 1):
        a, b = before.terms_for_year(y), after.terms_for_year(y)
        per_year.append(_share_changes(case, a, b) + _limit_changes(case, a, b))
    if all(lines == per_year[0] for lines in per_year):
        return per_year[0]
    labels = case.horizon.labels()
    return [f"In {labels[y]}: {line}" for y, lines in enumerate(per_year) for line in lines]


# ---------------------------------------------------------------- candidates


@dataclass(frozen=True)
class Option:
    """A candidate agreement as the room sees it: a letter for the charts, a label, whether it
    meets every requirement of the case, and how it was found, in words."""

    letter: str
    label: str
    agreement: Agreement
    check: CheckResult
    meets: bool
    about: str = ""


def compare_frame(case: Case, options: list[Option]) -> pd.DataFrame:
    """Candidates side by side, one row each: whether it meets every requirement and the
    headline figures (money one unit a column)."""
    heads = [headline(case, o.check) for o in options]
    cur = case.currency
    return pd.DataFrame({
        "": [o.letter for o in options],
        "Candidate": [o.label for o in options],
        "Meets every requirement": ["Yes" if o.meets else "No" for o in options],
        "Commissioners keep": money_column([h.commissioners_keep for h in heads], cur),
        "System savings": money_column([h.system_savings for h in heads], cur),
        "Worst provider year": money_column([h.worst_provider_year for h in heads], cur),
        "Everyone kept whole in": [pct(h.prob_all_whole) for h in heads],
    })  # fmt: skip


def compare_columns(case: Case, options: list[Option]) -> pd.DataFrame:
    """A few agreements side by side, one column each (labelled), one row a figure: whether it
    meets every requirement, the headline figures and each organisation's expected net. Each
    row's money is in one unit."""
    heads = [headline(case, o.check) for o in options]
    lines = [expected_lines(o.check) for o in options]
    cur = case.currency
    rows = {
        "Meets every requirement": ["Yes" if o.meets else "No" for o in options],
        "Commissioners keep": money_column([h.commissioners_keep for h in heads], cur),
        "System savings": money_column([h.system_savings for h in heads], cur),
        "Worst provider year": money_column([h.worst_provider_year for h in heads], cur),
        "Everyone kept whole in": [pct(h.prob_all_whole) for h in heads],
    }
    for p in case.parties:
        rows[f"{p.name}: expected net"] = money_column([ln[p.id]["net"] for ln in lines], cur)
    labels = [o.label for o in options]
    return pd.DataFrame.from_dict(rows, orient="index", columns=labels)


def nets_frame(case: Case, options: list[Option]) -> pd.DataFrame:
    """Each organisation's expected net under each candidate: one row an organisation, one
    column a candidate (by its letter), one unit for the whole table."""
    lines = [expected_lines(o.check) for o in options]
    flat = money_column([ln[p]["net"] for ln in lines for p in case.party_ids], case.currency)
    n = len(case.party_ids)
    cols = {"Organisation": [p.name for p in case.parties]}
    for k, o in enumerate(options):
        cols[o.letter] = flat[k * n : (k + 1) * n]
    return pd.DataFrame(cols)


def tradeoff_points(case: Case, options: list[Option], chosen: str | None = None,
                    x: str = "worst") -> pd.DataFrame:  # fmt: skip
    """One row a candidate: letter, label, x (worst provider year, or with x="whole" the share
    of scenarios in which everyone is kept whole), y (commissioners keep), meets, chosen."""
    rows = []
    for o in options:
        h = headline(case, o.check)
        rows.append({"letter": o.letter, "label": o.label,
                     "x": h.worst_provider_year if x == "worst" else h.prob_all_whole,
                     "y": h.commissioners_keep, "meets": o.meets,
                     "chosen": o.label == chosen})  # fmt: skip
    return pd.DataFrame(rows, columns=["letter", "label", "x", "y", "meets", "chosen"])


_SPLIT = re.compile(r"\(((?:[A-Za-z][\w\-]* \d+(?:\.\d+)?%(?:, )?)+)\)")


def split_words(case: Case, text: str) -> str:
    """'icb 20.7%, acute 20.7%' (a fair split as the optimiser writes it) with the
    organisations named: 'NHS Eastbrook ICB 20.7%, Eastbrook Hospitals NHS FT 20.7%'."""
    m = _SPLIT.search(text)
    if not m:
        return ""
    names = {p.id: p.name for p in case.parties}
    parts = []
    for item in m.group(1).split(", "):
        pid, _, value = item.rpartition(" ")
        parts.append(f"{names.get(pid, pid)} {value}")
    return ", ".join(parts)


def option_label(case: Case, c) -> str:
    """A candidate's label in words (`c`: an `analysis.candidates.Candidate`)."""
    worst = c.metrics.get("worst_margin")
    if c.kind == "optimum":
        return "The best agreement"
    if c.kind == "simple":
        return "Simple: one tier, 5% steps"
    if c.kind == "fair":
        name = c.label if c.label.startswith("Shapley") else c.label.lower()  # a person's name
        return f"Nearest to the {name} split"
    if c.label == "Commissioners' best":
        return "Most for the commissioners"
    if c.label == "Max-min margin":
        return "Best worst year for the providers"
    if c.kind == "bargaining":
        return c.label
    if c.label.startswith("Whole "):
        return f"Everyone kept whole in {c.label.split()[-1]}"
    return f"Every provider ≥ {money(worst or 0.0, case.currency)} every year"


def option_about(case: Case, c, objective: str) -> str:
    """How a candidate was found, in words."""
    worst = money(c.metrics.get("worst_margin") or 0.0, case.currency)
    if c.kind == "optimum":
        return f"The best agreement for the aim: {OBJECTIVE_LABELS[objective].lower()}."
    if c.kind == "simple":
        return ("One tier for gains and one for losses, shares in steps of 5%, no caps or "
                "collars, the same terms every year.")  # fmt: skip
    if c.kind == "fair":
        split = split_words(case, c.method)
        return (f"Each organisation's share starts from its {c.label.lower()} share of the "
                f"savings it helps make ({split}), moved as little as needed to meet every "
                "requirement.")  # fmt: skip
    if c.kind == "bargaining":  # what the point means and what each party gains, not how
        said = c.method.split(" Agreements with shares", 1)[0]
        meaning = said.partition(": ")[2] or said
        return meaning[:1].upper() + meaning[1:]
    if c.label.startswith("Whole "):
        return (
            f"As much as possible for the commissioners while every provider is kept whole "
            f"in at least {c.label.split()[-1]} of scenarios instead of every one."
        )
    if c.label == "Commissioners' best":
        return "As much as possible for the commissioners."
    return (f"As much as possible for the commissioners while every provider is at least "
            f"{worst} better off in every scenario and year.")  # fmt: skip


def option_notes(case: Case, notes: list[str]) -> list[str]:
    """The optimiser's notes on the candidates that matter to the room, in its words."""
    out = []
    for n in notes:
        if n.startswith("simple"):
            out.append("No simple agreement (one tier, shares in 5% steps, no caps or collars) "
                       "meets every requirement.")  # fmt: skip
        elif n.startswith(("Shapley:", "Nucleolus:")):
            which = n.split(":", 1)[0].lower()
            split = split_words(case, n)
            out.append(
                f"No agreement near the {which} split"
                + (f" ({split})" if split else "")
                + " meets every requirement."
            )
        elif n.startswith("stopped at the time limit"):
            out.append("Some trade-off points stopped at the time limit: each is the best "
                       "found by then.")  # fmt: skip
    return out


__all__ = ["NONE", "Option", "Verdict", "changes", "compare_columns", "compare_frame",
           "conflict_sentences",
           "nets_frame",
           "option_about", "option_label", "option_notes", "position_sentences",
           "positions_frame", "shares_frame", "shortfall_sentences", "shortfalls_frame",
           "split_words", "tradeoff_points", "verdict"]  # fmt: skip
