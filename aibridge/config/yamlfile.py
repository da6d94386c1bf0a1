"""Reading the YAML configuration file: the gateway's keys are checked against the option table."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .model import ConfigError
from .names import NAME_SETS, PREFERRED, both_given
from .options import OPTIONS, YAML_LISTS


@dataclass
class YamlSettings:
    """What a YAML file sets: option values by option name, and the indexed lists."""

    path: str = ""
    values: dict[str, Any] = field(default_factory=dict)
    lists: dict[str, list] = field(default_factory=dict)  # "providers", "mcp_servers"
    keys: dict[str, str] = field(default_factory=dict)  # option name or list -> the key as written

    def label(self, key: str) -> str:
        """How messages name a YAML key: ``ai_gateway.retention in /etc/aibridge.yaml``."""
        return f"{key} in {self.path}"


_GROUPS = tuple(names.yaml for names in NAME_SETS)  # "ai_gateway", "aibridge"
# A top-level mapping whose name is this close to a gateway group is taken for a typo of it.
_GROUP_TYPO_CUTOFF = 0.8


def read_yaml_settings(path: str, named_by: str) -> YamlSettings:
    """Read and check the YAML file; ``named_by`` is the setting that gave its path.

    Top-level keys are the options that are not the gateway's own
    (``http_address``) and the gateway's group, ``ai_gateway:`` or
    ``aibridge:``. A shared ``coder.yaml`` also holds groups of other
    components (``networking:``, ``telemetry:``): any other top-level key
    whose value is a mapping (or empty) is such a group and is ignored,
    unless its name is a near miss of the gateway's group (``aibrige:``).
    Other components' plain top-level settings (``cacheDir: ...``) are ignored
    too, unless they are a gateway setting written outside its group or a near
    miss of a top-level option of ours (``http_adress``): those are errors, as
    is any unknown key inside the gateway's group.
    """
    settings = YamlSettings(path=path)
    document = _load(path, named_by)
    if document is None:
        return settings
    if not isinstance(document, dict):
        raise ConfigError(f"{path}: expected a mapping of settings at the top level")
    top_level = {o.yaml_path[0]: o for o in OPTIONS if len(o.yaml_path) == 1}
    in_group = {o.yaml_name: o for o in OPTIONS if o.in_gateway_group and o.in_yaml}
    for key, value in document.items():
        key = str(key)
        if key in _GROUPS:
            _read_group(settings, key, value, in_group)
        elif key in top_level:
            _set(settings, top_level[key].name, key, value, settings.values)
        else:
            _check_foreign_key(path, key, value, [*top_level, *_GROUPS], in_group)
    return settings


def _check_foreign_key(path: str, key: str, value: Any, known: list[str], in_group: dict) -> None:
    """Another component's group passes; a near miss of the gateway's group or a stray setting is an error."""
    if value is None or isinstance(value, dict):
        close = difflib.get_close_matches(key, _GROUPS, n=1, cutoff=_GROUP_TYPO_CUTOFF)
        if close:
            raise ConfigError(f"{path}: unknown setting {key!r} (did you mean {close[0]!r}?)")
        return
    if key in in_group:  # a setting of the gateway's group written at the top level
        raise ConfigError(f"{path}: unknown setting {key!r} (did you mean '{PREFERRED.yaml}.{key}'?)")
    if difflib.get_close_matches(key, known, n=1, cutoff=_GROUP_TYPO_CUTOFF):
        raise ConfigError(_unknown_key(path, key, key, known))
    # Otherwise another component's own setting (coder's ``cacheDir``, ``verbose``): not ours.


def _read_group(settings: YamlSettings, group: str, block: Any, in_group: dict) -> None:
    if block is None:
        return
    if not isinstance(block, dict):
        raise ConfigError(f"{settings.label(group)}: expected a mapping of settings")
    for key, value in block.items():
        dotted = f"{group}.{key}"
        if key in YAML_LISTS:
            if value is not None and not isinstance(value, list):
                raise ConfigError(f"{settings.label(dotted)}: expected a list")
            _set(settings, key, dotted, value, settings.lists)
        elif key in in_group:
            _set(settings, in_group[key].name, dotted, value, settings.values)
        else:
            known = [*in_group, *YAML_LISTS]
            raise ConfigError(_unknown_key(settings.path, dotted, str(key), known))


def _set(settings: YamlSettings, name: str, key: str, value: Any, target: dict) -> None:
    """Keep a value (``target``: values or lists) and the key that gave it; the same setting in both groups is an error."""
    if value is None:  # "key:" with nothing after it leaves the option unset
        return
    if name in settings.keys:  # set in the other group already
        earlier = settings.keys[name]
        old, new = (earlier, key) if key.startswith(PREFERRED.yaml + ".") else (key, earlier)
        raise ConfigError(f"{settings.path}: {both_given(old, new)}")
    target[name] = value
    settings.keys[name] = key


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
