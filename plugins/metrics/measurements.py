"""What the gateway and other plugins measure (``aibridge.measurements``), read at each scrape."""

from __future__ import annotations

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

import aibridge

from .gateway_metrics import PREFIX


class MeasurementsCollector:
    """A Prometheus collector over ``aibridge.measurements(app)``: the recorder's backlog, the auth limit, ..."""

    def __init__(self, app):
        self.app = app

    def describe(self):
        return []  # nothing fixed: registering must not call collect()

    def collect(self):
        families = {}
        for measurement in aibridge.measurements(self.app):
            labels = sorted(measurement.labels)
            family = families.get(measurement.name)
            if family is None:
                family = _family(measurement, labels)
                families[measurement.name] = family
            family.add_metric([str(measurement.labels[name]) for name in labels], measurement.value)
        return list(families.values())


def _family(measurement, labels):
    if measurement.kind == "counter":
        # prometheus_client adds "_total" to a counter's samples itself.
        return CounterMetricFamily(PREFIX + measurement.name.removesuffix("_total"), measurement.help, labels=labels)
    return GaugeMetricFamily(PREFIX + measurement.name, measurement.help, labels=labels)
