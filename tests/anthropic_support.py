"""Shared fixtures for tests that drive Anthropic-type routes through a real gateway."""

from __future__ import annotations

import anthropic
import pytest
from fakeupstream import FakeUpstream
from gateway import Gateway, RecordCollector, gateway_config


@pytest.fixture(scope="module")
def upstream():
    with FakeUpstream() as fake:
        yield fake


@pytest.fixture(scope="module")
def gateway(tmp_path_factory, upstream):
    gw = Gateway(gateway_config(tmp_path_factory.mktemp("data"), upstream.url))
    yield gw
    gw.close()


@pytest.fixture
def collector(gateway, upstream):
    upstream.reset()
    plugin = RecordCollector()
    gateway.pm.register(plugin, name="test-collector")
    yield plugin
    gateway.pm.unregister(plugin)


@pytest.fixture(scope="module")
def token(gateway):
    return gateway.create_token("alice")


@pytest.fixture
def client(gateway, token, collector):
    return anthropic.Anthropic(api_key=token, base_url=gateway.bridge_url("anthropic"), max_retries=0)


def token_totals(usages) -> dict[str, int]:
    """The sum of an interception's token records, per column."""
    columns = ("input_tokens", "output_tokens", "cache_read_input_tokens", "cache_write_input_tokens")
    return {column: sum(getattr(u, column) for u in usages) for column in columns}
