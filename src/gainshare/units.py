"""How money and shares are written for people (used by every layer that writes words)."""

from __future__ import annotations

SYMBOLS = {"GBP": "£", "USD": "$", "EUR": "€"}
CURRENCY_WORDS = {
    "GBP": ("pound", "pounds", "pence", "penny"),
    "USD": ("dollar", "dollars", "cents", "cent"),
    "EUR": ("euro", "euros", "cents", "cent"),
}


def currency_words(currency: str = "GBP") -> tuple[str, str, str, str]:
    """(unit, units, small units, small unit) in words: pound, pounds, pence, penny; an unknown
    code gives 'CHF unit', 'CHF units', cents, cent."""
    return CURRENCY_WORDS.get(currency, (f"{currency} unit", f"{currency} units", "cents", "cent"))


def money(v: float, currency: str = "GBP") -> str:
    """£1.23m, £350k, £950; negative with a leading minus."""
    sign = "-" if v < 0 else ""
    sym = SYMBOLS.get(currency, currency + " ")
    a = abs(v)
    if a >= 1e6:
        return f"{sign}{sym}{a / 1e6:,.2f}m"
    if a >= 1e4:
        return f"{sign}{sym}{a / 1e3:,.0f}k"
    return f"{sign}{sym}{a:,.0f}"


def pct(v: float) -> str:
    """A fraction as a percentage: 0.375 -> 37.5%."""
    return f"{100 * v:.2f}".rstrip("0").rstrip(".") + "%"


def per_100(v: float, currency: str = "GBP") -> str:
    """An amount per 100 units of the currency: £23, £0.40 below one unit, £0 below a penny."""
    sym = SYMBOLS.get(currency, currency + " ")
    if abs(v) < 0.005:
        return f"{sym}0"
    return f"{sym}{v:,.0f}" if abs(v) >= 0.995 else f"{sym}{v:,.2f}"
