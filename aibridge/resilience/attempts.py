"""The one attempt loop: the ``send(body)`` every round of an intercepted request goes through.

For each round it picks the instance (the requested one, or its fallbacks
when that one's breaker is open or its keys are exhausted), the key, and
sends; it sends again only what the upstream provably is not working on (see
retry.py), fails over to the next key when one is refused, and answers itself
(refusals.py) when no instance can take the request. All of it happens before
the round's first byte reaches the client; what it returns is relayed as today.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..upstream import TIMEOUT, UNREACHABLE, Response, UpstreamError
from .breaker import FAILURE_STATUSES
from .held import HeldResponse
from .keypool import Key, mask
from .refusals import Refusal, circuit_open, keys_cooling, keys_refused
from .retry import MAX_WAIT, backoff, delay_before, retry_after, retryable

CENTRALIZED = "centralized"
BYOK = "byok"

# Answers about the key: a pool of several keys fails over to the next one.
_KEY_STATUSES = frozenset({401, 403, 429})


@dataclass(frozen=True)
class Outgoing:
    """What every attempt of one interception sends: the route, the headers (no provider credential), the timeout.

    ``endpoint`` (the API) and ``model`` (as the client named it) pick the circuit breaker.
    """

    path: str
    query: str
    headers: dict
    timeout: float
    endpoint: str
    model: str
    shape: str  # the API's error shape, for the gateway's own answers


class UpstreamAttempts:
    """``send(body) -> Response`` for one interception; ``record`` (its InterceptionLog) is set before the first call.

    Returns the upstream's answer (an error status included, relayed as sent)
    or the gateway's refusal read like one; raises UpstreamError when the
    upstream could not be reached or broke off.
    """

    def __init__(self, gateway, provider, outgoing: Outgoing, byok: bool, byok_secret: str = ""):
        self.clock = gateway.clock
        self.providers = gateway.providers
        self.max_retries = gateway.config.max_retries
        self.instance = provider
        self.outgoing = outgoing
        self.byok = byok
        self.kind = BYOK if byok else CENTRALIZED
        self.key: Key | None = None if byok else provider.pool.pick(self.clock.monotonic())
        self.hint = mask(byok_secret) if byok else (self.key.hint if self.key else "")
        self.record = None
        self.attempts = 0
        self.failovers = 0
        self.tried = {provider.name}
        self.fell_back_from = ""

    def __call__(self, body: bytes) -> Response:
        try:
            return self._send(body)
        finally:
            self.record.note(attempts=self.attempts)
            if self.failovers:
                self.record.note(key_failovers=self.failovers)

    def _send(self, body: bytes) -> Response:
        refused = None
        while True:
            outcome = self._send_to(self.instance, body)
            if not isinstance(outcome, Refusal):
                return outcome
            refused = outcome if refused is None else refused.sooner(outcome)
            fallback = self._fallback(self.instance)
            if fallback is None:
                self.record.refused(refused.error())
                return refused.response(self.outgoing.shape)
            self._fall_back(fallback)

    def _send_to(self, instance, body: bytes) -> Response | Refusal:
        """Send to one instance: its breaker and keys decide; retries and key failovers happen here."""
        out, clock = self.outgoing, self.clock
        breaker = instance.breakers.get(out.endpoint, out.model) if instance.breakers else None
        pool = None if self.byok or not instance.pool else instance.pool
        payload = instance.body_for(body, out.model)
        retries = 0
        held = None  # the last error answer, relayed if the next attempt cannot go
        refused_key = None  # the key the last answer refused
        while True:
            now = clock.monotonic()
            if breaker is not None and not breaker.allow(now):
                instance.breakers.rejected(out.endpoint, out.model)
                if held is not None and self._fallback(instance) is None:
                    return held
                return circuit_open(instance.name, out.endpoint, out.model, breaker.retry_after(now))
            key = self._key_for(pool, now)
            if pool is not None and key is None:
                if breaker is not None:
                    breaker.no_verdict()
                wait = pool.shortest_wait(now)
                if held is not None and wait is not None and wait <= MAX_WAIT and retries < self.max_retries:
                    retries += 1  # this request's own 429s emptied the pool: wait for the first key back
                    clock.sleep(wait)
                    continue
                wait = pool.exhausted(now)
                return keys_cooling(instance.name, wait) if wait is not None else keys_refused(instance.name)
            self.attempts += 1
            if refused_key is not None and key is not refused_key:
                self.failovers += 1
            refused_key = None
            try:
                response = instance.send_intercepted(out.path, out.query, out.headers, payload, out.timeout, key)
            except UpstreamError as error:
                _judge_silence(breaker, error, now)
                if error.request_sent or retries >= self.max_retries:
                    raise
                retries += 1
                clock.sleep(backoff(retries))
                continue
            status = response.status
            if breaker is not None:
                (breaker.failure if status in FAILURE_STATUSES else breaker.success)(now)
            if status < 400 or not (retryable(status) or status in _KEY_STATUSES):
                self._answered_with(key)
                return response
            asked = retry_after(response.headers, clock.time())
            if key is not None and pool is not None and pool.refused(key, status, asked, now):
                held, refused_key = HeldResponse.read_from(response), key
                continue
            delay = delay_before(retries + 1, asked) if retryable(status) and retries < self.max_retries else None
            if delay is None:
                self._answered_with(key)
                return response
            held = HeldResponse.read_from(response)
            retries += 1
            clock.sleep(delay)

    def _key_for(self, pool, now: float) -> Key | None:
        """The key this interception used last while it is usable (a tool loop keeps its key), else the next one."""
        if pool is None:
            return self.key
        key = self.key  # always one of this instance's keys (replaced on fallback)
        if key is not None and pool.usable(key, now):
            return key
        return pool.pick(now)

    def _answered_with(self, key: Key | None) -> None:
        """The upstream answered with ``key``: the interception records it (once it differs from the first)."""
        if key is not self.key and key is not None:
            self.key = key
            self.hint = key.hint
            self.record.update(credential_hint=key.hint)

    def _fallback(self, instance):
        """The instance ``instance`` falls back to, unless there is none (or this interception tried it already)."""
        name = instance.config.fallback
        fallback = self.providers.get(name) if name else None
        if fallback is None or fallback.name in self.tried or fallback.type != instance.type:
            return None
        return fallback

    def _fall_back(self, fallback) -> None:
        """Requests of this interception go to ``fallback`` from now on; the record says which instance answers."""
        self.fell_back_from = self.fell_back_from or self.instance.name
        self.tried.add(fallback.name)
        self.instance = fallback
        self.key = None if self.byok else fallback.pool.pick(self.clock.monotonic())
        if not self.byok:
            self.hint = self.key.hint if self.key else ""
        self.record.update(provider_name=fallback.name, model=fallback.model_for(self.outgoing.model),
                           credential_hint=self.hint)
        self.record.note(fallback_from=self.fell_back_from)


def _judge_silence(breaker, error: UpstreamError, now: float) -> None:
    """No answer: unreachable or timed out counts as a failing upstream; a broken exchange says nothing."""
    if breaker is None:
        return
    if error.kind in (TIMEOUT, UNREACHABLE):
        breaker.failure(now)
    else:
        breaker.no_verdict()
