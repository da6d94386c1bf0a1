"""The relay under the real server (`aibridge server`, gevent): unbuffered streams and client detection."""

from __future__ import annotations

import json
import socket

import pytest
import requests
from support.fakeupstream import FakeUpstream, load_fixture
from support.server_process import Server
from support.recorder_support import user_with_token, wait_until


@pytest.fixture
def upstream():
    with FakeUpstream() as fake:
        yield fake


@pytest.fixture
def server(tmp_path, upstream):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    _, token = user_with_token(data_dir / "aibridge.db", "alice", "owner")
    srv = Server(data_dir, upstream.url, tmp_path, ("--aibridge-openai-base-url", upstream.url + "/v1"))
    srv.token = token
    yield srv
    srv.stop()


def test_each_event_reaches_the_client_before_upstream_sends_the_next(server, upstream):
    sent = load_fixture("anthropic/stream_text").chunks()
    upstream.queue("anthropic/stream_text", stall_after=3)  # then upstream sends nothing more
    body = json.dumps({"model": "claude-sonnet-4-6", "max_tokens": 64, "stream": True,
                       "messages": [{"role": "user", "content": "Say hello."}]}).encode()
    host, port = server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(
            b"POST /api/v2/aibridge/anthropic/v1/messages HTTP/1.1\r\nHost: gateway\r\n"
            b"Content-Type: application/json\r\n" + f"x-api-key: {server.token}\r\n".encode()
            + f"Content-Length: {len(body)}\r\n\r\n".encode() + body
        )
        received = b""
        while not all(event in received for event in sent[:3]):
            part = sock.recv(65536)
            assert part, "the gateway closed the stream early"
            received += part
        # The three events arrived while upstream is still holding back the fourth.
        assert sent[3] not in received
        assert b"200 OK" in received.split(b"\r\n", 1)[0]
    upstream.stop()  # ends the stall, so the server's shutdown need not wait for this stream


def test_codex_session_header_with_an_underscore_is_recorded(server, upstream):
    upstream.queue("openai/responses_blocking_text")
    response = requests.post(
        server.url + "/api/v2/aibridge/openai/v1/responses",
        json={"model": "gpt-5", "input": "Say hello."},
        headers={"Authorization": f"Bearer {server.token}", "User-Agent": "codex_cli_rs/0.58.0 (Debian 12) xterm",
                 "session_id": "019a9c0e-8c2b-7d41-9f0e-3b6d2c1a7e55", "originator": "codex_cli_rs"},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    assert response.content == load_fixture("openai/responses_blocking_text").body_bytes()

    def recorded():
        answer = requests.get(server.url + "/api/v2/aibridge/interceptions",
                              headers={"Authorization": f"Bearer {server.token}"}, timeout=10).json()
        return answer["results"] if answer["count"] == 1 and answer["results"][0]["ended_at"] else None

    [interception] = wait_until(recorded, what="the interception to be recorded")
    assert (interception["client"], interception["client_session_id"]) == (
        "Codex", "019a9c0e-8c2b-7d41-9f0e-3b6d2c1a7e55")
