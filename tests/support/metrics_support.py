"""Scraping a gateway's Prometheus endpoint over HTTP, for the metrics tests."""

from __future__ import annotations

import time

import requests
from prometheus_client.parser import text_string_to_metric_families


def metrics_url(gw) -> str:
    """The metrics endpoint of an in-process gateway (support.gateway.Gateway) listening on a port of its own."""
    return gw.app.extensions["aibridge.metrics"].listener.url


def scrape(url: str) -> list:
    """Every sample the endpoint serves, parsed from the Prometheus text format."""
    response = requests.get(url, timeout=10)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("text/plain")
    return [sample for family in text_string_to_metric_families(response.text) for sample in family.samples]


def value(samples: list, name: str, **labels) -> float:
    """The sum of the samples called ``name`` whose labels include ``labels``."""
    return sum(
        s.value for s in samples if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
    )


def scrape_until_counted(url: str, count: int, timeout: float = 10.0) -> list:
    """Scrape once ``count`` interceptions were counted (a stream ends just after the client read it)."""
    deadline = time.monotonic() + timeout
    while True:
        samples = scrape(url)
        if value(samples, "coder_aibridged_interceptions_total") >= count or time.monotonic() > deadline:
            return samples
        time.sleep(0.01)
