"""What each intercepted API (Messages, Chat Completions, Responses) supplies.

Two sides, kept side by side in each API's package: observing (``observe.py``:
the records of a request and its answer, read from a copy) and rewriting
(``rewrite.py``: the injected-tool loop's request bodies and the one answer the
client gets from several rounds).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..records import Tool, ToolResult
from .request_body import BadRequest, RequestBody
from .tool_results import ReturnedResult

if TYPE_CHECKING:  # the relay hands events in; the APIs never import it
    from ..relay.sse import Event

log = logging.getLogger("aibridge.relay")


class StreamObserver:
    """Reads a copy of each upstream SSE event and returns the bytes the client gets."""

    failure: str | None = None  # once the stream carried an error event: its message ("" when it had none)

    def event(self, event: Event) -> bytes | None:
        return event.raw

    def closing_bytes(self) -> bytes:
        """What the client still needs after upstream's last event (e.g. Chat's [DONE] after an error)."""
        return b""

    def finish(self) -> None:
        """The stream ended (completely or not): announce what is still pending."""


def observe_event(observer: StreamObserver, event: "Event", interception_id: str) -> bytes | None:
    """The observer's bytes for ``event``; if it fails, the failure is logged and the event goes out as sent.

    Recording never breaks the relay.
    """
    try:
        return observer.event(event)
    except Exception:
        log.exception("could not read an event of interception %s", interception_id)
        return event.raw


class Api:
    """One intercepted API. Subclasses parse a copy of the traffic; the relay stays generic."""

    name = ""
    error_shape = "openai"
    tool_loop: type["ToolLoop"] | None = None  # how the API takes part in the injected-tool loop
    # The top-level members of a request body this API reads (the rest is skipped, see
    # request_body.py): metadata holds Claude Code's session id, tools the client's own.
    fields: tuple[str, ...] = ("model", "stream", "metadata", "tools")
    conversation = "messages"  # the member holding the turns, read from the end

    def __init__(self, raw: bytes):
        self.raw = raw
        self.body = RequestBody(raw, self.fields, self.conversation)
        model = self.body.get("model")
        if not isinstance(model, str) or not model:
            raise BadRequest("model: field required")
        self.model = model
        self.streaming = self.body.get("stream") is True

    def check_supported(self) -> None:
        """Raise BadRequest for requests the gateway cannot serve (e.g. 501 for an unsupported mode)."""

    def prompt(self) -> str | None:
        """What the person typed in the request's last turn, per the recording rules (apis/prompts.py).

        Raises BadRequest when that turn is not valid JSON after all (invalid UTF-8), as tool_results does.
        """
        return None

    def tool_results(self) -> list[ReturnedResult]:
        """The results of client-run tools the request's last turn returns (apis/tool_results.py)."""
        return []

    def upstream_body(self) -> bytes:
        """The bytes sent upstream: the client's own, unless the API must change them."""
        return self.raw

    def release_body(self) -> None:
        """Let go of the client's body once it went upstream and no later round is built from it.

        An answer can take minutes, and a coding agent's body is hundreds of KiB:
        held until the end, it would make each open stream cost what its request weighed.
        """
        self.raw = b""
        self.body = None

    def stream_observer(self, log) -> StreamObserver:
        return StreamObserver()

    def record_blocking(self, log, content: bytes) -> None:
        """Announce the records of a complete (non-streaming) upstream answer."""

    def stream_error_event(self, status: int, message: str) -> bytes:
        """An SSE event in this API's own form, for a failure after bytes were relayed."""
        raise NotImplementedError


@dataclass
class Call:
    """A tool call the model made: ``arguments`` is the JSON text it produced."""

    id: str
    name: str
    arguments: str


@dataclass
class Turn:
    """One upstream answer as the tool loop needs it."""

    msg_id: str
    calls: list[Call]
    message: object  # the assistant turn in the API's own form, for the follow-up request
    complete: bool = True  # the answer arrived whole (a stream reached its end event)
    failed: bool = False  # the answer carried an error


class ToolLoop:
    """One API's side of the injected-tool loop: the request body on the way up, the answers on the way down."""

    def __init__(self, api: Api, tools: list[Tool]):
        self.api = api
        self.tools = {tool.name: tool for tool in tools}

    @staticmethod
    def wants_tools(api: Api) -> bool:
        """Whether this request may get injected tools at all."""
        return True

    @staticmethod
    def client_tool_names(body: RequestBody) -> set[str]:
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

    def event(self, event: Event) -> bytes | None:
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
