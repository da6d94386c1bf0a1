"""OpenAI Chat Completions: the prompt, token and tool records of ``POST /v1/chat/completions``."""

from __future__ import annotations

import json

from ...errors import error_message
from ..base import Api, StreamObserver
from ..openai_shared import custom_tool_input, error_object, function_arguments, token_counts
from ..prompts import messages_prompt
from ..tool_results import ReturnedResult, chat_tool_results
from .rewrite import ChatLoop

# Byte-level insertion right after the body's opening brace: the rest of the
# client's bytes go upstream untouched.
_ASK_FOR_USAGE = b'"stream_options":{"include_usage":true},'


class ChatCompletions(Api):
    name = "chat_completions"
    tool_loop = ChatLoop
    fields = (*Api.fields, "stream_options", "n")

    def __init__(self, raw: bytes):
        super().__init__(raw)
        options = self.body.get("stream_options")
        # Streams carry usage only on request; the gateway always needs it.
        self.client_wants_usage = isinstance(options, dict) and options.get("include_usage") is True
        # Worked out now: a body that must be decoded whole and cannot be is refused before the start.
        self._upstream_body = raw if not self.streaming or self.client_wants_usage else self._asking_for_usage()

    def prompt(self) -> str | None:
        return messages_prompt(self.body.get("messages"))

    def tool_results(self) -> list[ReturnedResult]:
        return chat_tool_results(self.body.get("messages"))

    def upstream_body(self) -> bytes:
        return self._upstream_body

    def release_body(self) -> None:
        super().release_body()
        self._upstream_body = b""  # the client's bytes, or the copy asking for usage

    def _asking_for_usage(self) -> bytes:
        """The body with ``stream_options.include_usage`` set: inserted into the bytes when it can be."""
        if "stream_options" not in self.body:
            inserted = _insert_first_member(self.raw, _ASK_FOR_USAGE)
            if inserted is not None:
                return inserted
        body = dict(self.body.whole())
        options = body.get("stream_options")
        body["stream_options"] = {**(options if isinstance(options, dict) else {}), "include_usage": True}
        return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()

    def stream_observer(self, log) -> "ChatStream":
        return ChatStream(log, relay_usage=self.client_wants_usage)

    def record_blocking(self, log, content: bytes) -> None:
        completion = json.loads(content)
        msg_id = completion.get("id") or ""
        log.message(msg_id)
        for choice in completion.get("choices") or []:
            for call in (choice.get("message") or {}).get("tool_calls") or []:
                log.tool(msg_id, call.get("id") or "", *_blocking_call(call))
        usage = completion.get("usage")
        if isinstance(usage, dict):
            log.tokens(msg_id, **token_counts(usage, "prompt_tokens", "completion_tokens"))

    def stream_error_event(self, status: int, message: str) -> bytes:
        data = json.dumps({"error": error_object(status, message)})
        return f"data: {data}\n\ndata: [DONE]\n\n".encode()


class ChatStream(StreamObserver):
    """Reads ``chat.completion.chunk`` events; tools and usage are announced when the stream ends."""

    def __init__(self, log, relay_usage: bool):
        self.log = log
        self.relay_usage = relay_usage
        self.msg_id: str | None = None
        self.calls: dict[tuple[int, int], dict] = {}
        self.usage: dict | None = None
        self.owes_done = False  # an error chunk was relayed and no [DONE] followed yet

    def event(self, event) -> bytes | None:
        raw = event.raw
        if self.msg_id is not None and not self.owes_done and _nothing_to_record(raw):
            return raw  # text deltas, the bulk of a stream
        data = event.data
        if not data or data.startswith(b"[DONE]"):
            self.owes_done = False
            return raw
        chunk = json.loads(data)
        if not isinstance(chunk, dict):
            return raw
        if "error" in chunk:
            self.failure = error_message(chunk)
            self.owes_done = True
            return raw
        if self.msg_id is None and isinstance(chunk.get("id"), str) and chunk["id"]:
            self.msg_id = chunk["id"]
            self.log.message(self.msg_id)
        choices = chunk.get("choices")
        for choice in choices or []:
            self._take_tool_deltas(choice)
        usage = chunk.get("usage")
        if isinstance(usage, dict):
            self.usage = usage  # the last report is the total
            if not self.relay_usage and not choices:
                return None  # the usage-only chunk the client did not ask for
        return raw

    def closing_bytes(self) -> bytes:
        # Clients stop reading at [DONE]; after an error chunk the API promises one.
        return b"data: [DONE]\n\n" if self.owes_done else b""

    def finish(self) -> None:
        msg_id = self.msg_id or ""
        for key in sorted(self.calls):
            call = self.calls[key]
            text = "".join(call["parts"])
            recorded = custom_tool_input(text) if call["type"] == "custom" else function_arguments(text)
            self.log.tool(msg_id, call["id"], call["name"], recorded)
        self.calls = {}
        if self.usage is not None:
            self.log.tokens(msg_id, **token_counts(self.usage, "prompt_tokens", "completion_tokens"))
            self.usage = None

    def _take_tool_deltas(self, choice: dict) -> None:
        # Fragments of one call share its index; the first one carries id and name.
        for delta in (choice.get("delta") or {}).get("tool_calls") or []:
            key = (choice.get("index") or 0, delta.get("index") or 0)
            call = self.calls.setdefault(key, {"id": "", "name": "", "type": "function", "parts": []})
            if delta.get("id"):
                call["id"] = delta["id"]
            if delta.get("type"):
                call["type"] = delta["type"]
            part = delta.get("custom") if call["type"] == "custom" else delta.get("function")
            part = part if isinstance(part, dict) else {}
            if part.get("name") and not call["name"]:
                call["name"] = part["name"]
            fragment = part.get("input" if call["type"] == "custom" else "arguments")
            if isinstance(fragment, str):
                call["parts"].append(fragment)


def _nothing_to_record(raw: bytes) -> bool:
    """Cheap byte checks: a chunk without tool calls, usage or an error needs no parsing.

    Keys inside JSON strings have escaped quotes, so these never match content text.
    """
    if b'"tool_calls"' in raw or b'"error"' in raw:
        return False
    return b'"usage"' not in raw or b'"usage":null' in raw


def _blocking_call(call: dict) -> tuple[str, str]:
    """(name, recorded input) of a tool call in a complete answer."""
    if call.get("type") == "custom":
        custom = call.get("custom") or {}
        return custom.get("name") or "", custom_tool_input(custom.get("input"))
    function = call.get("function") or {}
    return function.get("name") or "", function_arguments(function.get("arguments"))


def _insert_first_member(raw: bytes, member: bytes) -> bytes | None:
    """``raw`` with ``member`` (ending in a comma) placed first in its top-level object, or None."""
    start = len(raw) - len(raw.lstrip())
    if raw[start:start + 1] != b"{":
        return None  # e.g. a byte-order mark or another encoding: re-serialise instead
    return b"".join((raw[:start + 1], member, memoryview(raw)[start + 1:]))  # one copy of a large body
