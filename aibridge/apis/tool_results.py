"""The results of client-run tools a request returns to the model, one per earlier tool call.

Only the results of the request's last turn count: those after the model's
last turn (an interception records what is new in it, not the whole history
again). Anthropic: the ``tool_result`` blocks of the user messages after the
last assistant message; Chat: the ``tool`` messages after it; Responses: the
``*_call_output`` items after the last model output (a call whose output
follows is part of the same exchange). ``system`` / ``developer`` entries and
user messages in between are passed over.
"""

from __future__ import annotations

import json
from typing import NamedTuple

from .prompts import PASSED_OVER_ROLES
from .request_body import Entries

# A result's content is recorded up to this many bytes of UTF-8, then cut (and the cut marked).
MAX_CONTENT_BYTES = 32 * 1024


class ReturnedResult(NamedTuple):
    """One tool result as the request carries it: ``content`` is text, cut at MAX_CONTENT_BYTES."""

    tool_call_id: str
    is_error: bool
    content: str


def messages_tool_results(messages) -> list[ReturnedResult]:
    """Anthropic: the ``tool_result`` blocks after the last assistant message (``is_error`` as sent)."""
    found: list[ReturnedResult] = []
    for message in _trailing(messages):
        if message.get("role") == "user" and isinstance(message.get("content"), list):
            blocks = [b for b in message["content"] if isinstance(b, dict) and b.get("type") == "tool_result"]
            found[:0] = [_result(b.get("tool_use_id"), b.get("is_error") is True, b.get("content")) for b in blocks]
        elif message.get("role") not in ("user", *PASSED_OVER_ROLES):
            break
    return found


def chat_tool_results(messages) -> list[ReturnedResult]:
    """Chat Completions: the ``tool`` messages after the last assistant message (Chat has no error flag)."""
    found: list[ReturnedResult] = []
    for message in _trailing(messages):
        role = message.get("role")
        if role == "tool":
            found.insert(0, _result(message.get("tool_call_id"), False, message.get("content")))
        elif role not in ("user", *PASSED_OVER_ROLES):
            break
    return found


def responses_tool_results(input_value) -> list[ReturnedResult]:
    """Responses: the ``*_call_output`` items after the model's last output (they have no error flag)."""
    found: list[ReturnedResult] = []
    answered: set = set()
    for item in _trailing(input_value):
        kind = item.get("type") if isinstance(item.get("type"), str) else "message"
        if kind.endswith("_call_output"):
            answered.add(item.get("call_id"))
            found.insert(0, _result(item.get("call_id"), False, item.get("output")))
        elif kind.endswith("_call") and item.get("call_id") in answered:
            continue  # the call these outputs answer (clients may interleave calls and outputs)
        elif item.get("role") not in ("user", *PASSED_OVER_ROLES):
            break
    return found


def content_text(content) -> str:
    """A result's content as text: a string as sent; a list's text parts joined with newlines."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    parts = content if isinstance(content, list) else [content]
    return "\n".join(_part_text(part) for part in parts)


def cut(text: str, limit: int = MAX_CONTENT_BYTES) -> str:
    """``text`` up to ``limit`` bytes of UTF-8, followed by ``[... N bytes cut]`` when it was longer."""
    if len(text) * 4 <= limit:  # no character takes more than 4 bytes
        return text
    data = text.encode("utf-8", "replace")
    if len(data) <= limit:
        return text
    kept = data[:limit].decode("utf-8", "ignore")  # a character split at the limit goes with the cut
    return f"{kept}\n[... {len(data) - len(kept.encode('utf-8'))} bytes cut]"


def _trailing(entries):
    """The entries of a list from the last one back (nothing when it is not a list of objects)."""
    if not isinstance(entries, (list, Entries)):
        return
    for entry in reversed(entries):
        if not isinstance(entry, dict):
            return
        yield entry


def _result(tool_call_id, is_error: bool, content) -> ReturnedResult:
    return ReturnedResult(tool_call_id if isinstance(tool_call_id, str) else "", is_error, cut(content_text(content)))


def _part_text(part) -> str:
    """A text part's text; another part as ``[its type]`` (an image is not text)."""
    if isinstance(part, str):
        return part
    if isinstance(part, dict):
        if isinstance(part.get("text"), str):
            return part["text"]
        if isinstance(part.get("type"), str):
            return f"[{part['type']}]"
    return json.dumps(part, ensure_ascii=False)
