"""The configured MCP servers of one app: their tools, listed in the background, and tool calls."""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Callable

import requests

from aibridge import Tool, ToolResult

from .client import MCPClient
from .jsonrpc import MCPError, RPCError
from .tools import ToolFilter, injected_tool, result_text

log = logging.getLogger("aibridge.mcp")

REFRESH_INTERVAL = 300.0  # seconds between listings of a healthy server
RETRY_INTERVAL = 30.0  # seconds before listing again a server that failed
MIN_RELIST_INTERVAL = 5.0  # a failing call asks for a new listing at most this often
FIRST_LISTING_WAIT = 5.0  # how long a request waits for a server's first listing
MAX_USER_SESSIONS = 256  # per-user-credential sessions kept open, least recently used dropped first
_INVALID_PARAMS = -32602  # JSON-RPC: e.g. a tool the server no longer has


@dataclass
class ServerState:
    """What the gateway knows about one MCP server."""

    config: object  # MCPServerConfig
    client: MCPClient
    filter: ToolFilter
    tools: dict[str, Tool] = field(default_factory=dict)  # injected name -> Tool
    originals: dict[str, str] = field(default_factory=dict)  # injected name -> the server's tool name
    next_listing: float = 0.0
    last_listing: float = float("-inf")
    available: bool | None = None  # None until the first listing
    first_listing: threading.Event = field(default_factory=threading.Event)

    @property
    def name(self) -> str:
        return self.config.name


class MCPServers:
    """Lists every server's tools on a background thread and runs the calls the model makes."""

    def __init__(self, configs, refresh_interval: float = REFRESH_INTERVAL, retry_interval: float = RETRY_INTERVAL):
        self.refresh_interval = refresh_interval
        self.retry_interval = retry_interval
        self._http = requests.Session()
        self.servers = [
            ServerState(
                config=config,
                client=MCPClient(config.url, _bearer(config.token), self._http),
                filter=ToolFilter(config.tool_allow_regex, config.tool_deny_regex),
            )
            for config in configs
        ]
        self._user_clients: OrderedDict[tuple[str, str], MCPClient] = OrderedDict()
        self._user_lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = False
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="aibridge-mcp-listing", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop listing and end every MCP session."""
        self._stopping = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        for server in self.servers:
            server.client.close()
        with self._user_lock:
            clients, self._user_clients = list(self._user_clients.values()), OrderedDict()
        for client in clients:
            client.close()
        self._http.close()

    def tools(self) -> list[Tool]:
        """The tools of every reachable server (a server still on its first listing gets a few seconds)."""
        deadline = time.monotonic() + FIRST_LISTING_WAIT
        found: list[Tool] = []
        for server in self.servers:
            server.first_listing.wait(max(0.0, deadline - time.monotonic()))
            found.extend(server.tools.values())
        return found

    def owner(self, injected: str) -> tuple[ServerState, str] | None:
        """The server and original tool name behind an injected tool name, or None."""
        for server in self.servers:
            original = server.originals.get(injected)
            if original is not None:
                return server, original
        return None

    def call(self, injected: str, arguments, credential: Callable[[ServerState], str | None]) -> ToolResult | None:
        """Run an injected tool; None when no configured server has it."""
        found = self.owner(injected)
        if found is None:
            return None
        server, original = found
        if not isinstance(arguments, dict):
            message = "the tool arguments must be a JSON object"
            return ToolResult(content=f"Error: {message}", error=message)
        try:
            client = self._client_for(server, credential(server))
            result = client.call_tool(original, arguments)
        except RPCError as exc:
            if exc.code == _INVALID_PARAMS:
                self.relist_soon(server)
            return ToolResult(content=f"Error: {exc.rpc_message}", error=exc.rpc_message)
        except MCPError as exc:
            log.warning("MCP server %r failed to run %s: %s", server.name, original, exc)
            self.relist_soon(server)
            message = f"MCP server {server.name!r} failed: {exc}"
            return ToolResult(content=f"Error: {message}", error=message)
        text = result_text(result)
        if result.get("isError"):
            return ToolResult(content=text or "Error: the tool failed", error=text or "the tool reported an error")
        return ToolResult(content=text)

    def relist_soon(self, server: ServerState) -> None:
        """List ``server`` again soon (a call failed: its tools may have changed or it went down)."""
        server.next_listing = min(server.next_listing, server.last_listing + MIN_RELIST_INTERVAL)
        self._wake.set()

    def refresh(self, server: ServerState) -> None:
        """List one server's tools now; on failure its tools are dropped until it answers again."""
        server.last_listing = time.monotonic()
        try:
            listed = server.client.list_tools()
        except MCPError as exc:
            if server.available is not False:
                log.warning("MCP server %r is unavailable, its tools are not injected: %s", server.name, exc)
            server.tools, server.originals, server.available = {}, {}, False
            server.next_listing = server.last_listing + self.retry_interval
            server.first_listing.set()
            return
        server.tools, server.originals = self._injected(server, listed)
        server.next_listing = server.last_listing + self.refresh_interval
        if server.available is not True:
            log.info("MCP server %r: %d of %d tools injected", server.name, len(server.tools), len(listed))
        server.available = True
        server.first_listing.set()

    def _injected(self, server: ServerState, listed: list[dict]) -> tuple[dict[str, Tool], dict[str, str]]:
        """The allowed tools of a listing, by injected name, and their original names."""
        tools: dict[str, Tool] = {}
        originals: dict[str, str] = {}
        for entry in listed:
            if not server.filter.allows(entry["name"]):
                continue
            tool = injected_tool(server.name, server.config.url, entry)
            if tool.name in tools:
                log.warning("MCP server %r: tools %r and %r share the name %s; keeping the first",
                            server.name, originals[tool.name], entry["name"], tool.name)
                continue
            tools[tool.name], originals[tool.name] = tool, entry["name"]
        return tools, originals

    def _run(self) -> None:
        while not self._stopping:
            for server in self.servers:
                if self._stopping:
                    return
                if time.monotonic() >= server.next_listing:
                    self.refresh(server)
            soonest = min((s.next_listing for s in self.servers), default=time.monotonic() + self.refresh_interval)
            self._wake.wait(max(0.0, soonest - time.monotonic()))
            self._wake.clear()

    def _client_for(self, server: ServerState, authorization: str | None) -> MCPClient:
        """The shared session, or one per user credential when a plugin supplied one."""
        if not authorization or authorization == server.client.authorization:
            return server.client
        key = (server.name, authorization)
        with self._user_lock:
            client = self._user_clients.pop(key, None)
            if client is None:
                client = MCPClient(server.config.url, authorization, self._http)
            self._user_clients[key] = client
            evicted = self._user_clients.popitem(last=False)[1] if len(self._user_clients) > MAX_USER_SESSIONS else None
        if evicted is not None:
            evicted.close()
        return client


def _bearer(token: str) -> str | None:
    return f"Bearer {token}" if token else None
