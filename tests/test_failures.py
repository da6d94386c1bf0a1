"""Why an interception did not complete: each error kind caused for real, as the record and the client see it.

The kinds that need the real server (the client leaving while the upstream is
silent, the gateway shutting down) are in test_failures_server.py.
"""

from __future__ import annotations

import json
import socket

import openai
import pytest
import requests
from support.fakeupstream import BEFORE_HEADERS, Response, load_fixture
from support.gateway import Gateway, RecordCollector, gateway_config
from support.openai_support import dead_upstream_url

CLAUDE = "claude-sonnet-4-6"
GPT = "gpt-4.1"
HELLO = [{"role": "user", "content": "Say hello."}]


def messages(gateway, token, stream: bool, **extra) -> requests.Response:
    body = {"model": CLAUDE, "max_tokens": 64, "stream": stream, "messages": HELLO, **extra}
    return requests.post(gateway.bridge_url("anthropic") + "/v1/messages", json=body, timeout=30,
                         headers={"x-api-key": token, "anthropic-version": "2023-06-01"})


def fixture_message(name: str) -> str:
    return json.loads(load_fixture(name).body_bytes())["error"]["message"]


def sse_error(body: bytes) -> dict:
    """The data of the last ``event: error`` in an Anthropic stream."""
    event = body.rsplit(b"event: error\n", 1)[1]
    return json.loads(event.split(b"data: ", 1)[1].split(b"\n", 1)[0])


@pytest.fixture
def own_gateway(tmp_path):
    """A gateway with its own settings and a collector: call it with the upstream URL and overrides."""
    made = []

    def make(upstream_url: str, **overrides) -> tuple[Gateway, str, RecordCollector]:
        data_dir = tmp_path / f"gw{len(made)}"
        data_dir.mkdir()
        gw = Gateway(gateway_config(data_dir, upstream_url, **overrides))
        collector = RecordCollector()
        gw.pm.register(collector, name="test-collector")
        made.append(gw)
        return gw, gw.create_token("bob"), collector

    yield make
    for gw in made:
        gw.close()


# -- upstream_unreachable ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True])
def test_an_unreachable_upstream_is_named_to_the_client_and_in_the_record(own_gateway, stream):
    with dead_upstream_url() as url:
        gw, token, collector = own_gateway(url)
        response = messages(gw, token, stream)
    host = url.removeprefix("http://")
    assert response.status_code == 502
    assert response.json()["error"]["message"].startswith(f"the upstream {host} could not be reached: ")
    [end] = collector.wait_for_ends()
    assert (end.status, end.error.kind, end.error.upstream_status) == ("failed", "upstream_unreachable", None)
    assert end.error.message == response.json()["error"]["message"]


def test_passthrough_names_the_unreachable_host(own_gateway):
    with dead_upstream_url() as url:
        gw, token, _ = own_gateway(url)
        response = requests.get(gw.bridge_url("openai") + "/v1/models", headers={"Authorization": f"Bearer {token}"},
                                timeout=30)
    assert response.status_code == 502
    assert response.json()["error"]["message"].startswith(f"the upstream {url.removeprefix('http://')} could not be")


# -- upstream_timeout --------------------------------------------------------------------------------------------


def test_an_upstream_silent_before_answering_times_out(own_gateway, upstream):
    upstream.reset()
    gw, token, collector = own_gateway(upstream.url, upstream_timeout=0.5)
    upstream.queue("anthropic/stream_text", stall_after=BEFORE_HEADERS)
    response = messages(gw, token, stream=True)
    assert response.status_code == 504
    assert response.json()["error"] == {"type": "timeout_error",
                                        "message": f"the upstream 127.0.0.1:{upstream.port} did not answer in time"}
    [end] = collector.wait_for_ends()
    assert (end.status, end.error.kind, end.error.message) == (
        "failed", "upstream_timeout", f"the upstream 127.0.0.1:{upstream.port} did not answer in time")


def test_an_upstream_that_stalls_mid_stream_times_out_with_an_error_event(own_gateway, upstream):
    upstream.reset()
    gw, token, collector = own_gateway(upstream.url, upstream_timeout=0.5)
    upstream.queue("anthropic/stream_text", stall_after=3)
    response = messages(gw, token, stream=True)
    assert response.status_code == 200
    assert response.content.startswith(b"".join(load_fixture("anthropic/stream_text").chunks()[:3]))
    message = f"the upstream 127.0.0.1:{upstream.port} stopped sending before the answer was complete"
    assert sse_error(response.content) == {"type": "error", "error": {"type": "timeout_error", "message": message}}
    [end] = collector.wait_for_ends()
    assert (end.status, end.error.kind, end.error.message, end.error.upstream_status) == (
        "failed", "upstream_timeout", message, None)


# -- upstream_status ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fixture, status", [("anthropic/error_429_rate_limit", 429),
                                             ("anthropic/error_500_api_error", 500)])
def test_an_upstream_error_answer_is_relayed_and_recorded_with_its_status_and_message(
        gateway, token, upstream, collector, fixture, status):
    upstream.queue(fixture)
    response = messages(gateway, token, stream=True)
    assert (response.status_code, response.content) == (status, load_fixture(fixture).body_bytes())
    [end] = collector.wait_for_ends()
    assert (end.status, end.error.kind, end.error.upstream_status) == ("failed", "upstream_status", status)
    assert end.error.message == fixture_message(fixture)


def test_an_openai_500_keeps_the_providers_message(gateway, token, upstream, collector):
    upstream.queue("openai/error_500")
    client = openai.OpenAI(api_key=token, base_url=gateway.bridge_url("openai") + "/v1", max_retries=0)
    with pytest.raises(openai.InternalServerError):
        client.chat.completions.create(model=GPT, messages=HELLO)
    [end] = collector.wait_for_ends()
    assert (end.error.kind, end.error.upstream_status, end.error.message) == (
        "upstream_status", 500, "The server had an error while processing your request. Sorry about that!")


def test_an_error_answer_without_a_message_names_the_host(gateway, token, upstream, collector):
    upstream.queue(Response(503, {"content-type": "text/html"}, b"<html>Service Unavailable</html>"))
    response = messages(gateway, token, stream=False)
    assert response.status_code == 503
    [end] = collector.wait_for_ends()
    assert (end.error.kind, end.error.upstream_status, end.error.message) == (
        "upstream_status", 503, f"the upstream 127.0.0.1:{upstream.port} answered HTTP 503")


def test_a_provider_key_quoted_in_an_error_never_reaches_the_record(gateway, token, upstream, collector):
    quoted = {"error": {"message": "Incorrect API key provided: sk-openai-upstream-key.\nSee the docs.",
                        "type": "invalid_request_error", "code": "invalid_api_key"}}
    upstream.queue(Response(401, {"content-type": "application/json"}, json.dumps(quoted)))
    client = openai.OpenAI(api_key=token, base_url=gateway.bridge_url("openai") + "/v1", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        client.chat.completions.create(model=GPT, messages=HELLO)
    [end] = collector.wait_for_ends()
    assert end.error.message == "Incorrect API key provided: [redacted]. See the docs."  # one line, no key


# -- stream_error ------------------------------------------------------------------------------------------------


def test_an_anthropic_error_event_mid_stream_is_recorded_with_its_message(gateway, token, upstream, collector):
    upstream.queue("anthropic/stream_overloaded_midstream")
    response = messages(gateway, token, stream=True)
    assert response.content == load_fixture("anthropic/stream_overloaded_midstream").body_bytes()  # as sent
    [end] = collector.wait_for_ends()
    assert (end.status, end.error.kind, end.error.message, end.error.upstream_status) == (
        "failed", "stream_error", "Overloaded", None)


@pytest.mark.parametrize("path, body, fixture", [
    ("/v1/chat/completions", {"model": GPT, "messages": HELLO, "stream": True}, "openai/chat_stream_error_midstream"),
    ("/v1/responses", {"model": GPT, "input": "Say hello.", "stream": True}, "openai/responses_stream_failed"),
    ("/v1/responses", {"model": GPT, "input": "Say hello.", "stream": True}, "openai/responses_stream_error"),
])
def test_openai_error_events_are_recorded_with_their_message(gateway, token, upstream, collector, path, body, fixture):
    upstream.queue(fixture)
    response = requests.post(gateway.bridge_url("openai") + path, json=body, timeout=30,
                             headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    events = [json.loads(line[6:]) for line in response.text.splitlines()
              if line.startswith("data: {") and ('"error"' in line or "response.failed" in line)]
    sent = events[-1].get("response", events[-1])
    expected = sent["error"]["message"] if isinstance(sent.get("error"), dict) else sent["message"]
    [end] = collector.wait_for_ends()
    assert (end.status, end.error.kind, end.error.message) == ("failed", "stream_error", expected)
    assert expected


def test_a_stream_that_breaks_off_ends_with_an_error_event(gateway, token, upstream, collector):
    upstream.queue("anthropic/stream_text", close_after=3)
    response = messages(gateway, token, stream=True)
    assert response.status_code == 200
    error = sse_error(response.content)["error"]
    assert error["type"] == "api_error"
    assert error["message"].startswith(f"the connection to the upstream 127.0.0.1:{upstream.port} broke")
    [end] = collector.wait_for_ends()
    assert (end.status, end.error.kind, end.error.message) == ("failed", "stream_error", error["message"])


def test_a_blocking_answer_that_breaks_off_is_a_502(gateway, token, upstream, collector):
    upstream.queue(Response(200, {"content-type": "application/json"}, [b'{"id": "msg_1", ', b'"type": "message"}']),
                   close_after=1)
    response = messages(gateway, token, stream=False)
    assert response.status_code == 502
    [end] = collector.wait_for_ends()
    assert (end.error.kind, end.error.message) == ("stream_error", response.json()["error"]["message"])
    assert f"127.0.0.1:{upstream.port}" in end.error.message


# -- client_disconnected (the client stops reading; a silent upstream needs the real server) ----------------------


def test_a_client_that_leaves_mid_stream_is_recorded_client_disconnected(gateway, token, upstream, collector):
    upstream.queue("anthropic/stream_text", delay=0.05)
    body = json.dumps({"model": CLAUDE, "max_tokens": 64, "stream": True, "messages": HELLO}).encode()
    host, port = gateway.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(b"POST /api/v2/aibridge/anthropic/v1/messages HTTP/1.1\r\nHost: x\r\n"
                     b"Content-Type: application/json\r\n" + f"x-api-key: {token}\r\n".encode()
                     + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
        received = b""
        while b"message_start" not in received:
            received += sock.recv(65536)
    [end] = collector.wait_for_ends()
    assert (end.status, end.error.kind) == ("client_disconnected", "client_disconnected")

