"""Failures only the real server shows: a client that leaves while the upstream is silent, and a shutdown
that cuts a stream. ``aibridge server`` (and gunicorn's gevent worker) in a subprocess, raw socket clients."""

from __future__ import annotations

import json
import signal
import socket
import subprocess

import pytest
import requests
from support.fakeupstream import BEFORE_HEADERS, load_fixture
from support.faults import data_dir, upstream  # noqa: F401 (fixtures)
from support.server_process import (  # noqa: F401 (gunicorn_conf: a fixture)
    AIBRIDGE,
    UPSTREAM_KEY,
    Server,
    gunicorn,
    gunicorn_conf,
    open_stream,
)
from support.recorder_support import read_rows, user_with_token, wait_until

FIRST_EVENTS = load_fixture("anthropic/stream_text").chunks()[:3]


def read_until(sock: socket.socket, done) -> bytes:
    received = b""
    while not done(received):
        part = sock.recv(65536)
        if not part:
            break
        received += part
    return received


def ended_interceptions(url: str, token: str, q: str = "") -> list[dict]:
    answer = requests.get(url + "/api/v2/aibridge/interceptions", params={"q": q},
                          headers={"Authorization": f"Bearer {token}"}, timeout=10).json()
    return [found for found in answer["results"] if found["ended_at"]]


def leave_while_upstream_is_silent(url: str, token: str, upstream, stall_after: int) -> dict:
    """Send a stream whose upstream falls silent, close the client, and return the interception once recorded.

    The upstream timeout is the default 10 minutes: only noticing the client's leaving ends it this soon.
    """
    upstream.queue("anthropic/stream_text", stall_after=stall_after)
    with open_stream(url, token) as sock:
        if stall_after == BEFORE_HEADERS:
            upstream.wait_for_requests(1)
        else:
            read_until(sock, lambda got: all(event in got for event in FIRST_EVENTS))
    [found] = wait_until(lambda: ended_interceptions(url, token), timeout=15, what="the interception to end")
    # The gateway closed its upstream connection, which ended the fake upstream's stalled answer.
    wait_until(lambda: upstream.open_connections == 0, timeout=15, what="the upstream connection to close")
    return found


@pytest.mark.parametrize("stall_after", [BEFORE_HEADERS, 3], ids=["before-the-answer", "mid-stream"])
def test_a_client_that_leaves_while_the_upstream_is_silent_is_noticed(data_dir, tmp_path, upstream, stall_after):
    user_id, token = user_with_token(data_dir / "aibridge.db", "alice", "owner")
    server = Server(data_dir, upstream.url, tmp_path)
    try:
        found = leave_while_upstream_is_silent(server.url, token, upstream, stall_after)
        assert found["status"] == "client_disconnected"
        assert found["error"] == {"kind": "client_disconnected", "upstream_status": None,
                                  "message": "the client closed the connection before the answer was complete"}
        assert ended_interceptions(server.url, token, "status:client_disconnected") == [found]
        assert ended_interceptions(server.url, token, "status:completed") == []
    finally:
        assert server.stop() == 0
    [end] = [line for line in server.records() if line["record_type"] == "interception_end"]
    assert (end["status"], end["error"]["kind"]) == ("client_disconnected", "client_disconnected")
    assert isinstance(end["duration_ms"], int)
    [start] = [line for line in server.records() if line["record_type"] == "interception_start"]
    assert (start["initiator_id"], start["initiator_username"]) == (user_id, "alice")
    # The JSON access log has the request's parts as fields, and who made it.
    access = [json.loads(line) for line in server.json_log.read_text().splitlines()]
    [line] = [line for line in access if line["logger"] == "aibridge.access" and line.get("method") == "POST"]
    status = 499 if stall_after == BEFORE_HEADERS else 200  # 499: nginx's "client closed the request"
    assert (line["path"], line["status"], line["user_id"]) == ("/api/v2/aibridge/anthropic/v1/messages", status, user_id)
    assert isinstance(line["bytes"], int) and isinstance(line["duration_ms"], float)
    assert "Traceback" not in server.human_log.read_text()


def test_under_gunicorn_a_client_that_leaves_is_noticed_too(aibridge_script, spawn, process_environ, gunicorn_conf,
                                                             data_dir, upstream):
    _, token = user_with_token(data_dir / "aibridge.db", "alice", "owner")
    environ = {**process_environ, "CODER_AIBRIDGE_ENABLED": "true", "CODER_DATA_DIR": str(data_dir),
               "CODER_AIBRIDGE_ANTHROPIC_BASE_URL": upstream.url, "CODER_AIBRIDGE_ANTHROPIC_KEY": UPSTREAM_KEY}
    argv = gunicorn(aibridge_script, gunicorn_conf)
    argv[argv.index("-w") + 1] = "1"
    master = spawn(argv, environ)
    url = master.wait_for_line(r"Listening at: (http://127\.0\.0\.1:\d+)").group(1)
    master.wait_for_line(r"aibridge worker \d+ ready")
    found = leave_while_upstream_is_silent(url, token, upstream, stall_after=3)
    assert (found["status"], found["error"]["kind"]) == ("client_disconnected", "client_disconnected")
    master.proc.send_signal(signal.SIGTERM)
    assert master.wait() == 0, master.stderr
    assert "Traceback" not in master.stderr


def test_a_stream_cut_at_shutdown_ends_with_an_error_event_and_is_recorded_gateway_shutdown(
        data_dir, tmp_path, upstream):
    _, token = user_with_token(data_dir / "aibridge.db", "alice", "owner")
    server = Server(data_dir, upstream.url, tmp_path, ("--shutdown-grace", "0.2s"))
    upstream.queue("anthropic/stream_text", stall_after=3)  # then the upstream is slow: nothing more
    with open_stream(server.url, token) as sock:
        received = read_until(sock, lambda got: all(event in got for event in FIRST_EVENTS))
        server.process.send_signal(signal.SIGTERM)
        received += read_until(sock, lambda got: False)  # to the end: the server closes the connection
    assert server.process.wait(timeout=60) == 0
    assert received.startswith(b"HTTP/1.1 200 OK\r\n")
    error = received.split(b"event: error\n", 1)[1].split(b"data: ", 1)[1].split(b"\n", 1)[0]
    message = "the gateway is shutting down and cut this answer: send the request again"
    assert json.loads(error) == {"type": "error", "error": {"type": "api_error", "message": message}}
    assert received.endswith(b"\r\n0\r\n\r\n")  # the chunked answer ended properly after the error event

    [row] = read_rows(data_dir / "aibridge.db", "interceptions")
    assert row["status"] == "failed"
    assert json.loads(row["error"]) == {"kind": "gateway_shutdown", "message": message, "upstream_status": None}
    listed = subprocess.run([AIBRIDGE, "interceptions", "list", "--status", "failed", "--data-dir", str(data_dir)],
                            capture_output=True, text=True, timeout=60)
    assert listed.returncode == 0, listed.stderr
    [found] = json.loads(listed.stdout)["results"]
    assert (found["status"], found["error"]["kind"]) == ("failed", "gateway_shutdown")
    [end] = [line for line in server.records() if line["record_type"] == "interception_end"]
    assert (end["status"], end["error"]["kind"]) == ("failed", "gateway_shutdown")
    assert "Traceback" not in server.human_log.read_text()
