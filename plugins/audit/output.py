"""What the audit commands print: table columns, and the flat CSV rows of interceptions and usage groups."""

from __future__ import annotations

from typing import Any

import aibridge
from aibridge import Column

INTERCEPTION_CSV_COLUMNS = (
    "id", "initiator_id", "initiator_username", "provider", "provider_name", "model", "client",
    "client_session_id", "user_agent", "api", "streaming", "status", "error_kind", "upstream_status", "error_message",
    "started_at", "ended_at", "credential_kind", "credential_hint",
    "input_tokens", "output_tokens", "cache_read_input_tokens", "cache_write_input_tokens",
    "cost_usd", "cost_usd_nanos", "unpriced_records",
    "prompt", "tools", "model_thoughts", "metadata",
)
TOKEN_FIELDS = ("input_tokens", "output_tokens", "cache_read_input_tokens", "cache_write_input_tokens")


def _tokens(interception: dict, field: str) -> int:
    return sum(usage[field] or 0 for usage in interception["token_usages"])


def usd_cell(result: dict) -> str | None:
    """A cost as a table shows it: dollars to 6 places, ``+?`` when some records had no price, ``-`` unpriced."""
    nanos = result.get("cost_usd_nanos")
    if nanos is None:
        return None
    text = f"{aibridge.nanos_to_usd(nanos):.6f}"
    return text + "+?" if result.get("unpriced_records") else text


def _prompt(interception: dict) -> str:
    return "\n".join(prompt["prompt"] or "" for prompt in interception["user_prompts"])


INTERCEPTION_COLUMNS = (
    Column("STARTED", lambda i: i["started_at"][:19].replace("T", " ") + " UTC"),  # stored in UTC
    Column("USER", lambda i: i["initiator"]["username"]),
    Column("PROVIDER", "provider_name"),
    Column("MODEL", "model"),
    Column("CLIENT", "client", max_width=24),
    Column("STATUS", "status"),
    Column("IN", lambda i: _tokens(i, "input_tokens")),
    Column("OUT", lambda i: _tokens(i, "output_tokens")),
    Column("COST USD", lambda i: usd_cell(i)),
    Column("PROMPT", _prompt, max_width=40),
    Column("ID", "id"),
)


def interception_csv_row(interception: dict[str, Any]) -> dict[str, Any]:
    """One CSV row per interception: its fields, token sums, the prompt and the tools it called."""
    row = {name: interception.get(name) for name in INTERCEPTION_CSV_COLUMNS}
    row["initiator_id"] = interception["initiator"]["id"]
    row["initiator_username"] = interception["initiator"]["username"]
    error = interception.get("error") or {}
    row["error_kind"], row["upstream_status"], row["error_message"] = (
        error.get("kind"), error.get("upstream_status"), error.get("message"))
    for field in TOKEN_FIELDS:
        row[field] = _tokens(interception, field)
    row["prompt"] = _prompt(interception)
    row["tools"] = " ".join(tool["tool"] for tool in interception["tool_usages"])
    row["model_thoughts"] = len(interception["model_thoughts"])
    return row


# The columns that name a usage group, per --group-by; a totals row names itself in the first one.
_GROUP_COLUMNS = {
    "user": (Column("USER", lambda g: g["initiator"]["username"]),),
    "model": (Column("MODEL", "model"),),
    "provider": (Column("PROVIDER", "provider"), Column("NAME", "provider_name")),
    "client": (Column("CLIENT", "client"),),
    "day": (Column("DAY", "day"),),
}
_SUM_COLUMNS = (
    Column("INTERCEPTIONS", "interceptions"), Column("INPUT", "input_tokens"), Column("OUTPUT", "output_tokens"),
    Column("CACHE READ", "cache_read_input_tokens"), Column("CACHE WRITE", "cache_write_input_tokens"),
    Column("COST USD", lambda g: usd_cell(g)), Column("UNPRICED", "unpriced_records"),
)


def usage_columns(group_by: str) -> tuple[Column, ...]:
    first, *rest = _GROUP_COLUMNS[group_by]
    named_total = Column(first.heading, lambda g: "total" if g.get("total") else first.cell(g))
    return (named_total, *rest, *_SUM_COLUMNS)


def usage_total_row(totals: dict[str, int]) -> dict[str, Any]:
    """The table's last row: the totals, under the group column."""
    return {"total": True, **totals}


def usage_csv_row(entry: dict[str, Any]) -> dict[str, Any]:
    """A usage group flattened: ``initiator`` becomes initiator_id and initiator_username."""
    row = dict(entry)
    initiator = row.pop("initiator", None)
    if initiator is not None:
        row = {"initiator_id": initiator["id"], "initiator_username": initiator["username"], **row}
    return row
