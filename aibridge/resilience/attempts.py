"""The one attempt loop: the ``send(body)`` every round of an intercepted request goes through.

For each round it picks the instance (the requested one, or its fallbacks
when that one's breaker is open or its keys are exhausted), the key, and
sends; it sends again only what the upstream provably is not working on (see
retry.py), fails over to the next key when one is refused, and answers itself
(refusals.py) when no instance can take the request. All of it happens before
the round's first byte reaches the client; what it returns is relayed as today.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from ..records import utcnow
from ..upstream import TIMEOUT, UNREACHABLE, Response, UpstreamError
from .breaker import FAILURE_STATUSES
from .held import HeldResponse
from .keypool import Key, mask
from .refusals import Refusal, circuit_open, keys_cooling, keys_refused
from .retry import MAX_WAIT, backoff, delay_before, retry_after, retryable

CANCELLED = "cancelled"  # an attempt cut before its answer came: no upstream error, the request itself ended
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
        self.dump = None  # the interception's dumps.Exchange with --aibridge-dump-dir
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
            outcome = _Round(self, self.instance, body).run()
            if not isinstance(outcome, Refusal):
                return outcome
            refused = outcome if refused is None else refused.sooner(outcome)
            fallback = self.fallback(self.instance)
            if fallback is None:
                self.record.refused(refused.error())
                return refused.response(self.outgoing.shape)
            self._fall_back(fallback)

    def key_for(self, pool, now: float) -> Key | None:
        """The key this interception used last while it is usable (a tool loop keeps its key), else the next one."""
        if pool is None:
            return self.key
        key = self.key  # always one of this instance's keys (replaced on fallback)
        if key is not None and pool.usable(key, now):
            return key
        return pool.pick(now)

    def answered_with(self, key: Key | None) -> None:
        """The upstream answered with ``key``: the interception records it (once it differs from the first)."""
        if key is not self.key and key is not None:
            self.key = key
            self.hint = key.hint
            self.record.update(credential_hint=key.hint)

    def fallback(self, instance):
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


class _Round:
    """One round's body sent to one instance: its breaker and keys decide, its retries and key failovers happen here."""

    def __init__(self, attempts: UpstreamAttempts, instance, body: bytes):
        out = attempts.outgoing
        self.attempts = attempts
        self.instance = instance
        self.breaker = instance.breakers.get(out.endpoint, out.model) if instance.breakers else None
        self.pool = None if attempts.byok or not instance.pool else instance.pool
        self.payload = instance.body_for(body, out.model)
        self.retries = 0
        self.held = None  # the last error answer, read whole: relayed if the next attempt cannot go
        self.refused_key = None  # the key that answer refused

    def run(self) -> Response | Refusal:
        clock = self.attempts.clock
        while True:
            now = clock.monotonic()
            if self.breaker is not None and not self.breaker.allow(now):
                return self._rejected(now)
            key = self.attempts.key_for(self.pool, now)
            if self.pool is not None and key is None:
                wait = self._wait_for_a_key(now)
                if wait is None:
                    return self._exhausted(now)
                clock.sleep(wait)
                continue
            try:
                response = self._send(key)
            except UpstreamError as error:
                _judge_silence(self.breaker, error, now)
                if error.request_sent or self.retries >= self.attempts.max_retries:
                    raise
                self.retries += 1
                clock.sleep(backoff(self.retries))
                continue
            outcome = self._judge(response, key, now)
            if outcome is not None:
                return outcome

    def _send(self, key: Key | None) -> Response:
        attempts, out = self.attempts, self.attempts.outgoing
        attempts.attempts += 1
        if self.refused_key is not None and key is not self.refused_key:
            attempts.failovers += 1
        self.refused_key = None

        def send() -> Response:
            return self.instance.send_intercepted(out.path, out.query, out.headers, self.payload, out.timeout, key,
                                                  dump=attempts.dump)

        if not attempts.record.observes_attempts:
            return send()
        started_at, started = utcnow(), time.monotonic()
        status = error_kind = None
        host = ""
        try:
            response = send()
            status, host = response.status, response.host
            return response
        except UpstreamError as error:
            error_kind, host = error.kind, error.host
            raise
        except BaseException:
            error_kind = CANCELLED  # cut while it waited (client gone, shutdown) or a fault of ours
            raise
        finally:
            # Each attempt is announced (observers such as tracing make one span of it), however it went.
            attempts.record.upstream_attempt(attempts.attempts, self.instance.name, host, started_at,
                                             time.monotonic() - started, status, error_kind)

    def _judge(self, response: Response, key: Key | None, now: float) -> Response | None:
        """The answer to relay, or None after making ready to send again (another key, or a retry after a wait)."""
        status = response.status
        if self.breaker is not None:
            (self.breaker.failure if status in FAILURE_STATUSES else self.breaker.success)(now)
        if status < 400 or not (retryable(status) or status in _KEY_STATUSES):
            self.attempts.answered_with(key)
            return response
        clock = self.attempts.clock
        asked = retry_after(response.headers, clock.time())
        if key is not None and self.pool is not None and self.pool.refused(key, status, asked, now):
            self.held, self.refused_key = HeldResponse.read_from(response), key
            return None
        delay = delay_before(self.retries + 1, asked) if retryable(status) else None
        if delay is None or self.retries >= self.attempts.max_retries:
            self.attempts.answered_with(key)
            return response
        self.held = HeldResponse.read_from(response)
        self.retries += 1
        clock.sleep(delay)
        return None

    def _rejected(self, now: float) -> Response | Refusal:
        """The breaker is open: the fallback's turn, or this request's own last answer when there is none."""
        out = self.attempts.outgoing
        self.instance.breakers.rejected(out.endpoint, out.model)
        if self.held is not None and self.attempts.fallback(self.instance) is None:
            return self.held
        return circuit_open(self.instance.name, out.endpoint, out.model, self.breaker.retry_after(now))

    def _wait_for_a_key(self, now: float) -> float | None:
        """When this request's own refusals emptied the pool and a key is back soon enough: how long to wait."""
        if self.breaker is not None:
            self.breaker.no_verdict()  # let through, yet not sent now
        wait = self.pool.shortest_wait(now)
        if self.held is None or wait is None or wait > MAX_WAIT or self.retries >= self.attempts.max_retries:
            return None
        self.retries += 1
        return wait

    def _exhausted(self, now: float) -> Refusal:
        wait = self.pool.exhausted(now)
        name = self.instance.name
        return keys_cooling(name, wait) if wait is not None else keys_refused(name)


def _judge_silence(breaker, error: UpstreamError, now: float) -> None:
    """No answer: unreachable or timed out counts as a failing upstream; a broken exchange says nothing."""
    if breaker is None:
        return
    if error.kind in (TIMEOUT, UNREACHABLE):
        breaker.failure(now)
    else:
        breaker.no_verdict()
