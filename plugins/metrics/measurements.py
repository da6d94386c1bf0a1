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
        return [family for family, _ in self.families()]

    def families(self):
        """Each family with how its processes add up (``Measurement.processes``; counters are summed)."""
        families, modes = {}, {}
        for measurement in aibridge.measurements(self.app):
            labels = sorted(measurement.labels)
            family = families.get(measurement.name)
            if family is None:
                family = _family(measurement, labels)
                families[measurement.name] = family
                modes[measurement.name] = measurement.processes
            family.add_metric([str(measurement.labels[name]) for name in labels], measurement.value)
        return [(family, modes[name]) for name, family in families.items()]


def _family(measurement, labels):
    if measurement.kind == "counter":
        # prometheus_client adds "_total" to a counter's samples itself.
        return CounterMetricFamily(PREFIX + measurement.name.removesuffix("_total"), measurement.help, labels=labels)
    return GaugeMetricFamily(PREFIX + measurement.name, measurement.help, labels=labels)
