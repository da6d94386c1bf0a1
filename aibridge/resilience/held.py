"""An answer held whole in memory, read like any upstream response."""

from __future__ import annotations

from ..upstream import ResponseHeaders, UpstreamError


class HeldResponse:
    """An upstream error read before a retry (kept to relay if the retry cannot happen), or a gateway refusal."""

    def __init__(self, status: int, headers: ResponseHeaders, content: bytes):
        self.status = status
        self.headers = headers
        self._content = content

    @classmethod
    def read_from(cls, response) -> HeldResponse:
        """Read ``response`` to its end (its connection goes back to the pool)."""
        try:
            content = response.read()
        except UpstreamError:  # the body broke off: the status still says what happened
            content = b""
        finally:
            response.close()
        return cls(response.status, response.headers, content)

    def read1(self, size: int = 65536) -> bytes:
        chunk, self._content = self._content[:size], self._content[size:]
        return chunk

    def read(self) -> bytes:
        content, self._content = self._content, b""
        return content

    def close(self) -> None:
        pass
