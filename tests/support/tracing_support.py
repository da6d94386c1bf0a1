"""The OpenTelemetry SDK's in-memory exporter behind the process's tracer provider, for the tracing tests.

The tracing plugin uses the process's SDK tracer provider when one is set
(as an application embedding aibridge would), so the tests set one, once
per process, that keeps every span in memory.
"""

from __future__ import annotations

import time

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

_exporter: InMemorySpanExporter | None = None


def memory_exporter() -> InMemorySpanExporter:
    """The exporter every span of this process goes to (set up on first use)."""
    global _exporter
    if _exporter is None:
        _exporter = InMemorySpanExporter()
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(_exporter))
        trace.set_tracer_provider(provider)
        assert trace.get_tracer_provider() is provider, "another tracer provider was set in this process first"
    return _exporter


def gateway_spans(exporter: InMemorySpanExporter) -> list:
    """The spans the gateway made (other libraries, e.g. the MCP server's, may trace too)."""
    return [span for span in exporter.get_finished_spans() if span.instrumentation_scope.name == "aibridge"]


def wait_for_spans(exporter: InMemorySpanExporter, predicate, timeout: float = 10) -> list:
    """The gateway's spans once ``predicate(spans)`` holds (record writes arrive from the writer a little later)."""
    deadline = time.monotonic() + timeout
    while True:
        spans = gateway_spans(exporter)
        if predicate(spans):
            return spans
        if time.monotonic() > deadline:
            raise AssertionError(f"spans never matched; have {[(s.name, dict(s.attributes)) for s in spans]}")
        time.sleep(0.01)


def named(spans: list, name: str) -> list:
    return [span for span in spans if span.name == name]


def trace_of(spans: list, interception_id: str) -> dict[str, list]:
    """The spans of one interception's trace, by name (attempts in their order)."""
    [root] = [s for s in named(spans, "aibridge.interception")
              if s.attributes["aibridge.interception_id"] == interception_id]
    found: dict[str, list] = {"aibridge.interception": [root]}
    for span in spans:
        if span is not root and span.context.trace_id == root.context.trace_id:
            found.setdefault(span.name, []).append(span)
    found.get("aibridge.upstream_attempt", []).sort(key=lambda s: s.attributes["aibridge.attempt"])
    return found
