"""Synthetic but plausible local care economies for the benchmarks (SPEC section 6).

`workshop_case()` is a six-party system (one ICB, a county council that both commissions and
provides, an acute trust, a community trust, a mental health trust and an ambulance service)
with four care-model schemes; `large_case()` adds a second ICB and its acute trust, a GP
federation and a hospice (ten parties, seven schemes). Both are built in code from the case
schema, so they validate exactly like a case file. Figures follow the example cases in
`cases/` (NHS Payment Scheme prices, National Cost Collection unit costs, Agenda for Change
pay with on-costs); they are illustrative, not any real system's."""

from __future__ import annotations

from gainshare.schema.case import Case


def _tri(low: float, mode: float, high: float) -> dict:
    return {"dist": "triangular", "low": low, "mode": mode, "high": high}


def _uni(low: float, high: float) -> dict:
    return {"dist": "uniform", "low": low, "high": high}


def _ramp(years: int, start: float) -> list[dict]:
    """Referrals reach full scale over the first years (challenge 4: credibility and scale)."""
    out = []
    for y in range(years):
        lo = min(start + 0.1 * y, 0.9)
        out.append(_uni(lo, min(lo + 0.15, 1.0)))
    return out


def _staff(posts: float, cost: float, filled_low: float, premium: float) -> dict:
    return {"posts_per_team": posts, "cost_per_post": cost,
            "filled": _uni(filled_low, 1.0), "agency_premium": premium}  # fmt: skip


WARD = {"capacity_per_step": 7756, "cost_per_step": 2_000_000, "closures": 1,
        "first_release_year": 2}  # fmt: skip

PARTIES_6 = [
    {"id": "icb", "name": "NHS Northfield ICB", "role": "commissioner", "kind": "commissioner"},
    {"id": "council", "name": "Northfield County Council", "role": "both",
     "kind": "local_authority"},
    {"id": "acute", "name": "Northfield Hospitals NHS FT", "role": "provider", "kind": "acute"},
    {"id": "community", "name": "Northfield Community Health NHS Trust", "role": "provider",
     "kind": "community"},
    {"id": "mental_health", "name": "Northfield and District Mental Health NHS FT",
     "role": "provider", "kind": "mental_health"},
    {"id": "ambulance", "name": "Northfield Ambulance Service NHS Trust", "role": "provider",
     "kind": "ambulance"},
]  # fmt: skip

PARTIES_10 = PARTIES_6 + [
    {"id": "icb_south", "name": "NHS Southfield ICB", "role": "commissioner",
     "kind": "commissioner"},
    {"id": "acute_south", "name": "Southfield General Hospital NHS Trust", "role": "provider",
     "kind": "acute"},
    {"id": "gp_fed", "name": "Northfield GP Federation", "role": "provider",
     "kind": "primary_care"},
    {"id": "hospice", "name": "St Aidan's Hospice", "role": "provider", "kind": "other"},
]  # fmt: skip


def _contracts_6() -> list[dict]:
    return [
        {"id": "acute_nel", "name": "Non-elective admissions, over-75s", "commissioner": "icb",
         "provider": "acute", "unit": "spell", "rule": "activity", "price": 2200,
         "expected_units": 18000, "bed_days_per_unit": 4.0,
         "costs": {"variable_per_unit": _tri(1000, 1100, 1200), "fixed": 16_000_000,
                   "stepped": WARD}},
        {"id": "acute_xbd", "name": "Excess bed day payments", "commissioner": "icb",
         "provider": "acute", "unit": "excess bed day", "rule": "activity", "price": 330,
         "expected_units": 20000, "costs": {"variable_per_unit": 150}},
        {"id": "community_block", "name": "Community nursing", "commissioner": "icb",
         "provider": "community", "unit": "contact", "rule": "block",
         "fixed_payment": 12_000_000, "price": 50, "expected_units": 240000,
         "costs": {"variable_per_unit": 45, "fixed": 1_000_000}},
        {"id": "mh_block", "name": "Community mental health and crisis", "commissioner": "icb",
         "provider": "mental_health", "unit": "contact", "rule": "block",
         "fixed_payment": 9_000_000, "price": 180, "expected_units": 50000,
         "costs": {"variable_per_unit": 120}},
        {"id": "conveyance", "name": "Emergency conveyances to A&E", "commissioner": "icb",
         "provider": "ambulance", "unit": "conveyance", "rule": "activity", "price": 280,
         "expected_units": 60000, "costs": {"variable_per_unit": _tri(130, 150, 170)}},
        {"id": "reablement", "name": "Reablement (Better Care Fund)", "commissioner": "icb",
         "provider": "council", "unit": "hour", "rule": "block", "fixed_payment": 3_600_000,
         "price": 30, "expected_units": 120000, "costs": {"variable_per_unit": 28}},
    ]  # fmt: skip


def _contracts_10() -> list[dict]:
    return _contracts_6() + [
        {"id": "south_nel", "name": "Non-elective admissions, over-75s (south)",
         "commissioner": "icb_south", "provider": "acute_south", "unit": "spell",
         "rule": "activity", "price": 2150, "expected_units": 12000, "bed_days_per_unit": 4.5,
         "costs": {"variable_per_unit": _tri(950, 1050, 1150), "fixed": 11_000_000,
                   "stepped": WARD}},
        {"id": "south_conveyance", "name": "Emergency conveyances (south)",
         "commissioner": "icb_south", "provider": "ambulance", "unit": "conveyance",
         "rule": "activity", "price": 280, "expected_units": 40000,
         "costs": {"variable_per_unit": _tri(130, 150, 170)}},
        {"id": "south_community", "name": "Community nursing (south)",
         "commissioner": "icb_south", "provider": "community", "unit": "contact",
         "rule": "block", "fixed_payment": 8_000_000, "price": 50, "expected_units": 160000,
         "costs": {"variable_per_unit": 45}},
        {"id": "care_home_reviews", "name": "Enhanced health in care homes",
         "commissioner": "icb", "provider": "gp_fed", "unit": "review", "rule": "blended",
         "fixed_payment": 900_000, "price": 120, "expected_units": 8000,
         "marginal_rate_above": 0.5, "costs": {"variable_per_unit": 95}},
        {"id": "hospice_block", "name": "Specialist palliative care",
         "commissioner": "icb_south", "provider": "hospice", "unit": "contact",
         "rule": "block", "fixed_payment": 4_000_000, "price": 150, "expected_units": 26000,
         "costs": {"variable_per_unit": 110}},
    ]  # fmt: skip


def _schemes_6(years: int) -> list[dict]:
    return [
        {"id": "rapid_response", "name": "Two-hour urgent community response",
         "provider": "community", "teams": 2, "referrals_per_team": 1800,
         "ramp_up": _ramp(years, 0.75), "targeting": _tri(0.65, 0.75, 0.85),
         "escalation": _tri(0.04, 0.08, 0.12),
         "moves_from": [{"contract": "acute_nel"},
                        {"contract": "conveyance", "units_per_patient": 0.8}],
         "moves_to": [{"contract": "community_block", "units_per_patient": 2}],
         "fixed_cost": 40000, "cost_per_patient": 40,
         "staffing": _staff(8, 48000, 0.75, 0.5)},
        {"id": "mh_crisis", "name": "Mental health crisis alternative", "provider": "mental_health",
         "teams": 1, "referrals_per_team": 1200, "ramp_up": _ramp(years, 0.7),
         "targeting": _tri(0.4, 0.5, 0.6), "escalation": _tri(0.1, 0.15, 0.2),
         "moves_from": [{"contract": "acute_nel"},
                        {"contract": "conveyance", "units_per_patient": 0.5}],
         "moves_to": [{"contract": "mh_block", "units_per_patient": 3}],
         "fixed_cost": 30000, "staffing": _staff(10, 50000, 0.7, 0.5)},
        {"id": "d2a", "name": "Discharge to assess, pathway 1", "provider": "council",
         "teams": 2, "referrals_per_team": 1100, "ramp_up": _ramp(years, 0.65),
         "targeting": _tri(0.6, 0.75, 0.9), "escalation": _tri(0.05, 0.1, 0.15),
         "moves_from": [{"contract": "acute_xbd", "units_per_patient": 2}],
         "moves_to": [{"contract": "reablement", "units_per_patient": 25}],
         "fixed_cost": 60000, "cost_per_patient": 50, "staffing": _staff(6, 42000, 0.7, 0.4),
         "benefits": [{"party": "council", "per_patient_avoided": _tri(1000, 2000, 3500)}]},
        {"id": "see_and_treat", "name": "Paramedic see and treat", "provider": "ambulance",
         "teams": 3, "referrals_per_team": 2500, "ramp_up": _ramp(years, 0.8),
         "targeting": _tri(0.5, 0.6, 0.7), "escalation": _tri(0.05, 0.1, 0.15),
         "moves_from": [{"contract": "conveyance"},
                        {"contract": "acute_nel", "units_per_patient": 0.25}],
         "fixed_cost": 20000, "cost_per_patient": 25, "staffing": _staff(6, 45000, 0.8, 0.5)},
    ]  # fmt: skip


def _schemes_10(years: int) -> list[dict]:
    return _schemes_6(years) + [
        {"id": "care_homes", "name": "Care home support", "provider": "gp_fed", "teams": 3,
         "referrals_per_team": 700, "ramp_up": _ramp(years, 0.7),
         "targeting": _tri(0.35, 0.45, 0.55), "escalation": _tri(0.05, 0.1, 0.15),
         "moves_from": [{"contract": "acute_nel", "units_per_patient": 0.6},
                        {"contract": "south_nel", "units_per_patient": 0.4},
                        {"contract": "conveyance", "units_per_patient": 0.7}],
         "moves_to": [{"contract": "care_home_reviews", "units_per_patient": 4}],
         "fixed_cost": 15000, "staffing": _staff(3, 52000, 0.8, 0.5),
         "benefits": [{"party": "council", "per_patient_avoided": _tri(500, 1000, 2000)}]},
        {"id": "hospice_at_home", "name": "Hospice at home", "provider": "hospice", "teams": 1,
         "referrals_per_team": 450, "ramp_up": _ramp(years, 0.75),
         "targeting": _tri(0.5, 0.6, 0.7), "escalation": _tri(0.05, 0.1, 0.2),
         "moves_from": [{"contract": "south_nel"},
                        {"contract": "south_conveyance", "units_per_patient": 0.6}],
         "moves_to": [{"contract": "hospice_block", "units_per_patient": 4}],
         "fixed_cost": 25000, "staffing": _staff(6, 44000, 0.75, 0.5)},
        {"id": "virtual_ward_south", "name": "Frailty virtual ward (south)",
         "provider": "community", "teams": 2, "referrals_per_team": 1400,
         "ramp_up": _ramp(years, 0.7), "targeting": _tri(0.6, 0.7, 0.8),
         "escalation": _tri(0.08, 0.12, 0.18),
         "moves_from": [{"contract": "south_nel"},
                        {"contract": "south_conveyance", "units_per_patient": 0.7}],
         "moves_to": [{"contract": "south_community", "units_per_patient": 4}],
         "fixed_cost": 40000, "cost_per_patient": 60, "staffing": _staff(9, 48000, 0.75, 0.5)},
    ]  # fmt: skip


def _named(years: int) -> list[dict]:
    pess = {"schemes.rapid_response.targeting": 0.68, "schemes.rapid_response.escalation": 0.11,
            "schemes.d2a.benefits.council": 1200}  # fmt: skip
    opt = {"schemes.rapid_response.targeting": 0.82, "schemes.rapid_response.escalation": 0.05,
           "schemes.d2a.benefits.council": 3000}  # fmt: skip
    return [
        {"name": "pessimistic", "weight": 0.05, "values": pess},
        {"name": "central", "weight": 0.05},
        {"name": "optimistic", "weight": 0.05, "values": opt},
    ]


# Keep-whole tolerances (pounds a year a provider accepts to be worse off): the acute trusts
# cannot close a ward in year 1 and accept a bounded loss while beds free up; the others accept
# a small one.
TOLERANCE = {"acute": 500_000.0, "acute_south": 500_000.0}
OTHER_TOLERANCE = 200_000.0


def system_dict(parties: int = 6, scenarios: int = 500, years: int = 3,
                seed: int = 20260501) -> dict:  # fmt: skip
    """The case as a plain dict (what a YAML file would hold)."""
    if parties not in (6, 10):
        raise ValueError("parties: 6 (workshop) or 10 (large)")
    big = parties == 10
    party_list = PARTIES_10 if big else PARTIES_6
    providers = [p["id"] for p in party_list if p["role"] != "commissioner"]
    return {
        "name": f"Benchmark system, {parties} parties",
        "description": "Synthetic local care economy for the performance benchmarks.",
        "horizon": {"years": years, "first_year": 2026},
        "parties": party_list,
        "contracts": _contracts_10() if big else _contracts_6(),
        "schemes": _schemes_10(years) if big else _schemes_6(years),
        "uncertainty": {"scenarios": scenarios, "seed": seed, "named": _named(years)},
        "keep_whole": {
            pid: {"mode": "robust", "tolerance": TOLERANCE.get(pid, OTHER_TOLERANCE)}
            for pid in providers
        },  # fmt: skip
        "requirements": {
            "objective": "commissioners",
            "gain_edges": [{"share_of_expected": 0.02}, {"share_of_expected": 0.04}],
        },
    }


def system_case(parties: int = 6, scenarios: int = 500, years: int = 3, **kw) -> Case:
    return Case.model_validate(system_dict(parties, scenarios, years, **kw))


def workshop_case(scenarios: int = 500) -> Case:
    """Six parties, 500 scenarios, three years (SPEC section 6: the workshop case)."""
    return system_case(6, scenarios, 3)


def large_case(scenarios: int = 5000) -> Case:
    """Ten parties, 5,000 scenarios, five years (SPEC section 6: first design)."""
    return system_case(10, scenarios, 5)
