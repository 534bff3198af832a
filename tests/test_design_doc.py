"""models/design.md names every component of the design model, and nothing else."""

from __future__ import annotations

import re

import pyomo.environ as pyo
import pytest

from gainshare.optimise import Designer
from tests.helpers_design import tiny_case

FAMILY = re.compile(r"_\d+(_\d+)*$")


def _families(m) -> set[str]:
    names = set()
    for ctype in (pyo.Var, pyo.Constraint, pyo.Param, pyo.Expression, pyo.Objective, pyo.Block):
        for comp in m.component_objects(ctype, descend_into=False):
            names.add(FAMILY.sub("", comp.local_name))
    return names


def _documented(root) -> set[str]:
    text = (root / "models" / "design.md").read_text()
    return set(re.findall(r"^### `([a-z_]+)`", text, flags=re.M))


@pytest.fixture(scope="module")
def code_names() -> set[str]:
    """Build models that between them use every optional family."""
    variants = [
        dict(
            requirements={
                "rounding": "5%",
                "symmetric": True,
                "glide_path": True,
                "share_bounds": {"acute": {"min": 0.1, "max": 0.9}},
                "commissioners_min_expected": 0,
                "commissioners_worst_year": -1e9,
                "worst_margin_min": -1e9,
                "system_savings_min": -1e9,
                "reference_split": {"ccg": 0.5, "acute": 0.25, "community": 0.25},
                "fair_distance_max": 2.0,
                "caps": {"acute": {}},
                "collars": {"community": {}},
            }
        ),
        dict(requirements={"incentives": {"min_share": 0.05}}),
        dict(
            horizon={"years": 2, "first_year": 2026},
            requirements={
                "aggregate_limits": {
                    "caps": {"community": {"amount": 70_000}},
                    "collars": {"acute": {"amount": 10_000}},
                }
            },
        ),  # fmt: skip
        dict(
            requirements={
                "group_limits": [
                    {
                        "name": "pair",
                        "members": ["acute", "community"],
                        "cap": {"amount": 96_000},
                        "collar": {"amount": 10_000},
                    }
                ]
            }
        ),  # fmt: skip
        dict(
            requirements={"corridor_options": [{}, {"mode": "excess_only"}]},
            keep_whole={
                "acute": {"mode": "chance", "beta": 0.8},
                "community": {"mode": "cvar", "beta": 0.8},
            },
        ),
    ]
    names: set[str] = set()
    for v in variants:
        names |= _families(Designer(tiny_case(**v)).model)
    return names


def test_every_component_is_documented(code_names, root):
    missing = code_names - _documented(root)
    assert not missing, f"components without an entry in models/design.md: {sorted(missing)}"


def test_document_names_only_real_components(code_names, root):
    extra = _documented(root) - code_names
    assert not extra, f"models/design.md names components the code lacks: {sorted(extra)}"
