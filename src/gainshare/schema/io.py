"""Reading case and agreement files safely, and turning every problem into one line that names
the file, the field path, what is wrong and how to fix it."""

from __future__ import annotations

import difflib
import json
import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from gainshare.schema.agreement import Agreement
from gainshare.schema.case import Case
from gainshare.schema.rules import rule_problems
from gainshare.units import currency_words, money

MAX_FILE_BYTES = 5 * 1024 * 1024


class InputError(Exception):
    """Bad input: one line per problem, each naming file, field and fix."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


def _vocabulary() -> set[str]:
    from gainshare.schema import agreement, case, common, requirements

    words: set[str] = set()
    for mod in (case, agreement, common, requirements):
        for obj in vars(mod).values():
            if isinstance(obj, type) and issubclass(obj, BaseModel):
                words.update(obj.model_fields)
    return words


# Parts of a pydantic error location that name a branch of a union, not a field. An uncertain
# parameter is `number | distribution | list of those`, so one bad value fails all three.
_BRANCH_PREFIXES = ("tagged-union[", "list[", "union[", "function-")
_SCALAR_BRANCHES = ("float", "int", "str", "bool")


def _is_branch(part) -> bool:
    return isinstance(part, str) and (part in _SCALAR_BRANCHES or part.startswith(_BRANCH_PREFIXES))


_INT_KEYED = ("year_overrides",)  # mappings keyed by a number: 'year_overrides.2', not '[2]'


def _loc_to_path(loc: tuple) -> str:
    out = ""
    after_tag = False
    for i, part in enumerate(loc):
        if after_tag:  # the discriminator value ('uniform', ...) after a tagged union
            after_tag = False
            continue
        if _is_branch(part):
            after_tag = part.startswith("tagged-union[")
            continue
        if isinstance(part, int) and not (i and loc[i - 1] in _INT_KEYED):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


def _intended_branch(value) -> str:
    """The union branch a value was written for: a mapping is a distribution, a list is one
    value per year, anything else a number."""
    if isinstance(value, dict):
        return "tagged-union["
    if isinstance(value, list):
        return "list["
    return "float"


def _relevant(errors: list[dict]) -> list[dict]:
    """Drop the failures of union branches the input was not written for, at every level
    (a distribution that is wrong should not also be told it is not a number or a list)."""
    raw = {e["loc"][:-1]: e["input"] for e in errors if e["loc"] and e["loc"][-1] == "float"}
    kept = []
    for e in errors:
        loc, ok = e["loc"], True
        for i, part in enumerate(loc):
            if not _is_branch(part) or loc[:i] not in raw:
                continue
            want = _intended_branch(raw[loc[:i]])
            offered = any(
                len(o["loc"]) > i and o["loc"][:i] == loc[:i] and str(o["loc"][i]).startswith(want)
                for o in errors
            )
            if offered and not str(part).startswith(want):
                ok = False
                break
        if ok:
            kept.append(e)
    return kept or errors


def _is_param(err: dict, errors: list[dict]) -> bool:
    """Whether a number error belongs to an uncertain parameter (which also takes a
    distribution or a list)."""
    loc = err["loc"]
    return (
        bool(loc)
        and loc[-1] == "float"
        and any(
            o["loc"][:-1] == loc[:-1] and str(o["loc"][-1]).startswith("tagged-union[")
            for o in errors
        )
    )


def _bound(v) -> str:
    return f"{v:g}" if isinstance(v, int | float) else str(v)


def _message(err: dict) -> str:  # noqa: C901 - one branch per pydantic error kind
    kind = err["type"]
    ctx = err.get("ctx") or {}
    if kind == "extra_forbidden":
        key = str(err["loc"][-1])
        near = difflib.get_close_matches(key, sorted(_vocabulary()), n=1, cutoff=0.7)
        hint = f" (did you mean '{near[0]}'?)" if near else ""
        return f"unknown key '{key}': remove it or fix the spelling{hint}"
    if kind == "missing":
        return "is required but missing: add it"
    if kind in ("greater_than_equal", "greater_than"):
        bound = ctx.get("ge", ctx.get("gt"))
        word = "at least" if kind == "greater_than_equal" else "above"
        return (
            f"is {err.get('input')!r}: it must be {word} {_bound(bound)}; fix the value or its sign"
        )
    if kind in ("less_than_equal", "less_than"):
        bound = ctx.get("le", ctx.get("lt"))
        word = "at most" if kind == "less_than_equal" else "below"
        return f"is {err.get('input')!r}: it must be {word} {_bound(bound)}; fix the value"
    if kind in ("float_parsing", "float_type", "int_parsing", "int_type", "int_from_float"):
        if err.get("param"):
            per_year = "" if err["param"] == "item" else ", or a list with one per year"
            return (
                f"is {err.get('input')!r}, not a number: write a number or a distribution "
                f"such as {{dist: uniform, low: 0.4, high: 0.7}}{per_year}"
            )
        what = "a whole number" if kind.startswith("int") else "a number"
        return f"is {err.get('input')!r}, not {what}: write a plain number"
    if kind == "literal_error":
        return f"is {err.get('input')!r}: use one of {ctx.get('expected')}"
    if kind == "union_tag_invalid":
        return (
            f"distribution '{ctx.get('tag')}' is unknown: use one of fixed, uniform, "
            "triangular, normal, discrete"
        )
    if kind == "union_tag_not_found":
        return "a distribution needs 'dist': one of fixed, uniform, triangular, normal, discrete"
    if kind == "string_pattern_mismatch":
        return f"is {err.get('input')!r}: ids start with a letter and use letters, digits, _ or -"
    if kind == "value_error":
        return str(ctx.get("error", err["msg"]))
    if kind in ("model_type", "dict_type", "model_attributes_type"):
        return "should be a mapping of keys to values: check the indentation"
    if kind == "list_type":
        return "should be a list: write it as '- item' lines or [a, b]"
    if kind == "too_short":
        return "is empty or too short: add at least one entry"
    if kind == "finite_number":
        return "is not a finite number: write a plain number"
    if kind in ("string_type", "bool_type", "bool_parsing"):
        return f"is {err.get('input')!r}: {err['msg'].lower()}"
    return err["msg"]


# A check message that starts with the field it is about: 'contracts[0].price is ...'
_SUBPATH = re.compile(
    r"^(?P<sub>[A-Za-z_][\w\-]*(?:\[\d+\]|\.[\w\-]+)+)(?::\s*|\s+)(?P<rest>.+)$", re.S
)


def _line(file: str, path: str, msg: str) -> str:
    """'FILE: PATH: message', taking a leading field path out of a check's message."""
    m = _SUBPATH.match(msg)
    if m:
        sub = m["sub"]
        if path == "(top level)" or sub.startswith(path + ".") or sub.startswith(path + "["):
            path = sub
        else:
            path = f"{path}.{sub}"
        msg = m["rest"]
    return f"{file}: {path}: {msg}"


MAX_LINES = 30  # problems listed per file; the rest are counted


def format_validation(file: str, exc: ValidationError) -> list[str]:
    """One line per error: FILE: PATH: what is wrong and how to fix it."""
    lines, seen = [], set()
    errors = list(exc.errors())
    for err in _relevant(errors):
        if _is_param(err, errors):
            in_list = any(str(part).startswith("list[") for part in err["loc"])
            err = dict(err, param="item" if in_list else "param")
        line = _line(file, _loc_to_path(err["loc"]), _message(err))
        if line not in seen:
            seen.add(line)
            lines.append(line)
    if len(lines) > MAX_LINES:
        more = len(lines) - MAX_LINES
        lines = lines[:MAX_LINES] + [f"{file}: {more:,} more problems: fix those above first"]
    return lines


def input_file_size(p: Path, name: str, kind: str) -> int:
    """Size in bytes of an input file that exists, is a file and is within the size limit;
    otherwise one line naming the file and the fix. `kind` says what file was expected."""
    if not p.exists():
        raise InputError([f"{name}: file not found: check the path"])
    if p.is_dir():
        raise InputError([f"{name}: is a folder, not a file: give the path of a {kind}"])
    size = p.stat().st_size
    if size > MAX_FILE_BYTES:
        raise InputError(
            [f"{name}: file is {size:,} bytes, over the {MAX_FILE_BYTES:,}-byte limit: split it"]
        )
    return size


def read_mapping(path: str | Path) -> dict[str, Any]:
    """Read a YAML or JSON file into a mapping, refusing anything unsafe or malformed."""
    p = Path(path)
    name = str(path)
    input_file_size(p, name, ".yaml file")
    raw = p.read_bytes()
    if not raw.strip():
        raise InputError([f"{name}: file is empty: write the case as YAML (see cases/)"])
    if b"\x00" in raw:
        raise InputError([f"{name}: is a binary file, not YAML or JSON text: check the file"])
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise InputError(
            [f"{name}: byte {e.start} is not UTF-8 text: save the file as UTF-8"]
        ) from None
    return parse_text(text, name, json_first=p.suffix.lower() == ".json")


# The safe loader, in C (libyaml) where PyYAML was built with it: a 10-party case parses in
# a few milliseconds instead of 25. Both build plain data only (no tags, no objects).
SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def parse_text(text: str, name: str, json_first: bool = False) -> dict[str, Any]:
    try:
        data = json.loads(text) if json_first else yaml.load(text, Loader=SAFE_LOADER)
    except json.JSONDecodeError as e:
        raise InputError([f"{name}: line {e.lineno}: malformed JSON ({e.msg}): fix it"]) from None
    except yaml.constructor.ConstructorError as e:
        mark = e.problem_mark
        where = f"line {mark.line + 1}: " if mark else ""
        raise InputError(
            [
                f"{name}: {where}YAML tag not allowed ({e.problem}): cases are plain data, "
                "remove the tag"
            ]
        ) from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(e, "problem", None) or "not valid YAML"
        raise InputError(
            [f"{name}: {where}malformed YAML ({problem}): check indentation and colons"]
        ) from None
    if data is None:
        raise InputError([f"{name}: file has no content: write the case as YAML (see cases/)"])
    if not isinstance(data, dict):
        raise InputError(
            [f"{name}: top level is a {type(data).__name__}, not a mapping of keys: see cases/"]
        )
    return data


def case_from_mapping(data: dict, name: str = "case") -> Case:
    try:
        return Case.model_validate(data)
    except ValidationError as e:
        raise InputError(format_validation(name, e)) from None


def agreement_from_mapping(data: dict, name: str = "agreement", case: Case | None = None):
    try:
        agreement = Agreement.model_validate(data)
    except ValidationError as e:
        raise InputError(format_validation(name, e)) from None
    if case is not None:
        problems = [f"{name}: {p}" for p in agreement_problems(agreement, case)]
        if problems:
            raise InputError(problems)
    return agreement


def load_case(path: str | Path) -> Case:
    """Read and validate a case file (YAML, JSON or an Excel workbook)."""
    if str(path).lower().endswith(".xlsx"):
        from gainshare.schema.workbook import read_case_workbook

        return read_case_workbook(path)
    return case_from_mapping(read_mapping(path), str(path))


def load_agreement(path: str | Path, case: Case | None = None) -> Agreement:
    """Read and validate an agreement file; with a case, check it names the case's parties."""
    return agreement_from_mapping(read_mapping(path), str(path), case)


def agreement_problems(agreement: Agreement, case: Case) -> list[str]:
    """Problems that only show against a case: unknown parties, roles, horizon."""
    out: list[str] = []
    n = case.horizon.years
    for y in agreement.year_overrides:
        if not 1 <= y <= n:
            out.append(
                f"year_overrides.{y}: the case runs {n} year{'s' if n != 1 else ''}: use a year "
                f"from 1 to {n}"
            )
    blocks = [("terms", agreement.terms)] + [
        (f"year_overrides.{y}", ov) for y, ov in agreement.year_overrides.items()
    ]
    for where, t in blocks:
        out += _term_problems(where, t, case)
    return out + rule_problems(agreement, case)


def _term_problems(where: str, t, case: Case) -> list[str]:
    """Parties named by one block of terms (the base terms or a year's override)."""
    out: list[str] = []
    ids, prov, comm = set(case.party_ids), set(case.provider_ids), set(case.commissioner_ids)
    for kind in ("gain_tiers", "loss_tiers"):
        for k, tier in enumerate(getattr(t, kind) or []):
            out += [
                f"{where}.{kind}[{k}].shares.{pid}: no party '{pid}' in the case: "
                "fix the id or add the party"
                for pid in tier.shares
                if pid not in ids
            ]
    for kind in ("caps", "collars", "gateway"):
        for pid in getattr(t, kind) or {}:
            if pid not in prov:
                what = "not a party in the case" if pid not in ids else "not a provider"
                out.append(
                    f"{where}.{kind}.{pid}: '{pid}' is {what}: {kind} apply to providers only"
                )
    out += [
        f"{where}.commissioner_split.{pid}: '{pid}' is not a commissioner in the case: "
        "split the retained amount among commissioners only"
        for pid in t.commissioner_split or {}
        if pid not in comm
    ]
    out += [
        f"{where}.gateway.{pid}: the case has no quality_scores for '{pid}': add "
        "them to the case or remove the gateway"
        for pid in t.gateway or {}
        if pid in prov and pid not in case.quality_scores
    ]
    return out


def case_warnings(case: Case) -> list[str]:
    """Figures that parse but look like a units slip (e.g. a ward costing 2 instead of 2m), said
    in the case's own currency."""
    many = currency_words(case.currency)[1]
    cur = case.currency
    out = []
    for i, c in enumerate(case.contracts):
        st = c.costs.stepped
        if st is not None and st.cost_per_step < 10_000:
            out.append(
                f"contracts[{i}].costs.stepped.cost_per_step is {money(st.cost_per_step, cur)}: "
                f"a ward or team usually costs hundreds of thousands of {many} a year; check the "
                "units"
            )
        if c.rule in ("activity", "blended") and 0 < c.price < 10:
            out.append(
                f"contracts[{i}].price is {c.price:,.2f} {many} per {c.unit}: check it is in "
                f"{many}, not thousands of {many}"
            )
        if c.rule == "block" and c.fixed_payment is not None and 0 < c.fixed_payment < 10_000:
            out.append(
                f"contracts[{i}].fixed_payment is {money(c.fixed_payment, cur)} a year: check the "
                f"units (whole {many}, not thousands)"
            )
    return out


def agreement_to_dict(agreement: Agreement) -> dict:
    """Plain data of an agreement, as written to its YAML file (defaults left out)."""
    return agreement.model_dump(mode="json", exclude_none=True, exclude_defaults=True) | {
        "terms": agreement.terms.model_dump(mode="json", exclude_none=True)
    }


def write_agreement(agreement: Agreement, path: str | Path) -> None:
    """Write an agreement file atomically (nothing half-written)."""
    p = Path(path)
    text = yaml.safe_dump(agreement_to_dict(agreement), sort_keys=False, allow_unicode=True)
    tmp = p.with_name(f".{p.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(p)
