"""Hooks of the tracing plugin: spans only with ``--trace-enable``; off, each hook returns at once.

OpenTelemetry is imported only when tracing is on: off, the gateway loads
none of it and does no per-request OpenTelemetry work.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import has_request_context, request

from aibridge import PluginState, hookimpl


@dataclass
class Tracing:
    spans: object  # spans.Spans
    provider: object  # sdk.Provider
    flush_timeout: float


state = PluginState("aibridge.tracing")  # only with --trace-enable


@hookimpl
def aibridge_startup(app, config):
    if not config.trace_enable:
        return
    from . import sdk
    from .spans import Spans

    provider = sdk.start()
    state.set(app, Tracing(Spans(provider.tracer), provider, config.shutdown_grace))


@hookimpl(trylast=True)  # after the recorder's flush, whose last batch reports still make spans
def aibridge_shutdown(app):
    tracing = state.pop(app)
    if tracing is None:
        return
    tracing.spans.close_open()
    tracing.provider.close(tracing.flush_timeout)


@hookimpl
def on_interception_start(interception):
    tracing = state.get()
    if tracing is not None:
        tracing.spans.interception_started(interception, request.headers if has_request_context() else None)


@hookimpl
def on_upstream_attempt(interception, attempt):
    tracing = state.get()
    if tracing is not None:
        tracing.spans.upstream_attempt(interception, attempt)


@hookimpl
def on_injected_tool_call(interception, call):
    tracing = state.get()
    if tracing is not None:
        tracing.spans.injected_tool_call(interception, call)


@hookimpl
def on_interception_end(interception):
    tracing = state.get()
    if tracing is not None:
        tracing.spans.interception_ended(interception)


@hookimpl(optionalhook=True)  # the recorder's hook: absent when the recorder is disabled
def on_records_written(interception_ids, rows, started_at, duration_ms, stored):
    tracing = state.get()
    if tracing is not None:
        tracing.spans.records_written(interception_ids, rows, started_at, duration_ms, stored)
