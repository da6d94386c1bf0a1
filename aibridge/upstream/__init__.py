"""Reaching providers: the transport interface, its response, and its one error type.

:class:`Upstream` is the transport the gateway shares between provider
instances: direct connections over the small HTTP/1.1 client, hosts behind
the environment's proxy through urllib3.
"""

from __future__ import annotations

import urllib.parse
import urllib.request

from .direct import DirectTransport
from .errors import BROKEN, TIMEOUT, UNREACHABLE, UpstreamError
from .headers import forward_headers, relayed_headers
from .http1 import Headers as ResponseHeaders
from .proxied import ProxiedTransport
from .transport import Request, Response, Transport, chunks, content_type, host_of, is_event_stream


class Upstream:
    """Pooled keep-alive connections to the providers, through the environment's proxy when one is set."""

    def __init__(self, pool_size: int = 4096):
        self.direct = DirectTransport(pool_size)
        self._pool_size = pool_size
        self._proxies = urllib.request.getproxies()
        self._via_proxy: dict[str, ProxiedTransport] = {}
        self._proxy_for_origin: dict[tuple[str, str], str | None] = {}

    def send(self, request: Request) -> Response:
        return self.transport_for(request.url).send(request)

    def transport_for(self, url: str) -> Transport:
        """The proxied transport when the environment's proxy covers ``url``, else the direct one."""
        if not self._proxies:
            return self.direct
        parts = urllib.parse.urlsplit(url)
        key = (parts.scheme, parts.netloc)
        if key not in self._proxy_for_origin:
            bypass = urllib.request.proxy_bypass(parts.hostname or "")
            self._proxy_for_origin[key] = None if bypass else self._proxies.get(parts.scheme)
        proxy = self._proxy_for_origin[key]
        if proxy is None:
            return self.direct
        if proxy not in self._via_proxy:
            self._via_proxy[proxy] = ProxiedTransport(proxy, self._pool_size)
        return self._via_proxy[proxy]

    def close(self) -> None:
        self.direct.close()
        for transport in self._via_proxy.values():
            transport.close()


__all__ = [
    "BROKEN", "TIMEOUT", "UNREACHABLE", "Request", "Response", "ResponseHeaders", "Transport", "Upstream",
    "UpstreamError", "chunks", "content_type", "forward_headers", "host_of", "is_event_stream", "relayed_headers",
]
