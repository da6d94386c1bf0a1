"""The request body, read up to the configured limit and never past it."""

from __future__ import annotations

from flask import request
from werkzeug.exceptions import ClientDisconnected


def read_body(limit: int) -> bytes | None:
    """The request body, or None when it is larger than ``limit`` (never read past it)."""
    length = request.content_length
    if length is not None and length > limit:
        return None
    stream = request.stream
    parts, size = [], 0
    while size <= limit:
        try:
            part = stream.read(min(65536, limit + 1 - size))
        except OSError:
            # The client left, or stopped sending the body it announced for longer than the
            # server's write timeout: a 400 for the access log, no traceback.
            raise ClientDisconnected() from None
        if not part:
            break
        parts.append(part)
        size += len(part)
    return None if size > limit else b"".join(parts)
