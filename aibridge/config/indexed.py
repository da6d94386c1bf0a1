"""Indexed settings: ``<PREFIX><N>_<KEY>`` variables and their YAML list twins.

Providers (``CODER_AI_GATEWAY_PROVIDER_<N>_*`` or ``CODER_AIBRIDGE_PROVIDER_<N>_*``,
YAML ``ai_gateway.providers`` or ``aibridge.providers``) and MCP servers
(``..._MCP_SERVER_<N>_*``, ``mcp_servers``) share this: one of the two
prefixes, indices contiguous from 0, known keys only, one line per error.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .model import ConfigError
from .yamlfile import YamlSettings

_INDEX = re.compile(r"^(0|[1-9][0-9]*)$")


@dataclass
class Entry:
    """One indexed instance: its raw values by KEY, and how to name them in messages."""

    index: int
    source: str  # "CODER_AI_GATEWAY_PROVIDER_2" or "ai_gateway.providers[2]"
    values: dict[str, Any] = field(default_factory=dict)  # KEY (upper case) -> raw value
    yaml_path: str = ""  # the YAML file, for YAML entries

    def label(self, key: str) -> str:
        """The name of one of this entry's settings, as the user wrote it."""
        if self.yaml_path:
            return f"{self.source}.{key.lower()} in {self.yaml_path}"
        return f"{self.source}_{key}"

    @property
    def where(self) -> str:
        return f"{self.source} in {self.yaml_path}" if self.yaml_path else self.source

    def get(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)

    def has(self, key: str) -> bool:
        return key in self.values


def entries_from_env(environ: Mapping[str, str], prefixes: tuple[str, ...], keys: tuple[str, ...]) -> list[Entry]:
    """Collect ``<prefix><N>_<KEY>`` variables into entries ordered by N (contiguous from 0).

    ``prefixes`` are the new and the old name of one list; entries under both is an error.
    """
    used = {prefix: sorted(v for v in environ if v.startswith(prefix)) for prefix in prefixes}
    used = {prefix: variables for prefix, variables in used.items() if variables}
    if len(used) > 1:
        (new, new_variables), (old, old_variables) = used.items()
        raise ConfigError(
            f"{old_variables[0]} and {new_variables[0]} are both set: "
            f"use one prefix only, {new}<N>_* (preferred) or {old}<N>_*"
        )
    if not used:
        return []
    [(prefix, variables)] = used.items()
    found: dict[int, Entry] = {}
    for variable in variables:
        index_text, _, key = variable[len(prefix) :].partition("_")
        if not _INDEX.match(index_text):
            raise ConfigError(
                f"{variable}: the index {index_text!r} is not a number; "
                f"use {prefix}<N>_<KEY> with N = 0, 1, 2, ..."
            )
        _check_key(variable, key, keys)
        index = int(index_text)
        entry = found.setdefault(index, Entry(index=index, source=f"{prefix}{index}"))
        entry.values[key] = environ[variable]
    _check_contiguous(found, lambda index: f"{prefix}{index}_*")
    return [found[index] for index in sorted(found)]


def entries_from_yaml(settings: YamlSettings, list_key: str, keys: tuple[str, ...]) -> list[Entry]:
    """Read the YAML list ``ai_gateway.<list_key>`` (or ``aibridge.``): one mapping per entry, lower-case keys."""
    entries = []
    for index, item in enumerate(settings.lists.get(list_key, [])):
        entry = Entry(index=index, source=f"{settings.keys[list_key]}[{index}]", yaml_path=settings.path)
        if not isinstance(item, dict):
            raise ConfigError(f"{entry.where}: expected a mapping such as {{type: openai, key: ...}}")
        for raw_key, value in item.items():
            key = str(raw_key).upper()
            if str(raw_key) != key.lower():
                where = f"{entry.source}.{raw_key} in {entry.yaml_path}"
                raise ConfigError(f"{where}: keys are lower case ({key.lower()!r})")
            _check_key(entry.label(key), key, keys, lower=True)
            if value is not None:
                entry.values[key] = value
        entries.append(entry)
    return entries


def _check_key(label: str, key: str, keys: tuple[str, ...], lower: bool = False) -> None:
    if key in keys:
        return
    shown = [k.lower() for k in keys] if lower else list(keys)
    wanted = key.lower() if lower else key
    close = difflib.get_close_matches(wanted, shown, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    raise ConfigError(f"{label}: unknown key {wanted!r} ({hint}known: {', '.join(shown)})")


def _check_contiguous(found: dict[int, Entry], name) -> None:
    for expected in range(len(found)):
        if expected not in found:
            present = ", ".join(str(index) for index in sorted(found))
            raise ConfigError(
                f"{name(expected)}: missing; indices must run 0, 1, 2, ... without gaps (found {present})"
            )
