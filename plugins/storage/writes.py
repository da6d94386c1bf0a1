"""Write records as rows, in one short transaction per batch; every write can be repeated safely.

A record becomes a :class:`RowWrite` once (on the writer's thread): the row it
stores, with the identity that makes writing it again harmless. An
interception's start is inserted unless its row exists, its end upserts the
whole row, and a child row is inserted unless a row with its ``record_id``
exists. A batch retried after an error, or replayed from the spool after a
crash, stores nothing twice.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from typing import Any, Iterable

from aibridge import Interception

from .rows import CHILD_COLUMNS, CHILD_ROWS, INTERCEPTION_COLUMNS, RecordIds, interception_row, to_json_text
from .schema import CHILD_TABLES, INTERCEPTIONS

# What a queued record is: an interception's start or end, or one of its child records.
START = "start"
END = "end"
CHILD = "child"

RECORD_TYPES = {"token_usages": "token_usage", "user_prompts": "prompt_usage", "tool_usages": "tool_usage",
                "model_thoughts": "model_thought", "tool_results": "tool_result"}
# An interception's start and end are the same kind of object: what was queued says which one it is.
INTERCEPTION_RECORD_TYPES = {START: "interception_start", END: "interception_end"}

_COLUMNS = ", ".join(INTERCEPTION_COLUMNS)
# A start that arrives twice (a retried batch) is kept once.
_INSERT = f"INSERT INTO interceptions ({_COLUMNS})"
_START_CONFLICT = "ON CONFLICT(id) DO NOTHING"
# The end carries every field of the interception: if its start row was lost, the end still records it.
# What is learnt after the start (the instance and key that answered, attempts) replaces the start's values.
_END_CONFLICT = (
    "ON CONFLICT(id) DO UPDATE SET ended_at = excluded.ended_at, status = excluded.status, error = excluded.error, "
    "provider_name = excluded.provider_name, model = excluded.model, metadata = excluded.metadata, "
    "credential_kind = excluded.credential_kind, credential_hint = excluded.credential_hint"
)
# An interrupted interception ended at its last sign of life: its start, or its newest record.
_LAST_RECORDS = [f"coalesce((SELECT max(created_at) FROM {child} c WHERE c.interception_id = interceptions.id), '')"
                 for child in CHILD_TABLES]
_END_INTERRUPTED = (
    "UPDATE interceptions SET ended_at = {last_sign_of_life}, status = 'interrupted', error = ? "
    "WHERE ended_at IS NULL AND ({condition})"
)


@dataclass(frozen=True)
class RowWrite:
    """One record as the store writes it: ``kind`` (START, END, CHILD), the table, and the row (JSON-ready)."""

    kind: str
    table: str
    row: dict[str, Any]

    def as_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "table": self.table, "row": self.row}

    @classmethod
    def from_json(cls, data: Any) -> RowWrite:
        """A RowWrite read back (from the spool); ValueError when it is not one this store can write."""
        if not isinstance(data, dict) or not isinstance(data.get("row"), dict):
            raise ValueError("not a row write")
        write = cls(data.get("kind"), data.get("table"), data["row"])
        allowed = INTERCEPTION_COLUMNS if write.kind in (START, END) else CHILD_COLUMNS.get(write.table, ())
        expected_table = INTERCEPTIONS if write.kind in (START, END) else write.table
        if write.kind not in (START, END, CHILD) or write.table != expected_table or not allowed:
            raise ValueError(f"unknown row write {write.kind!r} to {write.table!r}")
        unknown = set(write.row) - set(allowed)
        if unknown:
            raise ValueError(f"unknown columns of {write.table}: {', '.join(sorted(unknown))}")
        return write

    @property
    def record_type(self) -> str:
        """The record's name in the logs (``interception_start``, ``token_usage``, ...)."""
        return INTERCEPTION_RECORD_TYPES.get(self.kind) or RECORD_TYPES[self.table]

    @property
    def interception_id(self) -> str | None:
        return self.row.get("id" if self.table == INTERCEPTIONS else "interception_id")

    def weight(self) -> int:
        """About how many bytes the row holds in memory (to bound what is kept while the store is away)."""
        return 200 + sum(len(value) for value in self.row.values() if isinstance(value, str))


def record_type_of(kind: str, record: Any) -> str:
    """A queued record's name in the logs (``interception_end`` for an end, though it is an Interception)."""
    return INTERCEPTION_RECORD_TYPES.get(kind) or record.record_type


def row_write(kind: str, record: Any, instance_id: str, record_ids: RecordIds) -> RowWrite:
    """The row a record stores, given its identity now (a child record gets the next of ``record_ids``)."""
    if kind in (START, END):
        if not isinstance(record, Interception):
            raise TypeError(f"expected an Interception, got {type(record).__name__}")
        return RowWrite(kind, INTERCEPTIONS, _bindable(interception_row(record, instance_id)))
    table, make_row = CHILD_ROWS[type(record)]
    return RowWrite(CHILD, table, _bindable({"record_id": record_ids.next(), **make_row(record)}))


def write_rows(db, writes: Iterable[RowWrite]) -> None:
    """Write row writes in one transaction; all or nothing.

    Statements are grouped: the interceptions' starts and ends, and each child
    table's rows, go in multi-row inserts on SQLite (a pipeline, or COPY for a
    large batch, on PostgreSQL): the write lock is held only for the
    database's own work. The order across statements does not matter (an end
    carries its whole interception; a start never overwrites).
    """
    writes = list(writes)
    # An interception that started and ended within one batch is one insert: its end carries every field.
    ended = {write.interception_id for write in writes if write.kind == END}
    interceptions: dict[str, list[list]] = {}
    children: dict[tuple[str, tuple[str, ...]], list[list]] = {}
    for write in writes:
        if write.kind == START and write.interception_id in ended:
            continue
        if write.kind == CHILD:
            children.setdefault((write.table, tuple(write.row)), []).append(_values(db, write.row.values()))
        else:
            params = [write.row.get(column) for column in INTERCEPTION_COLUMNS]
            interceptions.setdefault(_START_CONFLICT if write.kind == START else _END_CONFLICT, []).append(
                _values(db, params))
    with db.transaction():
        for conflict, rows in interceptions.items():
            db.insert_values(_INSERT, len(INTERCEPTION_COLUMNS), rows, conflict)
        for (table, columns), rows in children.items():
            db.insert_rows(table, columns, rows, skip_duplicates_of="record_id")


def _values(db, values) -> list:
    return _without_nul(values) if db.is_postgres else list(values)


def end_interrupted(db, instance_ids: Iterable[str], message: str, include_unattributed: bool = False,
                    transaction: bool = True) -> int:
    """End the open interceptions of these (gone) gateway processes ``interrupted``; how many were ended.

    Each ends at its last sign of life (its newest record, else its start).

    ``include_unattributed`` also ends those recorded before interceptions
    named their process (no ``instance_id``): only safe when no other process
    uses the store. ``transaction=False``: the caller's transaction is open.
    """
    ids = list(instance_ids)
    conditions = [f"instance_id IN ({', '.join('?' for _ in ids)})"] if ids else []
    if include_unattributed:
        conditions.append("instance_id IS NULL")
    if not conditions:
        return 0
    error = to_json_text({"kind": "interrupted", "message": message, "upstream_status": None})
    sql = _END_INTERRUPTED.format(last_sign_of_life=db.greatest("started_at", *_LAST_RECORDS),
                                  condition=" OR ".join(conditions))
    with db.transaction() if transaction else contextlib.nullcontext():
        return db.execute(sql, [error, *ids]).rowcount


def as_json_line(write: RowWrite) -> str:
    """One line of the spool: the row write as JSON (UTF-8 text, no newline inside)."""
    return json.dumps(write.as_json(), ensure_ascii=False, separators=(",", ":"))


def _without_nul(params) -> list:
    """PostgreSQL's text cannot hold NUL (SQLite's can): each becomes U+FFFD, as undecodable text does."""
    return [value.replace("\x00", "\ufffd") if isinstance(value, str) and "\x00" in value else value
            for value in params]


def _bindable(row: dict[str, Any]) -> dict[str, Any]:
    """The row with text SQLite can store: text decoded from JSON may hold lone surrogates (not UTF-8)."""
    for column, value in row.items():
        if isinstance(value, str) and not value.isascii():
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                row[column] = value.encode("utf-8", "replace").decode("utf-8")
    return row
