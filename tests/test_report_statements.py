"""statements.xlsx: reopened with openpyxl, the per-scenario amounts re-add to the pool exactly
in whole pence, every statement adds up, and the summary and terms match the check."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
from openpyxl import load_workbook
from test_report_termsheet import example_pairs, report_agreement, report_case

import gainshare
from gainshare.report import statements as st_mod
from gainshare.report.statements import write_statements


def pence(v) -> int:
    return round(float(v) * 100)


def table(ws, header_row: int = 1) -> tuple[list[str], list[tuple]]:
    rows = list(ws.iter_rows(min_row=header_row, values_only=True))
    head = [h for h in rows[0] if h is not None]
    return head, [r[: len(head)] for r in rows[1:] if r[0] is not None]


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    case, agreement = report_case(), report_agreement()
    result = gainshare.check(case, agreement)
    path, note = write_statements(
        case, agreement, result, tmp_path_factory.mktemp("st") / "statements.xlsx"
    )
    assert note == ""
    return case, agreement, result, load_workbook(path)


def check_workbook(wb, result) -> None:
    """Every identity of the settlement, re-added from the cells in integer pence."""
    head, rows = table(wb["Settlement"])
    col = {h: i for i, h in enumerate(head)}
    pen = result.pence
    S, Y, P = pen.net.shape
    assert len(rows) == S * Y * P
    shared = defaultdict(int)
    contributed = defaultdict(int)
    net_sum = defaultdict(int)
    for r in rows:
        key = (r[col["Scenario"]], r[col["Year"]])
        p = {h: pence(r[col[h]]) for h in head[4:]}
        assert p["Net position"] == (
            p["Income change"] + p["Cost saved"] + p["Benefit booked"] + p["Transfer"]
            + p["Retained share of the pool"] + p.get("Received outside the pool", 0)
        )  # the one sign convention: each line is its effect on the party  # fmt: skip
        shared[key] += p["Transfer"] + p["Retained share of the pool"]
        contributed[key] += (p["Spend saved (into the pool)"]
                             - p["Scheme costs paid directly (out of the pool)"])  # fmt: skip
        net_sum[key] += p["Net position"]
    head, pool_rows = table(wb["Pool"])
    pc = {h: i for i, h in enumerate(head)}
    assert len(pool_rows) == S * Y
    e = result.settlement.econ
    for i, r in enumerate(pool_rows):
        key = (r[pc["Scenario"]], r[pc["Year"]])
        s, y = divmod(i, Y)
        assert key == (e.scenario_names[s], e.year_labels[y])
        pool = pence(r[pc["Pool"]])
        assert pool == int(pen.pool[s, y])  # the same pence as the settlement
        assert shared[key] == pool  # transfers plus retained shares re-add to the pool
        assert contributed[key] == pool  # spend saved less direct scheme costs is the pool
        assert pence(r[pc["Transfers"]]) + pence(r[pc["Retained"]]) == pool
        assert net_sum[key] == pence(r[pc["System savings"]]) == int(pen.system_savings[s, y])


def test_settlement_re_adds_to_the_pool_in_pence(synthetic):
    _, _, result, wb = synthetic
    check_workbook(wb, result)


@pytest.mark.parametrize("case_path,agreement_path", example_pairs(), ids=lambda p: p.stem)
def test_every_example_case_re_adds_to_the_pool(case_path, agreement_path, tmp_path):
    """Each example with its named scenarios and 40 Monte Carlo draws (fast, same terms)."""
    case = gainshare.load_case(case_path)
    fewer = case.uncertainty.model_copy(update={"scenarios": 40})
    case = case.model_copy(update={"uncertainty": fewer})
    agreement = gainshare.load_agreement(agreement_path, case)
    result = gainshare.check(case, agreement)
    path, _ = write_statements(case, agreement, result, tmp_path / "s.xlsx")
    check_workbook(load_workbook(path, read_only=True), result)


def test_money_cells_are_pounds_with_two_decimals(tmp_path):
    case, agreement = report_case(), report_agreement()
    result = gainshare.check(case, agreement)
    path, _ = write_statements(case, agreement, result, tmp_path / "s.xlsx")
    ws = load_workbook(path)["Settlement"]
    assert [c.number_format for c in ws[2][4:12]] == ["#,##0.00"] * 8
    assert [c.value for c in ws[1][4:10]] == ["Income change", "Cost saved", "Benefit booked",
                                              "Transfer", "Retained share of the pool",
                                              "Net position"]  # fmt: skip
    assert ws["A1"].value == "Scenario" and ws.freeze_panes == "A2"


def test_statements_sheet_adds_up_for_each_named_scenario(synthetic):
    case, _, result, wb = synthetic
    rows = list(wb["Statements"].iter_rows(values_only=True))
    names = [p.name for p in case.parties]
    blocks, current = {}, None
    for r in rows:
        if r[0] in names:
            current = r[0]
            blocks[current] = []
        elif current and r[0] is not None:
            blocks[current].append(r)
        elif r[0] is None:
            current = None
    assert rows[3][0] == "Scenario central"
    for lines in blocks.values():
        body, net = lines[:-1], lines[-1]
        assert net[0] == "Net position"
        for col in range(1, 5):  # three years and the whole agreement
            assert sum(pence(r[col]) for r in body) == pence(net[col])
    j = case.party_ids.index("acute")
    acute = blocks["Northshire Hospitals"]
    assert [pence(v) for v in acute[-1][1:4]] == [int(v) for v in result.pence.net[0, :, j]]


def _sum(ws, formula: str) -> float:
    """The value of '=SUM(D12:H12)' from the cells it names (openpyxl does not calculate)."""
    assert formula.startswith("=SUM(") and formula.endswith(")"), formula
    first, last = formula[5:-1].split(":")
    cells = ws[first:last]
    values = [c.value for row in cells for c in row]
    return sum(_sum(ws, v) if isinstance(v, str) else float(v or 0) for v in values)


def _summary_rows(ws, case):
    rows = list(ws.iter_rows())
    start = next(i for i, r in enumerate(rows) if r[0].value == "Party")
    head = [c.value for c in rows[start]]
    body = rows[start + 1 : start + 1 + len(case.parties)]
    return head, body, rows[start + 1 + len(case.parties)]


def test_summary_matches_the_check_and_adds_up_by_its_formulas(synthetic):
    """Each party's row: its lines (one sign convention: each its effect on the party) add up
    by the row's own formula to its net, which is the app's figure; the nets add up by the
    formula under the table to the expected system savings."""
    from gainshare.report.positions import expected_lines

    case, _, result, wb = synthetic
    ws = wb["Summary"]
    head, body, total = _summary_rows(ws, case)
    assert head[3:9] == ["Income change", "Cost saved", "Benefit booked", "Transfer",
                         "Retained share of the pool", "Net position"]  # fmt: skip
    lines = expected_lines(result)
    nets = 0
    for r in body:
        pid = r[0].value
        d = result.document["by_party"][pid]
        row = {h: c.value for h, c in zip(head, r, strict=False)}
        net = _sum(ws, row["Net position"])
        assert pence(net) == pence(lines[pid]["net"])
        assert abs(net - d["expected_net"]) <= 0.011
        assert row["Cost saved"] == lines[pid]["cost_saved"]
        assert row["Worst year"] == d["worst_net"]
        assert row["Kept whole in (share of scenarios)"] == d["prob_whole"]
        assert (
            row["Stranded fixed cost (expected, before any transfer)"]
            == (d["stranded_fixed_cost_expected"])
        )
        met = "yes" if d["requirement"]["met"] else "NO"
        assert row["Met"] == ("—" if d["requirement"]["mode"] == "none" else met)
        nets += net
    savings = _sum(ws, total[head.index("Net position")].value)
    assert pence(savings) == pence(nets)
    assert abs(savings - result.document["system_savings"]["expected"]) <= 0.011


def test_cost_saved_means_the_same_in_every_sheet(tmp_path):
    """The County Council of the workshop case: its costs rise (running reablement) while it
    books care placements avoided. Cost saved is one figure, with one sign, on the Summary, in
    the probability-weighted Settlement sheet and in the app's chart."""
    from gainshare.report.charts import waterfall_steps
    from gainshare.report.positions import expected_lines

    root = Path(__file__).resolve().parents[1]
    case = gainshare.load_case(root / "app" / "examples" / "workshop6.yaml")
    case = case.model_copy(update={"uncertainty": case.uncertainty.model_copy(
        update={"scenarios": 60})})  # fmt: skip
    agreement = gainshare.load_agreement(root / "app" / "examples" / "workshop6.agreement.yaml",
                                         case)  # fmt: skip
    result = gainshare.check(case, agreement)
    path, _ = write_statements(case, agreement, result, tmp_path / "s.xlsx")
    wb = load_workbook(path)
    head, body, _ = _summary_rows(wb["Summary"], case)
    council = next(r for r in body if r[0].value == "council")
    summary = council[head.index("Cost saved")].value
    head_s, rows = table(wb["Settlement"])
    col = {h: i for i, h in enumerate(head_s)}
    weighted = sum(r[col["Weight"]] * r[col["Cost saved"]] for r in rows
                   if r[col["Party"]] == "council")  # fmt: skip
    j = case.party_ids.index("council")
    chart = dict(waterfall_steps(result, j))["Cost saved"]
    assert summary < 0 and weighted < 0 and chart < 0  # its costs rise: negative everywhere
    assert abs(summary - weighted) < 0.05 and summary == chart
    assert summary == expected_lines(result)["council"]["cost_saved"]


def test_terms_year_by_year_in_pounds(synthetic):
    """Hand-worked: expected spend 30m, ACUTE's expected payment 20m (see the case)."""
    _, _, _, wb = synthetic
    rows = list(wb["Agreement"].iter_rows(values_only=True))
    terms = {(r[0], r[1]): r[2:5] for r in rows if r[0] and r[1] and isinstance(r[0], str)}
    assert terms[("Gain threshold", "pool")] == (120_000, 120_000, 120_000)
    assert terms[("Loss threshold", "pool")] == (250_000, 250_000, 250_000)
    assert terms[("Gain tier 1 upper edge", "shareable amount")] == (300_000,) * 3
    assert terms[("Gain tier 2 upper edge", "shareable amount")] == (600_000,) * 3
    assert terms[("Gain tier 3 share", "icb")] == (0.5, 0.5, 0.5)
    assert terms[("Cap", "acute")] == (2_000_000, 2_000_000, 2_000_000)
    assert terms[("Cap", "comm")] == (750_000,) * 3
    assert terms[("Collar", "acute")] == (250_000, 1_000_000, 1_000_000)
    assert terms[("Collar", "comm")] == (0, None, None)
    assert terms[("Quality gateway", "comm")] == ("full at 90, none below 60",) * 3
    clauses = [r[1] for r in rows if isinstance(r[0], int)]
    assert clauses[:4] == [
        "Parties and scope", "Baseline expected spend", "How the pool is measured", "Corridor"
    ]  # fmt: skip


def test_inputs_and_assumptions_are_listed(synthetic):
    _, _, _, wb = synthetic
    inputs = [r for r in wb["Inputs"].iter_rows(values_only=True)]
    assert ("acute_nel", "Emergency admissions", "icb", "acute") == inputs[
        next(i for i, r in enumerate(inputs) if r[0] == "acute_nel")
    ][:4]
    ass = {r[0]: r for r in wb["Assumptions"].iter_rows(values_only=True) if r[0]}
    assert ass["schemes.hah.targeting"][2] == "uniform(0.5, 0.8)"
    assert ass["schemes.hah.targeting"][3:6] == (0.5, 0.8, "yes")
    assert ass["Seed"][1] == 7 and ass["Monte Carlo scenarios"][1] == 40


def test_long_settlements_are_cut_with_a_note(monkeypatch, tmp_path):
    case, agreement = report_case(), report_agreement()
    result = gainshare.check(case, agreement)
    S, Y, P = result.pence.net.shape
    monkeypatch.setattr(st_mod, "MAX_SETTLEMENT_ROWS", 5 * Y * P + 3)
    path, note = write_statements(case, agreement, result, tmp_path / "s.xlsx")
    total = S * Y * P
    assert note == (
        f"The Settlement sheet lists the first 5 of {S} scenarios ({5 * Y * P} of {total} rows)."
    )
    wb = load_workbook(Path(path), read_only=True)
    ws = wb["Settlement"]
    first = next(ws.iter_rows(max_row=1, values_only=True))
    assert first[13] == (
        f"Only the first 5 of {S} scenarios are listed ({5 * Y * P} of {total} rows); the "
        "Summary covers every scenario."
    )
    assert sum(1 for _ in ws.iter_rows(min_row=2)) == 5 * Y * P
    summary = [r[0] for r in wb["Summary"].iter_rows(values_only=True) if r]
    assert note in summary
    assert np.isfinite(result.pence.pool).all()


def test_summary_has_a_native_chart_of_the_net_positions(synthetic):
    """An Excel bar chart (no image renderer needed) drawn from the by-year table."""
    case, _, result, wb = synthetic
    ws = wb["Summary"]
    (chart,) = ws._charts
    years = result.document["year_labels"]
    assert len(chart.series) == len(years)
    header = next(r for r in ws.iter_rows() if [c.value for c in r[2 : 2 + len(years)]] == years)
    first = header[0].row + 1
    last = first + len(result.document["by_party"]) - 1
    assert chart.series[0].val.numRef.f == f"'Summary'!$C${first}:$C${last}"
    names = [ws.cell(row=r, column=2).value for r in range(first, last + 1)]
    assert names == [p.name for p in case.parties]
