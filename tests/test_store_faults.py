"""``aibridge server`` when its database fails for real: locked by another process, full, its process killed.

The relay goes on, tokens are checked from memory, and every answered request has its record once the
store is back: no record lost, none written twice.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import time

import requests
from support.fakeupstream import FakeUpstream
from support.faults import (  # noqa: F401 (data_dir and upstream are fixtures)
    AIBRIDGE,
    MESSAGE,
    LockHolder,
    ServerProcess,
    data_dir,
    free_port,
    metric,
    small_filesystem,
    upstream,
)
from support.recorder_support import count_rows, read_rows, user_with_token, wait_until

# The old recorder dropped a batch after about 21 s of lock (its retries, each waiting out a 5 s busy timeout).
OLD_GIVE_UP_SECONDS = 21


def ask(server: ServerProcess, upstream: FakeUpstream, token: str) -> None:
    upstream.queue("anthropic/blocking_text")
    response = server.post(token, timeout=10)
    assert response.status_code == 200, response.text


def token_id(token: str) -> str:
    return token.split("_")[1]


def records_of(database) -> dict[str, int]:
    counts = count_rows(database)
    return {"interceptions": counts["interceptions"], "user_prompts": counts["user_prompts"],
            "token_usages": counts["token_usages"]}


def test_a_database_locked_by_another_process_slows_no_request_and_loses_no_record(
        spawn, process_environ, upstream, data_dir):
    database = data_dir / "aibridge.db"
    _, alice = user_with_token(database, "alice")
    _, bob = user_with_token(database, "bob")  # first used while the database is locked
    _, carol = user_with_token(database, "carol")
    metrics_port = free_port()
    server = ServerProcess(spawn, process_environ, data_dir, upstream.url,
                           "--prometheus-enable", "--prometheus-address", f"127.0.0.1:{metrics_port}")
    ask(server, upstream, alice)
    ask(server, upstream, carol)
    # Records are written in order: once both interceptions have ended, their token records are in too.
    wait_until(lambda: [row["ended_at"] is not None for row in read_rows(database, "interceptions")] == [True] * 2,
               what="the first records")
    per_request = records_of(database)["token_usages"] // 2
    answered = 2

    with LockHolder(database) as lock:
        ask(server, upstream, bob)  # a token not seen yet: read off the hub while the lock is held
        answered += 1
        locked_until = time.monotonic() + OLD_GIVE_UP_SECONDS + 1
        while time.monotonic() < locked_until:
            ask(server, upstream, alice)
            answered += 1
            # The old gateway answered /healthz in 4.9 s under this lock: the hub itself waited on the database.
            assert requests.get(server.url + "/healthz", timeout=2).status_code == 200
        exported = requests.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10).text
        waiting = (metric(exported, "coder_aibridged_recorder_backlog_records", where="memory")
                   + metric(exported, "coder_aibridged_recorder_backlog_records", where="spool"))
        assert waiting > 0 and metric(exported, "coder_aibridged_recorder_store_up") == 0
        assert records_of(database)["interceptions"] == 2
        lock.release()

    wait_until(lambda: records_of(database)["interceptions"] == answered, timeout=30,
               what="every answered request's record once the lock is gone")
    assert records_of(database) == {"interceptions": answered, "user_prompts": answered,
                                    "token_usages": answered * per_request}  # none twice
    assert len({row["id"] for row in read_rows(database, "interceptions")}) == answered
    server.process.wait_for_line(r"the store takes records again after \d+s")
    assert len(server.log_lines(r"the store does not take records \(database is locked\)")) == 1

    # Revoked while the gateway runs: refused within the revocation window (5 s).
    revoked = subprocess.run([AIBRIDGE, "tokens", "revoke", token_id(carol), "--data-dir", data_dir],
                             env=process_environ, capture_output=True, text=True)
    assert revoked.returncode == 0, revoked.stderr
    upstream.queue("anthropic/blocking_text")
    wait_until(lambda: server.post(carol, timeout=10).status_code == 401, timeout=10,
               what="the revoked token to be refused")
    # The last uses were written by the token store's thread, not on the request path.
    listed = subprocess.run([AIBRIDGE, "tokens", "list", "bob", "--data-dir", data_dir], env=process_environ,
                            capture_output=True, text=True)
    assert "never" not in listed.stdout.splitlines()[1].split("  ")[-1], listed.stdout
    assert server.stop() == 0, server.process.stderr
    assert f"revoked (token {token_id(carol)} of carol)" in server.process.stderr
    for token in (alice, bob, carol):
        assert token.split("_", 2)[2] not in server.process.stderr


def test_sigterm_while_the_database_is_locked_keeps_the_records_for_the_next_start(
        spawn, process_environ, upstream, data_dir):
    database = data_dir / "aibridge.db"
    _, alice = user_with_token(database, "alice")
    server = ServerProcess(spawn, process_environ, data_dir, upstream.url, "--shutdown-grace", "1s")
    with LockHolder(database) as lock:
        for _ in range(5):
            ask(server, upstream, alice)
        assert server.stop() == 0, server.process.stderr  # within the grace period, the lock still held
        assert server.log_lines(r"\d+ records are kept in the spool .*; the next start writes them")
        lock.release()
    assert records_of(database)["interceptions"] == 0
    assert list((data_dir / "spool").glob("*.jsonl"))

    again = ServerProcess(spawn, process_environ, data_dir, upstream.url)
    wait_until(lambda: records_of(database)["interceptions"] == 5, what="the spooled records")
    wait_until(lambda: not list((data_dir / "spool").glob("*.jsonl")), what="the spool file to go")
    assert records_of(database)["user_prompts"] == 5
    assert {row["status"] for row in read_rows(database, "interceptions")} == {"completed"}
    assert again.stop() == 0


@contextlib.contextmanager
def serving_from_a_small_filesystem(spawn, environ, upstream, tmp_path, *args):
    """(the filesystem, the server, alice's token): a server whose data directory is on an 8 MiB tmpfs."""
    with small_filesystem(tmp_path / "small", size=8 * 1024 * 1024) as fs:
        data_dir = fs.path / "data"
        data_dir.mkdir()
        _, alice = user_with_token(data_dir / "aibridge.db", "alice")
        server = ServerProcess(spawn, environ, data_dir, upstream.url, "--shutdown-grace", "2s", *args)
        try:
            ask(server, upstream, alice)  # the token is cached before the disk fills up
            yield fs, server, alice
        finally:
            assert server.stop() == 0, server.process.stderr


def test_a_full_disk_spools_to_another_filesystem_and_the_records_come_back(
        spawn, process_environ, upstream, tmp_path):
    spool = tmp_path / "spool"
    with serving_from_a_small_filesystem(spawn, process_environ, upstream, tmp_path,
                                         "--aibridge-spool-dir", spool) as (fs, server, alice):
        fs.fill()
        for _ in range(20):
            ask(server, upstream, alice)
        server.process.wait_for_line(r"the store does not take records \((database or disk is full|disk I/O error)\)")
        wait_until(lambda: list(spool.glob("*.jsonl")), what="the spool file")
        fs.free()
        wait_until(lambda: records_of(server.data_dir / "aibridge.db")["interceptions"] == 21, timeout=30,
                   what="the records once there is space again")
        assert records_of(server.data_dir / "aibridge.db")["user_prompts"] == 21


def test_a_full_disk_at_shutdown_keeps_the_records_for_the_next_start(spawn, process_environ, upstream, tmp_path):
    # The spool is on the same full filesystem (the default): at SIGTERM the records go to the last resort.
    with small_filesystem(tmp_path / "small", size=8 * 1024 * 1024) as fs:
        data_dir = fs.path / "data"
        data_dir.mkdir()
        _, alice = user_with_token(data_dir / "aibridge.db", "alice")
        server = ServerProcess(spawn, process_environ, data_dir, upstream.url, "--shutdown-grace", "1s")
        ask(server, upstream, alice)
        wait_until(lambda: records_of(data_dir / "aibridge.db")["interceptions"] == 1, what="the first record")
        fs.fill()
        big = {**MESSAGE, "messages": [{"role": "user", "content": "x" * 100_000}]}  # the database must grow
        for _ in range(10):
            upstream.queue("anthropic/blocking_text")
            assert server.post(alice, big, timeout=10).status_code == 200
        assert server.stop() == 0, server.process.stderr
        assert server.log_lines(r"records kept in /dev/shm/aibridge-spool-"), server.process.stderr
        assert not server.log_lines("not recorded: ")
        fs.free()
        restarted = ServerProcess(spawn, process_environ, data_dir, upstream.url)
        wait_until(lambda: records_of(data_dir / "aibridge.db")["interceptions"] == 11, timeout=30,
                   what="the records kept at shutdown, written by the next start")
        assert restarted.stop() == 0, restarted.process.stderr
        assert records_of(data_dir / "aibridge.db") == {"interceptions": 11, "user_prompts": 11, "token_usages": 11}


def test_when_nothing_can_keep_records_new_interceptions_get_503_in_the_api_shape(
        spawn, process_environ, upstream, tmp_path):
    # The spool is on the same full filesystem (the default); long prompts fill the recorder's memory.
    big = {**MESSAGE, "messages": [{"role": "user", "content": "x" * 100_000}]}
    with serving_from_a_small_filesystem(spawn, process_environ, upstream, tmp_path,
                                         "--aibridge-recorder-memory", "1MiB") as (fs, server, alice):
        fs.fill()
        answered, refused = 1, None
        for _ in range(100):  # 1 MiB of memory: about 10 of these prompts
            upstream.queue("anthropic/blocking_text")
            response = server.post(alice, big, timeout=10)
            if response.status_code == 503:
                refused = response
                break
            assert response.status_code == 200, response.text
            answered += 1
        assert refused is not None, "the gateway kept answering although nothing could record"
        assert refused.json()["type"] == "error" and "cannot record" in refused.json()["error"]["message"]
        assert refused.headers["Retry-After"] == "10"
        fs.free()
        upstream.queue("anthropic/blocking_text")
        wait_until(lambda: server.post(alice, timeout=10).status_code == 200, timeout=30,
                   what="interceptions to be admitted again once there is space")
        answered += 1
        wait_until(lambda: records_of(server.data_dir / "aibridge.db")["interceptions"] == answered, timeout=30,
                   what="a record of every answered request")
    assert not server.log_lines(r"not recorded: ")


def test_kill_9_leaves_no_interception_open_but_a_live_process_keeps_its_own(
        spawn, process_environ, upstream, data_dir):
    database = data_dir / "aibridge.db"
    _, alice = user_with_token(database, "alice")
    killed = ServerProcess(spawn, process_environ, data_dir, upstream.url)
    alive = ServerProcess(spawn, process_environ, data_dir, upstream.url)
    streams = [server.open_stream(alice, upstream) for server in (killed, alive)]
    wait_until(lambda: len(read_rows(database, "interceptions")) == 2, what="both interceptions to be recorded")
    by_instance = {row["instance_id"]: row for row in read_rows(database, "interceptions")}
    assert len(by_instance) == 2 and all(row["ended_at"] is None for row in by_instance.values())

    killed.process.proc.kill()
    killed.process.wait()
    restarted = ServerProcess(spawn, process_environ, data_dir, upstream.url)
    rows = wait_until(lambda: _ended(database, "interrupted"), what="the killed server's interception to end")
    (interrupted,) = rows
    assert interrupted["error"] and json.loads(interrupted["error"])["kind"] == "interrupted"
    assert interrupted["ended_at"] >= interrupted["started_at"]
    open_rows = [row for row in read_rows(database, "interceptions") if row["ended_at"] is None]
    assert len(open_rows) == 1 and open_rows[0]["id"] != interrupted["id"]  # the live server's stream

    streams[1][0].close()
    upstream.stop()  # ends the stalled answer
    wait_until(lambda: all(row["ended_at"] for row in read_rows(database, "interceptions")),
               what="the live server's interception to end")
    statuses = {row["id"]: row["status"] for row in read_rows(database, "interceptions")}
    assert statuses[open_rows[0]["id"]] != "interrupted"
    assert alive.stop() == 0 and restarted.stop() == 0


def _ended(database, status: str) -> list[dict]:
    return [row for row in read_rows(database, "interceptions") if row["status"] == status]


def test_a_database_moved_away_keeps_known_tokens_working_and_the_records_until_it_is_back(
        spawn, process_environ, upstream, data_dir, tmp_path):
    database = data_dir / "aibridge.db"
    _, alice = user_with_token(database, "alice")
    _, bob = user_with_token(database, "bob")  # not seen by the gateway before the database goes
    server = ServerProcess(spawn, process_environ, data_dir, upstream.url, "--shutdown-grace", "2s")
    ask(server, upstream, alice)
    wait_until(lambda: records_of(database)["interceptions"] == 1, what="the first record")
    aside = tmp_path / "aside"
    aside.mkdir()
    for path in data_dir.glob("aibridge.db*"):
        path.rename(aside / path.name)

    for _ in range(3):
        ask(server, upstream, alice)  # checked from memory
    unseen = server.post(bob, timeout=10)
    assert unseen.status_code == 503 and unseen.headers["Retry-After"] == "5"
    assert unseen.json()["error"]["message"] == "the gateway cannot check tokens right now; retry shortly"
    assert requests.get(server.url + "/healthz", timeout=2).status_code == 200
    wait_until(lambda: list((data_dir / "spool").glob("*.jsonl")), what="the records to reach the spool")
    assert not database.exists()  # the gateway does not create an empty one in its place

    for path in aside.iterdir():
        path.rename(data_dir / path.name)
    wait_until(lambda: records_of(database)["interceptions"] == 4, what="the records once the database is back")
    upstream.queue("anthropic/blocking_text")
    wait_until(lambda: server.post(bob, timeout=10).status_code == 200, what="bob's token to be read")
    assert server.stop() == 0
    assert records_of(database)["interceptions"] == records_of(database)["user_prompts"] == 5  # none twice
