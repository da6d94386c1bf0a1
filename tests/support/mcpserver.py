"""A real MCP server for tests: the official SDK's MCPServer over Streamable HTTP on 127.0.0.1.

It runs under uvicorn in a background thread of the test process and records
what it was asked (``calls``) and with which headers (``seen_headers``), so
tests can check both the gateway's MCP client and what the model's tool calls
turned into.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from typing import Any

import uvicorn
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError

RETENTION_ANSWER = "Interception records are kept for 60 days, then purged (setting: retention)."


class _ObserveAndPage:
    """Server middleware: records each JSON-RPC method, splits ``tools/list`` into ``nextCursor`` pages."""

    def __init__(self, page_size: int, methods: list):
        self.page_size = page_size
        self.methods = methods

    async def __call__(self, ctx, call_next):
        self.methods.append((ctx.method, dict(ctx.params or {})))
        result = await call_next(ctx)
        if ctx.method != "tools/list" or not self.page_size:
            return result
        data = result if isinstance(result, dict) else result.model_dump(by_alias=True, exclude_none=True)
        start = int((ctx.params or {}).get("cursor") or 0)
        end = start + self.page_size
        page = dict(data, tools=data["tools"][start:end])
        if end < len(data["tools"]):
            page["nextCursor"] = str(end)
        return page


def build_server(page_size: int = 0, methods: list | None = None) -> tuple[MCPServer, list]:
    """An MCPServer with search, tickets_create and broken_tool; calls are appended to the list."""
    calls: list[tuple[str, dict]] = []
    middleware = _ObserveAndPage(page_size, methods if methods is not None else [])
    server = MCPServer("docs", middleware=[middleware], log_level="WARNING")

    @server.tool()
    def search(query: str) -> str:
        """Search the internal documentation."""
        calls.append(("search", {"query": query}))
        if "retention" in query:
            return RETENTION_ANSWER
        return f"No documents match {query!r}."

    @server.tool()
    def tickets_create(title: str, priority: int = 3) -> str:
        """Open a ticket in the tracker."""
        calls.append(("tickets_create", {"title": title, "priority": priority}))
        return f"Created ticket T-{len(calls)}: {title} (priority {priority})"

    @server.tool()
    def broken_tool(reason: str = "") -> str:
        """Always fails (to test error results)."""
        calls.append(("broken_tool", {"reason": reason}))
        raise ToolError(f"the ticket tracker is down {reason}".strip())

    return server, calls


class _RecordHeaders:
    """ASGI middleware: remembers request headers and refuses requests without the expected token."""

    def __init__(self, app, owner: "MCPTestServer"):
        self.app = app
        self.owner = owner

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        self.owner.seen_headers.append((scope["method"], headers))
        expected = self.owner.required_authorization
        if expected is not None and headers.get("authorization") != expected:
            await send({"type": "http.response.start", "status": 401, "headers": [(b"content-type", b"text/plain")]})
            await send({"type": "http.response.body", "body": b"unauthorized"})
            return None
        return await self.app(scope, self._recording(receive), send)

    def _recording(self, receive):
        """``receive``, keeping each complete JSON-RPC body in ``posted`` before the app answers."""
        parts: list[bytes] = []

        async def wrapped():
            message = await receive()
            if message["type"] == "http.request":
                parts.append(message.get("body", b""))
                if not message.get("more_body") and parts[0]:
                    self.owner.posted.append(json.loads(b"".join(parts)))
            return message

        return wrapped


class MCPTestServer:
    """Start with ``start()`` (or as a context manager); ``url`` is the Streamable HTTP endpoint."""

    def __init__(self, page_size: int = 0, json_response: bool = False, required_authorization: str | None = None):
        self.methods: list[tuple[str, dict]] = []  # every JSON-RPC method received, with its params
        self.mcp, self.calls = build_server(page_size, self.methods)
        self.json_response = json_response
        self.required_authorization = required_authorization
        self.seen_headers: list[tuple[str, dict]] = []
        self.posted: list = []  # every JSON-RPC message POSTed, in order
        self.url = ""
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> "MCPTestServer":
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}/mcp"
        app = _RecordHeaders(self.mcp.streamable_http_app(json_response=self.json_response), self)
        config = uvicorn.Config(app, log_level="warning", lifespan="on")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._serve, args=(sock,), daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the test MCP server did not start")
            time.sleep(0.005)
        return self

    def _serve(self, sock: socket.socket) -> None:
        asyncio.run(self._server.serve(sockets=[sock]))

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.should_exit = True
        self._thread.join(10)
        self._server = None

    def list_last(self, name: str) -> None:
        """Register tool ``name`` again, so ``tools/list`` names it last (as a server that reloaded may)."""
        tool = self.mcp._tool_manager.get_tool(name)
        self.mcp.remove_tool(name)
        self.mcp.add_tool(tool.fn, name=name, description=tool.description)

    def requests_of(self, method: str) -> list[dict[str, Any]]:
        """Headers of the HTTP requests made with ``method`` (POST, GET, DELETE)."""
        return [headers for m, headers in self.seen_headers if m == method]

    def __enter__(self) -> "MCPTestServer":
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()
