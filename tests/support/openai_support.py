"""Shared fixtures and helpers for tests that drive OpenAI-type and Copilot routes through a real gateway."""

from __future__ import annotations

import json
import socket
from contextlib import contextmanager

import openai
import pytest
import requests
from support.fakeupstream import load_fixture
from support.gateway import Gateway, RecordCollector, gateway_config, token_totals  # noqa: F401


@pytest.fixture
def client(gateway, token, collector):
    return openai.OpenAI(api_key=token, base_url=gateway.bridge_url("openai") + "/v1", max_retries=0)


@contextmanager
def separate_gateway(tmp_path, upstream_url: str, **overrides):
    """A second gateway with its own settings and a collector: (gateway, token, collector)."""
    gw = Gateway(gateway_config(tmp_path, upstream_url, **overrides))
    collector = RecordCollector()
    gw.pm.register(collector, name="test-collector")
    try:
        yield gw, gw.create_token("bob"), collector
    finally:
        gw.close()


@contextmanager
def dead_upstream_url():
    """A URL on 127.0.0.1 where nothing listens (bound, never listening: connection refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"


def fixture_body(name: str) -> bytes:
    return load_fixture(name).body_bytes()


def fixture_json(name: str) -> dict:
    """The JSON body of a blocking fixture."""
    return json.loads(fixture_body(name))


def fixture_events(name: str) -> list[dict]:
    """The JSON data of every event of an SSE fixture (``[DONE]`` left out)."""
    lines = fixture_body(name).decode().splitlines()
    return [json.loads(line[6:]) for line in lines if line.startswith("data: ") and line != "data: [DONE]"]


def fixture_chunks(name: str) -> list[bytes]:
    """The SSE events of a fixture, as the fake upstream sends them."""
    return load_fixture(name).chunks()


def without_usage_chunk(name: str) -> bytes:
    """A Chat stream fixture minus its usage-only chunk: what a client that did not ask for usage gets."""
    kept = [chunk for chunk in fixture_chunks(name) if b'"choices":[],"usage":{' not in chunk]
    assert len(kept) == len(fixture_chunks(name)) - 1, f"{name} has no usage-only chunk"
    return b"".join(kept)


def post(gateway, path: str, body, *, provider: str = "openai", headers=None, stream: bool = True):
    """A raw HTTP POST to the bridge; ``body`` is bytes, or a dict sent as JSON."""
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return requests.post(
        gateway.bridge_url(provider) + path,
        data=data,
        headers={"content-type": "application/json", **(headers or {})},
        stream=stream,
        timeout=10,
    )


def assert_no_gateway_token_upstream(received, token: str) -> None:
    """The gateway token appears in no header and nowhere in the body the upstream received."""
    assert all(token not in value for value in received.headers.values())
    assert token.encode() not in received.body
