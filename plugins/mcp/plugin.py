"""The MCP plugin's hooks: list servers at startup, offer their tools, run the calls."""

from __future__ import annotations

import threading

import aibridge

from . import hookspecs
from .servers import MCPServers

servers = aibridge.PluginState("aibridge.mcp")  # only when MCP servers are configured


@aibridge.hookimpl
def aibridge_add_hookspecs(pm):
    pm.add_hookspecs(hookspecs)


@aibridge.hookimpl
def aibridge_startup(app, config):
    if not config.mcp_servers:
        return
    configured = MCPServers(config.mcp_servers)
    servers.set(app, configured)
    configured.start()


@aibridge.hookimpl
def aibridge_shutdown(app):
    configured = servers.pop(app)
    if configured is not None:
        configured.stop()


@aibridge.hookimpl
def aibridge_tools(interception):
    configured = servers.get()
    return configured.tools() if configured is not None else []


@aibridge.hookimpl
def aibridge_call_tool(interception, tool, arguments):
    configured = servers.get()
    if configured is None:
        return None
    return configured.call(tool.name, arguments, lambda server: _credential(interception, server.config))


def _credential(interception, server_config) -> str | None:
    """A per-user ``Authorization`` value from the ``aibridge_mcp_credential`` hook, if a plugin gives one."""
    return aibridge.hooks().aibridge_mcp_credential(interception=interception, server=server_config)


@aibridge.hookimpl
def aibridge_reload(app, config):
    """Serve the MCP servers the reloaded configuration lists; the previous sessions end in the background."""
    previous = servers.get(app)
    if previous is not None and tuple(server.config for server in previous.servers) == config.mcp_servers:
        return
    servers.pop(app)
    if config.mcp_servers:
        configured = MCPServers(config.mcp_servers)
        configured.start()
        servers.set(app, configured)
    if previous is not None:
        threading.Thread(target=previous.stop, name="aibridge-mcp-stop", daemon=True).start()
