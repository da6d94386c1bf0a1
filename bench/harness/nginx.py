"""The fast fake upstream: nginx serving canned OpenAI and Anthropic answers from static files."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from . import canned
from .procs import Processes, free_port, http_status, wait_until_ready

# Which answer a POST gets: JSON by default, the SSE stream when the path starts
# with /stream/ or the request carries "X-Bench-Answer: sse" (gateways forward it).
_CONFIG = """\
worker_processes 1;
daemon off;
pid {root}/nginx.pid;
error_log {root}/nginx-error.log warn;
worker_rlimit_nofile 65536;

events {{
    worker_connections 30000;
    multi_accept on;
}}

http {{
    # One line per answered request: the exact number of upstream calls a
    # gateway made, to compare with the interceptions it recorded.
    log_format bench '$status $request_method $request_uri';
    access_log {root}/access.log bench;
    # The key each call came with, only for requests marked "X-Bench-Log-Key: 1" (gateways forward
    # the header): the resilience scenario counts how a key pool spread its calls.
    log_format keys '$status $http_authorization $http_x_api_key';
    map $http_x_bench_log_key $bench_log_key {{
        default 0;
        1 1;
    }}
    access_log {root}/keys.log keys if=$bench_log_key;
    sendfile on;
    tcp_nopush off;
    tcp_nodelay on;
    keepalive_requests 100000000;
    keepalive_timeout 600s;
    client_body_buffer_size 64k;
    client_body_temp_path {root}/tmp/body;
    proxy_temp_path {root}/tmp/proxy;
    fastcgi_temp_path {root}/tmp/fastcgi;
    uwsgi_temp_path {root}/tmp/uwsgi;
    scgi_temp_path {root}/tmp/scgi;
    types {{
        application/json json;
        text/event-stream sse;
    }}
    default_type application/octet-stream;

    map $http_x_bench_answer $bench_answer {{
        default json;
        sse sse;
    }}

    server {{
        listen 127.0.0.1:{port} backlog=4096;
        root {root}/www;

        location = /ping {{ return 200 "ok\\n"; }}

        location = /v1/chat/completions {{ rewrite ^ /answers/openai-chat.$bench_answer last; }}
        location = /stream/v1/chat/completions {{ rewrite ^ /answers/openai-chat.sse last; }}
        location = /v1/messages {{ rewrite ^ /answers/anthropic-messages.$bench_answer last; }}
        location = /stream/v1/messages {{ rewrite ^ /answers/anthropic-messages.sse last; }}

        location /answers/ {{
            internal;
            add_header Cache-Control no-cache;
            # A static file answers POST with 405; map it to the file itself.
            error_page 405 =200 $uri;
        }}

        location / {{ return 404 "no canned answer for this path\\n"; }}
    }}
}}
"""

ANSWERS = {
    "openai-chat.json": canned.openai_chat_json,
    "openai-chat.sse": canned.openai_chat_sse,
    "anthropic-messages.json": canned.anthropic_message_json,
    "anthropic-messages.sse": canned.anthropic_messages_sse,
}


def _write_tree(root: Path, port: int) -> Path:
    """Config and document root, readable by nginx's unprivileged worker user."""
    answers = root / "www" / "answers"
    answers.mkdir(parents=True, exist_ok=True)
    (root / "tmp").mkdir(exist_ok=True)
    for name, make in ANSWERS.items():
        (answers / name).write_bytes(make())
    conf = root / "nginx.conf"
    conf.write_text(_CONFIG.format(root=root, port=port))
    for path in [root, *root.rglob("*")]:
        os.chmod(path, 0o755 if path.is_dir() else 0o644)
    (root / "tmp").chmod(0o777)
    return conf


class Nginx:
    """A running nginx on 127.0.0.1:<port>."""

    def __init__(self, procs: Processes, work: Path):
        self.procs = procs
        self.root = work / "nginx"
        self.port = free_port()
        self.proc = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Write the config and start nginx in the foreground; wait until it answers."""
        binary = shutil.which("nginx") or "/usr/sbin/nginx"
        self.root.mkdir(parents=True, exist_ok=True)
        # mkdtemp makes the run's directory 0700: the worker user could not enter it.
        self.root.parent.chmod(0o755)
        conf = _write_tree(self.root, self.port)
        argv = [binary, "-p", str(self.root), "-c", str(conf), "-e", str(self.root / "nginx-error.log")]
        self.proc = self.procs.start("nginx", argv)
        wait_until_ready(lambda: http_status(self.port, "/ping")[0] == 200, "nginx", self.proc, 10, self.procs, "nginx")
        self._check_answers()

    def _check_answers(self) -> None:
        """POST each route once: a 405 or 403 here means the config is wrong, not the gateway."""
        checks = [
            ("/v1/chat/completions", {}, canned.openai_chat_json()),
            ("/v1/chat/completions", {"X-Bench-Answer": "sse"}, canned.openai_chat_sse()),
            ("/stream/v1/chat/completions", {}, canned.openai_chat_sse()),
            ("/v1/messages", {}, canned.anthropic_message_json()),
            ("/stream/v1/messages", {}, canned.anthropic_messages_sse()),
        ]
        for path, headers, expected in checks:
            status, body = http_status(self.port, path, "POST", {"Content-Type": "application/json", **headers}, b"{}")
            if status != 200 or body != expected:
                raise RuntimeError(f"nginx answered {status} to POST {path} {headers}: {body[:200]!r}")

    def log_mark(self) -> int:
        """A position in the access log; ``calls_since`` counts what was answered after it."""
        return self._log_size("access.log")

    def calls_since(self, mark: int) -> dict[str, int]:
        """Requests answered since ``mark``, keyed "<status> <path>"."""
        counts: dict[str, int] = {}
        for status, _method, uri in self._lines_since("access.log", mark):
            key = f"{status} {uri}"
            counts[key] = counts.get(key, 0) + 1
        return counts

    def keys_log_mark(self) -> int:
        """A position in the key log; ``keys_since`` counts the keys logged after it."""
        return self._log_size("keys.log")

    def keys_since(self, mark: int = 0) -> dict[str, int]:
        """Answers per upstream key (the Authorization or x-api-key value) since ``mark``, of marked requests.

        Keyed by the key for status 200, by "<status> <key>" for any other status.
        """
        counts: dict[str, int] = {}
        for status, *words in self._lines_since("keys.log", mark):
            # "Bearer sk-..." and "-", or "-" and "sk-ant-...": nginx writes "-" for a missing header.
            words = [word for word in words if word not in ("-", "Bearer")]
            key = words[-1] if words else "none"
            key = key if status == "200" else f"{status} {key}"
            counts[key] = counts.get(key, 0) + 1
        return counts

    def _log_size(self, name: str) -> int:
        path = self.root / name
        return path.stat().st_size if path.exists() else 0

    def _lines_since(self, name: str, mark: int):
        """The words of each line of log ``name`` after position ``mark`` (none while there is no log)."""
        path = self.root / name
        if not path.exists():
            return
        with open(path, "rb") as log:
            log.seek(mark)
            for line in log:
                yield line.decode().split()

    @staticmethod
    def answered(counts: dict[str, int]) -> int:
        """Canned answers served (status 200 on the chat and messages routes)."""
        return sum(n for key, n in counts.items() if key.startswith("200 ") and key.endswith(("/chat/completions", "/messages")))

    def version(self) -> str:
        out = subprocess.run(["nginx", "-v"], capture_output=True, text=True)
        return (out.stderr or out.stdout).strip().split("/")[-1]
