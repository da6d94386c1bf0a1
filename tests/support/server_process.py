"""``aibridge server`` (gevent) in a subprocess, its anthropic provider on a fake upstream, for end-to-end tests;
and the command line of gunicorn serving the app as docs/deployment.md shows."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import requests

UPSTREAM_KEY = "sk-ant-api03-end-to-end-upstream-key"
AIBRIDGE = str(Path(sys.executable).parent / "aibridge")
STREAMED_BODY = json.dumps({"model": "claude-sonnet-4-6", "max_tokens": 64, "stream": True,
                            "messages": [{"role": "user", "content": "Say hello."}]}).encode()
DEPLOYMENT_DOC = Path(__file__).resolve().parents[2] / "docs" / "deployment.md"


class Server:
    """``aibridge server`` in a subprocess on a free port."""

    def __init__(self, data_dir: Path, upstream_url: str, logs: Path, extra_args: tuple[str, ...] = ()):
        env = {k: v for k, v in os.environ.items() if not k.startswith("CODER_")}
        self.json_log, self.human_log = logs / "aibridge.jsonl", logs / "aibridge.log"
        self.process = subprocess.Popen(
            [AIBRIDGE, "server", "--http-address", "127.0.0.1:0", "--data-dir", str(data_dir),
             "--aibridge-enabled", "--aibridge-anthropic-base-url", upstream_url,
             "--aibridge-anthropic-key", UPSTREAM_KEY, "--aibridge-structured-logging",
             "--log-json", str(self.json_log), "--log-human", str(self.human_log), *extra_args],
            stderr=subprocess.PIPE, text=True, env=env,
        )
        banner = self.process.stderr.readline()
        assert banner.startswith("aibridge listening on http://127.0.0.1:"), banner + self.process.stderr.read()
        self.url = banner.split()[-1]
        # Keep reading the rest of the banner so the server never blocks on a full pipe.
        self._rest = []
        threading.Thread(target=lambda: self._rest.extend(self.process.stderr), daemon=True).start()

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=60)

    def records(self) -> list[dict]:
        lines = [json.loads(line) for line in self.json_log.read_text().splitlines()]
        return [line for line in lines if line.get("message") == "interception log"]


def audit(server: Server, token: str, path: str = "/api/v2/aibridge/interceptions", **params) -> dict:
    """A GET of the audit API with ``token``; its JSON answer (which must be a 200)."""
    response = requests.get(server.url + path, params=params, headers={"Authorization": f"Bearer {token}"},
                            timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def open_stream(url: str, token: str) -> socket.socket:
    """A raw client that sent a streamed Messages request to the gateway at ``url`` (and reads nothing yet)."""
    host, port = url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=30)
    sock.sendall(b"POST /api/v2/aibridge/anthropic/v1/messages HTTP/1.1\r\nHost: gateway\r\n"
                 b"Content-Type: application/json\r\n" + f"x-api-key: {token}\r\n".encode()
                 + f"Content-Length: {len(STREAMED_BODY)}\r\n\r\n".encode() + STREAMED_BODY)
    return sock


@pytest.fixture
def gunicorn_conf(tmp_path) -> Path:
    """gunicorn.conf.py exactly as the deployment guide shows it."""
    block = re.search(r"```python\n(# gunicorn\.conf\.py\n.*?)```", DEPLOYMENT_DOC.read_text(), re.S).group(1)
    path = tmp_path / "gunicorn.conf.py"
    path.write_text(block)
    return path


def gunicorn(aibridge_script: Path, conf: Path) -> list:
    """gunicorn with two gevent workers on a free port, configured by ``conf``."""
    return [aibridge_script.parent / "gunicorn", "-c", conf, "-k", "gevent", "-w", "2", "-b", "127.0.0.1:0",
            "aibridge.app:create_app()"]  # fmt: skip
