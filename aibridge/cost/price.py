"""A model's price (USD per million tokens) and the cost of one token record in nano-dollars.

Cost of a record (spec §14) = input × input price + output × output price
+ cache read × cache read price + cache write × cache write price, each per
million tokens. The recorded counts never overlap (docs/recording.md:
``input_tokens`` excludes cached input for every API), so nothing is counted
twice. Anthropic's one-hour cache writes, when the record's metadata says how
many there were and the price has a rate for them, are priced at that rate.
The sum is computed exactly and rounded once, to the nearest nano-dollar
(half to even): each price's rates are turned once into integers over one
power of ten, so a record costs a few integer multiplications (a Decimal sum
took about 1 % of the gateway's CPU per request).
"""

from __future__ import annotations

import decimal
from dataclasses import dataclass, field
from functools import cached_property
from decimal import Decimal
from typing import Any

from .money import NANOS_PER_USD

_NANOS_PER_RATE_UNIT = NANOS_PER_USD // 10**6  # rates are USD per million tokens: nano-dollars per token
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
        for above, price in self._tier_prices:
            if total_input > above:
                return price
        return self

    @cached_property
    def _tier_prices(self) -> tuple[tuple[int, Price], ...]:
        """Each tier as the flat Price it makes, highest first (made once: each keeps its integer rates)."""
        return tuple(
            (tier.above, Price(tier.input, tier.output,
                               tier.cache_read if tier.cache_read is not None else self.cache_read,
                               tier.cache_write if tier.cache_write is not None else self.cache_write,
                               tier.cache_write_1h if tier.cache_write_1h is not None else self.cache_write_1h,
                               (), self.source, self.model))
            for tier in sorted(self.tiers, key=lambda t: t.above, reverse=True))

    @cached_property
    def _scaled(self) -> tuple[tuple[int, int, int, int, int], int]:
        """(input, output, cache read, cache write, 1-hour cache write) as integers × 10**-places, and places."""
        rates = (self.input, self.output, self.input if self.cache_read is None else self.cache_read,
                 self.input if self.cache_write is None else self.cache_write, self.cache_write_1h or Decimal(0))
        places = max(0, *(-int(rate.as_tuple().exponent) for rate in rates))
        with decimal.localcontext(_EXACT):
            return tuple(int(rate.scaleb(places)) for rate in rates), places

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
    integers, places = rates._scaled
    tokens = (inputs, usage.output_tokens or 0, cache_read, cache_write - write_1h, write_1h)
    # The rates are USD per million tokens × 10**places: nano-dollars = their sum × 1000 / 10**places.
    total = sum(int(count) * rate for count, rate in zip(tokens, integers)) * _NANOS_PER_RATE_UNIT
    unit = 10**places
    whole, rest = divmod(total, unit)
    if 2 * rest > unit or (2 * rest == unit and whole % 2):  # half to even
        whole += 1
    return whole


def _one_hour_writes(metadata) -> int:
    """Anthropic's ``cache_creation.ephemeral_1h_input_tokens`` (kept in the record's metadata), else 0."""
    creation = (metadata or {}).get("cache_creation")
    value = creation.get("ephemeral_1h_input_tokens") if isinstance(creation, dict) else None
    return value if isinstance(value, int) and value > 0 else 0


def _text(value: Decimal | None) -> str | None:
    return None if value is None else format(value.normalize(), "f")
