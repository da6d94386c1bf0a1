"""A minimal incremental HTTP/1.1 response reader (Content-Length or chunked) for the load clients."""

from __future__ import annotations


def build_request(method: str, host: str, port: int, path: str, headers: dict[str, str], body: bytes) -> bytes:
    """The raw bytes of one keep-alive request."""
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}:{port}", f"Content-Length: {len(body)}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


class ResponseReader:
    """Feed it bytes as they arrive; ``feed`` returns True once the whole response is in."""

    def __init__(self):
        self._buf = bytearray()
        self.status = 0
        self.keep_alive = True
        self.body = bytearray()
        self._headers_done = False
        self._remaining = None  # bytes left: of the body (Content-Length) or of the current chunk
        self._chunked = False
        self._chunk_state = "size"
        self.done = False

    def feed(self, data: bytes) -> bool:
        self._buf += data
        if not self._headers_done and not self._parse_head():
            return False
        if self._chunked:
            self._parse_chunks()
        else:
            take = min(len(self._buf), self._remaining)
            self.body += self._buf[:take]
            del self._buf[:take]
            self._remaining -= take
            self.done = self._remaining == 0
        return self.done

    def _parse_head(self) -> bool:
        end = self._buf.find(b"\r\n\r\n")
        if end < 0:
            return False
        head = bytes(self._buf[:end]).decode("latin-1").split("\r\n")
        del self._buf[: end + 4]
        parts = head[0].split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/"):
            raise ValueError(f"not an HTTP status line: {head[0][:80]!r}")
        self.status = int(parts[1])
        length = None
        for line in head[1:]:
            name, _, value = line.partition(":")
            name, value = name.strip().lower(), value.strip().lower()
            if name == "content-length":
                length = int(value)
            elif name == "transfer-encoding" and "chunked" in value:
                self._chunked = True
            elif name == "connection" and value == "close":
                self.keep_alive = False
        if not self._chunked:
            if length is None:
                # Body runs to the end of the connection: treat as unsupported here.
                self.keep_alive = False
                length = 0
            self._remaining = length
        self._headers_done = True
        return True

    def _parse_chunks(self) -> None:
        buf = self._buf
        while True:
            if self._chunk_state == "size":
                eol = buf.find(b"\r\n")
                if eol < 0:
                    return
                size = int(bytes(buf[:eol]).split(b";", 1)[0], 16)
                del buf[: eol + 2]
                if size == 0:
                    self._chunk_state = "trailer"
                else:
                    self._remaining = size
                    self._chunk_state = "data"
            elif self._chunk_state == "data":
                take = min(len(buf), self._remaining)
                if take == 0:
                    return
                self.body += buf[:take]
                del buf[:take]
                self._remaining -= take
                if self._remaining:
                    return
                self._chunk_state = "crlf"
            elif self._chunk_state == "crlf":
                if len(buf) < 2:
                    return
                del buf[:2]
                self._chunk_state = "size"
            else:  # trailer: no trailer fields expected, just the final CRLF
                if buf.startswith(b"\r\n"):
                    del buf[:2]
                    self.done = True
                    return
                end = buf.find(b"\r\n\r\n")
                if end < 0:
                    return
                del buf[: end + 4]
                self.done = True
                return


def count_events(body: bytes) -> int:
    """SSE events in a body (blocks separated by a blank line)."""
    return body.replace(b"\r\n", b"\n").count(b"\n\n")
