"""The coalition savings game of a case and its fair reference splits (SPEC section 4.6).

Value of a coalition C: the best expected system savings (horizon total, expected over the
case's scenarios) that the members of C can reach on their own while every other party keeps
today's arrangements, i.e. runs no scheme.

- A scheme can run for C only when C holds every party it cannot run without: its provider,
  the commissioner that pays it directly (if any), and the provider and commissioner of every
  contract it moves activity from or to.
- The savings it releases are real resources: acute costs avoided, less the scheme's running
  costs and the added community activity, plus benefits booked to other budgets (e.g. social
  care placements avoided). Benefits count even when the party they land on is outside C: a
  benefit party does not enable a scheme, it only receives part of its savings, and system
  savings do not depend on who holds them.
- C picks the best subset of the schemes it can run (a scheme that loses money on its own may
  be left out), so v is monotone in the schemes a coalition can run.
- Savings are measured against running no scheme at all, on the same scenario draws, so
  demand variation the schemes do not cause cancels out and v(empty set) = 0 by construction.
- The case's integer levers (teams, closures, year of closure) are not yet part of the case
  schema: the schemes run at the teams and closures the case states. When levers arrive, the
  value becomes the best over them as well.

Values are rounded to whole pence before the splits are computed, so the published values
reproduce every split exactly through `gainshare.analysis.fairness`."""

from __future__ import annotations

from functools import cache

from gainshare.analysis import fairness
from gainshare.economics.model import compute
from gainshare.economics.scenarios import ScenarioSet, sample
from gainshare.schema.case import Case, Scheme
from gainshare.schema.io import InputError

MAX_PARTIES = 12  # 2**12 = 4,096 coalitions
MAX_SCHEMES = 10  # every subset of the schemes is evaluated once: 2**10 = 1,024
SPLITS = ("shapley", "nucleolus", "proportional", "equal_surplus")


def enabling_parties(case: Case, scheme: Scheme) -> frozenset[str]:
    """Parties a scheme cannot run without (benefit parties are not among them)."""
    contracts = {c.id: c for c in case.contracts}
    need = {scheme.provider}
    if scheme.paid_directly_by is not None:
        need.add(scheme.paid_directly_by)
    for shift in scheme.moves_from + scheme.moves_to:
        c = contracts[shift.contract]
        need |= {c.provider, c.commissioner}
    return frozenset(need)


def coalition_label(coalition: frozenset[str]) -> str:
    return "+".join(sorted(coalition))


def _limits(case: Case) -> None:
    problems = []
    if len(case.parties) > MAX_PARTIES:
        problems.append(
            f"parties: {len(case.parties)} parties is beyond the limit of {MAX_PARTIES} for the "
            f"coalition game (2^{MAX_PARTIES} coalitions): merge parties that act together"
        )
    if len(case.schemes) > MAX_SCHEMES:
        problems.append(
            f"schemes: {len(case.schemes)} schemes is beyond the limit of {MAX_SCHEMES} for the "
            "coalition game (every subset is evaluated): merge schemes run by the same parties"
        )
    if problems:
        raise InputError([f"{case.name}: {p}" for p in problems])


def scheme_savings(case: Case, scenarios: ScenarioSet | None = None):
    """A function: set of scheme ids -> expected system savings (pounds, horizon total) of
    running exactly those schemes, relative to running none, on the same scenario draws."""
    sc = scenarios if scenarios is not None else sample(case)

    def expected(ids: frozenset[str]) -> float:
        sub = case.model_copy(update={"schemes": [s for s in case.schemes if s.id in ids]})
        e = compute(sub, scenarios=sc)
        return float(e.weights @ -e.total_cost_change.sum(axis=(1, 2)))

    baseline = expected(frozenset())

    @cache
    def savings(ids: frozenset[str]) -> float:
        return expected(ids) - baseline if ids else 0.0

    return savings


def coalition_game(case: Case, scenarios: ScenarioSet | None = None) -> dict[frozenset, float]:
    """v(C) for every coalition C of parties (empty one included, worth 0), in pounds rounded to
    whole pence."""
    _limits(case)
    return _game(case, scheme_savings(case, scenarios))


def _game(case: Case, savings) -> dict[frozenset, float]:
    needs = {s.id: enabling_parties(case, s) for s in case.schemes}

    @cache
    def best(ids: frozenset[str]) -> float:
        """Best savings over every subset of the schemes in `ids`."""
        return max([savings(ids)] + [best(ids - {s}) for s in ids])

    ids = case.party_ids
    game = {}
    for mask in range(1 << len(ids)):
        c = frozenset(p for i, p in enumerate(ids) if mask >> i & 1)
        runnable = frozenset(s for s, need in needs.items() if need <= c)
        game[c] = round(best(runnable), 2) if runnable else 0.0
    return game


def _split_or_note(name: str, fn, game, players, notes: list[str]):
    try:
        return fn(game, players)
    except ValueError as e:
        notes.append(f"{name}: {e}")
        return None


def fair_references(case: Case, scenarios: ScenarioSet | None = None, *,
                    agreements: bool = True) -> dict:  # fmt: skip
    """The document of `gainshare fair CASE --json`. With `agreements`, the key `agreements`
    holds each fair split's and bargaining point's agreement (`analysis.bargaining`)."""
    _limits(case)
    sc = scenarios if scenarios is not None else sample(case)
    savings = scheme_savings(case, sc)
    game = _game(case, savings)
    players = case.party_ids
    grand = game[frozenset(players)]
    notes: list[str] = []
    splits = {
        "shapley": fairness.shapley(game, players),
        "nucleolus": _split_or_note("nucleolus", fairness.nucleolus, game, players, notes),
        "proportional": fairness.proportional(game, players),
        "equal_surplus": fairness.equal_surplus(game, players),
    }
    basis = fairness.proportional_basis(game, players)
    if grand <= 0:
        notes.append(
            "no coalition saves money in expectation (v(N) <= 0): there is nothing to share, "
            "so shares of system savings are not given"
        )
    doc = {
        "command": "fair",
        "case": case.name,
        "currency": case.currency,
        "scenarios": sc.count,
        "years": case.horizon.years,
        "players": players,
        "schemes": {
            s.id: {
                "needs": [p for p in players if p in enabling_parties(case, s)],
                "expected_savings_alone": round(savings(frozenset({s.id})), 2),
            }
            for s in case.schemes
        },
        "values": {
            coalition_label(c): v
            for c, v in sorted(game.items(), key=lambda kv: (len(kv[0]), _rank(kv[0], players)))
            if c
        },
        "grand_coalition_value": grand,
        "proportional_basis": basis,
        "core_empty": fairness.core_is_empty(game, players),
    }
    for name, x in splits.items():
        doc[name] = None if x is None else {p: round(x[p], 2) for p in players}
    doc["in_core"] = {
        name: None if x is None else fairness.in_core(game, x, players, tol=0.01)
        for name, x in splits.items()
    }
    doc["shares"] = {
        name: None if x is None or grand <= 0 else {p: round(x[p] / grand, 6) for p in players}
        for name, x in splits.items()
    }
    doc["notes"] = notes
    if agreements:  # the solver side (Pyomo, HiGHS) loads only when agreements are asked for
        from gainshare.analysis.bargaining import fair_agreements

        doc["agreements"] = fair_agreements(case, sc, doc).document
    return doc


def _rank(c: frozenset, players: list[str]) -> list[int]:
    return sorted(players.index(p) for p in c)
