"""Bedrock's streaming answer (an AWS binary event stream) read as ordinary Anthropic SSE.

Each ``chunk`` event carries one Anthropic stream event, base64 encoded; it
becomes ``event: <type>\\ndata: <json>\\n\\n`` as soon as its message is
complete. Exceptions in the stream become an Anthropic ``event: error``.
"""

from __future__ import annotations

import base64
import binascii
import json

from botocore.eventstream import EventStreamBuffer, ParserError

from .errors import exception_message, stream_error_event


class UnreadableEvent(Exception):
    """A chunk event whose payload is not a base64 Anthropic event."""


class EventStreamToSSE:
    """Wraps the upstream body: ``read1()`` returns Anthropic SSE bytes, never waiting for more than one message."""

    def __init__(self, raw, host: str = ""):
        self._raw = raw
        self._source = f"the event stream of {host}" if host else "the event stream"  # for error messages
        self._messages = EventStreamBuffer()
        self._pending = 0  # bytes received but not yet part of a complete message
        self._done = False

    def read1(self, size: int = 65536) -> bytes:
        """The SSE events of the next complete messages; b"" at the end of the stream."""
        while not self._done:
            data = self._raw.read1(size)
            if not data:
                self._done = True
                return self._ended_early() if self._pending else b""
            self._pending += len(data)
            self._messages.add_data(data)
            events = self._drain()
            if events:
                return events
        return b""

    def _drain(self) -> bytes:
        events = []
        try:
            for message in self._messages:
                self._pending -= message.prelude.total_length
                event, final = sse_for_message(message.headers, message.payload)
                events.append(event)
                if final:
                    self._done = True
                    break
        except (ParserError, UnreadableEvent, ValueError) as exc:  # ValueError: undecodable header text
            events.append(stream_error_event("", f"{self._source} could not be read: {exc}"))
            self._done = True
        return b"".join(events)

    def _ended_early(self) -> bytes:
        return stream_error_event("", f"{self._source} ended in the middle of a message", 502)


def sse_for_message(headers: dict, payload: bytes) -> tuple[bytes, bool]:
    """(SSE bytes for one event-stream message, whether the stream ends with it)."""
    kind = headers.get(":message-type")
    if kind == "event":
        if headers.get(":event-type") != "chunk":
            return b"", False
        return anthropic_event(chunk_bytes(payload)), False
    if kind == "exception":
        name = headers.get(":exception-type") or "exception"
        return stream_error_event(name, exception_message(payload)), True
    if kind == "error":
        name = headers.get(":error-code") or "error"
        return stream_error_event(name, headers.get(":error-message") or "no message"), True
    return b"", False


def chunk_bytes(payload: bytes) -> bytes:
    """The Anthropic event JSON inside a chunk payload ``{"bytes": "<base64>"}``."""
    try:
        return base64.b64decode(json.loads(payload)["bytes"], validate=True)
    except (ValueError, KeyError, TypeError, binascii.Error) as exc:
        raise UnreadableEvent(f"a chunk event has no base64 'bytes' ({type(exc).__name__})") from None


def anthropic_event(data: bytes) -> bytes:
    """``event: <type>`` plus the event's JSON as one ``data:`` line, as Anthropic sends it."""
    try:
        event = json.loads(data)
        kind = event["type"]
    except (ValueError, KeyError, TypeError):
        raise UnreadableEvent("a chunk event is not an Anthropic stream event") from None
    if b"\n" in data or b"\r" in data:
        # One data line per event: line breaks between JSON tokens go, string contents stay.
        data = json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode()
    return b"event: " + str(kind).encode() + b"\ndata: " + data + b"\n\n"
