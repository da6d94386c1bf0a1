"""The one table of options: flags, environment variables, YAML keys and docs come from here.

An option named ``aibridge-retention`` is one of the gateway's own options:
it has both name sets (:mod:`.names`), the flags ``--ai-gateway-retention``
and ``--aibridge-retention``, the variables ``CODER_AI_GATEWAY_RETENTION``
and ``CODER_AIBRIDGE_RETENTION``, and the YAML key ``retention`` in the
``ai_gateway:`` or the ``aibridge:`` group. Any other option has one name:
``http-address`` is ``--http-address``, ``CODER_HTTP_ADDRESS`` and the
top-level YAML key ``http_address``. The table names options by their
``aibridge-`` spelling; the other spellings are derived from it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from . import values
from .names import AIBRIDGE, NAME_SETS, NameSet


@dataclass(frozen=True)
class Spelling:
    """One name of an option: its flag, environment variable and YAML key together."""

    flag: str  # "--ai-gateway-retention"
    env: str  # "CODER_AI_GATEWAY_RETENTION"
    yaml_path: tuple[str, ...]  # ("ai_gateway", "retention"); () when not in YAML

    @property
    def yaml_key(self) -> str:
        return ".".join(self.yaml_path)

    @property
    def param(self) -> str:
        """The click parameter name: ``ai_gateway_retention``."""
        return self.flag.lstrip("-").replace("-", "_")


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

    # flag, env, yaml_path, param: the option's own name (for the gateway's options, the old one; see spellings).
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
        if self.in_gateway_group:
            return (AIBRIDGE.yaml, self.yaml_name)
        return (self.name.replace("-", "_"),)

    @property
    def yaml_key(self) -> str:
        return ".".join(self.yaml_path)

    @property
    def param(self) -> str:
        """The click parameter name: ``aibridge_retention``."""
        return self.name.replace("-", "_")

    @property
    def in_gateway_group(self) -> bool:
        """One of the gateway's own options: it has both name sets and sits in the YAML group."""
        return self.name.startswith(AIBRIDGE.flag)

    @property
    def yaml_name(self) -> str:
        """The key inside the YAML group (``retention``), or the top-level key (``http_address``)."""
        return self.name.removeprefix(AIBRIDGE.flag).replace("-", "_")

    def spelling(self, names: NameSet) -> Spelling:
        """The option's name in one name set (its only name when it is not one of the gateway's own)."""
        return self.spellings[NAME_SETS.index(names)] if self.in_gateway_group else self.spellings[0]

    @property
    def spellings(self) -> tuple[Spelling, ...]:
        """Every name of the option, the preferred first (``--ai-gateway-retention``, ``--aibridge-retention``)."""
        if not self.in_gateway_group:
            return (Spelling(self.flag, self.env, self.yaml_path),)
        rest = self.name.removeprefix(AIBRIDGE.flag)
        return tuple(
            Spelling(
                flag="--" + names.flag + rest,
                env=names.env + rest.upper().replace("-", "_"),
                yaml_path=(names.yaml, self.yaml_name) if self.in_yaml else (),
            )
            for names in NAME_SETS
        )


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


def _non_negative_int(value: Any) -> int:
    """0 (off, unlimited or automatic, as the option says) or a whole number."""
    return 0 if str(value).strip() == "0" else values.parse_positive_int(value)


GENERAL = "AI Gateway"
RESILIENCE = "Upstream resilience"
LEGACY = "Legacy providers"
SERVER = "Server"
DATABASE = "Database"
LOGGING = "Logging"
METRICS = "Metrics"
TRACING = "Tracing"

OPTIONS: tuple[Option, ...] = (
    Option("aibridge-enabled", "enabled", values.parse_bool, "false",
           "Serve the provider routes under /api/v2/ai-gateway/ (and /api/v2/aibridge/).", "bool", GENERAL),
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
    Option("aibridge-max-retries", "max_retries", _non_negative_int, "2",
           "Times a request is sent again when the upstream provably did not work on it (connection refused "
           "before the request was written, or a 429 / 5xx answer before anything was relayed); 0 never.",
           "int", RESILIENCE),
    Option("aibridge-circuit-breaker-enabled", "circuit_breaker_enabled", values.parse_bool, "false",
           "Stop sending requests to a provider instance, endpoint and model that keeps failing "
           "(429, 503, 504, 529, no answer); clients get 503 with Retry-After meanwhile.", "bool", RESILIENCE),
    Option("aibridge-circuit-breaker-failure-threshold", "circuit_breaker_failure_threshold",
           values.parse_positive_int, "5", "Consecutive failures that open a circuit breaker.", "int", RESILIENCE),
    Option("aibridge-circuit-breaker-interval", "circuit_breaker_interval", values.parse_duration_seconds, "10s",
           "While closed, failures further apart than this start the count again; 0 never does.",
           "duration", RESILIENCE),
    Option("aibridge-circuit-breaker-timeout", "circuit_breaker_timeout", _positive_seconds, "30s",
           "How long an open circuit breaker refuses requests before it lets probes through (half-open).",
           "duration", RESILIENCE),
    Option("aibridge-circuit-breaker-max-requests", "circuit_breaker_max_requests", values.parse_positive_int,
           "3", "Probes a half-open circuit breaker lets through; as many successes close it.", "int", RESILIENCE),
    Option("aibridge-max-concurrency", "max_concurrency", _non_negative_int, "0",
           "Most intercepted requests in flight in this process; above it, 503. 0: unlimited.", "int",
           RESILIENCE),
    Option("aibridge-rate-limit", "rate_limit", _non_negative_int, "0",
           "Most intercepted requests per second in this process; above it, 429 with Retry-After. "
           "0: unlimited.", "int", RESILIENCE),
    Option("aibridge-dump-dir", "dump_dir", _optional_path, "",
           "Write each intercepted request as sent upstream and its answer as relayed to "
           "`<dir>/<provider>/<interception id>.req.txt` and `.resp.txt`, secrets redacted; for debugging a "
           "provider.", "path", GENERAL, default_doc="(off)"),
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
    Option("http-header-timeout", "http_header_timeout", _positive_seconds, "10s",
           "How long a client may take to send a request's line and headers (from connecting, or "
           "from its first byte on a kept-alive connection); then the connection is closed.",
           "duration", SERVER),
    Option("http-idle-timeout", "http_idle_timeout", _positive_seconds, "60s",
           "How long a kept-alive connection may wait for its next request before it is closed.",
           "duration", SERVER),
    Option("http-write-timeout", "http_write_timeout", _positive_seconds, "60s",
           "How long a client may stop reading its answer (or stop sending the body it announced) "
           "before it is dropped; its interception ends `client_disconnected`.", "duration", SERVER),
    Option("http-max-connections", "http_max_connections", _non_negative_int, "0",
           "Most client connections held open; past it a new connection replaces the one that "
           "waited longest for a request, or gets 503 when all are busy. 0: half of what the "
           "open-file limit leaves after 64 reserved descriptors.", "int", SERVER, default_doc="0 (automatic)"),
    Option("postgres-url", "postgres_url", values.parse_postgres_url, "",
           "PostgreSQL database for users, tokens and records (`postgres://user:password@host:5432/db`), "
           "shared by every gateway instance that names it; unset, they live in SQLite in the data directory.",
           "url", DATABASE, secret=True, env_override="CODER_PG_CONNECTION_URL",
           default_doc="(none: SQLite in the data directory)"),
    Option("postgres-instance-timeout", "postgres_instance_timeout", _positive_seconds, "30s",
           "With PostgreSQL: an instance whose heartbeat (written every sixth of this) is older than this is "
           "taken for gone; a live one then ends its open interceptions `interrupted`.", "duration", DATABASE),
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
    Option("trace-enable", "trace_enable", values.parse_bool, "false",
           "Send OpenTelemetry traces (a span per interception, its upstream attempts, injected tool calls "
           "and record write) over OTLP/HTTP, configured by the standard `OTEL_EXPORTER_OTLP_*` and "
           "`OTEL_SERVICE_NAME` variables; needs `pip install 'aibridge[tracing]'` ([tracing](tracing.md)).",
           "bool", TRACING),
)  # fmt: skip

BY_NAME: dict[str, Option] = {option.name: option for option in OPTIONS}
# Every flag (without its dashes) to its option and that spelling: "ai-gateway-retention", "aibridge-retention".
BY_FLAG: dict[str, tuple[Option, Spelling]] = {
    spelling.flag.lstrip("-"): (opt, spelling) for opt in OPTIONS for spelling in opt.spellings
}
GROUPS: tuple[str, ...] = (GENERAL, RESILIENCE, LEGACY, SERVER, DATABASE, LOGGING, METRICS, TRACING)

# The YAML keys of the gateway's group that are lists of indexed entries rather than options,
# and the kind of their indexed variables (CODER_AI_GATEWAY_PROVIDER_<N>_*).
YAML_LISTS = {"providers": "PROVIDER", "mcp_servers": "MCP_SERVER"}


def option(name: str) -> Option:
    """The option called ``name``: any of its flags, with or without dashes, or a click parameter name."""
    return BY_FLAG[name.lstrip("-").replace("_", "-")][0]
