"""The machine's PostgreSQL server for tests: a database of its own per test, dropped afterwards."""

from __future__ import annotations

import contextlib
import os
import uuid
from typing import Iterator
from urllib.parse import urlsplit, urlunsplit

POSTGRES_ADMIN_URL = os.environ.get("AIBRIDGE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


class PostgresServer:
    def __init__(self, admin_url: str):
        self.admin_url = admin_url

    def problem(self) -> str | None:
        """Why the server cannot be used, or None."""
        try:
            import psycopg

            with psycopg.connect(self.admin_url, connect_timeout=3) as conn:
                conn.execute("SELECT 1")
        except Exception as error:  # any reason at all: the message says it
            return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        return None

    @contextlib.contextmanager
    def database(self) -> Iterator[str]:
        """A new database (unique name) for the block; its URL. Dropped afterwards, connections and all."""
        import psycopg

        name = f"aibridge_test_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        try:
            yield urlunsplit(urlsplit(self.admin_url)._replace(path="/" + name))
        finally:
            with psycopg.connect(self.admin_url, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
