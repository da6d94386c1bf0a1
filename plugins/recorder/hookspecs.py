"""The hook the recorder plugin adds for other plugins: a batch of records was written (or kept for later).

Added to the plugin manager by the plugin's ``aibridge_add_hookspecs``; a
plugin that implements it marks it ``@aibridge.hookimpl(optionalhook=True)``
so the gateway still starts when the recorder is disabled.
"""

import aibridge


@aibridge.hookspec
def on_records_written(interception_ids, rows, started_at, duration_ms, stored):
    """The writer finished a batch carrying the ends of ``interception_ids``; ``stored`` False: in its backlog."""
