"""Records the store has not taken yet: in memory up to a limit, then in the spool, written back in order.

The order of the catch-up: the spool files of processes that are gone (a
previous run), then those processes' open interceptions ended
``interrupted``, then our own spool files, then what is in memory. The
catch-up works in chunks, so the writer thread keeps taking new records while
a large spool is replayed.
"""

from __future__ import annotations

from collections import deque

from ..storage import GoneInstance, RowWrite
from .spool import Spool
from .writing import StoreUnavailable, StoreWriter

INTERRUPTED_MESSAGE = "the gateway process ended before this interception did (killed or crashed)"


class Backlog:
    """What waits for the store, and how to write it there once it is back."""

    def __init__(self, spool: Spool, memory_limit: int, chunk: int):
        self.spool = spool
        self.memory_limit = memory_limit  # bytes of row text kept in memory before the spool takes them
        self.chunk = chunk  # rows per transaction of the catch-up
        self.memory: deque[RowWrite] = deque()
        self.memory_weight = 0
        self.gone: list[GoneInstance] = []  # processes whose open interceptions wait to be ended
        self.end_unattributed = False  # also end open interceptions that name no process (recorded before they did)

    @property
    def empty(self) -> bool:
        return not self.memory and self.spool.empty and not self.gone and not self.end_unattributed

    @property
    def over_limit(self) -> bool:
        return self.memory_weight >= self.memory_limit

    def keep(self, writes: list[RowWrite]) -> None:
        """Keep these writes in memory, after those already waiting."""
        self.memory.extend(writes)
        self.memory_weight += sum(write.weight() for write in writes)

    def spill(self) -> None:
        """Move what is in memory to the spool; OSError (memory kept) when the spool cannot take it."""
        if self.memory:
            self.spool.append(list(self.memory))
            self._forget(len(self.memory))

    def drop_over_limit(self) -> list[RowWrite]:
        """Take the newest writes out of memory until it is under its limit; returns them."""
        dropped = []
        while self.memory and self.over_limit:
            write = self.memory.pop()
            self.memory_weight -= write.weight()
            dropped.append(write)
        return dropped

    def catch_up(self, writer: StoreWriter, budget: int) -> None:
        """Write up to ``budget`` chunks of the backlog, oldest first (``empty`` once it is all in the store).

        Raises StoreUnavailable when the store is away again (what was written
        stays written, the rest waits).
        """
        for spool_file in list(self.spool.adopted):
            budget = self._replay(spool_file, writer, budget)
            if budget <= 0:
                return
        if self.gone or self.end_unattributed:
            writer.end_interrupted([instance.id for instance in self.gone], INTERRUPTED_MESSAGE,
                                   self.end_unattributed)
            for instance in self.gone:
                instance.forget()
            self.gone, self.end_unattributed = [], False
        for spool_file in list(self.spool.own):
            budget = self._replay(spool_file, writer, budget)
            if budget <= 0:
                return
        while self.memory and budget > 0:
            chunk = [self.memory[i] for i in range(min(self.chunk, len(self.memory)))]
            try:
                writer.write(chunk)
            except StoreUnavailable as unavailable:
                self._forget(len(chunk) - len(unavailable.unwritten))
                raise
            self._forget(len(chunk))
            budget -= 1

    def _replay(self, spool_file, writer: StoreWriter, budget: int) -> int:
        """Write a spool file's lines chunk by chunk; deleted once all are in. Returns the budget left."""
        while budget > 0:
            writes, offset, lines = spool_file.read(self.chunk)
            if not lines:
                self.spool.finished(spool_file)
                return budget
            writer.write(writes)
            spool_file.advance(offset, lines)
            budget -= 1
        return budget

    def _forget(self, count: int) -> None:
        """The oldest ``count`` writes in memory are in the store or the spool."""
        for _ in range(count):
            self.memory_weight -= self.memory.popleft().weight()
