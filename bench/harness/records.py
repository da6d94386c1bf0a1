"""Count what the recorder wrote, from a copy of its SQLite database taken after the gateway stopped.

A copy (database and WAL, not the shared-memory index) is opened read-write so
SQLite replays the WAL into the copy: this works after a clean exit, after
kill -9 and from a full filesystem, and never changes the original, which a
restarted gateway may still need as it was.
"""

from __future__ import annotations

import datetime as dt
import shutil
import sqlite3
import tempfile
from pathlib import Path

DB_NAME = "aibridge.db"


def _database(data_dir: Path) -> Path | None:
    """<data dir>/aibridge.db, else any *.db there with an interceptions table."""
    path = data_dir / DB_NAME
    if path.exists():
        return path
    for candidate in sorted(data_dir.glob("*.db")):
        try:
            with sqlite3.connect(f"file:{candidate}?mode=ro", uri=True) as db:
                if db.execute("SELECT 1 FROM sqlite_master WHERE name = 'interceptions'").fetchone():
                    return candidate
        except sqlite3.Error:
            continue
    return None


def _columns(db: sqlite3.Connection, table: str) -> set[str]:
    return {row[1] for row in db.execute(f"PRAGMA table_info({table})")}


def _count(db: sqlite3.Connection, table: str) -> int | None:
    if not _columns(db, table):
        return None
    return db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def read(data_dir: Path, split_at: float | None = None) -> dict:
    """Interceptions (total, without an end, by status, by API) and child-row counts.

    With ``split_at`` (a Unix time), also those that started before it, e.g. in a process killed then.
    """
    source = _database(Path(data_dir))
    if source is None:
        return {"error": f"no recorder database in {data_dir}", "interceptions": 0, "not_ended": 0, "by_status": {}, "by_api": {}}
    with tempfile.TemporaryDirectory(prefix="aibridge-records-") as tmp:
        copy = Path(tmp) / source.name
        shutil.copy(source, copy)
        wal = source.with_name(source.name + "-wal")
        if wal.exists():
            shutil.copy(wal, copy.with_name(copy.name + "-wal"))
        db = sqlite3.connect(str(copy))
        try:
            summary = _summarise(db)
            if split_at is not None and "error" not in summary:
                summary.update(_before(db, split_at))
            return summary
        except sqlite3.Error as exc:
            return {"error": f"{source}: {exc}", "interceptions": 0, "not_ended": 0, "by_status": {}, "by_api": {}}
        finally:
            db.close()


def _before(db: sqlite3.Connection, moment: float) -> dict:
    """Rows whose started_at (UTC ISO 8601) is before ``moment``, and how those ended."""
    started = ended = 0
    statuses: dict[str, int] = {}
    for started_at, ended_at, status in db.execute("SELECT started_at, ended_at, status FROM interceptions"):
        try:
            when = dt.datetime.fromisoformat(str(started_at).replace("Z", "+00:00"))
        except ValueError:
            continue
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.timezone.utc)
        if when.timestamp() < moment:
            started += 1
            ended += ended_at is not None
            statuses[status or ""] = statuses.get(status or "", 0) + 1
    return {"started_before": started, "started_before_not_ended": started - ended, "started_before_by_status": statuses}


def _summarise(db: sqlite3.Connection) -> dict:
    columns = _columns(db, "interceptions")
    if not columns:
        return {"error": "no interceptions table", "interceptions": 0, "not_ended": 0, "by_status": {}, "by_api": {}}
    total = db.execute("SELECT count(*) FROM interceptions").fetchone()[0]
    not_ended = db.execute("SELECT count(*) FROM interceptions WHERE ended_at IS NULL").fetchone()[0] if "ended_at" in columns else None
    no_status = db.execute("SELECT count(*) FROM interceptions WHERE status IS NULL OR status = ''").fetchone()[0] if "status" in columns else None
    by_status = dict(db.execute("SELECT coalesce(status, ''), count(*) FROM interceptions GROUP BY 1")) if "status" in columns else {}
    by_api = {}
    if {"api", "streaming"} <= columns:
        by_api = dict(db.execute("SELECT coalesce(api, '') || CASE streaming WHEN 1 THEN ' stream' ELSE '' END, count(*) FROM interceptions GROUP BY 1"))
    distinct = db.execute("SELECT count(DISTINCT id) FROM interceptions").fetchone()[0] if "id" in columns else total
    return {
        "interceptions": total,
        "distinct_ids": distinct,
        "not_ended": not_ended,
        "no_status": no_status,
        "by_status": by_status,
        "by_api": by_api,
        "token_usages": _count(db, "token_usages"),
        "user_prompts": _count(db, "user_prompts"),
    }


def read_postgres(url: str) -> dict:
    """The same counts from a PostgreSQL database (the direct URL, not a forwarder that may be cut)."""
    import psycopg

    with psycopg.connect(url) as conn:
        one = lambda sql: conn.execute(sql).fetchone()[0]  # noqa: E731
        return {
            "interceptions": one("SELECT count(*) FROM interceptions"),
            "distinct_ids": one("SELECT count(DISTINCT id) FROM interceptions"),
            "not_ended": one("SELECT count(*) FROM interceptions WHERE ended_at IS NULL"),
            "no_status": one("SELECT count(*) FROM interceptions WHERE status IS NULL OR status = ''"),
            "by_status": dict(conn.execute("SELECT coalesce(status, ''), count(*) FROM interceptions GROUP BY 1")),
            "token_usages": one("SELECT count(*) FROM token_usages"),
            "user_prompts": one("SELECT count(*) FROM user_prompts"),
        }
