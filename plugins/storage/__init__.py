"""The store of recorded interceptions, shared by the recorder, retention, audit and dashboard plugins.

Every SQL statement about records lives in this package, behind the small
functions below; the plugins import only these names. SQLite in the data
directory, or PostgreSQL (``--postgres-url``), through ``aibridge.Database``:
the same SQL on both.
"""

from .filters import (
    FILTER_KEYS,
    MAX_LIMIT,
    STATUSES,
    TIME_KEYS,
    BadParameter,
    UnknownInitiator,
    build_filter,
    check_initiator,
    api_query,
    filter_from_q,
    parse_limit,
    parse_q,
)
from .database import RecordStore, StoreMissing, ensure_tables, is_postgres, is_refused, open_for_writing, reading
from .heartbeats import About as InstanceAbout
from .heartbeats import TakeOver
from .instances import GoneInstance, Instance, gone_instances, lock_if_free, others_alive
from .interception_filter import InterceptionFilter
from .interceptions import (
    UnknownInterception,
    child_record,
    child_records,
    count_interceptions,
    interceptions_page,
    is_known_initiator,
)
from .purge import BATCH_SIZE, PurgeResult, count_expired, count_expired_interceptions, purge
from .schema import CHILD_TABLES, INTERCEPTIONS
from .sessions import UnknownSession, count_sessions, session_interceptions, session_summaries, sessions_page
from .signing_keys import signing_key
from .cost_fields import cost_fields, records_cost, summed_cost
from .usage import COST_COLUMNS, TOKEN_COLUMNS, USAGE_GROUPS, cost_sum, total_cost, unpriced_models, usage_by_group
from .rows import RecordIds
from .writes import CHILD, END, START, RowWrite, as_json_line, record_type_of, row_write, write_rows

__all__ = [
    # Connections
    "open_for_writing", "ensure_tables", "reading", "is_postgres",
    # Tables
    "INTERCEPTIONS", "CHILD_TABLES",
    # Writing records: rows with their identity, written again harmlessly
    "START", "END", "CHILD", "RowWrite", "RecordIds", "record_type_of", "row_write", "write_rows", "as_json_line",
    "RecordStore", "StoreMissing", "is_refused",
    # Gateway processes using the store, and those that are gone
    "Instance", "GoneInstance", "gone_instances", "others_alive", "lock_if_free",
    "InstanceAbout", "TakeOver",
    # Reading them back
    "InterceptionFilter", "UnknownInterception", "count_interceptions", "interceptions_page", "child_records",
    "child_record",
    "is_known_initiator",
    # What a question is about: filter values parsed and checked (the audit API, the dashboard)
    "FILTER_KEYS", "TIME_KEYS", "STATUSES", "MAX_LIMIT", "BadParameter", "UnknownInitiator", "build_filter",
    "check_initiator", "filter_from_q", "api_query", "parse_limit", "parse_q",
    # Sessions (spec §15): a page of them, their figures, one with its records
    "UnknownSession", "sessions_page", "count_sessions", "session_summaries", "session_interceptions",
    # Secrets that sign what the gateway hands out
    "signing_key",
    # Usage and cost: sums by group, and the cost fields of answers
    "cost_fields", "records_cost", "summed_cost",
    "COST_COLUMNS", "TOKEN_COLUMNS", "USAGE_GROUPS", "cost_sum", "total_cost", "unpriced_models", "usage_by_group",
    # Purging what is past retention
    "BATCH_SIZE", "PurgeResult", "purge", "count_expired", "count_expired_interceptions",
]
