"""Usage sums: interceptions and tokens per user, model, provider, client or UTC day."""

from __future__ import annotations

from typing import Any

from .interception_filter import InterceptionFilter

TOKEN_COLUMNS = ("input_tokens", "output_tokens", "cache_read_input_tokens", "cache_write_input_tokens")
# What the token records cost: the sum of the priced ones (nano-dollars), and how many had no price.
COST_COLUMNS = ("cost_usd_nanos", "unpriced_records")
COST_SUMS = "sum(t.cost_usd_nanos) AS cost_usd_nanos, count(t.interception_id) - count(t.cost_usd_nanos) AS unpriced_records"

# group -> (SQL columns that identify a group, what to group by, order of the groups)
_GROUPS = {
    "user": (("i.initiator_id AS initiator_id", "max(i.initiator_username) AS initiator_username"),
             ("i.initiator_id",), "interceptions DESC, initiator_username, initiator_id"),
    "model": (("i.model AS model",), ("i.model",), "interceptions DESC, model"),
    "provider": (("i.provider AS provider", "i.provider_name AS provider_name"),
                 ("i.provider", "i.provider_name"), "interceptions DESC, provider_name"),
    "client": (("i.client AS client",), ("i.client",), "interceptions DESC, client"),
    # Times are stored as UTC ISO 8601 text, so the first ten characters are the UTC day.
    "day": (("substr(i.started_at, 1, 10) AS day",), ("substr(i.started_at, 1, 10)",), "day"),
}
USAGE_GROUPS = tuple(_GROUPS)


def usage_by_group(db, where: InterceptionFilter,
                   group_by: str | tuple[str, ...]) -> list[dict[str, Any]]:
    """One row per group of the matching interceptions: its columns, ``interceptions``, the token and cost sums.

    ``group_by`` is one of USAGE_GROUPS, or several (``("day", "model")``: one row per day and model).
    """
    groups = (group_by,) if isinstance(group_by, str) else tuple(group_by)
    select = [column for name in groups for column in _GROUPS[name][0]]
    group = [column for name in groups for column in _GROUPS[name][1]]
    order = _GROUPS[groups[0]][2] if len(groups) == 1 else ", ".join(group)
    condition, params = where.where("i")
    if "day" in groups and where.started_after is not None:
        # The same bound on the day as well: the usage index (by day first) is then read from that day only.
        condition += " AND substr(i.started_at, 1, 10) >= :first_day"
        params["first_day"] = params["started_after"][:10]
    sums = ", ".join(f"coalesce(sum(t.{column}), 0) AS {column}" for column in TOKEN_COLUMNS)
    rows = db.execute(
        f"SELECT {', '.join(select)}, count(DISTINCT i.id) AS interceptions, {sums}, {COST_SUMS} "
        "FROM interceptions i LEFT JOIN token_usages t ON t.interception_id = i.id "
        f"WHERE {condition} GROUP BY {', '.join(group)} ORDER BY {order}",
        params,
    ).fetchall()
    for row in rows:
        row["cost_usd_nanos"] = cost_sum(row["cost_usd_nanos"], row["unpriced_records"])
    return rows


def cost_sum(priced_nanos: int | None, unpriced_records: int) -> int | None:
    """The cost of a group of token records (docs/cost.md): the sum of the priced ones; None when none was priced.

    ``priced_nanos`` is SQL's sum of the costs (NULL when no record had one). A group without token
    records cost nothing (0); one whose every record is unpriced has an unknown cost (None), never 0.
    """
    if priced_nanos is None:
        return None if unpriced_records else 0
    return int(priced_nanos)


def total_cost(costs, unpriced_records: int) -> int | None:
    """The sum of several groups' costs, by the same rule.

    A group without token records counts 0 without having been priced: when the known costs come to
    nothing and some records are unpriced, the total is unknown (None), never "$0 and some unpriced".
    """
    known = sum(cost for cost in costs if cost is not None)
    return cost_sum(known if known or not unpriced_records else None, unpriced_records)


def unpriced_models(db) -> list[dict[str, Any]]:
    """The provider types and models of the token records without a cost: how many, their tokens, first and last."""
    sums = ", ".join(f"coalesce(sum(t.{column}), 0) AS {column}" for column in TOKEN_COLUMNS)
    return db.execute(
        f"SELECT i.provider AS provider, i.model AS model, count(*) AS records, {sums}, "
        "min(t.created_at) AS first_seen, max(t.created_at) AS last_seen "
        "FROM token_usages t JOIN interceptions i ON i.id = t.interception_id WHERE t.cost_usd_nanos IS NULL "
        "GROUP BY i.provider, i.model ORDER BY records DESC, i.model, i.provider"
    ).fetchall()
