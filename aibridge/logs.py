"""Logging: human-readable lines (``--log-human``) and JSON lines (``--log-json``).

Provider keys, Bedrock credentials, MCP tokens and gateway tokens are
replaced by ``[redacted]`` in every line, whatever logged them.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import sys

from pythonjsonlogger.json import JsonFormatter

from .config import Config, ConfigError
from .config.options import Option, option

ACCESS_LOGGER = "aibridge.access"  # one line per HTTP request: its message is whole, its fields are for JSON
_HANDLER_MARK = "_aibridge_handler"
_GATEWAY_TOKEN = re.compile(r"\b(aib_[0-9a-f]{16}_)[A-Za-z0-9_-]+")
_MIN_SECRET_LENGTH = 6  # shorter values would blank out ordinary words
# Attributes every LogRecord has; anything else was passed with ``extra=``.
_STANDARD_ATTRIBUTES = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class Redactor:
    """Replaces known secret values and gateway tokens in a text."""

    def __init__(self, secrets: list[str]):
        self.secrets = sorted({s for s in secrets if len(s) >= _MIN_SECRET_LENGTH}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "[redacted]")
        return _GATEWAY_TOKEN.sub(r"\1[redacted]", text)


class HumanFormatter(logging.Formatter):
    """``2025-01-02T03:04:05.678Z INFO aibridge.server: message key=value ...``"""

    def __init__(self, redact: Redactor):
        super().__init__()
        self.redact = redact

    def format(self, record: logging.LogRecord) -> str:
        when = dt.datetime.fromtimestamp(record.created, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]
        line = f"{when}Z {record.levelname} {record.name}: {record.getMessage()}"
        extras = {k: v for k, v in vars(record).items() if k not in _STANDARD_ATTRIBUTES}
        if extras and record.name != ACCESS_LOGGER:
            line += " " + " ".join(f"{key}={_show(value)}" for key, value in extras.items())
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return self.redact(line)


class RedactingJsonFormatter(JsonFormatter):
    """One JSON object per line: time, level, logger, message, and every ``extra`` field."""

    def __init__(self, redact: Redactor):
        super().__init__(
            "%(asctime)s %(levelname)s %(name)s %(message)s",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
        )
        self.redact = redact

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return dt.datetime.fromtimestamp(record.created, dt.timezone.utc).isoformat(timespec="milliseconds")

    def format(self, record: logging.LogRecord) -> str:
        return self.redact(super().format(record))


def setup_logging(config: Config, level: int = logging.INFO) -> None:
    """Send log lines where the configuration says; calling it again replaces the previous setup."""
    root = logging.getLogger()
    for handler in [h for h in root.handlers if getattr(h, _HANDLER_MARK, False)]:
        root.removeHandler(handler)
        handler.close()
    redact = Redactor(config_secrets(config))
    outputs = [("log-human", config.log_human, HumanFormatter), ("log-json", config.log_json, RedactingJsonFormatter)]
    for name, destination, formatter in outputs:
        if destination:
            handler = _open(destination, option(name))
            handler.setFormatter(formatter(redact))
            setattr(handler, _HANDLER_MARK, True)
            root.addHandler(handler)
    root.setLevel(level)


def config_secrets(config: Config) -> list[str]:
    """Every secret value in the configuration."""
    found: list[str] = []
    for provider in config.providers:
        found += provider.keys
        if provider.bedrock:
            found += provider.bedrock.access_keys + provider.bedrock.access_key_secrets
    found += [server.token for server in config.mcp_servers if server.token]
    if config.postgres_url:
        from urllib.parse import urlsplit

        found += [config.postgres_url, urlsplit(config.postgres_url).password or ""]
    return [secret for secret in found if secret]


def _open(destination: str, setting: Option) -> logging.Handler:
    if destination == "/dev/stderr":
        return logging.StreamHandler(sys.stderr)
    if destination == "/dev/stdout":
        return logging.StreamHandler(sys.stdout)
    try:
        return logging.FileHandler(destination, encoding="utf-8")
    except OSError as error:
        reason = error.strerror or str(error)
        raise ConfigError(f"{setting.flag} / {setting.env}: cannot open {destination} for writing: {reason}") from None


def _show(value) -> str:
    # Dicts and lists as JSON, so a record's metadata reads the same as in the JSON log.
    text = json.dumps(value, default=str, ensure_ascii=False, separators=(",", ":")) if isinstance(value, (dict, list)) else str(value)
    return repr(text) if (" " in text or not text) else text
