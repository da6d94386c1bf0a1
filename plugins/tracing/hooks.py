"""The hooks that make spans, registered on the app only with ``--trace-enable`` (see plugin.py)."""

from __future__ import annotations

from flask import has_request_context, request

from aibridge import hookimpl


class SpanHooks:
    """One app's observer hooks, each handing its record to the app's :class:`~.spans.Spans`."""

    def __init__(self, spans):
        self.spans = spans

    @hookimpl
    def on_interception_start(self, interception):
        self.spans.interception_started(interception, request.headers if has_request_context() else None)

    @hookimpl
    def on_upstream_attempt(self, interception, attempt):
        self.spans.upstream_attempt(interception, attempt)

    @hookimpl
    def on_injected_tool_call(self, interception, call):
        self.spans.injected_tool_call(interception, call)

    @hookimpl
    def on_interception_end(self, interception):
        self.spans.interception_ended(interception)

    @hookimpl(optionalhook=True)  # the recorder's hook: absent when the recorder is disabled
    def on_records_written(self, interception_ids, rows, started_at, duration_ms, stored):
        self.spans.records_written(interception_ids, rows, started_at, duration_ms, stored)
