"""The spool: records the store cannot take yet, in append-only files, replayed in order when it is back.

Each file is JSON lines, one row write per line (storage.RowWrite), named
``<instance id>-<n>.jsonl`` in the spool directory, and locked (``flock``) by
the process that writes or replays it. A file no one holds belongs to a
process that is gone: the next process to look adopts it and replays it
before its own records (also those a shutdown left in the last-resort
directory, see last_resort.py). Writes are idempotent, so a file replayed twice (a
crash in the middle of a replay) stores nothing twice. A file is deleted once
every line reached the store. Nothing here exists while the store takes every
write: the spool costs nothing until it is needed.
"""

from __future__ import annotations

import fcntl
import json
import os
import stat
from pathlib import Path

from ..storage import RowWrite, as_json_line, lock_if_free
from .last_resort import is_ours_alone, prepare_private_directory

SUFFIX = ".jsonl"


class SpoolFile:
    """One spool file, opened and locked by this process: appended to by its owner, read from ``offset`` on.

    Appends go straight to the operating system (an unbuffered descriptor opened
    O_APPEND): nothing lingers in a buffer that a full disk could fail to flush
    later. Reads go through a buffered handle of their own.
    """

    def __init__(self, path: Path, fd: int, pending: int = 0):
        self.path = path
        self.spool: Spool | None = None  # the spool it belongs to: its logger and its count of unreadable lines
        self._fd = fd  # locked, O_APPEND
        self._reader = None
        self.offset = 0  # bytes before it reached the store
        self.pending = pending  # lines after the offset

    @classmethod
    def create(cls, path: Path) -> SpoolFile:
        """A new, empty file (only the owner may read it: records hold people's prompts), locked before anyone
        can see it under its name."""
        pending_name = path.with_suffix(".new")
        fd = os.open(pending_name, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            os.rename(pending_name, path)
        except BaseException:
            os.close(fd)
            raise
        return cls(path, fd)

    @classmethod
    def adopt(cls, path: Path) -> SpoolFile | None:
        """The file of a process that is gone, locked by us; None while its owner holds it (or it vanished)."""
        fd = lock_if_free(path, os.O_APPEND)
        if fd is None:
            return None
        with open(path, "rb") as lines:
            pending = sum(1 for _ in lines)
        return cls(path, fd, pending)

    def append(self, writes: list[RowWrite]) -> None:
        """Add the writes at the end, in the operating system's hands (they survive the process); OSError if not."""
        data = memoryview("".join(as_json_line(write) + "\n" for write in writes).encode("utf-8"))
        start = os.fstat(self._fd).st_size
        try:
            while data:
                data = data[os.write(self._fd, data):]
        except OSError:
            self._cut(start)
            raise
        self.pending += len(writes)

    def read(self, limit: int) -> tuple[list[RowWrite], int, int]:
        """Up to ``limit`` writes after the offset: (writes, the offset after them, lines they took)."""
        if self._reader is None:
            self._reader = open(self.path, "rb")  # ours while we hold the lock: no one renames or deletes it
        self._reader.seek(self.offset)
        writes, lines = [], 0
        while len(writes) < limit:
            line = self._reader.readline()
            if not line:
                break
            lines += 1
            try:
                writes.append(RowWrite.from_json(json.loads(line)))
            except ValueError as error:  # JSONDecodeError is a ValueError
                # A line cut short by a crash or a full disk; anything else is logged whole, never dropped silently.
                self.spool.unreadable += 1
                self.spool.log.error("spool %s: a line cannot be replayed (%s), not recorded: %s", self.path, error,
                                     line.decode("utf-8", "replace").rstrip("\n"))
        return writes, self._reader.tell(), lines

    def advance(self, offset: int, lines: int) -> None:
        """The writes up to ``offset`` are in the store."""
        self.offset = offset
        self.pending = max(0, self.pending - lines)

    @property
    def exhausted(self) -> bool:
        return os.fstat(self._fd).st_size <= self.offset

    def remove(self) -> None:
        """Delete the file (every line reached the store) and let go of it."""
        try:
            if os.path.samestat(os.stat(self.path), os.fstat(self._fd)):
                os.unlink(self.path)
        except FileNotFoundError:
            pass
        self.close()

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
        os.close(self._fd)

    def _cut(self, size: int) -> None:
        """Take back a write that failed half-way, so the file never ends in a partial line."""
        try:
            os.ftruncate(self._fd, size)
        except OSError:
            pass  # the replay skips a line it cannot read


class Spool:
    """This process's spool files and those it adopted, in the order they are replayed."""

    def __init__(self, directory: Path | str, instance_id: str, logger, last_resort: Path | None = None):
        self.directory = Path(directory)
        self.last_resort = last_resort  # see last_resort.py; None: records are logged whole instead
        self._warned_last_resort = False
        self.instance_id = instance_id
        self.log = logger  # usable from the writer's thread
        self.unreadable = 0  # lines that could not be read back
        self.adopted: list[SpoolFile] = []  # of gone processes, oldest first; replayed before our own
        self.own: list[SpoolFile] = []  # ours, oldest first; only the last one is appended to
        self._next_number = 1

    def prepare(self) -> None:
        """Create the directory (only the owner may read it: records hold people's prompts)."""
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)

    @property
    def pending(self) -> int:
        """Records waiting in spool files."""
        return sum(spool_file.pending for spool_file in self.adopted + self.own)

    @property
    def empty(self) -> bool:
        return not self.adopted and not self.own

    def adopt_orphans(self) -> int:
        """Take over the files no live process holds; how many records they hold."""
        held = {spool_file.path for spool_file in self.adopted + self.own}
        found = 0
        for path in sorted(self._orphan_paths(), key=_age):
            if path in held:
                continue
            spool_file = SpoolFile.adopt(path)
            if spool_file is not None:
                spool_file.spool = self
                self.adopted.append(spool_file)
                found += spool_file.pending
        return found

    def _orphan_paths(self) -> list[Path]:
        paths = list(self.directory.glob("*" + SUFFIX))
        if self.last_resort is not None and self.last_resort.is_dir():
            if is_ours_alone(self.last_resort, stat.S_ISDIR):
                paths += [path for path in self.last_resort.glob("*" + SUFFIX) if is_ours_alone(path)]
            elif not self._warned_last_resort:
                self._warned_last_resort = True
                self.log.warning("recorder: %s is not this user's alone (owner or mode): its files are not replayed",
                                 self.last_resort)
        return paths

    def keep_in_last_resort(self, writes: list[RowWrite]) -> Path:
        """Keep these writes in a new file of the last-resort directory, for the next start; OSError if not."""
        if self.last_resort is None:
            raise FileNotFoundError("this machine has no shared memory (/dev/shm) for a last-resort spool")
        prepare_private_directory(self.last_resort)
        spool_file = SpoolFile.create(self.last_resort / f"{self.instance_id}-last{SUFFIX}")
        try:
            spool_file.append(writes)
        except OSError:
            spool_file.remove()
            raise
        spool_file.close()
        return spool_file.path

    def append(self, writes: list[RowWrite]) -> None:
        """Keep these writes in our newest file (a new one when there is none); OSError when that fails."""
        if not self.own:
            path = self.directory / f"{self.instance_id}-{self._next_number}{SUFFIX}"
            self._next_number += 1
            spool_file = SpoolFile.create(path)
            spool_file.spool = self
            self.own.append(spool_file)
        self.own[-1].append(writes)

    def files(self) -> list[SpoolFile]:
        """Every file, in replay order: adopted ones first, then ours."""
        return self.adopted + self.own

    def finished(self, spool_file: SpoolFile) -> None:
        """Every line of this file reached the store: delete it."""
        spool_file.remove()
        for files in (self.adopted, self.own):
            if spool_file in files:
                files.remove(spool_file)

    def close(self) -> list[Path]:
        """Let go of every file; the empty ones are deleted. Returns the files left for the next start."""
        left = []
        for spool_file in self.files():
            if spool_file.exhausted:
                spool_file.remove()
            else:
                left.append(spool_file.path)
                spool_file.close()
        self.adopted, self.own = [], []
        if self.last_resort is not None:
            try:
                self.last_resort.rmdir()  # only when empty: nothing left there for the next start
            except OSError:
                pass
        return left


def _age(path: Path) -> tuple[float, str]:
    try:
        return path.stat().st_mtime, path.name
    except FileNotFoundError:
        return 0.0, path.name
