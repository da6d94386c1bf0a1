"""The answers a client gets when the exchange with the upstream failed before any byte was relayed."""

from __future__ import annotations

from flask import Response

from ..errors import error_response
from ..upstream import Response as UpstreamResponse
from ..upstream import UpstreamError, relayed_headers


def upstream_error_answer(response: UpstreamResponse, record) -> Response:
    """An upstream HTTP error: its status, headers and body as sent; the interception ends failed."""
    try:
        content = response.read()
    except UpstreamError:  # the body broke off: the status still tells the client what happened
        content = b""
    finally:
        response.close()
        record.end("failed")
    return Response(content, status=response.status, headers=relayed_headers(response.headers))


def failure_answer(shape: str, error: UpstreamError, record=None) -> Response:
    """502 / 504 in the API's error shape for an upstream that failed; the interception (if any) ends failed."""
    if record is not None:
        record.end("failed")
    return error_response(shape, error.status, str(error))


def refusal_answer(shape: str, refusal, record) -> Response:
    """The gateway's own refusal (a limit, an open breaker, no usable key) in the API's shape; the interception ends failed."""
    record.end("failed", refusal.error())
    return Response(refusal.body(shape), status=refusal.status, headers=refusal.headers())
