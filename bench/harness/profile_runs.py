"""An extra c=50 run of one kind of request under py-spy (not a measured one: sampling slows the process)."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from . import profile, wrk
from .scenarios import wrk_run
from .targets import Request


def profiled_run(py_spy: Path, pid: int, request: Request, seconds: float, work: Path, name: str, keep_dir: Path, stem: str) -> dict:
    """Sample ``pid`` with py-spy during a c=50 wrk run of ``request``.

    Returns {"run": wrk result, "profile": summary or None, "error": text}; the raw
    collapsed stacks are copied to ``keep_dir/<stem>-<name>-profile.txt`` (large: not in results/).
    """
    if not py_spy.exists():
        return {"run": None, "profile": None, "error": f"--profile asked but {py_spy} is missing (run.sh installs it)"}
    out = work / f"{name}-profile.txt"
    sampler = profile.record(py_spy, pid, int(seconds), out)
    time.sleep(0.5)
    script = wrk.write_script(work / f"{name}-profile.lua", request.body, request.headers)
    run = wrk_run(request, script, 50, seconds, pid)
    sampler.wait(timeout=seconds + 60)
    if sampler.returncode != 0 or not out.exists():
        return {"run": run, "profile": None, "error": f"py-spy failed: {sampler.stderr.read().strip()[-300:]}"}
    summary = profile.summarise(out)
    keep_dir.mkdir(parents=True, exist_ok=True)
    kept = keep_dir / f"{stem}-{name}-profile.txt"
    shutil.copy(out, kept)
    summary["raw"] = str(kept)
    return {"run": run, "profile": summary, "error": ""}
