"""The real ``aibridge server`` process for tests that talk to it over raw sockets."""

from __future__ import annotations

import socket
import time
from pathlib import Path

from aibridge.db import open_database
from aibridge.people.users import UserStore

LISTENING = r"aibridge listening on http://127\.0\.0\.1:(\d+)"


def server_environ(process_environ: dict, data_dir: Path, **settings: str) -> dict:
    """The environment of a server with the bridge enabled, its data in ``data_dir``."""
    return {**process_environ, "CODER_AIBRIDGE_ENABLED": "true", "CODER_DATA_DIR": str(data_dir), **settings}


def start_server(spawn, aibridge_script: Path, environ: dict, *flags: str):
    """Start ``aibridge server`` on a free port; the process and its port once it listens."""
    server = spawn([aibridge_script, "server", "--http-address", "127.0.0.1:0", *flags], environ)
    port = int(server.wait_for_line(LISTENING).group(1))
    return server, port


def create_token(data_dir: Path, username: str = "alice") -> str:
    """A gateway token of a member (created when missing), written straight into the database."""
    data_dir.mkdir(parents=True, exist_ok=True)
    db = open_database(data_dir / "aibridge.db")
    try:
        store = UserStore(db)
        if username not in {user.username for user in store.list_users()}:
            store.create_user(username)
        return store.create_token(username, None)[1]
    finally:
        db.close()


def connect(port: int, timeout: float = 10) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=timeout)


def read_response(sock: socket.socket) -> tuple[bytes, bytes]:
    """One response's head and its Content-Length body (an error answer, a health check)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed after {data!r}")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return head, body


def is_closed(sock: socket.socket) -> bool:
    """Whether the server closed ``sock`` (reading gives the end of the stream or a reset)."""
    try:
        return sock.recv(65536) == b""
    except ConnectionResetError:
        return True


def poll(condition, timeout: float = 10, interval: float = 0.02):
    """Call ``condition`` until it returns a true value (returned) or ``timeout`` passes (None)."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(interval)
