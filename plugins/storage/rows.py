"""Turn the gateway's record objects into rows of the records tables."""

from __future__ import annotations

import json
from typing import Any

from aibridge import Interception, ModelThought, PromptUsage, TokenUsage, ToolCallResult, ToolUsage

from .timestamps import to_db

INTERCEPTION_COLUMNS = (
    "id", "initiator_id", "initiator_username", "provider", "provider_name", "model", "client",
    "client_session_id", "user_agent", "api", "streaming", "started_at", "ended_at", "status", "error", "metadata",
    "credential_kind", "credential_hint",
)


def to_json_text(value: Any) -> str:
    """JSON text for a metadata dict; values JSON cannot hold are kept as their string form."""
    return json.dumps(value or {}, default=str, ensure_ascii=False, sort_keys=True)


def interception_row(interception: Interception) -> dict[str, Any]:
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
