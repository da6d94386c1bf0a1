"""Every metric under both prefixes: ``coder_aibridged_*`` (the AI Bridge name) and ``coder_ai_gateway_*``.

The metrics are counted once, under the old prefix; at each scrape every
family is served as it is and again under the new prefix, so both names
always show the same numbers and counting costs nothing extra. The copy
leaves out the ``_created`` samples prometheus_client adds to counters and
histograms: they say when a series started, not what was counted.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

OLD_PREFIX = "coder_aibridged_"
NEW_PREFIX = "coder_ai_gateway_"


class UnderBothPrefixes(Collector):
    """Serves the metrics of ``source`` under their own names and under the new prefix."""

    def __init__(self, source: CollectorRegistry):
        self.source = source

    def collect(self):
        for family in self.source.collect():
            yield family
            yield renamed(family)


def renamed(family: Metric) -> Metric:
    """A copy of ``family`` under the new prefix, without ``_created`` samples."""
    copy = Metric(_new_name(family.name), family.documentation, family.type, family.unit)
    copy.samples = [
        sample._replace(name=_new_name(sample.name)) for sample in family.samples if not sample.name.endswith("_created")
    ]
    return copy


def _new_name(name: str) -> str:
    return NEW_PREFIX + name.removeprefix(OLD_PREFIX)
