"""Readable terminal output (rich) for the CLI. Presentation only: numbers come from the
result documents."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd
from rich.console import Console
from rich.table import Table

from gainshare.analysis.coalitions import SPLITS
from gainshare.schema.case import Case
from gainshare.units import money

if TYPE_CHECKING:
    from gainshare.analysis.candidates import Candidate, CandidatesResult


def console(stderr: bool = False) -> Console:
    """A console that is wide enough for the tables when output goes to a file or pipe."""
    c = Console(stderr=stderr)
    if not c.is_terminal:
        c = Console(stderr=stderr, width=max(c.width, 132))
    return c


def print_validation(doc: dict, show_parameters: bool) -> None:
    out = console()

    def n(k: str, word: str, words: str | None = None) -> str:
        return f"{doc[k]} {word if doc[k] == 1 else (words or word + 's')}"

    out.print(
        f"ok: {doc['case']}: {n('parties', 'party', 'parties')} ({doc['commissioners']} "
        f"commissioning, {doc['providers']} providing), {n('contracts', 'contract')}, "
        f"{n('schemes', 'scheme')}, {n('scenarios', 'scenario')}, {n('years', 'year')}",
        highlight=False,
    )
    if show_parameters:
        t = Table(title="Uncertain parameters")
        for col in ("path", "what", "low", "high"):
            t.add_column(col)
        for p in doc["uncertain_parameters"]:
            t.add_row(p["path"], p["label"], f"{p['low']:,.4g}", f"{p['high']:,.4g}")
        out.print(t)


def party_table(doc: dict, case: Case, title: str) -> Table:
    """Each party's expected position as the lines that add up to it, each its effect on the
    party (positive: better off), as in the app and the workbook (`report.positions`)."""
    cur = doc.get("currency", "GBP")
    t = Table(title=title, title_justify="left",
              caption="Each amount is its effect on the party: positive better off. Net = income "
                      "change + cost saved + benefit + transfer or retained share.",
              caption_justify="left")  # fmt: skip
    for col, j in [
        ("Party", "left"),
        ("Role", "left"),
        ("Income change", "right"),
        ("Cost saved", "right"),
        ("Benefit", "right"),
        ("Transfer / retained", "right"),
        ("Expected net", "right"),
        ("Worst year", "right"),
        ("P(kept whole)", "right"),
        ("Stranded fixed cost", "right"),
        ("Unfunded activity", "right"),
        ("Requirement", "left"),
    ]:
        t.add_column(col, justify=j)
    for pid, d in doc["by_party"].items():
        req = d["requirement"]
        met = "[green]met[/]" if req["met"] else "[red]NOT MET[/]"
        req_txt = "none" if req["mode"] == "none" else f"{req['mode']} {met}"
        shared = d["expected_transfer"] + d["expected_retained"]
        income, benefit = d["expected_revenue_change"], d["expected_benefit"]
        cost_saved = d["expected_net"] - income - benefit - shared  # the line the others leave
        t.add_row(
            pid,
            d["role"],
            money(income, cur),
            money(cost_saved, cur),
            money(benefit, cur),
            money(shared, cur),
            money(d["expected_net"], cur),
            money(d["worst_net"], cur),
            f"{100 * d['prob_whole']:.1f}%",
            money(d["stranded_fixed_cost_expected"], cur),
            money(d["unfunded_activity_expected"], cur),
            req_txt,
        )
    return t


def print_check(result, case: Case) -> None:
    doc = result.document
    cur = doc["currency"]
    out = console()
    out.print(
        f"[bold]{doc['case']}[/] - agreement [bold]{doc['agreement']}[/]: "
        f"{doc['scenarios']} scenarios x {doc['years']} years ({', '.join(doc['year_labels'])})",
        highlight=False,
    )
    out.print(party_table(doc, case, "Each party over the whole agreement (expected totals)"))
    ss, pool = doc["system_savings"], doc["pool"]
    out.print(
        f"System savings: expected {money(ss['expected'], cur)} "
        f"(worst {money(ss['worst'], cur)}, best {money(ss['best'], cur)}); "
        f"pool: expected {money(pool['expected'], cur)}.",
        highlight=False,
    )
    if "schemes" in doc:
        out.print(scheme_table(doc, case))
    outside = {pid: d["expected_outside_pool"] for pid, d in doc["by_party"].items()
               if d.get("expected_outside_pool")}  # fmt: skip
    if outside:
        out.print("Paid outside the pool (transformation funding): " + "; ".join(
            f"{case.party(pid).name} {money(v, cur)}" for pid, v in outside.items()) + ".",
            highlight=False)  # fmt: skip
    if doc["all_kept_whole"]:
        out.print("[green]Every party's keep-whole requirement is met.[/]")
    else:
        out.print(
            f"[red]{doc['violations_total']:,} party-years fall short of being kept whole[/]; "
            "the worst:"
        )
        t = Table()
        for col in ("Party", "Scenario", "Year", "Shortfall"):
            t.add_column(col)
        for v in doc["violations"][:10]:
            t.add_row(case.party(v["party"]).name, v["scenario"], v["year_label"],
                      money(v["shortfall"], cur))  # fmt: skip
        out.print(t)
    if "incentives" in doc:
        print_incentives(out, doc["incentives"], doc["by_party"], case)


def _prob(x: float) -> str:
    """100%, 0%, or one decimal in between (99.7%, never a rounded 100%)."""
    return f"{100 * x:.0f}%" if x >= 1 or x <= 0 else f"{min(max(100 * x, 0.1), 99.9):.1f}%"


def _signed(v: float, cur: str) -> str:
    return ("+" if v >= 0.005 else "") + money(v, cur)


def print_incentives(out: Console, inc: dict, base: dict, case: Case) -> None:
    """The growth steps as a table (change in each party's expected net, its part of each
    extra 100 saved, change in its worst year and, where it moves, its probability of being
    kept whole; `base` is the check document's `by_party`), then the flags in words."""
    cur = case.currency
    if not inc["steps"]:
        out.print("Incentive to grow the scheme: the case has no scheme or ward to grow.")
        return
    t = Table(title="\nIncentive to grow the scheme: change in expected net (horizon total), "
              "its part of each extra 100 the system saves, and change in worst year",
              title_justify="left")  # fmt: skip
    t.add_column("Growth step")
    t.add_column("System savings", justify="right")
    for pid in inc["steps"][0]["by_party"]:
        t.add_column(pid, justify="right")
    for step in inc["steps"]:
        cells = []
        for pid, d in step["by_party"].items():
            per = "" if d["gradient"] is None else f" ({100 * d['gradient']:+.0f} per 100)"
            worst = f"worst year {_signed(d['delta_worst_net'], cur)}"
            was = base[pid]["prob_whole"]
            if abs(d["prob_whole"] - was) > 1e-9:
                worst += f", whole {_prob(was)} -> {_prob(d['prob_whole'])}"
            cells.append(f"{_signed(d['delta_expected_net'], cur)}{per}\n[dim]{worst}[/]")
        t.add_row(step["label"], _signed(step["delta_system_savings"], cur), *cells)
    out.print(t)
    if inc["aligned"]:
        out.print("[green]No provider loses as the scheme grows: the agreement is "
                  "incentive-aligned.[/]")  # fmt: skip
        return
    for f in inc["flags"]:
        out.print(f"[yellow]misaligned:[/] {f['text']}.", highlight=False)


def scheme_table(doc: dict, case: Case) -> Table:
    """Each scheme's own and joint effect (a case whose schemes draw on shared cohorts)."""
    cur, sch = doc["currency"], doc["schemes"]
    t = Table(title="Each scheme on its own and in the portfolio (expected totals; savings "
              "against running no scheme)")  # fmt: skip
    for col in ("Scheme", "Teams", "Patients avoided alone", "... counted once",
                "Savings alone", "Savings it adds"):  # fmt: skip
        t.add_column(col, justify="left" if col == "Scheme" else "right")
    for d in sch["by_scheme"].values():
        t.add_row(d["name"], str(d["teams"]), f"{d['own']['patients_avoided']:,.0f}",
                  f"{d['in_portfolio']['patients_avoided']:,.0f}",
                  money(d["own"]["system_savings"], cur),
                  money(d["in_portfolio"]["system_savings"], cur))  # fmt: skip
    p = sch["portfolio"]
    t.add_row("All together", "", f"{p['patients_avoided_sum_of_own']:,.0f}",
              f"{p['patients_avoided']:,.0f}", money(p["system_savings_sum_of_own"], cur),
              money(p["system_savings"], cur), style="bold")  # fmt: skip
    t.caption = (
        f"Counting each patient of a shared cohort once removes "
        f"{p['double_count_removed']:,.0f} patients; running the schemes together "
        f"{'adds' if p['joint_effect'] >= 0 else 'takes away'} "
        f"{money(abs(p['joint_effect']), cur)} beyond the sum of their own savings."
    )
    return t


def print_design(result, case: Case, out_path=None) -> None:
    """The designed agreement in words, each party's position, and what binds."""
    c = console()
    head = {
        "optimal": "[green]Optimal agreement found[/]",
        "time_limit": "[yellow]Time limit reached: best agreement found so far[/]",
        "infeasible": "[red]No agreement meets every requirement[/]",
        "error": "[red]The optimiser could not give a verified answer[/]",
    }[result.status]
    c.print(f"[bold]{case.name}[/]: {head}", highlight=False)
    if result.message:
        c.print(result.message, highlight=False)
    for row in result.trivial[:10]:
        c.print(
            f"  {row['party']} in scenario {row['scenario']}, year {row['year']}: short by "
            f"{money(row['shortfall'], case.currency)} with nothing to share",
            highlight=False,
        )
    if result.agreement is None:
        return
    from gainshare.report.termsheet import term_sheet

    sheet = term_sheet(case, result.agreement, result.check)
    c.print("\n[bold]The agreement in words[/]")
    for i, clause in enumerate(sheet.clauses, start=1):
        text = " ".join(clause.paragraphs).replace("**", "")
        c.print(f"{i}. [bold]{clause.title}.[/] {text}", highlight=False)
        for b in clause.bullets:
            c.print(f"   - {b.replace('**', '')}", highlight=False)
    doc = result.check.document
    c.print(party_table(doc, case, "\nEach party under the designed agreement (expected totals)"))
    obj = result.document["objective"]
    value = obj["value"]
    shown = (
        f"{value:.4f}" if result.objective_name == "fair_reference" else money(value, case.currency)
    )
    c.print(f"Objective: {obj['description']} = {shown}.", highlight=False)
    if result.levers:
        c.print(f"Levers chosen: {result.levers['label']}.", highlight=False)
    _print_structure_values(c, result, case.currency)
    for st in result.starts:
        verdict = ("meets every requirement" if st["meets_requirements"]
                   else "does not meet every requirement")  # fmt: skip
        c.print(f"Brought by the room: '{st['name']}' {verdict}; its objective "
                f"{money(st['objective_value'], case.currency)}.", highlight=False)  # fmt: skip
    if result.binding:
        c.print("[bold]Requirements that bind[/] (shadow prices):")
        for b in result.binding:
            c.print(f"  - {b['requirement']}: {b['meaning']}", highlight=False)
    t = result.timings
    c.print(
        f"Solved in {t.get('total_s', 0):.2f} s (HiGHS {t.get('highs_s', 0):.3f} s); re-settled "
        "by the settlement code and matched to the penny.",
        highlight=False,
    )
    if out_path is not None:
        c.print(f"Agreement written to {out_path}", highlight=False)


def structure_value_sentence(values: list[dict], currency: str) -> str:
    """'Sharing alone keeps the commissioners £1.20m; caps and collars add £0.93m; ...'."""
    if not values:
        return ""
    parts = []
    for v in values:
        if v["step"] == "sharing alone":
            if v["commissioners_expected"] is None:
                parts.append("sharing alone cannot keep every party whole")
            else:
                parts.append(f"sharing alone keeps the commissioners "
                             f"{money(v['commissioners_expected'], currency)}")  # fmt: skip
        elif v["step"] == "rounding":
            cost = -(v["adds"] or 0.0)
            parts.append(f"rounding shares to whole steps costs {money(cost, currency)} "
                         "against shares in 0.1% steps")  # fmt: skip
        elif v["adds"] is not None:
            parts.append(f"{v['step']} add{'s' if v['step'] == 'a corridor' else ''} "
                         f"{money(v['adds'], currency)}")  # fmt: skip
    text = "; ".join(parts)
    return text[0].upper() + text[1:] + "."


def _print_structure_values(c, result, currency: str) -> None:
    text = structure_value_sentence(result.structure_values, currency)
    if text:
        c.print(f"[bold]What the drafting space adds[/]: {text}", highlight=False)


def print_explain(result) -> None:
    c = console()
    colour = {"feasible": "green", "infeasible": "yellow", "unresolvable": "red"}[result.status]
    c.print(f"[bold {colour}]{result.status.capitalize()}[/]")
    for s in result.sentences:
        c.print(f"- {s}", highlight=False)


def print_repair(result, case: Case) -> None:
    c = console()
    if result.status == "unchanged":
        c.print("[green]The proposal already meets every requirement; nothing moved.[/]")
    elif result.agreement is None:
        c.print(f"[red]{result.message}[/]", highlight=False)
    else:
        c.print("[bold]The proposal fails:[/]")
        for f in result.proposal_failures[:10]:
            c.print(f"  - {f['text']}", highlight=False)
        if result.message:
            c.print(result.message, highlight=False)
        c.print("[bold]Nearest agreement that meets every requirement - what moved:[/]")
        for line in result.changes:
            c.print(f"  - {line}", highlight=False)
    before = result.proposal_check.document
    c.print(party_table(before, case, "\nThe proposal (expected totals)"))
    if result.check is not None and result.status == "repaired":
        c.print(party_table(result.check.document, case, "The repaired agreement"))


# ---------------------------------------------------------------- candidates


def _pct_1dp(v: float) -> str:
    return f"{100 * v:.1f}%"


def _tier_shares(tiers: list, pid: str) -> str:
    return " / ".join(_pct_1dp(t.shares.get(pid, 0.0)) for t in tiers)


def _limit(lim, cur: str) -> str:

    if lim is None:
        return "-"
    if lim.amount is not None:
        return money(lim.amount, cur)
    return f"{_pct_1dp(lim.share_of_expected)} of E"


def _solver_word(c: Candidate) -> str:
    if c.status == "optimal" or c.gap is None:
        return c.status
    return f"limit, gap {100 * c.gap:.0f}%"


def _rows(result: CandidatesResult) -> list[tuple[str, list[str]]]:

    case, items, cur = result.case, result.items, result.case.currency
    rows: list[tuple[str, list[str]]] = []
    m = [c.metrics for c in items]
    for p in case.parties:
        rows.append((f"{p.id}: expected net", [money(x["expected_net"][p.id], cur) for x in m]))
        rows.append(("  worst year", [money(x["worst_net"][p.id], cur) for x in m]))
        rows.append(("  P(kept whole)", [_pct_1dp(x["prob_whole"][p.id]) for x in m]))
    rows.append(("Commissioners' retained",
                 [money(c.metrics["commissioners_expected"], cur) for c in items]))  # fmt: skip
    if case.provider_ids:
        rows.append(("Worst provider margin", [money(c.metrics["worst_margin"], cur)
                                               for c in items]))  # fmt: skip
    rows.append(("P(all kept whole)", [_pct_1dp(c.metrics["prob_all_whole"]) for c in items]))
    losses = any((c.check.settlement.shareable < 0).any() for c in items)
    for p in case.parties:
        rows.append((f"Gain share: {p.id}", [_tier_shares(c.agreement.terms.gain_tiers, p.id)
                                             for c in items]))  # fmt: skip
    if losses:
        for p in case.parties:
            rows.append((f"Loss share: {p.id}", [_tier_shares(c.agreement.terms.loss_tiers, p.id)
                                                 for c in items]))  # fmt: skip
    for kind in ("caps", "collars"):
        for pid in case.provider_ids:
            vals = [getattr(c.agreement.terms, kind).get(pid) for c in items]
            if any(v is not None for v in vals):
                rows.append((f"{kind[:-1].capitalize()}: {pid}", [_limit(v, cur) for v in vals]))
    if any(c.agreement.year_overrides for c in items):
        rows.append(("Glide path", ["yes" if c.agreement.year_overrides else "no" for c in items]))
    rows.append(("Meets case requirements", ["yes" if c.meets_case else "no"
                                                   for c in items]))  # fmt: skip
    rows.append(("Solver", [_solver_word(c) for c in items]))
    return rows


def print_candidates(result: CandidatesResult) -> None:
    """Candidates side by side, the frontier, how each was found, and notes."""
    out, cur = console(), result.case.currency
    out.print(f"[bold]{result.case.name}[/]: {len(result.items)} candidate agreements, each "
              f"settled over the same {result.scenarios} scenarios x {result.case.horizon.years} "
              "years (expected values are horizon totals)", highlight=False)  # fmt: skip
    if result.items:
        t = Table(title="Candidates side by side", title_justify="left")
        t.add_column("", no_wrap=True)
        for c in result.items:
            t.add_column(c.label, justify="right")
        for name, cells in _rows(result):
            t.add_row(name, *cells)
        out.print(t)
        for i, c in enumerate(result.items, start=1):
            req = (
                ""
                if c.requirement == "the case's requirements"
                else f" Requirement: {c.requirement}."
            )
            out.print(f"{i}. [bold]{c.label}[/]: {c.method}.{req}", highlight=False)
    if len(result.frontier):
        f = Table(title="Trade-off frontier (points no other point beats on both axes)",
                  title_justify="left")  # fmt: skip
        for col in ("Point", "Commissioners' retained", "Worst provider margin",
                    "P(every party kept whole)", "Solver"):  # fmt: skip
            f.add_column(col, justify="left" if col == "Point" else "right")
        for r in result.frontier.itertuples():
            margin = "-" if pd.isna(r.worst_margin) else money(r.worst_margin, cur)
            f.add_row(r.label, money(r.commissioners_expected, cur), margin,
                      _pct_1dp(r.prob_all_whole), r.status)  # fmt: skip
        out.print(f)
    twins = [f"{d['label']} (same as {d['same_as']})" for d in result.dropped
             if d["reason"] == "near-duplicate" and d["kind"] != "frontier"]  # fmt: skip
    if twins:
        out.print(f"Near-duplicates left out: {'; '.join(twins)}.", highlight=False)
    for n in result.notes:
        out.print(f"[yellow]note:[/] {n}", highlight=False)


# ---------------------------------------------------------------- fair references


def print_fair(doc: dict) -> None:
    cur = doc["currency"]
    out = console()
    out.print(
        f"[bold]{doc['case']}[/]: coalition savings game over {doc['scenarios']} scenarios x "
        f"{doc['years']} years; the whole system saves {money(doc['grand_coalition_value'], cur)} "
        "in expectation",
        highlight=False,
    )
    t = Table(title="Fair reference splits of expected system savings", title_justify="left")
    t.add_column("Party")
    for name in SPLITS:
        label = name.replace("_", " ").capitalize()
        if name == "proportional":
            label += f" ({doc['proportional_basis'].replace('_', '-')})"
        t.add_column(label, justify="right")
    for p in doc["players"]:
        cells = []
        for name in SPLITS:
            x, sh = doc[name], doc["shares"][name]
            if x is None:
                cells.append("n/a")
            else:
                cells.append(money(x[p], cur) + (f" ({100 * sh[p]:.1f}%)" if sh else ""))
        t.add_row(p, *cells)
    t.add_row(*["In the core"] + [_yes_no(doc["in_core"][n]) for n in SPLITS], style="dim")
    out.print(t)
    core = "empty: no split satisfies every coalition" if doc["core_empty"] else "not empty"
    out.print(f"Core: {core}.", highlight=False)
    v = Table(title="Coalition values (best expected savings on their own)", title_justify="left")
    v.add_column("Coalition")
    v.add_column("Value", justify="right")
    for c, val in doc["values"].items():
        v.add_row(c, money(val, cur))
    out.print(v)
    for n in doc["notes"]:
        out.print(f"[yellow]note:[/] {n}", highlight=False)
    if "agreements" in doc:
        _print_agreements(out, doc, cur)


def _print_agreements(out: Console, doc: dict, cur: str) -> None:
    """Each fair split's and bargaining point's agreement: expected nets, distance, why."""
    ag = doc["agreements"]
    points = [p for p in (*ag["fair"].values(), *ag["bargaining"].values()) if p is not None]
    if points:
        t = Table(title="Agreements a room can sign: expected net over the horizon",
                  title_justify="left")  # fmt: skip
        t.add_column("Point")
        for p in doc["players"]:
            t.add_column(p, justify="right")
        t.add_column("From the fair payoff", justify="right")
        for pt in points:
            dist = money(pt["distance"], cur) if "distance" in pt else ""
            t.add_row(pt["label"], *[money(pt["expected_net"][p], cur) for p in doc["players"]],
                      dist)  # fmt: skip
        out.print(t)
        out.print(ag["method"], highlight=False)
    for pt in points:
        out.print(f"[bold]{pt['label']}[/]: {pt['meaning']}.", highlight=False)
        lines = pt["sentences"]
        same = bool(lines) and lines[0].startswith("The same payoff as")
        for line in lines[:1] if same else lines:
            out.print(f"  - {line}", highlight=False)
    for n in ag["notes"]:
        out.print(f"[yellow]note:[/] {n}", highlight=False)


def _yes_no(b: bool | None) -> str:
    return "n/a" if b is None else ("yes" if b else "no")


# ---------------------------------------------------------------- sensitivity


def print_sensitivity(doc: dict) -> None:
    cur = doc["currency"]
    out = console()
    out.print(
        f"[bold]{doc['case']}[/] - agreement [bold]{doc['agreement']}[/]: {doc['scenarios']} "
        f"scenarios x {doc['years']} years; each parameter fixed at its low and high bound, "
        "the others keep their draws",
        highlight=False,
    )
    t = Table(
        title="Tornado: expected net (horizon total) with the parameter at low -> high; "
        "probability of being kept whole where it moves",
        title_justify="left",
    )
    t.add_column("Parameter")
    t.add_column("Low -> high", justify="right")
    for p in doc["parties"]:
        t.add_column(p, justify="right")
    base = ["[dim]as drawn[/]", ""] + [
        f"{money(doc['base'][p]['expected_net'], cur)} "
        f"({100 * doc['base'][p]['prob_whole']:.0f}% whole)"
        for p in doc["parties"]
    ]
    t.add_row(*base)
    for r in doc["tornado"]:
        cells = []
        for p in doc["parties"]:
            d = r["by_party"][p]
            cell = f"{money(d['expected_net_low'], cur)} -> {money(d['expected_net_high'], cur)}"
            if d["prob_whole_low"] != d["prob_whole_high"]:
                cell += (
                    f"\n[dim]whole {100 * d['prob_whole_low']:.0f}% -> "
                    f"{100 * d['prob_whole_high']:.0f}%[/]"
                )
            cells.append(cell)
        t.add_row(r["label"], f"{_fmt(r['low'])} -> {_fmt(r['high'])}", *cells)
    out.print(t)
    if not doc["tornado"]:
        out.print("The case has no uncertain parameters.")
    if "stress" in doc and doc["stress"]:
        first = doc["stress"][0]
        s = Table(
            title=f"Stress: {first['label']} ({first['path']}) fixed in every scenario",
            title_justify="left",
        )
        s.add_column("Value", justify="right")
        for p in doc["parties"]:
            s.add_column(f"{p}: net / worst year / P(whole)", justify="right")
        for pt in doc["stress"]:
            cells = [
                f"{money(d['expected_net'], cur)} / {money(d['worst_year'], cur)} / "
                f"{100 * d['prob_whole']:.0f}%"
                for d in (pt["by_party"][p] for p in doc["parties"])
            ]
            s.add_row(_fmt(pt["value"]), *cells)
        out.print(s)


def _fmt(x: float | list[float]) -> str:
    if isinstance(x, list):
        return "[" + ", ".join(f"{v:,.4g}" for v in x) + "]"
    return f"{x:,.4g}"


def print_value_of_information(doc: dict) -> None:
    """What to measure first: each parameter's value of information, in words, ranked."""
    c = console()
    cur = doc["currency"]
    base = doc["baseline"]
    signed = (f"signing the best agreement without knowing more is worth "
              f"{money(base['value'], cur)} {doc['whom']}" if base["value"] > 0 else
              "without knowing more the room would not sign (no agreement is worth more than "
              "none)")  # fmt: skip
    c.print(f"[bold]{doc['case']}[/]: what to measure first. Objective: "
            f"{doc['objective']['description']}; {signed}.", highlight=False)  # fmt: skip
    t = Table()
    for col in ("Rank", "Parameter", "Worth knowing", "Standard error", "Draws", "Gains at"):
        t.add_column(col, justify="left" if col == "Parameter" else "right")
    for p in doc["parameters"]:
        t.add_row(str(p["rank"]), p["label"], money(p["value"], cur),
                  "exact" if p["exact"] else money(p["standard_error"], cur),
                  str(p["draws"]), f"{p['draws_with_gain']} of {p['draws']}")  # fmt: skip
    c.print(t)
    for p in doc["parameters"][:5]:
        c.print(f"- {p['words'][0].upper() + p['words'][1:]}.", highlight=False)
    tm = doc["timings"]
    c.print(
        f"{tm['solves']} design solves in {tm['total_s']:.1f} s. {doc['method']}", highlight=False
    )
