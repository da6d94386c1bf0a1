"""MCP servers whose tools are injected: ``CODER_AI_GATEWAY_MCP_SERVER_<N>_*`` (or ``CODER_AIBRIDGE_``), or YAML ``mcp_servers``."""

from __future__ import annotations

import re
from collections.abc import Mapping

from . import values
from .indexed import Entry, entries_from_env, entries_from_yaml
from .model import ConfigError, MCPServerConfig
from .names import indexed_prefixes
from .options import YAML_LISTS
from .providers import NAME_PATTERN
from .yamlfile import YamlSettings

ENV_PREFIXES = indexed_prefixes(YAML_LISTS["mcp_servers"])  # CODER_AI_GATEWAY_MCP_SERVER_, CODER_AIBRIDGE_MCP_SERVER_

# KEY, required, meaning: the docs table is generated from this.
MCP_KEYS: tuple[tuple[str, str, str], ...] = (
    ("NAME", "yes", "unique server name; its tools appear as `bmcp_<name>_<tool>`"),
    ("URL", "yes", "Streamable HTTP endpoint (http:// or https://)"),
    ("TOKEN", "no", "sent as `Authorization: Bearer <token>`"),
    ("TOOL_ALLOW_REGEX", "no", "only tools whose name matches are injected"),
    ("TOOL_DENY_REGEX", "no", "tools whose name matches are never injected (wins over allow)"),
)
KEYS = tuple(key for key, _, _ in MCP_KEYS)


def build_mcp_servers(environ: Mapping[str, str], yaml: YamlSettings) -> tuple[MCPServerConfig, ...]:
    """The configured MCP servers, validated, in index order (environment wins over YAML)."""
    entries = entries_from_env(environ, ENV_PREFIXES, KEYS) or entries_from_yaml(yaml, "mcp_servers", KEYS)
    servers: list[MCPServerConfig] = []
    used: dict[str, Entry] = {}
    for entry in entries:
        server = _server(entry)
        if server.name in used:
            raise ConfigError(
                f"{entry.label('NAME')}: MCP server name {server.name!r} is already used by {used[server.name].source}"
            )
        used[server.name] = entry
        servers.append(server)
    return tuple(servers)


def _server(entry: Entry) -> MCPServerConfig:
    name = _text(entry, "NAME")
    if not name:
        raise ConfigError(f"{entry.label('NAME')} is required")
    if not NAME_PATTERN.match(name):
        raise ConfigError(
            f"{entry.label('NAME')}: invalid name {name!r} "
            "(lower-case letters and digits, words joined by single dashes, e.g. docs-search)"
        )
    url = _text(entry, "URL")
    if not url:
        raise ConfigError(f"{entry.label('URL')} is required")
    try:
        values.parse_url(url)
    except ValueError as error:
        raise ConfigError(f"{entry.label('URL')}: {error}") from None
    return MCPServerConfig(
        name=name,
        url=url,
        token=_text(entry, "TOKEN"),
        tool_allow_regex=_regex(entry, "TOOL_ALLOW_REGEX"),
        tool_deny_regex=_regex(entry, "TOOL_DENY_REGEX"),
    )


def _text(entry: Entry, key: str) -> str:
    try:
        return values.parse_str(entry.get(key, ""))
    except ValueError as error:
        raise ConfigError(f"{entry.label(key)}: {error}") from None


def _regex(entry: Entry, key: str) -> str:
    pattern = _text(entry, key)
    try:
        re.compile(pattern)
    except re.error as error:
        raise ConfigError(f"{entry.label(key)}: invalid regular expression {pattern!r}: {error}") from None
    return pattern

