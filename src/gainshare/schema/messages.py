"""Schema errors in words: every pydantic validation error of a case, an agreement or a sweep
becomes one line `FILE: FIELD: what is wrong: fix`, quoting at most a short excerpt of what
was written."""

from __future__ import annotations

import difflib
import re

from pydantic import BaseModel, ValidationError

from gainshare.errors import FILE, excerpt
from gainshare.schema import agreement, case, common, requirements, sweep


def _vocabulary() -> set[str]:
    words: set[str] = set()
    for mod in (case, agreement, common, requirements, sweep):
        for obj in vars(mod).values():
            if isinstance(obj, type) and issubclass(obj, BaseModel):
                words.update(obj.model_fields)
    return words


VOCABULARY = frozenset(_vocabulary())
TOP = "(top level)"

# Parts of a pydantic error location that name a branch of a union, not a field. An uncertain
# parameter is `number | distribution | list of those`, so one bad value fails all three.
_BRANCH_PREFIXES = ("tagged-union[", "list[", "union[", "function-")
_NUMBER_BRANCHES = ("float", "constrained-float")
_SCALAR_BRANCHES = (*_NUMBER_BRANCHES, "int", "constrained-int", "str", "bool")


def _is_branch(part) -> bool:
    return isinstance(part, str) and (part in _SCALAR_BRANCHES or part.startswith(_BRANCH_PREFIXES))


_INT_KEYED = ("year_overrides",)  # mappings keyed by a number: 'year_overrides.2', not '[2]'


def loc_to_path(loc: tuple) -> str:
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
            out += ("." if out else "") + excerpt(part).strip("'")
    return out or TOP


def _intended_branch(value) -> str:
    """The union branch a value was written for: a mapping is a distribution, a list is one
    value per year, anything else a number."""
    if isinstance(value, dict):
        return "tagged-union["
    if isinstance(value, list):
        return "list["
    return "float|constrained-float"


def _starts(part, want: str) -> bool:
    return any(str(part).startswith(w) for w in want.split("|"))


def _relevant(errors: list[dict]) -> list[dict]:
    """Drop the failures of union branches the input was not written for, at every level
    (a distribution that is wrong should not also be told it is not a number or a list)."""
    raw = {e["loc"][:-1]: e["input"] for e in errors
           if e["loc"] and e["loc"][-1] in _NUMBER_BRANCHES}  # fmt: skip
    kept = []
    for e in errors:
        loc, ok = e["loc"], True
        for i, part in enumerate(loc):
            if not _is_branch(part) or loc[:i] not in raw:
                continue
            want = _intended_branch(raw[loc[:i]])
            offered = any(
                len(o["loc"]) > i and o["loc"][:i] == loc[:i] and _starts(o["loc"][i], want)
                for o in errors
            )
            if offered and not _starts(part, want):
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
        and loc[-1] in _NUMBER_BRANCHES
        and any(
            o["loc"][:-1] == loc[:-1] and str(o["loc"][-1]).startswith("tagged-union[")
            for o in errors
        )
    )


def bound_text(v) -> str:
    """A bound as people write it: 1,000,000,000,000 rather than 1e+12."""
    if isinstance(v, int | float) and not isinstance(v, bool):
        if float(v).is_integer() and abs(v) >= 10_000:
            return f"{v:,.0f}"
        return f"{v:g}"
    return str(v)


def _number_kind_message(err: dict, kind: str) -> str:
    shown = excerpt(err.get("input"))
    if err.get("param"):
        per_year = "" if err["param"] == "item" else ", or a list with one per year"
        return (
            f"is {shown}, not a number: write a number or a distribution such as "
            f"{{dist: uniform, low: 0.4, high: 0.7}}{per_year}"
        )
    if isinstance(err.get("input"), bool):
        return f"is {shown}, a yes/no value, not a number: write a number"
    what = "a whole number" if kind.startswith("int") else "a number"
    return f"is {shown}, not {what}: write a plain number"


def _bound_message(err: dict) -> str:
    kind, ctx = err["type"], err.get("ctx") or {}
    shown = excerpt(err.get("input"))
    if kind in ("greater_than_equal", "greater_than"):
        bound = ctx.get("ge", ctx.get("gt"))
        word = "at least" if kind == "greater_than_equal" else "above"
        return f"is {shown}: it must be {word} {bound_text(bound)}: fix the value or its sign"
    bound = ctx.get("le", ctx.get("lt"))
    word = "at most" if kind == "less_than_equal" else "below"
    return f"is {shown}: it must be {word} {bound_text(bound)}: fix the value"


_TYPE_MESSAGES = {
    "missing": "is required but missing: add it",
    "union_tag_not_found": "a distribution needs 'dist': one of fixed, uniform, triangular, "
    "normal, discrete",
    "model_type": "should be a mapping of keys to values: check the indentation",
    "dict_type": "should be a mapping of keys to values: check the indentation",
    "model_attributes_type": "should be a mapping of keys to values: check the indentation",
    "list_type": "should be a list: write it as '- item' lines or [a, b]",
    "too_short": "is empty or too short: add at least one entry",
    "finite_number": "is not a finite number: write a plain number",
}
_NUMBER_TYPES = ("float_parsing", "float_type", "int_parsing", "int_type", "int_from_float",
                 "int_parsing_size")  # fmt: skip
_BOUND_TYPES = ("greater_than_equal", "greater_than", "less_than_equal", "less_than")


def message(err: dict) -> str:
    """What is wrong with one field and how to fix it (without the file and the field)."""
    kind = err["type"]
    ctx = err.get("ctx") or {}
    if kind == "extra_forbidden":
        key = str(err["loc"][-1])
        if key in VOCABULARY:  # a key of another section or file: no spelling to fix
            return (f"unknown key {excerpt(key)} here: remove it, or check that this is the "
                    "right file and the key sits in the right section")  # fmt: skip
        near = difflib.get_close_matches(key[:64], sorted(VOCABULARY), n=1, cutoff=0.7)
        hint = f" (did you mean '{near[0]}'?)" if near else ""
        return f"unknown key {excerpt(key)}: remove it or fix the spelling{hint}"
    if kind in _TYPE_MESSAGES:
        return _TYPE_MESSAGES[kind]
    if kind in _BOUND_TYPES:
        return _bound_message(err)
    if kind in _NUMBER_TYPES:
        return _number_kind_message(err, kind)
    if kind == "literal_error":
        return f"is {excerpt(err.get('input'))}: use one of {ctx.get('expected')}"
    if kind == "union_tag_invalid":
        return (
            f"distribution {excerpt(ctx.get('tag'))} is unknown: use one of fixed, uniform, "
            "triangular, normal, discrete"
        )
    if kind == "string_pattern_mismatch":
        return (
            f"is {excerpt(err.get('input'))}: ids start with a letter and use letters, digits, "
            "_ or -"
        )
    if kind == "string_too_short":
        return "is empty: write it"
    if kind == "value_error":
        return str(ctx.get("error", err["msg"]))
    if kind in ("string_type", "bool_type", "bool_parsing"):
        return f"is {excerpt(err.get('input'))}: {err['msg'].lower()}: fix the value"
    return f"{err['msg']}: fix the value"


# A check message that starts with the field it is about: 'contracts[0].price is ...'
_SUBPATH = re.compile(
    r"^(?P<sub>[A-Za-z_][\w\-]*(?:\[\d+\]|\.[\w\-]+)+)(?::\s*|\s+)(?P<rest>.+)$", re.S
)
_TOPWORD = re.compile(r"^(?P<sub>[A-Za-z_]\w*)(?::\s*|\s+)(?P<rest>.+)$", re.S)
_FIELDWORD = re.compile(r"^(?P<sub>[A-Za-z_]\w*):\s*(?P<rest>.+)$", re.S)


def line(file: str, path: str, msg: str) -> str:
    """'FILE: PATH: message', taking a leading field path out of a check's message."""
    m = _SUBPATH.match(msg)
    if m is None:  # a single field name: 'parties has no ...' at the top, 'caps: ...' below it
        m = (_TOPWORD if path == TOP else _FIELDWORD).match(msg)
        if m is not None and m["sub"] not in VOCABULARY:
            m = None
    if m:
        sub = m["sub"]
        if path == TOP or sub.startswith(path + ".") or sub.startswith(path + "["):
            path = sub
        else:
            path = f"{path}.{sub}"
        msg = m["rest"]
    return f"{file}: {path}: {msg}"


MAX_LINES = 30  # problems listed per file; the rest are counted


def format_validation(file: str, exc: ValidationError) -> list[str]:
    """One line per error: FILE: PATH: what is wrong and how to fix it. A check that finds
    several problems at once says each on a line of its own."""
    lines, seen = [], set()
    errors = list(exc.errors())
    for err in _relevant(errors):
        if _is_param(err, errors):
            in_list = any(str(part).startswith("list[") for part in err["loc"])
            err = dict(err, param="item" if in_list else "param")
        path = loc_to_path(err["loc"])
        for text in message(err).split("\n"):
            ln = line(file, path, text)
            if ln not in seen:
                seen.add(ln)
                lines.append(ln)
    if len(lines) > MAX_LINES:
        more = len(lines) - MAX_LINES
        lines = lines[:MAX_LINES] + [
            f"{file}: {FILE}: {more:,} more problems: fix those above first"
        ]
    return lines
