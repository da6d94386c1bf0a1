"""A configured provider instance: where its traffic goes and which routes it serves."""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from typing import Callable
from urllib.parse import quote

from ..config import ProviderConfig

# RFC 3986 path characters that need no escaping; anything else the client
# escaped (``%3F``, ``%23``, ``%25``) is escaped again on the way upstream.
_PATH_SAFE = "/:@!$&'()*+,;=~"


@dataclass(frozen=True)
class Passthrough:
    """Routes proxied to the provider without recording."""

    methods: frozenset[str]
    pattern: re.Pattern


class ProviderType:
    """What differs between provider types; one subclass per type."""

    type = ""
    error_shape = "openai"
    default_base_url = ""
    always_byok = False
    intercepted: dict[tuple[str, str], Callable] = {}
    passthrough: tuple[Passthrough, ...] = ()

    def upstream_path(self, path: str) -> str:
        """The path to append to the instance's base URL."""
        return path

    def auth_headers(self, key: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {key}"}


class Provider:
    """One configured instance, e.g. ``anthropic-corp``."""

    def __init__(self, config: ProviderConfig, kind: ProviderType):
        self.config = config
        self.kind = kind
        self.name = config.name
        self.type = kind.type
        self.error_shape = kind.error_shape
        self._keys = itertools.cycle(config.keys) if config.keys else None

    def route(self, method: str, path: str):
        """("intercept", api class) or ("passthrough", None), or None for an unknown route."""
        if any(segment in (".", "..") for segment in path.split("/")):
            # Upstream resolves dot segments: /v1/conversations/../chat/completions would
            # reach an intercepted API unrecorded, or any other API, with the provider's key.
            return None
        api = self.kind.intercepted.get((method, path))
        if api is not None:
            return "intercept", api
        for rule in self.kind.passthrough:
            if (method in rule.methods or (method == "HEAD" and "GET" in rule.methods)) and rule.pattern.fullmatch(path):
                return "passthrough", None
        return None

    def upstream_url(self, path: str, query: str = "") -> str:
        url = self.config.base_url.rstrip("/") + quote(self.kind.upstream_path(path), safe=_PATH_SAFE)
        return f"{url}?{query}" if query else url

    def auth_headers(self) -> dict[str, str]:
        """The provider's own credential (keys rotate when several are configured)."""
        if self._keys is None:
            return {}
        return self.kind.auth_headers(next(self._keys))


def passthrough(methods: str, pattern: str) -> Passthrough:
    return Passthrough(frozenset(methods.split()), re.compile(pattern))
