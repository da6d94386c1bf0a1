"""Routes proxied to the provider as they are: provider key in, gateway token out, not recorded."""

from __future__ import annotations

from flask import Response, request

from ..errors import error_response
from ..upstream import UpstreamError, forward_headers, relayed_headers
from .answers import failure_answer
from .body import read_body
from .stream import relay_body


def passthrough(gateway, provider, path: str, byok: bool) -> Response:
    body = read_body(gateway.config.max_request_body)
    if body is None:
        return error_response(provider.error_shape, 413, "request body is larger than the limit")
    headers = forward_headers(request.headers, keep_client_credentials=byok)
    if not byok:
        headers.update(provider.auth_headers())
    query = request.query_string.decode("latin-1")
    try:
        response = provider.send_passthrough(request.method, path, query, headers, body or None,
                                             gateway.config.upstream_timeout)
    except UpstreamError as error:
        return failure_answer(provider.error_shape, error)
    relayed = Response(relay_body(response), status=response.status, headers=relayed_headers(response.headers))
    # HEAD, 204 and 304 answers never iterate the body: the connection still goes back to the pool.
    relayed.call_on_close(response.close)
    return relayed
