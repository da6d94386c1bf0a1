"""Request dumps (``--aibridge-dump-dir``): what each interception sent upstream and what came back, in files.

For debugging a provider (docs/debugging.md). Per interception,
``<dir>/<provider>/<interception id>.req.txt`` holds every request the gateway
sent upstream for it (each attempt and tool-loop round, in order: request
line, headers, body) and ``.resp.txt`` every answer (status line, headers, and
the body as the relay read it: a stream as it came, chunk by chunk).

Secrets never reach a file: the values of credential headers
(:data:`SECRET_HEADERS`) are replaced, and every secret of the configuration
(provider keys, AWS keys, MCP tokens, the PostgreSQL URL), the client's own
credentials (its gateway token, a BYOK key) and anything shaped like a
gateway token are replaced wherever they appear, bodies included.

On the request path this only puts items on a queue: one OS thread formats,
redacts and writes them. A directory that cannot be written is logged once
and costs the relay nothing.
"""

from __future__ import annotations

import datetime as dt
import http
import logging
import os
import re
from pathlib import Path
from urllib.parse import urlsplit

from .threads import BackgroundThread, QueueEmpty, ThreadSafeLogger, os_sleep

log = logging.getLogger("aibridge.dumps")

REDACTED = b"[redacted]"
SECRET_HEADERS = frozenset({
    "authorization", "proxy-authorization", "x-api-key", "api-key", "cookie", "set-cookie",
    "x-coder-ai-governance-token", "coder-session-token", "x-amz-security-token",
})  # fmt: skip
# A gateway token: its id may stay (it names the token), its secret goes (as in the logs, see logs.Redactor).
_GATEWAY_TOKEN = re.compile(rb"\b(aib_[0-9a-f]{16}_)[A-Za-z0-9_-]+")
_MIN_SECRET_LENGTH = 6  # shorter values would blank out ordinary words
_HOLD_BACK = 96  # bytes of a stream kept until the next chunk, at least: a gateway token may be cut in two
GATHER_SECONDS = 0.05  # the writer wakes at most this often: a file shows a stream at most this late


class Redaction:
    """The secrets of one interception, and how to take them out of bytes."""

    def __init__(self, secrets):
        found = {s.encode() for s in secrets if s and len(s) >= _MIN_SECRET_LENGTH}
        self.secrets = sorted(found, key=len, reverse=True)
        self.hold_back = max([_HOLD_BACK, *(len(s) for s in self.secrets)])

    def __call__(self, data: bytes) -> bytes:
        for secret in self.secrets:
            data = data.replace(secret, REDACTED)
        return _GATEWAY_TOKEN.sub(rb"\1[redacted]", data)

    def stream(self, pending: bytes, chunk: bytes) -> tuple[bytes, bytes]:
        """What of ``pending + chunk`` can be written now, redacted, and what to keep for the next chunk.

        A secret may be cut between two chunks: whole ones are replaced first,
        then the tail that could start one is kept back (and a gateway token
        that reaches into it is kept back whole).
        """
        data = pending + chunk
        for secret in self.secrets:
            data = data.replace(secret, REDACTED)
        cut = max(0, len(data) - self.hold_back)
        for match in _GATEWAY_TOKEN.finditer(data):
            if match.start() < cut < match.end() or (match.start() < cut and match.end() == len(data)):
                cut = match.start()
        return _GATEWAY_TOKEN.sub(rb"\1[redacted]", data[:cut]), data[cut:]


class Dumps:
    """The app's dump writer: ``exchange()`` per interception; ``close()`` at shutdown."""

    def __init__(self, directory):
        self.directory = Path(directory)
        self._log = ThreadSafeLogger(log)
        self._failed = False
        self._thread = BackgroundThread()
        self._queue = self._thread.queue
        self._thread.start(self._write_all, self._log)
        log.info("request dumps go to %s (--aibridge-dump-dir): they hold prompts and answers, keep them private",
                 self.directory)

    def exchange(self, provider_name: str, interception_id: str, secrets) -> Exchange:
        """The dump of one interception; ``secrets``: every value to redact besides the credential headers."""
        base = self.directory / _safe(provider_name) / _safe(interception_id)
        return Exchange(self._queue.put, base, Redaction(secrets))

    def close(self) -> None:
        """Write what is queued, then stop the writer (waits for it, letting other greenlets run)."""
        self._thread.stop()

    # The writer thread.

    def _write_all(self) -> None:
        streams: dict[Path, bytes] = {}  # a response body being written -> what is kept back for its next chunk
        while True:
            batch = [self._queue.get()]
            # Let the items of a while gather: one wake-up of this thread and one write per file for all of
            # them, instead of taking the interpreter's lock from the relay for every chunk.
            os_sleep(GATHER_SECONDS)
            while True:
                try:
                    batch.append(self._queue.get_nowait())
                except QueueEmpty:
                    break
            try:
                self._write_batch([item for item in batch if item is not BackgroundThread.STOP], streams)
            except Exception as error:  # a dump must never stop this thread (the queue would only grow)
                self._fail_once(f"cannot write a batch: {error!r}")
            if BackgroundThread.STOP in batch:
                return

    def _write_batch(self, batch, streams: dict[Path, bytes]) -> None:
        files: dict[Path, list[bytes]] = {}
        for kind, path, redaction, payload in batch:
            if kind == "chunk":
                data, streams[path] = redaction.stream(streams.get(path, b""), payload)
            elif kind == "end":
                data = redaction(streams.pop(path, b"")) + payload
            else:
                data = redaction(payload)
            files.setdefault(path, []).append(data)
        for path, parts in files.items():
            data = b"".join(parts)
            if data:
                self._append(path, data)

    def _append(self, path: Path, data: bytes) -> None:
        try:
            # Private, like the database: the files hold prompts and answers.
            os.makedirs(path.parent, mode=0o700, exist_ok=True)
            with open(os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600), "ab") as file:
                file.write(data)
        except OSError as error:
            self._fail_once(f"cannot write {path} (--aibridge-dump-dir): {error.strerror or error}")

    def _fail_once(self, reason: str) -> None:
        if not self._failed:
            self._failed = True  # once: a full or read-only disk would fill the log otherwise
            self._log.error("request dumps are not written: %s", reason)


class Exchange:
    """What one interception sent upstream and got back, queued for the writer thread."""

    def __init__(self, put, base: Path, redaction: Redaction):
        self._put = put
        self.requests = base.with_name(base.name + ".req.txt")
        self.responses = base.with_name(base.name + ".resp.txt")
        self._redaction = redaction
        self._count = 0

    def sent(self, request) -> None:
        """A request goes upstream (an ``upstream.Request``): its line, headers and body."""
        self._count += 1
        url = urlsplit(request.url)
        target = (url.path or "/") + (f"?{url.query}" if url.query else "")
        head = [f"### request {self._count} {_now()}", f"{request.method} {target} HTTP/1.1", f"Host: {url.hostname}"
                + (f":{url.port}" if url.port else "")]  # fmt: skip
        head += _header_lines(request.headers.items())
        text = "\n".join(head).encode("utf-8", "replace") + b"\n\n" + (request.body or b"") + b"\n\n"
        self._put(("text", self.requests, self._redaction, text))

    def answered(self, response):
        """The upstream's answer arrived: its head now, its body as the relay reads it."""
        try:
            phrase = http.HTTPStatus(response.status).phrase
        except ValueError:
            phrase = ""
        head = [f"### response {self._count} {_now()}", f"HTTP/1.1 {response.status} {phrase}".rstrip()]
        head += _header_lines(response.headers.items())
        self._put(("text", self.responses, self._redaction, "\n".join(head).encode("utf-8", "replace") + b"\n\n"))
        return DumpedResponse(response, self)

    def failed(self, error) -> None:
        """No answer (an UpstreamError): say why instead."""
        text = f"### response {self._count} {_now()}\n(no answer: {error.kind}: {error})\n\n"
        self._put(("text", self.responses, self._redaction, text.encode("utf-8", "replace")))

    def body(self, chunk: bytes) -> None:
        if chunk:
            self._put(("chunk", self.responses, self._redaction, chunk))

    def body_ended(self, note: str = "") -> None:
        self._put(("end", self.responses, self._redaction, (note.encode() if note else b"") + b"\n\n"))


class DumpedResponse:
    """An upstream response whose body bytes are also queued for the dump as they are read."""

    def __init__(self, response, exchange: Exchange):
        self._response = response
        self._exchange = exchange
        self._ended = False
        self.status = response.status
        self.headers = response.headers
        self.host = response.host

    def read1(self, size: int = 65536) -> bytes:
        chunk = self._response.read1(size)
        self._exchange.body(chunk)
        if not chunk:
            self._end()
        return chunk

    def read(self) -> bytes:
        body = self._response.read()
        self._exchange.body(body)
        self._end()
        return body

    def close(self) -> None:
        self._response.close()
        self._end("(the body was not read to its end)\n")

    def _end(self, note: str = "") -> None:
        if not self._ended:
            self._ended = True
            self._exchange.body_ended(note)

    def __getattr__(self, name: str):
        return getattr(self._response, name)


def client_secrets(headers) -> list[str]:
    """The credentials a client sent the gateway (its gateway token, or a BYOK key): whole, and without a scheme."""
    found = []
    for name in ("Authorization", "X-Api-Key", "X-Coder-AI-Governance-Token", "Coder-Session-Token"):
        value = headers.get(name, "")
        if value:
            found.append(value)
            found.append(value.partition(" ")[2].strip())
    return [value for value in found if value]


def _header_lines(items) -> list[str]:
    return [f"{name}: {'[redacted]' if name.lower() in SECRET_HEADERS else value}" for name, value in items]


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds")


def _safe(name: str) -> str:
    """A file name part: an instance name or an interception id, never a path."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", name).lstrip(".") or "_"

