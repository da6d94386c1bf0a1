"""Build the :class:`Config` from flags > environment > YAML file > defaults, validating everything."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..datafiles import PRIVATE_DIR_MODE
from .mcp import build_mcp_servers
from .model import Config, ConfigError
from .names import both_given
from .options import BY_FLAG, BY_NAME, OPTIONS, Option, option
from .providers import build_providers
from .unknown_variables import unknown_variable_warnings
from .yamlfile import YamlSettings, read_yaml_settings


@dataclass(frozen=True)
class Setting:
    """A resolved option value and where it came from ("" when it is the default)."""

    value: Any
    source: str = ""


def load_config(cli_values: Mapping[str, Any] | None = None, environ: Mapping[str, str] = os.environ) -> Config:
    """The validated configuration; raises ConfigError (one line naming the setting) when invalid.

    ``cli_values`` maps flags (``aibridge-retention``, ``ai_gateway_retention``,
    any spelling with or without dashes) to values as given on the command
    line; None or a missing key means the flag was not given.
    """
    cli = _given_flags(cli_values or {})
    config_file = resolve(option("config"), cli, environ, YamlSettings())
    yaml = read_yaml_settings(config_file.value, config_file.source) if config_file.value else YamlSettings()
    settings = {opt.name: resolve(opt, cli, environ, yaml) for opt in OPTIONS}
    fields = {opt.field: settings[opt.name].value for opt in OPTIONS if opt.field}
    fields["providers"] = build_providers(settings, environ, yaml)
    fields["mcp_servers"] = build_mcp_servers(environ, yaml)
    fields["data_dir"] = ensure_data_dir(settings["data-dir"])
    fields["warnings"] = unknown_variable_warnings(environ)
    return Config(**fields)


def resolve(opt: Option, cli: Mapping[str, Setting], environ: Mapping[str, str], yaml: YamlSettings) -> Setting:
    """One option's value by precedence: flag, environment variable, YAML key, default.

    ``cli`` is what :func:`_given_flags` returns. Both names of one setting
    given in the environment is an error even when a flag overrides them.
    """
    env = _given_variable(opt, environ)
    if opt.name in cli:
        raw, source = cli[opt.name].value, cli[opt.name].source
    elif env is not None:
        raw, source = env.value, env.source
    elif opt.name in yaml.values:
        raw, source = yaml.values[opt.name], yaml.label(yaml.keys[opt.name])
    elif opt.default is None:
        return Setting(computed_default(opt, environ))
    else:
        raw, source = opt.default, ""
    try:
        return Setting(opt.parse(raw), source)
    except ValueError as error:
        reason = "invalid value" if opt.secret else str(error)
        raise ConfigError(f"{source or opt.env}: {reason}") from None


def computed_default(opt: Option, environ: Mapping[str, str]) -> Any:
    """Defaults that depend on the environment (only the data directory so far)."""
    if opt.name == "data-dir":
        return default_data_dir(environ)
    raise KeyError(opt.name)


def default_data_dir(environ: Mapping[str, str]) -> Path:
    """``$XDG_DATA_HOME/aibridge``, else ``~/.local/share/aibridge``."""
    xdg = environ.get("XDG_DATA_HOME", "")
    if xdg and os.path.isabs(xdg):
        return Path(xdg) / "aibridge"
    home = environ.get("HOME") or str(Path.home())
    return Path(home) / ".local" / "share" / "aibridge"


def ensure_data_dir(setting: Setting) -> Path:
    """Create the data directory when missing and check that it is usable."""
    path = Path(os.path.abspath(setting.value))
    label = setting.source or f"{BY_NAME['data-dir'].env} (default {path})"
    try:
        path.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
    except FileExistsError:
        raise ConfigError(f"{label}: {path} exists and is not a directory") from None
    except OSError as error:
        raise ConfigError(f"{label}: cannot create the data directory {path}: {error.strerror or error}") from None
    if not path.is_dir():
        raise ConfigError(f"{label}: {path} exists and is not a directory")
    if not os.access(path, os.R_OK | os.W_OK | os.X_OK):
        raise ConfigError(f"{label}: the data directory {path} is not readable and writable")
    return path


def _given_flags(cli_values: Mapping[str, Any]) -> dict[str, Setting]:
    """The flags given, by option name, each with the spelling used; both names of one option is an error."""
    given: dict[str, Setting] = {}
    for key, value in cli_values.items():
        flag = key.lstrip("-").replace("_", "-")
        if flag not in BY_FLAG:
            raise ValueError(f"unknown option {key!r}")
        if value is None:
            continue
        opt, spelling = BY_FLAG[flag]
        if opt.name in given and given[opt.name].source != spelling.flag:
            new, old = (spelling.flag for spelling in opt.spellings)
            raise ConfigError(both_given(old, new))
        given[opt.name] = Setting(value, spelling.flag)
    return given


def _given_variable(opt: Option, environ: Mapping[str, str]) -> Setting | None:
    """The option's environment variable that is set, if any; both of its names set is an error."""
    found = [spelling.env for spelling in opt.spellings if spelling.env in environ]
    if len(found) > 1:
        new, old = found
        raise ConfigError(both_given(old, new))
    return Setting(environ[found[0]], found[0]) if found else None
