"""Log outputs: human-readable and JSON lines, and secrets never written."""

import json
import logging

import pytest

from aibridge.config.loader import load_config
from aibridge.logs import setup_logging


@pytest.fixture
def restore_root_logger():
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in root.handlers:
        if handler not in handlers:
            handler.close()
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture
def secret_config(clean_environ, tmp_path):
    return load_config(
        {"log-human": str(tmp_path / "human.log"), "log-json": str(tmp_path / "json.log")},
        {
            **clean_environ,
            "CODER_AIBRIDGE_OPENAI_KEY": "sk-openai-secret-value",
            "CODER_AIBRIDGE_MCP_SERVER_0_NAME": "docs",
            "CODER_AIBRIDGE_MCP_SERVER_0_URL": "http://127.0.0.1:9/mcp",
            "CODER_AIBRIDGE_MCP_SERVER_0_TOKEN": "mcp-token-secret",
        },
    )


GATEWAY_TOKEN = "aib_0123456789abcdef_" + "S" * 43


def test_human_and_json_lines_without_secrets(restore_root_logger, secret_config, tmp_path):
    setup_logging(secret_config)
    log = logging.getLogger("aibridge.test")
    log.info("calling upstream with %s and %s", "sk-openai-secret-value", "mcp-token-secret")
    log.warning("client sent %s", GATEWAY_TOKEN, extra={"record_type": "token_usage", "input_tokens": 12})
    log.debug("not shown at the default level")
    human = (tmp_path / "human.log").read_text().splitlines()
    assert len(human) == 2
    assert human[0].endswith("INFO aibridge.test: calling upstream with [redacted] and [redacted]")
    assert human[1].endswith(
        "WARNING aibridge.test: client sent aib_0123456789abcdef_[redacted] record_type=token_usage input_tokens=12"
    )
    lines = [json.loads(line) for line in (tmp_path / "json.log").read_text().splitlines()]
    assert [line["level"] for line in lines] == ["INFO", "WARNING"]
    assert lines[1]["record_type"] == "token_usage" and lines[1]["input_tokens"] == 12
    assert lines[1]["logger"] == "aibridge.test" and lines[1]["time"].endswith("+00:00")
    everything = (tmp_path / "human.log").read_text() + (tmp_path / "json.log").read_text()
    for secret in ("sk-openai-secret-value", "mcp-token-secret", "S" * 43):
        assert secret not in everything


def test_setup_twice_replaces_the_handlers(restore_root_logger, secret_config):
    setup_logging(secret_config)
    count = len(logging.getLogger().handlers)
    setup_logging(secret_config)
    assert len(logging.getLogger().handlers) == count


def test_empty_destinations_turn_outputs_off(restore_root_logger, clean_environ):
    before = len(logging.getLogger().handlers)
    setup_logging(load_config({"log-human": "", "log-json": ""}, clean_environ))
    assert len(logging.getLogger().handlers) == before
