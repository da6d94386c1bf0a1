"""The administrator's prices in the gateway's database: read, set and unset (``aibridge prices``)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation

from ..db import Database, migrate
from .price import Price
from .schema import cost_migrations

_MAX_RATE = Decimal(1_000_000)  # USD per million tokens: anything above is a typo (a rate per token, per thousand)


class PriceError(ValueError):
    """A price that cannot be stored (said in one line, for the command line)."""


def prepare(db: Database) -> None:
    """Create or update the prices table (several instances may do it at once)."""
    migrate(db, cost_migrations)


def read_admin_prices(db: Database) -> dict[str, Price]:
    """Every administrator's price, by model id."""
    if not db.has_table("model_prices"):
        return {}
    rows = db.query("SELECT model, input, output, cache_read, cache_write FROM model_prices ORDER BY model")
    return {row["model"]: Price(Decimal(row["input"]), Decimal(row["output"]), _decimal(row["cache_read"]),
                                _decimal(row["cache_write"]), source="admin", model=row["model"]) for row in rows}


def price_lookup(db: Database):
    """``lookup(model, provider) -> Price | None``: the prices in ``db`` (the administrator's) over the library's.

    Reads the administrator's prices once, now; for commands and reports (a running gateway keeps them in memory).
    """
    from .book import price_for

    admin = read_admin_prices(db)
    return lambda model, provider="": price_for(model or "", provider or "", admin)


def set_admin_price(db: Database, model: str, input: str, output: str, cache_read: str | None = None,
                    cache_write: str | None = None) -> Price:
    """Store (or replace) the price of ``model``; rates are USD per million tokens as decimal text."""
    model = model.strip()
    if not model:
        raise PriceError("the model id is empty")
    rates = {"input": parse_rate("--input", input), "output": parse_rate("--output", output),
             "cache_read": parse_rate("--cache-read", cache_read) if cache_read is not None else None,
             "cache_write": parse_rate("--cache-write", cache_write) if cache_write is not None else None}
    text = {name: None if value is None else _text(value) for name, value in rates.items()}
    now = dt.datetime.now(dt.timezone.utc).isoformat()
    with db.transaction():
        db.execute("DELETE FROM model_prices WHERE model = ?", [model])
        db.execute("INSERT INTO model_prices (model, input, output, cache_read, cache_write, updated_at) "
                   "VALUES (?, ?, ?, ?, ?, ?)",
                   [model, text["input"], text["output"], text["cache_read"], text["cache_write"], now])
    return Price(**rates, source="admin", model=model)


def unset_admin_price(db: Database, model: str) -> bool:
    """Remove the administrator's price of ``model``; False when there was none."""
    with db.transaction():
        gone = db.execute("DELETE FROM model_prices WHERE model = ?", [model.strip()]).rowcount
    return bool(gone)


def parse_rate(option: str, text: str) -> Decimal:
    """A rate as typed (``3``, ``0.30``, ``$1.25``): a finite, non-negative Decimal, else a PriceError naming it."""
    cleaned = str(text).strip().removeprefix("$").replace("_", "")
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        raise PriceError(f"{option}: {text!r} is not a number (USD per million tokens, e.g. 3 or 0.30)") from None
    if not value.is_finite() or value < 0:
        raise PriceError(f"{option}: {text!r} must be a non-negative number of USD per million tokens")
    if value > _MAX_RATE:
        raise PriceError(f"{option}: {text!r} USD per million tokens is not believable (at most {_MAX_RATE})")
    return value


def _decimal(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)


def _text(value: Decimal) -> str:
    return format(value.normalize(), "f") if value else "0"
