"""Error bodies in the shape each client SDK expects."""

from __future__ import annotations

import json
import math

from flask import Response

# Anthropic's documented error types by HTTP status.
_ANTHROPIC_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    501: "api_error",
    502: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
}

_OPENAI_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "invalid_request_error",
    429: "rate_limit_error",
    501: "not_implemented",
    502: "bad_gateway",
    504: "timeout",
}


def anthropic_error_body(status: int, message: str) -> dict:
    return {"type": "error", "error": {"type": _ANTHROPIC_TYPES.get(status, "api_error"), "message": message}}


def openai_error_body(status: int, message: str, code: str | None = None) -> dict:
    return {
        "error": {
            "message": message,
            "type": _OPENAI_TYPES.get(status, "server_error"),
            "param": None,
            "code": code,
        }
    }


def error_response(shape: str, status: int, message: str, code: str | None = None,
                   retry_after: float | None = None) -> Response:
    """A JSON error response; ``shape`` is "anthropic" or "openai"; ``retry_after`` seconds sets Retry-After."""
    if shape == "anthropic":
        body = anthropic_error_body(status, message)
    else:
        body = openai_error_body(status, message, code)
    response = Response(json.dumps(body), status=status, mimetype="application/json")
    if retry_after is not None:
        response.headers["Retry-After"] = retry_after_header(retry_after)
    return response


def retry_after_header(seconds: float) -> str:
    """A Retry-After value: whole seconds, at least 1."""
    return str(max(1, math.ceil(seconds)))


def error_message(body) -> str:
    """The message of an error in Anthropic's or OpenAI's shape ("" if it has none).

    ``body`` is the parsed JSON (a body, a stream's error event, or a failed
    response object) or its bytes: ``{"error": {"message": ...}}`` or a
    top-level ``"message"`` (the Responses API's ``error`` event).
    """
    if isinstance(body, (bytes, str)):
        try:
            body = json.loads(body)
        except ValueError:
            return ""
    if not isinstance(body, dict):
        return ""
    error = body.get("error")
    message = error.get("message") if isinstance(error, dict) else body.get("message")
    return message if isinstance(message, str) else ""
