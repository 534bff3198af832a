"""A tiny case whose design optimum can be worked out by hand.

One commissioner (ccg), an acute trust paid 1,000 a spell (variable cost 400), a community
trust on a 500,000 block (variable cost 50 a contact) that runs a scheme: 100 referrals a year,
each avoided admission moves 1 spell out of hospital and every referral adds 2 community
contacts; the scheme's team costs 20,000 a year. Two named scenarios of weight 0.5:
targeting 1.0 (100 admissions avoided) and 0.8 (80 avoided).

Per scenario (a: targeting 1, b: targeting 0.8):
  acute: revenue -100,000 / -80,000, cost -40,000 / -32,000 -> net before sharing -60,000 / -48,000
  community: cost +200 x 50 + 20,000 = +30,000 in both -> net before sharing -30,000
  pool G = 100,000 / 80,000; system savings 10,000 / 2,000
Keep-whole (robust, one gain tier): acute share >= 0.6 in both; community share >= 0.3 (a) and
>= 0.375 (b). Maximising the commissioners' expected retained amount: acute 0.6, community
0.375, ccg 0.025, expected retained 0.5 x 100,000 x 0.025 + 0.5 x 80,000 x 0.025 = 2,250.

The case states shares of any value and no drafting-space search (`search: null`), so these
hand-worked figures hold; tests of the default search state what they change.
"""

from __future__ import annotations

import copy
import itertools
import json

from typer.testing import CliRunner

from gainshare.cli import app
from gainshare.economics.model import compute
from gainshare.economics.scenarios import sample
from gainshare.schema.agreement import Agreement
from gainshare.schema.case import Case
from gainshare.settle.check import check
from gainshare.settle.requirements import failures


def tiny_dict() -> dict:
    return {
        "name": "Tiny hand-worked case",
        "horizon": {"years": 1, "first_year": 2026},
        "parties": [
            {"id": "ccg", "name": "CCG", "role": "commissioner"},
            {"id": "acute", "name": "Acute trust", "role": "provider", "kind": "acute"},
            {"id": "community", "name": "Community trust", "role": "provider", "kind": "community"},
        ],
        "contracts": [
            {
                "id": "nel",
                "commissioner": "ccg",
                "provider": "acute",
                "rule": "activity",
                "price": 1000,
                "expected_units": 1000,
                "costs": {"variable_per_unit": 400},
            },
            {
                "id": "comm",
                "commissioner": "ccg",
                "provider": "community",
                "rule": "block",
                "price": 100,
                "fixed_payment": 500000,
                "expected_units": 5000,
                "costs": {"variable_per_unit": 50},
            },
        ],
        "schemes": [
            {
                "id": "rr",
                "provider": "community",
                "referrals_per_team": 100,
                "targeting": {"dist": "uniform", "low": 0.8, "high": 1.0},
                "moves_from": [{"contract": "nel"}],
                "moves_to": [{"contract": "comm", "units_per_patient": 2}],
                "fixed_cost": 20000,
            },
        ],
        "uncertainty": {
            "scenarios": 0,
            "named": [
                {"name": "a", "weight": 0.5, "values": {"schemes.rr.targeting": 1.0}},
                {"name": "b", "weight": 0.5, "values": {"schemes.rr.targeting": 0.8}},
            ],
        },
        # the hand-worked space: shares of any value, and only the terms a test states
        "requirements": {"rounding": "none", "search": None},
    }


def _merge(base: dict, upd: dict) -> dict:
    out = copy.deepcopy(base)
    for k, v in upd.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict) and k not in ("keep_whole",):
            out[k] = _merge(out[k], v)
        else:
            out[k] = v
    return out


def tiny_case(**overrides) -> Case:
    """The tiny case with top-level sections replaced or merged (dicts merge, lists replace)."""
    return Case.model_validate(_merge(tiny_dict(), overrides))


FUND_ONE_TIER = {"max_gain_tiers": 1, "max_loss_tiers": 1, "corridor": False, "caps": False,
                 "collars": False}  # fmt: skip


STEPS = [round(0.05 * i, 2) for i in range(21)]  # shares in 5% steps
GAIN_LOSS = (("gain", 0.5, 1.0, 0.0), ("loss", 0.3, 0.4, 0.9), ("worse", 0.2, 0.3, 0.9))


def gain_loss_dict(**values: tuple) -> dict:
    """The tiny case with three named scenarios of a year: a gain year (targeting 1, no
    escalation: pool +100,000, the acute trust 60,000 short) and two loss years (escalation 0.9:
    pools -50,000 and -60,000, the acute trust 30,000 and 36,000 ahead; the community trust
    30,000 behind in every year). `values`: more parameters, path -> (gain, loss, worse)."""
    d = tiny_dict()
    d["schemes"][0]["escalation"] = {"dist": "uniform", "low": 0.0, "high": 0.9}
    d["uncertainty"]["named"] = [
        {"name": n, "weight": w,
         "values": {"schemes.rr.targeting": t, "schemes.rr.escalation": e}
         | {path: v[i] for path, v in values.items()}}
        for i, (n, w, t, e) in enumerate(GAIN_LOSS)
    ]  # fmt: skip
    return d


def best_agreement(case: Case, econ, documents) -> tuple[float, dict | None]:
    """The agreement document (of `documents`) that meets every requirement and leaves the
    commissioners most, each settled by the settlement code: (their expected retained amount,
    the document); (-inf, None) when none meets them."""
    top, arg = -float("inf"), None
    for doc in documents:
        a = Agreement.model_validate(doc)
        res = check(case, a, econ)
        if not failures(case, a, res) and res.expected_retained > top + 1e-9:
            top, arg = res.expected_retained, doc
    return top, arg


def one_tier(shares: dict) -> list[dict]:
    """One tier with the commissioner (ccg) keeping the rest."""
    return [{"shares": shares | {"ccg": round(1 - sum(shares.values()), 10)}}]


def gain_then_loss_best(case: Case, agreement_of) -> float | None:
    """The best agreement of the 5% grid of the acute and community trusts' shares, each
    settled by the settlement code. A scenario gains in every year or loses in every year, so
    a gain year's rows involve only the gain shares and a loss year's only the loss shares,
    and the objective adds the two: the best gains (losses kept by the CCG), then the best
    losses with them. `agreement_of(gain tiers, loss tiers)`: the agreement document."""
    econ = compute(case, sample(case))
    pairs = [(a, c) for a, c in itertools.product(STEPS, STEPS) if a + c <= 1 + 1e-9]

    def doc(gain, loss):
        return agreement_of(one_tier(gain), one_tier(loss))

    _, gain = best_agreement(case, econ, [doc({"acute": a, "community": c}, {})
                                          for a, c in pairs])  # fmt: skip
    if gain is None:
        return None
    g = {k: v for k, v in gain["terms"]["gain_tiers"][0]["shares"].items() if k != "ccg"}
    top, arg = best_agreement(case, econ, [doc(g, {"acute": a, "community": c})
                                           for a, c in pairs])  # fmt: skip
    return top if arg is not None else None


def design_refusal(tmp_path, d: dict) -> list[str]:
    """The case `d` written to a file and designed from the command line with --json: it must
    be refused as bad input (exit 2, one JSON document); the problems' texts."""
    path = tmp_path / "case.yaml"
    path.write_text(json.dumps(d))
    got = CliRunner().invoke(app, ["design", str(path), "--json"])
    assert got.exit_code == 2
    doc = json.loads(got.stdout)
    assert doc["status"] == "bad_input"
    return [p["text"] for p in doc["problems"]]


def fund_dict(fund=None, search=None, **req) -> dict:
    """The tiny case with a regional risk fund (a risk partner) and three named scenarios: a
    gain year and two loss years (`gain_loss_dict`; tests/test_design_risk_partner.py works its
    optimum by hand). `fund`: the fund's keep-whole requirement (none: left out)."""
    d = gain_loss_dict()
    d["parties"].append({"id": "fund", "name": "Regional risk fund", "role": "risk_partner"})
    d["keep_whole"] = {"acute": {"mode": "robust"}, "community": {"mode": "none"}}
    if fund is not None:
        d["keep_whole"]["fund"] = fund
    d["requirements"] = {
        "rounding": "5%",
        "search": FUND_ONE_TIER if search is None else search,
        "fixed_gain_shares": {"community": 0.0},
        "fixed_loss_shares": {"community": 0.0},
        "share_bounds": {"fund": {"min": 0.05}},
    } | req
    return d
