"""Shared by the recording tests: a real app, real records, the database read back (no tests here)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
import time
from pathlib import Path

import requests
from werkzeug.serving import make_server

from aibridge.app import create_app, shutdown_app
from aibridge.config import Config
from aibridge.db import open_database, read_database
from aibridge.records import Interception, ModelThought, PromptUsage, TokenUsage, ToolCallResult, ToolUsage
from aibridge.people.users import UserStore

UTC = dt.timezone.utc
TABLES = ("interceptions", "token_usages", "user_prompts", "tool_usages", "model_thoughts", "tool_results")


def utc(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


def make_interception(interception_id: str, initiator_id: str = "user-1", username: str = "alice",
                      started_at: dt.datetime | None = None, **fields) -> Interception:
    values = dict(
        interception_id=interception_id, initiator_id=initiator_id, initiator_username=username,
        provider="anthropic", provider_name="anthropic", model="claude-sonnet-4-6", client="Claude Code",
        client_session_id="session-1", user_agent="claude-cli/2.0.1", started_at=started_at or utc(2025, 3, 1, 12),
        metadata={"route": "/v1/messages"}, api="messages", streaming=True,
    )
    values.update(fields)
    return Interception(**values)


def ended(interception: Interception, at: dt.datetime | None = None, status: str = "completed") -> Interception:
    return dataclasses.replace(interception, ended_at=at or interception.started_at + dt.timedelta(seconds=3),
                               status=status)


def child_records(interception: Interception, tokens: tuple[int, int, int, int] = (100, 20, 5, 7)) -> list:
    """One record of each child type, created a moment after the interception started."""
    iid, at = interception.interception_id, interception.started_at + dt.timedelta(seconds=1)
    return [
        ("on_prompt_usage", "prompt", PromptUsage(iid, "msg_1", f"prompt of {iid}", created_at=at)),
        ("on_token_usage", "usage", TokenUsage(iid, "msg_1", *tokens, metadata={"web_search_requests": 1},
                                                created_at=at, cost_usd_nanos=417_021)),
        ("on_tool_usage", "tool", ToolUsage(iid, "msg_1", "toolu_1", "get_weather", '{"city": "Paris"}',
                                            created_at=at)),
        ("on_model_thought", "thought", ModelThought(iid, "Let me think.", {"source": "thinking"}, created_at=at)),
        ("on_tool_result", "result", ToolCallResult(iid, "toolu_0", True, "File does not exist.", created_at=at)),
    ]


def wait_until(predicate, timeout: float = 10.0, what: str = "condition"):
    """Poll ``predicate`` until it returns something true."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.005)


class RecordingApp:
    """A real gateway app (every built-in plugin loaded from its entry point) fed records through its hooks.

    Retention is off unless given: the records carry fixed dates in the past.
    """

    def __init__(self, data_dir: Path, **config):
        values = dict(enabled=True, data_dir=data_dir, retention=dt.timedelta(0))
        values.update(config)
        Path(data_dir).mkdir(parents=True, exist_ok=True)
        self.config = Config(**values)
        self.app = create_app(self.config)
        self.sent = 0
        self._closed = False
        self._server = None

    def serve_http(self) -> str:
        """Serve the app over HTTP on a free 127.0.0.1 port; returns its base URL."""
        self._server = make_server("127.0.0.1", 0, self.app, threaded=True)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{self._server.server_port}"

    @property
    def database_path(self) -> Path:
        return self.config.database_path

    @property
    def database(self) -> Path | str:
        """Where the records are: the SQLite file, or the PostgreSQL URL."""
        return self.config.database

    @property
    def writer(self):
        return self.app.extensions["aibridge.recorder"]

    def notify(self, hook: str, **kwargs) -> None:
        """Call an observer hook the way the gateway does: every plugin, inside the app context."""
        with self.app.app_context():
            self.app.extensions["aibridge"].notify(hook, **kwargs)
        self.sent += 1

    def record(self, interception: Interception, children: bool = True, end: bool = True,
               tokens: tuple[int, int, int, int] = (100, 20, 5, 7)) -> None:
        """Announce a whole interception: start, one record of each kind, end."""
        self.notify("on_interception_start", interception=interception)
        if children:
            for hook, argument, record in child_records(interception, tokens):
                self.notify(hook, interception=interception, **{argument: record})
        if end:
            self.notify("on_interception_end", interception=ended(interception))

    def wait_written(self) -> None:
        """Wait until the recorder wrote (or gave up on) everything announced so far."""
        wait_until(lambda: self.writer.written + self.writer.lost >= self.sent, what="the recorder to catch up")

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            if self._server is not None:
                self._server.shutdown()
                self._server.server_close()
            shutdown_app(self.app)


def user_with_token(database: Path | str, username: str, role: str = "member") -> tuple[str, str]:
    """Create a user and a token; returns (user id, token)."""
    store = UserStore(open_database(database))
    try:
        user = store.create_user(username, role=role)
        return user.id, store.create_token(username)[1]
    finally:
        store.close()


def read_rows(database: Path | str, table: str, order_by: str = "rowid") -> list[dict]:
    """Every row of a table (SQLite file or PostgreSQL URL), in the order added unless ``order_by`` says."""
    if order_by == "rowid" and isinstance(database, str):  # PostgreSQL has no rowid: its ids go up as rows are added
        order_by = "started_at, id" if table == "interceptions" else "id"
    with read_database(database) as db:
        return db.query(f"SELECT * FROM {table} ORDER BY {order_by}")


def count_rows(database: Path | str) -> dict[str, int]:
    with read_database(database) as db:
        return {table: db.value(f"SELECT count(*) AS n FROM {table}") for table in TABLES}


# (id, username, provider, provider_name, model, client, started_at, tokens)
INTERCEPTIONS = [
    ("a1", "alice", "anthropic", "anthropic", "claude-sonnet-4-6", "Claude Code", utc(2025, 3, 1, 10), (100, 10, 1, 2)),
    ("a2", "alice", "openai", "openai", "gpt-4o", "Codex", utc(2025, 3, 2, 10), (200, 20, 3, 0)),
    ("b1", "bob", "openai", "openai-eu", "gpt-4o", "Codex", utc(2025, 3, 2, 12), (300, 30, 0, 0)),
    ("a3", "alice", "anthropic", "anthropic", "claude-haiku-4-5", "Claude Code", utc(2025, 3, 3, 10), (400, 40, 5, 6)),
    ("b2", "bob", "copilot", "copilot", "gpt-4.1", "GitHub Copilot (VS Code)", utc(2025, 3, 4, 9), (500, 50, 0, 0)),
    ("t1", "bob", "anthropic", "anthropic", "claude-sonnet-4-6", "Claude Code", utc(2025, 3, 5), (1, 1, 0, 0)),
    ("t2", "bob", "anthropic", "anthropic", "claude-sonnet-4-6", "Claude Code", utc(2025, 3, 5), (2, 2, 0, 0)),
]
NEWEST_FIRST = ["t2", "t1", "b2", "a3", "b1", "a2", "a1"]


class Audit:
    """A served gateway holding INTERCEPTIONS, and a token for an owner and two members."""

    def __init__(self, data_dir: Path, **config):
        self.data_dir = data_dir
        self.recording = RecordingApp(data_dir, **config)
        # The CLI's options for the same data: the data directory, and the PostgreSQL database when there is one.
        postgres = ["--postgres-url", config["postgres_url"]] if config.get("postgres_url") else []
        self.where = ["--data-dir", str(data_dir), *postgres]
        self.environ = {"CODER_DATA_DIR": str(data_dir),
                        **({"CODER_PG_CONNECTION_URL": config["postgres_url"]} if postgres else {})}
        self.url = self.recording.serve_http()
        self.users, self.tokens = {}, {}
        for username, role in (("olivia", "owner"), ("alice", "member"), ("bob", "member")):
            self.users[username], self.tokens[username] = user_with_token(self.recording.database, username, role)
        for iid, username, provider, name, model, client, started, tokens in INTERCEPTIONS:
            interception = make_interception(iid, initiator_id=self.users[username], username=username,
                                             provider=provider, provider_name=name, model=model, client=client,
                                             started_at=started)
            self.recording.record(interception, tokens=tokens)
        self.recording.wait_written()

    @classmethod
    def serving(cls, data_dir: Path, seeded: Audit, **config) -> Audit:
        """A gateway serving data seeded before (by ``seeded``, copied or not), with its tokens."""
        served = cls.__new__(cls)
        served.data_dir, served.users, served.tokens = data_dir, seeded.users, seeded.tokens
        served.recording = RecordingApp(data_dir, **config)
        served.url = served.recording.serve_http()
        return served

    def get(self, path: str, as_user: str | None = "olivia", **params) -> requests.Response:
        headers = {"Authorization": f"Bearer {self.tokens[as_user]}"} if as_user else {}
        return requests.get(self.url + path, params=params, headers=headers, timeout=10)

    def list(self, as_user: str = "olivia", **params) -> dict:
        response = self.get("/api/v2/aibridge/interceptions", as_user, **params)
        assert response.status_code == 200, response.text
        return response.json()

    def ids(self, as_user: str = "olivia", **params) -> list[str]:
        return [result["id"] for result in self.list(as_user, **params)["results"]]
