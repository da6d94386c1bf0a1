"""SIGHUP: read the configuration again and apply it without dropping a connection or a stream.

The new configuration is loaded exactly as at startup (the same flags, the
process's environment, the YAML file read again) and validated whole. If it
is bad, the running one stays and one log line names the error. If it is
good, the gateway swaps in provider instances built from it (requests in
flight keep the instance they started with), the server takes its new edge
limits, and plugins get ``aibridge_reload(app, config)`` for what they set up
at startup (the MCP plugin reconnects to the servers now listed).

Settings that only a restart can change (where the server listens, the data
directory and the database, logging, which plugins load, the metrics listener) keep their
running values; a changed one is named in a warning.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Callable

from ..config import Config, ConfigError
from ..config.options import OPTIONS
from .connections import EdgeLimits
from ..interpreter import settle_for_serving

log = logging.getLogger("aibridge.server")

RESTART_ONLY = ("http_address", "data_dir", "log_human", "log_json", "disable_plugins",
                "prometheus_enable", "prometheus_address", "trace_enable", "config_path",
                "postgres_url", "postgres_instance_timeout")  # fmt: skip
_FLAG_OF_FIELD = {opt.field: opt.flag for opt in OPTIONS if opt.field}


def reload_configuration(app, server, load: Callable[[], Config]) -> bool:
    """Load and apply the configuration again; False (the running one stays) when it is not valid."""
    gateway = app.extensions["aibridge"]
    try:
        config = keeping_restart_only_settings(gateway.config, load())
        limits = EdgeLimits.from_config(config)
        gateway.reload(app, config)
    except ConfigError as error:
        log.error("reload failed, the running configuration stays: %s", error)
        return False
    except Exception as error:  # e.g. an unreadable file: still one line, never a dead server
        log.error("reload failed, the running configuration stays: %s: %s", type(error).__name__, error)
        return False
    server.limits = limits
    settle_for_serving()
    names = ", ".join(p.name for p in config.providers) or "(none)"
    log.info("configuration reloaded: providers %s; %d MCP servers", names, len(config.mcp_servers))
    return True


def keeping_restart_only_settings(running: Config, fresh: Config) -> Config:
    """``fresh`` with the running values of the settings a reload cannot change (a warning names them)."""
    changed = [field for field in RESTART_ONLY if getattr(running, field) != getattr(fresh, field)]
    if changed:
        flags = ", ".join(_FLAG_OF_FIELD[field] for field in changed)
        log.warning("reload: %s changed; a restart applies %s", flags, "it" if len(changed) == 1 else "them")
    return dataclasses.replace(fresh, **{field: getattr(running, field) for field in RESTART_ONLY})
