"""The store of recorded interceptions, shared by the recorder, retention and audit plugins.

Every SQL statement about records lives in this package, behind the small
functions below; the plugins import only these names. SQLite in the data
directory today (the gateway's own database, see ``aibridge.open_database``);
PostgreSQL lands here too.
"""

from .database import close_quietly, ensure_tables, is_busy, needs_new_connection, open_for_writing, reading
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
from .writes import CHILD, END, START, write_batch

__all__ = [
    # Connections
    "open_for_writing", "ensure_tables", "reading",
    "is_busy", "needs_new_connection", "close_quietly",
    # Tables
    "INTERCEPTIONS", "CHILD_TABLES",
    # Writing records
    "START", "END", "CHILD", "write_batch",
    # Reading them back
    "InterceptionFilter", "UnknownInterception", "count_interceptions", "interceptions_page", "child_records",
    "is_known_initiator",
    "TOKEN_COLUMNS", "USAGE_GROUPS", "usage_by_group",
    # Purging what is past retention
    "BATCH_SIZE", "PurgeResult", "purge", "count_expired", "count_expired_interceptions",
]
