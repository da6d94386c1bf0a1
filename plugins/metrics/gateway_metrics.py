"""The gateway's Prometheus metrics and how each record updates them."""

from __future__ import annotations

import threading

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from .prefixes import OLD_PREFIX as PREFIX
from .prefixes import UnderBothPrefixes

# Agent turns run from well under a second to several minutes (the upstream timeout is 10m).
DURATION_BUCKETS = (0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600)

# TokenUsage fields and the `type` label they are counted under.
TOKEN_FIELDS = (
    ("input_tokens", "input"),
    ("output_tokens", "output"),
    ("cache_read_input_tokens", "cache_read_input_tokens"),
    ("cache_write_input_tokens", "cache_write_input_tokens"),
)


class GatewayMetrics:
    """The metrics of one app, in a registry of their own (never the process-wide default one).

    ``registry`` is what the endpoint serves: every metric of ``counted`` under both prefixes.
    Metrics and collectors of the plugin's other parts register in ``counted``.
    """

    def __init__(self):
        self.counted = CollectorRegistry()  # the metrics themselves, under PREFIX
        self.registry = CollectorRegistry()
        self.registry.register(UnderBothPrefixes(self.counted))
        # status and error_kind take a few fixed values each (docs/metrics.md), so they add few series.
        self.interceptions = self._counter(
            "interceptions_total", "The count of intercepted requests.",
            ("provider", "model", "status", "error_kind", "route", "method", "initiator_id", "client"),
        )
        self.inflight = Gauge(
            PREFIX + "interceptions_inflight", "The number of intercepted requests which are being processed.",
            ("provider", "model", "route"), registry=self.counted,
            multiprocess_mode="livesum",  # several processes: the requests in flight in all of them
        )
        self.duration = Histogram(
            PREFIX + "interceptions_duration_seconds",
            "The total duration of intercepted requests, in seconds; mostly the upstream's processing time.",
            ("provider", "model", "route", "status"), buckets=DURATION_BUCKETS, registry=self.counted,
        )
        self.prompts = self._counter(
            "prompts_total", "The number of prompts issued by users (initiators).",
            ("provider", "model", "initiator_id", "client"),
        )
        self.tokens = self._counter(
            "tokens_total", "The number of tokens used by intercepted requests.",
            ("provider", "model", "type", "initiator_id", "client"),
        )
        self.injected_tools = self._counter(
            "injected_tool_invocations_total", "The number of times an injected MCP tool was invoked by the gateway.",
            ("provider", "model", "server_url", "tool", "status"),
        )
        self.client_tools = self._counter(
            "non_injected_tool_selections_total", "The number of times a model selected a tool the client runs.",
            ("provider", "model", "tool"),
        )
        self.unpriced_records = self._counter(
            "cost_control_unpriced_token_usage_records_total",
            "Token records whose model has no price: their cost is unknown (null), see aibridge prices missing.",
            ("provider", "model"),
        )
        # Extra token types already counted, per (interception, message): see count_tokens.
        self._extra_counted: dict[str, dict[tuple[str, str], float]] = {}
        # The in-flight labels each interception started with: a fallback may change its model on the way.
        self._inflight_labels: dict[str, tuple[str, str, str]] = {}
        self._lock = threading.Lock()

    def _counter(self, name: str, documentation: str, labels: tuple[str, ...]) -> Counter:
        return Counter(PREFIX + name, documentation, labels, registry=self.counted)

    def interception_started(self, interception) -> None:
        labels = (interception.provider, interception.model, interception.api)
        self._inflight_labels[interception.interception_id] = labels
        self.inflight.labels(*labels).inc()

    def interception_ended(self, interception, method: str) -> None:
        """Count the finished interception; it is no longer in flight."""
        i = interception
        self.inflight.labels(*self._inflight_labels.pop(i.interception_id, (i.provider, i.model, i.api))).dec()
        status = i.status or "completed"
        error_kind = i.error.kind if i.error is not None else ""
        self.interceptions.labels(i.provider, i.model, status, error_kind, i.api, method, i.initiator_id, i.client).inc()
        if i.ended_at is not None:
            seconds = max(0.0, (i.ended_at - i.started_at).total_seconds())
            self.duration.labels(i.provider, i.model, i.api, status).observe(seconds)
        with self._lock:
            self._extra_counted.pop(i.interception_id, None)

    def count_prompt(self, interception) -> None:
        i = interception
        self.prompts.labels(i.provider, i.model, i.initiator_id, i.client).inc()

    def count_tokens(self, interception, usage) -> None:
        """Add a TokenUsage: the four counts as they are, numeric metadata as extra types.

        The four counts of an interception's records add up to the bill. Metadata
        is what the upstream reported for the message so far (a streamed
        Anthropic message repeats it on each of its records), so an extra type
        adds only what exceeds the value already counted for that message.
        """
        i = interception
        for field, token_type in TOKEN_FIELDS:
            count = getattr(usage, field)
            if count > 0:
                self.tokens.labels(i.provider, i.model, token_type, i.initiator_id, i.client).inc(count)
        for token_type, increase in self._extra_increases(usage).items():
            self.tokens.labels(i.provider, i.model, token_type, i.initiator_id, i.client).inc(increase)
        if usage.cost_usd_nanos is None:
            self.unpriced_records.labels(i.provider, i.model).inc()

    def _extra_increases(self, usage) -> dict[str, float]:
        increases = {}
        with self._lock:
            counted = self._extra_counted.setdefault(usage.interception_id, {})
            for key, value in usage.metadata.items():
                if not _is_count(value):
                    continue
                already = counted.get((usage.msg_id, key), 0)
                if value > already:
                    increases[key] = value - already
                    counted[(usage.msg_id, key)] = value
        return increases

    def count_tool(self, interception, tool) -> None:
        i = interception
        if tool.injected:
            status = "error" if tool.invocation_error else "ok"
            self.injected_tools.labels(i.provider, i.model, tool.server_url or "", tool.tool, status).inc()
        else:
            self.client_tools.labels(i.provider, i.model, tool.tool).inc()


def _is_count(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
