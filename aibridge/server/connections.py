"""The client connections the server holds: how many, how long they may wait, which one gives way.

Anyone who reaches the port could otherwise hold every file descriptor with
idle or half-sent connections and lock everyone out. The server keeps at
most ``max_connections`` open; past that, a new connection takes the place
of the connection that has waited longest for its request head (an idle
keep-alive connection, or a client still sending its headers), and only
when every connection is busy with a request is the new one answered 503
and closed. Waiting itself is bounded by the header and idle timeouts.
"""

from __future__ import annotations

import logging
import resource
import time
from dataclasses import dataclass

log = logging.getLogger("aibridge.server")

# Descriptors kept for everything that is not a client connection: the
# listener, the event loop, SQLite files, log files, MCP sessions.
RESERVED_FILES = 64
MIN_AUTOMATIC_CAP = 16

AT_CAPACITY_RESPONSE = (
    b"HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Type: text/plain\r\n"
    b"Retry-After: 1\r\nContent-Length: 59\r\n\r\n"
    b"the gateway is at its connection limit; retry in a moment.\n"
)
REFUSAL_LOG_INTERVAL = 60.0  # seconds: one warning a minute, not one per refused connection
_last_refusal_logged = float("-inf")


@dataclass(frozen=True)
class EdgeLimits:
    """What the server allows a client connection (seconds; connections)."""

    header_timeout: float = 10.0
    idle_timeout: float = 60.0
    write_timeout: float = 60.0
    max_connections: int = 512

    @classmethod
    def from_config(cls, config) -> EdgeLimits:
        cap = config.http_max_connections or automatic_connection_cap(open_file_limit())
        return cls(config.http_header_timeout, config.http_idle_timeout, config.http_write_timeout, cap)


def raise_open_file_limit() -> None:
    """Lift the soft open-file limit to the hard one (as Go programs do): a cap below it is then the only cap."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        except (ValueError, OSError):
            pass  # keep the soft limit; the automatic cap follows it


def open_file_limit() -> int:
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return soft if soft != resource.RLIM_INFINITY else 1 << 20


def automatic_connection_cap(open_files: int) -> int:
    """Half the descriptors left after the reserve: each busy client connection also holds an upstream one."""
    return max(MIN_AUTOMATIC_CAP, (open_files - RESERVED_FILES) // 2)


class ConnectionTracker:
    """The open client connections (by handler), and which of them wait for a request head, oldest first."""

    def __init__(self):
        self._open: set = set()
        self._waiting: dict = {}  # handler -> None, in the order they started waiting

    @property
    def open(self) -> int:
        return len(self._open)

    def opened(self, handler) -> None:
        self._open.add(handler)

    def closed(self, handler) -> None:
        self._open.discard(handler)
        self._waiting.pop(handler, None)

    def start_waiting(self, handler) -> None:
        self._waiting[handler] = None

    def stop_waiting(self, handler) -> None:
        self._waiting.pop(handler, None)

    def waiting(self) -> list:
        return list(self._waiting)

    def make_room(self, cap: int) -> bool:
        """Whether one more connection fits, closing the one that waited longest when at ``cap``."""
        if self.open < cap:
            return True
        if not self._waiting:
            return False
        oldest = next(iter(self._waiting))
        self.closed(oldest)  # counted as gone now: its greenlet sees the end of its stream at the next switch
        oldest.stop_waiting()
        return True


def refuse_at_capacity(sock, cap: int) -> None:
    """Every connection is busy with a request: answer 503 and close (the client may retry)."""
    global _last_refusal_logged
    now = time.monotonic()
    if now - _last_refusal_logged >= REFUSAL_LOG_INTERVAL:
        _last_refusal_logged = now
        log.warning("refusing new connections: all %d are busy with requests (--http-max-connections)", cap)
    try:
        sock.settimeout(1)
        sock.sendall(AT_CAPACITY_RESPONSE)
    except OSError:
        pass
    finally:
        sock.close()
