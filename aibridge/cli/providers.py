"""``aibridge providers``: each provider instance's keys, circuit breakers and fallback."""

from __future__ import annotations

import json

import click

from ..config.loader import load_config
from .options import COMMON, fail, with_options
from .output import Listing, format_option


@click.command("providers")
@click.option("--url", envvar="CODER_URL", default=None, metavar="URL",
              help="The running gateway [env CODER_URL; default: from --http-address].")
@click.option("--token", envvar="CODER_SESSION_TOKEN", default=None, metavar="TOKEN",
              help="An owner's gateway token [env CODER_SESSION_TOKEN].")
@format_option("json: the API's providers; jsonl: one instance per line; csv: one row each.")
@with_options(["http-address", *COMMON])
def providers(url, token, fmt, **flags):
    """Show each provider instance: its keys (masked) and their state, circuit breakers, fallback.

    Asks the running gateway; when none answers, shows the configuration (states unknown).
    """
    from ..resilience.status import configured_status
    from .provider_status import COLUMNS, Refused, ServerUnreachable, fetch_status, local_url

    config = load_config(flags)
    url = url or local_url(config.http_address)
    try:
        answer = fetch_status(url, token)
    except Refused as error:
        fail(str(error), 1)
    except ServerUnreachable as error:
        click.echo(f"aibridge: no gateway answers at {url} ({error}): showing the configuration, "
                   "without the states of keys and circuit breakers", err=True)
        answer = {"providers": [status.as_dict() for status in configured_status(config)]}
    listing = Listing(fmt, COLUMNS, csv_row=lambda p: {key: json.dumps(value) if isinstance(value, (list, dict)) else value
                                                       for key, value in p.items()})
    listing.add(answer["providers"])
    listing.finish()
