"""Generate docs/configuration.md from the option tables: ``python -m aibridge.config.docs > docs/configuration.md``."""

from __future__ import annotations

import sys

from .mcp import MCP_KEYS
from .names import AI_GATEWAY, AIBRIDGE
from .options import GROUPS, OPTIONS, YAML_LISTS, Option
from .providers import DEFAULT_BASE_URLS, PROVIDER_KEYS

SIX_INSTANCES = """\
# anthropic-corp: Anthropic with the company key
CODER_AI_GATEWAY_PROVIDER_0_TYPE=anthropic
CODER_AI_GATEWAY_PROVIDER_0_NAME=anthropic-corp
CODER_AI_GATEWAY_PROVIDER_0_KEY=sk-ant-corp-example
# anthropic-direct: Anthropic, no gateway key (clients bring their own with BYOK)
CODER_AI_GATEWAY_PROVIDER_1_TYPE=anthropic
CODER_AI_GATEWAY_PROVIDER_1_NAME=anthropic-direct
# azure-openai: an OpenAI-compatible endpoint
CODER_AI_GATEWAY_PROVIDER_2_TYPE=openai
CODER_AI_GATEWAY_PROVIDER_2_NAME=azure-openai
CODER_AI_GATEWAY_PROVIDER_2_KEY=azure-key-example
CODER_AI_GATEWAY_PROVIDER_2_BASE_URL=https://example-resource.openai.azure.com/openai/v1
# anthropic-bedrock: Anthropic Messages served by Amazon Bedrock
CODER_AI_GATEWAY_PROVIDER_3_TYPE=anthropic
CODER_AI_GATEWAY_PROVIDER_3_NAME=anthropic-bedrock
CODER_AI_GATEWAY_PROVIDER_3_BEDROCK_REGION=us-west-2
CODER_AI_GATEWAY_PROVIDER_3_BEDROCK_ACCESS_KEY=AKIAEXAMPLEKEYID
CODER_AI_GATEWAY_PROVIDER_3_BEDROCK_ACCESS_KEY_SECRET=example-secret-access-key
CODER_AI_GATEWAY_PROVIDER_3_BEDROCK_MODEL=us.anthropic.claude-sonnet-4-5-20250929-v1:0
CODER_AI_GATEWAY_PROVIDER_3_BEDROCK_SMALL_FAST_MODEL=us.anthropic.claude-haiku-4-5-20251001-v1:0
# copilot: GitHub Copilot (each user's GitHub token is the upstream credential)
CODER_AI_GATEWAY_PROVIDER_4_TYPE=copilot
# openai: the legacy setting still works next to indexed providers
CODER_AI_GATEWAY_OPENAI_KEY=sk-openai-example
"""

SIX_INSTANCES_YAML = """\
ai_gateway:
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
ai_gateway:
  enabled: true
  retention: 90d
  structured_logging: true
  anthropic_key: sk-ant-example
  openai_key: sk-openai-example
"""

MCP_YAML = """\
ai_gateway:
  mcp_servers:
    - name: docs
      url: https://mcp.example.com/mcp
      token: example-mcp-token
      tool_allow_regex: ^search
"""


def render() -> str:
    """The whole of docs/configuration.md."""
    parts = [_INTRO, _names_section(), _options_section(), _VALUES, _providers_section(), _mcp_section(), _ERRORS]
    return "\n".join(part.strip("\n") + "\n" for part in parts)


_INTRO = f"""
# Configuration

<!-- Generated from aibridge/config/ by `python -m aibridge.config.docs > docs/configuration.md`. -->

Every option is a command-line flag of `aibridge server`, an environment
variable and a key in a YAML file, with the names of the documented
`coder server` AI Gateway settings (formerly AI Bridge: the old names work
too, see [below](#two-names-ai-gateway-and-ai-bridge)). When an option is
given in several places, the first of these wins:

1. the flag (`--ai-gateway-retention 90d`);
2. the environment variable (`CODER_AI_GATEWAY_RETENTION=90d`);
3. the YAML file named by `--config` / `CODER_CONFIG_PATH` (`retention: 90d` in the `ai_gateway:` group);
4. the default.

The gateway's own options (flags starting with `--ai-gateway-`) live in the
YAML file's `ai_gateway:` group, without that prefix and with underscores
(`--ai-gateway-structured-logging` is `structured_logging`); the others are
top-level keys (`--http-address` is `http_address`). A key with an empty
value leaves the option unset.

```yaml
{EXAMPLE_YAML.rstrip()}
```

### A shared `coder.yaml`

The file may be a `coder.yaml` that also configures other Coder components.
Its top-level keys are read like this:

- `ai_gateway:` and `aibridge:` are the gateway's group; an unknown key
  inside it is an error that suggests the closest key
  (`unknown setting 'ai_gateway.retension' (did you mean 'retention'?)`).
- The top-level options above (`http_address`, `data_dir`, ...) are read.
- Any other key whose value is a mapping, or empty, is another component's
  group (`networking:`, `telemetry:`, `oidc:`, ...) and is ignored, unless
  its name is a near miss of the gateway's group (`aibrige:`, `ai-gateway:`,
  `gateway:`), which is an error suggesting the right name.
- Any other key with a plain value or a list is another component's setting
  (`cacheDir:`, `verbose:`) and is ignored, unless it is a near miss of a
  top-level option (`http_adress: :3000`) or a gateway setting written
  outside the group (`retention: 90d` suggests `ai_gateway.retention`):
  those are errors suggesting the right name.

The other commands (`users`, `tokens`, `plugins`, `interceptions`, `usage`,
`retention`) read the same configuration (they take `--data-dir` and
`--config`). `create_app()` without arguments,
which is what gunicorn calls, reads the environment and `CODER_CONFIG_PATH`.
"""


def _names_section() -> str:
    new, old = AI_GATEWAY, AIBRIDGE
    providers, mcp = YAML_LISTS["providers"], YAML_LISTS["mcp_servers"]
    return f"""
## Two names: AI Gateway and AI Bridge

The documented product was renamed from AI Bridge to AI Gateway. Every
setting of the gateway itself has both names, and both work; use the new
ones in new configurations.

| | AI Gateway (preferred) | AI Bridge (old) |
|---|---|---|
| flags | `--{new.flag}*` | `--{old.flag}*` |
| environment | `{new.env}*` | `{old.env}*` |
| YAML group (same keys under it) | `{new.yaml}:` | `{old.yaml}:` |
| indexed providers | `{new.indexed(providers)}<N>_*` | `{old.indexed(providers)}<N>_*` |
| MCP servers | `{new.indexed(mcp)}<N>_*` | `{old.indexed(mcp)}<N>_*` |
| client routes and audit API | `/api/v2/ai-gateway/...` | `/api/v2/aibridge/...` |
| metrics ([metrics.md](metrics.md)) | `coder_ai_gateway_*` | `coder_aibridged_*` |

Options that are not the gateway's own (`--http-address`, `--data-dir`,
`--shutdown-grace`, `--config`, `--log-*`, `--prometheus-*`, `--trace-enable`) have one name.

**One setting, one name.** Giving one setting under both names at once is a
startup error that names both (exit status 2): two variables
(`{old.env}RETENTION` and `{new.env}RETENTION`), two flags, the same key in
both YAML groups, or indexed entries under both prefixes
(`{old.indexed(providers)}0_TYPE` and `{new.indexed(providers)}1_TYPE`):

```
aibridge: error: {old.env}RETENTION and {new.env}RETENTION are both set: set only one ({new.env}RETENTION is the preferred name)
```

Different settings may use different names (`{old.env}OPENAI_KEY` next to
`{new.env}RETENTION`), and both YAML groups may appear in one file as long as
they set different keys. The precedence (flag, environment, YAML, default) is
the same whichever name is used: `--{old.flag}retention` wins over
`{new.env}RETENTION`.

**Unknown variables.** A variable that starts with `{new.env}` or
`{old.env}` but names no setting (`{old.env}ANTROPIC_KEY`) does not stop
the server, since it may be meant for another Coder component; the server
logs a warning naming the closest setting when it starts:

```
2025-01-02T03:04:05.678Z WARNING aibridge: {old.env}ANTROPIC_KEY names no setting of this gateway and is ignored (did you mean {old.env}ANTHROPIC_KEY?)
```
"""


def _options_section() -> str:
    lines = ["## Options", "", "The gateway's own options are listed under both names, the preferred one first.", ""]
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
    flags = "<br>".join(f"`{spelling.flag}`" for spelling in opt.spellings)
    envs = "<br>".join(f"`{spelling.env}`" for spelling in opt.spellings)
    yaml = "<br>".join(f"`{spelling.yaml_key}`" for spelling in opt.spellings) if opt.yaml_path else "-"
    return f"| {flags} | {envs} | {yaml} | {opt.kind} | {default} | {opt.help} |"


_VALUES = """
## Values

- **bool**: `true` or `false` (also `1`/`0`, `yes`/`no`, `on`/`off`). A
  boolean flag alone means true: `--ai-gateway-enabled`; `--ai-gateway-enabled=false` also works.
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
name; clients reach it at `/api/v2/ai-gateway/<name>/...` (or
`/api/v2/aibridge/<name>/...`: both prefixes serve the same routes).

### Which instances exist

- Every indexed provider (below).
- The legacy `openai` instance when any `--ai-gateway-openai-*` option is
  given, and the legacy `anthropic` instance when any
  `--ai-gateway-anthropic-*` or `--ai-gateway-bedrock-*` option is given
  (under either name).
- When no indexed provider is configured at all, both legacy instances exist
  anyway (with their default base URLs and no key), so that
  `/api/v2/ai-gateway/openai/...` and `/api/v2/ai-gateway/anthropic/...` answer
  out of the box, for instance to clients that bring their own key.

Once indexed providers are configured they are the list: a legacy instance
then exists only if one of its options is given.

Default base URLs (stored without a trailing slash):

| type | base URL |
|---|---|
{defaults}

### Legacy Bedrock settings

The `--ai-gateway-bedrock-*` options send the `anthropic` instance's traffic
to Amazon Bedrock. Bedrock needs a region or a base URL, and both models
(`--ai-gateway-bedrock-model`, `--ai-gateway-bedrock-small-fast-model`). An
access key needs its secret; without static keys the default AWS credential
chain is used.

### Indexed providers

`CODER_AI_GATEWAY_PROVIDER_<N>_<KEY>` (or the old `CODER_AIBRIDGE_PROVIDER_<N>_<KEY>`;
not both), with N = 0, 1, 2, ... contiguous from 0.

| KEY | required | meaning |
|---|---|---|
{keys}

In the YAML file the same providers are a list under `ai_gateway.providers`,
with the keys in lower case (`type`, `name`, `key`, `base_url`,
`bedrock_region`, ...). When any `CODER_AI_GATEWAY_PROVIDER_*` variable is set,
the environment's list replaces the YAML list (it is not merged).

Startup errors, each reported on one line naming the variable or key:

- a gap in the indices (`_0_` and `_2_` without `_1_`), or an index that is
  not a number (`CODER_AI_GATEWAY_PROVIDER_X_TYPE`);
- a KEY that is not in the table above (`CODER_AI_GATEWAY_PROVIDER_0_MODEL`);
- variables under both prefixes (`CODER_AI_GATEWAY_PROVIDER_*` and
  `CODER_AIBRIDGE_PROVIDER_*`), or lists in both YAML groups;
- a missing or unknown `TYPE`;
- a `NAME` not matching `^[a-z0-9]+(-[a-z0-9]+)*$`;
- two instances with the same name, including two of one type that both omit
  `NAME` (they would both be called after the type);
- a legacy option (e.g. `CODER_AI_GATEWAY_OPENAI_KEY`) together with an
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

This starts six instances, served at `/api/v2/ai-gateway/<name>/`:
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
`CODER_AI_GATEWAY_MCP_SERVER_<N>_<KEY>` (or the old
`CODER_AIBRIDGE_MCP_SERVER_<N>_<KEY>`; not both), N contiguous from 0, or
the YAML list `ai_gateway.mcp_servers` (the environment's list replaces the
YAML list). `--ai-gateway-mcp-max-rounds` bounds the tool-calling rounds of
one request.

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
$ CODER_AI_GATEWAY_RETENTION=forever aibridge server
aibridge: error: CODER_AI_GATEWAY_RETENTION: invalid duration 'forever': use a number with a unit: 90d, 2w, 720h, 1h30m, 45s (0 for none)
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
