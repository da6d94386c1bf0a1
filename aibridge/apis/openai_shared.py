"""What Chat Completions and Responses share: usage arithmetic, tool inputs, error objects."""

from __future__ import annotations

import json

from ..errors import openai_error_body
from .shared import compact_json_text


def token_counts(usage: dict, input_key: str, output_key: str) -> dict:
    """Keyword arguments for ``InterceptionLog.tokens`` from an OpenAI usage object.

    ``input_key`` / ``output_key`` name the totals ("prompt_tokens" /
    "completion_tokens" for Chat, "input_tokens" / "output_tokens" for
    Responses). Cached tokens are part of the input total, so they are taken out
    of it: input + cache_read is what the provider counted. Every other non-zero
    detail count goes to the metadata, prefixed with its side
    (e.g. ``completion_reasoning_tokens``).
    """
    input_details = _details(usage, input_key)
    output_details = _details(usage, output_key)
    cached = _count(input_details.get("cached_tokens"))
    metadata = {}
    for key, details in ((input_key, input_details), (output_key, output_details)):
        side = key.removesuffix("_tokens")
        for name, value in details.items():
            if name != "cached_tokens" and _count(value):
                metadata[f"{side}_{name}"] = value
    return {
        "input": _count(usage.get(input_key)) - cached,
        "output": _count(usage.get(output_key)),
        "cache_read": cached,
        "metadata": metadata,
    }


def function_arguments(arguments) -> str:
    """A function call's arguments as compact JSON text (kept as sent when they do not parse)."""
    if isinstance(arguments, str):
        return compact_json_text(arguments or "{}")
    return json.dumps(arguments if arguments is not None else {}, separators=(",", ":"), ensure_ascii=False)


def custom_tool_input(value) -> str:
    """A custom (free-form) tool's input, recorded as a JSON string so the column stays JSON."""
    return json.dumps(value if isinstance(value, str) else "", ensure_ascii=False)


def error_object(status: int, message: str) -> dict:
    """The ``error`` object of OpenAI's error body for a gateway-made failure."""
    return openai_error_body(status, message)["error"]


def _details(usage: dict, total_key: str) -> dict:
    details = usage.get(f"{total_key}_details")
    return details if isinstance(details, dict) else {}


def _count(value) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0
