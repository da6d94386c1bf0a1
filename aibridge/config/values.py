"""Parsers for option values given as flag or environment text, or as typed YAML.

Each parser returns the typed value or raises ValueError with a message that
does not repeat the option's name (the loader adds where the value came from).
"""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .durations import parse_duration

_TRUE = {"true", "1", "yes", "on", "t", "y"}
_FALSE = {"false", "0", "no", "off", "f", "n"}


def parse_bool(value: Any) -> bool:
    """``true``/``false`` (also 1/0, yes/no, on/off) in any case."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise ValueError(f"expected true or false, got {value!r}")


def parse_str(value: Any) -> str:
    """Any scalar as text (YAML may give numbers for names)."""
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        return str(value).strip()
    raise ValueError(f"expected a string, got {type(value).__name__}")


def parse_positive_int(value: Any) -> int:
    """A whole number of at least 1."""
    return _whole_number(value, least=1)


def parse_count(value: Any) -> int:
    """A whole number of at least 0."""
    return _whole_number(value, least=0)


def _whole_number(value: Any, least: int) -> int:
    if isinstance(value, bool):
        raise ValueError(f"expected a whole number, got {value!r}")
    try:
        number = int(value.strip() if isinstance(value, str) else value)
    except (TypeError, ValueError):
        raise ValueError(f"expected a whole number, got {value!r}") from None
    if number < least:
        raise ValueError(f"must be at least {least}, got {number}")
    return number


_SIZE = re.compile(r"^(\d+)\s*([kmgt]i?b|b)?$", re.IGNORECASE)
_SIZE_UNITS = {
    "b": 1,
    "kb": 1000,
    "mb": 1000**2,
    "gb": 1000**3,
    "tb": 1000**4,
    "kib": 1024,
    "mib": 1024**2,
    "gib": 1024**3,
    "tib": 1024**4,
}


def parse_size(value: Any) -> int:
    """A byte count: ``33554432``, ``32MiB``, ``10MB`` (KiB/MiB/GiB are powers of 1024)."""
    if isinstance(value, int) and not isinstance(value, bool):
        number, unit = value, "b"
    else:
        match = _SIZE.match(value.strip()) if isinstance(value, str) else None
        if not match:
            raise ValueError(f"invalid size {value!r}: use bytes or a unit, e.g. 32MiB, 10MB, 1048576")
        number, unit = int(match.group(1)), (match.group(2) or "b").lower()
    size = number * _SIZE_UNITS[unit]
    if size < 1:
        raise ValueError(f"must be at least 1 byte, got {value!r}")
    return size


def parse_list(value: Any) -> tuple[str, ...]:
    """A comma-separated list (or a YAML list) of names; blanks are dropped."""
    if isinstance(value, str):
        items = value.split(",")
    elif isinstance(value, (list, tuple)):
        items = [parse_str(item) for item in value]
    else:
        raise ValueError(f"expected a comma-separated list, got {type(value).__name__}")
    return tuple(item.strip() for item in items if item.strip())


def parse_url(value: Any) -> str:
    """An absolute http(s) URL, returned without a trailing slash."""
    text = parse_str(value)
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"expected an http:// or https:// URL, got {text!r}")
    return text.rstrip("/")


def parse_postgres_url(value: Any) -> str:
    """A ``postgres://`` or ``postgresql://`` URL, or empty (SQLite); the message never quotes it (a password)."""
    text = parse_str(value)
    if text and (urlsplit(text).scheme not in ("postgres", "postgresql") or not urlsplit(text).netloc):
        raise ValueError("expected a postgres:// or postgresql:// URL")
    return text


def parse_duration_seconds(value: Any) -> float:
    """A duration (see :mod:`.durations`) in seconds."""
    return parse_duration(value).total_seconds()


def parse_address(value: Any) -> str:
    """``host:port`` (``[::1]:3000``, ``0.0.0.0:3000``, ``:3000`` for every interface)."""
    text = parse_str(value)
    split_address(text)
    return text


def split_address(text: str) -> tuple[str, int]:
    """Split ``host:port`` into its parts; an empty host means every interface."""
    host, sep, port_text = text.rpartition(":")
    if not sep or not port_text.isdigit() or int(port_text) > 65535:
        raise ValueError(f"expected host:port (e.g. 127.0.0.1:3000), got {text!r}")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise ValueError(f"invalid IPv6 address in {text!r}") from None
    elif ":" in host:
        raise ValueError(f"write IPv6 addresses in brackets, e.g. [::1]:3000, got {text!r}")
    return host or "0.0.0.0", int(port_text)


def parse_path(value: Any) -> Path:
    """A filesystem path; ``~`` expands to the home directory."""
    text = parse_str(value)
    if not text:
        raise ValueError("expected a path, got an empty value")
    return Path(text).expanduser()


def parse_log_path(value: Any) -> str:
    """A log destination: a file path, ``/dev/stderr``, or empty to turn it off."""
    return parse_str(value)
