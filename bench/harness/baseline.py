"""An earlier commit of aibridge to measure in the same run: a git worktree of REF with its own virtualenv.

``prepare`` checks REF out with ``git worktree add --detach`` under
bench/.work/baseline/<sha>, makes ``.venv`` there and ``pip install -e`` it, and
returns the ``aibridge`` executable. Both are kept for the next run with the
same commit (``git worktree remove bench/.work/baseline/<sha>`` drops one).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Commit:
    """A commit under test: what the report calls it."""

    sha: str
    ref: str
    subject: str
    dirty: bool = False

    @property
    def label(self) -> str:
        short = self.sha[:8] + ("+changes" if self.dirty else "")
        return short if self.ref == "HEAD" or self.sha.startswith(self.ref) else f"{self.ref} ({short})"

    def as_dict(self) -> dict:
        return {"sha": self.sha, "ref": self.ref, "subject": self.subject, "dirty": self.dirty, "label": self.label}


def _git(repo: Path, *args: str) -> str:
    out = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, timeout=120)
    if out.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed: {out.stderr.strip()}")
    return out.stdout.strip()


def commit(repo: Path, ref: str = "HEAD") -> Commit:
    """The commit ``ref`` names; for HEAD, whether the work tree has uncommitted changes."""
    sha = _git(repo, "rev-parse", "--verify", f"{ref}^{{commit}}")
    subject = _git(repo, "log", "-1", "--format=%s", sha)
    dirty = ref == "HEAD" and bool(_git(repo, "status", "--porcelain", "--untracked-files=no"))
    return Commit(sha=sha, ref=ref, subject=subject, dirty=dirty)


def prepare(repo: Path, ref: str, root: Path, log=print) -> tuple[Commit, str]:
    """Worktree and virtualenv of ``ref`` under ``root``; returns (commit, path of its aibridge executable)."""
    target = commit(repo, ref)
    tree = root / target.sha[:12]
    venv = tree / ".venv"
    marker = venv / ".bench-installed"
    if not (tree / ".git").exists():
        if tree.exists():
            shutil.rmtree(tree)
        _git(repo, "worktree", "prune")
        log(f"baseline: git worktree add {tree} {target.sha[:12]}")
        root.mkdir(parents=True, exist_ok=True)
        _git(repo, "worktree", "add", "--detach", str(tree), target.sha)
    if not marker.exists():
        log(f"baseline: installing {target.label} into {venv} (pip install -e)")
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
        pip = subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "-e", str(tree)], capture_output=True, text=True, timeout=1200)
        if pip.returncode != 0:
            raise RuntimeError(f"pip install -e {tree} failed:\n{pip.stderr[-2000:]}")
        marker.write_text(target.sha + "\n")
    executable = venv / "bin" / "aibridge"
    if not executable.exists():
        raise RuntimeError(f"{target.label}: no aibridge executable at {executable}")
    return target, str(executable)
