"""Injected tools for Chat Completions: ``tool_calls`` out, ``tool`` messages back."""

from __future__ import annotations

import copy
import json

from ..base import Call, StreamRewriter, ToolLoop, Turn
from ..shared import sse_event, sum_usage

DONE = b"data: [DONE]\n\n"


class ChatLoop(ToolLoop):
    @staticmethod
    def wants_tools(api) -> bool:
        # Several choices would each need their own loop.
        n = api.body.get("n")
        return n is None or n == 1

    @staticmethod
    def client_tool_names(body) -> set[str]:
        tools = body.get("tools") if isinstance(body.get("tools"), list) else []
        names = set()
        for tool in tools:
            kind = tool.get("type") if isinstance(tool, dict) else None
            spec = tool.get(kind if isinstance(kind, str) and kind else "function") if isinstance(tool, dict) else None
            if isinstance(spec, dict) and isinstance(spec.get("name"), str):  # {"type": "function", "function": {"name": ...}}, likewise custom
                names.add(spec["name"])
        return names

    def inject(self, body: dict) -> None:
        tools = body.get("tools") if isinstance(body.get("tools"), list) else []
        body["tools"] = tools + [
            {"type": "function", "function": {"name": t.name, "description": t.description, "parameters": t.input_schema}}
            for t in self.tools.values()
        ]

    def blocking_turn(self, answer: dict) -> Turn:
        message = _first_choice(answer).get("message") or {}
        calls = [_blocking_call(c) for c in message.get("tool_calls") or [] if isinstance(c, dict)]
        return Turn(msg_id=answer.get("id") or "", calls=calls, message=_assistant_message(message.get("content"), calls))

    def follow_up(self, body: dict, turn: Turn, results) -> None:
        messages = list(body.get("messages") or []) + [turn.message]
        messages += [{"role": "tool", "tool_call_id": call.id, "content": result.content} for call, result in results]
        body["messages"] = messages

    def merge_blocking(self, answers: list[dict]) -> dict:
        merged = copy.deepcopy(answers[-1])
        merged["id"] = answers[0].get("id", merged.get("id"))
        texts = [(_first_choice(a).get("message") or {}).get("content") for a in answers]
        texts = [t for t in texts if isinstance(t, str) and t]
        choice = _first_choice(merged)
        message = choice.get("message")
        if isinstance(message, dict):
            if texts:
                message["content"] = "".join(texts)
            calls = [c for c in message.get("tool_calls") or [] if not self._injected_call(c)]
            if calls:
                message["tool_calls"] = calls
            else:
                message.pop("tool_calls", None)
        usage: dict = {}
        for answer in answers:
            usage = sum_usage(usage, answer.get("usage") or {})
        if usage:
            merged["usage"] = usage
        return merged

    def stream_rewriter(self) -> "ChatRewriter":
        return ChatRewriter(self)

    def _injected_call(self, call) -> bool:
        return isinstance(call, dict) and (call.get("function") or {}).get("name") in self.tools


class ChatRewriter(StreamRewriter):
    """Every chunk carries the first round's id; injected calls, early finishes and [DONE] stay hidden."""

    def __init__(self, loop: ChatLoop):
        self.loop = loop
        self.client_id: str | None = None
        self.total: dict = {}

    def start_round(self) -> None:
        self.msg_id = ""
        self.content: list[str] = []
        self.calls: dict[int, dict] = {}  # upstream tool call index -> call
        self.client_indexes: dict[int, int] = {}
        self.usage: dict = {}
        self.held: list[dict] = []  # chunks with a finish_reason, the usage-only chunk
        self.complete = False
        self.failed = False

    def event(self, event) -> bytes | None:
        data = event.data
        if not data:
            return event.raw
        if data.strip() == b"[DONE]":
            self.complete = True
            return None
        chunk = json.loads(data)
        if not isinstance(chunk, dict):
            return event.raw
        if "error" in chunk:
            self.failed = True
            return event.raw
        self.msg_id = self.msg_id or chunk.get("id") or ""
        if self.client_id is None:
            self.client_id = self.msg_id
        if isinstance(chunk.get("usage"), dict):
            self.usage = chunk["usage"]
        choices = chunk.get("choices") or []
        changed = False
        for choice in choices:
            changed |= self._take_choice(choice)
        if not choices and isinstance(chunk.get("usage"), dict):
            self.held.append(chunk)  # the usage-only chunk: the total goes out at the very end
            return None
        if any(choice.get("finish_reason") for choice in choices):
            self.complete = True
            self.held.append(chunk)
            return None
        if not any(_has_content(choice) for choice in choices) and changed:
            return None  # it only carried injected calls
        return self._out(event, chunk, changed)

    def _take_choice(self, choice: dict) -> bool:
        """Collect the choice's delta; hide injected calls and renumber the client's. True if changed."""
        delta = choice.get("delta") or {}
        if isinstance(delta.get("content"), str):
            self.content.append(delta["content"])
        deltas = delta.get("tool_calls")
        if not isinstance(deltas, list):
            return False
        kept, changed = [], False
        for part in deltas:
            index = part.get("index") or 0
            call = self.calls.get(index)
            if call is None:
                name = (part.get("function") or {}).get("name") or ""
                call = self.calls[index] = {"id": "", "name": name, "parts": [], "injected": name in self.loop.tools}
                if not call["injected"]:
                    self.client_indexes[index] = len(self.client_indexes)
            if part.get("id"):
                call["id"] = part["id"]
            fragment = (part.get("function") or {}).get("arguments")
            if isinstance(fragment, str):
                call["parts"].append(fragment)
            if call["injected"]:
                changed = True
            elif self.client_indexes[index] != index:
                kept.append(dict(part, index=self.client_indexes[index]))
                changed = True
            else:
                kept.append(part)
        if changed:
            if kept:
                delta["tool_calls"] = kept
            else:
                delta.pop("tool_calls")
        return changed

    def _out(self, event, chunk: dict, changed: bool) -> bytes:
        if changed:
            chunk["id"] = self.client_id
            return sse_event(None, chunk)
        if self.msg_id == self.client_id:
            return event.raw
        # The chunk's own id comes first in OpenAI's compact JSON: swap it without re-serialising.
        raw = event.raw.replace(f'"id":"{self.msg_id}"'.encode(), f'"id":"{self.client_id}"'.encode(), 1)
        if raw == event.raw:
            chunk["id"] = self.client_id
            return sse_event(None, chunk)
        return raw

    def turn(self) -> Turn:
        calls = [
            Call(id=call["id"], name=call["name"], arguments="".join(call["parts"]))
            for _, call in sorted(self.calls.items())
        ]
        return Turn(
            msg_id=self.msg_id,
            calls=calls,
            message=_assistant_message("".join(self.content), calls),
            complete=self.complete,
            failed=self.failed,
        )

    def end_round(self, final: bool) -> bytes:
        self.total = sum_usage(self.total, self.usage)
        if not final or self.failed:
            return b""
        out = []
        for chunk in self.held:
            chunk["id"] = self.client_id
            if isinstance(chunk.get("usage"), dict):
                if not chunk.get("choices") and not self.loop.api.client_wants_usage:
                    continue  # the usage-only chunk the gateway asked for, not the client
                chunk["usage"] = self.total
            out.append(sse_event(None, chunk))
        out.append(DONE)
        return b"".join(out)

    def error_event(self, status: int, message: str) -> bytes:
        return self.loop.api.stream_error_event(status, message)


def _assistant_message(content, calls: list[Call]) -> dict:
    message = {"role": "assistant", "content": content or None}
    if calls:
        message["tool_calls"] = [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}} for c in calls
        ]
    return message


def _blocking_call(call: dict) -> Call:
    """A call of a complete answer; a custom tool's input stands in for arguments (it is always the client's)."""
    if call.get("type") == "custom":
        custom = call.get("custom") or {}
        return Call(id=call.get("id") or "", name=custom.get("name") or "", arguments=custom.get("input") or "")
    function = call.get("function") or {}
    return Call(id=call.get("id") or "", name=function.get("name") or "", arguments=function.get("arguments") or "")


def _first_choice(answer: dict) -> dict:
    choices = answer.get("choices")
    return choices[0] if isinstance(choices, list) and choices and isinstance(choices[0], dict) else {}


def _has_content(choice: dict) -> bool:
    delta = choice.get("delta") or {}
    return any(delta.get(key) not in (None, "", []) for key in delta) or choice.get("finish_reason") is not None
