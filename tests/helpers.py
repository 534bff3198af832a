"""Small case and agreement builders with round numbers, so every figure is hand-computable.

The base case (`small_case()`), one scenario, every parameter fixed:

- `icb` commissions `acute_nel` from `acute` (activity: GBP 2,000 a spell, 1,000 spells
  expected, variable cost GBP 800 a spell, fixed cost GBP 500,000) and `comm_block` from `comm`
  (block: GBP 1,000,000 for 10,000 contacts, price GBP 100, variable cost GBP 40 a contact);
- `comm` runs scheme `vw` (one team, `referrals` patients, `targeting` of them would otherwise
  be acute spells, `escalation` escalated back, 2 community contacts per referral, GBP 20,000
  running cost a year).

With the defaults (200 referrals, targeting 0.5, no escalation): 100 spells avoided, so
  acute: E 2,000,000, A 1,800,000, cost change -80,000 (100 x 800)
  comm:  E = A = 1,000,000, cost change +36,000 (400 contacts x 40 + 20,000)
  pool G = 200,000; total expected spend 3,000,000; system savings 80,000 - 36,000 = 44,000.
In general (no escalation) G = 1,000 x referrals when targeting is 0.5.
"""

from __future__ import annotations

import copy
from typing import Any

from gainshare.economics.model import Economics, compute
from gainshare.schema.agreement import Agreement
from gainshare.schema.case import Case
from gainshare.settle.engine import Settlement, settle


def party(pid: str, role: str = "provider", kind: str = "other") -> dict:
    return {"id": pid, "name": pid.upper(), "role": role, "kind": kind}


def activity_contract(cid, commissioner, provider, price, units, variable=0.0, **kw) -> dict:
    d = {
        "id": cid,
        "commissioner": commissioner,
        "provider": provider,
        "rule": "activity",
        "price": price,
        "expected_units": units,
        "costs": {"variable_per_unit": variable},
    }
    return _merge(d, kw)


def block_contract(cid, commissioner, provider, payment, units, price, variable=0.0, **kw):
    d = {
        "id": cid,
        "commissioner": commissioner,
        "provider": provider,
        "rule": "block",
        "fixed_payment": payment,
        "price": price,
        "expected_units": units,
        "costs": {"variable_per_unit": variable},
    }
    return _merge(d, kw)


def scheme(sid, provider, referrals, targeting, moves_from, moves_to=(), **kw) -> dict:
    d = {
        "id": sid,
        "provider": provider,
        "teams": 1,
        "referrals_per_team": referrals,
        "targeting": targeting,
        "escalation": 0.0,
        "moves_from": [{"contract": c, "units_per_patient": u} for c, u in moves_from],
        "moves_to": [{"contract": c, "units_per_patient": u} for c, u in moves_to],
    }
    return _merge(d, kw)


def small_case(
    referrals: Any = 200,
    targeting: Any = 0.5,
    escalation: Any = 0.0,
    years: int = 1,
    scenarios: int = 1,
    **extra,
) -> dict:
    """The base case described in the module docstring, as a plain dict."""
    d = {
        "name": "Small hand case",
        "horizon": {"years": years, "first_year": 2026},
        "parties": [
            party("icb", "commissioner", "commissioner"),
            party("acute", "provider", "acute"),
            party("comm", "provider", "community"),
        ],
        "contracts": [
            activity_contract(
                "acute_nel",
                "icb",
                "acute",
                2000,
                1000,
                800,
                costs={"variable_per_unit": 800, "fixed": 500_000},
            ),
            block_contract("comm_block", "icb", "comm", 1_000_000, 10_000, 100, 40),
        ],  # fmt: skip
        "schemes": [
            scheme(
                "vw",
                "comm",
                referrals,
                targeting,
                [("acute_nel", 1)],
                [("comm_block", 2)],
                escalation=escalation,
                fixed_cost=20_000,
            )
        ],
        "uncertainty": {"scenarios": scenarios, "seed": 7},
    }
    return _merge(d, extra)


def single_contract_case(contract: dict, years: int = 1, **extra) -> dict:
    """One commissioner `icb`, one provider `prov`, one contract (ids as given), no scheme."""
    d = {
        "name": "Single contract",
        "horizon": {"years": years, "first_year": 2026},
        "parties": [party("icb", "commissioner", "commissioner"), party("prov")],
        "contracts": [contract],
        "uncertainty": {"scenarios": 1, "seed": 7},
    }
    return _merge(d, extra)


def loss_case(**extra) -> dict:
    """The base case turned into a loss: nobody is targeted and half the 200 referrals are
    escalated, so 100 new acute spells. acute: A - E = +200,000, cost change +80,000;
    comm: cost change +36,000; pool G = -200,000; system savings -116,000."""
    return small_case(targeting=0.0, escalation=0.5, **extra)


def agreement(
    gain: dict | list[dict] | None = None,
    loss: dict | list[dict] | None = None,
    **terms,
) -> dict:
    """An agreement dict. `gain`/`loss` are one shares dict (single tier) or a list of
    (upto, shares) tier dicts. Other keyword arguments go into `terms` as given."""
    gain = gain or {"icb": 0.5, "acute": 0.3, "comm": 0.2}
    loss = loss or {"icb": 0.5, "acute": 0.25, "comm": 0.25}
    t = {"gain_tiers": _tiers(gain), "loss_tiers": _tiers(loss)}
    overrides = terms.pop("year_overrides", None)
    t.update(terms)
    d: dict[str, Any] = {"name": "hand agreement", "terms": t}
    if overrides is not None:
        d["year_overrides"] = overrides
    return d


def _tiers(spec) -> list[dict]:
    if isinstance(spec, dict):
        return [{"shares": spec}]
    return [dict(t) for t in spec]


def build_case(d: dict) -> Case:
    return Case.model_validate(d)


def build_agreement(d: dict) -> Agreement:
    return Agreement.model_validate(d)


def economics(case: dict) -> Economics:
    return compute(build_case(case))


def settle_dicts(case: dict, agr: dict) -> Settlement:
    return settle(economics(case), build_agreement(agr))


def by_party(st: Settlement, field: str, s: int = 0, y: int = 0) -> dict[str, float]:
    """One scenario-year of a (S, Y, P) settlement array as {party id: value}."""
    arr = getattr(st, field)
    return {pid: float(arr[s, y, j]) for j, pid in enumerate(st.econ.party_ids)}


def _merge(base: dict, extra: dict) -> dict:
    out = copy.deepcopy(base)
    for k, v in extra.items():
        out[k] = copy.deepcopy(v)
    return out
