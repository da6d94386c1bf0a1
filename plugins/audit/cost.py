"""A token record as the audit API shows it, with its cost in USD (the sums: storage/cost_fields.py)."""

from __future__ import annotations

import aibridge


def with_usd(record: dict) -> dict:
    """A token record as the API shows it: its ``cost_usd_nanos`` and the same as ``cost_usd``."""
    return {**record, "cost_usd": aibridge.usd_number(record.get("cost_usd_nanos"))}
