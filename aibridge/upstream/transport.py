"""What every way of reaching a provider offers: send a request, get a response to read.

Three transports implement it: :mod:`.direct` (the small HTTP/1.1 client, the
hot path), :mod:`.proxied` (urllib3, for hosts behind HTTP(S)_PROXY) and the
Bedrock transport of ``providers/bedrock`` (signs and reshapes, then sends
through one of the others). Every failure is an :class:`~.errors.UpstreamError`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Protocol
from urllib.parse import urlsplit

CONNECT_TIMEOUT = 10.0


@dataclass(frozen=True)
class Request:
    """One upstream request: ``timeout`` is the longest wait for the answer or its next byte."""

    method: str
    url: str
    headers: dict[str, str]
    body: bytes | None
    timeout: float

    @property
    def host(self) -> str:
        return host_of(self.url)


def host_of(url: str) -> str:
    """The host (and port) of ``url``, for messages: never the URL, which may carry credentials."""
    parts = urlsplit(url)
    return parts.hostname + (f":{parts.port}" if parts.port else "") if parts.hostname else ""


class Headers(Protocol):
    """Response headers: case-insensitive ``get``, ``in``, and ``items()`` in the order received."""

    def get(self, name: str, default=None): ...

    def __contains__(self, name: object) -> bool: ...

    def items(self): ...


class Response(Protocol):
    """A provider's answer; its body is read whole (``read``) or as it arrives (``read1``)."""

    status: int
    headers: Headers
    host: str  # the upstream's host (and port), for messages

    def read1(self, size: int = 65536) -> bytes:
        """Whatever body bytes are available now (at most ``size``); b"" at the end. Raises UpstreamError."""

    def read(self) -> bytes:
        """The rest of the body. Raises UpstreamError."""

    def close(self) -> None:
        """Give the connection back when the body was read to its end, else drop it."""


class Transport(Protocol):
    def send(self, request: Request) -> Response:
        """Send ``request`` and return once the answer's head arrived. Raises UpstreamError."""


def chunks(response: Response, size: int = 65536) -> Iterator[bytes]:
    """The body's bytes as soon as they arrive, without waiting to fill a buffer."""
    while True:
        chunk = response.read1(size)
        if not chunk:
            return
        yield chunk


def content_type(response: Response) -> str:
    return response.headers.get("Content-Type") or ""


def is_event_stream(response: Response) -> bool:
    return content_type(response).startswith("text/event-stream")
