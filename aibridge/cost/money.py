"""Nano-dollars (integers, 1e-9 USD) and the USD amounts people read and type (Decimal)."""

from __future__ import annotations

from decimal import Decimal

NANOS_PER_USD = 10**9


def nanos_to_usd(nanos: int | None) -> Decimal | None:
    """``nanos`` as an exact USD Decimal (9 decimal places); None stays None (unpriced)."""
    if nanos is None:
        return None
    return (Decimal(int(nanos)) / NANOS_PER_USD).quantize(Decimal("0.000000001"))


def usd_to_nanos(usd: Decimal | int | str) -> int:
    """A USD amount as whole nano-dollars, rounded half to even below one nano-dollar."""
    return int((Decimal(usd) * NANOS_PER_USD).to_integral_value())


def usd_number(nanos: int | None) -> float | None:
    """``nanos`` as a JSON number of USD (for APIs and logs; sums are made on the integers, never on these)."""
    return None if nanos is None else float(nanos_to_usd(nanos))
