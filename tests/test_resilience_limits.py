"""Per-process limits: --aibridge-rate-limit (429 with Retry-After) and --aibridge-max-concurrency (503).

Refused requests never reach the upstream, get an error in their API's
shape, and are recorded as interceptions that ended failed with their kind.
"""

from __future__ import annotations

import anthropic
import openai
import pytest
import requests
from support.fakeupstream import FakeUpstream
from support.gateway import gateway_config
from support.resilience_support import resilient_gateway, upstream  # noqa: F401 (a fixture)

from aibridge.resilience.limits import Limits

HELLO = [{"role": "user", "content": "Say hello."}]


def openai_client(gw) -> openai.OpenAI:
    return openai.OpenAI(api_key=gw.token, base_url=gw.url("openai") + "/v1", max_retries=0)


def test_past_the_rate_limit_requests_get_429_with_retry_after(tmp_path, upstream):
    with resilient_gateway(gateway_config(tmp_path, upstream.url, rate_limit=2)) as gw:
        client = openai_client(gw)
        for _ in range(3):
            upstream.queue("openai/chat_blocking_text")
        client.chat.completions.create(model="gpt-4o", messages=HELLO)
        client.chat.completions.create(model="gpt-4o", messages=HELLO)
        with pytest.raises(openai.RateLimitError) as raised:
            client.chat.completions.create(model="gpt-4o", messages=HELLO)
        assert raised.value.response.headers["retry-after"] == "1"
        assert raised.value.body["code"] == "rate_limit_exceeded"
        assert "--aibridge-rate-limit" in raised.value.body["message"]
        assert len(upstream.requests) == 2
        refused = gw.records.wait_for_ends(3)[-1]
        assert (refused.status, refused.error.kind, refused.model) == ("failed", "rate_limited", "gpt-4o")
        assert "attempts" not in refused.metadata  # never sent upstream
        assert [p.prompt for p in gw.records.of("prompt_usage")][-1] == "Say hello."  # who asked what is kept

        gw.clock.advance(0.5)  # one token back
        client.chat.completions.create(model="gpt-4o", messages=HELLO)
        assert len(upstream.requests) == 3


def test_the_rate_limit_answers_in_anthropics_shape_too(tmp_path, upstream):
    with resilient_gateway(gateway_config(tmp_path, upstream.url, rate_limit=1)) as gw:
        client = anthropic.Anthropic(api_key=gw.token, base_url=gw.url("anthropic"), max_retries=0)
        upstream.queue("anthropic/blocking_text")
        client.messages.create(model="claude-sonnet-4-6", max_tokens=64, messages=HELLO)
        with pytest.raises(anthropic.RateLimitError) as raised:
            client.messages.create(model="claude-sonnet-4-6", max_tokens=64, messages=HELLO)
        assert raised.value.body["type"] == "error" and raised.value.body["error"]["type"] == "rate_limit_error"


def test_past_max_concurrency_requests_get_503_until_one_ends(tmp_path, upstream):
    from aibridge.config import ProviderConfig

    with FakeUpstream() as stalling:
        providers = (ProviderConfig(type="anthropic", name="anthropic", base_url=stalling.url, keys=("sk-ant-a",)),
                     ProviderConfig(type="openai", name="openai", base_url=upstream.url + "/v1", keys=("sk-b",)))
        config = gateway_config(tmp_path, upstream.url, providers=providers, max_concurrency=1)
        with resilient_gateway(config) as gw:
            stalling.queue("anthropic/stream_text", stall_after=2)  # this stream stays in flight
            held = requests.post(gw.url("anthropic") + "/v1/messages", stream=True, timeout=30,
                                 headers={"x-api-key": gw.token, "content-type": "application/json"},
                                 json={"model": "claude-sonnet-4-6", "max_tokens": 64, "stream": True,
                                       "messages": HELLO})
            assert held.status_code == 200
            body = held.iter_content(1)  # kept until the end: dropping it would close the connection
            next(body)  # the stream began
            client = openai_client(gw)
            with pytest.raises(openai.InternalServerError) as raised:
                client.chat.completions.create(model="gpt-4o", messages=HELLO)
            assert raised.value.status_code == 503
            assert raised.value.body["code"] == "concurrency_limit_exceeded"
            assert "--aibridge-max-concurrency" in raised.value.body["message"]
            assert upstream.requests == []
            assert gw.records.wait_for_ends(1)[0].error.kind == "concurrency_limited"

            stalling.stop()  # the stream breaks off: its interception ends and frees its place
            gw.records.wait_for_ends(2)
            held.close()
            upstream.queue("openai/chat_blocking_text")
            assert client.chat.completions.create(model="gpt-4o", messages=HELLO).choices


def test_limits_of_zero_cost_nothing():
    limits = Limits(0, 0)
    assert limits.admit(now=0) == (None, None)


def test_a_reload_changes_the_limits_without_losing_the_requests_in_flight():
    limits = Limits(max_concurrency=2)
    _, release_first = limits.admit(now=0)
    _, release_second = limits.admit(now=0)
    assert limits.admit(now=0)[0].kind == "concurrency_limited"
    limits.configure(max_concurrency=3, rate_limit=0)
    refusal, release_third = limits.admit(now=0)
    assert refusal is None and limits.in_flight == 3
    for release in (release_first, release_second, release_third):
        release()
    assert limits.in_flight == 0


def test_the_rate_limit_refills_at_its_rate():
    limits = Limits(rate_limit=4)
    assert [limits.admit(now=10)[0] is None for _ in range(5)] == [True] * 4 + [False]
    assert limits.admit(now=10.1)[0].retry_after == 1  # 0.15 s to the next token: rounded up
    assert limits.admit(now=10.25)[0] is None
