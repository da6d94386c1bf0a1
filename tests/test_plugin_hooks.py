"""Plugins see every hook, and a failing plugin never reaches the client."""

from __future__ import annotations

import logging

import anthropic
import pytest
import requests
from support.anthropic_support import client  # noqa: F401
from flask import jsonify, request
from support.gateway import Gateway, gateway_config

import aibridge
from aibridge.plugins import make_plugin_manager
from aibridge.records import Actor

MODEL = "claude-sonnet-4-6"
WEATHER_TOOL = {"name": "get_weather", "description": "Weather", "input_schema": {"type": "object"}}


class EveryHook:
    """Implements every hook and notes which fired."""

    def __init__(self):
        self.fired: list[str] = []

    @aibridge.hookimpl
    def aibridge_startup(self, app, config):
        self.fired.append("aibridge_startup")

    @aibridge.hookimpl
    def aibridge_shutdown(self, app):
        self.fired.append("aibridge_shutdown")

    @aibridge.hookimpl
    def aibridge_routes(self, app, config):
        self.fired.append("aibridge_routes")

        @app.get("/api/v2/test/whoami")
        def whoami():
            actor = aibridge.authenticate(request)
            return (jsonify(username=actor.username), 200) if actor else (jsonify(error="no"), 401)

    @aibridge.hookimpl
    def aibridge_authenticate(self, request):
        self.fired.append("aibridge_authenticate")
        if request.headers.get("X-Test-Identity") == "sso-dave":
            return Actor(id="dave-id", username="dave")
        return None

    @aibridge.hookimpl
    def aibridge_tools(self, interception):
        self.fired.append("aibridge_tools")
        return []

    @aibridge.hookimpl
    def on_interception_start(self, interception):
        self.fired.append("on_interception_start")

    @aibridge.hookimpl
    def on_prompt_usage(self, interception, prompt):
        self.fired.append("on_prompt_usage")

    @aibridge.hookimpl
    def on_token_usage(self, interception, usage):
        self.fired.append("on_token_usage")

    @aibridge.hookimpl
    def on_tool_usage(self, interception, tool):
        self.fired.append("on_tool_usage")

    @aibridge.hookimpl
    def on_model_thought(self, interception, thought):
        self.fired.append("on_model_thought")

    @aibridge.hookimpl
    def on_interception_end(self, interception):
        self.fired.append("on_interception_end")


class Exploding:
    """Fails in every observer hook it implements."""

    @aibridge.hookimpl
    def on_interception_start(self, interception):
        raise RuntimeError("boom at start")

    @aibridge.hookimpl
    def on_token_usage(self, interception, usage):
        raise RuntimeError("boom at tokens")


@pytest.fixture
def every_hook(tmp_path, upstream):
    """A gateway whose plugin manager had EveryHook registered before the app was built."""
    plugin = EveryHook()
    pm = make_plugin_manager()
    pm.register(plugin, name="every-hook")
    upstream.reset()
    gw = Gateway(gateway_config(tmp_path, upstream.url), pm)
    yield gw, plugin
    gw.close()
    pm.unregister(plugin)


def test_every_hook_fires(every_hook, upstream):
    gw, plugin = every_hook
    client = anthropic.Anthropic(api_key=gw.create_token(), base_url=gw.bridge_url("anthropic"), max_retries=0)
    upstream.queue("anthropic/stream_thinking_tool_use")
    with client.messages.stream(
        model=MODEL, max_tokens=2048, tools=[WEATHER_TOOL], thinking={"type": "enabled", "budget_tokens": 1024},
        messages=[{"role": "user", "content": "Weather in Paris?"}],
    ) as stream:
        stream.get_final_message()

    whoami = requests.get(gw.url + "/api/v2/test/whoami", headers={"X-Test-Identity": "sso-dave"}, timeout=10)
    assert whoami.json() == {"username": "dave"}
    gw.close()
    expected = {
        "aibridge_startup", "aibridge_routes", "aibridge_authenticate", "aibridge_tools", "on_interception_start",
        "on_prompt_usage", "on_token_usage", "on_tool_usage", "on_model_thought", "on_interception_end",
        "aibridge_shutdown",
    }
    assert expected <= set(plugin.fired)
    assert plugin.fired.index("on_interception_start") < plugin.fired.index("on_interception_end")


def test_a_plugin_identity_source_is_asked_before_the_token_store(every_hook, upstream):
    gw, _ = every_hook
    upstream.queue("anthropic/blocking_text")
    response = requests.post(
        gw.bridge_url("anthropic") + "/v1/messages",
        json={"model": MODEL, "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]},
        headers={"X-Test-Identity": "sso-dave"}, timeout=10,
    )
    assert response.status_code == 200


@pytest.fixture
def exploding(gateway):
    """Exploding registered on the module's gateway for one test."""
    with gateway.registered(Exploding(), "exploding") as plugin:
        yield plugin


def test_a_failing_plugin_is_logged_and_isolated(exploding, client, upstream, collector, caplog):
    upstream.queue("anthropic/stream_text")
    with caplog.at_level(logging.ERROR, logger="aibridge.plugins"):
        with client.messages.stream(model=MODEL, max_tokens=64, messages=[{"role": "user", "content": "hi"}]) as s:
            text = "".join(s.text_stream)
        collector.wait_for_ends()
    assert text
    # The other plugins still saw every record.
    assert collector.of("interception_start") and collector.of("token_usage")
    failures = [r for r in caplog.records if "exploding" in r.getMessage()]
    assert {"on_interception_start", "on_token_usage"} <= {h for r in failures for h in r.getMessage().split()}
