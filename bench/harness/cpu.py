"""CPU used by a process tree over a measured interval."""

from __future__ import annotations

import time
from pathlib import Path

from .procs import cpu_seconds


def tree(pid: int) -> list[int]:
    """``pid`` and all its descendants (from /proc/<pid>/task/*/children)."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        for task in Path(f"/proc/{current}/task").glob("*"):
            try:
                todo += [int(c) for c in (task / "children").read_text().split()]
            except OSError:
                pass
    return found


def _total(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        try:
            total += cpu_seconds(pid)
        except OSError:
            pass  # exited meanwhile
    return total


class CpuMeter:
    """Start before a run, ``percent()`` after it: CPU of the tree as % of one core."""

    def __init__(self, pid: int | None):
        self.pids = tree(pid) if pid else []
        self.start_cpu = _total(self.pids)
        self.start = time.monotonic()

    def percent(self) -> float | None:
        if not self.pids:
            return None
        elapsed = time.monotonic() - self.start
        return round(100 * (_total(self.pids) - self.start_cpu) / elapsed, 1) if elapsed > 0 else None
