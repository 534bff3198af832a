"""Numbers and requirements as the reports and the workshop app write them: money in one format
(`gainshare.units.money`, one unit per table column with `money_column`), probabilities, shares,
a keep-whole requirement in words, and the one sign convention every figure follows."""

from __future__ import annotations

from gainshare.units import SYMBOLS, money, money_column

__all__ = ["SIGN_CONVENTION", "convention", "money", "money_column", "pct", "requirement_words",
           "share", "symbol"]  # fmt: skip

SIGN_CONVENTION = (
    "Every amount is a change caused by the schemes and the agreement, seen from the "
    "organisation it belongs to: positive means better off, negative worse off. Net position = "
    "income change + cost saved + benefit booked + transfer + retained share of the pool."
)


def symbol(currency: str = "GBP") -> str:
    return SYMBOLS.get(currency, currency + " ")


def convention(currency: str = "GBP", years: int | None = None) -> str:
    """The sign convention, with the currency and the period the figures cover."""
    span = ""
    if years:
        span = (
            " Totals are over the one year of the agreement."
            if years == 1
            else f" Totals are over the {years} years of the agreement unless marked a year."
        )
    return f"Money in {symbol(currency).strip()} ({currency}). {SIGN_CONVENTION}{span}"


def pct(x: float) -> str:
    """A probability or share of scenarios: 1 -> 100%, 0.95 -> 95%, 0.9956 -> 99.6%; never
    0% or 100% for what is not exactly so."""
    v = 100 * float(x)
    if 0 < v < 0.05:
        return "under 0.1%"
    if 99.95 <= v < 100:
        return "over 99.9%"
    if abs(v - round(v)) >= 0.05:
        return f"{v:.1f}%"
    return f"{v:.0f}%"


def share(x: float, places: int = 2) -> str:
    """A share 0..1 of an amount being shared, as a percentage with at most `places` decimals
    and no trailing zeros: 0.45 -> 45%, 0.3333 -> 33.33%, 0.542367 -> 54.24%."""
    text = f"{100 * float(x):.{places}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return ("0" if text in ("-0", "") else text) + "%"


def requirement_words(mode: str, beta: float, tolerance: float, currency: str = "GBP") -> str:
    """A keep-whole requirement as the room says it."""
    slack = f", accepting up to {money(tolerance, currency)} a year worse off" if tolerance else ""
    if mode == "robust":
        return "kept whole in every scenario" + slack
    if mode == "chance":
        return f"kept whole in at least {pct(beta)} of scenarios" + slack
    if mode == "cvar":
        return (f"in the worst {pct(1 - beta)} of scenarios, short by no more than "
                f"{money(tolerance, currency)} a year on average")  # fmt: skip
    return "no requirement"
