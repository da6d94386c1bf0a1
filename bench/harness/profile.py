"""Sample the gateway with py-spy under load and summarise where the time goes."""

from __future__ import annotations

import re
import subprocess
from collections import Counter
from pathlib import Path

_COUNT = re.compile(r"^(.*) (\d+)$")


def record(py_spy: Path, pid: int, seconds: int, out: Path) -> subprocess.Popen:
    """Start py-spy in the background writing collapsed stacks ("raw" format)."""
    argv = [str(py_spy), "record", "--pid", str(pid), "--duration", str(seconds), "--rate", "200", "--format", "raw", "--threads", "--output", str(out), "--nonblocking"]
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def _frame_name(frame: str) -> str:
    """"function (package/file.py:123)" -> "function (package/file.py)"."""
    return re.sub(r":\d+\)$", ")", frame.strip())


def _frame_file(name: str) -> str:
    match = re.search(r"\((.*)\)$", name)
    return match.group(1) if match else ""


# Where a sample's time goes, judged by its innermost frame (first match wins).
_AREAS = [
    ("SQLite recorder (queue put in requests, writer thread)", ("recorder/", "sqlite_utils/", "sqlite3/")),
    ("logging (access log, records)", ("logging/", "pythonjsonlogger/")),
    ("upstream HTTP client (aibridge's own, urllib3, http.client)", ("aibridge/upstream/", "aibridge/intercept/http1", "requests/", "urllib3/", "http/client")),
    ("Flask / Werkzeug", ("flask/", "werkzeug/")),
    ("plugin calls (pluggy)", ("pluggy/",)),
    ("JSON (json, orjson, msgspec)", ("json/", "orjson", "msgspec")),
    ("gevent: WSGI server, sockets, hub", ("gevent/",)),
    ("aibridge core", ("aibridge/",)),
    ("plugins (other)", ("retention/", "audit/", "structured_log", "os_threads", "aibridge_plugins/", "plugins/")),
]


def _area(frames: list[str]) -> str:
    if any("RecordWriter" in f or "recorder/" in _frame_file(f) for f in frames):
        return _AREAS[0][0]
    if any("_WorkerGreenlet" in f for f in frames):
        return "gevent thread pool (name lookups for new upstream connections)"
    path = _frame_file(frames[-1])
    for area, prefixes in _AREAS[1:]:
        if path.startswith(prefixes) or any(p in path for p in prefixes if "/" not in p):
            return area
    return "other (stdlib, threading, ...)"


def _thread_role(frames: list[str]) -> str:
    # py-spy cannot always unwind a greenlet to its root, so "not the writer" is the main thread.
    if any("RecordWriter._run" in f for f in frames):
        return "SQLite writer (OS thread)"
    if any("_WorkerGreenlet" in f for f in frames):
        return "gevent thread pool (getaddrinfo when a new upstream connection opens)"
    return "main thread (gevent hub: every request)"


def _is_project(name: str) -> bool:
    return _frame_file(name).startswith(("aibridge/", "plugins/"))


def summarise(collapsed: Path, top: int = 12) -> dict:
    """Shares of all samples: by area, by innermost function (self), by aibridge function (inclusive)."""
    self_time: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    areas: Counter[str] = Counter()
    threads: Counter[str] = Counter()
    total = 0
    for line in collapsed.read_text(errors="replace").splitlines():
        match = _COUNT.match(line)
        if not match:
            continue
        stack, count = match.group(1), int(match.group(2))
        frames = [_frame_name(f) for f in stack.split(";") if f]
        if frames and frames[0].startswith("thread ("):
            frames.pop(0)
        if not frames:
            continue
        total += count
        threads[_thread_role(frames)] += count
        self_time[frames[-1]] += count
        areas[_area(frames)] += count
        for name in set(frames):
            if _is_project(name):
                inclusive[name] += count
    if not total:
        return {"samples": 0, "areas": [], "self": [], "inclusive": [], "summary": ["- py-spy collected no samples."]}

    def share(counter, limit):
        return [(name, round(100 * n / total, 1)) for name, n in counter.most_common(limit)]

    area_rows, self_rows, incl_rows = share(areas, len(areas)), share(self_time, top), share(inclusive, top)
    thread_rows = share(threads, 5)
    summary = [f"{total:,} samples of all threads (the SQLite writer is a separate OS thread).", ""]
    summary += ["| share | thread |", "|--:|---|"] + [f"| {pct} % | {name} |" for name, pct in thread_rows] + [""]
    summary += ["| share | area (innermost frame) |", "|--:|---|"] + [f"| {pct} % | {name} |" for name, pct in area_rows]
    summary += ["", "| self time | function |", "|--:|---|"] + [f"| {pct} % | `{name}` |" for name, pct in self_rows]
    summary += ["", "| inclusive | aibridge function |", "|--:|---|"] + [f"| {pct} % | `{name}` |" for name, pct in incl_rows]
    return {"samples": total, "threads": thread_rows, "areas": area_rows, "self": self_rows, "inclusive": incl_rows, "summary": summary}
