"""One client connection of ``aibridge server``: its request heads read strictly and in bounded time.

pywsgi's own handler waits forever for a request, takes a head cut short by
the end of the stream for a whole one, and accepts ambiguous framing. This
handler reads the whole head itself, under a deadline, refuses what
:mod:`.framing` refuses, bounds every later wait on the client by the write
timeout, and lets the server close it while it waits (draining, or to make
room for a new connection).
"""

from __future__ import annotations

import errno
import logging
import socket
import time

import gevent
from gevent.pywsgi import MAX_REQUEST_LINE, WSGIHandler

from .access_log import log_access
from .framing import FramingError, check_head, check_request_line, read_header_lines
from .request_head import RequestHead
from ..relay.client_watch import CLIENT_SOCKET

log = logging.getLogger("aibridge.server")

# pywsgi drops every header whose name has an underscore (they could pass for
# headers with dashes), but Codex sends its session id as ``session_id``.
KEPT_UNDERSCORE_HEADERS = frozenset({"session_id"})
# A first piece of the body up to this size goes out in the head's send.
JOINED_FIRST_WRITE = 16384


class HeadTimeout(TimeoutError):
    """The client did not send its request head in time (an OSError: the connection just closes)."""


class GatewayHandler(WSGIHandler):
    """Reads heads under the edge limits; keep-alive connections close once the server drains."""

    # A write that cannot finish within the write timeout is a client that left.
    ignored_socket_errors = WSGIHandler.ignored_socket_errors + (errno.ETIMEDOUT,)

    def __init__(self, sock, address, server):
        super().__init__(sock, address, server)
        self._accepted_at = time.monotonic()
        self._kept_alive = False  # a request was already read on this connection
        self._head_lines: list[bytes] = []
        self._head_error: FramingError | None = None
        self._gathering: list | None = None  # the sends held back to go out as one

    def read_requestline(self):
        """The request line, once the whole head has arrived within the header (or idle) timeout."""
        if self.server.draining:
            return ""
        limits = self.server.limits
        self.socket.settimeout(None)  # the deadlines below bound this phase
        self.server.connections.start_waiting(self)
        try:
            deadline = self._accepted_at + limits.header_timeout
            if self._kept_alive:
                if not self._wait_for_first_byte(limits.idle_timeout):
                    return ""
                deadline = time.monotonic() + limits.header_timeout
            elif not self._wait_for_first_byte(deadline - time.monotonic()):
                return ""
            line = self._read_head(deadline - time.monotonic())
        finally:
            self.server.connections.stop_waiting(self)
        self._kept_alive = True
        # From here on, a client that stops reading (or stops sending its body) is dropped.
        self.socket.settimeout(limits.write_timeout)
        return line

    def _wait_for_first_byte(self, seconds: float) -> bool:
        with gevent.Timeout(max(seconds, 0.001), HeadTimeout("no request within the timeout")):
            return bool(self.rfile.peek(1))

    def _read_head(self, seconds: float) -> str:
        """Read the request line and the header lines; a framing error is kept for ``read_request``."""
        with gevent.Timeout(max(seconds, 0.001), HeadTimeout("the request head took too long")):
            line = self.rfile.readline(MAX_REQUEST_LINE)
            if len(line) >= MAX_REQUEST_LINE:
                return line.decode("latin-1")  # pywsgi answers 414
            if not line.endswith(b"\n"):
                return ""  # the client left inside the request line
            self._head_error = None
            try:
                self._head_lines = read_header_lines(self.rfile)
            except FramingError as error:
                self._head_error = error
        return line.decode("latin-1")

    def read_request(self, raw_requestline):
        if self._head_error is not None:
            raise self._head_error
        words = raw_requestline.split()
        check_request_line(raw_requestline.encode("latin-1"))
        check_head(self._head_lines, words[2] if len(words) == 3 else "HTTP/0.9")
        return super().read_request(raw_requestline)

    def MessageClass(self, fp, *args):
        # The head was already read (and checked) by read_requestline: its lines need no second parser.
        head, self._head_lines = RequestHead(self._head_lines), []
        return head

    def _handle_client_error(self, ex):
        if not isinstance(ex, FramingError):
            return super()._handle_client_error(ex)
        log.info("refused a request from %s: %s", self.client_address[0], ex)
        body = f"bad request: {ex}\n".encode()
        head = (b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Type: text/plain\r\n"
                b"Content-Length: %d\r\n\r\n" % len(body))
        return "400", head + body

    def _write_with_headers(self, data):
        """The head and a small first piece of the body in one send.

        pywsgi sends them apart: for a blocking answer or a stream's first event
        that is a second syscall and, on loopback, a second wake-up of the client.
        """
        if not data or len(data) > JOINED_FIRST_WRITE:
            return super()._write_with_headers(data)
        self._gathering = []
        try:
            super()._write_with_headers(data)
        finally:
            pieces, self._gathering = self._gathering, None
        self._sendall(b"".join(pieces))

    def _sendall(self, data):
        if self._gathering is not None:
            self._gathering.append(data)
            return
        try:
            super()._sendall(data)
        except TimeoutError as exc:
            log.info("dropped the connection of %s: it read nothing for %gs",
                     self.client_address[0], self.server.limits.write_timeout)
            raise TimeoutError(errno.ETIMEDOUT, "the client stopped reading") from exc

    def handle_one_response(self):
        super().handle_one_response()
        if not self._body_read_to_its_end():
            # The client stopped sending its body (or left): what follows on this
            # connection is not the start of a request.
            self.close_connection = True

    def _body_read_to_its_end(self) -> bool:
        body = self.wsgi_input
        if body is None:
            return True
        if body.chunked_input:
            return body.chunk_length == 0
        return body.position >= (body.content_length or 0)

    def get_environ(self):
        environ = super().get_environ()
        for name, value in self.headers.fields():
            if name.lower() in KEPT_UNDERSCORE_HEADERS:
                environ.setdefault("HTTP_" + name.upper(), value)
        # So the relay notices a client that leaves while the upstream is silent (relay/client_watch.py).
        environ[CLIENT_SOCKET] = self.socket
        return environ

    def log_request(self):
        if self.server.access_log is not None:
            log_access(self.server.access_log, self)

    def finalize_headers(self):
        if self.server.draining:
            self.close_connection = True
        super().finalize_headers()

    def stop_waiting(self) -> None:
        """Wake a handler blocked on reading the next request: it sees the end of the stream and closes."""
        try:
            self.socket.shutdown(socket.SHUT_RD)
        except (OSError, AttributeError):
            pass
