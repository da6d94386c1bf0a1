"""Fixtures for driving injected MCP tools through a real gateway, a fake upstream and a real MCP server."""

from __future__ import annotations

import json

import pytest
from support.fakeupstream import Response, load_fixture
from support.gateway import Gateway, RecordCollector, gateway_config, token_totals  # noqa: F401
from support.mcpserver import MCPTestServer

from aibridge.config import MCPServerConfig

INJECTED = ["bmcp_docs_broken_tool", "bmcp_docs_search", "bmcp_docs_tickets_create"]  # sorted by name


@pytest.fixture(scope="module")
def mcp():
    with MCPTestServer() as server:
        yield server


@pytest.fixture(scope="module")
def gateway(tmp_path_factory, upstream, mcp):
    config = gateway_config(tmp_path_factory.mktemp("data"), upstream.url, mcp_servers=(MCPServerConfig(name="docs", url=mcp.url),))
    with Gateway(config) as gw:
        yield gw


@pytest.fixture
def collector(collector, mcp):
    """conftest's collector (the upstream starts empty), and no MCP calls seen yet."""
    mcp.calls.clear()
    return collector


def fixture_with(name: str, *replacements: tuple[str, str]) -> Response:
    """Fixture ``name`` with text replaced in its body (e.g. another tool name)."""
    response = load_fixture(name)
    body = response.body_bytes()
    for old, new in replacements:
        assert old.encode() in body, f"{old!r} not in {name}"
        body = body.replace(old.encode(), new.encode())
    return Response(response.status, response.headers, body)


def fixture_json(name: str) -> dict:
    return json.loads(load_fixture(name).body_bytes())


def sse_data(body: bytes) -> list:
    """The data of each SSE event of a body: parsed JSON, or the text (``[DONE]``)."""
    out = []
    for block in body.decode().replace("\r\n", "\n").split("\n\n"):
        lines = [line[5:].lstrip() for line in block.split("\n") if line.startswith("data:")]
        if lines:
            text = "\n".join(lines)
            out.append(text if text == "[DONE]" else json.loads(text))
    return out


def sse_names(body: bytes) -> list[str]:
    """The ``event:`` name of each SSE event of a body."""
    return [line[6:].strip() for line in body.decode().splitlines() if line.startswith("event:")]


def injected_tool_record(collector):
    """The one tool record of the interception, which must be an injected call."""
    [tool] = collector.of("tool_usage")
    assert tool.injected
    return tool
