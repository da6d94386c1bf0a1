"""Injected tools for Anthropic Messages: tool_use blocks out, tool_result blocks back."""

from __future__ import annotations

import copy
import json

from ..base import Call, StreamRewriter, ToolLoop, Turn
from ..shared import compact_json, compact_json_text, sse_event, sum_usage

# The counts a final message_delta reports for the whole answer.
_TOTAL_KEYS = ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens", "output_tokens")


class MessagesLoop(ToolLoop):
    @staticmethod
    def wants_tools(api) -> bool:
        # Small fast models serve Claude Code's quick side requests: they get no tools.
        return not (api.streaming and "haiku" in str(api.body.get("model", "")).lower())

    def inject(self, body: dict) -> None:
        tools = body.get("tools") if isinstance(body.get("tools"), list) else []
        body["tools"] = tools + [
            {"name": t.name, "description": t.description, "input_schema": t.input_schema} for t in self.tools.values()
        ]

    def blocking_turn(self, answer: dict) -> Turn:
        content = answer.get("content") if isinstance(answer.get("content"), list) else []
        return Turn(
            msg_id=answer.get("id") or "",
            calls=_calls(content),
            message={"role": "assistant", "content": _sendable(content)},
        )

    def follow_up(self, body: dict, turn: Turn, results) -> None:
        tool_results = []
        for call, result in results:
            block = {"type": "tool_result", "tool_use_id": call.id}
            if result.content:
                block["content"] = result.content
            if result.error:
                block["is_error"] = True
            tool_results.append(block)
        body["messages"] = list(body.get("messages") or []) + [turn.message, {"role": "user", "content": tool_results}]

    def merge_blocking(self, answers: list[dict]) -> dict:
        merged = dict(answers[-1])
        merged["id"] = answers[0].get("id", merged.get("id"))
        merged["content"] = [block for answer in answers for block in answer.get("content") or [] if self._visible(block)]
        usage: dict = {}
        for answer in answers:
            usage = sum_usage(usage, answer.get("usage") or {})
        merged["usage"] = usage
        return merged

    def stream_rewriter(self) -> "MessagesRewriter":
        return MessagesRewriter(self)

    def _visible(self, block) -> bool:
        return not (isinstance(block, dict) and block.get("type") == "tool_use" and block.get("name") in self.tools)


class MessagesRewriter(StreamRewriter):
    """One message_start, every round's visible blocks renumbered, one closing message_delta / message_stop."""

    def __init__(self, loop: MessagesLoop):
        self.loop = loop
        self.started = False
        self.next_index = 0  # the client's next content block index
        self.total: dict = {}

    def start_round(self) -> None:
        self.msg_id = ""
        self.indexes: dict[int, int | None] = {}  # upstream index -> client index (None: hidden)
        self.blocks: dict[int, dict] = {}
        self.partial_json: dict[int, list[str]] = {}
        self.usage: dict = {}
        self.held: list[tuple[str, dict]] = []
        self.complete = False
        self.failed = False

    def event(self, event) -> bytes | None:
        data = json.loads(event.data) if event.data.strip() else {}
        kind = data.get("type", event.name) if isinstance(data, dict) else event.name
        if kind == "message_start":
            message = data.get("message") or {}
            self.msg_id = message.get("id", "")
            self.usage = dict(message.get("usage") or {})
            if self.started:
                return None
            self.started = True
            return event.raw
        if kind == "content_block_start":
            return self._block_start(event, data)
        if kind in ("content_block_delta", "content_block_stop"):
            return self._block_event(event, data, kind)
        if kind == "message_delta":
            self.usage.update(data.get("usage") or {})
            self.held.append((event.name or kind, data))
            return None
        if kind == "message_stop":
            self.complete = True
            self.held.append((event.name or kind, data))
            return None
        if kind == "error":
            self.failed = True
        return event.raw

    def _block_start(self, event, data: dict) -> bytes | None:
        index = data.get("index", 0)
        block = copy.deepcopy(data.get("content_block") or {})
        self.blocks[index] = block
        if block.get("type") == "tool_use" and block.get("name") in self.loop.tools:
            self.indexes[index] = None
            return None
        self.indexes[index] = self.next_index
        self.next_index += 1
        return self._renumbered(event, data, index)

    def _block_event(self, event, data: dict, kind: str) -> bytes | None:
        index = data.get("index", 0)
        if kind == "content_block_delta":
            self._apply_delta(index, data.get("delta") or {})
        else:
            self._close_block(index)
        if self.indexes.get(index, index) is None:
            return None
        return self._renumbered(event, data, index)

    def _renumbered(self, event, data: dict, index: int) -> bytes:
        client_index = self.indexes.get(index, index)
        if client_index == index:
            return event.raw
        return sse_event(event.name, dict(data, index=client_index))

    def _apply_delta(self, index: int, delta: dict) -> None:
        block = self.blocks.setdefault(index, {})
        kind = delta.get("type")
        if kind == "text_delta":
            block["text"] = block.get("text", "") + delta.get("text", "")
        elif kind == "input_json_delta":
            self.partial_json.setdefault(index, []).append(delta.get("partial_json", ""))
        elif kind == "thinking_delta":
            block["thinking"] = block.get("thinking", "") + delta.get("thinking", "")
        elif kind == "signature_delta":
            block["signature"] = delta.get("signature", "")
        elif kind == "citations_delta":
            block.setdefault("citations", []).append(delta.get("citation"))

    def _close_block(self, index: int) -> None:
        parts = self.partial_json.pop(index, None)
        block = self.blocks.get(index)
        if parts is None or block is None:
            return
        text = "".join(parts)
        try:
            block["input"] = json.loads(text) if text.strip() else block.get("input", {})
        except ValueError:
            block["input"] = {}
            block["_unparsed_input"] = text

    def turn(self) -> Turn:
        for index in list(self.partial_json):
            self._close_block(index)
        content = [self.blocks[i] for i in sorted(self.blocks)]
        calls = _calls(content)
        for block in content:
            block.pop("_unparsed_input", None)
        return Turn(
            msg_id=self.msg_id,
            calls=calls,
            message={"role": "assistant", "content": _sendable(content)},
            complete=self.complete,
            failed=self.failed,
        )

    def end_round(self, final: bool) -> bytes:
        self.total = sum_usage(self.total, self.usage)
        if not final or self.failed:
            return b""
        out = []
        for name, data in self.held:
            if data.get("type") == "message_delta":
                usage = dict(data.get("usage") or {})
                usage.update({key: self.total[key] for key in _TOTAL_KEYS if key in self.total})
                data = dict(data, usage=usage)
            out.append(sse_event(name, data))
        return b"".join(out)

    def error_event(self, status: int, message: str) -> bytes:
        return self.loop.api.stream_error_event(status, message)


def _calls(content: list) -> list[Call]:
    calls = []
    for block in content:
        if isinstance(block, dict) and block.get("type") == "tool_use":
            unparsed = block.get("_unparsed_input")
            arguments = compact_json_text(unparsed) if unparsed is not None else compact_json(block.get("input", {}))
            calls.append(Call(id=block.get("id", ""), name=block.get("name", ""), arguments=arguments))
    return calls


def _sendable(content: list) -> list:
    """The assistant's blocks as a request may carry them (the API refuses empty text blocks)."""
    return [b for b in content if not (isinstance(b, dict) and b.get("type") == "text" and not b.get("text"))]
