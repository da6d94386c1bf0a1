"""The store of recorded interceptions, shared by the recorder, retention and audit plugins.

Every SQL statement about records lives in this package, behind the small
functions below; the plugins import only these names. SQLite in the data
directory, or PostgreSQL (``--postgres-url``), through ``aibridge.Database``:
the same SQL on both.
"""

from .database import RecordStore, StoreMissing, ensure_tables, is_postgres, is_refused, open_for_writing, reading
from .heartbeats import About as InstanceAbout
from .heartbeats import TakeOver
from .instances import GoneInstance, Instance, gone_instances, lock_if_free, others_alive
from .interception_filter import InterceptionFilter
from .interceptions import (
    UnknownInterception,
    child_records,
    count_interceptions,
    interceptions_page,
    is_known_initiator,
)
from .purge import BATCH_SIZE, PurgeResult, count_expired, count_expired_interceptions, purge
from .schema import CHILD_TABLES, INTERCEPTIONS
from .usage import TOKEN_COLUMNS, USAGE_GROUPS, usage_by_group
from .rows import RecordIds
from .writes import CHILD, END, START, RowWrite, as_json_line, row_write, write_rows

__all__ = [
    # Connections
    "open_for_writing", "ensure_tables", "reading", "is_postgres",
    # Tables
    "INTERCEPTIONS", "CHILD_TABLES",
    # Writing records: rows with their identity, written again harmlessly
    "START", "END", "CHILD", "RowWrite", "RecordIds", "row_write", "write_rows", "as_json_line",
    "RecordStore", "StoreMissing", "is_refused",
    # Gateway processes using the store, and those that are gone
    "Instance", "GoneInstance", "gone_instances", "others_alive", "lock_if_free",
    "InstanceAbout", "TakeOver",
    # Reading them back
    "InterceptionFilter", "UnknownInterception", "count_interceptions", "interceptions_page", "child_records",
    "is_known_initiator",
    "TOKEN_COLUMNS", "USAGE_GROUPS", "usage_by_group",
    # Purging what is past retention
    "BATCH_SIZE", "PurgeResult", "purge", "count_expired", "count_expired_interceptions",
]
