"""The resilience decisions inside the real ``aibridge server`` (gevent): real backoff sleeps, SIGHUP, limits."""

from __future__ import annotations

import json
import re
import signal

import anthropic
import openai
from support.edge_support import create_token, server_environ, start_server
from support.fakeupstream import Response
from support.resilience_support import KeyedUpstream

from aibridge.resilience.keypool import mask

HELLO = [{"role": "user", "content": "Say hello."}]
K1, K2 = "sk-ant-api03-first-" + "a" * 40, "sk-ant-api03-second-" + "b" * 40
P = "CODER_AIBRIDGE_PROVIDER_"


def overloaded() -> Response:
    body = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    return Response(529, {"content-type": "application/json"}, json.dumps(body))


def test_retries_key_failover_and_a_reload_in_the_gevent_server(aibridge_script, spawn, process_environ, tmp_path):
    with KeyedUpstream() as upstream:
        data_dir = tmp_path / "data"
        token = create_token(data_dir)
        environ = server_environ(process_environ, data_dir, **{
            P + "0_TYPE": "anthropic", P + "0_BASE_URL": upstream.url, P + "0_KEYS": f"{K1},{K2}",
            "CODER_AIBRIDGE_STRUCTURED_LOGGING": "true"})
        server, port = start_server(spawn, aibridge_script, environ)
        client = anthropic.Anthropic(api_key=token, base_url=f"http://127.0.0.1:{port}/api/v2/aibridge/anthropic",
                                     max_retries=0)

        # A 529 is sent again after a real (cooperative) backoff, with the same key.
        upstream.script(K1, overloaded(), "anthropic/blocking_text")
        assert client.messages.create(model="claude-sonnet-4-6", max_tokens=64, messages=HELLO).content
        assert upstream.keys_used() == [K1, K1]

        # A refused key is retired; the request goes out again with the other one.
        upstream.script(K2, ("anthropic/error_400_invalid_request", {"status": 401}))
        upstream.queue("anthropic/blocking_text")
        upstream.queue("anthropic/blocking_text")
        client.messages.create(model="claude-sonnet-4-6", max_tokens=64, messages=HELLO)
        client.messages.create(model="claude-sonnet-4-6", max_tokens=64, messages=HELLO)
        assert upstream.keys_used()[2:] == [K2, K1, K1]
        server.wait_for_line(rf'record_type=interception_end .*credential_hint={re.escape(mask(K1))} '
                             r'metadata=\{"attempts":2,"key_failovers":1\}', timeout=10)

        # A reload starts the pool afresh: the retired key is used again.
        server.proc.send_signal(signal.SIGHUP)
        server.wait_for_line(r"configuration reloaded")
        upstream.queue("anthropic/blocking_text")
        upstream.queue("anthropic/blocking_text")
        client.messages.create(model="claude-sonnet-4-6", max_tokens=64, messages=HELLO)
        client.messages.create(model="claude-sonnet-4-6", max_tokens=64, messages=HELLO)
        assert sorted(upstream.keys_used()[5:]) == sorted([K1, K2])

        server.proc.send_signal(signal.SIGTERM)
        assert server.wait() == 0
    assert "Traceback" not in server.stderr and K1 not in server.stderr and K2 not in server.stderr


def test_the_rate_limit_in_the_gevent_server(aibridge_script, spawn, process_environ, tmp_path):
    with KeyedUpstream() as upstream:
        data_dir = tmp_path / "data"
        token = create_token(data_dir)
        environ = server_environ(process_environ, data_dir, CODER_AIBRIDGE_OPENAI_BASE_URL=upstream.url + "/v1",
                                 CODER_AIBRIDGE_OPENAI_KEY="sk-openai", CODER_AIBRIDGE_RATE_LIMIT="1")
        server, port = start_server(spawn, aibridge_script, environ)
        client = openai.OpenAI(api_key=token, base_url=f"http://127.0.0.1:{port}/api/v2/aibridge/openai/v1",
                               max_retries=0)
        upstream.queue("openai/chat_blocking_text")
        client.chat.completions.create(model="gpt-4o", messages=HELLO)
        refused = 0
        for _ in range(3):  # a second request within the same second is refused
            try:
                upstream.queue("openai/chat_blocking_text")
                client.chat.completions.create(model="gpt-4o", messages=HELLO)
            except openai.RateLimitError as error:
                refused += 1
                assert error.response.headers["retry-after"] == "1"
        assert refused >= 1
        server.proc.send_signal(signal.SIGTERM)
        assert server.wait() == 0
