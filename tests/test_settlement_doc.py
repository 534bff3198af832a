"""models/settlement.md has a heading for every settlement rule of the agreement and case
schemas beyond SPEC section 3's per-provider terms, and names no rule the schemas lack."""

from __future__ import annotations

import re
from pathlib import Path

from gainshare.schema.agreement import Agreement, Terms
from gainshare.schema.baseline import Baseline
from gainshare.schema.case import Party

DOC = Path(__file__).resolve().parents[1] / "models" / "settlement.md"
TERMS_BEFORE = {"corridor", "gain_tiers", "loss_tiers", "gateway", "caps", "collars",
                "commissioner_split"}  # fmt: skip


def test_every_rule_has_its_formulas_and_nothing_else():
    documented = set(re.findall(r"^### `([a-z_.]+)`", DOC.read_text(encoding="utf-8"), re.M))
    rules = set(Terms.model_fields) - TERMS_BEFORE
    rules |= {f for f in Agreement.model_fields if f.endswith("_limits")}
    rules |= {f"baseline.{f}" for f in Baseline.model_fields}
    rules |= {r for r in Party.model_fields["role"].annotation.__args__ if r == "risk_partner"}
    assert documented == rules
