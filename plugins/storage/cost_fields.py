"""Cost fields of answers (the audit API, the sessions API, the dashboard): nano-dollars summed as integers.

A token record's cost is null when its model had no price. A sum (an
interception, a thread, a session, a usage group, the totals) is the cost of
its priced records, with ``unpriced_records`` saying how many had none (then
the sum is a lower bound); it is null when none of its records was priced and
some were not (docs/cost.md).
"""

from __future__ import annotations

from typing import Any

import aibridge

from .usage import cost_sum, total_cost


def cost_fields(nanos: int | None, unpriced_records: int) -> dict[str, Any]:
    """``cost_usd`` (a number, null when unknown), the exact ``cost_usd_nanos`` and ``unpriced_records``."""
    return {"cost_usd": aibridge.usd_number(nanos), "cost_usd_nanos": nanos, "unpriced_records": unpriced_records}


def records_cost(token_usages: list[dict]) -> dict[str, Any]:
    """The cost fields of token records (an interception's): the sum of the priced ones."""
    unpriced = sum(1 for usage in token_usages if usage.get("cost_usd_nanos") is None)
    priced = [usage["cost_usd_nanos"] for usage in token_usages if usage.get("cost_usd_nanos") is not None]
    return cost_fields(cost_sum(sum(priced) if priced else None, unpriced), unpriced)


def summed_cost(parts: list[dict]) -> dict[str, Any]:
    """The cost fields of several parts that have theirs (interceptions, groups, sessions), by the same rule."""
    unpriced = sum(part["unpriced_records"] for part in parts)
    return cost_fields(total_cost((part["cost_usd_nanos"] for part in parts), unpriced), unpriced)
