"""Progress of long command-line work (a purge, an export), shown on stderr to a person at a terminal.

On a terminal the line is redrawn in place at most ten times a second and
cleared at the end, so what the command prints afterwards stands alone.
Nothing is shown when stderr is not a terminal (a pipe, a log file, a test)
unless ``--progress`` forces it; then every step is a line of its own.
"""

from __future__ import annotations

import sys
import time
from typing import IO

from .output import is_terminal

_REDRAW_SECONDS = 0.1
_CLEAR_LINE = "\r\x1b[K"


def progress_option():
    """Decorate a command with ``--progress/--no-progress``; it receives ``progress`` (None: only on a terminal)."""
    import click

    return click.option("--progress/--no-progress", "progress", default=None,
                        help="Show progress on stderr. Default: only when stderr is a terminal.")  # fmt: skip


class Progress:
    """A count of done steps out of ``total`` (None when unknown), e.g. ``purging: 3000/12000 interceptions (25%)``.

    Use it as a context manager and call :meth:`advance` as work gets done.
    ``show`` None means: only when ``stream`` (default stderr) is a terminal.
    """

    def __init__(self, label: str, total: int | None = None, unit: str = "", show: bool | None = None,
                 stream: IO[str] | None = None):  # fmt: skip
        self.stream = stream or sys.stderr
        self.label = label
        self.total = total
        self.unit = unit
        self.done = 0
        self.terminal = is_terminal(self.stream)
        self.shown = self.terminal if show is None else show
        self._drawn_at: float | None = None

    def __enter__(self) -> Progress:
        self._draw(force=True)
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def advance(self, steps: int = 1) -> None:
        self.done += steps
        self._draw(force=not self.terminal)

    def close(self) -> None:
        if self.shown and self.terminal and self._drawn_at is not None:
            self.stream.write(_CLEAR_LINE)
            self.stream.flush()
        self._drawn_at = None

    def line(self) -> str:
        """What is shown now."""
        unit = f" {self.unit}" if self.unit else ""
        if self.total is None:
            return f"{self.label}: {self.done}{unit}" if self.done else f"{self.label}…"
        percent = f" ({100 * self.done // self.total}%)" if self.total else ""
        return f"{self.label}: {self.done}/{self.total}{unit}{percent}"

    def _draw(self, force: bool) -> None:
        if not self.shown:
            return
        now = time.monotonic()
        if not force and self._drawn_at is not None and now - self._drawn_at < _REDRAW_SECONDS:
            return
        self._drawn_at = now
        if self.terminal:
            self.stream.write(_CLEAR_LINE + self.line())
        else:
            self.stream.write(self.line() + "\n")
        self.stream.flush()
