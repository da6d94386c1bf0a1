"""Talking to providers: one pooled HTTP session, header filtering, failure mapping."""

from __future__ import annotations

import urllib.parse
import urllib.request

import urllib3

from . import http1

HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
    }
)

# Never forwarded upstream: transport details and every credential the client
# sent the gateway (the provider's own auth is set afterwards).
_NOT_FORWARDED = HOP_BY_HOP | {
    "host",
    "content-length",
    "accept-encoding",
    "authorization",
    "x-api-key",
    "coder-session-token",
    "x-coder-ai-governance-token",
}

_CLIENT_CREDENTIALS = ("authorization", "x-api-key")

# Not relayed back: transport details the server recomputes. Content-Encoding
# stays: the body is relayed as sent, still encoded.
_NOT_RELAYED = HOP_BY_HOP | {"content-length"}

CONNECT_TIMEOUT = 10.0


class UpstreamUnreachable(Exception):
    """The provider could not be reached (connection refused, DNS, TLS)."""


class UpstreamTimeout(Exception):
    """The provider took longer than the configured upstream timeout."""


class UpstreamHTTP:
    """Pooled keep-alive connections to the providers, through the environment's proxy when one is set.

    Direct connections use the small client in :mod:`.http1` (the hot path);
    hosts behind HTTP(S)_PROXY go through urllib3, which speaks proxies.
    """

    def __init__(self, pool_size: int = 4096):
        self.client = http1.Client(pool_size)
        self._pool_size = pool_size
        self._proxies = urllib.request.getproxies()
        self._via_proxy: dict[str, urllib3.ProxyManager] = {}
        self._proxy_for_host: dict[tuple[str, str], str | None] = {}

    def proxy_for(self, url: str) -> urllib3.ProxyManager | None:
        """The proxy pool for ``url``, or None to connect directly (no proxy set, or NO_PROXY exempts it)."""
        if not self._proxies:
            return None
        parts = urllib.parse.urlsplit(url)
        key = (parts.scheme, parts.netloc)
        if key not in self._proxy_for_host:
            bypass = urllib.request.proxy_bypass(parts.hostname or "")
            self._proxy_for_host[key] = None if bypass else self._proxies.get(parts.scheme)
        proxy = self._proxy_for_host[key]
        if proxy is None:
            return None
        if proxy not in self._via_proxy:
            self._via_proxy[proxy] = urllib3.ProxyManager(proxy, num_pools=32, maxsize=self._pool_size, retries=False)
        return self._via_proxy[proxy]

    def close(self) -> None:
        self.client.clear()
        for manager in self._via_proxy.values():
            manager.clear()


class UpstreamResponse:
    """The provider's answer: status, headers, and a body read whole (``content``) or as it arrives (``raw.read1``)."""

    def __init__(self, raw):
        self.raw = raw
        self.status_code = raw.status
        self.headers = raw.headers  # case-insensitive ``get``, ordered ``items``
        self._content: bytes | None = None

    @property
    def content(self) -> bytes:
        if self._content is None:
            try:
                self._content = self.raw.read()
                self.raw.close()  # read to the end: the connection goes back to the pool now
            except (urllib3.exceptions.ReadTimeoutError, TimeoutError) as exc:
                raise UpstreamTimeout("the upstream stopped sending before the answer was complete") from exc
            except (urllib3.exceptions.HTTPError, OSError) as exc:
                raise UpstreamUnreachable(f"the upstream answer broke off: {type(exc).__name__}") from exc
        return self._content

    def close(self) -> None:
        """Give the connection back to its pool when the body was read to its end, else drop it."""
        self.raw.close()


class _ProxiedBody:
    """A urllib3 response behind the same ``read1`` / ``read`` / ``close`` as the direct client's."""

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


def make_session(pool_size: int = 4096) -> UpstreamHTTP:
    return UpstreamHTTP(pool_size)


def forward_headers(client_headers, keep_client_credentials: bool = False) -> dict[str, str]:
    """The client's headers minus hop-by-hop, transport and gateway credentials."""
    headers = {}
    connection = _connection_options(client_headers)
    governance = client_headers.get("X-Coder-AI-Governance-Token")
    for name, value in client_headers.items():
        lower = name.lower()
        if lower in _NOT_FORWARDED and not (keep_client_credentials and lower in _CLIENT_CREDENTIALS):
            continue
        if lower in connection:
            continue
        if governance and lower in _CLIENT_CREDENTIALS and governance in value:
            continue  # the gateway token sent again as the client's own key: it stays here
        if lower.startswith("x-ai-bridge-"):
            continue  # only the gateway vouches for the actor (--aibridge-send-actor-headers)
        headers[name] = value
    # Identity keeps the upstream bytes exactly as sent, with nothing to decode.
    headers["Accept-Encoding"] = "identity"
    return headers


def relayed_headers(upstream_headers) -> list[tuple[str, str]]:
    """The provider's response headers the client should see."""
    connection = _connection_options(upstream_headers)
    return [(k, v) for k, v in upstream_headers.items() if k.lower() not in _NOT_RELAYED and k.lower() not in connection]


def _connection_options(headers) -> set[str]:
    """Header names listed in ``Connection``: hop-by-hop for that one connection (RFC 9110, 7.6.1)."""
    return {name.strip().lower() for name in (headers.get("Connection") or "").split(",") if name.strip()}


def send(http: UpstreamHTTP, method: str, url: str, *, headers, body, stream: bool = True, timeout: float) -> UpstreamResponse:
    """Send one upstream request, mapping network failures to our two exceptions.

    The body is always read by the caller (``content`` or ``raw.read1``), so
    ``stream`` is accepted for symmetry only.
    """
    proxy = http.proxy_for(url)
    if proxy is not None:
        return _send_via_proxy(proxy, method, url, headers, body, timeout)
    try:
        raw = http.client.request(method, url, headers, body, CONNECT_TIMEOUT, timeout)
    except TimeoutError as exc:
        raise UpstreamTimeout("the upstream did not answer in time") from exc
    except (OSError, ValueError) as exc:
        raise UpstreamUnreachable(f"the upstream could not be reached: {_reason(exc)}") from exc
    return UpstreamResponse(raw)


def _send_via_proxy(proxy: urllib3.ProxyManager, method, url, headers, body, timeout) -> UpstreamResponse:
    try:
        raw = proxy.urlopen(
            method, url, body=body, headers=headers, redirect=False, retries=False,
            preload_content=False, decode_content=False,
            timeout=urllib3.Timeout(connect=CONNECT_TIMEOUT, read=timeout),
        )
    except urllib3.exceptions.NewConnectionError as exc:  # a subclass of ConnectTimeoutError, oddly
        raise UpstreamUnreachable(f"the upstream could not be reached: {_reason(exc)}") from exc
    except urllib3.exceptions.ConnectTimeoutError as exc:
        raise UpstreamTimeout("connecting to the upstream timed out") from exc
    except urllib3.exceptions.ReadTimeoutError as exc:
        raise UpstreamTimeout("the upstream did not answer in time") from exc
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        raise UpstreamUnreachable(f"the upstream could not be reached: {_reason(exc)}") from exc
    return UpstreamResponse(_ProxiedBody(raw))


def _reason(exc: Exception) -> str:
    """The innermost cause's type, without URLs that could carry credentials."""
    cause = exc
    while True:
        inner = cause.__cause__ or getattr(cause, "reason", None)
        if not isinstance(inner, Exception) or inner is cause:
            return type(cause).__name__
        cause = inner


def read_chunks(response, size: int = 65536):
    """Yield upstream body bytes as soon as they arrive, without waiting to fill a buffer."""
    raw = response.raw
    while True:
        chunk = raw.read1(size)
        if not chunk:
            return
        yield chunk
