"""Shared fixtures for tests that drive Anthropic-type routes through a real gateway."""

from __future__ import annotations

import anthropic
import pytest
from support.gateway import token_totals  # noqa: F401  (re-exported for the test modules)


@pytest.fixture
def client(gateway, token, collector):
    return anthropic.Anthropic(api_key=token, base_url=gateway.bridge_url("anthropic"), max_retries=0)
