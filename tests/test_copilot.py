"""GitHub Copilot through the bridge: the user's own token goes upstream, the gateway token never does."""

from __future__ import annotations

import json

import openai
import pytest
import requests
from support.openai_support import (  # noqa: F401
    assert_no_gateway_token_upstream,
    fixture_body,
    fixture_json,
    post,
    token_totals,
    without_usage_chunk,
)

from aibridge.config.loader import load_config
from aibridge.providers import PROVIDER_TYPES

GITHUB_TOKEN = "ghu_16C7e42F292c6912E7710c838347Ae178B4a"
EDITOR_HEADERS = {"Editor-Version": "vscode/1.105.0", "Copilot-Integration-Id": "vscode-chat"}
HELLO = [{"role": "user", "content": "Say hello."}]


@pytest.fixture
def copilot(gateway, token, collector):
    """The SDK as Copilot clients configure it: their GitHub token as the key, the gateway token in its own header."""
    return openai.OpenAI(
        api_key=GITHUB_TOKEN,
        base_url=gateway.bridge_url("copilot"),
        default_headers={"X-Coder-AI-Governance-Token": token, **EDITOR_HEADERS},
        max_retries=0,
    )


def assert_user_credentials_upstream(received, token: str) -> None:
    assert received.headers["Authorization"] == f"Bearer {GITHUB_TOKEN}"
    assert "X-Coder-AI-Governance-Token" not in received.headers
    assert_no_gateway_token_upstream(received, token)
    for name, value in EDITOR_HEADERS.items():
        assert received.headers[name] == value


def test_a_copilot_instance_defaults_to_copilots_api(tmp_path):
    environ = {"CODER_AIBRIDGE_PROVIDER_0_TYPE": "copilot", "HOME": str(tmp_path)}
    [provider] = [p for p in load_config(environ=environ).providers if p.type == "copilot"]
    assert (provider.name, provider.base_url, provider.keys) == ("copilot", "https://api.individual.githubcopilot.com", ())
    assert PROVIDER_TYPES["copilot"].default_base_url == provider.base_url
    assert PROVIDER_TYPES["copilot"].always_byok


def test_chat_stream_uses_the_users_own_token_and_is_recorded(copilot, token, upstream, collector):
    upstream.queue("openai/chat_stream_text_usage")
    chunks = list(copilot.chat.completions.create(model="gpt-4.1", messages=HELLO, stream=True))
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == "Hello! How can I help you today?"
    [sent] = upstream.requests
    assert (sent.method, sent.path) == ("POST", "/chat/completions")
    assert sent.json()["stream_options"] == {"include_usage": True}
    assert_user_credentials_upstream(sent, token)

    [end] = collector.wait_for_ends()
    [start] = collector.of("interception_start")
    assert (start.provider, start.provider_name, start.api, start.initiator_username) == (
        "copilot", "copilot", "chat_completions", "alice")
    assert end.status == "completed"
    assert [(p.prompt, p.msg_id) for p in collector.of("prompt_usage")] == [("Say hello.", chunks[0].id)]
    [usage] = collector.of("token_usage")
    assert (usage.input_tokens, usage.output_tokens, usage.cache_read_input_tokens) == (19, 10, 0)


def test_v1_prefixed_routes_reach_the_same_upstream_path(gateway, token, upstream, collector):
    upstream.queue("openai/chat_stream_text_usage")
    headers = {"Authorization": f"Bearer {GITHUB_TOKEN}", "X-Coder-AI-Governance-Token": token, **EDITOR_HEADERS}
    response = post(gateway, "/v1/chat/completions", {"model": "gpt-4.1", "stream": True, "messages": HELLO},
                    provider="copilot", headers=headers)
    assert response.content == without_usage_chunk("openai/chat_stream_text_usage")
    [sent] = upstream.requests
    assert sent.path == "/chat/completions"
    assert_user_credentials_upstream(sent, token)
    collector.wait_for_ends()


def test_chat_tool_calls_blocking(copilot, token, upstream, collector):
    upstream.queue("openai/chat_blocking_tool_calls")
    completion = copilot.chat.completions.create(model="gpt-4.1", messages=[{"role": "user", "content": "Weather in Paris?"}])
    collector.wait_for_ends()
    [call] = completion.choices[0].message.tool_calls
    [tool] = collector.of("tool_usage")
    assert (tool.tool_call_id, tool.tool, json.loads(tool.input)) == (call.id, "get_weather", {"location": "Paris, France"})
    assert token_totals(collector.of("token_usage"))["input_tokens"] == 82


def test_responses_stream_is_recorded(copilot, token, upstream, collector):
    upstream.queue("openai/responses_stream_reasoning_summary")
    with copilot.responses.stream(model="gpt-5", input="Are failed uploads retried?") as stream:
        final = stream.get_final_response()
    [sent] = upstream.requests
    assert (sent.method, sent.path) == ("POST", "/responses")
    assert_user_credentials_upstream(sent, token)
    [end] = collector.wait_for_ends()
    assert end.status == "completed" and end.api == "responses" and end.provider == "copilot"
    assert len(collector.of("model_thought")) == 2
    [usage] = collector.of("token_usage")
    assert (usage.msg_id, usage.input_tokens, usage.output_tokens) == (final.id, 326, 590)


def test_vscode_client_and_session_are_detected(gateway, token, upstream, collector):
    upstream.queue("openai/chat_blocking_text")
    headers = {
        "Authorization": f"Bearer {GITHUB_TOKEN}",
        "X-Coder-AI-Governance-Token": token,
        "User-Agent": "GitHubCopilotChat/0.32.4",
        "x-interaction-id": "5b0c2f7e-3e58-4c0f-9d0e-6a1f3b2c4d5e",
        **EDITOR_HEADERS,
    }
    response = post(gateway, "/chat/completions", {"model": "gpt-4.1", "messages": HELLO}, provider="copilot",
                    headers=headers, stream=False)
    assert response.content == fixture_body("openai/chat_blocking_text")
    collector.wait_for_ends()
    [start] = collector.of("interception_start")
    assert (start.client, start.client_session_id) == ("GitHub Copilot (VS Code)", "5b0c2f7e-3e58-4c0f-9d0e-6a1f3b2c4d5e")


def test_gateway_token_alone_is_refused_and_never_sent_upstream(gateway, token, upstream, collector):
    # Without the governance header the only credential is the gateway token: it must not become the upstream's.
    response = post(gateway, "/chat/completions", {"model": "gpt-4.1", "messages": HELLO}, provider="copilot",
                    headers={"Authorization": f"Bearer {token}", **EDITOR_HEADERS})
    assert response.status_code == 401
    assert "X-Coder-AI-Governance-Token" in response.json()["error"]["message"]
    assert upstream.requests == [] and collector.records == []


def test_unknown_or_missing_governance_token_is_401(gateway, upstream, collector):
    for headers in ({"Authorization": f"Bearer {GITHUB_TOKEN}"},
                    {"Authorization": f"Bearer {GITHUB_TOKEN}", "X-Coder-AI-Governance-Token": "aib_nope_nope"}):
        response = post(gateway, "/chat/completions", {"model": "gpt-4.1", "messages": HELLO}, provider="copilot",
                        headers=headers)
        assert response.status_code == 401
        assert response.json()["error"]["type"] == "authentication_error"
    assert upstream.requests == []


def test_upstream_rejection_of_the_users_token_is_relayed(copilot, upstream, collector):
    upstream.queue("openai/error_400", status=401)
    with pytest.raises(openai.AuthenticationError) as raised:
        copilot.chat.completions.create(model="gpt-4.1", messages=HELLO)
    assert raised.value.response.content == fixture_body("openai/error_400")
    assert collector.wait_for_ends()[0].status == "failed"


def test_models_are_passed_through_with_the_users_token(copilot, token, upstream, collector):
    upstream.queue("openai/models_list")
    models = copilot.models.list()
    assert [m.id for m in models.data] == [m["id"] for m in fixture_json("openai/models_list")["data"]]
    [sent] = upstream.requests
    assert (sent.method, sent.path) == ("GET", "/models")
    assert_user_credentials_upstream(sent, token)
    assert collector.records == []


def test_unknown_copilot_route_is_404(gateway, token):
    response = requests.post(gateway.bridge_url("copilot") + "/completions", json={},
                             headers={"X-Coder-AI-Governance-Token": token}, timeout=10)
    assert response.status_code == 404
    assert "/completions" in response.json()["error"]["message"]
