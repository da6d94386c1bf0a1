"""Injected MCP tools with Chat Completions: the SDK sees one completion, upstream sees every round."""

from __future__ import annotations

import json

import openai
import pytest
import requests
from support.fakeupstream import Response, load_fixture
from support.mcp_gateway import (  # noqa: F401
    INJECTED, collector, fixture_json, fixture_with, gateway, injected_tool_record, mcp, sse_data, token_totals,
)
from support.mcpserver import RETENTION_ANSWER

MODEL = "gpt-4.1"
QUESTION = [{"role": "user", "content": "How long are interception records kept?"}]
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
ROUND1_ID = "chatcmpl-8W00Bo5ABZRWZV33jofrItkiOqaok"


@pytest.fixture
def client(gateway, token, collector):
    return openai.OpenAI(api_key=token, base_url=gateway.bridge_url("openai") + "/v1", max_retries=0)


def raw_post(gateway, token, body: dict):
    return requests.post(
        gateway.bridge_url("openai") + "/v1/chat/completions",
        data=json.dumps(body).encode(),
        headers={"authorization": f"Bearer {token}", "content-type": "application/json"},
        timeout=20,
    )


def answer_text(name: str) -> str:
    chunks = [e for e in sse_data(load_fixture(name).body_bytes()) if isinstance(e, dict)]
    return "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])


def assert_rounds_upstream(upstream, call_id: str, result_text: str = RETENTION_ANSWER):
    first, second = [r.json() for r in upstream.requests]
    assert [t["function"]["name"] for t in first["tools"]] == INJECTED
    assert first["tools"][INJECTED.index("bmcp_docs_search")]["type"] == "function"
    assert first["tools"][INJECTED.index("bmcp_docs_search")]["function"]["parameters"]["properties"]["query"]["type"] == "string"
    assert second["tools"] == first["tools"]
    assert second["messages"][:-2] == first["messages"] == QUESTION
    assistant, tool = second["messages"][-2:]
    assert assistant["role"] == "assistant" and assistant["content"] is None
    [call] = assistant["tool_calls"]
    assert (call["id"], call["function"]["name"]) == (call_id, "bmcp_docs_search")
    assert json.loads(call["function"]["arguments"]) == {"query": "retention policy"}
    assert tool == {"role": "tool", "tool_call_id": call_id, "content": result_text}


def test_streaming_the_client_sees_one_completion(gateway, token, upstream, collector, mcp):
    upstream.queue("openai/chat_stream_injected_tool_round1")
    upstream.queue("openai/chat_stream_injected_tool_round2")
    response = raw_post(gateway, token, {"model": MODEL, "stream": True, "messages": QUESTION})
    body = response.content
    assert b"bmcp_" not in body and b"tool_calls" not in body
    events = sse_data(body)
    assert events.count("[DONE]") == 1 and events[-1] == "[DONE]"
    chunks = events[:-1]
    assert {c["id"] for c in chunks} == {ROUND1_ID}
    assert all(c["choices"] for c in chunks)  # the client did not ask for usage
    finishes = [ch["finish_reason"] for c in chunks for ch in c["choices"] if ch.get("finish_reason")]
    assert finishes == ["stop"]
    text = "".join(ch["delta"].get("content") or "" for c in chunks for ch in c["choices"])
    assert text == answer_text("openai/chat_stream_injected_tool_round2")
    assert mcp.calls == [("search", {"query": "retention policy"})]
    assert_rounds_upstream(upstream, "call_JOUpBzwNnq0LdXCo1nVjlzvP")
    assert all(r.json()["stream_options"] == {"include_usage": True} for r in upstream.requests)

    [end] = collector.wait_for_ends()
    assert end.status == "completed"
    usages = collector.of("token_usage")
    assert [u.msg_id for u in usages] == [ROUND1_ID, "chatcmpl-IdqpdtTNXsWiP19YYymtWv9ofOSvi"]
    assert token_totals(usages) == {"input_tokens": 1402 + 1468, "output_tokens": 19 + 33, "cache_read_input_tokens": 0,
                                    "cache_write_input_tokens": 0}
    tool = injected_tool_record(collector)
    assert (tool.tool, tool.tool_call_id, tool.input) == ("bmcp_docs_search", "call_JOUpBzwNnq0LdXCo1nVjlzvP", '{"query":"retention policy"}')
    assert (tool.server_url, tool.invocation_error, tool.msg_id) == (mcp.url, None, ROUND1_ID)


def test_streaming_sdk_with_usage_gets_the_summed_usage(client, upstream, collector):
    upstream.queue("openai/chat_stream_injected_tool_round1")
    upstream.queue("openai/chat_stream_injected_tool_round2")
    stream = client.chat.completions.create(model=MODEL, messages=QUESTION, stream=True,
                                            stream_options={"include_usage": True})
    chunks = list(stream)
    usage_chunks = [c for c in chunks if c.usage is not None]
    assert len(usage_chunks) == 1 and chunks[-1] is usage_chunks[0]
    usage = usage_chunks[0].usage
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (1402 + 1468, 19 + 33, 1421 + 1501)
    assert {c.id for c in chunks} == {ROUND1_ID}
    assert not any(ch.delta.tool_calls for c in chunks for ch in c.choices)
    collector.wait_for_ends()


def test_blocking_the_client_sees_one_completion(client, upstream, collector, mcp):
    upstream.queue("openai/chat_blocking_injected_tool_round1")
    upstream.queue("openai/chat_blocking_injected_tool_round2")
    completion = client.chat.completions.create(model=MODEL, messages=QUESTION)

    round2 = fixture_json("openai/chat_blocking_injected_tool_round2")
    [choice] = completion.choices
    assert choice.message.content == round2["choices"][0]["message"]["content"]
    assert choice.message.tool_calls is None and choice.finish_reason == "stop"
    assert completion.id == "chatcmpl-1zJLx7tgzLNSITSWqrThnWnLi8crL"
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (1402 + 1468, 19 + 33)
    assert mcp.calls == [("search", {"query": "retention policy"})]
    assert_rounds_upstream(upstream, "call_R89u7FAsXsBUjNfjKTL7upO3")

    [end] = collector.wait_for_ends()
    assert end.status == "completed"
    usages = collector.of("token_usage")
    assert [u.msg_id for u in usages] == ["chatcmpl-1zJLx7tgzLNSITSWqrThnWnLi8crL", "chatcmpl-ashQuGqDgnaguNduSmVUh0LVxpg0P"]
    assert token_totals(usages)["input_tokens"] == 1402 + 1468
    assert injected_tool_record(collector).server_url == mcp.url


@pytest.mark.parametrize("stream", [True, False])
def test_a_failing_tool_is_an_error_result(client, upstream, collector, mcp, stream):
    kind = "stream" if stream else "blocking"
    upstream.queue(fixture_with(f"openai/chat_{kind}_injected_tool_round1", ('"bmcp_docs_search"', '"bmcp_docs_broken_tool"')))
    upstream.queue(f"openai/chat_{kind}_injected_tool_round2")
    if stream:
        text = "".join(c.choices[0].delta.content or "" for c in client.chat.completions.create(
            model=MODEL, messages=QUESTION, stream=True) if c.choices)
    else:
        text = client.chat.completions.create(model=MODEL, messages=QUESTION).choices[0].message.content
    assert text.startswith("According to the documentation")
    tool_message = upstream.requests[1].json()["messages"][-1]
    assert tool_message["role"] == "tool" and "the ticket tracker is down" in tool_message["content"]
    collector.wait_for_ends()
    record = injected_tool_record(collector)
    assert record.tool == "bmcp_docs_broken_tool" and "the ticket tracker is down" in record.invocation_error


def test_client_tools_come_first_and_their_calls_are_relayed(client, upstream, collector, mcp):
    upstream.queue("openai/chat_stream_tool_calls")
    chunks = list(client.chat.completions.create(model=MODEL, messages=QUESTION, tools=[WEATHER_TOOL], stream=True))
    calls = [tc for c in chunks for ch in c.choices for tc in ch.delta.tool_calls or []]
    assert calls and calls[0].function.name == "get_weather"
    [sent] = upstream.requests
    assert [t["function"]["name"] for t in sent.json()["tools"]] == ["get_weather", *INJECTED]
    assert mcp.calls == []
    collector.wait_for_ends()
    assert [t.injected for t in collector.of("tool_usage")] == [False]


def test_mixed_calls_go_to_the_client_renumbered_without_ours(client, upstream, collector, mcp):
    # One stream that calls an injected tool (index 0) and the client's tool (index 1).
    chunks = load_fixture("openai/chat_stream_injected_tool_round1").chunks()
    client_call = {
        "id": ROUND1_ID, "object": "chat.completion.chunk", "created": 1759933637, "model": "gpt-4.1-2025-04-14",
        "choices": [{"index": 0, "delta": {"tool_calls": [{"index": 1, "id": "call_client", "type": "function",
                     "function": {"name": "get_weather", "arguments": "{\"city\":\"Oslo\"}"}}]}, "finish_reason": None}],
    }
    mixed = chunks[:-3] + [f"data: {json.dumps(client_call)}\n\n".encode()] + chunks[-3:]
    upstream.queue(Response(200, {"content-type": "text/event-stream"}, mixed))
    stream = client.chat.completions.create(model=MODEL, messages=QUESTION, tools=[WEATHER_TOOL], stream=True)
    calls = [tc for c in stream for ch in c.choices for tc in ch.delta.tool_calls or []]
    assert [(tc.index, tc.id, tc.function.name) for tc in calls] == [(0, "call_client", "get_weather")]
    assert len(upstream.requests) == 1 and mcp.calls == []
    collector.wait_for_ends()
    records = {t.tool: t for t in collector.of("tool_usage")}
    assert not records["get_weather"].injected
    assert records["bmcp_docs_search"].injected and records["bmcp_docs_search"].invocation_error.startswith("not run")


def test_several_choices_get_no_tools(gateway, token, upstream, collector):
    upstream.queue("openai/chat_blocking_text")
    raw = json.dumps({"model": MODEL, "n": 2, "messages": QUESTION}).encode()
    requests.post(gateway.bridge_url("openai") + "/v1/chat/completions", data=raw,
                  headers={"authorization": f"Bearer {token}", "content-type": "application/json"}, timeout=20)
    [sent] = upstream.requests
    assert sent.body == raw
    collector.wait_for_ends()


def test_an_upstream_error_in_a_later_round_ends_the_stream_with_an_error(gateway, token, upstream, collector):
    upstream.queue("openai/chat_stream_injected_tool_round1")
    upstream.queue("openai/error_429")
    body = raw_post(gateway, token, {"model": MODEL, "stream": True, "messages": QUESTION}).content
    events = sse_data(body)
    assert events[-1] == "[DONE]" and events.count("[DONE]") == 1
    assert "error" in events[-2] and events[-2]["error"]["message"]
    [end] = collector.wait_for_ends()
    assert end.status == "failed"
