"""``aibridge providers``: the provider status of a running gateway, one row per instance.

The states (keys cooling down or refused, breakers open) live in the server
process, so the command asks its API (``GET /api/v2/aibridge/providers``)
with an owner's token. When no server answers at the URL it shows what the
configuration says instead, with the states unknown, and says so on stderr.
"""

from __future__ import annotations

import json
import math
import urllib.error
import urllib.request

from .output import Column
from ..resilience.status import UNKNOWN

TIMEOUT = 10.0


class ServerUnreachable(Exception):
    """Nothing answers HTTP at the URL."""


class Refused(Exception):
    """The server answered, but not with the status (e.g. 401, 403)."""


def local_url(http_address: str) -> str:
    """The URL of a server listening on ``--http-address`` (every interface: this host's loopback)."""
    host, _, port = http_address.rpartition(":")
    if host in ("", "0.0.0.0"):
        host = "127.0.0.1"
    elif host == "[::]":
        host = "[::1]"
    return f"http://{host}:{port}"


def fetch_status(url: str, token: str | None) -> dict:
    """The API's answer: ``{"providers": [...]}``."""
    headers = {"Accept": "application/json"}
    if token:
        headers["Coder-Session-Token"] = token
    request = urllib.request.Request(url.rstrip("/") + "/api/v2/aibridge/providers", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            return json.load(response)
    except urllib.error.HTTPError as error:
        raise Refused(_refusal(error)) from None
    except (urllib.error.URLError, OSError) as error:
        raise ServerUnreachable(str(getattr(error, "reason", error))) from None


COLUMNS = (
    Column("NAME", "name"),
    Column("TYPE", lambda p: p["type"] + (" (bedrock)" if p["bedrock"] else "")),
    Column("UPSTREAM", "upstream"),
    Column("KEYS", lambda p: _keys(p["keys"])),
    Column("CIRCUIT BREAKERS", lambda p: _breakers(p)),
    Column("FALLBACK", "fallback"),
    Column("MODEL MAP", lambda p: _model_map(p["model_map"])),
)


def _keys(keys: list[dict]) -> str:
    if not keys:
        return "-"
    return ", ".join(_key(key) for key in keys)


def _key(key: dict) -> str:
    if key["state"] == UNKNOWN:
        return key["hint"]
    wait = f" {math.ceil(key['retry_after'])}s" if key.get("retry_after") else ""
    return f"{key['hint']} {key['state']}{wait}"


def _breakers(provider: dict) -> str:
    if not provider["circuit_breakers"]:
        return "off"
    breakers = provider.get("breakers") or []
    closed = sum(1 for b in breakers if b["state"] == "closed")
    shown = [f"{b['endpoint']} {b['model']} {b['state']}" + (f" {b['retry_after']}s" if b.get("retry_after") else "")
             for b in breakers if b["state"] != "closed"]
    if closed or not shown:
        shown.append(f"{closed} closed")
    return "; ".join(shown)


def _model_map(model_map: dict) -> str:
    return ", ".join(f"{client}={mapped}" for client, mapped in model_map.items()) or "-"


def _refusal(error: urllib.error.HTTPError) -> str:
    try:
        message = json.load(error).get("message", "")
    except (ValueError, AttributeError, OSError):
        message = ""
    hints = {401: "give an owner's token with --token or CODER_SESSION_TOKEN"}
    detail = "; ".join(part for part in (message, hints.get(error.code, "")) if part)
    return f"the gateway answered HTTP {error.code}" + (f": {detail}" if detail else "")
