"""Several processes of one host, one endpoint: prometheus_client's multiprocess mode.

When ``PROMETHEUS_MULTIPROC_DIR`` is set before prometheus_client is imported
(``aibridge.gunicorn_conf`` sets it in gunicorn's master, so every worker
inherits it), each process keeps its metrics in files of its own in that
directory instead of in memory. One process serves ``--prometheus-address``,
reading every process's files at each scrape, so the endpoint shows the sum
of all of them: whichever process holds the lock file ``listener.lock`` in
the directory. When it ends, the kernel releases the lock and another process
takes over within a second (:data:`TICK`).

What a single process reads at scrape time (key pool and breaker states,
plugins' measurements) lives in one process's memory; here every process
copies it into its files each tick instead (:class:`Sampler`), as gauges with
a multiprocess mode saying how processes add up, or as counters by increase.
Every gauge mode is a ``live`` one: gunicorn's master removes a dead worker's
gauges (``child_exit``), so its in-flight requests and states stop counting.
"""

from __future__ import annotations

import fcntl
import glob
import logging
import os
import threading

from prometheus_client import CollectorRegistry, Counter, Gauge, values
from prometheus_client.multiprocess import MultiProcessCollector

from .listener import MetricsListener, start_listener
from .prefixes import UnderBothPrefixes

log = logging.getLogger("aibridge.metrics")

TICK = 1.0  # seconds between copies of the scrape-time values, and between tries to take over the endpoint
LOCK_NAME = "listener.lock"
# How a gauge of several processes adds up: Measurement.processes and resilience_metrics.PROCESSES.
GAUGE_MODES = {"sum": "livesum", "min": "livemin", "max": "livemax", "all": "liveall"}


def multiprocess_dir() -> str | None:
    """The directory every process's metrics go to, when prometheus_client counts in files; else None."""
    if values.ValueClass is values.MutexValue:
        return None  # the variable was set after prometheus_client was imported (or not at all)
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or os.environ.get("prometheus_multiproc_dir")


def served_registry(directory: str) -> CollectorRegistry:
    """What the endpoint serves: every process's metrics from ``directory``, under both prefixes."""
    every_process = CollectorRegistry()
    _StartedFiles(every_process, path=directory)
    registry = CollectorRegistry()
    registry.register(UnderBothPrefixes(every_process))
    return registry


class _StartedFiles(MultiProcessCollector):
    """Reads every process's files but those just being created.

    A process that starts counting creates its file empty, then sizes it: a
    scrape in between would fail on it (an error 500 for the whole scrape).
    """

    def collect(self):
        files = [path for path in glob.glob(os.path.join(self._path, "*.db")) if _started(path)]
        return self.merge(files, accumulate=True)


def _started(path: str) -> bool:
    try:
        return os.path.getsize(path) >= 8  # the header: how much of the file is used
    except OSError:
        return False  # removed meanwhile (a dead process's live gauges)


class Sampler:
    """Copies families read at scrape time (``sources``: objects with ``families()``) into this process's files."""

    def __init__(self, sources):
        self.sources = sources
        self._gauges: dict[str, Gauge] = {}
        self._counters: dict[str, Counter] = {}
        self._counted: dict[tuple, float] = {}  # (sample name, label values) -> value already added

    def sample(self) -> None:
        for source in self.sources:
            for family, processes in source.families():
                if family.type == "counter":
                    self._count(family)
                else:
                    self._set(family, GAUGE_MODES.get(processes, "livesum"))

    def _set(self, family, mode: str) -> None:
        for sample in family.samples:
            gauge = self._gauges.get(family.name)
            if gauge is None:
                gauge = Gauge(family.name, family.documentation, sorted(sample.labels), registry=None,
                              multiprocess_mode=mode)  # fmt: skip
                self._gauges[family.name] = gauge
            _labelled(gauge, sample.labels).set(sample.value)

    def _count(self, family) -> None:
        """A running total of this process: add what it grew by since the last copy."""
        for sample in family.samples:
            if not sample.name.endswith("_total"):
                continue
            counter = self._counters.get(family.name)
            if counter is None:
                counter = Counter(family.name, family.documentation, sorted(sample.labels), registry=None)
                self._counters[family.name] = counter
            key = (sample.name, tuple(sorted(sample.labels.items())))
            before = self._counted.get(key, 0.0)
            # A total that went down started again (a plugin's state was made anew): all of it is new.
            grown = sample.value - before if sample.value >= before else sample.value
            if grown > 0:
                _labelled(counter, sample.labels).inc(grown)
            self._counted[key] = sample.value


def _labelled(metric, labels: dict):
    return metric.labels(**labels) if labels else metric


class SharedEndpoint:
    """This process's part: copy its scrape-time values, and serve the endpoint while it holds the lock."""

    def __init__(self, directory: str, address: str, sampler: Sampler):
        self.directory = directory
        self.address = address
        self.sampler = sampler
        self.listener: MetricsListener | None = None
        self._lock_fd: int | None = None
        self._bind_failed = False
        self._stopped = threading.Event()  # a gevent event once gevent patched threading

    def start(self) -> None:
        self._tick()
        thread = threading.Thread(target=self._run, name="aibridge-metrics-sampler", daemon=True)
        thread.start()

    def stop(self) -> None:
        self._stopped.set()
        self._sample()  # the last counts of this process stay in its files
        if self.listener is not None:
            self.listener.stop()
            self.listener = None
        self._release()

    def _run(self) -> None:
        while not self._stopped.wait(TICK):
            self._tick()

    def _tick(self) -> None:
        self._sample()
        if self.listener is None and self._take_lock():
            self._serve()

    def _sample(self) -> None:
        try:
            self.sampler.sample()
        except Exception:  # a metric must never stop the gateway; the next tick tries again
            log.exception("could not copy this process's metrics to %s", self.directory)

    def _take_lock(self) -> bool:
        try:
            fd = os.open(os.path.join(self.directory, LOCK_NAME), os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as error:
            self._fail_once(f"cannot open {LOCK_NAME} in {self.directory}: {error.strerror or error}")
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)  # another process serves
            return False
        self._lock_fd = fd
        return True

    def _release(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # closing releases the lock: another process takes over
            self._lock_fd = None

    def _serve(self) -> None:
        try:
            self.listener = start_listener(served_registry(self.directory), self.address)
        except (OSError, ValueError) as error:
            self._release()  # let another process try: the address may be free for it later
            self._fail_once(f"cannot listen on --prometheus-address / CODER_PROMETHEUS_ADDRESS {self.address}: "
                            f"{getattr(error, 'strerror', None) or error}")
            return
        log.info("serving Prometheus metrics on %s (every process of this host, from %s)",
                 self.listener.url, self.directory)

    def _fail_once(self, reason: str) -> None:
        if not self._bind_failed:
            self._bind_failed = True
            log.error("metrics are not served: %s", reason)
