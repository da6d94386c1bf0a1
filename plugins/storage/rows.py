"""Turn the gateway's record objects into rows of the records tables."""

from __future__ import annotations

import itertools
import json
from typing import Any

from aibridge import Interception, ModelThought, PromptUsage, TokenUsage, ToolCallResult, ToolUsage

from .timestamps import to_db

INTERCEPTION_COLUMNS = (
    "id", "initiator_id", "initiator_username", "provider", "provider_name", "model", "client",
    "client_session_id", "user_agent", "api", "streaming", "started_at", "ended_at", "status", "error", "metadata",
    "credential_kind", "credential_hint",
    "instance_id",
)
# The columns of each child table a row may set (a spooled row is checked against them before it is replayed).
CHILD_COLUMNS = {
    "token_usages": ("record_id", "interception_id", "msg_id", "input_tokens", "output_tokens",
                     "cache_read_input_tokens", "cache_write_input_tokens", "metadata", "created_at", "cost_usd_nanos"),
    "user_prompts": ("record_id", "interception_id", "msg_id", "prompt", "created_at"),
    "tool_usages": ("record_id", "interception_id", "msg_id", "tool_call_id", "tool", "input", "server_url",
                    "injected", "invocation_error", "created_at"),
    "model_thoughts": ("record_id", "interception_id", "content", "metadata", "created_at"),
    "tool_results": ("record_id", "interception_id", "tool_call_id", "is_error", "content", "created_at"),
}


class RecordIds:
    """Identities for child records: ``<16 hex digits of the process's instance id>-<a counter in hex>``.

    Unique across processes (the prefix is 64 random bits of the instance id),
    increasing within one (new rows land at the end of the unique index), short,
    and cheap to make (one per record, on the writer's thread).
    """

    def __init__(self, instance_id: str):
        self.prefix = instance_id.replace("-", "")[:16] + "-"
        self._counter = itertools.count(1)

    def next(self) -> str:
        return f"{self.prefix}{next(self._counter):x}"


def to_json_text(value: Any) -> str:
    """JSON text for a metadata dict; values JSON cannot hold are kept as their string form."""
    if not value:  # most records carry no metadata: skip the encoder (about 2 µs a record on the writer's thread)
        return "{}"
    return json.dumps(value, default=str, ensure_ascii=False, sort_keys=True)


def interception_row(interception: Interception, instance_id: str | None = None) -> dict[str, Any]:
    """The interception's row; ``instance_id`` names the gateway process that recorded it."""
    return {
        "id": interception.interception_id,
        "initiator_id": interception.initiator_id,
        "initiator_username": interception.initiator_username,
        "provider": interception.provider,
        "provider_name": interception.provider_name,
        "model": interception.model,
        "client": interception.client,
        "client_session_id": interception.client_session_id,
        "user_agent": interception.user_agent,
        "api": interception.api,
        "streaming": int(bool(interception.streaming)),
        "started_at": to_db(interception.started_at),
        "ended_at": to_db(interception.ended_at) if interception.ended_at else None,
        "status": interception.status,
        "error": to_json_text(interception.error.as_dict()) if interception.error else None,
        "metadata": to_json_text(interception.metadata),
        "credential_kind": interception.credential_kind or None,
        "credential_hint": interception.credential_hint or None,
        "instance_id": instance_id,
    }


def token_usage_row(usage: TokenUsage) -> dict[str, Any]:
    return {
        "interception_id": usage.interception_id,
        "msg_id": usage.msg_id,
        "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens,
        "cache_read_input_tokens": usage.cache_read_input_tokens,
        "cache_write_input_tokens": usage.cache_write_input_tokens,
        "metadata": to_json_text(usage.metadata),
        "created_at": to_db(usage.created_at),
        "cost_usd_nanos": usage.cost_usd_nanos,
    }


def prompt_row(prompt: PromptUsage) -> dict[str, Any]:
    return {
        "interception_id": prompt.interception_id,
        "msg_id": prompt.msg_id,
        "prompt": prompt.prompt,
        "created_at": to_db(prompt.created_at),
    }


def tool_usage_row(tool: ToolUsage) -> dict[str, Any]:
    return {
        "interception_id": tool.interception_id,
        "msg_id": tool.msg_id,
        "tool_call_id": tool.tool_call_id,
        "tool": tool.tool,
        "input": tool.input,
        "server_url": tool.server_url,
        "injected": int(bool(tool.injected)),
        "invocation_error": tool.invocation_error,
        "created_at": to_db(tool.created_at),
    }


def tool_result_row(result: ToolCallResult) -> dict[str, Any]:
    return {
        "interception_id": result.interception_id,
        "tool_call_id": result.tool_call_id,
        "is_error": int(bool(result.is_error)),
        "content": result.content,
        "created_at": to_db(result.created_at),
    }


def model_thought_row(thought: ModelThought) -> dict[str, Any]:
    return {
        "interception_id": thought.interception_id,
        "content": thought.content,
        "metadata": to_json_text(thought.metadata),
        "created_at": to_db(thought.created_at),
    }


CHILD_ROWS = {
    TokenUsage: ("token_usages", token_usage_row),
    PromptUsage: ("user_prompts", prompt_row),
    ToolUsage: ("tool_usages", tool_usage_row),
    ModelThought: ("model_thoughts", model_thought_row),
    ToolCallResult: ("tool_results", tool_result_row),
}
