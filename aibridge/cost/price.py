"""A model's price (USD per million tokens) and the cost of one token record in nano-dollars.

Cost of a record (spec §14) = input × input price + output × output price
+ cache read × cache read price + cache write × cache write price, each per
million tokens. The recorded counts never overlap (docs/recording.md:
``input_tokens`` excludes cached input for every API), so nothing is counted
twice. Anthropic's one-hour cache writes, when the record's metadata says how
many there were and the price has a rate for them, are priced at that rate.
The sum is computed exactly (Decimal) and rounded once, to the nearest
nano-dollar (half to even).
"""

from __future__ import annotations

import decimal
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from .money import NANOS_PER_USD

_PER_MILLION = 10**6
_EXACT = decimal.Context(prec=60, rounding=decimal.ROUND_HALF_EVEN)


@dataclass(frozen=True)
class Tier:
    """From more than ``above`` input tokens in one record (cached ones included), these rates apply to all."""

    above: int
    input: Decimal
    output: Decimal
    cache_read: Decimal | None = None
    cache_write: Decimal | None = None
    cache_write_1h: Decimal | None = None


@dataclass(frozen=True)
class Price:
    """USD per million tokens; ``source`` is ``library`` (genai-prices) or ``admin`` (``aibridge prices set``).

    ``cache_read`` / ``cache_write`` None: the provider has no separate rate, those tokens cost the input rate.
    ``model`` is the id the price was found under (a family, for a dated or region-prefixed id).
    """

    input: Decimal
    output: Decimal
    cache_read: Decimal | None = None
    cache_write: Decimal | None = None
    cache_write_1h: Decimal | None = None
    tiers: tuple[Tier, ...] = ()
    source: str = "admin"
    model: str = ""

    def rates_for(self, total_input: int) -> Price:
        """The flat rates that apply to a record with ``total_input`` input tokens (long-context tiers)."""
        for tier in sorted(self.tiers, key=lambda t: t.above, reverse=True):
            if total_input > tier.above:
                return Price(tier.input, tier.output,
                             tier.cache_read if tier.cache_read is not None else self.cache_read,
                             tier.cache_write if tier.cache_write is not None else self.cache_write,
                             tier.cache_write_1h if tier.cache_write_1h is not None else self.cache_write_1h,
                             (), self.source, self.model)
        return self

    def as_dict(self) -> dict[str, Any]:
        return {"model": self.model, "source": self.source, "input": _text(self.input), "output": _text(self.output),
                "cache_read": _text(self.cache_read), "cache_write": _text(self.cache_write)}


def cost_nanos(usage, price: Price | None, message_input: int | None = None) -> int | None:
    """The cost of a TokenUsage at ``price`` in whole nano-dollars; None when there is no price (unpriced).

    ``message_input`` chooses the long-context tier: the input tokens, cache included, of the whole
    message (a streamed Anthropic message reports them in its first record, its output in the last);
    default: the record's own.
    """
    if price is None:
        return None
    inputs = usage.input_tokens or 0
    cache_read = usage.cache_read_input_tokens or 0
    cache_write = usage.cache_write_input_tokens or 0
    rates = price.rates_for(inputs + cache_read + cache_write if message_input is None else message_input)
    write_1h = min(cache_write, _one_hour_writes(usage.metadata)) if rates.cache_write_1h is not None else 0
    parts = (
        (inputs, rates.input),
        (usage.output_tokens or 0, rates.output),
        (cache_read, rates.input if rates.cache_read is None else rates.cache_read),
        (cache_write - write_1h, rates.input if rates.cache_write is None else rates.cache_write),
        (write_1h, rates.cache_write_1h or 0),
    )
    with decimal.localcontext(_EXACT):
        usd_millionths = sum((Decimal(int(tokens)) * rate for tokens, rate in parts if tokens), Decimal(0))
        return int((usd_millionths * NANOS_PER_USD / _PER_MILLION).to_integral_value())


def _one_hour_writes(metadata) -> int:
    """Anthropic's ``cache_creation.ephemeral_1h_input_tokens`` (kept in the record's metadata), else 0."""
    creation = (metadata or {}).get("cache_creation")
    value = creation.get("ephemeral_1h_input_tokens") if isinstance(creation, dict) else None
    return value if isinstance(value, int) and value > 0 else 0


def _text(value: Decimal | None) -> str | None:
    return None if value is None else format(value.normalize(), "f")
