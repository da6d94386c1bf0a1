"""Injected tools for Responses: ``function_call`` items out, ``function_call_output`` items back.

Each follow-up request carries the whole exchange in ``input`` (the client's
input, the round's output items, the tool outputs), so it works the same with
``store`` true or false. The client gets the id of a response whose stored
state holds the whole exchange whenever it can (blocking: the final one;
streaming: see :class:`ResponsesRewriter`), so ``previous_response_id``
continues from there.
"""

from __future__ import annotations

import copy
import json

from ..base import Call, StreamRewriter, ToolLoop, Turn
from ..openai_shared import error_object
from ..shared import sse_event, sum_usage

_START_EVENTS = ("response.created", "response.in_progress", "response.queued")
_END_EVENTS = ("response.completed", "response.incomplete")


class ResponsesLoop(ToolLoop):
    def inject(self, body: dict) -> None:
        tools = body.get("tools") if isinstance(body.get("tools"), list) else []
        body["tools"] = tools + [
            {"type": "function", "name": t.name, "description": t.description, "parameters": t.input_schema, "strict": False}
            for t in self.tools.values()
        ]

    def blocking_turn(self, answer: dict) -> Turn:
        items = [item for item in answer.get("output") or [] if isinstance(item, dict)]
        return Turn(msg_id=answer.get("id") or "", calls=_calls(items), message=items,
                    complete=answer.get("status", "completed") == "completed")

    def follow_up(self, body: dict, turn: Turn, results) -> None:
        outputs = [{"type": "function_call_output", "call_id": call.id, "output": result.content} for call, result in results]
        body["input"] = _input_items(body.get("input")) + list(turn.message) + outputs

    def merge_blocking(self, answers: list[dict]) -> dict:
        merged = copy.deepcopy(answers[-1])
        merged["output"] = [item for answer in answers for item in answer.get("output") or [] if self.visible(item)]
        usage: dict = {}
        for answer in answers:
            usage = sum_usage(usage, answer.get("usage") or {})
        if usage:
            merged["usage"] = usage
        return self.without_injected_tools(merged)

    def stream_rewriter(self) -> "ResponsesRewriter":
        return ResponsesRewriter(self)

    def visible(self, item) -> bool:
        return not (isinstance(item, dict) and item.get("type") == "function_call" and item.get("name") in self.tools)

    def without_injected_tools(self, response: dict) -> dict:
        """The response object as the client's request described it (the injected tools left out)."""
        tools = response.get("tools")
        if isinstance(tools, list):
            response["tools"] = [t for t in tools if not (isinstance(t, dict) and t.get("type") == "function" and t.get("name") in self.tools)]
        return response


class ResponsesRewriter(StreamRewriter):
    """One lifecycle (created ... completed) with one id, items of every round renumbered, sequence numbers continuous.

    With ``store`` (the default) the lifecycle events wait until the first
    visible item other than reasoning: a round that only calls injected tools
    never shows its id, so the client usually gets the id of the stored
    response holding the whole exchange. Without ``store`` they go out at once.
    """

    def __init__(self, loop: ResponsesLoop):
        self.loop = loop
        self.defer = loop.api.body.get("store") is not False
        self.sequence = 0
        self.next_output = 0
        self.visible_items: list[dict] = []
        self.total: dict = {}
        self.committed_id: str | None = None
        self.lifecycle: list[tuple[str, dict]] = []  # start events waiting for the commit
        self.pending: list[tuple[str, dict]] = []  # visible events waiting for the commit
        self.rounds = 0
        self.committed_round = 0

    def start_round(self) -> None:
        self.rounds += 1
        self.msg_id = ""
        self.outputs: dict[int, int | None] = {}  # upstream output_index -> client output_index (None: hidden)
        self.items: dict[int, dict] = {}
        self.usage: dict = {}
        self.held: tuple[str, dict] | None = None
        self.status = ""
        self.failed = False
        self.new_lifecycle = True

    def event(self, event) -> bytes | None:
        data = json.loads(event.data) if event.data.strip() else None
        if not isinstance(data, dict):
            return event.raw
        kind = data.get("type") or event.name
        response = data.get("response") if isinstance(data.get("response"), dict) else None
        if kind in _START_EVENTS:
            return self._start_event(event.name, data, response or {})
        if kind in _END_EVENTS:
            self.status = (response or {}).get("status") or kind.removeprefix("response.")
            self.usage = (response or {}).get("usage") or {}
            self.held = (event.name, data)
            return None
        if kind in ("response.failed", "error"):
            self.failed = True
            if response is not None:
                data["response"] = self._as_committed(response)
            return self._commit() + self._emit(event.name, data)
        if kind == "response.output_item.added":
            self._place(data)
        elif kind == "response.output_item.done" and isinstance(data.get("item"), dict):
            self.items[data.get("output_index", len(self.items))] = data["item"]
        index = data.get("output_index")
        if isinstance(index, int):
            if index not in self.outputs:
                self._place(data)
            if self.outputs[index] is None:
                return None
            if kind == "response.output_item.done":
                self.visible_items.append(data["item"])
            data["output_index"] = self.outputs[index]
        if self.committed_id is not None:
            return self._emit(event.name, data)
        self.pending.append((event.name, data))
        item = data.get("item") if kind == "response.output_item.added" else None
        if isinstance(item, dict) and item.get("type") != "reasoning":
            return self._commit()
        return None

    def _start_event(self, name: str, data: dict, response: dict) -> bytes | None:
        self.msg_id = self.msg_id or response.get("id", "")
        if self.committed_id is not None:
            if self.committed_round != self.rounds:
                return None  # the client already has its lifecycle
            data["response"] = self._as_committed(response)
            return self._emit(name, data)
        if self.new_lifecycle:  # a later round's start replaces the earlier one's
            self.lifecycle, self.new_lifecycle = [], False
        data["response"] = self.loop.without_injected_tools(response)
        self.lifecycle.append((name, data))
        return None if self.defer else self._commit()

    def _commit(self) -> bytes:
        """Send the waiting start events and items; from now on the client's response id is fixed."""
        if self.committed_id is not None:
            return b""
        self.committed_round = self.rounds
        self.committed_id = self.msg_id
        if self.lifecycle:
            self.committed_id = self.lifecycle[0][1]["response"].get("id", self.msg_id)
        waiting, self.lifecycle, self.pending = self.lifecycle + self.pending, [], []
        return b"".join(self._emit(name, data) for name, data in waiting)

    def _as_committed(self, response: dict) -> dict:
        response = dict(self.loop.without_injected_tools(dict(response)))
        if self.committed_id:
            response["id"] = self.committed_id
        return response

    def _place(self, data: dict) -> None:
        index = data.get("output_index", 0)
        if self.loop.visible(data.get("item")):
            self.outputs[index] = self.next_output
            self.next_output += 1
        else:
            self.outputs[index] = None

    def _emit(self, name: str, data: dict) -> bytes:
        if "sequence_number" in data:
            data["sequence_number"] = self.sequence
            self.sequence += 1
        return sse_event(name or None, data)

    def turn(self) -> Turn:
        items = [self.items[i] for i in sorted(self.items)]
        return Turn(msg_id=self.msg_id, calls=_calls(items), message=items,
                    complete=self.status == "completed", failed=self.failed)

    def end_round(self, final: bool) -> bytes:
        self.total = sum_usage(self.total, self.usage)
        if not final or self.failed or self.held is None:
            return b""
        committed = self._commit()
        name, data = self.held
        response = dict(data.get("response") or {})
        response["output"] = list(self.visible_items)
        if self.total:
            response["usage"] = self.total
        return committed + self._emit(name, dict(data, response=self._as_committed(response)))

    def error_event(self, status: int, message: str) -> bytes:
        event = {"type": "error", "code": error_object(status, message)["type"], "message": message, "param": None,
                 "sequence_number": 0}
        return self._commit() + self._emit("error", event)


def _calls(items: list[dict]) -> list[Call]:
    """Every tool call of a round's output; custom tools are always the client's, so they only end the loop."""
    return [
        Call(id=item.get("call_id") or "", name=item.get("name") or "",
             arguments=(item.get("arguments") or "") if item["type"] == "function_call" else "")
        for item in items
        if item.get("type") in ("function_call", "custom_tool_call")
    ]


def _input_items(value) -> list:
    """The request's ``input`` as a list of items (a string is one user message)."""
    if isinstance(value, str):
        return [{"type": "message", "role": "user", "content": value}]
    return list(value) if isinstance(value, list) else []
