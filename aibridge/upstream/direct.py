"""The direct transport: providers reached over the small HTTP/1.1 client of :mod:`.http1`."""

from __future__ import annotations

from . import http1
from .errors import mapped_errors
from .response import UpstreamResponse
from .transport import CONNECT_TIMEOUT, Request


class DirectTransport:
    """Keep-alive pools per origin."""

    def __init__(self, pool_size: int = 4096):
        self.client = http1.Client(pool_size)

    def send(self, request: Request) -> UpstreamResponse:
        host = request.host
        with mapped_errors(host):
            raw = self.client.request(request.method, request.url, request.headers, request.body,
                                      CONNECT_TIMEOUT, request.timeout)
        return UpstreamResponse(raw, host)

    def close(self) -> None:
        self.client.clear()
