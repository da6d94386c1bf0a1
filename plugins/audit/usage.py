"""Usage summaries: interceptions and token sums per user, model, provider, client or day."""

from __future__ import annotations

from typing import Any

from ..storage import COST_COLUMNS, TOKEN_COLUMNS, USAGE_GROUPS, InterceptionFilter, usage_by_group
from ..storage import BadParameter
from ..storage import cost_fields, summed_cost

GROUP_BY_CHOICES = USAGE_GROUPS
DEFAULT_GROUP_BY = "user"


def parse_group_by(value: str | None) -> str:
    if value is None or value == "":
        return DEFAULT_GROUP_BY
    if value not in GROUP_BY_CHOICES:
        raise BadParameter("group_by", f"{value!r} is not one of {', '.join(GROUP_BY_CHOICES)}")
    return value


def usage_summary(db, where: InterceptionFilter, group_by: str) -> dict[str, Any]:
    """``{"group_by", "totals", "results": [one entry per group]}`` for the matching interceptions."""
    results = [_group_json(group_by, row) for row in usage_by_group(db, where, group_by)]
    totals = {name: sum(entry[name] for entry in results) for name in ("interceptions", *TOKEN_COLUMNS)}
    return {"group_by": group_by, "totals": {**totals, **summed_cost(results)}, "results": results}


def _group_json(group_by: str, row: dict) -> dict[str, Any]:
    entry = {name: value for name, value in row.items() if name not in COST_COLUMNS}
    entry.update(cost_fields(row["cost_usd_nanos"], row["unpriced_records"]))
    if group_by == "user":
        entry = {"initiator": {"id": entry.pop("initiator_id"), "username": entry.pop("initiator_username")},
                 **entry}
    return entry
