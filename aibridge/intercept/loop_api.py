"""What each API supplies to the injected-tool loop, and the pieces the API adapters share."""

from __future__ import annotations

import json
from dataclasses import dataclass

from ..records import Tool, ToolResult


@dataclass
class Call:
    """A tool call the model made: ``arguments`` is the JSON text it produced."""

    id: str
    name: str
    arguments: str


@dataclass
class Turn:
    """One upstream answer as the loop needs it."""

    msg_id: str
    calls: list[Call]
    message: object  # the assistant turn in the API's own form, for the follow-up request
    complete: bool = True  # the answer arrived whole (a stream reached its end event)
    failed: bool = False  # the answer carried an error


class ToolLoop:
    """One API's side of the loop: the request body on the way up, the answers on the way down."""

    def __init__(self, api, tools: list[Tool]):
        self.api = api
        self.tools = {tool.name: tool for tool in tools}

    @staticmethod
    def wants_tools(api) -> bool:
        """Whether this request may get injected tools at all."""
        return True

    @staticmethod
    def client_tool_names(body: dict) -> set[str]:
        """Names of the client's own tools (``tools[].name``, as Messages and Responses put them)."""
        tools = body.get("tools")
        if not isinstance(tools, list):
            return set()
        return {t["name"] for t in tools if isinstance(t, dict) and isinstance(t.get("name"), str)}

    def inject(self, body: dict) -> None:
        """Add the injected tools after the client's own."""
        raise NotImplementedError

    def blocking_turn(self, answer: dict) -> Turn:
        raise NotImplementedError

    def follow_up(self, body: dict, turn: Turn, results: list[tuple[Call, ToolResult]]) -> None:
        """Append the assistant turn and the tool results to the request body."""
        raise NotImplementedError

    def merge_blocking(self, answers: list[dict]) -> dict:
        """The one answer the client gets for a loop of blocking rounds."""
        raise NotImplementedError

    def stream_rewriter(self) -> "StreamRewriter":
        raise NotImplementedError


class StreamRewriter:
    """Turns the event streams of every round into the one stream the client reads."""

    def start_round(self) -> None:
        """A new upstream answer begins."""

    def event(self, event) -> bytes | None:
        """The bytes the client gets for this upstream event (None: nothing)."""
        raise NotImplementedError

    def turn(self) -> Turn:
        """The round's answer, once its stream ended."""
        raise NotImplementedError

    def end_round(self, final: bool) -> bytes:
        """Bytes held back until the loop knew whether this round is the last (its closing events)."""
        raise NotImplementedError

    def error_event(self, status: int, message: str) -> bytes:
        """A failure after bytes were relayed, as an event of this API."""
        raise NotImplementedError


def sum_usage(total: dict, usage: dict) -> dict:
    """Usage objects added up: counts summed (also nested), other values from the newer one."""
    merged = dict(total)
    for key, value in usage.items():
        old = merged.get(key)
        if isinstance(value, bool) or value is None:
            merged[key] = value if value is not None else old
        elif isinstance(value, int) and isinstance(old, int) and not isinstance(old, bool):
            merged[key] = old + value
        elif isinstance(value, dict) and isinstance(old, dict):
            merged[key] = sum_usage(old, value)
        else:
            merged[key] = value
    return merged


def sse_event(name: str | None, data: dict) -> bytes:
    """One SSE event with compact JSON data."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return (f"event: {name}\ndata: {text}\n\n" if name else f"data: {text}\n\n").encode()
