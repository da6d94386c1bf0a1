"""Figures of a time window of a fault run's timeline (per-second answer counts, probe samples)."""

from __future__ import annotations

from ..stats import percentile


def _seconds(start: float, end: float) -> range:
    """The whole seconds inside [start, end): partial seconds at the edges would blur the rate."""
    return range(int(start) + (start % 1 > 0), int(end))


def rate(per_second: list[int], start: float, end: float) -> float | None:
    """Mean answers per second over the whole seconds of the window."""
    seconds = [per_second[s] for s in _seconds(start, end) if s < len(per_second)]
    return round(sum(seconds) / len(seconds), 1) if seconds else None


def lowest(per_second: list[int], start: float, end: float) -> int | None:
    seconds = [per_second[s] for s in _seconds(start, end) if s < len(per_second)]
    return min(seconds) if seconds else None


def zero_seconds(per_second: list[int], start: float, end: float) -> int:
    return sum(1 for s in _seconds(start, end) if s < len(per_second) and per_second[s] == 0)


def probe(samples: list[list[float]], start: float, end: float) -> dict:
    """Probe latency (ms) of the probes sent inside the window; failures are those without a 200."""
    inside = [s for s in samples if start <= s[0] < end]
    latencies = [s[1] for s in inside]
    return {
        "probes": len(inside),
        "failed": sum(1 for s in inside if s[2] != 200),
        "p50_ms": round(percentile(latencies, 50), 1) if latencies else None,
        "max_ms": round(max(latencies), 1) if latencies else None,
    }


def total(per_second: list[int], start: float, end: float) -> int:
    """Answers in the whole seconds of the window."""
    return sum(per_second[s] for s in _seconds(start, end) if s < len(per_second))
