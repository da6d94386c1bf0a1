"""The OpenTelemetry SDK, set up from the standard ``OTEL_*`` variables; imported only when tracing is on.

The SDK's BatchSpanProcessor exports from a worker ``threading.Thread``:
under ``aibridge server`` or gunicorn's gevent worker (gevent's monkey
patching) that is a greenlet of the hub, so exports are cooperative network
I/O and the SDK's locks are gevent's. Every span is then made on the hub's
thread: the recorder hands its batch reports back there
(``aibridge.AppThread``), never calling the SDK from its writer thread.
Without gevent the SDK's thread and locks are real ones, safe from any thread.
"""

from __future__ import annotations

import functools
import logging
import os
import threading
from dataclasses import dataclass

import aibridge

log = logging.getLogger("aibridge.tracing")

EXTRA_HINT = "pip install 'aibridge[tracing]'"
PROTOCOL_VARIABLES = ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL")


@dataclass
class Provider:
    """The tracer to make spans with, and how to flush what it holds at shutdown."""

    tracer: object
    provider: object
    processor: object | None  # ours to shut down; None: the process's own provider, only flushed

    def close(self, timeout: float) -> None:
        """Export what is pending (and stop, when the provider is ours), waiting at most ``timeout`` seconds.

        The SDK's shutdown waits up to 30 s for a collector that does not
        answer; it runs on a ``threading.Thread`` (a greenlet under gevent)
        that the server stops waiting for once ``timeout`` is over.
        """
        if self.processor is None:
            work = functools.partial(self.provider.force_flush, max(1, int(timeout * 1000)))
        else:
            work = self.provider.shutdown  # flushes the BatchSpanProcessor, then stops it and the exporter
        closing = threading.Thread(target=work, name="aibridge-tracing-shutdown", daemon=True)
        closing.start()
        closing.join(timeout)
        if closing.is_alive():
            log.warning("tracing: spans not exported within %gs (--shutdown-grace) are dropped", timeout)


def start() -> Provider:
    """The process's SDK tracer provider when one is set (an app embedding aibridge, a test), else a new OTLP one.

    ConfigError (one line) when the SDK is not installed or asked for a protocol it does not speak.
    """
    try:
        from opentelemetry import trace
        from opentelemetry.sdk.trace import TracerProvider
    except ImportError:
        raise aibridge.ConfigError(f"--trace-enable / CODER_TRACE_ENABLE is on but the OpenTelemetry SDK is not "
                                   f"installed: {EXTRA_HINT}") from None
    current = trace.get_tracer_provider()
    if isinstance(current, TracerProvider):
        return Provider(current.get_tracer("aibridge", aibridge.__version__), current, None)
    return _new_provider(TracerProvider)


def _new_provider(tracer_provider_class) -> Provider:
    _check_protocol()
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    except ImportError:
        raise aibridge.ConfigError(f"--trace-enable / CODER_TRACE_ENABLE is on but the OpenTelemetry OTLP exporter "
                                   f"is not installed: {EXTRA_HINT}") from None
    from opentelemetry.sdk.resources import OTELResourceDetector, Resource
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    # OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES win over the defaults.
    detected = OTELResourceDetector().detect().attributes
    resource = Resource.create({"service.name": "aibridge", "service.version": aibridge.__version__, **detected})
    provider = tracer_provider_class(resource=resource)  # the sampler: OTEL_TRACES_SAMPLER, else parent-based
    exporter = OTLPSpanExporter()  # endpoint, headers, timeout: OTEL_EXPORTER_OTLP_*
    processor = BatchSpanProcessor(exporter)
    provider.add_span_processor(processor)
    # Without a collector nothing else says tracing is on: say where the spans go.
    log.info("tracing: spans of service %s go over OTLP/HTTP to %s", resource.attributes.get("service.name"),
             getattr(exporter, "_endpoint", "the OTEL_EXPORTER_OTLP_* endpoint"))
    return Provider(provider.get_tracer("aibridge", aibridge.__version__), provider, processor)


def _check_protocol() -> None:
    for name in PROTOCOL_VARIABLES:
        value = os.environ.get(name, "").strip()
        if value:
            if value != "http/protobuf":
                raise aibridge.ConfigError(f"{name}={value}: aibridge exports traces over OTLP/HTTP only; set it "
                                           "to http/protobuf or unset it")
            return
