"""Incremental Server-Sent Events splitting that keeps each event's exact bytes."""

from __future__ import annotations


class Event:
    """One SSE event: ``raw`` is exactly what upstream sent, terminator included."""

    __slots__ = ("raw", "_name", "_data")

    def __init__(self, raw: bytes):
        self.raw = raw
        self._name = None
        self._data = None

    def _parse(self) -> None:
        name = b""
        data = []
        for line in self.raw.splitlines():
            if line.startswith(b"data:"):
                data.append(line[6:] if line[5:6] == b" " else line[5:])
            elif line.startswith(b"event:"):
                name = line[6:].strip()
        self._name = name.decode("utf-8", "replace")
        self._data = b"\n".join(data)

    @property
    def name(self) -> str:
        """The ``event:`` field, or "" when absent."""
        if self._name is None:
            self._parse()
        return self._name

    @property
    def data(self) -> bytes:
        """The ``data:`` lines joined with newlines."""
        if self._data is None:
            self._parse()
        return self._data


class SSESplitter:
    """Feed byte chunks, get complete events; partial events wait for more bytes."""

    def __init__(self):
        self._buffer = b""

    def feed(self, chunk: bytes) -> list[Event]:
        buffer = self._buffer + chunk if self._buffer else chunk
        events = []
        start = 0
        while True:
            end = _event_end(buffer, start)
            if end < 0:
                break
            events.append(Event(buffer[start:end]))
            start = end
        self._buffer = buffer[start:]
        return events

    def flush(self) -> Event | None:
        """What is left when the stream ends (an event without its blank line)."""
        rest, self._buffer = self._buffer, b""
        return Event(rest) if rest.strip() else None


def _event_end(buffer: bytes, start: int) -> int:
    """Index just past the blank line ending the event at ``start``, or -1."""
    lf = buffer.find(b"\n\n", start)
    if b"\r" not in buffer:
        return lf + 2 if lf >= 0 else -1
    candidates = [i + n for i, n in ((lf, 2), (buffer.find(b"\r\n\r\n", start), 4), (buffer.find(b"\r\r", start), 2)) if i >= 0]
    return min(candidates) if candidates else -1
