"""A Bedrock answer presented as the Anthropic answer the relay reads.

SSE instead of the AWS event stream, Anthropic error bodies instead of AWS
ones; blocking answers need nothing: Bedrock's body is the Anthropic message.
"""

from __future__ import annotations

from ...upstream import Response, ResponseHeaders, content_type
from .errors import http_error_body
from .eventstream import EventStreamToSSE

EVENTSTREAM_TYPE = "application/vnd.amazon.eventstream"

# Describe the AWS body, not the one the client gets.
_REPLACED = {"content-type", "content-length", "content-encoding", "x-amzn-bedrock-content-type"}


class BedrockResponse:
    """Wraps the upstream response of an invoke or invoke-with-response-stream call."""

    def __init__(self, response: Response):
        self._response = response
        self.status = response.status
        self.host = response.host
        upstream_type = content_type(response)
        self._is_error = response.status >= 400
        self._events = None
        if self._is_error:
            shown_type = "application/json"
        elif upstream_type.startswith(EVENTSTREAM_TYPE):
            shown_type = "text/event-stream; charset=utf-8"
            self._events = EventStreamToSSE(response, response.host)
        else:
            shown_type = upstream_type or "application/json"
        kept = [(name, value) for name, value in response.headers.items() if name.lower() not in _REPLACED]
        self.headers = ResponseHeaders(kept + [("Content-Type", shown_type)])

    def read1(self, size: int = 65536) -> bytes:
        if self._events is not None:
            return self._events.read1(size)
        return self._response.read1(size)

    def read(self) -> bytes:
        """The whole body: the Anthropic message, or an Anthropic error body for a Bedrock error."""
        if self._events is not None:
            return b"".join(iter(lambda: self._events.read1(), b""))
        content = self._response.read()
        if self._is_error:
            return http_error_body(self.status, self._response.headers, content)
        return content

    def close(self) -> None:
        self._response.close()
