"""Tracing in the real ``aibridge server`` (gevent), set up by environment variables only, to a real OTLP receiver.

The receiver (otlp_receiver.py) is a process of its own that decodes the
OTLP/HTTP protobufs the SDK's exporter sends. One request completes; in a
second the client leaves while the upstream is still silent: its spans end
too. What is still pending is flushed when the server stops.
"""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import anthropic
import requests
from support.fakeupstream import BEFORE_HEADERS, FakeUpstream
from support.server_process import open_stream
from support.recorder_support import user_with_token, wait_until

LISTENING = r"aibridge listening on (http://127\.0\.0\.1:(\d+))"
RECEIVER = Path(__file__).resolve().parent / "otlp_receiver.py"
UPSTREAM_KEY = "sk-ant-traced-upstream-key"
PROMPT = "Tell the receiver nothing about the aardvark Ximena."


DOC = (Path(__file__).resolve().parent.parent / "docs" / "tracing.md").read_text()
[DOC_COMMAND] = re.findall(r"^(CODER_AI_GATEWAY_ENABLED=true CODER_TRACE_ENABLE=true OTEL_EXPORTER_OTLP_ENDPOINT=\S+ "
                           r"OTEL_SERVICE_NAME=\S+ aibridge server)$", DOC, re.M)


def spans(receiver) -> list[dict]:
    return [json.loads(line.split(" ", 1)[1]) for line in receiver.stderr_lines if line.startswith("span ")]


def read_spans(receiver, predicate, timeout: float = 20) -> list[dict]:
    """The spans received so far once ``predicate`` holds for them."""
    def ready():
        try:
            receiver.wait_for_line(r"^span ", timeout=0.2)
        except AssertionError:
            pass
        found = spans(receiver)
        return found if predicate(found) else None

    return wait_until(ready, timeout, "the receiver to get the spans")


def test_the_server_exports_its_spans_over_otlp_http_configured_by_environment(aibridge_script, spawn, process_environ,
                                                                             tmp_path):
    receiver = spawn([sys.executable, RECEIVER], process_environ)
    port = receiver.wait_for_line(r"otlp receiver listening on (\d+)").group(1)
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    _, token = user_with_token(data_dir / "aibridge.db", "alice")
    with FakeUpstream() as upstream:
        environ = {
            **process_environ,
            "PATH": f"{aibridge_script.parent}:{process_environ['PATH']}",
            "CODER_DATA_DIR": str(data_dir), "CODER_HTTP_ADDRESS": "127.0.0.1:0",
            "CODER_AIBRIDGE_ANTHROPIC_BASE_URL": upstream.url, "CODER_AIBRIDGE_ANTHROPIC_KEY": UPSTREAM_KEY,
            "OTEL_BSP_SCHEDULE_DELAY": "100",  # milliseconds between exports, instead of 5 s
        }
        # docs/tracing.md's command, as written but for the collector's port (its variables only turn tracing on).
        command = DOC_COMMAND.replace("127.0.0.1:4318", f"127.0.0.1:{port}").replace("aibridge server",
                                                                                    "exec aibridge server")
        server = spawn(["bash", "-c", command], environ)
        # Without a collector, the log says where the spans go.
        server.wait_for_line(rf"tracing: spans of service aibridge-eu go over OTLP/HTTP to "
                             rf"http://127\.0\.0\.1:{port}/v1/traces")
        url = server.wait_for_line(LISTENING).group(1)

        upstream.queue("anthropic/blocking_text")
        client = anthropic.Anthropic(api_key=token, base_url=url + "/api/v2/aibridge/anthropic", max_retries=0)
        client.messages.create(model="claude-sonnet-4-6", max_tokens=64,
                               messages=[{"role": "user", "content": PROMPT}])

        # The client leaves while the upstream has not answered: the attempt is cut, every span still ends.
        upstream.queue("anthropic/stream_text", stall_after=BEFORE_HEADERS)
        with open_stream(url, token):
            upstream.wait_for_requests(2)
        read_spans(receiver, lambda found: any(s["attributes"].get("aibridge.status") == "client_disconnected"
                                               for s in found))
        server.proc.send_signal(signal.SIGTERM)
        assert server.wait() == 0, server.stderr

    received = read_spans(receiver, lambda found: len([s for s in found if s["name"] == "aibridge.record_write"]) == 2)
    assert "Traceback" not in server.stderr, server.stderr
    assert {s["service"] for s in received} == {"aibridge-eu"}
    assert {s["scope"] for s in received} == {"aibridge"}
    roots = {s["attributes"]["aibridge.status"]: s for s in received if s["name"] == "aibridge.interception"}
    assert set(roots) == {"completed", "client_disconnected"}
    for status, root in roots.items():
        children = [s for s in received if s["parent_span_id"] == root["span_id"]]
        assert all(s["trace_id"] == root["trace_id"] for s in children)
        names = sorted(s["name"] for s in children)
        assert names == ["aibridge.record_write", "aibridge.upstream_attempt"], (status, names)
        [attempt] = [s for s in children if s["name"] == "aibridge.upstream_attempt"]
        if status == "completed":
            assert attempt["attributes"]["http.response.status_code"] == 200 and attempt["status"] == 0
        else:
            assert attempt["attributes"]["error.type"] == "cancelled" and attempt["status"] == 2  # ERROR
            assert root["end"] >= attempt["end"] > attempt["start"]
    text = "\n".join(line for line in receiver.stderr_lines)
    for secret in (UPSTREAM_KEY, token, PROMPT, "aardvark"):
        assert secret not in text


def test_the_server_stops_within_its_shutdown_grace_when_the_collector_does_not_answer(aibridge_script, spawn,
                                                                                       process_environ, tmp_path):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    _, token = user_with_token(data_dir / "aibridge.db", "alice")
    with socket.socket() as silent, socket.socket() as refusing:
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)  # connections are taken (by the kernel), never answered
        refusing.bind(("127.0.0.1", 0))  # bound, never listening: the upstream refuses connections
        environ = {
            **process_environ,
            "CODER_AIBRIDGE_ENABLED": "true", "CODER_DATA_DIR": str(data_dir), "CODER_HTTP_ADDRESS": "127.0.0.1:0",
            "CODER_AIBRIDGE_ANTHROPIC_BASE_URL": f"http://127.0.0.1:{refusing.getsockname()[1]}",
            "CODER_AIBRIDGE_ANTHROPIC_KEY": UPSTREAM_KEY, "CODER_AIBRIDGE_MAX_RETRIES": "0",
            "CODER_SHUTDOWN_GRACE": "1s", "CODER_TRACE_ENABLE": "true",
            "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{silent.getsockname()[1]}",
        }
        server = spawn([aibridge_script, "server"], environ)
        url = server.wait_for_line(LISTENING).group(1)
        answer = requests.post(url + "/api/v2/aibridge/anthropic/v1/messages", headers={"x-api-key": token},
                               json={"model": "claude-sonnet-4-6", "max_tokens": 8, "messages": []}, timeout=10)
        assert answer.status_code == 502  # an interception, so spans wait for the silent collector
        started = time.monotonic()
        server.proc.send_signal(signal.SIGTERM)
        assert server.wait(timeout=30) == 0, server.stderr
        assert time.monotonic() - started < 8  # the exporter alone would wait 10 s per try, the SDK 30 s
    assert "tracing: spans not exported within 1s (--shutdown-grace) are dropped" in server.stderr


def test_tracing_on_without_the_sdk_is_one_line_naming_the_extra(aibridge_script, spawn, process_environ, tmp_path):
    hide = tmp_path / "hide"
    hide.mkdir()
    # As if the extra was not installed: importing the SDK fails the way a missing package does.
    (hide / "sitecustomize.py").write_text("import sys\nsys.modules['opentelemetry.sdk'] = None\n")
    environ = {**process_environ, "PYTHONPATH": str(hide), "CODER_AIBRIDGE_ENABLED": "true",
               "CODER_DATA_DIR": str(tmp_path / "data"), "CODER_HTTP_ADDRESS": "127.0.0.1:0",
               "CODER_TRACE_ENABLE": "true"}
    server = spawn([aibridge_script, "server"], environ)
    assert server.wait() == 2, server.stderr
    assert server.stderr == (
        "aibridge: error: --trace-enable / CODER_TRACE_ENABLE is on but the OpenTelemetry SDK is not installed: "
        "pip install 'aibridge[tracing]'\n")


def test_an_otlp_protocol_it_does_not_speak_is_one_line(aibridge_script, spawn, process_environ, tmp_path):
    environ = {**process_environ, "CODER_AIBRIDGE_ENABLED": "true", "CODER_DATA_DIR": str(tmp_path / "data"),
               "CODER_HTTP_ADDRESS": "127.0.0.1:0", "CODER_TRACE_ENABLE": "true", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}
    server = spawn([aibridge_script, "server"], environ)
    assert server.wait() == 2, server.stderr
    assert server.stderr == ("aibridge: error: OTEL_EXPORTER_OTLP_PROTOCOL=grpc: aibridge exports traces over OTLP/HTTP "
                             "only; set it to http/protobuf or unset it\n")


OFF_SCRIPT = """
import sys
from pathlib import Path
from aibridge.app import create_app, shutdown_app
from aibridge.config import Config, ProviderConfig
from aibridge.db import open_database
from aibridge.people.users import UserStore

data_dir, upstream_url = Path(sys.argv[1]), sys.argv[2]
app = create_app(Config(enabled=True, data_dir=data_dir, max_retries=0, providers=(
    ProviderConfig(type="anthropic", name="anthropic", base_url=upstream_url, keys=("sk-ant-key",)),)))
store = UserStore(open_database(data_dir / "aibridge.db"))
store.create_user("alice")
token = store.create_token("alice", None)[1]
answer = app.test_client().post("/api/v2/aibridge/anthropic/v1/messages", headers={"x-api-key": token},
    json={"model": "claude-sonnet-4-6", "max_tokens": 64, "messages": [{"role": "user", "content": "Hi"}]})
shutdown_app(app)
print(answer.status_code, sorted(m for m in sys.modules if m.startswith("opentelemetry.sdk")))
"""


def test_with_tracing_off_the_sdk_is_not_even_imported(process_environ, tmp_path):
    with FakeUpstream() as upstream:
        upstream.queue("anthropic/blocking_text")
        done = subprocess.run([sys.executable, "-c", OFF_SCRIPT, str(tmp_path), upstream.url], env=process_environ,
                              capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "200 []", done.stderr
