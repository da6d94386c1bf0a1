"""The MCP plugin's hooks: list servers at startup, offer their tools, run the calls."""

from __future__ import annotations

import threading

from flask import current_app

import aibridge

from .servers import MCPServers

EXTENSION = "aibridge_mcp"


@aibridge.hookimpl
def aibridge_startup(app, config):
    if not config.mcp_servers:
        return
    servers = MCPServers(config.mcp_servers)
    app.extensions[EXTENSION] = servers
    servers.start()


@aibridge.hookimpl
def aibridge_shutdown(app):
    servers = app.extensions.pop(EXTENSION, None)
    if servers is not None:
        servers.stop()


@aibridge.hookimpl
def aibridge_tools(interception):
    servers = current_app.extensions.get(EXTENSION)
    return servers.tools() if servers is not None else []


@aibridge.hookimpl
def aibridge_call_tool(interception, tool, arguments):
    servers = current_app.extensions.get(EXTENSION)
    if servers is None:
        return None
    return servers.call(tool.name, arguments, lambda server: _credential(interception, server.config))


def _credential(interception, server_config) -> str | None:
    """A per-user ``Authorization`` value from the ``aibridge_mcp_credential`` hook, if a plugin gives one."""
    return aibridge.hooks().aibridge_mcp_credential(interception=interception, server=server_config)


@aibridge.hookimpl
def aibridge_reload(app, config):
    """Serve the MCP servers the reloaded configuration lists; the previous sessions end in the background."""
    previous = app.extensions.get(EXTENSION)
    if previous is not None and tuple(server.config for server in previous.servers) == config.mcp_servers:
        return
    if config.mcp_servers:
        servers = MCPServers(config.mcp_servers)
        servers.start()
        app.extensions[EXTENSION] = servers
    else:
        app.extensions.pop(EXTENSION, None)
    if previous is not None:
        threading.Thread(target=previous.stop, name="aibridge-mcp-stop", daemon=True).start()
