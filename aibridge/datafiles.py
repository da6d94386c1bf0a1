"""The data directory and the SQLite files hold everyone's prompts: only the gateway's user may read them.

New ones are created private (directory 0700, database 0600; SQLite gives
its -wal and -shm files the database file's mode). Existing ones are left as
they are, since an administrator may have widened them on purpose, but a
warning at start names each one that others can read.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

log = logging.getLogger("aibridge")

PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600
SQLITE_SUFFIXES = ("", "-wal", "-shm")
_SHARED_BITS = stat.S_IRWXG | stat.S_IRWXO


def create_private_file(path: str | Path) -> None:
    """Create ``path`` empty and 0600 when it does not exist (an empty file is an empty SQLite database)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE)
    except FileExistsError:
        return
    os.close(fd)


def shared_data_files(data_dir: Path, database_path: Path) -> list[tuple[Path, int]]:
    """The data directory and database files that other users may access, with their modes."""
    candidates = [data_dir] + [Path(f"{database_path}{suffix}") for suffix in SQLITE_SUFFIXES]
    shared = []
    for path in candidates:
        try:
            mode = stat.S_IMODE(path.stat().st_mode)
        except OSError:
            continue
        if mode & _SHARED_BITS:
            shared.append((path, mode))
    return shared


def warn_about_shared_data_files(data_dir: Path, database_path: Path) -> None:
    """One warning per data file other users can read, with the command that makes it private."""
    for path, mode in shared_data_files(data_dir, database_path):
        private = PRIVATE_DIR_MODE if path.is_dir() else PRIVATE_FILE_MODE
        log.warning("%s is readable by other users (mode %04o) and holds everyone's prompts: chmod %o %s",
                    path, mode, private, path)
