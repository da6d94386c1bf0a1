"""The records the gateway announces through its observer hooks.

Field names follow the documented AI Bridge records (docs/recording.md). Every
record is a frozen dataclass; ``as_dict()`` gives a JSON-ready dict and
``record_type`` the structured-log name.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass, field
from typing import Any


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


class _Record:
    record_type: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {f.name: _jsonable(getattr(self, f.name)) for f in dataclasses.fields(self)}


@dataclass(frozen=True)
class Actor:
    """The authenticated person behind a request."""

    id: str
    username: str
    role: str = "member"  # "owner" sees every interception in the audit API
    email: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)
    token_id: str | None = None  # the gateway token it signed in with; None when a plugin authenticated it

    @property
    def is_owner(self) -> bool:
        return self.role == "owner"


@dataclass(frozen=True)
class InterceptionError(_Record):
    """Why an interception did not complete: one of ERROR_KINDS, a one-line message, the upstream's status if any.

    The message never holds keys or tokens.
    """

    kind: str
    message: str
    upstream_status: int | None = None


# What ``InterceptionError.kind`` says (docs/recording.md explains each).
ERROR_KINDS = (
    "upstream_unreachable",  # no connection to the provider (refused, DNS, TLS)
    "upstream_timeout",  # the provider did not answer, or stopped sending, within the timeout
    "upstream_status",  # the provider answered an HTTP error (upstream_status says which)
    "stream_error",  # the answer broke off or carried an error event after bytes were relayed
    "client_disconnected",  # the client left before the answer was complete
    "gateway_shutdown",  # the gateway stopped and cut the answer
    "interrupted",  # the gateway process died; found and ended at a later start
    "internal",  # a fault in the gateway itself (see its log)
    "rate_limited",  # refused by --aibridge-rate-limit (429)
    "concurrency_limited",  # refused by --aibridge-max-concurrency (503)
    "circuit_open",  # refused: the circuit breaker of the instance, endpoint and model is open (503)
    "key_pool_exhausted",  # refused: every key of the instance is cooling down (429) or was refused (502)
    "budget",  # refused: the person's monthly budget is spent (403; the budgets plugin)
)


@dataclass(frozen=True)
class Interception(_Record):
    """One intercepted request; passed to every observer hook.

    ``ended_at``, ``status`` and ``error`` are set only on the value given to
    ``on_interception_end``. status: completed, failed, client_disconnected or
    interrupted; ``error`` (an InterceptionError) says why when not completed.
    ``credential_kind`` is ``centralized`` (a key of the gateway's) or ``byok``
    (the client's own); ``credential_hint`` is that key masked (at most its
    first and last 4 characters). When a key fails over or the instance falls
    back, later records carry the key and instance that answered.
    """

    record_type = "interception_start"

    interception_id: str
    initiator_id: str
    initiator_username: str
    provider: str  # provider type: openai, anthropic, copilot
    provider_name: str  # instance name, as in the route
    model: str
    client: str
    client_session_id: str | None
    user_agent: str
    started_at: dt.datetime
    metadata: dict[str, Any] = field(default_factory=dict)
    api: str = ""  # messages, chat_completions or responses
    streaming: bool = False
    ended_at: dt.datetime | None = None
    status: str | None = None
    error: InterceptionError | None = None
    credential_kind: str = ""
    credential_hint: str = ""


@dataclass(frozen=True)
class InterceptionEnd(_Record):
    """The structured-log shape of an interception's end: how it ended, why if not completed, how long it took."""

    record_type = "interception_end"

    interception_id: str
    ended_at: dt.datetime
    status: str | None = None
    error: InterceptionError | None = None
    duration_ms: int | None = None

    @classmethod
    def of(cls, interception: Interception) -> InterceptionEnd:
        """The end of an interception as ``on_interception_end`` receives it."""
        ended = interception.ended_at
        duration = None if ended is None else max(0, round((ended - interception.started_at).total_seconds() * 1000))
        return cls(interception.interception_id, ended, interception.status, interception.error, duration)


@dataclass(frozen=True)
class TokenUsage(_Record):
    """Tokens of one upstream message; the records of an interception sum to the bill.

    ``cost_usd_nanos`` is what they cost in nano-dollars (1e-9 USD) at the model's
    price (docs/cost.md); None when the model has no price ("unpriced", never 0).
    """

    record_type = "token_usage"

    interception_id: str
    msg_id: str
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_input_tokens: int = 0
    cache_write_input_tokens: int = 0
    metadata: dict[str, Any] = field(default_factory=dict)
    created_at: dt.datetime = field(default_factory=utcnow)
    cost_usd_nanos: int | None = None


@dataclass(frozen=True)
class PromptUsage(_Record):
    """The last user prompt of an interception."""

    record_type = "prompt_usage"

    interception_id: str
    msg_id: str
    prompt: str
    created_at: dt.datetime = field(default_factory=utcnow)


@dataclass(frozen=True)
class ToolUsage(_Record):
    """A tool call the model made; ``input`` is JSON text."""

    record_type = "tool_usage"

    interception_id: str
    msg_id: str
    tool_call_id: str
    tool: str
    input: str
    server_url: str | None = None
    injected: bool = False
    invocation_error: str | None = None
    created_at: dt.datetime = field(default_factory=utcnow)


@dataclass(frozen=True)
class ToolCallResult(_Record):
    """The result of a client-run tool call that a request returns to the model.

    ``tool_call_id`` links it to the earlier ``ToolUsage``; ``is_error`` is the
    client's error flag (only Anthropic's API has one); ``content`` is text,
    cut at 32 KiB with the cut marked (docs/recording.md).
    """

    record_type = "tool_result"

    interception_id: str
    tool_call_id: str
    is_error: bool
    content: str
    created_at: dt.datetime = field(default_factory=utcnow)


@dataclass(frozen=True)
class ModelThought(_Record):
    """Model reasoning; ``metadata["source"]`` is thinking, reasoning_summary or commentary."""

    record_type = "model_thought"

    interception_id: str
    content: str
    metadata: dict[str, Any] = field(default_factory=dict)
    created_at: dt.datetime = field(default_factory=utcnow)


@dataclass(frozen=True)
class UpstreamAttempt(_Record):
    """One request the gateway sent upstream for an interception; each retry, key failover and tool-loop round is one.

    ``duration_ms`` runs until the answer's head arrived (or the attempt
    failed); ``status`` is the answer's HTTP status, None when none came;
    ``error_kind`` says why none came: unreachable, timeout, broken, or
    cancelled (the request was cut while it waited: client gone, shutdown).
    """

    record_type = "upstream_attempt"

    interception_id: str
    attempt: int  # 1, 2, ... across the whole interception
    provider_name: str  # the instance sent to (a fallback's after a fallback)
    host: str  # the upstream's host, never a URL
    started_at: dt.datetime
    duration_ms: float
    status: int | None = None
    error_kind: str | None = None


@dataclass(frozen=True)
class InjectedToolCall(_Record):
    """The gateway ran an injected tool (``aibridge_call_tool``) for the model: which one, how long, its error if any."""

    record_type = "injected_tool_call"

    interception_id: str
    tool_call_id: str
    tool: str
    server_url: str | None
    started_at: dt.datetime
    duration_ms: float
    error: str | None = None  # the tool's error; "cancelled" when the request was cut while it ran


@dataclass(frozen=True)
class Tool:
    """A tool a plugin injects into requests (``aibridge_tools``)."""

    name: str  # as the model sees it, e.g. bmcp_docs_search
    description: str
    input_schema: dict[str, Any]
    server_url: str | None = None


@dataclass(frozen=True)
class ToolResult:
    """The outcome of ``aibridge_call_tool``: text content, and an error message if it failed."""

    content: str
    error: str | None = None
