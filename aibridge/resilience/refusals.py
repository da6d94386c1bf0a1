"""The answers the gateway gives itself instead of asking the upstream.

Each is an error in the API's own shape with the status the SDKs act on
(429 and 503 carry ``Retry-After``), and ends the interception ``failed`` with
its own error kind.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

from ..errors import anthropic_error_body, openai_error_body
from ..records import InterceptionError
from ..upstream import ResponseHeaders
from .held import HeldResponse


@dataclass(frozen=True)
class Refusal:
    """Why the gateway answers itself: status, error kind (records.ERROR_KINDS), message, OpenAI error code."""

    status: int
    kind: str
    message: str
    code: str
    retry_after: int | None = None  # whole seconds, for the Retry-After header

    def error(self) -> InterceptionError:
        return InterceptionError(self.kind, self.message)

    def headers(self) -> list[tuple[str, str]]:
        headers = [("Content-Type", "application/json")]
        if self.retry_after is not None:
            headers.append(("Retry-After", str(self.retry_after)))
        return headers

    def body(self, shape: str) -> bytes:
        if shape == "anthropic":
            return json.dumps(anthropic_error_body(self.status, self.message)).encode()
        return json.dumps(openai_error_body(self.status, self.message, self.code)).encode()

    def response(self, shape: str) -> HeldResponse:
        """The refusal read like an upstream answer (for the relay's paths that take one)."""
        return HeldResponse(self.status, ResponseHeaders(self.headers()), self.body(shape))

    def sooner(self, other: Refusal) -> Refusal:
        """This refusal, with the shorter of the two waits (the client may come back when either is over)."""
        waits = [wait for wait in (self.retry_after, other.retry_after) if wait is not None]
        if not waits or min(waits) == self.retry_after:
            return self
        return Refusal(self.status, self.kind, self.message, self.code, min(waits))


def whole_seconds(seconds: float) -> int:
    """A Retry-After value: seconds rounded up, at least 1."""
    return max(1, math.ceil(seconds))


def rate_limited(limit: int, wait: float) -> Refusal:
    return Refusal(429, "rate_limited",
                   f"this gateway takes at most {limit} requests per second (--aibridge-rate-limit); "
                   f"retry after {whole_seconds(wait)} s", "rate_limit_exceeded", whole_seconds(wait))


def over_concurrency(limit: int) -> Refusal:
    return Refusal(503, "concurrency_limited",
                   f"this gateway is already handling its limit of {limit} requests at once "
                   "(--aibridge-max-concurrency); retry shortly", "concurrency_limit_exceeded")


def circuit_open(provider_name: str, endpoint: str, model: str, wait: float) -> Refusal:
    return Refusal(503, "circuit_open",
                   f"provider {provider_name}: {endpoint} requests for {model} are paused after repeated upstream "
                   f"failures (circuit breaker open); retry after {whole_seconds(wait)} s",
                   "circuit_breaker_open", whole_seconds(wait))


def keys_cooling(provider_name: str, wait: float) -> Refusal:
    return Refusal(429, "key_pool_exhausted",
                   f"every key of provider {provider_name} is rate-limited; retry after {whole_seconds(wait)} s",
                   "rate_limit_exceeded", whole_seconds(wait))


def keys_refused(provider_name: str) -> Refusal:
    return Refusal(502, "key_pool_exhausted", f"every key of provider {provider_name} was refused",
                   "key_pool_exhausted")


def from_plugin(refusal) -> Refusal:
    """A plugin's ``aibridge.Refusal`` that names an error kind (``aibridge_refuse_interception``), to answer and record."""
    wait = None if refusal.retry_after is None else whole_seconds(refusal.retry_after)
    return Refusal(refusal.status, refusal.kind, refusal.message, refusal.code or refusal.kind, wait)
