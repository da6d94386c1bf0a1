"""A small filesystem that can be filled: a tmpfs mount (needs root), unmounted when done."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path


class SmallFs:
    """``with SmallFs(path, mib) as fs:`` mounts a tmpfs of ``mib`` MiB at ``path``; ``fill(leave)`` and ``free()``."""

    def __init__(self, path: Path, mib: int):
        self.path = path
        self.mib = mib
        self.filler = path / "filler"
        self.mounted = False

    def __enter__(self) -> "SmallFs":
        self.path.mkdir(parents=True, exist_ok=True)
        out = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={self.mib}m,mode=0755", "tmpfs", str(self.path)], capture_output=True, text=True)
        if out.returncode != 0:
            raise RuntimeError(f"cannot mount a {self.mib} MiB tmpfs at {self.path} (root needed): {out.stderr.strip()}")
        self.mounted = True
        return self

    def __exit__(self, *_exc) -> None:
        if not self.mounted:
            return
        out = subprocess.run(["umount", str(self.path)], capture_output=True, text=True)
        if out.returncode != 0:  # something still holds a file open: detach now, freed when it closes
            subprocess.run(["umount", "-l", str(self.path)], capture_output=True, text=True)
        self.mounted = False

    def available(self) -> int:
        st = os.statvfs(self.path)
        return st.f_bavail * st.f_frsize

    def fill(self, leave: int) -> int:
        """Take all but ``leave`` bytes with a filler file; returns bytes left."""
        size = max(self.available() - leave, 0)
        with open(self.filler, "wb") as f:
            chunk = b"\0" * (1 << 20)
            while size > 0:
                size -= f.write(chunk[: min(size, len(chunk))])
        return self.available()

    def free(self) -> int:
        """Remove the filler; returns bytes available."""
        self.filler.unlink(missing_ok=True)
        return self.available()
