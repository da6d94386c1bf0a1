"""aibridge: a self-hosted AI gateway that relays and records AI coding traffic.

The public plugin API is what this module exports plus :mod:`aibridge.records`.
"""

import pluggy

__version__ = "0.1.0"

hookimpl = pluggy.HookimplMarker("aibridge")
"""Marker for plugin hook implementations: ``@aibridge.hookimpl``."""


def authenticate(request):
    """Return the :class:`~aibridge.records.Actor` behind a Flask request, or None.

    Plugins that add routes (``aibridge_routes``) use this to accept the same
    gateway tokens as the bridge routes.
    """
    from flask import current_app

    return current_app.extensions["aibridge"].authenticate(request)


def hooks():
    """The running app's hook relay (``aibridge.hooks().aibridge_mcp_credential(...)``).

    For plugins that ask other plugins a question from inside a request.
    """
    from flask import current_app

    return current_app.extensions["aibridge"].pm.hook


__all__ = ["hookimpl", "authenticate", "hooks", "__version__"]
