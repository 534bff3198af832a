"""The one loader: every command, the app and the Python API read cases, agreements and sweep
cases through these functions, under one set of rules (SPEC section 7).

The floors below it: `schema.files` reads bytes and parses YAML or JSON (regular files only,
sizes, duplicate keys, aliases, nesting, finite numbers); `schema.mapping` validates plain data
into models and says every problem in one line; `schema.workbook` reads a case workbook. This
module picks the reader by the file's extension and writes agreement files."""

from __future__ import annotations

from pathlib import Path

import yaml

from gainshare.errors import InputError
from gainshare.output import atomic_file
from gainshare.schema.agreement import Agreement
from gainshare.schema.case import Case
from gainshare.schema.files import (
    MAX_FILE_BYTES,
    decode_text,
    parse_text,
    read_input,
    read_mapping,
)
from gainshare.schema.mapping import (
    agreement_from_mapping,
    agreement_problems,
    case_from_mapping,
    case_warnings,
)
from gainshare.schema.messages import format_validation
from gainshare.schema.workbook import read_case_workbook, read_case_workbook_bytes

WORKBOOK = ".xlsx"
CASE_TYPES = (".yaml", ".yml", ".json", WORKBOOK)


def is_workbook(path: str | Path) -> bool:
    return str(path).lower().endswith(WORKBOOK)


def load_case(path: str | Path) -> Case:
    """Read and validate a case file (YAML, JSON or an Excel workbook)."""
    if is_workbook(path):
        return read_case_workbook(path)
    return case_from_mapping(read_mapping(path), str(path))


def load_case_data(path: str | Path) -> tuple[dict, Case]:
    """A case file as plain data (what a sweep's grid edits) and as a validated Case."""
    if is_workbook(path):
        case = read_case_workbook(path)
        return case.model_dump(mode="json", exclude_none=True), case
    data = read_mapping(path)
    return data, case_from_mapping(data, str(path))


def case_from_bytes(name: str, data: bytes) -> Case:
    """A case from the bytes of an uploaded file, under the same rules as a file on disk."""
    suffix = Path(name).suffix.lower()
    if suffix not in CASE_TYPES:
        raise InputError([f"{name}: (file): a case is a .yaml, .json or .xlsx file: choose one "
                          "of those"])  # fmt: skip
    if len(data) > MAX_FILE_BYTES:
        raise InputError([f"{name}: (file): file is {len(data):,} bytes, over the "
                          f"{MAX_FILE_BYTES:,}-byte limit: split it"])  # fmt: skip
    if suffix == WORKBOOK:
        return read_case_workbook_bytes(data, name)
    text = decode_text(data, name)
    return case_from_mapping(parse_text(text, name, json_first=suffix == ".json"), name)


def load_agreement(path: str | Path, case: Case | None = None) -> Agreement:
    """Read and validate an agreement file; with a case, check it names the case's parties."""
    return agreement_from_mapping(read_mapping(path), str(path), case)


def agreement_to_dict(agreement: Agreement) -> dict:
    """Plain data of an agreement, as written to its YAML file (defaults left out)."""
    return agreement.model_dump(mode="json", exclude_none=True, exclude_defaults=True) | {
        "terms": agreement.terms.model_dump(mode="json", exclude_none=True)
    }


def write_agreement(
    agreement: Agreement, path: str | Path, force: bool = True, option: str = "--out"
) -> Path:
    """Write an agreement file atomically: nothing half-written, nothing left behind. Without
    `force`, an existing file is refused (see `gainshare.output`)."""
    text = yaml.safe_dump(agreement_to_dict(agreement), sort_keys=False, allow_unicode=True)
    with atomic_file(path, option, force) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


__all__ = [
    "MAX_FILE_BYTES",
    "InputError",
    "agreement_from_mapping",
    "agreement_problems",
    "agreement_to_dict",
    "case_from_bytes",
    "case_from_mapping",
    "case_warnings",
    "format_validation",
    "load_agreement",
    "load_case",
    "load_case_data",
    "parse_text",
    "read_input",
    "read_mapping",
    "write_agreement",
]
