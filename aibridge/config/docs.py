"""Generate docs/configuration.md from the option tables: ``python -m aibridge.config.docs > docs/configuration.md``."""

from __future__ import annotations

import sys

from .mcp import MCP_KEYS
from .options import GROUPS, OPTIONS, Option
from .providers import DEFAULT_BASE_URLS, PROVIDER_KEYS

SIX_INSTANCES = """\
# anthropic-corp: Anthropic with the company key
CODER_AIBRIDGE_PROVIDER_0_TYPE=anthropic
CODER_AIBRIDGE_PROVIDER_0_NAME=anthropic-corp
CODER_AIBRIDGE_PROVIDER_0_KEY=sk-ant-corp-example
# anthropic-direct: Anthropic, no gateway key (clients bring their own with BYOK)
CODER_AIBRIDGE_PROVIDER_1_TYPE=anthropic
CODER_AIBRIDGE_PROVIDER_1_NAME=anthropic-direct
# azure-openai: an OpenAI-compatible endpoint
CODER_AIBRIDGE_PROVIDER_2_TYPE=openai
CODER_AIBRIDGE_PROVIDER_2_NAME=azure-openai
CODER_AIBRIDGE_PROVIDER_2_KEY=azure-key-example
CODER_AIBRIDGE_PROVIDER_2_BASE_URL=https://example-resource.openai.azure.com/openai/v1
# anthropic-bedrock: Anthropic Messages served by Amazon Bedrock
CODER_AIBRIDGE_PROVIDER_3_TYPE=anthropic
CODER_AIBRIDGE_PROVIDER_3_NAME=anthropic-bedrock
CODER_AIBRIDGE_PROVIDER_3_BEDROCK_REGION=us-west-2
CODER_AIBRIDGE_PROVIDER_3_BEDROCK_ACCESS_KEY=AKIAEXAMPLEKEYID
CODER_AIBRIDGE_PROVIDER_3_BEDROCK_ACCESS_KEY_SECRET=example-secret-access-key
CODER_AIBRIDGE_PROVIDER_3_BEDROCK_MODEL=us.anthropic.claude-sonnet-4-5-20250929-v1:0
CODER_AIBRIDGE_PROVIDER_3_BEDROCK_SMALL_FAST_MODEL=us.anthropic.claude-haiku-4-5-20251001-v1:0
# copilot: GitHub Copilot (each user's GitHub token is the upstream credential)
CODER_AIBRIDGE_PROVIDER_4_TYPE=copilot
# openai: the legacy setting still works next to indexed providers
CODER_AIBRIDGE_OPENAI_KEY=sk-openai-example
"""

SIX_INSTANCES_YAML = """\
aibridge:
  enabled: true
  openai_key: sk-openai-example
  providers:
    - type: anthropic
      name: anthropic-corp
      key: sk-ant-corp-example
    - type: anthropic
      name: anthropic-direct
    - type: openai
      name: azure-openai
      key: azure-key-example
      base_url: https://example-resource.openai.azure.com/openai/v1
    - type: anthropic
      name: anthropic-bedrock
      bedrock_region: us-west-2
      bedrock_access_key: AKIAEXAMPLEKEYID
      bedrock_access_key_secret: example-secret-access-key
      bedrock_model: us.anthropic.claude-sonnet-4-5-20250929-v1:0
      bedrock_small_fast_model: us.anthropic.claude-haiku-4-5-20251001-v1:0
    - type: copilot
"""

EXAMPLE_YAML = """\
http_address: 0.0.0.0:3000
data_dir: /var/lib/aibridge
log_json: /dev/stdout
aibridge:
  enabled: true
  retention: 90d
  structured_logging: true
  anthropic_key: sk-ant-example
  openai_key: sk-openai-example
"""

MCP_YAML = """\
aibridge:
  mcp_servers:
    - name: docs
      url: https://mcp.example.com/mcp
      token: example-mcp-token
      tool_allow_regex: ^search
"""


def render() -> str:
    """The whole of docs/configuration.md."""
    parts = [_INTRO, _options_section(), _VALUES, _providers_section(), _mcp_section(), _ERRORS]
    return "\n".join(part.strip("\n") + "\n" for part in parts)


_INTRO = f"""
# Configuration

<!-- Generated from aibridge/config/ by `python -m aibridge.config.docs > docs/configuration.md`. -->

Every option is a command-line flag of `aibridge server`, an environment
variable and a key in a YAML file, with the names of the documented
`coder server` AI Bridge settings. When an option is given in several places,
the first of these wins:

1. the flag (`--aibridge-retention 90d`);
2. the environment variable (`CODER_AIBRIDGE_RETENTION=90d`);
3. the YAML file named by `--config` / `CODER_CONFIG_PATH` (`retention: 90d` in the `aibridge:` block);
4. the default.

Options whose flag starts with `--aibridge-` live in the YAML file's
`aibridge:` block, without that prefix and with underscores
(`--aibridge-structured-logging` is `structured_logging`); the others are
top-level keys (`--http-address` is `http_address`). An unknown key is an
error; a key with an empty value leaves the option unset.

```yaml
{EXAMPLE_YAML.rstrip()}
```

The other commands (`users`, `tokens`, `plugins`, `interceptions`, `usage`,
`retention`) read the same configuration (they take `--data-dir` and
`--config`). `create_app()` without arguments,
which is what gunicorn calls, reads the environment and `CODER_CONFIG_PATH`.
"""


def _options_section() -> str:
    lines = ["## Options", ""]
    for group in GROUPS:
        lines += [f"### {group}", "", "| flag | environment | YAML | type | default | meaning |"]
        lines.append("|---|---|---|---|---|---|")
        lines += [_option_row(opt) for opt in OPTIONS if opt.group == group]
        lines.append("")
    lines.append(
        "Secret options (provider keys, Bedrock credentials) never appear in logs, "
        "error messages or the configuration's repr."
    )
    return "\n".join(lines)


def _option_row(opt: Option) -> str:
    default = opt.default_doc or (f"`{opt.default}`" if opt.default else "(none)")
    yaml = f"`{opt.yaml_key}`" if opt.yaml_path else "-"
    return f"| `{opt.flag}` | `{opt.env}` | {yaml} | {opt.kind} | {default} | {opt.help} |"


_VALUES = """
## Values

- **bool**: `true` or `false` (also `1`/`0`, `yes`/`no`, `on`/`off`). A
  boolean flag alone means true: `--aibridge-enabled`; `--aibridge-enabled=false` also works.
- **duration**: a number and a unit, combined as in Go: `h`, `m`, `s`, `ms`,
  plus `d` (days) and `w` (weeks): `90d`, `2w`, `720h`, `1h30m`, `1.5h`. `0`
  means zero (for the retention: keep forever).
- **size**: bytes, or a number with a unit: `32MiB`, `10MB`, `512KiB`
  (`KiB`, `MiB`, `GiB` are powers of 1024; `kB`, `MB`, `GB` powers of 1000).
- **list**: comma separated (`recorder,metrics`), or a YAML list.
- **host:port**: `127.0.0.1:3000`, `[::1]:3000`, or `:3000` for every interface.
- **path**: `~` stands for the home directory. For the log options, `/dev/stderr`
  and `/dev/stdout` are the process's streams and an empty value turns the output off.

### Data directory

The SQLite database (`aibridge.db`: users, tokens, recorded interceptions)
lives in the data directory, `--data-dir` / `CODER_DATA_DIR` / `data_dir`.
It defaults to `$XDG_DATA_HOME/aibridge`, or `~/.local/share/aibridge` when
`XDG_DATA_HOME` is not set, and is created when missing. A directory that
cannot be created or written is a startup error.
"""


def _providers_section() -> str:
    defaults = "\n".join(f"| {kind} | `{url}` |" for kind, url in DEFAULT_BASE_URLS.items())
    keys = "\n".join(f"| `{key}` | {required} | {meaning} |" for key, required, meaning in PROVIDER_KEYS)
    return f"""
## Providers

A provider instance has a type (`openai`, `anthropic` or `copilot`) and a
name; clients reach it at `/api/v2/aibridge/<name>/...`.

### Which instances exist

- Every indexed provider (below).
- The legacy `openai` instance when any `--aibridge-openai-*` option is
  given, and the legacy `anthropic` instance when any
  `--aibridge-anthropic-*` or `--aibridge-bedrock-*` option is given.
- When no indexed provider is configured at all, both legacy instances exist
  anyway (with their default base URLs and no key), so that
  `/api/v2/aibridge/openai/...` and `/api/v2/aibridge/anthropic/...` answer
  out of the box, for instance to clients that bring their own key.

Once indexed providers are configured they are the list: a legacy instance
then exists only if one of its options is given.

Default base URLs (stored without a trailing slash):

| type | base URL |
|---|---|
{defaults}

### Legacy Bedrock settings

The `--aibridge-bedrock-*` options send the `anthropic` instance's traffic
to Amazon Bedrock. Bedrock needs a region or a base URL, and both models
(`--aibridge-bedrock-model`, `--aibridge-bedrock-small-fast-model`). An
access key needs its secret; without static keys the default AWS credential
chain is used.

### Indexed providers

`CODER_AIBRIDGE_PROVIDER_<N>_<KEY>`, with N = 0, 1, 2, ... contiguous from 0.

| KEY | required | meaning |
|---|---|---|
{keys}

In the YAML file the same providers are a list under `aibridge.providers`,
with the keys in lower case (`type`, `name`, `key`, `base_url`,
`bedrock_region`, ...). When any `CODER_AIBRIDGE_PROVIDER_*` variable is set,
the environment's list replaces the YAML list (it is not merged).

Startup errors, each reported on one line naming the variable or key:

- a gap in the indices (`_0_` and `_2_` without `_1_`), or an index that is
  not a number (`CODER_AIBRIDGE_PROVIDER_X_TYPE`);
- a KEY that is not in the table above (`CODER_AIBRIDGE_PROVIDER_0_MODEL`);
- a missing or unknown `TYPE`;
- a `NAME` not matching `^[a-z0-9]+(-[a-z0-9]+)*$`;
- two instances with the same name, including two of one type that both omit
  `NAME` (they would both be called after the type);
- a legacy option (e.g. `CODER_AIBRIDGE_OPENAI_KEY`) together with an
  indexed provider of the same name (`openai`): remove one of them;
- both `KEY` and `KEYS` (or `BEDROCK_ACCESS_KEY` and `BEDROCK_ACCESS_KEYS`);
- `BEDROCK_*` keys on a provider whose type is not `anthropic`;
- incomplete Bedrock settings: a region or a base URL, `BEDROCK_MODEL` and
  `BEDROCK_SMALL_FAST_MODEL` are required, and as many secrets as access keys;
- a base URL that is not an `http://` or `https://` URL.

### Example: six provider instances

```sh
{SIX_INSTANCES.rstrip()}
```

This starts six instances, served at `/api/v2/aibridge/<name>/`:
`openai` (legacy), `anthropic-corp`, `anthropic-direct`, `azure-openai`,
`anthropic-bedrock` and `copilot`. The same in YAML:

```yaml
{SIX_INSTANCES_YAML.rstrip()}
```
"""


def _mcp_section() -> str:
    keys = "\n".join(f"| `{key}` | {required} | {meaning} |" for key, required, meaning in MCP_KEYS)
    return f"""
## MCP servers

Tools of MCP servers (Streamable HTTP) can be injected into requests:
`CODER_AIBRIDGE_MCP_SERVER_<N>_<KEY>`, N contiguous from 0, or the YAML list
`aibridge.mcp_servers` (the environment's list replaces the YAML list).
`--aibridge-mcp-max-rounds` bounds the tool-calling rounds of one request.

| KEY | required | meaning |
|---|---|---|
{keys}

Names follow the provider name rule and are unique; the URL must be
`http://` or `https://`; both regexes must compile. A tool is injected when
it does not match the deny regex and, if an allow regex is set, matches it.

```yaml
{MCP_YAML.rstrip()}
```
"""


_ERRORS = """
## Configuration errors

Every invalid setting is found at startup and reported on one line that
names it, with exit status 2 and no traceback:

```
$ CODER_AIBRIDGE_RETENTION=forever aibridge server
aibridge: error: CODER_AIBRIDGE_RETENTION: invalid duration 'forever': use a number with a unit: 90d, 2w, 720h, 1h30m, 45s (0 for none)
```

The same goes for a malformed or unreadable YAML file, a data directory that
cannot be created, and an `--http-address` already in use.
"""


def main() -> None:
    """Print the document (``--check FILE``: exit 1 when FILE differs from it)."""
    text = render()
    if sys.argv[1:2] == ["--check"]:
        with open(sys.argv[2], encoding="utf-8") as committed:
            sys.exit(0 if committed.read() == text else 1)
    sys.stdout.write(text)


if __name__ == "__main__":
    main()
