"""What the real server holds against idle, slow and stuck clients (issue 12, item 5), over raw sockets."""

from __future__ import annotations

import json
import socket
import sqlite3
import threading
import time

from support.edge_support import connect, create_token, is_closed, poll, read_response, server_environ, start_server

HEALTHZ = b"GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n"


def still_open(sock: socket.socket) -> bool:
    """Whether the server has neither closed ``sock`` nor sent anything on it (does not block)."""
    sock.setblocking(False)
    try:
        return sock.recv(1) != b""
    except BlockingIOError:
        return True
    except ConnectionResetError:
        return False
    finally:
        sock.setblocking(True)


def closed_within(sock: socket.socket, seconds: float) -> float:
    """How long the server took to close ``sock`` (an AssertionError past ``seconds``)."""
    started = time.monotonic()
    sock.settimeout(seconds)
    assert is_closed(sock), "the server sent something instead of closing"
    return time.monotonic() - started


def test_a_half_sent_head_and_a_silent_connection_are_closed_after_the_header_timeout(
    aibridge_script, spawn, process_environ, tmp_path
):
    environ = server_environ(process_environ, tmp_path / "data")
    _, port = start_server(spawn, aibridge_script, environ, "--http-header-timeout", "500ms")
    silent = connect(port)
    half_sent = connect(port)
    half_sent.sendall(b"GET /healthz HTTP/1.1\r\nHost: te")
    assert closed_within(silent, 10) < 5
    assert closed_within(half_sent, 10) < 5


def test_a_kept_alive_connection_is_closed_after_the_idle_timeout(aibridge_script, spawn, process_environ, tmp_path):
    environ = server_environ(process_environ, tmp_path / "data")
    _, port = start_server(spawn, aibridge_script, environ, "--http-idle-timeout", "500ms")
    with connect(port) as client:
        for _ in range(2):  # kept alive between the two
            client.sendall(HEALTHZ)
            head, body = read_response(client)
            assert head.startswith(b"HTTP/1.1 200") and body == b'{"status":"ok"}\n'
        waited = closed_within(client, 10)
    assert 0.4 < waited < 5


def test_idle_and_half_sent_connections_past_the_descriptors_do_not_lock_out_a_request(
    aibridge_script, spawn, process_environ, tmp_path
):
    """300 idle or half-sent connections against a server limited to 256 descriptors."""
    environ = server_environ(process_environ, tmp_path / "data")
    argv = ["prlimit", "--nofile=256", aibridge_script]
    server = spawn([*argv, "server", "--http-address", "127.0.0.1:0", "--http-header-timeout", "3s"], environ)
    port = int(server.wait_for_line(r"aibridge listening on http://127\.0\.0\.1:(\d+)").group(1))
    server.wait_for_line(r"client connections: at most 96 open")  # (256 - 64) / 2
    attackers = []
    for n in range(300):
        sock = connect(port)
        if n % 2:
            sock.sendall(b"POST /api/v2/aibridge/anthropic/v1/messages HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        attackers.append(sock)
    started = time.monotonic()
    with connect(port) as client:
        client.sendall(HEALTHZ)
        head, _ = read_response(client)
    assert head.startswith(b"HTTP/1.1 200")
    # It got in by taking the place of the connection that waited longest, not by outwaiting the timeout:
    assert sum(still_open(sock) for sock in attackers) > 50, time.monotonic() - started
    assert poll(lambda: not any(still_open(sock) for sock in attackers), timeout=15)
    for sock in attackers:
        sock.close()
    assert "Traceback" not in server.stderr and "Too many open files" not in server.stderr


def test_when_every_connection_is_busy_a_new_one_gets_503(aibridge_script, spawn, process_environ, tmp_path):
    environ = server_environ(process_environ, tmp_path / "data")
    _, port = start_server(spawn, aibridge_script, environ, "--http-max-connections", "2")
    busy = []
    for _ in range(2):  # each announced a body it does not send: busy with a request, not waiting for one
        sock = connect(port)
        sock.sendall(b"POST /healthz HTTP/1.1\r\nHost: test\r\nContent-Length: 100\r\n\r\n{")
        assert read_response(sock)[0].startswith(b"HTTP/1.1 405")  # answered; the server still reads the body
        busy.append(sock)
    with connect(port) as extra:
        head, body = read_response(extra)
    assert head.startswith(b"HTTP/1.1 503") and b"Retry-After: 1" in head
    assert body == b"the gateway is at its connection limit; retry in a moment.\n"
    for sock in busy:
        sock.close()


def test_a_client_that_stops_sending_its_body_gets_400_and_is_closed(aibridge_script, spawn, process_environ, tmp_path):
    data_dir = tmp_path / "data"
    token = create_token(data_dir)
    server, port = start_server(spawn, aibridge_script, server_environ(process_environ, data_dir),
                                "--http-write-timeout", "500ms")
    with connect(port) as client:
        client.sendall(f"POST /api/v2/aibridge/anthropic/v1/messages HTTP/1.1\r\nHost: test\r\nX-Api-Key: {token}\r\n"
                       "Content-Length: 100\r\n\r\n{".encode())
        head, _ = read_response(client)
        assert head.startswith(b"HTTP/1.1 400")
        assert is_closed(client)  # the rest of the stream is not the start of a request
    server.proc.terminate()
    server.wait()
    assert "Traceback" not in server.stderr


STREAM_HEAD = (b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n")


def _chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


def _sse(event: str, payload: dict) -> bytes:
    return f"event: {event}\ndata: {json.dumps(payload)}\n\n".encode()


def endless_anthropic_stream(listener: socket.socket, stop: threading.Event) -> None:
    """An upstream that answers one request with a stream of text deltas until it cannot write any more."""
    conn, _ = listener.accept()
    with conn:
        conn.recv(65536)
        message = {"type": "message_start", "message": {"id": "msg_1", "type": "message", "role": "assistant",
                   "model": "claude-sonnet-4-6", "content": [], "usage": {"input_tokens": 3, "output_tokens": 1}}}
        conn.sendall(STREAM_HEAD + _chunk(_sse("message_start", message)))
        delta = _chunk(_sse("content_block_delta", {"type": "content_block_delta", "index": 0,
                                                    "delta": {"type": "text_delta", "text": "x" * 16000}}))
        conn.settimeout(30)
        try:
            while not stop.is_set():
                conn.sendall(delta)
        except OSError:
            pass  # the gateway dropped its side


def test_a_client_that_stops_reading_a_stream_is_dropped_and_recorded_as_disconnected(
    aibridge_script, spawn, process_environ, tmp_path
):
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()
    threading.Thread(target=endless_anthropic_stream, args=(listener, stop), daemon=True).start()
    data_dir = tmp_path / "data"
    token = create_token(data_dir)
    environ = server_environ(process_environ, data_dir, CODER_AIBRIDGE_ANTHROPIC_KEY="sk-ant-test",
                             CODER_AIBRIDGE_ANTHROPIC_BASE_URL=f"http://127.0.0.1:{listener.getsockname()[1]}")
    server, port = start_server(spawn, aibridge_script, environ, "--http-write-timeout", "1s")
    body = json.dumps({"model": "claude-sonnet-4-6", "max_tokens": 5, "stream": True,
                       "messages": [{"role": "user", "content": "hi"}]})
    client = socket.socket()
    client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    client.connect(("127.0.0.1", port))
    client.sendall(
        f"POST /api/v2/aibridge/anthropic/v1/messages HTTP/1.1\r\nHost: test\r\nX-Api-Key: {token}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n{body}".encode()
    )
    assert client.recv(4096).startswith(b"HTTP/1.1 200")  # then it reads nothing more
    server.wait_for_line(r"dropped the connection of 127\.0\.0\.1: it read nothing for 1s", timeout=30)
    stop.set()

    def recorded_status():
        with sqlite3.connect(data_dir / "aibridge.db") as db:
            row = db.execute("SELECT status FROM interceptions").fetchone()
        return row and row[0]

    assert poll(recorded_status, timeout=10) == "client_disconnected"
    client.close()
    listener.close()
    assert "Traceback" not in server.stderr
