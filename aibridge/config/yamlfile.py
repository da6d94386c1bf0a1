"""Reading the YAML configuration file: every key is checked against the option table."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .model import ConfigError
from .options import OPTIONS, YAML_LISTS


@dataclass
class YamlSettings:
    """What a YAML file sets: option values by option name, and the indexed lists."""

    path: str = ""
    values: dict[str, Any] = field(default_factory=dict)
    lists: dict[str, list] = field(default_factory=dict)  # "providers", "mcp_servers"

    def label(self, key: str) -> str:
        """How messages name a YAML key: ``aibridge.retention in /etc/aibridge.yaml``."""
        return f"{key} in {self.path}"


def read_yaml_settings(path: str, named_by: str) -> YamlSettings:
    """Read and check the YAML file; ``named_by`` is the setting that gave its path."""
    settings = YamlSettings(path=path)
    document = _load(path, named_by)
    if document is None:
        return settings
    if not isinstance(document, dict):
        raise ConfigError(f"{path}: expected a mapping of settings at the top level")
    top_level = {o.yaml_path[0]: o for o in OPTIONS if len(o.yaml_path) == 1}
    in_block = {o.yaml_path[1]: o for o in OPTIONS if len(o.yaml_path) == 2}
    for key, value in document.items():
        if key == "aibridge":
            _read_block(settings, value, in_block)
        elif key in top_level:
            _set(settings, top_level[key].name, value)
        else:
            raise ConfigError(_unknown_key(path, str(key), str(key), [*top_level, "aibridge"]))
    return settings


def _read_block(settings: YamlSettings, block: Any, in_block: dict) -> None:
    if block is None:
        return
    if not isinstance(block, dict):
        raise ConfigError(f"{settings.label('aibridge')}: expected a mapping of settings")
    for key, value in block.items():
        if key in YAML_LISTS:
            if value is None:
                continue
            if not isinstance(value, list):
                raise ConfigError(f"{settings.label('aibridge.' + key)}: expected a list")
            settings.lists[key] = value
        elif key in in_block:
            _set(settings, in_block[key].name, value)
        else:
            known = [*in_block, *YAML_LISTS]
            raise ConfigError(_unknown_key(settings.path, f"aibridge.{key}", str(key), known))


def _set(settings: YamlSettings, option_name: str, value: Any) -> None:
    if value is not None:  # "key:" with nothing after it leaves the option unset
        settings.values[option_name] = value


def _load(path: str, named_by: str) -> Any:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError(f"{named_by}: cannot read {path}: {error.strerror or error}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{named_by}: {path} is not UTF-8 text") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: invalid YAML{_where(error)}: {_problem(error)}") from None


def _where(error: yaml.YAMLError) -> str:
    mark = getattr(error, "problem_mark", None)
    return f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""


def _problem(error: yaml.YAMLError) -> str:
    problem = getattr(error, "problem", None) or str(error)
    return " ".join(str(problem).split())


def _unknown_key(path: str, dotted: str, key: str, known: list[str]) -> str:
    message = f"{path}: unknown setting {dotted!r}"
    close = difflib.get_close_matches(key, known, n=1)
    return message + (f" (did you mean {close[0]!r}?)" if close else "")
