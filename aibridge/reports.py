"""What plugins report to the core beyond records: values to measure, and requests to turn away."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Measurement:
    """One value for the metrics endpoint (``aibridge_measurements``); exported with the gateway's metric prefix.

    ``kind`` is "gauge" (a level: records waiting) or "counter" (a running
    total since the process started: records lost). ``processes`` says how a
    gauge of several processes of one host (gunicorn workers) adds up on the
    one endpoint: "sum" (records waiting in all of them), "min" (1 only if
    every one is up) or "max"; counters are always summed.
    """

    name: str  # e.g. "recorder_backlog_records"; counters end in "_total"
    value: float
    help: str
    kind: str = "gauge"
    labels: dict[str, str] = field(default_factory=dict)
    processes: str = "sum"


@dataclass(frozen=True)
class Refusal:
    """Why an intercepted request is turned away before it starts (``aibridge_refuse_interception``).

    The client gets ``status`` with ``message`` in its API's error shape, and a
    Retry-After header when ``retry_after`` (seconds) is set. With ``kind`` (one
    of the error kinds of docs/recording.md) the request is also recorded: an
    interception that ended ``failed`` with that kind, never sent upstream;
    ``code`` is the OpenAI error's ``code``.
    """

    status: int
    message: str
    retry_after: float | None = None
    kind: str | None = None
    code: str | None = None


def measurements(app) -> list[Measurement]:
    """The gateway's and every plugin's measurements for ``app`` (a plugin that fails is logged and skipped)."""
    return app.extensions["aibridge"].measurements(app)
