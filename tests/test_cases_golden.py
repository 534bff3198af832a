"""Golden tests of the example cases in cases/.

Every `cases/NAME.yaml` comes with `NAME.agreement.yaml` and `NAME.expected.json`, the document
`gainshare check NAME.yaml --agreement NAME.agreement.yaml --json` prints (regenerate with
`scripts/update_golden.py` and review the diff). Here: the document still equals the stored one
(money to the penny, counts, strings and booleans exactly), the SPEC section 3 identities hold,
the CLI exit code is the stored verdict, a re-run is bit-identical, and every case validates
with no warnings."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import gainshare
from gainshare.analysis.validate import validate_case
from gainshare.cli import app

CASES = Path(__file__).resolve().parents[1] / "cases"
CASE_FILES = sorted(p for p in CASES.glob("*.yaml") if not p.name.endswith(".agreement.yaml"))
NAMES = [p.stem for p in CASE_FILES]
PENNY = 0.005  # money fields compared to the nearest penny
EXACT_FLOATS = {"prob_whole", "beta"}  # probabilities: no penny slack
IDENTITY_REL = 1e-6  # float identity errors, relative to the pool's scale

runner = CliRunner()


def case_path(name: str) -> Path:
    return CASES / f"{name}.yaml"


def agreement_path(name: str) -> Path:
    return CASES / f"{name}.agreement.yaml"


def expected(name: str) -> dict:
    return json.loads((CASES / f"{name}.expected.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def results() -> dict:
    """One check per case, shared by the tests of this module."""
    out = {}
    for name in NAMES:
        case = gainshare.load_case(case_path(name))
        out[name] = (
            case,
            gainshare.check(
                case, gainshare.load_agreement(agreement_path(name), case), incentives=True
            ),
        )
    return out


def differences(got, want, path: str = "") -> list[str]:
    """Where two documents differ: floats to the penny, everything else exactly."""
    if isinstance(want, dict):
        if not isinstance(got, dict) or set(got) != set(want):
            return [f"{path or '(top)'}: keys {sorted(got) if isinstance(got, dict) else got!r}"
                    f" != {sorted(want)}"]  # fmt: skip
        return [d for k in want for d in differences(got[k], want[k], f"{path}.{k}")]
    if isinstance(want, list):
        if not isinstance(got, list) or len(got) != len(want):
            return [f"{path}: list of {len(got) if isinstance(got, list) else got!r} items != "
                    f"{len(want)}"]  # fmt: skip
        return [d for i, (g, w) in enumerate(zip(got, want, strict=True))
                for d in differences(g, w, f"{path}[{i}]")]  # fmt: skip
    if isinstance(want, float) and not isinstance(got, bool) and isinstance(got, int | float):
        key = path.rsplit(".", 1)[-1]
        tol = 1e-9 if key in EXACT_FLOATS else PENNY
        return (
            [] if math.isclose(got, want, rel_tol=0, abs_tol=tol) else [f"{path}: {got} != {want}"]
        )
    if type(got) is not type(want) or got != want:
        return [f"{path}: {got!r} != {want!r}"]
    return []


def test_every_case_has_its_agreement_and_expected_result():
    assert {"core", "discharge_to_assess", "virtual_ward", "mssp", "aco_reach", "aca_corridor",
            "blended"} <= set(NAMES)  # fmt: skip
    for name in NAMES:
        assert agreement_path(name).exists(), name
        assert (CASES / f"{name}.expected.json").exists(), name
    stale = {p.name.removesuffix(".expected.json") for p in CASES.glob("*.expected.json")}
    assert stale <= set(NAMES), f"expected files without a case: {stale - set(NAMES)}"


@pytest.mark.parametrize("name", NAMES)
def test_check_document_equals_golden(name, results):
    _, result = results[name]
    diffs = differences(result.document, expected(name))
    assert not diffs, f"{name}: {len(diffs)} differences, first: {diffs[:5]}"


@pytest.mark.parametrize("name", NAMES)
def test_cli_prints_the_golden_document_and_exit_code(name):
    got = runner.invoke(
        app, ["check", str(case_path(name)), "--agreement", str(agreement_path(name)), "--json"]
    )
    want = expected(name)
    assert got.exit_code == (0 if want["all_kept_whole"] else 1), got.output
    diffs = differences(json.loads(got.stdout), want)
    assert not diffs, f"{name}: {diffs[:5]}"


@pytest.mark.parametrize("name", NAMES)
def test_identities_hold(name, results):
    _, result = results[name]
    ident = result.document["identities"]
    st = result.settlement
    scale = max(1.0, float(np.abs(st.pool).max()), float(np.abs(st.system_savings).max()))
    assert ident["pence_pool_exact"] is True
    assert ident["pence_savings_exact"] is True
    assert ident["pool_conserved_max_error"] < IDENTITY_REL * scale
    assert ident["savings_identity_max_error"] < IDENTITY_REL * scale
    # and recomputed here from the arrays, not only as reported
    assert np.abs(st.transfer.sum(axis=2) + st.retained - st.pool).max() < IDENTITY_REL * scale
    assert np.abs(st.net.sum(axis=2) - st.system_savings).max() < IDENTITY_REL * scale
    pen = result.pence
    assert (pen.transfer.sum(axis=2) + pen.retained.sum(axis=2) == pen.pool).all()
    assert (pen.net.sum(axis=2) == pen.system_savings).all()


@pytest.mark.parametrize("name", NAMES)
def test_rerun_is_bit_identical(name, results):
    case, first = results[name]
    again = gainshare.check(
        case, gainshare.load_agreement(agreement_path(name), case), incentives=True
    )
    assert json.dumps(again.document) == json.dumps(first.document)
    for field in ("pool", "transfer", "retained_by", "net"):
        assert np.array_equal(getattr(again.settlement, field), getattr(first.settlement, field))


@pytest.mark.parametrize("name", NAMES)
def test_case_validates_without_warnings(name):
    doc = validate_case(case_path(name))
    assert doc["warnings"] == []
    got = runner.invoke(app, ["validate", str(case_path(name))])
    assert got.exit_code == 0, got.output
    assert "warning" not in got.output


@pytest.mark.parametrize("name", NAMES)
def test_case_is_documented_and_sized_for_an_example(name, results):
    case, result = results[name]
    assert len(case.description) > 200, "say what the case is and whether it keeps all whole"
    verdict = "check exits 0" if result.all_kept_whole else "check exits 1"
    assert verdict in " ".join(case.description.split()), f"{name}: description must say {verdict}"
    assert 200 <= case.uncertainty.scenarios <= 1000
