"""docs/upgrading.md: its list of migrations is the code's, and its backup, check and restore commands work as written.

The commands run with the doc's paths (/var/lib/aibridge, /var/backups)
turned into temporary directories, against a real ``aibridge server``.
"""

from __future__ import annotations

import re
import shutil
import signal
import sqlite3
import subprocess
from pathlib import Path

import pytest

from aibridge.cost.schema import cost_migrations
from aibridge.db import core_migrations
from aibridge_plugins.budgets.schema import migrations as budgets_migrations
from aibridge_plugins.storage.schema import migrations as recorder_migrations

DOC = (Path(__file__).resolve().parent.parent / "docs" / "upgrading.md").read_text()
MIGRATION_SETS = (core_migrations, cost_migrations, recorder_migrations, budgets_migrations)  # in the order a starting gateway applies them


def code_migrations() -> list[tuple[str, str]]:
    """(set, migration) of every migration, in the order they run on a new database."""
    return [(migrations.name, name) for migrations in MIGRATION_SETS for name in migrations.names]


def shell_block(containing: str) -> str:
    [block] = [b for b in re.findall(r"^```sh\n(.*?)^```$", DOC, re.M | re.S) if containing in b]
    return block


def run_block(containing: str, data_dir: Path, backups: Path) -> str:
    script = shell_block(containing).replace("/var/lib/aibridge", str(data_dir)).replace("/var/backups", str(backups))
    done = subprocess.run(["bash", "-e", "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def usernames(database: Path) -> set[str]:
    conn = sqlite3.connect(database)
    try:
        return {row[0] for row in conn.execute("SELECT username FROM users")}
    finally:
        conn.close()


def test_the_doc_lists_every_migration_in_the_order_they_run():
    table = re.findall(r"^\| `([\w-]+)` \| `(\w+)` \|", DOC, re.M)
    assert table == code_migrations()
    [sample] = [b for b in re.findall(r"^```\n(.*?)^```$", DOC, re.M | re.S) if "|create_users_and_tokens|" in b]
    assert [tuple(line.split("|")[:2]) for line in sample.splitlines()] == code_migrations()


@pytest.mark.skipif(shutil.which("sqlite3") is None, reason="the doc's commands use the sqlite3 command-line shell")
def test_backup_check_and_restore_as_the_doc_says(aibridge_script, spawn, process_environ, tmp_path):
    data_dir, backups = tmp_path / "data", tmp_path / "backups"
    backups.mkdir()
    environ = {**process_environ, "CODER_DATA_DIR": str(data_dir), "CODER_AIBRIDGE_ENABLED": "true"}

    def aibridge(*args):
        done = subprocess.run([aibridge_script, *args], env=environ, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr

    aibridge("users", "create", "alice")
    server = spawn([aibridge_script, "server", "--http-address", "127.0.0.1:0"], environ)
    server.wait_for_line(r"aibridge listening on")
    aibridge("users", "create", "bob")  # written while the server holds the database open

    run_block(".backup", data_dir, backups)  # online, while the server runs
    [backup] = backups.iterdir()
    assert usernames(backup) == {"alice", "bob"}

    checked = run_block("_sqlite_migrations", data_dir, backups)
    assert [tuple(line.split("|")[:2]) for line in checked.splitlines()] == code_migrations()

    server.proc.send_signal(signal.SIGTERM)
    assert server.wait() == 0
    stopped_copy = tmp_path / "stopped-copy"
    stopped_copy.mkdir()
    run_block("cp -p /var/lib/aibridge/aibridge.db*", data_dir, stopped_copy)
    assert usernames(stopped_copy / "aibridge.db") == {"alice", "bob"}

    aibridge("users", "create", "carol")  # after the backup: a downgrade to the backup loses her
    run_block("rm -f", data_dir, backups)
    assert not (data_dir / "aibridge.db-wal").exists() and not (data_dir / "aibridge.db-shm").exists()
    assert usernames(data_dir / "aibridge.db") == {"alice", "bob"}
    aibridge("users", "list")  # the restored database opens
