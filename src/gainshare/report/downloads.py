"""The files the room takes away from the workshop app: the term sheet (HTML, Markdown), the
agreement (YAML), the statements workbook (Excel) and the case as edited (YAML). Each file is
named after the case and the agreement it holds, so that two agreements never download under
one name; a file is made only when it is asked for."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from dataclasses import dataclass

from gainshare.report.statements import build_statements
from gainshare.report.termsheet import term_sheet
from gainshare.schema.agreement import Agreement
from gainshare.schema.case import Case
from gainshare.schema.uploads import agreement_yaml, case_yaml
from gainshare.settle.check import CheckResult

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@dataclass(frozen=True)
class Download:
    label: str
    file_name: str
    mime: str
    make: Callable[[], bytes]  # called only when the file is asked for


def slug(text: str, limit: int = 40) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:limit].strip("-") or "agreement"


def file_stem(case: Case, agreement: Agreement) -> str:
    """'eastbrook-workshop-case-six-organisations.the-room-s-proposal'."""
    return f"{slug(case.name)}.{slug(agreement.name)}"


def downloads(case: Case, agreement: Agreement, result: CheckResult) -> list[Download]:
    """Term sheet (HTML, Markdown), the agreement, the Excel workbook (summary, agreement,
    statements, every scenario in pounds and pence, inputs) and the case as edited."""
    stem = file_stem(case, agreement)

    def sheet():
        return term_sheet(case, agreement, result)

    def workbook() -> bytes:
        wb, _ = build_statements(case, agreement, result)
        buf = io.BytesIO()
        wb.save(buf)
        return buf.getvalue()

    return [
        Download("Term sheet (HTML)", f"{stem}.term-sheet.html", "text/html",
                 lambda: sheet().html().encode("utf-8")),
        Download("Term sheet (Markdown)", f"{stem}.term-sheet.md", "text/markdown",
                 lambda: sheet().markdown().encode("utf-8")),
        Download("Agreement (YAML)", f"{stem}.agreement.yaml", "application/x-yaml",
                 lambda: agreement_yaml(agreement).encode("utf-8")),
        Download("Workbook (Excel)", f"{stem}.xlsx", XLSX, workbook),
        Download("Case (YAML)", f"{slug(case.name)}.case.yaml", "application/x-yaml",
                 lambda: case_yaml(case).encode("utf-8")),
    ]  # fmt: skip


__all__ = ["Download", "downloads", "file_stem", "slug"]
