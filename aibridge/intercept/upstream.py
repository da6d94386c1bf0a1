"""Talking to providers: one pooled HTTP session, header filtering, failure mapping."""

from __future__ import annotations

import urllib.parse
import urllib.request

import urllib3

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

    urllib3 directly rather than requests: a requests call re-reads proxy and
    netrc settings and re-prepares the request every time, which cost a third
    of the gateway's time per request in the benchmark.
    """

    def __init__(self, pool_size: int = 4096):
        self._direct = urllib3.PoolManager(num_pools=32, maxsize=pool_size, block=False, retries=False)
        self._proxies = urllib.request.getproxies()
        self._via_proxy: dict[str, urllib3.PoolManager] = {}
        self._proxy_for_host: dict[tuple[str, str], str | None] = {}

    def manager(self, url: str) -> urllib3.PoolManager:
        """The pool for ``url``: direct, or through HTTP(S)_PROXY unless NO_PROXY exempts its host."""
        if not self._proxies:
            return self._direct
        parts = urllib.parse.urlsplit(url)
        key = (parts.scheme, parts.netloc)
        if key not in self._proxy_for_host:
            bypass = urllib.request.proxy_bypass(parts.hostname or "")
            self._proxy_for_host[key] = None if bypass else self._proxies.get(parts.scheme)
        proxy = self._proxy_for_host[key]
        if proxy is None:
            return self._direct
        if proxy not in self._via_proxy:
            self._via_proxy[proxy] = urllib3.ProxyManager(proxy, num_pools=32, maxsize=self._direct.connection_pool_kw["maxsize"], retries=False)
        return self._via_proxy[proxy]

    def close(self) -> None:
        self._direct.clear()
        for manager in self._via_proxy.values():
            manager.clear()


class UpstreamResponse:
    """The provider's answer: status, headers, and a body read whole (``content``) or as it arrives (``raw``)."""

    def __init__(self, raw: urllib3.BaseHTTPResponse):
        self.raw = raw
        self.status_code = raw.status
        self.headers = raw.headers  # case-insensitive
        self._content: bytes | None = None

    @property
    def content(self) -> bytes:
        if self._content is None:
            try:
                self._content = self.raw.read()
            except urllib3.exceptions.ReadTimeoutError as exc:
                raise UpstreamTimeout("the upstream stopped sending before the answer was complete") from exc
            except urllib3.exceptions.HTTPError as exc:
                raise UpstreamUnreachable(f"the upstream answer broke off: {type(exc).__name__}") from exc
        return self._content

    def close(self) -> None:
        """Give the connection back to the pool when the body was read to its end, else drop it."""
        if self._content is None and not self.raw.isclosed():
            self.raw.close()  # a half-read body cannot be reused: the connection goes
        self.raw.release_conn()


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
    try:
        raw = http.manager(url).urlopen(
            method,
            url,
            body=body,
            headers=headers,
            redirect=False,
            retries=False,
            preload_content=False,
            decode_content=False,
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
    return UpstreamResponse(raw)


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
