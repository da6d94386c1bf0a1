"""The AI Gateway names next to the AI Bridge ones: both work, one setting under both is an error,
a shared coder.yaml starts, unknown gateway variables are warned about (all through the real loader)."""

import datetime as dt

import pytest
from support.config_support import config_error, write_yaml

from aibridge.config.loader import load_config
from aibridge.config.options import OPTIONS, option

GATEWAY_OPTIONS = [opt for opt in OPTIONS if opt.name.startswith("aibridge-")]
OTHER_OPTIONS = [opt for opt in OPTIONS if not opt.name.startswith("aibridge-")]


def test_every_gateway_option_has_both_names_and_the_others_one():
    for opt in GATEWAY_OPTIONS:
        rest = opt.name.removeprefix("aibridge-")
        new, old = opt.spellings
        assert (new.flag, old.flag) == (f"--ai-gateway-{rest}", f"--aibridge-{rest}")
        env_rest = rest.upper().replace("-", "_")
        assert (new.env, old.env) == (f"CODER_AI_GATEWAY_{env_rest}", f"CODER_AIBRIDGE_{env_rest}")
        assert (new.yaml_path, old.yaml_path) == (("ai_gateway", rest.replace("-", "_")), ("aibridge", rest.replace("-", "_")))
        assert option(new.flag) is option(old.flag) is opt
    for opt in OTHER_OPTIONS:
        assert [s.flag for s in opt.spellings] == [opt.flag]
    assert {"aibridge-enabled", "aibridge-retention"} <= {o.name for o in GATEWAY_OPTIONS} and {o.name for o in OTHER_OPTIONS} >= {"http-address", "data-dir", "log-json"}


@pytest.mark.parametrize(
    "layer, given",
    [
        ("env", lambda path: ({}, {"CODER_AI_GATEWAY_RETENTION": "3d", "CODER_AI_GATEWAY_ENABLED": "true"})),
        ("flag", lambda path: ({"--ai-gateway-retention": "3d", "ai_gateway_enabled": "true"}, {})),
        ("yaml", lambda path: ({"config": path}, {})),
    ],
)
def test_the_new_names_set_the_options(tmp_path, clean_environ, layer, given):
    path = write_yaml(tmp_path, "ai_gateway:\n  retention: 3d\n  enabled: true\n")
    cli, environ = given(path)
    config = load_config(cli, {**clean_environ, **environ})
    assert config.retention == dt.timedelta(days=3) and config.enabled is True


def test_new_names_configure_the_legacy_providers(clean_environ):
    config = load_config({"ai-gateway-openai-key": "sk-flag"}, {
        **clean_environ, "CODER_AI_GATEWAY_ANTHROPIC_KEY": "sk-ant-env",
        "CODER_AI_GATEWAY_ANTHROPIC_BASE_URL": "http://127.0.0.1:9/anthropic",
    })  # fmt: skip
    assert config.provider("openai").keys == ("sk-flag",)
    assert config.provider("anthropic").keys == ("sk-ant-env",)
    assert config.provider("anthropic").base_url == "http://127.0.0.1:9/anthropic"


def test_precedence_holds_across_the_two_names(tmp_path, clean_environ):
    path = write_yaml(tmp_path, "aibridge:\n  retention: 1d\n")
    environ = {**clean_environ, "CODER_CONFIG_PATH": path}
    assert load_config({}, environ).retention == dt.timedelta(days=1)
    with_env = {**environ, "CODER_AI_GATEWAY_RETENTION": "2d"}
    assert load_config({}, with_env).retention == dt.timedelta(days=2)
    assert load_config({"aibridge-retention": "3d"}, with_env).retention == dt.timedelta(days=3)
    old_env = {**environ, "CODER_AIBRIDGE_RETENTION": "4d"}
    assert load_config({"ai-gateway-retention": "5d"}, old_env).retention == dt.timedelta(days=5)


@pytest.mark.parametrize("opt", GATEWAY_OPTIONS, ids=lambda opt: opt.name)
def test_both_variables_of_one_setting_is_an_error(clean_environ, opt):
    new, old = opt.spellings
    environ = {**clean_environ, new.env: opt.default or "x", old.env: opt.default or "x"}
    assert config_error({}, environ) == (
        f"{old.env} and {new.env} are both set: set only one ({new.env} is the preferred name)"
    )


@pytest.mark.parametrize("opt", GATEWAY_OPTIONS, ids=lambda opt: opt.name)
def test_both_flags_of_one_setting_is_an_error(clean_environ, opt):
    new, old = opt.spellings
    cli = {new.param: opt.default or "x", old.param: opt.default or "x"}
    assert config_error(cli, clean_environ) == (
        f"{old.flag} and {new.flag} are both set: set only one ({new.flag} is the preferred name)"
    )


def test_both_variables_are_an_error_even_when_a_flag_wins(clean_environ):
    environ = {**clean_environ, "CODER_AIBRIDGE_RETENTION": "1d", "CODER_AI_GATEWAY_RETENTION": "1d"}
    assert "are both set" in config_error({"ai-gateway-retention": "2d"}, environ)


def test_one_name_per_setting_may_differ_between_settings(clean_environ):
    config = load_config({"aibridge-enabled": "true"}, {
        **clean_environ, "CODER_AIBRIDGE_OPENAI_KEY": "sk-old", "CODER_AI_GATEWAY_RETENTION": "2w",
    })  # fmt: skip
    assert config.enabled and config.provider("openai").keys == ("sk-old",)
    assert config.retention == dt.timedelta(weeks=2)


def test_the_same_key_in_both_yaml_groups_is_an_error(tmp_path, clean_environ):
    path = write_yaml(tmp_path, "aibridge:\n  retention: 1d\nai_gateway:\n  retention: 2d\n")
    assert config_error({"config": path}, clean_environ) == (
        f"{path}: aibridge.retention and ai_gateway.retention are both set: "
        "set only one (ai_gateway.retention is the preferred name)"
    )
    path = write_yaml(tmp_path, "ai_gateway:\n  providers: [{type: openai}]\naibridge:\n  providers: [{type: copilot}]\n")
    assert config_error({"config": path}, clean_environ) == (
        f"{path}: aibridge.providers and ai_gateway.providers are both set: "
        "set only one (ai_gateway.providers is the preferred name)"
    )


def test_both_yaml_groups_may_set_different_keys(tmp_path, clean_environ):
    path = write_yaml(tmp_path, "aibridge:\n  retention: 1d\n  enabled:\nai_gateway:\n  enabled: true\n")
    config = load_config({"config": path}, clean_environ)
    assert config.retention == dt.timedelta(days=1) and config.enabled is True


def test_bad_values_name_the_spelling_used(tmp_path, clean_environ):
    assert config_error({}, {**clean_environ, "CODER_AI_GATEWAY_RETENTION": "soon"}).startswith(
        "CODER_AI_GATEWAY_RETENTION: invalid duration 'soon'"
    )
    assert config_error({"ai_gateway_max_request_body": "lots"}, clean_environ).startswith(
        "--ai-gateway-max-request-body: invalid size"
    )
    path = write_yaml(tmp_path, "ai_gateway:\n  enabled: maybe\n")
    assert config_error({"config": path}, clean_environ).startswith(f"ai_gateway.enabled in {path}: expected true or false")


def test_options_that_are_not_the_gateways_have_no_new_name(clean_environ):
    with pytest.raises(ValueError):
        load_config({"ai-gateway-http-address": ":3000"}, clean_environ)
    config = load_config({}, {**clean_environ, "CODER_AI_GATEWAY_HTTP_ADDRESS": "127.0.0.1:1"})
    assert config.http_address == "127.0.0.1:3000"
    assert config.warnings == (
        "CODER_AI_GATEWAY_HTTP_ADDRESS names no setting of this gateway and is ignored "
        "(it may be meant for another Coder component)",
    )


# Indexed providers and MCP servers


def test_indexed_providers_and_mcp_servers_under_the_new_prefix(clean_environ):
    config = load_config({}, {
        **clean_environ,
        "CODER_AI_GATEWAY_PROVIDER_0_TYPE": "anthropic", "CODER_AI_GATEWAY_PROVIDER_0_NAME": "anthropic-corp",
        "CODER_AI_GATEWAY_PROVIDER_1_TYPE": "copilot",
        "CODER_AI_GATEWAY_MCP_SERVER_0_NAME": "docs", "CODER_AI_GATEWAY_MCP_SERVER_0_URL": "http://127.0.0.1:9/mcp",
    })  # fmt: skip
    assert [(p.name, p.source) for p in config.providers] == [
        ("anthropic-corp", "CODER_AI_GATEWAY_PROVIDER_0"), ("copilot", "CODER_AI_GATEWAY_PROVIDER_1"),
    ]  # fmt: skip
    assert [s.name for s in config.mcp_servers] == ["docs"]
    bad = {**clean_environ, "CODER_AI_GATEWAY_PROVIDER_0_TYPE": "openai", "CODER_AI_GATEWAY_PROVIDER_2_TYPE": "openai"}
    assert config_error({}, bad) == (
        "CODER_AI_GATEWAY_PROVIDER_1_*: missing; indices must run 0, 1, 2, ... without gaps (found 0, 2)"
    )


@pytest.mark.parametrize(
    "old, new, kind",
    [
        ({"CODER_AIBRIDGE_PROVIDER_0_TYPE": "openai"}, {"CODER_AI_GATEWAY_PROVIDER_0_TYPE": "copilot"}, "PROVIDER"),
        ({"CODER_AIBRIDGE_PROVIDER_1_NAME": "x"}, {"CODER_AI_GATEWAY_PROVIDER_0_TYPE": "copilot"}, "PROVIDER"),
        ({"CODER_AIBRIDGE_MCP_SERVER_0_NAME": "a"}, {"CODER_AI_GATEWAY_MCP_SERVER_0_URL": "http://h/mcp"}, "MCP_SERVER"),
    ],
)
def test_indexed_entries_under_both_prefixes_is_an_error(clean_environ, old, new, kind):
    [old_variable], [new_variable] = old, new
    assert config_error({}, {**clean_environ, **old, **new}) == (
        f"{old_variable} and {new_variable} are both set: use one prefix only, "
        f"CODER_AI_GATEWAY_{kind}_<N>_* (preferred) or CODER_AIBRIDGE_{kind}_<N>_*"
    )


def test_yaml_lists_under_the_new_group(tmp_path, clean_environ):
    path = write_yaml(tmp_path, (
        "ai_gateway:\n  providers:\n    - type: openai\n      name: corp\n"
        "  mcp_servers:\n    - name: docs\n      url: http://127.0.0.1:9/mcp\n"
    ))  # fmt: skip
    config = load_config({"config": path}, clean_environ)
    assert [(p.name, p.source) for p in config.providers] == [("corp", "ai_gateway.providers[0]")]
    assert [s.name for s in config.mcp_servers] == ["docs"]
    path = write_yaml(tmp_path, "ai_gateway:\n  providers:\n    - type: openai\n      model: x\n")
    assert config_error({"config": path}, clean_environ).startswith(
        f"ai_gateway.providers[0].model in {path}: unknown key 'model'"
    )


def test_a_legacy_setting_and_an_indexed_provider_of_one_name_conflict_under_the_new_names(clean_environ):
    environ = {**clean_environ, "CODER_AI_GATEWAY_OPENAI_KEY": "sk", "CODER_AI_GATEWAY_PROVIDER_0_TYPE": "openai"}
    assert config_error({}, environ) == (
        "CODER_AI_GATEWAY_PROVIDER_0 and CODER_AI_GATEWAY_OPENAI_KEY both define the provider 'openai'; remove one of them"
    )


# A shared coder.yaml

CODER_YAML = """\
networking:
  accessURL: https://coder.example.com
  http:
    httpAddress: 0.0.0.0:3000
telemetry:
  enable: false
introspection:
  prometheus:
    enable: true
oidc:
http_address: 127.0.0.1:4000
ai_gateway:
  enabled: true
  retention: 90d
"""


def test_a_coder_yaml_with_other_groups_starts(tmp_path, clean_environ):
    text = CODER_YAML + "cacheDir: /var/cache/coder\nverbose: true\nnetworking_extra: [a, b]\n"
    config = load_config({"config": write_yaml(tmp_path, text)}, clean_environ)
    assert config.enabled and config.retention == dt.timedelta(days=90)
    assert config.http_address == "127.0.0.1:4000"  # the networking group's httpAddress is not ours


@pytest.mark.parametrize(
    "text, expected",
    [
        ("ai_gateway:\n  retension: 90d\n", "unknown setting 'ai_gateway.retension' (did you mean 'retention'?)"),
        ("aibridge:\n  retension: 90d\n", "unknown setting 'aibridge.retension' (did you mean 'retention'?)"),
        ("aibrige:\n  retention: 90d\n", "unknown setting 'aibrige' (did you mean 'aibridge'?)"),
        ("ai-gateway:\n  retention: 90d\n", "unknown setting 'ai-gateway' (did you mean 'ai_gateway'?)"),
        ("http_adress: :3000\n", "unknown setting 'http_adress' (did you mean 'http_address'?)"),
        ("retention: 90d\n", "unknown setting 'retention' (did you mean 'ai_gateway.retention'?)"),
        ("data_dirr: /srv\n", "unknown setting 'data_dirr' (did you mean 'data_dir'?)"),
    ],
)
def test_typos_of_ours_are_still_errors(tmp_path, clean_environ, text, expected):
    path = write_yaml(tmp_path, CODER_YAML + text)
    assert config_error({"config": path}, clean_environ) == f"{path}: {expected}"


# Unknown variables with a gateway prefix


def test_an_unknown_gateway_variable_is_a_warning_naming_the_closest_setting(clean_environ):
    config = load_config({}, {
        **clean_environ,
        "CODER_AIBRIDGE_ANTROPIC_KEY": "sk", "CODER_AI_GATEWAY_RETENSION": "1d",
        "CODER_AI_GATEWAY_PROVIDERS_1_TYPE": "openai", "CODER_AIBRIDGE_RETENTION_PERIOD": "90d",
        "CODER_AIBRIDGE_INJECT_CODER_MCP_TOOLS": "true",
        "CODER_AIBRIDGE_ENABLED": "true", "CODER_AI_GATEWAY_PROVIDER_0_TYPE": "openai",
        "CODER_ACCESS_URL": "https://coder.example.com",
    })  # fmt: skip
    assert config.enabled
    assert config.warnings == (
        "CODER_AIBRIDGE_ANTROPIC_KEY names no setting of this gateway and is ignored "
        "(did you mean CODER_AIBRIDGE_ANTHROPIC_KEY?)",
        "CODER_AIBRIDGE_INJECT_CODER_MCP_TOOLS names no setting of this gateway and is ignored "
        "(it may be meant for another Coder component)",
        "CODER_AIBRIDGE_RETENTION_PERIOD names no setting of this gateway and is ignored "
        "(did you mean CODER_AIBRIDGE_RETENTION?)",
        "CODER_AI_GATEWAY_PROVIDERS_1_TYPE names no setting of this gateway and is ignored "
        "(did you mean CODER_AI_GATEWAY_PROVIDER_1_TYPE?)",
        "CODER_AI_GATEWAY_RETENSION names no setting of this gateway and is ignored "
        "(did you mean CODER_AI_GATEWAY_RETENTION?)",
    )
    assert config.retention == dt.timedelta(days=60)


def test_known_variables_under_either_name_give_no_warning(clean_environ):
    environ = {**clean_environ, "CODER_CONFIG_PATH": "", "CODER_LOGGING_JSON": ""}
    for number, opt in enumerate(GATEWAY_OPTIONS):  # every other one under its old name
        environ[opt.spellings[number % 2].env] = opt.default
    environ.update(CODER_AIBRIDGE_PROVIDER_0_TYPE="copilot", CODER_AI_GATEWAY_MCP_SERVER_0_NAME="docs",
                   CODER_AI_GATEWAY_MCP_SERVER_0_URL="http://127.0.0.1:9/mcp")  # fmt: skip
    assert load_config({}, environ).warnings == ()


@pytest.mark.parametrize("prefix", ["CODER_AI_GATEWAY_", "CODER_AIBRIDGE_"])
def test_a_missing_bedrock_setting_is_named_in_the_name_set_in_use(clean_environ, prefix):
    assert config_error({}, {**clean_environ, prefix + "BEDROCK_REGION": "us-east-1"}) == (
        f"{prefix}BEDROCK_MODEL is required to use Bedrock"
    )


def test_a_missing_bedrock_setting_after_new_flags_is_named_by_its_new_variable(clean_environ):
    flags = {"ai-gateway-bedrock-model": "m", "ai-gateway-bedrock-small-fast-model": "s"}
    assert config_error(flags, clean_environ) == (
        "CODER_AI_GATEWAY_BEDROCK_REGION or CODER_AI_GATEWAY_BEDROCK_BASE_URL is required to use Bedrock"
    )
