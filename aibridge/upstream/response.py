"""A lower layer's response behind the transport interface: its read failures become UpstreamErrors."""

from __future__ import annotations

from .errors import mapped_errors


class UpstreamResponse:
    """Wraps ``raw`` (status, headers, read1, read, close) of the direct or the proxied transport."""

    def __init__(self, raw, host: str):
        self._raw = raw
        self.host = host
        self.status = raw.status
        self.headers = raw.headers

    def read1(self, size: int = 65536) -> bytes:
        with mapped_errors(self.host, reading=True):
            return self._raw.read1(size)

    def read(self) -> bytes:
        with mapped_errors(self.host, reading=True):
            body = self._raw.read()
        self._raw.close()  # read to the end: the connection goes back to the pool now
        return body

    def close(self) -> None:
        """Give the connection back when the body was read to its end, else drop it."""
        self._raw.close()
