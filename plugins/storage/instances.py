"""Which gateway processes use the store, and which of them are gone.

Every process that records (an ``aibridge server``, each gunicorn worker) is
an *instance* with its own id; its interceptions carry that id. An instance
is alive while it holds an exclusive ``flock`` on its file
``<data dir>/instances/<id>.lock``; the kernel lets go of the lock when the
process ends, however it ends (kill -9 included). Another instance that can
take the lock knows the process is gone, and may end its open interceptions
``interrupted``: never those of a live one.

This is the SQLite store's way (all its processes are on one host). The
PostgreSQL store (several hosts) keeps the same three operations with a row
per instance and a heartbeat instead of a lock file, under an advisory lock.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import uuid
from pathlib import Path

LOCK_SUFFIX = ".lock"


class Instance:
    """This process on the store: its id, and the lock that says it is alive while the process lives."""

    def __init__(self, data_dir: Path | str, instance_id: str | None = None):
        self.id = instance_id or str(uuid.uuid4())
        self.directory = Path(data_dir) / "instances"
        self.path = self.directory / (self.id + LOCK_SUFFIX)
        self._fd: int | None = None

    def claim(self, started_at: str) -> None:
        """Create and lock the instance's file (OSError when that is impossible)."""
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        # Locked under a name no one looks at, then renamed: no one can take a fresh instance for a gone one.
        pending = self.path.with_suffix(".new")
        fd = os.open(pending, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            about = {"pid": os.getpid(), "host": socket.gethostname(), "started_at": started_at}
            os.write(fd, json.dumps(about).encode())
            os.rename(pending, self.path)
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd

    def release(self, remove: bool) -> None:
        """Let go of the lock; ``remove``: also delete the file (nothing of this instance is left to clean up)."""
        if self._fd is None:
            return
        if remove:
            _remove_if_same(self.path, self._fd)
        os.close(self._fd)
        self._fd = None


class GoneInstance:
    """A process that is gone; its lock is held by us until :meth:`forget`, so no one else cleans up after it."""

    def __init__(self, instance_id: str, path: Path, fd: int):
        self.id = instance_id
        self.path = path
        self._fd = fd

    def forget(self) -> None:
        """Its interceptions are dealt with: remove its file."""
        _remove_if_same(self.path, self._fd)
        os.close(self._fd)

    def keep(self) -> None:
        """Leave it for later (the store could not be written): let go of the lock, keep the file."""
        os.close(self._fd)


def gone_instances(data_dir: Path | str, own_id: str, already_held: set[str] = frozenset()) -> list[GoneInstance]:
    """The instances of this data directory whose process is gone, each locked by us; ``already_held`` skipped."""
    directory = Path(data_dir) / "instances"
    found = []
    for path in sorted(directory.glob("*" + LOCK_SUFFIX)):
        instance_id = path.name[: -len(LOCK_SUFFIX)]
        if instance_id == own_id or instance_id in already_held:
            continue
        fd = lock_if_free(path)
        if fd is not None:
            found.append(GoneInstance(instance_id, path, fd))
    return found


def others_alive(data_dir: Path | str, own_id: str) -> bool:
    """Whether another live instance uses this data directory."""
    for path in (Path(data_dir) / "instances").glob("*" + LOCK_SUFFIX):
        if path.name[: -len(LOCK_SUFFIX)] == own_id:
            continue
        fd = lock_if_free(path)
        if fd is None:
            return True
        os.close(fd)
    return False


def lock_if_free(path: Path, flags: int = 0) -> int | None:
    """The file opened (read-write, plus ``flags``) and locked by us; None while a process holds it (or it vanished)."""
    try:
        fd = os.open(path, os.O_RDWR | flags)
    except FileNotFoundError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def _remove_if_same(path: Path, fd: int) -> None:
    """Delete ``path`` if it is still the file we have open (another process may have replaced it)."""
    try:
        if os.path.samestat(os.stat(path), os.fstat(fd)):
            os.unlink(path)
    except FileNotFoundError:
        pass
