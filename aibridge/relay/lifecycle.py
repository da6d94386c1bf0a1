"""One interception's records: built once, announced through the observer hooks."""

from __future__ import annotations

import dataclasses
import os
import time
import uuid
from typing import Callable

from ..plugins import notify
from ..records import (
    InjectedToolCall,
    Interception,
    InterceptionError,
    ModelThought,
    PromptUsage,
    TokenUsage,
    ToolCallResult,
    ToolUsage,
    UpstreamAttempt,
    utcnow,
)


_MAX_ERROR_MESSAGE = 500  # characters: a provider's message can be long; the record keeps one line


class InterceptionLog:
    """Announces the records of one interception; ``end()`` runs exactly once, then ``on_end`` if given.

    ``redact`` takes secrets out of error messages (they may quote the upstream);
    ``client_watch`` (set once the request is sent) stops when the interception ends.
    """

    def __init__(self, pm, interception: Interception, redact: Callable[[str], str] = str, on_end=None,
                 cost_of: Callable | None = None):
        self.pm = pm
        self.cost_of = cost_of  # (interception, usage, message_input) -> nano-dollars or None: the price book's
        self._message_input: dict[str, int] = {}  # input tokens (cache included) of each message so far
        self.interception = interception
        self.redact = redact
        self.client_watch = None
        self.first_msg_id: str | None = None
        self._pending_prompt: str | None = None
        self._ended = False
        self._on_end = on_end
        self.notes: dict = {}  # metadata learnt on the way (attempts, fallback), recorded with the end
        self._refusal: InterceptionError | None = None

    @property
    def id(self) -> str:
        return self.interception.interception_id

    def start(self, prompt: str | None, tool_results=()) -> None:
        """Announce the start and the tool results the request returns; the prompt waits for the first message id."""
        self._pending_prompt = prompt
        notify(self.pm, "on_interception_start", interception=self.interception)
        for returned in tool_results:
            result = ToolCallResult(interception_id=self.id, tool_call_id=returned.tool_call_id,
                                    is_error=returned.is_error, content=returned.content)
            notify(self.pm, "on_tool_result", interception=self.interception, result=result)

    def message(self, msg_id: str) -> None:
        """An upstream message began; the first one tags the prompt record."""
        if self.first_msg_id is None:
            self.first_msg_id = msg_id
            self._announce_prompt()

    def tokens(self, msg_id: str, input=0, output=0, cache_read=0, cache_write=0, metadata=None) -> None:
        usage = TokenUsage(
            interception_id=self.id,
            msg_id=msg_id,
            input_tokens=input,
            output_tokens=output,
            cache_read_input_tokens=cache_read,
            cache_write_input_tokens=cache_write,
            metadata=metadata or {},
        )
        if self.cost_of is not None:
            # Priced with the model that answered (after a fallback, the instance's), from memory only. A long
            # context's rate depends on the whole message's input, which a stream reports in its first record.
            message_input = self._message_input.get(msg_id, 0) + input + cache_read + cache_write
            self._message_input[msg_id] = message_input
            usage = dataclasses.replace(usage, cost_usd_nanos=self.cost_of(self.interception, usage, message_input))
        notify(self.pm, "on_token_usage", interception=self.interception, usage=usage)

    def tool(self, msg_id: str, tool_call_id: str, name: str, input: str, *, server_url=None, injected=False, error=None) -> None:
        record = ToolUsage(
            interception_id=self.id,
            msg_id=msg_id,
            tool_call_id=tool_call_id,
            tool=name,
            input=input,
            server_url=server_url,
            injected=injected,
            invocation_error=error,
        )
        notify(self.pm, "on_tool_usage", interception=self.interception, tool=record)

    def thought(self, content: str, source: str) -> None:
        record = ModelThought(interception_id=self.id, content=content, metadata={"source": source})
        notify(self.pm, "on_model_thought", interception=self.interception, thought=record)

    @property
    def observes_attempts(self) -> bool:
        """Whether a plugin implements ``on_upstream_attempt`` (else attempts are not timed nor announced)."""
        return bool(self.pm.hook.on_upstream_attempt.get_hookimpls())

    def upstream_attempt(self, attempt: int, provider_name: str, host: str, started_at, duration: float,
                         status: int | None = None, error_kind: str | None = None) -> None:
        """One request sent upstream (``duration`` seconds until its answer's head or its error)."""
        record = UpstreamAttempt(interception_id=self.id, attempt=attempt, provider_name=provider_name, host=host,
                                 started_at=started_at, duration_ms=duration * 1000, status=status,
                                 error_kind=error_kind)
        notify(self.pm, "on_upstream_attempt", interception=self.interception, attempt=record)

    def injected_tool_call(self, tool_call_id: str, tool: str, server_url: str | None, started_at, duration: float,
                           error: str | None = None) -> None:
        """The gateway ran an injected tool (``duration`` seconds)."""
        record = InjectedToolCall(interception_id=self.id, tool_call_id=tool_call_id, tool=tool,
                                  server_url=server_url, started_at=started_at, duration_ms=duration * 1000,
                                  error=error)
        notify(self.pm, "on_injected_tool_call", interception=self.interception, call=record)

    def update(self, **fields) -> None:
        """Fields learnt after the start (the instance that answered, its model and key); later records carry them."""
        self.interception = dataclasses.replace(self.interception, **fields)

    def note(self, **metadata) -> None:
        """Metadata the end records (e.g. ``attempts``): gathered on the way, announced once."""
        self.notes.update(metadata)

    def refused(self, error: InterceptionError) -> None:
        """The gateway answered itself (a limit, an open breaker, no usable key): a failed end says so."""
        self._refusal = error

    def end(self, status: str, error: InterceptionError | None = None) -> None:
        """Announce the end (completed, failed or client_disconnected, and why if not completed); later calls do nothing."""
        if self.client_watch is not None:
            self.client_watch.stop()
        if self._ended:
            return
        self._ended = True
        try:
            # A failed request still asked something: keep who asked what.
            self._announce_prompt()
            if status == "failed" and self._refusal is not None:
                error = self._refusal
            if error is not None:
                error = dataclasses.replace(error, message=self.redact(_one_line(error.message)))
            metadata = {**self.interception.metadata, **self.notes} if self.notes else self.interception.metadata
            ended = dataclasses.replace(self.interception, ended_at=utcnow(), status=status, error=error,
                                        metadata=metadata)
        finally:
            if self._on_end is not None:
                self._on_end()  # before the hooks: whoever sees the end may count on its place being free
        notify(self.pm, "on_interception_end", interception=ended)

    def _announce_prompt(self) -> None:
        if self._pending_prompt is None:
            return
        prompt = PromptUsage(interception_id=self.id, msg_id=self.first_msg_id or "", prompt=self._pending_prompt)
        self._pending_prompt = None
        notify(self.pm, "on_prompt_usage", interception=self.interception, prompt=prompt)


def _one_line(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _MAX_ERROR_MESSAGE else text[:_MAX_ERROR_MESSAGE - 1] + "…"


_LOW_62_BITS = (1 << 62) - 1


def new_interception_id() -> str:
    """A UUID version 7 (RFC 9562): 48 bits of Unix time in milliseconds, then 74 random bits.

    Ids made in the same moment sort together, so each new interception and its
    records land at the end of every index keyed by the interception id; with
    random (version 4) ids each one touched a random page of each such index,
    which the recorder then wrote out again (about 17 page writes a request).
    """
    random_bits = int.from_bytes(os.urandom(10), "big")  # 80: 12 before the variant, 62 after (6 unused)
    milliseconds = time.time_ns() // 1_000_000
    value = milliseconds << 80 | 0x7 << 76 | (random_bits >> 68) << 64 | 0b10 << 62 | random_bits & _LOW_62_BITS
    return str(uuid.UUID(int=value))
