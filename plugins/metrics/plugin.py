"""Hooks of the metrics plugin: count every record, serve them when ``--prometheus-enable`` is set."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from flask import has_request_context, request

from aibridge import PluginState, hookimpl

from .gateway_metrics import GatewayMetrics
from .listener import MetricsListener, start_listener
from .resilience_metrics import ResilienceMetrics
from .measurements import MeasurementsCollector
from .multiprocess import Sampler, SharedEndpoint, multiprocess_dir

log = logging.getLogger("aibridge.metrics")


@dataclass
class MetricsState:
    """What the plugin keeps per app: the metrics, and the listener serving them (None if it could not bind).

    With several processes (``PROMETHEUS_MULTIPROC_DIR``), ``endpoint`` is this
    process's share of the one endpoint, and ``listener`` stays None.
    """

    metrics: GatewayMetrics
    listener: MetricsListener | None
    resilience: ResilienceMetrics | None = None
    endpoint: SharedEndpoint | None = None


state = PluginState("aibridge.metrics")  # only with --prometheus-enable


@hookimpl
def aibridge_startup(app, config):
    if not config.prometheus_enable:
        return
    metrics = GatewayMetrics()
    # Registered where the gateway's own metrics are, so that they are served under both prefixes too.
    resilience = ResilienceMetrics(metrics.counted, app)
    measured = MeasurementsCollector(app)
    metrics.counted.register(measured)
    directory = multiprocess_dir()
    if directory is not None:
        endpoint = SharedEndpoint(directory, config.prometheus_address, Sampler([resilience.status, measured]))
        state.set(app, MetricsState(metrics, None, resilience, endpoint))
        endpoint.start()
        return
    try:
        listener = start_listener(metrics.registry, config.prometheus_address)
    except (OSError, ValueError) as error:
        reason = getattr(error, "strerror", None) or str(error)
        # Another process (e.g. a second gunicorn worker) may hold the port: keep serving the gateway.
        log.error("metrics are not served: cannot listen on --prometheus-address / CODER_PROMETHEUS_ADDRESS "
                  "%s: %s", config.prometheus_address, reason)
        listener = None
    else:
        log.info("serving Prometheus metrics on %s", listener.url)
    state.set(app, MetricsState(metrics, listener, resilience))


@hookimpl
def aibridge_shutdown(app):
    running = state.get(app)
    if running is not None and running.endpoint is not None:
        running.endpoint.stop()
    if running is not None and running.listener is not None:
        running.listener.stop()
        running.listener = None


@hookimpl
def on_interception_start(interception):
    metrics = _metrics()
    if metrics is not None:
        metrics.interception_started(interception)


@hookimpl
def on_prompt_usage(interception, prompt):
    metrics = _metrics()
    if metrics is not None:
        metrics.count_prompt(interception)


@hookimpl
def on_token_usage(interception, usage):
    metrics = _metrics()
    if metrics is not None:
        metrics.count_tokens(interception, usage)


@hookimpl
def on_tool_usage(interception, tool):
    metrics = _metrics()
    if metrics is not None:
        metrics.count_tool(interception, tool)


@hookimpl
def on_interception_end(interception):
    metrics = _metrics()
    if metrics is not None:
        # Every intercepted route is a POST; the request says so when it is at hand.
        method = request.method if has_request_context() else "POST"
        metrics.interception_ended(interception, method)
        _count_resilience("interception_ended", interception)


# Key pools and circuit breakers (the hook argument ``state`` is the key's or breaker's new state).


@hookimpl
def on_key_state_change(provider_name, key_hint, state, reason):
    _count_resilience("key_changed", provider_name, state, reason)


@hookimpl
def on_key_pool_exhausted(provider_name, outcome):
    _count_resilience("pool_exhausted", provider_name, outcome)


@hookimpl
def on_circuit_breaker_change(provider_name, endpoint, model, state):
    _count_resilience("breaker_changed", provider_name, endpoint, model, state)


@hookimpl
def on_circuit_breaker_reject(provider_name, endpoint, model):
    _count_resilience("breaker_rejected", provider_name, endpoint, model)


def _metrics() -> GatewayMetrics | None:
    running = state.get()
    return running.metrics if running is not None else None


def _count_resilience(method: str, *args) -> None:
    """Call a ResilienceMetrics method when metrics are enabled for the current app."""
    running = state.get()
    if running is not None and running.resilience is not None:
        getattr(running.resilience, method)(*args)
