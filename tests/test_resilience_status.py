"""Provider status: GET /api/v2/aibridge/providers (owners only) and ``aibridge providers``."""

from __future__ import annotations

import json

import anthropic
import pytest
import requests
from click.testing import CliRunner
from support.gateway import gateway_config
from support.resilience_support import KeyedUpstream, free_port, resilient_gateway, upstream  # noqa: F401 (a fixture)

from aibridge.cli import build_cli
from aibridge.config import ProviderConfig
from aibridge.resilience.keypool import mask

K1, K2 = "sk-ant-api03-first-" + "a" * 40, "sk-ant-api03-second-" + "b" * 40
HELLO = [{"role": "user", "content": "Say hello."}]


@pytest.fixture
def gw(tmp_path, upstream):
    providers = (
        ProviderConfig(type="anthropic", name="anthropic", base_url=upstream.url, keys=(K1, K2), fallback="backup"),
        ProviderConfig(type="anthropic", name="backup", base_url=upstream.url, keys=(K2,),
                       model_map=(("claude-sonnet-4-6", "claude-sonnet-4-6-backup"),)),
    )
    config = gateway_config(tmp_path, upstream.url, providers=providers, circuit_breaker_enabled=True)
    with resilient_gateway(config, username="olivia", role="owner") as running:
        yield running


def status(gw, token):
    return requests.get(gw.gateway.url + "/api/v2/aibridge/providers", headers={"Authorization": f"Bearer {token}"},
                        timeout=10)


def cool_the_first_key(gw, upstream) -> None:
    upstream.script(K1, ("anthropic/error_429_rate_limit", {"headers": {"retry-after": "40"}}))
    upstream.queue("anthropic/blocking_text")
    client = anthropic.Anthropic(api_key=gw.token, base_url=gw.url("anthropic"), max_retries=0)
    client.messages.create(model="claude-sonnet-4-6", max_tokens=64, messages=HELLO)
    gw.clock.advance(10)


def test_an_owner_sees_each_instance_with_its_keys_breakers_and_fallback(gw, upstream):
    cool_the_first_key(gw, upstream)
    answer = status(gw, gw.token)
    assert answer.status_code == 200
    first, backup = answer.json()["providers"]
    assert first == {
        "name": "anthropic", "type": "anthropic", "upstream": upstream.url.removeprefix("http://"), "bedrock": False,
        "fallback": "backup", "model_map": {}, "circuit_breakers": True,
        "keys": [{"hint": mask(K1), "state": "temporary", "reason": "rate_limited", "retry_after": 30.0},
                 {"hint": mask(K2), "state": "valid", "reason": "", "retry_after": None}],
        "breakers": [{"endpoint": "messages", "model": "claude-sonnet-4-6", "state": "closed", "failures": 0,
                      "retry_after": None}],
    }
    assert backup["model_map"] == {"claude-sonnet-4-6": "claude-sonnet-4-6-backup"} and backup["breakers"] == []
    assert K1 not in answer.text and K2 not in answer.text


def test_members_get_403_and_strangers_401(gw):
    member = gw.gateway.create_token("mallory", "member")
    assert status(gw, member).status_code == 403
    assert status(gw, member).json() == {"message": "only owners may see the provider status"}
    assert status(gw, "aib_not_a_token").status_code == 401


def run_cli(*args, env=None):
    return CliRunner().invoke(build_cli({}), list(args), env=env or {})


def test_the_command_prints_a_running_servers_status_as_a_table(gw, upstream, tmp_path):
    cool_the_first_key(gw, upstream)
    result = run_cli("providers", "--format", "table", "--data-dir", str(tmp_path), env={"CODER_URL": gw.gateway.url,
                                                                    "CODER_SESSION_TOKEN": gw.token})
    assert result.exit_code == 0, result.output
    header, first, backup = result.stdout.splitlines()
    assert header.split() == ["NAME", "TYPE", "UPSTREAM", "KEYS", "CIRCUIT", "BREAKERS", "FALLBACK", "MODEL", "MAP"]
    assert first.startswith("anthropic  anthropic  127.0.0.1:")
    assert f"{mask(K1)} temporary 30s, {mask(K2)} valid" in first and "1 closed" in first
    assert first.split()[-2:] == ["backup", "-"]
    assert backup.index("backup") == 0 and backup.rstrip().endswith("claude-sonnet-4-6=claude-sonnet-4-6-backup")
    assert header.index("KEYS") == first.index(mask(K1))  # aligned columns

    as_json = run_cli("providers", "--format", "json", "--url", gw.gateway.url, "--token", gw.token, "--data-dir", str(tmp_path))
    assert json.loads(as_json.stdout) == status(gw, gw.token).json()["providers"]


def test_the_command_needs_an_owners_token(gw, tmp_path):
    result = run_cli("providers", "--url", gw.gateway.url, "--data-dir", str(tmp_path))
    assert result.exit_code == 1
    assert result.stderr == ("aibridge: error: the gateway answered HTTP 401: a valid AI Bridge token is required; "
                             "give an owner's token with --token or CODER_SESSION_TOKEN\n")


def test_without_a_server_the_command_shows_the_configuration(clean_environ, tmp_path):
    environ = {**clean_environ, "CODER_AIBRIDGE_PROVIDER_0_TYPE": "openai", "CODER_AIBRIDGE_PROVIDER_0_KEYS": f"{K1},{K2}",
               "CODER_AIBRIDGE_PROVIDER_0_FALLBACK": "azure", "CODER_AIBRIDGE_PROVIDER_1_TYPE": "openai",
               "CODER_AIBRIDGE_PROVIDER_1_NAME": "azure", "CODER_AIBRIDGE_CIRCUIT_BREAKER_ENABLED": "true",
               "CODER_HTTP_ADDRESS": f"127.0.0.1:{free_port()}"}
    result = run_cli("providers", "--format", "table", "--data-dir", str(tmp_path), env=environ)
    assert result.exit_code == 0, result.output
    assert result.stderr.startswith("aibridge: no gateway answers at http://127.0.0.1:")
    assert "showing the configuration, without the states of keys and circuit breakers" in result.stderr
    _, openai_row, azure_row = result.stdout.splitlines()
    assert openai_row.split() == ["openai", "openai", "api.openai.com", f"{mask(K1)},", mask(K2), "0", "closed",
                                  "azure", "-"]
    assert azure_row.split() == ["azure", "openai", "api.openai.com", "-", "0", "closed", "-", "-"]
    assert K1 not in result.output
