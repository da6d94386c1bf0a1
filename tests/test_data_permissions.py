"""The data directory and the SQLite files are private to the gateway's user (issue 12, item 9)."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import stat

import pytest
import requests
from support.edge_support import create_token, poll, server_environ, start_server


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def usual_umask():
    """The common umask 022, under which files are created readable by everyone unless made private."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def test_a_new_data_directory_and_database_are_private(aibridge_script, spawn, process_environ, tmp_path, usual_umask):
    data_dir = tmp_path / "new" / "data"
    unreachable = socket.socket()
    unreachable.bind(("127.0.0.1", 0))  # bound, never listening: the passthrough below gets 502
    environ = server_environ(process_environ, data_dir,
                             CODER_AIBRIDGE_ANTHROPIC_BASE_URL=f"http://127.0.0.1:{unreachable.getsockname()[1]}")
    server, port = start_server(spawn, aibridge_script, environ)
    database = data_dir / "aibridge.db"
    assert (mode(data_dir), mode(database)) == (0o700, 0o600)
    # A token's use is written to the database: SQLite opens its -wal and -shm files.
    token = create_token(data_dir)
    answer = requests.get(f"http://127.0.0.1:{port}/api/v2/aibridge/anthropic/v1/models",
                          headers={"X-Api-Key": token}, timeout=10)
    assert answer.status_code == 502
    assert poll(lambda: os.path.exists(f"{database}-wal") and os.path.exists(f"{database}-shm"))
    assert (mode(f"{database}-wal"), mode(f"{database}-shm")) == (0o600, 0o600)
    server.proc.send_signal(signal.SIGTERM)
    assert server.wait() == 0
    assert "readable by other users" not in server.stderr
    unreachable.close()


def test_existing_data_files_others_can_read_are_named_at_start(aibridge_script, spawn, process_environ, tmp_path,
                                                                 usual_umask):
    data_dir = tmp_path / "data"
    data_dir.mkdir(mode=0o755)
    sqlite3.connect(data_dir / "aibridge.db").execute("CREATE TABLE t (x)").connection.close()  # 0644
    server, _ = start_server(spawn, aibridge_script, server_environ(process_environ, data_dir))
    server.proc.send_signal(signal.SIGTERM)
    assert server.wait() == 0
    warnings = [line for line in server.stderr_lines if "readable by other users" in line]
    assert len(warnings) == 2, server.stderr
    assert warnings[0].endswith(f"{data_dir} is readable by other users (mode 0755) and holds everyone's prompts: "
                                f"chmod 700 {data_dir}\n")
    assert warnings[1].endswith(f"(mode 0644) and holds everyone's prompts: chmod 600 {data_dir / 'aibridge.db'}\n")
    assert mode(data_dir) == 0o755  # left as the administrator set it
