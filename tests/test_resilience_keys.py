"""Key pools: an instance's keys fail over on 429 / 401 / 403, rest while cooling down, and are masked in records.

A KeyedUpstream answers per key and per call; the gateway's ManualClock
makes cooldowns pass without waiting. Clients are the official SDKs with
their own retries off.
"""

from __future__ import annotations

import threading
import time

import anthropic
import openai
import pytest
import requests
from support.fakebedrock import REGION, FakeBedrock, invoke_answer
from support.gateway import gateway_config
from support.resilience_support import KeyedUpstream, resilient_gateway, upstream  # noqa: F401 (a fixture)

from aibridge.config import BedrockConfig, ProviderConfig
from aibridge.resilience.keypool import mask

MODEL = "claude-sonnet-4-6"
HELLO = [{"role": "user", "content": "Say hello."}]
K1, K2, K3 = (f"sk-ant-api03-{name}-{'x' * 40}-{n}" for n, name in enumerate(("first", "second", "third"), 1))
O1, O2 = (f"sk-proj-{name}-{'y' * 40}" for name in ("first", "second"))
NO_RETRY_AFTER = {"retry-after": None}


def pool_config(tmp_path, upstream, **overrides):
    providers = (
        ProviderConfig(type="anthropic", name="anthropic", base_url=upstream.url, keys=(K1, K2, K3)),
        ProviderConfig(type="openai", name="openai", base_url=upstream.url + "/v1", keys=(O1, O2)),
    )
    return gateway_config(tmp_path, upstream.url, providers=providers, **overrides)


@pytest.fixture
def gw(tmp_path, upstream):
    with resilient_gateway(pool_config(tmp_path, upstream, max_retries=0)) as running:
        yield running


def ask(gw, name: str = "anthropic"):
    client = anthropic.Anthropic(api_key=gw.token, base_url=gw.url(name), max_retries=0)
    return client.messages.create(model=MODEL, max_tokens=64, messages=HELLO)


def ask_openai(gw):
    client = openai.OpenAI(api_key=gw.token, base_url=gw.url("openai") + "/v1", max_retries=0)
    return client.chat.completions.create(model="gpt-4o", messages=HELLO)


def answer_times(upstream, fixture: str, count: int) -> None:
    for _ in range(count):
        upstream.queue(fixture)


def test_a_rate_limited_key_fails_over_and_rests_for_its_retry_after(gw, upstream):
    upstream.script(K1, "anthropic/error_429_rate_limit")  # retry-after: 17
    answer_times(upstream, "anthropic/blocking_text", 8)
    assert ask(gw).content[0].text
    assert upstream.keys_used() == [K1, K2]
    [end] = gw.records.wait_for_ends()
    assert (end.status, end.credential_kind, end.credential_hint) == ("completed", "centralized", mask(K2))
    assert end.metadata == {"attempts": 2, "key_failovers": 1}
    assert gw.events.of("key") == [("anthropic", mask(K1), "temporary", "rate_limited")]

    for _ in range(4):
        ask(gw)
    assert K1 not in upstream.keys_used()[2:]  # resting: the others take turns
    gw.clock.advance(17)
    for _ in range(3):
        ask(gw)
    assert K1 in upstream.keys_used()[6:]
    assert gw.events.of("key")[-1] == ("anthropic", mask(K1), "valid", "cooled_down")


def test_a_429_without_retry_after_rests_the_key_60_seconds(gw, upstream):
    upstream.script(O1, ("openai/error_429", {"headers": NO_RETRY_AFTER}))
    answer_times(upstream, "openai/chat_blocking_text", 5)
    assert ask_openai(gw).choices[0].message.content
    gw.clock.advance(59)
    ask_openai(gw)
    ask_openai(gw)
    assert upstream.keys_used() == [O1, O2, O2, O2]
    gw.clock.advance(1)
    ask_openai(gw)
    assert upstream.keys_used()[-1] == O1


def test_401_and_403_retire_keys_until_restart(gw, upstream):
    upstream.script(K1, ("anthropic/error_400_invalid_request", {"status": 401}))
    upstream.script(K2, ("anthropic/error_400_invalid_request", {"status": 403}))
    answer_times(upstream, "anthropic/blocking_text", 4)
    assert ask(gw).content[0].text
    assert upstream.keys_used() == [K1, K2, K3]
    assert gw.events.of("key") == [("anthropic", mask(K1), "permanent", "unauthorized"),
                                   ("anthropic", mask(K2), "permanent", "forbidden")]
    [end] = gw.records.wait_for_ends()
    assert (end.credential_hint, end.metadata["key_failovers"]) == (mask(K3), 2)
    gw.clock.advance(24 * 3600)
    for _ in range(3):
        ask(gw)
    assert upstream.keys_used()[3:] == [K3, K3, K3]


def test_every_key_cooling_down_answers_429_with_the_shortest_retry_after(gw, upstream):
    upstream.script(K1, ("anthropic/error_429_rate_limit", {"headers": {"retry-after": "30"}}))
    upstream.script(K2, ("anthropic/error_429_rate_limit", {"headers": {"retry-after": "10"}}))
    upstream.script(K3, ("anthropic/error_429_rate_limit", {"headers": {"retry-after": "20"}}))
    with pytest.raises(anthropic.RateLimitError) as raised:
        ask(gw)
    assert raised.value.response.headers["retry-after"] == "10"
    assert raised.value.body == {"type": "error", "error": {
        "type": "rate_limit_error", "message": "every key of provider anthropic is rate-limited; retry after 10 s"}}
    assert upstream.keys_used() == [K1, K2, K3]
    [end] = gw.records.wait_for_ends()
    assert (end.status, end.error.kind) == ("failed", "key_pool_exhausted")
    assert gw.events.of("exhausted") == [("anthropic", "rate_limited")]

    gw.clock.advance(4)
    with pytest.raises(anthropic.RateLimitError) as raised:
        ask(gw)  # answered by the gateway: no key may be sent yet
    assert raised.value.response.headers["retry-after"] == "6"
    assert len(upstream.requests) == 3
    gw.clock.advance(6)
    upstream.queue("anthropic/blocking_text")
    assert ask(gw).content[0].text
    assert upstream.keys_used()[-1] == K2


def test_with_retries_left_a_request_waits_for_the_first_key_back(tmp_path, upstream):
    with resilient_gateway(pool_config(tmp_path, upstream, max_retries=2)) as gw:
        upstream.script(O1, ("openai/error_429", {"headers": {"retry-after": "5"}}))
        upstream.script(O2, ("openai/error_429", {"headers": {"retry-after": "3"}}))
        upstream.queue("openai/chat_blocking_text")
        assert ask_openai(gw).choices[0].message.content
        assert gw.clock.sleeps == [3]
        assert upstream.keys_used() == [O1, O2, O2]
        assert gw.records.wait_for_ends()[0].metadata == {"attempts": 3, "key_failovers": 1}  # O2 was sent twice


def test_every_key_refused_answers_502_and_stops_asking(gw, upstream):
    upstream.script(O1, ("openai/error_400", {"status": 401}))
    upstream.script(O2, ("openai/error_400", {"status": 403}))
    for _ in range(2):
        with pytest.raises(openai.APIStatusError) as raised:
            ask_openai(gw)
        assert raised.value.status_code == 502
        assert raised.value.body["message"] == "every key of provider openai was refused"
        assert raised.value.body["code"] == "key_pool_exhausted"
        assert "retry-after" not in raised.value.response.headers
    assert upstream.keys_used() == [O1, O2]  # the second request never went upstream
    assert gw.events.of("exhausted") == [("openai", "auth_failed"), ("openai", "auth_failed")]
    assert {end.error.kind for end in gw.records.wait_for_ends(2)} == {"key_pool_exhausted"}


def test_a_5xx_does_not_blame_the_key(tmp_path, upstream):
    with resilient_gateway(pool_config(tmp_path, upstream, max_retries=1)) as gw:
        upstream.script(K1, ("anthropic/error_400_invalid_request", {"status": 503}), "anthropic/blocking_text")
        assert ask(gw).content[0].text
        assert upstream.keys_used() == [K1, K1]
        assert gw.events.of("key") == []


def test_requests_refused_on_one_key_at_once_change_it_once(tmp_path, upstream):
    with resilient_gateway(pool_config(tmp_path, upstream, max_retries=0)) as gw:
        refused = ("openai/error_429", {"headers": {"retry-after": "30"}})
        upstream.script(O1, refused, refused)
        upstream.gate(O1, 2)  # both requests on O1 are in flight when it answers 429 to each
        answer_times(upstream, "openai/chat_blocking_text", 3)
        answers = []

        def ask_in_background():
            thread = threading.Thread(target=lambda: answers.append(ask_openai(gw)))
            thread.start()
            return thread

        first = ask_in_background()  # picks O1, held at the gate
        upstream.wait_for_requests(1)
        assert ask_openai(gw).choices  # picks O2
        second = ask_in_background()  # picks O1: the gate opens, both get 429 together
        first.join(10), second.join(10)
        assert len(answers) == 2
        assert sorted(upstream.keys_used()) == [O1, O1, O2, O2, O2]
        assert gw.events.of("key") == [("openai", mask(O1), "temporary", "rate_limited")]
        assert all(end.credential_hint == mask(O2) for end in gw.records.wait_for_ends(3))

        # While O1 rests, concurrent requests all go to O2; once it rested, it comes back once.
        answer_times(upstream, "openai/chat_blocking_text", 12)
        threads = [ask_in_background() for _ in range(6)]
        for thread in threads:
            thread.join(10)
        assert upstream.keys_used()[5:] == [O2] * 6
        gw.clock.advance(30)
        threads = [ask_in_background() for _ in range(6)]
        for thread in threads:
            thread.join(10)
        assert len(answers) == 14
        assert O1 in upstream.keys_used()[11:]
        assert gw.events.of("key")[1:] == [("openai", mask(O1), "valid", "cooled_down")]


def test_a_single_key_is_never_marked_and_its_refusals_reach_the_client(tmp_path, upstream):
    single = (ProviderConfig(type="anthropic", name="anthropic", base_url=upstream.url, keys=(K1,)),)
    with resilient_gateway(gateway_config(tmp_path, upstream.url, providers=single)) as gw:
        upstream.script(K1, ("anthropic/error_400_invalid_request", {"status": 401}), "anthropic/blocking_text")
        with pytest.raises(anthropic.AuthenticationError):
            ask(gw)
        assert ask(gw).content[0].text  # nothing to fail over to: the key is tried again
        assert gw.events.of("key") == []


def test_bedrock_key_pairs_form_the_pool(tmp_path):
    revoked, working = ("AKIAREVOKEDKEY000001", "revoked-secret"), ("AKIAWORKINGKEY000002", "working-secret")
    with FakeBedrock(credentials=dict([working])) as bedrock:
        settings = BedrockConfig(region=REGION, base_url=bedrock.url, access_keys=(revoked[0], working[0]),
                                 access_key_secrets=(revoked[1], working[1]), model="us.anthropic.claude-sonnet-4-5-v1:0",
                                 small_fast_model="us.anthropic.claude-haiku-4-5-v1:0")
        provider = ProviderConfig(type="anthropic", name="anthropic", base_url=bedrock.url, bedrock=settings)
        with resilient_gateway(gateway_config(tmp_path, bedrock.url, providers=(provider,))) as gw:
            for _ in range(3):
                bedrock.queue(invoke_answer("anthropic/blocking_text"))
            assert ask(gw).content[0].text
            assert ask(gw).content[0].text
            assert len(bedrock.refusals) == 1  # the revoked pair, once: it is never used again
            assert gw.events.of("key") == [("anthropic", mask(revoked[0]), "permanent", "forbidden")]
            assert [end.credential_hint for end in gw.records.wait_for_ends(2)] == [mask(working[0])] * 2


def test_byok_requests_go_with_the_clients_key_and_record_its_hint(tmp_path, upstream):
    own_key = "sk-ant-api03-my-own-key-" + "z" * 40
    with resilient_gateway(pool_config(tmp_path, upstream, allow_byok=True)) as gw:
        upstream.script(own_key, ("anthropic/error_400_invalid_request", {"status": 401}))
        client = anthropic.Anthropic(api_key=own_key, base_url=gw.url("anthropic"), max_retries=0,
                                     default_headers={"X-Coder-AI-Governance-Token": gw.token})
        with pytest.raises(anthropic.AuthenticationError):
            client.messages.create(model=MODEL, max_tokens=64, messages=HELLO)  # the client's key: relayed as sent
        upstream.queue("anthropic/blocking_text")
        assert client.messages.create(model=MODEL, max_tokens=64, messages=HELLO).content[0].text
        assert upstream.keys_used() == [own_key, own_key]
        ends = gw.records.wait_for_ends(2)
        assert {(end.credential_kind, end.credential_hint) for end in ends} == {("byok", mask(own_key))}
        assert gw.events.of("key") == []


def test_the_audit_api_shows_the_kind_and_masked_key_never_the_key(gw, upstream):
    upstream.script(K1, ("anthropic/error_400_invalid_request", {"status": 401}))
    upstream.queue("anthropic/blocking_text")
    ask(gw)
    url = gw.gateway.url + "/api/v2/aibridge/interceptions"
    deadline = time.monotonic() + 10
    while True:
        answer = requests.get(url, headers={"Authorization": f"Bearer {gw.token}"}, timeout=10)
        results = answer.json()["results"]
        if results and results[0]["ended_at"] or time.monotonic() > deadline:
            break
        time.sleep(0.02)
    [interception] = results
    assert (interception["credential_kind"], interception["credential_hint"]) == ("centralized", mask(K2))
    assert interception["metadata"] == {"attempts": 2, "key_failovers": 1}
    assert K1 not in answer.text and K2 not in answer.text


@pytest.mark.parametrize("length", [0, 1, 7, 8, 15, 16, 20, 31, 32, 40, 64, 164])
def test_a_masked_key_shows_at_most_4_and_4_characters_and_never_over_a_quarter(length):
    key = "".join(chr(ord("a") + i % 26) for i in range(length))
    hint = mask(key)
    start, _, end = hint.partition("...")
    assert len(start) == len(end) <= 4
    assert len(start) + len(end) <= length / 4
    assert key.startswith(start) and key.endswith(end)
