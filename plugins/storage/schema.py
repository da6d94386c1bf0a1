"""The tables of recorded interceptions, created and evolved by the ``aibridge-recorder`` migration set.

Add a new migration function for every change; never edit one that shipped
(the set keeps its name: databases in use have its migrations applied).
docs/recording.md shows the schema these produce (python -m aibridge_plugins.storage.schema_doc).
"""

from __future__ import annotations

import sqlite_utils

import aibridge

migrations = sqlite_utils.Migrations("aibridge-recorder")

INTERCEPTIONS = "interceptions"
CHILD_TABLES = ("token_usages", "user_prompts", "tool_usages", "model_thoughts", "tool_results")

# Child rows point at interceptions.id without a FOREIGN KEY constraint: a row
# must never be refused because its interception's row failed to be written.


@migrations()
def m001_create_tables(db: sqlite_utils.Database) -> None:
    db[INTERCEPTIONS].create(
        {
            "id": str,
            "initiator_id": str,
            "initiator_username": str,
            "provider": str,
            "provider_name": str,
            "model": str,
            "client": str,
            "client_session_id": str,
            "user_agent": str,
            "api": str,
            "streaming": int,
            "started_at": str,
            "ended_at": str,
            "status": str,
            "metadata": str,
        },
        pk="id",
        not_null={"initiator_id", "started_at"},
    )
    db["token_usages"].create(
        {
            "id": int,
            "interception_id": str,
            "msg_id": str,
            "input_tokens": int,
            "output_tokens": int,
            "cache_read_input_tokens": int,
            "cache_write_input_tokens": int,
            "metadata": str,
            "created_at": str,
        },
        pk="id",
        not_null={"interception_id", "created_at"},
    )
    db["user_prompts"].create(
        {"id": int, "interception_id": str, "msg_id": str, "prompt": str, "created_at": str},
        pk="id",
        not_null={"interception_id", "created_at"},
    )
    db["tool_usages"].create(
        {
            "id": int,
            "interception_id": str,
            "msg_id": str,
            "tool_call_id": str,
            "tool": str,
            "input": str,
            "server_url": str,
            "injected": int,
            "invocation_error": str,
            "created_at": str,
        },
        pk="id",
        not_null={"interception_id", "created_at"},
    )
    db["model_thoughts"].create(
        {"id": int, "interception_id": str, "content": str, "metadata": str, "created_at": str},
        pk="id",
        not_null={"interception_id", "created_at"},
    )


@migrations()
def m002_audit_indexes(db: sqlite_utils.Database) -> None:
    table = db[INTERCEPTIONS]
    # Newest first, for everyone (owners) or one person (members), with a stable tie-break on id.
    table.create_index(["started_at", "id"], index_name="idx_interceptions_started_at")
    table.create_index(["initiator_id", "started_at", "id"], index_name="idx_interceptions_initiator_started_at")
    # The retention purge looks for interceptions that ended before a cutoff.
    table.create_index(["ended_at"], index_name="idx_interceptions_ended_at")
    for child in ("token_usages", "user_prompts", "tool_usages", "model_thoughts"):  # the child tables m001 made
        db[child].create_index(["interception_id"], index_name=f"idx_{child}_interception_id")


@migrations()
def m003_interception_error(db: sqlite_utils.Database) -> None:
    # Why an interception did not complete: JSON {kind, message, upstream_status}; NULL when it did.
    db["interceptions"].add_column("error", str)


@migrations()
def m004_tool_results(db: sqlite_utils.Database) -> None:
    # Results of client-run tool calls a request returned; tool_call_id links to tool_usages.tool_call_id.
    db["tool_results"].create(
        {"id": int, "interception_id": str, "tool_call_id": str, "is_error": int, "content": str, "created_at": str},
        pk="id",
        not_null={"interception_id", "created_at"},
    )
    db["tool_results"].create_index(["interception_id"], index_name="idx_tool_results_interception_id")


@migrations()
def m005_interception_credentials(db: sqlite_utils.Database) -> None:
    # Whose key went upstream: centralized (the gateway's) or byok, and that key masked.
    db["interceptions"].add_column("credential_kind", str)
    db["interceptions"].add_column("credential_hint", str)


@migrations()
def m006_record_identity(db: sqlite_utils.Database) -> None:
    # Each child record carries the id the recorder gave it once, so a batch written again (a retry, a
    # spool replayed after a crash) is not stored twice. Older rows have none: NULLs never collide.
    for child in ("token_usages", "user_prompts", "tool_usages", "model_thoughts", "tool_results"):
        db[child].add_column("record_id", str)
        db.execute(f'CREATE UNIQUE INDEX "idx_{child}_record_id" ON "{child}" ("record_id")')
    # The gateway process that recorded the interception: once it is gone, its open ones end "interrupted".
    db[INTERCEPTIONS].add_column("instance_id", str)


@migrations()
def m007_session_and_usage_indexes(db: sqlite_utils.Database) -> None:
    # The dashboard's sessions: an interception's session is its client_session_id (or, without one, itself).
    db[INTERCEPTIONS].create_index(["client_session_id", "started_at"], index_name="idx_interceptions_session")
    # Usage per UTC day, model and person, read in that order from the index alone (no sort, no table rows).
    db.execute(f"CREATE INDEX idx_interceptions_usage ON {INTERCEPTIONS} "
               "(substr(started_at, 1, 10), model, initiator_id, initiator_username, started_at, id)")
    # Token sums per interception from the index alone; it also serves every lookup by interception_id.
    db.execute("DROP INDEX idx_token_usages_interception_id")
    db["token_usages"].create_index(
        ["interception_id", "input_tokens", "output_tokens", "cache_read_input_tokens", "cache_write_input_tokens"],
        index_name="idx_token_usages_interception_sums")


@migrations()
def m008_signing_keys(db: sqlite_utils.Database) -> None:
    # Secrets that sign what the gateway hands out (the dashboard's session cookie): one per deployment, in the
    # database so that every gateway process and host of it agrees. Created once, never sent anywhere.
    db.execute("CREATE TABLE signing_keys (name TEXT PRIMARY KEY, secret TEXT NOT NULL, created_at TEXT NOT NULL)")


def migrate(db: sqlite_utils.Database) -> None:
    """Apply pending migrations; safe when several processes start on one database at once."""
    aibridge.migrate(db, migrations)
