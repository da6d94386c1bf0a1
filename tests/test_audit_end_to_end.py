"""End to end: `aibridge server` (gevent) relays real SDK requests; the records come back through the audit API,
the structured log and the CLI, and a SIGTERM flushes every record."""

from __future__ import annotations

import json
import subprocess
import threading

import anthropic
import pytest
from support.fakeupstream import FakeUpstream, load_fixture
from support.recorder_support import read_rows, user_with_token, wait_until
from support.server_process import AIBRIDGE, UPSTREAM_KEY, Server, audit

MODEL = "claude-sonnet-4-6"
WEATHER_TOOL = {"name": "get_weather", "description": "Current weather for a city",
                "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}


def billed_tokens(fixture: str) -> dict[str, int]:
    """What the provider bills for a streamed fixture: the last count of each kind it reports."""
    totals = {}
    names = {"input_tokens": "input_tokens", "output_tokens": "output_tokens",
             "cache_read_input_tokens": "cache_read_input_tokens",
             "cache_creation_input_tokens": "cache_write_input_tokens"}
    for line in load_fixture(fixture).body_bytes().decode().splitlines():
        if not line.startswith("data: "):
            continue
        event = json.loads(line[6:])
        usage = event.get("message", {}).get("usage") if event["type"] == "message_start" else event.get("usage")
        for key, column in names.items():
            if usage and usage.get(key) is not None:
                totals[column] = usage[key]
    return totals


@pytest.fixture
def upstream():
    with FakeUpstream() as fake:
        yield fake


@pytest.fixture
def setup(tmp_path, upstream):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    users = {name: user_with_token(data_dir / "aibridge.db", name, role)
             for name, role in (("olivia", "owner"), ("alice", "member"))}
    server = Server(data_dir, upstream.url, tmp_path)
    yield server, users, data_dir
    server.stop()


def test_a_streamed_request_is_recorded_logged_and_listed(setup, upstream):
    server, users, data_dir = setup
    alice_id, alice_token = users["alice"]
    _, owner_token = users["olivia"]
    upstream.queue("anthropic/stream_thinking_tool_use")
    client = anthropic.Anthropic(api_key=alice_token, base_url=server.url + "/api/v2/aibridge/anthropic",
                                 max_retries=0)
    with client.messages.stream(model=MODEL, max_tokens=2048, tools=[WEATHER_TOOL],
                                messages=[{"role": "user", "content": "Weather in Paris?"}],
                                thinking={"type": "enabled", "budget_tokens": 1024}) as stream:
        final = stream.get_final_message()

    def ended_interception():
        answer = audit(server, owner_token)
        return answer if answer["count"] == 1 and answer["results"][0]["ended_at"] else None

    (found,) = wait_until(ended_interception, what="the interception to be recorded")["results"]
    assert found["initiator"] == {"id": alice_id, "username": "alice"}
    assert (found["provider"], found["provider_name"], found["model"]) == ("anthropic", "anthropic", MODEL)
    assert (found["api"], found["streaming"], found["status"]) == ("messages", True, "completed")
    assert [p["prompt"] for p in found["user_prompts"]] == ["Weather in Paris?"]
    tool_use = next(block for block in final.content if block.type == "tool_use")
    thinking = next(block for block in final.content if block.type == "thinking")
    [tool] = found["tool_usages"]
    assert (tool["tool_call_id"], tool["tool"], json.loads(tool["input"]), tool["injected"]) == (
        tool_use.id, "get_weather", tool_use.input, False)
    assert [t["content"] for t in found["model_thoughts"]] == [thinking.thinking]
    sums = {column: sum(u[column] for u in found["token_usages"]) for column in
            ("input_tokens", "output_tokens", "cache_read_input_tokens", "cache_write_input_tokens")}
    assert sums == billed_tokens("anthropic/stream_thinking_tool_use")
    # Priced at the library's Sonnet rates: $3 in, $15 out per million tokens (docs/cost.md).
    cost = sums["input_tokens"] * 3_000 + sums["output_tokens"] * 15_000
    assert (found["cost_usd_nanos"], found["unpriced_records"]) == (cost, 0)
    assert sum(u["cost_usd_nanos"] for u in found["token_usages"]) == cost
    usage = audit(server, alice_token, "/api/v2/aibridge/usage")
    assert usage["totals"] == {"interceptions": 1, **sums, "cost_usd": cost / 10**9, "cost_usd_nanos": cost,
                               "unpriced_records": 0}
    assert audit(server, alice_token) == audit(server, owner_token)

    assert server.stop() == 0
    logged = [line for line in server.records() if line["interception_id"] == found["id"]]
    assert {line["record_type"] for line in logged} == {
        "interception_start", "prompt_usage", "token_usage", "tool_usage", "model_thought", "interception_end"}
    start = next(line for line in logged if line["record_type"] == "interception_start")
    assert (start["initiator_id"], start["model"], start["started_at"][:19]) == (
        alice_id, MODEL, found["started_at"][:19])
    everything = server.json_log.read_text() + server.human_log.read_text()
    assert UPSTREAM_KEY not in everything and alice_token not in everything

    listed = subprocess.run([AIBRIDGE, "interceptions", "list", "--data-dir", str(data_dir)],
                            capture_output=True, text=True, timeout=60)
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout)["results"] == [found]


def test_sigterm_writes_every_record_before_exiting(setup, upstream):
    server, users, data_dir = setup
    _, alice_token = users["alice"]
    count = 30
    for _ in range(count):
        upstream.queue("anthropic/stream_text")
    client = anthropic.Anthropic(api_key=alice_token, base_url=server.url + "/api/v2/aibridge/anthropic",
                                 max_retries=0)

    def ask(n):
        with client.messages.stream(model=MODEL, max_tokens=64,
                                    messages=[{"role": "user", "content": f"question {n}"}]) as stream:
            stream.get_final_message()

    threads = [threading.Thread(target=ask, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert server.stop() == 0
    rows = read_rows(data_dir / "aibridge.db", "interceptions")
    assert len(rows) == count and all(row["ended_at"] and row["status"] == "completed" for row in rows)
    prompts = sorted(row["prompt"] for row in read_rows(data_dir / "aibridge.db", "user_prompts"))
    assert prompts == sorted(f"question {n}" for n in range(count))
    tokens = read_rows(data_dir / "aibridge.db", "token_usages")
    assert sum(row["output_tokens"] for row in tokens) == count * billed_tokens("anthropic/stream_text")["output_tokens"]
