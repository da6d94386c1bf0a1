"""Which headers cross the gateway: the client's going upstream, the provider's coming back."""

from __future__ import annotations

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
