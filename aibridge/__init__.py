"""aibridge: a self-hosted AI gateway that relays and records AI coding traffic.

``__all__`` is the whole public plugin API (docs/plugins.md describes each
name). Plugins, the built-in ones included, use nothing else of ``aibridge``.
"""

import importlib

import pluggy

from .config import Config, ConfigError, MCPServerConfig
from .hookspecs import hookspec
from .plugin_state import PluginState
from .reports import Measurement, Refusal, measurements
from .records import (
    Actor,
    Interception,
    InterceptionEnd,
    InjectedToolCall,
    InterceptionError,
    ModelThought,
    PromptUsage,
    TokenUsage,
    Tool,
    ToolCallResult,
    ToolResult,
    ToolUsage,
    UpstreamAttempt,
)
from .threads import (
    AppThread,
    BackgroundThread,
    QueueEmpty,
    ThreadSafeLogger,
    new_lock,
    new_queue,
    os_sleep,
    start_thread,
    thread_ident,
    wait_for_release,
)

__version__ = "0.1.0"

hookimpl = pluggy.HookimplMarker("aibridge")
"""Marker for plugin hook implementations: ``@aibridge.hookimpl``."""


def authenticate(request):
    """Return the :class:`Actor` behind a Flask request, or None.

    Plugins that add routes (``aibridge_routes``) use this to accept the same
    gateway tokens as the bridge routes.
    """
    from flask import current_app

    return current_app.extensions["aibridge"].authenticate(request)


def add_plugin(app, plugin, name: str) -> None:
    """Register ``plugin`` (an object or module with ``@hookimpl`` methods) on ``app``'s plugin manager.

    For hooks that should run only when a feature is on: register them from
    ``aibridge_startup`` when it is, and the gateway calls nothing of yours
    per request when it is not.
    """
    app.extensions["aibridge"].pm.register(plugin, name=name)


def hooks():
    """The running app's hook relay (``aibridge.hooks().aibridge_mcp_credential(...)``).

    For plugins that ask other plugins a question from inside a request.
    """
    from flask import current_app

    return current_app.extensions["aibridge"].pm.hook


# Loaded on first use: their modules import sqlite_utils, click and the config
# loader, and ``import aibridge`` must stay light (it runs before gevent patches).
_LAZY = {
    "load_config": "aibridge.config.loader",
    "open_database": "aibridge.db",
    "read_database": "aibridge.db",
    "migrate": "aibridge.db",
    "Migrations": "aibridge.db",
    "Database": "aibridge.db",
    "config_options": "aibridge.cli.options",
    "fail": "aibridge.cli.options",
    "provider_status": "aibridge.resilience.status",
    "format_option": "aibridge.cli.output",
    "Column": "aibridge.cli.output",
    "Listing": "aibridge.cli.output",
    "progress_option": "aibridge.cli.progress",
    "Progress": "aibridge.cli.progress",
    "parse_time": "aibridge.cli.timebounds",
    "UserStore": "aibridge.people.users",
    "UserError": "aibridge.people.users",
    "nanos_to_usd": "aibridge.cost.money",
    "Price": "aibridge.cost.price",
    "price_lookup": "aibridge.cost.admin",
    "usd_number": "aibridge.cost.money",
}


def __getattr__(name: str):
    if name not in _LAZY:
        raise AttributeError(f"module 'aibridge' has no attribute {name!r}")
    value = getattr(importlib.import_module(_LAZY[name]), name)
    globals()[name] = value
    return value


__all__ = [
    # Hooks
    "hookimpl",
    "hookspec",
    "hooks",
    # Records passed to hooks
    "Actor",
    "Interception",
    "InterceptionEnd",
    "InterceptionError",
    "PromptUsage",
    "TokenUsage",
    "ToolUsage",
    "ToolCallResult",
    "ModelThought",
    "UpstreamAttempt",
    "InjectedToolCall",
    "Tool",
    "ToolResult",
    # Requests and per-app state
    "authenticate",
    "PluginState",
    "add_plugin",
    "provider_status",
    "Refusal",
    # Metrics
    "Measurement",
    "measurements",
    # Configuration
    "Config",
    "ConfigError",
    "MCPServerConfig",
    "load_config",
    # The gateway's database (SQLite or PostgreSQL) and plugin tables in it
    "Database",
    "open_database",
    "read_database",
    "Migrations",
    "migrate",
    # Money: integer nano-dollars (TokenUsage.cost_usd_nanos) as USD
    "nanos_to_usd",
    "usd_number",
    "Price",
    "price_lookup",
    # People and their gateway tokens
    "UserStore",
    "UserError",
    # Real OS threads under gevent
    "start_thread",
    "new_queue",
    "QueueEmpty",
    "new_lock",
    "wait_for_release",
    "os_sleep",
    "thread_ident",
    "ThreadSafeLogger",
    "AppThread",
    "BackgroundThread",
    # Command-line commands
    "config_options",
    "fail",
    "format_option",
    "Column",
    "Listing",
    "progress_option",
    "Progress",
    "parse_time",
    # Version
    "__version__",
]
