"""Options: flag > environment > YAML > default, value parsing, the YAML file, the data directory."""

import datetime as dt

import pytest
from support.config_support import config_error, write_yaml

from aibridge.config.loader import load_config
from aibridge.config.options import OPTIONS


def test_defaults(clean_environ, tmp_path):
    config = load_config({}, clean_environ)
    assert config.enabled is False
    assert config.http_address == "127.0.0.1:3000"
    assert config.retention == dt.timedelta(days=60)
    assert config.max_request_body == 32 * 1024 * 1024
    assert config.upstream_timeout == 600
    assert config.shutdown_grace == 30
    assert config.mcp_max_rounds == 10
    assert config.prometheus_address == "127.0.0.1:2112"
    assert config.log_human == "/dev/stderr" and config.log_json == ""
    assert config.disable_plugins == ()
    assert config.data_dir == tmp_path / "xdg" / "aibridge"
    assert config.data_dir.is_dir()


def test_data_dir_falls_back_to_home_without_xdg(tmp_path):
    config = load_config({}, {"HOME": str(tmp_path / "home")})
    assert config.data_dir == tmp_path / "home" / ".local" / "share" / "aibridge"
    assert config.data_dir.is_dir()


@pytest.mark.parametrize(
    "name, env, yaml_text, flag_value, env_value, yaml_value, field, expected",
    [
        ("aibridge-retention", "CODER_AIBRIDGE_RETENTION", "aibridge:\n  retention: {}\n",
         "1d", "2w", "90d", "retention", {"flag": dt.timedelta(days=1), "env": dt.timedelta(weeks=2), "yaml": dt.timedelta(days=90)}),
        ("http-address", "CODER_HTTP_ADDRESS", "http_address: {}\n",
         "127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3", "http_address", {"flag": "127.0.0.1:1", "env": "127.0.0.1:2", "yaml": "127.0.0.1:3"}),
        ("aibridge-enabled", "CODER_AIBRIDGE_ENABLED", "aibridge:\n  enabled: {}\n",
         "false", "false", "true", "enabled", {"flag": False, "env": False, "yaml": True}),
        ("aibridge-max-request-body", "CODER_AIBRIDGE_MAX_REQUEST_BODY", "aibridge:\n  max_request_body: {}\n",
         "1KiB", "2KiB", "3KiB", "max_request_body", {"flag": 1024, "env": 2048, "yaml": 3072}),
        ("log-json", "CODER_LOGGING_JSON", "log_json: {}\n",
         "/tmp/a.json", "/tmp/b.json", "/tmp/c.json", "log_json", {"flag": "/tmp/a.json", "env": "/tmp/b.json", "yaml": "/tmp/c.json"}),
        ("aibridge-disable-plugins", "CODER_AIBRIDGE_DISABLE_PLUGINS", "aibridge:\n  disable_plugins: {}\n",
         "a", "b,c", "[d, e]", "disable_plugins", {"flag": ("a",), "env": ("b", "c"), "yaml": ("d", "e")}),
    ],
)  # fmt: skip
def test_precedence_flag_env_yaml(tmp_path, clean_environ, name, env, yaml_text, flag_value, env_value, yaml_value, field, expected):
    path = write_yaml(tmp_path, yaml_text.format(yaml_value))
    with_yaml = {**clean_environ, "CODER_CONFIG_PATH": path}
    assert getattr(load_config({}, with_yaml), field) == expected["yaml"]
    with_env = {**with_yaml, env: env_value}
    assert getattr(load_config({}, with_env), field) == expected["env"]
    assert getattr(load_config({name: flag_value}, with_env), field) == expected["flag"]
    # None means "flag not given": the environment still wins over YAML.
    assert getattr(load_config({name: None}, with_env), field) == expected["env"]


def test_cli_values_accept_click_parameter_names(clean_environ):
    config = load_config({"aibridge_retention": "3d", "--http-address": ":8080"}, clean_environ)
    assert config.retention == dt.timedelta(days=3)
    assert config.http_address == ":8080"


def test_every_option_has_three_spellings():
    for opt in OPTIONS:
        assert opt.flag == "--" + opt.name
        assert opt.env.startswith("CODER_")
        if opt.name != "config":
            assert opt.yaml_key
    names = [opt.env for opt in OPTIONS]
    assert len(names) == len(set(names))
    assert {opt.env for opt in OPTIONS} >= {
        "CODER_AIBRIDGE_ENABLED", "CODER_AIBRIDGE_OPENAI_KEY", "CODER_AIBRIDGE_OPENAI_BASE_URL",
        "CODER_AIBRIDGE_ANTHROPIC_KEY", "CODER_AIBRIDGE_ANTHROPIC_BASE_URL", "CODER_AIBRIDGE_BEDROCK_REGION",
        "CODER_AIBRIDGE_BEDROCK_BASE_URL", "CODER_AIBRIDGE_BEDROCK_ACCESS_KEY", "CODER_AIBRIDGE_BEDROCK_ACCESS_KEY_SECRET",
        "CODER_AIBRIDGE_BEDROCK_MODEL", "CODER_AIBRIDGE_BEDROCK_SMALL_FAST_MODEL", "CODER_AIBRIDGE_RETENTION",
        "CODER_AIBRIDGE_STRUCTURED_LOGGING", "CODER_LOGGING_HUMAN", "CODER_LOGGING_JSON", "CODER_HTTP_ADDRESS",
        "CODER_CONFIG_PATH", "CODER_DATA_DIR", "CODER_AIBRIDGE_ALLOW_BYOK", "CODER_AIBRIDGE_SEND_ACTOR_HEADERS",
        "CODER_AIBRIDGE_MAX_REQUEST_BODY", "CODER_AIBRIDGE_UPSTREAM_TIMEOUT", "CODER_AIBRIDGE_DISABLE_PLUGINS",
        "CODER_PROMETHEUS_ENABLE", "CODER_PROMETHEUS_ADDRESS", "CODER_AIBRIDGE_MCP_MAX_ROUNDS", "CODER_SHUTDOWN_GRACE",
    }  # fmt: skip


def test_yaml_block_and_top_level_keys(tmp_path, clean_environ):
    path = write_yaml(
        tmp_path,
        f"""
http_address: 0.0.0.0:4000
data_dir: {tmp_path / "data"}
log_human: ""
shutdown_grace: 1m
prometheus_enable: true
aibridge:
  enabled: true
  retention: 0
  structured_logging: yes
  allow_byok: true
  send_actor_headers: true
  upstream_timeout: 90s
  mcp_max_rounds: 3
""",
    )
    config = load_config({"config": path}, clean_environ)
    assert config.http_address == "0.0.0.0:4000"
    assert config.data_dir == tmp_path / "data"
    assert config.log_human == ""
    assert config.shutdown_grace == 60
    assert config.prometheus_enable is True
    assert config.enabled and config.structured_logging and config.allow_byok and config.send_actor_headers
    assert config.retention == dt.timedelta(0)
    assert config.upstream_timeout == 90
    assert config.mcp_max_rounds == 3
    assert config.config_path == path


def test_yaml_key_without_value_leaves_the_default(tmp_path, clean_environ):
    path = write_yaml(tmp_path, "aibridge:\n  retention:\n")
    assert load_config({"config": path}, clean_environ).retention == dt.timedelta(days=60)


def test_bool_flag_alone_and_with_value(clean_environ):
    assert load_config({"aibridge-enabled": "true"}, clean_environ).enabled is True
    assert load_config({"aibridge-enabled": "FALSE"}, clean_environ).enabled is False
    assert load_config({"aibridge-enabled": True}, clean_environ).enabled is True


@pytest.mark.parametrize(
    "environ_update, expected_start",
    [
        ({"CODER_AIBRIDGE_RETENTION": "forever"}, "CODER_AIBRIDGE_RETENTION: invalid duration 'forever'"),
        ({"CODER_AIBRIDGE_ENABLED": "maybe"}, "CODER_AIBRIDGE_ENABLED: expected true or false"),
        ({"CODER_HTTP_ADDRESS": "localhost"}, "CODER_HTTP_ADDRESS: expected host:port"),
        ({"CODER_HTTP_ADDRESS": "127.0.0.1:99999"}, "CODER_HTTP_ADDRESS: expected host:port"),
        ({"CODER_PROMETHEUS_ADDRESS": "::1:80"}, "CODER_PROMETHEUS_ADDRESS: write IPv6 addresses in brackets"),
        ({"CODER_AIBRIDGE_MAX_REQUEST_BODY": "lots"}, "CODER_AIBRIDGE_MAX_REQUEST_BODY: invalid size"),
        ({"CODER_AIBRIDGE_MCP_MAX_ROUNDS": "0"}, "CODER_AIBRIDGE_MCP_MAX_ROUNDS: must be at least 1"),
        ({"CODER_AIBRIDGE_UPSTREAM_TIMEOUT": "0s"}, "CODER_AIBRIDGE_UPSTREAM_TIMEOUT: must be longer than 0"),
        ({"CODER_SHUTDOWN_GRACE": "soon"}, "CODER_SHUTDOWN_GRACE: invalid duration"),
        ({"CODER_AIBRIDGE_OPENAI_BASE_URL": "api.openai.com"}, "CODER_AIBRIDGE_OPENAI_BASE_URL: expected an http:// or https:// URL"),
    ],
)
def test_bad_values_name_the_variable(clean_environ, environ_update, expected_start):
    assert config_error(environ={**clean_environ, **environ_update}).startswith(expected_start)


def test_bad_flag_value_names_the_flag(clean_environ):
    assert config_error({"aibridge-retention": "1y"}, clean_environ).startswith("--aibridge-retention: invalid duration")


def test_bad_yaml_value_names_the_key_and_file(tmp_path, clean_environ):
    path = write_yaml(tmp_path, "aibridge:\n  retention: soon\n")
    message = config_error({"config": path}, clean_environ)
    assert message.startswith(f"aibridge.retention in {path}: invalid duration 'soon'")


def test_unknown_yaml_key_is_an_error_with_a_suggestion(tmp_path, clean_environ):
    path = write_yaml(tmp_path, "aibridge:\n  retension: 90d\n")
    assert config_error({"config": path}, clean_environ) == (
        f"{path}: unknown setting 'aibridge.retension' (did you mean 'retention'?)"
    )
    path = write_yaml(tmp_path, "http_adress: :3000\n")
    assert "unknown setting 'http_adress'" in config_error({"config": path}, clean_environ)


def test_malformed_yaml(tmp_path, clean_environ):
    path = write_yaml(tmp_path, "aibridge:\n  retention: [90d\n  enabled: true\n")
    message = config_error({"config": path}, clean_environ)
    assert message.startswith(f"{path}: invalid YAML at line ")


def test_yaml_that_is_not_a_mapping(tmp_path, clean_environ):
    path = write_yaml(tmp_path, "- just\n- a list\n")
    assert config_error({"config": path}, clean_environ) == f"{path}: expected a mapping of settings at the top level"


def test_missing_config_file_names_the_setting(tmp_path, clean_environ):
    missing = tmp_path / "nope.yaml"
    assert config_error({}, {**clean_environ, "CODER_CONFIG_PATH": str(missing)}) == (
        f"CODER_CONFIG_PATH: cannot read {missing}: No such file or directory"
    )
    assert config_error({"config": str(missing)}, clean_environ).startswith("--config: cannot read")


def test_data_dir_that_cannot_be_created(tmp_path, clean_environ):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    message = config_error({"data-dir": str(blocker / "data")}, clean_environ)
    assert message.startswith(f"--data-dir: cannot create the data directory {blocker / 'data'}")
    assert config_error({}, {**clean_environ, "CODER_DATA_DIR": str(blocker)}) == (
        f"CODER_DATA_DIR: {blocker} exists and is not a directory"
    )


def test_data_dir_is_created_with_parents(tmp_path, clean_environ):
    target = tmp_path / "deep" / "er" / "data"
    assert load_config({"data-dir": str(target)}, clean_environ).data_dir == target
    assert target.is_dir()


def test_secrets_stay_out_of_repr_and_errors(clean_environ):
    environ = {
        **clean_environ,
        "CODER_AIBRIDGE_OPENAI_KEY": "sk-very-secret-openai",
        "CODER_AIBRIDGE_MCP_SERVER_0_NAME": "docs",
        "CODER_AIBRIDGE_MCP_SERVER_0_URL": "http://127.0.0.1:9/mcp",
        "CODER_AIBRIDGE_MCP_SERVER_0_TOKEN": "mcp-very-secret",
        "CODER_AIBRIDGE_BEDROCK_REGION": "us-east-1",
        "CODER_AIBRIDGE_BEDROCK_ACCESS_KEY": "AKIAVERYSECRET",
        "CODER_AIBRIDGE_BEDROCK_ACCESS_KEY_SECRET": "bedrock-very-secret",
        "CODER_AIBRIDGE_BEDROCK_MODEL": "m",
        "CODER_AIBRIDGE_BEDROCK_SMALL_FAST_MODEL": "s",
    }
    config = load_config({}, environ)
    assert config.provider("openai").keys == ("sk-very-secret-openai",)
    text = repr(config) + str(config)
    for secret in ("sk-very-secret-openai", "mcp-very-secret", "AKIAVERYSECRET", "bedrock-very-secret"):
        assert secret not in text


def test_unknown_cli_option_is_a_programming_error(clean_environ):
    with pytest.raises(ValueError):
        load_config({"no-such-option": "1"}, clean_environ)
