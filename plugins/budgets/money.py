"""Money as integer nano-dollars (1e-9 USD), shown and read as USD with Decimal: no float ever sums a cost."""

from __future__ import annotations

from decimal import ROUND_DOWN, Decimal, InvalidOperation

NANOS_PER_USD = 10**9
MAX_USD = 1_000_000_000  # a budget of a billion dollars a month is no limit; its nano-dollars fit in 63 bits


def nanos_of_usd(text: str) -> int:
    """``"12.50"`` -> 12_500_000_000; ValueError for what is not a non-negative amount of dollars."""
    try:
        amount = Decimal(str(text).strip().lstrip("$"))
    except InvalidOperation:
        raise ValueError(f"{text!r} is not an amount of US dollars (e.g. 50 or 12.50)") from None
    if not amount.is_finite() or amount < 0:
        raise ValueError(f"{text!r} is not an amount of US dollars (e.g. 50 or 12.50)")
    if amount > MAX_USD:  # compared before any conversion: a huge exponent would take the GIL for seconds
        raise ValueError(f"{text!r} is more than the largest budget, ${MAX_USD:,}")
    return int((amount * NANOS_PER_USD).to_integral_value(ROUND_DOWN))


def usd(nanos: int) -> Decimal:
    """Exact dollars of an amount of nano-dollars."""
    return Decimal(nanos) / NANOS_PER_USD  # exact, without an exponent: 10, 12.5, 0.000225


def usd_text(nanos: int) -> str:
    """``$12.50``: cents always, and the digits below a cent only when there are some (``$0.000225``)."""
    return dollars_text(Decimal(nanos) / NANOS_PER_USD)


def dollars_text(amount: Decimal | None) -> str | None:
    """An exact amount of dollars as :func:`usd_text` shows it (None stays None)."""
    if amount is None:
        return None
    cents = amount.quantize(Decimal("0.01"))
    shown = cents if cents == amount else amount.normalize()
    return f"${shown:,f}"


def percent_used(spent: int, budget: int) -> float | None:
    """Spend as a percentage of the budget, to two decimals (None without a budget; a spent 0 budget is 100)."""
    if budget <= 0:
        return 100.0 if budget == 0 else None
    return float((Decimal(spent) * 100 / budget).quantize(Decimal("0.01")))
