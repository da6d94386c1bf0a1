"""Resident memory of a process tree, sampled in the background while a run goes on."""

from __future__ import annotations

import threading
import time

from .cpu import tree
from .procs import rss_kib


def tree_rss_mib(pid: int) -> float | None:
    """VmRSS of ``pid`` and its descendants in MiB; None once ``pid`` is gone."""
    total = 0
    try:
        pids = tree(pid)
        total += rss_kib(pid)
    except OSError:
        return None
    for child in pids[1:]:
        try:
            total += rss_kib(child)
        except (OSError, RuntimeError):
            pass  # exited meanwhile, or a zombie without VmRSS
    return round(total / 1024, 1)


class RssSampler:
    """``with RssSampler(pid) as s: ...`` then ``s.peak``, ``s.first``, ``s.samples`` [(seconds, MiB)]."""

    def __init__(self, pid: int | None, interval: float = 0.1):
        self.pid = pid
        self.interval = interval
        self.samples: list[tuple[float, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._started = 0.0

    def _run(self) -> None:
        while True:
            value = tree_rss_mib(self.pid)
            if value is not None:
                self.samples.append((round(time.monotonic() - self._started, 2), value))
            if self._stop.wait(self.interval):
                return

    def __enter__(self) -> "RssSampler":
        self._started = time.monotonic()
        if self.pid:
            self._thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(5)

    @property
    def peak(self) -> float | None:
        return max((v for _, v in self.samples), default=None)

    @property
    def first(self) -> float | None:
        return self.samples[0][1] if self.samples else None
