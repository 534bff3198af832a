"""A corpus of malformed inputs (SPEC section 7), one entry per way of getting an input wrong,
grouped by the classes of the issue "a fresh install that works":

- finite: non-finite and absurd numbers (NaN, inf, 1e308, the text 1e999, JSON NaN);
- crash: what `validate` passed and other commands crashed on;
- memory: alias bombs, deep nesting, FIFOs, devices, zip bombs, huge ranges;
- silent: what was silently accepted (duplicate keys, misspelt named overrides, `years: true`);
- workbook: bad cells and shapes of a case workbook;
- output: `--out` where nothing can or may be written;
- message: inputs whose message named no field, no fix, the wrong field, or the wrong cause;
- option: command-line options that are not numbers, not finite or out of range.

Each entry writes its bad input into an empty folder beside a good case (`case.yaml`), a good
agreement (`agr.yaml`) and a sweep over the case (`sweep.yaml`), and says which file (or option)
every problem line must name and words the lines must hold. `commands(entry)` gives every
command line that reads the bad input."""

from __future__ import annotations

import io
import json
import os
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import yaml
from helpers import agreement, small_case

CASE, AGR, SWEEP = "case.yaml", "agr.yaml", "sweep.yaml"
OUTPUTS = {"design": "designed.yaml", "repair": "repaired.yaml", "report": "report",
           "sweep": "results.csv", "template": "filled.xlsx"}  # fmt: skip


@dataclass(frozen=True)
class Bad:
    name: str
    kind: str  # the class (see the module docstring)
    target: str  # case | agreement | sweep | option | out
    write: Callable[[Path], None]  # writes the bad input into the folder
    file: str | None = CASE  # what each problem line names first (None: an option)
    words: tuple[str, ...] = ()  # words the problem lines must hold
    field: str | None = None  # the FIELD every problem line names, when it is known
    argv: tuple[str, ...] = ()  # option and out entries: the command line
    only: tuple[str, ...] = ()  # case and agreement entries: only these commands


# ---------------------------------------------------------------- writers


def base_case() -> dict:
    d = small_case()
    d["uncertainty"] = {"scenarios": 2, "seed": 7}
    return d


def dump(d) -> str:
    return yaml.safe_dump(d, sort_keys=False, allow_unicode=True)


def put(folder: Path, name: str, content) -> None:
    path = folder / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content if isinstance(content, str) else dump(content), encoding="utf-8")


def good_files(folder: Path, case_file: str = CASE, agr_file: str = AGR) -> None:
    """The good inputs every run starts from (the entry then replaces one of them)."""
    folder.mkdir(parents=True, exist_ok=True)
    put(folder, CASE, base_case())
    put(folder, AGR, agreement())
    sweep = {"name": "corpus sweep", "base_case": case_file,
             "grid": {"keep_whole.comm.tolerance": [0, 1000]}}  # fmt: skip
    put(folder, SWEEP, sweep)


def case_edit(fn: Callable[[dict], object]) -> Callable[[Path], None]:
    def write(folder: Path) -> None:
        d = base_case()
        fn(d)
        put(folder, CASE, d)

    return write


def case_text(fn: Callable[[str], str], name: str = CASE) -> Callable[[Path], None]:
    """The good case as YAML text, edited as text (for what a dict cannot say)."""

    def write(folder: Path) -> None:
        put(folder, name, fn(dump(base_case())))

    return write


def case_json(fn: Callable[[str], str], name: str = "case.json") -> Callable[[Path], None]:
    def write(folder: Path) -> None:
        put(folder, name, fn(json.dumps(base_case(), indent=1)))

    return write


def raw(content, name: str = CASE) -> Callable[[Path], None]:
    return lambda folder: put(folder, name, content)


def agr_edit(fn: Callable[[dict], object]) -> Callable[[Path], None]:
    def write(folder: Path) -> None:
        d = agreement()
        fn(d)
        put(folder, AGR, d)

    return write


def sweep_edit(fn: Callable[[dict], object]) -> Callable[[Path], None]:
    def write(folder: Path) -> None:
        d = yaml.safe_load((folder / SWEEP).read_text())
        fn(d)
        put(folder, SWEEP, d)

    return write


def scheme(**kw) -> Callable[[dict], None]:
    return lambda d: d["schemes"][0].update(kw)


def contract(i: int, **kw) -> Callable[[dict], None]:
    return lambda d: d["contracts"][i].update(kw)


def costs(i: int, **kw) -> Callable[[dict], None]:
    return lambda d: d["contracts"][i]["costs"].update(kw)


def named(values: dict) -> Callable[[dict], None]:
    def edit(d: dict) -> None:
        d["uncertainty"]["named"] = [{"name": "central", "weight": 0.2, "values": values}]

    return edit


def requirements(**kw) -> Callable[[dict], None]:
    return lambda d: d.setdefault("requirements", {}).update(kw)


def terms(**kw) -> Callable[[dict], None]:
    return lambda d: d["terms"].update(kw)


NAN, INF = float("nan"), float("inf")


def with_marker(fn: Callable[[dict], None], text: str) -> Callable[[Path], None]:
    """A case whose edited value is written as `text` exactly (e.g. 1e999, which no float
    dumps as)."""
    marker = "__VALUE__"

    def write(folder: Path) -> None:
        d = base_case()
        fn(d)
        put(folder, CASE, dump(d).replace(f"'{marker}'", text).replace(marker, text))

    return write


def mark(fn_of_value: Callable[[object], Callable[[dict], None]]) -> Callable[[dict], None]:
    return fn_of_value("__VALUE__")


# ---------------------------------------------------------------- special files


def alias_bomb(field_line: str, levels: int = 9) -> str:
    """A billion laughs: each anchor lists the previous one nine times."""
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for k in range(1, levels):
        lines.append(f"a{k}: &a{k} [" + ", ".join([f"*a{k - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n" + field_line.replace("BOMB", f"*a{levels - 1}") + "\n"


def bomb_case(path: str) -> Callable[[Path], None]:
    """The good case with one field set to an alias bomb."""

    def write(folder: Path) -> None:
        d = base_case()
        keys = path.split(".")
        node = d
        for k in keys[:-1]:
            node = node[int(k)] if isinstance(node, list) else node[k]
        last = keys[-1]
        if isinstance(node, list):
            node[int(last)] = "__BOMB__"
        else:
            node[last] = "__BOMB__"
        text = alias_bomb("", 9) + dump(d).replace("'__BOMB__'", "*a8")
        put(folder, CASE, text)

    return write


def fifo(folder: Path) -> None:
    os.mkfifo(folder / "case.yaml.fifo")
    (folder / CASE).unlink()
    os.symlink("case.yaml.fifo", folder / CASE)


def dev_zero(folder: Path) -> None:
    (folder / CASE).unlink()
    os.symlink("/dev/zero", folder / CASE)


def dev_null(folder: Path) -> None:
    (folder / CASE).unlink()
    os.symlink("/dev/null", folder / CASE)


def folder_case(folder: Path) -> None:
    (folder / CASE).unlink()
    (folder / CASE).mkdir()


def oversized(folder: Path) -> None:
    put(folder, CASE, dump(base_case()) + "# " + "x" * (5 * 1024 * 1024) + "\n")


def deep_json(depth: int) -> Callable[[Path], None]:
    return raw('{"name": ' + "[" * depth + "]" * depth + "}", "case.json")


def deep_yaml(depth: int) -> Callable[[Path], None]:
    return raw("name: x\nhorizon: " + "[" * depth + "]" * depth + "\n")


# ---------------------------------------------------------------- workbooks


def workbook_bytes() -> bytes:
    from gainshare.report.excel_case import write_case_workbook
    from gainshare.schema.case import Case

    buf = io.BytesIO()
    path = Path(os.environ.get("TMPDIR", "/tmp")) / f"gainshare-corpus-{os.getpid()}.xlsx"
    write_case_workbook(Case.model_validate(base_case()), path)
    buf.write(path.read_bytes())
    path.unlink()
    return buf.getvalue()


_WORKBOOK: list[bytes] = []


def good_workbook() -> bytes:
    if not _WORKBOOK:
        _WORKBOOK.append(workbook_bytes())
    return _WORKBOOK[0]


def workbook_cell(sheet: str, key: str, row: int, value) -> Callable[[Path], None]:
    """The good case as a workbook with one cell (column `key`, or a cell name) changed."""

    def write(folder: Path) -> None:
        from openpyxl import load_workbook

        wb = load_workbook(io.BytesIO(good_workbook()))
        ws = wb[sheet]
        if key[0].isupper() and key[1:].isdigit():
            ws[key] = value
        else:
            letter = next(c.column_letter for c in ws[1] if c.value == key)
            ws[f"{letter}{row}"] = value
        wb.save(folder / "case.xlsx")

    return write


def workbook_change(fn: Callable) -> Callable[[Path], None]:
    def write(folder: Path) -> None:
        from openpyxl import load_workbook

        wb = load_workbook(io.BytesIO(good_workbook()))
        fn(wb)
        wb.save(folder / "case.xlsx")

    return write


def workbook_parts(fn: Callable[[dict[str, bytes]], None], lie: bool = False):
    """The good workbook's zip parts edited as bytes (for what openpyxl would not write); with
    `lie`, the zip directory says every part holds 100 bytes."""

    def write(folder: Path) -> None:
        src = zipfile.ZipFile(io.BytesIO(good_workbook()))
        parts = {i.filename: src.read(i) for i in src.infolist()}
        fn(parts)
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as dst:
            for n, data in parts.items():
                dst.writestr(n, data)
        data = bytearray(buf.getvalue())
        if lie:
            _understate(data)
        (folder / "case.xlsx").write_bytes(bytes(data))

    return write


def _understate(data: bytearray) -> None:
    """Set the uncompressed size of every member to 100 bytes, in the local headers and the
    central directory alike (a zip that lies about its size)."""
    import struct

    pos = 0
    while (pos := data.find(b"PK\x03\x04", pos)) >= 0:
        struct.pack_into("<I", data, pos + 22, 100)
        pos += 4
    pos = 0
    while (pos := data.find(b"PK\x01\x02", pos)) >= 0:
        struct.pack_into("<I", data, pos + 24, 100)
        pos += 4


def sheet_part(parts: dict[str, bytes], title: str) -> str:
    """The zip part name of the worksheet titled `title`."""
    import re

    wbxml = parts["xl/workbook.xml"].decode()
    rels = parts["xl/_rels/workbook.xml.rels"].decode()
    rid = re.search(rf'<sheet[^>]*name="{title}"[^>]*r:id="(rId\d+)"', wbxml)
    rid = rid or re.search(rf'<sheet[^>]*r:id="(rId\d+)"[^>]*name="{title}"', wbxml)
    target = re.search(rf'Id="{rid[1]}"[^>]*Target="([^"]+)"', rels) or re.search(
        rf'Target="([^"]+)"[^>]*Id="{rid[1]}"', rels
    )
    return "xl/" + target[1].lstrip("/").removeprefix("xl/")


def big_sheet(rows: int, lie: bool = False) -> Callable[[Path], None]:
    def fn(parts: dict[str, bytes]) -> None:
        name = sheet_part(parts, "Parties")
        cells = "".join(f'<row r="{r}"><c r="A{r}" t="inlineStr"><is><t>p{r}</t></is></c></row>'
                        for r in range(6, rows + 6))  # fmt: skip
        parts[name] = parts[name].replace(b"</sheetData>", cells.encode() + b"</sheetData>")

    return workbook_parts(fn, lie)


def wide_sheet(rows: int, columns: int, text: str = "n" * 40) -> Callable[[Path], None]:
    """A sheet within the row limit holding rows x columns cells of long text."""

    def fn(parts: dict[str, bytes]) -> None:
        from openpyxl.utils import get_column_letter

        name = sheet_part(parts, "Notes")
        letters = [get_column_letter(c) for c in range(1, columns + 1)]
        body = "".join(
            f'<row r="{r}">'
            + "".join(f'<c r="{x}{r}" t="inlineStr"><is><t>{text}</t></is></c>' for x in letters)
            + "</row>"
            for r in range(100, 100 + rows)
        )
        parts[name] = parts[name].replace(b"</sheetData>", body.encode() + b"</sheetData>")

    return workbook_parts(fn)


def far_cell(parts: dict[str, bytes]) -> None:
    name = sheet_part(parts, "Parties")
    cell = b'<row r="1048576"><c r="XFD1048576"><v>1</v></c></row>'
    parts[name] = parts[name].replace(b"</sheetData>", cell + b"</sheetData>")


def unreadable_cell(parts: dict[str, bytes]) -> None:
    """A cell whose type says number but holds text: openpyxl cannot load it."""
    name = sheet_part(parts, "Contracts")
    parts[name] = parts[name].replace(
        b"</sheetData>", b'<row r="40"><c r="B40" t="n"><v>lots</v></c></row></sheetData>'
    )


def merge(sheet: str, cells: str) -> Callable:
    return lambda wb: wb[sheet].merge_cells(cells)


# ---------------------------------------------------------------- the corpus

BAD: list[Bad] = []


def add(*entries: Bad) -> None:
    BAD.extend(entries)


def case(name, kind, write, words=(), file=CASE, field=None, only=()) -> Bad:
    return Bad(name, kind, "case", write, file, tuple(words), field, only=tuple(only))


def agr(name, kind, write, words=(), file=AGR, field=None) -> Bad:
    return Bad(name, kind, "agreement", write, file, tuple(words), field)


def option(name, kind, argv, words=(), field=None, file=None) -> Bad:
    return Bad(name, kind, "option", lambda folder: None, file, tuple(words), field, tuple(argv))


def out(name, kind, argv, setup, words=(), file=None, field="--out") -> Bad:
    return Bad(name, kind, "out", setup, file, tuple(words), field, tuple(argv))


SHARE_FIX = "keep it from 0 to 1"
FINITE = "not a finite number"

# ---- non-finite and absurd numbers
add(
    case(
        "targeting .nan",
        "finite",
        case_edit(scheme(targeting=NAN)),
        [FINITE, "write a plain number"],
        field="schemes[0].targeting",
    ),
    case(
        "targeting .inf",
        "finite",
        case_edit(scheme(targeting=INF)),
        [FINITE],
        field="schemes[0].targeting",
    ),
    case("targeting -.inf", "finite", case_edit(scheme(targeting=-INF)), [FINITE]),
    case(
        "variable cost 1e308",
        "finite",
        case_edit(costs(0, variable_per_unit=1e308)),
        ["at most 1,000,000,000,000"],
        field="contracts[0].costs.variable_per_unit",
    ),
    case(
        "variable cost text 1e999",
        "finite",
        with_marker(mark(lambda v: costs(0, variable_per_unit=v)), "1e999"),
        [FINITE],
        field="contracts[0].costs.variable_per_unit",
    ),
    case(
        "expected units .nan",
        "finite",
        case_edit(contract(0, expected_units=NAN)),
        [FINITE],
        field="contracts[0].expected_units",
    ),
    case(
        "expected units text 1e999",
        "finite",
        with_marker(mark(lambda v: contract(0, expected_units=v)), "1e999"),
        [FINITE],
    ),
    case(
        "expected units 1e308", "finite", case_edit(contract(0, expected_units=1e308)), ["at most"]
    ),
    case(
        "referrals .inf",
        "finite",
        case_edit(scheme(referrals_per_team=INF)),
        [FINITE],
        field="schemes[0].referrals_per_team",
    ),
    case(
        "posts per team 1e308",
        "finite",
        case_edit(scheme(staffing={"posts_per_team": 1e308, "cost_per_post": 40000})),
        ["at most"],
        field="schemes[0].staffing.posts_per_team",
    ),
    case(
        "named scenario value .nan",
        "finite",
        case_edit(named({"schemes.vw.targeting": NAN})),
        [FINITE],
    ),
    case(
        "named scenario value text 1e999",
        "finite",
        with_marker(mark(lambda v: named({"schemes.vw.targeting": v})), "1e999"),
        [FINITE],
    ),
    case(
        "named scenario value 1e308",
        "finite",
        case_edit(named({"contracts.acute_nel.variable_cost": 1e308})),
        ["at most"],
    ),
    case(
        "JSON NaN",
        "finite",
        case_json(lambda t: t.replace('"targeting": 0.5', '"targeting": NaN')),
        [FINITE],
        file="case.json",
        field="schemes[0].targeting",
    ),
    case(
        "JSON Infinity",
        "finite",
        case_json(lambda t: t.replace('"price": 2000', '"price": Infinity')),
        [FINITE],
        file="case.json",
        field="contracts[0].price",
    ),
    case(
        "JSON 1e999",
        "finite",
        case_json(lambda t: t.replace('"fixed": 500000', '"fixed": 1e999')),
        [FINITE],
        file="case.json",
        field="contracts[0].costs.fixed",
    ),
    case(
        "cap maximum inf",
        "finite",
        case_edit(requirements(caps={"acute": {"decide": True, "max": INF}})),
        [FINITE],
        field="requirements.caps.acute.max",
    ),
    case(
        "cap maximum 1e308",
        "finite",
        case_edit(requirements(caps={"acute": {"decide": True, "max": 1e308}})),
        ["at most"],
    ),
    case(
        "price 1e308",
        "finite",
        case_edit(contract(0, price=1e308)),
        ["at most"],
        field="contracts[0].price",
    ),
    case(
        "fixed cost above a trillion",
        "finite",
        case_edit(costs(0, fixed=2e12)),
        ["at most 1,000,000,000,000"],
    ),
    case(
        "uniform high .inf",
        "finite",
        case_edit(scheme(targeting={"dist": "uniform", "low": 0.2, "high": INF})),
        [FINITE],
    ),
    case(
        "normal sd .nan",
        "finite",
        case_edit(scheme(escalation={"dist": "normal", "mean": 0.1, "sd": NAN})),
        [FINITE],
    ),
    case(
        "discrete value .nan",
        "finite",
        case_edit(
            scheme(targeting={"dist": "discrete", "values": [0.4, NAN], "probs": [0.5, 0.5]})
        ),
        [FINITE],
    ),  # fmt: skip
    case(
        "yearly list with .nan",
        "finite",
        case_edit(
            lambda d: (d["horizon"].update(years=2), d["schemes"][0].update(ramp_up=[0.5, NAN]))
        ),
        [FINITE],
    ),  # fmt: skip
    case(
        "tolerance .inf",
        "finite",
        case_edit(lambda d: d.update(keep_whole={"acute": {"tolerance": INF}})),
        [FINITE],
        field="keep_whole.acute.tolerance",
    ),
    case(
        "commissioners minimum -.inf",
        "finite",
        case_edit(requirements(commissioners_min_expected=-INF)),
        [FINITE],
    ),
    case(
        "time limit .nan in the case",
        "finite",
        case_edit(requirements(time_limit=NAN)),
        [FINITE],
        field="requirements.time_limit",
    ),
    case(
        "scenarios 10^30",
        "finite",
        case_edit(lambda d: d["uncertainty"].update(scenarios=10**30)),
        ["uncertainty.scenarios"],
    ),
    case(
        "integer of 5,000 digits",
        "finite",
        case_text(lambda t: t.replace("seed: 7", "seed: " + "9" * 5000)),
        ["cannot be read"],
    ),
    case(
        "seed 10^30",
        "finite",
        case_edit(lambda d: d["uncertainty"].update(seed=10**30)),
        ["uncertainty.seed"],
    ),
    case(
        "capacity per step text 1e999",
        "finite",
        with_marker(
            mark(lambda v: costs(0, stepped={"capacity_per_step": v, "cost_per_step": 2e6})),
            "1e999",
        ),
        [FINITE],
    ),  # fmt: skip
    case(
        "quality score .nan",
        "finite",
        case_edit(lambda d: d.update(quality_scores={"comm": NAN})),
        [FINITE],
    ),
    agr(
        "cap amount .nan",
        "finite",
        agr_edit(terms(caps={"acute": {"amount": NAN}})),
        [FINITE],
        field="terms.caps.acute.amount",
    ),
    agr("cap as a bare .inf", "finite", agr_edit(terms(caps={"acute": INF})), [FINITE]),
    agr(
        "collar share .inf",
        "finite",
        agr_edit(terms(collars={"acute": {"share_of_expected": INF}})),
        [FINITE],
    ),
    agr(
        "tier edge text 1e999",
        "finite",
        lambda folder: put(
            folder,
            AGR,
            dump(
                agreement(
                    gain=[
                        {"upto": {"amount": "__V__"}, "shares": {"icb": 1.0}},
                        {"shares": {"icb": 0.5, "acute": 0.5}},
                    ]
                )
            ).replace("__V__", "1e999"),
        ),
        [FINITE],
    ),  # fmt: skip
    agr(
        "share .nan",
        "finite",
        agr_edit(terms(gain_tiers=[{"shares": {"icb": NAN, "acute": 0.5, "comm": 0.5}}])),
        [FINITE],
    ),
    agr(
        "corridor threshold 1e308",
        "finite",
        agr_edit(terms(corridor={"gain_threshold": {"amount": 1e308}})),
        ["at most"],
    ),
    agr(
        "agreement JSON NaN",
        "finite",
        lambda folder: put(
            folder,
            "agr.json",
            json.dumps(agreement()).replace('"icb": 0.5, "acute": 0.3', '"icb": NaN, "acute": 0.3'),
        ),
        [FINITE],
        file="agr.json",
    ),  # fmt: skip
)

# ---- what validate passed and other commands crashed on
add(
    case(
        "commissioner split 99%",
        "crash",
        case_edit(requirements(commissioner_split={"icb": 0.99})),
        ["sums to 99%", "add up to exactly 100%"],
        field="requirements.commissioner_split",
    ),
    case(
        "commissioner split 101%",
        "crash",
        case_edit(requirements(commissioner_split={"icb": 1.01})),
        ["at most 1"],
        field="requirements.commissioner_split.icb",
    ),
    case(
        "reference split 90%",
        "crash",
        case_edit(requirements(reference_split={"icb": 0.5, "acute": 0.4})),
        ["90%"],
    ),
    case(
        "named scenario with too few yearly values",
        "crash",
        case_edit(
            lambda d: (
                d["horizon"].update(years=2),
                named({"schemes.vw.targeting": [0.5, 0.6, 0.7]})(d),
            )
        ),
        ["3 values for a 2-year horizon"],
    ),  # fmt: skip
    case(
        "named scenario with no values in a list",
        "crash",
        case_edit(named({"schemes.vw.targeting": []})),
        ["0 values"],
    ),
    case(
        "lever team count 10^6",
        "crash",
        case_edit(lambda d: d.update(levers={"teams": {"vw": [1, 10**6]}})),
        ["at most 100"],
    ),
)

# ---- memory and hangs
add(
    case(
        "alias bomb in horizon.years",
        "memory",
        bomb_case("horizon.years"),
        ["YAML aliases expand the file", "write the values out"],
    ),
    case("alias bomb in name", "memory", bomb_case("name"), ["YAML aliases expand"]),
    case("alias bomb in parties", "memory", bomb_case("parties"), ["YAML aliases expand"]),
    case(
        "alias bomb in a price", "memory", bomb_case("contracts.0.price"), ["YAML aliases expand"]
    ),
    agr(
        "alias bomb in the agreement",
        "memory",
        lambda folder: put(
            folder,
            AGR,
            alias_bomb("") + dump(agreement()).replace("name: hand agreement", "name: *a8"),
        ),
        ["YAML aliases expand"],
    ),  # fmt: skip
    case(
        "small alias bomb in horizon.years",
        "memory",
        lambda folder: put(
            folder, CASE, alias_bomb("", 5) + dump(base_case()).replace("years: 1", "years: *a4")
        ),
        ["horizon.years", "not a whole number"],
    ),  # fmt: skip
    case(
        "alias referring to itself",
        "memory",
        raw(dump(base_case()).replace("name: Small hand case", "name: &x [*x]")),
        ["refers to itself"],
    ),
    case(
        "JSON nested 100,000 deep",
        "memory",
        deep_json(100_000),
        ["nest too deep"],
        file="case.json",
    ),
    case(
        "JSON nested 40 deep", "memory", deep_json(40), ["nest more than 32 deep"], file="case.json"
    ),
    case("YAML nested 100,000 deep", "memory", deep_yaml(100_000), ["nest too deep"]),
    case("YAML nested 40 deep", "memory", deep_yaml(40), ["nest more than 32 deep"]),
    case("a named pipe (FIFO)", "memory", fifo, ["named pipe", "regular file"], field="(file)"),
    case("a link to /dev/zero", "memory", dev_zero, ["device", "regular file"], field="(file)"),
    case("a link to /dev/null", "memory", dev_null, ["device"]),
    case("a folder", "memory", folder_case, ["is a folder, not a file"]),
    case("over the size limit", "memory", oversized, ["5,242,880-byte limit", "split it"]),
    case(
        "workbook zip lying about its size",
        "memory",
        big_sheet(60_000, lie=True),
        ["zip is damaged", "save it again from Excel"],
        file="case.xlsx",
    ),
    case(
        "workbook unpacking beyond the limit",
        "memory",
        wide_sheet(3_000, 120),
        ["unpacks to more than"],
        file="case.xlsx",
    ),
    case(
        "workbook with more cells than the limit",
        "memory",
        wide_sheet(2_000, 120, "n"),
        ["more than 200,000 cells"],
        file="case.xlsx",
    ),
    case(
        "workbook with a cell at XFD1048576",
        "memory",
        workbook_parts(far_cell),
        ["1,048,576 rows", "delete the unused rows"],
        file="case.xlsx",
    ),
    case(
        "huge unknown key",
        "memory",
        case_text(lambda t: t + "? " + "k" * 3_000_000 + "\n: 1\n"),
        ["unknown key", "remove it"],
    ),
    case(
        "huge text for a number",
        "memory",
        case_edit(contract(0, price="9" * 10 + "x" * 3_000_000)),
        ["not a number"],
        field="contracts[0].price",
    ),
    option(
        "sensitivity --range with 10^8 steps",
        "memory",
        [
            "sensitivity",
            CASE,
            "-a",
            AGR,
            "--parameter",
            "schemes.vw.targeting",
            "--range",
            "0:1:100000000",
        ],
        ["STEPS", "from 2 to 200"],
        field="--range",
    ),  # fmt: skip
    option(
        "sensitivity --values with a million values",
        "memory",
        [
            "sensitivity",
            CASE,
            "-a",
            AGR,
            "--parameter",
            "schemes.vw.targeting",
            "--values",
            ",".join(["0.5"] * 1_000_000),
        ],
        ["more than 200 values"],
        field="--values",
    ),  # fmt: skip
)

# ---- silently accepted
add(
    case(
        "scenarios given twice",
        "silent",
        case_text(lambda t: t.replace("  scenarios: 2\n", "  scenarios: 500\n  scenarios: 5\n")),
        ["is given twice (lines", "keep one of them"],
        field="uncertainty.scenarios",
    ),
    case(
        "price given twice",
        "silent",
        case_text(lambda t: t.replace("  price: 2000\n", "  price: 2000\n  price: 20\n", 1)),
        ["given twice"],
        field="contracts[0].price",
    ),
    case(
        "top-level key given twice",
        "silent",
        case_text(lambda t: t + "name: Other\n"),
        ["given twice"],
        field="name",
    ),
    case(
        "JSON key given twice",
        "silent",
        case_json(
            lambda t: t.replace(
                '"name": "Small hand case",', '"name": "Small hand case", "name": "x",'
            )
        ),
        ["given twice"],
        file="case.json",
        field="name",
    ),  # fmt: skip
    agr(
        "agreement key given twice",
        "silent",
        lambda folder: put(folder, AGR, dump(agreement()) + "name: again\n"),
        ["given twice"],
        field="name",
    ),
    Bad(
        "sweep key given twice",
        "silent",
        "sweep",
        lambda folder: put(folder, SWEEP, (folder / SWEEP).read_text() + "name: again\n"),
        SWEEP,
        ("given twice",),
        "name",
    ),
    case(
        "misspelt named-scenario override",
        "silent",
        case_edit(named({"schemes.vw.targetting": 0.3})),
        ["no such parameter", "did you mean 'schemes.vw.targeting'"],
        field="uncertainty.named[0].values.schemes.vw.targetting",
    ),
    case(
        "named override of an unknown contract",
        "silent",
        case_edit(named({"contracts.nowhere.expected_units": 10})),
        ["no such parameter"],
    ),
    case(
        "named share override above 1",
        "silent",
        case_edit(named({"schemes.vw.targeting": 1.5})),
        ["0..1", SHARE_FIX],
    ),
    case(
        "named cost override below 0",
        "silent",
        case_edit(named({"contracts.acute_nel.variable_cost": -5})),
        ["negative", "cost or an amount of money"],
    ),
    case(
        "years: true",
        "silent",
        case_edit(lambda d: d["horizon"].update(years=True)),
        ["yes/no value", "not a number"],
        field="horizon.years",
    ),
    case(
        "teams: true",
        "silent",
        case_edit(scheme(teams=True)),
        ["yes/no value"],
        field="schemes[0].teams",
    ),
    case(
        "price: true",
        "silent",
        case_edit(contract(0, price=True)),
        ["yes/no value"],
        field="contracts[0].price",
    ),
    case(
        "scenarios as quoted text",
        "silent",
        case_edit(lambda d: d["uncertainty"].update(scenarios="5")),
        ["not a whole number"],
    ),
    case(
        "share as a percentage string",
        "silent",
        case_edit(scheme(targeting="50%")),
        ["not a number"],
    ),
    agr(
        "corridor strict: yes as text",
        "silent",
        agr_edit(terms(corridor={"strict": "yes"})),
        ["terms.corridor.strict"],
    ),
    agr(
        "share true",
        "silent",
        agr_edit(terms(gain_tiers=[{"shares": {"icb": True}}])),
        ["yes/no value"],
    ),
)

# ---- workbooks
X = "case.xlsx"
add(
    case(
        "workbook cell text 1e999",
        "workbook",
        workbook_cell("Contracts", "price", 2, "1e999"),
        ["too large to be a number"],
        file=X,
    ),
    case(
        "workbook cell inf",
        "workbook",
        workbook_cell("Contracts", "price", 2, "inf"),
        ["is not a number"],
        file=X,
    ),
    case(
        "workbook number cell 1e999",
        "workbook",
        workbook_parts(
            lambda p: p.__setitem__(
                sheet_part(p, "Schemes"),
                p[sheet_part(p, "Schemes")].replace(b"<v>1</v>", b"<v>1e999</v>", 1),
            )
        ),
        [FINITE],
        file=X,
    ),  # fmt: skip
    case(
        "workbook whole-number cell text 1e999",
        "workbook",
        workbook_cell("Schemes", "teams", 2, "1e999"),
        ["too large"],
        file=X,
    ),
    case(
        "workbook cell openpyxl cannot read",
        "workbook",
        workbook_parts(unreadable_cell),
        ["sheet Contracts, cell B40", "holds 'lots'", "retype"],
        file=X,
        field="sheet Contracts, cell B40",
    ),
    case(
        "workbook merged cells",
        "workbook",
        workbook_change(merge("Parties", "A2:A3")),
        ["cells A2:A3", "merged", "unmerge"],
        file=X,
    ),
    case(
        "workbook sheet with 20,000 rows",
        "workbook",
        big_sheet(20_000),
        ["rows", "over the limit"],
        file=X,
    ),
    case(
        "workbook that is YAML text",
        "workbook",
        raw(dump(base_case()), X),
        ["not an Excel workbook"],
        file=X,
    ),
    case("workbook empty", "workbook", raw(b"", X), ["file is empty"], file=X),
    case(
        "workbook text in a money cell",
        "workbook",
        workbook_cell("Contracts", "price", 2, "lots"),
        ["'lots' is not a number"],
        file=X,
    ),
    case(
        "workbook negative cost",
        "workbook",
        workbook_cell("Contracts", "costs.fixed", 2, -5),
        ["at least 0"],
        file=X,
    ),
    case(
        "workbook true in a number cell",
        "workbook",
        workbook_cell("Contracts", "price", 2, True),
        ["TRUE, not a number"],
        file=X,
    ),
    case(
        "workbook DTD",
        "workbook",
        workbook_parts(
            lambda p: p.__setitem__(
                "xl/workbook.xml", b'<!DOCTYPE x [<!ENTITY a "a">]>' + p["xl/workbook.xml"]
            )
        ),
        ["declares a DTD"],
        file=X,
    ),  # fmt: skip
)

# ---- messages: every line names the file, the field and a fix, and the right ones
UTF16 = dump(base_case()).encode("utf-16")
add(
    case("UTF-16 text", "message", raw(UTF16), ["UTF-16", "save it as UTF-8"], field="(file)"),
    case(
        "UTF-16 JSON without a byte-order mark",
        "message",
        raw(json.dumps(base_case()).encode("utf-16-le"), "case.json"),
        ["UTF-16"],
        file="case.json",
    ),
    case("binary garbage", "message", raw(bytes(range(256)) * 4), ["binary"]),
    case(
        "Latin-1 text",
        "message",
        raw("name: Caf\xe9 case\n".encode("latin-1")),
        ["not UTF-8", "save the file as UTF-8"],
    ),
    case("empty file", "message", raw(""), ["file is empty"], field="(file)"),
    case("only a comment", "message", raw("# nothing\n"), ["no content"]),
    case("top-level list", "message", raw("- a\n- b\n"), ["top level is a list"]),
    case(
        "malformed YAML",
        "message",
        raw("name: x\nhorizon:\n  years: [1, 2\nparties: {\n"),
        ["malformed YAML"],
    ),
    case(
        "malformed JSON",
        "message",
        raw('{"name": "x",}', "case.json"),
        ["malformed JSON"],
        file="case.json",
    ),
    case(
        "YAML python tag",
        "message",
        raw("!!python/object/apply:os.system ['true']\n"),
        ["tag not allowed", "remove the tag"],
    ),
    case(
        "unhashable YAML key",
        "message",
        raw(dump(base_case()) + "? [a, b]\n: c\n"),
        ["write keys as plain text"],
    ),
    case(
        "impossible date",
        "message",
        case_text(lambda t: t.replace("name: Small hand case", "name: 2026-13-45")),
        ["cannot be read", "quotes"],
    ),
    case(
        "two YAML documents",
        "message",
        raw(dump(base_case()) + "---\nname: x\n"),
        ["malformed YAML"],
    ),
    case(
        "no commissioner",
        "message",
        case_edit(lambda d: d["parties"][0].update(role="provider")),
        ["no commissioner"],
        field="parties",
    ),
    case(
        "negative expected units",
        "message",
        case_edit(contract(0, expected_units=-5)),
        ["can be negative (-5)", "counts activity"],
        field="contracts[0].expected_units",
    ),
    case(
        "negative referrals",
        "message",
        case_edit(scheme(referrals_per_team=-5)),
        ["counts activity"],
        field="schemes[0].referrals_per_team",
    ),
    case(
        "missing file",
        "message",
        lambda folder: (folder / CASE).unlink(),
        ["file not found", "check the path"],
    ),
    case(
        "unknown key",
        "message",
        case_edit(lambda d: d.update(colour="red")),
        ["unknown key 'colour'"],
        field="colour",
    ),
    case(
        "wrong type for a mapping",
        "message",
        case_edit(lambda d: d.update(horizon=3)),
        ["should be a mapping"],
        field="horizon",
    ),
    case(
        "missing required field",
        "message",
        case_edit(lambda d: d.pop("horizon")),
        ["required but missing"],
        field="horizon",
    ),
    case(
        "shares of a tier that do not add up, in requirements",
        "message",
        case_edit(requirements(fixed_gain_shares={"icb": 0.7, "acute": 0.7})),
        ["over 100%"],
    ),
    agr(
        "agreement file missing",
        "message",
        lambda folder: (folder / AGR).unlink(),
        ["file not found"],
    ),
    agr(
        "shares sum to 99%",
        "message",
        agr_edit(terms(gain_tiers=[{"shares": {"icb": 0.5, "acute": 0.29, "comm": 0.2}}])),
        ["99%", "add up to exactly 100%"],
    ),
    agr(
        "unknown party in the agreement",
        "message",
        agr_edit(terms(caps={"hospital": 1000})),
        ["not a party in the case"],
    ),
    Bad(
        "sweep output that is not CSV",
        "message",
        "sweep",
        sweep_edit(lambda d: d.update(output="results.txt")),
        SWEEP,
        ("must end in .csv or .parquet",),
        "output",
    ),
    Bad(
        "sweep with neither base_case nor cases",
        "message",
        "sweep",
        sweep_edit(lambda d: d.pop("base_case")),
        SWEEP,
        ("give either base_case",),
        "base_case",
    ),
    Bad(
        "sweep grid value beyond the case",
        "message",
        "sweep",
        sweep_edit(lambda d: d["grid"].update({"schemes.vw.targeting": [1.5]})),
        SWEEP,
        ("schemes.vw.targeting=1.5", "0..1"),
        "grid.schemes.vw.targeting",
    ),
    Bad(
        "sweep grid value .nan",
        "message",
        "sweep",
        sweep_edit(lambda d: d["grid"].update({"schemes.vw.targeting": [NAN]})),
        SWEEP,
        (FINITE,),
        "grid.schemes.vw.targeting[0]",
    ),
    Bad(
        "sweep case pattern matching nothing",
        "message",
        "sweep",
        sweep_edit(lambda d: (d.pop("base_case"), d.update(cases=["nothing/*.yaml"]))),
        SWEEP,
        ("matches no file",),
        "cases[0]",
    ),
)


# ---- command-line options
def _opts(cmd: str) -> list[str]:
    return {"design": ["design", CASE], "candidates": ["candidates", CASE],
            "repair": ["repair", CASE, "-p", AGR], "sweep": ["sweep", SWEEP],
            "sensitivity": ["sensitivity", CASE, "-a", AGR],
            "check": ["check", CASE]}[cmd]  # fmt: skip


add(
    option(
        "--time-limit abc",
        "option",
        [*_opts("design"), "--time-limit", "abc"],
        ["'abc' is not a number", "give a number"],
        field="--time-limit",
    ),
    option(
        "--time-limit nan",
        "option",
        [*_opts("design"), "--time-limit", "nan"],
        ["not a number of seconds"],
        field="--time-limit",
    ),
    option(
        "--time-limit inf",
        "option",
        [*_opts("design"), "--time-limit", "inf"],
        ["not a number of seconds"],
        field="--time-limit",
    ),
    option(
        "--time-limit 1e999",
        "option",
        [*_opts("design"), "--time-limit", "1e999"],
        ["not a number of seconds"],
        field="--time-limit",
    ),
    option(
        "--time-limit -5",
        "option",
        [*_opts("design"), "--time-limit", "-5"],
        ["not a number of seconds"],
        field="--time-limit",
    ),
    option(
        "candidates --time-limit nan",
        "option",
        [*_opts("candidates"), "--time-limit", "nan"],
        ["not a number of seconds"],
        field="--time-limit",
    ),
    option(
        "--weights shares=inf",
        "option",
        [*_opts("repair"), "--weights", "shares=inf"],
        ["from 0 to 1,000"],
        field="--weights",
    ),
    option(
        "--weights shares=nan",
        "option",
        [*_opts("repair"), "--weights", "shares=nan"],
        ["from 0 to 1,000"],
        field="--weights",
    ),
    option(
        "--weights shares=-1",
        "option",
        [*_opts("repair"), "--weights", "shares=-1"],
        ["from 0 to 1,000"],
        field="--weights",
    ),
    option(
        "--weights unknown kind",
        "option",
        [*_opts("repair"), "--weights", "bogus=1"],
        ["not a term kind"],
        field="--weights",
    ),
    option(
        "--points abc",
        "option",
        [*_opts("candidates"), "--points", "abc"],
        ["not a whole number"],
        field="--points",
    ),
    option(
        "--points 1000",
        "option",
        [*_opts("candidates"), "--points", "1000"],
        ["from 2 to 50"],
        field="--points",
    ),
    option(
        "--range nan:1:5",
        "option",
        [*_opts("sensitivity"), "--parameter", "schemes.vw.targeting", "--range", "nan:1:5"],
        ["finite number"],
        field="--range",
    ),
    option(
        "--range without steps",
        "option",
        [*_opts("sensitivity"), "--parameter", "schemes.vw.targeting", "--range", "0:1"],
        ["LOW:HIGH:STEPS"],
        field="--range",
    ),
    option(
        "--values with inf",
        "option",
        [*_opts("sensitivity"), "--parameter", "schemes.vw.targeting", "--values", "0.1,inf"],
        ["finite number"],
        field="--values",
    ),
    option(
        "--values with text 1e999",
        "option",
        [*_opts("sensitivity"), "--parameter", "schemes.vw.targeting", "--values", "1e999"],
        ["finite number"],
        field="--values",
    ),
    option(
        "--values outside a share",
        "option",
        [*_opts("sensitivity"), "--parameter", "schemes.vw.targeting", "--values", "2"],
        ["is a share", "from 0 to 1"],
        field="--values",
    ),
    option(
        "--parameter misspelt",
        "option",
        [*_opts("sensitivity"), "--parameter", "schemes.vw.targetting", "--values", "0.5"],
        ["no parameter"],
        field="--parameter",
    ),
    option(
        "--party unknown",
        "option",
        [*_opts("sensitivity"), "--party", "nobody"],
        ["not a party"],
        field="--party",
    ),
    option(
        "--workers 0",
        "option",
        [*_opts("sweep"), "--workers", "0"],
        ["from 1 to"],
        field="--workers",
    ),
    option(
        "--workers abc",
        "option",
        [*_opts("sweep"), "--workers", "abc"],
        ["not a whole number"],
        field="--workers",
    ),
    option(
        "--scheduler junk",
        "option",
        [*_opts("sweep"), "--scheduler", "junk"],
        ["not an address"],
        field="--scheduler",
    ),
    option(
        "check without --agreement",
        "option",
        _opts("check"),
        ["required but missing"],
        field="--agreement",
    ),
    option(
        "misspelt option --jsn",
        "option",
        [*_opts("design"), "--jsn"],
        ["no such option", "did you mean --json"],
        field="--jsn",
    ),
    option(
        "no such command", "option", ["chek", CASE], ["no such command"], field="(command line)"
    ),
    option(
        "--objective cheapest",
        "option",
        [*_opts("design"), "--objective", "cheapest"],
        ["not an objective"],
        field="--objective",
    ),
    option("--port 0", "option", ["app", "--port", "0"], ["not a port number"], field="--port"),
)


# ---- output locations
def _exists_file(name: str) -> Callable[[Path], None]:
    return lambda folder: (folder / name).write_text("my own file")


def _exists_folder(name: str) -> Callable[[Path], None]:
    return lambda folder: (folder / name).mkdir()


def _under_file(folder: Path) -> None:
    (folder / "afile").write_text("x")


def _report_with_others(folder: Path) -> None:
    (folder / "report").mkdir()
    (folder / "report" / "term-sheet.md").write_text("old")
    (folder / "report" / "minutes.docx").write_text("keep me")


_OUT_ARGS = {
    "design": ["design", CASE, "--time-limit", "5"],
    "repair": ["repair", CASE, "-p", AGR],
    "template": ["template"],
    "report": ["report", CASE, "-a", AGR],
    "sweep": ["sweep", SWEEP, "--workers", "1"],
}
for cmd, target in OUTPUTS.items():
    base = _OUT_ARGS[cmd]
    if cmd == "report":
        add(
            out("report --out a folder with files", "output", [*base, "--out", target],
                lambda f: (_exists_folder("report")(f), (f / "report" / "x.txt").write_text("x")),
                ["already exists and holds files", "--force"], file=target),
            out("report --out with other files, even with --force", "output",
                [*base, "--out", target, "--force"], _report_with_others,
                ["not part of an earlier output (minutes.docx)"], file=target),
        )  # fmt: skip
    else:
        add(
            out(f"{cmd} --out an existing file", "output", [*base, "--out", target],
                _exists_file(target), ["already exists", "--force"], file=target),
            out(f"{cmd} --out at an existing folder", "output", [*base, "--out", target],
                _exists_folder(target), ["is a folder, not a file"], file=target),
            out(f"{cmd} --out in a folder that does not exist", "output",
                [*base, "--out", f"nowhere/{target}"], lambda folder: None, ["does not exist"],
                file=f"nowhere/{target}"),
        )  # fmt: skip
    add(
        out(f"{cmd} --out under a file", "output", [*base, "--out", f"afile/{target}"],
            _under_file, ["is a file, not a folder"], file=f"afile/{target}"),
        out(f"{cmd} --out in /proc", "output", [*base, "--out", f"/proc/{target}"],
            lambda folder: None, ["cannot be written"], file=f"/proc/{target}"),
    )  # fmt: skip
add(
    out(
        "report --out at a file",
        "output",
        [*_OUT_ARGS["report"], "--out", "afile"],
        _under_file,
        ["is not a folder"],
        file="afile",
    ),
    out(
        "sweep --out that is not CSV",
        "output",
        [*_OUT_ARGS["sweep"], "--out", "r.txt"],
        lambda folder: None,
        ["must end in .csv or .parquet"],
        file="r.txt",
    ),
    out(
        "template --out that is not .xlsx",
        "output",
        ["template", "--out", "t.xls"],
        lambda folder: None,
        ["must end in .xlsx"],
        file="t.xls",
    ),
    out(
        "sweep file output that exists",
        "output",
        [*_OUT_ARGS["sweep"]],
        lambda folder: (
            sweep_edit(lambda d: d.update(output="r.csv"))(folder),
            (folder / "r.csv").write_text("old results"),
        ),
        ["already exists", "--force"],
        file="r.csv",
        field="output",
    ),  # fmt: skip
)


# ---------------------------------------------------------------- command lines

READERS = ("validate", "check", "design", "repair", "explain", "candidates", "fair",
           "sensitivity", "report", "sweep", "template")  # fmt: skip
AGREEMENT_READERS = ("check", "repair", "report", "sensitivity")
JSON_COMMANDS = set(READERS) - {"template"}


def case_file(entry: Bad) -> str:
    return entry.file if entry.target == "case" and entry.file else CASE


def agr_file(entry: Bad) -> str:
    return entry.file if entry.target == "agreement" and entry.file else AGR


def command_line(cmd: str, case: str, agr: str) -> list[str]:
    return {
        "validate": ["validate", case],
        "check": ["check", case, "-a", agr],
        "design": ["design", case, "--out", OUTPUTS["design"], "--time-limit", "5"],
        "repair": ["repair", case, "-p", agr, "--out", OUTPUTS["repair"]],
        "explain": ["explain", case],
        "candidates": ["candidates", case, "--points", "3", "--time-limit", "1"],
        "fair": ["fair", case],
        "sensitivity": ["sensitivity", case, "-a", agr],
        "report": ["report", case, "-a", agr, "--out", OUTPUTS["report"]],
        "sweep": ["sweep", SWEEP, "--out", OUTPUTS["sweep"], "--workers", "1"],
        "template": ["template", "--case", case, "--out", OUTPUTS["template"]],
    }[cmd]


def commands(entry: Bad) -> list[list[str]]:
    """Every command line that reads the entry's bad input, with and without --json (where
    the command has it)."""
    if entry.target in ("option", "out"):
        lines = [list(entry.argv)]
    else:
        names = entry.only or {"case": READERS, "agreement": AGREEMENT_READERS,
                               "sweep": ("sweep",)}[entry.target]  # fmt: skip
        lines = [command_line(c, case_file(entry), agr_file(entry)) for c in names]
    out = []
    for line in lines:
        out.append(line)
        if line[0] in JSON_COMMANDS:
            out.append([*line, "--json"])
    return out


def prepare(entry: Bad, folder: Path) -> None:
    good_files(folder, case_file(entry), agr_file(entry))
    if entry.target == "agreement" and agr_file(entry) != AGR:
        (folder / AGR).unlink()
    entry.write(folder)


def entries() -> list[Bad]:
    names = [b.name for b in BAD]
    assert len(set(names)) == len(names), "corpus names repeat"
    return list(BAD)


__all__ = ["BAD", "Bad", "commands", "entries", "prepare"]
