"""Routes proxied to the provider as they are: provider key in, gateway token out, not recorded."""

from __future__ import annotations

from flask import Response, request

from ..errors import error_response
from . import upstream
from .handler import read_body


def passthrough(bridge, provider, path: str, byok: bool) -> Response:
    body = read_body(bridge.config.max_request_body)
    if body is None:
        return error_response(provider.error_shape, 413, "request body is larger than the limit")
    headers = upstream.forward_headers(request.headers, keep_client_credentials=byok)
    if not byok:
        headers.update(provider.auth_headers())
    url = provider.upstream_url(path, request.query_string.decode("latin-1"))
    try:
        response = upstream.send(
            bridge.http, request.method, url, headers=headers, body=body or None,
            stream=True, timeout=bridge.config.upstream_timeout,
        )
    except upstream.UpstreamTimeout as exc:
        return error_response(provider.error_shape, 504, str(exc))
    except upstream.UpstreamUnreachable as exc:
        return error_response(provider.error_shape, 502, f"{provider.name}: {exc}")

    def body_chunks():
        try:
            yield from upstream.read_chunks(response)
        finally:
            response.close()

    relayed = Response(body_chunks(), status=response.status_code, headers=upstream.relayed_headers(response.headers))
    # HEAD, 204 and 304 answers never iterate the body: the connection still goes back to the pool.
    relayed.call_on_close(response.close)
    return relayed
