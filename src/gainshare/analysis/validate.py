"""`validate`: read a case, run every check that needs no solver, and summarise it."""

from __future__ import annotations

from pathlib import Path

from gainshare.schema.common import param_bounds, param_is_uncertain
from gainshare.schema.io import case_warnings, load_case
from gainshare.schema.parameters import parameters


def validate_case(path: str | Path) -> dict:
    """Summary of a valid case; raises InputError (one line per problem) otherwise."""
    case = load_case(path)
    params = []
    for spec in parameters(case):
        if param_is_uncertain(spec.param):
            lo, hi = param_bounds(spec.param)
            params.append({"path": spec.path, "label": spec.label, "low": lo, "high": hi})
    return {
        "command": "validate",
        "case": case.name,
        "file": str(path),
        "parties": len(case.parties),
        "commissioners": len(case.commissioner_ids),
        "providers": len(case.provider_ids),
        "contracts": len(case.contracts),
        "schemes": len(case.schemes),
        "scenarios": case.scenario_count(),
        "years": case.horizon.years,
        "warnings": [f"{path}: {w}" for w in case_warnings(case)],
        "uncertain_parameters": params,
    }
