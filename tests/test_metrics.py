"""Prometheus metrics: real requests through the gateway, then a scrape of /metrics over HTTP."""

from __future__ import annotations

import json
import logging
import signal
import socket

import anthropic
import openai
import pytest
import requests
from support.faults import free_port
from support.fakeupstream import Response, load_fixture
from support.gateway import Gateway, collecting_gateway, gateway_config
from support.metrics_support import metrics_url, scrape, scrape_until_counted, value
from support.mcpserver import MCPTestServer
from support.wheelhouse import new_user_token

from aibridge.config import Config, MCPServerConfig
from aibridge.records import Interception, TokenUsage, utcnow
from aibridge_plugins.metrics.gateway_metrics import GatewayMetrics

CLAUDE = "claude-sonnet-4-6"
GPT = "gpt-4.1"
HELLO = [{"role": "user", "content": "Say hello."}]
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


@pytest.fixture
def metrics_gateway(tmp_path, upstream):
    """A gateway whose metrics listen on a port of their own (port 0: the system picks a free one)."""
    upstream.reset()
    gw = collecting_gateway(gateway_config(tmp_path, upstream.url, prometheus_enable=True,
                                           prometheus_address="127.0.0.1:0"))
    yield gw
    gw.close()


def label_sets(samples: list, name: str) -> list[dict]:
    return [s.labels for s in samples if s.name == name]


def scrape_when_ended(gw: Gateway, count: int) -> list:
    """Scrape once ``count`` interceptions were counted (a stream ends just after the client read it)."""
    return scrape_until_counted(metrics_url(gw), count)


def anthropic_client(gw: Gateway, token: str) -> anthropic.Anthropic:
    return anthropic.Anthropic(api_key=token, base_url=gw.bridge_url("anthropic"), max_retries=0)


def stream_hello(gw: Gateway, upstream) -> None:
    """A streamed Messages request of "alice", answered with anthropic/stream_text."""
    upstream.queue("anthropic/stream_text")
    with anthropic_client(gw, gw.create_token("alice")).messages.stream(
        model=CLAUDE, max_tokens=256, messages=HELLO
    ) as stream:
        stream.get_final_message()


def anthropic_stream_usage(name: str) -> dict[str, int]:
    """What a streamed Anthropic fixture bills: message_start counts, replaced by the final message_delta's."""
    usage: dict[str, int] = {}
    body = load_fixture(name).body_bytes().decode()
    for event in (json.loads(line[6:]) for line in body.splitlines() if line.startswith("data: ")):
        if event["type"] == "message_start":
            usage.update(event["message"]["usage"])
        elif event["type"] == "message_delta":
            usage.update(event["usage"])
    return {
        "input": usage["input_tokens"],
        "output": usage["output_tokens"],
        "cache_read_input_tokens": usage["cache_read_input_tokens"],
        "cache_write_input_tokens": usage["cache_creation_input_tokens"],
    }


def chat_stream_usage(name: str) -> dict:
    """The usage object of a streamed Chat Completions fixture (its usage-only chunk)."""
    body = load_fixture(name).body_bytes().decode()
    chunks = [json.loads(line[6:]) for line in body.splitlines() if line.startswith("data: {")]
    [usage] = [chunk["usage"] for chunk in chunks if chunk.get("usage")]
    return usage


def test_a_streamed_anthropic_request_is_counted(metrics_gateway, upstream):
    gw = metrics_gateway
    stream_hello(gw, upstream)

    samples = scrape_when_ended(gw, 1)
    [start] = gw.collector.of("interception_start")
    who = {"initiator_id": start.initiator_id, "client": "Unknown"}
    assert label_sets(samples, "coder_aibridged_interceptions_total") == [{
        "provider": "anthropic", "model": CLAUDE, "status": "completed", "error_kind": "", "route": "messages",
        "method": "POST", **who,
    }]
    assert value(samples, "coder_aibridged_interceptions_total") == 1
    assert value(samples, "coder_aibridged_prompts_total", provider="anthropic", model=CLAUDE, **who) == 1
    expected = anthropic_stream_usage("anthropic/stream_text")
    counted = {s.labels["type"]: s.value for s in samples if s.name == "coder_aibridged_tokens_total"}
    assert counted == {kind: count for kind, count in expected.items() if count}
    token_labels = label_sets(samples, "coder_aibridged_tokens_total")
    assert all(labels["initiator_id"] == start.initiator_id for labels in token_labels)
    assert label_sets(samples, "coder_aibridged_interceptions_inflight") == [
        {"provider": "anthropic", "model": CLAUDE, "route": "messages"}
    ]
    assert value(samples, "coder_aibridged_interceptions_inflight") == 0
    duration = "coder_aibridged_interceptions_duration_seconds"
    assert value(samples, duration + "_count", status="completed", route="messages") == 1
    assert value(samples, duration + "_bucket", le="+Inf") == 1


def test_an_upstream_400_is_counted_as_failed(metrics_gateway, upstream):
    gw = metrics_gateway
    upstream.queue("anthropic/error_400_invalid_request")
    with pytest.raises(anthropic.BadRequestError):
        anthropic_client(gw, gw.create_token("alice")).messages.create(model=CLAUDE, max_tokens=64, messages=HELLO)

    samples = scrape_when_ended(gw, 1)
    assert value(samples, "coder_aibridged_interceptions_total", status="failed", error_kind="upstream_status",
                 provider="anthropic") == 1
    assert value(samples, "coder_aibridged_interceptions_total", status="completed") == 0
    assert value(samples, "coder_aibridged_interceptions_inflight") == 0
    assert value(samples, "coder_aibridged_interceptions_duration_seconds_count", status="failed") == 1
    assert value(samples, "coder_aibridged_tokens_total") == 0
    # The failed request still asked something: its prompt is counted.
    assert value(samples, "coder_aibridged_prompts_total") == 1


def test_chat_tokens_extra_types_and_client_tool_selections(metrics_gateway, upstream):
    gw = metrics_gateway
    client = openai.OpenAI(api_key=gw.create_token("alice"), base_url=gw.bridge_url("openai") + "/v1", max_retries=0)
    upstream.queue("openai/chat_stream_cached_tokens")
    upstream.queue("openai/chat_stream_tool_calls")
    for _ in range(2):
        stream = client.chat.completions.create(
            model=GPT, messages=[{"role": "user", "content": "Weather in Paris?"}], tools=[WEATHER_TOOL], stream=True,
        )
        list(stream)

    samples = scrape_when_ended(gw, 2)
    assert value(samples, "coder_aibridged_interceptions_total", provider="openai", route="chat_completions",
                 status="completed", method="POST") == 2
    cached = chat_stream_usage("openai/chat_stream_cached_tokens")
    tools = chat_stream_usage("openai/chat_stream_tool_calls")
    prompt = cached["prompt_tokens"] + tools["prompt_tokens"]
    cache_read = cached["prompt_tokens_details"]["cached_tokens"] + tools["prompt_tokens_details"]["cached_tokens"]
    assert cache_read > 0
    tokens = {s.labels["type"]: s.value for s in samples if s.name == "coder_aibridged_tokens_total"}
    assert tokens["input"] == prompt - cache_read
    assert tokens["cache_read_input_tokens"] == cache_read
    assert tokens["output"] == cached["completion_tokens"] + tools["completion_tokens"]
    reasoning = sum(usage["completion_tokens_details"]["reasoning_tokens"] for usage in (cached, tools))
    assert reasoning > 0 and tokens["completion_reasoning_tokens"] == reasoning
    assert label_sets(samples, "coder_aibridged_non_injected_tool_selections_total") == [
        {"provider": "openai", "model": GPT, "tool": "get_weather"}
    ]
    assert value(samples, "coder_aibridged_non_injected_tool_selections_total") == 1
    assert value(samples, "coder_aibridged_injected_tool_invocations_total") == 0


def test_injected_tool_invocations_are_counted_ok_and_error(tmp_path, upstream):
    upstream.reset()
    with MCPTestServer() as mcp:
        config = gateway_config(
            tmp_path, upstream.url, prometheus_enable=True, prometheus_address="127.0.0.1:0",
            mcp_servers=(MCPServerConfig(name="docs", url=mcp.url),),
        )
        gw = Gateway(config)
        try:
            client = anthropic_client(gw, gw.create_token("alice"))
            question = [{"role": "user", "content": "How long are interception records kept?"}]
            for tool in ("bmcp_docs_search", "bmcp_docs_broken_tool"):
                round1 = load_fixture("anthropic/blocking_injected_tool_round1")
                body = round1.body_bytes().replace(b'"name":"bmcp_docs_search"', f'"name":"{tool}"'.encode())
                upstream.queue(Response(round1.status, round1.headers, body))
                upstream.queue("anthropic/blocking_injected_tool_round2")
                client.messages.create(model=CLAUDE, max_tokens=512, messages=question)
            samples = scrape_when_ended(gw, 2)
        finally:
            gw.close()
    invocations = [s for s in samples if s.name == "coder_aibridged_injected_tool_invocations_total"]
    injected = {(s.labels["tool"], s.labels["status"]): s.value for s in invocations}
    assert injected == {("bmcp_docs_search", "ok"): 1, ("bmcp_docs_broken_tool", "error"): 1}
    assert {s.labels["server_url"] for s in invocations} == {mcp.url}
    assert value(samples, "coder_aibridged_non_injected_tool_selections_total") == 0
    # Both rounds' tokens are counted: the two messages of each interception.
    round1 = json.loads(load_fixture("anthropic/blocking_injected_tool_round1").body_bytes())["usage"]
    round2 = json.loads(load_fixture("anthropic/blocking_injected_tool_round2").body_bytes())["usage"]
    for kind in ("input", "output"):
        billed = round1[f"{kind}_tokens"] + round2[f"{kind}_tokens"]
        assert value(samples, "coder_aibridged_tokens_total", type=kind) == 2 * billed


def test_a_repeated_metadata_count_of_one_message_is_counted_once():
    metrics = GatewayMetrics()
    interception = _interception()
    # A streamed message repeats what it reported so far on each of its records.
    first_message = ((0, {"web_search_tokens": 5, "service_tier": "standard"}), (30, {"web_search_tokens": 8}))
    for output, metadata in first_message:
        usage = TokenUsage(interception_id="i-1", msg_id="msg-1", output_tokens=output, metadata=metadata)
        metrics.count_tokens(interception, usage)
    second_message = TokenUsage(interception_id="i-1", msg_id="msg-2", metadata={"web_search_tokens": 2})
    metrics.count_tokens(interception, second_message)
    registry = metrics.registry
    assert registry.get_sample_value("coder_aibridged_tokens_total", _token_labels("web_search_tokens")) == 10
    assert registry.get_sample_value("coder_aibridged_tokens_total", _token_labels("output")) == 30
    assert registry.get_sample_value("coder_aibridged_tokens_total", _token_labels("service_tier")) is None


def _interception() -> Interception:
    return Interception(
        interception_id="i-1", initiator_id="u-1", initiator_username="alice", provider="anthropic",
        provider_name="anthropic", model=CLAUDE, client="Claude Code", client_session_id=None, user_agent="claude-cli",
        started_at=utcnow(), api="messages",
    )


def _token_labels(kind: str) -> dict:
    return {"provider": "anthropic", "model": CLAUDE, "type": kind, "initiator_id": "u-1", "client": "Claude Code"}


def test_two_apps_in_one_process_count_separately(tmp_path, upstream):
    upstream.reset()
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    enabled = dict(prometheus_enable=True, prometheus_address="127.0.0.1:0")
    first = Gateway(gateway_config(tmp_path / "a", upstream.url, **enabled))
    second = Gateway(gateway_config(tmp_path / "b", upstream.url, **enabled))
    try:
        upstream.queue("anthropic/stream_text")
        with anthropic_client(first, first.create_token("alice")).messages.stream(
            model=CLAUDE, max_tokens=64, messages=HELLO
        ) as stream:
            stream.get_final_message()
        assert value(scrape_when_ended(first, 1), "coder_aibridged_interceptions_total") == 1
        assert value(scrape(metrics_url(second)), "coder_aibridged_interceptions_total") == 0
    finally:
        first.close()
        second.close()


def test_disabled_by_default_nothing_listens(tmp_path, upstream):
    assert Config().prometheus_enable is False
    port = free_port()
    gw = Gateway(gateway_config(tmp_path, upstream.url, prometheus_address=f"127.0.0.1:{port}"))
    try:
        assert "aibridge.metrics" not in gw.app.extensions
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=5).close()
    finally:
        gw.close()


def test_an_address_in_use_is_logged_and_the_gateway_still_serves(tmp_path, upstream, caplog):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        address = f"127.0.0.1:{taken.getsockname()[1]}"
        with caplog.at_level(logging.ERROR, logger="aibridge.metrics"):
            gw = Gateway(gateway_config(tmp_path, upstream.url, prometheus_enable=True, prometheus_address=address))
        try:
            [record] = [r for r in caplog.records if r.name == "aibridge.metrics"]
            assert record.levelno == logging.ERROR
            assert "--prometheus-address" in record.getMessage() and address in record.getMessage()
            assert gw.app.extensions["aibridge.metrics"].listener is None
            assert requests.get(gw.url + "/healthz", timeout=10).status_code == 200
        finally:
            gw.close()


def test_the_listener_stops_on_shutdown(tmp_path, upstream):
    gw = Gateway(gateway_config(tmp_path, upstream.url, prometheus_enable=True, prometheus_address="127.0.0.1:0"))
    port = gw.app.extensions["aibridge.metrics"].listener.address[1]
    scrape(metrics_url(gw))
    gw.close()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=5).close()


def test_aibridge_server_serves_metrics_under_gevent(aibridge_script, spawn, process_environ, tmp_path, upstream):
    upstream.reset()
    environ = {**process_environ, "CODER_AIBRIDGE_ENABLED": "true", "CODER_DATA_DIR": str(tmp_path / "data"),
               "CODER_AIBRIDGE_ANTHROPIC_BASE_URL": upstream.url, "CODER_AIBRIDGE_ANTHROPIC_KEY": "sk-ant-upstream"}
    server = spawn([aibridge_script, "server", "--http-address", "127.0.0.1:0",
                    "--prometheus-enable", "--prometheus-address", "127.0.0.1:0"], environ)
    url = server.wait_for_line(r"serving Prometheus metrics on (http://127\.0\.0\.1:\d+/metrics)").group(1)
    gateway_url = server.wait_for_line(r"aibridge listening on (http://127\.0\.0\.1:\d+)").group(1)
    token = new_user_token(aibridge_script.parent, environ, "alice")
    upstream.queue("anthropic/stream_text")
    client = anthropic.Anthropic(api_key=token, base_url=gateway_url + "/api/v2/aibridge/anthropic", max_retries=0)
    with client.messages.stream(model=CLAUDE, max_tokens=64, messages=HELLO) as stream:
        stream.get_final_message()
    samples = scrape_until_counted(url, 1)
    assert value(samples, "coder_aibridged_interceptions_total", status="completed", route="messages") == 1
    billed = anthropic_stream_usage("anthropic/stream_text")["output"]
    assert value(samples, "coder_aibridged_tokens_total", type="output") == billed
    server.proc.send_signal(signal.SIGTERM)
    assert server.wait() == 0, server.stderr
    assert "Traceback" not in server.stderr
    assert "GET /metrics" not in server.stderr  # scrapes leave no access log lines


def test_every_series_has_its_ai_gateway_twin_without_created(metrics_gateway, upstream):
    """Scrape-time gauges (key pools, recorder, auth) and resilience counters too, not only the counted ones."""
    gw = metrics_gateway
    stream_hello(gw, upstream)
    samples = scrape_when_ended(gw, 1)
    old = {(s.name.removeprefix("coder_aibridged_"), tuple(sorted(s.labels.items())), s.value)
           for s in samples if s.name.startswith("coder_aibridged_") and not s.name.endswith("_created")}
    new = {(s.name.removeprefix("coder_ai_gateway_"), tuple(sorted(s.labels.items())), s.value)
           for s in samples if s.name.startswith("coder_ai_gateway_")}
    assert old == new
    names = {name for name, _, _ in new}
    assert {"key_pool_state", "provider_info", "recorder_store_up", "key_pool_failover_attempts_count"} <= names
    assert not any(name.endswith("_created") for name in names)
