"""The spans of one app: an interception's span, and under it its attempts, tool calls and record write.

Every span but the interception's is made after the fact, from a record that
carries its start and duration: nothing but the interception's span is ever
open, and that one ends with the interception (``on_interception_end`` is
called exactly once, also when the upstream failed or the client left).

Attributes are chosen from the records one by one (attributes.py): never a
prompt, a body, a header or a key.
"""

from __future__ import annotations

import collections
import datetime as dt
import threading

from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from . import attributes

# Interceptions whose end went to the recorder and whose write is not reported yet. Bounded: with the
# recorder disabled (or its store away a long time) nobody reports them, and the oldest are let go.
MAX_AWAITING_WRITE = 10_000


def nanoseconds(moment: dt.datetime) -> int:
    """An aware datetime as nanoseconds since the epoch, exactly (no float rounding)."""
    delta = moment - dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1_000


class Spans:
    """Makes the spans; the open interception spans are kept by interception id."""

    def __init__(self, tracer):
        self.tracer = tracer
        self.open: dict[str, trace.Span] = {}
        self.awaiting_write: collections.OrderedDict[str, tuple[trace.SpanContext, int]] = collections.OrderedDict()
        self._lock = threading.Lock()  # the app's threads (without gevent) and the recorder's report

    def interception_started(self, interception, headers) -> None:
        """Open the interception's span: a child of the client's ``traceparent`` if it sent one, else a root."""
        parent = propagate.extract(headers) if headers is not None else None
        span = self.tracer.start_span("aibridge.interception", context=parent, kind=SpanKind.SERVER,
                                      attributes=attributes.of_interception(interception),
                                      start_time=nanoseconds(interception.started_at))
        self.open[interception.interception_id] = span

    def interception_ended(self, interception) -> None:
        span = self.open.pop(interception.interception_id, None)
        if span is None:
            return
        span.set_attributes(attributes.of_end(interception))
        if interception.status == "failed":
            span.set_status(Status(StatusCode.ERROR, interception.error.kind if interception.error else None))
        end = nanoseconds(interception.ended_at) if interception.ended_at else None
        span.end(end_time=end)
        with self._lock:
            self.awaiting_write[interception.interception_id] = (span.get_span_context(), end or 0)
            while len(self.awaiting_write) > MAX_AWAITING_WRITE:
                self.awaiting_write.popitem(last=False)

    def upstream_attempt(self, interception, attempt) -> None:
        start = nanoseconds(attempt.started_at)
        status = None
        if attempt.error_kind or (attempt.status or 0) >= 400:
            status = Status(StatusCode.ERROR, attempt.error_kind or f"HTTP {attempt.status}")
        self._child(interception.interception_id, "aibridge.upstream_attempt", SpanKind.CLIENT,
                    attributes.of_attempt(attempt), start, start + int(attempt.duration_ms * 1e6), status)

    def injected_tool_call(self, interception, call) -> None:
        start = nanoseconds(call.started_at)
        status = Status(StatusCode.ERROR, "cancelled" if call.error == "cancelled" else "tool error") if call.error \
            else None
        self._child(interception.interception_id, "aibridge.injected_tool_call", SpanKind.CLIENT,
                    attributes.of_tool_call(call), start, start + int(call.duration_ms * 1e6), status)

    def records_written(self, interception_ids, rows: int, started_at, duration_ms: float, stored: bool) -> None:
        """The recorder wrote (or kept for later) a batch with these interceptions' ends: a span under each."""
        written = nanoseconds(started_at) + int(duration_ms * 1e6)
        for interception_id in interception_ids:
            with self._lock:
                awaited = self.awaiting_write.pop(interception_id, None)
            if awaited is None:
                continue
            context, handed_over = awaited
            span = self.tracer.start_span("aibridge.record_write", context=trace.set_span_in_context(
                trace.NonRecordingSpan(context)), kind=SpanKind.INTERNAL,
                attributes=attributes.of_write(interception_id, rows, duration_ms, stored),
                start_time=min(handed_over, written) if handed_over else written)
            span.end(end_time=written)

    def close_open(self) -> None:
        """At shutdown: end the spans of interceptions still open (none after a drain; never leave one open)."""
        for interception_id in list(self.open):
            span = self.open.pop(interception_id, None)
            if span is not None:
                span.set_attribute("aibridge.status", "gateway_shutdown")
                span.end()

    def _child(self, interception_id: str, name: str, kind, span_attributes: dict, start: int, end: int,
               status) -> None:
        parent = self.open.get(interception_id)
        if parent is None:
            return
        span = self.tracer.start_span(name, context=trace.set_span_in_context(parent), kind=kind,
                                      attributes=span_attributes, start_time=start)
        if status is not None:
            span.set_status(status)
        span.end(end_time=end)
