"""A POST the provider may have received is never sent again (issue 12, item 4), against the real server."""

from __future__ import annotations

import json

from support.edge_support import connect, create_token, read_response, server_environ, start_server
from support.scripted_server import ScriptedServer

BODY = json.dumps({"model": "claude-sonnet-4-6", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]})
ANSWER = json.dumps({"id": "msg_1", "type": "message", "role": "assistant", "model": "claude-sonnet-4-6",
                     "content": [{"type": "text", "text": "hello"}], "stop_reason": "end_turn",
                     "usage": {"input_tokens": 3, "output_tokens": 1}}).encode()


def post_messages(port: int, token: str) -> bytes:
    with connect(port, timeout=30) as client:
        client.sendall(
            f"POST /api/v2/aibridge/anthropic/v1/messages HTTP/1.1\r\nHost: test\r\nX-Api-Key: {token}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(BODY)}\r\nConnection: close\r\n\r\n{BODY}".encode()
        )
        head, _ = read_response(client)
    return head


def test_a_request_the_upstream_read_then_dropped_is_answered_502_and_sent_once(
    aibridge_script, spawn, process_environ, tmp_path
):
    def answer_then_read_and_close(conn, server):
        server.read_request(conn)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
                     % (len(ANSWER), ANSWER))
        server.read_request(conn)  # the second request arrives on the kept-alive connection: no answer

    upstream = ScriptedServer(answer_then_read_and_close)
    data_dir = tmp_path / "data"
    token = create_token(data_dir)
    environ = server_environ(process_environ, data_dir, CODER_AIBRIDGE_ANTHROPIC_BASE_URL=upstream.url,
                             CODER_AIBRIDGE_ANTHROPIC_KEY="sk-ant-test")
    server, port = start_server(spawn, aibridge_script, environ)
    assert post_messages(port, token).startswith(b"HTTP/1.1 200")
    assert post_messages(port, token).startswith(b"HTTP/1.1 502")
    assert len(upstream.received) == 2 and upstream.accepted == 1  # the second request went out once
    upstream.close()
