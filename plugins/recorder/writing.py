"""Writing rows to the store: a record the database refuses is set aside, anything else means the store is away."""

from __future__ import annotations

import json

from ..storage import RecordStore, RowWrite, is_refused


class StoreUnavailable(Exception):
    """The store cannot take writes now (locked, full, read-only, missing ...); ``unwritten`` are still to write."""

    def __init__(self, error: BaseException, unwritten: list[RowWrite]):
        super().__init__(describe_error(error))
        self.error = error
        self.unwritten = unwritten


class StoreWriter:
    """Writes lists of rows in one transaction each; counts what reached the store and what it refused."""

    def __init__(self, store: RecordStore, log):
        self.store = store
        self.log = log
        self.written = 0  # rows stored
        self.refused = 0  # rows the database refused (logged whole)

    def write(self, writes: list[RowWrite]) -> None:
        """Store every row but those the database refuses; StoreUnavailable when the store is away."""
        if not writes:
            return
        try:
            self.store.write(writes)
        except Exception as error:
            if not is_refused(error):
                raise StoreUnavailable(error, writes) from error
            # A row the database refuses must not take the rest of its batch with it.
            self._write_one_by_one(writes)
        else:
            self.written += len(writes)

    def end_interrupted(self, instance_ids: list[str], message: str, include_unattributed: bool) -> int:
        """End the open interceptions of gone processes ``interrupted``; StoreUnavailable when the store is away."""
        try:
            return self.store.end_interrupted(instance_ids, message, include_unattributed)
        except Exception as error:
            raise StoreUnavailable(error, []) from error

    def _write_one_by_one(self, writes: list[RowWrite]) -> None:
        for index, write in enumerate(writes):
            try:
                self.store.write([write])
            except Exception as error:
                if not is_refused(error):
                    raise StoreUnavailable(error, writes[index:]) from error
                self.refused += 1
                self.log.error("could not record %s, the database refuses it (%s): %s", write.record_type,
                               describe_error(error), json.dumps(write.row, ensure_ascii=False, default=str))
            else:
                self.written += 1


def describe_error(error: BaseException) -> str:
    """One line: the error's message, or its type when it has none."""
    return str(error).splitlines()[0] if str(error) else type(error).__name__
