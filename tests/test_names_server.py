"""The AI Gateway names with the real ``aibridge server``: conflicts stop it in one line, unknown variables are
warned about, SDK clients and the audit API answer under both route prefixes, metrics under both prefixes."""

from __future__ import annotations

import signal

import anthropic
import openai
import pytest
import requests
from click.testing import CliRunner
from support.fakeupstream import FakeUpstream
from prometheus_client.parser import text_string_to_metric_families
from support.recorder_support import user_with_token, wait_until

from aibridge.cli import build_cli
from aibridge.config.loader import load_config
from aibridge.server import startup_banner

HELLO = [{"role": "user", "content": "Say hello."}]
PREFIXES = ("/api/v2/ai-gateway", "/api/v2/aibridge")

CODER_YAML = """\
networking:
  accessURL: https://coder.example.com
telemetry:
  enable: false
oidc:
ai_gateway:
  retention: 90d
"""


@pytest.fixture
def server_environ(process_environ, tmp_path):
    return {**process_environ, "CODER_DATA_DIR": str(tmp_path / "data")}


@pytest.mark.parametrize(
    "args, environ, yaml, expected",
    [
        ([], {"CODER_AIBRIDGE_ENABLED": "true", "CODER_AI_GATEWAY_ENABLED": "true"}, None,
         "CODER_AIBRIDGE_ENABLED and CODER_AI_GATEWAY_ENABLED are both set: "
         "set only one (CODER_AI_GATEWAY_ENABLED is the preferred name)"),
        (["--aibridge-retention", "1d", "--ai-gateway-retention", "2d"], {}, None,
         "--aibridge-retention and --ai-gateway-retention are both set: "
         "set only one (--ai-gateway-retention is the preferred name)"),
        ([], {}, "aibridge:\n  openai_key: a\nai_gateway:\n  openai_key: b\n",
         "{path}: aibridge.openai_key and ai_gateway.openai_key are both set: "
         "set only one (ai_gateway.openai_key is the preferred name)"),
        ([], {"CODER_AIBRIDGE_PROVIDER_0_TYPE": "openai", "CODER_AI_GATEWAY_PROVIDER_0_TYPE": "anthropic"}, None,
         "CODER_AIBRIDGE_PROVIDER_0_TYPE and CODER_AI_GATEWAY_PROVIDER_0_TYPE are both set: use one prefix only, "
         "CODER_AI_GATEWAY_PROVIDER_<N>_* (preferred) or CODER_AIBRIDGE_PROVIDER_<N>_*"),
        ([], {}, "networking:\n  accessURL: x\naibrige:\n  enabled: true\n",
         "{path}: unknown setting 'aibrige' (did you mean 'aibridge'?)"),
    ],
    ids=["env", "flags", "yaml", "indexed", "group-typo"],
)  # fmt: skip
def test_a_setting_under_both_names_stops_the_server_in_one_line(
    aibridge_script, spawn, server_environ, tmp_path, args, environ, yaml, expected
):
    path = tmp_path / "coder.yaml"
    if yaml is not None:
        path.write_text(yaml)
        args = [*args, "--config", path]
    server = spawn([aibridge_script, "server", "--http-address", "127.0.0.1:0", *args], {**server_environ, **environ})
    assert server.wait() == 2
    assert server.stderr == f"aibridge: error: {expected.format(path=path)}\n"


@pytest.fixture(scope="module")
def upstream():
    with FakeUpstream() as fake:
        yield fake


def test_both_prefixes_route_without_redirects(gateway, token, upstream):
    upstream.reset()
    headers = {"Authorization": f"Bearer {token}"}
    for prefix in PREFIXES:
        upstream.queue("openai/models_list")
        models = openai.OpenAI(api_key=token, base_url=f"{gateway.url}{prefix}/openai/v1", max_retries=0).models.list()
        assert models.data
        bare = requests.get(f"{gateway.url}{prefix}/openai", headers=headers, allow_redirects=False, timeout=10)
        assert bare.status_code == 404
        assert bare.json()["error"]["message"] == "openai provider 'openai' has no route GET /"
        unknown = requests.get(f"{gateway.url}{prefix}/nope/v1/models", headers=headers, allow_redirects=False,
                               timeout=10)  # fmt: skip
        assert unknown.status_code == 404 and "no AI Bridge provider named 'nope'" in unknown.text
    assert [request.path for request in upstream.requests] == ["/v1/models", "/v1/models"]


def test_new_names_warning_both_route_prefixes_and_both_metric_prefixes(
    aibridge_script, spawn, server_environ, tmp_path, upstream
):
    upstream.reset()
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    _, token = user_with_token(data_dir / "aibridge.db", "olivia", "owner")
    config = tmp_path / "coder.yaml"
    config.write_text(CODER_YAML)
    environ = {
        **server_environ,
        "CODER_AI_GATEWAY_ANTHROPIC_BASE_URL": upstream.url, "CODER_AI_GATEWAY_ANTHROPIC_KEY": "sk-ant-upstream",
        "CODER_AI_GATEWAY_OPENAI_BASE_URL": upstream.url + "/v1", "CODER_AI_GATEWAY_OPENAI_KEY": "sk-openai-upstream",
        "CODER_AIBRIDGE_ANTROPIC_KEY": "sk-misspelt",
    }  # fmt: skip
    server = spawn([aibridge_script, "server", "--http-address", "127.0.0.1:0", "--ai-gateway-enabled",
                    "--config", config, "--prometheus-enable", "--prometheus-address", "127.0.0.1:0"], environ)  # fmt: skip
    server.wait_for_line(
        r"WARNING aibridge: CODER_AIBRIDGE_ANTROPIC_KEY names no setting of this gateway and is ignored "
        r"\(did you mean CODER_AIBRIDGE_ANTHROPIC_KEY\?\)$"
    )
    metrics_url = server.wait_for_line(r"serving Prometheus metrics on (http://127\.0\.0\.1:\d+/metrics)").group(1)
    url = server.wait_for_line(r"aibridge listening on (http://127\.0\.0\.1:\d+)").group(1)
    server.wait_for_line(
        rf"providers: openai, anthropic  \(clients use {url}/api/v2/ai-gateway/<name>/; "
        r"/api/v2/aibridge/<name>/ works too\)"
    )

    for prefix in PREFIXES:
        upstream.queue("anthropic/stream_text")
        claude = anthropic.Anthropic(api_key=token, base_url=f"{url}{prefix}/anthropic", max_retries=0)
        with claude.messages.stream(model="claude-sonnet-4-6", max_tokens=64, messages=HELLO) as stream:
            assert stream.get_final_text()
        upstream.queue("openai/chat_blocking_text")
        gpt = openai.OpenAI(api_key=token, base_url=f"{url}{prefix}/openai/v1", max_retries=0)
        assert gpt.chat.completions.create(model="gpt-4.1", messages=HELLO).choices[0].message.content
    paths = [request.path for request in upstream.requests]
    assert paths == ["/v1/messages", "/v1/chat/completions"] * 2

    def listed(prefix: str) -> dict:
        response = requests.get(f"{url}{prefix}/interceptions", headers={"Authorization": f"Bearer {token}"},
                                allow_redirects=False, timeout=10)  # fmt: skip
        assert response.status_code == 200, response.text
        return response.json()

    wait_until(lambda: listed(PREFIXES[0])["count"] == 4, what="four recorded interceptions")
    assert listed(PREFIXES[1]) == listed(PREFIXES[0])
    usages = [requests.get(f"{url}{prefix}/usage", headers={"X-Api-Key": token}, allow_redirects=False, timeout=10)
              for prefix in PREFIXES]  # fmt: skip
    assert [u.status_code for u in usages] == [200, 200] and usages[0].json() == usages[1].json()

    samples = _scrape_when(metrics_url, "coder_aibridged_interceptions_total", 4)
    for name in ("interceptions_total", "prompts_total", "tokens_total", "interceptions_duration_seconds_count"):
        old = {_key(s) for s in samples if s.name == "coder_aibridged_" + name}
        new = {_key(s) for s in samples if s.name == "coder_ai_gateway_" + name}
        assert old and new == old, name
    assert not [s.name for s in samples if s.name.startswith("coder_ai_gateway_") and s.name.endswith("_created")]

    server.proc.send_signal(signal.SIGTERM)
    assert server.wait() == 0, server.stderr
    assert "Traceback" not in server.stderr and "sk-misspelt" not in server.stderr


def _key(sample) -> tuple:
    return tuple(sorted(sample.labels.items())), sample.value


def _scrape_when(url: str, name: str, count: int) -> list:
    """The endpoint's samples, once ``name`` adds up to ``count`` (interceptions are counted as they end)."""

    def samples():
        text = requests.get(url, timeout=10).text
        found = [s for family in text_string_to_metric_families(text) for s in family.samples]
        return found if sum(s.value for s in found if s.name == name) >= count else None

    return wait_until(samples, what=f"{name} to reach {count}")


def test_the_banner_names_the_new_settings_when_disabled(clean_environ):
    banner = startup_banner(load_config({}, clean_environ), ("127.0.0.1", 3000))
    assert "clients use http://127.0.0.1:3000/api/v2/ai-gateway/<name>/; /api/v2/aibridge/<name>/ works too" in banner
    assert "note: AI Gateway is not enabled; set CODER_AI_GATEWAY_ENABLED=true or --ai-gateway-enabled" in banner
    assert "not enabled" not in startup_banner(load_config({"ai-gateway-enabled": "true"}, clean_environ), ("::1", 1))


def test_plugin_commands_take_both_names(clean_environ, tmp_path):
    """``config_options`` gives a plugin's command both flags of a gateway option (here: retention purge)."""
    cli = build_cli(clean_environ)
    runner = CliRunner()
    common = ["--data-dir", str(tmp_path / "data")]
    for flag in ("--ai-gateway-retention", "--aibridge-retention"):
        result = runner.invoke(cli, ["retention", "purge", flag, "0", *common], env=clean_environ)
        assert result.exit_code == 0, result.output
        assert result.stdout.startswith("retention is 0")
    both = runner.invoke(cli, ["retention", "purge", "--aibridge-retention", "0", "--ai-gateway-retention", "0", *common],
                         env=clean_environ)  # fmt: skip
    assert both.exit_code == 2
    assert both.stderr == (
        "aibridge: error: --aibridge-retention and --ai-gateway-retention are both set: "
        "set only one (--ai-gateway-retention is the preferred name)\n"
    )
