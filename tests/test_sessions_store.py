"""The store's sessions pages on SQLite and PostgreSQL: every session once, newest activity first, across walk chunks.

The dashboard's HTTP tests (test_dashboard.py) page through three recorded
sessions; this one pages through many, with interleaved and equal start
times, reading the interceptions a few at a time so that each page's walk
crosses several chunks.
"""

from __future__ import annotations

import datetime as dt
import random

import pytest
from support.recorder_support import ended, make_interception, utc

from aibridge_plugins.storage import (
    END,
    InterceptionFilter,
    RecordIds,
    count_sessions,
    open_for_writing,
    row_write,
    sessions_page,
    write_rows,
)


@pytest.fixture
def db(store, tmp_path):
    database = open_for_writing(store.get("postgres_url") or tmp_path / "aibridge.db")
    shuffle = random.Random(7)
    interceptions = []
    for number in range(40):
        session = f"session-{number % 13:02d}" if number % 5 else None  # every fifth has no session id
        # Several share a start time: the page order falls back to the id.
        started = utc(2025, 3, 1, 12) + dt.timedelta(minutes=shuffle.randint(0, 15))
        model = "gpt-5" if number % 3 == 0 else "claude-sonnet-4-6"
        interceptions.append(ended(make_interception(f"i{number:02d}", started_at=started, client_session_id=session,
                                                     model=model)))
    write_rows(database, [row_write(END, record, "test", RecordIds("test")) for record in interceptions])
    yield database, interceptions
    database.close()


def expected_order(interceptions, keep=lambda i: True) -> list[str]:
    """Sessions in the order of their newest kept interception (start time, then id, descending)."""
    newest: dict[str, tuple] = {}
    for record in filter(keep, interceptions):
        session = record.client_session_id or record.interception_id
        moment = (record.started_at, record.interception_id)
        newest[session] = max(newest.get(session, moment), moment)
    return sorted(newest, key=lambda session: newest[session], reverse=True)


@pytest.mark.parametrize("chunk", [1, 3, 500])
def test_pages_list_every_session_once_newest_activity_first(db, chunk):
    database, interceptions = db
    for where, keep in ((InterceptionFilter(), lambda i: True),
                        (InterceptionFilter(model="gpt-5"), lambda i: i.model == "gpt-5")):
        listed, after = [], None
        while True:
            page = sessions_page(database, where, 4, after_session=after, chunk=chunk)
            listed += page
            if len(page) < 4:
                break
            after = page[-1]
        assert listed == expected_order(interceptions, keep)
        assert count_sessions(database, where) == len(listed)


def test_postgresql_reads_plan_for_the_covering_indexes_without_undoing_the_servers_own_settings(postgres_url):
    import psycopg

    from aibridge_plugins.storage import reading

    open_for_writing(postgres_url).close()

    def settings():
        with reading(postgres_url) as db:
            return db.value("SHOW random_page_cost"), db.value("SHOW work_mem")

    assert settings() == ("1.1", "16MB")  # the server's defaults are 4 and 4MB
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        database = conn.execute("SELECT current_database()").fetchone()[0]
        assert conn.execute("SHOW random_page_cost").fetchone()[0] == "4"  # only the reads' transactions change
        conn.execute(f'ALTER DATABASE "{database}" SET random_page_cost = 1')
        conn.execute(f'ALTER DATABASE "{database}" SET work_mem = \'64MB\'')
    assert settings() == ("1", "64MB")
