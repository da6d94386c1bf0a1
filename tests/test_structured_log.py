"""Structured logging: one `interception log` line per record, with record_type and the record's fields."""

from __future__ import annotations

import json
import logging
from dataclasses import replace

import pytest
from support.recorder_support import RecordingApp, ended, make_interception

from aibridge import InterceptionError
from aibridge.config import Config
from aibridge.logs import setup_logging

LOG_FIELDS = {"time", "level", "logger", "message", "record_type"}


@pytest.fixture
def logs(tmp_path):
    """Log to a human file and a JSON file, as --log-human / --log-json do; restored afterwards."""
    human, json_lines = tmp_path / "human.log", tmp_path / "json.log"
    level = logging.getLogger().level
    yield human, json_lines
    setup_logging(Config(log_human="", log_json=""))
    logging.getLogger().setLevel(level)


def record_lines(path) -> list[dict]:
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    return [line for line in lines if line.get("message") == "interception log"]


def run_one_interception(tmp_path, human, json_lines, structured: bool) -> None:
    recording = RecordingApp(tmp_path / "data", structured_logging=structured, log_human=str(human),
                             log_json=str(json_lines))
    setup_logging(recording.config)
    try:
        recording.record(make_interception("int-log", client_session_id=None))
    finally:
        recording.close()


def test_every_record_is_one_json_line_with_its_fields(tmp_path, logs):
    human, json_lines = logs
    run_one_interception(tmp_path, human, json_lines, structured=True)
    lines = record_lines(json_lines)
    assert [line["record_type"] for line in lines] == [
        "interception_start", "prompt_usage", "token_usage", "tool_usage", "model_thought", "tool_result",
        "interception_end"]
    assert all(line["logger"] == "aibridge.records" and line["level"] == "INFO" for line in lines)
    start, prompt, usage, tool, thought, result, end = lines
    created = "2025-03-01T12:00:01+00:00"

    assert set(start) - LOG_FIELDS == {
        "interception_id", "initiator_id", "initiator_username", "provider", "provider_name", "model", "client",
        "client_session_id", "user_agent", "started_at", "credential_kind", "credential_hint", "metadata"}
    assert start["interception_id"] == "int-log"
    assert (start["initiator_id"], start["initiator_username"]) == ("user-1", "alice")
    assert start["provider"] == "anthropic"
    assert start["provider_name"] == "anthropic"
    assert start["model"] == "claude-sonnet-4-6"
    assert start["client"] == "Claude Code"
    assert start["client_session_id"] is None
    assert start["user_agent"] == "claude-cli/2.0.1"
    assert start["started_at"] == "2025-03-01T12:00:00+00:00"
    assert start["metadata"] == {"route": "/v1/messages"}

    assert set(prompt) - LOG_FIELDS == {"interception_id", "msg_id", "prompt", "created_at"}
    assert (prompt["interception_id"], prompt["msg_id"], prompt["prompt"], prompt["created_at"]) == (
        "int-log", "msg_1", "prompt of int-log", created)

    assert set(usage) - LOG_FIELDS == {"interception_id", "msg_id", "input_tokens", "output_tokens",
                                       "cache_read_input_tokens", "cache_write_input_tokens", "metadata", "created_at",
                                       "cost_usd_nanos", "cost_usd"}
    assert (usage["cost_usd_nanos"], usage["cost_usd"]) == (417_021, 0.000417021)
    assert usage["input_tokens"] == 100
    assert usage["output_tokens"] == 20
    assert usage["cache_read_input_tokens"] == 5
    assert usage["cache_write_input_tokens"] == 7
    assert usage["metadata"] == {"web_search_requests": 1}
    assert (usage["interception_id"], usage["msg_id"], usage["created_at"]) == ("int-log", "msg_1", created)

    assert set(tool) - LOG_FIELDS == {"interception_id", "msg_id", "tool_call_id", "tool", "input", "server_url",
                                      "injected", "invocation_error", "created_at"}
    assert tool["tool_call_id"] == "toolu_1"
    assert tool["tool"] == "get_weather"
    assert tool["input"] == '{"city": "Paris"}'
    assert tool["server_url"] is None
    assert tool["injected"] is False
    assert tool["invocation_error"] is None
    assert (tool["interception_id"], tool["msg_id"], tool["created_at"]) == ("int-log", "msg_1", created)

    assert set(thought) - LOG_FIELDS == {"interception_id", "content", "metadata", "created_at"}
    assert (thought["interception_id"], thought["content"], thought["metadata"], thought["created_at"]) == (
        "int-log", "Let me think.", {"source": "thinking"}, created)

    assert set(result) - LOG_FIELDS == {"interception_id", "tool_call_id", "is_error", "content", "created_at"}
    assert (result["interception_id"], result["tool_call_id"], result["is_error"], result["content"],
            result["created_at"]) == ("int-log", "toolu_0", True, "File does not exist.", created)

    # The end also says what was learnt after the start (the instance and key that answered, attempts).
    assert set(end) - LOG_FIELDS == {"interception_id", "ended_at", "status", "error", "duration_ms", "provider_name",
                                     "model", "credential_kind", "credential_hint", "metadata"}
    assert (end["interception_id"], end["ended_at"]) == ("int-log", "2025-03-01T12:00:03+00:00")
    assert (end["status"], end["error"], end["duration_ms"]) == ("completed", None, 3000)
    assert (end["provider_name"], end["model"], end["metadata"]) == ("anthropic", "claude-sonnet-4-6",
                                                                     {"route": "/v1/messages"})


def test_human_lines_carry_the_same_fields(tmp_path, logs):
    human, json_lines = logs
    run_one_interception(tmp_path, human, json_lines, structured=True)
    lines = [line for line in human.read_text().splitlines() if "interception log" in line]
    assert len(lines) == 7
    assert " INFO aibridge.records: interception log record_type=interception_start " in lines[0]
    assert "interception_id=int-log" in lines[0] and "model=claude-sonnet-4-6" in lines[0]
    assert "record_type=token_usage" in lines[2] and "input_tokens=100" in lines[2]
    assert ("record_type=interception_end interception_id=int-log ended_at=2025-03-01T12:00:03+00:00 "
            "status=completed error=None duration_ms=3000") in lines[6]


def test_without_structured_logging_no_record_is_logged(tmp_path, logs):
    human, json_lines = logs
    run_one_interception(tmp_path, human, json_lines, structured=False)
    assert record_lines(json_lines) == []
    assert "interception log" not in human.read_text()


def test_an_end_after_a_failure_is_logged_too(tmp_path, logs):
    human, json_lines = logs
    recording = RecordingApp(tmp_path / "data", structured_logging=True, log_human="", log_json=str(json_lines))
    setup_logging(recording.config)
    interception = make_interception("int-failed")
    why = InterceptionError("upstream_status", "Overloaded", upstream_status=529)
    try:
        recording.notify("on_interception_start", interception=interception)
        recording.notify("on_interception_end", interception=replace(ended(interception, status="failed"), error=why))
    finally:
        recording.close()
    start, end = record_lines(json_lines)
    assert [(line["record_type"], line["interception_id"]) for line in (start, end)] == [
        ("interception_start", "int-failed"), ("interception_end", "int-failed")]
    assert (end["status"], end["error"], end["duration_ms"]) == (
        "failed", {"kind": "upstream_status", "message": "Overloaded", "upstream_status": 529}, 3000)
