"""Cost fields of the audit API's answers: nano-dollars summed as integers, shown as USD.

A token record's ``cost_usd`` is null when its model had no price. A sum
(an interception, a usage group, the totals) is the cost of its priced
records, with ``unpriced_records`` saying how many had none (then the sum is
a lower bound); it is null only when every one of its records is unpriced
(docs/cost.md).
"""

from __future__ import annotations

from typing import Any

import aibridge

from ..storage import cost_sum, total_cost


def cost_fields(nanos: int | None, unpriced_records: int) -> dict[str, Any]:
    return {"cost_usd": aibridge.usd_number(nanos), "cost_usd_nanos": nanos, "unpriced_records": unpriced_records}


def records_cost(token_usages: list[dict]) -> dict[str, Any]:
    """The cost fields of an interception: the sum of its token records'."""
    unpriced = sum(1 for usage in token_usages if usage.get("cost_usd_nanos") is None)
    priced = [usage["cost_usd_nanos"] for usage in token_usages if usage.get("cost_usd_nanos") is not None]
    return cost_fields(cost_sum(sum(priced) if priced else None, unpriced), unpriced)


def groups_cost(groups: list[dict]) -> dict[str, Any]:
    """The cost fields of several groups (the totals row)."""
    unpriced = sum(group["unpriced_records"] for group in groups)
    return cost_fields(total_cost((group["cost_usd_nanos"] for group in groups), unpriced), unpriced)


def with_usd(record: dict) -> dict:
    """A token record as the API shows it: its ``cost_usd_nanos`` and the same as ``cost_usd``."""
    return {**record, "cost_usd": aibridge.usd_number(record.get("cost_usd_nanos"))}
