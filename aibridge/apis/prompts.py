"""The prompt of a request: what the person typed in its last turn, without what their client added.

The rules (docs/recording.md, "The prompt"), shared by the three APIs:

- Trailing ``system`` / ``developer`` entries of ``messages`` / ``input`` are
  passed over (Claude Code ends a session's first request with a ``system``
  message after the user's turn); the last remaining entry counts only if it
  is the user's.
- Client-added context is not the prompt: a text that starts with one of the
  context elements below has them removed, and a text that is nothing else is
  no text at all (Claude Code's ``<system-reminder>`` blocks, Codex's
  AGENTS.md / ``<environment_context>`` / ``<user_instructions>`` items,
  Copilot's ``<current_datetime>`` prefix).
- Messages and Chat take the last text part left; Responses joins the
  ``input_text`` parts left with a newline.
- A last user turn without such text (only tool results) has no prompt.
"""

from __future__ import annotations

import re

from .request_body import Entries

# Roles of entries the client sends after the user's turn, which are not the person's.
PASSED_OVER_ROLES = ("system", "developer")

# One element of client context at the start of a text, with the whitespace after it.
_CONTEXT_ELEMENT = re.compile(
    r"\s*(?:"
    r"<(system-reminder|current_datetime|environment_context|user_instructions)>.*?</\1>"  # a wrapper element
    r"|# AGENTS\.md instructions for [^\n]*\n\s*<INSTRUCTIONS>.*?</INSTRUCTIONS>"  # Codex's AGENTS.md
    r")\s*",
    re.DOTALL,
)


def typed_text(text: str) -> str | None:
    """``text`` without the client context it starts with; None when nothing else is left.

    A text without client context is returned exactly as sent.
    """
    match = _CONTEXT_ELEMENT.match(text)
    while match:
        text = text[match.end():]
        match = _CONTEXT_ELEMENT.match(text)
    return text if text.strip() else None


def last_turn(entries) -> dict | None:
    """The last entry of ``messages`` / ``input`` that is not a system or developer entry."""
    if not isinstance(entries, (list, Entries)):
        return None
    for entry in reversed(entries):
        if not isinstance(entry, dict):
            return None
        if entry.get("role") not in PASSED_OVER_ROLES:
            return entry
    return None


def messages_prompt(messages) -> str | None:
    """Messages and Chat: the last text part (or string content) of the last turn, if it is the user's."""
    turn = last_turn(messages)
    if turn is None or turn.get("role") != "user":
        return None
    content = turn.get("content")
    if isinstance(content, str):
        return typed_text(content)
    for text in reversed(_texts(content, "text")):
        typed = typed_text(text)
        if typed is not None:
            return typed
    return None


def responses_prompt(input_value) -> str | None:
    """Responses: a string input, or the typed ``input_text`` parts of the last item if it is the user's."""
    if isinstance(input_value, str):
        return typed_text(input_value)
    turn = last_turn(input_value)
    if turn is None or turn.get("role") != "user" or turn.get("type", "message") != "message":
        return None
    content = turn.get("content")
    if isinstance(content, str):
        return typed_text(content)
    typed = [text for text in map(typed_text, _texts(content, "input_text")) if text is not None]
    return "\n".join(typed) if typed else None


def _texts(content, part_type: str) -> list[str]:
    """The text of each part of ``part_type`` in a list content."""
    if not isinstance(content, list):
        return []
    return [p["text"] for p in content if isinstance(p, dict) and p.get("type") == part_type and isinstance(p.get("text"), str)]
