"""The request body, read up to the configured limit and never past it."""

from __future__ import annotations

from flask import request


def read_body(limit: int) -> bytes | None:
    """The request body, or None when it is larger than ``limit`` (never read past it)."""
    length = request.content_length
    if length is not None and length > limit:
        return None
    stream = request.stream
    parts, size = [], 0
    while size <= limit:
        part = stream.read(min(65536, limit + 1 - size))
        if not part:
            break
        parts.append(part)
        size += len(part)
    return None if size > limit else b"".join(parts)
