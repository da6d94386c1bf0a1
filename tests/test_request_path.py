"""The request path's edges: routes and paths, headers both ways, credentials, failures after the start."""

from __future__ import annotations

import gzip
import http.client
import json
import logging
import time
import uuid

import pytest
import requests
from support.fakeupstream import FakeUpstream, Response, load_fixture
from support.gateway import Gateway, RecordCollector, gateway_config
from urllib3 import HTTPHeaderDict

import aibridge
from aibridge.upstream import relayed_headers
from aibridge.records import Actor, Tool, ToolResult

CLAUDE = "claude-sonnet-4-6"
HELLO = [{"role": "user", "content": "Say hello."}]
JSON = {"content-type": "application/json"}


class DocsTool:
    """Injects one tool into every request and answers its calls."""

    @aibridge.hookimpl
    def aibridge_tools(self, interception):
        return [Tool(name="bmcp_docs_search", description="Search the docs", input_schema={"type": "object"})]

    @aibridge.hookimpl
    def aibridge_call_tool(self, interception, tool, arguments):
        return ToolResult(content="found it")


@pytest.fixture
def docs_tool(gateway, collector):
    plugin = DocsTool()
    gateway.pm.register(plugin, name="test-docs-tool")
    yield plugin
    gateway.pm.unregister(plugin)


def raw_request(gateway, method: str, path: str, headers: dict, body: bytes | None = None):
    """Send ``path`` exactly as written (requests and urllib3 would resolve dot segments first)."""
    host, port = gateway.url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def anthropic_post(gateway, token, body: dict, headers=None, stream=False):
    return requests.post(
        gateway.bridge_url("anthropic") + "/v1/messages", data=json.dumps(body).encode(),
        headers={"x-api-key": token, "anthropic-version": "2023-06-01", "content-type": "application/json", **(headers or {})},
        stream=stream, timeout=10,
    )


def fixture_with(name: str, old: bytes, new: bytes) -> Response:
    response = load_fixture(name)
    body = response.body_bytes()
    assert old in body
    return Response(response.status, response.headers, body.replace(old, new))


# -- routes and paths ---------------------------------------------------------


@pytest.mark.parametrize("path", [
    "/api/v2/aibridge/openai/v1/conversations/../chat/completions",
    "/api/v2/aibridge/openai/v1/conversations/%2e%2e/chat/completions",
    "/api/v2/aibridge/openai/v1/responses/resp_1/../../chat/completions",
])
def test_dot_segments_cannot_reach_another_upstream_api(gateway, token, upstream, collector, path):
    # Upstream would resolve the dot segments: an unrecorded chat completion on the provider's key.
    upstream.queue(Response(200, JSON, b"{}"))
    status, body = raw_request(gateway, "POST", path, {"Authorization": f"Bearer {token}", **JSON}, b'{"model":"gpt-4.1"}')
    assert status == 404
    assert "has no route" in json.loads(body)["error"]["message"]
    assert upstream.requests == []


def test_escaped_characters_stay_escaped_upstream(gateway, token, upstream, collector):
    upstream.queue(Response(200, JSON, b"{}"))
    status, _ = raw_request(gateway, "GET", "/api/v2/aibridge/openai/v1/models/gpt%3Fx%23y%25z", {"Authorization": f"Bearer {token}"})
    assert status == 200
    [received] = upstream.requests
    assert received.path == "/v1/models/gpt%3Fx%23y%25z"


def test_head_is_passed_through_like_get_with_its_query(gateway, token, upstream, collector):
    upstream.queue(Response(200, JSON, b'{"data": []}'))
    response = requests.head(gateway.bridge_url("openai") + "/v1/models?limit=2", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    [received] = upstream.requests
    assert (received.method, received.path) == ("HEAD", "/v1/models?limit=2")
    assert received.headers["authorization"] == "Bearer sk-openai-upstream-key"


# -- headers ------------------------------------------------------------------


def test_headers_named_in_connection_are_not_forwarded(gateway, token, upstream, collector):
    upstream.queue(Response(200, JSON, b'{"data": []}'))
    requests.get(
        gateway.bridge_url("openai") + "/v1/models", timeout=10,
        headers={"Authorization": f"Bearer {token}", "Connection": "keep-alive, X-Client-Hop", "X-Client-Hop": "1", "X-Other": "2"},
    )
    [received] = upstream.requests
    assert "x-client-hop" not in received.headers
    assert received.headers["x-other"] == "2"


def test_upstream_headers_named_in_connection_are_not_relayed():
    upstream_headers = HTTPHeaderDict({"Connection": "close, X-Upstream-Hop", "X-Upstream-Hop": "1", "Content-Type": "text/plain"})
    assert relayed_headers(upstream_headers) == [("Content-Type", "text/plain")]


def test_a_compressed_answer_keeps_its_content_encoding(gateway, token, upstream, collector):
    # The body is relayed as sent: without its Content-Encoding the client could not read it.
    upstream.queue(Response(200, {**JSON, "content-encoding": "gzip"}, gzip.compress(b'{"data": []}')))
    response = requests.get(gateway.bridge_url("openai") + "/v1/models", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert response.status_code == 200
    assert response.json() == {"data": []}


def test_originator_header_counts_in_the_documented_order(gateway, token, upstream, collector):
    cases = [
        ({"User-Agent": "charm crush/0.7", "originator": "kilo-code"}, "Kilo Code"),
        ({"User-Agent": "roo-code/3.25", "originator": "kilo-code"}, "Kilo Code"),
        ({"User-Agent": "claude-cli/2.0.14", "originator": "roo-code"}, "Claude Code"),
        ({"User-Agent": "python-httpx/0.28", "originator": "roo-code"}, "Roo Code"),
    ]
    for headers, _ in cases:
        upstream.queue("anthropic/blocking_text")
        anthropic_post(gateway, token, {"model": CLAUDE, "max_tokens": 5, "messages": HELLO}, headers=headers)
    collector.wait_for_ends(len(cases))
    assert [s.client for s in collector.of("interception_start")] == [client for _, client in cases]


# -- credentials --------------------------------------------------------------


def test_copilot_never_forwards_the_gateway_token_sent_as_the_users_own(gateway, token, upstream, collector):
    upstream.queue("openai/chat_blocking_text")
    response = requests.post(
        gateway.bridge_url("copilot") + "/chat/completions", json={"model": "gpt-4.1", "messages": HELLO}, timeout=10,
        headers={"Authorization": f"Bearer {token}", "X-Coder-AI-Governance-Token": token},
    )
    assert response.status_code == 200
    [received] = upstream.requests
    assert all(token not in value for value in received.headers.values())


class IdentityPlugin:
    """Vouches for one person by header, as a single sign-on plugin would."""

    @aibridge.hookimpl
    def aibridge_authenticate(self, request):
        if request.headers.get("X-Test-Identity") == "zoe":
            return Actor(id="id-zoë", username="zoë-李")
        return None


@pytest.fixture(scope="module")
def byok_gateway(tmp_path_factory, upstream):
    config = gateway_config(tmp_path_factory.mktemp("byok"), upstream.url, allow_byok=True, send_actor_headers=True)
    gw = Gateway(config)
    gw.pm.register(IdentityPlugin(), name="test-identity")
    yield gw
    gw.close()


@pytest.fixture
def byok_collector(byok_gateway, upstream):
    with byok_gateway.collecting(upstream) as plugin:
        yield plugin


def test_byok_sends_the_users_own_key_and_never_the_gateway_token(byok_gateway, upstream, byok_collector):
    token = byok_gateway.create_token("bob")
    for own in ("Bearer sk-bobs-own-key", f"Bearer {token}"):
        upstream.queue("openai/chat_blocking_text")
        response = requests.post(
            byok_gateway.bridge_url("openai") + "/v1/chat/completions", json={"model": "gpt-4.1", "messages": HELLO},
            headers={"Authorization": own, "X-Coder-AI-Governance-Token": token}, timeout=10,
        )
        assert response.status_code == 200
    own_key, gateway_token_again = upstream.requests
    assert own_key.headers["authorization"] == "Bearer sk-bobs-own-key"
    assert "sk-openai-upstream-key" not in json.dumps(dict(own_key.headers))
    assert all(token not in value for request in upstream.requests for value in request.headers.values())
    assert "authorization" not in gateway_token_again.headers


def test_actor_headers_carry_any_username_as_utf8(byok_gateway, upstream, byok_collector):
    upstream.queue("anthropic/blocking_text")
    response = anthropic_post(byok_gateway, "", {"model": CLAUDE, "max_tokens": 5, "messages": HELLO}, headers={"X-Test-Identity": "zoe"})
    assert response.status_code == 200
    [received] = upstream.requests
    # http.server reads header bytes as latin-1: undo that to see the bytes sent.
    assert received.headers["X-AI-Bridge-Actor-Metadata-Username"].encode("latin-1").decode() == "zoë-李"
    assert received.headers["X-AI-Bridge-Actor-ID"].encode("latin-1").decode() == "id-zoë"
    assert [e.status for e in byok_collector.wait_for_ends()] == ["completed"]


# -- failures after the interception started ----------------------------------


def test_blocking_answer_that_stops_midway_is_a_504(tmp_path, upstream):
    upstream.reset()
    gw = Gateway(gateway_config(tmp_path, upstream.url, upstream_timeout=0.5))
    collector = RecordCollector()
    gw.pm.register(collector)
    try:
        token = gw.create_token()
        upstream.queue(Response(200, JSON, [b'{"id": "msg_1", ', b'"type": "message"}']), stall_after=1)
        response = anthropic_post(gw, token, {"model": CLAUDE, "max_tokens": 5, "messages": HELLO})
        assert response.status_code == 504
        assert response.json()["error"]["type"] == "timeout_error"
        assert [e.status for e in collector.wait_for_ends()] == ["failed"]
    finally:
        gw.close()


def test_sse_comments_are_relayed_without_logging_a_failure(gateway, token, upstream, collector, caplog):
    keepalive = fixture_with("anthropic/stream_text", b"event: content_block_start", b": keep-alive\n\nevent: content_block_start")
    upstream.queue(keepalive)
    with caplog.at_level(logging.ERROR, logger="aibridge"):
        response = anthropic_post(gateway, token, {"model": CLAUDE, "max_tokens": 5, "stream": True, "messages": HELLO}, stream=True)
        assert response.content == keepalive.body_bytes()
        [end] = collector.wait_for_ends()
    assert end.status == "completed"
    assert [r.getMessage() for r in caplog.records if r.name.startswith("aibridge")] == []


@pytest.mark.parametrize("route, body", [
    ("/v1/messages", {"model": CLAUDE, "max_tokens": 5, "messages": HELLO, "tools": [{"name": ["not", "a", "name"], "input_schema": {}}]}),
    ("/v1/chat/completions", {"model": "gpt-4.1", "messages": HELLO, "tools": [{"type": ["function"]}]}),
])
def test_malformed_client_tools_still_go_upstream_with_injected_tools(gateway, token, upstream, docs_tool, collector, route, body):
    provider, fixture = ("anthropic", "anthropic/blocking_text") if route == "/v1/messages" else ("openai", "openai/chat_blocking_text")
    upstream.queue(fixture)
    response = requests.post(gateway.bridge_url(provider) + route, json=body, timeout=10,
                             headers={"x-api-key": token, "anthropic-version": "2023-06-01"})
    assert response.status_code == 200  # upstream decides what it makes of them
    [received] = upstream.requests
    injected = received.json()["tools"][-1]
    assert (injected if provider == "anthropic" else injected["function"])["name"] == "bmcp_docs_search"
    assert [e.status for e in collector.wait_for_ends()] == ["completed"]


def test_blocking_loop_relays_an_answer_that_is_not_json_as_sent(gateway, token, upstream, docs_tool, collector):
    upstream.queue(Response(200, {"content-type": "text/plain"}, b"upstream says hi"))
    response = anthropic_post(gateway, token, {"model": CLAUDE, "max_tokens": 5, "messages": HELLO})
    assert (response.status_code, response.content) == (200, b"upstream says hi")
    assert [e.status for e in collector.wait_for_ends()] == ["completed"]


def test_an_unreadable_answer_in_the_loop_ends_the_interception_with_an_openai_error(gateway, token, upstream, docs_tool, collector):
    upstream.queue(Response(200, JSON, b'{"id": "chatcmpl-1", "object": "chat.completion", "choices": [{"index": 0, "message": "oops"}]}'))
    response = requests.post(gateway.bridge_url("openai") + "/v1/chat/completions", json={"model": "gpt-4.1", "messages": HELLO},
                             headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert response.status_code == 500
    assert "could not handle this request" in response.json()["error"]["message"]
    assert [e.status for e in collector.wait_for_ends()] == ["failed"]


def test_stream_loop_relays_an_event_it_cannot_read_as_sent(gateway, token, upstream, docs_tool, collector):
    bad = b'event: content_block_delta\ndata: {"type": "content_block_delta", not json\n\n'
    upstream.queue(fixture_with("anthropic/stream_text", b"event: content_block_stop", bad + b"event: content_block_stop"))
    response = anthropic_post(gateway, token, {"model": CLAUDE, "max_tokens": 5, "stream": True, "messages": HELLO}, stream=True)
    body = response.content
    assert bad in body
    assert body.endswith(b'event: message_stop\ndata: {"type":"message_stop"}\n\n')
    assert [e.status for e in collector.wait_for_ends()] == ["completed"]


def test_stream_loop_failure_ends_with_an_error_event(gateway, token, upstream, docs_tool, collector):
    # Block indexes of mixed types cannot be put in order: the loop cannot read the round's answer.
    upstream.queue(fixture_with("anthropic/stream_thinking_tool_use", b'"index":1', b'"index":"1"'))
    response = anthropic_post(gateway, token, {"model": CLAUDE, "max_tokens": 5, "stream": True, "messages": HELLO}, stream=True)
    body = response.content
    assert body.endswith(b"\n\n") and b"event: error\n" in body
    assert b"could not handle this request" in body
    [end] = collector.wait_for_ends()
    assert (end.status, end.error.kind, end.error.message) == ("failed", "internal", "TypeError in the gateway (see its log)")


def test_no_model_call_under_responses_is_passed_through(gateway, token, upstream, collector):
    upstream.queue(Response(200, JSON, b"{}"))
    response = requests.post(gateway.bridge_url("openai") + "/v1/responses/compact", json={"model": "gpt-4.1", "input": "hi"},
                             headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert response.status_code == 404
    assert upstream.requests == []


@pytest.mark.parametrize("method, path, status", [("HEAD", "/v1/models", 200), ("DELETE", "/v1/responses/resp_1", 204)])
def test_answers_without_a_body_give_the_upstream_connection_back(tmp_path, upstream, method, path, status):
    upstream.reset()
    gw = Gateway(gateway_config(tmp_path, upstream.url))  # its own pool: no idle connection yet
    try:
        client = gw.app.extensions["aibridge"].upstream.direct.client
        upstream.queue(Response(status, JSON, b"" if status == 204 else b'{"data": []}'))
        response = requests.request(method, gw.bridge_url("openai") + path, headers={"Authorization": f"Bearer {gw.create_token()}"}, timeout=10)
        assert response.status_code == status
        # The server closes the response just after sending it: wait for the connection to be back in the pool.
        deadline = time.monotonic() + 5
        while client.idle_connections(upstream.url) == 0:
            assert time.monotonic() < deadline, "the upstream connection never went back to the pool"
            time.sleep(0.01)
    finally:
        gw.close()


# -- interception ids ---------------------------------------------------------


def test_interception_ids_are_uuid7_in_the_order_they_started(gateway, token, upstream, collector):
    """Time-ordered ids (RFC 9562 version 7): new rows land at the end of the indexes keyed by them."""
    ids = []
    for _ in range(3):
        before = time.time_ns() // 1_000_000
        upstream.queue("anthropic/blocking_text")
        assert anthropic_post(gateway, token, {"model": CLAUDE, "max_tokens": 16, "messages": HELLO}).status_code == 200
        after = time.time_ns() // 1_000_000
        interception_id = collector.wait_for_ends(len(ids) + 1)[-1].interception_id
        parsed = uuid.UUID(interception_id)
        assert (parsed.version, parsed.variant) == (7, uuid.RFC_4122)
        assert before <= parsed.int >> 80 <= after  # its first 48 bits: when it started, in Unix milliseconds
        ids.append(interception_id)
    assert ids == sorted(ids) and len(set(ids)) == 3
