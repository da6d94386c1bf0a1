"""Provider instances: legacy settings, indexed variables, YAML lists, and every validation rule."""

import re
from pathlib import Path

import pytest
from support.config_support import config_error

from aibridge.config.loader import load_config

DOCS = Path(__file__).resolve().parent.parent / "docs" / "configuration.md"


def providers(environ, cli=None):
    return {p.name: p for p in load_config(cli or {}, environ).providers}


def error(environ, cli=None) -> str:
    return config_error(cli, environ)


def docs_block(language: str, after_heading: str) -> str:
    text = DOCS.read_text()
    section = text[text.index(after_heading) :]
    return re.search(rf"```{language}\n(.*?)```", section, re.S).group(1)


def test_nothing_configured_gives_both_legacy_instances(clean_environ):
    found = providers(clean_environ)
    assert list(found) == ["openai", "anthropic"]
    assert found["openai"].base_url == "https://api.openai.com/v1"
    assert found["anthropic"].base_url == "https://api.anthropic.com"
    assert found["openai"].keys == () and found["anthropic"].keys == ()
    assert found["openai"].source == "legacy"


def test_legacy_keys_and_base_urls(clean_environ):
    found = providers(
        {
            **clean_environ,
            "CODER_AIBRIDGE_OPENAI_KEY": "sk-openai",
            "CODER_AIBRIDGE_OPENAI_BASE_URL": "http://127.0.0.1:9999/v1/",
        },
        {"aibridge-anthropic-key": "sk-ant"},
    )
    assert found["openai"].keys == ("sk-openai",)
    assert found["openai"].base_url == "http://127.0.0.1:9999/v1"
    assert found["anthropic"].keys == ("sk-ant",)


def test_indexed_providers_replace_the_unconfigured_legacy_ones(clean_environ):
    found = providers({**clean_environ, "CODER_AIBRIDGE_PROVIDER_0_TYPE": "copilot"})
    assert list(found) == ["copilot"]
    assert found["copilot"].base_url == "https://api.individual.githubcopilot.com"
    assert found["copilot"].source == "CODER_AIBRIDGE_PROVIDER_0"


def test_indexed_with_defaults_per_type(clean_environ):
    found = providers(
        {
            **clean_environ,
            "CODER_AIBRIDGE_PROVIDER_0_TYPE": "openai",
            "CODER_AIBRIDGE_PROVIDER_1_TYPE": "anthropic",
            "CODER_AIBRIDGE_PROVIDER_1_KEYS": "k1, k2,k3",
            "CODER_AIBRIDGE_PROVIDER_2_TYPE": "openai",
            "CODER_AIBRIDGE_PROVIDER_2_NAME": "local-llm",
            "CODER_AIBRIDGE_PROVIDER_2_BASE_URL": "http://127.0.0.1:8000/v1/",
            "CODER_AIBRIDGE_PROVIDER_2_KEY": "abc",
        }
    )
    assert [(p.name, p.type) for p in found.values()] == [
        ("openai", "openai"),
        ("anthropic", "anthropic"),
        ("local-llm", "openai"),
    ]
    assert found["anthropic"].keys == ("k1", "k2", "k3")
    assert found["local-llm"].base_url == "http://127.0.0.1:8000/v1"
    assert found["local-llm"].keys == ("abc",)


def test_six_instance_example_from_the_docs(clean_environ):
    environ = dict(clean_environ)
    for line in docs_block("sh", "### Example: six provider instances").splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.partition("=")
            environ[name] = value
    found = providers(environ)
    assert list(found) == ["openai", "anthropic-corp", "anthropic-direct", "azure-openai", "anthropic-bedrock", "copilot"]
    assert found["openai"].keys == ("sk-openai-example",) and found["openai"].source == "legacy"
    assert found["anthropic-corp"].keys == ("sk-ant-corp-example",)
    assert found["anthropic-direct"].keys == () and found["anthropic-direct"].bedrock is None
    assert found["azure-openai"].base_url == "https://example-resource.openai.azure.com/openai/v1"
    bedrock = found["anthropic-bedrock"].bedrock
    assert bedrock.region == "us-west-2"
    assert bedrock.base_url == "https://bedrock-runtime.us-west-2.amazonaws.com"
    assert bedrock.access_keys == ("AKIAEXAMPLEKEYID",)
    assert bedrock.access_key_secrets == ("example-secret-access-key",)
    assert bedrock.model.startswith("us.anthropic.claude-sonnet")
    assert "haiku" in bedrock.small_fast_model
    assert found["copilot"].type == "copilot"


def test_six_instance_yaml_example_from_the_docs_matches(tmp_path, clean_environ):
    path = tmp_path / "aibridge.yaml"
    path.write_text(docs_block("yaml", "The same in YAML"))
    from_yaml = load_config({"config": str(path)}, clean_environ)
    assert from_yaml.enabled
    names = [(p.name, p.type, p.base_url, p.keys, p.bedrock) for p in from_yaml.providers]
    assert names == [
        ("openai", "openai", "https://api.openai.com/v1", ("sk-openai-example",), None),
        ("anthropic-corp", "anthropic", "https://api.anthropic.com", ("sk-ant-corp-example",), None),
        ("anthropic-direct", "anthropic", "https://api.anthropic.com", (), None),
        ("azure-openai", "openai", "https://example-resource.openai.azure.com/openai/v1", ("azure-key-example",), None),
        ("anthropic-bedrock", "anthropic", "https://api.anthropic.com", (), from_yaml.provider("anthropic-bedrock").bedrock),
        ("copilot", "copilot", "https://api.individual.githubcopilot.com", (), None),
    ]
    assert from_yaml.provider("anthropic-bedrock").bedrock.region == "us-west-2"
    assert from_yaml.provider("anthropic-bedrock").source == "ai_gateway.providers[3]"


def test_environment_list_replaces_the_yaml_list(tmp_path, clean_environ):
    path = tmp_path / "aibridge.yaml"
    path.write_text("aibridge:\n  providers:\n    - type: openai\n      name: from-yaml\n")
    environ = {**clean_environ, "CODER_CONFIG_PATH": str(path)}
    assert list(providers(environ)) == ["from-yaml"]
    assert list(providers({**environ, "CODER_AIBRIDGE_PROVIDER_0_TYPE": "copilot"})) == ["copilot"]


def test_legacy_bedrock_configures_the_anthropic_instance(clean_environ):
    found = providers(
        {
            **clean_environ,
            "CODER_AIBRIDGE_BEDROCK_BASE_URL": "http://127.0.0.1:7777/",
            "CODER_AIBRIDGE_BEDROCK_MODEL": "big",
            "CODER_AIBRIDGE_BEDROCK_SMALL_FAST_MODEL": "small",
        }
    )
    bedrock = found["anthropic"].bedrock
    assert bedrock.base_url == "http://127.0.0.1:7777"
    assert (bedrock.model, bedrock.small_fast_model, bedrock.access_keys) == ("big", "small", ())
    assert found["openai"].bedrock is None


def test_legacy_bedrock_is_enough_to_keep_the_anthropic_instance_next_to_indexed_ones(clean_environ):
    found = providers(
        {
            **clean_environ,
            "CODER_AIBRIDGE_PROVIDER_0_TYPE": "copilot",
            "CODER_AIBRIDGE_BEDROCK_REGION": "eu-central-1",
            "CODER_AIBRIDGE_BEDROCK_MODEL": "big",
            "CODER_AIBRIDGE_BEDROCK_SMALL_FAST_MODEL": "small",
        }
    )
    assert list(found) == ["anthropic", "copilot"]
    assert found["anthropic"].bedrock.base_url == "https://bedrock-runtime.eu-central-1.amazonaws.com"


def test_indexed_several_bedrock_keys(clean_environ):
    found = providers(
        {
            **clean_environ,
            "CODER_AIBRIDGE_PROVIDER_0_TYPE": "anthropic",
            "CODER_AIBRIDGE_PROVIDER_0_BEDROCK_REGION": "us-east-1",
            "CODER_AIBRIDGE_PROVIDER_0_BEDROCK_ACCESS_KEYS": "a1,a2",
            "CODER_AIBRIDGE_PROVIDER_0_BEDROCK_ACCESS_KEY_SECRETS": "s1,s2",
            "CODER_AIBRIDGE_PROVIDER_0_BEDROCK_MODEL": "m",
            "CODER_AIBRIDGE_PROVIDER_0_BEDROCK_SMALL_FAST_MODEL": "s",
        }
    )
    assert found["anthropic"].bedrock.access_keys == ("a1", "a2")
    assert found["anthropic"].bedrock.access_key_secrets == ("s1", "s2")


P = "CODER_AIBRIDGE_PROVIDER_"


@pytest.mark.parametrize(
    "variables, expected",
    [
        # indices contiguous from 0
        ({P + "0_TYPE": "openai", P + "2_TYPE": "anthropic"},
         "CODER_AIBRIDGE_PROVIDER_1_*: missing; indices must run 0, 1, 2, ... without gaps (found 0, 2)"),
        ({P + "1_TYPE": "openai"}, "CODER_AIBRIDGE_PROVIDER_0_*: missing; indices must run 0, 1, 2, ... without gaps (found 1)"),
        # non-numeric index
        ({P + "X_TYPE": "openai"}, "CODER_AIBRIDGE_PROVIDER_X_TYPE: the index 'X' is not a number"),
        ({P + "01_TYPE": "openai"}, "CODER_AIBRIDGE_PROVIDER_01_TYPE: the index '01' is not a number"),
        # unknown KEY
        ({P + "0_TYPE": "openai", P + "0_MODEL": "gpt"}, "CODER_AIBRIDGE_PROVIDER_0_MODEL: unknown key 'MODEL'"),
        ({P + "0_TYPE": "openai", P + "0_BASEURL": "x"}, "CODER_AIBRIDGE_PROVIDER_0_BASEURL: unknown key 'BASEURL' (did you mean 'BASE_URL'?"),
        # TYPE required and known
        ({P + "0_NAME": "foo"}, "CODER_AIBRIDGE_PROVIDER_0_TYPE is required"),
        ({P + "0_TYPE": "gemini"}, "CODER_AIBRIDGE_PROVIDER_0_TYPE: unknown provider type 'gemini'"),
        # NAME regex
        ({P + "0_TYPE": "openai", P + "0_NAME": "Corp_OpenAI"}, "CODER_AIBRIDGE_PROVIDER_0_NAME: invalid name 'Corp_OpenAI'"),
        ({P + "0_TYPE": "openai", P + "0_NAME": "corp--x"}, "CODER_AIBRIDGE_PROVIDER_0_NAME: invalid name 'corp--x'"),
        ({P + "0_TYPE": "openai", P + "0_NAME": "-corp"}, "CODER_AIBRIDGE_PROVIDER_0_NAME: invalid name '-corp'"),
        # duplicate names
        ({P + "0_TYPE": "openai", P + "0_NAME": "x", P + "1_TYPE": "anthropic", P + "1_NAME": "x"},
         "CODER_AIBRIDGE_PROVIDER_1_NAME: provider name 'x' is already used by CODER_AIBRIDGE_PROVIDER_0"),
        ({P + "0_TYPE": "openai", P + "1_TYPE": "openai"},
         "CODER_AIBRIDGE_PROVIDER_1: another openai provider (CODER_AIBRIDGE_PROVIDER_0) already uses the default "
         "name 'openai'; set CODER_AIBRIDGE_PROVIDER_1_NAME to tell them apart"),
        ({P + "0_TYPE": "anthropic", P + "1_TYPE": "openai", P + "1_NAME": "anthropic"},
         "CODER_AIBRIDGE_PROVIDER_1_NAME: provider name 'anthropic' is already used by CODER_AIBRIDGE_PROVIDER_0"),
        # legacy + indexed of the same name
        ({P + "0_TYPE": "openai", "CODER_AIBRIDGE_OPENAI_KEY": "sk"},
         "CODER_AIBRIDGE_PROVIDER_0 and CODER_AIBRIDGE_OPENAI_KEY both define the provider 'openai'; remove one of them"),
        ({P + "0_TYPE": "openai", P + "0_NAME": "anthropic", "CODER_AIBRIDGE_ANTHROPIC_BASE_URL": "http://127.0.0.1:1"},
         "CODER_AIBRIDGE_PROVIDER_0 and CODER_AIBRIDGE_ANTHROPIC_BASE_URL both define the provider 'anthropic'; remove one of them"),
        # KEY and KEYS together
        ({P + "0_TYPE": "openai", P + "0_KEY": "a", P + "0_KEYS": "b,c"},
         "CODER_AIBRIDGE_PROVIDER_0_KEYS: set either KEY or KEYS, not both"),
        # bedrock keys only on anthropic
        ({P + "0_TYPE": "openai", P + "0_BEDROCK_REGION": "us-east-1"},
         "CODER_AIBRIDGE_PROVIDER_0_BEDROCK_REGION: Bedrock settings apply only to anthropic providers (TYPE is openai)"),
        ({P + "0_TYPE": "copilot", P + "0_BEDROCK_MODEL": "m"},
         "CODER_AIBRIDGE_PROVIDER_0_BEDROCK_MODEL: Bedrock settings apply only to anthropic providers (TYPE is copilot)"),
        # bedrock completeness
        ({P + "0_TYPE": "anthropic", P + "0_BEDROCK_MODEL": "m", P + "0_BEDROCK_SMALL_FAST_MODEL": "s"},
         "CODER_AIBRIDGE_PROVIDER_0_BEDROCK_REGION or CODER_AIBRIDGE_PROVIDER_0_BEDROCK_BASE_URL is required to use Bedrock"),
        ({P + "0_TYPE": "anthropic", P + "0_BEDROCK_REGION": "us-east-1", P + "0_BEDROCK_SMALL_FAST_MODEL": "s"},
         "CODER_AIBRIDGE_PROVIDER_0_BEDROCK_MODEL is required to use Bedrock"),
        ({P + "0_TYPE": "anthropic", P + "0_BEDROCK_REGION": "us-east-1", P + "0_BEDROCK_MODEL": "m"},
         "CODER_AIBRIDGE_PROVIDER_0_BEDROCK_SMALL_FAST_MODEL is required to use Bedrock"),
        ({P + "0_TYPE": "anthropic", P + "0_BEDROCK_REGION": "us-east-1", P + "0_BEDROCK_MODEL": "m",
          P + "0_BEDROCK_SMALL_FAST_MODEL": "s", P + "0_BEDROCK_ACCESS_KEY": "AKIA"},
         "CODER_AIBRIDGE_PROVIDER_0_BEDROCK_ACCESS_KEY_SECRET: each Bedrock access key needs its secret (1 keys, 0 secrets)"),
        ({P + "0_TYPE": "anthropic", P + "0_BEDROCK_REGION": "Frankfurt", P + "0_BEDROCK_MODEL": "m",
          P + "0_BEDROCK_SMALL_FAST_MODEL": "s"},
         "CODER_AIBRIDGE_PROVIDER_0_BEDROCK_REGION: invalid AWS region 'Frankfurt'"),
        # base URL
        ({P + "0_TYPE": "openai", P + "0_BASE_URL": "ftp://example.com"},
         "CODER_AIBRIDGE_PROVIDER_0_BASE_URL: expected an http:// or https:// URL"),
        # legacy bedrock completeness
        ({"CODER_AIBRIDGE_BEDROCK_REGION": "us-east-1", "CODER_AIBRIDGE_BEDROCK_MODEL": "m"},
         "CODER_AIBRIDGE_BEDROCK_SMALL_FAST_MODEL is required to use Bedrock"),
        ({"CODER_AIBRIDGE_BEDROCK_MODEL": "m", "CODER_AIBRIDGE_BEDROCK_SMALL_FAST_MODEL": "s"},
         "CODER_AIBRIDGE_BEDROCK_REGION or CODER_AIBRIDGE_BEDROCK_BASE_URL is required to use Bedrock"),
        ({"CODER_AIBRIDGE_BEDROCK_REGION": "us-east-1", "CODER_AIBRIDGE_BEDROCK_MODEL": "m",
          "CODER_AIBRIDGE_BEDROCK_SMALL_FAST_MODEL": "s", "CODER_AIBRIDGE_BEDROCK_ACCESS_KEY_SECRET": "x"},
         "CODER_AIBRIDGE_BEDROCK_ACCESS_KEY: each Bedrock access key needs its secret (0 keys, 1 secrets)"),
    ],
)  # fmt: skip
def test_validation_rules(clean_environ, variables, expected):
    assert error({**clean_environ, **variables}).startswith(expected)


def test_legacy_conflict_names_the_flag_when_given_as_flag(clean_environ):
    message = error({**clean_environ, P + "0_TYPE": "openai"}, {"aibridge-openai-key": "sk"})
    assert message == "CODER_AIBRIDGE_PROVIDER_0 and --aibridge-openai-key both define the provider 'openai'; remove one of them"


def test_legacy_bedrock_error_names_the_yaml_key(tmp_path, clean_environ):
    path = tmp_path / "c.yaml"
    path.write_text("aibridge:\n  bedrock_region: Nowhere\n  bedrock_model: m\n  bedrock_small_fast_model: s\n")
    message = error({**clean_environ, "CODER_CONFIG_PATH": str(path)})
    assert message == f"aibridge.bedrock_region in {path}: invalid AWS region 'Nowhere' (e.g. us-east-1)"


@pytest.mark.parametrize(
    "yaml_text, expected",
    [
        ("aibridge:\n  providers:\n    - type: openai\n    - type: openai\n",
         "aibridge.providers[1] in {path}: another openai provider (aibridge.providers[0]) already uses the default "
         "name 'openai'; set aibridge.providers[1].name in {path} to tell them apart"),
        ("aibridge:\n  providers:\n    - type: openai\n      modle: x\n",
         "aibridge.providers[0].modle in {path}: unknown key 'modle'"),
        ("aibridge:\n  providers:\n    - openai\n",
         "aibridge.providers[0] in {path}: expected a mapping"),
        ("aibridge:\n  providers:\n    - name: x\n",
         "aibridge.providers[0].type in {path} is required"),
        ("aibridge:\n  providers:\n    - type: copilot\n      bedrock_region: us-east-1\n",
         "aibridge.providers[0].bedrock_region in {path}: Bedrock settings apply only to anthropic providers"),
        ("aibridge:\n  providers: openai\n", "aibridge.providers in {path}: expected a list"),
        ("aibridge:\n  providers:\n    - TYPE: openai\n", "aibridge.providers[0].TYPE in {path}: keys are lower case ('type')"),
    ],
)  # fmt: skip
def test_yaml_provider_errors_name_the_key(tmp_path, clean_environ, yaml_text, expected):
    path = tmp_path / "c.yaml"
    path.write_text(yaml_text)
    assert error({**clean_environ, "CODER_CONFIG_PATH": str(path)}).startswith(expected.format(path=path))


def test_yaml_provider_keys_may_be_a_list(tmp_path, clean_environ):
    path = tmp_path / "c.yaml"
    path.write_text("aibridge:\n  providers:\n    - type: openai\n      keys: [a, b]\n")
    assert providers({**clean_environ, "CODER_CONFIG_PATH": str(path)})["openai"].keys == ("a", "b")


def test_errors_never_show_secret_values(clean_environ):
    message = error({**clean_environ, P + "0_TYPE": "openai", P + "0_KEY": "sk-hidden", P + "0_KEYS": "sk-also-hidden"})
    assert "sk-hidden" not in message and "sk-also-hidden" not in message
