"""Talking to providers: one pooled HTTP session, header filtering, failure mapping."""

from __future__ import annotations

import requests
from requests.adapters import HTTPAdapter

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

# Not relayed back: transport details the server recomputes.
_NOT_RELAYED = HOP_BY_HOP | {"content-length", "content-encoding"}

CONNECT_TIMEOUT = 10.0


class UpstreamUnreachable(Exception):
    """The provider could not be reached (connection refused, DNS, TLS)."""


class UpstreamTimeout(Exception):
    """The provider took longer than the configured upstream timeout."""


def make_session(pool_size: int = 1000) -> requests.Session:
    """A session with a large keep-alive pool and no default headers of its own."""
    session = requests.Session()
    session.headers.clear()
    adapter = HTTPAdapter(pool_connections=32, pool_maxsize=pool_size, max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def forward_headers(client_headers, keep_client_credentials: bool = False) -> dict[str, str]:
    """The client's headers minus hop-by-hop, transport and gateway credentials."""
    headers = {}
    for name, value in client_headers.items():
        lower = name.lower()
        if lower in _NOT_FORWARDED and not (keep_client_credentials and lower in _CLIENT_CREDENTIALS):
            continue
        headers[name] = value
    # Identity keeps the upstream bytes exactly as sent, with nothing to decode.
    headers["Accept-Encoding"] = "identity"
    return headers


def relayed_headers(upstream_headers) -> list[tuple[str, str]]:
    """The provider's response headers the client should see."""
    return [(k, v) for k, v in upstream_headers.items() if k.lower() not in _NOT_RELAYED]


def send(session: requests.Session, method: str, url: str, *, headers, body, stream: bool, timeout: float):
    """Send one upstream request, mapping network failures to our two exceptions."""
    try:
        return session.request(
            method,
            url,
            headers=headers,
            data=body,
            stream=stream,
            timeout=(CONNECT_TIMEOUT, timeout),
            allow_redirects=False,
        )
    except requests.exceptions.ConnectTimeout as exc:
        raise UpstreamTimeout(f"connecting to the upstream timed out: {exc}") from exc
    except requests.exceptions.ReadTimeout as exc:
        raise UpstreamTimeout("the upstream did not answer in time") from exc
    except requests.exceptions.RequestException as exc:
        raise UpstreamUnreachable(f"the upstream could not be reached: {_reason(exc)}") from exc


def _reason(exc: Exception) -> str:
    """The innermost cause, without URLs that could carry credentials."""
    cause = exc
    while cause.__cause__ is not None or (cause.args and isinstance(cause.args[0], Exception)):
        cause = cause.__cause__ or cause.args[0]
    return type(cause).__name__


def read_chunks(response, size: int = 65536):
    """Yield upstream body bytes as soon as they arrive, without waiting to fill a buffer."""
    raw = response.raw
    while True:
        chunk = raw.read1(size)
        if not chunk:
            return
        yield chunk
