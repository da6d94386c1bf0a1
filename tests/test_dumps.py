"""Request dumps (``--aibridge-dump-dir``): real requests through the SDKs, then the files, byte for byte."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import anthropic
import openai
import pytest
from support.fakeupstream import Response, load_fixture
from support.gateway import Gateway, collecting_gateway, gateway_config

from aibridge.config import ProviderConfig
from aibridge.dumps import Redaction

CLAUDE = "claude-sonnet-4-6"
GPT = "gpt-4.1"
ANTHROPIC_KEY = "sk-ant-upstream-key"
OPENAI_KEY = "sk-openai-upstream-key"


@pytest.fixture
def dumping(tmp_path, upstream):
    """A gateway writing dumps to tmp_path/dumps; closed (every dump written) by ``finish``."""
    upstream.reset()
    gw = collecting_gateway(gateway_config(tmp_path, upstream.url, dump_dir=tmp_path / "dumps"))
    yield gw
    gw.close()


def finish(gw: Gateway) -> str:
    """Close the gateway (its dump writer writes what is queued) and return the interception's id."""
    [end] = gw.collector.wait_for_ends(1)
    gw.close()
    return end.interception_id


def test_a_streamed_anthropic_request_and_its_answer_are_dumped(dumping, upstream, tmp_path):
    token = dumping.create_token()
    upstream.queue("anthropic/stream_text")
    client = anthropic.Anthropic(api_key=token, base_url=dumping.bridge_url("anthropic"), max_retries=0)
    with client.messages.stream(model=CLAUDE, max_tokens=64, messages=[{"role": "user", "content": "Say hi"}]) as s:
        text = s.get_final_text()
    interception_id = finish(dumping)

    folder = tmp_path / "dumps" / "anthropic"
    sent = (folder / f"{interception_id}.req.txt").read_bytes()
    head, _, body = sent.partition(b"\n\n")
    lines = head.decode().splitlines()
    assert re.fullmatch(r"### request 1 \S+", lines[0])
    assert lines[1] == "POST /v1/messages HTTP/1.1"
    assert lines[2] == f"Host: {upstream.url.removeprefix('http://')}"
    assert "x-api-key: [redacted]" in [line.lower() for line in lines]
    assert body.rstrip(b"\n") == upstream.requests[0].body  # the body exactly as the upstream got it

    answer = (folder / f"{interception_id}.resp.txt").read_bytes()
    head, _, body = answer.partition(b"\n\n")
    lines = head.decode().splitlines()
    assert lines[1] == "HTTP/1.1 200 OK"
    assert "content-type: text/event-stream; charset=utf-8" in lines
    assert body.rstrip(b"\n") == load_fixture("anthropic/stream_text").body_bytes().rstrip(b"\n")
    assert text  # the client got its answer too
    # Private like the database: prompts and answers are in there.
    assert [path.stat().st_mode & 0o777 for path in (folder, folder / f"{interception_id}.req.txt",
                                                     folder / f"{interception_id}.resp.txt")] == [0o700, 0o600, 0o600]


def test_a_blocking_openai_request_and_its_answer_are_dumped(dumping, upstream, tmp_path):
    token = dumping.create_token()
    upstream.queue("openai/chat_blocking_text")
    client = openai.OpenAI(api_key=token, base_url=dumping.bridge_url("openai") + "/v1", max_retries=0)
    completion = client.chat.completions.create(model=GPT, messages=[{"role": "user", "content": "Say hi"}])
    interception_id = finish(dumping)

    folder = tmp_path / "dumps" / "openai"
    sent = (folder / f"{interception_id}.req.txt").read_text()
    assert "POST /v1/chat/completions HTTP/1.1" in sent
    assert "Authorization: [redacted]" in sent
    assert '"Say hi"' in sent
    answer = (folder / f"{interception_id}.resp.txt").read_bytes()
    assert b"HTTP/1.1 200 OK\n" in answer
    assert answer.rstrip(b"\n").endswith(load_fixture("openai/chat_blocking_text").body_bytes().rstrip(b"\n"))
    assert completion.choices[0].message.content


def test_every_attempt_is_dumped_in_order(tmp_path, upstream):
    upstream.reset()
    gw = collecting_gateway(gateway_config(tmp_path, upstream.url, dump_dir=tmp_path / "dumps", max_retries=1))
    try:
        upstream.queue("anthropic/error_500_api_error", headers={"retry-after": "0"})
        upstream.queue("anthropic/blocking_text")
        client = anthropic.Anthropic(api_key=gw.create_token(), base_url=gw.bridge_url("anthropic"), max_retries=0)
        client.messages.create(model=CLAUDE, max_tokens=64, messages=[{"role": "user", "content": "Say hi"}])
        interception_id = finish(gw)
    finally:
        gw.close()
    folder = tmp_path / "dumps" / "anthropic"
    requests_dumped = (folder / f"{interception_id}.req.txt").read_text()
    answers = (folder / f"{interception_id}.resp.txt").read_text()
    assert re.findall(r"^### request (\d+)", requests_dumped, re.M) == ["1", "2"]
    assert re.findall(r"^### response (\d+)", answers, re.M) == ["1", "2"]
    assert answers.index("HTTP/1.1 500 Internal Server Error") < answers.index("HTTP/1.1 200 OK")


# Secrets: the upstream echoes every one of them back, in headers, in a blocking body and cut across
# the chunks of a stream; the client sends them in its prompt. None reaches a dump file.

MCP_TOKEN = "mcp-server-token-4b1d"


def test_no_provider_key_nor_gateway_token_reaches_a_dump(tmp_path, upstream, caplog):
    upstream.reset()
    providers = (
        ProviderConfig(type="anthropic", name="anthropic", base_url=upstream.url, keys=(ANTHROPIC_KEY,)),
        ProviderConfig(type="openai", name="openai", base_url=upstream.url + "/v1", keys=(OPENAI_KEY,)),
    )
    gw = collecting_gateway(gateway_config(tmp_path, upstream.url, dump_dir=tmp_path / "dumps", providers=providers))
    token = gw.create_token()
    secrets = [ANTHROPIC_KEY, OPENAI_KEY, token]
    echoed = " ".join(secrets)
    try:
        # A stream whose last event quotes every secret, cut between chunks in the middle of two of them.
        events = load_fixture("anthropic/stream_text").body_bytes()
        quoted = f'event: ping\ndata: {{"type": "ping", "echo": "{echoed}"}}\n\n'.encode()
        key_cut = quoted.index(ANTHROPIC_KEY.encode()) + 5
        token_cut = quoted.index(token.encode()) + len(token) // 2
        stream = Response(200, {"content-type": "text/event-stream", "set-cookie": f"session={token}"},
                          [events, quoted[:key_cut], quoted[key_cut:token_cut], quoted[token_cut:]])
        upstream.queue(stream)
        blocking = load_fixture("openai/chat_blocking_text")
        body = blocking.body_bytes().replace(b'"gpt', f'"echo {echoed}", "m": "gpt'.encode(), 1)
        upstream.queue(Response(200, {"content-type": "application/json", "x-echo": echoed}, body))

        prompt = [{"role": "user", "content": f"my keys are {echoed}"}]
        client = anthropic.Anthropic(api_key=token, base_url=gw.bridge_url("anthropic"), max_retries=0,
                                     default_headers={"Cookie": f"t={token}"})  # fmt: skip
        with client.messages.stream(model=CLAUDE, max_tokens=64, messages=prompt) as s:
            s.get_final_text()
        oai = openai.OpenAI(api_key=token, base_url=gw.bridge_url("openai") + "/v1", max_retries=0)
        oai.chat.completions.create(model=GPT, messages=prompt)
        gw.collector.wait_for_ends(2)
    finally:
        gw.close()

    files = sorted((tmp_path / "dumps").rglob("*.txt"))
    assert len(files) == 4, files
    everything = b"".join(path.read_bytes() for path in files)
    assert everything.count(b"[redacted]") >= 10
    assert b'"echo' in everything and b"my keys are" in everything  # the text around the secrets is there
    token_secret = token.rsplit("_", 1)[1]
    for secret in [*secrets, token_secret]:
        assert secret.encode() not in everything, secret
    for half in (ANTHROPIC_KEY[:12], ANTHROPIC_KEY[-12:], token_secret[:8], token_secret[-8:]):
        assert half.encode() not in everything, half


def test_redaction_of_a_stream_cut_anywhere():
    token = "aib_0123456789abcdef_S3cretS3cretS3cretS3cret"
    text = f"a {ANTHROPIC_KEY} b {token} c {'x' * 200} {ANTHROPIC_KEY}".encode()
    redaction = Redaction([ANTHROPIC_KEY])
    for cut in range(len(text) + 1):
        written, pending = redaction.stream(b"", text[:cut])
        more, pending = redaction.stream(pending, text[cut:])
        out = written + more + redaction(pending)
        assert ANTHROPIC_KEY.encode() not in out and b"S3cret" not in out, cut
        assert out.count(b"[redacted]") == 3 and out.startswith(b"a [redacted] b aib_0123456789abcdef_[redacted]")


def test_an_unwritable_dump_dir_is_logged_once_and_the_relay_goes_on(tmp_path, upstream, caplog):
    upstream.reset()
    (tmp_path / "not-a-dir").write_text("a file where the directory should be")
    gw = collecting_gateway(gateway_config(tmp_path, upstream.url, dump_dir=tmp_path / "not-a-dir"))
    try:
        client = anthropic.Anthropic(api_key=gw.create_token(), base_url=gw.bridge_url("anthropic"), max_retries=0)
        with caplog.at_level(logging.ERROR, logger="aibridge.dumps"):
            for _ in range(3):
                upstream.queue("anthropic/stream_text")
                with client.messages.stream(model=CLAUDE, max_tokens=64,
                                            messages=[{"role": "user", "content": "Say hi"}]) as s:  # fmt: skip
                    assert s.get_final_text()
            gw.collector.wait_for_ends(3)
            gw.close()
    finally:
        gw.close()
    failures = [r for r in caplog.records if r.name == "aibridge.dumps"]
    assert len(failures) == 1
    assert "request dumps are not written: cannot write" in failures[0].getMessage()
    assert Path(tmp_path / "not-a-dir").is_file()


def test_a_bedrock_instance_dumps_without_its_aws_keys(tmp_path):
    from support.bedrock_support import bedrock_provider
    from support.fakebedrock import ACCESS_KEY, SECRET_KEY, FakeBedrock, stream_answer

    with FakeBedrock() as bedrock:
        gw = collecting_gateway(gateway_config(tmp_path, bedrock.url, dump_dir=tmp_path / "dumps",
                                               providers=(bedrock_provider("bedrock", bedrock.url),)))  # fmt: skip
        try:
            bedrock.queue(stream_answer("anthropic/stream_text"))
            client = anthropic.Anthropic(api_key=gw.create_token(), base_url=gw.bridge_url("bedrock"), max_retries=0)
            with client.messages.stream(model=CLAUDE, max_tokens=64,
                                        messages=[{"role": "user", "content": f"{SECRET_KEY} hi"}]) as s:  # fmt: skip
                text = s.get_final_text()
            interception_id = finish(gw)
        finally:
            gw.close()
    folder = tmp_path / "dumps" / "bedrock"
    answer = (folder / f"{interception_id}.resp.txt").read_text()
    assert "HTTP/1.1 200 OK" in answer and "event: message_start" in answer  # as relayed: Anthropic's events
    assert text[:10] in answer and "text_delta" in answer
    everything = b"".join(path.read_bytes() for path in folder.iterdir())
    assert SECRET_KEY.encode() not in everything and ACCESS_KEY.encode() not in everything
