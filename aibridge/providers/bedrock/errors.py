"""Bedrock errors (HTTP answers and in-stream exceptions) in Anthropic's error shape."""

from __future__ import annotations

import json

from ...errors import anthropic_error_body

# Bedrock exception names (lower-cased: in-stream names start lower case) -> Anthropic error type.
# Unlisted exceptions take the Anthropic type of their HTTP status.
_ANTHROPIC_TYPES = {
    "validationexception": "invalid_request_error",
    "accessdeniedexception": "permission_error",
    "resourcenotfoundexception": "not_found_error",
    "throttlingexception": "rate_limit_error",
    "servicequotaexceededexception": "rate_limit_error",
    "modeltimeoutexception": "timeout_error",
    "modelnotreadyexception": "overloaded_error",
    "serviceunavailableexception": "overloaded_error",
    "internalserverexception": "api_error",
    "modelerrorexception": "api_error",
    "modelstreamerrorexception": "api_error",
}


def exception_name(value: str | None) -> str:
    """``ThrottlingException`` from ``ThrottlingException:http://...`` or ``com.amazon.coral...#ThrottlingException``."""
    if not value:
        return ""
    return value.split(":", 1)[0].rsplit("#", 1)[-1].strip()


def anthropic_error(status: int, name: str, message: str) -> dict:
    """The Anthropic error body for a Bedrock exception ``name`` answered with ``status``."""
    body = anthropic_error_body(status, f"Bedrock {name}: {message}" if name else f"Bedrock: {message}")
    known = _ANTHROPIC_TYPES.get(name.lower())
    if known:
        body["error"]["type"] = known
    return body


def http_error_body(status: int, headers, content: bytes) -> bytes:
    """Bedrock's error answer (x-amzn-ErrorType, JSON ``message``) as an Anthropic error body."""
    details = _json_object(content)
    name = exception_name(headers.get("x-amzn-ErrorType") or details.get("__type"))
    message = details.get("message") or details.get("Message")
    if not isinstance(message, str) or not message:
        text = content.decode("utf-8", "replace").strip()
        message = text[:500] if text else f"HTTP {status} without a message"
    return json.dumps(anthropic_error(status, name, message)).encode()


def stream_error_event(name: str, message: str, status: int = 500) -> bytes:
    """An Anthropic ``event: error`` SSE event for a failure in the middle of a stream."""
    data = json.dumps(anthropic_error(status, name, message))
    return f"event: error\ndata: {data}\n\n".encode()


def exception_message(payload: bytes) -> str:
    """The ``message`` of an in-stream exception's JSON payload (or the payload text)."""
    details = _json_object(payload)
    message = details.get("message") or details.get("Message")
    if isinstance(message, str) and message:
        return message
    return payload.decode("utf-8", "replace").strip() or "no message"


def _json_object(content: bytes) -> dict:
    try:
        value = json.loads(content)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
