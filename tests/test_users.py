"""Users and gateway tokens, in SQLite and in PostgreSQL."""

import datetime as dt
import math
import multiprocessing
import re
from collections import Counter

import pytest

from aibridge.db import Database, open_database
from aibridge.records import Actor
from aibridge.people.users import UserError, UserStore


@pytest.fixture
def database(tmp_path, store_kind, request):
    """The SQLite file, or the URL of a new PostgreSQL database."""
    return request.getfixturevalue("postgres_url") if store_kind == "postgres" else tmp_path / "aibridge.db"


@pytest.fixture(params=("sqlite", "postgres"))
def store_kind(request):
    return request.param


@pytest.fixture
def store(database):
    users = UserStore(open_database(database))
    yield users
    users.close()


def test_sqlite_settings_and_schema(tmp_path):
    db_path = tmp_path / "aibridge.db"
    db = open_database(db_path).sqlite_utils
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert db.execute("PRAGMA busy_timeout").fetchone()[0] == 5000
    assert {"users", "api_tokens", "_sqlite_migrations"} <= set(db.table_names())
    assert set(db["api_tokens"].columns_dict) == {
        "id", "user_id", "label", "hashed_secret", "created_at", "expires_at", "revoked_at", "last_used_at",
    }  # fmt: skip
    applied = [row["name"] for row in db["_sqlite_migrations"].rows_where("migration_set = ?", ["aibridge-core"])]
    assert applied == ["create_users_and_tokens"]
    open_database(db_path)  # a second open finds nothing to migrate
    assert db["_sqlite_migrations"].count == 1


def applied_core_migrations(database) -> list[str]:
    with open_database(database) as db:
        table = "_aibridge_migrations" if db.is_postgres else "_sqlite_migrations"
        return [row["name"] for row in db.query(f"SELECT name FROM {table} WHERE migration_set = 'aibridge-core'")]


def test_foreign_keys_are_enforced(database):
    with open_database(database) as db, pytest.raises(Database.errors()) as raised:
        with db.transaction():
            db.execute("INSERT INTO api_tokens (id, user_id, hashed_secret, created_at) VALUES ('x', 'nobody', 'h', "
                       "'now')")
    assert Database.refuses(raised.value)


def _open_in_another_process(path):
    open_database(path).close()


def test_several_processes_can_open_a_new_database_at_once(database):
    context = multiprocessing.get_context("spawn")
    processes = [context.Process(target=_open_in_another_process, args=(str(database),)) for _ in range(4)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(60)
    assert [process.exitcode for process in processes] == [0, 0, 0, 0]
    assert applied_core_migrations(database) == ["create_users_and_tokens"]


def test_create_and_list_users(store):
    alice = store.create_user("alice", email="alice@example.com", role="owner")
    store.create_user("bob")
    assert re.fullmatch(r"[0-9a-f-]{36}", alice.id)
    users = store.list_users()
    assert [(u.username, u.role, u.status, u.email) for u in users] == [
        ("alice", "owner", "active", "alice@example.com"),
        ("bob", "member", "active", ""),
    ]
    assert users[0].created_at.tzinfo is not None


@pytest.mark.parametrize("username", ["Alice", "", "-bob", "has space", "x" * 65, "ünïcode", "a.b"])
def test_invalid_usernames(store, username):
    with pytest.raises(UserError, match="invalid username"):
        store.create_user(username)


def test_duplicate_user_role_and_email_errors(store):
    store.create_user("alice")
    with pytest.raises(UserError, match="user 'alice' already exists"):
        store.create_user("alice")
    with pytest.raises(UserError, match="invalid role 'admin'"):
        store.create_user("carol", role="admin")
    with pytest.raises(UserError, match="invalid email address"):
        store.create_user("dave", email="not an email")


def test_token_format_and_entropy(store):
    store.create_user("alice")
    token_id, token = store.create_token("alice")
    match = re.fullmatch(r"aib_([0-9a-f]{16})_([A-Za-z0-9_-]{43})", token)
    assert match and match.group(1) == token_id
    secret = match.group(2)
    # 43 URL-safe base64 characters carry 256 bits; check the characters actually vary.
    assert len(secret) * math.log2(64) >= 128
    assert max(Counter(secret).values()) < 10
    assert len({store.create_token("alice")[1] for _ in range(20)}) == 20


def test_only_a_hash_is_stored(store, database):
    store.create_user("alice")
    token_id, token = store.create_token("alice", label="laptop")
    secret = token.split("_", 2)[2]
    if not isinstance(database, str):
        wal = database.parent / (database.name + "-wal")
        raw = database.read_bytes() + (wal.read_bytes() if wal.exists() else b"")
        assert secret.encode() not in raw and token.encode() not in raw
    with open_database(database) as db:
        [row] = db.query("SELECT * FROM api_tokens WHERE id = ?", [token_id])
    assert secret not in str(row)
    assert row["hashed_secret"] != secret and len(row["hashed_secret"]) == 64
    assert row["label"] == "laptop"


def test_actor_for_a_valid_token(store):
    alice = store.create_user("alice", email="a@example.com", role="owner")
    token_id, token = store.create_token("alice", lifetime=dt.timedelta(days=1))
    assert store.actor_for_token(token) == Actor(id=alice.id, username="alice", role="owner", email="a@example.com",
                                                 token_id=token_id)


def test_unknown_malformed_and_tampered_tokens(store):
    store.create_user("alice")
    token_id, token = store.create_token("alice")
    tampered = token[:-1] + ("A" if token[-1] != "A" else "B")
    other_id = token.replace(token_id, "0" * 16)
    for candidate in ["", "nonsense", "Bearer " + token, token + "x", tampered, other_id, None]:
        assert store.actor_for_token(candidate) is None


def test_expired_token(store, database):
    store.create_user("alice")
    token_id, token = store.create_token("alice", lifetime=dt.timedelta(hours=1))
    assert store.actor_for_token(token) is not None
    past = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=1)).isoformat()
    with open_database(database) as db, db.transaction():
        db.execute("UPDATE api_tokens SET expires_at = ? WHERE id = ?", [past, token_id])
    assert store.actor_for_token(token) is None
    assert store.list_tokens("alice")[0].status() == "expired"


def test_revoked_token(store):
    store.create_user("alice")
    token_id, token = store.create_token("alice")
    info = store.revoke_token(token_id)
    assert info.revoked_at is not None and info.status() == "revoked"
    assert store.actor_for_token(token) is None
    assert store.revoke_token(token_id).revoked_at == info.revoked_at
    with pytest.raises(UserError, match="unknown token 'nope'"):
        store.revoke_token("nope")


def test_suspended_user_and_reactivation(store):
    store.create_user("alice")
    _, token = store.create_token("alice")
    store.suspend_user("alice")
    assert store.actor_for_token(token) is None
    with pytest.raises(UserError, match="suspended"):
        store.create_token("alice")
    store.activate_user("alice")
    assert store.actor_for_token(token).username == "alice"


def test_unknown_user(store):
    for action in (store.suspend_user, store.list_tokens, store.create_token, store.get_user):
        with pytest.raises(UserError, match="unknown user 'ghost'"):
            action("ghost")


def test_lifetime_must_be_positive(store):
    store.create_user("alice")
    with pytest.raises(UserError, match="longer than 0"):
        store.create_token("alice", lifetime=dt.timedelta(0))


def test_list_tokens_and_last_use(store):
    store.create_user("alice")
    first, _ = store.create_token("alice", label="one")
    second, token = store.create_token("alice", label="two", lifetime=dt.timedelta(days=30))
    listed = store.list_tokens("alice")
    assert [t.id for t in listed] == [second, first]
    assert listed[0].expires_at - listed[0].created_at == dt.timedelta(days=30)
    assert listed[1].expires_at is None
    assert listed[0].last_used_at is None
    store.actor_for_token(token)
    assert store.list_tokens("alice")[0].last_used_at is not None
