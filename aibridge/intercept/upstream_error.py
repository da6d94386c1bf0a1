"""The answer a client gets when the upstream failed before any byte was relayed."""

from __future__ import annotations

from flask import Response

from . import upstream


def relay_error(response, record) -> Response:
    """An upstream HTTP error: its status, headers and body as sent; the interception ends failed."""
    try:
        content = response.content
    except Exception:  # the body broke off: the status still tells the client what happened
        content = b""
    finally:
        response.close()
        record.end("failed")
    return Response(content, status=response.status_code, headers=upstream.relayed_headers(response.headers))
