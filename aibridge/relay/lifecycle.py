"""One interception's records: built once, announced through the observer hooks."""

from __future__ import annotations

import dataclasses
import uuid

from ..plugins import notify
from ..records import Interception, InterceptionError, ModelThought, PromptUsage, TokenUsage, ToolUsage, utcnow


class InterceptionLog:
    """Announces the records of one interception; ``end()`` runs exactly once, then ``on_end`` if given."""

    def __init__(self, pm, interception: Interception, on_end=None):
        self.pm = pm
        self.interception = interception
        self.first_msg_id: str | None = None
        self._pending_prompt: str | None = None
        self._ended = False
        self._on_end = on_end
        self.notes: dict = {}  # metadata learnt on the way (attempts, fallback), recorded with the end
        self._refusal: InterceptionError | None = None

    @property
    def id(self) -> str:
        return self.interception.interception_id

    def start(self, prompt: str | None) -> None:
        """Announce the start; the prompt waits for the first upstream message id."""
        self._pending_prompt = prompt
        notify(self.pm, "on_interception_start", interception=self.interception)

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
        if self._ended:
            return
        self._ended = True
        try:
            # A failed request still asked something: keep who asked what.
            self._announce_prompt()
            if status == "failed" and self._refusal is not None:
                error = self._refusal
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


def new_interception_id() -> str:
    return str(uuid.uuid4())
