"""OpenAI Responses through the bridge: the SDK's view (Codex speaks only this API), the bytes relayed, the records."""

from __future__ import annotations

import json

import openai
import pytest
import requests
from support.fakeupstream import BEFORE_HEADERS
from support.openai_support import (  # noqa: F401
    assert_no_gateway_token_upstream,
    client,
    dead_upstream_url,
    fixture_body,
    fixture_chunks,
    fixture_events,
    fixture_json,
    post,
    separate_gateway,
    token_totals,
)

MODEL = "gpt-4.1"
PATH = "/v1/responses"
WEATHER_TOOL = {
    "type": "function",
    "name": "get_weather",
    "description": "Current weather for a location",
    "parameters": {"type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]},
}


def done_items(name: str) -> list[dict]:
    """The items of every ``response.output_item.done`` event of a stream fixture."""
    return [e["item"] for e in fixture_events(name) if e["type"] == "response.output_item.done"]


def final_response(name: str) -> dict:
    [event] = [e for e in fixture_events(name) if e["type"] in ("response.completed", "response.failed")]
    return event["response"]


# -- streaming ---------------------------------------------------------------


def test_streamed_text_reaches_the_sdk_and_is_recorded(client, upstream, collector):
    upstream.queue("openai/responses_stream_text")
    with client.responses.stream(model=MODEL, input="Say hi.") as stream:
        deltas = [event.delta for event in stream if event.type == "response.output_text.delta"]
        final = stream.get_final_response()

    assert "".join(deltas) == final.output_text == "Hi there! What can I do for you today?"
    [end] = collector.wait_for_ends()
    [start] = collector.of("interception_start")
    assert (start.provider, start.provider_name, start.model, start.api, start.streaming) == (
        "openai", "openai", MODEL, "responses", True)
    assert end.status == "completed"
    [prompt] = collector.of("prompt_usage")
    assert (prompt.prompt, prompt.msg_id) == ("Say hi.", final.id)
    [usage] = collector.of("token_usage")
    assert (usage.msg_id, usage.input_tokens, usage.output_tokens, usage.cache_read_input_tokens) == (final.id, 14, 11, 0)
    assert usage.metadata == {}
    assert collector.of("tool_usage") == [] and collector.of("model_thought") == []


def test_every_event_is_relayed_unchanged_one_per_chunk(gateway, token, upstream, collector):
    upstream.queue("openai/responses_stream_text")
    body = b'{"model": "gpt-4.1", "stream": true,  "input": "Say hi."}'
    response = post(gateway, PATH, body, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    chunks = [chunk for chunk in response.raw.stream(None, decode_content=False) if chunk]
    assert chunks == fixture_chunks("openai/responses_stream_text")
    [sent] = upstream.requests
    assert sent.body == body  # Responses streams always carry usage: nothing to change
    collector.wait_for_ends()


def test_sdk_sees_every_event_type_in_order(client, upstream, collector):
    upstream.queue("openai/responses_stream_text")
    events = list(client.responses.create(model=MODEL, input="Say hi.", stream=True))
    assert [e.type for e in events] == [e["type"] for e in fixture_events("openai/responses_stream_text")]
    assert [e.sequence_number for e in events] == list(range(len(events)))
    collector.wait_for_ends()


def test_function_call_is_recorded(client, upstream, collector):
    upstream.queue("openai/responses_stream_function_call")
    with client.responses.stream(model=MODEL, input="Weather in Paris?", tools=[WEATHER_TOOL]) as stream:
        final = stream.get_final_response()
    [call] = [item for item in final.output if item.type == "function_call"]
    collector.wait_for_ends()
    [tool] = collector.of("tool_usage")
    assert (tool.msg_id, tool.tool_call_id, tool.tool, tool.input) == (
        final.id, call.call_id, "get_weather", '{"location":"Paris, France"}')
    assert tool.injected is False and tool.server_url is None
    [usage] = collector.of("token_usage")
    assert (usage.input_tokens, usage.output_tokens) == (71, 18)


def test_custom_tool_call_is_recorded_with_its_free_form_input(client, upstream, collector):
    upstream.queue("openai/responses_stream_custom_tool_call")
    tools = [{"type": "custom", "name": "apply_patch", "description": "Apply a patch to files in the workspace."}]
    with client.responses.stream(model="gpt-5", input="Set retention to 60d.", tools=tools) as stream:
        final = stream.get_final_response()
    [call] = [item for item in final.output if item.type == "custom_tool_call"]
    collector.wait_for_ends()
    [tool] = collector.of("tool_usage")
    assert (tool.tool_call_id, tool.tool) == (call.call_id, "apply_patch")
    assert json.loads(tool.input) == call.input and call.input.startswith("*** Begin Patch")
    # The reasoning item has an empty summary: nothing to record.
    assert collector.of("model_thought") == []
    [usage] = collector.of("token_usage")
    assert (usage.input_tokens, usage.output_tokens, usage.metadata) == (1844, 301, {"output_reasoning_tokens": 192})


def test_reasoning_summary_is_recorded_as_thoughts(client, upstream, collector):
    upstream.queue("openai/responses_stream_reasoning_summary")
    with client.responses.stream(model="o4-mini", input="Are failed uploads retried?",
                                 reasoning={"effort": "medium", "summary": "auto"}) as stream:
        final = stream.get_final_response()
    [reasoning] = [item for item in final.output if item.type == "reasoning"]
    collector.wait_for_ends()
    thoughts = collector.of("model_thought")
    assert [t.content for t in thoughts] == [part.text for part in reasoning.summary]
    assert len(thoughts) == 2 and all(t.metadata == {"source": "reasoning_summary"} for t in thoughts)
    [usage] = collector.of("token_usage")
    assert (usage.input_tokens, usage.output_tokens, usage.metadata) == (326, 590, {"output_reasoning_tokens": 512})


def test_commentary_messages_are_recorded_as_thoughts(client, upstream, collector):
    upstream.queue("openai/responses_stream_commentary")
    with client.responses.stream(model="gpt-5.3-codex", input="How are settings ordered?") as stream:
        final = stream.get_final_response()
    collector.wait_for_ends()
    [thought] = collector.of("model_thought")
    [commentary] = [item for item in done_items("openai/responses_stream_commentary") if item.get("phase") == "commentary"]
    assert thought.content == commentary["content"][0]["text"] == "I'll check how the config loader orders its sources first."
    assert thought.metadata == {"source": "commentary"}
    assert final.output_text.endswith("Flags win over environment variables, which win over the YAML file.")
    [usage] = collector.of("token_usage")
    assert (usage.input_tokens, usage.output_tokens, usage.metadata) == (2210, 96, {"output_reasoning_tokens": 40})


def test_cached_input_tokens_are_taken_out_of_the_input(client, upstream, collector):
    upstream.queue("openai/responses_stream_cached_tokens")
    with client.responses.stream(model=MODEL, input="Where do settings come from?") as stream:
        final = stream.get_final_response()
    assert final.usage.input_tokens_details.cached_tokens == 3968
    collector.wait_for_ends()
    [usage] = collector.of("token_usage")
    assert (usage.input_tokens, usage.cache_read_input_tokens, usage.output_tokens) == (4120 - 3968, 3968, 10)
    assert token_totals([usage])["cache_write_input_tokens"] == 0


def test_response_failed_is_relayed_and_fails_the_interception(gateway, token, upstream, collector):
    upstream.queue("openai/responses_stream_failed")
    response = post(gateway, PATH, {"model": MODEL, "stream": True, "input": "Say hi."}, headers={"Authorization": f"Bearer {token}"})
    assert response.content == fixture_body("openai/responses_stream_failed")
    [end] = collector.wait_for_ends()
    assert end.status == "failed"
    assert collector.of("token_usage") == []  # usage is null: nothing billed
    assert collector.of("prompt_usage")[0].msg_id == final_response("openai/responses_stream_failed")["id"]


def test_response_failed_reaches_the_sdk(client, upstream, collector):
    upstream.queue("openai/responses_stream_failed")
    events = list(client.responses.create(model=MODEL, input="Say hi.", stream=True))
    assert events[-1].type == "response.failed"
    assert events[-1].response.error.code == "server_error"
    assert collector.wait_for_ends()[0].status == "failed"


def test_error_event_is_relayed_and_fails_the_interception(client, upstream, collector):
    upstream.queue("openai/responses_stream_error")
    events = list(client.responses.create(model=MODEL, input="Say hi.", stream=True))
    assert [e.type for e in events] == ["response.created", "response.in_progress", "error"]
    assert (events[-1].code, events[-1].sequence_number) == ("server_error", 2)
    [end] = collector.wait_for_ends()
    assert end.status == "failed"
    assert collector.of("token_usage") == []


# -- blocking ----------------------------------------------------------------


def test_blocking_answer_is_returned_unchanged_and_recorded(gateway, token, upstream, collector):
    upstream.queue("openai/responses_blocking_text")
    response = post(gateway, PATH, {"model": MODEL, "input": "Say hi."}, headers={"Authorization": f"Bearer {token}"}, stream=False)
    assert response.status_code == 200
    assert response.content == fixture_body("openai/responses_blocking_text")
    body = fixture_json("openai/responses_blocking_text")
    [end] = collector.wait_for_ends()
    assert end.status == "completed" and end.streaming is False
    assert [(p.prompt, p.msg_id) for p in collector.of("prompt_usage")] == [("Say hi.", body["id"])]
    [usage] = collector.of("token_usage")
    assert (usage.msg_id, usage.input_tokens, usage.output_tokens) == (body["id"], 14, 11)


def test_blocking_reasoning_sdk_call(client, upstream, collector):
    upstream.queue("openai/responses_blocking_reasoning")
    result = client.responses.create(model="o4-mini", input="Are failed uploads retried?",
                                     reasoning={"effort": "medium", "summary": "detailed"})
    assert result.output_text == "Failed uploads are retried up to 3 times with exponential backoff and jitter."
    collector.wait_for_ends()
    [reasoning] = [item for item in result.output if item.type == "reasoning"]
    thoughts = collector.of("model_thought")
    assert [(t.content, t.metadata["source"]) for t in thoughts] == [(p.text, "reasoning_summary") for p in reasoning.summary]
    [usage] = collector.of("token_usage")
    assert (usage.msg_id, usage.input_tokens, usage.output_tokens, usage.metadata) == (
        result.id, 326, 590, {"output_reasoning_tokens": 512})


# -- requests the gateway relays as they are ---------------------------------


@pytest.mark.parametrize(
    "extra", [{"previous_response_id": "resp_68e678ee0a1c8190a3b2e1f7c9d04e2a"}, {"conversation": "conv_68e6d0a1b2c3d4e5"}]
)
def test_stateful_requests_are_relayed_unchanged(client, upstream, collector, extra):
    upstream.queue("openai/responses_stream_text")
    with client.responses.stream(model=MODEL, input="And now?", **extra) as stream:
        stream.get_final_response()
    [sent] = upstream.requests
    assert {key: sent.json()[key] for key in extra} == extra
    collector.wait_for_ends()
    assert collector.of("prompt_usage")[0].prompt == "And now?"


def test_background_requests_are_501(client, upstream, collector):
    with pytest.raises(openai.APIStatusError) as raised:
        client.responses.create(model=MODEL, input="Say hi.", background=True)
    assert raised.value.status_code == 501
    assert raised.value.body["type"] == "not_implemented"
    assert "background" in raised.value.message
    assert upstream.requests == [] and collector.records == []


# -- prompts -----------------------------------------------------------------


@pytest.mark.parametrize(
    "input_value, prompt",
    [
        ("Just a string.", "Just a string."),
        ([{"role": "user", "content": "Old."}, {"role": "assistant", "content": "Ok."}, {"role": "user", "content": "New."}], "New."),
        ([{"type": "message", "role": "user", "content": [
            {"type": "input_text", "text": "<environment_context>cwd=/repo</environment_context>"},
            {"type": "input_image", "image_url": "data:image/png;base64,AAAA"},
            {"type": "input_text", "text": "Fix the failing test."}]}],
         "Fix the failing test."),
        ([{"role": "user", "content": "Weather?"},
          {"type": "function_call", "call_id": "call_1", "name": "get_weather", "arguments": "{}"},
          {"type": "function_call_output", "call_id": "call_1", "output": "18C"}], None),
        ([{"role": "developer", "content": "Be brief."}], None),
    ],
)
def test_prompt_rules(client, upstream, collector, input_value, prompt):
    upstream.queue("openai/responses_blocking_text")
    client.responses.create(model=MODEL, input=input_value)
    collector.wait_for_ends()
    assert [p.prompt for p in collector.of("prompt_usage")] == ([prompt] if prompt else [])


# -- clients, errors, passthrough --------------------------------------------


def test_codex_is_detected(gateway, token, upstream, collector):
    upstream.queue("openai/responses_stream_text")
    headers = {
        "Authorization": f"Bearer {token}",
        "User-Agent": "codex_cli_rs/0.46.0 (Mac OS 15.6.1; arm64) iTerm.app/3.6.1",
        "originator": "codex_cli_rs",
    }
    response = post(gateway, PATH, {"model": "gpt-5-codex", "stream": True, "input": "Say hi."}, headers=headers)
    assert response.content == fixture_body("openai/responses_stream_text")
    collector.wait_for_ends()
    [start] = collector.of("interception_start")
    assert start.client == "Codex" and start.user_agent.startswith("codex_cli_rs/")
    [sent] = upstream.requests
    assert sent.headers["originator"] == "codex_cli_rs"
    assert sent.headers["Authorization"] == "Bearer sk-openai-upstream-key"
    assert_no_gateway_token_upstream(sent, token)


@pytest.mark.parametrize("fixture, error", [("openai/error_400", openai.BadRequestError), ("openai/error_429", openai.RateLimitError)])
def test_upstream_errors_are_relayed_as_sent(client, upstream, collector, fixture, error):
    upstream.queue(fixture)
    with pytest.raises(error) as raised:
        client.responses.create(model=MODEL, input="Say hi.", stream=True)
    assert raised.value.response.content == fixture_body(fixture)
    assert collector.wait_for_ends()[0].status == "failed"


def test_upstream_unreachable_is_502(tmp_path):
    with dead_upstream_url() as dead, separate_gateway(tmp_path, dead) as (gw, token, collector):
        client = openai.OpenAI(api_key=token, base_url=gw.bridge_url("openai") + "/v1", max_retries=0)
        with pytest.raises(openai.APIStatusError) as raised:
            client.responses.create(model=MODEL, input="Say hi.")
        assert raised.value.status_code == 502
        assert raised.value.body["type"] == "bad_gateway"
        assert collector.wait_for_ends()[0].status == "failed"


def test_upstream_timeout_is_504_before_and_an_error_event_after_bytes(tmp_path, upstream):
    upstream.reset()
    with separate_gateway(tmp_path, upstream.url, upstream_timeout=0.5) as (gw, token, collector):
        auth = {"Authorization": f"Bearer {token}"}
        upstream.queue("openai/responses_stream_text", stall_after=BEFORE_HEADERS)
        response = post(gw, PATH, {"model": MODEL, "stream": True, "input": "Say hi."}, headers=auth)
        assert response.status_code == 504
        assert response.json()["error"]["type"] == "timeout"

        upstream.queue("openai/responses_stream_text", stall_after=5)
        response = post(gw, PATH, {"model": MODEL, "stream": True, "input": "Say hi."}, headers=auth)
        relayed = b"".join(fixture_chunks("openai/responses_stream_text")[:5])
        assert response.content.startswith(relayed)
        tail = response.content[len(relayed):]
        assert tail.startswith(b"event: error\ndata: ") and tail.endswith(b"\n\n") and tail.count(b"\n\n") == 1
        error = json.loads(tail.split(b"\n")[1].removeprefix(b"data: "))
        assert (error["type"], error["code"], error["sequence_number"]) == ("error", "timeout", 5)
        assert "stopped sending" in error["message"]
        assert [e.status for e in collector.wait_for_ends(2)] == ["failed", "failed"]


def test_stored_responses_are_passed_through(client, token, upstream, collector):
    upstream.queue("openai/responses_blocking_text")
    body = fixture_json("openai/responses_blocking_text")
    stored = client.responses.retrieve(body["id"])
    assert stored.id == body["id"]
    [sent] = upstream.requests
    assert (sent.method, sent.path) == ("GET", f"/v1/responses/{body['id']}")
    assert sent.headers["Authorization"] == "Bearer sk-openai-upstream-key"
    assert_no_gateway_token_upstream(sent, token)
    assert collector.records == []


def test_unknown_route_is_404_naming_the_path(gateway, token, collector):
    response = requests.post(gateway.bridge_url("openai") + "/v1/completions", json={"model": MODEL},
                             headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert response.status_code == 404
    assert "/v1/completions" in response.json()["error"]["message"]
