"""The request body, read up to the configured limit and never past it, into one buffer."""

from __future__ import annotations

from flask import request
from werkzeug.exceptions import ClientDisconnected

# What one read asks for when the client did not announce the body's length (chunked).
_CHUNK = 65536


def read_body(limit: int) -> bytes | None:
    """The request body, or None when it is larger than ``limit`` (never read past it).

    With a Content-Length (what clients send), the first read asks for the whole
    body: the server's buffered reader fills one bytes object of that size
    straight from the socket, and that object is what goes upstream. (Its pages
    are committed as the bytes arrive, so an announced body that never comes costs
    address space, not memory.) Without one, parts are read up to the limit and
    joined.
    """
    length = request.content_length
    if length is not None and length > limit:
        return None
    stream = request.stream
    wanted = limit + 1 if length is None else length
    parts, size = [], 0
    while size < wanted:
        part = _read(stream, wanted - size if length is not None else min(_CHUNK, wanted - size))
        if not part:
            break
        parts.append(part)
        size += len(part)
    if size > limit:
        return None
    return parts[0] if len(parts) == 1 else b"".join(parts)


def _read(stream, size: int) -> bytes:
    try:
        return stream.read(size)
    except OSError:
        # The client left, or stopped sending the body it announced for longer than the
        # server's write timeout: a 400 for the access log, no traceback.
        raise ClientDisconnected() from None
