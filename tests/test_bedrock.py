"""Anthropic Messages through an anthropic instance with Bedrock settings, against a fake Bedrock that checks SigV4."""

from __future__ import annotations

import dataclasses
import http.client
import json

import anthropic
import pytest
import requests
from support.bedrock_support import HAIKU, SONNET, bedrock, bedrock_provider  # noqa: F401 (bedrock: a fixture)
from support.fakebedrock import (
    ACCESS_KEY,
    REGION,
    SECRET_KEY,
    FakeBedrock,
    chunk_message,
    invoke_answer,
    sse_event_data,
    stream_answer,
)
from support.fakeupstream import load_fixture
from support.gateway import Gateway, RecordCollector, gateway_config, token_totals

from aibridge.config import BedrockConfig, ProviderConfig

CLIENT_MODEL = "claude-sonnet-4-6"
HELLO = [{"role": "user", "content": "Say hello."}]
WEATHER_TOOL = {
    "name": "get_weather",
    "description": "Current weather for a city",
    "input_schema": {"type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]},
}


@pytest.fixture(scope="module")
def direct(upstream):
    """The Anthropic API itself (conftest's fake upstream), to compare records with."""
    return upstream


@pytest.fixture(scope="module")
def gateway(tmp_path_factory, bedrock, direct):
    providers = (
        ProviderConfig(type="anthropic", name="anthropic", base_url=direct.url, keys=("sk-ant-upstream-key",)),
        bedrock_provider("bedrock", bedrock.url),
        bedrock_provider("bedrock-arn", bedrock.url,
                         model="arn:aws:bedrock:us-west-2:123456789012:application-inference-profile/a1b2c3d4e5f6"),
        bedrock_provider("bedrock-bad-secret", bedrock.url, access_key_secrets=("not-the-secret",)),
    )
    with Gateway(gateway_config(tmp_path_factory.mktemp("data"), direct.url, providers=providers)) as gw:
        yield gw


@pytest.fixture
def collector(gateway, bedrock, direct):
    bedrock.refusals.clear()
    with gateway.collecting(bedrock, direct) as plugin:
        yield plugin


@pytest.fixture
def client(gateway, token, collector):
    return anthropic.Anthropic(api_key=token, base_url=gateway.bridge_url("bedrock"), max_retries=0)


def raw_post(gateway, token, body: dict, provider="bedrock", headers=None, stream=True):
    return requests.post(
        gateway.bridge_url(provider) + "/v1/messages",
        data=json.dumps(body).encode(),
        headers={"x-api-key": token, "anthropic-version": "2023-06-01", "content-type": "application/json", **(headers or {})},
        stream=stream,
        timeout=10,
    )


def sse_data(body: bytes) -> list[bytes]:
    return [line[6:] for line in body.split(b"\n") if line.startswith(b"data: ")]


def fixture_json(name: str) -> list[dict]:
    return [json.loads(data) for data in sse_event_data(name)]


# -- the happy paths, through the official SDK ---------------------------------


def test_messages_stream_helper_gets_the_answer_and_the_records(client, bedrock, collector):
    bedrock.queue(stream_answer("anthropic/stream_thinking_tool_use"))
    with client.messages.stream(model=CLIENT_MODEL, max_tokens=2048, tools=[WEATHER_TOOL],
                                thinking={"type": "enabled", "budget_tokens": 1024},
                                messages=[{"role": "user", "content": "Weather in San Francisco, in Celsius?"}]) as stream:
        final = stream.get_final_message()

    assert [block.type for block in final.content] == ["thinking", "tool_use"]
    assert final.content[1].input == {"location": "San Francisco, CA", "unit": "celsius"}
    assert final.usage.output_tokens == 143
    assert bedrock.refusals == []

    [(model, action, body)] = bedrock.invocations()
    assert (model, action) == (SONNET, "invoke-with-response-stream")
    assert body["anthropic_version"] == "bedrock-2023-05-31"
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 1024} and body["tools"][0]["name"] == "get_weather"
    assert "model" not in body and "stream" not in body

    [end] = collector.wait_for_ends()
    [start] = collector.of("interception_start")
    assert (start.provider, start.provider_name, start.model, start.api, start.streaming) == (
        "anthropic", "bedrock", SONNET, "messages", True)
    assert (end.status, end.model) == ("completed", SONNET)
    [tool] = collector.of("tool_usage")
    assert (tool.tool, json.loads(tool.input), tool.msg_id) == ("get_weather", final.content[1].input, final.id)
    [thought] = collector.of("model_thought")
    assert thought.content == final.content[0].thinking
    [prompt] = collector.of("prompt_usage")
    assert (prompt.prompt, prompt.msg_id) == ("Weather in San Francisco, in Celsius?", final.id)
    assert token_totals(collector.of("token_usage"))["output_tokens"] == 143


def test_create_with_stream_true_yields_every_anthropic_event(client, bedrock, collector):
    bedrock.queue(stream_answer("anthropic/stream_text"))
    events = list(client.messages.create(model=CLIENT_MODEL, max_tokens=64, messages=HELLO, stream=True))

    assert [event.type for event in events] == [event["type"] for event in fixture_json("anthropic/stream_text")
                                                if event["type"] != "ping"]
    text = "".join(event.delta.text for event in events if event.type == "content_block_delta")
    assert text == "Hello! I'm Claude, an AI assistant made by Anthropic. How can I help you today?"
    [end] = collector.wait_for_ends()
    assert end.status == "completed"
    assert token_totals(collector.of("token_usage")) == {
        "input_tokens": 12, "output_tokens": 21, "cache_read_input_tokens": 0, "cache_write_input_tokens": 0}


def test_blocking_call_uses_invoke_and_returns_the_anthropic_message(client, bedrock, collector):
    bedrock.queue(invoke_answer("anthropic/blocking_thinking_tool_use"))
    message = client.messages.create(model=CLIENT_MODEL, max_tokens=2048, tools=[WEATHER_TOOL],
                                     messages=[{"role": "user", "content": "Weather in San Francisco?"}])

    expected = json.loads(load_fixture("anthropic/blocking_thinking_tool_use").body_bytes())
    assert message.id == expected["id"] and message.content[1].input == expected["content"][1]["input"]
    [(model, action, body)] = bedrock.invocations()
    assert (model, action) == (SONNET, "invoke")
    assert body["messages"] == [{"role": "user", "content": "Weather in San Francisco?"}]
    assert bedrock.requests[0].headers["Accept"] == "application/json"

    [end] = collector.wait_for_ends()
    assert (end.status, end.model, end.streaming) == ("completed", SONNET, False)
    [usage] = collector.of("token_usage")
    assert (usage.msg_id, usage.input_tokens, usage.output_tokens) == (expected["id"], 612, 143)
    assert [t.tool for t in collector.of("tool_usage")] == ["get_weather"]
    assert len(collector.of("model_thought")) == 1


@pytest.mark.parametrize("fixture", ["anthropic/stream_thinking_tool_use", "anthropic/stream_cache_tokens",
                                     "anthropic/stream_parallel_tool_use"])
def test_records_are_the_same_as_through_anthropic_directly(gateway, token, bedrock, direct, collector, fixture):
    bedrock.queue(stream_answer(fixture))
    direct.queue(fixture)
    body = {"model": CLIENT_MODEL, "max_tokens": 1024, "stream": True, "messages": HELLO}
    for provider in ("bedrock", "anthropic"):
        assert raw_post(gateway, token, body, provider=provider).content
        collector.wait_for_ends(1 if provider == "bedrock" else 2)

    def comparable(provider):
        [interception] = [r for r in collector.of("interception_start") if r.provider_name == provider]
        ignored = {"interception_id", "created_at", "cost_usd_nanos"}  # Bedrock's price is its own (test_cost.py)
        records = {}
        for kind in ("prompt_usage", "token_usage", "tool_usage", "model_thought"):
            records[kind] = [{k: v for k, v in r.as_dict().items() if k not in ignored}
                             for r in collector.of(kind) if r.interception_id == interception.interception_id]
        return interception.model, records

    bedrock_model, bedrock_records = comparable("bedrock")
    direct_model, direct_records = comparable("anthropic")
    assert (bedrock_model, direct_model) == (SONNET, CLIENT_MODEL)
    assert bedrock_records == direct_records
    assert bedrock_records["token_usage"]
    assert all(r.cost_usd_nanos for r in collector.of("token_usage"))  # both priced


# -- what the client receives, byte for byte --------------------------------------


def test_client_receives_each_chunk_as_an_anthropic_sse_event(gateway, token, bedrock, collector):
    bedrock.queue(stream_answer("anthropic/stream_text"))
    response = raw_post(gateway, token, {"model": CLIENT_MODEL, "max_tokens": 64, "stream": True, "messages": HELLO})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert "amz" not in response.headers["content-type"]
    body = response.content

    expected = sse_event_data("anthropic/stream_text")
    received = sse_data(body)
    assert received[:-1] == expected[:-1]  # the exact JSON bytes Bedrock carried, unchanged
    assert json.loads(received[-1])["type"] == "message_stop"  # plus Bedrock's invocation metrics
    names = [line[7:] for line in body.split(b"\n") if line.startswith(b"event: ")]
    assert names == [json.loads(data)["type"].encode() for data in received]
    assert body.endswith(b"\n\n") and body.count(b"\n\n") == len(received)
    collector.wait_for_ends()


@pytest.mark.parametrize("piece", [7, 100_000], ids=["split mid-message", "many messages at once"])
def test_events_survive_any_split_of_the_event_stream(gateway, token, bedrock, collector, piece):
    answer = stream_answer("anthropic/stream_thinking_tool_use")
    whole = answer.body_bytes()
    bedrock.queue(dataclasses.replace(answer, body=[whole[i:i + piece] for i in range(0, len(whole), piece)]))
    response = raw_post(gateway, token, {"model": CLIENT_MODEL, "max_tokens": 64, "stream": True, "messages": HELLO})
    assert sse_data(response.content)[:-1] == sse_event_data("anthropic/stream_thinking_tool_use")[:-1]
    [end] = collector.wait_for_ends()
    assert end.status == "completed"
    assert [t.tool for t in collector.of("tool_usage")] == ["get_weather"]


def test_each_event_is_relayed_before_the_rest_of_the_stream_arrives(gateway, token, bedrock, collector):
    bedrock.queue(stream_answer("anthropic/stream_text"), stall_after=2)
    response = raw_post(gateway, token, {"model": CLIENT_MODEL, "max_tokens": 64, "stream": True, "messages": HELLO})
    first, second = fixture_json("anthropic/stream_text")[:2]
    lines = response.iter_lines()
    seen = []
    while len(seen) < 2:
        line = next(lines)
        if line.startswith(b"data: "):
            seen.append(json.loads(line[6:]))
    assert seen == [first, second]  # while Bedrock is still holding back the third event
    response.close()


# -- the request Bedrock gets -------------------------------------------------------


def test_haiku_models_go_to_the_small_fast_model(client, bedrock, collector):
    bedrock.queue(stream_answer("anthropic/stream_haiku_text"))
    with client.messages.stream(model="claude-haiku-4-5-20251001", max_tokens=64, messages=HELLO) as stream:
        stream.until_done()
    [(model, action, _)] = bedrock.invocations()
    assert (model, action) == (HAIKU, "invoke-with-response-stream")
    assert bedrock.requests[0].path == "/model/us.anthropic.claude-haiku-4-5-20251001-v1%3A0/invoke-with-response-stream"
    [end] = collector.wait_for_ends()
    assert end.model == HAIKU


def test_anthropic_beta_headers_move_into_the_body_and_refused_fields_are_dropped(gateway, token, bedrock, collector):
    bedrock.queue(invoke_answer("anthropic/blocking_text"))
    body = {
        "model": CLIENT_MODEL, "max_tokens": 64, "messages": HELLO, "system": "Be brief.", "temperature": 0.2,
        "stream": False, "metadata": {"user_id": "user_1"}, "service_tier": "auto", "container": "container_1",
    }
    host, port = gateway.url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    connection.putrequest("POST", "/api/v2/aibridge/bedrock/v1/messages")
    for name, value in (("x-api-key", token), ("anthropic-version", "2023-06-01"), ("content-type", "application/json"),
                        ("anthropic-beta", "interleaved-thinking-2025-05-14"),
                        ("anthropic-beta", "context-1m-2025-08-07, fine-grained-tool-streaming-2025-05-14"),
                        ("content-length", str(len(json.dumps(body))))):
        connection.putheader(name, value)
    connection.endheaders(json.dumps(body).encode())
    response = connection.getresponse()
    assert response.status == 200, response.read()
    response.read()
    connection.close()

    [received] = bedrock.requests
    sent = received.json()
    assert sent == {
        "max_tokens": 64, "messages": HELLO, "system": "Be brief.", "temperature": 0.2,
        "anthropic_version": "bedrock-2023-05-31",
        "anthropic_beta": ["interleaved-thinking-2025-05-14", "context-1m-2025-08-07",
                           "fine-grained-tool-streaming-2025-05-14"],
    }
    lowered = {name.lower() for name in received.headers}
    assert not lowered & {"anthropic-beta", "anthropic-version", "x-api-key"}
    assert all(token not in value for value in received.headers.values())
    assert received.headers["Authorization"].startswith(f"AWS4-HMAC-SHA256 Credential={ACCESS_KEY}/")
    collector.wait_for_ends()


def test_model_arn_is_one_encoded_path_segment_as_the_aws_sdk_sends_it(gateway, token, bedrock, collector):
    import boto3

    arn = "arn:aws:bedrock:us-west-2:123456789012:application-inference-profile/a1b2c3d4e5f6"
    bedrock.queue(invoke_answer("anthropic/blocking_text"))
    response = raw_post(gateway, token, {"model": CLIENT_MODEL, "max_tokens": 64, "messages": HELLO},
                        provider="bedrock-arn", stream=False)
    assert response.status_code == 200

    # The AWS SDK itself, against the same fake: same path, and its signature passes the fake's check.
    bedrock.queue(invoke_answer("anthropic/blocking_text"))
    aws = boto3.client("bedrock-runtime", region_name=REGION, endpoint_url=bedrock.url,
                       aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY)
    answer = aws.invoke_model(modelId=arn, body=json.dumps({"anthropic_version": "bedrock-2023-05-31",
                                                            "max_tokens": 64, "messages": HELLO}),
                              contentType="application/json", accept="application/json")
    assert json.loads(answer["body"].read())["type"] == "message"

    gateway_request, sdk_request = bedrock.requests
    assert gateway_request.path == sdk_request.path
    assert gateway_request.path == "/model/" + arn.replace(":", "%3A").replace("/", "%2F") + "/invoke"
    assert bedrock.refusals == []
    [end] = collector.wait_for_ends()
    assert end.model == arn


def test_a_wrong_secret_is_refused_by_the_signature_check(gateway, token, bedrock, collector):
    bedrock.queue(invoke_answer("anthropic/blocking_text"))
    response = raw_post(gateway, token, {"model": CLIENT_MODEL, "max_tokens": 64, "messages": HELLO},
                        provider="bedrock-bad-secret", stream=False)
    assert response.status_code == 403
    assert response.json()["error"]["type"] == "permission_error"
    assert "signature" in response.json()["error"]["message"]
    assert bedrock.refusals == ["The request signature we calculated does not match the signature you provided."]
    [end] = collector.wait_for_ends()
    assert end.status == "failed"


# -- Bedrock errors in Anthropic's shape ----------------------------------------------


def test_throttling_is_a_429_rate_limit_error(client, bedrock, collector):
    bedrock.queue("bedrock/throttling_429")
    with pytest.raises(anthropic.RateLimitError) as raised:
        client.messages.create(model=CLIENT_MODEL, max_tokens=64, messages=HELLO)
    assert raised.value.status_code == 429
    assert raised.value.body == {"type": "error", "error": {
        "type": "rate_limit_error",
        "message": "Bedrock ThrottlingException: Too many requests, please wait before trying again."}}
    [end] = collector.wait_for_ends()
    assert (end.status, end.error.kind, end.error.upstream_status, end.error.message) == (
        "failed", "upstream_status", 429, "Bedrock ThrottlingException: Too many requests, please wait before trying again.")
    assert collector.of("prompt_usage")[0].prompt == "Say hello."


def test_validation_error_is_a_400_invalid_request_error(client, bedrock, collector):
    bedrock.queue("bedrock/validation_400")
    with pytest.raises(anthropic.BadRequestError) as raised:
        with client.messages.stream(model=CLIENT_MODEL, max_tokens=300000, messages=HELLO) as stream:
            stream.until_done()
    assert raised.value.body["error"]["type"] == "invalid_request_error"
    assert "max_tokens: 300000 > 64000" in raised.value.body["error"]["message"]
    collector.wait_for_ends()


@pytest.mark.parametrize("fixture, status, kind", [
    ("bedrock/access_denied_403", 403, "permission_error"),
    ("bedrock/model_timeout_408", 408, "timeout_error"),
    ("bedrock/service_unavailable_503", 503, "overloaded_error"),
])
def test_other_bedrock_errors_keep_their_status_in_anthropic_shape(gateway, token, bedrock, collector, fixture, status, kind):
    bedrock.queue(fixture)
    response = raw_post(gateway, token, {"model": CLIENT_MODEL, "max_tokens": 64, "stream": True, "messages": HELLO})
    assert response.status_code == status
    assert response.headers["content-type"] == "application/json"
    error = response.json()
    aws_message = json.loads(load_fixture(fixture).body_bytes())["message"]
    assert error["type"] == "error" and error["error"]["type"] == kind
    assert error["error"]["message"].endswith(aws_message)
    collector.wait_for_ends()


def test_exception_inside_the_stream_becomes_an_anthropic_error_event(gateway, token, bedrock, collector):
    bedrock.queue(stream_answer("anthropic/stream_text", events=4,
                                exception=("throttlingException", "Too many tokens, please wait before trying again.")))
    response = raw_post(gateway, token, {"model": CLIENT_MODEL, "max_tokens": 64, "stream": True, "messages": HELLO})
    assert response.status_code == 200
    body = response.content
    assert sse_data(body)[:4] == sse_event_data("anthropic/stream_text")[:4]
    last = body.rstrip(b"\n").split(b"\n\n")[-1]
    assert last.startswith(b"event: error\ndata: ")
    assert json.loads(last.split(b"data: ", 1)[1]) == {"type": "error", "error": {
        "type": "rate_limit_error",
        "message": "Bedrock throttlingException: Too many tokens, please wait before trying again."}}
    [end] = collector.wait_for_ends()
    assert (end.status, end.error.kind, end.error.message) == (
        "failed", "stream_error", "Bedrock throttlingException: Too many tokens, please wait before trying again.")
    assert token_totals(collector.of("token_usage"))["input_tokens"] == 12


def test_exception_inside_the_stream_surfaces_in_the_sdk(client, bedrock, collector):
    bedrock.queue(stream_answer("anthropic/stream_text", events=2,
                                exception=("modelStreamErrorException", "The model stream was interrupted.")))
    with pytest.raises(anthropic.APIStatusError) as raised:
        with client.messages.stream(model=CLIENT_MODEL, max_tokens=64, messages=HELLO) as stream:
            stream.until_done()
    assert "The model stream was interrupted." in str(raised.value)
    collector.wait_for_ends()


@pytest.mark.parametrize("damage", ["bad checksum", "cut short"])
def test_a_damaged_event_stream_ends_with_an_error_event(gateway, token, bedrock, collector, damage):
    message = chunk_message(b'{"type":"content_block_stop","index":0}')
    trailing = message[:-1] + bytes([message[-1] ^ 0xFF]) if damage == "bad checksum" else message[:20]
    bedrock.queue(stream_answer("anthropic/stream_text", events=3, trailing=trailing))
    response = raw_post(gateway, token, {"model": CLIENT_MODEL, "max_tokens": 64, "stream": True, "messages": HELLO})
    body = response.content
    assert sse_data(body)[:3] == sse_event_data("anthropic/stream_text")[:3]
    error = json.loads(sse_data(body)[-1])
    assert error["type"] == "error" and error["error"]["type"] == "api_error"
    assert error["error"]["message"].startswith(f"Bedrock: the event stream of {bedrock.url.removeprefix('http://')} ")
    [end] = collector.wait_for_ends()
    assert (end.status, end.error.kind, end.error.message) == ("failed", "stream_error", error["error"]["message"])


# -- credentials ---------------------------------------------------------------------


@pytest.fixture
def aws_environment(monkeypatch, tmp_path):
    """No AWS configuration but what a test sets: no files, no profile, no instance metadata."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_DEFAULT_PROFILE",
                 "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
                 "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    return monkeypatch


def one_provider_gateway(data_dir, provider: ProviderConfig, **overrides) -> tuple[Gateway, RecordCollector]:
    gw = Gateway(gateway_config(data_dir, "http://127.0.0.1:9", providers=(provider,), **overrides))
    collector = RecordCollector()
    gw.pm.register(collector)
    return gw, collector


def test_default_credential_chain_signs_when_no_keys_are_configured(tmp_path, aws_environment):
    aws_environment.setenv("AWS_ACCESS_KEY_ID", "ASIAENVIRONMENTKEY01")
    aws_environment.setenv("AWS_SECRET_ACCESS_KEY", "environment/secret/key+example0000000000")
    aws_environment.setenv("AWS_SESSION_TOKEN", "IQoJb3JpZ2luX2VjEXAMPLESESSIONTOKEN")
    with FakeBedrock({"ASIAENVIRONMENTKEY01": "environment/secret/key+example0000000000"}) as fake:
        provider = bedrock_provider("bedrock", fake.url, access_keys=(), access_key_secrets=())
        gw, collector = one_provider_gateway(tmp_path, provider, send_actor_headers=True)
        try:
            fake.queue(stream_answer("anthropic/stream_text"))
            client = anthropic.Anthropic(api_key=gw.create_token("bob"), base_url=gw.bridge_url("bedrock"), max_retries=0)
            with client.messages.stream(model=CLIENT_MODEL, max_tokens=64, messages=HELLO) as stream:
                assert stream.get_final_text().startswith("Hello!")
            [received] = fake.requests
            assert fake.refusals == []
            authorization = received.headers["Authorization"]
            scope = f"{received.headers['X-Amz-Date'][:8]}/{REGION}/bedrock/aws4_request"
            assert authorization.startswith(f"AWS4-HMAC-SHA256 Credential=ASIAENVIRONMENTKEY01/{scope}")
            assert received.headers["X-Amz-Security-Token"] == "IQoJb3JpZ2luX2VjEXAMPLESESSIONTOKEN"
            signed = authorization.split("SignedHeaders=")[1].split(",")[0].split(";")
            assert {"x-amz-security-token", "x-ai-bridge-actor-id", "x-ai-bridge-actor-metadata-username"} <= set(signed)
            assert received.headers["X-AI-Bridge-Actor-Metadata-Username"] == "bob"
            collector.wait_for_ends()
        finally:
            gw.close()


def test_no_credentials_anywhere_is_a_clear_502(tmp_path, aws_environment):
    with FakeBedrock() as fake:
        provider = bedrock_provider("bedrock", fake.url, access_keys=(), access_key_secrets=())
        gw, collector = one_provider_gateway(tmp_path, provider)
        try:
            client = anthropic.Anthropic(api_key=gw.create_token(), base_url=gw.bridge_url("bedrock"), max_retries=0)
            with pytest.raises(anthropic.APIStatusError) as raised:
                client.messages.create(model=CLIENT_MODEL, max_tokens=64, messages=HELLO)
            assert raised.value.status_code == 502
            assert raised.value.body["error"]["type"] == "api_error"
            message = raised.value.body["error"]["message"]
            assert message.startswith(f"the request to {fake.url.removeprefix('http://')} could not be signed: ")
            assert "no AWS credentials" in message
            assert fake.requests == []
            [end] = collector.wait_for_ends()
            assert (end.status, end.error.kind, end.error.message) == ("failed", "upstream_unreachable", message)
        finally:
            gw.close()


def test_several_key_pairs_take_turns(tmp_path):
    keys = {"AKIAFIRSTKEY00000001": "first-secret", "AKIASECONDKEY0000002": "second-secret"}
    with FakeBedrock(keys) as fake:
        provider = bedrock_provider("bedrock", fake.url, access_keys=tuple(keys), access_key_secrets=tuple(keys.values()))
        gw, collector = one_provider_gateway(tmp_path, provider)
        try:
            token = gw.create_token()
            for _ in range(3):
                fake.queue(invoke_answer("anthropic/blocking_text"))
                assert raw_post(gw, token, {"model": CLIENT_MODEL, "max_tokens": 8, "messages": HELLO},
                                stream=False).status_code == 200
            used = [r.headers["Authorization"].split("Credential=")[1].split("/")[0] for r in fake.requests]
            assert used == ["AKIAFIRSTKEY00000001", "AKIASECONDKEY0000002", "AKIAFIRSTKEY00000001"]
            assert fake.refusals == []
            collector.wait_for_ends(3)
        finally:
            gw.close()


# -- configured the documented way ------------------------------------------------------


@pytest.mark.parametrize("form", ["legacy", "indexed"])
def test_configured_from_the_documented_environment_variables(tmp_path, form):
    from aibridge.config.loader import load_config

    with FakeBedrock() as fake:
        if form == "legacy":
            prefix, name = "CODER_AIBRIDGE_BEDROCK_", "anthropic"
            environ = {}
        else:
            prefix, name = "CODER_AIBRIDGE_PROVIDER_0_BEDROCK_", "claude-aws"
            environ = {"CODER_AIBRIDGE_PROVIDER_0_TYPE": "anthropic", "CODER_AIBRIDGE_PROVIDER_0_NAME": name}
        environ.update({
            "CODER_AIBRIDGE_ENABLED": "true",
            "CODER_DATA_DIR": str(tmp_path),
            prefix + "REGION": REGION,
            prefix + "BASE_URL": fake.url,
            prefix + "ACCESS_KEY": ACCESS_KEY,
            prefix + "ACCESS_KEY_SECRET": SECRET_KEY,
            prefix + "MODEL": SONNET,
            prefix + "SMALL_FAST_MODEL": HAIKU,
        })
        gw = Gateway(load_config({}, environ))
        collector = RecordCollector()
        gw.pm.register(collector)
        try:
            fake.queue(stream_answer("anthropic/stream_text"))
            client = anthropic.Anthropic(api_key=gw.create_token(), base_url=gw.bridge_url(name), max_retries=0)
            with client.messages.stream(model="claude-haiku-4-5", max_tokens=64, messages=HELLO) as stream:
                stream.until_done()
            assert fake.refusals == []
            [(model, action, _)] = fake.invocations()
            assert (model, action) == (HAIKU, "invoke-with-response-stream")
            [end] = collector.wait_for_ends()
            assert (end.provider_name, end.model) == (name, HAIKU)
        finally:
            gw.close()


@pytest.mark.parametrize("base_url, region", [
    ("https://bedrock-runtime.eu-central-1.amazonaws.com", "eu-central-1"),
    ("https://bedrock-runtime-fips.us-gov-west-1.amazonaws.com", "us-gov-west-1"),
    ("https://vpce-0a1b2c3d4e5f-abcdefgh.bedrock-runtime.ap-northeast-1.vpce.amazonaws.com", "ap-northeast-1"),
])
def test_region_comes_from_the_endpoint_when_not_configured(base_url, region):
    from aibridge.providers.bedrock.signing import signing_region

    assert signing_region(BedrockConfig(base_url=base_url, model=SONNET, small_fast_model=HAIKU)) == region
