"""A configured provider instance: which routes it serves, where and how its traffic goes."""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from urllib.parse import quote

from ..config import ProviderConfig
from ..resilience.breaker import BreakerBoard, BreakerSettings
from ..resilience.keypool import Key, KeyPool, mask
from ..upstream import Request, Response, Transport, UpstreamError
from .bedrock import BedrockTransport, bedrock_keys
from .models import with_model

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
    (Bedrock), else the shared one. ``pool`` holds the keys intercepted requests
    are sent with (Bedrock: its access-key pairs); ``breakers`` is None unless
    circuit breakers are enabled; ``listener`` hears their changes.
    """

    def __init__(self, config: ProviderConfig, kind: ProviderType, upstream: Transport,
                 breakers: BreakerSettings | None = None, listener=None):
        self.config = config
        self.kind = kind
        self.name = config.name
        self.type = kind.type
        self.error_shape = kind.error_shape
        self.upstream = upstream
        self.model_map = dict(config.model_map)
        self.bedrock = BedrockTransport(config.bedrock, upstream, self.model_map) if config.bedrock else None
        self.transport: Transport = self.bedrock or upstream
        keys = bedrock_keys(config.bedrock) if config.bedrock else [Key(key, mask(key)) for key in config.keys]
        self.pool = KeyPool(self.name, keys, listener)
        self.breakers = BreakerBoard(self.name, breakers, listener) if breakers else None
        # Passthrough routes of a Bedrock instance go to Anthropic's API with its KEY, not the AWS pairs.
        self._passthrough_keys = itertools.cycle(config.keys) if config.bedrock and config.keys else None

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
        if self.bedrock:
            return self.bedrock.model_for(requested)
        return self.model_map.get(requested, requested)

    def body_for(self, body: bytes, requested: str) -> bytes:
        """The body this instance is sent: the model renamed when MODEL_MAP says so (Bedrock maps it in its URL)."""
        if self.bedrock or requested not in self.model_map:
            return body
        return with_model(body, self.model_map[requested])

    def upstream_url(self, path: str, query: str = "") -> str:
        url = self.config.base_url.rstrip("/") + quote(self.kind.upstream_path(path), safe=_PATH_SAFE)
        return f"{url}?{query}" if query else url

    def auth_headers(self) -> dict[str, str]:
        """The provider's own credential for a passthrough request (keys rotate, those refused for good aside)."""
        if self._passthrough_keys is not None:
            return self.kind.auth_headers(next(self._passthrough_keys))
        key = None if self.bedrock else self.pool.any_key()
        return self.kind.auth_headers(key.secret) if key else {}

    def send_intercepted(self, path: str, query: str, headers: dict[str, str], body: bytes, timeout: float,
                         key: Key | None = None, dump=None) -> Response:
        """POST an intercepted API request through the instance's transport, with ``key`` (one of ``pool``).

        ``dump`` (a ``dumps.Exchange``, with --aibridge-dump-dir) is shown the
        request and the answer (for Bedrock: as handed to its transport, and as relayed).
        """
        url = self.upstream_url(path, query)
        if key is not None and not self.bedrock:
            headers = {**headers, **self.kind.auth_headers(key.secret)}
        request = Request("POST", url, headers, body, timeout)
        if dump is None:
            return self._send(request, key)
        dump.sent(request)
        try:
            response = self._send(request, key)
        except UpstreamError as error:
            dump.failed(error)
            raise
        return dump.answered(response)

    def _send(self, request: Request, key: Key | None) -> Response:
        if self.bedrock:
            return self.bedrock.send(request, key.secret if key else None)
        return self.transport.send(request)

    def send_passthrough(self, method: str, path: str, query: str, headers: dict[str, str], body: bytes | None,
                         timeout: float) -> Response:
        """Proxy a passthrough request to the instance's base URL as it is."""
        return self.upstream.send(Request(method, self.upstream_url(path, query), headers, body, timeout))


def passthrough(methods: str, pattern: str) -> Passthrough:
    return Passthrough(frozenset(methods.split()), re.compile(pattern))
