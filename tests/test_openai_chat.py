"""OpenAI Chat Completions through the bridge: the SDK's view, the bytes relayed, and the records."""

from __future__ import annotations

import json

import openai
import pytest
import requests
from support.fakeupstream import BEFORE_HEADERS
from support.openai_support import (  # noqa: F401
    assert_no_gateway_token_upstream,
    client,
    dead_upstream_url,
    fixture_body,
    fixture_chunks,
    fixture_events,
    fixture_json,
    post,
    separate_gateway,
    token_totals,
    without_usage_chunk,
)

MODEL = "gpt-4.1"
HELLO = [{"role": "user", "content": "Say hello."}]
PATH = "/v1/chat/completions"
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a location",
        "parameters": {"type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]},
    },
}


def streamed_tool_calls(name: str) -> list[tuple[str, str, dict]]:
    """(id, name, arguments) of each tool call in a Chat stream fixture, assembled by index."""
    calls: dict[int, dict] = {}
    for event in fixture_events(name):
        for choice in event.get("choices", []):
            for delta in choice["delta"].get("tool_calls") or []:
                call = calls.setdefault(delta["index"], {"id": "", "name": "", "arguments": ""})
                call["id"] = delta.get("id") or call["id"]
                call["name"] = delta.get("function", {}).get("name") or call["name"]
                call["arguments"] += delta.get("function", {}).get("arguments", "")
    return [(c["id"], c["name"], json.loads(c["arguments"])) for _, c in sorted(calls.items())]


def stream_text(stream) -> tuple[str, list]:
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    return text, chunks


# -- streaming ---------------------------------------------------------------


def test_streamed_text_reaches_the_sdk_and_is_recorded(client, upstream, collector):
    upstream.queue("openai/chat_stream_text_usage")
    text, chunks = stream_text(client.chat.completions.create(model=MODEL, messages=HELLO, stream=True))

    assert text == "Hello! How can I help you today?"
    # The client did not ask for usage: it sees none, and no usage-only chunk.
    assert all(chunk.choices and chunk.usage is None for chunk in chunks)
    [end] = collector.wait_for_ends()
    [start] = collector.of("interception_start")
    assert (start.provider, start.provider_name, start.model, start.api, start.streaming) == (
        "openai", "openai", MODEL, "chat_completions", True)
    assert start.initiator_username == "alice"
    assert end.status == "completed"
    [prompt] = collector.of("prompt_usage")
    assert (prompt.prompt, prompt.msg_id) == ("Say hello.", chunks[0].id)
    [usage] = collector.of("token_usage")
    assert (usage.msg_id, usage.input_tokens, usage.output_tokens, usage.cache_read_input_tokens) == (chunks[0].id, 19, 10, 0)
    assert usage.cache_write_input_tokens == 0 and usage.metadata == {}
    assert collector.of("tool_usage") == [] and collector.of("model_thought") == []


def test_gateway_asks_upstream_for_usage_by_inserting_bytes(gateway, token, upstream, collector):
    upstream.queue("openai/chat_stream_text_usage")
    body = b'{"model": "gpt-4.1",  "stream": true, "messages": [{"role": "user", "content": "Say hello."}]}'
    response = post(gateway, PATH, body, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    received = response.content
    [sent] = upstream.requests
    # Only the stream option is added; the client's own bytes follow unchanged.
    assert sent.body == b'{"stream_options":{"include_usage":true},' + body[1:]
    assert sent.json()["stream_options"] == {"include_usage": True}
    assert received == without_usage_chunk("openai/chat_stream_text_usage")
    assert received.endswith(b"data: [DONE]\n\n")
    collector.wait_for_ends()
    assert token_totals(collector.of("token_usage"))["input_tokens"] == 19


def test_stream_is_relayed_unchanged_one_event_per_chunk_when_the_client_asked_for_usage(gateway, token, upstream, collector):
    upstream.queue("openai/chat_stream_text_usage")
    body = json.dumps({"model": MODEL, "stream": True, "stream_options": {"include_usage": True}, "messages": HELLO}).encode()
    response = post(gateway, PATH, body, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["x-request-id"] == "req_141131614c6fb9d7bceb1f490932d1e0"
    chunks = [chunk for chunk in response.raw.stream(None, decode_content=False) if chunk]
    assert chunks == fixture_chunks("openai/chat_stream_text_usage")
    [sent] = upstream.requests
    assert sent.body == body
    collector.wait_for_ends()
    [usage] = collector.of("token_usage")
    assert (usage.input_tokens, usage.output_tokens) == (19, 10)


def test_sdk_that_asks_for_usage_gets_the_usage_chunk(client, upstream, collector):
    upstream.queue("openai/chat_stream_text_usage")
    stream = client.chat.completions.create(model=MODEL, messages=HELLO, stream=True, stream_options={"include_usage": True})
    _, chunks = stream_text(stream)
    assert chunks[-1].choices == []
    assert (chunks[-1].usage.prompt_tokens, chunks[-1].usage.completion_tokens) == (19, 10)
    collector.wait_for_ends()
    assert len(collector.of("token_usage")) == 1


@pytest.mark.parametrize("options", [{"include_usage": False}, {"include_obfuscation": False}, None])
def test_existing_stream_options_get_include_usage(gateway, token, upstream, collector, options):
    upstream.queue("openai/chat_stream_text_usage")
    body = {"model": MODEL, "stream": True, "stream_options": options, "messages": HELLO}
    response = post(gateway, PATH, body, headers={"Authorization": f"Bearer {token}"})
    assert response.content == without_usage_chunk("openai/chat_stream_text_usage")
    [sent] = upstream.requests
    expected = {**(options or {}), "include_usage": True}
    assert sent.json() == {**body, "stream_options": expected}
    collector.wait_for_ends()
    assert token_totals(collector.of("token_usage"))["output_tokens"] == 10


def test_upstream_that_ignores_the_usage_request_is_relayed_and_records_no_tokens(gateway, token, upstream, collector):
    upstream.queue("openai/chat_stream_text")
    response = post(gateway, PATH, {"model": MODEL, "stream": True, "messages": HELLO}, headers={"Authorization": f"Bearer {token}"})
    assert response.content == fixture_body("openai/chat_stream_text")
    [end] = collector.wait_for_ends()
    assert end.status == "completed"
    assert collector.of("token_usage") == []
    assert collector.of("prompt_usage")[0].msg_id == fixture_events("openai/chat_stream_text")[0]["id"]


@pytest.mark.parametrize(
    "fixture",
    ["openai/chat_stream_tool_calls", "openai/chat_stream_parallel_tool_calls", "openai/chat_stream_tool_calls_index1"],
)
def test_streamed_tool_calls_are_assembled_by_index(client, upstream, collector, fixture):
    upstream.queue(fixture)
    stream = client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "Weather in Paris?"}], tools=[WEATHER_TOOL], stream=True)
    _, chunks = stream_text(stream)
    collector.wait_for_ends()

    expected = streamed_tool_calls(fixture)
    recorded = collector.of("tool_usage")
    assert [(t.tool_call_id, t.tool, json.loads(t.input)) for t in recorded] == expected
    assert all(t.msg_id == chunks[0].id and t.injected is False and t.invocation_error is None for t in recorded)
    # Recorded as compact JSON text.
    assert all(t.input == json.dumps(json.loads(t.input), separators=(",", ":")) for t in recorded)
    [usage] = collector.of("token_usage")
    final = next(e["usage"] for e in fixture_events(fixture) if e.get("usage"))
    assert (usage.input_tokens, usage.output_tokens) == (final["prompt_tokens"], final["completion_tokens"])


def test_parallel_tool_calls_record_both_calls(client, upstream, collector):
    upstream.queue("openai/chat_stream_parallel_tool_calls")
    stream_text(client.chat.completions.create(model=MODEL, messages=HELLO, tools=[WEATHER_TOOL], stream=True))
    collector.wait_for_ends()
    recorded = collector.of("tool_usage")
    assert [(t.tool, json.loads(t.input)) for t in recorded] == [
        ("get_weather", {"location": "Paris, France"}),
        ("get_time", {"timezone": "Asia/Tokyo"}),
    ]
    assert token_totals(collector.of("token_usage"))["input_tokens"] == 97


def test_cached_and_reasoning_tokens_in_a_stream(client, upstream, collector):
    upstream.queue("openai/chat_stream_cached_tokens")
    _, chunks = stream_text(client.chat.completions.create(model="o4-mini", messages=HELLO, stream=True))
    assert all(chunk.usage is None for chunk in chunks)
    collector.wait_for_ends()
    [usage] = collector.of("token_usage")
    # prompt 2143 of which 1920 cached; completion 312 of which 256 reasoning.
    assert (usage.input_tokens, usage.cache_read_input_tokens, usage.output_tokens) == (2143 - 1920, 1920, 312)
    assert usage.cache_write_input_tokens == 0
    assert usage.metadata == {"completion_reasoning_tokens": 256}


def test_midstream_error_is_relayed_as_sent_and_fails_the_interception(gateway, token, upstream, collector):
    upstream.queue("openai/chat_stream_error_midstream")
    response = post(gateway, PATH, {"model": MODEL, "stream": True, "messages": HELLO}, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    # The error chunk is relayed as sent; the [DONE] the provider left out is added.
    assert response.content == fixture_body("openai/chat_stream_error_midstream") + b"data: [DONE]\n\n"
    [end] = collector.wait_for_ends()
    assert end.status == "failed"
    assert collector.of("token_usage") == []
    assert collector.of("prompt_usage")[0].prompt == "Say hello."


def test_midstream_error_surfaces_in_the_sdk(client, upstream, collector):
    upstream.queue("openai/chat_stream_error_midstream")
    stream = client.chat.completions.create(model=MODEL, messages=HELLO, stream=True)
    text = ""
    with pytest.raises(openai.APIError) as raised:
        for chunk in stream:
            text += chunk.choices[0].delta.content or ""
    assert text == "Here is the"
    assert "The server had an error" in raised.value.message
    assert collector.wait_for_ends()[0].status == "failed"


# -- blocking ----------------------------------------------------------------


def test_blocking_answer_is_returned_unchanged_and_recorded(gateway, token, upstream, collector):
    upstream.queue("openai/chat_blocking_text")
    body = b'{"model":"gpt-4.1","messages":[{"role":"user","content":"Say hello."}]}'
    response = post(gateway, PATH, body, headers={"Authorization": f"Bearer {token}"}, stream=False)
    assert response.status_code == 200
    assert response.content == fixture_body("openai/chat_blocking_text")
    [sent] = upstream.requests
    assert sent.body == body  # nothing to ask for: usage always comes in a complete answer
    completion = fixture_json("openai/chat_blocking_text")
    [end] = collector.wait_for_ends()
    assert end.status == "completed" and end.streaming is False
    [prompt] = collector.of("prompt_usage")
    assert (prompt.prompt, prompt.msg_id) == ("Say hello.", completion["id"])
    [usage] = collector.of("token_usage")
    assert (usage.msg_id, usage.input_tokens, usage.output_tokens, usage.cache_read_input_tokens) == (completion["id"], 19, 10, 0)


def test_blocking_sdk_call_with_tool_calls(client, upstream, collector):
    upstream.queue("openai/chat_blocking_tool_calls")
    completion = client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "Weather in Paris?"}], tools=[WEATHER_TOOL])
    [call] = completion.choices[0].message.tool_calls
    collector.wait_for_ends()
    [tool] = collector.of("tool_usage")
    assert (tool.msg_id, tool.tool_call_id, tool.tool, tool.input) == (
        completion.id, call.id, "get_weather", '{"location":"Paris, France"}')
    [usage] = collector.of("token_usage")
    assert (usage.input_tokens, usage.output_tokens) == (82, 17)


def test_blocking_cached_tokens(client, upstream, collector):
    upstream.queue("openai/chat_blocking_cached_tokens")
    completion = client.chat.completions.create(model=MODEL, messages=HELLO)
    assert completion.usage.prompt_tokens_details.cached_tokens == 3072
    collector.wait_for_ends()
    [usage] = collector.of("token_usage")
    assert (usage.input_tokens, usage.cache_read_input_tokens, usage.output_tokens) == (3210 - 3072, 3072, 23)
    assert usage.metadata == {}


# -- prompts -----------------------------------------------------------------


@pytest.mark.parametrize(
    "messages, prompt",
    [
        ([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "First."},
          {"role": "assistant", "content": "Ok."}, {"role": "user", "content": "Second."}], "Second."),
        ([{"role": "user", "content": [{"type": "text", "text": "Look:"},
                                       {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
                                       {"type": "text", "text": "What is this?"}]}], "What is this?"),
        ([{"role": "user", "content": "Weather?"}, {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}]},
          {"role": "tool", "tool_call_id": "call_1", "content": "18C"}], None),
    ],
)
def test_prompt_is_the_last_user_message(client, upstream, collector, messages, prompt):
    upstream.queue("openai/chat_blocking_text")
    client.chat.completions.create(model=MODEL, messages=messages)
    collector.wait_for_ends()
    assert [p.prompt for p in collector.of("prompt_usage")] == ([prompt] if prompt else [])


# -- errors ------------------------------------------------------------------


def test_upstream_400_is_relayed_as_sent(client, upstream, collector):
    upstream.queue("openai/error_400")
    with pytest.raises(openai.BadRequestError) as raised:
        client.chat.completions.create(model=MODEL, messages=HELLO)
    assert raised.value.status_code == 400
    assert raised.value.response.content == fixture_body("openai/error_400")
    assert raised.value.code == "invalid_type"
    [end] = collector.wait_for_ends()
    assert end.status == "failed"
    assert collector.of("token_usage") == []
    assert [p.prompt for p in collector.of("prompt_usage")] == ["Say hello."]


def test_upstream_429_keeps_the_rate_limit_headers(client, upstream, collector):
    upstream.queue("openai/error_429")
    with pytest.raises(openai.RateLimitError) as raised:
        client.chat.completions.create(model=MODEL, messages=HELLO, stream=True)
    headers = raised.value.response.headers
    assert headers["retry-after"] == "2"
    assert headers["x-ratelimit-remaining-tokens"] == "240"
    assert raised.value.code == "rate_limit_exceeded"
    assert len(upstream.requests) == 1
    assert collector.wait_for_ends()[0].status == "failed"


def test_upstream_unreachable_is_502_in_openai_shape(tmp_path):
    with dead_upstream_url() as dead, separate_gateway(tmp_path, dead) as (gw, token, collector):
        client = openai.OpenAI(api_key=token, base_url=gw.bridge_url("openai") + "/v1", max_retries=0)
        with pytest.raises(openai.APIStatusError) as raised:
            client.chat.completions.create(model=MODEL, messages=HELLO, stream=True)
        assert raised.value.status_code == 502
        error = raised.value.body
        assert error["type"] == "bad_gateway" and "could not be reached" in error["message"]
        assert collector.wait_for_ends()[0].status == "failed"


def test_upstream_timeout_is_504_before_and_an_error_event_after_bytes(tmp_path, upstream):
    upstream.reset()
    with separate_gateway(tmp_path, upstream.url, upstream_timeout=0.5) as (gw, token, collector):
        auth = {"Authorization": f"Bearer {token}"}
        upstream.queue("openai/chat_stream_text_usage", stall_after=BEFORE_HEADERS)
        response = post(gw, PATH, {"model": MODEL, "stream": True, "messages": HELLO}, headers=auth)
        assert response.status_code == 504
        assert response.json()["error"]["type"] == "timeout"

        upstream.queue("openai/chat_stream_text_usage", stall_after=3)
        response = post(gw, PATH, {"model": MODEL, "stream": True, "messages": HELLO}, headers=auth)
        assert response.status_code == 200
        relayed = b"".join(fixture_chunks("openai/chat_stream_text_usage")[:3])
        assert response.content.startswith(relayed)
        events = response.content[len(relayed):].split(b"\n\n")
        assert events[1:] == [b"data: [DONE]", b""]
        error = json.loads(events[0].removeprefix(b"data: "))["error"]
        assert error["type"] == "timeout" and "stopped sending" in error["message"]
        ends = collector.wait_for_ends(2)
        assert [e.status for e in ends] == ["failed", "failed"]
        # The stream broke before the usage chunk: nothing to bill, the prompt is kept.
        assert collector.of("token_usage") == []
        assert len(collector.of("prompt_usage")) == 2


def test_sdk_sees_the_timeout_error_mid_stream(tmp_path, upstream):
    upstream.reset()
    with separate_gateway(tmp_path, upstream.url, upstream_timeout=0.5) as (gw, token, _):
        upstream.queue("openai/chat_stream_text_usage", stall_after=4)
        client = openai.OpenAI(api_key=token, base_url=gw.bridge_url("openai") + "/v1", max_retries=0)
        text = ""
        with pytest.raises(openai.APIError) as raised:
            for chunk in client.chat.completions.create(model=MODEL, messages=HELLO, stream=True):
                text += chunk.choices[0].delta.content or ""
        assert text == "Hello! How"
        assert "stopped sending" in raised.value.message


def test_missing_or_unknown_token_is_401(gateway, upstream, collector):
    for headers in ({}, {"Authorization": "Bearer not-a-token"}):
        response = post(gateway, PATH, {"model": MODEL, "messages": HELLO}, headers=headers)
        assert response.status_code == 401
        assert response.json()["error"]["type"] == "authentication_error"
    client = openai.OpenAI(api_key="not-a-token", base_url=gateway.bridge_url("openai") + "/v1", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        client.chat.completions.create(model=MODEL, messages=HELLO)
    assert upstream.requests == [] and collector.records == []


@pytest.mark.parametrize("body, message", [(b"{nope", "not valid JSON"), (b'{"messages": []}', "model")])
def test_bad_request_bodies_are_400_in_openai_shape(gateway, token, upstream, collector, body, message):
    response = post(gateway, PATH, body, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error" and message in error["message"]
    assert upstream.requests == [] and collector.records == []


# -- upstream request and passthrough ----------------------------------------


def test_upstream_gets_the_provider_key_and_never_the_gateway_token(client, token, upstream, collector):
    upstream.queue("openai/chat_blocking_text")
    client.chat.completions.create(model=MODEL, messages=HELLO, extra_headers={"OpenAI-Organization": "org-acme"})
    [sent] = upstream.requests
    assert (sent.method, sent.path) == ("POST", PATH)
    assert sent.headers["Authorization"] == "Bearer sk-openai-upstream-key"
    assert sent.headers["OpenAI-Organization"] == "org-acme"
    assert_no_gateway_token_upstream(sent, token)
    collector.wait_for_ends()


def test_cursor_is_detected(gateway, token, upstream, collector):
    upstream.queue("openai/chat_blocking_text")
    post(gateway, PATH, {"model": MODEL, "messages": HELLO},
         headers={"Authorization": f"Bearer {token}", "x-cursor-client-version": "1.7.38"}, stream=False)
    collector.wait_for_ends()
    [start] = collector.of("interception_start")
    assert (start.client, start.client_session_id) == ("Cursor", None)


def test_models_list_is_passed_through_with_the_provider_key(gateway, client, token, upstream, collector):
    upstream.queue("openai/models_list")
    models = client.models.list()
    expected = fixture_json("openai/models_list")
    assert [m.id for m in models.data] == [m["id"] for m in expected["data"]]
    upstream.queue("openai/models_list")
    response = requests.get(gateway.bridge_url("openai") + "/v1/models", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert response.content == fixture_body("openai/models_list")
    for sent in upstream.requests:
        assert (sent.method, sent.path) == ("GET", "/v1/models")
        assert sent.headers["Authorization"] == "Bearer sk-openai-upstream-key"
        assert_no_gateway_token_upstream(sent, token)
    assert collector.records == []  # passthrough is not recorded


def test_passthrough_needs_a_token_too(gateway, upstream, collector):
    response = requests.get(gateway.bridge_url("openai") + "/v1/models", timeout=10)
    assert response.status_code == 401
    assert upstream.requests == []


def test_an_error_followed_by_done_gets_no_second_done(gateway, token, upstream, collector):
    from support.fakeupstream import Response

    body = fixture_body("openai/chat_stream_error_midstream") + b"data: [DONE]\n\n"
    upstream.queue(Response(200, {"Content-Type": "text/event-stream"}, body))
    response = post(gateway, PATH, {"model": MODEL, "stream": True, "messages": HELLO}, headers={"Authorization": f"Bearer {token}"})
    assert response.content == body
    assert collector.wait_for_ends()[0].status == "failed"
