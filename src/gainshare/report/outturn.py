"""Statements of actual years and their history: each settlement of a year is kept in the
output folder as a numbered statement (JSON, Markdown, the bridge as a chart), never
overwritten; settling corrected figures for a year already settled writes the next statement
with a true-up against the one before it (each party's adjustment, summing to the change in
the pool). Forecasts are kept beside them the same way.

    OUT/2026-27/statement-001.json   .md   bridge-001.html
    OUT/2026-27/statement-002.json   .md   bridge-002.html   (true-up against 001)
    OUT/2026-27/forecast-001.json    .md

Files are written into a scratch folder and linked into place: a file that exists is never
replaced, and a failure leaves nothing half-written."""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from rich.table import Table

from gainshare.output import signals_held
from gainshare.report.bridge import bridge_figure, bridge_rows, bridge_table, penny
from gainshare.report.charts import PLOTLY_JS, write_html, write_plotly_js
from gainshare.report.console import console

NUMBERED = re.compile(r"^(statement|forecast)-(\d{3,})\.json$")


def year_folder(label: str) -> str:
    """A year's folder name: 2026/27 -> 2026-27."""
    return label.replace("/", "-")


def _pence(v: float) -> int:
    return int(round(v * 100))


def true_up(previous: dict, current: dict) -> dict:
    """Each party's adjustment (change in transfer plus retained share) and the change in its
    net position and in the pool, from an earlier statement of the same year to this one."""
    by_party = {}
    for pid, now in current["by_party"].items():
        before = previous["by_party"].get(pid, {})
        change = {
            k: (_pence(now[k]) - _pence(before.get(k, 0.0))) / 100
            for k in ("payment", "transfer", "retained", "net")
        }
        by_party[pid] = {
            "name": now["name"],
            "adjustment": change["payment"],
            "transfer_change": change["transfer"],
            "retained_change": change["retained"],
            "net_change": change["net"],
        }
    pool = (_pence(current["pool"]) - _pence(previous["pool"])) / 100
    total = sum(_pence(d["adjustment"]) for d in by_party.values())
    return {
        "against": previous.get("file"),
        "statement": previous.get("statement"),
        "agreement_changed": previous.get("agreement") != current.get("agreement"),
        "pool_change": pool,
        "by_party": by_party,
        "adds_up": total == _pence(pool),
    }


def _numbered(folder: Path, kind: str) -> list[tuple[int, Path]]:
    if not folder.is_dir():
        return []
    out = []
    for p in folder.iterdir():
        m = NUMBERED.match(p.name)
        if m and m.group(1) == kind:
            out.append((int(m.group(2)), p))
    return sorted(out)


def latest_statement(folder: Path) -> dict | None:
    """The latest statement kept in a year's folder (None when there is none)."""
    found = _numbered(folder, "statement")
    if not found:
        return None
    n, path = found[-1]
    doc = json.loads(path.read_text(encoding="utf-8"))
    return doc | {"file": path.name, "statement": n}


def _same(a: dict, b: dict) -> bool:
    keys = ("pool", "by_party", "bridge", "expected_spend", "actual_spend", "agreement")
    return all(
        json.dumps(a.get(k), sort_keys=True) == json.dumps(b.get(k), sort_keys=True) for k in keys
    )


@dataclass
class Kept:
    """What was written for one year: files (relative to the output folder), its number, the
    true-up against the statement before it (None for a first statement), or unchanged."""

    year_label: str
    number: int | None
    files: list[str] = field(default_factory=list)
    true_up: dict | None = None
    unchanged_from: int | None = None


def _link_all(tmp: Path, folder: Path, names: list[str]) -> None:
    """Link every scratch file into place; none is replaced; undo all if one exists."""
    done = []
    try:
        for name in names:
            os.link(tmp / name, folder / name)
            done.append(folder / name)
    except FileExistsError:
        for p in done:
            p.unlink(missing_ok=True)
        raise


def _render(tmp: Path, kind: str, n: int, doc: dict, currency: str, head: dict) -> list[str]:
    """Write the numbered files of one statement (or forecast) into the scratch folder."""
    stem = f"{kind}-{n:03d}"
    names = [f"{stem}.json", f"{stem}.md"]
    (tmp / names[0]).write_text(
        json.dumps(head | doc, indent=2, allow_nan=False) + "\n", encoding="utf-8"
    )
    text = (
        statement_markdown(head | doc, currency)
        if kind == "statement"
        else forecast_markdown(head | doc, currency)
    )
    (tmp / names[1]).write_text(text, encoding="utf-8")
    bridge = doc.get("bridge") or doc.get("projection", {}).get("bridge")
    if bridge is not None:
        title = (
            f"From the expected to the {'actual' if kind == 'statement' else 'projected'} "
            f"pool, {doc.get('year_label')}"
        )
        names.append(f"bridge-{n:03d}.html" if kind == "statement" else f"{stem}-bridge.html")
        write_html(bridge_figure(bridge, currency, title), tmp / names[-1])
    return names


def keep(out: Path, kind: str, doc: dict, currency: str, head: dict) -> Kept:
    """Keep one year's statement (kind 'statement') or forecast in `out`, numbered after the
    ones already there; a statement equal to the latest one is not written again."""
    label = doc.get("year_label")
    folder = out / year_folder(label)
    kept = Kept(label, None)
    if kind == "statement":
        prev = latest_statement(folder)
        if prev is not None and _same(prev, head | doc):
            kept.unchanged_from = prev["statement"]
            return kept
        if prev is not None:
            kept.true_up = true_up(prev, head | doc)
            doc = doc | {"true_up": kept.true_up}
    folder.mkdir(parents=True, exist_ok=True)
    tmp: Path | None = None
    try:
        with signals_held():  # a stop lands after `tmp` is known, so `finally` removes it
            tmp = Path(tempfile.mkdtemp(prefix=".gainshare-settle-", dir=folder))
        for _ in range(1000):  # another run may take a number first: take the next one
            found = _numbered(folder, kind)
            n = (found[-1][0] if found else 0) + 1
            for p in tmp.iterdir():
                p.unlink()
            names = _render(tmp, kind, n, doc, currency, head | {kind: n})
            try:
                _link_all(tmp, folder, names)
                break
            except FileExistsError:
                continue
        if not (folder / PLOTLY_JS).exists() and any(n.endswith(".html") for n in names):
            write_plotly_js(tmp)
            try:
                os.link(tmp / PLOTLY_JS, folder / PLOTLY_JS)
            except FileExistsError:
                pass
            names.append(PLOTLY_JS)
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    kept.number = n
    kept.files = [str(Path(year_folder(label)) / name) for name in names]
    return kept


# ---------------------------------------------------------------- words


STATEMENT_LINES = [
    ("Revenue change", "revenue_change", 1),
    ("Cost saved (negative: cost added)", "cost_change", -1),
    ("Spend saved", "spend_saved", 1),
    ("Scheme costs paid directly", "direct_cost", -1),
    ("Benefit booked", "benefit", 1),
    ("Transfer received (negative: paid)", "transfer", 1),
    ("Retained share of the pool", "retained", 1),
]


def statement_markdown(doc: dict, currency: str) -> str:
    """One year's settlement statement in words and tables, to the penny."""
    n = doc.get("statement")
    out = [f"# Settlement statement{f' {n:03d}' if n else ''}: {doc['year_label']}", ""]
    out += [
        f"**Case:** {doc.get('case', '')}. **Agreement:** {doc.get('agreement', '')}. "
        f"**Actuals:** {doc.get('actuals', {}).get('file', '')} (SHA-256 "
        f"{doc.get('actuals', {}).get('sha256', '')[:12]}).",
        "",
    ]
    out += [
        f"Expected spend {penny(doc['expected_spend'], currency)}; actual spend "
        f"{penny(doc['actual_spend'], currency)}; pool {penny(doc['pool'], currency)}, of which "
        f"{penny(doc['shareable'], currency)} shareable. Transfers "
        f"{penny(doc['transfers'], currency)}; the commissioners retain "
        f"{penny(doc['retained'], currency)}. System savings "
        f"{penny(doc['system_savings'], currency)}.",
        "",
    ]
    names = [d["name"] for d in doc["by_party"].values()]
    out += ["| | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names)]
    for label, key, sign in STATEMENT_LINES:
        vals = [sign * d[key] for d in doc["by_party"].values()]
        if any(vals):
            out.append(f"| {label} | " + " | ".join(penny(v, currency) for v in vals) + " |")
    out.append(
        "| **Net position** | "
        + " | ".join(f"**{penny(d['net'], currency)}**" for d in doc["by_party"].values())
        + " |"
    )
    out += ["", "## From the expected to the actual pool", ""]
    out += bridge_table(doc["bridge"], currency) + [""]
    tu = doc.get("true_up")
    if tu:
        out += [f"## True-up against statement {tu['statement']:03d}", ""]
        out += true_up_lines(tu, currency) + [""]
    out += [
        "Every figure is in whole pence: the transfers and retained shares add up to the pool "
        "and the net positions to the system savings exactly.",
        "",
    ]
    return "\n".join(out)


def true_up_lines(tu: dict, currency: str) -> list[str]:
    lines = [
        f"- {d['name']}: {penny(d['adjustment'], currency, sign=True)}"
        for d in tu["by_party"].values()
    ]
    lines.append(f"- Change in the pool: {penny(tu['pool_change'], currency, sign=True)}")
    if tu.get("agreement_changed"):
        lines.append("- The earlier statement was settled under a different agreement.")
    return lines


def forecast_markdown(doc: dict, currency: str) -> str:
    out = [f"# Forecast settlement: {doc['year_label']} after {doc['months_to_date']} months", ""]
    out += [
        f"Share of the year's activity to date: {100 * doc['share_of_year']:.1f}% "
        f"(profile: {'flat' if doc['profile'] == 'flat' else 'stated'}). The rest of the year "
        f"is drawn from the case's {doc['scenarios']:,} scenarios.",
        "",
    ]
    out += [
        "| Party | Expected transfer | 5% - 95% | Expected net | 5% - 95% |",
        "|---|---:|---:|---:|---:|",
    ]
    for d in doc["by_party"].values():
        t, n = d["transfer"], d["net"]
        out.append(
            f"| {d['name']} | {penny(t['expected'], currency)} | "
            f"{penny(t['p5'], currency)} to {penny(t['p95'], currency)} | "
            f"{penny(n['expected'], currency)} | {penny(n['p5'], currency)} to "
            f"{penny(n['p95'], currency)} |"
        )
    p = doc["pool"]
    out += [
        "",
        f"Pool: {penny(p['expected'], currency)} expected, {penny(p['p5'], currency)} to "
        f"{penny(p['p95'], currency)}.",
        "",
    ]
    return "\n".join(out)


def print_outturn(doc: dict) -> None:
    """The settled years on the terminal, to the penny."""
    cur, out = doc["currency"], console()
    for yd in doc["years"]:
        out.print(
            f"Settlement of {yd['year_label']} under {doc['agreement']}, from "
            f"{doc['actuals']['file']}",
            highlight=False,
        )
        out.print(
            f"Pool {penny(yd['pool'], cur)} (expected spend "
            f"{penny(yd['expected_spend'], cur)}, actual {penny(yd['actual_spend'], cur)})\n"
            f"Transfers {penny(yd['transfers'], cur)}, retained "
            f"{penny(yd['retained'], cur)}; system savings "
            f"{penny(yd['system_savings'], cur)}",
            highlight=False,
        )
        out.print(_party_table(yd, cur))
        b = yd["bridge"]
        steps = "; ".join(
            f"{label.lower()} {penny(v, cur)}" for label, v in _bridge_steps(b) if abs(v) >= 0.005
        )
        out.print(
            f"Bridge: expected pool {penny(b['expected_pool'], cur)}"
            + (f"; {steps}" if steps else "")
            + f"; actual pool {penny(b['actual_pool'], cur)}",
            highlight=False,
        )
        _print_kept(out, yd, cur, doc.get("out"))


def _bridge_steps(b: dict):
    return bridge_rows(b)[1:-1]


def _print_kept(out, yd: dict, cur: str, folder: str | None) -> None:
    if yd.get("unchanged_from"):
        out.print(
            f"unchanged from statement {yd['unchanged_from']:03d}: nothing written", highlight=False
        )
        return
    tu = yd.get("true_up")
    if tu:
        out.print(f"True-up against statement {tu['statement']:03d}:", highlight=False)
        for line in true_up_lines(tu, cur):
            out.print("  " + line[2:], highlight=False)
    for f in yd.get("files", []):
        out.print(f"wrote {Path(folder or '.') / f}", highlight=False)


def _party_table(yd: dict, cur: str) -> Table:
    t = Table(title_justify="left")
    for col in ("Party", "Revenue change", "Cost change", "Transfer", "Retained", "Net position"):
        t.add_column(col, justify="left" if col == "Party" else "right")
    for d in yd["by_party"].values():
        t.add_row(
            d["name"],
            penny(d["revenue_change"], cur),
            penny(d["cost_change"], cur),
            penny(d["transfer"], cur),
            penny(d["retained"], cur),
            penny(d["net"], cur),
        )
    return t


def print_forecast(doc: dict) -> None:
    cur, out = doc["currency"], console()
    out.print(
        f"Forecast of {doc['year_label']} after {doc['months_to_date']} months "
        f"({100 * doc['share_of_year']:.1f}% of the year's activity), the rest drawn from "
        f"{doc['scenarios']:,} scenarios",
        highlight=False,
    )
    t = Table(title_justify="left")
    heads = ("Party", "Projected transfer", "Expected transfer", "Transfer, 5% to 95%",
             "Expected net")  # fmt: skip
    for col in heads:
        t.add_column(col, justify="left" if col == "Party" else "right")
    proj = doc["projection"]["by_party"]
    for pid, d in doc["by_party"].items():
        tr = d["transfer"]
        t.add_row(d["name"], penny(proj[pid]["transfer"], cur), penny(tr["expected"], cur),
                  f"{penny(tr['p5'], cur)} to {penny(tr['p95'], cur)}",
                  penny(d["net"]["expected"], cur))  # fmt: skip
    out.print(t)
    p = doc["pool"]
    out.print(
        f"Pool: projected {penny(doc['projection']['pool'], cur)}; expected "
        f"{penny(p['expected'], cur)}, 5% {penny(p['p5'], cur)}, 95% "
        f"{penny(p['p95'], cur)}",
        highlight=False,
    )
    for f in doc.get("files", []):
        out.print(f"wrote {Path(doc.get('out') or '.') / f}", highlight=False)


# ---------------------------------------------------------------- the documents with history


def _head(doc: dict) -> dict:
    return {k: doc[k] for k in ("case", "agreement", "currency", "actuals")}


def keep_outturn(out: Path | None, doc: dict) -> dict:
    """The settle document with each year's statement number, true-up and files; the
    statements kept in `out` (when given)."""
    years = []
    for yd in doc["years"]:
        kept = keep(out, "statement", yd, doc["currency"], _head(doc)) if out else Kept("", None)
        years.append(
            yd
            | {
                "statement": kept.number,
                "unchanged_from": kept.unchanged_from,
                "true_up": kept.true_up,
                "files": kept.files,
            }
        )
    return doc | {"out": str(out) if out else None, "years": years}


def keep_forecast(out: Path | None, doc: dict) -> dict:
    """The forecast document, kept in `out` (when given) as the next numbered forecast."""
    body = {k: v for k, v in doc.items() if k not in _head(doc) and k != "command"}
    kept = keep(out, "forecast", body, doc["currency"], _head(doc)) if out else Kept("", None)
    return doc | {"out": str(out) if out else None, "forecast": kept.number, "files": kept.files}


def statement_frame(yd: dict):
    """One year's statement as a table (pandas): a row per line, a column per party, pounds."""
    parties = yd["by_party"]
    rows = {
        label: [sign * d[key] for d in parties.values()] for label, key, sign in STATEMENT_LINES
    }
    rows["Net position"] = [d["net"] for d in parties.values()]
    return pd.DataFrame(rows, index=[d["name"] for d in parties.values()]).T
