"""``aibridge prices``: the administrator's prices in the gateway's database, over the library's.

``aibridge prices missing`` (the models of unpriced token records) is added by
the audit plugin, which reads the records.
"""

from __future__ import annotations

import contextlib

import click

from ..cli.options import COMMON, fail, with_options
from ..config.loader import load_config
from ..db import open_database
from ..cli.output import Column, Listing, format_option
from .admin import PriceError, prepare, read_admin_prices, set_admin_price, unset_admin_price
from .book import price_for
from .library import library_prices, library_version

_RATE_HELP = "USD per million tokens, e.g. 3 or 0.30"

PRICE_COLUMNS = (
    Column("MODEL", "model"), Column("SOURCE", "source"),
    Column("INPUT", "input"), Column("OUTPUT", "output"),
    Column("CACHE READ", "cache_read"), Column("CACHE WRITE", "cache_write"),
)


@click.group("prices")
def prices_group():
    """Model prices (USD per million tokens): genai-prices' bundled snapshot, overridden or completed by yours."""


@prices_group.command("list")
@click.option("--library", "with_library", is_flag=True,
              help="Also the library's prices for the providers the gateway serves (OpenAI, Anthropic, Bedrock).")
@click.option("--model", metavar="MODEL", help="Only the price that applies to this model id, as recorded.")
@click.option("--provider", default="", metavar="TYPE",
              help="With --model: the provider type serving it (openai, anthropic, copilot).")
@format_option("jsonl: one price per line; csv: one row each.")
@with_options(COMMON)
def prices_list(with_library, model, provider, fmt, **flags):
    """Prices in USD per million tokens: yours (source admin), and the library's with --library."""
    with _database(flags) as db:
        admin = read_admin_prices(db)
    listing = Listing(fmt, PRICE_COLUMNS)
    if model:
        found = price_for(model, provider, admin)
        if found is None:
            fail(f"{model!r} has no price: its token records are unpriced (aibridge prices set {model} ...)")
        listing.add([{**found.as_dict(), "requested": model}])
    else:
        listing.add(price.as_dict() for price in admin.values())
        if with_library:
            listing.add(price.as_dict() for price in library_prices() if price.model not in admin)
    listing.finish({"library": f"genai-prices {library_version()}"})


@prices_group.command("set")
@click.argument("model")
@click.option("--input", "input_rate", required=True, metavar="USD", help=f"Input tokens: {_RATE_HELP}.")
@click.option("--output", "output_rate", required=True, metavar="USD", help=f"Output tokens: {_RATE_HELP}.")
@click.option("--cache-read", metavar="USD", help=f"Cached input read (default: the input price); {_RATE_HELP}.")
@click.option("--cache-write", metavar="USD", help=f"Cached input written (default: the input price); {_RATE_HELP}.")
@with_options(COMMON)
def prices_set(model, input_rate, output_rate, cache_read, cache_write, **flags):
    """Set the price of MODEL (and of its dated and region-prefixed ids); running gateways use it within seconds."""
    with _database(flags) as db:
        try:
            price = set_admin_price(db, model, input_rate, output_rate, cache_read, cache_write)
        except PriceError as error:
            fail(str(error), 2)
    shown = price.as_dict()
    click.echo(f"{price.model}: input {shown['input']}, output {shown['output']}, "
               f"cache read {shown['cache_read'] or shown['input']}, cache write {shown['cache_write'] or shown['input']}"
               " USD per million tokens")


@prices_group.command("unset")
@click.argument("model")
@with_options(COMMON)
def prices_unset(model, **flags):
    """Remove your price of MODEL: the library's applies again, if it has one."""
    with _database(flags) as db:
        removed = unset_admin_price(db, model)
    if not removed:
        fail(f"{model.strip()!r} has no price of yours (aibridge prices list shows them)")
    fallback = price_for(model, "", {})
    click.echo(f"{model.strip()}: your price is removed; "
               + (f"the library's price of {fallback.model} applies" if fallback else "it is unpriced now"))


@contextlib.contextmanager
def _database(flags):
    with open_database(load_config(flags).database) as db:
        prepare(db)
        yield db
