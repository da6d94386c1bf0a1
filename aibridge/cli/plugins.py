"""``aibridge plugins``: the plugins that loaded, the hooks each implements, and the ones that did not load."""

from __future__ import annotations

import click

from ..config.loader import load_config
from .options import COMMON, with_group_flags, with_options
from .output import Column, Listing, format_option


@click.command("plugins")
@format_option("jsonl: one plugin per line; csv: one row each.")
@with_options(["aibridge-disable-plugins", *COMMON])
def plugins(fmt, **flags):
    """List the plugins and the hooks each implements."""
    from ..plugins import load_plugins, plugin_names

    config = load_config(with_group_flags(flags))
    pm, problems = load_plugins(config.disable_plugins)
    listing = Listing(fmt, PLUGIN_COLUMNS, csv_row=lambda p: {**p, "hooks": " ".join(p["hooks"])})
    listing.add({"name": name, "enabled": True, "hooks": hook_names(pm, name)} for name in plugin_names(pm))
    listing.add({"name": p.name, "enabled": False, "hooks": [], "problem": f"(not loaded) {p.error}"} for p in problems)
    listing.add({"name": name, "enabled": False, "hooks": []} for name in config.disable_plugins)
    listing.finish()


PLUGIN_COLUMNS = (Column("PLUGIN", "name"),
                  Column("HOOKS", lambda p: p["hooks"] if p["enabled"] else p.get("problem", "(disabled)")))


def hook_names(pm, plugin_name: str) -> list[str]:
    """The hooks a registered plugin implements, sorted."""
    return sorted(caller.name for caller in pm.get_hookcallers(pm.get_plugin(plugin_name)) or ())
