"""What each intercepted provider API (Messages, Chat Completions, Responses) supplies to the relay."""

from __future__ import annotations

import json

from .sse import Event


class BadRequest(Exception):
    """The client's request cannot be sent upstream; ``status`` and message go back in the API's shape."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


class StreamObserver:
    """Reads a copy of each upstream SSE event and returns the bytes the client gets."""

    failed = False  # set when the stream carried an error event

    def event(self, event: Event) -> bytes | None:
        return event.raw

    def closing_bytes(self) -> bytes:
        """What the client still needs after upstream's last event (e.g. Chat's [DONE] after an error)."""
        return b""

    def finish(self) -> None:
        """The stream ended (completely or not): announce what is still pending."""


class Api:
    """One intercepted API. Subclasses parse a copy of the traffic; the relay stays generic."""

    name = ""
    error_shape = "openai"

    def __init__(self, raw: bytes):
        self.raw = raw
        try:
            body = json.loads(raw)
        except ValueError as exc:
            raise BadRequest(f"request body is not valid JSON: {exc}") from None
        if not isinstance(body, dict):
            raise BadRequest("request body must be a JSON object")
        model = body.get("model")
        if not isinstance(model, str) or not model:
            raise BadRequest("model: field required")
        self.body = body
        self.model = model
        self.streaming = body.get("stream") is True

    def check_supported(self) -> None:
        """Raise BadRequest for requests the gateway cannot serve (e.g. 501 for an unsupported mode)."""

    def prompt(self) -> str | None:
        """The last user prompt, per the recording rules."""
        return None

    def upstream_body(self) -> bytes:
        """The bytes sent upstream: the client's own, unless the API must change them."""
        return self.raw

    def stream_observer(self, log) -> StreamObserver:
        return StreamObserver()

    def record_blocking(self, log, content: bytes) -> None:
        """Announce the records of a complete (non-streaming) upstream answer."""

    def stream_error_event(self, status: int, message: str) -> bytes:
        """An SSE event in this API's own form, for a failure after bytes were relayed."""
        raise NotImplementedError
