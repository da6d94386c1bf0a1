"""Canned provider answers (OpenAI Chat and Anthropic Messages) and the request bodies that ask for them."""

from __future__ import annotations

import json

OPENAI_MODEL = "gpt-4o-mini"
ANTHROPIC_MODEL = "claude-sonnet-4-20250514"
STREAM_EVENTS = 40  # every stream has exactly this many SSE events, terminator included

_TEXT = (
    "Load tests measure what a system does under pressure, not what it promises. "
    "A gateway should add little and lose nothing: every request relayed, every "
    "answer recorded, every stream flushed as it arrives. Keep the numbers honest "
    "and the method repeatable."
)
_USAGE_IN, _USAGE_OUT = 31, 57
_CREATED = 1735689600


def _words(count: int) -> list[str]:
    """``count`` text pieces whose concatenation is (a prefix of, or repeats) _TEXT."""
    words = [w + " " for w in _TEXT.split(" ")]
    return [words[i % len(words)] for i in range(count)]


def _sse_data(obj) -> bytes:
    """One ``data:`` SSE event."""
    payload = obj if isinstance(obj, str) else json.dumps(obj, separators=(",", ":"))
    return f"data: {payload}\n\n".encode()


def _sse_named(name: str, obj) -> bytes:
    """One named SSE event (Anthropic style)."""
    return f"event: {name}\ndata: {json.dumps(obj, separators=(',', ':'))}\n\n".encode()


def openai_chat_json() -> bytes:
    """A blocking ``chat.completion`` answer with usage."""
    return json.dumps(
        {
            "id": "chatcmpl-bench0001",
            "object": "chat.completion",
            "created": _CREATED,
            "model": OPENAI_MODEL,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": _TEXT, "refusal": None},
                    "logprobs": None,
                    "finish_reason": "stop",
                }
            ],
            "usage": _openai_usage(),
            "system_fingerprint": "fp_bench",
        }
    ).encode()


def _openai_usage() -> dict:
    return {
        "prompt_tokens": _USAGE_IN,
        "completion_tokens": _USAGE_OUT,
        "total_tokens": _USAGE_IN + _USAGE_OUT,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def openai_chunk(delta: dict, finish_reason=None) -> dict:
    """One ``chat.completion.chunk`` object."""
    return {
        "id": "chatcmpl-bench0001",
        "object": "chat.completion.chunk",
        "created": _CREATED,
        "model": OPENAI_MODEL,
        "system_fingerprint": "fp_bench",
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}],
    }


def openai_usage_chunk() -> dict:
    """The usage-only chunk sent when ``stream_options.include_usage`` is true."""
    chunk = openai_chunk({})
    chunk["choices"] = []
    chunk["usage"] = _openai_usage()
    return chunk


def openai_chat_sse() -> bytes:
    """A streamed chat completion: role, text deltas, finish, usage, ``[DONE]``: STREAM_EVENTS events."""
    texts = _words(STREAM_EVENTS - 4)
    events = [_sse_data(openai_chunk({"role": "assistant", "content": "", "refusal": None}))]
    events += [_sse_data(openai_chunk({"content": t})) for t in texts]
    events.append(_sse_data(openai_chunk({}, finish_reason="stop")))
    events.append(_sse_data(openai_usage_chunk()))
    events.append(_sse_data("[DONE]"))
    assert len(events) == STREAM_EVENTS
    return b"".join(events)


def anthropic_message_json() -> bytes:
    """A blocking Messages answer with usage."""
    return json.dumps(
        {
            "id": "msg_bench0001",
            "type": "message",
            "role": "assistant",
            "model": ANTHROPIC_MODEL,
            "content": [{"type": "text", "text": _TEXT}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": {
                "input_tokens": _USAGE_IN,
                "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": 0,
                "output_tokens": _USAGE_OUT,
            },
        }
    ).encode()


def anthropic_messages_sse() -> bytes:
    """A streamed Messages answer: start, block, ping, deltas, stops: STREAM_EVENTS events."""
    start = {
        "type": "message_start",
        "message": {
            "id": "msg_bench0001",
            "type": "message",
            "role": "assistant",
            "model": ANTHROPIC_MODEL,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {
                "input_tokens": _USAGE_IN,
                "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": 0,
                "output_tokens": 1,
            },
        },
    }
    texts = _words(STREAM_EVENTS - 6)
    events = [
        _sse_named("message_start", start),
        _sse_named("content_block_start", {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
        _sse_named("ping", {"type": "ping"}),
    ]
    events += [
        _sse_named("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": t}})
        for t in texts
    ]
    events += [
        _sse_named("content_block_stop", {"type": "content_block_stop", "index": 0}),
        _sse_named(
            "message_delta",
            {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None}, "usage": {"output_tokens": _USAGE_OUT}},
        ),
        _sse_named("message_stop", {"type": "message_stop"}),
    ]
    assert len(events) == STREAM_EVENTS
    return b"".join(events)


def chat_request(model: str = OPENAI_MODEL, stream: bool = False) -> bytes:
    """A Chat Completions request body like a coding client sends (short)."""
    body = {
        "model": model,
        "messages": [
            {"role": "system", "content": "You are a concise assistant."},
            {"role": "user", "content": "In three sentences: why measure a gateway's overhead?"},
        ],
        "max_tokens": 128,
    }
    if stream:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    return json.dumps(body).encode()


def messages_request(model: str = ANTHROPIC_MODEL, stream: bool = False) -> bytes:
    """An Anthropic Messages request body (short)."""
    body = {
        "model": model,
        "max_tokens": 128,
        "system": "You are a concise assistant.",
        "messages": [{"role": "user", "content": "In three sentences: why measure a gateway's overhead?"}],
    }
    if stream:
        body["stream"] = True
    return json.dumps(body).encode()
