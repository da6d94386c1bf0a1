"""Request bodies the gateway reads only in part (apis/request_body.py): what it accepts, refuses and forwards.

The gateway decodes a body's few top-level fields and its last turns with a
fast strict decoder, and hands what that decoder refuses to the standard json
module. These cases are where the two differ, or where reading only a part
could have changed what a client sees or what is recorded.
"""

from __future__ import annotations

import http.client
import json

import pytest
import requests

CLAUDE = "claude-sonnet-4-6"
GPT = "gpt-4o-mini"
ANTHROPIC_HEADERS = {"anthropic-version": "2023-06-01", "content-type": "application/json"}

# An agent's conversation: a prompt, a tool call and its result (what the last turn returns).
TURNS = [
    {"role": "user", "content": [{"type": "text", "text": "<system-reminder>context</system-reminder>"}, {"type": "text", "text": "List the files."}]},
    {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "Bash", "input": {"command": "ls", "n": 1e300}}]},
    {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "a.py\nb.py"}, {"type": "text", "text": "Now read a.py ✓"}]},
]


def post_messages(gateway, token, body: bytes, headers=None):
    return requests.post(
        gateway.bridge_url("anthropic") + "/v1/messages", data=body,
        headers={"x-api-key": token, **ANTHROPIC_HEADERS, **(headers or {})}, timeout=10,
    )


def records_of(collector) -> dict:
    """What the interception recorded from the request: model, session, prompt, tool results."""
    [start] = collector.of("interception_start")
    return {
        "model": start.model,
        "session": start.client_session_id,
        "prompts": [p.prompt for p in collector.of("prompt_usage")],
        "results": [(r.tool_call_id, r.is_error, r.content) for r in collector.of("tool_result")],
    }


def post_openai(gateway, token, collector, path: str, body: bytes) -> None:
    """POST ``body`` to an OpenAI route and wait until its interception ended (the upstream has an answer queued)."""
    response = requests.post(gateway.bridge_url("openai") + path, data=body,
                             headers={"Authorization": f"Bearer {token}", "content-type": "application/json"}, timeout=10)
    assert response.status_code == 200, response.text
    collector.wait_for_ends()


def assert_refused(response, message: str, upstream, collector) -> None:
    assert response.status_code == 400, response.text
    error = response.json()
    assert error["type"] == "error" and error["error"]["type"] == "invalid_request_error"
    assert message in error["error"]["message"]
    assert upstream.requests == []
    assert collector.records == []


def body_with(**members) -> bytes:
    return json.dumps({"model": CLAUDE, "max_tokens": 64, "messages": TURNS, **members}, separators=(",", ":"), ensure_ascii=False).encode()


# -- the same records whichever decoder read the body ------------------------------------------


# Each variant holds something only the standard json module accepts, away from what the gateway
# reads: the body goes through that module instead, and must record exactly what the plain body does.
STANDARD_ONLY = {
    "plain": lambda body: body,
    "NaN": lambda body: body.replace(b'"max_tokens":64', b'"max_tokens":64,"temperature":NaN'),
    "Infinity": lambda body: body.replace(b'"max_tokens":64', b'"max_tokens":64,"top_k":-Infinity'),
    "lone surrogate escape": lambda body: body.replace(b'"max_tokens":64', b'"max_tokens":64,"x":"\\udc00"'),
    "number out of range": lambda body: body.replace(b"1e+300", b"1e400"),
    "byte-order mark": lambda body: b"\xef\xbb\xbf" + body,
}


@pytest.mark.parametrize("variant", list(STANDARD_ONLY))
def test_bodies_only_the_standard_module_reads_record_the_same_and_go_upstream_as_sent(gateway, token, upstream, collector, variant):
    body = STANDARD_ONLY[variant](body_with())
    upstream.queue("anthropic/blocking_text")
    response = post_messages(gateway, token, body, {"User-Agent": "claude-cli/2.1.0"})
    assert response.status_code == 200, response.text
    collector.wait_for_ends()
    assert upstream.requests[0].body == body
    assert records_of(collector) == {
        "model": CLAUDE,
        "session": None,
        "prompts": ["Now read a.py ✓"],
        "results": [("toolu_1", False, "a.py\nb.py")],
    }


def test_duplicate_members_count_as_the_last_one_as_json_reads_them(gateway, token, upstream, collector):
    older = [{"role": "user", "content": "an older prompt"}]
    body = (
        b'{"model":"claude-3-haiku","max_tokens":64,"messages":' + json.dumps(older).encode()
        + b',"model":"' + CLAUDE.encode() + b'","messages":' + json.dumps(TURNS).encode()
        + b',"metadata":{"user_id":"user_1_account__session_11111111-1111-1111-1111-111111111111"}'
        + b',"metadata":{"user_id":"user_1_account__session_22222222-2222-2222-2222-222222222222"}}'
    )
    upstream.queue("anthropic/blocking_text")
    response = post_messages(gateway, token, body, {"User-Agent": "claude-cli/2.1.0"})
    assert response.status_code == 200, response.text
    collector.wait_for_ends()
    assert upstream.requests[0].body == body
    recorded = records_of(collector)
    assert recorded["model"] == CLAUDE
    assert recorded["session"] == "22222222-2222-2222-2222-222222222222"
    assert recorded["prompts"] == ["Now read a.py ✓"]


def test_member_names_with_escapes_are_the_names_they_spell(gateway, token, upstream, collector):
    body = b'{"mod\\u0065l":"' + CLAUDE.encode() + b'","max_tokens":64,"m\\u0065ssages":[{"role":"user","content":"Say hello."}]}'
    upstream.queue("anthropic/blocking_text")
    response = post_messages(gateway, token, body)
    assert response.status_code == 200, response.text
    collector.wait_for_ends()
    assert records_of(collector)["prompts"] == ["Say hello."]


# -- refused as before --------------------------------------------------------------------------


@pytest.mark.parametrize("body", [b"[1, 2]", b'"text"', b"5", b"null", b"true", b"[]"])
def test_a_body_that_is_not_an_object_is_refused(gateway, token, upstream, collector, body):
    assert_refused(post_messages(gateway, token, body), "must be a JSON object", upstream, collector)


@pytest.mark.parametrize("body", [b"", b"{", b'{"model": "m",}', b'{"model": "m"} trailing', b"{'model': 'm'}", b'{"model": "m\x01"}'])
def test_malformed_json_is_refused(gateway, token, upstream, collector, body):
    assert_refused(post_messages(gateway, token, body), "not valid JSON", upstream, collector)


@pytest.mark.parametrize("model", [5, 1e400, None, "", ["claude"], {"id": "claude"}, True])
def test_a_model_that_is_not_a_string_is_refused(gateway, token, upstream, collector, model):
    body = b'{"model":' + (b"1e400" if model == 1e400 else json.dumps(model).encode()) + b',"messages":[]}'
    assert_refused(post_messages(gateway, token, body), "model", upstream, collector)


@pytest.mark.parametrize("where", ["model", "last turn"])
def test_invalid_utf8_in_what_the_gateway_reads_is_refused(gateway, token, upstream, collector, where):
    body = body_with()
    body = body.replace(CLAUDE.encode(), b"claude-\xff") if where == "model" else body.replace("✓".encode(), b"\xe2\x9c")
    assert_refused(post_messages(gateway, token, body), "not valid JSON", upstream, collector)


def test_invalid_utf8_elsewhere_goes_upstream_as_sent(gateway, token, upstream, collector):
    # The gateway does not read the older turns, so it does not check them: the provider does.
    body = body_with().replace(b"<system-reminder>context", b"<system-reminder>\xc3\x28")
    upstream.queue("anthropic/error_400_invalid_request")
    response = post_messages(gateway, token, body)
    assert response.status_code == 400
    collector.wait_for_ends()
    assert upstream.requests[0].body == body


def test_deep_nesting_is_refused_and_ordinary_depth_is_not(gateway, token, upstream, collector):
    deep = b'{"model":"' + CLAUDE.encode() + b'","x":' + b"[" * 100_000 + b"]" * 100_000 + b',"messages":[]}'
    assert_refused(post_messages(gateway, token, deep), "nested too deeply", upstream, collector)

    schema = {"type": "string"}
    for _ in range(100):
        schema = {"type": "object", "properties": {"inner": schema}}
    tools = [{"name": "deep", "description": "a deep schema", "input_schema": schema}]
    body = body_with(tools=tools)
    upstream.queue("anthropic/blocking_text")
    response = post_messages(gateway, token, body)
    assert response.status_code == 200, response.text
    collector.wait_for_ends()
    assert upstream.requests[0].body == body


def test_huge_integers_go_upstream_as_sent(gateway, token, upstream, collector):
    body = body_with().replace(b'"max_tokens":64', b'"max_tokens":123456789012345678901234567890')
    upstream.queue("anthropic/blocking_text")
    assert post_messages(gateway, token, body).status_code == 200
    collector.wait_for_ends()
    assert upstream.requests[0].body == body


# -- the other APIs' conversation members ------------------------------------------------------


@pytest.mark.parametrize("input_value, prompt", [
    ("What is 2+2?", "What is 2+2?"),
    ([{"role": "user", "content": [{"type": "input_text", "text": "first"}, {"type": "input_text", "text": "second"}]}], "first\nsecond"),
    ({"role": "user", "content": "an object, not a list"}, None),
    (42, None),
])
def test_responses_input_of_any_shape(gateway, token, upstream, collector, input_value, prompt):
    body = json.dumps({"model": GPT, "input": input_value}).encode()
    upstream.queue("openai/responses_blocking_text")
    post_openai(gateway, token, collector, "/v1/responses", body)
    assert upstream.requests[0].body == body
    assert records_of(collector)["prompts"] == ([prompt] if prompt else [])


@pytest.mark.parametrize("messages", ["Say hello.", {"role": "user"}, None, 7])
def test_chat_messages_that_are_not_a_list_go_upstream_without_a_prompt(gateway, token, upstream, collector, messages):
    body = json.dumps({"model": GPT, "messages": messages}).encode()
    upstream.queue("openai/chat_blocking_text")
    post_openai(gateway, token, collector, "/v1/chat/completions", body)
    assert upstream.requests[0].body == body
    assert records_of(collector)["prompts"] == []


def test_chat_tool_results_after_the_last_assistant_turn(gateway, token, upstream, collector):
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Weather in Paris and Rome?"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "weather", "arguments": "{\"city\":\"Paris\"}"}},
            {"id": "call_2", "type": "function", "function": {"name": "weather", "arguments": "{\"city\":\"Rome\"}"}},
        ]},
        {"role": "tool", "tool_call_id": "call_1", "content": "18 C"},
        {"role": "tool", "tool_call_id": "call_2", "content": [{"type": "text", "text": "21 C"}]},
        {"role": "system", "content": "Answer in one line."},
    ]
    upstream.queue("openai/chat_blocking_text")
    post_openai(gateway, token, collector, "/v1/chat/completions", json.dumps({"model": GPT, "messages": messages}).encode())
    assert records_of(collector)["results"] == [("call_1", False, "18 C"), ("call_2", False, "21 C")]
    assert records_of(collector)["prompts"] == []


# -- how the body is read ----------------------------------------------------------------------


def test_a_chunked_body_is_read_whole_and_forwarded_as_sent(gateway, token, upstream, collector):
    body = body_with()
    pieces = [body[i:i + 1000] for i in range(0, len(body), 1000)]
    host, port = gateway.url.removeprefix("http://").split(":")
    upstream.queue("anthropic/blocking_text")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        connection.request("POST", "/api/v2/aibridge/anthropic/v1/messages", body=iter(pieces),
                           headers={"x-api-key": token, **ANTHROPIC_HEADERS}, encode_chunked=True)
        response = connection.getresponse()
        assert response.status == 200, response.read()
        response.read()
    finally:
        connection.close()
    collector.wait_for_ends()
    assert upstream.requests[0].body == body
    assert records_of(collector)["prompts"] == ["Now read a.py ✓"]


def test_a_body_the_gateway_must_rewrite_is_read_whole_so_invalid_utf8_anywhere_is_refused(gateway, token, upstream, collector):
    # A Chat stream whose client set stream_options without include_usage is re-serialised with it.
    messages = [{"role": "user", "content": "first XX"}, {"role": "assistant", "content": "ok"}, {"role": "user", "content": "Say hello."}]
    body = json.dumps({"model": GPT, "stream": True, "stream_options": {"include_obfuscation": False}, "messages": messages}).encode()
    response = requests.post(gateway.bridge_url("openai") + "/v1/chat/completions", data=body.replace(b"XX", b"\xc3\x28"),
                             headers={"Authorization": f"Bearer {token}", "content-type": "application/json"}, timeout=10)
    assert response.status_code == 400
    assert "not valid JSON" in response.json()["error"]["message"]
    assert upstream.requests == []
    assert collector.records == []
