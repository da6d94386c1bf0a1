"""The access log of ``aibridge server``: one line per request, readable as text, with its parts as fields.

The message is the line people read (``127.0.0.1 <user id> "GET /healthz HTTP/1.1" 200 124 0.4ms``);
the JSON log (``--log-json``) also has each part as a field: method, path (without the query string),
status, bytes (sent to the client, headers included), duration_ms, remote_addr, and user_id when the
request authenticated someone.
"""

from __future__ import annotations

import logging

from gevent.pywsgi import WSGIHandler

from ..gateway import USER_ID


def log_access(logger: logging.Logger, handler: WSGIHandler) -> None:
    fields = access_fields(handler)
    user = fields.get("user_id") or "-"
    line = (f'{fields["remote_addr"] or "-"} {user} "{handler.requestline or ""}" {fields["status"]} '
            f'{fields["bytes"]} {fields["duration_ms"]}ms')
    logger.info(line, extra=fields)


def access_fields(handler: WSGIHandler) -> dict:
    """One answered request's fields, as pywsgi's handler knows them once the answer is sent."""
    status = handler._orig_status or handler.status or "000"
    code = (status.decode("latin-1") if isinstance(status, bytes) else status).split()[0]
    finished = handler.time_finish or handler.time_start
    address = handler.client_address
    fields = {
        "method": handler.command or "",
        "path": (handler.path or "").partition("?")[0],
        "status": int(code) if code.isdigit() else 0,
        "bytes": handler.response_length or 0,
        "duration_ms": round((finished - handler.time_start) * 1000, 1),
        "remote_addr": (address[0] if isinstance(address, tuple) else address) or "",
    }
    user_id = (handler.environ or {}).get(USER_ID)
    if user_id:
        fields["user_id"] = user_id
    return fields
