"""Prices from Pydantic's genai-prices: the providers' price lists as a dated snapshot bundled in the package.

Only the bundled snapshot is read (never its auto-update, which would fetch
prices over the network). The gateway's provider type chooses the price list:
``openai`` → OpenAI, ``anthropic`` → Anthropic, or AWS Bedrock when the model
is a Bedrock id (``anthropic.claude-...-v1:0``, region-prefixed or in an
inference-profile ARN), ``copilot`` → GitHub Copilot. Dated ids price as
their family (the library matches them); ids it does not know are tried again
in their plain form (see :func:`candidates`).
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from decimal import Decimal

from .price import Price, Tier

_PROVIDER_IDS = {"openai": "openai", "anthropic": "anthropic", "copilot": "github-copilot"}
_BEDROCK = re.compile(r"^(?:[a-z-]+\.)?(?:anthropic|amazon|meta|mistral|cohere|ai21|deepseek|openai|qwen|writer)\.")
_BEDROCK_ARN = re.compile(r"^arn:aws[\w-]*:bedrock:[^:]*:[^:]*:(?:inference-profile|foundation-model)/(.+)$")
_DATE = re.compile(r"-(?:20\d{6}|20\d{2}-\d{2}-\d{2})$")
_BEDROCK_VERSION = re.compile(r"-v\d+(?::\d+)?$")
_COMPONENTS = {"input": "input_mtok", "output": "output_mtok", "cache_read": "cache_read_mtok",
               "cache_write": "cache_write_mtok", "cache_write_1h": "cache_write_1h_mtok"}


def library_price(model: str, provider: str = "") -> Price | None:
    """The library's price of ``model`` served by a provider of type ``provider`` today (UTC); None when it has none.

    The library dates its price changes: a price that changes on a day applies from that day's first lookup, on
    every process alike, without a restart (the price of a day is the one in force at its start, 00:00 UTC).
    """
    return _cached(model.strip(), provider, utc_today())


def utc_today() -> dt.date:
    """Today in UTC (tests set another day)."""
    return dt.datetime.now(dt.timezone.utc).date()


def load_library() -> None:
    """Load the snapshot now (about a second, once per process): at startup, not on a request's path."""
    library_price("gpt-4o", "openai")


def library_version() -> str:
    from importlib.metadata import version

    return version("genai-prices")


def library_prices() -> list[Price]:
    """Every price the library has for the providers the gateway serves, by provider then model."""
    from genai_prices import data_snapshot

    found = []
    for provider in data_snapshot.get_snapshot().providers:
        if provider.id in ("anthropic", "openai", "aws"):
            for info in provider.models:
                price = _lookup(info.id, provider.id)
                if price is not None:
                    found.append(price)
    return found


@functools.lru_cache(maxsize=4096)  # by day too: yesterday's entries are no longer asked for, and age out
def _cached(model: str, provider: str, day: dt.date) -> Price | None:
    for provider_id, ref in candidates(model, provider):
        found = _lookup(ref, provider_id, day)
        if found is not None:
            return found
    return None


def candidates(model: str, provider: str) -> list[tuple[str | None, str]]:
    """(price list, model id) pairs to try in order: the id as recorded, then plainer forms of it."""
    arn = _BEDROCK_ARN.match(model)
    if arn:
        model = arn.group(1)
    if _BEDROCK.match(model.lower()):
        return _bedrock_candidates(model)
    provider_id = _PROVIDER_IDS.get(provider)
    found = [(provider_id, model), (provider_id, _DATE.sub("", model))]
    if provider_id is not None:
        found.append((None, model))  # an OpenAI-compatible instance may serve another provider's model
    return found


def _bedrock_candidates(model: str) -> list[tuple[str | None, str]]:
    """``us.anthropic.claude-sonnet-4-5-20250929-v1:0``: as it is, without the region, then the model's own id."""
    parts = model.split(".")
    without_region = ".".join(parts[1:]) if len(parts) >= 3 else model  # region.vendor.model
    plain = _BEDROCK_VERSION.sub("", without_region.split(".", 1)[1])  # the vendor's id, without -v1:0
    family = _family_provider(plain)
    return [("aws", model), ("aws", without_region), (family, plain), (family, _DATE.sub("", plain))]


def _family_provider(model: str) -> str | None:
    return "anthropic" if model.startswith("claude") else None


def _lookup(ref: str, provider_id: str | None, day: dt.date | None = None) -> Price | None:
    """The library's price of ``ref`` in force at the start of ``day`` (UTC; default today)."""
    from genai_prices import data_snapshot

    at = dt.datetime.combine(day or utc_today(), dt.time(), tzinfo=dt.timezone.utc)
    try:
        _provider, info = data_snapshot.get_snapshot().find_provider_model(ref, None, provider_id, None)
        prices = info.get_prices(at)
    except (LookupError, ValueError):
        return None
    rates = {name: getattr(prices, key, None) for name, key in _COMPONENTS.items()}
    if rates["input"] is None or rates["output"] is None:
        return None  # not priced per token (images, per request): not ours to guess
    return Price(**{name: _base(value) for name, value in rates.items()}, tiers=_tiers(rates),
                 source="library", model=info.id)


def _base(value) -> Decimal | None:
    return None if value is None else Decimal(getattr(value, "base", value))


def _tiers(rates: dict) -> tuple[Tier, ...]:
    starts = sorted({tier.start for value in rates.values() for tier in getattr(value, "tiers", None) or ()})
    return tuple(Tier(start, **{name: _at(value, start) for name, value in rates.items()}) for start in starts)


def _at(value, start: int) -> Decimal | None:
    """The rate of one component from ``start`` input tokens (the last tier at or below it, else the base)."""
    if value is None:
        return None
    rate = getattr(value, "base", value)
    for tier in getattr(value, "tiers", None) or ():
        if tier.start <= start:
            rate = tier.price
    return Decimal(rate)
