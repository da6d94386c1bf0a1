"""Helpers every API uses: compact JSON, SSE events, summed usage."""

from __future__ import annotations

import json


def compact_json(value) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def compact_json_text(text: str) -> str:
    """Tool input as compact JSON text; kept as received when it does not parse."""
    try:
        return compact_json(json.loads(text))
    except ValueError:
        return text


def sse_event(name: str | None, data: dict) -> bytes:
    """One SSE event with compact JSON data."""
    text = compact_json(data)
    return (f"event: {name}\ndata: {text}\n\n" if name else f"data: {text}\n\n").encode()


def sum_usage(total: dict, usage: dict) -> dict:
    """Usage objects added up: counts summed (also nested), other values from the newer one."""
    merged = dict(total)
    for key, value in usage.items():
        old = merged.get(key)
        if isinstance(value, bool) or value is None:
            merged[key] = value if value is not None else old
        elif isinstance(value, int) and isinstance(old, int) and not isinstance(old, bool):
            merged[key] = old + value
        elif isinstance(value, dict) and isinstance(old, dict):
            merged[key] = sum_usage(old, value)
        else:
            merged[key] = value
    return merged

