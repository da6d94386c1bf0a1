"""Circuit breakers per provider instance, endpoint and model: open after failures, half-open probes, metrics.

Failures are upstream 429, 503, 504 and 529. While a breaker is open the
client gets 503 with Retry-After in its API's error shape and the upstream
is not asked. The gateway's ManualClock moves the breaker through its states.
"""

from __future__ import annotations

import json

import anthropic
import openai
import pytest
import requests
from support.fakeupstream import FakeUpstream, Response
from support.gateway import gateway_config
from prometheus_client.parser import text_string_to_metric_families
from support.resilience_support import resilient_gateway, upstream  # noqa: F401 (a fixture)

from aibridge.resilience.breaker import BreakerSettings, CircuitBreaker

MODEL = "claude-sonnet-4-6"
HELLO = [{"role": "user", "content": "Say hello."}]


def failure(status: int) -> Response:
    body = {"type": "error", "error": {"type": "overloaded_error", "message": f"upstream {status}"}}
    return Response(status, {"content-type": "application/json"}, json.dumps(body))


@pytest.fixture
def gw(tmp_path, upstream):
    config = gateway_config(tmp_path, upstream.url, circuit_breaker_enabled=True)
    with resilient_gateway(config) as running:
        yield running


def ask(gw, model: str = MODEL):
    client = anthropic.Anthropic(api_key=gw.token, base_url=gw.url("anthropic"), max_retries=0)
    return client.messages.create(model=model, max_tokens=64, messages=HELLO)


def fail_times(gw, upstream, count: int, status: int = 503, model: str = MODEL) -> None:
    for _ in range(count):
        upstream.queue(failure(status))
        with pytest.raises(anthropic.APIStatusError) as raised:
            ask(gw, model)
        assert raised.value.status_code == status  # the upstream's answer, as sent


def test_five_failures_open_the_breaker_and_the_next_requests_never_reach_the_upstream(gw, upstream):
    fail_times(gw, upstream, 5)
    with pytest.raises(anthropic.APIStatusError) as raised:
        ask(gw)
    assert raised.value.status_code == 503
    assert raised.value.response.headers["retry-after"] == "30"
    assert raised.value.body["type"] == "error" and raised.value.body["error"]["type"] == "api_error"
    assert "circuit breaker open" in raised.value.body["error"]["message"]
    assert len(upstream.requests) == 5
    ends = gw.records.wait_for_ends(6)
    assert ends[-1].error.kind == "circuit_open" and ends[-1].metadata["attempts"] == 0
    assert gw.events.of("breaker") == [("anthropic", "messages", MODEL, "open")]
    assert gw.events.of("reject") == [("anthropic", "messages", MODEL)]

    gw.clock.advance(12)
    with pytest.raises(anthropic.APIStatusError) as raised:
        ask(gw)
    assert raised.value.response.headers["retry-after"] == "18"


def test_after_the_timeout_max_requests_successful_probes_close_it(gw, upstream):
    fail_times(gw, upstream, 5)
    gw.clock.advance(30)
    for _ in range(3):
        upstream.queue("anthropic/blocking_text")
        assert ask(gw).content[0].text
    assert [event[-1] for event in gw.events.of("breaker")] == ["open", "half-open", "closed"]
    upstream.queue("anthropic/blocking_text")
    assert ask(gw).content[0].text


def test_a_failed_probe_opens_it_again(gw, upstream):
    fail_times(gw, upstream, 5)
    gw.clock.advance(30)
    fail_times(gw, upstream, 1, status=529)
    with pytest.raises(anthropic.APIStatusError) as raised:
        ask(gw)
    assert raised.value.response.headers["retry-after"] == "30"
    assert [event[-1] for event in gw.events.of("breaker")] == ["open", "half-open", "open"]


@pytest.mark.parametrize("status", [429, 503, 504, 529])
def test_these_answers_count_as_failures(gw, upstream, status):
    fail_times(gw, upstream, 5, status=status)
    with pytest.raises(anthropic.APIStatusError):
        ask(gw)
    assert len(upstream.requests) == 5


@pytest.mark.parametrize("status", [500, 502, 400, 401])
def test_other_answers_do_not(gw, upstream, status):
    fail_times(gw, upstream, 6, status=status)
    assert gw.events.of("breaker") == []


def test_a_success_starts_the_count_again(gw, upstream):
    fail_times(gw, upstream, 4)
    upstream.queue("anthropic/blocking_text")
    ask(gw)
    fail_times(gw, upstream, 4)
    assert gw.events.of("breaker") == []


def test_failures_further_apart_than_the_interval_start_the_count_again(gw, upstream):
    fail_times(gw, upstream, 4)
    gw.clock.advance(11)
    fail_times(gw, upstream, 4)
    assert gw.events.of("breaker") == []
    fail_times(gw, upstream, 1)
    assert gw.events.of("breaker") == [("anthropic", "messages", MODEL, "open")]


def test_each_model_and_endpoint_has_its_own_breaker(gw, upstream):
    fail_times(gw, upstream, 5)
    upstream.queue("anthropic/blocking_text")
    assert ask(gw, "claude-haiku-4-5").content[0].text  # another model: closed
    client = openai.OpenAI(api_key=gw.token, base_url=gw.url("openai") + "/v1", max_retries=0)
    for _ in range(5):
        upstream.queue(failure(503))
        with pytest.raises(openai.InternalServerError):
            client.chat.completions.create(model="gpt-4o", messages=HELLO)
    with pytest.raises(openai.InternalServerError) as raised:
        client.chat.completions.create(model="gpt-4o", messages=HELLO)
    assert raised.value.body["code"] == "circuit_breaker_open"  # OpenAI's error shape
    assert raised.value.response.headers["retry-after"] == "30"
    upstream.queue("openai/responses_blocking_text")
    assert client.responses.create(model="gpt-4o", input="Say hello.").output_text  # another endpoint: closed


def test_the_settings_come_from_the_options(tmp_path, upstream):
    config = gateway_config(tmp_path, upstream.url, circuit_breaker_enabled=True, circuit_breaker_failure_threshold=2,
                            circuit_breaker_timeout=5.0, circuit_breaker_max_requests=1)
    with resilient_gateway(config) as gw:
        fail_times(gw, upstream, 2)
        with pytest.raises(anthropic.APIStatusError) as raised:
            ask(gw)
        assert raised.value.response.headers["retry-after"] == "5"
        gw.clock.advance(5)
        upstream.queue("anthropic/blocking_text")
        ask(gw)  # one successful probe closes it
        assert [event[-1] for event in gw.events.of("breaker")] == ["open", "half-open", "closed"]


def test_breakers_are_off_by_default(tmp_path, upstream):
    with resilient_gateway(gateway_config(tmp_path, upstream.url)) as gw:
        fail_times(gw, upstream, 8)
        assert gw.events.of("breaker") == []


def test_half_open_lets_max_requests_probes_through_at_once():
    breaker = CircuitBreaker(BreakerSettings(failure_threshold=1, timeout=30, max_requests=3))
    breaker.failure(now=0)
    assert not breaker.allow(now=29.9)
    assert [breaker.allow(now=30) for _ in range(4)] == [True, True, True, False]
    breaker.no_verdict()  # a probe that was never sent frees its place
    assert breaker.allow(now=30) and not breaker.allow(now=30)
    for _ in range(3):
        breaker.success(now=31)
    assert breaker.state == "closed" and breaker.allow(now=31)


def test_the_metrics_show_breakers_keys_and_instances(tmp_path, upstream):
    from aibridge.config import ProviderConfig

    keys = ("sk-ant-api03-first-" + "x" * 40, "sk-ant-api03-second-" + "x" * 40)
    providers = (ProviderConfig(type="anthropic", name="anthropic", base_url=upstream.url, keys=keys),
                 ProviderConfig(type="anthropic", name="backup", base_url=upstream.url, keys=keys[:1]))
    config = gateway_config(tmp_path, upstream.url, providers=providers, circuit_breaker_enabled=True,
                            prometheus_enable=True, prometheus_address="127.0.0.1:0")
    with resilient_gateway(config) as gw:
        upstream.queue("anthropic/error_400_invalid_request", status=401)  # the first key: retired
        fail_times(gw, upstream, 5)
        with pytest.raises(anthropic.APIStatusError):
            ask(gw)  # rejected
        gw.records.wait_for_ends(6)
        url = gw.gateway.app.extensions["aibridge.metrics"].listener.url
        text = requests.get(url, timeout=10).text
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for family in text_string_to_metric_families(text) for s in family.samples}
    breaker = (("endpoint", "messages"), ("model", MODEL), ("provider", "anthropic"))
    assert samples[("coder_aibridged_circuit_breaker_state", breaker)] == 2
    assert samples[("coder_aibridged_circuit_breaker_trips_total", breaker)] == 1
    assert samples[("coder_aibridged_circuit_breaker_rejects_total", breaker)] == 1
    assert samples[("coder_aibridged_key_pool_state", (("provider", "anthropic"), ("state", "permanent")))] == 1
    assert samples[("coder_aibridged_key_pool_state", (("provider", "anthropic"), ("state", "valid")))] == 1
    assert samples[("coder_aibridged_key_pool_state_transitions_total",
                    (("provider", "anthropic"), ("reason", "unauthorized")))] == 1
    assert samples[("coder_aibridged_key_pool_failover_attempts_count", (("provider", "anthropic"),))] == 6
    assert samples[("coder_aibridged_key_pool_failover_attempts_sum", (("provider", "anthropic"),))] == 1
    info = {dict(labels)["provider"]: dict(labels) for (name, labels), _ in samples.items()
            if name == "coder_aibridged_provider_info"}
    assert info["anthropic"]["keys"] == "2" and info["backup"]["keys"] == "1"
    assert info["anthropic"]["circuit_breakers"] == "true" and info["anthropic"]["type"] == "anthropic"
