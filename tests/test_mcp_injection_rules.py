"""How injected MCP tools look to providers and clients: names within OpenAI's limit, a stable order after the
client's own tools (so prompt caching keeps working), and never in the tools a Responses answer echoes.

Against the real MCP test server and the real gateway.
"""

from __future__ import annotations

import dataclasses
import json
import re

import openai
import pytest
import requests
from support.client_recordings import recording, replay
from support.mcp_gateway import (  # noqa: F401
    INJECTED, collector, fixture_with, gateway, mcp, sse_data,
)
from support.mcpserver import RETENTION_ANSWER, MCPTestServer

from aibridge.config import MCPServerConfig
from aibridge_plugins.mcp.plugin import servers as mcp_servers
from support.gateway import Gateway, RecordCollector, gateway_config

# 54 characters: every tool's bmcp_<server>_<tool> name is longer than OpenAI's 64.
LONG_SERVER = "company-internal-engineering-documentation-and-tickets"
SHORTENED = re.compile(rf"^bmcp_{LONG_SERVER[:50]}_[0-9a-f]{{8}}$")


def long_named_gateway(data_dir, upstream, mcp) -> Gateway:
    data_dir.mkdir()
    return Gateway(gateway_config(data_dir, upstream.url, mcp_servers=(MCPServerConfig(name=LONG_SERVER, url=mcp.url),)))


def chat(gw: Gateway, token: str) -> openai.OpenAI:
    return openai.OpenAI(api_key=token, base_url=gw.bridge_url("openai") + "/v1", max_retries=0)


def offered(sent) -> dict[str, str]:
    """Description -> name of each tool a Chat request offered."""
    return {t["function"]["description"]: t["function"]["name"] for t in sent.json()["tools"]}


def test_long_names_are_shortened_the_same_way_everywhere_and_mapped_back(tmp_path, upstream, mcp):
    first = long_named_gateway(tmp_path / "first", upstream, mcp)
    try:
        upstream.reset()
        upstream.queue("openai/chat_blocking_text")
        chat(first, first.create_token()).chat.completions.create(model="gpt-4.1", messages=[{"role": "user", "content": "hi"}])
        names = offered(upstream.requests[0])
    finally:
        first.close()
    assert len(names) == 3 and len(set(names.values())) == 3
    assert all(len(name) == 64 and SHORTENED.match(name) for name in names.values()), names
    search = names["Search the internal documentation."]

    # Another gateway (a restart, another host) gives the same names; the model's call reaches the MCP tool.
    second = long_named_gateway(tmp_path / "second", upstream, mcp)
    records = RecordCollector()
    second.pm.register(records)
    try:
        upstream.reset()
        mcp.calls.clear()
        upstream.queue(fixture_with("openai/chat_blocking_injected_tool_round1", ("bmcp_docs_search", search)))
        upstream.queue("openai/chat_blocking_injected_tool_round2")
        completion = chat(second, second.create_token()).chat.completions.create(
            model="gpt-4.1", messages=[{"role": "user", "content": "How long are interception records kept?"}])
        records.wait_for_ends()
    finally:
        second.close()
    assert offered(upstream.requests[0]) == names
    assert mcp.calls == [("search", {"query": "retention policy"})]
    assert RETENTION_ANSWER in upstream.requests[1].json()["messages"][-1]["content"]
    assert completion.choices[0].message.tool_calls is None
    [tool] = records.of("tool_usage")
    assert (tool.tool, tool.injected, tool.invocation_error) == (search, True, None)


@pytest.fixture
def own_mcp():
    """An MCP server of this test's own: the test changes the order it lists its tools in."""
    with MCPTestServer() as server:
        yield server


def test_injected_tools_keep_one_order_across_requests_and_listings(tmp_path, upstream, own_mcp):
    gw = Gateway(gateway_config(tmp_path, upstream.url, mcp_servers=(MCPServerConfig(name="docs", url=own_mcp.url),)))
    recorded = recording("claude-code/print_first_request.json")
    try:
        token = gw.create_token()
        upstream.reset()
        sent = []
        for relist in (False, True):
            if relist:  # the server lists its tools in another order, and the gateway lists them again
                own_mcp.list_last("search")
                configured = mcp_servers.get(gw.app)
                configured.refresh(configured.servers[0])
                assert list(configured.servers[0].tools)[-1] == "bmcp_docs_search"
            upstream.queue(recorded.upstream_answer())
            assert replay(gw.url, recorded, token)[0] == 200
            sent.append(upstream.requests[-1].body)
    finally:
        gw.close()
    assert sent[0] == sent[1]  # byte for byte: the provider's prompt cache matches the second request
    tools = json.loads(sent[0])["tools"]
    assert [t["name"] for t in tools[-3:]] == sorted(INJECTED) == INJECTED


def cache_breakpoints(value) -> int:
    return json.dumps(value).count('"cache_control"')


@pytest.mark.parametrize("name, model", [
    ("claude-code/print_first_request.json", None),  # breakpoints on system and the last user turn
    # The Copilot CLI marks its last tool; its default model is a haiku one (streams of which get no injected
    # tools), so the same request is sent for a Sonnet model here.
    ("copilot-cli/capi_messages_first_request.json", "claude-sonnet-4.5"),
])
def test_the_clients_cache_breakpoints_stay_where_they_were(gateway, token, upstream, collector, name, model):
    recorded = recording(name)
    if model:
        body = {**recorded.data["body"], "model": model}
        size = len(json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode())
        recorded = dataclasses.replace(recorded, data={**recorded.data, "body": body, "body_bytes": size})
    client_body = recorded.data["body"]
    upstream.queue(recording("claude-code/print_first_request.json").upstream_answer())
    assert replay(gateway.url, recorded, token)[0] == 200
    [sent] = upstream.requests
    body = sent.json()
    client_tools = client_body["tools"]
    assert body["tools"][:len(client_tools)] == client_tools
    assert [t["name"] for t in body["tools"][len(client_tools):]] == INJECTED
    assert (body["system"], body["messages"]) == (client_body["system"], client_body["messages"])
    assert cache_breakpoints(body) == cache_breakpoints(client_body) <= 4  # the gateway adds none
    marked = [i for i, tool in enumerate(body["tools"]) if "cache_control" in tool]
    assert marked == [i for i, tool in enumerate(client_tools) if "cache_control" in tool]
    # Everything before the injected tools goes upstream as the client's own bytes.
    raw = recorded.body
    before_tools = raw[:raw.index(b'"tools":[')]
    client_tool_bytes = json.dumps(client_tools, separators=(",", ":"), ensure_ascii=False).encode()[:-1]
    assert client_tool_bytes in raw
    assert sent.body.startswith(before_tools + b'"tools":' + client_tool_bytes + b',{"name":"bmcp_')
    collector.wait_for_ends()


# -- Responses: the answer's echo of `tools` never shows the injected ones ------------------------------------

WEATHER_TOOL = {"type": "function", "name": "get_weather", "description": "Current weather for a city",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
                "strict": True}
# Upstream echoes every tool of the request, the client's and the injected ones.
_ECHO = ('"tools":[{"type":"function","description":"Search the product documentation."',
         '"tools":[' + json.dumps(WEATHER_TOOL, separators=(",", ":")) + ',{"type":"function","description":"Search the product documentation."')


def round2(final: str) -> object:
    """The second round's stream, ending with ``response.<final>``."""
    if final == "completed":
        return fixture_with("openai/responses_stream_injected_tool_round2", _ECHO)
    return fixture_with("openai/responses_stream_injected_tool_round2", _ECHO,
                        ("response.completed", f"response.{final}"), ('"status":"completed","background"', f'"status":"{final}","background"'))


@pytest.mark.parametrize("final, store", [("completed", True), ("completed", False), ("incomplete", True), ("failed", True)])
def test_no_streamed_response_object_shows_the_injected_tools(gateway, token, upstream, collector, mcp, final, store):
    upstream.queue(fixture_with("openai/responses_stream_injected_tool_round1", _ECHO))
    upstream.queue(round2(final))
    body = {"model": "gpt-4.1", "stream": True, "store": store, "tools": [WEATHER_TOOL],
            "input": "How long are interception records kept?"}
    answer = requests.post(gateway.bridge_url("openai") + "/v1/responses", json=body, timeout=20,
                           headers={"authorization": f"Bearer {token}"}).content
    assert all(b'"tools":[' + json.dumps(WEATHER_TOOL, separators=(",", ":")).encode() in r.body
               for r in upstream.requests)  # upstream did echo both kinds
    responses = [event["response"] for event in sse_data(answer) if isinstance(event, dict) and "response" in event]
    assert responses and responses[-1]["status"] == final
    assert all(response["tools"] == [WEATHER_TOOL] for response in responses)
    assert b"bmcp_" not in answer
    collector.wait_for_ends()
