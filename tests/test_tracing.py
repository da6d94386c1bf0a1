"""OpenTelemetry tracing (--trace-enable): the spans of real requests, sent with the official SDKs.

The gateway runs with tracing on against the fake upstream and a real MCP
server; its spans go to the SDK's in-memory exporter (tracing_support.py).
"""

from __future__ import annotations

import json

import anthropic
import openai
import pytest
import requests
from support.fakeupstream import Response
from support.gateway import gateway_config
from support.mcpserver import RETENTION_ANSWER, MCPTestServer
from opentelemetry.trace import SpanKind, StatusCode
from support.resilience_support import free_port, resilient_gateway
from support.tracing_support import gateway_spans, memory_exporter, named, trace_of, wait_for_spans

from aibridge.config import MCPServerConfig, ProviderConfig

MODEL = "claude-sonnet-4-6"
PROMPT = "Say hello to the zebra named Quintessa."
HELLO = [{"role": "user", "content": PROMPT}]
MCP_QUESTION = [{"role": "user", "content": "How long are interception records kept?"}]
UPSTREAM_KEYS = ("sk-ant-upstream-key", "sk-openai-upstream-key")
TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


@pytest.fixture(scope="module")
def exporter():
    return memory_exporter()


@pytest.fixture(scope="module")
def mcp():
    with MCPTestServer() as server:
        yield server


@pytest.fixture(scope="module")
def gw(tmp_path_factory, upstream, mcp, exporter):
    config = gateway_config(tmp_path_factory.mktemp("data"), upstream.url, max_retries=2, trace_enable=True,
                            mcp_servers=(MCPServerConfig(name="docs", url=mcp.url),))
    unreachable = ProviderConfig(type="openai", name="gone", base_url=f"http://127.0.0.1:{free_port()}/v1",
                                 keys=("sk-gone-upstream-key",))
    config = config.__class__(**{**config.__dict__, "providers": (*config.providers, unreachable)})
    with resilient_gateway(config) as running:
        yield running


@pytest.fixture(autouse=True)
def fresh(gw, upstream, exporter, mcp):
    upstream.reset()
    exporter.clear()
    mcp.calls.clear()
    with gw.records._changed:
        gw.records.records.clear()
    gw.clock.sleeps.clear()


def anthropic_client(gw, **headers) -> anthropic.Anthropic:
    return anthropic.Anthropic(api_key=gw.token, base_url=gw.url("anthropic"), max_retries=0,
                               default_headers=headers or None)


def openai_client(gw, name: str = "openai") -> openai.OpenAI:
    return openai.OpenAI(api_key=gw.token, base_url=gw.url(name) + "/v1", max_retries=0)


def finished_trace(gw, exporter) -> dict[str, list]:
    """The one interception's spans, once its record write was traced too."""
    [end] = gw.records.wait_for_ends()
    iid = end.interception_id
    spans = wait_for_spans(exporter, lambda spans: any(
        s.name == "aibridge.record_write" and s.attributes["aibridge.interception_id"] == iid for s in spans))
    return trace_of(spans, iid)


def test_a_blocking_request_is_one_interception_span_with_its_attempt_and_record_write(gw, exporter, upstream):
    upstream.queue("anthropic/blocking_text")
    message = anthropic_client(gw).messages.create(model=MODEL, max_tokens=64, messages=HELLO)
    assert message.content[0].text
    spans = finished_trace(gw, exporter)
    [root] = spans["aibridge.interception"]
    [attempt] = spans["aibridge.upstream_attempt"]
    [write] = spans["aibridge.record_write"]
    [end] = gw.records.of("interception_end")
    # A root, or a child of the SDK's own span (the official SDKs send a traceparent when a tracer is set up).
    assert (root.parent is None or root.parent.is_remote) and root.kind == SpanKind.SERVER
    assert {k: root.attributes[k] for k in ("aibridge.interception_id", "aibridge.provider", "aibridge.provider_name",
                                           "aibridge.model", "aibridge.api", "aibridge.streaming", "aibridge.status",
                                           "http.response.status_code", "aibridge.attempts")} == {
        "aibridge.interception_id": end.interception_id, "aibridge.provider": "anthropic",
        "aibridge.provider_name": "anthropic", "aibridge.model": MODEL, "aibridge.api": "messages",
        "aibridge.streaming": False, "aibridge.status": "completed", "http.response.status_code": 200,
        "aibridge.attempts": 1}
    assert root.status.status_code == StatusCode.UNSET
    assert attempt.parent.span_id == root.context.span_id and attempt.kind == SpanKind.CLIENT
    assert (attempt.attributes["aibridge.attempt"], attempt.attributes["http.response.status_code"]) == (1, 200)
    assert attempt.attributes["server.address"].startswith("127.0.0.1")
    assert root.start_time <= attempt.start_time <= attempt.end_time <= root.end_time
    assert write.parent.span_id == root.context.span_id
    assert write.attributes["aibridge.record.stored"] is True and write.attributes["aibridge.record.batch_rows"] >= 1
    assert write.end_time >= root.end_time  # written after the end was handed to the recorder


def test_a_stream_continues_the_clients_trace(gw, exporter, upstream):
    upstream.queue("openai/chat_stream_text")
    client = openai.OpenAI(api_key=gw.token, base_url=gw.url("openai") + "/v1", max_retries=0,
                           default_headers={"traceparent": TRACEPARENT})
    stream = client.chat.completions.create(model="gpt-4o", messages=HELLO, stream=True)
    assert "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
    spans = finished_trace(gw, exporter)
    [root] = spans["aibridge.interception"]
    assert format(root.context.trace_id, "032x") == TRACEPARENT.split("-")[1]
    assert format(root.parent.span_id, "016x") == TRACEPARENT.split("-")[2] and root.parent.is_remote
    assert (root.attributes["aibridge.api"], root.attributes["aibridge.streaming"]) == ("chat_completions", True)
    assert root.attributes["aibridge.status"] == "completed"
    assert len(spans["aibridge.upstream_attempt"]) == 1 and len(spans["aibridge.record_write"]) == 1


def test_each_retry_is_its_own_attempt_span(gw, exporter, upstream):
    body = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    overloaded = Response(529, {"content-type": "application/json"}, json.dumps(body))
    upstream.queue(overloaded)
    upstream.queue(overloaded)
    upstream.queue("anthropic/stream_text")
    with anthropic_client(gw).messages.stream(model=MODEL, max_tokens=64, messages=HELLO) as stream:
        assert stream.get_final_text()
    spans = finished_trace(gw, exporter)
    [root] = spans["aibridge.interception"]
    attempts = spans["aibridge.upstream_attempt"]
    assert [(a.attributes["aibridge.attempt"], a.attributes["http.response.status_code"]) for a in attempts] == [
        (1, 529), (2, 529), (3, 200)]
    assert [a.status.status_code for a in attempts] == [StatusCode.ERROR, StatusCode.ERROR, StatusCode.UNSET]
    assert [a.attributes.get("error.type") for a in attempts] == ["529", "529", None]
    assert all(a.parent.span_id == root.context.span_id for a in attempts)
    assert (root.attributes["aibridge.status"], root.attributes["aibridge.attempts"]) == ("completed", 3)


def test_a_failed_upstream_sets_the_error_status(gw, exporter, upstream):
    upstream.queue("anthropic/error_400_invalid_request")
    with pytest.raises(anthropic.BadRequestError):
        anthropic_client(gw).messages.create(model=MODEL, max_tokens=64, messages=HELLO)
    spans = finished_trace(gw, exporter)
    [root] = spans["aibridge.interception"]
    [attempt] = spans["aibridge.upstream_attempt"]
    assert root.status.status_code == StatusCode.ERROR
    assert (root.attributes["aibridge.status"], root.attributes["aibridge.error_kind"],
            root.attributes["http.response.status_code"]) == ("failed", "upstream_status", 400)
    assert attempt.status.status_code == StatusCode.ERROR
    assert attempt.attributes["http.response.status_code"] == 400


def test_an_unreachable_upstream_has_an_attempt_span_per_try_and_fails(gw, exporter):
    with pytest.raises(openai.APIStatusError) as raised:
        openai_client(gw, "gone").chat.completions.create(model="gpt-4o", messages=HELLO)
    assert raised.value.status_code == 502
    spans = finished_trace(gw, exporter)
    [root] = spans["aibridge.interception"]
    attempts = spans["aibridge.upstream_attempt"]
    assert [(a.attributes["aibridge.attempt"], a.attributes["error.type"]) for a in attempts] == [
        (1, "unreachable"), (2, "unreachable"), (3, "unreachable")]
    assert all("http.response.status_code" not in a.attributes for a in attempts)
    assert root.status.status_code == StatusCode.ERROR
    assert (root.attributes["aibridge.error_kind"], root.attributes["aibridge.provider_name"]) == (
        "upstream_unreachable", "gone")


def test_an_injected_tool_loop_has_a_span_per_tool_call_and_per_round(gw, exporter, upstream, mcp):
    upstream.queue("anthropic/stream_injected_tool_round1")
    upstream.queue("anthropic/stream_injected_tool_round2")
    with anthropic_client(gw).messages.stream(model=MODEL, max_tokens=512, messages=MCP_QUESTION) as stream:
        assert stream.get_final_text()
    assert mcp.calls == [("search", {"query": "retention policy"})]
    spans = finished_trace(gw, exporter)
    [root] = spans["aibridge.interception"]
    first, second = spans["aibridge.upstream_attempt"]
    [tool] = spans["aibridge.injected_tool_call"]
    assert tool.parent.span_id == root.context.span_id and tool.kind == SpanKind.CLIENT
    assert (tool.attributes["aibridge.tool"], tool.attributes["aibridge.tool_call_id"]) == (
        "bmcp_docs_search", "toolu_01VfuOeUweFWXEFgozBgaV5L")
    assert tool.attributes["server.address"] == mcp.url.split("/")[2]
    assert tool.status.status_code == StatusCode.UNSET
    assert first.end_time <= tool.start_time <= tool.end_time <= second.start_time  # the call runs between rounds
    assert root.attributes["aibridge.attempts"] == 2


def test_no_span_carries_a_prompt_an_answer_a_tool_input_or_a_key(gw, exporter, upstream, mcp):
    upstream.queue("anthropic/blocking_text")
    anthropic_client(gw).messages.create(model=MODEL, max_tokens=64, messages=HELLO)
    upstream.queue("openai/chat_stream_text")
    stream = openai_client(gw).chat.completions.create(model="gpt-4o", messages=HELLO, stream=True)
    answer = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
    upstream.queue("anthropic/blocking_injected_tool_round1")
    upstream.queue("anthropic/blocking_injected_tool_round2")
    anthropic_client(gw).messages.create(model=MODEL, max_tokens=512, messages=MCP_QUESTION)
    ends = gw.records.wait_for_ends(3)
    ids = {end.interception_id for end in ends}
    spans = wait_for_spans(exporter, lambda spans: ids <= {
        s.attributes["aibridge.interception_id"] for s in named(spans, "aibridge.record_write")})
    assert len(spans) >= 3 * 3 + 2  # interception, attempt(s), write each; one tool call, one more round
    secrets = [PROMPT, "Quintessa", MCP_QUESTION[0]["content"], answer, "retention policy", RETENTION_ANSWER,
               gw.token, gw.token.split("_")[-1], *UPSTREAM_KEYS, "upstream-key", "x-api-key", "authorization"]
    for span in gateway_spans(exporter):
        texts = [span.name, str(span.status.description or "")]
        texts += [f"{key}={value}" for key, value in span.attributes.items()]
        for event in span.events:
            texts += [event.name, *(f"{key}={value}" for key, value in event.attributes.items())]
        for link in span.links:
            texts += [f"{key}={value}" for key, value in (link.attributes or {}).items()]
        texts += [f"{key}={value}" for key, value in span.resource.attributes.items()]
        for text in texts:
            for secret in secrets:
                assert secret.lower() not in text.lower(), f"{span.name} carries {secret!r}: {text}"


def test_with_tracing_off_no_span_hook_is_registered_and_no_span_made(tmp_path, upstream, exporter):
    with resilient_gateway(gateway_config(tmp_path, upstream.url)) as off:
        assert off.gateway.pm.get_plugin("tracing-spans") is None
        for hook in ("on_upstream_attempt", "on_injected_tool_call", "on_records_written"):
            assert not getattr(off.gateway.pm.hook, hook).get_hookimpls(), hook
        upstream.queue("anthropic/blocking_text")
        anthropic_client(off).messages.create(model=MODEL, max_tokens=64, messages=HELLO)
        off.records.wait_for_ends()
    assert gateway_spans(exporter) == []


def test_a_client_trace_that_is_not_sampled_makes_no_spans_and_the_request_goes_on(gw, exporter, upstream):
    unsampled = TRACEPARENT[:-2] + "00"  # the client decided not to record this trace: parent-based sampling follows
    upstream.queue("anthropic/blocking_text")
    # Plain HTTP: with a tracer provider set up, the SDK would send a traceparent of its own instead.
    answer = requests.post(gw.url("anthropic") + "/v1/messages", timeout=30, json={
        "model": MODEL, "max_tokens": 64, "messages": HELLO}, headers={
        "x-api-key": gw.token, "anthropic-version": "2023-06-01", "traceparent": unsampled})
    assert answer.status_code == 200 and answer.json()["content"][0]["text"]
    [end] = gw.records.wait_for_ends()
    assert end.status == "completed"
    assert [s for s in gateway_spans(exporter) if s.attributes.get("aibridge.interception_id") == end.interception_id
            or s.context.trace_id == int(TRACEPARENT.split("-")[1], 16)] == []


def test_a_fallback_shows_in_the_attempts_and_the_interception_names_the_instance_that_answered(tmp_path, upstream,
                                                                                               exporter):
    providers = (
        ProviderConfig(type="anthropic", name="anthropic", base_url=upstream.url,
                       keys=("sk-ant-upstream-key", "sk-ant-second-upstream-key"), fallback="backup"),
        ProviderConfig(type="anthropic", name="backup", base_url=upstream.url, keys=("sk-ant-backup-key",)),
    )
    body = {"type": "error", "error": {"type": "authentication_error", "message": "invalid x-api-key"}}
    upstream.queue(Response(401, {"content-type": "application/json"}, json.dumps(body)))
    upstream.queue(Response(401, {"content-type": "application/json"}, json.dumps(body)))
    upstream.queue("anthropic/blocking_text")
    with resilient_gateway(gateway_config(tmp_path, upstream.url, providers=providers, trace_enable=True)) as gw:
        anthropic_client(gw).messages.create(model=MODEL, max_tokens=64, messages=HELLO)
        spans = finished_trace(gw, exporter)
    [root] = spans["aibridge.interception"]
    assert [(a.attributes["aibridge.provider_name"], a.attributes["http.response.status_code"])
            for a in spans["aibridge.upstream_attempt"]] == [("anthropic", 401), ("anthropic", 401), ("backup", 200)]
    assert (root.attributes["aibridge.provider_name"], root.attributes["aibridge.status"]) == ("backup", "completed")
