"""How listing commands print: an aligned table for people; JSON, JSON lines or CSV for machines.

Every listing command (the built-in ones and plugins') takes ``--format``
(:func:`format_option`) and prints through a :class:`Listing`. Without
``--format`` the output is a table when stdout is a terminal and JSON when it
is not (a pipe, a file), so a script or an export gets JSON whatever terminal
it was written on.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import sys
from dataclasses import dataclass
from typing import IO, Any, Callable, Iterable

FORMATS = ("table", "json", "jsonl", "csv")
_MISSING = "-"  # a table cell without a value


def format_option(help: str = ""):
    """Decorate a listing command with ``--format table|json|jsonl|csv``; it receives ``fmt`` (None when not given).

    ``help`` says what JSON lines and CSV hold for this command.
    """
    import click

    text = "table on a terminal, json otherwise (a pipe or a file)."
    return click.option("--format", "fmt", type=click.Choice(FORMATS), default=None,
                        help=f"{help} Default: {text}".strip())  # fmt: skip


def resolve_format(fmt: str | None, out: IO[str]) -> str:
    """The format to print in: the one asked for, else a table on a terminal and JSON elsewhere."""
    if fmt:
        return fmt
    return "table" if is_terminal(out) else "json"


@dataclass(frozen=True)
class Column:
    """One table column: its heading and how to get its cell from a result (a key or a function)."""

    heading: str
    value: str | Callable[[dict], Any]
    max_width: int | None = None  # longer cells are cut with "…" (prompts, user agents)

    def cell(self, result: dict) -> str:
        value = result.get(self.value) if isinstance(self.value, str) else self.value(result)
        text = _MISSING if value is None or value == "" else _text(value)
        text = " ".join(text.split()) if "\n" in text or "\t" in text else text  # a row stays one line
        if self.max_width and len(text) > self.max_width:
            text = text[: self.max_width - 1] + "…"
        return text


class Listing:
    """Prints results in one format; JSON lines and CSV as they come, a table and JSON at the end.

    ``columns`` make the table; ``csv_row`` turns a result into a flat CSV row
    (default: the result itself), ``csv_columns`` fix the header (default: the
    first row's keys). Call :meth:`add` with results (a page at a time is
    fine) and :meth:`finish` once.
    """

    def __init__(self, fmt: str | None, columns: Iterable[Column], *, csv_row: Callable[[dict], dict] | None = None,
                 csv_columns: Iterable[str] | None = None, out: IO[str] | None = None):  # fmt: skip
        self.out = out or sys.stdout
        self.fmt = resolve_format(fmt, self.out)
        self.columns = list(columns)
        self.csv_row = csv_row or dict
        self.csv_columns = list(csv_columns) if csv_columns else None
        self._kept: list[dict] = []  # for a table or a JSON document
        self._csv = None

    def add(self, results: Iterable[dict]) -> None:
        """Print (JSON lines, CSV) or keep (table, JSON) these results."""
        for result in results:
            if self.fmt == "jsonl":
                self.out.write(json.dumps(result, ensure_ascii=False, default=str) + "\n")
            elif self.fmt == "csv":
                row = self.csv_row(result)
                self._csv_writer(row).writerow({name: csv_value(value) for name, value in row.items()})
            else:
                self._kept.append(result)

    def finish(self, envelope: dict | None = None, footer: dict | None = None) -> None:
        """Print what was kept; a table ends with the ``footer`` row (e.g. totals).

        JSON is the list of results, or ``{**envelope, "results": [...]}`` (an
        API's answer, e.g. with its ``count``). A CSV export with fixed columns
        gets its header even when there were no results.
        """
        if self.fmt == "json":
            answer = self._kept if envelope is None else {**envelope, "results": self._kept}
            json.dump(answer, self.out, indent=2, ensure_ascii=False, default=str)
            self.out.write("\n")
        elif self.fmt == "table":
            rows = [*self._kept, *([footer] if footer is not None else [])]
            self.out.write(table([c.heading for c in self.columns], [[c.cell(r) for c in self.columns] for r in rows]))
            self.out.write("\n")
        elif self.fmt == "csv" and self._csv is None and self.csv_columns:
            self._csv_writer({})
        self.out.flush()

    def _csv_writer(self, first: dict):
        if self._csv is None:
            self._csv = csv.DictWriter(self.out, fieldnames=self.csv_columns or list(first), lineterminator="\n")
            self._csv.writeheader()
        return self._csv


def table(headings: list[str], rows: list[list[str]]) -> str:
    """Columns aligned with two spaces between them, headings first."""
    widths = [max(len(cell) for cell in column) for column in zip(headings, *rows)]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in [headings, *rows]]
    return "\n".join(lines)


def csv_value(value: Any) -> Any:
    """A CSV cell: booleans as true/false, nothing as empty, lists and mappings as JSON."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    return value


def when(value: str | dt.datetime | None) -> str | None:
    """A stored time (ISO 8601 text or datetime) as a table shows it, to the minute in UTC."""
    if not value:
        return None
    moment = dt.datetime.fromisoformat(value) if isinstance(value, str) else value
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    return moment.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return ", ".join(_text(item) for item in value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    return str(value)


def is_terminal(stream: IO[str]) -> bool:
    """Whether ``stream`` is a terminal (a person reads it), not a pipe or a file."""
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # no such method, or closed
        return False
