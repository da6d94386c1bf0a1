"""The tracing plugin: with ``--trace-enable`` it registers the hooks that make spans; off, it does nothing at all.

OpenTelemetry is imported only when tracing is on, and the span-making hooks
(hooks.py) are registered on the app only then: off, the gateway loads none
of OpenTelemetry and calls nothing of this plugin per request.
"""

from __future__ import annotations

import aibridge
from aibridge import PluginState, hookimpl

HOOKS_NAME = "tracing-spans"

state = PluginState("aibridge.tracing")  # only with --trace-enable: the SDK's provider, to flush at shutdown


@hookimpl
def aibridge_startup(app, config):
    if not config.trace_enable:
        return
    from . import sdk
    from .hooks import SpanHooks
    from .spans import Spans

    provider = sdk.start()
    spans = Spans(provider.tracer)
    state.set(app, (spans, provider, config.shutdown_grace))
    aibridge.add_plugin(app, SpanHooks(spans), HOOKS_NAME)


@hookimpl(trylast=True)  # after the recorder's flush, whose last batch reports still make spans
def aibridge_shutdown(app):
    started = state.pop(app)
    if started is None:
        return
    spans, provider, grace = started
    spans.close_open()
    provider.close(grace)
