"""The faults scenario: the gateway under load while its store is locked, it is killed, its disk fills; its memory over time.

``run(ctx)`` runs the four cases against one aibridge build and returns their
figures; each case starts its own gateway with its own data directory. They
measure, they do not judge: the report shows what happened.
"""

from __future__ import annotations

import traceback

from . import crash, db_lock, full_disk, soak
from .context import FaultContext, FaultSettings

CASES = {"lock": db_lock.run, "crash": crash.run, "disk": full_disk.run, "soak": soak.run}

__all__ = ["CASES", "FaultContext", "FaultSettings", "run"]


def run(ctx: FaultContext, cases=tuple(CASES)) -> dict:
    """Each case's figures, or {"error": ...} for a case that failed (the others still run)."""
    out = {}
    for name in cases:
        ctx.log(f"  {ctx.leg}: fault case {name}")
        try:
            out[name] = CASES[name](ctx)
        except Exception as exc:  # noqa: BLE001 - reported, the other cases go on
            traceback.print_exc()
            ctx.log(f"  {ctx.leg} {name} failed: {exc}")
            out[name] = {"error": f"{type(exc).__name__}: {exc}"[-1500:]}
    return out
