"""SIGHUP reloads the configuration of the real server (issue 12, item 7)."""

from __future__ import annotations

import dataclasses
import http.server
import json
import logging
import signal
import threading
from pathlib import Path

import requests
from support.edge_support import create_token, server_environ, start_server
from support.mcpserver import MCPTestServer

from aibridge.config import Config
from aibridge.server.reload import keeping_restart_only_settings

MESSAGE = {"id": "msg_1", "type": "message", "role": "assistant", "model": "claude-sonnet-4-6", "content": [],
           "stop_reason": None, "usage": {"input_tokens": 3, "output_tokens": 1}}


def sse(event: str, payload: dict) -> bytes:
    return f"event: {event}\ndata: {json.dumps(payload)}\n\n".encode()


class HeldUpstream(http.server.ThreadingHTTPServer):
    """An Anthropic upstream that records each request's key and tools, and holds streams until released."""

    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.url = f"http://127.0.0.1:{self.server_address[1]}"
        self.keys: list[str] = []
        self.tools: list[list[str]] = []
        self.release = threading.Event()
        threading.Thread(target=self.serve_forever, daemon=True).start()


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):
        pass

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.keys.append(self.headers["x-api-key"])
        self.server.tools.append([tool["name"] for tool in body.get("tools", [])])
        if body.get("stream"):
            self._stream()
        else:
            self._answer()

    def _answer(self):
        answer = json.dumps(dict(MESSAGE, content=[{"type": "text", "text": "hi"}], stop_reason="end_turn")).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def _stream(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Connection", "close")  # the body ends with the connection
        self.end_headers()
        self.wfile.write(sse("message_start", {"type": "message_start", "message": MESSAGE}))
        self.wfile.flush()
        self.server.release.wait(30)
        self.wfile.write(sse("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn"},
                                               "usage": {"output_tokens": 2}}))
        self.wfile.write(sse("message_stop", {"type": "message_stop"}))
        self.close_connection = True


def write_config(path: Path, upstream_url: str, key: str, mcp_url: str = "") -> None:
    lines = ["aibridge:", f"  anthropic_key: {key}", f"  anthropic_base_url: {upstream_url}"]
    if mcp_url:
        lines += ["  mcp_servers:", "    - name: docs", f"      url: {mcp_url}"]
    path.write_text("\n".join(lines) + "\n")


def messages(url: str, token: str, stream: bool = False) -> requests.Response:
    body = {"model": "claude-sonnet-4-6", "max_tokens": 5, "stream": stream, "messages": [{"role": "user", "content": "hi"}]}
    return requests.post(f"{url}/api/v2/aibridge/anthropic/v1/messages", headers={"X-Api-Key": token},
                         json=body, stream=stream, timeout=30)


def test_sighup_swaps_keys_and_mcp_servers_keeps_streams_and_survives_a_bad_file(
    aibridge_script, spawn, process_environ, tmp_path
):
    upstream = HeldUpstream()
    config_file = tmp_path / "aibridge.yaml"
    write_config(config_file, upstream.url, "sk-ant-before")
    data_dir = tmp_path / "data"
    token = create_token(data_dir)
    environ = server_environ(process_environ, data_dir, CODER_CONFIG_PATH=str(config_file))
    server, port = start_server(spawn, aibridge_script, environ)
    url = f"http://127.0.0.1:{port}"

    open_stream = messages(url, token, stream=True)
    lines = open_stream.iter_lines()
    assert next(line for line in lines if line.startswith(b"event:")) == b"event: message_start"

    with MCPTestServer() as mcp:
        write_config(config_file, upstream.url, "sk-ant-after", mcp.url)
        server.proc.send_signal(signal.SIGHUP)
        server.wait_for_line(r"configuration reloaded: providers openai, anthropic; 1 MCP servers")
        assert messages(url, token).status_code == 200
        assert upstream.keys == ["sk-ant-before", "sk-ant-after"]
        assert "bmcp_docs_search" in upstream.tools[-1]  # the MCP plugin picked up the new server

        upstream.release.set()  # the stream that started before the reload ends as it would have
        rest = b"\n".join(lines)
        assert b"event: message_stop" in rest

        config_file.write_text("aibridge:\n  retention: forever\n")
        server.proc.send_signal(signal.SIGHUP)
        failed = server.wait_for_line(r"reload failed, the running configuration stays: (.*)")
        assert failed.group(1).startswith(f"aibridge.retention in {config_file}: invalid duration 'forever'")
        assert messages(url, token).status_code == 200
        assert upstream.keys[-1] == "sk-ant-after"

        server.proc.send_signal(signal.SIGTERM)  # (before the MCP server stops: the gateway ends its session)
        assert server.wait() == 0
    assert server.stderr.count("reload failed") == 1 and "Traceback" not in server.stderr
    upstream.shutdown()


def test_settings_only_a_restart_applies_keep_their_running_values(caplog):
    running = Config(http_address="127.0.0.1:3000", data_dir=Path("/srv/a"), upstream_timeout=60.0)
    fresh = dataclasses.replace(running, http_address="0.0.0.0:3000", data_dir=Path("/srv/b"), upstream_timeout=5.0)
    with caplog.at_level(logging.WARNING, logger="aibridge.server"):
        applied = keeping_restart_only_settings(running, fresh)
    assert (applied.http_address, applied.data_dir, applied.upstream_timeout) == ("127.0.0.1:3000", Path("/srv/a"), 5.0)
    assert caplog.messages == ["reload: --http-address, --data-dir changed; a restart applies them"]


def test_a_reload_that_applies_settles_the_interpreter_again_and_one_that_fails_does_not(tmp_path, monkeypatch):
    # What the old configuration held can be collected only once it is unfrozen (aibridge/interpreter.py).
    import types

    from aibridge.app import create_app, shutdown_app
    from aibridge.config import ConfigError
    from aibridge.server import reload as reloading

    (tmp_path / "data").mkdir()
    config = Config(data_dir=tmp_path / "data")
    app = create_app(config)
    settled = []
    monkeypatch.setattr(reloading, "settle_for_serving", lambda: settled.append(True))
    server = types.SimpleNamespace(limits=None)

    def unreadable() -> Config:
        raise ConfigError("--config: no such file")

    try:
        assert not reloading.reload_configuration(app, server, unreadable)
        assert settled == [] and server.limits is None
        assert reloading.reload_configuration(app, server, lambda: config)
        assert settled == [True] and server.limits is not None
    finally:
        shutdown_app(app)
