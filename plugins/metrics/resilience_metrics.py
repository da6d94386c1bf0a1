"""Metrics of key pools, circuit breakers and provider instances (docs/metrics.md).

Counters and the failover histogram follow the hooks and the interceptions'
ends; the gauges (key states, breaker states, provider_info) are read from
``aibridge.provider_status`` when Prometheus scrapes, so a cooldown that ended
shows as ended even if no request noticed it yet.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

import aibridge

from .gateway_metrics import PREFIX

KEY_STATES = ("valid", "temporary", "permanent")
BREAKER_VALUES = {"closed": 0, "half-open": 1, "open": 2}
FAILOVER_BUCKETS = (0, 1, 2, 3, 4, 5, 10)
# How the gauges of several processes of one host add up (docs/metrics.md, "Several processes"): each
# worker has key pools of its own, so their key counts are shown per process (a ``pid`` label); a
# breaker is shown in the most open state any process has it in; provider_info is 1 in every process.
PROCESSES = {"key_pool_state": "all", "circuit_breaker_state": "max", "provider_info": "max"}


class ResilienceMetrics:
    """The counters of one app; ``StatusCollector`` adds the gauges to the same registry."""

    def __init__(self, registry, app):
        self.transitions = Counter(
            PREFIX + "key_pool_state_transitions_total", "Key state changes, by the reason of the change.",
            ("provider", "reason"), registry=registry,
        )
        self.exhaustions = Counter(
            PREFIX + "key_pool_exhaustions_total", "Requests that found no usable key of an instance.",
            ("provider", "outcome"), registry=registry,
        )
        self.failovers = Histogram(
            PREFIX + "key_pool_failover_attempts",
            "Per intercepted request with a key of the gateway's: how many times it was sent again with another key.",
            ("provider",), buckets=FAILOVER_BUCKETS, registry=registry,
        )
        self.trips = Counter(
            PREFIX + "circuit_breaker_trips_total", "Times a circuit breaker opened.",
            ("provider", "endpoint", "model"), registry=registry,
        )
        self.rejects = Counter(
            PREFIX + "circuit_breaker_rejects_total", "Requests refused because their circuit breaker was open.",
            ("provider", "endpoint", "model"), registry=registry,
        )
        self.status = StatusCollector(app)
        registry.register(self.status)

    def key_changed(self, provider_name: str, state: str, reason: str) -> None:
        self.transitions.labels(provider_name, reason).inc()

    def pool_exhausted(self, provider_name: str, outcome: str) -> None:
        self.exhaustions.labels(provider_name, outcome).inc()

    def breaker_changed(self, provider_name: str, endpoint: str, model: str, state: str) -> None:
        if state == "open":
            self.trips.labels(provider_name, endpoint, model).inc()

    def breaker_rejected(self, provider_name: str, endpoint: str, model: str) -> None:
        self.rejects.labels(provider_name, endpoint, model).inc()

    def interception_ended(self, interception) -> None:
        if interception.credential_kind == "centralized" and interception.credential_hint:
            failovers = interception.metadata.get("key_failovers", 0)
            self.failovers.labels(interception.provider_name).observe(failovers)


class StatusCollector(Collector):
    """key_pool_state, circuit_breaker_state and provider_info, as of the scrape."""

    def __init__(self, app):
        self.app = app

    def describe(self):
        return []  # collected only on scrape: the instances can change with a reload

    def collect(self):
        return [family for family, _ in self.families()]

    def families(self):
        """Each gauge family with how its processes add up (``PROCESSES``)."""
        return [(family, PROCESSES[family.name.removeprefix(PREFIX)]) for family in self._gauges()]

    def _gauges(self):
        keys = GaugeMetricFamily(PREFIX + "key_pool_state", "Keys of each instance in each state.",
                                 labels=("provider", "state"))
        breakers = GaugeMetricFamily(PREFIX + "circuit_breaker_state",
                                     "Circuit breaker state: 0 closed, 1 half-open, 2 open.",
                                     labels=("provider", "endpoint", "model"))
        info = GaugeMetricFamily(PREFIX + "provider_info", "Each provider instance (always 1).",
                                 labels=("provider", "type", "fallback", "keys", "bedrock", "circuit_breakers"))
        for provider in aibridge.provider_status(self.app):
            if provider.keys:
                for state in KEY_STATES:
                    keys.add_metric((provider.name, state), sum(1 for key in provider.keys if key.state == state))
            for breaker in provider.breakers:
                breakers.add_metric((provider.name, breaker.endpoint, breaker.model), BREAKER_VALUES[breaker.state])
            info.add_metric((provider.name, provider.type, provider.fallback, str(len(provider.keys)),
                             str(provider.bedrock).lower(), str(provider.circuit_breakers).lower()), 1)
        yield keys
        yield breakers
        yield info
