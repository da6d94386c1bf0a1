"""Turn the gateway's record objects into rows of the records tables."""

from __future__ import annotations

import json
import os
import time
import uuid
from typing import Any

from aibridge import Interception, ModelThought, PromptUsage, TokenUsage, ToolUsage

from .timestamps import to_db

INTERCEPTION_COLUMNS = (
    "id", "initiator_id", "initiator_username", "provider", "provider_name", "model", "client",
    "client_session_id", "user_agent", "api", "streaming", "started_at", "ended_at", "status", "error", "metadata",
    "instance_id",
)
# The columns of each child table a row may set (a spooled row is checked against them before it is replayed).
CHILD_COLUMNS = {
    "token_usages": ("record_id", "interception_id", "msg_id", "input_tokens", "output_tokens",
                     "cache_read_input_tokens", "cache_write_input_tokens", "metadata", "created_at"),
    "user_prompts": ("record_id", "interception_id", "msg_id", "prompt", "created_at"),
    "tool_usages": ("record_id", "interception_id", "msg_id", "tool_call_id", "tool", "input", "server_url",
                    "injected", "invocation_error", "created_at"),
    "model_thoughts": ("record_id", "interception_id", "content", "metadata", "created_at"),
}


def new_record_id() -> str:
    """A UUID version 7: time-ordered (new rows land at the end of the unique index), 74 random bits."""
    value = (time.time_ns() // 1_000_000) << 80 | int.from_bytes(os.urandom(10), "big")
    value = value & ~(0xF << 76) | 0x7 << 76  # version 7
    value = value & ~(0x3 << 62) | 0x2 << 62  # RFC 9562 variant
    return str(uuid.UUID(int=value))


def to_json_text(value: Any) -> str:
    """JSON text for a metadata dict; values JSON cannot hold are kept as their string form."""
    return json.dumps(value or {}, default=str, ensure_ascii=False, sort_keys=True)


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
}
