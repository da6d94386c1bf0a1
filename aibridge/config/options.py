"""The one table of options: flags, environment variables, YAML keys and docs come from here.

An option named ``aibridge-retention`` is the flag ``--aibridge-retention``,
the variable ``CODER_AIBRIDGE_RETENTION`` and the YAML key ``retention`` in
the ``aibridge:`` block; ``http-address`` is ``--http-address``,
``CODER_HTTP_ADDRESS`` and the top-level YAML key ``http_address``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from . import values

AIBRIDGE_PREFIX = "aibridge-"


@dataclass(frozen=True)
class Option:
    name: str  # the flag without its leading dashes
    field: str | None  # the Config field it fills; None: read while building providers
    parse: Callable[[Any], Any]
    default: Any  # flag-style text (parsed like any value); None: computed at load time
    help: str
    kind: str  # the value type as the docs name it
    group: str
    secret: bool = False  # never echoed in messages, logs or reprs
    env_override: str = ""  # when the variable does not follow the naming scheme
    in_yaml: bool = True
    default_doc: str = ""  # how the docs show the default, when not the default itself

    @property
    def flag(self) -> str:
        return "--" + self.name

    @property
    def env(self) -> str:
        return self.env_override or "CODER_" + self.name.upper().replace("-", "_")

    @property
    def yaml_path(self) -> tuple[str, ...]:
        """Where the option sits in the YAML file: ``("aibridge", "retention")``."""
        if not self.in_yaml:
            return ()
        if self.name.startswith(AIBRIDGE_PREFIX):
            return ("aibridge", self.name[len(AIBRIDGE_PREFIX) :].replace("-", "_"))
        return (self.name.replace("-", "_"),)

    @property
    def yaml_key(self) -> str:
        return ".".join(self.yaml_path)

    @property
    def param(self) -> str:
        """The click parameter name: ``aibridge_retention``."""
        return self.name.replace("-", "_")


def _optional_url(value: Any) -> str:
    text = values.parse_str(value)
    return values.parse_url(text) if text else ""


def _optional_path(value: Any):
    text = values.parse_str(value)
    return values.parse_path(text) if text else None


def _recorder_overflow(value: Any) -> str:
    text = values.parse_str(value).lower()
    if text not in ("refuse", "relay"):
        raise ValueError(f"expected refuse or relay, got {text!r}")
    return text


def _positive_seconds(value: Any) -> float:
    seconds = values.parse_duration_seconds(value)
    if seconds <= 0:
        raise ValueError("must be longer than 0")
    return seconds


GENERAL = "AI Bridge"
LEGACY = "Legacy providers"
SERVER = "Server"
LOGGING = "Logging"
METRICS = "Metrics"

OPTIONS: tuple[Option, ...] = (
    Option("aibridge-enabled", "enabled", values.parse_bool, "false",
           "Serve the provider routes under /api/v2/aibridge/.", "bool", GENERAL),
    Option("aibridge-retention", "retention", values.parse_duration, "60d",
           "Delete recorded interceptions older than this; 0 keeps them forever.", "duration", GENERAL),
    Option("aibridge-structured-logging", "structured_logging", values.parse_bool, "false",
           "Also write every record as an `interception log` line to the logs.", "bool", GENERAL),
    Option("aibridge-allow-byok", "allow_byok", values.parse_bool, "false",
           "Let clients send their own provider key; the gateway token then comes in "
           "X-Coder-AI-Governance-Token.", "bool", GENERAL),
    Option("aibridge-send-actor-headers", "send_actor_headers", values.parse_bool, "false",
           "Add X-AI-Bridge-Actor-ID and X-AI-Bridge-Actor-Metadata-Username to intercepted "
           "upstream requests.", "bool", GENERAL),
    Option("aibridge-max-request-body", "max_request_body", values.parse_size, "32MiB",
           "Largest request body accepted; larger ones get 413.", "size", GENERAL),
    Option("aibridge-upstream-timeout", "upstream_timeout", _positive_seconds, "10m",
           "How long to wait for the upstream (to connect, or for the next byte) before 504.",
           "duration", GENERAL),
    Option("aibridge-disable-plugins", "disable_plugins", values.parse_list, "",
           "Plugins not to load, by entry-point name.", "list", GENERAL, default_doc="(none)"),
    Option("aibridge-spool-dir", "spool_dir", _optional_path, "",
           "Where the recorder keeps records while the database cannot take them; put it on another filesystem "
           "than the data directory to keep records through a full disk.", "path", GENERAL,
           default_doc="`<data-dir>/spool`"),
    Option("aibridge-recorder-memory", "recorder_memory", values.parse_size, "32MiB",
           "Records the recorder keeps in memory while the database cannot take them, before the spool takes "
           "them.", "size", GENERAL),
    Option("aibridge-recorder-overflow", "recorder_overflow", _recorder_overflow, "refuse",
           "When the database and the spool both refuse records and the recorder's memory is full: `refuse` new "
           "interceptions with 503, or `relay` them unrecorded (counted and logged).", "string", GENERAL),
    Option("aibridge-auth-failure-limit", "auth_failure_limit", values.parse_count, "20",
           "Failed authentications allowed per client address per minute; past it, 429. 0 turns the limit off.",
           "int", GENERAL),
    Option("aibridge-mcp-max-rounds", "mcp_max_rounds", values.parse_positive_int, "10",
           "Most upstream rounds of injected MCP tool calls per request.", "int", GENERAL),
    Option("aibridge-openai-key", None, values.parse_str, "",
           "API key of the `openai` provider.", "string", LEGACY, secret=True, default_doc="(none)"),
    Option("aibridge-openai-base-url", None, values.parse_url, "https://api.openai.com/v1/",
           "Base URL of the `openai` provider.", "url", LEGACY),
    Option("aibridge-anthropic-key", None, values.parse_str, "",
           "API key of the `anthropic` provider.", "string", LEGACY, secret=True, default_doc="(none)"),
    Option("aibridge-anthropic-base-url", None, values.parse_url, "https://api.anthropic.com/",
           "Base URL of the `anthropic` provider.", "url", LEGACY),
    Option("aibridge-bedrock-region", None, values.parse_str, "",
           "AWS region: send the `anthropic` provider's traffic to Bedrock.", "string", LEGACY,
           default_doc="(none)"),
    Option("aibridge-bedrock-base-url", None, _optional_url, "",
           "Bedrock endpoint.", "url", LEGACY,
           default_doc="`https://bedrock-runtime.<region>.amazonaws.com`"),
    Option("aibridge-bedrock-access-key", None, values.parse_str, "",
           "AWS access key ID (else the default AWS credential chain).", "string", LEGACY,
           secret=True, default_doc="(none)"),
    Option("aibridge-bedrock-access-key-secret", None, values.parse_str, "",
           "AWS secret access key.", "string", LEGACY, secret=True, default_doc="(none)"),
    Option("aibridge-bedrock-model", None, values.parse_str, "",
           "Bedrock model ID for requests.", "string", LEGACY, default_doc="(none)"),
    Option("aibridge-bedrock-small-fast-model", None, values.parse_str, "",
           "Bedrock model ID for requests whose model contains `haiku`.", "string", LEGACY,
           default_doc="(none)"),
    Option("http-address", "http_address", values.parse_address, "127.0.0.1:3000",
           "Address the server listens on (`:3000` for every interface).", "host:port", SERVER),
    Option("data-dir", "data_dir", values.parse_path, None,
           "Directory of the SQLite database; created when missing.", "path", SERVER,
           default_doc="`$XDG_DATA_HOME/aibridge`, else `~/.local/share/aibridge`"),
    Option("shutdown-grace", "shutdown_grace", values.parse_duration_seconds, "30s",
           "On SIGTERM/SIGINT, how long in-flight requests may still run; then how long the recorder may still "
           "wait for the database before it spools what is left.", "duration", SERVER),
    Option("config", "config_path", values.parse_str, "",
           "YAML file with more settings (lower precedence than flags and environment).",
           "path", SERVER, env_override="CODER_CONFIG_PATH", in_yaml=False, default_doc="(none)"),
    Option("log-human", "log_human", values.parse_log_path, "/dev/stderr",
           "Human-readable log lines go to this file; empty turns them off.", "path", LOGGING,
           env_override="CODER_LOGGING_HUMAN"),
    Option("log-json", "log_json", values.parse_log_path, "",
           "JSON log lines go to this file (e.g. /dev/stdout).", "path", LOGGING,
           env_override="CODER_LOGGING_JSON", default_doc="(off)"),
    Option("prometheus-enable", "prometheus_enable", values.parse_bool, "false",
           "Serve Prometheus metrics.", "bool", METRICS),
    Option("prometheus-address", "prometheus_address", values.parse_address, "127.0.0.1:2112",
           "Address of the metrics endpoint.", "host:port", METRICS),
)  # fmt: skip

BY_NAME: dict[str, Option] = {option.name: option for option in OPTIONS}
GROUPS: tuple[str, ...] = (GENERAL, LEGACY, SERVER, LOGGING, METRICS)

# The YAML keys that are lists of indexed entries rather than options.
YAML_LISTS = {"providers": "CODER_AIBRIDGE_PROVIDER_<N>_*", "mcp_servers": "CODER_AIBRIDGE_MCP_SERVER_<N>_*"}


def option(name: str) -> Option:
    """The option called ``name`` (flag spelling, or the click parameter spelling)."""
    return BY_NAME[name.lstrip("-").replace("_", "-")]
