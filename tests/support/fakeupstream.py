"""A local HTTP/1.1 server that plays a provider: it records requests and replays queued answers.

Tests point the gateway's upstream base URL at ``FakeUpstream.url``, queue the
answers the provider would give (fixtures under tests/fixtures/, written in the
providers' documented formats, or ``Response`` objects built in code), and
afterwards inspect ``.requests`` to see exactly what the gateway sent upstream.
"""

from __future__ import annotations

import email.utils
import http.server
import json
import os
import re
import select
import socket
import socketserver
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from requests.structures import CaseInsensitiveDict

FIXTURES_DIR = Path(__file__).resolve().parent.parent / "fixtures"

# Pass as ``stall_after`` / ``close_after`` to act before the status line is sent.
BEFORE_HEADERS = -1

SSE_TYPE = "text/event-stream"
EVENTSTREAM_TYPE = "application/vnd.amazon.eventstream"

# The server frames bodies itself, so these never come from a fixture.
_FRAMING_HEADERS = {"content-length", "transfer-encoding", "connection", "keep-alive"}
_SSE_EVENT = re.compile(rb".*?(?:\r\n\r\n|\n\n|\r\r)", re.DOTALL)
_STATUS_LINE = re.compile(r"^HTTP/1\.[01] (\d{3})(?: (.*))?$")


@dataclass(frozen=True)
class ReceivedRequest:
    """One request as the fake upstream received it."""

    method: str
    path: str  # with the query string
    headers: CaseInsensitiveDict
    body: bytes

    def json(self):
        """The body parsed as JSON."""
        return json.loads(self.body)


@dataclass
class Response:
    """An upstream answer: ``body`` is bytes, or a list of byte chunks each sent and flushed on its own."""

    status: int
    headers: dict | list = field(default_factory=dict)
    body: bytes | list = b""
    reason: str | None = None

    def __post_init__(self):
        pairs = self.headers.items() if isinstance(self.headers, dict) else self.headers
        self.headers = [(name, value) for name, value in pairs if name.lower() not in _FRAMING_HEADERS]
        if isinstance(self.body, str):
            self.body = self.body.encode()
        elif not isinstance(self.body, bytes):
            self.body = [chunk.encode() if isinstance(chunk, str) else bytes(chunk) for chunk in self.body]
        if self.reason is None:
            self.reason = _reason_phrase(self.status)

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (case-insensitive), or None."""
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None

    def with_changes(self, status: int | None = None, headers: dict | None = None) -> Response:
        """A copy with another status and/or some headers replaced (a None value removes one)."""
        merged = list(self.headers)
        for name, value in (headers or {}).items():
            merged = [(k, v) for k, v in merged if k.lower() != name.lower()]
            if value is not None:
                merged.append((name, str(value)))
        new_status = self.status if status is None else status
        reason = self.reason if status is None else _reason_phrase(new_status)
        return Response(new_status, merged, self.body, reason)

    def chunks(self) -> list[bytes] | None:
        """The body split into the pieces sent one by one (chunked), or None to send it whole."""
        if isinstance(self.body, list):
            return list(self.body)
        content_type = (self.header("content-type") or "").lower()
        if content_type.startswith(SSE_TYPE):
            return split_sse_events(self.body)
        if content_type.startswith(EVENTSTREAM_TYPE):
            return split_eventstream_messages(self.body)
        return None

    def body_bytes(self) -> bytes:
        """The whole body as one byte string."""
        return self.body if isinstance(self.body, bytes) else b"".join(self.body)


def split_sse_events(body: bytes) -> list[bytes]:
    """Split an SSE body into events, each up to and including its terminating blank line."""
    events = [match.group(0) for match in _SSE_EVENT.finditer(body)]
    rest = body[sum(len(event) for event in events):]
    if rest:
        events.append(rest)
    return events


def split_eventstream_messages(body: bytes) -> list[bytes]:
    """Split an AWS event stream into its messages (each starts with its 4-byte total length)."""
    messages, offset = [], 0
    while offset < len(body):
        if len(body) - offset < 4:
            raise ValueError(f"event stream: {len(body) - offset} trailing bytes at offset {offset}")
        length = int.from_bytes(body[offset:offset + 4], "big")
        if length < 16 or offset + length > len(body):
            raise ValueError(f"event stream: bad message length {length} at offset {offset}")
        messages.append(body[offset:offset + length])
        offset += length
    return messages


def fixture_path(name: str) -> Path:
    """The .http file of fixture ``name`` (e.g. "anthropic/stream_text")."""
    return FIXTURES_DIR / f"{name}.http"


def load_fixture(name: str) -> Response:
    """Parse fixture ``name``; a sibling ``<name>.body`` file, when present, holds a binary body."""
    path = fixture_path(name)
    if not path.is_file():
        raise FileNotFoundError(f"no fixture {name!r} (looked for {path})")
    status, reason, headers, body = parse_http_response(path.read_bytes(), source=str(path))
    body_file = path.with_suffix(".body")
    if body_file.is_file():
        if body:
            raise ValueError(f"{path}: has a body and a {body_file.name} file; keep one")
        body = body_file.read_bytes()
    return Response(status, headers, body, reason)


def parse_http_response(raw: bytes, source: str = "response") -> tuple[int, str, list, bytes]:
    """Split a raw HTTP response into (status, reason, header pairs, body bytes)."""
    head, separator, body = _split_head(raw)
    if not separator:
        raise ValueError(f"{source}: no blank line after the headers")
    lines = head.decode("latin-1").split("\n")
    lines = [line.rstrip("\r") for line in lines]
    match = _STATUS_LINE.match(lines[0])
    if not match:
        raise ValueError(f"{source}: bad status line {lines[0]!r}")
    headers = []
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if not colon or not name or name != name.strip():
            raise ValueError(f"{source}: bad header line {line!r}")
        headers.append((name, value.strip()))
    return int(match.group(1)), match.group(2) or "", headers, body


def _split_head(raw: bytes) -> tuple[bytes, bytes, bytes]:
    """Split at the first blank line, accepting CRLF or LF line endings."""
    candidates = [(raw.find(sep), sep) for sep in (b"\r\n\r\n", b"\n\n") if raw.find(sep) >= 0]
    if not candidates:
        return raw, b"", b""
    index, separator = min(candidates)
    return raw[:index], separator, raw[index + len(separator):]


def _reason_phrase(status: int) -> str:
    """The standard reason phrase of ``status``."""
    if status == 599:
        return "Nothing Queued"
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


@dataclass
class _Planned:
    """A queued answer and how to deliver it."""

    response: Response
    delay: float = 0.0
    stall_after: int | None = None
    close_after: int | None = None
    hold_after: int | None = None  # chunks sent before the answer waits for ``FakeUpstream.release_held()``


class FakeUpstream:
    """A threaded HTTP/1.1 server on 127.0.0.1 answering from a queue of fixtures and recording requests."""

    def __init__(self, port: int = 0):
        self._port = port  # 0: a free one
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._fifo: deque[_Planned] = deque()
        self._by_path: list[tuple[str, deque[_Planned]]] = []
        self._requests: list[ReceivedRequest] = []
        self._server: _Server | None = None
        self.released = threading.Event()  # set by release_held(): held answers go on
        self._accept_thread: threading.Thread | None = None
        self.url: str | None = None
        self.port: int | None = None

    def start(self) -> FakeUpstream:
        """Bind a free port on 127.0.0.1 and start serving."""
        if self._server is not None:
            raise RuntimeError("fake upstream already started")
        self._server = _Server(self, self._port)
        self.port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._accept_thread = threading.Thread(target=self._server.accept_loop, name="fakeupstream-accept", daemon=True)
        self._accept_thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop accepting, end stalled answers and open connections, and wait for the handlers."""
        server, self._server = self._server, None
        if server is None:
            return
        server.close_all()
        self._accept_thread.join(timeout)
        server.join_handlers(timeout)

    def __enter__(self) -> FakeUpstream:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def queue(self, fixture, *, status=None, headers=None, delay=0.0, stall_after=None, close_after=None,
              hold_after=None) -> None:
        """Queue an answer for the next request (FIFO); ``fixture`` is a fixture name or a Response.

        ``hold_after``: send that many chunks, then wait for :meth:`release_held` before the rest (an answer
        kept in flight for as long as a test needs).
        """
        planned = _plan(fixture, status, headers, delay, stall_after, close_after, hold_after)
        with self._lock:
            self._fifo.append(planned)

    def queue_for(self, path_prefix, fixture, *, status=None, headers=None, delay=0.0, stall_after=None,
                  close_after=None, hold_after=None) -> None:
        """Queue an answer for the next request whose path starts with ``path_prefix``, ahead of the FIFO."""
        planned = _plan(fixture, status, headers, delay, stall_after, close_after, hold_after)
        with self._lock:
            for prefix, planned_queue in self._by_path:
                if prefix == path_prefix:
                    planned_queue.append(planned)
                    return
            self._by_path.append((path_prefix, deque([planned])))

    @property
    def pending(self) -> int:
        """How many queued answers no request has taken yet."""
        with self._lock:
            return len(self._fifo) + sum(len(q) for _, q in self._by_path)

    def release_held(self) -> None:
        """Let every answer queued with ``hold_after`` go on (and those held later: call reset() to hold again)."""
        self.released.set()

    def reset(self) -> None:
        """Forget queued answers and recorded requests; answers queued with ``hold_after`` are held again."""
        self.released.clear()
        with self._lock:
            self._fifo.clear()
            self._by_path.clear()
            self._requests.clear()

    @property
    def requests(self) -> list[ReceivedRequest]:
        """A snapshot of the requests received so far, oldest first."""
        with self._lock:
            return list(self._requests)

    @property
    def open_connections(self) -> int:
        """How many client connections are open now (a stalled answer ends when its client closes)."""
        server = self._server
        if server is None:
            return 0
        with server._tracking:
            return len(server._connections)

    def wait_for_requests(self, n: int, timeout: float = 5.0) -> list[ReceivedRequest]:
        """Block until at least ``n`` requests arrived; AssertionError after ``timeout`` seconds."""
        with self._changed:
            if not self._changed.wait_for(lambda: len(self._requests) >= n, timeout):
                seen = [f"{r.method} {r.path}" for r in self._requests]
                raise AssertionError(f"fake upstream: expected {n} requests within {timeout}s, got {seen}")
            return list(self._requests)

    def _take(self, request: ReceivedRequest) -> _Planned:
        """Record ``request`` and pop the answer for it (the longest matching path prefix first)."""
        with self._changed:
            self._requests.append(request)
            self._changed.notify_all()
            matching = [(prefix, q) for prefix, q in self._by_path if q and request.path.startswith(prefix)]
            if matching:
                return max(matching, key=lambda item: len(item[0]))[1].popleft()
            if self._fifo:
                return self._fifo.popleft()
        body = f"fake upstream: nothing queued for {request.method} {request.path}"
        return _Planned(Response(599, {"content-type": "text/plain; charset=utf-8"}, body))


def _plan(fixture, status, headers, delay, stall_after, close_after, hold_after=None) -> _Planned:
    """Resolve a fixture name or Response and the delivery options into a queued answer."""
    if stall_after is not None and close_after is not None:
        raise ValueError("give stall_after or close_after, not both")
    for name, value in (("stall_after", stall_after), ("close_after", close_after)):
        if value is not None and value < BEFORE_HEADERS:
            raise ValueError(f"{name} must be >= 0 or BEFORE_HEADERS, got {value}")
    if delay < 0:
        raise ValueError(f"delay must be >= 0, got {delay}")
    response = fixture if isinstance(fixture, Response) else load_fixture(fixture)
    if status is not None or headers:
        response = response.with_changes(status, headers)
    return _Planned(response, delay, stall_after, close_after, hold_after)


class _Server(http.server.ThreadingHTTPServer):
    """The listening socket, one daemon thread per connection, and a way to end them all."""

    allow_reuse_address = False
    request_queue_size = 128  # many clients connect at once in concurrency tests

    def __init__(self, upstream: FakeUpstream, port: int = 0):
        self.upstream = upstream
        self.stopping = threading.Event()
        # Never read: once written it stays readable, waking every stalled handler at once.
        self.wake_r, self.wake_w = os.pipe()
        self._connections: set[socket.socket] = set()
        self._handlers: set[threading.Thread] = set()
        self._tracking = threading.Lock()
        super().__init__(("127.0.0.1", port), _Handler)

    def server_bind(self) -> None:
        """Bind without HTTPServer's reverse DNS lookup of the address."""
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def accept_loop(self) -> None:
        """Accept connections until the listening socket is shut down."""
        while not self.stopping.is_set():
            try:
                connection, address = self.get_request()
            except OSError:
                break
            self.process_request(connection, address)

    def process_request(self, connection, address) -> None:
        """Serve ``connection`` in its own daemon thread, tracked so stop() can end it."""
        name = f"fakeupstream-{self.server_address[1]}-connection"
        thread = threading.Thread(target=self._serve, args=(connection, address), name=name, daemon=True)
        with self._tracking:
            if self.stopping.is_set():
                connection.close()
                return
            self._connections.add(connection)
            self._handlers.add(thread)
        thread.start()

    def _serve(self, connection, address) -> None:
        try:
            self.finish_request(connection, address)
        except OSError:
            pass  # the client went away or stop() shut the socket: nothing to report
        finally:
            self.shutdown_request(connection)
            with self._tracking:
                self._connections.discard(connection)
                self._handlers.discard(threading.current_thread())

    def close_all(self) -> None:
        """Stop accepting, wake stalled handlers and shut every open connection."""
        self.stopping.set()
        os.write(self.wake_w, b"x")
        try:
            self.socket.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.server_close()
        with self._tracking:
            connections = list(self._connections)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def join_handlers(self, timeout: float) -> None:
        """Wait (bounded) for the connection threads, then release the wake pipe."""
        with self._tracking:
            handlers = list(self._handlers)
        deadline = time.monotonic() + timeout
        for thread in handlers:
            thread.join(max(0.0, deadline - time.monotonic()))
        if not any(thread.is_alive() for thread in handlers):
            # A handler still selecting on the pipe must not see its descriptors reused.
            os.close(self.wake_r)
            os.close(self.wake_w)


class _Handler(http.server.BaseHTTPRequestHandler):
    """Reads one request, records it, and replays the queued answer."""

    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self):
        super().setup()
        # Events are small writes; Nagle's algorithm would hold them back.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format, *args):
        """Stay quiet: test output is for the tests."""

    def handle_one_request(self):
        """Answer every method the same way."""
        try:
            self.raw_requestline = self.rfile.readline(65537)
        except OSError:
            self.close_connection = True
            return
        if not self.raw_requestline:
            self.close_connection = True
            return
        if not self.parse_request():
            return
        self._answer()

    def _answer(self) -> None:
        request = ReceivedRequest(
            method=self.command,
            path=self.path,
            headers=CaseInsensitiveDict(self._header_items()),
            body=self._read_body(),
        )
        planned = self.server.upstream._take(request)
        try:
            self._send(planned, head_only=self.command == "HEAD")
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _header_items(self) -> dict:
        """The request headers, repeated ones joined with a comma."""
        merged: dict[str, str] = {}
        for name, value in self.headers.items():
            key = next((k for k in merged if k.lower() == name.lower()), name)
            merged[key] = f"{merged[key]}, {value}" if key in merged else value
        return merged

    def _read_body(self) -> bytes:
        """The request body, plain (Content-Length) or chunked."""
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            return self._read_chunked_body()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _read_chunked_body(self) -> bytes:
        parts = []
        while True:
            size_line = self.rfile.readline(65537)
            size = int(size_line.split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(parts)
            parts.append(self.rfile.read(size))
            self.rfile.readline(65537)

    def _send(self, planned: _Planned, head_only: bool) -> None:
        response = planned.response
        if planned.stall_after == BEFORE_HEADERS:
            return self._stall()
        if planned.close_after == BEFORE_HEADERS:
            return self._close()
        chunks = response.chunks()
        self.send_response_only(response.status, response.reason)
        for name, value in response.headers:
            self.send_header(name, value)
        if response.header("date") is None:
            self.send_header("Date", email.utils.formatdate(usegmt=True))
        if chunks is None:
            body = response.body_bytes()
            self.send_header("Content-Length", str(len(body)))
            chunks = [body]
            framed = bytes
        else:
            self.send_header("Transfer-Encoding", "chunked")
            framed = _chunk
        self.end_headers()
        self.wfile.flush()
        if head_only:
            return
        for index, chunk in enumerate(chunks):
            if index in (planned.stall_after, planned.close_after):
                return self._stall() if index == planned.stall_after else self._close()
            if index and planned.delay and self.server.stopping.wait(planned.delay):
                return self._close()
            if index == planned.hold_after and not self._held():
                return self._close()
            if chunk:
                self.wfile.write(framed(chunk))
                self.wfile.flush()
        if len(chunks) in (planned.stall_after, planned.close_after):
            return self._stall() if len(chunks) == planned.stall_after else self._close()
        if framed is _chunk:
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()

    def _held(self) -> bool:
        """Wait for release_held(); False when the server stops first."""
        while not self.server.upstream.released.wait(0.05):
            if self.server.stopping.is_set():
                return False
        return True

    def _stall(self) -> None:
        """Send nothing more until the client goes away or the server stops."""
        self.close_connection = True
        while True:
            readable, _, _ = select.select([self.connection, self.server.wake_r], [], [])
            if self.server.wake_r in readable:
                return
            try:
                if not self.connection.recv(65536):
                    return  # the client closed its side
            except OSError:
                return

    def _close(self) -> None:
        """End the connection here, mid-answer if need be."""
        self.close_connection = True
        self.wfile.flush()
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def _chunk(data: bytes) -> bytes:
    """``data`` framed as one HTTP/1.1 chunk."""
    return b"%x\r\n%s\r\n" % (len(data), data)
