"""The gateway's MCP client against a real MCP server (the official SDK over Streamable HTTP)."""

from __future__ import annotations

import logging
import socket

import pytest
import requests

from aibridge.config import MCPServerConfig
from aibridge_plugins.mcp import client as client_module
from aibridge_plugins.mcp.client import MCPClient
from aibridge_plugins.mcp.jsonrpc import MCPError, RPCError
from aibridge_plugins.mcp.servers import MCPServers
from aibridge_plugins.mcp.tools import ToolFilter, injected_name, result_text
from support.mcpserver import RETENTION_ANSWER, MCPTestServer

TOOL_NAMES = ["search", "tickets_create", "broken_tool"]


@pytest.fixture(params=["sse", "json"])
def server(request):
    """The test server, answering POSTs as SSE streams or as JSON bodies."""
    with MCPTestServer(json_response=request.param == "json") as running:
        yield running


@pytest.fixture
def client(server):
    mcp = MCPClient(server.url)
    yield mcp
    mcp.close()


def free_port_url() -> str:
    """A URL on 127.0.0.1 where nothing listens."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/mcp"


def test_initialize_negotiates_and_opens_a_session(server, client):
    client.initialize()
    assert client.protocol_version == "2025-11-25"
    assert client.session_id
    assert client.server_info["name"] == "docs"
    assert [message["method"] for message in server.posted] == ["initialize", "notifications/initialized"]
    assert server.posted[0]["params"]["protocolVersion"] == "2025-11-25"
    assert "id" not in server.posted[1]
    initialize, initialized = server.requests_of("POST")
    assert "mcp-session-id" not in initialize
    assert initialized["mcp-session-id"] == client.session_id
    assert initialized["mcp-protocol-version"] == "2025-11-25"
    assert initialize["accept"] == "application/json, text/event-stream"


def test_requests_carry_the_session_and_version(server, client):
    client.list_tools()
    listing = server.requests_of("POST")[-1]
    assert listing["mcp-session-id"] == client.session_id
    assert listing["mcp-protocol-version"] == client.protocol_version


def test_list_tools_returns_names_and_schemas(client):
    tools = client.list_tools()
    assert [tool["name"] for tool in tools] == TOOL_NAMES
    search = tools[0]
    assert search["description"] == "Search the internal documentation."
    assert search["inputSchema"]["required"] == ["query"]
    assert search["inputSchema"]["properties"]["query"]["type"] == "string"


def test_list_tools_follows_next_cursor_across_pages():
    with MCPTestServer(page_size=2) as server:
        client = MCPClient(server.url)
        try:
            assert [tool["name"] for tool in client.list_tools()] == TOOL_NAMES
        finally:
            client.close()
        listings = [params for method, params in server.methods if method == "tools/list"]
        assert listings == [{}, {"cursor": "2"}]


def test_call_tool_returns_the_text(server, client):
    result = client.call_tool("search", {"query": "retention policy"})
    assert result.get("isError") is not True
    assert result_text(result) == RETENTION_ANSWER
    assert server.calls == [("search", {"query": "retention policy"})]


def test_a_failing_tool_is_an_error_result(client):
    result = client.call_tool("broken_tool", {})
    assert result["isError"] is True
    assert "the ticket tracker is down" in result_text(result)


def test_an_unknown_tool_is_reported_not_raised_as_transport_failure(client):
    try:
        result = client.call_tool("no_such_tool", {})
    except RPCError as exc:  # servers may answer with a JSON-RPC error instead of an error result
        assert "no_such_tool" in str(exc)
    else:
        assert result["isError"] is True
        assert "no_such_tool" in result_text(result)


def test_an_expired_session_is_renewed(server, client):
    client.initialize()
    first = client.session_id
    ended = requests.delete(server.url, headers={"Mcp-Session-Id": first, "MCP-Protocol-Version": client.protocol_version})
    assert ended.status_code == 200
    result = client.call_tool("search", {"query": "retention"})
    assert result_text(result) == RETENTION_ANSWER
    assert client.session_id and client.session_id != first
    assert [m for m, _ in server.methods].count("initialize") == 2


def test_close_ends_the_session(server):
    client = MCPClient(server.url)
    client.initialize()
    session = client.session_id
    client.close()
    deleted = server.requests_of("DELETE")
    assert [headers["mcp-session-id"] for headers in deleted] == [session]


def test_the_server_answers_with_an_older_version(server, monkeypatch):
    monkeypatch.setattr(client_module, "SUPPORTED_VERSIONS", ("2025-03-26",))
    client = MCPClient(server.url)
    try:
        client.list_tools()
        assert client.protocol_version == "2025-03-26"
        assert server.requests_of("POST")[-1]["mcp-protocol-version"] == "2025-03-26"
    finally:
        client.close()


def test_a_version_the_client_does_not_speak_is_refused(server, monkeypatch):
    monkeypatch.setattr(client_module, "SUPPORTED_VERSIONS", ("2000-01-01",))
    client = MCPClient(server.url)
    with pytest.raises(MCPError, match="protocol version '2025-11-25'"):
        client.initialize()
    assert not client.initialized


def test_the_token_goes_in_authorization():
    with MCPTestServer(required_authorization="Bearer s3cret") as server:
        good = MCPClient(server.url, "Bearer s3cret")
        bad = MCPClient(server.url, "Bearer wrong")
        try:
            assert len(good.list_tools()) == 3
            with pytest.raises(MCPError, match=r"refused the credentials \(HTTP 401\)"):
                bad.list_tools()
        finally:
            good.close()
            bad.close()


def test_an_unreachable_server_raises_a_clear_error():
    client = MCPClient(free_port_url())
    with pytest.raises(MCPError, match="could not be reached: ConnectionError"):
        client.list_tools()


def test_names_and_filters():
    assert injected_name("docs", "search") == "bmcp_docs_search"
    assert injected_name("docs-2", "a.b/c") == "bmcp_docs-2_a_b_c"
    assert ToolFilter().allows("anything")
    assert ToolFilter(allow="^tickets_").allows("tickets_create")
    assert not ToolFilter(allow="^tickets_").allows("search")
    assert not ToolFilter(deny="create").allows("tickets_create")
    assert not ToolFilter(allow="tickets", deny="create").allows("tickets_create")
    assert ToolFilter(allow="tickets", deny="delete").allows("tickets_create")


def test_result_text_of_other_blocks():
    result = {"content": [{"type": "image", "mimeType": "image/png", "data": ""}, {"type": "text", "text": "ok"}]}
    assert result_text(result) == "[image image/png]\nok"
    assert result_text({"content": [], "structuredContent": {"n": 1}}) == '{"n": 1}'


# -- the servers of an app ---------------------------------------------------


def make_servers(*configs) -> MCPServers:
    servers = MCPServers(configs)
    servers.start()
    return servers


def test_servers_inject_prefixed_tools_with_schemas(server):
    servers = make_servers(MCPServerConfig(name="docs", url=server.url))
    try:
        tools = servers.tools()
    finally:
        servers.stop()
    assert [tool.name for tool in tools] == ["bmcp_docs_search", "bmcp_docs_tickets_create", "bmcp_docs_broken_tool"]
    assert tools[0].input_schema["properties"]["query"]["type"] == "string"
    assert tools[0].description == "Search the internal documentation."
    assert {tool.server_url for tool in tools} == {server.url}


def test_servers_apply_allow_and_deny(server):
    servers = make_servers(
        MCPServerConfig(name="a", url=server.url, tool_allow_regex="^(search|tickets_)"),
        MCPServerConfig(name="b", url=server.url, tool_allow_regex="_", tool_deny_regex="broken"),
    )
    try:
        names = [tool.name for tool in servers.tools()]
    finally:
        servers.stop()
    assert names == ["bmcp_a_search", "bmcp_a_tickets_create", "bmcp_b_tickets_create"]


def test_a_server_that_is_down_has_no_tools_and_a_warning(server, caplog):
    caplog.set_level(logging.WARNING, logger="aibridge.mcp")
    servers = make_servers(MCPServerConfig(name="down", url=free_port_url()), MCPServerConfig(name="docs", url=server.url))
    try:
        names = [tool.name for tool in servers.tools()]
    finally:
        servers.stop()
    assert names == ["bmcp_docs_search", "bmcp_docs_tickets_create", "bmcp_docs_broken_tool"]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("MCP server 'down' is unavailable" in message for message in warnings), warnings


def test_servers_run_calls_and_report_failures(server):
    servers = make_servers(MCPServerConfig(name="docs", url=server.url))
    try:
        servers.tools()
        ok = servers.call("bmcp_docs_search", {"query": "retention policy"}, lambda s: None)
        failed = servers.call("bmcp_docs_broken_tool", {"reason": "today"}, lambda s: None)
        not_ours = servers.call("bmcp_other_tool", {}, lambda s: None)
        bad_arguments = servers.call("bmcp_docs_search", "not an object", lambda s: None)
    finally:
        servers.stop()
    assert ok.content == RETENTION_ANSWER and ok.error is None
    assert failed.error and "the ticket tracker is down today" in failed.error
    assert "the ticket tracker is down today" in failed.content
    assert not_ours is None
    assert bad_arguments.error == "the tool arguments must be a JSON object"
    assert server.calls == [("search", {"query": "retention policy"}), ("broken_tool", {"reason": "today"})]


def test_a_server_that_went_down_gives_an_error_result(server):
    servers = make_servers(MCPServerConfig(name="docs", url=server.url))
    try:
        servers.tools()
        server.stop()
        result = servers.call("bmcp_docs_search", {"query": "x"}, lambda s: None)
    finally:
        servers.stop()
    assert result.error.startswith("MCP server 'docs' failed:")


def test_a_per_user_credential_opens_its_own_session():
    with MCPTestServer() as server:
        servers = make_servers(MCPServerConfig(name="docs", url=server.url, token="static"))
        try:
            servers.tools()
            servers.call("bmcp_docs_search", {"query": "a"}, lambda s: "Bearer alice-token")
            servers.call("bmcp_docs_search", {"query": "b"}, lambda s: None)
        finally:
            servers.stop()
        auth = [h.get("authorization") for h in server.requests_of("POST")]
    # listing with the static token; alice's call in a session of her own; the other call with the static token
    assert auth.count("Bearer alice-token") == 3  # initialize, initialized, tools/call
    assert set(auth) == {"Bearer static", "Bearer alice-token"}
