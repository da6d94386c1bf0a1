"""Shared pieces of the resilience tests: a clock the tests move, and an upstream that answers per key and call.

``ManualClock`` is injected into a gateway (``Gateway.clock``): the retry
backoff, key cooldowns, breaker timeouts and the rate limit read it, and its
``sleep`` only moves it forward (recording how long was asked), so no test
waits. ``KeyedUpstream`` is a FakeUpstream that looks at the credential of
each request (``x-api-key``, ``Authorization: Bearer``, or the access key of
an AWS signature) and answers from a script for that key, call after call;
requests without a script for their key get the FIFO queue as usual.
"""

from __future__ import annotations

import contextlib
import re
import threading
from collections import deque
from dataclasses import dataclass

import pytest
from support.fakeupstream import FakeUpstream, ReceivedRequest, Response, _plan
from support.faults import free_port
from support.gateway import Gateway, RecordCollector

import aibridge

_AWS_KEY = re.compile(r"Credential=([^/]+)/")


class ManualClock:
    """Monotonic and wall time that move only when a test (or a sleep) moves them."""

    def __init__(self, start: float = 1000.0, wall: float = 1_750_000_000.0):
        self._now = start
        self._wall_offset = wall - start
        self._lock = threading.Lock()
        self.sleeps: list[float] = []
        self.on_sleep = None  # called with the seconds after each sleep (e.g. to start a server)

    def monotonic(self) -> float:
        with self._lock:
            return self._now

    def time(self) -> float:
        with self._lock:
            return self._now + self._wall_offset

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)
            self._now += seconds
        if self.on_sleep is not None:
            self.on_sleep(seconds)

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += seconds


def key_of(request: ReceivedRequest) -> str:
    """The upstream credential a request carries (its API key, or the access key ID of a SigV4 signature)."""
    api_key = request.headers.get("x-api-key")
    if api_key:
        return api_key
    authorization = request.headers.get("Authorization", "")
    aws = _AWS_KEY.search(authorization)
    if aws:
        return aws.group(1)
    return authorization.removeprefix("Bearer ").strip()


class KeyedUpstream(FakeUpstream):
    """A FakeUpstream whose answers are scripted per key: ``script(key, answer, answer, ...)``.

    An answer is a fixture name, a Response, or ``(fixture, {"status": ..., "headers": ..., ...})``
    with FakeUpstream.queue's options. ``gate(key, n)`` holds the answers of the
    next ``n`` requests with ``key`` until all ``n`` arrived (they are then in flight together).
    """

    def __init__(self, port: int = 0):
        super().__init__(port)
        self._scripts: dict[str, deque] = {}
        self._gates: dict[str, _Gate] = {}

    def script(self, key: str, *answers) -> None:
        planned = []
        for answer in answers:
            fixture, options = answer if isinstance(answer, tuple) else (answer, {})
            planned.append(_plan(fixture, options.get("status"), options.get("headers"), options.get("delay", 0.0),
                                 options.get("stall_after"), options.get("close_after")))
        with self._lock:
            self._scripts.setdefault(key, deque()).extend(planned)

    def gate(self, key: str, count: int) -> None:
        with self._lock:
            self._gates[key] = _Gate(count)

    def reset(self) -> None:
        super().reset()
        with self._lock:
            self._scripts.clear()
            self._gates.clear()

    def keys_used(self) -> list[str]:
        """The credential of every request received, in order."""
        return [key_of(request) for request in self.requests]

    def _take(self, request: ReceivedRequest):
        key = key_of(request)
        with self._lock:
            script = self._scripts.get(key)
            planned = script.popleft() if script else None
            gate = self._gates.get(key)
        if planned is None:
            planned = super()._take(request)  # records it
        else:
            with self._changed:
                self._requests.append(request)
                self._changed.notify_all()
        if gate is not None:
            gate.pass_through()
        return planned


class _Gate:
    """Holds the first ``count`` requests until all of them arrived; later ones pass at once."""

    def __init__(self, count: int):
        self.count = count
        self.arrived = 0
        self._changed = threading.Condition()

    def pass_through(self) -> None:
        with self._changed:
            self.arrived += 1
            self._changed.notify_all()
            self._changed.wait_for(lambda: self.arrived >= self.count, timeout=10)


class HookEvents:
    """A plugin that keeps what the key and breaker hooks announce."""

    def __init__(self):
        self.events: list[tuple] = []
        self._lock = threading.Lock()

    def _add(self, *event) -> None:
        with self._lock:
            self.events.append(event)

    def of(self, kind: str) -> list[tuple]:
        with self._lock:
            return [event[1:] for event in self.events if event[0] == kind]

    @aibridge.hookimpl
    def on_key_state_change(self, provider_name, key_hint, state, reason):
        self._add("key", provider_name, key_hint, state, reason)

    @aibridge.hookimpl
    def on_key_pool_exhausted(self, provider_name, outcome):
        self._add("exhausted", provider_name, outcome)

    @aibridge.hookimpl
    def on_circuit_breaker_change(self, provider_name, endpoint, model, state):
        self._add("breaker", provider_name, endpoint, model, state)

    @aibridge.hookimpl
    def on_circuit_breaker_reject(self, provider_name, endpoint, model):
        self._add("reject", provider_name, endpoint, model)


@dataclass
class ResilientGateway:
    """A test gateway with a manual clock, a record collector and the hook events registered."""

    gateway: Gateway
    clock: ManualClock
    records: RecordCollector
    events: HookEvents
    token: str

    def url(self, provider_name: str) -> str:
        return self.gateway.bridge_url(provider_name)

    def close(self) -> None:
        self.gateway.close()


@contextlib.contextmanager
def resilient_gateway(config, username: str = "alice", role: str = "member"):
    """Serve ``config`` with a ManualClock; yields a ResilientGateway."""
    gateway = Gateway(config)
    clock = ManualClock()
    gateway.app.extensions["aibridge"].clock = clock
    records, events = RecordCollector(), HookEvents()
    gateway.pm.register(records, name="test-records")
    gateway.pm.register(events, name="test-events")
    try:
        yield ResilientGateway(gateway, clock, records, events, gateway.create_token(username, role))
    finally:
        gateway.close()


@pytest.fixture
def upstream():
    """A KeyedUpstream of the test's own (it also answers from the FIFO queue like any FakeUpstream)."""
    with KeyedUpstream() as fake:
        yield fake


__all__ = ["HookEvents", "KeyedUpstream", "ManualClock", "Response", "free_port", "key_of", "resilient_gateway",
           "upstream"]
