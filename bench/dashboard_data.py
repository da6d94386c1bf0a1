"""Fill a data directory with realistic recorded traffic for the dashboard benchmark.

People use coding agents in sessions: a session is a few typed prompts
(threads), each followed by an agentic loop of requests that return tool
results and call more tools. This writes such sessions through the recorder's
own row writes (the same rows a running gateway stores) until there are
``--interceptions`` of them, spread over ``--days`` days, plus one long
session of ``--long-session`` requests (id ``bench-long-session``) for the
session page's worst case.

    .venv/bin/python bench/dashboard_data.py /tmp/dash-data --interceptions 100000
    .venv/bin/python bench/dashboard_data.py /tmp/dash-data --postgres-url postgresql://postgres@127.0.0.1/bench

With ``--postgres-url`` the records go to that (existing) PostgreSQL database
instead of the data directory's SQLite file, in the same batches (COPY for
the child records), and the tables are vacuumed and analysed afterwards, as
autovacuum would have done on a store that grew over weeks.

Deterministic for a given ``--seed``. The people are created as gateway users
(``owner-0`` is an owner); their tokens are printed to stdout (one
``username token`` per line) so a benchmark can sign in.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import sys
import uuid
from pathlib import Path

import aibridge
from aibridge import Interception, InterceptionError, ModelThought, PromptUsage, TokenUsage, ToolCallResult, ToolUsage
from aibridge_plugins.storage import CHILD, END, RecordIds, open_for_writing, row_write, write_rows

LONG_SESSION_ID = "bench-long-session"
PEOPLE = 40
BATCH = 2000  # records per transaction

# client -> (share, provider type, instance, models, api, user agent)
CLIENTS = {
    "Claude Code": (0.6, "anthropic", "anthropic", ("claude-sonnet-4-5", "claude-opus-4-1", "claude-haiku-4-5"),
                    "messages", "claude-cli/2.1.197 (external, cli)"),
    "Codex": (0.25, "openai", "openai", ("gpt-5-codex", "gpt-5"), "responses",
              "codex_exec/0.171.0 (Debian 12.0.0; x86_64) dumb (codex_exec; 0.171.0)"),
    "GitHub Copilot (CLI)": (0.1, "copilot", "copilot", ("claude-sonnet-4-5", "gpt-5-mini"), "chat_completions",
                             "copilot/1.0.102 (linux v24.20.0) term/unknown client/github/cli"),
    "Unknown": (0.05, "openai", "openai", ("gpt-4.1",), "chat_completions", "OpenAI/Python 1.99.0"),
}
TOOLS = ("Bash", "Read", "Edit", "Grep", "Glob", "Write", "WebFetch")
WORDS = ("refactor the parser so that it handles nested quotes and add a test for the empty case then run the "
         "suite and fix whatever breaks in the config loader while keeping the public names stable across the "
         "module boundary explain why the benchmark regressed after the merge and rename the helper").split()
FAILURES = (("upstream_status", "the provider answered 529 overloaded_error: Overloaded", 529),
            ("upstream_timeout", "no answer from api.anthropic.com within 600 s", None),
            ("client_disconnected", "the client closed the connection after 1843 bytes", None))


class Generator:
    def __init__(self, seed: int, days: int, now: dt.datetime):
        self.random = random.Random(seed)
        self.days = days
        self.now = now
        self.record_ids = RecordIds(str(uuid.UUID(int=seed)))

    def words(self, low: int, high: int) -> str:
        return " ".join(self.random.choice(WORDS) for _ in range(self.random.randint(low, high)))

    def uuid(self) -> str:
        return str(uuid.UUID(int=self.random.getrandbits(128), version=4))

    def session(self, person: tuple[str, str], client: str, requests: int, start: dt.datetime,
                session_id: str | None) -> list:
        """The records of one session of about ``requests`` interceptions (threads of agentic loops)."""
        _, provider, instance, models, api, agent = CLIENTS[client]
        model = self.random.choice(models)
        records, at, pending_calls, left = [], start, [], requests
        while left > 0:
            loop = min(left, max(1, int(self.random.expovariate(1 / 8))))  # one prompt, then the agent's loop
            for step in range(loop):
                iid = self.uuid()
                duration = dt.timedelta(milliseconds=self.random.randint(800, 40_000))
                failure = self.random.random() < 0.03
                error = InterceptionError(*self.random.choice(FAILURES)) if failure else None
                interception = Interception(
                    interception_id=iid, initiator_id=person[0], initiator_username=person[1], provider=provider,
                    provider_name=instance, model=model, client=client,
                    client_session_id=session_id if session_id is not None else None, user_agent=agent,
                    started_at=at, metadata={"attempts": 1}, api=api, streaming=True, ended_at=at + duration,
                    status="failed" if failure else "completed", error=error, credential_kind="centralized",
                    credential_hint="sk-a...Q2wA")
                records.append((END, interception))
                moment = at + dt.timedelta(milliseconds=5)
                if step == 0:
                    records.append((CHILD, PromptUsage(iid, f"msg_{iid[:8]}", self.words(4, 60), created_at=moment)))
                for call_id, failed in pending_calls:
                    content = "\n".join(self.words(8, 30) for _ in range(self.random.randint(1, 20)))
                    records.append((CHILD, ToolCallResult(iid, call_id, failed, content, created_at=moment)))
                pending_calls = []
                done = at + duration
                if self.random.random() < 0.6:
                    records.append((CHILD, ModelThought(iid, self.words(10, 80), {"source": "thinking"},
                                                        created_at=done)))
                if step < loop - 1 and not failure:
                    for _ in range(self.random.randint(1, 3)):
                        call_id = "toolu_" + self.uuid().replace("-", "")[:24]
                        tool = self.random.choice(TOOLS)
                        tool_input = json.dumps({"command": self.words(2, 12), "path": f"src/{tool.lower()}.py"})
                        records.append((CHILD, ToolUsage(iid, f"msg_{iid[:8]}", call_id, tool, tool_input,
                                                         created_at=done)))
                        pending_calls.append((call_id, self.random.random() < 0.08))
                context = self.random.randint(2_000, 150_000)
                records.append((CHILD, TokenUsage(
                    iid, f"msg_{iid[:8]}", input_tokens=self.random.randint(5, 3_000),
                    output_tokens=self.random.randint(20, 4_000), cache_read_input_tokens=context,
                    cache_write_input_tokens=self.random.randint(0, 8_000), created_at=done)))
                at = done + dt.timedelta(seconds=self.random.randint(1, 20))
            left -= loop
            at += dt.timedelta(seconds=self.random.randint(30, 900))  # the person reads, then types again
        return records

    def start_time(self) -> dt.datetime:
        return self.now - dt.timedelta(seconds=self.random.uniform(3600, self.days * 86400))

    def client(self) -> str:
        pick, total = self.random.random(), 0.0
        for name, (share, *_rest) in CLIENTS.items():
            total += share
            if pick < total:
                return name
        return "Claude Code"


def people(database: Path | str) -> list[tuple[str, str, str]]:
    """(user id, username, token) of each benchmark person, created when missing."""
    store = aibridge.UserStore(aibridge.open_database(database))
    existing = {user.username: user for user in store.list_users()}
    found = []
    for number in range(PEOPLE):
        name = f"owner-{number}" if number < 2 else f"dev-{number}"
        user = existing.get(name) or store.create_user(name, role="owner" if number < 2 else "member")
        found.append((user.id, name, store.create_token(name)[1]))
    return found


def generate(data_dir: Path, interceptions: int, days: int, long_session: int, seed: int = 1,
             postgres_url: str = "") -> list:
    """Write the records to ``postgres_url`` if given, else to the data directory's SQLite file; the people."""
    data_dir.mkdir(parents=True, exist_ok=True)
    database = postgres_url or data_dir / "aibridge.db"
    everyone = people(database)
    generator = Generator(seed, days, dt.datetime.now(dt.timezone.utc))
    db = open_for_writing(database)
    written, batch = 0, []

    def flush():
        write_rows(db, [row_write(kind, record, "bench", generator.record_ids) for kind, record in batch])
        batch.clear()

    owner = everyone[0]
    long_records = generator.session(owner[:2], "Claude Code", long_session,
                                     generator.now - dt.timedelta(hours=30), LONG_SESSION_ID)
    batch.extend(long_records)
    written += sum(1 for kind, _ in long_records if kind == END)
    while written < interceptions:
        client = generator.client()
        person = generator.random.choice(everyone)[:2]
        if client == "Unknown":  # no session id: each request is a session of its own
            records = generator.session(person, client, 1, generator.start_time(), None)
        else:
            size = min(interceptions - written, max(1, int(generator.random.expovariate(1 / 20))))
            records = generator.session(person, client, size, generator.start_time(), generator.uuid())
        batch.extend(records)
        written += sum(1 for kind, _ in records if kind == END)
        if len(batch) >= BATCH:
            flush()
    flush()
    if db.is_postgres:  # fresh statistics and visibility maps: what autovacuum gives a store that grew slowly
        db.execute("VACUUM ANALYZE")
    db.close()
    return everyone


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data_dir", type=Path)
    parser.add_argument("--interceptions", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=60, help="Spread the sessions over this many days before now.")
    parser.add_argument("--long-session", type=int, default=500, help="Requests of the session bench-long-session.")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--postgres-url", default="", help="Write to this PostgreSQL database instead of SQLite.")
    args = parser.parse_args(argv)
    for _, name, token in generate(args.data_dir, args.interceptions, args.days, args.long_session, args.seed,
                                   args.postgres_url):
        print(name, token)
    return 0


if __name__ == "__main__":
    sys.exit(main())
