"""A small MCP client for the Streamable HTTP transport, over ``requests``.

The official ``mcp`` SDK is asyncio/anyio based: inside a gevent-patched
server, two requests calling it at once fail ("asyncio.run() cannot be called
from a running event loop"), and an event loop on its own OS thread stops with
gevent's LoopExit. Blocking-style ``requests`` calls are cooperative under
gevent, like every other upstream call of the gateway.
"""

from __future__ import annotations

import itertools
import threading

import requests

from . import jsonrpc
from .jsonrpc import MCPError

# Newest first: the first is offered; the server may answer with any of them.
SUPPORTED_VERSIONS = ("2025-11-25", "2025-06-18", "2025-03-26")
CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 60.0
MAX_PAGES = 100  # a server whose cursors never end cannot hang the listing
CLIENT_INFO = {"name": "aibridge", "version": "0.1.0"}


class SessionExpired(MCPError):
    """The server no longer knows our ``Mcp-Session-Id`` (HTTP 404): start a new session."""


class MCPClient:
    """One MCP session with one server; safe to share between concurrent requests."""

    def __init__(self, url: str, authorization: str | None = None, http: requests.Session | None = None,
                 read_timeout: float = READ_TIMEOUT):
        self.url = url
        self.authorization = authorization
        self.read_timeout = read_timeout
        self._http = http or requests.Session()
        self._owns_http = http is None
        self._ids = itertools.count(1)
        self._init_lock = threading.Lock()
        self.session_id: str | None = None
        self.protocol_version: str | None = None
        self.server_info: dict = {}

    @property
    def initialized(self) -> bool:
        return self.protocol_version is not None

    def initialize(self) -> None:
        """The handshake: initialize, version check, notifications/initialized."""
        with self._init_lock:
            if self.initialized:
                return
            self.session_id = None
            params = {"protocolVersion": SUPPORTED_VERSIONS[0], "capabilities": {}, "clientInfo": CLIENT_INFO}
            result = self._rpc("initialize", params)
            version = result.get("protocolVersion")
            if version not in SUPPORTED_VERSIONS:
                raise MCPError(f"the server speaks protocol version {version!r}; supported: {', '.join(SUPPORTED_VERSIONS)}")
            self.server_info = result.get("serverInfo") or {}
            self.protocol_version = version
            try:
                self._post(jsonrpc.notification("notifications/initialized"), expect_response=False)
            except MCPError:
                self.protocol_version = None
                raise

    def list_tools(self) -> list[dict]:
        """Every tool of the server, following ``nextCursor`` across pages."""
        tools: list[dict] = []
        cursor = None
        for _ in range(MAX_PAGES):
            result = self.request("tools/list", {"cursor": cursor} if cursor else None)
            page = result.get("tools")
            if not isinstance(page, list):
                raise MCPError("tools/list answered without a tools list")
            tools.extend(tool for tool in page if isinstance(tool, dict) and isinstance(tool.get("name"), str))
            cursor = result.get("nextCursor")
            if not cursor:
                return tools
        raise MCPError(f"tools/list did not end after {MAX_PAGES} pages")

    def call_tool(self, name: str, arguments: dict) -> dict:
        """The CallToolResult of ``tools/call`` (content, isError, structuredContent)."""
        return self.request("tools/call", {"name": name, "arguments": arguments})

    def request(self, method: str, params: dict | None = None) -> dict:
        """Send a request in the session (initializing it first); a lost session is renewed once."""
        self.initialize()
        session = self.session_id
        try:
            return self._rpc(method, params)
        except SessionExpired:
            with self._init_lock:
                if self.session_id == session:  # not yet renewed by a concurrent request
                    self.protocol_version = None
            self.initialize()
            return self._rpc(method, params)

    def close(self) -> None:
        """End the session on the server (best effort) and release connections."""
        try:
            if self.session_id:
                self._http.delete(self.url, headers=self._headers(), timeout=(CONNECT_TIMEOUT, CONNECT_TIMEOUT))
        except requests.RequestException:
            pass  # the server ends idle sessions by itself
        finally:
            self.session_id = None
            self.protocol_version = None
            if self._owns_http:
                self._http.close()

    def _rpc(self, method: str, params: dict | None) -> dict:
        request_id = next(self._ids)
        return self._post(jsonrpc.request(request_id, method, params), expect_response=True, request_id=request_id)

    def _post(self, message: dict, expect_response: bool, request_id: int = 0) -> dict:
        try:
            response = self._http.post(
                self.url, json=message, headers=self._headers(), stream=True,
                timeout=(CONNECT_TIMEOUT, self.read_timeout),
            )
        except requests.RequestException as exc:
            raise MCPError(f"the server could not be reached: {type(exc).__name__}") from None
        with response:
            if message.get("method") == "initialize":
                self.session_id = response.headers.get("Mcp-Session-Id") or None
            self._check_status(response)
            if not expect_response:
                return {}
            content_type = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
            try:
                if content_type == "text/event-stream":
                    return jsonrpc.find_response(jsonrpc.sse_messages(_lines(response)), request_id)
                if content_type == "application/json":
                    return jsonrpc.find_response(jsonrpc.json_messages(response.content), request_id)
            except requests.RequestException as exc:
                raise MCPError(f"the server's answer broke off: {type(exc).__name__}") from None
            raise MCPError(f"the server answered with content type {content_type or 'none'!r}")

    def _check_status(self, response: requests.Response) -> None:
        status = response.status_code
        if status < 400:
            return
        if status == 404 and self.session_id and self.initialized:
            raise SessionExpired("the server ended the MCP session")
        if status in (401, 403):
            raise MCPError(f"the server refused the credentials (HTTP {status})")
        raise MCPError(f"the server answered HTTP {status}: {_excerpt(response)}")

    def _headers(self) -> dict[str, str]:
        headers = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
        if self.authorization:
            headers["Authorization"] = self.authorization
        if self.session_id:
            headers["Mcp-Session-Id"] = self.session_id
        if self.protocol_version:
            headers["MCP-Protocol-Version"] = self.protocol_version
        return headers


def _lines(response: requests.Response):
    """The body's lines as they arrive (LF or CRLF endings)."""
    pending = b""
    for chunk in response.iter_content(chunk_size=None):
        pending += chunk
        *lines, pending = pending.split(b"\n")
        yield from lines
    if pending:
        yield pending


def _excerpt(response: requests.Response) -> str:
    try:
        text = response.raw.read(300, decode_content=True).decode("utf-8", "replace")
    except Exception:
        return "(no body)"
    return " ".join(text.split())[:200] or "(no body)"
