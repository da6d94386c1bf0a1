"""A Bedrock answer presented as the Anthropic answer the generic relay reads.

The relay uses ``status_code``, ``headers``, ``content``, ``raw.read1()`` and
``close()`` of the upstream response; this wrapper gives Anthropic's bytes for
each: SSE instead of the AWS event stream, Anthropic error bodies instead of
AWS ones. Blocking answers need nothing: Bedrock's body is the Anthropic message.
"""

from __future__ import annotations

from requests.structures import CaseInsensitiveDict

from .bedrock_errors import http_error_body
from .eventstream import EventStreamToSSE

EVENTSTREAM_TYPE = "application/vnd.amazon.eventstream"

# Describe the AWS body, not the one the client gets.
_REPLACED = {"content-type", "content-length", "content-encoding", "x-amzn-bedrock-content-type"}


class BedrockResponse:
    """Wraps the ``requests`` response of an invoke or invoke-with-response-stream call."""

    def __init__(self, response):
        self._response = response
        self.status_code = response.status_code
        self.headers = CaseInsensitiveDict(
            (name, value) for name, value in response.headers.items() if name.lower() not in _REPLACED
        )
        upstream_type = response.headers.get("Content-Type", "")
        self._is_error = response.status_code >= 400
        self._is_stream = not self._is_error and upstream_type.startswith(EVENTSTREAM_TYPE)
        if self._is_stream:
            self.headers["Content-Type"] = "text/event-stream; charset=utf-8"
            self.raw = EventStreamToSSE(response.raw)
        else:
            self.headers["Content-Type"] = "application/json" if self._is_error else upstream_type or "application/json"
            self.raw = response.raw

    @property
    def content(self) -> bytes:
        """The whole body: the Anthropic message, or an Anthropic error body for a Bedrock error."""
        content = self._response.content
        if self._is_error:
            return http_error_body(self.status_code, self._response.headers, content)
        return content

    def close(self) -> None:
        self._response.close()
