"""Property tests of the settlement identities (SPEC section 3) on random agreements (tiers,
thresholds, caps, collars, gateway, commissioners' split; caps and collars on a group of
providers and over the whole agreement; quality-scaled loss shares) over random small
economies, some with a risk partner."""

from __future__ import annotations

import numpy as np
from helpers import agreement, block_contract, build_agreement, economics, party, small_case
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gainshare.schema.case import KeepWhole
from gainshare.settle.check import horizon_total, shortfall_by_scenario
from gainshare.settle.engine import settle
from gainshare.settle.pence import largest_remainder, statements

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
EPS = 1e-6  # pounds: float round-off allowance on sums of a few million


def _range(draw, lo, hi):
    a, b = sorted(draw(st.floats(lo, hi)) for _ in range(2))
    return {"dist": "uniform", "low": a, "high": b}


@st.composite
def cases(draw):
    """A small case with uncertain targeting, escalation, demand and quality; sometimes a
    second commissioner, and scheme costs paid directly by the commissioner."""
    years = draw(st.integers(1, 3))
    d = small_case(
        referrals=draw(st.integers(0, 1500)),
        targeting=_range(draw, 0.0, 1.0),
        escalation=_range(draw, 0.0, 0.6),
        years=years,
        scenarios=draw(st.integers(1, 25)),
        quality_scores={"comm": _range(draw, 0.0, 100.0)},
    )
    d["uncertainty"]["seed"] = draw(st.integers(0, 2**31))
    d["contracts"][0]["demand_variation"] = _range(draw, 0.9, 1.1)
    if draw(st.booleans()):
        d["schemes"][0]["paid_directly_by"] = "icb"
    if draw(st.booleans()):
        d["parties"].append(party("la", "commissioner", "local_authority"))
        payment = draw(st.integers(1, 20)) * 100_000
        d["contracts"].append(block_contract("reab", "la", "comm", payment, 5_000, 200, 30))
        d["contracts"][1]["demand_variation"] = _range(draw, 0.8, 1.2)
    if draw(st.booleans()):
        d["parties"].append(party("rp", "risk_partner"))
    return d


def _shares(draw, ids):
    weights = draw(st.lists(st.integers(0, 20), min_size=len(ids), max_size=len(ids)))
    if sum(weights) == 0:
        weights[0] = 1
    total = sum(weights)
    out = {pid: w / total for pid, w in zip(ids, weights, strict=True)}
    return {k: v for k, v in out.items() if v > 0}


def _limit(draw, amount_max):
    if draw(st.booleans()):
        return {"amount": draw(st.integers(0, amount_max))}
    return {"share_of_expected": draw(st.floats(0.0, 0.3))}


def _tiers(draw, ids):
    n = draw(st.integers(1, 3))
    absolute = draw(st.booleans())
    edges = sorted(draw(st.sets(st.integers(1, 400), min_size=n - 1, max_size=n - 1)))
    tiers = []
    for k in range(n):
        t = {"shares": _shares(draw, ids)}
        if k < n - 1:
            t["upto"] = edges[k] * 1_000 if absolute else {"share_of_expected": edges[k] / 4_000}
        tiers.append(t)
    return tiers


@st.composite
def agreements(draw, ids, commissioners):
    corridor = {
        "gain_threshold": _limit(draw, 200_000),
        "loss_threshold": _limit(draw, 200_000),
        "mode": draw(st.sampled_from(["first_pound", "excess_only"])),
    }
    providers = ["acute", "comm"]
    terms = {"corridor": corridor}
    terms["caps"] = {p: _limit(draw, 300_000) for p in providers if draw(st.booleans())}
    terms["collars"] = {p: _limit(draw, 300_000) for p in providers if draw(st.booleans())}
    if draw(st.booleans()):
        lo = draw(st.floats(0, 80))
        terms["gateway"] = {
            "comm": draw(
                st.sampled_from(
                    [{"mode": "proportional"}, {"mode": "linear", "floor": lo, "target": lo + 20}]
                )
            )
        }
    if len(commissioners) > 1 and draw(st.booleans()):
        terms["commissioner_split"] = _shares(draw, commissioners) | {}
        for c in commissioners:
            terms["commissioner_split"].setdefault(c, 0.0)
    if draw(st.booleans()):
        terms["group_limits"] = [_group(draw)]
    if draw(st.booleans()):
        lo = draw(st.floats(0.0, 1.0))
        terms["loss_quality"] = {"comm": {"intercept": draw(st.floats(0.0, 2.0)),
                                          "slope": draw(st.floats(0.0, 2.0)), "min_rate": lo,
                                          "max_rate": draw(st.floats(lo, 1.0))}}  # fmt: skip
    out = agreement(_tiers(draw, ids), _tiers(draw, ids), **terms)
    if draw(st.booleans()):
        out["aggregate_limits"] = {
            "caps": {p: _limit(draw, 600_000) for p in providers if draw(st.booleans())},
            "collars": {p: _limit(draw, 600_000) for p in providers if draw(st.booleans())},
            "groups": [_group(draw)] if draw(st.booleans()) else [],
        }
    return out


def _group(draw) -> dict:
    g = {"name": "g", "members": ["acute", "comm"], "cap": _limit(draw, 300_000)}
    if draw(st.booleans()):
        g["collar"] = _limit(draw, 300_000)
    return g


@st.composite
def settled(draw):
    case = draw(cases())
    ids = [p["id"] for p in case["parties"]]
    comms = [p["id"] for p in case["parties"] if p["role"] == "commissioner"]
    agr = build_agreement(draw(agreements(ids, comms)))
    econ = economics(case)
    return econ, agr, settle(econ, agr)


@SETTINGS
@given(settled())
def test_money_is_conserved(case_agreement_settlement):
    econ, _, st_ = case_agreement_settlement
    scale = 1.0 + np.abs(st_.pool).max()
    # transfers + retained = pool
    np.testing.assert_allclose(st_.transfer.sum(axis=2) + st_.retained, st_.pool, atol=EPS * scale)
    # commissioners' parts add up to the retained amount; providers get none of it
    np.testing.assert_allclose(st_.retained_by.sum(axis=2), st_.retained, atol=EPS * scale)
    assert (st_.retained_by[..., ~econ.is_commissioner] == 0).all()
    # pool = sum over providers of (E - A) less scheme costs paid directly
    pool = (econ.exp_pay - econ.act_pay).sum(axis=2) - econ.direct_cost.sum(axis=2)
    np.testing.assert_allclose(st_.pool, pool, atol=EPS * scale)
    # sum of every party's net = system savings = minus the sum of real cost changes
    savings = -econ.total_cost_change.sum(axis=2)
    np.testing.assert_allclose(st_.system_savings, savings, atol=EPS * scale)
    np.testing.assert_allclose(st_.net.sum(axis=2), savings, atol=EPS * scale)


@SETTINGS
@given(settled())
def test_transfers_respect_caps_collars_and_the_corridor(case_agreement_settlement):
    econ, agr, st_ = case_agreement_settlement
    for y in range(econ.shape[1]):
        terms = agr.terms_for_year(y + 1)
        for pid, lim in terms.caps.items():
            j = econ.index(pid)
            cap = lim.resolve(econ.exp_pay[:, y, j])
            assert (st_.transfer[:, y, j] <= cap + EPS).all()
        for pid, lim in terms.collars.items():
            j = econ.index(pid)
            collar = lim.resolve(econ.exp_pay[:, y, j])
            assert (st_.transfer[:, y, j] >= -collar - EPS).all()
    x = st_.shareable[..., None]
    # nothing shared inside the corridor; a provider never pays out of a gain or is paid
    # out of a loss; commissioners receive no transfer
    assert (st_.transfer[np.broadcast_to(x == 0, st_.transfer.shape)] == 0).all()
    assert (st_.transfer[np.broadcast_to(x > 0, st_.transfer.shape)] >= 0).all()
    assert (st_.transfer[np.broadcast_to(x < 0, st_.transfer.shape)] <= 0).all()
    assert (st_.transfer[..., ~econ.takes_share] == 0).all()
    # |X| never exceeds |G|, and has the same sign
    assert (np.abs(st_.shareable) <= np.abs(st_.pool) + EPS).all()
    assert (st_.shareable * st_.pool >= 0).all()
    # gateway factor in [0, 1]
    assert ((st_.quality_factor >= 0) & (st_.quality_factor <= 1)).all()


@SETTINGS
@given(settled())
def test_pence_statements_are_exact(case_agreement_settlement):
    econ, _, st_ = case_agreement_settlement
    pen = statements(st_)
    for arr in (pen.transfer, pen.retained, pen.net, pen.pool, pen.system_savings):
        assert arr.dtype == np.int64
    # transfers + retained = pool, exactly
    assert (pen.transfer.sum(axis=2) + pen.retained.sum(axis=2) == pen.pool).all()
    # sum of nets = system savings, exactly; commissioners' spend saved = providers' lost revenue
    assert (pen.net.sum(axis=2) == pen.system_savings).all()
    assert (pen.spend_saved.sum(axis=2) == -pen.revenue_change.sum(axis=2)).all()
    assert (pen.pool == pen.spend_saved.sum(axis=2) - pen.direct_cost.sum(axis=2)).all()
    # each pence figure is near its pounds figure: revenue, cost, direct cost and benefit are
    # rounded half a penny at most; the pool is their sum; transfers and retained parts are
    # apportioned to that pool, so each moves less than 2 pence (less than 1 whenever the pool's
    # own rounding leaves room)
    P = econ.shape[2]
    assert (
        np.abs(pen.revenue_change - 100 * econ.revenue_change * econ.is_provider) <= 0.5 + 1e-6
    ).all()
    assert (np.abs(pen.pool - 100 * st_.pool) <= 0.5 * 2 * P + 1e-6).all()
    assert (np.abs(pen.transfer - 100 * st_.transfer) < 2).all()
    assert (np.abs(pen.retained - 100 * st_.retained_by) < 2).all()
    assert (np.abs(pen.net - 100 * st_.net) < 5.5).all()


money = st.floats(-1e7, 1e7, allow_nan=False, allow_infinity=False)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.lists(money, min_size=1, max_size=8), min_size=1, max_size=6).filter(
        lambda rows: len({len(r) for r in rows}) == 1
    )
)
def test_largest_remainder_sums_exactly_within_a_penny(rows):
    values = np.round(np.asarray(rows), 6)  # pounds to a micro-pound
    totals = np.rint(values.sum(axis=1) * 100).astype(np.int64)
    out = largest_remainder(values, totals)
    assert out.dtype == np.int64
    assert (out.sum(axis=1) == totals).all()
    assert (np.abs(out - values * 100) < 1 + 1e-6).all()


def test_largest_remainder_hand_example():
    # 1/3 of 100 pounds three ways: 3,333.33... pence each; 10,000 pence to place
    out = largest_remainder(np.array([100 / 3, 100 / 3, 100 / 3]), np.array(10_000))
    assert out.tolist() == [3334, 3333, 3333]
    # the largest remainders take the extra pence: 0.996 -> 99.6 pence (rem .6), 0.994 (.4),
    # 0.01 (0); total rounds to 200 pence
    out = largest_remainder(np.array([0.996, 0.994, 0.01]), np.array(200))
    assert out.tolist() == [100, 99, 1]
    # negative values
    out = largest_remainder(np.array([-0.005, -0.005]), np.array(-1))
    assert sorted(out.tolist()) == [-1, 0]


def _members_total(st_, kind: str) -> np.ndarray:
    both = st_.transfer[:, :, [st_.econ.index("acute"), st_.econ.index("comm")]]
    return np.maximum(both, 0).sum(axis=2) if kind == "gain" else np.maximum(-both, 0).sum(axis=2)


@SETTINGS
@given(settled())
def test_group_and_agreement_long_limits_hold(case_agreement_settlement):
    econ, agr, st_ = case_agreement_settlement
    members = [econ.index("acute"), econ.index("comm")]
    benchmark = econ.exp_pay[:, :, members].sum(axis=2)
    for y in range(econ.shape[1]):
        for g in agr.terms_for_year(y + 1).group_limits or []:
            for kind, lim in (("gain", g.cap), ("loss", g.collar)):
                if lim is not None:
                    most = lim.resolve(benchmark[:, y])
                    assert (_members_total(st_, kind)[:, y] <= most + EPS * (1 + most)).all()
    agg = agr.aggregate_limits
    if agg is None:
        return
    total = econ.exp_pay.sum(axis=1)
    gained = np.maximum(st_.transfer, 0).cumsum(axis=1)
    lost = np.maximum(-st_.transfer, 0).cumsum(axis=1)
    for limits, used in ((agg.caps, gained), (agg.collars, lost)):
        for pid, lim in limits.items():
            j = econ.index(pid)
            most = lim.resolve(total[:, j])[:, None]
            assert (used[:, :, j] <= most + EPS * (1 + most)).all()
    for g in agg.groups:
        for kind, lim in (("gain", g.cap), ("loss", g.collar)):
            if lim is not None:
                most = lim.resolve(total[:, members].sum(axis=1))[:, None]
                used = _members_total(st_, kind).cumsum(axis=1)
                assert (used <= most + EPS * (1 + most)).all()


@SETTINGS
@given(settled())
def test_loss_rates_and_risk_partners(case_agreement_settlement):
    econ, agr, st_ = case_agreement_settlement
    if st_.loss_rate is not None:
        rule = agr.terms.loss_quality["comm"]
        rate = st_.loss_rate[:, :, econ.index("comm")]
        assert ((rate >= rule.min_rate - 1e-12) & (rate <= rule.max_rate + 1e-12)).all()
    if "rp" in econ.party_ids:
        t = st_.transfer[:, :, econ.index("rp")]
        assert (t * st_.shareable >= 0).all()  # a gain is paid to it, a loss by it
        assert (np.abs(st_.net[:, :, econ.index("rp")] - t) <= EPS).all()


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 200), st.integers(1, 7), st.integers(1, 7), st.integers(0, 2**31))
def test_year_totals_and_worst_shortfalls_equal_numpys_reductions(scenarios, years, start, seed):
    """The check's year-at-a-time totals and shortfalls are numpy's axis reductions, to the
    bit (up to seven years they add in the same order)."""
    rng = np.random.default_rng(seed)
    net = rng.normal(0.0, 1e5, (scenarios, years)).round(2)
    net[rng.random(net.shape) < 0.2] = 0.0
    assert np.array_equal(horizon_total(net), net.sum(axis=1))
    kw = KeepWhole(mode="robust", tolerance=1000.0, from_year=min(start, years))
    want = np.maximum(kw.line() - net[:, kw.from_year - 1 :], 0.0).max(axis=1)
    assert np.array_equal(shortfall_by_scenario(net, kw), want)
    assert np.array_equal(shortfall_by_scenario(np.asfortranarray(net), kw), want)
