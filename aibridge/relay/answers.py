"""The answers a client gets when the exchange with the upstream failed before any byte was relayed."""

from __future__ import annotations

from flask import Response

from ..errors import error_response
from ..upstream import Response as UpstreamResponse
from ..upstream import UpstreamError, relayed_headers
from .failures import upstream_refused


def upstream_error_answer(response: UpstreamResponse, record) -> Response:
    """An upstream HTTP error: its status, headers and body as sent; the interception ends failed, saying why."""
    failure, content = upstream_refused(response)
    record.end(failure.status, failure.error)
    return Response(content, status=response.status, headers=relayed_headers(response.headers))


def failure_answer(shape: str, error: UpstreamError) -> Response:
    """502 / 504 in the API's error shape for an upstream that failed (its message names the host)."""
    return error_response(shape, error.status, str(error))


def refusal_answer(shape: str, refusal, record) -> Response:
    """The gateway's own refusal (a limit, an open breaker, no usable key) in the API's shape; the interception ends failed."""
    record.end("failed", refusal.error())
    return Response(refusal.body(shape), status=refusal.status, headers=refusal.headers())
