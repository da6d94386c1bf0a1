"""``aibridge server``: startup banner, health check, graceful shutdown, startup errors."""

import json
import re
import signal
import socket
import subprocess

import gevent
import gevent.socket
import pytest
import requests
from gevent.event import Event

from aibridge.config import ConfigError
from aibridge.server import GatewayServer, listen
from aibridge.server.handler import GatewayHandler

LISTENING = r"aibridge listening on (http://127\.0\.0\.1:(\d+))"


@pytest.fixture
def server_environ(process_environ, tmp_path):
    return {**process_environ, "CODER_AIBRIDGE_ENABLED": "true", "CODER_DATA_DIR": str(tmp_path / "data")}


def test_serves_healthz_and_stops_on_sigterm(aibridge_script, spawn, server_environ, tmp_path):
    server = spawn([aibridge_script, "server", "--http-address", "127.0.0.1:0"], server_environ)
    url = server.wait_for_line(LISTENING).group(1)
    response = requests.get(url + "/healthz", timeout=10)
    assert response.status_code == 200 and response.json() == {"status": "ok"}
    server.proc.send_signal(signal.SIGTERM)
    assert server.wait() == 0, server.stderr
    assert "Traceback" not in server.stderr and "MonkeyPatchWarning" not in server.stderr
    data_dir = tmp_path / "data"
    assert f"data: {data_dir}  (database {data_dir / 'aibridge.db'})" in server.stderr
    assert f"{aibridge_script} users create admin --role owner --data-dir {data_dir}" in server.stderr
    assert f"{aibridge_script} tokens create admin --data-dir {data_dir}" in server.stderr
    assert "providers: (none ready)" in server.stderr  # no keys, BYOK off: see test_provider_keys.py
    assert '"GET /healthz HTTP/1.1" 200' in server.stderr  # the access log goes through the log setup


def test_the_printed_commands_work_and_the_token_is_accepted(aibridge_script, spawn, server_environ):
    unreachable = socket.socket()
    unreachable.bind(("127.0.0.1", 0))  # bound, never listening: connections to it are refused
    environ = {**server_environ, "CODER_AIBRIDGE_ANTHROPIC_BASE_URL": f"http://127.0.0.1:{unreachable.getsockname()[1]}"}
    server = spawn([aibridge_script, "server", "--http-address", "127.0.0.1:0"], environ)
    url = server.wait_for_line(LISTENING).group(1)
    server.wait_for_line(r"tokens create admin")
    commands = [line.strip() for line in server.stderr_lines if " create admin " in line]
    outputs = [subprocess.run(command, shell=True, env=environ, capture_output=True, text=True) for command in commands]
    assert [o.returncode for o in outputs] == [0, 0], [o.stderr for o in outputs]
    token = outputs[1].stdout.strip()
    wrong = requests.get(url + "/api/v2/aibridge/anthropic/v1/models", headers={"X-Api-Key": "wrong"}, timeout=30)
    assert wrong.status_code == 401, wrong.text
    # With the printed token the request gets past authentication to the (unreachable) upstream.
    right = requests.get(url + "/api/v2/aibridge/anthropic/v1/models", headers={"X-Api-Key": token}, timeout=30)
    assert right.status_code == 502, right.text
    server.proc.send_signal(signal.SIGINT)
    assert server.wait() == 0, server.stderr
    assert token.split("_", 2)[2] not in server.stderr
    unreachable.close()


def test_idle_keep_alive_connections_do_not_hold_up_the_shutdown(aibridge_script, spawn, server_environ):
    server = spawn(
        [aibridge_script, "server", "--http-address", "127.0.0.1:0", "--shutdown-grace", "1h"], server_environ
    )
    port = int(server.wait_for_line(LISTENING).group(2))
    with socket.create_connection(("127.0.0.1", port), timeout=30) as client:
        client.sendall(b"GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n")
        response = b""
        while b'{"status":"ok"}' not in response:
            response += client.recv(4096)
        assert response.startswith(b"HTTP/1.1 200")
        server.proc.send_signal(signal.SIGTERM)
        assert client.recv(4096) == b""  # the server closes the idle connection
    assert server.wait(timeout=60) == 0, server.stderr


def test_port_in_use_is_one_line_and_exit_2(aibridge_script, spawn, server_environ):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        server = spawn([aibridge_script, "server", "--http-address", f"127.0.0.1:{port}"], server_environ)
        assert server.wait() == 2, server.stderr
    assert server.stderr == (
        f"aibridge: error: --http-address / CODER_HTTP_ADDRESS 127.0.0.1:{port}: cannot listen: Address already in use\n"
    )


def test_unwritable_log_file_is_one_line_and_exit_2(aibridge_script, spawn, server_environ, tmp_path):
    target = tmp_path / "missing-dir" / "log.json"
    server = spawn([aibridge_script, "server", "--http-address", "127.0.0.1:0", "--log-json", target], server_environ)
    assert server.wait() == 2
    assert server.stderr == (
        f"aibridge: error: --log-json / CODER_LOGGING_JSON: cannot open {target} for writing: No such file or directory\n"
    )


def test_json_logs(aibridge_script, spawn, server_environ, tmp_path):
    log_file = tmp_path / "aibridge.log.json"
    server = spawn(
        [aibridge_script, "server", "--http-address", "127.0.0.1:0", "--log-json", log_file, "--log-human", ""],
        {**server_environ, "CODER_AIBRIDGE_OPENAI_KEY": "sk-must-not-be-logged"},
    )
    port = int(server.wait_for_line(LISTENING).group(2))
    with socket.create_connection(("127.0.0.1", port), timeout=30) as client:
        client.sendall(b"GET /healthz HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
        sent = b"".join(iter(lambda: client.recv(4096), b""))
    server.proc.send_signal(signal.SIGTERM)
    assert server.wait() == 0
    lines = [json.loads(line) for line in log_file.read_text().splitlines()]
    [access] = [line for line in lines if line["logger"] == "aibridge.access"]
    assert '"GET /healthz HTTP/1.1" 200' in access["message"]
    fields = {key: access[key] for key in ("method", "path", "status", "bytes", "remote_addr")}
    # bytes: everything sent to the client, headers included
    assert fields == {"method": "GET", "path": "/healthz", "status": 200, "bytes": len(sent), "remote_addr": "127.0.0.1"}
    assert isinstance(access["duration_ms"], float) and "user_id" not in access  # nobody signed in
    assert {"time", "level", "logger", "message"} <= set(lines[0])
    assert not re.search(r"^\d{4}-\d\d-\d\dT", server.stderr, re.M)  # human-readable lines are off
    assert "sk-must-not-be-logged" not in log_file.read_text() + server.stderr


def test_listen_errors_name_the_setting():
    with pytest.raises(ConfigError, match=r"^--http-address / CODER_HTTP_ADDRESS 203\.0\.113\.7:80: cannot listen: "):
        listen("203.0.113.7:80")  # an address this machine does not have


def _get(port: int, path: str) -> bytes:
    """A raw HTTP/1.1 request with gevent sockets (this test process is not monkey-patched)."""
    with gevent.socket.create_connection(("127.0.0.1", port), timeout=30) as client:
        client.sendall(f"GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n".encode())
        response = b""
        while chunk := client.recv(4096):
            response += chunk
    return response


def test_drain_lets_in_flight_requests_finish_and_refuses_new_ones():
    started, release = Event(), Event()

    def slow_app(environ, start_response):
        started.set()
        release.wait()
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "4")])
        return [b"done"]

    listener = listen("127.0.0.1:0")
    port = listener.getsockname()[1]
    server = GatewayServer(listener, slow_app, log=None)
    server.start()
    in_flight = gevent.spawn(_get, port, "/slow")
    assert started.wait(timeout=30)
    draining = gevent.spawn(server.drain, 60)
    gevent.idle()
    with pytest.raises(ConnectionRefusedError):
        gevent.socket.create_connection(("127.0.0.1", port), timeout=30)
    assert not draining.ready()  # still waiting for the request in flight
    release.set()
    assert in_flight.get(timeout=30).endswith(b"\r\n\r\ndone")
    draining.get(timeout=30)


def test_drain_cuts_requests_that_outlive_the_grace_period():
    started = Event()

    def stuck_app(environ, start_response):
        started.set()
        Event().wait()

    listener = listen("127.0.0.1:0")
    server = GatewayServer(listener, stuck_app, log=None, error_log=None)
    server.start()
    stuck = gevent.spawn(_get, listener.getsockname()[1], "/stuck")
    assert started.wait(timeout=30)
    server.drain(0.1)
    cut = stuck.get(timeout=30)  # a 500 (nothing was sent yet) or a closed connection, never a success
    assert cut == b"" or cut.startswith(b"HTTP/1.1 500")



class _CountedSends:
    """The client's socket, keeping what each send put on the wire."""

    def __init__(self, sock, sends: list):
        self._counted, self._sends = sock, sends  # not ``_sock``: gevent reads that name as the OS socket

    def sendall(self, data, *args):
        self._sends.append(bytes(data))
        return self._counted.sendall(data, *args)

    def __getattr__(self, name):
        return getattr(self._counted, name)


@pytest.mark.parametrize("body, sends", [
    ([b"hello"], 1),  # a blocking answer: head and body in one send
    ([b"data: 1\n\n", b"data: 2\n\n"], 3),  # a stream: head with the first event, the second, the last chunk
    ([b"x" * 20000], 2),  # a large first piece goes from its own buffer, after the head
    ([], 1),  # an empty body: the head alone
])
def test_the_head_goes_out_with_a_small_first_piece_of_the_body(body, sends):
    sent: list[bytes] = []

    class Handler(GatewayHandler):
        def __init__(self, sock, address, server):
            super().__init__(sock, address, server)
            self.socket = _CountedSends(self.socket, sent)

    def app(environ, start_response):
        length = [] if len(body) == 2 else [("Content-Length", str(sum(map(len, body))))]  # two pieces: chunked
        start_response("200 OK", [("Content-Type", "text/plain"), *length])
        return iter(body)

    listener = listen("127.0.0.1:0")
    server = GatewayServer(listener, app, log=None)
    server.handler_class = Handler
    server.start()
    try:
        answer = _get(listener.getsockname()[1], "/")
    finally:
        server.stop()
    assert len(sent) == sends and b"".join(sent) == answer
    head, _, rest = answer.partition(b"\r\n\r\n")
    if len(body) == 2:
        assert b"Transfer-Encoding: chunked" in head and rest == b"9\r\ndata: 1\n\n\r\n9\r\ndata: 2\n\n\r\n0\r\n\r\n"
    else:
        assert b"Content-Length: %d" % len(b"".join(body)) in head and rest == b"".join(body)


def test_serving_freezes_what_start_up_made_and_a_reload_can_free_what_was_frozen():
    import gc
    import weakref

    from aibridge.interpreter import settle_for_serving

    class Configuration:
        pass

    try:
        old = Configuration()
        old.itself = old  # a cycle: only a collection frees it
        gone = weakref.ref(old)
        settle_for_serving()
        assert gc.get_freeze_count() > 0 and gc.get_count()[2] == 0
        del old  # replaced by a reload
        gc.collect()
        assert gone() is not None  # frozen: no collection looks at it
        settle_for_serving()
        assert gone() is None
    finally:
        gc.unfreeze()
