"""A configured provider instance: which routes it serves, where and how its traffic goes."""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from urllib.parse import quote

from ..config import ProviderConfig
from ..upstream import Request, Response, Transport
from .bedrock import BedrockTransport

# RFC 3986 path characters that need no escaping; anything else the client
# escaped (``%3F``, ``%23``, ``%25``) is escaped again on the way upstream.
_PATH_SAFE = "/:@!$&'()*+,;=~"


@dataclass(frozen=True)
class Passthrough:
    """Routes proxied to the provider without recording."""

    methods: frozenset[str]
    pattern: re.Pattern


@dataclass(frozen=True)
class Route:
    """What a request path is to an instance: ``api`` names the intercepted API, None for passthrough."""

    api: str | None

    @property
    def intercepted(self) -> bool:
        return self.api is not None


class ProviderType:
    """What differs between provider types; one subclass per type."""

    type = ""
    error_shape = "openai"
    default_base_url = ""
    always_byok = False
    intercepted: dict[tuple[str, str], str] = {}  # (method, path) -> API name (messages, chat_completions, responses)
    passthrough: tuple[Passthrough, ...] = ()

    def upstream_path(self, path: str) -> str:
        """The path to append to the instance's base URL."""
        return path

    def auth_headers(self, key: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {key}"}


class Provider:
    """One configured instance, e.g. ``anthropic-corp``.

    ``upstream`` is the transport shared by every instance; intercepted requests
    travel through ``transport``, which is the instance's own when it has one
    (Bedrock), else the shared one.
    """

    def __init__(self, config: ProviderConfig, kind: ProviderType, upstream: Transport):
        self.config = config
        self.kind = kind
        self.name = config.name
        self.type = kind.type
        self.error_shape = kind.error_shape
        self.upstream = upstream
        self.bedrock = BedrockTransport(config.bedrock, upstream) if config.bedrock else None
        self.transport: Transport = self.bedrock or upstream
        self._keys = itertools.cycle(config.keys) if config.keys else None

    def route(self, method: str, path: str) -> Route | None:
        """The route of ``method path``, or None for a path this instance does not serve."""
        if any(segment in (".", "..") for segment in path.split("/")):
            # Upstream resolves dot segments: /v1/conversations/../chat/completions would
            # reach an intercepted API unrecorded, or any other API, with the provider's key.
            return None
        api = self.kind.intercepted.get((method, path))
        if api is not None:
            return Route(api)
        for rule in self.kind.passthrough:
            if (method in rule.methods or (method == "HEAD" and "GET" in rule.methods)) and rule.pattern.fullmatch(path):
                return Route(None)
        return None

    def model_for(self, requested: str) -> str:
        """The model that answers a request for ``requested`` (what the interception records)."""
        return self.bedrock.model_for(requested) if self.bedrock else requested

    def upstream_url(self, path: str, query: str = "") -> str:
        url = self.config.base_url.rstrip("/") + quote(self.kind.upstream_path(path), safe=_PATH_SAFE)
        return f"{url}?{query}" if query else url

    def auth_headers(self) -> dict[str, str]:
        """The provider's own credential (keys rotate when several are configured)."""
        if self._keys is None:
            return {}
        return self.kind.auth_headers(next(self._keys))

    def send_intercepted(self, path: str, query: str, headers: dict[str, str], body: bytes, timeout: float) -> Response:
        """POST an intercepted API request through the instance's transport."""
        return self.transport.send(Request("POST", self.upstream_url(path, query), headers, body, timeout))

    def send_passthrough(self, method: str, path: str, query: str, headers: dict[str, str], body: bytes | None,
                         timeout: float) -> Response:
        """Proxy a passthrough request to the instance's base URL as it is."""
        return self.upstream.send(Request(method, self.upstream_url(path, query), headers, body, timeout))


def passthrough(methods: str, pattern: str) -> Passthrough:
    return Passthrough(frozenset(methods.split()), re.compile(pattern))
