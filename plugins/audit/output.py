"""How the audit commands print: JSON (as the API answers), JSON lines, or CSV."""

from __future__ import annotations

import csv
import json
from typing import IO, Any, Iterable

FORMATS = ("json", "jsonl", "csv")

INTERCEPTION_CSV_COLUMNS = (
    "id", "initiator_id", "initiator_username", "provider", "provider_name", "model", "client",
    "client_session_id", "user_agent", "api", "streaming", "status", "error_kind", "upstream_status", "error_message",
    "started_at", "ended_at", "credential_kind", "credential_hint",
    "input_tokens", "output_tokens", "cache_read_input_tokens", "cache_write_input_tokens",
    "prompt", "tools", "model_thoughts", "metadata",
)
TOKEN_FIELDS = ("input_tokens", "output_tokens", "cache_read_input_tokens", "cache_write_input_tokens")


def interception_csv_row(interception: dict[str, Any]) -> dict[str, Any]:
    """One CSV row per interception: its fields, token sums, the prompt and the tools it called."""
    row = {name: interception.get(name) for name in INTERCEPTION_CSV_COLUMNS}
    row["initiator_id"] = interception["initiator"]["id"]
    row["initiator_username"] = interception["initiator"]["username"]
    error = interception.get("error") or {}
    row["error_kind"], row["upstream_status"], row["error_message"] = (
        error.get("kind"), error.get("upstream_status"), error.get("message"))
    for field in TOKEN_FIELDS:
        row[field] = sum(usage[field] or 0 for usage in interception["token_usages"])
    row["prompt"] = "\n".join(prompt["prompt"] or "" for prompt in interception["user_prompts"])
    row["tools"] = " ".join(tool["tool"] for tool in interception["tool_usages"])
    row["model_thoughts"] = len(interception["model_thoughts"])
    row["metadata"] = json.dumps(interception["metadata"], sort_keys=True)
    return row


def usage_csv_row(entry: dict[str, Any]) -> dict[str, Any]:
    """A usage group flattened: ``initiator`` becomes initiator_id and initiator_username."""
    row = dict(entry)
    initiator = row.pop("initiator", None)
    if initiator is not None:
        row = {"initiator_id": initiator["id"], "initiator_username": initiator["username"], **row}
    return row


class Printer:
    """Writes results to ``out`` in one format; JSON needs the whole answer, the others stream."""

    def __init__(self, out: IO[str], fmt: str, csv_columns: Iterable[str] | None = None, to_csv_row=None):
        self.out = out
        self.fmt = fmt
        self.csv_columns = list(csv_columns) if csv_columns else None
        self.to_csv_row = to_csv_row
        self._csv = None

    def answer(self, answer: dict[str, Any]) -> None:
        """Print a whole answer ({..., "results": [...]})."""
        if self.fmt == "json":
            json.dump(answer, self.out, indent=2, ensure_ascii=False)
            self.out.write("\n")
        else:
            self.results(answer["results"])

    def results(self, results: list[dict[str, Any]]) -> None:
        """Print some results (JSON lines or CSV rows)."""
        for result in results:
            if self.fmt == "jsonl":
                self.out.write(json.dumps(result, ensure_ascii=False) + "\n")
            else:
                self._csv_writer(result).writerow(self.to_csv_row(result))

    def finish(self) -> None:
        """A CSV export with known columns gets its header even when there were no results."""
        if self.fmt == "csv" and self._csv is None and self.csv_columns:
            self._csv_writer({})

    def _csv_writer(self, first: dict[str, Any]):
        if self._csv is None:
            columns = self.csv_columns or list(self.to_csv_row(first))
            self._csv = csv.DictWriter(self.out, fieldnames=columns, lineterminator="\n")
            self._csv.writeheader()
        return self._csv
