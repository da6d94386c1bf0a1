"""Anthropic Messages through the bridge: the SDK's view, the bytes relayed, and the records."""

from __future__ import annotations

import json
import socket

import anthropic
import pytest
import requests
from support.anthropic_support import client, token_totals  # noqa: F401
from support.fakeupstream import load_fixture

MODEL = "claude-sonnet-4-6"
HELLO = [{"role": "user", "content": "Say hello."}]
WEATHER_TOOL = {
    "name": "get_weather",
    "description": "Current weather for a city",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}


def fixture_events(name: str) -> list[dict]:
    """The JSON data of every event in an SSE fixture."""
    body = load_fixture(name).body_bytes().decode()
    return [json.loads(line[6:]) for line in body.splitlines() if line.startswith("data: ")]


def upstream_usage(name: str) -> dict[str, int]:
    """What the provider bills for a streaming fixture: message_start counts, replaced by the final delta's."""
    totals = {"input_tokens": 0, "output_tokens": 0, "cache_read_input_tokens": 0, "cache_write_input_tokens": 0}
    for event in fixture_events(name):
        usage = (event.get("message") or {}).get("usage") if event["type"] == "message_start" else event.get("usage")
        if event["type"] not in ("message_start", "message_delta") or not usage:
            continue
        for key, column in (("input_tokens", "input_tokens"), ("output_tokens", "output_tokens"),
                            ("cache_read_input_tokens", "cache_read_input_tokens"),
                            ("cache_creation_input_tokens", "cache_write_input_tokens")):
            if usage.get(key) is not None:
                totals[column] = usage[key]
    return totals


def raw_post(gateway, token, body: dict, headers=None, stream=True):
    return requests.post(
        gateway.bridge_url("anthropic") + "/v1/messages",
        data=json.dumps(body).encode(),
        headers={"x-api-key": token, "anthropic-version": "2023-06-01", "content-type": "application/json", **(headers or {})},
        stream=stream,
        timeout=10,
    )


def test_streamed_text_reaches_the_sdk_and_is_recorded(client, upstream, collector):
    upstream.queue("anthropic/stream_text")
    with client.messages.stream(model=MODEL, max_tokens=256, messages=HELLO) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()

    expected_text = "".join(
        e["delta"]["text"] for e in fixture_events("anthropic/stream_text") if e["type"] == "content_block_delta"
    )
    assert text == expected_text
    [end] = collector.wait_for_ends()
    [start] = collector.of("interception_start")
    assert (start.provider, start.provider_name, start.model, start.initiator_username) == ("anthropic", "anthropic", MODEL, "alice")
    assert start.streaming and start.api == "messages"
    assert end.status == "completed" and end.ended_at >= start.started_at
    [prompt] = collector.of("prompt_usage")
    assert (prompt.prompt, prompt.msg_id) == ("Say hello.", final.id)
    assert token_totals(collector.of("token_usage")) == upstream_usage("anthropic/stream_text")
    assert {u.msg_id for u in collector.of("token_usage")} == {final.id}


def test_stream_bytes_are_relayed_unchanged_one_event_per_chunk(gateway, token, upstream, collector):
    upstream.queue("anthropic/stream_text")
    sent = load_fixture("anthropic/stream_text")
    response = raw_post(gateway, token, {"model": MODEL, "max_tokens": 64, "stream": True, "messages": HELLO})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    chunks = [chunk for chunk in response.raw.stream(None, decode_content=False) if chunk]
    assert b"".join(chunks) == sent.body_bytes()
    assert chunks == sent.chunks()  # each event arrives on its own, not batched
    collector.wait_for_ends()


def test_request_body_goes_upstream_byte_for_byte_with_the_provider_key(gateway, token, upstream, collector):
    upstream.queue("anthropic/blocking_text")
    # Odd spacing and key order must survive: thinking signatures depend on exact bytes.
    body = b'{"max_tokens": 64,   "model":"' + MODEL.encode() + b'", "messages":[{"role":"user","content":"Say hello."}]}'
    response = requests.post(
        gateway.bridge_url("anthropic") + "/v1/messages",
        data=body,
        headers={"Authorization": f"Bearer {token}", "anthropic-version": "2023-06-01",
                 "anthropic-beta": "interleaved-thinking-2025-05-14", "content-type": "application/json"},
        timeout=10,
    )
    assert response.status_code == 200
    [received] = upstream.requests
    assert received.body == body
    assert received.headers["x-api-key"] == "sk-ant-upstream-key"
    assert received.headers["anthropic-version"] == "2023-06-01"
    assert received.headers["anthropic-beta"] == "interleaved-thinking-2025-05-14"
    assert "authorization" not in received.headers
    assert all(token not in value for value in received.headers.values())
    assert "X-AI-Bridge-Actor-ID" not in received.headers


def test_clients_cannot_claim_an_actor_upstream(gateway, token, upstream, collector):
    upstream.queue("anthropic/blocking_text")
    raw_post(gateway, token, {"model": MODEL, "max_tokens": 5, "messages": HELLO}, stream=False,
             headers={"X-AI-Bridge-Actor-ID": "someone-else", "X-AI-Bridge-Actor-Metadata-Username": "root"})
    [received] = upstream.requests
    assert not any(name.lower().startswith("x-ai-bridge-") for name in received.headers)


def test_blocking_answer_is_returned_unchanged_with_its_headers(gateway, token, upstream, collector):
    upstream.queue("anthropic/blocking_text")
    sent = load_fixture("anthropic/blocking_text")
    response = raw_post(gateway, token, {"model": MODEL, "max_tokens": 64, "messages": HELLO}, stream=False)
    assert response.status_code == 200
    assert response.content == sent.body_bytes()
    assert response.headers["request-id"] == sent.header("request-id")
    message = json.loads(sent.body_bytes())
    [end] = collector.wait_for_ends()
    assert end.status == "completed"
    [usage] = collector.of("token_usage")
    assert usage.msg_id == message["id"]
    assert usage.input_tokens == message["usage"]["input_tokens"]
    assert usage.output_tokens == message["usage"]["output_tokens"]


def test_blocking_sdk_call(client, upstream, collector):
    upstream.queue("anthropic/blocking_text")
    message = client.messages.create(model=MODEL, max_tokens=64, messages=HELLO)
    expected = json.loads(load_fixture("anthropic/blocking_text").body_bytes())
    assert message.id == expected["id"]
    assert message.content[0].text == expected["content"][0]["text"]
    assert collector.wait_for_ends()[0].streaming is False


def test_thinking_and_tool_use_stream(client, upstream, collector):
    upstream.queue("anthropic/stream_thinking_tool_use")
    with client.messages.stream(
        model=MODEL, max_tokens=2048, messages=[{"role": "user", "content": "Weather in Paris?"}],
        tools=[WEATHER_TOOL], thinking={"type": "enabled", "budget_tokens": 1024},
    ) as stream:
        final = stream.get_final_message()
    collector.wait_for_ends()

    blocks = {block.type: block for block in final.content}
    [tool] = collector.of("tool_usage")
    assert (tool.tool_call_id, tool.tool, tool.injected) == (blocks["tool_use"].id, blocks["tool_use"].name, False)
    assert json.loads(tool.input) == blocks["tool_use"].input
    assert tool.msg_id == final.id
    [thought] = collector.of("model_thought")
    assert thought.content == blocks["thinking"].thinking
    assert thought.metadata == {"source": "thinking"}
    assert token_totals(collector.of("token_usage")) == upstream_usage("anthropic/stream_thinking_tool_use")


def test_thinking_signature_survives_the_round_trip(client, upstream, collector):
    upstream.queue("anthropic/stream_thinking_tool_use")
    with client.messages.stream(
        model=MODEL, max_tokens=2048, messages=[{"role": "user", "content": "Weather in Paris?"}],
        tools=[WEATHER_TOOL], thinking={"type": "enabled", "budget_tokens": 1024},
    ) as stream:
        final = stream.get_final_message()
    tool_use = next(block for block in final.content if block.type == "tool_use")
    upstream.queue("anthropic/blocking_text")
    client.messages.create(
        model=MODEL, max_tokens=2048, tools=[WEATHER_TOOL], thinking={"type": "enabled", "budget_tokens": 1024},
        messages=[
            {"role": "user", "content": "Weather in Paris?"},
            {"role": "assistant", "content": [block.model_dump(exclude_none=True) for block in final.content]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": tool_use.id, "content": "18°C"}]},
        ],
    )
    sent_thinking = next(b for b in upstream.requests[1].json()["messages"][1]["content"] if b["type"] == "thinking")
    original = next(b for b in final.content if b.type == "thinking")
    assert sent_thinking["signature"] == original.signature
    ends = collector.wait_for_ends(2)
    # The follow-up's last message is a tool result, not a user prompt: no prompt record for it.
    assert [p.interception_id for p in collector.of("prompt_usage")] == [ends[0].interception_id]


def test_parallel_tool_use_records_every_call(client, upstream, collector):
    upstream.queue("anthropic/stream_parallel_tool_use")
    with client.messages.stream(model=MODEL, max_tokens=512, messages=HELLO, tools=[WEATHER_TOOL]) as stream:
        final = stream.get_final_message()
    collector.wait_for_ends()
    calls = [block for block in final.content if block.type == "tool_use"]
    assert len(calls) == 2
    recorded = collector.of("tool_usage")
    assert [(t.tool_call_id, t.tool, json.loads(t.input)) for t in recorded] == [(c.id, c.name, c.input) for c in calls]


@pytest.mark.parametrize("fixture", ["anthropic/stream_cache_tokens", "anthropic/blocking_cache_tokens"])
def test_cache_tokens_add_up_to_the_bill(client, upstream, collector, fixture):
    upstream.queue(fixture)
    if fixture.endswith("stream_cache_tokens"):
        with client.messages.stream(model=MODEL, max_tokens=64, messages=HELLO) as stream:
            usage = stream.get_final_message().usage
    else:
        usage = client.messages.create(model=MODEL, max_tokens=64, messages=HELLO).usage
    collector.wait_for_ends()
    totals = token_totals(collector.of("token_usage"))
    assert totals == {
        "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens,
        "cache_read_input_tokens": usage.cache_read_input_tokens,
        "cache_write_input_tokens": usage.cache_creation_input_tokens,
    }
    assert totals["cache_read_input_tokens"] > 0 and totals["cache_write_input_tokens"] > 0


def test_midstream_overloaded_error_is_relayed_as_an_error_event(gateway, token, upstream, collector):
    upstream.queue("anthropic/stream_overloaded_midstream")
    response = raw_post(gateway, token, {"model": MODEL, "max_tokens": 64, "stream": True, "messages": HELLO})
    assert response.content == load_fixture("anthropic/stream_overloaded_midstream").body_bytes()
    assert b"event: error" in response.content and b"overloaded_error" in response.content
    [end] = collector.wait_for_ends()
    assert end.status == "failed"


def test_midstream_error_surfaces_in_the_sdk(client, upstream, collector):
    upstream.queue("anthropic/stream_overloaded_midstream")
    with pytest.raises(anthropic.APIStatusError) as raised:
        with client.messages.stream(model=MODEL, max_tokens=64, messages=HELLO) as stream:
            stream.get_final_message()
    assert "Overloaded" in str(raised.value) or "overloaded" in str(raised.value)
    collector.wait_for_ends()


def test_upstream_400_is_relayed_as_sent(client, upstream, collector):
    upstream.queue("anthropic/error_400_invalid_request")
    sent = load_fixture("anthropic/error_400_invalid_request")
    with pytest.raises(anthropic.BadRequestError) as raised:
        client.messages.create(model=MODEL, max_tokens=64, messages=HELLO)
    assert raised.value.status_code == 400
    assert raised.value.body == json.loads(sent.body_bytes())
    [end] = collector.wait_for_ends()
    assert end.status == "failed"
    assert collector.of("prompt_usage")[0].prompt == "Say hello."


def test_upstream_429_keeps_the_rate_limit_headers(client, upstream, collector):
    upstream.queue("anthropic/error_429_rate_limit")
    sent = load_fixture("anthropic/error_429_rate_limit")
    with pytest.raises(anthropic.RateLimitError) as raised:
        client.messages.create(model=MODEL, max_tokens=64, messages=HELLO)
    headers = raised.value.response.headers
    assert headers["retry-after"] == sent.header("retry-after")
    assert any(name.lower().startswith("anthropic-ratelimit-") for name in headers)
    collector.wait_for_ends()


@pytest.mark.parametrize(
    "body, message",
    [(b"{not json", "not valid JSON"), (b'{"max_tokens": 5, "messages": []}', "model"), (b"[1, 2]", "JSON object")],
)
def test_bad_request_bodies_never_reach_upstream(gateway, token, upstream, collector, body, message):
    response = requests.post(
        gateway.bridge_url("anthropic") + "/v1/messages", data=body,
        headers={"x-api-key": token, "content-type": "application/json"}, timeout=10,
    )
    assert response.status_code == 400
    error = response.json()
    assert error["type"] == "error" and error["error"]["type"] == "invalid_request_error"
    assert message in error["error"]["message"]
    assert upstream.requests == []
    assert collector.records == []


def test_body_over_the_limit_is_refused_with_413(tmp_path, upstream):
    from support.gateway import Gateway, gateway_config

    gw = Gateway(gateway_config(tmp_path, upstream.url, max_request_body=1024))
    try:
        token = gw.create_token("bob")
        response = requests.post(
            gw.bridge_url("anthropic") + "/v1/messages", data=b"x" * 4096,
            headers={"x-api-key": token, "content-type": "application/json"}, timeout=10,
        )
        assert response.status_code == 413
        assert response.json()["error"]["type"] == "request_too_large"
    finally:
        gw.close()


def test_missing_or_unknown_token_is_401(gateway, upstream, collector):
    for headers in ({}, {"x-api-key": "aib_nope_nope"}, {"Authorization": "Bearer wrong"}):
        response = requests.post(gateway.bridge_url("anthropic") + "/v1/messages", json={"model": MODEL}, headers=headers, timeout=10)
        assert response.status_code == 401
        assert response.json()["error"]["type"] == "authentication_error"
    assert upstream.requests == []


def test_sdk_sees_authentication_error(gateway, collector):
    client = anthropic.Anthropic(api_key="not-a-token", base_url=gateway.bridge_url("anthropic"), max_retries=0)
    with pytest.raises(anthropic.AuthenticationError):
        client.messages.create(model=MODEL, max_tokens=5, messages=HELLO)


def test_unknown_routes_and_providers_are_404(gateway, token, collector):
    headers = {"x-api-key": token}
    unknown_path = requests.post(gateway.bridge_url("anthropic") + "/v1/complete", json={}, headers=headers, timeout=10)
    assert unknown_path.status_code == 404
    assert "/v1/complete" in unknown_path.json()["error"]["message"]
    unknown_provider = requests.post(gateway.url + "/api/v2/aibridge/nope/v1/messages", json={}, headers=headers, timeout=10)
    assert unknown_provider.status_code == 404
    assert "nope" in unknown_provider.json()["error"]["message"]


def test_disabled_bridge_says_how_to_enable_it(tmp_path, upstream):
    from support.gateway import Gateway, gateway_config

    gw = Gateway(gateway_config(tmp_path, upstream.url, enabled=False))
    try:
        response = requests.post(gw.bridge_url("anthropic") + "/v1/messages", json={}, timeout=10)
        assert response.status_code == 404
        assert "CODER_AI_GATEWAY_ENABLED" in response.json()["error"]["message"]
        assert requests.get(gw.url + "/healthz", timeout=10).status_code == 200
    finally:
        gw.close()


def test_upstream_unreachable_is_502(tmp_path):
    from support.gateway import Gateway, gateway_config

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"  # bound, never listening: connection refused
        gw = Gateway(gateway_config(tmp_path, dead))
        try:
            client = anthropic.Anthropic(api_key=gw.create_token(), base_url=gw.bridge_url("anthropic"), max_retries=0)
            with pytest.raises(anthropic.APIStatusError) as raised:
                client.messages.create(model=MODEL, max_tokens=5, messages=HELLO)
            assert raised.value.status_code == 502
            assert raised.value.body["error"]["type"] == "api_error"
            assert "could not be reached" in raised.value.body["error"]["message"]
        finally:
            gw.close()


def test_upstream_timeout_is_504_before_and_an_error_event_after_bytes(tmp_path, upstream):
    from support.fakeupstream import BEFORE_HEADERS
    from support.gateway import Gateway, RecordCollector, gateway_config

    upstream.reset()
    gw = Gateway(gateway_config(tmp_path, upstream.url, upstream_timeout=0.5))
    collector = RecordCollector()
    gw.pm.register(collector)
    try:
        token = gw.create_token()
        upstream.queue("anthropic/stream_text", stall_after=BEFORE_HEADERS)
        response = raw_post(gw, token, {"model": MODEL, "max_tokens": 5, "stream": True, "messages": HELLO})
        assert response.status_code == 504
        assert response.json()["error"]["type"] == "timeout_error"

        upstream.queue("anthropic/stream_text", stall_after=3)
        response = raw_post(gw, token, {"model": MODEL, "max_tokens": 5, "stream": True, "messages": HELLO})
        assert response.status_code == 200
        sent = load_fixture("anthropic/stream_text").chunks()
        assert response.content.startswith(b"".join(sent[:3]))
        assert response.content.endswith(b"\n\n") and b"event: error\ndata: " in response.content[len(b"".join(sent[:3])):]
        ends = collector.wait_for_ends(2)
        assert [e.status for e in ends] == ["failed", "failed"]
    finally:
        gw.close()


def test_client_disconnect_ends_the_interception(gateway, token, upstream, collector):
    upstream.queue("anthropic/stream_text", delay=0.05)
    body = json.dumps({"model": MODEL, "max_tokens": 64, "stream": True, "messages": HELLO}).encode()
    host, port = gateway.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port))) as sock:
        sock.sendall(
            b"POST /api/v2/aibridge/anthropic/v1/messages HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + f"x-api-key: {token}\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body
        )
        assert b"message_start" in _read_until(sock, b"message_start")
    [end] = collector.wait_for_ends()
    assert end.status == "client_disconnected"
    # What arrived before the client left is still recorded.
    assert collector.of("prompt_usage") and collector.of("token_usage")


def _read_until(sock, marker: bytes) -> bytes:
    data = b""
    while marker not in data:
        part = sock.recv(65536)
        assert part, "connection closed early"
        data += part
    return data


def test_client_and_session_are_detected(gateway, token, upstream, collector):
    upstream.queue("anthropic/blocking_text")
    upstream.queue("anthropic/blocking_text")
    claude = {"User-Agent": "claude-cli/2.0.14 (external, cli)"}
    raw_post(gateway, token, {"model": MODEL, "max_tokens": 5, "messages": HELLO},
             headers={**claude, "X-Claude-Code-Session-Id": "3f1c9a52-9d1e-4c1e-9a57-0c6f0a2b5b11"}, stream=False)
    user_id = json.dumps({"device_id": "d1", "session_id": "7b2d0c44-52a8-4d58-8f43-1f3b4d0c2e99"})
    raw_post(gateway, token, {"model": MODEL, "max_tokens": 5, "messages": HELLO, "metadata": {"user_id": user_id}},
             headers=claude, stream=False)
    collector.wait_for_ends(2)
    starts = collector.of("interception_start")
    assert [(s.client, s.client_session_id) for s in starts] == [
        ("Claude Code", "3f1c9a52-9d1e-4c1e-9a57-0c6f0a2b5b11"),
        ("Claude Code", "7b2d0c44-52a8-4d58-8f43-1f3b4d0c2e99"),
    ]
    assert starts[0].user_agent == claude["User-Agent"]


def test_actor_headers_are_sent_when_enabled(tmp_path, upstream):
    from support.gateway import Gateway, gateway_config

    upstream.reset()
    gw = Gateway(gateway_config(tmp_path, upstream.url, send_actor_headers=True))
    try:
        client = anthropic.Anthropic(api_key=gw.create_token("carol"), base_url=gw.bridge_url("anthropic"), max_retries=0)
        upstream.queue("anthropic/blocking_text")
        client.messages.create(model=MODEL, max_tokens=5, messages=HELLO)
        [received] = upstream.requests
        assert received.headers["X-AI-Bridge-Actor-Metadata-Username"] == "carol"
        assert received.headers["X-AI-Bridge-Actor-ID"]
    finally:
        gw.close()


def test_passthrough_routes_inject_the_key_and_are_not_recorded(client, upstream, collector):
    upstream.queue("anthropic/models_list")
    models = client.models.list()
    assert [m.id for m in models.data] == [m["id"] for m in json.loads(load_fixture("anthropic/models_list").body_bytes())["data"]]
    upstream.queue("anthropic/count_tokens")
    count = client.messages.count_tokens(model=MODEL, messages=HELLO)
    assert count.input_tokens == json.loads(load_fixture("anthropic/count_tokens").body_bytes())["input_tokens"]
    assert [r.path for r in upstream.requests] == ["/v1/models", "/v1/messages/count_tokens"]
    assert all(r.headers["x-api-key"] == "sk-ant-upstream-key" for r in upstream.requests)
    assert collector.records == []


@pytest.mark.parametrize(
    "messages, expected",
    [
        ([{"role": "user", "content": [{"type": "text", "text": "first"}, {"type": "image", "source": {}}, {"type": "text", "text": "last"}]}], "last"),
        ([{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}], None),
    ],
)
def test_prompt_is_the_last_user_text(client, upstream, collector, messages, expected):
    upstream.queue("anthropic/blocking_text")
    client.messages.create(model=MODEL, max_tokens=5, messages=messages)
    collector.wait_for_ends()
    assert [p.prompt for p in collector.of("prompt_usage")] == ([expected] if expected else [])
