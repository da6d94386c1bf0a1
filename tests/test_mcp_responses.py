"""Injected MCP tools with Responses: the SDK sees one response, upstream sees every round."""

from __future__ import annotations

import json

import openai
import pytest
import requests
from support.fakeupstream import Response
from support.mcp_gateway import (  # noqa: F401
    INJECTED, collector, fixture_json, fixture_with, gateway, injected_tool_record, mcp, sse_data, sse_names, token_totals,
)
from support.mcpserver import RETENTION_ANSWER

MODEL = "gpt-4.1"
QUESTION = "How long are interception records kept?"
WEATHER_TOOL = {
    "type": "function",
    "name": "get_weather",
    "description": "Current weather for a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}
ANSWER = ("According to the documentation, interception records are kept for 60 days by default. "
          "Set `--aibridge-retention` to change it; `0` keeps them forever.")


@pytest.fixture
def client(gateway, token, collector):
    return openai.OpenAI(api_key=token, base_url=gateway.bridge_url("openai") + "/v1", max_retries=0)


def raw_post(gateway, token, body: dict):
    return requests.post(
        gateway.bridge_url("openai") + "/v1/responses",
        data=json.dumps(body).encode(),
        headers={"authorization": f"Bearer {token}", "content-type": "application/json"},
        timeout=20,
    )


def assert_rounds_upstream(upstream, call_id: str, item_id: str, result_text: str = RETENTION_ANSWER):
    first, second = [r.json() for r in upstream.requests]
    assert [t["name"] for t in first["tools"]] == INJECTED
    assert first["tools"][INJECTED.index("bmcp_docs_search")]["type"] == "function"
    assert first["tools"][INJECTED.index("bmcp_docs_search")]["parameters"]["properties"]["query"]["type"] == "string"
    assert first["input"] == QUESTION
    assert second["tools"] == first["tools"]
    message, call, output = second["input"]
    assert message == {"type": "message", "role": "user", "content": QUESTION}
    assert (call["type"], call["id"], call["call_id"], call["name"]) == ("function_call", item_id, call_id, "bmcp_docs_search")
    assert json.loads(call["arguments"]) == {"query": "retention policy"}
    assert output == {"type": "function_call_output", "call_id": call_id, "output": result_text}


def test_streaming_the_client_sees_one_response(gateway, token, upstream, collector, mcp):
    upstream.queue("openai/responses_stream_injected_tool_round1")
    upstream.queue("openai/responses_stream_injected_tool_round2")
    body = raw_post(gateway, token, {"model": MODEL, "stream": True, "input": QUESTION}).content
    assert b"bmcp_" not in body and b"function_call" not in body
    events = sse_data(body)
    names = sse_names(body)
    assert names.count("response.created") == 1 and names.count("response.completed") == 1
    assert names[0] == "response.created" and names[-1] == "response.completed"
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    assert {e["output_index"] for e in events if "output_index" in e} == {0}
    completed = events[-1]["response"]
    # The first round only called an injected tool: the client gets the final (stored, complete) response's id.
    assert completed["id"] == "resp_68e65874433c77cd6dfcdde560bc6d55ed04f7cef3197f68"
    assert {e["response"]["id"] for e in events if "response" in e} == {completed["id"]}
    assert [item["type"] for item in completed["output"]] == ["message"]
    assert completed["output"][0]["content"][0]["text"] == ANSWER
    assert completed["tools"] == []
    assert (completed["usage"]["input_tokens"], completed["usage"]["output_tokens"]) == (1388 + 1455, 20 + 33)
    assert completed["usage"]["total_tokens"] == 1408 + 1488
    assert mcp.calls == [("search", {"query": "retention policy"})]
    assert_rounds_upstream(upstream, "call_B4QiIgGSB70NxESU2yiHOohS", "fc_68e60f72fdc2cd5dbd8d0957694265c8cc8477181fd82dbe")

    [end] = collector.wait_for_ends()
    assert end.status == "completed"
    usages = collector.of("token_usage")
    assert [u.msg_id for u in usages] == ["resp_68e67be96736770c2deb0b73d1323aa5cc8477181fd82dbe",
                                          "resp_68e65874433c77cd6dfcdde560bc6d55ed04f7cef3197f68"]
    assert token_totals(usages) == {"input_tokens": 1388 + 1455, "output_tokens": 20 + 33, "cache_read_input_tokens": 0,
                                    "cache_write_input_tokens": 0}
    tool = injected_tool_record(collector)
    assert (tool.tool, tool.tool_call_id, tool.input) == ("bmcp_docs_search", "call_B4QiIgGSB70NxESU2yiHOohS", '{"query":"retention policy"}')
    assert (tool.server_url, tool.invocation_error) == (mcp.url, None)


def test_streaming_sdk_final_response(client, upstream, collector):
    upstream.queue("openai/responses_stream_injected_tool_round1")
    upstream.queue("openai/responses_stream_injected_tool_round2")
    with client.responses.stream(model=MODEL, input=QUESTION) as stream:
        text = "".join(e.delta for e in stream if e.type == "response.output_text.delta")
        final = stream.get_final_response()
    assert text == ANSWER == final.output_text
    assert [item.type for item in final.output] == ["message"]
    assert final.usage.input_tokens == 1388 + 1455
    collector.wait_for_ends()


def test_blocking_the_client_sees_one_response(client, upstream, collector, mcp):
    upstream.queue("openai/responses_blocking_injected_tool_round1")
    upstream.queue("openai/responses_blocking_injected_tool_round2")
    response = client.responses.create(model=MODEL, input=QUESTION)
    assert response.output_text == ANSWER
    assert [item.type for item in response.output] == ["message"]
    assert response.id == "resp_68e641f945385b18544cc8a595aff0179eb5bc6c90d1d55e"
    assert response.tools == []
    assert (response.usage.input_tokens, response.usage.output_tokens) == (1388 + 1455, 20 + 33)
    assert mcp.calls == [("search", {"query": "retention policy"})]
    assert_rounds_upstream(upstream, "call_KDxOkacdJ28B9NOcOfDrXvoP", "fc_68e676e695d449bc9a97e404d8317323516c310cf867478d")
    [end] = collector.wait_for_ends()
    assert end.status == "completed"
    assert len(collector.of("token_usage")) == 2
    assert injected_tool_record(collector).invocation_error is None


@pytest.mark.parametrize("stream", [True, False])
def test_a_failing_tool_is_an_error_output(client, upstream, collector, mcp, stream):
    kind = "stream" if stream else "blocking"
    if stream:  # the item's name closes its object; the echoed tools list is left alone
        upstream.queue(fixture_with("openai/responses_stream_injected_tool_round1",
                                    ('"name":"bmcp_docs_search"}', '"name":"bmcp_docs_broken_tool"}')))
    else:
        round1 = fixture_json("openai/responses_blocking_injected_tool_round1")
        round1["output"][0]["name"] = "bmcp_docs_broken_tool"
        upstream.queue(Response(200, {"content-type": "application/json"}, json.dumps(round1)))
    upstream.queue(f"openai/responses_{kind}_injected_tool_round2")
    if stream:
        with client.responses.stream(model=MODEL, input=QUESTION) as events:
            final = events.get_final_response()
    else:
        final = client.responses.create(model=MODEL, input=QUESTION)
    assert final.output_text == ANSWER
    output = upstream.requests[1].json()["input"][-1]
    assert output["type"] == "function_call_output" and "the ticket tracker is down" in output["output"]
    collector.wait_for_ends()
    record = injected_tool_record(collector)
    assert record.tool == "bmcp_docs_broken_tool" and "the ticket tracker is down" in record.invocation_error


def test_client_tools_come_first_and_their_calls_are_relayed(client, upstream, collector, mcp):
    upstream.queue("openai/responses_stream_function_call")
    with client.responses.stream(model=MODEL, input=QUESTION, tools=[WEATHER_TOOL]) as stream:
        final = stream.get_final_response()
    assert [item.name for item in final.output if item.type == "function_call"] == ["get_weather"]
    [sent] = upstream.requests
    assert [t["name"] for t in sent.json()["tools"]] == ["get_weather", *INJECTED]
    assert [t.name for t in final.tools] == ["get_weather"]
    assert mcp.calls == []
    collector.wait_for_ends()
    assert [t.injected for t in collector.of("tool_usage")] == [False]


def test_input_items_and_previous_response_are_kept(client, upstream, collector):
    upstream.queue("openai/responses_blocking_injected_tool_round1")
    upstream.queue("openai/responses_blocking_injected_tool_round2")
    items = [{"role": "user", "content": [{"type": "input_text", "text": QUESTION}]}]
    client.responses.create(model=MODEL, input=items, previous_response_id="resp_earlier", instructions="Be brief.")
    first, second = [r.json() for r in upstream.requests]
    assert second["input"][0] == first["input"][0] == items[0]
    assert second["previous_response_id"] == "resp_earlier" and second["instructions"] == "Be brief."
    assert [i["type"] for i in second["input"][1:]] == ["function_call", "function_call_output"]
    collector.wait_for_ends()


def test_an_upstream_error_in_a_later_round_is_an_error_event(gateway, token, upstream, collector):
    upstream.queue("openai/responses_stream_injected_tool_round1")
    upstream.queue("openai/error_429")
    body = raw_post(gateway, token, {"model": MODEL, "stream": True, "input": QUESTION}).content
    events = sse_data(body)
    assert events[-1]["type"] == "error" and events[-1]["message"]
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    [end] = collector.wait_for_ends()
    assert end.status == "failed"


def test_without_store_the_stream_starts_at_once_with_the_first_id(gateway, token, upstream, collector):
    upstream.queue("openai/responses_stream_injected_tool_round1")
    upstream.queue("openai/responses_stream_injected_tool_round2")
    body = raw_post(gateway, token, {"model": MODEL, "stream": True, "store": False, "input": QUESTION}).content
    events = sse_data(body)
    assert [e["type"] for e in events[:2]] == ["response.created", "response.in_progress"]
    assert {e["response"]["id"] for e in events if "response" in e} == {"resp_68e67be96736770c2deb0b73d1323aa5cc8477181fd82dbe"}
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    assert events[-1]["response"]["output"][0]["content"][0]["text"] == ANSWER
    assert upstream.requests[1].json()["store"] is False
    collector.wait_for_ends()


def test_a_visible_item_before_the_injected_call_is_kept(client, upstream, collector):
    round1 = fixture_json("openai/responses_blocking_injected_tool_round1")
    note = {"id": "msg_note", "type": "message", "status": "completed", "role": "assistant",
            "content": [{"type": "output_text", "annotations": [], "text": "Let me look that up."}]}
    round1["output"].insert(0, note)
    upstream.queue(Response(200, {"content-type": "application/json"}, json.dumps(round1)))
    upstream.queue("openai/responses_blocking_injected_tool_round2")
    response = client.responses.create(model=MODEL, input=QUESTION)
    assert [item.id for item in response.output][0] == "msg_note"
    assert response.output_text == "Let me look that up." + ANSWER
    assert [i["type"] for i in upstream.requests[1].json()["input"]] == ["message", "message", "function_call", "function_call_output"]
    collector.wait_for_ends()
