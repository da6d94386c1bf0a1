"""A small HTTP/1.1 client for the relay's hot path: keep-alive pools, streamed bodies.

Why not urllib3 or requests: per request, urllib3 spent about 250 µs of CPU
(http.client builds headers piecemeal and parses the answer's with the email
package) where this client spends about 15 µs; at a thousand requests a second
on one core that is a quarter of the gateway's time. It speaks only what
providers answer: a status line, headers, and a body framed by
Content-Length, chunked encoding or the end of the connection. Proxies are
not its business: :mod:`.proxied` sends proxied hosts through urllib3.
"""

from __future__ import annotations

import select
import socket
import ssl
import threading
from urllib.parse import urlsplit

from gevent.monkey import get_original

# A zero-timeout poll never blocks: the OS call is cheaper than gevent's cooperative one.
_real_poll = get_original("select", "poll")

_NO_BODY_STATUSES = frozenset({204, 304})
_MAX_LINE = 65536
_MAX_HEADERS = 200
# A body up to this size is joined to the head (one write); a larger one is sent from its own buffer.
_JOINED_BODY = 16384


class BrokenBody(OSError):
    """The upstream closed the connection before the body it announced was complete."""


class NoAnswer(BrokenBody):
    """The connection closed before a single byte of the answer arrived."""


class ConnectFailed(OSError):
    """No connection could be made (refused, name not resolved, TLS, timeout): nothing was sent."""

    def __init__(self, cause: OSError):
        super().__init__(str(cause))
        self.timed_out = isinstance(cause, TimeoutError)


class NothingSent(ConnectFailed):
    """The connection failed on the request's first write: the kernel took no byte of it, nothing was sent."""


class Headers:
    """Response headers: in order for relaying, by lower-cased name for lookups."""

    __slots__ = ("_pairs", "_by_name")

    def __init__(self, pairs: list[tuple[str, str]]):
        self._pairs = pairs
        self._by_name: dict[str, str] = {}
        for name, value in pairs:
            key = name.lower()
            self._by_name[key] = f"{self._by_name[key]}, {value}" if key in self._by_name else value

    def get(self, name: str, default=None):
        return self._by_name.get(name.lower(), default)

    def __getitem__(self, name: str) -> str:
        return self._by_name[name.lower()]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._by_name

    def items(self):
        return list(self._pairs)

    def __iter__(self):
        return (name for name, _ in self._pairs)


class Connection:
    """One TCP (or TLS) connection to an origin, with a buffered reader."""

    def __init__(self, scheme: str, host: str, port: int, connect_timeout: float, tls: ssl.SSLContext | None):
        try:
            sock = socket.create_connection((host, port), timeout=connect_timeout)
        except OSError as exc:
            raise ConnectFailed(exc) from exc
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if scheme == "https":
                sock = tls.wrap_socket(sock, server_hostname=host)
        except OSError as exc:
            sock.close()
            raise ConnectFailed(exc) from exc
        except BaseException:
            sock.close()
            raise
        self.sock = sock
        self.reader = sock.makefile("rb", buffering=65536)

    def is_dropped(self) -> bool:
        """An idle connection the server closed (or wrote to) cannot carry another request."""
        poller = _real_poll()
        try:
            poller.register(self.sock.fileno(), select.POLLIN)
            return bool(poller.poll(0))
        except (OSError, ValueError):
            return True

    def close(self) -> None:
        try:
            self.reader.close()
        finally:
            self.sock.close()


class Pool:
    """Idle keep-alive connections to one origin, most recently used first."""

    def __init__(self, scheme: str, host: str, port: int, maxsize: int, tls: ssl.SSLContext | None):
        self.scheme, self.host, self.port = scheme, host, port
        self.maxsize = maxsize
        self.tls = tls
        self._idle: list[Connection] = []
        self._lock = threading.Lock()

    def get(self, connect_timeout: float) -> tuple[Connection, bool]:
        """A connection, and whether it is a reused one."""
        while True:
            with self._lock:
                conn = self._idle.pop() if self._idle else None
            if conn is None:
                return Connection(self.scheme, self.host, self.port, connect_timeout, self.tls), False
            if not conn.is_dropped():
                return conn, True
            conn.close()

    def put(self, conn: Connection) -> None:
        with self._lock:
            if len(self._idle) < self.maxsize:
                self._idle.append(conn)
                return
        conn.close()

    def clear(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()


class Response:
    """The status and headers; the body is read whole (``read``) or as it arrives (``read1``)."""

    def __init__(self, pool: Pool, conn: Connection, method: str):
        self._pool = pool
        self._conn = conn
        self.status, self.reason, self.headers = _read_head(conn.reader)
        encoding = (self.headers.get("transfer-encoding") or "").lower()
        length = self.headers.get("content-length")
        self._chunked = "chunked" in encoding
        self._until_close = False
        self._chunk_left = 0
        if method == "HEAD" or self.status in _NO_BODY_STATUSES or 100 <= self.status < 200:
            self._left = 0
        elif self._chunked:
            self._left = None
        elif length is not None and length.strip().isdigit():
            self._left = int(length)
        else:
            self._left = None
            self._until_close = True
        self._done = self._left == 0
        self._reusable = (self.headers.get("connection") or "").lower() != "close" and not self._until_close

    def read1(self, size: int = 65536) -> bytes:
        """Whatever body bytes are available now (at most ``size``); b"" at the end."""
        if self._done:
            return b""
        reader = self._conn.reader
        if self._chunked:
            if self._chunk_left == 0:
                self._chunk_left = _chunk_size(reader)
                if self._chunk_left == 0:
                    _skip_trailers(reader)
                    self._finish()
                    return b""
            data = reader.read1(min(size, self._chunk_left))
            if not data:
                raise BrokenBody("the upstream closed the connection inside a chunk")
            self._chunk_left -= len(data)
            if self._chunk_left == 0 and reader.readline(_MAX_LINE) not in (b"\r\n", b"\n"):
                raise BrokenBody("a chunk did not end with CRLF")
            return data
        if self._until_close:
            data = reader.read1(size)
            if not data:
                self._finish()
            return data
        data = reader.read1(min(size, self._left))
        if not data:
            raise BrokenBody(f"the upstream closed the connection {self._left} bytes before the end")
        self._left -= len(data)
        if self._left == 0:
            self._finish()
        return data

    def read(self) -> bytes:
        """The rest of the body."""
        parts = []
        while True:
            part = self.read1(1 << 20)
            if not part:
                return b"".join(parts)
            parts.append(part)

    def close(self) -> None:
        """Give the connection back when the body was read to its end; drop it otherwise."""
        conn, self._conn = self._conn, None
        if conn is None:
            return
        if self._done and self._reusable:
            self._pool.put(conn)
        else:
            conn.close()

    def _finish(self) -> None:
        self._done = True


class Client:
    """Pools per origin; ``request`` sends one request and returns once the head arrived."""

    def __init__(self, pool_size: int = 4096):
        self.pool_size = pool_size
        self._pools: dict[tuple[str, str, int], Pool] = {}
        self._tls = ssl.create_default_context()
        self._lock = threading.Lock()

    def request(self, method: str, url: str, headers: dict[str, str], body: bytes | None,
                connect_timeout: float, read_timeout: float) -> Response:
        parts = urlsplit(url)
        scheme = parts.scheme
        if scheme not in ("http", "https"):
            raise ValueError(f"unsupported URL scheme {scheme!r}")
        host = parts.hostname or ""
        port = parts.port or (443 if scheme == "https" else 80)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        pool = self._pool(scheme, host, port)
        head = _head(method, target, parts.netloc, headers, body)
        while True:
            conn, reused = pool.get(connect_timeout)
            try:
                conn.sock.settimeout(read_timeout)
                _write_request(conn.sock, head, body or b"")
                return Response(pool, conn, method)
            except NothingSent:
                conn.close()
                # A kept-alive connection the server closed after the pool's check, and
                # not one byte of the request left: sending it on a new one cannot
                # make the provider run it twice. Anything later (a reset after the
                # write, no answer) may have reached the provider: never resent.
                if not reused:
                    raise
            except BaseException:
                conn.close()
                raise

    def clear(self) -> None:
        for pool in list(self._pools.values()):
            pool.clear()

    def idle_connections(self, url: str) -> int:
        """How many kept-alive connections to ``url``'s origin wait in the pool."""
        parts = urlsplit(url)
        pool = self._pools.get((parts.scheme, parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)))
        return len(pool._idle) if pool else 0

    def _pool(self, scheme: str, host: str, port: int) -> Pool:
        key = (scheme, host, port)
        pool = self._pools.get(key)
        if pool is None:
            with self._lock:
                pool = self._pools.setdefault(key, Pool(scheme, host, port, self.pool_size, self._tls))
        return pool


def _write_request(sock, head: bytes, body: bytes) -> None:
    """Send the whole request; NothingSent when its first write fails (no byte reached the kernel).

    A small body goes in one write with the head; a large one is sent from its
    own buffer after the head rather than copied behind it.
    """
    first = head + body if len(body) <= _JOINED_BODY else head
    view = memoryview(first)
    try:
        sent = sock.send(view)
    except OSError as exc:
        raise NothingSent(exc) from exc
    if sent < len(view):
        sock.sendall(view[sent:])
    if first is head and body:
        sock.sendall(body)


def _head(method: str, target: str, netloc: str, headers: dict[str, str], body: bytes | None) -> bytes:
    lines = [f"{method} {target} HTTP/1.1", f"Host: {netloc.rpartition('@')[2]}"]
    lines += [f"{name}: {value}" for name, value in headers.items() if name.lower() != "host"]
    if body is not None or method in ("POST", "PUT", "PATCH"):
        lines.append(f"Content-Length: {len(body or b'')}")
    # Header strings hold their bytes as latin-1 (as WSGI servers decode them), so this
    # sends each value's bytes exactly as the client sent them.
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _read_head(reader) -> tuple[int, str, Headers]:
    while True:
        line = reader.readline(_MAX_LINE)
        if not line:
            raise NoAnswer("the upstream closed the connection without answering")
        version, _, rest = line.decode("latin-1").rstrip("\r\n").partition(" ")
        code, _, reason = rest.partition(" ")
        if not version.startswith("HTTP/") or not code.isdigit():
            raise BrokenBody(f"the upstream answered with something other than HTTP: {line[:40]!r}")
        pairs = _read_fields(reader)
        status = int(code)
        if status != 100 and not 102 <= status < 200:
            return status, reason, Headers(pairs)
        # An interim answer (100 Continue, 103 Early Hints): the real one follows.


def _read_fields(reader) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    while True:
        line = reader.readline(_MAX_LINE)
        if line in (b"\r\n", b"\n"):
            return pairs
        if not line:
            raise BrokenBody("the upstream closed the connection inside the headers")
        if len(pairs) >= _MAX_HEADERS:
            raise BrokenBody("the upstream sent too many headers")
        text = line.decode("latin-1").rstrip("\r\n")
        if text[:1] in (" ", "\t") and pairs:
            name, value = pairs[-1]
            pairs[-1] = (name, f"{value} {text.strip()}")  # obsolete line folding
            continue
        name, _, value = text.partition(":")
        pairs.append((name.strip(), value.strip()))


def _chunk_size(reader) -> int:
    line = reader.readline(_MAX_LINE)
    if not line:
        raise BrokenBody("the upstream closed the connection between chunks")
    size = line.split(b";", 1)[0].strip()
    try:
        return int(size, 16)
    except ValueError:
        raise BrokenBody(f"bad chunk size {size[:20]!r}") from None


def _skip_trailers(reader) -> None:
    _read_fields(reader)
