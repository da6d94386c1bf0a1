"""The attributes of each span, picked field by field from the records.

Only what identifies and classifies a request goes into a span: ids, names,
statuses, counts, durations. Never a prompt, a body, a tool's input or
result, a header, a key or its masked hint, nor a URL (it may carry
credentials): hosts only.
"""

from __future__ import annotations

from urllib.parse import urlsplit


def of_interception(interception) -> dict:
    """What the interception's span carries from the start."""
    return {
        "aibridge.interception_id": interception.interception_id,
        "aibridge.provider": interception.provider,
        "aibridge.provider_name": interception.provider_name,
        "aibridge.model": interception.model,
        "aibridge.api": interception.api,
        "aibridge.streaming": interception.streaming,
        "aibridge.client": interception.client,
        "aibridge.initiator_id": interception.initiator_id,
        "aibridge.credential_kind": interception.credential_kind,
    }


def of_end(interception) -> dict:
    """How it ended: status, error kind, the upstream's HTTP status, how many attempts it took.

    With the instance and model that answered (a fallback changes them after the start).
    """
    found = {"aibridge.status": interception.status or "", "aibridge.provider_name": interception.provider_name,
             "aibridge.model": interception.model}
    error = interception.error
    if error is not None:
        found["error.type"] = error.kind
        found["aibridge.error_kind"] = error.kind
        if error.upstream_status is not None:
            found["http.response.status_code"] = error.upstream_status
    elif interception.status == "completed":
        found["http.response.status_code"] = 200
    attempts = interception.metadata.get("attempts")
    if isinstance(attempts, int):
        found["aibridge.attempts"] = attempts
    return found


def of_attempt(attempt) -> dict:
    found = {
        "aibridge.interception_id": attempt.interception_id,
        "aibridge.attempt": attempt.attempt,
        "aibridge.provider_name": attempt.provider_name,
        "server.address": attempt.host,
    }
    if attempt.status is not None:
        found["http.response.status_code"] = attempt.status
        if attempt.status >= 400:
            found["error.type"] = str(attempt.status)
    if attempt.error_kind:
        found["error.type"] = attempt.error_kind
        found["aibridge.error_kind"] = attempt.error_kind
    return found


def of_tool_call(call) -> dict:
    found = {
        "aibridge.interception_id": call.interception_id,
        "aibridge.tool": call.tool,
        "aibridge.tool_call_id": call.tool_call_id,
        "server.address": _host(call.server_url),
    }
    if call.error:
        # The tool's own message may quote what it was given: only whether it failed, or was cut.
        found["error.type"] = "cancelled" if call.error == "cancelled" else "tool_error"
    return found


def of_write(interception_id: str, rows: int, duration_ms: float, stored: bool) -> dict:
    return {
        "aibridge.interception_id": interception_id,
        "aibridge.record.batch_rows": rows,
        "aibridge.record.batch_ms": round(duration_ms, 3),
        "aibridge.record.stored": stored,
    }


def _host(url: str | None) -> str:
    if not url:
        return ""
    try:
        parts = urlsplit(url)
        return parts.hostname + (f":{parts.port}" if parts.port else "") if parts.hostname else ""
    except ValueError:
        return ""
