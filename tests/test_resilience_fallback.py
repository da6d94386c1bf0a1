"""Provider fallback: while an instance's breaker is open or its keys are exhausted, its FALLBACK answers.

The interception records the instance that answered (and, in metadata, the
one it fell back from); MODEL_MAP renames the model for an instance, e.g. a
Bedrock fallback of an Anthropic instance. Fallbacks are checked at startup.
"""

from __future__ import annotations

import json
import subprocess

import anthropic
import openai
import pytest
from support.fakebedrock import ACCESS_KEY, REGION, SECRET_KEY, FakeBedrock, invocation, stream_answer
from support.fakeupstream import Response
from support.gateway import gateway_config
from support.resilience_support import resilient_gateway, upstream  # noqa: F401 (a fixture)

from aibridge.config import BedrockConfig, ConfigError, ProviderConfig
from aibridge.config.loader import load_config

MODEL = "claude-sonnet-4-6"
BEDROCK_MODEL = "us.anthropic.claude-sonnet-4-6"
HELLO = [{"role": "user", "content": "Say hello."}]
P = "CODER_AIBRIDGE_PROVIDER_"


def overloaded() -> Response:
    body = {"type": "error", "error": {"type": "api_error", "message": "unavailable"}}
    return Response(503, {"content-type": "application/json"}, json.dumps(body))


@pytest.fixture
def bedrock():
    with FakeBedrock() as fake:
        yield fake


def anthropic_then_bedrock(tmp_path, upstream, bedrock, **overrides):
    settings = BedrockConfig(region=REGION, base_url=bedrock.url, access_keys=(ACCESS_KEY,),
                             access_key_secrets=(SECRET_KEY,), model="us.anthropic.claude-opus-4-1-v1:0",
                             small_fast_model="us.anthropic.claude-haiku-4-5-v1:0")
    providers = (
        ProviderConfig(type="anthropic", name="anthropic", base_url=upstream.url, keys=("sk-ant-primary-key",),
                       fallback="bedrock"),
        ProviderConfig(type="anthropic", name="bedrock", base_url=bedrock.url, bedrock=settings,
                       model_map=((MODEL, BEDROCK_MODEL),)),
    )
    settings = {"circuit_breaker_enabled": True, "circuit_breaker_failure_threshold": 2, **overrides}
    return gateway_config(tmp_path, upstream.url, providers=providers, **settings)


def anthropic_client(gw):
    return anthropic.Anthropic(api_key=gw.token, base_url=gw.url("anthropic"), max_retries=0)


def test_while_the_breaker_is_open_the_bedrock_fallback_answers_with_the_mapped_model(tmp_path, upstream, bedrock):
    with resilient_gateway(anthropic_then_bedrock(tmp_path, upstream, bedrock)) as gw:
        client = anthropic_client(gw)
        for _ in range(2):
            upstream.queue(overloaded())
            with pytest.raises(anthropic.InternalServerError):
                client.messages.create(model=MODEL, max_tokens=64, messages=HELLO)
        bedrock.queue(stream_answer("anthropic/stream_text"))
        with client.messages.stream(model=MODEL, max_tokens=64, messages=HELLO) as stream:
            assert stream.get_final_text()
        assert len(upstream.requests) == 2  # the open breaker kept the third request away
        [(model_id, action, _)] = bedrock.invocations()
        assert (model_id, action) == (BEDROCK_MODEL, "invoke-with-response-stream")
        end = gw.records.wait_for_ends(3)[-1]
        assert (end.status, end.provider, end.provider_name, end.model) == ("completed", "anthropic", "bedrock",
                                                                            BEDROCK_MODEL)
        assert end.metadata == {"attempts": 1, "fallback_from": "anthropic"}
        assert end.credential_hint == "AK...LE"
        assert gw.events.of("reject") == [("anthropic", "messages", MODEL)]
        # The records of the answer already name the instance that answered.
        assert {usage.interception_id for usage in gw.records.of("token_usage")} == {end.interception_id}


def test_a_breaker_that_opens_during_the_retries_sends_the_request_to_the_fallback(tmp_path, upstream, bedrock):
    config = anthropic_then_bedrock(tmp_path, upstream, bedrock, max_retries=2, circuit_breaker_failure_threshold=1)
    with resilient_gateway(config) as gw:
        upstream.queue(overloaded())
        bedrock.queue(stream_answer("anthropic/stream_text"))
        with anthropic_client(gw).messages.stream(model=MODEL, max_tokens=64, messages=HELLO) as stream:
            assert stream.get_final_text()
        assert len(upstream.requests) == 1 and len(bedrock.requests) == 1
        [end] = gw.records.wait_for_ends()
        assert (end.provider_name, end.metadata) == ("bedrock", {"attempts": 2, "fallback_from": "anthropic"})


def test_without_a_fallback_a_breaker_opened_during_the_retries_relays_the_last_answer(tmp_path, upstream):
    config = gateway_config(tmp_path, upstream.url, max_retries=2, circuit_breaker_enabled=True,
                            circuit_breaker_failure_threshold=1)
    with resilient_gateway(config) as gw:
        upstream.queue(overloaded())
        with pytest.raises(anthropic.InternalServerError) as raised:
            anthropic_client(gw).messages.create(model=MODEL, max_tokens=64, messages=HELLO)
        assert raised.value.body["error"]["message"] == "unavailable"  # the upstream's own answer
        assert len(upstream.requests) == 1


def test_when_every_key_is_refused_the_fallback_answers_with_its_model_map(tmp_path, upstream):
    providers = (
        ProviderConfig(type="openai", name="openai", base_url=upstream.url + "/v1", keys=("sk-one", "sk-two"),
                       fallback="azure"),
        ProviderConfig(type="openai", name="azure", base_url=upstream.url + "/azure/v1", keys=("sk-azure",),
                       model_map=(("gpt-4o", "gpt-4o-2024-08-06"),)),
    )
    with resilient_gateway(gateway_config(tmp_path, upstream.url, providers=providers)) as gw:
        upstream.script("sk-one", ("openai/error_400", {"status": 401}))
        upstream.script("sk-two", ("openai/error_400", {"status": 401}))
        upstream.queue("openai/chat_blocking_text")
        client = openai.OpenAI(api_key=gw.token, base_url=gw.url("openai") + "/v1", max_retries=0)
        assert client.chat.completions.create(model="gpt-4o", messages=HELLO).choices
        sent = upstream.requests[-1]
        assert (sent.path, upstream.keys_used()) == ("/azure/v1/chat/completions", ["sk-one", "sk-two", "sk-azure"])
        assert sent.json()["model"] == "gpt-4o-2024-08-06" and sent.json()["messages"] == HELLO
        [end] = gw.records.wait_for_ends()
        assert (end.provider_name, end.model, end.credential_hint) == ("azure", "gpt-4o-2024-08-06", "s...e")
        assert end.metadata == {"attempts": 3, "key_failovers": 1, "fallback_from": "openai"}

        # Every later request goes straight to the fallback: the upstream's keys are retired.
        upstream.queue("openai/chat_blocking_text")
        client.chat.completions.create(model="gpt-4o", messages=HELLO)
        assert upstream.keys_used()[-1] == "sk-azure" and len(upstream.requests) == 4


def test_fallbacks_chain_until_one_can_answer(tmp_path, upstream):
    providers = (
        ProviderConfig(type="anthropic", name="a", base_url=upstream.url, keys=("sk-a1", "sk-a2"), fallback="b"),
        ProviderConfig(type="anthropic", name="b", base_url=upstream.url, keys=("sk-b1", "sk-b2"), fallback="c"),
        ProviderConfig(type="anthropic", name="c", base_url=upstream.url, keys=("sk-c",)),
    )
    with resilient_gateway(gateway_config(tmp_path, upstream.url, providers=providers)) as gw:
        for key in ("sk-a1", "sk-a2", "sk-b1", "sk-b2"):
            upstream.script(key, ("anthropic/error_429_rate_limit", {"headers": {"retry-after": "40"}}))
        upstream.queue("anthropic/blocking_text")
        client = anthropic.Anthropic(api_key=gw.token, base_url=gw.url("a"), max_retries=0)
        assert client.messages.create(model=MODEL, max_tokens=64, messages=HELLO).content
        [end] = gw.records.wait_for_ends()
        assert (end.provider_name, end.metadata["fallback_from"]) == ("c", "a")
        assert gw.events.of("exhausted") == [("a", "rate_limited"), ("b", "rate_limited")]


def test_when_the_fallback_cannot_answer_either_the_client_gets_the_first_refusal_with_the_soonest_wait(tmp_path, upstream):
    providers = (
        ProviderConfig(type="anthropic", name="a", base_url=upstream.url, keys=("sk-a1", "sk-a2"), fallback="b"),
        ProviderConfig(type="anthropic", name="b", base_url=upstream.url, keys=("sk-b1", "sk-b2")),
    )
    with resilient_gateway(gateway_config(tmp_path, upstream.url, providers=providers)) as gw:
        for key, wait in (("sk-a1", "40"), ("sk-a2", "50"), ("sk-b1", "25"), ("sk-b2", "30")):
            upstream.script(key, ("anthropic/error_429_rate_limit", {"headers": {"retry-after": wait}}))
        client = anthropic.Anthropic(api_key=gw.token, base_url=gw.url("a"), max_retries=0)
        with pytest.raises(anthropic.RateLimitError) as raised:
            client.messages.create(model=MODEL, max_tokens=64, messages=HELLO)
        assert raised.value.response.headers["retry-after"] == "25"
        assert "provider a" in raised.value.body["error"]["message"]
        assert gw.records.wait_for_ends()[0].error.kind == "key_pool_exhausted"


@pytest.mark.parametrize("environ, message", [
    ({P + "0_TYPE": "openai", P + "0_FALLBACK": "backup"},
     "CODER_AIBRIDGE_PROVIDER_0_FALLBACK: no provider named 'backup' (configured: openai)"),
    ({P + "0_TYPE": "openai", P + "0_FALLBACK": "anthropic", P + "1_TYPE": "anthropic"},
     "CODER_AIBRIDGE_PROVIDER_0_FALLBACK: 'anthropic' is a anthropic provider; the fallback of the openai provider "
     "'openai' must be a openai provider"),
    ({P + "0_TYPE": "openai", P + "0_FALLBACK": "openai"},
     "CODER_AIBRIDGE_PROVIDER_0_FALLBACK: the fallbacks form a cycle: openai -> openai"),
    ({P + "0_TYPE": "openai", P + "0_NAME": "a", P + "0_FALLBACK": "b",
      P + "1_TYPE": "openai", P + "1_NAME": "b", P + "1_FALLBACK": "c",
      P + "2_TYPE": "openai", P + "2_NAME": "c", P + "2_FALLBACK": "a"},
     "CODER_AIBRIDGE_PROVIDER_0_FALLBACK: the fallbacks form a cycle: a -> b -> c -> a"),
    ({P + "0_TYPE": "openai", P + "0_MODEL_MAP": "gpt-4o"},
     "CODER_AIBRIDGE_PROVIDER_0_MODEL_MAP: expected client-model=instance-model pairs, comma separated, got gpt-4o=''"),
])
def test_a_bad_fallback_or_model_map_is_a_startup_error(clean_environ, environ, message):
    with pytest.raises(ConfigError) as raised:
        load_config({}, {**clean_environ, **environ})
    assert str(raised.value) == message


def test_fallback_and_model_map_from_the_environment_and_yaml(clean_environ, tmp_path):
    environ = {**clean_environ, P + "0_TYPE": "anthropic", P + "0_FALLBACK": "bedrock",
               P + "1_TYPE": "anthropic", P + "1_NAME": "bedrock", P + "1_BEDROCK_REGION": "us-east-1",
               P + "1_BEDROCK_MODEL": "m", P + "1_BEDROCK_SMALL_FAST_MODEL": "s",
               P + "1_MODEL_MAP": f"{MODEL}={BEDROCK_MODEL}, claude-haiku-4-5 = us.anthropic.claude-haiku-4-5-v1:0"}
    first, second = load_config({}, environ).providers
    assert (first.fallback, second.model_map) == ("bedrock", ((MODEL, BEDROCK_MODEL),
                                                              ("claude-haiku-4-5", "us.anthropic.claude-haiku-4-5-v1:0")))
    config_file = tmp_path / "aibridge.yaml"
    config_file.write_text(f"""
aibridge:
  providers:
    - type: openai
      fallback: azure
    - type: openai
      name: azure
      model_map:
        gpt-4o: gpt-4o-2024-08-06
""")
    first, second = load_config({}, {**clean_environ, "CODER_CONFIG_PATH": str(config_file)}).providers
    assert (first.fallback, second.model_map) == ("azure", (("gpt-4o", "gpt-4o-2024-08-06"),))


def test_the_server_refuses_to_start_with_a_fallback_cycle(aibridge_script, process_environ, tmp_path):
    environ = {**process_environ, "CODER_AIBRIDGE_ENABLED": "true", P + "0_TYPE": "openai", P + "0_FALLBACK": "openai",
               "CODER_HTTP_ADDRESS": "127.0.0.1:0", "CODER_DATA_DIR": str(tmp_path)}
    done = subprocess.run([aibridge_script, "server"], env=environ, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr == ("aibridge: error: CODER_AIBRIDGE_PROVIDER_0_FALLBACK: the fallbacks form a cycle: "
                           "openai -> openai\n")
