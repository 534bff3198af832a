"""Readable terminal output (rich) for the CLI. Presentation only: numbers come from the
result documents."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from gainshare.schema.case import Case
from gainshare.units import money


def console(stderr: bool = False) -> Console:
    """A console that is wide enough for the tables when output goes to a file or pipe."""
    c = Console(stderr=stderr)
    if not c.is_terminal:
        c = Console(stderr=stderr, width=max(c.width, 132))
    return c


def print_validation(doc: dict, show_parameters: bool) -> None:
    out = console()
    err = console(stderr=True)
    for w in doc["warnings"]:
        err.print(f"[yellow]warning:[/] {w}", highlight=False)
    out.print(
        f"ok: {doc['case']}: {doc['parties']} parties ({doc['commissioners']} commissioning, "
        f"{doc['providers']} providing), {doc['contracts']} contracts, {doc['schemes']} schemes, "
        f"{doc['scenarios']} scenarios, {doc['years']} years",
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
    cur = doc.get("currency", "GBP")
    t = Table(title=title, title_justify="left")
    for col, j in [
        ("Party", "left"),
        ("Role", "left"),
        ("Revenue change", "right"),
        ("Cost change", "right"),
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
        t.add_row(
            pid,
            d["role"],
            money(d["expected_revenue_change"], cur),
            money(d["expected_cost_change"], cur),
            money(d["expected_transfer"] + d["expected_retained"], cur),
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
    if doc["all_kept_whole"]:
        out.print("[green]Every party's keep-whole requirement is met.[/]")
        return
    out.print(
        f"[red]{doc['violations_total']:,} party-years fall short of being kept whole[/]; "
        "the worst:"
    )
    t = Table()
    for col in ("Party", "Scenario", "Year", "Shortfall"):
        t.add_column(col)
    for v in doc["violations"][:10]:
        t.add_row(
            case.party(v["party"]).name, v["scenario"], v["year_label"], money(v["shortfall"], cur)
        )
    out.print(t)


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
        c.print("[bold]Nearest agreement that meets every requirement - what moved:[/]")
        for line in result.changes:
            c.print(f"  - {line}", highlight=False)
    before = result.proposal_check.document
    c.print(party_table(before, case, "\nThe proposal (expected totals)"))
    if result.check is not None and result.status == "repaired":
        c.print(party_table(result.check.document, case, "The repaired agreement"))
