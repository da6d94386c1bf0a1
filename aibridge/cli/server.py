"""``aibridge server``: run the gateway."""

from __future__ import annotations

import sys

import click

from ..config.loader import load_config
from ..config.options import OPTIONS
from .options import with_group_flags, with_options


@click.command()
@with_options([opt.name for opt in OPTIONS])
def server(**flags):
    """Run the gateway (listens on --http-address)."""
    from ..logs import setup_logging
    from ..server import serve

    config = load_config(with_group_flags(flags))
    setup_logging(config)
    sys.exit(serve(config, lambda: load_config(flags)))
