"""Per-app state of a plugin: set in ``aibridge_startup``, read in hooks and routes, taken in ``aibridge_shutdown``.

Hooks are module functions shared by every app of the process (tests build
several), so a plugin keeps what it started on the app, not in a global.
"""

from __future__ import annotations

from typing import Any


class PluginState:
    """One plugin's value in each app, kept in ``app.extensions[name]``.

    ::

        writer = aibridge.PluginState("my-plugin")

        @aibridge.hookimpl
        def aibridge_startup(app, config):
            writer.set(app, Writer(config.data_dir))

        @aibridge.hookimpl
        def on_token_usage(interception, usage):
            writer.get().put(usage)  # the app handling this request
    """

    def __init__(self, name: str):
        self.name = name

    def set(self, app, value: Any) -> None:
        """Keep ``value`` for ``app``."""
        app.extensions[self.name] = value

    def get(self, app=None) -> Any:
        """The value kept for ``app`` (default: the app of the current request or hook), or None."""
        if app is None:
            # Imported here: the aibridge package is imported before gevent patches the standard library,
            # and Flask must not be (an interpreter-exit traceback from logging's locks follows).
            from flask import current_app

            # Resolved once: an attribute read through the proxy costs 1.0 µs, this 0.4 (about 16 calls a request).
            app = current_app._get_current_object()
        return app.extensions.get(self.name)

    def pop(self, app) -> Any:
        """Forget the value kept for ``app`` and return it (None if there was none)."""
        return app.extensions.pop(self.name, None)
