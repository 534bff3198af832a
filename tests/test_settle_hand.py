"""Hand-worked settlements (SPEC section 3), one per term, asserted to the penny.

Every test uses the small case of `helpers.small_case` (gain: pool 200,000, system savings
44,000) or `helpers.loss_case` (pool -200,000, system savings -116,000); total expected spend is
3,000,000, acute's expected payment 2,000,000 and comm's 1,000,000. The arithmetic is written
next to each expected figure. Each settlement is checked in pounds and in the pence statements.
"""

from __future__ import annotations

import numpy as np
import pytest
from helpers import (
    agreement,
    block_contract,
    build_agreement,
    by_party,
    economics,
    loss_case,
    party,
    scheme,
    settle_dicts,
    small_case,
)

from gainshare.schema.case import Case
from gainshare.settle.engine import settle
from gainshare.settle.pence import statements

GAIN_SHARES = {"icb": 0.5, "acute": 0.3, "comm": 0.2}
LOSS_SHARES = {"icb": 0.5, "acute": 0.25, "comm": 0.25}


def assert_settled(st, transfer, retained_by, net=None, y=0, pool=None):
    """Transfers, commissioners' retained parts and nets of year y (scenario 0), to the penny,
    in pounds and in the pence statements; plus both identities of SPEC section 3."""
    pen = statements(st)
    ids = st.econ.party_ids
    for pid in ids:
        j = ids.index(pid)
        for name, want in (("transfer", transfer), ("retained_by", retained_by), ("net", net)):
            if want is None:
                continue
            got = float(getattr(st, name)[0, y, j])
            assert round(got * 100) == round(want.get(pid, 0.0) * 100), (name, pid, got)
        assert int(pen.transfer[0, y, j]) == round(transfer.get(pid, 0.0) * 100), pid
        assert int(pen.retained[0, y, j]) == round(retained_by.get(pid, 0.0) * 100), pid
        if net is not None:
            assert int(pen.net[0, y, j]) == round(net[pid] * 100), pid
    total_r = sum(retained_by.values())
    assert round(float(st.retained[0, y]) * 100) == round(total_r * 100)
    if pool is not None:
        assert round(float(st.pool[0, y]) * 100) == round(pool * 100)
        assert int(pen.pool[0, y]) == round(pool * 100)
    # transfers + retained = pool; sum of nets = system savings
    assert pen.transfer[0, y].sum() + pen.retained[0, y].sum() == pen.pool[0, y]
    assert pen.net[0, y].sum() == pen.system_savings[0, y]
    assert st.net[0, y].sum() == pytest.approx(st.system_savings[0, y], abs=1e-6)


# ------------------------------------------------------------------ corridor


def test_corridor_first_pound_gain_shares_the_whole_pool():
    # G = 200,000 > threshold 50,000: first pound, X = 200,000
    # acute 0.3 x 200,000 = 60,000; comm 0.2 x 200,000 = 40,000; R = 200,000 - 100,000
    agr = agreement(GAIN_SHARES, corridor={"gain_threshold": 50_000, "mode": "first_pound"})
    st = settle_dicts(small_case(), agr)
    assert float(st.shareable[0, 0]) == 200_000
    assert_settled(
        st,
        transfer={"acute": 60_000, "comm": 40_000},
        retained_by={"icb": 100_000},
        # acute: (1.8m - 2.0m) + 80,000 + 60,000; comm: 0 - 36,000 + 40,000
        net={"icb": 100_000, "acute": -60_000, "comm": 4_000},
        pool=200_000,
    )


def test_corridor_excess_only_gain_shares_the_excess():
    # X = 200,000 - 50,000 = 150,000: acute 45,000, comm 30,000; R = 200,000 - 75,000
    agr = agreement(GAIN_SHARES, corridor={"gain_threshold": 50_000, "mode": "excess_only"})
    st = settle_dicts(small_case(), agr)
    assert float(st.shareable[0, 0]) == 150_000
    assert_settled(
        st,
        transfer={"acute": 45_000, "comm": 30_000},
        retained_by={"icb": 125_000},
        # acute -200,000 + 80,000 + 45,000; comm -36,000 + 30,000
        net={"icb": 125_000, "acute": -75_000, "comm": -6_000},
    )


@pytest.mark.parametrize("mode", ["first_pound", "excess_only"])
@pytest.mark.parametrize(("referrals", "strict"), [(40, False), (40, True), (50, True)])
def test_corridor_gain_inside_shares_nothing(mode, referrals, strict):
    # 40 referrals: G = 1,000 x 40 = 40,000, below the 50,000 threshold; 50 referrals: G =
    # 50,000 = the threshold, inside only when the agreement says `strict`. Nothing is shared;
    # the commissioner keeps the whole pool.
    corridor = {"gain_threshold": 50_000, "mode": mode, "strict": strict}
    st = settle_dicts(small_case(referrals=referrals), agreement(GAIN_SHARES, corridor=corridor))
    g = 1_000 * referrals
    assert float(st.shareable[0, 0]) == 0
    assert_settled(st, transfer={}, retained_by={"icb": g}, pool=g)


def test_corridor_pool_at_the_threshold_is_shared():
    # G = 50,000 = the threshold: "savings of at least the minimum savings rate" are shared.
    # First pound: X = 50,000, acute 0.3 x 50,000 = 15,000, comm 10,000, R = 25,000.
    # Excess only: X = 50,000 - 50,000 = 0, nothing to share although outside the corridor.
    first = agreement(GAIN_SHARES, corridor={"gain_threshold": 50_000})
    st = settle_dicts(small_case(referrals=50), first)
    assert float(st.shareable[0, 0]) == 50_000
    assert_settled(st, transfer={"acute": 15_000, "comm": 10_000}, retained_by={"icb": 25_000})
    excess = agreement(GAIN_SHARES, corridor={"gain_threshold": 50_000, "mode": "excess_only"})
    st = settle_dicts(small_case(referrals=50), excess)
    assert_settled(st, transfer={}, retained_by={"icb": 50_000}, pool=50_000)


def test_corridor_loss_at_the_threshold_is_shared_unless_strict():
    # 50 referrals, half escalated: 25 new spells, G = -50,000 = minus the loss threshold.
    # At least: X = -50,000, acute and comm -0.25 x 50,000 = -12,500 each, R = -25,000.
    agr = agreement(loss=LOSS_SHARES, corridor={"loss_threshold": 50_000})
    st = settle_dicts(loss_case(referrals=50), agr)
    assert float(st.pool[0, 0]) == -50_000
    assert_settled(st, transfer={"acute": -12_500, "comm": -12_500}, retained_by={"icb": -25_000})
    agr = agreement(loss=LOSS_SHARES, corridor={"loss_threshold": 50_000, "strict": True})
    st = settle_dicts(loss_case(referrals=50), agr)
    assert_settled(st, transfer={}, retained_by={"icb": -50_000}, pool=-50_000)


@pytest.mark.parametrize(
    ("mode", "acute", "comm"),
    [
        # threshold 0.02 x 3,000,000 = 60,000; G = 100,000 (100 referrals)
        ("first_pound", 30_000, 20_000),  # 0.3 and 0.2 of 100,000
        ("excess_only", 12_000, 8_000),  # 0.3 and 0.2 of 100,000 - 60,000 = 40,000
    ],
)
def test_corridor_threshold_as_share_of_expected_spend(mode, acute, comm):
    corridor = {"gain_threshold": {"share_of_expected": 0.02}, "mode": mode}
    st = settle_dicts(small_case(referrals=100), agreement(GAIN_SHARES, corridor=corridor))
    assert_settled(
        st, transfer={"acute": acute, "comm": comm}, retained_by={"icb": 100_000 - acute - comm}
    )
    # 59 referrals: G = 59,000 < 60,000, inside
    st = settle_dicts(small_case(referrals=59), agreement(GAIN_SHARES, corridor=corridor))
    assert_settled(st, transfer={}, retained_by={"icb": 59_000})


def test_corridor_first_pound_loss():
    # G = -200,000 below -50,000: X = -200,000; acute -0.25 x 200,000, comm the same
    # R = -200,000 + 100,000 = -100,000
    agr = agreement(loss=LOSS_SHARES, corridor={"loss_threshold": 50_000})
    st = settle_dicts(loss_case(), agr)
    assert float(st.shareable[0, 0]) == -200_000
    assert_settled(
        st,
        transfer={"acute": -50_000, "comm": -50_000},
        retained_by={"icb": -100_000},
        # acute: (2.2m - 2.0m) - 80,000 - 50,000; comm: -36,000 - 50,000
        net={"icb": -100_000, "acute": 70_000, "comm": -86_000},
        pool=-200_000,
    )


def test_corridor_excess_only_loss():
    # X = -200,000 + 50,000 = -150,000: acute and comm -0.25 x 150,000 = -37,500 each
    agr = agreement(loss=LOSS_SHARES, corridor={"loss_threshold": 50_000, "mode": "excess_only"})
    st = settle_dicts(loss_case(), agr)
    assert float(st.shareable[0, 0]) == -150_000
    assert_settled(
        st,
        transfer={"acute": -37_500, "comm": -37_500},
        retained_by={"icb": -125_000},
        net={"icb": -125_000, "acute": 82_500, "comm": -73_500},
    )


@pytest.mark.parametrize("mode", ["first_pound", "excess_only"])
def test_corridor_loss_inside_shares_nothing(mode):
    # 40 referrals, half escalated: 20 new spells, G = -40,000, inside the 50,000 loss threshold
    agr = agreement(loss=LOSS_SHARES, corridor={"loss_threshold": 50_000, "mode": mode})
    st = settle_dicts(loss_case(referrals=40), agr)
    assert_settled(st, transfer={}, retained_by={"icb": -40_000}, pool=-40_000)


def test_gain_threshold_does_not_apply_to_losses():
    # A large gain threshold with no loss threshold: a loss is shared from the first pound.
    agr = agreement(loss=LOSS_SHARES, corridor={"gain_threshold": 1_000_000})
    st = settle_dicts(loss_case(), agr)
    assert_settled(st, transfer={"acute": -50_000, "comm": -50_000}, retained_by={"icb": -100_000})


# ------------------------------------------------------------------ tiers


GAIN_TIERS_ABS = [
    {"upto": 50_000, "shares": {"icb": 1.0}},
    {"upto": 150_000, "shares": {"icb": 0.5, "acute": 0.3, "comm": 0.2}},
    {"shares": {"icb": 0.2, "acute": 0.5, "comm": 0.3}},
]


def test_gain_tiers_absolute():
    # X = 200,000 -> portions 50,000 | 100,000 | 50,000
    # acute 0 + 0.3 x 100,000 + 0.5 x 50,000 = 55,000
    # comm  0 + 0.2 x 100,000 + 0.3 x 50,000 = 35,000;  R = 200,000 - 90,000 = 110,000
    st = settle_dicts(small_case(), agreement(GAIN_TIERS_ABS))
    assert_settled(st, transfer={"acute": 55_000, "comm": 35_000}, retained_by={"icb": 110_000})
    assert by_party(st, "raw_share") == {"icb": 0.0, "acute": 55_000, "comm": 35_000}


def test_gain_tiers_on_the_excess():
    # excess only over 50,000: X = 150,000 -> portions 50,000 | 100,000 | 0
    # acute 0.3 x 100,000 = 30,000; comm 0.2 x 100,000 = 20,000; R = 150,000
    agr = agreement(GAIN_TIERS_ABS, corridor={"gain_threshold": 50_000, "mode": "excess_only"})
    st = settle_dicts(small_case(), agr)
    assert_settled(st, transfer={"acute": 30_000, "comm": 20_000}, retained_by={"icb": 150_000})


def test_gain_tiers_share_of_expected():
    # edges 0.01 and 0.05 of 3,000,000 = 30,000 and 150,000; X = 200,000
    # portions 30,000 | 120,000 | 50,000
    # acute 0.3 x 120,000 + 0.5 x 50,000 = 61,000; comm 0.2 x 120,000 + 0.3 x 50,000 = 39,000
    tiers = [
        {"upto": {"share_of_expected": 0.01}, "shares": {"icb": 1.0}},
        {"upto": {"share_of_expected": 0.05}, "shares": {"icb": 0.5, "acute": 0.3, "comm": 0.2}},
        {"shares": {"icb": 0.2, "acute": 0.5, "comm": 0.3}},
    ]
    st = settle_dicts(small_case(), agreement(tiers))
    assert_settled(st, transfer={"acute": 61_000, "comm": 39_000}, retained_by={"icb": 100_000})


def test_loss_tiers_share_of_expected_three_breakpoints():
    # edges 0.01, 0.03, 0.05 of 3,000,000 = 30,000, 90,000, 150,000; |X| = 200,000
    # portions 30,000 | 60,000 | 60,000 | 50,000
    # acute 0 + 0.25 x 60,000 + 0.4 x 60,000 + 0.5 x 50,000 = 15,000 + 24,000 + 25,000 = 64,000
    # comm  0 + 0.25 x 60,000 + 0.2 x 60,000 + 0.3 x 50,000 = 15,000 + 12,000 + 15,000 = 42,000
    # R = -200,000 + 106,000 = -94,000
    tiers = [
        {"upto": {"share_of_expected": 0.01}, "shares": {"icb": 1.0}},
        {"upto": {"share_of_expected": 0.03}, "shares": LOSS_SHARES},
        {"upto": {"share_of_expected": 0.05}, "shares": {"icb": 0.4, "acute": 0.4, "comm": 0.2}},
        {"shares": {"icb": 0.2, "acute": 0.5, "comm": 0.3}},
    ]
    st = settle_dicts(loss_case(), agreement(loss=tiers))
    assert_settled(st, transfer={"acute": -64_000, "comm": -42_000}, retained_by={"icb": -94_000})


def test_loss_tiers_absolute_asymmetric_to_gains():
    # loss edge 100,000: portions 100,000 | 100,000
    # acute 0.2 x 100,000 + 0.4 x 100,000 = 60,000; comm 0.2 x 100,000 + 0.2 x 100,000 = 40,000
    tiers = [
        {"upto": 100_000, "shares": {"icb": 0.6, "acute": 0.2, "comm": 0.2}},
        {"shares": {"icb": 0.4, "acute": 0.4, "comm": 0.2}},
    ]
    st = settle_dicts(loss_case(), agreement(GAIN_TIERS_ABS, tiers))
    assert_settled(st, transfer={"acute": -60_000, "comm": -40_000}, retained_by={"icb": -100_000})


# ------------------------------------------------------------------ quality gateway


def _gateway_case(score):
    return small_case(quality_scores={"comm": score})


@pytest.mark.parametrize(
    ("score", "factor"),
    [
        (95, 1.0),  # above target
        (90, 1.0),  # at target
        (80, 0.5),  # (80 - 70) / (90 - 70)
        (75, 0.25),  # (75 - 70) / 20
        (70, 0.0),  # at floor
        (60, 0.0),  # below floor
    ],
)
def test_gateway_linear(score, factor):
    # comm's raw gain share 0.2 x 200,000 = 40,000, times the factor; the forfeit stays with
    # the commissioner: R = 200,000 - 60,000 - 40,000 x factor
    agr = agreement(GAIN_SHARES, gateway={"comm": {"mode": "linear", "target": 90, "floor": 70}})
    st = settle_dicts(_gateway_case(score), agr)
    assert float(st.quality_factor[0, 0, 2]) == factor
    assert float(st.quality_factor[0, 0, 1]) == 1.0  # acute has no gateway
    comm = 40_000 * factor
    assert_settled(
        st,
        transfer={"acute": 60_000, "comm": comm},
        retained_by={"icb": 140_000 - comm},
        net={"icb": 140_000 - comm, "acute": -60_000, "comm": -36_000 + comm},
    )


def test_gateway_proportional():
    # factor 80 / 100 = 0.8: comm 0.8 x 40,000 = 32,000; R = 200,000 - 60,000 - 32,000
    agr = agreement(GAIN_SHARES, gateway={"comm": {"mode": "proportional"}})
    st = settle_dicts(_gateway_case(80), agr)
    assert_settled(st, transfer={"acute": 60_000, "comm": 32_000}, retained_by={"icb": 108_000})


def test_gateway_does_not_touch_loss_shares():
    # losses: comm pays 0.25 x 200,000 = 50,000 whatever its score
    agr = agreement(loss=LOSS_SHARES, gateway={"comm": {"mode": "proportional"}})
    st = settle_dicts(loss_case(quality_scores={"comm": 30}), agr)
    assert_settled(st, transfer={"acute": -50_000, "comm": -50_000}, retained_by={"icb": -100_000})


def test_gateway_applies_before_the_cap():
    # comm: 40,000 x 0.5 = 20,000, under its 25,000 cap -> 20,000
    # (capping first would give min(40,000, 25,000) x 0.5 = 12,500)
    agr = agreement(
        GAIN_SHARES,
        gateway={"comm": {"target": 90, "floor": 70}},
        caps={"comm": {"amount": 25_000}},
    )
    st = settle_dicts(_gateway_case(80), agr)
    assert_settled(st, transfer={"acute": 60_000, "comm": 20_000}, retained_by={"icb": 120_000})


# ------------------------------------------------------------------ caps and collars


def test_cap_absolute_overflow_to_commissioner():
    # acute raw 60,000 capped at 50,000: the 10,000 overflow goes to icb: R = 100,000 + 10,000
    agr = agreement(GAIN_SHARES, caps={"acute": {"amount": 50_000}})
    st = settle_dicts(small_case(), agr)
    assert_settled(
        st,
        transfer={"acute": 50_000, "comm": 40_000},
        retained_by={"icb": 110_000},
        net={"icb": 110_000, "acute": -70_000, "comm": 4_000},
    )


def test_cap_share_of_providers_expected_payment():
    # acute cap 0.02 x E_acute 2,000,000 = 40,000 (raw 60,000)
    # comm  cap 0.03 x E_comm  1,000,000 = 30,000 (raw 40,000);  R = 200,000 - 70,000
    agr = agreement(
        GAIN_SHARES,
        caps={"acute": {"share_of_expected": 0.02}, "comm": {"share_of_expected": 0.03}},
    )
    st = settle_dicts(small_case(), agr)
    assert_settled(st, transfer={"acute": 40_000, "comm": 30_000}, retained_by={"icb": 130_000})


def test_collars_absolute_and_share_of_expected():
    # acute raw -50,000, collar 30,000 -> -30,000
    # comm  raw -50,000, collar 0.01 x 1,000,000 = 10,000 -> -10,000
    # commissioners absorb the overflow: R = -200,000 + 40,000 = -160,000
    agr = agreement(
        loss=LOSS_SHARES,
        collars={"acute": {"amount": 30_000}, "comm": {"share_of_expected": 0.01}},
    )
    st = settle_dicts(loss_case(), agr)
    assert_settled(
        st,
        transfer={"acute": -30_000, "comm": -10_000},
        retained_by={"icb": -160_000},
        # acute 200,000 - 80,000 - 30,000; comm -36,000 - 10,000
        net={"icb": -160_000, "acute": 90_000, "comm": -46_000},
    )


def test_caps_bind_gains_only_and_collars_losses_only():
    # a 1-pound collar does not touch a gain; a 1-pound cap does not touch a loss
    tight = {"acute": {"amount": 1}, "comm": {"amount": 1}}
    st = settle_dicts(small_case(), agreement(GAIN_SHARES, collars=tight))
    assert_settled(st, transfer={"acute": 60_000, "comm": 40_000}, retained_by={"icb": 100_000})
    st = settle_dicts(loss_case(), agreement(loss=LOSS_SHARES, caps=tight))
    assert_settled(st, transfer={"acute": -50_000, "comm": -50_000}, retained_by={"icb": -100_000})


# ------------------------------------------------------------------ several commissioners


def _two_commissioner_case():
    # la commissions reablement from comm: block 1,000,000. Expected spend: icb 3,000,000,
    # la 1,000,000 (total 4,000,000). The pool is still icb's 200,000 saving.
    d = small_case()
    d["parties"].append(party("la", "commissioner", "local_authority"))
    d["contracts"].append(block_contract("reablement", "la", "comm", 1_000_000, 5_000, 200))
    return d


TWO_COMM_SHARES = {"icb": 0.3, "la": 0.2, "acute": 0.3, "comm": 0.2}


def test_two_commissioners_default_split_by_expected_spend():
    # transfers: acute 60,000, comm 40,000; R = 100,000 split 3,000,000 : 1,000,000
    # -> icb 75,000, la 25,000
    st = settle_dicts(_two_commissioner_case(), agreement(TWO_COMM_SHARES))
    assert_settled(
        st,
        transfer={"acute": 60_000, "comm": 40_000},
        retained_by={"icb": 75_000, "la": 25_000},
        net={"icb": 75_000, "la": 25_000, "acute": -60_000, "comm": 4_000},
    )


def test_two_commissioners_explicit_split():
    # R = 100,000 split 60% / 40%
    agr = agreement(TWO_COMM_SHARES, commissioner_split={"icb": 0.6, "la": 0.4})
    st = settle_dicts(_two_commissioner_case(), agr)
    assert_settled(
        st,
        transfer={"acute": 60_000, "comm": 40_000},
        retained_by={"icb": 60_000, "la": 40_000},
    )


def test_two_commissioners_share_a_loss_and_the_threshold_uses_all_spend():
    # loss threshold 0.01 x (3,000,000 + 1,000,000) = 40,000, excess only: X = -160,000
    # acute 0.25 x 160,000 = 40,000; comm the same; R = -200,000 + 80,000 = -120,000
    # split by expected spend: icb -90,000, la -30,000
    d = _two_commissioner_case()
    d.update(schemes=loss_case()["schemes"])
    corridor = {"loss_threshold": {"share_of_expected": 0.01}, "mode": "excess_only"}
    loss = {"icb": 0.3, "la": 0.2, "acute": 0.25, "comm": 0.25}
    st = settle_dicts(d, agreement(TWO_COMM_SHARES, loss, corridor=corridor))
    assert_settled(
        st,
        transfer={"acute": -40_000, "comm": -40_000},
        retained_by={"icb": -90_000, "la": -30_000},
    )


# ------------------------------------------------------------------ a party in both roles


def _both_case():
    # la both commissions (a share of R) and provides reablement (block 500,000, 2,000 units,
    # variable cost 100). la runs scheme 'reab': 200 referrals, half targeted -> 100 spells
    # avoided; 5 reablement units per referral (1,000 units x 100 = 100,000) + 30,000 running
    # cost; social care benefit 1,000 per avoided patient booked to la (100,000).
    d = small_case()
    d["parties"] = [
        party("icb", "commissioner", "commissioner"),
        party("acute", "provider", "acute"),
        party("la", "both", "local_authority"),
    ]
    d["contracts"] = [
        d["contracts"][0],
        block_contract("reab_block", "icb", "la", 500_000, 2_000, 250, 100),
    ]
    d["schemes"] = [
        scheme(
            "reab",
            "la",
            200,
            0.5,
            [("acute_nel", 1)],
            [("reab_block", 5)],
            fixed_cost=30_000,
            benefits=[{"party": "la", "per_patient_avoided": 1_000}],
        )
    ]
    return d


def test_party_in_both_roles_gets_transfer_retained_and_benefit():
    # G = 200,000; acute 0.3 x 200,000 = 60,000; la (as provider) 0.3 x 200,000 = 60,000
    # R = 80,000 split 75/25: icb 60,000, la 20,000
    # N_acute = -200,000 + 80,000 + 60,000 = -60,000
    # N_la = 0 (block) - 130,000 + 100,000 benefit + 60,000 + 20,000 = 50,000
    # system savings = 80,000 - 130,000 + 100,000 = 50,000 = -60,000 + 50,000 + 60,000
    agr = agreement(
        {"icb": 0.4, "acute": 0.3, "la": 0.3},
        {"icb": 0.5, "acute": 0.25, "la": 0.25},
        commissioner_split={"icb": 0.75, "la": 0.25},
    )
    st = settle_dicts(_both_case(), agr)
    assert float(st.system_savings[0, 0]) == 50_000
    assert_settled(
        st,
        transfer={"acute": 60_000, "la": 60_000},
        retained_by={"icb": 60_000, "la": 20_000},
        net={"icb": 60_000, "acute": -60_000, "la": 50_000},
    )


# ------------------------------------------------------------------ glide path


def test_glide_path_loosens_collars_in_year_two():
    # Two years, 100 then 200 referrals, half escalated: G = -100,000 then -200,000.
    # Year 1 (base terms): collars 10,000 each; raw -25,000 each -> -10,000; R = -80,000
    # Year 2 (override): collars 40,000 each; raw -50,000 each -> -40,000; R = -120,000
    agr = agreement(
        loss=LOSS_SHARES,
        collars={"acute": 10_000, "comm": 10_000},
        year_overrides={2: {"collars": {"acute": 40_000, "comm": 40_000}}},
    )
    st = settle_dicts(loss_case(referrals=[100, 200], years=2), agr)
    assert_settled(
        st, transfer={"acute": -10_000, "comm": -10_000}, retained_by={"icb": -80_000}, y=0
    )
    assert_settled(
        st, transfer={"acute": -40_000, "comm": -40_000}, retained_by={"icb": -120_000}, y=1
    )


def test_glide_path_overrides_tiers_and_drops_caps():
    # Year 1: G = 100,000; acute 0.3 x 100,000 = 30,000 capped at 20,000; comm 20,000
    #         R = 100,000 - 40,000 = 60,000
    # Year 2: override shares 40/40/20 and no caps: G = 200,000; acute 80,000, comm 40,000,
    #         R = 80,000
    agr = agreement(
        GAIN_SHARES,
        caps={"acute": 20_000},
        year_overrides={
            2: {"gain_tiers": [{"shares": {"icb": 0.4, "acute": 0.4, "comm": 0.2}}], "caps": {}}
        },
    )
    st = settle_dicts(small_case(referrals=[100, 200], years=2), agr)
    assert_settled(st, transfer={"acute": 20_000, "comm": 20_000}, retained_by={"icb": 60_000})
    assert_settled(st, transfer={"acute": 80_000, "comm": 40_000}, retained_by={"icb": 80_000}, y=1)


def test_year_override_keeps_unmentioned_terms():
    a = build_agreement(
        agreement(GAIN_SHARES, caps={"acute": 20_000}, year_overrides={2: {"collars": {}}})
    )
    assert a.terms_for_year(2).caps["acute"].amount == 20_000
    assert a.terms_for_year(2).gain_tiers == a.terms.gain_tiers


# ------------------------------------------------------------------ scenarios vectorised


def test_settlement_is_per_scenario():
    # Two named scenarios with targeting 0.5 and 0.25: G = 200,000 and 100,000
    d = small_case(
        uncertainty={
            "scenarios": 0,
            "named": [
                {"name": "good", "weight": 0.5, "values": {"schemes.vw.targeting": 0.5}},
                {"name": "poor", "weight": 0.5, "values": {"schemes.vw.targeting": 0.25}},
            ],
        }
    )
    econ = economics(d)
    st = settle(econ, build_agreement(agreement(GAIN_SHARES, caps={"acute": 50_000})))
    np.testing.assert_array_equal(st.pool[:, 0], [200_000, 100_000])
    # acute: min(60,000, 50,000) and min(30,000, 50,000)
    np.testing.assert_array_equal(st.transfer[:, 0, 1], [50_000, 30_000])
    np.testing.assert_array_equal(st.retained[:, 0], [110_000, 50_000])
    assert Case.model_validate(d).scenario_count() == 2
