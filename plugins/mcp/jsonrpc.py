"""JSON-RPC messages of the Streamable HTTP transport: the answer to a POST comes as JSON or as SSE."""

from __future__ import annotations

import json
from typing import Any, Iterator


class MCPError(Exception):
    """An MCP server could not be used: transport failure, bad answer, or a JSON-RPC error."""


class RPCError(MCPError):
    """The server answered a request with a JSON-RPC ``error`` object."""

    def __init__(self, code: int, message: str):
        super().__init__(f"{message} (JSON-RPC error {code})")
        self.code = code
        self.rpc_message = message


def request(request_id: int, method: str, params: dict | None = None) -> dict:
    message: dict[str, Any] = {"jsonrpc": "2.0", "id": request_id, "method": method}
    if params is not None:
        message["params"] = params
    return message


def notification(method: str) -> dict:
    return {"jsonrpc": "2.0", "method": method}


def find_response(messages: Iterator[Any], request_id: int) -> dict:
    """The response to ``request_id`` among the messages of one answer; its ``result`` or an RPCError."""
    for message in messages:
        batch = message if isinstance(message, list) else [message]
        for item in batch:
            if not isinstance(item, dict) or item.get("id") != request_id or "method" in item:
                continue  # a notification, or a server request we never asked for
            if "error" in item:
                error = item["error"] if isinstance(item["error"], dict) else {}
                raise RPCError(error.get("code", 0), str(error.get("message", "unknown error")))
            result = item.get("result")
            if not isinstance(result, dict):
                raise MCPError(f"the answer to request {request_id} has no result object")
            return result
    raise MCPError(f"the server ended its answer without a response to request {request_id}")


def json_messages(body: bytes) -> Iterator[Any]:
    """The one message (or batch) of an ``application/json`` answer."""
    try:
        yield json.loads(body)
    except ValueError as exc:
        raise MCPError(f"the server sent invalid JSON: {exc}") from None


def sse_messages(lines: Iterator[bytes]) -> Iterator[Any]:
    """The messages of a ``text/event-stream`` answer, one per event, read as the lines arrive."""
    data: list[bytes] = []
    for line in lines:
        line = line.rstrip(b"\r")
        if not line:
            if any(part.strip() for part in data):  # a priming event carries no data
                yield _decode_event(b"\n".join(data))
            data = []
        elif line.startswith(b"data:"):
            value = line[5:]
            data.append(value[1:] if value.startswith(b" ") else value)
    if any(part.strip() for part in data):
        yield _decode_event(b"\n".join(data))


def _decode_event(data: bytes) -> Any:
    try:
        return json.loads(data)
    except ValueError as exc:
        raise MCPError(f"the server sent an event that is not JSON: {exc}") from None
