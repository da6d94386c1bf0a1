"""OpenAI Responses: the prompt, token, tool and thought records of ``POST /v1/responses``."""

from __future__ import annotations

import json

from ...errors import error_message
from ..base import Api, BadRequest, StreamObserver
from ..openai_shared import custom_tool_input, error_object, function_arguments, token_counts
from ..prompts import responses_prompt
from ..tool_results import ReturnedResult, responses_tool_results
from .rewrite import ResponsesLoop

# Events with something to record; every other named event (text and argument
# deltas, part and item additions) is relayed without parsing.
_RECORDED_EVENTS = {
    b"response.created",
    b"response.in_progress",
    b"response.output_item.done",
    b"response.completed",
    b"response.incomplete",
    b"response.failed",
    b"error",
}
# Large events whose only use is the response id, when it is still unknown.
_ID_EVENTS = {b"response.created", b"response.in_progress"}


class Responses(Api):
    name = "responses"
    tool_loop = ResponsesLoop
    fields = (*Api.fields, "background", "store")
    conversation = "input"

    def __init__(self, raw: bytes):
        super().__init__(raw)
        self._stream: ResponsesStream | None = None

    def check_supported(self) -> None:
        if self.body.get("background") is True:
            raise BadRequest(
                "background responses are not supported through the AI Bridge: "
                'send the request without "background": true',
                status=501,
            )

    def prompt(self) -> str | None:
        return responses_prompt(self.body.get("input"))

    def tool_results(self) -> list[ReturnedResult]:
        return responses_tool_results(self.body.get("input"))

    def stream_observer(self, log) -> "ResponsesStream":
        self._stream = ResponsesStream(log)
        return self._stream

    def record_blocking(self, log, content: bytes) -> None:
        response = json.loads(content)
        msg_id = response.get("id") or ""
        log.message(msg_id)
        for item in response.get("output") or []:
            record_item(log, msg_id, item)
        usage = response.get("usage")
        if isinstance(usage, dict):
            log.tokens(msg_id, **token_counts(usage, "input_tokens", "output_tokens"))

    def stream_error_event(self, status: int, message: str) -> bytes:
        error = error_object(status, message)
        event = {"type": "error", "code": error["type"], "message": message, "param": None}
        sequence = self._stream.next_sequence_number() if self._stream else None
        if sequence is not None:
            event["sequence_number"] = sequence
        return f"event: error\ndata: {json.dumps(event)}\n\n".encode()


class ResponsesStream(StreamObserver):
    """Reads the Responses event stream: id from response.created, items as they are done, usage at the end."""

    def __init__(self, log):
        self.log = log
        self.msg_id: str | None = None
        self.usage_recorded = False
        self.last_event = None

    def event(self, event) -> bytes | None:
        self.last_event = event
        raw = event.raw
        name = _event_name(raw)
        if name is not None and (name not in _RECORDED_EVENTS or (name in _ID_EVENTS and self.msg_id is not None)):
            return raw
        data = json.loads(event.data) if event.data.strip() else None
        if not isinstance(data, dict):
            return raw
        kind = data.get("type") or (name or b"").decode()
        if kind == "response.output_item.done":
            if isinstance(data.get("item"), dict):
                record_item(self.log, self.msg_id or "", data["item"])
        elif kind.startswith("response."):
            self._take_response(kind, data.get("response"))
        elif kind == "error":
            self.failure = error_message(data)
        return raw

    def _take_response(self, kind: str, response) -> None:
        if not isinstance(response, dict):
            return
        if self.msg_id is None and response.get("id"):
            self.msg_id = response["id"]
            self.log.message(self.msg_id)
        if kind in ("response.completed", "response.incomplete", "response.failed"):
            if kind == "response.failed" and self.failure is None:
                self.failure = error_message(response)
            usage = response.get("usage")
            if isinstance(usage, dict) and not self.usage_recorded:
                self.usage_recorded = True
                self.log.tokens(self.msg_id or "", **token_counts(usage, "input_tokens", "output_tokens"))

    def next_sequence_number(self) -> int | None:
        """The sequence number an event after the last relayed one would carry."""
        if self.last_event is None:
            return None
        try:
            data = json.loads(self.last_event.data)
        except ValueError:
            return None
        sequence = data.get("sequence_number") if isinstance(data, dict) else None
        return sequence + 1 if isinstance(sequence, int) else None


def record_item(log, msg_id: str, item: dict) -> None:
    """Announce the tool call or thought an output item holds."""
    kind = item.get("type")
    if kind == "function_call":
        log.tool(msg_id, item.get("call_id") or "", item.get("name") or "", function_arguments(item.get("arguments")))
    elif kind == "custom_tool_call":
        log.tool(msg_id, item.get("call_id") or "", item.get("name") or "", custom_tool_input(item.get("input")))
    elif kind == "reasoning":
        for part in item.get("summary") or []:
            text = part.get("text") if isinstance(part, dict) else None
            if text:
                log.thought(text, "reasoning_summary")
    elif kind == "message" and item.get("phase") == "commentary":
        parts = [p for p in item.get("content") or [] if isinstance(p, dict) and p.get("type") == "output_text"]
        text = "\n".join(p["text"] for p in parts if isinstance(p.get("text"), str))
        if text:
            log.thought(text, "commentary")


def _event_name(raw: bytes) -> bytes | None:
    """The ``event:`` field when it is the event's first line (as OpenAI sends it), else None."""
    if not raw.startswith(b"event:"):
        return None
    end = raw.find(b"\n")
    return raw[6:end if end >= 0 else len(raw)].strip()
