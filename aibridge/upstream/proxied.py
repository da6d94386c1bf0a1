"""The proxied transport: hosts behind HTTP(S)_PROXY, reached through urllib3 (which speaks proxies)."""

from __future__ import annotations

import urllib3

from .errors import mapped_errors
from .response import UpstreamResponse
from .transport import CONNECT_TIMEOUT, Request


class _Urllib3Body:
    """A urllib3 response whose ``close`` gives the connection back (or drops a half-read one)."""

    def __init__(self, response: urllib3.BaseHTTPResponse):
        self._response = response
        self.status = response.status
        self.headers = response.headers
        self.read1 = response.read1
        self.read = response.read

    def close(self) -> None:
        if not self._response.isclosed():
            self._response.close()  # a half-read body cannot be reused: the connection goes
        self._response.release_conn()


class ProxiedTransport:
    """One urllib3 pool manager per proxy URL."""

    def __init__(self, proxy_url: str, pool_size: int = 4096):
        self.manager = urllib3.ProxyManager(proxy_url, num_pools=32, maxsize=pool_size, retries=False)

    def send(self, request: Request) -> UpstreamResponse:
        host = request.host
        with mapped_errors(host):
            raw = self.manager.urlopen(
                request.method, request.url, body=request.body, headers=request.headers, redirect=False,
                retries=False, preload_content=False, decode_content=False,
                timeout=urllib3.Timeout(connect=CONNECT_TIMEOUT, read=request.timeout),
            )
        return UpstreamResponse(_Urllib3Body(raw), host)

    def close(self) -> None:
        self.manager.clear()
