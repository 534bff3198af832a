"""Bad input through the command line (SPEC section 7): exit 2, one line per problem naming the
file, the field path and the fix, no traceback, nothing on stdout, nothing written.

Every input runs in a fresh folder of its own, in process through typer's CliRunner (which keeps
stdout, stderr and the exit code apart). A sample of them also runs through the installed
`gainshare` executable, in parallel, and must give exactly the same exit code and output."""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml
from helpers import agreement, small_case
from typer.testing import CliRunner

from gainshare.cli import app

EXE = Path(sys.executable).with_name("gainshare")
if not EXE.exists():  # pragma: no cover - falls back to the installed script on PATH
    EXE = Path(shutil.which("gainshare") or "gainshare")

CASE = "case.yaml"
AGR = "agr.yaml"


@dataclass
class Bad:
    """One bad input: how to make it, which command reads it, the words the message needs."""

    name: str
    words: list[str]
    case: Callable[[dict], object] | None = None  # edits the case dict, or returns content
    agr: Callable[[dict], object] | None = None
    command: str = "check"
    args: list[str] = field(default_factory=list)
    setup: Callable[[Path], None] | None = None


def edit(fn):
    """Wrap an in-place edit of a dict so it returns the dict."""

    def run(d):
        fn(d)
        return d

    return run


def contract(i: int, **kw):
    return edit(lambda d: d["contracts"][i].update(kw))


def vw(**kw):
    return edit(lambda d: d["schemes"][0].update(kw))


def terms(**kw):
    return edit(lambda d: d["terms"].update(kw))


def _huge(p: Path) -> None:
    body = yaml.safe_dump(small_case(), sort_keys=False)
    p.joinpath(CASE).write_text(body + "# " + "x" * (6 * 1024 * 1024) + "\n")


def _folder(p: Path) -> None:
    p.joinpath(CASE).mkdir()


ALIAS_BOMB = "".join(
    f"{a}: &{a} [{', '.join([f'*{b}'] * 9)}]\n" for b, a in zip("abcdefg", "bcdefgh", strict=True)
)
ALIAS_BOMB = 'a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]\n' + ALIAS_BOMB


def _many_problems(d):
    d["contracts"] = [dict(d["contracts"][0], id=f"c{i}", rule="tariff") for i in range(40)]


def _dup_party(d):
    d["parties"].append(dict(d["parties"][1]))


def _unknown_named_path(d):
    d["uncertainty"]["named"] = [
        {"name": "bad", "weight": 0.1, "values": {"schemes.vw.targetting": 0.3}}
    ]


BAD = [
    # ---------------------------------------------------------------- agreement terms
    Bad(
        "misspelt collars",
        [AGR, "terms", "unknown key 'colars'", "did you mean 'collars'"],
        agr=terms(colars={"acute": 10_000}),
    ),
    Bad(
        "a key of another section, not a misspelling",
        [AGR, "terms", "unknown key 'horizon' here", "check that this is the right file"],
        agr=terms(horizon={"years": 1}),
    ),
    Bad(
        "unknown party in tier shares",
        [AGR, "terms.gain_tiers[0].shares.hospital", "no party 'hospital'", "fix the id"],
        agr=edit(
            lambda d: d["terms"].update(gain_tiers=[{"shares": {"icb": 0.5, "hospital": 0.5}}])
        ),  # fmt: skip
    ),
    Bad(
        "shares sum to 99%",
        [AGR, "terms.gain_tiers[0]", "99%", "not 100%", "add up to exactly 100%"],
        agr=terms(gain_tiers=[{"shares": {"icb": 0.5, "acute": 0.29, "comm": 0.2}}]),
    ),
    Bad(
        "cap with a negative amount",
        [AGR, "terms.caps.acute.amount", "-5000", "at least 0"],
        agr=terms(caps={"acute": {"amount": -5000}}),
    ),
    Bad(
        "unordered tier breakpoints",
        [AGR, "terms.gain_tiers[1].upto: is 50000, not above", "increasing order"],
        agr=terms(
            gain_tiers=[
                {"upto": 100_000, "shares": {"icb": 1.0}},
                {"upto": 50_000, "shares": {"icb": 0.5, "acute": 0.5}},
                {"shares": {"icb": 0.5, "comm": 0.5}},
            ]
        ),
    ),
    Bad(
        "first tier edge at zero",
        [AGR, "terms.gain_tiers[0].upto: must be above zero", "drop the tier"],
        agr=terms(
            gain_tiers=[
                {"upto": 0, "shares": {"icb": 1.0}},
                {"shares": {"icb": 0.5, "comm": 0.5}},
            ]
        ),
    ),
    Bad(
        "gateway for a provider without quality scores",
        [AGR, "terms.gateway.comm", "no quality_scores for 'comm'", "remove the gateway"],
        agr=terms(gateway={"comm": {"mode": "proportional"}}),
    ),
    Bad(
        "caps for a commissioner",
        [AGR, "terms.caps.icb", "not a provider", "providers only"],
        agr=terms(caps={"icb": 10_000}),
    ),
    Bad(
        "collar for an unknown party",
        [AGR, "terms.collars.hospital", "not a party in the case"],
        agr=terms(collars={"hospital": 10_000}),
    ),
    Bad(
        "commissioner split not summing to 100% in a year override",
        [AGR, "year_overrides.2.commissioner_split: sums to 90%", "not 100%", "add up"],
        agr=edit(lambda d: d.update(year_overrides={2: {"commissioner_split": {"icb": 0.9}}})),
        case=edit(lambda d: d["horizon"].update(years=2)),
    ),
    Bad(
        "year override beyond the horizon",
        [AGR, "year_overrides.4", "runs 1 year:", "from 1 to 1"],
        agr=edit(lambda d: d.update(year_overrides={4: {"caps": {}}})),
    ),
    Bad(
        "agreement file missing",
        ["nothere.yaml", "file not found", "check the path"],
        args=["check", CASE, "--agreement", "nothere.yaml"],
    ),
    # ---------------------------------------------------------------- case values
    Bad(
        "negative variable cost",
        [CASE, "contracts[0].costs.variable_per_unit", "negative", "zero or more"],
        case=edit(lambda d: d["contracts"][0]["costs"].update(variable_per_unit=-800)),
        command="validate",
    ),
    Bad(
        "targeting share 1.2",
        [CASE, "schemes[0].targeting", "1.2", "share"],
        case=vw(targeting=1.2),
        command="validate",
    ),
    Bad(
        "discrete probabilities not summing to 1",
        [CASE, "schemes[0].escalation", "probs sum to 0.9", "add up to 1"],
        case=vw(escalation={"dist": "discrete", "values": [0, 0.1], "probs": [0.5, 0.4]}),
        command="validate",
    ),
    Bad(
        "10^9 scenarios",
        [CASE, "uncertainty.scenarios", "1,000,000,000", "limit", "fewer scenarios"],
        case=edit(lambda d: d["uncertainty"].update(scenarios=10**9)),
        command="validate",
    ),
    Bad(
        "scenarios x years x parties beyond memory",
        [CASE, "uncertainty.scenarios", "memory limit", "at most"],
        case=edit(
            lambda d: (d["uncertainty"].update(scenarios=900_000), d["horizon"].update(years=10))
        ),
        command="validate",
    ),
    Bad(
        "missing required field",
        [CASE, "horizon", "required but missing", "add it"],
        case=edit(lambda d: d.pop("horizon")),
        command="validate",
    ),
    Bad(
        "wrong type for a number",
        [CASE, "contracts[1].price", "'lots'", "not a number"],
        case=contract(1, price="lots"),
        command="validate",
    ),
    Bad(
        "wrong type for an uncertain number",
        [CASE, "contracts[0].expected_units", "'lots'", "number"],
        case=contract(0, expected_units="lots"),
        command="validate",
    ),
    Bad(
        "unknown distribution",
        [CASE, "schemes[0].targeting", "'lognormal'", "uniform, triangular"],
        case=vw(targeting={"dist": "lognormal", "mean": 0.5}),
        command="validate",
    ),
    Bad(
        "unknown payment rule",
        [CASE, "contracts[0].rule", "'tariff'", "activity", "capitation"],
        case=contract(0, rule="tariff"),
        command="validate",
    ),
    Bad(
        "yearly list of the wrong length",
        [CASE, "schemes[0].ramp_up", "2 yearly values", "3 years", "exactly 3"],
        case=edit(
            lambda d: (d["horizon"].update(years=3), d["schemes"][0].update(ramp_up=[0.5, 1.0]))
        ),  # fmt: skip
        command="validate",
    ),
    Bad(
        "scheme names a missing contract",
        [CASE, "schemes[0].moves_from[0].contract", "'acute_spells'", "not in contracts"],
        case=vw(moves_from=[{"contract": "acute_spells"}]),
        command="validate",
    ),
    Bad(
        "contract names a missing party",
        [CASE, "contracts[1].provider", "'community'", "not in parties"],
        case=contract(1, provider="community"),
        command="validate",
    ),
    Bad(
        "duplicate ids",
        [CASE, "parties[3].id", "'acute'", "used twice", "unique"],
        case=edit(_dup_party),
        command="validate",
    ),
    Bad(
        "not a finite number",
        [CASE, "contracts[0].price", "finite number"],
        case=lambda d: yaml.safe_dump(d, sort_keys=False).replace("price: 2000", "price: .nan"),
        command="validate",
    ),
    Bad(
        "named scenario with an unknown parameter path",
        [
            CASE,
            "uncertainty.named[0].values.schemes.vw.targetting",
            "no such parameter",
            "did you mean 'schemes.vw.targeting'",
            "fix the path",
        ],  # fmt: skip
        case=edit(_unknown_named_path),
        command="validate",
    ),
    Bad(
        "misspelt key inside a distribution",
        [CASE, "schemes[0].targeting.hgh", "unknown key 'hgh'", "did you mean 'high'"],
        case=vw(targeting={"dist": "uniform", "low": 0.3, "hgh": 0.6}),
        command="validate",
    ),
    Bad(
        "bad entry in a yearly list",
        [CASE, "schemes[0].ramp_up[1]", "'most'", "not a number", "distribution"],
        case=edit(
            lambda d: (d["horizon"].update(years=2), d["schemes"][0].update(ramp_up=[0.5, "most"]))
        ),  # fmt: skip
        command="validate",
    ),
    Bad(
        "uniform with high below low",
        [CASE, "schemes[0].targeting", "high is below low", "swap"],
        case=vw(targeting={"dist": "uniform", "low": 0.6, "high": 0.3}),
        command="validate",
    ),
    # ---------------------------------------------------------------- files
    Bad(
        "YAML python object tag",
        [CASE, "line 1", "tag not allowed", "remove the tag"],
        case=lambda d: "!!python/object/apply:os.system ['touch pwned']\n",
        command="validate",
    ),
    Bad(
        "YAML python tag inside the case",
        [CASE, "tag not allowed", "remove the tag"],
        case=lambda d: yaml.safe_dump(d, sort_keys=False).replace(
            "name: Small hand case", "name: !!python/object/new:os.system [touch pwned]"
        ),
        command="validate",
    ),
    Bad(
        "YAML alias bomb",
        [CASE, "YAML aliases expand the file to more than", "write the values out"],
        case=lambda d: ALIAS_BOMB + "name: x\nhorizon: {years: 1}\nparties: *h\n",
        command="validate",
    ),
    Bad(
        "a flood of problems is cut short",
        [CASE, "contracts[0].rule", "more problems", "fix those above first"],
        case=edit(_many_problems),
        command="validate",
    ),
    Bad("empty file", [CASE, "empty", "write the case"], case=lambda d: "", command="validate"),
    Bad(
        "only a comment",
        [CASE, "no content", "write the case"],
        case=lambda d: "# nothing here\n",
        command="validate",
    ),
    Bad(
        "binary garbage",
        [CASE, "binary", "not YAML or JSON"],
        case=lambda d: bytes(range(256)) * 4,
        command="validate",
    ),
    Bad(
        "non-UTF-8 text",
        [CASE, "not UTF-8", "save the file as UTF-8"],
        case=lambda d: "name: Caf\xe9 case\n".encode("latin-1"),
        command="validate",
    ),
    Bad(
        "malformed YAML",
        [CASE, "line 4", "malformed YAML", "indentation"],
        case=lambda d: "name: x\nhorizon:\n  years: [1, 2\nparties: {\n",
        command="validate",
    ),
    Bad(
        "malformed JSON",
        ["case.json", "line 1", "malformed JSON", "fix it"],
        setup=lambda p: p.joinpath("case.json").write_text('{"name": "x",}'),
        args=["validate", "case.json"],
    ),
    Bad(
        "top-level list",
        [CASE, "top level is a list", "mapping"],
        case=lambda d: "- name: x\n- name: y\n",
        command="validate",
    ),
    Bad(
        "file over the size limit",
        [CASE, "bytes", "limit", "split it"],
        setup=_huge,
        args=["validate", CASE],
    ),
    Bad(
        "a folder instead of a file",
        [CASE, "folder, not a file", "give the path"],
        setup=_folder,
        args=["validate", CASE],
    ),
    Bad("missing file", ["nothere.yaml", "file not found"], args=["validate", "nothere.yaml"]),
    Bad(
        "bad case under check --json prints one bad_input document",
        [CASE, "contracts[0].rule", "'tariff'"],
        case=contract(0, rule="tariff"),
        args=["check", CASE, "--agreement", AGR, "--json"],
    ),
]


@dataclass
class Ran:
    code: int
    stdout: str
    stderr: str
    before: set[str]
    after: set[str]
    exception: BaseException | None = None


def _write(path: Path, content) -> None:
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        path.write_text(yaml.safe_dump(content, sort_keys=False), encoding="utf-8")


def _files(p: Path) -> set[str]:
    return {str(f.relative_to(p)) for f in p.rglob("*")}


def _prepare(bad: Bad, folder: Path) -> list[str]:
    """Write the bad input into `folder`; return the command line arguments."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, base, fn in ((CASE, small_case(), bad.case), (AGR, agreement(), bad.agr)):
        _write(folder / name, fn(copy.deepcopy(base)) if fn else base)
    if bad.setup is not None:
        (folder / CASE).unlink()
        bad.setup(folder)
    if bad.args:
        return bad.args
    return [bad.command, CASE] + (["--agreement", AGR] if bad.command == "check" else [])


def _in_process(bad: Bad, folder: Path, monkeypatch) -> Ran:
    args = _prepare(bad, folder)
    before = _files(folder)
    monkeypatch.chdir(folder)
    monkeypatch.delenv("GAINSHARE_DEBUG", raising=False)
    r = CliRunner().invoke(app, args)
    return Ran(r.exit_code, r.stdout, r.stderr, before, _files(folder), r.exception)


def _executable(bad: Bad, folder: Path) -> Ran:
    args = _prepare(bad, folder)
    before = _files(folder)
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    env.pop("GAINSHARE_DEBUG", None)
    out = subprocess.run(
        [str(EXE), *args], cwd=folder, capture_output=True, text=True, env=env, timeout=120
    )
    return Ran(out.returncode, out.stdout, out.stderr, before, _files(folder))


def assert_refused(bad: Bad, r: Ran) -> None:
    assert r.code == 2, (r.code, r.stdout, r.stderr)
    if "--json" in bad.args:  # one JSON document naming the problems, and nothing else
        doc = json.loads(r.stdout)
        assert doc["status"] == "bad_input" and doc["command"] == bad.args[0]
        assert [p["text"] for p in doc["problems"]] == [
            line.removeprefix("error: ") for line in r.stderr.strip().splitlines()
        ]
        assert all(p["file"] == bad.words[0] for p in doc["problems"]), doc["problems"]
    else:
        assert r.stdout == ""
    assert "Traceback" not in r.stderr and "Traceback" not in r.stdout
    lines = r.stderr.strip().splitlines()
    assert lines, "no message"
    assert all(line.startswith("error: ") for line in lines), lines
    joined = "\n".join(lines)
    for word in bad.words:
        assert word in joined, f"{word!r} not in {joined!r}"
    # the message names the file first: 'error: FILE: ...'
    assert any(line.startswith(f"error: {bad.words[0]}: ") for line in lines), lines
    assert r.after == r.before, "the command wrote files"


def test_there_are_at_least_25_bad_inputs():
    assert len(BAD) >= 25
    assert len({b.name for b in BAD}) == len(BAD)


@pytest.mark.parametrize("bad", BAD, ids=[b.name for b in BAD])
def test_bad_input_exit_2_one_clear_line(bad: Bad, tmp_path, monkeypatch):
    r = _in_process(bad, tmp_path / "run", monkeypatch)
    assert isinstance(r.exception, SystemExit), r.exception  # no uncaught exception
    assert_refused(bad, r)
    if bad.name.startswith("YAML python"):
        assert not any("pwned" in f for f in r.after)


# the executable: a sample covering every kind of failure (file, YAML, schema, cross-check)
THROUGH_EXECUTABLE = [
    "misspelt collars",
    "unknown party in tier shares",
    "YAML python object tag",
    "non-UTF-8 text",
    "file over the size limit",
    "bad case under check --json prints one bad_input document",
]


@pytest.fixture(scope="module")
def executable_runs(tmp_path_factory) -> dict[str, Ran]:
    root = tmp_path_factory.mktemp("exe")
    chosen = [b for b in BAD if b.name in THROUGH_EXECUTABLE]
    assert len(chosen) == len(THROUGH_EXECUTABLE)
    with ThreadPoolExecutor(max_workers=3) as pool:
        futures = {b.name: pool.submit(_executable, b, root / b.name.replace(" ", "_"))
                   for b in chosen}  # fmt: skip
        return {name: f.result() for name, f in futures.items()}


@pytest.mark.parametrize("name", THROUGH_EXECUTABLE)
def test_executable_refuses_the_same_way(name, executable_runs, tmp_path, monkeypatch):
    bad = next(b for b in BAD if b.name == name)
    real = executable_runs[name]
    assert_refused(bad, real)
    if name.startswith("YAML python"):
        assert not any("pwned" in f for f in real.after)
    runner = _in_process(bad, tmp_path / "run", monkeypatch)
    assert (runner.code, runner.stdout, runner.stderr) == (real.code, real.stdout, real.stderr)


# ---------------------------------------------------------------- warnings, not errors


def test_ward_costing_two_pounds_warns_but_passes(tmp_path):
    d = small_case()
    d["contracts"][0]["bed_days_per_unit"] = 5
    d["contracts"][0]["costs"]["stepped"] = {
        "capacity_per_step": 7_756,
        "cost_per_step": 2,
        "closures": 1,
    }
    _write(tmp_path / CASE, d)
    out = subprocess.run(
        [str(EXE), "validate", CASE], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("ok: Small hand case")
    assert "warning:" in out.stderr
    assert "contracts[0].costs.stepped.cost_per_step" in out.stderr
    assert "is £2:" in out.stderr and "check the units" in out.stderr
    assert "Traceback" not in out.stderr
