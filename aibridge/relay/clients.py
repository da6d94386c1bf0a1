"""Which AI client sent a request, and its session id (recorded on the interception)."""

from __future__ import annotations

import json
import re

# User-Agent prefixes, lower-cased, checked in order.
_USER_AGENT_PREFIXES = (
    ("mux/", "Mux"),
    ("claude", "Claude Code"),
    ("codex", "Codex"),
    ("zed/", "Zed"),
    ("githubcopilotchat/", "GitHub Copilot (VS Code)"),
    ("copilot/", "GitHub Copilot (CLI)"),
    ("kilo-code/", "Kilo Code"),
    ("roo-code/", "Roo Code"),
    ("charm crush/", "Charm Crush"),
)

_ORIGINATORS = {"kilo-code": "Kilo Code", "roo-code": "Roo Code"}

# The header(s) each client sends its session id in, the first one present wins.
# Codex sends ``session_id`` (spec §5), some versions ``session-id``; both are accepted.
# Under WSGI both spell one key (HTTP_SESSION_ID): pywsgi drops header names with an
# underscore, and ``aibridge server`` keeps this one (server/handler.py).
_SESSION_HEADERS = {
    "Claude Code": ("X-Claude-Code-Session-Id",),
    "Codex": ("session-id", "session_id"),
    "Mux": ("X-Mux-Workspace-Id",),
    "GitHub Copilot (VS Code)": ("x-interaction-id",),
    "GitHub Copilot (CLI)": ("X-Client-Session-Id",),
    "Kilo Code": ("X-KILOCODE-TASKID",),
}

_LEGACY_SESSION = re.compile(r"_session_([0-9a-fA-F-]{36})$")


def detect_client(headers) -> str:
    """The client's display name, or "Unknown"."""
    user_agent = headers.get("User-Agent", "").lower()
    # An originator header counts where its client's rule stands in the order, not after every prefix.
    by_originator = _ORIGINATORS.get(headers.get("originator", "").lower())
    for prefix, client in _USER_AGENT_PREFIXES:
        if user_agent.startswith(prefix) or client == by_originator:
            return client
    if "x-cursor-client-version" in headers:
        return "Cursor"
    return "Unknown"


def session_id(client: str, headers, body: dict) -> str | None:
    """The client's session id, from its header or (Claude Code) the request metadata."""
    for header in _SESSION_HEADERS.get(client, ()):
        value = headers.get(header)
        if value:
            return value
    if client == "Claude Code":
        return _claude_code_session(body)
    return None


def _claude_code_session(body: dict) -> str | None:
    metadata = body.get("metadata")
    user_id = metadata.get("user_id") if isinstance(metadata, dict) else None
    if not isinstance(user_id, str):
        return None
    try:
        parsed = json.loads(user_id)
    except ValueError:
        parsed = None
    if isinstance(parsed, dict) and isinstance(parsed.get("session_id"), str):
        return parsed["session_id"]
    match = _LEGACY_SESSION.search(user_id)
    return match.group(1) if match else None
