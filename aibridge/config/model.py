"""The validated configuration the rest of the gateway reads.

Loading (flags > environment > YAML > defaults) and validation live in
:mod:`aibridge.config.loader`; everything else only reads these values.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path


class ConfigError(Exception):
    """A configuration problem: one line naming the offending setting (exit status 2)."""


@dataclass(frozen=True)
class BedrockConfig:
    region: str = ""
    base_url: str = ""  # defaults to https://bedrock-runtime.<region>.amazonaws.com
    access_keys: tuple[str, ...] = field(default=(), repr=False)  # secrets stay out of reprs and logs
    access_key_secrets: tuple[str, ...] = field(default=(), repr=False)
    model: str = ""
    small_fast_model: str = ""


@dataclass(frozen=True)
class ProviderConfig:
    type: str  # openai | anthropic | copilot
    name: str  # unique instance name used in the route
    base_url: str  # defaults resolved per type; always ends without a trailing slash
    keys: tuple[str, ...] = field(default=(), repr=False)
    bedrock: BedrockConfig | None = None
    source: str = ""  # where it came from, for messages: "CODER_AI_GATEWAY_PROVIDER_2" or "legacy"
    fallback: str = ""  # the instance (same type) that takes requests while this one is unavailable
    model_map: tuple[tuple[str, str], ...] = ()  # (client model, this instance's model)


@dataclass(frozen=True)
class MCPServerConfig:
    name: str
    url: str
    token: str = field(default="", repr=False)
    tool_allow_regex: str = ""
    tool_deny_regex: str = ""


@dataclass(frozen=True)
class Config:
    enabled: bool = False
    providers: tuple[ProviderConfig, ...] = ()
    data_dir: Path = Path(".")
    http_address: str = "127.0.0.1:3000"
    log_human: str = "/dev/stderr"
    log_json: str = ""
    retention: dt.timedelta = dt.timedelta(days=60)  # zero keeps records forever
    structured_logging: bool = False
    allow_byok: bool = False
    send_actor_headers: bool = False
    max_request_body: int = 32 * 1024 * 1024
    upstream_timeout: float = 600.0  # seconds without a byte from upstream before 504
    disable_plugins: tuple[str, ...] = ()
    prometheus_enable: bool = False
    prometheus_address: str = "127.0.0.1:2112"
    trace_enable: bool = False
    mcp_servers: tuple[MCPServerConfig, ...] = ()
    mcp_max_rounds: int = 10
    max_retries: int = 2
    circuit_breaker_enabled: bool = False
    circuit_breaker_failure_threshold: int = 5
    circuit_breaker_interval: float = 10.0  # seconds
    circuit_breaker_timeout: float = 30.0  # seconds
    circuit_breaker_max_requests: int = 3
    max_concurrency: int = 0  # 0: unlimited
    rate_limit: int = 0  # requests per second; 0: unlimited
    shutdown_grace: float = 30.0  # seconds in-flight requests get on SIGTERM
    http_header_timeout: float = 10.0  # seconds for a request's line and headers
    http_idle_timeout: float = 60.0  # seconds a kept-alive connection may wait for its next request
    http_write_timeout: float = 60.0  # seconds a client may stop reading (or sending its body)
    http_max_connections: int = 0  # 0: automatic, from the open-file limit
    spool_dir: Path | None = None  # None: <data_dir>/spool
    dump_dir: Path | None = None  # None: no request dumps
    recorder_memory: int = 32 * 1024 * 1024  # bytes of records in memory before the spool takes them
    recorder_overflow: str = "refuse"  # refuse | relay
    auth_failure_limit: int = 20  # failed authentications per client address per minute; 0: no limit
    postgres_url: str = field(default="", repr=False)  # "": SQLite in the data directory; may hold a password
    postgres_instance_timeout: float = 30.0  # seconds without a heartbeat before an instance is taken for gone
    config_path: str = ""
    extra: dict = field(default_factory=dict)  # options plugins read by name
    warnings: tuple[str, ...] = ()  # found while loading; logged when the app starts

    @property
    def database_path(self) -> Path:
        """The SQLite database in the data directory (used unless ``postgres_url`` is set)."""
        return Path(self.data_dir) / "aibridge.db"

    @property
    def database(self) -> str | Path:
        """Where users, tokens and records live: the PostgreSQL URL when set, else the SQLite file."""
        return self.postgres_url or self.database_path

    @property
    def spool_path(self) -> Path:
        """Where the recorder keeps records the database cannot take yet."""
        return Path(self.spool_dir) if self.spool_dir else Path(self.data_dir) / "spool"

    def provider(self, name: str) -> ProviderConfig | None:
        return next((p for p in self.providers if p.name == name), None)
