"""Where records go at shutdown when neither the store nor the spool takes them: a spool directory in memory.

A full data disk holds the database and, by default, the spool. Records still in
the process's memory at shutdown would be lost with it; ``/dev/shm`` (memory
backed, outside the process) keeps them through a restart of the gateway,
though not of the machine, and the next start on the same spool directory
writes them first. The directory is private (0700, ours) and named after the
spool directory, so gateways with different data directories never share it.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from pathlib import Path

SHARED_MEMORY = Path("/dev/shm")


def last_resort_directory(spool_dir: Path, base: Path = SHARED_MEMORY) -> Path | None:
    """The last-resort directory of this spool directory, or None where the machine has no shared memory."""
    if not base.is_dir():
        return None
    key = hashlib.sha256(str(spool_dir.resolve()).encode("utf-8")).hexdigest()[:16]
    return base / f"aibridge-spool-{os.geteuid()}-{key}"


def prepare_private_directory(path: Path) -> None:
    """Create ``path`` 0700, or check that it is already ours alone; OSError when it cannot be trusted."""
    try:
        path.mkdir(mode=0o700)
    except FileExistsError:
        if not is_ours_alone(path, stat.S_ISDIR, private=True):
            raise PermissionError(f"{path} is not a directory of this user's alone") from None


def is_ours_alone(path: Path, is_kind=stat.S_ISREG, private: bool = False) -> bool:
    """``path`` itself (not a link) is of that kind, ours, and no one else may write it (``private``: nor read it).

    The name in /dev/shm is predictable: anyone on the machine could make it first and
    put records there for us to replay into the audit trail. We replay only our own.
    """
    try:
        found = os.lstat(path)
    except FileNotFoundError:
        return False
    others = 0o077 if private else 0o022
    return is_kind(found.st_mode) and found.st_uid == os.geteuid() and not found.st_mode & others


def keep_or_log(spool, writes: list, log, refused_by: str) -> bool:
    """Keep ``writes`` in ``spool``'s last-resort directory (True), else log each one whole (False)."""
    try:
        path = spool.keep_in_last_resort(writes)
    except OSError as error:
        log.error("recorder: neither the store, %s nor the last-resort spool (%s) takes records: %d records "
                  "logged here instead", refused_by, error.strerror or error, len(writes))
        for write in writes:
            log.error("not recorded: %s %s", write.record_type, json.dumps(write.as_json(), ensure_ascii=False))
        return False
    log.warning("recorder: neither the store nor %s takes records: %d records kept in %s (memory: kept through "
                "a restart of the gateway, not of the machine); the next start on this spool directory writes "
                "them", refused_by, len(writes), path)
    return True
