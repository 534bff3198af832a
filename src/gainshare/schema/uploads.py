"""Files the room uploads (a case as YAML, JSON or an Excel workbook; an agreement as YAML or
JSON) read with the same rules as the command line, and the case and agreement written back as
YAML. Every problem is one line naming the file; nothing from a file is ever executed."""

from __future__ import annotations

from pathlib import Path

import yaml

from gainshare.schema.agreement import Agreement
from gainshare.schema.case import Case
from gainshare.schema.io import (
    MAX_FILE_BYTES,
    InputError,
    agreement_from_mapping,
    agreement_to_dict,
    case_from_bytes,
    parse_text,
)

CASE_TYPES = ("yaml", "yml", "json", "xlsx")
AGREEMENT_TYPES = ("yaml", "yml", "json")
MAX_UPLOAD_MB = MAX_FILE_BYTES // (1024 * 1024)


def _checked(name: str, data: bytes, types: tuple[str, ...], what: str) -> str:
    """The file's type (suffix), after the checks every upload passes."""
    suffix = Path(name).suffix.lower().lstrip(".")
    if suffix not in types:
        kinds = ", ".join(f".{t}" for t in types if t != "yml")
        raise InputError([f"{name}: {what} is a {kinds} file: choose one of those"])
    if len(data) > MAX_FILE_BYTES:
        raise InputError([f"{name}: file is {len(data):,} bytes, over the {MAX_FILE_BYTES:,}-byte "
                          "limit: split it"])  # fmt: skip
    if suffix != "xlsx" and not data.strip():
        raise InputError([f"{name}: file is empty: write the {what} as YAML (see cases/)"])
    return suffix


def _text(name: str, data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise InputError([f"{name}: byte {e.start} is not UTF-8 text: save as UTF-8"]) from None


def load_upload(name: str, data: bytes) -> Case:
    """A case from an uploaded YAML, JSON or Excel file, read by the same loader as a file on
    disk (the same limits, duplicate keys, aliases and numbers refused the same way);
    InputError with one line a problem."""
    return case_from_bytes(name, data)


def load_agreement_upload(name: str, data: bytes, case: Case) -> Agreement:
    """An agreement from an uploaded YAML or JSON file, checked against the case (its parties,
    roles and years)."""
    suffix = _checked(name, data, AGREEMENT_TYPES, "an agreement")
    mapping = parse_text(_text(name, data), name, json_first=suffix == "json")
    return agreement_from_mapping(mapping, name, case)


def case_dict(case: Case) -> dict:
    """Plain data of a case, as written to its YAML file (defaults left out)."""
    return case.model_dump(mode="json", exclude_none=True, exclude_defaults=True)


def case_yaml(case: Case) -> str:
    return yaml.safe_dump(case_dict(case), sort_keys=False, allow_unicode=True, width=100)


def agreement_yaml(agreement: Agreement) -> str:
    return yaml.safe_dump(agreement_to_dict(agreement), sort_keys=False, allow_unicode=True)


__all__ = ["AGREEMENT_TYPES", "CASE_TYPES", "MAX_UPLOAD_MB", "InputError", "agreement_yaml",
           "case_dict", "case_yaml", "load_agreement_upload", "load_upload"]  # fmt: skip
