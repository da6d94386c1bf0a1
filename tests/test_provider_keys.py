"""A provider instance without a key while BYOK is off is warned about at start and not listed as ready."""

from __future__ import annotations

import logging
import re
import signal

import pytest

from aibridge.app import create_app, shutdown_app
from aibridge.config.loader import load_config
from aibridge.server import startup_banner

INDEXED = {
    "CODER_AI_GATEWAY_PROVIDER_0_TYPE": "openai", "CODER_AI_GATEWAY_PROVIDER_0_KEY": "sk-openai-upstream",
    "CODER_AI_GATEWAY_PROVIDER_1_TYPE": "anthropic", "CODER_AI_GATEWAY_PROVIDER_1_NAME": "anthropic-corp",
    "CODER_AI_GATEWAY_PROVIDER_2_TYPE": "copilot",  # always BYOK: each user's GitHub token
    "CODER_AI_GATEWAY_PROVIDER_3_TYPE": "anthropic", "CODER_AI_GATEWAY_PROVIDER_3_NAME": "bedrock",
    "CODER_AI_GATEWAY_PROVIDER_3_BEDROCK_REGION": "us-east-1",  # AWS's default credentials
    "CODER_AI_GATEWAY_PROVIDER_3_BEDROCK_MODEL": "m", "CODER_AI_GATEWAY_PROVIDER_3_BEDROCK_SMALL_FAST_MODEL": "s",
}  # fmt: skip
WARNING = (r"WARNING aibridge: provider 'anthropic-corp' has no key and BYOK is off: its requests reach "
           r"https://api\.anthropic\.com without credentials and fail there; set CODER_AI_GATEWAY_PROVIDER_1_KEY, "
           r"or CODER_AI_GATEWAY_ALLOW_BYOK=true to let clients send their own key$")  # fmt: skip


def test_the_server_warns_once_per_keyless_instance_and_lists_only_the_ready_ones(aibridge_script, spawn,
                                                                                    process_environ, tmp_path):
    environ = {**process_environ, **INDEXED, "CODER_AI_GATEWAY_ENABLED": "true", "CODER_DATA_DIR": str(tmp_path)}
    server = spawn([aibridge_script, "server", "--http-address", "127.0.0.1:0"], environ)
    server.wait_for_line(WARNING)
    server.wait_for_line(r"  providers: openai, copilot, bedrock  \(clients use ")
    server.wait_for_line(r"^  not ready \(no key, BYOK off; see the warnings\): anthropic-corp$")
    server.proc.send_signal(signal.SIGTERM)
    assert server.wait() == 0
    assert len(re.findall("has no key", server.stderr)) == 1, server.stderr


def warnings_at_start(config, caplog) -> list[str]:
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="aibridge"):
        shutdown_app(create_app(config))
    return [r.getMessage() for r in caplog.records if "has no key" in r.getMessage()]


def test_each_kind_of_setting_is_named(clean_environ, tmp_path, caplog):
    yaml = tmp_path / "aibridge.yaml"
    yaml.write_text("ai_gateway:\n  providers:\n    - type: openai\n      name: openai-eu\n    - type: anthropic\n"
                    "      key: sk-ant\n")  # fmt: skip
    from_yaml = load_config({"config": str(yaml), "data-dir": str(tmp_path)}, clean_environ)
    [warning] = warnings_at_start(from_yaml, caplog)
    assert warning.startswith("provider 'openai-eu' has no key")
    assert f"set ai_gateway.providers[0].key in {yaml}, or" in warning

    legacy = load_config({"data-dir": str(tmp_path), "aibridge-anthropic-key": "sk-ant"}, clean_environ)
    [warning] = warnings_at_start(legacy, caplog)
    assert warning.startswith("provider 'openai' has no key") and "set CODER_AI_GATEWAY_OPENAI_KEY, or" in warning
    assert [p.name for p in legacy.providers] == ["openai", "anthropic"]
    assert "providers: anthropic  (clients use" in startup_banner(legacy, ("127.0.0.1", 3000))


@pytest.mark.parametrize("flags", [{"aibridge-allow-byok": "true"},
                                   {"aibridge-openai-key": "sk-o", "aibridge-anthropic-key": "sk-a"}])
def test_no_warning_when_clients_bring_keys_or_every_instance_has_one(clean_environ, tmp_path, caplog, flags):
    config = load_config({"data-dir": str(tmp_path), **flags}, clean_environ)
    assert warnings_at_start(config, caplog) == []
    banner = startup_banner(config, ("127.0.0.1", 3000))
    assert "providers: openai, anthropic  (clients use" in banner and "not ready" not in banner
