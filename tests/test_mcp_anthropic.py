"""Injected MCP tools with Anthropic Messages: the SDK sees one answer, upstream sees every round."""

from __future__ import annotations

import json
import logging
import socket

import anthropic
import pytest
import requests
from support.fakebedrock import ACCESS_KEY, REGION, SECRET_KEY, FakeBedrock, stream_answer
from support.fakeupstream import Response, load_fixture
from support.gateway import Gateway, RecordCollector, gateway_config
from support.mcp_gateway import (  # noqa: F401
    INJECTED, collector, fixture_json, fixture_with, gateway, injected_tool_record, mcp, sse_data, sse_names, token_totals,
)
from support.mcpserver import RETENTION_ANSWER

import aibridge
from aibridge.config import BedrockConfig, MCPServerConfig, ProviderConfig

MODEL = "claude-sonnet-4-6"
QUESTION = [{"role": "user", "content": "How long are interception records kept?"}]
WEATHER_TOOL = {
    "name": "get_weather",
    "description": "Current weather for a city",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}
ROUND1_TEXT = "I'll search the documentation for the retention policy."


@pytest.fixture
def client(gateway, token, collector):
    return anthropic.Anthropic(api_key=token, base_url=gateway.bridge_url("anthropic"), max_retries=0)


def raw_post(gateway, token, body: dict):
    return requests.post(
        gateway.bridge_url("anthropic") + "/v1/messages",
        data=json.dumps(body).encode(),
        headers={"x-api-key": token, "anthropic-version": "2023-06-01", "content-type": "application/json"},
        stream=True,
        timeout=20,
    )


def stream_answer_text(name: str) -> str:
    return "".join(
        e["delta"]["text"] for e in sse_data(load_fixture(name).body_bytes())
        if e["type"] == "content_block_delta" and e["delta"]["type"] == "text_delta"
    )


def assert_rounds_upstream(upstream, tool_use_id: str, is_error: bool = False, result_text: str = RETENTION_ANSWER):
    """Round 1 carries the injected tools; round 2 adds the assistant turn and the tool result."""
    first, second = [r.json() for r in upstream.requests]
    assert [t["name"] for t in first["tools"]] == INJECTED
    search = first["tools"][INJECTED.index("bmcp_docs_search")]
    assert search["description"] == "Search the internal documentation."
    assert search["input_schema"]["properties"]["query"]["type"] == "string"
    assert second["tools"] == first["tools"]
    assert second["messages"][:-2] == first["messages"] == QUESTION
    assistant, results = second["messages"][-2:]
    assert assistant["role"] == "assistant"
    assert assistant["content"][0] == {"type": "text", "text": ROUND1_TEXT}
    tool_use = assistant["content"][1]
    assert (tool_use["type"], tool_use["id"], tool_use["input"]) == ("tool_use", tool_use_id, {"query": "retention policy"})
    assert results["role"] == "user"
    [result] = results["content"]
    assert result["type"] == "tool_result" and result["tool_use_id"] == tool_use_id
    assert result_text in result["content"]
    assert result.get("is_error", False) is is_error


def test_streaming_the_client_sees_one_answer(client, upstream, collector, mcp):
    upstream.queue("anthropic/stream_injected_tool_round1")
    upstream.queue("anthropic/stream_injected_tool_round2")
    with client.messages.stream(model=MODEL, max_tokens=512, messages=QUESTION) as stream:
        events = list(stream)
        final = stream.get_final_message()

    kinds = [e.type for e in events]
    assert kinds.count("message_start") == 1 and kinds.count("message_stop") == 1
    assert [b.type for b in final.content] == ["text", "text"]
    assert final.content[0].text == ROUND1_TEXT
    assert final.content[1].text == stream_answer_text("anthropic/stream_injected_tool_round2")
    assert final.id == "msg_01bnisXGH7j4VupmKlm445Ha"  # the first round's
    assert final.stop_reason == "end_turn"
    assert (final.usage.input_tokens, final.usage.output_tokens) == (1650 + 1789, 71 + 64)
    assert mcp.calls == [("search", {"query": "retention policy"})]
    assert_rounds_upstream(upstream, "toolu_01VfuOeUweFWXEFgozBgaV5L")

    [end] = collector.wait_for_ends()
    assert end.status == "completed"
    usages = collector.of("token_usage")
    assert [u.msg_id for u in usages] == ["msg_01bnisXGH7j4VupmKlm445Ha", "msg_01DKRT7skh6gXZQCCRz70Xaj"]
    assert token_totals(usages) == {"input_tokens": 3439, "output_tokens": 135, "cache_read_input_tokens": 0,
                                    "cache_write_input_tokens": 0}
    tool = injected_tool_record(collector)
    assert (tool.tool, tool.tool_call_id, tool.input) == ("bmcp_docs_search", "toolu_01VfuOeUweFWXEFgozBgaV5L", '{"query":"retention policy"}')
    assert (tool.server_url, tool.invocation_error, tool.msg_id) == (mcp.url, None, "msg_01bnisXGH7j4VupmKlm445Ha")
    [prompt] = collector.of("prompt_usage")
    assert (prompt.prompt, prompt.msg_id) == (QUESTION[0]["content"], "msg_01bnisXGH7j4VupmKlm445Ha")


def test_streaming_wire_events_have_contiguous_indexes(gateway, token, upstream, collector):
    upstream.queue("anthropic/stream_injected_tool_round1")
    upstream.queue("anthropic/stream_injected_tool_round2")
    response = raw_post(gateway, token, {"model": MODEL, "max_tokens": 512, "stream": True, "messages": QUESTION})
    body = response.content
    assert b"bmcp_" not in body and b"tool_use" not in body.replace(b'"stop_reason":"tool_use"', b"")
    names = sse_names(body)
    assert names.count("message_start") == 1 and names.count("message_stop") == 1
    assert names[-2:] == ["message_delta", "message_stop"]
    events = sse_data(body)
    starts = [e["index"] for e in events if e["type"] == "content_block_start"]
    assert starts == [0, 1]
    [delta] = [e for e in events if e["type"] == "message_delta"]
    assert delta["delta"]["stop_reason"] == "end_turn"
    assert delta["usage"]["input_tokens"] == 3439 and delta["usage"]["output_tokens"] == 135
    collector.wait_for_ends()


def test_blocking_the_client_sees_one_answer(client, upstream, collector, mcp):
    upstream.queue("anthropic/blocking_injected_tool_round1")
    upstream.queue("anthropic/blocking_injected_tool_round2")
    message = client.messages.create(model=MODEL, max_tokens=512, messages=QUESTION)

    round2 = fixture_json("anthropic/blocking_injected_tool_round2")
    assert [b.type for b in message.content] == ["text", "text"]
    assert message.content[0].text == ROUND1_TEXT
    assert message.content[1].text == round2["content"][0]["text"]
    assert message.id == "msg_01LAzY0oW0Kp1VXJOUpBzwNn"
    assert message.stop_reason == "end_turn"
    assert (message.usage.input_tokens, message.usage.output_tokens) == (1650 + 1789, 71 + 64)
    assert mcp.calls == [("search", {"query": "retention policy"})]
    assert_rounds_upstream(upstream, "toolu_01wZMJ3SXnD8VWHYdrC8ZMKA")

    [end] = collector.wait_for_ends()
    assert end.status == "completed"
    usages = collector.of("token_usage")
    assert [u.msg_id for u in usages] == ["msg_01LAzY0oW0Kp1VXJOUpBzwNn", "msg_01mFbWdZWb8zNCHtqBKUAZoq"]
    assert token_totals(usages)["input_tokens"] == 3439 and token_totals(usages)["output_tokens"] == 135
    tool = injected_tool_record(collector)
    assert (tool.tool, tool.server_url, tool.invocation_error) == ("bmcp_docs_search", mcp.url, None)


@pytest.mark.parametrize("stream", [True, False])
def test_a_failing_tool_is_an_error_result_and_the_loop_goes_on(client, upstream, collector, mcp, stream):
    kind = "stream" if stream else "blocking"
    upstream.queue(fixture_with(f"anthropic/{kind}_injected_tool_round1",
                                ('"name":"bmcp_docs_search"', '"name":"bmcp_docs_broken_tool"')))
    upstream.queue(f"anthropic/{kind}_injected_tool_round2")
    if stream:
        with client.messages.stream(model=MODEL, max_tokens=512, messages=QUESTION) as events:
            final = events.get_final_message()
    else:
        final = client.messages.create(model=MODEL, max_tokens=512, messages=QUESTION)
    assert final.stop_reason == "end_turn" and len(final.content) == 2
    assert mcp.calls == [("broken_tool", {"reason": ""})]  # the server ignores the unknown "query"
    second = upstream.requests[1].json()
    [result] = second["messages"][-1]["content"]
    assert result["is_error"] is True and "the ticket tracker is down" in result["content"]
    [end] = collector.wait_for_ends()
    assert end.status == "completed"
    tool = injected_tool_record(collector)
    assert tool.tool == "bmcp_docs_broken_tool" and "the ticket tracker is down" in tool.invocation_error


def test_client_tools_come_first_and_a_plain_answer_passes_through(client, upstream, collector, mcp):
    upstream.queue("anthropic/stream_text")
    with client.messages.stream(model=MODEL, max_tokens=64, messages=QUESTION, tools=[WEATHER_TOOL]) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == stream_answer_text("anthropic/stream_text")
    assert final.usage.output_tokens > 0
    [sent] = upstream.requests
    assert [t["name"] for t in sent.json()["tools"]] == ["get_weather", *INJECTED]
    assert mcp.calls == []
    [end] = collector.wait_for_ends()
    assert end.status == "completed" and collector.of("tool_usage") == []


def test_a_client_tool_call_is_relayed_and_ends_the_loop(client, upstream, collector, mcp):
    upstream.queue("anthropic/stream_parallel_tool_use")
    with client.messages.stream(model=MODEL, max_tokens=256, messages=QUESTION, tools=[WEATHER_TOOL]) as stream:
        final = stream.get_final_message()
    uses = [b for b in final.content if b.type == "tool_use"]
    assert uses and all(not b.name.startswith("bmcp_") for b in uses)
    assert final.stop_reason == "tool_use"
    assert len(upstream.requests) == 1 and mcp.calls == []
    collector.wait_for_ends()
    assert all(not t.injected for t in collector.of("tool_usage"))


def test_mixed_client_and_injected_calls_go_to_the_client_without_ours(client, upstream, collector, mcp):
    mixed = fixture_json("anthropic/blocking_injected_tool_round1")
    mixed["content"].append({"type": "tool_use", "id": "toolu_client_1", "name": "get_weather", "input": {"city": "Oslo"}})
    upstream.queue(Response(200, {"content-type": "application/json"}, json.dumps(mixed)))
    message = client.messages.create(model=MODEL, max_tokens=256, messages=QUESTION, tools=[WEATHER_TOOL])
    assert [b.type for b in message.content] == ["text", "tool_use"]
    assert message.content[1].name == "get_weather" and message.stop_reason == "tool_use"
    assert len(upstream.requests) == 1 and mcp.calls == []
    collector.wait_for_ends()
    records = {t.tool: t for t in collector.of("tool_usage")}
    assert not records["get_weather"].injected and records["get_weather"].invocation_error is None
    assert records["bmcp_docs_search"].injected
    assert records["bmcp_docs_search"].invocation_error.startswith("not run: the model also called a client tool")


def test_haiku_streams_get_no_tools_and_the_body_goes_as_sent(gateway, token, upstream, collector):
    upstream.queue("anthropic/stream_haiku_text")
    body = {"model": "claude-haiku-4-5", "max_tokens": 64, "stream": True, "messages": QUESTION}
    raw = json.dumps(body).encode()
    response = requests.post(
        gateway.bridge_url("anthropic") + "/v1/messages", data=raw,
        headers={"x-api-key": token, "anthropic-version": "2023-06-01", "content-type": "application/json"}, timeout=20,
    )
    assert response.content == load_fixture("anthropic/stream_haiku_text").body_bytes()
    [sent] = upstream.requests
    assert sent.body == raw
    collector.wait_for_ends()


def test_haiku_blocking_requests_do_get_tools(client, upstream, collector):
    upstream.queue("anthropic/blocking_text")
    client.messages.create(model="claude-haiku-4-5", max_tokens=64, messages=QUESTION)
    [sent] = upstream.requests
    assert [t["name"] for t in sent.json()["tools"]] == INJECTED
    collector.wait_for_ends()


def test_an_upstream_error_in_a_later_round_reaches_the_stream(client, upstream, collector, mcp):
    upstream.queue("anthropic/stream_injected_tool_round1")
    upstream.queue("anthropic/error_429_rate_limit")
    with pytest.raises(anthropic.APIStatusError) as caught:
        with client.messages.stream(model=MODEL, max_tokens=512, messages=QUESTION) as stream:
            for _ in stream:
                pass
    assert "rate" in str(caught.value).lower()
    [end] = collector.wait_for_ends()
    assert (end.status, end.error.kind, end.error.upstream_status) == ("failed", "upstream_status", 429)
    assert end.error.message == json.loads(load_fixture("anthropic/error_429_rate_limit").body_bytes())["error"]["message"]
    assert injected_tool_record(collector).invocation_error is None  # the tool ran; the next round failed


def test_a_later_round_that_is_not_a_stream_ends_the_stream_with_an_error(client, upstream, collector, mcp):
    upstream.queue("anthropic/stream_injected_tool_round1")
    upstream.queue("anthropic/blocking_text")  # a JSON answer to a streaming request
    with pytest.raises(anthropic.APIStatusError, match="answered a streaming request without an event stream"):
        with client.messages.stream(model=MODEL, max_tokens=512, messages=QUESTION) as stream:
            for _ in stream:
                pass
    [end] = collector.wait_for_ends()
    assert (end.status, end.error.kind) == ("failed", "stream_error")
    assert end.error.message == f"the upstream 127.0.0.1:{upstream.port} answered a streaming request without an event stream"


def test_an_upstream_error_in_a_later_blocking_round_is_relayed(client, upstream, collector):
    upstream.queue("anthropic/blocking_injected_tool_round1")
    upstream.queue("anthropic/error_429_rate_limit")
    with pytest.raises(anthropic.RateLimitError):
        client.messages.create(model=MODEL, max_tokens=512, messages=QUESTION)
    [end] = collector.wait_for_ends()
    assert (end.status, end.error.kind, end.error.upstream_status) == ("failed", "upstream_status", 429)


@pytest.fixture
def capped(tmp_path, upstream, mcp):
    """A gateway that runs injected tools at most once per request."""
    config = gateway_config(tmp_path, upstream.url, mcp_servers=(MCPServerConfig(name="docs", url=mcp.url),), mcp_max_rounds=1)
    gw = Gateway(config)
    collector = RecordCollector()
    gw.pm.register(collector, name="test-collector")
    upstream.reset()
    mcp.calls.clear()
    client = anthropic.Anthropic(api_key=gw.create_token("bob"), base_url=gw.bridge_url("anthropic"), max_retries=0)
    yield client, collector
    gw.close()


def test_the_loop_cap_ends_a_runaway_stream_with_an_error(capped, upstream, mcp):
    client, collector = capped
    upstream.queue("anthropic/stream_injected_tool_round1")
    upstream.queue("anthropic/stream_injected_tool_round1")
    with pytest.raises(anthropic.APIStatusError, match="stopped after 1 rounds"):
        with client.messages.stream(model=MODEL, max_tokens=512, messages=QUESTION) as stream:
            for _ in stream:
                pass
    assert len(upstream.requests) == 2 and len(mcp.calls) == 1
    [end] = collector.wait_for_ends()
    assert (end.status, end.error.kind) == ("failed", "stream_error")
    assert "stopped after 1 rounds" in end.error.message
    ran, stopped = collector.of("tool_usage")
    assert ran.invocation_error is None and "stopped after 1 rounds" in stopped.invocation_error
    assert len(collector.of("token_usage")) == 2


def test_the_loop_cap_answers_a_blocking_request_with_an_error(capped, upstream, mcp):
    client, collector = capped
    upstream.queue("anthropic/blocking_injected_tool_round1")
    upstream.queue("anthropic/blocking_injected_tool_round1")
    with pytest.raises(anthropic.UnprocessableEntityError, match="stopped after 1 rounds"):
        client.messages.create(model=MODEL, max_tokens=512, messages=QUESTION)
    assert len(upstream.requests) == 2 and len(mcp.calls) == 1
    [end] = collector.wait_for_ends()
    assert (end.status, end.error.kind, end.error.upstream_status) == ("failed", "stream_error", None)


class AliceCredential:
    """A plugin that gives alice her own credential for the docs server."""

    @aibridge.hookimpl
    def aibridge_mcp_credential(self, interception, server):
        if interception.initiator_username == "alice" and server.name == "docs":
            return "Bearer alice-docs-token"
        return None


@pytest.fixture
def alice_credential(gateway):
    """AliceCredential registered on the module's gateway for one test."""
    with gateway.registered(AliceCredential(), "test-credential") as plugin:
        yield plugin


def test_a_per_user_credential_is_used_for_the_call(alice_credential, client, upstream, collector, mcp):
    upstream.queue("anthropic/blocking_injected_tool_round1")
    upstream.queue("anthropic/blocking_injected_tool_round2")
    seen_before = len(mcp.seen_headers)
    client.messages.create(model=MODEL, max_tokens=512, messages=QUESTION)
    posts = [headers for method, headers in mcp.seen_headers[seen_before:] if method == "POST"]
    assert posts and all(h.get("authorization") == "Bearer alice-docs-token" for h in posts)
    assert mcp.calls == [("search", {"query": "retention policy"})]
    collector.wait_for_ends()


def test_an_unreachable_mcp_server_leaves_requests_alone(tmp_path, upstream, caplog):
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused
        dead = f"http://127.0.0.1:{unused.getsockname()[1]}/mcp"
        caplog.set_level(logging.WARNING, logger="aibridge.mcp")
        gw = Gateway(gateway_config(tmp_path, upstream.url, mcp_servers=(MCPServerConfig(name="docs", url=dead),)))
        try:
            upstream.reset()
            upstream.queue("anthropic/blocking_text")
            client = anthropic.Anthropic(api_key=gw.create_token("bob"), base_url=gw.bridge_url("anthropic"), max_retries=0)
            message = client.messages.create(model=MODEL, max_tokens=64, messages=QUESTION)
        finally:
            gw.close()
    assert message.content[0].text
    [sent] = upstream.requests
    assert "tools" not in sent.json()
    assert any("MCP server 'docs' is unavailable" in r.getMessage() for r in caplog.records)


def test_the_loop_works_for_an_instance_on_bedrock(tmp_path, mcp):
    with FakeBedrock() as bedrock:
        bedrock_settings = BedrockConfig(region=REGION, base_url=bedrock.url, access_keys=(ACCESS_KEY,),
                                         access_key_secrets=(SECRET_KEY,), model="us.anthropic.claude-sonnet-4-5-v1:0",
                                         small_fast_model="us.anthropic.claude-haiku-4-5-v1:0")
        provider = ProviderConfig(type="anthropic", name="bedrock", base_url="https://api.anthropic.com", bedrock=bedrock_settings)
        config = gateway_config(tmp_path, bedrock.url, providers=(provider,),
                                mcp_servers=(MCPServerConfig(name="docs", url=mcp.url),))
        gw = Gateway(config)
        try:
            mcp.calls.clear()
            bedrock.queue(stream_answer("anthropic/stream_injected_tool_round1"))
            bedrock.queue(stream_answer("anthropic/stream_injected_tool_round2"))
            client = anthropic.Anthropic(api_key=gw.create_token("bob"), base_url=gw.bridge_url("bedrock"), max_retries=0)
            with client.messages.stream(model=MODEL, max_tokens=512, messages=QUESTION) as stream:
                final = stream.get_final_message()
        finally:
            gw.close()
        assert bedrock.refusals == []
        invocations = bedrock.invocations()
    assert [action for _, action, _ in invocations] == ["invoke-with-response-stream"] * 2
    assert [t["name"] for t in invocations[0][2]["tools"]] == INJECTED
    assert invocations[1][2]["messages"][-1]["content"][0]["content"] == RETENTION_ANSWER
    assert [b.type for b in final.content] == ["text", "text"] and final.stop_reason == "end_turn"
    assert mcp.calls == [("search", {"query": "retention policy"})]


def test_thinking_goes_back_upstream_with_its_signature_and_reaches_the_client(client, upstream, collector, mcp):
    upstream.queue(fixture_with("anthropic/stream_thinking_tool_use", ('"name":"get_weather"', '"name":"bmcp_docs_search"')))
    upstream.queue("anthropic/stream_injected_tool_round2")
    with client.messages.stream(model=MODEL, max_tokens=2048, messages=QUESTION,
                                thinking={"type": "enabled", "budget_tokens": 1024}) as stream:
        final = stream.get_final_message()
    thinking = [e for e in sse_data(load_fixture("anthropic/stream_thinking_tool_use").body_bytes())
                if e.get("type") == "content_block_delta" and e["delta"]["type"] == "signature_delta"]
    signature = thinking[0]["delta"]["signature"]
    assert [b.type for b in final.content] == ["thinking", "text"]
    assert final.content[0].signature == signature
    [block, tool_use] = upstream.requests[1].json()["messages"][-2]["content"]
    assert block["type"] == "thinking" and block["signature"] == signature
    assert block["thinking"] == final.content[0].thinking
    assert tool_use["input"] == {"location": "San Francisco, CA", "unit": "celsius"}
    collector.wait_for_ends()
    [thought] = collector.of("model_thought")
    assert thought.content == final.content[0].thinking
    # The search tool needs a query: the server refuses, the model gets an error result, the loop goes on.
    assert injected_tool_record(collector).invocation_error
    assert upstream.requests[1].json()["messages"][-1]["content"][0]["is_error"] is True
