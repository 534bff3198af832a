"""The one loader (gainshare.schema.io and the floors below it): what it reads as people mean it,
what every command says about figures that look wrong, and how a problem line splits into the
fields of the --json document (docs/errors.md)."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

import pytest
import yaml
from helpers import agreement, small_case
from typer.testing import CliRunner

import gainshare
from gainshare.cli import TERM_KINDS, app, problem_fields
from gainshare.errors import InputError, clip, excerpt
from gainshare.schema.files import parse_text, read_input

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()


def _case_text() -> str:
    return yaml.safe_dump(small_case(), sort_keys=False)


# ---------------------------------------------------------------- read as meant


def test_a_json_case_with_a_byte_order_mark_is_read_like_the_yaml(tmp_path):
    (tmp_path / "c.json").write_bytes(b"\xef\xbb\xbf" + json.dumps(small_case()).encode())
    (tmp_path / "c.yaml").write_bytes(b"\xef\xbb\xbf" + _case_text().encode())
    assert gainshare.load_case(tmp_path / "c.json") == gainshare.load_case(tmp_path / "c.yaml")


def test_exponents_are_numbers_as_in_json():
    data = parse_text("a: 2e6\nb: 1.5E+6\nc: -3e-2\nd: '2e6'\ne: 1_000e3\n", "x.yaml")
    assert data == {"a": 2e6, "b": 1.5e6, "c": -0.03, "d": "2e6", "e": 1e6}


def test_aliases_and_merge_keys_that_repeat_a_little_are_fine():
    text = "base: &band {dist: uniform, low: 0.4, high: 0.7}\na: *band\nb: {<<: *band, high: 0.8}\n"
    data = parse_text(text, "x.yaml")
    assert data["a"] == data["base"] and data["b"]["high"] == 0.8


def test_every_example_case_and_agreement_still_loads():
    for case in sorted((ROOT / "cases").glob("*.yaml")):
        if case.name.endswith(".agreement.yaml"):
            continue
        c = gainshare.load_case(case)
        gainshare.load_agreement(case.with_name(case.stem + ".agreement.yaml"), c)


def test_a_named_pipe_is_refused_without_waiting_for_a_writer(tmp_path):
    pipe = tmp_path / "case.yaml"
    os.mkfifo(pipe)
    done: list[BaseException] = []

    def read() -> None:
        try:
            read_input(pipe)
        except InputError as e:
            done.append(e)

    t0 = time.perf_counter()
    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(5)
    assert done and "named pipe" in done[0].problems[0]
    assert time.perf_counter() - t0 < 1


def test_a_misspelt_named_override_is_refused_by_the_api_too():
    d = small_case()
    d["uncertainty"]["named"] = [{"name": "x", "weight": 0.2, "values": {"schemes.vw.tgt": 0.3}}]
    with pytest.raises(Exception, match="no such parameter"):
        gainshare.Case.model_validate(d)


def test_messages_quote_a_short_excerpt_only():
    assert excerpt("x" * 3_000_000) == "'" + "x" * 17 + "..." + "x" * 18 + "'"
    assert len(excerpt(list(range(10**6)))) < 60
    assert excerpt(float("nan")) == "nan"
    long = "case.yaml: name: " + "y" * 10_000 + ": write it"
    assert len(clip(long)) <= 600 and clip(long).endswith(": write it")


# ---------------------------------------------------------------- warnings from every command

WARNED = {
    "check": ["check", "case.yaml", "-a", "agr.yaml"],
    "design": ["design", "case.yaml"],
    "repair": ["repair", "case.yaml", "-p", "agr.yaml"],
    "explain": ["explain", "case.yaml"],
    "candidates": ["candidates", "case.yaml", "--points", "2", "--time-limit", "1"],
    "fair": ["fair", "case.yaml"],
    "sensitivity": ["sensitivity", "case.yaml", "-a", "agr.yaml"],
    "validate": ["validate", "case.yaml"],
    "sweep": ["sweep", "sweep.yaml", "--out", "r.csv", "--workers", "1"],
}
WARNING = (
    "case.yaml: contracts[0].costs.stepped.cost_per_step: is £2: a ward or team usually costs "
    "hundreds of thousands of pounds a year; check the units"
)


@pytest.fixture
def ward_costing_two_pounds(tmp_path, monkeypatch):
    d = small_case()
    d["contracts"][0]["bed_days_per_unit"] = 5
    d["contracts"][0]["costs"]["stepped"] = {"capacity_per_step": 7_756, "cost_per_step": 2}
    (tmp_path / "case.yaml").write_text(yaml.safe_dump(d))
    (tmp_path / "agr.yaml").write_text(yaml.safe_dump(agreement()))
    (tmp_path / "sweep.yaml").write_text("name: s\nbase_case: case.yaml\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("gainshare.report.charts.png_renderer_problem", lambda: "not in tests")


@pytest.mark.parametrize("name", [*WARNED, "report", "template"])
def test_units_that_look_wrong_are_said_by_every_command(name, ward_costing_two_pounds):
    args = (
        WARNED.get(name)
        or {
            "report": ["report", "case.yaml", "-a", "agr.yaml", "--out", "rep"],
            "template": ["template", "--case", "case.yaml", "--out", "t.xlsx"],
        }[name]
    )
    res = runner.invoke(app, args)
    assert res.exit_code in (0, 1), res.output
    assert f"warning: {WARNING}" in res.stderr
    if name in WARNED:
        res = runner.invoke(app, [*args, "--json"] + (["--force"] if name == "sweep" else []))
        assert WARNING in json.loads(res.stdout)["warnings"]


# ---------------------------------------------------------------- the fields of a problem line


@pytest.mark.parametrize(
    ("line", "file", "field", "fix"),
    [
        ("case.yaml: contracts[0].price: is 'lots', not a number: write a plain number",
         "case.yaml", "contracts[0].price", "write a plain number"),
        ("case.yaml: (file): file is empty: write the case as YAML (see cases/)",
         "case.yaml", "(file)", "write the case as YAML (see cases/)"),
        ("case.yaml: line 4, column 3: malformed YAML (x): check indentation and colons",
         "case.yaml", "line 4, column 3", "check indentation and colons"),
        ("c.xlsx: sheet Parties, cells A2:A3: are merged: unmerge them",
         "c.xlsx", "sheet Parties, cells A2:A3", "unmerge them"),
        ("--time-limit: 'nan' is not a number of seconds: give e.g. --time-limit 30",
         None, "--time-limit", "give e.g. --time-limit 30"),
        ("report: --out: already exists: pass --force to replace it",
         "report", "--out", "pass --force to replace it"),
        ("(command line): no such command 'chek': use one of check",
         None, "(command line)", "use one of check"),
    ],
)  # fmt: skip
def test_problem_fields(line, file, field, fix):
    p = problem_fields(line)
    assert (p["file"], p["field"], p["fix"], p["text"]) == (file, field, fix, line)


def test_the_command_line_knows_every_kind_of_repair_weight():
    from gainshare.optimise.repair import DEFAULT_WEIGHTS

    assert set(TERM_KINDS) == set(DEFAULT_WEIGHTS)
