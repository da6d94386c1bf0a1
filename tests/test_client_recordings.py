"""Today's clients as they really send: every recorded request through the real gateway, and what is recorded.

The recordings (tests/fixtures/clients/) say what the person typed and which
tool results each request returns; the gateway must record exactly that, and
tell the client and its session from the client's own headers (spec §5, §6,
§15; docs/recording.md "The prompt" and "Tool results").
"""

from __future__ import annotations

import json
import subprocess

import anthropic
import openai
import pytest
import requests
from support.client_recordings import GITHUB_TOKEN, posted_recordings, recording, replay
from support.fakeupstream import FakeUpstream
from support.server_process import AIBRIDGE, Server, audit
from support.recorder_support import user_with_token, wait_until

RECORDINGS = posted_recordings()

# Requests the clients make on their own (session titles, Copilot's frustration classifier) are
# recorded as what they are: the text of their last user message, which quotes what the person typed.
SIDE_REQUESTS = {
    "claude-code/interactive_title_request.json":
        "<session>\nlist the files here, then read does-not-exist.txt\n</session>\n\n"
        "Write the title in the language the user wrote in, regardless of the language of the examples above.",
    "codex/tui_title_request.json":
        "Generate a concise, single-line task title of at most 36 characters and under five words where possible. "
        "Start with an imperative verb. Capitalize only the first word unless the user's language, proper nouns, "
        "acronyms, or code terms require otherwise. Preserve ticket references exactly. Write in the user's language. "
        "Do not use quotes, markdown, or trailing punctuation. Do not answer the request.\n\nUser prompt:\nsay hello",
    "copilot-cli/interactive_title_request.json":
        "Generate a session title for this message:\n\n<user_message>\nsay hello\n</user_message>",
    "copilot-cli/interactive_frustration_check.json":
        "[PREVIOUS MESSAGE]\nsay hello\n\n[CURRENT MESSAGE]\nlist the files here, then view does-not-exist.txt",
}


def expected_prompts(recorded) -> list[str]:
    typed = recorded.expect["person_typed"]
    if recorded.name in SIDE_REQUESTS:
        assert typed is None, "a side request carries no typed text"
        return [SIDE_REQUESTS[recorded.name]]
    return [typed] if typed is not None else []


def joined(content) -> str:
    """A recorded result's content as text: a string as sent, a list's text parts joined with newlines."""
    return content if isinstance(content, str) else "\n".join(part["text"] for part in content)


def expected_tool_results(recorded) -> list[tuple]:
    return [(r["tool_call_id"], r["is_error"] is True, joined(r["content"])) for r in recorded.expect["tool_results"]]


def expected_client(recorded) -> tuple[str, str | None]:
    """The client and session id spec §5 gives for the recording's headers."""
    headers = recorded.headers
    if recorded.data["client"] == "claude-code":
        return "Claude Code", headers["X-Claude-Code-Session-Id"]
    if recorded.data["client"] == "codex":
        return "Codex", headers["session-id"]  # Codex sends session-id, not the session_id of spec §5
    if recorded.on_copilot_api:
        return "GitHub Copilot (CLI)", headers["x-client-session-id"]
    return "Unknown", None  # Copilot CLI BYOK: the OpenAI SDK's User-Agent and no session header


def test_the_recordings_cover_every_client_and_api():
    assert len(RECORDINGS) == 30
    assert {(r.data["client"], r.provider, r.data["path"]) for r in RECORDINGS} == {
        ("claude-code", "anthropic", "/v1/messages?beta=true"),
        ("codex", "openai", "/v1/responses"),
        ("copilot-cli", "copilot", "/v1/messages"),
        ("copilot-cli", "copilot", "/responses"),
        ("copilot-cli", "copilot", "/chat/completions"),
        ("copilot-cli", "openai", "/v1/chat/completions"),
    }
    assert set(SIDE_REQUESTS) <= {r.name for r in RECORDINGS}


@pytest.mark.parametrize("recorded", RECORDINGS, ids=lambda r: r.name)
def test_a_recorded_request_records_what_the_person_typed_and_the_tool_results(
        gateway, token, upstream, collector, recorded):
    answer = recorded.upstream_answer()
    upstream.queue(answer)
    status, body = replay(gateway.url, recorded, token)
    assert status == 200, body
    assert body == answer.body_bytes()

    [sent] = upstream.requests
    assert (sent.path, sent.body) == (recorded.data["path"], recorded.body)
    assert sent.headers["User-Agent"] == recorded.headers["User-Agent"]
    if recorded.on_copilot_api:
        assert sent.headers["Authorization"] == f"Bearer {GITHUB_TOKEN}"
    assert all(token not in value for value in sent.headers.values())

    [end] = collector.wait_for_ends()
    assert (end.client, end.client_session_id, end.status) == (*expected_client(recorded), "completed")
    assert [p.prompt for p in collector.of("prompt_usage")] == expected_prompts(recorded)
    results = expected_tool_results(recorded)
    assert [(r.tool_call_id, r.is_error, r.content) for r in collector.of("tool_result")] == results
    # The results are announced right after the start, before anything of the answer.
    assert [hook for hook, _ in collector.records][:1 + len(results)] == ["interception_start"] + ["tool_result"] * len(results)
    assert {r.interception_id for r in collector.of("tool_result")} <= {end.interception_id}


def test_claude_codes_probe_of_the_base_url_gets_a_404_and_is_not_recorded(gateway, upstream, collector):
    status, _ = replay(gateway.url, recording("claude-code/print_head_probe.json"), token="")
    assert status == 404  # Claude Code goes on with its request
    assert upstream.requests == [] and collector.records == []


# -- the same shapes through the official SDKs (blocking), and read back from the audit API ------------------

TOOL_RESULT_RECORDINGS = [r.name for r in RECORDINGS if r.expect["tool_results"]]
BLOCKING_ANSWERS = {"messages": "anthropic/blocking_text", "responses": "openai/responses_blocking_text",
                    "chat": "openai/chat_blocking_text"}


def api_of(recorded) -> str:
    path = recorded.data["path"].split("?")[0]
    return "messages" if path.endswith("/messages") else "responses" if path.endswith("/responses") else "chat"


def send_with_sdk(gateway, token: str, recorded, **changes) -> None:
    """The recorded body's conversation sent with the official SDK of its API (blocking)."""
    body = {**recorded.data["body"], **changes}
    base_url = gateway.bridge_url(recorded.provider)
    copilot = {"default_headers": {"X-Coder-AI-Governance-Token": token}} if recorded.on_copilot_api else {}
    key = GITHUB_TOKEN if recorded.on_copilot_api else token
    api = api_of(recorded)
    if api == "messages":
        client = anthropic.Anthropic(auth_token=key, base_url=base_url, max_retries=0, **copilot)
        client.messages.create(model=body["model"], max_tokens=4096, system=body["system"],
                               tools=body["tools"], messages=body["messages"])
        return
    client = openai.OpenAI(api_key=key, base_url=base_url + ("/v1" if recorded.provider == "openai" else ""),
                           max_retries=0, **copilot)
    if api == "responses":
        client.responses.create(model=body["model"], input=body["input"], tools=body.get("tools") or [])
    else:
        client.chat.completions.create(model=body["model"], messages=body["messages"], tools=body["tools"])


def audited(gateway, token: str, interception_id: str) -> dict:
    """The interception as the audit API answers, once the recorder wrote its end."""
    def found():
        answer = requests.get(f"{gateway.url}/api/v2/aibridge/interceptions", params={"limit": 1000},
                              headers={"Authorization": f"Bearer {token}"}, timeout=10).json()
        match = [r for r in answer["results"] if r["id"] == interception_id and r["ended_at"]]
        return match[0] if match else None
    return wait_until(found, what="the interception in the audit API")


@pytest.mark.parametrize("name", TOOL_RESULT_RECORDINGS)
def test_recorded_tool_results_sent_with_the_sdks_are_recorded_and_audited(gateway, token, upstream, collector, name):
    recorded = recording(name)
    upstream.queue(BLOCKING_ANSWERS[api_of(recorded)])
    send_with_sdk(gateway, token, recorded)
    [end] = collector.wait_for_ends()
    expected = expected_tool_results(recorded)
    assert [(r.tool_call_id, r.is_error, r.content) for r in collector.of("tool_result")] == expected
    assert [p.prompt for p in collector.of("prompt_usage")] == expected_prompts(recorded)
    found = audited(gateway, token, end.interception_id)
    assert [(r["tool_call_id"], r["is_error"], r["content"]) for r in found["tool_results"]] == expected
    assert all(r["interception_id"] == end.interception_id and r["created_at"] for r in found["tool_results"])


def test_claude_codes_failed_read_is_an_error_result_linked_to_the_earlier_tool_call(gateway, token, upstream, collector):
    # The request that made the calls, answered with the model's two tool_use blocks ...
    first = recording("claude-code/print_tool_use_first_request.json")
    upstream.queue(first.upstream_answer())
    assert replay(gateway.url, first, token)[0] == 200
    # ... then the request that returns their results.
    second = recording("claude-code/print_tool_results.json")
    upstream.queue(second.upstream_answer())
    assert replay(gateway.url, second, token)[0] == 200
    collector.wait_for_ends(2)
    calls = {tool.tool_call_id: tool.tool for tool in collector.of("tool_usage")}
    results = {result.tool_call_id: result for result in collector.of("tool_result")}
    assert set(results) == set(calls)
    [failed] = [r for r in results.values() if r.is_error]
    assert calls[failed.tool_call_id] == "Read"
    assert failed.content.startswith("File does not exist.")


def test_a_long_result_is_cut_at_32_kib_with_the_cut_marked(gateway, token, upstream, collector):
    recorded = recording("claude-code/print_tool_results.json")
    messages = json.loads(json.dumps(recorded.data["body"]["messages"]))
    long_text = "a" + "ü" * 20000  # 40001 bytes of UTF-8; the limit falls inside a two-byte character
    messages[-1]["content"][0]["content"] = [{"type": "text", "text": long_text}]
    messages[-1]["content"][1]["content"] = [{"type": "text", "text": "notes.txt"},
                                             {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AAAA"}},
                                             {"type": "text", "text": "src"}]
    upstream.queue("anthropic/blocking_text")
    send_with_sdk(gateway, token, recorded, messages=messages)
    collector.wait_for_ends()
    cut, listed = collector.of("tool_result")
    kept = "a" + "ü" * 16383  # 32767 bytes: the half character goes with the cut
    assert cut.content == kept + "\n[... 7234 bytes cut]"
    assert listed.content == "notes.txt\n[image]\nsrc"


@pytest.mark.parametrize("input_items, results", [
    # Calls and outputs interleaved: both outputs belong to the last turn.
    ([{"role": "user", "content": "list, then read"},
      {"type": "function_call", "call_id": "call_a", "name": "ls", "arguments": "{}"},
      {"type": "function_call_output", "call_id": "call_a", "output": "a.txt"},
      {"type": "function_call", "call_id": "call_b", "name": "cat", "arguments": "{}"},
      {"type": "function_call_output", "call_id": "call_b", "output": [{"type": "input_text", "text": "no such file"}]}],
     [("call_a", "a.txt"), ("call_b", "no such file")]),
    # Older outputs are history: the model answered them already.
    ([{"role": "user", "content": "list"},
      {"type": "function_call", "call_id": "call_a", "name": "ls", "arguments": "{}"},
      {"type": "function_call_output", "call_id": "call_a", "output": "a.txt"},
      {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "One file."}]},
      {"role": "user", "content": "thanks"}], []),
    # Continuing a stored response: only the outputs are sent.
    ([{"type": "function_call_output", "call_id": "call_c", "output": "done"}], [("call_c", "done")]),
])
def test_responses_results_are_those_of_the_last_turn(client_openai, upstream, collector, input_items, results):
    upstream.queue("openai/responses_blocking_text")
    client_openai.responses.create(model="gpt-5", input=input_items)
    collector.wait_for_ends()
    assert [(r.tool_call_id, r.content, r.is_error) for r in collector.of("tool_result")] == [
        (call_id, content, False) for call_id, content in results]


def test_chat_results_followed_by_a_typed_message_record_both(client_openai, upstream, collector):
    messages = [{"role": "user", "content": "Weather?"},
                {"role": "assistant", "content": None, "tool_calls": [
                    {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}]},
                {"role": "tool", "tool_call_id": "call_1", "content": [{"type": "text", "text": "18C"}]},
                {"role": "user", "content": "And tomorrow?"}]
    upstream.queue("openai/chat_blocking_text")
    client_openai.chat.completions.create(model="gpt-4.1", messages=messages)
    collector.wait_for_ends()
    assert [(r.tool_call_id, r.content, r.is_error) for r in collector.of("tool_result")] == [("call_1", "18C", False)]
    assert [p.prompt for p in collector.of("prompt_usage")] == ["And tomorrow?"]


@pytest.fixture
def client_openai(gateway, token, collector):
    return openai.OpenAI(api_key=token, base_url=gateway.bridge_url("openai") + "/v1", max_retries=0)


# -- under `aibridge server` (gevent), as deployed: audit API, structured log, CLI ----------------------------


def test_under_the_gevent_server_sessions_and_tool_results_reach_every_output(tmp_path):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    _, token = user_with_token(data_dir / "aibridge.db", "alice")
    with FakeUpstream() as upstream:
        server = Server(data_dir, upstream.url, tmp_path, extra_args=(
            "--aibridge-openai-base-url", upstream.url + "/v1", "--aibridge-openai-key", "sk-openai-e2e-key"))
        try:
            sent = [recording("codex/exec_function_call_output.json"), recording("claude-code/print_tool_results.json")]
            for recorded in sent:
                upstream.queue(recorded.upstream_answer())
                assert replay(server.url, recorded, token)[0] == 200

            def both_ended():
                answer = audit(server, token)
                return answer if answer["count"] == 2 and all(r["ended_at"] for r in answer["results"]) else None

            claude, codex = wait_until(both_ended, what="both interceptions in the audit API")["results"]
        finally:
            assert server.stop() == 0
    # gevent's server drops header names with "_": Codex's session-id (hyphen) is what arrives.
    for found, recorded in ((codex, sent[0]), (claude, sent[1])):
        assert (found["client"], found["client_session_id"]) == expected_client(recorded)
        assert [(r["tool_call_id"], r["is_error"], r["content"]) for r in found["tool_results"]] == \
            expected_tool_results(recorded)
        assert found["user_prompts"] == []

    logged = [(line["interception_id"], line["tool_call_id"], line["is_error"], line["content"])
              for line in server.records() if line["record_type"] == "tool_result"]
    assert sorted(logged) == sorted((found["id"], r["tool_call_id"], r["is_error"], r["content"])
                                    for found in (claude, codex) for r in found["tool_results"])
    listed = subprocess.run([AIBRIDGE, "interceptions", "list", "--data-dir", str(data_dir)],
                            capture_output=True, text=True, timeout=60)
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout)["results"] == [claude, codex]
