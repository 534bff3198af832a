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
    """£1.23m, £350k, £9,950; negative with a leading minus; never '-£0' or '£1,000k' (an
    amount is written in the unit it shows in after rounding)."""
    sym = SYMBOLS.get(currency, currency + " ")
    a = abs(float(v))
    if a >= 999_500:
        text = f"{a / 1e6:,.2f}m"
    elif a >= 9_999.5:
        text = f"{a / 1e3:,.0f}k"
    else:
        text = f"{a:,.0f}"
    sign = "-" if v < 0 and text.strip("0.,mk") else ""
    return f"{sign}{sym}{text}"


UNITS = ((999_500, 1e6, "m", 2), (9_999.5, 1e3, "k", 0), (0.0, 1.0, "", 0))


def money_column(values, currency: str = "GBP") -> list[str]:
    """A column of amounts in one unit, chosen by its largest amount (as `money` would write
    it): £1.39m, £0.25m, £0.10m; or £249k, £30k, £0k; or £950, £12. Rounding to the unit never
    shows '-£0'."""
    vals = [float(v) for v in values]
    top = max((abs(v) for v in vals), default=0.0)
    _, scale, suffix, dp = next(u for u in UNITS if top >= u[0])
    sym = SYMBOLS.get(currency, currency + " ")
    out = []
    for v in vals:
        text = f"{abs(v) / scale:,.{dp}f}"
        sign = "-" if v < 0 and text.strip("0.,") else ""
        out.append(f"{sign}{sym}{text}{suffix}")
    return out


def pct(v: float) -> str:
    """A fraction as a percentage: 0.375 -> 37.5%."""
    return f"{100 * v:.2f}".rstrip("0").rstrip(".") + "%"


def per_100(v: float, currency: str = "GBP") -> str:
    """An amount per 100 units of the currency: £23, £0.40 below one unit, £0 below a penny."""
    sym = SYMBOLS.get(currency, currency + " ")
    if abs(v) < 0.005:
        return f"{sym}0"
    return f"{sym}{v:,.0f}" if abs(v) >= 0.995 else f"{sym}{v:,.2f}"
