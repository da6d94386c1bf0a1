"""Anthropic Messages: the prompt, token, tool and thinking records of ``POST /v1/messages``."""

from __future__ import annotations

import json

from ...errors import error_message
from ..base import Api, StreamObserver
from ..prompts import messages_prompt
from ..shared import compact_json, compact_json_text
from ..tool_results import ReturnedResult, messages_tool_results
from .rewrite import MessagesLoop

# usage keys that map onto the record's own columns; the rest goes to metadata.
_COUNTS = {
    "input_tokens": "input",
    "output_tokens": "output",
    "cache_read_input_tokens": "cache_read",
    "cache_creation_input_tokens": "cache_write",
}


class Messages(Api):
    name = "messages"
    error_shape = "anthropic"
    tool_loop = MessagesLoop

    def prompt(self) -> str | None:
        return messages_prompt(self.body.get("messages"))

    def tool_results(self) -> list[ReturnedResult]:
        return messages_tool_results(self.body.get("messages"))

    def stream_observer(self, log) -> "MessagesStream":
        return MessagesStream(log)

    def record_blocking(self, log, content: bytes) -> None:
        message = json.loads(content)
        msg_id = message.get("id", "")
        log.message(msg_id)
        usage = message.get("usage") or {}
        log.tokens(msg_id, **_counts(usage), metadata=_extra(usage))
        for block in message.get("content") or []:
            kind = block.get("type")
            if kind == "tool_use":
                log.tool(msg_id, block.get("id", ""), block.get("name", ""), compact_json(block.get("input", {})))
            elif kind == "thinking":
                log.thought(block.get("thinking", ""), "thinking")

    def stream_error_event(self, status: int, message: str) -> bytes:
        kind = "timeout_error" if status == 504 else "api_error"
        data = json.dumps({"type": "error", "error": {"type": kind, "message": message}})
        return f"event: error\ndata: {data}\n\n".encode()


class MessagesStream(StreamObserver):
    """Follows message_start / content blocks / message_delta.

    One token record per message, at its message_stop (or when the stream
    ends without one, so a cut-off stream still reports what it used).
    """

    def __init__(self, log):
        self.log = log
        self.msg_id = ""
        self.blocks: dict[int, dict] = {}
        self.current: dict[str, int] = {}
        self.reported: dict[str, int] = {}
        self.extra: dict = {}

    def event(self, event) -> bytes | None:
        name = event.name
        if name == "ping" or (name == "content_block_delta" and b'"text_delta"' in event.raw):
            return event.raw  # the bulk of a stream: nothing to record
        if not event.data.strip():
            return event.raw  # an SSE comment (a proxy's keep-alive): nothing to read
        data = json.loads(event.data)
        kind = data.get("type", name)
        handler = _HANDLERS.get(kind)
        if handler is not None:
            handler(self, data)
        return event.raw

    def finish(self) -> None:
        for index in sorted(self.blocks):
            self._close_block(index)
        self._report_usage()

    def _message_start(self, data: dict) -> None:
        self._report_usage()  # a previous message that never sent its final delta
        message = data.get("message") or {}
        self.msg_id = message.get("id", "")
        self.log.message(self.msg_id)
        self.current, self.reported, self.extra = {}, {}, {}
        self._take_usage(message.get("usage") or {})

    def _message_delta(self, data: dict) -> None:
        self._take_usage(data.get("usage") or {})

    def _message_stop(self, data: dict) -> None:
        self._report_usage()

    def _take_usage(self, usage: dict) -> None:
        # Counts are cumulative for the message: the newest value replaces the older one.
        for key, value in _counts(usage).items():
            self.current[key] = value
        self.extra.update(_extra(usage))

    def _report_usage(self) -> None:
        delta = {key: value - self.reported.get(key, 0) for key, value in self.current.items()}
        if any(delta.values()):
            self.log.tokens(self.msg_id, **delta, metadata=dict(self.extra))
            self.reported = dict(self.current)

    def _block_start(self, data: dict) -> None:
        block = data.get("content_block") or {}
        kind = block.get("type")
        if kind == "tool_use":
            initial = block.get("input")
            self.blocks[data.get("index", 0)] = {
                "type": kind,
                "id": block.get("id", ""),
                "name": block.get("name", ""),
                "parts": [],
                "initial": initial if initial else None,
            }
        elif kind == "thinking":
            self.blocks[data.get("index", 0)] = {"type": kind, "parts": [block.get("thinking", "")]}

    def _block_delta(self, data: dict) -> None:
        block = self.blocks.get(data.get("index", 0))
        delta = data.get("delta") or {}
        if block is None:
            return
        if delta.get("type") == "input_json_delta":
            block["parts"].append(delta.get("partial_json", ""))
        elif delta.get("type") == "thinking_delta":
            block["parts"].append(delta.get("thinking", ""))

    def _block_stop(self, data: dict) -> None:
        self._close_block(data.get("index", 0))

    def _close_block(self, index: int) -> None:
        block = self.blocks.pop(index, None)
        if block is None:
            return
        text = "".join(block["parts"])
        if block["type"] == "tool_use":
            if not text and block["initial"] is not None:
                text = json.dumps(block["initial"])
            self.log.tool(self.msg_id, block["id"], block["name"], compact_json_text(text or "{}"))
        else:
            self.log.thought(text, "thinking")

    def _error(self, data: dict) -> None:
        self.failure = error_message(data)


_HANDLERS = {
    "message_start": MessagesStream._message_start,
    "message_delta": MessagesStream._message_delta,
    "message_stop": MessagesStream._message_stop,
    "content_block_start": MessagesStream._block_start,
    "content_block_delta": MessagesStream._block_delta,
    "content_block_stop": MessagesStream._block_stop,
    "error": MessagesStream._error,
}


def _counts(usage: dict) -> dict[str, int]:
    return {name: usage[key] for key, name in _COUNTS.items() if isinstance(usage.get(key), int)}


def _extra(usage: dict) -> dict:
    return {k: v for k, v in usage.items() if k not in _COUNTS and v is not None}
