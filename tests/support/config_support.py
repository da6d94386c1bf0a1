"""Loading a configuration that must fail, and YAML files for the configuration tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from aibridge.config import ConfigError
from aibridge.config.loader import load_config


def write_yaml(tmp_path: Path, text: str) -> str:
    """``text`` as ``tmp_path``/aibridge.yaml; its path."""
    path = tmp_path / "aibridge.yaml"
    path.write_text(text)
    return str(path)


def config_error(cli=None, environ=None) -> str:
    """The message of the ConfigError that loading the configuration raises (one line)."""
    with pytest.raises(ConfigError) as raised:
        load_config(cli or {}, environ)
    message = str(raised.value)
    assert "\n" not in message
    return message
