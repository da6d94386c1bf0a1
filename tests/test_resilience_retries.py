"""Safe retries: sent again only what the upstream provably did not work on, before any byte reached the client.

Every test drives the gateway over HTTP with an official SDK (its own retries
off) against a fake upstream; the gateway's clock is a ManualClock, so the
backoff and Retry-After waits are recorded instead of slept.
"""

from __future__ import annotations

import json

import anthropic
import openai
import pytest
from support.fakebedrock import ACCESS_KEY, REGION, SECRET_KEY, FakeBedrock, invoke_answer
from support.fakeupstream import BEFORE_HEADERS, FakeUpstream, Response
from support.gateway import gateway_config
from support.mcpserver import MCPTestServer
from support.resilience_support import free_port, resilient_gateway, upstream  # noqa: F401 (a fixture)

from aibridge.config import BedrockConfig, MCPServerConfig, ProviderConfig

MODEL = "claude-sonnet-4-6"
HELLO = [{"role": "user", "content": "Say hello."}]


def anthropic_error(status: int, kind: str, message: str = "try again", **headers) -> Response:
    body = {"type": "error", "error": {"type": kind, "message": message}}
    return Response(status, {"content-type": "application/json", **headers}, json.dumps(body))


def openai_error(status: int, message: str = "try again", **headers) -> Response:
    body = {"error": {"message": message, "type": "server_error", "param": None, "code": None}}
    return Response(status, {"content-type": "application/json", **headers}, json.dumps(body))


@pytest.fixture
def gw(tmp_path, upstream):
    with resilient_gateway(gateway_config(tmp_path, upstream.url, max_retries=2)) as running:
        yield running


def anthropic_client(gw, name: str = "anthropic") -> anthropic.Anthropic:
    return anthropic.Anthropic(api_key=gw.token, base_url=gw.url(name), max_retries=0)


def openai_client(gw) -> openai.OpenAI:
    return openai.OpenAI(api_key=gw.token, base_url=gw.url("openai") + "/v1", max_retries=0)


def test_a_503_is_sent_again_after_a_backoff_and_the_client_gets_the_answer(gw, upstream):
    upstream.queue(anthropic_error(503, "api_error"))
    upstream.queue("anthropic/blocking_text")
    message = anthropic_client(gw).messages.create(model=MODEL, max_tokens=64, messages=HELLO)
    assert message.content[0].text
    assert len(upstream.requests) == 2 and upstream.requests[0].body == upstream.requests[1].body
    [end] = gw.records.wait_for_ends()
    assert (end.status, end.metadata["attempts"]) == ("completed", 2)
    [slept] = gw.clock.sleeps
    assert 0.25 <= slept <= 0.5  # the first backoff, with jitter


def test_a_stream_answered_529_twice_is_sent_a_third_time(gw, upstream):
    upstream.queue(anthropic_error(529, "overloaded_error", "Overloaded"))
    upstream.queue(anthropic_error(529, "overloaded_error", "Overloaded"))
    upstream.queue("anthropic/stream_text")
    with anthropic_client(gw).messages.stream(model=MODEL, max_tokens=64, messages=HELLO) as stream:
        text = stream.get_final_text()
    assert text
    [end] = gw.records.wait_for_ends()
    assert (end.status, end.metadata["attempts"]) == ("completed", 3)
    first, second = gw.clock.sleeps
    assert 0.25 <= first <= 0.5 and 0.5 <= second <= 1.0  # exponential, with jitter


def test_a_429_is_sent_again_once_its_retry_after_passed(gw, upstream):
    upstream.queue("openai/error_429")  # retry-after: 2
    upstream.queue("openai/chat_stream_text")
    stream = openai_client(gw).chat.completions.create(model="gpt-4o", messages=HELLO, stream=True)
    assert "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
    assert gw.clock.sleeps[0] >= 2
    assert gw.records.wait_for_ends()[0].metadata["attempts"] == 2


def test_a_retry_after_longer_than_the_gateway_waits_reaches_the_client_as_sent(gw, upstream):
    upstream.queue("anthropic/error_429_rate_limit")  # retry-after: 17
    with pytest.raises(anthropic.RateLimitError) as raised:
        anthropic_client(gw).messages.create(model=MODEL, max_tokens=64, messages=HELLO)
    assert raised.value.response.headers["retry-after"] == "17"
    assert len(upstream.requests) == 1 and gw.clock.sleeps == []
    [end] = gw.records.wait_for_ends()
    assert (end.status, end.metadata["attempts"]) == ("failed", 1)


def test_retries_stop_at_max_retries_and_the_last_answer_is_relayed(gw, upstream):
    for _ in range(3):
        upstream.queue(openai_error(503, "the engine is overloaded"))
    upstream.queue("openai/responses_blocking_text")  # never asked for
    with pytest.raises(openai.InternalServerError) as raised:
        openai_client(gw).responses.create(model="gpt-4o", input="Say hello.")
    assert raised.value.status_code == 503 and raised.value.body["message"] == "the engine is overloaded"
    assert len(upstream.requests) == 3 and len(gw.clock.sleeps) == 2
    assert gw.records.wait_for_ends()[0].metadata["attempts"] == 3


def test_max_retries_zero_sends_once(tmp_path, upstream):
    with resilient_gateway(gateway_config(tmp_path, upstream.url, max_retries=0)) as gw:
        upstream.queue(anthropic_error(503, "api_error"))
        with pytest.raises(anthropic.InternalServerError):
            anthropic_client(gw).messages.create(model=MODEL, max_tokens=64, messages=HELLO)
        assert len(upstream.requests) == 1
        assert gw.records.wait_for_ends()[0].metadata["attempts"] == 1


@pytest.mark.parametrize("status", [400, 404, 413, 422])
def test_an_error_about_the_request_itself_is_not_sent_again(gw, upstream, status):
    upstream.queue(openai_error(status, "no"))
    with pytest.raises(openai.APIStatusError) as raised:
        openai_client(gw).chat.completions.create(model="gpt-4o", messages=HELLO)
    assert raised.value.status_code == status
    assert len(upstream.requests) == 1 and gw.clock.sleeps == []


def test_a_refused_connection_is_tried_again_until_the_upstream_listens(tmp_path):
    port = free_port()
    started = []

    def start_listening(_seconds):
        if not started:  # the first backoff: the provider comes up meanwhile
            fake = FakeUpstream(port).start()
            fake.queue("anthropic/blocking_text")
            started.append(fake)

    with resilient_gateway(gateway_config(tmp_path, f"http://127.0.0.1:{port}", max_retries=2)) as gw:
        gw.clock.on_sleep = start_listening
        try:
            message = anthropic_client(gw).messages.create(model=MODEL, max_tokens=64, messages=HELLO)
            assert message.content[0].text
            assert len(started[0].requests) == 1
            assert gw.records.wait_for_ends()[0].metadata["attempts"] == 2
        finally:
            for fake in started:
                fake.stop()


def test_a_connection_refused_every_time_is_502_after_the_retries(tmp_path):
    with resilient_gateway(gateway_config(tmp_path, f"http://127.0.0.1:{free_port()}", max_retries=2)) as gw:
        with pytest.raises(anthropic.APIStatusError) as raised:
            anthropic_client(gw).messages.create(model=MODEL, max_tokens=64, messages=HELLO)
        assert raised.value.status_code == 502
        assert raised.value.body["error"]["type"] == "api_error"
        assert len(gw.clock.sleeps) == 2
        assert gw.records.wait_for_ends()[0].metadata["attempts"] == 3


def test_a_connection_reset_after_the_request_was_written_is_never_sent_again(gw, upstream):
    # The provider may be running (and billing) it: the client gets 502, the provider saw it once.
    upstream.queue("anthropic/blocking_text", close_after=BEFORE_HEADERS)
    upstream.queue("anthropic/blocking_text")
    with pytest.raises(anthropic.APIStatusError) as raised:
        anthropic_client(gw).messages.create(model=MODEL, max_tokens=64, messages=HELLO)
    assert raised.value.status_code == 502
    assert len(upstream.requests) == 1 and upstream.pending == 1 and gw.clock.sleeps == []
    [end] = gw.records.wait_for_ends()
    assert (end.status, end.metadata["attempts"]) == ("failed", 1)


def test_no_answer_within_the_timeout_is_504_and_not_sent_again(tmp_path, upstream):
    with resilient_gateway(gateway_config(tmp_path, upstream.url, max_retries=2, upstream_timeout=0.3)) as gw:
        upstream.queue("anthropic/blocking_text", stall_after=BEFORE_HEADERS)
        with pytest.raises(anthropic.APIStatusError) as raised:
            anthropic_client(gw).messages.create(model=MODEL, max_tokens=64, messages=HELLO)
        assert raised.value.status_code == 504
        assert len(upstream.requests) == 1 and gw.clock.sleeps == []


def test_a_broken_stream_after_the_first_byte_is_never_sent_again(gw, upstream):
    upstream.queue("anthropic/stream_text", close_after=3)
    upstream.queue("anthropic/stream_text")
    with pytest.raises(anthropic.APIError):
        with anthropic_client(gw).messages.stream(model=MODEL, max_tokens=64, messages=HELLO) as stream:
            stream.get_final_text()
    assert len(upstream.requests) == 1 and upstream.pending == 1


def test_bedrock_throttling_is_sent_again_signed_anew(tmp_path):
    with FakeBedrock() as bedrock:
        settings = BedrockConfig(region=REGION, base_url=bedrock.url, access_keys=(ACCESS_KEY,),
                                 access_key_secrets=(SECRET_KEY,), model="us.anthropic.claude-sonnet-4-5-v1:0",
                                 small_fast_model="us.anthropic.claude-haiku-4-5-v1:0")
        provider = ProviderConfig(type="anthropic", name="anthropic", base_url=bedrock.url, bedrock=settings)
        with resilient_gateway(gateway_config(tmp_path, bedrock.url, providers=(provider,), max_retries=2)) as gw:
            bedrock.queue("bedrock/throttling_429")
            bedrock.queue(invoke_answer("anthropic/blocking_text"))
            message = anthropic_client(gw).messages.create(model=MODEL, max_tokens=64, messages=HELLO)
            assert message.content[0].text
            assert bedrock.refusals == [] and len(bedrock.requests) == 2
            [end] = gw.records.wait_for_ends()
            assert (end.metadata["attempts"], end.credential_kind, end.credential_hint) == (2, "centralized", "AK...LE")


@pytest.fixture(scope="module")
def mcp():
    with MCPTestServer() as server:
        yield server


@pytest.mark.parametrize("streaming", [True, False])
def test_a_later_round_of_injected_tools_is_sent_again_before_its_first_byte(tmp_path, upstream, mcp, streaming):
    config = gateway_config(tmp_path, upstream.url, max_retries=2,
                            mcp_servers=(MCPServerConfig(name="docs", url=mcp.url),))
    kind = "stream" if streaming else "blocking"
    with resilient_gateway(config) as gw:
        upstream.queue(f"anthropic/{kind}_injected_tool_round1")
        upstream.queue(anthropic_error(529, "overloaded_error", "Overloaded"))
        upstream.queue(f"anthropic/{kind}_injected_tool_round2")
        client = anthropic_client(gw)
        question = [{"role": "user", "content": "How long are interception records kept?"}]
        if streaming:
            with client.messages.stream(model=MODEL, max_tokens=512, messages=question) as stream:
                final = stream.get_final_message()
        else:
            final = client.messages.create(model=MODEL, max_tokens=512, messages=question)
        assert [block.type for block in final.content] == ["text", "text"]  # both rounds, one answer
        second, third = upstream.requests[1:]
        assert second.body == third.body  # the round, sent again as it was
        [end] = gw.records.wait_for_ends()
        assert (end.status, end.metadata["attempts"]) == ("completed", 3)
